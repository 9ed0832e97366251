"""The bench's results: a table on the terminal, a JSON file and a PNG chart.

The chart needs matplotlib, which a plain install lacks (``pip install 'socialpulse[bench]'``
brings it): without it :meth:`Report.write` writes the JSON only, and the caller says how
to get the chart; the table and the JSON never depend on it.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: what to install for the chart, said when matplotlib is missing
CHART_HINT = (
    "the chart (bench.png) needs matplotlib: pip install 'socialpulse[bench]' "
    "(or pip install matplotlib), then run the bench again"
)


def can_chart() -> bool:
    """True when matplotlib, which draws the chart, is installed."""
    return importlib.util.find_spec("matplotlib") is not None


@dataclass
class Row:
    name: str
    events: int
    seconds: float
    baseline: str  # the raw row it is compared with
    target: str = ""  # what the issue asks of it, in words
    met: bool | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # latency, memory, scrape, machine

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    def ratio(self, row: Row) -> float:
        base = self.row(row.baseline).rate
        return row.rate / base if base else 0.0

    def table(self) -> str:
        lines = [
            f"{'row':<44}{'events':>10}{'events/s':>12}{'x raw':>8}  target",
            "-" * 100,
        ]
        for r in self.rows:
            verdict = "" if r.met is None else (" met" if r.met else " MISSED")
            lines.append(
                f"{r.name:<44}{r.events:>10,}{r.rate:>12,.0f}{self.ratio(r):>8.2f}  "
                f"{r.target}{verdict}"
            )
        for key, value in self.extra.items():
            if key != "machine":
                lines.append(f"{key}: {value}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        rows = [
            asdict(r) | {"events_per_second": r.rate, "ratio_to_raw": self.ratio(r)}
            for r in self.rows
        ]
        return {"rows": rows, **self.extra}

    def write(self, directory: Path, chart: bool | None = None) -> tuple[Path, Path | None]:
        """Write bench.json, and bench.png when matplotlib is there (``chart`` overrides);
        the PNG's path, or None when no chart was drawn."""
        directory.mkdir(parents=True, exist_ok=True)
        json_path = directory / "bench.json"
        json_path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        if not (can_chart() if chart is None else chart):
            return json_path, None
        png_path = directory / "bench.png"
        self.chart(png_path)
        return json_path, png_path

    def chart(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [r.name for r in self.rows][::-1]
        rates = [r.rate for r in self.rows][::-1]
        colours = [
            "#7f7f7f" if r.met is None else ("#2ca02c" if r.met else "#d62728") for r in self.rows
        ][::-1]
        fig, ax = plt.subplots(figsize=(10, 0.5 * len(names) + 1.5))
        bars = ax.barh(names, rates, color=colours)
        for bar, r in zip(bars, self.rows[::-1], strict=True):
            ax.text(
                bar.get_width(),
                bar.get_y() + bar.get_height() / 2,
                f" {r.rate:,.0f}/s ({self.ratio(r):.2f}x raw)",
                va="center",
                fontsize=8,
            )
        ax.set_xscale("log")
        ax.set_xlabel("events per second (log scale); green: target met, red: missed")
        ax.set_title("socialpulse bench: one run, the same generated events")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
