"""HTTP ingest: ``POST /events`` puts contract events (docs/events.md) on the events topic.

    SOCIALPULSE_INGEST_TOKEN=s3cret socialpulse ingest
    curl -H 'Authorization: Bearer s3cret' -H 'Content-Type: application/json' \\
         -d '{"id": "1", "ts": 1700000000, "brand": "acme", "kind": "like"}' \\
         http://127.0.0.1:8088/events

A request carries one event (a JSON object), an envelope (a JSON array of events) or
NDJSON (``application/x-ndjson``, one event per line). The whole request is validated
first: when any event breaks the contract nothing of it is sent and the answer is 400
with each rejected event's index, id, reason and detail, so the client can fix the request
and resend it whole (``?partial=true`` sends the valid events and reports the rest).
Valid events go through one shared producer (``delivery.DeliveryProducer``), batched into
envelopes per brand across concurrent requests, and the answer is 202 once the broker has
them, or 503 with ``Retry-After`` when it does not within the acknowledgement timeout.
Resending after a 503 is safe: the worker counts a repeated ``id`` of a brand once.

Load is bounded (:class:`Gate`): at most ``max_in_flight`` requests and ``max_held`` bytes
of bodies are held at once, from before the body is read until its events are on the
broker (with ``--no-wait`` too). A request beyond either bound is answered 503 with
``Retry-After`` at once, its body unread, and counted in
``socialpulse_ingest_overloaded_total``; so a burst costs the server at most the bound,
never its memory. Docs: docs/ingest.md.

This module is the HTTP side: the configuration, the routes, the checks that need no body,
the gate and the server's life. The body's parsing and checks are in ``body``, the
producer side in ``delivery``, the counts in ``metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import ClientError, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from socialpulse.streams.ingest.body import BodyError, check_events, parse_body
from socialpulse.streams.ingest.delivery import DeliveryProducer, IngestProducer
from socialpulse.streams.ingest.metrics import IngestMetrics, IngestStats, report
from socialpulse.streams.producer import BrokerUnavailable, retrieve

log = logging.getLogger(__name__)

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
#: rejected events listed in one answer; ``rejected_count`` counts them all
MAX_LISTED = 1000
#: paths that are not counted in the request metrics (scrapes and probes)
QUIET_PATHS = frozenset({"/metrics", "/healthz"})


class IngestError(Exception):
    """The ingest server cannot run (port taken, no token); the message says why."""


def parse_tokens(raw: str) -> tuple[bytes, ...]:
    """The accepted tokens of a comma-separated setting (several allow rotation)."""
    return tuple(t.strip().encode("utf-8") for t in raw.split(",") if t.strip())


@dataclass(frozen=True)
class IngestConfig:
    """Limits and behaviour of ``POST /events``."""

    tokens: tuple[bytes, ...] = field(repr=False)
    max_bytes: int = 1_048_576
    max_events: int = 10_000
    max_event_bytes: int = 4 * 1024 * 1024 - 2
    wait: bool = True
    ack_timeout: float = 10.0
    retry_after: int = 5
    max_in_flight: int = 64
    max_held: int = 16 * 1024 * 1024
    busy_retry_after: int = 1

    def __post_init__(self) -> None:
        if not self.tokens:
            raise IngestError("no ingest token: the ingest server refuses to run without one")
        if self.max_in_flight < 1:
            raise IngestError("the ingest server needs room for at least one request in flight")
        if self.max_held < self.max_bytes:
            raise IngestError(
                f"the bytes held ({self.max_held:,}) must be at least the largest body "
                f"({self.max_bytes:,}), or a body of the largest size could never come in"
            )


class Gate:
    """The bound on requests in flight and on the bytes of their bodies held at once.

    A request takes a :class:`Hold` before its body is read, sized by its Content-Length
    (the body limit when it has none, as chunked bodies), and gives it back once its
    events are on the broker (or refused). :meth:`admit` never waits: beyond a bound the
    answer is ``None`` and the server refuses the request at once, so a queue of waiting
    requests cannot pile up in memory either.
    """

    def __init__(self, max_in_flight: int, max_held: int) -> None:
        self.max_in_flight = max_in_flight
        self.max_held = max_held
        self.in_flight = 0
        self.held = 0

    def refusal(self, size: int) -> str | None:
        """The bound a request of ``size`` bytes would break (``requests``/``bytes``), or None."""
        if self.in_flight >= self.max_in_flight:
            return "requests"
        if self.held + size > self.max_held:
            return "bytes"
        return None

    def admit(self, size: int) -> Hold | None:
        """A hold of one request and ``size`` bytes, or None beyond a bound."""
        if self.refusal(size) is not None:
            return None
        self.in_flight += 1
        self.held += size
        return Hold(self, size)


class Hold:
    """One admitted request's share of the :class:`Gate`; :meth:`release` is idempotent."""

    __slots__ = ("_gate", "_size", "delivering")

    def __init__(self, gate: Gate, size: int) -> None:
        self._gate: Gate | None = gate
        self._size = size
        #: True once a delivery task owns the hold (it releases it when the events are sent)
        self.delivering = False

    def release(self, *_: object) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.in_flight -= 1
            gate.held -= self._size


@dataclass
class _Context:
    producer: IngestProducer
    config: IngestConfig
    metrics: IngestMetrics
    stats: IngestStats
    gate: Gate


CONTEXT = web.AppKey("socialpulse_ingest", _Context)


def _error(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    body = {"error": error, "detail": detail, **extra}
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def _presented(request: web.Request) -> list[str]:
    tokens = []
    auth = request.headers.get("Authorization", "")
    scheme, _, credentials = auth.strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        tokens.append(credentials.strip())
    header = request.headers.get("X-SocialPulse-Token", "").strip()
    if header:
        tokens.append(header)
    return tokens


def authorized(request: web.Request, tokens: Iterable[bytes]) -> bool:
    """True when a presented token equals an accepted one (constant-time comparison)."""
    accepted = tuple(tokens)
    ok = False
    for presented in _presented(request):
        given = presented.encode("utf-8", "replace")
        for token in accepted:
            ok |= hmac.compare_digest(given, token)
    return ok


def _precheck(request: web.Request, ctx: _Context) -> web.Response | None:
    """The refusals that need no body: 401, 413 by Content-Length, 415, 503."""
    config = ctx.config
    if not authorized(request, config.tokens):
        given = bool(_presented(request))
        challenge = 'Bearer realm="socialpulse"'
        if given:
            challenge += ', error="invalid_token"'
        detail = "the token is not valid" if given else "send Authorization: Bearer TOKEN"
        return _error(401, "unauthorized", detail, {"WWW-Authenticate": challenge})
    length = request.content_length
    if length is not None and length > config.max_bytes:
        detail = f"the body of {length:,} bytes is over the {config.max_bytes:,}-byte limit"
        return _error(413, "too_large", detail, max_bytes=config.max_bytes)
    ctype = request.content_type
    charset = (request.charset or "utf-8").lower().replace("_", "-")
    if ctype not in JSON_TYPES | NDJSON_TYPES or charset not in ("utf-8", "utf8"):
        detail = (
            f"Content-Type {request.headers.get('Content-Type', '(none)')[:100]!r} is not "
            "accepted: send application/json (an event or an array of events) or "
            "application/x-ndjson (one event per line), in UTF-8"
        )
        return _error(415, "unsupported_media_type", detail)
    if not ctx.producer.connected:
        return _broker_down(config, "the broker is unreachable")
    return None


def _reserved(request: web.Request, config: IngestConfig) -> int:
    """The bytes a request's body may take: its Content-Length, else the body limit."""
    length = request.content_length
    return config.max_bytes if length is None else max(0, length)


def _overloaded(ctx: _Context, limit: str) -> web.Response:
    ctx.metrics.overloaded.labels(limit).inc()
    gate = ctx.gate
    detail = (
        f"the server holds its limit of {gate.max_in_flight:,} requests in flight"
        if limit == "requests"
        else f"the server holds its limit of {gate.max_held:,} bytes of request bodies"
    )
    return _error(
        503,
        "overloaded",
        f"{detail}; nothing of this request was read or sent: resend it later",
        {"Retry-After": str(ctx.config.busy_retry_after)},
        limit=limit,
    )


def _broker_down(config: IngestConfig, detail: str) -> web.Response:
    return _error(
        503,
        "broker_unavailable",
        f"{detail}; nothing is lost by resending the whole request later (the worker "
        "counts a repeated id once)",
        {"Retry-After": str(config.retry_after)},
    )


async def _deliver(
    producer: IngestProducer, good: list[tuple[str, bytes]], wait: bool, hold: Hold
) -> None:
    """Enqueue the events; the hold is released once they are all on the broker (or not)."""
    try:
        waiters: dict[int, asyncio.Future[None]] = {}
        for brand, data in good:
            fut = await producer.enqueue(brand, data)
            waiters[id(fut)] = fut
    except BaseException:
        hold.release()
        raise
    delivered = asyncio.gather(*waiters.values())
    delivered.add_done_callback(hold.release)
    if wait:
        await delivered
    else:
        delivered.add_done_callback(retrieve)


def _consume(task: asyncio.Future[None]) -> None:
    retrieve(task)


async def post_events(request: web.Request) -> web.Response:
    """``POST /events``: validate the whole request, then hand it to the producer."""
    ctx = request.app[CONTEXT]
    config = ctx.config
    refusal = _precheck(request, ctx)
    if refusal is not None:
        return refusal
    size = _reserved(request, config)
    hold = ctx.gate.admit(size)
    if hold is None:
        return _overloaded(ctx, ctx.gate.refusal(size) or "requests")
    try:
        return await _post_admitted(request, ctx, hold)
    finally:
        if not hold.delivering:
            hold.release()


async def _post_admitted(request: web.Request, ctx: _Context, hold: Hold) -> web.Response:
    config = ctx.config
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        detail = f"the body is over the {config.max_bytes:,}-byte limit"
        return _error(413, "too_large", detail, max_bytes=config.max_bytes)
    except (ClientError, ConnectionError, asyncio.IncompleteReadError) as exc:
        return _error(400, "incomplete_body", f"the body could not be read: {type(exc).__name__}")
    ndjson = request.content_type in NDJSON_TYPES
    try:
        elements, lines = parse_body(body, ndjson, config.max_events)
    except BodyError as exc:
        ctx.metrics.rejected.labels(exc.reason).inc()
        ctx.stats.rejected += 1
        return _error(400, exc.reason, exc.detail, accepted=0, rejected=[])
    good, rejected = check_events(elements, lines, config.max_event_bytes)
    # the parsed events weigh several times their bytes: drop them before the wait for
    # the broker, so a request in flight holds about its body's bytes (what the gate counts)
    count = len(elements)
    del body, elements, lines
    for entry in rejected:
        ctx.metrics.rejected.labels(entry["reason"]).inc()
    ctx.stats.rejected += len(rejected)
    partial = request.query.get("partial", "").lower() in ("1", "true", "yes")
    listing: dict[str, Any] = {"rejected_count": len(rejected), "rejected": rejected[:MAX_LISTED]}
    if rejected and (not partial or not good):
        detail = (
            f"{len(rejected):,} of {count:,} events are invalid; nothing was sent: "
            "fix them and resend the whole request"
        )
        return _error(400, "invalid_events", detail, accepted=0, **listing)
    hold.delivering = True  # from here the delivery releases the hold, not the handler
    task = asyncio.ensure_future(_deliver(ctx.producer, good, config.wait, hold))
    task.add_done_callback(_consume)
    try:
        # shielded: a timeout answers 503 but never tears an envelope other requests share
        await asyncio.wait_for(asyncio.shield(task), config.ack_timeout)
    except TimeoutError:
        return _broker_down(
            config, f"the broker did not take the events in {config.ack_timeout:g} s"
        )
    except BrokerUnavailable as exc:
        return _broker_down(config, f"the broker did not take the events ({exc})")
    ctx.metrics.accepted.inc(len(good))
    ctx.stats.accepted += len(good)
    ctx.stats.total_accepted += len(good)
    answer: dict[str, Any] = {"accepted": len(good)}
    if rejected:
        answer.update(listing)
    return web.Response(status=202, body=orjson.dumps(answer), content_type="application/json")


async def _expect(request: web.Request) -> web.Response | None:
    """``Expect: 100-continue``: refuse before the client uploads the body, if we will."""
    ctx = request.app[CONTEXT]
    refusal = _precheck(request, ctx)
    if refusal is None and (limit := ctx.gate.refusal(_reserved(request, ctx.config))):
        refusal = _overloaded(ctx, limit)
    if refusal is not None:
        _record(ctx, request, refusal.status, 0.0)  # middlewares do not see this answer
        return refusal
    if request.headers.get("Expect", "").lower() != "100-continue":
        return _error(417, "expectation_failed", "only Expect: 100-continue is understood")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0
    return None


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: 200 when the producer reaches the broker, else 503."""
    connected = request.app[CONTEXT].producer.connected
    body = {"status": "ok" if connected else "broker_unreachable", "producer_connected": connected}
    return web.json_response(body, status=200 if connected else 503)


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: the ingest server's own metrics, Prometheus text format."""
    ctx = request.app[CONTEXT]
    ctx.metrics.broker_up.set(1.0 if ctx.producer.connected else 0.0)
    ctx.metrics.in_flight.set(ctx.gate.in_flight)
    ctx.metrics.held.set(ctx.gate.held)
    return web.Response(
        body=generate_latest(ctx.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def _record(ctx: _Context, request: web.Request, status: int, seconds: float) -> None:
    if request.path in QUIET_PATHS:
        return
    ctx.metrics.requests.labels(str(status)).inc()
    ctx.stats.statuses[status] += 1
    ctx.stats.total_requests += 1
    if request.path == "/events" and request.method == "POST":
        ctx.metrics.latency.observe(seconds)
        if len(ctx.stats.latencies) < 100_000:
            ctx.stats.latencies.append(seconds)


@web.middleware
async def _observe(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    start = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away (nginx's code for it)
        raise
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return _error(500, "internal_error", "the server failed on this request; see its log")
    finally:
        _record(request.app[CONTEXT], request, status, time.perf_counter() - start)


def make_app(
    producer: IngestProducer, config: IngestConfig, metrics_: IngestMetrics | None = None
) -> web.Application:
    """The aiohttp application: POST /events, GET /healthz, GET /metrics."""
    app = web.Application(client_max_size=config.max_bytes, middlewares=[_observe])
    gate = Gate(config.max_in_flight, config.max_held)
    app[CONTEXT] = _Context(producer, config, metrics_ or IngestMetrics(), IngestStats(), gate)
    app.router.add_post("/events", post_events, expect_handler=_expect)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(
    producer: DeliveryProducer,
    config: IngestConfig,
    host: str,
    port: int,
    *,
    echo: Callable[[str], None],
    log_every: float = 30.0,
    ready: Callable[[], None] | None = None,
) -> IngestStats:
    """Serve until SIGINT or SIGTERM; the caller starts and stops (flushes) the producer."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="socialpulse ingest: %(message)s")
    # aiokafka logs every reconnection attempt at ERROR; the watcher says it once instead
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    app = make_app(producer, config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=15.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise IngestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    stats = app[CONTEXT].stats
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.ensure_future(producer.watch())
    reporter = asyncio.ensure_future(report(stats, echo, log_every))
    for address in runner.addresses:
        shown = f"[{address[0]}]" if ":" in str(address[0]) else address[0]
        echo(f"socialpulse ingest: listening on http://{shown}:{address[1]} (POST /events)")
    if ready is not None:
        ready()
    try:
        await stop.wait()
        echo("socialpulse ingest: stopping; answering the requests in flight, then flushing")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()  # stops listening, waits for the handlers in flight
        for task in (watcher, reporter):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return stats
