"""The KPI catalogue: each KPI's metric name, formula and help, as pure functions.

Every window KPI is a function of one window's counter totals (``counters.C``). A ratio
whose denominator is zero yields ``None`` and is not exported (KPIS.md). The README's
metric table is generated from ``CATALOGUE`` (``socialpulse metrics-doc``), so it cannot
drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from socialpulse.agents.counters import C

Totals = Sequence[float]


def ratio(num: float, den: float) -> float | None:
    """``num / den``, or None when the denominator is zero (or below)."""
    return num / den if den > 0 else None


def engagements(t: Totals) -> float:
    """Σ count of like, reaction, comment, share, save, click."""
    return t[C.likes] + t[C.reactions] + t[C.comments] + t[C.shares] + t[C.saves] + t[C.clicks]


def net_sentiment(t: Totals) -> float | None:
    """(positive − negative) / (positive + negative)."""
    return ratio(t[C.positive] - t[C.negative], t[C.positive] + t[C.negative])


def nps(t: Totals) -> float | None:
    """% promoters − % detractors, in [−100, 100]."""
    share = ratio(t[C.nps_promoters] - t[C.nps_detractors], t[C.nps_answers])
    return None if share is None else 100.0 * share


def cost_per_mille(t: Totals) -> float | None:
    """spend / impressions × 1000."""
    cpm = ratio(t[C.spend], t[C.impressions])
    return None if cpm is None else 1000.0 * cpm


@dataclass(frozen=True, slots=True)
class Kpi:
    """One window gauge: ``socialpulse_<name>{brand,platform,campaign,window}``."""

    name: str
    formula: str
    compute: Callable[[Totals], float | None]

    @property
    def metric(self) -> str:
        return f"socialpulse_{self.name}"


CATALOGUE: Final[tuple[Kpi, ...]] = (
    Kpi("impressions", "Σ count of impression + view", lambda t: t[C.impressions]),
    Kpi("engagements", "Σ count of like, reaction, comment, share, save, click", engagements),
    Kpi(
        "engagement_rate_ratio",
        "engagements / impressions",
        lambda t: ratio(engagements(t), t[C.impressions]),
    ),
    Kpi(
        "click_through_ratio",
        "clicks / impressions",
        lambda t: ratio(t[C.clicks], t[C.impressions]),
    ),
    Kpi("virality_ratio", "shares / impressions", lambda t: ratio(t[C.shares], t[C.impressions])),
    Kpi("mentions", "Σ count of mention", lambda t: t[C.mentions]),
    Kpi(
        "sentiment_mean",
        "mean sentiment over events with text or given sentiment",
        lambda t: ratio(t[C.sentiment_sum], t[C.sentiment_events]),
    ),
    Kpi("net_sentiment_ratio", "(positive − negative) / (positive + negative)", net_sentiment),
    Kpi(
        "negative_exposure",
        "Σ author.followers × (−sentiment) over negative events",
        lambda t: t[C.negative_exposure],
    ),
    Kpi(
        "csat_ratio",
        "CSAT answers ≥ 4 / CSAT answers",
        lambda t: ratio(t[C.csat_satisfied], t[C.csat_answers]),
    ),
    Kpi("nps", "% promoters (9–10) − % detractors (0–6)", nps),
    Kpi("leads", "Σ count of lead", lambda t: t[C.leads]),
    Kpi("conversions", "Σ count of conversion", lambda t: t[C.conversions]),
    Kpi(
        "conversion_rate_ratio",
        "conversions / clicks",
        lambda t: ratio(t[C.conversions], t[C.clicks]),
    ),
    Kpi("revenue", "Σ value of conversion", lambda t: t[C.revenue]),
    Kpi("spend", "Σ value of ad_spend", lambda t: t[C.spend]),
    Kpi("cost_per_lead", "spend / leads", lambda t: ratio(t[C.spend], t[C.leads])),
    Kpi("cost_per_click", "spend / clicks", lambda t: ratio(t[C.spend], t[C.clicks])),
    Kpi("cost_per_mille", "spend / impressions × 1000", cost_per_mille),
    Kpi(
        "cost_per_acquisition",
        "spend / conversions",
        lambda t: ratio(t[C.spend], t[C.conversions]),
    ),
    Kpi("roas_ratio", "revenue / spend", lambda t: ratio(t[C.revenue], t[C.spend])),
    Kpi("bounce_ratio", "bounces / visits", lambda t: ratio(t[C.bounces], t[C.visits])),
    Kpi(
        "visit_seconds_mean",
        "mean value of visit",
        lambda t: ratio(t[C.visit_seconds], t[C.visits_timed]),
    ),
)

#: ``socialpulse_sentiment_events{polarity}``: counter index per polarity label
POLARITIES: Final = (("positive", C.positive), ("negative", C.negative), ("neutral", C.neutral))
