"""Faust's aiokafka consumer, with two corrections: the fetch wait, and where a partition
without a committed offset is read from after a seek.

**Fetch wait.** Faust hard-codes it at 1.5 s. A Kafka broker answers a fetch as soon as
data is there; Tansu, the embedded broker, holds every fetch for the full wait, so with
Faust's 1.5 s an event waited up to 1.5 s before the worker saw it (measured by
``socialpulse bench``: p50 latency 0.37 s at 1.5 s, 0.003 s at 50 ms, with a bare aiokafka
consumer). ``SOCIALPULSE_FETCH_MAX_WAIT`` sets it.

**Uncommitted partitions.** Faust drops records fetched while a partition is paused or its
flow is stopped (recovery, rebalance), then relies on "seek to the committed offsets" to
read them again. aiokafka's ``seek_to_committed`` leaves a partition without a committed
offset (or with offset 0) where it is, so those records were never read again: a worker
killed before its first offset commit and restarted could start at the end of the events
topic and miss everything before (seen in the crash tests, about one restart in six).
Such partitions are now rewound to their beginning, as ``auto_offset_reset=earliest``
means; the events counted before are recognised by id.

**Where a partition resumes.** The KPI state of a partition carries the events-topic
offset its last batch read up to (``agents.pipeline``): after Faust's seek, each events
partition is sought there, so the committed offset is only a hint.

The app factory installs these classes on the app's transport.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer
from faust.types import TP


async def rewind_uncommitted(
    consumer: AIOKafkaConsumer, committed: Mapping[Any, int | None], skip_topics: Collection[str]
) -> list[Any]:
    """Seek the partitions of ``committed`` that have no committed offset (None or 0) to
    offset 0, except those of ``skip_topics``; the partitions rewound."""
    fresh = [
        tp
        for tp, offset in committed.items()
        if (offset is None or offset <= 0) and tp.topic not in skip_topics
    ]
    for tp in fresh:
        # offset 0, not seek_to_beginning: that asks the broker for the log start, which
        # the embedded broker can answer wrongly; a Kafka log whose start is past 0 gets
        # OffsetOutOfRange, and auto_offset_reset=earliest moves it to the start
        consumer.seek(tp, 0)
    return fresh


class TunedConsumerThread(AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, with the app's fetch wait."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        settings = getattr(self.app, "settings", None)  # a socialpulse app's Settings
        if settings is not None:  # read by aiokafka when it starts its fetcher
            consumer._fetch_max_wait_ms = max(1, int(settings.fetch_max_wait * 1000))
        return consumer

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek to the offsets the restored KPI state covers; partitions without state to
        their committed offset, or their beginning when they have none."""
        committed = dict(await super().seek_to_committed())
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            # changelog partitions are positioned by Faust's recovery, never by a commit
            changelogs = set(self.app.tables.changelog_topics)
            await self.call_thread(
                rewind_uncommitted, self._ensure_consumer(), committed, changelogs
            )
        pipeline = getattr(self.app, "pipeline", None)  # a socialpulse app's KPI pipeline
        if pipeline is not None:
            positions = await pipeline.resume_positions(list(committed))
            consumer = self._ensure_consumer()
            for tp, offset in positions.items():
                await self.call_thread(consumer.seek, tp, offset)
                committed[tp] = offset
        return committed


class TunedConsumer(Consumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return TunedConsumerThread(self, loop=self.loop, beacon=self.beacon)


def tune(transport: Any) -> Any:
    """The app's transport, creating tuned consumers when it is aiokafka's."""
    if transport.Consumer is Consumer:
        transport.Consumer = TunedConsumer
    return transport
