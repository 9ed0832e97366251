"""Prometheus exposition of the KPI state: a custom collector evaluated at scrape time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from socialpulse.agents.counters import C
from socialpulse.agents.kpis import CATALOGUE, GOAL_KPIS, POLARITIES, Context
from socialpulse.agents.state import ALL, WINDOWS, BrandState, Group, KpiState

WINDOW_LABELS = ["brand", "platform", "campaign", "window"]


class KpiCollector(Collector):
    """Yields every window KPI of every brand in ``state`` as gauges (KPIS.md names).

    ``competitor_groups`` (group name -> brands) bound share of voice; with none
    configured, every brand this worker holds forms one group. ``goals`` (brand -> goal)
    drive ``socialpulse_headline_kpi``.
    """

    def __init__(
        self,
        state: KpiState,
        competitor_groups: Mapping[str, Sequence[str]] | None = None,
        goals: Mapping[str, str] | None = None,
    ) -> None:
        self.state = state
        self.competitor_groups = {k: list(v) for k, v in (competitor_groups or {}).items()}
        self.goals = dict(goals or {})

    def peers(self, brand: str) -> list[str] | None:
        """The brands whose mentions make up ``brand``'s share of voice."""
        if not self.competitor_groups:
            return list(self.state.brands)
        for members in self.competitor_groups.values():
            if brand in members:
                return members
        return None

    def context(self, brand: str, bs: BrandState, window: str, group: Group) -> Context:
        platform, campaign = group
        followers = bs.followers_total(platform if campaign == ALL else ALL)
        voice = None
        peers = self.peers(brand) if campaign == ALL else None
        if peers is not None:
            voice = 0.0
            for peer in peers:
                other = self.state.brands.get(peer)
                totals = other.totals[window].get(group) if other else None
                if totals is not None:
                    voice += totals[C.mentions]
        return Context(followers=followers, voice=voice)

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
                for group, totals in list(bs.totals[window].items()):
                    labels = [brand, group[0], group[1], window]
                    ctx = self.context(brand, bs, window, group)
                    for kpi in CATALOGUE:
                        value = kpi.compute(totals, ctx)
                        if value is not None:
                            families[kpi.name].add_metric(labels, value)
                    for name, idx in POLARITIES:
                        polarity.add_metric([*labels, name], totals[idx])
        yield from families.values()
        yield polarity
        yield watermark
        yield self.headlines()

    def headlines(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "socialpulse_headline_kpi",
            "1 for each headline KPI (at most six) of the brand's configured goal.",
            labels=["brand", "goal", "kpi"],
        )
        for brand, goal in sorted(self.goals.items()):
            for kpi in GOAL_KPIS.get(goal, ()):
                family.add_metric([brand, goal, kpi], 1.0)
        return family
