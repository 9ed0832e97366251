"""Paid and funnel: spend, CPC, CPM, CPL, CPA, ROAS, conversion rate, A/B tests."""

from __future__ import annotations

from socialpulse.grafana.boards.common import (
    BRAND,
    LOOKS,
    MONEY,
    PERCENT,
    SEL,
    alert_annotation,
    kpi_stat,
    kpi_table,
    kpi_variables,
)
from socialpulse.grafana.panels import (
    Board,
    bargauge,
    field_config,
    kpi,
    organize,
    override,
    steps,
    table,
    target,
    targets,
    timeseries,
)


def paid_and_funnel() -> Board:
    board = Board(
        "socialpulse-paid",
        "socialpulse / Paid and funnel",
        "Spend and its returns: CPC, CPM, CPL, CPA, ROAS, conversion rate, campaigns, A/B tests.",
        kpi_variables(),
        [alert_annotation()],
    )
    for name in ("spend", "revenue", "roas_ratio", "cost_per_click", "cost_per_mille"):
        board.add(kpi_stat(name), 4 if name in ("spend", "revenue") else 3, 4)
    for name in ("cost_per_lead", "cost_per_acquisition", "conversion_rate_ratio"):
        board.add(kpi_stat(name), 3 if name != "conversion_rate_ratio" else 4, 4)
    money = field_config(MONEY, decimals=2)
    board.add(
        timeseries(
            "Spend and revenue",
            "Ad spend and conversion revenue in the window.",
            targets(
                (f"sum({kpi('spend', **SEL)})", "spend"),
                (f"sum({kpi('revenue', **SEL)})", "revenue"),
            ),
            money,
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "CPC, CPM, CPL, CPA",
            "Spend over clicks, over impressions x 1000, over leads, over conversions.",
            targets(
                (kpi("cost_per_click", **SEL), "CPC {{brand}}"),
                (kpi("cost_per_mille", **SEL), "CPM {{brand}}"),
                (kpi("cost_per_lead", **SEL), "CPL {{brand}}"),
                (kpi("cost_per_acquisition", **SEL), "CPA {{brand}}"),
            ),
            field_config(MONEY, decimals=2),
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "ROAS",
            "Revenue over spend, per brand.",
            [target(kpi("roas_ratio", **SEL), "{{brand}}")],
            field_config("none", decimals=2),
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Conversion rate and CTR",
            "Conversions over clicks, and clicks over impressions.",
            targets(
                (kpi("conversion_rate_ratio", **SEL), "conversion {{brand}}"),
                (kpi("click_through_ratio", **SEL), "CTR {{brand}}"),
            ),
            field_config(PERCENT, decimals=2),
        ),
        8,
        8,
    )
    clicks = f"sum({kpi('click_through_ratio', **SEL)} * on (brand) {kpi('impressions', **SEL)})"
    board.add(
        bargauge(
            "Funnel",
            "Impressions, clicks (CTR x impressions), leads and conversions in the window.",
            targets(
                (f"sum({kpi('impressions', **SEL)})", "impressions"),
                (clicks, "clicks"),
                (f"sum({kpi('leads', **SEL)})", "leads"),
                (f"sum({kpi('conversions', **SEL)})", "conversions"),
                instant=True,
            ),
            field_config(decimals=0),
        ),
        8,
        8,
    )
    per_campaign = {"brand": BRAND, "platform": "all", "campaign": "!all", "window": "$window"}
    columns = (
        ("spend", "Spend"),
        ("revenue", "Revenue"),
        ("roas_ratio", "ROAS"),
        ("cost_per_acquisition", "CPA"),
        ("conversion_rate_ratio", "Conversion rate"),
    )
    board.add(
        kpi_table(
            "Campaigns",
            "Every campaign of the brands picked, in the window.",
            columns,
            "brand, campaign",
            per_campaign,
            "Spend",
            [LOOKS[name].override(title) for name, title in columns[2:]],
            decimals=2,
        ),
        12,
        8,
    )
    board.add(
        bargauge(
            "A/B variants: conversion rate",
            "Conversion rate of each variant of each campaign, in the window.",
            [
                target(
                    kpi(
                        "variant_conversion_rate_ratio",
                        "brand, campaign, variant",
                        brand=BRAND,
                        window="$window",
                    ),
                    "{{brand}} {{campaign}} {{variant}}",
                    instant=True,
                )
            ],
            field_config(PERCENT, decimals=2),
        ),
        6,
        8,
    )
    board.add(
        table(
            "A/B tests: p-value",
            "Two-proportion z-test between a campaign's two variants with most clicks: "
            "below 0.05 (green) the difference is unlikely to be chance.",
            [
                target(
                    kpi("ab_p_value", "brand, campaign", brand=BRAND, window="$window"),
                    instant=True,
                    table=True,
                )
            ],
            field_config(
                overrides=[
                    override(
                        "p-value",
                        decimals=4,
                        thresholds=steps((None, "green"), (0.05, "text")),
                        **{"custom.cellOptions": {"type": "color-text"}},
                    )
                ]
            ),
            transformations=[organize({"Value": "p-value"})],
        ),
        6,
        8,
    )
    board.add(
        bargauge(
            "Program score by campaign",
            "Weighted reach, shares and revenue by the campaign's objective (0..1).",
            [
                target(
                    kpi(
                        "program_score",
                        "brand, campaign, objective",
                        brand=BRAND,
                        window="$window",
                    ),
                    "{{brand}} {{campaign}} ({{objective}})",
                    instant=True,
                )
            ],
            field_config("none", decimals=2, minimum=0, maximum=1),
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Site: bounce rate and repeat visits",
            "Bounced visits over visits, and (visits - distinct visitors) over visits.",
            targets(
                (kpi("bounce_ratio", **SEL), "bounce {{brand}}"),
                (kpi("repeat_visit_ratio", **SEL), "repeat {{brand}}"),
            ),
            field_config(PERCENT, decimals=1),
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Site: time on site",
            "Mean visit duration.",
            [target(kpi("visit_seconds_mean", **SEL), "{{brand}}")],
            field_config("s", decimals=0),
        ),
        8,
        8,
    )
    return board
