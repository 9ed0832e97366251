"""The Faust app factory: ``create_app(settings)`` builds the app, its topics, tables,
the KPI agent and the ``/metrics`` page. Nothing is created at import time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import faust
from faust.app.base import BootStrategy
from faust.types import ServiceT
from faust.types.auth import CredentialsT
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
)

from socialpulse.agents.board import PIPELINE_EVERY, WorkerBoard, alert_view
from socialpulse.agents.board_page import render_page
from socialpulse.agents.broker_health import BrokerHealth, quiet_client_logs
from socialpulse.agents.events_reader import EventsReader
from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.exposition import render
from socialpulse.agents.gc_tuning import tune_gc
from socialpulse.agents.lag import ConsumerLagCollector
from socialpulse.agents.metrics import Metrics
from socialpulse.agents.pipeline import KpiPipeline
from socialpulse.agents.settings import FileConfig, WorkerSettings
from socialpulse.streams.connection import ssl_context
from socialpulse.streams.settings import KafkaSettings

log = logging.getLogger("socialpulse")


class Boot(BootStrategy):
    """Faust's services without its consumer: the events reader reads the events topic."""

    enable_kafka_consumer = False


class SocialPulseApp(faust.App):
    """A Faust app that carries the socialpulse settings, metrics and KPI pipeline."""

    BootStrategy = Boot
    settings: WorkerSettings
    metrics: Metrics
    pipeline: KpiPipeline
    reader: EventsReader
    registry: CollectorRegistry
    board: WorkerBoard

    def on_init_dependencies(self) -> Iterable[ServiceT]:
        """Faust's services, the pipeline's (alert stage, enrichment helpers, state log),
        then the events reader: they start in this order and stop in the reverse one, so
        the reader leaves the group first, then the state log is closed, the helpers shut
        down and the queued alerts delivered, then Faust's producer and web server stop."""
        services = list(super().on_init_dependencies())
        reader = getattr(self, "reader", None)
        if reader is None:
            return services
        return [*services, *self.pipeline.services(), reader]


def render_metrics(registry: CollectorRegistry, names: list[str] | None = None) -> bytes:
    """The exposition of ``registry``; with ``names`` (``?name[]=...``, as client_python's
    own server takes them) only those metrics, and only their collectors run: a cheap way
    to read one counter from a worker with many series."""
    return render(registry.restricted_registry(names) if names else registry)


def broker_credentials(settings: KafkaSettings) -> CredentialsT | None:
    """``broker_credentials`` for ``faust.App`` (None for PLAINTEXT), from the same TLS
    context as the plain clients' ``streams.connection.client_options``."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    password = settings.kafka_sasl_password
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password.get_secret_value() if password is not None else None,
        ssl_context=context,  # SASL_SSL with a context, SASL_PLAINTEXT without
        mechanism=settings.kafka_sasl_mechanism,
    )


def create_app(
    settings: WorkerSettings | None = None,
    *,
    config: FileConfig | None = None,
    registry: CollectorRegistry | None = None,
) -> SocialPulseApp:
    """Build the socialpulse Faust app for ``settings`` (read from the environment if
    None) and the config file's ``config`` (read from ``settings.config_file`` if None:
    once, here, for the whole worker)."""
    settings = settings or WorkerSettings()
    config = settings.file_config() if config is None else config
    app = SocialPulseApp(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=broker_credentials(settings),  # TLS / SASL, None for PLAINTEXT
        store=settings.store,
        web_enabled=True,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=True,
        table_standby_replicas=0,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=max(1.0, settings.session_timeout / 4),
        broker_rebalance_timeout=max(settings.session_timeout * 2, 20.0),
        producer_max_batch_size=settings.producer_batch_bytes,
        producer_max_request_size=64 * 1024 * 1024,  # dead letters: any message it can read
        consumer_max_fetch_size=max(settings.max_message_bytes * 2, 4_194_304),
        autodiscover=False,
    )
    app.settings = settings
    app.registry = registry or CollectorRegistry(auto_describe=True)
    app.metrics = Metrics(app.registry)
    app.pipeline = KpiPipeline(app, settings, app.metrics, config)
    app.reader = EventsReader(settings, app.pipeline)
    app.pipeline.reader = app.reader
    app.registry.register(KpiCollector(app.pipeline.state, config, settings.timezone))
    app.registry.register(ConsumerLagCollector(lambda: app.reader, settings.events_topic))
    app.board = WorkerBoard(
        app.registry,
        lambda: app.pipeline.state.brands,
        app.pipeline.alerting.engine.lifecycle.firing,
    )
    if registry is None:  # the worker's own process: CPU, memory, file descriptors, Python
        ProcessCollector(registry=app.registry)
        PlatformCollector(registry=app.registry)

    events_topic = app.topic(
        settings.events_topic,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
    )
    app.reader.declare_topic = events_topic.maybe_declare  # before it subscribes
    side_topics = [
        app.topic(
            name, key_serializer="raw", value_serializer="raw", partitions=settings.topic_partitions
        )
        for name in (settings.dlq_topic, settings.alerts_topic)
    ]

    @app.task
    async def declare_topics() -> None:
        quiet_client_logs()  # Faust has set up its log handlers by now
        tune_gc()  # started: batches of events, not the startup's objects, are collected
        for topic in side_topics:
            await topic.maybe_declare()
        log.info(
            "socialpulse worker: topics %s (%d partitions), %s, %s declared; metrics on http://%s:%d/metrics",
            settings.events_topic,
            settings.topic_partitions,
            settings.dlq_topic,
            settings.alerts_topic,
            settings.web_host,
            settings.web_port,
        )
        await app.pipeline.warm()

    health = BrokerHealth(settings.bootstrap, app.metrics)

    @app.timer(2.0)
    async def broker_health() -> None:
        """Is the broker reachable? One log line per outage, and socialpulse_broker_up."""
        await health.check()

    @app.timer(5.0)
    async def producers_silent() -> None:
        """Brands whose producers stopped sending altogether (wall clock)."""
        await app.pipeline.alerting.check_silence(app.pipeline.state.brands)
        # watermarks that partitions gone quiet held back (an unkeyed backfill's end)
        await app.pipeline.tick()
        # between batches too (after a rebalance or a broker restart the state changes
        # before the next batch comes)
        app.metrics.brands.set(len(app.pipeline.state.brands))

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        started = time.perf_counter()
        names = request.query.getall("name[]", []) if hasattr(request, "query") else []
        try:
            body = render_metrics(app.registry, names)
        except Exception:  # a bug in one KPI must not take the worker down: say so, loudly
            log.exception("rendering /metrics failed")
            app.metrics.scrape_errors.inc()
            return web.text("rendering /metrics failed; see the worker log\n", status=500)
        if not names:
            app.metrics.scrape_seconds.observe(time.perf_counter() - started)
        return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.timer(PIPELINE_EVERY)
    async def board_snapshot() -> None:
        """The live board's pipeline history: events/s, lag, dead letters."""
        try:
            app.board.snapshot()
        except Exception:  # the board must not take the worker down: say so, loudly
            log.exception("the live board's snapshot failed")

    @app.page("/")
    async def board_page(web: Any, request: Any) -> Any:
        return web.html(render_page())

    @app.page("/api/board")
    async def board_data(web: Any, request: Any) -> Any:
        try:
            return web.json(app.board.cached_document())
        except Exception:  # the board must not take the worker down: say so, loudly
            log.exception("rendering /api/board failed")
            return web.json({"error": "/api/board failed; see the worker log"}, status=500)

    @app.page("/api/alerts")
    async def firing_alerts(web: Any, request: Any) -> Any:
        """The firing alerts with their evidence (what ``socialpulse board`` shows)."""
        return web.json([alert_view(a) for a in app.pipeline.alerting.engine.lifecycle.firing()])

    return app
