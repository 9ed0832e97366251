"""Prometheus exposition of the KPI state: a custom collector evaluated at scrape time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from socialpulse.agents.counters import C
from socialpulse.agents.exposition import GaugeRows
from socialpulse.agents.kpis import (
    CATALOGUE,
    GOAL_KPIS,
    POLARITIES,
    Context,
    program_scores,
    ratio,
    two_proportion_p_value,
)
from socialpulse.agents.rankings import DEMOGRAPHICS, FAMILY_WINDOWS
from socialpulse.agents.settings import FileConfig
from socialpulse.agents.state import ALL, VARIANT, VARIANT_SEP, WINDOWS, BrandState, Group, KpiState

WINDOW_LABELS = ["brand", "platform", "campaign", "window"]
TOP_N = 10
DEMOGRAPHIC_TOP_N = 20

#: ranked family -> (metric, help, label of the ranked key)
RANKED = {
    "amplifier": (
        "socialpulse_top_amplifier_reach",
        "Top 10 authors by Σ followers over their shares and mentions.",
        "author",
    ),
    "hashtag": ("socialpulse_top_hashtag_mentions", "Top 10 hashtags by events.", "hashtag"),
    "advocate": (
        "socialpulse_top_advocate_score",
        "Top 10 authors by Σ followers × sentiment over positive events.",
        "author",
    ),
    "detractor": (
        "socialpulse_top_detractor_score",
        "Top 10 authors by Σ followers × (−sentiment) over negative events.",
        "author",
    ),
}


class KpiCollector(Collector):
    """Yields every KPI of every brand in ``state`` as gauges (docs/kpis.md names).

    ``config`` gives competitor groups (share of voice; with none configured every brand
    this worker holds forms one group), goals (headline KPIs), campaign objectives and
    program-score weights. ``timezone`` is the zone of the best-time-to-post hours.
    """

    def __init__(
        self, state: KpiState, config: FileConfig | None = None, timezone: str = "UTC"
    ) -> None:
        self.state = state
        self.config = config or FileConfig()
        self.timezone = timezone

    def voice_group(self, brand: str) -> str | None:
        """The competitor group whose mentions make up ``brand``'s share of voice (``""``
        with no group configured: every brand this worker holds), None in no group."""
        if not self.config.competitor_groups:
            return ""
        for name, members in self.config.competitor_groups.items():
            if brand in members:
                return name
        return None

    def members(self, group: str) -> Iterable[str]:
        """The brands of a competitor group named by ``voice_group``."""
        return self.state.brands if group == "" else self.config.competitor_groups[group]

    def context(
        self,
        brand: str,
        bs: BrandState,
        window: str,
        group: Group,
        followers: Mapping[str, float | None],
        voices: dict[tuple[str, str, Group], float],
    ) -> Context:
        """What ``group``'s KPIs need beyond its totals. ``followers`` are the brand's
        follower totals by platform (``ALL`` for their sum) and ``voices`` the mentions of
        a competitor group in a window and label group, summed once per scrape."""
        platform, campaign = group
        voice = None
        if campaign == ALL:
            name = self.voice_group(brand)
            if name is not None:
                key = (name, window, group)
                voice = voices.get(key)
                if voice is None:
                    voice = voices[key] = self.voice(self.members(name), window, group)
        return Context(
            followers=followers.get(platform if campaign == ALL else ALL),
            voice=voice,
            reach_scale=self.state.distinct_scale(bs, C.reach, group),
            visitor_scale=self.state.distinct_scale(bs, C.visitors, group),
            requester_scale=self.state.distinct_scale(bs, C.requesters, group),
        )

    def voice(self, peers: Iterable[str], window: str, group: Group) -> float:
        """The mentions of ``peers`` in ``window`` under the labels ``group``."""
        voice = 0.0
        for peer in peers:
            other = self.state.brands.get(peer)
            totals = other.totals[window].get(group) if other else None
            if totals is not None:
                voice += totals[C.mentions]
        return voice

    def collect(self) -> Iterator[Metric]:
        families = {
            kpi.name: GaugeRows(kpi.metric, kpi.formula, labels=WINDOW_LABELS) for kpi in CATALOGUE
        }
        polarity = GaugeRows(
            "socialpulse_sentiment_events",
            "Events by sentiment polarity: > 0.05 positive, < -0.05 negative, else neutral.",
            labels=[*WINDOW_LABELS, "polarity"],
        )
        watermark = GaugeRows(
            "socialpulse_watermark_seconds",
            "The brand's watermark (its latest event time, or the minimum over the "
            "partitions carrying it), epoch seconds.",
            labels=["brand"],
        )
        # (compute, the family's row list's append), with the label values of a row kept
        # as one tuple shared by its KPIs: the renderer writes its labels once per scrape
        kpis = [(kpi.compute, families[kpi.name].rows.append) for kpi in CATALOGUE]
        add_polarity = polarity.rows.append
        add_followers = families["followers"].rows.append
        voices: dict[tuple[str, str, Group], float] = {}
        for brand, bs in list(self.state.brands.items()):
            if bs.watermark is None:
                continue
            watermark.add_metric([brand], bs.watermark)
            followers: dict[str, float | None] = {ALL: bs.followers_total()}
            followers |= {p: bs.followers_total(p) for p in bs.followers}
            for window in WINDOWS:
                followers_rows = {(ALL, ALL), *((p, ALL) for p in bs.followers)}
                for group, totals in list(bs.totals[window].items()):
                    # a row exists while something was counted for it in the window, so
                    # the rows do not depend on the order events arrived in
                    if group[0] == VARIANT or not any(totals):
                        continue
                    followers_rows.discard(group)
                    labels = (brand, group[0], group[1], window)
                    ctx = self.context(brand, bs, window, group, followers, voices)
                    for compute, add in kpis:
                        value = compute(totals, ctx)
                        if value is not None:
                            add((labels, value))
                    for name, idx in POLARITIES:
                        add_polarity(((*labels, name), totals[idx]))
                # followers are a level, not a window count: shown for every platform
                # with a snapshot, whether or not the window counted anything for it
                for platform, campaign in sorted(followers_rows):
                    total = followers.get(platform)
                    if total is not None:
                        add_followers(((brand, platform, campaign, window), total))
        yield from families.values()
        yield polarity
        yield watermark
        yield self.headlines()
        yield from self.rankings()
        yield self.demographics()
        yield self.hourly()
        yield from self.ab_tests()
        yield self.program_scores()

    def headlines(self) -> GaugeRows:
        family = GaugeRows(
            "socialpulse_headline_kpi",
            "1 for each headline KPI (at most six) of the brand's configured goal.",
            labels=["brand", "goal", "kpi"],
        )
        for brand, config in sorted(self.config.brands.items()):
            for kpi in GOAL_KPIS.get(config.goal or "", ()):
                family.add_metric([brand, config.goal or "", kpi], 1.0)
        return family

    def rankings(self) -> Iterator[GaugeRows]:
        for name, (metric, help_text, key_label) in RANKED.items():
            family = GaugeRows(metric, help_text, labels=["brand", "window", "rank", key_label])
            (window,) = FAMILY_WINDOWS[name]
            for brand, bs in list(self.state.brands.items()):
                for rank, (key, value) in enumerate(bs.rankings.top(name, window, TOP_N), 1):
                    family.add_metric([brand, window, str(rank), key], value)
            yield family

    def demographics(self) -> GaugeRows:
        family = GaugeRows(
            "socialpulse_audience_impressions",
            "Impressions by location, age band and gender: top 20 values, the rest as other.",
            labels=["brand", "window", "dimension", "value"],
        )
        for brand, bs in list(self.state.brands.items()):
            for dimension in DEMOGRAPHICS:
                for window in FAMILY_WINDOWS[dimension]:
                    ranked = bs.rankings.top(dimension, window, 10**9)
                    for key, value in ranked[:DEMOGRAPHIC_TOP_N]:
                        family.add_metric([brand, window, dimension, key], value)
                    rest = sum(v for _, v in ranked[DEMOGRAPHIC_TOP_N:])
                    if rest:
                        family.add_metric([brand, window, dimension, "other"], rest)
        return family

    def hourly(self) -> GaugeRows:
        family = GaugeRows(
            "socialpulse_hourly_engagement_rate_ratio",
            "Engagement rate (engagements / impressions) by hour of day over the last 7 days.",
            labels=["brand", "hour"],
        )
        for brand, bs in list(self.state.brands.items()):
            if bs.watermark is None:
                continue
            rates = bs.hourly.rates(int(bs.watermark // 3600), self.timezone)
            for hour, rate in sorted(rates.items()):
                family.add_metric([brand, str(hour)], rate)
        return family

    def ab_tests(self) -> Iterator[GaugeRows]:
        rates = GaugeRows(
            "socialpulse_variant_conversion_rate_ratio",
            "Conversion rate (conversions / clicks) of each A/B variant of a campaign.",
            labels=["brand", "campaign", "variant", "window"],
        )
        p_values = GaugeRows(
            "socialpulse_ab_p_value",
            "Two-proportion z-test p-value between the campaign's two variants with most clicks.",
            labels=["brand", "campaign", "window"],
        )
        for brand, bs in list(self.state.brands.items()):
            for window in WINDOWS:
                by_campaign: dict[str, list[tuple[str, float, float]]] = {}
                for (platform, key), totals in list(bs.totals[window].items()):
                    if platform != VARIANT or not any(totals):
                        continue
                    campaign, _, variant = key.partition(VARIANT_SEP)
                    clicks, conversions = totals[C.clicks], totals[C.conversions]
                    rate = ratio(conversions, clicks)
                    if rate is not None:
                        rates.add_metric([brand, campaign, variant, window], rate)
                    by_campaign.setdefault(campaign, []).append((variant, clicks, conversions))
                for campaign, variants in by_campaign.items():
                    leading = sorted(variants, key=lambda v: (-v[1], v[0]))[:2]
                    if len(leading) == 2:
                        (_, n1, c1), (_, n2, c2) = leading
                        p = two_proportion_p_value(c1, n1, c2, n2)
                        if p is not None:
                            p_values.add_metric([brand, campaign, window], p)
        yield rates
        yield p_values

    def program_scores(self) -> GaugeRows:
        family = GaugeRows(
            "socialpulse_program_score",
            "Weighted sum of reach, shares and revenue, each normalised by the brand's best "
            "campaign, with the weights of the campaign's objective.",
            labels=["brand", "campaign", "objective", "window"],
        )
        for brand, bs in list(self.state.brands.items()):
            for window in WINDOWS:
                measures = {
                    campaign: {
                        "reach": t[C.reach]
                        * self.state.distinct_scale(bs, C.reach, (ALL, campaign)),
                        "shares": t[C.shares],
                        "revenue": t[C.revenue],
                    }
                    for (platform, campaign), t in list(bs.totals[window].items())
                    if platform == ALL and campaign != ALL and any(t)
                }
                if not measures:
                    continue
                objectives = {c: self.config.objective(brand, c) for c in measures}
                scores = program_scores(measures, self.config.objective_weights, objectives)
                for campaign, score in scores.items():
                    family.add_metric([brand, campaign, objectives[campaign], window], score)
        return family
