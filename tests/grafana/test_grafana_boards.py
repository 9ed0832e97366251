"""The Grafana boards: built from code, valid for Grafana 11, and tied to the metrics.

Static checks of every panel's structure; ``tests/integration/test_boards.py`` runs every
query against a real Prometheus scraping the demo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from socialpulse.agents.kpis import CATALOGUE, GOAL_KPIS
from socialpulse.cli.docs import metrics_markdown
from socialpulse.grafana import build
from socialpulse.grafana.boards import BOARDS
from socialpulse.grafana.boards.common import HEADLINE_KPIS, LOOKS, headline_query
from socialpulse.grafana.panels import Board, selector

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "grafana" / "dashboards"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
PANEL_TYPES = {"row", "stat", "timeseries", "table", "bargauge", "piechart"}
GRAFANA_GLOBALS = {"__rate_interval", "__interval", "__range", "__all"}
VARIABLE_RE = re.compile(r"\$\{?(\w+)")
METRIC_RE = re.compile(r"\b(socialpulse_[a-z0-9_]+)\b(\s*\{[^}]*\})?")
WINDOW_METRICS = {kpi.metric for kpi in CATALOGUE} | {"socialpulse_sentiment_events"}
#: metrics that do not come from socialpulse's own code
OTHER_METRICS = {"up", "scrape_duration_seconds"}
OTHER_PREFIXES = ("process_",)


def exported_metrics() -> set[str]:
    """Every metric name the worker exports, from the generated table of docs/kpis.md."""
    names = set(re.findall(r"^\| `(socialpulse_[a-z0-9_]+)` \| (\w+)", metrics_markdown(), re.M))
    out = set()
    for name, kind in names:
        out.add(name)
        if kind == "histogram":
            out |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return out


def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels") or [])


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def queries(board: dict[str, Any]) -> list[str]:
    """Every PromQL text of a board: panel targets, annotations, variable queries."""
    out = [t["expr"] for p in walk(board["panels"]) for t in p.get("targets", [])]
    out += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            out.append(variable["query"]["query"])
    return out


# ----------------------------------------------------------------------------- files


def test_json_files_are_the_boards_the_code_builds() -> None:
    stale = build.build(DASHBOARD_DIR, check=True)
    assert not stale, f"run `make boards`: {stale}"
    assert {p.stem for p in DASHBOARDS} == set(BOARDS)


def test_build_check_reports_a_stale_file(tmp_path: Path) -> None:
    assert build.main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.json" for n in BOARDS)
    assert build.main([str(tmp_path), "--check"]) == 0
    (tmp_path / "crisis.json").write_text("{}", encoding="utf-8")
    assert build.main([str(tmp_path), "--check"]) == 1
    assert build.main([str(tmp_path / "missing")]) == 2


def test_six_boards_with_unique_uids_and_titles() -> None:
    boards = [load(p) for p in DASHBOARDS]
    assert len(boards) == 6
    assert len({b["uid"] for b in boards}) == 6
    assert len({b["title"] for b in boards}) == 6
    assert all(len(b["uid"]) <= 40 for b in boards)  # Grafana's limit


# ----------------------------------------------------------------------------- structure


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_board_is_valid_for_grafana_11(path: Path) -> None:
    board = load(path)
    assert board["schemaVersion"] >= 39  # Grafana 11.0
    assert board["uid"] and board["title"] and "socialpulse" in board["tags"]
    assert board["time"] == {"from": "now-1h", "to": "now"} and board["refresh"]
    names = [v["name"] for v in board["templating"]["list"]]
    assert names[0] == "datasource" and len(names) == len(set(names))
    datasource = board["templating"]["list"][0]
    assert datasource["type"] == "datasource" and datasource["query"] == "prometheus"
    for variable in board["templating"]["list"][1:]:
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert variable["query"]["query"] == variable["definition"]
            assert variable["query"]["query"].startswith("label_values(")


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_is_well_formed(path: Path) -> None:
    board = load(path)
    panels = list(walk(board["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels:
        where = f"{path.stem}: {panel['title']!r}"
        assert panel["type"] in PANEL_TYPES, where
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) and grid[k] >= 0 for k in "xywh"), where
        assert grid["w"] >= 1 and grid["h"] >= 1 and grid["x"] + grid["w"] <= 24, where
        if panel["type"] == "row":
            assert grid == {"h": 1, "w": 24, "x": 0, "y": grid["y"]}, where
            continue
        assert panel["description"], where
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert panel["targets"], where
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), where
        for target in panel["targets"]:
            assert target["expr"].strip() and target["datasource"] == panel["datasource"], where
            assert target["instant"] != target["range"], where
            assert target["format"] in ("time_series", "table"), where
            if target["format"] == "table" or panel["type"] in ("bargauge", "piechart"):
                assert target["instant"], f"{where}: tables, bars and pies read instant values"
            if panel["type"] == "timeseries":
                assert target["range"], f"{where}: a graph needs a range query"
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["unit"], where
        steps = defaults["thresholds"]["steps"]
        assert steps[0]["value"] is None, where
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(values), where
        for item in panel["fieldConfig"]["overrides"]:
            assert item["matcher"]["id"] in ("byName", "byRegexp"), where
            assert all("id" in prop and "value" in prop for prop in item["properties"]), where
        if panel["type"] == "stat":
            assert panel["options"]["reduceOptions"]["calcs"] == ["lastNotNull"], where


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panels_do_not_overlap(path: Path) -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in load(path)["panels"]:
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_queries_use_defined_variables_and_exported_metrics(path: Path) -> None:
    board = load(path)
    defined = {v["name"] for v in board["templating"]["list"]} | GRAFANA_GLOBALS
    known = exported_metrics()
    for expr in queries(board):
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
        assert set(VARIABLE_RE.findall(expr)) <= defined, expr
        for match in METRIC_RE.finditer(expr):
            assert match.group(1) in known, f"{match.group(1)} is not exported"
            if match.group(1) in WINDOW_METRICS and "label_values" not in expr:
                labels = match.group(2) or ""
                assert 'window="' in labels or 'window=~"' in labels, expr
                assert 'campaign="' in labels or 'campaign!="' in labels, expr
        words = set(re.findall(r"\b([a-z_]+)\{", expr)) - known
        for word in words:
            assert word in OTHER_METRICS or word.startswith(OTHER_PREFIXES), word


# ----------------------------------------------------------------------------- content


def titles(name: str) -> set[str]:
    return {p["title"] for p in walk(load(DASHBOARD_DIR / f"{name}.json")["panels"])}


def test_boards_hold_what_the_issue_asks_for() -> None:
    assert {"Headline KPIs", "Brands at a glance", "Firing alerts"} <= titles("overview")
    assert {
        "Reach",
        "Impressions",
        "Engagement rates",
        "Audience growth",
        "Share of voice against competitors",
    } <= titles("brand")
    assert {
        "Net sentiment",
        "Negative exposure",
        "Mention volume",
        "Alerts",
        "Firing alerts",
    } <= titles("crisis")
    assert {
        "CPC",
        "CPM",
        "Cost per lead",
        "CPA",
        "ROAS",
        "Conversion rate",
        "A/B variants: conversion rate",
        "A/B tests: p-value",
        "Funnel",
    } <= titles("paid")
    assert {
        "Audience by age",
        "Audience by gender",
        "Audience by location",
        "Top influencers",
        "Top hashtags",
        "Best time to post",
    } <= titles("audience")
    assert {
        "Events/s by kind",
        "Rejected by reason",
        "Dead letters and duplicates",
        "Consumer lag by partition",
        "Enrichment latency",
        "Scrape duration",
    } <= titles("pipeline")


@pytest.mark.parametrize("name", sorted(set(BOARDS) - {"pipeline"}))
def test_kpi_boards_have_brand_platform_campaign_window_and_alert_annotations(
    name: str,
) -> None:
    board = load(DASHBOARD_DIR / f"{name}.json")
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert {"brand", "platform", "campaign", "window"} <= set(variables)
    assert variables["platform"]["current"]["value"] == "all"
    assert variables["campaign"]["current"]["value"] == "all"
    assert variables["window"]["current"]["value"] == "1h"
    assert [o["value"] for o in variables["window"]["options"]] == ["5m", "1h", "24h"]
    [alerts] = [a for a in board["annotations"]["list"] if a.get("name") == "Crisis alerts"]
    assert "socialpulse_alert_firing" in alerts["expr"] and alerts["enable"]


def test_overview_repeats_a_row_per_brand_with_its_headline_kpis() -> None:
    board = load(DASHBOARD_DIR / "overview.json")
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert [r.get("repeat") for r in rows] == [None, "brand"]
    after = [p for p in board["panels"] if p["gridPos"]["y"] > rows[1]["gridPos"]["y"]]
    [headline] = [p for p in after if p["title"] == "Headline KPIs"]
    assert headline["options"]["graphMode"] == "area"  # sparklines
    expr = headline["targets"][0]["expr"]
    assert 'brand="$brand"' in expr and "socialpulse_headline_kpi" in expr
    overrides = {o["matcher"]["options"] for o in headline["fieldConfig"]["overrides"]}
    assert set(HEADLINE_KPIS) <= overrides


def test_headline_query_names_every_goal_kpi_once() -> None:
    expr = headline_query("acme")
    wanted = {k for kpis in GOAL_KPIS.values() for k in kpis}
    assert set(HEADLINE_KPIS) == wanted and len(HEADLINE_KPIS) == len(wanted)
    for name in wanted:
        assert expr.count(f'"kpi", "{name}"') == 1
        assert f"socialpulse_{name}{{" in expr
    assert set(wanted) <= set(LOOKS)
    assert all(len(kpis) <= 6 for kpis in GOAL_KPIS.values())


def test_thresholds_colour_ratios_the_right_way_round() -> None:
    def colour(name: str, value: float) -> str:
        steps = LOOKS[name].thresholds["steps"]  # type: ignore[index]
        return [s["color"] for s in steps if s["value"] is None or value >= s["value"]][-1]

    assert colour("net_sentiment_ratio", -0.3) == "red"
    assert colour("net_sentiment_ratio", 0.5) == "green"
    assert colour("bounce_ratio", 0.8) == "red"
    assert colour("bounce_ratio", 0.2) == "green"
    assert colour("roas_ratio", 0.5) == "red"
    assert colour("roas_ratio", 4.0) == "green"


# ----------------------------------------------------------------------------- helpers


def test_selector_matches_equal_regex_and_negation() -> None:
    assert selector(a="x", b="~y|z", c="!all") == '{a="x", b=~"y|z", c!="all"}'


def test_board_layout_flows_and_wraps() -> None:
    board = Board("u", "t", "d", [])
    panel = {"type": "stat", "title": "p"}
    board.add(dict(panel), 16, 4)
    board.add(dict(panel), 16, 6)  # does not fit beside the first: next line
    board.row("r")
    board.add(dict(panel), 8, 2)
    grids = [p["gridPos"] for p in board.panels]
    assert grids == [
        {"h": 4, "w": 16, "x": 0, "y": 0},
        {"h": 6, "w": 16, "x": 0, "y": 4},
        {"h": 1, "w": 24, "x": 0, "y": 10},
        {"h": 2, "w": 8, "x": 0, "y": 11},
    ]
    with pytest.raises(ValueError):
        board.add(dict(panel), 25, 1)
