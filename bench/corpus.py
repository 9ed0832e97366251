"""The bench's events: generated once, then written to the topics every row reads."""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from socialpulse.streams.generator import SyntheticStream
from socialpulse.streams.partitioning import brand_partition
from socialpulse.streams.topics import ensure_topics

Event = dict[str, Any]
PARTITIONS = 4
ENVELOPE = 500
SPAN_SECONDS = 100


def make_events(
    count: int, brands: int = 8, seed: int = 7, end: float | None = None
) -> list[Event]:
    """``count`` generated events over the last ``SPAN_SECONDS`` of event time."""
    stream = SyntheticStream(seed=seed, brands=brands)
    end = time.time() if end is None else end
    events: list[Event] = []
    per_second = max(1, count // SPAN_SECONDS)
    t = end - SPAN_SECONDS
    while len(events) < count:
        t += 1.0
        events.extend(stream.events(min(t, end), min(per_second, count - len(events))))
    return events


def renamed(events: list[Event], copies: int) -> list[Event]:
    """The events spread over ``copies`` times as many brands (``acme`` -> ``acme-3``)."""
    out = []
    for i, ev in enumerate(events):
        ev = dict(ev)
        ev["brand"] = f"{ev['brand']}-{i % copies}"
        ev["id"] = f"{ev['id']}-{i % copies}"
        out.append(ev)
    return out


def messages(events: list[Event], envelope: int) -> list[tuple[str, bytes]]:
    """(brand, value) per message: envelopes of up to ``envelope`` events of one brand."""
    by_brand: dict[str, list[bytes]] = {}
    for ev in events:
        by_brand.setdefault(ev["brand"], []).append(orjson.dumps(ev))
    out = []
    for brand, items in by_brand.items():
        for i in range(0, len(items), envelope):
            chunk = items[i : i + envelope]
            out.append((brand, chunk[0] if envelope == 1 else b"[" + b",".join(chunk) + b"]"))
    return out


async def producer(bootstrap: str) -> AIOKafkaProducer:
    started = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        max_request_size=8_000_000,
        max_batch_size=1_000_000,
    )
    await started.start()
    return started


async def fill(bootstrap: str, topic: str, events: list[Event], envelope: int) -> int:
    """Write the events to ``topic`` (created with PARTITIONS), keyed and partitioned by
    brand; return the number of messages."""
    return await send_messages(bootstrap, topic, messages(events, envelope))


async def send_messages(bootstrap: str, topic: str, batch: list[tuple[str, bytes]]) -> int:
    """Write encoded (brand, value) messages to ``topic``, partitioned by brand."""
    await ensure_topics(bootstrap, {topic: PARTITIONS})
    out = await producer(bootstrap)
    try:
        for brand, value in batch:
            part = brand_partition(brand, PARTITIONS)
            await out.send(topic, value, key=brand.encode(), partition=part)
        await out.flush()
    finally:
        await out.stop()
    return len(batch)
