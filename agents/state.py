"""Per-brand KPI state in event time: watermark, dedup, minute buckets, rolling totals.

Pure Python, no Faust: the KPI agent feeds it batches and persists what it reports as
changed; the exporter reads the window totals. Tests drive it directly.

Windows end at the brand's watermark at one-minute resolution. The watermark is the
event-time progress of the partitions that carry the brand (``Sources``): the latest
event time when one partition carries it (keyed producers), the minimum over those
partitions when several do (an unkeyed producer's events forwarded from every partition),
a partition that has gone quiet left out after ``source_idle`` seconds of wall clock
(Flink's watermark with idleness). Events ahead of it are counted at once (a window
holds them from their minute on); events older than it by more than the allowed
lateness are late. So, with one partition:
the ``5m`` window holds the minute buckets ``m`` with ``m > wm_minute - 5``, so the
current minute and the four before it. Totals are kept running: a bucket's vector is
added when events arrive and subtracted once when the watermark moves it out of a window.
"""

from __future__ import annotations

import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from socialpulse.agents.counters import (
    DISTINCT_KINDS,
    ENGAGEMENT_COUNTERS,
    EXPOSURE_COUNTERS,
    N,
    contributions,
    distinct_key,
    zero,
)
from socialpulse.agents.distinct import DEFAULT_CAP, DistinctTracker
from socialpulse.agents.followers import PlatformFollowers
from socialpulse.agents.hourly import HourlyRates, within
from socialpulse.agents.minutes import minutes_between
from socialpulse.agents.rankings import Audience, Rankings, spread, tally
from socialpulse.streams.validation import Event

WINDOWS: Final = {"5m": 5, "1h": 60, "24h": 1440}
MAX_WINDOW_MINUTES: Final = max(WINDOWS.values())
ALL: Final = "all"
OTHER: Final = "other"

FOLLOWER_KINDS: Final = frozenset({"followers", "follow", "unfollow"})
#: the platform slot of an A/B variant group: (VARIANT, f"{campaign}{VARIANT_SEP}{variant}")
VARIANT: Final = "\x00variant"
VARIANT_SEP: Final = "\x1e"
VARIANT_CAP: Final = 10  # variants per campaign, then "other"
RANKINGS_KEY: Final = "\x00rankings"
#: minutes older than the compaction age are merged into COARSE-minute buckets, which only
#: the 24h window reads (its far edge then moves in steps of COARSE minutes)
COARSE: Final = 15


def coarse_slot(start: int) -> int:
    """The table slot of the coarse bucket starting at minute ``start`` (negative)."""
    return -(start + 1)


def coarse_start(slot: int) -> int:
    return -slot - 1


#: label group keys: ("all", "all"), (platform, "all"), ("all", campaign)
Group = tuple[str, str]


@dataclass(slots=True)
class Sources:
    """The event-time progress of each partition that carries a brand's events."""

    progress: dict[int, float] = field(default_factory=dict)  # partition -> latest event time
    heard: dict[int, float] = field(default_factory=dict)  # partition -> wall clock of it
    #: partitions held for a brand only because they have not been read from yet since
    #: their assignment (``KpiState.hold``): a guess of their progress, not persisted
    awaited: set[int] = field(default_factory=set)

    def see(self, source: int, ts: float, now: float) -> None:
        if source in self.awaited:
            self.awaited.discard(source)
            self.progress[source] = ts
        elif ts > self.progress.get(source, float("-inf")):
            self.progress[source] = ts
        self.heard[source] = now

    def expect(self, source: int, ts: float, now: float) -> None:
        """``source`` will bring events from ``ts`` on (forwarded, not read back yet)."""
        if source in self.awaited:
            self.awaited.discard(source)
            self.progress[source] = ts
        elif source not in self.progress:
            self.progress[source] = ts
        self.heard[source] = now

    def await_unread(self, source: int, ts: float, since: float) -> None:
        """``source`` has not been read from since ``since`` (wall clock): it may still
        bring events from ``ts`` on."""
        if source not in self.progress:
            self.progress[source] = ts
            self.heard[source] = since
            self.awaited.add(source)

    def release(self, source: int) -> None:
        """``source`` has been read from: what it carries is known from its events."""
        if source in self.awaited:
            self.awaited.discard(source)
            del self.progress[source], self.heard[source]

    def floor(self, now: float, idle: float) -> float | None:
        """The minimum progress of the partitions heard from within ``idle`` seconds (of
        all of them when every one is quiet); None before any event."""
        if not self.progress:
            return None
        if len(self.progress) == 1:
            return next(iter(self.progress.values()))
        active = [p for s, p in self.progress.items() if now - self.heard[s] < idle]
        if not active:
            return max(self.progress.values())
        if len(active) < len(self.progress):  # quiet ones behind the floor: forget them
            low = min(active)
            for source in [s for s, p in self.progress.items() if now - self.heard[s] >= idle]:
                if self.progress[source] <= low:
                    del self.progress[source], self.heard[source]
                    self.awaited.discard(source)
        return min(active)

    def to_json(self) -> list[list[float]]:
        return [[s, p] for s, p in self.progress.items() if s not in self.awaited]

    @classmethod
    def from_json(cls, raw: list[list[float]], now: float) -> Sources:
        sources = cls()
        for source, progress in raw:
            sources.progress[int(source)] = progress
            sources.heard[int(source)] = now
        return sources


@dataclass(slots=True)
class BrandState:
    """Everything kept for one brand."""

    watermark: float | None = None
    buckets: dict[int, dict[Group, array[float]]] = field(default_factory=dict)
    coarse: dict[int, dict[Group, array[float]]] = field(default_factory=dict)  # start minute
    totals: dict[str, dict[Group, array[float]]] = field(
        default_factory=lambda: {w: {} for w in WINDOWS}
    )
    seen: dict[str, int] = field(default_factory=dict)  # event id -> minute
    seen_minutes: dict[int, list[str]] = field(default_factory=dict)  # minute -> ids
    platforms: set[str] = field(default_factory=set)
    campaigns: set[str] = field(default_factory=set)
    # counter index -> group -> author (or session) -> minute of its last sighting
    distinct: dict[int, dict[Group, DistinctTracker]] = field(default_factory=dict)
    distinct_pruned: int = 0  # the cutoff minute of the last pruning of ``distinct``
    followers: dict[str, PlatformFollowers] = field(default_factory=dict)
    rankings: Rankings = field(default_factory=Rankings)
    hourly: HourlyRates = field(default_factory=HourlyRates)
    variants: dict[str, set[str]] = field(default_factory=dict)  # campaign -> variants
    sources: Sources = field(default_factory=lambda: Sources())

    def followers_total(self, platform: str = ALL) -> float | None:
        """Followers on one platform, or summed over the platforms; None where no
        ``followers``, ``follow`` or ``unfollow`` event was ever seen."""
        if platform != ALL:
            pf = self.followers.get(platform)
            return None if pf is None else pf.total()
        if not self.followers:
            return None
        return sum(pf.total() for pf in self.followers.values())

    @property
    def wm_minute(self) -> int | None:
        return None if self.watermark is None else int(self.watermark // 60)


@dataclass(slots=True)
class BatchResult:
    """What one batch did: counts for the metrics, and what to persist."""

    accepted: list[Event] = field(default_factory=list)
    duplicates: Counter[str] = field(default_factory=Counter)  # brand -> repeated ids
    late: list[Event] = field(default_factory=list)
    touched: set[tuple[str, int]] = field(default_factory=set)  # (brand, minute)
    evicted: set[tuple[str, int]] = field(default_factory=set)  # (brand, slot) gone
    compacted: set[tuple[str, int]] = field(default_factory=set)  # minutes merged to coarse
    new_ids: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    forgotten: set[tuple[str, int]] = field(default_factory=set)  # (brand, minute) of ids
    # last sightings of distinct counts: (brand, minute) -> [(counter, group key, who)]
    sightings: dict[tuple[str, int], list[tuple[int, str, str]]] = field(default_factory=dict)
    brands: set[str] = field(default_factory=set)
    #: side by side with ``accepted``: each event's counter contributions, and its brand's
    #: watermark once it had arrived (for the detectors)
    contributed: list[list[tuple[int, float]]] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # and each one's index in the batch


class KpiState:
    """KPI state of every brand a worker owns."""

    def __init__(
        self,
        *,
        allowed_lateness: float = 600.0,
        platform_cap: int = 20,
        campaign_cap: int = 50,
        distinct_cap: int = DEFAULT_CAP,
        source_idle: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.distinct_cap = distinct_cap
        self.source_idle = source_idle
        self.clock = clock
        self.allowed_lateness = allowed_lateness
        self.platform_cap = platform_cap
        self.campaign_cap = campaign_cap
        self.brands: dict[str, BrandState] = {}
        #: partitions not read yet -> the wall clock of the first batch of events after
        #: they were assigned (None before it: the idle time runs from there)
        self.pending: dict[int, float | None] = {}
        #: a partition this worker reads has records beyond what it has fetched (the
        #: runtime says so before each batch): forwards may be waiting there
        self.backlog = False
        #: brands whose watermark waited for a partition let go since the last ``settle``
        self.released: set[str] = set()
        #: brands begun from nothing (not restored) since the last ``take_created``
        self.created: set[str] = set()
        #: minute buckets younger than this stay exact (1h window, lateness, a margin)
        self.compact_age = max(60, -(-int(allowed_lateness) // 60)) + 2

    def idle(self) -> float:
        """How long a partition must be quiet before a brand's watermark leaves it out.

        ``source_idle``; but while the worker has a backlog, the allowed lateness (if
        longer): a partition that went quiet may have forwarded events that still wait
        in the backlog of the brand's own partition, behind events far ahead of them (an
        unkeyed backfill read by a slow worker). Past the allowed lateness they would be
        late anyway, so a backlog never holds a watermark longer than that."""
        if self.backlog:
            return max(self.source_idle, self.allowed_lateness)
        return self.source_idle

    # -- labels ---------------------------------------------------------------------------
    def platform_label(self, bs: BrandState, platform: str) -> str:
        """The platform label value, folded into ``other`` past the cap."""
        if platform in bs.platforms:
            return platform
        if len(bs.platforms) < self.platform_cap:
            bs.platforms.add(platform)
            return platform
        return OTHER

    def campaign_label(self, bs: BrandState, campaign: str) -> str:
        """The campaign label value, folded into ``other`` past the cap."""
        if campaign in bs.campaigns:
            return campaign
        if len(bs.campaigns) < self.campaign_cap:
            bs.campaigns.add(campaign)
            return campaign
        return OTHER

    def groups_of(self, bs: BrandState, ev: Event) -> list[Group]:
        groups: list[Group] = [(ALL, ALL), (self.platform_label(bs, ev["platform"]), ALL)]
        campaign = ev.get("campaign")
        if campaign:
            label = self.campaign_label(bs, campaign)
            groups.append((ALL, label))
            variant = ev.get("variant")
            if variant:
                known = bs.variants.setdefault(label, set())
                if variant not in known and len(known) >= VARIANT_CAP:
                    variant = OTHER
                known.add(variant)
                groups.append((VARIANT, f"{label}{VARIANT_SEP}{variant}"))
        return groups

    # -- the batch path -------------------------------------------------------------------
    def floors(self, events: Sequence[Event], origins: Sequence[int]) -> list[float]:
        """Each event's brand watermark once the event has arrived, in arrival order:
        ``origins[i]`` is the partition event ``i`` was first read from. Every partition
        the batch brings a brand from counts from its first event in the batch on."""
        now = self.clock()
        first: dict[tuple[str, int], float] = {}
        runs = _runs(events, origins)
        for brand, origin, start, end in runs:
            ts = min([ev["ts"] for ev in events[start:end]])
            if ts < first.get((brand, origin), float("inf")):
                first[(brand, origin)] = ts
        if self.pending:
            if first:  # traffic: the idle time of the partitions still silent starts now
                for partition, since in self.pending.items():
                    if since is None:
                        self.pending[partition] = now
            self._unhold({origin for _brand, origin in first}, now)
        for (brand, origin), ts in first.items():
            self._brand(brand).sources.expect(origin, ts, now)
        if self.pending:  # partitions not read yet may carry these brands too, and older
            # events than those read so far (a first fetch may bring one partition alone):
            # the brands wait at the allowed lateness before their earliest event here
            earliest: dict[str, float] = {}
            for (brand, _origin), ts in first.items():
                earliest[brand] = min(ts, earliest.get(brand, ts))
            for brand, ts in earliest.items():
                sources = self.brands[brand].sources
                for partition, since in self.pending.items():
                    assert since is not None  # set above: this batch has traffic
                    sources.await_unread(partition, ts - self.allowed_lateness, since)
        out: list[float] = []
        append = out.append
        idle = self.idle()
        brands = self.brands
        for brand, origin, start, end in runs:
            sources = brands[brand].sources
            progress = sources.progress
            if len(progress) == 1 and origin in progress and not sources.awaited:
                # one partition carries the brand (keyed producers): its progress
                latest = progress[origin]
                for ev in events[start:end]:
                    ts = ev["ts"]
                    if ts > latest:
                        latest = ts
                    append(latest)
                progress[origin] = latest
                sources.heard[origin] = now
                continue
            for ev in events[start:end]:
                sources.see(origin, ev["ts"], now)
                floor = sources.floor(now, idle)
                assert floor is not None
                append(floor)
        return out

    def hold(self, partition: int) -> None:
        """``partition`` was just assigned and is not read yet: until it is read from, found
        read to its end (``unhold``), or stays quiet for ``source_idle`` once other
        partitions bring events, the brands counted meanwhile wait for it too, as a Flink
        source split holds the watermark until it reports. So the first fetches of a
        backfill, which may bring one partition alone, do not run ahead of the others.

        The idle time runs from the first batch of events after the hold, not from the
        assignment: a worker that waits for traffic longer than ``source_idle`` still
        holds its silent partitions when a producer starts, whose first records may reach
        the broker's partitions one after the other (measured through the embedded
        broker: a first fetch brought 27 envelopes of one partition while the three
        others, written by the same librdkafka flush, still had none)."""
        self.pending[partition] = None

    def unhold(self, partitions: Iterable[int]) -> None:
        """Partitions revoked: nothing to wait for from them."""
        self._unhold(set(partitions), self.clock())

    def _unhold(self, partitions: set[int], now: float) -> None:
        idle = self.idle()
        expired = {
            p for p, since in self.pending.items() if since is not None and now - since >= idle
        }
        done = (partitions & set(self.pending)) | expired
        if not done:
            return
        for partition in done:
            del self.pending[partition]
        for brand, bs in self.brands.items():
            if bs.sources.awaited & done:
                for partition in done:
                    bs.sources.release(partition)
                self.released.add(brand)

    def expect(self, brand: str, source: int, ts: float) -> None:
        """Events of ``brand`` from ``ts`` on are on their way from partition ``source``
        (forwarded): the brand's watermark waits for them."""
        self._brand(brand).sources.expect(source, ts, self.clock())

    def _brand(self, brand: str) -> BrandState:
        bs = self.brands.get(brand)
        if bs is None:
            bs = self.brands[brand] = BrandState()
            self.created.add(brand)
        return bs

    def refloor(self, now: float | None = None) -> BatchResult:
        """Move the watermarks that partitions gone quiet held back (a wall-clock tick)."""
        return self._refloor(now, every=True)

    def settle(self, now: float | None = None) -> BatchResult:
        """Move the watermarks of the brands that waited for partitions let go since the
        last call (``released``): read from, read to their end, revoked, or quiet for the
        idle time. A brand with no event in the batch that let its partitions go moves
        now, not at the next tick; the last brands of a backfill then show their final
        windows as soon as all is read."""
        return self._refloor(now, every=False)

    def _refloor(self, now: float | None, *, every: bool) -> BatchResult:
        result = BatchResult()
        now = self.clock() if now is None else now
        if self.pending:
            self._unhold(set(), now)  # holds past the idle time end: more released brands
        if every:
            brands = self.brands
        else:
            brands = {b: self.brands[b] for b in self.released if b in self.brands}
        self.released.clear()
        idle = self.idle()
        for brand, bs in brands.items():
            floor = bs.sources.floor(now, idle)
            if floor is not None and (bs.watermark is None or floor > bs.watermark):
                self._advance(brand, bs, floor, result)
        return result

    def apply(self, events: Iterable[Event], floors: Sequence[float] | None = None) -> BatchResult:
        """Apply validated events in arrival order; late ones and duplicates are reported.

        ``floors`` (from ``floors``) are the watermarks the events move the brands to;
        without them each event moves its brand's watermark to its own time, if later.

        Per event only what depends on arrival order runs (watermark, lateness, dedup);
        the counters are summed per (brand, minute, label values) and spread over the
        label groups once per batch, the rankings' tallies summed per (brand, minute,
        family, key) and added once per batch, and the distinct counts' sightings listed
        per tracker in arrival order and taken by each tracker at once (``_sight``): at
        the batch's end, or before a move of the watermark prunes the brand's trackers.
        """
        result = BatchResult()
        # per (brand, minute, group) deltas of this batch, applied once each at the end
        deltas: dict[tuple[str, int, Group], array[float]] = {}
        # per (brand, minute, platform, campaign, variant) sums, spread over their groups
        sums: dict[tuple[str, int, str, str | None, str | None], array[float]] = {}
        labels: dict[tuple[str, str, str | None, str | None], list[Group]] = {}
        # (labels, counter) -> the sightings of each tracker of the labels' groups
        trackers: dict[Any, list[list[tuple[str, int, int]]]] = {}
        # (brand, counter, group) -> the tracker's sightings of this batch, in arrival
        # order: (who, minute, the minute at or before which a last sighting is expired)
        sighted: dict[tuple[str, int, Group], list[tuple[str, int, int]]] = {}
        # the same lists by brand: (counter, group, sightings)
        pending: dict[str, list[tuple[int, Group, list[tuple[str, int, int]]]]] = {}
        # per (brand, minute) ranking tallies of this batch: (family, key) -> amount, and
        # the exposure of the demographic families by (location, age, gender)
        ranked: dict[tuple[str, int], tuple[dict[tuple[str, str], float], Audience]] = {}
        sightings = result.sightings
        contributed = result.contributed.append
        accepted_floors = result.floors.append
        kept = result.kept.append
        lateness = self.allowed_lateness
        brands = self.brands
        accepted = result.accepted
        new_ids = result.new_ids

        def advance(brand: str, bs: BrandState, floor: float) -> None:
            if brand in pending and self._prunes(bs, floor):  # trackers take what came before
                for counter, group, seq in pending[brand]:
                    if seq:
                        self._sight(brand, counter, group, seq, deltas, sightings)
                        seq.clear()
            self._advance(brand, bs, floor, result)

        for i, ev in enumerate(events):
            brand = ev["brand"]
            bs = brands.get(brand)
            if bs is None:
                bs = brands[brand] = BrandState()
                self.created.add(brand)
            ts = ev["ts"]
            floor = ts if floors is None else floors[i]
            watermark = bs.watermark
            if watermark is not None and ts < watermark - lateness:
                if floor > watermark:
                    advance(brand, bs, floor)
                result.late.append(ev)
                continue
            eid = ev["id"]
            if eid in bs.seen:
                result.duplicates[brand] += 1
                if watermark is None or floor > watermark:
                    advance(brand, bs, floor)
                continue
            minute = int(ts // 60)
            if watermark is None or floor > watermark:
                # pending deltas need no flush first: _apply_deltas checks window
                # membership against the watermark current when it runs, and _advance only
                # subtracts what the buckets already hold, so totals stay the bucket sums
                advance(brand, bs, floor)
            bs.seen[eid] = minute
            ids = bs.seen_minutes.get(minute)
            if ids is None:
                bs.seen_minutes[minute] = [eid]
            else:
                ids.append(eid)
            ids = new_ids.get((brand, minute))
            if ids is None:
                new_ids[(brand, minute)] = [eid]
            else:
                ids.append(eid)
            accepted.append(ev)
            accepted_floors(floor)
            kept(i)
            platform = ev["platform"]
            campaign = ev.get("campaign")
            variant = ev.get("variant") if campaign else None
            label = (brand, platform, campaign, variant)
            groups = labels.get(label)
            if groups is None:  # the labels of the first event with these values decide
                groups = labels[label] = self.groups_of(bs, ev)
            key = (brand, minute, platform, campaign, variant)
            vec = sums.get(key)
            if vec is None:
                vec = sums[key] = zero()
            added = contributions(ev)
            contributed(added)
            for idx, amount in added:
                vec[idx] += amount
            kind = ev["kind"]
            author = ev.get("author")
            counter = DISTINCT_KINDS.get(kind)
            if counter is not None:
                who = distinct_key(ev)
                if who is not None:
                    chosen = trackers.get((label, counter))
                    if chosen is None:
                        chosen = trackers[(label, counter)] = []
                        for group in groups:
                            seq = sighted.get((brand, counter, group))
                            if seq is None:
                                seq = sighted[(brand, counter, group)] = []
                                pending.setdefault(brand, []).append((counter, group, seq))
                            chosen.append(seq)
                    expired = int(bs.watermark // 60) - MAX_WINDOW_MINUTES  # type: ignore[operator]
                    sighting = (who, minute, expired)
                    for sightings_of in chosen:
                        sightings_of.append(sighting)
            if kind in FOLLOWER_KINDS:
                self._followers(bs, ev)
            if author or ev.get("hashtags"):
                tallied = ranked.get((brand, minute))
                if tallied is None:
                    tallied = ranked[(brand, minute)] = ({}, Audience())
                tally(ev, *tallied)
        for (brand, counter, group), seq in sighted.items():
            self._sight(brand, counter, group, seq, deltas, sightings)
        for (brand, minute), (marks, audience) in ranked.items():
            # window membership against the watermark at the batch's end, as the counters'
            bs = brands[brand]
            wm_minute = int(bs.watermark // 60)  # type: ignore[operator]
            add = bs.rankings.add
            spread(audience, marks)
            for (family, name), amount in marks.items():
                add(minute, wm_minute, family, name, amount)
        for (brand, minute, platform, campaign, variant), vec in sums.items():
            pairs = None  # vec's non-zero counters, found once for all its groups
            for group in labels[(brand, platform, campaign, variant)]:
                held = deltas.get((brand, minute, group))
                if held is None:
                    deltas[(brand, minute, group)] = array("d", vec)
                else:
                    if pairs is None:
                        pairs = nonzero(vec)
                    _add_pairs(held, pairs)
            # the best-time-to-post sums: engagements and impressions per epoch hour
            engaged = sum([vec[i] for i in ENGAGEMENT_COUNTERS])
            exposed = sum([vec[i] for i in EXPOSURE_COUNTERS])
            if engaged or exposed:
                bs = brands[brand]
                hour = minute // 60
                if within(hour, int(bs.watermark // 3600)):  # type: ignore[operator]
                    bs.hourly.add(hour, engaged, exposed)
        self._apply_deltas(deltas, result)
        return result

    def _sight(
        self,
        brand: str,
        counter: int,
        group: Group,
        seq: list[tuple[str, int, int]],
        deltas: dict[tuple[str, int, Group], array[float]],
        sightings: dict[tuple[str, int], list[tuple[int, str, str]]],
    ) -> None:
        """One tracker's sightings of a batch, in arrival order: the changes of its counts
        by minute go to ``deltas``, the sightings that moved a last sighting to
        ``sightings`` (to persist), as ``DistinctTracker.sight`` one by one would do."""
        tracker = self.tracker(self.brands[brand], counter, group)
        # by minute, in the order ``sight`` one by one finds them: the group's delta vectors
        # are then made, and later added to its totals, in the same order as event by event
        changes: dict[int, int] = {}
        group_key = f"{group[0]}\x1f{group[1]}"
        at_minute, spotted = None, []  # the sightings to persist of the last minute moved to
        last = tracker.last
        inline = tracker.level == 0 and len(last) + len(seq) <= tracker.cap
        for who, minute, expired in seq:
            if inline:  # every who is sampled, the sample cannot outgrow the cap: ``sight``
                previous = last.get(who)
                if previous is not None and previous > expired and previous >= minute:
                    continue
                changes[minute] = changes.get(minute, 0) + 1
                if previous is not None and previous > expired:
                    changes[previous] = changes.get(previous, 0) - 1
                last[who] = minute
            else:
                found = tracker.sight(who, minute, expired)
                if not found:
                    continue
                for at, change in found:
                    changes[at] = changes.get(at, 0) + change
            if minute != at_minute:
                at_minute = minute
                spotted = sightings.setdefault((brand, minute), [])
            spotted.append((counter, group_key, who))
        for at, change in changes.items():
            held = deltas.get((brand, at, group))
            if held is None:
                held = deltas[(brand, at, group)] = zero()
            held[counter] += change

    def tracker(self, bs: BrandState, counter: int, group: Group) -> DistinctTracker:
        by_group = bs.distinct.setdefault(counter, {})
        tracker = by_group.get(group)
        if tracker is None:
            tracker = by_group[group] = DistinctTracker(cap=self.distinct_cap)
        return tracker

    def distinct_scale(self, bs: BrandState, counter: int, group: Group) -> int:
        """What one counted who stands for in ``group``: 1 while the count is exact."""
        tracker = bs.distinct.get(counter, {}).get(group)
        return tracker.scale if tracker is not None else 1

    def _followers(self, bs: BrandState, ev: Event) -> None:
        platform = self.platform_label(bs, ev["platform"])
        pf = bs.followers.get(platform)
        if pf is None:
            pf = bs.followers[platform] = PlatformFollowers()
        kind = ev["kind"]
        if kind == "followers":
            pf.snapshot(ev["ts"], ev["value"])
        else:
            pf.change(ev["ts"], ev["count"] if kind == "follow" else -ev["count"])

    def _apply_deltas(
        self, deltas: dict[tuple[str, int, Group], array[float]], result: BatchResult
    ) -> None:
        for (brand, minute, group), vec in deltas.items():
            bs = self.brands[brand]
            wm = bs.wm_minute
            assert wm is not None
            if minute <= wm - MAX_WINDOW_MINUTES:
                # evicted while this batch ran (a pending distinct-count move out of an old
                # minute): outside every window, so nothing to count and no bucket to revive
                continue
            pairs = nonzero(vec)  # found once, added to the bucket and up to three totals
            if minute not in bs.buckets and minute <= wm - self.compact_age:
                # a distinct count leaving a compacted minute: it leaves the coarse bucket
                start = minute - minute % COARSE
                if start > wm - MAX_WINDOW_MINUTES:
                    _add_pairs(_vector(bs.coarse.setdefault(start, {}), group), pairs)
                    _add_pairs(_vector(bs.totals["24h"], group), pairs)
                    result.touched.add((brand, coarse_slot(start)))
                    continue
                if not any(amount > 0 for _index, amount in pairs):
                    # only distinct counts leaving it: what they leave was merged into a
                    # coarse bucket that has left the 24h window already (its far edge
                    # moves in steps of COARSE minutes), so there is nothing to take out.
                    # (Events of this batch counted here before a jump of its watermark
                    # still get a minute bucket of their own, as _compact would keep it.)
                    continue
            bucket = bs.buckets.get(minute)
            if bucket is None:
                bucket = bs.buckets[minute] = {}
            _add_pairs(_vector(bucket, group), pairs)
            for window, width in WINDOWS.items():
                if minute > wm - width:
                    _add_pairs(_vector(bs.totals[window], group), pairs)
            result.touched.add((brand, minute))
            result.brands.add(brand)

    def _advance(self, brand: str, bs: BrandState, ts: float, result: BatchResult) -> None:
        """Move the watermark to ``ts``: subtract buckets leaving each window, evict old ones."""
        old = bs.wm_minute
        prune = self._prunes(bs, ts)
        bs.watermark = ts
        new = int(ts // 60)
        result.brands.add(brand)
        if old is None or new == old:
            return
        bs.rankings.advance(old, new)
        bs.rankings.evict(new - MAX_WINDOW_MINUTES, old - MAX_WINDOW_MINUTES)
        bs.hourly.evict(int(ts // 3600))
        for window, width in WINDOWS.items():
            totals = bs.totals[window]
            for m in minutes_between(bs.buckets, old - width + 1, new - width):
                for group, vec in bs.buckets[m].items():
                    _sub(totals.setdefault(group, zero()), vec)
        day = bs.totals["24h"]
        for c in minutes_between(bs.coarse, old - MAX_WINDOW_MINUTES + 1, new - MAX_WINDOW_MINUTES):
            for group, vec in bs.coarse.pop(c).items():
                _sub(day.setdefault(group, zero()), vec)
            result.evicted.add((brand, coarse_slot(c)))
        # everything at or before the previous cutoff is gone already
        evict_from = old - MAX_WINDOW_MINUTES + 1 if bs.buckets else new
        for m in minutes_between(bs.buckets, evict_from, new - MAX_WINDOW_MINUTES):
            del bs.buckets[m]
            result.evicted.add((brand, m))
        self._compact(brand, bs, old, new, result)
        if prune:  # sightings at or before the cutoff count as absent
            cutoff = bs.distinct_pruned = new - MAX_WINDOW_MINUTES
            for by_group in bs.distinct.values():
                for tracker in by_group.values():
                    tracker.prune(cutoff)
        for pf in bs.followers.values():
            pf.fold(ts - self.allowed_lateness)
        horizon = self.dedup_horizon(ts)
        for m in [m for m in bs.seen_minutes if m < horizon]:
            for eid in bs.seen_minutes.pop(m):
                bs.seen.pop(eid, None)
            result.forgotten.add((brand, m))

    @staticmethod
    def _prunes(bs: BrandState, watermark: float) -> bool:
        """Whether ``_advance`` to ``watermark`` prunes the brand's distinct trackers: once
        the cutoff is an hour past the last pruning's, at a change of minute."""
        old, new = bs.wm_minute, int(watermark // 60)
        cutoff = new - MAX_WINDOW_MINUTES
        return old is not None and new != old and cutoff - bs.distinct_pruned >= 60

    def _compact(self, brand: str, bs: BrandState, old: int, new: int, result: BatchResult) -> None:
        """Merge minute buckets past the compaction age into COARSE-minute buckets.

        Window totals do not change: a merged minute was inside the 24h window and so is
        its coarse bucket (whose start decides when it leaves), and no other window holds
        minutes that old.
        """
        for m in minutes_between(bs.buckets, old - self.compact_age + 1, new - self.compact_age):
            start = m - m % COARSE
            if start <= new - MAX_WINDOW_MINUTES:
                continue  # would leave the 24h window before the minute itself: keep it
            target = bs.coarse.setdefault(start, {})
            for group, vec in bs.buckets.pop(m).items():
                _add(target.setdefault(group, zero()), vec)
            bs.rankings.compact(m, start, new)
            result.compacted.add((brand, m))
            result.touched.add((brand, coarse_slot(start)))
            result.brands.add(brand)

    def dedup_horizon(self, watermark: float) -> int:
        """Oldest minute whose event ids are still remembered (older events are late)."""
        return int((watermark - self.allowed_lateness) // 60) - 1

    # -- persistence ----------------------------------------------------------------------
    def bucket_record(self, brand: str, minute: int) -> dict[str, Any] | None:
        """The table value of one (brand, minute) bucket; None once evicted."""
        bs = self.brands.get(brand)
        if bs is None:
            return None
        bucket = bs.coarse.get(coarse_start(minute)) if minute < 0 else bs.buckets.get(minute)
        if bucket is None:
            return None
        record: dict[str, Any] = {f"{p}\x1f{c}": sparse(vec) for (p, c), vec in bucket.items()}
        ranked = bs.rankings.record(minute)
        if ranked:
            record[RANKINGS_KEY] = ranked
        return record

    def brand_record(self, brand: str) -> dict[str, Any]:
        """The table value of a brand's own state: watermark and followers."""
        bs = self.brands[brand]
        return {
            "wm": bs.watermark,
            "src": bs.sources.to_json(),
            "followers": {p: pf.to_json() for p, pf in bs.followers.items()},
            "hourly": bs.hourly.to_json(),
            "levels": [
                [counter, f"{group[0]}\x1f{group[1]}", tracker.level]
                for counter, by_group in bs.distinct.items()
                for group, tracker in by_group.items()
                if tracker.level
            ],
        }

    def restore(
        self,
        brand_records: dict[str, dict[str, Any]],
        buckets: Iterable[tuple[str, int, dict[str, Any]]],
        seen: Iterable[tuple[str, int, list[str]]],
        sightings: Iterable[tuple[str, int, list[list[Any]]]] = (),
    ) -> None:
        """Rebuild the brands of ``brand_records`` from persisted records; other brands stay.

        After a restart every owned brand is rebuilt; after a rebalance, the brands of the
        newly assigned partitions. Records of brands without a brand record are ignored.
        """
        restored: dict[str, BrandState] = {}
        for brand, record in brand_records.items():
            fresh = restored[brand] = BrandState(watermark=record["wm"])
            fresh.sources = Sources.from_json(record.get("src", []), self.clock())
            for platform, raw in record.get("followers", {}).items():
                fresh.followers[platform] = PlatformFollowers.from_json(raw)
            fresh.hourly = HourlyRates.from_json(record.get("hourly", {}))
            for counter, group_key, level in record.get("levels", []):
                platform, _, campaign = group_key.partition("\x1f")
                self.tracker(fresh, counter, (platform, campaign)).level = level
        for brand, minute, record in buckets:
            bs = restored.get(brand)
            if bs is None or bs.wm_minute is None:
                continue
            start = coarse_start(minute) if minute < 0 else minute
            if start <= bs.wm_minute - MAX_WINDOW_MINUTES:
                continue
            bucket = (
                bs.coarse.setdefault(start, {}) if minute < 0 else bs.buckets.setdefault(minute, {})
            )
            for key, vec in record.items():
                if key == RANKINGS_KEY:
                    bs.rankings.restore(minute, vec, bs.wm_minute)
                    continue
                platform, _, campaign = key.partition("\x1f")
                if platform == VARIANT:
                    label, _, variant = campaign.partition(VARIANT_SEP)
                    bs.variants.setdefault(label, set()).add(variant)
                bucket[(platform, campaign)] = dense(vec)
                if platform not in (ALL, OTHER, VARIANT):
                    bs.platforms.add(platform)
                if campaign not in (ALL, OTHER) and platform != VARIANT:
                    bs.campaigns.add(campaign)
        for bs in restored.values():
            wm_minute = bs.wm_minute
            if wm_minute is None:  # partitions expected, no event counted yet
                continue
            _rebuild_totals(bs, wm_minute)
        for brand, minute, entries in sorted(sightings, key=lambda r: r[1]):
            owner = restored.get(brand)
            if owner is None or owner.wm_minute is None:
                continue
            if minute <= owner.wm_minute - MAX_WINDOW_MINUTES:
                continue
            for counter, group_key, who in entries:
                platform, _, campaign = group_key.partition("\x1f")
                self.tracker(owner, counter, (platform, campaign)).restore(who, minute)
        for brand, minute, ids in seen:
            owner = restored.get(brand)
            if owner is None or owner.watermark is None:
                continue
            if minute < self.dedup_horizon(owner.watermark):
                continue
            owner.seen_minutes.setdefault(minute, []).extend(ids)
            for eid in ids:
                owner.seen[eid] = minute
        self.brands.update(restored)
        self.created -= restored.keys()

    def forget(self, brands: Iterable[str]) -> None:
        """Drop brands whose partitions moved to another worker."""
        for brand in brands:
            self.brands.pop(brand, None)
            self.created.discard(brand)

    def take_created(self) -> set[str]:
        """The brands begun from nothing since the last call."""
        created, self.created = self.created, set()
        return created


def _runs(events: Sequence[Event], origins: Sequence[int]) -> list[tuple[str, int, int, int]]:
    """The runs of consecutive events of one brand from one partition (an envelope's, as
    a rule): (brand, partition, start, end), in order."""
    runs: list[tuple[str, int, int, int]] = []
    brand, origin, start = None, -1, 0
    for i, (ev, source) in enumerate(zip(events, origins, strict=True)):
        if ev["brand"] != brand or source != origin:
            if brand is not None:
                runs.append((brand, origin, start, i))
            brand, origin, start = ev["brand"], source, i
    if brand is not None:
        runs.append((brand, origin, start, len(events)))
    return runs


def _rebuild_totals(bs: BrandState, wm_minute: int) -> None:
    """The window totals of restored buckets: per group, the sum of its vectors in each
    window, summed by numpy (a restart's longest step once written per vector)."""
    vectors: dict[Group, list[array[float]]] = {}
    ages: dict[Group, list[int]] = {}  # minutes before the watermark's
    for minute, bucket in bs.buckets.items():
        for group, counts in bucket.items():
            held = vectors.get(group)
            if held is None:
                vectors[group], ages[group] = [counts], [wm_minute - minute]
            else:
                held.append(counts)
                ages[group].append(wm_minute - minute)
    day = MAX_WINDOW_MINUTES - 1  # every kept coarse bucket is inside 24h, and only there
    for bucket in bs.coarse.values():
        for group, counts in bucket.items():
            held = vectors.get(group)
            if held is None:
                vectors[group], ages[group] = [counts], [day]
            else:
                held.append(counts)
                ages[group].append(day)
    for group, held in vectors.items():
        matrix = np.frombuffer(b"".join(held), dtype=np.float64).reshape(len(held), N)
        age = np.array(ages[group])
        for window, width in WINDOWS.items():
            inside = age < width
            if inside.all():
                bs.totals[window][group] = array("d", matrix.sum(axis=0).tobytes())
            elif inside.any():
                bs.totals[window][group] = array("d", matrix[inside].sum(axis=0).tobytes())


def sparse(vec: array[float]) -> dict[str, float]:
    """A counter vector as persisted: its non-zero counters by index (most of a group's
    counters are zero in a minute: a dense list was 3-4 times the bytes to write and to
    read back)."""
    return {key: v for key, v in zip(_INDEX_KEYS, vec, strict=True) if v}


def dense(persisted: dict[str, float] | list[float]) -> array[float]:
    """A persisted counter vector back as an array: the sparse form, or the dense list of
    records written before it (shorter when written before a counter was added)."""
    if isinstance(persisted, dict):
        vec = zero()
        for i, v in persisted.items():
            index = int(i)
            if index < N:
                vec[index] = v
        return vec
    if len(persisted) < N:
        persisted = [*persisted, *([0.0] * (N - len(persisted)))]
    return array("d", persisted[:N])


#: the persisted keys of the counter indices
_INDEX_KEYS: Final = tuple(str(i) for i in range(N))


def nonzero(vec: array[float]) -> list[tuple[int, float]]:
    """The (index, amount) pairs of a vector's non-zero counters (few: an event adds to one
    to five of them), to add one vector to several without scanning it each time."""
    return [(i, v) for i, v in enumerate(vec) if v]


def _vector(vectors: dict[Group, array[float]], group: Group) -> array[float]:
    """``vectors[group]``, a zero vector put there first if missing (``setdefault`` would
    build a zero vector on every call)."""
    vec = vectors.get(group)
    if vec is None:
        vec = vectors[group] = zero()
    return vec


def _add_pairs(acc: array[float], pairs: list[tuple[int, float]]) -> None:
    for i, v in pairs:
        acc[i] += v


def _add(acc: array[float], vec: array[float]) -> None:
    for i, v in enumerate(vec):
        if v:
            acc[i] += v


def _sub(acc: array[float], vec: array[float]) -> None:
    for i, v in enumerate(vec):
        if v:
            left = acc[i] - v
            # float sums (money, sentiment) leave residues such as 1e-13 when a window
            # empties; below a millionth of a unit nothing real is left
            acc[i] = left if abs(left) > 1e-6 else 0.0
