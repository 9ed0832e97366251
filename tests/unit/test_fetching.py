"""The worker's consumers use SOCIALPULSE_FETCH_MAX_WAIT, not Faust's fixed 1.5 s."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from socialpulse.agents.app import create_app
from socialpulse.agents.fetching import TunedConsumer, TunedConsumerThread
from socialpulse.agents.settings import Settings


async def test_the_aiokafka_consumer_gets_the_configured_fetch_wait() -> None:
    app = create_app(Settings(fetch_max_wait=0.02), registry=CollectorRegistry())
    assert app.transport.Consumer is TunedConsumer
    consumer = app.consumer
    assert isinstance(consumer, TunedConsumer)
    thread = consumer._thread
    assert isinstance(thread, TunedConsumerThread)
    aiokafka_consumer = thread._create_worker_consumer(app.transport)
    assert aiokafka_consumer._fetch_max_wait_ms == 20


async def test_faust_alone_would_wait_one_and_a_half_seconds() -> None:
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    app = create_app(Settings(), registry=CollectorRegistry())
    plain = AIOKafkaConsumerThread(app.consumer, loop=app.loop, beacon=app.consumer.beacon)
    assert plain._create_worker_consumer(app.transport)._fetch_max_wait_ms == 1500
    assert app.settings.fetch_max_wait == 0.05
