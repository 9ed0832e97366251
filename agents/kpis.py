"""The KPI catalogue: each KPI's metric name, formula and help, as pure functions.

Every window KPI is a function of one window's counter totals (``counters.C``). A ratio
whose denominator is zero yields ``None`` and is not exported (docs/kpis.md). The metric
table of docs/kpis.md is generated from ``CATALOGUE`` (``make docs``), so it cannot drift
from the code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from socialpulse.agents.counters import C

Totals = Sequence[float]


@dataclass(frozen=True, slots=True)
class Context:
    """What a window KPI needs beyond its own counters."""

    followers: float | None = None  # the follower total of the row (brand or platform)
    voice: float | None = None  # mentions of every brand in the competitor group
    # what one counted author stands for in the sampled distinct counts (1 while exact)
    reach_scale: int = 1
    visitor_scale: int = 1
    requester_scale: int = 1


NO_CONTEXT = Context()


def ratio(num: float, den: float) -> float | None:
    """``num / den``, or None when the denominator is zero (or below)."""
    return num / den if den > 0 else None


def engagements(t: Totals, x: Context | None = None) -> float:
    """Σ count of like, reaction, comment, share, save, click."""
    return t[C.likes] + t[C.reactions] + t[C.comments] + t[C.shares] + t[C.saves] + t[C.clicks]


def net_sentiment(t: Totals, x: Context | None = None) -> float | None:
    """(positive − negative) / (positive + negative)."""
    return ratio(t[C.positive] - t[C.negative], t[C.positive] + t[C.negative])


def nps(t: Totals, x: Context | None = None) -> float | None:
    """% promoters − % detractors, in [−100, 100]."""
    share = ratio(t[C.nps_promoters] - t[C.nps_detractors], t[C.nps_answers])
    return None if share is None else 100.0 * share


def net_follows(t: Totals) -> float:
    """follows − unfollows."""
    return t[C.follows] - t[C.unfollows]


def audience_growth(t: Totals, x: Context) -> float | None:
    """(follows − unfollows) / followers at window start (now minus the window's net)."""
    if x.followers is None:
        return None
    return ratio(net_follows(t), x.followers - net_follows(t))


def per_follower(num: int) -> Callable[[Totals, Context], float | None]:
    return lambda t, x: None if x.followers is None else ratio(t[num], x.followers)


def cost_per_mille(t: Totals, x: Context | None = None) -> float | None:
    """spend / impressions × 1000."""
    cpm = ratio(t[C.spend], t[C.impressions])
    return None if cpm is None else 1000.0 * cpm


@dataclass(frozen=True, slots=True)
class Kpi:
    """One window gauge: ``socialpulse_<name>{brand,platform,campaign,window}``."""

    name: str
    formula: str
    compute: Callable[[Totals, Context], float | None]

    @property
    def metric(self) -> str:
        return f"socialpulse_{self.name}"


CATALOGUE: Final[tuple[Kpi, ...]] = (
    Kpi("impressions", "Σ count of impression + view", lambda t, x: t[C.impressions]),
    Kpi(
        "reach",
        "distinct author.id over impression + view (adaptive-sampling sketch, exact to 16,384)",
        lambda t, x: t[C.reach] * x.reach_scale,
    ),
    Kpi("engagements", "Σ count of like, reaction, comment, share, save, click", engagements),
    Kpi(
        "engagement_rate_ratio",
        "engagements / impressions",
        lambda t, x: ratio(engagements(t), t[C.impressions]),
    ),
    Kpi(
        "engagement_rate_by_reach_ratio",
        "engagements / reach",
        lambda t, x: ratio(engagements(t), t[C.reach] * x.reach_scale),
    ),
    Kpi(
        "engagement_rate_by_followers_ratio",
        "engagements / followers",
        lambda t, x: None if x.followers is None else ratio(engagements(t), x.followers),
    ),
    Kpi(
        "followers",
        "latest followers snapshot summed over platforms, plus follows − unfollows after it",
        lambda t, x: x.followers,
    ),
    Kpi(
        "audience_growth_ratio",
        "(follows − unfollows) / followers at window start",
        audience_growth,
    ),
    Kpi(
        "click_through_ratio",
        "clicks / impressions",
        lambda t, x: ratio(t[C.clicks], t[C.impressions]),
    ),
    Kpi(
        "applause_ratio",
        "(likes + reactions) / followers",
        lambda t, x: (
            None if x.followers is None else ratio(t[C.likes] + t[C.reactions], x.followers)
        ),
    ),
    Kpi("amplification_ratio", "shares / followers", per_follower(C.shares)),
    Kpi(
        "virality_ratio", "shares / impressions", lambda t, x: ratio(t[C.shares], t[C.impressions])
    ),
    Kpi("mentions", "Σ count of mention", lambda t, x: t[C.mentions]),
    Kpi(
        "share_of_voice_ratio",
        "brand mentions / mentions of all brands in its competitor group",
        lambda t, x: None if x.voice is None else ratio(t[C.mentions], x.voice),
    ),
    Kpi(
        "sentiment_mean",
        "mean sentiment over events with text or given sentiment",
        lambda t, x: ratio(t[C.sentiment_sum], t[C.sentiment_events]),
    ),
    Kpi("net_sentiment_ratio", "(positive − negative) / (positive + negative)", net_sentiment),
    Kpi(
        "negative_exposure",
        "Σ author.followers × (−sentiment) over negative events",
        lambda t, x: t[C.negative_exposure],
    ),
    Kpi(
        "csat_ratio",
        "CSAT answers ≥ 4 / CSAT answers",
        lambda t, x: ratio(t[C.csat_satisfied], t[C.csat_answers]),
    ),
    Kpi("nps", "% promoters (9–10) − % detractors (0–6)", nps),
    Kpi("leads", "Σ count of lead", lambda t, x: t[C.leads]),
    Kpi("conversions", "Σ count of conversion", lambda t, x: t[C.conversions]),
    Kpi(
        "conversion_rate_ratio",
        "conversions / clicks",
        lambda t, x: ratio(t[C.conversions], t[C.clicks]),
    ),
    Kpi("revenue", "Σ value of conversion", lambda t, x: t[C.revenue]),
    Kpi("spend", "Σ value of ad_spend", lambda t, x: t[C.spend]),
    Kpi("cost_per_lead", "spend / leads", lambda t, x: ratio(t[C.spend], t[C.leads])),
    Kpi("cost_per_click", "spend / clicks", lambda t, x: ratio(t[C.spend], t[C.clicks])),
    Kpi("cost_per_mille", "spend / impressions × 1000", cost_per_mille),
    Kpi(
        "cost_per_acquisition",
        "spend / conversions",
        lambda t, x: ratio(t[C.spend], t[C.conversions]),
    ),
    Kpi("roas_ratio", "revenue / spend", lambda t, x: ratio(t[C.revenue], t[C.spend])),
    Kpi("bounce_ratio", "bounces / visits", lambda t, x: ratio(t[C.bounces], t[C.visits])),
    Kpi(
        "visit_seconds_mean",
        "mean value of visit",
        lambda t, x: ratio(t[C.visit_seconds], t[C.visits_timed]),
    ),
    Kpi(
        "repeat_visit_ratio",
        "(visits − distinct visitors) / visits",
        lambda t, x: ratio(max(t[C.visits] - t[C.visitors] * x.visitor_scale, 0.0), t[C.visits]),
    ),
    Kpi(
        "service_requests_per_customer",
        "service requests / distinct requesting authors",
        lambda t, x: ratio(t[C.service_requests], t[C.requesters] * x.requester_scale),
    ),
)

#: ``socialpulse_sentiment_events{polarity}``: counter index per polarity label
POLARITIES: Final = (("positive", C.positive), ("negative", C.negative), ("neutral", C.neutral))

#: the headline KPIs (at most six) a brand's goal puts first on the boards (docs/kpis.md)
GOAL_KPIS: Final[dict[str, tuple[str, ...]]] = {
    "awareness": (
        "impressions",
        "reach",
        "mentions",
        "share_of_voice_ratio",
        "amplification_ratio",
        "virality_ratio",
    ),
    "reputation": (
        "net_sentiment_ratio",
        "csat_ratio",
        "nps",
        "applause_ratio",
        "amplification_ratio",
        "negative_exposure",
    ),
    "community": (
        "audience_growth_ratio",
        "engagement_rate_ratio",
        "applause_ratio",
        "amplification_ratio",
        "click_through_ratio",
        "bounce_ratio",
    ),
    "conversion": (
        "conversion_rate_ratio",
        "click_through_ratio",
        "bounce_ratio",
        "cost_per_click",
        "cost_per_mille",
        "roas_ratio",
    ),
    "leads": ("leads", "cost_per_lead", "conversion_rate_ratio", "click_through_ratio"),
    "service": ("csat_ratio", "service_requests_per_customer", "net_sentiment_ratio"),
    "crisis": ("net_sentiment_ratio", "negative_exposure", "mentions", "engagement_rate_ratio"),
}


def two_proportion_p_value(c1: float, n1: float, c2: float, n2: float) -> float | None:
    """Two-sided p-value of the two-proportion z-test of c1/n1 against c2/n2 (pooled)."""
    if n1 <= 0 or n2 <= 0 or not (0 <= c1 <= n1 and 0 <= c2 <= n2):
        return None
    pooled = (c1 + c2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (c1 / n1 - c2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


PROGRAM_MEASURES: Final = ("reach", "shares", "revenue")


def program_scores(
    measures: dict[str, dict[str, float]],
    weights: dict[str, dict[str, float]],
    objectives: dict[str, str],
) -> dict[str, float]:
    """Score per campaign: Σ weight × measure / the largest value of it among the campaigns.

    ``measures``: campaign -> {reach, shares, revenue}; ``objectives``: campaign -> objective;
    ``weights``: objective -> {reach, shares, revenue}.
    """
    tops = {m: max((v[m] for v in measures.values()), default=0.0) for m in PROGRAM_MEASURES}
    scores = {}
    for campaign, values in measures.items():
        w = weights[objectives[campaign]]
        scores[campaign] = sum(
            w.get(m, 0.0) * (values[m] / tops[m] if tops[m] > 0 else 0.0) for m in PROGRAM_MEASURES
        )
    return scores
