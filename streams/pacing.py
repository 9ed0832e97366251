"""The synthetic stream paced in time: ``socialpulse generate``'s driver.

``generator.SyntheticStream`` makes events for a moment; this module decides how many and
when. :func:`history` yields the events of each second of an event-time span at ``rate``
(shaped by the stream's daily rhythm and bursts); :func:`send_history` sends a recent past
as fast as the producer goes, :func:`run_live` sends in real time, and :func:`write_file`
writes a span as JSON lines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from socialpulse.streams import codec
from socialpulse.streams.generator import Event, SyntheticStream
from socialpulse.streams.producer import EventProducer
from socialpulse.streams.progress import Progress

TICK = 0.1


async def run_live(
    stream: SyntheticStream,
    producer: EventProducer,
    *,
    rate: float,
    duration: float | None,
    err: TextIO | None = None,
) -> int:
    """Send about ``rate`` events/s (shaped by the stream's daily rhythm and bursts)."""
    progress = Progress("generate", None, stream=err) if err is not None else None
    started = time.monotonic()
    sent = 0
    owed = 0.0
    next_tick = started
    while duration is None or time.monotonic() - started < duration:
        now = time.time()
        owed += rate * stream.rate_multiplier(now) * TICK
        n = int(owed)
        if n:
            owed -= n
            await producer.send_many(stream.events(now, n))
            sent += n
        if progress is not None:
            progress.update(sent, sent)
        next_tick += TICK
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
    await producer.flush()
    if progress is not None:
        progress.close(sent, sent)
    return sent


def history(
    stream: SyntheticStream, *, rate: float, start: float, end: float
) -> Iterator[tuple[float, list[Event]]]:
    """The stream's events of event time [start, end), second by second: (second, events)."""
    owed = 0.0
    t = start
    while t < end:
        t = min(t + 1.0, end)
        owed += rate * stream.rate_multiplier(t)
        n = int(owed)
        owed -= n
        yield t, stream.events(t, n)


async def send_history(
    stream: SyntheticStream,
    producer: EventProducer,
    *,
    rate: float,
    duration: float,
    end: float | None = None,
    err: TextIO | None = None,
) -> int:
    """Send the last ``duration`` seconds of event time before ``end`` (now), as fast as the
    producer goes, so the windows, the hourly profile and the alert baselines have a past."""
    end = time.time() if end is None else end
    start = end - duration
    progress = Progress("history", int(duration), stream=err) if err else None
    sent = 0
    for t, events in history(stream, rate=rate, start=start, end=end):
        await producer.send_many(events)
        sent += len(events)
        if progress is not None:
            progress.update(int(t - start), sent)
    await producer.flush()
    if progress is not None:
        progress.close(int(duration), sent)
    return sent


def write_file(
    stream: SyntheticStream,
    path: Path,
    *,
    rate: float,
    duration: float,
    end: float | None = None,
    envelope: int = 1,
    err: TextIO | None = None,
) -> int:
    """Write ``duration`` seconds of the stream, ending at ``end`` (now), as JSON lines."""
    end = time.time() if end is None else end
    start = end - duration
    progress = Progress(f"generate {path.name}", int(duration), stream=err) if err else None
    written = 0
    with path.open("wb") as fh:
        for t, events in history(stream, rate=rate, start=start, end=end):
            for i in range(0, len(events), envelope):
                chunk = events[i : i + envelope]
                fh.write(codec.dumps(chunk if envelope > 1 else chunk[0]) + b"\n")
            written += len(events)
            if progress is not None:
                progress.update(int(t - start), written)
    if progress is not None:
        progress.close(int(duration), written)
    return written
