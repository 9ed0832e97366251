"""The consumer's fetch wait, which Faust hard-codes at 1.5 s.

A Kafka broker answers a fetch as soon as data is there; Tansu, the embedded broker, holds
every fetch for the full wait, so with Faust's 1.5 s an event waited up to 1.5 s before
the worker saw it (measured by ``socialpulse bench``: p50 latency 0.37 s at 1.5 s,
0.003 s at 50 ms, with a bare aiokafka consumer). ``SOCIALPULSE_FETCH_MAX_WAIT`` sets it;
the app factory installs these classes on the app's transport.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer


class TunedConsumerThread(AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, with the app's fetch wait."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        settings = getattr(self.app, "settings", None)  # a socialpulse app's Settings
        if settings is not None:  # read by aiokafka when it starts its fetcher
            consumer._fetch_max_wait_ms = max(1, int(settings.fetch_max_wait * 1000))
        return consumer


class TunedConsumer(Consumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return TunedConsumerThread(self, loop=self.loop, beacon=self.beacon)


def tune(transport: Any) -> Any:
    """The app's transport, creating tuned consumers when it is aiokafka's."""
    if transport.Consumer is Consumer:
        transport.Consumer = TunedConsumer
    return transport
