"""The six socialpulse boards: overview, brand drill-down, sentiment and crisis, paid and
funnel, audience, pipeline health. Panel titles name the KPI the way docs/kpis.md does.

Template variables: ``brand`` (several, or all), ``platform`` and ``campaign`` (``all`` is
the total; the worker keeps brand x platform and brand x campaign, not both at once, so
keep one of them at ``all``), ``window`` (the KPI window: 5m, 1h, 24h), and ``job`` on the
pipeline board.
"""

from __future__ import annotations

from collections.abc import Callable

from socialpulse.grafana.boards.audience import audience
from socialpulse.grafana.boards.brand import brand_drilldown
from socialpulse.grafana.boards.crisis import sentiment_and_crisis
from socialpulse.grafana.boards.overview import overview
from socialpulse.grafana.boards.paid import paid_and_funnel
from socialpulse.grafana.boards.pipeline import pipeline_health
from socialpulse.grafana.panels import Board

BOARDS: dict[str, Callable[[], Board]] = {
    "overview": overview,
    "brand": brand_drilldown,
    "crisis": sentiment_and_crisis,
    "paid": paid_and_funnel,
    "audience": audience,
    "pipeline": pipeline_health,
}
