"""Texts/s of the enrichment (clean, hashtags, language, sentiment) in one process.

    python bench/enrichment.py [--rounds 5]

Runs every labelled post of tests/data (1,720 posts in 17 languages, about 70 characters
each) through ``Enricher.enrich`` and prints texts/s and µs per text, per round.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from socialpulse.streams.enrich.enricher import Enricher
from socialpulse.streams.enrich.evaluation import load_labelled, throughput

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=5, help="passes over the posts per figure")
    args = ap.parse_args()
    texts = [
        row["text"]
        for path in sorted(DATA.glob("sentiment_*.jsonl"))
        for row in load_labelled(path)
    ]
    enricher = Enricher()
    print(f"{len(texts):,} texts, {sum(map(len, texts)) / len(texts):.0f} characters on average")
    for attempt in range(3):
        rate = throughput(texts, enricher, rounds=args.rounds)
        print(f"run {attempt + 1}: {rate:,.0f} texts/s ({1e6 / rate:.0f} µs per text)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
