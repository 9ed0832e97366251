"""The Mastodon streaming plug-in: SSE parsing, status mapping, 429, drops and backfill."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import time
from typing import Any

import click
import pytest

from socialpulse.streams import plugins
from socialpulse.streams.sources import mastodon
from socialpulse.streams.sources.brands import Keywords
from socialpulse.streams.sources.mastodon import SSEParser, SSEvent, html_to_text, status_events
from socialpulse.streams.sources.reconnect import BadFrame, SourceError, retry_after
from socialpulse.streams.validation import validate_event
from tests.fake_sources import HEARTBEAT, FakeMastodon, Play, Reply, delete, status, update
from tests.streams.sources.test_source_bluesky import MemoryProducer

KEYWORDS = Keywords({"acme": ["acme", "acmecorp"], "globex": ["globex"]})
TOKEN = "s3cret-t0ken-value"


async def produce(
    options: dict[str, Any], err: io.StringIO | None = None
) -> tuple[plugins.Sink, list[dict[str, Any]]]:
    defaults = {
        "timeline": None,
        "tag": (),
        "brand": ("acme=acme,acmecorp", "globex=globex"),
        "token": TOKEN,
        "backfill_pages": 5,
        "duration": 10.0,
        "max_events": None,
        "idle_timeout": 5.0,
        "retry_initial": 0.02,
        "retry_max": 0.1,
    }
    producer = MemoryProducer()
    sink = await plugins.produce(
        mastodon.plugin,
        producer,  # type: ignore[arg-type]
        {**defaults, **options},
        err,
    )
    return sink, producer.events


# --- SSE and HTML (pure) -----------------------------------------------------------------


def test_sse_parser_reassembles_events_from_any_chunking() -> None:
    stream = (
        b":)\r\n"
        b'event: update\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
        b":thump\n"
        b"event: delete\ndata: 109\nid: 5\nretry: 10\n\n"
        b"data: no event name\n\n"
        b"event: lonely\n\n"  # no data: nothing to dispatch, and the name does not leak
        b"data:x\n\n"
        b"event: update\ndata: caf\xc3\xa9\n\n"
    )
    expected = [
        SSEvent("update", '{"a":\n1}'),
        SSEvent("delete", "109"),
        SSEvent("message", "no event name"),
        SSEvent("message", "x"),
        SSEvent("update", "café"),
    ]
    for size in (1, 2, 7, len(stream)):
        parser = SSEParser()
        got = []
        for i in range(0, len(stream), size):
            got.extend(parser.feed(stream[i : i + size]))
        assert got == expected, size
        assert parser.comments == 2


def test_sse_parser_drops_an_oversized_line_and_goes_on() -> None:
    parser = SSEParser()
    assert parser.feed(b"event: update\ndata: " + b"x" * (mastodon.MAX_LINE + 10)) == []
    assert parser.oversized == 1
    assert parser.feed(b"yyy\n\nevent: update\ndata: ok\n\n") == [SSEvent("update", "ok")]


def test_html_to_text() -> None:
    html = (
        '<p>Hello <span class="h-card"><a href="https://x/@b">@<span>bob</span></a></span> '
        "&amp; friends<br>second line</p><p>"
        '<a href="https://x/tags/acme" class="mention hashtag" rel="tag">#<span>acme</span></a>'
        " &lt;3</p>"
    )
    assert html_to_text(html) == "Hello @bob & friends\nsecond line\n\n#acme <3"


# --- status mapping (pure) ---------------------------------------------------------------


def test_a_status_naming_a_brand_is_a_mention_with_every_field() -> None:
    st = status(
        "110000000000000001",
        "<p>My <b>Acme</b> anvil broke 😡</p>",
        acct="carol@other.example",
        followers=2600,
        tags=["Anvils", "fail"],
        language="en",
        created_at="2024-05-01T12:00:00.000Z",
    )
    [event] = status_events(st, KEYWORDS, "mastodon.social")
    assert event == {
        "id": "https://other.example/users/carol/statuses/110000000000000001",
        "ts": "2024-05-01T12:00:00.000Z",
        "brand": "acme",
        "kind": "mention",
        "platform": "mastodon",
        "text": "My Acme anvil broke 😡",
        "author": {"id": "carol@other.example", "followers": 2600},
        "lang": "en",
        "hashtags": ["Anvils", "fail"],
    }
    validate_event(dict(event))


def test_local_accounts_get_the_server_domain_and_odd_fields_are_left_out() -> None:
    st = status("5", "<p>globex and ACMECORP</p>", acct="dave", language=None)
    st["uri"] = "x" * 300
    st["account"]["followers_count"] = -1
    events = status_events(st, KEYWORDS, "mastodon.social")
    assert [e["brand"] for e in events] == ["acme", "globex"]
    assert events[0]["author"] == {"id": "dave@mastodon.social"}
    assert events[0]["id"] == "mastodon:mastodon.social:5"
    assert "lang" not in events[0]


@pytest.mark.parametrize(
    ("html", "spoiler", "tags", "brands"),
    [
        ("<p>nothing here</p>", "", [], []),
        ("<p>acmeville</p>", "", [], []),
        ('<p>see <a href="https://acme.example/">link</a></p>', "", [], []),  # href is not text
        ("<p>hidden</p>", "Acme drama", [], ["acme"]),  # the content warning counts
        ("<p>just a picture</p>", "", ["acme"], ["acme"]),
    ],
)
def test_what_counts_as_naming_a_brand(
    html: str, spoiler: str, tags: list[str], brands: list[str]
) -> None:
    events = status_events(status(1, html, spoiler=spoiler, tags=tags), KEYWORDS, "h")
    assert [e["brand"] for e in events] == brands


def test_a_boost_and_a_very_long_status() -> None:
    boost = status(2, "<p>acme</p>")
    boost["reblog"] = status(1, "<p>acme</p>")
    assert status_events(boost, KEYWORDS, "h") == []
    [long] = status_events(status(3, "<p>acme " + "a" * 20_000 + "</p>"), KEYWORDS, "h")
    assert len(long["text"]) == 10_000
    validate_event(dict(long))


@pytest.mark.parametrize(
    "broken",
    [
        lambda s: "a string",
        lambda s: s.pop("id"),
        lambda s: s.update(id=12),
        lambda s: s.pop("created_at"),
        lambda s: s.update(content=None),
        lambda s: s.pop("account"),
        lambda s: s["account"].pop("acct"),
    ],
)
def test_malformed_statuses_raise_bad_frame(broken: Any) -> None:
    st = status(1, "<p>acme</p>")
    result = broken(st)
    with pytest.raises(BadFrame):
        status_events(result if isinstance(result, str) else st, KEYWORDS, "h")


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert retry_after({"Retry-After": "7"}, now) == 7
    assert retry_after({"Retry-After": "Tue, 14 Nov 2023 22:13:30 GMT"}, now) == pytest.approx(10)
    assert retry_after({"X-RateLimit-Reset": "2023-11-14T22:13:50.000Z"}, now) == pytest.approx(30)
    assert retry_after({"Retry-After": "99999"}, now) == 900  # capped
    assert retry_after({"Retry-After": "soon"}, now) is None
    assert retry_after({}, now) is None


# --- against the fake Mastodon -----------------------------------------------------------

_ids = itertools.count(110_000_000_000_000_000)


def statuses(n: int, text: str = "I like acme", **kw: Any) -> list[dict[str, Any]]:
    return [status(next(_ids), f"<p>{text} {i}</p>", **kw) for i in range(n)]


async def test_429_then_drop_then_backfill_loses_nothing() -> None:
    first = statuses(4)
    noise = statuses(2, "nothing to see")
    missed = statuses(43)  # posted while disconnected: more than one REST page
    missed_noise = statuses(3, "unrelated")
    later = statuses(3, "acmecorp again")
    edited = dict(first[0], content="<p>I like acme, edited</p>")
    before_drop = [
        update(first[0]),
        HEARTBEAT,
        update(noise[0]),
        update(first[1]),
        "event: update\ndata: {not json\n\n",
        "event: update\ndata: [1, 2]\n\n",
        update({"id": "77", "content": "<p>acme</p>"}),  # no account, no created_at
        delete(first[1]["id"]),
        update(edited, "status.update"),
        update(first[2]),
        update(noise[1]),
        update(first[3]),
    ]
    fake = FakeMastodon(
        token=TOKEN,
        scripts={
            "public": [
                Reply(429, {"Retry-After": "1"}),
                Play(before_drop, end="drop"),
                Play([update(s) for s in later]),
            ]
        },
        timelines={"public": first + noise + missed + missed_noise},  # `later` comes after
    )
    err = io.StringIO()
    expected = {s["uri"] for s in first + missed + later}
    async with fake:
        sink, events = await produce({"server": fake.url, "max_events": len(expected)}, err)
    assert {e["id"] for e in events} == expected
    assert len(events) == len(expected)
    assert sink.refused == {"bad_frame": 3}
    # 429: the second connection came no sooner than Retry-After said
    assert fake.streams[1]["at"] - fake.streams[0]["at"] >= 0.95
    assert len(fake.streams) == 3
    # the backfill paged forward from the highest id the stream had shown (a status that
    # named no brand counts too), 40 at a time
    assert [r["min_id"] for r in fake.rest] == [noise[1]["id"], missed[39]["id"]]
    assert all(r["limit"] == "40" for r in fake.rest)
    # the token went with every request, and never into the output
    assert fake.authorizations == {f"Bearer {TOKEN}"}
    log = err.getvalue()
    assert TOKEN not in log and TOKEN not in " ".join(sink.errors)
    assert "HTTP 429" in log and "streaming from 127.0.0.1" in log


async def test_a_429_on_the_backfill_is_waited_out_and_the_backfill_retried() -> None:
    first, missed = statuses(2), statuses(5)
    fake = FakeMastodon(
        scripts={"public": [Play([update(s) for s in first], end="close")]},
        timelines={"public": first + missed},
        rest_replies=[Reply(429, {"Retry-After": "0.3"})],
    )
    async with fake:
        _, events = await produce({"server": fake.url, "max_events": 7})
    assert {e["id"] for e in events} == {s["uri"] for s in first + missed}
    assert [r["min_id"] for r in fake.rest] == [first[1]["id"], first[1]["id"]]
    assert fake.streams[2]["at"] - fake.streams[1]["at"] >= 0.28


async def test_hashtag_streams_one_per_tag_and_a_status_in_both_counts_once() -> None:
    both = status(next(_ids), "<p>acme at the fair</p>", tags=["fair", "expo"])
    only_expo = status(next(_ids), "<p>globex too</p>", tags=["expo"])
    fake = FakeMastodon(
        scripts={
            "tag:fair": [Play([HEARTBEAT, update(both)])],
            "tag:expo": [Play([update(both), update(only_expo)])],
        }
    )
    async with fake:
        sink, events = await produce(
            {"server": fake.url, "tag": ("#fair", "Expo"), "duration": 0.6}
        )
    assert sorted((e["brand"], e["id"]) for e in events) == sorted(
        [("acme", both["uri"]), ("globex", only_expo["uri"])]
    )
    assert sorted(s["key"] for s in fake.streams) == ["tag:expo", "tag:fair"]
    assert sink.sent == 2


async def test_without_a_token_the_run_stops_with_a_hint_and_5xx_is_retried() -> None:
    fake = FakeMastodon(token=TOKEN, scripts={})
    async with fake:
        with pytest.raises(SourceError, match="access token") as caught:
            await produce({"server": fake.url, "token": None})
        with pytest.raises(SourceError) as caught_bad:
            await produce({"server": fake.url, "token": "wrong-token"})
    assert "wrong-token" not in caught_bad.value.format_message()
    assert "401" in caught.value.format_message()
    assert len(fake.streams) == 2  # no retrying a 401

    one = statuses(1)
    fake = FakeMastodon(
        scripts={"public": [Reply(503), Reply(500), Play([update(one[0])])]}, advertise=False
    )
    fake.app.router.add_get("/api/v1/streaming/public", fake.stream)  # served on the main host
    async with fake:
        _, events = await produce({"server": fake.url, "max_events": 1})
    assert [e["id"] for e in events] == [one[0]["uri"]]
    assert len(fake.streams) == 3


async def test_a_silent_stream_is_reconnected_and_backfilled() -> None:
    first, missed = statuses(1), statuses(2)
    fake = FakeMastodon(
        scripts={"public": [Play([update(first[0])], end="silent")]},
        timelines={"public": first + missed},
    )
    async with fake:
        began = time.monotonic()
        _, events = await produce({"server": fake.url, "max_events": 3, "idle_timeout": 0.3})
    assert {e["id"] for e in events} == {s["uri"] for s in first + missed}
    assert 0.3 <= fake.streams[1]["at"] - fake.streams[0]["at"] < 2
    assert time.monotonic() - began < 5


def test_option_errors() -> None:
    async def run(**options: Any) -> None:
        await produce({"server": "http://127.0.0.1:9", **options})

    with pytest.raises(click.UsageError, match="--tag"):
        asyncio.run(run(timeline="hashtag"))
    with pytest.raises(click.UsageError, match="--tag is for"):
        asyncio.run(run(timeline="public", tag=("x",)))
    with pytest.raises(click.UsageError, match="--brand"):
        asyncio.run(run(brand=()))
    with pytest.raises(click.BadParameter):
        asyncio.run(run(server="ftp://example"))


def test_the_sse_fake_sends_documented_wire_format() -> None:
    assert update({"id": "1"}) == 'event: update\ndata: {"id": "1"}\n\n'
    assert json.loads(update(status(1, "x")).split("data: ", 1)[1])["id"] == "1"
