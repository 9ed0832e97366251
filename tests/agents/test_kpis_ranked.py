"""Top amplifiers, hashtags, advocates, detractors, demographics, best time to post, A/B
test and program score: hand-worked event sets, expected values written out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.kpis import two_proportion_p_value
from socialpulse.agents.rankings import Rankings, age_band
from socialpulse.agents.settings import FileConfig
from socialpulse.agents.state import KpiState
from socialpulse.streams.validation import validate_event

T = 1_700_006_400.0  # 2023-11-15 00:00:00 UTC, start of an hour


class Events:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, kind: str, at: float = 0, brand: str = "acme", **f: object) -> dict:
        self.n += 1
        base = {"id": f"r{self.n}", "ts": T + at, "brand": brand, "kind": kind, "platform": "x"}
        return validate_event({**base, **f})


def collect(state: KpiState, timezone: str = "UTC", **config: object) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(KpiCollector(state, FileConfig.model_validate(config), timezone))
    return reg


def samples(reg: CollectorRegistry, metric: str) -> dict[tuple[str, ...], float]:
    out = {}
    for family in reg.collect():
        for s in family.samples:
            if s.name == metric:
                out[tuple(v for k, v in sorted(s.labels.items()) if k != "brand")] = s.value
    return out


def test_top_amplifiers_hashtags_in_the_last_hour() -> None:
    e = Events()
    state = KpiState(allowed_lateness=10_000)
    state.apply(
        [
            e("share", at=3600, author={"id": "big", "followers": 5000}, hashtags=["Launch"]),
            e(
                "mention",
                at=3610,
                author={"id": "big", "followers": 5000},
                hashtags=["launch", "x1"],
            ),
            e("share", at=3620, author={"id": "mid", "followers": 700}),
            e("like", at=3630, author={"id": "liker", "followers": 99999}),  # not an amplifier
            e("share", at=-100, author={"id": "old", "followers": 1_000_000}),  # outside 1h
        ]
    )
    reg = collect(state)
    # labels sorted by name: author, rank, window
    assert samples(reg, "socialpulse_top_amplifier_reach") == {
        ("big", "1", "1h"): 10000.0,
        ("mid", "2", "1h"): 700.0,
    }
    assert samples(reg, "socialpulse_top_hashtag_mentions") == {
        ("launch", "1", "1h"): 2.0,
        ("x1", "2", "1h"): 1.0,
    }


def test_advocates_and_detractors_over_24h() -> None:
    e = Events()
    state = KpiState(allowed_lateness=100_000)
    state.apply(
        [
            e("mention", at=0, sentiment=0.5, author={"id": "fan", "followers": 2000}),
            e("mention", at=60, sentiment=0.9, author={"id": "fan", "followers": 2000}),
            e("mention", at=120, sentiment=0.2, author={"id": "nice", "followers": 100}),
            e("mention", at=180, sentiment=-0.8, author={"id": "angry", "followers": 2600}),
            e("mention", at=240, sentiment=0.01, author={"id": "flat", "followers": 9999}),
            e("mention", at=-25 * 3600, sentiment=-1.0, author={"id": "past", "followers": 10**6}),
        ]
    )
    reg = collect(state)
    assert samples(reg, "socialpulse_top_advocate_score") == {
        ("fan", "1", "24h"): pytest.approx(2800.0),  # 2000 × (0.5 + 0.9)
        ("nice", "2", "24h"): pytest.approx(20.0),
    }
    assert samples(reg, "socialpulse_top_detractor_score") == {
        ("angry", "1", "24h"): pytest.approx(2080.0),  # 2600 × 0.8
    }


def test_top_ten_only() -> None:
    e = Events()
    state = KpiState()
    state.apply([e("share", author={"id": f"a{i:02}", "followers": 100 + i}) for i in range(15)])
    ranked = samples(collect(state), "socialpulse_top_amplifier_reach")
    assert len(ranked) == 10
    assert ranked[("a14", "1", "1h")] == 114
    assert ranked[("a05", "10", "1h")] == 105


@given(
    st.dictionaries(st.text(max_size=3), st.sampled_from([1.0, 2.0, 2.5, 7.0])), st.integers(0, 12)
)
def test_the_top_n_are_the_first_n_of_the_whole_ranking(tally: dict[str, float], n: int) -> None:
    """Largest first, ties by key, whether the top is taken by a heap or a sort."""
    rankings = Rankings()
    for key, amount in tally.items():
        rankings.add(100, 100, "hashtag", key, amount)
    whole = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
    assert rankings.top("hashtag", "1h", n) == whole[:n]
    assert rankings.top("hashtag", "1h", len(tally) + 1) == whole


def test_demographics_top_values_and_other() -> None:
    e = Events()
    state = KpiState()
    events = [
        e("impression", count=10, author={"id": "v1", "location": "pl", "age": 30, "gender": "F"}),
        e("view", count=5, author={"id": "v2", "location": "PL", "age": 17, "gender": "m"}),
        e("impression", count=2, author={"id": "v3", "age": 70}),
        e("impression", count=1, author={"id": "v4", "age": 12}),  # under 13: no band
    ]
    # 21 more countries with 1 impression each: 22 in all, the two smallest fold into other
    events += [e("impression", author={"location": f"C{i:02}"}) for i in range(21)]
    state.apply(events)
    got = samples(collect(state), "socialpulse_audience_impressions")
    # labels sorted by name: dimension, value, window
    assert got[("location", "PL", "1h")] == 15
    assert got[("age", "25-34", "1h")] == 10
    assert got[("age", "13-17", "1h")] == 5
    assert got[("age", "65+", "1h")] == 2
    assert got[("gender", "f", "5m")] == 10
    assert got[("gender", "m", "24h")] == 5
    countries = {k[1] for k in got if k[0] == "location" and k[2] == "1h"}
    assert len(countries) == 21  # PL + 19 others + "other"
    assert got[("location", "other", "1h")] == 2  # C19 and C20 (ties ranked by name)


def test_age_bands() -> None:
    assert [age_band(a) for a in (12, 13, 17, 18, 24, 25, 64, 65, 99)] == [
        None,
        "13-17",
        "13-17",
        "18-24",
        "18-24",
        "25-34",
        "55-64",
        "65+",
        "65+",
    ]


def test_best_time_to_post_by_local_hour_over_seven_days() -> None:
    e = Events()
    state = KpiState(allowed_lateness=10 * 86400)
    state.apply(
        [
            # 2023-11-15 09:xx UTC = 10:xx in Warsaw (UTC+1 in November)
            e("impression", at=9 * 3600, count=100),
            e("like", at=9 * 3600 + 5, count=10),
            # the same hour a day earlier
            e("impression", at=9 * 3600 - 86400, count=100),
            e("click", at=9 * 3600 - 86400),
            # 8 days earlier: outside the 7 days
            e("impression", at=9 * 3600 - 8 * 86400, count=1000),
            # 2023-11-15 20:xx UTC = 21:xx Warsaw
            e("impression", at=20 * 3600, count=50),
            e("share", at=20 * 3600 + 1, count=5),
        ]
    )
    warsaw = samples(
        collect(state, timezone="Europe/Warsaw"), "socialpulse_hourly_engagement_rate_ratio"
    )
    assert warsaw == {("10",): pytest.approx(11 / 200), ("21",): pytest.approx(5 / 50)}
    utc = samples(collect(state), "socialpulse_hourly_engagement_rate_ratio")
    assert set(utc) == {("9",), ("20",)}


def test_ab_variant_rates_and_p_value() -> None:
    e = Events()
    state = KpiState()
    events = []
    for variant, conversions in (("a", 20), ("b", 40)):
        events.append(e("click", count=200, campaign="spring", variant=variant))
        events.append(e("conversion", count=conversions, campaign="spring", variant=variant))
    events.append(e("click", count=5, campaign="spring", variant="c"))  # third: not leading
    state.apply(events)
    reg = collect(state)
    rates = samples(reg, "socialpulse_variant_conversion_rate_ratio")
    # labels sorted by name: campaign, variant, window
    assert rates[("spring", "a", "1h")] == 0.1
    assert rates[("spring", "b", "1h")] == 0.2
    assert rates[("spring", "c", "1h")] == 0.0
    p = samples(reg, "socialpulse_ab_p_value")
    # pooled p = 60/400, se = sqrt(.15 × .85 × 2/200) = .035707, z = −2.8006
    assert p[("spring", "5m")] == pytest.approx(0.0051014, rel=1e-4)
    # variant groups do not leak into the platform/campaign rows
    impressions_rows = samples(reg, "socialpulse_engagements")
    assert {k[1] for k in impressions_rows} <= {"all", "x"}


def test_two_proportion_p_value_edges() -> None:
    assert two_proportion_p_value(0, 0, 1, 10) is None
    assert two_proportion_p_value(0, 10, 0, 10) is None  # no variance
    assert two_proportion_p_value(5, 4, 1, 10) is None  # more conversions than clicks
    assert two_proportion_p_value(10, 100, 10, 100) == pytest.approx(1.0)


def test_program_score_weights_by_objective() -> None:
    e = Events()
    state = KpiState()
    state.apply(
        [
            *[e("impression", campaign="c1", author={"id": f"v{i}"}) for i in range(4)],
            e("share", campaign="c1", count=2),
            *[e("impression", campaign="c2", author={"id": f"w{i}"}) for i in range(2)],
            e("share", campaign="c2"),
            e("conversion", campaign="c2", value=100.0),
        ]
    )
    reg = collect(state, brands={"acme": {"campaigns": {"c2": {"objective": "direct_response"}}}})
    scores = samples(reg, "socialpulse_program_score")
    # normalised: reach c1 1, c2 .5; shares c1 1, c2 .5; revenue c1 0, c2 1
    # labels sorted by name: campaign, objective, window
    assert scores[("c1", "awareness", "1h")] == pytest.approx(0.6 + 0.3)
    assert scores[("c2", "direct_response", "1h")] == pytest.approx(0.1 * 0.5 + 0.2 * 0.5 + 0.7)
    weighted = collect(state, objective_weights={"awareness": {"reach": 0.0, "shares": 1.0}})
    assert samples(weighted, "socialpulse_program_score")[("c1", "awareness", "1h")] == 1.0


def test_restore_keeps_rankings_hourly_and_variants() -> None:
    e = Events()
    state = KpiState(allowed_lateness=100_000)
    state.apply(
        [
            e(
                "share",
                at=3600,
                author={"id": "big", "followers": 5000, "location": "DE"},
                hashtags=["a"],
                sentiment=0.5,
            ),
            e("impression", at=3601, count=7, author={"id": "v", "location": "DE", "age": 40}),
            e("click", at=3602, count=10, campaign="s", variant="a"),
            e("conversion", at=3603, count=2, campaign="s", variant="a"),
            e("click", at=3602, count=10, campaign="s", variant="b"),
            e("like", at=-3600, count=3),
        ]
    )
    bs = state.brands["acme"]
    records = [("acme", m, state.bucket_record("acme", m)) for m in bs.buckets]
    restored = KpiState(allowed_lateness=100_000)
    restored.restore({"acme": state.brand_record("acme")}, records, [])
    before, after = collect(state), collect(restored)
    for metric in (
        "socialpulse_top_amplifier_reach",
        "socialpulse_top_hashtag_mentions",
        "socialpulse_top_advocate_score",
        "socialpulse_audience_impressions",
        "socialpulse_hourly_engagement_rate_ratio",
        "socialpulse_variant_conversion_rate_ratio",
        "socialpulse_ab_p_value",
        "socialpulse_engagements",
    ):
        assert samples(after, metric) == samples(before, metric), metric
        assert samples(before, metric), metric


def test_advocates_survive_compaction_and_restore() -> None:
    """19 mentions 10 minutes apart: most of them older than the compaction age."""
    from socialpulse.agents.state import coarse_slot

    e = Events()
    state = KpiState(allowed_lateness=600)
    for i in range(19):
        state.apply(
            [e("mention", at=600 * i, sentiment=0.5, author={"id": "fan", "followers": 100})]
        )
    bs = state.brands["acme"]
    assert bs.rankings.coarse  # compaction happened
    expected = {("fan", "1", "24h"): pytest.approx(19 * 50.0)}
    assert samples(collect(state), "socialpulse_top_advocate_score") == expected
    slots = [*bs.buckets, *(coarse_slot(c) for c in bs.coarse)]
    records = [("acme", s, state.bucket_record("acme", s)) for s in slots]
    restored = KpiState(allowed_lateness=600)
    restored.restore({"acme": state.brand_record("acme")}, records, [])
    assert samples(collect(restored), "socialpulse_top_advocate_score") == expected
    # a day after the 3rd mention's minute only the 4th onwards are left (15-minute edge)
    restored.apply([e("like", at=600 * 2 + 1440 * 60 + 60)])
    left = samples(collect(restored), "socialpulse_top_advocate_score")
    assert left == {("fan", "1", "24h"): pytest.approx(16 * 50.0)}
