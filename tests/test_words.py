"""The word ↔ subword mapping (xlt.models.words) and every place that uses it: probe features,
fine-tuning labels, saved task models, the feature cache, word alignment and aligner checks.

A tiny SentencePiece-style encoder (Unigram vocabulary, ``Metaspace`` pre-tokenizer, as XLM-R)
is built in-process: ``これ`` has no ``▁これ`` entry, so the tokenizer emits a bare ``▁`` piece
before it (``['▁', 'これ']``), exactly what XLM-R does for most Japanese words.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import make_tiny_encoder

from xlt.models.features import encode_words
from xlt.models.words import DEFAULT_WORD_PIECES, WORD_PIECES, join_words, map_words, marker_ids, piece_rule

pytestmark = pytest.mark.usefixtures("single_torch_thread")

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<mask>"]
PIECES = {  # piece -> log probability (higher wins)
    "▁": -2.0, "これ": -1.0, "に": -1.0, "は": -1.0, "猫": -1.0, "です": -1.0, "。": -1.0, "、": -1.0,
    "▁the": -1.0, "▁cat": -1.0, "s": -2.0, "▁sat": -1.0, ".": -1.0, "▁dog": -1.0, "▁query": -1.0, ":": -1.0,
    "▁a": -1.0, "▁big": -1.0, "ภาษา": -1.0, "ไทย": -1.0, "ภาษาไทย": -0.5, "ง่าย": -1.0,
    **{c: -6.0 for c in "abcdefghijklmnopqrstuvwxyz"}, **{"▁" + c: -5.0 for c in "abcdefghijklmnopqrstuvwxyz"},
}
JA = ["これ", "は", "猫", "です", "。"]
EN = ["the", "cats", "sat"]  # no bare marker: ▁the | ▁cat s | ▁sat


def make_sp_tokenizer(max_length: int = 64):
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    vocab = [(p, 0.0) for p in SPECIALS] + list(PIECES.items())
    tok = Tokenizer(Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 1), ("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
                                   model_max_length=max_length)


def make_sp_encoder(root: Path, *, text_prefix: str = "", max_length: int = 64):
    """A 2-layer random BERT with the SentencePiece-style tokenizer, saved and loaded like a real model."""
    from transformers import BertConfig, BertModel

    from xlt.models.loading import load_encoder

    folder = Path(root) / "tiny-sp"
    if not (folder / "config.json").exists():
        tok = make_sp_tokenizer(max_length)
        config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=max_length, pad_token_id=0,
                            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        torch.manual_seed(0)
        model = BertModel(config)
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
    enc = load_encoder(str(folder))
    enc.text_prefix = text_prefix
    return enc


@pytest.fixture(scope="module")
def sp(tmp_path_factory):
    return make_sp_encoder(tmp_path_factory.mktemp("sp"))


def pieces_of(tok, wp, which: str = "pooled") -> list[list[str]]:
    names = tok.convert_ids_to_tokens(wp.ids)
    return [[names[q] for q in qs] for qs in wp.pooled] if which == "pooled" else \
        [tok.convert_ids_to_tokens(p) for p in wp.pieces]


# --------------------------------------------------------------------------- the mapping
def test_bare_marker_pieces_hand_worked(sp):
    tok = sp.tokenizer
    assert marker_ids(tok) == {tok.convert_tokens_to_ids("▁")}
    assert tok.convert_ids_to_tokens(tok(["これ"], is_split_into_words=True, add_special_tokens=False)["input_ids"]) \
        == ["▁", "これ"]
    first, xtreme = (map_words(tok, [JA + ["the", "cats"]], wp)[0] for wp in ("first", "xtreme"))
    assert first.ids == xtreme.ids  # same model input
    assert pieces_of(tok, first) == [["これ"], ["は"], ["猫"], ["です"], ["。"], ["▁the"], ["▁cat", "s"]]
    assert pieces_of(tok, xtreme) == [["▁", "これ"], ["▁", "は"], ["▁", "猫"], ["▁", "です"], ["▁", "。"],
                                      ["▁the"], ["▁cat", "s"]]
    assert [first.first(w) for w in range(2)] == [1, 3] and [xtreme.first(w) for w in range(2)] == [0, 2]
    mean = map_words(tok, [JA], "mean")[0]
    assert pieces_of(tok, mean) == pieces_of(tok, map_words(tok, [JA], "first")[0])
    assert piece_rule("mean").pool == "mean" and piece_rule("first").pool == "first"
    assert piece_rule("xtreme", pooling="mean") == piece_rule("mean_all")
    # no_marker: the bare pieces leave the input too
    nm = map_words(tok, [JA], "no_marker")[0]
    assert tok.convert_ids_to_tokens(nm.ids) == JA and pieces_of(tok, nm) == [[w] for w in JA]


def test_a_word_that_is_only_a_marker_keeps_it(sp):
    """A whitespace-only word gives the single piece ``▁``: it stays the word's piece in every setting
    (every word has a vector), and in the input (also for no_marker)."""
    tok = sp.tokenizer
    for setting in ("first", "mean", "xtreme", "mean_all", "no_marker"):
        wp = map_words(tok, [["これ", " ", "猫"]], setting)[0]
        assert pieces_of(tok, wp, "pieces")[1] == ["▁"], setting
        assert pieces_of(tok, wp)[1] == ["▁"], setting
    # a word without any piece is fed as the unknown token (or gets none with unk=False)
    wp = map_words(tok, [["これ", "", "猫"]], "first")[0]
    assert pieces_of(tok, wp) == [["これ"], ["<unk>"], ["猫"]] and wp.unk_words == [1]
    wp = map_words(tok, [["これ", "", "猫"]], "first", unk=False)[0]
    assert wp.pooled[1] == [] and wp.first(1) == -1 and wp.unk_words == []


def test_prefix_words_and_empty_sentences(sp):
    tok = sp.tokenizer
    wp, empty = map_words(tok, [["これ"], []], "first", prefix_words=["query:"])
    assert tok.convert_ids_to_tokens(wp.prefix) == ["▁query", ":"] and pieces_of(tok, wp) == [["これ"]]
    assert empty.pieces == [] and empty.pooled == [] and tok.convert_ids_to_tokens(empty.prefix) == ["▁query", ":"]
    with pytest.raises(ValueError, match="word_pieces must be one of"):
        map_words(tok, [["a"]], "last")


def test_text_setting_joins_scripts_without_spaces_and_shares_pieces(sp):
    tok = sp.tokenizer
    assert join_words(["これ", "は", "猫", "。"]) == ("これは猫。", [(0, 2), (2, 3), (3, 4), (4, 5)])
    assert join_words(["the", "cat", "."])[0] == "the cat ."
    assert join_words(["東京", "で", "New", "York", "。"])[0] == "東京でNew York。"
    wp = map_words(tok, [JA], "text")[0]
    assert tok.convert_ids_to_tokens(wp.ids) == ["▁", "これ", "は", "猫", "です", "。"]
    assert pieces_of(tok, wp) == [[w] for w in JA]
    # ภาษา + ไทย is one piece: the second word shares it (no piece of its own)
    th = map_words(tok, [["ภาษา", "ไทย", "ง่าย"]], "text", prefix_words=["query:"])[0]
    assert tok.convert_ids_to_tokens(th.ids) == ["▁", "ภาษาไทย", "ง่าย"]
    assert th.pieces[1] == [] and th.pooled[0] == th.pooled[1] == [1] and th.pooled[2] == [2]
    assert th.pooled_by_word() == [[(0, 1)], [(0, 1)], [(2, 0)]]


# --------------------------------------------------------------------------- probe features
def test_features_equal_between_settings_without_bare_pieces(sp, tmp_path):
    sents = [EN, ["a", "big", "dog", "sat"]]
    ref = encode_words(sp, sents, layers="all", word_pieces="xtreme", progress=False).vectors
    for setting in ("first", "no_marker", "text"):
        got = encode_words(sp, sents, layers="all", word_pieces=setting, progress=False).vectors
        for a, b in zip(ref, got):
            np.testing.assert_allclose(a, b, atol=1e-5, err_msg=setting)
    # a WordPiece (BERT) tokenizer has no markers: first == xtreme, mean == mean_all
    bert = make_tiny_encoder(tmp_path)
    words = [["the", "cats", "running", "zebra", "."]]
    for a, b in (("first", "xtreme"), ("mean", "mean_all"), ("no_marker", "xtreme")):
        np.testing.assert_allclose(encode_words(bert, words, word_pieces=a, progress=False).vectors[0],
                                   encode_words(bert, words, word_pieces=b, progress=False).vectors[0], atol=1e-6)


def test_features_read_the_chosen_piece(sp):
    tok = sp.tokenizer
    ids = tok(JA, is_split_into_words=True)["input_ids"]  # <s> ▁ これ ▁ は ... </s>
    with torch.no_grad():
        h = sp.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0].numpy()
    content = [i for i, t in enumerate(ids) if tok.convert_ids_to_tokens(t) in JA]
    marker = [i - 1 for i in content]
    first = encode_words(sp, [JA], word_pieces="first", progress=False).vectors[0]
    xtreme = encode_words(sp, [JA], word_pieces="xtreme", progress=False).vectors[0]
    mean_all = encode_words(sp, [JA], word_pieces="mean_all", progress=False).vectors[0]
    np.testing.assert_allclose(first, h[content], atol=1e-5)
    np.testing.assert_allclose(xtreme, h[marker], atol=1e-5)
    np.testing.assert_allclose(mean_all, (h[content] + h[marker]) / 2, atol=1e-5)
    # pooling= overrides the setting's own pooling
    np.testing.assert_allclose(encode_words(sp, [JA], word_pieces="xtreme", pooling="mean", progress=False).vectors[0],
                               mean_all, atol=1e-6)


def test_long_inputs_with_every_setting(sp):
    """Windows and truncation work on pooled pieces (shared pieces of ``text`` stay with their word)."""
    long = (JA + ["ภาษา", "ไทย"]) * 12  # 84 words, > 64 tokens
    for setting in WORD_PIECES:
        win = encode_words(sp, [long, JA], word_pieces=setting, max_length=24, progress=False)
        assert win.stats["n_windowed"] == 1 and win.vectors[0].shape == (len(long), 32), setting
        assert np.abs(win.vectors[0]).sum(-1).min() > 0, setting  # every word got a vector
        short = encode_words(sp, [JA], word_pieces=setting, progress=False).vectors[0]
        np.testing.assert_allclose(win.vectors[1], short, atol=1e-5)
        cut = encode_words(sp, [long], word_pieces=setting, max_length=24, long_inputs="truncate", progress=False)
        n_kept = len(long) - cut.stats["n_truncated_words"]
        assert 0 < n_kept < len(long)
        assert np.abs(cut.vectors[0][:n_kept]).sum(-1).min() > 0 and not cut.vectors[0][n_kept:].any(), setting


def test_cache_key_includes_the_setting(sp, tmp_path):
    from xlt.models.cache import FeatureCache

    cache = FeatureCache(tmp_path / "c")
    a = encode_words(sp, [JA], word_pieces="first", cache=cache, progress=False)
    b = encode_words(sp, [JA], word_pieces="xtreme", cache=cache, progress=False)
    assert len(cache) == 2 and b.stats["n_cache_hits"] == 0
    assert not np.allclose(a.vectors[0], b.vectors[0])
    again = encode_words(sp, [JA], word_pieces="xtreme", cache=cache, progress=False)
    assert again.stats["n_cache_hits"] == 1
    np.testing.assert_array_equal(again.vectors[0], b.vectors[0])
    # the same pooling with other pieces, or other pooling of the same pieces: other keys
    encode_words(sp, [JA], word_pieces="mean", cache=cache, progress=False)
    encode_words(sp, [JA], word_pieces="mean_all", cache=cache, progress=False)
    encode_words(sp, [JA], word_pieces="no_marker", cache=cache, progress=False)
    assert len(cache) == 5


# --------------------------------------------------------------------------- fine-tuning labels
def test_finetuning_labels_land_on_the_chosen_piece(sp):
    from xlt.transfer.finetune import IGNORE, encode_token_examples

    tok = sp.tokenizer
    labels = [[10, 11, 12, 13, 14]]
    for setting, want in (("first", JA), ("mean", JA), ("xtreme", ["▁"] * 5)):
        enc = encode_token_examples(sp, [JA], labels, 64, word_pieces=setting)
        names = tok.convert_ids_to_tokens(enc.input_ids[0])
        assert [names[p] for p in enc.first_subword[0]] == want, setting
        assert [(names[p], l) for p, l in enumerate(enc.labels[0]) if l != IGNORE] == list(zip(want, labels[0]))
    # input unchanged for first vs xtreme; truncation cuts labels of words whose piece is gone
    assert encode_token_examples(sp, [JA], labels, 64).input_ids == \
        encode_token_examples(sp, [JA], labels, 64, word_pieces="xtreme").input_ids
    cut = encode_token_examples(sp, [JA], labels, 5)  # <s> ▁ これ ▁ </s>: は's piece is cut, its marker not
    assert cut.first_subword[0] == [2, -1, -1, -1, -1] and cut.n_truncated == 1
    cut_x = encode_token_examples(sp, [JA], labels, 5, word_pieces="xtreme")
    assert cut_x.first_subword[0] == [1, 3, -1, -1, -1]
    # a shared piece (text setting) carries the first word's label
    th = encode_token_examples(sp, [["ภาษา", "ไทย", "ง่าย"]], [[1, 2, 3]], 64, word_pieces="text")
    p0, p1, p2 = th.first_subword[0]
    assert p0 == p1 and th.labels[0][p0] == 1 and th.labels[0][p2] == 3


# --------------------------------------------------------------------------- saved task models
def _token_dataset():
    import xlt
    from xlt.data.readers import TaggedSentence

    rng = np.random.default_rng(0)
    tag = {"これ": "PRON", "は": "ADP", "猫": "NOUN", "です": "AUX", "。": "PUNCT"}
    train = []
    for _ in range(40):
        words = list(rng.permutation(JA))
        train.append(TaggedSentence(words, [tag[w] for w in words]))
    return xlt.from_examples(train, {"ja": train[:6]}, dev=train[:6])


@pytest.mark.parametrize("mode", ["probe", "finetune"])
def test_setting_round_trips_through_save_and_load(sp, tmp_path, mode):
    from xlt.transfer.model import MODEL_FILE, TaskModel, TaskModelError

    ds = _token_dataset()
    kw = {"epochs": 2, "lr": 1e-2 if mode == "probe" else 3e-3, "batch_size": 8}
    from xlt.transfer.training import fit_task_model

    model = fit_task_model(ds, sp, mode=mode, word_pieces="mean" if mode == "probe" else "xtreme", **kw)
    want = model.word_pieces
    model.save_pretrained(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / MODEL_FILE).read_text())
    assert meta["word_pieces"] == want
    back = TaskModel.from_pretrained(tmp_path / "m")
    assert back.word_pieces == want
    sents = [list(e.tokens) for e in ds.eval["ja"].examples]
    np.testing.assert_allclose(np.concatenate(back.predict_proba(sents)), np.concatenate(model.predict_proba(sents)),
                               atol=1e-5)
    # a folder saved before the setting existed was trained the XTREME way
    del meta["word_pieces"]
    (tmp_path / "m" / MODEL_FILE).write_text(json.dumps(meta))
    assert TaskModel.from_pretrained(tmp_path / "m").word_pieces == "xtreme"
    meta["word_pieces"] = "last"
    (tmp_path / "m" / MODEL_FILE).write_text(json.dumps(meta))
    with pytest.raises(TaskModelError, match="word_pieces"):
        TaskModel.from_pretrained(tmp_path / "m")


def test_default_and_options():
    from xlt.cli import build_parser
    from xlt.jobs.transfer import TransferConfig

    assert TransferConfig().word_pieces == DEFAULT_WORD_PIECES
    args = build_parser().parse_args(["transfer", "--task", "udpos", "--word-pieces", "xtreme", "--out", "x"])
    assert args.word_pieces == "xtreme"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["transfer", "--task", "udpos", "--word-pieces", "second", "--out", "x"])


# --------------------------------------------------------------------------- alignment
def test_word_alignment_units_and_aligner_check(sp):
    from xlt.align.maps import AlignerError, CrossLingualAligner
    from xlt.align.words import encode_subwords

    tok = sp.tokenizer
    first = encode_subwords(sp, [JA], layer=-1, word_pieces="first")
    xtreme = encode_subwords(sp, [JA], layer=-1, word_pieces="xtreme")
    assert first.word_ids[0].tolist() == [0, 1, 2, 3, 4]
    assert xtreme.word_ids[0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    feats = encode_words(sp, [JA], layers=-1, word_pieces="first", progress=False).vectors[0]
    np.testing.assert_allclose(first.vectors[0].numpy(), feats, atol=1e-5)
    # alignment fine-tuning trains the piece the probe reads
    wi = sp.word_inputs([JA], max_length=64)[0]
    assert [tok.convert_ids_to_tokens(wi.ids[wi.first(w)]) for w in range(len(JA))] == JA
    # maps fitted on one reading of words refuse features read another way
    al = CrossLingualAligner("procrustes", "eng", [2], {"spec": "x"}, info={"word_pieces": "xtreme"})
    al.check({}, [2], [], word_pieces="xtreme")
    with pytest.raises(AlignerError, match="--word-pieces xtreme"):
        al.check({}, [2], [], word_pieces="first")


# --------------------------------------------------------------------------- the bundled model
@pytest.mark.integration
def test_bundled_tokenizer_japanese_sentence():
    from xlt.models.loading import load_encoder

    enc = load_encoder()
    tok = enc.tokenizer
    words = ["これ", "に", "不快感", "を", "示す", "。"]
    first, xtreme = (map_words(tok, [words], s, enc.text_prefix.split())[0] for s in ("first", "xtreme"))
    assert pieces_of(tok, xtreme) == [["▁", "これ"], ["▁", "に"], ["▁", "不", "快感"], ["▁", "を"], ["▁", "示", "す"],
                                      ["▁", "。"]]
    assert pieces_of(tok, first) == [["これ"], ["に"], ["不", "快感"], ["を"], ["示", "す"], ["。"]]
    assert first.ids == xtreme.ids
    vf = encode_words(enc, [words], progress=False).vectors[0]
    vx = encode_words(enc, [words], word_pieces="xtreme", progress=False).vectors[0]

    def mean_cos(v):
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        c = v @ v.T
        return (c.sum() - len(v)) / (len(v) * (len(v) - 1))

    # XTREME's vectors are all the bare "▁" token's and nearly alike; the new ones tell the words apart
    assert mean_cos(vx) > mean_cos(vf) + 0.05, (mean_cos(vx), mean_cos(vf))


def test_continue_shared_pieces_turns_b_into_i_inside_one_piece():
    """Hand-worked: words 1 and 2 share word 0's piece (position 3); word 3 has its own (5)."""
    from xlt.transfer.model import continue_shared_pieces

    labels = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    p = np.array([[0.1, 0.7, 0.1, 0.1, 0.0],   # owner of the piece: B-LOC stays
                  [0.1, 0.7, 0.1, 0.1, 0.0],   # shares it: B-LOC 0.7 -> I-LOC 0.8
                  [0.1, 0.7, 0.1, 0.1, 0.0],   # shares it too
                  [0.1, 0.7, 0.1, 0.1, 0.0]], dtype=np.float32)  # own piece: unchanged
    out = continue_shared_pieces(p.copy(), [3, 3, 3, 5], labels)
    names = [labels[i] for i in out.argmax(-1)]
    assert names == ["B-LOC", "I-LOC", "I-LOC", "B-LOC"]
    np.testing.assert_allclose(out[1], [0.1, 0.0, 0.8, 0.0, 0.1], atol=1e-6)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-6)
    # labels that are not BIO are left alone
    upos = ["NOUN", "VERB"]
    q = np.array([[0.9, 0.1], [0.9, 0.1]], dtype=np.float32)
    np.testing.assert_array_equal(continue_shared_pieces(q.copy(), [1, 1], upos), q)


def test_char_segmented_hand_worked():
    from xlt.models.words import char_segmented

    assert char_segmented(["東", "京", "に", "住", "む", "。"])          # PAN-X ja: every character a word
    assert not char_segmented(JA)                                       # これ, です: 2 of 4 single
    assert not char_segmented(["東", "京"])                              # too few to tell
    assert not char_segmented(EN + ["a", "b", "c"])                      # no script without spaces
    assert char_segmented(["กิ", "น", "ข้", "า", "ว"])                   # Thai: a vowel mark does not count
    assert not char_segmented(["東", "京", "に", "住", "んでいる"], share=0.9)  # 4 of 5 single: 0.8 < 0.9


def test_auto_reads_character_split_sentences_as_text_and_the_rest_word_by_word(sp):
    tok = sp.tokenizer
    thai = list("ภาษาไทย")  # 7 one-character "words"; the vocabulary has the piece ภาษาไทย
    batch = [EN, thai, JA]
    auto = map_words(tok, batch, "auto")
    first, text = map_words(tok, batch, "first"), map_words(tok, [thai], "text")[0]
    for k in (0, 2):  # word-segmented sentences: exactly `first`
        assert (auto[k].ids, auto[k].pooled) == (first[k].ids, first[k].pooled)
    assert (auto[1].ids, auto[1].pooled) == (text.ids, text.pooled)
    # hand-worked: one piece for the running text, owned by the first character, shared by the rest
    assert tok.convert_ids_to_tokens(auto[1].ids) == ["▁", "ภาษาไทย"]  # no ▁ภาษาไทย entry: a bare marker first
    own = [q for q in auto[1].pooled]
    assert all(q == own[0] for q in own) and len(own) == 7
    assert auto[1].pieces[0] and all(p == [] for p in auto[1].pieces[1:])
    # word by word, each character is a word of its own (bare ▁ + an unknown piece)
    assert len(first[1].ids) > 7


def test_default_is_auto_and_it_is_in_the_cache_key(sp, tmp_path):
    from xlt.models.cache import FeatureCache

    assert DEFAULT_WORD_PIECES == "auto"
    cache = FeatureCache(tmp_path / "c")
    encode_words(sp, [list("ภาษาไทย")], word_pieces="first", cache=cache, progress=False)
    res = encode_words(sp, [list("ภาษาไทย")], word_pieces="auto", cache=cache, progress=False)
    assert res.stats["n_cache_hits"] == 0  # not served the `first` vectors
    again = encode_words(sp, [list("ภาษาไทย")], word_pieces="auto", cache=cache, progress=False)
    assert again.stats["n_cache_hits"] == 1 and np.array_equal(again.vectors[0], res.vectors[0])
