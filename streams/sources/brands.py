"""Brand options of the live sources and the keyword match that turns a post into a mention.

``--brand acme=acme,acmecorp`` names a brand and its keywords. A post mentions the brand
when one keyword occurs in it as a whole word, case-insensitively: ``ACME!``, ``#acme``
and ``@acme`` match ``acme``; ``acmeville`` and ``notacme`` do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import click

from socialpulse.streams.contract import MAX_BRAND, MAX_HASHTAGS, MAX_LABEL


def parse_pairs(values: Iterable[str], option_name: str) -> dict[str, list[str]]:
    """``NAME=a,b`` values of a repeatable option as ``{NAME: [a, b]}`` (a repeat adds)."""
    out: dict[str, list[str]] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        name = name.strip()
        items = [item.strip() for item in rest.split(",") if item.strip()]
        if not sep or not name or not items:
            problem = f"{value!r} is not NAME=VALUE[,VALUE...]"
            raise click.BadParameter(problem, param_hint=option_name)
        if len(name) > MAX_BRAND:
            raise click.BadParameter(f"brand {name[:40]!r}... is too long", param_hint=option_name)
        bucket = out.setdefault(name, [])
        bucket.extend(item for item in dict.fromkeys(items) if item not in bucket)
    return out


def check_pairs(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    """Click callback: reject a malformed ``NAME=VALUE[,VALUE]`` before anything connects."""
    parse_pairs(value, "/".join(param.opts))
    return value


class Keywords:
    """Which brands a text names, by whole-word, case-insensitive keyword match."""

    def __init__(self, brands: dict[str, list[str]]) -> None:
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for brand, words in brands.items():
            ordered = sorted({w.lower() for w in words}, key=len, reverse=True)
            alternatives = "|".join(re.escape(w) for w in ordered)
            self._patterns.append((brand, re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.I)))

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def brands_in(self, text: str) -> list[str]:
        """The brands ``text`` names, in the order the options gave them."""
        if not text:
            return []
        return [brand for brand, pattern in self._patterns if pattern.search(text)]


def clean_tags(tags: Iterable[object]) -> list[str]:
    """Hashtags without ``#``, first spelling kept, no repeats, within the contract's limits."""
    out: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        if not isinstance(tag, str):
            continue
        tag = tag.lstrip("#＃").strip()[:MAX_LABEL]
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
            if len(out) == MAX_HASHTAGS:
                break
    return out


def fits(value: object, limit: int = MAX_LABEL) -> str | None:
    """``value`` when it is a non-empty string within ``limit`` characters, else None."""
    if isinstance(value, str) and 0 < len(value) <= limit:
        return value
    return None
