"""Static checks of the deployment files: no Docker, no network, only parsing.

They tie docker-compose.yml, the Dockerfile, deploy/*.yml and the Grafana files to the code:
every ``SOCIALPULSE_*`` variable is a real setting, Prometheus scrapes the worker where it
listens, and every metric a dashboard queries is one the worker exports.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from socialpulse.agents.kpis import CATALOGUE
from socialpulse.agents.settings import WorkerSettings, load_file_config
from socialpulse.cli.docs import SETTINGS_KINDS

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
PROMETHEUS_FILE = REPO / "deploy" / "prometheus.yml"
ALERTMANAGER_FILE = REPO / "deploy" / "alertmanager.yml"
DASHBOARDS = sorted((REPO / "grafana" / "dashboards").glob("*.json"))
GRAFANA_PROVISIONING = REPO / "grafana" / "provisioning"

SERVICES = {"kafka", "worker", "generator", "prometheus", "alertmanager", "grafana"}
APP_SERVICES = ("worker", "generator")
ENV_PREFIX = str(WorkerSettings.model_config.get("env_prefix", "SOCIALPULSE_")).upper()
SETTING_VARS = {
    f"{ENV_PREFIX}{name.upper()}" for kind, _ in SETTINGS_KINDS for name in kind.model_fields
}
GOALS = {"awareness", "reputation", "community", "conversion", "leads", "service", "crisis"}

#: gauges labelled {brand, platform, campaign, window}
WINDOW_METRICS = {kpi.metric for kpi in CATALOGUE} | {"socialpulse_sentiment_events"}
HISTOGRAMS = {"socialpulse_batch_seconds"}
KNOWN_METRICS = WINDOW_METRICS | {
    "socialpulse_events_total",
    "socialpulse_event_volume_total",
    "socialpulse_events_rejected_total",
    "socialpulse_events_duplicate_total",
    "socialpulse_dead_letters_total",
    *HISTOGRAMS,
    *(f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")),
}
METRIC_RE = re.compile(r"\b(socialpulse_[a-z0-9_]+)\b(\s*\{[^}]*\})?")


# --------------------------------------------------------------------------- helpers


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    return compose["services"][name]


def environment(svc: dict[str, Any]) -> dict[str, str]:
    """A service's ``environment`` (mapping or ``KEY=VALUE`` list) as strings."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def mounts(svc: dict[str, Any]) -> list[tuple[str, str]]:
    """``(source, target)`` of every volume entry, short or long syntax."""
    result = []
    for entry in svc.get("volumes") or []:
        if isinstance(entry, dict):
            result.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            source, _, rest = str(entry).partition(":")
            result.append((source, rest.split(":")[0]))
    return result


def is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def mount_source_for(svc: dict[str, Any], target: str) -> Path:
    for source, mounted in mounts(svc):
        if mounted.rstrip("/") == target.rstrip("/") and is_host_path(source):
            return (REPO / source).resolve()
    raise AssertionError(f"nothing from the repo is mounted at {target}")


def covering_mount(svc: dict[str, Any], container_path: str) -> tuple[Path, PurePosixPath]:
    """The host path mounted at ``container_path`` or at a folder above it, and the rest."""
    path = PurePosixPath(container_path)
    for source, target in mounts(svc):
        if not is_host_path(source):
            continue
        try:
            rest = path.relative_to(PurePosixPath(target))
        except ValueError:
            continue
        return (REPO / source).resolve(), rest
    raise AssertionError(f"no repo path is mounted at or above {container_path}")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Dockerfile, continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending)
    result = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def exec_form(args: str) -> list[str]:
    """A JSON (exec form) argument list, or the shell form split into words."""
    if args.startswith("["):
        return json.loads(args)
    return shlex.split(args)


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels") or [])


def load_dashboard(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- compose


def test_compose_has_all_services(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the Compose spec has no `version:` key"
    assert set(compose["services"]) >= SERVICES


def test_kafka_runs_kraft_without_zookeeper(compose: dict[str, Any]) -> None:
    kafka = service(compose, "kafka")
    env = environment(kafka)
    roles = {role.strip() for role in env["KAFKA_PROCESS_ROLES"].split(",")}
    assert {"broker", "controller"} <= roles
    assert env.get("KAFKA_CONTROLLER_QUORUM_VOTERS")
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert "kafka-broker-api-versions.sh" in json.dumps(kafka["healthcheck"]["test"])
    for name, svc in compose["services"].items():
        assert "zookeeper" not in name.lower()
        assert "zookeeper" not in str(svc.get("image", "")).lower()
    # every named volume used is declared
    declared = set(compose.get("volumes") or {})
    for svc in compose["services"].values():
        for source, _ in mounts(svc):
            if source and not is_host_path(source):
                assert source in declared, f"volume {source} is not declared"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_from_repo_dockerfile(compose: dict[str, Any], name: str) -> None:
    build = service(compose, name)["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = (REPO / build.get("context", ".")).resolve()
    assert context == REPO
    assert (context / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    assert DOCKERFILE.is_file()


def test_socialpulse_variables_are_settings(compose: dict[str, Any]) -> None:
    used = set(re.findall(rf"\b{ENV_PREFIX}[A-Z0-9_]+\b", COMPOSE_FILE.read_text("utf-8")))
    for svc in compose["services"].values():
        used |= {key for key in environment(svc) if key.startswith(ENV_PREFIX)}
    assert used, "compose sets no SOCIALPULSE_* variable"
    unknown = used - SETTING_VARS
    assert not unknown, f"not fields of any settings: {sorted(unknown)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_environment_makes_valid_settings(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    env = environment(service(compose, name))
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            monkeypatch.setenv(key, value)
    settings = WorkerSettings()
    assert settings.bootstrap == "kafka:9092"


def test_worker_listens_on_all_interfaces_and_scales(compose: dict[str, Any]) -> None:
    worker = service(compose, "worker")
    env = environment(worker)
    assert env[f"{ENV_PREFIX}WEB_HOST"] == "0.0.0.0"
    port = env.get(f"{ENV_PREFIX}WEB_PORT", str(WorkerSettings.model_fields["web_port"].default))
    assert port in {str(p) for p in worker.get("expose", [])}
    # a fixed host port or container name would make `--scale worker=N` fail
    assert not worker.get("ports"), "the worker must not publish a fixed host port"
    assert "container_name" not in worker
    kafka_dep = worker["depends_on"]["kafka"]
    assert kafka_dep["condition"] == "service_healthy"


def test_generator_waits_for_kafka_and_worker(compose: dict[str, Any]) -> None:
    generator = service(compose, "generator")
    depends = generator["depends_on"]
    assert "worker" in depends
    assert depends["kafka"]["condition"] == "service_healthy"
    command = generator["command"]
    words = command if isinstance(command, list) else shlex.split(command)
    assert words[0] == "generate"
    assert f"{ENV_PREFIX}BROKER" in environment(generator)


def test_mounted_host_paths_exist(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        for source, _ in mounts(svc):
            if is_host_path(source):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"


def test_worker_config_file_is_mounted_and_valid(compose: dict[str, Any]) -> None:
    worker = service(compose, "worker")
    target = environment(worker)[f"{ENV_PREFIX}CONFIG_FILE"]
    host_file = mount_source_for(worker, target)
    config = load_file_config(host_file)
    assert config.brands
    for brand, brand_config in config.brands.items():
        assert brand_config.goal in GOALS, f"{brand}: unknown goal {brand_config.goal}"
    for group, members in config.competitor_groups.items():
        assert set(members) <= set(config.brands), f"group {group} names unknown brands"


def test_grafana_admin_password_comes_from_env(compose: dict[str, Any]) -> None:
    env = environment(service(compose, "grafana"))
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD")


def test_compose_matches_compose_spec_schema(compose: dict[str, Any]) -> None:
    """Validate against the Compose spec's JSON schema when check-jsonschema ships it."""
    jsonschema = pytest.importorskip("jsonschema")
    import importlib.util

    # only the vendored schema file is needed: importing check_jsonschema itself loads its
    # CLI, which raised "TypeError: type 'ParamType' is not subscriptable" with the click here
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("check-jsonschema (which ships the Compose schema) is not installed")
    package = Path(next(iter(spec.submodule_search_locations)))
    resource = package / "builtin_schemas" / "vendor" / "compose-spec.json"
    if not resource.is_file():
        pytest.skip("this check-jsonschema ships no compose-spec schema")
    schema = json.loads(resource.read_text(encoding="utf-8"))
    validator_cls = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_cls(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


# --------------------------------------------------------------------------- Prometheus


def test_prometheus_scrapes_every_worker_on_the_web_port(compose: dict[str, Any]) -> None:
    config = load_yaml(PROMETHEUS_FILE)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs["socialpulse"]
    env = environment(service(compose, "worker"))
    web_port = int(
        env.get(f"{ENV_PREFIX}WEB_PORT", WorkerSettings.model_fields["web_port"].default)
    )
    [dns] = job["dns_sd_configs"]
    assert dns["names"] == ["worker"]
    assert dns.get("type", "SRV") == "A"
    assert int(dns["port"]) == web_port
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert "prometheus" in jobs


def test_prometheus_config_rules_and_alertmanager_are_wired(compose: dict[str, Any]) -> None:
    prometheus = service(compose, "prometheus")
    assert mount_source_for(prometheus, "/etc/prometheus/prometheus.yml") == PROMETHEUS_FILE
    config = load_yaml(PROMETHEUS_FILE)
    assert config["global"]["scrape_interval"] == "5s"
    for pattern in config["rule_files"]:
        folder, rest = covering_mount(prometheus, str(PurePosixPath(pattern).parent))
        assert folder.is_dir() and rest == PurePosixPath("."), pattern
        for rules_file in folder.glob(PurePosixPath(pattern).name):
            rules = load_yaml(rules_file) or {}
            for group in rules.get("groups", []):
                assert group["name"] and isinstance(group["rules"], list), rules_file
    targets = [
        target
        for am in config["alerting"]["alertmanagers"]
        for static in am["static_configs"]
        for target in static["targets"]
    ]
    assert "alertmanager:9093" in targets
    alertmanager = service(compose, "alertmanager")
    assert mount_source_for(alertmanager, "/etc/alertmanager/alertmanager.yml").is_file()


def test_alertmanager_example_routes_by_brand() -> None:
    config = load_yaml(ALERTMANAGER_FILE)
    route = config["route"]
    assert {"brand", "alertname"} <= set(route["group_by"])
    receivers = {receiver["name"] for receiver in config["receivers"]}
    assert route["receiver"] in receivers
    assert config["inhibit_rules"]


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_installs_the_project_and_runs_socialpulse() -> None:
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11")

    copied: set[str] = set()
    for keyword, args in instructions:
        if keyword in {"COPY", "ADD"}:
            words = [w for w in exec_form(args) if not w.startswith("--")]
            copied |= {w.rstrip("/") for w in words[:-1]}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    package_dirs = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    assert package_dirs == {"streams", "agents", "alerts", "grafana", "cli"}
    assert "bench" not in copied  # a development tool of the checkout, not in the image
    assert package_dirs | {"pyproject.toml", "README.md"} <= copied

    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert "pip install --no-cache-dir ." in runs

    [entrypoint] = [args for keyword, args in instructions if keyword == "ENTRYPOINT"]
    assert exec_form(entrypoint) == ["socialpulse"]
    assert "socialpulse" in pyproject["project"]["scripts"]
    [cmd] = [args for keyword, args in instructions if keyword == "CMD"]
    assert exec_form(cmd)[0] == "worker"

    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert "EXPOSE" in keywords
    assert any("6066" in args for keyword, args in instructions if keyword == "EXPOSE")
    env_text = " ".join(args for keyword, args in instructions if keyword == "ENV")
    assert f"{ENV_PREFIX}WEB_HOST=0.0.0.0" in env_text


def test_dockerignore_keeps_what_the_image_needs() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = ["pyproject.toml", "README.md", "streams", "agents", "alerts", "agents/kpis.py"]
    for path in needed:
        for pattern in patterns:
            if pattern.startswith("!"):
                continue
            assert not fnmatch.fnmatch(path, pattern.lstrip("/")), f"{pattern} excludes {path}"
    assert ".git" in patterns


# --------------------------------------------------------------------------- Grafana


def test_grafana_provisioning_points_at_prometheus_and_dashboards(
    compose: dict[str, Any],
) -> None:
    grafana = service(compose, "grafana")
    assert mount_source_for(grafana, "/etc/grafana/provisioning") == GRAFANA_PROVISIONING

    datasources = [
        ds
        for path in sorted((GRAFANA_PROVISIONING / "datasources").glob("*.y*ml"))
        for ds in load_yaml(path)["datasources"]
    ]
    [prometheus] = [ds for ds in datasources if ds["uid"] == "prometheus"]
    assert prometheus["type"] == "prometheus"
    assert prometheus["url"] == "http://prometheus:9090"
    assert prometheus["isDefault"] is True
    assert "prometheus" in compose["services"]

    providers = [
        provider
        for path in sorted((GRAFANA_PROVISIONING / "dashboards").glob("*.y*ml"))
        for provider in load_yaml(path)["providers"]
    ]
    assert providers
    for provider in providers:
        folder, rest = covering_mount(grafana, provider["options"]["path"])
        assert (folder / rest).resolve() == (REPO / "grafana" / "dashboards").resolve()
