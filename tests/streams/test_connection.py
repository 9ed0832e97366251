"""Kafka TLS and SASL settings: validation, the Faust credentials, the aiokafka options,
and the SASL password (and every other secret setting) never shown."""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr, ValidationError

from socialpulse.agents.app import broker_credentials, create_app
from socialpulse.agents.settings import WorkerSettings
from socialpulse.streams import connection as kafka_security
from socialpulse.streams import producer as producer_module
from socialpulse.streams import topics as topics_module
from socialpulse.streams.connection import client_options
from socialpulse.streams.producer import EventProducer
from tests.tls import KEY_PASSWORD, Tls, make_tls

PASSWORD = "s3cret-Pa55-word"
TOKEN = "ingest-t0ken-XYZ"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SOCIALPULSE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


def sasl(**extra: Any) -> WorkerSettings:
    fields: dict[str, Any] = {
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "alice",
        "kafka_sasl_password": PASSWORD,
    }
    return WorkerSettings(**(fields | extra))


# -- what the clients get -------------------------------------------------------------------
def test_plaintext_is_the_default() -> None:
    s = WorkerSettings()
    assert s.kafka_security_protocol == "PLAINTEXT"
    assert broker_credentials(s) is None
    assert client_options(s) == {"security_protocol": "PLAINTEXT"}


def test_ssl_verifies_the_broker_against_the_ca_file(tls: Tls) -> None:
    s = WorkerSettings(kafka_security_protocol="SSL", kafka_ssl_cafile=tls.ca)
    creds = broker_credentials(s)
    assert isinstance(creds, faust.SSLCredentials)
    assert creds.context.verify_mode == ssl.CERT_REQUIRED
    assert creds.context.check_hostname
    assert [c["subject"] for c in creds.context.get_ca_certs()] == [
        ((("commonName", "socialpulse test CA"),),)
    ]
    options = client_options(s)
    assert options["security_protocol"] == "SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert set(options) == {"security_protocol", "ssl_context"}
    # what Faust hands its aiokafka consumer, producer and admin client
    auth = credentials_to_aiokafka_auth(creds)
    assert auth == {"security_protocol": "SSL", "ssl_context": creds.context}


def test_ssl_without_a_ca_file_uses_the_system_cas() -> None:
    creds = broker_credentials(WorkerSettings(kafka_security_protocol="ssl"))
    assert isinstance(creds, faust.SSLCredentials)
    assert creds.context.verify_mode == ssl.CERT_REQUIRED


def test_mutual_tls_with_an_encrypted_client_key(tls: Tls) -> None:
    s = WorkerSettings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=tls.ca,
        kafka_ssl_certfile=tls.client_cert,
        kafka_ssl_keyfile=tls.client_key,
        kafka_ssl_key_password=KEY_PASSWORD,
    )
    assert isinstance(kafka_security.ssl_context(s), ssl.SSLContext)
    wrong = s.model_copy(update={"kafka_ssl_key_password": None})
    with pytest.raises(ValueError, match="SOCIALPULSE_KAFKA_SSL_KEY_PASSWORD"):
        kafka_security.ssl_context(wrong)  # refused, never a prompt on the terminal
    bad = s.model_copy(update={"kafka_ssl_key_password": SecretStr("wrong")})
    with pytest.raises(ValueError, match="cannot load the Kafka TLS files"):
        kafka_security.ssl_context(bad)
    assert KEY_PASSWORD not in repr(s) and KEY_PASSWORD not in str(s)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_plaintext(mechanism: str) -> None:
    s = sasl(kafka_sasl_mechanism=mechanism.lower())
    creds = broker_credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.protocol.value == "SASL_PLAINTEXT"
    assert creds.mechanism.value == mechanism
    assert (creds.username, creds.password, creds.ssl_context) == ("alice", PASSWORD, None)
    assert client_options(s) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "alice",
        "sasl_plain_password": PASSWORD,
    }
    assert credentials_to_aiokafka_auth(creds) == {
        **client_options(s),
        "ssl_context": None,
    }


def test_sasl_ssl(tls: Tls) -> None:
    s = sasl(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=tls.ca)
    creds = broker_credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.protocol.value == "SASL_SSL"
    assert isinstance(creds.ssl_context, ssl.SSLContext)
    options = client_options(s)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_plain_password"] == PASSWORD
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_the_app_gets_the_credentials() -> None:
    app = create_app(sasl())
    creds = app.conf.broker_credentials
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.mechanism.value == "SCRAM-SHA-512"
    assert create_app(WorkerSettings()).conf.broker_credentials is None


def test_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, tls: Tls) -> None:
    monkeypatch.setenv("SOCIALPULSE_KAFKA_SECURITY_PROTOCOL", "sasl_ssl")
    monkeypatch.setenv("SOCIALPULSE_KAFKA_SASL_MECHANISM", "scram-sha-256")
    monkeypatch.setenv("SOCIALPULSE_KAFKA_SASL_USERNAME", "bob")
    monkeypatch.setenv("SOCIALPULSE_KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("SOCIALPULSE_KAFKA_SSL_CAFILE", str(tls.ca))
    s = WorkerSettings()
    assert s.kafka_security_protocol == "SASL_SSL"
    assert s.kafka_sasl_mechanism == "SCRAM-SHA-256"
    assert s.kafka_sasl_password is not None
    assert s.kafka_sasl_password.get_secret_value() == PASSWORD


# -- invalid combinations -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs SOCIALPULSE_KAFKA_SASL_USERNAME"),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "a"},
            "SOCIALPULSE_KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_password": PASSWORD},
            "SOCIALPULSE_KAFKA_SASL_USERNAME",
        ),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_username": "a",
                "kafka_sasl_password": "",
            },
            "SOCIALPULSE_KAFKA_SASL_PASSWORD",
        ),
        ({"kafka_sasl_username": "a", "kafka_sasl_password": PASSWORD}, "SASL_PLAINTEXT or"),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
        ({"kafka_ssl_cafile": "CA"}, "use SSL or SASL_SSL"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nonexistent.pem"}, "not a"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "CERT"}, "both"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "KEY"}, "both"),
    ],
)
def test_invalid_combinations_are_refused_clearly(
    fields: dict[str, Any], message: str, tls: Tls
) -> None:
    paths = {"CA": tls.ca, "CERT": tls.client_cert, "KEY": tls.client_key}
    fields = {k: paths.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
    with pytest.raises(ValidationError) as info:
        WorkerSettings(**fields, ingest_token=TOKEN)
    text = str(info.value)
    assert message in text
    assert PASSWORD not in text and TOKEN not in text  # hide_input_in_errors


# -- secrets never shown --------------------------------------------------------------------
SECRET_WORDS = ("password", "token", "secret")


def secret_fields() -> list[str]:
    return [name for name in WorkerSettings.model_fields if any(w in name for w in SECRET_WORDS)]


def test_the_secret_settings_are_known() -> None:
    assert {"kafka_sasl_password", "kafka_ssl_key_password"} <= set(secret_fields())


@pytest.mark.parametrize("name", secret_fields())
def test_no_secret_setting_shows_in_repr_str_or_errors(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = f"{name}-VALUE-7f3a"
    monkeypatch.setenv(f"SOCIALPULSE_{name.upper()}", value)
    if name == "kafka_sasl_password":
        monkeypatch.setenv("SOCIALPULSE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
        monkeypatch.setenv("SOCIALPULSE_KAFKA_SASL_USERNAME", "alice")
    s = WorkerSettings()
    for text in (repr(s), str(s), f"{s}", f"{s!r}"):
        assert value not in text
    # an invalid setting beside it: the error must not echo the secret either
    monkeypatch.setenv("SOCIALPULSE_WEB_PORT", "not-a-port")
    with pytest.raises(ValidationError) as info:
        WorkerSettings()
    assert value not in str(info.value)


def test_client_options_and_credentials_never_show_the_password() -> None:
    s = sasl()
    options = client_options(s)
    assert PASSWORD not in repr(options) and PASSWORD not in str(options)
    assert "**********" in repr(options)
    assert options["sasl_plain_password"] == PASSWORD  # the client itself gets it
    assert PASSWORD not in repr(broker_credentials(s))
    assert PASSWORD not in repr(s.kafka_sasl_password)
    assert PASSWORD not in s.model_dump_json()


def test_building_the_app_and_clients_logs_no_secret(
    caplog: pytest.LogCaptureFixture, tls: Tls
) -> None:
    caplog.set_level(logging.DEBUG)
    s = sasl(
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_cafile=tls.ca,
        kafka_ssl_certfile=tls.client_cert,
        kafka_ssl_keyfile=tls.client_key,
        kafka_ssl_key_password=KEY_PASSWORD,
        ingest_token=TOKEN,
    )
    app = create_app(s)
    logging.getLogger("socialpulse").info("settings: %s %r", s, s)
    logging.getLogger("socialpulse").info(
        "options: %s, credentials: %r", client_options(s), app.conf.broker_credentials
    )
    for secret in (PASSWORD, KEY_PASSWORD, TOKEN):
        assert secret not in caplog.text


# -- the SDK producer and the topic admin get the security options --------------------------
class FakeAdmin:
    made: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        FakeAdmin.made.append(kwargs)

    async def start(self) -> None: ...

    async def list_topics(self) -> list[str]:
        return ["social-events"]

    async def close(self) -> None: ...


class FakeProducer:
    made: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        FakeProducer.made.append(kwargs)

    async def start(self) -> None: ...

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2, 3}

    async def stop(self) -> None: ...


async def test_event_producer_passes_security_to_its_producer_and_admin(
    monkeypatch: pytest.MonkeyPatch, tls: Tls
) -> None:
    monkeypatch.setattr(topics_module, "AIOKafkaAdminClient", FakeAdmin)
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", FakeProducer)
    s = sasl(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=tls.ca)
    options = client_options(s) | {"compression_type": "gzip"}
    async with EventProducer("broker:9093", client_options=options):
        pass
    (admin,) = FakeAdmin.made
    assert admin["security_protocol"] == "SASL_SSL"
    assert admin["sasl_plain_password"] == PASSWORD
    assert isinstance(admin["ssl_context"], ssl.SSLContext)
    assert "compression_type" not in admin  # producer-only options stay with the producer
    (made,) = FakeProducer.made
    assert made["compression_type"] == "gzip"
    assert made["sasl_mechanism"] == "SCRAM-SHA-512"
    assert made["ssl_context"] is admin["ssl_context"]


def test_security_options_keep_only_security_keys() -> None:
    options = client_options(sasl()) | {"linger_ms": 5, "acks": 1}
    assert set(topics_module.security_options(options)) == {
        "security_protocol",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
    }
    assert topics_module.security_options(None) == {}


def test_the_readme_example_settings_validate(tls: Tls, tmp_path: Path) -> None:
    """The SASL_SSL example of docs/security.md, as environment variables."""
    env = {
        "SOCIALPULSE_BROKER": "kafka://kafka-1.example.com:9093;kafka://kafka-2.example.com:9093",
        "SOCIALPULSE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SOCIALPULSE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "SOCIALPULSE_KAFKA_SASL_USERNAME": "socialpulse",
        "SOCIALPULSE_KAFKA_SASL_PASSWORD": PASSWORD,
        "SOCIALPULSE_KAFKA_SSL_CAFILE": str(tls.ca),
    }
    s = WorkerSettings(**{k.removeprefix("SOCIALPULSE_").lower(): v for k, v in env.items()})
    assert isinstance(broker_credentials(s), faust.SASLCredentials)
