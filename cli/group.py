"""The root ``socialpulse`` command: Faust's click group, dressed as socialpulse's.

``socialpulse --help`` lists socialpulse's commands first, each with a one-line
description, then the Faust commands that are useful with socialpulse (``send``,
``tables``, ``agents``, ``models``); Faust's internals (``livecheck``, ``model``,
``reset``, ``clean-versions``, ``completion``) still run but are hidden. ``--version``
names socialpulse's version and Faust's. ``worker --help`` shows the defaults the worker
really uses (from the settings), and ``worker`` checks the broker and its web port
before Faust starts, so an ordinary mistake is one line, not a traceback.
"""

from __future__ import annotations

import contextlib
import functools
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click

from socialpulse.agents.processes import port_open, port_taken
from socialpulse.agents.settings import WorkerSettings

#: socialpulse's commands, in the order --help lists them
SOCIALPULSE_COMMANDS = (
    "demo",
    "broker",
    "worker",
    "generate",
    "replay",
    "produce",
    "ingest",
    "dlq",
    "board",
    "alerts",
    "backtest",
    "score-text",
    "bench",
)
#: Faust commands worth showing, under their own heading
FAUST_COMMANDS = ("send", "tables", "agents", "models")
#: Faust internals: they run, but --help does not list them
HIDDEN_COMMANDS = ("livecheck", "model", "reset", "clean-versions", "completion")
#: Faust's root options that only matter to Faust's own debugging: they work, unlisted
HIDDEN_OPTIONS = ("console_port", "blocking_timeout", "loop", "json", "datadir", "workdir", "app")
#: one line per command in --help (their own help says more)
SHORT_HELP = {
    "demo": "Start broker, worker and generator; watch live KPIs and alerts.",
    "broker": "Run the embedded Kafka-compatible broker (Tansu, in memory).",
    "generate": "Send a synthetic event stream (or write it to a file).",
    "replay": "Send a JSON-lines or CSV file of events.",
    "produce": "Run a producer plug-in (generator, replay, csv, bluesky, ...).",
    "ingest": "HTTP ingest: accept events POSTed to /events.",
    "dlq": "Read the dead letters (rejected input); replay fixed ones.",
    "board": "Serve the live board of every worker a Prometheus scrapes.",
    "alerts": "Crisis alerts: send a test alert to a webhook or Apprise URL.",
    "backtest": "The alerts a file of past events would have raised (no broker).",
    "score-text": "Score texts from stdin: sentiment and language, as JSON lines.",
    "bench": "Measure throughput on the embedded broker.",
}

ROOT_HELP = """socialpulse: real-time social-media KPIs from a Kafka topic of events.

\b
Try it:   socialpulse demo        (broker, worker, generator; board on http://127.0.0.1:6066/)
Settings: SOCIALPULSE_* environment variables (see docs/configuration.md)
"""


def versions() -> str:
    """``socialpulse 0.1.0 (Faust 0.15.3, Python 3.11.2)``"""
    import platform

    def of(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:  # pragma: no cover - run from a source tree
            return "unknown"

    return (
        f"socialpulse {of('socialpulse')} "
        f"(Faust {of('faust-streaming')}, Python {platform.python_version()})"
    )


class SocialPulseGroup(click.Group):
    """Mixed into Faust's root group: socialpulse's commands first, internals hidden."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: list[tuple[str, tuple[str, ...]]] = [
            ("socialpulse commands", SOCIALPULSE_COMMANDS),
            ("Faust commands (for the worker's app)", FAUST_COMMANDS),
        ]
        listed = {name for _, names in sections for name in names}
        others = tuple(
            name
            for name in self.list_commands(ctx)
            if name not in listed and name not in HIDDEN_COMMANDS
        )
        if others:
            sections.append(("Other commands", others))
        limit = formatter.width - 6 - max(len(name) for name in self.commands)
        for title, names in sections:
            rows = []
            for name in names:
                cmd = self.get_command(ctx, name)
                if cmd is None or cmd.hidden:
                    continue
                rows.append((name, cmd.get_short_help_str(limit)))
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def brokers_answering(bootstrap: str) -> bool:
    """True when at least one server of the bootstrap list accepts TCP connections."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        with contextlib.suppress(ValueError):
            if port_open(host.strip("[]"), int(port), timeout=2.0):
                return True
    return False


def worker_preflight(
    settings: WorkerSettings, web_bind: str | None, web_port: int | None, *, web: bool = True
) -> None:
    """Raise a one-line ClickException when the worker could not start."""
    if not brokers_answering(settings.bootstrap):
        raise click.ClickException(
            f"no broker answers at {settings.bootstrap} (SOCIALPULSE_BROKER={settings.broker}); "
            "start one with `socialpulse broker` in another terminal, or set SOCIALPULSE_BROKER"
        )
    host = web_bind or settings.web_host
    port = settings.web_port if web_port is None else web_port
    if web and port and port_taken(host, port):
        raise click.ClickException(
            f"port {port} on {host} is taken (another worker or demo?); stop it, or give this "
            "worker another one with SOCIALPULSE_WEB_PORT=... or --web-port"
        )


def dress(root: click.Group, settings: WorkerSettings | None) -> None:
    """Turn Faust's root group into socialpulse's (in place: Faust's app.main() runs it).
    With the worker's ``settings`` (when a Faust command runs), ``worker`` shows the
    defaults it really uses and checks the broker and its port first."""
    root.__class__ = type("SocialPulseRoot", (SocialPulseGroup, type(root)), {})
    root.help = ROOT_HELP
    root.short_help = None
    root.params = [p for p in root.params if p.name != "version"]
    click.version_option(message=versions(), version="")(root)
    for param in root.params:
        if isinstance(param, click.Option) and param.name in HIDDEN_OPTIONS:
            param.hidden = True
    for name in HIDDEN_COMMANDS:
        if name in root.commands:
            root.commands[name].hidden = True
    for name, text in SHORT_HELP.items():
        if name in root.commands:
            root.commands[name].short_help = text
    worker = root.commands.get("worker")
    if worker is not None:
        worker.short_help = "Run the worker: KPIs, alerts, the live board and /metrics."
        if settings is not None:
            _dress_worker(worker, settings)


def _dress_worker(worker: click.Command, settings: WorkerSettings) -> None:
    worker.help = (
        "Run the socialpulse worker: read events, keep the KPIs, serve the live board (/), "
        f"/metrics and the alerts on http://{settings.web_host}:{settings.web_port}/.\n\n"
        "It checks first that the broker answers and that its web port is free."
    )
    defaults = {
        "web_port": f"[default: {settings.web_port}, from SOCIALPULSE_WEB_PORT]",
        "web_host": f"[default: {settings.web_host}, from SOCIALPULSE_WEB_HOST]",
        "web_bind": f"[default: {settings.web_host}, from SOCIALPULSE_WEB_HOST]",
    }
    titles = {
        "web_port": "Port of the web server (board, /metrics).",
        "web_host": "Host name of the web server in its URLs.",
        "web_bind": "Address the web server binds to.",
    }
    for param in worker.params:
        if isinstance(param, click.Option) and param.name in defaults:
            param.help = f"{titles[param.name]}  {defaults[param.name]}"
    original = worker.callback
    assert original is not None

    @functools.wraps(original)
    def checked(*args: Any, **kwargs: Any) -> Any:
        web = kwargs.get("with_web", True)
        worker_preflight(settings, kwargs.get("web_bind"), kwargs.get("web_port"), web=web)
        return original(*args, **kwargs)

    worker.callback = checked
