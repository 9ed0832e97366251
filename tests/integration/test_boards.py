"""Every panel of every board returns data: the demo, a real Prometheus scraping it, and
each panel query (template variables substituted) through Prometheus' HTTP API.

The demo runs as a user starts it (``socialpulse demo``), with a shorter history and an
earlier crisis: 30 minutes of past event time first, then the live stream, and a crisis
for the last brand 20 s later. Prometheus (the Debian package) scrapes the worker every
second and loads the alert rules from ``alerts/``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from socialpulse.agents.kpis import GOAL_KPIS
from socialpulse.cli.demo import DEMO_GOALS
from socialpulse.grafana.boards.common import headline_query
from socialpulse.streams.vocabulary import DEFAULT_BRANDS
from tests.integration.conftest import CLI, free_port, wait_port
from tests.system_tools import require

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "grafana" / "dashboards").glob("*.json"))
BRANDS = list(DEFAULT_BRANDS[:4])
CRISIS_BRAND = BRANDS[-1]
WINDOWS = ("5m", "1h", "24h")
RATE_INTERVAL = "30s"  # what Grafana's $__rate_interval is at a 1 s scrape and 5 s step
RANGE_SECONDS, STEP = 180, 5


@dataclass
class Prometheus:
    url: str
    log: Path
    #: a moment (epoch s) when Prometheus had the demo's crisis firing, alert rule and all:
    #: the crisis checks look at it then, not whether it still fires after earlier tests
    firing_at: float = 0.0

    def get(self, path: str, **params: str | float) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=30) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def instant(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, str | float] = {"query": expr}
        if at is not None:
            params["time"] = at
        data = self.get("/api/v1/query", **params)
        assert data["resultType"] in ("vector", "scalar"), data
        return data["result"] if data["resultType"] == "vector" else [{"value": data["result"]}]

    def range(self, expr: str, end: float | None = None) -> list[dict[str, Any]]:
        end = time.time() if end is None else end
        data = self.get(
            "/api/v1/query_range", query=expr, start=end - RANGE_SECONDS, end=end, step=STEP
        )
        result: list[dict[str, Any]] = data["result"]
        return result


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = require("prometheus", "prometheus")
    tmp = tmp_path_factory.mktemp("boards")
    port, web, prom_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        SOCIALPULSE_BROKER=f"kafka://127.0.0.1:{port}",
        SOCIALPULSE_WEB_PORT=str(web),
        SOCIALPULSE_APP_ID=f"boards-{uuid.uuid4().hex[:8]}",
    )
    env.pop("SOCIALPULSE_CONFIG_FILE", None)  # the demo's own config: goals, one group
    demo_log = tmp / "demo.log"
    demo = subprocess.Popen(
        [*CLI, "demo", "--rate", "150", "--history", "1800", "--crisis-in", "20"],
        env=env,
        cwd=tmp,
        stdout=demo_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(REPO / "alerts" / "socialpulse.rules.yml")],
        "scrape_configs": [
            {"job_name": "socialpulse", "static_configs": [{"targets": [f"127.0.0.1:{web}"]}]}
        ],
    }
    config_path = tmp / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    prom_log = tmp / "prometheus.log"
    prom = subprocess.Popen(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--log.level=warn",
        ],
        stdout=prom_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Prometheus(f"http://127.0.0.1:{prom_port}", prom_log)
    started = time.monotonic()
    try:
        assert wait_port(prom_port, 30), prom_log.read_text()
        assert wait_port(web, 120), demo_log.read_text()
        firing = None
        # the crisis is a negative burst: other rules (negative_exposure) may fire before it,
        # so wait for this one rule, on the worker's gauge and in Prometheus' alert rule
        crisis = f'brand="{CRISIS_BRAND}",rule="negative_sentiment"'
        rule = f'ALERTS{{alertname="SocialPulseAlert",{crisis},alertstate="firing"}}'
        while time.monotonic() - started < 300:
            assert demo.poll() is None, demo_log.read_text()[-3000:]
            gauge = f"socialpulse_alert_firing{{{crisis}}} == 1"
            if server.instant(gauge) and server.instant(rule):  # the rule has evaluated it too
                server.firing_at = time.time()
                firing = time.monotonic() - started
                break
            time.sleep(1)
        assert firing is not None, "the demo's crisis raised no alert within 300 s"
        print(
            f"\nboards: the demo's crisis alert was firing in Prometheus {firing:.0f} s after start"
        )
        # a minute of scrapes at least, for the rates and ranges of the panels
        scrapes = 'count_over_time(up{job="socialpulse"}[5m]) >= 60'
        while not server.instant(scrapes):
            assert time.monotonic() - started < 600, "Prometheus never got 60 scrapes"
            assert demo.poll() is None, demo_log.read_text()[-3000:]
            time.sleep(1)
        yield server
    finally:
        for proc in (demo, prom):
            proc.send_signal(signal.SIGTERM)
        for proc in (demo, prom):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


# ----------------------------------------------------------------------------- substitution


def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels") or [])


def repeated(board: dict[str, Any]) -> set[int]:
    """Ids of the panels inside a row repeated per brand."""
    ids: set[int] = set()
    inside = False
    for panel in board["panels"]:
        if panel["type"] == "row":
            inside = panel.get("repeat") == "brand"
        elif inside:
            ids.add(panel["id"])
    return ids


def substitute(expr: str, values: dict[str, str]) -> str:
    expr = expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", "5s")
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def value_sets(board: dict[str, Any], panel_id: int, repeats: set[int]) -> list[dict[str, str]]:
    """The variable values a panel is checked with: the defaults, every window, and every
    brand for a panel in a repeated row (or a board that shows one brand at a time)."""
    variables = {v["name"]: v for v in board["templating"]["list"]}
    base = {"platform": "all", "campaign": "all", "window": "1h", "job": ".*"}
    brand = variables.get("brand")
    if brand is None:
        return [base]
    if panel_id in repeats or not brand["multi"]:
        sets = [dict(base, brand=b) for b in BRANDS]
    else:
        sets = [dict(base, brand=".*")]
    return sets + [dict(sets[0], window=w) for w in WINDOWS if w != "1h"]


def has_data(result: list[dict[str, Any]]) -> bool:
    """At least one series with at least one finite value."""
    for series in result:
        points = series.get("values") or [series["value"]]
        if any(math.isfinite(float(v)) for _, v in points):
            return True
    return False


# ----------------------------------------------------------------------------- the tests


def test_prometheus_scrapes_the_demo_and_loads_the_rules(prometheus: Prometheus) -> None:
    targets = prometheus.get("/api/v1/targets")["activeTargets"]
    assert [t["health"] for t in targets] == ["up"], targets
    groups = prometheus.get("/api/v1/rules")["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert "SocialPulseAlert" in names
    # the rule on the worker's gauge saw the demo's crisis (while it was firing)
    alerts = prometheus.instant('ALERTS{alertname="SocialPulseAlert"}', at=prometheus.firing_at)
    assert any(a["metric"].get("brand") == CRISIS_BRAND for a in alerts), alerts


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_variable_has_values(prometheus: Prometheus, path: Path) -> None:
    board = json.loads(path.read_text(encoding="utf-8"))
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = substitute(variable["query"]["query"], {"brand": ".*"})
        inner, label = query.removeprefix("label_values(").removesuffix(")").rsplit(",", 1)
        series = prometheus.get("/api/v1/series", **{"match[]": inner.strip()})
        values = {s[label.strip()] for s in series if label.strip() in s}
        assert values, f"{path.stem}: variable {variable['name']} has no values"
        if variable["name"] == "brand":
            assert set(BRANDS) <= values
        if variable["name"] in ("platform", "campaign"):
            assert "all" in values and len(values) > 1


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_query_returns_data(prometheus: Prometheus, path: Path) -> None:
    board = json.loads(path.read_text(encoding="utf-8"))
    repeats = repeated(board)
    empty: list[str] = []
    checked = 0
    for panel in walk(board["panels"]):
        if panel["type"] == "row":
            continue
        for target in panel["targets"]:
            for values in value_sets(board, panel["id"], repeats):
                expr = substitute(target["expr"], values)
                run = prometheus.instant if target["instant"] else prometheus.range
                checked += 1
                if not has_data(run(expr)):
                    shown = {k: v for k, v in values.items() if k in target["expr"]}
                    empty.append(f"{panel['title']!r} {target['refId']} {shown}")
    print(f"\nboards: {path.stem}: {checked} panel queries, {len(empty)} without data")
    assert not empty, f"{path.stem}: panels without data:\n" + "\n".join(empty)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_annotation_query_runs(prometheus: Prometheus, path: Path) -> None:
    board = json.loads(path.read_text(encoding="utf-8"))
    for item in board["annotations"]["list"]:
        if "expr" in item:
            expr = substitute(item["expr"], {"brand": ".*"})
            result = prometheus.range(expr, end=prometheus.firing_at + STEP)
            assert {s["metric"]["brand"] for s in result} >= {CRISIS_BRAND}, item["name"]


def test_headline_kpis_follow_each_brands_goal(prometheus: Prometheus) -> None:
    for i, brand in enumerate(BRANDS):
        goal = DEMO_GOALS[i]
        expr = substitute(headline_query(brand), {"platform": "all", "window": "1h"})
        shown = {s["metric"]["kpi"] for s in prometheus.instant(expr)}
        assert shown <= set(GOAL_KPIS[goal]), (brand, goal, shown)
        assert len(shown) >= len(GOAL_KPIS[goal]) - 1, (brand, goal, shown)


def test_the_alerts_table_shows_the_crisis(prometheus: Prometheus) -> None:
    rows = prometheus.instant(
        'max by (brand, rule, severity) (socialpulse_alert_firing{brand=~".*"})',
        at=prometheus.firing_at,
    )
    firing = {(r["metric"]["brand"], r["metric"]["rule"]) for r in rows if r["value"][1] == "1"}
    assert (CRISIS_BRAND, "negative_sentiment") in firing, rows


def test_the_check_can_fail_a_panel_for_a_brand_without_events(prometheus: Prometheus) -> None:
    board = json.loads((REPO / "grafana" / "dashboards" / "crisis.json").read_text())
    panels = walk(board["panels"])
    [panel] = [p for p in panels if p["title"] == "Net sentiment" and p["type"] == "timeseries"]
    values = {"brand": "nobody", "platform": "all", "campaign": "all", "window": "1h"}
    assert not has_data(prometheus.range(substitute(panel["targets"][0]["expr"], values)))
    values["brand"] = CRISIS_BRAND
    assert has_data(prometheus.range(substitute(panel["targets"][0]["expr"], values)))
