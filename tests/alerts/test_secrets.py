"""Receiver URLs carry secrets: they never reach a log line, an error or /metrics.

``redact_url`` keeps the scheme, host and first path word and masks the rest; the alert
delivery path is run for real (local aiohttp receivers, the worker's own alert stage and
registry) with secret-bearing webhook and Apprise URLs, succeeding and failing, and the
captured logs and the Prometheus exposition are searched for every secret.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from socialpulse.agents.app import create_app
from socialpulse.agents.settings import WorkerSettings
from socialpulse.alerts.notify import (
    AppriseNotifier,
    NotifierError,
    WebhookNotifier,
    notifier_for,
    redact_url,
    sample_alert,
    scrub,
    secret_parts,
)
from socialpulse.streams.producer import EventProducer


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SOCIALPULSE_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "https://hooks.slack.com/services/***/***/***",
        ),
        ("https://user:pass@host/hook?token=abc", "https://***@host/hook?token=***"),
        ("https://host:8443/hook?token=abc&ts=1", "https://host:8443/hook?token=***&ts=***"),
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000/"),
        ("http://[::1]:9000/alerts", "http://[::1]:9000/alerts"),
        ("https://host/v2/abc", "https://host/v2/***"),
        ("https://webhook.site/3f2a9c1e-7d4b-4e59", "https://webhook.site/***"),
        ("https://host/hook#frag", "https://host/hook#***"),
        ("https://host/hook?s3cr3t", "https://host/hook?***"),
        ("https://user@host/x", "https://***@host/x"),
        ("slack://TokenA/TokenB/TokenC/#chan", "slack://***/***/***/#***"),
        ("tgram://123456:ABCDEF/987", "tgram://***"),
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV", "discord://***/***"),
        ("mailto://user:pw@gmail.com", "mailto://***@gmail.com"),
        ("json://u:p@hooks.example.com/apprise/xyz", "json://***@hooks.example.com/apprise/***"),
        ("https://host:99999/x", "https://***"),
        ("nonsense", "<not a URL, 8 characters>"),
        ("", "<not a URL, 0 characters>"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXX", ["T000", "B000", "XXXX"]),
        ("https://user:pass@host/hook?token=abc", ["pass", "abc"]),
        ("slack://TokenA/TokenB/TokenC/#chan", ["TokenA", "TokenB", "TokenC", "chan"]),
        ("tgram://123456:ABCDEF/987", ["123456", "ABCDEF", "987"]),
    ],
)
def test_no_secret_survives_redaction_or_scrubbing(url: str, secrets: list[str]) -> None:
    redacted = redact_url(url)
    text = f"POST {url} failed: {' '.join(secrets)} (url={url.split('://')[1]})"
    scrubbed = scrub(text, [url])
    for secret in secrets:
        assert secret not in redacted
        assert secret not in scrubbed
        assert any(secret in part for part in secret_parts(url))


def test_scrub_keeps_what_is_no_secret() -> None:
    url = "https://alerts.example.com/services/T000/B000/XXXX"
    assert (
        scrub(f"ClientConnectorError: Cannot connect to host alerts.example.com:443 ({url})", [url])
        == "ClientConnectorError: Cannot connect to host alerts.example.com:443 "
        "(https://alerts.example.com/services/***/***/***)"
    )


def test_notifier_targets_are_redacted() -> None:
    hook = notifier_for("https://user:hunter2@hooks.example.com/services/T0/B0/XSECRET")
    assert hook.target == "https://***@hooks.example.com/services/***/***/***"
    apprise = notifier_for("slack://TokenA/TokenB/TokenC/#chan")
    assert apprise.target == "slack://***/***/***/#***"
    with pytest.raises(ValueError) as info:
        notifier_for("hooks.example.com/services/T0/B0/XSECRET")
    assert "XSECRET" not in str(info.value)
    with pytest.raises(ValueError) as info:
        notifier_for("frob://user:hunter2@x/XSECRET")
    assert "XSECRET" not in str(info.value) and "hunter2" not in str(info.value)


def test_a_bad_url_in_the_config_file_is_not_echoed(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    from socialpulse.agents.settings import ConfigFileError, load_file_config

    path = Path(str(tmp_path)) / "c.yml"
    path.write_text(
        "alerts:\n  notify:\n    - https://u:hunter2@hooks.example.com/services/T0/B0/XSECRET\n"
        "    - frob://tok3n-secret@x/y\n"
    )
    with pytest.raises(ConfigFileError) as info:
        load_file_config(path)
    for secret in ("hunter2", "XSECRET", "tok3n-secret"):
        assert secret not in str(info.value)


# -- the delivery path, for real ------------------------------------------------------------
class Receiver:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path_qs)
        await request.read()
        return web.Response(status=self.status, text="nope" if self.status >= 300 else "ok")


@pytest.fixture()
async def receiver() -> AsyncIterator[tuple[Receiver, int]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)  # the receiver's own log is not ours
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield rec, port
    await runner.cleanup()


SECRETS = ("hunter2pw", "XSECRETX", "tok3nvalue", "appw55", "APSECRET", "aptok9", "T0NE", "B0NE")


def urls(port: int, dead_port: int) -> list[str]:
    return [
        f"http://hookuser:hunter2pw@127.0.0.1:{port}/services/T0NE/B0NE/XSECRETX?token=tok3nvalue",
        f"json://apuser:appw55@127.0.0.1:{port}/apprise/APSECRET?token=aptok9",
        # nobody listens here: connection errors carry the URL's host and port only
        f"http://127.0.0.1:{dead_port}/services/T0NE/B0NE/XSECRETX?token=tok3nvalue",
    ]


def dead_port() -> int:
    from socialpulse.agents.processes import free_port

    return free_port()


@pytest.mark.parametrize("status", [200, 500, 403], ids=["delivered", "5xx", "refused"])
async def test_alert_delivery_logs_and_metrics_hold_no_secret(
    receiver: tuple[Receiver, int], caplog: pytest.LogCaptureFixture, status: int
) -> None:
    rec, port = receiver
    rec.status = status
    caplog.set_level(logging.DEBUG)  # Apprise logs its POST URL at DEBUG
    settings = WorkerSettings(alert_notify=",".join(urls(port, dead_port())), alert_console=True)
    registry = CollectorRegistry()
    app = create_app(settings, registry=registry)
    stage = app.pipeline.alerting
    for notifier in stage.dispatcher.notifiers:
        if isinstance(notifier, WebhookNotifier):
            notifier.retries, notifier.backoff, notifier.timeout = 1, 0.01, 2.0
    stage.dispatcher.start()
    try:
        for brand in ("acme", "globex"):
            stage.dispatcher.submit(sample_alert(brand))
        deadline = asyncio.get_running_loop().time() + 20
        while asyncio.get_running_loop().time() < deadline:
            done = sum(
                registry.get_sample_value(
                    "socialpulse_alert_deliveries_total", {"notifier": kind, "outcome": outcome}
                )
                or 0
                for kind in ("webhook", "apprise")
                for outcome in ("sent", "failed")
            )
            if done >= 6:
                break
            await asyncio.sleep(0.05)
        assert done == 6
    finally:
        await stage.dispatcher.stop()

    # the receiver did get the secrets: they were used, only never shown
    assert any("XSECRETX" in p and "tok3nvalue" in p for p in rec.paths)
    assert any("APSECRET" in p for p in rec.paths)
    exposition = generate_latest(registry).decode()
    assert 'socialpulse_alert_deliveries_total{notifier="webhook",outcome=' in exposition
    logs = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    if status != 200:
        assert "alert delivery to http://***@127.0.0.1" in logs  # failures are logged
    for secret in SECRETS:
        assert secret not in exposition, secret
        assert secret not in logs, secret


async def test_notifier_errors_hold_no_secret(receiver: tuple[Receiver, int]) -> None:
    rec, port = receiver
    rec.status = 500
    for url in urls(port, dead_port())[::2]:
        with pytest.raises(NotifierError) as info:
            await WebhookNotifier(url, retries=0).send(sample_alert("acme"))
        for secret in SECRETS:
            assert secret not in str(info.value)
    with pytest.raises(NotifierError) as info:
        await AppriseNotifier(urls(port, 0)[1]).send(sample_alert("acme"))
    for secret in SECRETS:
        assert secret not in str(info.value)


def test_producer_options_repr_has_no_password() -> None:
    from socialpulse.streams.connection import client_options

    settings = WorkerSettings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="u",
        kafka_sasl_password="pw-SECRET-1",
    )
    producer = EventProducer("127.0.0.1:9", client_options=client_options(settings))
    assert "pw-SECRET-1" not in repr(producer._options)


def test_a_url_without_secrets_is_left_alone() -> None:
    url = "http://127.0.0.1:9000/slow"
    text = f"alert queue of {url} is full: dropped 5"
    assert scrub(text, [url]) == text
    assert secret_parts(url) == []
