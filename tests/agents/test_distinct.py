"""Distinct counts with bounded memory (adaptive sampling): exact below the cap, within
2 % at a million distinct authors, consistent with the window buckets, and restorable."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from socialpulse.agents.counters import C
from socialpulse.agents.distinct import DistinctTracker, who_hash
from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.state import ALL, BrandState, KpiState
from socialpulse.streams.validation import validate_event

T = 1_700_000_040.0


def counts_of(tracker: DistinctTracker, n: int, minute: int = 100) -> Counter[int]:
    buckets: Counter[int] = Counter()
    for i in range(n):
        for at, change in tracker.sight(f"author-{i}", minute, expired=0):
            buckets[at] += change
    return buckets


def test_exact_below_the_cap() -> None:
    tracker = DistinctTracker(cap=20_000)
    buckets = counts_of(tracker, 20_000)
    assert tracker.level == 0 and buckets[100] == 20_000
    again = counts_of(tracker, 20_000)  # the same authors again, same minute: no change
    assert sum(again.values()) == 0


def test_within_two_percent_at_a_million_distinct() -> None:
    tracker = DistinctTracker()  # the default cap, 16,384
    buckets = counts_of(tracker, 1_000_000)
    estimate = sum(buckets.values()) * tracker.scale
    assert len(tracker.last) <= 16_384  # memory stays bounded
    assert estimate == pytest.approx(1_000_000, rel=0.02), estimate
    print(f"1e6 distinct: level {tracker.level}, estimate {estimate:,}")


def test_a_later_sighting_moves_the_count_and_a_dropped_one_leaves() -> None:
    tracker = DistinctTracker(cap=2)
    assert tracker.sight("a", 10, expired=0) == [(10, 1)]
    assert tracker.sight("a", 12, expired=0) == [(12, 1), (10, -1)]
    assert tracker.sight("a", 11, expired=0) == []  # older than its last sighting
    assert tracker.sight("a", 20, expired=12) == [(20, 1)]  # the old one has expired
    tracker.sight("b", 20, expired=0)
    changes = tracker.sight("c", 21, expired=0)  # a third: the level rises
    assert tracker.level >= 1
    kept = set(tracker.last)
    dropped = {w for w in "abc"} - kept
    assert all(who_hash(w) % (1 << tracker.level) == 0 for w in kept)
    net = Counter()
    for at, change in changes:
        net[at] += change
    # the new sighting counts if sampled; every dropped author leaves its bucket
    assert sum(net.values()) == (1 if "c" in kept else 0) - len(dropped - {"c"})


def test_reach_estimate_through_the_state_and_a_restart() -> None:
    state = KpiState(distinct_cap=1_000)
    viewers = 20_000
    state.apply(
        [
            validate_event(
                {
                    "id": f"i{i}",
                    "ts": T + (i % 240),
                    "brand": "acme",
                    "kind": "impression",
                    "author": {"id": f"v{i}"},
                }
            )
            for i in range(viewers)
        ]
    )
    bs = state.brands["acme"]
    tracker = bs.distinct[C.reach][(ALL, ALL)]
    assert tracker.level > 0 and len(tracker.last) <= 1_000
    # the buckets count exactly the sampled viewers: the window sum equals the sample
    assert bs.totals["1h"][(ALL, ALL)][C.reach] == len(tracker.last)

    def reach(s: KpiState) -> float | None:
        reg = CollectorRegistry()
        reg.register(KpiCollector(s))
        labels = {"brand": "acme", "platform": "all", "campaign": "all", "window": "1h"}
        return reg.get_sample_value("socialpulse_reach", labels)

    estimate = reach(state)
    assert estimate == pytest.approx(viewers, rel=0.15)  # 1/sqrt(500) ≈ 4.5 % std
    records = [("acme", m, state.bucket_record("acme", m)) for m in bs.buckets]
    sightings = [("acme", m, [[C.reach, "all\x1fall", w]]) for w, m in tracker.last.items()]
    restored = KpiState(distinct_cap=1_000)
    restored.restore({"acme": state.brand_record("acme")}, records, [], sightings)
    assert reach(restored) == estimate
    assert restored.brands["acme"].distinct[C.reach][(ALL, ALL)].level == tracker.level


_WHO = st.sampled_from("abcdefgh")


@given(
    prior=st.dictionaries(_WHO, st.integers(0, 30), max_size=4),
    seq=st.lists(st.tuples(_WHO, st.integers(0, 30), st.integers(-5, 12)), max_size=40),
    cap=st.sampled_from([4, 5, 100]),
)
def test_a_batchs_sightings_change_what_sightings_one_by_one_change(
    prior: dict[str, int], seq: list[tuple[str, int, int]], cap: int
) -> None:
    """``KpiState._sight`` takes a tracker's sightings of a batch at once (inline below
    the cap, one by one past it): the same changes by minute, the same sightings moved,
    the same tracker after."""
    state = KpiState(distinct_cap=cap)
    state.brands["acme"] = BrandState()
    state.tracker(state.brands["acme"], C.reach, (ALL, ALL)).last.update(prior)
    reference = DistinctTracker(cap=cap, last=dict(prior))
    expected: Counter[int] = Counter()
    moved = []
    for who, minute, expired in seq:
        found = reference.sight(who, minute, expired)
        for at, change in found:
            expected[at] += change
        if found:
            moved.append((C.reach, "all\x1fall", who, minute))
    deltas: dict = {}
    sightings: dict = {}
    state._sight("acme", C.reach, (ALL, ALL), seq, deltas, sightings)
    got = {at: vec[C.reach] for (_brand, at, _group), vec in deltas.items()}
    assert {at: n for at, n in got.items() if n} == {at: n for at, n in expected.items() if n}
    assert sorted((*entry, m) for (_b, m), es in sightings.items() for entry in es) == sorted(moved)
    tracker = state.brands["acme"].distinct[C.reach][(ALL, ALL)]
    assert (tracker.last, tracker.level) == (reference.last, reference.level)


#: event times (seconds after T): minutes apart, and jumps of more than a day
_OFFSETS = (0, 60, 120, 3_600, 26 * 3_600, 26 * 3_600 + 60, 50 * 3_600)


@settings(max_examples=300, deadline=None)
@given(
    stream=st.lists(
        st.tuples(_WHO, st.sampled_from(_OFFSETS), st.sampled_from(["x", "y"])),
        min_size=1,
        max_size=30,
    ),
    cap=st.sampled_from([2, 3, 100]),
    cut=st.integers(1, 30),
)
def test_distinct_counts_do_not_depend_on_how_a_stream_is_cut(
    stream: list[tuple[str, int, str]], cap: int, cut: int
) -> None:
    """Sightings before and after a jump of more than a day in one batch (the trackers
    are pruned in between), sightings of a who older than the 24h window (the lateness
    allows 9 days), samples past a small cap: the trackers and the reach totals are those
    of the same events applied one at a time."""
    events = [
        validate_event(
            {
                "id": f"e{i}",
                "ts": T + offset,
                "brand": "acme",
                "kind": "impression",
                "platform": platform,
                "author": {"id": who},
            }
        )
        for i, (who, offset, platform) in enumerate(stream)
    ]
    states = [KpiState(distinct_cap=cap, allowed_lateness=9 * 86_400) for _ in range(3)]
    states[0].apply(events)
    for ev in events:
        states[1].apply([ev])
    for start in range(0, len(events), cut):
        states[2].apply(events[start : start + cut])

    def trackers(state: KpiState) -> dict[object, object]:
        bs = state.brands["acme"]
        return {
            (counter, group): (tracker.level, tracker.last)
            for counter, by_group in bs.distinct.items()
            for group, tracker in by_group.items()
        }

    def reach(state: KpiState) -> dict[object, float]:
        totals = state.brands["acme"].totals
        return {
            (w, g): v[C.reach]
            for w, by_group in totals.items()
            for g, v in by_group.items()
            if v[C.reach]
        }

    for state in states[1:]:
        assert trackers(state) == trackers(states[0])
        assert reach(state) == reach(states[0])


def test_a_who_seen_a_day_later_counts_once_after_its_first_minute_left_the_window() -> None:
    """Its first minute was merged into a 15-minute bucket, which has left the 24h window
    while the minute itself would not have: its move out of that minute changes nothing
    (it used to revive the minute with a count of -1, so one event a batch undercounted)."""
    start = 28_333_335 - 28_333_335 % 15  # a 15-minute bucket's first minute
    stream = [("a", start + 5)] + [("b", start + 5 + 30 * j) for j in range(1, 48)]
    stream += [("b", start + 1_441), ("a", start + 1_442)]
    events = [
        validate_event(
            {
                "id": f"e{i}",
                "ts": minute * 60.0,
                "brand": "acme",
                "kind": "impression",
                "platform": "x",
                "author": {"id": who},
            }
        )
        for i, (who, minute) in enumerate(stream)
    ]
    batched, one_by_one = KpiState(), KpiState()
    batched.apply(events)
    for ev in events:
        one_by_one.apply([ev])
    for state in (batched, one_by_one):
        bs = state.brands["acme"]
        assert bs.totals["24h"][(ALL, ALL)][C.reach] == 2  # a and b
        assert all(v[C.reach] >= 0 for bucket in bs.buckets.values() for v in bucket.values())
