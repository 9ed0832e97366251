"""The one JSON codec of socialpulse: orjson, with a tolerant fallback for decoding.

orjson refuses JSON that holds a lone UTF-16 surrogate escape (``"\\ud800"``). docs/events.md
wants such an event dead-lettered with reason ``bad_text`` while the rest of its envelope
still counts, so on an orjson failure the standard library parser (which accepts lone
surrogates, and NaN) gets a second try; the validator then rejects the bad elements. The
fallback reads integer literals as orjson does (a float beyond 64 bits), so no literal,
however long, makes it raise, and every integer it returns can be written again.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


class DecodeError(ValueError):
    """The bytes are not JSON."""


def dumps(obj: Any) -> bytes:
    """Serialize to compact UTF-8 JSON bytes."""
    return orjson.dumps(obj)


def dumps_lenient(obj: Any) -> bytes:
    """Serialize anything a decoded message can hold (lone surrogates, NaN) to bytes.

    The bytes decode to the same value again: orjson would write NaN and infinities as
    ``null``, so a dead letter rejected for one would no longer show why.
    """
    if not _non_finite(obj):
        try:
            return orjson.dumps(obj)
        except (TypeError, orjson.JSONEncodeError):
            pass
    try:
        return json.dumps(obj, ensure_ascii=True, default=repr).encode("ascii")
    except (RecursionError, ValueError):
        # nested deeper than any encoder goes: say so instead of the element itself
        return b'"<element nested too deep to re-encode>"'


def _non_finite(obj: Any) -> bool:
    """Whether a decoded value holds a NaN or an infinity anywhere (iteratively)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads(data: bytes | str) -> Any:
    """Parse JSON bytes; raise :class:`DecodeError` when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, parse_int=_parse_int)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise DecodeError(str(exc)[:200]) from exc


_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1


def _parse_int(literal: str) -> int | float:
    """An integer literal as orjson reads it: an int within 64 bits, else a float.

    Without this the fallback parser turns a 5,000-digit literal into a ValueError
    (Python's limit on int conversion) and a 30-digit one into an int that orjson cannot
    write again (forwarding, dead letters); as a float it is finite or ``inf``, and the
    validator judges it like any other number.
    """
    if len(literal) <= 20:
        number = int(literal)
        if _INT64_MIN <= number <= _UINT64_MAX:
            return number
    return float(literal)
