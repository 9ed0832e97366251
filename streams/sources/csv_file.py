"""``socialpulse produce csv FILE``: import a CSV file, mapping its columns to event fields.

    socialpulse produce csv posts.csv --map id=post_id --map ts=created \\
        --map author.followers=follower_count --map hashtags=tags --set brand=acme

Columns whose header already is a contract field (``id``, ``kind``, ``author.age``...)
are used without a ``--map``; ``--set FIELD=VALUE`` gives every event a constant. Cells
are converted per docs/events.md (numbers, ``ts`` as RFC 3339 or epoch seconds / ms,
``hashtags`` split on spaces and commas); an empty cell is an absent field. A row that
cannot become a valid event is refused with its line number; a bad mapping is a click
error before anything connects. ``socialpulse replay FILE.csv`` runs the same code.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import json
import math
import re
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO, TypeVar, cast

import click

from socialpulse.streams import contract
from socialpulse.streams.plugins import Plugin, Sink, option
from socialpulse.streams.validation import Invalid, validate_event

#: every event field a column can give, author fields dotted (docs/events.md)
FIELDS: tuple[str, ...] = tuple(
    name
    for field in contract.FIELDS
    for name in ([f"author.{a}" for a in contract.AUTHOR_FIELDS] if field == "author" else [field])
)
REQUIRED: tuple[str, ...] = ("id", "ts", "brand", "kind")
INTEGER_FIELDS = frozenset({"count", "author.followers", "author.age"})
NUMBER_FIELDS = frozenset({"value", "score", "sentiment"})
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
DRY_RUN_ROWS = 10
SNIFF_BYTES = 64 * 1024
SNIFF_LINES = 50
_HASHTAG_SPLIT = re.compile(r"[\s,;#]+")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

F = TypeVar("F", bound=Callable[..., Any])


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


# --- cells to contract types -------------------------------------------------------------


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise Invalid("bad_type", f"{name} {_show(text)} is not a whole number") from None
    if not math.isfinite(number) or not number.is_integer():
        raise Invalid("bad_type", f"{name} {_show(text)} is not a whole number")
    return int(number)


def _number(name: str, text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise Invalid("bad_type", f"{name} {_show(text)} is not a number") from None


def _timestamp(text: str) -> int | float | str:
    """Epoch seconds / ms when the cell is a number; otherwise RFC 3339 text, checked later."""
    try:
        return _number("ts", text)
    except Invalid:
        return text


def _hashtags(text: str) -> list[str] | None:
    tags = [t.strip("\"'[]") for t in _HASHTAG_SPLIT.split(text)]
    return [t for t in tags if t] or None


def convert(name: str, text: str) -> Any:
    """The value of event field ``name`` from a non-empty cell; None means absent."""
    if name in INTEGER_FIELDS:
        return _integer(name, text)
    if name in NUMBER_FIELDS:
        return _number(name, text)
    if name == "ts":
        return _timestamp(text)
    if name == "hashtags":
        return _hashtags(text)
    return text


def _put(event: dict[str, Any], name: str, value: Any) -> None:
    if name.startswith("author."):
        event.setdefault("author", {})[name.removeprefix("author.")] = value
    else:
        event[name] = value


# --- reading the file ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV record: its first line number, its cells, and the bytes read so far."""

    lineno: int
    cells: list[str]
    done: int
    problem: Invalid | None = None  # the record itself is broken (bad UTF-8, bad quoting)


class _Lines:
    """Decoded lines of a binary file for ``csv.reader``: counts bytes, notes bad UTF-8."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.done = 0
        self.lineno = 0
        self.bad: list[int] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self.fh.readline()
        if not raw:
            raise StopIteration
        self.done += len(raw)
        self.lineno += 1
        if self.lineno == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.bad.append(self.lineno)
            return raw.decode("utf-8", "replace")


def _records(path: Path, delimiter: str) -> Generator[Row, None, None]:
    """Every non-blank record of ``path``, the header included; never raises on bad input."""
    with path.open("rb") as fh:
        lines = _Lines(fh)
        reader = csv.reader(lines, delimiter=delimiter)
        end = 0
        while True:
            start = end + 1
            problem: Invalid | None = None
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                cells, problem = [], Invalid("bad_csv", str(exc))
            end = reader.line_num
            if lines.bad:
                where = ", ".join(str(n) for n in lines.bad)
                problem = Invalid("bad_text", f"not valid UTF-8 (line {where})")
                lines.bad.clear()
            if problem is None and not any(c.strip() for c in cells):
                continue  # blank line, or a row of empty cells
            yield Row(start, cells, lines.done, problem)


def _sniff(sample: str) -> str:
    """The candidate delimiter that splits the header into most columns, consistently."""
    lines = sample.splitlines(keepends=True)[:SNIFF_LINES]
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows) / len(rows)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _delimiter_option(text: str | None) -> str | None:
    if text is None or text == "auto":
        return None
    if text.lower() in ("tab", "\\t", "\t"):
        return "\t"
    if len(text) != 1 or text in '"\r\n':
        raise click.BadParameter(
            f"{text!r} is not a delimiter: give one character, or tab", param_hint="--delimiter"
        )
    return text


@dataclass
class CsvFile:
    """A CSV file's delimiter (given or sniffed) and header row."""

    path: Path
    delimiter: str
    header: list[str]
    header_line: int
    size: int

    @classmethod
    def open(cls, path: Path, delimiter: str | None = None) -> CsvFile:
        """Read the header; a file that cannot be read as CSV is a click error."""
        try:
            with path.open("rb") as fh:
                head = fh.read(SNIFF_BYTES)
            size = path.stat().st_size
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="FILE") from None
        if head.startswith(_UTF16_BOMS):
            raise click.BadParameter(
                f"{path.name} is UTF-16; save it as UTF-8 (with or without BOM)", param_hint="FILE"
            )
        if delimiter is None:
            sample = head.removeprefix(codecs.BOM_UTF8).decode("utf-8", "replace")
            if len(head) == SNIFF_BYTES and "\n" in sample:
                sample = sample[: sample.rindex("\n") + 1]  # whole lines only
            delimiter = _sniff(sample)
        with contextlib.closing(_records(path, delimiter)) as records:
            header_row = next(records, None)
        if header_row is None or header_row.problem is not None:
            why = (
                "is empty"
                if header_row is None
                else f"has a broken header row: {header_row.problem}"
            )
            raise click.BadParameter(f"{path.name} {why}", param_hint="FILE")
        header = [name.strip() for name in header_row.cells]
        return cls(path, delimiter, header, header_row.lineno, size)

    def rows(self, limit: int | None = None) -> Iterator[Row]:
        """The data rows (after the header), at most ``limit`` of them."""
        n = 0
        for row in _records(self.path, self.delimiter):
            if row.lineno <= self.header_line:
                continue
            if limit is not None and n >= limit:
                return
            n += 1
            yield row

    def delimiter_name(self) -> str:
        return "tab" if self.delimiter == "\t" else repr(self.delimiter)


# --- the mapping ---------------------------------------------------------------------------


def _split(spec: str, hint: str, form: str) -> tuple[str, str]:
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep or not name:
        raise click.BadParameter(f"{spec!r} is not {form}", param_hint=hint)
    if name not in FIELDS:
        raise click.BadParameter(
            f"{name!r} is not an event field; the fields are: {', '.join(FIELDS)}",
            param_hint=hint,
        )
    return name, rest


def _column(header: list[str], column: str, path: Path) -> int:
    exact = [i for i, name in enumerate(header) if name == column]
    if not exact:
        exact = [i for i, name in enumerate(header) if name.casefold() == column.casefold()]
    if len(exact) == 1:
        return exact[0]
    if exact:
        problem = f"{len(exact)} columns of {path.name} are named {column!r}"
    else:
        shown = ", ".join(repr(h) for h in header[:40]) + (" …" if len(header) > 40 else "")
        problem = f"no column {column!r} in the header of {path.name}; its columns: {shown}"
    raise click.BadParameter(problem, param_hint="--map")


@dataclass
class ColumnMapping:
    """Which column (index) gives each event field, and the constant fields."""

    columns: dict[str, int] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    width: int = 0
    order: list[str] = field(default_factory=list)  # the given fields, in docs/events.md order

    @classmethod
    def build(cls, source: CsvFile, maps: Sequence[str], sets: Sequence[str]) -> ColumnMapping:
        """The mapping of ``--map``/``--set`` over ``source``'s header; click errors if bad."""
        header = source.header
        mapping = cls(width=len(header))
        for spec in maps:
            name, column = _split(spec, "--map", "FIELD=COLUMN")
            if name in mapping.columns:
                raise click.BadParameter(f"{name} is mapped twice", param_hint="--map")
            mapping.columns[name] = _column(header, column.strip(), source.path)
        for spec in sets:
            name, text = _split(spec, "--set", "FIELD=VALUE")
            if name in mapping.columns:
                raise click.BadParameter(f"{name} is both mapped and set", param_hint="--set")
            if name in mapping.constants:
                raise click.BadParameter(f"{name} is set twice", param_hint="--set")
            mapping.constants[name] = mapping._constant(name, text.strip())
        for index, name in enumerate(header):  # columns named like a field need no --map
            if name in FIELDS and name not in mapping.columns and name not in mapping.constants:
                mapping.columns[name] = index
        missing = [f for f in REQUIRED if f not in mapping.columns and f not in mapping.constants]
        if missing:
            raise click.UsageError(
                f"no column gives the required field(s) {', '.join(missing)}: add "
                "--map FIELD=COLUMN or --set FIELD=VALUE for each "
                f"(the columns of {source.path.name}: {', '.join(header[:40])})"
            )
        given = mapping.columns.keys() | mapping.constants.keys()
        mapping.order = [name for name in FIELDS if name in given]
        return mapping

    @staticmethod
    def _constant(name: str, text: str) -> Any:
        try:
            value = convert(name, text) if text else None
        except Invalid as exc:
            raise click.BadParameter(f"{name}={text}: {exc.detail}", param_hint="--set") from None
        if value is None:
            raise click.BadParameter(f"{name}={text}: needs a value", param_hint="--set")
        # the constant alone must not break the contract (placeholders for the rest)
        probe: dict[str, Any] = {"id": "x", "ts": 0, "brand": "x", "kind": "like"}
        _put(probe, name, value)
        try:
            validate_event(probe)
        except Invalid as exc:
            if exc.reason != "missing_field":  # e.g. kind=survey needs a score per row
                raise click.BadParameter(
                    f"{name}={text}: {exc.detail}", param_hint="--set"
                ) from None
        return value

    def event(self, row: Row) -> dict[str, Any]:
        """The event of one row (not yet validated); raises Invalid for a broken row."""
        if row.problem is not None:
            raise row.problem
        cells = row.cells
        if len(cells) > self.width and any(c.strip() for c in cells[self.width :]):
            raise Invalid("bad_csv", f"{len(cells)} cells, the header has {self.width}")
        event: dict[str, Any] = {}
        for name in self.order:
            if name in self.constants:
                value = self.constants[name]
                _put(event, name, list(value) if isinstance(value, list) else value)
                continue
            index = self.columns[name]
            text = cells[index].strip() if index < len(cells) else ""
            value = convert(name, text) if text else None
            if value is not None:
                _put(event, name, value)
        return event

    def describe(self, header: list[str]) -> list[str]:
        """Lines saying where each field comes from, and which columns go unused."""
        out = [f"  {name} <- column {header[i]!r}" for name, i in self.columns.items()]
        out += [f"  {name} = {value!r}" for name, value in self.constants.items()]
        used = set(self.columns.values())
        unused = [h for i, h in enumerate(header) if i not in used]
        if unused:
            out.append(f"  unused columns: {', '.join(unused)}")
        return out


# --- running -------------------------------------------------------------------------------


def open_source(
    file: Path, maps: Sequence[str], sets: Sequence[str], delimiter: str | None
) -> tuple[CsvFile, ColumnMapping]:
    """The file and the mapping, checked; a bad one raises a click error."""
    source = CsvFile.open(file, _delimiter_option(delimiter))
    return source, ColumnMapping.build(source, maps, sets)


def print_dry_run(
    source: CsvFile,
    mapping: ColumnMapping,
    limit: int | None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print the events of the first rows as JSON lines (refusals on ``err``); refusals."""
    out = out or sys.stdout
    err = err or sys.stderr
    rows = limit or DRY_RUN_ROWS
    print(
        f"{source.path.name}: delimiter {source.delimiter_name()}, {len(source.header)} columns",
        file=err,
    )
    for line in mapping.describe(source.header):
        print(line, file=err)
    shown = refused = 0
    for row in source.rows(rows):
        try:
            event = validate_event(mapping.event(row))
        except Invalid as exc:
            refused += 1
            print(f"line {row.lineno}: {exc.reason}: {exc.detail}", file=err)
            continue
        shown += 1
        out.write(json.dumps(event, ensure_ascii=False) + "\n")
    out.flush()
    print(f"dry run: {shown} events, {refused} refused; nothing sent", file=err)
    return refused


async def send_rows(
    sink: Sink,
    source: CsvFile,
    mapping: ColumnMapping,
    *,
    limit: int | None = None,
    label: str | None = None,
) -> None:
    """Send every row's event through ``sink``; bad rows are refused with their line numbers."""
    sink.track_file(label or f"csv {source.path.name}", source.size)
    for row in source.rows(limit):
        where = f"line {row.lineno}"
        try:
            event = mapping.event(row)
        except Invalid as exc:
            sink.refuse(exc.reason, exc.detail, where)
        else:
            await sink.send(event, where)
        sink.read(row.done)
    await sink.flush()


def preflight(
    *,
    file: Path,
    maps: Sequence[str],
    sets: Sequence[str],
    delimiter: str | None,
    limit: int | None,
    dry_run: bool,
    **_: Any,
) -> bool:
    """Check file and mapping before anything connects; do the ``--dry-run``. True: done."""
    source, mapping = open_source(file, maps, sets, delimiter)
    if not dry_run:
        return False
    if print_dry_run(source, mapping, limit):
        sys.exit(1)
    return True


def checked_first(check: Callable[..., bool]) -> Callable[[F], F]:
    """A plug-in option that runs ``check(**options)`` before the command runs at all.

    It goes last in a plug-in's ``options``, so it wraps the command's callback: a bad
    mapping is a click error before the broker is contacted, and ``check`` returning True
    (a dry run done) ends the command there.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **options: Any) -> Any:
            if check(**options):
                return None
            return fn(*args, **options)

        return cast(F, wrapper)

    return decorate


async def run_csv(
    sink: Sink,
    *,
    file: Path,
    maps: Sequence[str] = (),
    sets: Sequence[str] = (),
    delimiter: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    label: str | None = None,
) -> None:
    """The plug-in's run: send the file's rows (or only print them with ``dry_run``)."""
    source, mapping = open_source(file, maps, sets, delimiter)
    if dry_run:
        print_dry_run(source, mapping, limit, err=sink.err)
        return
    await send_rows(sink, source, mapping, limit=limit, label=label)


def csv_options(prefix: str = "") -> list[Callable[[Any], Any]]:
    """The CSV options (for ``produce csv`` and ``replay``); ``prefix`` starts each help."""
    return [
        option(
            "--map",
            "maps",
            metavar="FIELD=COLUMN",
            multiple=True,
            help=prefix + "Take event FIELD from COLUMN (repeatable); author fields as "
            "author.followers. Columns named like a field need no --map.",
        ),
        option(
            "--set",
            "sets",
            metavar="FIELD=VALUE",
            multiple=True,
            help=prefix + "Give every event FIELD=VALUE (repeatable), e.g. --set brand=acme.",
        ),
        option(
            "--delimiter",
            default=None,
            metavar="CHAR",
            help=prefix + "Column delimiter, one character or tab (default: sniffed among "
            ", ; tab |).",
        ),
        option(
            "--limit",
            type=click.IntRange(min=1),
            default=None,
            metavar="ROWS",
            help=prefix + "Read only the first ROWS data rows.",
        ),
        option(
            "--dry-run",
            is_flag=True,
            default=False,
            help=prefix + f"Print the events of the first {DRY_RUN_ROWS} rows (or --limit) as "
            "JSON lines, and their refusals; send nothing.",
        ),
    ]


def csv_options_given(options: dict[str, Any]) -> list[str]:
    """The CSV options given on the command line (for commands where they do not apply)."""
    given = {
        "--map": options.get("maps"),
        "--set": options.get("sets"),
        "--delimiter": options.get("delimiter"),
        "--limit": options.get("limit"),
        "--dry-run": options.get("dry_run"),
    }
    return [name for name, value in given.items() if value]


HELP = """Import a CSV file, mapping its columns to event fields (--map FIELD=COLUMN, --set).

Columns named like an event field (id, ts, brand, kind, ..., author.followers) are used
as they are; --map FIELD=COLUMN takes a field from another column, --set FIELD=VALUE gives
every event a constant. Cells become numbers, times (RFC 3339, epoch seconds or ms) and
hashtag lists as docs/events.md says; an empty cell is an absent field. UTF-8, with or without
BOM. Exit status 1 if any row was refused; each is reported with its line number.

\b
Example:
  socialpulse produce csv posts.csv --map id=post_id --map ts=created \\
      --map kind=type --set brand=acme --set platform=x --dry-run
"""

plugin = Plugin(
    "csv",
    HELP,
    run=run_csv,
    options=[
        click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        *csv_options(),
        checked_first(preflight),
    ],
)
