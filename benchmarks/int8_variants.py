"""Where torch int8 loses accuracy: run any ``xlt`` command with a variant of ``--int8``.

Usage::

    python benchmarks/int8_variants.py [--keep-fp32 REGEX] [--smooth-alpha A] [--smooth-only REGEX]
        [--calibration random|ntrex] -- transfer --task sib200 ... --int8 --out runs/sib-variant

Replaces :func:`xlt.models.backends.quantize_torch` for the run (so every ``--int8`` model of the
command is the variant) and then runs the ``xlt`` command given after ``--``:

* ``--keep-fp32 REGEX``: the ``nn.Linear`` modules whose names match stay float32 (not quantised);
  e.g. ``'layer\\.[0-9]+\\.output\\.dense$'``, the feed-forward output projections of a BERT-style
  encoder.
* ``--smooth-alpha A`` (> 0): SmoothQuant-style input scaling (Xiao et al. 2023, "SmoothQuant:
  Accurate and Efficient Post-Training Quantization for Large Language Models", ICML): for each
  linear layer (those matching ``--smooth-only``, default all), per input channel
  ``s_j = max|X_j|^A / max|W_:,j|^(1-A)`` from calibration inputs; the weight's columns are
  multiplied by ``s`` and the input divided by it at run time (an explicit multiply: in a post-LN
  encoder the LayerNorm output is also the residual stream, so the scale cannot be folded into it).
  Layers kept float32 by ``--keep-fp32`` are not smoothed.
* ``--calibration-model``: the model spec whose tokenizer makes the calibration inputs (default the
  bundled model); give the command's ``--model`` when it is another.
* ``--calibration``: ``random`` (256 sequences of 30 random token ids between the special tokens,
  seeded: no data needed) or ``ntrex`` (the first 30 sentences of 7 NTREX-128 languages of the data
  folder: 210 sentences).

A measurement tool for docs/results/speed.md, not part of xlt.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys

import torch

import xlt.models.backends as backends
from xlt.cli import main as xlt_main
from xlt.data.paths import resolve_data_dir
from xlt.models.encoder import special_tokens
from xlt.models.loading import DEFAULT_MODEL, load_tokenizer

NTREX_LANGS = ("deu", "rus", "arb", "hin", "fin", "tur", "jpn")  # newstest2019-ref.<lang>.txt files of the data folder


class ScaledInput(torch.nn.Module):
    """``linear(x * inv_scale)``: a linear layer whose input is rescaled per channel first."""

    def __init__(self, inv_scale: torch.Tensor, linear: torch.nn.Linear):
        super().__init__()
        self.register_buffer("inv_scale", inv_scale)
        self.linear = linear

    def forward(self, x):
        return self.linear(x * self.inv_scale)


class Fp32Linear(torch.nn.Linear):
    """A linear layer that ``quantize_dynamic``'s ``{nn.Linear: ...}`` spec does not match."""


def _calibrate(model, how: str, tokenizer) -> dict[str, torch.Tensor]:
    """Per linear layer, the largest absolute input per channel over the calibration inputs
    (token ids from ``tokenizer``, which must be the quantised model's)."""
    stats: dict[str, torch.Tensor] = {}
    hooks = []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear):
            def hook(mod, args, name=name):
                x = args[0].detach().abs().reshape(-1, args[0].shape[-1]).amax(0)
                stats[name] = torch.maximum(stats[name], x) if name in stats else x
            hooks.append(mod.register_forward_pre_hook(hook))
    with torch.no_grad():
        if how == "random":
            gen = torch.Generator().manual_seed(0)
            lead, trail = special_tokens(tokenizer)
            for _ in range(16):
                ids = torch.randint(5, tokenizer.vocab_size, (16, 30), generator=gen)
                ids = torch.cat([torch.tensor(lead).repeat(16, 1), ids, torch.tensor(trail).repeat(16, 1)], 1)
                model(input_ids=ids, attention_mask=torch.ones_like(ids))
        else:
            folder = resolve_data_dir() / "ntrex"
            sents = []
            for lang in NTREX_LANGS:
                path = folder / f"newstest2019-ref.{lang}.txt"
                if path.is_file():
                    sents += path.read_text(encoding="utf-8").splitlines()[:30]
            for i in range(0, len(sents), 16):
                model(**tokenizer(sents[i:i + 16], padding=True, truncation=True, max_length=128,
                                  return_tensors="pt"))
    for h in hooks:
        h.remove()
    return stats


def _replace(model, pattern: str, make) -> int:
    n = 0
    for name, mod in list(model.named_modules()):
        for child_name, child in list(mod.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if type(child) is torch.nn.Linear and re.search(pattern, full):
                setattr(mod, child_name, make(full, child))
                n += 1
    return n


def variant(args):
    original = backends.quantize_torch

    def quantize(model):
        model = copy.deepcopy(model)
        if args.keep_fp32:
            def keep(name, lin):
                new = Fp32Linear(lin.in_features, lin.out_features, bias=lin.bias is not None)
                new.load_state_dict(lin.state_dict())
                return new
            n = _replace(model, args.keep_fp32, keep)
            print(f"int8 variant: {n} linear layers kept float32", file=sys.stderr)
        if args.smooth_alpha > 0:
            stats = _calibrate(model, args.calibration, load_tokenizer(args.calibration_model))

            def smooth(name, lin):
                ax = stats[name].clamp(min=1e-5)
                aw = lin.weight.detach().abs().amax(0).clamp(min=1e-5)
                s = ax ** args.smooth_alpha / aw ** (1 - args.smooth_alpha)
                lin.weight.data *= s[None, :]
                return ScaledInput(1.0 / s, lin)
            n = _replace(model, args.smooth_only, smooth)
            print(f"int8 variant: {n} linear layers smoothed (alpha {args.smooth_alpha})", file=sys.stderr)
        return original(model)
    return quantize


def main() -> int:
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep-fp32", default="")
    ap.add_argument("--smooth-alpha", type=float, default=0.0)
    ap.add_argument("--smooth-only", default="")
    ap.add_argument("--calibration", choices=("random", "ntrex"), default="random")
    ap.add_argument("--calibration-model", default=DEFAULT_MODEL,
                    help="the model whose tokenizer makes the calibration inputs: the command's --model")
    args = ap.parse_args(argv[:cut])
    backends.quantize_torch = variant(args)
    return xlt_main(argv[cut + 1:])


if __name__ == "__main__":
    sys.exit(main())
