"""Tests for xlt.transfer (probe, finetune, run_transfer) on a tiny encoder and synthetic data.

The synthetic data (tests/fixtures.py) labels every word deterministically, so a working
probe or fine-tuning loop reaches (near) 100 % on the source language, far above the
majority-class baseline; the French file swaps NOUN and VERB, so its score is bounded by the
share of its other tokens. Expected values below are derived from the data, not from xlt.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import statistics
from collections import Counter

import numpy as np
import pytest
import torch
from fixtures import UPOS_OF

from xlt.data.langs import UnknownLanguageError
from xlt.data.tasks import UPOS_TAGS
from xlt.transfer.finetune import (
    IGNORE,
    Encoded,
    build_classifier,
    is_token_model,
    encode_sequence_examples,
    encode_token_examples,
    finetune,
    length_batches,
    length_sorted_chunks,
    predict_logits,
    with_soft_targets,
    word_predictions,
)
from xlt.transfer.probe import (
    ProbeResult,
    predict,
    sentence_feature_tensor,
    stack_token_features,
    train_probe,
)
from xlt.jobs.transfer import TransferConfig, run_transfer


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def tokens_of(sentences):
    return [[w for w, _ in s] for s in sentences]


def upos_ids(sentences):
    index = {t: i for i, t in enumerate(UPOS_TAGS)}
    return [[index[t] for _, t in s] for s in sentences]


def majority_share(labels) -> float:
    """Percent of the most frequent label (the majority-class baseline)."""
    c = Counter(labels)
    return 100.0 * c.most_common(1)[0][1] / sum(c.values())


# ============================================================================ probe
def separable(n=240, dim=16, n_labels=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(n_labels, dim, generator=g) * 3
    y = torch.arange(n) % n_labels
    X = centers[y] + 0.3 * torch.randn(n, dim, generator=g)
    return X.half(), y


def acc(head, X, y) -> float:
    return 100.0 * float((torch.from_numpy(predict(head, X)) == y).float().mean())


def test_train_probe_separable_reaches_100():
    X, y = separable()
    res = train_probe(X, y, 4, lambda h: acc(h, X, y), epochs=15, batch_size=32, lr=1e-2,
                      progress=False)
    assert isinstance(res, ProbeResult)
    assert acc(res.head, X, y) == 100.0
    assert [h["epoch"] for h in res.history] == list(range(1, 16))
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]
    assert not res.head.training  # returned in eval mode


def test_train_probe_3d_learns_the_informative_layer():
    X2, y = separable(seed=1)
    g = torch.Generator().manual_seed(2)
    noise = torch.randn(len(y), 2, X2.shape[1], generator=g).half()
    X = torch.stack([noise[:, 0], noise[:, 1], X2], dim=1)  # only layer 2 carries the class
    res = train_probe(X, y, 4, lambda h: acc(h, X, y), epochs=25, batch_size=32, lr=1e-2,
                      progress=False)
    assert res.head.mix is not None
    assert acc(res.head, X, y) >= 95.0
    w = res.head.mix.layer_weights()
    assert sum(w) == pytest.approx(1.0)
    assert int(np.argmax(w)) == 2


def test_train_probe_restores_the_best_dev_epoch():
    X, y = separable(n=120)
    scripted = [10.0, 40.0, 30.0, 40.0, 20.0]  # best = 40, first reached at epoch 2
    states, preds = [], []

    def dev_score(head):
        states.append(copy.deepcopy(head.state_dict()))
        preds.append(predict(head, X))
        return scripted[len(states) - 1]

    res = train_probe(X, y, 4, dev_score, epochs=5, batch_size=16, lr=1e-2, progress=False)
    assert res.best_epoch == 2
    assert [h["dev"] for h in res.history] == scripted
    final = res.head.state_dict()
    for k, v in final.items():
        assert torch.equal(v, states[1][k]), k
    # the weights really moved after epoch 2, so restoring was necessary
    assert any(not torch.equal(final[k], states[-1][k]) for k in final)
    np.testing.assert_array_equal(predict(res.head, X), preds[1])


def test_train_probe_rejects_bad_input():
    X, y = separable(n=8)
    with pytest.raises(ValueError):
        train_probe(X, y[:5], 4, lambda h: 0.0, epochs=1, progress=False)
    with pytest.raises(ValueError):
        train_probe(X[:0], y[:0], 4, lambda h: 0.0, epochs=1, progress=False)


def test_train_probe_seed_controls_init():
    X, y = separable(n=64)
    a = train_probe(X, y, 4, lambda h: 0.0, epochs=2, seed=0, progress=False)
    b = train_probe(X, y, 4, lambda h: 0.0, epochs=2, seed=0, progress=False)
    c = train_probe(X, y, 4, lambda h: 0.0, epochs=2, seed=1, progress=False)
    sa, sb, sc = a.head.state_dict(), b.head.state_dict(), c.head.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


def test_stack_token_features_2d():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)  # 2 words, dim 3
    b = np.arange(9, dtype=np.float32).reshape(3, 3) + 100  # 3 words
    out = stack_token_features([a, b])
    assert out.shape == (5, 3) and out.dtype == torch.float16
    np.testing.assert_array_equal(out.float().numpy(), np.vstack([a, b]))


def test_stack_token_features_3d_rows_are_words():
    L, d = 3, 2
    a = np.random.default_rng(0).normal(size=(L, 2, d)).astype(np.float32)
    b = np.random.default_rng(1).normal(size=(L, 4, d)).astype(np.float32)
    out = stack_token_features([a, b], dtype=torch.float32)
    assert out.shape == (6, L, d) and out.dtype == torch.float32
    for j in range(2):
        for layer in range(L):
            np.testing.assert_array_equal(out[j, layer].numpy(), a[layer, j])
    for j in range(4):
        for layer in range(L):
            np.testing.assert_array_equal(out[2 + j, layer].numpy(), b[layer, j])
    with pytest.raises(ValueError):
        stack_token_features([])


def test_sentence_feature_tensor_layouts():
    f2 = np.ones((5, 4), dtype=np.float32)
    assert sentence_feature_tensor(f2).shape == (5, 4)
    f3 = np.arange(3 * 5 * 4, dtype=np.float32).reshape(3, 5, 4)  # (layers, n, dim)
    t = sentence_feature_tensor(f3, dtype=torch.float32)
    assert t.shape == (5, 3, 4)
    np.testing.assert_array_equal(t[2, 1].numpy(), f3[1, 2])


# ========================================================================= finetune
SENT = ["The", "cats", "running", "dog"]
# by hand with the tiny vocabulary: [CLS] the cat ##s run ##n ##ing dog [SEP]
SENT_TOKENS = ["[CLS]", "the", "cat", "##s", "run", "##n", "##ing", "dog", "[SEP]"]
SENT_FIRSTS = [1, 2, 4, 7]


def test_encode_token_examples_labels_first_subwords(tiny):
    enc, _ = tiny
    labels = [[5, 7, 15, 7]]
    out = encode_token_examples(enc, [SENT], labels, max_length=64)
    ids = out.input_ids[0]
    assert enc.tokenizer.convert_ids_to_tokens(ids) == SENT_TOKENS
    assert out.first_subword == [SENT_FIRSTS]
    # the same positions from the tokenizer's own word_ids()
    word_ids = enc.tokenizer(SENT, is_split_into_words=True).word_ids()
    firsts = [word_ids.index(w) for w in range(len(SENT))]
    assert firsts == SENT_FIRSTS
    expected = [IGNORE] * len(SENT_TOKENS)
    for pos, lab in zip(SENT_FIRSTS, labels[0]):
        expected[pos] = lab
    assert out.labels[0] == expected
    assert out.n_truncated == 0


def test_encode_token_examples_prefix_words_get_no_label(tiny):
    enc, _ = tiny
    e5 = dataclasses.replace(enc, text_prefix="query: ")
    out = encode_token_examples(e5, [SENT], [[5, 7, 15, 7]], max_length=64)
    # "query:" pre-tokenises into "query" ":" -> two extra tokens after [CLS]
    assert e5.tokenizer.convert_ids_to_tokens(out.input_ids[0]) == (
        ["[CLS]", "query", ":"] + SENT_TOKENS[1:])
    assert out.first_subword == [[p + 2 for p in SENT_FIRSTS]]
    lab = out.labels[0]
    assert lab[1] == IGNORE and lab[2] == IGNORE
    assert [i for i, v in enumerate(lab) if v != IGNORE] == [p + 2 for p in SENT_FIRSTS]


def test_encode_token_examples_truncation(tiny):
    enc, _ = tiny
    # max_length 8 = [CLS] + 6 tokens + [SEP]: "the cat ##s run ##n ##ing" fit, "dog" does not
    out = encode_token_examples(enc, [SENT, ["a", "dog"]], [[5, 7, 15, 7], [5, 7]],
                                max_length=8)
    assert out.first_subword[0] == [1, 2, 4, -1]
    assert len(out.input_ids[0]) == 8
    assert out.labels[0].count(IGNORE) == 8 - 3  # only the 3 surviving words are labelled
    assert out.first_subword[1] == [1, 2]
    assert out.n_truncated == 1
    # a word cut in the middle: [CLS] the cat ##s run ##n [SEP]; "running" keeps its first
    # subword, but the example did not fit
    out = encode_token_examples(enc, [SENT[:3]], None, max_length=7)
    assert out.first_subword == [[1, 2, 4]]
    assert out.n_truncated == 1
    assert all(v == IGNORE for v in out.labels[0])  # no labels given


def test_encode_token_examples_subwordless_last_word_is_not_truncation(tiny):
    enc, _ = tiny
    # "\x07" is removed by the normaliser: no subword, but nothing was cut off
    out = encode_token_examples(enc, [["a", "dog", "\x07"]], [[5, 7, 12]], max_length=64)
    assert out.first_subword == [[1, 2, -1]]
    assert out.n_truncated == 0


def test_word_predictions_fallback():
    logits = [np.array([[0.0, 0.0, 0.0], [0.1, 0.9, 0.0], [5.0, 0.0, 0.0], [0.0, 0.2, 0.8]])]
    data = Encoded(input_ids=[[0, 1, 2, 3]], labels=[[]], first_subword=[[1, -1, 3, 2]])
    assert word_predictions(logits, data, fallback=7) == [[1, 7, 2, 0]]


def test_length_batches_cover_every_index_once():
    lengths = [5, 1, 9, 3, 3, 7, 2, 9, 4, 6, 1]
    batches = length_batches(lengths, 3)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert [len(b) for b in batches] == [3, 3, 3, 2]
    ordered = [lengths[i] for i in flat]
    assert ordered == sorted(lengths, reverse=True)  # longest first
    assert length_batches([], 4) == []


def test_encode_sequence_examples_truncation_keeps_sep(tiny):
    enc, _ = tiny
    vocab = enc.tokenizer.get_vocab()
    out = encode_sequence_examples(enc, ["the cats", "the dog sat on the mat and it is big"],
                                   [2, 0], max_length=6)
    assert out.input_ids[0] == [vocab[t] for t in ["[CLS]", "the", "cat", "##s", "[SEP]"]]
    assert out.input_ids[1] == [vocab[t] for t in ["[CLS]", "the", "dog", "sat", "on", "[SEP]"]]
    assert out.n_truncated == 1 and out.labels == [2, 0]
    e5 = dataclasses.replace(enc, text_prefix="query: ")
    out = encode_sequence_examples(e5, ["dog"], None, max_length=64)
    assert out.input_ids[0] == [vocab[t] for t in ["[CLS]", "query", ":", "dog", "[SEP]"]]


def test_predict_logits_restores_input_order(tiny):
    enc, _ = tiny
    torch.manual_seed(0)
    model = build_classifier(enc, [str(i) for i in range(5)], token_task=True).eval()
    sents = [["a"], ["the", "cats", "sat", "on", "the", "mat"], ["dog", "running"], ["big"]]
    data = encode_token_examples(enc, sents, None, max_length=64)
    out = predict_logits(model, data, enc.tokenizer.pad_token_id, batch_size=2)
    assert len(out) == len(sents)
    for ids, lg in zip(data.input_ids, out):
        with torch.no_grad():
            alone = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)).logits[0]
        assert lg.shape == (len(ids), 5)
        np.testing.assert_allclose(lg, alone.numpy(), atol=1e-5)


def _udpos_train(enc, data, n=40):
    sents = data.token_files["udpos/train-en.tsv"][:n]
    return sents, encode_token_examples(enc, tokens_of(sents), upos_ids(sents), max_length=32)


def _state(model):
    return {k: v.detach().float().clone() for k, v in model.state_dict().items()}


def test_finetune_reduces_loss_and_learns(tiny, data):
    enc, _ = tiny
    before = _state(enc.model)
    sents, train = _udpos_train(enc, data)
    seen = []

    def dev_score(model):
        seen.append(model)
        return 0.0

    # the tiny model's embeddings are random, so they are trained here (real models' are not)
    res = finetune(enc, train, len(UPOS_TAGS), True, dev_score, epochs=4, batch_size=8,
                   lr=3e-3, freeze_embeddings=False, progress=False)
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 4 and all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0]
    assert len(seen) == 4 and all(is_token_model(m) for m in seen)
    # it learned the word -> tag mapping of the training data
    pred = word_predictions(predict_logits(res.model, train, enc.tokenizer.pad_token_id), train, 0)
    gold = upos_ids(sents)
    flat_pred = [p for s in pred for p in s]
    flat_gold = [g for s in gold for g in s]
    accuracy = 100.0 * np.mean([p == g for p, g in zip(flat_pred, flat_gold)])
    assert accuracy > majority_share(flat_gold) + 40
    assert not res.model.training
    # the caller's encoder is untouched
    after = _state(enc.model)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_with_soft_targets_puts_word_distributions_on_their_labelled_pieces(tiny):
    enc, _ = tiny
    # [CLS] the cat ##s run ##n ##ing [SEP] at max_length 8: "dog" (word 3) is cut off
    out = encode_token_examples(enc, [SENT, ["a", "dog"]], [[5, 7, 15, 7], [5, 7]], max_length=8)
    words = np.arange(4 * 3, dtype=np.float32).reshape(4, 3)
    soft = with_soft_targets(out, [words, None], token_task=True)
    assert soft.soft[1] is None and soft.input_ids is out.input_ids and out.soft is None
    rows = soft.soft[0]
    assert rows.shape == (8, 3)
    for w, pos in enumerate([1, 2, 4]):  # the labelled pieces, by hand (SENT_FIRSTS within the cut)
        assert rows[pos].tolist() == words[w].tolist()
    assert not rows[[0, 3, 5, 6, 7]].any()  # [CLS], continuation pieces, [SEP]: no target
    seq = with_soft_targets(out, [np.array([0.2, 0.8]), None], token_task=False)
    assert seq.soft[0].tolist() == pytest.approx([0.2, 0.8])
    with pytest.raises(ValueError, match="for a sentence of 4 words"):
        with_soft_targets(out, [words[:2], None], token_task=True)
    with pytest.raises(ValueError, match="1 soft targets for 2 examples"):
        with_soft_targets(out, [words], token_task=True)


def test_one_hot_soft_targets_train_exactly_as_hard_labels(tiny, data):
    """Cross-entropy against a one-hot row is the cross-entropy of its label, so a run whose soft
    targets are the labels' one-hot rows ends with the hard run's weights; other targets do not."""
    enc, _ = tiny
    sents, train = _udpos_train(enc, data, n=16)
    ids = upos_ids(sents)
    eye = np.eye(len(UPOS_TAGS), dtype=np.float32)
    one_hot = [eye[s] if i % 2 else None for i, s in enumerate(ids)]  # half soft, half hard
    run = dict(epochs=1, batch_size=4, lr=3e-3, freeze_embeddings=False, progress=False, seed=3)
    hard = finetune(enc, train, len(UPOS_TAGS), True, lambda m: 0.0, **run)
    soft = finetune(enc, with_soft_targets(train, one_hot, True), len(UPOS_TAGS), True, lambda m: 0.0, **run)
    a, b = _state(hard.model), _state(soft.model)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert hard.history[0]["loss"] == pytest.approx(soft.history[0]["loss"], rel=1e-5)
    uniform = [np.full_like(t, 1 / len(UPOS_TAGS)) if t is not None else None for t in one_hot]
    other = finetune(enc, with_soft_targets(train, uniform, True), len(UPOS_TAGS), True, lambda m: 0.0, **run)
    c = _state(other.model)
    assert not all(torch.allclose(a[k], c[k], atol=1e-5) for k in a)


def test_a_checkpoint_of_other_soft_targets_is_not_resumed(tiny, data, tmp_path):
    from xlt.transfer.checkpoint import CheckpointError

    enc, _ = tiny
    _, train = _udpos_train(enc, data, n=8)
    first = [np.full((len(f), len(UPOS_TAGS)), 1 / len(UPOS_TAGS), np.float32) for f in train.first_subword]
    second = [t.copy() for t in first]
    second[0][0] = np.eye(len(UPOS_TAGS), dtype=np.float32)[0]  # one word's target differs
    run = dict(epochs=1, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    finetune(enc, with_soft_targets(train, first, True), len(UPOS_TAGS), True, lambda m: 0.0, **run)
    with pytest.raises(CheckpointError, match="soft"):
        finetune(enc, with_soft_targets(train, second, True), len(UPOS_TAGS), True, lambda m: 0.0, resume=True, **run)
    finetune(enc, with_soft_targets(train, first, True), len(UPOS_TAGS), True, lambda m: 0.0, resume=True, **run)


def test_finetune_ckpt_avg_is_mean_of_last_epochs(tiny, data):
    enc, _ = tiny
    _, train = _udpos_train(enc, data, n=24)
    states = []

    def dev_score(model):
        states.append(_state(model))
        return float(len(states))  # would pick the last epoch if averaging were ignored

    res = finetune(enc, train, len(UPOS_TAGS), True, dev_score, epochs=3, batch_size=8, lr=3e-3,
                   ckpt_avg=2, progress=False)
    assert len(states) == 3
    assert res.selected == "average of the last 2 epochs"
    final = _state(res.model)
    assert set(final) == set(states[-1])
    differs = False
    for k, v in final.items():
        expected = (states[1][k] + states[2][k]) / 2
        torch.testing.assert_close(v, expected, rtol=0, atol=1e-6)
        differs |= not torch.allclose(v, states[2][k])
    assert differs  # the average is not just the last epoch


def test_finetune_on_epoch_end_sees_every_epochs_weights(tiny, data):
    enc, _ = tiny
    _, train = _udpos_train(enc, data, n=24)
    seen_by_dev, calls = [], []

    def dev_score(model):
        seen_by_dev.append(_state(model))
        return 50.0 - len(seen_by_dev)  # epoch 1 is the best on dev

    def on_epoch_end(epoch, record, model):
        calls.append((epoch, record, _state(model)))

    res = finetune(enc, train, len(UPOS_TAGS), True, dev_score, epochs=3, batch_size=8, lr=3e-3,
                   ckpt_avg=3, progress=False, on_epoch_end=on_epoch_end)
    assert [c[0] for c in calls] == [1, 2, 3]
    assert [c[1] for c in calls] == res.history and [c[1]["dev"] for c in calls] == [49.0, 48.0, 47.0]
    for (_, _, hooked), dev_state in zip(calls, seen_by_dev):  # the epoch's weights, as dev scored them
        assert all(torch.equal(hooked[k], dev_state[k]) for k in hooked)
    assert not all(torch.equal(calls[0][2][k], calls[2][2][k]) for k in calls[0][2])
    # checkpoint averaging over all 3 epochs is the mean of what the hook was given
    final = _state(res.model)
    for k, v in final.items():
        torch.testing.assert_close(v, sum(c[2][k] for c in calls) / 3, rtol=0, atol=1e-6)


def test_finetune_data_seed_changes_the_order_alone(tiny, data, monkeypatch):
    """``data_seed`` takes the data order from another seed and leaves the initial weights."""
    import xlt.transfer.finetune as ft

    enc, _ = tiny
    _, train = _udpos_train(enc, data, n=24)
    built, batches = [], []
    original_build, original_collate = ft.build_classifier, ft._collate

    def recording_build(*a, **kw):
        model = original_build(*a, **kw)
        built.append(_state(model))  # the weights training starts from
        return model

    def recording_collate(pad_id, token_task):
        collate = original_collate(pad_id, token_task)

        def record(items):
            batches[-1].append([tuple(ids) for ids, _ in items])
            return collate(items)

        return record

    monkeypatch.setattr(ft, "build_classifier", recording_build)
    monkeypatch.setattr(ft, "_collate", recording_collate)
    finals = {}
    for seed, data_seed in ((0, None), (1, None), (0, 1)):
        batches.append([])
        res = finetune(enc, train, len(UPOS_TAGS), True, lambda m: 0.0, epochs=2, batch_size=8, lr=3e-3,
                       seed=seed, data_seed=data_seed, progress=False)
        finals[seed, data_seed] = _state(res.model)
    start = dict(zip([(0, None), (1, None), (0, 1)], built))
    order = dict(zip([(0, None), (1, None), (0, 1)], batches))
    same = lambda a, b: all(torch.equal(a[k], b[k]) for k in a)  # noqa: E731
    assert same(start[0, 1], start[0, None]) and not same(start[0, 1], start[1, None])
    assert order[0, 1] == order[1, None] and order[0, 1] != order[0, None]
    assert not same(finals[0, 1], finals[0, None])


def test_length_sorted_chunks_cover_the_batch_longest_first():
    lengths = [5, 1, 9, 3, 3, 7, 2, 9, 4, 6, 1]
    chunks = length_sorted_chunks([10, 2, 4, 7, 0, 3], lengths, 4)
    # lengths of 10, 2, 4, 7, 0, 3: 1, 9, 3, 9, 5, 3 -> 9 9 5 3 | 3 1 (ties keep their order)
    assert chunks == [[2, 7, 0, 4], [3, 10]]
    assert length_sorted_chunks([1, 0], lengths, 1) == [[0], [1]]
    assert length_sorted_chunks([], lengths, 3) == []


def test_finetune_micro_batches_give_the_whole_batch_update(tiny, data):
    """Gradient accumulation over length-sorted parts of a batch is the whole batch's gradient.

    The tiny model has no dropout, so with the same seed (same batches, same head) the two runs
    must end at the same weights up to float rounding, although they pad differently.
    """
    enc, _ = tiny
    _, train = _udpos_train(enc, data, n=30)
    lengths = {len(x) for x in train.input_ids}
    assert len(lengths) > 3  # examples of different lengths, so the parts are padded differently
    kw = dict(epochs=2, batch_size=8, lr=3e-3, freeze_embeddings=False, progress=False, seed=3)
    whole = finetune(enc, train, len(UPOS_TAGS), True, lambda m: 0.0, **kw)
    parts = finetune(enc, train, len(UPOS_TAGS), True, lambda m: 0.0, micro_batch_size=3, **kw)
    a, b, start = _state(whole.model), _state(parts.model), _state(enc.model)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=2e-5)
    moved = max(float((a[k] - start[k.split(".", 1)[1]]).abs().max()) for k in a if k.split(".", 1)[1] in start)
    assert moved > 1e-3  # the comparison is between trained weights, not two untouched copies
    for h1, h2 in zip(whole.history, parts.history):
        assert h2["loss"] == pytest.approx(h1["loss"], rel=1e-5)
    with pytest.raises(ValueError, match="micro_batch_size"):
        finetune(enc, train, len(UPOS_TAGS), True, lambda m: 0.0, micro_batch_size=-1, **kw)


def test_finetune_keeps_best_dev_epoch(tiny, data):
    enc, _ = tiny
    _, train = _udpos_train(enc, data, n=24)
    scripted = [5.0, 9.0, 7.0]
    states = []

    def dev_score(model):
        states.append(_state(model))
        return scripted[len(states) - 1]

    res = finetune(enc, train, len(UPOS_TAGS), True, dev_score, epochs=3, batch_size=8, lr=3e-3,
                   progress=False)
    assert "(2)" in res.selected
    final = _state(res.model)
    assert all(torch.equal(final[k], states[1][k]) for k in final)
    assert any(not torch.equal(final[k], states[2][k]) for k in final)


# ===================================================================== run_transfer
def _probe_cfg(spec, data, tmp_path, **kw):
    base = dict(task="udpos", model=spec, data_dir=str(data.root), mode="probe", epochs=30,
                lr=1e-2, batch_size=32, progress=False, out=str(tmp_path / "out"))
    base.update(kw)
    return TransferConfig(**base)


def _check_counts(report, data, files):
    for lang, rel in files.items():
        c = report["counts"][lang]
        if rel in data.token_files:
            sents = data.token_files[rel]
            assert c["sentences"] == len(sents)
            assert c["tokens"] == sum(len(s) for s in sents)
        else:
            assert c["sentences"] == len(data.text_files[rel])
            assert c["tokens"] is None  # raw texts: no token count
        assert c["skipped_empty"] == data.empty[rel]


def test_run_transfer_probe_udpos(tiny, data, tmp_path):
    _, spec = tiny
    report = run_transfer(_probe_cfg(spec, data, tmp_path), command=["xlt", "transfer"])
    scores = report["scores"]
    assert report["source"] == "en" and report["metric"] == "accuracy"
    assert set(scores) == {"en", "de", "fr"}
    assert report["n_targets"] == 2
    # XTREME average: mean over targets, source excluded
    assert report["average"] == pytest.approx((scores["de"] + scores["fr"]) / 2)
    assert report["average_std"] == 0.0  # one seed

    files = {"en": "udpos/test-en.tsv", "de": "udpos/test-de.tsv", "fr": "udpos/test-fr.tsv"}
    _check_counts(report, data, files)
    assert report["counts"]["de"]["skipped_empty"] == 1
    src = report["source_counts"]
    assert src["train"]["sentences"] == len(data.token_files["udpos/train-en.tsv"])
    assert src["dev"]["sentences"] == len(data.token_files["udpos/dev-en.tsv"])

    # learned: far above the majority baseline on the source and on German (same mapping)
    en_gold = [t for s in data.token_files["udpos/test-en.tsv"] for _, t in s]
    assert scores["en"] > majority_share(en_gold) + 40
    assert scores["de"] >= 90.0
    # French swaps NOUN/VERB: a model that learned the English mapping can only be right on
    # the tokens whose French label equals the English one
    fr = [(w, t) for s in data.token_files["udpos/test-fr.tsv"] for w, t in s]
    oracle = 100.0 * sum(UPOS_OF[w] == t for w, t in fr) / len(fr)
    assert abs(scores["fr"] - oracle) <= 5.0
    assert scores["fr"] < scores["de"] - 20

    assert list(report["per_seed"]) == ["0"]
    assert report["per_seed"]["0"] == pytest.approx(scores)
    assert report["training"]["0"][-1]["layer_weights"]  # mix weights recorded
    assert len(report["training"]["0"][-1]["layer_weights"]) == 3  # tiny: 2 layers + embeddings

    out = tmp_path / "out"
    on_disk = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert on_disk["scores"] == pytest.approx(scores)
    assert on_disk["command"] == ["xlt", "transfer"]
    md = (out / "report.md").read_text(encoding="utf-8")
    for lang in ("en", "de", "fr"):
        assert f"{scores[lang]:.2f}" in md
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_transfer_probe_two_seeds(tiny, data, tmp_path):
    _, spec = tiny
    report = run_transfer(_probe_cfg(spec, data, tmp_path, task="panx", seeds=[0, 1], out=None))
    assert report["metric"] == "f1"
    assert set(report["per_seed"]) == {"0", "1"}
    assert set(report["scores"]) == {"en", "de"}
    for lang in ("en", "de"):
        vals = [report["per_seed"][s][lang] for s in ("0", "1")]
        assert report["scores"][lang] == pytest.approx(sum(vals) / 2)
        assert report["scores_std"][lang] == pytest.approx(statistics.stdev(vals))
    seed_avgs = [report["per_seed"][s]["de"] for s in ("0", "1")]  # the only target
    assert report["average"] == pytest.approx(sum(seed_avgs) / 2)
    assert report["average_std"] == pytest.approx(statistics.stdev(seed_avgs))
    assert report["scores"]["en"] >= 90.0  # entity F1; the majority class (O) would score 0
    _check_counts(report, data, {"en": "panx/dev-en.tsv", "de": "panx/dev-de.tsv"})
    # the seeds trained different heads
    losses = {s: [h["loss"] for h in report["training"][s] if "loss" in h] for s in ("0", "1")}
    assert losses["0"] != losses["1"]
    assert not (tmp_path / "out").exists()  # out=None writes nothing


def test_run_transfer_finetune_udpos(tiny, data, tmp_path):
    _, spec = tiny
    cfg = TransferConfig(task="udpos", targets="de", model=spec, data_dir=str(data.root),
                         mode="finetune", epochs=4, lr=3e-3, batch_size=8, max_length=32,
                         train_limit=40, seeds=[0, 1], progress=False, out=str(tmp_path / "ft"))
    report = run_transfer(cfg)
    assert set(report["scores"]) == {"en", "de"} and report["n_targets"] == 1
    assert report["average"] == pytest.approx(report["scores"]["de"])
    assert set(report["per_seed"]) == {"0", "1"} and set(report["selection"]) == {"0", "1"}
    # one model per seed: different seeds, different training runs
    assert ([h["loss"] for h in report["training"]["0"]]
            != [h["loss"] for h in report["training"]["1"]])
    assert report["source_counts"]["train"]["sentences"] == 40
    en_gold = [t for s in data.token_files["udpos/test-en.tsv"] for _, t in s]
    assert report["scores"]["en"] > majority_share(en_gold) + 30
    assert "best source-dev epoch" in report["selection"]["0"]
    assert report["config"]["epochs"] == 4 and report["config"]["lr"] == 3e-3
    _check_counts(report, data, {"en": "udpos/test-en.tsv", "de": "udpos/test-de.tsv"})
    assert report["counts"]["de"]["truncated"] == 0
    assert (tmp_path / "ft" / "report.json").is_file()


@pytest.mark.parametrize("mode", ["probe", "finetune"])
def test_run_transfer_sib200(tiny, data, tmp_path, mode):
    _, spec = tiny
    kw = (dict(epochs=30, lr=1e-2, batch_size=32) if mode == "probe"
          else dict(epochs=3, lr=1e-3, batch_size=16, max_length=32, freeze_embeddings=False))
    cfg = TransferConfig(task="sib200", source="en", model=spec, data_dir=str(data.root),
                         mode=mode, progress=False, out=str(tmp_path / mode), **kw)
    report = run_transfer(cfg)
    assert report["source"] == "eng_Latn"
    assert set(report["scores"]) == {"eng_Latn", "deu_Latn"}
    assert report["average"] == pytest.approx(report["scores"]["deu_Latn"])
    _check_counts(report, data, {"eng_Latn": "sib200/eng_Latn/test.tsv",
                                 "deu_Latn": "sib200/deu_Latn/test.tsv"})
    assert report["counts"]["deu_Latn"]["skipped_empty"] == 1
    gold = [c for _, c, _ in data.text_files["sib200/eng_Latn/test.tsv"]]
    assert report["scores"]["eng_Latn"] > majority_share(gold) + 40
    assert {"health", "sports", "travel"} <= set(report["labels"])
    assert (tmp_path / mode / "scores.png").is_file()


def test_run_transfer_errors(tiny, data, tmp_path):
    _, spec = tiny
    with pytest.raises(ValueError, match="mode"):
        run_transfer(_probe_cfg(spec, data, tmp_path, task="udpos", mode="zero-shot"))
    with pytest.raises(UnknownLanguageError) as info:
        run_transfer(_probe_cfg(spec, data, tmp_path, task="udpos", targets="de,ja"))
    assert {"de", "en", "fr"} <= set(info.value.available)


@pytest.mark.parametrize("freeze", [True, False])
def test_finetune_freeze_embeddings(tiny, data, freeze):
    enc, _ = tiny
    _, train = _udpos_train(enc, data, n=16)
    res = finetune(enc, train, len(UPOS_TAGS), True, lambda m: 0.0, epochs=1, batch_size=8, lr=3e-3,
                   freeze_embeddings=freeze, progress=False)
    key = "embeddings.word_embeddings.weight"
    before = enc.model.state_dict()[key]
    after = res.model.base_model.state_dict()[key]
    seen = sorted({t for ids in train.input_ids for t in ids})
    assert torch.equal(before, after) == freeze
    if not freeze:  # rows of training tokens get gradients; others only feel weight decay
        unseen = [t for t in range(before.shape[0]) if t not in set(seen)]
        moved_seen = (after[seen] - before[seen]).norm(dim=1).mean()
        moved_unseen = (after[unseen] - before[unseen]).norm(dim=1).mean()
        assert moved_seen > 5 * moved_unseen
    # the transformer layers are trained either way
    q = "encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(enc.model.state_dict()[q], res.model.base_model.state_dict()[q])


def test_malformed_target_file_fails_before_the_model_is_loaded(tiny, tmp_path, monkeypatch):
    import xlt.jobs.transfer as run_module
    from xlt.data.readers import DataFormatError

    from fixtures import make_synthetic_data

    _, spec = tiny
    data = make_synthetic_data(tmp_path / "data")
    bad = data.root / "udpos" / "test-de.tsv"
    lines = bad.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "no-tab-here")
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the data was checked")

    monkeypatch.setattr(run_module, "load_encoder", no_model)
    cfg = TransferConfig(task="udpos", model=spec, data_dir=str(data.root), progress=False)
    with pytest.raises(DataFormatError) as info:
        run_transfer(cfg)
    assert info.value.line == 4 and info.value.path == bad


@pytest.mark.parametrize("mode", ["probe", "finetune"])
def test_seed_ensemble_is_the_mean_of_the_seeds_probabilities(tiny, data, tmp_path, mode):
    """--seed-ensemble scores each language with the seeds' models pooled; the reference is the
    library's weighted opinion pool (``ensemble_proba``, hand-checked in test_matrix) over the
    returned models, applied through ``predict_proba`` (the saved-model path, not the trainer's)."""
    from xlt.core.metrics import score
    from xlt.jobs.transfer import transfer_result
    from xlt.transfer.ensemble import ensemble_proba
    from xlt.transfer.model import decode_probas

    _, spec = tiny
    kw = (dict(epochs=3, lr=1e-2, batch_size=32) if mode == "probe"
          else dict(epochs=2, lr=3e-3, batch_size=8, max_length=32, train_limit=40))
    cfg = TransferConfig(task="panx", targets="de", model=spec, data_dir=str(data.root), mode=mode,
                         seeds=[0, 1], seed_ensemble=True, progress=False, out=str(tmp_path / "out"), **kw)
    res = transfer_result(cfg)
    ens = res.report["seed_ensemble"]
    assert ens["seeds"] == [0, 1] and set(ens["scores"]) == {"en", "de"}
    assert ens["average"] == pytest.approx(ens["scores"]["de"])
    models = [res.models[0], res.models[1]]
    for lang, split in res.dataset.eval.items():
        labels, pooled = ensemble_proba(models, [1.0, 1.0], split.examples, lang)
        expected = score(res.report["metric"], res.dataset.kind.gold(split.examples),
                         decode_probas(res.dataset.kind, labels, pooled))
        assert ens["scores"][lang] == pytest.approx(expected, abs=1e-9)
        one = [m.predict_proba(split.examples, lang) for m in models]
        assert any(not np.allclose(a, b) for a, b in zip(*one))  # two different models were pooled
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "Ensemble of the 2 seeds" in md and f"{ens['average']:.2f}" in md


@pytest.mark.parametrize("bad", [dict(seeds=[0]), dict(seeds=[0, 1], matrix=True, source="en,de")])
def test_seed_ensemble_needs_several_seeds_of_one_run(bad):
    from xlt.jobs import ConfigError

    with pytest.raises(ConfigError, match="--seed-ensemble"):
        TransferConfig(task="panx", seed_ensemble=True, out="x", **bad).validate()
