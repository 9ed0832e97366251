"""Consumer lag: high watermark minus the committed position, per assigned partition."""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client import CollectorRegistry, generate_latest

from socialpulse.agents.lag import ConsumerLagCollector, partition_lags


class TP(NamedTuple):
    topic: str
    partition: int


EVENTS = "social-events"


def test_lag_is_highwater_minus_the_next_position() -> None:
    assigned = {TP(EVENTS, 0), TP(EVENTS, 1), TP(EVENTS, 2), TP("changelog", 0)}
    ends = {TP(EVENTS, 0): 100, TP(EVENTS, 1): 50, TP(EVENTS, 2): None, TP("changelog", 0): 9}
    committed = {TP(EVENTS, 0): 89, TP(EVENTS, 1): None}
    lags = partition_lags(assigned, ends.get, committed, EVENTS)
    # 100 - (89 + 1); no commit yet: all 50; no high watermark yet: left out; other topic: out
    assert lags == {0: 10, 1: 50}


def test_lag_is_never_negative() -> None:
    lags = partition_lags({TP(EVENTS, 0)}, lambda tp: 5, {TP(EVENTS, 0): 9}, EVENTS)
    assert lags == {0: 0}


class FakeConsumer:
    _committed_offset = {TP(EVENTS, 3): 6}

    def assignment(self) -> set[TP]:
        return {TP(EVENTS, 3)}

    def highwater(self, tp: TP) -> int:
        return 10


class BrokenConsumer(FakeConsumer):
    def assignment(self) -> set[TP]:
        raise RuntimeError("not started")


def render(consumer: object | None) -> str:
    registry = CollectorRegistry()
    registry.register(ConsumerLagCollector(lambda: consumer, EVENTS))
    return generate_latest(registry).decode()


def test_collector_exports_the_gauge_per_partition() -> None:
    text = render(FakeConsumer())
    assert 'socialpulse_consumer_lag{partition="3",topic="social-events"} 3.0' in text


def test_no_consumer_or_a_failing_one_exports_no_sample_and_does_not_raise() -> None:
    for consumer in (None, BrokenConsumer()):
        text = render(consumer)
        assert "# TYPE socialpulse_consumer_lag gauge" in text
        assert "socialpulse_consumer_lag{" not in text
