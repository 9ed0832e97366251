"""Mastodon streaming: statuses that name a brand, as ``mention`` events.

The streaming API (https://docs.joinmastodon.org/methods/streaming/) sends server-sent
events over one long HTTP response: ``event: update`` / ``data: <Status JSON>``, also
``status.update`` (an edit), ``delete`` and heartbeat comments (``:thump``). One stream
runs for ``--timeline public``, one per ``--tag`` for ``--timeline hashtag``. The streaming
host is the one the server advertises (``/api/v2/instance``), else ``--server`` itself.

Resume: each stream remembers the highest status id it saw. After a reconnect it opens the
stream first, then pages the REST timeline forward from that id
(``/api/v1/timelines/public`` or ``/api/v1/timelines/tag/TAG`` with ``min_id``, 40 a page,
at most ``--backfill-pages`` pages), so statuses posted while disconnected are sent too;
the overlap is dropped by id. HTTP 429 waits as long as ``Retry-After`` (or Mastodon's
``X-RateLimit-Reset``) says; 5xx and disconnects back off exponentially; 401/403/404 stop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp
import click
from yarl import URL

from socialpulse.streams import codec
from socialpulse.streams.contract import MAX_ID, MAX_LABEL, MAX_LANG, MAX_TEXT
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
    check_status,
)

DEFAULT_SERVER = "https://mastodon.social"
PAGE = 40  # the REST timelines' largest page
MAX_LINE = 2**20  # an SSE line longer than this is dropped
TOKEN_ENV = "SOCIALPULSE_MASTODON_TOKEN"
AUTH_HINT = (
    "the streaming API needs a user access token since Mastodon 4.2: "
    f"give --token or set {TOKEN_ENV}"
)


# --- server-sent events --------------------------------------------------------------


@dataclass(frozen=True)
class SSEvent:
    event: str
    data: str


@dataclass
class SSEParser:
    """Incremental server-sent-events parser: feed bytes, get the complete events."""

    comments: int = 0
    oversized: int = 0
    _buf: bytes = b""
    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _skipping: bool = False

    def feed(self, chunk: bytes) -> list[SSEvent]:
        out: list[SSEvent] = []
        self._buf += chunk
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                if len(self._buf) > MAX_LINE:  # drop it, and the rest of that line
                    self._buf, self._skipping = b"", True
                    self.oversized += 1
                return out
            raw, self._buf = self._buf[:end], self._buf[end + 1 :]
            if self._skipping:
                self._skipping = False
                continue
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line:
                if self._data:
                    out.append(SSEvent(self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
            elif line.startswith(":"):
                self.comments += 1
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    self._event = value
                elif name == "data":
                    self._data.append(value)


# --- statuses ----------------------------------------------------------------------------


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """A status's HTML ``content`` as plain text: tags dropped, paragraphs as blank lines."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


def id_order(status_id: str) -> tuple[int, str]:
    """Sort key of status ids: numeric strings compare as numbers."""
    return (len(status_id), status_id)


def status_id(status: Any) -> str:
    if not isinstance(status, dict):
        raise BadFrame(f"a status must be a JSON object, not {type(status).__name__}")
    sid = status.get("id")
    if not isinstance(sid, str) or not sid:
        raise BadFrame("status id is missing or not a string")
    return sid


def status_events(status: Any, keywords: Keywords, host: str) -> list[dict[str, Any]]:
    """The ``mention`` events of one Status; raises ``BadFrame`` for a malformed one."""
    sid = status_id(status)
    created_at, content = status.get("created_at"), status.get("content")
    account = status.get("account")
    if not isinstance(created_at, str) or not isinstance(content, str):
        raise BadFrame("status created_at or content is missing or not a string")
    if not isinstance(account, dict) or not isinstance(account.get("acct"), str):
        raise BadFrame("status account.acct is missing or not a string")
    if status.get("reblog"):
        return []  # a boost: the original status is the mention
    text = html_to_text(content)
    spoiler = status.get("spoiler_text")
    if isinstance(spoiler, str) and spoiler.strip():
        text = f"{spoiler.strip()}\n\n{text}"
    raw_tags = status.get("tags")
    raw_tags = raw_tags if isinstance(raw_tags, list) else []
    tags = clean_tags(t.get("name") for t in raw_tags if isinstance(t, dict))
    brands = keywords.brands_in(" ".join([text, *(f"#{t}" for t in tags)]))
    if not brands:
        return []
    acct = account["acct"] if "@" in account["acct"] else f"{account['acct']}@{host}"
    author: dict[str, Any] = {}
    if fits(acct, MAX_LABEL):
        author["id"] = acct
    followers = account.get("followers_count")
    if isinstance(followers, int) and not isinstance(followers, bool) and followers >= 0:
        author["followers"] = followers
    uri = status.get("uri")
    event: dict[str, Any] = {
        "id": uri if fits(uri, MAX_ID) else f"mastodon:{host}:{sid}",
        "ts": created_at,
        "kind": "mention",
        "platform": "mastodon",
        "text": text[:MAX_TEXT],
    }
    if author:
        event["author"] = author
    if fits(status.get("language"), MAX_LANG):
        event["lang"] = status["language"]
    if tags:
        event["hashtags"] = tags
    return [{**event, "brand": brand} for brand in brands]


# --- streams -----------------------------------------------------------------------------


@dataclass
class Server:
    """Where and how to reach a Mastodon server."""

    http: aiohttp.ClientSession
    base: URL  # REST API
    streaming: URL  # streaming API (the same host, or the one the server advertises)
    headers: dict[str, str]


async def discover(http: aiohttp.ClientSession, base: URL, headers: dict[str, str]) -> URL:
    """The streaming host the server advertises in ``/api/v2/instance``, else ``base``."""
    try:
        async with http.get(
            base / "api/v2/instance", headers=headers, timeout=aiohttp.ClientTimeout(total=15)
        ) as resp:
            if resp.status != 200:
                return base
            doc = codec.loads(await resp.read())
        url = doc["configuration"]["urls"]["streaming"]
        found = URL(url)
    except (aiohttp.ClientError, TimeoutError, codec.DecodeError, KeyError, TypeError, ValueError):
        return base
    scheme = {"wss": "https", "ws": "http"}.get(found.scheme, found.scheme)
    if scheme not in ("http", "https") or not found.host:
        return base
    return found.with_scheme(scheme)


class Timeline:
    """One streaming timeline (public, or one hashtag) that resumes from its last id."""

    def __init__(
        self,
        feed: Feed,
        server: Server,
        keywords: Keywords,
        tag: str | None,
        backfill_pages: int,
    ) -> None:
        self.feed = feed
        self.server = server
        self.keywords = keywords
        self.tag = tag
        self.backfill_pages = backfill_pages
        self.name = f"#{tag}" if tag else "public"
        self.last_id: str | None = None
        self.progress = 0
        self.host = server.base.host or "mastodon"

    async def session(self) -> None:
        if self.tag is None:
            url, params = self.server.streaming / "api/v1/streaming/public", {}
        else:
            url, params = self.server.streaming / "api/v1/streaming/hashtag", {"tag": self.tag}
        idle = self.feed.idle_timeout
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=idle)
        async with self.server.http.get(
            url, params=params, headers=self.server.headers, timeout=timeout
        ) as resp:
            check_status(resp.status, resp.headers, f"{self.name} stream", _hint(resp.status))
            self.feed.log(f"{self.name}: streaming from {url.host}")
            if self.last_id is not None:
                await self.backfill()
            parser = SSEParser()
            async for chunk in resp.content.iter_any():
                for sse in parser.feed(chunk):
                    await self.handle(sse.event, sse.data)
                if parser.oversized:
                    self.feed.refuse("an SSE line over 1 MiB", f"{self.name} stream")
                    parser.oversized = 0

    async def handle(self, event: str, data: str) -> None:
        self.progress += 1
        self.feed.counts["frames"] += 1
        where = f"{self.name} {event} {self.feed.counts['frames']}"
        if event not in ("update", "status.update"):
            self.feed.counts[f"ignored {event}"] += 1  # delete, filters_changed, ...
            return
        try:
            status = codec.loads(data)
        except codec.DecodeError as exc:
            self.feed.refuse(f"not JSON: {exc}", where)
            return
        await self.status(status, where)

    async def status(self, status: Any, where: str) -> None:
        try:
            sid = status_id(status)
            events = status_events(status, self.keywords, self.host)
        except BadFrame as exc:
            self.feed.refuse(str(exc), where)
            return
        await self.feed.emit(events, f"{where} (status {sid})")
        if self.last_id is None or id_order(sid) > id_order(self.last_id):
            self.last_id = sid

    async def backfill(self) -> None:
        """Page the REST timeline forward from the last id seen (oldest page first)."""
        url = self.server.base / "api/v1/timelines/public"
        if self.tag is not None:
            url = self.server.base / "api/v1/timelines/tag" / self.tag
        for _ in range(self.backfill_pages):
            assert self.last_id is not None
            params = {"min_id": self.last_id, "limit": str(PAGE)}
            async with self.server.http.get(
                url, params=params, headers=self.server.headers, timeout=aiohttp.ClientTimeout(30)
            ) as resp:
                if resp.status == 429:
                    check_status(resp.status, resp.headers, f"{self.name} backfill")
                if resp.status != 200:
                    self.feed.counts["backfill failed"] += 1
                    self.feed.log(f"{self.name}: backfill skipped, HTTP {resp.status}")
                    return
                body = await resp.read()
            try:
                page = codec.loads(body)
            except codec.DecodeError as exc:
                page = exc
            if not isinstance(page, list):
                self.feed.refuse("the timeline page is not a JSON array", f"{self.name} backfill")
                return
            self.feed.counts["backfilled"] += len(page)
            ordered = sorted(page, key=lambda s: id_order(s["id"]) if _has_id(s) else (0, ""))
            for status in ordered:
                await self.status(status, f"{self.name} backfill")
            if len(page) < PAGE:
                return
        self.feed.counts["backfill cut"] += 1
        self.feed.log(f"{self.name}: backfill stopped after {self.backfill_pages} pages")


def _has_id(status: Any) -> bool:
    return isinstance(status, dict) and isinstance(status.get("id"), str)


def _hint(status: int) -> str:
    return AUTH_HINT if status in (401, 403) else ""


async def run(
    sink: Sink,
    *,
    server: str,
    timeline: str | None,
    tag: tuple[str, ...],
    brand: tuple[str, ...],
    token: str | None,
    backfill_pages: int,
    **common: Any,
) -> None:
    """Follow the public or hashtag timelines of ``server`` until the budget is spent."""
    keywords = Keywords(parse_pairs(brand, "--brand"))
    if not keywords:
        raise click.UsageError("give at least one --brand NAME=KEYWORD[,KEYWORD]")
    tags = list(dict.fromkeys(t.lstrip("#").strip() for t in tag if t.lstrip("#").strip()))
    timeline = timeline or ("hashtag" if tags else "public")
    if timeline == "hashtag" and not tags:
        raise click.UsageError("--timeline hashtag needs at least one --tag")
    if timeline == "public" and tags:
        raise click.UsageError("--tag is for --timeline hashtag")
    base = URL(server.rstrip("/"))
    if base.scheme not in ("http", "https") or not base.host:
        raise click.BadParameter(f"{server!r} is not an http(s) URL", param_hint="--server")
    headers = {"User-Agent": "socialpulse-mastodon"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    feed = Feed.from_options(sink, "mastodon", **common)
    async with aiohttp.ClientSession() as http:
        found = Server(http, base, await discover(http, base, headers), headers)
        targets: list[str | None] = [*tags] or [None]
        await feed.run([Timeline(feed, found, keywords, t, backfill_pages) for t in targets])


plugin = Plugin(
    "mastodon",
    "Mastodon streaming (public or hashtag timelines): statuses naming a brand as mentions.",
    run=run,
    options=[
        option("--server", default=DEFAULT_SERVER, show_default=True, help="Mastodon server."),
        option(
            "--timeline",
            type=click.Choice(["public", "hashtag"]),
            default=None,
            help="Which stream (default: hashtag with --tag, else public).",
        ),
        option("--tag", multiple=True, help="Hashtag to follow (without #); repeatable."),
        option(
            "--brand",
            multiple=True,
            callback=check_pairs,
            required=True,
            metavar="NAME=KW[,KW]",
            help="A brand and its keywords (whole word, any case); repeatable.",
        ),
        option(
            "--token",
            envvar=TOKEN_ENV,
            default=None,
            show_envvar=True,
            help="User access token (read:statuses); prefer the environment variable.",
        ),
        option(
            "--backfill-pages",
            type=click.IntRange(min=0),
            default=5,
            show_default=True,
            help="After a reconnect, REST pages (40 statuses each) fetched to fill the gap.",
        ),
        *COMMON_OPTIONS,
    ],
)
