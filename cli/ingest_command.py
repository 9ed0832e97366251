"""``socialpulse ingest``: the HTTP ingest server (``streams.ingest``) with its producer,
reading ``IngestSettings``."""

from __future__ import annotations

from collections.abc import Callable

import click

from socialpulse.cli.common import run_command, with_broker
from socialpulse.streams.connection import client_options
from socialpulse.streams.settings import IngestSettings


def ingest_command(ingest_settings: Callable[[], IngestSettings]) -> click.Command:
    """``socialpulse ingest``, reading ``ingest_settings()`` when run."""

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
            await with_broker(producer.start(), settings)
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

        run_command(run())

    return ingest
