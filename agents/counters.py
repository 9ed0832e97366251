"""The additive counters every KPI is computed from, and what each event adds to them.

A minute bucket holds one counter vector (a list of floats, indexed by ``C``) per label
group; window totals are sums of bucket vectors, so they can be added and subtracted.
"""

from __future__ import annotations

from array import array
from typing import Any, Final

from socialpulse.streams.contract import ENGAGEMENT_KINDS, EXPOSURE_KINDS
from socialpulse.streams.validation import Event

COUNTERS: Final = (
    "impressions",
    "likes",
    "reactions",
    "comments",
    "shares",
    "saves",
    "clicks",
    "mentions",
    "posts",
    "follows",
    "unfollows",
    "visits",
    "visits_timed",
    "visit_seconds",
    "bounces",
    "leads",
    "lead_value",
    "conversions",
    "revenue",
    "spend",
    "service_requests",
    "sentiment_events",
    "sentiment_sum",
    "positive",
    "negative",
    "neutral",
    "negative_exposure",
    "csat_answers",
    "csat_satisfied",
    "nps_answers",
    "nps_promoters",
    "nps_detractors",
    # distinct counts: authors (or sessions) whose last sighting falls in the bucket's
    # minute; kept by KpiState's last-seen maps, not by contributions()
    "reach",
    "visitors",
    "requesters",
)
N: Final = len(COUNTERS)


class _Index:
    """Counter positions as attributes: ``C.likes`` is the index of ``likes``."""

    def __init__(self) -> None:
        for i, name in enumerate(COUNTERS):
            setattr(self, name, i)

    def __getattr__(self, name: str) -> int:  # for type checkers; real names are set above
        raise AttributeError(name)


C: Any = _Index()

#: polarity thresholds of docs/kpis.md
POSITIVE_ABOVE: Final = 0.05
NEGATIVE_BELOW: Final = -0.05

_COUNT_KINDS: Final = {
    "impression": C.impressions,
    "view": C.impressions,
    "like": C.likes,
    "reaction": C.reactions,
    "comment": C.comments,
    "share": C.shares,
    "save": C.saves,
    "click": C.clicks,
    "mention": C.mentions,
    "post": C.posts,
    "follow": C.follows,
    "unfollow": C.unfollows,
    "visit": C.visits,
    "bounce": C.bounces,
    "lead": C.leads,
    "conversion": C.conversions,
    "service_request": C.service_requests,
}

#: the counters engagement kinds add their ``count`` to, and those exposure kinds do (each
#: counter fed by these kinds alone): a vector's engagements and impressions
ENGAGEMENT_COUNTERS: Final = tuple(sorted({_COUNT_KINDS[k] for k in ENGAGEMENT_KINDS}))
EXPOSURE_COUNTERS: Final = tuple(sorted({_COUNT_KINDS[k] for k in EXPOSURE_KINDS}))


#: kinds whose author (or web session) is counted distinctly, and into which counter
DISTINCT_KINDS: Final = {
    "impression": C.reach,
    "view": C.reach,
    "visit": C.visitors,
    "service_request": C.requesters,
}


def distinct_key(ev: Event) -> str | None:
    """Who a distinct count counts: ``author.id``, or the web ``session`` for visits."""
    author = ev.get("author")
    key = author.get("id") if isinstance(author, dict) else None
    if key is None and ev["kind"] == "visit":
        key = ev.get("session")
    return key if isinstance(key, str) and key else None


#: the bytes of an all-zero vector of doubles (a list of floats costs about twice the memory)
_ZEROS: Final = bytes(8 * N)


def zero() -> array[float]:
    """A fresh all-zero counter vector."""
    return array("d", _ZEROS)


_VALUE_KINDS: Final = {"conversion": C.revenue, "ad_spend": C.spend, "lead": C.lead_value}
_VISITS_TIMED: Final = C.visits_timed
_VISIT_SECONDS: Final = C.visit_seconds
_SENTIMENT_EVENTS: Final = C.sentiment_events
_SENTIMENT_SUM: Final = C.sentiment_sum
_POSITIVE: Final = C.positive
_NEGATIVE: Final = C.negative
_NEUTRAL: Final = C.neutral
_NEGATIVE_EXPOSURE: Final = C.negative_exposure


def contributions(ev: Event) -> list[tuple[int, float]]:
    """The (counter index, amount) pairs one validated event adds."""
    kind = ev["kind"]
    count = ev["count"]
    idx = _COUNT_KINDS.get(kind)
    out: list[tuple[int, float]] = [] if idx is None else [(idx, count)]
    value = ev.get("value")
    if value is not None:
        target = _VALUE_KINDS.get(kind)
        if target is not None:
            out.append((target, value))
        elif kind == "visit":
            out.append((_VISITS_TIMED, count))
            out.append((_VISIT_SECONDS, value * count))
    if kind == "survey":
        score = ev["score"]
        if ev["survey"] == "csat":
            out.append((C.csat_answers, count))
            if score >= 4:
                out.append((C.csat_satisfied, count))
        else:
            out.append((C.nps_answers, count))
            if score >= 9:
                out.append((C.nps_promoters, count))
            elif score <= 6:
                out.append((C.nps_detractors, count))
    sentiment = ev.get("sentiment")
    if sentiment is not None:
        out.append((_SENTIMENT_EVENTS, 1))
        out.append((_SENTIMENT_SUM, sentiment))
        if sentiment > POSITIVE_ABOVE:
            out.append((_POSITIVE, 1))
        elif sentiment < NEGATIVE_BELOW:
            out.append((_NEGATIVE, 1))
            author = ev.get("author")
            followers = author.get("followers") if isinstance(author, dict) else None
            if followers:
                out.append((_NEGATIVE_EXPOSURE, followers * -sentiment))
        else:
            out.append((_NEUTRAL, 1))
    return out
