"""Checkpoints of fine-tuning runs, for ``xlt transfer --mode finetune --resume``.

One file per run (``checkpoint.pt``, written by :func:`xlt.transfer.finetune.finetune` at the end
of every epoch): weights, optimiser and schedule state, the data order and RNG states of every
process, the history and the best (or averaged) weights so far, plus a ``key`` of everything the
result depends on (settings, data digests) and the number of processes. It is written to a
temporary file in the same folder and renamed, so a run killed while writing leaves the previous
checkpoint intact, and read with ``torch.load(weights_only=True)`` (no pickled code).

This module imports torch lazily (it is imported by commands that may never save a checkpoint).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np
import torch

from xlt.core.errors import XltError
from xlt.core.io import atomic_write

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


class CheckpointError(XltError, ValueError):
    """A fine-tuning checkpoint that cannot be used: written by a run with other settings, data or
    number of processes, unreadable, or in the way of a fresh run (the message says which)."""


def data_digest(*parts) -> str:
    """A short hash of JSON-able values (token ids, labels, ...): what a checkpoint records of its data."""
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode("utf-8"))
    return h.hexdigest()[:16]


def rng_state() -> dict:
    """This process's Python, NumPy, torch (and CUDA) RNG states, in a ``weights_only``-loadable form."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` recorded."""
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same folder, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(payload, tmp), fsync=True)


def load_checkpoint(path: str | os.PathLike, key: dict | None = None, num_processes: int | None = None) -> dict:
    """Read a fine-tuning checkpoint and check that it belongs to this run.

    Args:
        key: the run's settings and data digests (:func:`xlt.transfer.finetune.finetune` builds
            it); every entry must equal the checkpoint's. num_processes: this run's process count.

    Raises:
        CheckpointError: unreadable, another format, other settings or data, other process count.
    """
    path = Path(path)
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file
        raise CheckpointError(f"{path}: cannot read the checkpoint ({exc}); remove it to start afresh") from exc
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not an xlt fine-tuning checkpoint of format {CHECKPOINT_FORMAT}")
    if key is not None:
        old = ck["key"]
        diff = [k for k in sorted(set(key) | set(old)) if key.get(k) != old.get(k)]
        if diff:
            what = "; ".join(f"{k}: {old.get(k)!r} in the checkpoint, {key.get(k)!r} now" for k in diff)
            raise CheckpointError(f"{path.parent} holds a checkpoint of a run with other settings or data ({what}); "
                                  "resume with the settings it was started with, or give another "
                                  "--checkpoint-dir to start afresh")
    if num_processes is not None and ck["num_processes"] != num_processes:
        raise CheckpointError(f"{path} was written by a run of {ck['num_processes']} process(es); resume it with "
                              f"the same number (this run has {num_processes})")
    return ck


__all__ = ["CHECKPOINT_FILE", "CHECKPOINT_FORMAT", "CheckpointError", "data_digest", "load_checkpoint",
           "rng_state", "save_checkpoint", "set_rng_state"]
