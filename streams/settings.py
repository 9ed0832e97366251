"""Settings per process, from ``SOCIALPULSE_*`` environment variables: each process
reads only its own kind.

:class:`KafkaSettings` is what every process that talks to Kafka reads: the broker, the
topics, the message limits, TLS and SASL (``streams.connection`` turns it into client
options). ``socialpulse generate``, ``replay``, ``produce`` and ``dlq`` read
:class:`ProducerSettings`; ``socialpulse ingest`` reads :class:`IngestSettings`; the
worker's ``agents.settings.WorkerSettings`` extends it too. So a variable means the same
in every process, and none of them reads (or fails on) another's settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def check(
    protocol: str,
    *,
    cafile: Path | None,
    certfile: Path | None,
    keyfile: Path | None,
    username: str | None,
    has_password: bool,
) -> None:
    """Raise ValueError, naming the variables, for a combination that cannot work."""
    uses_tls = protocol in ("SSL", "SASL_SSL")
    uses_sasl = protocol in ("SASL_PLAINTEXT", "SASL_SSL")
    files = {
        "SOCIALPULSE_KAFKA_SSL_CAFILE": cafile,
        "SOCIALPULSE_KAFKA_SSL_CERTFILE": certfile,
        "SOCIALPULSE_KAFKA_SSL_KEYFILE": keyfile,
    }
    given = [name for name, path in files.items() if path is not None]
    if given and not uses_tls:
        raise ValueError(
            f"{', '.join(given)} set, but SOCIALPULSE_KAFKA_SECURITY_PROTOCOL is {protocol}: "
            "use SSL or SASL_SSL for TLS"
        )
    if (certfile is None) != (keyfile is None):
        raise ValueError(
            "a TLS client certificate needs both SOCIALPULSE_KAFKA_SSL_CERTFILE and "
            "SOCIALPULSE_KAFKA_SSL_KEYFILE"
        )
    for name in given:
        path = files[name]
        assert path is not None
        if not path.is_file():
            raise ValueError(f"{name}: {path} is not a readable file")
    if uses_sasl and (not username or not has_password):
        raise ValueError(
            f"SOCIALPULSE_KAFKA_SECURITY_PROTOCOL={protocol} needs SOCIALPULSE_KAFKA_SASL_USERNAME "
            "and SOCIALPULSE_KAFKA_SASL_PASSWORD"
        )
    if not uses_sasl and (username or has_password):
        raise ValueError(
            "SOCIALPULSE_KAFKA_SASL_USERNAME/PASSWORD set, but "
            f"SOCIALPULSE_KAFKA_SECURITY_PROTOCOL is {protocol}: use SASL_PLAINTEXT or SASL_SSL"
        )


class KafkaSettings(BaseSettings):
    """What every process that talks to Kafka reads: ``SOCIALPULSE_<FIELD IN CAPITALS>``."""

    model_config = SettingsConfigDict(
        env_prefix="SOCIALPULSE_",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,  # a validation error must not print a password or token
    )

    broker: str = Field(
        "kafka://127.0.0.1:9092",
        description="Kafka bootstrap URL(s), `kafka://host:port`, several separated by `;`.",
    )
    topic_partitions: int = Field(4, ge=1, description="Partitions of the events topic.")
    events_topic: str = Field("social-events", description="Topic producers write events to.")
    dlq_topic: str = Field("social-events-dlq", description="Dead-letter topic for bad input.")
    alerts_topic: str = Field("social-alerts", description="Topic alert events are written to.")
    max_envelope_events: int = Field(10_000, ge=1, description="Most events in one envelope.")
    max_message_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest accepted Kafka message value, in bytes."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    kafka_ssl_cafile: Path | None = Field(
        None, description="PEM file of the CA(s) that signed the brokers' certificates (TLS)."
    )
    kafka_ssl_certfile: Path | None = Field(
        None, description="PEM client certificate for mutual TLS; needs the key file too."
    )
    kafka_ssl_keyfile: Path | None = Field(
        None, description="PEM private key of the client certificate."
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        None, description="Password of an encrypted client key. Never logged."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password. Never logged or shown."
    )

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kafka_security(self) -> KafkaSettings:
        check(
            self.kafka_security_protocol,
            cafile=self.kafka_ssl_cafile,
            certfile=self.kafka_ssl_certfile,
            keyfile=self.kafka_ssl_keyfile,
            username=self.kafka_sasl_username,
            has_password=bool(
                self.kafka_sasl_password and self.kafka_sasl_password.get_secret_value()
            ),
        )
        return self

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        bootstrap_servers(value)  # raises ValueError on a malformed URL
        return value

    @property
    def bootstrap(self) -> str:
        """The broker URL as a Kafka client's ``bootstrap.servers`` string."""
        return bootstrap_servers(self.broker)


def bootstrap_servers(url: str) -> str:
    """Turn ``kafka://h1:9092;kafka://h2:9092`` into ``h1:9092,h2:9092``."""
    hosts = []
    for part in url.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        if "://" in part:
            scheme, part = part.split("://", 1)
            if scheme not in ("kafka", "aiokafka", "tcp"):
                raise ValueError(f"unsupported broker scheme {scheme!r} in {url!r}")
        host, sep, port = part.rstrip("/").rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"broker address {part!r} in {url!r} is not host:port")
        hosts.append(f"{host}:{port}")
    if not hosts:
        raise ValueError(f"no broker address in {url!r}")
    return ",".join(hosts)


class ProducerSettings(KafkaSettings):
    """The producer commands' settings. They need nothing beyond ``KafkaSettings``: the
    class names the kind, so a producer never reads (or fails on) a worker's or the
    ingest's variables, and may grow its own."""


class IngestSettings(KafkaSettings):
    """``socialpulse ingest``: the HTTP server's address, tokens and limits."""

    ingest_host: str = Field(
        "127.0.0.1",
        description="Address `socialpulse ingest` binds to (`0.0.0.0` for other hosts' events).",
    )
    ingest_port: int = Field(
        8088, ge=0, le=65535, description="Port of `socialpulse ingest` (`POST /events`)."
    )
    ingest_token: str = Field(
        "",
        repr=False,
        description=(
            "Bearer token(s) `socialpulse ingest` requires, comma-separated to rotate them; "
            "it refuses to start without one. Never logged."
        ),
    )
    ingest_max_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest `POST /events` body in bytes (413 above)."
    )
    ingest_max_in_flight: int = Field(
        64,
        ge=1,
        description=(
            "Most `POST /events` requests held at once (body read, events not yet on the "
            "broker); beyond it 503 with `Retry-After`."
        ),
    )
    ingest_max_held_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description=(
            "Most bytes of `POST /events` bodies held at once (by Content-Length, the body "
            "limit when none), at least `SOCIALPULSE_INGEST_MAX_BYTES`; beyond it 503 with "
            "`Retry-After`."
        ),
    )
    ingest_ack_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds `POST /events` waits for the broker to take the events (503 after).",
    )

    @model_validator(mode="after")
    def _ingest_bounds(self) -> IngestSettings:
        if self.ingest_max_held_bytes < self.ingest_max_bytes:
            raise ValueError(
                "SOCIALPULSE_INGEST_MAX_HELD_BYTES must be at least SOCIALPULSE_INGEST_MAX_BYTES"
            )
        return self
