"""BUCC-style bitext mining evaluation built from a multi-parallel corpus.

The BUCC 2017/2018 shared task (Zweigenbaum et al. 2017, "Overview of the Second BUCC Shared
Task: Spotting Parallel Sentences in Comparable Corpora") hides true translation pairs among
non-parallel sentences of both languages and scores the mined pairs by precision, recall and F1
against the hidden pairs, with the score threshold chosen on a separate training split.

:func:`build_task` makes such a task from line-aligned text (e.g. NTREX-128): the lines are
split into a parallel share, whose sentences go into both piles, and two disjoint non-parallel
shares, one per side, so that every distractor has no translation on the other side. Both piles
are shuffled. :func:`evaluate_language` runs the whole evaluation on pre-computed embeddings of
one language pair (threshold chosen on a dev half, precision/recall/F1 on a test half); the
``xlt mine --eval ntrex`` job (:mod:`xlt.jobs.mine`) embeds the corpus and calls it per language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from xlt.retrieval.mining import neighbourhoods, score_neighbourhoods, select_pairs


@dataclass
class BuccTask:
    """One mining task.

    Attributes:
        src, tgt: the two piles of sentences (shuffled, unique within each pile).
        src_lines, tgt_lines: the corpus line (0-based) of each pile entry.
        gold: the true pairs as ``(src_row, tgt_row)`` row numbers into the piles.
        n_dropped_duplicates: pile entries removed because the same text was already in the pile.
    """

    src: list[str]
    tgt: list[str]
    src_lines: list[int]
    tgt_lines: list[int]
    gold: set[tuple[int, int]]
    n_dropped_duplicates: int = 0


def split_lines(n: int, fractions: Sequence[float], seed: int = 0) -> list[np.ndarray]:
    """Shuffle ``range(n)`` (seeded) and cut it into consecutive parts of the given fractions.

    The last part takes the remainder. Returns sorted index arrays.

    Raises:
        ValueError: fractions not positive or summing to more than 1.
    """
    if any(f <= 0 for f in fractions) or sum(fractions) > 1 + 1e-9:
        raise ValueError(f"fractions must be positive and sum to at most 1, got {list(fractions)}")
    perm = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum([int(round(f * n)) for f in fractions[:-1]])
    return [np.sort(p) for p in np.split(perm, cuts)]


def build_task(src_lines: Sequence[str], tgt_lines: Sequence[str], rows: Iterable[int] | None = None, *,
               parallel_fraction: float = 0.2, seed: int = 0) -> BuccTask:
    """Hide translation pairs among non-parallel sentences.

    Args:
        src_lines, tgt_lines: line-aligned corpus sides (``tgt_lines[i]`` translates ``src_lines[i]``).
        rows: the corpus lines to use (default all).
        parallel_fraction: share of ``rows`` kept as true pairs; the rest is split evenly into
            source-only and target-only sentences. With 0.2 each pile is 60% distractors.
        seed: shuffling seed.

    Returns:
        a :class:`BuccTask`. A sentence that repeats an earlier one in the same pile is dropped
        (counted); a gold pair whose side was dropped is not gold.

    Raises:
        ValueError: sides of different lengths, ``parallel_fraction`` outside (0, 1], or fewer
            than 3 rows.
    """
    if len(src_lines) != len(tgt_lines):
        raise ValueError(f"sides must be line-aligned, got {len(src_lines)} and {len(tgt_lines)} lines")
    if not 0 < parallel_fraction <= 1:
        raise ValueError(f"parallel_fraction must be in (0, 1], got {parallel_fraction}")
    rows = np.arange(len(src_lines)) if rows is None else np.asarray(list(rows), dtype=np.int64)
    if len(rows) < 3:
        raise ValueError(f"need at least 3 lines to build a task, got {len(rows)}")
    rng = np.random.default_rng(seed)
    rows = rows[rng.permutation(len(rows))]
    n_par = max(1, int(round(parallel_fraction * len(rows))))
    rest = rows[n_par:]
    par, src_only, tgt_only = rows[:n_par], rest[: len(rest) // 2], rest[len(rest) // 2:]
    src_rows = rng.permutation(np.concatenate([par, src_only]))
    tgt_rows = rng.permutation(np.concatenate([par, tgt_only]))

    def pile(lines, order):
        texts, kept, pos, seen, dropped = [], [], {}, set(), 0
        for r in order:
            t = lines[r].strip()
            if t in seen:
                dropped += 1
                continue
            seen.add(t)
            pos[int(r)] = len(texts)
            texts.append(t)
            kept.append(int(r))
        return texts, kept, pos, dropped

    s_txt, s_rows, s_pos, d1 = pile(src_lines, src_rows)
    t_txt, t_rows, t_pos, d2 = pile(tgt_lines, tgt_rows)
    gold = {(s_pos[int(r)], t_pos[int(r)]) for r in par if int(r) in s_pos and int(r) in t_pos}
    return BuccTask(s_txt, t_txt, s_rows, t_rows, gold, d1 + d2)


def precision_recall_f1(pred: Iterable[tuple[int, int]], gold: set[tuple[int, int]]) -> dict[str, float]:
    """Precision, recall and F1 (in [0, 1]) of predicted pairs against gold pairs.

    Empty predictions give precision 0 (BUCC convention); empty gold gives recall 0.
    """
    pred = set(pred)
    tp = len(pred & gold)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "n_pred": len(pred), "n_gold": len(gold), "n_correct": tp}


def best_threshold(scores: np.ndarray, correct: np.ndarray, n_gold: int) -> tuple[float, float]:
    """The score threshold that maximises F1 when pairs with ``score >= threshold`` are kept.

    Args:
        scores: ``(n_pairs,)`` scores of the mined pairs. correct: ``(n_pairs,)`` bool, pair is gold.
        n_gold: number of gold pairs (for recall).

    Returns:
        ``(threshold, f1)``; the threshold is midway between the last kept and the first
        dropped score (the last kept score when nothing is dropped).

    Raises:
        ValueError: shapes differ, no pairs, or ``n_gold < 1``.
    """
    scores, correct = np.asarray(scores, dtype=np.float64), np.asarray(correct, dtype=bool)
    if scores.shape != correct.shape or scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"scores and correct must be equal-length non-empty vectors, got {scores.shape} and {correct.shape}")
    if n_gold < 1:
        raise ValueError("n_gold must be >= 1")
    order = np.argsort(-scores, kind="stable")
    s, c = scores[order], correct[order]
    tp = np.cumsum(c)
    kept = np.arange(1, len(s) + 1)
    f1 = 2 * tp / (kept + n_gold)
    # only cut between different scores
    valid = np.append(s[1:] < s[:-1], True)
    f1 = np.where(valid, f1, -1.0)
    i = int(np.argmax(f1))
    thr = s[i] if i == len(s) - 1 else (s[i] + s[i + 1]) / 2
    return float(thr), float(f1[i])


def evaluate_language(x_all: np.ndarray, y_all: np.ndarray, src_lines: list[str], tgt_lines: list[str],
                      *, margins: list[str], strategies: list[str], k: int = 4, parallel_fraction: float = 0.2,
                      seed: int = 0, index: str = "auto", x_extra: np.ndarray | None = None,
                      y_extra: np.ndarray | None = None, knn_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Mining P/R/F1 on one line-aligned pair of sides with pre-computed unit embeddings.

    Args:
        x_all, y_all: ``(n_lines, dim)`` embeddings of every line of each side.
        src_lines, tgt_lines: the ``n_lines`` sentences (for de-duplication).
        margins, strategies: the methods to compare.
        x_extra, y_extra: optional ``(n_extra, dim)`` embeddings of extra non-parallel
            distractor sentences for each pile (e.g. monolingual text of each language); the
            first half of each goes into the dev task, the second into the test task.
        index, knn_options: the FAISS index kind and further options of
            :func:`~xlt.retrieval.mining.knn_search` (``nprobe``, ``target_recall``, ``check_recall``, ...).
            The neighbours of each task are searched once and scored with every margin.

    Returns:
        ``{"dev": {...}, "test": {...}, "methods": {"margin/strategy": {"threshold", "dev_f1",
        "precision", "recall", "f1", "oracle_f1", "n_pred", "n_gold", "n_correct"}}}`` with
        scores in percent; the threshold is chosen on the dev half, P/R/F1 are on the test half,
        and ``oracle_f1`` is the test F1 at the test half's own best threshold.

    Raises:
        ValueError: sides of different lengths or fewer than 6 lines.
    """
    if len(src_lines) != len(tgt_lines) or len(x_all) != len(src_lines) or len(y_all) != len(tgt_lines):
        raise ValueError("sides and embeddings must all have the same number of lines")
    if len(src_lines) < 6:
        raise ValueError(f"need at least 6 lines, got {len(src_lines)}")
    dev_rows, test_rows = split_lines(len(src_lines), [0.5, 0.5], seed)
    tasks = {name: build_task(src_lines, tgt_lines, rows, parallel_fraction=parallel_fraction, seed=seed)
             for name, rows in (("dev", dev_rows), ("test", test_rows))}
    mined: dict[str, dict[tuple[str, str], Any]] = {"dev": {}, "test": {}}
    index_info: dict[str, Any] = {}
    dim = x_all.shape[1]
    extras = {}
    for side, e in (("x", x_extra), ("y", y_extra)):
        e = np.zeros((0, dim), np.float32) if e is None else np.asarray(e, dtype=np.float32)
        extras[side] = {"dev": e[: len(e) // 2], "test": e[len(e) // 2:]}
    for name, task in tasks.items():
        # distractors go after the pile rows, so gold row numbers stay valid
        x = np.concatenate([x_all[task.src_lines], extras["x"][name]])
        y = np.concatenate([y_all[task.tgt_lines], extras["y"][name]])
        nb = neighbourhoods(x, y, k=k, index=index, seed=seed, **(knn_options or {}))
        index_info[name] = nb.info
        for margin in margins:
            cands = score_neighbourhoods(nb, margin)
            for strategy in strategies:
                p = select_pairs(cands, strategy)
                pairs = [(int(a), int(b)) for a, b in zip(p.src, p.tgt)]
                correct = np.array([pair in task.gold for pair in pairs], dtype=bool)
                mined[name][(margin, strategy)] = (p.scores, correct, pairs)
    methods = {}
    for key in mined["dev"]:
        dev_scores, dev_correct, _ = mined["dev"][key]
        thr, dev_f1 = best_threshold(dev_scores, dev_correct, len(tasks["dev"].gold))
        scores, correct, pairs = mined["test"][key]
        test = precision_recall_f1([pr for pr, s in zip(pairs, scores) if s >= thr], tasks["test"].gold)
        _, oracle = best_threshold(scores, correct, test["n_gold"])
        methods[f"{key[0]}/{key[1]}"] = {
            "threshold": thr, "dev_f1": 100 * dev_f1, "oracle_f1": 100 * oracle,
            **{k: 100 * test[k] for k in ("precision", "recall", "f1")},
            **{k: test[k] for k in ("n_pred", "n_gold", "n_correct")}}
    sizes = {name: {"src": len(t.src) + len(extras["x"][name]), "tgt": len(t.tgt) + len(extras["y"][name]),
                    "gold": len(t.gold), "extra_distractors_src": len(extras["x"][name]),
                    "extra_distractors_tgt": len(extras["y"][name]),
                    "dropped_duplicates": t.n_dropped_duplicates} for name, t in tasks.items()}
    return {"tasks": sizes, "methods": methods, "index": index_info}
