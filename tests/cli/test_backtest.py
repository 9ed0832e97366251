"""``socialpulse backtest``: a file through the worker's core and detectors, no broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from socialpulse.agents.settings import FileConfig, WorkerSettings
from socialpulse.cli.backtest import Backtest, BacktestResult, CoreProducer, summary, table
from socialpulse.streams import plugins
from socialpulse.streams.builtin_plugins import replay
from tests.alert_scenarios import stream
from tests.alerts.test_alert_batching import BURST, EVENTS, key, reference
from tests.fakes import event

REPLAY = {
    "raw": False,
    "fmt": "auto",
    "maps": (),
    "sets": (),
    "delimiter": None,
    "limit": None,
    "dry_run": False,
}


def run(
    path: Path, *, config: FileConfig | None = None, trace: bool = False, **options: Any
) -> tuple[BacktestResult, plugins.Sink]:
    backtest = Backtest(WorkerSettings(), config or FileConfig(), trace=trace)
    sink = asyncio.run(
        plugins.produce(replay, CoreProducer(backtest), {**REPLAY, "file": path, **options}, None)
    )
    return backtest.result, sink


def lines(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(ev) + "\n" for ev in events), encoding="utf-8")
    return path


def comparable(alerts: list[Any]) -> list[Any]:
    """As the batching tests compare alerts, without the wall clock of ``fired_at``."""
    out = []
    for brand, rule, state, at, body in sorted(alerts, key=lambda k: k[0]):
        body = {k: v for k, v in body.items() if k != "fired_at"}
        out.append((brand, rule, state, at, body))
    return out


def test_a_backtest_raises_what_the_worker_core_raises(tmp_path: Path) -> None:
    """The file of the batching tests (a burst, a calm brand that goes quiet, events out of
    order by up to 90 s): the backtest's alerts are those of the harness reading one
    event a batch, figures and evidence included."""
    result, sink = run(lines(tmp_path / "events.jsonl", EVENTS))
    assert sink.sent == len(EVENTS) and not sink.refused
    assert result.counted == len(EVENTS) and not result.dead_letters
    assert comparable([key(a) for a in result.alerts]) == comparable(reference())
    fired = [i.fired for i in result.incidents() if i.fired.rule == "negative_sentiment"]
    assert fired and 0 < fired[0].event_time - BURST <= 60


def test_a_csv_file_is_read_as_replay_reads_it(tmp_path: Path) -> None:
    rows = ["id,ts,brand,kind,count"]
    rows += [f"r{k},{1_700_000_000 + k},acme,impression,{k + 1}" for k in range(50)]
    path = tmp_path / "events.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result, sink = run(path)
    assert sink.sent == 50 and result.counted == 50
    assert result.first_ts == 1_700_000_000 and result.last_ts == 1_700_000_049


def test_bad_lines_are_refused_and_bad_messages_dead_lettered(tmp_path: Path) -> None:
    good = [event(ts=1_700_000_000.0 + k) for k in range(5)]
    path = tmp_path / "mixed.jsonl"
    body = "".join(json.dumps(ev) + "\n" for ev in good)
    body += "{not json\n" + json.dumps({"id": "x", "ts": 1.7e9, "kind": "like"}) + "\n"
    body += json.dumps(event(ts=1_700_000_000.0 - 3600)) + "\n"  # an hour behind: late
    body += json.dumps(good[0]) + "\n"  # the same id again: a duplicate
    path.write_text(body, encoding="utf-8")

    result, sink = run(path)  # validated as `replay` validates: refused before the core
    assert sum(sink.refused.values()) == 2 and sink.sent == 7
    assert result.counted == 5 and result.duplicates == 1
    assert result.dead_letters == {"late": 1}

    result, sink = run(path, raw=True)  # unchanged: the core dead-letters, with reasons
    assert not sink.refused and result.counted == 5
    assert sum(result.dead_letters.values()) == 3 and result.dead_letters["late"] == 1
    text = summary(result)
    assert "counted 5 events" in text and "late 1" in text and "1 duplicates ignored" in text


def test_the_table_pairs_each_fire_with_its_resolve(tmp_path: Path) -> None:
    result, _ = run(lines(tmp_path / "events.jsonl", EVENTS))
    incidents = result.incidents()
    assert incidents and all(i.resolved is None or i.resolved.id == i.fired.id for i in incidents)
    rows = table(incidents)
    assert rows[0].split() == [
        "brand",
        "rule",
        "severity",
        "fired",
        "(UTC)",
        "resolved",
        "(UTC)",
        "value",
        "baseline",
        "threshold",
    ]
    burst = next(r for r in rows if r.startswith("acme") and "negative_sentiment" in r)
    assert "crisis" in burst and "2023-11-14" in burst  # T0 is 2023-11-14 22:13 UTC
    assert len(rows) == len(incidents) + 1


def test_tuning_from_the_config_changes_the_verdicts(tmp_path: Path) -> None:
    path = lines(tmp_path / "events.jsonl", EVENTS)
    strict = FileConfig.model_validate({"alerts": {"tuning": {"negative_share_rise": 0.9}}})
    result, _ = run(path, config=strict)
    assert not [a for a in result.alerts if a.rule == "negative_sentiment"]
    # a brand's own limit: calmco's usual 15 % of negatives is over it
    assert not [a for a in reference() if a[:2] == ("calmco", "negative_sentiment")]
    limits = FileConfig.model_validate(
        {"brands": {"calmco": {"alerts": {"negative_sentiment": {"above": 0.05}}}}}
    )
    result, _ = run(path, config=limits)
    assert [a for a in result.alerts if (a.brand, a.rule) == ("calmco", "negative_sentiment")]


def test_plots_show_each_alerting_rule(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from socialpulse.cli.backtest_plot import file_name, plot

    t0 = 1_700_000_000.0
    events = stream("acme/EU", t0, 40, seed=1)
    events += stream("acme/EU", t0 + 2400, 8, seed=2, mentions=40, negative_share=0.8, tag="b")
    result, _ = run(lines(tmp_path / "events.jsonl", events), trace=True)
    rules = {(i.fired.brand, i.fired.rule) for i in result.incidents()}
    assert ("acme/EU", "negative_sentiment") in rules
    trace = result.traces[("acme/EU", "negative_sentiment")]
    assert len(trace.times) == len(trace.values) == len(trace.thresholds) > 40 * 6
    written = plot(result, tmp_path / "charts")
    assert sorted(p.name for p in written) == sorted(file_name(b, r) for b, r in rules)
    assert file_name("acme/EU", "negative_sentiment") == "acme_EU-negative_sentiment.png"
    for path in written:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
