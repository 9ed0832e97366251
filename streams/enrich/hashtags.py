"""Hashtags found in a post's text, the way the platforms link them.

A tag starts with ``#`` (or the full-width ``＃``) that does not follow a letter, digit, ``&``
or ``/`` (so ``C#``, ``&#39;`` and URL fragments are not tags), runs over letters, digits,
combining marks, ``_`` and the Persian zero-width non-joiner, and holds at least one
letter (``#1`` is not a tag). Tags come back without ``#``, in their first spelling, once
each, at most ``MAX_HASHTAGS`` of them and each cut to ``MAX_LABEL`` characters.
"""

from __future__ import annotations

import re
from typing import Final

from socialpulse.streams.contract import MAX_HASHTAGS, MAX_LABEL

_TAG: Final = re.compile(
    r"(?<![\w&/#＃])[#＃]((?:[\w\u200c]|[\u0300-\u036f\u064b-\u065f\u0670\u0900-\u0dff])+)"
)
_URL: Final = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


def extract_hashtags(text: str) -> list[str]:
    """The hashtags of ``text``, without ``#``, first spelling kept, no repeats."""
    if "#" not in text and "＃" not in text:
        return []
    found: list[str] = []
    seen: set[str] = set()
    for match in _TAG.finditer(_URL.sub(" ", text)):
        tag = match.group(1).strip("\u200c")[:MAX_LABEL]
        if not tag or not any(ch.isalpha() for ch in tag):
            continue
        folded = tag.lower()
        if folded not in seen:
            seen.add(folded)
            found.append(tag)
            if len(found) == MAX_HASHTAGS:
                break
    return found
