"""Each bench row's consumer, reading a pre-filled topic from its start; each returns the
events/s from its first event to its last (start-up and group joins are not timed)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from bench.corpus import Event, messages, send_messages
from socialpulse.agents.processes import free_port, wait_port

CLI = [sys.executable, "-m", "socialpulse.cli.main"]
#: the folder that holds the ``bench`` package (the checkout's root): not installed, so a
#: process started with ``-m bench.x`` finds it through PYTHONPATH (see :func:`bench_env`)
ROOT = Path(__file__).resolve().parents[1]


def bench_env() -> dict[str, str]:
    """This process's environment with :data:`ROOT` first on PYTHONPATH."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


@dataclass
class Rate:
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class BenchError(RuntimeError):
    """A row could not be measured; the message says why."""


async def raw(bootstrap: str, topic: str, expect: int) -> Rate:
    """Bare aiokafka + orjson decode + a count per brand: one Python process's limit."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8_000_000,
        fetch_max_bytes=64_000_000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=2_500,
    )
    await consumer.start()
    counts: Counter[str] = Counter()
    seen = 0
    first = 0.0
    loads = orjson.loads
    try:
        while seen < expect:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                if not first and records:
                    first = time.perf_counter()
                for record in records:
                    value = loads(record.value)
                    if isinstance(value, list):
                        for ev in value:
                            counts[ev["brand"]] += 1
                        seen += len(value)
                    else:
                        counts[value["brand"]] += 1
                        seen += 1
    finally:
        await consumer.stop()
    return Rate(seen, time.perf_counter() - first)


def faust_probe(mode: str, bootstrap: str, topic: str, expect: int, workdir: Path) -> Rate:
    """One of the Faust baselines (``faust_probe``), in its own process."""
    cmd = [
        sys.executable,
        "-m",
        "bench.faust_probe",
        mode,
        "--broker",
        f"kafka://{bootstrap}",
        "--topic",
        topic,
        "--expect",
        str(expect),
        "--app-id",
        f"bench-{mode}-{uuid.uuid4().hex[:8]}",
    ]
    log = (workdir / f"faust-{mode}.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=workdir, env=bench_env(), stdout=subprocess.PIPE, stderr=log)
    first = done = None
    count = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            word, *rest = line.decode().split()
            if word == "first":
                first = float(rest[0])
            elif word == "done":
                done, count = float(rest[0]), int(rest[1])
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    if first is None or done is None:
        raise BenchError(f"faust {mode} did not finish; see {workdir}/faust-{mode}.log")
    return Rate(count, done - first)


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    port: int

    def accepted(self) -> float:
        """Events the worker counted so far (``socialpulse_batch_events_sum``)."""
        url = f"http://127.0.0.1:{self.port}/metrics?name[]=socialpulse_batch_events_sum"
        text = urllib.request.urlopen(url, timeout=30).read().decode()
        for line in text.splitlines():
            if line.startswith("socialpulse_batch_events_sum "):
                return float(line.split()[1])
        return 0.0

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


@contextmanager
def embedded_broker() -> Iterator[str]:
    """``socialpulse broker`` on a free port, for one bench run; yields host:port."""
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = subprocess.Popen(
        [*CLI, "broker"],
        env=dict(os.environ, SOCIALPULSE_BROKER=f"kafka://{bootstrap}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not wait_port("127.0.0.1", port, 30, broker):
            raise BenchError("the embedded broker did not start")
        yield bootstrap
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(30)


@contextmanager
def workers(
    bootstrap: str, topic: str, count: int, workdir: Path, **env: str
) -> Iterator[list[Worker]]:
    """``count`` socialpulse workers of one app on ``topic``, ready (the group joined)."""
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    started: list[Worker] = []
    try:
        for i in range(count):
            port = free_port()
            log = workdir / f"{app_id}-{i}.log"
            settings = dict(
                os.environ,
                SOCIALPULSE_BROKER=f"kafka://{bootstrap}",
                SOCIALPULSE_WEB_PORT=str(port),
                SOCIALPULSE_APP_ID=app_id,
                SOCIALPULSE_EVENTS_TOPIC=topic,
                SOCIALPULSE_DLQ_TOPIC=f"{topic}-dlq",
                SOCIALPULSE_ALERTS_TOPIC=f"{topic}-alerts",
                SOCIALPULSE_ALERT_CONSOLE="false",
                **env,
            )
            proc = subprocess.Popen(
                [*CLI, "worker", "-l", "info"],
                env=settings,
                cwd=workdir,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            started.append(Worker(proc, port))
            if not wait_port("127.0.0.1", port, 90, proc):
                raise BenchError(f"a worker did not start; see {log}")
        deadline = time.monotonic() + 90
        logs = [workdir / f"{app_id}-{i}.log" for i in range(count)]
        while not all(b"Worker ready" in path.read_bytes() for path in logs):
            if time.monotonic() > deadline:
                raise BenchError(f"the workers did not get ready; see {logs}")
            time.sleep(0.1)
        yield started
    finally:
        for worker in started:
            worker.proc.send_signal(signal.SIGTERM)
        for worker in started:
            try:
                worker.proc.wait(30)
            except subprocess.TimeoutExpired:
                worker.proc.kill()


def drain(
    group: list[Worker],
    bootstrap: str,
    topic: str,
    events: list[Event],
    envelope: int,
    timeout: float = 600.0,
) -> Rate:
    """Events/s of ready workers on an empty ``topic``: from the moment the events start
    going in (pre-encoded, as fast as the broker takes them) until all are counted. The
    time includes producing, so it is a lower bound; a pre-filled topic would be read in a
    few huge first batches, too coarse to time."""
    base = sum(w.accepted() for w in group)
    batch = messages(events, envelope)
    started = time.perf_counter()
    asyncio.run(send_messages(bootstrap, topic, batch))
    deadline = time.monotonic() + timeout
    while True:
        total = sum(w.accepted() for w in group) - base
        if total >= len(events):
            return Rate(int(total), time.perf_counter() - started)
        if time.monotonic() > deadline:
            raise BenchError(f"workers counted {total:,.0f} of {len(events):,} in {timeout} s")
        for w in group:
            if w.proc.poll() is not None:
                raise BenchError(f"a worker exited with status {w.proc.returncode}")
        time.sleep(0.01)


Measure = Callable[[], Rate]
