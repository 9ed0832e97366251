"""The differential run (``tests/differential.py``): it tells a change of results apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from socialpulse.agents.state import KpiState
from tests import differential

ROOT = Path(__file__).resolve().parents[2]


def test_a_scenario_is_the_same_when_run_again_and_covers_alerts_and_recovery() -> None:
    first = [differential.scenario(seed) for seed in range(3)]
    assert first == [differential.scenario(seed) for seed in range(3)]
    assert all(r["kpis"] and r["kpis"] == r["recovered"] for r in first)
    assert sum(len(r["alerts"]) for r in first) > 0
    assert all(r["state_log"] for r in first)


def test_a_change_of_what_the_core_counts_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    before = differential.scenario(0)
    # every platform folded into one label: the per-platform series change
    monkeypatch.setattr(KpiState, "platform_label", lambda self, bs, platform: "x")
    found = differential.differences(before, differential.scenario(0))
    assert any(line.startswith("kpis: ") for line in found), found
    assert any(line.startswith("state_log: ") for line in found), found


def test_floats_compare_to_twelve_digits_and_nothing_else_does() -> None:
    assert differential.same({"a": [0.1 + 0.2]}, {"a": [0.3]})
    assert not differential.same({"a": [1.0]}, {"a": [1.000001]})
    assert not differential.same({"a": 1.0}, {"a": 1.0, "b": 0.0})
    assert not differential.same(["x"], ["y"]) and not differential.same([1.0], [1.0, 1.0])


def test_differences_name_each_part_that_differs() -> None:
    base = {"seed": 1, "kpis": {"a": 1.0, "b": 2.0}, "alerts": ["x", "y"], "error": None}
    new = {"seed": 1, "kpis": {"a": 1.0, "b": 2.5}, "alerts": ["y", "z"], "error": "boom"}
    assert differential.differences(base, base) == []
    assert differential.differences(base, new) == [
        "alerts: 1 only in the base, 1 only in this tree",
        "error: differs",
        "kpis: 1 differ (b: 2.0 -> 2.5)",
    ]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tests.differential", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_this_tree_against_its_own_commit_differs_in_nothing() -> None:
    done = _run("--base", "HEAD", "--seeds", "2")
    assert done.returncode in (0, 1), done.stderr
    # a working tree with changes may differ from HEAD; a clean checkout must not
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "agents", "alerts", "streams"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if not dirty:
        assert done.returncode == 0, done.stdout
        assert "2 seeds" in done.stdout and "0 differ from HEAD" in done.stdout
    assert "differential: HEAD 2/2, this tree 2/2 seeds" in done.stderr


def test_a_users_mistakes_get_one_line_errors() -> None:
    assert "--base REV" in _run("--help").stdout
    bad = _run("--base", "no-such-revision", "--seeds", "1")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "differential: no revision 'no-such-revision' here "
        "(fatal: not a valid object name: no-such-revision)"
    ]
    assert "--base REV is required" in _run("--seeds", "1").stderr
