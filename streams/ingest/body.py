"""The body of ``POST /events``: its events parsed, each validated against the contract
(docs/events.md) and encoded for the producer, or listed with the reason it was refused.

:func:`parse_body` reads one event, an envelope (a JSON array) or NDJSON lines; a body that
holds no events to check at all raises :class:`BodyError`. :func:`check_events` answers the
encoded good events with their brands, and one entry (index, id, reason, detail, line) per
rejected one.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from socialpulse.streams import codec
from socialpulse.streams.contract import MAX_ID
from socialpulse.streams.validation import Invalid, validate_event

log = logging.getLogger(__name__)


class _Undecodable:
    """An NDJSON line that is not JSON."""

    __slots__ = ("detail",)

    def __init__(self, detail: str) -> None:
        self.detail = detail


class BodyError(Exception):
    """The body as a whole holds no events to check (400)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_body(body: bytes, ndjson: bool, max_events: int) -> tuple[list[Any], list[int] | None]:
    """The request's elements (events to validate) and, for NDJSON, their line numbers."""
    body = body.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark (Windows editors)
    elements: list[Any] = []
    lines: list[int] | None = None
    if ndjson:
        lines = []
        for number, line in enumerate(body.split(b"\n"), 1):
            if not line.strip():
                continue
            if len(elements) >= max_events:
                detail = f"the body holds over {max_events:,} events, the limit"
                raise BodyError("envelope_too_large", detail)
            try:
                elements.append(codec.loads(line))
            except codec.DecodeError as exc:
                elements.append(_Undecodable(str(exc)))
            lines.append(number)
    else:
        try:
            doc = codec.loads(body)
        except codec.DecodeError as exc:
            raise BodyError("invalid_json", f"the body is not JSON: {exc}") from None
        if not isinstance(doc, list):
            return [doc], None
        if len(doc) > max_events:
            detail = f"the envelope holds {len(doc):,} events, over the limit of {max_events:,}"
            raise BodyError("envelope_too_large", detail)
        elements = doc
    if not elements:
        raise BodyError("empty_envelope", "the body holds no events")
    return elements, lines


def _encode(event: dict[str, Any], max_event_bytes: int) -> bytes:
    try:
        data = codec.dumps(event)
    except (TypeError, orjson.JSONEncodeError) as exc:
        text = str(exc)
        if "surrogate" in text or "UTF-8" in text:
            raise Invalid("bad_text", "a field holds a lone UTF-16 surrogate") from None
        if "64-bit" in text or "Integer" in text:
            raise Invalid("bad_number", "a number is beyond the 64-bit integer range") from None
        raise Invalid("bad_type", f"the event cannot be re-encoded: {text[:100]}") from None
    if len(data) > max_event_bytes:
        detail = f"the event is {len(data):,} bytes, over the {max_event_bytes:,}-byte limit"
        raise Invalid("too_large", detail)
    # orjson's bytes keep its whole output buffer (about 4 KiB) however short the JSON:
    # an exact copy, or a body of small events would weigh 30 times its size until sent
    return memoryview(data).tobytes() if len(data) < 2048 else data


def check_events(
    elements: list[Any], lines: list[int] | None, max_event_bytes: int
) -> tuple[list[tuple[str, bytes]], list[dict[str, Any]]]:
    """Validate and encode every element: (brand, bytes) of the good, an entry per bad one."""
    good: list[tuple[str, bytes]] = []
    rejected: list[dict[str, Any]] = []
    for index, element in enumerate(elements):
        try:
            if isinstance(element, _Undecodable):
                raise Invalid("invalid_json", f"the line is not JSON: {element.detail}")
            event = validate_event(element)
            good.append((event["brand"], _encode(event, max_event_bytes)))
        except Invalid as exc:
            rejected.append(_rejection(index, element, exc.reason, exc.detail, lines))
        except Exception as exc:  # a validator bug must not cost the server: refuse the event
            log.exception("unexpected error validating an event")
            detail = f"the event could not be checked ({type(exc).__name__})"
            rejected.append(_rejection(index, element, "bad_type", detail, lines))
    return good, rejected


def _rejection(
    index: int, element: Any, reason: str, detail: str, lines: list[int] | None
) -> dict[str, Any]:
    event_id = element.get("id") if isinstance(element, dict) else None
    entry: dict[str, Any] = {
        "index": index,
        "id": event_id[:MAX_ID] if isinstance(event_id, str) else None,
        "reason": reason,
        "detail": detail,
    }
    if lines is not None:
        entry["line"] = lines[index]
    return entry
