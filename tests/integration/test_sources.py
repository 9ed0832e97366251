"""Live-source plug-ins end to end: fake Jetstream / Mastodon -> plug-in -> broker -> worker
-> exact KPIs on /metrics, across forced reconnects."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
from typing import Any

import pytest

from socialpulse.streams import plugins
from socialpulse.streams.producer import EventProducer
from socialpulse.streams.sources import mastodon
from tests.fake_sources import (
    HEARTBEAT,
    FakeJetstream,
    FakeMastodon,
    Play,
    Reply,
    account_frame,
    delete,
    identity_frame,
    iso,
    post_frame,
    status,
    subject_frame,
    update,
)
from tests.integration.conftest import CLI, Samples, Stack, kpi, value

pytestmark = pytest.mark.integration

ACME = "did:plc:acmeacmeacmeacmeacmeacme"
LIKE, REPOST = "app.bsky.feed.like", "app.bsky.feed.repost"


def top_hashtag(samples: Samples, brand: str, tag: str) -> float | None:
    want = {"brand": brand, "window": "1h", "hashtag": tag}
    for (name, labels), v in samples.items():
        if name == "socialpulse_top_hashtag_mentions" and want.items() <= dict(labels).items():
            return v
    return None


def jetstream_frames() -> tuple[list[dict[str, Any] | str], dict[str, int]]:
    """Five seconds of firehose, 0.1 s apart, ending a minute ago; what it holds for acme.

    The malformed frames come last, after every reconnect point of the test, so each is
    sent (and refused) once: a resume rewinds 0.5 s and would replay a bad frame again.
    """
    frames: list[dict[str, Any] | str] = []
    t = int((time.time() - 60) * 1e6)
    n = itertools.count()

    def tick() -> int:
        return t + next(n) * 100_000

    def did(prefix: str, i: int) -> str:
        return f"did:plc:{prefix}{i:0{24 - len(prefix)}d}"

    acme_posts = [f"at://{ACME}/app.bsky.feed.post/own{i}" for i in range(3)]
    for i in range(3):
        frames.append(post_frame(ACME, f"own{i}", tick(), f"Acme news #{i}"))
    for i in range(12):
        tags = ["launch"] if i % 2 else None
        frames.append(post_frame(did("fan", i), f"m{i}", tick(), f"ACME rocket {i}!", tags=tags))
        frames.append(post_frame(did("fan", i), f"n{i}", tick(), f"random {i}"))
        if i < 5:
            frames.append(post_frame(did("gx", i), f"g{i}", tick(), "Globex is fine"))
        if i < 6:
            frames.append(subject_frame(LIKE, did("l", i), f"l{i}", tick(), acme_posts[i % 3]))
        if i < 4:
            frames.append(subject_frame(REPOST, did("r", i), f"r{i}", tick(), acme_posts[0]))
        if i < 2:
            frames.append(post_frame(did("c", i), f"c{i}", tick(), "nice", reply_to=acme_posts[1]))
        if i == 3:
            frames.append(identity_frame(did("id", i), tick()))
        if i == 7:
            frames.append(account_frame(did("ac", i), tick()))
            other = "at://did:plc:other/app.bsky.feed.post/1"
            frames.append(subject_frame(LIKE, did("xx", i), "lx", tick(), other))
    frames.append("not json at all")
    frames.append('{"did": "did:plc:x", "kind": "commit"}')
    frames.append('{"did": "did:plc:x", "time_us": 5, "kind": "commit", "commit": []}')
    frames.append(post_frame(did("fan", 12), "m12", tick(), "last word: acmecorp"))
    counts = {"mention": 13, "globex": 5, "post": 3, "like": 6, "share": 4, "comment": 2}
    return frames, counts


def test_bluesky_cli_to_exact_kpis_across_a_dropped_and_a_closed_connection(stack: Stack) -> None:
    stack.start_worker()
    frames, want = jetstream_frames()
    total = sum(want.values())
    # connection 0 loses its TCP connection after 15 frames, connection 1 is closed after
    # 20; each time 6 frames (mentions, likes...) are published while nobody listens
    fake = FakeJetstream(frames, drops={0: 15}, closes={1: 20}, missed_on_drop=6)
    with fake.in_thread():
        url = fake.url.replace("http://", "ws://") + "/subscribe"
        result = subprocess.run(
            [
                *CLI, "produce", "bluesky", "--url", url,
                "--brand", "acme=acme,acmecorp", "--brand", "globex=globex",
                "--brand-did", f"acme={ACME}",
                "--max-events", str(total), "--duration", "15", "--retry-initial", "0.2",
                "--rewind", "0.5",
            ],
            env=stack.env(), capture_output=True, text=True, timeout=90,
        )  # fmt: skip
    assert len(fake.connections) == 3, result.stderr
    assert fake.cursors[0] is None and all(c is not None for c in fake.cursors[1:])
    assert result.returncode == 1, result.stderr  # input was refused: exit status 1
    assert f"produce bluesky: sent {total} events; refused 3 (bad_frame 3)" in result.stdout

    def ready(s: Samples) -> bool:
        return (
            kpi(s, "socialpulse_mentions", "acme") == want["mention"]
            and kpi(s, "socialpulse_engagements", "acme") == 12
            and kpi(s, "socialpulse_mentions", "globex") == want["globex"]
        )

    s = stack.wait_for(ready, seconds=30)
    assert kpi(s, "socialpulse_mentions", "acme") == 13
    assert kpi(s, "socialpulse_mentions", "acme", platform="bluesky") == 13
    assert kpi(s, "socialpulse_mentions", "globex") == 5
    assert kpi(s, "socialpulse_engagements", "acme") == 6 + 4 + 2  # likes, reposts, replies
    assert kpi(s, "socialpulse_share_of_voice_ratio", "acme") == pytest.approx(13 / 18)
    for kind in ("post", "like", "share", "comment", "mention"):
        got = value(s, "socialpulse_events_total", brand="acme", platform="bluesky", kind=kind)
        assert got == want[kind], kind
    assert top_hashtag(s, "acme", "launch") == 6


def test_mastodon_in_process_to_exact_kpis_across_429_drop_and_backfill(stack: Stack) -> None:
    stack.start_worker()
    ids = itertools.count(112_000_000_000_000_000)
    now = time.time()

    def make(n: int, text: str, **kw: Any) -> list[dict[str, Any]]:
        return [
            status(next(ids), f"<p>{text} {i}</p>", created_at=iso(now - 50 + i), **kw)
            for i in range(n)
        ]

    live = make(5, "Acme support is great", tags=["service"], followers=100)
    noise = make(3, "weather today")
    missed = make(7, "acmecorp shipped late again", followers=2600)
    later = make(4, "talking about globex and ACME")
    fake = FakeMastodon(
        token="tok",
        scripts={
            "public": [
                Reply(429, {"Retry-After": "1"}),
                Play(
                    [update(live[0]), HEARTBEAT, update(noise[0]), update(live[1]),
                     "event: update\ndata: {oops\n\n", update(live[2]), delete(live[2]["id"]),
                     update(noise[1]), update(live[3]), update(live[4]), update(noise[2])],
                    end="drop",
                ),
                Play([HEARTBEAT, *(update(s) for s in later)]),
            ]
        },
        timelines={"public": live + noise + missed},
    )  # fmt: skip
    total = len(live) + len(missed) + 2 * len(later)  # `later` names both brands

    async def run() -> plugins.Sink:
        async with fake:
            producer = EventProducer(stack.bootstrap, stack.events_topic)
            await producer.start()
            try:
                options = {
                    "server": fake.url, "timeline": None, "tag": (),
                    "brand": ("acme=acme,acmecorp", "globex=globex"), "token": "tok",
                    "backfill_pages": 5, "duration": 15.0, "max_events": total,
                    "idle_timeout": 10.0, "retry_initial": 0.1, "retry_max": 2.0,
                }  # fmt: skip
                return await plugins.produce(mastodon.plugin, producer, options, None)
            finally:
                await producer.stop()

    sink = asyncio.run(run())
    assert sink.sent == total and sink.refused == {"bad_frame": 1}
    assert len(fake.streams) == 3 and fake.rest[0]["min_id"] == noise[2]["id"]

    mentions = len(live) + len(missed) + len(later)

    def ready(s: Samples) -> bool:
        return kpi(s, "socialpulse_mentions", "acme") == mentions and kpi(
            s, "socialpulse_mentions", "globex"
        ) == len(later)

    s = stack.wait_for(ready, seconds=30)
    assert kpi(s, "socialpulse_mentions", "acme") == mentions
    assert kpi(s, "socialpulse_mentions", "acme", platform="mastodon") == mentions
    assert kpi(s, "socialpulse_mentions", "globex", platform="mastodon") == len(later)
    assert value(s, "socialpulse_events_total", brand="acme", platform="mastodon",
                 kind="mention") == mentions  # fmt: skip
    assert top_hashtag(s, "acme", "service") == len(live)
