"""Hostile input through the real broker to a real worker: nothing crashes, nothing is lost.

A few hundred messages made by a seeded generator (random bytes, deep nesting, strings at
and over SOCIALPULSE_MAX_MESSAGE_BYTES, lone surrogates, NUL, odd number literals, wrong
types, envelopes mixing good and bad events) go to the events topic. The expected outcome
of each comes from the pure ``decode_message``; the worker must match it exactly: the
rejection counter by reason, one dead letter per bad element with its reason and bytes,
and the good events' KPIs.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Producer

from socialpulse.streams.contract import ENGAGEMENT_KINDS, REASONS
from socialpulse.streams.validation import MAX_NESTING, decode_message
from tests.integration.conftest import Samples, Stack, kpi, value

pytestmark = pytest.mark.integration

SEED = 20_240_611
LIMIT = 64 * 1024  # SOCIALPULSE_MAX_MESSAGE_BYTES of the worker under test
MAX_EVENTS = 50  # SOCIALPULSE_MAX_ENVELOPE_EVENTS
BRAND = "fuzzco"
KINDS = sorted(ENGAGEMENT_KINDS)
BIG = "9" * 5_000  # an integer literal past Python's 4,300-digit limit


class Hostile:
    """A seeded generator of hostile message values around a few good events."""

    def __init__(self, seed: int, now: float) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.serial = 0

    def good(self) -> dict[str, object]:
        rng = self.rng
        self.serial += 1
        ev: dict[str, object] = {
            "id": f"g{self.serial}",
            "ts": round(self.now - rng.uniform(1, 240), 3),
            "brand": BRAND,
            "kind": rng.choice(KINDS),
            "platform": rng.choice(["x", "tiktok"]),
            "count": rng.randint(1, 5),
        }
        if rng.random() < 0.05:  # valid, but an hour ahead: the worker's "future"
            ev["ts"] = round(self.now + 3_600, 3)
        extra = rng.randrange(6)
        if extra == 0:
            ev["note"] = "nul \x00 inside, and 😀"  # NUL is fine in an extra field
        elif extra == 1:
            ev["nested"] = nest(MAX_NESTING, 1)  # exactly as deep as allowed
        elif extra == 2:
            ev["author"] = {"id": "u1", "followers": rng.randint(0, 10**6), "bio": "ok"}
        elif extra == 3:
            ev["hashtags"] = ["ok", "fine"]
        return ev

    def good_text(self) -> str:
        return orjson.dumps(self.good()).decode()

    def bad_text(self) -> str:
        """One bad envelope element as JSON text (some with literals no encoder writes)."""
        rng = self.rng
        base = self.good()
        base["id"] = f"b{self.serial}"
        body = orjson.dumps(base).decode()[:-1]
        choice = rng.randrange(25)
        options: list[Callable[[], str]] = [
            lambda: body + ',"text":"bad \\ud800 text"}',
            lambda: body + ',"text":"nul \\u0000"}',
            lambda: body + ',"extra":"\\udfff"}',
            lambda: body + ',"\\ud800":1}',
            lambda: body + ',"author":{"id":"u","x":{"y":"\\ud800"}}}',
            lambda: body + ',"sentiment":NaN}',
            lambda: body + ',"sentiment":1e309}',
            lambda: body + ',"sentiment":1.5}',
            lambda: body + f',"value":{BIG}}}',
            lambda: body + ',"value":true}',
            lambda: body.replace(f'"count":{base["count"]}', '"count":18446744073709551616') + "}",
            lambda: body.replace(f'"count":{base["count"]}', '"count":-0') + "}",
            lambda: body.replace(f'"count":{base["count"]}', '"count":true') + "}",
            lambda: body + ',"author":{"followers":"10"}}',
            lambda: body + ',"author":{"followers":true}}',
            lambda: body + ',"author":[1]}',
            lambda: body + ',"extra":' + "[" * 300 + "]" * 300 + "}",
            lambda: body + ',"extra":' + json.dumps(nest(MAX_NESTING + 1, 1)) + "}",
            lambda: body + ',"text":"' + "t" * rng.randint(10_001, 20_000) + '"}',
            lambda: body.replace(f'"kind":"{base["kind"]}"', '"kind":"teleport"') + "}",
            lambda: body.replace(f'"brand":"{BRAND}"', '"brand":""') + "}",
            lambda: body.replace(f'"ts":{base["ts"]}', '"ts":"yesterday"') + "}",
            lambda: rng.choice(["1", '"x"', "null", "true", "[]", "-0", "1e999"]),
            lambda: "[" * 500 + "]" * 500,
            lambda: '{"a":' * 200 + "1" + "}" * 200,
        ]
        return options[choice]()

    def message(self) -> bytes:
        rng = self.rng
        shape = rng.randrange(12)
        if shape == 0:
            return rng.randbytes(rng.randint(0, 3_000))
        if shape == 1:
            depth = rng.choice([10, 300, 1_100, 5_000, 20_000, 40_000])  # 40k: over the limit
            return b"[" * depth + b"]" * depth
        if shape == 2:
            depth = rng.choice([100, 2_000, 12_000])
            return b'{"a":' * depth + b"1" + b"}" * depth
        if shape == 3:  # a good event padded to a few bytes under or over the limit
            body = self.good_text()[:-1] + ',"pad":"'
            size = LIMIT + rng.randint(-40, 40) - len(body) - 2
            return (body + "p" * size + '"}').encode()
        if shape == 4:  # an envelope of at most and just over MAX_EVENTS elements
            n = rng.choice([MAX_EVENTS, MAX_EVENTS + 1])
            return ("[" + ",".join(self.good_text() for _ in range(n)) + "]").encode()
        if shape == 5:
            return rng.choice([b"", b"[]", b" [ ] ", b"{}", b"\x00", b'"\\ud800"', b"\xed\xa0\x80"])
        if shape in (6, 7, 8):  # mixed envelopes
            items = [
                self.good_text() if rng.random() < 0.5 else self.bad_text()
                for _ in range(rng.randint(1, 20))
            ]
            return ("[" + ",".join(items) + "]").encode()
        if shape == 9:
            return self.bad_text().encode()
        return self.good_text().encode()


def nest(depth: int, leaf: object) -> object:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def send(stack: Stack, values: list[bytes]) -> None:
    producer = Producer(
        {"bootstrap.servers": stack.bootstrap, "linger.ms": 5, "message.max.bytes": 8_000_000}
    )
    for v in values:
        producer.produce(stack.events_topic, v)
    assert producer.flush(30) == 0


def dead_letters(stack: Stack, expect: int, seconds: float = 30) -> list:
    """Every message of the DLQ topic: waits for ``expect``, then 2 s more for extras."""

    async def run() -> list:
        consumer = AIOKafkaConsumer(
            stack.dlq_topic,
            bootstrap_servers=stack.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            enable_auto_commit=False,
            fetch_max_bytes=16_000_000,
            max_partition_fetch_bytes=16_000_000,
        )
        await consumer.start()
        out: list = []
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=250)
                for records in batch.values():
                    out.extend(records)
                if len(out) >= expect:
                    deadline = min(deadline, time.monotonic() + 2)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def test_hostile_messages_through_a_real_worker(stack: Stack) -> None:
    now = time.time()
    gen = Hostile(SEED, now)
    messages = [gen.message() for _ in range(300)]
    messages.append(b"x" * 3_000_000)  # far over the limit, under the broker's
    messages.append(("[" + gen.good_text() + "," + gen.bad_text() + "]").encode())

    reasons: Counter[str] = Counter()
    letters: Counter[tuple[str, bytes]] = Counter()
    engagements = 0
    for raw in messages:
        events, rejections = decode_message(raw, max_bytes=LIMIT, max_events=MAX_EVENTS)
        for rejection in rejections:
            reasons[rejection.reason] += 1
            letters[(rejection.reason, rejection.raw)] += 1
        for ev in events:
            assert ev["brand"] == BRAND and str(ev["id"]).startswith("g"), ev["id"]
            if ev["ts"] > now + 300:  # the worker dead-letters it re-encoded, as "future"
                reasons["future"] += 1
                letters[("future", orjson.dumps(ev))] += 1
                continue
            assert now - 300 < ev["ts"] <= now  # not late either
            engagements += ev["count"]
    # the generator reaches every reason but late (it depends on the order of arrival)
    assert set(reasons) == set(REASONS) - {"late"}, reasons
    assert engagements > 0

    worker = stack.start_worker(
        SOCIALPULSE_MAX_MESSAGE_BYTES=str(LIMIT),
        SOCIALPULSE_MAX_ENVELOPE_EVENTS=str(MAX_EVENTS),
        SOCIALPULSE_ENRICH="false",
        SOCIALPULSE_ALERT_CONSOLE="false",
    )
    send(stack, messages)

    def done(s: Samples) -> bool:
        rejected = sum(
            value(s, "socialpulse_events_rejected_total", reason=r) or 0 for r in REASONS
        )
        return (
            rejected >= sum(reasons.values())
            and kpi(s, "socialpulse_engagements", BRAND) == engagements
        )

    s = stack.wait_for(done, seconds=40)
    assert worker.poll() is None, stack.log_tail()
    log = (stack.workdir / "worker-0.log").read_bytes()
    assert b"Crashed reason" not in log and b"Traceback" not in log, stack.log_tail()
    counted = {
        r: value(s, "socialpulse_events_rejected_total", reason=r) or 0
        for r in REASONS
        if value(s, "socialpulse_events_rejected_total", reason=r)
    }
    assert counted == dict(reasons), stack.log_tail()
    for window in ("5m", "1h", "24h"):
        assert kpi(s, "socialpulse_engagements", BRAND, window) == engagements
    # every message is read once; events forwarded to their brand's owner partition come
    # back as messages of their own
    assert value(s, "socialpulse_messages_total") >= len(messages)
    dead = {
        r: value(s, "socialpulse_dead_letters_total", reason=r)
        for r in reasons
        if value(s, "socialpulse_dead_letters_total", reason=r)
    }
    assert dead == dict(reasons), stack.log_tail()

    records = dead_letters(stack, expect=sum(reasons.values()))
    got = Counter((dict(r.headers)["reason"].decode(), r.value) for r in records)
    assert Counter(dict(r.headers)["reason"].decode() for r in records) == reasons
    assert got == letters
    assert worker.poll() is None
