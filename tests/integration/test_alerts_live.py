"""The eight alert scenarios live, at real time, through the broker.

The scenarios of ``tests/alerts/test_alert_paths.py``, moved in event time so that they
start now: their history (an hour of calm, two hours of paid history) is sent first at
full speed, then the events of the crisis minutes are sent one per message, keyed by brand,
each at the wall-clock time it carries, as a live producer sends them. The alerts the
worker raises are those `socialpulse backtest` finds in the same events (rule, brand,
state, event time), each scenario is caught within its bound, and the wall-clock delay
from an alert's event time to its webhook delivery is printed.

``SOCIALPULSE_LIVE_MINUTES`` (default 7) is how long the live part runs: 7 minutes hold the
social scenarios (the slowest, platform silence, fires after 5 minutes); the paid ones
(CPA surge, spend without conversions: about 29 minutes) need 32."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from tests.alerts.test_alert_paths import AT, EVENTS, PAID_AT, SCENARIOS, SILENCE_AFTER
from tests.integration.conftest import Stack, value
from tests.integration.test_alerts import Hook, backtest, hook  # noqa: F401 (the fixture)
from tests.integration.test_pipeline import dumps

pytestmark = pytest.mark.integration

LIVE_MINUTES = float(os.environ.get("SOCIALPULSE_LIVE_MINUTES", "7"))
PAID = {"cpaco", "dryco"}


def moved(start: float) -> list[dict[str, Any]]:
    """The scenarios' events with their crises (social at ``AT``, paid at ``PAID_AT``)
    starting at ``start``, in event-time order."""
    out = []
    for ev in EVENTS:
        shift = start - (PAID_AT if ev["brand"] in PAID else AT)
        out.append({**ev, "ts": round(ev["ts"] + shift, 3)})
    return sorted(out, key=lambda ev: ev["ts"])


def key(alert: dict[str, Any]) -> tuple[str, str, str, int]:
    return (alert["brand"], alert["rule"], alert["state"], round(alert["event_time"]))


def test_the_scenarios_live_at_real_time(stack: Stack, hook: Hook, tmp_path: Path) -> None:  # noqa: F811
    config = tmp_path / "socialpulse.yml"
    config.write_text(f"alerts:\n  tuning:\n    silence_after: {SILENCE_AFTER}\n")
    stack.start_worker(SOCIALPULSE_ALERT_NOTIFY=hook.url, SOCIALPULSE_CONFIG_FILE=str(config))
    producer = Producer(
        {"bootstrap.servers": stack.bootstrap, "linger.ms": 5, "partitioner": "murmur2_random"}
    )
    start = time.time() + 45  # the history is sent and counted before the crises start
    events = moved(start)
    end = start + 60 * LIVE_MINUTES
    history = [ev for ev in events if ev["ts"] < start]
    live = [ev for ev in events if start <= ev["ts"] < end]
    by_brand: dict[str, list[dict[str, Any]]] = {}
    for ev in history:
        by_brand.setdefault(ev["brand"], []).append(ev)
    for brand, items in by_brand.items():
        for i in range(0, len(items), 200):
            producer.produce(stack.events_topic, dumps(items[i : i + 200]), brand.encode())
    assert producer.flush(30) == 0
    s = stack.wait_for(
        lambda s: (
            sum(v for (n, _), v in s.items() if n == "socialpulse_events_total") >= len(history)
        ),
        seconds=40,
    )
    counted = sum(v for (n, _), v in s.items() if n == "socialpulse_events_total")
    assert counted == len(history), stack.log_tail()
    assert time.time() < start, "the history took too long to count"

    # live: each event sent, alone and keyed by its brand, once the wall clock reaches it
    i = 0
    while i < len(live):
        now = time.time()
        while i < len(live) and live[i]["ts"] <= now:
            ev = live[i]
            producer.produce(stack.events_topic, dumps(ev), ev["brand"].encode())
            i += 1
        producer.poll(0)
        time.sleep(max(0.0, min(0.2, live[i]["ts"] - time.time())) if i < len(live) else 0)
    assert producer.flush(30) == 0
    s = stack.wait_for(
        lambda s: (
            sum(v for (n, _), v in s.items() if n == "socialpulse_events_total")
            >= len(history) + len(live)
        ),
        seconds=30,
    )
    counted = sum(v for (n, _), v in s.items() if n == "socialpulse_events_total")
    late = value(s, "socialpulse_events_rejected_total", reason="late") or 0
    assert (counted, late) == (len(history) + len(live), 0), stack.log_tail()
    time.sleep(3)  # the last alerts delivered
    received = list(hook.received)

    path = tmp_path / "sent.jsonl"
    path.write_bytes(b"".join(dumps(ev) + b"\n" for ev in history + live))
    backtested = sorted(key(a) for a in backtest(path, config))
    got = sorted(key(a) for _, a in received)

    delays = [t - a["event_time"] for t, a in received if a["state"] == "firing"]
    print(f"\nlive for {LIVE_MINUTES:g} min: {len(live)} events sent one per message, "
          f"{len(received)} alert events (backtest {len(backtested)})")  # fmt: skip
    if delays:
        print(f"wall-clock delay from an alert's event time to its webhook delivery: "
              f"median {statistics.median(delays):.1f} s, max {max(delays):.1f} s")  # fmt: skip
    for at, a in received:
        print(f"  {a['brand']:8} {a['rule']:26} {a['state']:8} event time "
              f"{a['event_time'] - start:+7.0f} s, delivered {at - a['event_time']:5.1f} s "
              "after it")  # fmt: skip
    assert got == backtested, "\n".join(map(str, sorted(set(got) ^ set(backtested))))

    firing = {(a["brand"], a["rule"]): a for _, a in received if a["state"] == "firing"}
    for name, (brand, rule, at, bound) in SCENARIOS.items():
        begins = start + (at - (PAID_AT if brand in PAID else AT))
        if rule is None:
            crises = [a for (b, _), a in firing.items() if b == brand and a["crisis"]]
            assert crises == [], name
        else:
            alert = firing.get((brand, rule))
            if alert is None:  # not yet, if the live part ended before its bound
                print(f"{name:28} {rule:26} not fired within the live part")
                assert begins + bound + 60 > end, name
                continue
            taken = alert["event_time"] - begins
            print(f"{name:28} {rule:26} {taken:5.0f} s of event time after its start")
            assert taken <= bound, name
    assert all(d < 30 for d in delays), delays
