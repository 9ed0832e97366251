"""The KPI engine's batch core: a batch of raw messages in, everything it causes out.

No Faust here: the worker's agent (``agents.pipeline``) feeds batches to ``BatchCore``
and sends what comes out; the test harness (``agents.testing``) feeds the same core
from a list, crashes it at any step and recovers it from its own records. One batch goes
through these named steps, in this order:

``decode``
    Each message value becomes events (one event or an envelope); a bad message or
    element becomes a dead letter with its reason and its source topic/partition/offset.
    Messages below the offset a partition's restored state already covers are skipped.
``route``
    An event belongs to the partition that owns its brand (``brand_partition``). Events
    that arrived on another partition (unkeyed messages, a client with another
    partitioner) are forwarded there, never counted here: so each partition's state
    changes come from its own messages only, and one record per partition holds a batch's
    state together with the offset it read up to. A forward names the partition it was
    read from (header ``FORWARD_HEADER``), and an owner partition of this core expects it:
    the brand's watermark waits for the partitions its events come from
    (``state.Sources``).
``admit``
    Events ahead of the wall clock by more than ``max_future`` are dead-lettered
    (``future``).
``enrich``
    Texts are scored (language, sentiment, hashtags) by the injected enricher, in a
    helper process: meanwhile the batch's other events are counted, when the batch spans
    less event time than the allowed lateness (then counting them first cannot make a
    text late, so the result is the one of counting in order); otherwise after it.
``count``
    ``KpiState.apply``: duplicates (by id) and late events are recognised, the rest
    counted; late events are dead-lettered (``late``).
``detect``
    With an alert engine, the detectors read the counted events in arrival order (also
    when they were counted in two passes) and judge every step of event time they close
    (``alerts.detector``); the alerts go in the output, for the runtime to publish before
    it writes the records.
``persist``
    The writes of the batch (``agents.persisted``), the detectors' state of the brands
    whose steps moved included, become one batch record per partition, with the
    partition's next offset. The batch's state is durable once the runtime has written
    these records; until then, a crash re-reads the batch (and raises its alerts again,
    with the same ids).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Final, Protocol

from socialpulse.agents.persisted import (
    ALERTS,
    KeyBook,
    Writes,
    alert_key,
    alert_record,
    batch_record,
    dump_state,
    new_epoch,
    restore_alert_record,
    restore_state,
    stage_writes,
)
from socialpulse.agents.state import BatchResult, KpiState
from socialpulse.alerts.detector import AlertEngine
from socialpulse.alerts.model import Alert
from socialpulse.streams import codec
from socialpulse.streams.enrich.enricher import wants_enrichment
from socialpulse.streams.partitioning import brand_partition
from socialpulse.streams.validation import Event, Rejection, decode_message

#: the header of a forwarded message: the partition its events were read from
FORWARD_HEADER: Final = "socialpulse-source"
STEPS: Final = ("decode", "route", "admit", "enrich", "count", "detect", "persist")


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """A message of the events topic, as the core needs it."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    source: int | None = None  # a forward: the partition its events were read from

    @property
    def origin(self) -> int:
        """The partition the message's events were first read from."""
        return self.partition if self.source is None else self.source


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejection and the message it came from (None for a forwarded event's rejection)."""

    rejection: Rejection
    source: SourceMessage | None


@dataclass(slots=True)
class BatchOutput:
    """What one batch causes: for the runtime to send, and for the metrics."""

    messages: int = 0
    skipped: int = 0  # messages a restored state had counted already
    dead_letters: list[DeadLetter] = field(default_factory=list)
    #: (owner partition, brand, partition read from) -> encoded events
    forwards: dict[tuple[int, str, int], list[bytes]] = field(default_factory=dict)
    records: dict[int, bytes] = field(default_factory=dict)  # partition -> batch record
    covers: dict[int, int] = field(default_factory=dict)  # partition -> its record's next
    accepted: list[Event] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)  # raised by the batch, in order
    duplicates: Counter[str] = field(default_factory=Counter)
    touched: set[str] = field(default_factory=set)  # brands the batch counted events for


class Enricher(Protocol):
    """Starts filling in ``lang``, ``sentiment``, ``hashtags`` of events with text, in
    place; the awaitable it returns completes the work."""

    def __call__(self, events: list[Event]) -> Awaitable[None]: ...


@dataclass(slots=True)
class PartitionState:
    """What the core keeps for one partition it owns."""

    epoch: str
    next_offset: int | None  # the first offset not counted yet; None: from wherever
    log_offset: int | None = None  # offset of this owner's last record in the state log
    #: the first offset not covered by a record in the state log: the only position that
    #: may be committed as the group's offset (``next_offset`` runs ahead during a batch,
    #: and a batch cut short by a stop never writes its record)
    durable: int | None = None


def forwarded_from(headers: Sequence[tuple[str, bytes | None]]) -> int | None:
    """The partition a forwarded message's events were read from (its header), or None."""
    for name, value in headers:
        if name == FORWARD_HEADER and value:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def envelopes(items: list[bytes], *, max_events: int, max_bytes: int) -> list[bytes]:
    """Encoded events joined into JSON-array envelopes of at most ``max_events`` events and
    ``max_bytes`` bytes each (an event longer than that alone goes alone): a forwarded
    batch stays within the limits its owner reads with."""
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = 2  # the brackets
    for item in items:
        extra = len(item) + (1 if chunk else 0)
        if chunk and (len(chunk) >= max_events or size + extra > max_bytes):
            out.append(b"[" + b",".join(chunk) + b"]")
            chunk, size, extra = [], 2, len(item)
        chunk.append(item)
        size += extra
    if chunk:
        out.append(b"[" + b",".join(chunk) + b"]")
    return out


class Crash(Exception):
    """Raised by a test checkpoint to stop a batch at a step, as a kill would."""


class BatchCore:
    """Owns the KPI state of the partitions it was given, and turns batches into outputs."""

    def __init__(
        self,
        state: KpiState,
        *,
        partitions: int,
        max_message_bytes: int,
        max_envelope_events: int,
        max_future: float,
        enricher: Enricher | None = None,
        alerts: AlertEngine | None = None,
        clock: Callable[[], float] = time.time,
        checkpoint: Callable[[str], Awaitable[None] | None] | None = None,
    ) -> None:
        self.state = state
        self.partitions = partitions
        self.max_message_bytes = max_message_bytes
        self.max_envelope_events = max_envelope_events
        self.max_future = max_future
        self.enricher = enricher
        self.alerts = alerts
        self.clock = clock
        self.checkpoint = checkpoint
        self.book = KeyBook()
        self.owned: dict[int, PartitionState] = {}
        self._owners: dict[tuple[str, int], int] = {}  # (brand, partitions) -> owner

    # -- ownership ----------------------------------------------------------------------
    def restore(
        self,
        partition: int,
        data: dict[str, Any],
        next_offset: int | None,
        epoch: str = "",
        log_offset: int | None = None,
    ) -> list[str]:
        """Take ``partition`` over from its replayed state map; the brands restored."""
        self.forget([partition])
        brands = restore_state(self.state, self.book, data)
        if self.alerts is not None:
            for key, value in data.items():
                if key[:1] == ALERTS:
                    restore_alert_record(self.alerts, key[1:], value)
        self.owned[partition] = PartitionState(
            epoch or new_epoch(), next_offset, log_offset, durable=next_offset
        )
        self.state.hold(partition)  # until it is read from, brands wait for it too
        return brands

    def forget(self, partitions: Iterable[int]) -> list[str]:
        """Drop the state of partitions now owned elsewhere; the brands forgotten."""
        gone = set(partitions)
        for partition in gone:
            self.owned.pop(partition, None)
        brands = [b for b in self.state.brands if self.owner(b) in gone]
        self.state.unhold(gone)
        self.state.forget(brands)
        self.book.forget(brands)
        if self.alerts is not None:
            held = {b for b in self.alerts.watches} | {b for b, _ in self.alerts.lifecycle.states}
            self.alerts.forget([b for b in held if self.owner(b) in gone])
        return brands

    def dump(self, partition: int) -> Iterator[Writes]:
        """The whole state map of ``partition`` (for a snapshot record), a brand at a time:
        the runtime encodes each part and lets other work (a scrape) run between them. The
        brands are listed first; the state must not change until the last part."""
        brands = [b for b in self.state.brands if self.owner(b) == partition]
        alerted: set[str] = set()
        if self.alerts is not None:
            alerted = {b for b in self.alerts.watches} | {
                b for b, _ in self.alerts.lifecycle.states
            }
        mine = set(brands)
        brands += sorted(b for b in alerted if b not in mine and self.owner(b) == partition)
        for brand in brands:
            data = dump_state(self.state, [brand], self.book)
            if brand in alerted:
                assert self.alerts is not None
                record = alert_record(self.alerts, brand)
                if record is not None:
                    data[alert_key(brand)] = record
            yield data

    def written(self, out: BatchOutput, offsets: dict[int, int]) -> None:
        """The runtime wrote ``out``'s records: partition -> offset in the state log."""
        for partition, offset in offsets.items():
            owned = self.owned.get(partition)
            if owned is not None:
                owned.log_offset = offset
                owned.durable = out.covers[partition]

    def caught_up(self, partitions: Iterable[int]) -> None:
        """``partitions`` are read to their end: brands need not wait for them (called by
        the runtime before a batch)."""
        self.state.unhold(partitions)

    def behind(self, partitions: Iterable[int]) -> None:
        """``partitions`` have records beyond what the runtime has fetched (called before a
        batch): while any of them is owned here, forwards may be waiting in them, and a
        quiet partition is not left out of a watermark before the allowed lateness."""
        self.state.backlog = any(p in self.owned for p in partitions)

    def durable(self, partition: int) -> int | None:
        """The first offset of ``partition`` its state log does not cover (None: none)."""
        owned = self.owned.get(partition)
        return None if owned is None else owned.durable

    def owner(self, brand: str) -> int:
        key = (brand, self.partitions)
        owner = self._owners.get(key)
        if owner is None:
            if len(self._owners) > 100_000:  # brands come and go: keep the memo bounded
                self._owners.clear()
            owner = self._owners[key] = brand_partition(brand, self.partitions)
        return owner

    # -- the batch ------------------------------------------------------------------------
    async def process(self, messages: Sequence[SourceMessage]) -> BatchOutput:
        """Run one batch through every step; raises ``KeyError`` for a message of a
        partition the core does not own (the runtime restores partitions first)."""
        out = BatchOutput(messages=len(messages))
        # the events of the batch and, side by side, the message each came from
        events, sources = self._decode(messages, out)
        await self._step("decode")
        results: list[BatchResult] = [BatchResult()]  # the first: brands expecting forwards
        events, sources = self._route(events, sources, out, results[0])
        await self._step("route")
        events, sources = self._admit(events, sources, out)
        await self._step("admit")
        floors = self.state.floors(events, [m.origin for m in sources])
        now: list[int] = []  # the indices of the events without text to score
        later: list[int] = []  # and of those with
        if self.enricher is not None:
            for i, ev in enumerate(events):
                (later if wants_enrichment(ev) else now).append(i)
        if later and self.enricher is not None:
            pending = self.enricher([events[i] for i in later])  # a helper process scores
            if self._span(events) < self.state.allowed_lateness:
                results.append(self._count(events, floors, sources, out, now))
                await pending
                await self._step("enrich")
                results.append(self._count(events, floors, sources, out, later))
            else:
                await pending
                await self._step("enrich")
                results.append(self._count(events, floors, sources, out))
        else:
            await self._step("enrich")
            results.append(self._count(events, floors, sources, out))
        if len(results) > 2:  # counted in two passes: the detectors read arrival order
            first, second = results[1], results[2]
            at = [now[k] for k in first.kept] + [later[k] for k in second.kept]
            order = sorted(range(len(at)), key=at.__getitem__)  # two sorted runs: merged
            accepted = first.accepted + second.accepted
            floors_at = first.floors + second.floors
            contributions_at = first.contributed + second.contributed
            out.accepted = [accepted[k] for k in order]
            accepted_floors = [floors_at[k] for k in order]
            contributed = [contributions_at[k] for k in order]
        else:
            accepted_floors, contributed = results[1].floors, results[1].contributed
        # brands with no event here that waited for a partition this batch let go
        results.append(self.state.settle())
        await self._step("count")
        fresh = self.state.take_created()
        if self.alerts is not None:
            out.alerts = self.alerts.detect(
                out.accepted, self.state.brands, accepted_floors, contributed, fresh
            )
        await self._step("detect")
        self._persist(messages, out, results)
        await self._step("persist")
        return out

    def tick(self, now: float | None = None) -> BatchOutput:
        """Between batches (a wall-clock timer): move the watermarks that partitions gone
        quiet held back, judge the steps that closes; the records of what changed."""
        out = BatchOutput()
        result = self.state.refloor(now)
        if not result.brands:
            return out
        if self.alerts is not None:
            out.alerts = self.alerts.detect([], self.state.brands)
        self._persist([], out, [result])
        return out

    async def _step(self, name: str) -> None:
        if self.checkpoint is not None:
            waiting = self.checkpoint(name)
            if waiting is not None:
                await waiting

    def _decode(
        self, messages: Sequence[SourceMessage], out: BatchOutput
    ) -> tuple[list[Event], list[SourceMessage]]:
        events: list[Event] = []
        sources: list[SourceMessage] = []
        for message in messages:
            owned = self.owned[message.partition]
            if owned.next_offset is not None and message.offset < owned.next_offset:
                out.skipped += 1
                continue
            owned.next_offset = message.offset + 1
            decoded, rejections = decode_message(
                message.value,
                max_bytes=self.max_message_bytes,
                max_events=self.max_envelope_events,
            )
            for rejection in rejections:
                out.dead_letters.append(DeadLetter(rejection, message))
            events += decoded
            sources += repeat(message, len(decoded))
        return events, sources

    def _route(
        self,
        events: list[Event],
        sources: list[SourceMessage],
        out: BatchOutput,
        expecting: BatchResult,
    ) -> tuple[list[Event], list[SourceMessage]]:
        owner_of = self.owner
        if all(owner_of(ev["brand"]) == m.partition for ev, m in zip(events, sources, strict=True)):
            return events, sources  # every event read on its brand's partition (keyed)
        mine: list[Event] = []
        mine_sources: list[SourceMessage] = []
        first: dict[tuple[str, int], float] = {}  # (brand, origin) -> first event time
        for ev, message in zip(events, sources, strict=True):
            brand = ev["brand"]
            owner = owner_of(brand)
            if owner == message.partition:
                mine.append(ev)
                mine_sources.append(message)
                continue
            origin = message.origin
            out.forwards.setdefault((owner, brand, origin), []).append(codec.dumps(ev))
            if owner in self.owned and ev["ts"] < first.get((brand, origin), float("inf")):
                first[(brand, origin)] = ev["ts"]
        for (brand, origin), ts in first.items():
            # forwarded to a partition of this core: until they are read back, the
            # brand's watermark waits for them (its own events may run far ahead)
            self.state.expect(brand, origin, ts)
            expecting.brands.add(brand)
        if first:  # they are a backlog of a partition of this core until the next fetch
            self.state.backlog = True
        return mine, mine_sources

    def _admit(
        self, events: list[Event], sources: list[SourceMessage], out: BatchOutput
    ) -> tuple[list[Event], list[SourceMessage]]:
        limit = self.clock() + self.max_future
        if all(ev["ts"] <= limit for ev in events):
            return events, sources
        kept: list[Event] = []
        kept_sources: list[SourceMessage] = []
        for ev, message in zip(events, sources, strict=True):
            if ev["ts"] <= limit:
                kept.append(ev)
                kept_sources.append(message)
            else:
                detail = f"event time {ev['ts']:.3f} is ahead of the wall clock"
                rejection = Rejection("future", detail, codec.dumps(ev), ev["brand"])
                out.dead_letters.append(DeadLetter(rejection, message))
        return kept, kept_sources

    @staticmethod
    def _span(events: list[Event]) -> float:
        stamps = [ev["ts"] for ev in events]
        return max(stamps) - min(stamps)

    def _count(
        self,
        events: list[Event],
        floors: list[float],
        sources: list[SourceMessage],
        out: BatchOutput,
        chosen: list[int] | None = None,
    ) -> BatchResult:
        """Count ``events`` (those at the indices ``chosen``, when given)."""
        if chosen is not None:
            events = [events[i] for i in chosen]
            floors = [floors[i] for i in chosen]
            sources = [sources[i] for i in chosen]
        result = self.state.apply(events, floors)
        if result.late:
            source_of = {id(ev): m for ev, m in zip(events, sources, strict=True)}
            for ev in result.late:
                detail = f"event time {ev['ts']:.3f} is older than the allowed lateness"
                rejection = Rejection("late", detail, codec.dumps(ev), ev["brand"])
                out.dead_letters.append(DeadLetter(rejection, source_of[id(ev)]))
        out.accepted.extend(result.accepted)
        out.duplicates.update(result.duplicates)
        out.touched.update({ev["brand"] for ev in result.accepted})
        return result

    def _persist(
        self, messages: Sequence[SourceMessage], out: BatchOutput, results: list[BatchResult]
    ) -> None:
        writes: dict[int, Writes] = {}
        for result in results:  # in order: a later result's write of a key wins
            for brand, brand_writes in stage_writes(self.state, result, self.book).items():
                writes.setdefault(self.owner(brand), {}).update(brand_writes)
        if self.alerts is not None:
            for brand in self.alerts.take_dirty():
                record = alert_record(self.alerts, brand)
                if record is not None:
                    writes.setdefault(self.owner(brand), {})[alert_key(brand)] = record
        for partition in {m.partition for m in messages} | set(writes):
            owned = self.owned[partition]
            if owned.next_offset is None:
                continue  # nothing read from it, nothing counted for it
            out.records[partition] = batch_record(
                owned.epoch, owned.next_offset, writes.get(partition, {})
            )
            out.covers[partition] = owned.next_offset
