"""Alert delivery: console, webhooks (JSON POST) and Apprise URLs, never blocking the pipeline.

Each notifier has its own bounded queue drained by its own task: a slow or failing
receiver delays only its own queue, and when that queue is full the newest alert for it is
dropped and counted, never waited for. A URL starting ``http://`` or ``https://`` is a
webhook: the alert's JSON is POSTed, with a timeout and retries with backoff on errors and
5xx answers. Any other URL goes to Apprise (``slack://``, ``mailto://``, ``tgram://``,
``msteams://``, ``discord://`` … see https://github.com/caronc/apprise/wiki).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import aiohttp

log = logging.getLogger("socialpulse.alerts")

Outcome = Callable[[str, str], None]  # (notifier kind, "sent" | "failed" | "dropped")


class NotifierError(RuntimeError):
    """A receiver did not take an alert (after its retries)."""


class Notifier(Protocol):
    kind: str
    target: str

    async def send(self, alert: dict[str, Any]) -> None: ...


def headline(alert: dict[str, Any]) -> str:
    base = alert.get("baseline")
    return (
        f"[{alert['severity'].upper()}] {alert['brand']}: {alert['rule']} {alert['state']}"
        f"{' (crisis)' if alert.get('crisis') else ''}: value {alert['value']}"
        f"{'' if base is None else f', baseline {base}'}, threshold {alert['threshold']}"
    )


class ConsoleNotifier:
    kind = "console"
    target = "log"

    async def send(self, alert: dict[str, Any]) -> None:
        log.warning("ALERT %s", headline(alert))


class WebhookNotifier:
    """POSTs the alert JSON; retries connection errors, timeouts and 5xx answers."""

    kind = "webhook"

    def __init__(
        self, url: str, *, timeout: float = 5.0, retries: int = 3, backoff: float = 0.5
    ) -> None:
        self.target = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    async def send(self, alert: dict[str, Any]) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        last = "no attempt"
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in range(self.retries + 1):
                if attempt:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                try:
                    async with session.post(self.target, json=alert) as resp:
                        if resp.status < 300:
                            return
                        last = f"HTTP {resp.status}"
                        if resp.status < 500 and resp.status != 429:
                            break  # the receiver refuses it: retrying will not help
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise NotifierError(f"{self.target}: {last}")


class AppriseNotifier:
    """Slack, e-mail, Telegram, Teams and 100 more through one Apprise URL."""

    kind = "apprise"

    def __init__(self, url: str) -> None:
        import apprise

        self.target = url.split("://", 1)[0] + "://…"  # never log the secret part
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise ValueError(f"not a URL Apprise knows: {self.target}")

    async def send(self, alert: dict[str, Any]) -> None:
        body = headline(alert) + "\n" + json.dumps(alert.get("evidence", {}), ensure_ascii=False)
        ok = await self._apprise.async_notify(body=body, title=headline(alert)[:120])
        if not ok:
            raise NotifierError(f"{self.target}: Apprise could not deliver")


def sample_alert(brand: str) -> dict[str, Any]:
    """A sample alert, shaped like a real one, for ``socialpulse alerts test``."""
    import time

    from socialpulse.alerts.model import Alert, incident_id

    now = time.time()
    return Alert(
        id=incident_id(brand, "test", now),
        brand=brand,
        rule="test",
        state="firing",
        severity="info",
        crisis=False,
        event_time=now,
        fired_at=now,
        value=1.0,
        baseline=0.0,
        threshold=1.0,
        summary="a test alert from `socialpulse alerts test`: delivery works",
        evidence={"samples": [], "top_authors": [], "top_hashtags": []},
    ).to_dict()


def notifier_for(url: str) -> Notifier:
    """A webhook for http(s) URLs, Apprise for any other scheme; ValueError if neither."""
    if url.startswith(("http://", "https://")):
        return WebhookNotifier(url)
    if "://" not in url:
        raise ValueError(f"{url!r} is not a URL (http(s):// for a webhook, or an Apprise URL)")
    return AppriseNotifier(url)


class Dispatcher:
    """A bounded queue and a task per notifier; ``submit`` never waits."""

    def __init__(
        self, notifiers: Sequence[Notifier], outcome: Outcome, queue_size: int = 1000
    ) -> None:
        self.notifiers = list(notifiers)
        self.outcome = outcome
        self.queues: list[asyncio.Queue[dict[str, Any]]] = [
            asyncio.Queue(queue_size) for _ in self.notifiers
        ]
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self.tasks:
            self.tasks = [
                asyncio.ensure_future(self._drain(n, q))
                for n, q in zip(self.notifiers, self.queues, strict=True)
            ]

    def submit(self, alert: dict[str, Any]) -> None:
        for notifier, queue in zip(self.notifiers, self.queues, strict=True):
            try:
                queue.put_nowait(alert)
            except asyncio.QueueFull:
                self.outcome(notifier.kind, "dropped")
                log.error("alert queue of %s is full: dropped %s", notifier.target, alert["id"])

    async def _drain(self, notifier: Notifier, queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            alert = await queue.get()
            try:
                await notifier.send(alert)
                self.outcome(notifier.kind, "sent")
            except Exception as exc:  # a receiver's failure must never stop the worker
                self.outcome(notifier.kind, "failed")
                log.error("alert delivery to %s failed: %s", notifier.target, exc)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
