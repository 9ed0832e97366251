"""``socialpulse bench`` runs every row end to end and writes its table, JSON and PNG.

Small sizes: this checks that the bench works, not the figures (those are in the notes).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import CLI

pytestmark = pytest.mark.integration


def test_bench_measures_every_row_and_writes_its_files(tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = subprocess.run(
        [
            *CLI,
            "bench",
            "--events",
            "50000",
            "--single",
            "10000",
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
        assert row["events"] > 0 and row["events_per_second"] > 0, row
        assert 0 < row["ratio_to_raw"] <= 2, row
    assert data["rows"][0]["ratio_to_raw"] == 1
    assert data["latency_at_half_load"]["samples"] > 10
    assert data["scrape"]["series"] >= 10_000
    assert data["worker_rss_mb_after_envelopes"] > 50
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    for row in names:
        assert row in result.stdout
