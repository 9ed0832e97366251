"""The live board's JSON: series from the KPI state, cards, pipeline rates, alert markers,
the Prometheus side's conversions, and the page itself."""

from __future__ import annotations

import random
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from socialpulse.agents.board import (
    SERIES_KPIS,
    PipelinePoint,
    WorkerBoard,
    brand_cards,
    brand_series,
    rates,
    read_samples,
)
from socialpulse.agents.board_page import render_page
from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.metrics import Metrics
from socialpulse.agents.settings import BrandConfig, FileConfig
from socialpulse.agents.state import KpiState
from socialpulse.alerts.model import Alert
from socialpulse.cli.board_prometheus import (
    alert_markers,
    alerts_url,
    first_point,
    on_axis,
    to_samples,
)
from socialpulse.streams.validation import validate_event

T0 = 1_700_000_000.0 - 1_700_000_000.0 % 60  # a minute's start
KINDS = ("mention", "impression", "like", "comment", "share", "click")


def _stream(minutes: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    events = []
    for i in range(minutes * 40):
        kind = rnd.choice(KINDS)
        event: dict[str, Any] = {
            "id": f"e{i}",
            "ts": T0 + i * 1.5,
            "brand": rnd.choice(["acme", "globex"]),
            "kind": kind,
            "platform": rnd.choice(["x", "instagram"]),
            "count": rnd.randint(1, 5),
        }
        if kind == "mention":
            event["sentiment"] = rnd.uniform(-1, 1)
            event["author"] = {"id": f"a{rnd.randint(0, 50)}", "followers": rnd.randint(1, 10**5)}
        events.append(validate_event(event))
    return events


@pytest.fixture()
def state() -> KpiState:
    s = KpiState()
    s.apply(_stream(90))  # an hour and a half: the chart shows the last hour
    return s


def _gauge(state: KpiState, kpi: str, window: str) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(KpiCollector(state))
    return {
        labels["brand"]: value
        for labels, value in read_samples(registry, [f"socialpulse_{kpi}"])[f"socialpulse_{kpi}"]
        if labels["window"] == window and labels["platform"] == "all"
        if labels["campaign"] == "all"
    }


def test_each_series_ends_at_what_the_5m_gauge_says(state: KpiState) -> None:
    series = brand_series(state.brands)
    assert len(series["t"]) == 60
    assert series["t"] == sorted(series["t"])
    newest = max(bs.watermark or 0 for bs in state.brands.values())
    assert series["t"][-1] == pytest.approx(newest)
    for kpi in SERIES_KPIS:
        gauge = _gauge(state, kpi, "5m")
        assert set(series["kpis"][kpi]) == {"acme", "globex"}
        for brand, values in series["kpis"][kpi].items():
            assert len(values) == 60
            assert values[-1] == pytest.approx(gauge[brand], rel=1e-6, abs=1e-6), (kpi, brand)


def test_a_point_is_the_window_ending_then(state: KpiState) -> None:
    """Each point equals the 5m gauge of a state that stopped at that minute."""
    series = brand_series(state.brands)
    cut = [e for e in _stream(90) if e["ts"] < T0 + 70 * 60]  # stop in minute 69
    earlier = KpiState()
    earlier.apply(cut)
    index = series["t"].index(T0 + 70 * 60)  # the window of minutes 65..69 ends there
    gauge = _gauge(earlier, "mentions", "5m")
    for brand in ("acme", "globex"):
        assert series["kpis"]["mentions"][brand][index] == pytest.approx(gauge[brand])


def test_no_brand_no_series() -> None:
    assert brand_series({})["t"] == []


def test_cards_follow_each_brands_goal(state: KpiState) -> None:
    registry = CollectorRegistry(auto_describe=True)
    config = FileConfig(brands={"acme": BrandConfig(goal="reputation")})
    registry.register(KpiCollector(state, config))
    board = WorkerBoard(registry, lambda: state.brands, lambda: [])
    Metrics(registry)  # the pipeline counters the snapshot reads
    doc = board.document()
    cards = {c["brand"]: c for c in doc["brands"]}
    assert cards["acme"]["goal"] == "reputation"
    assert cards["acme"]["headline"][0] == "applause_ratio"  # catalogue order
    assert "net_sentiment_ratio" in cards["acme"]["headline"]
    assert cards["globex"]["goal"] is None and "mentions" in cards["globex"]["headline"]
    assert cards["globex"]["kpis"]["mentions"] == _gauge(state, "mentions", "1h")["globex"]
    assert doc["pipeline"]["t"] and doc["pipeline"]["broker_up"] == 0


def _alert(brand: str, rule: str, t: float) -> Alert:
    return Alert(
        id=f"{brand}-{rule}",
        brand=brand,
        rule=rule,
        state="firing",
        severity="warning",
        crisis=True,
        event_time=t,
        fired_at=t,
        value=3.0,
        baseline=1.0,
        threshold=2.0,
        evidence={"events": 1, "samples": [{"text": "bad"}]},
    )


def test_the_firing_alerts_and_their_markers(state: KpiState) -> None:
    registry = CollectorRegistry(auto_describe=True)
    Metrics(registry)
    firing = [_alert("acme", "negative_sentiment", T0 + 3000)]
    board = WorkerBoard(registry, lambda: state.brands, lambda: firing, clock=lambda: T0 + 4000)
    board.snapshot()
    doc = board.document()
    (alert,) = doc["alerts"]["firing"]
    assert alert["evidence"]["samples"] == [{"text": "bad"}]
    assert alert["summary"] and alert["signal"]  # the rule's words when the alert has none
    assert doc["alerts"]["markers"] == [
        {
            "t": T0 + 3000,
            "brand": "acme",
            "rule": "negative_sentiment",
            "severity": "warning",
            "state": "firing",
        }
    ]
    firing.clear()
    board.snapshot()
    resolved = board.document()["alerts"]["markers"][-1]
    assert resolved["state"] == "resolved"
    assert resolved["t"] == state.brands["acme"].watermark
    board.snapshot()
    assert len(board.markers) == 2  # each change once


def test_rates_between_snapshots() -> None:
    points = [
        PipelinePoint(0.0, 0.0, 0.0, 5.0, {}, 1.0),
        PipelinePoint(5.0, 100.0, 10.0, 7.0, {}, 1.0),
        PipelinePoint(10.0, 50.0, 20.0, 0.0, {}, 1.0),  # a counter reset: no rate
    ]
    assert rates(points) == {
        "events_per_s": [None, 20.0, None],
        "messages_per_s": [None, 2.0, 2.0],
        "lag": [5.0, 7.0, 0.0],
    }


def test_brand_cards_read_only_the_1h_all_rows() -> None:
    samples = {
        "socialpulse_mentions": [
            ({"brand": "a", "platform": "all", "campaign": "all", "window": "1h"}, 7.0),
            ({"brand": "a", "platform": "x", "campaign": "all", "window": "1h"}, 3.0),
            ({"brand": "a", "platform": "all", "campaign": "all", "window": "5m"}, 1.0),
        ]
    }
    cards = brand_cards(samples, [({"brand": "a", "goal": "awareness", "kpi": "mentions"}, 1.0)])
    assert cards == {
        "a": {
            "brand": "a",
            "goal": "awareness",
            "kpis": {"mentions": 7.0},
            "headline": ["mentions"],
        }
    }


def test_prometheus_results_on_the_pages_axis() -> None:
    axis = [0.0, 30.0, 60.0, 90.0]
    rows = [
        {
            "metric": {"brand": "a", "rule": "r", "severity": "warning"},
            "values": [[0, "0"], [30, "1"], [60, "1"], [90, "0"]],
        },
        {"metric": {"brand": "b", "rule": "r", "severity": "info"}, "values": [[60, "1"]]},
    ]
    lines = on_axis(rows, axis)
    assert lines[1][1] == [None, None, 1.0, None]
    assert [(m["t"], m["brand"], m["state"]) for m in alert_markers(lines, axis)] == [
        (30.0, "a", "firing"),
        (60.0, "b", "firing"),
        (90.0, "a", "resolved"),
    ]
    assert to_samples([{"metric": {"reason": "late"}, "value": [0, "3"]}]) == {
        "": [({"reason": "late"}, 3.0)]
    }
    assert to_samples([{"metric": {"__name__": "x"}, "value": [0, "NaN"]}]) == {}
    assert first_point([[None, None, 1.0], [None, 2.0, None]]) == 1
    assert first_point([[None], []]) == 0
    assert alerts_url("http://10.0.0.5:6066/metrics?x=1") == "http://10.0.0.5:6066/api/alerts"


def test_the_page_has_everything_inlined() -> None:
    html = render_page()
    assert "/*" + "UPLOT_JS*/" not in html and "/*BOARD_JS*/" not in html
    assert "uPlot" in html and "api/board" in html
    assert "http://" not in html.replace("http://www.w3.org", "")  # no CDN, no network


def test_one_document_serves_the_pages_polling_within_two_seconds(state: KpiState) -> None:
    registry = CollectorRegistry(auto_describe=True)
    Metrics(registry)
    now = [T0]
    board = WorkerBoard(registry, lambda: state.brands, lambda: [], clock=lambda: now[0])
    first = board.cached_document()
    now[0] += 1.5
    assert board.cached_document() is first
    now[0] += 1.0
    assert board.cached_document() is not first


async def test_the_board_server_says_when_prometheus_is_away() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from socialpulse.agents.processes import free_port
    from socialpulse.cli.board_prometheus import make_app

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with TestClient(TestServer(make_app(url))) as client:
        page = await client.get("/")
        assert page.status == 200 and "uPlot" in await page.text()
        data = await client.get("/api/board")
        assert data.status == 502
        assert (await data.json())["error"].startswith(f"Prometheus at {url} did not answer")
