"""Reach, followers and their rates, share of voice, distinct visitors and requesters,
headline KPIs: hand-worked event sets, expected values written out."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.settings import FileConfig
from socialpulse.agents.state import KpiState
from socialpulse.streams.validation import validate_event

T = 1_700_000_040.0  # start of a minute


class Events:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, kind: str, at: float = 5, brand: str = "acme", **f: object) -> dict:
        self.n += 1
        base = {"id": f"a{self.n}", "ts": T + at, "brand": brand, "kind": kind, "platform": "x"}
        return validate_event({**base, **f})


def collect(state: KpiState, **config: object) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(KpiCollector(state, FileConfig.model_validate(config)))
    return reg


def get(
    reg: CollectorRegistry,
    metric: str,
    brand: str = "acme",
    window: str = "1h",
    platform: str = "all",
    campaign: str = "all",
) -> float | None:
    labels = {"brand": brand, "platform": platform, "campaign": campaign, "window": window}
    return reg.get_sample_value(metric, labels)


def test_reach_counts_distinct_viewers_in_each_window() -> None:
    e = Events()
    state = KpiState(allowed_lateness=100_000)
    state.apply(
        [
            e("impression", at=-50 * 60, count=5, author={"id": "v1"}),  # 50 min ago: 1h only
            e("impression", at=1, count=3, author={"id": "v1"}),  # v1 again, now
            e("view", at=2, author={"id": "v2"}),
            e("impression", at=3, author={"id": "v3"}, platform="instagram"),
            e("impression", at=4, count=4),  # no author: impressions, not reach
            e("impression", at=-30 * 60, author={"id": "v4"}),  # 30 min ago
            e("like", at=5),
            e("like", at=5),
            e("share", at=5),
        ]
    )
    reg = collect(state)
    assert get(reg, "socialpulse_reach", window="5m") == 3  # v1, v2, v3
    assert get(reg, "socialpulse_reach", window="1h") == 4  # v1 counted once, + v4
    assert get(reg, "socialpulse_reach", window="5m", platform="x") == 2
    assert get(reg, "socialpulse_reach", window="5m", platform="instagram") == 1
    assert get(reg, "socialpulse_impressions", window="1h") == 5 + 3 + 1 + 1 + 4 + 1
    assert get(reg, "socialpulse_engagement_rate_by_reach_ratio", window="5m") == 1.0  # 3 / 3
    assert get(reg, "socialpulse_engagement_rate_by_reach_ratio", window="1h") == 0.75  # 3 / 4


def test_reach_after_the_watermark_moves_on() -> None:
    e = Events()
    state = KpiState()
    state.apply(
        [e("impression", at=0, author={"id": "v1"}), e("impression", at=0, author={"id": "v2"})]
    )
    state.apply([e("impression", at=6 * 60, author={"id": "v1"})])  # v1 again, 6 min later
    reg = collect(state)
    assert get(reg, "socialpulse_reach", window="5m") == 1  # only v1 in the last 5 minutes
    assert get(reg, "socialpulse_reach", window="1h") == 2


def test_followers_snapshot_plus_changes_after_it() -> None:
    e = Events()
    state = KpiState()
    state.apply(
        [
            e("follow", at=0),  # before the snapshot: already in its total
            e("followers", at=10, value=1000),
            e("follow", at=20, count=3),
            e("unfollow", at=30),
            e("followers", at=15, value=500, platform="instagram"),
            e("like", at=40, count=1),
            e("reaction", at=40),
            e("share", at=40),
            e("share", at=41),
            e("comment", at=41),
        ]
    )
    reg = collect(state)
    assert get(reg, "socialpulse_followers") == 1002 + 500  # 1000 + 3 − 1, + instagram
    assert get(reg, "socialpulse_followers", platform="x") == 1002
    assert get(reg, "socialpulse_followers", platform="instagram") == 500
    # net follows in the window: +1 + 3 − 1 = 3; followers at window start: 1502 − 3
    assert get(reg, "socialpulse_audience_growth_ratio") == pytest.approx(3 / 1499)
    assert get(reg, "socialpulse_applause_ratio") == pytest.approx(2 / 1502)
    assert get(reg, "socialpulse_amplification_ratio") == pytest.approx(2 / 1502)
    assert get(reg, "socialpulse_engagement_rate_by_followers_ratio") == pytest.approx(5 / 1502)
    assert get(reg, "socialpulse_applause_ratio", platform="x") == pytest.approx(2 / 1002)


def test_a_newer_snapshot_replaces_the_older_and_its_changes() -> None:
    e = Events()
    state = KpiState()
    state.apply(
        [
            e("followers", at=10, value=1000),
            e("follow", at=20, count=5),
            e("followers", at=30, value=2000),
            e("follow", at=25),  # before the new one
            e("followers", at=5, value=1),
        ]
    )  # older than the current one: ignored
    assert get(collect(state), "socialpulse_followers") == 2000


def test_no_follower_kpis_without_any_follower_event() -> None:
    e = Events()
    state = KpiState()
    state.apply([e("like"), e("impression")])
    reg = collect(state)
    for metric in (
        "socialpulse_followers",
        "socialpulse_applause_ratio",
        "socialpulse_audience_growth_ratio",
    ):
        assert get(reg, metric) is None


def test_follows_without_a_snapshot_still_count() -> None:
    """docs/kpis.md: a platform that never sent a ``followers`` snapshot counts all of its
    follows and unfollows (from 0), and the total sums over platforms."""
    e = Events()
    state = KpiState(allowed_lateness=100_000)
    state.apply(
        [
            e("follow", count=5),
            e("unfollow", at=6),
            e("like", at=7, count=2),
            e("followers", at=1, value=1000, platform="instagram"),
            e("follow", at=2, platform="instagram"),
            e("follow", at=-600, platform="tiktok", count=3),  # folded later: still counts
        ]
    )
    reg = collect(state)
    assert get(reg, "socialpulse_followers", platform="x") == 4
    assert get(reg, "socialpulse_followers", platform="instagram") == 1001
    assert get(reg, "socialpulse_followers", platform="tiktok") == 3
    assert get(reg, "socialpulse_followers") == 1008
    assert get(reg, "socialpulse_applause_ratio", platform="x") == pytest.approx(2 / 4)
    # the fold keeps them when the watermark moves far past them
    state.apply([e("like", at=3 * 3600)])
    reg = collect(state)
    assert get(reg, "socialpulse_followers", platform="tiktok") == 3
    assert get(reg, "socialpulse_followers") == 1008


def test_share_of_voice_by_configured_group_and_by_default() -> None:
    e = Events()
    state = KpiState()
    state.apply(
        [
            *[e("mention", brand="acme") for _ in range(3)],
            e("mention", brand="globex"),
            *[e("mention", brand="other") for _ in range(4)],
        ]
    )
    reg = collect(state, competitor_groups={"market": ["acme", "globex"]})
    assert get(reg, "socialpulse_share_of_voice_ratio", brand="acme") == 0.75  # 3 / (3 + 1)
    assert get(reg, "socialpulse_share_of_voice_ratio", brand="globex") == 0.25
    assert get(reg, "socialpulse_share_of_voice_ratio", brand="other") is None  # in no group
    assert get(reg, "socialpulse_share_of_voice_ratio", brand="acme", platform="x") == 0.75
    everyone = collect(state)  # no groups configured: all brands seen form one group
    assert get(everyone, "socialpulse_share_of_voice_ratio", brand="acme") == 3 / 8
    assert get(everyone, "socialpulse_share_of_voice_ratio", brand="other") == 4 / 8


def test_share_of_voice_sums_each_window_and_label_group_of_its_own() -> None:
    """The group's mentions are summed once per scrape for each window and label group:
    windows and platforms with other mentions give other shares."""
    e = Events()
    state = KpiState()
    state.apply(
        [
            e("mention", at=-1800, brand="acme"),  # in the 1h window, not the 5m one
            e("mention", at=-1800, brand="globex", platform="y"),
            e("mention", at=-1800, brand="globex", platform="y"),
            e("mention", brand="acme"),
            e("mention", brand="globex"),
            e("mention", brand="globex", platform="y"),
        ]
    )
    for reg in (collect(state), collect(state, competitor_groups={"m": ["acme", "globex"]})):
        assert get(reg, "socialpulse_share_of_voice_ratio", window="5m") == 1 / 3
        assert get(reg, "socialpulse_share_of_voice_ratio", window="1h") == 2 / 6
        assert get(reg, "socialpulse_share_of_voice_ratio", window="5m", platform="x") == 1 / 2
        share = get(reg, "socialpulse_share_of_voice_ratio", brand="globex", platform="y")
        assert share == 1.0  # 1h: acme has no mention on y
        share = get(reg, "socialpulse_share_of_voice_ratio", brand="globex", window="5m")
        assert share == 2 / 3


def test_repeat_visits_and_requests_per_customer() -> None:
    e = Events()
    state = KpiState()
    state.apply(
        [
            e("visit", session="s1", platform="web"),
            e("visit", session="s1", platform="web"),
            e("visit", author={"id": "u1"}, platform="web"),
            e("visit", session="s2", platform="web"),
            e("service_request", author={"id": "c1"}),
            e("service_request", author={"id": "c1"}),
            e("service_request", author={"id": "c2"}),
        ]
    )
    reg = collect(state)
    assert get(reg, "socialpulse_repeat_visit_ratio") == 0.25  # (4 visits − 3 visitors) / 4
    assert get(reg, "socialpulse_service_requests_per_customer") == 1.5  # 3 / 2


def test_headline_kpis_follow_the_goal() -> None:
    state = KpiState()
    reg = collect(state, brands={"acme": {"goal": "leads"}, "globex": {"goal": "awareness"}})
    leads = {"leads", "cost_per_lead", "conversion_rate_ratio", "click_through_ratio"}
    for kpi in leads:
        labels = {"brand": "acme", "goal": "leads", "kpi": kpi}
        assert reg.get_sample_value("socialpulse_headline_kpi", labels) == 1
    assert (
        reg.get_sample_value(
            "socialpulse_headline_kpi", {"brand": "acme", "goal": "leads", "kpi": "reach"}
        )
        is None
    )
    awareness = [
        s
        for m in reg.collect()
        if m.name == "socialpulse_headline_kpi"
        for s in m.samples
        if s.labels["brand"] == "globex"
    ]
    assert len(awareness) == 6


def test_restore_keeps_reach_and_followers() -> None:
    e = Events()
    state = KpiState()
    state.apply([e("impression", author={"id": "v1"}), e("followers", value=10), e("follow", at=9)])
    bs = state.brands["acme"]
    records = [("acme", m, state.bucket_record("acme", m)) for m in bs.buckets]
    sightings = [
        ("acme", minute, [[counter, "all\x1fall", who]])
        for counter, groups in bs.distinct.items()
        for who, minute in groups[("all", "all")].last.items()
    ]
    restored = KpiState()
    restored.restore({"acme": state.brand_record("acme")}, records, [], sightings)
    reg = collect(restored)
    assert get(reg, "socialpulse_followers") == 11
    assert get(reg, "socialpulse_reach", window="5m") == 1
    again = restored.apply([e("impression", at=20, author={"id": "v1"})])
    assert not again.late
    assert get(collect(restored), "socialpulse_reach", window="5m") == 1  # still one viewer
