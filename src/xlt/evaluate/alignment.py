"""Cross-lingual alignment measures on parallel sentence vectors, numpy (and scikit-learn) only.

* :func:`mexa_score` / :func:`mexa_alignment` -- MEXA alignment (Kargaran et al. 2024, "MEXA:
  Multilingual Evaluation of English-Centric LLMs via Cross-Lingual Alignment"): the share of
  parallel pairs whose translation is closer than every non-translation, in both directions.
* :func:`language_identification_accuracy` -- language neutrality probe (Libovický et al. 2020,
  "On the Language Neutrality of Pre-trained Multilingual Representations"): how well a linear
  classifier recovers the language from a sentence vector, optionally after per-language
  mean-centering.
* :func:`language_similarity` and :func:`rank_sources` -- mPLM-Sim (Lin et al. 2023, "mPLM-Sim:
  Better Cross-Lingual Similarity and Transfer in Multilingual Pretrained Language Models"):
  the mean cosine between the vectors of the same sentence in two languages, and the ranking of
  candidate source languages for a target language that follows from it.

Every function raises :class:`ValueError` on bad input (wrong shapes, fewer than 2 sentences,
mismatched languages, NaN/inf values, zero vectors where a cosine is needed).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from xlt.retrieval.scoring import cosine_scores

__all__ = [
    "mexa_score",
    "mexa_alignment",
    "language_identification_accuracy",
    "language_similarity",
    "rank_sources",
]


def _check_vectors(a, name: str) -> np.ndarray:
    """``a`` as a finite real 2-D array with at least 2 rows and 1 column."""
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (sentences, dim) array, got shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 sentences and 1 dimension, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_by_lang(vectors_by_lang: Mapping[str, object], min_langs: int) -> dict[str, np.ndarray]:
    """Validate a ``{lang: (n, dim)}`` mapping: same shape everywhere, at least ``min_langs``."""
    if len(vectors_by_lang) < min_langs:
        raise ValueError(f"need at least {min_langs} languages, got {len(vectors_by_lang)}")
    out = {lang: _check_vectors(v, f"vectors of {lang!r}") for lang, v in vectors_by_lang.items()}
    shapes = {arr.shape for arr in out.values()}
    if len(shapes) > 1:
        detail = ", ".join(f"{lang}: {arr.shape}" for lang, arr in out.items())
        raise ValueError(f"all languages need the same (sentences, dim) shape (parallel rows); got {detail}")
    return out


def mexa_score(scores) -> float:
    """MEXA alignment from a square similarity matrix (Kargaran et al. 2024).

    Row ``i`` is sentence ``i`` in one language, column ``j`` sentence ``j`` in the other, so
    the diagonal holds the translation pairs. Pair ``i`` counts as aligned when its score is
    *strictly* greater than every other entry of row ``i`` and of column ``i``::

        MEXA = 1/n * #{ i : s[i, i] > max_{j != i} max(s[i, j], s[j, i]) }

    This is the definition of the paper and of its reference code (``compute_mexa.py``): a
    tie with a non-translation does not count. The score is symmetric (``mexa_score(s) ==
    mexa_score(s.T)``) and never exceeds the retrieval accuracy in either direction.

    Args:
        scores: shape ``(n, n)``, ``n >= 2``; any similarity (cosine in MEXA).

    Returns:
        float in ``[0, 1]``.

    Raises:
        ValueError: not a square 2-D real matrix, ``n < 2``, or NaN values.
    """
    s = np.asarray(scores)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"scores must be a square (n, n) matrix, got shape {s.shape}")
    n = s.shape[0]
    if n < 2:
        raise ValueError(f"MEXA needs at least 2 parallel sentences, got {n}")
    if not np.issubdtype(s.dtype, np.number) or np.iscomplexobj(s):
        raise ValueError(f"scores must be real-valued, got dtype {s.dtype}")
    if np.isnan(s).any():
        raise ValueError("scores contains NaN")
    diag = np.diagonal(s).copy()
    off = s.astype(np.float64, copy=True)
    np.fill_diagonal(off, -np.inf)
    rival = np.maximum(off.max(axis=1), off.max(axis=0))
    return float(np.count_nonzero(diag > rival) / n)


def mexa_alignment(x, y) -> float:
    """MEXA alignment of parallel sentence vectors (Kargaran et al. 2024).

    :func:`mexa_score` of the cosine matrix ``cos(x_i, y_j)``.

    Args:
        x: ``(n, dim)`` vectors of ``n`` sentences in one language (e.g. a target language).
        y: ``(n, dim)`` vectors of their translations, row for row (e.g. English).

    Returns:
        float in ``[0, 1]``: the share of sentences whose translation is closer (cosine) than
        every non-translation, looking from both sides.

    Raises:
        ValueError: shapes differ, fewer than 2 rows, NaN/inf values or zero vectors.
    """
    x = _check_vectors(x, "x")
    y = _check_vectors(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must be parallel (same shape), got {x.shape} and {y.shape}")
    return mexa_score(cosine_scores(x, y))


def language_identification_accuracy(
    vectors_by_lang: Mapping[str, object],
    center: bool = False,
    seed: int = 0,
    test_fraction: float = 0.3,
    max_iter: int = 1000,
) -> float:
    """Language-identification accuracy of a linear classifier (Libovický et al. 2020).

    A multinomial logistic regression (scikit-learn, on standardised features) learns to
    predict the language from a sentence vector. Sentences are split *by sentence index*:
    one seeded random set of indices is held out for testing in every language, so no
    sentence (nor any of its translations) is seen in training. With ``center=True`` each
    language's mean vector is subtracted from all of that language's vectors first
    (Libovický et al.'s centering); the means are estimated on half of the training indices
    and the classifier is trained on the other half, as the paper estimates the language
    centroids on separate data. (Estimated on the classifier's own training sentences, which
    are the same sentences in every language here, every class would have mean exactly zero
    and a linear classifier could only guess: accuracy would be chance by construction.)
    Without centering the classifier trains on the same half, so both settings see the same
    number of training sentences. The lower the accuracy, the more language-neutral the
    representation; chance is ``1 / n_languages``.

    Args:
        vectors_by_lang: ``{language: (n, dim)}``, row ``i`` the same sentence in every
            language; at least 2 languages and 2 sentences.
        center: subtract each language's training mean first.
        seed: seed of the split and of the classifier.
        test_fraction: share of sentence indices held out (at least one sentence is held
            out and at least two kept: one half estimates the centroids, the other trains).
        max_iter: iteration limit of the solver (hitting it is not an error).

    Returns:
        float in ``[0, 1]``: test accuracy over all languages' held-out sentences.

    Raises:
        ValueError: fewer than 2 languages or 3 sentences, different shapes, NaN/inf values,
            ``test_fraction`` outside ``(0, 1)``.
    """
    from sklearn.exceptions import ConvergenceWarning  # lazy: heavy import
    from sklearn.linear_model import LogisticRegression  # lazy: heavy import
    from sklearn.pipeline import make_pipeline  # lazy: heavy import
    from sklearn.preprocessing import StandardScaler  # lazy: heavy import

    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    data = _check_by_lang(vectors_by_lang, 2)
    n = next(iter(data.values())).shape[0]
    if n < 3:
        raise ValueError(f"language identification needs at least 3 sentences per language, got {n}")
    n_test = min(max(1, round(n * float(test_fraction))), n - 2)
    order = np.random.default_rng(seed).permutation(n)
    test, rest = order[:n_test], order[n_test:]
    centroid, train = rest[: len(rest) // 2], rest[len(rest) // 2:]
    x_train, x_test, y_train, y_test = [], [], [], []
    for k, arr in enumerate(data.values()):
        arr = arr.astype(np.float64, copy=False)
        if center:
            arr = arr - arr[centroid].mean(axis=0)
        x_train.append(arr[train])
        x_test.append(arr[test])
        y_train.append(np.full(len(train), k))
        y_test.append(np.full(len(test), k))
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(np.concatenate(x_train), np.concatenate(y_train))
    pred = clf.predict(np.concatenate(x_test))
    return float(np.mean(pred == np.concatenate(y_test)))


def language_similarity(vectors_by_lang: Mapping[str, object]) -> np.ndarray:
    """mPLM-Sim language similarity matrix (Lin et al. 2023).

    ``sim[a, b] = 1/n * sum_i cos(v_a[i], v_b[i])``: the cosine between the vectors of the
    same sentence in languages ``a`` and ``b``, averaged over the ``n`` multi-parallel
    sentences, at one layer (as the paper and its code do per layer). The matrix is
    symmetric with ones on the diagonal; entries are in ``[-1, 1]``.

    Args:
        vectors_by_lang: ``{language: (n, dim)}``, row ``i`` the same sentence in every
            language; at least 1 language and 2 sentences.

    Returns:
        float64 array ``(L, L)``, rows and columns in the mapping's order.

    Raises:
        ValueError: different shapes, fewer than 2 sentences, NaN/inf values, zero vectors.
    """
    data = _check_by_lang(vectors_by_lang, 1)
    units = []
    for lang, arr in data.items():
        arr = arr.astype(np.float64, copy=False)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ValueError(f"vectors of {lang!r} contain a zero vector; cosine is undefined")
        units.append((arr / norms).ravel())
    flat = np.stack(units)  # (L, n * dim): a row product sums the per-sentence cosines
    n = next(iter(data.values())).shape[0]
    sim = flat @ flat.T / n
    sim = (sim + sim.T) / 2.0
    np.fill_diagonal(sim, 1.0)
    return np.clip(sim, -1.0, 1.0)


def rank_sources(
    similarity,
    langs: Sequence[str],
    target: str,
    candidates: Sequence[str] | None = None,
) -> list[tuple[str, float]]:
    """Candidate source languages for ``target``, most similar first (Lin et al. 2023).

    Args:
        similarity: ``(L, L)`` matrix from :func:`language_similarity`.
        langs: the ``L`` language codes of its rows/columns (exact codes, no matching).
        target: the target language (one of ``langs``); never ranked against itself.
        candidates: codes to rank (default: every language but ``target``).

    Returns:
        ``[(language, similarity), ...]`` by similarity descending, ties by code.

    Raises:
        ValueError: the matrix is not ``(L, L)``, ``langs`` has duplicates, or ``target`` or a
            candidate is not in ``langs``.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    langs = list(langs)
    if sim.ndim != 2 or sim.shape != (len(langs), len(langs)):
        raise ValueError(f"similarity must be ({len(langs)}, {len(langs)}) for {len(langs)} languages, "
                         f"got shape {sim.shape}")
    if len(set(langs)) != len(langs):
        raise ValueError(f"duplicate language codes in {langs}")
    index = {lang: i for i, lang in enumerate(langs)}
    if target not in index:
        raise ValueError(f"target {target!r} is not one of {langs}")
    pool = [c for c in langs if c != target] if candidates is None else list(dict.fromkeys(candidates))
    unknown = [c for c in pool if c not in index]
    if unknown:
        raise ValueError(f"candidates {unknown} are not among {langs}")
    ranked = [(c, float(sim[index[target], index[c]])) for c in pool if c != target]
    return sorted(ranked, key=lambda kv: (-kv[1], kv[0]))
