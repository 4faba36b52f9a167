"""Similarity scoring for bitext (parallel sentence) retrieval, numpy only.

Given source embeddings ``x`` of shape ``(n, dim)`` and target embeddings ``y``
of shape ``(m, dim)``, every function here works on cosine similarities
``cos(x_i, y_j)``. The similarity matrix is computed in row blocks of
``block_size`` source rows at a time, so the working memory beyond the inputs
and the ``(n, m)`` float32 output is ``O(block_size * max(n, m))``; sets of
about 10^4 x 10^4 sentences are fine.

Scores:

* :func:`cosine_scores` -- plain cosine similarity.
* :func:`csls_scores` -- Cross-domain Similarity Local Scaling, Conneau et al.
  2018, "Word Translation Without Parallel Data".
* :func:`margin_scores` -- ratio / distance margin, Artetxe & Schwenk 2019,
  "Margin-based Parallel Corpus Mining with Multilingual Sentence Embeddings".
* :func:`score_matrix` -- dispatcher over the above by name.

Evaluation, with the gold target of source row ``i`` being target row ``i``:

* :func:`retrieval_accuracy` and :func:`xsim_error_rate` (LASER's xsim).

All functions raise :class:`ValueError` on bad input (wrong shapes, empty sets,
mismatched dimensions, non-finite values, zero vectors, ``k < 1``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "METHODS",
    "cosine_scores",
    "knn_mean_similarity",
    "csls_scores",
    "margin_scores",
    "score_matrix",
    "retrieval_accuracy",
    "xsim_error_rate",
]

DEFAULT_BLOCK_SIZE = 1024
"""Source rows per block of the similarity matrix."""

METHODS = ("cosine", "csls", "margin-ratio", "margin-distance")
"""Method names accepted by :func:`score_matrix`."""

_DEFAULT_K = {"csls": 10, "margin-ratio": 4, "margin-distance": 4}


# --------------------------------------------------------------------------- helpers


def _check_block_size(block_size: int) -> int:
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    return int(block_size)


def _normalize(a, name: str) -> np.ndarray:
    """Return ``a`` as a float32 ``(rows, dim)`` array with unit-length rows."""
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (rows, dim) array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    norms = np.linalg.norm(arr, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"{name} has {zero.size} zero vector(s) (first at row {int(zero[0])}); cosine is undefined"
        )
    return (arr / norms[:, None]).astype(np.float32)


def _check_pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    xn = _normalize(x, "x")
    yn = _normalize(y, "y")
    if xn.shape[1] != yn.shape[1]:
        raise ValueError(f"x and y must have the same dim, got {xn.shape[1]} and {yn.shape[1]}")
    return xn, yn


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be an integer, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return int(k)


def _blocks(n: int, block_size: int):
    for start in range(0, n, block_size):
        yield start, min(start + block_size, n)


def _knn_mean_normed(a: np.ndarray, b: np.ndarray, k: int, block_size: int) -> np.ndarray:
    """Mean cosine of each (unit) row of ``a`` to its ``k`` nearest (unit) rows of ``b``."""
    k = min(k, b.shape[0])
    out = np.empty(a.shape[0], dtype=np.float64)
    bt = b.T
    for s, e in _blocks(a.shape[0], block_size):
        sims = a[s:e] @ bt
        if k < sims.shape[1]:
            top = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
        else:
            top = sims
        out[s:e] = top.astype(np.float64).mean(axis=1)
    return out


# --------------------------------------------------------------------------- scores


def cosine_scores(x, y, *, block_size: int = DEFAULT_BLOCK_SIZE) -> np.ndarray:
    """Cosine similarity matrix.

    ``scores[i, j] = x_i . y_j / (|x_i| |y_j|)``; rows are normalised inside.

    Args:
        x: source embeddings, shape ``(n, dim)``.
        y: target embeddings, shape ``(m, dim)``.
        block_size: source rows per block of the matrix product.

    Returns:
        float32 array of shape ``(n, m)``.

    Raises:
        ValueError: if ``x`` or ``y`` is not a non-empty 2-D real array, the
            dims differ, a value is NaN/inf, a row is a zero vector, or
            ``block_size < 1``.
    """
    block_size = _check_block_size(block_size)
    xn, yn = _check_pair(x, y)
    out = np.empty((xn.shape[0], yn.shape[0]), dtype=np.float32)
    yt = yn.T
    for s, e in _blocks(xn.shape[0], block_size):
        out[s:e] = xn[s:e] @ yt
    return out


def knn_mean_similarity(x, y, k: int, *, block_size: int = DEFAULT_BLOCK_SIZE) -> np.ndarray:
    """Mean cosine similarity of each row of ``x`` to its ``k`` nearest rows of ``y``.

    ``r_y(x_i) = (1/k) * sum_{z in NN_k(x_i, y)} cos(x_i, z)``, the
    neighbourhood term of CSLS (Conneau et al. 2018) and of the margin scores
    (Artetxe & Schwenk 2019). Nearest = highest cosine. ``k`` is clipped to
    ``m`` (then it is the mean over all of ``y``).

    Args:
        x: shape ``(n, dim)``.
        y: shape ``(m, dim)``.
        k: number of neighbours, ``>= 1``.
        block_size: rows of ``x`` per block.

    Returns:
        float64 array of shape ``(n,)``.

    Raises:
        ValueError: if ``k < 1`` or not an integer, or on any input error of
            :func:`cosine_scores`.
    """
    k = _check_k(k)
    block_size = _check_block_size(block_size)
    xn, yn = _check_pair(x, y)
    return _knn_mean_normed(xn, yn, k, block_size)


def _neighbourhoods(x, y, k, block_size):
    k = _check_k(k)
    block_size = _check_block_size(block_size)
    xn, yn = _check_pair(x, y)
    r_x = _knn_mean_normed(xn, yn, k, block_size)  # r_y(x_i): x_i's k-NN mean in y, shape (n,)
    r_y = _knn_mean_normed(yn, xn, k, block_size)  # r_x(y_j): y_j's k-NN mean in x, shape (m,)
    return xn, yn, r_x, r_y, block_size


def csls_scores(x, y, k: int = 10, *, block_size: int = DEFAULT_BLOCK_SIZE) -> np.ndarray:
    """CSLS (Cross-domain Similarity Local Scaling) matrix.

    Conneau et al. 2018, "Word Translation Without Parallel Data", eq. (6)::

        CSLS(x_i, y_j) = 2 cos(x_i, y_j) - r_y(x_i) - r_x(y_j)

    where ``r_y(x_i)`` is the mean cosine of ``x_i`` to its ``k`` nearest
    neighbours in ``y`` and ``r_x(y_j)`` the mean cosine of ``y_j`` to its
    ``k`` nearest neighbours in ``x`` (see :func:`knn_mean_similarity`).
    The ``k`` is clipped to ``m`` for ``r_y`` and to ``n`` for ``r_x``.
    Penalising targets with a dense neighbourhood ("hubs") reduces hubness.

    Args:
        x: source embeddings, shape ``(n, dim)``.
        y: target embeddings, shape ``(m, dim)``.
        k: neighbourhood size, ``>= 1`` (paper default 10).
        block_size: source rows per block.

    Returns:
        float32 array of shape ``(n, m)``.

    Raises:
        ValueError: if ``k < 1``, or on any input error of :func:`cosine_scores`.
    """
    xn, yn, r_x, r_y, block_size = _neighbourhoods(x, y, k, block_size)
    out = np.empty((xn.shape[0], yn.shape[0]), dtype=np.float32)
    yt = yn.T
    for s, e in _blocks(xn.shape[0], block_size):
        sims = (xn[s:e] @ yt).astype(np.float64)
        out[s:e] = 2.0 * sims - r_x[s:e, None] - r_y[None, :]
    return out


def margin_scores(
    x,
    y,
    k: int = 4,
    kind: Literal["ratio", "distance"] = "ratio",
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> np.ndarray:
    """Margin-based score matrix.

    Artetxe & Schwenk 2019, "Margin-based Parallel Corpus Mining with
    Multilingual Sentence Embeddings", eq. (1)-(3)::

        score(a, b) = margin(cos(a, b), D(a, b))

        D(a, b) = sum_{z in NN_k(a, y)} cos(a, z) / (2k)
                + sum_{z in NN_k(b, x)} cos(b, z) / (2k)
                = (r_y(a) + r_x(b)) / 2

        ratio:    margin(c, D) = c / D
        distance: margin(c, D) = c - D

    where ``NN_k(a, y)`` are the ``k`` nearest neighbours of source ``a``
    among the targets ``y`` and ``NN_k(b, x)`` those of target ``b`` among
    the sources ``x``; ``r_y``, ``r_x`` are the k-NN means of
    :func:`knn_mean_similarity` (``k`` clipped to ``m`` resp. ``n``). So the
    denominator is the *average* of the two k-NN means, not their sum.

    Args:
        x: source embeddings, shape ``(n, dim)``.
        y: target embeddings, shape ``(m, dim)``.
        k: neighbourhood size, ``>= 1`` (paper default 4).
        kind: ``"ratio"`` or ``"distance"``.
        block_size: source rows per block.

    Returns:
        float32 array of shape ``(n, m)``.

    Raises:
        ValueError: if ``kind`` is unknown, ``k < 1``, on any input error of
            :func:`cosine_scores`, or, for ``kind="ratio"``, if some
            denominator ``D(a, b)`` is ``<= 0`` (the ratio would be undefined
            or flip the ranking; use ``"distance"`` for such data).
    """
    if kind not in ("ratio", "distance"):
        raise ValueError(f"kind must be 'ratio' or 'distance', got {kind!r}")
    xn, yn, r_x, r_y, block_size = _neighbourhoods(x, y, k, block_size)
    if kind == "ratio" and (r_x.min() + r_y.min()) / 2.0 <= 0.0:
        raise ValueError(
            "ratio margin needs positive denominators (r_y(a) + r_x(b)) / 2, but some are <= 0; "
            "use kind='distance'"
        )
    out = np.empty((xn.shape[0], yn.shape[0]), dtype=np.float32)
    yt = yn.T
    half_ry = r_y[None, :] / 2.0
    for s, e in _blocks(xn.shape[0], block_size):
        sims = (xn[s:e] @ yt).astype(np.float64)
        denom = r_x[s:e, None] / 2.0 + half_ry
        out[s:e] = sims / denom if kind == "ratio" else sims - denom
    return out


def score_matrix(
    x,
    y,
    method: str = "cosine",
    k: int | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> np.ndarray:
    """Score matrix by method name.

    Methods (see the individual functions for formulas and papers):

    * ``"cosine"`` -- :func:`cosine_scores` (``k`` must be ``None``).
    * ``"csls"`` -- :func:`csls_scores`, Conneau et al. 2018; ``k`` defaults to 10.
    * ``"margin-ratio"`` / ``"margin-distance"`` -- :func:`margin_scores`,
      Artetxe & Schwenk 2019; ``k`` defaults to 4.

    Args:
        x: source embeddings, shape ``(n, dim)``.
        y: target embeddings, shape ``(m, dim)``.
        method: one of :data:`METHODS`.
        k: neighbourhood size, or ``None`` for the method's default.
        block_size: source rows per block.

    Returns:
        float32 array of shape ``(n, m)``.

    Raises:
        ValueError: if ``method`` is unknown, ``k`` is given for ``"cosine"``,
            or on any error of the chosen scoring function.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if method == "cosine":
        if k is not None:
            raise ValueError("k is not used by method 'cosine'; leave it as None")
        return cosine_scores(x, y, block_size=block_size)
    kk = _DEFAULT_K[method] if k is None else k
    if method == "csls":
        return csls_scores(x, y, kk, block_size=block_size)
    kind = "ratio" if method == "margin-ratio" else "distance"
    return margin_scores(x, y, kk, kind, block_size=block_size)


# --------------------------------------------------------------------------- evaluation


def _check_scores(scores) -> np.ndarray:
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D (n, m) array, got shape {s.shape}")
    n, m = s.shape
    if n == 0:
        raise ValueError("scores must have at least one row")
    if n > m:
        raise ValueError(f"scores has more rows than columns ({n} > {m}); row i's gold column i must exist")
    if not np.issubdtype(s.dtype, np.number) or np.iscomplexobj(s):
        raise ValueError(f"scores must be a real numeric array, got dtype {s.dtype}")
    if np.isnan(s).any():
        raise ValueError("scores contains NaN")
    return s


def retrieval_accuracy(scores) -> float:
    """Share of source rows whose best-scoring target is the gold one.

    The gold target of row ``i`` is column ``i`` (the diagonal), as for
    aligned bitext. Row ``i`` is correct when ``argmax_j scores[i, j] == i``;
    ties go to the lowest column index (``numpy.argmax``).

    Args:
        scores: shape ``(n, m)`` with ``1 <= n <= m`` (extra columns are
            distractor targets).

    Returns:
        float in ``[0, 1]``.

    Raises:
        ValueError: if ``scores`` is not 2-D, has no rows, has more rows than
            columns, is not real-valued, or contains NaN.
    """
    s = _check_scores(scores)
    n = s.shape[0]
    best = np.argmax(s, axis=1)
    return float(np.count_nonzero(best == np.arange(n)) / n)


def xsim_error_rate(scores) -> float:
    """xsim error rate: ``1 - retrieval_accuracy(scores)``.

    As in LASER's xsim (Artetxe & Schwenk 2019, "Massively Multilingual
    Sentence Embeddings for Zero-Shot Cross-Lingual Transfer and Beyond";
    ``LASER/source/xsim.py``): the number of source sentences whose nearest
    target (by the given scores -- cosine or margin) is not the gold
    translation, divided by the number of source sentences. Gold of row ``i``
    is column ``i``.

    Args:
        scores: shape ``(n, m)`` with ``1 <= n <= m``.

    Returns:
        float in ``[0, 1]``.

    Raises:
        ValueError: as :func:`retrieval_accuracy`.
    """
    s = _check_scores(scores)
    n = s.shape[0]
    errors = np.count_nonzero(np.argmax(s, axis=1) != np.arange(n))
    return float(errors / n)
