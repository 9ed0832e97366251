"""Alert delivery against real local HTTP receivers: webhook, retries, Apprise, no blocking."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from socialpulse.alerts.notify import (
    AppriseNotifier,
    Dispatcher,
    NotifierError,
    WebhookNotifier,
    notifier_for,
    sample_alert,
)


class Receiver:
    """A local HTTP server whose answers a test scripts."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answers to give, then 200
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok")


@pytest.fixture()
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield rec, f"127.0.0.1:{port}"
    await runner.cleanup()


async def test_webhook_posts_the_alert_json(receiver: tuple[Receiver, str]) -> None:
    rec, host = receiver
    alert = sample_alert("acme")
    await WebhookNotifier(f"http://{host}/hook").send(alert)
    assert rec.requests == [alert]
    assert {"id", "brand", "rule", "state", "severity", "crisis", "evidence"} <= set(alert)


async def test_webhook_retries_5xx_then_delivers(receiver: tuple[Receiver, str]) -> None:
    rec, host = receiver
    rec.statuses = [503, 500]
    await WebhookNotifier(f"http://{host}/hook", backoff=0.01).send(sample_alert("acme"))
    assert len(rec.requests) == 3


async def test_webhook_does_not_retry_a_refusal(receiver: tuple[Receiver, str]) -> None:
    rec, host = receiver
    rec.statuses = [400]
    with pytest.raises(NotifierError, match="HTTP 400"):
        await WebhookNotifier(f"http://{host}/hook", backoff=0.01).send(sample_alert("acme"))
    assert len(rec.requests) == 1


async def test_webhook_times_out(receiver: tuple[Receiver, str]) -> None:
    rec, host = receiver
    rec.delay = 1.0
    notifier = WebhookNotifier(f"http://{host}/hook", timeout=0.2, retries=1, backoff=0.01)
    with pytest.raises(NotifierError, match="Timeout"):
        await notifier.send(sample_alert("acme"))


async def test_apprise_json_url_reaches_a_real_receiver(receiver: tuple[Receiver, str]) -> None:
    rec, host = receiver
    await AppriseNotifier(f"json://{host}/apprise").send(sample_alert("acme"))
    assert len(rec.requests) == 1
    assert "acme" in str(rec.requests[0])


def test_urls_pick_their_notifier() -> None:
    assert notifier_for("https://x.example/h").kind == "webhook"
    assert notifier_for("json://x.example/h").kind == "apprise"
    secret = notifier_for("slack://TokenA/TokenB/TokenC/#chan")
    assert "Token" not in secret.target  # secrets stay out of logs
    for bad in ("nonsense", "frob://x"):
        with pytest.raises(ValueError):
            notifier_for(bad)


def outcomes() -> tuple[Counter[tuple[str, str]], Callable[[str, str], None]]:
    seen: Counter[tuple[str, str]] = Counter()
    return seen, lambda kind, outcome: seen.update([(kind, outcome)])


async def test_a_slow_receiver_never_blocks_and_overflow_is_counted(
    receiver: tuple[Receiver, str],
) -> None:
    rec, host = receiver
    rec.delay = 0.5
    seen, outcome = outcomes()
    dispatcher = Dispatcher([WebhookNotifier(f"http://{host}/slow")], outcome, queue_size=3)
    dispatcher.start()
    for k in range(10):
        dispatcher.submit({**sample_alert("acme"), "id": str(k)})
    # submit never waits on the receiver: ten submits returned before it was even asked,
    # three alerts queued and the overflow counted at once
    assert rec.requests == [] and dispatcher.queues[0].qsize() == 3
    assert seen == {("webhook", "dropped"): 7}
    async with asyncio.timeout(30):  # the slow receiver takes the queued three, 0.5 s each
        while seen[("webhook", "sent")] < 3:
            await asyncio.sleep(0.05)
    await dispatcher.stop()
    assert seen == {("webhook", "dropped"): 7, ("webhook", "sent"): 3}
    assert [r["id"] for r in rec.requests] == ["0", "1", "2"]


async def test_a_failing_receiver_is_counted_and_others_still_get_alerts(
    receiver: tuple[Receiver, str],
) -> None:
    rec, host = receiver
    seen, outcome = outcomes()
    dead = WebhookNotifier("http://127.0.0.1:9/nobody", retries=0)
    dispatcher = Dispatcher([dead, WebhookNotifier(f"http://{host}/ok")], outcome)
    dispatcher.start()
    dispatcher.submit(sample_alert("acme"))
    for _ in range(100):
        if seen[("webhook", "failed")] and seen[("webhook", "sent")]:
            break
        await asyncio.sleep(0.05)
    await dispatcher.stop()
    assert seen == {("webhook", "failed"): 1, ("webhook", "sent"): 1}
    assert len(rec.requests) == 1


async def test_closing_delivers_the_queued_alerts_first(receiver: tuple[Receiver, str]) -> None:
    """A stopping worker sends what its notifiers still hold (it used to cancel them)."""
    rec, host = receiver
    rec.delay = 0.1
    seen, outcome = outcomes()
    dispatcher = Dispatcher([WebhookNotifier(f"http://{host}/slow")], outcome)
    dispatcher.start()
    for k in range(5):
        dispatcher.submit({**sample_alert("acme"), "id": str(k)})
    await dispatcher.close(timeout=30)
    assert seen == {("webhook", "sent"): 5}
    assert [r["id"] for r in rec.requests] == ["0", "1", "2", "3", "4"]
    assert dispatcher.tasks == []


async def test_closing_gives_up_on_a_hung_receiver_and_counts_what_it_drops(
    receiver: tuple[Receiver, str],
) -> None:
    rec, host = receiver
    rec.delay = 30.0  # never answers in time
    seen, outcome = outcomes()
    hung = WebhookNotifier(f"http://{host}/hung", timeout=60, retries=0)
    dispatcher = Dispatcher([hung], outcome)
    dispatcher.start()
    for k in range(4):
        dispatcher.submit({**sample_alert("acme"), "id": str(k)})
    await asyncio.sleep(0.2)  # the first is being sent
    started = time.monotonic()
    await dispatcher.close(timeout=0.5)
    assert time.monotonic() - started < 5
    assert seen == {("webhook", "dropped"): 4}  # three queued, one in flight
    assert dispatcher.tasks == []
