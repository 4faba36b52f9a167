"""Re-ranking a word's translation candidates with a scorer trained on the seed dictionary.

Retrieval in a mapped space (:mod:`xlt.lexicon.induction`) ranks each source word's
translations by one number, its CSLS or cosine score. BLICEr (Li et al. 2022, "Improving
Bilingual Lexicon Induction with Cross-Encoder Reranking") showed that a second stage, trained on
the seed dictionary with the space's own hard negatives and combined with the space's score,
re-orders the top candidates far better. This module is that second stage with a small
gradient-boosted scorer (LightGBM, Ke et al. 2017) in place of BLICEr's fine-tuned cross-encoder,
so it trains in seconds on a CPU; its evidence for a candidate ``j`` of a source word ``q``:

* the first stage's score and cosine, the candidate's rank and its gap to the best score;
* the backward view: how far ``q`` is from being ``j``'s best source (0 for a mutual nearest
  neighbour), as in MUSE's mutual-NN dictionaries (Conneau et al. 2018);
* orthography (Heyman et al. 2017, Riley & Gildea 2018's string similarity for related
  languages): the two spellings' similarity (``difflib`` ratio) and whether they are identical;
* the two words' length difference (not their frequency ranks: a seed dictionary holds frequent
  words and a test dictionary rarer ones, so a scorer that learnt "frequent candidates are right"
  from the seeds ranks rare test translations down: measured, en-de P@1 37.1 -> 24.0 with them);
* cosines in further *views* of the two words: other shared spaces of the same vocabularies (an
  encoder's single layers, its in-context vectors: BLICEr's "contextual similarity").

Training follows the zero-leakage protocol of a held-out split: the seed pairs' source words are
split into folds, the map is refitted without each fold, and the fold's candidates come from that
map, so the scorer sees candidates as the test words will (a map fitted on a word's own pair
ranks its translation first far more often than it will for an unseen word). The scorer is a
binary classifier: its score is the probability that a candidate is a correct translation, which
is also the confidence that ``xlt bli induce --min-score`` thresholds.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from xlt.lexicon.induction import (BliScores, Hubness, best_sources, bli_queries, gold_rank, hubness, query_scores,
                                   top_candidates)
from xlt.lexicon.mapping import MappingError, check_pair, map_source

__all__ = ["FEATURES", "Candidates", "Reranker", "candidate_features", "evaluate_reranked", "fit_reranker"]

FEATURES = ("score", "cosine", "rank", "gap_to_best", "backward_gap", "orthography", "identical",
            "length_difference")
"""The scorer's features per candidate, in column order (views' cosines follow as ``view_1``...)."""

View = tuple[np.ndarray, np.ndarray]
"""Another shared space of the same two vocabularies: ``(source (n_src, d), target (n_tgt, d))`` unit rows."""


@dataclass
class Candidates:
    """Each query word's first-stage candidates and their features.

    Attributes:
        rows: ``(n_queries,)`` source rows. cand: ``(n_queries, top)`` target rows, first-stage
        order. scores: ``(n_queries, top)`` first-stage scores. features: ``(n_queries, top,
        n_features)`` float32 (:data:`FEATURES`, then one cosine per view).
        hub: the first stage's hubness terms (:func:`~xlt.lexicon.induction.hubness`; None for
            cosine), kept so that scoring the whole search space again does not recompute them.
    """

    rows: np.ndarray
    cand: np.ndarray
    scores: np.ndarray
    features: np.ndarray
    hub: Hubness = None


def candidate_features(xw, y, src_words: Sequence[str], tgt_words: Sequence[str], rows: Sequence[int], *,
                       top: int = 20, method: str = "csls", k: int = 10, views: Sequence[View] = (),
                       block_size: int = 2048) -> Candidates:
    """The ``top`` first-stage candidates of each source row and their features (module docstring).

    Args:
        xw: ``(n_src, dim)`` mapped source vectors, unit rows. y: ``(n_tgt, dim)`` target vectors.
        src_words, tgt_words: the vocabularies (their rows' order).
        rows: the source rows to translate. top: candidates per row. method, k: the first stage
            (``csls`` or ``cosine``, CSLS neighbourhood). views: further shared spaces, each a
            ``(source, target)`` pair of unit-row matrices over the same vocabularies.
        block_size: source rows per block of the backward pass.

    Returns:
        :class:`Candidates`.

    Raises:
        MappingError: bad spaces, views of other vocabularies, ``top < 1``.
    """
    xw, y = check_pair(xw, y)
    if top < 1:
        raise MappingError(f"top must be >= 1, got {top}")
    if len(src_words) != len(xw) or len(tgt_words) != len(y):
        raise MappingError(f"{len(src_words)} source and {len(tgt_words)} target words for {len(xw)} and {len(y)} "
                           "vectors")
    for i, (vs, vt) in enumerate(views, 1):
        if len(vs) != len(xw) or len(vt) != len(y):
            raise MappingError(f"view {i} has {len(vs)} and {len(vt)} rows, the spaces {len(xw)} and {len(y)}")
    rows = np.asarray(rows, dtype=np.int64)
    hub = hubness(xw, y, method, k, block_size)
    _, best_back = best_sources(xw, y, hub, block_size)
    cand, sc = top_candidates(query_scores(xw, y, rows, hub), top)
    n_q, n_c = cand.shape
    cos = np.einsum("qcd,qd->qc", y[cand], xw[rows])
    cols = [sc, cos, np.broadcast_to(np.arange(n_c, dtype=np.float32), (n_q, n_c)), sc - sc[:, :1],
            sc - best_back[cand]]
    ortho = np.empty((n_q, n_c), dtype=np.float32)
    same = np.empty((n_q, n_c), dtype=np.float32)
    length = np.empty((n_q, n_c), dtype=np.float32)
    for a in range(n_q):
        s_word = src_words[rows[a]]
        for b in range(n_c):
            t_word = tgt_words[cand[a, b]]
            ortho[a, b] = difflib.SequenceMatcher(None, s_word, t_word, autojunk=False).ratio()
            same[a, b] = s_word == t_word
            length[a, b] = len(t_word) - len(s_word)
    cols += [ortho, same, length]
    for vs, vt in views:
        cols.append(np.einsum("qcd,qd->qc", np.asarray(vt, np.float32)[cand], np.asarray(vs, np.float32)[rows]))
    return Candidates(rows=rows, cand=cand, scores=sc, features=np.stack(cols, -1).astype(np.float32), hub=hub)


@dataclass
class Reranker:
    """A trained candidate scorer (:func:`fit_reranker`).

    Attributes:
        model: the fitted ``lightgbm.LGBMClassifier``. n_features: features it expects.
        stats: training facts: queries, candidates, positives, folds, recall of the first stage
            (share of training queries with a gold translation among their candidates),
            feature importances (gain).
    """

    model: object
    n_features: int
    stats: dict = field(default_factory=dict)

    def score(self, cands: Candidates) -> np.ndarray:
        """``(n_queries, top)`` probabilities that each candidate is a correct translation.

        Raises:
            MappingError: features of another width than the scorer was trained on.
        """
        n_q, n_c, n_f = cands.features.shape
        if n_f != self.n_features:
            raise MappingError(f"the re-ranker was trained on {self.n_features} features, got {n_f} "
                               "(same views are needed)")
        return self.model.predict_proba(cands.features.reshape(-1, n_f))[:, 1].reshape(n_q, n_c).astype(np.float32)

    def rerank(self, cands: Candidates) -> tuple[np.ndarray, np.ndarray]:
        """The candidates re-ordered by the scorer: ``(target rows, probabilities)``, each
        ``(n_queries, top)``, best first (ties keep the first stage's order)."""
        p = self.score(cands)
        order = np.argsort(-p, axis=1, kind="stable")
        return np.take_along_axis(cands.cand, order, 1), np.take_along_axis(p, order, 1)


def fit_reranker(x, y, seed, src_words: Sequence[str], tgt_words: Sequence[str], *,
                 fit_map: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None,
                 W: np.ndarray | None = None, folds: int = 5, top: int = 20, method: str = "csls", k: int = 10,
                 views: Sequence[View] = (), random_state: int = 0, n_estimators: int = 300) -> Reranker:
    """Train the candidate scorer on the seed dictionary (module docstring).

    Args:
        x: ``(n_src, dim)`` source vectors (unmapped, normalised). y: ``(n_tgt, dim)`` targets.
        seed: ``(n_pairs, 2)`` seed pairs ``(source row, target row)``; a source word may have
            several translations (all count as correct).
        src_words, tgt_words: the vocabularies.
        fit_map: ``fit_map(x, y, pairs) -> W`` refits the map without each fold (e.g.
            :func:`~xlt.lexicon.mapping.procrustes`); None: the map ``W`` was found without the
            seed pairs (unsupervised, identical strings, shared spaces) and serves every fold.
        W: the map when ``fit_map`` is None (default: the identity).
        folds: held-out folds of the seed source words (at least 2).
        top, method, k, views: as :func:`candidate_features`.
        random_state: fold split and model seed. n_estimators: boosting rounds.

    Returns:
        a fitted :class:`Reranker`.

    Raises:
        MappingError: fewer seed source words than folds, ``folds < 2``, or no fold whose
            candidates hold a correct translation.
    """
    from lightgbm import LGBMClassifier  # lazy: heavy import

    x, y = check_pair(x, y)
    seed = np.asarray(seed, dtype=np.int64).reshape(-1, 2)
    gold: dict[int, set[int]] = {}
    for s, t in seed:
        gold.setdefault(int(s), set()).add(int(t))
    words = np.asarray(sorted(gold), dtype=np.int64)
    if folds < 2 or len(words) < folds:
        raise MappingError(f"the re-ranker needs at least {max(folds, 2)} seed source words and 2 folds, got "
                           f"{len(words)} words and {folds} folds")
    rng = np.random.default_rng(random_state)
    split = np.array_split(rng.permutation(words), folds)
    feats, labels, found = [], [], 0
    for held in split:
        held_set = set(held.tolist())
        if fit_map is not None:
            w = fit_map(x, y, seed[[int(s) not in held_set for s in seed[:, 0]]])
        else:
            w = np.eye(x.shape[1], dtype=np.float32) if W is None else W
        c = candidate_features(map_source(x, w), y, src_words, tgt_words, held, top=top, method=method, k=k,
                               views=views)
        lab = np.asarray([[int(j) in gold[int(r)] for j in row] for r, row in zip(c.rows, c.cand)], dtype=np.int8)
        keep = lab.any(1)  # queries whose translation the first stage missed teach nothing about the order
        found += int(keep.sum())
        feats.append(c.features[keep].reshape(-1, c.features.shape[-1]))
        labels.append(lab[keep].reshape(-1))
    features, target = np.concatenate(feats), np.concatenate(labels)
    if found == 0:
        raise MappingError(f"no seed word has its translation among its {top} first-stage candidates")
    model = LGBMClassifier(n_estimators=n_estimators, learning_rate=0.05, num_leaves=15, min_child_samples=20,
                           subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=random_state,
                           n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1)
    model.fit(features, target)
    names = list(FEATURES) + [f"view_{i}" for i in range(1, len(views) + 1)]
    gain = model.booster_.feature_importance("gain")
    stats = {"queries": found, "candidates": int(len(target)), "positives": int(target.sum()), "folds": folds,
             "top": top, "first_stage_recall": round(100 * found / len(words), 2),
             "importance": {n: round(float(g / max(gain.sum(), 1e-12)), 4) for n, g in zip(names, gain)}}
    return Reranker(model=model, n_features=features.shape[1], stats=stats)


def evaluate_reranked(xw, y, pairs, src_words: Sequence[str], tgt_words: Sequence[str], reranker: Reranker, *,
                      top: int = 20, method: str = "csls", k: int = 10, views: Sequence[View] = ()) -> BliScores:
    """P@1/5/10 and MAP after re-ranking each test word's ``top`` first-stage candidates.

    A query whose gold translation is among its candidates takes the gold's re-ranked position; one
    whose gold lies below them keeps its first-stage rank (which is above ``top``), so MAP stays
    over the whole search space, as :func:`~xlt.lexicon.induction.evaluate_bli`'s.

    Args:
        xw, y: the mapped spaces. pairs: test ``(source, target)`` pairs. src_words, tgt_words:
            the vocabularies. reranker: a fitted :class:`Reranker`. top, method, k, views: as
            the re-ranker was trained with.

    Returns:
        :class:`~xlt.lexicon.induction.BliScores` with ``method`` ``"<method>+rerank"``.

    Raises:
        MappingError: no test pair left, bad spaces, views that do not match the re-ranker.
    """
    rows, gold, counts = bli_queries(pairs, src_words, tgt_words)
    xw, y = check_pair(xw, y)
    c = candidate_features(xw, y, src_words, tgt_words, rows, top=top, method=method, k=k, views=views)
    order, _ = reranker.rerank(c)
    full = query_scores(xw, y, c.rows, c.hub)
    ranks = []
    for a, g in enumerate(gold):
        hits = [b for b, j in enumerate(order[a]) if int(j) in g]
        ranks.append(hits[0] + 1 if hits else gold_rank(full[a], g))
    return BliScores.from_ranks(ranks, len(y), f"{method}+rerank", counts)
