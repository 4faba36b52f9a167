"""Word splitting of raw text in every script (xlt.data.segment); expectations worked out by hand.

Tests of the fallback rules use ``segmenter="none"`` and pass without the optional segmenters;
tests of a segmenter skip when its package (``pip install 'xlt[segment]'``) is missing.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings

import pytest

from xlt.data import segment
from xlt.data.langs import UnknownLanguageError
from xlt.data.segment import (
    SEGMENTERS,
    SegmenterWarning,
    available_segmenters,
    is_separator,
    split_words,
    word_spans,
)
from xlt.data.wordalign import WORD_TOKENIZERS, read_pairs

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # hypothesis is in the `test` extra; without it the property tests skip
    given = None


def _none(text: str, lang: str | None = None) -> list[str]:
    return split_words(text, lang, segmenter="none")


def _stripped(text: str) -> str:
    return "".join(ch for ch in text if not is_separator(ch))


@pytest.fixture
def fresh_segmenters(monkeypatch):
    """Let a test replace entries of SEGMENTERS; loaded tools and warnings are forgotten around it."""
    segment._segment_fn.cache_clear()
    monkeypatch.setattr(segment, "_WARNED", set())
    yield SEGMENTERS
    segment._segment_fn.cache_clear()


def _fake(monkeypatch, code: str, load) -> None:
    monkeypatch.setitem(SEGMENTERS, code, dataclasses.replace(SEGMENTERS[code], load=load))


# --------------------------------------------------------------------------- basic rules
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It costs $3.50, ok?", ["It", "costs", "$", "3.50", ",", "ok", "?"]),
        ("3.5", ["3.5"]),
        ("1,000 people at 10:30, v1.2.3", ["1,000", "people", "at", "10:30", ",", "v1.2.3"]),
        # signs: a number's sign unless it follows a letter or digit (range, hyphenated word)
        ("-4 (-4) 3-4 x-4 +33 −2", ["-4", "(", "-4", ")", "3", "-", "4", "x", "-", "4", "+33", "−2"]),
        # a separator needs a digit on both sides
        ("3. 5 .5 end.", ["3", ".", "5", ".", "5", "end", "."]),
        ("Wait... what?! Ok -- fine))", ["Wait", "...", "what", "?", "!", "Ok", "--", "fine", ")", ")"]),
        ("\"Hi,\" she said.", ['"', "Hi", ",", '"', "she", "said", "."]),
        ("it's state-of-the-art", ["it", "'", "s", "state", "-", "of", "-", "the", "-", "art"]),
        ("snake_case 3km Straße", ["snake_case", "3km", "Straße"]),
        ("Привет, мир!", ["Привет", ",", "мир", "!"]),
        ("٣٫٥ كم", ["٣٫٥", "كم"]),  # Arabic-Indic digits with the Arabic decimal separator
        ("Tokyo 東京 2020", ["Tokyo", "東", "京", "2020"]),
        ("Tokyo東京2020", ["Tokyo", "東", "京", "2020"]),
        ("私は学生です。", ["私", "は", "学", "生", "で", "す", "。"]),
        ("", []),
        (" \t\n\u3000\u00a0", []),
    ],
)
def test_fallback_rules(text, expected):
    assert _none(text) == expected


def test_urls_and_emails_stay_whole():
    assert _none("see (www.example.org/a?b=1). Mail a.b@x.co.uk, or https://x.y/z.") == [
        "see", "(", "www.example.org/a?b=1", ")", ".", "Mail", "a.b@x.co.uk", ",", "or",
        "https://x.y/z", "."]
    # a ")" closing a "(" of the URL stays
    assert _none("(https://en.wikipedia.org/wiki/Rome_(city))") == [
        "(", "https://en.wikipedia.org/wiki/Rome_(city)", ")"]
    # not URLs: "www." alone, a URL glued to a word before it (a repeated "/" is one word)
    assert _none("www. xhttp://a.b") == ["www", ".", "xhttp", ":", "//", "a", ".", "b"]


def test_invisible_characters():
    # zero width space separates (and is dropped); ZWNJ/ZWJ, combining marks stay in the word
    assert _none("a\u200bb\ufeffc") == ["a", "b", "c"]
    assert _none("می\u200cخواهم") == ["می\u200cخواهم"]
    assert _none("cafe\u0301!") == ["cafe\u0301", "!"]
    assert _none("\u0301x") == ["\u0301x"]
    # emoji: skin tone, ZWJ sequence, flag (two regional indicators), then a second flag
    assert _none("👍🏽 👨\u200d👩\u200d👧 🇯🇵🇫🇷!") == ["👍🏽", "👨\u200d👩\u200d👧", "🇯🇵", "🇫🇷", "!"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Thai: a letter with its vowel signs and tone marks; เ/แ/โ/ใ/ไ join the letter after,
        # ะ/า/ำ the cluster before
        ("ผมชอบกินข้าวผัด", ["ผ", "ม", "ช", "อ", "บ", "กิ", "น", "ข้า", "ว", "ผั", "ด"]),
        ("เกาะ ไม่", ["เกาะ", "ไม่"]),
        ("ราคา3.5บาท", ["รา", "คา", "3.5", "บา", "ท"]),
        # Lao: the same rule
        ("ເຮືອນ", ["ເຮື", "ອ", "ນ"]),
        # Khmer: a subscript consonant (COENG + letter) stays with its base
        ("ខ្មែរ", ["ខ្មែ", "រ"]),
        ("ខ្ញុំ\u200bស្រលាញ់", ["ខ្ញុំ", "ស្រ", "លា", "ញ់"]),
        # Burmese: syllables (a stacked or asat-killed consonant does not start one)
        ("မြန်မာစာ", ["မြန်", "မာ", "စာ"]),
        ("လေ့လာနေသည်။", ["လေ့", "လာ", "နေ", "သည်", "။"]),
    ],
)
def test_fallback_clusters_and_syllables(text, expected):
    assert _none(text) == expected


def test_burmese_is_the_same_with_segmenters():
    assert split_words("မြန်မာစာ") == ["မြန်", "မာ", "စာ"]


def test_errors():
    with pytest.raises(ValueError, match="unknown segmenter 'jieba'"):
        split_words("a", segmenter="jieba")
    with pytest.raises(UnknownLanguageError):
        split_words("a b", "qaa")
    with pytest.raises(TypeError):
        split_words(b"a b")  # type: ignore[arg-type]


def test_word_spans():
    text = " It costs\u200b$3.50 , 東京 "
    words = _none(text)
    spans = word_spans(text, words)
    assert [text[a:b] for a, b in spans] == words
    assert spans[:3] == [(1, 3), (4, 9), (10, 11)]
    with pytest.raises(ValueError, match="'costs'"):
        word_spans(text, ["costs"])


# --------------------------------------------------------------------------- dispatch and warnings
def test_lang_or_text_chooses_chinese_or_japanese(monkeypatch, fresh_segmenters):
    _fake(monkeypatch, "zho", lambda: lambda run: [run])  # Chinese: the run whole
    _fake(monkeypatch, "jpn", lambda: lambda run: [run[:-1], run[-1:]] if len(run) > 1 else [run])
    assert split_words("東京大学", "zh") == ["東京大学"]
    assert split_words("東京大学", "zho_Hant") == ["東京大学"]
    assert split_words("東京大学", "yue") == ["東京大学"]
    assert split_words("東京大学", "ja") == ["東京大", "学"]
    assert split_words("東京大学", "jpn_Jpan") == ["東京大", "学"]
    # no language, or one that does not decide: kana anywhere in the text means Japanese
    assert split_words("東京大学") == ["東京大学"]
    assert split_words("東京大学", "ko") == ["東京大学"]
    assert split_words("東京大学へ") == ["東京大学", "へ"]
    assert split_words("東京 です", "en") == ["東", "京", "で", "す"]
    assert split_words("東京大学", "ja", segmenter="none") == ["東", "京", "大", "学"]


def test_missing_tool_warns_once_and_falls_back(monkeypatch, fresh_segmenters):
    def missing():
        raise ImportError("No module named 'pythainlp'")

    _fake(monkeypatch, "tha", missing)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # segmenter="none" never tries the tool
        assert split_words("ไม่", segmenter="none") == ["ไม่"]
    with pytest.warns(SegmenterWarning, match=r"pythainlp is not installed.*pip install 'xlt\[segment\]'"):
        assert split_words("ผมชอบ") == ["ผ", "ม", "ช", "อ", "บ"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert split_words("ไม่", "th") == ["ไม่"]  # no second warning


def test_tool_that_fails_to_load_or_changes_the_text(monkeypatch, fresh_segmenters):
    def broken():
        raise RuntimeError("no dictionary")

    _fake(monkeypatch, "jpn", broken)
    with pytest.warns(SegmenterWarning, match=r"Japanese.*failed to load \(no dictionary\)"):
        assert split_words("です", "ja") == ["で", "す"]
    _fake(monkeypatch, "zho", lambda: lambda run: ["x"])  # output that does not join back
    assert split_words("我们", "zh") == ["我", "们"]

    def crashes(run):
        raise IndexError(run)

    _fake(monkeypatch, "khm", lambda: crashes)
    assert split_words("ខ្មែរ") == ["ខ្មែ", "រ"]


def test_available_segmenters():
    avail = available_segmenters()
    assert set(avail) == set(SEGMENTERS) == {"tha", "zho", "jpn", "khm", "lao", "mya"}
    assert avail["mya"] is True
    assert avail["zho"] is (importlib.util.find_spec("jieba") is not None)
    for code, seg in SEGMENTERS.items():
        assert seg.lang == code and seg.tool and seg.fallback_rule


def test_auto_word_tokenizer(tmp_path):
    assert WORD_TOKENIZERS["auto"] is split_words
    f = tmp_path / "pairs.txt"
    f.write_text("It costs $3.50. ||| Es kostet 3,50 $.\n", encoding="utf-8")
    data = read_pairs(f, tokenizer="auto")
    assert data.src == [["It", "costs", "$", "3.50", "."]]
    assert data.tgt == [["Es", "kostet", "3,50", "$", "."]]


# --------------------------------------------------------------------------- real segmenters
def test_thai_pythainlp():
    pytest.importorskip("pythainlp")
    words = split_words("ผมชอบกินข้าวผัด", "th")
    # I / like / eat / fried rice (newmm may or may not keep ข้าวผัด as one word)
    assert words[:3] == ["ผม", "ชอบ", "กิน"] and "".join(words[3:]) == "ข้าวผัด"
    assert split_words("ราคา3.5บาท") == ["ราคา", "3.5", "บาท"]


def test_chinese_jieba():
    pytest.importorskip("jieba")
    assert split_words("我喜欢吃饭。", "zh") == ["我", "喜欢", "吃饭", "。"]
    assert split_words("Tokyo 東京 2020") == ["Tokyo", "東京", "2020"]


def test_japanese_fugashi():
    pytest.importorskip("fugashi")
    pytest.importorskip("unidic_lite")
    assert split_words("私は学生です。", "ja") == ["私", "は", "学生", "です", "。"]
    assert split_words("東京タワーは333メートルです") == ["東京", "タワー", "は", "333", "メートル", "です"]


def test_khmer_khmer_nltk():
    pytest.importorskip("khmernltk")
    # I / love / country / Cambodia
    assert split_words("ខ្ញុំស្រលាញ់ប្រទេសកម្ពុជា", "km") == ["ខ្ញុំ", "ស្រលាញ់", "ប្រទេស", "កម្ពុជា"]


def test_lao_laonlp():
    pytest.importorskip("laonlp")
    # Lao language / in / the present
    assert split_words("ພາສາລາວໃນປັດຈຸບັນ", "lo") == ["ພາສາລາວ", "ໃນ", "ປັດຈຸບັນ"]


# --------------------------------------------------------------------------- properties
needs_hypothesis = pytest.mark.skipif(given is None, reason="hypothesis is not installed")

if given is not None:
    _PIECES = st.sampled_from(
        list("ผมชอบกินข้าวเกาะไม่ๆฯ我喜欢吃饭东京私は学生ですタワー。、 abcXY019.,:-+!?()\"'")
        + list("ខ្មែរុំພາສາລາວໃນမြန်မာ\u200b\u200c\u200d\u0301\t\n\u3000")
        + ["3.5", "www.x.org", "a@b.co", "http://x.y/(z).", "🇯🇵", "👨\u200d👩", "...", "-4", "٣٫٥"])
    _MIXED = st.lists(_PIECES, max_size=30).map("".join)

    @needs_hypothesis
    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.text(), _MIXED))
    def test_property_fallback(text):
        words = _none(text)
        assert "".join(words) == _stripped(text)
        assert all(w and not any(is_separator(ch) for ch in w) for w in words)
        assert [text[a:b] for a, b in word_spans(text, words)] == words
        # splitting the words again, joined by spaces, changes nothing
        assert _none(" ".join(words)) == words

    @needs_hypothesis
    @settings(max_examples=150, deadline=None)
    @given(_MIXED)
    def test_property_with_segmenters(text):
        words = split_words(text)
        assert "".join(words) == _stripped(text) and all(words)
else:  # pragma: no cover
    @needs_hypothesis
    def test_property_fallback():
        pass


def test_fallback_keeps_the_character_after_a_zwj_in_thai_runs():
    """A ZWJ glues the next character to its cluster in Thai runs too, so splitting the words again
    gives them back (found by test_property_fallback: a digit glued after ก + ZWJ, then a following vowel)."""
    words = _none("ก\u200d0ะ")
    assert words == ["ก\u200d0ะ"]
    assert _none(" ".join(words)) == words
