"""The ``socialpulse`` command: Faust's command line for the app, plus socialpulse's own.

Faust gives ``worker``, ``send``, ``tables``, ``agents``, ``model``...; this module adds
``broker``, ``generate``, ``replay``, ``demo``, ``bench``, ``score-text`` and ``alerts``.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

import click
from faust.cli.faust import cli as faust_cli
from pydantic import ValidationError

from socialpulse.agents.app import create_app
from socialpulse.agents.broker import BrokerError, run_broker
from socialpulse.agents.demo import DemoPlan, run_demo
from socialpulse.agents.settings import ConfigFileError, Settings
from socialpulse.streams.producer import EventProducer


def _producer(settings: Settings, max_events: int = 500) -> EventProducer:
    return EventProducer(
        settings.bootstrap,
        settings.events_topic,
        partitions=settings.topic_partitions,
        max_events=min(max_events, settings.max_envelope_events),
        max_bytes=min(900_000, settings.max_message_bytes),
    )


async def _with_broker(coro: Any, settings: Settings) -> Any:
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


def build_commands(settings: Settings) -> list[click.Command]:
    """socialpulse's own commands, as plain click commands (clean errors, no worker)."""

    @click.command()
    def broker() -> None:
        """Run the embedded Kafka-compatible broker (Tansu, in memory) on SOCIALPULSE_BROKER."""
        try:
            code = run_broker(settings.bootstrap)
        except BrokerError as exc:
            raise click.ClickException(str(exc)) from None
        if code:
            raise click.ClickException(f"the broker exited with status {code}")

    @click.command()
    @click.option(
        "--rate", type=float, default=200.0, show_default=True, help="Mean events per second."
    )
    @click.option("--brands", type=int, default=4, show_default=True, help="Brands to simulate.")
    @click.option(
        "--duration", type=float, default=None, help="Seconds to run (default: until Ctrl-C)."
    )
    @click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
    @click.option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write JSON lines to this file instead of sending (needs --duration).",
    )
    @click.option(
        "--envelope", type=int, default=1, show_default=True, help="Events per line with --output."
    )
    @click.option(
        "--history",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="First send this many seconds of past event time, as fast as possible.",
    )
    @click.option(
        "--crisis",
        metavar="BRAND",
        default=None,
        help="Script a crisis: BRAND's mentions turn negative, 4x the traffic, for 5 minutes.",
    )
    @click.option(
        "--crisis-in",
        type=click.FloatRange(min=0),
        default=60.0,
        show_default=True,
        help="Seconds after the live stream starts that the --crisis begins.",
    )
    @click.option("--quiet", is_flag=True, default=False, help="No progress line.")
    def generate(
        rate: float,
        brands: int,
        duration: float | None,
        seed: int,
        output: Path | None,
        envelope: int,
        history: float,
        crisis: str | None,
        crisis_in: float,
        quiet: bool,
    ) -> None:
        """Send a realistic synthetic event stream (or write it to a file with --output)."""
        from socialpulse.streams.generate import run_live, send_history, write_file
        from socialpulse.streams.generator import SyntheticStream, crisis_burst

        if rate <= 0:
            raise click.BadParameter("must be positive", param_hint="--rate")
        try:
            stream = SyntheticStream(seed=seed, brands=brands)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--brands") from None
        if crisis is not None and crisis not in stream.brands:
            raise click.BadParameter(
                f"{crisis!r} is not one of the generated brands: {', '.join(stream.brands)}",
                param_hint="--crisis",
            )
        err = None if quiet else sys.stderr
        if output is not None:
            if history or crisis is not None:
                raise click.UsageError("--history and --crisis are for live sending, not --output")
            if duration is None:
                raise click.UsageError("--output needs --duration (seconds of event time to write)")
            n = write_file(
                stream, output, rate=rate, duration=duration, envelope=max(1, envelope), err=err
            )
            click.echo(f"wrote {n:,} events to {output}")
            return

        async def send() -> None:
            producer = _producer(settings)
            await _with_broker(producer.start(), settings)
            try:
                if history:
                    await send_history(stream, producer, rate=rate, duration=history, err=err)
                if crisis is not None:
                    stream.script(crisis_burst(crisis, time.time() + crisis_in))
                    if err is not None:
                        print(f"generate: a crisis hits {crisis} in {crisis_in:g} s", file=err)
                await run_live(stream, producer, rate=rate, duration=duration, err=err)
            finally:
                await producer.stop()

        _run(send())

    @click.command()
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--raw", is_flag=True, default=False, help="Send lines unchanged, unvalidated.")
    @click.option(
        "--envelope", type=int, default=500, show_default=True, help="Events per envelope."
    )
    def replay(file: Path, raw: bool, envelope: int) -> None:
        """Send a JSON-lines FILE (each line one event or an envelope) to the events topic."""
        from socialpulse.streams.replay import ReplayReport, replay_file

        async def send() -> ReplayReport:
            producer = _producer(settings, max(1, envelope))
            await _with_broker(producer.start(), settings)
            try:
                return await replay_file(file, producer, raw=raw)
            finally:
                await producer.stop()

        report: ReplayReport = _run(send())
        for line in report.errors:
            click.echo(f"  refused {line}", err=True)
        click.echo(
            f"replay: sent {report.events:,} events from {report.lines:,} lines; "
            f"refused {report.invalid:,}"
        )
        if report.invalid:
            sys.exit(1)

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
    def demo(
        rate: float, brands: int, seed: int, history: float, crisis: bool, crisis_in: float
    ) -> None:
        """Start broker, worker and generator; show live KPIs. Ctrl-C stops everything."""
        if rate <= 0:
            raise click.BadParameter("must be positive", param_hint="--rate")
        plan = DemoPlan(rate, brands, seed, history, crisis, crisis_in)
        code = run_demo(settings, plan)
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
        help="Folder for bench.json and bench.png.",
    )
    @click.option("--profile", is_flag=True, default=False, help="py-spy the enveloped row.")
    def bench(events: int, single: int, latency_seconds: float, out: Path, profile: bool) -> None:
        """Throughput side by side on the embedded broker, the same events for every row:
        raw aiokafka, Faust's no-op agent, a naive Faust table, and socialpulse (envelopes,
        single events, two workers); latency at half load; a 10k-series scrape."""
        from socialpulse.bench.probes import BenchError
        from socialpulse.bench.run import Options, main_output

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
    def score_text(lang: str | None, echo: bool, quiet: bool) -> None:
        """Score texts from stdin, one per line: one JSON line each with sentiment and lang.

        \b
        Example:
          echo 'Świetna obsługa, polecam!' | socialpulse score-text
          {"sentiment":0.8356,"lang":"pl","lang_confidence":0.9649,"supported":true,...}
        """
        from socialpulse.streams.enrich.language import ModelMissing
        from socialpulse.streams.enrich.score_text import score_lines

        if lang is not None and not re.fullmatch(r"[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*", lang):
            raise click.BadParameter(f"{lang!r} is not a BCP 47 tag such as fa or pt-BR")
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
            )
        except ModelMissing as exc:
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

    return [broker, generate, replay, demo, bench, score_text, alerts]


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        sys.exit(130)


def main() -> None:
    """Entry point of the ``socialpulse`` console script."""
    try:
        settings = Settings()
        settings.load_file_config()
    except ValidationError as exc:
        errors = "; ".join(
            f"SOCIALPULSE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        sys.exit(f"socialpulse: invalid settings: {errors}")
    except ConfigFileError as exc:
        sys.exit(f"socialpulse: {exc}")
    app = create_app(settings)
    for command in build_commands(settings):
        faust_cli.add_command(command)
    app.main()


if __name__ == "__main__":
    main()
