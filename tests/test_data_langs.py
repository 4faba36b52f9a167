"""Language-code normalisation and matching; every expectation is worked out by hand."""

from __future__ import annotations

import pytest

from xlt.data.langs import (
    AmbiguousLanguageError,
    UnknownLanguageError,
    describe_codes,
    iso639_3,
    language_name,
    match_language,
    names_for,
    same_language,
    script_of,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("de", "deu"),
        ("deu", "deu"),
        ("deu_Latn", "deu"),
        ("de-DE", "deu"),
        ("DE", "deu"),
        (" de ", "deu"),
        ("zh", "zho"),
        ("zho_Hans", "zho"),
        ("cmn", "zho"),  # dominant member of the macrolanguage
        ("cmn_Hans", "zho"),
        ("zh-TW", "zho"),
        ("yue_Hant", "yue"),  # Cantonese keeps its own code
        ("ar", "ara"),
        ("arb_Arab", "ara"),
        ("ary_Arab", "ary"),
        ("sw", "swa"),
        ("swh_Latn", "swa"),
        ("fa", "fas"),
        ("pes_Arab", "fas"),
        ("iw", "heb"),  # deprecated alias
        ("he", "heb"),
        ("ja", "jpn"),
        ("jpn_Jpan", "jpn"),
        ("en", "eng"),
    ],
)
def test_iso639_3(code, expected):
    assert iso639_3(code) == expected


@pytest.mark.parametrize("bad", ["xx", "", "english", "qaa", "und", "1234", "x"])
def test_unknown_codes_raise(bad):
    with pytest.raises(UnknownLanguageError) as info:
        iso639_3(bad)
    assert isinstance(info.value, ValueError)
    assert info.value.code == bad


@pytest.mark.parametrize(
    ("code", "script"),
    [
        ("de", None),
        ("deu_Latn", "Latn"),
        ("zho_Hant", "Hant"),
        ("zh-TW", None),  # region only: the script is implied, not stated
        ("sr_cyrl", "Cyrl"),
        ("jpn_Jpan", "Jpan"),
    ],
)
def test_script_of(code, script):
    assert script_of(code) == script


def test_language_name():
    assert language_name("de") == "German"
    assert language_name("deu") == "German"
    assert language_name("zho_Hans") == "Chinese (Simplified)"
    assert language_name("zho_Hant") == "Chinese (Traditional)"
    assert language_name("de-AT") == "German (Austria)"
    with pytest.raises(UnknownLanguageError):
        language_name("xx")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("de", "deu_Latn", True),
        ("zh", "cmn", True),
        ("zho_Hans", "zho_Hant", True),  # same language, other script
        ("zh", "yue", False),
        ("ar", "arb_Arab", True),
        ("ar", "ary_Arab", False),
        ("en", "de", False),
        ("he", "iw", True),
    ],
)
def test_same_language(a, b, same):
    assert same_language(a, b) is same


SIB_LIKE = [
    "arb_Arab",
    "arb_Latn",
    "ary_Arab",
    "deu_Latn",
    "eng_Latn",
    "jpn_Jpan",
    "pes_Arab",
    "prs_Arab",
    "yue_Hant",
    "zho_Hans",
    "zho_Hant",
    "annotated",  # not a language code; must not break matching
]


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("de", "deu_Latn"),
        ("deu", "deu_Latn"),
        ("de-DE", "deu_Latn"),
        ("DEU_LATN", "deu_Latn"),
        ("en", "eng_Latn"),
        ("ja", "jpn_Jpan"),
        ("zh", "zho_Hans"),  # no script asked: the likely one (Hans) wins over Hant
        ("cmn", "zho_Hans"),
        ("zho_Hant", "zho_Hant"),
        ("zh-TW", "zho_Hant"),  # likely script of zh-TW is Hant
        ("ar", "arb_Arab"),  # likely script Arab; ary is another language
        ("arb_Latn", "arb_Latn"),
        ("fa", "pes_Arab"),  # CLDR reads prs as fa-AF: a region, so plain fa prefers pes
        ("prs", "prs_Arab"),
        ("yue", "yue_Hant"),
        ("annotated", "annotated"),  # exact textual match
    ],
)
def test_match_language_flores_codes(requested, expected):
    assert match_language(requested, SIB_LIKE) == expected


def test_match_language_iso1_codes():
    xtreme = ["de", "en", "ja", "zh", "ar"]
    assert match_language("deu_Latn", xtreme) == "de"
    assert match_language("jpn_Jpan", xtreme) == "ja"
    assert match_language("zho_Hant", xtreme) == "zh"  # zh states no script: no conflict
    assert match_language("arb_Arab", xtreme) == "ar"


def test_match_language_script_must_agree_when_both_given():
    with pytest.raises(UnknownLanguageError):
        match_language("zho_Hant", ["zho_Hans", "eng_Latn"])


def test_match_language_unknown_lists_available_with_names():
    with pytest.raises(UnknownLanguageError) as info:
        match_language("fr", ["de", "en"], context="udpos evaluation languages")
    msg = str(info.value)
    assert msg.startswith("udpos evaluation languages: ")
    assert "de (German)" in msg and "en (English)" in msg
    assert info.value.available == ("de", "en")
    assert not isinstance(info.value, AmbiguousLanguageError)


def test_match_language_not_a_code_lists_available():
    with pytest.raises(UnknownLanguageError) as info:
        match_language("xx", ["de"])
    assert "de (German)" in str(info.value)


def test_match_language_ambiguous():
    with pytest.raises(AmbiguousLanguageError) as info:
        match_language("pt", ["pt-BR", "pt-PT", "en"])
    assert set(info.value.candidates) == {"pt-BR", "pt-PT"}
    assert "pt-BR" in str(info.value) and "pt-PT" in str(info.value)
    # an exact request is not ambiguous, and a plain code prefers the plain entry
    assert match_language("pt-pt", ["pt-BR", "pt-PT"]) == "pt-PT"
    assert match_language("de", ["de-AT", "de"]) == "de"


def test_names_and_description():
    assert names_for(["de", "zz_foo"]) == {"de": "German", "zz_foo": "?"}
    assert describe_codes(["de", "en"]) == "de (German), en (English)"
    assert describe_codes([]) == "(none)"


def test_is_distant_follows_family_and_script():
    from xlt.data.langs import is_distant

    # Indo-European in the Latin script: close to English
    assert not any(is_distant(c) for c in ("de", "fra", "es", "pt_Latn", "ro", "nl", "lt"))
    # another family, or another script, or both
    for code in ("fi", "tr", "eu", "zh", "ja", "ko", "ar", "he", "vi", "id", "sw",  # non-IE
                 "ru", "hi", "el", "fa", "ur", "bn"):                              # IE, other script
        assert is_distant(code), code
    # the script compared is the source's: from Russian, Ukrainian (Indo-European, Cyrillic) is close
    assert not is_distant("uk", source="ru") and is_distant("uk")


def test_denote_same_never_raises():
    from xlt.data.langs import denote_same

    assert denote_same("de", "deu_Latn") and denote_same("zh", "cmn")
    assert denote_same("my-folder", "my-folder") and not denote_same("my-folder", "de")
    assert not denote_same("de", "fr")
