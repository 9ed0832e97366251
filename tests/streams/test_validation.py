"""Table-driven tests of ``validate_event`` and ``decode_message`` against docs/events.md
("Bad input").

Every rejection reason the decoder can give (all of ``contract.REASONS`` but ``late`` and
``future``, which the KPI state and the pipeline give) is produced by a case of the tables
below; ``test_every_decoder_reason_is_covered`` checks that by running the tables again.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest

from socialpulse.streams.contract import (
    DEFAULT_PLATFORM,
    MAX_BRAND,
    MAX_ID,
    MAX_PLATFORM,
    MAX_TEXT,
    NON_NEGATIVE_VALUE_KINDS,
    REASONS,
    VALUE_REQUIRED_KINDS,
)
from socialpulse.streams.validation import (
    Invalid,
    Rejection,
    decode_message,
    parse_ts,
    validate_event,
)
from tests.fakes import envelope, event

T = 1_700_000_000.0  # 2023-11-14T22:13:20Z
MAX_BYTES = 4 * 1024 * 1024
MAX_EVENTS = 10_000


def decode(raw: bytes | None, **limits: int) -> tuple[list[dict[str, Any]], list[Rejection]]:
    limits.setdefault("max_bytes", MAX_BYTES)
    limits.setdefault("max_events", MAX_EVENTS)
    return decode_message(raw, **limits)


def ev(kind: str = "like", *, id: str = "e-1", **fields: Any) -> dict[str, Any]:
    """A valid event with a fixed id, so tables are reproducible."""
    return event(kind, id=id, ts=T, brand="acme", **fields)


def without(event_: dict[str, Any], field: str) -> dict[str, Any]:
    out = dict(event_)
    del out[field]
    return out


def reason_of(element: Any) -> str:
    """The reason ``validate_event`` rejects ``element`` for (fails when it is accepted)."""
    with pytest.raises(Invalid) as info:
        validate_event(copy.deepcopy(element))
    return info.value.reason


# -- event-level rejections: (element, reason) ---------------------------------------------
REJECTED_EVENTS: list[Any] = [
    # required fields missing
    pytest.param(without(ev(), "id"), "missing_field", id="id-missing"),
    pytest.param(without(ev(), "ts"), "missing_field", id="ts-missing"),
    pytest.param(without(ev(), "brand"), "missing_field", id="brand-missing"),
    pytest.param(without(ev(), "kind"), "missing_field", id="kind-missing"),
    pytest.param(ev() | {"id": None}, "missing_field", id="id-null"),
    pytest.param(ev() | {"ts": None}, "missing_field", id="ts-null"),
    pytest.param(ev() | {"brand": None}, "missing_field", id="brand-null"),
    pytest.param(ev() | {"kind": None}, "missing_field", id="kind-null"),
    # required fields mistyped
    pytest.param(ev() | {"id": 42}, "bad_type", id="id-int"),
    pytest.param(ev() | {"id": ["e-1"]}, "bad_type", id="id-list"),
    pytest.param(ev() | {"brand": 7}, "bad_type", id="brand-int"),
    pytest.param(ev() | {"brand": {"name": "acme"}}, "bad_type", id="brand-object"),
    pytest.param(ev() | {"kind": 3}, "bad_type", id="kind-int"),
    pytest.param(ev() | {"kind": True}, "bad_type", id="kind-bool"),
    pytest.param(ev() | {"ts": [T]}, "bad_ts", id="ts-list"),
    pytest.param(ev() | {"ts": {"seconds": T}}, "bad_ts", id="ts-object"),
    # empty strings
    pytest.param(ev() | {"id": ""}, "missing_field", id="id-empty"),
    pytest.param(ev() | {"brand": ""}, "missing_field", id="brand-empty"),
    pytest.param(ev() | {"kind": ""}, "missing_field", id="kind-empty"),
    # unknown kind
    pytest.param(ev() | {"kind": "tweet"}, "unknown_kind", id="kind-unknown"),
    pytest.param(ev() | {"kind": "Like"}, "unknown_kind", id="kind-case"),
    # string limits, one over
    pytest.param(ev() | {"id": "i" * (MAX_ID + 1)}, "too_long", id="id-257"),
    pytest.param(ev() | {"brand": "b" * (MAX_BRAND + 1)}, "too_long", id="brand-129"),
    pytest.param(ev(platform="p" * (MAX_PLATFORM + 1)), "too_long", id="platform-65"),
    pytest.param(ev(text="t" * (MAX_TEXT + 1)), "too_long", id="text-10001"),
    # NUL and lone surrogates (a surrogate in a dict, as the stdlib fallback decodes it)
    pytest.param(ev(text="bad\x00text"), "bad_text", id="text-nul"),
    pytest.param(ev(text="\ud800"), "bad_text", id="text-surrogate"),
    pytest.param(ev(text="a\udfffb"), "bad_text", id="text-low-surrogate"),
    pytest.param(ev() | {"id": "e\x00"}, "bad_text", id="id-nul"),
    # sentiment
    pytest.param(ev(sentiment=1.0001), "out_of_range", id="sentiment-over"),
    pytest.param(ev(sentiment=-1.5), "out_of_range", id="sentiment-under"),
    pytest.param(ev(sentiment=2), "out_of_range", id="sentiment-int-over"),
    pytest.param(ev(sentiment="0.5"), "bad_type", id="sentiment-string"),
    pytest.param(ev(sentiment=True), "bad_type", id="sentiment-bool"),
    pytest.param(ev(sentiment=float("nan")), "bad_number", id="sentiment-nan"),
    pytest.param(ev(sentiment=float("inf")), "bad_number", id="sentiment-inf"),
    # count
    pytest.param(ev(count=-1), "negative_value", id="count-negative"),
    pytest.param(ev(count=0), "negative_value", id="count-zero"),
    pytest.param(ev(count=True), "bad_type", id="count-bool-true"),
    pytest.param(ev(count=False), "bad_type", id="count-bool-false"),
    pytest.param(ev(count=1.5), "bad_type", id="count-float"),
    pytest.param(ev(count="3"), "bad_type", id="count-string"),
    # value
    *[
        pytest.param(event(kind, id="e-1", ts=T) | {"value": -0.01}, "negative_value", id=kind)
        for kind in sorted(NON_NEGATIVE_VALUE_KINDS)
    ],
    *[
        pytest.param(without(event(kind, id="e-1", ts=T), "value"), "missing_field", id=kind)
        for kind in sorted(VALUE_REQUIRED_KINDS)
    ],
    pytest.param(ev(value="10"), "bad_type", id="value-string"),
    pytest.param(ev(value=float("-inf")), "bad_number", id="value-minus-inf"),
    # survey
    pytest.param(without(ev("survey"), "survey"), "missing_field", id="survey-no-survey"),
    pytest.param(without(ev("survey"), "score"), "missing_field", id="survey-no-score"),
    pytest.param(ev("survey", survey="ces"), "missing_field", id="survey-unknown"),
    pytest.param(ev("survey", survey="csat", score=0), "out_of_range", id="csat-0"),
    pytest.param(ev("survey", survey="csat", score=6), "out_of_range", id="csat-6"),
    pytest.param(ev("survey", survey="csat", score=5.01), "out_of_range", id="csat-5.01"),
    pytest.param(ev("survey", survey="nps", score=11), "out_of_range", id="nps-11"),
    pytest.param(ev("survey", survey="nps", score=-1), "out_of_range", id="nps-minus-1"),
    pytest.param(ev("survey", score="5"), "bad_type", id="score-string"),
    pytest.param(ev("survey", score=float("nan")), "bad_number", id="score-nan"),
    # ts
    pytest.param(ev() | {"ts": "yesterday"}, "bad_ts", id="ts-text"),
    pytest.param(ev() | {"ts": ""}, "bad_ts", id="ts-empty"),
    pytest.param(ev() | {"ts": "2023-13-01T00:00:00Z"}, "bad_ts", id="ts-month-13"),
    pytest.param(ev() | {"ts": "2023-11-14T22:13:20Z" + " " * 60}, "bad_ts", id="ts-long"),
    pytest.param(ev() | {"ts": True}, "bad_ts", id="ts-true"),
    pytest.param(ev() | {"ts": False}, "bad_ts", id="ts-false"),
    pytest.param(ev() | {"ts": -1}, "bad_ts", id="ts-negative-int"),
    pytest.param(ev() | {"ts": -0.5}, "bad_ts", id="ts-negative-float"),
    pytest.param(ev() | {"ts": float("nan")}, "bad_ts", id="ts-nan"),
    pytest.param(ev() | {"ts": float("inf")}, "bad_ts", id="ts-inf"),
    # optional fields with the wrong type
    pytest.param(ev(platform=5), "bad_type", id="platform-int"),
    pytest.param(ev(text=["hello"]), "bad_type", id="text-list"),
    pytest.param(ev(currency="eur"), "bad_type", id="currency-lowercase"),
    pytest.param(ev(hashtags="#a"), "bad_type", id="hashtags-string"),
    pytest.param(ev(hashtags=["ok", "bad\x00"]), "bad_text", id="hashtag-nul"),
    pytest.param(ev(author="someone"), "bad_type", id="author-string"),
    pytest.param(ev(author={"followers": -1}), "negative_value", id="author-followers-neg"),
    pytest.param(ev(author={"age": True}), "bad_type", id="author-age-bool"),
    # not an object
    pytest.param([ev()], "not_object", id="list"),
    pytest.param("event", "not_object", id="string"),
    pytest.param(1, "not_object", id="int"),
    pytest.param(None, "not_object", id="null"),
]


@pytest.mark.parametrize(("element", "reason"), REJECTED_EVENTS)
def test_validate_event_rejects(element: Any, reason: str) -> None:
    assert reason_of(element) == reason


@pytest.mark.parametrize(("element", "reason"), REJECTED_EVENTS)
def test_decode_message_dead_letters_bad_element_and_keeps_the_rest(
    element: Any, reason: str
) -> None:
    good = ev(id="good")
    raw = json.dumps([element, good], allow_nan=True).encode()
    events, rejections = decode(raw)
    assert [r.reason for r in rejections] == [reason]
    assert [e["id"] for e in events] == ["good"]


# -- accepted events: (element, {field: expected value after validation}) -----------------
ACCEPTED_EVENTS: list[Any] = [
    # string limits, at the limit
    pytest.param(ev() | {"id": "i" * MAX_ID}, {"id": "i" * MAX_ID}, id="id-256"),
    pytest.param(ev() | {"brand": "b" * MAX_BRAND}, {"brand": "b" * MAX_BRAND}, id="brand-128"),
    pytest.param(
        ev(platform="p" * MAX_PLATFORM), {"platform": "p" * MAX_PLATFORM}, id="platform-64"
    ),
    pytest.param(ev(text="t" * MAX_TEXT), {"text": "t" * MAX_TEXT}, id="text-10000"),
    pytest.param(ev(text="ü" * MAX_TEXT), {"text": "ü" * MAX_TEXT}, id="text-10000-non-ascii"),
    # sentiment bounds
    pytest.param(ev(sentiment=-1), {"sentiment": -1}, id="sentiment-minus-1"),
    pytest.param(ev(sentiment=1.0), {"sentiment": 1.0}, id="sentiment-1"),
    pytest.param(ev(sentiment=0), {"sentiment": 0}, id="sentiment-0"),
    # survey bounds
    pytest.param(ev("survey", survey="csat", score=1), {"score": 1}, id="csat-1"),
    pytest.param(ev("survey", survey="csat", score=5), {"score": 5}, id="csat-5"),
    pytest.param(ev("survey", survey="nps", score=0), {"score": 0}, id="nps-0"),
    pytest.param(ev("survey", survey="nps", score=10), {"score": 10}, id="nps-10"),
    # negative value where it is not money or a total
    *[
        pytest.param(ev(kind, value=-3.5), {"value": -3.5}, id=f"{kind}-negative-value")
        for kind in ("like", "post", "mention", "click", "bounce", "survey")
    ],
    pytest.param(ev("conversion"), {"kind": "conversion"}, id="conversion-without-value"),
    pytest.param(ev("ad_spend", value=0), {"value": 0}, id="ad-spend-zero"),
    pytest.param(ev("followers", value=0), {"value": 0}, id="followers-zero"),
    # ts forms
    pytest.param(ev() | {"ts": "2023-11-14T22:13:20Z"}, {"ts": T}, id="ts-rfc3339-z"),
    pytest.param(ev() | {"ts": "2023-11-15T00:13:20+02:00"}, {"ts": T}, id="ts-rfc3339-offset"),
    pytest.param(ev() | {"ts": "2023-11-14T17:13:20-05:00"}, {"ts": T}, id="ts-rfc3339-neg"),
    pytest.param(
        ev() | {"ts": "2023-11-14T22:13:20.250Z"}, {"ts": T + 0.25}, id="ts-rfc3339-fraction"
    ),
    pytest.param(ev() | {"ts": 1_700_000_000}, {"ts": T}, id="ts-epoch-int"),
    pytest.param(ev() | {"ts": 1_700_000_000.5}, {"ts": T + 0.5}, id="ts-epoch-float"),
    pytest.param(ev() | {"ts": 1_700_000_000_000}, {"ts": T}, id="ts-epoch-ms"),
    pytest.param(ev() | {"ts": 1_700_000_000_250}, {"ts": T + 0.25}, id="ts-epoch-ms-fraction"),
    pytest.param(ev() | {"ts": 0}, {"ts": 0.0}, id="ts-zero"),
    # defaults
    pytest.param(ev(), {"platform": DEFAULT_PLATFORM, "count": 1}, id="defaults"),
    pytest.param(ev(platform=None, count=1), {"platform": "unknown"}, id="platform-null"),
    pytest.param(ev(platform="x", count=500), {"platform": "x", "count": 500}, id="given"),
    # unknown extra fields are kept
    pytest.param(
        ev(custom={"nested": [1, 2, {"k": None}]}, x_score=3),
        {"custom": {"nested": [1, 2, {"k": None}]}, "x_score": 3},
        id="extra-fields",
    ),
    # every documented optional field at once
    pytest.param(
        ev(
            "comment",
            platform="instagram",
            campaign="spring",
            variant="B",
            currency="EUR",
            author={"id": "u1", "followers": 0, "location": "DE", "age": 30, "gender": "f"},
            text="Love it #acme",
            lang="en",
            sentiment=0.8,
            hashtags=["acme"],
            parent_id="p-1",
            session="s-1",
        ),
        {"platform": "instagram", "hashtags": ["acme"], "sentiment": 0.8},
        id="all-optional-fields",
    ),
]


@pytest.mark.parametrize(("element", "expected"), ACCEPTED_EVENTS)
def test_validate_event_accepts(element: dict[str, Any], expected: dict[str, Any]) -> None:
    out = validate_event(copy.deepcopy(element))
    for field, value in expected.items():
        assert out[field] == value, field
    assert isinstance(out["ts"], float)
    # nothing but ts, platform and count is changed
    for field, value in element.items():
        if field not in ("ts", "platform", "count"):
            assert out[field] == value, field


@pytest.mark.parametrize(("element", "expected"), ACCEPTED_EVENTS)
def test_decode_message_accepts(element: dict[str, Any], expected: dict[str, Any]) -> None:
    events, rejections = decode(envelope([element]))
    assert rejections == []
    assert len(events) == 1
    for field, value in expected.items():
        assert events[0][field] == value, field


def test_rfc3339_without_offset_is_utc() -> None:
    assert parse_ts("2023-11-14T22:13:20") == T


# -- message-level cases: (raw, limits, reasons) -------------------------------------------
SURROGATE_ENVELOPE = (
    b'[{"id":"s-1","ts":1700000000,"brand":"acme","kind":"mention","text":"x\\ud800y"},'
    b'{"id":"ok-1","ts":1700000000,"brand":"acme","kind":"like"},'
    b'{"id":"ok-2","ts":"2023-11-14T22:13:20Z","brand":"acme","kind":"like","text":"\\u00e9"}]'
)

MESSAGES: list[Any] = [
    pytest.param(b"not json", {}, ["invalid_json"], id="garbage"),
    pytest.param(b"", {}, ["invalid_json"], id="empty-bytes"),
    pytest.param(None, {}, ["invalid_json"], id="no-value"),
    pytest.param(b'{"id": "e-1", "ts":', {}, ["invalid_json"], id="truncated"),
    pytest.param(b'[{"id":"e-1"},]', {}, ["invalid_json"], id="trailing-comma"),
    pytest.param(b"\xff\xfe{}", {}, ["invalid_json"], id="not-utf8"),
    pytest.param(b"'single'", {}, ["invalid_json"], id="single-quotes"),
    pytest.param(b"5", {}, ["not_object"], id="top-level-number"),
    pytest.param(b'"event"', {}, ["not_object"], id="top-level-string"),
    pytest.param(b"null", {}, ["not_object"], id="top-level-null"),
    pytest.param(b"true", {}, ["not_object"], id="top-level-bool"),
    pytest.param(
        b'[1, "x", null, true, [], {"id":"ok","ts":1700000000,"brand":"acme","kind":"like"}]',
        {},
        ["not_object"] * 5,
        id="non-object-elements",
    ),
    pytest.param(b"[]", {}, ["empty_envelope"], id="empty-array"),
    pytest.param(b" [ ] ", {}, ["empty_envelope"], id="empty-array-spaces"),
    pytest.param(SURROGATE_ENVELOPE, {}, ["bad_text"], id="lone-surrogate"),
    pytest.param(
        b'{"id":"s","ts":1700000000,"brand":"acme","kind":"post","text":"\\udc00"}',
        {},
        ["bad_text"],
        id="lone-surrogate-single-object",
    ),
    pytest.param(
        b'[{"id":"n","ts":1700000000,"brand":"acme","kind":"post","text":"a\\u0000b"}]',
        {},
        ["bad_text"],
        id="nul-escape",
    ),
    pytest.param(
        b'[{"id":"n","ts":1700000000,"brand":"acme","kind":"conversion","value":NaN}]',
        {},
        ["bad_number"],
        id="nan-value",
    ),
    pytest.param(
        b'[{"id":"n","ts":1700000000,"brand":"acme","kind":"like","sentiment":Infinity}]',
        {},
        ["bad_number"],
        id="infinity-sentiment",
    ),
    pytest.param(
        b'[{"id":"n","ts":1700000000,"brand":"acme","kind":"like","value":-Infinity}]',
        {},
        ["bad_number"],
        id="minus-infinity-value",
    ),
    pytest.param(
        b'[{"id":"n","ts":1700000000,"brand":"acme","kind":"lead","value":1e400}]',
        {},
        ["bad_number"],
        id="overflowing-float-literal",
    ),
    pytest.param(
        b'[{"id":"n","ts":NaN,"brand":"acme","kind":"like"}]', {}, ["bad_ts"], id="nan-ts"
    ),
    pytest.param(envelope([ev()] * 4), {"max_events": 3}, ["envelope_too_large"], id="4-over-3"),
    pytest.param(envelope([ev()] * 3), {"max_events": 3}, [], id="3-at-3"),
    pytest.param(b"[" + b"1," * 10_000 + b"1]", {}, ["envelope_too_large"], id="10001-default"),
    pytest.param(
        envelope([ev()]), {"max_bytes": len(envelope([ev()])) - 1}, ["too_large"], id="over-bytes"
    ),
    pytest.param(envelope([ev()]), {"max_bytes": len(envelope([ev()]))}, [], id="at-max-bytes"),
    pytest.param(b"x" * 2000, {"max_bytes": 1024}, ["too_large"], id="too-large-before-json"),
]


@pytest.mark.parametrize(("raw", "limits", "reasons"), MESSAGES)
def test_decode_message_reasons(raw: bytes | None, limits: dict[str, int], reasons: list[str]):
    events, rejections = decode(raw, **limits)
    assert [r.reason for r in rejections] == reasons
    for rejection in rejections:
        assert isinstance(rejection.raw, bytes)
        assert rejection.detail
    whole_message = {"invalid_json", "empty_envelope", "envelope_too_large", "too_large"}
    if whole_message & set(reasons):
        assert events == []
    for event_ in events:
        assert validate_event(copy.deepcopy(event_)) == event_


def test_lone_surrogate_rejects_only_its_element() -> None:
    events, rejections = decode(SURROGATE_ENVELOPE)
    assert [e["id"] for e in events] == ["ok-1", "ok-2"]
    assert events[0]["ts"] == T
    assert events[1]["ts"] == T
    assert events[1]["text"] == "é"
    (rejection,) = rejections
    assert rejection.reason == "bad_text"
    assert rejection.brand == "acme"
    # the dead letter still holds the element, surrogate escape and all
    assert json.loads(rejection.raw) == {
        "id": "s-1",
        "ts": 1700000000,
        "brand": "acme",
        "kind": "mention",
        "text": "x\ud800y",
    }


def test_non_object_elements_do_not_cost_the_rest() -> None:
    raw = b'[1, "x", null, true, [], {"id":"ok","ts":1700000000,"brand":"acme","kind":"like"}]'
    events, rejections = decode(raw)
    assert [e["id"] for e in events] == ["ok"]
    assert [r.raw for r in rejections] == [b"1", b'"x"', b"null", b"true", b"[]"]
    assert all(r.brand is None for r in rejections)


def test_message_level_rejections_carry_the_whole_message() -> None:
    raw = envelope([ev()] * 4)
    _, (too_many,) = decode(raw, max_events=3)
    assert too_many.raw == raw
    _, (too_big,) = decode(raw, max_bytes=len(raw) - 1)
    assert too_big.raw == raw
    _, (empty,) = decode(b"[]")
    assert empty.raw == b"[]"
    _, (garbage,) = decode(b"{nope")
    assert garbage.raw == b"{nope"
    _, (no_value,) = decode(None)
    assert no_value.raw == b""


def test_envelope_at_max_events_decodes_every_event() -> None:
    events, rejections = decode(envelope(ev(id=f"e{i}") for i in range(3)), max_events=3)
    assert rejections == []
    assert [e["id"] for e in events] == ["e0", "e1", "e2"]


def test_envelope_too_large_rejects_all_of_it() -> None:
    events, rejections = decode(envelope(ev(id=f"e{i}") for i in range(4)), max_events=3)
    assert events == []
    assert [r.reason for r in rejections] == ["envelope_too_large"]


# -- the dead letter keeps the element as sent ---------------------------------------------
def test_rejected_element_raw_is_the_element_as_sent() -> None:
    # fails after its ts was parsed (sentiment comes later): nothing may be normalised
    late_failure = ev(id="bad-1", sentiment=3) | {"ts": 1_700_000_000_000}
    rfc_failure = ev(id="bad-2") | {"ts": "2023-11-14T22:13:20Z", "kind": "tweet"}
    good = ev(id="good")
    events, rejections = decode(envelope([late_failure, good, rfc_failure]))
    assert [e["id"] for e in events] == ["good"]
    assert [r.reason for r in rejections] == ["out_of_range", "unknown_kind"]
    assert rejections[0].raw == orjson.dumps(late_failure)
    assert rejections[1].raw == orjson.dumps(rfc_failure)
    sent = orjson.loads(rejections[0].raw)
    assert sent["ts"] == 1_700_000_000_000
    assert "platform" not in sent
    assert "count" not in sent


def test_single_object_rejection_raw_is_the_message() -> None:
    raw = orjson.dumps(ev(sentiment=-2) | {"ts": "2023-11-14T22:13:20Z"})
    events, (rejection,) = decode(raw)
    assert events == []
    assert rejection.reason == "out_of_range"
    assert rejection.raw == raw
    assert rejection.brand == "acme"


def test_validate_event_does_not_touch_a_rejected_dict() -> None:
    element = ev(count=0) | {"ts": "2023-11-14T22:13:20Z"}
    before = copy.deepcopy(element)
    with pytest.raises(Invalid):
        validate_event(element)
    assert element == before


def test_validate_event_normalises_in_place() -> None:
    element = ev() | {"ts": 1_700_000_000_000}
    out = validate_event(element)
    assert out is element
    assert out == {
        "id": "e-1",
        "ts": T,
        "brand": "acme",
        "kind": "like",
        "platform": "unknown",
        "count": 1,
    }


# -- Rejection.brand ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("element", "brand"),
    [
        pytest.param(ev() | {"kind": "tweet"}, "acme", id="bad-kind-valid-brand"),
        pytest.param(without(ev(), "id"), "acme", id="missing-id-valid-brand"),
        pytest.param(ev(sentiment=9) | {"brand": "b" * MAX_BRAND}, "b" * MAX_BRAND, id="128"),
        pytest.param(without(ev(), "brand"), None, id="no-brand"),
        pytest.param(ev() | {"brand": ""}, None, id="empty-brand"),
        pytest.param(ev() | {"brand": 5}, None, id="int-brand"),
        pytest.param(ev() | {"brand": "b" * (MAX_BRAND + 1)}, None, id="long-brand"),
        pytest.param("acme", None, id="not-an-object"),
    ],
)
def test_rejection_brand(element: Any, brand: str | None) -> None:
    _, (rejection,) = decode(envelope([element]))
    assert rejection.brand == brand
    _, (single,) = decode(orjson.dumps(element))
    assert single.brand == brand


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'[{"id":"e","ts":1,"brand":"\\ud800","kind":"like"}]', id="surrogate"),
        pytest.param(b'[{"id":"e","ts":1,"brand":"a\\u0000","kind":"like"}]', id="nul"),
    ],
)
def test_rejection_brand_is_none_for_a_brand_with_bad_text(raw: bytes) -> None:
    _, (rejection,) = decode(raw)
    assert rejection.reason == "bad_text"
    assert rejection.brand is None


# -- known crashes --------------------------------------------------------------------------
HUGE = "1" + "0" * 400  # an integer literal beyond the range of a float


@pytest.mark.parametrize(
    ("field", "kind", "reason"),
    [
        ("ts", "like", "bad_ts"),
        ("value", "conversion", "bad_number"),
        ("sentiment", "mention", "bad_number"),
        ("score", "like", "bad_number"),
    ],
)
def test_huge_integer_is_rejected_not_raised(field: str, kind: str, reason: str) -> None:
    parts = {"id": '"e"', "ts": "1700000000", "brand": '"acme"', "kind": f'"{kind}"'}
    parts[field] = HUGE
    body = ",".join(f'"{name}":{literal}' for name, literal in parts.items())
    raw = ("[{" + body + '},{"id":"ok","ts":1700000000,"brand":"acme","kind":"like"}]').encode()
    events, rejections = decode(raw)
    assert [r.reason for r in rejections] == [reason]
    assert [e["id"] for e in events] == ["ok"]


@pytest.mark.parametrize("survey", [["csat"], {"type": "csat"}], ids=["list", "object"])
def test_unhashable_survey_is_rejected_not_raised(survey: Any) -> None:
    bad = ev("survey") | {"survey": survey}
    events, rejections = decode(envelope([bad, ev(id="ok")]))
    assert [r.reason for r in rejections] in (["missing_field"], ["bad_type"])
    assert [e["id"] for e in events] == ["ok"]


# -- every decoder reason is produced by some case ------------------------------------------
def _reasons_of_tables() -> set[str]:
    produced: set[str] = set()
    for case in REJECTED_EVENTS:
        element, _ = case.values
        raw = json.dumps([element], allow_nan=True).encode()
        produced.update(r.reason for r in decode(raw)[1])
    for case in MESSAGES:
        raw, limits, _ = case.values
        produced.update(r.reason for r in decode(raw, **limits)[1])
    return produced


def test_every_decoder_reason_is_covered() -> None:
    produced = _reasons_of_tables()
    assert produced == set(REASONS) - {"late", "future"}
    assert produced <= set(REASONS)
