"""BatchWriter: staging per partition, and a changelog record the producer gave up on."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry

from socialpulse.agents.changelog import COMMIT, BatchWriter
from socialpulse.agents.metrics import Metrics


class RecordingProducer:
    """What the writer hands over, in order; each send returns its delivery future."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None, int]] = []
        self.deliveries: list[asyncio.Future[Any]] = []

    async def send(self, topic: str, key: bytes, value: bytes | None, partition: int, *_: Any):
        self.sent.append((topic, key, value, partition))
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.deliveries.append(delivery)
        return delivery


def writer_with(producer: RecordingProducer) -> tuple[BatchWriter, Metrics]:
    table = SimpleNamespace(
        name="kpi_state",
        app=SimpleNamespace(producer=producer),
        changelog_topic=SimpleNamespace(get_topic_name=lambda: "app-kpi_state-changelog"),
    )
    metrics = Metrics(CollectorRegistry())
    return BatchWriter(table, metrics), metrics  # type: ignore[arg-type]


async def test_a_batch_is_handed_over_before_send_returns_each_partition_closed() -> None:
    producer = RecordingProducer()
    writer, _ = writer_with(producer)
    writer.put(1, b"a", b"1")
    writer.put(0, b"b", b"2")
    writer.put(1, b"a", b"3")  # a later put of the same key wins
    writer.put(1, b"c", None)
    assert await writer.send() == 5
    topic = "app-kpi_state-changelog"
    assert producer.sent == [
        (topic, b"a", b"3", 1),
        (topic, b"c", None, 1),
        (topic, COMMIT, b"1", 1),
        (topic, b"b", b"2", 0),
        (topic, COMMIT, b"1", 0),
    ]
    assert writer.writes == {}
    assert await writer.send() == 0  # nothing staged: no marker either


async def test_a_record_the_producer_gave_up_on_is_logged_and_counted(caplog: Any) -> None:
    producer = RecordingProducer()
    writer, metrics = writer_with(producer)
    writer.put(0, b"a", b"1")
    await writer.send()
    producer.deliveries[0].set_result(None)
    producer.deliveries[1].set_exception(TimeoutError("broker away"))
    await asyncio.sleep(0)  # done callbacks run on the loop
    assert metrics.changelog_write_errors._value.get() == 1
    assert "could not be written" in caplog.text
