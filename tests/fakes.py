"""Shared helpers for the socialpulse tests: valid events, envelopes and a settable clock."""

from __future__ import annotations

import itertools
from typing import Any

import orjson

_ids = itertools.count(1)

#: fields a kind needs to be valid under docs/events.md, filled in unless the caller gives them
_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "ad_spend": {"value": 10.0, "currency": "EUR"},
    "followers": {"value": 1000},
    "survey": {"survey": "csat", "score": 4},
}


def event(
    kind: str = "impression",
    *,
    id: str | None = None,
    ts: Any = 1_700_000_000.0,
    brand: str = "acme",
    **fields: Any,
) -> dict[str, Any]:
    """A valid event of ``kind``; ids run "ev-1", "ev-2", ... when ``id`` is not given.

    Kinds that need more fields (``ad_spend`` and ``followers`` a ``value``, ``survey`` a
    ``survey`` and ``score``) get valid defaults; ``fields`` override or add anything.
    """
    ev: dict[str, Any] = {
        "id": id if id is not None else f"ev-{next(_ids)}",
        "ts": ts,
        "brand": brand,
        "kind": kind,
    }
    ev.update(_KIND_DEFAULTS.get(kind, {}))
    ev.update(fields)
    return ev


def envelope(events: Any) -> bytes:
    """The message value of an envelope: a compact JSON array (orjson) of ``events``."""
    return orjson.dumps(list(events))


class FakeClock:
    """A wall clock the test sets: ``clock.now`` (settable), ``clock()`` and ``advance``."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        """Drop-in for ``time.time``."""
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time."""
        self.now += seconds
        return self.now


def burst(
    kind: str,
    n: int,
    *,
    start_ts: float,
    spacing: float = 1.0,
    brand: str = "acme",
    **fields: Any,
) -> list[dict[str, Any]]:
    """``n`` valid events of ``kind`` for ``brand``, ``spacing`` seconds apart from ``start_ts``."""
    return [event(kind, ts=start_ts + i * spacing, brand=brand, **fields) for i in range(n)]
