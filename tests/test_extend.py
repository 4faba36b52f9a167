"""Vocabulary extension and replacement (issue 14): :mod:`xlt.adapt.extend`, `xlt adapt extend`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xlt.adapt.extend import extend_vocabulary, sparsemax
from xlt.cli import main

pytestmark = pytest.mark.usefixtures("single_torch_thread")

OLD_TEXT = ["the cat sat on the mat", "a big dog ran to the house", "the small cat is happy"] * 30
NEW_TEXT = ["kilimanjaro ni mlima mrefu", "mlima mrefu sana kilimanjaro", "watoto wanacheza mpira",
            "mpira ni mzuri sana", "watoto ni wazuri"] * 20


@pytest.fixture(scope="module")
def unigram_encoder(tmp_path_factory):
    """A tiny random BERT with a SentencePiece-style Unigram tokenizer learnt on English-like text."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    from xlt.models.loading import load_encoder

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(OLD_TEXT, trainers.UnigramTrainer(vocab_size=60, special_tokens=specials,
                                                              unk_token="<unk>", show_progress=False))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
                                   model_max_length=64)
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(fast), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=64, pad_token_id=1))
    folder = tmp_path_factory.mktemp("unigram") / "model"
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return load_encoder(str(folder)), str(folder)


def test_sparsemax_hand_worked():
    # z = (1, 0.5, -1): support {1, 2}, tau = (1 + 0.5 - 1) / 2 = 0.25 -> (0.75, 0.25, 0)
    assert sparsemax(np.array([1.0, 0.5, -1.0])) == pytest.approx([0.75, 0.25, 0.0])
    assert sparsemax(np.array([3.0, 0.0])) == pytest.approx([1.0, 0.0])  # a clear winner takes all
    assert sparsemax(np.zeros(4)) == pytest.approx([0.25] * 4)


def test_extend_keeps_old_pieces_and_initialises_new_ones_from_them(unigram_encoder):
    enc, _ = unigram_encoder
    old = enc.model.get_input_embeddings().weight.detach().numpy()
    new, res = extend_vocabulary(enc, NEW_TEXT, vocab_size=40, mode="extend", init="focus")
    emb = new.model.get_input_embeddings().weight.detach().numpy()
    n_old = len(enc.tokenizer)
    assert res.vocab_after == len(new.tokenizer) == emb.shape[0] > n_old
    assert np.array_equal(emb[:n_old], old[:n_old])  # old pieces: same ids, same rows
    assert new.tokenizer.convert_ids_to_tokens(list(range(n_old))) == enc.tokenizer.convert_ids_to_tokens(
        list(range(n_old)))
    # new text: fewer pieces per word with its own vocabulary
    assert res.tokens_per_word["new"] < res.tokens_per_word["old"]
    # every new row is a convex combination of old rows (sparsemax weights) or a mean of them
    lo, hi = old.min(0) - 1e-6, old.max(0) + 1e-6
    assert np.all((emb[n_old:] >= lo) & (emb[n_old:] <= hi))
    assert res.initialised + res.fallback == emb.shape[0] - n_old


def test_replace_and_random_init(unigram_encoder):
    enc, _ = unigram_encoder
    old = enc.model.get_input_embeddings().weight.detach().numpy()
    new, res = extend_vocabulary(enc, NEW_TEXT, vocab_size=40, mode="replace", init="random")
    emb = new.model.get_input_embeddings().weight.detach().numpy()
    assert res.vocab_after == len(new.tokenizer) == emb.shape[0] <= 40
    old_ids = enc.tokenizer.get_vocab()
    for piece, i in new.tokenizer.get_vocab().items():  # the overlap is copied
        if piece in old_ids:
            assert np.array_equal(emb[i], old[old_ids[piece]])
    assert res.overlap == sum(p in old_ids for p in new.tokenizer.get_vocab())
    with pytest.raises(ValueError, match="mode"):
        extend_vocabulary(enc, NEW_TEXT, mode="grow")


def test_adapt_extend_command(unigram_encoder, tmp_path, tiny, capsys):
    _, spec = unigram_encoder
    text = tmp_path / "sw.txt"
    text.write_text("\n".join(NEW_TEXT), encoding="utf-8")
    out = tmp_path / "ext"
    assert main(["adapt", "extend", "--model", spec, "--langs", "sw", "--text", f"sw={text}", "--vocab-size", "40",
                 "--steps", "5", "--batch-size", "4", "--min-sentences", "50", "--no-progress", "--out", str(out)]) == 0
    rep = json.loads((out / "extend_report.json").read_text(encoding="utf-8"))
    assert rep["vocabulary"]["vocab_after"] > rep["vocabulary"]["vocab_before"] and len(rep["loss_curve"]) == 1
    from xlt.models.loading import load_encoder

    assert len(load_encoder(str(out)).tokenizer) == rep["vocabulary"]["vocab_after"]
    # a WordPiece model has no Unigram vocabulary to learn a new one beside: a clear error
    assert main(["adapt", "extend", "--model", tiny[1], "--langs", "sw", "--text", f"sw={text}", "--min-sentences", "50",
                 "--out", str(tmp_path / "x")]) == 2
    assert "Unigram" in capsys.readouterr().err
