"""Broker reachability: a health metric, one clear log line per outage, quiet client logs.

While the broker is away, aiokafka logs every failed connection and fetch, thousands of
ERROR lines a minute. ``RepeatFilter`` lets each such message through once, then once a
minute with the number held back. ``BrokerHealth`` probes the bootstrap servers every few
seconds (a TCP connect) and logs the outage's start and end, with its length, and keeps
``socialpulse_broker_up`` and ``socialpulse_broker_unreachable_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from socialpulse.agents.metrics import Metrics
from socialpulse.agents.processes import split_host_port

log = logging.getLogger("socialpulse.broker")

#: loggers whose repeated messages are held back: the Kafka client and Faust's transport
NOISY: Final = ("aiokafka", "faust.transport", "faust.tables")


class RepeatFilter(logging.Filter):
    """Pass a noisy logger's message once, then once every ``every`` seconds."""

    def __init__(self, every: float = 60.0, prefixes: tuple[str, ...] = NOISY) -> None:
        super().__init__()
        self.every = every
        self.prefixes = prefixes
        self._last: dict[tuple[str, object], float] = {}
        self._held: dict[tuple[str, object], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self.prefixes):
            return True
        key = (record.name, record.msg)
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like this in the last {self.every:.0f} s)"
        return True


def quiet_client_logs(every: float = 60.0) -> RepeatFilter:
    """Install one ``RepeatFilter`` on the root logger's handlers (Faust's console)."""
    repeat = RepeatFilter(every)
    for handler in logging.getLogger().handlers:
        handler.addFilter(repeat)
    return repeat


class BrokerHealth:
    """Probes the bootstrap servers; reports outages in the log and in metrics."""

    def __init__(self, bootstrap: str, metrics: Metrics, timeout: float = 2.0) -> None:
        self.servers = [split_host_port(s) for s in bootstrap.split(",")]
        self.metrics = metrics
        self.timeout = timeout
        self.down_since: float | None = None
        metrics.broker_up.set(1)

    async def reachable(self) -> bool:
        for host, port in self.servers:
            try:
                _reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), self.timeout
                )
            except (OSError, TimeoutError):
                continue
            writer.close()
            return True
        return False

    async def check(self) -> bool:
        """Probe once; log a change of state; update the metrics."""
        up = await self.reachable()
        now = time.monotonic()
        where = ",".join(f"{h}:{p}" for h, p in self.servers)
        if up and self.down_since is not None:
            log.warning(
                "broker %s reachable again after %.0f s; the Kafka client reconnects and the "
                "worker rejoins its group",
                where,
                now - self.down_since,
            )
            self.down_since = None
        elif not up and self.down_since is None:
            self.down_since = now
            log.error(
                "broker %s unreachable; the worker keeps its state and retries (client errors "
                "are logged once a minute while this lasts)",
                where,
            )
        self.metrics.broker_up.set(1 if up else 0)
        self.metrics.broker_unreachable_seconds.set(
            0 if self.down_since is None else now - self.down_since
        )
        return up
