"""CSV import (`produce csv`, `replay FILE.csv`) with a fake producer: mapping, types, BOM,
delimiters, bad rows with their line numbers, bad mappings as click errors, dry runs."""

from __future__ import annotations

import io
import itertools
import json
import os
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from socialpulse.agents.processes import free_port
from socialpulse.streams import builtin_plugins, plugins
from socialpulse.streams.contract import KINDS
from socialpulse.streams.plugins import Sink
from socialpulse.streams.sources import csv_file
from socialpulse.streams.validation import validate_event

TS = 1_714_557_600  # 2024-05-01T10:00:00Z
MAPPING = [
    "--map",
    "id=post_id",
    "--map",
    "ts=created",
    "--map",
    "author.followers=follower_count",
    "--map",
    "hashtags=tags",
    "--set",
    "brand=acme",
    "--set",
    "platform=x",
]


class FakeProducer:
    """EventProducer's send / flush: validates as the real one does, and keeps the events."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.flushed = False

    async def send(self, event: dict[str, Any]) -> None:
        self.events.append(validate_event(dict(event)))

    async def flush(self) -> None:
        self.flushed = True


def write(tmp_path: Path, text: str, name: str = "posts.csv", *, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


async def send(path: Path, err: io.StringIO | None = None, **options: Any) -> Sink:
    # as `socialpulse produce csv` runs it: the sink draws the progress line and closes it
    return await plugins.produce(csv_file.plugin, FakeProducer(), {"file": path, **options}, err)  # type: ignore[arg-type]


def events(sink: Sink) -> list[dict[str, Any]]:
    return sink.producer.events  # type: ignore[attr-defined,no-any-return]


def options(*args: str) -> dict[str, Any]:
    """The plug-in's option values for command-line ``args`` (FILE comes from the test)."""
    maps = [v for k, v in itertools.pairwise(args) if k == "--map"]
    sets = [v for k, v in itertools.pairwise(args) if k == "--set"]
    return {"maps": tuple(maps), "sets": tuple(sets)}


# --- mapping and types ---------------------------------------------------------------------


async def test_columns_map_to_typed_fields_and_constants_apply(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "post_id,created,kind,follower_count,tags,text,count,value,sentiment,author.age,junk\n"
        f"p1,2024-05-01T10:00:00Z,mention,1200,#a #b,love it,,,0.5,34,x\n"
        f"p2,{TS * 1000},impression,,,,500,,,,y\n"
        f"p3,{TS}.5,conversion,,,,,19.90,,,\n",
    )
    sink = await send(path, **options(*MAPPING))
    assert sink.sent == 3 and not sink.refused
    p1, p2, p3 = events(sink)
    assert p1 == {
        "id": "p1",
        "ts": float(TS),
        "brand": "acme",
        "kind": "mention",
        "platform": "x",
        "count": 1,
        "author": {"followers": 1200, "age": 34},
        "text": "love it",
        "sentiment": 0.5,
        "hashtags": ["a", "b"],
    }
    assert p2 == {
        "id": "p2",
        "ts": float(TS),
        "brand": "acme",
        "kind": "impression",
        "platform": "x",
        "count": 500,
    }
    assert p3["ts"] == TS + 0.5 and p3["value"] == pytest.approx(19.9)
    assert "junk" not in p1 and sink.producer.flushed  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-05-01T10:00:00Z", TS),
        ("2024-05-01T12:00:00+02:00", TS),
        ("2024-05-01 10:00:00", TS),  # naive: UTC
        (str(TS), TS),
        (str(TS * 1000), TS),
        (f"{TS}.25", TS + 0.25),
    ],
)
async def test_ts_as_rfc3339_or_epoch_seconds_or_ms(
    tmp_path: Path, cell: str, expected: float
) -> None:
    path = write(tmp_path, f"id,ts,brand,kind\n1,{cell},acme,like\n")
    sink = await send(path)
    assert events(sink)[0]["ts"] == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("#launch #acme", ["launch", "acme"]),
        ('"launch, acme"', ["launch", "acme"]),
        ('"#launch,#acme"', ["launch", "acme"]),
        ("#launch#acme", ["launch", "acme"]),
        ('"[""launch"", ""acme""]"', ["launch", "acme"]),
        ("solo", ["solo"]),
        ("#", None),
    ],
)
async def test_hashtags_split_on_spaces_and_commas(
    tmp_path: Path, cell: str, expected: list[str] | None
) -> None:
    path = write(tmp_path, f"id,ts,brand,kind,hashtags\n1,{TS},acme,like,{cell}\n")
    event = events(await send(path))[0]
    assert event.get("hashtags") == expected


async def test_empty_cells_are_absent_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "id,ts,brand,kind,platform,sentiment,author.id,author.followers,text\n"
        f"1,{TS},acme,like, ,,,,\n"
        f"2,{TS},acme,like,x,,u1,,\n",
    )
    first, second = events(await send(path))
    assert first == {
        "id": "1",
        "ts": TS,
        "brand": "acme",
        "kind": "like",
        "platform": "unknown",
        "count": 1,
    }
    assert second["author"] == {"id": "u1"} and "sentiment" not in second


async def test_map_and_set_win_over_columns_named_like_fields(tmp_path: Path) -> None:
    path = write(tmp_path, f"id,ts,brand,kind,handle\n1,{TS},globex,like,u1\n")
    sink = await send(path, maps=("author.id=handle", "id=handle"), sets=("brand=acme",))
    assert events(sink)[0] | {"ts": 0} == {
        "id": "u1",
        "ts": 0,
        "brand": "acme",
        "kind": "like",
        "platform": "unknown",
        "count": 1,
        "author": {"id": "u1"},
    }


async def test_columns_match_case_insensitively_when_not_exact(tmp_path: Path) -> None:
    path = write(tmp_path, f"Post ID,Created,Brand,Kind\n1,{TS},acme,like\n")
    sink = await send(path, maps=("id=post id", "ts=created", "brand=BRAND", "kind=Kind"))
    assert sink.sent == 1


async def test_a_bom_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = write(tmp_path, f"id,ts,brand,kind\r\nä1,{TS},acme,like\r\n", bom=True)
    sink = await send(path)
    assert events(sink)[0]["id"] == "ä1" and sink.sent == 1


# --- delimiters ----------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
async def test_the_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    rows = [
        ["id", "ts", "brand", "kind", "text"],
        ["1", str(TS), "acme", "mention", '"a, b; c | d\te"'],
        ["2", str(TS), "acme", "like", ""],
    ]
    path = write(tmp_path, "".join(delimiter.join(r) + "\n" for r in rows))
    assert csv_file.CsvFile.open(path).delimiter == delimiter
    sink = await send(path)
    assert [e["id"] for e in events(sink)] == ["1", "2"]
    assert events(sink)[0]["text"] == "a, b; c | d\te"


async def test_sniffing_prefers_the_consistent_delimiter(tmp_path: Path) -> None:
    # decimal commas in a ;-separated file must not make the comma look like the delimiter
    path = write(tmp_path, f"id;ts;brand;kind;text\n1;{TS};acme;like;1,5\n2;{TS};acme;like;2,5\n")
    assert csv_file.CsvFile.open(path).delimiter == ";"


@pytest.mark.parametrize(("given", "delimiter"), [("tab", "\t"), ("\\t", "\t"), (";", ";")])
async def test_a_given_delimiter_is_used(tmp_path: Path, given: str, delimiter: str) -> None:
    path = write(tmp_path, f"id{delimiter}ts{delimiter}brand{delimiter}kind\n1{delimiter}")
    path.write_text(path.read_text() + f"{TS}{delimiter}acme{delimiter}like\n")
    sink = await send(path, delimiter=given)
    assert sink.sent == 1


# --- bad rows ------------------------------------------------------------------------------


async def test_bad_rows_are_refused_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_bytes(
        b"id,ts,brand,kind,count,text\n"  # line 1
        + f"1,{TS},acme,like,,\n".encode()  # 2
        + b"2,yesterday,acme,like,,\n"  # 3: bad ts
        + b"\n"  # 4: blank
        + f"3,{TS},acme,teleport,,\n".encode()  # 5: unknown kind
        + f'4,{TS},acme,mention,,"two\nlines"\n'.encode()  # 6-7: fine
        + f"5,{TS},acme,like,many,\n".encode()  # 8: not a number
        + f"6,{TS},acme,like,,,surplus\n".encode()  # 9: a cell too many
        + f"7,{TS},acme,like,,caf\xe9\n".encode("latin-1")  # 10: not UTF-8
        + f"8,{TS},,like,,\n".encode()  # 11: no brand
        + f"9,{TS},acme,impression,0,\n".encode()  # 12: count below 1
        + f"10,{TS},acme,like,,,\n".encode()  # 13: a trailing empty cell is fine
        + f"11,{TS},acme,like".encode()  # 14: no final newline, fine
    )
    err = io.StringIO()
    sink = await send(path, err=err)
    assert [e["id"] for e in events(sink)] == ["1", "4", "10", "11"]
    assert events(sink)[1]["text"] == "two\nlines"
    assert sink.errors == [
        "line 3: bad_ts: ts 'yesterday' is not RFC 3339",
        "line 5: unknown_kind: kind 'teleport' is not one of the kinds of docs/events.md: "
        + ", ".join(sorted(KINDS)),
        "line 8: bad_type: count 'many' is not a whole number",
        "line 9: bad_csv: 7 cells, the header has 6",
        "line 10: bad_text: not valid UTF-8 (line 10)",
        "line 11: missing_field: brand is required",
        "line 12: negative_value: count must be at least 1",
    ]
    assert sum(sink.refused.values()) == 7 and sink.refused["bad_ts"] == 1
    assert "csv posts.csv [" in err.getvalue() and "7 refused" in err.getvalue()


async def test_a_broken_quote_is_one_refused_row_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path, f'id,ts,brand,kind,text\n1,{TS},acme,like,"never closed\n')
    sink = await send(path)
    assert sink.sent == 1  # the rest of the file became the text: still one valid event
    path = write(tmp_path, f'id,ts,brand,kind\n1,{TS},acme,like\n2,{TS},"ac"me,like\n')
    sink = await send(path, delimiter=",")
    assert sink.sent == 2  # csv's lenient quoting: 'acme'
    huge = "y" * 200_000  # over csv's field size limit
    path = write(tmp_path, f"id,ts,brand,kind,text\n1,{TS},a,like,{huge}\n2,{TS},a,like,ok\n")
    sink = await send(path)
    assert sink.sent == 1 and sink.errors == [
        "line 2: bad_csv: field larger than field limit (131072)"
    ]


async def test_limit_reads_only_the_first_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "id,ts,brand,kind\n" + "".join(f"{i},{TS},a,like\n" for i in range(9)))
    sink = await send(path, limit=4)
    assert [e["id"] for e in events(sink)] == ["0", "1", "2", "3"]


async def test_replay_of_a_csv_file_uses_the_same_reader(tmp_path: Path) -> None:
    path = write(
        tmp_path, f"post_id,created,brand,kind\n1,{TS},acme,like\n2,x,acme,like\n", "a.txt"
    )
    err = io.StringIO()
    sink = Sink(FakeProducer(), err=err)  # type: ignore[arg-type]
    await builtin_plugins.replay.drive(
        sink,
        {"file": path, "raw": False, "fmt": "csv", "maps": ("id=post_id", "ts=created")},
    )
    assert [e["id"] for e in events(sink)] == ["1"]
    assert sink.errors == ["line 3: bad_ts: ts 'x' is not RFC 3339"]
    assert "replay a.txt [" in err.getvalue()


# --- the commands: clean errors before connecting, dry runs -------------------------------


@pytest.fixture()
def commands(monkeypatch: pytest.MonkeyPatch) -> dict[str, click.Command]:
    """socialpulse's commands with a broker address nothing listens on."""
    from socialpulse.cli.main import build_commands

    for name in list(os.environ):
        if name.upper().startswith("SOCIALPULSE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SOCIALPULSE_BROKER", f"kafka://127.0.0.1:{free_port()}")
    return {c.name: c for c in build_commands() if c.name}


def invoke(commands: dict[str, click.Command], *args: str) -> Result:
    return CliRunner().invoke(commands[args[0]], list(args[1:]))


@pytest.fixture()
def posts(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        "post_id;created;kind;follower_count;tags;text\n"
        "1;2024-05-01T10:00:00Z;mention;1200;#a #b;love it\n"
        f"2;{TS * 1000};like;;;\n"
        f"3;{TS};like;lots;;\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "idd=post_id"], "'idd' is not an event field"),
        (["--map", "author=follower_count"], "'author' is not an event field"),
        (["--map", "text=body"], "no column 'body' in the header of posts.csv"),
        (["--map", "text"], "'text' is not FIELD=COLUMN"),
        (["--map", "text=text", "--map", "text=tags"], "text is mapped twice"),
        (["--set", "text=hi", "--set", "text=ho"], "text is set twice"),
        (["--map", "platform=tags", "--set", "platform=x"], "platform is both mapped and set"),
        (["--set", "kind=teleport"], "kind 'teleport' is not one of the kinds of docs/events.md"),
        (["--set", "count=0"], "count must be at least 1"),
        (["--set", "count=two"], "count 'two' is not a whole number"),
        (["--set", "sentiment=3"], "sentiment must lie in [-1, 1]"),
        (["--set", "campaign="], "campaign=: needs a value"),
        (["--delimiter", "::"], "'::' is not a delimiter"),
    ],
)
@pytest.mark.parametrize("command", ["produce", "replay"])
def test_a_bad_mapping_is_a_click_error_before_connecting(
    commands: dict[str, click.Command], posts: Path, command: str, args: list[str], message: str
) -> None:
    head = ["produce", "csv"] if command == "produce" else ["replay"]
    base = ["--map", "id=post_id", "--map", "ts=created", "--set", "brand=acme"]
    result = invoke(commands, *head, str(posts), *base, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "cannot reach the broker" not in result.output


def test_missing_required_fields_are_named(commands: dict[str, click.Command], posts: Path) -> None:
    result = invoke(commands, "produce", "csv", str(posts), "--map", "id=post_id")
    assert result.exit_code == 2
    assert "no column gives the required field(s) ts, brand" in result.output
    assert "post_id, created, kind" in result.output  # the header, to pick from


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "posts.csv is empty"), (b"\xff\xfei\x00d\x00\n\x00", "posts.csv is UTF-16")],
)
def test_an_unreadable_file_is_a_click_error(
    commands: dict[str, click.Command], tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "posts.csv"
    path.write_bytes(content)
    result = invoke(commands, "produce", "csv", str(path))
    assert result.exit_code == 2 and message in result.output


def test_a_good_mapping_goes_on_to_the_broker(
    commands: dict[str, click.Command], posts: Path
) -> None:
    result = invoke(commands, "produce", "csv", str(posts), *MAPPING)
    assert result.exit_code == 1 and "cannot reach the broker" in result.output


def test_dry_run_prints_events_and_refusals_without_a_broker(
    commands: dict[str, click.Command], posts: Path
) -> None:
    result = invoke(commands, "produce", "csv", str(posts), *MAPPING, "--dry-run")
    assert result.exit_code == 1  # a row was refused
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [
        {
            "id": "1",
            "ts": float(TS),
            "brand": "acme",
            "kind": "mention",
            "platform": "x",
            "author": {"followers": 1200},
            "text": "love it",
            "hashtags": ["a", "b"],
            "count": 1,
        },
        {"id": "2", "ts": float(TS), "brand": "acme", "kind": "like", "platform": "x", "count": 1},
    ]
    err = result.stderr
    assert "posts.csv: delimiter ';', 6 columns" in err
    assert "  author.followers <- column 'follower_count'" in err
    assert "  brand = 'acme'" in err
    assert "line 4: bad_type: author.followers 'lots' is not a whole number" in err
    assert "dry run: 2 events, 1 refused; nothing sent" in err
    assert "cannot reach the broker" not in result.output

    result = invoke(commands, "replay", str(posts), *MAPPING, "--dry-run", "--limit", "1")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 1


def test_replay_keeps_csv_options_for_csv_files(
    commands: dict[str, click.Command], posts: Path, tmp_path: Path
) -> None:
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("{}\n")
    result = invoke(commands, "replay", str(jsonl), "--map", "id=post_id")
    assert result.exit_code == 2 and "--map: for CSV files only" in result.output
    result = invoke(commands, "replay", str(posts), "--raw")
    assert result.exit_code == 2 and "not for CSV files" in result.output
    txt = posts.rename(tmp_path / "posts.txt")
    result = invoke(commands, "replay", str(txt), "--format", "csv", *MAPPING, "--dry-run")
    assert "dry run: 2 events, 1 refused" in result.stderr
