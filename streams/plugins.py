"""Producer plug-ins: event sources that ``socialpulse produce NAME`` runs.

A plug-in is a ``Plugin`` object published under the entry-point group
``socialpulse.producers``. It gives either ``events``, an async generator of event dicts
(socialpulse validates, batches, sends, counts and reports), or ``run``, a coroutine that
drives a ``Sink`` itself (for sources that want raw sends or their own pacing). Its
``options`` are click options; their values are passed as keyword arguments.

    from socialpulse.streams.plugins import Plugin, option

    async def ticks(brand: str, every: float):
        n = 0
        while True:
            n += 1
            yield {"id": f"tick-{n}", "ts": time.time(), "brand": brand, "kind": "like"}
            await asyncio.sleep(every)

    plugin = Plugin("ticks", "A like every few seconds.", events=ticks,
                    options=[option("--brand", default="acme"), option("--every", type=float)])

and in the plug-in's ``pyproject.toml``:

    [project.entry-points."socialpulse.producers"]
    ticks = "my_package:plugin"
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, TextIO

import click

from socialpulse.streams.producer import EventProducer
from socialpulse.streams.progress import Progress
from socialpulse.streams.validation import Invalid

GROUP = "socialpulse.producers"
MAX_REPORTED = 20

option = click.option  # plug-ins declare their options with it, as for any click command


class PluginError(Exception):
    """A plug-in cannot be found, loaded or run; the message says why, for the user."""


@dataclass
class Sink:
    """Where a plug-in's events go: validated, batched by brand, sent; refusals counted."""

    producer: EventProducer
    err: TextIO | None = None
    label: str = "produce"
    sent: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    done: int = 0  # bytes of a file read, once ``track_file`` was called
    _progress: Progress | None = None

    def __post_init__(self) -> None:
        if self.err is not None:
            self._progress = Progress(self.label, stream=self.err)

    async def send(self, event: dict[str, Any], where: str = "") -> bool:
        """Send one event; an event that breaks the contract is counted and reported, not sent."""
        try:
            await self.producer.send(event)
        except Invalid as exc:
            self.refuse(exc.reason, exc.detail, where or f"event {event.get('id', '?')!r}")
            return False
        self.sent += 1
        self.tick()
        return True

    async def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        """Send one message value unchanged: the worker validates and dead-letters it."""
        await self.producer.send_raw(value, key)
        self.sent += 1
        self.tick()

    def refuse(self, reason: str, detail: str, where: str) -> None:
        """Count input the plug-in could not turn into an event (a bad frame, a bad row)."""
        self.refused[reason] += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(f"{where}: {reason}: {detail}")
        self.tick()

    def track_file(self, label: str, size: int) -> None:
        """Show progress as the bytes read of a file of ``size`` (see ``read``)."""
        if self.err is not None:
            self._progress = Progress(label, size, stream=self.err)

    def read(self, done: int) -> None:
        """``done`` bytes of the tracked file are read."""
        self.done = done
        self.tick()

    def tick(self) -> None:
        if self._progress is not None:
            self._progress.update(self.done, self.sent, self.refused_text())

    def refused_text(self) -> str:
        n = sum(self.refused.values())
        return f"{n:,} refused" if n else ""

    async def flush(self) -> None:
        await self.producer.flush()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.close(self.done, self.sent, self.refused_text())


EventsFn = Callable[..., AsyncIterator[dict[str, Any]]]
RunFn = Callable[..., Awaitable[None]]


@dataclass
class Plugin:
    """A producer plug-in: a name, a one-line help, click options, and events or run."""

    name: str
    help: str
    events: EventsFn | None = None
    run: RunFn | None = None
    options: list[Callable[[Any], Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if (self.events is None) == (self.run is None):
            raise ValueError(f"plug-in {self.name!r}: give exactly one of events= or run=")

    async def drive(self, sink: Sink, options: dict[str, Any]) -> None:
        """Run the plug-in into ``sink`` until its source ends."""
        if self.run is not None:
            await self.run(sink, **options)
        else:
            assert self.events is not None
            async for event in self.events(**options):
                await sink.send(event)
        await sink.flush()

    def command(self, callback: Callable[..., None]) -> click.Command:
        """A click command for this plug-in whose callback receives the option values."""
        return click.command(self.name, help=self.help)(with_options(self.options)(callback))


def with_options(options: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """One decorator applying ``options`` (click options) in their listed order."""

    def decorate(fn: Any) -> Any:
        for opt in reversed(options):
            fn = opt(fn)
        return fn

    return decorate


def discover() -> dict[str, Any]:
    """The installed plug-ins' entry points by name (not loaded yet)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(name: str) -> Plugin:
    """Load the plug-in ``name``; a missing or broken one raises ``PluginError``."""
    found = discover()
    ep = found.get(name)
    if ep is None:
        known = ", ".join(sorted(found)) or "none"
        raise PluginError(f"no producer plug-in named {name!r} (installed: {known})")
    try:
        plugin = ep.load()
    except Exception as exc:
        raise PluginError(f"plug-in {name!r} ({ep.value}) failed to load: {exc}") from exc
    if not isinstance(plugin, Plugin):
        raise PluginError(f"plug-in {name!r} ({ep.value}) is not a socialpulse Plugin")
    return plugin


def listing() -> list[tuple[str, str, str]]:
    """(name, help, where) of every installed plug-in; broken ones say so."""
    rows = []
    for name, ep in sorted(discover().items()):
        try:
            plugin = ep.load()
            help_text = plugin.help if isinstance(plugin, Plugin) else "(not a socialpulse Plugin)"
        except Exception as exc:
            help_text = f"(fails to load: {exc})"
        rows.append((name, help_text.strip().splitlines()[0] if help_text else "", ep.value))
    return rows


async def produce(
    plugin: Plugin, producer: EventProducer, options: dict[str, Any], err: TextIO | None
) -> Sink:
    """Run ``plugin`` through ``producer``; returns the sink with what was sent and refused."""
    sink = Sink(producer, err=err, label=f"produce {plugin.name}")
    try:
        await plugin.drive(sink, options)
    except asyncio.CancelledError:
        await sink.flush()
        raise
    finally:
        sink.close()
    return sink
