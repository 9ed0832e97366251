"""The detectors: each brand's signals against its own baselines, stepped through event time.

The detectors keep their own totals of the counters they read (brand totals, per minute
for ``hold`` minutes and per step of ``step_seconds`` for the short windows), fed with
the counted events in the order they were counted. When an event moves a brand's
watermark into a later step, every step it closes is judged in order, at the step's
close, before the event is added: a rule judged there reads only the events with event
time up to that close that had arrived by then. So the alerts (rule, brand, event time)
do not depend on how the events were cut into batches, nor on how fast they came: a
batch of one event or a backfill of hours at 1000x real time gives the same alerts. An
alert's ``event_time`` is the close of the step it was judged at. The watermark is the
KPI state's (``KpiState.floors``): with an unkeyed producer, the minimum over the
partitions that carry the brand, so a step is judged once all of them have passed it;
events ahead of it count in the totals at once and in the evidence and platform clocks
when their step is judged. Volume and sentiment
rules are judged at every step; paid rules, and the baselines' learning, at minute closes.

Baselines learn one sample per closed minute, once ``settle_minutes`` more have passed
(late events fill it meanwhile): the signal over the window that ended there; outliers
are set aside (``alerts.baseline``).

Bounds: when a brand's watermark jumps by more than ``MAX_STEP`` minutes (a gap in its
events), the steps of the first ``MAX_STEP`` minutes after its last event are judged
(the windows that still hold its data, resolutions, silences) and the empty ones after
them are skipped. The totals are the detectors' own, so the KPI state merging minutes
older than an hour into 15-minute buckets changes no verdict. After a restart or a
rebalance they start again from the minute buckets the KPI state restored (about an
hour, each minute as if at its start); minutes before those are unknown, and the paid
rules count no dry minute there.
"""

from __future__ import annotations

import time
from array import array
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import add, itemgetter
from typing import Any

from socialpulse.agents.counters import C, N, contributions
from socialpulse.agents.minutes import minutes_between
from socialpulse.agents.state import ALL, BrandState
from socialpulse.alerts.baseline import Baseline, binomial_low_threshold, binomial_threshold
from socialpulse.alerts.evidence import Evidence
from socialpulse.alerts.lifecycle import Check, Lifecycle
from socialpulse.alerts.model import Alert
from socialpulse.alerts.rules import Tuning

TOTAL = (ALL, ALL)
ENGAGEMENT = (C.likes, C.reactions, C.comments, C.shares, C.saves, C.clicks)
MAX_CATCH_UP = 180  # closed minutes learned at most per step (after a long gap)
MAX_STEP = 240  # closed minutes judged at most when the watermark jumps
_DRY = "spend_without_conversions"

#: fixed limits per brand and rule from the config file: {"above": x} and/or {"below": y}
Limits = dict[str, dict[str, dict[str, float]]]


@dataclass
class Window:
    """Counter sums over some minutes of a brand's buckets."""

    v: list[float]

    def __getitem__(self, index: int) -> float:
        return self.v[index]

    @property
    def engagements(self) -> float:
        return sum(self.v[i] for i in ENGAGEMENT)

    def share_negative(self) -> float | None:
        n = self.v[C.sentiment_events]
        return self.v[C.negative] / n if n else None


USED = (
    C.sentiment_events,
    C.negative,
    C.negative_exposure,
    C.mentions,
    C.impressions,
    *ENGAGEMENT,
    C.spend,
    C.conversions,
)
#: counter index -> position in the detectors' short minute vectors
SLOT = {index: k for k, index in enumerate(USED)}


_brand_of = itemgetter("brand")


def _short() -> array[float]:
    return array("d", bytes(8 * len(USED)))


@dataclass
class Watch:
    """What the detectors keep per brand."""

    baselines: dict[str, Baseline]
    closed: int | None = None  # last minute learned
    platform_last: dict[str, float] = field(default_factory=dict)  # event time
    platform_minutes: dict[str, deque[tuple[int, int]]] = field(default_factory=dict)
    arrived: float = 0.0  # wall clock of the last event
    watermark: float | None = None  # latest event time seen
    minutes: dict[int, array[float]] = field(default_factory=dict)  # USED sums per minute
    steps: dict[int, array[float]] = field(default_factory=dict)  # USED sums per step
    since: int | None = None  # the first minute ``minutes`` covers
    seeded: bool = True  # False: restored from the state log, totals still to seed
    #: events ahead of the watermark, by step: their totals are counted at once, their
    #: platform clocks and evidence when their step is judged (not persisted)
    ahead: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def window(self, end: int, minutes: int) -> Window:
        """The brand's totals over ``minutes`` minutes ending with minute ``end``."""
        return _sum(self.minutes, end - minutes + 1, end)

    def recent(self, end: int, steps: int) -> Window:
        """The brand's totals over ``steps`` steps ending with step ``end``."""
        return _sum(self.steps, end - steps + 1, end)


def _sum(held: dict[int, array[float]], first: int, last: int) -> Window:
    short: list[float] = [0.0] * len(USED)
    for key in minutes_between(held, first, last):
        short = list(map(add, short, held[key]))
    total = [0.0] * N
    for index, k in SLOT.items():
        total[index] = short[k]
    return Window(total)


class AlertEngine:
    """Per-brand detectors with baselines, and the lifecycle of their alerts."""

    SIGNALS = ("share", "exposure", "mentions", "rate", "impressions", "cpa", "conversions")

    def __init__(
        self,
        tuning: Tuning | None = None,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tuning = tuning or Tuning()
        self.limits = limits or {}
        self.clock = clock
        self.lifecycle = Lifecycle(self.tuning.resolve_after, self.tuning.cooldown, clock)
        self.evidence = Evidence()
        self.watches: dict[str, Watch] = {}
        #: called with (brand, rule, event time, check) for every rule judged at every
        #: step: ``socialpulse backtest --plot`` draws the signals from it
        self.trace: Callable[[str, str, float, Check], None] | None = None
        #: brands whose persisted part changed (steps judged, alerts raised) since the
        #: last ``take_dirty``: the batch core writes their state with the batch's record
        self.dirty: set[str] = set()
        t = self.tuning
        if t.step_seconds <= 0 or 60 % t.step_seconds:
            raise ValueError(f"step_seconds must divide a minute, not {t.step_seconds}")
        self.step = t.step_seconds
        self.per_minute = 60 // t.step_seconds
        #: minutes of totals kept behind the watermark: the paid rules' longest look back
        self.hold = 4 * t.paid_window_minutes + t.window_minutes + t.settle_minutes + 2
        #: steps kept behind the watermark: the short window and a margin for late events
        self.hold_steps = self.per_minute * (t.window_minutes + 1) + 1

    # -- input ----------------------------------------------------------------------------
    def _watch(self, brand: str) -> Watch:
        watch = self.watches.get(brand)
        if watch is None:
            need = self.tuning.min_history_minutes
            slow = {"cpa", "conversions"}  # sparse: an hour's window, hours of memory
            watch = self.watches[brand] = Watch(
                {
                    name: Baseline(alpha=2 / 241, min_samples=max(need, 60))
                    if name in slow
                    else Baseline(alpha=2 / 61, min_samples=need)
                    for name in self.SIGNALS
                }
            )
        return watch

    def detect(
        self,
        events: Iterable[dict[str, Any]],
        states: Mapping[str, BrandState] | None = None,
        floors: Sequence[float] | None = None,
        contributed: Sequence[list[tuple[int, float]]] | None = None,
        fresh: Collection[str] = (),
    ) -> list[Alert]:
        """Feed a batch's counted events, in the order they were counted; the alerts of
        every minute they close, in event-time order per brand.

        ``states`` (the KPI state) seeds a brand seen for the first time, as after a
        restart or a rebalance, with the minute buckets it holds from before this batch;
        its watermarks close the steps they passed at the end (those of all brands with no
        events, as on a tick). ``floors`` (side by side with ``events``) are the brand's
        watermark once each event had arrived (``KpiState.floors``); without them an event
        moves its brand's watermark to its own time, if later. ``contributed`` (side by
        side with ``events``) are the events' counter contributions the KPI state computed
        already. ``fresh`` brands had no state before this batch: their minute buckets
        hold this batch's events alone, so there is nothing from before it to seed.
        """
        events = list(events)
        now = self.clock()
        present = dict.fromkeys(map(_brand_of, events))  # the batch's brands, in order
        for brand in present:
            known = self.watches.get(brand)
            if known is not None and known.seeded:
                continue
            watch = self._watch(brand)
            watch.seeded = True
            bs = states.get(brand) if states is not None else None
            if bs is not None and brand not in fresh:
                self._seed(watch, bs, [ev for ev in events if ev["brand"] == brand])
        out: list[Alert] = []
        hold, hold_steps, step_seconds = self.hold, self.hold_steps, self.step
        last_brand = ""
        watch = Watch({})  # replaced at the first event
        #: the current brand's events for the platform clocks and the evidence, handed
        #: over before its watermark moves (the rules then read them) and at its run's end
        clocked: list[dict[str, Any]] = []
        held_from = steps_from = 0  # found for the watermark ``bounds_of``
        bounds_of: float | None = None
        for i, ev in enumerate(events):
            brand = ev["brand"]
            if brand != last_brand:  # a batch brings a brand's events in runs
                if clocked:
                    self._clocks(last_brand, watch, clocked)
                    clocked = []
                watch = self._watch(brand)
                watch.arrived = now
                last_brand = brand
            ts = ev["ts"]
            floor = ts if floors is None else floors[i]
            watermark = watch.watermark
            if watermark is None:
                watermark = watch.watermark = floor
            elif floor > watermark:
                if floor // step_seconds > watermark // step_seconds:  # closes a step
                    if clocked:
                        self._clocks(brand, watch, clocked)
                        clocked = []
                    out += self._move(brand, watch, floor)
                else:  # within the step: no rule reads the clocks before it closes
                    watch.watermark = floor
                watermark = floor
            if watermark != bounds_of:  # the held minutes and steps end where it is
                bounds_of = watermark
                held_from = int(watermark // 60) - hold
                steps_from = int(watermark // step_seconds) - hold_steps
            minute = int(ts // 60)
            # the brand's first minute with events (not the watermark, which a partition
            # not read yet holds before them): an older event within the held minutes
            # moves it back
            if watch.since is None or (minute < watch.since and minute >= held_from):
                watch.since = minute
            # the event's part in the detectors' totals; a late event older than what is
            # held reads in no window to come: not kept
            step = int(ts // step_seconds)
            by_minute = by_step = None
            if minute >= held_from:
                by_minute = watch.minutes.get(minute)
                if by_minute is None:
                    by_minute = watch.minutes[minute] = _short()
            if step > steps_from:
                by_step = watch.steps.get(step)
                if by_step is None:
                    by_step = watch.steps[step] = _short()
            if by_minute is not None or by_step is not None:
                pairs = contributions(ev) if contributed is None else contributed[i]  # type: ignore[arg-type]
                for index, amount in pairs:
                    k = SLOT.get(index)
                    if k is not None:
                        if by_minute is not None:
                            by_minute[k] += amount
                        if by_step is not None:
                            by_step[k] += amount
            if ts > watermark:  # ahead: seen by the rules once its step is judged
                watch.ahead.setdefault(step, []).append(ev)
            else:
                clocked.append(ev)
        if clocked:
            self._clocks(last_brand, watch, clocked)
        if states is not None:
            for brand in present if events else list(self.watches):
                watch, bs = self.watches[brand], states.get(brand)
                if (
                    bs is not None
                    and bs.watermark is not None
                    and watch.watermark is not None
                    and bs.watermark > watch.watermark
                ):
                    out += self._move(brand, watch, bs.watermark)
        self.evidence.settle()
        return out

    def _move(self, brand: str, watch: Watch, floor: float) -> list[Alert]:
        """Move the brand's watermark to ``floor``, judging the steps it closes."""
        assert watch.watermark is not None
        out: list[Alert] = []
        last, new_step = int(watch.watermark // self.step), int(floor // self.step)
        if new_step > last:
            out = self._step(brand, watch, last, new_step)
        watch.watermark = floor
        return out

    def _seed(self, watch: Watch, bs: BrandState, batch: list[dict[str, Any]]) -> None:
        """Minute totals from the KPI state's minute buckets, less this batch's events."""
        for m, groups in bs.buckets.items():
            vec = groups.get(TOTAL)
            if vec is not None:
                short = watch.minutes[m] = _short()
                for index, k in SLOT.items():
                    short[k] = vec[index]
        for ev in batch:
            held = watch.minutes.get(int(ev["ts"] // 60))
            if held is not None:
                for index, amount in contributions(ev):  # type: ignore[arg-type]
                    slot = SLOT.get(index)
                    if slot is not None:
                        held[slot] -= amount
        for m in [m for m, held in watch.minutes.items() if not any(abs(v) > 1e-6 for v in held)]:
            del watch.minutes[m]  # only this batch's events: nothing from before it
        for m, short in watch.minutes.items():  # the minute as if it came at its start
            watch.steps[m * self.per_minute] = array("d", short)
        if watch.minutes:
            watch.since = min(watch.minutes)
            if watch.closed is None:  # learn every minute held, on the first step
                watch.closed = watch.since - 1
            # else restored baselines: the minutes they learned are not learned again

    def _clocks(self, brand: str, watch: Watch, events: list[dict[str, Any]]) -> None:
        """Events' part, in order, in the evidence and the platform clocks."""
        self.evidence.extend(brand, events)
        latest, rings = watch.platform_last, watch.platform_minutes
        for ev in events:
            ts = ev["ts"]
            platform = ev["platform"]
            if ts > latest.get(platform, float("-inf")):
                latest[platform] = ts
            minute = int(ts // 60)
            ring = rings.get(platform)
            if ring is None:
                ring = rings[platform] = deque(maxlen=90)
            if ring and ring[-1][0] == minute:
                ring[-1] = (minute, ring[-1][1] + 1)
            else:
                ring.append((minute, 1))

    def _step(self, brand: str, watch: Watch, last: int, new: int) -> list[Alert]:
        """Judge the steps ``last`` .. ``new - 1`` that an event of step ``new`` closes
        (those of the first ``MAX_STEP`` minutes after a long gap), then drop old totals."""
        out: list[Alert] = []
        self.dirty.add(brand)
        for step in range(last, min(new, last + MAX_STEP * self.per_minute)):
            if watch.ahead:
                self._catch_up(brand, watch, step)
            out += self._judge(brand, watch, step)
        if watch.ahead:
            self._catch_up(brand, watch, new - 1)
        horizon = (new * self.step) // 60 - self.hold
        old_horizon = (last * self.step) // 60 - self.hold
        for m in minutes_between(watch.minutes, old_horizon - 1, horizon - 1):
            del watch.minutes[m]
        if watch.since is not None and watch.since < horizon:
            watch.since = horizon
        for s in minutes_between(watch.steps, last - self.hold_steps - 1, new - self.hold_steps):
            del watch.steps[s]
        return out

    def _catch_up(self, brand: str, watch: Watch, step: int) -> None:
        """The evidence and platform clocks of the events ahead up to ``step``."""
        for s in sorted(s for s in watch.ahead if s <= step):
            self._clocks(brand, watch, watch.ahead.pop(s))

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty

    def forget(self, brands: Iterable[str]) -> None:
        gone = set(brands)
        self.dirty -= gone
        for brand in gone:
            self.watches.pop(brand, None)
        self.lifecycle.forget(gone)
        self.evidence.forget(gone)

    # -- evaluation -----------------------------------------------------------------------
    def _judge(self, brand: str, watch: Watch, step: int) -> list[Alert]:
        """Check the rules at the close of ``step``, with the windows ending there (paid
        rules and learning at minute closes only); the alerts carry the close as event
        time."""
        at = float((step + 1) * self.step)
        minute = step // self.per_minute  # the minute the step belongs to
        t = self.tuning
        self._learn(watch, minute)
        width = self.per_minute * t.window_minutes
        now_window = watch.recent(step, width)
        checks = {
            "negative_sentiment": self._negative_sentiment(
                brand, watch, now_window, watch.recent(step, 2 * self.per_minute), at
            ),
            "negative_exposure": self._negative_exposure(brand, watch, now_window, at),
            "mention_spike": self._mention_spike(brand, watch, now_window, at),
            "engagement_collapse": self._engagement_collapse(brand, watch, now_window),
            "source_silence": self._platform_silence(brand, watch, at),
        }
        if (step + 1) % self.per_minute == 0:  # the minute closes
            paid = watch.window(minute, t.paid_window_minutes)
            checks["cpa_surge"] = self._cpa_surge(brand, watch, paid)
            checks[_DRY] = self._spend_without_conversions(brand, watch, minute)
        out = []
        trace = self.trace
        for rule, check in checks.items():
            if trace is not None:
                trace(brand, rule, at, check)
            alert = self.lifecycle.step(brand, rule, at, check)
            if alert is not None:
                out.append(alert)
        return out

    def check_silence(self, states: dict[str, BrandState]) -> list[Alert]:
        """Brands whose producers stopped sending altogether, by the wall clock."""
        now = self.clock()
        out = []
        for brand, watch in list(self.watches.items()):
            if watch.watermark is None or brand not in states:
                continue
            held = self.lifecycle.states.get((brand, "source_silence"))
            firing = held.firing if held is not None else None
            if firing is not None and firing.evidence.get("platform") != "all":
                # a platform's silence, judged and resolved in event time: the wall clock
                # resolving it would give its resolve an arrival-dependent time
                continue
            quiet = now - watch.arrived
            busy = self._busy(watch, None)
            check = Check(
                fire=quiet >= self.tuning.silence_after and busy >= self.tuning.busy_per_minute,
                clear=quiet < self.tuning.silence_after,
                value=round(quiet, 1),
                baseline=round(busy, 3),
                threshold=self.tuning.silence_after,
                evidence=lambda b=busy, q=quiet: {
                    "platform": "all",
                    "seconds_without_events": round(q, 1),
                    "events_per_minute_before": round(b, 3),
                },
            )
            if check.fire or self.lifecycle.is_firing(brand, "source_silence"):
                alert = self.lifecycle.step(brand, "source_silence", watch.watermark, check)
                if alert is not None:
                    out.append(alert)
                    self.dirty.add(brand)
        return out

    def _learn(self, watch: Watch, current: int) -> None:
        """Learn the closed minutes before ``current`` that have settled."""
        t = self.tuning
        last = current - 1 - t.settle_minutes  # minutes still filling with late events wait
        if watch.closed is None:  # first step: learn every closed minute held
            start = min(watch.minutes, default=current)
            if start > last:
                # none has settled yet: wait, as older events may still come (a watermark
                # held by a partition not read yet starts before the brand's first events)
                return
            watch.closed = start - 1
        first = max(watch.closed + 1, last - MAX_CATCH_UP)
        b = watch.baselines
        for minute in range(first, last + 1):
            w = watch.window(minute, t.window_minutes)
            n = w[C.sentiment_events]
            if n >= max(5, t.min_sentiment_events // 2):
                _learn(b["share"], w[C.negative] / n, 0.05)
            _learn(b["exposure"], w[C.negative_exposure], max(0.5 * b["exposure"].mean, 1000))
            _learn(b["mentions"], w[C.mentions], _poisson(b["mentions"].mean))
            _learn(b["impressions"], w[C.impressions], _poisson(b["impressions"].mean))
            if w[C.impressions] >= t.min_impressions:
                _learn(b["rate"], w.engagements / w[C.impressions], 0.1 * b["rate"].mean)
            p = watch.window(minute, t.paid_window_minutes)
            _learn(b["conversions"], p[C.conversions], _poisson(b["conversions"].mean))
            if p[C.conversions] >= 3:
                b["cpa"].observe(p[C.spend] / p[C.conversions], 0.25 * b["cpa"].mean, 1.5)
        watch.closed = max(watch.closed, last)

    def _limit(self, brand: str, rule: str, key: str) -> float | None:
        return self.limits.get(brand, {}).get(rule, {}).get(key)

    def _negative_sentiment(
        self, brand: str, watch: Watch, w: Window, short: Window, wm: float
    ) -> Check:
        """The negative share over the window, and over its last two minutes for a sudden
        turn (the share is scale-free, so both compare with the same baseline)."""
        t = self.tuning
        base = watch.baselines["share"]
        above = self._limit(brand, "negative_sentiment", "above")
        # negatives among n events against a binomial law at the baseline share (raised by
        # its usual spread between windows): firing means p < ALPHA by chance
        p0 = min(max(base.mean + base.std(), 0.02), 0.95)
        floor = base.mean + t.negative_share_rise
        judged = []
        for win in (w, short):
            n = int(win[C.sentiment_events])
            share = win.share_negative()
            possible = (
                share is not None
                and n >= t.min_sentiment_events
                and (base.ready or above is not None)
            )
            if above is not None and not base.ready:
                threshold = above
            else:  # the binomial bound only when the share could reach it (judged per step)
                threshold = floor if above is None else min(floor, above)
                if possible and share is not None and share >= threshold:
                    threshold = max(binomial_threshold(n, p0), floor)
                    if above is not None:
                        threshold = min(threshold, above)
            fire = possible and share is not None and share >= threshold
            judged.append((fire, share, threshold))
        fire, share, threshold = judged[1] if judged[1][0] and not judged[0][0] else judged[0]
        long_share = judged[0][1]
        clear = True  # read only while the rule fires
        if self.lifecycle.is_firing(brand, "negative_sentiment"):
            # back to normal: a share the baseline gives one time in a hundred, at most
            n = int(w[C.sentiment_events])
            clear_at = max(
                base.mean + t.negative_share_rise / 2,
                binomial_threshold(n, min(max(base.mean, 0.02), 0.95), 0.01),
            )
            if above is not None:
                clear_at = min(clear_at, 0.9 * above)
            clear = (
                long_share is None
                or w[C.sentiment_events] < t.min_sentiment_events
                or long_share < clear_at
            )
        severity = "critical" if share is not None and share - base.mean >= 0.3 else "warning"
        return Check(
            fire=fire,
            clear=clear,
            value=round(share or 0.0, 4),
            baseline=round(base.mean, 4) if base.ready else None,
            threshold=round(threshold, 4),
            severity=severity,
            evidence=lambda: self._text_evidence(brand, wm, negative=True),
        )

    def _negative_exposure(self, brand: str, watch: Watch, w: Window, wm: float) -> Check:
        t = self.tuning
        base = watch.baselines["exposure"]
        x = w[C.negative_exposure]
        floor = max(0.5 * base.mean, 1000.0)
        threshold = max(t.min_exposure, base.mean + t.z_fire * base.std(floor))
        above = self._limit(brand, "negative_exposure", "above")
        if above is not None:
            threshold = min(threshold, above)
        fire = x >= threshold and (base.ready or above is not None)
        severity = "critical" if x >= 5 * threshold else "warning"
        return Check(
            fire=fire,
            clear=x < max(0.5 * threshold, base.mean + t.z_clear * base.std(floor)),
            value=round(x, 2),
            baseline=round(base.mean, 2) if base.ready else None,
            threshold=round(threshold, 2),
            severity=severity,
            evidence=lambda: self._text_evidence(brand, wm, negative=True),
        )

    def _mention_spike(self, brand: str, watch: Watch, w: Window, wm: float) -> Check:
        t = self.tuning
        base = watch.baselines["mentions"]
        x = w[C.mentions]
        std = base.std(_poisson(base.mean))
        threshold = max(t.min_mentions, t.spike_factor * base.mean, base.mean + t.z_fire * std)
        above = self._limit(brand, "mention_spike", "above")
        if above is not None:
            threshold = min(threshold, above) if base.ready else above
        fire = x >= threshold and (base.ready or above is not None)
        # a spike is information, unless its mentions turn negative: then a crisis
        share, share_base = w.share_negative(), watch.baselines["share"]
        negative = (
            share is not None
            and w[C.sentiment_events] >= t.min_sentiment_events
            and share >= (share_base.mean if share_base.ready else 0.2) + t.negative_share_rise
        )
        return Check(
            fire=fire,
            clear=x <= max(base.mean + t.z_clear * std, 1.5 * base.mean, 0.5 * threshold),
            value=x,
            baseline=round(base.mean, 2) if base.ready else None,
            threshold=round(threshold, 2),
            severity="warning" if negative else "info",
            crisis=negative,
            evidence=lambda: self._text_evidence(brand, wm, negative=False),
        )

    def _engagement_collapse(self, brand: str, watch: Watch, w: Window) -> Check:
        t = self.tuning
        base, imps_base = watch.baselines["rate"], watch.baselines["impressions"]
        imps = w[C.impressions]
        rate = w.engagements / imps if imps else None
        below = self._limit(brand, "engagement_collapse", "below")
        # engagements among the window's impressions against a binomial law at 70 % of the
        # usual rate: firing means the rate is this low by chance with p < ALPHA
        # the binomial bound only when the rate could fall to it, or to clear a firing alert
        threshold = t.collapse_factor * base.mean
        if below is not None:
            threshold = max(threshold, below) if base.ready else below
        if (rate is not None and rate <= threshold) or self.lifecycle.is_firing(
            brand, "engagement_collapse"
        ):
            threshold = min(
                t.collapse_factor * base.mean, binomial_low_threshold(int(imps), 0.7 * base.mean)
            )
            if below is not None:
                threshold = max(threshold, below) if base.ready else below
        holding = imps >= t.min_impressions and imps >= 0.5 * imps_base.mean
        fire = (
            rate is not None and holding and (base.ready or below is not None) and rate <= threshold
        )
        return Check(
            fire=fire,
            clear=rate is None or not holding or rate >= max(0.7 * base.mean, threshold * 1.5),
            value=round(rate or 0.0, 5),
            baseline=round(base.mean, 5) if base.ready else None,
            threshold=round(threshold, 5),
            evidence=lambda: {
                "impressions": imps,
                "engagements": w.engagements,
                "impressions_baseline": round(imps_base.mean, 1),
            },
        )

    def _cpa_surge(self, brand: str, watch: Watch, p: Window) -> Check:
        t = self.tuning
        base = watch.baselines["cpa"]
        conv = p[C.conversions]
        cpa = p[C.spend] / conv if conv >= 3 else None
        threshold = t.cpa_factor * base.mean
        above = self._limit(brand, "cpa_surge", "above")
        if above is not None:
            threshold = min(threshold, above) if base.ready else above
        fire = cpa is not None and (base.ready or above is not None) and cpa >= threshold
        return Check(
            fire=fire,
            clear=cpa is None or cpa < 0.6 * threshold,
            value=round(cpa or 0.0, 2),
            baseline=round(base.mean, 2) if base.ready else None,
            threshold=round(threshold, 2),
            evidence=lambda: {"spend": p[C.spend], "conversions": conv},
        )

    def _spend_without_conversions(self, brand: str, watch: Watch, current: int) -> Check:
        """Spend since the last conversion, when that many minutes usually bring 10.

        Minutes before ``watch.since`` (before the brand's first event, or before what a
        restart restored) are unknown: they count neither as dry nor as spent."""
        t = self.tuning
        base = watch.baselines["conversions"]
        above = self._limit(brand, "spend_without_conversions", "above")
        usual = base.ready and base.mean >= t.min_conversions_usual
        if not usual and above is None and not self.lifecycle.is_firing(brand, _DRY):
            return Check(fire=False, clear=True, value=0.0, baseline=None, threshold=0.0)
        per_minute = base.mean / t.paid_window_minutes if base.ready else 0.0
        spend, dry = 0.0, 0
        oldest = current - 4 * t.paid_window_minutes + 1
        if watch.since is not None:
            oldest = max(oldest, watch.since)
        spent, converted = SLOT[C.spend], SLOT[C.conversions]
        for minute in range(current, oldest - 1, -1):
            vec = watch.minutes.get(minute)
            if vec is not None and vec[converted]:
                break
            if vec is not None:
                spend += vec[spent]
            dry += 1
        expected = per_minute * dry  # conversions these minutes usually bring
        fire = spend > 0 and ((usual and expected >= 10) or (above is not None and spend >= above))
        return Check(
            fire=fire,
            clear=dry == 0,
            value=round(spend, 2),
            baseline=round(base.mean, 2) if base.ready else None,
            threshold=above if above is not None else 0.0,
            evidence=lambda: {
                "spend": spend,
                "minutes_without_conversion": dry,
                "conversions_expected": round(expected, 1),
            },
        )

    def _busy(self, watch: Watch, platform: str | None) -> float:
        """Events per minute over the hour before the last event (of one platform or all)."""
        rings = (
            [watch.platform_minutes.get(platform, deque())]
            if platform is not None
            else list(watch.platform_minutes.values())
        )
        minutes = [m for ring in rings for m in ring]
        if not minutes:
            return 0.0
        last = max(m for m, _ in minutes)
        return sum(n for m, n in minutes if m > last - 60) / 60

    def _platform_silence(self, brand: str, watch: Watch, wm: float) -> Check:
        t = self.tuning
        silent = {
            platform: wm - last
            for platform, last in watch.platform_last.items()
            if wm - last >= t.silence_after and self._busy(watch, platform) >= t.busy_per_minute
        }
        longest = max(silent.values(), default=0.0)
        return Check(
            fire=bool(silent),
            clear=not silent,
            value=round(longest, 1),
            baseline=None,
            threshold=t.silence_after,
            evidence=lambda: {
                "platforms": sorted(silent),
                "last_event_time": {p: watch.platform_last[p] for p in sorted(silent)},
            },
        )

    def _text_evidence(self, brand: str, wm: float, *, negative: bool) -> dict[str, Any]:
        since = wm - 60 * self.tuning.window_minutes
        return self.evidence.summary(brand, since, wm, negative_only=negative)


def _poisson(mean: float) -> float:
    return max(mean, 1.0) ** 0.5


def _learn(baseline: Baseline, x: float, floor: float) -> None:
    baseline.observe(x, floor)
