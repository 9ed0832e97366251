"""``socialpulse demo``: broker (unless one answers), worker and generator, with a live summary.

The generator first backfills ``history`` seconds of the past (so the 1h windows, the
hourly profile and the alert baselines have something to show at once), then runs live;
unless turned off, a scripted crisis hits the last brand ``crisis_in`` seconds later, so
the crisis board and the alerts have something to show too. Without a
``SOCIALPULSE_CONFIG_FILE`` the worker gets a demo config: a goal per brand (the boards'
headline KPIs) and the brands as one competitor group.

The terminal shows a fixed head (the board's and the metrics' URLs, where the logs are),
the KPI table and a scrolling panel of alerts (time, brand, rule, state, summary),
redrawn in place. The children's output goes to log files (``--log-dir``, by default
``$TMPDIR/socialpulse-demo/{broker,worker,generator}.log``), never to the terminal.

Every child runs in its own session (the terminal's Ctrl-C reaches the demo only) and
with PR_SET_PDEATHSIG, so none outlives the demo even when it is SIGKILLed; Ctrl-C or
SIGTERM makes the demo stop them in order: the generator, the worker, then the broker,
each after the previous one is gone.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
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
    wait_port,
)
from socialpulse.agents.settings import WorkerSettings
from socialpulse.streams.vocabulary import COMPETITOR_GROUP, DEFAULT_BRANDS

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
    return [sys.executable, "-m", "socialpulse.cli.main", *args]


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


def _cell(value: float | None) -> str:
    if value is None:
        return f"{'-':>13}"
    return f"{value:>13,.3g}" if abs(value) < 10 else f"{value:>13,.0f}"


def render_table(rows: dict[str, dict[str, float]]) -> list[str]:
    """The KPI table: a header, then a line per brand."""
    header = f"{'brand':<12}" + "".join(f"{title:>13}" for _, title, _ in SUMMARY_KPIS)
    lines = [header]
    for brand in sorted(rows):
        lines.append(
            f"{brand:<12}" + "".join(_cell(rows[brand].get(name)) for name, _, _ in SUMMARY_KPIS)
        )
    if not rows:
        lines.append("(waiting for the first KPIs …)")
    return lines


def render_summary(rows: dict[str, dict[str, float]], rate: float) -> str:
    """The header and the table as one text (the view without a terminal)."""
    lines = [f"socialpulse demo — {rate:,.0f} events/s counted   (Ctrl-C stops)"]
    return "\n".join(lines + render_table(rows))


def alert_line(alert: dict[str, Any], state: str, now: float | None = None) -> str:
    """``12:03:41  umbrella    negative_sentiment   FIRING  warning  summary``"""
    at = time.strftime("%H:%M:%S", time.localtime(time.time() if now is None else now))
    severity = str(alert.get("severity", ""))
    summary = " ".join(str(alert.get("summary", "")).split())
    crisis = " (crisis)" if alert.get("crisis") else ""
    return (
        f"{at}  {alert.get('brand', '?')!s:<11} {alert.get('rule', '?')!s:<22} "
        f"{state.upper():<8} {severity:<8} {summary}{crisis}"
    )


@dataclass
class AlertFeed:
    """Turns the worker's firing alerts, polled, into a scrolling log of changes."""

    keep: int = 200
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    firing: dict[str, dict[str, Any]] = field(default_factory=dict)

    def update(self, alerts: list[dict[str, Any]], now: float | None = None) -> list[str]:
        """The lines of what changed since the last poll (also kept in ``lines``)."""
        seen = {str(a.get("id")): a for a in alerts}
        new = [alert_line(a, "firing", now) for i, a in seen.items() if i not in self.firing]
        new += [alert_line(a, "resolved", now) for i, a in self.firing.items() if i not in seen]
        self.firing = seen
        self.lines.extend(new)
        return new


@dataclass
class Screen:
    """What the terminal shows: a fixed head (title, URLs, logs), the KPI table, then
    the alerts panel filling the rest, newest last. Redrawn in place (cursor home, each
    line cleared to its end, the rest below cleared): no flicker, nothing scrolls away."""

    head: list[str]
    status: str = "starting …"
    table: list[str] = field(default_factory=list)

    def render(self, alerts: deque[str] | list[str], width: int, height: int) -> str:
        top = [*self.head, self.status, "", *self.table, "", "alerts (newest last)"]
        room = max(1, height - len(top) - 1)
        shown = list(alerts)[-room:] or ["(none yet)"]
        lines = [line[:width] for line in [*top, *shown]]
        return "\x1b[H" + "".join(f"{line}\x1b[K\n" for line in lines) + "\x1b[J"


def default_log_dir() -> Path:
    """Where the demo's children write their output: $TMPDIR/socialpulse-demo."""
    return Path(tempfile.gettempdir()) / "socialpulse-demo"


def run_demo(
    settings: WorkerSettings,
    plan: DemoPlan,
    *,
    out: TextIO | None = None,
    log_dir: Path | None = None,
) -> int:
    """Run the demo until interrupted; return the exit status."""
    out = out or sys.stdout
    procs: list[Child] = []
    stopping = False
    if not 1 <= plan.brands <= len(DEFAULT_BRANDS):
        print(f"demo: --brands must lie in 1..{len(DEFAULT_BRANDS)}", file=sys.stderr)
        return 2
    logs = log_dir or default_log_dir()
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
    base = f"http://{settings.web_host}:{settings.web_port}"
    try:
        host, port = split_host_port(settings.bootstrap)
        check_ports(settings)
        try:
            logs.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DemoError(f"cannot write the logs to {logs}: {exc}") from None
        say = functools.partial(print, file=out, flush=True)
        say(f"demo: live board: {base}/   metrics: {base}/metrics")
        say(f"demo: the broker's, worker's and generator's output go to {logs}/*.log")
        if port_open(host, port):
            say(f"demo: using the broker that answers at {host}:{port}")
        else:
            say(f"demo: starting the embedded broker on {host}:{port}")
            procs.append(_spawn("broker", _cli("broker"), logs))
            if not wait_port(host, port, 30, procs[-1].proc):
                raise DemoError(
                    f"the embedded broker did not listen on {host}:{port} within 30 s "
                    f"(see {procs[-1].log})"
                )
        say("demo: starting the worker")
        procs.append(_spawn("worker", _cli("worker", "-l", "info"), logs, worker_env))
        if not wait_port(settings.web_host, settings.web_port, 90, procs[-1].proc):
            if procs[-1].proc.poll() is not None:
                raise DemoError(
                    f"the worker exited with status {procs[-1].proc.returncode}: "
                    f"{procs[-1].last_line()} (see {procs[-1].log})"
                )
            raise DemoError(f"the worker did not serve {base} within 90 s (see {procs[-1].log})")
        say(
            f"demo: starting the generator ({plan.rate:g} events/s, {plan.brands} brands, "
            f"{plan.history:g} s of history first)"
        )
        procs.append(_spawn("generator", _cli(*plan.generator_args()), logs))
        head = [
            "socialpulse demo   (Ctrl-C stops everything)",
            f"live board  {base}/          metrics  {base}/metrics",
            f"logs        {logs}/{{broker,worker,generator}}.log",
        ]
        if plan.crisis:
            head.append(
                f"crisis      scripted for {plan.brand_names[-1]} about {plan.crisis_in:g} s "
                "after the history is in: watch the alerts below and on the board"
            )
        return _watch(procs, base, out, started, head, lambda: stopping)
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if procs:
            t0 = time.monotonic()
            print("demo: stopping the generator, the worker, then the broker …", file=out)
            out.flush()
            stop_in_order(procs)
            print(f"demo: stopped in {time.monotonic() - t0:.1f} s", file=out, flush=True)
        if config_dir is not None:
            config_dir.cleanup()


def check_ports(settings: WorkerSettings) -> None:
    """Every port the demo needs, before anything starts: the worker's web port must be
    free (else the demo would read another worker's metrics); the broker's is either free
    (the demo starts one) or answered by a broker the demo then uses."""
    if port_taken(settings.web_host, settings.web_port):
        raise DemoError(
            f"port {settings.web_port} on {settings.web_host} (the worker's board and "
            "/metrics) is taken, by another worker or demo?; stop it or set "
            "SOCIALPULSE_WEB_PORT to a free port"
        )


@dataclass
class Child:
    """A process the demo started, and the file its output goes to."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def last_line(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""


def _spawn(name: str, cmd: list[str], logs: Path, env: dict[str, str] | None = None) -> Child:
    """Start a child in its own session (the terminal's Ctrl-C reaches the demo only; the
    demo stops the children in order), with PDEATHSIG (it dies if the demo is killed),
    its output to ``logs/name.log``."""
    log = logs / f"{name}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            preexec_fn=dies_with_this_process(signal.SIGKILL),
            start_new_session=True,
        )
    return Child(name, proc, log)


#: seconds each child gets to stop after SIGTERM (generator, worker, broker)
STOP_WAIT = {"generator": 3.0, "worker": 10.0, "broker": 5.0}


def stop_in_order(children: list[Child]) -> None:
    """Stop the children last started first (generator, worker, broker), each after the
    previous one is gone: SIGTERM, then SIGKILL if it has not stopped in time."""
    for child in reversed(children):
        proc = child.proc
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        try:
            proc.wait(STOP_WAIT.get(child.name, 5.0))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()


def read_alerts(base: str) -> list[dict[str, Any]]:
    """The worker's firing alerts (``/api/alerts``)."""
    data = json.loads(urllib.request.urlopen(f"{base}/api/alerts", timeout=5).read())
    return [a for a in data if isinstance(a, dict)] if isinstance(data, list) else []


def _watch(
    procs: list[Child],
    base: str,
    out: TextIO,
    started: float,
    head: list[str],
    stopping: Callable[[], bool],
) -> int:
    tty = out.isatty()
    screen = Screen(head)
    feed = AlertFeed()
    last_events, last_time = 0.0, time.monotonic()
    first_live: float | None = None
    next_poll = next_draw = 0.0
    drawn = ""
    if tty:
        out.write("\x1b[?25l\x1b[H\x1b[2J")  # hide the cursor, clear once
    try:
        while not stopping():
            for child in procs:
                if child.proc.poll() is not None:
                    print(
                        f"demo: the {child.name} exited with {child.proc.returncode}: "
                        f"{child.last_line()} (see {child.log})",
                        file=sys.stderr,
                    )
                    return 1
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + (2.0 if tty else 10.0)
                try:
                    rows, events = read_summary(f"{base}/metrics")
                    new_alerts = feed.update(read_alerts(base))
                except (OSError, ValueError):
                    rows, events, new_alerts = {}, last_events, []
                rate = (events - last_events) / max(now - last_time, 1e-9)
                last_events, last_time = events, now
                if rows and first_live is None:
                    first_live = now - started
                    if not tty:
                        print(f"demo: live KPIs {first_live:.0f} s after start", file=out)
                up = int(now - started)
                live = f"live KPIs after {first_live:.0f} s" if first_live else "waiting for KPIs"
                screen.status = (
                    f"up {up // 60}m{up % 60:02d}s   {rate:,.0f} events/s counted   "
                    f"{len(feed.firing)} alert(s) firing   {live}"
                )
                screen.table = render_table(rows)
                if not tty:
                    for line in new_alerts:
                        print(f"ALERT {line}", file=out)
                    out.write(render_summary(rows, rate) + "\n")
                    out.flush()
            if tty and now >= next_draw:
                next_draw = now + 1.0
                size = shutil.get_terminal_size()
                frame = screen.render(feed.lines, size.columns, size.lines)
                if frame != drawn:  # nothing changed: nothing written
                    out.write(frame)
                    out.flush()
                    drawn = frame
            time.sleep(0.1)
        return 0
    finally:
        if tty:
            out.write("\x1b[?25h\n")  # the cursor back
            out.flush()
