"""The evidence ring: what an alert shows is the last notable events, however they came."""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from socialpulse.alerts.evidence import Evidence, Sighting, sighting


def _event(i: int, notable: bool) -> dict[str, Any]:
    ev: dict[str, Any] = {"id": f"e{i}", "ts": 1000.0 + i, "kind": "mention", "platform": "x"}
    if notable:
        ev["text"] = f"text {i}"
        ev["author"] = {"id": f"a{i % 7}", "followers": i}
    return ev


def _eager(events: list[dict[str, Any]], keep: int) -> list[Sighting]:
    """The ring as one sighting per notable event would fill it."""
    ring: deque[Sighting] = deque(maxlen=keep)
    for ev in events:
        s = sighting(ev)
        if s is not None:
            ring.append(s)
    return list(ring)


@settings(max_examples=60, deadline=None)
@given(
    notable=st.lists(st.booleans(), max_size=400),
    keep=st.integers(1, 40),
    reads=st.lists(st.integers(0, 400), max_size=5),
)
def test_the_ring_holds_the_last_notable_events_whenever_it_is_read(
    notable: list[bool], keep: int, reads: list[int]
) -> None:
    events = [_event(i, n) for i, n in enumerate(notable)]
    evidence = Evidence(keep=keep)
    for i, ev in enumerate(events):
        if i in reads:  # an alert reads the ring mid-batch
            evidence.summary("acme", 0, 1e9)
            assert list(evidence.rings.get("acme", ())) == _eager(events[:i], keep)
        evidence.add("acme", ev)
        assert len(evidence.pending.get("acme", ())) < 8 * keep  # bounded between reads
    evidence.settle()
    assert not evidence.pending  # no event dict outlives the batch
    assert list(evidence.rings.get("acme", ())) == _eager(events, keep)


def test_a_summary_sees_the_events_added_before_it() -> None:
    evidence = Evidence()
    for i in range(20):
        evidence.add("acme", _event(i, True))
    summary = evidence.summary("acme", 1000.0, 1019.0)
    assert summary["events"] == 20
    assert summary["samples"][0]["id"] == "e19"  # most followed first
    evidence.forget({"acme"})
    assert evidence.summary("acme", 0, 1e9)["events"] == 0


@settings(max_examples=60, deadline=None)
@given(
    notable=st.lists(st.booleans(), max_size=400),
    keep=st.integers(1, 40),
    cuts=st.lists(st.integers(0, 400), max_size=6),
    read=st.booleans(),
)
def test_runs_of_events_fill_the_ring_as_events_one_by_one(
    notable: list[bool], keep: int, cuts: list[int], read: bool
) -> None:
    """``extend`` (the detectors hand a brand's events over in runs) leaves the ring of
    as many ``add`` calls, read between runs or not, and keeps the pending bound."""
    events = [_event(i, n) for i, n in enumerate(notable)]
    evidence = Evidence(keep=keep)
    bounds = sorted({0, len(events), *(c for c in cuts if c <= len(events))})
    for start, end in itertools.pairwise(bounds):
        evidence.extend("acme", events[start:end])
        assert len(evidence.pending.get("acme", ())) < 8 * keep
        if read:
            evidence.summary("acme", 0, 1e9)
            assert list(evidence.rings.get("acme", ())) == _eager(events[:end], keep)
    evidence.settle()
    assert list(evidence.rings.get("acme", ())) == _eager(events, keep)
