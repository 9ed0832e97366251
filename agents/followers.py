"""Follower totals per brand × platform: the latest snapshot plus follows − unfollows after it.

A ``followers`` event is a snapshot of the account's total. Follows and unfollows with an
event time after the snapshot move the total; on a platform that never sent a snapshot,
every follow and unfollow counts (from 0), as docs/kpis.md's followers rule says. Changes
older than the watermark minus the allowed lateness can no longer fall after a future
snapshot (an older snapshot would be late), so they are folded into one number and
memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class PlatformFollowers:
    """Follower state of one brand on one platform."""

    snap_ts: float | None = None
    snap_value: float = 0.0
    folded: float = 0.0  # changes after the snapshot, too old to be passed by a new one
    changes: list[tuple[float, float]] = field(default_factory=list)  # (ts, ±count)

    def snapshot(self, ts: float, value: float) -> None:
        """A follower total at ``ts``; an older snapshot than the current one is ignored.

        Two snapshots of the same time keep the larger total, whatever order they came in.
        """
        if self.snap_ts is not None and (
            ts < self.snap_ts or (ts == self.snap_ts and value <= self.snap_value)
        ):
            return
        self.snap_ts = ts
        self.snap_value = value
        self.folded = 0.0
        self.changes = [c for c in self.changes if c[0] > ts]

    def change(self, ts: float, delta: float) -> None:
        """A follow (+count) or unfollow (−count) at ``ts``."""
        if self.snap_ts is None or ts > self.snap_ts:
            self.changes.append((ts, delta))

    def fold(self, horizon: float) -> None:
        """Fold changes older than ``horizon`` (watermark − lateness) into one number."""
        if not self.changes:
            return
        keep = [c for c in self.changes if c[0] >= horizon]
        self.folded += sum(d for ts, d in self.changes if ts < horizon)
        self.changes = keep

    def total(self) -> float:
        """The current follower total: the snapshot (0 without one) plus the changes after it."""
        return self.snap_value + self.folded + sum(d for _, d in self.changes)

    def to_json(self) -> list[Any]:
        return [self.snap_ts, self.snap_value, self.folded, [list(c) for c in self.changes]]

    @classmethod
    def from_json(cls, raw: list[Any]) -> PlatformFollowers:
        snap_ts, snap_value, folded, changes = raw
        return cls(snap_ts, snap_value, folded, [(float(t), float(d)) for t, d in changes])
