"""Worker throughput on the embedded broker: events/s with envelopes and with single events.

    python bench/throughput.py --events 200000 [--text-share 0.1]

Starts `socialpulse broker` and `socialpulse worker` on free ports, fills the events topic
with generated events (sent with aiokafka as fast as the broker takes them),
with the worker already running and ready, and measures the time from the start of
filling until the worker has counted every event (`socialpulse_batch_events_sum` on
/metrics). Producing is inside the time, so the figures are lower bounds. One line per mode.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

if not __package__:  # run as `python bench/throughput.py`: `import bench` needs the repo's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import fill
from bench.probes import CLI, embedded_broker
from socialpulse.agents.processes import free_port, wait_port
from socialpulse.streams.generator import SyntheticStream
from socialpulse.streams.topics import ensure_topics


def accepted(port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    for line in text.splitlines():
        if line.startswith("socialpulse_batch_events_sum "):
            return float(line.split()[1])
    return 0.0


def measure(
    bootstrap: str, events: list[dict], envelope: int, workdir: str, **extra_env: str
) -> tuple[float, int]:
    """Events/s from the moment the topic starts filling until the worker counted them all.

    The worker is started and ready (partitions assigned) first; the time includes
    producing, so the figure is a lower bound on the worker's rate.
    """
    tag = f"b{envelope}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    web = free_port()
    env = dict(
        os.environ,
        SOCIALPULSE_BROKER=f"kafka://{bootstrap}",
        SOCIALPULSE_WEB_PORT=str(web),
        SOCIALPULSE_APP_ID=tag,
        SOCIALPULSE_EVENTS_TOPIC=f"ev-{tag}",
        SOCIALPULSE_DLQ_TOPIC=f"dlq-{tag}",
        SOCIALPULSE_ALERTS_TOPIC=f"al-{tag}",
        **extra_env,
    )
    asyncio.run(ensure_topics(bootstrap, {f"ev-{tag}": 4}))
    log_path = os.path.join(workdir, f"{tag}.log")
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [*CLI, "worker", "-l", "info"],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        if not wait_port("127.0.0.1", web, 90, worker):
            raise SystemExit(f"the worker did not serve port {web}")
        deadline = time.monotonic() + 90
        while b"Worker ready" not in Path(log_path).read_bytes():
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not get ready")
            time.sleep(0.1)
        start = time.monotonic()
        messages = asyncio.run(fill(bootstrap, f"ev-{tag}", events, envelope))
        while accepted(web) < len(events):
            time.sleep(0.05)
        return len(events) / (time.monotonic() - start), messages
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)


def with_text_share(events: list[dict], share: float) -> list[dict]:
    """The events with text on ``share`` of them and no producer sentiment, lang or hashtags.

    Texts are the generator's own (seven languages, emoji, hashtags), spread evenly.
    """
    pool = [ev["text"] for ev in events if ev.get("text")]
    step = max(1, round(1 / share)) if share > 0 else 0
    out = []
    for i, ev in enumerate(events):
        ev = {k: v for k, v in ev.items() if k not in ("text", "sentiment", "lang", "hashtags")}
        if step and i % step == 0:
            ev["text"] = pool[(i // step) % len(pool)]
        out.append(ev)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--single", type=int, default=50_000, help="events for the single-event run")
    ap.add_argument(
        "--text-share",
        type=float,
        default=0.1,
        help="share of events with text (to be scored) in the enrichment rows; 0 skips them",
    )
    args = ap.parse_args()
    stream = SyntheticStream(seed=7, brands=6)
    now = time.time()
    events = stream.events(now, args.events)
    with embedded_broker() as bootstrap, tempfile.TemporaryDirectory() as workdir:
        rate, messages = measure(bootstrap, events, 500, workdir)
        print(
            f"envelopes of 500: {rate:,.0f} events/s",
            f"({len(events):,} events, {messages:,} messages)",
        )
        if args.text_share > 0:
            texty = with_text_share(events, args.text_share)
            share = f"{args.text_share:.0%} with text"
            for enrich in ("true", "false"):
                rate, messages = measure(bootstrap, texty, 500, workdir, SOCIALPULSE_ENRICH=enrich)
                label = "enrichment on: " if enrich == "true" else "enrichment off:"
                print(
                    f"envelopes of 500, {share}, {label} {rate:,.0f} events/s",
                    f"({len(texty):,} events, {messages:,} messages)",
                )
        single = events[: args.single]
        rate, messages = measure(bootstrap, single, 1, workdir)
        print(
            f"single events:    {rate:,.0f} events/s",
            f"({len(single):,} events, {messages:,} messages)",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
