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


def balanced(events: list[Event], partitions: int = PARTITIONS) -> list[Event]:
    """The events under brand names that carry each brand evenly over the partitions
    (``acme`` -> ``acme-0``, ``acme-2``, ... one name per partition, its events dealt to
    them in turn). The generator's brands differ in size and hash to partitions unevenly:
    8 brands put 33, 17, 32 and 17 % of the events on 4 partitions, so a worker of two
    given partitions 0 and 2 carried 65 % and the pair could not be 1.6 times one worker.
    Balanced, every partition carries a quarter, whatever the assignment."""
    names: dict[str, list[str]] = {}
    dealt: dict[str, int] = {}
    out: list[Event] = []
    for ev in events:
        brand = ev["brand"]
        spread = names.get(brand)
        if spread is None:
            found: dict[int, str] = {}
            k = 0
            while len(found) < partitions:
                found.setdefault(brand_partition(f"{brand}-{k}", partitions), f"{brand}-{k}")
                k += 1
            spread = names[brand] = [found[p] for p in range(partitions)]
        turn = dealt.get(brand, 0)
        dealt[brand] = turn + 1
        out.append(dict(ev, brand=spread[turn % partitions]))
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
