"""Sign accuracy per language on labelled posts written for this project, and language ids.

Three sets in tests/data, JSON lines of text, lang and label:

- ``sentiment_posts.jsonl`` (420 posts) and ``sentiment_dev.jsonl`` (560 pos/neg posts in
  the seven languages, plus neutral posts and ten more languages for language ids) were
  written blind to the lexicons, then their misses were used to extend the lexicons: on
  these the scorer is tuned, and the bars are high.
- ``sentiment_heldout.jsonl`` (350 posts, other domains) was written by someone who never
  saw the lexicons, and its misses were never read while writing them: its figures are the
  honest estimate of the accuracy on new text, and its bars sit a few points under them.

Each test prints its table (run with ``-s`` to see it when it passes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from socialpulse.streams.enrich.enricher import Enricher
from socialpulse.streams.enrich.evaluation import evaluate, language_accuracy, load_labelled, table

DATA = Path(__file__).resolve().parents[1] / "data"
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
