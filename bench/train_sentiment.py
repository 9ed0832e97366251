"""Train the ``model`` sentiment scorer's heads on the UMSAB tweets.

    python -m bench.train_sentiment ../shared/data/umsab \\
        --cache /tmp/umsab-embeddings --out streams/enrich/models/sentiment_heads.npz

For each of ar, en, fr, de, it, pt, es: a softmax regression on the e5 embedding and the
lexicon features (see ``sentiment_model``), trained on the language's train split with
the other six languages' train splits at a tenth of the weight, classes balanced, L2
``--l2``. Then the class offsets (the neutral band, and positive against negative) are
tuned on the language's validation split for macro-F1. One more head, ``*``, is trained
on all seven train splits for every other language. Embeddings are cached in ``--cache``
(about 4 minutes for the 15,000 tweets on two cores). Only the heads are written; the
tweets are never copied into the project.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from socialpulse.streams.enrich.evaluation import UMSAB_LANGUAGES
from socialpulse.streams.enrich.sentiment import SentimentScorer
from socialpulse.streams.enrich.sentiment_model import (
    SHARED,
    Embedder,
    lexicon_features,
    normalise,
)
from socialpulse.streams.enrich.softmax import fit, macro_f1, predict_proba
from socialpulse.streams.enrich.text import clean_text

LANGUAGES = UMSAB_LANGUAGES
OTHERS_WEIGHT = 0.1
GRID = np.round(np.arange(-1.0, 1.01, 0.1), 2)

Matrix = NDArray[np.float64]
Labels = NDArray[np.int64]


def read_split(data: Path, lang: str, split: str) -> tuple[list[str], Labels]:
    """Texts (cleaned as the enricher cleans them) and labels 0 neg, 1 neu, 2 pos."""
    name = LANGUAGES[lang]
    texts = (data / f"{name}.{split}.txt").read_text(encoding="utf-8").splitlines()
    labels = (data / f"{name}.{split}.labels").read_text(encoding="utf-8").split()
    if len(texts) != len(labels):
        raise SystemExit(f"{name}.{split}: {len(texts)} texts but {len(labels)} labels")
    return [clean_text(t, 10_000) for t in texts], np.array([int(x) for x in labels])


def _embed(texts: list[str]) -> Matrix:
    embed = Embedder()
    return np.vstack([embed(texts[i : i + 32]) for i in range(0, len(texts), 32)])


def embeddings(texts: list[str], cache: Path | None, key: str, pool: ProcessPoolExecutor) -> Matrix:
    path = cache / f"{key}.npy" if cache else None
    if path is not None and path.is_file():
        cached: Matrix = np.load(path).astype(np.float64)
        if len(cached) == len(texts):
            return cached
    normalised = [normalise(t) for t in texts]
    half = len(normalised) // 2
    parts = list(pool.map(_embed, [normalised[:half], normalised[half:]]))
    out = np.vstack(parts)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, out.astype(np.float32))
    return out


def features(texts: list[str], lang: str, emb: Matrix, lexicon: SentimentScorer) -> Matrix:
    lexical = [lexicon_features(lexicon.score(t, lang).sentiment) for t in texts]
    return np.hstack([emb, np.array(lexical, dtype=np.float64)])


def tune_offsets(p: Matrix, y: Labels) -> tuple[NDArray[np.float64], float]:
    """Log-chance offsets (neg, neu, pos) that maximise macro-F1, and that macro-F1."""
    logp = np.log(p + 1e-12)
    best = (np.zeros(3), macro_f1(y, logp.argmax(1)))
    for neutral in GRID:
        for polar in GRID:
            offsets = np.array([-polar / 2, neutral, polar / 2])
            score = macro_f1(y, (logp + offsets).argmax(1))
            if score > best[1] + 1e-9:
                best = (offsets, score)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="the umsab folder (LANG.train.txt …)")
    parser.add_argument("--out", type=Path, required=True, help="heads file to write (.npz)")
    parser.add_argument("--cache", type=Path, default=None, help="folder for embeddings")
    parser.add_argument("--l2", type=float, default=1e-4, help="L2 penalty per row")
    args = parser.parse_args(argv)
    lexicon = SentimentScorer()
    train: dict[str, tuple[Matrix, Labels]] = {}
    val: dict[str, tuple[Matrix, Labels]] = {}
    with ProcessPoolExecutor(2) as pool:
        for lang, name in LANGUAGES.items():
            for split, into in (("train", train), ("val", val)):
                texts, y = read_split(args.data, lang, split)
                emb = embeddings(texts, args.cache, f"{name}.{split}", pool)
                into[lang] = (features(texts, lang, emb, lexicon), y)
                print(f"{lang} {split}: {len(y)} texts", file=sys.stderr)
    x_all = np.vstack([train[lang][0] for lang in LANGUAGES])
    y_all = np.concatenate([train[lang][1] for lang in LANGUAGES])
    owner = np.concatenate([[lang] * len(train[lang][1]) for lang in LANGUAGES])
    langs, weights, biases, offsets = [], [], [], []
    for lang in LANGUAGES:
        sample_weight = np.where(owner == lang, 1.0, OTHERS_WEIGHT)
        w, b = fit(x_all, y_all, l2=args.l2, sample_weight=sample_weight)
        x_val, y_val = val[lang]
        p = predict_proba(x_val, w, b)
        off, tuned = tune_offsets(p, y_val)
        raw = macro_f1(y_val, p.argmax(1))
        print(f"{lang}: val macro-F1 {100 * raw:.1f} untuned, {100 * tuned:.1f} with offsets {off}")
        langs.append(lang)
        weights.append(w)
        biases.append(b)
        offsets.append(off)
    w, b = fit(x_all, y_all, l2=args.l2)
    langs.append(SHARED)
    weights.append(w)
    biases.append(b)
    offsets.append(np.zeros(3))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        langs=np.array(langs),
        weights=np.array(weights, dtype=np.float32),
        bias=np.array(biases, dtype=np.float32),
        offsets=np.array(offsets, dtype=np.float32),
    )
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
