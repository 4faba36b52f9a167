"""Probing: train a small head on frozen encoder features of the source language."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from xlt.transfer.heads import ProbeHead


@dataclass
class ProbeResult:
    """A trained probe and its training history.

    Attributes:
        head: the :class:`ProbeHead` with the weights of the selected epoch.
        best_epoch: 1-based epoch chosen on source-language dev data.
        history: per epoch ``{"epoch", "loss", "dev"}`` (dev = the task metric, percent).
    """

    head: ProbeHead
    best_epoch: int
    history: list[dict] = field(default_factory=list)


def stack_token_features(per_sentence: list[np.ndarray], dtype=torch.float16) -> torch.Tensor:
    """Concatenate per-sentence word features into one tensor, one row per word.

    Args:
        per_sentence: arrays ``(n_words_i, dim)`` (one layer) or ``(n_layers, n_words_i, dim)``, as
            :meth:`Encoder.encode_words <xlt.models.encoder.Encoder.encode_words>` gives them.
        dtype: storage dtype (float16 halves the memory of layer stacks).

    Returns:
        ``(sum_i n_words_i, dim)`` or ``(sum_i n_words_i, n_layers, dim)``.

    Raises:
        ValueError: empty input.
    """
    if not per_sentence:
        raise ValueError("no features to stack")
    layered = per_sentence[0].ndim == 3
    n_words = sum(a.shape[-2] for a in per_sentence)
    row_shape = (per_sentence[0].shape[0], per_sentence[0].shape[-1]) if layered else (per_sentence[0].shape[-1],)
    # Fill a preallocated buffer in the target dtype: no float32 copy of the whole stack.
    out = torch.empty((n_words, *row_shape), dtype=dtype)
    k = 0
    for a in per_sentence:
        n = a.shape[-2]
        out[k:k + n] = torch.from_numpy(a.transpose(1, 0, 2) if layered else a)
        k += n
    return out


def sentence_feature_tensor(features: np.ndarray, dtype=torch.float16) -> torch.Tensor:
    """Sentence features as probe input.

    Args:
        features: ``(n, dim)`` or ``(n_layers, n, dim)`` (as returned by
            :meth:`Encoder.encode_sentences <xlt.models.encoder.Encoder.encode_sentences>`).

    Returns:
        ``(n, dim)`` or ``(n, n_layers, dim)``.
    """
    arr = features.transpose(1, 0, 2) if features.ndim == 3 else features
    return torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)


def train_probe(
    X: torch.Tensor,
    y: torch.Tensor,
    n_labels: int,
    dev_score: Callable[[ProbeHead], float],
    *,
    hidden: int = 0,
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
    input_dropout: float = 0.0,
) -> ProbeResult:
    """Train a probe with Adam and keep the epoch with the best source-dev score.

    Args:
        X: features ``(n, dim)`` or ``(n, n_layers, dim)`` (a scalar mix is learned then).
        y: gold label ids ``(n,)`` (int64).
        n_labels: number of classes.
        dev_score: callback scoring a head on source-language dev data (higher is better);
            only source data may be used here, so the transfer stays zero-shot.
        hidden: 0 = linear probe, else MLP hidden width.
        epochs, batch_size, lr, weight_decay: optimisation settings.
        seed: seeds the head's init, the shuffling and the dropout masks.
        progress: show a tqdm bar over epochs.
        input_dropout: in training, zero each feature with this probability and scale the others
            by ``1 / (1 - p)`` (dropout, Srivastava et al. 2014): the noise of a noisy student
            (Xie et al. 2020) on frozen features. 0: none; in [0, 1).

    Returns:
        :class:`ProbeResult`.

    Raises:
        ValueError: empty data or mismatched sizes; ``input_dropout`` outside [0, 1).
    """
    if len(X) == 0 or len(X) != len(y):
        raise ValueError(f"probe needs as many labels as feature rows, got {len(X)} and {len(y)}")
    if not 0.0 <= input_dropout < 1.0:
        raise ValueError(f"input_dropout must be in [0, 1), got {input_dropout}")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    n_layers = X.shape[1] if X.ndim == 3 else 1
    head = ProbeHead(X.shape[-1], n_labels, hidden=hidden, n_layers=n_layers)
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best, best_state, best_epoch, history = -float("inf"), None, 0, []
    bar = tqdm(range(1, epochs + 1), desc="probe epochs", disable=not progress, leave=False)
    for epoch in bar:
        head.train()
        order = torch.randperm(len(X), generator=gen)
        total = 0.0
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            xb = X[idx].float()
            if input_dropout:
                xb = nn.functional.dropout(xb, input_dropout, training=True)
            loss = loss_fn(head(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        head.eval()
        dev = float(dev_score(head))
        history.append({"epoch": epoch, "loss": total / len(X), "dev": dev})
        bar.set_postfix(loss=f"{total / len(X):.3f}", dev=f"{dev:.2f}")
        if dev > best:
            best, best_state, best_epoch = dev, copy.deepcopy(head.state_dict()), epoch
    head.load_state_dict(best_state)
    head.eval()
    return ProbeResult(head=head, best_epoch=best_epoch, history=history)


@torch.inference_mode()
def predict_logits(head: ProbeHead, X: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    """Logits of ``head`` for ``X`` (``(n, dim)`` or ``(n, n_layers, dim)``): float32 ``(n, n_labels)``."""
    head.eval()
    out = [head(X[i:i + batch_size].float()) for i in range(0, len(X), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, head.n_labels), dtype=np.float32)


@torch.inference_mode()
def predict(head: ProbeHead, X: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    """Label ids predicted by ``head`` for ``X`` (``(n, dim)`` or ``(n, n_layers, dim)``).

    Returns:
        int64 array ``(n,)``.
    """
    head.eval()
    out = [head(X[i:i + batch_size].float()).argmax(-1) for i in range(0, len(X), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)
