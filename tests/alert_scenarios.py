"""Event streams for the alert scenarios: a calm baseline, then a burst of some kind.

Deterministic (seeded). Rates are per minute of event time; every count is drawn from a
Poisson law, so a calm stream has the noise a real one has.
"""

from __future__ import annotations

import math
import random
from typing import Any

Event = dict[str, Any]

NEGATIVE = [
    ("Terrible service, never again #fail", ["fail"]),
    ("Worst app ever, it crashed again #boycott", ["boycott"]),
]
POSITIVE = [("Love the new collection! #happy", ["happy"]), ("Great support, thank you", [])]
NEUTRAL = [("Is the store open on Sunday?", []), ("Ordered the blue one", [])]


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def stream(
    brand: str,
    start: float,
    minutes: int,
    *,
    seed: int,
    mentions: float = 6.0,
    negative_share: float = 0.15,
    positive_share: float = 0.45,
    impressions: float = 300.0,
    engagement_rate: float = 0.05,
    platforms: tuple[str, ...] = ("x", "instagram"),
    followers: int = 500,
    spend: float = 0.0,
    conversions: float = 0.0,
    tag: str = "",
) -> list[Event]:
    """``minutes`` minutes of a brand's events from ``start`` (epoch seconds)."""
    rng = random.Random(f"{brand}:{seed}:{tag}")
    out: list[Event] = []
    n = 0

    def event(kind: str, minute: int, **fields: Any) -> Event:
        nonlocal n
        n += 1
        return {
            "id": f"{brand}-{tag}{seed}-{n}",
            "brand": brand,
            "kind": kind,
            "ts": start + 60 * minute + 60 * rng.random(),
            "platform": platforms[n % len(platforms)],
            **fields,
        }

    for minute in range(minutes):
        for _ in range(poisson(rng, mentions)):
            u = rng.random()
            if u < negative_share:
                (text, tags), sentiment = rng.choice(NEGATIVE), -round(0.4 + 0.5 * rng.random(), 2)
            elif u < negative_share + positive_share:
                (text, tags), sentiment = rng.choice(POSITIVE), round(0.4 + 0.5 * rng.random(), 2)
            else:
                (text, tags), sentiment = rng.choice(NEUTRAL), 0.0
            author = {"id": f"u{rng.randrange(5000)}", "followers": int(followers * rng.random())}
            out.append(
                event(
                    "mention", minute, text=text, sentiment=sentiment, author=author, hashtags=tags
                )
            )
        imps = poisson(rng, impressions)
        if imps:
            out.append(event("impression", minute, count=imps))
        for _ in range(poisson(rng, impressions * engagement_rate)):
            out.append(event("like", minute))
        if spend:
            out.append(event("ad_spend", minute, value=round(spend, 2), currency="EUR"))
        for _ in range(poisson(rng, conversions)):
            out.append(event("conversion", minute, value=40.0, currency="EUR"))
    out.sort(key=lambda ev: ev["ts"])
    return out


def big_account_post(brand: str, ts: float, followers: int = 2_000_000) -> Event:
    return {
        "id": f"{brand}-big-{int(ts)}",
        "brand": brand,
        "kind": "mention",
        "ts": ts,
        "platform": "x",
        "text": "I have been a loyal customer for ten years. Never again, this is a scam. #boycott",
        "sentiment": -0.9,
        "author": {"id": "famous_reviewer", "followers": followers},
    }
