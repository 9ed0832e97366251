"""A test harness for the batch core, shipped with the package (as bytewax ships its own).

``Harness`` plays the broker in memory: the events topic, the state log and the
dead-letter topic are lists per partition. Workers are ``BatchCore`` s that the harness
feeds in batches of any size, exactly as the Faust runtime does: decode and count in
the core, then the dead letters and forwards, then the batch records. A worker can be
crashed at any named step of a batch (``CRASH_POINTS``), started again (it fences its
partitions and restores them from the state log, as a worker does on assignment), and
partitions can be moved between workers, with or without telling the old owner (a
"zombie" that keeps writing). ``kpis`` reads every KPI series of a worker through the
Prometheus collector, so runs compare as a user's board would. With ``alerts=True`` each
worker's core also runs the detectors (their state persisted with the batch records, as
in the worker), and the worker keeps the alerts it published in ``Worker.alerts``.

    >>> import asyncio
    >>> from socialpulse.agents.testing import Harness
    >>> h = Harness(partitions=2)
    >>> h.produce_events([{"id": "1", "ts": 1.7e9, "brand": "acme", "kind": "like"}])
    >>> w = h.start_worker([0, 1])
    >>> asyncio.run(h.drain(w, batch_size=10))
    >>> h.kpis(w)[("socialpulse_engagements", ("acme", "all", "all", "1h"))]
    1.0
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from prometheus_client import CollectorRegistry

from socialpulse.agents.batch_core import (
    STEPS,
    BatchCore,
    Crash,
    DeadLetter,
    Enricher,
    SourceMessage,
    envelopes,
)
from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.persisted import (
    SNAPSHOT_EVERY,
    SNAPSHOT_MIN_BYTES,
    LogTail,
    fence_record,
    new_epoch,
    replay,
    replay_start,
    snapshot_record_of,
)
from socialpulse.agents.settings import FileConfig
from socialpulse.agents.state import KpiState
from socialpulse.alerts.detector import AlertEngine
from socialpulse.alerts.model import Alert
from socialpulse.alerts.rules import Tuning
from socialpulse.streams import codec
from socialpulse.streams.partitioning import brand_partition

EVENTS_TOPIC: Final = "social-events"
#: where a batch can be cut short: after a core step, after the dead letters and forwards
#: were sent, halfway through the batch records, or after all of them (offsets not moved)
CRASH_POINTS: Final = (*STEPS, "sent", "mid_write", "written")

Series = dict[tuple[str, tuple[str, ...]], float]


@dataclass
class Worker:
    """One worker: its core, the partitions it owns, and where it reads each."""

    name: str
    core: BatchCore
    positions: dict[int, int] = field(default_factory=dict)
    batches: int = 0
    alive: bool = True
    tail: LogTail = field(default_factory=LogTail)  # the state log since each snapshot
    engine: AlertEngine | None = None  # the detectors, when the harness runs them
    alerts: list[Alert] = field(default_factory=list)


class Harness:
    """An in-memory broker and the workers reading it."""

    def __init__(
        self,
        partitions: int = 4,
        *,
        allowed_lateness: float = 600.0,
        max_future: float = 1e12,
        config: FileConfig | None = None,
        enricher: Enricher | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
        snapshot_min_bytes: int = SNAPSHOT_MIN_BYTES,
        alerts: bool = False,
        tuning: Tuning | None = None,
        hold_unread: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.partitions = partitions
        self.alerts = alerts
        #: a worker holds the brands it counts for partitions not read yet since their
        #: assignment (``KpiState.hold``); the harness reads its partitions in a fixed
        #: order (small batches drain one partition's backlog before the next), unlike
        #: a broker's fetches, so by default its workers let that hold go at assignment
        self.hold_unread = hold_unread
        self.clock = clock  # the workers' wall clock (default: the real one)
        self.tuning = tuning
        self.enricher = enricher
        self.snapshot_every = snapshot_every
        self.snapshot_min_bytes = snapshot_min_bytes
        self.bytes_read = 0  # state log bytes read back by all restores
        self.records_read = 0  # state log records read back by all restores
        self.allowed_lateness = allowed_lateness
        self.max_future = max_future
        self.config = config or FileConfig()
        self.events: list[list[bytes | None]] = [[] for _ in range(partitions)]
        #: (partition, offset) -> the partition a forward's events were read from
        self.origins: dict[tuple[int, int], int] = {}
        self.state_log: list[list[bytes]] = [[] for _ in range(partitions)]
        self.dead_letters: list[DeadLetter] = []
        self._workers = 0

    # -- producing ------------------------------------------------------------------------
    def produce(self, value: bytes | None, partition: int, origin: int | None = None) -> int:
        """Append a message to an events partition (a forward names ``origin``, the
        partition its events were read from); its offset."""
        self.events[partition].append(value)
        offset = len(self.events[partition]) - 1
        if origin is not None:
            self.origins[(partition, offset)] = origin
        return offset

    def produce_events(
        self, events: Iterable[dict[str, Any]], *, envelope: int = 1, keyed: bool = True
    ) -> None:
        """Send events in envelopes of ``envelope`` (1: single-event messages), to their
        brand's partition when ``keyed``, else round robin over the partitions."""
        chunk: dict[int, list[dict[str, Any]]] = {}
        turn = 0
        for ev in events:
            if keyed:
                partition = brand_partition(str(ev["brand"]), self.partitions)
            else:
                partition, turn = turn % self.partitions, turn + 1
            pending = chunk.setdefault(partition, [])
            pending.append(ev)
            if len(pending) >= envelope:
                self._flush(partition, chunk.pop(partition), envelope)
        for partition, pending in chunk.items():
            self._flush(partition, pending, envelope)

    def _flush(self, partition: int, events: list[dict[str, Any]], envelope: int) -> None:
        value = codec.dumps(events[0]) if envelope == 1 else codec.dumps(events)
        self.produce(value, partition)

    # -- workers --------------------------------------------------------------------------
    def start_worker(self, partitions: Iterable[int], name: str = "") -> Worker:
        """A new worker that takes ``partitions`` over (fence, then restore each)."""
        self._workers += 1
        state = KpiState(allowed_lateness=self.allowed_lateness, clock=self.clock or time.time)
        # a fixed clock: alerts compare whole, ``fired_at`` included
        engine = AlertEngine(self.tuning, clock=lambda: 0.0) if self.alerts else None
        core = BatchCore(
            state,
            partitions=self.partitions,
            max_message_bytes=10 * 1024 * 1024,
            max_envelope_events=100_000,
            max_future=self.max_future,
            enricher=self.enricher,
            alerts=engine,
        )
        worker = Worker(
            name or f"worker-{self._workers}",
            core,
            engine=engine,
            tail=LogTail(self.snapshot_every, self.snapshot_min_bytes),
        )
        self.assign(worker, partitions)
        return worker

    def assign(self, worker: Worker, partitions: Iterable[int]) -> None:
        """Give ``partitions`` to ``worker``: it fences each and restores it from the log.

        The previous owner is not told: if it keeps running, it is a zombie whose later
        batch records the log ignores.
        """
        for partition in partitions:
            epoch = new_epoch()
            log = self.state_log[partition]
            log.append(fence_record(epoch))
            start = replay_start(list(enumerate(log[:-1]))) or 0
            self.records_read += len(log) - 1 - start
            self.bytes_read += sum(len(raw) for raw in log[start:-1])
            replayed = replay(log[start:-1])
            worker.core.restore(
                partition, replayed.data, replayed.next_offset, epoch, log_offset=len(log) - 1
            )
            worker.positions[partition] = replayed.next_offset or 0
            if not self.hold_unread:
                worker.core.caught_up([partition])
            worker.tail.restored(partition, replayed)

    def revoke(self, worker: Worker, partitions: Iterable[int]) -> None:
        """Take ``partitions`` from ``worker`` (it forgets them, as on a rebalance)."""
        gone = set(partitions)
        worker.core.forget(gone)
        for partition in gone:
            worker.positions.pop(partition, None)

    # -- running ----------------------------------------------------------------------------
    def pending(self, worker: Worker) -> int:
        """Messages of the worker's partitions it has not read yet."""
        return sum(len(self.events[p]) - pos for p, pos in worker.positions.items())

    def next_batch(self, worker: Worker, size: int) -> list[SourceMessage]:
        """Up to ``size`` messages, read from the worker's partitions side by side."""
        batch: list[SourceMessage] = []
        cursors = dict(worker.positions)
        while len(batch) < size:
            progressed = False
            for partition in sorted(cursors):
                offset = cursors[partition]
                if offset < len(self.events[partition]) and len(batch) < size:
                    value = self.events[partition][offset]
                    origin = self.origins.get((partition, offset))
                    batch.append(SourceMessage(EVENTS_TOPIC, partition, offset, value, origin))
                    cursors[partition] = offset + 1
                    progressed = True
            if not progressed:
                break
        return batch

    async def step(self, worker: Worker, size: int, crash_at: str | None = None) -> int:
        """Run one batch of up to ``size`` messages; how many were read.

        With ``crash_at`` (one of ``CRASH_POINTS``) the worker dies there: what it had
        sent stays sent, the rest is lost, and the worker is marked dead.
        """
        if not worker.alive:
            raise RuntimeError(f"{worker.name} is dead")
        batch = self.next_batch(worker, size)
        # as the reader: read to its end, and not empty (the reader lets an empty one go
        # a second after the first records; here only its idle time does)
        worker.core.caught_up(
            p for p, pos in worker.positions.items() if pos >= len(self.events[p]) > 0
        )
        if not batch:
            if worker.core.state.released:  # as the worker's release: held brands move on
                self.tick(worker)
            return 0
        read_to = dict(worker.positions)
        for message in batch:
            read_to[message.partition] = message.offset + 1
        worker.core.behind(p for p, pos in read_to.items() if pos < len(self.events[p]))

        def checkpoint(step: str) -> None:
            if step == crash_at:
                raise Crash(step)

        worker.core.checkpoint = checkpoint
        try:
            out = await worker.core.process(batch)
            self.dead_letters.extend(out.dead_letters)
            core = worker.core
            for (partition, _brand, origin), items in out.forwards.items():
                for value in envelopes(
                    items, max_events=core.max_envelope_events, max_bytes=core.max_message_bytes
                ):
                    self.produce(value, partition, origin)
            worker.alerts += out.alerts  # published, as the worker publishes them
            checkpoint("sent")
            records = list(out.records.items())
            for i, (partition, value) in enumerate(records):
                if crash_at == "mid_write" and i >= max(1, len(records) // 2):
                    raise Crash("mid_write")
                self.state_log[partition].append(value)
                worker.core.written(out, {partition: len(self.state_log[partition]) - 1})
                if partition in worker.core.owned:
                    worker.tail.wrote(partition, len(value))
            checkpoint("written")
            due = worker.tail.most_due(p for p, _value in records if p in worker.core.owned)
            if due is not None:  # one a batch at most, as the worker writes them
                self._snapshot(worker, due)
        except Crash:
            worker.alive = False
            return len(batch)
        finally:
            worker.core.checkpoint = None
        for message in batch:
            worker.positions[message.partition] = message.offset + 1
        worker.batches += 1
        return len(batch)

    def _snapshot(self, worker: Worker, partition: int) -> None:
        """A fence of a new epoch and the partition's whole state right after it."""
        owned = worker.core.owned[partition]
        epoch = new_epoch()
        log = self.state_log[partition]
        log.append(fence_record(epoch))
        parts = [codec.dumps(part) for part in worker.core.dump(partition)]
        log.append(snapshot_record_of(epoch, owned.next_offset, parts))
        owned.epoch, owned.log_offset = epoch, len(log) - 1
        worker.tail.snapshotted(partition, len(log[-1]))

    def tick(self, worker: Worker, now: float | None = None) -> None:
        """A wall-clock tick of the worker at ``now`` (default: the wall clock):
        watermarks that partitions gone quiet held back move on."""
        out = worker.core.tick(now)
        worker.alerts += out.alerts
        for partition, value in out.records.items():
            self.state_log[partition].append(value)
            worker.core.written(out, {partition: len(self.state_log[partition]) - 1})

    def settle(self, worker: Worker) -> None:
        """The worker's tick once every partition has been quiet for longer than the
        idle time: what an unkeyed producer's partitions held back moves on."""
        state = worker.core.state
        self.tick(worker, state.clock() + state.source_idle + 1)

    async def drain(
        self, worker: Worker, batch_size: int | Sequence[int] = 100, *, settle: bool = True
    ) -> None:
        """Run batches until the worker has read everything (forwards included); then,
        with ``settle``, tick as the worker does once its partitions have gone quiet."""
        sizes = [batch_size] if isinstance(batch_size, int) else list(batch_size)
        turn = 0
        while self.pending(worker):
            await self.step(worker, sizes[turn % len(sizes)])
            turn += 1
        if settle and worker.alive:
            self.settle(worker)

    # -- reading --------------------------------------------------------------------------
    def kpis(self, worker: Worker) -> Series:
        """Every KPI series the worker exports: {(metric, label values): value}."""
        registry = CollectorRegistry()
        registry.register(KpiCollector(worker.core.state, self.config))
        series: Series = {}
        for family in registry.collect():
            for sample in family.samples:
                series[(sample.name, tuple(sample.labels.values()))] = round(sample.value, 9)
        return series

    def recovered_kpis(self) -> Series:
        """The KPIs a new worker owning every partition restores from the state log."""
        return self.kpis(self.start_worker(range(self.partitions), name="reader"))

    def live_keys(self, partition: int) -> int:
        """Keys of a partition's state map: what a restart reads back."""
        log = self.state_log[partition]
        start = replay_start(list(enumerate(log))) or 0
        return len(replay(log[start:]).data)
