"""What the live-source plug-ins share: run budget, backoff, reconnect loop, HTTP verdicts.

A live source is one or more ``Stream`` objects, each able to run one connection
(``session``). ``Feed.run`` keeps every stream connected until ``--duration`` has passed
or ``--max-events`` were sent: a session that ends (server closed, network error, stall,
HTTP 5xx / 429) is retried after an exponential backoff with jitter, or after the delay the
server asked for (``Retry-After``); a problem that retrying cannot fix (HTTP 401, 404, a
bad option) stops the run with a ``SourceError``.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import click

from socialpulse.streams.plugins import Sink, option
from socialpulse.streams.validation import Invalid, parse_ts

MAX_WAIT = 900.0  # longest server-asked wait honoured (seconds)
SEEN = 50_000  # (brand, id) pairs remembered to drop replays before sending

COMMON_OPTIONS = [
    option("--duration", type=float, default=None, help="Seconds to run (default: until Ctrl-C)."),
    option(
        "--max-events",
        type=click.IntRange(min=1),
        default=None,
        help="Stop after sending this many events.",
    ),
    option(
        "--idle-timeout",
        type=click.FloatRange(min=0.05),
        default=60.0,
        show_default=True,
        help="Reconnect when the stream is silent this many seconds.",
    ),
    option(
        "--retry-initial",
        type=click.FloatRange(min=0.0),
        default=1.0,
        show_default=True,
        help="First reconnect delay in seconds; it doubles on every failure.",
    ),
    option(
        "--retry-max",
        type=click.FloatRange(min=0.0),
        default=60.0,
        show_default=True,
        help="Longest reconnect delay in seconds.",
    ),
]


class SourceError(click.ClickException):
    """A problem reconnecting cannot fix (bad option, HTTP 401/403/404): the run stops."""


class Retry(Exception):
    """A problem worth reconnecting for; ``delay`` is the server's wish, when it said one."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class Stop(Exception):
    """The run's budget (``--max-events``) is spent."""


class BadFrame(ValueError):
    """A frame or record the source sent that cannot be read as the documented format."""


@dataclass
class Backoff:
    """Exponential delays: initial, x2, x4, ... up to ``maximum``, each with ±20 % jitter."""

    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.2
    attempt: int = 0

    def next(self) -> float:
        base = min(self.maximum, self.initial * 2.0 ** min(self.attempt, 30))
        self.attempt += 1
        return base * (1.0 + self.jitter * (2.0 * random.random() - 1.0))

    def reset(self) -> None:
        self.attempt = 0


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset``."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After", "").strip()
    if value:
        try:
            return min(max(float(value), 0.0), MAX_WAIT)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
            return min(max(when.timestamp() - now, 0.0), MAX_WAIT)
        except (TypeError, ValueError, IndexError):
            pass
    reset = headers.get("X-RateLimit-Reset", "").strip()  # Mastodon: an ISO 8601 time
    if reset:
        try:
            return min(max(parse_ts(reset) - now, 0.0), MAX_WAIT)
        except Invalid:
            pass
    return None


def check_status(status: int, headers: Mapping[str, str], what: str, hint: str = "") -> None:
    """Raise ``Retry`` for HTTP 408/429/5xx, ``SourceError`` for any other non-200 status."""
    if status == 200:
        return
    if status == 429:
        raise Retry(f"{what}: HTTP 429 rate limited", retry_after(headers))
    if status >= 500 or status == 408:
        raise Retry(f"{what}: HTTP {status}", retry_after(headers))
    raise SourceError(f"{what}: HTTP {status}" + (f" ({hint})" if hint else ""))


class Stream(Protocol):
    """One connection of a live source, run again and again by ``Feed.run``."""

    name: str
    progress: int  # frames received so far: a session that received some resets the backoff

    async def session(self) -> None: ...


@dataclass
class Budget:
    """``--duration`` and ``--max-events``."""

    duration: float | None
    max_events: int | None
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float | None:
        if self.duration is None:
            return None
        return max(self.duration - (time.monotonic() - self.started), 0.0)

    def spent(self, sent: int) -> bool:
        if self.max_events is not None and sent >= self.max_events:
            return True
        left = self.remaining()
        return left is not None and left <= 0


@dataclass
class Feed:
    """A plug-in run: sends mapped events through the sink, counts, logs, reconnects."""

    sink: Sink
    label: str
    budget: Budget
    idle_timeout: float = 60.0
    retry_initial: float = 1.0
    retry_max: float = 60.0
    counts: Counter[str] = field(default_factory=Counter)
    _seen: dict[tuple[str, str], None] = field(default_factory=dict)

    @classmethod
    def from_options(
        cls,
        sink: Sink,
        label: str,
        *,
        duration: float | None,
        max_events: int | None,
        idle_timeout: float,
        retry_initial: float,
        retry_max: float,
    ) -> Feed:
        return cls(
            sink,
            label,
            Budget(duration, max_events),
            idle_timeout=idle_timeout,
            retry_initial=retry_initial,
            retry_max=max(retry_max, retry_initial),
        )

    def log(self, message: str) -> None:
        if self.sink.err is not None:
            print(f"{self.label}: {message}", file=self.sink.err, flush=True)

    def refuse(self, detail: str, where: str) -> None:
        """Count a frame that could not be read (``bad_frame``)."""
        self.sink.refuse("bad_frame", detail[:300], where)

    async def emit(self, events: Iterable[dict[str, Any]], where: str) -> None:
        """Send events not sent before (a replay after a reconnect is dropped here)."""
        for event in events:
            key = (event["brand"], event["id"])
            if key in self._seen:
                self.counts["replayed"] += 1
                continue
            self._seen[key] = None
            if len(self._seen) > SEEN:
                del self._seen[next(iter(self._seen))]
            await self.sink.send(event, where)
            if self.budget.spent(self.sink.sent):
                raise Stop

    async def run(self, streams: list[Stream]) -> None:
        """Keep every stream connected until the budget is spent; re-raise a fatal error."""
        tasks = [asyncio.ensure_future(self._keep(stream)) for stream in streams]
        try:
            async with asyncio.timeout(self.budget.remaining()):
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            pass  # --duration is over
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(self.counts.items()))
            self.log(f"stopped; {reasons or 'nothing received'}")
        for task in tasks:
            problem = None if task.cancelled() else task.exception()
            if problem is not None:
                raise problem

    async def _keep(self, stream: Stream) -> None:
        backoff = Backoff(self.retry_initial, self.retry_max)
        while True:
            progress, began = stream.progress, time.monotonic()
            wish: float | None = None
            try:
                await stream.session()
                reason = "the server ended the stream"
            except Stop:
                return
            except Retry as exc:
                reason, wish = str(exc), exc.delay
            except TimeoutError:
                reason = f"no data for {self.idle_timeout:g} s"
            except (aiohttp.ClientError, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
            if stream.progress > progress or time.monotonic() - began > self.retry_max:
                backoff.reset()
            delay = backoff.next()
            if wish is not None:
                delay = wish  # the server said how long: no sooner, and no later either
            self.counts["reconnects"] += 1
            self.log(f"{stream.name}: {reason}; reconnecting in {delay:.1f} s")
            await asyncio.sleep(delay)
