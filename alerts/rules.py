"""The alert rules: names, whether they are crisis rules, and their tuning.

Every rule looks at a brand's events in event time, judged at the close of every step
(10 seconds by default) of the brand's event time. Volume and sentiment rules read the
``window`` (5 minutes by default) ending there; paid rules read the last hour, judged at
each minute's close, because spend and conversions are sparse. Each compares its signal with the
brand's own baseline (``alerts.baseline``) and may also have fixed limits per brand in the
config file (``above`` and ``below``), which apply from the first event, history or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    crisis: bool
    signal: str  # what ``value`` means in its alerts
    summary: str


RULES: Final = {
    r.name: r
    for r in (
        Rule(
            "negative_sentiment",
            True,
            "share of negative events among events with sentiment, last 5 minutes",
            "negative share far above the brand's baseline",
        ),
        Rule(
            "negative_exposure",
            True,
            "Σ followers × (−sentiment) over negative events, last 5 minutes",
            "negativity reaching far more followers than usual (one big account counts)",
        ),
        Rule(
            "mention_spike",
            False,
            "mentions, last 5 minutes",
            "mention volume far above baseline; a crisis only if sentiment turns negative",
        ),
        Rule(
            "engagement_collapse",
            False,
            "engagements / impressions, last 5 minutes",
            "engagement rate far below baseline while impressions hold",
        ),
        Rule(
            "cpa_surge",
            False,
            "ad spend / conversions, last hour",
            "cost per acquisition far above baseline",
        ),
        Rule(
            "spend_without_conversions",
            False,
            "ad spend since the last conversion",
            "money spent for as long as usually brings 10 conversions, and none came",
        ),
        Rule(
            "source_silence",
            False,
            "seconds since the platform (or the brand) last sent an event",
            "a platform or producer that stopped sending",
        ),
    )
}

SEVERITIES: Final = ("info", "warning", "critical")


@dataclass(frozen=True)
class Tuning:
    """How sensitive the detectors are; the defaults suit minute-level social traffic."""

    window_minutes: int = 5
    step_seconds: int = 10  # the detectors judge at the close of every step of event time
    paid_window_minutes: int = 60
    min_history_minutes: int = 20  # closed minutes a baseline needs before it may judge
    settle_minutes: int = 2  # a closed minute is learned this many minutes later
    z_fire: float = 4.0  # standard deviations above (or below) the baseline to fire
    z_clear: float = 1.5  # back within this many to start resolving
    resolve_after: float = 120.0  # seconds of event time the signal must stay clear
    cooldown: float = 600.0  # seconds of event time before the same rule fires again
    min_sentiment_events: int = 10  # in the window, for the negative share to mean much
    negative_share_rise: float = 0.15  # and at least this far above the baseline share
    min_exposure: float = 20_000.0  # follower-weighted negativity worth an alert
    min_mentions: int = 20
    spike_factor: float = 3.0  # mentions at least this many times the baseline
    min_impressions: int = 200
    collapse_factor: float = 0.35  # engagement rate at most this share of the baseline
    cpa_factor: float = 3.0
    min_conversions_usual: float = 2.0  # per hour, for spend without conversions to alert
    silence_after: float = 600.0  # seconds without events from a busy platform
    busy_per_minute: float = 1.0  # events per minute that make a platform "busy"
