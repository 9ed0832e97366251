"""``/metrics``'s renderer writes what ``prometheus_client.generate_latest`` writes, byte
for byte, KPI gauges and the worker's counters and histograms alike."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.utils import floatToGoString

from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.exposition import GaugeRows, _number, render
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


def test_rows_and_names_outside_the_legacy_set_render_as_generate_latest_renders_them() -> None:
    class Rows:
        def collect(self):  # type: ignore[no-untyped-def]
            rows = GaugeRows("socialpulse_rows", "Rows.", labels=["z", "a", "m"])
            rows.add_metric(["1", 'q"2', "x\\y"], 2.0)
            rows.add_metric(["", "ünï", "3"], float("-inf"))
            yield rows
            bare = GaugeRows("socialpulse_bare_rows", "No labels.", labels=[])
            bare.add_metric([], 1e7)
            yield bare
            dotted = GaugeRows("socialpulse.dotted", "A UTF-8 name.", labels=["a.b"])
            dotted.add_metric(["v"], 1.0)
            yield dotted
            odd_label = GaugeMetricFamily("socialpulse_odd_label", "Label.", labels=["a.b"])
            odd_label.add_metric(["v"], 3.0)
            yield odd_label

    registry = CollectorRegistry()
    registry.register(Rows())  # type: ignore[arg-type]
    expected = generate_latest(registry)
    assert b"socialpulse_dotted" in expected and b"a_b=" in expected
    assert render(registry) == expected


def test_rows_take_no_timestamp_and_the_right_number_of_labels() -> None:
    rows = GaugeRows("socialpulse_rows", "Rows.", labels=["a", "b"])
    with pytest.raises(ValueError, match="timestamp"):
        rows.add_metric(["1", "2"], 1.0, timestamp=T0)
    with pytest.raises(ValueError, match="label values"):
        rows.add_metric(["1"], 1.0)
    rows.add_metric(["1", "2"], 1.0)
    (sample,) = rows.samples
    assert sample.labels == {"a": "1", "b": "2"} and sample.value == 1.0


@given(st.one_of(st.floats(), st.integers(-(10**30), 10**30)))
def test_numbers_are_written_as_float_to_go_string_writes_them(value: float) -> None:
    assert _number(value) == floatToGoString(value)


@given(st.lists(st.one_of(st.floats(), st.integers(-(10**30), 10**30)), min_size=1, max_size=5))
@example([1234567.5, 999999.9, 12345678.0, 1e22, -2.5e7, 3, 0.1, float("nan")])
def test_row_values_are_written_as_generate_latest_writes_them(values: list[float]) -> None:
    class Rows:
        def collect(self):  # type: ignore[no-untyped-def]
            rows = GaugeRows("socialpulse_rows", "Rows.", labels=["b", "a"])
            for i, value in enumerate(values):
                rows.add_metric([str(i), "x"], value)
            yield rows

    registry = CollectorRegistry()
    registry.register(Rows())  # type: ignore[arg-type]
    assert render(registry) == generate_latest(registry)
