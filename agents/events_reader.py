"""The events topic, read below Faust's per-message stream.

Faust's stream costs tens of microseconds per message before an agent sees it (its no-op
agent does 11–14k messages/s here), so single-event messages could never reach the
rate the KPI core itself sustains. The worker therefore reads the events topic with one
aiokafka consumer of the group and hands each fetch, as raw records, to the KPI pipeline
as one batch. Faust stays the runtime: it starts and stops this service with the app,
runs the web server, the timers and the producer.

Positions and exactness come from the state log, not from the group's offsets
(``agents.pipeline``): on assignment, each partition is restored and sought to the
offset its state covers. The committed offset is only a hint for tools that read the
group (and for the lag of a partition without state); it is committed about once a
second, after the batches it covers were written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from mode import Service

from socialpulse.agents.batch_core import SourceMessage, forwarded_from
from socialpulse.agents.settings import WorkerSettings
from socialpulse.streams.connection import client_options

log = logging.getLogger("socialpulse.reader")

COMMIT_EVERY = 1.0  # seconds between offset commits (hints)
#: seconds after the first records of an assignment before a fetch may find a partition
#: that never held a record read to its end: one producer's flush may reach the
#: partitions one after the other (measured: milliseconds apart, through the embedded
#: broker), and until then the brands counted wait for the empty ones too
EMPTY_SETTLE = 1.0


class Pipeline(Protocol):
    """What the reader feeds and asks (``agents.pipeline.KpiPipeline``)."""

    @property
    def backlog(self) -> bool: ...

    async def warm(self) -> None: ...

    async def handle(
        self,
        messages: Sequence[SourceMessage],
        caught_up: Iterable[int] = (),
        behind: Iterable[int] = (),
    ) -> None: ...

    async def release(self, caught_up: Iterable[int], behind: Iterable[int] = ()) -> None: ...

    def waiting(self) -> set[int]: ...

    def next_offset(self, partition: int) -> int | None: ...

    def durable_offset(self, partition: int) -> int | None: ...

    async def resume_positions(
        self, tps: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]: ...

    async def on_revoked(self, revoked: set[Any]) -> None: ...

    async def on_assigned(self, assigned: set[Any]) -> None: ...


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, reader: EventsReader) -> None:
        self.reader = reader

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.reader.resumed -= set(revoked)
        await self.reader.pipeline.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.reader.assigned(set(assigned))


class EventsReader(Service):
    """One consumer of the worker's group on the events topic, feeding the pipeline."""

    def __init__(self, settings: WorkerSettings, pipeline: Pipeline, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.pipeline = pipeline
        self.consumer: AIOKafkaConsumer | None = None
        self.ready = asyncio.Event()
        self._last_commit = 0.0
        #: partitions restored and sought in this generation: the only ones whose
        #: positions may be committed (before, the state may still be the last
        #: generation's, and against a broker that came back empty its offsets are wrong)
        self.resumed: set[TopicPartition] = set()
        self._assigning = False  # an assignment callback is restoring and seeking
        #: the first offset of each partition fetched while the callback ran (not counted)
        self._held_back: dict[TopicPartition, int] = {}
        #: when the first records of this assignment were fetched (monotonic clock)
        self._traffic_at: float | None = None
        #: creates the events topic if it does not exist (the app factory sets it)
        self.declare_topic: Callable[[], Awaitable[Any]] | None = None

    # -- what the pipeline and the lag collector read --------------------------------------
    def assignment(self) -> set[TopicPartition]:
        return set(self.consumer.assignment()) if self.consumer is not None else set()

    def partitions(self) -> int | None:
        if self.consumer is None:
            return None
        found = self.consumer.partitions_for_topic(self.settings.events_topic)
        return len(found) if found else None

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.consumer.highwater(tp) if self.consumer is not None else None

    @property
    def _committed_offset(self) -> Mapping[TopicPartition, int | None]:
        """The last counted offset of each assigned partition (the lag's position)."""
        return {
            tp: None if (n := self.pipeline.next_offset(tp.partition)) is None else n - 1
            for tp in self.assignment()
        }

    # -- the service ----------------------------------------------------------------------
    async def on_start(self) -> None:
        settings = self.settings
        if self.declare_topic is not None:  # else a broker may create it with 1 partition
            await self.declare_topic()
        session_ms = int(settings.session_timeout * 1000)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap,
            group_id=settings.app_id,
            client_id=f"{settings.app_id}-events",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(1000, session_ms // 4),
            rebalance_timeout_ms=max(session_ms * 2, 20_000),
            max_poll_interval_ms=max(300_000, session_ms * 10),
            fetch_max_wait_ms=max(1, int(settings.fetch_max_wait * 1000)),
            max_partition_fetch_bytes=max(settings.max_message_bytes * 2, 4_194_304),
            fetch_max_bytes=64 * 1024 * 1024,
            **client_options(settings),
        )
        self.consumer.subscribe([settings.events_topic], listener=_Rebalance(self))
        await self.consumer.start()

    async def on_stop(self) -> None:
        if self.consumer is not None:
            await self._commit(force=True)
            await self.consumer.stop()  # leaves the group: the others rebalance at once
            self.consumer = None
        # then the pipeline's services stop (``KpiPipeline.services``): queued alerts
        # delivered, enrichment helpers shut down, the state log's reader closed

    async def assigned(self, assigned: set[TopicPartition]) -> None:
        """Restore the assigned partitions and seek each to where its state resumes."""
        assert self.consumer is not None
        self.resumed = set()
        self._traffic_at = None
        self._assigning = True
        try:
            await self.pipeline.on_assigned(set(assigned))
            positions = await self.pipeline.resume_positions(assigned)
            for tp, offset in positions.items():
                self.consumer.seek(tp, offset)
            for tp, offset in self._held_back.items():  # no state: back to what was held
                if tp in assigned and tp not in positions:
                    self.consumer.seek(tp, offset)
        finally:
            self._assigning = False
            self._held_back = {}
        self.resumed = set(assigned)
        mine = sorted(tp.partition for tp in assigned if tp.topic == self.settings.events_topic)
        log.info(
            "partitions %s of %s assigned; resuming at %s",
            mine,
            self.settings.events_topic,
            {tp.partition: offset for tp, offset in sorted(positions.items())} or "committed",
        )
        if not self.ready.is_set():
            await self.pipeline.warm()  # the models load while the group joins, mostly
            self.ready.set()
            log.info("Worker ready: reading %s", self.settings.events_topic)

    @Service.task
    async def _read(self) -> None:
        settings = self.settings
        while not self.should_stop:
            consumer = self.consumer
            if consumer is None:
                await self.sleep(0.1)
                continue
            started = time.monotonic()
            try:
                fetched = await consumer.getmany(
                    timeout_ms=int(settings.batch_within * 1000) or 1,
                    max_records=settings.batch_max,
                )
            except KafkaError as exc:  # the broker is away: the health probe says so
                log.debug("fetch failed: %s", exc)
                await self.sleep(0.5)
                continue
            messages = self.messages(fetched)
            if messages and self._traffic_at is None:
                self._traffic_at = time.monotonic()
            caught_up = self.caught_up(fetched, started)
            behind = self.behind(fetched)
            if messages:
                await self.pipeline.handle(messages, caught_up, behind)
            elif caught_up or self.pipeline.backlog != bool(behind):
                await self.pipeline.release(caught_up, behind)
            await self._commit()

    def messages(self, fetched: Mapping[TopicPartition, list[Any]]) -> list[SourceMessage]:
        """The fetched records as the pipeline's batch; none while an assignment is under
        way.

        The consumer starts fetching newly assigned partitions from the group's committed
        offsets while the assignment callback still restores them: records returned then
        are not handed over (counting them would skip the offsets between the committed
        offset and where the state resumes). At its end the callback seeks each partition
        to where its state resumes, or a partition without state back to the first record
        held back, so they are fetched again from the right offset."""
        if self._assigning:
            for tp, records in fetched.items():
                if records:
                    first = min(self._held_back.get(tp, records[0].offset), records[0].offset)
                    self._held_back[tp] = first
            return []
        return [
            SourceMessage(
                tp.topic,
                tp.partition,
                record.offset,
                record.value,
                forwarded_from(record.headers) if record.headers else None,
            )
            for tp, records in fetched.items()
            for record in records
        ]

    def caught_up(
        self, fetched: Mapping[TopicPartition, list[Any]], started: float | None = None
    ) -> set[int]:
        """Partitions the pipeline waits for (just assigned, not read yet) that this fetch
        found read to their end: nothing fetched, and the counted position at the high
        watermark. (The embedded broker may report a high watermark below the end after
        multi-record batches: such a partition is let go early, as if it had no wait.)

        A partition that has never held a record (high watermark 0) is let go only by a
        fetch ``started`` (monotonic clock; default now) ``EMPTY_SETTLE`` seconds after
        the first records of the assignment: a producer's first records may reach the
        partitions one after the other, and a brand counted from the first ones alone
        would find the others' late."""
        waiting = self.pipeline.waiting()
        if not waiting or self.consumer is None:
            return set()
        started = time.monotonic() if started is None else started
        settled = self._traffic_at is not None and started - self._traffic_at >= EMPTY_SETTLE
        done: set[int] = set()
        for tp in self.assignment() & self.resumed:
            if tp.partition not in waiting or fetched.get(tp):
                continue
            high = self.consumer.highwater(tp)
            if high is None or (high == 0 and not settled):
                continue
            if (self.pipeline.next_offset(tp.partition) or 0) >= high:
                done.add(tp.partition)
        return done

    def behind(self, fetched: Mapping[TopicPartition, list[Any]]) -> set[int]:
        """Partitions with records beyond this fetch: the high watermark is past the
        fetch's last offset (or, with nothing fetched, past the counted position).

        The embedded broker reports "base offset of the last batch + 1" after
        multi-record batches, below the end; but batches are fetched whole, so that
        figure is above the position exactly while the last batch is not fetched."""
        if self.consumer is None:
            return set()
        out: set[int] = set()
        for tp in self.assignment() & self.resumed:
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            records = fetched.get(tp)
            position = (
                records[-1].offset + 1 if records else self.pipeline.next_offset(tp.partition)
            )
            if position is not None and position < high:
                out.add(tp.partition)
        return out

    async def _commit(self, force: bool = False) -> None:
        """Commit the positions the state log covers as the group's offsets (a hint),
        about once a second."""
        now = time.monotonic()
        consumer = self.consumer
        if consumer is None or (not force and now - self._last_commit < COMMIT_EVERY):
            return
        self._last_commit = now
        offsets = {}
        for tp in self.assignment() & self.resumed:
            position = self.pipeline.durable_offset(tp.partition)
            if position is not None:
                offsets[tp] = position
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:  # mid-rebalance: the next one will do
            log.debug("offset commit skipped: %s", exc)
