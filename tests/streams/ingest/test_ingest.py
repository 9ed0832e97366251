"""The HTTP ingest server with a fake producer: statuses, limits, auth, bad input, metrics;
and DeliveryProducer's per-request delivery futures with a fake Kafka client."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from socialpulse.streams.ingest.delivery import DeliveryProducer
from socialpulse.streams.ingest.server import (
    CONTEXT,
    IngestConfig,
    IngestError,
    make_app,
    parse_tokens,
)
from socialpulse.streams.producer import BrokerUnavailable
from socialpulse.streams.settings import IngestSettings

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def ev(i: int | str = 1, kind: str = "like", brand: str = "acme", **fields: Any) -> dict:
    return {"id": str(i), "ts": 1_700_000_000, "brand": brand, "kind": kind, **fields}


class FakeProducer:
    """Records what the server hands over; can be down, failing, or never acknowledge."""

    def __init__(self) -> None:
        self.connected = True
        self.sent: list[tuple[str, dict]] = []
        self.mode = "ok"  # or "fail" / "hang"

    async def enqueue(self, brand: str, data: bytes) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append((brand, orjson.loads(data)))
        if self.mode == "ok":
            fut.set_result(None)
        elif self.mode == "fail":
            fut.set_exception(BrokerUnavailable("KafkaTimeoutError"))
        return fut


@pytest.fixture()
def producer() -> FakeProducer:
    return FakeProducer()


def config(**overrides: Any) -> IngestConfig:
    options: dict[str, Any] = {
        "tokens": parse_tokens(f"{TOKEN}, second-token"),
        "max_bytes": 10_000,
        "max_events": 50,
        "max_event_bytes": 4_000,
        "ack_timeout": 0.3,
    }
    options.update(overrides)
    return IngestConfig(**options)


@pytest.fixture()
async def client(producer: FakeProducer) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_app(producer, config()))) as c:
        yield c


async def post(
    client: TestClient,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    ctype: str = "application/json",
    path: str = "/events",
) -> tuple[int, dict, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    hdrs = {"Content-Type": ctype, **(AUTH if headers is None else headers)}
    resp = await client.post(path, data=data, headers=hdrs)
    text = await resp.text()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    return resp.status, dict(resp.headers), parsed


async def test_one_event_and_an_envelope_are_accepted(
    client: TestClient, producer: FakeProducer
) -> None:
    status, _, body = await post(client, ev(1, ts="2023-11-14T22:13:20Z"))
    assert (status, body) == (202, {"accepted": 1})
    status, _, body = await post(client, [ev(2), ev(3, brand="globex", count=5)])
    assert (status, body) == (202, {"accepted": 2})
    status, _, body = await post(client, b"\xef\xbb\xbf" + json.dumps(ev(4)).encode())
    assert (status, body) == (202, {"accepted": 1})  # a UTF-8 BOM is fine
    assert [b for b, _ in producer.sent] == ["acme", "acme", "globex", "acme"]
    first = producer.sent[0][1]
    assert first["ts"] == 1_700_000_000 and first["platform"] == "unknown"  # normalised


async def test_ndjson_one_event_per_line(client: TestClient, producer: FakeProducer) -> None:
    lines = b"\n".join(json.dumps(ev(i)).encode() for i in range(3)) + b"\n\n"
    status, _, body = await post(client, lines, ctype="application/x-ndjson")
    assert (status, body) == (202, {"accepted": 3})
    bad = b'{"id": "a", "ts": 1, "brand": "b", "kind": "like"}\n\n{broken\n'
    status, _, body = await post(client, bad, ctype="application/x-ndjson")
    assert status == 400
    assert body["rejected"] == [
        {"index": 1, "id": None, "reason": "invalid_json", "detail": body["rejected"][0]["detail"],
         "line": 3}
    ]  # fmt: skip
    assert len(producer.sent) == 3


async def test_an_invalid_event_sends_nothing_of_its_request(
    client: TestClient, producer: FakeProducer
) -> None:
    envelope = [ev(1), ev("x", kind="teleport"), "no object", ev(3, sentiment=4)]
    status, _, body = await post(client, envelope)
    assert status == 400 and producer.sent == []
    assert body["error"] == "invalid_events" and body["accepted"] == 0
    assert body["rejected_count"] == 3
    assert [(r["index"], r["id"], r["reason"]) for r in body["rejected"]] == [
        (1, "x", "unknown_kind"),
        (2, None, "not_object"),
        (3, "3", "out_of_range"),
    ]
    assert all(r["detail"] for r in body["rejected"])


async def test_partial_sends_the_valid_events(client: TestClient, producer: FakeProducer) -> None:
    status, _, body = await post(client, [ev(1), ev(2, kind="nope")], path="/events?partial=true")
    assert status == 202 and body["accepted"] == 1 and body["rejected"][0]["index"] == 1
    assert [e["id"] for _, e in producer.sent] == ["1"]
    status, _, body = await post(client, [ev(2, kind="nope")], path="/events?partial=1")
    assert status == 400 and len(producer.sent) == 1  # nothing valid: still a 400


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{broken", "invalid_json"),
        (b"", "invalid_json"),
        (b"\xff\xfe not utf-8", "invalid_json"),
        (b"[" * 5000 + b"]" * 5000, "invalid_json"),  # deeper than any parser goes
        (b"[]", "empty_envelope"),
        (json.dumps([ev(i) for i in range(51)]).encode(), "envelope_too_large"),
    ],
)
async def test_bad_bodies_are_400_not_crashes(
    client: TestClient, producer: FakeProducer, body: bytes, error: str
) -> None:
    status, _, answer = await post(client, body)
    assert status == 400 and answer["error"] == error and answer["detail"]
    assert producer.sent == []


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"deep": json.loads("[" * 300 + "]" * 300)}, "bad_type"),  # orjson encodes 255 levels
        ({"value": float("inf")}, "bad_number"),  # "Infinity": only the fallback parser
        ({"x": "\ud800"}, "bad_text"),  # a lone surrogate in an unknown field
        ({"blob": "y" * 5000}, "too_large"),  # over max_event_bytes
        ({"text": 42}, "bad_type"),
    ],
)
async def test_events_that_cannot_be_reencoded_are_rejected(
    client: TestClient, producer: FakeProducer, extra: dict, reason: str
) -> None:
    body = json.dumps([ev(1), ev(2, **extra)]).encode()
    status, _, answer = await post(client, body)
    assert status == 400 and answer["rejected"][0]["reason"] == reason, answer
    assert producer.sent == []


async def test_scalar_body_is_one_rejected_element(client: TestClient) -> None:
    status, _, answer = await post(client, 42)
    assert status == 400 and answer["rejected"][0]["reason"] == "not_object"


async def test_auth(client: TestClient, producer: FakeProducer) -> None:
    status, headers, body = await post(client, ev(), headers={})
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert body["error"] == "unauthorized"
    status, headers, body = await post(client, ev(), headers={"Authorization": "Bearer wrong"})
    assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]
    assert TOKEN not in json.dumps(body)
    status, _, _ = await post(client, ev(), headers={"Authorization": f"Basic {TOKEN}"})
    assert status == 401
    assert (await post(client, ev(), headers={"X-SocialPulse-Token": TOKEN}))[0] == 202
    assert (await post(client, ev(), headers={"Authorization": "bearer second-token"}))[0] == 202
    non_ascii = {"Authorization": "Bearer zażółć"}
    assert (await post(client, ev(), headers=non_ascii))[0] == 401
    assert len(producer.sent) == 2


async def test_size_limits(client: TestClient, producer: FakeProducer) -> None:
    big = json.dumps([ev(i, text="z" * 400) for i in range(30)]).encode()
    assert len(big) > 10_000
    status, _, body = await post(client, big)
    assert status == 413 and body["max_bytes"] == 10_000

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the read limit holds
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    resp = await client.post(
        "/events", data=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert resp.status == 413 and (await resp.json())["error"] == "too_large"
    assert producer.sent == []


async def test_exactly_the_limit_is_accepted(producer: FakeProducer) -> None:
    one = json.dumps(ev(1)).encode()
    body = one[:-1] + b', "pad": "' + b"p" * (500 - len(one) - 11) + b'"}'
    assert len(body) == 500
    async with TestClient(TestServer(make_app(producer, config(max_bytes=500)))) as c:
        assert (await post(c, body))[0] == 202
        assert (await post(c, body[:-1] + b" }"))[0] == 413


@pytest.mark.parametrize(
    "ctype",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
async def test_other_content_types_are_415(client: TestClient, ctype: str) -> None:
    status, _, body = await post(client, ev(), ctype=ctype)
    assert status == 415 and "application/x-ndjson" in body["detail"]


async def test_json_with_utf8_charset_is_fine(client: TestClient) -> None:
    assert (await post(client, ev(), ctype="application/json; charset=UTF-8"))[0] == 202


async def test_unknown_paths_and_methods(client: TestClient) -> None:
    assert (await client.get("/events")).status == 405
    assert (await client.get("/nope")).status == 404


async def test_broker_down_unacknowledged_or_failing_is_503(
    client: TestClient, producer: FakeProducer
) -> None:
    producer.connected = False
    status, headers, body = await post(client, ev(1))
    assert status == 503 and headers["Retry-After"] == "5" and body["error"] == "broker_unavailable"
    assert producer.sent == []
    health = await client.get("/healthz")
    assert health.status == 503 and (await health.json())["producer_connected"] is False
    producer.connected = True
    producer.mode = "hang"
    status, headers, body = await post(client, ev(2))
    assert status == 503 and "Retry-After" in headers and "resend" in body["detail"]
    producer.mode = "fail"
    status, _, body = await post(client, ev(3))
    assert status == 503 and "KafkaTimeoutError" in body["detail"]
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["status"] == "ok"


async def test_no_wait_answers_before_delivery(producer: FakeProducer) -> None:
    producer.mode = "hang"
    async with TestClient(TestServer(make_app(producer, config(wait=False)))) as c:
        status, _, body = await post(c, [ev(1), ev(2)])
        assert (status, body) == (202, {"accepted": 2})


async def test_metrics_count_requests_events_reasons_and_latency(client: TestClient) -> None:
    await post(client, [ev(1), ev(2)])
    await post(client, [ev(3), ev(4, kind="nope")])
    await post(client, b"{")
    await post(client, ev(5), headers={"Authorization": f"Bearer {TOKEN}x"})
    await client.get("/nope")
    text = await (await client.get("/metrics")).text()
    assert TOKEN not in text
    lines = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(lines['socialpulse_ingest_requests_total{status="202"}']) == 1
    assert float(lines['socialpulse_ingest_requests_total{status="400"}']) == 2
    assert float(lines['socialpulse_ingest_requests_total{status="401"}']) == 1
    assert float(lines['socialpulse_ingest_requests_total{status="404"}']) == 1
    assert float(lines["socialpulse_ingest_events_accepted_total"]) == 2
    assert float(lines['socialpulse_ingest_events_rejected_total{reason="unknown_kind"}']) == 1
    assert float(lines['socialpulse_ingest_events_rejected_total{reason="invalid_json"}']) == 1
    assert float(lines['socialpulse_ingest_events_rejected_total{reason="late"}']) == 0
    assert float(lines["socialpulse_ingest_request_seconds_count"]) == 4
    assert float(lines["socialpulse_ingest_broker_up"]) == 1


async def test_expect_100_continue_is_refused_before_the_upload(client: TestClient) -> None:
    """A client that asks first (curl does for big bodies) learns 401/413 without sending."""
    server = client.server
    for headers, expected in (
        (f"Authorization: Bearer {TOKEN}\r\nContent-Length: 999999\r\n", b" 413 "),
        ("Content-Length: 10\r\n", b" 401 "),
    ):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(
            b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + headers.encode()
            + b"Expect: 100-continue\r\n\r\n"
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        assert expected in status_line, status_line
        writer.close()
    # a good one gets 100 Continue, then its answer
    body = json.dumps(ev(9)).encode()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Expect: 100-continue\r\n\r\n"
    )
    assert b" 100 " in await asyncio.wait_for(reader.readline(), 5)
    await reader.readline()
    writer.write(body)
    assert b" 202 " in await asyncio.wait_for(reader.readline(), 5)
    writer.close()


async def test_a_client_that_disconnects_mid_body_does_not_hurt(
    client: TestClient, producer: FakeProducer
) -> None:
    server = client.server
    _reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 5000\r\n\r\n".encode()
        + b'[{"id": "1"'
    )
    await writer.drain()
    writer.close()
    await asyncio.sleep(0.1)
    assert (await post(client, ev(1)))[0] == 202
    assert len(producer.sent) == 1


def test_config_needs_a_token_and_hides_it() -> None:
    with pytest.raises(IngestError):
        IngestConfig(tokens=parse_tokens(" , "))
    assert parse_tokens("a, b ,,c") == (b"a", b"b", b"c")
    assert "t0ken" not in repr(config())


def test_settings_hide_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SOCIALPULSE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SOCIALPULSE_INGEST_TOKEN", "very-secret-value")
    s = IngestSettings()
    assert s.ingest_token == "very-secret-value"
    assert "very-secret-value" not in repr(s) and "very-secret-value" not in str(s)
    assert (s.ingest_host, s.ingest_port, s.ingest_max_bytes) == ("127.0.0.1", 8088, 1048576)


def test_the_command_refuses_to_start_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from socialpulse.cli.main import build_commands

    for name in list(os.environ):
        if name.upper().startswith("SOCIALPULSE_"):
            monkeypatch.delenv(name)
    commands = {c.name: c for c in build_commands()}
    result = CliRunner().invoke(commands["ingest"], [])
    assert result.exit_code == 1 and "SOCIALPULSE_INGEST_TOKEN is not set" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


class FakeKafka:
    """AIOKafkaProducer.send's shape: returns a delivery future the test settles."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes, asyncio.Future[Any]]] = []
        self.raise_on_send: Exception | None = None
        self.delay = 0.0  # a full accumulator makes aiokafka's send() wait

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> asyncio.Future[Any]:
        if self.raise_on_send is not None:
            raise self.raise_on_send
        if self.delay:
            await asyncio.sleep(self.delay)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((key or b"", value, fut))
        return fut


def delivery_producer(**options: Any) -> tuple[DeliveryProducer, FakeKafka]:
    producer = DeliveryProducer("127.0.0.1:1", "ev", **options)
    kafka = FakeKafka()
    producer._producer = kafka  # type: ignore[assignment]
    return producer, kafka


async def test_concurrent_requests_share_an_envelope_and_await_its_delivery() -> None:
    producer, kafka = delivery_producer(linger=0.02)
    a = await producer.enqueue("acme", b'{"id":"1"}')
    b = await producer.enqueue("acme", b'{"id":"2"}')
    c = await producer.enqueue("globex", b'{"id":"3"}')
    assert a is b and a is not c and kafka.sent == []
    await asyncio.sleep(0.05)  # the linger sends both brands' envelopes
    assert sorted(v for _, v, _ in kafka.sent) == [b'[{"id":"1"},{"id":"2"}]', b'[{"id":"3"}]']
    assert not a.done()
    for key, _, fut in kafka.sent:
        if key == b"acme":
            fut.set_result(None)
    await asyncio.sleep(0)
    assert a.done() and a.exception() is None and not c.done()
    [fut] = [f for k, _, f in kafka.sent if k == b"globex"]
    fut.set_exception(RuntimeError("lost"))
    await asyncio.sleep(0)
    with pytest.raises(BrokerUnavailable, match="lost"):
        await c


async def test_full_envelopes_go_at_once_and_send_errors_reach_the_waiters() -> None:
    producer, kafka = delivery_producer(max_events=2, max_bytes=1024, linger=10)
    first = await producer.enqueue("acme", b"1")
    second = await producer.enqueue("acme", b"2")
    assert first is second and len(kafka.sent) == 1  # full: sent without the linger
    third = await producer.enqueue("acme", b"x" * 700)
    fourth = await producer.enqueue("acme", b"y" * 700)  # would pass max_bytes: new envelope
    assert third is not fourth and len(kafka.sent) == 2
    for _, _, fut in kafka.sent:
        fut.set_result(None)
    kafka.raise_on_send = RuntimeError("no leader")
    await producer.flush()  # logs, does not raise
    assert first.done() and third.done() and first.exception() is None
    with pytest.raises(BrokerUnavailable, match="no leader"):
        await fourth
    if producer._linger_task is not None:
        producer._linger_task.cancel()


async def test_an_event_queued_while_the_linger_sends_is_not_stranded() -> None:
    producer, kafka = delivery_producer(linger=0.01)
    kafka.delay = 0.02
    first = await producer.enqueue("acme", b"1")
    await producer.enqueue("globex", b"2")
    await asyncio.sleep(0.015)  # the linger is handing acme's envelope over now
    late = await producer.enqueue("acme", b"3")
    assert late is not first
    await asyncio.sleep(0.1)  # no other request comes: the linger must still send it
    assert [v for _, v, _ in kafka.sent] == [b"[1]", b"[2]", b"[3]"]
    assert producer._linger_task is None


class HeldProducer(FakeProducer):
    """Acknowledges nothing until :meth:`ack_all`: requests stay in flight meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.futures: list[asyncio.Future[None]] = []

    async def enqueue(self, brand: str, data: bytes) -> asyncio.Future[None]:
        self.sent.append((brand, orjson.loads(data)))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.futures.append(fut)
        return fut

    def ack_all(self) -> None:
        for fut in self.futures:
            if not fut.done():
                fut.set_result(None)


def metric_lines(text: str) -> dict[str, float]:
    pairs = (line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    return {name: float(v) for name, v in pairs}


async def test_beyond_the_requests_in_flight_the_answer_is_503_at_once() -> None:
    producer = HeldProducer()
    app = make_app(producer, config(max_in_flight=2, ack_timeout=30))
    async with TestClient(TestServer(app)) as c:
        first = asyncio.ensure_future(post(c, ev(1)))
        second = asyncio.ensure_future(post(c, ev(2)))
        while len(producer.sent) < 2:
            await asyncio.sleep(0.01)
        status, headers, body = await post(c, ev(3))
        assert status == 503 and body["error"] == "overloaded" and body["limit"] == "requests"
        assert headers["Retry-After"] == "1" and "resend" in body["detail"]
        assert [e["id"] for _, e in producer.sent] == ["1", "2"]  # the refused one sent nothing
        lines = metric_lines(await (await c.get("/metrics")).text())
        assert lines['socialpulse_ingest_overloaded_total{limit="requests"}'] == 1
        assert lines['socialpulse_ingest_overloaded_total{limit="bytes"}'] == 0
        assert lines["socialpulse_ingest_requests_in_flight"] == 2
        assert lines['socialpulse_ingest_requests_total{status="503"}'] == 1
        producer.ack_all()
        assert (await first)[0] == (await second)[0] == 202
        third = asyncio.ensure_future(post(c, ev(3)))  # room again: the resend goes through
        while len(producer.sent) < 3:
            await asyncio.sleep(0.01)
        producer.ack_all()
        assert (await third)[0] == 202
        lines = metric_lines(await (await c.get("/metrics")).text())
        assert lines["socialpulse_ingest_requests_in_flight"] == 0
        assert lines["socialpulse_ingest_held_bytes"] == 0


async def test_a_request_unacknowledged_in_time_still_holds_its_share() -> None:
    """A 503 on the acknowledgement timeout leaves the events on their way: they stay held."""
    producer = HeldProducer()
    app = make_app(producer, config(max_in_flight=1, ack_timeout=0.1))
    async with TestClient(TestServer(app)) as c:
        status, _, body = await post(c, ev(1))
        assert status == 503 and body["error"] == "broker_unavailable"
        status, _, body = await post(c, ev(2))
        assert status == 503 and body["error"] == "overloaded"
        assert app[CONTEXT].gate.in_flight == 1
        producer.ack_all()  # the late acknowledgement gives the share back
        async with asyncio.timeout(5):
            while app[CONTEXT].gate.in_flight:
                await asyncio.sleep(0.01)
        task = asyncio.ensure_future(post(c, ev(2)))
        while len(producer.sent) < 2:
            await asyncio.sleep(0.01)
        producer.ack_all()
        assert (await task)[0] == 202


async def test_beyond_the_bytes_held_the_answer_is_503_before_the_upload() -> None:
    producer = HeldProducer()
    app = make_app(producer, config(max_held=20_000, ack_timeout=30))
    async with TestClient(TestServer(app)) as c:
        big = [ev(n, text="x" * 800) for n in range(10)]  # about 9 kB
        first = asyncio.ensure_future(post(c, big))
        second = asyncio.ensure_future(post(c, [ev(n + 10, text="y" * 800) for n in range(10)]))
        while len(producer.sent) < 20:
            await asyncio.sleep(0.01)
        status, headers, body = await post(c, [ev(n + 20, text="z" * 800) for n in range(10)])
        assert (status, body["limit"], headers["Retry-After"]) == (503, "bytes", "1")
        # Expect: 100-continue learns it before sending the body
        server = c.server
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(
            b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 9000\r\n".encode()
            + b"Expect: 100-continue\r\n\r\n"
        )
        await writer.drain()
        assert b" 503 " in await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        lines = metric_lines(await (await c.get("/metrics")).text())
        assert lines['socialpulse_ingest_overloaded_total{limit="bytes"}'] >= 2
        assert lines["socialpulse_ingest_held_bytes"] > 15_000
        producer.ack_all()
        assert (await first)[0] == (await second)[0] == 202


async def test_concurrent_load_is_answered_in_full_and_sends_only_the_accepted() -> None:
    """Many clients at once against a slow broker: each gets 202 or 503, and exactly the
    202'd events are sent; afterwards nothing is held."""

    class SlowProducer(FakeProducer):
        async def enqueue(self, brand: str, data: bytes) -> asyncio.Future[None]:
            self.sent.append((brand, orjson.loads(data)))
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.02, fut.set_result, None)
            return fut

    producer = SlowProducer()
    app = make_app(producer, config(max_in_flight=8, max_held=40_000, ack_timeout=30))
    async with TestClient(TestServer(app)) as c:

        async def one(n: int) -> tuple[int, int]:
            size = 8 if n % 5 else 1
            body = [ev(f"{n}-{k}", text="t" * (700 if n % 5 == 0 else 10)) for k in range(size)]
            status, _, answer = await post(c, body)
            assert status in (202, 503), answer
            return status, answer["accepted"] if status == 202 else 0

        results = await asyncio.gather(*(one(n) for n in range(200)))
        statuses = [s for s, _ in results]
        assert 202 in statuses and 503 in statuses
        assert len(producer.sent) == sum(n for _, n in results)
        gate = app[CONTEXT].gate
        assert (gate.in_flight, gate.held) == (0, 0)


def test_the_bytes_held_must_take_the_largest_body(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(IngestError, match="at least the largest body"):
        config(max_held=5_000)
    monkeypatch.setenv("SOCIALPULSE_INGEST_MAX_BYTES", "20000000")
    with pytest.raises(ValueError, match="INGEST_MAX_HELD_BYTES"):
        IngestSettings()
