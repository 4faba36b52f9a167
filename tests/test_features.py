"""Tests for xlt.models.features and xlt.models.cache on a tiny random BERT."""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from helpers import make_tiny_encoder

from xlt.models.cache import FeatureCache
from xlt.models.encoder import _plan_word_windows
from xlt.models.features import (
    WordFeatures,
    encode_sentences,
    encode_words,
    resolve_layers,
)

SENT = ["The", "cats", "running", "zebra", "dog"]
# Hand-written WordPiece split of SENT with the tiny vocabulary, and each word's positions
# in "[CLS] <tokens> [SEP]".
SENT_TOKENS = ["the", "cat", "##s", "run", "##n", "##ing", "z", "##e", "##b", "##r", "##a",
               "dog"]
SENT_POS = [[1], [2, 3], [4, 5, 6], [7, 8, 9, 10, 11], [12]]


@pytest.fixture(scope="module")
def enc(tmp_path_factory):
    return make_tiny_encoder(tmp_path_factory.mktemp("tiny"))


def hidden(enc, tokens: list[str]) -> tuple[torch.Tensor, ...]:
    """All hidden states of "[CLS] tokens [SEP]" for one sequence: tuple of (T, D)."""
    ids = enc.tokenizer.convert_tokens_to_ids(["[CLS]", *tokens, "[SEP]"])
    with torch.no_grad():
        out = enc.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    return tuple(h[0] for h in out.hidden_states)


@contextmanager
def count_forward(enc):
    """Count calls of the model's forward while inside the block."""
    calls = {"n": 0}
    original = enc.model.forward

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    enc.model.forward = wrapped
    try:
        yield calls
    finally:
        del enc.model.forward


def random_sentences(n: int, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    pool = ["the", "cats", "running", "Zebra", "dog", "houses", "unhappy", "walked", "a",
            "x-ray", "big", "smallness", "quietly", "42", "mat", "sat", "on", "\x07"]
    return [list(rng.choice(pool, size=int(rng.integers(1, 15)))) for _ in range(n)]


# ----------------------------------------------------------------------- helper sanity
def test_tiny_tokenizer_splits_into_subwords(enc):
    b = enc.tokenizer([SENT], is_split_into_words=True, add_special_tokens=False)
    assert enc.tokenizer.convert_ids_to_tokens(b["input_ids"][0]) == SENT_TOKENS
    assert enc.num_layers == 2 and enc.hidden_size == 32 and enc.max_length == 64


# ----------------------------------------------------------------------- word pooling
@pytest.mark.parametrize("pooling", ["first", "mean"])
@pytest.mark.parametrize("layer", [2, 1, 0])
def test_word_pooling_matches_manual(enc, pooling, layer):
    hs = hidden(enc, SENT_TOKENS)[layer]
    expected = np.stack([
        (hs[pos[0]] if pooling == "first" else hs[pos].mean(0)).numpy() for pos in SENT_POS
    ])
    feats = encode_words(enc, [SENT], layers=layer, pooling=pooling, progress=False)
    assert isinstance(feats, WordFeatures)
    assert feats.vectors[0].shape == (5, 32) and feats.vectors[0].dtype == np.float32
    np.testing.assert_allclose(feats.vectors[0], expected, atol=1e-5)
    assert feats.stats["n_subwords"] == len(SENT_TOKENS)
    assert feats.stats["n_sentences"] == 1 and feats.stats["n_words"] == 5


def test_mean_and_first_differ_for_multi_subword_words(enc):
    first = encode_words(enc, [SENT], pooling="first", progress=False).vectors[0]
    mean = encode_words(enc, [SENT], pooling="mean", progress=False).vectors[0]
    np.testing.assert_allclose(first[[0, 4]], mean[[0, 4]], atol=1e-6)  # single-subword words
    assert np.abs(first[1:4] - mean[1:4]).max() > 1e-3


def test_batched_equals_one_at_a_time_and_keeps_order(enc):
    sents = random_sentences(13)
    batched = encode_words(enc, sents, batch_size=4, pooling="mean", progress=False)
    assert len(batched) == len(sents)
    for s, v in zip(sents, batched.vectors):
        single = encode_words(enc, [s], batch_size=1, pooling="mean", progress=False).vectors[0]
        assert v.shape == (len(s), 32)
        np.testing.assert_allclose(v, single, atol=1e-5)
    # Same result whatever the batch size, and deterministic.
    other = encode_words(enc, sents, batch_size=32, pooling="mean", progress=False)
    again = encode_words(enc, sents, batch_size=4, pooling="mean", progress=False)
    for a, b, c in zip(batched.vectors, other.vectors, again.vectors):
        np.testing.assert_allclose(a, b, atol=1e-5)
        np.testing.assert_array_equal(a, c)


def test_prefix_words_are_dropped(enc):
    e5 = dataclasses.replace(enc, text_prefix="query: ")
    feats = encode_words(e5, [SENT, ["dog"]], pooling="mean", progress=False)
    assert [v.shape[0] for v in feats.vectors] == [5, 1]
    hs = hidden(enc, ["query", ":", *SENT_TOKENS])[-1]
    expected = np.stack([hs[[p + 2 for p in pos]].mean(0).numpy() for pos in SENT_POS])
    np.testing.assert_allclose(feats.vectors[0], expected, atol=1e-5)
    plain = encode_words(enc, [SENT], pooling="mean", progress=False).vectors[0]
    assert np.abs(plain - feats.vectors[0]).max() > 1e-3
    assert feats.stats["n_subwords"] == len(SENT_TOKENS) + 1  # prefix not counted


def test_words_without_subwords_fall_back_to_unk(enc):
    words = ["a", "\x07", "", "\u200b", "dog"]
    feats = encode_words(enc, [words], progress=False)
    v = feats.vectors[0]
    assert v.shape == (5, 32)
    assert feats.stats["n_unk_fallback"] == 3
    hs = hidden(enc, ["a", "[UNK]", "[UNK]", "[UNK]", "dog"])[-1].numpy()
    np.testing.assert_allclose(v, hs[1:6], atol=1e-5)


def test_empty_inputs(enc):
    feats = encode_words(enc, [[], ["dog"], []], layers="all", progress=False)
    assert [v.shape for v in feats.vectors] == [(3, 0, 32), (3, 1, 32), (3, 0, 32)]
    assert encode_words(enc, [], progress=False).vectors == []
    assert encode_sentences(enc, [], progress=False).shape == (0, 32)


def test_bad_inputs_raise(enc):
    with pytest.raises(ValueError, match="list of words"):
        encode_words(enc, ["not split"], progress=False)
    with pytest.raises(ValueError, match="pooling"):
        encode_words(enc, [SENT], pooling="max", progress=False)
    with pytest.raises(ValueError, match="long_inputs"):
        encode_words(enc, [SENT], long_inputs="drop", progress=False)
    with pytest.raises(ValueError, match="exceeds the model limit"):
        encode_words(enc, [SENT], max_length=65, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        encode_words(enc, [SENT], batch_size=0, progress=False)
    with pytest.raises(ValueError, match="pooling"):
        encode_sentences(enc, ["x"], pooling="first", progress=False)
    with pytest.raises(ValueError, match="list of strings"):
        encode_sentences(enc, "a text", progress=False)


# ----------------------------------------------------------------------- long inputs
LONG = ["dog", "cats", "running", "the", "zebra", "a", "mat", "walked"] * 5  # 40 words, 78 tok


def _greedy_fit(enc, words, budget):
    lens = [len(enc.tokenizer([[w]], is_split_into_words=True, add_special_tokens=False)
                ["input_ids"][0]) for w in words]
    k, tot = 0, 0
    while k < len(words) and tot + lens[k] <= budget:
        tot += lens[k]
        k += 1
    return k, lens


def test_window_mode_gives_every_word_a_vector(enc):
    feats = encode_words(enc, [LONG, SENT[:3]], max_length=12, pooling="mean", progress=False)
    v = feats.vectors[0]
    assert v.shape == (len(LONG), 32)
    assert np.all(np.abs(v).sum(axis=1) > 0)
    assert feats.stats["n_windowed"] == 1 and feats.stats["n_truncated"] == 0
    assert feats.stats["n_sequences"] > 2
    # The first words are owned by the first window = the longest word prefix that fits.
    k, _ = _greedy_fit(enc, LONG, 10)
    first = encode_words(enc, [LONG[:k]], pooling="mean", progress=False).vectors[0]
    np.testing.assert_allclose(v[0], first[0], atol=1e-5)
    # The short sentence is unaffected by the small max_length.
    short = encode_words(enc, [SENT[:3]], pooling="mean", progress=False).vectors[0]
    np.testing.assert_allclose(feats.vectors[1], short, atol=1e-5)
    # The default limit (64) would fit 64-2 tokens only: windowed too.
    assert encode_words(enc, [LONG], progress=False).stats["n_windowed"] == 1


def test_window_mode_with_prefix_and_giant_word(enc):
    e5 = dataclasses.replace(enc, text_prefix="query: ")
    giant = "z" * 30  # 30 subwords > window of 12 - 2 - 2
    feats = encode_words(e5, [["dog", giant, *LONG]], max_length=12, progress=False)
    v = feats.vectors[0]
    assert v.shape == (len(LONG) + 2, 32) and np.all(np.abs(v).sum(axis=1) > 0)
    assert feats.stats["n_clipped_words"] == 1 and feats.stats["n_windowed"] == 1
    with pytest.raises(ValueError, match="no room"):
        encode_words(e5, [LONG], max_length=4, progress=False)


def test_plan_word_windows_cover_and_overlap():
    lens = [1, 3, 2, 1, 1, 4, 2, 2, 1, 3, 1, 1]
    windows, owner = _plan_word_windows(lens, budget=6)
    assert windows[0][0] == 0 and windows[-1][1] == len(lens)
    for ws, we in windows:
        assert sum(lens[ws:we]) <= 6
    for (a0, a1), (b0, b1) in zip(windows, windows[1:]):
        assert a0 < b0 <= a1  # consecutive windows advance and leave no gap
    for i, w in enumerate(owner):
        assert windows[w][0] <= i < windows[w][1]
    assert owner == sorted(owner)


def test_truncate_mode_zero_vectors_and_counts(enc):
    words = ["dog"] * 30  # one subword each
    feats = encode_words(enc, [words, SENT[:3]], max_length=12, long_inputs="truncate",
                         progress=False)
    v = feats.vectors[0]
    assert v.shape == (30, 32)
    assert np.all(np.abs(v[:10]).sum(axis=1) > 0)
    assert np.all(v[10:] == 0)
    assert feats.stats["n_truncated"] == 1 and feats.stats["n_truncated_words"] == 20
    assert feats.stats["n_windowed"] == 0
    kept = encode_words(enc, [words[:10]], progress=False).vectors[0]
    np.testing.assert_allclose(v[:10], kept, atol=1e-5)
    # A word cut partway keeps its surviving subwords.
    k, lens = _greedy_fit(enc, LONG, 10)
    part = encode_words(enc, [LONG], max_length=12, long_inputs="truncate", progress=False)
    n_nonzero = int((np.abs(part.vectors[0]).sum(axis=1) > 0).sum())
    assert n_nonzero == k + (1 if sum(lens[:k]) < 10 else 0)
    assert part.stats["n_truncated_words"] == len(LONG) - n_nonzero


# ----------------------------------------------------------------------- layers
def test_layer_selection_shapes(enc):
    sents = [SENT, ["dog", "cats"]]
    all_ = encode_words(enc, sents, layers="all", progress=False)
    assert all_.layers == [0, 1, 2] and not all_.single_layer
    assert [v.shape for v in all_.vectors] == [(3, 5, 32), (3, 2, 32)]
    two = encode_words(enc, sents, layers=[0, -1], progress=False)
    assert two.layers == [0, 2] and two.vectors[0].shape == (2, 5, 32)
    np.testing.assert_allclose(two.vectors[0], all_.vectors[0][[0, 2]], atol=1e-6)
    one = encode_words(enc, sents, layers=[1], progress=False)
    assert one.vectors[0].shape == (1, 5, 32)
    last = encode_words(enc, sents, progress=False)
    assert last.single_layer and last.layers == [2] and last.vectors[0].shape == (5, 32)
    for spec in (2, -1):
        np.testing.assert_array_equal(
            encode_words(enc, sents, layers=spec, progress=False).vectors[0], last.vectors[0])
    np.testing.assert_allclose(all_.stacked()[:, :5], all_.vectors[0], atol=0)
    assert last.stacked().shape == (7, 32)
    s = encode_sentences(enc, ["the cats", "dog"], layers="all", progress=False)
    assert s.shape == (3, 2, 32)
    assert encode_sentences(enc, ["the cats", "dog"], layers=0, progress=False).shape == (2, 32)


@pytest.mark.parametrize("bad", [3, -4, "first", [], [0, 5], 1.5, True])
def test_invalid_layer_raises_with_range(enc, bad):
    with pytest.raises(ValueError, match=r"0\.\.2"):
        encode_words(enc, [SENT], layers=bad, progress=False)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        resolve_layers(bad, 2)


# ----------------------------------------------------------------------- sentences
TEXT_TOKENS = ["the", "cat", "##s", "sat", "on", "z", "##e", "##b", "##r", "##a"]


def test_sentence_pooling_matches_manual(enc):
    hs = hidden(enc, TEXT_TOKENS)[-1].numpy()  # (12, 32) incl. [CLS] and [SEP]
    text = "The cats sat on zebra"
    mean = encode_sentences(enc, [text], progress=False)
    assert mean.shape == (1, 32) and mean.dtype == np.float32
    np.testing.assert_allclose(mean[0], hs.mean(0), atol=1e-5)  # E5: specials included
    nospec = encode_sentences(enc, [text], pooling="mean_nospecial", progress=False)
    np.testing.assert_allclose(nospec[0], hs[1:-1].mean(0), atol=1e-5)
    cls = encode_sentences(enc, [text], pooling="cls", progress=False)
    np.testing.assert_allclose(cls[0], hs[0], atol=1e-5)
    normed = encode_sentences(enc, [text], normalize=True, progress=False)
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(normed[0], hs.mean(0) / np.linalg.norm(hs.mean(0)), atol=1e-5)


def test_sentence_prefix_and_batching(enc):
    e5 = dataclasses.replace(enc, text_prefix="query: ")
    hs = hidden(enc, ["query", ":", *TEXT_TOKENS])[-1].numpy()
    texts = ["dog", "The cats sat on zebra", "", "a big house and a small dog"]
    out, stats = encode_sentences(e5, texts, batch_size=2, progress=False, return_stats=True)
    assert out.shape == (4, 32) and stats["n_texts"] == 4
    np.testing.assert_allclose(out[1], hs.mean(0), atol=1e-5)
    for t, v in zip(texts, out):
        np.testing.assert_allclose(v, encode_sentences(e5, [t], progress=False)[0], atol=1e-5)


def test_sentence_long_inputs(enc):
    text = " ".join(["dog", "cats", "sat"] * 5)  # 20 tokens
    ids = enc.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 20
    cls_id, sep_id = enc.tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])

    def seq_mean(chunk):
        with torch.no_grad():
            h = enc.model(input_ids=torch.tensor([[cls_id, *chunk, sep_id]]),
                          output_hidden_states=True).hidden_states[-1][0]
        return h.mean(0).numpy(), len(chunk) + 2

    parts = [seq_mean(ids[k:k + 6]) for k in range(0, 20, 6)]  # windows of 8 - 2 tokens
    expected = sum(v * w for v, w in parts) / sum(w for _, w in parts)
    out, stats = encode_sentences(enc, [text, "dog"], max_length=8, progress=False,
                                  return_stats=True)
    np.testing.assert_allclose(out[0], expected, atol=1e-5)
    assert stats["n_windowed"] == 1 and stats["n_truncated"] == 0
    out, stats = encode_sentences(enc, [text, "dog"], max_length=8, long_inputs="truncate",
                                  progress=False, return_stats=True)
    np.testing.assert_allclose(out[0], parts[0][0], atol=1e-5)
    assert stats["n_truncated"] == 1 and stats["n_windowed"] == 0


# ----------------------------------------------------------------------- cache
def test_cache_skips_model_and_misses_on_changes(enc, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    sents = random_sentences(6, seed=3)
    with count_forward(enc) as calls:
        first = encode_words(enc, sents, batch_size=4, progress=False, cache=cache)
    assert calls["n"] == 2 and first.stats["n_cache_hits"] == 0
    assert len(cache) == 6

    with count_forward(enc) as calls:
        second = encode_words(enc, sents, batch_size=4, progress=False, cache=cache)
    assert calls["n"] == 0 and second.stats["n_cache_hits"] == 6
    for a, b in zip(first.vectors, second.vectors):
        np.testing.assert_array_equal(a, b)
    assert {k: v for k, v in second.stats.items() if k.startswith("n_") and "cache" not in k
            and k not in ("n_sequences", "n_model_tokens", "n_padding_tokens")} == \
        {k: v for k, v in first.stats.items() if k.startswith("n_") and "cache" not in k
         and k not in ("n_sequences", "n_model_tokens", "n_padding_tokens")}

    # A path works as well, and a partly new input only runs the new sentence.
    with count_forward(enc) as calls:
        part = encode_words(enc, [*sents, ["dog"]], progress=False, cache=str(tmp_path / "cache"))
    assert calls["n"] == 1 and part.stats["n_cache_hits"] == 6

    changes = [dict(layers=1), dict(layers="all"), dict(pooling="mean"), dict(max_length=32),
               dict(long_inputs="truncate")]
    for change in changes:
        with count_forward(enc) as calls:
            res = encode_words(enc, sents, batch_size=4, progress=False, cache=cache, **change)
        assert calls["n"] > 0 and res.stats["n_cache_hits"] == 0, change
    e5 = dataclasses.replace(enc, text_prefix="query: ")
    with count_forward(enc) as calls:
        encode_words(e5, sents, progress=False, cache=cache)
    assert calls["n"] > 0
    other = dataclasses.replace(enc, fingerprint="dir:someothermodel")
    with count_forward(enc) as calls:
        encode_words(other, sents, progress=False, cache=cache)
    assert calls["n"] > 0


def test_sentence_cache(enc, tmp_path):
    texts = ["the cats sat", "dog", "a big house"]
    with count_forward(enc) as calls:
        a = encode_sentences(enc, texts, progress=False, cache=tmp_path)
    assert calls["n"] == 1
    with count_forward(enc) as calls:
        b, stats = encode_sentences(enc, texts, progress=False, cache=tmp_path,
                                    return_stats=True)
        n = encode_sentences(enc, texts, normalize=True, progress=False, cache=tmp_path)
    assert calls["n"] == 0 and stats["n_cache_hits"] == 3
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-5)
    with count_forward(enc) as calls:
        encode_sentences(enc, texts, pooling="cls", progress=False, cache=tmp_path)
        encode_sentences(enc, texts, layers=1, progress=False, cache=tmp_path)
    assert calls["n"] == 2


def test_cache_keys_and_corrupt_entries(tmp_path):
    base = {"fn": "encode_words", "model": "m", "layers": [2], "pooling": "first"}
    k1 = FeatureCache.make_keys(base, [["a", "b"], ["a", "b"], ["a b"]])
    assert k1[0] == k1[1] != k1[2] and len(k1[0]) == 64
    for change in ({"model": "n"}, {"layers": [1]}, {"pooling": "mean"}, {"prefix": "q"}):
        assert FeatureCache.make_keys({**base, **change}, [["a", "b"]])[0] != k1[0]
    cache = FeatureCache(tmp_path)
    cache.put(k1[0], np.ones((1, 2, 3), dtype=np.float32), np.array([1, 2]))
    arr, st = cache.get(k1[0])
    assert arr.shape == (1, 2, 3) and st.tolist() == [1, 2] and k1[0] in cache
    cache.path(k1[2]).parent.mkdir(parents=True, exist_ok=True)
    cache.path(k1[2]).write_bytes(b"garbage")
    assert cache.get(k1[2]) is None and cache.misses == 1 and cache.hits == 1
    cache.clear()
    assert len(cache) == 0


def test_auto_device_is_cuda_when_available_else_cpu(tiny):
    from xlt.models.loading import load_encoder

    _, spec = tiny
    enc = load_encoder(spec, device="auto")
    assert enc.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
