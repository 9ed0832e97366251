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

import logging
from collections.abc import Iterable
from typing import Any

import faust
from faust.types import EventT

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
    """Collects one batch's changelog writes per partition, then sends them with a marker."""

    def __init__(self, table: BatchTable) -> None:
        self.table = table
        self.writes: dict[int, dict[bytes, bytes | None]] = {}
        self.sequence = 0

    def put(self, partition: int, key: bytes, value: bytes | None) -> None:
        """Set (or with None, delete) ``key``; a later put of the same key in a batch wins."""
        self.writes.setdefault(partition, {})[key] = value

    def send(self) -> int:
        """Queue the batch's records, each partition's closed by its marker; records sent."""
        if not self.writes:
            return 0
        self.sequence += 1
        marker = str(self.sequence).encode()
        sent = 0
        send = self.table.send_changelog
        for partition, writes in self.writes.items():
            for key, value in writes.items():
                send(partition, key, value)
            send(partition, COMMIT, marker)
            sent += len(writes) + 1
        self.writes = {}
        return sent
