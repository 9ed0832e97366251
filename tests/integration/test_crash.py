"""Crash recovery and failover, exact: a worker killed with SIGKILL at any moment and
restarted ends with the KPIs of a worker that never stopped.

Every test here feeds the same corpus: 15 minutes of the synthetic stream (about 9k events
of 6 brands, every kind, texts to score), cut into keyed envelopes and single events, with
2 % of the messages sent twice as a retrying producer would. A reference worker consumes it
once without interruption; each test's worker is killed on the way, and at the end its
KPI series must equal the reference's: same series, same values. The pipeline's own
counters (events, duplicates, alerts) are per process and not compared.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from socialpulse.agents.processes import free_port
from socialpulse.streams import codec
from socialpulse.streams.generate import history
from socialpulse.streams.generator import SyntheticStream
from socialpulse.streams.partitioning import brand_partition
from tests.integration.conftest import Samples, Stack

pytestmark = pytest.mark.integration

PARTITIONS = 4
#: per-process pipeline series, not KPIs: they restart from zero with the process
NOT_KPIS = ("socialpulse_events_", "socialpulse_alert")

Message = tuple[bytes, bytes, int]  # key, value, partition


def corpus(seed: int = 8) -> list[Message]:
    """The messages every test sends: envelopes of 1-60 events per brand, some twice."""
    rng = random.Random(seed)
    stream = SyntheticStream(seed=seed, brands=6)
    end = time.time() - 5
    messages: list[Message] = []
    for _t, events in history(stream, rate=22.0, start=end - 900, end=end):
        by_brand: dict[str, list[dict[str, object]]] = {}
        for event in events:
            by_brand.setdefault(str(event["brand"]), []).append(event)
        for brand, items in by_brand.items():
            key = brand.encode()
            partition = brand_partition(brand, PARTITIONS)
            while items:
                take = rng.choice((1, 1, 5, 20, 60))
                chunk, items = items[:take], items[take:]
                value = codec.dumps(chunk[0] if len(chunk) == 1 else chunk)
                messages.append((key, value, partition))
                if rng.random() < 0.02:  # a producer retry: the same message again
                    messages.append((key, value, partition))
    return messages


def send(bootstrap: str, topic: str, messages: list[Message], seconds: float = 0.0) -> None:
    """Send ``messages`` to ``topic`` with librdkafka, spread over ``seconds``."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    started = time.monotonic()
    for i, (key, value, partition) in enumerate(messages):
        producer.produce(topic, value, key=key, partition=partition)
        if seconds and i % 200 == 0:
            producer.poll(0)
            ahead = started + seconds * i / len(messages) - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    assert producer.flush(60) == 0


def kpi_series(samples: Samples) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The KPI series of a scrape: every series with a brand, minus per-process counters."""
    return {
        key: v
        for key, v in samples.items()
        if key[0].startswith("socialpulse_")
        and not key[0].startswith(NOT_KPIS)
        and not key[0].endswith("_created")
        and any(label == "brand" for label, _ in key[1])
    }


def events_in(messages: list[Message]) -> int:
    return sum(
        len(v) if isinstance(v := codec.loads(value), list) else 1 for _k, value, _p in messages
    )


def report(what: str, stack: Stack, messages: list[Message], reference: dict) -> None:
    """One line of figures for the notes (``pytest -s``)."""
    samples = stack.scrape()
    replayed = sum(
        v for (name, _l), v in samples.items() if name == "socialpulse_events_duplicate_total"
    )
    dropped = dropped_records(samples)
    print(
        f"\n{what}: {events_in(messages):,} events in {len(messages):,} messages sent; "
        f"{len(reference):,} KPI series equal to the uninterrupted run (0 lost, 0 counted "
        f"twice); last process recognised {replayed:,.0f} replayed or re-sent events by id, "
        f"dropped {dropped:,.0f} changelog records of an unfinished batch"
    )


def dropped_records(samples: Samples) -> float:
    """Changelog records of an unfinished batch the worker dropped on recovery."""
    return samples.get(("socialpulse_changelog_dropped_records_total", frozenset()), 0)


def differences(got: dict, want: dict) -> list[str]:
    out = []
    for key in sorted(set(got) | set(want), key=str):
        a, b = got.get(key), want.get(key)
        if a is None or b is None or abs(a - b) > 1e-6 * max(1.0, abs(b)):
            out.append(f"{key[0]}{dict(key[1])}: got {a}, want {b}")
    return out


def explain(diff: list[str]) -> str:
    """How many series differ per metric, then the first differences of each metric."""
    by_name: dict[str, list[str]] = {}
    for line in diff:
        by_name.setdefault(line.split("{", 1)[0], []).append(line)
    head = ", ".join(f"{name}: {len(lines)}" for name, lines in by_name.items())
    samples = [line for lines in by_name.values() for line in lines[:3]]
    return f"{len(diff)} series differ ({head})\n" + "\n".join(samples[:60])


def wait_equal(stack: Stack, want: dict, seconds: float = 90, port: int | None = None) -> list[str]:
    """Wait until the worker's KPI series equal ``want``; the differences left otherwise."""
    deadline = time.monotonic() + seconds
    diff = ["never scraped"]
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            diff = differences(kpi_series(stack.scrape(port)), want)
        if not diff:
            return []
        time.sleep(1)
    return diff


@pytest.fixture(scope="module")
def messages() -> list[Message]:
    return corpus()


@pytest.fixture(scope="module")
def reference(
    broker: str, messages: list[Message], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    """The KPI series of a worker that consumed the corpus without interruption."""
    stack = Stack(bootstrap=broker, workdir=tmp_path_factory.mktemp("reference"))
    try:
        stack.start_worker()
        send(broker, stack.events_topic, messages)
        last: dict = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # settled: two scrapes 3 s apart agree
            now = kpi_series(stack.scrape())
            if now and now == last:
                break
            last = now
            time.sleep(3)
        assert last, "the reference worker exported no KPIs"
        report("reference", stack, messages, last)
        yield last
    finally:
        stack.stop()


def test_reference_is_not_empty(reference: dict, messages: list[Message]) -> None:
    brands = {dict(labels)["brand"] for _name, labels in reference}
    assert len(brands) == 6
    assert len(messages) > 2_000  # about 5,000; the stream follows the time of day
    assert len(reference) > 1_000  # series compared by every test below


@pytest.mark.parametrize("point", ["before_write", "mid_write", "after_write"])
def test_kill_at_a_chosen_point_of_a_batch_write(
    stack: Stack, reference: dict, messages: list[Message], point: str
) -> None:
    """SIGKILL inside batch 6's write: before it, halfway (records on the broker, no
    marker), or after it (offsets not committed). The restarted worker is exact."""
    worker = stack.start_worker(SOCIALPULSE_FAULT_KILL=f"{point}:6", SOCIALPULSE_BATCH_MAX="200")
    send(stack.bootstrap, stack.events_topic, messages, seconds=4)
    assert worker.wait(60) == -signal.SIGKILL, stack.log_tail()
    assert f"fault_kill {point} at batch 6" in stack.log_tail()
    stack.start_worker()
    diff = wait_equal(stack, reference)
    assert not diff, explain(diff)
    dropped = dropped_records(stack.scrape())
    if point == "mid_write":
        assert dropped > 0, "the unfinished batch was not dropped"
    else:  # the killed worker had flushed: every partition's changelog ends on a marker
        assert dropped == 0, "a batch written before the kill was cut short"
    report(f"kill {point}", stack, messages, reference)


def test_killed_at_random_moments_while_busy_and_idle(
    stack: Stack, reference: dict, messages: list[Message]
) -> None:
    """Three SIGKILLs at seeded random moments while the corpus streams in over 24 s, and
    one once everything is in and counted (idle); each time the worker is restarted."""
    rng = random.Random(3)
    stack.start_worker()
    sender = threading.Thread(
        target=send, args=(stack.bootstrap, stack.events_topic, messages, 24.0)
    )
    sender.start()
    kills = 0
    while sender.is_alive() and kills < 3:
        time.sleep(rng.uniform(1.0, 5.0))
        stack.procs[-1].send_signal(signal.SIGKILL)
        stack.procs[-1].wait(10)
        kills += 1
        stack.start_worker()
    sender.join()
    assert kills >= 2, "the sender finished before the kills; make the corpus longer"
    diff = wait_equal(stack, reference)
    assert not diff, explain(diff)
    report(f"{kills} random kills while busy", stack, messages, reference)
    stack.procs[-1].send_signal(signal.SIGKILL)  # idle: nothing in flight
    stack.procs[-1].wait(10)
    stack.start_worker()
    diff = wait_equal(stack, reference)
    assert not diff, explain(diff)
    report("then a kill while idle", stack, messages, reference)


def test_failover_the_survivor_takes_over_exactly(
    stack: Stack, reference: dict, messages: list[Message], tmp_path: Path
) -> None:
    """Two workers share the partitions; one is killed mid-stream; the survivor takes its
    partitions, rebuilds their brands from the changelog, and ends exact for every brand."""
    stack.start_worker()
    second = free_port()
    victim = stack.start_worker(SOCIALPULSE_WEB_PORT=str(second))
    time.sleep(6)  # the rebalance the second worker started
    sender = threading.Thread(
        target=send, args=(stack.bootstrap, stack.events_topic, messages, 16.0)
    )
    sender.start()
    time.sleep(6)
    held = {dict(labels)["brand"] for _name, labels in kpi_series(stack.scrape(second))}
    assert held, "the second worker held no brand before it was killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    sender.join()
    diff = wait_equal(stack, reference, seconds=120)
    assert not diff, explain(diff)
    report(f"failover ({len(held)} brands moved)", stack, messages, reference)
