"""How long a worker takes to rebuild the KPI state of its brands from the state log.

    python bench/recovery.py --brands 100            # the issue's target: 24 h full, ~10 min
    python bench/recovery.py --brands 20 --minutes 240

Feeds ``--minutes`` (default 24 h) of ``bench/memory.py``'s events for N brands through
``KpiState.apply``, one minute per batch over the last ``--tail`` minutes, and writes what
the worker would write to its state log, per partition of the events topic (``--partitions``,
4 by default): at minute ``minutes - tail`` a fence and a snapshot of each partition's whole
state map, then one batch record per partition and batch with that batch's writes, and a
new snapshot whenever the worker's rule says one is due (``persisted.LogTail``: 500 records,
or as many bytes as the last snapshot; ``--records-only`` keeps only the 500 records).

A read-back is longest just before a snapshot is due: there, the partition's recovery is
timed as a worker does it once the records are fetched: find the last whole snapshot
(``persisted.replay_start``), decode and apply the records from it (``persisted.replay``)
and rebuild its brands into a fresh ``KpiState`` (``persisted.restore_state``), with the
worker's garbage-collector settings (``gc_tuning``: what the process held before the
restore frozen out of collections, as a restarted worker's startup objects are). The
worst of each partition, summed, is a recovery of every partition at its worst. At the
end every partition is recovered once more and checked against the fed state (brand and
bucket records, event ids, distinct counts' sightings). Fetching the records from the
broker is not timed (their bytes are printed).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

if not __package__:  # run as `python bench/recovery.py`: `import bench` needs the repo's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.memory import DAY_MINUTES, MB, Feed, rss_bytes
from socialpulse.agents.gc_tuning import BATCH_THRESHOLDS
from socialpulse.agents.persisted import (
    KeyBook,
    LogTail,
    Writes,
    batch_record,
    dump_state,
    fence_record,
    new_epoch,
    replay,
    replay_start,
    restore_state,
    snapshot_record,
    stage_writes,
)
from socialpulse.agents.state import MAX_WINDOW_MINUTES, BrandState, Group, KpiState
from socialpulse.streams.partitioning import brand_partition


def same(fed: KpiState, rebuilt: KpiState, brand: str) -> bool:
    """Whether ``brand``'s rebuilt state holds what the fed one does: brand record, bucket
    records, remembered event ids, and the distinct counts' last sightings in the 24 h."""
    a, b = fed.brands[brand], rebuilt.brands.get(brand)
    if b is None or fed.brand_record(brand) != rebuilt.brand_record(brand):
        return False
    if sorted(a.buckets) != sorted(b.buckets) or a.seen != b.seen:
        return False
    if any(fed.bucket_record(brand, s) != rebuilt.bucket_record(brand, s) for s in a.buckets):
        return False
    cutoff = (a.wm_minute or 0) - MAX_WINDOW_MINUTES

    def sightings(bs: BrandState) -> dict[tuple[int, Group], dict[str, int]]:
        return {
            (counter, group): {who: m for who, m in tracker.last.items() if m > cutoff}
            for counter, by_group in bs.distinct.items()
            for group, tracker in by_group.items()
        }

    return sightings(a) == sightings(b)


def recover(log: list[bytes]) -> tuple[KpiState, float, float]:
    """The state rebuilt from a partition's log; seconds replaying, seconds in all."""
    state = KpiState()
    # as in a worker restarted (``tune_gc``): its thresholds, and what exists before the
    # restore (here the state fed so far and the logs) frozen out of every collection
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        t0 = time.perf_counter()
        # as a worker's read-back: find the last whole snapshot, then replay from its fence
        start = replay_start(list(enumerate(log))) or 0
        replayed = replay(log[start:])
        replayed_at = time.perf_counter()
        restore_state(state, KeyBook(), replayed.data)
        return state, replayed_at - t0, time.perf_counter() - t0
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--brands", type=int, default=100)
    ap.add_argument("--minutes", type=int, default=DAY_MINUTES, help="simulated minutes")
    ap.add_argument("--tail", type=int, default=500, help="minutes fed one batch a minute")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--batch", type=int, default=5000, help="events per batch before the tail")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--records-only", action="store_true", help="snapshot every 500 records, not by bytes"
    )
    args = ap.parse_args()
    if min(args.brands, args.minutes, args.partitions, args.batch, args.tail) < 1:
        ap.error("--brands, --minutes, --tail, --partitions and --batch must be positive")
    if args.tail >= args.minutes:
        ap.error("--tail must be below --minutes")

    brands = [f"brand-{i:04d}" for i in range(args.brands)]
    owner = {b: brand_partition(b, args.partitions) for b in brands}
    feed = Feed(brands, args.seed)
    state, book = KpiState(), KeyBook()
    tail = LogTail(min_bytes=2**62) if args.records_only else LogTail()
    logs: dict[int, list[bytes]] = {p: [] for p in range(args.partitions)}
    epochs: dict[int, str] = {}
    worst: dict[int, tuple[float, float, int, int]] = {}  # seconds, replaying, bytes, records

    def timed_recovery(p: int) -> KpiState:
        """Recover partition ``p`` from its log as it stands; keep the time if its worst."""
        rebuilt, replaying, seconds = recover(logs[p])
        if seconds > worst.get(p, (0.0,))[0]:
            worst[p] = (seconds, replaying, sum(map(len, logs[p])), len(logs[p]) - 2)
        return rebuilt

    def snapshot(p: int, m: int) -> None:
        epoch = epochs[p] = new_epoch()
        data = dump_state(state, [b for b in brands if owner[b] == p], book)
        logs[p] = [fence_record(epoch), snapshot_record(epoch, m, data)]
        tail.snapshotted(p, len(logs[p][1]))

    snapshot_at = args.minutes - args.tail
    started = time.perf_counter()
    pending: list = []
    for m in range(args.minutes):
        if m == snapshot_at:
            for p in range(args.partitions):
                snapshot(p, m)
        pending.extend(feed.minute(m))
        if m >= snapshot_at or len(pending) >= args.batch or m == snapshot_at - 1:
            result = state.apply(pending)
            staged = stage_writes(state, result, book)
            pending = []
            if m < snapshot_at:
                continue
            by_partition: dict[int, Writes] = {}
            for brand, writes in staged.items():
                by_partition.setdefault(owner[brand], {}).update(writes)
            for p, writes in by_partition.items():
                logs[p].append(batch_record(epochs[p], m + 1, writes))
                tail.wrote(p, len(logs[p][-1]))
                if tail.due(p):  # the longest read-back of this partition until here
                    timed_recovery(p)
                    snapshot(p, m + 1)
        if (m + 1) % 60 == 0:
            print(
                f"hour {(m + 1) // 60:>2}/{args.minutes / 60:g} fed in "
                f"{time.perf_counter() - started:,.0f} s, RSS {rss_bytes() / MB:,.0f} MB",
                file=sys.stderr,
                flush=True,
            )
    gc.collect()
    restored = KpiState()
    for p in range(args.partitions):
        restored.brands.update(timed_recovery(p).brands)
    wrong = [b for b in brands if not same(state, restored, b)]

    rule = "every 500 records" if args.records_only else "500 records or a snapshot's bytes"
    print(
        f"{args.brands} brands, {args.minutes} minutes ({args.minutes / 60:g} h), "
        f"{args.partitions} partitions, snapshots after {rule}"
    )
    for p, (seconds, replaying, size, records) in sorted(worst.items()):
        print(
            f"  partition {p}: longest read-back {size / MB:,.1f} MB (a snapshot and "
            f"{records:,} batch records), recovered in {seconds:.2f} s ({replaying:.2f} s "
            f"replaying the records)"
        )
    total = sum(w[0] for w in worst.values())
    print(
        f"recovery of every partition at its longest read-back: {total:.2f} s, "
        f"{sum(w[2] for w in worst.values()) / MB:,.1f} MB (target for 100 brands: under 10 s)"
    )
    print(
        "rebuilt state at the end equals the fed one: "
        + ("yes (brands, buckets, event ids, sightings)" if not wrong else f"NO: {wrong[:5]}")
    )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
