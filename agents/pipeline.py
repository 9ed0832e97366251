"""The KPI worker's runtime: the events reader hands it batches, the batch core does the work.

``KpiPipeline`` is the thin layer between the worker's services and ``agents.batch_core``:
it restores a partition's state before its first batch, sends what the core outputs
(dead letters, forwards, the alerts the core's detectors raised, then the batch records,
awaited) with the app's producer and records the metrics. ``agents.events_reader`` reads
the events topic and calls it.

**Exactness.** A batch's state and the events-topic offset it read up to are one record
in the state log (``agents.persisted``). On assignment, each new partition is fenced and
read back (``agents.state_log``), and the events partition is sought to the offset stored
with its last batch (the reader asks ``resume_positions`` on assignment): the consumer
group's committed offset is only a hint. A crash or rebalance at any moment re-reads
exactly the batches whose state was not written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

import faust
from faust.types import TP
from mode import Service

from socialpulse.agents.alert_stage import AlertStage
from socialpulse.agents.batch_core import (
    FORWARD_HEADER,
    BatchCore,
    BatchOutput,
    DeadLetter,
    SourceMessage,
    envelopes,
)
from socialpulse.agents.enrichment_stage import EnrichmentStage
from socialpulse.agents.events_reader import EventsReader
from socialpulse.agents.metrics import Metrics
from socialpulse.agents.persisted import LogTail, new_epoch, replay, snapshot_record_of
from socialpulse.agents.settings import FileConfig, WorkerSettings
from socialpulse.agents.state import KpiState
from socialpulse.agents.state_log import StateLog, StateLogError
from socialpulse.streams import codec
from socialpulse.streams.validation import Event

log = logging.getLogger("socialpulse.kpi")


class KpiPipeline:
    """Owns the KPI state of the partitions assigned to this worker."""

    def __init__(
        self, app: faust.App, settings: WorkerSettings, metrics: Metrics, config: FileConfig
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.enrichment = (
            EnrichmentStage(
                metrics,
                processes=settings.enrich_processes,
                mode=settings.sentiment_model,
            )
            if settings.enrich
            else None
        )
        self.alerting = AlertStage(app, settings, metrics, config)
        self.state = KpiState(
            allowed_lateness=settings.allowed_lateness,
            platform_cap=settings.platform_cap,
            campaign_cap=settings.campaign_cap,
            source_idle=settings.source_idle,
        )
        self.core = BatchCore(
            self.state,
            partitions=settings.topic_partitions,
            max_message_bytes=settings.max_message_bytes,
            max_envelope_events=settings.max_envelope_events,
            max_future=settings.max_future,
            enricher=self._enrich if self.enrichment is not None else None,
            alerts=self.alerting.engine,
        )
        self.log = StateLog(app, settings)
        self._lock = asyncio.Lock()
        self._restoring: dict[int, asyncio.Task[None]] = {}
        self._suspended: set[int] = set()  # revoked, state kept until the assignment is known
        self._assigning: asyncio.Future[None] | None = None
        self.reader: EventsReader | None = None  # set by the app factory
        #: (brand, platform, kind) -> its events_total and event_volume_total children
        self._event_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._tail = LogTail()  # per partition, the state log since its snapshot
        self._warming: asyncio.Task[None] | None = None

    async def warm(self) -> None:
        """Load the enrichment models (once; later calls wait for the first). The first
        batch waits for it too: a batch that came first loaded them a second time, within
        the batch, while the worker's start loaded them beside it."""
        if self.enrichment is None:
            return
        if self._warming is None:
            self._warming = asyncio.ensure_future(self._warm(self.enrichment))
        await asyncio.shield(self._warming)

    @staticmethod
    async def _warm(enrichment: EnrichmentStage) -> None:
        started = time.perf_counter()
        await enrichment.warm()
        log.info("enrichment models loaded in %.1f s", time.perf_counter() - started)

    # -- the batch ------------------------------------------------------------------------
    async def handle(
        self,
        messages: Sequence[SourceMessage],
        caught_up: Iterable[int] = (),
        behind: Iterable[int] = (),
    ) -> None:
        """Process one batch of messages from the events topic (``caught_up``: partitions
        the reader found read to their end; ``behind``: partitions with records beyond
        this batch)."""
        started = time.perf_counter()
        await self.warm()
        await self.ensure_restored({m.partition for m in messages})
        async with self._lock:
            self.core.caught_up(caught_up)
            self.core.behind(behind)
            active = set(self.core.owned) - self._suspended
            kept = [m for m in messages if m.partition in active]  # others: not ours now
            self.core.partitions = self.partition_count()
            out = await self.core.process(kept)
            # the counters with the state, in one step: a scrape sees both or neither
            self._count(out, len(messages))
            written = await self._send(out)
            self.core.written(out, written)
            for partition in written:
                self._tail.wrote(partition, len(out.records[partition]))
            due = self._tail.most_due(written)
            if due is not None:
                await self._snapshot(due)
        self.metrics.batch_events.observe(len(out.accepted))
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    @property
    def backlog(self) -> bool:
        """Whether the core counts with a backlog (``BatchCore.behind``)."""
        return self.state.backlog

    def waiting(self) -> set[int]:
        """Partitions just assigned and not read yet, that brands wait for."""
        return set(self.state.pending)

    async def release(self, caught_up: Iterable[int], behind: Iterable[int] = ()) -> None:
        """Between batches: partitions read to their end, which brands need not wait for,
        and those with records not fetched yet. The watermarks they held move on now, not
        at the next tick: at the end of a backfill, the last brands' windows are final as
        soon as every partition is read."""
        async with self._lock:
            self.core.caught_up(caught_up)
            self.core.behind(behind)
            if self.state.released:
                await self._refloor()

    async def tick(self) -> None:
        """Between batches: watermarks that partitions gone quiet held back move on (the
        detectors judge the steps that closes), and what changed is written."""
        async with self._lock:
            await self._refloor()

    async def _refloor(self) -> None:
        """``BatchCore.tick``, its records written (called with the lock held)."""
        if self._suspended or (self._assigning is not None and not self._assigning.done()):
            return  # ownership is moving: the next batch or tick
        out = self.core.tick()
        if out.records or out.alerts:
            written = await self._send(out)
            self.core.written(out, written)
            for partition in written:
                self._tail.wrote(partition, len(out.records[partition]))

    async def _snapshot(self, partition: int) -> None:
        """Fence ``partition`` with a new epoch and write its whole state right after, so
        a restore reads the log from here on (called with the lock held)."""
        epoch = new_epoch()
        fence = await self.log.fence(partition, epoch, self.partition_count())
        parts: list[bytes] = []
        for part in self.core.dump(partition):
            parts.append(codec.dumps(part))
            await asyncio.sleep(0)  # a brand at a time: a scrape need not wait for them all
        record = snapshot_record_of(epoch, self.next_offset(partition), parts)
        written = await self.log.write({partition: record})
        owned = self.core.owned[partition]
        owned.epoch, owned.log_offset = epoch, written[partition]
        self._tail.snapshotted(partition, len(record))
        if written[partition] != fence + 1:  # another record came between: not a start
            log.warning("partition %d: a record came between the snapshot and its fence", partition)
        self.metrics.snapshots.inc()

    def _enrich(self, texts: list[Event]) -> Awaitable[None]:
        """Start enriching ``texts`` now (a helper process); the awaitable finishes it."""
        assert self.enrichment is not None
        return self.enrichment.finish(self.enrichment.begin(texts))

    async def _send(self, out: BatchOutput) -> dict[int, int]:
        """Dead letters, forwards and alerts (at least once: a batch re-read after a crash
        raises its alerts again, with the same ids), then the batch records (awaited)."""
        for dead in out.dead_letters:
            await self.dead_letter(dead)
        await self._forward(out.forwards)
        for alert in out.alerts:
            await self.alerting.publish(alert)
        try:
            return await self.log.write(out.records)
        except StateLogError as exc:
            # The state held here is ahead of the log; going on would make later records
            # cover events whose state is lost. Stop: a restart recovers exactly.
            self.metrics.state_write_errors.inc()
            log.critical("%s; stopping the worker so that a restart recovers exactly", exc)
            await self.app.crash(exc)
            raise

    def _count(self, out: BatchOutput, messages: int) -> None:
        self.metrics.messages.inc(messages)
        if out.skipped:
            self.metrics.replayed_messages.inc(out.skipped)
        state = self.state
        accepted = out.accepted
        # (brand, platform as sent, kind) per event, counted in C; the platform label
        # (``other`` past the cap) once per key: the state labelled them all already
        keys = [(ev["brand"], ev["platform"], ev["kind"]) for ev in accepted]
        counts = Counter(keys)
        volumes = {key: float(n) for key, n in counts.items()}
        for ev, key in zip(accepted, keys, strict=True):
            if ev["count"] != 1:
                volumes[key] += ev["count"] - 1
        children = self._event_children
        # issue 18: events_total counts events (1 each), event_volume_total sums `count`
        for key, n in counts.items():
            brand, platform, kind = key
            bs = state.brands.get(brand)
            labels = (brand, state.platform_label(bs, platform) if bs else platform, kind)
            pair = children.get(labels)
            if pair is None:  # labels() checks and locks on every call: once per labels
                metrics = self.metrics
                pair = children[labels] = (
                    metrics.events.labels(*labels),
                    metrics.volume.labels(*labels),
                )
            pair[0].inc(n)
            pair[1].inc(volumes[key])
        for brand, n in out.duplicates.items():
            self.metrics.duplicates.labels(brand).inc(n)
        self.metrics.brands.set(len(state.brands))

    async def dead_letter(self, dead: DeadLetter) -> None:
        """Send a rejected message or element to the dead-letter topic, with its reason."""
        rejection, message = dead.rejection, dead.source
        self.metrics.rejected.labels(rejection.reason).inc()
        headers = [
            ("reason", rejection.reason.encode()),
            ("detail", rejection.detail.encode("utf-8", "replace")),
        ]
        if message is not None:
            headers += [
                ("source_topic", str(message.topic).encode()),
                ("source_partition", str(message.partition).encode()),
                ("source_offset", str(message.offset).encode()),
            ]
        key = rejection.brand.encode() if rejection.brand else None
        try:
            await self.app.producer.send(
                self.settings.dlq_topic, key, rejection.raw, None, None, headers
            )
            self.metrics.dead_letters.labels(rejection.reason).inc()
        except Exception as exc:  # a DLQ failure must not stop the worker
            log.error("dead-letter send failed (%s): %s", rejection.reason, exc)

    async def _forward(self, forward: dict[tuple[int, str, int], list[bytes]]) -> None:
        most = max(1, min(self.settings.max_envelope_events, 500))
        for (partition, brand, origin), items in forward.items():
            headers = [(FORWARD_HEADER, str(origin).encode())]
            for value in envelopes(
                items, max_events=most, max_bytes=self.settings.max_message_bytes
            ):
                await self.app.producer.send(
                    self.settings.events_topic, brand.encode(), value, partition, None, headers
                )
            self.metrics.forwarded.inc(len(items))

    # -- partitions -----------------------------------------------------------------------
    def owned_partitions(self) -> set[int]:
        """Partitions of the events topic assigned to this worker now."""
        topic = self.settings.events_topic
        assigned = self.reader.assignment() if self.reader is not None else set()
        return {tp.partition for tp in assigned if tp.topic == topic}

    def partition_count(self) -> int:
        """Partitions of the events topic as the broker reports them (settings as fallback)."""
        n = self.reader.partitions() if self.reader is not None else None
        return n or self.settings.topic_partitions

    def next_offset(self, partition: int) -> int | None:
        """The first offset of ``partition`` not counted yet (None: nothing known)."""
        owned = self.core.owned.get(partition)
        return None if owned is None else owned.next_offset

    def durable_offset(self, partition: int) -> int | None:
        """The first offset of ``partition`` whose state is not written yet: what the
        group's committed offset may say (None: nothing known)."""
        return self.core.durable(partition)

    async def ensure_restored(self, partitions: Iterable[int]) -> None:
        """Restore (or reclaim) each assigned partition of ``partitions`` not active yet."""
        assigned = self.owned_partitions()
        tasks = []
        for partition in partitions:
            if partition not in assigned:
                continue
            if partition in self.core.owned and partition not in self._suspended:
                continue
            task = self._restoring.get(partition)
            if task is None or task.done():
                task = self._restoring[partition] = asyncio.ensure_future(self._restore(partition))
            tasks.append(task)
        if tasks:
            await asyncio.gather(*tasks)

    async def _restore(self, partition: int) -> None:
        """Fence ``partition``, then keep its state if nobody wrote since this worker's last
        record, or rebuild it from the state log."""
        started = time.perf_counter()
        partitions = self.partition_count()
        epoch = new_epoch()
        async with self._lock:  # no batch record of the old epoch may follow the fence
            fence = await self.log.fence(partition, epoch, partitions)
            owned = self.core.owned.get(partition)
            if (
                owned is not None
                and partition in self._suspended
                and owned.log_offset is not None
                and fence == owned.log_offset + 1
            ):
                owned.epoch, owned.log_offset = epoch, fence
                self._suspended.discard(partition)
                log.info("partition %d: kept its state (nobody wrote since)", partition)
                return
        records = await self.log.read_back(partition, fence)
        replayed = replay(records)
        async with self._lock:
            if partition not in self.owned_partitions():
                return  # revoked while it was read: the next assignment restores it again
            self._suspended.discard(partition)
            self.core.partitions = partitions
            brands = self.core.restore(
                partition, replayed.data, replayed.next_offset, epoch, log_offset=fence
            )
            self._tail.restored(partition, replayed)
            self.alerting.show_firing(brands)  # restored firing alerts: the gauge says so
        seconds = time.perf_counter() - started
        self.metrics.restore_seconds.observe(seconds)
        if replayed.stale:
            self.metrics.stale_batches.inc(replayed.stale)
        log.info(
            "partition %d: restored %d brands from %d snapshot and %d batch records (%d of a "
            "fenced-off writer ignored) in %.2f s; its events resume at offset %s",
            partition,
            len(brands),
            replayed.snapshots,
            replayed.batches,
            replayed.stale,
            seconds,
            replayed.next_offset if replayed.next_offset is not None else "(committed)",
        )

    async def resume_positions(self, tps: Iterable[TP]) -> dict[TP, int]:
        """Where the events partitions of ``tps`` resume: the offsets their restored
        state covers (restoring them first); partitions without state are left out."""
        events = [tp for tp in tps if tp.topic == self.settings.events_topic]
        await self.ensure_restored({tp.partition for tp in events})
        positions: dict[TP, int] = {}
        for tp in events:
            owned = self.core.owned.get(tp.partition)
            if owned is not None and owned.next_offset is not None:
                positions[tp] = owned.next_offset
        return positions

    async def on_revoked(self, revoked: set[Any]) -> None:
        """Suspend the revoked partitions: their state stays (and is exported) until the
        new assignment says whether they come back."""
        gone = {tp.partition for tp in revoked if tp.topic == self.settings.events_topic}
        self._suspended |= gone & set(self.core.owned)

    async def on_assigned(self, assigned: set[Any]) -> None:
        """Forget suspended partitions that went elsewhere; restore the assigned ones."""
        mine = {tp.partition for tp in assigned if tp.topic == self.settings.events_topic}
        gone = {p for p in self._suspended if p not in mine}
        gone |= {p for p in self.core.owned if p not in mine}
        if gone:
            async with self._lock:
                brands = self.core.forget(gone)  # and the detectors' state of its brands
                self._suspended -= gone
            log.info("partitions %s revoked: forgot %d brands", sorted(gone), len(brands))
        self._assigning = asyncio.ensure_future(self.ensure_restored(mine))
        self._assigning.add_done_callback(_log_failure)

    def services(self) -> list[Service]:
        """The pipeline's services, in the order they start: the alert stage, the
        enrichment helpers, the state log. They stop in reverse, after the events reader
        (which the app starts after them): the state log closed, the helpers shut down,
        the notifiers' queued alerts delivered. (The events once counted late with the
        state log started first were not the order's doing: they came from partitions
        still empty at a producer's first records, see ``events_reader.EMPTY_SETTLE``.)"""
        parts: list[Service] = [self.alerting]
        if self.enrichment is not None:
            parts.append(self.enrichment)
        parts.append(self.log)
        return parts


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("restoring assigned partitions failed: %s", task.exception())
