"""The event contract, version 1 (docs/events.md): kinds, field limits and rejection reasons."""

from __future__ import annotations

from typing import Final

CONTRACT_VERSION: Final = 1

ENGAGEMENT_KINDS: Final = frozenset({"like", "reaction", "comment", "share", "save", "click"})
EXPOSURE_KINDS: Final = frozenset({"impression", "view"})

KINDS: Final = frozenset(
    {
        "post",
        "mention",
        *ENGAGEMENT_KINDS,
        *EXPOSURE_KINDS,
        "follow",
        "unfollow",
        "followers",
        "visit",
        "bounce",
        "lead",
        "conversion",
        "ad_spend",
        "survey",
        "service_request",
    }
)

#: kinds whose ``value`` must be present
VALUE_REQUIRED_KINDS: Final = frozenset({"followers", "ad_spend"})
#: kinds whose ``value`` is money, seconds or a total, so it may not be negative
NON_NEGATIVE_VALUE_KINDS: Final = frozenset(
    {"ad_spend", "conversion", "lead", "visit", "followers"}
)

#: the event fields of docs/events.md; AUTHOR_FIELDS are the keys of its ``author`` object
FIELDS: Final = (
    "id",
    "ts",
    "brand",
    "kind",
    "platform",
    "campaign",
    "variant",
    "count",
    "value",
    "currency",
    "score",
    "survey",
    "author",
    "text",
    "lang",
    "sentiment",
    "hashtags",
    "parent_id",
    "session",
)
AUTHOR_FIELDS: Final = ("id", "followers", "location", "age", "gender")

MAX_ID: Final = 256
MAX_BRAND: Final = 128
MAX_PLATFORM: Final = 64
MAX_LABEL: Final = 128  # campaign, variant, parent_id, session, author fields
MAX_TEXT: Final = 10_000
MAX_HASHTAGS: Final = 100
MAX_LANG: Final = 35
MAX_COUNT: Final = 10**12  # count and author.followers: beyond it a number is a mistake

DEFAULT_PLATFORM: Final = "unknown"

SURVEY_RANGES: Final = {"csat": (1.0, 5.0), "nps": (0.0, 10.0)}

#: every reason an element can be rejected for; the label values of
#: ``socialpulse_events_rejected_total{reason}``
REASONS: Final = (
    "invalid_json",
    "not_object",
    "empty_envelope",
    "envelope_too_large",
    "too_large",
    "missing_field",
    "bad_type",
    "unknown_kind",
    "too_long",
    "bad_text",
    "bad_number",
    "out_of_range",
    "negative_value",
    "bad_ts",
    "future",
    "late",
)
