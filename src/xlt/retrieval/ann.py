"""Approximate nearest neighbours that keep their accuracy: FAISS indexes filled block by block,
exact re-ranking, recall measured against exact search.

FAISS (Johnson et al. 2019, "Billion-scale similarity search with GPUs") index kinds, all on inner
products of unit vectors (cosine), built with ``faiss.index_factory``:

* ``flat``: ``Flat``, exact brute force (``IndexFlatIP``);
* ``ivf``: ``IVF{nlist},Flat``, an inverted file of ``nlist`` k-means lists, ``nprobe`` of them
  scanned per query (exact distances inside the scanned lists);
* ``ivfpq``: ``OPQ{m},IVF{nlist},PQ{m}``, the same with vectors stored as ``m`` bytes of product
  quantisation codes (Jégou et al. 2011) after an OPQ rotation (Ge et al. 2013), NLLB/stopes'
  mining layout; its distances are approximate, so candidates are always re-ranked exactly;
* ``hnsw``: ``HNSW32``, a hierarchical navigable small-world graph (Malkov & Yashunin 2018),
  ``efSearch`` candidates explored per query; no training.

A base side is a :class:`Vectors`: an in-memory array or memmap (:class:`ArrayVectors`) or the
shards of ``xlt embed`` (:class:`ShardVectors` over :class:`xlt.models.shards.ShardedEmbeddings`).
Indexes are trained on a seeded sample of rows and filled block by block from
``Vectors.blocks()``, so the process holds the index plus one block. A search asks the index for
``k'`` (``rerank``) candidates, recomputes their inner products exactly from the float vectors
(:meth:`Vectors.take`) and keeps the best ``k``: the similarities that margin scoring uses never
carry quantisation error. :func:`tune_search` raises ``nprobe``/``efSearch`` by doubling (then bisecting) until a
target recall is met on a held-out sample of queries, and :func:`measure_recall` measures recall@k
against exact brute force on a seeded sample (``xlt mine --check-recall``).
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ANN_KINDS", "AnnIndex", "ArrayVectors", "ShardVectors", "Vectors", "as_vectors", "build_ann_index",
           "default_ef_search", "default_nlist", "default_nprobe", "default_rerank", "exact_knn", "index_spec",
           "measure_recall", "peak_rss_mib", "recall_at_k", "sample_rows", "tune_search"]

ANN_KINDS = ("flat", "ivf", "ivfpq", "hnsw")
"""Index kinds :func:`build_ann_index` builds."""

HNSW_M = 32
"""Graph neighbours per node of the ``hnsw`` index (``HNSW32``)."""

DEFAULT_BLOCK = 20_000
"""Rows per block for arrays (shards come in their own blocks)."""


# --------------------------------------------------------------------------- vector sources


class Vectors:
    """A read-only ``(n_rows, dim)`` float32 matrix read block by block.

    Subclasses give :attr:`n_rows`, :attr:`dim`, :meth:`blocks` and :meth:`take`.
    """

    n_rows: int
    dim: int

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first_row, block)`` pairs covering every row in order; ``block`` ``(rows, dim)`` float32."""
        raise NotImplementedError

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (any order, repeats allowed) as a ``(len(rows), dim)`` float32 array."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short name for messages and reports."""
        return f"{self.n_rows} x {self.dim} vectors"


class ArrayVectors(Vectors):
    """An array or ``np.memmap`` ``(n_rows, dim)`` as :class:`Vectors`, in blocks of ``block_size`` rows.

    Raises:
        ValueError: not a non-empty 2-d array.
    """

    def __init__(self, array: Any, block_size: int = DEFAULT_BLOCK, name: str | None = None) -> None:
        if not isinstance(array, np.ndarray):
            array = np.asarray(array, dtype=np.float32)
        if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
            raise ValueError(f"vectors must be a non-empty (rows, dim) array, got shape {array.shape}")
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.array, self.block_size, self.name = array, int(block_size), name
        self.n_rows, self.dim = int(array.shape[0]), int(array.shape[1])

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        for s in range(0, self.n_rows, self.block_size):
            yield s, np.ascontiguousarray(self.array[s:s + self.block_size], dtype=np.float32)

    def take(self, rows: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self.array[np.asarray(rows, dtype=np.int64)], dtype=np.float32)

    def describe(self) -> str:
        return self.name or super().describe()


class ShardVectors(Vectors):
    """The shards of an ``xlt embed`` folder (:class:`xlt.models.shards.ShardedEmbeddings`) as
    :class:`Vectors`: one block per shard; :meth:`take` opens the memory-mapped shards that hold
    the rows asked for and lets them go again, so at most one shard's pages stay mapped."""

    def __init__(self, sharded: Any) -> None:
        self.sharded = sharded
        self.n_rows, self.dim = int(sharded.n_rows), int(sharded.dim)
        rows = [int(s.rows) for s in sharded.shard_infos]
        self.starts = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        for first, block in self.sharded.blocks():
            yield first, block

    def take(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        which = np.searchsorted(self.starts, rows, side="right") - 1
        for i in np.unique(which):
            sel = np.flatnonzero(which == i)
            shard = self.sharded.shard(int(i))
            out[sel] = shard[rows[sel] - self.starts[i]]
            del shard
        return out

    def describe(self) -> str:
        return str(self.sharded.folder)


def as_vectors(x: Any, block_size: int = DEFAULT_BLOCK) -> Vectors:
    """``x`` as :class:`Vectors`: itself, shards (:class:`ShardVectors`, anything with ``shard_infos``
    and ``blocks``), or an array (:class:`ArrayVectors`).

    Raises:
        ValueError: an array that is not non-empty and 2-d.
    """
    if isinstance(x, Vectors):
        return x
    if hasattr(x, "shard_infos") and hasattr(x, "blocks"):
        return ShardVectors(x)
    return ArrayVectors(x, block_size)


# --------------------------------------------------------------------------- defaults


def default_nlist(n_base: int) -> int:
    """IVF lists for ``n_base`` vectors: about ``4 * sqrt(n)`` (FAISS guidelines), at least 1,
    and at most ``n_base / 39`` so that every centroid has its 39 training points."""
    return max(1, min(int(4 * math.sqrt(n_base)), n_base // 39))


def default_nprobe(nlist: int) -> int:
    """Lists scanned per query: ``nlist / 32`` (at least 16, at most ``nlist``).

    On 10^6 x 384 vectors with IVF4096, 16-neighbour sets reached recall 0.96 only at
    ``nprobe >= 64`` and 0.99 at 128 (issue 30's measurement); ``nlist / 32`` = 128 there."""
    return max(1, min(nlist, max(16, math.ceil(nlist / 32))))


def default_ef_search(k: int) -> int:
    """HNSW candidates explored per query: ``max(128, 2 * k)``."""
    return max(128, 2 * k)


def default_rerank(kind: str, k: int) -> int:
    """Approximate candidates re-ranked exactly per query: ``4 * k`` for ``ivfpq`` (whose distances
    are quantised, so the true top ``k`` can rank below ``k`` among its candidates), ``k`` for the
    others (their distances are exact inner products, so more candidates cannot change the top ``k``)."""
    return 4 * k if kind == "ivfpq" else k


def index_spec(kind: str, n_base: int, dim: int, *, nlist: int | None = None,
               pq_m: int | None = None) -> tuple[str, dict[str, Any]]:
    """The ``faiss.index_factory`` string of an index kind and its parameters.

    ``ivfpq``: ``OPQ{m},IVF{nlist},PQ{m}`` with ``m = pq_m`` (default ``dim / 8``, i.e. ``m`` bytes
    per vector) and 8-bit codes; with under ``39 * 256`` vectors to train the codebooks on, fewer
    bits and no OPQ rotation (``IVF{nlist},PQ{m}x{bits}``).

    Returns:
        ``(spec, params)`` with ``params`` = ``{"nlist", "pq_m", "pq_nbits", "hnsw_m"}`` as they apply.

    Raises:
        ValueError: unknown kind, or ``pq_m`` that does not divide ``dim``.
    """
    if kind not in ANN_KINDS:
        raise ValueError(f"index must be one of {', '.join(ANN_KINDS)}, got {kind!r}")
    if kind == "flat":
        return "Flat", {}
    if kind == "hnsw":
        return f"HNSW{HNSW_M}", {"hnsw_m": HNSW_M}
    nlist = int(nlist or default_nlist(n_base))
    if kind == "ivf":
        return f"IVF{nlist},Flat", {"nlist": nlist}
    pq_m = int(pq_m or max(1, dim // 8))
    if dim % pq_m:
        raise ValueError(f"pq_m={pq_m} must divide the vector dim {dim}")
    nbits = int(max(1, min(8, math.floor(math.log2(max(2, n_base // 39))))))
    if nbits < 8:  # OPQ trains its own 8-bit codebooks, which need the 256 * 39 points too
        return f"IVF{nlist},PQ{pq_m}x{nbits}", {"nlist": nlist, "pq_m": pq_m, "pq_nbits": nbits, "opq": False}
    return f"OPQ{pq_m},IVF{nlist},PQ{pq_m}", {"nlist": nlist, "pq_m": pq_m, "pq_nbits": 8, "opq": True}


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (``getrusage``; Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """``min(size, n)`` distinct row numbers of ``range(n)``, seeded, sorted."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(size, n), replace=False))


# --------------------------------------------------------------------------- exact search and recall


def exact_knn(queries: np.ndarray, base: Vectors, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products of ``queries`` ``(q, dim)`` over every row of ``base``,
    scanning ``base`` block by block (brute force, numpy).

    Returns:
        ``(sims, ids)``, both ``(q, min(k, n_rows))``: float32 inner products, descending; int64 rows
        (equal scores: lower row first).
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    k = min(int(k), base.n_rows)
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    sub = max(1, (1 << 24) // max(1, len(queries)))  # at most 16M scores (64 MiB) at a time
    for first, block in base.blocks():
        for s in range(0, len(block), sub):
            part = np.asarray(block[s:s + sub], dtype=np.float32)
            sc = np.concatenate([best_s, queries @ part.T], axis=1)
            ix = np.concatenate([best_i, np.broadcast_to(np.arange(first + s, first + s + len(part)),
                                                         (len(queries), len(part)))], axis=1)
            if sc.shape[1] > k:
                top = np.argpartition(-sc, k - 1, axis=1)[:, :k]
                sc, ix = np.take_along_axis(sc, top, axis=1), np.take_along_axis(ix, top, axis=1)
            best_s, best_i = sc, ix
    return _sort_rows(best_s, best_i)


def _sort_rows(sims: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row sorted by descending score, ties by ascending id."""
    order = np.lexsort((ids, -sims), axis=1) if sims.size else np.zeros(sims.shape, dtype=np.int64)
    return np.take_along_axis(sims, order, axis=1), np.take_along_axis(ids, order, axis=1)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Recall@k: the share of the exact ``k`` nearest neighbours (``truth`` ``(q, k)``) that are among
    the ``found`` ``(q, k)`` ones, averaged over the queries (rows are sets; order ignored)."""
    if truth.size == 0:
        return 1.0
    hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth))
    return hits / truth.size


# --------------------------------------------------------------------------- the index


@dataclass
class AnnIndex:
    """A FAISS index over a base side, with exact re-ranking.

    Attributes:
        index: the FAISS index. base: the base :class:`Vectors` (kept for re-ranking and exact fallback).
        kind, spec: :data:`ANN_KINDS` entry and ``index_factory`` string.
        rerank: ``k'`` candidates asked of the index per query (at least ``k``; :func:`default_rerank`).
        info: ``{"kind", "spec", "n_base", "dim", "nlist", "nprobe", "ef_search", "pq_m", "n_train",
            "build_seconds", ...}`` as they apply; searches add ``search_seconds``.
    """

    index: Any
    base: Vectors
    kind: str
    spec: str
    rerank: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def search_param(self) -> tuple[str, int] | None:
        """``("nprobe", value)`` for IVF kinds, ``("ef_search", value)`` for HNSW, None for flat."""
        if self.kind in ("ivf", "ivfpq"):
            return "nprobe", self.info["nprobe"]
        if self.kind == "hnsw":
            return "ef_search", self.info["ef_search"]
        return None

    def set_search_param(self, value: int) -> None:
        """Set ``nprobe`` (IVF kinds, capped at ``nlist``) or ``efSearch`` (HNSW)."""
        import faiss  # lazy: heavy import

        if self.kind in ("ivf", "ivfpq"):
            value = min(int(value), self.info["nlist"])
            faiss.extract_index_ivf(self.index).nprobe = value
            self.info["nprobe"] = value
        elif self.kind == "hnsw":
            self.index.hnsw.efSearch = int(value)
            self.info["ef_search"] = int(value)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest base rows of each query ``(q, dim)``, re-ranked exactly.

        The index proposes ``max(k, rerank)`` candidates; their inner products are recomputed
        from the base vectors in float32 and the best ``k`` kept (descending; ties by lower row).
        A query whose candidates the index could not fill (-1: the probed lists held too few
        vectors) is searched exactly.

        Returns:
            ``(sims, ids)``: ``(q, min(k, n_base))`` float32 and int64.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(int(k), self.base.n_rows)
        if self.kind == "flat":
            sims, ids = self.index.search(q, k)
            return _sort_rows(sims, ids.astype(np.int64))
        kp = min(max(k, self.rerank or k), self.base.n_rows)
        _, found = self.index.search(q, kp)
        found = found.astype(np.int64)
        bad = np.flatnonzero((found < 0).any(axis=1))
        ok = np.setdiff1d(np.arange(len(q)), bad)
        sims = np.empty((len(q), k), dtype=np.float32)
        ids = np.empty((len(q), k), dtype=np.int64)
        step = max(1, (1 << 24) // (kp * self.base.dim))  # at most 16M gathered floats (64 MiB) at a time
        for j in range(0, ok.size, step):
            rows = ok[j:j + step]
            cand = found[rows]
            vec = self.base.take(cand.ravel()).reshape(len(rows), kp, -1)
            exact = np.einsum("nd,nkd->nk", q[rows], vec)
            s, i = _sort_rows(exact, cand)
            sims[rows], ids[rows] = s[:, :k], i[:, :k]
        if bad.size:
            sims[bad], ids[bad] = exact_knn(q[bad], self.base, k)
        self.info["n_exact_fallback"] = self.info.get("n_exact_fallback", 0) + int(bad.size)
        return sims, ids


def build_ann_index(base: Any, kind: str = "flat", *, nlist: int | None = None, nprobe: int | None = None,
                    ef_search: int | None = None, pq_m: int | None = None, k: int = 4, rerank: int | None = None,
                    train_size: int | None = None, metric: str | None = None, seed: int = 0,
                    ef_construction: int | None = None, progress: bool = False) -> AnnIndex:
    """Build a FAISS inner-product index over ``base`` (:class:`Vectors`, array or shards), filled block by block.

    Args:
        base: ``(n_base, dim)`` unit vectors (see :func:`as_vectors`).
        kind: ``flat``, ``ivf``, ``ivfpq`` or ``hnsw`` (:func:`index_spec`).
        nlist: IVF lists (default :func:`default_nlist`). nprobe: lists scanned (default
            :func:`default_nprobe`). ef_search: HNSW search breadth (default :func:`default_ef_search`).
        pq_m: ``ivfpq`` bytes per vector (default ``dim / 8``).
        k: the neighbourhood size the searches will ask for (for the defaults of ``rerank``/``ef_search``).
        rerank: candidates re-ranked exactly per query (default :func:`default_rerank`).
        train_size: rows in the seeded training sample of ``ivf``/``ivfpq`` (default ``40 * nlist``,
            just above the 39 points per centroid FAISS asks for, and at least 10,000 for ``ivfpq``'s
            OPQ/PQ codebooks; at most ``n_base``).
        metric: the index's own distance, ``"ip"`` (inner product, default) or ``"l2"``. For unit
            vectors ``|q - x|^2 = 2 - 2 q.x``, so both rank the base alike; they differ in which IVF
            lists are probed (on 2 x 10^5 layer-0 e5-small vectors, IVF1788 at nprobe 128 found
            0.985 of the 16 nearest by inner product and 0.984 by L2). Results are re-ranked by
            exact inner products either way.
        seed: seed of the training sample (and of FAISS's k-means).
        ef_construction: ``hnsw``: candidates explored per insertion while the graph is built
            (default: FAISS's 40). A larger value builds a better graph, more slowly, so that a
            smaller efSearch reaches a given recall (Malkov & Yashunin 2018).

    Returns:
        an :class:`AnnIndex`; ``info`` has ``kind``, ``spec``, ``n_base``, ``dim``, ``n_train``,
        ``build_seconds`` (training and adding), ``train_seconds`` and the search parameters.

    Raises:
        ValueError: unknown kind, ``pq_m`` that does not divide the dim, bad sizes.
    """
    import faiss  # lazy: heavy import
    from tqdm.auto import tqdm

    base = as_vectors(base)
    n, dim = base.n_rows, base.dim
    spec, params = index_spec(kind, n, dim, nlist=nlist, pq_m=pq_m)
    t0 = time.perf_counter()
    metric = metric or "ip"
    if metric not in ("ip", "l2"):
        raise ValueError(f"metric must be 'ip' or 'l2', got {metric!r}")
    index = faiss.index_factory(dim, spec, faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT)
    info: dict[str, Any] = {"kind": kind, "spec": spec, "metric": metric, "n_base": n, "dim": dim, **params}
    if kind in ("ivf", "ivfpq"):
        nl = params["nlist"]
        size = train_size or max(40 * nl, 10_000 if kind == "ivfpq" else 0)
        rows = sample_rows(n, size, seed)
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.seed = seed
        index.train(base.take(rows))
        info.update(n_train=len(rows), train_seconds=round(time.perf_counter() - t0, 3))
    else:
        info.update(n_train=0, train_seconds=0.0)
    if kind == "hnsw":
        if ef_construction is not None:
            if ef_construction < 1:
                raise ValueError(f"ef_construction must be at least 1, got {ef_construction}")
            index.hnsw.efConstruction = int(ef_construction)
        info["ef_construction"] = int(index.hnsw.efConstruction)
    with tqdm(total=n, desc=f"indexing ({spec})", unit="vec", disable=not progress, leave=False) as bar:
        for _, block in base.blocks():
            index.add(np.ascontiguousarray(block, dtype=np.float32))
            bar.update(len(block))
    info["build_seconds"] = round(time.perf_counter() - t0, 3)
    ann = AnnIndex(index=index, base=base, kind=kind, spec=spec,
                   rerank=None if kind == "flat" else max(k, rerank or default_rerank(kind, k)), info=info)
    if kind != "flat":
        info["rerank"] = ann.rerank
    if kind in ("ivf", "ivfpq"):
        ann.set_search_param(nprobe or default_nprobe(params["nlist"]))
    elif kind == "hnsw":
        ann.set_search_param(ef_search or default_ef_search(ann.rerank or k))
    return ann


# --------------------------------------------------------------------------- recall on a sample


def measure_recall(ann: AnnIndex, queries: Any, k: int, n_sample: int, seed: int = 0,
                   truth: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """Recall@k of ``ann``'s (re-ranked) search against exact brute force on a seeded sample of queries.

    Args:
        ann: the index. queries: ``(n_queries, dim)`` query vectors (array or shards).
        k: neighbours per query (capped at the base size). n_sample: queries in the sample (capped
            at ``n_queries``). seed: sample seed.
        truth: the exact ``(sims, ids)`` of the sample when already known.

    Returns:
        ``{"recall", "k", "n_sample", "seed", "seconds"}``; ``recall`` is :func:`recall_at_k`.
    """
    t0 = time.perf_counter()
    queries = as_vectors(queries)
    rows = sample_rows(queries.n_rows, n_sample, seed)
    q = queries.take(rows)
    k = min(int(k), ann.base.n_rows)
    if truth is None:
        truth = exact_knn(q, ann.base, k)
    _, found = ann.search(q, k)
    return {"recall": round(recall_at_k(found, truth[1]), 5), "k": k, "n_sample": len(rows), "seed": seed,
            "seconds": round(time.perf_counter() - t0, 3)}


def tune_search(ann: AnnIndex, queries: Any, k: int, target: float, *, n_sample: int = 1000, seed: int = 1,
                start: int | None = None, max_value: int | None = None) -> dict[str, Any]:
    """Raise ``nprobe`` (IVF) or ``efSearch`` (HNSW) by doubling until recall@k on a held-out sample
    of queries reaches ``target`` (exact search on the sample as the reference), then bisect between
    the last value short of it and the first reaching it, down to a gap of an eighth of the latter,
    keeping the smallest value that reaches it (search time grows about linearly with the value,
    so an overshoot of up to 2x is up to 2x slower than needed).

    Starts at ``start`` (default 1 for IVF, ``max(k, rerank)`` for HNSW) and stops at the target or
    at the ceiling (``nlist`` for IVF: every list scanned; ``max_value`` or ``max(n_base, 4096)``
    for HNSW). For ``ivfpq`` at ``nprobe = nlist`` the shortfall is quantisation error, so the
    re-ranked candidates ``rerank`` are then doubled (up to ``n_base``, where the search is exact).
    A flat index is exact and is left as it is. The index keeps the values found.

    Returns:
        ``{"target", "reached", "param", "value", "rerank", "recall", "trail": [{param: value,
        "rerank", "recall"}, ...], "n_sample", "seed"}``.

    Raises:
        ValueError: ``target`` outside (0, 1].
    """
    if not 0 < target <= 1:
        raise ValueError(f"target recall must be in (0, 1], got {target}")
    if ann.kind == "flat":
        return {"target": target, "reached": True, "param": None, "value": None, "recall": 1.0, "trail": [],
                "n_sample": 0, "seed": seed}
    queries = as_vectors(queries)
    rows = sample_rows(queries.n_rows, n_sample, seed)
    q = queries.take(rows)
    k = min(int(k), ann.base.n_rows)
    truth = exact_knn(q, ann.base, k)[1]
    name = ann.search_param[0]
    if ann.kind == "hnsw":
        value = start or max(k, ann.rerank or k)
        ceiling = max_value or max(ann.base.n_rows, 4096)
    else:
        value, ceiling = start or 1, ann.info["nlist"]
    trail = []
    while True:
        ann.set_search_param(min(value, ceiling))
        value = ann.search_param[1]
        recall = recall_at_k(ann.search(q, k)[1], truth)
        trail.append({name: value, "rerank": ann.rerank, "recall": round(recall, 5)})
        if recall >= target:
            break
        if value < ceiling:
            value *= 2
        elif ann.kind == "ivfpq" and ann.rerank < ann.base.n_rows:
            # every list scanned: what is left is the quantisation error, which more candidates repair
            ann.rerank = min(2 * ann.rerank, ann.base.n_rows)
            ann.info["rerank"] = ann.rerank
        else:
            break
    if recall >= target and len(trail) >= 2 and trail[-2]["rerank"] == ann.rerank and trail[-2][name] * 2 == value:
        low, high = value // 2, value  # low fell short of the target, high reaches it
        while high - low > max(1, high // 8):
            mid = (low + high) // 2
            ann.set_search_param(mid)
            r = recall_at_k(ann.search(q, k)[1], truth)
            trail.append({name: mid, "rerank": ann.rerank, "recall": round(r, 5)})
            if r >= target:
                high, recall = mid, r
            else:
                low = mid
        ann.set_search_param(high)
        value = high
    return {"target": target, "reached": recall >= target, "param": name, "value": value, "rerank": ann.rerank,
            "recall": round(recall, 5),
            "trail": trail, "n_sample": len(rows), "seed": seed}
