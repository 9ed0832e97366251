"""The producer side of the ingest server: validated events go to the broker, and each
request learns when its own events are there.

The server needs only :class:`IngestProducer` (a fake one in unit tests). The real one,
:class:`DeliveryProducer`, is an :class:`~socialpulse.streams.producer.EventProducer` that
batches the events of concurrent requests into shared envelopes per brand and answers, for
each event, its envelope's delivery future (``EventProducer.send_encoded``). When the broker
does not take an envelope, that future fails with
:class:`~socialpulse.streams.producer.BrokerUnavailable` (the request answers 503) and the
other brands' envelopes go on; :meth:`DeliveryProducer.watch` keeps :attr:`connected`
current, so requests are refused at once while the broker is unreachable.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from socialpulse.streams.producer import EventProducer

log = logging.getLogger(__name__)


class IngestProducer(Protocol):
    """What the server needs of a producer (a fake one in unit tests)."""

    connected: bool

    async def enqueue(self, brand: str, data: bytes) -> asyncio.Future[None]:
        """Queue one encoded event; the future is done when the broker has it."""
        ...


class DeliveryProducer(EventProducer):
    """An :class:`EventProducer` that tells each caller when its events are on the broker.

    :meth:`enqueue` puts an already validated, encoded event in its brand's envelope
    buffer and returns that envelope's delivery future, so concurrent requests share
    envelopes (and the linger) and each one awaits only its own envelopes: no flush per
    request. A failed envelope reaches its requests' futures, never another request
    (``raise_errors`` is False). :meth:`watch` keeps :attr:`connected` up to date.
    """

    raise_errors = False

    def __init__(self, bootstrap: str, topic: str = "social-events", **options: Any) -> None:
        options["validate"] = False  # the server validates, and reports, every event itself
        super().__init__(bootstrap, topic, **options)
        self.connected = False

    async def start(self) -> None:
        await super().start()
        self.connected = True

    async def stop(self) -> None:
        self.connected = False
        await super().stop()

    async def enqueue(self, brand: str, data: bytes) -> asyncio.Future[None]:
        """Queue one encoded event of ``brand``; await the result for its delivery."""
        return await self.send_encoded(brand, data)

    async def watch(self, interval: float = 2.0, timeout: float = 5.0) -> None:
        """Keep :attr:`connected` current by asking the broker for metadata now and then."""
        while True:
            await asyncio.sleep(interval)
            ok = await self.reachable(timeout)
            if ok != self.connected:
                if ok:
                    log.warning("the broker is reachable again")
                else:
                    log.warning(
                        "the broker is unreachable: POST /events answers 503 until it is back"
                    )
            self.connected = ok
