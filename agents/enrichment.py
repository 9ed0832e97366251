"""The worker's enrichment stage: texts scored in a helper process, beside the KPI work.

A batch's events with text that lack ``lang``, ``sentiment`` or ``hashtags`` are sent to
a helper process (``SOCIALPULSE_ENRICH_PROCESSES``, default 1) while the worker counts the
batch's other events, so impressions, likes and clicks are not held up by scoring, and the
machine's second core does the text work. The batch's texts are counted once their results
are back: the helper holds at most one batch, so back-pressure is the batch itself and
nothing is queued or lost. Fewer than ``INLINE_BELOW`` texts are enriched in the worker
itself, where the round trip would cost more than the work (with
``SOCIALPULSE_SENTIMENT_MODEL=model`` a text costs 20–30 ms, so every batch goes to the
helper unless there is none). If the helper process dies,
the stage logs it, enriches inline, and starts a new helper on the next batch.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from socialpulse.agents.metrics import Metrics
from socialpulse.agents.processes import die_with_parent
from socialpulse.streams.enrich.enricher import FIELDS, BatchReport, Enricher, enrich_copies

log = logging.getLogger("socialpulse.enrichment")

INLINE_BELOW = 64

Event = dict[str, Any]


@dataclass
class Pending:
    """A batch's texts on their way through the helper (``future`` is None when done)."""

    events: list[Event]
    future: asyncio.Future[tuple[list[Event], BatchReport]] | None = None


def _helper_init(parent: int) -> None:
    die_with_parent(parent=parent)  # spawned: the worker may have died while it started
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's to handle


class EnrichmentStage:
    """Starts the enrichment of a batch's texts, then waits for it and records metrics."""

    def __init__(self, metrics: Metrics, *, processes: int = 1, mode: str | None = None) -> None:
        self.metrics = metrics
        self.processes = processes
        self.enricher = Enricher(mode=mode)
        self.mode = self.enricher.mode
        #: fewer texts than this are enriched in the worker (never, for the slow model)
        self.inline_below = INLINE_BELOW if self.enricher.method == "lexicon" else 1
        self._pool: Executor | None = None

    def _executor(self) -> Executor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_helper_init,
                initargs=(os.getpid(),),
            )
        return self._pool

    def start(self, events: list[Event]) -> Pending:
        """Begin enriching ``events`` (all wanting it); ``finish`` completes it."""
        if not self.processes or len(events) < self.inline_below:
            self._record(self.enricher.enrich(events))
            return Pending(events)
        payload = [
            {"brand": ev["brand"], **{k: ev[k] for k in ("text", *FIELDS) if k in ev}}
            for ev in events
        ]
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._executor(), enrich_copies, payload, self.mode)
        except (BrokenProcessPool, RuntimeError, OSError) as exc:  # found dead when submitting
            self._failed(exc)
            self._record(self.enricher.enrich(events))
            return Pending(events)
        return Pending(events, future)

    async def finish(self, pending: Pending) -> None:
        """Wait for the helper's results and write them into the events."""
        events, future = pending.events, pending.future
        if future is None:
            return
        try:
            updates, report = await future
        except (BrokenProcessPool, OSError, EOFError) as exc:
            self._failed(exc)
            self._record(self.enricher.enrich(events))
            return
        for ev, fields in zip(events, updates, strict=True):
            ev.update(fields)
        self._record(report)

    def _failed(self, exc: BaseException) -> None:
        log.error("the enrichment process failed (%s); enriching this batch inline", exc)
        self.metrics.enrichment_failures.inc()
        self._restart()

    def _restart(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _record(self, report: BatchReport) -> None:
        observe = self.metrics.enrichment_seconds.observe
        for seconds in report.seconds:
            observe(seconds)
        for (lang, method), n in report.scored.items():
            self.metrics.texts_scored.labels(lang, method).inc(n)
        for name, n in report.filled.items():
            self.metrics.enriched.labels(name).inc(n)

    def close(self) -> None:
        self._restart()
