"""Unit tests of the synthetic event stream (no broker)."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest

from socialpulse.streams.contract import KINDS
from socialpulse.streams.generator import (
    CRISIS_FACTOR,
    CRISIS_SECONDS,
    Burst,
    SyntheticStream,
    crisis_burst,
)
from socialpulse.streams.pacing import history
from socialpulse.streams.validation import validate_event
from socialpulse.streams.vocabulary import (
    COMPETITOR_GROUP,
    DEFAULT_BRANDS,
    LANGUAGES,
    SOCIAL_PLATFORMS,
)

T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
DAY0 = T0 - T0 % 86_400


def _run(stream: SyntheticStream, seconds: int, per_call: int, start: float = T0) -> list[Any]:
    events: list[Any] = []
    for i in range(seconds):
        events.extend(stream.events(start + i, per_call))
    return events


@pytest.fixture(scope="module")
def sample() -> tuple[SyntheticStream, list[dict[str, Any]]]:
    stream = SyntheticStream(seed=11, brands=6)
    return stream, _run(stream, 20, 1000)


def test_every_event_passes_validation(sample: tuple[SyntheticStream, list[Any]]) -> None:
    _, events = sample
    assert len(events) == 20_000
    for ev in events:
        before = copy.deepcopy(ev)
        validated = validate_event(dict(ev))
        assert validated["ts"] == before["ts"]  # already epoch seconds
        assert validated["platform"] == before["platform"]
        assert validated["count"] == before.get("count", 1)
        assert ev == before  # validation did not need to change anything


def test_event_times_ids_and_counts() -> None:
    stream = SyntheticStream(seed=2)
    events = stream.events(T0, 3000)
    assert len(events) == 3000
    assert all(T0 - 1.0 <= ev["ts"] <= T0 for ev in events)
    assert all(isinstance(ev["ts"], float) for ev in events)
    ids = [ev["id"] for ev in events] + [ev["id"] for ev in stream.events(T0 + 1, 3000)]
    assert len(set(ids)) == len(ids)
    assert stream.events(T0 + 2, 0) == []
    assert len(stream.events(T0 + 3, 1)) == 1
    with pytest.raises(ValueError):
        stream.events(T0, -1)


def test_all_kinds_appear(sample: tuple[SyntheticStream, list[Any]]) -> None:
    _, events = sample
    assert {ev["kind"] for ev in events} == set(KINDS)


def test_relative_frequencies(sample: tuple[SyntheticStream, list[Any]]) -> None:
    _, events = sample
    kinds = Counter(ev["kind"] for ev in events)
    top = [k for k, _ in kinds.most_common(2)]
    assert set(top) == {"impression", "view"}
    for common in ("like", "click", "mention"):
        for rare in ("conversion", "lead", "survey", "service_request", "post"):
            assert kinds[common] > 5 * kinds[rare]
    aggregated = [ev for ev in events if ev["kind"] == "impression" and ev.get("count", 1) > 1]
    assert len(aggregated) > 0.2 * kinds["impression"]
    assert kinds["bounce"] < kinds["visit"]


def test_platforms_by_kind(sample: tuple[SyntheticStream, list[Any]]) -> None:
    _, events = sample
    fixed = {"visit": {"web"}, "bounce": {"web"}, "ad_spend": {"ads"}, "survey": {"survey"}}
    for ev in events:
        kind = ev["kind"]
        if kind in fixed:
            assert ev["platform"] in fixed[kind]
        elif kind in ("lead", "conversion"):
            assert ev["platform"] in {"crm", *SOCIAL_PLATFORMS}
        else:
            assert ev["platform"] in SOCIAL_PLATFORMS
    assert {ev["platform"] for ev in events if ev["kind"] == "like"} >= {"x", "instagram"}
    assert "crm" in {ev["platform"] for ev in events if ev["kind"] in ("lead", "conversion")}


def test_same_seed_same_events_other_seed_differs() -> None:
    first = _run(SyntheticStream(seed=7), 3, 500)
    again = _run(SyntheticStream(seed=7), 3, 500)
    other = _run(SyntheticStream(seed=8), 3, 500)
    assert first == again
    strip = [{k: v for k, v in ev.items() if k != "id"} for ev in first]
    assert strip != [{k: v for k, v in ev.items() if k != "id"} for ev in other]


def test_languages_and_texts(sample: tuple[SyntheticStream, list[Any]]) -> None:
    stream, events = sample
    texts = [ev for ev in events if "text" in ev]
    assert {ev["kind"] for ev in texts} == {"post", "mention", "comment", "service_request"}
    langs = Counter(ev["lang"] for ev in texts if "lang" in ev)
    assert len(langs) >= 7
    assert set(langs) == set(LANGUAGES)
    assert 0.7 < sum("lang" in ev for ev in texts) / len(texts) < 0.95
    for ev in texts:
        assert ev["brand"].capitalize() in ev["text"]
        assert stream.polarity_of(ev["text"]) is not None
        for tag in ev.get("hashtags", ()):
            assert f"#{tag}" in ev["text"]
    assert any("#" in ev["text"] for ev in texts)


def test_sentiment_share_and_sign(sample: tuple[SyntheticStream, list[Any]]) -> None:
    stream, events = sample
    texts = [ev for ev in events if "text" in ev]
    with_sentiment = [ev for ev in texts if "sentiment" in ev]
    assert 0.6 <= len(with_sentiment) / len(texts) <= 0.8
    seen: Counter[int | None] = Counter()
    for ev in with_sentiment:
        label = stream.polarity_of(ev["text"])
        score = ev["sentiment"]
        assert -1.0 <= score <= 1.0
        seen[label] += 1
        if label == 1:
            assert score > 0.05
        elif label == -1:
            assert score < -0.05
        else:
            assert abs(score) <= 0.05
    assert set(seen) == {-1, 0, 1}


def test_authors(sample: tuple[SyntheticStream, list[Any]]) -> None:
    _, events = sample
    for kind in ("mention", "share", "comment", "impression"):
        assert any("author" in ev for ev in events if ev["kind"] == kind)
    authors = [ev["author"] for ev in events if "author" in ev]
    for author in authors:
        assert set(author) == {"id", "followers", "location", "age", "gender"}
        assert len(author["location"]) == 2 and author["location"].isupper()
        assert 13 <= author["age"] <= 80
    followers = sorted(a["followers"] for a in authors)
    assert followers[len(followers) // 2] < 1000
    assert followers[-1] >= 10_000
    mention_authors = Counter(ev["author"]["id"] for ev in events if ev["kind"] == "mention")
    assert mention_authors.most_common(1)[0][1] >= 3  # Zipf-like: some authors repeat
    # the same author id always has the same attributes
    by_id: dict[str, Any] = {}
    for author in authors:
        assert by_id.setdefault(author["id"], author) == author


def test_campaigns_and_variants(sample: tuple[SyntheticStream, list[Any]]) -> None:
    stream, events = sample
    per_brand: dict[str, set[str]] = {}
    for ev in events:
        if "campaign" in ev:
            per_brand.setdefault(ev["brand"], set()).add(ev["campaign"])
        if "variant" in ev:
            assert ev["variant"] in ("a", "b")
            assert "campaign" in ev
    assert set(per_brand) == set(stream.brands)
    assert all(2 <= len(c) <= 4 for c in per_brand.values())
    clicks = [ev for ev in events if ev["kind"] == "click"]
    assert 0.5 < sum("campaign" in ev for ev in clicks) / len(clicks) < 0.95
    spends = [ev for ev in events if ev["kind"] == "ad_spend"]
    assert sum("campaign" in ev for ev in spends) / len(spends) > 0.8


def test_variant_b_converts_better() -> None:
    stream = SyntheticStream(seed=3, brands=2)
    clicks: Counter[str] = Counter()
    conversions: Counter[str] = Counter()
    for i in range(200):
        for ev in stream.events(T0 + i, 2000):
            if ev["kind"] == "click" and "variant" in ev:
                clicks[ev["variant"]] += 1
            elif ev["kind"] == "conversion" and "variant" in ev:
                conversions[ev["variant"]] += 1
    assert conversions["b"] / clicks["b"] > conversions["a"] / clicks["a"]


def test_money_sessions_and_snapshots(sample: tuple[SyntheticStream, list[Any]]) -> None:
    stream, events = sample
    for ev in events:
        if ev["kind"] in ("ad_spend", "conversion"):
            assert ev["value"] > 0 and len(ev["currency"]) == 3
        if ev["kind"] == "lead" and "value" in ev:
            assert ev["currency"]
    currency: dict[str, set[str]] = {}
    for ev in events:
        if "currency" in ev:
            currency.setdefault(ev["brand"], set()).add(ev["currency"])
    assert all(len(c) == 1 for c in currency.values())  # one currency per brand
    visits = {ev["session"]: ev for ev in events if ev["kind"] == "visit"}
    bounces = [ev for ev in events if ev["kind"] == "bounce"]
    assert bounces
    for ev in bounces:
        assert ev["session"] in visits
        assert visits[ev["session"]]["value"] <= 40
    stays = sorted(ev["value"] for ev in visits.values())
    assert stays[-1] > 10 * stays[len(stays) // 2]  # heavy tail
    snapshots = [ev for ev in events if ev["kind"] == "followers"]
    pairs = {(ev["brand"], ev["platform"]) for ev in snapshots}
    assert pairs == {(b, p) for b in stream.brands for p in SOCIAL_PLATFORMS}
    assert all(10_000 <= ev["value"] <= 600_000 for ev in snapshots)
    assert all(isinstance(ev["value"], int) for ev in snapshots)


def test_followers_snapshots_repeat_and_stay_stable() -> None:
    stream = SyntheticStream(seed=4, brands=1)
    totals: dict[str, list[int]] = {}
    for minute in range(15):
        for ev in stream.events(T0 + 60 * minute, 200):
            if ev["kind"] == "followers":
                totals.setdefault(ev["platform"], []).append(ev["value"])
    assert set(totals) == set(SOCIAL_PLATFORMS)
    for values in totals.values():
        assert 2 <= len(values) <= 5
        assert max(values) - min(values) < 0.05 * min(values)


def test_parent_ids_point_to_posts(sample: tuple[SyntheticStream, list[Any]]) -> None:
    _, events = sample
    posts = {ev["id"]: ev for ev in events if ev["kind"] == "post"}
    children = [ev for ev in events if ev.get("parent_id") in posts]
    assert children
    for ev in children:
        parent = posts[ev["parent_id"]]
        assert (ev["brand"], ev["platform"]) == (parent["brand"], parent["platform"])
        assert ev.get("campaign") == parent.get("campaign")
    assert all("parent_id" in ev for ev in events if ev["kind"] == "comment")
    shares = [ev for ev in events if ev["kind"] == "share"]
    assert sum("parent_id" in ev for ev in shares) > 0.9 * len(shares)


def test_rate_multiplier_daily_rhythm() -> None:
    stream = SyntheticStream(seed=1)
    by_hour = [
        min(stream.rate_multiplier(DAY0 + h * 3600 + s) for s in range(0, 3600, 30))
        for h in range(24)
    ]
    assert min(by_hour) < 0.4
    assert max(by_hour) > 1.3
    assert by_hour[3] < 0.4 < 1.3 < by_hour[20]
    for h in range(24):
        daily = stream.daily_multiplier(DAY0 + h * 3600)
        assert 0.25 <= daily <= 1.55


def test_rate_multiplier_bursts() -> None:
    stream = SyntheticStream(seed=1)
    bursts = stream.bursts(DAY0, DAY0 + 86_400)
    assert 24 <= len(bursts) <= 24 * 4
    for burst in bursts:
        assert 60 <= burst.end - burst.start <= 180
        assert 3 <= burst.factor <= 6
        assert burst.mood in ("crisis", "viral")
        assert burst.brand in stream.brands
        mid = (burst.start + burst.end) / 2
        ratio = stream.rate_multiplier(mid) / stream.daily_multiplier(mid)
        assert ratio >= burst.factor - 1e-9
    assert {b.mood for b in bursts} == {"crisis", "viral"}
    # deterministic in (seed, ts), whatever was asked before
    ts = [DAY0 + 37 * i for i in range(2000)]
    fresh = SyntheticStream(seed=1)
    assert [fresh.rate_multiplier(t) for t in reversed(ts)][::-1] == [
        stream.rate_multiplier(t) for t in ts
    ]
    other = SyntheticStream(seed=2)
    assert [other.rate_multiplier(t) for t in ts] != [stream.rate_multiplier(t) for t in ts]


@pytest.mark.parametrize("mood, label", [("crisis", -1), ("viral", 1)])
def test_burst_mentions_follow_the_mood(mood: str, label: int) -> None:
    stream = SyntheticStream(seed=5, brands=4)
    burst = next(b for b in stream.bursts(T0, T0 + 86_400) if b.mood == mood)
    events = stream.events((burst.start + burst.end) / 2, 5000)
    brands = Counter(ev["brand"] for ev in events)
    assert brands.most_common(1)[0][0] == burst.brand
    mentions = [ev for ev in events if ev["brand"] == burst.brand and ev["kind"] == "mention"]
    labels = Counter(stream.polarity_of(ev["text"]) for ev in mentions)
    assert labels[label] > 0.6 * len(mentions)


def test_brands_argument() -> None:
    stream = SyntheticStream(seed=0, brands=2)
    assert stream.brands == list(DEFAULT_BRANDS[:2])
    assert {ev["brand"] for ev in _run(stream, 5, 500)} == set(DEFAULT_BRANDS[:2])
    assert SyntheticStream().brands == list(DEFAULT_BRANDS[:4])
    assert len(SyntheticStream(brands=len(DEFAULT_BRANDS)).brands) == len(DEFAULT_BRANDS)
    assert stream.competitor_groups() == {COMPETITOR_GROUP: list(DEFAULT_BRANDS[:2])}
    assert len(DEFAULT_BRANDS) >= 8 and COMPETITOR_GROUP == "market"
    stream.brands.append("intruder")
    assert stream.brands == list(DEFAULT_BRANDS[:2])
    for bad in (0, -1, len(DEFAULT_BRANDS) + 1):
        with pytest.raises(ValueError):
            SyntheticStream(brands=bad)


def test_a_scripted_crisis_turns_the_brands_mentions_negative_and_wins() -> None:
    stream = SyntheticStream(seed=5, brands=4)
    start = T0 + 1800.0
    stream.script(crisis_burst("umbrella", start))
    assert crisis_burst("umbrella", start).end - start == CRISIS_SECONDS
    mid = start + CRISIS_SECONDS / 2
    assert stream.rate_multiplier(mid) == pytest.approx(
        stream.daily_multiplier(mid) * CRISIS_FACTOR
    )
    assert crisis_burst("umbrella", start) in stream.bursts(start, start + 1)
    events = stream.events(mid, 5000)
    assert Counter(ev["brand"] for ev in events).most_common(1)[0][0] == "umbrella"
    mentions = [ev for ev in events if ev["brand"] == "umbrella" and ev["kind"] == "mention"]
    labels = Counter(stream.polarity_of(ev["text"]) for ev in mentions)
    assert labels[-1] > 0.6 * len(mentions)
    # outside the scripted burst the stream is what it was without it
    plain = SyntheticStream(seed=5, brands=4)
    before = start - 7200.0
    assert stream.rate_multiplier(before) == plain.rate_multiplier(before)


def test_a_scripted_burst_must_name_a_brand_of_the_stream() -> None:
    stream = SyntheticStream(seed=0, brands=2)
    with pytest.raises(ValueError, match="no brand 'umbrella'"):
        stream.script(crisis_burst("umbrella", T0))
    with pytest.raises(ValueError, match="not a valid burst"):
        stream.script(Burst(T0, T0 - 1, 4.0, "acme", "crisis"))


def test_history_covers_the_span_second_by_second() -> None:
    stream = SyntheticStream(seed=3, brands=2)
    seconds = list(history(stream, rate=50.0, start=T0, end=T0 + 120.0))
    assert [t for t, _ in seconds] == [T0 + i for i in range(1, 121)]
    events = [ev for _, evs in seconds for ev in evs]
    assert 0.25 * 50 * 120 <= len(events) <= 6 * 50 * 120
    for t, evs in seconds:
        assert all(t - 1.0 <= ev["ts"] <= t for ev in evs)
