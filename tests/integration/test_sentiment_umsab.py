"""Sentiment and language on real tweets: the UMSAB validation split, 324 tweets in each of
ar, en, fr, de, it, pt, es (labels negative/neutral/positive, neutral = |sentiment| ≤ 0.05).

The tweets are not in the project (their licence keeps them out): they are read from
``shared/data/umsab`` in a folder above the checkout (``../shared/data/umsab`` from the
main checkout), or from ``SOCIALPULSE_UMSAB``. Without them these tests skip, saying so.

The bars sit just under what the scorers reach (docs/sentiment.md has the figures and how
they were measured), so a change that loses a couple of tweets in a language fails here.
The model's heads had their class offsets tuned on this split: its figures here are the
tuned ones, a few points above an estimate on unseen tweets (docs/sentiment.md).

The model test embeds 2,268 tweets on one core: about a minute.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from socialpulse.streams.enrich.enricher import Enricher
from socialpulse.streams.enrich.evaluation import UMSAB_LANGUAGES, ThreeClass, evaluate_three_class
from socialpulse.streams.enrich.language import LanguageDetector
from socialpulse.streams.enrich.text import clean_text

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = UMSAB_LANGUAGES

#: 3-class macro-F1 (%) on the validation split, language given. Measured (model), two
#: runs: ar 70.4/70.6, en 70.0/70.0, fr 70.6/70.3, de 72.4/72.0, it 66.8/66.2,
#: pt 65.4/65.4, es 65.9/66.2 (the 4-bit embeddings vary a little from run to run)
MODEL_BARS = {"ar": 69.5, "en": 69.0, "fr": 69.5, "de": 71.0, "it": 65.2, "pt": 64.8, "es": 65.0}
#: measured (lexicons): ar 44.8, en 61.6, fr 16.2, de 57.2, it 26.4, pt 37.3, es 57.9
#: (French, Italian and Portuguese have no lexicon: emoji and emoticons only)
LEXICON_BARS = {"ar": 44.0, "en": 61.0, "fr": 15.5, "de": 56.5, "it": 26.0, "pt": 36.5, "es": 57.5}
#: share of the tweets whose language is detected right (%). Measured:
#: ar 99.7, en 99.7, fr 99.1, de 92.9, it 96.6, pt 97.8, es 99.7
LANGUAGE_BARS = {"ar": 99.0, "en": 99.0, "fr": 98.5, "de": 92.5, "it": 96.0, "pt": 97.0, "es": 99.0}


def umsab() -> Path | None:
    given = os.environ.get("SOCIALPULSE_UMSAB")
    candidates = [Path(given)] if given else [p / "shared" / "data" / "umsab" for p in ROOT.parents]
    return next((p for p in candidates if (p / "english.val.txt").is_file()), None)


@pytest.fixture(scope="module")
def val() -> dict[str, tuple[list[str], list[int]]]:
    folder = umsab()
    if folder is None:
        where = os.environ.get("SOCIALPULSE_UMSAB") or f"shared/data/umsab above {ROOT}"
        pytest.skip(f"the UMSAB tweets are not here: no {where} (see docs/sentiment.md)")
    out = {}
    for lang, name in LANGUAGES.items():
        texts = (folder / f"{name}.val.txt").read_text(encoding="utf-8").splitlines()
        labels = (folder / f"{name}.val.labels").read_text(encoding="utf-8").split()
        assert len(texts) == len(labels) == 324, name
        out[lang] = (texts, [int(x) - 1 for x in labels])
    return out


def check(
    enricher: Enricher,
    val: dict[str, tuple[list[str], list[int]]],
    bars: dict[str, float],
) -> None:
    results: dict[str, ThreeClass] = {}
    for lang, (texts, labels) in val.items():
        results[lang] = evaluate_three_class(texts, labels, enricher, lang)
        print(f"{enricher.method} {lang}: {results[lang].summary()}")
    low = {
        lang: f"{100 * r.macro_f1:.1f} < {bars[lang]}"
        for lang, r in results.items()
        if 100 * r.macro_f1 < bars[lang]
    }
    assert not low, f"macro-F1 under the bar: {low}"


def test_the_model_scorer_holds_its_macro_f1_per_language(
    val: dict[str, tuple[list[str], list[int]]],
) -> None:
    check(Enricher(mode="model"), val, MODEL_BARS)


def test_the_lexicon_scorer_holds_its_macro_f1_per_language(
    val: dict[str, tuple[list[str], list[int]]],
) -> None:
    check(Enricher(mode="fast"), val, LEXICON_BARS)


def test_language_detection_on_tweets(val: dict[str, tuple[list[str], list[int]]]) -> None:
    detector = LanguageDetector()
    low = {}
    for lang, (texts, _) in val.items():
        right = sum(detector.detect(clean_text(t, 10_000))[0] == lang for t in texts)
        share = 100 * right / len(texts)
        print(f"language {lang}: {share:.1f} % detected right")
        if share < LANGUAGE_BARS[lang]:
            low[lang] = f"{share:.1f} < {LANGUAGE_BARS[lang]}"
    assert not low, f"language detection under the bar: {low}"
