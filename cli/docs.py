"""Tables of the documentation generated from the code's own catalogue and settings, so
they cannot drift: the metrics (docs/kpis.md) and the settings (docs/configuration.md).

    python -m socialpulse.cli.docs docs      # rewrite the generated sections in place

Each section lies between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in one page of
``docs/``. A test fails when a page's sections differ from what this module generates.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry
from pydantic_settings import BaseSettings

from socialpulse.agents.exporter import KpiCollector
from socialpulse.agents.lag import ConsumerLagCollector
from socialpulse.agents.metrics import Metrics
from socialpulse.agents.settings import WorkerSettings
from socialpulse.agents.state import KpiState
from socialpulse.streams.settings import IngestSettings, KafkaSettings


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


#: each kind of settings and the processes that read it (a field is listed once, with the
#: first kind that declares it: the connection's fields with every process)
SETTINGS_KINDS: tuple[tuple[type[BaseSettings], str], ...] = (
    (KafkaSettings, "every process"),
    (WorkerSettings, "worker"),
    (IngestSettings, "`ingest`"),
)


def settings_markdown() -> str:
    """The table of every ``SOCIALPULSE_*`` setting with its default and who reads it."""
    rows = ["| variable | default | read by | meaning |", "|---|---|---|---|"]
    listed: set[str] = set()
    for kind, readers in SETTINGS_KINDS:
        for name, field in kind.model_fields.items():
            if name in listed:
                continue
            listed.add(name)
            default = field.default
            shown = "—" if default is None else f"`{default}`"
            meaning = field.description or ""
            rows.append(f"| `SOCIALPULSE_{name.upper()}` | {shown} | {readers} | {meaning} |")
    return "\n".join(rows)


SECTIONS = {"metrics": metrics_markdown, "settings": settings_markdown}


def render(text: str, *, require: bool = True) -> str:
    """``text`` with every generated section it holds brought up to date; with
    ``require``, every section must be there."""
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", flags=re.DOTALL)
        if not pattern.search(text):
            if require:
                raise ValueError(f"no <!-- {name}:begin --> ... <!-- {name}:end --> section")
            continue
        head, tail = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
        text = pattern.sub(head + make().replace("\\", "\\\\") + "\n" + tail, text)
    return text


def render_pages(folder: Path) -> dict[Path, str]:
    """Every page of ``folder`` whose generated sections are out of date, with its new
    text. Raises ValueError when a section is in no page."""
    found: set[str] = set()
    changed: dict[Path, str] = {}
    for page in sorted(folder.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        found |= {name for name in SECTIONS if f"<!-- {name}:begin -->" in text}
        new = render(text, require=False)
        if new != text:
            changed[page] = new
    missing = set(SECTIONS) - found
    if missing:
        raise ValueError(f"no page of {folder} holds the section(s) {', '.join(sorted(missing))}")
    return changed


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python -m socialpulse.cli.docs docs/", file=sys.stderr)
        return 2
    for page, text in render_pages(Path(argv[0])).items():
        page.write_text(text, encoding="utf-8")
        print(f"updated {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
