"""The enrichment stage: fill in ``lang``, ``sentiment`` and ``hashtags`` from ``text``.

Runs between validation and the KPIs. Only events that carry ``text`` are touched, and only
for the fields the producer left out: a producer's own ``sentiment``, ``lang`` or
``hashtags`` is kept as it is. Events without text cost one dict lookup.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from socialpulse.streams.contract import MAX_TEXT
from socialpulse.streams.enrich.hashtags import extract_hashtags
from socialpulse.streams.enrich.language import UNDETERMINED, LanguageDetector
from socialpulse.streams.enrich.sentiment import Score, SentimentScorer
from socialpulse.streams.enrich.text import clean_text

if TYPE_CHECKING:
    from socialpulse.streams.enrich.sentiment_model import ModelScorer

SentimentMode = Literal["fast", "model"]
MODES: Final = ("fast", "model")
MODE_VARIABLE: Final = "SOCIALPULSE_SENTIMENT_MODEL"


def sentiment_mode(value: str | None = None) -> SentimentMode:
    """``fast`` (lexicons, the default) or ``model`` (embedding and head), from
    ``value`` or else ``SOCIALPULSE_SENTIMENT_MODEL``."""
    chosen = (value if value is not None else os.environ.get(MODE_VARIABLE, "")).strip().lower()
    if chosen in ("", "fast"):
        return "fast"
    if chosen == "model":
        return "model"
    raise ValueError(f"{MODE_VARIABLE} must be fast or model, not {chosen!r}")


def primary_tag(lang: str) -> str:
    """The primary language subtag of a BCP 47 tag: ``fa-IR`` → ``fa``, ``pt_BR`` → ``pt``."""
    return lang.replace("_", "-").partition("-")[0].strip().lower() or UNDETERMINED


@dataclass(frozen=True, slots=True)
class Analysis:
    """What enrichment reads in one text."""

    sentiment: float
    lang: str
    confidence: float  # of the language: 1.0 when given, the model's probability otherwise
    supported: bool  # the language has a sentiment lexicon (always true for the model)
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
        scorer: SentimentScorer | ModelScorer | None = None,
        *,
        mode: str | None = None,
    ) -> None:
        self.detector = detector or LanguageDetector()
        if scorer is None:
            if sentiment_mode(mode) == "model":
                from socialpulse.streams.enrich.sentiment_model import ModelScorer

                scorer = ModelScorer()
            else:
                scorer = SentimentScorer()
        self.scorer: SentimentScorer | ModelScorer = scorer
        self.method = "lexicon" if isinstance(scorer, SentimentScorer) else "model"
        self.mode: SentimentMode = "fast" if self.method == "lexicon" else "model"

    def warm(self) -> None:
        """Load the language models and every lexicon (or the sentiment model) now: the
        first texts of each language no longer wait for their loading."""
        self.detector.load()
        if isinstance(self.scorer, SentimentScorer):
            self.scorer.load_all()
        self.enrich([{"text": "Warming up: great service, terrible queue #socialpulse"}])

    def _score_all(
        self, texts: list[str], langs: list[str], brands: list[str | None]
    ) -> list[Score]:
        if isinstance(self.scorer, SentimentScorer):
            score = self.scorer.score
            return [score(t, lang, b) for t, lang, b in zip(texts, langs, brands, strict=True)]
        return self.scorer.score_many(texts, langs, brands)

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
        """Fill the missing fields of the events that carry text, in place.

        Language and hashtags are read event by event; the sentiments of the batch are
        scored together afterwards (the model scorer embeds them in one call).
        """
        report = BatchReport()
        clock = time.perf_counter
        waiting: list[dict[str, Any]] = []  # events whose sentiment is still to score
        texts: list[str] = []
        langs: list[str] = []
        brands: list[str | None] = []
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
                waiting.append(ev)
                texts.append(clean)
                langs.append(lang)
                brands.append(ev.get("brand"))
            report.texts += 1
            report.seconds.append(clock() - started)
        if waiting:
            started = clock()
            scores = self._score_all(texts, langs, brands)
            for ev, lang, score in zip(waiting, langs, scores, strict=True):
                ev["sentiment"] = score.sentiment
                method = self.method if score.supported else "emoji"
                report.scored[(lang, method)] += 1
            report.filled["sentiment"] += len(waiting)
            share = (clock() - started) / len(waiting)
            report.seconds = [s + share for s in report.seconds]
        return report


_PROCESS_ENRICHER: Enricher | None = None


def helper_ready() -> bool:
    """Whether this process's enricher is built (a helper after its first batch)."""
    return _PROCESS_ENRICHER is not None


def warm_helper(mode: str | None = None) -> None:
    """Build this helper process's enricher and load its models (the worker's start)."""
    global _PROCESS_ENRICHER
    if _PROCESS_ENRICHER is None:
        _PROCESS_ENRICHER = Enricher(mode=mode)
    _PROCESS_ENRICHER.warm()


def enrich_copies(
    events: list[dict[str, Any]], mode: str | None = None
) -> tuple[list[dict[str, Any]], BatchReport]:
    """Enrich events in a helper process: the fields filled per event, and the report.

    The helper's enricher is built on its first batch, with that batch's ``mode``.
    """
    global _PROCESS_ENRICHER
    if _PROCESS_ENRICHER is None:
        _PROCESS_ENRICHER = Enricher(mode=mode)
    before = [{name for name in FIELDS if ev.get(name) is not None} for ev in events]
    report = _PROCESS_ENRICHER.enrich(events)
    updates = [
        {name: ev[name] for name in FIELDS if name not in had and ev.get(name) is not None}
        for ev, had in zip(events, before, strict=True)
    ]
    return updates, report
