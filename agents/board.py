"""The live board's data: one JSON document (``/api/board``) the page at ``/`` polls.

The worker fills it from what its ``/metrics`` page already exports (the registry: KPI
gauges, pipeline counters, consumer lag), the KPI state's one-minute buckets (the time
series over the last hour, as the alert detectors read them) and the alert engine's
firing alerts with their evidence. ``board_prometheus`` fills the same document from a
Prometheus server, so the page (``board_page``) does not know which one it talks to.

The document::

    {"source": "worker" | "prometheus", "now": epoch s,
     "brands": [{"brand", "goal", "kpis": {kpi: value}, "headline": [kpi, ...],
                 "firing": n}],
     "series": {"window": "5m", "t": [epoch s, ...], "kpis": {kpi: {brand: [v | null]}}},
     "alerts": {"firing": [alert], "markers": [{"t", "brand", "rule", "severity", "state"}]},
     "pipeline": {"t": [...], "events_per_s": [...], "messages_per_s": [...], "lag": [...],
                  "dead_letters": {reason: total}, "broker_up": 0 | 1 | null}}
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from socialpulse.agents.counters import N
from socialpulse.agents.kpis import CATALOGUE, NO_CONTEXT, Kpi
from socialpulse.agents.state import ALL, BrandState
from socialpulse.alerts.model import Alert
from socialpulse.alerts.rules import RULES

#: the charts: each a KPI over a rolling window of SERIES_WIDTH minutes, one point a minute
SERIES_KPIS = (
    "mentions",
    "impressions",
    "engagements",
    "engagement_rate_ratio",
    "sentiment_mean",
    "negative_exposure",
)
SERIES_WIDTH = 5  # minutes: the "5m" window of the gauges
SERIES_WINDOW = "5m"
HISTORY_MINUTES = 60
#: the cards of a brand without a goal (a goal's headline KPIs replace them)
DEFAULT_CARDS = (
    "mentions",
    "impressions",
    "engagement_rate_ratio",
    "net_sentiment_ratio",
    "sentiment_mean",
    "negative_exposure",
)
#: every KPI a card may show: the defaults and any goal's headline KPIs
CARD_WINDOW = "1h"
PIPELINE_EVERY = 5.0  # seconds between pipeline snapshots
PIPELINE_KEEP = int(3600 / PIPELINE_EVERY)  # an hour of them
MARKERS_KEEP = 200
CACHE_SECONDS = 2.0  # one document serves every page that polls within this time

_KPIS: dict[str, Kpi] = {kpi.name: kpi for kpi in CATALOGUE}
TOTAL = (ALL, ALL)


def minute_totals(bs: BrandState, first: int, last: int) -> list[list[float] | None]:
    """The brand's all-platform totals for each minute ``first..last`` (event time): a
    minute without a bucket counts zero up to the watermark, and is None after it."""
    end = bs.wm_minute
    out: list[list[float] | None] = []
    for minute in range(first, last + 1):
        if end is None or minute > end:
            out.append(None)
            continue
        groups = bs.buckets.get(minute)
        vec = groups.get(TOTAL) if groups else None
        out.append(list(vec) if vec is not None else [0.0] * N)
    return out


def rolling_kpis(
    minutes: list[list[float] | None], width: int, names: Iterable[str], keep: int
) -> dict[str, list[float | None]]:
    """Each KPI of ``names`` over the ``width`` minutes ending at each of the last ``keep``
    entries of ``minutes`` (the window gauge's value at that minute); None where the
    minute is past the watermark or the KPI is undefined (a zero denominator)."""
    series: dict[str, list[float | None]] = {name: [] for name in names}
    for i in range(len(minutes) - keep, len(minutes)):
        if minutes[i] is None:
            for values in series.values():
                values.append(None)
            continue
        acc = [0.0] * N
        for vec in minutes[max(0, i - width + 1) : i + 1]:
            if vec is not None:
                for j, v in enumerate(vec):
                    acc[j] += v
        for name, values in series.items():
            value = _KPIS[name].compute(acc, NO_CONTEXT)
            values.append(None if value is None else round(float(value), 6))
    return series


def brand_series(
    brands: Mapping[str, BrandState],
    names: Iterable[str] = SERIES_KPIS,
    history: int = HISTORY_MINUTES,
    width: int = SERIES_WIDTH,
) -> dict[str, Any]:
    """The chart series of every brand, on one axis of minutes ending at the latest
    watermark: each point is the window of ``width`` minutes ending then."""
    names = tuple(names)
    ends = [bs.wm_minute for bs in brands.values() if bs.wm_minute is not None]
    if not ends:
        return {"window": SERIES_WINDOW, "t": [], "kpis": {name: {} for name in names}}
    last = max(ends)
    first = last - history + 1
    kpis: dict[str, dict[str, list[float | None]]] = {name: {} for name in names}
    for brand, bs in sorted(brands.items()):
        if bs.wm_minute is None:
            continue
        minutes = minute_totals(bs, first - width + 1, last)
        for name, values in rolling_kpis(minutes, width, names, history).items():
            kpis[name][brand] = values
    # each point at the end of its window; the last (the minute under way) at the watermark
    newest = max(bs.watermark or 0.0 for bs in brands.values())
    axis = [60.0 * (m + 1) for m in range(first, last + 1)]
    axis[-1] = min(axis[-1], max(newest, 60.0 * last + 1))
    return {"window": SERIES_WINDOW, "t": axis, "kpis": kpis}


def alert_view(alert: Alert | Mapping[str, Any]) -> dict[str, Any]:
    """An alert as the page shows it: the topic's fields plus the rule's description."""
    body = dict(alert.to_dict() if isinstance(alert, Alert) else alert)
    rule = RULES.get(str(body.get("rule")))
    body.setdefault("summary", "")
    if not body["summary"] and rule is not None:
        body["summary"] = rule.summary
    body["signal"] = rule.signal if rule is not None else ""
    return body


Samples = dict[str, list[tuple[dict[str, str], float]]]


def read_samples(registry: CollectorRegistry, names: Iterable[str]) -> Samples:
    """The samples of ``names`` in ``registry`` (only the collectors that export them run)."""
    wanted = set(names)
    out: Samples = {name: [] for name in wanted}
    for family in registry.restricted_registry(sorted(wanted)).collect():
        for sample in family.samples:
            if sample.name in wanted:
                out[sample.name].append((dict(sample.labels), float(sample.value)))
    return out


def brand_cards(
    kpi_samples: Samples, headline: Iterable[tuple[dict[str, str], float]]
) -> dict[str, dict[str, Any]]:
    """Per brand: its goal, the KPIs of its cards and their values (the 1h window, every
    platform and campaign), from the gauges' samples (``socialpulse_<kpi>``) and
    ``socialpulse_headline_kpi``."""
    goals: dict[str, str] = {}
    headlines: dict[str, list[str]] = {}
    for labels, value in headline:
        if value:
            goals[labels["brand"]] = labels.get("goal", "")
            headlines.setdefault(labels["brand"], []).append(labels["kpi"])
    cards: dict[str, dict[str, Any]] = {}
    for metric, rows in kpi_samples.items():
        name = metric.removeprefix("socialpulse_")
        for labels, value in rows:
            if (
                labels.get("window") != CARD_WINDOW
                or labels.get("platform") != ALL
                or labels.get("campaign") != ALL
            ):
                continue
            card = cards.setdefault(labels["brand"], {"kpis": {}})
            card["kpis"][name] = value
    for brand, card in cards.items():
        card["brand"] = brand
        card["goal"] = goals.get(brand)
        card["headline"] = _ordered(headlines.get(brand)) or list(DEFAULT_CARDS)
    return cards


def _ordered(kpis: list[str] | None) -> list[str]:
    """Headline KPIs in catalogue order (the samples come in label order)."""
    if not kpis:
        return []
    order = {name: i for i, name in enumerate(_KPIS)}
    return sorted(set(kpis), key=lambda k: order.get(k, len(order)))


def card_metrics() -> list[str]:
    """The gauges any card may read: the defaults and every goal's headline KPIs."""
    from socialpulse.agents.kpis import GOAL_KPIS

    names = {*DEFAULT_CARDS, *(k for kpis in GOAL_KPIS.values() for k in kpis)}
    return sorted(f"socialpulse_{name}" for name in names if name in _KPIS)


@dataclass(frozen=True, slots=True)
class PipelinePoint:
    t: float
    events: float  # counter totals since the worker started
    messages: float
    lag: float
    dead_letters: dict[str, float]
    broker_up: float | None


def rates(points: list[PipelinePoint]) -> dict[str, list[float | None]]:
    """Per snapshot: events/s and messages/s since the previous one (None for the first,
    and after a counter reset), and the lag it saw."""
    out: dict[str, list[float | None]] = {"events_per_s": [], "messages_per_s": [], "lag": []}
    for i, p in enumerate(points):
        prev = points[i - 1] if i else None
        dt = p.t - prev.t if prev else 0.0
        for key, now, before in (
            ("events_per_s", p.events, prev.events if prev else None),
            ("messages_per_s", p.messages, prev.messages if prev else None),
        ):
            ok = before is not None and dt > 0 and now >= before
            out[key].append(round((now - before) / dt, 3) if ok and before is not None else None)
        out["lag"].append(p.lag)
    return out


PIPELINE_METRICS = (
    "socialpulse_events_total",
    "socialpulse_messages_total",
    "socialpulse_consumer_lag",
    "socialpulse_dead_letters_total",
    "socialpulse_broker_up",
)


class WorkerBoard:
    """The board of one worker: ``snapshot()`` on a timer keeps the pipeline ring and the
    alert markers; ``document()`` builds the page's JSON."""

    def __init__(
        self,
        registry: CollectorRegistry,
        brands: Callable[[], Mapping[str, BrandState]],
        firing: Callable[[], list[Alert]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.brands = brands
        self.firing = firing
        self.clock = clock
        self.points: deque[PipelinePoint] = deque(maxlen=PIPELINE_KEEP)
        self.markers: deque[dict[str, Any]] = deque(maxlen=MARKERS_KEEP)
        self._open: dict[str, dict[str, Any]] = {}  # alert id -> its firing marker
        self._cached: tuple[float, dict[str, Any]] | None = None

    def snapshot(self) -> None:
        """Record the pipeline counters now, and the alerts that fired or resolved since."""
        s = read_samples(self.registry, PIPELINE_METRICS)
        up = s["socialpulse_broker_up"]
        self.points.append(
            PipelinePoint(
                t=self.clock(),
                events=sum(v for _, v in s["socialpulse_events_total"]),
                messages=sum(v for _, v in s["socialpulse_messages_total"]),
                lag=sum(v for _, v in s["socialpulse_consumer_lag"]),
                dead_letters={
                    labels["reason"]: v for labels, v in s["socialpulse_dead_letters_total"]
                },
                broker_up=up[0][1] if up else None,
            )
        )
        self.track_alerts()

    def track_alerts(self) -> None:
        """A marker when an alert starts firing (at its event time) and when it is gone."""
        now = {a.id: a for a in self.firing()}
        for aid, alert in now.items():
            if aid not in self._open:
                marker = {
                    "t": alert.event_time,
                    "brand": alert.brand,
                    "rule": alert.rule,
                    "severity": alert.severity,
                    "state": "firing",
                }
                self._open[aid] = marker
                self.markers.append(marker)
        for aid in [aid for aid in self._open if aid not in now]:
            marker = self._open.pop(aid)
            brand = self.brands().get(marker["brand"])
            ended = brand.watermark if brand is not None and brand.watermark else self.clock()
            self.markers.append({**marker, "t": ended, "state": "resolved"})

    def cached_document(self, max_age: float = CACHE_SECONDS) -> dict[str, Any]:
        """``document()``, built at most once per ``max_age`` seconds: it costs about as
        much as a scrape of /metrics, and every open page polls it."""
        now = self.clock()
        if self._cached is None or not 0 <= now - self._cached[0] < max_age:
            self._cached = (now, self.document())
        return self._cached[1]

    def document(self) -> dict[str, Any]:
        if not self.points:
            self.snapshot()
        brands = dict(self.brands())
        firing = sorted(self.firing(), key=lambda a: (-a.event_time, a.brand, a.rule))
        self.track_alerts()
        kpi_samples = read_samples(self.registry, card_metrics())
        headline = read_samples(self.registry, ["socialpulse_headline_kpi"])
        cards = brand_cards(kpi_samples, headline["socialpulse_headline_kpi"])
        for alert in firing:
            card = cards.get(alert.brand)
            if card is not None:
                card["firing"] = card.get("firing", 0) + 1
        points = list(self.points)
        last = points[-1]
        return {
            "source": "worker",
            "now": self.clock(),
            "brands": [cards[b] for b in sorted(cards)],
            "series": brand_series(brands),
            "alerts": {
                "firing": [alert_view(a) for a in firing],
                "markers": list(self.markers),
            },
            "pipeline": {
                "t": [p.t for p in points],
                **rates(points),
                "dead_letters": last.dead_letters,
                "broker_up": last.broker_up,
            },
        }
