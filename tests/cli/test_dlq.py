"""``socialpulse dlq``'s pure parts: --since, records, and what replay sends."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from socialpulse.cli.dlq import decode, parse_since, replayable, values_from_lines


def test_since_takes_durations_and_iso_times() -> None:
    assert parse_since("30s", now=1000.0) == 970.0
    assert parse_since("10m", now=1000.0) == 400.0
    assert parse_since("2h", now=10_000.0) == 2800.0
    assert parse_since("1d", now=100_000.0) == 13_600.0
    assert parse_since("1970-01-01T00:01:00") == 60.0  # naive times are UTC
    assert parse_since("1970-01-01T01:01:00+01:00") == 60.0
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since("yesterday")


def test_a_record_decodes_with_its_headers() -> None:
    record = SimpleNamespace(
        headers=[
            ("reason", b"unknown_kind"),
            ("detail", b"kind 'x' is not one of the kinds of docs/events.md: like"),
            ("source_topic", b"social-events"),
            ("source_partition", b"3"),
            ("source_offset", b"1842"),
        ],
        timestamp=1_700_000_000_123,
        key=b"acme",
        value=b'{"kind": "x"}',
        partition=1,
        offset=7,
    )
    letter = decode(record)
    assert (letter.reason, letter.source_partition, letter.source_offset) == (
        "unknown_kind",
        3,
        1842,
    )
    assert letter.time == "2023-11-14T22:13:20.123Z" and letter.brand == "acme"
    text = letter.text()
    assert "from social-events[3]@1842" in text and '{"kind": "x"}' in text
    assert json.loads(letter.as_json())["offset"] == 7
    bare = decode(
        SimpleNamespace(headers=None, timestamp=0, key=None, value=b"\xff", partition=0, offset=0)
    )
    assert bare.reason == "?" and bare.source_topic is None and "(no source)" in bare.text()


def test_replay_reads_dlq_records_or_plain_events() -> None:
    record = json.dumps({"reason": "unknown_kind", "value": '{"id": "1", "kind": "share"}'})
    lines = [record, "", '{"id": "2", "kind": "like"}', "{broken"]
    got = list(values_from_lines(lines))
    assert got == [
        (1, '{"id": "1", "kind": "share"}'),
        (3, '{"id": "2", "kind": "like"}'),
        (4, "{broken"),
    ]
    assert replayable('[{"a": 1}, {"b": 2}]') == [{"a": 1}, {"b": 2}]
    assert replayable('{"a": 1}') == [{"a": 1}]
    with pytest.raises(ValueError, match="invalid_json"):
        replayable("{broken")
