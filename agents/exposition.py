"""The text exposition of ``/metrics``, byte for byte what ``prometheus_client`` writes,
with its gauges written by a faster path.

``prometheus_client.generate_latest`` validates and escapes every label name of every
sample, and sorts each sample's labels: two thirds of a scrape of 10,000 KPI series went
there. A gauge family's label names are the same for all its samples, so here they are
checked and escaped once per family; label values are escaped as ``prometheus_client``
escapes them (backslash, double quote, newline) and values formatted by its own
``floatToGoString``. Every other family (counters, histograms, a gauge with a timestamp
or an unusual name) goes through ``generate_latest`` itself. ``tests/unit/test_exposition.py``
holds the output to ``generate_latest``'s, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from prometheus_client.validation import _is_valid_legacy_labelname, _is_valid_legacy_metric_name


class _Families(Collector):
    """Some already collected families, as a collector ``generate_latest`` can read."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _fast(metric: Metric) -> bool:
    if metric.type != "gauge" or not _is_valid_legacy_metric_name(metric.name):
        return False
    names: set[str] | None = None
    for sample in metric.samples:
        if sample.timestamp is not None or sample.exemplar is not None:
            return False
        if sample.name != metric.name:
            return False
        keys = set(sample.labels)
        if names is None:
            names = keys
            if not all(_is_valid_legacy_labelname(k) for k in keys):
                return False
        elif keys != names:
            return False
    return True


def _escape(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _gauge(metric: Metric, out: list[str]) -> None:
    name = metric.name
    help_text = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
    out.append(f"# HELP {name} {help_text}\n# TYPE {name} gauge\n")
    if not metric.samples:
        return
    keys = sorted(metric.samples[0].labels)
    if not keys:
        for sample in metric.samples:
            out.append(f"{name} {floatToGoString(sample.value)}\n")
        return
    heads = [f'{name}{{{keys[0]}="', *(f'",{k}="' for k in keys[1:])]
    pairs = list(zip(heads, keys, strict=True))
    for sample in metric.samples:
        labels = sample.labels
        parts = [head + _escape(labels[key]) for head, key in pairs]
        out.append(f'{"".join(parts)}"}} {floatToGoString(sample.value)}\n')


def render(registry: Collector) -> bytes:
    """``generate_latest(registry)``, faster for gauges."""
    out: list[str] = []
    slow: list[Metric] = []

    def flush_slow() -> None:
        if slow:
            out.append(generate_latest(_Families(slow)).decode("utf-8"))
            slow.clear()

    for metric in registry.collect():
        if _fast(metric):
            flush_slow()
            _gauge(metric, out)
        else:
            slow.append(metric)
    flush_slow()
    return "".join(out).encode("utf-8")
