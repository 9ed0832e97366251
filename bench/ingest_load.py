"""Load on ``socialpulse ingest``: many concurrent clients, small and near-limit bodies,
some invalid; what the server sustains and what it costs in memory.

    python -m bench.ingest_load --help
    python -m bench.ingest_load                                   # 2,000 requests, 64 clients
    python -m bench.ingest_load --requests 5000 --max-bytes 65536 --json out.json

It starts an embedded broker, a socialpulse worker and ``socialpulse ingest`` (the real
command, as a process of its own, with the settings given here or their defaults), then
sends ``--requests`` POSTs from ``--clients`` concurrent clients on one machine (loopback):
most bodies hold a few events, ``--large`` of them are filled up to just under the body
limit, and ``--invalid`` of them hold one event of an unknown kind (400, nothing sent).
Every event is an impression with ``count`` 1 and an id of its own, so the worker's
``socialpulse_impressions`` total must equal the events the server answered 202 for.

A client resends a body refused with 503 after ``--pause`` seconds, up to ``--resends``
times (nothing of a body refused for load was read or sent, so this sends no event twice).
It prints requests/s (answers of every status, resends included) and events/s (accepted
events) over the whole load, p50 and p99 latency of the answers, the answers by status,
the server's peak RSS (``VmHWM``) and the time until the worker counted every accepted
event.

``tests/integration/test_ingest_load.py`` runs the same load, smaller, and checks it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from socialpulse.agents.processes import free_port, wait_port

CLI = [sys.executable, "-m", "socialpulse.cli.main"]
TOKEN = "ingest-load-token"


@dataclass(frozen=True)
class Body:
    """One request's body and what it should come to."""

    data: bytes
    events: int
    valid: bool


def _event(request: int, k: int, brands: int, ts: float) -> dict[str, Any]:
    return {
        "id": f"r{request}-{k}",
        "ts": ts,
        "brand": f"load{(request + k) % brands}",
        "kind": "impression",
        "platform": "x",
        "campaign": "spring-launch",
        "count": 1,
    }


def make_body(
    request: int,
    *,
    large: bool,
    invalid: bool,
    max_bytes: int,
    max_events: int = 10_000,
    brands: int = 4,
    ts: float | None = None,
) -> Body:
    """A JSON envelope: 1 to 3 events, or (``large``) as many as fit under ``max_bytes``
    (and ``max_events``); ``invalid`` makes its last event of an unknown kind."""
    when = time.time() if ts is None else ts
    if large:
        one = len(orjson.dumps(_event(request, 0, brands, when))) + 1
        n = max(1, min(max_events, (max_bytes - 64) // (one + 4)))
    else:
        n = 1 + request % 3
    events = [_event(request, k, brands, when) for k in range(n)]
    if invalid:
        events[-1]["kind"] = "teleport"
    data = orjson.dumps(events)
    while len(data) > max_bytes - 16 and len(events) > 1:  # ids grow with the numbers
        events.pop(0 if invalid else -1)
        data = orjson.dumps(events)
    return Body(data, len(events), not invalid)


def plan(
    requests: int, *, large: float, invalid: float, max_bytes: int, brands: int = 4
) -> list[Body]:
    """The bodies of a load, spread evenly: every 1/large-th one near the limit, every
    1/invalid-th one invalid (offset, so some invalid ones are large ones)."""
    bodies = []
    for n in range(requests):
        is_large = large > 0 and int((n + 1) * large) != int(n * large)
        is_invalid = invalid > 0 and int((n + 3) * invalid) != int((n + 2) * invalid)
        bodies.append(
            make_body(n, large=is_large, invalid=is_invalid, max_bytes=max_bytes, brands=brands)
        )
    return bodies


@dataclass
class Answer:
    status: int  # 0: no answer (the connection failed)
    seconds: float
    accepted: int = 0
    error: str = ""
    retry_after: str | None = None
    detail: str = ""


@dataclass
class LoadResult:
    answers: list[Answer] = field(default_factory=list)  # every attempt's, resends included
    seconds: float = 0.0
    requests: int = 0
    final: list[Answer] = field(default_factory=list)  # each request's last answer

    @property
    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.answers)

    @property
    def accepted(self) -> int:
        return sum(a.accepted for a in self.answers if a.status == 202)

    @property
    def final_statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.final)

    def percentile(self, q: float, status: int | None = None) -> float:
        """The latency below which ``q`` of the answers (of ``status``, or all) came."""
        lat = sorted(a.seconds for a in self.answers if status in (None, a.status))
        return lat[min(len(lat) - 1, int(len(lat) * q))] if lat else 0.0

    def figures(self) -> dict[str, Any]:
        n = len(self.answers)
        return {
            "requests": self.requests,
            "posts_with_resends": n,
            "clients_seconds": round(self.seconds, 2),
            "requests_per_second": round(n / self.seconds) if self.seconds else 0,
            "events_accepted": self.accepted,
            "events_per_second": round(self.accepted / self.seconds) if self.seconds else 0,
            "p50_ms": round(self.percentile(0.5) * 1000, 1),
            "p99_ms": round(self.percentile(0.99) * 1000, 1),
            "p50_ms_of_202": round(self.percentile(0.5, 202) * 1000, 1),
            "p99_ms_of_202": round(self.percentile(0.99, 202) * 1000, 1),
            "answers_by_status": {str(k): v for k, v in sorted(self.statuses.items())},
            "last_answers_by_status": {str(k): v for k, v in sorted(self.final_statuses.items())},
        }


async def load(
    url: str,
    token: str,
    bodies: list[Body],
    clients: int,
    *,
    resends: int = 0,
    pause: float = 0.05,
) -> LoadResult:
    """POST every body to ``url`` from ``clients`` concurrent clients; a body refused with
    503 is sent again after ``pause`` seconds, up to ``resends`` times."""
    result = LoadResult(requests=len(bodies), final=[Answer(-1, 0.0)] * len(bodies))
    queue = iter(range(len(bodies)))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def client() -> None:
            for n in queue:
                for attempt in range(resends + 1):
                    answer = await post(n)
                    result.answers.append(answer)
                    result.final[n] = answer
                    if answer.status != 503 or attempt == resends:
                        break
                    await asyncio.sleep(pause)

        async def post(n: int) -> Answer:
            start = time.perf_counter()
            try:
                async with session.post(url, data=bodies[n].data, headers=headers) as resp:
                    text = await resp.read()
                    answer = Answer(resp.status, time.perf_counter() - start)
                    answer.retry_after = resp.headers.get("Retry-After")
                    doc = orjson.loads(text) if text else {}
                    answer.accepted = int(doc.get("accepted", 0) or 0)
                    answer.error = str(doc.get("error", ""))
                    answer.detail = str(doc.get("detail", ""))[:200]
            except (aiohttp.ClientError, OSError, TimeoutError, orjson.JSONDecodeError) as exc:
                answer = Answer(0, time.perf_counter() - start, error=repr(exc)[:200])
            return answer

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        result.seconds = time.perf_counter() - started
    return result


def proc_status(pid: int, name: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM: the peak RSS), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    return 0


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics page."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def counted(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> tuple[float, float]:
    """The worker's impressions of the load's brands (1h window, all platforms and
    campaigns), and its duplicates of them."""
    impressions = duplicates = 0.0
    for (name, labels), v in samples.items():
        tags = dict(labels)
        if not tags.get("brand", "").startswith("load"):
            continue
        if name == "socialpulse_impressions" and tags.get("window") == "1h":
            if tags.get("platform") == "all" and tags.get("campaign") == "all":
                impressions += v
        elif name == "socialpulse_events_duplicate_total":
            duplicates += v
    return impressions, duplicates


@contextmanager
def ingest_server(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``socialpulse ingest`` with ``env`` on a free port; yields the process and port."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*CLI, "ingest", "--port", str(port), "--log-every", "3600"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        if not wait_port("127.0.0.1", port, 60, proc):
            raise RuntimeError(f"socialpulse ingest did not listen: {log.read_text()[-2000:]}")
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.ingest_load",
        description=(
            "Concurrent load on `socialpulse ingest` over loopback, with an embedded broker "
            "and a worker that counts what was accepted; prints the figures of docs/ingest.md."
        ),
    )
    ap.add_argument("--requests", type=int, default=2000, help="POSTs in all (default 2000)")
    ap.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    ap.add_argument(
        "--large", type=float, default=0.1, help="share of near-limit bodies (default 0.1)"
    )
    ap.add_argument(
        "--invalid", type=float, default=0.05, help="share of invalid bodies (default 0.05)"
    )
    ap.add_argument(
        "--max-bytes",
        type=int,
        default=1024 * 1024,
        help="SOCIALPULSE_INGEST_MAX_BYTES, the body limit (default 1 MiB, its default)",
    )
    ap.add_argument(
        "--max-in-flight", type=int, default=None, help="SOCIALPULSE_INGEST_MAX_IN_FLIGHT"
    )
    ap.add_argument(
        "--max-held-bytes", type=int, default=None, help="SOCIALPULSE_INGEST_MAX_HELD_BYTES"
    )
    ap.add_argument(
        "--resends",
        type=int,
        default=20,
        help="times a client resends a body refused with 503 (default 20)",
    )
    ap.add_argument(
        "--pause",
        type=float,
        default=0.05,
        help="seconds before a resend (default 0.05; a real client honours Retry-After)",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    from bench.probes import embedded_broker, workers

    bodies = plan(args.requests, large=args.large, invalid=args.invalid, max_bytes=args.max_bytes)
    with (
        embedded_broker() as bootstrap,
        tempfile.TemporaryDirectory(prefix="socialpulse-ingest-load-") as tmp,
        workers(bootstrap, "ingest-load", 1, Path(tmp)) as group,
    ):
        env = dict(
            os.environ,
            SOCIALPULSE_BROKER=f"kafka://{bootstrap}",
            SOCIALPULSE_EVENTS_TOPIC="ingest-load",
            SOCIALPULSE_INGEST_TOKEN=TOKEN,
            SOCIALPULSE_INGEST_MAX_BYTES=str(args.max_bytes),
        )
        if args.max_in_flight is not None:
            env["SOCIALPULSE_INGEST_MAX_IN_FLIGHT"] = str(args.max_in_flight)
        if args.max_held_bytes is not None:
            env["SOCIALPULSE_INGEST_MAX_HELD_BYTES"] = str(args.max_held_bytes)
        with ingest_server(env, Path(tmp) / "ingest.log") as (proc, port):
            idle_rss = proc_status(proc.pid, "VmRSS")
            print(
                f"ingest-load: {len(bodies):,} requests from {args.clients} clients, "
                f"{sum(b.events for b in bodies):,} events, "
                f"{sum(len(b.data) for b in bodies) / 2**20:,.1f} MiB",
                file=sys.stderr,
            )
            result = asyncio.run(
                load(
                    f"http://127.0.0.1:{port}/events",
                    TOKEN,
                    bodies,
                    args.clients,
                    resends=args.resends,
                    pause=args.pause,
                )
            )
            peak = proc_status(proc.pid, "VmHWM")
            started = time.monotonic()
            impressions = duplicates = 0.0
            while time.monotonic() - started < 300:
                impressions, duplicates = counted(scrape(group[0].port))
                if impressions >= result.accepted:
                    break
                time.sleep(0.2)
            until_counted = time.monotonic() - started
    figures = result.figures() | {
        "clients": args.clients,
        "max_bytes": args.max_bytes,
        "large_share": args.large,
        "invalid_share": args.invalid,
        "server_idle_rss_mb": round(idle_rss / 2**20, 1),
        "server_peak_rss_mb": round(peak / 2**20, 1),
        "worker_counted": int(impressions),
        "worker_duplicates": int(duplicates),
        "seconds_until_counted_after_load": round(until_counted, 2),
        "cpus": os.cpu_count(),
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    unanswered = result.statuses.get(0, 0)
    lost = impressions != result.accepted
    if unanswered or lost:
        print(f"ingest-load: {unanswered} unanswered, counted {impressions:,.0f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
