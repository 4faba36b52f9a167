"""What a trainer trains with: typed, frozen settings with every default resolved.

:class:`ProbeTraining` (a frozen encoder and a head, :class:`xlt.transfer.training.ProbeTrainer`)
and :class:`FinetuneTraining` (the whole encoder, :class:`xlt.transfer.training.FinetuneTrainer`)
are built once per run - by the jobs from their settings (:mod:`xlt.jobs.parts`), or by
:func:`xlt.transfer.training.fit_task_model` from keyword arguments - with the defaults of the
mode and task kind (:data:`DEFAULTS`) filled in; trainers read their fields, never a dict.

This module is the one place of the training defaults: the settings classes of the jobs take
their defaults from these dataclasses' fields. It imports no torch, so that ``xlt --help`` (which
builds every command's options from those settings) starts quickly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from xlt.models.words import DEFAULT_WORD_PIECES
from xlt.transfer.decoding import DEFAULT_DECODING

__all__ = ["DEFAULTS", "FinetuneTraining", "HEADS", "MODES", "PEFT_CHOICES", "POOLINGS", "ProbeTraining",
           "mode_defaults"]

#: Training modes: a probe on frozen features, or fine-tuning the encoder.
MODES = ("probe", "finetune")
#: Probe heads: a linear layer, or one hidden layer of 256 units.
HEADS = ("linear", "mlp")
#: Pooling of a fine-tuned sequence classifier (see :func:`xlt.transfer.finetune.build_classifier`).
POOLINGS = ("mean", "cls")
#: Parameter-efficient fine-tuning methods (:data:`xlt.adapt.peft.PEFT_METHODS`, which imports torch).
PEFT_CHOICES = ("lora", "bitfit", "adapter")

# Defaults per (mode, task kind). Token tasks have ~10^5 training words, sequence tasks
# (SIB-200: 701 texts) a few hundred examples, so the latter need more, smaller steps.
DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("probe", "token"): {"epochs": 10, "batch_size": 256, "lr": 1e-3},
    ("probe", "sequence"): {"epochs": 100, "batch_size": 32, "lr": 1e-3},
    ("probe", "pair"): {"epochs": 100, "batch_size": 32, "lr": 1e-3},
    ("finetune", "token"): {"epochs": 3, "batch_size": 32, "lr": 5e-5},
    ("finetune", "sequence"): {"epochs": 10, "batch_size": 32, "lr": 5e-5},
    ("finetune", "pair"): {"epochs": 3, "batch_size": 32, "lr": 2e-5},
}


def mode_defaults(mode: str, kind: str, *, epochs: int | None = None, batch_size: int | None = None,
                  lr: float | None = None) -> dict[str, Any]:
    """``epochs``, ``batch_size`` and ``lr``, each the given value or (None) the default of
    ``(mode, kind)`` in :data:`DEFAULTS`.

    Raises:
        ValueError: no defaults for ``(mode, kind)`` (an unknown mode or task kind).
    """
    try:
        d = DEFAULTS[(mode, kind)]
    except KeyError:
        raise ValueError(f"no training defaults for mode {mode!r} and task kind {kind!r}; modes: "
                         f"{', '.join(MODES)}") from None
    given = {"epochs": epochs, "batch_size": batch_size, "lr": lr}
    return {k: d[k] if v is None else v for k, v in given.items()}


def _check_keys(cls, values: dict) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")


@dataclass(frozen=True)
class ProbeTraining:
    """How :class:`~xlt.transfer.training.ProbeTrainer` trains: frozen features and one head per seed.

    Attributes:
        epochs: passes over the training features (the epoch with the best source-dev score is kept).
        batch_size: feature rows (words or texts) per step.
        lr: Adam learning rate.
        layer: the features: ``mix`` (a learned scalar mix of every hidden state), ``last``, or a layer
            number as text (0 = embeddings; negative counts from the top).
        head: ``linear`` or ``mlp`` (256 hidden units).
        word_pieces: token tasks: which subword pieces stand for a word (:mod:`xlt.models.words`).
        decoding: token tasks: word probabilities to tags (:mod:`xlt.transfer.decoding`).
        cache_dir: on-disk feature cache folder (None: off).
        aligner_path: the file of the cross-lingual aligner the features are mapped with (copied into
            saved models; the loaded aligner is given to the trainer).
        progress: progress bars.
    """

    epochs: int
    batch_size: int
    lr: float
    layer: str = "mix"
    head: Literal["linear", "mlp"] = "linear"
    word_pieces: str = DEFAULT_WORD_PIECES
    decoding: str = DEFAULT_DECODING
    cache_dir: Path | None = None
    aligner_path: str | None = None
    progress: bool = True

    @property
    def hidden(self) -> int:
        """Hidden units of the head (0: linear)."""
        return 256 if self.head == "mlp" else 0

    @classmethod
    def for_kind(cls, kind: str, **settings) -> ProbeTraining:
        """The probe training of a task kind (``token``, ``sequence``, ``pair``): ``settings`` are
        this class's fields; ``epochs``, ``batch_size``, ``lr`` left out or None take the kind's
        defaults (:data:`DEFAULTS`), the other fields their defaults here.

        Raises:
            ValueError: an unknown setting or task kind.
        """
        _check_keys(cls, settings)
        budget = mode_defaults("probe", kind, **{k: settings.pop(k, None) for k in ("epochs", "batch_size", "lr")})
        return cls(**budget, **{k: v for k, v in settings.items() if v is not None or k in ("cache_dir",
                                                                                           "aligner_path")})


@dataclass(frozen=True)
class FinetuneTraining:
    """How :class:`~xlt.transfer.training.FinetuneTrainer` fine-tunes one model per seed (see
    :func:`xlt.transfer.finetune.finetune` for each setting).

    Attributes:
        epochs, batch_size, lr: AdamW schedule (linear warm-up and decay).
        pooling: sequence/pair tasks: ``mean`` (XTREME) or ``cls``.
        max_length: training length in tokens (capped at the model's).
        ckpt_avg: average the last N epochs' weights (Schmidt et al. 2023); below 2: the best
            source-dev epoch.
        freeze_embeddings: keep the word-embedding matrix fixed.
        word_pieces: token tasks: the piece that carries a word's label.
        decoding: token tasks: word probabilities to tags.
        group_by_length: batches of similar-length examples.
        bf16: bfloat16 autocast.
        micro_batch_size: length-sorted micro-batches with accumulated gradients (0: whole batches;
            None: the device's default, :func:`xlt.transfer.finetune.resolve_micro_batch_size`).
        checkpoint_dir: a checkpoint per seed under ``seed-N/`` (None: none).
        resume: continue from those checkpoints.
        peft: ``lora``, ``bitfit`` or ``adapter`` (:mod:`xlt.adapt.peft`); None: every parameter.
        lora_r: LoRA rank (alpha = 2r). adapter_size: bottleneck adapter size.
        data_seed: one data order for every seed (None: each seed's own).
        progress: progress bars.
    """

    epochs: int
    batch_size: int
    lr: float
    pooling: Literal["mean", "cls"] = "mean"
    max_length: int = 128
    ckpt_avg: int = 0
    freeze_embeddings: bool = True
    word_pieces: str = DEFAULT_WORD_PIECES
    decoding: str = DEFAULT_DECODING
    group_by_length: bool = False
    bf16: bool = False
    micro_batch_size: int | None = None
    checkpoint_dir: Path | None = None
    resume: bool = False
    peft: Literal["lora", "bitfit", "adapter"] | None = None
    lora_r: int = 8
    adapter_size: int = 48
    data_seed: int | None = None
    progress: bool = True

    @classmethod
    def for_kind(cls, kind: str, **settings) -> FinetuneTraining:
        """The fine-tuning of a task kind: as :meth:`ProbeTraining.for_kind`.

        Raises:
            ValueError: an unknown setting or task kind.
        """
        _check_keys(cls, settings)
        budget = mode_defaults("finetune", kind,
                               **{k: settings.pop(k, None) for k in ("epochs", "batch_size", "lr")})
        nullable = ("micro_batch_size", "checkpoint_dir", "peft", "data_seed")
        return cls(**budget, **{k: v for k, v in settings.items() if v is not None or k in nullable})
