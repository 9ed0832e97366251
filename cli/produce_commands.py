"""``socialpulse generate``, ``replay`` and ``produce``: events from the generator, a file
or a producer plug-in, sent to the events topic (they read ``ProducerSettings``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from socialpulse.cli.common import report_sink, run_command, send_with_plugin
from socialpulse.streams import builtin_plugins, plugins
from socialpulse.streams.builtin_plugins import GENERATOR_OPTIONS, REPLAY_OPTIONS, synthetic_stream
from socialpulse.streams.settings import ProducerSettings


def producer_commands(producer_settings: Callable[[], ProducerSettings]) -> list[click.Command]:
    """``generate``, ``replay`` and ``produce``, reading ``producer_settings()`` when run."""

    @click.command()
    @plugins.with_options(GENERATOR_OPTIONS)
    @click.option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write JSON lines to this file instead of sending (needs --duration).",
    )
    @click.option(
        "--envelope", type=int, default=1, show_default=True, help="Events per line with --output."
    )
    @click.option("--quiet", is_flag=True, default=False, help="No progress line.")
    def generate(output: Path | None, envelope: int, quiet: bool, **options: Any) -> None:
        """Send a realistic synthetic event stream (or write it to a file with --output).

        The same as `socialpulse produce generator`, plus --output. With --output, the
        file holds the --duration seconds of event time up to now, and a --crisis starts
        --crisis-in seconds after the file's first second (a file for `backtest`)."""
        from socialpulse.streams.generator import crisis_burst
        from socialpulse.streams.pacing import write_file

        err = None if quiet else sys.stderr
        if output is not None:
            if options["history"]:
                raise click.UsageError("--history is for live sending, not --output")
            duration = options["duration"]
            if duration is None:
                raise click.UsageError("--output needs --duration (seconds of event time to write)")
            stream = synthetic_stream(
                options["rate"], options["brands"], options["seed"], options["crisis"]
            )
            end = time.time()
            if options["crisis"] is not None:
                if options["crisis_in"] >= duration:
                    raise click.BadParameter(
                        f"the file holds {duration:g} s: the crisis must start before that",
                        param_hint="--crisis-in",
                    )
                start = end - duration + options["crisis_in"]
                stream.script(crisis_burst(options["crisis"], start))
            n = write_file(
                stream,
                output,
                rate=options["rate"],
                duration=duration,
                end=end,
                envelope=max(1, envelope),
                err=err,
            )
            click.echo(f"wrote {n:,} events to {output}")
            return
        synthetic_stream(options["rate"], options["brands"], options["seed"], options["crisis"])
        run_command(send_with_plugin(producer_settings(), builtin_plugins.generator, options, err))

    @click.command()
    @plugins.with_options(REPLAY_OPTIONS)
    @click.option(
        "--envelope", type=int, default=500, show_default=True, help="Events per envelope."
    )
    def replay(envelope: int, **options: Any) -> None:
        """Send a JSON-lines FILE (each line one event or an envelope) or a CSV FILE.

        A .csv / .tsv FILE (or --format csv) is read as `socialpulse produce csv` reads it:
        columns map to event fields with --map FIELD=COLUMN and --set FIELD=VALUE.
        The same as `socialpulse produce replay FILE`. Exit status 1 if any event was refused."""
        sink = run_command(
            send_with_plugin(
                producer_settings(), builtin_plugins.replay, options, sys.stderr, envelope
            )
        )
        report_sink("replay", sink)
        if sum(sink.refused.values()):
            sys.exit(1)

    @click.group("produce", cls=PluginGroup, invoke_without_command=True)
    @click.option("--list", "show", is_flag=True, default=False, help="List producer plug-ins.")
    @click.pass_context
    def produce(ctx: click.Context, show: bool) -> None:
        """Run a producer plug-in: `socialpulse produce NAME [OPTIONS]`.

        Plug-ins are Python entry points in the group `socialpulse.producers`; the generator
        and file replay are built in. `socialpulse produce NAME --help` shows a plug-in's
        options. Exit status 1 if the plug-in refused any input.
        """
        if show or ctx.invoked_subcommand is None:
            for name, help_text, where in plugins.listing():
                click.echo(f"{name:<12} {help_text}  [{where}]")
            if not show:
                click.echo("\nrun one with: socialpulse produce NAME [OPTIONS]", err=True)

    produce.settings = producer_settings  # type: ignore[attr-defined]

    return [generate, replay, produce]


class PluginGroup(click.Group):
    """`socialpulse produce`: one subcommand per installed producer plug-in."""

    settings: Callable[[], ProducerSettings]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(plugins.discover())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in plugins.discover():
            return None
        try:
            plugin = plugins.load(name)
        except plugins.PluginError as exc:
            problem = str(exc)

            def broken() -> None:
                raise click.ClickException(problem)

            return click.command(name, help=f"(broken) {problem}")(broken)
        settings = self.settings

        def run(**options: Any) -> None:
            sink = run_command(send_with_plugin(settings(), plugin, options, sys.stderr))
            report_sink(f"produce {plugin.name}", sink)
            if sum(sink.refused.values()):
                sys.exit(1)

        return plugin.command(run)
