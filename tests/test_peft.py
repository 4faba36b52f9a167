"""Parameter-efficient fine-tuning (issue 14): LoRA, BitFit and bottleneck adapters."""

from __future__ import annotations

import json

import pytest
import torch

from xlt.adapt.peft import BottleneckAdapter, PeftError, PeftSettings, apply_peft, count_parameters, finish_peft
from xlt.cli import main
from xlt.transfer.finetune import build_classifier

pytestmark = pytest.mark.usefixtures("single_torch_thread")

H, LAYERS, N_LABELS = 32, 2, 3  # the tiny BERT of tests/helpers.py, a 3-label head


def _model(tiny):
    encoder, _ = tiny
    torch.manual_seed(0)
    return encoder, build_classifier(encoder, ["a", "b", "c"], token_task=True).eval()


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits


def test_trainable_parameters_by_hand(tiny):
    head = H * N_LABELS + N_LABELS
    _, m = _model(tiny)
    biases = sum(p.numel() for n, p in m.named_parameters() if n.endswith(".bias") and not n.startswith("classifier"))
    bit = apply_peft(m, PeftSettings("bitfit"))
    assert count_parameters(bit)["trainable"] == biases + head
    # LoRA r=4 on query and value of each layer: A (r x H) and B (H x r) each: 2 * 2 * r * H per layer
    _, m = _model(tiny)
    lora = apply_peft(m, PeftSettings("lora", r=4, alpha=8, dropout=0.0))
    assert count_parameters(lora)["trainable"] == LAYERS * 2 * (2 * 4 * H) + head
    # adapters of size 5 after each layer's feed-forward output: down H*5 + 5, up 5*H + H
    _, m = _model(tiny)
    ad = apply_peft(m, PeftSettings("adapter", bottleneck=5))
    assert count_parameters(ad)["trainable"] == LAYERS * (H * 5 + 5 + 5 * H + H) + head
    assert sum(isinstance(x, BottleneckAdapter) for x in ad.modules()) == LAYERS


@pytest.mark.parametrize("method", ["lora", "adapter"])
def test_new_modules_start_as_the_identity(tiny, method):
    """LoRA's B and an adapter's up-projection start at zero: the model computes what it did before."""
    _, m = _model(tiny)
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    before = _logits(m, ids)
    wrapped = apply_peft(m, PeftSettings(method, dropout=0.0)).eval()
    assert torch.allclose(_logits(wrapped, ids), before, atol=1e-6)


def test_lora_merges_into_a_plain_model(tiny):
    _, m = _model(tiny)
    plain_keys = set(m.state_dict())
    lora = apply_peft(m, PeftSettings("lora", r=2, dropout=0.0))
    for n, p in lora.named_parameters():  # a non-zero update, as after training
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.5)
    lora.eval()
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    wrapped_out = _logits(lora, ids)
    merged = finish_peft(lora)
    assert set(merged.state_dict()) == plain_keys  # the base architecture, nothing of peft left
    assert torch.allclose(_logits(merged, ids), wrapped_out, atol=1e-5)


def test_bad_peft_settings(tiny):
    with pytest.raises(PeftError, match="--peft"):
        PeftSettings("prefix")
    with pytest.raises(PeftError):
        PeftSettings("lora", r=0)

    class NoHead(torch.nn.Module):
        pass

    with pytest.raises(PeftError, match="classifier"):
        apply_peft(NoHead(), PeftSettings("bitfit"))


@pytest.mark.parametrize("method", ["bitfit", "lora", "adapter"])
def test_transfer_with_peft_trains_only_its_parameters(tiny, data, tmp_path, method):
    """`xlt transfer --peft M`: the report gives the trainable share; BitFit leaves every weight matrix
    of the encoder as it was; LoRA is merged, so the saved model loads for `xlt predict`."""
    encoder, spec = tiny
    out = tmp_path / "run"
    save = [] if method == "adapter" else ["--save", str(tmp_path / "model")]
    assert main(["transfer", "--task", "udpos", "--data-dir", str(data.root), "--targets", "de", "--model", spec,
                 "--mode", "finetune", "--peft", method, "--epochs", "2", "--lr", "1e-2", "--no-progress",
                 "--out", str(out), *save]) == 0
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    params = rep["parameters"]
    assert params["method"] == method and 0 < params["trainable"] < params["total"]
    assert "Trained parameters" in (out / "report.md").read_text(encoding="utf-8")
    if method == "adapter":
        return
    from xlt.transfer.model import load_task_model

    tuned = load_task_model(tmp_path / "model").model
    original = dict(encoder.model.named_parameters())
    moved = {n for n, p in tuned.base_model.named_parameters()
             if n in original and not torch.equal(p.detach(), original[n].detach())}
    if method == "bitfit":
        assert moved and all(n.endswith(".bias") for n in moved)
    else:  # LoRA changes exactly the query and value weights (merged); biases stay
        assert moved == {f"encoder.layer.{i}.attention.self.{w}.weight" for i in range(LAYERS) for w in ("query", "value")}
