"""Evaluation metrics for zero-shot cross-lingual transfer (re-exported by :mod:`xlt.core.metrics`).

All scores are returned in **percent** (0-100), the unit used in the XTREME
benchmark tables (Hu et al., 2020, "XTREME: A Massively Multilingual
Multi-task Benchmark for Evaluating Cross-lingual Generalization").

* :func:`token_accuracy` - token-level accuracy for tagging tasks (e.g. POS).
* :func:`span_f1` - entity-level precision/recall/F1 for BIO-style tagging
  (e.g. NER), computed with ``seqeval``; the default mode reproduces the
  CoNLL ``conlleval`` script, which is what XTREME reports.
* :func:`accuracy` - sentence/pair-level accuracy for classification or
  retrieval (e.g. XNLI, PAWS-X, Tatoeba).
* :func:`mean_std` - mean and *sample* standard deviation over seeds.
* :data:`METRICS` / :func:`score` - name-based dispatch returning a float.

This module imports nothing heavy at import time (``seqeval`` is imported
lazily inside :func:`span_f1`; torch is never imported).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

__all__ = [
    "token_accuracy",
    "span_f1",
    "accuracy",
    "mean_std",
    "score",
    "METRICS",
    "SCHEMES",
]

#: Tagging schemes accepted by :func:`span_f1` (names of ``seqeval.scheme`` classes).
SCHEMES: tuple[str, ...] = ("IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU")


def _check_parallel(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]
) -> None:
    """Raise ValueError unless ``gold`` and ``pred`` have identical shapes."""
    if isinstance(gold, str) or isinstance(pred, str):
        raise TypeError("gold and pred must be sequences of token-label sequences, not str")
    if len(gold) != len(pred):
        raise ValueError(
            f"gold has {len(gold)} sentences but pred has {len(pred)}"
        )
    for i, (g, p) in enumerate(zip(gold, pred)):
        if isinstance(g, str) or isinstance(p, str):
            raise TypeError(
                f"sentence {i}: expected a sequence of labels, got a str"
            )
        if len(g) != len(p):
            raise ValueError(
                f"sentence {i}: gold has {len(g)} labels but pred has {len(p)}"
            )


def token_accuracy(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]
) -> float:
    """Token-level accuracy over all tokens of all sentences (micro average).

    Args:
        gold: gold labels, one sequence of label strings per sentence.
        pred: predicted labels, same shape as ``gold``.

    Returns:
        ``100 * (#tokens with pred == gold) / (#tokens)`` as a float in
        percent (0-100). This is the POS-tagging accuracy of the UD-based
        evaluations (XTREME reports UD-POS with this token-level measure).

    Raises:
        ValueError: if the number of sentences differs, if a sentence's
            gold and predicted lengths differ (the message names the
            0-based sentence index), or if there are no tokens at all.
        TypeError: if a sentence is given as a bare ``str``.
    """
    _check_parallel(gold, pred)
    total = 0
    correct = 0
    for g, p in zip(gold, pred):
        total += len(g)
        correct += sum(1 for a, b in zip(g, p) if a == b)
    if total == 0:
        raise ValueError("token_accuracy: no tokens to score")
    return 100.0 * correct / total


def span_f1(
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    scheme: str = "IOB2",
    mode: Literal["default", "strict"] | None = None,
) -> dict[str, float]:
    """Entity-level (span) precision, recall and F1, micro-averaged over types.

    A predicted entity counts as correct only if both its boundaries and its
    type match a gold entity exactly. Counts are pooled over all sentences
    and entity types (micro average); ``f1 = 2PR / (P + R)``.

    Two chunking modes, both implemented by ``seqeval``
    (https://github.com/chakki-works/seqeval):

    * ``mode=None`` / ``"default"`` (default): ``seqeval``'s default mode,
      which mimics the CoNLL-2000 ``conlleval`` script: lenient chunking, e.g.
      an ``I-X`` that does not follow ``B-X``/``I-X`` still *starts* a chunk.
      This is what XTREME (Hu et al., 2020) reports for NER (PAN-X). In this
      mode ``scheme`` is ignored (conlleval handles IOB1/IOB2 the same way).
    * ``mode="strict"``: ``seqeval``'s strict mode with the given ``scheme``
      (one of :data:`SCHEMES`); chunks that are invalid under the scheme
      (e.g. IOB2 chunks starting with ``I-``) are dropped.

    Args:
        gold: gold tags, one sequence of tag strings per sentence
            (e.g. ``[["B-PER", "I-PER", "O"], ...]``).
        pred: predicted tags, same shape as ``gold``.
        scheme: tagging scheme for strict mode: "IOB1", "IOB2", "IOE1",
            "IOE2", "IOBES" or "BILOU" (case-insensitive).
        mode: ``None``/``"default"`` (conlleval-compatible) or ``"strict"``.

    Returns:
        ``{"precision": P, "recall": R, "f1": F}``, each a float in percent
        (0-100). When a ratio is undefined (no predicted entities for P, no
        gold entities for R, or P + R = 0 for F1) it is 0.0, as in conlleval.

    Raises:
        ValueError: on a sentence-count or per-sentence length mismatch (the
            message names the 0-based sentence index), an empty input, an
            unknown ``scheme`` or an unknown ``mode``.
        TypeError: if a sentence is given as a bare ``str``.
    """
    _check_parallel(gold, pred)
    if len(gold) == 0:
        raise ValueError("span_f1: no sentences to score")
    if mode not in (None, "default", "strict"):
        raise ValueError(f"span_f1: mode must be None, 'default' or 'strict', got {mode!r}")
    scheme_name = scheme.upper()
    if scheme_name not in SCHEMES:
        raise ValueError(f"span_f1: unknown scheme {scheme!r}; expected one of {SCHEMES}")

    # seqeval needs real lists of lists of str (it type-checks for ``list``).
    y_true = [[str(t) for t in s] for s in gold]
    y_pred = [[str(t) for t in s] for s in pred]

    if mode == "strict":
        from seqeval import scheme as seqeval_scheme  # lazy: heavy import
        from seqeval.metrics.v1 import precision_recall_fscore_support as prfs_strict  # lazy: heavy import

        p, r, f, _ = prfs_strict(
            y_true,
            y_pred,
            average="micro",
            zero_division=0,
            scheme=getattr(seqeval_scheme, scheme_name),
        )
    else:
        from seqeval.metrics.sequence_labeling import (  # lazy: heavy import
            precision_recall_fscore_support as prfs_default,
        )

        p, r, f, _ = prfs_default(y_true, y_pred, average="micro", zero_division=0)
    return {
        "precision": 100.0 * float(p),
        "recall": 100.0 * float(r),
        "f1": 100.0 * float(f),
    }


def accuracy(gold: Sequence[Any], pred: Sequence[Any]) -> float:
    """Fraction of items whose predicted label equals the gold label.

    Used for sentence-level classification (XNLI, PAWS-X) and for retrieval
    (Tatoeba / BUCC-style top-1 accuracy) in XTREME (Hu et al., 2020).

    Args:
        gold: gold labels, one per item (strings, or any ``==``-comparable).
        pred: predicted labels, same length.

    Returns:
        ``100 * (#items with pred == gold) / (#items)``, in percent (0-100).

    Raises:
        ValueError: if the lengths differ or the input is empty.
        TypeError: if ``gold`` or ``pred`` is a bare ``str``.
    """
    if isinstance(gold, str) or isinstance(pred, str):
        raise TypeError("accuracy: gold and pred must be sequences of labels, not str")
    if len(gold) != len(pred):
        raise ValueError(f"accuracy: gold has {len(gold)} items but pred has {len(pred)}")
    if len(gold) == 0:
        raise ValueError("accuracy: no items to score")
    correct = sum(1 for a, b in zip(gold, pred) if a == b)
    return 100.0 * correct / len(gold)


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and *sample* standard deviation (ddof=1), e.g. over random seeds.

    The standard deviation uses Bessel's correction,
    ``sqrt(sum((x - mean)**2) / (n - 1))``, i.e. ``numpy.std(x, ddof=1)``;
    for a single value it is defined here as 0.0.

    Args:
        values: finite numbers (any unit; percent in practice).

    Returns:
        ``(mean, std)`` as floats in the unit of ``values``.

    Raises:
        ValueError: if ``values`` is empty or contains NaN/inf.
    """
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("mean_std: no values")
    if not all(math.isfinite(x) for x in xs):
        raise ValueError(f"mean_std: non-finite value in {xs}")
    mean = statistics.fmean(xs)
    std = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return mean, float(std)


def _is_nested(seq: Sequence[Any]) -> bool:
    """True if ``seq`` looks like a sequence of label sequences."""
    for item in seq:
        return not isinstance(item, str) and isinstance(item, Sequence)
    return False


def _accuracy_any(gold: Sequence[Any], pred: Sequence[Any]) -> float:
    """Accuracy for either flat labels (:func:`accuracy`) or per-token labels
    (:func:`token_accuracy`), chosen by whether ``gold[0]`` is a sequence."""
    if _is_nested(gold):
        return token_accuracy(gold, pred)
    return accuracy(gold, pred)


def _f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Span F1 (percent) in seqeval's default, conlleval-compatible mode."""
    return span_f1(gold, pred)["f1"]


#: Metric name -> function ``(gold, pred) -> float`` (percent).
#: ``"accuracy"`` works for flat labels (classification/retrieval) and for
#: nested per-token labels (token accuracy); ``"f1"`` is entity-level span F1
#: in seqeval's default (conlleval/XTREME) mode.
METRICS: dict[str, Callable[[Sequence[Any], Sequence[Any]], float]] = {
    "accuracy": _accuracy_any,
    "token_accuracy": token_accuracy,
    "f1": _f1,
}


def score(metric: str, gold: Sequence[Any], pred: Sequence[Any]) -> float:
    """Compute a metric by name (see :data:`METRICS`).

    Args:
        metric: "accuracy" (flat or per-token), "token_accuracy" or "f1"
            (entity-level span F1, seqeval default / conlleval mode).
        gold: gold labels (flat list, or one label list per sentence).
        pred: predictions with the same shape as ``gold``.

    Returns:
        The score as a float in percent (0-100).

    Raises:
        ValueError: for an unknown metric name, or anything the underlying
            metric raises (length mismatch, empty input).
    """
    try:
        fn = METRICS[metric]
    except KeyError:
        raise ValueError(
            f"unknown metric {metric!r}; expected one of {sorted(METRICS)}"
        ) from None
    return float(fn(gold, pred))
