"""The batch core alone: microseconds per event in each step, no broker, no Faust.

    python bench/core.py [--events 200000] [--envelope 500] [--batch 40] [--rounds 3]

Feeds ``agents.batch_core.BatchCore`` the bench's events (``bench.corpus``: balanced over
4 partitions, keyed, in envelopes of one brand) in batches of ``--batch`` messages, with
the alert detectors on, the garbage collector tuned as in a worker
(``agents.gc_tuning``), and an enricher that scores nothing but makes the core count a
batch's texts in a second pass as a worker does. Prints the best round's time per event
in each named step (``STEPS``) and the events/s of the core alone. The clocks are fixed,
so rounds are comparable and nothing is late or ahead of time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

if not __package__:  # run as `python bench/core.py`: `import bench` needs the repo's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import PARTITIONS, balanced, make_events, messages
from socialpulse.agents.batch_core import STEPS, BatchCore, SourceMessage
from socialpulse.agents.gc_tuning import tune_gc
from socialpulse.agents.state import KpiState
from socialpulse.alerts.detector import AlertEngine
from socialpulse.streams.partitioning import brand_partition

NOW = 1_800_000_000.0  # the clocks of every round: the events end here


async def _no_scoring(events: list[dict[str, object]]) -> None:
    """Hands texts back unscored: the core still counts them in their own pass."""


def batches_of(events: int, envelope: int, batch: int) -> list[list[SourceMessage]]:
    offsets = [0] * PARTITIONS
    out: list[SourceMessage] = []
    for brand, value in messages(balanced(make_events(events, end=NOW)), envelope):
        partition = brand_partition(brand, PARTITIONS)
        out.append(SourceMessage("events", partition, offsets[partition], value))
        offsets[partition] += 1
    return [out[i : i + batch] for i in range(0, len(out), batch)]


def one_round(batches: list[list[SourceMessage]]) -> dict[str, float]:
    """Seconds in each step, and in all (``total``), for one fresh core."""
    spent: dict[str, float] = {}
    mark = [0.0]

    def checkpoint(step: str) -> None:
        now = time.perf_counter()
        spent[step] = spent.get(step, 0.0) + now - mark[0]
        mark[0] = now

    def clock() -> float:
        return NOW

    core = BatchCore(
        KpiState(clock=clock),
        partitions=PARTITIONS,
        max_message_bytes=10_000_000,
        max_envelope_events=10_000,
        max_future=300.0,
        enricher=_no_scoring,
        alerts=AlertEngine(clock=clock),
        clock=clock,
        checkpoint=checkpoint,
    )
    for partition in range(PARTITIONS):
        core.restore(partition, {}, None)
        core.caught_up([partition])

    async def run() -> None:
        for batch in batches:
            mark[0] = time.perf_counter()
            await core.process(batch)

    started = time.perf_counter()
    asyncio.run(run())
    spent["total"] = time.perf_counter() - started
    return spent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=200_000, help="events (default 200000)")
    ap.add_argument("--envelope", type=int, default=500, help="events a message (default 500)")
    ap.add_argument("--batch", type=int, default=40, help="messages a batch (default 40)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; the best is shown")
    args = ap.parse_args(argv)
    if min(args.events, args.envelope, args.batch, args.rounds) < 1:
        ap.error("every figure must be at least 1")
    print(f"core: generating {args.events:,} events", file=sys.stderr)
    batches = batches_of(args.events, args.envelope, args.batch)
    tune_gc()
    best: dict[str, float] | None = None
    for i in range(args.rounds):
        spent = one_round(batches)
        print(f"core: round {i + 1}/{args.rounds}: {spent['total']:.2f} s", file=sys.stderr)
        if best is None or spent["total"] < best["total"]:
            best = spent
    assert best is not None
    per_event = {step: best.get(step, 0.0) / args.events * 1e6 for step in (*STEPS, "total")}
    print(" ".join(f"{step} {us:.2f}" for step, us in per_event.items()), "us/event")
    print(f"{args.events / best['total']:,.0f} events/s (the batch core alone, best round)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
