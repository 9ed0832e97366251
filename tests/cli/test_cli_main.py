"""The ``socialpulse`` entry point: which command runs, and what it reads and builds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from faust.cli.faust import cli as faust_cli

from socialpulse.cli.main import invoked

SOCIALPULSE = shutil.which("socialpulse", path=str(Path(sys.executable).parent))


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ([], None),
        (["--help"], None),
        (["--version"], None),
        (["worker", "-l", "info"], "worker"),
        (["-l", "info", "worker"], "worker"),
        (["--loglevel", "info", "generate", "--rate", "5"], "generate"),
        (["-q", "send", "topic"], "send"),
        (["--", "generate"], "generate"),
    ],
)
def test_the_invoked_command_is_found_past_the_root_options(
    args: list[str], name: str | None
) -> None:
    assert invoked(faust_cli, args) == name


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    assert SOCIALPULSE is not None
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("SOCIALPULSE_")}
    return subprocess.run(
        [SOCIALPULSE, *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_producer_command_reads_no_worker_setting(tmp_path: Path) -> None:
    # a worker variable that is invalid does not concern the generator: it runs
    out = tmp_path / "events.jsonl"
    done = run(
        ["generate", "--output", str(out), "--duration", "2", "--rate", "10", "--quiet"],
        SOCIALPULSE_ALLOWED_LATENESS="-1",
    )
    assert done.returncode == 0, done.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) > 0


def test_the_worker_names_its_invalid_setting_in_one_line() -> None:
    done = run(["worker"], SOCIALPULSE_ALLOWED_LATENESS="-1")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "Error: invalid settings: SOCIALPULSE_ALLOWED_LATENESS: "
        "Input should be greater than or equal to 0"
    ]


def test_a_producer_names_its_own_invalid_setting_in_one_line(tmp_path: Path) -> None:
    done = run(["generate", "--duration", "1"], SOCIALPULSE_BROKER="not-an-address")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: invalid settings: SOCIALPULSE_BROKER: Value error, broker address "
        "'not-an-address' in 'not-an-address' is not host:port"
    ]


def test_a_brand_count_out_of_range_is_a_one_line_error() -> None:
    done = run(["demo", "--brands", "99"])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for '--brands': 99 is not in the range 1<=x<=10."
    )


def test_the_root_help_lists_every_command_without_reading_settings() -> None:
    done = run(["--help"], SOCIALPULSE_ALLOWED_LATENESS="-1", SOCIALPULSE_BROKER="bad")
    assert done.returncode == 0, done.stderr
    for name in ("demo", "worker", "generate", "ingest", "backtest", "bench", "send"):
        assert f"\n  {name} " in done.stdout


def test_the_command_line_imports_no_worker_runtime() -> None:
    """The worker's app (Faust agents, pipeline, reader) is imported only when a Faust
    command runs: a producer command loads none of it."""
    probe = (
        "import sys, socialpulse.cli.main; "
        "print(sorted(m for m in ('socialpulse.agents.app', 'socialpulse.agents.pipeline',"
        " 'socialpulse.agents.events_reader') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
