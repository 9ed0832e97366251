"""The sentiment rules, the language detector and the enrichment of events."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from socialpulse.streams.enrich.enricher import Enricher, primary_tag
from socialpulse.streams.enrich.language import LanguageDetector, ModelMissing
from socialpulse.streams.enrich.sentiment import SentimentScorer

SCORER = SentimentScorer()


def score(text: str, lang: str) -> float:
    return SCORER.score(text, lang).sentiment


def test_seven_languages_have_lexicons() -> None:
    assert {"en", "fa", "ar", "pl", "vi", "es", "de"} <= SCORER.languages


@pytest.mark.parametrize(
    ("positive", "negated", "lang"),
    [
        ("the support was good", "the support was not good", "en"),
        ("polecam", "nie polecam", "pl"),
        ("me gusta", "no me gusta", "es"),
        ("das ist gut", "das ist nicht gut", "de"),
        ("das gefällt mir", "das gefällt mir nicht", "de"),  # negator after the verb
        ("راضی هستم", "راضی نیستم", "fa"),  # verb-final negation
        ("أنصح به", "لا أنصح به", "ar"),
        ("tôi hài lòng", "tôi không hài lòng", "vi"),
    ],
)
def test_negation_flips_the_sign(positive: str, negated: str, lang: str) -> None:
    assert score(positive, lang) > 0.05
    assert score(negated, lang) < -0.05


def test_negation_stops_at_the_clause_boundary() -> None:
    assert score("no funciona nada, una mierda", "es") < -0.5


def test_boosters_raise_and_contrast_weighs_the_second_clause() -> None:
    assert score("very good", "en") > score("good", "en") > 0
    assert score("bardzo dobrze", "pl") > score("dobrze", "pl")
    assert score("tệ quá", "vi") < score("tệ", "vi") < 0
    assert score("the food was good but the service was terrible", "en") < 0
    assert score("było drogo, ale jedzenie świetne", "pl") > 0


def test_stems_cover_inflection_and_clitics_come_off() -> None:
    assert score("świetna", "pl") > 0 and score("świetnie", "pl") > 0
    assert score("enttäuschend", "de") < 0 and score("enttäuscht", "de") < 0
    assert score("والخدمة ممتازة", "ar") > 0
    assert score("بالفشل", "ar") < 0


def test_phrases_beat_their_words() -> None:
    assert score("no complaints", "en") > 0
    assert score("never again", "en") < 0
    assert score("خسته نباشید", "fa") > 0  # "don't be tired": a thank-you
    assert score("ما أروع هذا", "ar") > 0  # exclamative, not a negation


def test_emoji_and_emoticons_count_in_every_language_and_unknown_ones() -> None:
    assert score("🤬🤬", "fr") < -0.3
    assert score("merci :)", "fr") > 0.3
    assert SCORER.score("merci :)", "fr").supported is False
    assert score("❤\ufe0f", "und") > 0  # variation selector aside


def test_the_brand_name_is_not_scored() -> None:
    assert score("Best Buy", "en") > 0.3
    assert SCORER.score("Best Buy delivered my TV", "en", brand="best buy").sentiment == 0
    broken = SCORER.score("Happy Socks shipped a broken pair", "en", brand="Happy Socks")
    assert broken.sentiment < 0
    ev: dict[str, Any] = {"text": "Đã mua ở Điện Máy Xịn", "brand": "Điện Máy Xịn", "lang": "vi"}
    Enricher().enrich([ev])
    assert ev["sentiment"] == 0


def test_exclamation_marks_add_emphasis_not_sign() -> None:
    assert score("great!!!", "en") > score("great", "en") > 0
    assert score("arrived!!!", "en") == score("arrived", "en") == 0  # nothing to emphasise


def test_scores_stay_in_range_on_long_extreme_text() -> None:
    text = "awful terrible horrible worst 😡 " * 500
    assert -1.0 <= score(text, "en") < -0.99


def test_language_detection_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the language model tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    detector = LanguageDetector()
    assert detector.detect("Dịch vụ quá tệ, tôi rất thất vọng")[0] == "vi"
    assert detector.detect("این محصول واقعا عالی بود")[0] == "fa"
    assert detector.detect("الخدمة سيئة جدا")[0] == "ar"


def test_text_without_words_is_undetermined() -> None:
    detector = LanguageDetector()
    assert detector.detect("https://x.co/a @brand #123 😡 42") == ("und", 0.0)
    assert not LanguageDetector().loaded  # nothing loads until a text has words


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="no language model at"):
        LanguageDetector(tmp_path / "nope.ftz").detect("hello world")


@pytest.mark.parametrize(
    ("tag", "primary"), [("fa-IR", "fa"), ("pt_BR", "pt"), ("EN", "en"), ("zh-Hant-TW", "zh")]
)
def test_primary_tag(tag: str, primary: str) -> None:
    assert primary_tag(tag) == primary


# -- the enrichment of events ----------------------------------------------------------------


class CountingScorer(SentimentScorer):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def score(self, text: str, lang: str) -> Any:
        self.calls += 1
        return super().score(text, lang)


def test_producer_fields_are_kept() -> None:
    scorer = CountingScorer()
    enricher = Enricher(scorer=scorer)
    ev = {"text": "terrible #awful", "sentiment": 0.9, "lang": "en", "hashtags": ["mine"]}
    report = enricher.enrich([ev])
    assert ev == {"text": "terrible #awful", "sentiment": 0.9, "lang": "en", "hashtags": ["mine"]}
    assert scorer.calls == 0 and report.texts == 0


def test_given_lang_is_used_for_scoring_and_not_replaced() -> None:
    ev = {"text": "nie polecam", "lang": "pl-PL"}
    Enricher().enrich([ev])
    assert ev["lang"] == "pl-PL" and ev["sentiment"] < 0


def test_missing_fields_are_filled_and_reported() -> None:
    ev: dict[str, Any] = {"text": "Świetna obsługa, polecam! #super"}
    report = Enricher().enrich([ev])
    assert ev["lang"] == "pl" and ev["sentiment"] > 0.5 and ev["hashtags"] == ["super"]
    assert report.texts == 1 and len(report.seconds) == 1
    assert report.scored == {("pl", "lexicon"): 1}
    assert report.filled == {"lang": 1, "sentiment": 1, "hashtags": 1}


def test_producer_sentiment_kept_while_lang_and_hashtags_are_filled() -> None:
    ev: dict[str, Any] = {"text": "Me encanta #verano", "sentiment": -0.2}
    report = Enricher().enrich([ev])
    assert ev["sentiment"] == -0.2 and ev["lang"] == "es" and ev["hashtags"] == ["verano"]
    assert not report.scored


def test_events_without_text_are_not_touched_and_load_nothing() -> None:
    scorer = CountingScorer()
    detector = LanguageDetector()
    events = [{"kind": "impression", "brand": "acme"} for _ in range(10_000)]
    events += [{"kind": "like", "text": ""}]
    before = [dict(ev) for ev in events]
    report = Enricher(detector, scorer).enrich(events)
    assert events == before
    assert scorer.calls == 0 and not detector.loaded and report.texts == 0


def test_dirty_text_is_cleaned_before_any_library_sees_it() -> None:
    ev: dict[str, Any] = {"text": "awful\x00 service\ud800 \u202e😡"}
    Enricher().enrich([ev])
    assert ev["sentiment"] < -0.5
    assert ev["text"] == "awful\x00 service\ud800 \u202e😡"  # the producer's text is kept
