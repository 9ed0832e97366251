"""The producer plug-in interface: loading, listing, and what a Sink counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from socialpulse.streams import plugins
from socialpulse.streams.plugins import Plugin, PluginError, Sink


class Collect:
    """A producer stand-in that keeps what it is given (validation is the real one)."""

    def __init__(self) -> None:
        from socialpulse.streams.validation import validate_event

        self.validate = validate_event
        self.events: list[dict[str, Any]] = []
        self.flushed = 0

    async def send(self, event: dict[str, Any]) -> None:
        self.events.append(self.validate(dict(event)))

    async def flush(self) -> None:
        self.flushed += 1


async def two_good_one_bad(brand: str) -> AsyncIterator[dict[str, Any]]:
    yield {"id": "1", "ts": 1.7e9, "brand": brand, "kind": "like"}
    yield {"id": "2", "ts": 1.7e9, "brand": brand, "kind": "teleport"}
    yield {"id": "3", "ts": 1.7e9, "brand": brand, "kind": "share"}


def test_an_events_plug_in_is_validated_sent_and_its_refusals_counted() -> None:
    plugin = Plugin("t", "test", events=two_good_one_bad)
    producer = Collect()
    sink = asyncio.run(plugins.produce(plugin, producer, {"brand": "acme"}, None))  # type: ignore[arg-type]
    assert [e["id"] for e in producer.events] == ["1", "3"]
    assert sink.sent == 2 and sink.refused == {"unknown_kind": 1}
    assert sink.errors[0].startswith("event '2': unknown_kind")
    assert producer.flushed == 1


def test_a_plug_in_gives_exactly_one_of_events_or_run() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Plugin("t", "test")

    async def run(sink: Sink) -> None:
        return None

    with pytest.raises(ValueError, match="exactly one"):
        Plugin("t", "test", events=two_good_one_bad, run=run)


def test_built_ins_load_and_unknown_names_say_what_is_installed() -> None:
    assert plugins.load("generator").name == "generator"
    assert plugins.load("replay").name == "replay"
    with pytest.raises(
        PluginError, match=r"no producer plug-in named 'nosuch' \(installed: .*generator"
    ):
        plugins.load("nosuch")


def test_listing_names_every_plug_in_with_its_entry_point() -> None:
    rows = {name: (help_text, where) for name, help_text, where in plugins.listing()}
    assert rows["generator"][1] == "socialpulse.streams.builtin_plugins:generator"
    assert all(help_text for help_text, _ in rows.values())


def test_a_non_object_element_is_refused_not_a_crash() -> None:
    """A replayed line ``[1, "x"]``: the real SDK producer refuses each element."""
    from socialpulse.streams.producer import EventProducer

    sink = Sink(EventProducer("127.0.0.1:1"))  # never started: nothing is valid to send

    async def run() -> None:
        assert not await sink.send(1, "line 1")  # type: ignore[arg-type]
        assert not await sink.send("x", "line 1")  # type: ignore[arg-type]

    asyncio.run(run())
    assert sink.refused == {"not_object": 2} and sink.sent == 0
    assert sink.errors[0] == "line 1: not_object: an event must be a JSON object, not int"
