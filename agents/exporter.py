"""Prometheus exposition of the KPI state: a custom collector evaluated at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from socialpulse.agents.kpis import CATALOGUE, POLARITIES
from socialpulse.agents.state import WINDOWS, KpiState

WINDOW_LABELS = ["brand", "platform", "campaign", "window"]


class KpiCollector(Collector):
    """Yields every window KPI of every brand in ``state`` as gauges (KPIS.md names)."""

    def __init__(self, state: KpiState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        families = {
            kpi.name: GaugeMetricFamily(kpi.metric, kpi.formula, labels=WINDOW_LABELS)
            for kpi in CATALOGUE
        }
        polarity = GaugeMetricFamily(
            "socialpulse_sentiment_events",
            "Events by sentiment polarity: > 0.05 positive, < -0.05 negative, else neutral.",
            labels=[*WINDOW_LABELS, "polarity"],
        )
        watermark = GaugeMetricFamily(
            "socialpulse_watermark_seconds",
            "The brand's watermark: its latest event time, epoch seconds.",
            labels=["brand"],
        )
        for brand, bs in list(self.state.brands.items()):
            if bs.watermark is None:
                continue
            watermark.add_metric([brand], bs.watermark)
            for window in WINDOWS:
                for (platform, campaign), totals in list(bs.totals[window].items()):
                    labels = [brand, platform, campaign, window]
                    for kpi in CATALOGUE:
                        value = kpi.compute(totals)
                        if value is not None:
                            families[kpi.name].add_metric(labels, value)
                    for name, idx in POLARITIES:
                        polarity.add_metric([*labels, name], totals[idx])
        yield from families.values()
        yield polarity
        yield watermark
