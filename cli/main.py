"""The ``socialpulse`` command: Faust's command line for the app, plus socialpulse's own.

Faust gives ``worker``, ``send``, ``tables``, ``agents``, ``model``...; socialpulse adds
its commands to that group: the producers (``cli.produce_commands``), ``ingest``
(``cli.ingest_command``), ``dlq`` (``cli.dlq_command``), ``backtest``, ``board`` and,
here, ``broker``, ``demo``, ``bench``, ``score-text`` and ``alerts``. :func:`main` builds
the worker's app only for Faust's commands.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import click
from faust.cli.faust import cli as faust_cli
from prometheus_client import disable_created_metrics
from pydantic import ValidationError

from socialpulse.agents.settings import ConfigFileError, WorkerSettings
from socialpulse.cli.backtest_command import backtest_command
from socialpulse.cli.board_prometheus import board_command
from socialpulse.cli.broker import BrokerError, run_broker
from socialpulse.cli.common import invalid_settings, loader
from socialpulse.cli.demo import DemoPlan, run_demo
from socialpulse.cli.dlq_command import dlq_command
from socialpulse.cli.group import dress
from socialpulse.cli.ingest_command import ingest_command
from socialpulse.cli.produce_commands import producer_commands
from socialpulse.streams.settings import IngestSettings, ProducerSettings
from socialpulse.streams.vocabulary import DEFAULT_BRANDS

#: ``socialpulse bench`` outside a source checkout (``bench/`` is not installed)
NO_BENCH = (
    "`socialpulse bench` is a development tool that runs from a source checkout "
    "(`make bench`): no bench/ beside the installed package or in the current directory"
)


def bench_checkout() -> Path | None:
    """The source checkout whose ``bench/`` ``socialpulse bench`` runs: the source tree of an
    editable install (the folder above this package's), else the current directory."""
    for root in (Path(__file__).resolve().parents[1], Path.cwd()):
        if (root / "bench" / "run.py").is_file():
            return root
    return None


def build_commands() -> list[click.Command]:
    """socialpulse's own commands, as plain click commands (clean errors, no worker). Each
    reads only the settings of its kind: the producers ``ProducerSettings``, the HTTP
    ingest ``IngestSettings``, the commands that run or replay a worker
    ``WorkerSettings``."""
    producer_settings = loader(ProducerSettings)
    ingest_settings = loader(IngestSettings)
    worker_settings = loader(WorkerSettings)

    @click.command()
    def broker() -> None:
        """Run the embedded Kafka-compatible broker (Tansu, in memory) on SOCIALPULSE_BROKER."""
        try:
            code = run_broker(producer_settings().bootstrap)
        except BrokerError as exc:
            raise click.ClickException(str(exc)) from None
        if code:
            raise click.ClickException(f"the broker exited with status {code}")

    @click.command()
    @click.option(
        "--rate", type=float, default=300.0, show_default=True, help="Generator events/s."
    )
    @click.option(
        "--brands",
        type=click.IntRange(1, len(DEFAULT_BRANDS)),
        default=4,
        show_default=True,
        help="Brands to simulate.",
    )
    @click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
    @click.option(
        "--history",
        type=click.FloatRange(min=0),
        default=1800.0,
        show_default=True,
        help="Seconds of past event time the generator backfills first.",
    )
    @click.option(
        "--crisis/--no-crisis",
        default=True,
        show_default=True,
        help="Script a crisis for the last brand once the history is in.",
    )
    @click.option(
        "--crisis-in",
        type=click.FloatRange(min=0),
        default=90.0,
        show_default=True,
        help="Seconds after the history that the crisis begins.",
    )
    @click.option(
        "--log-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Folder for the broker's, worker's and generator's logs  "
        "[default: $TMPDIR/socialpulse-demo]",
    )
    def demo(
        rate: float,
        brands: int,
        seed: int,
        history: float,
        crisis: bool,
        crisis_in: float,
        log_dir: Path | None,
    ) -> None:
        """Start broker, worker and generator; show live KPIs and alerts. Ctrl-C stops all.

        The terminal shows the board's and the metrics' URLs, the KPI table and the alerts;
        the children's output goes to log files (see --log-dir). It checks first that the
        worker's web port (SOCIALPULSE_WEB_PORT) is free; a broker that already answers on
        SOCIALPULSE_BROKER is used, otherwise the embedded one is started."""
        if rate <= 0:
            raise click.BadParameter("must be positive", param_hint="--rate")
        plan = DemoPlan(rate, brands, seed, history, crisis, crisis_in)
        settings = worker_settings()
        try:
            settings.file_config()  # a bad config file is one line now, not a dead worker
        except ConfigFileError as exc:
            raise click.ClickException(str(exc)) from None
        code = run_demo(settings, plan, log_dir=log_dir)
        if code:
            sys.exit(code)

    @click.command()
    @click.option(
        "--events",
        type=click.IntRange(min=50_000),
        default=200_000,
        show_default=True,
        help="Generated events, sent in envelopes of 500.",
    )
    @click.option(
        "--single",
        type=click.IntRange(min=10_000),
        default=50_000,
        show_default=True,
        help="How many of them to send again one per message.",
    )
    @click.option(
        "--latency-seconds",
        type=click.FloatRange(min=1),
        default=15.0,
        show_default=True,
        help="Seconds of steady load for the latency and scrape rows.",
    )
    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("bench-results"),
        show_default=True,
        help="Folder for bench.json and bench.png (the chart needs matplotlib: "
        "pip install 'socialpulse[bench]').",
    )
    @click.option("--profile", is_flag=True, default=False, help="py-spy the enveloped row.")
    def bench(events: int, single: int, latency_seconds: float, out: Path, profile: bool) -> None:
        """Throughput side by side on the embedded broker, the same events for every row:
        raw aiokafka, Faust's no-op agent, a naive Faust table, and socialpulse (envelopes,
        single events, two workers); latency at half load; a 10k-series scrape. A development
        tool: it runs from a source checkout (`make bench`)."""
        root = bench_checkout()
        if root is not None and str(root) not in sys.path:
            sys.path.insert(0, str(root))
        try:
            from bench.probes import BenchError
            from bench.run import Options, main_output
        except ModuleNotFoundError as exc:
            if exc.name not in {"bench", "bench.probes", "bench.run"}:
                raise
            raise click.ClickException(NO_BENCH) from None

        options = Options(events, single, latency_seconds, out, profile)
        try:
            code = main_output(options, lambda text: click.echo(f"bench: {text}", err=True))
        except BenchError as exc:
            raise click.ClickException(str(exc)) from None
        sys.exit(code)

    @click.command("score-text")
    @click.option(
        "--lang", default=None, help="Language of every line (BCP 47, e.g. fa); default: detect."
    )
    @click.option("--echo", is_flag=True, default=False, help="Repeat each text in its output.")
    @click.option("--quiet", is_flag=True, default=False, help="No progress line.")
    @click.option(
        "--model",
        "mode",
        type=click.Choice(["fast", "model"]),
        default=None,
        help="Sentiment scorer (default: SOCIALPULSE_SENTIMENT_MODEL, else fast).",
    )
    @click.option(
        "--eval",
        "eval_files",
        nargs=2,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE_TEXT FILE_LABELS",
        help="Score the texts of FILE_TEXT (one a line) against FILE_LABELS (0/1/2 or "
        "negative/neutral/positive, one a line); print macro-F1 and sign accuracy.",
    )
    def score_text(
        lang: str | None,
        echo: bool,
        quiet: bool,
        mode: str | None,
        eval_files: tuple[Path, Path] | None,
    ) -> None:
        """Score texts from stdin, one per line: one JSON line each with sentiment and lang.

        \b
        Example:
          echo 'Świetna obsługa, polecam!' | socialpulse score-text
          {"sentiment":0.8356,"lang":"pl","lang_confidence":0.9649,"supported":true,...}
          socialpulse score-text --model model --eval tweets.txt tweets.labels
          texts 324  macro-F1 66.0  sign accuracy 0.781  scored exactly 0: 0.01
        """
        from socialpulse.streams.enrich.enricher import Enricher
        from socialpulse.streams.enrich.language import ModelMissing
        from socialpulse.streams.enrich.score_text import score_lines
        from socialpulse.streams.enrich.sentiment_model import ModelMissing as NoModel

        if lang is not None and not re.fullmatch(r"[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*", lang):
            raise click.BadParameter(f"{lang!r} is not a BCP 47 tag such as fa or pt-BR")
        if eval_files is not None:
            from socialpulse.streams.enrich.evaluation import evaluate_three_class, read_labels

            text_file, label_file = eval_files
            try:
                texts = text_file.read_text(encoding="utf-8").splitlines()
                result = evaluate_three_class(
                    texts,
                    read_labels(label_file),
                    Enricher(mode=mode or worker_settings().sentiment_model),
                    lang,
                )
            except (ValueError, ModelMissing, NoModel) as exc:
                raise click.ClickException(str(exc)) from None
            click.echo(result.summary())
            return
        stdin = click.get_binary_stream("stdin")
        interactive = sys.stdin.isatty()
        if interactive and not quiet:
            click.echo("type or paste texts, one per line; Ctrl-D ends", err=True)
        err = None if quiet or interactive or not sys.stderr.isatty() else sys.stderr
        try:
            score_lines(
                stdin,
                click.get_binary_stream("stdout"),
                lang=lang,
                echo=echo,
                err=err,
                interactive=interactive,
                mode=mode or worker_settings().sentiment_model,
            )
        except (ModelMissing, NoModel) as exc:
            raise click.ClickException(str(exc)) from None
        except BrokenPipeError:
            sys.stderr.close()  # `| head` closed the pipe: stop quietly

    @click.group()
    def alerts() -> None:
        """Crisis alerts: check where they are delivered."""

    @alerts.command("test")
    @click.argument("url")
    @click.option("--brand", default="example-brand", show_default=True, help="Brand to name.")
    def alerts_test(url: str, brand: str) -> None:
        """Send a test alert to URL: an http(s) webhook or an Apprise URL (slack://, mailto://…).

        \b
        Examples:
          socialpulse alerts test https://hooks.example.com/socialpulse
          socialpulse alerts test 'slack://TokenA/TokenB/TokenC/#social'
        """
        from socialpulse.alerts.notify import NotifierError, notifier_for, sample_alert

        try:
            notifier = notifier_for(url)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="URL") from None
        click.echo(f"sending a test alert to {notifier.target} ({notifier.kind}) …", err=True)
        try:
            asyncio.run(notifier.send(sample_alert(brand)))
        except NotifierError as exc:
            raise click.ClickException(f"delivery failed: {exc}") from None
        click.echo("delivered")

    return [
        broker,
        dlq_command(producer_settings),
        *producer_commands(producer_settings),
        demo,
        bench,
        score_text,
        alerts,
        backtest_command(worker_settings),
        ingest_command(ingest_settings),
        board_command,
    ]


def invoked(group: click.Group, args: list[str]) -> str | None:
    """The name of the command ``args`` run (None for the root's own --help, --version):
    the first word that is neither an option of the root nor an option's value."""
    takes_value = {
        opt
        for param in group.params
        if isinstance(param, click.Option) and not param.is_flag
        for opt in param.opts
    }
    words = iter(args)
    for word in words:
        if word == "--":
            return next(words, None)
        if word.startswith("-"):
            if word in takes_value:
                next(words, None)
            continue
        return word
    return None


def main() -> None:
    """Entry point of the ``socialpulse`` console script.

    Faust's commands (``worker``, ``send``, ``tables``, ...) run the worker's app: only
    for them are the worker's settings and the config file read (once) and the app
    built. socialpulse's own commands read only their own settings, when they run."""
    faust_commands = set(faust_cli.commands)
    for command in build_commands():
        faust_cli.add_command(command)
    if invoked(faust_cli, sys.argv[1:]) not in faust_commands:
        dress(faust_cli, None)
        faust_cli(prog_name="socialpulse")
        return
    try:
        settings = WorkerSettings()
        config = settings.file_config()
    except ValidationError as exc:
        sys.exit(f"Error: {invalid_settings(exc)}")  # as click writes every other command's
    except ConfigFileError as exc:
        sys.exit(f"Error: {exc}")
    from socialpulse.agents.app import create_app  # the worker's runtime: Faust's commands only

    # no ``<counter>_created`` series: Prometheus's text format reads each as one more
    # gauge, which doubled the counters' series (an eighth of a scrape's series)
    disable_created_metrics()
    app = create_app(settings, config=config)
    dress(faust_cli, settings)
    app.main()


if __name__ == "__main__":
    main()
