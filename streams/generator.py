"""A deterministic, realistic synthetic stream of social events (docs/events.md, version 1).

``SyntheticStream(seed=..., brands=...)`` produces every kind of the contract for the first
``brands`` names of ``vocabulary.DEFAULT_BRANDS`` (the first is the tracked brand, the
others its competitors in the group ``vocabulary.COMPETITOR_GROUP``):

* relative frequencies of a real account: impressions and views dominate (impressions often
  pre-aggregated with ``count`` > 1), then likes, clicks, mentions; leads, conversions,
  surveys and service requests are rare; a ``followers`` snapshot per brand x platform every
  four to six minutes of event time, consistent with the follows and unfollows generated;
* engagements refer (``parent_id``) to recent posts of the brand on the same platform and
  inherit their campaign and A/B variant; variant ``b`` converts slightly better;
* authors come from Zipf-like pools (some authors repeat), with heavy-tailed follower
  counts, a country, an age and a gender; the language of a text follows the author's
  country; texts in English, Spanish, German, Polish, Persian, Arabic and Vietnamese;
* a daily rhythm and a few 1-3 minute bursts per hour (:meth:`SyntheticStream.rate_multiplier`,
  :meth:`SyntheticStream.bursts`); during a burst the burst's brand gets most of the extra
  traffic, and its mentions turn mostly negative (``crisis``) or positive (``viral``);
  scripted bursts (:meth:`SyntheticStream.script`, the demo's crisis) come on top of the
  random ones and win over them.

Everything is drawn from ``random.Random`` instances seeded from ``seed``: the same seed and
the same sequence of calls give the same events. The throughput is printed by
``python -m socialpulse.streams.generator``.

The names and texts drawn from are in ``vocabulary``; the rates and weights that shape the
stream are here, above :class:`SyntheticStream`. ``pacing`` turns the stream into a timed
feed (``socialpulse generate``).
"""

from __future__ import annotations

import itertools
import random
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from socialpulse.streams.vocabulary import (
    AGE_BANDS,
    CAMPAIGN_NAMES,
    COMPETITOR_GROUP,
    COUNTRIES,
    CURRENCIES,
    DEFAULT_BRANDS,
    EMOJI,
    GENDERS,
    HASHTAGS,
    LANGUAGES,
    POSTS,
    SERVICE,
    SOCIAL_PLATFORMS,
    VOICE,
    TextBank,
)

# relative activity by UTC hour: quiet at night, a peak in the evening
_DAILY: Final[tuple[float, ...]] = (
    0.6, 0.45, 0.36, 0.3, 0.3, 0.32, 0.4, 0.55, 0.75, 0.9, 1.0, 1.05,
    1.1, 1.05, 1.0, 1.0, 1.05, 1.15, 1.3, 1.42, 1.5, 1.4, 1.1, 0.8,
)  # fmt: skip

# platform preferences, aligned with SOCIAL_PLATFORMS
_PW_GENERAL: Final = (18, 22, 18, 8, 16, 8, 3, 7)
_PW_VIDEO: Final = (5, 20, 8, 1, 35, 30, 0.5, 0.5)
_PW_REACTION: Final = (0, 5, 55, 35, 0, 0, 5, 0)
_PW_SAVE: Final = (10, 50, 10, 5, 25, 5, 0, 0)
_PW_VOICE: Final = (30, 15, 18, 5, 10, 5, 7, 10)

_REACTIONS: Final = ("like", "love", "haha", "wow", "sad", "angry")
_REACTION_W: Final = ((45, 30, 8, 8, 5, 4), (10, 2, 10, 5, 30, 45), (30, 45, 10, 12, 2, 1))

# kinds drawn per event (bounce comes with its visit, followers snapshots on a schedule)
_KINDS: Final[tuple[str, ...]] = (
    "impression", "view", "like", "reaction", "click", "mention", "comment", "share", "save",
    "visit", "follow", "unfollow", "post", "lead", "conversion", "ad_spend", "survey",
    "service_request",
)  # fmt: skip
_KIND_W_NORMAL: Final = (
    30, 16, 14, 3.5, 6, 5, 3, 2, 1.5, 4, 0.5, 0.2, 0.3, 0.4, 0.25, 0.6, 0.3, 0.3,
)  # fmt: skip
_KIND_W_CRISIS: Final = (12, 4, 4, 4, 0.5, 40, 12, 15, 0, 0, 0.3, 4, 0, 0, 0, 0, 0, 4)
_KIND_W_VIRAL: Final = (15, 9, 10, 2, 2, 30, 8, 20, 1.5, 1, 4, 0.1, 0, 0, 0, 0, 0, 0)
_ENGAGEMENT_KINDS: Final = frozenset({"like", "reaction", "click", "comment", "share", "save"})

# polarity mixes (negative, neutral, positive) for mentions / comments by mood
_MOOD_NONE: Final = 0
_MOOD_CRISIS: Final = 1
_MOOD_VIRAL: Final = 2

_POOL: Final = 3000  # authors per brand (pools of neighbouring brands overlap)
_POOL_STEP: Final = 2000
_VIEWER_BASE: Final = 1_000_000
_VIEWER_STEP: Final = 150_000
_VIEWER_POOL: Final = 300_000
_VISITOR_POOL: Final = 20_000
_GOLD: Final = 0x9E3779B97F4A7C15
_MASK: Final = (1 << 64) - 1
_RING: Final = 32  # recent posts kept per brand x platform
_TABLE: Final = 1024
_A_PENALTY: Final = 0.15  # share of variant-a outcomes re-attributed: variant b converts better

Event = dict[str, Any]
_Maker = Callable[[list[Event], int, float, int], None]
_Variants = tuple[tuple[str, tuple[str, ...]], ...]
_Post = tuple[str, str | None, str | None]
_Texts = list[list[list[_Variants]]]  # [brand][language][polarity index] -> renderings


@dataclass(frozen=True, slots=True)
class Burst:
    """A traffic burst: ``factor`` times the daily rate in [start, end) for one brand."""

    start: float
    end: float
    factor: float
    brand: str
    mood: str  # "crisis" (mentions turn negative) or "viral" (mentions turn positive)


#: the scripted crisis: traffic times CRISIS_FACTOR, mostly negative mentions, for CRISIS_SECONDS
CRISIS_FACTOR: Final = 4.0
CRISIS_SECONDS: Final = 300.0


def crisis_burst(brand: str, start: float, duration: float = CRISIS_SECONDS) -> Burst:
    """A scripted crisis for ``brand`` from ``start`` (epoch seconds), for ``duration`` s."""
    return Burst(start, start + duration, CRISIS_FACTOR, brand, "crisis")


def _boundaries(weights: Sequence[float]) -> list[float]:
    """Cumulative bounds, without the total, for ``items[bisect_right(b, u * total)]``."""
    return list(itertools.accumulate(weights))[:-1]


def _picker(weights: Sequence[float]) -> tuple[list[float], float]:
    """Bounds and total: ``bisect_right(bounds, random() * total)`` picks an index by weight."""
    return _boundaries(weights), float(sum(weights))


def _table(rng: random.Random, items: Sequence[Any], weights: Sequence[float], k: int) -> list[Any]:
    return rng.choices(list(items), weights=list(weights), k=k)


def _variants(
    text: str, tag: str, lang: str, pol: int, rng: random.Random
) -> list[tuple[str, tuple[str, ...]]]:
    """Renderings of one sentence: plain (most often), with hashtags, with an emoji."""
    poltags = HASHTAGS[lang][pol]
    emoji = EMOJI[pol]
    out: list[tuple[str, tuple[str, ...]]] = [(text, ())] * 4
    out.append((f"{text} #{tag}", (tag,)))
    for extra in poltags:
        out.append((f"{text} #{tag} #{extra}", (tag, extra)))
    extra = rng.choice(poltags)
    out.append((f"{text} #{extra}", (extra,)))
    for e in emoji:
        out.append((f"{text} {e}", ()))
    out.append((f"{text} #{tag} {rng.choice(emoji)}", (tag,)))
    return out


class SyntheticStream:
    """Deterministic synthetic events for the first ``brands`` names of DEFAULT_BRANDS."""

    def __init__(self, *, seed: int = 0, brands: int = 4) -> None:
        if isinstance(brands, bool) or not isinstance(brands, int):
            raise ValueError("brands must be an integer")
        if not 1 <= brands <= len(DEFAULT_BRANDS):
            raise ValueError(f"brands must lie in 1..{len(DEFAULT_BRANDS)}, not {brands}")
        self._seed = seed
        self._brands = list(DEFAULT_BRANDS[:brands])
        rng = random.Random(seed)
        self._rng = rng
        self._prefix = f"gen-{seed}-"
        self._sprefix = f"sess-{seed}-"
        self._ids = itertools.count(1)
        self._sessions = itertools.count(1)
        self._salt = rng.getrandbits(64)
        self._bursts: dict[int, tuple[tuple[Burst, int], ...]] = {}
        self._scripted: list[tuple[Burst, int]] = []
        nb = brands
        nplat = len(SOCIAL_PLATFORMS)

        # people: attribute tables indexed by a hash of the person number
        self._loc = _table(rng, range(len(COUNTRIES)), [c[1] for c in COUNTRIES], _TABLE)
        self._loc_code = [COUNTRIES[i][0] for i in self._loc]
        self._loc_lang = [COUNTRIES[i][2] for i in self._loc]
        bands = _table(rng, AGE_BANDS, [b[2] for b in AGE_BANDS], _TABLE)
        self._age = [rng.randint(lo, hi) for lo, hi, _ in bands]
        self._gender = _table(rng, [g for g, _ in GENDERS], [w for _, w in GENDERS], 256)
        followers: list[int] = []
        for _ in range(4096):
            if rng.random() < 0.006:  # influencers
                followers.append(int(20_000 * 60 ** rng.random()))
            else:
                followers.append(min(int(rng.lognormvariate(5.2, 1.8)), 2_000_000))
        self._followers_tab = followers

        # brands: volume, reputation, campaigns, currency, follower totals, recent posts
        self._brand_pick = _picker([1.0 / (1.0 + 0.35 * i) for i in range(nb)])
        self._pol_bounds: list[tuple[list[float], list[float], list[float]]] = []
        self._service_pick = _picker((60, 40))
        self._campaigns: list[list[str]] = []
        self._currency = [CURRENCIES[i] for i in range(nb)]
        self._fcount: list[list[int]] = []
        self._rings: list[list[list[_Post]]] = []
        platform_scale = (0.8, 1.0, 0.9, 0.3, 0.6, 0.4, 0.05, 0.1)
        for bi in range(nb):
            neg = 0.12 + 0.16 * rng.random()
            pos = 0.35 + 0.2 * rng.random()
            normal = _boundaries((neg, 1.0 - neg - pos, pos))
            self._pol_bounds.append(
                (normal, _boundaries((0.8, 0.15, 0.05)), _boundaries((0.05, 0.15, 0.8)))
            )
            self._campaigns.append(rng.sample(CAMPAIGN_NAMES, rng.randint(2, 4)))
            scale = 80_000 * (450_000 / 80_000) ** rng.random()
            self._fcount.append(
                [
                    max(10_000, min(500_000, int(scale * ps * (0.8 + 0.45 * rng.random()))))
                    for ps in platform_scale
                ]
            )
            rings: list[list[_Post]] = []
            for pi in range(nplat):
                ring: list[_Post] = []
                for j in range(3):
                    campaign, variant = self._campaign_variant(bi, 0.7, 0.5)
                    ring.append((f"{self._prefix}b{bi}p{pi}-old{j}", campaign, variant))
                rings.append(ring)
            self._rings.append(rings)
        self._snap_due = [float("-inf")] * (nb * nplat)
        self._snap_next = float("-inf")

        # texts, rendered per brand; the polarity label of every text is kept
        self._polarity: dict[str, int] = {}
        self._voice = self._render(VOICE, rng)
        self._service = self._render(SERVICE, rng)
        self._posts = self._render(POSTS, rng)

        # numeric tables
        self._agg_counts = [2 + int(rng.lognormvariate(3.4, 1.1)) for _ in range(_TABLE)]
        self._small_counts = [2 + int(rng.expovariate(0.15)) for _ in range(_TABLE)]
        self._spend = [round(rng.lognormvariate(2.5, 0.9), 2) for _ in range(_TABLE)]
        self._revenue = [round(rng.lognormvariate(4.3, 0.8), 2) for _ in range(_TABLE)]
        self._lead_value = [round(20 + 180 * rng.random(), 2) for _ in range(_TABLE)]
        self._stay = [round(min(rng.lognormvariate(4.25, 1.1), 3600.0), 1) for _ in range(_TABLE)]
        self._bounce_stay = [round(1 + 39 * rng.random(), 1) for _ in range(_TABLE)]
        self._csat = _table(rng, range(1, 6), (4, 6, 12, 33, 45), _TABLE)
        self._nps = _table(rng, range(11), (3, 2, 2, 3, 4, 6, 7, 14, 18, 20, 21), _TABLE)
        self._reaction = [_table(rng, _REACTIONS, w, _TABLE) for w in _REACTION_W]  # by mood

        # platform pickers and kind tables
        self._pw = {
            "general": _picker(_PW_GENERAL),
            "video": _picker(_PW_VIDEO),
            "reaction": _picker(_PW_REACTION),
            "save": _picker(_PW_SAVE),
            "voice": _picker(_PW_VOICE),
        }
        makers: dict[str, _Maker] = {
            "impression": self._impression,
            "view": self._view,
            "like": self._like,
            "reaction": self._reaction_ev,
            "click": self._click,
            "mention": self._mention,
            "comment": self._comment,
            "share": self._share,
            "save": self._save,
            "visit": self._visit,
            "follow": self._follow,
            "unfollow": self._unfollow,
            "post": self._post,
            "lead": self._lead,
            "conversion": self._conversion,
            "ad_spend": self._ad_spend,
            "survey": self._survey,
            "service_request": self._service_request,
        }
        self._makers: list[_Maker] = [makers[k] for k in _KINDS]
        # engagement per impression is higher in the evening ("best time to post")
        self._kinds_by_hour: list[tuple[list[float], float]] = []
        for hour in range(24):
            boost = 0.75 + 0.35 * _DAILY[hour]
            weights = [
                w * boost if k in _ENGAGEMENT_KINDS else w
                for k, w in zip(_KINDS, _KIND_W_NORMAL, strict=True)
            ]
            self._kinds_by_hour.append(_picker(weights))
        self._kinds_by_mood = (
            _picker(_KIND_W_NORMAL),
            _picker(_KIND_W_CRISIS),
            _picker(_KIND_W_VIRAL),
        )

    # ----------------------------------------------------------------------------- public

    @property
    def brands(self) -> list[str]:
        """The brands of this stream; the first is the tracked brand, the rest competitors."""
        return list(self._brands)

    def competitor_groups(self) -> dict[str, list[str]]:
        """The competitor group configuration these brands form (for share of voice)."""
        return {COMPETITOR_GROUP: list(self._brands)}

    def polarity_of(self, text: str) -> int | None:
        """The polarity label (-1, 0, 1) the generator wrote ``text`` with, None if unknown."""
        return self._polarity.get(text)

    def daily_multiplier(self, ts: float) -> float:
        """The daily rhythm alone: about 0.3 at night and 1.5 in the evening (UTC)."""
        hours = (ts / 3600.0) % 24.0
        h = int(hours)
        frac = hours - h
        return _DAILY[h] + (_DAILY[(h + 1) % 24] - _DAILY[h]) * frac

    def rate_multiplier(self, ts: float) -> float:
        """Relative event rate at ``ts``: daily rhythm times the strongest active burst."""
        active = self._active(ts)
        factor = active[0].factor if active is not None else 1.0
        return self.daily_multiplier(ts) * factor

    def script(self, burst: Burst) -> None:
        """Add a burst of one's own (e.g. the demo's crisis); it wins over random bursts."""
        if burst.brand not in self._brands:
            raise ValueError(f"no brand {burst.brand!r} in this stream (brands: {self._brands})")
        if burst.mood not in ("crisis", "viral") or burst.factor < 1 or burst.end <= burst.start:
            raise ValueError(f"not a valid burst: {burst}")
        self._scripted.append((burst, self._brands.index(burst.brand)))

    def bursts(self, start: float, end: float) -> list[Burst]:
        """Every burst (random or scripted) that overlaps [start, end), by start time."""
        found = [b for b, _ in self._scripted if b.start < end and b.end > start]
        for hour in range(int(start // 3600) - 1, int(end // 3600) + 1):
            for burst, _ in self._hour_bursts(hour):
                if burst.start < end and burst.end > start:
                    found.append(burst)
        return sorted(found, key=lambda b: b.start)

    def events(self, ts: float, n: int) -> list[Event]:
        """``n`` events with event times in [ts - 1, ts]."""
        if n < 0:
            raise ValueError("n must not be negative")
        out: list[Event] = []
        if n == 0:
            return out
        ts = float(ts)
        if ts >= self._snap_next:
            self._snapshots(ts, out, max(1, n // 4))
        rnd = self._rng.random
        makers = self._makers
        brand_bounds, brand_total = self._brand_pick
        kinds, kinds_total = self._kinds_by_hour[int(ts // 3600) % 24]
        active = self._active(ts)
        if active is None:
            while len(out) < n:
                bi = bisect_right(brand_bounds, rnd() * brand_total)
                k = bisect_right(kinds, rnd() * kinds_total)
                makers[k](out, bi, ts - rnd(), _MOOD_NONE)
        else:
            # the burst's extra traffic (1 - 1/factor of it) is about the burst's brand
            burst, bb = active
            mood = _MOOD_CRISIS if burst.mood == "crisis" else _MOOD_VIRAL
            share = 1.0 - 1.0 / burst.factor
            bkinds, bkinds_total = self._kinds_by_mood[mood]
            while len(out) < n:
                if rnd() < share:
                    k = bisect_right(bkinds, rnd() * bkinds_total)
                    makers[k](out, bb, ts - rnd(), mood)
                else:
                    bi = bisect_right(brand_bounds, rnd() * brand_total)
                    k = bisect_right(kinds, rnd() * kinds_total)
                    makers[k](out, bi, ts - rnd(), mood if bi == bb else _MOOD_NONE)
        del out[n:]
        return out

    # ------------------------------------------------------------------------ internals

    def _render(self, bank: TextBank, rng: random.Random) -> _Texts:
        """[brand][lang][polarity index] -> renderings with their hashtags."""
        rendered: _Texts = []
        for brand in self._brands:
            name = brand.capitalize()
            per_lang: list[list[_Variants]] = []
            for lang in LANGUAGES:
                per_pol: list[_Variants] = []
                for pi, sentences in enumerate(bank[lang]):
                    variants: list[tuple[str, tuple[str, ...]]] = []
                    for sentence in sentences:
                        variants.extend(_variants(sentence.format(b=name), brand, lang, pi, rng))
                    for text, _ in variants:
                        label = pi - 1
                        if self._polarity.setdefault(text, label) != label:
                            raise AssertionError(f"text {text!r} has two polarities")
                    per_pol.append(tuple(variants))
                per_lang.append(per_pol)
            rendered.append(per_lang)
        return rendered

    def _hour_bursts(self, hour: int) -> tuple[tuple[Burst, int], ...]:
        cached = self._bursts.get(hour)
        if cached is not None:
            return cached
        rng = random.Random(f"socialpulse-bursts:{self._seed}:{hour}")
        count = rng.choices(range(5), weights=(15, 30, 30, 15, 10))[0]
        found: list[tuple[Burst, int]] = []
        for _ in range(count):
            start = hour * 3600.0 + rng.random() * 3600.0
            duration = 60.0 + rng.random() * 120.0
            factor = 3.0 + rng.random() * 3.0
            bi = min(int(rng.random() * len(self._brands)), len(self._brands) - 1)
            mood = "crisis" if rng.random() < 0.5 else "viral"
            burst = Burst(start, start + duration, round(factor, 3), self._brands[bi], mood)
            found.append((burst, bi))
        if len(self._bursts) > 512:
            self._bursts.clear()
        result = tuple(found)
        self._bursts[hour] = result
        return result

    def _active(self, ts: float) -> tuple[Burst, int] | None:
        for item in self._scripted:  # a scripted burst wins over random ones
            if item[0].start <= ts < item[0].end:
                return item
        hour = int(ts // 3600)
        best: tuple[Burst, int] | None = None
        for h in (hour - 1, hour):
            for item in self._hour_bursts(h):
                burst = item[0]
                if burst.start <= ts < burst.end and (
                    best is None or burst.factor > best[0].factor
                ):
                    best = item
        return best

    def _snapshots(self, ts: float, out: list[Event], limit: int) -> None:
        rnd = self._rng.random
        nplat = len(SOCIAL_PLATFORMS)
        due = self._snap_due
        for idx, when in enumerate(due):
            if when > ts or len(out) >= limit:
                continue
            bi, pi = divmod(idx, nplat)
            counts = self._fcount[bi]
            counts[pi] = max(0, counts[pi] + int((rnd() - 0.35) * counts[pi] * 0.0002))
            out.append(
                {
                    "id": f"{self._prefix}{next(self._ids)}",
                    "ts": ts - rnd(),
                    "brand": self._brands[bi],
                    "kind": "followers",
                    "platform": SOCIAL_PLATFORMS[pi],
                    "value": counts[pi],
                }
            )
            due[idx] = ts + 240.0 + 120.0 * rnd()
        self._snap_next = min(due)

    def _campaign_variant(
        self, bi: int, p_campaign: float, p_b: float
    ) -> tuple[str | None, str | None]:
        rnd = self._rng.random
        if rnd() >= p_campaign:
            return None, None
        campaigns = self._campaigns[bi]
        return campaigns[int(rnd() * len(campaigns))], "b" if rnd() < p_b else "a"

    def _platform(self, profile: str) -> int:
        bounds, total = self._pw[profile]
        return bisect_right(bounds, self._rng.random() * total)

    def _base(self, bi: int, t: float, kind: str, platform: str) -> Event:
        return {
            "id": f"{self._prefix}{next(self._ids)}",
            "ts": t,
            "brand": self._brands[bi],
            "kind": kind,
            "platform": platform,
        }

    def _person(self, k: int) -> tuple[Event, int]:
        """Author ``k`` (stable attributes for a given seed) and the language index it uses."""
        h = ((k + self._salt) * _GOLD) & _MASK
        loc = (h >> 40) & 1023
        author = {
            "id": f"u{k}",
            "followers": self._followers_tab[h >> 52],
            "location": self._loc_code[loc],
            "age": self._age[(h >> 28) & 1023],
            "gender": self._gender[(h >> 20) & 255],
        }
        return author, self._loc_lang[loc]

    def _author(self, bi: int) -> tuple[Event, int]:
        return self._person(bi * _POOL_STEP + int(_POOL * self._rng.random() ** 2.5))

    def _viewer(self, bi: int) -> Event:
        k = _VIEWER_BASE + bi * _VIEWER_STEP + int(_VIEWER_POOL * self._rng.random() ** 1.6)
        return self._person(k)[0]

    def _recent_post(self, bi: int, pi: int) -> _Post:
        ring = self._rings[bi][pi]
        return ring[-1 - int(len(ring) * self._rng.random() ** 2)]

    def _text(self, ev: Event, table: _Texts, bi: int, lang: int, pol: int) -> None:
        rnd = self._rng.random
        if rnd() < 0.25:
            lang = 0  # plenty of people write in English anyway
        variants = table[bi][lang][pol]
        text, tags = variants[int(rnd() * len(variants))]
        ev["text"] = text
        if rnd() < 0.85:
            ev["lang"] = LANGUAGES[lang]
        if rnd() < 0.7:
            if pol == 2:
                ev["sentiment"] = round(0.3 + 0.65 * rnd(), 2)
            elif pol == 0:
                ev["sentiment"] = -round(0.3 + 0.65 * rnd(), 2)
            else:
                ev["sentiment"] = round(0.08 * rnd() - 0.04, 2)
        if tags and rnd() < 0.4:
            ev["hashtags"] = list(tags)

    def _polarity_index(self, bi: int, mood: int) -> int:
        return bisect_right(self._pol_bounds[bi][mood], self._rng.random())

    def _engagement(
        self, out: list[Event], bi: int, t: float, kind: str, profile: str, p_parent: float
    ) -> Event:
        pi = self._platform(profile)
        ev = self._base(bi, t, kind, SOCIAL_PLATFORMS[pi])
        post_id, campaign, variant = self._recent_post(bi, pi)
        if self._rng.random() < p_parent:
            ev["parent_id"] = post_id
        if campaign is not None:
            ev["campaign"] = campaign
            ev["variant"] = variant
        out.append(ev)
        return ev

    # ---------------------------------------------------------------------- kind makers

    def _impression(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._engagement(out, bi, t, "impression", "general", 0.0)
        if self._rng.random() < 0.55:
            ev["author"] = self._viewer(bi)
        else:
            ev["count"] = self._agg_counts[int(self._rng.random() * _TABLE)]

    def _view(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._engagement(out, bi, t, "view", "video", 0.8)
        if self._rng.random() < 0.85:
            ev["author"] = self._viewer(bi)
        else:
            ev["count"] = self._small_counts[int(self._rng.random() * _TABLE)]

    def _like(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._engagement(out, bi, t, "like", "general", 0.95)
        if self._rng.random() < 0.1:
            ev["count"] = self._small_counts[int(self._rng.random() * _TABLE)]

    def _reaction_ev(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._engagement(out, bi, t, "reaction", "reaction", 0.95)
        ev["reaction"] = self._reaction[mood][int(self._rng.random() * _TABLE)]

    def _click(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        self._engagement(out, bi, t, "click", "general", 0.6)

    def _save(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        self._engagement(out, bi, t, "save", "save", 0.95)

    def _share(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._engagement(out, bi, t, "share", "general", 0.95)
        ev["author"] = self._author(bi)[0]

    def _comment(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._engagement(out, bi, t, "comment", "general", 1.0)
        author, lang = self._author(bi)
        ev["author"] = author
        self._text(ev, self._voice, bi, lang, self._polarity_index(bi, mood))

    def _mention(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._base(bi, t, "mention", SOCIAL_PLATFORMS[self._platform("voice")])
        author, lang = self._author(bi)
        ev["author"] = author
        if self._rng.random() < 0.25:
            campaigns = self._campaigns[bi]
            ev["campaign"] = campaigns[int(self._rng.random() * len(campaigns))]
        self._text(ev, self._voice, bi, lang, self._polarity_index(bi, mood))
        out.append(ev)

    def _service_request(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._base(bi, t, "service_request", SOCIAL_PLATFORMS[self._platform("voice")])
        author, lang = self._author(bi)
        ev["author"] = author
        if mood == _MOOD_CRISIS:
            pol = 0 if self._rng.random() < 0.9 else 1
        else:
            bounds, total = self._service_pick
            pol = bisect_right(bounds, self._rng.random() * total)
        self._text(ev, self._service, bi, lang, pol)
        out.append(ev)

    def _post(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        rnd = self._rng.random
        pi = self._platform("general")
        ev = self._base(bi, t, "post", SOCIAL_PLATFORMS[pi])
        campaign, variant = self._campaign_variant(bi, 0.7, 0.5)
        if campaign is not None:
            ev["campaign"] = campaign
            ev["variant"] = variant
        lang = 0 if rnd() < 0.5 else 1 + int(rnd() * (len(LANGUAGES) - 1))
        self._text(ev, self._posts, bi, lang, 2 if rnd() < 0.6 else 1)
        ring = self._rings[bi][pi]
        ring.append((ev["id"], campaign, variant))
        if len(ring) > _RING:
            del ring[0]
        out.append(ev)

    def _follow(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        pi = self._platform("general")
        ev = self._base(bi, t, "follow", SOCIAL_PLATFORMS[pi])
        ev["author"] = self._author(bi)[0]
        self._fcount[bi][pi] += 1
        out.append(ev)

    def _unfollow(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        pi = self._platform("general")
        ev = self._base(bi, t, "unfollow", SOCIAL_PLATFORMS[pi])
        ev["author"] = self._author(bi)[0]
        self._fcount[bi][pi] = max(0, self._fcount[bi][pi] - 1)
        out.append(ev)

    def _visit(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        rnd = self._rng.random
        pi = self._platform("general")
        ev = self._base(bi, t, "visit", "web")
        session = f"{self._sprefix}{next(self._sessions)}"
        ev["session"] = session
        ev["referrer"] = SOCIAL_PLATFORMS[pi]
        k = _VIEWER_BASE + bi * _VIEWER_STEP + int(_VISITOR_POOL * rnd() ** 2.2)
        author = self._person(k)[0]
        ev["author"] = author
        _, campaign, variant = self._recent_post(bi, pi)
        if campaign is not None and rnd() < 0.7:
            ev["campaign"] = campaign
            ev["variant"] = variant
        bounced = rnd() < 0.4
        table = self._bounce_stay if bounced else self._stay
        ev["value"] = table[int(rnd() * _TABLE)]
        out.append(ev)
        if bounced:
            bounce = self._base(bi, t, "bounce", "web")
            bounce["session"] = session
            bounce["author"] = dict(author)
            if "campaign" in ev:
                bounce["campaign"] = ev["campaign"]
                bounce["variant"] = ev["variant"]
            out.append(bounce)

    def _outcome(self, out: list[Event], bi: int, t: float, kind: str, p_crm: float) -> Event:
        """A lead or conversion, attributed to a recent post (its campaign and variant).

        An outcome attributed to a variant-a post is re-attributed once with probability
        ``_A_PENALTY``, so variant b converts about 15 % better per click.
        """
        rnd = self._rng.random
        pi = self._platform("general")
        _, campaign, variant = self._recent_post(bi, pi)
        if variant == "a" and rnd() < _A_PENALTY:
            pi = self._platform("general")
            _, campaign, variant = self._recent_post(bi, pi)
        platform = "crm" if rnd() < p_crm else SOCIAL_PLATFORMS[pi]
        ev = self._base(bi, t, kind, platform)
        if campaign is not None:
            ev["campaign"] = campaign
            ev["variant"] = variant
        out.append(ev)
        return ev

    def _lead(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._outcome(out, bi, t, "lead", 0.4)
        if self._rng.random() < 0.4:
            ev["value"] = self._lead_value[int(self._rng.random() * _TABLE)]
            ev["currency"] = self._currency[bi]

    def _conversion(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._outcome(out, bi, t, "conversion", 0.35)
        ev["value"] = self._revenue[int(self._rng.random() * _TABLE)]
        ev["currency"] = self._currency[bi]

    def _ad_spend(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        ev = self._base(bi, t, "ad_spend", "ads")
        campaign, variant = self._campaign_variant(bi, 0.95, 0.5)
        if campaign is not None:
            ev["campaign"] = campaign
            ev["variant"] = variant
        ev["value"] = self._spend[int(self._rng.random() * _TABLE)]
        ev["currency"] = self._currency[bi]
        out.append(ev)

    def _survey(self, out: list[Event], bi: int, t: float, mood: int) -> None:
        rnd = self._rng.random
        ev = self._base(bi, t, "survey", "survey")
        if rnd() < 0.6:
            ev["survey"] = "csat"
            ev["score"] = self._csat[int(rnd() * _TABLE)]
        else:
            ev["survey"] = "nps"
            ev["score"] = self._nps[int(rnd() * _TABLE)]
        if rnd() < 0.5:
            ev["author"] = self._author(bi)[0]
        out.append(ev)


def _throughput(total: int = 300_000, batch: int = 1000) -> tuple[float, Event]:
    stream = SyntheticStream(seed=0, brands=8)
    ts = 1_750_000_000.0
    sample: Event = {}
    start = time.perf_counter()
    done = 0
    while done < total:
        evs = stream.events(ts, batch)
        done += len(evs)
        ts += 1.0
        sample = evs[0]
    return done / (time.perf_counter() - start), sample


if __name__ == "__main__":
    rate, example = _throughput()
    print(f"SyntheticStream.events: {rate:,.0f} events/s on one core")
    print(f"example: {example}")
