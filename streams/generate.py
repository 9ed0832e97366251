"""``socialpulse generate``: drive a ``SyntheticStream`` in real time, or write it to a file."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TextIO

from socialpulse.streams import codec
from socialpulse.streams.generator import SyntheticStream
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
    owed = 0.0
    with path.open("wb") as fh:
        t = start
        while t < end:
            t = min(t + 1.0, end)
            owed += rate * stream.rate_multiplier(t)
            n = int(owed)
            owed -= n
            events = stream.events(t, n)
            for i in range(0, len(events), envelope):
                chunk = events[i : i + envelope]
                fh.write(codec.dumps(chunk if envelope > 1 else chunk[0]) + b"\n")
            written += n
            if progress is not None:
                progress.update(int(t - start), written)
    if progress is not None:
        progress.close(int(duration), written)
    return written
