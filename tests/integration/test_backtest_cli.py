"""`socialpulse backtest` as a user runs it: a file the generator wrote, a real process."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import CLI

pytestmark = pytest.mark.integration

CRISIS_IN = 3600.0


def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SOCIALPULSE_CONFIG_FILE", None)
    return subprocess.run(
        [*CLI, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """90 minutes of the generator's stream, with its crisis an hour in; the crisis's start."""
    tmp = tmp_path_factory.mktemp("backtest")
    path = tmp / "history.jsonl"
    done = cli(
        "generate", "--output", path, "--rate", "10", "--duration", "5400", "--crisis", "acme",
        "--crisis-in", CRISIS_IN, "--quiet", cwd=tmp,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first = min(json.loads(line)["ts"] for line in path.open())
    return path, first + CRISIS_IN


def test_backtest_finds_the_crisis_of_a_file(history: tuple[Path, float], tmp_path: Path) -> None:
    path, crisis = history
    done = cli("backtest", path, "--json", "--plot", tmp_path / "charts", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    alerts = [json.loads(line) for line in done.stdout.splitlines()]
    fired = [
        a
        for a in alerts
        if (a["brand"], a["rule"], a["state"]) == ("acme", "negative_sentiment", "firing")
        and a["event_time"] >= crisis
    ]
    assert fired, done.stdout
    delay = fired[0]["event_time"] - crisis
    print(f"\nbacktest: the generator's crisis detected {delay:.0f} s of event time after it began")
    assert 0 <= delay <= 60
    assert fired[0]["crisis"] is True and fired[0]["evidence"]["samples"]
    assert "backtest: counted" in done.stderr and "Traceback" not in done.stderr
    charts = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert "acme-negative_sentiment.png" in charts, charts
    assert f"wrote {len(charts)} chart(s)" in done.stderr

    table = cli("backtest", path, "--quiet", cwd=tmp_path)  # the table a person reads
    assert table.returncode == 0, table.stderr
    header, *rows, last = table.stdout.splitlines()
    assert last.startswith("backtest: counted")
    assert header.split()[:3] == ["brand", "rule", "severity"]
    assert len(rows) == len({a["id"] for a in alerts})
    assert any(r.split()[:2] == ["acme", "negative_sentiment"] for r in rows)


def test_a_user_s_mistakes_are_one_line(history: tuple[Path, float], tmp_path: Path) -> None:
    path, _ = history
    missing = cli("backtest", tmp_path / "nope.jsonl", cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    config = tmp_path / "bad.yml"
    config.write_text("alerts:\n  tuning:\n    no_such_knob: 1\n")
    bad = cli("backtest", path, "--config", config, "--quiet", cwd=tmp_path)
    assert bad.returncode == 1 and "no_such_knob" in bad.stderr
    late = cli(
        "generate", "--output", tmp_path / "x.jsonl", "--duration", "60", "--crisis", "acme",
        "--crisis-in", "120", cwd=tmp_path,
    )  # fmt: skip
    assert late.returncode == 2 and "--crisis-in" in late.stderr
    for done in (missing, bad, late):
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 4
    helped = cli("backtest", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--plot" in helped.stdout and "--config" in helped.stdout
    assert "backtest" in cli("--help", cwd=tmp_path).stdout
