"""Walking the held minutes of a range without scanning every held minute."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def minutes_between(held: Mapping[int, Any], first: int, last: int) -> list[int]:
    """The keys of ``held`` in [first, last], ascending, without scanning when it is cheaper."""
    if last < first:
        return []
    if last - first < len(held):
        return [m for m in range(first, last + 1) if m in held]
    return sorted(m for m in held if first <= m <= last)
