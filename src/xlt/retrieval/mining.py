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
GPUs") on inner products of unit vectors: an exact ``IndexFlatIP`` for small sides and an
inverted-file index (``IVF``, optionally with product quantisation, ``IVF-PQ``) above a size the
caller sets. Approximate search only proposes the candidates: their cosines are recomputed
exactly from the stored vectors, so the margin scores never carry quantisation error. Queries
and index additions go in chunks, and :func:`embed_to_array` can write embeddings to a disk
memmap chunk by chunk, so memory stays bounded by the index.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm

from xlt.data.readers import DataFormatError, read_lines
from xlt.models.encoder import Encoder

log = logging.getLogger(__name__)

MARGINS = ("ratio", "distance", "absolute")
"""Scoring functions of :func:`margin_score`."""

STRATEGIES = ("forward", "backward", "intersection", "max")
"""Pair-selection strategies of :func:`mine`."""

INDEX_KINDS = ("auto", "flat", "ivf", "ivfpq")
"""FAISS index kinds: ``auto`` = ``flat`` up to ``approx_above`` vectors, ``ivf`` above."""

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


def _as_f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _check_vectors(a: Any, name: str) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        a = np.asarray(a, dtype=np.float32)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (rows, dim) array, got shape {a.shape}")
    return a


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


def default_nlist(n_base: int) -> int:
    """IVF lists for ``n_base`` vectors: about ``4 * sqrt(n)`` (FAISS guidelines), at least 1,
    and at most ``n_base / 39`` so that every centroid has its 39 training points."""
    return max(1, min(int(4 * math.sqrt(n_base)), n_base // 39))


def build_index(base: np.ndarray, kind: str = "auto", *, approx_above: int = DEFAULT_APPROX_ABOVE,
                nlist: int | None = None, nprobe: int = 16, pq_m: int | None = None,
                chunk_size: int = DEFAULT_CHUNK_SIZE, seed: int = 0):
    """A FAISS inner-product index over ``base`` ``(m, dim)`` (unit rows → cosine), filled chunkwise.

    ``ivf``/``ivfpq`` are trained on a seeded sample of at most ``256 * nlist`` rows;
    ``ivfpq`` stores ``pq_m`` codes per vector (default ``dim / 8`` sub-quantisers of 8 bits,
    fewer bits when there are under ``256 * 39`` vectors to train them on).

    Returns:
        ``(index, info)`` with ``info`` = ``{'kind', 'nlist', 'nprobe', 'pq_m', 'seconds'}``.

    Raises:
        ValueError: unknown kind, or ``pq_m`` that does not divide ``dim``.
    """
    import faiss  # lazy: xlt --help imports this module (through xlt.jobs); faiss takes ~0.4 s

    base = _check_vectors(base, "base")
    m, dim = base.shape
    kind = resolve_index_kind(kind, m, approx_above)
    t0 = time.perf_counter()
    info: dict[str, Any] = {"kind": kind, "n_base": m}
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = nlist or default_nlist(m)
        spec = f"IVF{nlist},Flat"
        if kind == "ivfpq":
            pq_m = pq_m or max(1, dim // 8)
            if dim % pq_m:
                raise ValueError(f"pq_m={pq_m} must divide the vector dim {dim}")
            # 8-bit codes need 256 * 39 training points; fewer points get fewer bits
            nbits = int(max(1, min(8, math.floor(math.log2(max(2, m // 39))))))
            spec = f"IVF{nlist},PQ{pq_m}x{nbits}"
            info.update(pq_m=pq_m, pq_nbits=nbits)
        index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        n_train = min(m, 256 * nlist)
        sample = np.sort(rng.choice(m, size=n_train, replace=False))
        index.train(_as_f32(base[sample]))
        index.nprobe = min(nprobe, nlist)
        info.update(nlist=nlist, nprobe=index.nprobe, n_train=n_train)
    for s in range(0, m, chunk_size):
        index.add(_as_f32(base[s:s + chunk_size]))
    info["seconds"] = round(time.perf_counter() - t0, 3)
    return index, info


def knn_search(queries: np.ndarray, base: np.ndarray, k: int, *, index: str = "auto",
               approx_above: int = DEFAULT_APPROX_ABOVE, nprobe: int = 16, nlist: int | None = None,
               pq_m: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE, progress: bool = False,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The ``k`` nearest rows of ``base`` ``(m, dim)`` for every row of ``queries`` ``(n, dim)``.

    Both sides must hold unit vectors (cosine = inner product). Cosines of the returned
    neighbours are recomputed exactly in float32 from the vectors, also for approximate indexes.
    ``k`` is capped at ``m``.

    Returns:
        ``(sims, ids, info)``: ``sims`` ``(n, k)`` float32 cosines in descending order, ``ids``
        ``(n, k)`` int64 row numbers of ``base`` (never -1: a query an approximate index could
        not fill is searched exactly), and the index info of :func:`build_index` plus ``search_seconds``.

    Raises:
        ValueError: bad shapes, different dims, ``k < 1``.
    """
    queries, base = _check_vectors(queries, "queries"), _check_vectors(base, "base")
    if queries.shape[1] != base.shape[1]:
        raise ValueError(f"queries and base must have the same dim, got {queries.shape[1]} and {base.shape[1]}")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = min(int(k), base.shape[0])
    idx, info = build_index(base, index, approx_above=approx_above, nlist=nlist, nprobe=nprobe, pq_m=pq_m,
                            chunk_size=chunk_size, seed=seed)
    n = queries.shape[0]
    sims = np.empty((n, k), dtype=np.float32)
    ids = np.empty((n, k), dtype=np.int64)
    t0 = time.perf_counter()
    n_refilled = 0
    for s in tqdm(range(0, n, chunk_size), desc="k-NN search", disable=not progress, leave=False):
        q = _as_f32(queries[s:s + chunk_size])
        dist, found = idx.search(q, k)
        if info["kind"] != "flat":
            bad = np.flatnonzero((found < 0).any(axis=1))
            if bad.size:  # an approximate index's probed lists held fewer than k vectors
                n_refilled += bad.size
                found[bad] = _exact_topk(q[bad], base, k)
            # exact cosines of the proposed candidates, re-sorted
            cand = np.einsum("nd,nkd->nk", q, _as_f32(base[found.ravel()]).reshape(len(q), k, -1))
            order = np.argsort(-cand, axis=1, kind="stable")
            found = np.take_along_axis(found, order, axis=1)
            cand = np.take_along_axis(cand, order, axis=1)
        else:
            cand = dist
        sims[s:s + len(q)], ids[s:s + len(q)] = cand, found
    info["search_seconds"] = round(time.perf_counter() - t0, 3)
    info["n_exact_fallback"] = n_refilled
    return sims, ids, info


def _exact_topk(q: np.ndarray, base: np.ndarray, k: int, block: int = 65_536) -> np.ndarray:
    """Exact top-``k`` row ids of ``base`` for each row of ``q``, scanning ``base`` blockwise."""
    best_s = np.full((len(q), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), k), dtype=np.int64)
    for s in range(0, base.shape[0], block):
        b = _as_f32(base[s:s + block])
        sc = np.concatenate([best_s, q @ b.T], axis=1)
        ix = np.concatenate([best_i, np.broadcast_to(np.arange(s, s + len(b)), (len(q), len(b)))], axis=1)
        top = np.argsort(-sc, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(sc, top, axis=1), np.take_along_axis(ix, top, axis=1)
    return best_i


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


def score_candidates(x: np.ndarray, y: np.ndarray, *, k: int = 4, margin: str = "ratio",
                     index: str = "auto", approx_above: int = DEFAULT_APPROX_ABOVE, nprobe: int = 16,
                     nlist: int | None = None, pq_m: int | None = None,
                     chunk_size: int = DEFAULT_CHUNK_SIZE, progress: bool = False, seed: int = 0) -> Candidates:
    """k-NN in both directions and the margin score of every candidate pair.

    Args:
        x: ``(n, dim)`` unit source vectors. y: ``(m, dim)`` unit target vectors (arrays or memmaps).
        k: neighbourhood size, both for the candidates and for the margin's mean (default 4).
        margin: see :func:`margin_score`. Other arguments: see :func:`knn_search`.

    Raises:
        ValueError: bad shapes or settings.
    """
    if margin not in MARGINS:
        raise ValueError(f"margin must be one of {', '.join(MARGINS)}, got {margin!r}")
    opts = dict(index=index, approx_above=approx_above, nprobe=nprobe, nlist=nlist, pq_m=pq_m,
                chunk_size=chunk_size, progress=progress, seed=seed)
    sxy, ixy, info_f = knn_search(x, y, k, **opts)
    syx, iyx, info_b = knn_search(y, x, k, **opts)
    knn_x = sxy.mean(axis=1, dtype=np.float64)
    knn_y = syx.mean(axis=1, dtype=np.float64)
    fwd = margin_score(sxy, knn_x[:, None], knn_y[ixy], margin)
    bwd = margin_score(syx, knn_y[:, None], knn_x[iyx], margin)
    return Candidates(ixy, fwd, iyx, bwd, info={"forward_index": info_f, "backward_index": info_b})


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
    :func:`knn_search` (``index``, ``approx_above``, ``nprobe``, ``nlist``, ``pq_m``,
    ``chunk_size``, ``progress``, ``seed``).

    Raises:
        ValueError: bad shapes or settings.
    """
    t0 = time.perf_counter()
    cands = score_candidates(x, y, k=k, margin=margin, **knn_options)
    pairs = select_pairs(cands, strategy, threshold)
    pairs.info.update(k=min(k, len(x), len(y)), margin=margin, seconds=round(time.perf_counter() - t0, 3))
    return pairs
