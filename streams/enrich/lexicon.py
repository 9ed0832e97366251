"""Sentiment lexicons: the file format, its parser, and the lookup of one word.

A lexicon file (``lexicons/<lang>.txt``) holds settings and four sections::

    # a comment
    @negate_after 2        # a negator also flips the 2 words before it (verb-final clauses)
    @clitics و ف ب ل ال     # prefixes tried off a word that matched nothing as it stands
    [negators]             # words that flip the words after them (``kein*`` is a prefix)
    [boosters]             # word and increment: ``bardzo 0.3``, negative to dampen
    [contrast]             # "but": words before it count half, words after 1.5 times
    [words]                # term and valence on VADER's scale, -4 … +4
    świetn* 3.0            # a ``*`` ending matches every word that starts so
    nie działa -2.2        # several words form a phrase; the phrase wins over its words

Terms are folded with ``match_form`` on load, as the text is, so they are written in their
ordinary spelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from socialpulse.streams.enrich.text import match_form, words

LEXICON_DIR: Final = Path(__file__).parent / "lexicons"
MIN_STEM: Final = 3

Phrase = tuple[tuple[str, ...], float, bool]  # words, valence, last word is a prefix


class LexiconError(ValueError):
    """A lexicon file that does not parse, with its file and line."""


@dataclass
class Lexicon:
    """One language's words, phrases, negators, boosters and contrast words."""

    lang: str
    words: dict[str, float] = field(default_factory=dict)
    stems: dict[str, float] = field(default_factory=dict)
    phrases: dict[str, list[Phrase]] = field(default_factory=dict)
    negators: set[str] = field(default_factory=set)
    negator_stems: tuple[str, ...] = ()
    boosters: dict[str, float] = field(default_factory=dict)
    contrast: set[str] = field(default_factory=set)
    clitics: tuple[str, ...] = ()
    negate_before: int = 3
    negate_after: int = 0

    def valence(self, word: str) -> float:
        """The valence of one folded word: exact, then longest prefix, then clitics off."""
        found = self._lookup(word)
        if found is None:
            for clitic in self.clitics:
                rest = word[len(clitic) :]
                if word.startswith(clitic) and len(rest) >= MIN_STEM:
                    found = self._lookup(rest)
                    if found is not None:
                        break
        return found or 0.0

    def _lookup(self, word: str) -> float | None:
        value = self.words.get(word)
        if value is not None or not self.stems:
            return value
        for end in range(len(word), MIN_STEM - 1, -1):
            value = self.stems.get(word[:end])
            if value is not None:
                return value
        return None

    def is_negator(self, word: str) -> bool:
        return word in self.negators or (
            bool(self.negator_stems) and word.startswith(self.negator_stems)
        )

    def add_term(self, term: str, value: float) -> None:
        """Add a word, prefix (``*``) or phrase, folded as text is."""
        stem = term.endswith("*")
        parts = words(match_form(term.rstrip("*")))
        if not parts:
            return
        if len(parts) > 1:
            entry = (tuple(parts), value, stem)
            chain = self.phrases.setdefault(parts[0], [])
            chain.append(entry)
            chain.sort(key=lambda p: -len(p[0]))
        elif stem:
            self.stems[parts[0]] = value
        else:
            self.words[parts[0]] = value


def parse_lexicon(lang: str, text: str, origin: str = "<text>") -> Lexicon:
    """Parse the text of a lexicon file."""
    lex = Lexicon(lang)
    section = ""
    negator_stems: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{origin}:{number}"
        if line.startswith("@"):
            name, *values = line[1:].split()
            if name in ("negate_after", "negate_before") and len(values) == 1:
                setattr(lex, name, _number(values[0], where, int))
            elif name == "clitics":
                lex.clitics = tuple(sorted((match_form(v) for v in values), key=len, reverse=True))
            else:
                raise LexiconError(f"{where}: unknown setting {line!r}")
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            if section not in ("negators", "boosters", "contrast", "words"):
                raise LexiconError(f"{where}: unknown section {line!r}")
            continue
        if section == "negators":
            term = match_form(line)
            if term.endswith("*"):
                negator_stems.append(term[:-1])
            else:
                lex.negators.add(term)
        elif section == "contrast":
            lex.contrast.add(match_form(line))
        elif section in ("boosters", "words"):
            term, _, value_text = line.rpartition(" ")
            if not term.strip():
                raise LexiconError(f"{where}: expected a term and a number, got {line!r}")
            value = _number(value_text, where, float)
            if section == "boosters":
                lex.boosters[match_form(term.strip())] = value
            else:
                lex.add_term(term.strip(), value)
        else:
            raise LexiconError(f"{where}: a term before any [section]")
    lex.negator_stems = tuple(negator_stems)
    return lex


def _number(text: str, where: str, kind: type[float] | type[int]) -> float:
    try:
        return kind(text)
    except ValueError:
        raise LexiconError(f"{where}: {text!r} is not a number") from None


def load_lexicon(lang: str, directory: Path = LEXICON_DIR) -> Lexicon:
    path = directory / f"{lang}.txt"
    return parse_lexicon(lang, path.read_text(encoding="utf-8"), str(path))


def available_languages(directory: Path = LEXICON_DIR) -> list[str]:
    """Languages with a lexicon file (``emoji`` is shared, not a language)."""
    return sorted(p.stem for p in directory.glob("*.txt") if p.stem != "emoji")
