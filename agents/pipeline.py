"""The KPI agent's work on one batch: decode, dead-letter, forward, aggregate, persist.

Faust hands the agent batches of raw messages (``stream.take_events``). Each batch is
decoded and validated; bad elements go to the dead-letter topic with their reason; an
event that arrived on a partition other than its brand's owner is forwarded there once;
the rest update ``KpiState``. The minute buckets, the event ids of the dedup horizon, the
distinct-count sightings and the brand records the batch changed are then written to one
changelogged table, a write per (brand, minute) rather than per event, each partition's
writes closed by a marker (``agents.changelog``): a crash leaves whole batches or none.
On recovery the state is rebuilt from that table.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import faust
from faust.types import EventT, Message

from socialpulse.agents.alerting import AlertStage
from socialpulse.agents.changelog import BatchWriter, batch_table
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
#: key prefixes of the record families in the state table
BUCKET, BRAND, SEEN, SIGHTING = "b", "w", "s", "g"


def bucket_key(brand: str, minute: int) -> bytes:
    return f"{BUCKET}{brand}{SEP}{minute}".encode()


def split_bucket_key(key: bytes) -> tuple[str, int]:
    brand, _, minute = key.decode()[1:].rpartition(SEP)
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
        self.table = batch_table(
            app,
            "kpi_state",
            key_type=bytes,
            value_type=bytes,
            partitions=settings.topic_partitions,
        )
        self.table.on_recover(self.restore)
        self.writer = BatchWriter(self.table, metrics)
        self._batches = 0
        self._fault = _fault_plan(settings.fault_kill)
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
        await self._write_changelog()
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
        """Stage what ``result`` changed; ``_write_changelog`` sends it once per batch."""
        for brand, minute in result.touched - result.evicted - result.compacted:
            record = self.state.bucket_record(brand, minute)
            if record is not None:
                self._put(brand, bucket_key(brand, minute), codec.dumps(record), partitions)
        for brand, minute in result.compacted:  # merged into a coarse bucket (slot < 0)
            self._put(brand, bucket_key(brand, minute), None, partitions)
        for brand, minute in result.evicted:
            self._put(brand, bucket_key(brand, minute), None, partitions)
            for key in self._sighting_keys.pop((brand, minute), []):
                self._put(brand, key, None, partitions)
        for (brand, minute), ids in result.new_ids.items():
            key = self._delta_key(SEEN, brand, minute, self._seen_keys)
            self._put(brand, key, codec.dumps(ids), partitions)
        for brand, minute in result.forgotten:
            for key in self._seen_keys.pop((brand, minute), []):
                self._put(brand, key, None, partitions)
        for (brand, minute), entries in result.sightings.items():
            key = self._delta_key(SIGHTING, brand, minute, self._sighting_keys)
            self._put(brand, key, codec.dumps(entries), partitions)
        for brand in result.brands:
            record = codec.dumps(self.state.brand_record(brand))
            self._put(brand, f"{BRAND}{brand}".encode(), record, partitions)

    def _delta_key(
        self, family: str, brand: str, minute: int, keys: dict[tuple[str, int], list[bytes]]
    ) -> bytes:
        """A new key for an append-only record of (brand, minute), remembered for deletion."""
        self._seq += 1
        key = f"{family}{brand}{SEP}{minute}{SEP}{self._nonce}.{self._seq}".encode()
        keys.setdefault((brand, minute), []).append(key)
        return key

    def _put(self, brand: str, key: bytes, value: bytes | None, partitions: int) -> None:
        # Only the changelog is written: KpiState is the live copy, and table.data is
        # filled by Faust's recovery just long enough for restore() to read it.
        self.writer.put(brand_partition(brand, partitions), key, value)

    async def _write_changelog(self) -> None:
        """Send the batch's staged records, a marker closing each partition's run."""
        self._batches += 1
        fault = self._fault.get(self._batches)
        if fault is not None:
            await self._die(fault)
        await self.writer.send()

    async def _die(self, fault: str) -> None:
        """SIGKILL this worker at a chosen point of a batch's write (``fault_kill``)."""
        if fault == "mid_write":
            for partition, writes in self.writer.writes.items():
                half = list(writes.items())[: max(1, len(writes) // 2)]
                await self.writer.send_records(partition, half)
        elif fault == "after_write":
            await self.writer.send()
        await self.app.producer.flush()
        log.warning("fault_kill %s at batch %d: SIGKILL", fault, self._batches)
        os.kill(os.getpid(), signal.SIGKILL)

    async def restore(self) -> None:
        """Rebuild the brands found in the recovered table, then let the table go.

        Faust's memory store keeps no offsets, so each newly assigned changelog partition
        is read from its start into ``table.data``, whole batches only; the brands found
        there are rebuilt (a brand not found keeps its live state) and ``table.data`` is
        emptied, so no second copy of the state stays in memory.
        """
        dropped = self.table.drop_unfinished()
        if dropped:
            self.metrics.changelog_dropped.inc(dropped)
        partitions = self.partition_count()
        owned = self.owned_partitions()

        def mine(brand: str) -> bool:
            return brand_partition(brand, partitions) in owned

        brand_records: dict[str, Any] = {}
        buckets: list[tuple[str, int, Any]] = []
        seen: list[tuple[str, int, Any]] = []
        sightings: list[tuple[str, int, Any]] = []
        delta_keys: list[tuple[dict[tuple[str, int], list[bytes]], bytes, str, int]] = []
        for key, value in self.table.data.items():
            text = key.decode()
            family, rest = text[:1], text[1:]
            if family == BRAND:
                if mine(rest):
                    brand_records[rest] = codec.loads(value)
            elif family == BUCKET:
                brand, minute = split_bucket_key(key)
                if mine(brand):
                    buckets.append((brand, minute, codec.loads(value)))
            elif family in (SEEN, SIGHTING):
                head, _, _tag = rest.rpartition(SEP)
                brand, _, minute_text = head.rpartition(SEP)
                if mine(brand):
                    minute = int(minute_text)
                    target, keys = (seen, self._seen_keys)
                    if family == SIGHTING:
                        target, keys = sightings, self._sighting_keys
                    target.append((brand, minute, codec.loads(value)))
                    delta_keys.append((keys, key, brand, minute))
        for keys in (self._seen_keys, self._sighting_keys):
            for brand_minute in [k for k in keys if k[0] in brand_records]:
                del keys[brand_minute]
        for keys, key, brand, minute in delta_keys:
            keys.setdefault((brand, minute), []).append(key)
        self.state.restore(brand_records, buckets, seen, sightings)
        self.table.data.clear()
        log.info(
            "restored KPI state from %d whole batches: %d brands, %d buckets, %d event ids",
            self.table.batches_recovered,
            len(self.state.brands),
            sum(len(bs.buckets) for bs in self.state.brands.values()),
            sum(len(bs.seen) for bs in self.state.brands.values()),
        )
        self.table.batches_recovered = 0

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


def _fault_plan(spec: str) -> dict[int, str]:
    """``before_write:3`` -> {3: "before_write"}; empty when no fault is asked for."""
    if not spec:
        return {}
    point, _, batch = spec.partition(":")
    return {int(batch): point}
