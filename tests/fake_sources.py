"""Local stand-ins for the live sources, on aiohttp.web, speaking their documented formats.

``FakeJetstream`` is a Bluesky Jetstream: ``GET /subscribe`` upgrades to a WebSocket and
sends one JSON frame per message. It models a *live* stream: frames are published in order
while a client is connected, and frames published while no client listens are only
reachable with ``cursor=`` (it replays frames with ``time_us >= cursor``), so a client that
reconnects without a cursor loses them, as with the real service.

``FakeMastodon`` is a Mastodon server: the SSE streams ``/api/v1/streaming/public`` and
``/api/v1/streaming/hashtag?tag=``, the REST timelines (``min_id`` / ``since_id`` /
``max_id`` / ``limit``) and ``/api/v2/instance`` advertising the streaming URL. Each
stream connection plays the next scripted ``Reply`` (an HTTP error) or ``Play`` (events,
then hold, close or drop). Statuses of the timeline that no ``Play`` sends were posted
while the client was away: only the REST backfill finds them.

Both run in the test's event loop (``async with server``) or in a thread of their own
(``with server.in_thread()``) for synchronous tests that run the CLI as a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Self

from aiohttp import web

End = Literal["hold", "silent", "close", "drop"]


class FakeServer:
    """An aiohttp.web app on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[Self]:
        """Serve from a thread with its own event loop until the block ends."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()


def _drop(request: web.Request) -> None:
    """Cut the TCP connection with no goodbye, as a network failure does."""
    if request.transport is not None:
        request.transport.abort()


# --- Jetstream ---------------------------------------------------------------------------


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def post_frame(
    did: str,
    rkey: str,
    time_us: int,
    text: str,
    *,
    langs: list[str] | None = None,
    tags: list[str] | None = None,
    reply_to: str | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    """A Jetstream commit frame creating an ``app.bsky.feed.post``."""
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "createdAt": created_at or iso(time_us / 1e6),
        "langs": langs or ["en"],
        "text": text,
    }
    if tags:
        record["facets"] = [
            {
                "$type": "app.bsky.richtext.facet",
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
                "index": {"byteStart": 0, "byteEnd": len(tag) + 1},
            }
            for tag in tags
        ]
    if reply_to:
        ref = {"cid": "bafyreiparent", "uri": reply_to}
        record["reply"] = {"parent": ref, "root": ref}
    return _commit(did, time_us, "app.bsky.feed.post", rkey, record)


def subject_frame(
    collection: str, did: str, rkey: str, time_us: int, subject_uri: str
) -> dict[str, Any]:
    """A like (``app.bsky.feed.like``) or repost (``app.bsky.feed.repost``) of a post."""
    record = {
        "$type": collection,
        "createdAt": iso(time_us / 1e6),
        "subject": {"cid": "bafyreisubject", "uri": subject_uri},
    }
    return _commit(did, time_us, collection, rkey, record)


def _commit(
    did: str, time_us: int, collection: str, rkey: str, record: dict[str, Any]
) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": f"rev{time_us}",
            "operation": "create",
            "collection": collection,
            "rkey": rkey,
            "record": record,
            "cid": f"bafyrei{rkey}",
        },
    }


def identity_frame(did: str, time_us: int) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "identity",
        "identity": {
            "did": did,
            "handle": "someone.bsky.social",
            "seq": 1,
            "time": iso(time_us / 1e6),
        },
    }


def account_frame(did: str, time_us: int) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "account",
        "account": {"active": True, "did": did, "seq": 2, "time": iso(time_us / 1e6)},
    }


class FakeJetstream(FakeServer):
    """A Jetstream ``/subscribe`` WebSocket that replays ``frames`` as a live stream.

    ``frames`` are dicts (sent as JSON) or raw strings (sent as they are: malformed frames).
    ``drops[n]`` cuts connection ``n``'s TCP connection after that many frames, ``closes[n]``
    closes it cleanly instead; ``missed_on_drop`` frames are then published while nobody
    listens. ``rejects[n]`` answers connection ``n``'s handshake with that HTTP status (and
    ``reject_headers``) instead.
    """

    def __init__(
        self,
        frames: list[dict[str, Any] | str],
        *,
        drops: dict[int, int] | None = None,
        closes: dict[int, int] | None = None,
        missed_on_drop: int = 0,
        rejects: dict[int, int] | None = None,
        reject_headers: dict[str, str] | None = None,
        pace: float = 0.0,
    ) -> None:
        super().__init__()
        self.timeline: list[tuple[int, str, str | None]] = []  # (time_us, text, collection)
        last = 0
        for frame in frames:
            if isinstance(frame, dict):
                last = int(frame.get("time_us", last))
                commit = frame.get("commit")
                collection = commit.get("collection") if isinstance(commit, dict) else None
                self.timeline.append((last, json.dumps(frame), collection))
            else:
                self.timeline.append((last, frame, None))
        self.drops = drops or {}
        self.closes = closes or {}
        self.missed_on_drop = missed_on_drop
        self.rejects = rejects or {}
        self.reject_headers = reject_headers or {}
        self.pace = pace
        self.head = 0  # index of the next frame the live stream publishes
        self.connections: list[dict[str, Any]] = []
        self.app.router.add_get("/subscribe", self.subscribe)

    @property
    def cursors(self) -> list[int | None]:
        return [c["cursor"] for c in self.connections]

    async def subscribe(self, request: web.Request) -> web.StreamResponse:
        n = len(self.connections)
        cursor = request.query.get("cursor")
        wanted = set(request.query.getall("wantedCollections", []))
        self.connections.append(
            {
                "cursor": None if cursor is None else int(cursor),
                "wanted": sorted(wanted),
                "at": time.monotonic(),
            }
        )
        if n in self.rejects:
            return web.Response(
                status=self.rejects[n], text="rejected", headers=self.reject_headers
            )
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if cursor is None:
            start = self.head
        else:
            start = next(
                (i for i, f in enumerate(self.timeline) if f[0] >= int(cursor)), len(self.timeline)
            )
        sent = 0
        cut = self.drops.get(n, self.closes.get(n))
        for i in range(start, len(self.timeline)):
            _, text, collection = self.timeline[i]
            if sent == cut:
                self.head = max(self.head, i + self.missed_on_drop)
                if n in self.drops:
                    _drop(request)
                else:
                    await ws.close()
                return ws
            self.head = max(self.head, i + 1)
            if collection is not None and wanted and collection not in wanted:
                continue
            await ws.send_str(text)
            sent += 1
            if self.pace:
                await asyncio.sleep(self.pace)
        async for _ in ws:  # the live tail: nothing new until the client goes
            pass
        return ws


# --- Mastodon ----------------------------------------------------------------------------


def status(
    sid: int | str,
    html: str,
    *,
    acct: str = "alice@example.social",
    followers: int = 10,
    tags: list[str] | None = None,
    language: str | None = "en",
    created_at: str | None = None,
    spoiler: str = "",
) -> dict[str, Any]:
    """A Mastodon Status entity, as the streaming and REST APIs send it."""
    sid = str(sid)
    user = acct.split("@")[0]
    host = acct.split("@")[1] if "@" in acct else "fake.social"
    return {
        "id": sid,
        "created_at": created_at or iso(time.time()),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": bool(spoiler),
        "spoiler_text": spoiler,
        "visibility": "public",
        "language": language,
        "uri": f"https://{host}/users/{user}/statuses/{sid}",
        "url": f"https://{host}/@{user}/{sid}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": None,
        "content": html,
        "reblog": None,
        "account": {
            "id": str(abs(hash(acct)) % 10**9),
            "username": user,
            "acct": acct,
            "display_name": user.title(),
            "followers_count": followers,
            "following_count": 3,
            "statuses_count": 42,
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": t, "url": f"https://{host}/tags/{t}"} for t in tags or []],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def update(st: dict[str, Any], event: str = "update") -> str:
    return f"event: {event}\ndata: {json.dumps(st)}\n\n"


def delete(sid: str) -> str:
    return f"event: delete\ndata: {sid}\n\n"


HEARTBEAT = ":thump\n"


@dataclass
class Reply:
    """Answer one stream connection with an HTTP error."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Play:
    """Answer one stream connection with these SSE chunks, then ``end``: hold (heartbeats
    until the client goes), silent (hold with no heartbeat), close, or drop (cut TCP)."""

    chunks: list[str]
    end: End = "hold"


def _error(reply: Reply) -> web.Response:
    return web.json_response({"error": "scripted"}, status=reply.status, headers=reply.headers)


class FakeMastodon(FakeServer):
    """Mastodon streaming + REST timelines. ``scripts`` and ``timelines`` are keyed by
    ``"public"`` or ``"tag:NAME"``; a connection past its script holds with heartbeats."""

    def __init__(
        self,
        *,
        scripts: dict[str, list[Reply | Play]],
        timelines: dict[str, list[dict[str, Any]]] | None = None,
        token: str | None = None,
        streaming_prefix: str = "/streaming-host",
        advertise: bool = True,
        rest_replies: list[Reply] | None = None,
    ) -> None:
        super().__init__()
        self.scripts = {k: list(v) for k, v in scripts.items()}
        self.timelines = timelines or {}
        self.token = token
        self.advertise = advertise
        self.prefix = streaming_prefix
        self.rest_replies = list(rest_replies or [])
        self.streams: list[dict[str, Any]] = []  # every stream connection
        self.rest: list[dict[str, Any]] = []  # every REST timeline request
        self.authorizations: set[str | None] = set()
        r = self.app.router
        r.add_get(f"{streaming_prefix}/api/v1/streaming/public", self.stream)
        r.add_get(f"{streaming_prefix}/api/v1/streaming/hashtag", self.stream)
        r.add_get("/api/v1/timelines/public", self.timeline)
        r.add_get("/api/v1/timelines/tag/{tag}", self.timeline)
        r.add_get("/api/v2/instance", self.instance)

    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization")
        self.authorizations.add(auth)
        return self.token is None or auth == f"Bearer {self.token}"

    async def instance(self, request: web.Request) -> web.Response:
        doc: dict[str, Any] = {"domain": "fake.social", "version": "4.3.0"}
        if self.advertise:
            ws_url = self.url.replace("http://", "ws://") + self.prefix
            doc["configuration"] = {"urls": {"streaming": ws_url}}
        return web.json_response(doc)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        tag = request.query.get("tag")
        key = "public" if request.path.endswith("/public") else f"tag:{(tag or '').lower()}"
        self.streams.append({"key": key, "at": time.monotonic()})
        if not self._authorized(request):
            return web.json_response(
                {"error": "This method requires an authenticated user"}, status=401
            )
        script = self.scripts.get(key, [])
        step = script.pop(0) if script else Play([], "hold")
        if isinstance(step, Reply):
            return web.json_response(
                {"error": "scripted"}, status=step.status, headers=step.headers
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b":)\n")
        for chunk in step.chunks:
            await resp.write(chunk.encode())
            await asyncio.sleep(0)
        if step.end == "drop":
            await asyncio.sleep(0.05)  # let the client read what was sent first
            _drop(request)
        elif step.end in ("hold", "silent"):
            with contextlib.suppress(ConnectionError):
                while True:
                    await asyncio.sleep(0.2)
                    await resp.write(HEARTBEAT.encode() if step.end == "hold" else b"")
        return resp

    async def timeline(self, request: web.Request) -> web.Response:
        tag = request.match_info.get("tag")
        key = "public" if tag is None else f"tag:{tag.lower()}"
        q = request.query
        self.rest.append({"key": key, **q})
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        if self.rest_replies:
            reply = self.rest_replies.pop(0)
            return web.json_response(
                {"error": "scripted"}, status=reply.status, headers=reply.headers
            )

        def num(s: dict[str, Any]) -> int:
            return int(s["id"])

        items = sorted(self.timelines.get(key, []), key=num)
        if "since_id" in q:
            items = [s for s in items if num(s) > int(q["since_id"])]
        if "min_id" in q:
            items = [s for s in items if num(s) > int(q["min_id"])]
        if "max_id" in q:
            items = [s for s in items if num(s) < int(q["max_id"])]
        limit = min(int(q.get("limit", 20)), 40)
        page = items[:limit] if "min_id" in q else items[-limit:]
        return web.json_response(list(reversed(page)))  # newest first, as Mastodon does
