"""``socialpulse backtest --plot DIR``: one PNG per brand and rule that raised an alert.

Each chart shows the rule's signal at every step of event time, the baseline it was
compared with, the threshold above which it fires (the band between the two shaded), and
the spans during which the alert was firing. The charts need matplotlib, which a plain
install lacks (``pip install 'socialpulse[plot]'``).
"""

from __future__ import annotations

import importlib.util
import math
import re
from datetime import UTC
from pathlib import Path

from socialpulse.cli.backtest import BacktestResult, Incident

MISSING = (
    "--plot needs matplotlib: pip install 'socialpulse[plot]' (or pip install matplotlib), "
    "then run the backtest again"
)


def can_plot() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def file_name(brand: str, rule: str) -> str:
    """A file name for a brand and rule that any file system takes."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", brand).strip("._") or "brand"
    return f"{safe[:80]}-{rule}.png"


def _day(ts: float) -> float:
    """Epoch seconds as matplotlib's date numbers (days since 1970, UTC)."""
    return ts / 86400.0


def plot(result: BacktestResult, folder: Path) -> list[Path]:
    """Write the charts into ``folder`` (created if needed); the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    by_key: dict[tuple[str, str], list[Incident]] = {}
    for incident in result.incidents():
        by_key.setdefault((incident.fired.brand, incident.fired.rule), []).append(incident)
    written: list[Path] = []
    for (brand, rule), incidents in sorted(by_key.items()):
        trace = result.traces.get((brand, rule))
        if trace is None or not trace.times:
            continue  # a wall-clock rule: nothing judged in event time to draw
        times = [_day(t) for t in trace.times]
        fig, ax = plt.subplots(figsize=(11, 4), dpi=100)
        ax.plot(times, trace.values, color="#1f77b4", linewidth=1.0, label="signal")
        ax.plot(times, trace.baselines, color="#555555", linewidth=1.0, label="baseline")
        ax.plot(times, trace.thresholds, color="#d62728", linewidth=0.8, linestyle="--",
                label="threshold")  # fmt: skip
        low = [b if not math.isnan(b) else th for b, th in zip(trace.baselines, trace.thresholds,
                                                               strict=True)]  # fmt: skip
        ax.fill_between(times, low, trace.thresholds, color="#d62728", alpha=0.08, linewidth=0)
        end = trace.times[-1]
        for n, incident in enumerate(incidents):
            start = incident.fired.event_time
            stop = incident.resolved.event_time if incident.resolved else end
            ax.axvspan(
                _day(start),
                _day(stop),
                color="#ff7f0e",
                alpha=0.25,
                label="alert firing" if n == 0 else None,
            )
        severity = incidents[0].fired.severity
        ax.set_title(f"{brand}: {rule} ({len(incidents)} alert(s), {severity})", fontsize=11)
        ax.set_xlabel("event time (UTC)")
        ax.xaxis_date(tz=UTC)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=UTC))
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        path = folder / file_name(brand, rule)
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
