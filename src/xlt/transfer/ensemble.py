"""Ensembles of single-source task models: one prediction from several source languages' models.

Multi-source transfer can train one model on the union of the sources (:func:`xlt.data.dataset.multi_source`)
or keep one model per source and combine their predictions for each target. :func:`ensemble_proba`
averages the models' label probabilities with per-model weights (a weighted linear opinion pool);
weights can come from a source ranking (:func:`top_k_weights`: the ``k`` sources ranked best for a
target, as in LangRank's use of its top predictions, Lin et al. 2019) or be uniform. Models may
know different label sets (a user's sources may each lack a rare label): probabilities are aligned
by label name on the union, a label a model does not know getting probability 0 from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xlt.core.errors import XltError
from xlt.data.kinds import TOKEN

__all__ = ["EnsembleError", "ensemble_labels", "ensemble_proba", "mean_proba", "top_k_weights"]


class EnsembleError(XltError, ValueError):
    """Models that cannot be combined: none, different task kinds, or unusable weights."""


def ensemble_labels(models: Sequence) -> list[str]:
    """The union of the models' labels: the first model's order, then new labels in order of appearance."""
    out: dict[str, None] = {}
    for m in models:
        out.update(dict.fromkeys(m.labels))
    return list(out)


def _shared_probe_features(models: Sequence) -> bool:
    """Whether every model is a probe reading the same features (same encoder object, layers and word
    pieces, no aligner): then the features are computed once for all of them."""
    from xlt.transfer.model import ProbeModel  # lazy: heavy import

    if not all(isinstance(m, ProbeModel) and m.aligner is None for m in models):
        return False
    first = models[0]
    return all(m.encoder is first.encoder and m.layer == first.layer and m.word_pieces == first.word_pieces
               for m in models)


def ensemble_proba(models: Sequence, weights: Sequence[float], inputs: Sequence, lang: str | None = None, *,
                   progress: bool = False) -> tuple[list[str], list[np.ndarray]]:
    """Weighted average of several task models' label probabilities.

    ``p(y | x) = sum_m w_m p_m(y | x) / sum_m w_m``, models with weight 0 not run.

    Args:
        models: :class:`~xlt.transfer.model.TaskModel` values of one task kind.
        weights: one non-negative weight per model, at least one positive.
        inputs: examples or raw inputs, as :meth:`TaskModel.predict_proba` takes them.
        lang: the inputs' language.

    Returns:
        ``(labels, probas)``: the union label list (:func:`ensemble_labels`) and per input
        ``(n_words, n_labels)`` (token tasks) or ``(n_labels,)`` probabilities over it.

    Raises:
        EnsembleError: no models, a weight count that differs from the model count, negative or
            non-finite weights, all weights 0, or models of different task kinds.
    """
    if not models:
        raise EnsembleError("an ensemble needs at least one model")
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(models),):
        raise EnsembleError(f"{len(models)} models but {w.size} weights")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise EnsembleError(f"ensemble weights must be finite, >= 0 and not all 0, got {w.tolist()}")
    kinds = {m.kind.name for m in models}
    if len(kinds) > 1:
        raise EnsembleError(f"models of different task kinds cannot be combined: {sorted(kinds)}")
    labels = ensemble_labels(models)
    index = {l: i for i, l in enumerate(labels)}
    used = [(m, float(x)) for m, x in zip(models, w) if x > 0]
    total = sum(x for _, x in used)
    out: list[np.ndarray] | None = None
    shared = _shared_probe_features([m for m, _ in used])
    if shared:
        from xlt.transfer.model import as_examples  # lazy: heavy import

        first = used[0][0]
        examples, _ = as_examples(first.kind, inputs, lang)
        nonempty = [e for e in examples if first.kind is not TOKEN or len(e.tokens)]
        X = first.features(nonempty, lang, progress=progress)[0] if nonempty else None
    for m, x in used:
        if shared:
            probs = iter(m.proba_from_features(X, nonempty)) if nonempty else iter(())
            empty = np.zeros((0, len(m.labels)), dtype=np.float32)
            probas = [next(probs) if (m.kind is not TOKEN or len(e.tokens)) else empty for e in examples]
        else:
            probas = m.predict_proba(inputs, lang, progress=progress)
        cols = [index[l] for l in m.labels]
        if out is None:
            out = [np.zeros(p.shape[:-1] + (len(labels),), dtype=np.float64) for p in probas]
        for acc, p in zip(out, probas):
            acc[..., cols] += (x / total) * np.asarray(p, dtype=np.float64)
    return labels, out or []


def mean_proba(per_model: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Equal-weight mean of several models' probabilities for the same inputs and label order.

    The pool of :func:`ensemble_proba` with weights 1 when the models already share one label list
    (the seeds of one run), from probabilities computed once.

    Args:
        per_model: per model, per input ``(n_words, n_labels)`` or ``(n_labels,)`` arrays.

    Returns:
        per input, the mean over the models (same shape).

    Raises:
        EnsembleError: no models, or models with different numbers of inputs.
    """
    if not per_model:
        raise EnsembleError("an ensemble needs at least one model")
    if len({len(p) for p in per_model}) > 1:
        raise EnsembleError(f"models with different numbers of inputs: {[len(p) for p in per_model]}")
    return [sum(ps) / len(ps) for ps in zip(*per_model)]


def top_k_weights(ranked: Sequence[str], sources: Sequence[str], k: int = 3) -> list[float]:
    """Weights for :func:`ensemble_proba`: 1 for each of the ``k`` first sources of ``ranked``, 0 for the rest.

    Args:
        ranked: source languages, best predicted first. sources: the models' languages, in model order.
        k: how many of the best to keep (>= 1; fewer when fewer are ranked).

    Raises:
        EnsembleError: ``k < 1``, or a ranked source that has no model.
    """
    if k < 1:
        raise EnsembleError(f"k must be >= 1, got {k}")
    unknown = [s for s in ranked if s not in sources]
    if unknown:
        raise EnsembleError(f"ranked sources without a model: {unknown}")
    top = set(list(ranked)[:k])
    return [1.0 if s in top else 0.0 for s in sources]
