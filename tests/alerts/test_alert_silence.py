"""The two silences: a platform's, judged in event time, and a whole brand's, by the wall
clock (``AlertEngine.check_silence``)."""

from __future__ import annotations

import asyncio

from socialpulse.agents.testing import Harness
from socialpulse.alerts.rules import Tuning
from tests.alert_scenarios import stream

T0 = 1_700_000_000.0


def run(wall_clock_checks: bool) -> list[tuple[str, str, float]]:
    """Instagram stops for 20 minutes while x goes on, then comes back; one event a batch,
    as a live worker may get them, with the wall clock's check of the whole brand (events
    keep arriving, so it finds the brand not silent) after every batch, or without it."""
    h = Harness(4, alerts=True, tuning=Tuning(silence_after=300.0))
    events = stream("quietco", T0, 60, seed=11)
    events += stream("quietco", T0 + 3600, 20, seed=12, platforms=("x",), tag="x")
    events += stream("quietco", T0 + 4800, 20, seed=13, tag="a")
    h.produce_events(sorted(events, key=lambda ev: ev["ts"]), envelope=1)
    worker = h.start_worker(range(4))
    engine = worker.engine
    assert engine is not None
    while h.pending(worker):
        asyncio.run(h.step(worker, 1))
        if wall_clock_checks:
            worker.alerts += engine.check_silence(worker.core.state.brands)
    return [(a.rule, a.state, a.event_time) for a in worker.alerts]


def test_the_wall_clock_check_leaves_a_platform_silence_to_event_time() -> None:
    """The platform silence fires and resolves at the same event times with the wall
    clock's checks as without them (a resolve from that check carried the watermark of
    whenever it ran, so a live worker and a backtest disagreed)."""
    alerts = run(wall_clock_checks=False)
    assert [(rule, state) for rule, state, _ in alerts] == [
        ("source_silence", "firing"),
        ("source_silence", "resolved"),
    ]
    assert run(wall_clock_checks=True) == alerts
