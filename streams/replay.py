"""``socialpulse replay FILE``: send a JSON-lines file, each line one event or an envelope."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from socialpulse.streams import codec
from socialpulse.streams.producer import EventProducer
from socialpulse.streams.progress import Progress
from socialpulse.streams.validation import Invalid

MAX_REPORTED = 20


@dataclass
class ReplayReport:
    """What a replay sent and what it refused, with line numbers."""

    lines: int = 0
    events: int = 0
    invalid: int = 0
    errors: list[str] = field(default_factory=list)

    def refuse(self, lineno: int, reason: str, detail: str) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(f"line {lineno}: {reason}: {detail}")


async def replay_file(
    path: Path,
    producer: EventProducer,
    *,
    raw: bool = False,
    err: TextIO | None = None,
) -> ReplayReport:
    """Send every line of ``path``; invalid events are reported, not sent (unless ``raw``).

    With ``raw`` every line goes out unchanged as one message, so the worker's
    dead-letter path sees exactly what the file holds.
    """
    err = err or sys.stderr
    report = ReplayReport()
    size = os.path.getsize(path)
    progress = Progress(f"replay {path.name}", size, stream=err)
    done = 0
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            done += len(line)
            stripped = line.strip()
            if not stripped:
                continue
            report.lines += 1
            if raw:
                await producer.send_raw(stripped)
                report.events += 1
            else:
                await _send_line(producer, stripped, lineno, report)
            progress.update(done, report.events)
    await producer.flush()
    progress.close(done, report.events, f"{report.invalid} refused" if report.invalid else "")
    return report


async def _send_line(
    producer: EventProducer, line: bytes, lineno: int, report: ReplayReport
) -> None:
    try:
        doc = codec.loads(line)
    except codec.DecodeError as exc:
        report.refuse(lineno, "invalid_json", str(exc))
        return
    elements = doc if isinstance(doc, list) else [doc]
    for element in elements:
        try:
            await producer.send(element)
            report.events += 1
        except Invalid as exc:
            report.refuse(lineno, exc.reason, exc.detail)
