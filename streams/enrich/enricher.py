"""The enrichment stage: fill in ``lang``, ``sentiment`` and ``hashtags`` from ``text``.

Runs between validation and the KPIs. Only events that carry ``text`` are touched, and only
for the fields the producer left out: a producer's own ``sentiment``, ``lang`` or
``hashtags`` is kept as it is. Events without text cost one dict lookup.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from socialpulse.streams.contract import MAX_TEXT
from socialpulse.streams.enrich.hashtags import extract_hashtags
from socialpulse.streams.enrich.language import UNDETERMINED, LanguageDetector
from socialpulse.streams.enrich.sentiment import SentimentScorer
from socialpulse.streams.enrich.text import clean_text


def primary_tag(lang: str) -> str:
    """The primary language subtag of a BCP 47 tag: ``fa-IR`` → ``fa``, ``pt_BR`` → ``pt``."""
    return lang.replace("_", "-").partition("-")[0].strip().lower() or UNDETERMINED


@dataclass(frozen=True, slots=True)
class Analysis:
    """What enrichment reads in one text."""

    sentiment: float
    lang: str
    confidence: float  # of the language: 1.0 when given, the model's probability otherwise
    supported: bool  # the language has a sentiment lexicon
    hashtags: list[str]


@dataclass
class BatchReport:
    """What one call to ``Enricher.enrich`` did, for the metrics."""

    texts: int = 0
    seconds: list[float] = field(default_factory=list)  # per enriched event
    scored: Counter[tuple[str, str]] = field(default_factory=Counter)  # (lang, method)
    filled: Counter[str] = field(default_factory=Counter)  # field name


FIELDS = ("lang", "sentiment", "hashtags")


def wants_enrichment(ev: dict[str, Any]) -> bool:
    """True when the event has text and lacks one of the fields enrichment fills."""
    return bool(ev.get("text")) and (
        ev.get("sentiment") is None or not ev.get("lang") or ev.get("hashtags") is None
    )


class Enricher:
    """Language detection, sentiment scoring and hashtag extraction for events and texts."""

    def __init__(
        self,
        detector: LanguageDetector | None = None,
        scorer: SentimentScorer | None = None,
    ) -> None:
        self.detector = detector or LanguageDetector()
        self.scorer = scorer or SentimentScorer()

    def analyse(self, text: str, lang: str | None = None) -> Analysis:
        """Everything enrichment would read in ``text`` (any string: it is cleaned first)."""
        clean = clean_text(text, MAX_TEXT)
        if lang:
            tag, confidence = primary_tag(lang), 1.0
        else:
            tag, confidence = self.detector.detect(clean)
        score = self.scorer.score(clean, tag)
        return Analysis(
            score.sentiment, tag, round(confidence, 4), score.supported, extract_hashtags(clean)
        )

    def enrich(self, events: list[dict[str, Any]]) -> BatchReport:
        """Fill the missing fields of the events that carry text, in place."""
        report = BatchReport()
        clock = time.perf_counter
        for ev in events:
            text = ev.get("text")
            if not text:
                continue
            want_sentiment = ev.get("sentiment") is None
            want_lang = not ev.get("lang")
            want_tags = ev.get("hashtags") is None
            if not (want_sentiment or want_lang or want_tags):
                continue
            started = clock()
            clean = clean_text(text, MAX_TEXT)
            if want_tags:
                tags = extract_hashtags(clean)
                if tags:
                    ev["hashtags"] = tags
                    report.filled["hashtags"] += 1
            if want_lang:
                lang, _ = self.detector.detect(clean)
                if lang != UNDETERMINED:
                    ev["lang"] = lang
                    report.filled["lang"] += 1
            else:
                lang = primary_tag(ev["lang"])
            if want_sentiment:
                score = self.scorer.score(clean, lang, ev.get("brand"))
                ev["sentiment"] = score.sentiment
                report.filled["sentiment"] += 1
                report.scored[(lang, "lexicon" if score.supported else "emoji")] += 1
            report.texts += 1
            report.seconds.append(clock() - started)
        return report


_PROCESS_ENRICHER: Enricher | None = None


def enrich_copies(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], BatchReport]:
    """Enrich events in a helper process: the fields filled per event, and the report."""
    global _PROCESS_ENRICHER
    if _PROCESS_ENRICHER is None:
        _PROCESS_ENRICHER = Enricher()
    before = [{name for name in FIELDS if ev.get(name) is not None} for ev in events]
    report = _PROCESS_ENRICHER.enrich(events)
    updates = [
        {name: ev[name] for name in FIELDS if name not in had and ev.get(name) is not None}
        for ev, had in zip(events, before, strict=True)
    ]
    return updates, report
