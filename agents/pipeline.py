"""The KPI agent's work on one batch: decode, dead-letter, forward, aggregate, persist.

Faust hands the agent batches of raw messages (``stream.take_events``). Each batch is
decoded and validated; bad elements go to the dead-letter topic with their reason; an
event that arrived on a partition other than its brand's owner is forwarded there once;
the rest update ``KpiState``. The minute buckets, the event ids of the dedup horizon and
the watermarks the batch changed are then written to three changelogged Faust tables, a
write per (brand, minute) rather than per event. On recovery the state is rebuilt from
those tables.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import faust
from faust.types import EventT, Message, TableT

from socialpulse.agents.alerting import AlertStage
from socialpulse.agents.enrichment import EnrichmentStage
from socialpulse.agents.metrics import Metrics
from socialpulse.agents.settings import Settings
from socialpulse.agents.state import BatchResult, KpiState
from socialpulse.streams import codec
from socialpulse.streams.enrich.enricher import wants_enrichment
from socialpulse.streams.partitioning import brand_partition
from socialpulse.streams.validation import Event, Rejection, decode_message

log = logging.getLogger("socialpulse.kpi")

SEP = "\x1f"


def bucket_key(brand: str, minute: int) -> bytes:
    return f"{brand}{SEP}{minute}".encode()


def split_bucket_key(key: bytes) -> tuple[str, int]:
    brand, _, minute = key.decode().rpartition(SEP)
    return brand, int(minute)


class KpiPipeline:
    """Owns the KPI state of the partitions assigned to this worker, and its tables."""

    def __init__(self, app: faust.App, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.enrichment = (
            EnrichmentStage(metrics, processes=settings.enrich_processes)
            if settings.enrich
            else None
        )
        self.alerting = AlertStage(app, settings, metrics, settings.load_file_config())
        self.state = KpiState(
            allowed_lateness=settings.allowed_lateness,
            platform_cap=settings.platform_cap,
            campaign_cap=settings.campaign_cap,
        )
        table_opts: dict[str, Any] = {
            "key_type": bytes,
            "value_type": bytes,
            "partitions": settings.topic_partitions,
        }
        self.buckets = app.Table("kpi_buckets", **table_opts)
        self.brand_table = app.Table("kpi_brands", **table_opts)
        self.seen = app.Table("kpi_seen", **table_opts)
        self.sightings = app.Table("kpi_sightings", **table_opts)
        self.buckets.on_recover(self.restore)
        self._seen_keys: dict[tuple[str, int], list[bytes]] = {}
        self._sighting_keys: dict[tuple[str, int], list[bytes]] = {}
        self._touched: set[str] = set()  # brands the current batch counted events for
        self._nonce = f"{os.getpid():x}{int(time.time() * 1000):x}"
        self._seq = 0

    # -- the batch ------------------------------------------------------------------------
    async def handle(self, batch: Sequence[EventT]) -> None:
        """Process one batch of messages from the events topic."""
        started = time.perf_counter()
        partitions = self.partition_count()
        owned = self.owned_partitions()
        valid: list[Event] = []
        forward: dict[tuple[int, str], list[bytes]] = {}
        for fe in batch:
            message = fe.message
            events, rejections = decode_message(
                fe.value,
                max_bytes=self.settings.max_message_bytes,
                max_events=self.settings.max_envelope_events,
            )
            for rejection in rejections:
                await self.dead_letter(rejection, message)
            for ev in events:
                owner = brand_partition(ev["brand"], partitions)
                if owner == message.partition or owner in owned:
                    valid.append(ev)  # this worker holds the brand: count it here
                else:
                    forward.setdefault((owner, ev["brand"]), []).append(codec.dumps(ev))
        self.metrics.messages.inc(len(batch))
        valid, future = self._split_future(valid)
        for rejection in future:
            await self.dead_letter(rejection, None)
        texts = [ev for ev in valid if wants_enrichment(ev)] if self.enrichment else []
        if self.enrichment is not None and texts:
            pending = self.enrichment.start(texts)
            if self._may_count_texts_last(valid):
                # the texts go to the helper process; the other events are counted meanwhile
                waiting = {id(ev) for ev in texts}
                plain = [ev for ev in valid if id(ev) not in waiting]
                accepted = await self._apply(plain, partitions)
                await self.enrichment.finish(pending)
                accepted += await self._apply(texts, partitions)
            else:
                await self.enrichment.finish(pending)
                accepted = await self._apply(valid, partitions)
        else:
            accepted = await self._apply(valid, partitions)
        await self.alerting.evaluate(self._touched, self.state.brands)
        self._touched = set()
        await self._forward(forward)
        self.metrics.batch_events.observe(accepted)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    def _may_count_texts_last(self, events: list[Event]) -> bool:
        """Whether a batch's texts may be counted after its other events.

        Only when the batch spans less event time than the allowed lateness: then counting
        its other events first cannot push the watermark far enough to make a text late. A
        replay or backfill batch spanning more is counted in order, after its texts.
        """
        stamps = [ev["ts"] for ev in events]
        return max(stamps) - min(stamps) < self.settings.allowed_lateness

    async def _apply(self, events: list[Event], partitions: int) -> int:
        """Count events into the KPI state, dead-letter the late ones, persist the change."""
        if not events:
            return 0
        result = self.state.apply(events)
        for ev in result.late:
            detail = f"event time {ev['ts']:.3f} is older than the allowed lateness"
            await self.dead_letter(Rejection("late", detail, codec.dumps(ev), ev["brand"]), None)
        self._count(result)
        self._persist(result, partitions)
        self.alerting.observe(result.accepted)
        self._touched.update(ev["brand"] for ev in result.accepted)
        return len(result.accepted)

    def _split_future(self, events: list[Event]) -> tuple[list[Event], list[Rejection]]:
        """Keep events whose time is not ahead of the wall clock by more than max_future."""
        limit = time.time() + self.settings.max_future
        if all(ev["ts"] <= limit for ev in events):
            return events, []
        kept: list[Event] = []
        rejected: list[Rejection] = []
        for ev in events:
            if ev["ts"] <= limit:
                kept.append(ev)
            else:
                detail = f"event time {ev['ts']:.3f} is ahead of the wall clock"
                rejected.append(Rejection("future", detail, codec.dumps(ev), ev["brand"]))
        return kept, rejected

    def owned_partitions(self) -> set[int]:
        """Partitions of the events topic assigned to this worker now."""
        topic = self.settings.events_topic
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic == topic}

    def partition_count(self) -> int:
        """Partitions of the events topic as the broker reports them (settings as fallback)."""
        n = self.app.consumer.topic_partitions(self.settings.events_topic)
        return n or self.settings.topic_partitions

    def _count(self, result: BatchResult) -> None:
        counts: Counter[tuple[str, str, str]] = Counter()
        state = self.state
        for ev in result.accepted:
            bs = state.brands[ev["brand"]]
            counts[(ev["brand"], state.platform_label(bs, ev["platform"]), ev["kind"])] += ev[
                "count"
            ]
        for labels, n in counts.items():
            self.metrics.events.labels(*labels).inc(n)
        for brand, n in result.duplicates.items():
            self.metrics.duplicates.labels(brand).inc(n)
        self.metrics.brands.set(len(state.brands))

    async def dead_letter(self, rejection: Rejection, message: Message | None) -> None:
        """Send a rejected message or element to the dead-letter topic, with its reason."""
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

    async def _forward(self, forward: dict[tuple[int, str], list[bytes]]) -> None:
        chunk = max(1, min(self.settings.max_envelope_events, 500))
        for (partition, brand), items in forward.items():
            for start in range(0, len(items), chunk):
                value = b"[" + b",".join(items[start : start + chunk]) + b"]"
                await self.app.producer.send(
                    self.settings.events_topic, brand.encode(), value, partition, None, None
                )
            self.metrics.forwarded.inc(len(items))

    # -- persistence ----------------------------------------------------------------------
    def _persist(self, result: BatchResult, partitions: int) -> None:
        for brand, minute in result.touched - result.evicted - result.compacted:
            record = self.state.bucket_record(brand, minute)
            if record is not None:
                self._put(
                    self.buckets, brand, bucket_key(brand, minute), codec.dumps(record), partitions
                )
        for brand, minute in result.compacted:  # merged into a coarse bucket (slot < 0)
            self._put(self.buckets, brand, bucket_key(brand, minute), None, partitions)
        for brand, minute in result.evicted:
            self._put(self.buckets, brand, bucket_key(brand, minute), None, partitions)
            for key in self._sighting_keys.pop((brand, minute), []):
                self._put(self.sightings, brand, key, None, partitions)
        for (brand, minute), ids in result.new_ids.items():
            key = self._delta_key(brand, minute, self._seen_keys)
            self._put(self.seen, brand, key, codec.dumps(ids), partitions)
        for brand, minute in result.forgotten:
            for key in self._seen_keys.pop((brand, minute), []):
                self._put(self.seen, brand, key, None, partitions)
        for (brand, minute), entries in result.sightings.items():
            key = self._delta_key(brand, minute, self._sighting_keys)
            self._put(self.sightings, brand, key, codec.dumps(entries), partitions)
        for brand in result.brands:
            record = codec.dumps(self.state.brand_record(brand))
            self._put(self.brand_table, brand, brand.encode(), record, partitions)

    def _delta_key(
        self, brand: str, minute: int, keys: dict[tuple[str, int], list[bytes]]
    ) -> bytes:
        """A new key for an append-only record of (brand, minute), remembered for deletion."""
        self._seq += 1
        key = f"{brand}{SEP}{minute}{SEP}{self._nonce}.{self._seq}".encode()
        keys.setdefault((brand, minute), []).append(key)
        return key

    @staticmethod
    def _put(
        table: TableT[Any, Any], brand: str, key: bytes, value: bytes | None, partitions: int
    ) -> None:
        # Only the changelog is written: KpiState is the live copy, and table.data is
        # filled by Faust's recovery just long enough for restore() to read it.
        table.send_changelog(brand_partition(brand, partitions), key, value)

    @property
    def tables(self) -> tuple[TableT[Any, Any], ...]:
        return (self.buckets, self.brand_table, self.seen, self.sightings)

    async def restore(self) -> None:
        """Rebuild the brands found in the recovered tables, then let the tables go.

        Faust's memory store keeps no offsets, so each newly assigned changelog partition
        is read from its start into ``table.data``; the brands found there are rebuilt (a
        brand not found keeps its live state) and ``table.data`` is emptied, so no second
        copy of the state stays in memory.
        """
        partitions = self.partition_count()
        owned = self.owned_partitions()

        def mine(brand: str) -> bool:
            return brand_partition(brand, partitions) in owned

        brand_records = {
            key.decode(): codec.loads(value)
            for key, value in self.brand_table.data.items()
            if mine(key.decode())
        }
        for keys in (self._seen_keys, self._sighting_keys):
            for brand_minute in [k for k in keys if k[0] in brand_records]:
                del keys[brand_minute]
        self.state.restore(
            brand_records,
            self._bucket_records(mine),
            self._delta_records(self.seen, self._seen_keys, mine),
            self._delta_records(self.sightings, self._sighting_keys, mine),
        )
        for table in self.tables:
            table.data.clear()
        log.info(
            "restored KPI state: %d brands, %d buckets, %d event ids",
            len(self.state.brands),
            sum(len(bs.buckets) for bs in self.state.brands.values()),
            sum(len(bs.seen) for bs in self.state.brands.values()),
        )

    async def on_revoked(self, revoked: set[Any]) -> None:
        """Forget the brands of partitions now owned by another worker."""
        gone = {tp.partition for tp in revoked if tp.topic == self.settings.events_topic}
        if not gone:
            return
        partitions = self.partition_count()
        brands = [b for b in self.state.brands if brand_partition(b, partitions) in gone]
        self.state.forget(brands)
        self.alerting.forget(brands)
        for keys in (self._seen_keys, self._sighting_keys):
            for brand_minute in [k for k in keys if k[0] in set(brands)]:
                del keys[brand_minute]
        log.info("partitions %s revoked: forgot %d brands", sorted(gone), len(brands))

    def _bucket_records(self, mine: Any) -> Iterable[tuple[str, int, dict[str, list[float]]]]:
        for key, value in list(self.buckets.data.items()):
            brand, minute = split_bucket_key(key)
            if mine(brand):
                yield brand, minute, codec.loads(value)

    @staticmethod
    def _delta_records(
        table: TableT[Any, Any], keys: dict[tuple[str, int], list[bytes]], mine: Any
    ) -> list[tuple[str, int, Any]]:
        """The append-only records of ``table`` for owned brands, remembering their keys."""
        records = []
        for key, value in list(table.data.items()):
            head, _, _tag = key.decode().rpartition(SEP)
            brand, _, minute_text = head.rpartition(SEP)
            if mine(brand):
                minute = int(minute_text)
                keys.setdefault((brand, minute), []).append(key)
                records.append((brand, minute, codec.loads(value)))
        return records
