"""Kafka over TLS (mutual TLS, an encrypted client key) end to end: worker, SDK producer
and a consumer all speak TLS to the broker.

The embedded broker (Tansu 0.6.0) has ``--cert``/``--key`` options but refuses them
together (clap: "'--cert' cannot be used with '--key'"), and SASL is no better there
(PLAIN is not offered; SCRAM needs credentials that only an authenticated client could
create, in memory storage that a restart loses). So TLS is terminated by a small asyncio
proxy in front of a plaintext Tansu, which advertises the proxy's port as its own listener:
every client is sent back to the proxy by the broker's metadata, never to Tansu's port.
SASL has no test against a real broker here; its settings are unit-tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from socialpulse.agents.processes import free_port
from socialpulse.agents.settings import WorkerSettings
from socialpulse.cli.broker import broker_binary
from socialpulse.streams.connection import client_options
from socialpulse.streams.producer import EventProducer
from tests.integration.conftest import Stack, kpi, value, wait_port
from tests.tls import KEY_PASSWORD, Tls, make_tls

pytestmark = pytest.mark.integration


class TlsProxy:
    """Terminates TLS (client certificate required) on one port, forwards to another."""

    def __init__(self, port: int, target: int, tls: Tls) -> None:
        self.port, self.target = port, target
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls.ca))
        self.context.load_cert_chain(tls.server_cert, tls.server_key)
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.sessions = 0  # TLS connections that completed the handshake
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def __enter__(self) -> TlsProxy:
        self.thread.start()
        start = asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self.context)
        self.server = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            assert self.server is not None
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@contextlib.contextmanager
def tansu(listen: int, advertised: int, log: Path):
    cmd = [
        broker_binary(),
        "broker",
        "--listener-url",
        f"tcp://127.0.0.1:{listen}",
        "--advertised-listener-url",
        f"tcp://127.0.0.1:{advertised}",
        "--storage-engine",
        "memory://tansu/",
    ]
    env = dict(os.environ, RUST_LOG="warn")
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        if not wait_port(listen, 30):
            pytest.fail("tansu did not listen")
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_worker_producer_and_consumer_over_mutual_tls(tmp_path: Path) -> None:
    tls = make_tls(tmp_path / "tls")
    plain_port, tls_port = free_port(), free_port()
    env = {
        "SOCIALPULSE_KAFKA_SECURITY_PROTOCOL": "SSL",
        "SOCIALPULSE_KAFKA_SSL_CAFILE": str(tls.ca),
        "SOCIALPULSE_KAFKA_SSL_CERTFILE": str(tls.client_cert),
        "SOCIALPULSE_KAFKA_SSL_KEYFILE": str(tls.client_key),
        "SOCIALPULSE_KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD,
    }
    settings = WorkerSettings(**{k.removeprefix("SOCIALPULSE_").lower(): v for k, v in env.items()})
    options = client_options(settings)

    with (
        tansu(plain_port, tls_port, tmp_path / "tansu.log"),
        TlsProxy(tls_port, plain_port, tls) as proxy,
    ):
        stack = Stack(bootstrap=f"127.0.0.1:{tls_port}", workdir=tmp_path)
        try:
            stack.start_worker(SOCIALPULSE_ENRICH="false", **env)
            now = time.time()

            async def produce() -> None:
                async with EventProducer(
                    stack.bootstrap, stack.events_topic, client_options=options
                ) as producer:
                    for i in range(30):
                        kind = ("like", "share", "impression")[i % 3]
                        await producer.send(
                            {"id": f"t{i}", "ts": now - i, "brand": "tlsco", "kind": kind}
                        )
                    await producer.send_raw(b'{"id":"bad","ts":1,"brand":"tlsco","kind":"x"}')

            asyncio.run(produce())
            s = stack.wait_for(lambda s: kpi(s, "socialpulse_engagements", "tlsco") == 20)
            assert kpi(s, "socialpulse_engagements", "tlsco") == 20
            assert kpi(s, "socialpulse_impressions", "tlsco") == 10
            s = stack.wait_for(
                lambda s: value(s, "socialpulse_dead_letters_total", reason="unknown_kind") == 1
            )
            assert value(s, "socialpulse_dead_letters_total", reason="unknown_kind") == 1

            async def dead_letters() -> list:
                consumer = AIOKafkaConsumer(
                    stack.dlq_topic,
                    bootstrap_servers=stack.bootstrap,
                    auto_offset_reset="earliest",
                    group_id=None,
                    **options,
                )
                await consumer.start()
                try:
                    batch = await consumer.getmany(timeout_ms=5_000)
                    return [r for records in batch.values() for r in records]
                finally:
                    await consumer.stop()

            (letter,) = asyncio.run(dead_letters())
            assert dict(letter.headers)["reason"] == b"unknown_kind"

            async def plaintext_client() -> None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=stack.bootstrap, request_timeout_ms=3_000
                )
                try:
                    await asyncio.wait_for(producer.start(), 15)
                finally:
                    await producer.stop()

            with pytest.raises((KafkaConnectionError, asyncio.TimeoutError)):
                asyncio.run(plaintext_client())
            assert proxy.sessions >= 3  # worker, producer, consumer: all through TLS
            log = (tmp_path / "worker-0.log").read_text(errors="replace")
            assert KEY_PASSWORD not in log
            assert stack.procs[0].poll() is None
        finally:
            stack.stop()
