"""Word-alignment scores: alignment error rate (AER), precision, recall and F1.

With A the predicted links, S the sure gold links and P the possible gold links (S ⊆ P), all
counted over the whole corpus (sums over sentence pairs, not averages of per-pair scores),
following Och & Ney (2003), "A Systematic Comparison of Various Statistical Alignment Models":

* precision = |A ∩ P| / |A|
* recall    = |A ∩ S| / |S|
* AER       = 1 − (|A ∩ S| + |A ∩ P|) / (|A| + |S|)
* F1        = 2 · precision · recall / (precision + recall)

All scores are returned in percent (0-100), like every score in :mod:`xlt.evaluate`.
Without possible links (P = S) AER = 100 − F1. Conventions for empty sets: precision is 0
when nothing is predicted, recall is 0 when there is no sure gold link, AER is 0 when both A
and S are empty, F1 is 0 when precision + recall is 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from xlt.data.readers import DataFormatError
from xlt.data.wordalign import read_pairs, read_pharaoh

Link = tuple[int, int]


def alignment_counts(pred: Sequence[Iterable[Link]], sure: Sequence[Iterable[Link]],
                     possible: Sequence[Iterable[Link]] | None = None) -> dict[str, int]:
    """Corpus counts behind the scores.

    Args:
        pred: per sentence pair, predicted links ``(i, j)``.
        sure: per pair, sure gold links.
        possible: per pair, possible gold links; the sure links are added to them (S ⊆ P),
            so passing only the ``ipj`` links is fine. ``None``: P = S.

    Returns:
        ``{'pairs', 'pred', 'sure', 'possible', 'pred_and_sure', 'pred_and_possible'}``: the
        number of pairs, |A|, |S|, |P|, |A ∩ S|, |A ∩ P| summed over pairs.

    Raises:
        ValueError: the sequences have different lengths.
    """
    if possible is None:
        possible = [()] * len(sure)
    if not len(pred) == len(sure) == len(possible):
        raise ValueError(f"{len(pred)} predicted alignments but {len(sure)} sure and "
                         f"{len(possible)} possible gold alignments; they must be one per sentence pair")
    c = dict.fromkeys(("pairs", "pred", "sure", "possible", "pred_and_sure", "pred_and_possible"), 0)
    for a, s, p in zip(pred, sure, possible):
        a, s = set(a), set(s)
        p = set(p) | s
        c["pairs"] += 1
        c["pred"] += len(a)
        c["sure"] += len(s)
        c["possible"] += len(p)
        c["pred_and_sure"] += len(a & s)
        c["pred_and_possible"] += len(a & p)
    return c


def scores_from_counts(c: dict[str, int]) -> dict[str, float]:
    """``{'aer', 'precision', 'recall', 'f1'}`` in percent from :func:`alignment_counts`."""
    precision = c["pred_and_possible"] / c["pred"] if c["pred"] else 0.0
    recall = c["pred_and_sure"] / c["sure"] if c["sure"] else 0.0
    denom = c["pred"] + c["sure"]
    aer = 1.0 - (c["pred_and_sure"] + c["pred_and_possible"]) / denom if denom else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"aer": 100.0 * aer, "precision": 100.0 * precision, "recall": 100.0 * recall, "f1": 100.0 * f1}


def alignment_error_rate(pred: Sequence[Iterable[Link]], sure: Sequence[Iterable[Link]],
                         possible: Sequence[Iterable[Link]] | None = None) -> float:
    """AER (%) = 100 · (1 − (|A∩S| + |A∩P|) / (|A| + |S|)), summed over the corpus (Och & Ney 2003).

    Arguments as in :func:`alignment_counts` (one link collection per sentence pair).
    """
    return scores_from_counts(alignment_counts(pred, sure, possible))["aer"]


def alignment_scores(pred: Sequence[Iterable[Link]], sure: Sequence[Iterable[Link]],
                     possible: Sequence[Iterable[Link]] | None = None) -> dict:
    """AER, precision, recall and F1 (all %) plus the counts behind them.

    Returns:
        ``{'aer', 'precision', 'recall', 'f1', 'counts'}``, ``counts`` from
        :func:`alignment_counts`.
    """
    counts = alignment_counts(pred, sure, possible)
    return {**scores_from_counts(counts), "counts": counts}


def evaluate_alignment_files(pred: str | Path, gold: str | Path, one_based: bool = False,
                             pred_one_based: bool = False, pairs: str | Path | None = None,
                             tokenizer: str = "space") -> dict:
    """Score a Pharaoh prediction file against a gold file, line by line.

    Args:
        pred: predicted links (0-based unless ``pred_one_based``), one line per sentence pair.
        gold: gold links (``i-j`` sure, ``ipj`` possible), 0-based unless ``one_based``.
        one_based: the gold file counts words from 1 (the sets in ``../shared/data/wordalign``).
        pred_one_based: the prediction file counts words from 1.
        pairs: optional ``source ||| target`` file: then both files must have one line per pair
            and every link must fall inside its sentences.
        tokenizer: word tokeniser for ``pairs`` (as :func:`xlt.data.wordalign.read_pairs`).

    Returns:
        :func:`alignment_scores`'s dict plus ``pred``, ``gold`` (paths) and ``one_based``.

    Raises:
        DataFormatError: a malformed link, a link outside its sentence pair, or files with
            different numbers of lines (names the file and line).
    """
    lengths = read_pairs(pairs, tokenizer=tokenizer).lengths if pairs is not None else None
    g = read_pharaoh(gold, one_based=one_based, lengths=lengths)
    p = read_pharaoh(pred, one_based=pred_one_based, lengths=lengths, option="--pred-one-based")
    if len(p) != len(g):
        longer = Path(pred) if len(p) > len(g) else Path(gold)
        raise DataFormatError(longer, min(len(p), len(g)) + 1,
                              f"{Path(pred).name} has {len(p)} lines but {Path(gold).name} has {len(g)}; "
                              "predicted and gold alignments need one line per sentence pair")
    # every predicted link counts, whether written i-j or ipj
    return {**alignment_scores(p.possible, g.sure, g.possible), "pred": str(pred), "gold": str(gold),
            "one_based": one_based}
