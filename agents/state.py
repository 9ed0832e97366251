"""Per-brand KPI state in event time: watermark, dedup, minute buckets, rolling totals.

Pure Python, no Faust: the KPI agent feeds it batches and persists what it reports as
changed; the exporter reads the window totals. Tests drive it directly.

Windows end at the brand's watermark (its latest event time) at one-minute resolution:
the ``5m`` window holds the minute buckets ``m`` with ``m > wm_minute - 5``, so the
current minute and the four before it. Totals are kept running: a bucket's vector is
added when events arrive and subtracted once when the watermark moves it out of a window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from socialpulse.agents.counters import N, contributions, zero
from socialpulse.streams.validation import Event

WINDOWS: Final = {"5m": 5, "1h": 60, "24h": 1440}
MAX_WINDOW_MINUTES: Final = max(WINDOWS.values())
ALL: Final = "all"
OTHER: Final = "other"

#: label group keys: ("all", "all"), (platform, "all"), ("all", campaign)
Group = tuple[str, str]


@dataclass(slots=True)
class BrandState:
    """Everything kept for one brand."""

    watermark: float | None = None
    buckets: dict[int, dict[Group, list[float]]] = field(default_factory=dict)
    totals: dict[str, dict[Group, list[float]]] = field(
        default_factory=lambda: {w: {} for w in WINDOWS}
    )
    seen: dict[str, int] = field(default_factory=dict)  # event id -> minute
    seen_minutes: dict[int, list[str]] = field(default_factory=dict)  # minute -> ids
    platforms: set[str] = field(default_factory=set)
    campaigns: set[str] = field(default_factory=set)

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
    evicted: set[tuple[str, int]] = field(default_factory=set)
    new_ids: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    forgotten: set[tuple[str, int]] = field(default_factory=set)  # (brand, minute) of ids
    brands: set[str] = field(default_factory=set)


class KpiState:
    """KPI state of every brand a worker owns."""

    def __init__(
        self, *, allowed_lateness: float = 600.0, platform_cap: int = 20, campaign_cap: int = 50
    ) -> None:
        self.allowed_lateness = allowed_lateness
        self.platform_cap = platform_cap
        self.campaign_cap = campaign_cap
        self.brands: dict[str, BrandState] = {}

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
            groups.append((ALL, self.campaign_label(bs, campaign)))
        return groups

    # -- the batch path -------------------------------------------------------------------
    def apply(self, events: Iterable[Event]) -> BatchResult:
        """Apply validated events in arrival order; late ones and duplicates are reported."""
        result = BatchResult()
        # per (brand, minute, group) deltas of this batch, applied once each at the end
        deltas: dict[tuple[str, int, Group], list[float]] = {}
        lateness = self.allowed_lateness
        for ev in events:
            brand = ev["brand"]
            bs = self.brands.get(brand)
            if bs is None:
                bs = self.brands[brand] = BrandState()
            ts = ev["ts"]
            if bs.watermark is not None and ts < bs.watermark - lateness:
                result.late.append(ev)
                continue
            eid = ev["id"]
            if eid in bs.seen:
                result.duplicates[brand] += 1
                continue
            minute = int(ts // 60)
            if bs.watermark is None or ts > bs.watermark:
                # pending deltas need no flush first: _apply_deltas checks window
                # membership against the watermark current when it runs, and _advance only
                # subtracts what the buckets already hold, so totals stay the bucket sums
                self._advance(brand, bs, ts, result)
            bs.seen[eid] = minute
            bs.seen_minutes.setdefault(minute, []).append(eid)
            result.new_ids.setdefault((brand, minute), []).append(eid)
            result.accepted.append(ev)
            contrib = contributions(ev)
            for group in self.groups_of(bs, ev):
                key = (brand, minute, group)
                vec = deltas.get(key)
                if vec is None:
                    vec = deltas[key] = zero()
                for idx, amount in contrib:
                    vec[idx] += amount
        self._apply_deltas(deltas, result)
        return result

    def _apply_deltas(
        self, deltas: dict[tuple[str, int, Group], list[float]], result: BatchResult
    ) -> None:
        for (brand, minute, group), vec in deltas.items():
            bs = self.brands[brand]
            bucket = bs.buckets.setdefault(minute, {})
            _add(bucket.setdefault(group, zero()), vec)
            wm_minute = bs.wm_minute
            assert wm_minute is not None
            for window, width in WINDOWS.items():
                if minute > wm_minute - width:
                    _add(bs.totals[window].setdefault(group, zero()), vec)
            result.touched.add((brand, minute))
            result.brands.add(brand)

    def _advance(self, brand: str, bs: BrandState, ts: float, result: BatchResult) -> None:
        """Move the watermark to ``ts``: subtract buckets leaving each window, evict old ones."""
        old = bs.wm_minute
        bs.watermark = ts
        new = int(ts // 60)
        result.brands.add(brand)
        if old is None or new == old:
            return
        for window, width in WINDOWS.items():
            leaving = [m for m in bs.buckets if old - width < m <= new - width]
            totals = bs.totals[window]
            for m in leaving:
                for group, vec in bs.buckets[m].items():
                    _sub(totals.setdefault(group, zero()), vec)
        for m in [m for m in bs.buckets if m <= new - MAX_WINDOW_MINUTES]:
            del bs.buckets[m]
            result.evicted.add((brand, m))
        horizon = self.dedup_horizon(ts)
        for m in [m for m in bs.seen_minutes if m < horizon]:
            for eid in bs.seen_minutes.pop(m):
                bs.seen.pop(eid, None)
            result.forgotten.add((brand, m))

    def dedup_horizon(self, watermark: float) -> int:
        """Oldest minute whose event ids are still remembered (older events are late)."""
        return int((watermark - self.allowed_lateness) // 60) - 1

    # -- persistence ----------------------------------------------------------------------
    def bucket_record(self, brand: str, minute: int) -> dict[str, list[float]] | None:
        """The table value of one (brand, minute) bucket; None once evicted."""
        bs = self.brands.get(brand)
        bucket = bs.buckets.get(minute) if bs else None
        if bucket is None:
            return None
        return {f"{p}\x1f{c}": vec for (p, c), vec in bucket.items()}

    def restore(
        self,
        watermarks: dict[str, float],
        buckets: Iterable[tuple[str, int, dict[str, list[float]]]],
        seen: Iterable[tuple[str, int, list[str]]],
    ) -> None:
        """Rebuild the state from persisted records (after a restart or a rebalance)."""
        self.brands.clear()
        for brand, wm in watermarks.items():
            self.brands[brand] = BrandState(watermark=wm)
        for brand, minute, record in buckets:
            bs = self.brands.get(brand)
            if bs is None or bs.wm_minute is None:
                continue
            if minute <= bs.wm_minute - MAX_WINDOW_MINUTES:
                continue
            bucket = bs.buckets.setdefault(minute, {})
            for key, vec in record.items():
                platform, _, campaign = key.partition("\x1f")
                if len(vec) < N:  # a record written before a counter was added
                    vec = [*vec, *([0.0] * (N - len(vec)))]
                bucket[(platform, campaign)] = list(vec[:N])
                if platform not in (ALL, OTHER):
                    bs.platforms.add(platform)
                if campaign not in (ALL, OTHER):
                    bs.campaigns.add(campaign)
        for bs in self.brands.values():
            wm_minute = bs.wm_minute
            assert wm_minute is not None
            for window, width in WINDOWS.items():
                totals = bs.totals[window]
                for minute, bucket in bs.buckets.items():
                    if minute > wm_minute - width:
                        for group, vec in bucket.items():
                            _add(totals.setdefault(group, zero()), vec)
        for brand, minute, ids in seen:
            bs = self.brands.get(brand)
            if bs is None or bs.watermark is None or minute < self.dedup_horizon(bs.watermark):
                continue
            bs.seen_minutes.setdefault(minute, []).extend(ids)
            for eid in ids:
                bs.seen[eid] = minute


def _add(acc: list[float], vec: list[float]) -> None:
    for i, v in enumerate(vec):
        if v:
            acc[i] += v


def _sub(acc: list[float], vec: list[float]) -> None:
    for i, v in enumerate(vec):
        if v:
            left = acc[i] - v
            # float sums (money, sentiment) leave residues such as 1e-13 when a window
            # empties; below a millionth of a unit nothing real is left
            acc[i] = left if abs(left) > 1e-6 else 0.0
