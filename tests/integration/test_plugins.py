"""Producer plug-ins end to end: `socialpulse produce NAME` into a real worker.

``examples/socialpulse-ticks`` is installed as its own package (``make test`` installs it),
so this also checks that an outside package's entry point is found and run.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.conftest import CLI, Stack, kpi, value

pytestmark = pytest.mark.integration


def produce(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "produce", *args], env=stack.env(), capture_output=True, text=True, timeout=120
    )


def test_list_shows_built_in_and_installed_plug_ins(stack: Stack) -> None:
    done = produce(stack, "--list")
    assert done.returncode == 0, done.stderr
    names = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert {"generator", "replay", "csv", "bluesky", "mastodon", "ticks"} <= names
    assert "socialpulse_ticks:plugin" in done.stdout


def test_example_plug_in_and_generator_are_counted_exactly(stack: Stack) -> None:
    stack.start_worker()
    done = produce(stack, "ticks", "--brand", "tickco", "--count", "25", "--every", "0")
    assert done.returncode == 0, done.stderr
    assert "produce ticks: sent 25 events; refused 0" in done.stdout
    s = stack.wait_for(lambda s: kpi(s, "socialpulse_engagements", "tickco") == 25)
    assert kpi(s, "socialpulse_engagements", "tickco") == 25

    done = produce(stack, "generator", "--rate", "300", "--duration", "3", "--seed", "4")
    assert done.returncode == 0, done.stderr
    sent = int(done.stdout.split("sent ")[1].split(" events")[0].replace(",", ""))
    assert sent > 50  # about 3 s x 300/s, times the stream's time-of-day rhythm
    total = 25 + sent  # every event the worker accepted, ticks included
    s = stack.wait_for(lambda s: value(s, "socialpulse_batch_events_sum") == total)
    assert value(s, "socialpulse_batch_events_sum") == total


def test_unknown_plug_in_and_bad_option_are_clean_errors(stack: Stack) -> None:
    done = produce(stack, "nosuch")
    assert done.returncode == 2 and "No such command 'nosuch'" in done.stderr
    done = produce(stack, "ticks", "--count", "many")
    assert done.returncode == 2 and "'many' is not a valid integer" in done.stderr
    assert "Traceback" not in done.stderr
