"""The live board in a real browser: headless Chromium (Debian's ``chromium``) loads the
page during a demo run, the charts draw data, and the demo's scripted crisis shows up as
an alert with its evidence. Then ``socialpulse board --prometheus`` against a real
Prometheus scraping the same worker: its JSON fills from Prometheus and the page draws.

Screenshots go to ``test-artifacts/`` (gitignored): board-worker-crisis.png and
board-prometheus.png.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from socialpulse.streams.vocabulary import DEFAULT_BRANDS
from tests.browser import Browser
from tests.integration.conftest import CLI, Stack, free_port, wait_port
from tests.system_tools import require

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
BRANDS = list(DEFAULT_BRANDS[:4])  # the demo's brands
CRISIS_BRAND = BRANDS[-1]
KPI_CHARTS = (
    "mentions",
    "impressions",
    "engagements",
    "engagement_rate_ratio",
    "sentiment_mean",
    "negative_exposure",
)

#: every KPI chart has a line per brand with at least one point drawn
CHARTS_DRAWN = f"""(() => {{
  const b = window.board;
  if (!b || !b.updates) return false;
  const kpis = {json.dumps(KPI_CHARTS)};
  return kpis.every((k) => {{
    const c = b.charts[k];
    return c && c.data[0].length > 0 && c.data.length - 1 >= {len(BRANDS)}
      && c.data.slice(1).every((s) => s.some((v) => v != null));
  }}) && b.charts.throughput && b.charts.throughput.data[1].filter((v) => v != null).length >= 2;
}})()"""

CRISIS_SHOWN = f"""(() => {{
  const a = document.querySelector('.alert[data-brand="{CRISIS_BRAND}"]');
  const card = document.querySelector('.card.alerting[data-brand="{CRISIS_BRAND}"]');
  const marker = (window.board.markers || []).some(
    (m) => m.brand === "{CRISIS_BRAND}" && m.state === "firing");
  return a && card && marker ? a.innerText : false;
}})()"""


@dataclass
class Demo:
    web: int
    prometheus: str
    workdir: Path
    started: float  # time.monotonic() when `socialpulse demo` was started


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``socialpulse demo`` (30 minutes of history, a crisis 20 s in) and a Prometheus
    scraping its worker every second."""
    prometheus = require("prometheus", "prometheus")
    tmp = tmp_path_factory.mktemp("live-board")
    port, web, prom_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        SOCIALPULSE_BROKER=f"kafka://127.0.0.1:{port}",
        SOCIALPULSE_WEB_PORT=str(web),
        SOCIALPULSE_APP_ID=f"board-{uuid.uuid4().hex[:8]}",
    )
    env.pop("SOCIALPULSE_CONFIG_FILE", None)
    demo_log = tmp / "demo.log"
    started = time.monotonic()
    proc = subprocess.Popen(
        [*CLI, "demo", "--rate", "150", "--history", "1800", "--crisis-in", "20"],
        env=env,
        cwd=tmp,
        stdout=demo_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {"job_name": "socialpulse", "static_configs": [{"targets": [f"127.0.0.1:{web}"]}]}
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    prom_log = tmp / "prometheus.log"
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--log.level=warn",
        ],
        stdout=prom_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_port(prom_port, 30), prom_log.read_text()
        assert wait_port(web, 120), demo_log.read_text()
        yield Demo(web, f"http://127.0.0.1:{prom_port}", tmp, started)
    finally:
        for p in (proc, prom):
            p.send_signal(signal.SIGTERM)
        for p in (proc, prom):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def chromium() -> str:
    return require("chromium", "chromium")


async def test_the_workers_board_draws_the_kpis_and_shows_the_crisis(
    demo: Demo, chromium: str
) -> None:
    log = demo.workdir / "demo.log"
    deadline = time.monotonic() + 60
    while f"live board: http://127.0.0.1:{demo.web}/ " not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"no board URL in: {log.read_text()}"
        time.sleep(0.5)
    async with Browser(chromium) as page:
        await page.open(f"http://127.0.0.1:{demo.web}/?every=2")
        await page.wait_for(CHARTS_DRAWN, 120)
        charts = time.monotonic() - demo.started
        alert = await page.wait_for(CRISIS_SHOWN, 300)
        crisis = time.monotonic() - demo.started
        print(f"\nboard: charts {charts:.0f} s, crisis shown {crisis:.0f} s after the demo start")
        # the alert carries its evidence: sample posts and top hashtags
        assert "Evidence" in alert and "Top hashtags" in alert, alert
        headline = await page.eval(
            f"document.querySelector('.card[data-brand=\"{CRISIS_BRAND}\"]').innerText"
        )
        assert "Net sentiment" in headline, headline  # the reputation goal's headline KPIs
        updates = await page.eval("window.board.updates")
        await page.wait_for(f"window.board.updates > {updates}", 30)  # it keeps polling
        await page.screenshot(ARTIFACTS / "board-worker-crisis.png")
        assert not page.exceptions, page.exceptions
        assert await page.eval("window.board.errors") == 0


async def test_the_board_command_fills_the_page_from_prometheus(
    demo: Demo, chromium: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "board.log"
    proc = subprocess.Popen(
        [*CLI, "board", "--prometheus", demo.prometheus, "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_port(port, 60), log.read_text()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        doc: dict[str, Any] = {}
        while time.monotonic() < deadline:
            doc = get_json(f"{url}/api/board")
            firing = {(a["brand"], a["rule"]) for a in doc["alerts"]["firing"]}
            mentions = doc["series"]["kpis"]["mentions"]
            if (
                {b["brand"] for b in doc["brands"]} == set(BRANDS)
                and any(brand == CRISIS_BRAND for brand, _ in firing)
                and all(sum(v is not None for v in mentions.get(b, [])) >= 2 for b in BRANDS)
                and sum(v is not None for v in doc["pipeline"]["events_per_s"]) >= 2
                and any(m["brand"] == CRISIS_BRAND for m in doc["alerts"]["markers"])
            ):
                break
            time.sleep(2)
        else:
            pytest.fail(f"the board's JSON never filled from Prometheus: {json.dumps(doc)[:3000]}")
        assert doc["source"] == "prometheus"
        # the axis starts where Prometheus' data does
        pipeline = [doc["pipeline"][k] for k in ("events_per_s", "messages_per_s", "lag")]
        kpi_lines = [line for per in doc["series"]["kpis"].values() for line in per.values()]
        assert any(line[0] is not None for line in [*pipeline, *kpi_lines])
        crisis = [a for a in doc["alerts"]["firing"] if a["brand"] == CRISIS_BRAND]
        # the evidence comes from the worker Prometheus scrapes (its /api/alerts)
        assert any(a["evidence"].get("samples") for a in crisis), crisis
        assert any(m["brand"] == CRISIS_BRAND for m in doc["alerts"]["markers"])
        assert doc["pipeline"]["broker_up"] == 1
        card = next(b for b in doc["brands"] if b["brand"] == CRISIS_BRAND)
        assert card["goal"] == "reputation" and card["kpis"]["net_sentiment_ratio"] is not None
        async with Browser(chromium) as page:
            await page.open(f"{url}/?every=2")
            await page.wait_for(CHARTS_DRAWN, 60)
            await page.wait_for(CRISIS_SHOWN, 60)
            assert "Prometheus" in await page.eval("document.getElementById('source').innerText")
            await page.screenshot(ARTIFACTS / "board-prometheus.png")
            assert not page.exceptions, page.exceptions
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_board_command_says_when_prometheus_does_not_answer() -> None:
    port = free_port()
    out = subprocess.run(
        [*CLI, "board", "--prometheus", f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert f"Prometheus at http://127.0.0.1:{port} did not answer" in out.stderr


async def test_a_board_before_any_event_says_it_waits(stack: Stack, chromium: str) -> None:
    stack.start_worker()
    async with Browser(chromium) as page:
        await page.open(f"http://127.0.0.1:{stack.web_port}/?every=1")
        await page.wait_for("window.board && window.board.updates >= 2", 60)
        text = await page.eval("document.body.innerText")
        assert "waiting for the first events" in text and "no alert firing" in text, text
        assert await page.eval("window.board.errors") == 0
        assert not page.exceptions, page.exceptions
