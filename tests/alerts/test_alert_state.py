"""The detectors' state is persisted with the KPI state: after a restart, a crash at any
step of a batch, or a partition moving to another worker, a firing alert is not sent
again, and its resolve carries the id of its fire."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

import pytest

from socialpulse.agents.persisted import ALERTS, alert_key, replay
from socialpulse.agents.testing import CRASH_POINTS, Harness, Worker
from socialpulse.alerts.model import Alert
from tests.alert_scenarios import stream

T0 = 1_700_000_000.0
BURST = T0 + 60 * 40
BATCH = 40  # messages a batch: about a minute of the stream


def events() -> list[dict[str, Any]]:
    """A negative burst for acme after 40 calm minutes, and a calm control brand."""
    out = stream("acme", T0, 40, seed=1)
    out += stream("acme", BURST, 8, seed=2, mentions=40, negative_share=0.8, tag="burst")
    out += stream("acme", BURST + 480, 20, seed=3, tag="after")
    out += stream("calmco", T0, 68, seed=4)
    return sorted(out, key=lambda ev: ev["ts"])


EVENTS = events()


def incident(alerts: list[Alert]) -> list[tuple[str, str, str, float, str]]:
    return sorted((a.brand, a.rule, a.state, a.event_time, a.id) for a in alerts)


def harness(**options: Any) -> Harness:
    h = Harness(2, alerts=True, **options)
    h.produce_events(EVENTS, envelope=1)
    return h


@cache
def reference() -> list[tuple[str, str, str, float, str]]:
    h = harness()
    worker = h.start_worker([0, 1])
    asyncio.run(h.drain(worker, BATCH))
    return incident(worker.alerts)


def run_until_firing(h: Harness, worker: Worker) -> None:
    """Batches until the burst's alert has fired (and a few more)."""
    while not any(a.rule == "negative_sentiment" for a in worker.alerts):
        assert asyncio.run(h.step(worker, BATCH)), "the burst never fired"
    for _ in range(2):
        asyncio.run(h.step(worker, BATCH))


def test_the_reference_fires_and_resolves_the_burst_once() -> None:
    ref = reference()
    burst = [r for r in ref if r[:2] == ("acme", "negative_sentiment")]
    assert [r[2] for r in burst] == ["firing", "resolved"]
    assert burst[0][4] == burst[1][4]  # one id for the incident
    assert 0 < burst[0][3] - BURST <= 60
    assert not [r for r in ref if r[0] == "calmco"]


def test_a_restart_while_firing_neither_fires_again_nor_resolves_under_another_id() -> None:
    h = harness()
    first = h.start_worker([0, 1])
    run_until_firing(h, first)
    second = h.start_worker([0, 1])  # the first one is gone: killed between two batches
    asyncio.run(h.drain(second, BATCH))
    assert not [a for a in second.alerts if a.state == "firing" and a.rule == "negative_sentiment"]
    resolved = [a for a in second.alerts if a.rule == "negative_sentiment"]
    fired = [a for a in first.alerts if a.rule == "negative_sentiment"]
    assert [a.state for a in resolved] == ["resolved"] and resolved[0].id == fired[0].id
    assert incident(first.alerts + second.alerts) == reference()


@cache
def firing_batch() -> int:
    """How many batches of ``BATCH`` it takes until the burst's alert has fired."""
    h = harness()
    worker = h.start_worker([0, 1])
    while not any(a.rule == "negative_sentiment" for a in worker.alerts):
        assert asyncio.run(h.step(worker, BATCH)), "the burst never fired"
    return worker.batches


@pytest.mark.parametrize("after", [0, 1], ids=["the-fire-s-batch", "the-next-batch"])
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_at_any_step_sends_an_alert_again_at_most_with_its_own_id(
    point: str, after: int
) -> None:
    """A batch re-read after a crash raises its alerts again, identical (at least once);
    nothing else changes."""
    h = harness()
    first = h.start_worker([0, 1])
    for _ in range(firing_batch() - 1 + after):
        asyncio.run(h.step(first, BATCH))
    asyncio.run(h.step(first, BATCH, crash_at=point))  # dies there; a new worker takes over
    assert not first.alive
    second = h.start_worker([0, 1])
    asyncio.run(h.drain(second, BATCH))
    assert sorted(set(incident(first.alerts + second.alerts))) == reference()
    fired = [a for a in first.alerts + second.alerts if a.rule == "negative_sentiment"]
    assert len(fired) <= 3  # its fire sent again at most once, by the re-read batch


def test_the_detectors_state_moves_with_a_partition() -> None:
    h = harness()
    a = h.start_worker([0, 1], name="a")
    run_until_firing(h, a)
    owner = next(p for p in (0, 1) if any(b == "acme" for b in a.core.state.brands)
                 and a.core.owner("acme") == p)  # fmt: skip
    h.revoke(a, [owner])
    b = h.start_worker([owner], name="b")
    assert b.engine is not None and b.engine.lifecycle.is_firing("acme", "negative_sentiment")
    assert a.engine is not None and "acme" not in a.engine.watches
    asyncio.run(h.drain(b, BATCH))
    asyncio.run(h.drain(a, BATCH))
    assert incident(a.alerts + b.alerts) == reference()


def test_the_state_log_holds_one_alert_key_per_brand_also_after_a_snapshot() -> None:
    h = harness(snapshot_every=5)
    worker = h.start_worker([0, 1])
    asyncio.run(h.drain(worker, BATCH))
    for partition in (0, 1):
        data = replay(h.state_log[partition]).data
        keys = [k for k in data if k.startswith(ALERTS)]
        brands = sorted(b for b in worker.core.state.brands if worker.core.owner(b) == partition)
        assert keys == [alert_key(b) for b in brands]
