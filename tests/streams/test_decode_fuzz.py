"""Property tests of ``decode_message``: it never raises, and it accounts for every element.

docs/events.md: "Nothing is silently dropped, and nothing crashes a worker." Fuzzed: random
bytes, deep nesting, huge strings, lone surrogates, NUL, wrong types, numbers out of range
and envelopes mixing good and bad events. Every accepted event must be writable again with
orjson (the worker re-encodes events to forward and dead-letter them), and every dead letter
must decode to the same rejection again.

CI runs each property derandomized (a fixed seed per test) with 300 examples. A longer,
random run for local use (see docs/reliability.md, "Fuzzing")::

    SOCIALPULSE_FUZZ_EXAMPLES=100000 pytest tests/streams/test_decode_fuzz.py

prints hypothesis' seed on a failure; ``pytest --hypothesis-seed=N`` repeats that run.
"""

from __future__ import annotations

import copy
import json
import math
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialpulse.streams import codec
from socialpulse.streams.contract import (
    KINDS,
    MAX_BRAND,
    MAX_COUNT,
    NON_NEGATIVE_VALUE_KINDS,
    REASONS,
    VALUE_REQUIRED_KINDS,
)
from socialpulse.streams.validation import (
    MAX_NESTING,
    Event,
    Invalid,
    Rejection,
    decode_message,
    validate_event,
)

MAX_BYTES = 1 << 30  # never the limit here: the size rule has its own tests
MAX_EVENTS = 10_000
DECODER_REASONS = set(REASONS) - {"late", "future"}

#: SOCIALPULSE_FUZZ_EXAMPLES=N: N examples per property, random instead of derandomized
LONG_RUN = int(os.environ.get("SOCIALPULSE_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    derandomize=not LONG_RUN,
    max_examples=LONG_RUN or 300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FIELDS = (
    "id",
    "ts",
    "brand",
    "kind",
    "platform",
    "campaign",
    "variant",
    "count",
    "value",
    "currency",
    "score",
    "survey",
    "author",
    "text",
    "lang",
    "sentiment",
    "hashtags",
    "parent_id",
    "session",
)


def decode(raw: bytes) -> tuple[list[Event], list[Rejection]]:
    return decode_message(raw, max_bytes=MAX_BYTES, max_events=MAX_EVENTS)


def nested(depth: int, leaf: Any = None) -> Any:
    value: Any = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


MESSAGE_LEVEL = {"invalid_json", "empty_envelope", "envelope_too_large", "too_large"}
TOO_DEEP = b'"<element nested too deep to re-encode>"'


def check_accounting(doc: Any, events: list[Event], rejections: list[Rejection]) -> None:
    """Every element of ``doc`` is an event or a rejection, and reasons are the contract's."""
    if isinstance(doc, list) and 0 < len(doc) <= MAX_EVENTS:
        assert len(events) + len(rejections) == len(doc)
    else:
        assert len(events) + len(rejections) == 1
    check_outputs(events, rejections)


def check_outputs(events: list[Event], rejections: list[Rejection]) -> None:
    """What the worker does next with them cannot fail.

    Accepted events are re-encoded with orjson (forwarding, late and future dead letters);
    a rejection's reason is a label value, its detail a Kafka header and its brand a key.
    A dead letter decodes to the same rejection again, so replaying it is faithful.
    """
    for rejection in rejections:
        assert rejection.reason in DECODER_REASONS
        assert isinstance(rejection.raw, bytes)
        assert isinstance(rejection.detail, str)
        assert len(rejection.detail) <= 500
        rejection.detail.encode("utf-8", "replace")
        assert rejection.brand is None or isinstance(rejection.brand, str)
        if rejection.brand is not None:
            rejection.brand.encode("utf-8")  # the dead letter's key
        if rejection.reason not in MESSAGE_LEVEL and rejection.raw != TOO_DEEP:
            replayed = codec.loads(rejection.raw)
            if isinstance(replayed, dict):  # a list element would be an envelope again
                again, (same,) = decode(rejection.raw)
                assert again == []
                assert same.reason == rejection.reason
    for ev in events:
        assert isinstance(ev["ts"], float)
        assert ev["kind"] in KINDS
        written = codec.dumps(ev)
        if ev["ts"] <= 1e11:  # later ones are read as milliseconds again (and are future)
            assert validate_event(codec.loads(written)) == codec.loads(written)


# -- strategies -----------------------------------------------------------------------------
any_text = st.text(alphabet=st.characters(codec=None), max_size=40)  # surrogates, NUL, ...
huge_text = st.builds(lambda c, n: c * n, st.characters(codec=None), st.integers(0, 20_000))
special_text = st.sampled_from(["\ud800", "\udfff", "a\x00b", "\x00", "", "x\ud800y", "é"])
bounded_ints = st.integers(min_value=-(2**63), max_value=2**64)
huge_ints = st.integers(min_value=2**64, max_value=10**30) | st.integers(max_value=-(2**64))
floats = st.floats(allow_nan=True, allow_infinity=True)

scalars = (
    st.none()
    | st.booleans()
    | bounded_ints
    | floats
    | any_text
    | huge_text
    | special_text
    | st.sampled_from(sorted(KINDS))
)
keys = any_text | st.sampled_from(FIELDS)


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=6) | st.dictionaries(keys, children, max_size=6)


json_values = st.recursive(scalars | huge_ints, containers, max_leaves=40) | st.builds(
    nested, st.integers(0, 250), scalars
)

#: values equal to themselves after a JSON round trip (no NaN, no lone surrogate), for
#: the extra fields of good events
unpaired_free = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | unpaired_free,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(unpaired_free, children, max_size=6)
    ),
    max_leaves=10,
)


def envelopes(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return values | st.lists(values, min_size=1, max_size=20)


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


# valid events: a brand without NUL or surrogates, any kind, any documented ts form
brands = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=MAX_BRAND,
)
clean_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=200
)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@st.composite
def timestamps(draw: st.DrawFn) -> tuple[Any, float]:
    """(ts as sent, epoch seconds expected)."""
    form = draw(st.sampled_from(["rfc-z", "rfc-offset", "seconds", "float", "millis"]))
    if form.startswith("rfc"):
        when = draw(
            st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1))
        ).replace(tzinfo=UTC)
        if form == "rfc-z":
            return when.isoformat().replace("+00:00", "Z"), when.timestamp()
        local = when.astimezone(draw(offsets))
        return local.isoformat(), when.timestamp()
    if form == "seconds":
        seconds = draw(st.integers(0, 4_000_000_000))
        return seconds, float(seconds)
    if form == "float":
        seconds_f = draw(st.floats(0, 4e9, allow_nan=False))
        return seconds_f, seconds_f
    millis = draw(st.integers(100_000_000_001, 4_000_000_000_000))
    return millis, millis / 1000


@st.composite
def good_events(draw: st.DrawFn) -> tuple[dict[str, Any], float]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    ts, expected_ts = draw(timestamps())
    ev: dict[str, Any] = {"id": "ev", "ts": ts, "brand": draw(brands), "kind": kind}
    if kind in VALUE_REQUIRED_KINDS or draw(st.booleans()):
        low = 0 if kind in NON_NEGATIVE_VALUE_KINDS else -1e9
        ev["value"] = draw(st.floats(low, 1e9) | st.integers(int(low), 10**9))
    if kind == "survey":
        survey = draw(st.sampled_from(["csat", "nps"]))
        low, high = {"csat": (1, 5), "nps": (0, 10)}[survey]
        ev["survey"] = survey
        ev["score"] = draw(st.integers(low, high) | st.floats(low, high))
    optional = {
        "platform": st.text(
            alphabet=st.characters(codec="ascii", exclude_characters="\x00"),
            min_size=1,
            max_size=64,
        ),
        "count": st.integers(1, 10**9),
        "sentiment": st.floats(-1, 1),
        "text": clean_text,
        "campaign": clean_text.map(lambda s: s[:128]),
        "hashtags": st.lists(clean_text.map(lambda s: s[:128]), max_size=5),
        "author": st.fixed_dictionaries({"id": brands, "followers": st.integers(0, 10**9)}),
        "extra_field": plain_values,
    }
    for field, strategy in optional.items():
        if draw(st.booleans()):
            ev[field] = draw(strategy)
    return ev, expected_ts


def _breakers() -> list[tuple[str, Any]]:
    def drop(field: str) -> Any:
        return lambda ev: {k: v for k, v in ev.items() if k != field}

    def put(**fields: Any) -> Any:
        return lambda ev: ev | fields

    return [
        ("missing_field", drop("id")),
        ("missing_field", drop("ts")),
        ("missing_field", drop("brand")),
        ("missing_field", drop("kind")),
        ("missing_field", put(brand="")),
        ("bad_type", put(id=17)),
        ("bad_type", put(count=True)),
        ("unknown_kind", put(kind="retweet")),
        ("too_long", put(id="i" * 257)),
        ("too_long", put(text="t" * 10_001)),
        ("bad_text", put(text="oops\ud800")),
        ("bad_text", put(text="nul\x00")),
        ("out_of_range", put(sentiment=1.5)),
        ("bad_number", put(sentiment=math.nan)),
        ("bad_number", put(sentiment=-math.inf)),
        ("negative_value", put(count=0)),
        ("negative_value", put(kind="ad_spend", value=-1)),
        ("bad_ts", put(ts="next tuesday")),
        ("bad_ts", put(ts=-5)),
        ("bad_ts", put(ts=False)),
        # wrong types: bools where numbers or strings belong (True is an int in Python)
        ("bad_type", put(value=True)),
        ("bad_type", put(sentiment=False)),
        ("bad_type", put(platform=True)),
        ("bad_type", put(text=0)),
        ("bad_type", put(currency=True)),
        ("bad_type", put(hashtags=[True])),
        ("bad_type", put(kind=["like"])),
        # the author object and its fields
        ("bad_type", put(author=["u"])),
        ("bad_type", put(author={"followers": True})),
        ("bad_type", put(author={"age": 1.5})),
        ("bad_type", put(author={"id": {"nested": "x"}})),
        ("bad_type", put(author={"followers": 2**64})),  # a float once parsed
        ("out_of_range", put(author={"followers": MAX_COUNT + 1})),
        ("negative_value", put(author={"age": -1})),
        ("bad_text", put(author={"id": "u", "bio": "\ud800"})),
        # numbers out of range
        ("bad_type", put(count=2**64)),  # beyond 64 bits: parsed as a float
        ("out_of_range", put(count=2**63)),
        ("bad_number", put(value=10**400)),  # beyond a double: inf
        ("bad_number", put(score=-math.inf)),
        ("bad_ts", put(ts=10**400)),
        ("bad_ts", put(ts=math.nan)),
        ("bad_ts", put(ts="\ud800")),
        # NUL and lone surrogates wherever text goes, extra fields and names too
        ("bad_text", put(campaign="a\x00")),
        ("bad_text", put(lang="\udfff")),
        ("bad_text", put(hashtags=["ok", "\ud800"])),
        ("bad_text", put(extra="\ud800")),
        ("bad_text", put(extra={"k": ["\udc00"]})),
        ("bad_text", put(extra={"\ud800": 1})),
        ("bad_text", put(**{"\ud800": 1})),
        # nesting an extra field deeper than the worker can write it again
        ("bad_type", put(extra=nested(MAX_NESTING + 1, 1))),
        ("bad_type", put(extra=nested(600))),
        ("too_long", put(campaign="c" * 129)),
        ("unknown_kind", put(kind="LIKE")),
    ]


BREAKERS = _breakers()


@st.composite
def bad_elements(draw: st.DrawFn) -> tuple[Any, str]:
    """(a bad element, the reason it must be rejected for)."""
    if draw(st.booleans()):
        element = draw(st.none() | st.booleans() | bounded_ints | any_text | st.lists(scalars))
        return element, "not_object"
    ev, _ = draw(good_events())
    reason, breaker = draw(st.sampled_from(BREAKERS))
    return breaker(ev), reason


# -- properties -----------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    events, rejections = decode(raw)
    assert len(events) + len(rejections) >= 1
    for rejection in rejections:
        assert rejection.reason in DECODER_REASONS


@FUZZ
@given(st.binary(max_size=200).map(lambda b: b"[" + b + b"]"))
def test_arbitrary_bracketed_bytes_never_raise(raw: bytes) -> None:
    events, rejections = decode(raw)
    assert len(events) + len(rejections) >= 1


@FUZZ
@given(envelopes(json_values))
def test_arbitrary_json_never_raises_and_accounts_for_every_element(doc: Any) -> None:
    events, rejections = decode(dumps(doc))
    check_accounting(doc, events, rejections)


@FUZZ
@given(
    st.lists(
        st.tuples(
            good_events(),
            st.dictionaries(st.sampled_from(FIELDS) | any_text, json_values, max_size=4),
        ),
        max_size=8,
    )
)
def test_mutated_events_never_raise(cases: list[Any]) -> None:
    """Valid events with contract fields (or new ones) set to arbitrary JSON values."""
    doc = [ev | mutation for (ev, _), mutation in cases] or [{}]
    for i, element in enumerate(doc):
        element.setdefault("id", f"m{i}")
    events, rejections = decode(dumps(doc))
    check_accounting(doc, events, rejections)


@FUZZ
@given(
    st.lists(
        st.one_of(
            good_events().map(lambda g: ("good", g)), bad_elements().map(lambda b: ("bad", b))
        ),
        min_size=1,
        max_size=30,
    )
)
def test_mixed_envelope_keeps_good_events_in_order(items: list[Any]) -> None:
    doc: list[Any] = []
    good: list[tuple[dict[str, Any], float]] = []
    bad_reasons: list[str] = []
    for i, (tag, (element, extra)) in enumerate(items):
        if tag == "good":
            element = element | {"id": f"good-{i}"}
            good.append((element, extra))
        else:
            bad_reasons.append(extra)
        doc.append(element)
    events, rejections = decode(dumps(doc))

    assert [ev["id"] for ev in events] == [ev["id"] for ev, _ in good]
    assert [r.reason for r in rejections] == bad_reasons
    for out, (sent, expected_ts) in zip(events, good, strict=True):
        assert out["ts"] == pytest.approx(expected_ts, abs=1e-6)
        assert out == validate_event(copy.deepcopy(sent))
        assert out["brand"] == sent["brand"]
        assert out["platform"] == sent.get("platform", "unknown")
        assert out["count"] == sent.get("count", 1)


@FUZZ
@given(good_events())
def test_every_good_event_is_valid_alone(case: tuple[dict[str, Any], float]) -> None:
    ev, expected_ts = case
    ev = ev | {"id": "only"}
    events, rejections = decode(dumps(ev))
    assert rejections == []
    (out,) = events
    assert out["ts"] == pytest.approx(expected_ts, abs=1e-6)


# -- deep nesting ---------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [100, 254, 255, 256, 300, 600, 1100, 5_000, 100_000])
def test_deep_nesting_never_raises(depth: int) -> None:
    for raw in (
        b"[" * depth + b"]" * depth,  # an envelope of nested lists
        b"[" * depth,  # unterminated
        b'[{"id":"x","ts":1,"brand":"acme","kind":"like","extra":'
        + b"[" * depth
        + b"]" * depth
        + b"}]",
        b'["\\ud800",' + b"[" * depth + b"]" * depth + b"]",  # forces the stdlib parser
    ):
        events, rejections = decode(raw)
        assert len(events) + len(rejections) >= 1
        assert {r.reason for r in rejections} <= DECODER_REASONS


def test_deep_element_in_envelope_is_rejected_with_its_siblings_kept() -> None:
    depth = 300  # parsed by orjson (limit 1024) but deeper than orjson.dumps allows (254)
    raw = b'[{"id":"ok","ts":1,"brand":"acme","kind":"like"},' + b"[" * depth + b"]" * depth + b"]"
    events, rejections = decode(raw)
    assert [ev["id"] for ev in events] == ["ok"]
    assert [r.reason for r in rejections] == ["not_object"]
    assert rejections[0].raw == b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [1000, 1020])
def test_element_nested_just_below_orjson_limit_does_not_raise(depth: int) -> None:
    raw = b'[{"id":"ok","ts":1,"brand":"acme","kind":"like"},' + b"[" * depth + b"]" * depth + b"]"
    events, rejections = decode(raw)
    assert [ev["id"] for ev in events] == ["ok"]
    assert [r.reason for r in rejections] == ["not_object"]


@settings(FUZZ, report_multiple_bugs=False)
@given(good_events(), st.sampled_from(["ts", "value", "sentiment", "score"]), st.data())
def test_number_fields_with_huge_integers_never_raise(
    case: tuple[dict[str, Any], float], field: str, data: st.DataObject
) -> None:
    ev, _ = case
    ev = ev | {field: data.draw(st.integers(min_value=10**309) | st.integers(max_value=-(10**309)))}
    events, rejections = decode(dumps([ev]))
    assert len(events) + len(rejections) == 1


# -- JSON-ish token soup: numbers, escapes and brackets no encoder would write --------------
GOOD = '{"id":"ok","ts":1700000000,"brand":"acme","kind":"like"}'
FRAGMENTS = [
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    '"id"',
    '"ts"',
    '"brand"',
    '"kind"',
    '"value"',
    '"count"',
    '"author"',
    '"like"',
    '"acme"',
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"\\ud83d\\ude00"',
    '"\\u0000"',
    '"a\x00b"',
    "-0",
    "-0.0",
    "1e309",
    "-1e309",
    "1e-400",
    "NaN",
    "-Infinity",
    "true",
    "null",
    "18446744073709551616",
    "-9223372036854775809",
    "1" * 400,
    "9" * 5_000,  # beyond Python's 4,300-digit limit on int("...")
    "-" + "7" * 5_000,
    "1" * 5_000 + ".5e3",
    GOOD,
]


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=40))
def test_json_token_soup_never_raises(tokens: list[str]) -> None:
    raw = "".join(tokens).encode("utf-8", "surrogatepass")
    events, rejections = decode(raw)
    assert len(events) + len(rejections) >= 1
    check_outputs(events, rejections)


LITERALS = [f for f in FRAGMENTS[15:] if f not in ('"a\x00b"', GOOD)]


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from((*FIELDS, "extra")), st.sampled_from(LITERALS)),
        min_size=1,
        max_size=12,
    )
)
def test_any_literal_in_any_field_costs_only_its_element(cases: list[tuple[str, str]]) -> None:
    """An envelope of a good event and events with one field set to an odd literal."""
    elements = [GOOD]
    for i, (field, literal) in enumerate(cases):
        fields = {"id": f'"e{i}"', "ts": "1700000000", "brand": '"acme"', "kind": '"like"'}
        fields[field] = literal
        elements.append("{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}")
    raw = ("[" + ",".join(elements) + "]").encode()
    events, rejections = decode(raw)
    assert len(events) + len(rejections) == len(elements)
    assert events[0]["id"] == "ok"
    check_outputs(events, rejections)


# -- the message size limit -----------------------------------------------------------------
@FUZZ
@given(st.integers(1024, 8192), st.integers(-64, 64), st.sampled_from([b"[", b"{", b"x", b"\\"]))
def test_message_size_limit_is_exact(limit: int, delta: int, filler: bytes) -> None:
    good = GOOD.encode()
    raw = (b"[" + b",".join([good] * 200) + b"]")[: limit + delta]
    raw = raw + filler * max(0, limit + delta - len(raw))
    events, rejections = decode_message(raw, max_bytes=limit, max_events=MAX_EVENTS)
    if len(raw) > limit:
        assert events == []
        assert [r.reason for r in rejections] == ["too_large"]
        assert rejections[0].raw == raw
    else:
        assert "too_large" not in {r.reason for r in rejections}


def test_size_limit_is_checked_before_parsing() -> None:
    raw = b"[" * 5_000_000  # would take the stdlib parser into deep recursion
    events, rejections = decode_message(raw, max_bytes=4 * 1024 * 1024, max_events=MAX_EVENTS)
    assert (events, [r.reason for r in rejections]) == ([], ["too_large"])


# -- deep nesting of objects and arrays -----------------------------------------------------
def deep_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def deep_mixed(depth: int) -> bytes:
    return b'{"a":[' * (depth // 2) + b"1" + b"]}" * (depth // 2)


@pytest.mark.parametrize("depth", [40, 254, 255, 1_000, 1_023, 1_024, 1_025, 5_000, 100_000])
@pytest.mark.parametrize("shape", [deep_object, deep_mixed], ids=["objects", "mixed"])
def test_deep_objects_never_raise_and_are_rejected(depth: int, shape: Any) -> None:
    deep = shape(depth)
    for raw, siblings in (
        (deep, 0),  # the message itself
        (b"[" + deep + b"," + GOOD.encode() + b"]", 1),  # an element of an envelope
        (GOOD.encode()[:-1] + b',"extra":' + deep + b"}", 0),  # an extra field
        (b"[" + GOOD.encode() + b"," + GOOD.encode()[:-1] + b',"x":' + deep + b"}]", 1),
    ):
        events, rejections = decode(raw)
        assert len(rejections) == 1, raw[:80]
        # an object is an event without an id; nesting in an extra field is a bad_type
        assert rejections[0].reason in {"missing_field", "bad_type", "invalid_json"}
        if rejections[0].reason == "invalid_json":  # deeper than both parsers go
            assert events == []
        else:
            assert len(events) == siblings
        check_outputs(events, rejections)


@pytest.mark.parametrize("depth", [MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1, 254, 1_000])
def test_extra_field_nesting_limit(depth: int) -> None:
    extra = b"[" * depth + b"1" + b"]" * depth
    raw = b'[{"id":"n","ts":1700000000,"brand":"acme","kind":"like","extra":' + extra + b"},"
    events, rejections = decode(raw + GOOD.encode() + b"]")
    if depth <= MAX_NESTING:
        assert [ev["id"] for ev in events] == ["n", "ok"]
        assert codec.dumps(events[0]["extra"]) == extra
    else:
        assert [ev["id"] for ev in events] == ["ok"]
        assert [r.reason for r in rejections] == ["bad_type"]
        assert "nests deeper" in rejections[0].detail
        assert rejections[0].brand == "acme"
    check_outputs(events, rejections)


def test_deep_nesting_does_not_leave_the_recursion_limit_changed() -> None:
    import sys

    limit = sys.getrecursionlimit()
    decode(b"[" * 100_000 + b"]" * 100_000)
    decode(deep_object(100_000))
    assert sys.getrecursionlimit() == limit


# -- huge strings ---------------------------------------------------------------------------
TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("field", "reason"),
    [("text", "too_long"), ("id", "too_long"), ("brand", "too_long"), ("kind", "too_long")],
)
def test_ten_megabyte_strings(field: str, reason: str) -> None:
    element = json.loads(GOOD) | {field: "x" * TEN_MB}
    raw = dumps([element, json.loads(GOOD)])
    events, rejections = decode(raw)
    assert [r.reason for r in rejections] == [reason]
    assert [ev["id"] for ev in events] == ["ok"]
    assert len(rejections[0].detail) < 200
    # with the worker's default limit (4 MiB) the message is refused before parsing
    events, rejections = decode_message(raw, max_bytes=4 * 1024 * 1024, max_events=MAX_EVENTS)
    assert (events, [r.reason for r in rejections]) == ([], ["too_large"])


def test_ten_megabyte_field_name_and_extra_value() -> None:
    name = "k" * TEN_MB
    events, rejections = decode(dumps([json.loads(GOOD) | {name: "\ud800"}]))
    assert [r.reason for r in rejections] == ["bad_text"]
    assert len(rejections[0].detail) < 200
    events, rejections = decode(dumps([json.loads(GOOD) | {"extra": "é" * TEN_MB}]))
    assert rejections == []  # an extra field has no length limit but the message's
    assert len(events[0]["extra"]) == TEN_MB


def test_ten_megabytes_of_escaped_nul_and_surrogates() -> None:
    for escape in (b"\\u0000", b"\\ud800"):
        raw = (
            b'[{"id":"n","ts":1,"brand":"acme","kind":"post","text":"'
            + escape * (TEN_MB // 6)
            + b'"},'
            + GOOD.encode()
            + b"]"
        )
        events, rejections = decode(raw)
        assert [r.reason for r in rejections] == ["too_long"]
        assert [ev["id"] for ev in events] == ["ok"]


# -- surrogates and NUL, escaped and raw ----------------------------------------------------
STRING_FIELDS = ["id", "brand", "kind", "platform", "campaign", "variant", "parent_id", "session"]


@pytest.mark.parametrize("field", [*STRING_FIELDS, "lang", "text"])
@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "x\\udbff", "\\u0000", "a\\u0000b"])
def test_escaped_lone_surrogate_or_nul_in_any_text_field(field: str, escape: str) -> None:
    element = {"id": "e", "ts": 1700000000, "brand": "acme", "kind": "like"}
    body = ",".join(f'"{k}":{json.dumps(v)}' for k, v in element.items() if k != field)
    raw = f'[{{{body},"{field}":"{escape}"}},{GOOD}]'.encode()
    events, rejections = decode(raw)
    assert [r.reason for r in rejections] == ["bad_text"]
    assert [ev["id"] for ev in events] == ["ok"]
    check_outputs(events, rejections)


def test_surrogate_pair_is_a_character_not_a_lone_surrogate() -> None:
    raw = b'[{"id":"e","ts":1700000000,"brand":"acme","kind":"post","text":"\\ud83d\\ude00"}]'
    (ev,), rejections = decode(raw)
    assert rejections == []
    assert ev["text"] == "😀"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id":"e","ts":1,"brand":"acme","kind":"post","text":"\xed\xa0\x80"}',  # CESU-8
        b'{"id":"e","ts":1,"brand":"acme","kind":"post","text":"a\x00b"}',  # raw NUL
        b'{"id":"e","ts":1,"brand":"acme","kind":"post","text":"\xff"}',
        b'{"id":"e","ts":1,"brand":"acme","kind":"post"}\x00',
    ],
    ids=["encoded-surrogate", "raw-nul", "invalid-utf8", "trailing-nul"],
)
def test_raw_surrogates_and_nul_bytes_are_not_json(raw: bytes) -> None:
    events, rejections = decode(raw)
    assert (events, [r.reason for r in rejections]) == ([], ["invalid_json"])


def test_nul_in_an_extra_field_is_kept() -> None:
    """Only fields docs/events.md names refuse NUL; an extra field can hold and re-encode it."""
    (ev,), rejections = decode(GOOD[:-1].encode() + b',"note":"a\\u0000b"}')
    assert rejections == []
    assert codec.loads(codec.dumps(ev))["note"] == "a\x00b"


# -- numbers at and beyond the edges, as literals -------------------------------------------
BIG = "1" + "0" * 5_000  # past Python's limit on int("..."): the fallback parser's edge
NUMBER_CASES = [
    # (kind, field, literal, reason or None when accepted)
    ("like", "count", "-0", "negative_value"),
    ("like", "count", "18446744073709551616", "bad_type"),  # 2**64: a float once parsed
    ("like", "count", "9223372036854775808", "out_of_range"),
    ("like", "count", "1e400", "bad_type"),
    ("like", "count", BIG, "bad_type"),
    ("like", "count", "1.0", "bad_type"),
    ("like", "count", "true", "bad_type"),
    ("conversion", "value", "-0", None),
    ("conversion", "value", "-0.0", None),
    ("conversion", "value", "18446744073709551616", None),
    ("conversion", "value", "1e309", "bad_number"),
    ("conversion", "value", "-1e309", "bad_number"),
    ("conversion", "value", BIG, "bad_number"),
    ("conversion", "value", "-" + BIG, "bad_number"),
    ("conversion", "value", "1e-400", None),
    ("conversion", "value", "true", "bad_type"),
    ("conversion", "value", "false", "bad_type"),
    ("like", "value", "-" + BIG, "bad_number"),
    ("like", "ts", "-0", None),
    ("like", "ts", "-0.0", None),
    ("like", "ts", "1e309", "bad_ts"),
    ("like", "ts", BIG, "bad_ts"),
    ("like", "ts", "-" + BIG, "bad_ts"),
    ("like", "ts", "true", "bad_ts"),
    ("like", "sentiment", "-0", None),
    ("like", "sentiment", "1e-400", None),
    ("like", "sentiment", "1.0000000000000001", None),  # 1.0 as a double
    ("like", "sentiment", "true", "bad_type"),
    ("like", "sentiment", BIG, "bad_number"),
    ("like", "score", BIG, "bad_number"),
    ("like", "score", "false", "bad_type"),
    ("like", "author", '{"followers":-0}', None),
    ("like", "author", '{"followers":18446744073709551616}', "bad_type"),
    ("like", "author", '{"followers":1e2}', "bad_type"),
    ("like", "author", '{"followers":true}', "bad_type"),
    ("like", "author", '{"followers":1000000000001}', "out_of_range"),
    ("like", "author", f'{{"followers":{BIG}}}', "bad_type"),
    ("like", "author", f'{{"x":{BIG}}}', None),  # inf in an extra: written as null
    ("like", "extra", BIG, None),
    ("like", "extra", "-" + BIG, None),
    ("like", "extra", "18446744073709551616", None),
    ("like", "extra", "NaN", None),
]


@pytest.mark.parametrize(("kind", "field", "literal", "reason"), NUMBER_CASES)
def test_number_literals(kind: str, field: str, literal: str, reason: str | None) -> None:
    fields = {"id": '"n"', "ts": "1700000000", "brand": '"acme"', "kind": f'"{kind}"'}
    if kind == "conversion":
        fields["value"] = "5"
    fields[field] = literal
    body = ",".join(f'"{name}":{text}' for name, text in fields.items())
    raw = f"[{{{body}}},{GOOD}]".encode()
    events, rejections = decode(raw)
    assert [r.reason for r in rejections] == ([reason] if reason else [])
    assert [ev["id"] for ev in events] == (["ok"] if reason else ["n", "ok"])
    check_outputs(events, rejections)


# -- wrong types, bools first -------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": True}, "bad_type"),
        ({"brand": False}, "bad_type"),
        ({"kind": True}, "bad_type"),
        ({"ts": True}, "bad_ts"),
        ({"count": True}, "bad_type"),
        ({"value": True}, "bad_type"),
        ({"sentiment": True}, "bad_type"),
        ({"kind": "survey", "survey": "csat", "score": True}, "bad_type"),
        ({"kind": "survey", "survey": True, "score": 3}, "missing_field"),
        ({"kind": "survey", "survey": ["csat"], "score": 3}, "missing_field"),
        ({"hashtags": True}, "bad_type"),
        ({"hashtags": {"a": 1}}, "bad_type"),
        ({"hashtags": [["nested"]]}, "bad_type"),
        ({"author": True}, "bad_type"),
        ({"author": "someone"}, "bad_type"),
        ({"author": {"id": 5}}, "bad_type"),
        ({"author": {"id": ["u"]}}, "bad_type"),
        ({"author": {"location": {"city": "x"}}}, "bad_type"),
        ({"author": {"gender": False}}, "bad_type"),
        ({"author": {"followers": "10"}}, "bad_type"),
        ({"author": {"followers": [10]}}, "bad_type"),
        ({"author": {"age": {"years": 30}}}, "bad_type"),
        ({"author": {"id": "u", "followers": 10, "friends": {"deep": ["\ud800"]}}}, "bad_text"),
        ({"lang": 7}, "bad_type"),
        ({"text": {"body": "hi"}}, "bad_type"),
        ({"currency": 978}, "bad_type"),
    ],
)
def test_wrong_types(fields: dict[str, Any], reason: str) -> None:
    element = json.loads(GOOD) | {"id": "w"} | fields
    events, rejections = decode(dumps([element, json.loads(GOOD)]))
    assert [r.reason for r in rejections] == [reason]
    assert [ev["id"] for ev in events] == ["ok"]
    with pytest.raises(Invalid):
        validate_event(copy.deepcopy(element))
    check_outputs(events, rejections)


def test_producer_side_python_values_that_cannot_be_written_are_invalid() -> None:
    """validate_event also guards the SDK producer: what orjson cannot write is refused."""
    base = json.loads(GOOD)
    for extra, reason in (
        ({"x": 2**70}, "bad_number"),
        ({"x": {1: "a"}}, "bad_type"),
        ({"value": 2**70}, "bad_number"),
        ({1: "a"}, "bad_type"),
    ):
        with pytest.raises(Invalid) as info:
            validate_event(base | extra)
        assert info.value.reason == reason


def test_the_first_bad_extra_field_in_the_event_gives_the_reason() -> None:
    """Not a set's order: the worker and a replay (other processes) must agree."""
    deep = nested(MAX_NESTING + 1, 1)
    for fields, reason in (
        ({"a": "\ud800", "b": deep}, "bad_text"),
        ({"b": deep, "a": "\ud800"}, "bad_type"),
        ({"author": {"x": 2**70, "y": "\ud800"}}, "bad_number"),
        ({"author": {"y": "\ud800", "x": 2**70}}, "bad_text"),
    ):
        with pytest.raises(Invalid) as info:
            validate_event(json.loads(GOOD) | fields)
        assert info.value.reason == reason


# -- the fast path agrees with the per-element path ----------------------------------------
def both_paths(raw: bytes) -> tuple[Any, Any]:
    from socialpulse.streams.validation import decode_slow

    slow = decode_slow(raw, max_events=MAX_EVENTS)
    return decode(raw), slow


@FUZZ
@given(
    st.lists(
        st.one_of(
            good_events().map(lambda g: g[0]),
            bad_elements().map(lambda b: b[0]),
            st.tuples(
                good_events(),
                st.dictionaries(st.sampled_from(FIELDS) | any_text, json_values, max_size=3),
            ).map(lambda c: c[0][0] | c[1]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
def test_the_fast_path_gives_what_the_per_element_path_gives(
    elements: list[Any], single: bool
) -> None:
    """decode_message takes msgspec's path for messages whose elements are all valid; its
    events must be exactly the per-element path's, and it must accept nothing that path
    rejects."""
    doc = elements[0] if single else elements
    raw = dumps(doc)
    (fast_events, fast_rejections), (slow_events, slow_rejections) = both_paths(raw)
    assert [r.reason for r in fast_rejections] == [r.reason for r in slow_rejections]
    assert codec.dumps_lenient(fast_events) == codec.dumps_lenient(slow_events)


def test_the_fast_path_is_taken_for_valid_envelopes() -> None:
    from socialpulse.streams.fast_decode import decode_fast
    from socialpulse.streams.validation import _check_extra

    good = [{"id": str(i), "ts": 1.7e9, "brand": "b", "kind": "like", "x": [1]} for i in range(5)]
    assert decode_fast(dumps(good), _check_extra) is not None
    assert decode_fast(dumps([*good, {"id": "z"}]), _check_extra) is None


@pytest.mark.parametrize(("reason", "breaker"), BREAKERS, ids=[r for r, _ in BREAKERS])
@pytest.mark.parametrize("kind", ["like", "survey", "ad_spend", "visit"])
def test_every_breaker_is_rejected_by_both_paths(reason: str, breaker: Any, kind: str) -> None:
    base = {"id": "e", "ts": 1.7e9, "brand": "b", "kind": kind, "value": 3.0}
    if kind == "survey":
        base |= {"survey": "csat", "score": 4}
    element = breaker(base)
    for doc in (element, [base | {"id": "good"}, element]):
        (fast, fast_rejected), (slow, slow_rejected) = both_paths(dumps(doc))
        assert [r.reason for r in fast_rejected] == [r.reason for r in slow_rejected]
        assert codec.dumps_lenient(fast) == codec.dumps_lenient(slow)
        assert fast_rejected, "a broken element was accepted"


@pytest.mark.parametrize(
    "element",
    [
        {"kind": "survey", "survey": "csat", "score": 6},
        {"kind": "survey", "survey": "nps"},
        {"kind": "survey", "score": 3},
        {"kind": "followers"},
        {"kind": "conversion", "value": -2},
        {"kind": "like", "count": None},
        {"kind": "like", "currency": "EUR\n"},
        {"kind": "like", "ts": "2026-13-01T00:00:00Z"},
    ],
)
def test_kind_rules_send_the_message_to_the_per_element_path(element: dict) -> None:
    ev = {"id": "e", "ts": 1.7e9, "brand": "b"} | element
    (fast, fast_rejected), (slow, slow_rejected) = both_paths(dumps([ev]))
    assert fast == slow == [] and len(fast_rejected) == len(slow_rejected) == 1
