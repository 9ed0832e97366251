"""Resident memory of a worker's KPI state with every window full, per brand.

    python bench/memory.py --brands 100                  # 24 h full: ~7 min on one core
    python bench/memory.py --brands 1000 --minutes 360   # the issue's brands, 6 h: ~8 min
    python bench/memory.py --brands 1000                 # the issue's size in full: slow
    python bench/memory.py --brands 20 --minutes 120 --tracemalloc

The feed takes time growing with brands × minutes², as each minute's watermark move
walks every held minute (2.8k events/s at 24 h in the runs above), hence ``--minutes``.

Builds a ``KpiState`` (default settings) and feeds it, in event-time order and in batches
of ``--batch`` events through ``state.apply``, ``--minutes`` (default 1440 = 24 h) of
events for N brands × 3 platforms × 5 campaigns. Each brand gets 8 events every minute:
one per platform without a campaign and one per campaign (on a rotating platform), so
every minute bucket of every (all, all), (platform, all) and (all, campaign) group exists
and the 5m, 1h and 24h windows are full. Kinds rotate through impressions (authors from
a pool of 200 viewers per brand, with location, age and gender), likes, clicks, mentions
with sentiment and a hashtag, shares, conversions and ad spend with a value, visits with
a fresh session, follows and follower snapshots; ``--variants`` also gives campaign
events an A/B variant (one more label group per campaign). Events are built minute by
minute as ``validate_event`` would leave them (``ts`` float seconds, ``platform`` and an
int ``count`` set), so no validation is run.

It measures:

* the process RSS (``VmRSS`` of /proc/self/status) before the state is built and after
  the feed; the growth is the KPI state as the allocator really holds it;
* with ``--tracemalloc``, the bytes Python allocated for it (slower; off by default);
* the bytes the worker's Faust tables would keep in ``table.data`` (the memory:// store
  is a dict per table): the bucket records ``codec.dumps(state.bucket_record(b, m))`` and
  brand records ``codec.dumps(state.brand_record(b))`` as they stand at the end, plus the
  seen-id and sighting delta records written by every batch and not yet deleted, exactly
  as ``KpiPipeline._persist`` writes and deletes them. Only their lengths are counted (no
  bytes are kept); the dict, key and value object overhead per entry is measured with
  tracemalloc on a small dict of the same shape;
* where one brand's state goes, per component, by walking its objects (``deep_size``).

If ``--minutes`` is below 1440, the per-brand figures are also scaled to 24 h by
1440 / minutes. That is an upper bound: buckets, visitor sessions and sighting records
grow with time, but window totals, remembered event ids, the reach maps (200 viewers)
and follower state do not.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import io
import os
import random
import sys
import time
import tracemalloc
import zlib
from array import array
from collections.abc import Iterator
from typing import Any

from socialpulse.agents.persisted import SEP, bucket_key
from socialpulse.agents.state import BatchResult, BrandState, KpiState
from socialpulse.streams import codec
from socialpulse.streams.validation import Event

PLATFORMS = ("instagram", "tiktok", "x")
CAMPAIGNS = ("spring-sale", "summer-launch", "loyalty-club", "black-friday", "brand-lift")
#: one event per platform (no campaign), then one per campaign: 8 slots per brand and minute
SLOTS = len(PLATFORMS) + len(CAMPAIGNS)
#: kinds in rotation; 13 is coprime with 8 slots, so every group sees every kind
MIX = (
    "impression",
    "like",
    "impression",
    "click",
    "mention",
    "impression",
    "share",
    "conversion",
    "impression",
    "ad_spend",
    "visit",
    "follow",
    "followers",
)
VIEWERS = 200  # impression authors per brand
MENTIONERS = 500  # mention and share authors per brand
HASHTAGS = 40  # hashtags per brand
LOCATIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "MX", "IN", "JP", "CA", "AU", "PL")
GENDERS = ("female", "male", "female", "male", "nonbinary")
START = 1_717_200_000.0  # 2024-06-01 00:00 UTC, on a minute boundary
DAY_MINUTES = 1440
MB = 1_000_000


# -- measurement helpers -------------------------------------------------------------------
def rss_bytes(field: str = "VmRSS") -> int:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM), in bytes."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """``sys.getsizeof`` of ``obj`` and everything it holds, each object counted once.

    Follows dicts, lists, tuples, sets and frozensets and the slots (or ``__dict__``) of
    dataclass instances. Pass the same ``seen`` set to several calls to count objects
    shared between them only once.
    """
    if seen is None:
        seen = set()
    total = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset):
            stack.extend(o)
        elif dataclasses.is_dataclass(o) and not isinstance(o, type):
            for f in dataclasses.fields(o):
                stack.append(getattr(o, f.name))
            if hasattr(o, "__dict__"):
                stack.append(o.__dict__)
    return total


def dict_entry_overhead(n: int = 50_000) -> float:
    """Bytes per entry of a ``dict[bytes, bytes]`` beyond the keys' and values' lengths.

    Measured with tracemalloc on a fresh dict of ``n`` entries shaped like a table's.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    table: dict[bytes, bytes] = {}
    payload = 0
    for i in range(n):
        key = f"brand-{i % 997:04d}{SEP}{28_620_000 + i}".encode()
        value = b"x" * (200 + i % 400)
        table[key] = value
        payload += len(key) + len(value)
    after = tracemalloc.get_traced_memory()[0]
    del table
    if not was_tracing:
        tracemalloc.stop()
    return (after - before - payload) / n


def key_index_overhead(n: int = 20_000, per_group: int = 3) -> tuple[float, float]:
    """Bytes per (brand, minute) group and per remembered key of the pipeline's
    ``_seen_keys`` / ``_sighting_keys`` indexes (the key bytes themselves are shared with
    ``table.data`` and not counted here)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    shared = [f"k{i}".encode() for i in range(per_group)]
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    index: dict[tuple[str, int], list[bytes]] = {}
    for i in range(n):
        keys = index.setdefault((f"brand-{i % 997:04d}", 28_620_000 + i), [])
        for key in shared:
            keys.append(key)
    after = tracemalloc.get_traced_memory()[0]
    del index
    if not was_tracing:
        tracemalloc.stop()
    per_key = 8.0  # one list slot; list growth slack is in the per-group figure
    return (after - before) / n - per_key * per_group, per_key


# -- the events ----------------------------------------------------------------------------
class Feed:
    """Builds each simulated minute's events, as ``validate_event`` would leave them."""

    def __init__(self, brands: list[str], seed: int = 7, variants: bool = False) -> None:
        self.brands = brands
        self.variants = variants
        self.rng = random.Random(seed)
        self.seq = 0
        self.followers = [[10_000.0 + 1_000 * p for p in range(len(PLATFORMS))] for _ in brands]

    def minute(self, m: int) -> list[Event]:
        """The events of minute ``m`` (offset from START), in event-time order."""
        rnd = self.rng.random
        nb = len(self.brands)
        base = START + 60.0 * m
        out: list[Event] = []
        for slot in range(SLOTS):
            slot_ts = base + slot * 7.5
            for bi, brand in enumerate(self.brands):
                if slot < len(PLATFORMS):
                    pi = slot
                    campaign = None
                else:
                    pi = (slot + m) % len(PLATFORMS)
                    campaign = CAMPAIGNS[slot - len(PLATFORMS)]
                kind = MIX[(m + 5 * slot + bi) % len(MIX)]
                self.seq += 1
                ev: Event = {
                    "id": f"bench-{self.seq}",
                    "ts": slot_ts + 7.0 * bi / nb,
                    "brand": brand,
                    "kind": kind,
                    "platform": PLATFORMS[pi],
                    "count": 1,
                }
                if campaign is not None:
                    ev["campaign"] = campaign
                    if self.variants:
                        ev["variant"] = "b" if rnd() < 0.5 else "a"
                if kind == "impression":
                    ev["author"] = self.person(f"v{bi}-{int(VIEWERS * rnd() ** 1.6)}")
                elif kind in ("mention", "share"):
                    ev["author"] = self.person(f"a{bi}-{int(MENTIONERS * rnd() ** 2.5)}")
                    if kind == "mention":
                        ev["sentiment"] = round(2.0 * rnd() - 1.0, 3)
                        ev["hashtags"] = [f"tag{bi}x{int(HASHTAGS * rnd() ** 2)}"]
                elif kind in ("like", "click"):
                    ev["count"] = 1 + int(4 * rnd() ** 3)
                elif kind == "conversion":
                    ev["value"] = round(5.0 + 195.0 * rnd(), 2)
                    ev["currency"] = "EUR"
                elif kind == "ad_spend":
                    ev["value"] = round(0.5 + 20.0 * rnd(), 2)
                    ev["currency"] = "EUR"
                elif kind == "visit":
                    ev["session"] = f"s{self.seq}"
                    ev["value"] = round(5.0 + 600.0 * rnd(), 1)
                elif kind == "followers":
                    counts = self.followers[bi]
                    counts[pi] += int(20 * rnd()) - 8
                    ev["value"] = counts[pi]
                out.append(ev)
        return out

    def person(self, who: str) -> dict[str, Any]:
        """An author object with the demographics the rankings count (fresh strings)."""
        h = zlib.crc32(who.encode())  # the same author has the same traits in every run
        return {
            "id": who,
            "followers": 20 + (h % 100_003) ** 2 // 100_000,
            "location": LOCATIONS[h % len(LOCATIONS)],
            "age": 13 + (h >> 8) % 60,
            "gender": GENDERS[(h >> 16) % len(GENDERS)],
        }


# -- the table mirror ----------------------------------------------------------------------
class MirrorTracker:
    """Lengths of the seen-id and sighting delta records ``KpiPipeline._persist`` keeps.

    One slot per (brand, minute) in preallocated arrays, so tracking costs no memory that
    grows during the run; records are added per batch and removed when forgotten/evicted.
    """

    def __init__(self, brands: list[str], minutes: int) -> None:
        self.index = {b: i for i, b in enumerate(brands)}
        self.minutes = minutes
        self.m0 = int(START // 60)
        n = len(brands) * minutes
        self.seen_bytes = array("q", bytes(8 * n))
        self.seen_keys = array("q", bytes(8 * n))
        self.sight_bytes = array("q", bytes(8 * n))
        self.sight_keys = array("q", bytes(8 * n))
        # the pipeline's delta key: f"{brand}{SEP}{minute}{SEP}{nonce}.{seq}"
        self.nonce = f"{os.getpid():x}{int(time.time() * 1000):x}"
        self.seq = 0
        self.totals = {"seen": [0, 0, 0], "sight": [0, 0, 0]}  # bytes, entries, groups

    def _slot(self, brand: str, minute: int) -> int:
        return self.index[brand] * self.minutes + (minute - self.m0)

    def _key_len(self, brand: str, minute: int) -> int:
        self.seq += 1
        return len(f"{brand}{SEP}{minute}{SEP}{self.nonce}.{self.seq}".encode())

    def _add(self, which: str, brand: str, minute: int, value_len: int) -> None:
        nbytes, nkeys = (
            (self.seen_bytes, self.seen_keys)
            if which == "seen"
            else (self.sight_bytes, self.sight_keys)
        )
        i = self._slot(brand, minute)
        size = self._key_len(brand, minute) + value_len
        nbytes[i] += size
        nkeys[i] += 1
        t = self.totals[which]
        t[0] += size
        t[1] += 1
        if nkeys[i] == 1:
            t[2] += 1

    def _drop(self, which: str, brand: str, minute: int) -> None:
        nbytes, nkeys = (
            (self.seen_bytes, self.seen_keys)
            if which == "seen"
            else (self.sight_bytes, self.sight_keys)
        )
        i = self._slot(brand, minute)
        t = self.totals[which]
        t[0] -= nbytes[i]
        t[1] -= nkeys[i]
        if nkeys[i]:
            t[2] -= 1
        nbytes[i] = 0
        nkeys[i] = 0

    def record(self, result: BatchResult) -> None:
        """What ``_persist`` writes to and deletes from ``kpi_seen`` and ``kpi_sightings``."""
        for brand, minute in result.evicted:
            self._drop("sight", brand, minute)
        for (brand, minute), ids in result.new_ids.items():
            self._add("seen", brand, minute, len(codec.dumps(ids)))
        for brand, minute in result.forgotten:
            self._drop("seen", brand, minute)
        for (brand, minute), entries in result.sightings.items():
            self._add("sight", brand, minute, len(codec.dumps(entries)))


def bucket_and_brand_bytes(state: KpiState) -> tuple[int, int, int, int]:
    """Key + value lengths and entry counts of ``kpi_buckets`` and ``kpi_brands``."""
    bucket_bytes = bucket_entries = brand_bytes = 0
    for brand, bs in state.brands.items():
        for minute in bs.buckets:
            record = state.bucket_record(brand, minute)
            bucket_bytes += len(bucket_key(brand, minute)) + len(codec.dumps(record))
            bucket_entries += 1
        brand_bytes += len(brand.encode()) + len(codec.dumps(state.brand_record(brand)))
    return bucket_bytes, bucket_entries, brand_bytes, len(state.brands)


#: BrandState fields shown together under one name; any other field is shown by its name
COMPONENTS = {
    "buckets": "minute buckets",
    "totals": "window totals",
    "seen": "seen event ids",
    "seen_minutes": "seen event ids",
    "distinct": "distinct maps",
    "followers": "followers",
    "watermark": "labels + watermark",
    "platforms": "labels + watermark",
    "campaigns": "labels + watermark",
    "variants": "labels + watermark",
}


def breakdown(bs: BrandState) -> list[tuple[str, int]]:
    """Where one brand's state goes; objects shared between components counted once."""
    parts: dict[str, list[Any]] = {}
    for f in dataclasses.fields(bs):
        parts.setdefault(COMPONENTS.get(f.name, f.name), []).append(getattr(bs, f.name))
    seen: set[int] = set()
    # each component's holder list is the walk's own, not the brand's: don't count it
    out = [(name, deep_size(objs, seen) - sys.getsizeof(objs)) for name, objs in parts.items()]
    out.append(("BrandState object", deep_size(bs, seen)))
    return out


# -- the run -------------------------------------------------------------------------------
def batches(feed: Feed, minutes: int, size: int) -> Iterator[tuple[int, list[Event]]]:
    for m in range(minutes):
        events = feed.minute(m)
        for start in range(0, len(events), size):
            yield m, events[start : start + size]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--brands", type=int, default=1000)
    ap.add_argument("--minutes", type=int, default=DAY_MINUTES, help="simulated minutes")
    ap.add_argument("--batch", type=int, default=5000, help="events per state.apply batch")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--variants", action="store_true", help="give campaign events an A/B variant (a or b)"
    )
    ap.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (slower)"
    )
    args = ap.parse_args()
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # summary lines as they come
    if args.brands < 1 or args.minutes < 1 or args.batch < 1:
        ap.error("--brands, --minutes and --batch must be positive")

    if args.tracemalloc:
        tracemalloc.start()
    brands = [f"brand-{i:04d}" for i in range(args.brands)]
    feed = Feed(brands, args.seed, args.variants)
    mirror = MirrorTracker(brands, args.minutes)
    gc.collect()
    rss_before = rss_bytes()
    traced_before = tracemalloc.get_traced_memory()[0] if args.tracemalloc else 0

    state = KpiState()
    events = 0
    apply_seconds = 0.0
    started = time.perf_counter()
    hour_started, hour_events = started, 0
    for m, batch in batches(feed, args.minutes, args.batch):
        t0 = time.perf_counter()
        result = state.apply(batch)
        apply_seconds += time.perf_counter() - t0
        mirror.record(result)
        events += len(batch)
        hour_events += len(batch)
        if len(result.accepted) != len(batch):
            raise SystemExit(f"minute {m}: {len(batch) - len(result.accepted)} events refused")
        del result, batch
        if (m + 1) % 60 == 0 and minute_done(events, m, args.brands):
            now = time.perf_counter()
            print(
                f"hour {(m + 1) // 60:>2}/{args.minutes / 60:g}: {events:>12,} events, "
                f"{hour_events / (now - hour_started):>9,.0f} events/s, "
                f"RSS {rss_bytes() / MB:>8,.0f} MB",
                file=sys.stderr,
                flush=True,
            )
            hour_started, hour_events = now, 0
    elapsed = time.perf_counter() - started
    gc.collect()
    rss_after = rss_bytes()
    rss_peak = rss_bytes("VmHWM")
    traced = tracemalloc.get_traced_memory()[0] - traced_before if args.tracemalloc else 0

    n = args.brands
    growth = rss_after - rss_before
    full = sum(len(bs.buckets) for bs in state.brands.values())
    groups = sum(len(b) for bs in state.brands.values() for b in bs.buckets.values())
    per_bucket = 1 + len(PLATFORMS) + len(CAMPAIGNS) * (2 if args.variants else 1)
    expect_groups = n * min(args.minutes, DAY_MINUTES) * per_bucket

    bucket_bytes, bucket_entries, brand_bytes, brand_entries = bucket_and_brand_bytes(state)
    seen_b, seen_n, seen_g = mirror.totals["seen"]
    sight_b, sight_n, sight_g = mirror.totals["sight"]
    entry_over = dict_entry_overhead()
    group_over, key_over = key_index_overhead()
    entries = bucket_entries + brand_entries + seen_n + sight_n
    payload = bucket_bytes + brand_bytes + seen_b + sight_b
    overhead = (
        entries * entry_over + (seen_g + sight_g) * group_over + (seen_n + sight_n) * (key_over)
    )
    mirror_total = payload + overhead

    sample = state.brands[brands[n // 2]]
    parts = breakdown(sample)
    brand_deep = sum(size for _, size in parts)

    scale = DAY_MINUTES / args.minutes if args.minutes < DAY_MINUTES else 1.0
    state_pb = growth / n
    mirror_pb = mirror_total / n

    print(
        f"python {sys.version.split()[0]}, batches of {args.batch:,} events, seed {args.seed}, "
        f"A/B variants {'on' if args.variants else 'off'}"
    )
    print(
        f"RSS before {rss_before / MB:,.1f} MB, after {rss_after / MB:,.1f} MB, "
        f"peak {rss_peak / MB:,.1f} MB"
    )
    print(
        f"buckets {full:,} (brand × minute), groups {groups:,} (expected {expect_groups:,}), "
        f"apply {apply_seconds:.1f} s ({events / apply_seconds:,.0f} events/s in state.apply)"
    )
    if args.tracemalloc:
        print(
            f"tracemalloc: KPI state {traced / MB:,.1f} MB = {traced / n / MB:.2f} MB per brand "
            f"(the RSS figures below include tracemalloc's own bookkeeping)"
        )
    print()
    print(f"one brand ({brands[n // 2]}) by deep_size (sys.getsizeof, shared objects once):")
    for name, size in sorted(parts, key=lambda p: -p[1]):
        print(f"  {name:<20} {size / 1000:>10,.1f} kB  {100 * size / brand_deep:5.1f} %")
    print(
        f"  {'total':<20} {brand_deep / 1000:>10,.1f} kB  × {n:,} brands = "
        f"{brand_deep * n / MB:,.0f} MB"
    )
    print()
    print(
        "state log records (the worker writes them but keeps no copy; a restart reads them "
        "back into table.data only until restore() rebuilds the state), keys + values:"
    )
    rows = [
        ("kpi_buckets", bucket_entries, bucket_bytes),
        ("kpi_brands", brand_entries, brand_bytes),
        ("kpi_seen", seen_n, seen_b),
        ("kpi_sightings", sight_n, sight_b),
    ]
    for name, count, size in rows:
        print(f"  {name:<14} {count:>12,} entries {size / MB:>10,.1f} MB")
    print(
        f"  overhead: {entry_over:.0f} B per entry (dict slot, bytes objects; measured) + "
        f"delta-key indexes {group_over:.0f} B per (brand, minute) + {key_over:.0f} B per key"
        f" = {overhead / MB:,.1f} MB"
    )
    print()
    print(
        f"brands {n:,}, platforms {len(PLATFORMS)}, campaigns {len(CAMPAIGNS)}, "
        f"minutes {args.minutes:,}, events {events:,} in {elapsed:.1f} s "
        f"({events / elapsed:,.0f} events/s)"
    )
    print(
        f"KPI state RSS growth: {growth / MB:,.0f} MB = {state_pb / MB:.2f} MB per brand "
        f"(target 2 MB)"
    )
    print(
        f"state log read back at a restart: {mirror_total / MB:,.0f} MB = "
        f"{mirror_pb / MB:.2f} MB per brand (held only during recovery)"
    )
    print(
        f"worker: {state_pb / MB:.2f} MB per brand steady, "
        f"{(state_pb + mirror_pb) / MB:.2f} MB per brand at the peak of a recovery"
    )
    if scale != 1.0:
        print(
            f"SCALED to 24 h (× {scale:.2f} = 1440 / {args.minutes}, an upper bound): "
            f"KPI state {state_pb * scale / MB:.2f} MB per brand steady, state log read back "
            f"{mirror_pb * scale / MB:.2f} MB per brand, recovery peak "
            f"{(state_pb + mirror_pb) * scale / MB:.2f} MB per brand"
        )
    return 0


def minute_done(events: int, minute: int, brands: int) -> bool:
    """True once every event of ``minute`` is in (the hour's last minute spans batches)."""
    return events == (minute + 1) * brands * SLOTS


if __name__ == "__main__":
    sys.exit(main())
