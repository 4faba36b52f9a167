"""Learning from the target language's own unlabelled text: self-training and distillation.

Methods:

* **Self-training** (teacher-student; Xie et al. 2020, "Self-training with Noisy Student
  improves ImageNet classification", CVPR; for cross-lingual NER Wu et al. 2020,
  "Single-/Multi-Source Cross-Lingual NER via Teacher-Student Learning on Unlabeled Data in
  Target Language", ACL): the zero-shot model (the teacher) labels unlabelled target-language
  text; a student trains on the source's gold data plus the pseudo-labelled target text; the
  student is the next round's teacher. :class:`SelfTrainingProbeTrainer`.
* **Ensemble distillation** (Hinton et al. 2015, "Distilling the Knowledge in a Neural
  Network"): one student learns the mean probabilities of several saved task models (seeds,
  sources) on unlabelled text. :class:`DistillationProbeTrainer`,
  :class:`DistillationFinetuneTrainer`.

Pseudo-labels (:func:`pseudo_label`): *hard* labels are the teacher's decoded labels (for BIO
tag sets the most probable well-formed sequence, :mod:`xlt.transfer.decoding`; else argmax), as
one-hot targets; *soft* labels are the teacher's probabilities themselves (distillation with
temperature 1). An example is kept when its confidence - for token tasks the smallest, over its
words, probability of the decoded label; else the top probability - is at least the threshold
(:func:`select_confident`); then at most N examples per language are drawn at random
(:func:`sample_per_language`), so that no language swamps the rest.

The probe trainers work on frozen encoder features, computed once (with a feature cache, once per
machine): the unlabelled text's features are extracted once and every round trains new heads on
them. :class:`SelfTrainingFinetuneTrainer` fine-tunes: each round's student is fine-tuned anew from
the starting encoder on the source gold examples plus the pseudo-labelled target examples (hard
labels as labels; soft ones as distributions the loss compares the student's with,
:func:`xlt.transfer.finetune.with_soft_targets`). Model selection uses
the source language's dev set only, so the transfer stays zero-shot in its selection; the target
text is unlabelled.

No module of the data layer imports this one; it imports torch.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from xlt.core.memory import PeakMemory
from xlt.core.metrics import score
from xlt.data.dataset import Split, TaskDataset
from xlt.data.kinds import TOKEN, TaskKind
from xlt.data.readers import TaggedSentence
from xlt.data.unlabeled import UnlabeledText
from xlt.models.loading import Encoder
from xlt.transfer.decoding import decode_word_labels
from xlt.transfer.ensemble import mean_proba
from xlt.transfer.model import ProbeModel, TaskModel
from xlt.transfer.probe import train_probe
from xlt.transfer.training import FinetuneTrainer, FinetuneTraining, ProbeTrainer, ProbeTraining

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_THRESHOLD", "DistillationFinetuneTrainer", "DistillationProbeTrainer", "FeatureRows",
           "PseudoLabels", "SelfTraining", "SelfTrainingFinetuneTrainer", "SelfTrainingProbeTrainer", "TOLERANCE",
           "UnlabeledFeatures", "check_teacher_models", "choose_pseudo_labels", "labelled_texts", "pseudo_examples",
           "pseudo_label", "pseudo_targets", "round_cost", "sample_per_language", "select_confident", "teachers_of",
           "unlabeled_features", "with_labels"]

#: Default confidence threshold of hard pseudo-labels.
DEFAULT_THRESHOLD = 0.9
#: Slack of the threshold comparison (float32 probabilities).
TOLERANCE = 1e-6


@dataclass(frozen=True)
class SelfTraining:
    """How pseudo-labels are made and used.

    Attributes:
        rounds: teacher -> student rounds (>= 1; self-training only).
        threshold: keep an example whose confidence is >= this (0: keep all), in [0, 1].
        labels: ``hard`` (decoded labels, one-hot) or ``soft`` (the teacher's probabilities).
        per_language: at most this many pseudo-labelled examples per language (None: all).
        teacher: self-training: ``each`` (every seed's model teaches its own student) or
            ``ensemble`` (the mean of all seeds' probabilities teaches every student).
        decoding: token tasks: how hard labels are decoded (:data:`xlt.transfer.decoding.DECODINGS`).
        noise: probe students: dropout on the frozen features with this probability while they
            train (the noisy student's model noise, Xie et al. 2020); in [0, 1). Fine-tuned students
            train with the encoder's own dropout.

    Raises:
        ValueError: a value out of range, at construction.
    """

    rounds: int = 1
    threshold: float = DEFAULT_THRESHOLD
    labels: Literal["hard", "soft"] = "hard"
    per_language: int | None = None
    teacher: Literal["each", "ensemble"] = "each"
    decoding: str = "bio"
    noise: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.rounds, bool) or int(self.rounds) != self.rounds or self.rounds < 1:
            raise ValueError(f"rounds must be a whole number >= 1, got {self.rounds}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.labels not in ("hard", "soft"):
            raise ValueError(f"labels must be 'hard' or 'soft', got {self.labels!r}")
        if self.per_language is not None and self.per_language < 1:
            raise ValueError(f"per_language must be >= 1 or None, got {self.per_language}")
        if self.teacher not in ("each", "ensemble"):
            raise ValueError(f"teacher must be 'each' or 'ensemble', got {self.teacher!r}")
        if not 0.0 <= float(self.noise) < 1.0:
            raise ValueError(f"noise must be in [0, 1), got {self.noise}")


@dataclass
class PseudoLabels:
    """A teacher's labels for unlabelled examples.

    Attributes:
        targets: per example the training target: token tasks ``(n_words, n_labels)``, else
            ``(n_labels,)``; one-hot rows (hard) or probabilities (soft).
        confidence: ``(n_examples,)``: the smallest probability of a decoded word label (token
            tasks; 0 for an empty sentence) or the top probability.
    """

    targets: list[np.ndarray]
    confidence: np.ndarray


def pseudo_label(probas: Sequence[np.ndarray], labels: Sequence[str], *, token: bool, soft: bool = False,
                 decoding: str = "bio") -> PseudoLabels:
    """Pseudo-labels from a teacher's probabilities.

    Args:
        probas: per example ``(n_words, n_labels)`` (``token``) or ``(n_labels,)`` probabilities.
        labels: the label names, in column order.
        token: a token task (decode word sequences) or not.
        soft: targets are the probabilities themselves (distillation, Hinton et al. 2015), not
            one-hot rows of the decoded labels. The confidence is that of the decoded labels
            either way.
        decoding: token tasks: :func:`xlt.transfer.decoding.decode_word_labels` (``bio``: the most
            probable well-formed BIO sequence, Viterbi; argmax for other label sets).

    Returns:
        :class:`PseudoLabels` (targets float32, same shapes as ``probas``).

    Raises:
        ValueError: an unknown ``decoding``, or probabilities of another width than ``labels``.
    """
    n_labels = len(labels)
    index = {l: i for i, l in enumerate(labels)}
    for p in probas:
        if p.shape[-1] != n_labels:
            raise ValueError(f"probabilities have {p.shape[-1]} columns for {n_labels} labels")
    targets, conf = [], np.zeros(len(probas), dtype=np.float64)
    decoded = decode_word_labels(list(probas), list(labels), decoding) if token else None
    for i, p in enumerate(probas):
        p = np.asarray(p, dtype=np.float32)
        ids = np.array([index[l] for l in decoded[i]], dtype=np.int64) if token else np.array(int(p.argmax()))
        if token:
            conf[i] = float(p[np.arange(len(ids)), ids].min()) if len(ids) else 0.0
            hard = np.eye(n_labels, dtype=np.float32)[ids] if len(ids) else np.zeros((0, n_labels), np.float32)
        else:
            conf[i] = float(p[ids])
            hard = np.eye(n_labels, dtype=np.float32)[ids]
        targets.append(p.copy() if soft else hard)
    return PseudoLabels(targets, conf)


def select_confident(confidence: np.ndarray, threshold: float) -> np.ndarray:
    """Indices ``(k,)`` (ascending) of the examples whose confidence is >= ``threshold`` (up to
    :data:`TOLERANCE`: probabilities are float32, and 0.9 in float32 is 0.89999998).

    Raises:
        ValueError: a threshold outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    return np.flatnonzero(np.asarray(confidence) >= threshold - TOLERANCE)


def sample_per_language(selected: Mapping[str, np.ndarray], n: int | None, seed: int = 0) -> dict[str, np.ndarray]:
    """At most ``n`` of each language's selected indices, drawn uniformly without replacement
    (a generator seeded by ``seed`` and the language), returned in ascending order; ``n=None``
    keeps all. So that a language with much text does not swamp the others.

    Args:
        selected: language -> indices ``(k,)``.
        n: the cap per language (>= 1) or None.
        seed: the draw's seed.

    Returns:
        language -> indices ``(min(k, n),)``.

    Raises:
        ValueError: ``n`` < 1.
    """
    if n is not None and n < 1:
        raise ValueError(f"the per-language cap must be >= 1, got {n}")
    out = {}
    for lang, idx in selected.items():
        idx = np.asarray(idx, dtype=np.int64)
        if n is not None and len(idx) > n:
            rng = np.random.default_rng([seed, *lang.encode("utf-8")])
            idx = np.sort(rng.choice(idx, size=n, replace=False))
        out[lang] = idx
    return out


@dataclass
class UnlabeledFeatures:
    """One language's unlabelled examples and their frozen features.

    Attributes:
        lang: the language. examples: the examples ``(n,)``.
        X: features ``(n_rows, [n_layers,] dim)``: one row per word (token tasks) or example.
        offsets: ``(n + 1,)``: example ``i``'s rows are ``X[offsets[i]:offsets[i + 1]]``.
    """

    lang: str
    examples: list
    X: torch.Tensor
    offsets: np.ndarray

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """Row indices ``(sum of the chosen examples' rows,)`` of the examples ``idx``."""
        parts = [np.arange(self.offsets[i], self.offsets[i + 1]) for i in idx]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


class FeatureRows:
    """Rows of several feature tensors seen as one, without copying them: what
    :func:`xlt.transfer.probe.train_probe` reads (``len``, ``shape``, ``ndim``, ``X[idx]``), so a
    student trains on source rows + pseudo-labelled rows while the features stay where they are
    (a 13-layer stack of 100k words is 1 GB in float16; a concatenated copy would double it).

    Args:
        parts: ``(X, rows)`` pairs: a feature tensor ``(n_i, [n_layers,] dim)`` and the row indices
            ``(k_i,)`` of it that belong to the set (None: all rows). All of one row shape and dtype.

    Attributes:
        shape: ``(sum of k_i, [n_layers,] dim)``. ndim, dtype: those of the parts.

    Raises:
        ValueError: no parts, or parts of different row shapes.
    """

    def __init__(self, parts: Sequence[tuple[torch.Tensor, np.ndarray | None]]):
        parts = [(X, None if rows is None else torch.as_tensor(np.asarray(rows, dtype=np.int64))) for X, rows in parts]
        if not parts:
            raise ValueError("no feature parts")
        row_shape = tuple(parts[0][0].shape[1:])
        if any(tuple(X.shape[1:]) != row_shape for X, _ in parts):
            raise ValueError("feature parts of different row shapes")
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(X) if r is None else len(r) for X, r in parts])
        self.shape = (int(self.offsets[-1]), *row_shape)
        self.ndim, self.dtype = parts[0][0].ndim, parts[0][0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, idx) -> torch.Tensor:
        """The rows ``idx`` (``(b,)`` int64, any order) as one tensor ``(b, [n_layers,] dim)``."""
        idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
        part = np.searchsorted(self.offsets, idx.numpy(), side="right") - 1
        out = torch.empty((len(idx), *self.shape[1:]), dtype=self.dtype)
        for k in np.unique(part):
            mask = torch.from_numpy(part == k)
            local = idx[mask] - int(self.offsets[k])
            X, rows = self.parts[k]
            out[mask] = X[local if rows is None else rows[local]]
        return out


def unlabeled_features(model: ProbeModel, text: UnlabeledText, progress: bool = False) -> UnlabeledFeatures:
    """The features of ``text`` under ``model``'s encoder, layer and aligner (empty sentences left out)."""
    token = model.kind is TOKEN
    examples = [e for e in text.examples if not token or len(e.tokens)]
    X, _ = model.features(examples, text.lang, progress=progress)
    sizes = [len(e.tokens) if token else 1 for e in examples]
    return UnlabeledFeatures(text.lang, examples, X, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))


def pseudo_targets(probas: Mapping[str, list[np.ndarray]], feats: Mapping[str, UnlabeledFeatures],
                   labels: Sequence[str], config: SelfTraining, *, token: bool, seed: int = 0
                   ) -> tuple[list[tuple[torch.Tensor, np.ndarray]], torch.Tensor, dict[str, dict]]:
    """The pseudo-labelled training rows of every language: threshold, then the per-language cap.

    Args:
        probas: language -> the teacher's probabilities of ``feats[lang].examples``.
        feats: language -> :class:`UnlabeledFeatures`.
        labels: the label names. config: threshold, hard/soft, cap, decoding.
        token: a token task. seed: the draw of :func:`sample_per_language`.

    Returns:
        ``(parts, Y, counts)``: the chosen rows as :class:`FeatureRows` parts (``(X, rows)`` per
        language, no copy), float targets ``(n_rows, n_labels)`` in the same order, and per
        language ``{"unlabeled", "confident", "used", "rows", "mean_confidence"}``.
    """
    pseudo, chosen, counts = choose_pseudo_labels(probas, labels, config, token=token, seed=seed)
    parts, ys = [], []
    for lang, idx in chosen.items():
        f, p = feats[lang], pseudo[lang]
        rows = f.rows(idx)
        if len(rows):
            parts.append((f.X, rows))
        ys.append(torch.from_numpy(np.concatenate([p.targets[i].reshape(-1, len(labels)) for i in idx]))
                  if len(idx) else torch.zeros((0, len(labels))))
        counts[lang]["rows"] = int(len(rows))
    return parts, (torch.cat(ys).float() if ys else torch.zeros((0, len(labels)))), counts


def choose_pseudo_labels(probas: Mapping[str, list[np.ndarray]], labels: Sequence[str], config: SelfTraining, *,
                         token: bool, seed: int = 0
                         ) -> tuple[dict[str, PseudoLabels], dict[str, np.ndarray], dict[str, dict]]:
    """Every language's pseudo-labels and the examples kept: above the threshold, then at most
    ``config.per_language`` drawn at random (:func:`sample_per_language` with ``seed``).

    Args:
        probas: language -> the teacher's probabilities, one array per example.
        labels, config, token: as :func:`pseudo_targets`.

    Returns:
        ``(pseudo, chosen, counts)``: language -> :class:`PseudoLabels`; language -> kept
        indices ``(k,)``; language -> ``{"unlabeled", "confident", "used", "mean_confidence"}``.
    """
    pseudo = {l: pseudo_label(p, labels, token=token, soft=config.labels == "soft", decoding=config.decoding)
              for l, p in probas.items()}
    confident = {l: select_confident(p.confidence, config.threshold) for l, p in pseudo.items()}
    chosen = sample_per_language(confident, config.per_language, seed)
    counts = {l: {"unlabeled": len(p.confidence), "confident": int(len(confident[l])), "used": int(len(chosen[l])),
                  "mean_confidence": float(p.confidence.mean()) if len(p.confidence) else float("nan")}
              for l, p in pseudo.items()}
    return pseudo, chosen, counts


def teachers_of(per_seed: dict[int, dict[str, list[np.ndarray]]], config: SelfTraining) -> dict[int, dict]:
    """What teaches each seed's student: its own model's probabilities (seed -> language -> one
    array per example), or with ``config.teacher == 'ensemble'`` and several seeds the mean of all
    seeds' probabilities (:func:`xlt.transfer.ensemble.mean_proba`) for every seed."""
    seeds = list(per_seed)
    if config.teacher != "ensemble" or len(seeds) < 2:
        return per_seed
    pooled = {l: mean_proba([per_seed[s][l] for s in seeds]) for l in per_seed[seeds[0]]}
    return {s: pooled for s in seeds}


@contextlib.contextmanager
def round_cost(costs: list[dict], r: int, device) -> Iterator[None]:
    """Measure one round (teacher labelling and students): appends ``{"round", "seconds",
    "peak_memory_mib"}`` to ``costs`` - wall seconds, and the peak of the process's RSS (CPU) or of
    allocated CUDA memory during the round, in MiB (:class:`xlt.core.memory.PeakMemory`)."""
    t0 = time.perf_counter()
    with PeakMemory(device, interval=0.05) as mem:  # a round takes minutes: 20 samples a second
        yield
    costs.append({"round": r, "seconds": round(time.perf_counter() - t0, 1),
                  "peak_memory_mib": round(mem.peak_total_bytes / 2**20, 1)})


def _one_hot(y: torch.Tensor, n_labels: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(y, n_labels).float()


class SelfTrainingProbeTrainer(ProbeTrainer):
    """A probe trainer that self-trains on unlabelled target text (Xie et al. 2020; Wu et al. 2020).

    :meth:`train` first trains the zero-shot heads (one per seed, the teachers of round 1), then
    for every round: the teacher (the seed's own model, or with ``teacher='ensemble'`` the mean
    of every seed's probabilities) labels each language's unlabelled text; examples under the
    threshold are dropped and at most ``per_language`` kept per language; the student (a new head
    of the same kind, the same seed) trains on the source gold rows plus the pseudo-labelled rows
    and is selected, epoch by epoch, on the source dev set only. The last round's students are
    the models.

    Args:
        encoder, ds, training, aligner, code_switch, cs_copies: as :class:`ProbeTrainer`.
        unlabeled: language -> :class:`~xlt.data.unlabeled.UnlabeledText`.
        config: :class:`SelfTraining`.

    After :meth:`train`, besides :class:`ProbeTrainer`'s attributes: ``teacher_dev_scores``
    (seed -> the zero-shot model's source-dev score) and ``rounds`` (one record per round and
    seed: ``{"round", "seed", "teacher_dev", "student_dev", "rows", "languages": {lang: counts}}``) and
    ``round_costs`` (one :func:`round_cost` record per round: seconds and peak memory).

    Raises:
        ValueError (from :meth:`train`): no unlabelled text.
    """

    def __init__(self, encoder: Encoder, ds: TaskDataset, training: ProbeTraining,
                 unlabeled: Mapping[str, UnlabeledText], config: SelfTraining, aligner=None, code_switch=None,
                 cs_copies: int = 1):
        super().__init__(encoder, ds, training, aligner, code_switch=code_switch, cs_copies=cs_copies)
        self.unlabeled, self.config = dict(unlabeled), config
        self.teacher_dev_scores: dict[int, float] = {}
        self.rounds: list[dict] = []
        self.round_costs: list[dict] = []

    def unlabeled_features(self) -> dict[str, UnlabeledFeatures]:
        """Every language's unlabelled features (extracted once)."""
        if not self.unlabeled:
            raise ValueError("self-training needs unlabelled text in at least one language")
        return {l: unlabeled_features(self.base, t, self.training.progress) for l, t in self.unlabeled.items()}

    def dev_score(self, head) -> float:
        """The source-dev score (%) of a head (the only selection data)."""
        ds, sf = self.ds, self.source_features
        m = self._model(head, -1)
        probas = m.proba_from_features(sf.X_dev, ds.dev.examples)
        return score(ds.metric, ds.kind.gold(ds.dev.examples), m.decode(probas))

    def train(self, seeds: list[int]) -> None:
        """Zero-shot teachers, then :attr:`SelfTraining.rounds` rounds of students."""
        super().train(seeds)
        self.teacher_dev_scores = dict(self.dev_scores)
        feats = self.unlabeled_features()
        for r in range(1, self.config.rounds + 1):
            with round_cost(self.round_costs, r, self.base.encoder.device):
                teachers = self._teacher_probas(feats, seeds)
                for seed in seeds:
                    self._student(r, seed, teachers[seed], feats)

    def _teacher_probas(self, feats: Mapping[str, UnlabeledFeatures], seeds: list[int]) -> dict[int, dict]:
        """seed -> language -> the teacher's probabilities for the unlabelled examples."""
        per_seed = {s: {l: self.models[s].proba_from_features(f.X, f.examples) for l, f in feats.items()}
                    for s in seeds}
        return teachers_of(per_seed, self.config)

    def _student(self, r: int, seed: int, probas: dict, feats: Mapping[str, UnlabeledFeatures]) -> None:
        """Train round ``r``'s student of ``seed`` on source gold + pseudo-labelled rows."""
        ds, t, sf = self.ds, self.training, self.source_features
        parts, Yp, counts = pseudo_targets(probas, feats, ds.labels, self.config, token=ds.kind is TOKEN,
                                           seed=seed * 1000 + r)
        X = FeatureRows([(sf.X, None)] + parts)  # no copy of the features
        Y = torch.cat([_one_hot(sf.y, len(ds.labels)), Yp])
        teacher_dev = self.dev_scores[seed]
        res = train_probe(X, Y, len(ds.labels), self.dev_score, hidden=t.hidden, epochs=t.epochs,
                          batch_size=t.batch_size, lr=t.lr, seed=seed, progress=t.progress,
                          input_dropout=self.config.noise)
        self.models[seed] = self._model(res.head, seed)
        self.models[seed].meta["self_training_round"] = r
        self.dev_scores[seed] = max(h["dev"] for h in res.history)
        self.histories[seed] = self.histories.get(seed, []) + [{"self_training_round": r, "history": res.history}]
        self.rounds.append({"round": r, "seed": seed, "teacher_dev": teacher_dev, "student_dev": self.dev_scores[seed],
                            "rows": {"source": int(len(sf.y)), "pseudo": int(len(Yp))}, "languages": counts})


def check_teacher_models(teachers: Sequence[TaskModel], ds: TaskDataset) -> None:
    """Refuse an empty teacher list, or a teacher of another task kind or label list than ``ds``.

    Raises:
        ValueError: naming the first teacher that does not fit (1-based).
    """
    if not teachers:
        raise ValueError("distillation needs at least one teacher model")
    for k, m in enumerate(teachers):
        if m.kind is not ds.kind or list(m.labels) != list(ds.labels):
            raise ValueError(f"teacher {k + 1} is a {m.kind.name} model with labels {m.labels}; the task is "
                             f"{ds.kind.name} with labels {ds.labels}")


def labelled_texts(kind: TaskKind, examples: Sequence) -> list:
    """The examples a teacher labels: token tasks leave out sentences without words."""
    return [e for e in examples if kind is not TOKEN or len(e.tokens)]


class _Distillation:
    """What both distillation trainers share: the teachers, their mean probabilities, and
    :meth:`train` as one measured round of :meth:`_distil` (which each trainer defines)."""

    def _set_teachers(self, teachers: Sequence[TaskModel], unlabeled: Mapping[str, UnlabeledText],
                      config: SelfTraining, device) -> None:
        check_teacher_models(teachers, self.ds)
        self.teachers, self.unlabeled, self.config, self.device = list(teachers), dict(unlabeled), config, device
        self.rounds: list[dict] = []
        self.round_costs: list[dict] = []
        self.teacher_dev_scores: dict[int, float] = {}

    def teacher_proba(self, examples: list, lang: str) -> list[np.ndarray]:
        """The teachers' mean probabilities for ``examples`` (per example, as :meth:`TaskModel.predict_proba`)."""
        return mean_proba([m.predict_proba(examples, lang) for m in self.teachers])

    def train(self, seeds: list[int]) -> None:
        """Distil the teachers into one student per seed (one round, measured: ``round_costs``)."""
        with round_cost(self.round_costs, 1, self.device):
            self._distil(seeds)

    def _distil(self, seeds: list[int]) -> None:
        raise NotImplementedError


class DistillationProbeTrainer(_Distillation, ProbeTrainer):
    """One probe student per seed distilled from saved task models (Hinton et al. 2015).

    The teachers (seeds of a run, models of different sources; probes or fine-tuned) label the
    source training text and every language's unlabelled text with the mean of their
    probabilities; the student (a head on this trainer's frozen features) trains on those
    targets - soft, or hard above the threshold, capped per language as
    :func:`pseudo_targets` does - and is selected on the source dev set's gold labels. The source
    training text's gold labels are not used: the student learns the teachers, not the data.

    Args:
        encoder, ds, training, aligner: as :class:`ProbeTrainer`.
        teachers: the loaded task models (same task kind and labels as ``ds``).
        unlabeled: language -> :class:`~xlt.data.unlabeled.UnlabeledText`.
        config: :class:`SelfTraining` (``rounds`` and ``teacher`` are not used).

    Raises:
        ValueError: no teachers, or a teacher of another kind or label list (at construction).
    """

    def __init__(self, encoder: Encoder, ds: TaskDataset, training: ProbeTraining, teachers: Sequence[TaskModel],
                 unlabeled: Mapping[str, UnlabeledText], config: SelfTraining, aligner=None):
        super().__init__(encoder, ds, training, aligner)
        self._set_teachers(teachers, unlabeled, config, encoder.device)
        for m in self.teachers:  # probe teachers read and fill this run's feature cache (keyed by encoder)
            if isinstance(m, ProbeModel) and m.cache is None:
                m.cache = self.base.cache

    def _distil(self, seeds: list[int]) -> None:
        """One head per seed on the teachers' targets."""
        ds, t = self.ds, self.training
        token = ds.kind is TOKEN
        train = Split(ds.source, labelled_texts(ds.kind, ds.train.examples))
        X, _ = self.features(train)
        Xd, _ = self.features(ds.dev)
        feats = {l: unlabeled_features(self.base, u, t.progress) for l, u in self.unlabeled.items()}
        feats[ds.source] = UnlabeledFeatures(ds.source, train.examples, X, np.concatenate(
            [[0], np.cumsum([len(e.tokens) if token else 1 for e in train.examples])]).astype(np.int64))
        probas = {l: self.teacher_proba(f.examples, l) for l, f in feats.items()}
        self.source_features = None
        gold = ds.kind.gold(ds.dev.examples)

        def dev_score(head) -> float:
            m = self._model(head, -1)
            return score(ds.metric, gold, m.decode(m.proba_from_features(Xd, ds.dev.examples)))

        teacher_dev = score(ds.metric, gold, self.teachers[0].decode(self.teacher_proba(ds.dev.examples, ds.source)))
        for seed in seeds:
            parts, Ys, counts = pseudo_targets(probas, feats, ds.labels, self.config, token=token, seed=seed)
            if not len(Ys):
                raise ValueError("no pseudo-labelled example passed the threshold: lower it")
            res = train_probe(FeatureRows(parts), Ys, len(ds.labels), dev_score, hidden=t.hidden, epochs=t.epochs,
                              batch_size=t.batch_size, lr=t.lr, seed=seed, progress=t.progress,
                              input_dropout=self.config.noise)
            self.models[seed] = self._model(res.head, seed)
            self.models[seed].meta["distilled_from"] = len(self.teachers)
            self.histories[seed] = res.history
            self.dev_scores[seed] = max(h["dev"] for h in res.history)
            self.teacher_dev_scores[seed] = teacher_dev
            self.rounds.append({"round": 1, "seed": seed, "teacher_dev": teacher_dev,
                                "student_dev": self.dev_scores[seed], "rows": {"pseudo": int(len(Ys))},
                                "languages": counts})


def with_labels(kind: TaskKind, example, labels: Sequence[str]):
    """A labelled copy of an unlabelled example: ``labels`` one per word (token tasks) or one.

    Raises:
        ValueError: a token example given another number of labels than it has words.
    """
    if kind is TOKEN:
        if len(labels) != len(example.tokens):
            raise ValueError(f"{len(labels)} labels for a sentence of {len(example.tokens)} words")
        return TaggedSentence(list(example.tokens), list(labels))
    return replace(example, label=labels[0])


class SelfTrainingFinetuneTrainer(FinetuneTrainer):
    """A fine-tuning trainer that self-trains on unlabelled target text (Wu et al. 2020; Xie et al. 2020).

    :meth:`train` fine-tunes the zero-shot models first (one per seed, the teachers of round 1, as
    :class:`~xlt.transfer.training.FinetuneTrainer`); then every round: the teacher (the seed's
    model, or the seeds' ensemble) labels each language's unlabelled text, hard labels (BIO
    sequences decoded as the task decodes), examples under the threshold dropped and at most
    ``per_language`` kept per language; the student is fine-tuned anew from the starting encoder,
    with the same settings and seed, on the source gold examples plus the pseudo-labelled ones, and
    selected on the source dev set only. With checkpoints, each round's students keep theirs in
    ``<checkpoint_dir>/self-train-<round>`` (never resumed from the teacher's). A round in which no
    example reaches the threshold keeps the teacher (its record says ``skipped``, and a warning
    names each language's mean confidence).

    Args:
        encoder, ds, training, language_adapters, on_epoch_end, code_switch: as
            :class:`~xlt.transfer.training.FinetuneTrainer`.
        unlabeled: language -> :class:`~xlt.data.unlabeled.UnlabeledText`.
        config: :class:`SelfTraining`; with soft labels the pseudo-labelled examples learn the
            teacher's probabilities (:attr:`~xlt.transfer.training.FinetuneTrainer.soft_targets`)
            and the source examples their gold labels.

    After :meth:`train`: as :class:`SelfTrainingProbeTrainer` (``teacher_dev_scores``, ``rounds``).

    Raises:
        ValueError: no unlabelled text (from :meth:`train`).
    """

    def __init__(self, encoder: Encoder, ds: TaskDataset, training: FinetuneTraining,
                 unlabeled: Mapping[str, UnlabeledText], config: SelfTraining, **kwargs):
        super().__init__(encoder, ds, training, **kwargs)
        self.unlabeled, self.config = dict(unlabeled), config
        self.teacher_dev_scores: dict[int, float] = {}
        self.rounds: list[dict] = []
        self.round_costs: list[dict] = []

    def train(self, seeds: list[int]) -> None:
        """Zero-shot teachers, then :attr:`SelfTraining.rounds` rounds of fine-tuned students."""
        if not self.unlabeled:
            raise ValueError("self-training needs unlabelled text in at least one language")
        super().train(seeds)
        self.teacher_dev_scores = dict(self.dev_scores)
        texts = {l: labelled_texts(self.ds.kind, t.examples) for l, t in self.unlabeled.items()}
        for r in range(1, self.config.rounds + 1):
            with round_cost(self.round_costs, r, self.encoder.device):
                per_seed: dict[int, dict] = {s: {} for s in seeds}
                for lang, examples in texts.items():
                    probas, _ = self.evaluate_proba(Split(lang, examples))
                    for s in seeds:
                        per_seed[s][lang] = probas[s]
                per_seed = teachers_of(per_seed, self.config)
                for seed in seeds:
                    self._student(r, seed, per_seed[seed], texts)

    def _student(self, r: int, seed: int, probas: dict, texts: Mapping[str, list]) -> None:
        """Fine-tune round ``r``'s student of ``seed`` on source gold + pseudo-labelled examples."""
        ds = self.ds
        token = ds.kind is TOKEN
        pseudo, chosen, counts = choose_pseudo_labels(probas, ds.labels, self.config, token=token,
                                                      seed=seed * 1000 + r)
        extra, soft = pseudo_examples(ds.kind, ds.labels, pseudo, chosen, texts)
        teacher_dev, history = self.dev_scores[seed], self.histories.get(seed, [])
        record = {"round": r, "seed": seed, "teacher_dev": teacher_dev, "student_dev": teacher_dev,
                  "rows": {"source": len(ds.train.examples), "pseudo": len(extra)}, "languages": counts}
        if not extra:  # the student would be the teacher again, at a fine-tuning's cost
            log.warning("self-training round %d, seed %d: no pseudo-labelled example reached the threshold %g "
                        "(mean confidence %s); the teacher is kept: lower --pseudo-threshold", r, seed,
                        self.config.threshold, ", ".join(f"{l} {c['mean_confidence']:.2f}" for l, c in counts.items()))
            self.rounds.append(dict(record, skipped=True))
            return
        train = list(ds.train.examples) + extra
        targets = [None] * len(ds.train.examples) + soft if self.config.labels == "soft" else None
        _train_on(self, train, targets, f"self-train-{r}", [seed])
        self.models[seed].meta["self_training_round"] = r
        self.histories[seed] = history + [{"self_training_round": r, "history": self.histories[seed]}]
        self.rounds.append(dict(record, student_dev=self.dev_scores[seed]))


def pseudo_examples(kind: TaskKind, labels: Sequence[str], pseudo: Mapping[str, PseudoLabels],
                    chosen: Mapping[str, np.ndarray], texts: Mapping[str, list]) -> tuple[list, list[np.ndarray]]:
    """The chosen examples of every language, labelled with their targets' argmax (hard targets are
    one-hot rows of the decoded labels, so these are the decoded labels), and the targets themselves.

    Args:
        kind: the task kind. labels: the label names.
        pseudo: language -> :class:`PseudoLabels` of ``texts[lang]``.
        chosen: language -> the indices kept (:func:`choose_pseudo_labels`).
        texts: language -> the unlabelled examples.

    Returns:
        ``(examples, targets)``, both ``(n_chosen,)``, language by language in ``chosen``'s order.
    """
    examples, targets = [], []
    for lang, idx in chosen.items():
        for i in idx:
            t = pseudo[lang].targets[i]
            examples.append(with_labels(kind, texts[lang][i], [labels[j] for j in t.argmax(-1).reshape(-1)]))
            targets.append(t)
    return examples, targets


def _train_on(trainer: FinetuneTrainer, train: list, soft: list | None, checkpoint_sub: str, seeds: list[int]) -> None:
    """Fine-tune ``trainer``'s models of ``seeds`` on ``train`` (with soft targets, or None) in place of
    its data set's training split (checkpoints in ``<checkpoint_dir>/<checkpoint_sub>``); the
    trainer's data set, settings and soft targets are back as they were afterwards."""
    ds, training, before = trainer.ds, trainer.training, trainer.soft_targets
    trainer.ds = replace(ds, train=Split(ds.source, train))
    trainer.soft_targets = soft
    if training.checkpoint_dir:
        trainer.training = replace(training, checkpoint_dir=Path(training.checkpoint_dir) / checkpoint_sub)
    try:
        FinetuneTrainer.train(trainer, seeds)
    finally:
        trainer.ds, trainer.training, trainer.soft_targets = ds, training, before


class DistillationFinetuneTrainer(_Distillation, FinetuneTrainer):
    """One fine-tuned student per seed distilled from saved task models (Hinton et al. 2015).

    As :class:`DistillationProbeTrainer`, but the student fine-tunes the starting encoder (with the
    settings of :class:`~xlt.transfer.training.FinetuneTrainer`): the teachers' mean probabilities
    on the source training text and every language's unlabelled text are its targets - soft (the
    probabilities, :attr:`~xlt.transfer.training.FinetuneTrainer.soft_targets`), or hard (the
    decoded labels) above the threshold, capped per language - and it is selected on the source
    dev set's gold labels. The source's gold labels are not trained on. With checkpoints, each
    seed's student keeps them in ``<checkpoint_dir>/distill``.

    Args:
        encoder, ds, training, language_adapters, on_epoch_end, code_switch: as
            :class:`~xlt.transfer.training.FinetuneTrainer` (code-switching touches no example
            with soft targets).
        teachers: the loaded task models (same task kind and labels as ``ds``).
        unlabeled: language -> :class:`~xlt.data.unlabeled.UnlabeledText`.
        config: :class:`SelfTraining` (``rounds`` and ``teacher`` are not used).

    After :meth:`train`: as :class:`DistillationProbeTrainer` (``teacher_dev_scores``, ``rounds``).

    Raises:
        ValueError: no teachers, or a teacher of another kind or label list (at construction); no
            pseudo-labelled example above the threshold (from :meth:`train`).
    """

    def __init__(self, encoder: Encoder, ds: TaskDataset, training: FinetuneTraining, teachers: Sequence[TaskModel],
                 unlabeled: Mapping[str, UnlabeledText], config: SelfTraining, **kwargs):
        super().__init__(encoder, ds, training, **kwargs)
        self._set_teachers(teachers, unlabeled, config, encoder.device)

    def _distil(self, seeds: list[int]) -> None:
        """One fine-tuned model per seed on the teachers' targets."""
        ds = self.ds
        texts = {l: labelled_texts(ds.kind, u.examples) for l, u in self.unlabeled.items()}
        texts[ds.source] = labelled_texts(ds.kind, ds.train.examples)
        probas = {l: self.teacher_proba(t, l) for l, t in texts.items()}
        gold = ds.kind.gold(ds.dev.examples)
        teacher_dev = score(ds.metric, gold, self.teachers[0].decode(self.teacher_proba(ds.dev.examples, ds.source)))
        for seed in seeds:
            pseudo, chosen, counts = choose_pseudo_labels(probas, ds.labels, self.config, token=ds.kind is TOKEN,
                                                          seed=seed)
            train, soft = pseudo_examples(ds.kind, ds.labels, pseudo, chosen, texts)
            if not train:
                raise ValueError("no pseudo-labelled example passed the threshold: lower it")
            _train_on(self, train, soft if self.config.labels == "soft" else None, "distill", [seed])
            self.models[seed].meta["distilled_from"] = len(self.teachers)
            self.teacher_dev_scores[seed] = teacher_dev
            self.rounds.append({"round": 1, "seed": seed, "teacher_dev": teacher_dev,
                                "student_dev": self.dev_scores[seed], "rows": {"pseudo": len(train)},
                                "languages": counts})
