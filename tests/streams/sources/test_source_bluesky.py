"""The Bluesky Jetstream plug-in: frame mapping, cursor resume across drops, bad frames."""

from __future__ import annotations

import io
import itertools
import json
import time
from typing import Any

import aiohttp
import click
import pytest

from socialpulse.streams import plugins
from socialpulse.streams.sources import bluesky
from socialpulse.streams.sources.bluesky import Brands, frame_events, subscribe_url
from socialpulse.streams.sources.brands import parse_pairs
from socialpulse.streams.sources.reconnect import BadFrame, SourceError
from socialpulse.streams.validation import validate_event
from tests.fake_sources import (
    FakeJetstream,
    account_frame,
    identity_frame,
    iso,
    post_frame,
    subject_frame,
)

ACME = "did:plc:acmeacmeacmeacmeacmeacme"
GLOBEX = "did:plc:globexglobexglobexglobex"
FAN = "did:plc:fanfanfanfanfanfanfanfan"
LIKE, REPOST = "app.bsky.feed.like", "app.bsky.feed.repost"
BRANDS = Brands({"acme": ["acme", "acmecorp"], "globex": ["globex"]}, {"acme": [ACME]})
NOW_US = int(time.time() * 1e6)


def acme_post(rkey: str = "p1") -> str:
    return f"at://{ACME}/app.bsky.feed.post/{rkey}"


class MemoryProducer:
    """An EventProducer stand-in: validates like the real one, keeps events in a list."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any]) -> None:
        self.events.append(validate_event(dict(event)))

    async def flush(self) -> None:
        pass


async def produce(options: dict[str, Any], err: io.StringIO | None = None) -> tuple[Any, list]:
    defaults = {
        "brand": ("acme=acme,acmecorp", "globex=globex"),
        "brand_did": (f"acme={ACME}",),
        "cursor": None,
        "rewind": 0.002,
        "duration": 10.0,
        "max_events": None,
        "idle_timeout": 5.0,
        "retry_initial": 0.02,
        "retry_max": 0.1,
    }
    producer = MemoryProducer()
    sink = await plugins.produce(
        bluesky.plugin,
        producer,  # type: ignore[arg-type]
        {**defaults, **options},
        err,
    )
    return sink, producer.events


# --- mapping (pure) ----------------------------------------------------------------------


def test_a_post_naming_a_brand_is_a_mention_with_every_field() -> None:
    frame = post_frame(
        FAN, "3kabc", NOW_US, "Loving my new ACME rocket! #launch", langs=["en-GB"], tags=["launch"]
    )
    frame["commit"]["record"]["tags"] = ["Launch", "space"]
    [event] = frame_events(frame, BRANDS)
    assert event == {
        "id": f"at://{FAN}/app.bsky.feed.post/3kabc",
        "ts": pytest.approx(NOW_US / 1e6, abs=0.001),
        "brand": "acme",
        "kind": "mention",
        "platform": "bluesky",
        "author": {"id": FAN},
        "text": "Loving my new ACME rocket! #launch",
        "lang": "en-GB",
        "hashtags": ["launch", "space"],
    }
    validate_event(dict(event))


@pytest.mark.parametrize(
    ("text", "brands"),
    [
        ("acme", ["acme"]),
        ("Ask @AcmeCorp about it", ["acme"]),
        ("#acme rules", ["acme"]),
        ("acme and Globex, together", ["acme", "globex"]),
        ("acmeville is a town", []),
        ("notacme", []),
        ("acme_rocket", []),
        ("", []),
    ],
)
def test_keywords_match_whole_words_in_any_case(text: str, brands: list[str]) -> None:
    events = frame_events(post_frame(FAN, "r", NOW_US, text), BRANDS)
    assert [e["brand"] for e in events] == brands
    assert {e["kind"] for e in events} <= {"mention"}


def test_an_outline_tag_alone_names_a_brand() -> None:
    frame = post_frame(FAN, "r", NOW_US, "look at this")
    frame["commit"]["record"]["tags"] = ["acme"]
    assert [e["brand"] for e in frame_events(frame, BRANDS)] == ["acme"]


def test_the_brands_own_posts_replies_likes_and_reposts() -> None:
    own = frame_events(post_frame(ACME, "p1", NOW_US, "New Acme anvils are here"), BRANDS)
    assert [(e["brand"], e["kind"]) for e in own] == [("acme", "post")]  # not also a mention

    reply = frame_events(post_frame(FAN, "c1", NOW_US, "great!", reply_to=acme_post()), BRANDS)
    assert [(e["kind"], e["parent_id"]) for e in reply] == [("comment", acme_post())]
    self_reply = frame_events(post_frame(ACME, "p2", NOW_US, "1/2", reply_to=acme_post()), BRANDS)
    assert [e["kind"] for e in self_reply] == ["post"]
    named = frame_events(post_frame(FAN, "c2", NOW_US, "acme rocks", reply_to=acme_post()), BRANDS)
    assert [e["kind"] for e in named] == ["comment"]  # one event for the brand, not two

    like = frame_events(subject_frame(LIKE, FAN, "l1", NOW_US, acme_post()), BRANDS)
    assert [(e["kind"], e["parent_id"], e["id"]) for e in like] == [
        ("like", acme_post(), f"at://{FAN}/{LIKE}/l1")
    ]
    share = frame_events(subject_frame(REPOST, FAN, "s1", NOW_US, acme_post()), BRANDS)
    assert [(e["brand"], e["kind"]) for e in share] == [("acme", "share")]
    other = f"at://{GLOBEX}/app.bsky.feed.post/x"
    assert frame_events(subject_frame(LIKE, FAN, "l2", NOW_US, other), BRANDS) == []
    feed_like = f"at://{ACME}/app.bsky.feed.generator/x"  # a like of a feed, not a post
    assert frame_events(subject_frame(LIKE, FAN, "l3", NOW_US, feed_like), BRANDS) == []
    for event in [*own, *reply, *like, *share]:
        validate_event(dict(event))


def test_frames_that_count_nothing() -> None:
    assert frame_events(identity_frame(FAN, NOW_US), BRANDS) == []
    assert frame_events(account_frame(FAN, NOW_US), BRANDS) == []
    deleted = post_frame(FAN, "r", NOW_US, "acme")
    deleted["commit"] = {"rev": "x", "operation": "delete", "collection": bluesky.POST, "rkey": "r"}
    assert frame_events(deleted, BRANDS) == []
    edited = post_frame(FAN, "r", NOW_US, "acme")
    edited["commit"]["operation"] = "update"
    assert frame_events(edited, BRANDS) == []
    follow = post_frame(FAN, "r", NOW_US, "acme")
    follow["commit"]["collection"] = "app.bsky.graph.follow"
    assert frame_events(follow, BRANDS) == []


def test_event_time_is_created_at_unless_it_is_far_from_the_relay_time() -> None:
    near = post_frame(FAN, "r", NOW_US, "acme", created_at=iso(NOW_US / 1e6 - 2))
    assert frame_events(near, BRANDS)[0]["ts"] == pytest.approx(NOW_US / 1e6 - 2, abs=0.001)
    backdated = post_frame(FAN, "r", NOW_US, "acme", created_at="2009-01-01T00:00:00Z")
    assert frame_events(backdated, BRANDS)[0]["ts"] == NOW_US / 1e6
    garbage = post_frame(FAN, "r", NOW_US, "acme", created_at="yesterday-ish")
    assert frame_events(garbage, BRANDS)[0]["ts"] == NOW_US / 1e6


def _broken(path: str, value: Any) -> dict[str, Any]:
    frame = post_frame(FAN, "r", NOW_US, "acme")
    *parents, last = path.split(".")
    node = frame
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return frame


@pytest.mark.parametrize(
    "frame",
    [
        [1, 2],
        "a string",
        _broken("did", KeyError),
        _broken("did", 7),
        _broken("time_us", KeyError),
        _broken("time_us", "1725911162329308"),
        _broken("time_us", True),
        _broken("kind", None),
        _broken("commit", KeyError),
        _broken("commit", "x"),
        _broken("commit.collection", KeyError),
        _broken("commit.rkey", 5),
        _broken("commit.operation", None),
        _broken("commit.record", KeyError),
        _broken("commit.record", []),
        _broken("commit.record.text", {"t": 1}),
    ],
)
def test_malformed_frames_raise_bad_frame(frame: Any) -> None:
    with pytest.raises(BadFrame):
        frame_events(frame, BRANDS)


def test_a_like_without_a_subject_uri_is_malformed() -> None:
    frame = subject_frame(LIKE, FAN, "l1", NOW_US, acme_post())
    del frame["commit"]["record"]["subject"]["uri"]
    with pytest.raises(BadFrame):
        frame_events(frame, BRANDS)


def test_subscribe_url_asks_for_posts_likes_reposts_and_the_cursor() -> None:
    url = subscribe_url("wss://js.example/subscribe?compress=false&cursor=1", 1725000000123456)
    assert url.query.getall("wantedCollections") == [bluesky.POST, LIKE, REPOST]
    assert url.query.getall("cursor") == ["1725000000123456"]
    assert url.query["compress"] == "false"
    assert "cursor" not in subscribe_url("wss://js.example/subscribe", None).query


def test_brand_options_are_checked() -> None:
    with pytest.raises(click.BadParameter):
        bluesky.Brands({}, {"acme": ["not-a-did"]})
    with pytest.raises(click.BadParameter):
        parse_pairs(["acme"], "--brand")
    assert parse_pairs(["a=x, y", "a=y,z", "b=w"], "--brand") == {"a": ["x", "y", "z"], "b": ["w"]}


# --- against the fake Jetstream ----------------------------------------------------------


def scenario(n: int = 30) -> tuple[list[dict[str, Any] | str], set[str]]:
    """n frames a millisecond apart: mentions, noise, brand posts, likes; the expected ids."""
    frames: list[dict[str, Any] | str] = []
    expected: set[str] = set()
    t0 = NOW_US - n * 1000
    for i in range(n):
        t = t0 + i * 1000
        if i % 5 == 0:
            frame = post_frame(FAN, f"m{i}", t, f"post {i} about Acme")
            expected.add(f"at://{FAN}/app.bsky.feed.post/m{i}")
        elif i % 5 == 1:
            frame = post_frame(FAN, f"n{i}", t, f"post {i} about nothing")
        elif i % 5 == 2:
            frame = subject_frame(LIKE, FAN, f"l{i}", t, acme_post())
            expected.add(f"at://{FAN}/{LIKE}/l{i}")
        elif i % 5 == 3:
            frame = identity_frame(FAN, t)
        else:
            frame = post_frame(ACME, f"p{i}", t, f"acme post {i}")
            expected.add(f"at://{ACME}/app.bsky.feed.post/p{i}")
        frames.append(frame)
    return frames, expected


async def test_resumes_from_the_cursor_after_a_drop_so_no_event_is_lost() -> None:
    frames, expected = scenario(30)
    # connection 0's TCP connection is cut after 8 frames, connection 1 is closed cleanly
    # after 7; each time 6 frames are published while nobody listens: only the cursor
    # brings those back
    fake = FakeJetstream(frames, drops={0: 8}, closes={1: 7}, missed_on_drop=6)
    err = io.StringIO()
    async with fake:
        sink, events = await produce(
            {"url": f"{fake.url}/subscribe", "max_events": len(expected)}, err
        )
    assert {e["id"] for e in events} == expected
    assert len(events) == len(expected)  # the rewind's replays are dropped, not re-sent
    assert sink.sent == len(expected) and not sink.refused
    assert len(fake.connections) == 3
    assert fake.cursors[0] is None  # the first connection follows the live tail
    for c in fake.connections:
        assert c["wanted"] == sorted([bluesky.POST, LIKE, REPOST])
    # each resume starts `rewind` (2 ms = 2 frames) before the last frame seen: connection 1
    # replays frames 5.. and sends 7 (5..11); connection 2 starts again at frame 9
    assert fake.cursors[1] == frames[7]["time_us"] - 2000  # type: ignore[index]
    assert fake.cursors[2] == frames[11]["time_us"] - 2000  # type: ignore[index]
    log = err.getvalue()
    assert "reconnecting in" in log and "cursor" in log


async def test_a_client_without_the_cursor_would_lose_events() -> None:
    """The fake is strict: reconnecting without cursor= misses what was published meanwhile."""
    frames, _ = scenario(10)
    fake = FakeJetstream(frames, drops={0: 3}, missed_on_drop=4)
    got: list[dict[str, Any]] = []
    async with fake, aiohttp.ClientSession() as http:
        for _ in range(2):
            async with http.ws_connect(f"{fake.url}/subscribe") as ws:
                while True:
                    try:
                        msg = await ws.receive(timeout=0.3)
                    except TimeoutError:
                        break
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    got.append(json.loads(msg.data))
    assert len(got) == 10 - 4  # the 4 frames published while away are gone
    assert [f["time_us"] for f in got] == [f["time_us"] for f in frames[:3] + frames[7:]]  # type: ignore[index]


async def test_malformed_frames_are_counted_and_the_stream_goes_on() -> None:
    frames, expected = scenario(10)
    bad = [
        "this is not json",
        "{truncated",
        json.dumps([1, 2, 3]),
        json.dumps({"did": FAN, "kind": "commit"}),  # no time_us
        json.dumps({"did": FAN, "time_us": NOW_US, "kind": "commit", "commit": "x"}),
        json.dumps(_broken("commit.record.text", 12)),
    ]
    mixed = frames[:4] + bad + frames[4:]
    fake = FakeJetstream(mixed)
    async with fake:
        sink, events = await produce({"url": f"{fake.url}/subscribe", "max_events": len(expected)})
    assert {e["id"] for e in events} == expected
    assert sink.refused == {"bad_frame": len(bad)}
    assert len(fake.connections) == 1  # bad frames never cost the connection


def _gaps(connections: list[dict[str, Any]]) -> list[float]:
    return [b["at"] - a["at"] for a, b in itertools.pairwise(connections)]


async def test_server_errors_back_off_and_a_4xx_stops_with_a_clear_error() -> None:
    frames, expected = scenario(5)
    fake = FakeJetstream(frames, rejects={0: 503, 1: 502})
    async with fake:
        _, events = await produce(
            {
                "url": f"{fake.url}/subscribe",
                "max_events": len(expected),
                "retry_initial": 0.1,
                "retry_max": 5.0,
            }
        )
    assert {e["id"] for e in events} == expected
    gaps = _gaps(fake.connections)
    assert 0.08 <= gaps[0] < gaps[1]  # 0.1 s ±20 %, then 0.2 s ±20 %: exponential backoff

    fake = FakeJetstream(frames, rejects={0: 404})
    async with fake:
        with pytest.raises(SourceError, match="HTTP 404"):
            await produce({"url": f"{fake.url}/subscribe"})
    assert len(fake.connections) == 1


async def test_a_connection_that_delivered_resets_the_backoff() -> None:
    frames, expected = scenario(10)
    fake = FakeJetstream(frames, closes={0: 3, 1: 3, 2: 3, 3: 3})
    async with fake:
        options = {"url": f"{fake.url}/subscribe", "retry_initial": 0.1, "retry_max": 5.0}
        _, events = await produce({**options, "max_events": len(expected)})
    assert {e["id"] for e in events} == expected
    gaps = _gaps(fake.connections)
    assert len(gaps) >= 3 and max(gaps) < 0.16  # 0.1 s each time, not 0.1, 0.2, 0.4


async def test_a_429_handshake_waits_as_long_as_retry_after_says() -> None:
    frames, expected = scenario(5)
    fake = FakeJetstream(frames, rejects={0: 429}, reject_headers={"Retry-After": "1"})
    async with fake:
        _, events = await produce({"url": f"{fake.url}/subscribe", "max_events": len(expected)})
    assert {e["id"] for e in events} == expected
    assert _gaps(fake.connections)[0] >= 0.95  # not the 0.02 s backoff


async def test_a_silent_stream_is_reconnected_with_the_cursor() -> None:
    frames, expected = scenario(5)
    fake = FakeJetstream(frames)
    async with fake:
        _, events = await produce(
            {"url": f"{fake.url}/subscribe", "duration": 0.8, "idle_timeout": 0.25}
        )
    assert {e["id"] for e in events} == expected
    assert len(fake.connections) >= 2
    assert fake.cursors[1] == frames[-1]["time_us"] - 2000  # type: ignore[index]


async def test_duration_ends_a_quiet_run_and_a_given_cursor_starts_the_replay() -> None:
    frames, expected = scenario(10)
    fake = FakeJetstream(frames)
    fake.head = len(frames)  # everything is in the past: only a cursor reaches it
    start = frames[5]["time_us"]  # type: ignore[index]
    async with fake:
        began = time.monotonic()
        _, events = await produce(
            {"url": f"{fake.url}/subscribe", "duration": 0.5, "cursor": start}
        )
        assert time.monotonic() - began < 3
    assert fake.cursors == [start]
    assert {e["id"] for e in events} == {i for i in expected if int(i.rsplit("/", 1)[1][1:]) >= 5}


async def test_no_brand_at_all_is_a_usage_error() -> None:
    with pytest.raises(click.UsageError):
        await produce({"url": "ws://127.0.0.1:9/subscribe", "brand": (), "brand_did": ()})
