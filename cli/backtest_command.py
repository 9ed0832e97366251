"""The ``socialpulse backtest`` command (the work is in ``cli.backtest``)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from socialpulse.agents.gc_tuning import tune_gc
from socialpulse.agents.settings import ConfigFileError, WorkerSettings, load_file_config
from socialpulse.cli.backtest import Backtest, CoreProducer, summary, table
from socialpulse.streams import codec, plugins
from socialpulse.streams.builtin_plugins import REPLAY_OPTIONS, check_replay, replay


def backtest_command(worker_settings: Callable[[], WorkerSettings]) -> click.Command:
    """``socialpulse backtest``: the worker's settings (read when it runs) and config file."""

    @click.command("backtest")
    @plugins.with_options(REPLAY_OPTIONS[:-1])  # the file options of `replay`, checked below
    @click.option(
        "--config",
        "config_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Config file with alerts.tuning and per-brand limits "
        "(default: SOCIALPULSE_CONFIG_FILE).",
    )
    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        default=False,
        help="Print every alert event as a JSON line (as on social-alerts), not the table.",
    )
    @click.option(
        "--plot",
        "plot_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Write a PNG per brand and rule that alerted into this folder: the signal, "
        "its baseline and threshold, the alert spans (needs matplotlib).",
    )
    @click.option("--quiet", is_flag=True, default=False, help="No progress line.")
    def backtest(
        config_path: Path | None, as_json: bool, plot_dir: Path | None, quiet: bool, **options: Any
    ) -> None:
        """The alerts a FILE of past events would have raised: no broker, no worker.

        FILE is read as `socialpulse replay` reads it (JSON lines or CSV, the same
        options). Its events go through the worker's own validation, KPI core and
        detectors, in the file's order, so a backtest raises the alerts a worker would
        have raised at the same event times. Tune `alerts.tuning` and per-brand limits in
        a --config file and run it again.

        \b
        Example:
          socialpulse generate --output day.jsonl --rate 20 --duration 7200 \\
              --crisis acme --crisis-in 5400
          socialpulse backtest day.jsonl --plot charts/
        """
        if check_replay(**options):
            return  # a CSV --dry-run: the mapping was shown
        if plot_dir is not None:
            from socialpulse.cli.backtest_plot import MISSING, can_plot

            if not can_plot():
                raise click.ClickException(MISSING)
        settings = worker_settings()
        try:
            config = load_file_config(config_path) if config_path else settings.file_config()
            run = Backtest(settings, config, enrich=settings.enrich, trace=plot_dir is not None)
        except (ConfigFileError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        err = None if quiet else sys.stderr
        tune_gc()
        sink = asyncio.run(plugins.produce(replay, CoreProducer(run), options, err))
        result = run.result
        for line in sink.errors:
            click.echo(f"  refused {line}", err=True)
        if as_json:
            for alert in result.alerts:
                click.echo(codec.dumps(alert.to_dict()).decode())
        else:
            for line in table(result.incidents()):
                click.echo(line)
        refused = sum(sink.refused.values())
        note = f"; {refused:,} refused by validation" if refused else ""
        click.echo(summary(result) + note, err=as_json)
        if plot_dir is not None:
            from socialpulse.cli.backtest_plot import plot

            written = plot(result, plot_dir)
            click.echo(f"backtest: wrote {len(written)} chart(s) to {plot_dir}", err=as_json)

    return backtest
