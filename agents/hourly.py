"""Best time to post: engagement rate by hour of day over the last 7 days, in a time zone.

Engagements and impressions are summed per epoch hour; at export each epoch hour is
mapped to its hour of day in the configured zone (whole-hour offsets are exact; a zone
with a half-hour offset is attributed by the hour's start).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

HOURS: Final = 7 * 24


@lru_cache(maxsize=4096)
def hour_of_day(epoch_hour: int, zone: str) -> int:
    """Hour of day (0..23) in ``zone`` of the hour starting at ``epoch_hour`` × 3600."""
    return datetime.fromtimestamp(epoch_hour * 3600, tz=UTC).astimezone(ZoneInfo(zone)).hour


def within(epoch_hour: int, wm_hour: int) -> bool:
    """Whether ``epoch_hour`` is among the 7 days ending with the watermark's hour."""
    return epoch_hour > wm_hour - HOURS


@dataclass(slots=True)
class HourlyRates:
    """Per epoch hour: [engagements, impressions] of the last 7 days of event time."""

    hours: dict[int, list[float]] = field(default_factory=dict)

    def add(self, epoch_hour: int, engagements: float, impressions: float) -> None:
        slot = self.hours.get(epoch_hour)
        if slot is None:
            slot = self.hours[epoch_hour] = [0.0, 0.0]
        slot[0] += engagements
        slot[1] += impressions

    def evict(self, wm_hour: int) -> None:
        for hour in [h for h in self.hours if not within(h, wm_hour)]:
            del self.hours[hour]

    def rates(self, wm_hour: int, zone: str) -> dict[int, float]:
        """Engagement rate per hour of day; hours without impressions are left out."""
        sums: dict[int, list[float]] = {}
        for hour, (eng, imp) in self.hours.items():
            if within(hour, wm_hour):
                slot = sums.setdefault(hour_of_day(hour, zone), [0.0, 0.0])
                slot[0] += eng
                slot[1] += imp
        return {h: e / i for h, (e, i) in sums.items() if i > 0}

    def to_json(self) -> dict[str, list[float]]:
        return {str(h): v for h, v in self.hours.items()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> HourlyRates:
        return cls({int(h): [float(v[0]), float(v[1])] for h, v in raw.items()})
