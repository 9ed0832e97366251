"""The state log topic on the broker: batch records written, partitions read back.

``write`` hands a batch's records (one per partition, ``agents.persisted``) to the
producer and returns once the broker has acknowledged every one, so a batch is
acknowledged to Faust only after its state is durable.

``fence`` writes a fence record with the reader's new epoch; ``read_back`` reads the
partition up to that fence, from its last snapshot (``agents.persisted``) or its start.
The fence's offset comes from the broker's acknowledgement, so the read never relies on
the broker's reported end offset (the embedded broker misreports it after multi-record
batches). It uses a consumer of its own, with no group: the partition is assigned, not
subscribed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from socialpulse.agents.persisted import RECORD_KEY, fence_record, replay_start
from socialpulse.agents.settings import WorkerSettings
from socialpulse.streams.connection import client_options

log = logging.getLogger("socialpulse.state")

#: how long a read back may go without receiving a record before it gives up
READ_STALL_SECONDS = 60.0


#: records read back first before a fence; each further read reaches twice as far back
FIRST_WINDOW = 16


async def read_from_snapshot(
    read: Callable[[int, int], Awaitable[list[tuple[int, bytes]]]], fence: int
) -> list[bytes]:
    """The values of the records before offset ``fence`` from the last snapshot that
    follows its own fence (``replay_start``) on, or from offset 0 when there is none.

    ``read(low, high)`` gives the (offset, value) of the records in ``[low, high)``. The
    log is read backwards from the fence in windows twice as long each time, and no record
    is read twice: a snapshot near the fence (a partition whose batch records are big is
    snapshotted every few records) costs a short read, a snapshot 500 records back about
    as many."""
    records: list[tuple[int, bytes]] = []
    high, window = fence, FIRST_WINDOW
    while True:
        low = max(0, fence - window)
        chunk = await read(low, high)
        # pairs of the records read before were looked at already, but the one across
        start = replay_start([*chunk, *records[:1]])
        records = [*chunk, *records]
        if start is not None:
            return [value for offset, value in records if offset >= start]
        if low == 0:
            return [value for _offset, value in records]
        high, window = low, 2 * window


class StateLogError(RuntimeError):
    """The state log could not be written or read back."""


class StateLog(Service):
    """One worker's access to the state log topic ``{app_id}-kpi-state``: a service of
    the worker, stopped after the events reader (its reader closed)."""

    def __init__(self, app: faust.App, settings: WorkerSettings) -> None:
        super().__init__()
        self.app = app
        self.settings = settings
        self.name = f"{settings.app_id}-kpi-state"
        self._reader: AIOKafkaConsumer | None = None
        self._declared: int = 0
        self._reader_lock = asyncio.Lock()

    def topic(self, partitions: int) -> Any:
        return self.app.topic(
            self.name,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions,
            # batch records must outlive any retention: the state is rebuilt from them
            config={
                "retention.ms": "-1",
                "retention.bytes": "-1",
                "max.message.bytes": str(64 * 1024 * 1024),  # snapshots of big partitions
            },
        )

    async def declare(self, partitions: int) -> None:
        """Create the topic if it does not exist (cheap when it does)."""
        await self.topic(partitions).declare()
        self._declared = partitions

    async def write(self, records: dict[int, bytes]) -> dict[int, int]:
        """Write batch records, wait until the broker has them all; their offsets."""
        producer = self.app.producer
        deliveries = [
            await producer.send(self.name, RECORD_KEY, value, partition, None, None)
            for partition, value in records.items()
        ]
        try:
            written = await asyncio.gather(*deliveries)
        except Exception as exc:
            raise StateLogError(f"the state log {self.name} could not be written: {exc}") from exc
        return {partition: md.offset for partition, md in zip(records, written, strict=True)}

    async def fence(self, partition: int, epoch: str, partitions: int) -> int:
        """Write a fence record with ``epoch`` to ``partition``; its offset."""
        if self._declared != partitions:
            await self.declare(partitions)
        metadata = await self.app.producer.send_and_wait(
            self.name, RECORD_KEY, fence_record(epoch), partition, None, None
        )
        return int(metadata.offset)

    async def read_back(self, partition: int, fence: int) -> list[bytes]:
        """The records of ``partition`` a restore needs, before offset ``fence`` (a fence
        this worker wrote): from the last verified snapshot on, or from the start."""
        return await read_from_snapshot(lambda low, high: self._read(partition, low, high), fence)

    async def _read(self, partition: int, low: int, high: int) -> list[tuple[int, bytes]]:
        """(offset, value) of the records of ``partition`` in [low, high), in order."""
        async with self._reader_lock:
            reader = await self._consumer()
            tp = TopicPartition(self.name, partition)
            reader.assign([tp])
            reader.seek(tp, low)
            records: list[tuple[int, bytes]] = []
            last_progress = time.monotonic()
            while True:
                batch = await reader.getmany(tp, timeout_ms=200, max_records=10_000)
                messages = batch.get(tp, [])
                if messages:
                    last_progress = time.monotonic()
                for message in messages:
                    if message.offset >= high:
                        return records
                    if message.value is not None:
                        records.append((message.offset, message.value))
                if time.monotonic() - last_progress > READ_STALL_SECONDS:
                    raise StateLogError(
                        f"reading back {self.name}[{partition}] stalled at "
                        f"{len(records)} records from offset {low}, before offset {high}"
                    )

    async def _consumer(self) -> AIOKafkaConsumer:
        if self._reader is None:
            settings = self.settings
            self._reader = AIOKafkaConsumer(
                bootstrap_servers=settings.bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=max(1, int(settings.fetch_max_wait * 1000)),
                max_partition_fetch_bytes=64 * 1024 * 1024,
                fetch_max_bytes=64 * 1024 * 1024,
                **client_options(settings),
            )
            await self._reader.start()
        return self._reader

    async def on_stop(self) -> None:
        await self.close()

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None
