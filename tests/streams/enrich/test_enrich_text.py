"""Cleaning, folding, hashtags and the lexicon format of the enrichment stage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialpulse.streams.contract import MAX_HASHTAGS, MAX_LABEL
from socialpulse.streams.enrich.hashtags import extract_hashtags
from socialpulse.streams.enrich.lexicon import LexiconError, parse_lexicon
from socialpulse.streams.enrich.text import clean_text, match_form, words


def test_clean_text_drops_surrogates_nul_controls_and_invisible_marks() -> None:
    dirty = "a\x00b\ud800c\udfffd\x07e\u200bf\u202eg\ufeffh\u00adi"
    assert clean_text(dirty) == "abcdefghi"


def test_clean_text_composes_decomposed_vietnamese_and_collapses_space() -> None:
    decomposed = "Di\u0323ch vu\u0323   qua\u0301\n\tte\u0323\u0302"
    assert clean_text(decomposed) == "Dịch vụ quá tệ"


def test_clean_text_keeps_persian_zwnj_and_caps_length() -> None:
    assert clean_text("می\u200cخرم") == "می\u200cخرم"
    assert len(clean_text("x" * 50_000, 10_000)) == 10_000


@settings(max_examples=300, derandomize=True)
@given(st.text(alphabet=st.characters(codec=None), max_size=200))
def test_clean_text_output_is_always_encodable(text: str) -> None:
    out = clean_text(text)
    out.encode("utf-8")  # no lone surrogate survives
    assert "\x00" not in out


def test_match_form_folds_arabic_script_variants_and_elongation() -> None:
    assert match_form("الخدمة سيئة") == match_form("الخدمه سيئه")
    assert match_form("كيفية") == match_form("کیفیه")
    assert match_form("نمی\u200cخرم") == "نمیخرم"
    assert match_form("عالیییی") == "عالی"
    assert match_form("goooood") == "good"
    assert match_form("مُمتاز") == match_form("ممتاز")  # harakat


def test_words_keep_apostrophes_and_marks() -> None:
    assert words("don't stop, l'app 5 stars") == ["don't", "stop", "l'app", "5", "stars"]


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("Love the new #iPhone16 and #summer_sale!", ["iPhone16", "summer_sale"]),
        ("#Love #love #LOVE", ["Love"]),
        ("#1 fan, issue #42", []),
        ("C# and F# are languages", []),
        ("see https://x.com/page#section and &#39;", []),
        ("خیلی بد بود #افتضاح #نارضایتی", ["افتضاح", "نارضایتی"]),
        ("#خدمة_سيئة جدا", ["خدمة_سيئة"]),
        ("#tuyệtvời quá", ["tuyệtvời"]),
        ("full-width ＃ハッシュ", ["ハッシュ"]),
        ("no tags here", []),
    ],
)
def test_extract_hashtags(text: str, tags: list[str]) -> None:
    assert extract_hashtags(text) == tags


def test_extract_hashtags_respects_contract_limits() -> None:
    text = " ".join(f"#tag{i}" for i in range(MAX_HASHTAGS + 20)) + " #" + "a" * 500
    tags = extract_hashtags(text)
    assert len(tags) == MAX_HASHTAGS
    assert all(len(t) <= MAX_LABEL for t in tags)


def test_lexicon_format_sections_stems_phrases_settings() -> None:
    lex = parse_lexicon(
        "xx",
        "# comment\n@negate_after 2\n@clitics al w\n[negators]\nnot\nkein*\n"
        "[boosters]\nvery 0.3\n[contrast]\nbut\n[words]\ngood 2\nawesom* 3\nnot bad 1.2\n",
    )
    assert lex.negate_after == 2
    assert lex.valence("good") == 2.0
    assert lex.valence("awesomeness") == 3.0
    assert lex.valence("awe") == 0.0
    assert lex.valence("algood") == 2.0  # clitic off
    assert lex.is_negator("keine") and lex.is_negator("not")
    assert lex.phrases["not"][0] == (("not", "bad"), 1.2, False)
    assert lex.boosters == {"very": 0.3}
    assert lex.contrast == {"but"}


@pytest.mark.parametrize(
    "text",
    ["[words]\ngood lots\n", "good 2\n", "[nouns]\n", "@frobnicate 3\n", "[words]\n3\n"],
)
def test_lexicon_errors_name_the_line(text: str) -> None:
    with pytest.raises(LexiconError, match=r"<text>:\d"):
        parse_lexicon("xx", text)
