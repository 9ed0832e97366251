"""Pipeline health: events/s, rejects, dead letters, lag, enrichment, scrapes."""

from __future__ import annotations

from socialpulse.grafana.boards.common import (
    lower_is_better,
)
from socialpulse.grafana.panels import (
    Board,
    field_config,
    override,
    quantile,
    query_variable,
    rate,
    stat,
    steps,
    target,
    targets,
    timeseries,
)


def pipeline_health() -> Board:
    job = query_variable(
        "job",
        "Job",
        "label_values(socialpulse_messages_total, job)",
        multi=True,
        include_all=True,
        description="The Prometheus job(s) scraping the workers.",
    )
    board = Board(
        "socialpulse-pipeline",
        "socialpulse / Pipeline health",
        "The workers: events/s by kind, rejects, dead letters, lag, enrichment, scrapes.",
        [job],
    )
    j = {"job": "~$job"}
    board.add(
        stat(
            "Events/s",
            "Events counted into the KPIs per second, all workers: 1 per event, whatever its "
            "count field (socialpulse_events_total; volumes are socialpulse_event_volume_total).",
            [target(rate("socialpulse_events_total", **j), "events/s")],
            field_config("short", decimals=0),
        ),
        4,
        4,
    )
    board.add(
        stat(
            "Consumer lag",
            "Messages of the events topic not yet processed, all partitions.",
            [target('sum(socialpulse_consumer_lag{job=~"$job"})', "lag")],
            field_config("short", thresholds=lower_is_better(10_000, 100_000), decimals=0),
        ),
        4,
        4,
    )
    board.add(
        stat(
            "Event-time lag",
            "Wall clock minus the newest event time seen, worst brand: how far behind "
            "real time the boards are.",
            [target('max(time() - socialpulse_watermark_seconds{job=~"$job"})', "lag")],
            field_config("s", thresholds=lower_is_better(60, 300), decimals=0),
        ),
        4,
        4,
    )
    board.add(
        stat(
            "Rejected/s",
            "Messages or events rejected and dead-lettered per second.",
            [target(rate("socialpulse_events_rejected_total", **j), "rejected/s")],
            field_config("short", thresholds=lower_is_better(0.01, 1), decimals=2),
        ),
        4,
        4,
    )
    board.add(
        stat(
            "Workers up",
            "Workers Prometheus scrapes successfully.",
            [target('sum(up{job=~"$job"})', "up")],
            field_config("none", thresholds=steps((None, "red"), (1, "green")), decimals=0),
        ),
        4,
        4,
    )
    board.add(
        stat(
            "Brands held",
            "Brands whose KPI state the workers hold.",
            [target('sum(socialpulse_brands{job=~"$job"})', "brands")],
            field_config("none", decimals=0),
        ),
        4,
        4,
    )
    board.add(
        timeseries(
            "Events/s by kind",
            "Events counted into the KPIs per second, by kind (1 per event, not its count).",
            [target(rate("socialpulse_events_total", "kind", **j), "{{kind}}")],
            field_config("short"),
            stack=True,
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Rejected by reason",
            "Messages or envelope elements rejected per second, by reason.",
            [target(rate("socialpulse_events_rejected_total", "reason", **j), "{{reason}}")],
            field_config("short"),
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Dead letters and duplicates",
            "Messages written to the dead-letter topic per second, by reason; events whose "
            "id was seen before (counted once).",
            [
                target(rate("socialpulse_dead_letters_total", "reason", **j), "{{reason}}"),
                target(
                    rate("socialpulse_events_duplicate_total", **j) + " or vector(0)",
                    "duplicates",
                    ref="B",
                ),
            ],
            field_config("short"),
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Consumer lag by partition",
            "High watermark minus committed offset, per partition of the events topic.",
            [
                target(
                    'max by (partition) (socialpulse_consumer_lag{job=~"$job"})',
                    "partition {{partition}}",
                )
            ],
            field_config("short", decimals=0),
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Batch latency",
            "Time the KPI agent spends on a batch of messages: p50 and p99.",
            targets(
                (quantile(0.5, "socialpulse_batch_seconds", **j), "p50"),
                (quantile(0.99, "socialpulse_batch_seconds", **j), "p99"),
            ),
            field_config("s"),
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Enrichment latency",
            "Time to enrich one text (clean, hashtags, language, sentiment): p50 and p99.",
            targets(
                (quantile(0.5, "socialpulse_enrichment_seconds", **j), "p50"),
                (quantile(0.99, "socialpulse_enrichment_seconds", **j), "p99"),
            ),
            field_config("s"),
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Texts scored by language",
            "Texts whose sentiment the workers scored per second, by language and method.",
            [
                target(
                    rate("socialpulse_texts_scored_total", "lang, method", **j),
                    "{{lang}} {{method}}",
                )
            ],
            field_config("short"),
            stack=True,
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Scrape duration",
            "Prometheus' scrape of each worker, and the worker's own time to render /metrics "
            "(p99).",
            targets(
                ('max by (instance) (scrape_duration_seconds{job=~"$job"})', "scrape {{instance}}"),
                (quantile(0.99, "socialpulse_scrape_seconds", **j), "render p99"),
            ),
            field_config("s"),
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Alert deliveries",
            "Alert deliveries per second by notifier and outcome (sent, failed, dropped); "
            "and enrichment helper failures.",
            [
                target(
                    rate("socialpulse_alert_deliveries_total", "notifier, outcome", **j),
                    "{{notifier}} {{outcome}}",
                ),
                target(
                    rate("socialpulse_enrichment_failures_total", **j),
                    "enrichment failures",
                    ref="B",
                ),
            ],
            field_config("short"),
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Worker CPU and memory",
            "CPU seconds per second and resident memory of each worker process.",
            targets(
                (
                    'rate(process_cpu_seconds_total{job=~"$job"}[$__rate_interval])',
                    "CPU {{instance}}",
                ),
                ('process_resident_memory_bytes{job=~"$job"}', "RSS {{instance}}"),
            ),
            field_config(
                "percentunit",
                overrides=[
                    override(
                        "RSS .*", regex=True, unit="bytes", **{"custom.axisPlacement": "right"}
                    )
                ],
            ),
        ),
        8,
        8,
    )
    return board
