"""The bench's pure parts: the corpus, latency from a timeline, the profile summary, the
report (table, JSON, PNG), and that the bench runs from the source checkout but is not part
of the installed package. ``tests/integration/test_bench.py`` runs the command."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import orjson
import pytest
from click.testing import CliRunner

from bench.corpus import PARTITIONS, balanced, make_events, messages, renamed
from bench.latency import Timeline, percentile
from bench.probes import bench_env
from bench.report import Report, Row
from bench.run import Options, main_output, repeat_to, stage_of, summarise


def test_corpus_messages_are_per_brand_envelopes_of_at_most_500() -> None:
    events = make_events(3000, brands=3, end=1_750_000_000.0)
    assert len(events) == 3000
    assert all(1_750_000_000.0 - 101 <= ev["ts"] <= 1_750_000_000.0 for ev in events)
    batch = messages(events, 500)
    decoded = [(brand, orjson.loads(value)) for brand, value in batch]
    assert all(1 <= len(evs) <= 500 and {e["brand"] for e in evs} == {b} for b, evs in decoded)
    assert sum(len(evs) for _, evs in decoded) == 3000
    single = [orjson.loads(v) for _, v in messages(events[:10], 1)]
    assert all(isinstance(ev, dict) for ev in single)
    assert sorted(ev["id"] for ev in single) == sorted(ev["id"] for ev in events[:10])


def test_renamed_and_repeated_events_are_new_to_a_worker() -> None:
    events = make_events(1000, brands=2)
    wide = renamed(events, 4)
    assert len({ev["brand"] for ev in wide}) == 8
    assert len({ev["id"] for ev in wide}) == len({ev["id"] for ev in events})
    more = repeat_to(events, 2500, "t")
    assert len(more) == 2500 and len({ev["id"] for ev in more}) == 2500


def test_balanced_events_put_a_quarter_on_each_partition() -> None:
    """The generator's brands hash unevenly (two partitions held 65 % of the bench's
    events); balanced, each partition holds a quarter, each brand's events dealt evenly
    over names of its own, and nothing else about an event changes."""
    from collections import Counter

    from socialpulse.streams.partitioning import brand_partition

    events = make_events(20_000, brands=8, end=1_750_000_000.0)
    shares = Counter(brand_partition(ev["brand"], PARTITIONS) for ev in events)
    assert max(shares.values()) > 0.3 * len(events)  # uneven as generated
    spread = balanced(events)
    shares = Counter(brand_partition(ev["brand"], PARTITIONS) for ev in spread)
    assert max(shares.values()) - min(shares.values()) <= 8  # a quarter, to one per brand
    for before, after in zip(events, spread, strict=True):
        assert after["brand"].rpartition("-")[0] == before["brand"]
        assert {k: v for k, v in after.items() if k != "brand"} == {
            k: v for k, v in before.items() if k != "brand"
        }
    names = Counter(ev["brand"] for ev in spread)
    assert len(names) == 8 * PARTITIONS
    assert balanced(events) == spread


def test_latency_is_the_wait_until_everything_sent_was_counted() -> None:
    tl = Timeline(
        sent=[(0.0, 10), (3.0, 20), (3.5, 30)],
        seen=[(0.5, 10), (3.2, 15), (3.4, 20), (4.0, 30)],
    )
    assert tl.latencies(warmup=0) == pytest.approx([0.5, 0.4, 0.5])
    assert tl.latencies(warmup=2.0) == pytest.approx([0.4, 0.5])  # the first send is warm-up
    assert Timeline(sent=[(0.0, 5)], seen=[(1.0, 4)]).latencies(warmup=0) == []
    assert percentile([0.1, 0.2, 0.3, 0.4], 0.5) == 0.3
    assert percentile([0.1] * 99 + [5.0], 0.99) == 5.0


def test_profile_summary_attributes_samples_to_stages() -> None:
    collapsed = "\n".join(
        [
            "main (cli.py:1);handle (agents/pipeline.py:10);loads (streams/codec.py:42) 30",
            "main (cli.py:1);handle (agents/pipeline.py:10);apply (agents/state.py:208) 50",
            "main (cli.py:1);_fetch (aiokafka/consumer/fetcher.py:9) 15",
            "main (cli.py:1);elsewhere (x.py:1) 5",
        ]
    )
    assert summarise(collapsed) == {
        "KPI state": 50.0,
        "decode (orjson)": 30.0,
        "Faust and aiokafka": 15.0,
        "other": 5.0,
    }
    assert stage_of(["a (alerts/detector.py:3)", "b (agents/state.py:1)"]) == "KPI state"
    assert summarise("") == {}


def test_report_table_json_and_png(tmp_path: Path) -> None:
    report = Report(
        rows=[
            Row("raw", 1000, 0.01, "raw"),
            Row("worker", 1000, 0.1, "raw", ">= 0.5 x raw", False),
            Row("two", 1000, 0.05, "raw", ">= 1.6 x one", True),
        ],
        extra={"latency_at_half_load": {"p99_ms": 10.0}, "machine": {"cpus": 2}},
    )
    assert report.ratio(report.row("worker")) == pytest.approx(0.1)
    table = report.table()
    assert "MISSED" in table and " met" in table and "latency_at_half_load" in table
    json_path, png_path = report.write(tmp_path / "out")
    data = json.loads(json_path.read_text())
    assert [r["name"] for r in data["rows"]] == ["raw", "worker", "two"]
    assert data["rows"][1]["events_per_second"] == pytest.approx(10_000)
    assert data["rows"][2]["ratio_to_raw"] == pytest.approx(0.2)
    assert data["machine"] == {"cpus": 2}
    assert png_path is not None and png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_bench_prints_its_table_and_how_to_get_the_chart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plain install (no dev extras): the JSON and the table, no crash, and the hint."""
    import sys

    from bench import run as bench_run

    report = Report(rows=[Row("raw", 1000, 0.01, "raw"), Row("worker", 500, 0.01, "raw")])
    monkeypatch.setattr(bench_run, "run", lambda options, say: report)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises
    out = tmp_path / "out"
    assert main_output(Options(out=out), lambda line: None) == 0
    printed = capsys.readouterr().out
    assert "raw" in printed and "worker" in printed and "50,000" in printed
    assert "pip install 'socialpulse[bench]'" in printed
    assert (out / "bench.json").exists() and not (out / "bench.png").exists()


# --------------------------------------------------------------------------- the checkout

REPO = Path(__file__).resolve().parents[2]


def test_bench_is_not_in_the_installed_package() -> None:
    """bench/ is a development tool of the checkout: a wheel (or the image) never holds it."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    assert "bench" not in setuptools["package-dir"].values()
    assert not [p for p in setuptools["packages"] if "bench" in p.split(".")]
    assert "find" not in setuptools.get("packages", {})  # no discovery that could pick it up
    assert importlib.util.find_spec("socialpulse.bench") is None  # nor the editable install


def _bench_command() -> click.Command:
    from socialpulse.cli.main import build_commands

    return next(c for c in build_commands() if c.name == "bench")


def test_socialpulse_bench_help_works_from_another_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "socialpulse.cli.main", "bench", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--events" in result.stdout and "source checkout" in result.stdout


def test_socialpulse_bench_finds_the_checkout_and_runs_its_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import run as bench_run
    from socialpulse.cli.main import bench_checkout

    monkeypatch.chdir(tmp_path)
    assert bench_checkout() == REPO  # the editable install's source tree, from anywhere
    seen: list[Options] = []
    monkeypatch.setattr(bench_run, "main_output", lambda options, say: seen.append(options) or 0)
    result = CliRunner().invoke(_bench_command(), ["--events", "60000", "--out", "r"])
    assert result.exit_code == 0, result.output
    assert seen == [Options(60_000, 50_000, 15.0, Path("r"), False)]


def test_socialpulse_bench_outside_a_checkout_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from socialpulse.cli import main as cli_main

    monkeypatch.setattr(cli_main, "bench_checkout", lambda: None)
    for name in ("bench", "bench.probes", "bench.run"):
        monkeypatch.setitem(sys.modules, name, None)  # import bench fails
    result = CliRunner().invoke(_bench_command(), [])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    [line] = result.output.splitlines()
    assert "development tool" in line and "source checkout" in line and "make bench" in line


@pytest.mark.parametrize(
    "args",
    [
        ["bench/throughput.py", "--help"],
        ["bench/recovery.py", "--help"],
        ["bench/core.py", "--help"],
        ["-m", "bench.ingest_load", "--help"],
    ],
)
def test_the_bench_scripts_start_from_the_checkout(args: list[str]) -> None:
    """As docs/development.md runs them: `python bench/x.py` and `python -m bench.x`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=REPO, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "usage:" in result.stdout


def test_a_probe_process_imports_bench_from_any_directory(tmp_path: Path) -> None:
    """``faust_probe`` runs as ``-m bench.faust_probe`` in a scratch folder: PYTHONPATH."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.faust_probe", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=bench_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "noop" in result.stdout


def test_the_core_bench_times_every_step_of_a_batch(capsys: pytest.CaptureFixture[str]) -> None:
    """``bench/core.py``: every named step gets its share, and they add up to the total."""
    from bench.core import main as core_main
    from socialpulse.agents.batch_core import STEPS

    assert core_main(["--events", "3000", "--batch", "2", "--rounds", "1"]) == 0
    figures, rate = capsys.readouterr().out.splitlines()
    words = figures.removesuffix(" us/event").split()
    per_event = {words[i]: float(words[i + 1]) for i in range(0, len(words), 2)}
    assert list(per_event) == [*STEPS, "total"]
    assert all(us > 0 for us in per_event.values())
    assert sum(per_event[s] for s in STEPS) <= per_event["total"]
    assert rate.endswith("events/s (the batch core alone, best round)")
