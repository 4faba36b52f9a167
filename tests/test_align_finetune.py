"""Tests for xlt.align.finetune (Cao et al. 2020 fine-tuning alignment) on a tiny random encoder.

The synthetic "language" ``xx`` writes every English word of the tiny vocabulary as its own
two-subword word (a distinct first letter + ``##q``) and reverses the word order, so links are
``(i, m - 1 - i)``. Training pairs and held-out pairs come from different seeds.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from xlt.align.finetune import (
    AlignmentExample,
    FinetuneAlignmentResult,
    _tokenize,
    finetune_alignment,
    save_aligned_encoder,
)
from xlt.models.features import encode_words
from xlt.models.loading import load_encoder

pytestmark = pytest.mark.usefixtures("single_torch_thread")

EN = ["the", "a", "cat", "dog", "sat", "on", "mat", "run", "walk", "house", "big", "small",
      "happy", "and", "is", "in", "of", "to", "it"]
LETTERS = "bcdefghijklmnopqrstuvwxyz"  # no "a": that is also an English word


def foreign(word: str) -> str:
    """The ``xx`` spelling of an English word: tokenised as ``<letter> ##q``."""
    return LETTERS[EN.index(word)] + "q"


def make_pairs(n: int, seed: int) -> list[AlignmentExample]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        m = rng.randint(3, 8)
        src = [rng.choice(EN) for _ in range(m)]
        tgt = [foreign(w) for w in reversed(src)]
        out.append(AlignmentExample("xx", src, tgt, {(i, m - 1 - i) for i in range(m)}))
    return out


TRAIN = make_pairs(64, 0)
HELD_OUT = make_pairs(32, 1)
FAST = {"epochs": 6, "lr": 1e-3, "progress": False}


def vectors(encoder, examples):
    """Last-layer first-subword word vectors of both sides, as the probe sees them."""
    src = encode_words(encoder, [x.source for x in examples], layers=-1, pooling="first",
                       progress=False).vectors
    tgt = encode_words(encoder, [x.target for x in examples], layers=-1, pooling="first",
                       progress=False).vectors
    return src, tgt


def link_distance(encoder, examples) -> float:
    """Mean squared L2 distance between linked word vectors."""
    src, tgt = vectors(encoder, examples)
    return float(np.mean([np.sum((s[i] - t[j]) ** 2)
                          for x, s, t in zip(examples, src, tgt) for i, j in x.links]))


def retrieval_accuracy(encoder, examples) -> float:
    """Share of links whose target vector's nearest source vector (cosine, over all source words
    of ``examples``) is the linked English word (the same word type)."""
    src, tgt = vectors(encoder, examples)
    pool = np.concatenate(src)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    words = [w for x in examples for w in x.source]
    hits = [words[int(np.argmax(pool @ t[j]))] == x.source[i]
            for x, t in zip(examples, tgt) for i, j in x.links]
    return float(np.mean(hits))


def state(encoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in encoder.model.state_dict().items()}


@pytest.fixture(scope="module")
def enc(tmp_path_factory):
    """A tiny random BERT with an E5-style ``"query: "`` text prefix."""
    from helpers import make_tiny_encoder

    return make_tiny_encoder(tmp_path_factory.mktemp("align-ft"), text_prefix="query: ")


@pytest.fixture(scope="module")
def before(enc):
    """The input encoder's weights before any training."""
    return state(enc)


@pytest.fixture(scope="module")
def l2_small_reg(enc, before) -> FinetuneAlignmentResult:
    return finetune_alignment(enc, TRAIN, loss="l2", reg_weight=0.01, **FAST)


# --------------------------------------------------------------------------- vectors
def test_training_vectors_are_the_probe_vectors(enc):
    """Inputs and first-subword positions match encode_words (prefix, unk fallback, truncation)."""
    sents = [["the", "cats", "running", "\u200b", "zebra"], ["dog"], ["happy", "house", "sat"] * 8]
    for max_len, long_inputs in ((enc.max_length, "window"), (16, "truncate")):
        items, n_trunc = _tokenize(enc, sents, max_len)
        assert n_trunc == (1 if max_len == 16 else 0)
        want = encode_words(enc, sents, layers=-1, pooling="first", max_length=max_len,
                            long_inputs=long_inputs, progress=False).vectors
        h = enc.hidden_states([ids for ids, _ in items], -1, grad=True).detach()
        for r, ((_, firsts), exp) in enumerate(zip(items, want, strict=True)):
            for w, pos in enumerate(firsts):
                if pos >= 0:
                    np.testing.assert_allclose(h[r, pos].numpy(), exp[w], atol=1e-5)
        assert items[0][1][3] == -1  # "\u200b" has no subword: never trained on
    assert items[2][1][-1] == -1  # truncated past 16 tokens


# --------------------------------------------------------------------------- training
def test_l2_reduces_linked_distance(enc, l2_small_reg):
    d0 = link_distance(enc, HELD_OUT)
    d1 = link_distance(l2_small_reg.encoder, HELD_OUT)
    assert d1 < 0.5 * d0, (d0, d1)
    assert link_distance(l2_small_reg.encoder, TRAIN) < link_distance(enc, TRAIN)


def test_result_stats_history_and_encoder(enc, l2_small_reg):
    r = l2_small_reg
    n_links = sum(len(x.links) for x in TRAIN)
    assert r.stats["n_examples"] == 64 and r.stats["n_pairs_used"] == 64
    assert r.stats["n_links"] == r.stats["n_links_used"] == n_links
    assert r.stats["n_links_dropped"] == 0 and r.stats["languages"] == {"xx": 64}
    assert r.stats["steps"] == 6 * 4 and r.stats["max_length"] == enc.max_length
    assert [h["epoch"] for h in r.history] == list(range(1, 7))
    assert set(r.history[0]) >= {"loss", "align_loss", "reg_loss", "seconds", "steps"}
    assert r.history[-1]["align_loss"] < r.history[0]["align_loss"]
    for h in r.history:
        assert h["loss"] == pytest.approx(h["align_loss"] + 0.01 * h["reg_loss"], rel=1e-5)
    assert not r.encoder.model.training
    assert all(p.requires_grad for p in r.encoder.model.parameters())  # as if loaded
    assert r.encoder.text_prefix == enc.text_prefix and r.encoder.tokenizer is enc.tokenizer
    assert r.encoder.fingerprint != enc.fingerprint
    assert r.encoder.fingerprint.startswith(enc.fingerprint + "+align-finetune:")
    assert r.encoder.info["alignment"]["loss"] == "l2"
    emb = r.encoder.model.get_input_embeddings().weight
    assert torch.equal(emb, enc.model.get_input_embeddings().weight)  # frozen by default


def test_input_encoder_unchanged(enc, before, l2_small_reg):
    after = state(enc)
    assert after.keys() == before.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert not enc.model.training
    trained = l2_small_reg.encoder.model.state_dict()
    assert any(not torch.equal(before[k], trained[k]) for k in before)


def test_same_seed_same_weights(enc, l2_small_reg):
    again = finetune_alignment(enc, TRAIN, loss="l2", reg_weight=0.01, **FAST)
    assert again.encoder.fingerprint == l2_small_reg.encoder.fingerprint


def test_regulariser_keeps_source_vectors(enc):
    src0 = np.concatenate(vectors(enc, HELD_OUT)[0])

    def drift(reg_weight: float) -> float:
        r = finetune_alignment(enc, TRAIN, loss="l2", reg_weight=reg_weight, **FAST)
        src = np.concatenate(vectors(r.encoder, HELD_OUT)[0])
        return float(np.mean(np.sum((src - src0) ** 2, axis=1)))

    free, held = drift(0.0), drift(10.0)
    assert held < 0.25 * free, (held, free)


def test_contrastive_raises_retrieval_accuracy(enc):
    acc0 = retrieval_accuracy(enc, HELD_OUT)
    r = finetune_alignment(enc, TRAIN, loss="contrastive", reg_weight=0.01, temperature=0.1,
                           epochs=20, lr=3e-3, progress=False)
    acc1 = retrieval_accuracy(r.encoder, HELD_OUT)
    assert acc0 < 0.3 and acc1 > 0.8, (acc0, acc1)
    assert r.history[-1]["align_loss"] < r.history[0]["align_loss"]


def test_dropped_links_and_skipped_pairs(enc):
    ok = AlignmentExample("de", ["the", "cat"], ["bq", "cq"], {(0, 1), (1, 0)})
    no_subword = AlignmentExample("fr", ["the", "\u200b"], ["bq", "cq"], {(1, 0)})
    long = AlignmentExample("de", ["the"] + ["dog"] * 20, ["bq"] * 21, {(0, 0), (20, 20)})
    r = finetune_alignment(enc, [ok, no_subword, long], max_length=16, epochs=1,
                           progress=False)
    assert r.stats["n_links"] == 5 and r.stats["n_links_used"] == 3
    assert r.stats["n_links_dropped"] == 2
    assert r.stats["n_pairs_used"] == 2 and r.stats["n_pairs_skipped"] == 1
    assert r.stats["languages"] == {"de": 2} and r.stats["n_truncated_sentences"] == 2


def test_layer_and_max_length_options(enc):
    r = finetune_alignment(enc, TRAIN[:8], layer=1, freeze_embeddings=False, batch_size=3,
                           max_length=10_000, epochs=2, progress=False)
    assert r.encoder.info["alignment"]["hyperparameters"]["layer"] == 1
    assert r.stats["max_length"] == enc.max_length and r.stats["steps"] == 2 * 3
    emb = r.encoder.model.get_input_embeddings().weight
    assert not torch.equal(emb, enc.model.get_input_embeddings().weight)


# --------------------------------------------------------------------------- saving
def test_save_and_reload(enc, l2_small_reg, tmp_path):
    out = save_aligned_encoder(l2_small_reg, tmp_path / "aligned", meta={"links_from": "argmax"})
    assert (out / "xlt_alignment.json").is_file()
    meta = json.loads((out / "xlt_alignment.json").read_text(encoding="utf-8"))
    assert meta["method"] == "finetune" and meta["loss"] == "l2" and meta["languages"] == ["xx"]
    assert meta["links_from"] == "argmax" and meta["counts"]["n_links_used"] > 0
    assert meta["hyperparameters"]["reg_weight"] == 0.01
    assert meta["base_model"]["fingerprint"] == enc.fingerprint
    loaded = load_encoder(str(out))
    assert loaded.text_prefix == "query: "
    a_src, a_tgt = vectors(l2_small_reg.encoder, HELD_OUT[:5])
    b_src, b_tgt = vectors(loaded, HELD_OUT[:5])
    for x, y in zip(a_src + a_tgt, b_src + b_tgt, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-5)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs", [
    {"loss": "cosine"}, {"batch_size": 0}, {"epochs": 0}, {"lr": 0.0}, {"lr": -1e-5},
    {"reg_weight": -0.1}, {"temperature": 0.0}, {"warmup": 1.5}, {"layer": 3},
    {"layer": -4}, {"layer": "all"}, {"layer": [1, 2]}, {"max_length": 2},
    {"batch_size": 1.5}, {"epochs": True},
])
def test_bad_hyperparameters_raise(enc, kwargs):
    with pytest.raises(ValueError):
        finetune_alignment(enc, TRAIN[:2], progress=False, **kwargs)


@pytest.mark.parametrize("examples", [
    [],
    [AlignmentExample("de", ["the"], ["bq"], set())],  # no link at all
    [AlignmentExample("de", ["\u200b"], ["bq"], {(0, 0)})],  # only a subword-less word
    [AlignmentExample("de", ["the"], ["bq"], {(0, 1)})],  # link outside the pair
    [AlignmentExample("de", "the cat", ["bq"], {(0, 0)})],  # words not a list
])
def test_bad_examples_raise(enc, examples):
    with pytest.raises(ValueError):
        finetune_alignment(enc, examples, progress=False)


def test_save_needs_dict_meta(l2_small_reg, tmp_path):
    with pytest.raises(ValueError):
        save_aligned_encoder(l2_small_reg, tmp_path, meta=None)  # type: ignore[arg-type]
