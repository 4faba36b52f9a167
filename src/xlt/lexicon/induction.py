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

__all__ = ["BliScores", "evaluate_bli", "rank_translations", "bli_queries"]


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
    s = similarity_scores(xw, y, method, k)[np.asarray(rows)]
    ranks = []
    for r, g in zip(s, gold):
        best = max(r[j] for j in g)
        ranks.append(int((r > best).sum()) + 1)  # ties are resolved in the query's favour
    ranks_a = np.asarray(ranks)
    return BliScores(p_at_1=100 * float((ranks_a <= 1).mean()), p_at_5=100 * float((ranks_a <= 5).mean()),
                     p_at_10=100 * float((ranks_a <= 10).mean()), map=100 * float((1 / ranks_a).mean()),
                     n_queries=len(rows), search_space=len(y), method=method, per_query=ranks, **counts)
