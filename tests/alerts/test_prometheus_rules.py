"""The Alertmanager rules file: valid, unit-tested with promtool, on metrics that exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.system_tools import require

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "socialpulse.rules.yml"
RULE_TESTS = ROOT / "alerts" / "socialpulse.rules.test.yml"


def promtool() -> str:
    return require("promtool", "prometheus")


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


def test_promtool_unit_tests_the_rules() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_use_metrics_socialpulse_exports() -> None:
    readme = (ROOT / "docs" / "kpis.md").read_text(encoding="utf-8")  # the metrics table
    used = set(re.findall(r"\bsocialpulse_[a-z_]+", RULES.read_text(encoding="utf-8")))
    assert used
    for name in used:
        base = name.removesuffix("_total")
        assert f"`{base}" in readme or f"`{name}" in readme, name


def amtool() -> str:
    return require("amtool", "prometheus-alertmanager")


def test_promtool_checks_the_compose_prometheus_config(tmp_path: Path) -> None:
    # rule_files point inside the container (/etc/prometheus/rules): check the file with
    # that glob aimed at the repo's alerts/, so the rules it would load are checked too
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/rules/*.rules.yml"]
    config["rule_files"] = [str(ROOT / "alerts" / "*.rules.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = subprocess.run(
        [promtool(), "check", "config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout + result.stderr


def test_promtool_refuses_a_broken_config(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text("scrape_configs:\n  - job_name: x\n    scrape_interval: soon\n")
    result = subprocess.run([promtool(), "check", "config", str(path)], capture_output=True)
    assert result.returncode != 0


def test_amtool_checks_the_alertmanager_example() -> None:
    result = subprocess.run(
        [amtool(), "check-config", str(ROOT / "deploy" / "alertmanager.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
