"""The detectors: each brand's signals against its own baselines, evaluated per batch.

The signals are read from the KPI state's one-minute event-time buckets (brand totals),
over the window ending at the brand's watermark, so a burst is judged within the batch it
arrives in. Baselines learn one sample per closed minute, once ``settle_minutes`` more have
passed (late events fill it meanwhile): the signal over the window that ended there;
outliers are set aside (``alerts.baseline``).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from socialpulse.agents.counters import C, N
from socialpulse.agents.state import ALL, WINDOWS, BrandState
from socialpulse.alerts.baseline import Baseline, binomial_low_threshold, binomial_threshold
from socialpulse.alerts.evidence import Evidence
from socialpulse.alerts.lifecycle import Check, Lifecycle
from socialpulse.alerts.model import Alert
from socialpulse.alerts.rules import Tuning

TOTAL = (ALL, ALL)
ENGAGEMENT = (C.likes, C.reactions, C.comments, C.shares, C.saves, C.clicks)
MAX_CATCH_UP = 180  # closed minutes learned at most per evaluation (after a long gap)

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
#: running window totals of the KPI state, by length in minutes
RUNNING = {minutes: name for name, minutes in WINDOWS.items()}


def window(bs: BrandState, end: int, minutes: int) -> Window:
    """The brand's totals over ``minutes`` minutes ending with minute ``end``."""
    total = [0.0] * N
    for minute in range(end - minutes + 1, end + 1):
        groups = bs.buckets.get(minute)
        vec = groups.get(TOTAL) if groups else None
        if vec is not None:
            for i in USED:
                total[i] += vec[i]
    return Window(total)


def current_window(bs: BrandState, minutes: int) -> Window:
    """The window ending at the watermark: the state's running totals when it keeps one."""
    name = RUNNING.get(minutes)
    if name is not None:
        vec = bs.totals[name].get(TOTAL)
        return Window(list(vec) if vec is not None else [0.0] * N)
    return window(bs, int((bs.watermark or 0) // 60), minutes)


@dataclass
class Watch:
    """What the detectors keep per brand."""

    baselines: dict[str, Baseline]
    closed: int | None = None  # last minute learned
    platform_last: dict[str, float] = field(default_factory=dict)  # event time
    platform_minutes: dict[str, deque[tuple[int, int]]] = field(default_factory=dict)
    arrived: float = 0.0  # wall clock of the last event


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

    def observe(self, events: Iterable[dict[str, Any]]) -> None:
        """Remember what the detectors need of a batch's counted events."""
        now = self.clock()
        per_platform: Counter[tuple[str, str, int]] = Counter()
        for ev in events:
            brand = ev["brand"]
            self.evidence.add(brand, ev)
            watch = self._watch(brand)
            watch.arrived = now
            platform = ev["platform"]
            if ev["ts"] > watch.platform_last.get(platform, float("-inf")):
                watch.platform_last[platform] = ev["ts"]
            per_platform[(brand, platform, int(ev["ts"] // 60))] += 1
        for (brand, platform, minute), n in per_platform.items():
            ring = self._watch(brand).platform_minutes.setdefault(platform, deque(maxlen=90))
            ring.append((minute, n))

    def forget(self, brands: Iterable[str]) -> None:
        gone = set(brands)
        for brand in gone:
            self.watches.pop(brand, None)
        self.lifecycle.forget(gone)
        self.evidence.forget(gone)

    # -- evaluation -----------------------------------------------------------------------
    def evaluate(self, brand: str, bs: BrandState) -> list[Alert]:
        """Learn the minutes closed since the last call, then check every rule."""
        if bs.watermark is None:
            return []
        watch = self._watch(brand)
        wm = bs.watermark
        current = int(wm // 60)
        self._learn(watch, bs, current)
        t = self.tuning
        now_window = current_window(bs, t.window_minutes)
        paid = current_window(bs, t.paid_window_minutes)
        checks = {
            "negative_sentiment": self._negative_sentiment(
                brand, watch, now_window, window(bs, current, 2), wm
            ),
            "negative_exposure": self._negative_exposure(brand, watch, now_window, wm),
            "mention_spike": self._mention_spike(brand, watch, now_window, wm),
            "engagement_collapse": self._engagement_collapse(brand, watch, now_window),
            "cpa_surge": self._cpa_surge(brand, watch, paid),
            "spend_without_conversions": self._spend_without_conversions(brand, watch, bs, current),
            "source_silence": self._platform_silence(brand, watch, wm),
        }
        out = []
        for rule, check in checks.items():
            alert = self.lifecycle.step(brand, rule, wm, check)
            if alert is not None:
                out.append(alert)
        return out

    def check_silence(self, states: dict[str, BrandState]) -> list[Alert]:
        """Brands whose producers stopped sending altogether, by the wall clock."""
        now = self.clock()
        out = []
        for brand, watch in list(self.watches.items()):
            bs = states.get(brand)
            if bs is None or bs.watermark is None:
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
                alert = self.lifecycle.step(brand, "source_silence", bs.watermark, check)
                if alert is not None:
                    out.append(alert)
        return out

    def _learn(self, watch: Watch, bs: BrandState, current: int) -> None:
        t = self.tuning
        if watch.closed is None:  # first sight: learn every closed minute the state holds
            watch.closed = min(bs.buckets, default=current) - 1
        last = current - 1 - t.settle_minutes  # minutes still filling with late events wait
        first = max(watch.closed + 1, last - MAX_CATCH_UP)
        b = watch.baselines
        for minute in range(first, last + 1):
            w = window(bs, minute, t.window_minutes)
            n = w[C.sentiment_events]
            if n >= max(5, t.min_sentiment_events // 2):
                _learn(b["share"], w[C.negative] / n, 0.05)
            _learn(b["exposure"], w[C.negative_exposure], max(0.5 * b["exposure"].mean, 1000))
            _learn(b["mentions"], w[C.mentions], _poisson(b["mentions"].mean))
            _learn(b["impressions"], w[C.impressions], _poisson(b["impressions"].mean))
            if w[C.impressions] >= t.min_impressions:
                _learn(b["rate"], w.engagements / w[C.impressions], 0.1 * b["rate"].mean)
            p = window(bs, minute, t.paid_window_minutes)
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
        judged = []
        for win in (w, short):
            n = int(win[C.sentiment_events])
            share = win.share_negative()
            threshold = max(binomial_threshold(n, p0), base.mean + t.negative_share_rise)
            if above is not None:
                threshold = min(threshold, above) if base.ready else above
            fire = (
                share is not None
                and n >= t.min_sentiment_events
                and (base.ready or above is not None)
                and share >= threshold
            )
            judged.append((fire, share, threshold))
        fire, share, threshold = judged[1] if judged[1][0] and not judged[0][0] else judged[0]
        # back to normal: a share the baseline gives one time in a hundred, at most
        n = int(w[C.sentiment_events])
        clear_at = max(
            base.mean + t.negative_share_rise / 2,
            binomial_threshold(n, min(max(base.mean, 0.02), 0.95), 0.01),
        )
        if above is not None:
            clear_at = min(clear_at, 0.9 * above)
        long_share = judged[0][1]
        severity = "critical" if share is not None and share - base.mean >= 0.3 else "warning"
        return Check(
            fire=fire,
            clear=long_share is None
            or w[C.sentiment_events] < t.min_sentiment_events
            or long_share < clear_at,
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

    def _spend_without_conversions(
        self, brand: str, watch: Watch, bs: BrandState, current: int
    ) -> Check:
        """Spend since the last conversion, when that many minutes usually bring 10."""
        t = self.tuning
        base = watch.baselines["conversions"]
        per_minute = base.mean / t.paid_window_minutes if base.ready else 0.0
        spend, dry = 0.0, 0
        for minute in range(current, current - 4 * t.paid_window_minutes, -1):
            groups = bs.buckets.get(minute)
            vec = groups.get(TOTAL) if groups else None
            if vec is not None and vec[C.conversions]:
                break
            if vec is not None:
                spend += vec[C.spend]
            dry += 1
        expected = per_minute * dry  # conversions these minutes usually bring
        above = self._limit(brand, "spend_without_conversions", "above")
        usual = base.ready and base.mean >= t.min_conversions_usual
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
