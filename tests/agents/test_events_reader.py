"""The events reader commits positions only for partitions it restored and sought in the
current generation: a commit in between would carry the last generation's positions (a
broker that came back empty would then be asked for offsets past its end, and the
embedded broker answers such a fetch with nothing, forever). It commits only what the
state log covers, and hands the pipeline no record fetched before the seek."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from socialpulse.agents.events_reader import EMPTY_SETTLE, EventsReader, _Rebalance
from socialpulse.agents.settings import WorkerSettings

TOPIC = "events"


class Consumer:
    def __init__(self, tps: set[TopicPartition]) -> None:
        self.tps = tps
        self.commits: list[dict[TopicPartition, int]] = []
        self.sought: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return self.tps

    def highwater(self, tp: TopicPartition) -> int | None:
        return {0: 10, 1: 50, 2: 0}.get(tp.partition)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought[tp] = offset

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    async def stop(self) -> None:
        self.commits.append({})  # marks the group left


class Pipeline:
    """Positions of the last generation until ``restored`` is set."""

    def __init__(self) -> None:
        self.restored = asyncio.Event()
        self.offsets: dict[int, int | None] = {0: 10, 1: 20}

    def next_offset(self, partition: int) -> int | None:
        return self.offsets.get(partition)

    def durable_offset(self, partition: int) -> int | None:
        return self.offsets.get(partition)

    def waiting(self) -> set[int]:
        return {0, 1, 2}

    async def on_revoked(self, revoked: set[Any]) -> None:
        pass

    async def on_assigned(self, assigned: set[Any]) -> None:
        pass

    async def warm(self) -> None:
        pass

    async def resume_positions(self, tps: set[TopicPartition]) -> dict[TopicPartition, int]:
        await self.restored.wait()
        self.offsets = {0: None, 1: 3}  # the new broker's state log: nothing for 0
        return {TopicPartition(TOPIC, 1): 3}


def test_no_commit_between_a_rebalance_and_the_restore() -> None:
    async def run() -> None:
        tps = {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)}
        pipeline = Pipeline()
        reader = EventsReader(WorkerSettings(events_topic=TOPIC), pipeline)  # type: ignore[arg-type]
        consumer = Consumer(tps)
        reader.consumer = consumer  # type: ignore[assignment]
        listener = _Rebalance(reader)
        await listener.on_partitions_revoked(tps)
        assigning = asyncio.ensure_future(listener.on_partitions_assigned(tps))
        await asyncio.sleep(0)
        await reader._commit(force=True)  # the read loop, while the restore is under way
        assert consumer.commits == []
        pipeline.restored.set()
        await assigning
        await reader._commit(force=True)
        assert consumer.commits == [{TopicPartition(TOPIC, 1): 3}]
        assert consumer.sought == {TopicPartition(TOPIC, 1): 3}

    asyncio.run(run())


@dataclass
class Record:
    offset: int
    value: bytes = b"{}"
    headers: tuple[tuple[str, bytes], ...] = ()


def test_records_fetched_before_the_seek_are_not_counted() -> None:
    """aiokafka starts fetching a new partition from the group's committed offset while
    the assignment callback is still restoring it; a committed offset ahead of the state
    log (a worker stopped in the middle of a batch) would then skip the offsets between.
    Records returned during the assignment are held back, and the partitions are sought
    at its end: to its state's offset, or back to the first record held back."""

    async def run() -> None:
        tp0, tp1, tp2 = (TopicPartition(TOPIC, p) for p in (0, 1, 2))
        pipeline = Pipeline()
        reader = EventsReader(WorkerSettings(events_topic=TOPIC), pipeline)  # type: ignore[arg-type]
        consumer = Consumer({tp0, tp1, tp2})
        reader.consumer = consumer  # type: ignore[assignment]
        listener = _Rebalance(reader)
        await listener.on_partitions_revoked({tp0, tp1, tp2})
        assigning = asyncio.ensure_future(listener.on_partitions_assigned({tp0, tp1, tp2}))
        await asyncio.sleep(0)
        fetched = {tp0: [Record(40), Record(41)], tp1: [Record(7)]}
        assert reader.messages(fetched) == []  # the restore is under way
        pipeline.restored.set()
        await assigning
        # tp1: where its state resumes; tp0 (no state): back to the first record held
        # back; tp2: nothing fetched, left where the consumer has it
        assert consumer.sought == {tp1: 3, tp0: 40}
        got = reader.messages(
            {tp1: [Record(3), Record(4, headers=(("socialpulse-source", b"0"),))]}
        )
        assert [(m.partition, m.offset, m.source) for m in got] == [(1, 3, None), (1, 4, 0)]

    asyncio.run(run())


def test_commits_what_the_state_log_covers() -> None:
    """The committed offset is the state log's, not the position a batch in progress
    has decoded up to."""

    async def run() -> None:
        tp0 = TopicPartition(TOPIC, 0)
        pipeline = Pipeline()
        pipeline.durable_offset = lambda partition: 5  # type: ignore[method-assign]
        reader = EventsReader(WorkerSettings(events_topic=TOPIC), pipeline)  # type: ignore[arg-type]
        consumer = Consumer({tp0})
        reader.consumer = consumer  # type: ignore[assignment]
        reader.resumed = {tp0}
        await reader._commit(force=True)
        assert consumer.commits == [{tp0: 5}]  # next_offset says 10

    asyncio.run(run())


def test_partitions_read_to_their_end_are_let_go() -> None:
    """A just-assigned partition that has nothing more to read is no longer waited for;
    one with records in this fetch, behind its high watermark, or that never held a
    record (a producer's first records may not have reached it yet), still is."""
    tp0, tp1, tp2 = (TopicPartition(TOPIC, p) for p in range(3))
    pipeline = Pipeline()  # next offsets: 0 -> 10, 1 -> 20, 2 -> none
    reader = EventsReader(WorkerSettings(events_topic=TOPIC), pipeline)  # type: ignore[arg-type]
    reader.consumer = Consumer({tp0, tp1, tp2})  # type: ignore[assignment]
    reader.resumed = {tp0, tp1, tp2}
    assert reader.caught_up({}) == {0}  # 0: at its high watermark 10; 1: 20 of 50; 2: empty
    # 2 never held a record: let go only by a fetch begun a while after the first records
    reader._traffic_at = 100.0
    assert reader.caught_up({}, started=100.5) == {0}
    assert reader.caught_up({}, started=100.0 + EMPTY_SETTLE) == {0, 2}
    reader.consumer = Consumer({tp0, tp1})  # type: ignore[assignment]
    reader.resumed = {tp0, tp1}
    assert reader.caught_up({tp0: [Record(10)]}) == set()  # 0 brought records
    reader.resumed = {tp1}
    assert reader.caught_up({}) == set()  # 0 not sought yet


def test_partitions_with_records_beyond_the_fetch_are_behind() -> None:
    """A partition is behind while its high watermark is past the fetch's last offset (or,
    with nothing fetched, past the counted position). The embedded broker reports "base
    offset of the last batch + 1": past the position exactly while that batch is unread."""
    tp0, tp1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
    pipeline = Pipeline()  # next offsets: 0 -> 10, 1 -> 20; high watermarks 10 and 50
    reader = EventsReader(WorkerSettings(events_topic=TOPIC), pipeline)  # type: ignore[arg-type]
    reader.consumer = Consumer({tp0, tp1})  # type: ignore[assignment]
    reader.resumed = {tp0, tp1}
    assert reader.behind({}) == {1}  # 0: at its high watermark; 1: 20 of 50
    assert reader.behind({tp1: [Record(20), Record(48)]}) == {1}  # 49 of 50
    assert reader.behind({tp1: [Record(20), Record(49)]}) == set()  # read to 50
    # a multi-record batch at 49..60 on the embedded broker: high watermark 50 while
    # it is unread (behind), and still 50 once it is fetched whole (not behind)
    assert reader.behind({tp1: [Record(49), Record(60)]}) == set()
    pipeline.offsets[0] = 4
    assert reader.behind({}) == {0, 1}
    reader.resumed = {tp1}
    assert reader.behind({}) == {1}  # 0 not sought yet: its position is not known


def test_stopping_commits_and_leaves_the_group() -> None:
    """The reader stops first (the app's services stop in reverse order of start):
    then the pipeline's services (``test_app``) deliver queued alerts and stop helpers."""

    async def run() -> None:
        tp0 = TopicPartition(TOPIC, 0)
        pipeline = Pipeline()
        reader = EventsReader(WorkerSettings(events_topic=TOPIC), pipeline)  # type: ignore[arg-type]
        consumer = Consumer({tp0})
        reader.consumer = consumer  # type: ignore[assignment]
        reader.resumed = {tp0}
        await reader.on_stop()
        assert consumer.commits == [{tp0: 10}, {}]
        assert reader.consumer is None

    asyncio.run(run())
