"""The producer SDK: validates events, batches them into envelopes, keys them by brand.

    async with EventProducer("127.0.0.1:9092") as producer:
        await producer.send({"id": "1", "ts": time.time(), "brand": "acme", "kind": "like"})

Each brand's events go, as envelopes of up to ``max_events`` events and ``max_bytes``
bytes, to the partition that owns the brand (``partitioning.brand_partition``), so the
worker never has to forward them. A brand's buffer is sent when it is full or after
``linger`` seconds. ``SyncEventProducer`` is the same for code without an event loop.

:meth:`EventProducer.send_encoded` queues an event already validated and encoded, and
answers the delivery future of the envelope it joins: a caller that must know when its
events are on the broker (the HTTP ingest server) awaits that. Such a producer says
``raise_errors = False``: a failed envelope is logged and reported to its future
(:class:`BrokerUnavailable`) instead of raised into whichever caller happens to send next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable
from functools import partial
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaProducer

from socialpulse.streams import codec
from socialpulse.streams.partitioning import brand_partition
from socialpulse.streams.topics import ensure_topics
from socialpulse.streams.validation import validate_event

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """An envelope was not handed to the broker, or the broker did not acknowledge it."""


class EventProducer:
    """Async producer of contract events in brand-keyed envelopes."""

    #: a partly filled envelope goes out after ``linger`` seconds (a subclass that sends
    #: nowhere but in memory, and flushes at the end, says False)
    lingers: bool = True
    #: a send or delivery error is raised from send()/send_encoded()/flush() (True); a
    #: subclass whose callers await the futures of send_encoded() says False: the error
    #: is logged and set on the envelope's future, and the other brands' envelopes go on
    raise_errors: bool = True

    def __init__(
        self,
        bootstrap: str,
        topic: str = "social-events",
        *,
        max_events: int = 500,
        max_bytes: int = 900_000,
        linger: float = 0.05,
        partitions: int = 4,
        validate: bool = True,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        """``client_options`` go to the aiokafka producer, and their TLS/SASL part to the
        admin client that declares the topic: ``streams.connection.client_options``."""
        if max_events < 1 or max_bytes < 1024:
            raise ValueError("max_events must be >= 1 and max_bytes >= 1024")
        self.bootstrap = bootstrap
        self.topic = topic
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.linger = linger
        self.validate = validate
        self._declare_partitions = partitions
        self._options = client_options or {}
        self._producer: AIOKafkaProducer | None = None
        self._partitions = partitions
        self._buffers: dict[str, list[bytes]] = {}
        self._sizes: dict[str, int] = {}
        #: the delivery future of each brand's buffer, made when send_encoded() asks for it
        self._receipts: dict[str, asyncio.Future[None]] = {}
        self._pending: list[asyncio.Future[Any]] = []
        self._linger_task: asyncio.Task[None] | None = None
        self._handing_over = asyncio.Lock()
        self.events_sent = 0
        self.messages_sent = 0

    async def start(self) -> None:
        """Connect, and create the topic with the configured partitions if it is missing."""
        await ensure_topics(
            self.bootstrap, {self.topic: self._declare_partitions}, client_options=self._options
        )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            linger_ms=5,
            max_request_size=max(self.max_bytes * 2, 1_048_576),
            acks=1,
            **self._options,
        )
        await self._producer.start()
        parts = await self._producer.partitions_for(self.topic)
        self._partitions = len(parts) if parts else self._declare_partitions

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def send(self, event: dict[str, Any]) -> None:
        """Queue one event; raises ``validation.Invalid`` if it breaks docs/events.md."""
        if self.validate:
            # a copy, so the caller's dict is not normalised; a non-object is refused there
            event = validate_event(dict(event) if isinstance(event, dict) else event)
        await self._add(event["brand"], codec.dumps(event), receipt=False)

    async def send_encoded(self, brand: str, data: bytes) -> asyncio.Future[None]:
        """Queue one event of ``brand`` already validated and encoded (``codec.dumps``).

        The answer is the delivery future of the envelope the event joins (shared with
        the other events of that envelope): its result is None once the broker has the
        envelope, its exception a :class:`BrokerUnavailable` when it could not be handed
        over or was not acknowledged.
        """
        receipt = await self._add(brand, data, receipt=True)
        assert receipt is not None
        return receipt

    async def _add(self, brand: str, data: bytes, *, receipt: bool) -> asyncio.Future[None] | None:
        # while, not if: other callers may fill the next buffer during the hand-over
        while self._buffers.get(brand) and self._sizes[brand] + len(data) + 1 > self.max_bytes:
            await self._send_brand(brand)
        # no await from here to the append: the receipt is the one of the buffer joined
        waiter = self._receipt(brand) if receipt else None
        buf = self._buffers.setdefault(brand, [])
        buf.append(data)
        self._sizes[brand] = self._sizes.get(brand, 2) + len(data) + 1
        if len(buf) >= self.max_events:
            await self._send_brand(brand)
        elif self._linger_task is None and self.lingers:
            self._linger_task = asyncio.ensure_future(self._linger())
        return waiter

    def _receipt(self, brand: str) -> asyncio.Future[None]:
        waiter = self._receipts.get(brand)
        if waiter is None:
            waiter = asyncio.get_running_loop().create_future()
            waiter.add_done_callback(retrieve)  # nobody may wait for it (--no-wait)
            self._receipts[brand] = waiter
        return waiter

    async def send_many(self, events: Iterable[dict[str, Any]]) -> None:
        """Queue many events."""
        for event in events:
            await self.send(event)

    async def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        """Send one message value as it is (no validation): for replaying envelopes."""
        assert self._producer is not None, "start() the producer first"
        self._pending.append(await self._producer.send(self.topic, value, key=key))
        self.messages_sent += 1
        await self._reap()

    async def _linger(self) -> None:
        try:
            await asyncio.sleep(self.linger)
            # until no buffer is left: an event queued while an envelope was being handed
            # over must not wait for the next send() or flush()
            while self._buffers:
                for brand in list(self._buffers):
                    await self._send_brand(brand)
        finally:
            self._linger_task = None

    async def _send_brand(self, brand: str) -> asyncio.Future[Any] | None:
        """Send ``brand``'s buffer as one envelope; its delivery future (None if empty)."""
        # One hand-over at a time, the buffer taken once the turn comes: the producer's
        # send() may wait for room, and a second envelope of the brand (from send() or
        # the linger task) handed over meanwhile could reach the broker first; a brand's
        # events must keep their order (a worker counts events far behind as late).
        async with self._handing_over:
            buf = self._buffers.pop(brand, None)
            self._sizes.pop(brand, None)
            receipt = self._receipts.pop(brand, None)
            if not buf:  # (a receipt is made only with an event in the buffer)
                return None
            try:
                fut = await self.deliver(brand, b"[" + b",".join(buf) + b"]")
            except BaseException as exc:
                if receipt is not None and not receipt.done():
                    receipt.set_exception(BrokerUnavailable(f"{type(exc).__name__}: {exc}"))
                if self.raise_errors or not isinstance(exc, Exception):
                    raise
                log.warning("could not send an envelope of %s: %r", brand, exc)
                return None  # its callers learn it from the receipt; other brands go on
        if receipt is not None:
            fut.add_done_callback(partial(_settle, receipt))
        self._pending.append(fut)
        self.events_sent += len(buf)
        self.messages_sent += 1
        await self._reap()
        return fut

    async def deliver(self, brand: str, envelope: bytes) -> asyncio.Future[Any]:
        """Hand one envelope of ``brand`` to Kafka, keyed by the brand, on the brand's
        partition; its delivery future. The one place an envelope leaves: a subclass may
        deliver elsewhere (``cli.backtest.CoreProducer`` hands it to the batch core)."""
        assert self._producer is not None, "start() the producer first"
        return await self._producer.send(
            self.topic,
            envelope,
            key=brand.encode("utf-8"),
            partition=brand_partition(brand, self._partitions),
        )

    async def _reap(self) -> None:
        if len(self._pending) < 256:
            return
        if self.raise_errors:
            for fut in self._pending:
                if fut.done():
                    fut.result()  # raise a delivery error here rather than never
        # else the delivery errors reach the receipts: never raise them into another caller
        self._pending = [f for f in self._pending if not f.done()]
        if len(self._pending) >= 1024:  # back-pressure: wait for the oldest deliveries
            if self.raise_errors:
                await asyncio.gather(*self._pending[:512])
            else:
                await asyncio.wait(self._pending[:512])
            del self._pending[:512]

    async def flush(self) -> None:
        """Send every buffered event and wait until the broker has them all (with
        ``raise_errors`` False, an envelope not delivered is logged, not raised)."""
        for brand in list(self._buffers):
            await self._send_brand(brand)
        pending, self._pending = self._pending, []
        if not pending:
            return
        if self.raise_errors:
            await asyncio.gather(*pending)
            return
        for result in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(result, BaseException):
                log.warning("an envelope was not delivered: %r", result)

    async def reachable(self, timeout: float = 5.0) -> bool:
        """True when the broker answers a metadata request within ``timeout`` seconds
        (False before :meth:`start`)."""
        producer = self._producer
        if producer is None:
            return False
        try:
            return bool(await asyncio.wait_for(producer.client.force_metadata_update(), timeout))
        except asyncio.CancelledError:
            raise
        except Exception:
            return False

    async def stop(self) -> None:
        """Flush and disconnect."""
        if self._producer is None:
            return
        try:
            await self.flush()
        finally:
            if self._linger_task is not None:
                self._linger_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._linger_task
            await self._producer.stop()
            self._producer = None


def retrieve(fut: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen (it is reported elsewhere, or nobody waits)."""
    if not fut.cancelled():
        fut.exception()


def _settle(receipt: asyncio.Future[None], fut: asyncio.Future[Any]) -> None:
    """Pass an envelope's delivery outcome to its receipt."""
    if receipt.done():
        return
    if fut.cancelled():
        receipt.set_exception(BrokerUnavailable("the delivery was cancelled"))
    elif (exc := fut.exception()) is not None:
        receipt.set_exception(BrokerUnavailable(f"{type(exc).__name__}: {exc}"))
    else:
        receipt.set_result(None)


class SyncEventProducer:
    """A blocking wrapper of :class:`EventProducer` that runs it on a private loop thread.

    with SyncEventProducer("127.0.0.1:9092") as producer:
        producer.send({"id": "1", "ts": 1700000000, "brand": "acme", "kind": "like"})
    """

    def __init__(self, bootstrap: str, topic: str = "social-events", **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._async = self._call(_make_producer(bootstrap, topic, options))
        self._call(self._async.start())

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def send(self, event: dict[str, Any]) -> None:
        """Queue one event (raises ``validation.Invalid`` for a bad one)."""
        self._call(self._async.send(event))

    def send_many(self, events: Iterable[dict[str, Any]]) -> None:
        """Queue many events."""
        self._call(self._async.send_many(list(events)))

    def flush(self) -> None:
        """Block until every queued event is on the broker."""
        self._call(self._async.flush())

    def close(self) -> None:
        """Flush, disconnect and stop the loop thread."""
        try:
            self._call(self._async.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _make_producer(bootstrap: str, topic: str, options: dict[str, Any]) -> EventProducer:
    return EventProducer(bootstrap, topic, **options)
