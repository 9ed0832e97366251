"""``socialpulse dlq`` against the embedded broker, with a real worker writing dead letters."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import CLI, Stack
from tests.integration.test_pipeline import dumps, ev, librdkafka_send

pytestmark = pytest.mark.integration


def run(stack: Stack, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=stack.env(), capture_output=True, text=True, timeout=timeout
    )


def test_dlq_prints_filters_and_replays_fixed_dead_letters(stack: Stack, tmp_path: Path) -> None:
    stack.start_worker()
    now = time.time()
    bad = [
        b"{broken json",
        dumps({"id": "k1", "ts": now, "brand": "acme", "kind": "retweet"}),
        dumps([ev("e1", "like", now - 5), {"id": "k2", "ts": now, "brand": "acme", "kind": "x"}]),
        dumps({"id": "m1", "brand": "acme", "kind": "like"}),  # no ts
    ]
    librdkafka_send(stack, bad)  # one multi-record batch: Tansu's end offset is off after it

    def dead(s: dict) -> bool:
        return sum(v for (n, _), v in s.items() if n == "socialpulse_dead_letters_total") >= 4

    assert dead(stack.wait_for(dead, seconds=60)), stack.log_tail()

    result = run(stack, "dlq", "--json")
    assert result.returncode == 0, result.stderr
    letters = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(d["reason"] for d in letters) == sorted(
        ["invalid_json", "unknown_kind", "unknown_kind", "missing_field"]
    )
    for d in letters:
        assert d["source_topic"] == stack.events_topic
        assert d["source_partition"] is not None and d["source_offset"] is not None
        assert d["detail"] and d["value"]
    broken = next(d for d in letters if d["reason"] == "invalid_json")
    assert broken["value"] == "{broken json"
    assert "4 dead letters" in result.stderr

    text = run(stack, "dlq", "--reason", "unknown_kind")
    assert text.returncode == 0 and text.stdout.count("unknown_kind") >= 2
    assert "invalid_json" not in text.stdout and "from " + stack.events_topic in text.stdout
    assert "docs/events.md" in text.stdout  # the rejection detail points at the contract

    assert run(stack, "dlq", "--since", "1h", "--json").stdout.count("\n") == 4
    later = run(stack, "dlq", "--since", "2999-01-01T00:00:00", "--json")
    assert later.returncode == 0 and later.stdout == ""
    assert run(stack, "dlq", "--since", "yesterday").returncode == 2

    # fix the unknown kinds, leave the broken JSON broken: replay sends 2, refuses 1
    fixed = tmp_path / "fixed.jsonl"
    with fixed.open("w") as fh:
        for d in letters:
            if d["reason"] == "unknown_kind":
                d["value"] = d["value"].replace('"retweet"', '"share"').replace('"x"', '"share"')
            if d["reason"] in ("unknown_kind", "invalid_json"):
                fh.write(json.dumps(d) + "\n")
    result = run(stack, "dlq", "replay", str(fixed))
    assert result.returncode == 1, result.stderr
    assert "sent 2 events" in result.stdout and "invalid_json 1" in result.stdout
    assert "refused line" in result.stderr

    def shares(s: dict) -> bool:
        return (
            sum(
                v
                for (name, labels), v in s.items()
                if name == "socialpulse_events_total" and ("kind", "share") in labels
            )
            == 2
        )

    assert shares(stack.wait_for(shares, seconds=60)), "the replayed events were not counted"

    # without a FILE, --reason sends them again as they are: still broken, refused here
    again = run(stack, "dlq", "replay", "--reason", "missing_field")
    assert again.returncode == 1 and "sent 0 events" in again.stdout
    assert run(stack, "dlq", "replay").returncode == 2  # says what to give


def test_dlq_follow_prints_new_dead_letters(stack: Stack) -> None:
    stack.start_worker()
    follow = subprocess.Popen(
        [*CLI, "dlq", "--follow", "--json"], env=stack.env(), stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(3)
        librdkafka_send(stack, [b"not json at all"])
        assert follow.stdout is not None
        line = follow.stdout.readline()
        assert json.loads(line)["reason"] == "invalid_json"
    finally:
        follow.terminate()
        follow.wait(10)


def test_dlq_without_a_broker_is_one_line() -> None:
    env = dict(os.environ, SOCIALPULSE_BROKER="kafka://127.0.0.1:1")
    result = subprocess.run([*CLI, "dlq"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot reach the broker" in result.stderr
