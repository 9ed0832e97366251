"""Decoding and validation of Kafka message values against the event contract (docs/events.md).

``decode_message`` turns one message value (an event object or an envelope) into the
valid events it holds and a :class:`Rejection` for every bad element, so one bad
element never costs the rest of its envelope. A message whose elements are all valid is
checked in compiled code (``streams.fast_decode``); any other takes the per-element path
(``decode_slow``), which finds each bad element's reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from socialpulse.streams import codec
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
from socialpulse.streams.fast_decode import decode_fast

#: a validated event: the producer's object with ``ts`` normalised to epoch seconds and
#: the defaults of docs/events.md filled in; unknown extra fields are kept
Event = dict[str, Any]

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MS_THRESHOLD = 1e11  # epoch numbers above this are milliseconds (year 5138 in seconds)
_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1  # orjson writes integers from _INT64_MIN to here, no others

#: how deep a field's value may nest below the event (orjson writes at most 254 levels)
MAX_NESTING = 32

#: fields whose whole value validate_event checks itself; any other field (``author``,
#: ``survey`` outside survey events, unknown extras) is walked by ``_check_extra``
_CHECKED_FIELDS = frozenset(FIELDS) - {"survey"}  # author: its own fields by _validate_author
_AUTHOR_FIELDS = frozenset(AUTHOR_FIELDS)


class Invalid(ValueError):
    """An event breaks the contract; ``reason`` is one of ``contract.REASONS``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Rejection:
    """A bad message or envelope element, bound for the dead-letter topic."""

    reason: str
    detail: str
    raw: bytes
    brand: str | None = None


def parse_ts(value: Any) -> float:
    """Event time as epoch seconds from RFC 3339 text or epoch seconds / milliseconds."""
    if isinstance(value, bool):
        raise Invalid("bad_ts", "ts must be an RFC 3339 string or a number, not a boolean")
    if isinstance(value, int | float):
        try:
            ts = float(value)
        except OverflowError:
            raise Invalid("bad_ts", "ts is beyond any valid epoch time") from None
        if not math.isfinite(ts) or ts < 0:
            raise Invalid("bad_ts", f"ts {value!r} is not a valid epoch time")
        return ts / 1000.0 if ts > _MS_THRESHOLD else ts
    if isinstance(value, str):
        if len(value) > 64:
            raise Invalid("bad_ts", "ts text is too long to be RFC 3339")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid("bad_ts", f"ts {value[:64]!r} is not RFC 3339") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise Invalid("bad_ts", f"ts must be a string or a number, not {type(value).__name__}")


def _string(ev: dict[str, Any], field: str, limit: int, *, required: bool) -> str | None:
    value = ev.get(field)
    if value is None:
        if required:
            raise Invalid("missing_field", f"{field} is required")
        return None
    if not isinstance(value, str):
        raise Invalid("bad_type", f"{field} must be a string, not {type(value).__name__}")
    if required and not value:
        raise Invalid("missing_field", f"{field} must not be empty")
    if len(value) > limit:
        raise Invalid("too_long", f"{field} is {len(value)} characters, the limit is {limit}")
    if _BAD_TEXT.search(value):
        raise Invalid("bad_text", f"{field} holds a NUL or a lone UTF-16 surrogate")
    return value


def _number(ev: dict[str, Any], field: str) -> float | None:
    value = ev.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("bad_type", f"{field} must be a number, not {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise Invalid("bad_number", f"{field} is beyond the range of a float") from None
    if not math.isfinite(number):
        raise Invalid("bad_number", f"{field} must be finite")
    if isinstance(value, int) and not _INT64_MIN <= value <= _UINT64_MAX:
        raise Invalid("bad_number", f"{field} is an integer beyond 64 bits")
    return number


def _check_extra(field: str, value: Any) -> None:
    """A field validate_event does not check value by value: it must be writable again.

    Forwarding, late and future dead letters re-encode an accepted event with orjson, which
    refuses lone UTF-16 surrogates (the fallback parser lets them through), integers
    beyond 64 bits and more than 254 levels of nesting; an event that could not be written
    again is rejected here rather than crashing the worker later. (A lone surrogate is
    never ASCII, so ASCII text, nearly all of it, skips the search.)
    """
    if type(field) is not str:
        raise Invalid("bad_type", "field names must be strings")
    if not field.isascii() and _SURROGATE.search(field):
        raise Invalid("bad_text", "a field name holds a lone UTF-16 surrogate")
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if not item.isascii() and _SURROGATE.search(item):
                raise Invalid("bad_text", f"{field[:64]!r} holds a lone UTF-16 surrogate")
        elif kind is dict:
            if depth >= MAX_NESTING:
                raise Invalid("bad_type", f"{field[:64]!r} nests deeper than {MAX_NESTING} levels")
            for key, child in item.items():
                if type(key) is not str:
                    raise Invalid("bad_type", f"the keys in {field[:64]!r} must be strings")
                if not key.isascii() and _SURROGATE.search(key):
                    raise Invalid("bad_text", f"a key in {field[:64]!r} holds a lone surrogate")
                stack.append((child, depth + 1))
        elif kind is list:
            if depth >= MAX_NESTING:
                raise Invalid("bad_type", f"{field[:64]!r} nests deeper than {MAX_NESTING} levels")
            stack.extend((child, depth + 1) for child in item)
        elif kind is int and not _INT64_MIN <= item <= _UINT64_MAX:
            raise Invalid("bad_number", f"{field[:64]!r} holds an integer beyond 64 bits")
        # float, bool, None and the Python objects only the SDK can pass (datetime, ...)


def _validate_author(author: Any) -> None:
    if not isinstance(author, dict):
        raise Invalid("bad_type", "author must be an object")
    for field in ("id", "location", "gender"):
        _string(author, field, MAX_LABEL, required=False)
    for field in ("followers", "age"):
        value = author.get(field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("bad_type", f"author.{field} must be an integer")
        if value < 0:
            raise Invalid("negative_value", f"author.{field} must not be negative")
        if value > MAX_COUNT:
            raise Invalid("out_of_range", f"author.{field} is over {MAX_COUNT}")
    if not _AUTHOR_FIELDS.issuperset(author):
        for key, value in author.items():  # in the event's order: the same reason every run
            if key not in _AUTHOR_FIELDS:
                if type(key) is not str:
                    raise Invalid("bad_type", "the keys of author must be strings")
                _check_extra(f"author.{key}", value)


def validate_event(ev: Any) -> Event:
    """Check one decoded element against docs/events.md; return it normalised or raise Invalid."""
    if not isinstance(ev, dict):
        raise Invalid("not_object", f"an event must be a JSON object, not {type(ev).__name__}")
    _string(ev, "id", MAX_ID, required=True)
    _string(ev, "brand", MAX_BRAND, required=True)
    kind = _string(ev, "kind", 32, required=True)
    if kind not in KINDS:
        raise Invalid(
            "unknown_kind",
            f"kind {kind!r} is not one of the kinds of docs/events.md: {', '.join(sorted(KINDS))}",
        )
    if "ts" not in ev or ev["ts"] is None:
        raise Invalid("missing_field", "ts is required")
    ts = parse_ts(ev["ts"])
    platform = _string(ev, "platform", MAX_PLATFORM, required=False)
    for field in ("campaign", "variant", "parent_id", "session"):
        _string(ev, field, MAX_LABEL, required=False)
    _string(ev, "lang", MAX_LANG, required=False)
    _string(ev, "text", MAX_TEXT, required=False)
    currency = _string(ev, "currency", 3, required=False)
    if currency is not None and not _CURRENCY.match(currency):
        raise Invalid("bad_type", "currency must be an ISO 4217 code such as EUR")

    count = ev.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int):
        raise Invalid("bad_type", "count must be an integer")
    if count < 1:
        raise Invalid("negative_value", "count must be at least 1")
    if count > MAX_COUNT:
        raise Invalid("out_of_range", f"count is over {MAX_COUNT}")

    value = _number(ev, "value")
    if value is None and kind in VALUE_REQUIRED_KINDS:
        raise Invalid("missing_field", f"value is required for kind {kind}")
    if value is not None and value < 0 and kind in NON_NEGATIVE_VALUE_KINDS:
        raise Invalid("negative_value", f"value must not be negative for kind {kind}")

    sentiment = _number(ev, "sentiment")
    if sentiment is not None and not -1.0 <= sentiment <= 1.0:
        raise Invalid("out_of_range", "sentiment must lie in [-1, 1]")

    score = _number(ev, "score")
    if kind == "survey":
        survey = ev.get("survey")
        if not isinstance(survey, str) or survey not in SURVEY_RANGES:
            raise Invalid("missing_field", 'survey must be "csat" or "nps" for kind survey')
        if score is None:
            raise Invalid("missing_field", "score is required for kind survey")
        low, high = SURVEY_RANGES[survey]
        if not low <= score <= high:
            raise Invalid("out_of_range", f"{survey} score must lie in [{low:g}, {high:g}]")

    if "author" in ev and ev["author"] is not None:
        _validate_author(ev["author"])
    hashtags = ev.get("hashtags")
    if hashtags is not None:
        if not isinstance(hashtags, list) or len(hashtags) > MAX_HASHTAGS:
            raise Invalid("bad_type", f"hashtags must be a list of at most {MAX_HASHTAGS}")
        for tag in hashtags:
            if not isinstance(tag, str) or len(tag) > MAX_LABEL:
                raise Invalid("bad_type", "hashtags must hold strings")
            if _BAD_TEXT.search(tag):
                raise Invalid("bad_text", "a hashtag holds a NUL or a lone surrogate")
    if not _CHECKED_FIELDS.issuperset(ev):  # extra fields: rare, so looked for cheaply
        for field, value in ev.items():  # in the event's order: the same reason every run
            if field not in _CHECKED_FIELDS:
                _check_extra(field, value)
    # normalise only once every check passed, so a rejected element keeps its own bytes
    ev["ts"] = ts
    ev["platform"] = platform or DEFAULT_PLATFORM
    ev["count"] = count
    return ev


def _brand_of(element: Any) -> str | None:
    if isinstance(element, dict):
        brand = element.get("brand")
        if isinstance(brand, str) and 0 < len(brand) <= MAX_BRAND and not _BAD_TEXT.search(brand):
            return brand
    return None


def decode_message(
    raw: bytes | None, *, max_bytes: int, max_events: int
) -> tuple[list[Event], list[Rejection]]:
    """Decode a message value: one event or an envelope (a JSON array of events)."""
    if raw is None:
        return [], [Rejection("invalid_json", "the message has no value", b"")]
    if len(raw) > max_bytes:
        detail = f"message of {len(raw)} bytes is over the {max_bytes}-byte limit"
        return [], [Rejection("too_large", detail, raw)]
    fast = decode_fast(raw, _check_extra)
    if fast is not None and len(fast) <= max_events:
        return fast, []
    return decode_slow(raw, max_events=max_events)


def decode_slow(raw: bytes, *, max_events: int) -> tuple[list[Event], list[Rejection]]:
    """The per-element path: each bad element rejected with its own reason."""
    try:
        doc = codec.loads(raw)
    except codec.DecodeError as exc:
        return [], [Rejection("invalid_json", str(exc), raw)]
    if not isinstance(doc, list):
        try:
            return [validate_event(doc)], []
        except Invalid as exc:
            return [], [Rejection(exc.reason, exc.detail, raw, _brand_of(doc))]
    if not doc:
        return [], [Rejection("empty_envelope", "the envelope holds no events", raw)]
    if len(doc) > max_events:
        detail = f"envelope of {len(doc)} events is over the limit of {max_events}"
        return [], [Rejection("envelope_too_large", detail, raw)]
    events: list[Event] = []
    rejections: list[Rejection] = []
    for element in doc:
        try:
            events.append(validate_event(element))
        except Invalid as exc:
            raw_element = codec.dumps_lenient(element)
            rejections.append(Rejection(exc.reason, exc.detail, raw_element, _brand_of(element)))
    return events, rejections
