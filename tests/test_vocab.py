"""Vocabulary trimming (issue 14): `xlt adapt trim` and :mod:`xlt.adapt.vocab`."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from xlt.adapt.vocab import VocabularyError, trim_vocabulary, unknown_rate
from xlt.cli import main
from xlt.models.features import encode_sentences

pytestmark = pytest.mark.usefixtures("single_torch_thread")

EN = ["the cat sat on the mat", "a big dog is happy", "the small house of the cat", "it is walking to the house"]
OTHER = ["un query passage", "xyz qqq"]


def _cos(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_trim_wordpiece_keeps_what_the_text_uses(tiny):
    encoder, _ = tiny
    trimmed, res = trim_vocabulary(encoder, {"en": EN}, min_sentences=1)
    tok, new = encoder.tokenizer, trimmed.tokenizer
    used = {i for t in EN for i in tok(t)["input_ids"]}
    assert set(res.kept_ids) == used | set(tok.all_special_ids)  # the text's pieces and the specials, no more
    assert len(new) == res.vocab_after == len(res.kept_ids) < len(tok)
    assert trimmed.model.get_input_embeddings().weight.shape[0] == len(res.kept_ids)
    # the same pieces, renumbered, and the same vectors: the model computes what it did
    for t in EN:
        assert new.convert_ids_to_tokens(new(t)["input_ids"]) == tok.convert_ids_to_tokens(tok(t)["input_ids"])
    full = encode_sentences(encoder, EN, progress=False)
    small = encode_sentences(trimmed, EN, progress=False)
    assert np.array_equal(full, small)
    assert encoder.model.get_input_embeddings().weight.shape[0] > len(res.kept_ids)  # the original is untouched
    # text with pieces outside the kept set: unknown pieces are counted
    assert unknown_rate(tok, OTHER) < unknown_rate(new, OTHER)


def test_trim_refuses_too_little_text_and_bpe(tiny):
    encoder, _ = tiny
    with pytest.raises(VocabularyError, match=r"en \(4 sentences\).*at least 10"):
        trim_vocabulary(encoder, {"en": EN}, min_sentences=10)
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(vocab={"a": 0, "b": 1, "ab": 2, "<unk>": 3}, merges=[("a", "b")], unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    from dataclasses import replace

    other = replace(encoder, tokenizer=PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>"))
    with pytest.raises(VocabularyError, match="BPE"):
        trim_vocabulary(other, {"en": ["ab ab", "a b"]}, min_sentences=1)


def test_adapt_trim_command_and_the_warning_outside_the_set(tiny, data, tmp_path, caplog):
    """`xlt adapt trim` writes a model folder that `xlt transfer --model` loads; the report says what
    was kept; a language outside the kept set is warned about, with its unknown-piece share."""
    _, spec = tiny
    text = tmp_path / "en.txt"
    text.write_text("\n".join(EN * 3) + "\n\n", encoding="utf-8")
    out = tmp_path / "trimmed"
    assert main(["adapt", "trim", "--model", spec, "--langs", "en", "--text", f"en={text}", "--min-sentences", "5",
                 "--out", str(out)]) == 0
    rep = json.loads((out / "trim_report.json").read_text(encoding="utf-8"))
    assert rep["text"]["en"]["sentences"] == 12 and rep["text"]["en"]["skipped_empty"] == 1
    assert rep["vocab_after"] < rep["vocab_before"] and rep["parameters_after"] < rep["parameters_before"]
    from xlt.models.loading import load_encoder

    loaded = load_encoder(str(out))
    assert loaded.info["trimmed_for"] == ["en"]
    assert np.allclose(_cos(encode_sentences(load_encoder(spec), EN, progress=False),
                            encode_sentences(loaded, EN, progress=False)), 1.0, atol=1e-6)
    with caplog.at_level(logging.WARNING):
        assert main(["transfer", "--task", "udpos", "--data-dir", str(data.root), "--targets", "de", "--model",
                     str(out), "--epochs", "1", "--no-progress", "--out", str(tmp_path / "run")]) == 0
    assert "de is not among the languages this model's vocabulary was trimmed for (en)" in caplog.text
    run = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    assert set(run["outside_trimmed_vocabulary"]["unknown_percent"]) == {"de"}


def test_adapt_trim_bad_input(tiny, tmp_path, capsys, monkeypatch):
    import xlt.models.loading as loading

    _, spec = tiny
    short = tmp_path / "short.txt"
    short.write_text("one line\n", encoding="utf-8")
    monkeypatch.setattr(loading, "_load_hf", lambda *a, **k: pytest.fail("the model was loaded"))
    cases = [(["--langs", "en", "--text", f"en={short}"], "at least 200 sentences"),
             (["--langs", "qqq-nonsense"], "qqq-nonsense"),
             (["--langs", "en", "--text", f"de={short}"], "not among --langs"),
             (["--langs", "en", "--text", f"en={tmp_path / 'none.txt'}"], "none.txt")]
    for extra, words in cases:
        assert main(["adapt", "trim", "--model", spec, *extra, "--out", str(tmp_path / "o")]) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("xlt: error:") and words in err and err.count("\n") == 1, err


def test_transliteration_pairs_link_each_word_to_its_romanisation():
    pytest.importorskip("uroman")
    from xlt.adapt.translit import TransliterationError, romanize_words, transliteration_pairs

    # Russian by hand: uroman writes Cyrillic letter by letter (привет -> privet, мир -> mir)
    assert romanize_words(["привет", "мир"], "ru") == ["privet", "mir"]
    pairs, skipped = transliteration_pairs(["привет мир", "hello world", "мир"], "ru")
    assert skipped == 1  # the Latin-script sentence
    assert [(p.source, p.target) for p in pairs] == [(["privet", "mir"], ["привет", "мир"]), (["mir"], ["мир"])]
    assert pairs[0].links == {(0, 0), (1, 1)}
    with pytest.raises(TransliterationError, match="non-Latin"):
        transliteration_pairs(["hello world"], "en")


def test_adapt_translit_command(tiny, tmp_path):
    """`xlt adapt translit` writes a loadable model whose vectors moved; its report counts the pairs."""
    pytest.importorskip("uroman")
    _, spec = tiny
    text = tmp_path / "ru.txt"
    text.write_text("\n".join(["привет мир", "мир дом", "дом кот сидит"] * 4), encoding="utf-8")
    out = tmp_path / "tl"
    assert main(["adapt", "translit", "--model", spec, "--langs", "ru", "--text", f"ru={text}", "--min-sentences", "5",
                 "--batch-size", "4", "--lr", "1e-3", "--no-progress", "--out", str(out)]) == 0
    rep = json.loads((out / "translit_report.json").read_text(encoding="utf-8"))
    assert rep["pairs"]["ru"] == {"pairs": 12, "skipped": 0, "words": 28}
    from xlt.models.loading import load_encoder

    assert load_encoder(str(out)).model.config.hidden_size == 32


def test_romanize_examples_keeps_labels_and_inputs():
    """Each kind of example is romanised (Russian by hand, as above); labels, ids and the inputs stay."""
    pytest.importorskip("uroman")
    from xlt.adapt.translit import is_non_latin, romanize_examples
    from xlt.data.readers import PairExample, TaggedSentence, TextExample

    tagged = [TaggedSentence(["привет", "мир"], ["INTJ", "NOUN"])]
    out = romanize_examples(tagged, "ru")
    assert (out[0].tokens, out[0].labels) == (["privet", "mir"], ["INTJ", "NOUN"])
    assert tagged[0].tokens == ["привет", "мир"]
    text = romanize_examples([TextExample("7", "мир", "geo")], "ru")[0]
    assert (text.id, text.text, text.label) == ("7", "mir", "geo")
    pair = romanize_examples([PairExample("1", "мир", "привет", "yes")], "ru")[0]
    assert (pair.text, pair.text_pair, pair.label) == ("mir", "privet", "yes")
    # two Cyrillic letters of six: not mostly non-Latin
    assert is_non_latin(tagged) and not is_non_latin([TextExample("1", "mир abcd", "x")])


def test_transfer_romanize_evaluates_non_latin_targets_romanised(tiny, tmp_path):
    """`romanize=True`: the Russian target is evaluated (and its predictions written) in Latin letters,
    the German one as it is; the data set handed in is not changed."""
    pytest.importorskip("uroman")
    import xlt
    from xlt.data.dataset import from_examples
    from xlt.data.readers import TaggedSentence as T

    _, spec = tiny
    train = [T(["der", "Hund"], ["DET", "NOUN"]), T(["ein", "Haus"], ["DET", "NOUN"])] * 6
    ds = from_examples(train, {"ru": [T(["привет", "мир"], ["INTJ", "NOUN"])], "de": [T(["der", "Hund"], ["DET", "NOUN"])]},
                       dev=train[:2], source="de")
    res = xlt.zero_shot_transfer(ds, model=spec, mode="probe", romanize=True, progress=False, predictions=True,
                                 out=str(tmp_path / "r"))
    assert res.report["romanized"] == {"ru": 1}
    rows = [json.loads(l) for l in (tmp_path / "r" / "predictions" / "ru.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows[0]["tokens"] == ["privet", "mir"] and rows[0]["gold"] == ["INTJ", "NOUN"]
    de = json.loads((tmp_path / "r" / "predictions" / "de.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert de["tokens"] == ["der", "Hund"]
    assert ds.eval["ru"].examples[0].tokens == ["привет", "мир"]


def test_predict_romanize_predicts_from_the_romanisation(tiny, tmp_path, capsys):
    """`xlt predict --romanize` on Cyrillic input gives the labels the model gives the romanised words
    (written by hand), and the output keeps the original words."""
    pytest.importorskip("uroman")
    import xlt
    from xlt.data.dataset import from_examples
    from xlt.data.readers import TaggedSentence as T

    _, spec = tiny
    train = [T(["privet", "mir"], ["INTJ", "NOUN"]), T(["mir", "dom"], ["NOUN", "NOUN"]),
             T(["privet", "dom"], ["INTJ", "NOUN"])] * 5
    xlt.zero_shot_transfer(from_examples(train, dev=train[:3], source="ru"), model=spec, mode="probe", epochs=20,
                           lr=1e-2, progress=False, save=str(tmp_path / "m"))
    (tmp_path / "cyr.txt").write_text("привет мир\nмир дом\n", encoding="utf-8")
    (tmp_path / "lat.txt").write_text("privet mir\nmir dom\n", encoding="utf-8")

    def predict(name, *extra):
        assert main(["predict", "--model", str(tmp_path / "m"), "--input", str(tmp_path / name), "--out", "-",
                     "--lang", "ru", "--no-progress", *extra]) == 0
        return [json.loads(l) for l in capsys.readouterr().out.splitlines()]

    roman, plain = predict("cyr.txt", "--romanize"), predict("lat.txt")
    assert [r["tokens"] for r in roman] == [["привет", "мир"], ["мир", "дом"]]
    assert [r["labels"] for r in roman] == [r["labels"] for r in plain]
    assert [r["scores"] for r in roman] == [r["scores"] for r in plain]


def test_builtin_text_limit_counts_only_the_sentences_kept(data):
    """With a limit, the sources name only the files whose sentences were kept, with the kept counts
    (the fixture holds 30 German SIB-200 texts, then 29 non-empty UD-POS and 30 PAN-X sentences)."""
    from xlt.data.text import builtin_text

    root = data.root
    full = builtin_text("de", root)
    assert len(full.sentences) == sum(full.sources.values()) == 89
    cut = builtin_text("de", root, limit=35)
    assert cut.sentences == full.sentences[:35]
    assert cut.sources == {str(root / "sib200" / "deu_Latn" / "test.tsv"): 30, str(root / "udpos" / "test-de.tsv"): 5}
