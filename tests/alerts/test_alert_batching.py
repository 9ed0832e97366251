"""The detectors step through event time: however a stream is cut into batches, and in
whatever envelopes it comes, the same alerts (rule, brand, event time and figures)."""

from __future__ import annotations

import asyncio
import random
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from socialpulse.agents.testing import Harness
from socialpulse.alerts.model import Alert
from tests.alert_scenarios import stream

T0 = 1_700_000_000.0
BURST = T0 + 60 * 40  # after 40 minutes of calm history


def events() -> list[dict[str, Any]]:
    """Two brands, 60 minutes of event time: a negative burst, and a calm control that goes
    quiet for 20 minutes; arriving out of order by up to 90 s (late events fill minutes
    already judged)."""
    out = stream("acme", T0, 40, seed=1)
    out += stream("acme", BURST, 6, seed=2, mentions=40, negative_share=0.8, tag="burst")
    out += stream("acme", BURST + 360, 14, seed=3, tag="after")
    out += stream("calmco", T0, 25, seed=4)  # then 20 minutes without a single event
    out += stream("calmco", T0 + 60 * 45, 15, seed=5, tag="back")
    rng = random.Random(0)
    return sorted(out, key=lambda ev: ev["ts"] + 90 * rng.random())


EVENTS: list[dict[str, Any]] = events()


def alerts_of(sizes: list[int], envelope: int, chunks: list[list[dict[str, Any]]]) -> list[Any]:
    """Produce ``chunks`` one after the other, each read to the end in batches of ``sizes``;
    the alerts, as comparable tuples, brand by brand (each brand's in the order raised:
    how brands interleave depends on the batches)."""
    h = Harness(4, alerts=True)
    worker = h.start_worker(range(4))
    for chunk in chunks:
        h.produce_events(chunk, envelope=envelope)
        asyncio.run(h.drain(worker, sizes))
    return sorted((key(a) for a in worker.alerts), key=lambda k: k[0])


def key(alert: Alert) -> tuple[Any, ...]:
    body = alert.to_dict()
    return (body.pop("brand"), body.pop("rule"), body.pop("state"), body.pop("event_time"), body)


@cache
def reference() -> list[Any]:
    """One event a batch, each in its own message: what 1x real time looks like."""
    return alerts_of([1], 1, [EVENTS])


def test_the_reference_catches_the_burst_and_the_silence() -> None:
    fired = [a for a in reference() if a[2] == "firing"]
    assert {(brand, rule) for brand, rule, *_ in fired} >= {
        ("acme", "negative_sentiment"),
        ("calmco", "source_silence"),  # judged at steps inside the gap, in event time
    }
    assert all(brand == "acme" or rule == "source_silence" for brand, rule, *_ in fired)
    first = min(at for _brand, rule, _state, at, _ in fired if rule == "negative_sentiment")
    assert 0 < first - BURST <= 60


@settings(deadline=None, max_examples=25, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 3000), min_size=1, max_size=5),
    envelope=st.sampled_from([1, 7, 200]),
)
def test_any_batching_gives_the_same_alerts(sizes: list[int], envelope: int) -> None:
    assert alerts_of(sizes, envelope, [EVENTS]) == reference()


def test_all_at_once_gives_the_same_alerts() -> None:
    """The whole stream in one batch of 200-event envelopes: a backfill at full speed."""
    assert alerts_of([len(EVENTS)], 200, [EVENTS]) == reference()


def test_a_burst_in_150_minutes_of_history_in_one_batch_or_minute_by_minute() -> None:
    start = T0 + 60 * 120
    history = stream("acme", T0, 120, seed=5)
    history += stream("acme", start, 8, seed=6, mentions=40, negative_share=0.8, tag="burst")
    history += stream("acme", start + 480, 22, seed=7, tag="after")
    history.sort(key=lambda ev: ev["ts"])
    minutes: dict[int, list[dict[str, Any]]] = {}
    for ev in history:
        minutes.setdefault(int((ev["ts"] - T0) // 60), []).append(ev)
    live = alerts_of([10_000], 1, [minutes[m] for m in sorted(minutes)])
    backfill = alerts_of([len(history)], 200, [history])
    assert backfill == live
    fired = [at for _b, rule, state, at, _ in live if rule == "negative_sentiment"]
    assert fired and 0 < fired[0] - start <= 60


def test_the_detectors_read_a_batch_in_arrival_order_when_texts_are_scored_apart() -> None:
    """The core counts a batch's texts after its other events while a helper scores them;
    the detectors still get the events in the order they came."""
    from tests.fakes import event

    def enricher(texts: list[dict[str, Any]]) -> Any:
        async def finish() -> None:
            for ev in texts:
                ev.update(sentiment=-0.5, lang="en", hashtags=[])

        return finish()

    h = Harness(1, enricher=enricher)
    stamps = [T0 + 5 * k for k in range(30)]
    h.produce_events(
        [
            event("mention", ts=ts, text="bad", platform="x") if k % 3 else event(ts=ts, count=5)
            for k, ts in enumerate(stamps)
        ],
        envelope=30,
    )
    worker = h.start_worker([0])
    batch = h.next_batch(worker, 1)
    out = asyncio.run(worker.core.process(batch))
    assert [ev["ts"] for ev in out.accepted] == stamps


def test_the_detectors_totals_stay_bounded_with_late_events() -> None:
    """Events up to 9 minutes late, for 6 hours: the detectors keep their hold, no more."""
    from socialpulse.alerts.detector import AlertEngine
    from socialpulse.streams.validation import validate_event
    from tests.fakes import event

    engine = AlertEngine(clock=lambda: 0.0)
    for k in range(6 * 360):
        ts = T0 + 10 * k
        engine.detect(
            [validate_event(event("mention", ts=t, platform="x")) for t in (ts, ts - 540)]
        )
    watch = engine.watches["acme"]
    assert len(watch.steps) <= engine.hold_steps + 1
    assert len(watch.minutes) <= engine.hold + 1


def _first_batch_state(events: list[dict[str, Any]], batch_size: int) -> dict[str, Any]:
    """The detectors' state of brand ``b`` once ``events`` are read in batches of
    ``batch_size`` messages (one event a message)."""
    from socialpulse.agents.persisted import alert_record

    h = Harness(1, alerts=True, clock=lambda: T0 + 3600)
    h.produce_events(events, envelope=1)
    worker = h.start_worker([0])
    asyncio.run(h.drain(worker, batch_size, settle=False))
    watch = worker.engine.watches["b"]
    record = alert_record(worker.engine, "b")
    return {
        "closed": watch.closed,
        "since": watch.since,
        "learned": record["c"] if record else None,
        "minutes": sorted(watch.minutes),
    }


def test_a_brands_first_batch_seeds_nothing_however_it_is_cut() -> None:
    """A brand the KPI state begins in a batch has no minutes from before it: the
    detectors start from nothing, in one batch as one event at a time. (Seeding them
    from the buckets less the batch's events left float residues of large
    negative_exposure sums, which some batchings took for history.)"""
    for seed in range(60):  # 6 of these failed so (17, 25, 26, 43, 50, ...)
        rng = random.Random(seed)
        evs: list[dict[str, Any]] = [
            {
                "id": f"m{k}",
                "brand": "b",
                "kind": "mention",
                "ts": T0 + 1 + k,
                "platform": rng.choice(["x", "ig", "fb"]),
                "text": "bad",
                "sentiment": -round(rng.uniform(0.06, 1), 2),
                "author": {"id": f"u{k}", "followers": rng.randrange(10**8, 7 * 10**8)},
            }
            for k in range(20)
        ]
        evs.append({"id": "later", "brand": "b", "kind": "like", "ts": T0 + 150})
        assert _first_batch_state(evs, 1000) == _first_batch_state(evs, 1), seed
