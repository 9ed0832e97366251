"""Distinct counts in sliding windows with bounded memory: adaptive sampling.

Each tracked who (an author id, a web session) is hashed to 64 bits. A tracker keeps the
minute of the last sighting of every who whose hash has ``level`` trailing zero bits, a
1 / 2**level sample of them. Its window counts live in the minute buckets (counters
``reach``, ``visitors``, ``requesters``): the number of sampled whos whose last sighting
falls in that minute, so a window's count is a sum of its buckets and the estimate is
that sum × 2**level. While the sample holds at most ``cap`` whos the level is 0 and the
count is exact; past it the level rises, the whos no longer sampled are dropped, and
their counts leave their buckets. The relative standard error at level > 0 is about
1 / sqrt(cap / 2) (Flajolet's adaptive sampling), 1.1 % for the default cap.

The sample is mergeable (the same hash everywhere; merge at the larger level), which is
what share-of-voice-style cross-group counts would need.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final

DEFAULT_CAP: Final = 16_384


def who_hash(who: str) -> int:
    """A stable 64-bit hash of ``who`` (the same in every process and run)."""
    return int.from_bytes(hashlib.blake2b(who.encode("utf-8"), digest_size=8).digest(), "little")


def sampled(h: int, level: int) -> bool:
    return level == 0 or h & ((1 << level) - 1) == 0


@dataclass(slots=True)
class DistinctTracker:
    """Last sightings of the sampled whos of one (brand, counter, label group)."""

    cap: int = DEFAULT_CAP
    level: int = 0
    last: dict[str, int] = field(default_factory=dict)  # who -> minute of its last sighting

    @property
    def scale(self) -> int:
        """What one sampled who stands for: 2**level."""
        return 1 << self.level

    def sight(self, who: str, minute: int, expired: int) -> list[tuple[int, int]]:
        """Record a sighting; return the (minute, ±1) changes to the bucket counts.

        A last sighting at or before ``expired`` is older than every window and counts as
        absent (its bucket is gone).
        """
        if self.level and not sampled(who_hash(who), self.level):
            return []
        previous = self.last.get(who)
        if previous is not None and previous <= expired:
            previous = None
        if previous is not None and previous >= minute:
            return []
        changes = [(minute, 1)]
        if previous is not None:
            changes.append((previous, -1))
        self.last[who] = minute
        if len(self.last) > self.cap:
            changes += self._raise_level(expired)
        return changes

    def _raise_level(self, expired: int) -> list[tuple[int, int]]:
        changes: list[tuple[int, int]] = []
        while len(self.last) > self.cap:
            self.level += 1
            for who in [w for w in self.last if not sampled(who_hash(w), self.level)]:
                minute = self.last.pop(who)
                if minute > expired:
                    changes.append((minute, -1))
        return changes

    def prune(self, expired: int) -> None:
        """Forget sightings at or before ``expired``."""
        for who in [w for w, m in self.last.items() if m <= expired]:
            del self.last[who]

    def restore(self, who: str, minute: int) -> None:
        """Replay a persisted sighting (the level is restored first)."""
        if self.level and not sampled(who_hash(who), self.level):
            return
        if self.last.get(who, -1) < minute:
            self.last[who] = minute
