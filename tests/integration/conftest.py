"""Integration fixtures: the real embedded broker, real worker processes, real HTTP.

One broker serves the whole session; every test gets its own app id and topic names,
so tests never see each other's events or consumer groups.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from socialpulse.agents import processes
from socialpulse.agents.processes import free_port

CLI = [sys.executable, "-m", "socialpulse.cli.main"]


def wait_port(port: int, seconds: float) -> bool:
    """Wait until 127.0.0.1:port accepts connections."""
    return processes.wait_port("127.0.0.1", port, seconds)


def start_broker(port: int, log: Path) -> subprocess.Popen[bytes]:
    """``socialpulse broker`` on ``port``, logging to ``log``; fails the test if it does not
    listen within 30 s."""
    env = dict(os.environ, SOCIALPULSE_BROKER=f"kafka://127.0.0.1:{port}")
    with log.open("wb") as out:
        proc = subprocess.Popen([*CLI, "broker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    if not processes.wait_port("127.0.0.1", port, 30, proc):
        proc.kill()
        pytest.fail(f"socialpulse broker did not listen within 30 s: {log.read_text()[-2000:]}")
    return proc


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``socialpulse broker`` on a free port; yields the bootstrap address host:port."""
    port = free_port()
    proc = start_broker(port, tmp_path_factory.mktemp("broker") / "broker.log")
    yield f"127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def kpi(
    samples: Samples,
    name: str,
    brand: str,
    window: str = "1h",
    platform: str = "all",
    campaign: str = "all",
) -> float | None:
    return value(samples, name, brand=brand, platform=platform, campaign=campaign, window=window)


@dataclass
class Stack:
    """Settings of one test's worker(s): unique app id and topics on the shared broker."""

    bootstrap: str
    workdir: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    web_port: int = field(default_factory=free_port)

    @property
    def events_topic(self) -> str:
        return f"ev-{self.tag}"

    @property
    def dlq_topic(self) -> str:
        return f"dlq-{self.tag}"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(
            os.environ,
            SOCIALPULSE_BROKER=f"kafka://{self.bootstrap}",
            SOCIALPULSE_APP_ID=f"sp-{self.tag}",
            SOCIALPULSE_EVENTS_TOPIC=self.events_topic,
            SOCIALPULSE_DLQ_TOPIC=self.dlq_topic,
            SOCIALPULSE_ALERTS_TOPIC=f"alerts-{self.tag}",
            SOCIALPULSE_WEB_PORT=str(self.web_port),
        )
        env.update(extra)
        return env

    def start_worker(self, ready: bool = True, **extra: str) -> subprocess.Popen[bytes]:
        """A worker process; with ``ready`` (the default) once it logged "Worker ready",
        otherwise as soon as it serves its web port."""
        log = (self.workdir / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [*CLI, "worker", "-l", "info"],
            env=self.env(**extra),
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        port = int(extra.get("SOCIALPULSE_WEB_PORT", self.web_port))
        if not wait_port(port, 60):
            proc.kill()
            pytest.fail(f"worker did not serve /metrics: {self.log_tail()}")
        if ready:
            self.wait_ready(len(self.procs) - 1)
        return proc

    def wait_ready(self, index: int, seconds: float = 60) -> None:
        """Wait for the worker's log line saying it is ready (partitions assigned)."""
        path = self.workdir / f"worker-{index}.log"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if b"Worker ready" in path.read_bytes():
                return
            time.sleep(0.2)
        pytest.fail(f"worker {index} never got ready: {self.log_tail(index)}")

    def log_tail(self, index: int = -1) -> str:
        logs = sorted(self.workdir.glob("worker-*.log"))
        return logs[index].read_text(errors="replace")[-8000:] if logs else ""

    def scrape(self, port: int | None = None) -> Samples:
        return scrape(port or self.web_port)

    def wait_for(
        self, check: Callable[[Samples], bool], seconds: float = 60, port: int | None = None
    ) -> Samples:
        deadline = time.monotonic() + seconds
        samples: Samples = {}
        while time.monotonic() < deadline:
            try:
                samples = self.scrape(port)
            except OSError:
                samples = {}
            if samples and check(samples):
                return samples
            time.sleep(0.5)
        return samples

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture()
def stack(broker: str, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(bootstrap=broker, workdir=tmp_path)
    yield s
    s.stop()
