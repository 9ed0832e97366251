"""``socialpulse replay FILE``: send a JSON-lines file, each line one event or an envelope."""

from __future__ import annotations

import os
from pathlib import Path

from socialpulse.streams import codec
from socialpulse.streams.plugins import Sink


async def replay_file(path: Path, sink: Sink, *, raw: bool = False) -> None:
    """Send every line of ``path``; invalid events are refused with their line numbers.

    With ``raw`` every line goes out unchanged as one message, so the worker's
    dead-letter path sees exactly what the file holds.
    """
    sink.track_file(f"replay {path.name}", os.path.getsize(path))
    done = 0
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            done += len(line)
            stripped = line.strip()
            if stripped:
                if raw:
                    await sink.send_raw(stripped)
                else:
                    await _send_line(sink, stripped, f"line {lineno}")
            sink.read(done)
    await sink.flush()


async def _send_line(sink: Sink, line: bytes, where: str) -> None:
    try:
        doc = codec.loads(line)
    except codec.DecodeError as exc:
        sink.refuse("invalid_json", str(exc), where)
        return
    for element in doc if isinstance(doc, list) else [doc]:
        await sink.send(element, where)
