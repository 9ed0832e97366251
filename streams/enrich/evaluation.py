"""Accuracy of the enrichment on a labelled set: sign of the sentiment, and the language.

A labelled set is JSON lines with ``text``, ``lang`` (the language it is written in) and
``label`` (``pos`` or ``neg``). A text counts as right when its sentiment has the label's
sign beyond the polarity threshold (±0.05, as ``socialpulse_sentiment_events`` splits them);
a neutral score for a labelled text counts as wrong.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialpulse.streams.enrich.enricher import Enricher

#: the UMSAB benchmark's languages (tag -> its folder name under ../shared/data/umsab)
UMSAB_LANGUAGES: dict[str, str] = {
    "ar": "arabic",
    "en": "english",
    "fr": "french",
    "de": "german",
    "it": "italian",
    "pt": "portuguese",
    "es": "spanish",
}
POLARITY: dict[str, int] = {"pos": 1, "neg": -1}
THRESHOLD = 0.05


@dataclass
class LanguageResult:
    texts: int = 0
    sign_right: int = 0  # language detected, as in production
    sign_right_given: int = 0  # language given by the producer
    neutral: int = 0
    lang_right: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sign_accuracy(self) -> float:
        return self.sign_right / self.texts if self.texts else 0.0

    @property
    def sign_accuracy_given(self) -> float:
        return self.sign_right_given / self.texts if self.texts else 0.0

    @property
    def lang_accuracy(self) -> float:
        return self.lang_right / self.texts if self.texts else 0.0


def load_labelled(path: Path) -> list[dict[str, Any]]:
    """The rows of a labelled set; ``label`` is ``pos``, ``neg`` or ``neu``."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not {"text", "lang", "label"} <= row.keys() or row["label"] not in (*POLARITY, "neu"):
            raise ValueError(f"{path}:{number}: expected text, lang and label pos/neg/neu")
        rows.append(row)
    return rows


def language_accuracy(
    rows: Iterable[dict[str, Any]], enricher: Enricher | None = None
) -> dict[str, tuple[int, int]]:
    """Per language: (texts, texts whose detected language is the labelled one)."""
    enricher = enricher or Enricher()
    out: dict[str, tuple[int, int]] = {}
    for row in rows:
        texts, right = out.get(row["lang"], (0, 0))
        out[row["lang"]] = (texts + 1, right + (enricher.analyse(row["text"]).lang == row["lang"]))
    return out


def _right(sentiment: float, label: str) -> bool:
    return sentiment * POLARITY[label] > THRESHOLD


def evaluate(
    rows: Iterable[dict[str, Any]], enricher: Enricher | None = None
) -> dict[str, LanguageResult]:
    """Per-language results for the rows labelled ``pos`` or ``neg``."""
    enricher = enricher or Enricher()
    results: dict[str, LanguageResult] = {}
    for row in rows:
        if row["label"] not in POLARITY:
            continue
        res = results.setdefault(row["lang"], LanguageResult())
        detected = enricher.analyse(row["text"])
        given = enricher.analyse(row["text"], row["lang"])
        res.texts += 1
        res.sign_right += _right(detected.sentiment, row["label"])
        res.sign_right_given += _right(given.sentiment, row["label"])
        res.neutral += abs(given.sentiment) <= THRESHOLD
        res.lang_right += detected.lang == row["lang"]
        if not _right(given.sentiment, row["label"]):
            res.misses.append({**row, "sentiment": given.sentiment})
    return results


def throughput(texts: list[str], enricher: Enricher | None = None, rounds: int = 5) -> float:
    """Texts per second through ``Enricher.enrich`` (clean, hashtags, language, sentiment)."""
    enricher = enricher or Enricher()
    enricher.analyse(texts[0])  # load the model and lexicons outside the timing
    events = [[{"text": t} for t in texts] for _ in range(rounds)]
    started = time.perf_counter()
    for batch in events:
        enricher.enrich(batch)
    return len(texts) * rounds / (time.perf_counter() - started)


def table(results: dict[str, LanguageResult]) -> str:
    lines = [
        "lang  texts  sign acc (detected lang)  sign acc (given lang)  neutral  lang acc",
    ]
    for lang, r in sorted(results.items()):
        lines.append(
            f"{lang:<5} {r.texts:>5}  {r.sign_accuracy:>24.1%}  {r.sign_accuracy_given:>21.1%}"
            f"  {r.neutral:>7}  {r.lang_accuracy:>8.1%}"
        )
    total = sum(r.texts for r in results.values())
    if total:
        right = sum(r.sign_right for r in results.values())
        lang_right = sum(r.lang_right for r in results.values())
        lines.append(
            f"all   {total:>5}  {right / total:>24.1%}  {'':>21}  {'':>7}  "
            f"{lang_right / total:>8.1%}"
        )
    return "\n".join(lines)


#: label words ``score-text --eval`` accepts besides UMSAB's 0, 1, 2
LABELS: dict[str, int] = {
    "0": -1,
    "1": 0,
    "2": 1,
    "negative": -1,
    "neg": -1,
    "neutral": 0,
    "neu": 0,
    "positive": 1,
    "pos": 1,
}


@dataclass
class ThreeClass:
    """Three-class results of a scorer on labelled texts (neutral = |sentiment| ≤ 0.05)."""

    gold: list[int] = field(default_factory=list)
    predicted: list[int] = field(default_factory=list)
    zeros: int = 0

    @property
    def texts(self) -> int:
        return len(self.gold)

    @property
    def macro_f1(self) -> float:
        """Mean of the F1 of negative, neutral and positive."""
        scores = []
        for k in (-1, 0, 1):
            pairs = list(zip(self.gold, self.predicted, strict=True))
            tp = sum(g == k and p == k for g, p in pairs)
            fp = sum(g != k and p == k for g, p in pairs)
            fn = sum(g == k and p != k for g, p in pairs)
            scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        return sum(scores) / 3

    @property
    def sign_accuracy(self) -> float:
        """Share of the positive and negative texts given their sign (a neutral is wrong)."""
        polar = [(g, p) for g, p in zip(self.gold, self.predicted, strict=True) if g]
        return sum(g == p for g, p in polar) / len(polar) if polar else 0.0

    def summary(self) -> str:
        return (
            f"texts {self.texts}  macro-F1 {100 * self.macro_f1:.1f}  "
            f"sign accuracy {self.sign_accuracy:.3f}  scored exactly 0: "
            f"{self.zeros / max(1, self.texts):.2f}"
        )


def read_labels(path: Path) -> list[int]:
    """Labels one per line: 0/1/2 (negative/neutral/positive, as UMSAB) or the words."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        word = line.strip().lower()
        if word not in LABELS:
            raise ValueError(f"{path}:{number}: expected 0, 1, 2, negative, neutral or positive")
        out.append(LABELS[word])
    return out


def polarity(sentiment: float) -> int:
    return 0 if abs(sentiment) <= THRESHOLD else (1 if sentiment > 0 else -1)


def evaluate_three_class(
    texts: list[str],
    labels: list[int],
    enricher: Enricher | None = None,
    lang: str | None = None,
    chunk: int = 64,
) -> ThreeClass:
    """Score ``texts`` as the worker would (in chunks of events; ``lang`` given or
    detected) and compare the polarities with ``labels`` (-1, 0, 1)."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    enricher = enricher or Enricher()
    result = ThreeClass(gold=list(labels))
    for start in range(0, len(texts), chunk):
        events: list[dict[str, Any]] = [
            {"text": t, **({"lang": lang} if lang else {})} for t in texts[start : start + chunk]
        ]
        enricher.enrich(events)
        for ev in events:
            sentiment = float(ev.get("sentiment") or 0.0)
            result.zeros += sentiment == 0.0
            result.predicted.append(polarity(sentiment))
    return result
