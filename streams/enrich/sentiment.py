"""Sentiment of a short social text in [-1, 1], from lexicons and rules, in microseconds.

The rules are VADER's (Hutto & Gilbert, 2014), applied to every language's lexicon:
a word's valence (-4 … +4) is raised by a booster next to it ("very", "bardzo", "quá"),
flipped and damped by a negator in the three words before it (or, for verb-final
languages such as Persian and German, in the words just after it), halved before a
contrast word ("but", "ale", "اما") and raised by half after it; exclamation marks add
emphasis; emoji and emoticons count in every language. The sum ``s`` is normalised as
VADER does, ``s / sqrt(s² + 15)``.

English uses VADER's own 7,500-entry lexicon (from the ``vaderSentiment`` wheel) plus
``lexicons/en.txt``; the other languages use this package's lexicons. A text in a
language without a lexicon is scored from its emoji and emoticons only, and says so
(``supported`` is false), so users can tell a neutral text from an unread one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from socialpulse.streams.enrich.lexicon import (
    LEXICON_DIR,
    Lexicon,
    Phrase,
    available_languages,
    load_lexicon,
)
from socialpulse.streams.enrich.text import match_form, strip_handles, words

NEGATION_SCALAR: Final = -0.74  # VADER's N_SCALAR
CONTRAST_BEFORE: Final = 0.5
CONTRAST_AFTER: Final = 1.5
EXCLAMATION: Final = 0.292  # per "!", at most four
ALPHA: Final = 15.0  # VADER's normalisation constant
NEAR_BOOST: Final = (1.0, 0.95, 0.9)  # a booster one, two, three words away

#: clause boundaries: a negator does not reach across them
_CLAUSE: Final = re.compile(r"[.,;:!?…\n،؛؟。！？]+")
_EMOTICON: Final = re.compile(r"(?<!\S)(?:[:;=8xX][-'^o]?[()\[\]DPpOo/\\|*3]+|<3+|</3)(?!\S)")


@dataclass(frozen=True, slots=True)
class Score:
    """A text's sentiment, and whether its language has a lexicon."""

    sentiment: float
    supported: bool


def vader_lexicon_path() -> Path | None:
    """VADER's lexicon file inside the installed ``vaderSentiment`` wheel, if there is one."""
    import importlib.util

    spec = importlib.util.find_spec("vaderSentiment")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "vader_lexicon.txt"
    return path if path.is_file() else None


def english_lexicon(directory: Path = LEXICON_DIR) -> Lexicon:
    """``en.txt`` with VADER's lexicon under it (en.txt wins where both have a word)."""
    lex = load_lexicon("en", directory)
    path = vader_lexicon_path()
    if path is not None:
        for line in path.read_text(encoding="utf-8").splitlines():
            term, _, rest = line.partition("\t")
            if not term or not any(ch.isalpha() for ch in term):
                continue
            word = match_form(term)
            if word not in lex.words and word not in lex.boosters and not lex.is_negator(word):
                lex.words[word] = float(rest.partition("\t")[0])
    return lex


def load_emoji(directory: Path = LEXICON_DIR) -> tuple[dict[str, float], dict[str, float]]:
    """Valences shared by every language: emoji by their first code point, and emoticons."""
    emoji: dict[str, float] = {}
    emoticons: dict[str, float] = {}
    path = directory / "emoji.txt"
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("# "):
            continue
        symbol, _, value = line.rpartition(" ")
        symbol = symbol.strip().replace("\ufe0f", "")
        try:
            valence = float(value)
        except ValueError:
            raise ValueError(f"{path}:{number}: expected a symbol and a number") from None
        if symbol.isascii():
            emoticons[symbol] = valence
        else:
            emoji[symbol[0]] = valence
    return emoji, emoticons


class SentimentScorer:
    """Scores texts with the lexicon of their language; lexicons load once, on first use."""

    def __init__(self, directory: Path = LEXICON_DIR) -> None:
        self._directory = directory
        self._languages = frozenset(available_languages(directory))
        self._lexicons: dict[str, Lexicon] = {}
        self._emoji: tuple[dict[str, float], dict[str, float]] | None = None

    @property
    def languages(self) -> frozenset[str]:
        """Languages with a lexicon."""
        return self._languages

    def lexicon(self, lang: str) -> Lexicon | None:
        if lang not in self._languages:
            return None
        lex = self._lexicons.get(lang)
        if lex is None:
            if lang == "en":
                lex = english_lexicon(self._directory)
            else:
                lex = load_lexicon(lang, self._directory)
            self._lexicons[lang] = lex
        return lex

    def load_all(self) -> None:
        """Load every lexicon now (a worker's start), not on its language's first text."""
        for lang in sorted(self._languages):
            self.lexicon(lang)
        self._emoji_tables()

    def _emoji_tables(self) -> tuple[dict[str, float], dict[str, float]]:
        if self._emoji is None:
            self._emoji = load_emoji(self._directory)
        return self._emoji

    def score(self, text: str, lang: str, brand: str | None = None) -> Score:
        """Sentiment of a cleaned text written in ``lang`` (a BCP 47 primary tag).

        The ``brand`` the text is about is left out of the scoring when its name appears
        in it: "Best Buy", "Happy Socks" or "Điện Máy Xịn" say nothing about the mood.
        """
        lex = self.lexicon(lang)
        total = self._symbols(text)
        if lex is not None:
            folded = match_form(strip_handles(text))
            if brand and len(brand) >= 3:
                folded = folded.replace(match_form(brand), " ")
            tokens: list[str] = []
            clauses: list[int] = []
            for number, clause in enumerate(_CLAUSE.split(folded)):
                found = words(clause)
                tokens += found
                clauses += [number] * len(found)
            total += self._words(lex, tokens, clauses)
        if total:
            bangs = min(text.count("!"), 4)
            total += math.copysign(bangs * EXCLAMATION, total)
        sentiment = total / math.sqrt(total * total + ALPHA) if total else 0.0
        return Score(round(max(-1.0, min(1.0, sentiment)), 4), lex is not None)

    def _symbols(self, text: str) -> float:
        emoji, emoticons = self._emoji_tables()
        total = 0.0
        if not text.isascii():
            for ch in emoji.keys() & set(text):
                total += emoji[ch] * min(text.count(ch), 3) ** 0.5
        if ":" in text or ";" in text or "<" in text or "=" in text:
            for match in _EMOTICON.findall(text):
                total += emoticons.get(match, 0.0)
        return total

    @staticmethod
    def _words(lex: Lexicon, tokens: list[str], clauses: list[int]) -> float:
        """Sum of the words' valences; a negator reaches only words of its own clause."""
        n = len(tokens)
        valences = [0.0] * n
        negators = [False] * n
        i = 0
        while i < n:
            token = tokens[i]
            width = 1
            for phrase, value, stem in _phrases(lex, token):
                size = len(phrase)
                if i + size <= n and _phrase_at(tokens, i, phrase, stem):
                    valences[i] = value
                    width = size
                    break
            else:
                if lex.is_negator(token):
                    negators[i] = True
                else:
                    valences[i] = lex.valence(token)
            i += width
        if not any(valences):
            return 0.0
        contrast = max((k for k in range(n) if tokens[k] in lex.contrast), default=-1)
        flipped = _negated(lex, negators, valences, clauses)
        total = 0.0
        for k, value in enumerate(valences):
            if not value:
                continue
            value += _boost(lex, tokens, k, value)
            if k in flipped:
                value *= NEGATION_SCALAR
            if contrast >= 0:
                value *= CONTRAST_BEFORE if k < contrast else CONTRAST_AFTER
            total += value
        return total


def _phrases(lex: Lexicon, token: str) -> list[Phrase]:
    """Phrases that may start at ``token``: by the token itself, or with a clitic off it
    ("ومحدش بيرد" starts "محدش بيرد")."""
    found = lex.phrases.get(token)
    if found is not None or not lex.clitics:
        return found or []
    for clitic in lex.clitics:
        if token.startswith(clitic):
            found = lex.phrases.get(token[len(clitic) :])
            if found is not None:
                return found
    return []


def _phrase_at(tokens: list[str], i: int, phrase: tuple[str, ...], stem: bool) -> bool:
    last = len(phrase) - 1
    for j, word in enumerate(phrase):
        token = tokens[i + j]
        if j == 0:
            continue  # matched by _phrases, perhaps with a clitic off
        if token != word and not (stem and j == last and token.startswith(word)):
            return False
    return True


def _boost(lex: Lexicon, tokens: list[str], k: int, value: float) -> float:
    boost = 0.0
    for distance, scale in enumerate(NEAR_BOOST, 1):
        if k - distance >= 0:
            boost += lex.boosters.get(tokens[k - distance], 0.0) * scale
    if k + 1 < len(tokens):
        boost += lex.boosters.get(tokens[k + 1], 0.0)
    return boost if value > 0 else -boost


def _negated(
    lex: Lexicon, negators: list[bool], valences: list[float], clauses: list[int]
) -> set[int]:
    """The words the negators flip.

    A negator flips the first scored word after it, within ``negate_before`` words of its
    clause: "not good, bad" flips only "good", "didn't fix the problem" only "fix". In a
    verb-final language, a negator with nothing scored after it flips the nearest scored
    word before it, within ``negate_after`` words ("راضی نیستم", "gefällt mir nicht").
    """
    flipped: set[int] = set()
    n = len(negators)
    for j, negator in enumerate(negators):
        if not negator:
            continue
        clause = clauses[j]
        after = range(j + 1, min(n, j + 1 + lex.negate_before))
        target = next((k for k in after if valences[k] and clauses[k] == clause), None)
        if target is None and lex.negate_after:
            before = range(j - 1, max(-1, j - 1 - lex.negate_after), -1)
            target = next(
                (k for k in before if valences[k] and clauses[k] == clause and k not in flipped),
                None,
            )
        if target is not None:
            flipped.add(target)
    return flipped
