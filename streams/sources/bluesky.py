"""Bluesky through Jetstream: posts, likes and reposts from the firehose as brand events.

Jetstream (https://github.com/bluesky-social/jetstream) sends one JSON object per WebSocket
text frame: ``{"did", "time_us", "kind": "commit" | "identity" | "account", ...}``. A
commit carries ``{"operation", "collection", "rkey", "record"}``. Mapping, per brand:

- a post by one of the brand's DIDs (``--brand-did``) is a ``post``;
- a reply to one of the brand's posts is a ``comment`` (``parent_id`` = the post's URI);
- a like / repost of one of the brand's posts is a ``like`` / ``share``;
- any other post whose text or tags name the brand's keywords (``--brand``) is a ``mention``.

Event ids are the record's ``at://`` URI, so a frame replayed after a reconnect counts once.
On reconnect the subscription resumes at the last ``time_us`` seen minus ``--rewind``
seconds, as Jetstream advises for gapless playback.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import click
from yarl import URL

from socialpulse.streams import codec
from socialpulse.streams.contract import MAX_LABEL, MAX_LANG, MAX_TEXT
from socialpulse.streams.plugins import Plugin, Sink, option
from socialpulse.streams.sources.brands import (
    Keywords,
    check_pairs,
    clean_tags,
    fits,
    parse_pairs,
)
from socialpulse.streams.sources.reconnect import (
    COMMON_OPTIONS,
    BadFrame,
    Feed,
    Retry,
    check_status,
)
from socialpulse.streams.validation import Invalid, parse_ts

DEFAULT_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
POST = "app.bsky.feed.post"
LIKE = "app.bsky.feed.like"
REPOST = "app.bsky.feed.repost"
COLLECTIONS = (POST, LIKE, REPOST)
TAG_FACET = "app.bsky.richtext.facet#tag"
MAX_SKEW = 300.0  # a createdAt further than this from the relay's time_us is not trusted


class Brands:
    """The brands of a run: keywords for mentions, DIDs for the brands' own accounts."""

    def __init__(self, keywords: dict[str, list[str]], dids: dict[str, list[str]]) -> None:
        self.keywords = Keywords(keywords)
        self.by_did = {did: brand for brand, list_ in dids.items() for did in list_}
        for did in self.by_did:
            if not did.startswith("did:"):
                raise click.BadParameter(f"{did!r} is not a DID", param_hint="--brand-did")


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise BadFrame(f"{where}{key} is missing or not a string")
    return value


def _dict(obj: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise BadFrame(f"{where}{key} is missing or not an object")
    return value


def split_uri(uri: str) -> tuple[str, str, str] | None:
    """``at://DID/COLLECTION/RKEY`` as (did, collection, rkey); None for anything else."""
    if not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def event_time(created_at: Any, time_us: int) -> float:
    """The record's ``createdAt`` when it is close to the relay's time, else ``time_us``."""
    seen = time_us / 1e6
    if isinstance(created_at, str):
        try:
            claimed = parse_ts(created_at)
        except Invalid:
            return seen
        if abs(claimed - seen) <= MAX_SKEW:
            return claimed
    return seen


def _post_tags(record: dict[str, Any]) -> list[str]:
    tags: list[object] = []
    facets = record.get("facets")
    for facet in facets if isinstance(facets, list) else []:
        features = facet.get("features") if isinstance(facet, dict) else None
        for feature in features if isinstance(features, list) else []:
            if isinstance(feature, dict) and feature.get("$type") == TAG_FACET:
                tags.append(feature.get("tag"))
    outline = record.get("tags")
    if isinstance(outline, list):
        tags.extend(outline)
    return clean_tags(tags)


def frame_events(frame: Any, brands: Brands) -> list[dict[str, Any]]:
    """The events of one decoded Jetstream frame; raises ``BadFrame`` for a malformed one."""
    if not isinstance(frame, dict):
        raise BadFrame(f"a frame must be a JSON object, not {type(frame).__name__}")
    did = _str(frame, "did", "")
    time_us = frame.get("time_us")
    if isinstance(time_us, bool) or not isinstance(time_us, int) or time_us <= 0:
        raise BadFrame("time_us is missing or not a positive integer")
    if _str(frame, "kind", "") != "commit":
        return []  # identity, account: nothing a KPI counts
    commit = _dict(frame, "commit")
    operation = _str(commit, "operation", "commit.")
    collection = _str(commit, "collection", "commit.")
    rkey = _str(commit, "rkey", "commit.")
    if operation != "create" or collection not in COLLECTIONS:
        return []  # edits and deletes change no count; other collections are not asked for
    record = _dict(commit, "record", "commit.")
    uri = f"at://{did}/{collection}/{rkey}"
    base: dict[str, Any] = {
        "id": uri,
        "ts": event_time(record.get("createdAt"), time_us),
        "platform": "bluesky",
    }
    if fits(did):
        base["author"] = {"id": did}

    def event(brand: str, kind: str, **extra: Any) -> dict[str, Any]:
        return {**base, "brand": brand, "kind": kind, **extra}

    if collection != POST:
        subject = _dict(record, "subject", "record.")
        target = split_uri(_str(subject, "uri", "record.subject."))
        if target is None or target[1] != POST or target[0] not in brands.by_did:
            return []
        kind = "like" if collection == LIKE else "share"
        return [event(brands.by_did[target[0]], kind, parent_id=fits(subject["uri"]))]

    text = record.get("text", "")
    if not isinstance(text, str):
        raise BadFrame("record.text is not a string")
    extra: dict[str, Any] = {"text": text[:MAX_TEXT]}
    langs = record.get("langs")
    if isinstance(langs, list) and langs and fits(langs[0], MAX_LANG):
        extra["lang"] = langs[0]
    tags = _post_tags(record)
    if tags:
        extra["hashtags"] = tags

    events: list[dict[str, Any]] = []
    own = brands.by_did.get(did)
    if own is not None:
        events.append(event(own, "post", **extra))
    replied = None
    reply = record.get("reply")
    parent = reply.get("parent") if isinstance(reply, dict) else None
    parent_uri = parent.get("uri") if isinstance(parent, dict) else None
    target = split_uri(parent_uri) if isinstance(parent_uri, str) else None
    if target is not None and target[1] == POST and target[0] in brands.by_did:
        replied = brands.by_did[target[0]]
        if replied != own:
            events.append(event(replied, "comment", parent_id=fits(parent_uri, MAX_LABEL), **extra))
    searchable = " ".join([text, *(f"#{t}" for t in tags)])
    for brand in brands.keywords.brands_in(searchable):
        if brand not in (own, replied):
            events.append(event(brand, "mention", **extra))
    return [{k: v for k, v in e.items() if v is not None} for e in events]


def subscribe_url(url: str, cursor: int | None) -> URL:
    """The subscription URL: posts, likes and reposts, from ``cursor`` when given."""
    base = URL(url)
    kept = [(k, v) for k, v in base.query.items() if k not in ("cursor", "wantedCollections")]
    query = [*kept, *(("wantedCollections", c) for c in COLLECTIONS)]
    if cursor is not None:
        query.append(("cursor", str(cursor)))
    return base.with_query(query)


class Jetstream:
    """One Jetstream subscription that remembers where it was (``time_us``)."""

    def __init__(
        self,
        feed: Feed,
        http: aiohttp.ClientSession,
        url: str,
        brands: Brands,
        cursor: int | None,
        rewind: float,
    ) -> None:
        self.feed = feed
        self.http = http
        self.url = url
        self.brands = brands
        self.cursor = cursor  # where the next connection starts; None: the live tail
        self.rewind_us = int(rewind * 1_000_000)
        self.last_time_us: int | None = None
        self.name = URL(url).with_query(None).human_repr()
        self.progress = 0

    def next_cursor(self) -> int | None:
        if self.last_time_us is None:
            return self.cursor
        return max(self.last_time_us - self.rewind_us, 0)

    async def session(self) -> None:
        cursor = self.next_cursor()
        try:
            ws = await self.http.ws_connect(
                subscribe_url(self.url, cursor), heartbeat=30.0, max_msg_size=8 * 2**20
            )
        except aiohttp.WSServerHandshakeError as exc:
            check_status(exc.status, exc.headers or {}, "subscribe")
            raise Retry(f"subscribe: {exc.message}") from None
        async with ws:
            where = "live tail" if cursor is None else f"cursor {cursor}"
            self.feed.log(f"connected to {self.name} ({where})")
            while True:
                msg = await ws.receive(timeout=self.feed.idle_timeout)
                if msg.type is aiohttp.WSMsgType.TEXT:
                    await self.handle(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    self.feed.refuse("a binary frame (compression is not asked for)", self.name)
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    raise Retry(f"connection error: {ws.exception()}")
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    return

    async def handle(self, data: str) -> None:
        self.progress += 1
        self.feed.counts["frames"] += 1
        where = f"frame {self.feed.counts['frames']}"
        try:
            frame = codec.loads(data)
            events = frame_events(frame, self.brands)
        except codec.DecodeError as exc:
            self.feed.refuse(f"not JSON: {exc}", where)
            return
        except BadFrame as exc:
            self.feed.refuse(str(exc), where)
            return
        time_us: int = frame["time_us"]
        await self.feed.emit(events, f"{where} (time_us {time_us})")
        if self.last_time_us is None or time_us > self.last_time_us:
            self.last_time_us = time_us


async def run(
    sink: Sink,
    *,
    url: str,
    brand: tuple[str, ...],
    brand_did: tuple[str, ...],
    cursor: int | None,
    rewind: float,
    **common: Any,
) -> None:
    """Follow the Jetstream at ``url`` until the budget is spent."""
    brands = Brands(parse_pairs(brand, "--brand"), parse_pairs(brand_did, "--brand-did"))
    if not brands.keywords and not brands.by_did:
        raise click.UsageError("give at least one --brand NAME=KEYWORDS or --brand-did NAME=DID")
    feed = Feed.from_options(sink, "bluesky", **common)
    async with aiohttp.ClientSession(headers={"User-Agent": "socialpulse-bluesky"}) as http:
        await feed.run([Jetstream(feed, http, url, brands, cursor, rewind)])


plugin = Plugin(
    "bluesky",
    "Bluesky via Jetstream: brand mentions, own posts, likes, reposts and replies.",
    run=run,
    options=[
        option("--url", default=DEFAULT_URL, show_default=True, help="Jetstream subscribe URL."),
        option(
            "--brand",
            multiple=True,
            callback=check_pairs,
            metavar="NAME=KW[,KW]",
            help="A brand and its keywords (whole word, any case); repeatable.",
        ),
        option(
            "--brand-did",
            multiple=True,
            callback=check_pairs,
            metavar="NAME=DID[,DID]",
            help="The brand's own account(s): its posts, and likes/reposts/replies of them.",
        ),
        option(
            "--cursor",
            type=click.IntRange(min=0),
            default=None,
            help="Start at this time_us (unix microseconds) instead of the live tail.",
        ),
        option(
            "--rewind",
            type=click.FloatRange(min=0.0),
            default=3.0,
            show_default=True,
            help="On reconnect, resume this many seconds before the last event seen.",
        ),
        *COMMON_OPTIONS,
    ],
)
