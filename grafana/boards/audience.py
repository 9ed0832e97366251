"""Audience: demographics, top influencers and hashtags, best time to post."""

from __future__ import annotations

from socialpulse.grafana.boards.common import (
    BRAND,
    PERCENT,
    SEL,
    alert_annotation,
    kpi_variables,
    ranked_table,
)
from socialpulse.grafana.panels import (
    Board,
    bargauge,
    field_config,
    kpi,
    organize,
    table,
    target,
    timeseries,
)


def audience() -> Board:
    board = Board(
        "socialpulse-audience",
        "socialpulse / Audience",
        "Who sees the brands: demographics, top influencers and hashtags, advocates, and the "
        "best time to post.",
        kpi_variables(),
        [alert_annotation()],
    )
    for dimension, title in (("age", "Age"), ("gender", "Gender"), ("location", "Location")):
        expr = (
            "sum by (value) ("
            + kpi(
                "audience_impressions",
                "brand, value",
                brand=BRAND,
                dimension=dimension,
                window="$window",
            )
            + ")"
        )
        board.add(
            bargauge(
                f"Audience by {dimension}",
                f"Impressions by {title.lower()} of the viewer (top 20, the rest as other).",
                [target(expr, "{{value}}", instant=True)],
                field_config(decimals=0),
            ),
            8,
            9,
        )
    board.add(
        ranked_table(
            "Top influencers", "amplifier", "author", "1h", "Reach of shares and mentions"
        ),
        8,
        9,
    )
    board.add(ranked_table("Top hashtags", "hashtag", "hashtag", "1h", "Events"), 8, 9)
    board.add(ranked_table("Top advocates", "advocate", "author", "24h", "Positive reach"), 8, 9)
    board.add(
        table(
            "Best time to post",
            "Engagement rate by hour of day (rows; time zone SOCIALPULSE_TIMEZONE) over the "
            "last 7 days, per brand (columns).",
            [
                target(
                    kpi("hourly_engagement_rate_ratio", "brand, hour", brand=BRAND),
                    instant=True,
                    table=True,
                )
            ],
            field_config(PERCENT, decimals=2, color="continuous-GrYlRd"),
            transformations=[
                {
                    "id": "groupingToMatrix",
                    "options": {"columnField": "brand", "rowField": "hour", "valueField": "Value"},
                },
                {
                    "id": "convertFieldType",
                    "options": {
                        "conversions": [
                            {"targetField": "hour\\brand", "destinationType": "number"}
                        ],
                        "fields": {},
                    },
                },
                {"id": "sortBy", "options": {"sort": [{"field": "hour\\brand", "desc": False}]}},
                organize({"hour\\brand": "hour"}, hide=()),
            ],
            cells="color-background",
        ),
        12,
        14,
    )
    board.add(
        bargauge(
            "Followers by platform",
            "Latest follower count per platform, plus follows - unfollows since.",
            [
                target(
                    "sum by (platform) ("
                    + kpi(
                        "followers",
                        "brand, platform",
                        brand=BRAND,
                        platform="!all",
                        campaign="all",
                        window="$window",
                    )
                    + ")",
                    "{{platform}}",
                    instant=True,
                )
            ],
            field_config(decimals=0),
        ),
        12,
        7,
    )
    board.add(
        timeseries(
            "Audience growth",
            "(follows - unfollows) / followers at the window's start.",
            [target(kpi("audience_growth_ratio", **SEL), "{{brand}}")],
            field_config(PERCENT, decimals=3),
        ),
        12,
        7,
    )
    return board
