"""``socialpulse score-text``: texts in on stdin, one JSON object per line out.

Each input line is one text (a post with newlines must have them escaped or removed);
each output line holds ``sentiment``, ``lang``, ``lang_confidence``, ``supported`` (the
language has a sentiment lexicon) and ``hashtags``, plus ``text`` with ``--echo``. Output
lines match input lines one to one, empty lines included, so results can be pasted next to
the input.
"""

from __future__ import annotations

from typing import BinaryIO, TextIO

from socialpulse.streams import codec
from socialpulse.streams.enrich.enricher import Enricher
from socialpulse.streams.progress import Progress


def score_lines(
    source: BinaryIO,
    sink: BinaryIO,
    *,
    lang: str | None = None,
    echo: bool = False,
    err: TextIO | None = None,
    interactive: bool = False,
    mode: str | None = None,
) -> int:
    """Score every line of ``source`` into ``sink``; returns the number of lines."""
    enricher = Enricher(mode=mode)
    progress = Progress("score-text", stream=err, unit="texts") if err is not None else None
    count = 0
    for raw in source:
        text = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        result = enricher.analyse(text, lang)
        out: dict[str, object] = {
            "sentiment": result.sentiment,
            "lang": result.lang,
            "lang_confidence": result.confidence,
            "supported": result.supported,
            "hashtags": result.hashtags,
        }
        if echo:
            out["text"] = text
        sink.write(codec.dumps_lenient(out) + b"\n")
        count += 1
        if interactive:
            sink.flush()
        if progress is not None:
            progress.update(count, count)
    sink.flush()
    if progress is not None:
        progress.close(count, count)
    return count
