"""The ``socialpulse`` command: Faust's command line for the app, plus socialpulse's own.

Faust gives ``worker``, ``send``, ``tables``, ``agents``, ``model``...; this module adds
``broker``, ``generate``, ``replay``, ``demo``, ``bench``, ``score-text``, ``alerts``
and ``board``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from faust.cli.faust import cli as faust_cli
from pydantic import ValidationError

from socialpulse.agents.app import create_app
from socialpulse.agents.settings import ConfigFileError, WorkerSettings
from socialpulse.cli.backtest_command import backtest_command
from socialpulse.cli.board_prometheus import board_command
from socialpulse.cli.broker import BrokerError, run_broker
from socialpulse.cli.demo import DemoPlan, run_demo
from socialpulse.cli.dlq import (
    DlqError,
    parse_since,
    read_dead_letters,
    replayable,
    values_from_lines,
)
from socialpulse.cli.group import dress
from socialpulse.streams import builtin_plugins, plugins
from socialpulse.streams.builtin_plugins import GENERATOR_OPTIONS, REPLAY_OPTIONS, synthetic_stream
from socialpulse.streams.connection import client_options
from socialpulse.streams.contract import REASONS
from socialpulse.streams.producer import EventProducer
from socialpulse.streams.settings import IngestSettings, KafkaSettings, ProducerSettings

S = TypeVar("S", bound=KafkaSettings)


def _producer(settings: KafkaSettings, max_events: int = 500) -> EventProducer:
    return EventProducer(
        settings.bootstrap,
        settings.events_topic,
        partitions=settings.topic_partitions,
        max_events=min(max_events, settings.max_envelope_events),
        max_bytes=min(900_000, settings.max_message_bytes),
        client_options=client_options(settings),
    )


async def _with_broker(coro: Any, settings: KafkaSettings) -> Any:
    try:
        return await coro
    except (ConnectionError, OSError) as exc:
        raise click.ClickException(f"cannot reach the broker at {settings.broker}: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.startswith("aiokafka"):
            raise click.ClickException(
                f"cannot reach the broker at {settings.broker} ({type(exc).__name__}: {exc}); "
                "is `socialpulse broker` running, or SOCIALPULSE_BROKER right?"
            ) from None
        raise


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


def invalid_settings(exc: ValidationError) -> str:
    """A settings error as one line naming the variables."""
    errors = "; ".join(
        f"SOCIALPULSE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
        for e in exc.errors()
    )
    return f"invalid settings: {errors}"


def loader(kind: type[S]) -> Callable[[], S]:
    """The settings of one kind, read from the environment on first use (a command reads
    only its own kind); an invalid variable is a one-line error."""

    @functools.cache
    def load() -> S:
        try:
            return kind()
        except ValidationError as exc:
            raise click.ClickException(invalid_settings(exc)) from None

    return load


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
        _run(_produce(producer_settings(), builtin_plugins.generator, options, err))

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
        sink = _run(
            _produce(producer_settings(), builtin_plugins.replay, options, sys.stderr, envelope)
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

    @click.command()
    @click.option(
        "--rate", type=float, default=300.0, show_default=True, help="Generator events/s."
    )
    @click.option("--brands", type=int, default=4, show_default=True, help="Brands to simulate.")
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
        code = run_demo(worker_settings(), plan, log_dir=log_dir)
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

    @click.command()
    @click.option("--host", default=None, help="Bind address  [default: SOCIALPULSE_INGEST_HOST]")
    @click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=None,
        help="Port to listen on  [default: SOCIALPULSE_INGEST_PORT]",
    )
    @click.option(
        "--no-wait",
        is_flag=True,
        default=False,
        help="Answer 202 once the events are queued, before the broker has them.",
    )
    @click.option(
        "--linger",
        type=click.FloatRange(min=0),
        default=0.002,
        show_default=True,
        help="Seconds events wait to share an envelope with other requests' events.",
    )
    @click.option(
        "--log-every",
        type=click.FloatRange(min=1),
        default=30.0,
        show_default=True,
        help="Seconds between progress lines (only when requests came).",
    )
    def ingest(
        host: str | None, port: int | None, no_wait: bool, linger: float, log_every: float
    ) -> None:
        """HTTP ingest: POST events to /events (Bearer SOCIALPULSE_INGEST_TOKEN required).

        \b
        Example:
          SOCIALPULSE_INGEST_TOKEN=$TOKEN socialpulse ingest --port 8088
          curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
            -d '{"id":"1","ts":1700000000,"brand":"acme","kind":"like"}' localhost:8088/events
        """
        from socialpulse.streams.ingest import server as http
        from socialpulse.streams.ingest.delivery import DeliveryProducer

        settings = ingest_settings()
        tokens = http.parse_tokens(settings.ingest_token)
        if not tokens:
            raise click.ClickException(
                "SOCIALPULSE_INGEST_TOKEN is not set: the ingest server refuses to run without "
                "a token (several, comma-separated, allow rotation)"
            )
        config = http.IngestConfig(
            tokens=tokens,
            max_bytes=settings.ingest_max_bytes,
            max_events=settings.max_envelope_events,
            max_event_bytes=settings.max_message_bytes - 2,
            wait=not no_wait,
            ack_timeout=settings.ingest_ack_timeout,
            max_in_flight=settings.ingest_max_in_flight,
            max_held=settings.ingest_max_held_bytes,
        )
        producer = DeliveryProducer(
            settings.bootstrap,
            settings.events_topic,
            partitions=settings.topic_partitions,
            max_events=min(500, settings.max_envelope_events),
            max_bytes=min(900_000, settings.max_message_bytes),
            linger=linger,
            client_options=client_options(settings),
        )

        async def run() -> None:
            await _with_broker(producer.start(), settings)
            try:
                click.echo(f"socialpulse ingest: events go to {settings.events_topic!r}")
                stats = await http.serve(
                    producer,
                    config,
                    host or settings.ingest_host,
                    settings.ingest_port if port is None else port,
                    echo=click.echo,
                    log_every=log_every,
                )
            except http.IngestError as exc:
                raise click.ClickException(str(exc)) from None
            finally:
                await producer.stop()
            click.echo(
                f"socialpulse ingest: stopped after {stats.total_requests:,} requests, "
                f"{stats.total_accepted:,} events accepted"
            )

        _run(run())

    @click.group(invoke_without_command=True)
    @click.option(
        "--reason",
        "reasons",
        multiple=True,
        type=click.Choice(REASONS),
        metavar="REASON",
        help="Only dead letters of this reason (repeatable): " + ", ".join(REASONS) + ".",
    )
    @click.option(
        "--since",
        default=None,
        help="Only those since: a duration ago (30s, 10m, 2h, 1d) or an ISO 8601 time.",
    )
    @click.option("--follow", "-f", is_flag=True, default=False, help="Keep printing new ones.")
    @click.option("--json", "as_json", is_flag=True, default=False, help="One JSON object a line.")
    @click.option(
        "--idle",
        type=click.FloatRange(min=0.1),
        default=2.0,
        show_default=True,
        help="Seconds without a new record after which the topic counts as read through.",
    )
    @click.pass_context
    def dlq(
        ctx: click.Context,
        reasons: tuple[str, ...],
        since: str | None,
        follow: bool,
        as_json: bool,
        idle: float,
    ) -> None:
        """Print the dead letters: what the worker rejected, why, where it came from.

        Each shows its reason and detail (see docs/events.md#rejections), the source
        topic, partition and offset, and the original value. Reads SOCIALPULSE_DLQ_TOPIC
        on SOCIALPULSE_BROKER (Kafka or the embedded broker), without a consumer group.

        \b
        Examples:
          socialpulse dlq --reason invalid_json --since 1h
          socialpulse dlq --json > dead.jsonl   # fix the values, then:
          socialpulse dlq replay dead.jsonl
        """
        if ctx.invoked_subcommand is not None:
            return
        settings = producer_settings()
        since_t = _since(since)
        out = click.get_binary_stream("stdout")
        counts: collections.Counter[str] = collections.Counter()

        async def run() -> None:
            async for letter in read_dead_letters(
                settings, reasons=reasons, since=since_t, follow=follow, idle=idle
            ):
                counts[letter.reason] += 1
                if as_json:
                    out.write(letter.as_json() + b"\n")
                else:
                    out.write(letter.text().encode() + b"\n\n")
                out.flush()

        try:
            _run(run())
        except DlqError as exc:
            raise click.ClickException(str(exc)) from None
        except BrokenPipeError:
            sys.stderr.close()
            return
        by_reason = ", ".join(f"{r} {n:,}" for r, n in counts.most_common())
        click.echo(
            f"dlq: {sum(counts.values()):,} dead letters in {settings.dlq_topic!r}"
            + (f" ({by_reason})" if by_reason else ""),
            err=True,
        )

    @dlq.command("replay")
    @click.argument("file", type=click.File("r", encoding="utf-8"), required=False)
    @click.option(
        "--reason",
        "reasons",
        multiple=True,
        type=click.Choice(REASONS),
        metavar="REASON",
        help="Without FILE: send the dead letters of this reason again, as they are.",
    )
    @click.option("--since", default=None, help="Without FILE: only those since (as dlq).")
    @click.option(
        "--idle",
        type=click.FloatRange(min=0.1),
        default=2.0,
        show_default=True,
        help="Seconds without a new record after which the topic counts as read through.",
    )
    def dlq_replay(file: Any, reasons: tuple[str, ...], since: str | None, idle: float) -> None:
        """Send fixed dead letters back to the events topic.

        FILE holds JSON lines: records of `socialpulse dlq --json` whose value you fixed,
        or plain events / envelopes. Without FILE, the dead letters of --reason are sent
        again as they are (after fixing what refused them, say the worker's config).
        Every event is checked against docs/events.md first: those still broken are
        refused here, with their line, and the exit status is 1.
        """
        if file is None and not reasons:
            raise click.UsageError(
                "say what to send: a FILE of fixed dead letters (from `socialpulse dlq "
                "--json`), or --reason REASON to send those dead letters again as they are"
            )
        from socialpulse.streams.validation import Invalid

        settings = producer_settings()
        since_t = _since(since)
        sent = 0
        refused: collections.Counter[str] = collections.Counter()

        async def run() -> None:
            nonlocal sent
            producer = _producer(settings)
            await _with_broker(producer.start(), settings)
            try:
                if file is not None:
                    values = list(values_from_lines(file))
                else:
                    values = [
                        (letter.offset, letter.value)
                        async for letter in read_dead_letters(
                            settings, reasons=reasons, since=since_t, idle=idle
                        )
                    ]
                where = "line" if file is not None else "offset"
                for n, value in values:
                    try:
                        events = replayable(value)
                    except ValueError as exc:
                        refused["invalid_json"] += 1
                        click.echo(f"  refused {where} {n}: {exc}", err=True)
                        continue
                    for event in events:
                        try:
                            await producer.send(event)
                            sent += 1
                        except Invalid as exc:
                            refused[exc.reason] += 1
                            click.echo(f"  refused {where} {n}: {exc}", err=True)
                await producer.flush()
            finally:
                await producer.stop()

        try:
            _run(run())
        except DlqError as exc:
            raise click.ClickException(str(exc)) from None
        reasons_text = ", ".join(f"{r} {n:,}" for r, n in refused.most_common())
        click.echo(
            f"dlq replay: sent {sent:,} events to {settings.events_topic!r}; "
            f"refused {sum(refused.values()):,}" + (f" ({reasons_text})" if reasons_text else "")
        )
        if refused:
            sys.exit(1)

    return [
        broker,
        dlq,
        generate,
        replay,
        produce,
        demo,
        bench,
        score_text,
        alerts,
        backtest_command(worker_settings),
        ingest,
        board_command,
    ]


async def _produce(
    settings: KafkaSettings,
    plugin: plugins.Plugin,
    options: dict[str, Any],
    err: Any,
    envelope: int = 500,
) -> plugins.Sink:
    producer = _producer(settings, max(1, envelope))
    await _with_broker(producer.start(), settings)
    try:
        return await plugins.produce(plugin, producer, options, err)
    finally:
        await producer.stop()


def report_sink(label: str, sink: plugins.Sink) -> None:
    for line in sink.errors:
        click.echo(f"  refused {line}", err=True)
    refused = sum(sink.refused.values())
    reasons = ", ".join(f"{r} {n:,}" for r, n in sink.refused.most_common())
    why = f" ({reasons})" if reasons else ""
    click.echo(f"{label}: sent {sink.sent:,} events; refused {refused:,}{why}")


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
            sink = _run(_produce(settings(), plugin, options, sys.stderr))
            report_sink(f"produce {plugin.name}", sink)
            if sum(sink.refused.values()):
                sys.exit(1)

        return plugin.command(run)


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        sys.exit(130)


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
        sys.exit(f"socialpulse: {invalid_settings(exc)}")
    except ConfigFileError as exc:
        sys.exit(f"socialpulse: {exc}")
    app = create_app(settings, config=config)
    dress(faust_cli, settings)
    app.main()


if __name__ == "__main__":
    main()
