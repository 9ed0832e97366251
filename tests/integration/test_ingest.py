"""`socialpulse ingest` end to end: real broker, real worker, the real command, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import CLI, Samples, Stack, free_port, kpi, value, wait_port

pytestmark = pytest.mark.integration

TOKEN = "ingest-test-token-4f9c2a"
OLD_TOKEN = "ingest-test-token-old"


@dataclass
class Ingest:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def post(
        self,
        body: Any,
        *,
        token: str | None = TOKEN,
        ctype: str = "application/json",
        header: str = "Authorization",
        path: str = "/events",
    ) -> tuple[int, dict[str, str], Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": ctype}
        if token is not None:
            headers[header] = f"Bearer {token}" if header == "Authorization" else token
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as resp:
                return resp.status, dict(resp.headers), json.loads(resp.read())
        except urllib.error.HTTPError as err:
            text = err.read()
            return err.code, dict(err.headers), json.loads(text) if text else None

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()


@pytest.fixture()
def ingest(stack: Stack) -> Iterator[Ingest]:
    stack.start_worker()
    port = free_port()
    log = stack.workdir / "ingest.log"
    env = stack.env(
        SOCIALPULSE_INGEST_TOKEN=f"{OLD_TOKEN},{TOKEN}", SOCIALPULSE_INGEST_MAX_BYTES="20000"
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*CLI, "ingest", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if not wait_port(port, 30):
        proc.kill()
        pytest.fail(f"socialpulse ingest did not listen: {log.read_text(errors='replace')}")
    yield Ingest(port, proc, log)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def ev(i: str, kind: str, ts: float, brand: str = "acme", **fields: Any) -> dict[str, Any]:
    return {"id": i, "ts": ts, "brand": brand, "kind": kind, "platform": "x", **fields}


def test_posted_events_count_exactly_and_bad_requests_count_nothing(
    stack: Stack, ingest: Ingest
) -> None:
    now = time.time()
    envelope = [ev(f"i{n}", "impression", now - 30, count=10) for n in range(5)]
    envelope += [ev(f"l{n}", "like", now - 20) for n in range(3)]
    envelope += [ev("m1", "mention", now - 10, text="love it", sentiment=0.5)]
    envelope += [ev("m2", "mention", now - 10, text="meh", sentiment=-0.2)]

    # refused requests: nothing of them may reach the worker
    status, headers, body = ingest.post(envelope, token=None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert ingest.post(envelope, token="wrong")[0] == 401
    status, _, body = ingest.post(envelope, ctype="text/plain")
    assert status == 415 and body["error"] == "unsupported_media_type"
    status, _, body = ingest.post([*envelope, ev("big", "like", now, text="z" * 15000)] * 2)
    assert status == 413 and body["max_bytes"] == 20000
    bad = [ev("x1", "like", now - 5), ev("x2", "teleport", now - 5), ev("x3", "like", "soon")]
    status, _, body = ingest.post(bad)
    assert status == 400 and body["accepted"] == 0
    assert [(r["index"], r["id"], r["reason"]) for r in body["rejected"]] == [
        (1, "x2", "unknown_kind"),
        (2, "x3", "bad_ts"),
    ]
    assert ingest.post(b"{not json")[0] == 400

    # accepted: an envelope, one event with the rotated-out token, NDJSON with the header
    status, _, body = ingest.post(envelope)
    assert (status, body) == (202, {"accepted": 10})
    status, _, body = ingest.post(ev("c1", "click", now - 5, count=2), token=OLD_TOKEN)
    assert (status, body) == (202, {"accepted": 1})
    lines = [ev("g1", "impression", now - 3, brand="globex", count=7), ev("g2", "share", now)]
    ndjson = b"\n".join(json.dumps(e).encode() for e in lines) + b"\n"
    status, _, body = ingest.post(
        ndjson, ctype="application/x-ndjson", header="X-SocialPulse-Token", token=TOKEN
    )
    assert (status, body) == (202, {"accepted": 2})

    def counted(s: Samples) -> bool:
        return (
            kpi(s, "socialpulse_impressions", "acme") == 50
            and kpi(s, "socialpulse_engagements", "acme") == 6
            and kpi(s, "socialpulse_mentions", "acme") == 2
            and kpi(s, "socialpulse_impressions", "globex") == 7
        )

    s = stack.wait_for(counted, 40)
    assert kpi(s, "socialpulse_impressions", "acme") == 50  # 5 x count 10
    assert kpi(s, "socialpulse_engagements", "acme") == 6  # 3 likes, a share, 2 clicks
    assert kpi(s, "socialpulse_mentions", "acme") == 2
    assert kpi(s, "socialpulse_impressions", "globex") == 7
    assert kpi(s, "socialpulse_engagements", "globex") == 0
    # the refused requests never reached Kafka: the worker rejected nothing
    rejected = [v for (name, _), v in s.items() if name == "socialpulse_events_rejected_total"]
    assert rejected and sum(rejected) == 0

    # resending the same ids is safe: the worker counts each id once
    status, _, body = ingest.post(envelope)
    assert (status, body) == (202, {"accepted": 10})
    s = stack.wait_for(
        lambda s: value(s, "socialpulse_events_duplicate_total", brand="acme") == 10, 30
    )
    assert value(s, "socialpulse_events_duplicate_total", brand="acme") == 10
    assert kpi(s, "socialpulse_impressions", "acme") == 50
    assert kpi(s, "socialpulse_engagements", "acme") == 6
    assert kpi(s, "socialpulse_mentions", "acme") == 2

    # the ingest server's own endpoints
    status, text = ingest.get("/healthz")
    assert status == 200 and json.loads(text)["producer_connected"] is True
    status, text = ingest.get("/metrics")
    assert status == 200 and TOKEN not in text and OLD_TOKEN not in text
    metrics = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(metrics["socialpulse_ingest_events_accepted_total"]) == 23
    assert float(metrics['socialpulse_ingest_requests_total{status="202"}']) == 4
    assert float(metrics['socialpulse_ingest_requests_total{status="400"}']) == 2
    assert float(metrics['socialpulse_ingest_requests_total{status="401"}']) == 2
    assert float(metrics['socialpulse_ingest_events_rejected_total{reason="unknown_kind"}']) == 1
    assert float(metrics['socialpulse_ingest_events_rejected_total{reason="bad_ts"}']) == 1

    # SIGTERM: answers what is in flight, flushes, exits 0 and says so
    ingest.proc.send_signal(signal.SIGTERM)
    assert ingest.proc.wait(20) == 0
    out = ingest.log.read_text(errors="replace")
    assert f"listening on http://127.0.0.1:{ingest.port}" in out
    assert "stopped after 10 requests, 23 events accepted" in out
    assert TOKEN not in out and "Traceback" not in out


def test_ingest_without_a_token_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SOCIALPULSE_")}
    result = subprocess.run(
        [*CLI, "ingest"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "SOCIALPULSE_INGEST_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr
    result = subprocess.run(
        [*CLI, "ingest", "--help"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "--port" in result.stdout and "--host" in result.stdout
