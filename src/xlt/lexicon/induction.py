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

from xlt.lexicon.mapping import MappingError, check_pair, csls, neighbourhood_means

__all__ = ["BliScores", "Hubness", "best_sources", "bli_queries", "evaluate_bli", "gold_rank", "hubness", "induce_dictionary",
           "query_scores", "rank_translations", "self_learning_pairs", "top_candidates"]


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

    @classmethod
    def from_ranks(cls, ranks: Sequence[int], search_space: int, method: str, counts: dict) -> BliScores:
        """The scores of queries whose best gold translations stand at ``ranks`` (1 = first).

        Args:
            ranks: one rank per query. search_space: target words ranked. method: its name.
            counts: ``n_pairs``, ``skipped_source``, ``skipped_target`` (:func:`bli_queries`).
        """
        r = np.asarray(ranks)
        return cls(p_at_1=100 * float((r <= 1).mean()), p_at_5=100 * float((r <= 5).mean()),
                   p_at_10=100 * float((r <= 10).mean()), map=100 * float((1 / r).mean()), n_queries=len(r),
                   search_space=search_space, method=method, per_query=[int(v) for v in r], **counts)


def gold_rank(scores: np.ndarray, gold: set[int]) -> int:
    """The rank (1 = first) of the best-scored gold column in one row of scores ``(n_tgt,)``; ties
    are resolved in the query's favour."""
    best = max(scores[j] for j in gold)
    return int((scores > best).sum()) + 1


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


Hubness = tuple[np.ndarray, np.ndarray] | None
"""CSLS's hubness terms ``(r_src (n_src,), r_tgt (n_tgt,))``, or None for cosine retrieval."""


def hubness(xw, y, method: str = "csls", k: int = 10, block_size: int = 2048) -> Hubness:
    """What retrieval by ``method`` needs beyond the cosines: CSLS's hubness terms
    (:func:`~xlt.lexicon.mapping.neighbourhood_means`), or None for ``cosine``.

    Raises:
        MappingError: an unknown method, ``k < 1``.
    """
    if method not in ("cosine", "csls"):
        raise MappingError(f"unknown retrieval {method!r} (cosine, csls)")
    return neighbourhood_means(xw, y, k, block_size) if method == "csls" else None


def query_scores(xw: np.ndarray, y: np.ndarray, rows: np.ndarray, hub: Hubness) -> np.ndarray:
    """Scores of the source ``rows`` against every target, ``(len(rows), n_tgt)`` float32: cosine
    when ``hub`` is None, else CSLS with those hubness terms (:func:`hubness`)."""
    s = xw[rows] @ y.T
    return s if hub is None else csls(s, hub[0][rows], hub[1])


def top_candidates(s: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` best columns of each row of ``s`` and their scores, best first (ties: lower column
    first), each ``(n_rows, min(top, n_cols))``."""
    top = min(top, s.shape[1])
    cand = np.argpartition(-s, top - 1, axis=1)[:, :top]
    sc = np.take_along_axis(s, cand, 1)
    order = np.lexsort((cand, -sc), axis=1)
    return np.take_along_axis(cand, order, 1), np.take_along_axis(sc, order, 1)


def rank_translations(xw, y, rows: Sequence[int], method: str = "csls", k: int = 10,
                      top: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` best target rows for each source row in ``rows``, and their scores.

    Args:
        xw: mapped source vectors ``(n_src, dim)``, unit length (CSLS takes the targets'
            neighbourhoods from all of them, as MUSE). y: target vectors ``(n_tgt, dim)``.
        rows: source rows to translate. method: ``cosine`` or ``csls``. k: CSLS neighbourhood.
        top: candidates per word.

    Returns:
        ``(candidates, scores)``, each ``(len(rows), min(top, n_tgt))``: target rows, best first.

    Raises:
        MappingError: bad spaces, method or ``k``.
    """
    xw, y = check_pair(xw, y)
    return top_candidates(query_scores(xw, y, np.asarray(rows, dtype=np.int64), hubness(xw, y, method, k)), top)


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
    xw, y = check_pair(xw, y)
    s = query_scores(xw, y, np.asarray(rows), hubness(xw, y, method, k))  # only the queries' rows
    return BliScores.from_ranks([gold_rank(r, g) for r, g in zip(s, gold)], len(y), method, counts)


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
    xw, y = check_pair(xw, y)
    if len(src_words) != len(xw) or len(tgt_words) != len(y):
        raise MappingError(f"{len(src_words)} source and {len(tgt_words)} target words for {len(xw)} and {len(y)} "
                           "vectors")
    if top < 1:
        raise MappingError(f"top must be >= 1, got {top}")
    rows_a = np.arange(len(xw)) if rows is None else np.asarray(rows, dtype=np.int64)
    hub = hubness(xw, y, method, k, block_size)
    same = np.full(len(xw), -1, dtype=np.int64)  # source row -> target row spelt the same (-1: none)
    if skip_identical:
        where = {w: j for j, w in enumerate(tgt_words)}
        same = np.asarray([where.get(w, -1) for w in src_words], dtype=np.int64)

    def drop_identical(s: np.ndarray, src_rows: np.ndarray) -> np.ndarray:
        hit = same[src_rows] >= 0
        s[np.nonzero(hit)[0], same[src_rows][hit]] = -np.inf
        return s

    best_src = best_sources(xw, y, hub, block_size, drop_identical if skip_identical else None)[0] if mutual else None
    n_top = 1 if mutual else top
    out: list[tuple[str, str, float]] = []
    for i in range(0, len(rows_a), block_size):
        q = rows_a[i:i + block_size]
        s = query_scores(xw, y, q, hub)
        if skip_identical:
            s = drop_identical(s, q)
        cand, sc = top_candidates(s, n_top)
        for src_row, cs, ss in zip(q, cand, sc):
            for j, v in zip(cs, ss):
                if mutual and best_src[j] != src_row:
                    continue
                if not np.isfinite(v) or (min_score is not None and v < min_score):
                    continue
                out.append((src_words[src_row], tgt_words[j], float(v)))
    return out


def best_sources(xw: np.ndarray, y: np.ndarray, hub: Hubness, block_size: int = 2048,
                 mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Each target's best source over all source rows, and its score: the backward direction of
    retrieval, for mutual nearest neighbours (``argmax_i score(i, j)``; the target's own hubness
    term is the same for every ``i``, so it is added after the search).

    Args:
        xw: ``(n_src, dim)`` mapped source vectors. y: ``(n_tgt, dim)`` targets. hub: as
            :func:`hubness`. block_size: source rows per block.
        mask: ``mask(scores, source rows) -> scores``, applied to each block (e.g. to rule out
            identically spelt pairs).

    Returns:
        ``(best source row (n_tgt,) int64, its score (n_tgt,) float32)``.
    """
    best_val = np.full(len(y), -np.inf, dtype=np.float32)
    best_src = np.zeros(len(y), dtype=np.int64)
    for i in range(0, len(xw), block_size):
        src_rows = np.arange(i, min(i + block_size, len(xw)))
        s = query_scores(xw, y, src_rows, None if hub is None else (hub[0], np.zeros_like(hub[1])))
        if mask is not None:
            s = mask(s, src_rows)
        arg = s.argmax(0)
        val = s[arg, np.arange(len(y))]
        better = val > best_val
        best_val[better], best_src[better] = val[better], arg[better] + i
    return best_src, (best_val if hub is None else best_val - hub[1])


def self_learning_pairs(xw, y, seed, n: int, *, limit: int | None = None, k: int = 10,
                        block_size: int = 2048) -> tuple[np.ndarray, int]:
    """The seed pairs plus up to ``n`` confident induced ones: one round of self-learning (Artetxe
    et al. 2017; the augmentation rounds of ContrastiveBLI's stage C1, Li et al. 2022).

    Candidates are the mutual nearest neighbours by CSLS among the first ``limit`` rows of each
    side (the most frequent words, in a frequency-ordered vocabulary; the hubness terms are taken
    within those rows), minus those whose source word is already a seed word; the ``n`` with the
    highest CSLS score are added. Scores are computed block by block.

    Args:
        xw: mapped source vectors ``(n_src, dim)``, unit length. y: target vectors ``(n_tgt, dim)``.
        seed: ``(n_seed, 2)`` ``(source row, target row)`` pairs.
        n: the most pairs added (>= 0). limit: rows of each side searched (None: all).
        k: CSLS neighbourhood. block_size: source rows per block.

    Returns:
        ``(pairs (n_seed + n_added, 2) int64, n_added)``: the seed pairs first, then the added ones,
        most confident first.

    Raises:
        MappingError: bad spaces, ``n < 0``, ``k < 1``.
    """
    xw, y = check_pair(xw, y)
    if n < 0:
        raise MappingError(f"self-learning adds n >= 0 pairs, got {n}")
    seed = np.asarray(seed, dtype=np.int64).reshape(-1, 2)
    if n == 0:
        return seed, 0
    xs, ys = xw[:limit], y[:limit]
    hub = hubness(xs, ys, "csls", k, block_size)
    best_src = best_sources(xs, ys, hub, block_size)[0]
    fwd = np.empty(len(xs), dtype=np.int64)
    val = np.empty(len(xs), dtype=np.float32)
    for i in range(0, len(xs), block_size):
        q = np.arange(i, min(i + block_size, len(xs)))
        s = query_scores(xs, ys, q, hub)
        fwd[q] = s.argmax(1)
        val[q] = s[np.arange(len(q)), fwd[q]]
    rows = np.nonzero(best_src[fwd] == np.arange(len(xs)))[0]
    rows = rows[~np.isin(rows, seed[:, 0])]
    rows = rows[np.argsort(-val[rows], kind="stable")][:n]
    added = np.stack([rows, fwd[rows]], 1)
    return np.concatenate([seed, added]), int(len(added))
