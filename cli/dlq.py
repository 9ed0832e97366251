"""``socialpulse dlq``: read the dead letters, and send fixed ones back.

The worker writes every rejected message (or envelope element) to the dead-letter topic
with headers: ``reason``, ``detail``, and where it came from (``source_topic``,
``source_partition``, ``source_offset``). This module reads them back.

Two things about the embedded broker (Tansu) shape the reader, and hold for Kafka too:
it ``assign()``s every partition itself (no consumer group: a group subscribe can time
out against Tansu, and a reader of dead letters should not commit offsets anyway), and it
does not trust the end offset the broker reports (Tansu misreports the high watermark
after multi-record batches): it reads until a fetch comes back empty after ``idle``
seconds, or forever with ``follow``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from socialpulse.streams.connection import client_options
from socialpulse.streams.settings import KafkaSettings

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class DlqError(RuntimeError):
    """The dead letters cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of the dead-letter topic."""

    time: str  # when it was dead-lettered (ISO 8601, UTC)
    reason: str
    detail: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    brand: str | None  # the record key, when the worker knew the brand
    value: str  # the original value (UTF-8, undecodable bytes replaced)
    partition: int  # where it lies in the dead-letter topic
    offset: int

    def as_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    def text(self, width: int = 400) -> str:
        source = (
            f"{self.source_topic}[{self.source_partition}]@{self.source_offset}"
            if self.source_topic is not None
            else "(no source)"
        )
        value = self.value if len(self.value) <= width else self.value[:width] + " …"
        brand = f"  brand {self.brand}" if self.brand else ""
        return (
            f"{self.time}  {self.reason:<14} from {source}{brand}\n"
            f"  detail: {self.detail}\n"
            f"  value:  {value}"
        )


def parse_since(text: str, now: float | None = None) -> float:
    """``10m``, ``2h``, ``30s``, ``1d`` (ago) or an ISO 8601 time: a Unix time."""
    now = dt.datetime.now(dt.UTC).timestamp() if now is None else now
    m = _DURATION.match(text)
    if m:
        return now - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30s, 10m, 2h, 1d) nor an ISO 8601 time"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def decode(record: Any) -> DeadLetter:
    """A ``DeadLetter`` from an aiokafka ``ConsumerRecord`` of the dead-letter topic."""
    headers = {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}
    stamp = dt.datetime.fromtimestamp(record.timestamp / 1000, dt.UTC)
    return DeadLetter(
        time=stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        reason=headers.get("reason", "?"),
        detail=headers.get("detail", ""),
        source_topic=headers.get("source_topic"),
        source_partition=_int(headers.get("source_partition")),
        source_offset=_int(headers.get("source_offset")),
        brand=record.key.decode("utf-8", "replace") if record.key else None,
        value=(record.value or b"").decode("utf-8", "replace"),
        partition=record.partition,
        offset=record.offset,
    )


async def read_dead_letters(
    settings: KafkaSettings,
    *,
    reasons: Iterable[str] = (),
    since: float | None = None,
    follow: bool = False,
    idle: float = 2.0,
) -> AsyncIterator[DeadLetter]:
    """The dead letters, oldest first per partition, filtered by reason and time."""
    wanted = set(reasons)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=max(settings.max_message_bytes * 2, 4_194_304),
        fetch_max_bytes=max(settings.max_message_bytes * 4, 52_428_800),
        **client_options(settings),
    )
    try:
        await consumer.start()
    except Exception as exc:
        await consumer.stop()
        raise DlqError(
            f"cannot reach the broker at {settings.bootstrap} ({type(exc).__name__}: {exc}); "
            "is it running, or SOCIALPULSE_BROKER right?"
        ) from None
    try:
        topic = settings.dlq_topic
        if topic not in await consumer.topics():
            return  # no dead letter yet: the worker declares the topic on its first start
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        if since is None:
            await consumer.seek_to_beginning(*partitions)
        else:
            found = await consumer.offsets_for_times({tp: int(since * 1000) for tp in partitions})
            for tp in partitions:
                at = found.get(tp)
                if at is None:
                    await consumer.seek_to_end(tp)
                else:
                    consumer.seek(tp, at.offset)
        while True:
            # never trust the reported end offset (Tansu's is wrong after multi-record
            # batches): the topic is read through when a fetch stays empty for `idle` s
            batch = await consumer.getmany(timeout_ms=int(idle * 1000), max_records=500)
            if not batch:
                if follow:
                    continue
                return
            for tp in sorted(batch, key=lambda tp: tp.partition):
                for record in batch[tp]:
                    if since is not None and record.timestamp < since * 1000:
                        continue
                    letter = decode(record)
                    if wanted and letter.reason not in wanted:
                        continue
                    yield letter
    finally:
        await consumer.stop()


def replayable(value: str) -> list[Any]:
    """The events in a dead letter's (fixed) value: one object, or the objects of an
    envelope. Raises ValueError when the value is not JSON."""
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"invalid_json: {exc}") from None
    return data if isinstance(data, list) else [data]


def values_from_lines(lines: Iterable[str]) -> Iterable[tuple[int, str]]:
    """(line number, value) from JSON lines: each line a record of ``socialpulse dlq
    --json`` (its ``value`` is sent) or an event / envelope itself."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield n, line  # refused by the validation, with its line number
            continue
        if isinstance(data, dict) and "reason" in data and isinstance(data.get("value"), str):
            yield n, data["value"]
        else:
            yield n, line
