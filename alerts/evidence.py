"""The recent events of a brand that an alert shows, so a person sees why at a glance."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any, NamedTuple

KEEP = 1000  # recent notable events per brand
TEXT_CHARS = 280


class Sighting(NamedTuple):  # a tuple: built for every notable event, so cheap to make
    ts: float
    id: str
    platform: str
    kind: str
    text: str | None
    author: str | None
    followers: int
    sentiment: float | None
    hashtags: tuple[str, ...]


def sighting(ev: dict[str, Any]) -> Sighting | None:
    """The parts of an event worth showing, or None for an event without text or author."""
    author = ev.get("author") or {}
    text = ev.get("text")
    if not text and not author:
        return None
    tags = ev.get("hashtags")
    return _make(
        (
            ev["ts"],
            str(ev.get("id", "")),
            ev.get("platform", ""),
            ev["kind"],
            text[:TEXT_CHARS] if text else None,
            author.get("id"),
            int(author.get("followers") or 0),
            ev.get("sentiment"),
            tuple(tags) if tags else (),
        )
    )


_make = Sighting._make  # from a tuple, in C: the generated constructor costs twice as much


class Evidence:
    """A ring of each brand's recent notable events.

    ``add`` only keeps a reference to the event (one append): most of a large batch's
    events would leave the ring before anyone reads it. The pending events become
    sightings, the last ``keep`` notable ones, when the ring is read (``summary``) and
    at the end of a batch (``settle``), so no event dict outlives its batch.
    """

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self.rings: dict[str, deque[Sighting]] = {}
        self.pending: dict[str, list[dict[str, Any]]] = {}

    def add(self, brand: str, ev: dict[str, Any]) -> None:
        self.extend(brand, [ev])

    def extend(self, brand: str, events: list[dict[str, Any]]) -> None:
        """Events of ``brand``, in order (as many calls of ``add``)."""
        waiting = self.pending.get(brand)
        if waiting is None:
            waiting = self.pending[brand] = []
        waiting += events
        if len(waiting) >= 8 * self.keep:  # bounded between reads
            self._settle(brand)

    def settle(self) -> None:
        """Turn every pending event into a sighting (the ring keeps the last ``keep``)."""
        for brand in list(self.pending):
            self._settle(brand)

    def _settle(self, brand: str) -> None:
        waiting = self.pending.pop(brand, None)
        if not waiting:
            return
        seen: list[Sighting] = []
        for ev in reversed(waiting):  # the newest first: only the last ``keep`` stay
            s = sighting(ev)
            if s is not None:
                seen.append(s)
                if len(seen) >= self.keep:
                    break
        if not seen:
            return
        ring = self.rings.get(brand)
        if ring is None:
            ring = self.rings[brand] = deque(maxlen=self.keep)
        ring.extend(reversed(seen))

    def summary(
        self, brand: str, since: float, until: float, *, negative_only: bool = False, n: int = 5
    ) -> dict[str, Any]:
        """Sample events (most-followed first), top authors by followers, top hashtags."""
        self._settle(brand)
        events = [
            s
            for s in self.rings.get(brand, ())
            if since <= s.ts <= until
            and (not negative_only or (s.sentiment is not None and s.sentiment < -0.05))
        ]
        events.sort(key=lambda s: s.followers, reverse=True)
        authors: dict[str, int] = {}
        for s in events:
            if s.author and s.author not in authors:
                authors[s.author] = s.followers
        tags = Counter(tag.lower() for s in events for tag in s.hashtags)
        return {
            "events": len(events),
            "samples": [
                {
                    "id": s.id,
                    "platform": s.platform,
                    "text": s.text,
                    "author": s.author,
                    "followers": s.followers,
                    "sentiment": s.sentiment,
                }
                for s in events[:n]
            ],
            "top_authors": [
                {"author": a, "followers": f}
                for a, f in sorted(authors.items(), key=lambda kv: -kv[1])[:n]
            ],
            "top_hashtags": [{"hashtag": t, "events": c} for t, c in tags.most_common(n)],
        }

    def forget(self, brands: set[str]) -> None:
        for brand in brands:
            self.rings.pop(brand, None)
            self.pending.pop(brand, None)
