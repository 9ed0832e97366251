"""Crisis scenarios through the KPI state and the detectors, in event time, batch by batch."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from socialpulse.agents.state import KpiState
from socialpulse.alerts.detector import AlertEngine
from socialpulse.alerts.model import Alert
from socialpulse.alerts.rules import Tuning
from socialpulse.streams.validation import validate_event
from tests.alert_scenarios import big_account_post, stream

T0 = 1_700_000_000.0  # history starts here
CALM = 60  # minutes of calm history before anything happens
BURST = T0 + 60 * CALM


def run(
    events: Iterable[dict],
    tuning: Tuning | None = None,
    limits: dict | None = None,
    batch_seconds: float = 10.0,
) -> list[Alert]:
    state = KpiState()
    engine = AlertEngine(tuning, limits, clock=lambda: 0.0)
    alerts: list[Alert] = []
    ordered = sorted(events, key=lambda ev: ev["ts"])
    i = 0
    while i < len(ordered):
        end = ordered[i]["ts"] + batch_seconds
        j = i
        while j < len(ordered) and ordered[j]["ts"] < end:
            j += 1
        result = state.apply([validate_event(dict(ev)) for ev in ordered[i:j]])
        alerts += engine.detect(result.accepted, state.brands)
        i = j
    return alerts


def of(alerts: list[Alert], brand: str, rule: str | None = None) -> list[Alert]:
    return [a for a in alerts if a.brand == brand and (rule is None or a.rule == rule)]


def control(minutes: int = CALM + 40) -> list[dict]:
    return stream("calmco", T0, minutes, seed=1)


def test_calm_brands_raise_no_alert_in_hours() -> None:
    events = []
    volumes = [(2, 100), (4, 200), (8, 500), (15, 1000), (30, 3000), (60, 8000)]
    for k, (mentions, impressions) in enumerate(volumes):
        events += stream(f"calm{k}", T0, 360, seed=k, mentions=mentions, impressions=impressions)
    alerts = run(events)
    print(f"\ncalm: {len(alerts)} alerts over {len(volumes)} brands x 6 h of event time")
    assert alerts == []


def test_negative_burst_fires_within_a_minute_with_evidence_and_resolves() -> None:
    events = control() + stream("acme", T0, CALM, seed=2)
    events += stream("acme", BURST, 10, seed=3, mentions=40, negative_share=0.8, tag="burst")
    events += stream("acme", BURST + 600, 30, seed=4, tag="after")
    alerts = run(events)
    assert of(alerts, "calmco") == []
    fired = of(alerts, "acme", "negative_sentiment")
    assert [a.state for a in fired] == ["firing", "resolved"]
    first = fired[0]
    delay = first.event_time - BURST
    print(f"\nnegative burst: detected {delay:.0f} s of event time after its start")
    assert 0 <= delay <= 60
    assert first.crisis and first.severity in ("warning", "critical")
    assert first.value >= first.threshold > (first.baseline or 0)
    samples = first.evidence["samples"]
    assert samples and all(s["sentiment"] < 0 for s in samples)
    assert samples[0]["followers"] >= samples[-1]["followers"]  # most-followed first
    assert first.evidence["top_authors"] and first.evidence["top_hashtags"]
    resolution = fired[1].event_time - (BURST + 600)
    print(f"negative burst: resolved {resolution:.0f} s of event time after its end")
    assert 0 < resolution <= 600
    assert fired[1].id == first.id
    # the mention spike that comes with it is reported, as a crisis since it is negative
    spikes = of(alerts, "acme", "mention_spike")
    assert spikes and spikes[0].crisis


def test_positive_viral_spike_is_information_not_a_crisis() -> None:
    events = control() + stream("viralco", T0, CALM, seed=5)
    events += stream(
        "viralco", BURST, 15, seed=6, mentions=60, negative_share=0.05, impressions=1500, tag="v"
    )
    events += stream("viralco", BURST + 900, 20, seed=7, tag="after")
    alerts = run(events)
    assert [a for a in alerts if a.crisis] == []
    spike = of(alerts, "viralco", "mention_spike")
    assert spike and spike[0].severity == "info" and spike[0].state == "firing"
    assert spike[0].event_time - BURST <= 120  # information: 3x the baseline, not 4 sigma
    assert spike[-1].state == "resolved"
    assert {a.rule for a in alerts} == {"mention_spike"}


def test_engagement_collapse_while_impressions_hold() -> None:
    events = control() + stream("flatco", T0, CALM, seed=8)
    events += stream("flatco", BURST, 15, seed=9, engagement_rate=0.004, tag="flat")
    alerts = run(events)
    collapse = of(alerts, "flatco", "engagement_collapse")
    assert collapse and collapse[0].state == "firing" and not collapse[0].crisis
    assert collapse[0].event_time - BURST <= 300  # once the 5-minute window is mostly flat
    assert collapse[0].evidence["impressions"] > 0
    assert {a.rule for a in alerts} == {"engagement_collapse"}


def test_one_big_negative_account_is_a_crisis_by_exposure() -> None:
    events = control() + stream("bigco", T0, CALM + 20, seed=10)
    events.append(big_account_post("bigco", BURST + 30))
    alerts = run(events)
    exposure = of(alerts, "bigco", "negative_exposure")
    assert exposure and exposure[0].crisis
    assert exposure[0].event_time == pytest.approx(BURST + 30, abs=10)
    assert exposure[0].evidence["top_authors"][0]["author"] == "famous_reviewer"
    assert of(alerts, "bigco", "negative_sentiment") == []  # one post is not a trend


def test_a_platform_that_stops_sending_is_reported_and_clears_when_it_returns() -> None:
    tuning = Tuning(silence_after=300)
    events = stream("quietco", T0, CALM, seed=11)
    events += stream("quietco", BURST, 20, seed=12, platforms=("x",), tag="x-only")
    events += stream("quietco", BURST + 1200, 10, seed=13, tag="back")
    alerts = run(events, tuning)
    silence = of(alerts, "quietco", "source_silence")
    assert [a.state for a in silence] == ["firing", "resolved"]
    assert silence[0].evidence["platforms"] == ["instagram"]
    last = silence[0].evidence["last_event_time"]["instagram"]
    assert 300 <= silence[0].event_time - last <= 360


def test_paid_anomalies() -> None:
    events = stream("adco", T0, CALM + 60, seed=14, spend=10.0, conversions=0.5)
    events += stream("adco", BURST + 3600, 60, seed=15, spend=10.0, conversions=0.0, tag="dry")
    alerts = run(events)
    dry = of(alerts, "adco", "spend_without_conversions")
    assert dry and dry[0].state == "firing"
    events = stream("cpaco", T0, CALM + 60, seed=16, spend=10.0, conversions=0.5)
    events += stream("cpaco", BURST + 3600, 60, seed=17, spend=60.0, conversions=0.5, tag="dear")
    surge = of(run(events), "cpaco", "cpa_surge")
    assert surge and surge[0].state == "firing"


def test_fixed_limits_fire_without_history() -> None:
    events = stream("newco", T0, 10, seed=18, mentions=30, negative_share=0.6)
    alerts = run(events, limits={"newco": {"negative_sentiment": {"above": 0.4}}})
    fired = of(alerts, "newco", "negative_sentiment")
    assert fired and fired[0].threshold == 0.4
    assert run(events) == []  # without the limit, no history, no alert


def test_one_alert_per_brand_and_rule_and_a_cooldown() -> None:
    events = control() + stream("flapco", T0, CALM, seed=19)
    for k in range(3):  # three bursts, 8 minutes apart: inside the 10-minute cooldown
        start = BURST + k * 480
        events += stream(
            "flapco", start, 3, seed=20 + k, mentions=40, negative_share=0.8, tag=f"b{k}"
        )
        events += stream("flapco", start + 180, 5, seed=30 + k, tag=f"c{k}")
    fired = [a for a in of(run(events), "flapco", "negative_sentiment") if a.state == "firing"]
    assert 1 <= len(fired) <= 2


def test_the_demos_scripted_crisis_fires_on_the_rise() -> None:
    """The demo's generator: 30 min of history, then a scripted crisis for umbrella."""
    from socialpulse.streams.enrich.enricher import Enricher
    from socialpulse.streams.generator import SyntheticStream, crisis_burst
    from socialpulse.streams.pacing import history

    synthetic = SyntheticStream(seed=0, brands=4)
    start = T0 + 1800.0
    random_crises = [
        b for b in synthetic.bursts(T0, start + 600) if b.mood == "crisis" and b.brand == "umbrella"
    ]
    assert not random_crises  # so whatever fires for umbrella is the scripted one
    synthetic.script(crisis_burst("umbrella", start))
    events = [
        ev for _, evs in history(synthetic, rate=100, start=T0, end=start + 600) for ev in evs
    ]
    Enricher().enrich(events)  # what the worker does: sentiment from the texts
    alerts = of(run(events), "umbrella", "negative_sentiment")
    firing = [a for a in alerts if a.state == "firing"]
    assert firing, "the scripted crisis raised no negative_sentiment alert"
    delay = firing[0].event_time - start
    print(f"\ndemo crisis: negative_sentiment fired {delay:.0f} s of event time after its start")
    assert 0 <= delay <= 120


def test_sparse_conversions_are_not_dry_once_their_minute_is_merged() -> None:
    """About 2.7 conversions an hour: the last one is often more than an hour back, where the
    KPI state keeps 15-minute buckets; the detectors' own minutes still see it (before,
    this stream raised spend_without_conversions at minute 411)."""
    events = stream("sparseco", T0, 480, seed=42, spend=10.0, conversions=0.045)
    alerts = run(events, batch_seconds=600.0)
    assert of(alerts, "sparseco") == []
    assert any(ev["kind"] == "conversion" for ev in events)
