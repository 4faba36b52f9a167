"""Cross-lingual word embedding maps: Procrustes, MUSE-style refinement and VecMap-style
unsupervised initialisation with stochastic dictionary induction.

Two monolingual spaces ``x`` (``(n_src, dim)``) and ``y`` (``(n_tgt, dim)``) are lined up by an
orthogonal map ``W`` (``(dim, dim)``) so that ``x @ W`` lies near ``y`` for translation pairs:

* :func:`procrustes`: the orthogonal ``W`` minimising ``||x[i] W - y[j]||_F`` over seed pairs
  ``(i, j)`` (Schönemann 1966; Xing et al. 2015; Conneau et al. 2018, "Word Translation Without
  Parallel Data" (MUSE)): ``W = U V^T`` from the SVD of ``x[i]^T y[j]``;
* :func:`induce_pairs`: a dictionary from mapped spaces: nearest neighbours by cosine or CSLS
  (Conneau et al. 2018), one direction, both (union) or mutual ones;
* :func:`refine`: MUSE's iterative refinement: Procrustes, then a new dictionary of mutual CSLS
  neighbours among the most frequent words, repeated;
* :func:`unsupervised_seed`: VecMap's fully unsupervised initialisation (Artetxe et al. 2018,
  "A robust self-learning method for fully unsupervised cross-lingual mappings of word
  embeddings"): each word is described by its sorted similarity distribution to the other words
  of its own language (``sqrt(x x^T)``, rows sorted), which does not depend on how the space is
  rotated, so the two languages' descriptions are comparable without any dictionary;
* :func:`self_learning`: VecMap's self-learning loop with stochastic dictionary induction (each
  similarity kept with probability ``p``, ``p`` doubled whenever the objective stalls),
  CSLS retrieval and bidirectional induction;
* :func:`identical_seed`: word pairs spelt the same in both vocabularies (Artetxe et al. 2017's
  and Søgaard et al. 2018's weak supervision).

Everything is numpy on float32 unit vectors (:func:`normalize_embeddings`: unit length, mean
centred, unit length again, as VecMap). Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from xlt.core.errors import XltError

__all__ = ["MappingError", "RefineResult", "check_pair", "csls", "identical_seed", "induce_pairs",
           "map_source", "neighbourhood_means", "normalize_embeddings", "procrustes", "refine", "self_learning",
           "similarity_scores", "unsupervised_seed"]


class MappingError(XltError, ValueError):
    """Spaces that cannot be mapped: different dimensions, no seed pairs, non-finite vectors."""


def _check_space(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise MappingError(f"{name}: expected a non-empty (n_words, dim) matrix, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise MappingError(f"{name}: holds NaN or infinite values")
    return a


def normalize_embeddings(x, steps: Sequence[str] = ("unit", "center", "unit")) -> np.ndarray:
    """VecMap's embedding normalisation (Artetxe et al. 2018): ``unit`` scales every row to length
    1 (a zero row stays zero), ``center`` subtracts the mean row; applied in order.

    Args:
        x: ``(n_words, dim)`` vectors.
        steps: the steps, in order.

    Returns:
        a new float32 ``(n_words, dim)`` array.

    Raises:
        MappingError: not a non-empty finite matrix, or an unknown step.
    """
    x = _check_space(x, "vectors").copy()
    for step in steps:
        if step == "unit":
            norms = np.linalg.norm(x, axis=1, keepdims=True)
            x /= np.where(norms > 0, norms, 1.0)
        elif step == "center":
            x -= x.mean(0, keepdims=True)
        else:
            raise MappingError(f"unknown normalisation step {step!r} (unit, center)")
    return x


def procrustes(x, y, pairs: Sequence[tuple[int, int]] | np.ndarray) -> np.ndarray:
    """The orthogonal map ``W`` (``(dim, dim)``) minimising ``sum ||x[i] W - y[j]||^2`` over ``pairs``.

    Orthogonal Procrustes (Schönemann 1966), as MUSE's supervised step (Conneau et al. 2018):
    ``W = U V^T`` where ``U S V^T`` is the SVD of ``x[i]^T y[j]``.

    Args:
        x: source vectors ``(n_src, dim)``. y: target vectors ``(n_tgt, dim)``.
        pairs: ``(source row, target row)`` seed pairs, ``(n_pairs, 2)``.

    Returns:
        ``W``, float32 ``(dim, dim)``, orthogonal (``W W^T = I``).

    Raises:
        MappingError: different dimensions, no pairs, a row index out of range.
    """
    x, y = check_pair(x, y)
    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(p) == 0:
        raise MappingError("Procrustes needs at least one seed pair")
    if p[:, 0].min() < 0 or p[:, 0].max() >= len(x) or p[:, 1].min() < 0 or p[:, 1].max() >= len(y):
        raise MappingError("a seed pair's row is outside the vocabulary")
    m = x[p[:, 0]].astype(np.float64).T @ y[p[:, 1]].astype(np.float64)
    u, _, vt = np.linalg.svd(m)
    return (u @ vt).astype(np.float32)


def map_source(x, W: np.ndarray) -> np.ndarray:
    """``x @ W`` with every row scaled to unit length, ``(n_src, dim)`` float32 (the cosine and CSLS
    retrieval of :mod:`xlt.lexicon.induction` assume unit rows; an orthogonal ``W`` keeps them so,
    a contrastively tuned one does not). All-zero rows stay zero."""
    m = np.asarray(x, dtype=np.float32) @ np.asarray(W, dtype=np.float32)
    n = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(n > 0, n, 1.0)


def neighbourhood_means(a, b, k: int = 10, block_size: int = 2048,
                        scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CSLS's hubness terms (Conneau et al. 2018, section 2.3): the mean cosine of each row of
    ``a`` to its ``k`` nearest rows of ``b``, and of each row of ``b`` to its ``k`` nearest rows
    of ``a``, computed block by block, so the ``(n_a, n_b)`` matrix is never held whole (memory
    ``block_size * n_b``) unless it is given.

    Args:
        a: ``(n_a, dim)`` unit vectors (the mapped source). b: ``(n_b, dim)`` unit vectors (the target).
        k: neighbourhood size (capped at the other side's size). block_size: rows of ``a`` per block.
        scores: ``a @ b.T`` when the caller holds it already (its blocks are read instead of
            computed).

    Returns:
        ``(r_a, r_b)``: float32 ``(n_a,)`` and ``(n_b,)``.

    Raises:
        MappingError: ``k < 1``.
    """
    if k < 1:
        raise MappingError(f"CSLS needs k >= 1, got {k}")
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    ka, kb = min(k, len(b)), min(k, len(a))
    r_a = np.empty(len(a), dtype=np.float32)
    best_b = np.full((len(b), 0), -np.inf, dtype=np.float32)  # the kb largest cosines of each b row so far
    for i in range(0, len(a), block_size):
        s = scores[i:i + block_size] if scores is not None else a[i:i + block_size] @ b.T
        r_a[i:i + block_size] = np.partition(s, -ka, axis=1)[:, -ka:].mean(1)
        both = np.concatenate([best_b, s.T], axis=1)  # rows of b: partitions run along contiguous rows
        best_b = np.partition(both, -kb, axis=1)[:, -kb:] if both.shape[1] > kb else both
    return r_a, best_b.mean(1).astype(np.float32)


def csls(cos: np.ndarray, r_src: np.ndarray, r_tgt: np.ndarray) -> np.ndarray:
    """CSLS from cosines and hubness terms (Conneau et al. 2018): ``2 cos(x, y) - r_y(x) - r_x(y)``.

    Args:
        cos: ``(n_rows, n_tgt)`` cosines of some source rows to the targets.
        r_src: ``(n_rows,)`` those rows' hubness terms. r_tgt: ``(n_tgt,)`` the targets'
            (:func:`neighbourhood_means`).

    Returns:
        ``(n_rows, n_tgt)`` float32 scores in ``[-4, 4]`` (``[-2, 2]`` for unit vectors' usual ranges).
    """
    return 2 * cos - r_src[:, None] - r_tgt[None, :]


def similarity_scores(xw, y, method: str = "csls", k: int = 10, block_size: int = 4096) -> np.ndarray:
    """Scores between mapped source rows and target rows, ``(n_src, n_tgt)`` float32.

    ``cosine``: the dot product of unit vectors. ``csls`` (Conneau et al. 2018):
    ``2 cos(x, y) - r_y(x) - r_x(y)``, where ``r_y(x)`` is the mean cosine of ``x`` to its ``k``
    nearest targets and ``r_x(y)`` that of ``y`` to its ``k`` nearest sources
    (:func:`neighbourhood_means`): it lowers the scores of hubs, words near everything.

    Args:
        xw: mapped source vectors ``(n_src, dim)``, unit length. y: target vectors ``(n_tgt, dim)``,
            unit length. method: ``cosine`` or ``csls``. k: CSLS neighbourhood.
        block_size: rows per block when finding neighbourhoods.

    Raises:
        MappingError: an unknown method, ``k < 1``, different dimensions.
    """
    xw, y = check_pair(xw, y)
    if method not in ("cosine", "csls"):
        raise MappingError(f"unknown retrieval {method!r} (cosine, csls)")
    s = xw @ y.T
    if method == "cosine":
        return s
    return csls(s, *neighbourhood_means(xw, y, k, block_size, scores=s))


def check_pair(xw, y) -> tuple[np.ndarray, np.ndarray]:
    """Two spaces as float32 ``(n, dim)`` matrices of one dimension.

    Raises:
        MappingError: an empty or non-finite matrix, or different dimensions.
    """
    xw, y = _check_space(xw, "source vectors"), _check_space(y, "target vectors")
    if xw.shape[1] != y.shape[1]:
        raise MappingError(f"the two spaces have different dimensions: {xw.shape[1]} and {y.shape[1]}")
    return xw, y


def induce_pairs(xw, y, method: str = "csls", k: int = 10, direction: str = "mutual",
                 src_limit: int | None = None, tgt_limit: int | None = None) -> np.ndarray:
    """A dictionary from mapped spaces: ``(n_pairs, 2)`` ``(source row, target row)`` pairs.

    Args:
        xw, y: mapped source and target vectors, unit length.
        method, k: the score (:func:`similarity_scores`).
        direction: ``forward`` (each source word's best target), ``backward`` (each target's best
            source), ``union`` of both (VecMap's bidirectional induction) or ``mutual`` (pairs that
            are each other's best: MUSE's refinement dictionary).
        src_limit, tgt_limit: use only the first rows (the most frequent words, in a
            frequency-ordered vocabulary).

    Raises:
        MappingError: a bad method, direction or ``k``.
    """
    if direction not in ("forward", "backward", "union", "mutual"):
        raise MappingError(f"unknown direction {direction!r} (forward, backward, union, mutual)")
    xs = np.asarray(xw)[:src_limit] if src_limit else np.asarray(xw)
    ys = np.asarray(y)[:tgt_limit] if tgt_limit else np.asarray(y)
    s = similarity_scores(xs, ys, method, k)
    fwd = np.stack([np.arange(len(xs)), s.argmax(1)], 1)
    bwd = np.stack([s.argmax(0), np.arange(len(ys))], 1)
    if direction == "forward":
        return fwd
    if direction == "backward":
        return bwd
    if direction == "union":
        return np.unique(np.concatenate([fwd, bwd]), axis=0)
    best_src = s.argmax(0)
    keep = best_src[fwd[:, 1]] == fwd[:, 0]
    return fwd[keep]


@dataclass
class RefineResult:
    """A map and how it was found.

    Attributes:
        W: the orthogonal map, ``(dim, dim)`` float32 (``x @ W`` lies in ``y``'s space).
        pairs: the last dictionary it was fitted on, ``(n_pairs, 2)`` rows.
        history: per iteration: ``{"iteration", "pairs", "objective"}`` (the mean CSLS or cosine
            score of the dictionary's pairs after the map).
    """

    W: np.ndarray
    pairs: np.ndarray
    history: list[dict] = field(default_factory=list)


def refine(x, y, seed, iterations: int = 5, method: str = "csls", k: int = 10,
           max_rank: int | None = 15000) -> RefineResult:
    """MUSE's iterative Procrustes refinement (Conneau et al. 2018, section 3.3).

    Fit :func:`procrustes` on ``seed``, then repeat ``iterations`` times: induce a new dictionary
    of mutual ``method`` neighbours among the ``max_rank`` most frequent words of each side
    (rows are frequency-ordered), and refit on it. ``iterations=0`` is plain Procrustes.

    Args:
        x, y: normalised source and target vectors. seed: ``(n_pairs, 2)`` seed pairs.
        iterations: refinement rounds. method, k: the score of the induced dictionaries.
        max_rank: rows each side's new dictionary is drawn from (None: all).

    Returns:
        a :class:`RefineResult`.

    Raises:
        MappingError: as :func:`procrustes`.
    """
    pairs = np.asarray(seed, dtype=np.int64).reshape(-1, 2)
    w = procrustes(x, y, pairs)
    history = [{"iteration": 0, "pairs": int(len(pairs))}]
    for it in range(1, iterations + 1):
        new = induce_pairs(np.asarray(x) @ w, y, method, k, "mutual", max_rank, max_rank)
        if len(new) == 0:
            break
        pairs = new
        w = procrustes(x, y, pairs)
        history.append({"iteration": it, "pairs": int(len(pairs))})
    return RefineResult(W=w, pairs=pairs, history=history)


def _sorted_similarity(x: np.ndarray) -> np.ndarray:
    """Each row of ``sqrt(x x^T)`` sorted in descending order, normalised (VecMap's init)."""
    u, s, _ = np.linalg.svd(x.astype(np.float64), full_matrices=False)
    sq = (u * s) @ u.T  # sqrt(x x^T) = U S U^T
    sq = -np.sort(-sq, axis=1)
    return normalize_embeddings(sq.astype(np.float32))


def unsupervised_seed(x, y, vocab_cutoff: int = 4000, k: int = 10) -> np.ndarray:
    """VecMap's unsupervised initial dictionary (Artetxe et al. 2018, section 3.2).

    Each of the first ``vocab_cutoff`` words (the most frequent, in a frequency-ordered
    vocabulary) is described by its sorted similarity distribution to the other words of its
    language; as ``(xR)(xR)^T = x x^T`` for any orthogonal ``R``, these descriptions are the same
    for a word and its translation when the two spaces are isometric. Pairs are the CSLS nearest
    neighbours of these descriptions in both directions.

    Args:
        x, y: normalised source and target vectors ``(n, dim)`` (:func:`normalize_embeddings`).
        vocab_cutoff: words per side used (memory and time grow with its square).
        k: CSLS neighbourhood.

    Returns:
        ``(n_pairs, 2)`` seed pairs (rows of ``x`` and ``y``).

    Raises:
        MappingError: bad spaces.
    """
    x, y = _check_space(x, "source vectors"), _check_space(y, "target vectors")
    n = min(vocab_cutoff, len(x), len(y))
    dx, dy = _sorted_similarity(x[:n]), _sorted_similarity(y[:n])
    return induce_pairs(dx, dy, "csls", k, "union")


def self_learning(x, y, seed, *, max_rank: int = 20000, k: int = 10, p0: float = 0.1, patience: int = 50,
                  threshold: float = 1e-6, max_iterations: int = 1000, rng: np.random.Generator | int = 0) -> RefineResult:
    """VecMap's self-learning with stochastic dictionary induction (Artetxe et al. 2018, section 3.3).

    Repeat: fit an orthogonal map on the dictionary (:func:`procrustes`); score the first
    ``max_rank`` words of each side by CSLS, zero each score with probability ``1 - p`` (stochastic
    dictionary induction, which lets the search escape poor local optima); take each word's best
    partner in both directions as the new dictionary. ``p`` starts at ``p0`` and doubles whenever
    the objective (the mean best CSLS score) has not improved by ``threshold`` for ``patience``
    iterations; at ``p = 1`` the loop stops when it stalls again.

    Args:
        x, y: normalised source and target vectors. seed: the initial ``(n_pairs, 2)`` dictionary
            (:func:`unsupervised_seed`, :func:`identical_seed` or a real one).
        max_rank: words per side the dictionary is induced from. k: CSLS neighbourhood.
        p0: initial keep probability. patience: stalled iterations before ``p`` doubles.
        threshold: the least objective gain counted as progress.
        max_iterations: a hard cap. rng: a generator or seed (the result is deterministic for a seed).

    Returns:
        a :class:`RefineResult` (``history`` per iteration: pairs, objective, p).

    Raises:
        MappingError: as :func:`procrustes`, or ``p0`` outside (0, 1].
    """
    if not 0 < p0 <= 1:
        raise MappingError(f"p0 must be in (0, 1], got {p0}")
    rng = np.random.default_rng(rng)
    x, y = _check_space(x, "source vectors"), _check_space(y, "target vectors")
    xs, ys = x[:max_rank], y[:max_rank]
    pairs = np.asarray(seed, dtype=np.int64).reshape(-1, 2)
    p, best, stalled, history = p0, -np.inf, 0, []
    for it in range(max_iterations):
        w = procrustes(x, y, pairs)
        s = similarity_scores(xs @ w, ys, "csls", k)
        if p < 1:
            s = np.where(rng.random(s.shape, dtype=np.float32) < p, s, -np.inf)
        fwd = np.stack([np.arange(len(xs)), s.argmax(1)], 1)
        bwd = np.stack([s.argmax(0), np.arange(len(ys))], 1)
        objective = float((np.max(s, axis=1).clip(-10).mean() + np.max(s, axis=0).clip(-10).mean()) / 2)
        pairs = np.unique(np.concatenate([fwd, bwd]), axis=0)
        history.append({"iteration": it, "pairs": int(len(pairs)), "objective": objective, "p": p})
        if objective > best + threshold:
            best, stalled = objective, 0
        else:
            stalled += 1
        if stalled >= patience:
            if p >= 1:
                break
            p, stalled, best = min(1.0, 2 * p), 0, -np.inf
    return RefineResult(W=procrustes(x, y, pairs), pairs=pairs, history=history)


def identical_seed(src_words: Sequence[str], tgt_words: Sequence[str]) -> np.ndarray:
    """Pairs of words spelt the same in both vocabularies (numbers, names, loanwords): a weak seed
    dictionary that needs no data (Artetxe et al. 2017; Søgaard et al. 2018).

    Returns:
        ``(n_pairs, 2)`` rows ``(i, j)`` with ``src_words[i] == tgt_words[j]``, in source order.
    """
    where = {w: j for j, w in enumerate(tgt_words)}
    rows = [(i, where[w]) for i, w in enumerate(src_words) if w in where]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)
