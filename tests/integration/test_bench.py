"""``socialpulse bench`` runs every row end to end and writes its table, JSON and PNG.

Small sizes: this checks that the bench works, not the figures (those are in the notes):
every row ran to its end (counted exactly the events it was given, no fewer and no more)
and produced a positive rate, which the printed table shows.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import CLI

pytestmark = pytest.mark.integration


EVENTS, SINGLE = 50_000, 10_000


def expected_events(row: str) -> int:
    """The events a row is given: the single-event topic holds the first SINGLE."""
    return SINGLE if "single" in row or "naive Faust" in row else EVENTS


def test_bench_measures_every_row_and_writes_its_files(tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = subprocess.run(
        [
            *CLI,
            "bench",
            "--events",
            str(EVENTS),
            "--single",
            str(SINGLE),
            "--latency-seconds",
            "4",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print("\n" + result.stdout)
    assert "bench: 6/6" in result.stderr  # progress
    data = json.loads((out / "bench.json").read_text())
    names = [row["name"] for row in data["rows"]]
    assert len(names) == 7 and names[0].startswith("raw") and "two socialpulse" in names[-1]
    for row in data["rows"]:
        assert row["events"] == expected_events(row["name"]), row  # ran to its end, once
        assert row["seconds"] > 0 and row["events_per_second"] > 0, row
        assert row["ratio_to_raw"] > 0, row
        table_line = next(
            line for line in result.stdout.splitlines() if line.startswith(row["name"])
        )
        assert f"{row['events_per_second']:,.0f}" in table_line, table_line
    assert data["rows"][0]["ratio_to_raw"] == 1
    assert data["latency_at_half_load"]["samples"] > 10
    assert data["scrape"]["series"] >= 10_000
    # balanced events: the two workers carry about half each, so 1.6x one is reachable
    assert 0.5 <= data["two_workers"]["heaviest_share"] <= 0.6, data["two_workers"]
    assert data["worker_rss_mb_after_envelopes"] > 50
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert "bench.png" in result.stdout.splitlines()[-1]  # the dev install has matplotlib
