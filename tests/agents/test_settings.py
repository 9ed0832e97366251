"""Tests of the settings object, the broker URL parsing and the per-brand config file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from socialpulse.agents.settings import (
    BrandConfig,
    ConfigFileError,
    FileConfig,
    WorkerSettings,
    load_file_config,
)
from socialpulse.streams.settings import (
    IngestSettings,
    KafkaSettings,
    ProducerSettings,
    bootstrap_servers,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SOCIALPULSE_* variable of the surrounding shell may leak into a test."""
    for name in list(os.environ):
        if name.upper().startswith("SOCIALPULSE_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    s = WorkerSettings()
    assert s.broker == "kafka://127.0.0.1:9092"
    assert s.bootstrap == "127.0.0.1:9092"
    assert s.web_port == 6066
    assert s.web_host == "127.0.0.1"
    assert s.topic_partitions == 4
    assert s.events_topic == "social-events"
    assert s.dlq_topic == "social-events-dlq"
    assert s.alerts_topic == "social-alerts"
    assert s.max_envelope_events == 10_000
    assert s.config_file is None


def test_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALPULSE_WEB_PORT", "7000")
    monkeypatch.setenv("SOCIALPULSE_BROKER", "kafka://a:1;kafka://b:2")
    monkeypatch.setenv("SOCIALPULSE_TOPIC_PARTITIONS", "8")
    monkeypatch.setenv("SOCIALPULSE_DLQ_TOPIC", "dead")
    s = WorkerSettings()
    assert s.web_port == 7000
    assert s.bootstrap == "a:1,b:2"
    assert s.topic_partitions == 8
    assert s.dlq_topic == "dead"
    assert s.events_topic == "social-events"


def test_env_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("socialpulse_web_port", "7001")
    assert WorkerSettings().web_port == 7001


def test_unrelated_env_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALPULSE_NOT_A_SETTING", "x")
    monkeypatch.setenv("WEB_PORT", "1")
    assert WorkerSettings().web_port == 6066


@pytest.mark.parametrize(
    ("url", "servers"),
    [
        ("kafka://h:1", "h:1"),
        ("kafka://a:1;kafka://b:2", "a:1,b:2"),
        ("kafka://a:1,kafka://b:2", "a:1,b:2"),
        ("kafka://a:1; kafka://b:2;", "a:1,b:2"),
        ("kafka://broker.example.com:9092/", "broker.example.com:9092"),
        ("aiokafka://h:9092", "h:9092"),
        ("tcp://h:9092", "h:9092"),
        ("h:9092", "h:9092"),
        ("127.0.0.1:9092", "127.0.0.1:9092"),
    ],
)
def test_bootstrap_servers(url: str, servers: str) -> None:
    assert bootstrap_servers(url) == servers


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kafka://nohost", "is not host:port"),
        ("kafka://h:", "is not host:port"),
        ("kafka://:9092", "is not host:port"),
        ("kafka://h:port", "is not host:port"),
        ("http://x:1", "unsupported broker scheme 'http'"),
        ("kafka://a:1;http://b:2", "unsupported broker scheme 'http'"),
        ("", "no broker address"),
        (" ; ", "no broker address"),
    ],
)
def test_bootstrap_servers_errors(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_servers(url)


@pytest.mark.parametrize("url", ["kafka://nohost", "http://x:1", ""])
def test_invalid_broker_env_raises_validation_error(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("SOCIALPULSE_BROKER", url)
    with pytest.raises(ValidationError) as info:
        WorkerSettings()
    assert info.value.errors()[0]["loc"] == ("broker",)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SOCIALPULSE_WEB_PORT", "not-a-port"),
        ("SOCIALPULSE_TOPIC_PARTITIONS", "0"),
        ("SOCIALPULSE_MAX_MESSAGE_BYTES", "100"),
        ("SOCIALPULSE_ALLOWED_LATENESS", "-1"),
    ],
)
def test_invalid_env_values_raise(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        WorkerSettings()


def test_each_process_reads_only_its_own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # an invalid worker variable does not stop a producer or the ingest, and the other way
    monkeypatch.setenv("SOCIALPULSE_ALLOWED_LATENESS", "-1")
    monkeypatch.setenv("SOCIALPULSE_INGEST_MAX_BYTES", "1")
    assert ProducerSettings().events_topic == "social-events"
    with pytest.raises(ValidationError, match="allowed_lateness"):
        WorkerSettings()
    with pytest.raises(ValidationError, match="ingest_max_bytes"):
        IngestSettings()
    monkeypatch.delenv("SOCIALPULSE_INGEST_MAX_BYTES")
    assert IngestSettings().ingest_port == 8088
    worker_only = set(WorkerSettings.model_fields) - set(KafkaSettings.model_fields)
    ingest_only = set(IngestSettings.model_fields) - set(KafkaSettings.model_fields)
    assert "allowed_lateness" in worker_only and "ingest_token" in ingest_only
    assert not worker_only & set(IngestSettings.model_fields)
    assert not ingest_only & set(WorkerSettings.model_fields)
    assert set(ProducerSettings.model_fields) == set(KafkaSettings.model_fields)


def test_settings_are_frozen() -> None:
    s = WorkerSettings()
    with pytest.raises(ValidationError):
        s.web_port = 1  # type: ignore[misc]


# -- the per-brand config file --------------------------------------------------------------
CONFIG_YAML = """\
brands:
  acme:
    goal: awareness
    alert_threshold: 0.3
  globex: {}
competitor_groups:
  soda: [acme, globex, initech]
"""


def test_load_file_config_yaml(tmp_path: Path) -> None:
    path = tmp_path / "brands.yaml"
    path.write_text(CONFIG_YAML, encoding="utf-8")
    config = load_file_config(path)
    assert isinstance(config, FileConfig)
    assert set(config.brands) == {"acme", "globex"}
    assert isinstance(config.brands["acme"], BrandConfig)
    assert config.brands["acme"].goal == "awareness"
    assert config.brands["acme"].model_extra == {"alert_threshold": 0.3}
    assert config.brands["globex"].goal is None
    assert config.competitor_groups == {"soda": ["acme", "globex", "initech"]}


def test_load_file_config_json(tmp_path: Path) -> None:
    path = tmp_path / "brands.json"
    path.write_text('{"brands": {"acme": {"goal": "leads"}}}', encoding="utf-8")
    config = load_file_config(path)
    assert config.brands["acme"].goal == "leads"
    assert config.competitor_groups == {}


def test_load_file_config_unknown_goal_names_the_goals(tmp_path: Path) -> None:
    path = tmp_path / "brands.yml"
    path.write_text("brands:\n  acme:\n    goal: sales\n", encoding="utf-8")
    with pytest.raises(ConfigFileError, match="awareness, reputation, community") as info:
        load_file_config(path)
    assert str(path) in str(info.value)


def test_load_file_config_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    config = load_file_config(path)
    assert config.brands == {}
    assert config.competitor_groups == {}


def test_settings_load_file_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert WorkerSettings().file_config() == FileConfig()
    path = tmp_path / "brands.yaml"
    path.write_text(CONFIG_YAML, encoding="utf-8")
    monkeypatch.setenv("SOCIALPULSE_CONFIG_FILE", str(path))
    s = WorkerSettings()
    assert s.config_file == path
    assert s.file_config().brands["acme"].goal == "awareness"


def test_missing_config_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigFileError) as info:
        load_file_config(path)
    assert str(path) in str(info.value)
    assert "cannot read config file" in str(info.value)


def test_bad_yaml_config_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("brands: [unclosed\n  acme: {goal: x\n", encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_file_config(path)
    assert str(path) in str(info.value)
    assert "is not valid YAML" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "brands: 5\n",
        "competitor_groups: {soda: acme}\n",
        "brands: {acme: {goal: [1, 2]}}\n",
        "- just\n- a list\n",
    ],
)
def test_invalid_config_structure(tmp_path: Path, text: str) -> None:
    path = tmp_path / "invalid.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_file_config(path)
    assert str(path) in str(info.value)
    assert "is invalid" in str(info.value)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigFileError, ValueError)
