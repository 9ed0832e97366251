"""The worker's enrichment stage: the helper process gives what inline enrichment gives."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from socialpulse.agents.enrichment_stage import INLINE_BELOW, EnrichmentStage
from socialpulse.agents.metrics import Metrics
from socialpulse.streams.enrich.enricher import Enricher, helper_ready, wants_enrichment
from socialpulse.streams.enrich.sentiment import SentimentScorer

TEXTS = [
    "Świetna obsługa, polecam! #super",
    "خیلی بد بود #افتضاح",
    "الخدمة سيئة جدا ولن أعود",
    "Dịch vụ quá tệ, tôi rất thất vọng",
    "Me encanta esta app 😍",
    "Der Kundenservice ist eine Katastrophe",
    "love it, best purchase ever",
]


def events(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        ev: dict[str, Any] = {"id": str(i), "brand": "acme", "text": TEXTS[i % len(TEXTS)]}
        if i % 5 == 0:
            ev["sentiment"] = 0.5  # the producer's own: kept
        if i % 7 == 0:
            ev["hashtags"] = []
        out.append(ev)
    return out


def counter(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    return float(value or 0.0)


def test_wants_enrichment() -> None:
    assert wants_enrichment({"text": "x"})
    assert not wants_enrichment({"kind": "like"})
    assert not wants_enrichment({"text": ""})
    assert not wants_enrichment({"text": "x", "sentiment": 0.1, "lang": "en", "hashtags": []})


async def test_warm_loads_the_models_in_the_worker_and_in_the_helper() -> None:
    stage = EnrichmentStage(Metrics(CollectorRegistry()), processes=1)
    try:
        assert not stage.enricher.detector.loaded
        await stage.warm()
        assert stage.enricher.detector.loaded
        scorer = stage.enricher.scorer
        assert isinstance(scorer, SentimentScorer) and len(scorer.languages) > 3
        assert set(scorer._lexicons) == scorer.languages  # every lexicon, not only English
        assert stage._pool is not None
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(stage._pool, helper_ready)  # the one helper
        assert not helper_ready()  # this process has no helper enricher
        # nothing was recorded: the warm-up is not a batch
        assert counter(stage.metrics, "socialpulse_enrichment_seconds_count") == 0
    finally:
        stage.close()


async def test_helper_process_matches_inline_enrichment() -> None:
    metrics = Metrics(CollectorRegistry())
    stage = EnrichmentStage(metrics, processes=1)
    try:
        batch = events(INLINE_BELOW * 3)
        expected = events(INLINE_BELOW * 3)
        Enricher().enrich(expected)
        pending = stage.begin(batch)
        assert pending.future is not None  # a big batch goes to the helper
        await stage.finish(pending)
        assert batch == expected
        assert counter(metrics, "socialpulse_enrichment_seconds_count") == len(batch)
        assert counter(metrics, "socialpulse_enrichment_failures_total") == 0
    finally:
        stage.close()


async def test_two_helpers_share_a_batch_and_give_what_inline_enrichment_gives() -> None:
    metrics = Metrics(CollectorRegistry())
    stage = EnrichmentStage(metrics, processes=2)
    try:
        batch = events(INLINE_BELOW * 3 + 5)
        expected = events(INLINE_BELOW * 3 + 5)
        Enricher().enrich(expected)
        pending = stage.begin(batch)
        assert pending.future is not None
        await stage.finish(pending)
        assert batch == expected
        pool: Any = stage._pool
        assert len(pool._processes) == 2
        assert counter(metrics, "socialpulse_enrichment_seconds_count") == len(batch)
        small = events(INLINE_BELOW + 1)  # too few texts for two parts: one helper
        await stage.finish(stage.begin(small))
        assert all(ev.get("lang") for ev in small)
    finally:
        stage.close()


async def test_small_batches_and_processes_0_stay_inline() -> None:
    metrics = Metrics(CollectorRegistry())
    for stage, n in (
        (EnrichmentStage(metrics, processes=1), 3),
        (EnrichmentStage(metrics, processes=0), 500),
    ):
        batch = events(n)
        pending = stage.begin(batch)
        assert pending.future is None and all(ev.get("lang") for ev in batch)
        await stage.finish(pending)
        assert stage._pool is None


@pytest.mark.parametrize("with_pause", [False, True])
async def test_a_dead_helper_means_inline_enrichment_and_a_new_helper(with_pause: bool) -> None:
    metrics = Metrics(CollectorRegistry())
    stage = EnrichmentStage(metrics, processes=1)
    try:
        first = stage.begin(events(INLINE_BELOW))
        await stage.finish(first)
        pool: Any = stage._pool
        for pid in list(pool._processes):
            os.kill(pid, signal.SIGKILL)
        if with_pause:
            await asyncio.sleep(1)  # the pool notices and is broken before the next submit
        batch = events(INLINE_BELOW)
        await stage.finish(stage.begin(batch))
        assert all(isinstance(ev.get("sentiment"), float) for ev in batch)
        assert counter(metrics, "socialpulse_enrichment_failures_total") == 1
        batch = events(INLINE_BELOW)
        pending = stage.begin(batch)
        assert pending.future is not None and stage._pool is not pool
        await stage.finish(pending)
        assert all(ev.get("lang") for ev in batch)
    finally:
        stage.close()
