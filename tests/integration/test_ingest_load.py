"""`socialpulse ingest` under concurrent load: loopback only, bounded in count and time.

2,000 requests from 64 concurrent clients against a server bounded to 16 requests in
flight and 1 MiB of bodies held: most bodies hold a few events, one in ten is filled to
just under the 64 KiB body limit, one in twenty is invalid. A client resends a body
refused with 503 a few times. Checked: every request is answered (202, 400 or 503 with
Retry-After, never a dropped connection); the bound was reached and every refusal is
counted; every 202'd event is counted exactly once by the real worker (its Prometheus
metrics); nothing stays held afterwards; the server's peak RSS stays under the ceiling.
The figures themselves are the bench's (``python -m bench.ingest_load``).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.ingest_load import (
    TOKEN,
    counted,
    ingest_server,
    load,
    plan,
    proc_status,
)
from tests.integration.conftest import Samples, Stack, value

pytestmark = pytest.mark.integration

REQUESTS, CLIENTS = 2000, 64
MAX_BYTES = 64 * 1024
MAX_IN_FLIGHT = 16
MAX_HELD = 1024 * 1024
#: the server's peak RSS must stay under this: about 70 MiB idle (Python, aiohttp,
#: aiokafka), plus the bodies it may hold (1 MiB) as parsed events, several times larger
RSS_CEILING = 160 * 2**20


@pytest.fixture()
def server(stack: Stack) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    stack.start_worker()
    env = stack.env(
        SOCIALPULSE_INGEST_TOKEN=TOKEN,
        SOCIALPULSE_INGEST_MAX_BYTES=str(MAX_BYTES),
        SOCIALPULSE_INGEST_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT),
        SOCIALPULSE_INGEST_MAX_HELD_BYTES=str(MAX_HELD),
    )
    with ingest_server(env, stack.workdir / "ingest.log") as started:
        yield started


def test_concurrent_load_is_answered_bounded_and_counted_exactly_once(
    stack: Stack, server: tuple[subprocess.Popen[bytes], int]
) -> None:
    proc, port = server
    bodies = plan(REQUESTS, large=0.1, invalid=0.05, max_bytes=MAX_BYTES)
    assert sum(not b.valid for b in bodies) == REQUESTS // 20
    assert max(len(b.data) for b in bodies) > 0.95 * MAX_BYTES

    result = asyncio.run(
        asyncio.wait_for(
            load(f"http://127.0.0.1:{port}/events", TOKEN, bodies, CLIENTS, resends=5),
            timeout=300,
        )
    )
    print(result.figures())

    # every request answered, and each answer what its body deserves
    assert len(result.final) == REQUESTS
    statuses = result.statuses
    assert set(statuses) <= {202, 400, 503}, [a for a in result.answers if a.status == 0][:3]
    for body, answer in zip(bodies, result.final, strict=True):
        if answer.status == 202:
            assert body.valid and answer.accepted == body.events
        elif answer.status == 400:
            assert not body.valid and answer.error == "invalid_events"
        assert body.valid or answer.status in (400, 503)
    refusals = [a for a in result.answers if a.status == 503]
    assert refusals, "the load never reached the bound: nothing was refused"
    assert all(a.retry_after and a.error == "overloaded" for a in refusals), refusals[:3]
    assert result.final_statuses[202] > REQUESTS // 2  # resent, most valid bodies got in

    # the server counted what it answered, and holds nothing any more
    metrics = stack.wait_for(
        lambda s: value(s, "socialpulse_ingest_requests_in_flight") == 0, 60, port=port
    )
    assert value(metrics, "socialpulse_ingest_events_accepted_total") == result.accepted
    assert value(metrics, "socialpulse_ingest_held_bytes") == 0
    overloaded = sum(
        value(metrics, "socialpulse_ingest_overloaded_total", limit=limit) or 0
        for limit in ("requests", "bytes")
    )
    assert overloaded == len(refusals)
    assert value(metrics, "socialpulse_ingest_requests_total", status="503") == len(refusals)

    # every 202'd event counted by the worker, exactly once
    def all_counted(s: Samples) -> bool:
        return counted(s)[0] >= result.accepted

    s = stack.wait_for(all_counted, 180)
    assert counted(s) == (result.accepted, 0), stack.log_tail()

    def caught_up(s: Samples) -> bool:
        lags = [v for (name, _), v in s.items() if name == "socialpulse_consumer_lag"]
        return bool(lags) and sum(lags) == 0

    s = stack.wait_for(caught_up, 60)
    assert counted(s) == (result.accepted, 0)  # nothing counted twice once all is read

    peak = proc_status(proc.pid, "VmHWM")
    print(f"ingest server peak RSS {peak / 2**20:.1f} MiB")
    assert 0 < peak < RSS_CEILING
    log = Path(stack.workdir / "ingest.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
