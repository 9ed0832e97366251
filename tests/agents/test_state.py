"""KpiState: event-time minute buckets, rolling windows, lateness, dedup, restore."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialpulse.agents.counters import C, N
from socialpulse.agents.state import ALL, COARSE, OTHER, KpiState, coarse_slot, dense, sparse
from socialpulse.streams import codec
from socialpulse.streams.validation import validate_event

M = 28_333_334  # a minute number; M * 60 = 1_700_000_040
T = M * 60  # start of minute M


def ev(
    eid: str, ts: float, kind: str = "impression", brand: str = "acme", **fields: object
) -> dict:
    return validate_event({"id": eid, "ts": ts, "brand": brand, "kind": kind, **fields})


def impressions(state: KpiState, window: str, group: tuple[str, str] = (ALL, ALL)) -> float:
    return state.brands["acme"].totals[window].get(group, [0.0] * 40)[C.impressions]


def test_window_membership_at_minute_resolution() -> None:
    state = KpiState(allowed_lateness=100_000)
    state.apply([ev("now", T + 30, count=1)])  # watermark in minute M
    state.apply(
        [
            ev("m-4", T - 4 * 60 + 59, count=10),  # minute M-4: inside 5m
            ev("m-5", T - 5 * 60, count=100),  # minute M-5: outside 5m, inside 1h
            ev("m-59", T - 59 * 60, count=1000),  # inside 1h
            ev("m-60", T - 60 * 60, count=10000),  # outside 1h, inside 24h
        ]
    )
    assert impressions(state, "5m") == 11
    assert impressions(state, "1h") == 1111
    assert impressions(state, "24h") == 11111


def test_watermark_advance_moves_buckets_out() -> None:
    state = KpiState()
    state.apply([ev("a", T + 1, count=7)])
    assert impressions(state, "5m") == 7
    state.apply([ev("b", T + 4 * 60 + 10, count=1)])  # minute M+4: M still inside
    assert impressions(state, "5m") == 8
    state.apply([ev("c", T + 5 * 60, count=2)])  # minute M+5: M leaves 5m
    assert impressions(state, "5m") == 3
    assert impressions(state, "1h") == 10
    assert state.brands["acme"].watermark == T + 5 * 60


def test_late_events_are_reported_not_counted() -> None:
    state = KpiState(allowed_lateness=600)
    state.apply([ev("a", T + 3600)])
    result = state.apply([ev("on-time", T + 3600 - 600), ev("late", T + 3600 - 601)])
    assert [e["id"] for e in result.late] == ["late"]
    assert [e["id"] for e in result.accepted] == ["on-time"]
    assert impressions(state, "1h") == 2


def test_duplicate_ids_count_once_within_and_across_batches() -> None:
    state = KpiState()
    first = state.apply([ev("x", T + 1), ev("x", T + 2), ev("y", T + 3)])
    second = state.apply([ev("y", T + 3), ev("z", T + 4)])
    assert first.duplicates == {"acme": 1}
    assert second.duplicates == {"acme": 1}
    assert impressions(state, "5m") == 3


def test_same_id_for_two_brands_counts_for_both() -> None:
    state = KpiState()
    result = state.apply([ev("x", T + 1, brand="acme"), ev("x", T + 1, brand="globex")])
    assert not result.duplicates
    assert set(state.brands) == {"acme", "globex"}


def test_dedup_horizon_forgets_old_ids_which_are_late_anyway() -> None:
    state = KpiState(allowed_lateness=600)
    state.apply([ev("x", T + 1)])
    state.apply([ev("far", T + 3600)])
    assert "x" not in state.brands["acme"].seen
    result = state.apply([ev("x", T + 1)])
    assert [e["id"] for e in result.late] == ["x"]


def test_groups_platform_campaign_and_caps() -> None:
    state = KpiState(platform_cap=2, campaign_cap=1)
    state.apply(
        [
            ev("1", T, platform="x", campaign="spring"),
            ev("2", T, platform="instagram", campaign="fall"),
            ev("3", T, platform="tiktok"),
        ]
    )
    totals = state.brands["acme"].totals["5m"]
    assert totals[(ALL, ALL)][C.impressions] == 3
    assert totals[("x", ALL)][C.impressions] == 1
    assert totals[("instagram", ALL)][C.impressions] == 1
    assert totals[(OTHER, ALL)][C.impressions] == 1  # tiktok folded past the cap of 2
    assert totals[(ALL, "spring")][C.impressions] == 1
    assert totals[(ALL, OTHER)][C.impressions] == 1  # fall folded past the cap of 1
    assert (ALL, "tiktok") not in totals


def test_buckets_older_than_24h_are_evicted() -> None:
    state = KpiState()
    state.apply([ev("old", T)])
    result = state.apply([ev("new", T + 1440 * 60)])
    assert ("acme", M) in result.evicted
    assert M not in state.brands["acme"].buckets
    assert impressions(state, "24h") == 1


def test_restore_rebuilds_the_same_totals() -> None:
    state = KpiState(allowed_lateness=100_000)
    rng = random.Random(7)
    events = [
        ev(
            f"e{i}",
            T + rng.uniform(-3 * 3600, 0),
            rng.choice(["impression", "like", "mention"]),
            platform=rng.choice(["x", "web"]),
            campaign=rng.choice([None, "c1"]) or "c2",
            count=rng.randint(1, 5),
        )
        for i in range(300)
    ]
    state.apply(events)
    bs = state.brands["acme"]
    records = [("acme", m, state.bucket_record("acme", m)) for m in bs.buckets]
    seen = [("acme", m, ids) for m, ids in bs.seen_minutes.items()]
    restored = KpiState(allowed_lateness=100_000)
    restored.restore({"acme": {"wm": bs.watermark}}, records, seen)  # type: ignore[arg-type]
    rb = restored.brands["acme"]
    for window in ("5m", "1h", "24h"):
        assert rb.totals[window].keys() == bs.totals[window].keys()
        for group, vec in bs.totals[window].items():
            assert rb.totals[window][group] == vec
    assert rb.seen == bs.seen
    again = restored.apply([events[0]])
    assert again.duplicates == {"acme": 1}


def test_restore_rebuilds_the_totals_of_minute_and_compacted_buckets() -> None:
    """Five hours in time order with the default lateness: minutes past the compaction age
    are merged into coarse buckets, which only the 24h window reads after a restore."""
    state = KpiState()
    rng = random.Random(11)
    for minute in range(5 * 60):
        state.apply(
            [
                ev(
                    f"e{minute}-{i}",
                    T + minute * 60 + rng.uniform(0, 59),
                    rng.choice(["impression", "like", "conversion"]),
                    platform=rng.choice(["x", "web"]),
                    campaign=rng.choice(["c1", "c2"]),
                    count=rng.randint(1, 5),
                    value=round(rng.uniform(0, 100), 2),
                )
                for i in range(3)
            ]
        )
    bs = state.brands["acme"]
    assert bs.coarse and bs.buckets  # both kinds are restored
    slots = [*bs.buckets, *(coarse_slot(start) for start in bs.coarse)]
    records = [("acme", m, state.bucket_record("acme", m)) for m in slots]
    restored = KpiState()
    restored.restore({"acme": {"wm": bs.watermark}}, records, [])  # type: ignore[arg-type]
    rb = restored.brands["acme"]
    for window in ("5m", "1h", "24h"):
        assert rb.totals[window].keys() == bs.totals[window].keys()
        for group, vec in bs.totals[window].items():
            assert list(rb.totals[window][group]) == pytest.approx(list(vec), abs=1e-6)
    assert rb.totals["24h"][(ALL, ALL)][C.impressions] > rb.totals["1h"][(ALL, ALL)][C.impressions]


def _window_snapshot(state: KpiState) -> dict:
    return {
        brand: {
            w: {g: [round(v, 9) for v in vec] for g, vec in t.items() if any(vec)}
            for w, t in bs.totals.items()
        }
        for brand, bs in state.brands.items()
    }


def sorted_and_shuffled(
    events: list[dict], rnd: random.Random, batch: int
) -> tuple[KpiState, KpiState]:
    """The same events applied in time order in one batch, and shuffled in small batches."""
    ordered = KpiState(allowed_lateness=600)
    ordered.apply([validate_event(dict(e)) for e in sorted(events, key=lambda e: e["ts"])])
    shuffled = list(events)
    rnd.shuffle(shuffled)
    batched = KpiState(allowed_lateness=600)
    for i in range(0, len(shuffled), batch):
        batched.apply([validate_event(dict(e)) for e in shuffled[i : i + batch]])
    return ordered, batched


event_lists = st.lists(
    st.tuples(
        st.integers(0, 599),  # seconds behind the latest event: always within lateness
        st.sampled_from(["impression", "like", "click", "mention", "share"]),
        st.sampled_from(["acme", "globex"]),
        st.sampled_from(["x", "web"]),
        st.integers(1, 3),
    ),
    min_size=1,
    max_size=60,
)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(event_lists, st.randoms(use_true_random=False), st.integers(1, 10))
def test_any_order_and_any_batching_give_the_same_kpis(raw, rnd, batch) -> None:
    base = T + 3600
    events = [
        {"id": f"e{i}", "ts": base - back, "brand": b, "kind": k, "platform": p, "count": n}
        for i, (back, k, b, p, n) in enumerate(raw)
    ]
    sorted_state, batched_state = sorted_and_shuffled(events, rnd, batch)
    assert _window_snapshot(batched_state) == _window_snapshot(sorted_state)


def test_minutes_between_with_and_without_scanning() -> None:
    from socialpulse.agents.minutes import minutes_between

    held = {m: None for m in (3, 5, 9, 100)}
    assert minutes_between(held, 4, 9) == [5, 9]  # short range: walked
    assert minutes_between(held, 0, 10_000) == [3, 5, 9, 100]  # long range: scanned
    assert minutes_between(held, 10, 9) == []


def test_window_totals_equal_their_buckets_over_three_days() -> None:
    """The running totals always equal a fresh sum of the buckets inside each window."""
    from socialpulse.agents.state import WINDOWS

    rng = random.Random(11)
    state = KpiState(allowed_lateness=600)
    ts = float(T)
    for batch in range(300):
        events = []
        for i in range(40):
            ts += rng.expovariate(1 / 20)  # ~2.8 days of event time in all
            jitter = rng.uniform(0, 500)  # within lateness: out of order
            events.append(
                ev(
                    f"b{batch}-{i}",
                    ts - jitter,
                    rng.choice(["impression", "like"]),
                    platform=rng.choice(["x", "web"]),
                    author={"id": f"u{i % 9}"},
                )
            )
        state.apply(events)
    bs = state.brands["acme"]
    assert bs.wm_minute is not None and bs.wm_minute - M > 2 * 1440  # evictions happened
    assert min(bs.buckets) > bs.wm_minute - 1440
    # minutes past the compaction age live in coarse buckets, read by the 24h window only
    assert max(bs.wm_minute - m for m in bs.buckets) <= state.compact_age + 1
    assert bs.coarse and min(bs.coarse) > bs.wm_minute - 1440
    assert all(c % COARSE == 0 for c in bs.coarse)
    for window, width in WINDOWS.items():
        for group, vec in bs.totals[window].items():
            fresh = [0.0] * len(vec)
            held = list(bs.buckets.items())
            if window == "24h":
                held += list(bs.coarse.items())
            for minute, bucket in held:
                if minute > bs.wm_minute - width and group in bucket:
                    fresh = [a + b for a, b in zip(fresh, bucket[group], strict=True)]
            assert vec == pytest.approx(fresh), (window, group)
    # and a restart rebuilds the same totals from the persisted minute and coarse records
    from socialpulse.agents.state import coarse_slot

    slots = [*bs.buckets, *(coarse_slot(c) for c in bs.coarse)]
    records = [("acme", slot, state.bucket_record("acme", slot)) for slot in slots]
    restored = KpiState(allowed_lateness=600)
    restored.restore({"acme": state.brand_record("acme")}, records, [])
    for window in WINDOWS:
        rebuilt = restored.brands["acme"].totals[window]
        for group, vec in bs.totals[window].items():
            assert rebuilt.get(group, [0.0] * len(vec)) == pytest.approx(vec), (window, group)


def _exported(state: KpiState) -> dict:
    from prometheus_client import CollectorRegistry

    from socialpulse.agents.exporter import KpiCollector

    reg = CollectorRegistry()
    reg.register(KpiCollector(state))
    return {
        (s.name, tuple(sorted(s.labels.items()))): round(s.value, 6)
        for family in reg.collect()
        for s in family.samples
    }


rich_events = st.lists(
    st.tuples(
        st.integers(0, 599),  # seconds behind the latest event: always within lateness
        st.sampled_from(
            ["impression", "like", "share", "mention", "follow", "followers", "click", "conversion"]
        ),
        st.sampled_from(["acme", "globex"]),
        st.integers(0, 5),  # author
        st.sampled_from([None, -0.8, -0.2, 0.0, 0.3, 0.9]),  # sentiment
        st.sampled_from([None, "c1", "c2"]),  # campaign
    ),
    min_size=1,
    max_size=50,
)


@settings(derandomize=True, max_examples=120, deadline=None)
@given(rich_events, st.randoms(use_true_random=False), st.integers(1, 8))
def test_every_exported_kpi_is_the_same_in_any_order_and_batching(raw, rnd, batch) -> None:
    base = T + 3600
    events = []
    for i, (back, kind, brand, author, sentiment, campaign) in enumerate(raw):
        e = {
            "id": f"e{i}",
            "ts": base - back,
            "brand": brand,
            "kind": kind,
            "platform": "x",
            "author": {"id": f"a{author}", "followers": 100 * (author + 1), "location": "PL"},
            "hashtags": [f"t{author % 2}"],
        }
        if sentiment is not None:
            e["sentiment"] = sentiment
        if campaign:
            e["campaign"], e["variant"] = campaign, "ab"[author % 2]
        if kind in ("followers", "conversion"):
            e["value"] = 1000.0 + i
        events.append(e)
    ordered, batched = sorted_and_shuffled(events, rnd, batch)
    assert _exported(batched) == _exported(ordered)


def test_a_move_out_of_a_minute_evicted_in_the_same_batch_revives_no_bucket() -> None:
    state = KpiState()
    state.apply([ev("a", T, author={"id": "v"})])
    # one batch: v is seen again 2 minutes later (a pending move out of minute M), then the
    # watermark jumps past 24h and evicts minute M before the batch's deltas are applied
    state.apply([ev("b", T + 120, author={"id": "v"}), ev("jump", T + 1441 * 60)])
    bs = state.brands["acme"]
    assert all(m > M for m in bs.buckets)
    assert bs.totals["24h"][(ALL, ALL)][C.reach] == 1  # v, last seen at minute M + 2


@given(st.dictionaries(st.integers(0, N - 1), st.floats(-1e12, 1e12, allow_nan=False)))
def test_a_counter_vector_comes_back_from_its_sparse_record(values: dict[int, float]) -> None:
    vec = dense([0.0] * N)
    for i, v in values.items():
        vec[i] = v
    assert dense(codec.loads(codec.dumps(sparse(vec)))) == vec


def test_dense_records_written_before_the_sparse_form_still_restore() -> None:
    old = [float(i) for i in range(N - 2)]  # and before the last two counters were added
    assert list(dense(old)) == [*old, 0.0, 0.0]
    assert len(codec.dumps(sparse(dense([*([0.0] * (N - 2)), 4.0, 1.0])))) < 20


def test_brands_begun_from_nothing_are_told_apart_from_restored_ones() -> None:
    """``take_created``: the detectors skip seeding these (their buckets hold the batch's
    events alone); a restored brand, or one forgotten meanwhile, is not among them."""
    state = KpiState()
    state.apply([ev("a", T, brand="acme"), ev("g", T, brand="globex")])
    state.expect("initech", 1, T)  # a brand waiting for forwards is begun too
    assert state.take_created() == {"acme", "globex", "initech"}
    assert state.take_created() == set()
    state.apply([ev("u", T, brand="umbrella")])
    state.forget(["umbrella"])
    state.restore({"hooli": {"wm": T}}, [], [])
    state.apply([ev("h", T + 1, brand="hooli")])
    assert state.take_created() == set()


def test_hourly_sums_are_those_of_the_events_counted() -> None:
    """Engagements and impressions per epoch hour, summed once per batch from the
    counters: duplicates and late events add nothing."""
    state = KpiState(allowed_lateness=60)
    hour = int(T // 3600)
    state.apply(
        [
            ev("i1", T, count=3),
            ev("v1", T + 1, kind="view", count=2),
            ev("l1", T + 2, kind="like", count=4),
            ev("c1", T + 3, kind="click"),
            ev("l1", T + 4, kind="like", count=4),  # a duplicate
            ev("m1", T + 5, kind="mention"),  # neither
            ev("i2", T + 3600, count=7),
            ev("late", T, kind="like", count=100),  # older than the allowed lateness
        ]
    )
    assert state.brands["acme"].hourly.hours == {hour: [5.0, 5.0], hour + 1: [0.0, 7.0]}
