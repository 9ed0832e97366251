"""A broker outage of a minute: the worker survives, says so once, and carries on.

The test runs its own embedded broker, stops it for OUTAGE seconds and starts it again on
the same port. The embedded broker keeps everything in memory, so it comes back empty:
no topics, no committed offsets, no changelogs. The worker rejoins, finds nothing to
restore and counts from zero what is sent from then on (docs/reliability.md).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from socialpulse.agents.processes import free_port
from socialpulse.streams.producer import SyncEventProducer
from tests.integration.conftest import Stack, kpi, start_broker, value

pytestmark = pytest.mark.integration

OUTAGE = 60.0


class OwnBroker:
    """An embedded broker this test may stop and start again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        self.proc = start_broker(self.port, self.workdir / f"broker-{self.starts}.log")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)


@pytest.fixture()
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = OwnBroker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def likes(stack: Stack, brand: str, n: int, prefix: str) -> None:
    now = time.time()
    with SyncEventProducer(stack.bootstrap, stack.events_topic) as producer:
        producer.send_many(
            {"id": f"{prefix}{i}", "ts": now, "brand": brand, "kind": "like", "platform": "x"}
            for i in range(n)
        )


def test_worker_survives_a_minute_without_the_broker(own_broker: OwnBroker, tmp_path: Path) -> None:
    stack = Stack(bootstrap=own_broker.bootstrap, workdir=tmp_path)
    try:
        worker = stack.start_worker()
        likes(stack, "acme", 10, "before-")
        s = stack.wait_for(lambda s: kpi(s, "socialpulse_engagements", "acme") == 10)
        assert kpi(s, "socialpulse_engagements", "acme") == 10
        assert value(s, "socialpulse_broker_up") == 1

        own_broker.stop()
        stopped = time.monotonic()
        s = stack.wait_for(lambda s: value(s, "socialpulse_broker_up") == 0, seconds=15)
        assert value(s, "socialpulse_broker_up") == 0
        # the live state is still served while the broker is away
        assert kpi(s, "socialpulse_engagements", "acme") == 10
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
        s = stack.scrape()
        assert worker.poll() is None, "the worker died without its broker"
        assert value(s, "socialpulse_broker_unreachable_seconds") >= OUTAGE - 10
        log = stack.log_tail(0)
        assert "unreachable; the worker keeps its state and retries" in log

        own_broker.start()  # the same port, empty: the embedded broker keeps nothing
        s = stack.wait_for(lambda s: value(s, "socialpulse_broker_up") == 1, seconds=30)
        assert value(s, "socialpulse_broker_up") == 1
        likes(stack, "acme", 7, "after-")
        s = stack.wait_for(lambda s: kpi(s, "socialpulse_engagements", "acme") == 7, seconds=90)
        assert kpi(s, "socialpulse_engagements", "acme") == 7  # counted from zero, once
        assert worker.poll() is None
        log = (tmp_path / "worker-0.log").read_text(errors="replace")
        assert "reachable again after" in log
        errors = sum(1 for line in log.splitlines() if "[ERROR]" in line)
        print(f"\noutage of {OUTAGE:.0f} s: {errors} ERROR lines in the worker's log")
        assert errors < 200, f"{errors} ERROR lines: the client's retries are not held back"
    finally:
        stack.stop()
