"""Continued pretraining with MLM (issue 14): `xlt adapt mlm` and :mod:`xlt.adapt.mlm`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from xlt.adapt.mlm import MlmHead, continue_pretraining
from xlt.cli import main

pytestmark = pytest.mark.usefixtures("single_torch_thread")

TEXT = ["the cat sat on the mat", "a big dog is happy", "the small house of the cat", "it is walking to the house",
        "the dog sat in the house", "a happy cat is small"] * 12


def test_head_is_tied_to_the_embeddings(tiny):
    encoder, _ = tiny
    emb = encoder.model.get_input_embeddings()
    head = MlmHead(emb)
    h = torch.randn(3, emb.weight.shape[1])
    # by hand: LayerNorm(gelu(W h + b)) E^T + bias
    x = torch.nn.functional.layer_norm(torch.nn.functional.gelu(h @ head.dense.weight.T + head.dense.bias),
                                       (h.shape[1],), head.norm.weight, head.norm.bias, 1e-12)
    assert torch.allclose(head(h), x @ emb.weight.T, atol=1e-5)
    assert head.embeddings.weight is emb.weight  # shared, not copied


@pytest.mark.parametrize("lora", [False, True])
def test_mlm_lowers_the_held_out_loss(tiny, lora):
    encoder, _ = tiny
    before = {n: p.detach().clone() for n, p in encoder.model.named_parameters()}
    adapted, res = continue_pretraining(encoder, TEXT, steps=80, batch_size=8, lr=3e-3 if lora else 1e-3,
                                        progress=False, lora=lora, dev_fraction=0.2)
    assert res.head_steps == 20 and res.dev_loss_before < res.dev_loss_random_head  # the head learnt first
    assert res.dev_loss_after < res.dev_loss_before - 0.1  # then the encoder
    assert all(torch.equal(p, before[n]) for n, p in encoder.model.named_parameters())  # the input model is kept
    assert type(adapted.model) is type(encoder.model)  # LoRA merged: the same architecture
    changed = {n for n, p in adapted.model.named_parameters() if not torch.equal(p, before[n])}
    if lora:
        assert changed == {n for n in before if n.endswith(("query.weight", "value.weight"))}
        assert res.trainable < res.total / 5
    else:
        assert "embeddings.word_embeddings.weight" in changed
    assert res.history and res.history[-1]["step"] == 80


def test_adapt_mlm_command(tiny, tmp_path, capsys):
    _, spec = tiny
    text = tmp_path / "xx.txt"
    text.write_text("\n".join(TEXT), encoding="utf-8")
    out = tmp_path / "adapted"
    assert main(["adapt", "mlm", "--model", spec, "--langs", "en", "--text", f"en={text}", "--steps", "30",
                 "--batch-size", "8", "--lr", "1e-3", "--min-sentences", "50", "--no-progress",
                 "--out", str(out)]) == 0
    rep = json.loads((out / "mlm_report.json").read_text(encoding="utf-8"))
    assert rep["dev_loss_after"] < rep["dev_loss_before"] and len(rep["loss_curve"]) == 3
    from xlt.models.features import encode_sentences
    from xlt.models.loading import load_encoder

    a = encode_sentences(load_encoder(str(out)), TEXT[:3], progress=False)
    b = encode_sentences(load_encoder(spec), TEXT[:3], progress=False)
    assert a.shape == b.shape and not np.allclose(a, b)  # a loadable, changed encoder
    assert main(["adapt", "mlm", "--model", spec, "--langs", "en", "--text", f"en={text}", "--out", str(out)]) == 2
    assert "at least 200 sentences" in capsys.readouterr().err
