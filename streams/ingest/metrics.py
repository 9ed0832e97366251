"""The ingest server's counts: its Prometheus metrics (``GET /metrics``) and the periodic
progress line it prints."""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from socialpulse.streams.contract import REASONS


class IngestMetrics:
    """The ingest server's own Prometheus metrics (no labels that could carry secrets)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "socialpulse_ingest_requests",
            "HTTP requests to the ingest server (not /metrics or /healthz), by status code.",
            ["status"],
            registry=self.registry,
        )
        self.accepted = Counter(
            "socialpulse_ingest_events_accepted",
            "Events accepted by POST /events (on the broker, unless started with --no-wait).",
            registry=self.registry,
        )
        self.rejected = Counter(
            "socialpulse_ingest_events_rejected",
            "Events (or whole bodies that hold none) POST /events refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        for reason in REASONS:
            self.rejected.labels(reason)
        self.latency = Histogram(
            "socialpulse_ingest_request_seconds",
            "Time to answer POST /events, the broker's acknowledgement included.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.overloaded = Counter(
            "socialpulse_ingest_overloaded",
            "POST /events refused with 503 because the server held its bound of requests "
            "in flight or of body bytes (limit: requests or bytes).",
            ["limit"],
            registry=self.registry,
        )
        for limit in ("requests", "bytes"):
            self.overloaded.labels(limit)
        self.in_flight = Gauge(
            "socialpulse_ingest_requests_in_flight",
            "POST /events requests admitted and not yet done (their events not yet on the broker).",
            registry=self.registry,
        )
        self.held = Gauge(
            "socialpulse_ingest_held_bytes",
            "Bytes of request bodies the ingest server holds (reserved by Content-Length).",
            registry=self.registry,
        )
        self.broker_up = Gauge(
            "socialpulse_ingest_broker_up",
            "1 when the ingest server's producer reaches the broker, else 0.",
            registry=self.registry,
        )


@dataclass
class IngestStats:
    """Counts since the last progress line, for the periodic summary."""

    statuses: Tally[int] = field(default_factory=Tally)
    accepted: int = 0
    rejected: int = 0
    latencies: list[float] = field(default_factory=list)
    total_requests: int = 0
    total_accepted: int = 0

    def take(self) -> IngestStats:
        """The counts so far, and start a new interval (totals carry on)."""
        taken = IngestStats(
            Tally(self.statuses),
            self.accepted,
            self.rejected,
            self.latencies,
            self.total_requests,
            self.total_accepted,
        )
        self.statuses.clear()
        self.accepted = self.rejected = 0
        self.latencies = []
        return taken

    def summary(self) -> str:
        """One progress line: requests by status, events, latency percentiles."""
        n = sum(self.statuses.values())
        codes = ", ".join(f"{code}: {c:,}" for code, c in sorted(self.statuses.items()))
        line = f"ingest: {n:,} requests ({codes}), {self.accepted:,} events accepted"
        line += f", {self.rejected:,} rejected"
        if self.latencies:
            lat = sorted(self.latencies)
            p50 = lat[len(lat) // 2]
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            line += f"; POST /events p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
        totals = f"{self.total_requests:,} requests, {self.total_accepted:,} events"
        return f"{line}; total {totals}"


async def report(stats: IngestStats, echo: Callable[[str], None], every: float) -> None:
    """Print the summary of the last ``every`` seconds, when requests came, until cancelled."""
    while True:
        await asyncio.sleep(every)
        if stats.statuses:
            echo(stats.take().summary())
