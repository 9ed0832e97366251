"""The fast path of ``decode_message``: a whole message validated in compiled code.

msgspec checks a message against typed structs of the contract (required fields, types,
lengths, ranges, the kind as a literal, no unknown field) in one pass of C; orjson gives
the producer's objects as dicts; a short loop applies the rules that depend on the kind
(value required or non-negative, the survey's range) and normalises ``ts``, ``platform``
and ``count`` as ``validate_event`` does. Any doubt (a struct error, an unknown field, a
NUL escape, a rule broken) returns None: the caller then takes the per-element path of
``streams.validation``, which finds each bad element's own reason. So the fast path only
ever accepts what the per-element path accepts, with the same result (a differential
property test holds it to that), and a bad element still costs only itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson

from socialpulse.streams.contract import (
    AUTHOR_FIELDS,
    DEFAULT_PLATFORM,
    FIELDS,
    KINDS,
    MAX_BRAND,
    MAX_COUNT,
    MAX_HASHTAGS,
    MAX_ID,
    MAX_LABEL,
    MAX_LANG,
    MAX_PLATFORM,
    MAX_TEXT,
    NON_NEGATIVE_VALUE_KINDS,
    SURVEY_RANGES,
    VALUE_REQUIRED_KINDS,
)

Event = dict[str, Any]

_MS_THRESHOLD = 1e11  # as streams.validation: epoch numbers above are milliseconds

Kind = Literal[tuple(sorted(KINDS))]  # type: ignore[valid-type]  # the contract's kinds
Label = Annotated[str, msgspec.Meta(max_length=MAX_LABEL)]


class _Author(msgspec.Struct):
    id: Label | None = None
    followers: Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)] | None = None
    location: Label | None = None
    age: Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)] | None = None
    gender: Label | None = None


class _Event(msgspec.Struct):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID)]
    brand: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_BRAND)]
    kind: Kind  # type: ignore[valid-type]
    ts: Annotated[str, msgspec.Meta(max_length=64)] | float
    platform: Annotated[str, msgspec.Meta(max_length=MAX_PLATFORM)] | None = None
    campaign: Label | None = None
    variant: Label | None = None
    count: Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)] = 1  # null: the slow path's
    value: float | None = None
    currency: Annotated[str, msgspec.Meta(max_length=3, pattern="^[A-Z]{3}$")] | None = None
    score: float | None = None
    survey: str | None = None
    author: _Author | None = None
    text: Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] | None = None
    lang: Annotated[str, msgspec.Meta(max_length=MAX_LANG)] | None = None
    sentiment: Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)] | None = None
    hashtags: Annotated[list[Label], msgspec.Meta(max_length=MAX_HASHTAGS)] | None = None
    parent_id: Label | None = None
    session: Label | None = None


_KNOWN = frozenset(FIELDS)
#: kinds with rules of their own: a value required or non-negative, the survey's range
_SPECIAL_KINDS = VALUE_REQUIRED_KINDS | NON_NEGATIVE_VALUE_KINDS | {"survey"}
_KNOWN_AUTHOR = frozenset(AUTHOR_FIELDS)
_ONE = msgspec.json.Decoder(_Event)
_MANY = msgspec.json.Decoder(list[_Event])


def decode_fast(raw: bytes, check_extra: Callable[[str, Any], None]) -> list[Event] | None:
    """The events of a message whose every element is valid; None to take the slow path.

    Unknown fields (kept, as the contract says) are handed to ``check_extra``, which
    raises for one that could not be written again."""
    if b"\\u0000" in raw:  # a NUL in some text: the slow path says which field
        return None
    try:
        head = raw.lstrip()[:1]
        structs = _MANY.decode(raw) if head == b"[" else [_ONE.decode(raw)]
        docs = orjson.loads(raw)
    except (msgspec.DecodeError, orjson.JSONDecodeError, RecursionError):
        return None
    if head != b"[":
        docs = [docs]
    if not structs:
        return None  # an empty envelope: the slow path rejects it
    known, known_author, special = _KNOWN, _KNOWN_AUTHOR, _SPECIAL_KINDS
    for doc, ev in zip(docs, structs, strict=True):
        ts = ev.ts
        if type(ts) is float:
            if ts < 0:
                return None
            if ts > _MS_THRESHOLD:
                ts /= 1000.0
        else:
            parsed = _ts(ts)
            if parsed is None:
                return None
            ts = parsed
        if (ev.kind in special or ev.value is not None) and not _kind_rules(ev):
            return None
        if not known.issuperset(doc) or (
            ev.author is not None and not known_author.issuperset(doc["author"])
        ):
            try:
                _extras(doc, check_extra)
            except ValueError:
                return None
        doc["ts"] = ts
        doc["platform"] = ev.platform or DEFAULT_PLATFORM
        doc["count"] = ev.count
    return docs


def _extras(doc: Event, check_extra: Callable[[str, Any], None]) -> None:
    for field, value in doc.items():
        if field not in _KNOWN:
            check_extra(field, value)
    author = doc.get("author")
    if type(author) is dict:
        for key, value in author.items():
            if key not in _KNOWN_AUTHOR:
                check_extra(f"author.{key}", value)


def _ts(value: str | float) -> float | None:
    """``ts`` as epoch seconds, as ``streams.validation.parse_ts``; None when invalid."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    if not math.isfinite(value) or value < 0:
        return None
    return value / 1000.0 if value > _MS_THRESHOLD else value


def _kind_rules(ev: _Event) -> bool:
    """The rules msgspec's types cannot say: they depend on the kind, or are sums."""
    kind = ev.kind
    value = ev.value
    if value is None:
        if kind in VALUE_REQUIRED_KINDS:
            return False
    elif value < 0 and kind in NON_NEGATIVE_VALUE_KINDS:
        return False  # (JSON has no NaN or infinity, and msgspec refuses 1e400)
    if kind == "survey":
        survey, score = ev.survey, ev.score
        if survey not in SURVEY_RANGES or score is None:
            return False
        low, high = SURVEY_RANGES[survey]
        if not low <= score <= high:
            return False
    return True
