"""The one JSON codec of socialpulse: orjson, with a tolerant fallback for decoding.

orjson refuses JSON that holds a lone UTF-16 surrogate escape (``"\\ud800"``). EVENTS.md
wants such an event dead-lettered with reason ``bad_text`` while the rest of its envelope
still counts, so on an orjson failure the standard library parser (which accepts lone
surrogates, and NaN) gets a second try; the validator then rejects the bad elements.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class DecodeError(ValueError):
    """The bytes are not JSON."""


def dumps(obj: Any) -> bytes:
    """Serialize to compact UTF-8 JSON bytes."""
    return orjson.dumps(obj)


def dumps_lenient(obj: Any) -> bytes:
    """Serialize anything a decoded message can hold (lone surrogates, NaN) to bytes."""
    try:
        return orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:
        return json.dumps(obj, ensure_ascii=True, default=repr).encode("ascii")
    except (RecursionError, ValueError):
        # nested deeper than any encoder goes: say so instead of the element itself
        return b'"<element nested too deep to re-encode>"'


def loads(data: bytes | str) -> Any:
    """Parse JSON bytes; raise :class:`DecodeError` when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DecodeError(str(exc)[:200]) from exc
