"""What the boards share: template variables, how each KPI looks (unit, thresholds),
the alert annotation, the headline-KPI query and the ranked tables."""

from __future__ import annotations

from dataclasses import dataclass

from socialpulse.agents.kpis import GOAL_KPIS
from socialpulse.grafana.panels import (
    MERGE,
    NEUTRAL,
    Json,
    annotation,
    custom_variable,
    field_config,
    kpi,
    organize,
    override,
    query_variable,
    stat,
    steps,
    table,
    target,
)

WINDOWS = ("5m", "1h", "24h")
BRAND = "~$brand"  # selector value: the brands picked (a regex; All is .*)
SEL = {"brand": BRAND, "platform": "$platform", "campaign": "$campaign", "window": "$window"}
TOTAL = {"brand": BRAND, "platform": "all", "campaign": "all", "window": "$window"}


# ----------------------------------------------------------------------------- variables


def brand_variable(multi: bool = True) -> Json:
    return query_variable(
        "brand",
        "Brand",
        "label_values(socialpulse_watermark_seconds, brand)",
        multi=multi,
        include_all=multi,
        description="Brands (and competitors) the workers have seen events for.",
    )


def platform_variable() -> Json:
    return query_variable(
        "platform",
        "Platform",
        'label_values(socialpulse_impressions{brand=~"$brand"}, platform)',
        default="all",
        description="all: every platform. Keep campaign at all when you pick a platform.",
    )


def campaign_variable() -> Json:
    return query_variable(
        "campaign",
        "Campaign",
        'label_values(socialpulse_impressions{brand=~"$brand"}, campaign)',
        default="all",
        description="all: every campaign. Keep platform at all when you pick a campaign.",
    )


def window_variable() -> Json:
    return custom_variable(
        "window", "Window", WINDOWS, "1h", "The rolling KPI window, in event time."
    )


def kpi_variables(multi: bool = True) -> list[Json]:
    return [brand_variable(multi), platform_variable(), campaign_variable(), window_variable()]


def alert_annotation() -> Json:
    return annotation(
        "Crisis alerts",
        'max by (brand, rule, severity) (socialpulse_alert_firing{brand=~"$brand"}) > 0',
        "{{brand}}: {{rule}} ({{severity}})",
        "brand,rule,severity",
    )


# ----------------------------------------------------------------------------- KPI looks


@dataclass(frozen=True)
class Look:
    """How a KPI shows on a board: title, Grafana unit, decimals, colour thresholds."""

    title: str
    unit: str = "short"
    decimals: int | None = None
    thresholds: Json | None = None

    def field_config(self) -> Json:
        return field_config(self.unit, thresholds=self.thresholds, decimals=self.decimals)

    def override(self, name: str) -> Json:
        return override(
            name,
            displayName=self.title,
            unit=self.unit,
            decimals=self.decimals,
            thresholds=self.thresholds or NEUTRAL,
        )


def higher_is_better(bad: float, good: float) -> Json:
    return steps((None, "red"), (bad, "orange"), (good, "green"))


def lower_is_better(good: float, bad: float) -> Json:
    return steps((None, "green"), (good, "orange"), (bad, "red"))


PERCENT = "percentunit"
MONEY = "none"  # in the currency the producers send values in

#: every KPI a goal may headline (docs/kpis.md), and how it shows; thresholds are common
#: benchmarks to start from, edit them to your own
LOOKS: dict[str, Look] = {
    "impressions": Look("Impressions"),
    "reach": Look("Reach"),
    "mentions": Look("Mentions"),
    "leads": Look("Leads"),
    "engagements": Look("Engagements"),
    "followers": Look("Followers"),
    "conversions": Look("Conversions"),
    "spend": Look("Spend", MONEY, 2),
    "revenue": Look("Revenue", MONEY, 2),
    "negative_exposure": Look("Negative exposure"),
    "share_of_voice_ratio": Look("Share of voice", PERCENT, 1),
    "amplification_ratio": Look("Amplification rate", PERCENT, 3),
    "virality_ratio": Look("Virality rate", PERCENT, 3),
    "applause_ratio": Look("Applause rate", PERCENT, 3),
    "engagement_rate_ratio": Look("Engagement rate", PERCENT, 2, higher_is_better(0.01, 0.03)),
    "net_sentiment_ratio": Look("Net sentiment", PERCENT, 0, higher_is_better(0.0, 0.2)),
    "csat_ratio": Look("CSAT", PERCENT, 0, higher_is_better(0.7, 0.8)),
    "nps": Look("NPS", "none", 0, higher_is_better(0.0, 30.0)),
    "audience_growth_ratio": Look("Audience growth", PERCENT, 3, higher_is_better(0.0, 0.0)),
    "click_through_ratio": Look("CTR", PERCENT, 2, higher_is_better(0.005, 0.01)),
    "bounce_ratio": Look("Bounce rate", PERCENT, 0, lower_is_better(0.4, 0.6)),
    "cost_per_click": Look("CPC", MONEY, 2),
    "cost_per_mille": Look("CPM", MONEY, 2),
    "cost_per_lead": Look("Cost per lead", MONEY, 2),
    "cost_per_acquisition": Look("CPA", MONEY, 2),
    "roas_ratio": Look("ROAS", "none", 2, higher_is_better(1.0, 3.0)),
    "conversion_rate_ratio": Look("Conversion rate", PERCENT, 2, higher_is_better(0.01, 0.03)),
    "service_requests_per_customer": Look(
        "Service requests per customer", "none", 2, lower_is_better(1.5, 3.0)
    ),
}
HEADLINE_KPIS = tuple(dict.fromkeys(k for kpis in GOAL_KPIS.values() for k in kpis))


def kpi_stat(name: str, labels: dict[str, str] | None = None, description: str = "") -> Json:
    """One KPI as a big number with its sparkline, summed over the brands picked."""
    look = LOOKS.get(name) or Look(name)
    expr = kpi(name, **(labels or SEL))
    if not name.endswith("_ratio") and name not in ("nps", "cost_per_click", "cost_per_mille"):
        expr = f"sum({expr})"
    return stat(
        look.title,
        description or f"socialpulse_{name} in the window, for the brands picked.",
        [target(expr, look.title)],
        look.field_config(),
    )


def headline_query(brand: str) -> str:
    """The brand's headline KPIs (its goal's, from socialpulse_headline_kpi), one series
    each, labelled kpi: every KPI a goal may name, joined with the headline flags."""
    labels = {"brand": brand, "platform": "$platform", "campaign": "all", "window": "$window"}
    parts = [
        f'label_replace({kpi(name, **labels)}, "kpi", "{name}", "", "")' for name in HEADLINE_KPIS
    ]
    union = "\n  or ".join(parts)
    flags = f'max by (brand, kpi) (socialpulse_headline_kpi{{brand="{brand}"}})'
    return f"(\n  {union}\n)\n* on (brand, kpi) group_left () {flags}"


def firing_alerts(brand_selector: str, description: str) -> Json:
    """The number of alerts firing now for the brands ``brand_selector`` picks (``="x"``)."""
    expr = (
        f"count(max by (brand, rule) (socialpulse_alert_firing{{brand{brand_selector}}}) == 1)"
        " or vector(0)"
    )
    return stat(
        "Firing alerts",
        description,
        [target(expr, "firing")],
        field_config("none", thresholds=steps((None, "green"), (1, "red")), decimals=0),
        sparkline=False,
    )


def kpi_table(
    title: str,
    description: str,
    columns: tuple[tuple[str, str], ...],
    by: str,
    labels: dict[str, str],
    sort_by: str,
    overrides: list[Json],
    decimals: int | None = None,
) -> Json:
    """A table with a row per ``by`` labels and a column per (KPI, title) of ``columns``."""
    queries = [
        target(kpi(name, by, **labels), instant=True, table=True, ref=chr(ord("A") + i))
        for i, (name, _) in enumerate(columns)
    ]
    rename = {f"Value #{chr(ord('A') + i)}": title for i, (_, title) in enumerate(columns)}
    return table(
        title,
        description,
        queries,
        field_config(decimals=decimals, overrides=overrides),
        transformations=[MERGE, organize(rename)],
        sort_by=sort_by,
    )


# ----------------------------------------------------------------------------- the boards


def ranked_table(title: str, family: str, key: str, window: str, value: str) -> Json:
    metric = {
        "amplifier": "top_amplifier_reach",
        "hashtag": "top_hashtag_mentions",
        "advocate": "top_advocate_score",
        "detractor": "top_detractor_score",
    }[family]
    expr = kpi(metric, f"brand, rank, {key}", brand=BRAND, window=window)
    return table(
        title,
        f"socialpulse_{metric}: the top 10 per brand in the {window} window.",
        [target(expr, instant=True, table=True)],
        field_config(decimals=0),
        transformations=[organize({"Value": value}, hide=("Time", "rank"))],
        sort_by=value,
    )
