"""Ranked KPIs of a brand: top amplifiers, hashtags, advocates, detractors, demographics.

Each family keeps per-minute tallies (key -> amount) and running totals for the windows
it is exported in, under the same rule as the counters: a minute's tally is added while
the minute is inside a window and subtracted once when the watermark moves it out. A
minute keeps at most ``MINUTE_CAP`` keys per family (the smallest are dropped, and taken
out of the totals too), so memory is bounded and the top of the ranking stays right for
any key that is large in some minute.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Final

from socialpulse.agents.minutes import minutes_between
from socialpulse.streams.validation import Event

#: family -> the windows (minutes) it is ranked over
FAMILY_WINDOWS: Final[dict[str, dict[str, int]]] = {
    "amplifier": {"1h": 60},
    "hashtag": {"1h": 60},
    "advocate": {"24h": 1440},
    "detractor": {"24h": 1440},
    "location": {"5m": 5, "1h": 60, "24h": 1440},
    "age": {"5m": 5, "1h": 60, "24h": 1440},
    "gender": {"5m": 5, "1h": 60, "24h": 1440},
}
#: family -> width (minutes) -> window name; and every width some family is ranked over
FAMILY_WIDTH_WINDOW: Final = {
    family: {width: window for window, width in windows.items()}
    for family, windows in FAMILY_WINDOWS.items()
}
WIDTHS: Final = sorted({w for windows in FAMILY_WINDOWS.values() for w in windows.values()})
LONGEST: Final = max(WIDTHS)  # the only window coarse tallies are read in
DEMOGRAPHICS: Final = ("location", "age", "gender")
MINUTE_CAP: Final = 256
AGE_BANDS: Final = ((13, 17), (18, 24), (25, 34), (35, 44), (45, 54), (55, 64))


def age_band(age: int) -> str | None:
    """docs/kpis.md's age bands: 13-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65+."""
    if 0 <= age < len(_BAND_OF_AGE):
        return _BAND_OF_AGE[age]
    return _band(age)


def _band(age: int) -> str | None:
    if age >= 65:
        return "65+"
    for low, high in AGE_BANDS:
        if low <= age <= high:
            return f"{low}-{high}"
    return None  # under 13: not a band


#: the band of every age up to 120, looked up (an exposure event with an author asks)
_BAND_OF_AGE: Final = tuple(_band(age) for age in range(121))


_AMPLIFYING: Final = frozenset({"share", "mention"})
_EXPOSURE: Final = frozenset({"impression", "view"})


@dataclass(slots=True)
class Audience:
    """Exposure by the author's location, age and gender, as sent: the demographic
    families' tallies, spread once per batch (``spread``) rather than three per event."""

    locations: dict[str, float] = field(default_factory=dict)
    ages: dict[int, float] = field(default_factory=dict)
    genders: dict[str, float] = field(default_factory=dict)


def tally(ev: Event, into: dict[tuple[str, str], float], audience: Audience) -> None:
    """Add what an event adds to the brand's rankings to ``into``: (family, key) ->
    amount; the demographic families' part to ``audience``."""
    author = ev.get("author")
    tags = ev.get("hashtags")
    if not author and not tags:  # nothing to rank by (most engagement events)
        return
    kind = ev["kind"]
    author = author if isinstance(author, dict) else {}
    who = author.get("id")
    followers = author.get("followers") or 0
    if who and followers and kind in _AMPLIFYING:
        mark = ("amplifier", who)
        into[mark] = into.get(mark, 0.0) + float(followers)
    for tag in tags or ():
        mark = ("hashtag", tag.lower())
        into[mark] = into.get(mark, 0.0) + 1.0
    sentiment = ev.get("sentiment")
    if who and followers and sentiment is not None:
        if sentiment > 0.05:
            mark = ("advocate", who)
            into[mark] = into.get(mark, 0.0) + followers * sentiment
        elif sentiment < -0.05:
            mark = ("detractor", who)
            into[mark] = into.get(mark, 0.0) + followers * -sentiment
    if kind in _EXPOSURE and author:
        count = float(ev["count"])
        location = author.get("location")
        if location:
            held = audience.locations
            held[location] = held.get(location, 0.0) + count
        age = author.get("age")
        if isinstance(age, int):
            held_ages = audience.ages
            held_ages[age] = held_ages.get(age, 0.0) + count
        gender = author.get("gender")
        if gender:
            held = audience.genders
            held[gender] = held.get(gender, 0.0) + count


def spread(audience: Audience, into: dict[tuple[str, str], float]) -> None:
    """The demographic families' tallies of ``audience``, added to ``into``: each key in
    the order of the first event that brought it, as event by event (counts are whole
    numbers, so their sums are exact in any order)."""
    for location, count in audience.locations.items():
        mark = ("location", location.upper())
        into[mark] = into.get(mark, 0.0) + count
    for age, count in audience.ages.items():
        band = age_band(age)
        if band:
            mark = ("age", band)
            into[mark] = into.get(mark, 0.0) + count
    for gender, count in audience.genders.items():
        mark = ("gender", gender.lower())
        into[mark] = into.get(mark, 0.0) + count


#: family -> its (window, width) pairs
_FAMILY_ITEMS: Final = {family: tuple(ws.items()) for family, ws in FAMILY_WINDOWS.items()}


@dataclass(slots=True)
class Rankings:
    """The ranked families of one brand."""

    minutes: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    coarse: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)  # 24h only
    totals: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # fam→win→

    def add(self, minute: int, wm_minute: int, family: str, key: str, amount: float) -> None:
        by_family = self.minutes.get(minute)
        if by_family is None:
            by_family = self.minutes[minute] = {}
        tally = by_family.get(family)
        if tally is None:
            tally = by_family[family] = {}
        tally[key] = tally.get(key, 0.0) + amount
        for window, width in _FAMILY_ITEMS[family]:
            if minute > wm_minute - width:
                _bump(self._total(family, window), key, amount)
        if len(tally) > 2 * MINUTE_CAP:
            self._trim(minute, wm_minute, family, tally)

    def _total(self, family: str, window: str) -> dict[str, float]:
        by_window = self.totals.get(family)
        if by_window is None:
            by_window = self.totals[family] = {}
        total = by_window.get(window)
        if total is None:
            total = by_window[window] = {}
        return total

    def _trim(
        self,
        minute: int,
        wm_minute: int,
        family: str,
        tally: dict[str, float],
        *,
        coarse: bool = False,
    ) -> None:
        dropped = sorted(tally.items(), key=lambda kv: kv[1])[: len(tally) - MINUTE_CAP]
        for key, amount in dropped:
            del tally[key]
            for window, width in FAMILY_WINDOWS[family].items():
                # a coarse tally is only ever inside the widest window
                inside = width == LONGEST if coarse else minute > wm_minute - width
                if inside:
                    _bump(self._total(family, window), key, -amount)

    def compact(self, minute: int, start: int, wm_minute: int) -> None:
        """Merge a minute's tallies into the coarse slot at ``start`` (24h families only)."""
        families = self.minutes.pop(minute, None)
        if not families:
            return
        target = self.coarse.setdefault(start, {})
        for family, tally in families.items():
            if LONGEST not in FAMILY_WIDTH_WINDOW[family]:
                continue  # ranked over 1h only: the minute is out of its window already
            merged = target.setdefault(family, {})
            for key, amount in tally.items():
                merged[key] = merged.get(key, 0.0) + amount
            if len(merged) > 2 * MINUTE_CAP:
                self._trim(start, wm_minute, family, merged, coarse=True)

    def advance(self, old: int, new: int) -> None:
        """Subtract the minutes the watermark's move from ``old`` to ``new`` takes out."""
        for width in WIDTHS:
            for minute in minutes_between(self.minutes, old - width + 1, new - width):
                for family, tally in self.minutes[minute].items():
                    window = FAMILY_WIDTH_WINDOW[family].get(width)
                    if window is None:
                        continue
                    total = self._total(family, window)
                    for key, amount in tally.items():
                        _bump(total, key, -amount)
        for start in minutes_between(self.coarse, old - LONGEST + 1, new - LONGEST):
            for family, tally in self.coarse.pop(start).items():
                total = self._total(family, FAMILY_WIDTH_WINDOW[family][LONGEST])
                for key, amount in tally.items():
                    _bump(total, key, -amount)

    def evict(self, before: int, previous: int) -> None:
        """Forget the minutes in (previous, before]: outside every window now."""
        first = previous + 1 if self.minutes else before
        for minute in minutes_between(self.minutes, first, before):
            del self.minutes[minute]

    def top(self, family: str, window: str, n: int) -> list[tuple[str, float]]:
        """The ``n`` largest keys in a window, largest first (ties by key)."""
        total = self.totals.get(family, {}).get(window, {})
        if n < len(total):  # the keys at or above the n-th largest amount, not every key
            if n <= 0:
                return []
            least = heapq.nlargest(n, total.values())[-1]
            return sorted([kv for kv in total.items() if kv[1] >= least], key=_rank)[:n]
        return sorted(total.items(), key=_rank)

    def record(self, slot: int) -> dict[str, dict[str, float]] | None:
        """Tallies of a minute, or of a coarse bucket when ``slot`` is negative."""
        return self.coarse.get(-slot - 1) if slot < 0 else self.minutes.get(slot)

    def restore(self, slot: int, record: dict[str, Any], wm_minute: int) -> None:
        if slot >= 0:
            for family, tally in record.items():
                if family in FAMILY_WINDOWS:
                    for key, amount in tally.items():
                        self.add(slot, wm_minute, family, key, float(amount))
            return
        start = -slot - 1
        if start <= wm_minute - LONGEST:
            return
        target = self.coarse.setdefault(start, {})
        for family, tally in record.items():
            window = FAMILY_WIDTH_WINDOW.get(family, {}).get(LONGEST)
            if window is None:
                continue
            merged = target.setdefault(family, {})
            for key, amount in tally.items():
                merged[key] = merged.get(key, 0.0) + float(amount)
                _bump(self._total(family, window), key, float(amount))


def _rank(item: tuple[str, float]) -> tuple[float, str]:
    return -item[1], item[0]


def _bump(total: dict[str, float], key: str, amount: float) -> None:
    left = total.get(key, 0.0) + amount
    if abs(left) > 1e-9:
        total[key] = left
    else:
        total.pop(key, None)
