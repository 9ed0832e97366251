"""README tables generated from the code's own catalogue and settings, so they cannot drift.

    python -m socialpulse.agents.docs README.md   # rewrite the generated sections in place

A test fails when the README's sections differ from what this module generates.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.lag import ConsumerLagCollector
from socialpulse.agents.metrics import Metrics
from socialpulse.agents.settings import Settings
from socialpulse.agents.state import KpiState


def metrics_markdown() -> str:
    """The table of every metric the worker exports, from the exporter and the metrics."""
    rows = ["| metric | type | labels | definition |", "|---|---|---|---|"]
    gauges = [*KpiCollector(KpiState()).collect(), *ConsumerLagCollector(None, "").describe()]
    for family in gauges:
        names = ", ".join(f"`{x}`" for x in getattr(family, "_labelnames", ()))
        rows.append(f"| `{family.name}` | gauge | {names or '—'} | {family.documentation} |")
    registry = CollectorRegistry()
    Metrics(registry)
    for family in registry.collect():
        kind = family.type
        name = f"{family.name}_total" if kind == "counter" else family.name
        labels = sorted(
            {k for s in family.samples for k in s.labels if k not in ("le", "quantile")}
        )
        if not labels:
            labels = _declared_labels(family.name)
        label_text = ", ".join(f"`{x}`" for x in labels) or "—"
        rows.append(f"| `{name}` | {kind} | {label_text} | {family.documentation} |")
    return "\n".join(rows)


def _declared_labels(name: str) -> list[str]:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    for attr in vars(metrics).values():
        if getattr(attr, "_name", None) == name:
            return list(getattr(attr, "_labelnames", ()))
    return []


def settings_markdown() -> str:
    """The table of every ``SOCIALPULSE_*`` setting with its default."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "—" if default is None else f"`{default}`"
        rows.append(f"| `SOCIALPULSE_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


SECTIONS = {"metrics": metrics_markdown, "settings": settings_markdown}


def render(readme: str) -> str:
    """The README text with every generated section brought up to date."""
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", flags=re.DOTALL)
        if not pattern.search(readme):
            raise ValueError(f"README has no <!-- {name}:begin --> ... <!-- {name}:end --> section")
        head, tail = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
        readme = pattern.sub(head + make().replace("\\", "\\\\") + "\n" + tail, readme)
    return readme


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m socialpulse.agents.docs README.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
