"""Sentiment and crisis: net sentiment, negative exposure, mention volume, the alerts."""

from __future__ import annotations

from socialpulse.grafana.boards.common import (
    BRAND,
    PERCENT,
    SEL,
    alert_annotation,
    firing_alerts,
    higher_is_better,
    kpi_stat,
    kpi_variables,
    ranked_table,
)
from socialpulse.grafana.panels import (
    Board,
    field_config,
    kpi,
    organize,
    override,
    rate,
    stat,
    table,
    target,
    targets,
    timeseries,
    value_text,
)


def sentiment_and_crisis() -> Board:
    board = Board(
        "socialpulse-crisis",
        "socialpulse / Sentiment and crisis",
        "Net sentiment, negative exposure, mention volume, and the crisis alerts.",
        kpi_variables(),
        [alert_annotation()],
    )
    board.add(kpi_stat("net_sentiment_ratio"), 4, 4)
    board.add(
        stat(
            "Sentiment mean",
            "Mean sentiment (-1..1) of events with a text or a given sentiment.",
            [target(kpi("sentiment_mean", **SEL), "{{brand}}")],
            field_config("none", decimals=2, thresholds=higher_is_better(-0.05, 0.05)),
        ),
        4,
        4,
    )
    board.add(kpi_stat("negative_exposure"), 4, 4)
    board.add(kpi_stat("mentions"), 4, 4)
    board.add(kpi_stat("csat_ratio"), 2, 4)
    board.add(kpi_stat("nps"), 2, 4)
    board.add(firing_alerts('=~"$brand"', "Alerts firing now for the brands picked."), 4, 4)
    board.add(
        timeseries(
            "Net sentiment",
            "(positive - negative) / (positive + negative) in the window, per brand. "
            "Crisis alerts show as red regions.",
            [target(kpi("net_sentiment_ratio", **SEL), "{{brand}}")],
            field_config(PERCENT, decimals=0, minimum=-1, maximum=1),
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Negative exposure",
            "Σ author followers x (-sentiment) over negative events: one big account counts.",
            [target(kpi("negative_exposure", **SEL), "{{brand}}")],
            field_config(),
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Mention volume",
            "Mentions per minute, per brand, as they arrive.",
            [
                target(
                    "60 * "
                    + rate("socialpulse_event_volume_total", "brand", brand=BRAND, kind="mention"),
                    "{{brand}}",
                )
            ],
            field_config("short", decimals=0),
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Events by polarity",
            "Events with a sentiment in the window: positive (> 0.05), neutral, negative.",
            [
                target(
                    "sum by (polarity) (" + kpi("sentiment_events", "brand, polarity", **SEL) + ")",
                    "{{polarity}}",
                )
            ],
            field_config(
                overrides=[
                    override("negative", color={"mode": "fixed", "fixedColor": "red"}),
                    override("neutral", color={"mode": "fixed", "fixedColor": "gray"}),
                    override("positive", color={"mode": "fixed", "fixedColor": "green"}),
                ]
            ),
            stack=True,
        ),
        12,
        8,
    )
    board.add(
        table(
            "Alerts",
            "Every brand x rule alert since the worker started: firing first. The alert "
            "events themselves, with their evidence, are on the social-alerts topic.",
            [
                target(
                    'max by (brand, rule, severity) (socialpulse_alert_firing{brand=~"$brand"})',
                    instant=True,
                    table=True,
                )
            ],
            field_config(
                overrides=[
                    override(
                        "state",
                        mappings=value_text({"1": ("FIRING", "red"), "0": ("resolved", "green")}),
                        **{"custom.cellOptions": {"type": "color-background"}},
                    )
                ]
            ),
            transformations=[organize({"Value": "state"})],
            sort_by="state",
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Alert events",
            "Alerts fired and resolved, by rule (all brands).",
            [
                target(
                    "sum by (rule, state) (increase(socialpulse_alerts_total[$__rate_interval]))",
                    "{{rule}} {{state}}",
                )
            ],
            field_config("short", decimals=0),
            bars=True,
        ),
        12,
        8,
    )
    board.add(ranked_table("Top detractors", "detractor", "author", "24h", "Negative reach"), 12, 8)
    board.add(
        timeseries(
            "CSAT and NPS",
            "CSAT (share of answers >= 4) and NPS (-100..100) in the window.",
            targets(
                (kpi("csat_ratio", **SEL), "CSAT {{brand}}"),
                (kpi("nps", **SEL), "NPS {{brand}}"),
            ),
            field_config(
                "none",
                decimals=2,
                overrides=[override("CSAT .*", regex=True, unit=PERCENT)],
            ),
        ),
        12,
        8,
    )
    return board
