"""The worker's own Prometheus metrics, grouped in one object with an injected registry.

Window KPI gauges are not here: ``exporter.KpiCollector`` computes them from the KPI
state at scrape time.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from socialpulse.streams.contract import REASONS


class Metrics:
    """Counters and histograms of the pipeline, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events = Counter(
            "socialpulse_events",
            "Events counted into the KPIs, by brand, platform, kind: 1 per event, whatever its "
            "count field (a pre-aggregated event of count 500 adds 1; its volume goes to "
            "socialpulse_event_volume_total). rate() of it is the pipeline's events/s.",
            ["brand", "platform", "kind"],
            registry=registry,
        )
        self.volume = Counter(
            "socialpulse_event_volume",
            "Volume the events counted into the KPIs stand for, by brand, platform, kind: the "
            "sum of their count field (an event of count 500 adds 500; socialpulse_events_total "
            "adds 1). rate() of it is likes/s, impressions/s ... as the KPIs count them.",
            ["brand", "platform", "kind"],
            registry=registry,
        )
        self.rejected = Counter(
            "socialpulse_events_rejected",
            "Messages or envelope elements rejected and dead-lettered, by reason.",
            ["reason"],
            registry=registry,
        )
        for reason in REASONS:  # export zeros, so rate() works from the first rejection
            self.rejected.labels(reason)
        self.duplicates = Counter(
            "socialpulse_events_duplicate",
            "Events whose id was seen before for the same brand, counted once.",
            ["brand"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "socialpulse_dead_letters",
            "Messages written to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        for reason in REASONS:
            self.dead_letters.labels(reason)
        self.forwarded = Counter(
            "socialpulse_events_forwarded",
            "Events re-sent to the partition that owns their brand (unkeyed producers).",
            registry=registry,
        )
        self.messages = Counter(
            "socialpulse_messages",
            "Kafka messages consumed from the events topic.",
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "socialpulse_batch_seconds",
            "Time the KPI agent spends on one batch of messages.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )
        self.batch_events = Histogram(
            "socialpulse_batch_events",
            "Events per batch of the KPI agent.",
            buckets=(1, 10, 100, 500, 1000, 5000, 10000, 50000, 100000),
            registry=registry,
        )
        self.scrape_seconds = Histogram(
            "socialpulse_scrape_seconds",
            "Time to render /metrics (the previous scrapes).",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=registry,
        )
        self.scrape_errors = Counter(
            "socialpulse_scrape_errors",
            "Scrapes of /metrics that failed (the worker logs why).",
            registry=registry,
        )
        self.enrichment_seconds = Histogram(
            "socialpulse_enrichment_seconds",
            "Time to enrich one event with text: clean, hashtags, language, sentiment.",
            buckets=(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1),
            registry=registry,
        )
        self.texts_scored = Counter(
            "socialpulse_texts_scored",
            "Texts whose sentiment socialpulse scored, by language and method: lexicon "
            "(the language has one), emoji (emoji and emoticons only) or model "
            "(SOCIALPULSE_SENTIMENT_MODEL=model).",
            ["lang", "method"],
            registry=registry,
        )
        self.enriched = Counter(
            "socialpulse_enriched_fields",
            "Fields the enrichment filled in because the producer left them out.",
            ["field"],
            registry=registry,
        )
        for name in ("sentiment", "lang", "hashtags"):
            self.enriched.labels(name)
        self.enrichment_failures = Counter(
            "socialpulse_enrichment_failures",
            "Batches whose helper process failed; they were enriched in the worker instead.",
            registry=registry,
        )
        self.alert_firing = Gauge(
            "socialpulse_alert_firing",
            "1 while an alert of this brand and rule is firing, 0 once resolved.",
            ["brand", "rule", "severity"],
            registry=registry,
        )
        self.alerts = Counter(
            "socialpulse_alerts",
            "Alert events (firing and resolved) by rule, severity and state.",
            ["rule", "severity", "state"],
            registry=registry,
        )
        self.alert_deliveries = Counter(
            "socialpulse_alert_deliveries",
            "Alert deliveries by notifier kind and outcome: sent, failed, dropped (queue full, "
            "or still queued when the worker stopped).",
            ["notifier", "outcome"],
            registry=registry,
        )
        self.brands = Gauge(
            "socialpulse_brands",
            "Brands whose KPI state this worker holds.",
            registry=registry,
        )
        self.stale_batches = Counter(
            "socialpulse_state_stale_batches",
            "Batch records of the state log written by a worker after it had lost the "
            "partition (after another worker's fence), ignored when the state was restored.",
            registry=registry,
        )
        self.snapshots = Counter(
            "socialpulse_state_snapshots",
            "Snapshot records written to the state log (a restore starts at the last one).",
            registry=registry,
        )
        self.replayed_messages = Counter(
            "socialpulse_replayed_messages",
            "Messages read again below the offset the restored KPI state covers: skipped.",
            registry=registry,
        )
        self.restore_seconds = Histogram(
            "socialpulse_state_restore_seconds",
            "Time to restore one partition's KPI state from the state log.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.state_write_errors = Counter(
            "socialpulse_state_write_errors",
            "Batch records of the state log the producer gave up on (a broker away longer "
            "than producer_request_timeout); the worker then stops, and a restart recovers.",
            registry=registry,
        )
        self.broker_up = Gauge(
            "socialpulse_broker_up",
            "1 while the worker reaches the Kafka broker, 0 while it does not.",
            registry=registry,
        )
        self.broker_unreachable_seconds = Gauge(
            "socialpulse_broker_unreachable_seconds",
            "Seconds since the worker last reached the broker (0 while it reaches it).",
            registry=registry,
        )
