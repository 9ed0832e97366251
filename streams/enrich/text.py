"""Cleaning and tokenising social text before any library or lexicon sees it.

``clean_text`` makes any string safe: lone surrogates, NUL and other control characters,
zero-width and bidi marks go, Unicode is NFC-composed (Vietnamese often arrives decomposed)
and whitespace collapses. ``match_form`` then folds a cleaned text for lexicon lookups:
lower case, Arabic-script letter variants unified, harakat and tatweel dropped, Persian
zero-width non-joiners closed up. The same folding is applied to lexicon entries, so a
lexicon is written in ordinary spelling.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

#: characters removed outright: C0/C1 controls (but tab and newlines), lone surrogates,
#: zero-width spaces/joiners other than ZWNJ, bidi marks and embeddings, BOM, soft hyphen
_DROP: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u00ad\u200b\u200d-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_SPACE: Final = re.compile(r"\s+")
_URL: Final = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION: Final = re.compile(r"(?<![\w@])@\w+")

#: Arabic-script folding: letter variants, harakat, tatweel, ZWNJ
_FOLD: Final = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ئ": "ی",
        "ك": "ک",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "ة": "ه",
        "ۀ": "ه",
        "ـ": None,
        "\u200c": None,
        "’": "'",
        "‘": "'",
        "`": "'",
        **{chr(c): None for c in range(0x064B, 0x0660)},
        "\u0670": None,
    }
)

_REPEAT: Final = re.compile(r"(\w)\1\1")
_REPEAT_ARABIC: Final = re.compile(r"([\u0600-\u06ff])\1{2,}")
_REPEAT_LATIN: Final = re.compile(r"([^\W\d])\1{2,}")

#: a word: letters and digits with their combining marks, apostrophes inside (don't, l'app)
WORD: Final = re.compile(
    r"(?:[^\W_]|[\u0300-\u036f\u0900-\u0dff])+(?:'(?:[^\W_]|[\u0300-\u036f])+)*"
)


def clean_text(text: str, limit: int = 10_000) -> str:
    """A safe, composed, single-spaced copy of ``text``, at most ``limit`` characters."""
    if len(text) > limit * 4:
        text = text[: limit * 4]
    text = _DROP.sub("", text)
    text = unicodedata.normalize("NFC", text)
    return _SPACE.sub(" ", text).strip()[:limit]


def strip_handles(text: str) -> str:
    """``text`` without URLs and @mentions: neither says anything about language or mood."""
    return _URL.sub(" ", _MENTION.sub(" ", text))


def match_form(text: str) -> str:
    """Lower case, Arabic-script variants folded, elongations shortened ("soooo", "عالیییی").

    The form lexicons are matched in. A letter repeated three times or more is kept twice
    in Latin and other scripts ("goooood" = "good") and once in Arabic script, where
    doubled letters are written once.
    """
    folded = text.lower().translate(_FOLD)
    if _REPEAT.search(folded) is None:
        return folded
    return _REPEAT_LATIN.sub(r"\1\1", _REPEAT_ARABIC.sub(r"\1", folded))


def words(text: str) -> list[str]:
    """The words of an already folded text."""
    return WORD.findall(text)
