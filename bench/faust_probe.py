"""The two Faust baselines, run as ``python -m bench.faust_probe MODE ...``:

* ``noop``: an agent that only counts messages (Faust's own ceiling);
* ``table``: the naive way, a tumbling-window table updated per event.

Each prints ``first <epoch>`` at its first message and ``done <epoch> <count>`` once it has
seen ``--expect`` events, then exits at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import faust
import orjson


def build(mode: str, broker: str, topic: str, expect: int, app_id: str) -> faust.App:
    app = faust.App(
        app_id,
        broker=broker,
        store="memory://",
        web_enabled=False,
        topic_partitions=4,
        topic_allow_declare=False,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.5,
        consumer_auto_offset_reset="earliest",
        # Tansu's high watermark quirk (docs/deployment.md), for the changelog
        producer_max_batch_size=1,
        autodiscover=False,
    )
    source = app.topic(topic, key_serializer="raw", value_serializer="raw")
    seen = 0

    def count(n: int) -> None:
        nonlocal seen
        if seen == 0:
            os.write(1, f"first {time.time()}\n".encode())  # fd 1: Faust redirects sys.stdout
        seen += n
        if seen >= expect:
            os.write(1, f"done {time.time()} {seen}\n".encode())
            os._exit(0)

    if mode == "noop":

        async def noop(stream: Any) -> None:
            async for _ in stream:
                count(1)

        app.agent(source, name="noop")(noop)
    else:
        table = app.Table("counts", default=int, partitions=4).tumbling(60.0, expires=3600.0)

        async def naive(stream: Any) -> None:
            async for value in stream:
                event = orjson.loads(value)
                table[event["brand"]] += 1
                count(1)

        app.agent(source, name="naive")(naive)
    return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mode", choices=("noop", "table"))
    ap.add_argument("--broker", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--app-id", required=True)
    args = ap.parse_args()
    app = build(args.mode, args.broker, args.topic, args.expect, args.app_id)
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()


if __name__ == "__main__":
    main()
