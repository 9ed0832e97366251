"""The one settings object of socialpulse, read from ``SOCIALPULSE_*`` environment variables.

Every process (worker, generator, replay, demo, tests) builds its settings here, so the
variable names in docs/, docker-compose.yml and the tests are the same ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigFileError(ValueError):
    """The per-brand config file is missing, unreadable or invalid."""


OBJECTIVES = ("awareness", "engagement", "direct_response")

#: default program-score weights per campaign objective: reach, shares, revenue
DEFAULT_OBJECTIVE_WEIGHTS: dict[str, dict[str, float]] = {
    "awareness": {"reach": 0.6, "shares": 0.3, "revenue": 0.1},
    "engagement": {"reach": 0.2, "shares": 0.6, "revenue": 0.2},
    "direct_response": {"reach": 0.1, "shares": 0.2, "revenue": 0.7},
}


class CampaignConfig(BaseModel):
    """Per-campaign settings: the objective its program score is weighted by."""

    objective: str = "awareness"

    @field_validator("objective")
    @classmethod
    def _known_objective(cls, value: str) -> str:
        if value not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
        return value


GOALS = ("awareness", "reputation", "community", "conversion", "leads", "service", "crisis")


def _rule_limits(value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    from socialpulse.alerts.rules import RULES

    for rule, limits in value.items():
        if rule not in RULES:
            raise ValueError(f"alerts: {rule!r} is not a rule ({', '.join(RULES)})")
        unknown = set(limits) - {"above", "below"}
        if unknown:
            raise ValueError(f"alerts.{rule}: unknown keys {sorted(unknown)} (above, below)")
    return value


class BrandConfig(BaseModel):
    """Per-brand settings from the config file."""

    model_config = {"extra": "allow"}

    goal: str | None = Field(None, description="One of GOALS: its headline KPIs lead the boards.")
    campaigns: dict[str, CampaignConfig] = Field(default_factory=dict)
    alerts: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Fixed limits per rule: {rule: {above: x, below: y}}."
    )

    @field_validator("alerts")
    @classmethod
    def _known_rules(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return _rule_limits(value)

    @field_validator("goal")
    @classmethod
    def _known_goal(cls, value: str | None) -> str | None:
        if value is not None and value not in GOALS:
            raise ValueError(f"goal must be one of {', '.join(GOALS)}")
        return value


class AlertsConfig(BaseModel):
    """The config file's ``alerts`` section: where alerts go, and detector tuning."""

    model_config = {"extra": "forbid", "hide_input_in_errors": True}  # URLs hold secrets

    notify: list[str] = Field(default_factory=list, description="Webhook or Apprise URLs.")
    tuning: dict[str, float] = Field(default_factory=dict, description="Tuning overrides.")

    @field_validator("tuning")
    @classmethod
    def _known_tuning(cls, value: dict[str, float]) -> dict[str, float]:
        from dataclasses import fields

        from socialpulse.alerts.rules import Tuning

        known = {f.name for f in fields(Tuning)}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"alerts.tuning: unknown keys {sorted(unknown)}")
        return value

    @field_validator("notify")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        from socialpulse.alerts.notify import notifier_for

        for url in value:
            notifier_for(url)  # ValueError names the URL
        return value


class FileConfig(BaseModel):
    """The optional YAML/JSON config file named by ``SOCIALPULSE_CONFIG_FILE``."""

    model_config = {"extra": "allow", "hide_input_in_errors": True}  # notify URLs hold secrets

    brands: dict[str, BrandConfig] = Field(default_factory=dict)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    competitor_groups: dict[str, list[str]] = Field(default_factory=dict)
    objective_weights: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_OBJECTIVE_WEIGHTS.items()}
    )

    @field_validator("objective_weights")
    @classmethod
    def _weights(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        merged = {k: dict(v) for k, v in DEFAULT_OBJECTIVE_WEIGHTS.items()}
        for objective, weights in value.items():
            if objective not in OBJECTIVES:
                raise ValueError(f"objective_weights: {objective!r} is not one of {OBJECTIVES}")
            unknown = set(weights) - {"reach", "shares", "revenue"}
            if unknown:
                raise ValueError(f"objective_weights.{objective}: unknown keys {sorted(unknown)}")
            merged[objective].update(weights)
        return merged

    def objective(self, brand: str, campaign: str) -> str:
        """The campaign's objective (awareness when the config does not say)."""
        config = self.brands.get(brand)
        campaigns = config.campaigns if config else {}
        return campaigns[campaign].objective if campaign in campaigns else "awareness"


class Settings(BaseSettings):
    """Runtime settings; each field is ``SOCIALPULSE_<FIELD NAME IN CAPITALS>``."""

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
    web_host: str = Field("127.0.0.1", description="Address the worker's HTTP server binds to.")
    web_port: int = Field(6066, description="Port of the worker's HTTP server (`/metrics`).")
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
    topic_partitions: int = Field(4, ge=1, description="Partitions of the events topic.")
    events_topic: str = Field("social-events", description="Topic producers write events to.")
    dlq_topic: str = Field("social-events-dlq", description="Dead-letter topic for bad input.")
    alerts_topic: str = Field("social-alerts", description="Topic alert events are written to.")
    app_id: str = Field("socialpulse", description="Faust app id: consumer group and prefix.")
    config_file: Path | None = Field(None, description="Optional YAML/JSON per-brand config.")
    allowed_lateness: float = Field(
        600.0, ge=0, description="Seconds an event may lag its brand's watermark and still count."
    )
    source_idle: float = Field(
        30.0,
        gt=0,
        description=(
            "Seconds after which a partition that has stopped bringing a brand's events no "
            "longer holds the brand's watermark back (unkeyed producers)."
        ),
    )
    max_future: float = Field(
        300.0, ge=0, description="Seconds an event's time may lie ahead of the wall clock."
    )
    max_envelope_events: int = Field(10_000, ge=1, description="Most events in one envelope.")
    max_message_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest accepted Kafka message value, in bytes."
    )
    batch_max: int = Field(5_000, ge=1, description="Most messages the KPI agent takes per batch.")
    batch_within: float = Field(
        0.05, gt=0, description="Seconds the KPI agent waits to fill one (latency at low load)."
    )
    fetch_max_wait: float = Field(
        0.05,
        gt=0,
        le=30,
        description=(
            "Seconds a fetch may wait for data (Faust's fixed 1.5 s adds up to 1.5 s of "
            "latency on the embedded broker, which holds fetches for the whole wait)."
        ),
    )
    platform_cap: int = Field(20, ge=1, description="Platform label values per brand, then other.")
    campaign_cap: int = Field(50, ge=1, description="Campaign label values per brand, then other.")
    session_timeout: float = Field(
        10.0, gt=0, description="Kafka consumer session timeout (seconds); see docs/deployment.md."
    )
    enrich: bool = Field(
        True,
        description=(
            "Detect language, score sentiment and extract hashtags for events with `text` "
            "that lack them."
        ),
    )
    enrich_processes: int = Field(
        1,
        ge=0,
        le=16,
        description=(
            "Helper processes that enrich a batch's texts while the worker counts its other "
            "events; 0 enriches in the worker itself."
        ),
    )
    sentiment_model: Literal["fast", "model"] = Field(
        "fast",
        description=(
            "Sentiment scorer: `fast` (lexicons, ~10,000 texts/s per process; the demo and "
            "the bench use it) or `model` (e5 embedding and a trained head, ~38 texts/s per "
            "process, macro-F1 65–72 on real tweets; needs `socialpulse[model]`); see "
            "docs/sentiment.md."
        ),
    )
    alert_notify: str = Field(
        "",
        description=(
            "Comma-separated alert receivers: http(s) webhook URLs (JSON POST) and Apprise URLs "
            "(slack://, mailto://, tgram://, msteams://, …), besides the config file's."
        ),
    )
    alert_console: bool = Field(True, description="Log every alert event on the console.")
    store: str = Field("memory://", description="Faust table store URL.")
    timezone: str = Field(
        "UTC", description="IANA time zone of the best-time-to-post hours, e.g. Europe/Warsaw."
    )
    producer_batch_bytes: int = Field(
        1,
        ge=1,
        description=(
            "Worker producer batch size in bytes. 1 sends one record per batch: the embedded "
            "broker (Tansu 0.6) reports a wrong high watermark after multi-record batches, which "
            "the lag metrics read. With Apache Kafka use 65536."
        ),
    )
    # -- Kafka TLS and SASL (agents/kafka_security.py builds the clients' settings) --------
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

    @model_validator(mode="after")
    def _ingest_bounds(self) -> Settings:
        if self.ingest_max_held_bytes < self.ingest_max_bytes:
            raise ValueError(
                "SOCIALPULSE_INGEST_MAX_HELD_BYTES must be at least SOCIALPULSE_INGEST_MAX_BYTES"
            )
        return self

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kafka_security(self) -> Settings:
        from socialpulse.agents.kafka_security import check

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

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        bootstrap_servers(value)  # raises ValueError on a malformed URL
        return value

    @property
    def bootstrap(self) -> str:
        """The broker URL as a Kafka client's ``bootstrap.servers`` string."""
        return bootstrap_servers(self.broker)

    def load_file_config(self) -> FileConfig:
        """Read the per-brand config file, or an empty config when none is set."""
        if self.config_file is None:
            return FileConfig()
        return load_file_config(self.config_file)


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


def load_file_config(path: Path) -> FileConfig:
    """Parse a YAML (or JSON, a subset of YAML) config file with a clear error."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"config file {path} is not valid YAML: {exc}") from exc
    try:
        return FileConfig.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigFileError(f"config file {path} is invalid: {exc}") from exc
