"""The persisted format of the KPI state: one module owns its keys, values and deletions.

**The state log.** Each partition of the events topic has a partition of the state log
topic, holding the state of the brands that partition owns. Its records are of two kinds:

- a **batch record**, one per partition per batch: the state writes of the batch (a list
  of ``[key, value]``, a value of ``None`` deleting the key), the events-topic offset the
  batch read up to (``next``: the first offset not yet counted) and the writer's epoch.
  A batch's state and the offsets it consumed are one record: a crash keeps both or
  neither, whatever the consumer group committed.
- a **fence record**, written by a worker that was just assigned the partition, before it
  reads the log back. It carries the worker's new epoch. Reading stops at the fence (its
  offset is known from the broker's acknowledgement), so the read never depends on the
  broker's reported end offset. A batch record written after a fence by another epoch
  comes from a worker that lost the partition and had not noticed yet: it is ignored.
- a **snapshot record**: the whole state map of the partition and its next offset,
  written right after a fence of its own epoch once ``SNAPSHOT_EVERY`` records, or as
  many bytes as the last snapshot (at least ``SNAPSHOT_MIN_BYTES``), have followed the
  last snapshot (``LogTail``), one partition a batch at most (``LogTail.most_due``). A
  read-back starts at the last snapshot whose previous record is its own fence
  (``replay_start``), so a restart reads a bounded tail of the log
  however long the worker ran, at most about twice a snapshot's bytes; the log itself is
  not compacted (Tansu has no compaction, and batch records have no keys to compact by).
  The bytes matter: a batch rewrites every bucket whose distinct counts it changed, and
  returning authors touch buckets up to a day old, so after 24 h of 100 brands 500 batch
  records of a minute each weighed 180 MB a partition against a 10 MB snapshot.

**The key families** of the state map (a key's first character):

- ``b`` bucket ``brand␟minute`` (a coarse bucket: a negative slot): counter vectors per
  label group (their non-zero counters by index) and rankings; deleted when evicted, or
  merged into a coarse bucket.
- ``w`` brand ``brand``: watermark, followers, hourly rates, sampling levels; one per brand.
- ``s`` seen ids ``brand␟minute␟n``: the event ids a batch first counted in that minute;
  deleted when the minute leaves the dedup horizon.
- ``g`` sightings ``brand␟minute␟n``: a batch's last sightings of distinct counts;
  deleted when the minute leaves the 24 h window.
- ``a`` alerts ``brand``: the detectors' state of the brand (``alert_record``): the
  baselines and the last minute they learned, the event-time watermark, the platforms'
  last events and busy minutes, and per rule the firing alert, since when it is clear and
  its cooldown. Written with the batch whose events changed it, so a restart or a
  rebalance neither sends a firing alert again nor resolves it under another id; one per
  brand. The detectors' minute totals are not in it: they are seeded from the restored
  minute buckets (an hour), as for a brand seen for the first time.

So live keys stay bounded by the 24 h horizon: ``KeyBook`` remembers the append-only keys
(``s``, ``g``) per brand and minute and names the ones to delete as the watermark moves.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from socialpulse.agents.state import MAX_WINDOW_MINUTES, BatchResult, KpiState, coarse_slot
from socialpulse.alerts.detector import AlertEngine
from socialpulse.streams import codec

SEP: Final = "\x1f"
#: key prefixes of the record families in the state map
BUCKET: Final = "b"
BRAND: Final = "w"
SEEN: Final = "s"
SIGHTING: Final = "g"
ALERTS: Final = "a"

#: record kinds of the state log
BATCH: Final = "batch"
FENCE: Final = "fence"
SNAPSHOT: Final = "snapshot"
#: records of a partition after which its owner writes a snapshot
SNAPSHOT_EVERY: Final = 500
#: a snapshot is also due once the batch records since the last one weigh as much as it,
#: and at least this many bytes (``LogTail``)
SNAPSHOT_MIN_BYTES: Final = 4_000_000
FORMAT_VERSION: Final = 1

#: the Kafka key of every state log record (the partition is chosen explicitly)
RECORD_KEY: Final = b"socialpulse-state"

Writes = dict[str, Any]  # key -> value (None deletes the key)


def bucket_key(brand: str, minute: int) -> str:
    return f"{BUCKET}{brand}{SEP}{minute}"


def brand_key(brand: str) -> str:
    return f"{BRAND}{brand}"


def alert_key(brand: str) -> str:
    return f"{ALERTS}{brand}"


def split_delta_key(key: str) -> tuple[str, int]:
    """(brand, minute) of a seen-id or sighting key ``fbrand␟minute␟tag``."""
    head, _, _tag = key[1:].rpartition(SEP)
    brand, _, minute = head.rpartition(SEP)
    return brand, int(minute)


def split_bucket_key(key: str) -> tuple[str, int]:
    brand, _, minute = key[1:].rpartition(SEP)
    return brand, int(minute)


def new_epoch() -> str:
    """A fresh writer epoch: unique per worker and assignment."""
    return uuid.uuid4().hex


# -- records --------------------------------------------------------------------------------
def batch_record(epoch: str, next_offset: int, writes: Writes) -> bytes:
    """The value of a batch record: the batch's writes and the offset it read up to."""
    return codec.dumps(
        {"v": FORMAT_VERSION, "t": BATCH, "e": epoch, "next": next_offset, "w": writes}
    )


def fence_record(epoch: str) -> bytes:
    return codec.dumps({"v": FORMAT_VERSION, "t": FENCE, "e": epoch, "at": time.time()})


def snapshot_record(epoch: str, next_offset: int | None, data: Writes) -> bytes:
    """The value of a snapshot record: a partition's whole state map."""
    return codec.dumps(
        {"v": FORMAT_VERSION, "t": SNAPSHOT, "e": epoch, "next": next_offset, "w": data}
    )


def snapshot_record_of(epoch: str, next_offset: int | None, parts: Iterable[bytes]) -> bytes:
    """``snapshot_record`` of a state map encoded in parts, each ``codec.dumps`` of a dict
    and no key in two of them: the same bytes as ``snapshot_record`` of the merged map
    (keys in the parts' order), so a worker can encode a large map a brand at a time."""
    head = snapshot_record(epoch, next_offset, {})
    assert head.endswith(b"{}}")
    body = b",".join(part[1:-1] for part in parts if len(part) > 2)
    return head[:-2] + body + b"}}"


#: the head every record of this module starts with (orjson keeps the keys' order)
_HEAD = re.compile(rb'\{"v":\d+,"t":"([a-z]+)","e":"([0-9A-Za-z_-]*)"[,}]')


def _kind_and_epoch(raw: bytes, whole: bool = False) -> tuple[str, str] | None:
    """A record's kind and epoch; None for bytes that are not a record. Unless ``whole``,
    read from its head without decoding the rest (a read-back scans batch records of
    hundreds of kB for the last snapshot)."""
    head = None if whole else _HEAD.match(raw)
    if head is not None:
        return head[1].decode(), head[2].decode()
    try:
        if whole:  # the JSON read through, but only the head built (replay decodes it)
            found = _WHOLE.decode(raw)
            return found.t, found.e
        record = codec.loads(raw)
        return record["t"], record["e"]
    except (codec.DecodeError, msgspec.DecodeError, KeyError, TypeError):
        return None


class _Head(msgspec.Struct):
    """A record's kind and epoch; the rest of it is checked as JSON and skipped."""

    t: str
    e: str


_WHOLE: Final = msgspec.json.Decoder(_Head)


def replay_start(records: list[tuple[int, bytes]]) -> int | None:
    """Where a read-back may start in ``records`` ((offset, value), in log order): the
    offset of the fence just before the last snapshot of the same epoch, or None when
    the records hold no such pair (read from further back)."""
    for i in range(len(records) - 1, 0, -1):
        offset, raw = records[i]
        found = _kind_and_epoch(raw)
        if found is None or found[0] != SNAPSHOT:
            continue
        before_offset, before = records[i - 1]
        previous = _kind_and_epoch(before)
        if (
            before_offset == offset - 1
            and previous == (FENCE, found[1])
            and _kind_and_epoch(raw, whole=True) == found  # the whole snapshot decodes
        ):
            return before_offset
    return None


@dataclass(slots=True)
class LogTail:
    """Per partition, what its state log holds since the last snapshot, and whether the
    next snapshot is due: after ``every`` records, or once the records weigh as much as
    the last snapshot and at least ``min_bytes``. A restart reads the last snapshot and
    this tail, so the tail's bytes stay within about a snapshot's, while a partition whose
    records are small is not snapshotted more often than every ``every`` records."""

    every: int = SNAPSHOT_EVERY
    min_bytes: int = SNAPSHOT_MIN_BYTES
    records: dict[int, int] = field(default_factory=dict)
    bytes: dict[int, int] = field(default_factory=dict)
    snapshot_bytes: dict[int, int] = field(default_factory=dict)

    def wrote(self, partition: int, size: int) -> None:
        """A batch record of ``size`` bytes was written to ``partition``."""
        self.records[partition] = self.records.get(partition, 0) + 1
        self.bytes[partition] = self.bytes.get(partition, 0) + size

    def due(self, partition: int) -> bool:
        return self.fill(partition) >= 1.0

    def fill(self, partition: int) -> float:
        """How far the tail is towards a snapshot: 1 or more once one is due."""
        limit = max(self.min_bytes, self.snapshot_bytes.get(partition, 0))
        return max(
            self.records.get(partition, 0) / self.every, self.bytes.get(partition, 0) / limit
        )

    def most_due(self, partitions: Iterable[int]) -> int | None:
        """The partition of ``partitions`` whose snapshot is due the most; None if none is.

        A worker writes one snapshot per batch at most: partitions written in step reach
        the rule in the same batch, and their snapshots one after the other held the
        batch (and a scrape behind it) for the sum of their times."""
        best, most = None, 1.0
        for partition in partitions:
            fill = self.fill(partition)
            if fill >= most:
                best, most = partition, fill
        return best

    def snapshotted(self, partition: int, size: int) -> None:
        """A snapshot of ``size`` bytes was written: the tail starts again."""
        self.records[partition] = self.bytes[partition] = 0
        self.snapshot_bytes[partition] = size

    def restored(self, partition: int, replayed: Replayed) -> None:
        """``partition`` was read back: its tail is what the read-back replayed."""
        self.records[partition] = replayed.batches
        self.bytes[partition] = replayed.tail_bytes
        self.snapshot_bytes[partition] = replayed.snapshot_bytes


@dataclass(slots=True)
class Replayed:
    """A partition's state map rebuilt from its log, and where its events resume."""

    data: dict[str, Any] = field(default_factory=dict)
    next_offset: int | None = None  # None: no batch was ever written
    batches: int = 0  # batch records applied since the last snapshot
    snapshots: int = 0
    snapshot_bytes: int = 0  # the last snapshot's
    tail_bytes: int = 0  # the batch records' since the last snapshot
    stale: int = 0  # batch records of fenced-off writers, ignored
    fenced: bool = False  # the read reached the reader's own fence


def replay(records: Iterable[bytes], until_epoch: str | None = None) -> Replayed:
    """Apply a partition's log records in order.

    A batch record counts only when its epoch is the one of the latest fence before it
    (the partition's owner then); a record in an unknown format is skipped. With
    ``until_epoch``, the replay stops at that fence.
    """
    out = Replayed()
    current: str | None = None
    data = out.data
    for raw in records:
        try:
            record = codec.loads(raw)
            kind, epoch = record["t"], record["e"]
        except (codec.DecodeError, KeyError, TypeError):
            continue
        if kind == FENCE:
            if epoch == until_epoch:
                out.fenced = True
                break
            current = epoch
            continue
        if kind not in (BATCH, SNAPSHOT):
            continue
        if current is not None and epoch != current:
            out.stale += 1
            continue
        if kind == SNAPSHOT:
            data.clear()
            data.update(record["w"])
            out.snapshots += 1
            out.snapshot_bytes, out.batches, out.tail_bytes = len(raw), 0, 0
        else:
            for key, value in record["w"].items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            out.batches += 1
            out.tail_bytes += len(raw)
        if record["next"] is not None:
            out.next_offset = record["next"]
    return out


# -- the state map <-> KpiState ------------------------------------------------------------
class KeyBook:
    """The append-only keys (seen ids, sightings) a partition's state map holds, per brand
    and minute, so that they are deleted once their minute leaves the horizon."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[int, list[str]]] = {}
        self.sightings: dict[str, dict[int, list[str]]] = {}
        self._pruned: dict[str, int] = {}  # brand -> sighting cutoff of the last prune
        self._nonce = f"{os.getpid():x}{int(time.time() * 1000):x}"
        self._seq = 0

    def new_key(self, family: str, brand: str, minute: int) -> str:
        self._seq += 1
        key = f"{family}{brand}{SEP}{minute}{SEP}{self._nonce}.{self._seq}"
        book = self.seen if family == SEEN else self.sightings
        book.setdefault(brand, {}).setdefault(minute, []).append(key)
        return key

    def remember(self, key: str) -> None:
        """A key read back from the log."""
        brand, minute = split_delta_key(key)
        book = self.seen if key[0] == SEEN else self.sightings
        book.setdefault(brand, {}).setdefault(minute, []).append(key)

    def drop_seen(self, brand: str, minute: int) -> list[str]:
        return self.seen.get(brand, {}).pop(minute, [])

    def expired_sightings(self, brand: str, cutoff: int) -> list[str]:
        """Sighting keys of minutes at or before ``cutoff`` (outside every window)."""
        if self._pruned.get(brand) == cutoff:
            return []
        self._pruned[brand] = cutoff
        minutes = self.sightings.get(brand)
        if not minutes:
            return []
        gone = [m for m in minutes if m <= cutoff]
        return [key for m in gone for key in minutes.pop(m)]

    def forget(self, brands: Iterable[str]) -> None:
        for brand in brands:
            self.seen.pop(brand, None)
            self.sightings.pop(brand, None)
            self._pruned.pop(brand, None)

    def live_keys(self) -> int:
        return sum(
            len(keys)
            for book in (self.seen, self.sightings)
            for minutes in book.values()
            for keys in minutes.values()
        )


def stage_writes(state: KpiState, result: BatchResult, book: KeyBook) -> dict[str, Writes]:
    """The state map writes of one applied batch, per brand."""
    writes: dict[str, Writes] = {}

    def put(brand: str, key: str, value: Any) -> None:
        writes.setdefault(brand, {})[key] = value

    for brand, minute in result.touched - result.evicted - result.compacted:
        put(brand, bucket_key(brand, minute), state.bucket_record(brand, minute))
    for brand, minute in result.compacted | result.evicted:
        put(brand, bucket_key(brand, minute), None)
    for (brand, minute), ids in result.new_ids.items():
        put(brand, book.new_key(SEEN, brand, minute), ids)
    for brand, minute in result.forgotten:
        for key in book.drop_seen(brand, minute):
            put(brand, key, None)
    for (brand, minute), entries in result.sightings.items():
        put(brand, book.new_key(SIGHTING, brand, minute), entries)
    for brand in result.brands:
        bs = state.brands[brand]
        put(brand, brand_key(brand), state.brand_record(brand))
        wm_minute = bs.wm_minute
        if wm_minute is not None:
            for key in book.expired_sightings(brand, wm_minute - MAX_WINDOW_MINUTES):
                put(brand, key, None)
    return writes


def dump_state(state: KpiState, brands: Iterable[str], book: KeyBook) -> Writes:
    """The whole state map of ``brands``, as a snapshot holds it (new delta keys)."""
    data: Writes = {}
    brands = list(brands)
    book.forget(brands)
    for brand in brands:
        bs = state.brands.get(brand)
        if bs is None or bs.wm_minute is None:
            continue
        data[brand_key(brand)] = state.brand_record(brand)
        for slot in [*bs.buckets, *(coarse_slot(start) for start in bs.coarse)]:
            record = state.bucket_record(brand, slot)
            if record is not None:
                data[bucket_key(brand, slot)] = record
        for minute, ids in bs.seen_minutes.items():
            data[book.new_key(SEEN, brand, minute)] = list(ids)
        cutoff = bs.wm_minute - MAX_WINDOW_MINUTES
        by_minute: dict[int, list[tuple[int, str, str]]] = {}
        for counter, by_group in bs.distinct.items():
            for (platform, campaign), tracker in by_group.items():
                group_key = f"{platform}{SEP}{campaign}"
                for who, minute in tracker.last.items():
                    if minute > cutoff:
                        by_minute.setdefault(minute, []).append((counter, group_key, who))
        for minute, entries in by_minute.items():
            data[book.new_key(SIGHTING, brand, minute)] = entries
    return data


def restore_state(state: KpiState, book: KeyBook, data: dict[str, Any]) -> list[str]:
    """Rebuild the brands of one partition's state map into ``state``; the brands."""
    brand_records: dict[str, Any] = {}
    buckets: list[tuple[str, int, Any]] = []
    seen: list[tuple[str, int, Any]] = []
    sightings: list[tuple[str, int, Any]] = []
    delta_keys: list[str] = []
    for key, value in data.items():
        family = key[:1]
        if family == BRAND:
            brand_records[key[1:]] = value
        elif family == BUCKET:
            brand, minute = split_bucket_key(key)
            buckets.append((brand, minute, value))
        elif family in (SEEN, SIGHTING):
            brand, minute = split_delta_key(key)
            (seen if family == SEEN else sightings).append((brand, minute, value))
            delta_keys.append(key)
    book.forget(brand_records)
    for key in delta_keys:
        book.remember(key)
    state.restore(brand_records, buckets, seen, sightings)
    return list(brand_records)


def live_key_count(data: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """(family, keys) of a state map: what a restart reads back."""
    counts: dict[str, int] = {}
    for key in data:
        counts[key[:1]] = counts.get(key[:1], 0) + 1
    yield from sorted(counts.items())


# -- the detectors' state <-> the state map ------------------------------------------------
def alert_record(engine: AlertEngine, brand: str) -> dict[str, Any] | None:
    """What a restart needs of the detectors' state of ``brand`` (None: nothing held)."""
    watch = engine.watches.get(brand)
    rules = {
        rule: [
            None if st.firing is None else st.firing.to_dict(),
            st.clear_since,
            None if st.cooldown_until == float("-inf") else st.cooldown_until,
        ]
        for (b, rule), st in engine.lifecycle.states.items()
        if b == brand
        and (st.firing is not None or st.clear_since is not None or st.cooldown_until > -1e300)
    }
    if watch is None:
        return {"r": rules} if rules else None
    return {
        "b": {
            name: [bl.mean, bl.var, bl.samples, bl.skipped] for name, bl in watch.baselines.items()
        },
        "c": watch.closed,
        "wm": watch.watermark,
        "pl": watch.platform_last,
        "pm": {p: list(ring) for p, ring in watch.platform_minutes.items()},
        "r": rules,
    }


def restore_alert_record(engine: AlertEngine, brand: str, record: dict[str, Any]) -> None:
    """Put a brand's persisted detectors' state back (its totals are seeded later)."""
    from collections import deque

    from socialpulse.alerts.lifecycle import RuleState
    from socialpulse.alerts.model import Alert

    if "b" in record:
        watch = engine._watch(brand)
        for name, (mean, var, samples, skipped) in record["b"].items():
            baseline = watch.baselines.get(name)
            if baseline is not None:
                baseline.mean, baseline.var = mean, var
                baseline.samples, baseline.skipped = samples, skipped
        watch.closed = record["c"]
        watch.watermark = record["wm"]
        watch.platform_last = dict(record["pl"])
        watch.platform_minutes = {
            p: deque((tuple(x) for x in ring), maxlen=90) for p, ring in record["pm"].items()
        }
        watch.arrived = engine.clock()  # the wall-clock silence counts from the restore
        watch.seeded = False
    for rule, (firing, clear_since, cooldown_until) in record["r"].items():
        engine.lifecycle.states[(brand, rule)] = RuleState(
            firing=None if firing is None else Alert(**firing),
            clear_since=clear_since,
            cooldown_until=float("-inf") if cooldown_until is None else cooldown_until,
        )
