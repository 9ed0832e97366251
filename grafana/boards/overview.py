"""Overview: per brand, the headline KPIs of its goal."""

from __future__ import annotations

from socialpulse.grafana.boards.common import (
    LOOKS,
    TOTAL,
    alert_annotation,
    firing_alerts,
    headline_query,
    kpi_table,
    kpi_variables,
)
from socialpulse.grafana.panels import (
    Board,
    field_config,
    stat,
    target,
)


def overview() -> Board:
    board = Board(
        "socialpulse-overview",
        "socialpulse / Overview",
        "Per brand, the headline KPIs of its goal (docs/kpis.md), with their trends.",
        kpi_variables(),
        [alert_annotation()],
    )
    board.row("All brands")
    columns = (
        ("impressions", "Impressions"),
        ("engagement_rate_ratio", "Engagement rate"),
        ("mentions", "Mentions"),
        ("net_sentiment_ratio", "Net sentiment"),
        ("share_of_voice_ratio", "Share of voice"),
        ("negative_exposure", "Negative exposure"),
    )
    overrides = [LOOKS[name].override(title) for name, title in columns]
    for item in overrides:  # colour the cells by the KPI's thresholds
        item["properties"].append({"id": "custom.cellOptions", "value": {"type": "color-text"}})
    board.add(
        kpi_table(
            "Brands at a glance",
            "Every brand picked, in the window: volume, engagement, sentiment, voice.",
            columns,
            "brand",
            TOTAL,
            "Impressions",
            overrides,
        ),
        20,
        7,
    )
    board.add(firing_alerts('=~"$brand"', "Crisis and KPI alerts firing now, brands picked."), 4, 7)
    board.row("$brand", repeat="brand")
    board.add(
        stat(
            "Headline KPIs",
            "The headline KPIs of the brand's goal (set `goal` per brand in the config "
            "file), on the platform picked, in the window.",
            [target(headline_query("$brand"), "{{kpi}}")],
            field_config(overrides=[look.override(name) for name, look in LOOKS.items()]),
        ),
        18,
        5,
    )
    board.add(
        stat(
            "Goal",
            "The brand's goal, which picks its headline KPIs.",
            [target('max by (goal) (socialpulse_headline_kpi{brand="$brand"})', "{{goal}}")],
            field_config("none"),
            sparkline=False,
            text_mode="name",
        ),
        3,
        5,
    )
    board.add(firing_alerts('="$brand"', "The brand's alerts firing now."), 3, 5)
    return board
