"""Bilingual lexicon induction (BLI): translate words by nearest neighbours in a shared space, and
score the translations against a test dictionary.

The measures are the field's (Glavaš et al. 2019, "How to (Properly) Evaluate Cross-Lingual Word
Embeddings"; Conneau et al. 2018): for every source word of the test dictionary that the source
vocabulary holds, the target vocabulary (the *search space*, whose size is reported with every
score) is ranked by cosine or CSLS; P@k is the share of source words with a gold translation among
the first k, and MAP is the mean reciprocal rank of the best-ranked gold translation (XLING's
"MAP": with one relevant item, average precision is the reciprocal rank). Source words the source
vocabulary lacks, and test pairs none of whose translations the target vocabulary holds, are
counted and left out (:class:`BliScores`), never silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from xlt.lexicon.mapping import MappingError, similarity_scores

__all__ = ["BliScores", "bli_queries", "evaluate_bli", "induce_dictionary", "neighbourhood_means", "rank_translations"]


@dataclass
class BliScores:
    """BLI scores of one language pair, in percent.

    Attributes:
        p_at_1, p_at_5, p_at_10: precision at 1, 5, 10 (% of queries with a gold translation ranked
            that high). map: mean reciprocal rank of the best gold translation (%), XLING's MAP.
        n_queries: source words scored. search_space: target words ranked for each query.
        n_pairs: test pairs read. skipped_source: distinct source words not in the source vocabulary.
        skipped_target: distinct source words (in the vocabulary) none of whose translations the
            target vocabulary holds.
        method: ``cosine`` or ``csls``.
    """

    p_at_1: float
    p_at_5: float
    p_at_10: float
    map: float
    n_queries: int
    search_space: int
    n_pairs: int
    skipped_source: int = 0
    skipped_target: int = 0
    method: str = "csls"
    per_query: list[int] = field(default_factory=list, repr=False)

    def describe(self) -> dict:
        """A JSON-able summary (without the per-query ranks)."""
        return {k: v for k, v in self.__dict__.items() if k != "per_query"}


def bli_queries(pairs: Iterable[tuple[str, str]], src_words: Sequence[str],
                 tgt_words: Sequence[str]) -> tuple[list[int], list[set[int]], dict]:
    """The queries of a test dictionary: source rows and the set of gold target rows of each.

    Args:
        pairs: ``(source word, target word)`` test pairs (a word may have several translations).
        src_words, tgt_words: the two vocabularies (row order of the vector matrices).

    Returns:
        ``(query rows, gold row sets, counts)`` with counts ``n_pairs``, ``skipped_source`` and
        ``skipped_target`` (see :class:`BliScores`).

    Raises:
        MappingError: no test pair left after skipping (the message gives the counts).
    """
    src_index = {w: i for i, w in enumerate(src_words)}
    tgt_index = {w: j for j, w in enumerate(tgt_words)}
    gold: dict[str, set[int]] = {}
    missing_src, n_pairs = set(), 0
    for s, t in pairs:
        n_pairs += 1
        if s not in src_index:
            missing_src.add(s)
            continue
        rows = gold.setdefault(s, set())
        if t in tgt_index:
            rows.add(tgt_index[t])
    no_target = {s for s, rows in gold.items() if not rows}
    queries = [s for s, rows in gold.items() if rows]
    counts = {"n_pairs": n_pairs, "skipped_source": len(missing_src), "skipped_target": len(no_target)}
    if not queries:
        raise MappingError(f"no test pair is left to score: {n_pairs} pairs, {len(missing_src)} source words not in "
                           f"the source vocabulary, {len(no_target)} with no translation in the target vocabulary")
    return [src_index[s] for s in queries], [gold[s] for s in queries], counts


def rank_translations(xw, y, rows: Sequence[int], method: str = "csls", k: int = 10,
                      top: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` best target rows for each source row in ``rows``, and their scores.

    Args:
        xw: mapped source vectors ``(n_src, dim)``, unit length (CSLS takes the targets'
            neighbourhoods from all of them, as MUSE). y: target vectors ``(n_tgt, dim)``.
        rows: source rows to translate. method, k: :func:`~xlt.lexicon.mapping.similarity_scores`.
        top: candidates per word.

    Returns:
        ``(candidates, scores)``, each ``(len(rows), min(top, n_tgt))``: target rows, best first.

    Raises:
        MappingError: bad spaces, method or ``k``.
    """
    s = similarity_scores(xw, y, method, k)[np.asarray(rows, dtype=np.int64)]
    top = min(top, s.shape[1])
    cand = np.argpartition(-s, top - 1, axis=1)[:, :top]
    order = np.argsort(-np.take_along_axis(s, cand, 1), axis=1, kind="stable")
    cand = np.take_along_axis(cand, order, 1)
    return cand, np.take_along_axis(s, cand, 1)


def evaluate_bli(xw, y, pairs: Iterable[tuple[str, str]], src_words: Sequence[str], tgt_words: Sequence[str], *,
                 method: str = "csls", k: int = 10) -> BliScores:
    """P@1/5/10 and MAP of translating the test dictionary's source words into ``tgt_words``.

    Args:
        xw: mapped source vectors ``(len(src_words), dim)``, unit length.
        y: target vectors ``(len(tgt_words), dim)``, unit length: the search space.
        pairs: test ``(source, target)`` pairs. src_words, tgt_words: the vocabularies.
        method, k: ``cosine`` or ``csls`` and its neighbourhood.

    Returns:
        :class:`BliScores` (percent); ``per_query`` holds each query's rank of its best gold
        translation (1 = first), computed over the whole search space.

    Raises:
        MappingError: no pair left to score, bad spaces or method.
    """
    rows, gold, counts = bli_queries(pairs, src_words, tgt_words)
    xw, y = np.asarray(xw, dtype=np.float32), np.asarray(y, dtype=np.float32)
    if method == "csls":  # the hubness terms block by block; only the queries' rows of scores
        similarity_scores(xw[:1], y[:1], method, k)  # the same checks as the full computation
        r_src, r_tgt = neighbourhood_means(xw, y, k)
        q = np.asarray(rows)
        s = 2 * (xw[q] @ y.T) - r_src[q, None] - r_tgt[None, :]
    else:
        s = similarity_scores(xw[np.asarray(rows)], y, method, k)
    ranks = []
    for r, g in zip(s, gold):
        best = max(r[j] for j in g)
        ranks.append(int((r > best).sum()) + 1)  # ties are resolved in the query's favour
    ranks_a = np.asarray(ranks)
    return BliScores(p_at_1=100 * float((ranks_a <= 1).mean()), p_at_5=100 * float((ranks_a <= 5).mean()),
                     p_at_10=100 * float((ranks_a <= 10).mean()), map=100 * float((1 / ranks_a).mean()),
                     n_queries=len(rows), search_space=len(y), method=method, per_query=ranks, **counts)


def neighbourhood_means(a, b, k: int = 10, block_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """CSLS's hubness terms without the full score matrix: the mean cosine of each row of ``a`` to
    its ``k`` nearest rows of ``b``, and of each row of ``b`` to its ``k`` nearest rows of ``a``
    (Conneau et al. 2018, section 2.3), computed block by block (memory ``block_size * len(b)``).

    Args:
        a: ``(n_a, dim)`` unit vectors (the mapped source). b: ``(n_b, dim)`` unit vectors (the target).
        k: neighbourhood size (capped at the other side's size). block_size: rows of ``a`` per block.

    Returns:
        ``(r_a, r_b)``: float32 ``(n_a,)`` and ``(n_b,)``, equal to those of
        :func:`~xlt.lexicon.mapping.similarity_scores` with ``method='csls'``.

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
        s = a[i:i + block_size] @ b.T
        r_a[i:i + block_size] = np.partition(s, -ka, axis=1)[:, -ka:].mean(1)
        both = np.concatenate([best_b, s.T], axis=1)  # rows of b: partitions run along contiguous rows
        best_b = np.partition(both, -kb, axis=1)[:, -kb:] if both.shape[1] > kb else both
    return r_a, best_b.mean(1).astype(np.float32)


def induce_dictionary(xw, y, src_words: Sequence[str], tgt_words: Sequence[str], *, rows: Sequence[int] | None = None,
                      method: str = "csls", k: int = 10, top: int = 1, min_score: float | None = None,
                      mutual: bool = False, skip_identical: bool = False,
                      block_size: int = 2048) -> list[tuple[str, str, float]]:
    """Translate source words into the target vocabulary: a scored bilingual dictionary.

    Each source row of ``rows`` gets its ``top`` best target words by cosine or CSLS (Conneau et
    al. 2018); ``mutual`` keeps only a word's best candidate, and only when that target's best
    source (over all source rows) is the word itself (mutual nearest neighbours: the high-precision
    dictionary of MUSE's refinement); ``min_score`` drops candidates scored below it (a confidence
    threshold). Scores are computed block by block, never as one ``(n_src, n_tgt)`` matrix.

    Args:
        xw: mapped source vectors ``(n_src, dim)``, unit length. y: target vectors ``(n_tgt, dim)``.
        src_words, tgt_words: the vocabularies (row order).
        rows: source rows to translate (default all). method: ``cosine`` or ``csls``. k: CSLS neighbourhood.
        top: candidates per word (``mutual`` keeps one). min_score: the least score kept (None: all).
        mutual: keep mutual nearest neighbours only.
        skip_identical: never propose the source word itself (a target word spelt the same): with
            type-level vectors of a multilingual encoder, a word encoded on its own carries no sign
            of its language, so an English word that the target vocabulary also holds (a name, a
            title, a loanword) is its own nearest neighbour. The mutual check skips them too.
        block_size: source rows per block.

    Returns:
        ``(source word, target word, score)`` triples, in the order of ``rows``, best candidate first.

    Raises:
        MappingError: different dimensions, a bad method, ``k < 1`` or ``top < 1``, vocabularies
            that do not match the vectors.
    """
    xw, y = np.asarray(xw, dtype=np.float32), np.asarray(y, dtype=np.float32)
    if xw.ndim != 2 or y.ndim != 2 or xw.shape[1] != y.shape[1]:
        raise MappingError(f"expected two (n_words, dim) spaces of one dimension, got {xw.shape} and {y.shape}")
    if len(src_words) != len(xw) or len(tgt_words) != len(y):
        raise MappingError(f"{len(src_words)} source and {len(tgt_words)} target words for {len(xw)} and {len(y)} "
                           "vectors")
    if method not in ("cosine", "csls"):
        raise MappingError(f"unknown retrieval {method!r} (cosine, csls)")
    if top < 1:
        raise MappingError(f"top must be >= 1, got {top}")
    rows_a = np.arange(len(xw)) if rows is None else np.asarray(rows, dtype=np.int64)
    if method == "csls":
        r_src, r_tgt = neighbourhood_means(xw, y, k, block_size)
    else:
        r_src, r_tgt = np.zeros(len(xw), np.float32), np.zeros(len(y), np.float32)
    same = np.full(len(xw), -1, dtype=np.int64)  # source row -> target row spelt the same (-1: none)
    if skip_identical:
        where = {w: j for j, w in enumerate(tgt_words)}
        same = np.asarray([where.get(w, -1) for w in src_words], dtype=np.int64)

    def drop_identical(s: np.ndarray, src_rows: np.ndarray) -> np.ndarray:
        hit = same[src_rows] >= 0
        s[np.nonzero(hit)[0], same[src_rows][hit]] = -np.inf
        return s

    best_src = None
    if mutual:  # each target's best source over all source rows: argmax_i 2 cos(i, j) - r_src[i]
        best_val = np.full(len(y), -np.inf, dtype=np.float32)
        best_src = np.zeros(len(y), dtype=np.int64)
        for i in range(0, len(xw), block_size):
            s = 2 * (xw[i:i + block_size] @ y.T) - r_src[i:i + block_size, None]
            if skip_identical:
                s = drop_identical(s, np.arange(i, min(i + block_size, len(xw))))
            arg = s.argmax(0)
            val = s[arg, np.arange(len(y))]
            better = val > best_val
            best_val[better], best_src[better] = val[better], arg[better] + i
    n_top = 1 if mutual else min(top, len(y))
    out: list[tuple[str, str, float]] = []
    for i in range(0, len(rows_a), block_size):
        q = rows_a[i:i + block_size]
        s = 2 * (xw[q] @ y.T) - r_src[q, None] - r_tgt[None, :] if method == "csls" else xw[q] @ y.T
        if skip_identical:
            s = drop_identical(s, q)
        cand = np.argpartition(-s, n_top - 1, axis=1)[:, :n_top]
        sc = np.take_along_axis(s, cand, 1)
        order = np.argsort(-sc, axis=1, kind="stable")
        cand, sc = np.take_along_axis(cand, order, 1), np.take_along_axis(sc, order, 1)
        for src_row, cs, ss in zip(q, cand, sc):
            for j, v in zip(cs, ss):
                if mutual and best_src[j] != src_row:
                    continue
                if not np.isfinite(v) or (min_score is not None and v < min_score):
                    continue
                out.append((src_words[src_row], tgt_words[j], float(v)))
    return out
