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


def test_language_adapters_swap_exactly(tiny):
    """MAD-X: language adapter weights load into a model with adapters; swapping back restores the output."""
    from xlt.adapt.peft import language_adapter_state, load_language_adapter

    _, m = _model(tiny)
    model = apply_peft(m, PeftSettings("adapter", bottleneck=4, language_bottleneck=3)).eval()
    lang = [p for n, p in model.named_parameters() if ".lang_" in n]
    assert lang and not any(p.requires_grad for p in lang)  # language adapters stay frozen under the task one
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    a = language_adapter_state(model)
    assert all(k.startswith("encoder.layer.") for k in a)  # relative to the encoder: fits any task model
    b = {k: torch.randn_like(v) * 0.3 for k, v in a.items()}
    out_a = _logits(model, ids)
    load_language_adapter(model, b)
    out_b = _logits(model, ids)
    load_language_adapter(model, a)
    assert not torch.allclose(out_a, out_b) and torch.equal(_logits(model, ids), out_a)
    with pytest.raises(PeftError, match="does not fit"):
        load_language_adapter(model, {"encoder.layer.9.output.dense.lang_up.weight": torch.zeros(1)})


def test_madx_language_adapters_from_mlm_to_transfer(tiny, data, tmp_path, capsys):
    """`xlt adapt mlm --language-adapter` writes adapters; `xlt transfer --peft adapter --language-adapters`
    trains the task adapter over the source's and evaluates each target with its own (or the source's)."""
    from xlt.adapt.mlm import continue_pretraining

    encoder, spec = tiny
    texts = ["the cat sat on the mat", "a big dog is happy", "the small house of the cat"] * 10
    before = {n: p.detach().clone() for n, p in encoder.model.named_parameters()}
    same, res = continue_pretraining(encoder, texts, steps=20, batch_size=4, lr=1e-2, progress=False,
                                     language_adapter=4)
    assert same is encoder and all(torch.equal(p, before[n]) for n, p in encoder.model.named_parameters())
    assert res.language_adapter and res.dev_loss_after < res.dev_loss_before
    folders = {}
    for lang in ("en", "fr"):
        text = tmp_path / f"{lang}.txt"  # different text: different adapters
        text.write_text("\n".join(texts if lang == "en" else [t[::-1] for t in texts]), encoding="utf-8")
        folders[lang] = tmp_path / f"la-{lang}"
        assert main(["adapt", "mlm", "--model", spec, "--langs", lang, "--text", f"{lang}={text}", "--steps", "5",
                     "--batch-size", "4", "--min-sentences", "10", "--language-adapter", "4", "--no-progress",
                     "--out", str(folders[lang])]) == 0
    assert (folders["en"] / "language_adapter.safetensors").is_file()
    out = tmp_path / "run"
    common = ["transfer", "--task", "udpos", "--data-dir", str(data.root), "--targets", "de,fr", "--model", spec,
              "--mode", "finetune", "--epochs", "1", "--no-progress"]
    assert main(common + ["--peft", "adapter", "--language-adapters", f"en={folders['en']}", f"fr={folders['fr']}",
                          "--out", str(out), "--predictions", "--save", str(tmp_path / "model")]) == 0
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["language_adapters"]["evaluated_with_the_source_adapter"] == ["de"]
    assert set(rep["scores"]) >= {"de", "fr"}
    # the saved model (adapters and all) predicts what the run did: fr with the fr adapter swapped in
    rows = [json.loads(l) for l in (out / "predictions" / "fr.jsonl").read_text(encoding="utf-8").splitlines()]
    (tmp_path / "fr.jsonl").write_text("".join(json.dumps({"tokens": r["tokens"]}) + "\n" for r in rows),
                                       encoding="utf-8")
    capsys.readouterr()

    def predict(*extra):
        assert main(["predict", "--model", str(tmp_path / "model"), "--input", str(tmp_path / "fr.jsonl"),
                     "--out", "-", "--no-progress", *extra]) == 0
        return [json.loads(l) for l in capsys.readouterr().out.splitlines()]

    with_fr, with_en = predict("--language-adapter", str(folders["fr"])), predict()
    assert [r["labels"] for r in with_fr] == [r["pred"] for r in rows]
    assert [r["scores"] for r in with_fr] != [r["scores"] for r in with_en]
    assert main(["transfer", "--model", str(tmp_path / "model"), "--task", "udpos", "--data-dir", str(data.root),
                 "--targets", "de", "--out", str(tmp_path / "r4")]) == 2
    assert "bottleneck adapters" in capsys.readouterr().err
    capsys.readouterr()
    assert main(common + ["--language-adapters", f"en={folders['en']}", "--out", str(tmp_path / "r2")]) == 2
    assert "--peft adapter" in capsys.readouterr().err
    assert main(common + ["--peft", "adapter", "--language-adapters", f"fr={folders['fr']}",
                          "--out", str(tmp_path / "r3")]) == 2
    assert "source language" in capsys.readouterr().err


def test_adapter_text_classifier_saves_and_loads(tiny, tmp_path):
    """A mean-pooling text classifier with adapters (xlt's own architecture) comes back from its folder
    with the same probabilities."""
    import random

    import numpy as np
    from fixtures import sib_examples

    import xlt
    from xlt.data.readers import TextExample
    from xlt.transfer.model import TaskModel

    _, spec = tiny
    train = [TextExample(str(i), t, l) for i, l, t in sib_examples(40, random.Random(5), 0)]
    res = xlt.zero_shot_transfer(xlt.from_examples(train, {"fr": train[:6]}), model=spec, mode="finetune", epochs=1,
                                 lr=3e-3, batch_size=8, peft="adapter", adapter_size=4, progress=False,
                                 save=str(tmp_path / "m"))
    back = TaskModel.from_pretrained(tmp_path / "m")
    assert type(back.model).__name__ == "XltMeanPoolingForSequenceClassification"
    texts = [e.text for e in train[:6]]
    np.testing.assert_allclose(np.stack(back.predict_proba(texts)), np.stack(res.model.predict_proba(texts)), atol=1e-6)
