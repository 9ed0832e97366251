"""Slow consumers downstream never stop event processing.

A webhook that accepts connections and never answers receives every alert of 30 brands,
and twenty scrapers request ``/metrics`` and never read the answer, while events keep
streaming in. Each round of events must still be counted promptly.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from socialpulse.streams.producer import SyncEventProducer
from tests.integration.conftest import Stack, kpi, value

pytestmark = pytest.mark.integration

BRANDS = [f"brand{i:02d}" for i in range(30)]


@pytest.fixture()
def hanging_webhook() -> Iterator[str]:
    """A port that completes TCP handshakes (the kernel's backlog) and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(512)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    server.close()


def stalled_scrapers(port: int, n: int) -> list[socket.socket]:
    """Clients that ask for /metrics and never read a byte of it."""
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        out.append(s)
    return out


def test_hanging_webhook_and_stalled_scrapes_do_not_stop_counting(
    stack: Stack, hanging_webhook: str, tmp_path: Path
) -> None:
    config = tmp_path / "socialpulse.yml"
    config.write_text(
        "brands:\n"
        + "".join(f"  {b}:\n    alerts:\n      negative_exposure: {{above: 100}}\n" for b in BRANDS)
    )
    stack.start_worker(
        SOCIALPULSE_ALERT_NOTIFY=hanging_webhook, SOCIALPULSE_CONFIG_FILE=str(config)
    )
    now = time.time()
    with SyncEventProducer(stack.bootstrap, stack.events_topic) as producer:
        for b in BRANDS:  # one negative mention by a big account: an alert per brand
            producer.send(
                {
                    "id": f"{b}-crisis",
                    "ts": now,
                    "brand": b,
                    "kind": "mention",
                    "text": "awful",
                    "sentiment": -0.9,
                    "author": {"id": "big", "followers": 10_000},
                }
            )
    s = stack.wait_for(
        lambda s: (
            sum(
                value(
                    s, "socialpulse_alert_firing", brand=b, rule="negative_exposure", severity=sev
                )
                or 0
                for b in BRANDS
                for sev in ("warning", "critical")
            )
            == len(BRANDS)
        ),
        seconds=60,
    )
    scrapers = stalled_scrapers(stack.web_port, 20)
    try:
        delays = []
        for round_ in range(5):
            sent = time.monotonic()
            with SyncEventProducer(stack.bootstrap, stack.events_topic) as producer:
                producer.send_many(
                    {"id": f"r{round_}-{i}", "ts": time.time(), "brand": "brand00", "kind": "like"}
                    for i in range(100)
                )
            want = 100 * (round_ + 1)
            s = stack.wait_for(
                lambda s, want=want: kpi(s, "socialpulse_engagements", "brand00", "5m") == want,
                seconds=30,
            )
            assert kpi(s, "socialpulse_engagements", "brand00", "5m") == want
            delays.append(time.monotonic() - sent)
        sent_ok = value(s, "socialpulse_alert_deliveries_total", notifier="webhook", outcome="sent")
        assert not sent_ok, "the webhook was supposed to hang"
        print(
            f"\nwith a hanging webhook ({len(BRANDS)} alerts queued) and 20 stalled scrapes: "
            f"rounds of 100 events counted after {', '.join(f'{d:.1f}' for d in delays)} s"
        )
    finally:
        for sock in scrapers:
            sock.close()
