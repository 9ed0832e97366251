"""Differential run of the batch core: this tree against another revision, seed by seed.

    python -m tests.differential --base REV [--seeds 200] [--first 0]

For a change to the batch core that must not change what it computes (a faster hot path,
a rewrite step). Each seed draws a scenario and runs it through the package's harness
(``socialpulse.agents.testing``): one to three brands of the alert scenarios' streams,
bursts, a big account's post, random extra events of every kind with authors, sessions,
values, surveys, texts to score, followers; unrounded sentiments; duplicates, jitter, an
8-day jump; keyed or round-robin producers, envelopes of 1, 5 or 50, 1, 2 or 4
partitions; random batch sizes, crashes at every crash point, rebalances to fresh
workers, wall-clock ticks, snapshots every 3 records or rarely, ``hold_unread``, three
allowed latenesses. It records the final KPIs, the KPIs a new worker recovers from the
state log, the alerts, the dead letters and the replayed state log of every partition.
Floats compare to 12 significant digits: the same terms summed in another order may
differ in the last bit.

The base revision is exported with ``git archive`` to a temporary folder and imported in
place of the installed package; both sides run with the same ``PYTHONHASHSEED``, side by
side in two processes. Every seed whose record differs is printed with what differs;
the exit status is 1 if any does. Run it from the repository's root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

from tests.alert_scenarios import big_account_post, stream

T0 = 1_700_000_000.0
FLOAT_DIGITS = 1e-12
HASH_SEED = "0"  # both sides: set iteration orders, and so the order of float sums, agree
KINDS = (
    "impression",
    "view",
    "like",
    "comment",
    "share",
    "mention",
    "visit",
    "service_request",
    "follow",
    "unfollow",
    "followers",
    "ad_spend",
    "conversion",
    "lead",
    "save",
    "click",
    "post",
    "survey",
)


class Clock:
    """The workers' wall clock, moved by the scenario."""

    def __init__(self) -> None:
        self.now = T0 + 10_000_000

    def __call__(self) -> float:
        return self.now


def extras(rng: random.Random, brands: list[str], minutes: int, n: int) -> list[dict[str, Any]]:
    """``n`` events of random kinds, labels, authors and values over ``minutes``."""
    out = []
    for k in range(n):
        kind = rng.choice(KINDS)
        ev: dict[str, Any] = {
            "id": f"x{k}",
            "brand": rng.choice(brands),
            "kind": kind,
            "ts": T0 + rng.random() * minutes * 60,
            "platform": rng.choice(["x", "ig", "fb", "tt"]),
        }
        if rng.random() < 0.3:
            ev["campaign"] = rng.choice(["c1", "c2"])
            variant = rng.choice(["a", "b", None])
            if variant is not None:
                ev["variant"] = variant
        if rng.random() < 0.7:
            ev["author"] = {
                "id": f"u{rng.randrange(30)}",
                "followers": rng.randrange(0, 5000),
                "age": rng.randrange(10, 90),
                "location": rng.choice(["fr", "de"]),
            }
            if rng.random() < 0.5:
                ev["author"]["gender"] = rng.choice(["female", "Male", "nonbinary"])
        if kind == "visit":
            ev["session"] = f"s{rng.randrange(20)}"
            ev["value"] = rng.randrange(1, 100) / 4
        if kind in ("ad_spend", "conversion", "lead"):
            ev["value"] = rng.randrange(1, 400) / 8
            ev["currency"] = "EUR"
        if kind == "followers":
            ev["value"] = rng.randrange(100, 1000)
        if kind == "survey":
            ev["survey"] = "csat"
            ev["score"] = rng.randrange(1, 6)
        if kind in ("comment", "mention", "post") and rng.random() < 0.6:
            ev["text"] = rng.choice(["bad #fail", "love it #happy", "ok"])
            if rng.random() < 0.5:
                ev["sentiment"] = rng.randrange(-8, 9) / 8
                ev["hashtags"] = ["t"]
                ev["lang"] = "en"
        if rng.random() < 0.5:
            ev["count"] = rng.randrange(1, 20)
        out.append(ev)
    return out


def enricher(texts: list[dict[str, Any]]) -> Awaitable[None]:
    """Scores texts after a yield, from their ids (deterministic)."""

    async def finish() -> None:
        await asyncio.sleep(0)
        for ev in texts:
            h = sum(map(ord, ev["id"])) % 17
            ev.update(sentiment=(h - 8) / 8, lang="en", hashtags=["z"] if h % 2 else [])

    return finish()


def events_of(rng: random.Random, seed: int, brands: list[str]) -> list[dict[str, Any]]:
    evs: list[dict[str, Any]] = []
    minutes = rng.choice([30, 70, 130])
    for i, b in enumerate(brands):
        evs += stream(
            b,
            T0,
            minutes,
            seed=seed * 10 + i,
            mentions=rng.choice([3, 8]),
            impressions=rng.choice([5, 50]),
            spend=rng.choice([0, 2.5]),
            conversions=rng.choice([0, 0.3]),
        )
        if rng.random() < 0.5:
            burst = T0 + 60 * (minutes - 10)
            evs += stream(
                b, burst, 8, seed=seed * 10 + i, mentions=40, negative_share=0.8, tag="burst"
            )
        if rng.random() < 0.3:
            evs.append(big_account_post(b, T0 + 60 * (minutes - 5)))
    evs += extras(rng, brands, minutes, rng.randrange(0, 300))
    jitter = rng.choice([0, 30, 200, 900])
    evs.sort(key=lambda ev: ev["ts"] + jitter * rng.random())
    if rng.random() < 0.3:  # duplicates
        evs += [dict(e) for e in rng.sample(evs, min(20, len(evs)))]
    if rng.random() < 0.3:  # texts left to the enricher
        for e in evs:
            if "text" in e and rng.random() < 0.5:
                e.pop("sentiment", None)
    if rng.random() < 0.2:  # one brand jumps 8 days ahead
        ahead = T0 + 86400 * 8
        evs.append({"id": "jump", "brand": brands[0], "kind": "like", "ts": ahead})
        evs.append({"id": "jump2", "brand": brands[0], "kind": "impression", "ts": ahead + 5})
        evs[-2]["platform"] = evs[-1]["platform"] = "x"
        evs[-1]["count"] = 4
    return evs


def scenario(seed: int) -> dict[str, Any]:
    """What one seed's scenario ends with; the same seed, code and hash seed, the same."""
    from socialpulse.agents.persisted import replay, replay_start
    from socialpulse.agents.testing import CRASH_POINTS, Harness, Worker

    rng = random.Random(seed)
    brands = ["acme", "globex", "initech"][: rng.randint(1, 3)]
    evs = events_of(rng, seed, brands)
    parts = rng.choice([1, 2, 4])
    keyed = rng.random() < 0.6
    envelope = rng.choice([1, 5, 50])
    use_enricher = rng.random() < 0.5
    clock = Clock()
    h = Harness(
        parts,
        alerts=True,
        enricher=enricher if use_enricher else None,
        clock=clock,
        hold_unread=rng.random() < 0.3,
        allowed_lateness=rng.choice([600.0, 120.0, 3600.0 * 24 * 9]),
        snapshot_every=rng.choice([1000, 3]),
    )
    chunks = rng.randint(1, 4)
    size = len(evs) // chunks + 1
    everything = list(range(parts))
    workers: dict[int, tuple[Worker, list[int]]] = {0: (h.start_worker(everything), everything)}
    alerts = []
    for c in range(chunks):
        h.produce_events(
            [dict(e) for e in evs[c * size : (c + 1) * size]], envelope=envelope, keyed=keyed
        )
        if parts > 1 and rng.random() < 0.3:  # a rebalance: everything to a fresh split
            for w, ps in workers.values():
                if w.alive:
                    h.revoke(w, ps)
                alerts += w.alerts
            cut = rng.randint(1, parts - 1)
            order = list(range(parts))
            rng.shuffle(order)
            workers = {
                0: (h.start_worker(order[:cut]), order[:cut]),
                1: (h.start_worker(order[cut:]), order[cut:]),
            }
        while any(h.pending(w) for w, _ in workers.values()):
            for key, (w, ps) in list(workers.items()):
                if not h.pending(w):
                    continue
                clock.now += rng.choice([0.0, 1.0, 40.0])
                crash = rng.choice(CRASH_POINTS) if rng.random() < 0.08 else None
                asyncio.run(h.step(w, rng.choice([1, 7, 60, 500, 5000]), crash_at=crash))
                if not w.alive:
                    alerts += w.alerts
                    workers[key] = (h.start_worker(ps), ps)
                elif rng.random() < 0.05:
                    h.tick(w, clock.now + 100)
    for w, _ in workers.values():
        h.settle(w)
        alerts += w.alerts
    w = workers[0][0]
    state_log: dict[str, Any] = {}  # "partition|key" -> the replayed value
    for p in range(parts):
        log = h.state_log[p]
        data = replay(log[replay_start(list(enumerate(log))) or 0 :]).data
        for k, v in data.items():
            if k[:1] in ("s", "g"):  # sightings: by (family, brand), in any order
                k = "\x1f".join(k.split("\x1f")[:2])
                held = state_log.get(f"{p}|{k}", [])
                v = sorted(held + [json.dumps(x, sort_keys=True) for x in v or []])
            state_log[f"{p}|{k}"] = json.loads(json.dumps(v, default=repr))
    return {
        "kpis": {f"{m}|{'|'.join(labels)}": v for (m, labels), v in h.kpis(w).items()},
        "recovered": {f"{m}|{'|'.join(lb)}": v for (m, lb), v in h.recovered_kpis().items()},
        "alerts": sorted(json.dumps(a.to_dict(), sort_keys=True, default=str) for a in alerts),
        "dead_letters": sorted(
            f"{d.rejection.reason}:"
            f"{None if d.source is None else (d.source.partition, d.source.offset)}:"
            f"{d.rejection.raw!r}"
            for d in h.dead_letters
        ),
        "state_log": state_log,
    }


def emit(first: int, last: int) -> None:
    """Each seed's record as a line of JSON on stdout (a failed seed: its error)."""
    for seed in range(first, last):
        try:
            record = scenario(seed)
        except Exception:  # the error is the record: it must compare too
            record = {"error": traceback.format_exc(limit=-3)}
        print(json.dumps({"seed": seed, **record}, sort_keys=True), flush=True)


def same(a: Any, b: Any) -> bool:
    """Equal, floats to 12 significant digits: a float sum whose terms are added in
    another order may differ in its last bit (KPIs are compared rounded already)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=FLOAT_DIGITS, abs_tol=FLOAT_DIGITS)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    return bool(a == b)


def differences(base: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two records of one seed, one line each."""
    out = []
    for part in sorted(set(base) | set(new)):
        a, b = base.get(part), new.get(part)
        if same(a, b):
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            keys = sorted(k for k in set(a) | set(b) if not same(a.get(k), b.get(k)))
            shown = "; ".join(f"{k}: {_clip(a.get(k))} -> {_clip(b.get(k))}" for k in keys[:3])
            out.append(f"{part}: {len(keys)} differ ({shown})")
        elif isinstance(a, list) and isinstance(b, list):
            gone, came = len(set(a) - set(b)), len(set(b) - set(a))
            out.append(f"{part}: {gone} only in the base, {came} only in this tree")
        else:
            out.append(f"{part}: differs")
    return out


def _clip(value: object, chars: int = 160) -> str:
    text = str(value)
    return text if len(text) <= chars else f"{text[:chars]}…"


def export(rev: str, into: Path) -> Path:
    """``rev`` of the repository as an importable ``socialpulse``: the folder to put first
    on ``PYTHONPATH``."""
    tree = into / "tree"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", rev], capture_output=True, check=False)
    if archive.returncode:
        msg = archive.stderr.decode(errors="replace").strip().splitlines()
        raise SystemExit(f"differential: no revision {rev!r} here ({msg[-1] if msg else 'git'})")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    pkg = into / "pkg"
    pkg.mkdir()
    (pkg / "socialpulse").symlink_to(tree)
    return pkg


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as f:
        for line in f:
            yield json.loads(line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.differential",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--base", help="the revision to compare with (git: a commit, tag, branch)")
    ap.add_argument("--seeds", type=int, default=200, help="seeds to run (default 200)")
    ap.add_argument("--first", type=int, default=0, help="the first seed (default 0)")
    ap.add_argument("--emit", action="store_true", help=argparse.SUPPRESS)  # one side's run
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.first < 0:
        ap.error("--seeds must be at least 1 and --first at least 0")
    last = args.first + args.seeds
    if args.emit:
        emit(args.first, last)
        return 0
    if not args.base:
        ap.error("--base REV is required")
    if not Path("tests/differential.py").is_file():
        ap.error("run it from the repository's root")
    with tempfile.TemporaryDirectory(prefix="differential-") as tmp:
        pkg = export(args.base, Path(tmp))
        cmd = [sys.executable, "-m", "tests.differential", "--emit"]
        cmd += ["--first", str(args.first), "--seeds", str(args.seeds)]
        outs = {side: Path(tmp) / f"{side}.jsonl" for side in ("base", "here")}
        env = dict(os.environ, PYTHONHASHSEED=HASH_SEED)
        paths = [str(pkg), env.get("PYTHONPATH", "")]
        base_env = dict(env, PYTHONPATH=os.pathsep.join(filter(None, paths)))
        procs = {}
        for side, side_env in (("base", base_env), ("here", env)):
            with outs[side].open("w") as out:
                procs[side] = subprocess.Popen(cmd, stdout=out, env=side_env)
        started = time.monotonic()
        while any(p.poll() is None for p in procs.values()):
            time.sleep(2)
            done = {side: len(outs[side].read_bytes().splitlines()) for side in outs}
            print(
                f"differential: {args.base} {done['base']}/{args.seeds}, "
                f"this tree {done['here']}/{args.seeds} seeds, {time.monotonic() - started:.0f} s",
                file=sys.stderr,
            )
        if any(p.returncode for p in procs.values()):
            print("differential: a side failed (its error is above)", file=sys.stderr)
            return 2
        differing = 0
        alerts = series = 0
        for base, here in zip(_lines(outs["base"]), _lines(outs["here"]), strict=True):
            found = differences(base, here)
            alerts += len(here.get("alerts", ()))
            series += len(here.get("kpis", ()))
            if found:
                differing += 1
                print(f"seed {here['seed']}:")
                for line in found:
                    print(f"  {line}")
        print(
            f"{args.seeds} seeds, {series:,} KPI series and {alerts} alerts in all: "
            f"{differing} differ from {args.base}"
        )
        return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
