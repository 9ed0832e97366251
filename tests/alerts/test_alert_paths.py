"""Eight crisis scenarios, three ways in: live (single-event messages in small batches),
a backfill at full speed (envelopes of 200, everything in one batch), and
`socialpulse backtest` over a file. Same alerts (rule, brand, event time) every way;
each scenario detected within its bound, and no crisis on the benign spike or the control.

Run with ``-s`` for the table of scenarios and detection delays."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from socialpulse.agents.settings import FileConfig, WorkerSettings
from socialpulse.agents.testing import Harness
from socialpulse.alerts.rules import Tuning
from socialpulse.cli.backtest import Backtest, CoreProducer
from socialpulse.streams import plugins
from socialpulse.streams.builtin_plugins import replay
from tests.alert_scenarios import big_account_post, stream

T0 = 1_700_000_000.0
CALM = 60  # minutes of history before anything happens
AT = T0 + 60 * CALM  # when the social scenarios start
PAID_AT = AT + 3600  # the paid ones, after two hours of paid history
SILENCE_AFTER = 300.0

#: scenario: (brand, the rule that must fire, its start, seconds it may take; None: none)
SCENARIOS: dict[str, tuple[str, str | None, float, float]] = {
    "negative burst": ("burstco", "negative_sentiment", AT, 60),
    "one big negative account": ("bigco", "negative_exposure", AT + 30, 10),
    "benign viral spike": ("viralco", None, AT, 0),
    "engagement collapse": ("flatco", "engagement_collapse", AT, 300),
    "platform silence": ("quietco", "source_silence", AT, SILENCE_AFTER + 60),
    "CPA surge": ("cpaco", "cpa_surge", PAID_AT, 3600),
    "spend without conversions": ("dryco", "spend_without_conversions", PAID_AT, 3 * 3600),
    "calm control": ("calmco", None, AT, 0),
}


def events() -> list[dict[str, Any]]:
    out = stream("burstco", T0, CALM, seed=1)
    out += stream("burstco", AT, 10, seed=2, mentions=40, negative_share=0.8, tag="b")
    out += stream("burstco", AT + 600, 30, seed=3, tag="a")
    out += stream("bigco", T0, CALM + 40, seed=4)
    out.append(big_account_post("bigco", AT + 30))
    out += stream("viralco", T0, CALM, seed=5)
    out += stream("viralco", AT, 15, seed=6, mentions=60, negative_share=0.05, impressions=1500,
                  tag="v")  # fmt: skip
    out += stream("viralco", AT + 900, 25, seed=7, tag="a")
    out += stream("flatco", T0, CALM, seed=8)
    out += stream("flatco", AT, 15, seed=9, engagement_rate=0.004, tag="f")
    out += stream("flatco", AT + 900, 25, seed=10, tag="a")
    out += stream("quietco", T0, CALM, seed=11)
    out += stream("quietco", AT, 20, seed=12, platforms=("x",), tag="x")
    out += stream("quietco", AT + 1200, 20, seed=13, tag="a")
    out += stream("cpaco", T0, CALM + 60, seed=14, spend=10.0, conversions=0.5)
    out += stream("cpaco", PAID_AT, 60, seed=15, spend=60.0, conversions=0.5, tag="d")
    out += stream("dryco", T0, CALM + 60, seed=16, spend=10.0, conversions=0.5)
    out += stream("dryco", PAID_AT, 60, seed=17, spend=10.0, conversions=0.0, tag="d")
    out += stream("calmco", T0, CALM + 180, seed=18)
    return sorted(out, key=lambda ev: ev["ts"])


EVENTS = events()
Key = tuple[str, str, str, int]  # brand, rule, state, event time (s)


def keys(alerts: list[Any]) -> list[Key]:
    return sorted((a.brand, a.rule, a.state, round(a.event_time)) for a in alerts)


def through_the_core(envelope: int, batch: int, keyed: bool = True) -> tuple[list[Key], int]:
    h = Harness(4, alerts=True, tuning=Tuning(silence_after=SILENCE_AFTER))
    h.produce_events(EVENTS, envelope=envelope, keyed=keyed)
    worker = h.start_worker(range(4))
    asyncio.run(h.drain(worker, batch))
    return keys(worker.alerts), len(h.dead_letters)


@cache
def live() -> tuple[list[Key], int]:
    return through_the_core(envelope=1, batch=25)


@cache
def backfill() -> tuple[list[Key], int]:
    return through_the_core(envelope=200, batch=len(EVENTS))


@cache
def backtest(tmp: Path) -> list[Key]:
    path = tmp / "scenarios.jsonl"
    path.write_text("".join(json.dumps(ev) + "\n" for ev in EVENTS), encoding="utf-8")
    config = FileConfig.model_validate({"alerts": {"tuning": {"silence_after": SILENCE_AFTER}}})
    run = Backtest(WorkerSettings(), config)
    options = {"file": path, "raw": False, "fmt": "auto", "maps": (), "sets": (),
               "delimiter": None, "limit": None, "dry_run": False}  # fmt: skip
    asyncio.run(plugins.produce(replay, CoreProducer(run), options, None))
    return keys(run.result.alerts)


def test_live_backfill_and_backtest_raise_the_same_alerts(tmp_path: Path) -> None:
    (seen, live_dead), (full, full_dead) = live(), backfill()
    assert live_dead == full_dead == 0  # nothing late, nothing refused
    assert full == seen
    assert backtest(tmp_path) == seen


@pytest.mark.parametrize(("envelope", "batch"), [(200, 10_000), (200, 7), (1, 100)])
def test_an_unkeyed_backfill_is_counted_and_raises_the_same_alerts(
    envelope: int, batch: int
) -> None:
    """Sent unkeyed (round robin over the 4 partitions), every event is forwarded to its
    brand's owner behind what that partition holds already: the brand's watermark is the
    minimum over the partitions that carry it, so nothing is late and the steps are
    judged once every partition has passed them."""
    alerts, dead = through_the_core(envelope=envelope, batch=batch, keyed=False)
    assert dead == 0
    assert alerts == live()[0]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_scenario_is_caught_in_time_and_only_where_it_should(scenario: str) -> None:
    brand, rule, start, bound = SCENARIOS[scenario]
    fired = [k for k in live()[0] if k[0] == brand and k[2] == "firing"]
    if rule is None:  # benign: at most information, never a crisis rule
        assert {r for _b, r, _s, _t in fired} <= {"mention_spike"}, fired
        return
    first = [t for _b, r, _s, t in fired if r == rule]
    assert first, fired
    delay = first[0] - start
    print(f"\n{scenario:28} {rule:26} detected {delay:6.0f} s of event time after its start")
    assert 0 <= delay <= bound


def test_an_unkeyed_backfill_read_by_two_workers_side_by_side() -> None:
    """Two workers of two partitions each read an unkeyed backfill side by side: each
    owner learns the other's partitions from their forwards, one batch apart."""
    h = Harness(4, alerts=True, tuning=Tuning(silence_after=SILENCE_AFTER))
    h.produce_events(EVENTS, envelope=200, keyed=False)
    one, two = h.start_worker([0, 1]), h.start_worker([2, 3])

    async def side_by_side() -> None:
        while h.pending(one) or h.pending(two):
            await h.step(one, 500)
            await h.step(two, 500)

    asyncio.run(side_by_side())
    h.settle(one)
    h.settle(two)
    assert not h.dead_letters
    assert keys(one.alerts + two.alerts) == live()[0]


def test_a_first_fetch_of_one_partition_alone_raises_the_same_alerts() -> None:
    """What the embedded broker showed for one librdkafka flush: a worker that waited for
    traffic with four empty partitions fetches the first records of one partition alone
    (envelopes from 15 minutes into the stream on), the others' a moment later. The
    empty partitions hold the brands (``KpiState.hold``): nothing is late, and the alerts
    are the live run's, though the held watermarks start before the first events."""
    from socialpulse.streams import codec

    now = [0.0]
    h = Harness(
        4, alerts=True, tuning=Tuning(silence_after=SILENCE_AFTER), hold_unread=True,
        clock=lambda: now[0],
    )  # fmt: skip
    worker = h.start_worker(range(4))
    asyncio.run(h.step(worker, 10))  # nothing yet: the partitions are empty
    now[0] += 60.0
    h.tick(worker)
    envelopes = [EVENTS[i : i + 200] for i in range(0, len(EVENTS), 200)]
    first = 8  # the first 1,600 events (about 15 minutes) reach the other partitions later
    for chunk in envelopes[first : first + 27]:
        h.produce(codec.dumps(chunk), 0)
    asyncio.run(h.step(worker, 100))  # the first fetch: partition 0 alone
    now[0] += 0.2
    for k, chunk in enumerate(envelopes[:first]):
        h.produce(codec.dumps(chunk), 1 + k % 3)
    for k, chunk in enumerate(envelopes[first + 27 :]):
        h.produce(codec.dumps(chunk), k % 4)
    asyncio.run(h.drain(worker, 50))
    assert not h.dead_letters
    assert keys(worker.alerts) == live()[0]
