"""``socialpulse dlq`` and ``dlq replay``: print the dead letters, send fixed ones back
(the reading and checking is ``cli.dlq``'s); they read ``ProducerSettings``."""

from __future__ import annotations

import collections
import sys
from collections.abc import Callable
from typing import Any

import click

from socialpulse.cli.common import producer_for, run_command, with_broker
from socialpulse.cli.dlq import (
    DlqError,
    parse_since,
    read_dead_letters,
    replayable,
    values_from_lines,
)
from socialpulse.streams.contract import REASONS
from socialpulse.streams.settings import ProducerSettings


def dlq_command(producer_settings: Callable[[], ProducerSettings]) -> click.Group:
    """``socialpulse dlq`` with its ``replay``, reading ``producer_settings()`` when run."""

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
            run_command(run())
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
            producer = producer_for(settings)
            await with_broker(producer.start(), settings)
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
            run_command(run())
        except DlqError as exc:
            raise click.ClickException(str(exc)) from None
        reasons_text = ", ".join(f"{r} {n:,}" for r, n in refused.most_common())
        click.echo(
            f"dlq replay: sent {sent:,} events to {settings.events_topic!r}; "
            f"refused {sum(refused.values()):,}" + (f" ({reasons_text})" if reasons_text else "")
        )
        if refused:
            sys.exit(1)

    return dlq


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
