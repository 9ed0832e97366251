"""One changelogged table whose writes land per batch: all of a batch's, or none of them.

The KPI agent persists each batch as a run of changelog records per partition: the
buckets, event ids, sightings and brand records the batch changed, then a ``COMMIT``
marker. One producer writes a partition's records in order, so a crash (``kill -9``, a
lost broker) can only cut a partition's changelog after some record: the batches before
the last marker are whole, and what follows it is the unfinished part of one batch.

On recovery ``BatchTable`` holds each partition's records back until their marker is
read, and drops those still held when the changelog ends. The state restored is then
exactly the state after the last whole batch. The batch's events were not committed on
the events topic either (Faust flushes the producer before it commits offsets, and
acknowledges a batch only once the agent has handled it), so they are consumed again;
events that a whole batch already counted are recognised by their ids and counted once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

import faust
from faust.types import EventT

if TYPE_CHECKING:
    from socialpulse.agents.metrics import Metrics

log = logging.getLogger("socialpulse.changelog")

#: the key of the marker record that closes a batch's run of records in a partition
COMMIT = b"\x00commit"


class BatchTable(faust.Table):  # type: ignore[type-arg]
    """A Faust table applying its changelog batch by batch on recovery."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: dict[int, dict[bytes, bytes | None]] = {}
        self.batches_recovered = 0

    def apply_changelog_batch(self, batch: Iterable[EventT]) -> None:
        """Apply changelog records (read in order); a batch's records wait for its marker."""
        data = self.data
        for event in batch:
            message = event.message
            held = self._held.setdefault(message.partition, {})
            key = message.key
            if key is None:  # not written by a BatchWriter: nothing to apply
                continue
            if key != COMMIT:
                held[key] = message.value
                continue
            for key, value in held.items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            held.clear()
            self.batches_recovered += 1

    def drop_unfinished(self) -> int:
        """Forget the records of batches whose marker never came; how many there were."""
        dropped = 0
        for partition, held in self._held.items():
            if held:
                log.warning(
                    "changelog %s partition %d ends inside a batch: dropped its %d records; "
                    "its events are consumed again",
                    self.name,
                    partition,
                    len(held),
                )
                dropped += len(held)
        self._held.clear()
        return dropped


def batch_table(app: faust.App, name: str, **options: Any) -> BatchTable:
    """Create and register a ``BatchTable``, as ``app.Table`` does for a plain one."""
    table = BatchTable(app, name=name, beacon=app.tables.beacon, **options)
    app.tables.add(table)
    return table


class BatchWriter:
    """Collects one batch's changelog writes per partition, then sends them with a marker.

    The records go straight to the Kafka producer, not through Faust's ``send_soon``
    buffer: ``send`` returns once every record is in the producer's own queue, so the
    producer flush that Faust runs before each offset commit covers them. Faust's buffer
    gives no such promise (its flush returns after 0.1 s without progress), which let a
    commit run ahead of a batch's records: a crash then lost the batch.
    """

    def __init__(self, table: BatchTable, metrics: Metrics | None = None) -> None:
        self.table = table
        self.metrics = metrics
        self.writes: dict[int, dict[bytes, bytes | None]] = {}
        self.sequence = 0

    def put(self, partition: int, key: bytes, value: bytes | None) -> None:
        """Set (or with None, delete) ``key``; a later put of the same key in a batch wins."""
        self.writes.setdefault(partition, {})[key] = value

    async def send(self) -> int:
        """Hand the batch's records to the producer, each partition's closed by its marker;
        how many records were sent."""
        if not self.writes:
            return 0
        self.sequence += 1
        marker = str(self.sequence).encode()
        sent = 0
        for partition, writes in self.writes.items():
            sent += await self.send_records(partition, [*writes.items(), (COMMIT, marker)])
        self.writes = {}
        return sent

    async def send_records(
        self, partition: int, records: Iterable[tuple[bytes, bytes | None]]
    ) -> int:
        """Queue ``records`` in the producer, in order; returns once all are queued."""
        producer = self.table.app.producer
        topic = self.table.changelog_topic.get_topic_name()
        sent = 0
        for key, value in records:
            delivery = await producer.send(topic, key, value, partition, None, None)
            cast(asyncio.Future[Any], delivery).add_done_callback(self._delivered)
            sent += 1
        return sent

    def _delivered(self, delivery: asyncio.Future[Any]) -> None:
        if delivery.cancelled() or delivery.exception() is None:
            return
        # The producer gave up (after producer_request_timeout, 20 min by default): the
        # state kept here is right, but a restart would recover it without this record.
        log.error(
            "changelog %s: a record could not be written (%s); the KPI state recovered "
            "after a restart may miss a batch",
            self.table.name,
            delivery.exception(),
        )
        if self.metrics is not None:
            self.metrics.changelog_write_errors.inc()
