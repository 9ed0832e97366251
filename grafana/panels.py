"""Building blocks of Grafana dashboards (JSON model of Grafana 11): panels, PromQL targets,
template variables, annotations, and a board that lays panels out on the 24-column grid.

Everything returns plain dicts, so a board is data that tests can read back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Grafana 11.0's dashboard schema version; later Grafanas migrate it on load
SCHEMA_VERSION = 39
GRID_COLUMNS = 24
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
TAG = "socialpulse"

Json = dict[str, Any]


# ----------------------------------------------------------------------------- PromQL


def selector(**labels: str) -> str:
    """``{a="x", b=~"y"}`` from keyword labels; a value starting with ``~`` or ``!`` matches
    as a regex (``=~``) or a negation (``!=``)."""
    parts = []
    for name, value in labels.items():
        if value.startswith("~"):
            parts.append(f'{name}=~"{value[1:]}"')
        elif value.startswith("!"):
            parts.append(f'{name}!="{value[1:]}"')
        else:
            parts.append(f'{name}="{value}"')
    return "{" + ", ".join(parts) + "}"


def kpi(metric: str, by: str = "brand", **labels: str) -> str:
    """A window KPI gauge, one series per ``by`` labels. Every KPI series comes from the one
    worker that owns its brand; ``max by`` drops the instance labels."""
    return f"max by ({by}) (socialpulse_{metric}{selector(**labels)})"


def rate(counter: str, by: str = "", **labels: str) -> str:
    """Per-second rate of a counter, summed over workers, by the labels ``by``."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({counter}{selector(**labels)}[$__rate_interval]))"


def quantile(q: float, histogram: str, **labels: str) -> str:
    """The ``q`` quantile of a histogram over all workers."""
    inner = f"rate({histogram}_bucket{selector(**labels)}[$__rate_interval])"
    return f"histogram_quantile({q}, sum by (le) ({inner}))"


# ----------------------------------------------------------------------------- targets


def target(
    expr: str, legend: str = "", *, instant: bool = False, table: bool = False, ref: str = "A"
) -> Json:
    """A Prometheus query: a range query for graphs, or an instant one (``instant``) for
    tables, bars and pies; ``table`` asks for the table format (one row per series)."""
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "format": "table" if table else "time_series",
    }


def targets(*queries: tuple[str, str], instant: bool = False, table: bool = False) -> list[Json]:
    """Several (expr, legend) queries with refIds A, B, C, ..."""
    return [
        target(expr, legend, instant=instant, table=table, ref=chr(ord("A") + i))
        for i, (expr, legend) in enumerate(queries)
    ]


# ----------------------------------------------------------------------------- field config


def steps(*pairs: tuple[float | None, str]) -> Json:
    """Absolute thresholds: (from value, colour) pairs, the first from None (-inf)."""
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in pairs]}


NEUTRAL = steps((None, "blue"))


def field_config(
    unit: str = "short",
    *,
    thresholds: Json | None = None,
    decimals: int | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    mappings: list[Json] | None = None,
    custom: Json | None = None,
    overrides: list[Json] | None = None,
    color: str = "thresholds",
) -> Json:
    defaults: Json = {
        "unit": unit,
        "color": {"mode": color},
        "thresholds": thresholds or NEUTRAL,
        "mappings": mappings or [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    if custom is not None:
        defaults["custom"] = custom
    return {"defaults": defaults, "overrides": overrides or []}


def override(name: str, *, regex: bool = False, **properties: Any) -> Json:
    """Field properties (unit, thresholds, displayName, decimals, ...) for the series
    ``name`` (a regular expression with ``regex``)."""
    return {
        "matcher": {"id": "byRegexp" if regex else "byName", "options": name},
        "properties": [
            {"id": key, "value": value} for key, value in properties.items() if value is not None
        ],
    }


def value_text(mapping: dict[str, tuple[str, str]]) -> list[Json]:
    """Value mappings: value -> (text, colour)."""
    options = {
        value: {"text": text, "color": colour, "index": i}
        for i, (value, (text, colour)) in enumerate(mapping.items())
    }
    return [{"type": "value", "options": options}]


# ----------------------------------------------------------------------------- panels


def _panel(kind: str, title: str, description: str, queries: list[Json], fc: Json) -> Json:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": queries,
        "fieldConfig": fc,
    }


REDUCE_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def stat(
    title: str,
    description: str,
    queries: list[Json],
    fc: Json,
    *,
    sparkline: bool = True,
    text_mode: str = "auto",
) -> Json:
    """Big numbers, each with its trend as a sparkline (``sparkline``) and its colour from
    the thresholds."""
    panel = _panel("stat", title, description, queries, fc)
    panel["options"] = {
        "reduceOptions": REDUCE_LAST,
        "orientation": "auto",
        "textMode": text_mode,
        "colorMode": "value",
        "graphMode": "area" if sparkline else "none",
        "justifyMode": "auto",
        "wideLayout": True,
        "showPercentChange": False,
    }
    return panel


def timeseries(
    title: str,
    description: str,
    queries: list[Json],
    fc: Json,
    *,
    stack: bool = False,
    bars: bool = False,
) -> Json:
    """Lines (or stacked areas, or bars) over time, with a legend table of last and max."""
    fc["defaults"]["custom"] = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 30 if stack or bars else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "axisBorderShow": False,
        "gradientMode": "none",
    }
    fc["defaults"]["color"] = {"mode": "palette-classic"}
    panel = _panel("timeseries", title, description, queries, fc)
    panel["options"] = {
        "legend": {
            "showLegend": True,
            "displayMode": "table",
            "placement": "bottom",
            "calcs": ["lastNotNull", "max"],
        },
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel


def bargauge(title: str, description: str, queries: list[Json], fc: Json) -> Json:
    """Horizontal bars, one per series, longest first."""
    panel = _panel("bargauge", title, description, queries, fc)
    panel["options"] = {
        "reduceOptions": REDUCE_LAST,
        "orientation": "horizontal",
        "displayMode": "gradient",
        "valueMode": "color",
        "namePlacement": "auto",
        "showUnfilled": True,
        "sizing": "auto",
        "minVizHeight": 16,
        "minVizWidth": 8,
        "maxVizHeight": 300,
    }
    return panel


def piechart(title: str, description: str, queries: list[Json], fc: Json) -> Json:
    """A donut of parts of a whole, with their percentages in the legend."""
    fc["defaults"]["color"] = {"mode": "palette-classic"}
    panel = _panel("piechart", title, description, queries, fc)
    panel["options"] = {
        "reduceOptions": REDUCE_LAST,
        "pieType": "donut",
        "displayLabels": ["name"],
        "legend": {
            "showLegend": True,
            "displayMode": "table",
            "placement": "right",
            "values": ["value", "percent"],
        },
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return panel


def table(
    title: str,
    description: str,
    queries: list[Json],
    fc: Json,
    *,
    transformations: list[Json] | None = None,
    sort_by: str | None = None,
    cells: str = "auto",
) -> Json:
    """A table of instant results; ``cells`` colours the cells (``color-background``)."""
    fc["defaults"]["custom"] = {
        "align": "auto",
        "cellOptions": {"type": cells},
        "inspect": False,
    }
    panel = _panel("table", title, description, queries, fc)
    panel["options"] = {
        "showHeader": True,
        "cellHeight": "sm",
        "footer": {"show": False, "reducer": ["sum"], "countRows": False, "fields": ""},
        "sortBy": [{"displayName": sort_by, "desc": True}] if sort_by else [],
    }
    panel["transformations"] = transformations or []
    return panel


def organize(rename: dict[str, str], hide: tuple[str, ...] = ("Time",)) -> Json:
    """The ``organize`` transformation: rename columns and hide some."""
    return {
        "id": "organize",
        "options": {
            "excludeByName": dict.fromkeys(hide, True),
            "renameByName": rename,
            "indexByName": {},
        },
    }


MERGE = {"id": "merge", "options": {}}


# ----------------------------------------------------------------------------- variables


def datasource_variable() -> Json:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "options": [],
        "refresh": 1,
        "regex": "",
        "hide": 0,
    }


def query_variable(
    name: str,
    label: str,
    query: str,
    *,
    multi: bool = False,
    include_all: bool = False,
    default: str | None = None,
    description: str = "",
) -> Json:
    """A variable whose values come from ``label_values(...)`` in Prometheus."""
    if include_all:
        current: Json = {"selected": True, "text": ["All"], "value": ["$__all"]}
    elif default is not None:
        current = {"selected": True, "text": default, "value": default}
    else:
        current = {}
    variable: Json = {
        "name": name,
        "label": label,
        "description": description,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {
            "qryType": 1,
            "query": query,
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        "refresh": 2,
        "multi": multi,
        "includeAll": include_all,
        "current": current,
        "options": [],
        "regex": "",
        "sort": 1,
        "hide": 0,
    }
    if include_all:
        variable["allValue"] = ".*"
    return variable


def custom_variable(
    name: str, label: str, values: tuple[str, ...], default: str, description: str = ""
) -> Json:
    return {
        "name": name,
        "label": label,
        "description": description,
        "type": "custom",
        "query": ",".join(values),
        "multi": False,
        "includeAll": False,
        "current": {"selected": True, "text": default, "value": default},
        "options": [{"selected": v == default, "text": v, "value": v} for v in values],
        "hide": 0,
    }


def annotation(name: str, expr: str, title: str, tags: str, colour: str = "red") -> Json:
    """Regions on every time series panel where ``expr`` is non-zero."""
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": colour,
        "expr": expr,
        "step": "15s",
        "titleFormat": title,
        "tagKeys": tags,
        "textFormat": "",
        "useValueForTime": False,
    }


BUILTIN_ANNOTATIONS = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


# ----------------------------------------------------------------------------- the board


@dataclass
class Board:
    """A dashboard being laid out: panels flow left to right, rows start a new line."""

    uid: str
    title: str
    description: str
    variables: list[Json]
    annotations: list[Json] = field(default_factory=list)
    panels: list[Json] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _line_height: int = 0

    def add(self, panel: Json, w: int, h: int) -> None:
        if not 0 < w <= GRID_COLUMNS:
            raise ValueError(f"panel {panel['title']!r}: width {w} is not in 1..{GRID_COLUMNS}")
        if self._x + w > GRID_COLUMNS:
            self._newline()
        grid = {"h": h, "w": w, "x": self._x, "y": self._y}
        self.panels.append({"id": len(self.panels) + 1, "gridPos": grid, **panel})
        self._x += w
        self._line_height = max(self._line_height, h)

    def row(self, title: str, repeat: str | None = None) -> None:
        """A row header; with ``repeat``, Grafana repeats the row and its panels per value."""
        self._newline()
        row: Json = {
            "id": len(self.panels) + 1,
            "type": "row",
            "title": title,
            "collapsed": False,
            "panels": [],
            "gridPos": {"h": 1, "w": GRID_COLUMNS, "x": 0, "y": self._y},
        }
        if repeat:
            row["repeat"] = repeat
        self.panels.append(row)
        self._y += 1

    def _newline(self) -> None:
        if self._x:
            self._y += self._line_height
        self._x, self._line_height = 0, 0

    def json(self) -> Json:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": [TAG],
            "editable": True,
            "graphTooltip": 1,
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "refresh": "10s",
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "time": {"from": "now-1h", "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "weekStart": "",
            "links": [
                {
                    "title": "socialpulse boards",
                    "type": "dashboards",
                    "tags": [TAG],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                    "icon": "external link",
                    "targetBlank": False,
                    "url": "",
                    "tooltip": "",
                }
            ],
            "annotations": {"list": [BUILTIN_ANNOTATIONS, *self.annotations]},
            "templating": {"list": [datasource_variable(), *self.variables]},
            "panels": self.panels,
        }
