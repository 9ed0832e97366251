"""``socialpulse backtest FILE``: the alerts a file of past events would have raised.

No broker, no worker: the file is read as ``socialpulse replay`` reads it (JSON lines or
CSV, the same options, the same refusals), its events go in brand envelopes straight into
the worker's own ``BatchCore`` (decode, admit, enrich, count) and the detectors
(``AlertEngine.detect``), batch after batch. So a backtest and a live worker raise the
same alerts at the same event times, by construction: the detectors step through event
time, and batch sizes do not change their verdicts (``tests/alerts/test_alert_batching.py``).
"""

from __future__ import annotations

import asyncio
import math
from array import array
from collections import Counter
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from socialpulse.agents.batch_core import BatchCore, SourceMessage
from socialpulse.agents.settings import FileConfig, WorkerSettings
from socialpulse.agents.state import KpiState
from socialpulse.alerts.detector import AlertEngine
from socialpulse.alerts.lifecycle import Check
from socialpulse.alerts.model import Alert
from socialpulse.alerts.rules import Tuning
from socialpulse.streams.producer import EventProducer
from socialpulse.streams.validation import Event

TOPIC = "backtest"
BATCH_MESSAGES = 20  # envelopes per batch through the core (any size gives the same)


def _floats() -> array[float]:
    return array("d")


@dataclass
class Trace:
    """A rule's signal at every step of a brand's event time: for the plots (8 bytes a
    figure: a week of 10-second steps is about 2 MB per brand and rule)."""

    times: array[float] = field(default_factory=_floats)
    values: array[float] = field(default_factory=_floats)
    baselines: array[float] = field(default_factory=_floats)  # NaN: none learned yet
    thresholds: array[float] = field(default_factory=_floats)


@dataclass
class Incident:
    """One alert from its firing to its resolution (None: still firing at the file's end)."""

    fired: Alert
    resolved: Alert | None = None


@dataclass
class BacktestResult:
    alerts: list[Alert] = field(default_factory=list)  # every alert event, in order raised
    counted: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)  # by reason
    first_ts: float | None = None
    last_ts: float | None = None
    traces: dict[tuple[str, str], Trace] = field(default_factory=dict)

    def incidents(self) -> list[Incident]:
        by_id: dict[str, Incident] = {}
        for alert in self.alerts:
            if alert.state == "firing":
                by_id[alert.id] = Incident(alert)
            elif alert.id in by_id:
                by_id[alert.id].resolved = alert
        return sorted(
            by_id.values(), key=lambda i: (i.fired.event_time, i.fired.brand, i.fired.rule)
        )


class Backtest:
    """The worker's core and detectors over a stream of messages, in the order given."""

    def __init__(
        self,
        settings: WorkerSettings,
        config: FileConfig,
        *,
        enrich: bool = True,
        trace: bool = False,
    ) -> None:
        self.state = KpiState(
            allowed_lateness=settings.allowed_lateness,
            platform_cap=settings.platform_cap,
            campaign_cap=settings.campaign_cap,
        )
        enricher = None
        if enrich:
            from socialpulse.streams.enrich.enricher import Enricher

            enricher = Enricher(mode=settings.sentiment_model)
        self._enricher = enricher
        tuning = Tuning(**config.alerts.tuning)  # type: ignore[arg-type]
        limits = {brand: bc.alerts for brand, bc in config.brands.items() if bc.alerts}
        self.engine = AlertEngine(tuning, limits)
        # one partition: every brand is owned here, nothing is forwarded
        self.core = BatchCore(
            self.state,
            partitions=1,
            max_message_bytes=settings.max_message_bytes,
            max_envelope_events=settings.max_envelope_events,
            max_future=settings.max_future,
            enricher=self._enrich if enricher is not None else None,
            alerts=self.engine,
        )
        self.core.restore(0, {}, None)
        self.result = BacktestResult()
        if trace:
            self.engine.trace = self._trace
        self._offset = 0
        self._pending: list[SourceMessage] = []

    def _enrich(self, events: list[Event]) -> Awaitable[None]:
        assert self._enricher is not None
        enricher = self._enricher

        async def run() -> None:
            enricher.enrich(events)

        return run()

    def _trace(self, brand: str, rule: str, at: float, check: Check) -> None:
        trace = self.result.traces.get((brand, rule))
        if trace is None:
            trace = self.result.traces[(brand, rule)] = Trace()
        trace.times.append(at)
        trace.values.append(check.value)
        trace.baselines.append(math.nan if check.baseline is None else check.baseline)
        trace.thresholds.append(check.threshold)

    async def message(self, value: bytes) -> None:
        """One message of the events topic (an event or an envelope)."""
        self._pending.append(SourceMessage(TOPIC, 0, self._offset, value))
        self._offset += 1
        if len(self._pending) >= BATCH_MESSAGES:
            await self.flush()

    async def flush(self) -> None:
        """Run the messages held so far through the core and the detectors."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        out = await self.core.process(batch)
        result = self.result
        for letter in out.dead_letters:
            result.dead_letters[letter.rejection.reason] += 1
        result.duplicates += sum(out.duplicates.values())
        result.counted += len(out.accepted)
        if out.accepted:
            stamps = [ev["ts"] for ev in out.accepted]
            low, high = min(stamps), max(stamps)
            result.first_ts = low if result.first_ts is None else min(result.first_ts, low)
            result.last_ts = high if result.last_ts is None else max(result.last_ts, high)
        result.alerts += out.alerts


class CoreProducer(EventProducer):
    """An ``EventProducer`` whose envelopes go into a ``Backtest`` instead of a broker:
    the same validation and the same per-brand envelopes as ``socialpulse replay``."""

    lingers = False  # the file is read without a pause: envelopes go when full, or at flush

    def __init__(self, backtest: Backtest, max_events: int = 500) -> None:
        super().__init__("backtest://", max_events=max_events)
        self.backtest = backtest

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        await self.backtest.message(value)
        self.messages_sent += 1

    async def deliver(self, brand: str, envelope: bytes) -> asyncio.Future[Any]:
        await self.backtest.message(envelope)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def flush(self) -> None:
        await super().flush()
        await self.backtest.flush()


# -- the report ---------------------------------------------------------------------------


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _figure(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def table(incidents: Iterable[Incident]) -> list[str]:
    """The incidents as an aligned text table (event times in UTC)."""
    rows = [("brand", "rule", "severity", "fired (UTC)", "resolved (UTC)", "value", "baseline",
             "threshold")]  # fmt: skip
    for incident in incidents:
        a = incident.fired
        resolved = when(incident.resolved.event_time) if incident.resolved else "still firing"
        rows.append(
            (
                a.brand,
                a.rule,
                a.severity + (" crisis" if a.crisis else ""),
                when(a.event_time),
                resolved,
                _figure(a.value),
                _figure(a.baseline),
                _figure(a.threshold),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]  # fmt: skip


def summary(result: BacktestResult) -> str:
    span = ""
    if result.first_ts is not None and result.last_ts is not None:
        hours = (result.last_ts - result.first_ts) / 3600
        span = f" from {when(result.first_ts)} to {when(result.last_ts)} UTC ({hours:,.1f} h)"
    letters = sum(result.dead_letters.values())
    reasons = ", ".join(f"{r} {n:,}" for r, n in result.dead_letters.most_common())
    rejected = f"; rejected {letters:,} ({reasons})" if letters else ""
    dups = f"; {result.duplicates:,} duplicates ignored" if result.duplicates else ""
    firing = sum(1 for i in result.incidents() if i.resolved is None)
    return (
        f"backtest: counted {result.counted:,} events{span}{dups}{rejected}; "
        f"{len(result.incidents())} alerts ({firing} still firing at the end)"
    )
