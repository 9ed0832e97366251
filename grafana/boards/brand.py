"""Brand drill-down: reach, impressions, engagement and its rates, audience, share of voice."""

from __future__ import annotations

from socialpulse.grafana.boards.common import (
    BRAND,
    PERCENT,
    SEL,
    alert_annotation,
    kpi_stat,
    kpi_variables,
)
from socialpulse.grafana.panels import (
    Board,
    bargauge,
    field_config,
    kpi,
    piechart,
    rate,
    target,
    targets,
    timeseries,
)


def brand_drilldown() -> Board:
    board = Board(
        "socialpulse-brand",
        "socialpulse / Brand drill-down",
        "One brand: reach, impressions, engagement and its rates, audience growth, and its "
        "share of voice against its competitors.",
        kpi_variables(multi=False),
        [alert_annotation()],
    )
    for name in ("reach", "impressions", "engagements", "engagement_rate_ratio", "followers"):
        board.add(kpi_stat(name), 4, 4)
    board.add(kpi_stat("audience_growth_ratio"), 4, 4)
    percent = field_config(PERCENT, decimals=2)
    board.add(
        timeseries(
            "Reach and impressions",
            "Distinct viewers and impressions in the window.",
            targets(
                (kpi("reach", **SEL), "reach"),
                (kpi("impressions", **SEL), "impressions"),
            ),
            field_config(),
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Engagements by kind",
            "Likes, reactions, comments, shares, saves and clicks per second.",
            [
                target(
                    rate(
                        "socialpulse_event_volume_total",
                        "kind",
                        brand=BRAND,
                        kind="~like|reaction|comment|share|save|click",
                    ),
                    "{{kind}}",
                )
            ],
            field_config("reqps"),
            stack=True,
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Engagement rates",
            "Engagements over impressions, over reach, and over followers.",
            targets(
                (kpi("engagement_rate_ratio", **SEL), "by impressions"),
                (kpi("engagement_rate_by_reach_ratio", **SEL), "by reach"),
                (kpi("engagement_rate_by_followers_ratio", **SEL), "by followers"),
            ),
            percent,
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Applause, amplification, virality, CTR",
            "Likes and reactions over followers, shares over followers, shares over "
            "impressions, clicks over impressions.",
            targets(
                (kpi("applause_ratio", **SEL), "applause"),
                (kpi("amplification_ratio", **SEL), "amplification"),
                (kpi("virality_ratio", **SEL), "virality"),
                (kpi("click_through_ratio", **SEL), "CTR"),
            ),
            field_config(PERCENT, decimals=3),
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Followers",
            "Latest follower snapshots plus follows minus unfollows since.",
            [target(kpi("followers", **SEL), "followers")],
            field_config(),
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Audience growth",
            "(follows - unfollows) / followers at the window's start.",
            [target(kpi("audience_growth_ratio", **SEL), "growth")],
            field_config(PERCENT, decimals=3),
        ),
        8,
        8,
    )
    board.add(
        bargauge(
            "Impressions by platform",
            "The brand's impressions per platform in the window.",
            [
                target(
                    kpi(
                        "impressions",
                        "platform",
                        brand=BRAND,
                        platform="!all",
                        campaign="all",
                        window="$window",
                    ),
                    "{{platform}}",
                    instant=True,
                )
            ],
            field_config(),
        ),
        8,
        8,
    )
    voice = {"brand": "~.+", "platform": "all", "campaign": "all", "window": "$window"}
    board.add(
        timeseries(
            "Share of voice against competitors",
            "Each brand's mentions over its competitor group's (configure competitor_groups).",
            [target(kpi("share_of_voice_ratio", **voice), "{{brand}}")],
            field_config(PERCENT, decimals=1, maximum=1, minimum=0),
            stack=True,
        ),
        16,
        8,
    )
    board.add(
        piechart(
            "Share of voice now",
            "Mentions in the window, by brand of the competitor group.",
            [target(kpi("mentions", **voice), "{{brand}}", instant=True)],
            field_config(),
        ),
        8,
        8,
    )
    return board
