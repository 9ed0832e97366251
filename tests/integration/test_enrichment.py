"""Enrichment end to end: an outside producer's texts are scored, tagged and counted."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Samples, Stack, kpi, value
from tests.integration.test_pipeline import dumps, ev, librdkafka_send

pytestmark = pytest.mark.integration


def polarity(samples: Samples, name: str, brand: str = "acme") -> float | None:
    return value(
        samples,
        "socialpulse_sentiment_events",
        brand=brand,
        platform="all",
        campaign="all",
        window="1h",
        polarity=name,
    )


def text_events(now: float) -> list[dict]:
    return [
        # nothing but text: language, sentiment and hashtags are filled in
        ev("m1", "mention", now - 9, text="Nie polecam, masakra! #skandal"),
        # language given: kept, and used for scoring
        ev("m2", "mention", now - 8, text="Świetna obsługa, polecam! 😍", lang="pl"),
        # sentiment given: kept, although the text reads negative
        ev("m3", "comment", now - 7, text="terrible", sentiment=0.8),
        ev("m4", "comment", now - 6, text="خیلی عالی بود ممنون #خرید"),
        ev("m5", "mention", now - 5, text="C'est vraiment nul 👎", hashtags=[]),
    ]


def test_texts_are_enriched_and_counted(stack: Stack) -> None:
    stack.start_worker()
    now = time.time()
    values = [dumps(e) for e in text_events(now)]
    values.append(dumps([ev(f"i{n}", "impression", now - 4, count=5) for n in range(200)]))
    librdkafka_send(stack, values)

    def all_counted(s: Samples) -> bool:
        # the texts may be counted in a later batch than the impressions (a helper process
        # scores them): wait for all six messages, the five texts scored and counted
        polarities = sum(polarity(s, name) or 0 for name in ("positive", "negative", "neutral"))
        return (
            (kpi(s, "socialpulse_impressions", "acme") or 0) >= 1000
            and (value(s, "socialpulse_messages_total") or 0) >= len(values)
            and (value(s, "socialpulse_enrichment_seconds_count") or 0) >= 5
            and polarities >= 5
        )

    samples = stack.wait_for(all_counted)
    assert kpi(samples, "socialpulse_impressions", "acme") == 1000
    assert kpi(samples, "socialpulse_mentions", "acme") == 3
    # m2, m3 (given), m4 positive; m1 and m5 (emoji only: French has no lexicon) negative
    assert polarity(samples, "positive") == 3
    assert polarity(samples, "negative") == 2
    assert polarity(samples, "neutral") == 0
    scored = {
        (dict(labels)["lang"], dict(labels)["method"]): v
        for (name, labels), v in samples.items()
        if name == "socialpulse_texts_scored_total"
    }
    assert scored == {("pl", "lexicon"): 2, ("fa", "lexicon"): 1, ("fr", "emoji"): 1}
    filled = {
        dict(labels)["field"]: v
        for (name, labels), v in samples.items()
        if name == "socialpulse_enriched_fields_total"
    }
    # sentiment: m1 m2 m4 m5; lang: m1 m3 m4 m5; hashtags: m1 m4 (m5 said it has none)
    assert filled == {"sentiment": 4, "lang": 4, "hashtags": 2}
    assert value(samples, "socialpulse_enrichment_seconds_count") == 5
    for tag in ("skandal", "خرید"):
        assert any(
            name == "socialpulse_top_hashtag_mentions" and ("hashtag", tag) in labels
            for (name, labels) in samples
        ), tag


def test_enrichment_can_be_switched_off(stack: Stack) -> None:
    stack.start_worker(SOCIALPULSE_ENRICH="false")
    now = time.time()
    librdkafka_send(stack, [dumps(e) for e in text_events(now)])
    samples = stack.wait_for(  # all five messages, m3's own sentiment among them
        lambda s: (
            (value(s, "socialpulse_messages_total") or 0) >= 5
            and (kpi(s, "socialpulse_mentions", "acme") or 0) >= 3
        )
    )
    assert kpi(samples, "socialpulse_mentions", "acme") == 3
    assert polarity(samples, "positive") == 1  # only m3's own sentiment
    assert value(samples, "socialpulse_enrichment_seconds_count") == 0


def helpers(pid: int) -> list[int]:
    """The worker's enrichment processes (multiprocessing's resource tracker aside)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                found.append(int(child))
    return found


POSITIVE = ["Świetna obsługa, polecam!", "Me encanta esta app", "خیلی عالی بود ممنون"]
NEGATIVE = ["Nie polecam, masakra!", "Der Service ist eine Katastrophe", "الخدمة سيئة جدا"]


def many_texts(prefix: str, now: float, n: int) -> list[bytes]:
    batch = []
    for i in range(n):
        text = (POSITIVE if i % 2 else NEGATIVE)[i % 3]
        batch.append(ev(f"{prefix}{i}", "mention", now - 5, text=text))
    return [dumps(batch)]


def test_big_batches_go_to_the_helper_process_which_may_die(stack: Stack) -> None:
    worker = stack.start_worker()
    now = time.time()
    librdkafka_send(stack, many_texts("a", now, 400))
    samples = stack.wait_for(lambda s: (kpi(s, "socialpulse_mentions", "acme") or 0) >= 400)
    assert polarity(samples, "positive") == 200 and polarity(samples, "negative") == 200
    first = helpers(worker.pid)
    assert len(first) == 1, first  # the enrichment process
    os.kill(first[0], signal.SIGKILL)
    librdkafka_send(stack, many_texts("b", now, 400))
    samples = stack.wait_for(lambda s: (kpi(s, "socialpulse_mentions", "acme") or 0) >= 800)
    assert polarity(samples, "positive") == 400 and polarity(samples, "negative") == 400
    assert value(samples, "socialpulse_enrichment_failures_total") == 1
    assert value(samples, "socialpulse_enrichment_seconds_count") == 800
    librdkafka_send(stack, many_texts("c", now, 400))
    samples = stack.wait_for(lambda s: (kpi(s, "socialpulse_mentions", "acme") or 0) >= 1200)
    assert polarity(samples, "negative") == 600
    second = helpers(worker.pid)
    assert len(second) == 1 and second != first  # a new helper
    assert worker.poll() is None


def test_a_backfill_batch_keeps_every_text_in_event_time_order(stack: Stack) -> None:
    """A batch spanning more than the allowed lateness is counted in order: its texts are
    not counted after its other events, which would have made them late."""
    stack.start_worker()
    now = time.time()
    events = []
    for i in range(600):  # an hour of event time: a text and an impression every 6 s
        ts = now - 3600 + 6 * i
        events.append(ev(f"t{i}", "mention", ts, text=NEGATIVE[i % 3]))
        events.append(ev(f"i{i}", "impression", ts))
    librdkafka_send(stack, [dumps(events)])
    samples = stack.wait_for(lambda s: (kpi(s, "socialpulse_mentions", "acme", "24h") or 0) >= 600)
    assert kpi(samples, "socialpulse_mentions", "acme", "24h") == 600
    assert kpi(samples, "socialpulse_impressions", "acme", "24h") == 600
    assert value(samples, "socialpulse_events_rejected_total", reason="late") == 0
