"""A dependency-free progress line on stderr for long-running commands."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Redraws one status line at most every ``interval`` seconds (a new line when not a tty)."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        interval: float = 0.5,
        unit: str = "events",
    ) -> None:
        self.label = label
        self.unit = unit
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval if self.tty else max(interval, 5.0)
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, done: int, events: int, extra: str = "", *, force: bool = False) -> None:
        """Show ``done`` of ``total`` (bytes, or events when total is None) and the event rate."""
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-9)
        rate = events / elapsed
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            head = f"{self.label} [{bar:<30}] {frac:6.1%}"
        else:
            head = f"{self.label} {elapsed:6.1f}s"
        line = f"{head} {events:,} {self.unit} {rate:,.0f}/s {extra}".rstrip()
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, done: int, events: int, extra: str = "") -> None:
        self.update(done, events, extra, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
