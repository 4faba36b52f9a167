"""Parameter-efficient fine-tuning: train a small share of a task model's parameters.

Three methods, each applied to a task model (an encoder with a classification head) before
training; the classification head is always trained:

* ``lora`` -- low-rank updates ``W + (alpha / r) B A`` of the attention's query and value
  projections (Hu et al. 2022, "LoRA: Low-Rank Adaptation of Large Language Models"), through the
  Hugging Face ``peft`` library. After training the update is merged into ``W``
  (:func:`finish_peft`), so the result is a plain model of the original architecture: saved, loaded
  and applied like a fully fine-tuned one, at no extra inference cost.
* ``bitfit`` -- only the bias terms (Ben Zaken et al. 2022, "BitFit: Simple Parameter-efficient
  Fine-tuning for Transformer-based Masked Language-models"). No new parameters.
* ``adapter`` -- a bottleneck adapter after every layer's feed-forward block (Houlsby et al.
  2019; placed as in Pfeiffer et al. 2021, MAD-X): ``h + W_up relu(W_down h)``, ``W_up`` zero at
  the start so training starts from the pre-trained function. Written here (the ``adapters``
  library pins transformers 4.x); the adapter modules stay in the model.

MAD-X (Pfeiffer et al. 2020, "MAD-X: An Adapter-Based Framework for Multi-Task Cross-Lingual
Transfer") stacks a *language* adapter under the task adapter in every layer: language adapters
are trained with MLM on each language's text (the rest frozen; :func:`language_adapter_state`
gives their weights), the task adapter is trained on the source language with the source's
language adapter in place, and at test time the target's language adapter is swapped in
(:func:`load_language_adapter`).

Only the parameters named above are trainable; :func:`count_parameters` reports the share.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from xlt.core.errors import XltError

__all__ = ["PEFT_METHODS", "BottleneckAdapter", "PeftError", "PeftSettings", "apply_lora_to", "apply_peft",
           "count_parameters", "finish_peft", "has_adapters", "insert_adapters", "language_adapter_state",
           "load_language_adapter", "read_language_adapter", "write_language_adapter"]

#: The methods :func:`apply_peft` knows.
PEFT_METHODS = ("lora", "bitfit", "adapter")
#: Linear layers LoRA adapts by default: attention query and value, under the names of the common
#: encoder families (BERT/XLM-R ``query``/``value``, DistilBERT ``q_lin``/``v_lin``, others
#: ``q_proj``/``v_proj``).
LORA_TARGETS = ("query", "value", "q_lin", "v_lin", "q_proj", "v_proj")
#: The feed-forward output layer of every transformer layer, where an adapter goes (BERT/XLM-R
#: ``layer.N.output.dense`` -- not ``attention.output.dense`` --, DistilBERT ``ffn.lin2``), as patterns
#: matched against the end of a module name.
ADAPTER_AFTER = (r"layer\.\d+\.output\.dense", r"ffn\.lin2")


class PeftError(XltError, ValueError):
    """A parameter-efficient method that cannot be applied as asked (unknown method, no layers to adapt)."""


@dataclass(frozen=True)
class PeftSettings:
    """Settings of a parameter-efficient method.

    Attributes:
        method: one of :data:`PEFT_METHODS`.
        r: LoRA rank. alpha: LoRA scaling numerator (the update is scaled by ``alpha / r``).
        dropout: LoRA dropout on the adapted layer's input.
        bottleneck: adapter hidden size (MAD-X uses hidden size / 16 = 48 for a 768-wide model;
            here 48 by default too).
        language_bottleneck: ``adapter`` only: also a (frozen) language adapter of this size under
            every task adapter (MAD-X); None = none.
    """

    method: str
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    bottleneck: int = 48
    language_bottleneck: int | None = None

    def __post_init__(self) -> None:
        if self.method not in PEFT_METHODS:
            raise PeftError(f"--peft must be one of {', '.join(PEFT_METHODS)}, got {self.method!r}")
        if self.r < 1 or self.bottleneck < 1 or not 0.0 <= self.dropout < 1.0:
            raise PeftError(f"bad PEFT settings: r={self.r}, bottleneck={self.bottleneck}, dropout={self.dropout}")


def _bottleneck(d: int, m: int) -> tuple[nn.Linear, nn.Linear]:
    down, up = nn.Linear(d, m), nn.Linear(m, d)
    nn.init.normal_(down.weight, std=1e-2)
    nn.init.zeros_(down.bias)
    nn.init.zeros_(up.weight)
    nn.init.zeros_(up.bias)
    return down, up


class BottleneckAdapter(nn.Module):
    """A linear layer followed by residual bottleneck adapters: ``z + up(relu(down(z)))`` with
    ``z = y + lang_up(relu(lang_down(y)))`` (when there is a language adapter, else ``z = y``) and
    ``y = base(x)``.

    Args:
        base: the wrapped ``nn.Linear`` (frozen by :func:`apply_peft`), output width ``d``.
        bottleneck: the (task) adapter's hidden size ``m``; ``down``: ``d -> m``, ``up``: ``m -> d``
            (zero-initialised, so the wrapped layer's output is unchanged before training); None =
            no task adapter (a language adapter alone, as when it is trained with MLM).
        language: the language adapter's hidden size (MAD-X), or None.

    Shapes: input ``(..., in_features)``, output ``(..., d)``.
    """

    def __init__(self, base: nn.Linear, bottleneck: int | None, language: int | None = None):
        super().__init__()
        d = base.out_features
        self.base = base
        self.down, self.up = _bottleneck(d, bottleneck) if bottleneck else (None, None)
        self.lang_down, self.lang_up = _bottleneck(d, language) if language else (None, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.lang_down is not None:
            y = y + self.lang_up(torch.relu(self.lang_down(y)))
        if self.down is not None:
            y = y + self.up(torch.relu(self.down(y)))
        return y


def insert_adapters(model: nn.Module, bottleneck: int | None, language: int | None = None) -> list[str]:
    """Wrap every feed-forward output layer of ``model`` in a :class:`BottleneckAdapter` (in place).

    Returns:
        the wrapped layers' names.

    Raises:
        PeftError: no such layers (see :data:`ADAPTER_AFTER`).
    """
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)
             and any(re.search(r"(^|\.)" + pat + "$", n) for pat in ADAPTER_AFTER)]
    if not names:
        raise PeftError("adapter: no feed-forward output layers (layer.N.output.dense, ffn.lin2) in this model")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, BottleneckAdapter(getattr(parent, child), bottleneck, language))
    return names


def language_adapter_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The language adapters' weights, keyed ``<layer name>.lang_down.weight`` etc. relative to the
    encoder (a task model's ``bert.``/``roberta.`` prefix removed), so they fit any task model on the
    same encoder.

    Raises:
        PeftError: the model has no language adapters.
    """
    prefix = _base_prefix(model)
    out = {}
    for n, p in model.named_parameters():
        if ".lang_down." in n or ".lang_up." in n:
            out[n[len(prefix):] if prefix and n.startswith(prefix) else n] = p.detach().cpu().clone()
    if not out:
        raise PeftError("the model has no language adapters")
    return out


def load_language_adapter(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Put a language adapter's weights (from :func:`language_adapter_state`) into ``model`` in place.

    Raises:
        PeftError: the weights do not fit (other layers or sizes).
    """
    prefix = _base_prefix(model)
    params = dict(model.named_parameters())
    missing = [k for k in state if prefix + k not in params and k not in params]
    if missing:
        raise PeftError(f"the language adapter does not fit this model (no {missing[0]}; other encoder or layers?)")
    with torch.no_grad():
        for k, v in state.items():
            target = params.get(prefix + k, params.get(k))
            if target.shape != v.shape:
                raise PeftError(f"the language adapter's {k} is {tuple(v.shape)}, the model's {tuple(target.shape)} "
                                "(another adapter size?)")
            target.copy_(v.to(target.dtype))


def _base_prefix(model: nn.Module) -> str:
    """``bert.``, ``roberta.``, ... for a task model (its encoder's attribute name), ``""`` for an encoder."""
    prefix = getattr(model, "base_model_prefix", "")
    return f"{prefix}." if prefix and hasattr(model, prefix) else ""


def _head_names(model: nn.Module) -> list[str]:
    """Names of the task head's modules (``classifier``), which every method trains."""
    return [n for n, _ in model.named_children() if n in ("classifier", "score", "qa_outputs")]


def count_parameters(model: nn.Module) -> dict[str, float]:
    """``{"trainable", "total", "share"}``: parameter counts and the trainable percentage."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total, "share": 100.0 * trainable / max(1, total)}


def has_adapters(model: nn.Module) -> bool:
    """Whether ``model`` holds :class:`BottleneckAdapter` modules (they cannot be merged away)."""
    return any(isinstance(m, BottleneckAdapter) for m in model.modules())


def adapter_sizes(model: nn.Module) -> dict[str, int | None] | None:
    """``{"bottleneck": m, "language": l}``: the hidden sizes of ``model``'s task and language
    adapters (None for one it lacks), or None when it holds no :class:`BottleneckAdapter`.

    Raises:
        PeftError: adapters of different sizes in one model (not built by :func:`insert_adapters`).
    """
    found = {(m.down.out_features if m.down is not None else None,
              m.lang_down.out_features if m.lang_down is not None else None)
             for m in model.modules() if isinstance(m, BottleneckAdapter)}
    if not found:
        return None
    if len(found) > 1:
        raise PeftError(f"adapters of different sizes in one model: {sorted(found, key=str)}")
    bottleneck, language = found.pop()
    return {"bottleneck": bottleneck, "language": language}


def _linear_names(model: nn.Module, suffixes: Sequence[str]) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)
            and any(n == s or n.endswith("." + s) for s in suffixes)]


def apply_peft(model: nn.Module, settings: PeftSettings) -> nn.Module:
    """Make only ``settings.method``'s parameters (and the task head) trainable.

    Args:
        model: a task model (Hugging Face ``...ForTokenClassification`` / sequence classifier)
            whose head is a child named ``classifier``.
        settings: the method and its sizes.

    Returns:
        the model to train: for ``lora`` a ``peft`` wrapper (call :func:`finish_peft` after
        training), else ``model`` itself, changed in place.

    Raises:
        PeftError: no layers of the kind the method adapts (e.g. an architecture whose attention
            projections have other names), or no task head.
    """
    heads = _head_names(model)
    if not heads:
        raise PeftError("the task model has no 'classifier' head to train")
    if settings.method == "lora":
        return apply_lora_to(model, settings, train_also=heads)
    for p in model.parameters():
        p.requires_grad_(False)
    if settings.method == "bitfit":
        for n, p in model.named_parameters():
            if n.endswith(".bias"):
                p.requires_grad_(True)
    else:
        insert_adapters(model, settings.bottleneck, settings.language_bottleneck)
        for m in model.modules():
            if isinstance(m, BottleneckAdapter) and m.lang_down is not None:  # loaded, never trained here
                for p in list(m.lang_down.parameters()) + list(m.lang_up.parameters()):
                    p.requires_grad_(False)
        for m in model.modules():
            if isinstance(m, BottleneckAdapter) and m.down is not None:
                for p in list(m.down.parameters()) + list(m.up.parameters()):
                    p.requires_grad_(True)
    for h in heads:
        for p in getattr(model, h).parameters():
            p.requires_grad_(True)
    return model


def apply_lora_to(model: nn.Module, settings: PeftSettings, train_also: Sequence[str] = ()) -> nn.Module:
    """LoRA on ``model``'s attention query and value projections (any model: an encoder alone too).

    Args:
        model: the model. settings: rank, alpha, dropout. train_also: child modules trained in full
            (a task head).

    Returns:
        a ``peft`` wrapper whose only trainable parameters are the LoRA matrices and ``train_also``.

    Raises:
        PeftError: no projections named as in :data:`LORA_TARGETS`.
    """
    targets = sorted({n.rsplit(".", 1)[-1] for n in _linear_names(model, LORA_TARGETS)})
    if not targets:
        raise PeftError(f"LoRA: no attention projections named {', '.join(LORA_TARGETS)} in this model")
    config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=targets, modules_to_save=list(train_also) or None, bias="none")
    return get_peft_model(model, config)


def finish_peft(model: nn.Module) -> nn.Module:
    """The trained model without PEFT wrappers: LoRA updates merged into the weights (a plain model of
    the base architecture); BitFit and adapter models are returned as they are."""
    if isinstance(model, PeftModel):
        return model.merge_and_unload()
    return model


#: File names of a saved language adapter.
LANGUAGE_ADAPTER_WEIGHTS = "language_adapter.safetensors"
LANGUAGE_ADAPTER_META = "language_adapter.json"


def write_language_adapter(folder, state: dict[str, torch.Tensor], meta: dict) -> None:
    """Write a language adapter (weights + ``meta``: language, size, base model) into ``folder``."""
    folder = Path(folder)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / LANGUAGE_ADAPTER_WEIGHTS))
    (folder / LANGUAGE_ADAPTER_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def read_language_adapter(folder) -> tuple[dict[str, torch.Tensor], dict]:
    """A language adapter written by :func:`write_language_adapter`: ``(weights, meta)``.

    Raises:
        FileNotFoundError: no adapter in the folder; PeftError: unreadable files.
    """
    folder = Path(folder)
    w, m = folder / LANGUAGE_ADAPTER_WEIGHTS, folder / LANGUAGE_ADAPTER_META
    if not w.is_file() or not m.is_file():
        raise FileNotFoundError(f"{folder}: no language adapter ({LANGUAGE_ADAPTER_WEIGHTS}, {LANGUAGE_ADAPTER_META}); "
                                "write one with `xlt adapt mlm --language-adapter`")
    try:
        meta = json.loads(m.read_text(encoding="utf-8"))
        state = load_file(str(w))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SafetensorError) as exc:
        raise PeftError(f"{folder}: an unreadable language adapter ({exc})") from None
    if not isinstance(meta, dict) or "size" not in meta:
        raise PeftError(f"{m}: not a language adapter description")
    return state, meta

