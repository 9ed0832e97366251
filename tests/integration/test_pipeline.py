"""End to end through the embedded broker: exact KPIs, dead letters, dedup, restart."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from confluent_kafka import Producer

from socialpulse.streams.producer import EventProducer, SyncEventProducer
from socialpulse.streams.validation import Invalid
from tests.integration.conftest import Samples, Stack, free_port, kpi, value

pytestmark = pytest.mark.integration


def librdkafka_send(stack: Stack, values: list[bytes]) -> None:
    """Send unkeyed messages with librdkafka, as an outside (non-Python-SDK) producer."""
    producer = Producer({"bootstrap.servers": stack.bootstrap, "linger.ms": 5})
    for v in values:
        producer.produce(stack.events_topic, v)
    assert producer.flush(30) == 0


def ev(i: int | str, kind: str, ts: float, brand: str = "acme", **fields: object) -> dict:
    return {"id": str(i), "ts": ts, "brand": brand, "kind": kind, "platform": "x", **fields}


def dumps(obj: object) -> bytes:
    return json.dumps(obj).encode()


def consume_all(stack: Stack, topic: str, expect: int, seconds: float = 30) -> list:
    async def run() -> list:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            enable_auto_commit=False,
        )
        await consumer.start()
        out: list = []
        try:
            deadline = time.monotonic() + seconds
            while len(out) < expect and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    out.extend(records)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def test_unkeyed_librdkafka_envelopes_duplicates_and_bad_input(stack: Stack) -> None:
    stack.start_worker()
    now = time.time()
    envelope = [ev(f"i{n}", "impression", now - 30, count=10) for n in range(5)]  # 50 impressions
    envelope.append({"id": "bad-kind", "ts": now, "brand": "acme", "kind": "teleport"})
    envelope.append("not an object")
    messages = [
        dumps(envelope),
        dumps(ev("l1", "like", now - 20)),
        dumps(ev("l1", "like", now - 20)),  # duplicate message
        dumps([ev("l2", "like", now - 10), ev("l2", "like", now - 10)]),  # duplicate in envelope
        dumps(ev("c1", "click", now - 5, count=2)),
        dumps(ev("m1", "mention", now - 5, text="love it", sentiment=0.6)),
        dumps(
            ev(
                "m2",
                "mention",
                now - 4,
                text="broken",
                sentiment=-0.4,
                author={"id": "u", "followers": 500},
            )
        ),
        dumps(ev("g1", "impression", now - 3, brand="globex", count=7)),
        b"{broken json",
        dumps({"id": "no-ts", "brand": "acme", "kind": "like"}),
        dumps(ev("s1", "like", now - 2, sentiment=3)),
    ]
    librdkafka_send(stack, messages)

    def ready(s: Samples) -> bool:
        # forwarded events take one more hop: wait until the last of each kind is in
        return (
            kpi(s, "socialpulse_impressions", "globex") == 7
            and kpi(s, "socialpulse_impressions", "acme", "5m") == 50
            and kpi(s, "socialpulse_engagements", "acme", "5m") == 4
            and kpi(s, "socialpulse_mentions", "acme", "5m") == 2
            and value(s, "socialpulse_events_rejected_total", reason="out_of_range") == 1
        )

    s = stack.wait_for(ready)
    for window in ("5m", "1h", "24h"):
        assert kpi(s, "socialpulse_impressions", "acme", window) == 50
        assert kpi(s, "socialpulse_engagements", "acme", window) == 4  # l1, l2, 2 clicks
        assert kpi(s, "socialpulse_mentions", "acme", window) == 2
    assert kpi(s, "socialpulse_engagement_rate_ratio", "acme") == pytest.approx(4 / 50)
    assert kpi(s, "socialpulse_click_through_ratio", "acme") == pytest.approx(2 / 50)
    assert kpi(s, "socialpulse_negative_exposure", "acme") == pytest.approx(200.0)
    assert kpi(s, "socialpulse_net_sentiment_ratio", "acme") == 0.0
    assert kpi(s, "socialpulse_impressions", "acme", platform="x") == 50
    assert kpi(s, "socialpulse_impressions", "globex") == 7
    # 5 events of count 10: 5 events, a volume of 50
    assert value(s, "socialpulse_events_total", brand="acme", platform="x", kind="impression") == 5
    assert (
        value(s, "socialpulse_event_volume_total", brand="acme", platform="x", kind="impression")
        == 50
    )
    assert value(s, "socialpulse_events_total", brand="acme", platform="x", kind="like") == 2
    assert value(s, "socialpulse_events_duplicate_total", brand="acme") == 2
    # counters carry no _created series: they would double the counters' series
    assert not [name for name, _labels in s if name.endswith("_created")]
    rejected = {
        reason: value(s, "socialpulse_events_rejected_total", reason=reason)
        for reason in (
            "unknown_kind",
            "not_object",
            "invalid_json",
            "missing_field",
            "out_of_range",
        )
    }
    assert rejected == dict.fromkeys(rejected, 1.0)

    dead = consume_all(stack, stack.dlq_topic, expect=5)
    reasons = sorted(dict(r.headers)["reason"].decode() for r in dead)
    assert reasons == [
        "invalid_json",
        "missing_field",
        "not_object",
        "out_of_range",
        "unknown_kind",
    ]
    by_reason = {dict(r.headers)["reason"].decode(): r for r in dead}
    assert by_reason["invalid_json"].value == b"{broken json"
    assert json.loads(by_reason["unknown_kind"].value)["kind"] == "teleport"
    assert by_reason["unknown_kind"].key == b"acme"
    assert b"teleport" in dict(by_reason["unknown_kind"].headers)["detail"]


def test_sdk_producer_keys_by_brand_so_nothing_is_forwarded(stack: Stack) -> None:
    stack.start_worker()
    now = time.time()

    async def send() -> None:
        async with EventProducer(stack.bootstrap, stack.events_topic, max_events=50) as p:
            for i in range(400):
                brand = ("acme", "globex", "initech", "hooli")[i % 4]
                await p.send(ev(f"sdk{i}", "impression", now - i % 50, brand=brand, count=2))
            assert p.messages_sent >= 8  # 100 events per brand in envelopes of 50

    asyncio.run(send())
    s = stack.wait_for(
        lambda s: all(
            kpi(s, "socialpulse_impressions", b) == 200
            for b in ("acme", "globex", "initech", "hooli")
        )
    )
    for brand in ("acme", "globex", "initech", "hooli"):
        assert kpi(s, "socialpulse_impressions", brand) == 200
    assert value(s, "socialpulse_events_forwarded_total") == 0


def committed(stack: Stack) -> int:
    """Messages of the events topic the worker's group committed, over all partitions.

    The worker commits a partition's position once the batches below it are written to
    its state log (``agents.events_reader``), so this is what a restart resumes from."""

    async def run() -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=stack.bootstrap,
            group_id=f"sp-{stack.tag}",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            await consumer.topics()  # metadata, for the partitions
            partitions = consumer.partitions_for_topic(stack.events_topic) or set()
            offsets = [
                await consumer.committed(TopicPartition(stack.events_topic, p)) for p in partitions
            ]
            return sum(o or 0 for o in offsets)
        finally:
            await consumer.stop()

    return asyncio.run(run())


def wait_committed(stack: Stack, messages: int, seconds: float = 60) -> None:
    """Wait until the worker's group committed ``messages`` messages (all it was sent)."""
    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline:
        done = committed(stack)
        if done >= messages:
            return
        time.sleep(0.5)
    pytest.fail(f"the worker committed {done} of {messages} messages in {seconds} s")


def test_late_events_are_dead_lettered(stack: Stack) -> None:
    stack.start_worker(SOCIALPULSE_ALLOWED_LATENESS="60")
    now = time.time()
    librdkafka_send(stack, [dumps(ev("new", "mention", now))])
    # the partitions still empty when it came hold the brand's watermark a moment (a
    # producer's first records may reach them later: docs/kpis.md); late is judged after
    stack.wait_for(
        lambda s: (
            kpi(s, "socialpulse_mentions", "acme") == 1
            and (value(s, "socialpulse_watermark_seconds", brand="acme") or 0) >= now - 1
        )
    )
    librdkafka_send(stack, [dumps([ev("ok", "mention", now - 50), ev("old", "mention", now - 70)])])
    s = stack.wait_for(lambda s: value(s, "socialpulse_events_rejected_total", reason="late") == 1)
    assert kpi(s, "socialpulse_mentions", "acme") == 2
    dead = consume_all(stack, stack.dlq_topic, expect=1)
    assert [json.loads(r.value)["id"] for r in dead] == ["old"]


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_restarted_worker_resumes_and_still_dedups(stack: Stack, how: signal.Signals) -> None:
    worker = stack.start_worker()
    now = time.time()
    first = [
        dumps(
            [
                ev(f"r{i}", "impression", now - 100 + i, count=3, author={"id": f"v{i % 7}"})
                for i in range(20)
            ]
        )
    ]
    first += [dumps(ev(f"k{i}", "like", now - 50 + i)) for i in range(10)]
    first += [
        dumps(ev("snap", "followers", now - 60, value=500)),
        dumps(ev("f1", "follow", now - 5)),
    ]
    librdkafka_send(stack, first)
    stack.wait_for(lambda s: kpi(s, "socialpulse_engagements", "acme") == 10)
    wait_committed(stack, len(first))  # state written and offsets committed: all of it
    worker.send_signal(how)
    worker.wait(30)

    stack.start_worker()
    s = stack.wait_for(lambda s: kpi(s, "socialpulse_impressions", "acme") == 60, seconds=60)
    assert kpi(s, "socialpulse_impressions", "acme") == 60
    assert kpi(s, "socialpulse_engagements", "acme") == 10
    assert kpi(s, "socialpulse_reach", "acme") == 7
    assert kpi(s, "socialpulse_followers", "acme") == 501
    # everything again (a producer retrying after the crash) plus one new event
    librdkafka_send(stack, [*first, dumps(ev("new", "like", now))])
    s = stack.wait_for(lambda s: kpi(s, "socialpulse_engagements", "acme") == 11)
    # every message read (the resent ones too), and only then the figures
    s = stack.wait_for(lambda s: value(s, "socialpulse_events_duplicate_total", brand="acme") == 32)
    wait_committed(stack, 2 * len(first) + 1)
    s = stack.scrape()
    assert kpi(s, "socialpulse_impressions", "acme") == 60
    assert kpi(s, "socialpulse_engagements", "acme") == 11
    assert kpi(s, "socialpulse_reach", "acme") == 7
    assert kpi(s, "socialpulse_followers", "acme") == 501
    assert value(s, "socialpulse_events_duplicate_total", brand="acme") == 32


def test_out_of_order_events_land_in_their_minute(stack: Stack) -> None:
    """Shuffled arrival over 9 minutes of event time, in singles and envelopes: each minute's
    events count in exactly the windows that minute belongs to."""
    stack.start_worker()
    base = (time.time() // 60) * 60
    # minute k back from the watermark's minute carries 2**k impressions, so every window's
    # sum says exactly which minutes it holds
    events = [ev(f"o{k}", "impression", base - 60 * k + 10, count=2**k) for k in range(9)]
    events.append(ev("wm", "like", base + 30))  # the watermark: minute 0
    events.append(ev("o3", "impression", base - 170, count=2**3))  # a duplicate id
    order = [5, 0, 8, 2, 9, 7, 1, 10, 4, 6, 3]
    messages = [dumps(events[i]) for i in order[:5]] + [dumps([events[i] for i in order[5:]])]
    librdkafka_send(stack, messages)
    # unkeyed: the watermark is the slowest partition's until the others fall quiet (the
    # worker's tick after SOCIALPULSE_SOURCE_IDLE); until then the windows hold more
    s = stack.wait_for(
        lambda s: (
            value(s, "socialpulse_watermark_seconds", brand="acme") == base + 30
            and kpi(s, "socialpulse_impressions", "acme", "1h") == 511
        ),
        seconds=90,
    )
    assert kpi(s, "socialpulse_impressions", "acme", "1h") == 511  # minutes 0..8: 2**9 − 1
    assert kpi(s, "socialpulse_impressions", "acme", "5m") == 31  # minutes 0..4
    assert kpi(s, "socialpulse_impressions", "acme", "24h") == 511
    assert value(s, "socialpulse_events_duplicate_total", brand="acme") == 1


def test_sync_producer_from_plain_code(stack: Stack) -> None:
    """The blocking SDK example of docs/events.md, for code without an event loop."""
    stack.start_worker()
    now = time.time()
    with SyncEventProducer(stack.bootstrap, stack.events_topic, max_events=10) as producer:
        producer.send(ev("s0", "like", now, brand="syncco"))
        producer.send_many(ev(f"s{i}", "click", now, brand="syncco") for i in range(1, 25))
        with pytest.raises(Invalid) as info:
            producer.send({"id": "bad", "ts": now, "brand": "syncco", "kind": "teleport"})
        assert info.value.reason == "unknown_kind"
    s = stack.wait_for(lambda s: kpi(s, "socialpulse_engagements", "syncco") == 25)
    assert kpi(s, "socialpulse_engagements", "syncco") == 25
    assert value(s, "socialpulse_events_forwarded_total") == 0


def test_two_workers_split_brands_and_forward_unkeyed_events(stack: Stack) -> None:
    """Each brand lives on exactly one worker; an unkeyed event that lands on the other
    worker's partition is forwarded, and every brand's figures stay exact."""
    stack.start_worker()
    second_port = free_port()
    stack.start_worker(SOCIALPULSE_WEB_PORT=str(second_port))
    ports = [stack.web_port, second_port]

    def assigned(port: int) -> bool:
        return any(name == "socialpulse_brands" for (name, _), _v in stack.scrape(port).items())

    assert all(assigned(p) for p in ports)

    def partitions(port: int) -> set[str]:
        samples = stack.scrape(port)
        return {
            dict(labels)["partition"]
            for (name, labels), _v in samples.items()
            if name == "socialpulse_consumer_lag"
        }

    # the rebalance the second worker started has settled: the four partitions split
    # between the two workers, each with some (a worker reports the lag of its own)
    deadline = time.monotonic() + 90
    split: list[set[str]] = []
    while time.monotonic() < deadline:
        split = [partitions(p) for p in ports]
        if all(split) and not split[0] & split[1] and len(split[0] | split[1]) == 4:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the partitions never split between the two workers: {split}")
    now = time.time()
    brands = [f"brand{i}" for i in range(12)]
    librdkafka_send(
        stack,
        [
            dumps(ev(f"{b}-{n}", "impression", now - n, brand=b, count=n + 1))
            for b in brands
            for n in range(5)
        ],
    )  # 1 + 2 + 3 + 4 + 5 = 15 impressions per brand, unkeyed

    def merged() -> dict[str, list[float]]:
        seen: dict[str, list[float]] = {}
        for port in ports:
            for b in brands:
                v = kpi(stack.scrape(port), "socialpulse_impressions", b)
                if v is not None:
                    seen.setdefault(b, []).append(v)
        return seen

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and merged() != {b: [15.0] for b in brands}:
        time.sleep(1)
    assert merged() == {b: [15.0] for b in brands}  # each brand on one worker, exact
    forwarded = sum(
        value(stack.scrape(p), "socialpulse_events_forwarded_total") or 0 for p in ports
    )
    assert forwarded > 0
