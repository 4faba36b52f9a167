"""Margin-based bitext mining with FAISS nearest neighbours.

Implements Artetxe & Schwenk 2019, "Margin-based Parallel Corpus Mining with Multilingual
Sentence Embeddings": given unit-length source vectors ``x`` ``(n, dim)`` and target vectors
``y`` ``(m, dim)``, every candidate pair is scored by its cosine relative to the mean cosine
of both sentences' ``k`` nearest neighbours on the other side,

* ``ratio``:    ``cos(x, y) / (knn_x / 2 + knn_y / 2)``
* ``distance``: ``cos(x, y) - (knn_x / 2 + knn_y / 2)``
* ``absolute``: ``cos(x, y)`` (plain cosine, the baseline margins are compared with),

where ``knn_x`` is the mean cosine of ``x`` to its ``k`` nearest targets and ``knn_y`` that of
``y`` to its ``k`` nearest sources. Candidates are each sentence's ``k`` nearest neighbours, and
pairs are selected by one of four strategies:

* ``forward``: each source sentence with its best-scoring target;
* ``backward``: each target sentence with its best-scoring source;
* ``intersection``: pairs that are both forward and backward best;
* ``max``: forward and backward candidates pooled, sorted by score, and taken greedily so that
  no sentence is used twice (LASER's ``max`` retrieval).

Nearest neighbours come from FAISS (Johnson et al. 2019, "Billion-scale similarity search with
GPUs") on inner products of unit vectors (:mod:`xlt.retrieval.ann`): an exact ``Flat`` index for
small sides and, above a size the caller sets or by choice, an inverted file (``IVF``), IVF with
OPQ and product quantisation (``OPQ,IVF,PQ``) or an HNSW graph. Approximate search only proposes
candidates: their cosines are recomputed exactly from the stored vectors before the best ``k``
are kept, so the margin scores never carry quantisation error, and recall@k against exact search
can be measured on a sample of queries (``check_recall``) or reached by tuning (``target_recall``).
Both sides can be arrays, disk memmaps (:func:`embed_to_array`) or the shards of ``xlt embed``;
indexes are filled and queries searched block by block, so memory stays bounded by one index,
one block and the candidate lists.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm

from xlt.data.readers import DataFormatError, read_lines
from xlt.models.encoder import Encoder
from xlt.retrieval.ann import (AnnIndex, as_vectors, build_ann_index, measure_recall, peak_rss_mib, tune_search)

log = logging.getLogger(__name__)

MARGINS = ("ratio", "distance", "absolute")
"""Scoring functions of :func:`margin_score`."""

STRATEGIES = ("forward", "backward", "intersection", "max")
"""Pair-selection strategies of :func:`mine`."""

INDEX_KINDS = ("auto", "flat", "ivf", "ivfpq", "hnsw")
"""FAISS index kinds: ``auto`` = ``flat`` up to ``approx_above`` vectors, ``ivf`` above (see :mod:`xlt.retrieval.ann`)."""

DEFAULT_APPROX_ABOVE = 100_000
"""Sides with more vectors than this get an approximate (IVF) index under ``index='auto'``."""

DEFAULT_CHUNK_SIZE = 20_000
"""Vectors per chunk for embedding, index additions and queries."""


# --------------------------------------------------------------------------- input text


@dataclass
class MonolingualText:
    """One side of a mining input: unique, non-empty sentences in first-seen order.

    Attributes:
        sentences: the kept sentences (whitespace-stripped, duplicates removed).
        lines: 1-based line number of each kept sentence's first occurrence.
        path: the file (None for in-memory input).
        n_lines: lines read. n_empty: empty lines skipped. n_duplicates: repeated lines skipped.
    """

    sentences: list[str]
    lines: list[int]
    path: Path | None = None
    n_lines: int = 0
    n_empty: int = 0
    n_duplicates: int = 0

    def counts(self) -> dict[str, int]:
        """``{'lines', 'kept', 'skipped_empty', 'skipped_duplicate'}`` for reports."""
        return {"lines": self.n_lines, "kept": len(self.sentences), "skipped_empty": self.n_empty,
                "skipped_duplicate": self.n_duplicates}


def unique_sentences(texts: Sequence[str], path: str | os.PathLike[str] | None = None) -> MonolingualText:
    """Strip, drop empty and repeated lines (counted), keep first-seen order.

    Mining pairs each distinct sentence at most once, so duplicates are removed up front as
    LASER's mining scripts do; their count goes into the report.
    """
    out = MonolingualText(sentences=[], lines=[], path=Path(path) if path is not None else None,
                          n_lines=len(texts))
    seen: set[str] = set()
    for i, raw in enumerate(texts, start=1):
        s = raw.strip()
        if not s:
            out.n_empty += 1
        elif s in seen:
            out.n_duplicates += 1
        else:
            seen.add(s)
            out.sentences.append(s)
            out.lines.append(i)
    return out


def read_sentences(path: str | os.PathLike[str]) -> MonolingualText:
    """Read one sentence per line (UTF-8) with :func:`unique_sentences`.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: the file is not UTF-8 (names the line), or has no sentence at all.
    """
    path = Path(path)
    out = unique_sentences(read_lines(path), path)
    if not out.sentences:
        raise DataFormatError(path, max(out.n_lines, 1), "no non-empty sentence to mine")
    return out


# --------------------------------------------------------------------------- embeddings


def embed_to_array(encoder: Encoder, sentences: Sequence[str], *, chunk_size: int = DEFAULT_CHUNK_SIZE,
                   memmap_path: str | os.PathLike[str] | None = None, batch_size: int = 64,
                   layer: int | str = "last", pooling: str = "mean", progress: bool = True) -> np.ndarray:
    """Unit-length sentence embeddings ``(n, dim)`` float32, computed ``chunk_size`` at a time
    with :meth:`Encoder.encode_sentences <xlt.models.encoder.Encoder.encode_sentences>`
    (``normalize=True``; E5 mean pooling by default).

    With ``memmap_path`` the rows are written to a disk ``np.memmap`` as each chunk finishes,
    so peak memory is one chunk's, whatever ``n`` is; otherwise an in-memory array.

    Raises:
        ValueError: no sentences, or ``chunk_size < 1``.
    """
    if not sentences:
        raise ValueError("no sentences to embed")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    n, dim = len(sentences), encoder.hidden_size
    out = (np.lib.format.open_memmap(memmap_path, mode="w+", dtype=np.float32, shape=(n, dim))
           if memmap_path is not None else np.empty((n, dim), dtype=np.float32))
    with tqdm(total=n, desc="embedding", unit="sent", disable=not progress, leave=False) as bar:
        for s in range(0, n, chunk_size):
            chunk = list(sentences[s:s + chunk_size])
            out[s:s + len(chunk)] = encoder.encode_sentences(chunk, layers=layer, pooling=pooling, normalize=True,
                                                             batch_size=batch_size, progress=False)
            bar.update(len(chunk))
    if isinstance(out, np.memmap):
        out.flush()
    return out


# --------------------------------------------------------------------------- nearest neighbours


def resolve_index_kind(kind: str, n_base: int, approx_above: int = DEFAULT_APPROX_ABOVE) -> str:
    """``auto`` → ``flat`` for ``n_base <= approx_above`` else ``ivf``; other kinds unchanged.

    Raises:
        ValueError: unknown kind.
    """
    if kind not in INDEX_KINDS:
        raise ValueError(f"index must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")
    if kind == "auto":
        return "flat" if n_base <= approx_above else "ivf"
    return kind


def build_index(base: Any, kind: str = "auto", *, approx_above: int = DEFAULT_APPROX_ABOVE,
                nlist: int | None = None, nprobe: int | None = None, pq_m: int | None = None,
                ef_search: int | None = None, k: int = 4, rerank: int | None = None, train_size: int | None = None,
                chunk_size: int = DEFAULT_CHUNK_SIZE, seed: int = 0, progress: bool = False) -> AnnIndex:
    """A FAISS inner-product index over ``base`` ``(m, dim)`` (array, memmap or ``xlt embed`` shards),
    trained on a seeded sample and filled block by block (:func:`xlt.retrieval.ann.build_ann_index`).

    ``auto`` is ``flat`` up to ``approx_above`` vectors and ``ivf`` above; see
    :mod:`xlt.retrieval.ann` for the kinds (``flat``, ``ivf``, ``ivfpq`` = OPQ + IVF + PQ, ``hnsw``)
    and the defaults of ``nlist``, ``nprobe``, ``ef_search``, ``pq_m``, ``rerank``, ``train_size``.

    Returns:
        an :class:`~xlt.retrieval.ann.AnnIndex` (its ``info``: kind, spec, nlist, nprobe/ef_search,
        n_train, build seconds).

    Raises:
        ValueError: unknown kind, bad shapes, ``pq_m`` that does not divide ``dim``.
    """
    base = as_vectors(base, chunk_size)
    kind = resolve_index_kind(kind, base.n_rows, approx_above)
    return build_ann_index(base, kind, nlist=nlist, nprobe=nprobe, ef_search=ef_search, pq_m=pq_m, k=k,
                           rerank=rerank, train_size=train_size, seed=seed, progress=progress)


def knn_search(queries: Any, base: Any, k: int, *, index: str = "auto", approx_above: int = DEFAULT_APPROX_ABOVE,
               nprobe: int | None = None, nlist: int | None = None, pq_m: int | None = None,
               ef_search: int | None = None, rerank: int | None = None, train_size: int | None = None,
               target_recall: float | None = None, check_recall: int = 0, chunk_size: int = DEFAULT_CHUNK_SIZE,
               progress: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The ``k`` nearest rows of ``base`` ``(m, dim)`` for every row of ``queries`` ``(n, dim)``.

    Both sides hold unit vectors (cosine = inner product) as arrays, memmaps or ``xlt embed``
    shards (:func:`xlt.retrieval.ann.as_vectors`); the index is filled and the queries searched
    block by block, so memory holds the index, one block and the ``(n, k)`` results. An approximate
    index proposes ``rerank`` candidates per query, whose cosines are recomputed exactly in float32
    from the base vectors before the best ``k`` are kept. ``k`` is capped at ``m``.

    Args:
        index, approx_above, nlist, nprobe, pq_m, ef_search, rerank, train_size: see :func:`build_index`.
        target_recall: raise ``nprobe``/``efSearch`` by doubling and bisecting until recall@k on a
            held-out sample of ``max(check_recall, 1000)`` queries reaches it
            (:func:`xlt.retrieval.ann.tune_search`).
        check_recall: queries in the seeded sample on which recall@k against exact search is
            measured and reported (:func:`xlt.retrieval.ann.measure_recall`; 0: not measured; a flat
            index is exact and reports recall 1 without measuring).

    Returns:
        ``(sims, ids, info)``: ``sims`` ``(n, k)`` float32 cosines in descending order, ``ids``
        ``(n, k)`` int64 row numbers of ``base`` (never -1: a query an approximate index could not
        fill is searched exactly), and the index info (kind, spec, nlist, nprobe or ef_search,
        n_train, build/search seconds, ``tuning``, ``recall_check``, ``peak_rss_mib``).

    Raises:
        ValueError: bad shapes, different dims, ``k < 1``, ``target_recall`` outside (0, 1].
    """
    q, b = as_vectors(queries, chunk_size), as_vectors(base, chunk_size)
    if q.dim != b.dim:
        raise ValueError(f"queries and base must have the same dim, got {q.dim} and {b.dim}")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if target_recall is not None and not 0 < target_recall <= 1:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
    k = min(int(k), b.n_rows)
    ann = build_index(b, index, approx_above=approx_above, nlist=nlist, nprobe=nprobe, pq_m=pq_m,
                      ef_search=ef_search, k=k, rerank=rerank, train_size=train_size, chunk_size=chunk_size,
                      seed=seed, progress=progress)
    info = ann.info
    if target_recall is not None and ann.kind != "flat":
        info["tuning"] = tune_search(ann, q, k, target_recall, n_sample=max(check_recall, 1000), seed=seed + 1,
                                     start=nprobe if ann.kind != "hnsw" else ef_search)
    sims = np.empty((q.n_rows, k), dtype=np.float32)
    ids = np.empty((q.n_rows, k), dtype=np.int64)
    t0 = time.perf_counter()
    with tqdm(total=q.n_rows, desc=f"k-NN search ({ann.spec})", unit="query", disable=not progress,
              leave=False) as bar:
        for first, block in q.blocks():
            for s in range(0, len(block), chunk_size):
                part = block[s:s + chunk_size]
                sims[first + s:first + s + len(part)], ids[first + s:first + s + len(part)] = ann.search(part, k)
                bar.update(len(part))
    info["search_seconds"] = round(time.perf_counter() - t0, 3)
    info.setdefault("n_exact_fallback", 0)
    if ann.kind == "flat":
        info["recall_check"] = {"recall": 1.0, "k": k, "n_sample": 0, "exact": True}
    elif check_recall:
        info["recall_check"] = measure_recall(ann, q, k, check_recall, seed=seed)
    info["peak_rss_mib"] = peak_rss_mib()
    return sims, ids, info


# --------------------------------------------------------------------------- margins and mining


def margin_score(cos: np.ndarray, knn_x: np.ndarray, knn_y: np.ndarray, margin: str = "ratio") -> np.ndarray:
    """Margin of a candidate's cosine over its two neighbourhoods (Artetxe & Schwenk 2019).

    Args:
        cos: cosines of candidate pairs, any shape.
        knn_x, knn_y: the mean ``k``-NN cosine of each pair's source and target sentence,
            broadcastable to ``cos``.
        margin: ``ratio``, ``distance`` or ``absolute`` (see the module docstring).

    Raises:
        ValueError: unknown margin.
    """
    if margin not in MARGINS:
        raise ValueError(f"margin must be one of {', '.join(MARGINS)}, got {margin!r}")
    if margin == "absolute":
        return np.asarray(cos, dtype=np.float64)
    avg = (np.asarray(knn_x, dtype=np.float64) + np.asarray(knn_y, dtype=np.float64)) / 2
    if margin == "ratio":
        return np.asarray(cos, dtype=np.float64) / avg
    return np.asarray(cos, dtype=np.float64) - avg


@dataclass
class MinedPairs:
    """Mined sentence pairs, best score first.

    Attributes:
        src, tgt: ``(n_pairs,)`` int64 row numbers into the source and target sides.
        scores: ``(n_pairs,)`` float64 margin (or cosine) scores.
        info: settings and timings (``k``, ``margin``, ``strategy``, ``threshold``, index info,
            seconds per stage).
    """

    src: np.ndarray
    tgt: np.ndarray
    scores: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.scores)


@dataclass
class Candidates:
    """Both directions' ``k``-NN candidates with their margin scores (input of :func:`select_pairs`).

    Attributes:
        fwd_ids ``(n, k)``, fwd_scores ``(n, k)``: each source row's target candidates and scores.
        bwd_ids ``(m, k)``, bwd_scores ``(m, k)``: each target row's source candidates and scores.
        info: index information and timings.
    """

    fwd_ids: np.ndarray
    fwd_scores: np.ndarray
    bwd_ids: np.ndarray
    bwd_scores: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Neighbourhoods:
    """Both directions' ``k`` nearest neighbours (input of :func:`score_neighbourhoods`).

    Attributes:
        sxy ``(n, k)``, ixy ``(n, k)``: each source row's nearest targets' cosines (descending) and rows.
        syx ``(m, k)``, iyx ``(m, k)``: each target row's nearest sources.
        info: ``{"forward_index", "backward_index"}`` index information (:func:`knn_search`).
    """

    sxy: np.ndarray
    ixy: np.ndarray
    syx: np.ndarray
    iyx: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def neighbourhoods(x: Any, y: Any, *, k: int = 4, **knn_options: Any) -> Neighbourhoods:
    """k-NN of every source row among the targets and of every target row among the sources.

    The two searches run one after the other, each with its own index (built over the other side,
    then freed), so memory holds one index, one block of queries and the ``(n + m, k)`` candidate
    lists. ``knn_options`` go to :func:`knn_search`.

    Raises:
        ValueError: bad shapes or settings.
    """
    sxy, ixy, info_f = knn_search(x, y, k, **knn_options)
    syx, iyx, info_b = knn_search(y, x, k, **knn_options)
    return Neighbourhoods(sxy, ixy, syx, iyx, info={"forward_index": info_f, "backward_index": info_b})


def score_neighbourhoods(nb: Neighbourhoods, margin: str = "ratio") -> Candidates:
    """The margin score (:func:`margin_score`) of every candidate pair of ``nb``.

    The margin's neighbourhood means ``knn_x`` ``(n,)`` and ``knn_y`` ``(m,)`` are the row means of
    ``nb.sxy`` and ``nb.syx``.

    Raises:
        ValueError: unknown margin.
    """
    if margin not in MARGINS:
        raise ValueError(f"margin must be one of {', '.join(MARGINS)}, got {margin!r}")
    knn_x = nb.sxy.mean(axis=1, dtype=np.float64)
    knn_y = nb.syx.mean(axis=1, dtype=np.float64)
    fwd = margin_score(nb.sxy, knn_x[:, None], knn_y[nb.ixy], margin)
    bwd = margin_score(nb.syx, knn_y[:, None], knn_x[nb.iyx], margin)
    return Candidates(nb.ixy, fwd, nb.iyx, bwd, info=dict(nb.info))


def score_candidates(x: Any, y: Any, *, k: int = 4, margin: str = "ratio", **knn_options: Any) -> Candidates:
    """k-NN in both directions and the margin score of every candidate pair.

    Args:
        x: ``(n, dim)`` unit source vectors. y: ``(m, dim)`` unit target vectors (arrays, memmaps or
            ``xlt embed`` shards).
        k: neighbourhood size, both for the candidates and for the margin's mean (default 4).
        margin: see :func:`margin_score`. knn_options: see :func:`knn_search` (``index``,
            ``approx_above``, ``nprobe``, ``nlist``, ``pq_m``, ``ef_search``, ``rerank``,
            ``train_size``, ``target_recall``, ``check_recall``, ``chunk_size``, ``progress``, ``seed``).

    Raises:
        ValueError: bad shapes or settings.
    """
    if margin not in MARGINS:
        raise ValueError(f"margin must be one of {', '.join(MARGINS)}, got {margin!r}")
    return score_neighbourhoods(neighbourhoods(x, y, k=k, **knn_options), margin)


def select_pairs(cands: Candidates, strategy: str = "max", threshold: float | None = None) -> MinedPairs:
    """Pick pairs from scored candidates (strategies in the module docstring), then keep
    those with ``score >= threshold`` (all when None). Pairs come sorted best first.

    Raises:
        ValueError: unknown strategy.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    n, m = len(cands.fwd_ids), len(cands.bwd_ids)
    fb = cands.fwd_scores.argmax(axis=1)
    f_tgt = cands.fwd_ids[np.arange(n), fb]
    f_sc = cands.fwd_scores[np.arange(n), fb]
    bb = cands.bwd_scores.argmax(axis=1)
    b_src = cands.bwd_ids[np.arange(m), bb]
    b_sc = cands.bwd_scores[np.arange(m), bb]
    if strategy == "forward":
        src, tgt, sc = np.arange(n), f_tgt, f_sc
    elif strategy == "backward":
        src, tgt, sc = b_src, np.arange(m), b_sc
    elif strategy == "intersection":
        keep = b_src[f_tgt] == np.arange(n)
        src, tgt, sc = np.flatnonzero(keep), f_tgt[keep], f_sc[keep]
    else:  # max: pooled, best first, each sentence used once
        src_all = np.concatenate([np.arange(n), b_src])
        tgt_all = np.concatenate([f_tgt, np.arange(m)])
        sc_all = np.concatenate([f_sc, b_sc])
        order = np.argsort(-sc_all, kind="stable")
        used_s = np.zeros(n, dtype=bool)
        used_t = np.zeros(m, dtype=bool)
        keep = []
        for i in order:
            a, b = src_all[i], tgt_all[i]
            if not used_s[a] and not used_t[b]:
                used_s[a] = used_t[b] = True
                keep.append(i)
        keep = np.asarray(keep, dtype=np.int64)
        src, tgt, sc = src_all[keep], tgt_all[keep], sc_all[keep]
    order = np.argsort(-sc, kind="stable")
    src, tgt, sc = np.asarray(src)[order], np.asarray(tgt)[order], np.asarray(sc, dtype=np.float64)[order]
    if threshold is not None:
        keep = sc >= threshold
        src, tgt, sc = src[keep], tgt[keep], sc[keep]
    return MinedPairs(src.astype(np.int64), tgt.astype(np.int64), sc,
                      info={"strategy": strategy, "threshold": threshold, **cands.info})


def mine(x: np.ndarray, y: np.ndarray, *, k: int = 4, margin: str = "ratio", strategy: str = "max",
         threshold: float | None = None, **knn_options: Any) -> MinedPairs:
    """Mine translation pairs between unit-vector sets ``x`` ``(n, dim)`` and ``y`` ``(m, dim)``.

    :func:`score_candidates` then :func:`select_pairs`; ``knn_options`` go to
    :func:`knn_search` (``index``, ``approx_above``, ``nprobe``, ``nlist``, ``pq_m``, ``ef_search``,
    ``rerank``, ``train_size``, ``target_recall``, ``check_recall``, ``chunk_size``, ``progress``, ``seed``).

    Raises:
        ValueError: bad shapes or settings.
    """
    t0 = time.perf_counter()
    x, y = as_vectors(x), as_vectors(y)
    cands = score_candidates(x, y, k=k, margin=margin, **knn_options)
    pairs = select_pairs(cands, strategy, threshold)
    pairs.info.update(k=min(k, x.n_rows, y.n_rows), margin=margin, seconds=round(time.perf_counter() - t0, 3))
    return pairs
