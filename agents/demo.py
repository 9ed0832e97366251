"""``socialpulse demo``: broker (unless one answers), worker and generator, with a live summary.

The generator first backfills ``history`` seconds of the past (so the 1h windows, the
hourly profile and the alert baselines have something to show at once), then runs live;
unless turned off, a scripted crisis hits the last brand ``crisis_in`` seconds later, so
the crisis board and the alerts have something to show too. Without a
``SOCIALPULSE_CONFIG_FILE`` the worker gets a demo config: a goal per brand (the boards'
headline KPIs) and the brands as one competitor group.

Every child is started with PR_SET_PDEATHSIG, so none outlives the demo even when it is
killed; Ctrl-C or SIGTERM stops them all cleanly, last started first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import yaml
from prometheus_client.parser import text_string_to_metric_families

from socialpulse.agents.processes import (
    dies_with_this_process,
    port_open,
    port_taken,
    split_host_port,
    stop_all,
    wait_port,
)
from socialpulse.agents.settings import Settings
from socialpulse.streams.generator import COMPETITOR_GROUP, DEFAULT_BRANDS

#: goals of the demo brands (as in deploy/socialpulse.yml); later brands cycle through them
DEMO_GOALS = ("awareness", "conversion", "leads", "reputation", "community", "service", "crisis")

SUMMARY_KPIS = (
    ("socialpulse_impressions", "impr 5m", "5m"),
    ("socialpulse_engagements", "eng 5m", "5m"),
    ("socialpulse_engagement_rate_ratio", "eng rate 1h", "1h"),
    ("socialpulse_mentions", "mentions 1h", "1h"),
    ("socialpulse_net_sentiment_ratio", "net sent 1h", "1h"),
    ("socialpulse_negative_exposure", "neg exp 1h", "1h"),
)


class DemoError(RuntimeError):
    """A part of the demo did not start; the message says which and why."""


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """What the demo's generator sends."""

    rate: float = 300.0
    brands: int = 4
    seed: int = 0
    history: float = 1800.0  # seconds of past event time, backfilled first
    crisis: bool = True  # script a crisis for the last brand
    crisis_in: float = 90.0  # seconds after the live stream starts

    @property
    def brand_names(self) -> list[str]:
        return list(DEFAULT_BRANDS[: self.brands])

    def generator_args(self) -> list[str]:
        args = ["generate", "--rate", str(self.rate), "--brands", str(self.brands)]
        args += ["--seed", str(self.seed), "--history", str(self.history), "--quiet"]
        if self.crisis and self.brand_names:
            args += ["--crisis", self.brand_names[-1], "--crisis-in", str(self.crisis_in)]
        return args


def demo_config(brands: list[str]) -> dict[str, Any]:
    """The per-brand config the demo's worker gets when the user names none."""
    return {
        "brands": {b: {"goal": DEMO_GOALS[i % len(DEMO_GOALS)]} for i, b in enumerate(brands)},
        "competitor_groups": {COMPETITOR_GROUP: brands},
    }


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "socialpulse.agents.cli", *args]


def read_summary(url: str) -> tuple[dict[str, dict[str, float]], float]:
    """Per brand, the summary KPIs (platform=all, campaign=all), and events accepted so far."""
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    wanted = {name: window for name, _, window in SUMMARY_KPIS}
    rows: dict[str, dict[str, float]] = {}
    events = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "socialpulse_events_total":  # events counted (1 each)
                events += sample.value
                continue
            window = wanted.get(sample.name)
            if (
                window is not None
                and labels.get("window") == window
                and labels.get("platform") == "all"
                and labels.get("campaign") == "all"
            ):
                rows.setdefault(labels["brand"], {})[sample.name] = sample.value
    return rows, events


def render_summary(rows: dict[str, dict[str, float]], rate: float) -> str:
    header = f"{'brand':<12}" + "".join(f"{title:>13}" for _, title, _ in SUMMARY_KPIS)
    lines = [f"socialpulse demo — {rate:,.0f} events/s processed   (Ctrl-C stops)", header]
    for brand in sorted(rows):
        cells = []
        for name, _, _ in SUMMARY_KPIS:
            value = rows[brand].get(name)
            cells.append(
                f"{'-':>13}"
                if value is None
                else f"{value:>13,.3g}"
                if abs(value) < 10
                else f"{value:>13,.0f}"
            )
        lines.append(f"{brand:<12}" + "".join(cells))
    return "\n".join(lines)


def run_demo(settings: Settings, plan: DemoPlan, *, out: TextIO | None = None) -> int:
    """Run the demo until interrupted; return the exit status."""
    out = out or sys.stdout
    procs: list[subprocess.Popen[bytes]] = []
    stopping = False
    if not 1 <= plan.brands <= len(DEFAULT_BRANDS):
        print(f"demo: --brands must lie in 1..{len(DEFAULT_BRANDS)}", file=sys.stderr)
        return 2
    worker_env = dict(os.environ)
    config_dir = None
    if settings.config_file is None:
        config_dir = tempfile.TemporaryDirectory(prefix="socialpulse-demo-")
        config_path = Path(config_dir.name) / "socialpulse.yml"
        config_path.write_text(yaml.safe_dump(demo_config(plan.brand_names)), encoding="utf-8")
        worker_env["SOCIALPULSE_CONFIG_FILE"] = str(config_path)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    try:
        host, port = split_host_port(settings.bootstrap)
        check_ports(settings)
        if port_open(host, port):
            print(f"demo: using the broker that answers at {host}:{port}", file=out, flush=True)
        else:
            print(f"demo: starting the embedded broker on {host}:{port}", file=out, flush=True)
            procs.append(_spawn(_cli("broker")))
            if not wait_port(host, port, 30, procs[-1]):
                raise DemoError(f"the embedded broker did not listen on {host}:{port} within 30 s")
        print("demo: starting the worker", file=out, flush=True)
        procs.append(_spawn(_cli("worker", "-l", "warn"), worker_env))
        if not wait_port(settings.web_host, settings.web_port, 90, procs[-1]):
            if procs[-1].poll() is not None:
                raise DemoError(f"the worker exited with status {procs[-1].returncode}")
            raise DemoError(
                f"the worker did not serve http://{settings.web_host}:{settings.web_port} "
                "within 90 s (is the port taken? set SOCIALPULSE_WEB_PORT)"
            )
        print(
            f"demo: starting the generator ({plan.rate:g} events/s, {plan.brands} brands, "
            f"{plan.history:g} s of history first)",
            file=out,
            flush=True,
        )
        if plan.crisis:
            print(
                f"demo: a scripted crisis hits {plan.brand_names[-1]} about {plan.crisis_in:g} s "
                "after the history is in: watch the Sentiment and crisis board",
                file=out,
                flush=True,
            )
        procs.append(_spawn(_cli(*plan.generator_args())))
        url = f"http://{settings.web_host}:{settings.web_port}/metrics"
        print(
            f"\nlive board: {url.removesuffix('metrics')}  (open it in a browser)\n"
            f"metrics: {url}\n"
            "Prometheus: add a scrape job with\n"
            "  - job_name: socialpulse\n"
            f"    static_configs: [{{targets: ['{settings.web_host}:{settings.web_port}']}}]\n"
            "Grafana: add that Prometheus as a data source and import the six boards in\n"
            "  grafana/dashboards/, or run the whole stack with `docker compose up`.\n",
            file=out,
            flush=True,
        )
        return _watch(procs, url, out, started, lambda: stopping)
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if procs:
            print("demo: stopping", file=out, flush=True)
        stop_all(procs)
        if config_dir is not None:
            config_dir.cleanup()


def check_ports(settings: Settings) -> None:
    """Every port the demo needs, before anything starts: the worker's web port must be
    free (else the demo would read another worker's metrics); the broker's is either free
    (the demo starts one) or answered by a broker the demo then uses."""
    if port_taken(settings.web_host, settings.web_port):
        raise DemoError(
            f"port {settings.web_port} on {settings.web_host} (the worker's board and "
            "/metrics) is taken, by another worker or demo?; stop it or set "
            "SOCIALPULSE_WEB_PORT to a free port"
        )


def _spawn(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, env=env, preexec_fn=dies_with_this_process(signal.SIGKILL), start_new_session=False
    )


def _watch(
    procs: list[subprocess.Popen[bytes]], url: str, out: TextIO, started: float, stopping: object
) -> int:
    tty = out.isatty()
    last_events, last_time = 0.0, time.monotonic()
    first_live = True
    next_draw = 0.0
    while not stopping():  # type: ignore[operator]
        for proc in procs:
            if proc.poll() is not None:
                name = " ".join(str(a) for a in proc.args[3:])  # type: ignore[index,union-attr]
                print(f"demo: {name} exited with {proc.returncode}", file=sys.stderr)
                return 1
        now = time.monotonic()
        if now >= next_draw:
            next_draw = now + (2.0 if tty else 10.0)
            try:
                rows, events = read_summary(url)
            except OSError:
                rows, events = {}, last_events
            rate = (events - last_events) / max(now - last_time, 1e-9)
            last_events, last_time = events, now
            if rows and first_live:
                first_live = False
                print(f"demo: live KPIs {now - started:.0f} s after start", file=out, flush=True)
            text = render_summary(rows, rate)
            out.write(("\x1b[H\x1b[2J" if tty else "") + text + "\n")
            out.flush()
        time.sleep(0.2)
    return 0
