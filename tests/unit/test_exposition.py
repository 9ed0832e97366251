"""``/metrics``'s renderer writes what ``prometheus_client.generate_latest`` writes, byte
for byte, KPI gauges and the worker's counters and histograms alike."""

from __future__ import annotations

import asyncio
import random

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.exposition import render
from socialpulse.agents.metrics import Metrics
from socialpulse.agents.testing import Harness
from tests.fakes import event

T0 = 1_700_000_000.0
ODD = ['quote"d', "back\\slash", "new\nline", "ünïcødé 😀", "plain", "", "a,b=c}"]


def kpi_registry() -> CollectorRegistry:
    rng = random.Random(7)
    events = []
    for k in range(3000):
        kind = rng.choice(["impression", "like", "mention", "click", "conversion", "share"])
        fields = {"platform": rng.choice(ODD[:5]), "campaign": rng.choice([*ODD, None])}
        if kind == "mention":
            fields["sentiment"] = rng.uniform(-1, 1)
            fields["hashtags"] = [rng.choice(ODD[:4])]
            fields["author"] = {"id": rng.choice(ODD), "followers": rng.randrange(1, 10**6)}
        if kind == "conversion":
            fields |= {"value": 10.0, "currency": "EUR"}
        if fields["campaign"] is None or fields["campaign"] == "":
            del fields["campaign"]
        events.append(event(kind, ts=T0 + k, brand=rng.choice(["acme", 'b"r\\and']), **fields))
    h = Harness(1)
    h.produce_events(events, envelope=100)
    worker = h.start_worker([0])
    asyncio.run(h.drain(worker, 10))
    registry = CollectorRegistry()
    registry.register(KpiCollector(worker.core.state, h.config))
    return registry


def test_the_kpis_render_as_generate_latest_renders_them() -> None:
    registry = kpi_registry()
    expected = generate_latest(registry)
    assert expected.count(b"\n") > 1000 and b'\\"' in expected and b"\\n" in expected
    assert render(registry) == expected


def test_counters_histograms_and_odd_gauges_too() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.events.labels("acme", 'x"y', "like").inc(3)
    metrics.batch_seconds.observe(0.2)
    metrics.rejected.labels("late").inc()

    class Odd:
        def collect(self):  # type: ignore[no-untyped-def]
            empty = GaugeMetricFamily("socialpulse_empty", "No samples.\nTwo lines \\ here")
            yield empty
            bare = GaugeMetricFamily("socialpulse_bare", "No labels.")
            bare.add_metric([], float("inf"))
            yield bare
            timed = GaugeMetricFamily("socialpulse_timed", "A timestamp.", labels=["b"])
            timed.add_metric(["x"], 1.5, timestamp=T0)
            yield timed
            nan = GaugeMetricFamily("socialpulse_nan", "NaN and big.", labels=["z", "a"])
            nan.add_metric(["1", "2"], float("nan"))
            nan.add_metric(["3", "4"], 1e22)
            yield nan

    metrics.registry.register(Odd())  # type: ignore[arg-type]
    assert render(metrics.registry) == generate_latest(metrics.registry)
