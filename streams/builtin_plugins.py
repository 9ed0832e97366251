"""The built-in producer plug-ins: the synthetic generator and file replay.

``socialpulse generate`` and ``socialpulse replay`` are these plug-ins with a few extras
(``generate --output``); ``socialpulse produce generator`` and ``produce replay`` run
them through the same plug-in path as any installed one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from socialpulse.streams.plugins import Plugin, Sink, option
from socialpulse.streams.sources import csv_file

GENERATOR_OPTIONS = [
    option("--rate", type=float, default=200.0, show_default=True, help="Mean events per second."),
    option("--brands", type=int, default=4, show_default=True, help="Brands to simulate."),
    option("--duration", type=float, default=None, help="Seconds to run (default: until Ctrl-C)."),
    option("--seed", type=int, default=0, show_default=True, help="Random seed."),
    option(
        "--history",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="First send this many seconds of past event time, as fast as possible.",
    ),
    option(
        "--crisis",
        metavar="BRAND",
        default=None,
        help="Script a crisis: BRAND's mentions turn negative, 4x the traffic, for 5 minutes.",
    ),
    option(
        "--crisis-in",
        type=click.FloatRange(min=0),
        default=60.0,
        show_default=True,
        help="Seconds after the live stream starts that the --crisis begins.",
    ),
]


def synthetic_stream(rate: float, brands: int, seed: int, crisis: str | None) -> Any:
    """The generator's stream, with clean errors for bad options."""
    from socialpulse.streams.generator import SyntheticStream

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
    return stream


async def run_generator(
    sink: Sink,
    *,
    rate: float,
    brands: int,
    duration: float | None,
    seed: int,
    history: float,
    crisis: str | None,
    crisis_in: float,
) -> None:
    """History first (if asked), then live at ``rate``, with the scripted crisis."""
    from socialpulse.streams.generator import crisis_burst
    from socialpulse.streams.pacing import run_live, send_history

    stream = synthetic_stream(rate, brands, seed, crisis)
    if history:
        await send_history(stream, sink.producer, rate=rate, duration=history, err=sink.err)
    if crisis is not None:
        stream.script(crisis_burst(crisis, time.time() + crisis_in))
        if sink.err is not None:
            print(f"generate: a crisis hits {crisis} in {crisis_in:g} s", file=sink.err)
    sink.sent += await run_live(stream, sink.producer, rate=rate, duration=duration, err=sink.err)


REPLAY_FORMATS = ("auto", "jsonl", "csv")
CSV_SUFFIXES = (".csv", ".tsv")


def replay_format(file: Path, fmt: str) -> str:
    """``jsonl`` or ``csv``: as given, or by the file's suffix for ``auto``."""
    if fmt != "auto":
        return fmt
    return "csv" if file.suffix.lower() in CSV_SUFFIXES else "jsonl"


def check_replay(*, file: Path, fmt: str, raw: bool, **options: Any) -> bool:
    """Before connecting: CSV options only for CSV, the CSV mapping checked, --dry-run done."""
    if replay_format(file, fmt) == "csv":
        if raw:
            raise click.UsageError("--raw sends JSON lines unchanged; it is not for CSV files")
        return csv_file.preflight(file=file, **options)
    given = csv_file.csv_options_given(options)
    if given:
        raise click.UsageError(
            f"{', '.join(given)}: for CSV files only; {file.name} is read as JSON lines "
            "(see --format)"
        )
    return False


async def run_replay(
    sink: Sink,
    *,
    file: Path,
    raw: bool,
    fmt: str = "auto",
    maps: tuple[str, ...] = (),
    sets: tuple[str, ...] = (),
    delimiter: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
) -> None:
    """Send a JSON-lines or CSV file; its invalid events are refused with their line numbers."""
    from socialpulse.streams.replay import replay_file

    if replay_format(file, fmt) == "csv":  # the same reader as `produce csv`
        await csv_file.run_csv(
            sink,
            file=file,
            maps=maps,
            sets=sets,
            delimiter=delimiter,
            limit=limit,
            dry_run=dry_run,
            label=f"replay {file.name}",
        )
        return
    await replay_file(file, sink, raw=raw)


REPLAY_OPTIONS = [
    click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    option(
        "--format",
        "fmt",
        type=click.Choice(REPLAY_FORMATS),
        default="auto",
        show_default=True,
        help="jsonl or csv; auto: csv for .csv and .tsv files, jsonl for others.",
    ),
    option("--raw", is_flag=True, default=False, help="Send lines unchanged, unvalidated."),
    *csv_file.csv_options(prefix="CSV: "),
    csv_file.checked_first(check_replay),  # last: wraps the command's callback
]

generator = Plugin(
    "generator",
    "A realistic synthetic stream: brands, competitors, every kind, campaigns, crises.",
    run=run_generator,
    options=GENERATOR_OPTIONS,
)

replay = Plugin(
    "replay",
    "Replay a JSON-lines file (each line one event or an envelope) or a CSV file.",
    run=run_replay,
    options=REPLAY_OPTIONS,
)
