"""The worker's settings (``SOCIALPULSE_*`` environment variables) and the config file.

:class:`WorkerSettings` extends the Kafka connection every process shares
(``streams.settings.KafkaSettings``); the producers and the HTTP ingest read their own
(``streams.settings``). :class:`FileConfig` is the optional per-brand YAML/JSON file of
``SOCIALPULSE_CONFIG_FILE``, read once by the process that needs it
(``WorkerSettings.file_config``) and handed on; its ``alerts`` parts are validated by the
alerts package (``alerts.config``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from socialpulse.alerts.config import AlertsConfig, check_rule_limits
from socialpulse.streams.settings import KafkaSettings


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
        return check_rule_limits(value)

    @field_validator("goal")
    @classmethod
    def _known_goal(cls, value: str | None) -> str | None:
        if value is not None and value not in GOALS:
            raise ValueError(f"goal must be one of {', '.join(GOALS)}")
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


class WorkerSettings(KafkaSettings):
    """The worker's settings (``socialpulse worker``, and the demo's and bench's workers):
    the Kafka connection (``KafkaSettings``) and what counting, alerting and serving
    need. Each field is ``SOCIALPULSE_<FIELD NAME IN CAPITALS>``."""

    web_host: str = Field("127.0.0.1", description="Address the worker's HTTP server binds to.")
    web_port: int = Field(6066, description="Port of the worker's HTTP server (`/metrics`).")
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

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    def file_config(self) -> FileConfig:
        """Read the per-brand config file, or an empty config when none is set. A process
        reads it once, at its start, and hands the result to what needs it."""
        if self.config_file is None:
            return FileConfig()
        return load_file_config(self.config_file)


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
