"""The worker's enrichment stage: texts scored in a helper process, beside the KPI work.

A batch's events with text that lack ``lang``, ``sentiment`` or ``hashtags`` are sent to
a helper process (``SOCIALPULSE_ENRICH_PROCESSES``, default 1; with more, the batch is cut
into one part per helper) while the worker counts the batch's other events, so
impressions, likes and clicks are not held up by scoring, and the machine's second core
does the text work. The batch's texts are counted once their results
are back: the helper holds at most one batch, so back-pressure is the batch itself and
nothing is queued or lost. Fewer than ``INLINE_BELOW`` texts are enriched in the worker
itself, where the round trip would cost more than the work (with
``SOCIALPULSE_SENTIMENT_MODEL=model`` a text costs about 26 ms, so every batch goes to the
helpers unless there are none). If a helper process dies, the stage logs it, enriches the
batch inline, and starts new helpers on the next batch.
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

from mode import Service

from socialpulse.agents.metrics import Metrics
from socialpulse.agents.processes import die_with_parent
from socialpulse.streams.enrich.enricher import (
    FIELDS,
    BatchReport,
    Enricher,
    enrich_copies,
    warm_helper,
)

log = logging.getLogger("socialpulse.enrichment")

INLINE_BELOW = 64

Event = dict[str, Any]


@dataclass
class Pending:
    """A batch's texts on their way through the helper (``future`` is None when done)."""

    events: list[Event]
    future: asyncio.Future[list[tuple[list[Event], BatchReport]]] | None = None


def _helper_init(parent: int) -> None:
    die_with_parent(parent=parent)  # spawned: the worker may have died while it started
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's to handle


class EnrichmentStage(Service):
    """Starts the enrichment of a batch's texts, then waits for it and records metrics.

    A service of the worker (``agents.app``): started before the events reader, stopped
    after it, when its helper processes are shut down."""

    def __init__(self, metrics: Metrics, *, processes: int = 1, mode: str | None = None) -> None:
        super().__init__()
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

    async def warm(self) -> None:
        """Load the models now, in the worker and in the helpers, not on the first batch.

        A helper is a spawned process that imports the package and loads the language
        model and the lexicons (seconds): left to the first batches, the worker waited for
        them, and a short run of single-event messages went at two thirds of its speed."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.enricher.warm)
        if not self.processes:
            return
        try:
            pool = self._executor()
            await asyncio.gather(
                *(loop.run_in_executor(pool, warm_helper, self.mode) for _ in range(self.processes))
            )
        except (BrokenProcessPool, RuntimeError, OSError) as exc:  # the first batch retries
            log.warning("the enrichment helpers did not start (%s); the first batch retries", exc)
            self._restart()

    def begin(self, events: list[Event]) -> Pending:
        """Begin enriching ``events`` (all wanting it); ``finish`` completes it.

        A batch is cut into up to ``processes`` consecutive parts of at least
        ``inline_below`` texts, one per helper, so more helpers score a batch sooner.
        """
        if not self.processes or len(events) < self.inline_below:
            self._record(self.enricher.enrich(events))
            return Pending(events)
        payload = [
            {"brand": ev["brand"], **{k: ev[k] for k in ("text", *FIELDS) if k in ev}}
            for ev in events
        ]
        parts = max(1, min(self.processes, len(payload) // max(1, self.inline_below)))
        size = -(-len(payload) // parts)
        loop = asyncio.get_running_loop()
        try:
            pool = self._executor()
            futures = [
                loop.run_in_executor(pool, enrich_copies, payload[i : i + size], self.mode)
                for i in range(0, len(payload), size)
            ]
        except (BrokenProcessPool, RuntimeError, OSError) as exc:  # found dead when submitting
            self._failed(exc)
            self._record(self.enricher.enrich(events))
            return Pending(events)
        return Pending(events, asyncio.gather(*futures))

    async def finish(self, pending: Pending) -> None:
        """Wait for the helpers' results and write them into the events."""
        events, future = pending.events, pending.future
        if future is None:
            return
        try:
            results = await future
        except (BrokenProcessPool, OSError, EOFError) as exc:
            self._failed(exc)
            self._record(self.enricher.enrich(events))
            return
        updates = [fields for part, _ in results for fields in part]
        for ev, fields in zip(events, updates, strict=True):
            ev.update(fields)
        for _, report in results:
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

    async def on_stop(self) -> None:
        """The worker stops: shut the helper processes down."""
        self.close()

    def close(self) -> None:
        self._restart()
