"""``socialpulse board --prometheus URL``: the live board of every worker a Prometheus
server scrapes, served by a small aiohttp server.

The page is the worker's (``board_page``); its JSON (``board`` describes it) is filled
from Prometheus' HTTP API: instant queries for the cards, the dead letters and the firing
alerts, range queries over the last hour for the charts, the pipeline and the alert
markers. An alert's evidence lives in the worker that raised it: the board asks each
target Prometheus scrapes for its ``/api/alerts`` (a worker that does not answer leaves
its alerts without evidence).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import click
from aiohttp import web

from socialpulse.agents.board import (
    CACHE_SECONDS,
    HISTORY_MINUTES,
    SERIES_KPIS,
    SERIES_WINDOW,
    Samples,
    alert_view,
    brand_cards,
    card_metrics,
)
from socialpulse.agents.board_page import render_page

log = logging.getLogger("socialpulse.board")

STEP = 30  # seconds between the points of the range queries
RATE = "1m"  # the rate() window of the pipeline's per-second figures


class PrometheusError(RuntimeError):
    """Prometheus did not answer, or refused a query."""


def kpi_selector(names: Iterable[str], window: str) -> str:
    pattern = "|".join(sorted(names))
    return (
        f'{{__name__=~"socialpulse_({pattern})",window="{window}",platform="all",campaign="all"}}'
    )


def to_samples(result: list[dict[str, Any]]) -> Samples:
    """An instant vector as ``read_samples`` gives the registry's samples, by metric name."""
    out: Samples = {}
    for row in result:
        labels = dict(row["metric"])
        name = labels.pop("__name__", "")
        value = float(row["value"][1])
        if math.isfinite(value):
            out.setdefault(name, []).append((labels, value))
    return out


def on_axis(
    rows: list[dict[str, Any]], axis: list[float]
) -> list[tuple[dict[str, str], list[float | None]]]:
    """Range-query series as value lists on ``axis`` (None where a series has no point)."""
    index = {round(t): i for i, t in enumerate(axis)}
    out = []
    for row in rows:
        values: list[float | None] = [None] * len(axis)
        for t, v in row["values"]:
            i = index.get(round(float(t)))
            value = float(v)
            if i is not None and math.isfinite(value):
                values[i] = value
        out.append((dict(row["metric"]), values))
    return out


def alert_markers(
    rows: list[tuple[dict[str, str], list[float | None]]], axis: list[float]
) -> list[dict[str, Any]]:
    """A firing marker where ``socialpulse_alert_firing`` turns 1, a resolved one where it
    turns 0 again."""
    markers: list[dict[str, Any]] = []
    for labels, values in rows:
        before = 0.0
        for t, v in zip(axis, values, strict=True):
            if v is None:
                continue
            if v >= 1 and before < 1:
                state = "firing"
            elif v < 1 <= before:
                state = "resolved"
            else:
                before = v
                continue
            before = v
            markers.append(
                {
                    "t": t,
                    "brand": labels.get("brand", ""),
                    "rule": labels.get("rule", ""),
                    "severity": labels.get("severity", ""),
                    "state": state,
                }
            )
    return sorted(markers, key=lambda m: m["t"])


def first_point(lines: list[list[float | None]]) -> int:
    """The first index where any of ``lines`` has a value (0 when none has any)."""
    firsts = [next((i for i, v in enumerate(line) if v is not None), None) for line in lines]
    found = [i for i in firsts if i is not None]
    return min(found) if found else 0


def alerts_url(scrape_url: str) -> str:
    """The ``/api/alerts`` next to a target's ``/metrics``."""
    parts = urlsplit(scrape_url)
    return urlunsplit((parts.scheme, parts.netloc, "/api/alerts", "", ""))


class PrometheusBoard:
    """Builds the board's document from the Prometheus server at ``url``."""

    def __init__(
        self, url: str, session: aiohttp.ClientSession, history_minutes: int = HISTORY_MINUTES
    ) -> None:
        self.url = url.rstrip("/")
        self.session = session
        self.history = history_minutes * 60

    async def api(self, path: str, **params: str | float) -> Any:
        try:
            async with self.session.get(
                f"{self.url}{path}", params={k: str(v) for k, v in params.items()}
            ) as response:
                body = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise PrometheusError(f"Prometheus at {self.url} did not answer: {exc}") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else body
            raise PrometheusError(f"Prometheus refused {path} {params.get('query', '')}: {error}")
        return body["data"]

    async def instant(self, expr: str) -> list[dict[str, Any]]:
        data = await self.api("/api/v1/query", query=expr)
        return list(data["result"]) if data["resultType"] == "vector" else []

    async def range(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        data = await self.api("/api/v1/query_range", query=expr, start=start, end=end, step=STEP)
        return list(data["result"])

    async def evidence(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The firing alerts of every worker that answers, by (brand, rule)."""
        try:
            targets = (await self.api("/api/v1/targets", state="active"))["activeTargets"]
        except PrometheusError as exc:
            log.warning("no alert evidence: %s", exc)
            return {}
        urls = sorted({alerts_url(t["scrapeUrl"]) for t in targets if t.get("health") == "up"})

        async def fetch(url: str) -> list[dict[str, Any]]:
            try:
                async with self.session.get(
                    url, timeout=aiohttp.ClientTimeout(total=3)
                ) as response:
                    if response.status != 200:
                        return []
                    body = await response.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError, ValueError):
                return []
            return [a for a in body if isinstance(a, dict)] if isinstance(body, list) else []

        found: dict[tuple[str, str], dict[str, Any]] = {}
        for alerts in await asyncio.gather(*(fetch(u) for u in urls)):
            for alert in alerts:
                found[(str(alert.get("brand")), str(alert.get("rule")))] = alert
        return found

    async def document(self) -> dict[str, Any]:
        end = math.floor(time.time() / STEP) * STEP
        start = end - self.history
        axis = [float(t) for t in range(start, end + 1, STEP)]
        series_expr = f"max by (__name__, brand) ({kpi_selector(SERIES_KPIS, SERIES_WINDOW)})"
        names = [m.removeprefix("socialpulse_") for m in card_metrics()]
        evidence_task = asyncio.create_task(self.evidence())
        try:
            cards_now, headline, firing_now, dead, broker = await asyncio.gather(
                *(
                    self.instant(expr)
                    for expr in (
                        kpi_selector(names, "1h"),
                        "socialpulse_headline_kpi",
                        "max by (brand, rule, severity) (socialpulse_alert_firing) == 1",
                        "sum by (reason) (socialpulse_dead_letters_total)",
                        "min(socialpulse_broker_up)",
                    )
                )
            )
            series, firing_range, events, messages, lag = await asyncio.gather(
                *(
                    self.range(expr, start, end)
                    for expr in (
                        series_expr,
                        "max by (brand, rule, severity) (socialpulse_alert_firing)",
                        f"sum(rate(socialpulse_events_total[{RATE}]))",
                        f"sum(rate(socialpulse_messages_total[{RATE}]))",
                        "sum(socialpulse_consumer_lag)",
                    )
                )
            )
        except BaseException:
            evidence_task.cancel()
            raise
        evidence = await evidence_task
        cards = brand_cards(
            to_samples(cards_now), to_samples(headline).get("socialpulse_headline_kpi", [])
        )
        firing = []
        for row in firing_now:
            labels = row["metric"]
            key = (labels.get("brand", ""), labels.get("rule", ""))
            alert = evidence.get(key) or {
                "brand": key[0],
                "rule": key[1],
                "severity": labels.get("severity", ""),
                "state": "firing",
                "event_time": None,
                "value": None,
                "baseline": None,
                "threshold": None,
                "evidence": {},
            }
            firing.append(alert_view(alert))
            card = cards.get(key[0])
            if card is not None:
                card["firing"] = card.get("firing", 0) + 1
        firing.sort(key=lambda a: (-(a.get("event_time") or 0), a["brand"], a["rule"]))
        kpis: dict[str, dict[str, list[float | None]]] = {name: {} for name in SERIES_KPIS}
        for labels, values in on_axis(series, axis):
            name = labels.get("__name__", "").removeprefix("socialpulse_")
            if name in kpis and "brand" in labels:
                kpis[name][labels["brand"]] = values

        def one(rows: list[dict[str, Any]]) -> list[float | None]:
            lines = on_axis(rows, axis)
            return lines[0][1] if lines else [None] * len(axis)

        up = to_samples(broker)
        pipeline = {"events_per_s": one(events), "messages_per_s": one(messages), "lag": one(lag)}
        # the charts start where Prometheus' data does (a server that began scraping lately)
        lines = [*pipeline.values(), *(v for per in kpis.values() for v in per.values())]
        cut = first_point(lines)
        axis = axis[cut:]
        for values in lines:
            del values[:cut]
        return {
            "source": "prometheus",
            "prometheus": self.url,
            "now": time.time(),
            "brands": [cards[b] for b in sorted(cards)],
            "series": {"window": SERIES_WINDOW, "t": axis, "kpis": kpis},
            "alerts": {
                "firing": firing,
                "markers": alert_markers(on_axis(firing_range, axis), axis),
            },
            "pipeline": {
                "t": axis,
                **pipeline,
                "dead_letters": {
                    labels.get("reason", ""): value
                    for labels, value in to_samples(dead).get("", [])
                },
                "broker_up": next(iter(up.get("", [])), ({}, None))[1],
            },
        }


class BoardServer:
    """What the board's web app keeps: its HTTP client, and the last document (one per
    CACHE_SECONDS serves every page that polls meanwhile)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: aiohttp.ClientSession | None = None
        self.cached: tuple[float, dict[str, Any]] | None = None

    async def start(self, app: web.Application) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))

    async def stop(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=render_page(), content_type="text/html")

    async def data(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        if self.cached is not None and now - self.cached[0] < CACHE_SECONDS:
            return web.json_response(self.cached[1])
        assert self.session is not None  # set on startup
        try:
            doc = await PrometheusBoard(self.url, self.session).document()
        except PrometheusError as exc:
            return web.json_response({"error": str(exc)}, status=502)
        self.cached = (now, doc)
        return web.json_response(doc)


def make_app(url: str) -> web.Application:
    """The board's web app: ``/`` (the page) and ``/api/board`` (its JSON)."""
    server = BoardServer(url)
    app = web.Application()
    app.on_startup.append(server.start)
    app.on_cleanup.append(server.stop)
    app.router.add_get("/", server.page)
    app.router.add_get("/api/board", server.data)
    return app


async def check_prometheus(url: str) -> None:
    """One clear line if ``url`` is not a Prometheus server's API."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await PrometheusBoard(url, session).instant("vector(1)")


@click.command("board")
@click.option(
    "--prometheus",
    "url",
    required=True,
    metavar="URL",
    help="The Prometheus server that scrapes the workers, e.g. http://localhost:9090.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=6060, show_default=True, help="Port."
)
def board_command(url: str, host: str, port: int) -> None:
    """Serve the live board of every worker a Prometheus server scrapes.

    \b
    Example:
      socialpulse board --prometheus http://localhost:9090 --port 6060
      # then open http://localhost:6060/
    """
    if not urlsplit(url).scheme.startswith("http"):
        raise click.BadParameter("give the server's http(s):// URL", param_hint="--prometheus")
    try:
        asyncio.run(check_prometheus(url))
    except PrometheusError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"socialpulse board: http://{host}:{port}/ (data from Prometheus at {url})")
    try:
        web.run_app(make_app(url), host=host, port=port, print=None)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    except KeyboardInterrupt:
        pass
