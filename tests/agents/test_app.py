"""The app factory wires state, exporter and config together (no broker needed)."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from socialpulse.agents.app import create_app, render_metrics
from socialpulse.agents.batch_core import BatchOutput, SourceMessage
from socialpulse.agents.persisted import BRAND, brand_key, replay
from socialpulse.agents.settings import WorkerSettings
from socialpulse.streams import codec
from socialpulse.streams.generator import SyntheticStream
from socialpulse.streams.validation import validate_event
from tests.agents.test_board import _alert

T0 = 1_700_000_000.0
DEPLOY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "socialpulse.yml"


def test_metrics_of_a_full_generated_hour_render_through_the_app(tmp_path: Path) -> None:
    settings = WorkerSettings(config_file=DEPLOY_CONFIG, timezone="Europe/Warsaw")
    app = create_app(settings, registry=CollectorRegistry())
    stream = SyntheticStream(seed=3, brands=6)
    now = time.time()
    for minute in range(60):
        app.pipeline.state.apply(
            [validate_event(e) for e in stream.events(now - 3600 + minute * 60, 300)]
        )
    text = generate_latest(app.registry).decode()
    families = list(text_string_to_metric_families(text))
    names = {f.name for f in families if f.samples}
    for expected in (
        "socialpulse_impressions",
        "socialpulse_reach",
        "socialpulse_followers",
        "socialpulse_share_of_voice_ratio",
        "socialpulse_headline_kpi",
        "socialpulse_top_amplifier_reach",
        "socialpulse_audience_impressions",
        "socialpulse_hourly_engagement_rate_ratio",
        "socialpulse_variant_conversion_rate_ratio",
        "socialpulse_program_score",
        "socialpulse_sentiment_events",
    ):
        assert expected in names, expected
    values = [s.value for f in families for s in f.samples]
    assert values and all(math.isfinite(v) for v in values)  # no NaN or Inf on a board


def test_metrics_can_be_restricted_to_some_names_without_running_the_kpi_collector() -> None:
    from socialpulse.agents.app import render_metrics

    app = create_app(WorkerSettings(), registry=CollectorRegistry())
    stream = SyntheticStream(seed=3, brands=2)
    app.pipeline.state.apply([validate_event(e) for e in stream.events(time.time(), 500)])
    app.metrics.batch_events.observe(500)
    full = render_metrics(app.registry).decode()
    assert "socialpulse_impressions{" in full
    names = ["socialpulse_batch_events_sum", "socialpulse_messages_total"]
    from socialpulse.agents.exporter import KpiCollector

    def must_not_run() -> None:
        raise AssertionError("the KPI collector ran for a restricted scrape")

    for collector in list(app.registry._collector_to_names):
        if isinstance(collector, KpiCollector):
            collector.collect = must_not_run  # type: ignore[method-assign]
    text = render_metrics(app.registry, names).decode()
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples == {"socialpulse_batch_events_sum": 500.0, "socialpulse_messages_total": 0.0}


async def test_the_workers_services_start_in_order_and_stop_in_reverse() -> None:
    """The pipeline's services start before the events reader and stop after it; the
    alert stage delivers what is queued when it stops."""
    app = create_app(WorkerSettings(enrich_processes=0), registry=CollectorRegistry())
    services = list(app.on_init_dependencies())
    names = [type(s).__name__ for s in services[-4:]]
    assert names == ["AlertStage", "EnrichmentStage", "StateLog", "EventsReader"]
    assert services[-1] is app.reader
    alerting = app.pipeline.alerting
    sent = app.metrics.alert_deliveries.labels("console", "sent")
    alert = _alert("acme", "volume_spike", T0)
    alerting.dispatcher.submit(alert.to_dict())  # queued before the start: sent from it
    for service in services[-4:-1]:
        await service.start()
    assert alerting.dispatcher.tasks
    for service in reversed(services[-4:-1]):
        await service.stop()
    assert sent._value.get() == 1
    assert all(task.done() for task in alerting.dispatcher.tasks)

    # an alert raised once the stage has stopped is counted dropped, not left queued
    dropped = app.metrics.alert_deliveries.labels("console", "dropped")
    await alerting.publish(alert)
    assert dropped._value.get() == 1
    assert all(queue.empty() for queue in alerting.dispatcher.queues)


def test_event_counters_count_events_and_volume_per_brand_platform_and_kind() -> None:
    """``socialpulse_events_total`` counts events and ``socialpulse_event_volume_total``
    sums their ``count``, per brand, platform label (``other`` past the cap, as the KPIs
    fold it) and kind, batch after batch."""
    app = create_app(WorkerSettings(enrich_processes=0), registry=CollectorRegistry())
    state = app.pipeline.state
    state.platform_cap = 1
    now = time.time()

    def batch(events: list[dict[str, object]]) -> BatchOutput:
        out = BatchOutput(messages=len(events))
        out.accepted = state.apply([validate_event(e) for e in events]).accepted
        return out

    first = [
        {"id": "1", "ts": now, "brand": "acme", "platform": "x", "kind": "like"},
        {"id": "2", "ts": now, "brand": "acme", "platform": "x", "kind": "like", "count": 5},
        {"id": "3", "ts": now, "brand": "acme", "platform": "tiktok", "kind": "like"},
        {"id": "4", "ts": now, "brand": "acme", "platform": "reddit", "kind": "like", "count": 2},
        {"id": "5", "ts": now, "brand": "beta", "platform": "tiktok", "kind": "share"},
    ]
    app.pipeline._count(batch(first), 5)
    app.pipeline._count(batch([{**first[0], "id": "6", "count": 3}]), 1)
    text = render_metrics(app.registry).decode()
    samples = {
        (s.name, (s.labels["brand"], s.labels["platform"], s.labels["kind"])): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name in ("socialpulse_events_total", "socialpulse_event_volume_total")
    }
    assert samples == {
        ("socialpulse_events_total", ("acme", "x", "like")): 3.0,
        ("socialpulse_events_total", ("acme", "other", "like")): 2.0,
        ("socialpulse_events_total", ("beta", "tiktok", "share")): 1.0,
        ("socialpulse_event_volume_total", ("acme", "x", "like")): 9.0,
        ("socialpulse_event_volume_total", ("acme", "other", "like")): 3.0,
        ("socialpulse_event_volume_total", ("beta", "tiktok", "share")): 1.0,
    }


class RecordingLog:
    """A state log in memory for the pipeline: every write kept, offsets counted."""

    def __init__(self) -> None:
        self.written: list[dict[int, bytes]] = []
        self.offset = -1

    async def fence(self, partition: int, epoch: str, partitions: int) -> int:
        self.offset += 1
        return self.offset

    async def write(self, records: dict[int, bytes]) -> dict[int, int]:
        self.written.append(dict(records))
        self.offset += 1
        return dict.fromkeys(records, self.offset)


async def test_a_snapshot_lets_the_event_loop_run_between_its_brands() -> None:
    """A partition's snapshot is encoded a brand at a time, and the event loop runs
    between brands (a scrape need not wait for the whole snapshot); the record holds
    every brand, as one written in one piece would."""
    app = create_app(WorkerSettings(enrich_processes=0), registry=CollectorRegistry())
    pipeline, core = app.pipeline, app.pipeline.core
    core.restore(0, {}, None)
    brands = [b for b in (f"brand-{i}" for i in range(60)) if core.owner(b) == 0][:6]
    assert len(brands) == 6
    now = time.time()
    pipeline.state.apply(
        [
            validate_event({"id": f"{b}-{i}", "ts": now, "brand": b, "kind": "like"})
            for b in brands
            for i in range(3)
        ]
    )
    log = RecordingLog()
    pipeline.log = log  # type: ignore[assignment]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    before = ticks
    await pipeline._snapshot(0)
    task.cancel()
    assert ticks - before >= len(brands)
    replayed = replay([log.written[-1][0]])
    assert replayed.snapshots == 1
    assert {key for key in replayed.data if key.startswith(BRAND)} == {brand_key(b) for b in brands}


async def test_release_moves_the_brands_held_for_partitions_read_to_their_end() -> None:
    """A first batch brings partition 0 alone: its brand waits for the three others, just
    assigned and not read yet. When the reader then finds them read to their end (no
    batch), ``release`` moves the brand to its last event at once, and writes it; it does
    not wait for the worker's tick."""
    app = create_app(
        WorkerSettings(enrich_processes=0, allowed_lateness=600.0), registry=CollectorRegistry()
    )
    pipeline, core = app.pipeline, app.pipeline.core
    for partition in range(4):
        core.restore(partition, {}, None)  # as an assignment does: the four are held
    log = RecordingLog()
    pipeline.log = log  # type: ignore[assignment]
    written = log.written
    brand = next(b for b in (f"brand-{i}" for i in range(60)) if core.owner(b) == 0)
    now = time.time()
    events = [
        {"id": f"r{i}", "ts": now - 300 + 60 * i, "brand": brand, "kind": "like"} for i in range(5)
    ]
    topic = pipeline.settings.events_topic
    await pipeline.handle(
        [SourceMessage(topic, 0, i, codec.dumps(ev)) for i, ev in enumerate(events)]
    )
    bs = pipeline.state.brands[brand]
    assert bs.watermark == now - 300 - 600  # held for partitions 1, 2 and 3
    records = len(written)
    await pipeline.release(caught_up=[1, 2, 3])
    assert bs.watermark == now - 300 + 60 * 4
    assert len(written) == records + 1  # the move is written, as a tick's would be
    assert brand_key(brand).encode() in written[-1][0]
