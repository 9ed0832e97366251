"""What socialpulse's commands share: their settings, read on first use (each command
reads only its own kind, ``streams.settings`` or ``agents.settings``); the producer they
send events with; one line, not a traceback, when the broker does not answer; and running
a coroutine with Ctrl-C as exit status 130."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from socialpulse.streams import plugins
from socialpulse.streams.connection import client_options
from socialpulse.streams.producer import EventProducer
from socialpulse.streams.settings import KafkaSettings

S = TypeVar("S", bound=KafkaSettings)


def invalid_settings(exc: ValidationError) -> str:
    """A settings error as one line naming the variables."""
    errors = "; ".join(
        # a check across fields (the ingest's byte limits) names its variables itself
        f"SOCIALPULSE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
        if e["loc"]
        else e["msg"]
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


def producer_for(settings: KafkaSettings, max_events: int = 500) -> EventProducer:
    return EventProducer(
        settings.bootstrap,
        settings.events_topic,
        partitions=settings.topic_partitions,
        max_events=min(max_events, settings.max_envelope_events),
        max_bytes=min(900_000, settings.max_message_bytes),
        client_options=client_options(settings),
    )


async def with_broker(coro: Any, settings: KafkaSettings) -> Any:
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


async def send_with_plugin(
    settings: KafkaSettings,
    plugin: plugins.Plugin,
    options: dict[str, Any],
    err: Any,
    envelope: int = 500,
) -> plugins.Sink:
    producer = producer_for(settings, max(1, envelope))
    await with_broker(producer.start(), settings)
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


def run_command(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        sys.exit(130)
