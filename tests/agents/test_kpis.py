"""Each KPI on a small hand-worked event set; expected values are written out here."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.state import KpiState
from socialpulse.streams.validation import validate_event

T = 1_700_000_040.0  # start of a minute


def _events() -> list[dict]:
    n = iter(range(1000))

    def e(kind: str, **f: object) -> dict:
        return validate_event(
            {"id": f"k{next(n)}", "ts": T + 5, "brand": "acme", "kind": kind, "platform": "x", **f}
        )

    return [
        e("impression", count=10),
        e("impression", count=10),
        e("view", count=5),
        e("like"),
        e("like"),
        e("reaction"),
        e("comment"),
        e("share"),
        e("save"),
        e("click", count=2),
        e("mention", text="great", sentiment=0.5, author={"id": "a", "followers": 50}),
        e("mention", text="awful", sentiment=-0.5, author={"id": "b", "followers": 200}),
        e("mention", text="meh", sentiment=0.0),
        e("survey", survey="csat", score=5),
        e("survey", survey="csat", score=4),
        e("survey", survey="csat", score=3),
        e("survey", survey="csat", score=1),
        e("survey", survey="nps", score=10),
        e("survey", survey="nps", score=9),
        e("survey", survey="nps", score=8),
        e("survey", survey="nps", score=6),
        e("survey", survey="nps", score=0),
        e("survey", survey="nps", score=10),
        e("lead", count=3),
        e("lead"),
        e("conversion", value=100.0),
        e("conversion", value=50.0),
        e("ad_spend", value=30.0, platform="ads"),
        e("ad_spend", value=20.0, platform="ads"),
        e("visit", value=30, platform="web"),
        e("visit", value=60, platform="web"),
        e("visit", value=90, platform="web"),
        e("visit", platform="web"),
        e("bounce", platform="web"),
    ]


@pytest.fixture()
def registry() -> CollectorRegistry:
    state = KpiState()
    result = state.apply(_events())
    assert not result.late and not result.duplicates
    reg = CollectorRegistry()
    reg.register(KpiCollector(state))
    return reg


# written out by hand from _events():
EXPECTED = {
    "socialpulse_impressions": 25,  # 10 + 10 + 5
    "socialpulse_engagements": 8,  # 2 likes + reaction + comment + share + save + 2 clicks
    "socialpulse_engagement_rate_ratio": 0.32,  # 8 / 25
    "socialpulse_click_through_ratio": 0.08,  # 2 / 25
    "socialpulse_virality_ratio": 0.04,  # 1 share / 25
    "socialpulse_mentions": 3,
    "socialpulse_sentiment_mean": 0.0,  # (0.5 - 0.5 + 0) / 3
    "socialpulse_net_sentiment_ratio": 0.0,  # (1 - 1) / 2
    "socialpulse_negative_exposure": 100.0,  # 200 followers × 0.5
    "socialpulse_csat_ratio": 0.5,  # 2 of 4 answers ≥ 4
    "socialpulse_nps": 100 * (3 - 2) / 6,  # promoters 10, 9, 10; detractors 6, 0
    "socialpulse_leads": 4,
    "socialpulse_conversions": 2,
    "socialpulse_conversion_rate_ratio": 1.0,  # 2 conversions / 2 clicks
    "socialpulse_revenue": 150.0,
    "socialpulse_spend": 50.0,
    "socialpulse_cost_per_lead": 12.5,  # 50 / 4
    "socialpulse_cost_per_click": 25.0,  # 50 / 2
    "socialpulse_cost_per_mille": 2000.0,  # 50 / 25 × 1000
    "socialpulse_cost_per_acquisition": 25.0,  # 50 / 2
    "socialpulse_roas_ratio": 3.0,  # 150 / 50
    "socialpulse_bounce_ratio": 0.25,  # 1 bounce / 4 visits
    "socialpulse_visit_seconds_mean": 60.0,  # (30 + 60 + 90) / 3 timed visits
}


@pytest.mark.parametrize("metric", sorted(EXPECTED))
@pytest.mark.parametrize("window", ["5m", "1h", "24h"])
def test_kpi_value(registry: CollectorRegistry, metric: str, window: str) -> None:
    labels = {"brand": "acme", "platform": "all", "campaign": "all", "window": window}
    assert registry.get_sample_value(metric, labels) == pytest.approx(EXPECTED[metric])


def test_polarity_counts(registry: CollectorRegistry) -> None:
    base = {"brand": "acme", "platform": "all", "campaign": "all", "window": "1h"}
    for polarity, want in (("positive", 1), ("negative", 1), ("neutral", 1)):
        got = registry.get_sample_value(
            "socialpulse_sentiment_events", {**base, "polarity": polarity}
        )
        assert got == want


def test_per_platform_values(registry: CollectorRegistry) -> None:
    base = {"brand": "acme", "campaign": "all", "window": "1h"}
    assert registry.get_sample_value("socialpulse_spend", {**base, "platform": "ads"}) == 50.0
    assert registry.get_sample_value("socialpulse_impressions", {**base, "platform": "x"}) == 25
    # ads has spend but no impressions or clicks: its ratios are not exported
    assert (
        registry.get_sample_value("socialpulse_cost_per_click", {**base, "platform": "ads"}) is None
    )
    assert (
        registry.get_sample_value("socialpulse_cost_per_mille", {**base, "platform": "ads"}) is None
    )


def test_zero_denominators_are_not_exported() -> None:
    state = KpiState()
    state.apply([validate_event({"id": "1", "ts": T, "brand": "quiet", "kind": "mention"})])
    reg = CollectorRegistry()
    reg.register(KpiCollector(state))
    labels = {"brand": "quiet", "platform": "all", "campaign": "all", "window": "5m"}
    assert reg.get_sample_value("socialpulse_mentions", labels) == 1
    for ratio in (
        "socialpulse_engagement_rate_ratio",
        "socialpulse_net_sentiment_ratio",
        "socialpulse_nps",
        "socialpulse_roas_ratio",
        "socialpulse_sentiment_mean",
    ):
        assert reg.get_sample_value(ratio, labels) is None, ratio
