"""Alert delivery: console, webhooks (JSON POST) and Apprise URLs, never blocking the pipeline.

Each notifier has its own bounded queue drained by its own task: a slow or failing
receiver delays only its own queue, and when that queue is full the newest alert for it is
dropped and counted, never waited for. A URL starting ``http://`` or ``https://`` is a
webhook: the alert's JSON is POSTed, with a timeout and retries with backoff on errors and
5xx answers. Any other URL goes to Apprise (``slack://``, ``mailto://``, ``tgram://``,
``msteams://``, ``discord://`` … see https://github.com/caronc/apprise/wiki).

Receiver URLs carry secrets (a Slack webhook's path, a token in the query, a password in
the userinfo, an Apprise URL's "host"): a notifier's ``target`` is the URL through
:func:`redact_url`, error texts go through :func:`scrub`, and a logging filter on this
module's logger and Apprise's masks any secret part of a configured URL in every record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger("socialpulse.alerts")

MASK: Final = "***"

#: schemes whose "host" is a network host, kept by redact_url; for every other Apprise
#: scheme (slack://, tgram://, discord://, msteams://, …) the host part is a token
HOST_SCHEMES: Final = frozenset(
    {
        "http",
        "https",
        "json",
        "jsons",
        "xml",
        "xmls",
        "form",
        "forms",
        "mailto",
        "mailtos",
        "ntfy",
        "ntfys",
        "gotify",
        "gotifys",
        "mmost",
        "mmosts",
        "rocket",
        "rockets",
        "matrix",
        "matrixs",
        "apprise",
        "apprises",
        "mqtt",
        "mqtts",
    }
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{0,31}$")
#: a first path segment kept as it is: a word such as ``services`` or ``hooks``, or ``v2``
_PLAIN_SEGMENT = re.compile(r"^(?:[A-Za-z][A-Za-z_.-]{0,31}|v[0-9]{1,3})$")
_PLAIN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")


def redact_url(url: str) -> str:
    """The URL with its secrets masked, fit for logs, messages and labels.

    Kept: the scheme, the host and port (for http(s) and Apprise schemes whose host is a
    host), the first path segment when it is a plain word, and query parameter names.
    Masked: userinfo, every later path segment, query values and the fragment.
    ``https://u:p@hooks.example.com/services/T0/B0/X?token=abc`` becomes
    ``https://***@hooks.example.com/services/***/***/***?token=***``.
    """
    scheme, sep, _ = url.partition("://")
    if not sep or not _SCHEME.match(scheme):
        return f"<not a URL, {len(url)} characters>"
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return f"{scheme}://{MASK}"
    keeps_host = scheme.lower() in HOST_SCHEMES
    netloc = MASK + "@" if "@" in parts.netloc else ""
    if keeps_host and host:
        netloc += f"[{host}]" if ":" in host else host
        netloc += f":{port}" if port is not None else ""
    elif parts.netloc:
        netloc += MASK
    segments = parts.path.split("/")
    kept_first = False
    for i, segment in enumerate(segments):
        if not segment:
            continue
        if keeps_host and not kept_first and _PLAIN_SEGMENT.match(segment):
            kept_first = True
            continue
        kept_first = True
        segments[i] = MASK
    out = f"{scheme}://{netloc}{'/'.join(segments)}"
    if parts.query:
        params = []
        for param in parts.query.split("&"):
            key, eq, _ = param.partition("=")
            params.append(f"{key}={MASK}" if eq and _PLAIN_KEY.match(key) else MASK)
        out += "?" + "&".join(params)
    if parts.fragment:
        out += "#" + MASK
    return out


def secret_parts(url: str) -> list[str]:
    """The pieces of ``url`` that redact_url masks, longest first (to scrub free text)."""
    scheme, sep, _ = url.partition("://")
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        parts = None
    if not sep or parts is None:
        return [url] if url else []
    found: set[str] = set()  # not the URL itself: scrub replaces it by its redacted form
    keeps_host = scheme.lower() in HOST_SCHEMES
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at:
        found.update([userinfo, userinfo.partition(":")[2]])  # the user name alone is no secret
    if not keeps_host and hostport:
        found.update([hostport, *hostport.split(":")])
    segments = parts.path.split("/")
    if keeps_host:
        shown = urlsplit(redact_url(url)).path.split("/")
        masked = [seg for seg, out in zip(segments, shown, strict=False) if out == MASK]
    else:
        masked = [seg for seg in segments if seg]
    if masked:
        found.update([parts.path, *masked])
    if parts.query:
        found.add(parts.query)
        for param in parts.query.split("&"):
            key, _, value = param.partition("=")
            found.update([value] if _PLAIN_KEY.match(key) else [key, value])
    if parts.fragment:
        found.add(parts.fragment)
    return sorted((p for p in found if len(p) >= 3), key=len, reverse=True)


def scrub(text: str, urls: Iterable[str]) -> str:
    """``text`` with every secret piece of ``urls`` masked (for error messages)."""
    for url in urls:
        if url in text:
            text = text.replace(url, redact_url(url))
        for piece in secret_parts(url):
            if piece in text:
                text = text.replace(piece, MASK)
    return text


class SecretFilter(logging.Filter):
    """Masks the secrets of every registered URL in the records of the loggers it is on."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def register(self, url: str) -> None:
        self.urls.add(url)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.urls:
            message = record.getMessage()
            scrubbed = scrub(message, self.urls)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
            if record.exc_info and record.exc_info[1] is not None:
                text = scrub(logging.Formatter().formatException(record.exc_info), self.urls)
                record.exc_info, record.exc_text = None, text
        return True


#: on this module's logger, Apprise's (its plugins log URLs and HTTP errors) and urllib3's
#: (Apprise's HTTP client logs each request line at DEBUG); a logger's filter sees only its
#: own records, so each logger that writes them is named
SECRETS = SecretFilter()
for _name in ("socialpulse.alerts", "apprise", "urllib3", "urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(SECRETS)

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
        self._url = url
        self.target = redact_url(url)  # what logs, errors and the CLI show
        SECRETS.register(url)
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
                    async with session.post(self._url, json=alert) as resp:
                        if resp.status < 300:
                            return
                        last = f"HTTP {resp.status}"
                        if resp.status < 500 and resp.status != 429:
                            break  # the receiver refuses it: retrying will not help
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise NotifierError(f"{self.target}: {scrub(last, [self._url])}")


class AppriseNotifier:
    """Slack, e-mail, Telegram, Teams and 100 more through one Apprise URL."""

    kind = "apprise"

    def __init__(self, url: str) -> None:
        import apprise

        self.target = redact_url(url)  # never log the secret part
        SECRETS.register(url)
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
        raise ValueError(
            f"{redact_url(url)} is not a URL (http(s):// for a webhook, or an Apprise URL)"
        )
    return AppriseNotifier(url)


#: how long a stopping worker keeps delivering the alerts still queued
DRAIN_SECONDS: Final = 10.0


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
        self.sending: set[str] = set()  # notifiers (by target) in the middle of a send

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
            self.sending.add(notifier.target)
            try:
                await notifier.send(alert)
                self.outcome(notifier.kind, "sent")
            except Exception as exc:  # a receiver's failure must never stop the worker
                self.outcome(notifier.kind, "failed")
                log.error("alert delivery to %s failed: %s", notifier.target, exc)
            finally:
                self.sending.discard(notifier.target)
                queue.task_done()

    async def close(self, timeout: float = DRAIN_SECONDS) -> None:
        """Deliver what is queued, for up to ``timeout`` seconds, then stop; an alert
        still queued (or being sent) then is counted ``dropped`` and logged by id."""
        if any(q.qsize() for q in self.queues):
            self.start()
        if self.tasks:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.gather(*(q.join() for q in self.queues))
            except TimeoutError:
                for notifier, queue in zip(self.notifiers, self.queues, strict=True):
                    left = [queue.get_nowait()["id"] for _ in range(queue.qsize())]
                    unfinished = len(left) + (notifier.target in self.sending)
                    for _ in range(unfinished):
                        self.outcome(notifier.kind, "dropped")
                    if unfinished:
                        log.error(
                            "shutdown: %d alerts not delivered to %s in %.0f s (queued: %s)",
                            unfinished,
                            notifier.target,
                            timeout,
                            ", ".join(left) or "none",
                        )
        await self.stop()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
