"""End-to-end latency (event produced -> counted, visible on ``/metrics``) at a steady rate,
and the time to scrape a worker's whole ``/metrics`` while it works."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from dataclasses import dataclass, field

from bench.corpus import ENVELOPE, Event, messages, producer
from bench.probes import Worker
from socialpulse.streams.partitioning import brand_partition

TICK = 0.02  # seconds between sends
WARMUP = 2.0  # seconds of load before latencies count (connections, first fetches)


@dataclass
class Timeline:
    sent: list[tuple[float, int]] = field(default_factory=list)  # (time, events sent so far)
    seen: list[tuple[float, float]] = field(default_factory=list)  # (time, counted so far)
    scrapes: list[float] = field(default_factory=list)  # seconds per full /metrics scrape

    def latencies(self, warmup: float = WARMUP) -> list[float]:
        """For each send after the first ``warmup`` seconds, the time until the worker had
        counted everything sent by then."""
        out: list[float] = []
        if not self.sent:
            return out
        begin = self.sent[0][0] + warmup
        j = 0
        for at, total in self.sent:
            if at < begin:
                continue
            while j < len(self.seen) and (self.seen[j][1] < total or self.seen[j][0] < at):
                j += 1
            if j == len(self.seen):
                break
            out.append(self.seen[j][0] - at)
        return out


def scrape_seconds(worker: Worker) -> float:
    started = time.perf_counter()
    urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=30).read()
    return time.perf_counter() - started


async def _send(
    bootstrap: str, topic: str, events: list[Event], rate: float, partitions: int, tl: Timeline
) -> None:
    out = await producer(bootstrap)
    try:
        start = time.perf_counter()
        done = 0
        while done < len(events):
            due = min(len(events), int((time.perf_counter() - start) * rate))
            if due > done:
                at = time.perf_counter()  # produced: handed to the producer
                for brand, value in messages(events[done:due], ENVELOPE):
                    part = brand_partition(brand, partitions)
                    await out.send(topic, value, key=brand.encode(), partition=part)
                await out.flush()
                done = due
                tl.sent.append((at, done))
            await asyncio.sleep(TICK)
    finally:
        await out.stop()


def measure(
    worker: Worker,
    bootstrap: str,
    topic: str,
    events: list[Event],
    rate: float,
    partitions: int,
    scrape_every: float | None = None,
) -> Timeline:
    """Send ``events`` at ``rate`` events/s while polling the worker's counter; with
    ``scrape_every``, also scrape its whole ``/metrics`` that often."""
    tl = Timeline()
    base = worker.accepted()
    sender = threading.Thread(
        target=lambda: asyncio.run(_send(bootstrap, topic, events, rate, partitions, tl))
    )
    sender.start()
    next_scrape = time.perf_counter()
    deadline = time.perf_counter() + len(events) / rate + 60
    while time.perf_counter() < deadline:
        now = time.perf_counter()
        total = worker.accepted() - base
        tl.seen.append((time.perf_counter(), total))
        if scrape_every is not None and now >= next_scrape:
            tl.scrapes.append(scrape_seconds(worker))
            next_scrape = now + scrape_every
        if total >= len(events):
            break
        time.sleep(0.005)
    sender.join()
    return tl


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
