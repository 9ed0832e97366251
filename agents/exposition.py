"""The text exposition of ``/metrics``, byte for byte what ``prometheus_client`` writes,
written by a faster path.

``prometheus_client.generate_latest`` validates and escapes every label name of every
sample, and sorts each sample's labels; a custom collector's ``add_metric`` builds a
``Sample`` and a label dict per series. At 10,000 KPI series and more that was most of a
scrape. Here:

- the KPI collector fills ``GaugeRows``: a gauge family that keeps each series as its
  row of label values (``Sample``s are built only when something reads ``samples``),
  written with the label names checked, sorted and escaped once per family;
- every other family with legacy metric and label names (counters with their
  ``_created`` samples, histograms, plain gauges) is written by a port of
  ``generate_latest``'s loop that sorts and escapes a label-name set once;
- anything else (a name outside the legacy character set) goes through
  ``generate_latest`` itself.

Label values are escaped as ``prometheus_client`` escapes them (backslash, double quote,
newline) and values formatted by its own ``floatToGoString``.
``tests/agents/test_exposition.py`` holds the output to ``generate_latest``'s, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString
from prometheus_client.validation import _is_valid_legacy_labelname, _is_valid_legacy_metric_name


class GaugeRows(GaugeMetricFamily):
    """A gauge family whose series are kept as rows: (label values, value)."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        #: (label values, value); the collector may append to it directly, with label
        #: values as a tuple of the right length
        self.rows: list[tuple[tuple[str, ...], float]] = []
        super().__init__(name, documentation, labels=labels)

    @property  # type: ignore[override]
    def samples(self) -> list[Sample]:
        names = self._labelnames
        return [
            Sample(self.name, dict(zip(names, labels, strict=True)), value)
            for labels, value in self.rows
        ]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        if value:  # Metric.__init__ sets an empty list; nothing else may
            raise AttributeError("GaugeRows takes series through add_metric")

    def add_metric(self, labels: Sequence[str], value: float, timestamp: Any = None) -> None:
        if timestamp is not None:
            raise ValueError("GaugeRows series carry no timestamp")
        if len(labels) != len(self._labelnames):
            raise ValueError(f"{self.name}: {len(labels)} label values for {self._labelnames}")
        self.rows.append((tuple(labels), value))


class _Families(Collector):
    """Some already collected families, as a collector ``generate_latest`` can read."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _escape(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _number(value: float) -> str:
    """``floatToGoString(value)``, with the common case first."""
    d = float(value)
    s = repr(d)
    if s[-1] in "fn":  # inf, -inf, nan
        return floatToGoString(d)
    if d > 0 and s.find(".") > 6:  # Go writes an exponent sooner than Python
        return floatToGoString(d)
    return s


def _help(name: str, metric: Metric, kind: str) -> str:
    help_text = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


def _legacy_labels(names: Iterable[str]) -> bool:
    return all(_is_valid_legacy_labelname(name) for name in names)


#: label names -> label values -> their written ``{...}``
Bodies = dict[tuple[str, ...], dict[tuple[str, ...], str]]


def _rows(metric: GaugeRows, out: list[str], bodies: Bodies) -> bool:
    """Write a ``GaugeRows`` family; False (nothing written) when its names need escaping.

    ``bodies`` holds, per label-name list, the written ``{...}`` of each row of label
    values met in this render: the KPI families share their rows' label values, so each
    is sorted and escaped once per scrape, not once per family."""
    name = metric.name
    names = metric._labelnames
    if not _is_valid_legacy_metric_name(name) or not _legacy_labels(names):
        return False
    out.append(_help(name, metric, "gauge"))
    if not names:
        out.extend(f"{name} {_number(value)}\n" for _, value in metric.rows)
        return True
    order = sorted(range(len(names)), key=lambda i: names[i])
    first, *rest = order
    heads = [f'{{{names[first]}="', *(f'",{names[i]}="' for i in rest)]
    pairs = list(zip(heads, order, strict=True))
    written = bodies.setdefault(tuple(names), {})
    append = out.append
    for labels, value in metric.rows:
        body = written.get(labels)
        if body is None:
            plain = "".join(labels)
            if "\\" in plain or "\n" in plain or '"' in plain:
                body = "".join([head + _escape(labels[i]) for head, i in pairs]) + '"}'
            else:
                body = "".join([head + labels[i] for head, i in pairs]) + '"}'
            written[labels] = body
        append(f"{name}{body} {_number(value)}\n")
    return True


#: generate_latest's renaming from OpenMetrics types to the Prometheus text format
_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}
_SUFFIXES = ("_created", "_gsum", "_gcount")


def _family(metric: Metric, out: list[str]) -> bool:
    """Write any family as ``generate_latest`` does; False (nothing written) when a metric
    or label name needs escaping."""
    samples = metric.samples
    names = {sample.name for sample in samples} | {metric.name}
    if not all(_is_valid_legacy_metric_name(n) for n in names):
        return False
    label_sets: dict[frozenset[str], list[str]] = {}
    for sample in samples:
        keys = frozenset(sample.labels)
        if keys not in label_sets:
            if not _legacy_labels(keys):
                return False
            label_sets[keys] = sorted(keys)
    mname, mtype = metric.name, metric.type
    if mtype == "counter":
        mname += "_total"
    elif mtype == "info":
        mname += "_info"
    mtype = _TYPES.get(mtype, mtype)
    lines: list[str] = [_help(mname, metric, mtype)]
    extra: dict[str, list[str]] = {}
    specials = {metric.name + suffix: suffix for suffix in _SUFFIXES}
    for sample in samples:
        labels = sample.labels
        if labels:
            order = label_sets[frozenset(labels)]
            body = ",".join([f'{k}="{_escape(labels[k])}"' for k in order])
            line = f"{sample.name}{{{body}}} {_number(sample.value)}"
        else:
            line = f"{sample.name} {_number(sample.value)}"
        if sample.timestamp is not None:
            line += f" {int(float(sample.timestamp) * 1000):d}"
        suffix = specials.get(sample.name)
        if suffix is None:
            lines.append(line + "\n")
        else:
            extra.setdefault(suffix, []).append(line + "\n")
    for suffix, extra_lines in sorted(extra.items()):
        lines.append(_help(metric.name + suffix, metric, "gauge"))
        lines.extend(extra_lines)
    out.extend(lines)
    return True


def render(registry: Collector) -> bytes:
    """``generate_latest(registry)``, faster."""
    out: list[str] = []
    bodies: Bodies = {}
    for metric in registry.collect():
        if isinstance(metric, GaugeRows):
            written = _rows(metric, out, bodies)
        else:
            written = _family(metric, out)
        if not written:
            out.append(generate_latest(_Families([metric])).decode("utf-8"))
    return "".join(out).encode("utf-8")
