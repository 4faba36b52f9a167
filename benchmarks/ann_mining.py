"""Approximate vs exact nearest-neighbour search for bitext mining (issue 30, part 2), in one process.

Two parts, both run with ``OMP_NUM_THREADS`` as given (the docs state the thread count used):

``vectors``: real sentence vectors that are cheap to make on a CPU. Every distinct non-empty
line/sentence of the text under the data folder (NTREX, Tatoeba, SIB-200 texts, PAN-X and UD-POS
sentences with their tokens joined by spaces, the dictionary and BLI words), shuffled (seed 0),
embedded with the bundled multilingual-e5-small's *embedding layer* (layer 0 of the encoder: word +
position + token-type embeddings and LayerNorm, with the E5 ``query: `` prefix, 128 tokens at
most), mean-pooled over the tokens and unit-normalised. No transformer layer runs, so 10^6
sentences take minutes instead of the hours the full 12-layer encoder needs on 2 CPU cores.
The rows are written to ``CACHE/vectors.npy`` (float32) and the texts to ``CACHE/texts.txt``.

``search``: the first ``--n-base`` rows are the index side, the next ``--n-queries`` rows
(disjoint) the queries (``--dedup``: of the distinct rows, first occurrences in order). Exact search (FAISS ``IndexFlatIP``) gives the reference neighbours; each
approximate index (``ivf``, ``ivfpq`` = OPQ+IVF+PQ, ``hnsw``) is built with xlt's defaults
(:mod:`xlt.retrieval.ann`), tuned to ``--target-recall`` on a held-out sample of 1,000 other
queries, then timed on the queries (with xlt's exact re-ranking). Reported per index: build
seconds, search seconds and queries/s, speed-up over exact search, recall@k against exact search,
resident memory added while building, the process's peak RSS.

``search --embeddings DIR`` searches the rows of an ``xlt embed`` folder instead (real 12-layer
sentence vectors, e.g. of the same texts: ``xlt embed CACHE/texts.txt --int8 --out DIR``).

``bucc``: NTREX-BUCC mining F1 (``xlt mine --eval ntrex``'s computation,
:func:`xlt.retrieval.bucc.evaluate_language`) with exact and approximate search, the 12-layer
encoder's vectors (last layer, mean pooling) of NTREX and up to ``--distractors`` PAN-X sentences
of at least ``--min-words`` tokens per side and language (``xlt mine --eval ntrex --distractors N
--distractor-min-words M``'s piles), ratio margin, ``max`` strategy. ``--distractor-embeddings DIR``
adds the first ``--n-distractor-rows`` rows of an ``xlt embed`` folder (texts of any NTREX file
left out) to the target pile of the dev task and of the test task alike; ``--int8`` embeds NTREX
and PAN-X with the int8 encoder, as such a folder made with ``--int8``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/ann_mining.py vectors --cache /tmp/ann --n 1100000
    OMP_NUM_THREADS=1 python benchmarks/ann_mining.py search --cache /tmp/ann --n-base 1000000 \\
        --n-queries 2000 --k 16 --kinds flat,ivf,ivfpq --out runs/ann-search.json
    OMP_NUM_THREADS=1 python benchmarks/ann_mining.py search --cache /tmp/ann --n-base 200000 \\
        --n-queries 2000 --k 16 --kinds flat,ivf,hnsw --dedup --out runs/ann-search-dedup.json
    OMP_NUM_THREADS=1 python benchmarks/ann_mining.py bucc --cache /tmp/ann --langs deu --distractors 5000 \\
        --min-words 10 --out runs/ann-bucc.json
    python benchmarks/ann_mining.py search --embeddings DIR --n-base 1000000 --n-queries 2000 --k 16 \\
        --kinds flat,ivf,hnsw --dedup --out runs/ann-search-real.json
    python benchmarks/ann_mining.py bucc --cache /tmp/ann --int8 --langs deu --distractor-embeddings DIR \\
        --kinds flat,ivf --out runs/ann-bucc-1m.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("XLT_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


# --------------------------------------------------------------------------- texts and vectors


def _conll_sentences(path: Path):
    words: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                if words:
                    yield " ".join(words)
                words = []
            else:
                words.append(line.split("\t")[0])
    if words:
        yield " ".join(words)


def collect_texts(data: Path) -> list[str]:
    """Every distinct non-empty line/sentence of the data folder's text, in a fixed file order."""
    seen: dict[str, None] = {}

    def add(t: str) -> None:
        t = t.strip()
        if t:
            seen.setdefault(t, None)

    for p in sorted((data / "ntrex").glob("*.txt")) + sorted((data / "tatoeba").glob("tatoeba.*")):
        for line in open(p, encoding="utf-8", errors="replace"):
            add(line)
    for p in sorted((data / "sib200").glob("*/*.tsv")):
        for i, line in enumerate(open(p, encoding="utf-8", errors="replace")):
            parts = line.rstrip("\n").split("\t")
            if i and len(parts) >= 3:
                add(parts[2])
    for sub in ("panx", "udpos"):
        for p in sorted((data / sub).glob("*.tsv")):
            for s in _conll_sentences(p):
                add(s)
    for p in sorted((data / "dict").glob("*.txt")) + sorted((data / "bli").glob("*.tsv")):
        for line in open(p, encoding="utf-8", errors="replace"):
            for w in line.rstrip("\n").split("\t"):
                add(w)
    return list(seen)


def layer0_vectors(texts: list[str], out: Path, batch: int = 4000) -> None:
    """Mean-pooled, unit-normalised layer-0 (embedding layer) vectors of the bundled e5-small,
    written to ``out`` (``.npy``, float32), computed with numpy from the model's embedding tables:
    ``LayerNorm(word[id] + position[pos] + token_type[0])`` averaged over each text's tokens
    (``query: `` prefix and the special tokens included, as xlt's mean pooling does)."""
    from tqdm.auto import tqdm

    from xlt.models.loading import load_encoder

    enc = load_encoder()
    emb = enc.model.embeddings
    word = emb.word_embeddings.weight.detach().numpy()
    pos = emb.position_embeddings.weight.detach().numpy()
    typ = emb.token_type_embeddings.weight.detach().numpy()[0]
    ln_w, ln_b, eps = emb.LayerNorm.weight.detach().numpy(), emb.LayerNorm.bias.detach().numpy(), emb.LayerNorm.eps
    arr = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(len(texts), word.shape[1]))
    for s in tqdm(range(0, len(texts), batch), desc="layer-0 vectors"):
        ids = enc.tokenizer([enc.text_prefix + t for t in texts[s:s + batch]], truncation=True, max_length=128,
                            padding=False)["input_ids"]
        lens = np.array([len(x) for x in ids])
        flat = np.concatenate([np.asarray(x, dtype=np.int64) for x in ids])
        positions = np.concatenate([np.arange(n) for n in lens])
        h = word[flat] + pos[positions] + typ
        h -= h.mean(axis=1, keepdims=True)
        h /= np.sqrt((h * h).mean(axis=1, keepdims=True) + eps)
        h = h * ln_w + ln_b
        v = np.add.reduceat(h, np.concatenate([[0], np.cumsum(lens)[:-1]]), axis=0) / lens[:, None]
        arr[s:s + len(ids)] = v / np.linalg.norm(v, axis=1, keepdims=True)
    arr.flush()


def cmd_vectors(a) -> None:
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    texts = collect_texts(Path(a.data))
    n_distinct = len(texts)
    order = np.random.default_rng(0).permutation(len(texts))[: a.n]
    texts = [texts[i] for i in order]
    (cache / "texts.txt").write_text("".join(t.replace("\n", " ") + "\n" for t in texts), encoding="utf-8")
    t1 = time.perf_counter()
    layer0_vectors(texts, cache / "vectors.npy")
    info = {"distinct_texts": n_distinct, "rows": len(texts), "collect_seconds": round(t1 - t0, 1),
            "embed_seconds": round(time.perf_counter() - t1, 1), "threads": os.environ.get("OMP_NUM_THREADS")}
    (cache / "vectors.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info))


# --------------------------------------------------------------------------- search


def rss_mib() -> float:
    """Current resident set size (MiB) from /proc/self/statm."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _vectors(a) -> np.ndarray:
    """The rows to search: an ``xlt embed`` folder's shards (``--embeddings``) or the layer-0 cache."""
    if a.embeddings:
        from xlt.models.shards import ShardedEmbeddings

        return ShardedEmbeddings.open(a.embeddings).to_array()
    return np.load(Path(a.cache) / "vectors.npy", mmap_mode="r")


def cmd_search(a) -> None:
    import faiss

    from xlt.retrieval.ann import ArrayVectors, build_ann_index, peak_rss_mib, recall_at_k, tune_search

    vec = _vectors(a)
    if vec.shape[0] < a.n_base + a.n_queries + 1000:
        sys.exit(f"need {a.n_base + a.n_queries + 1000} rows, the vectors have {vec.shape[0]}")
    rss0 = rss_mib()
    if a.dedup:  # identical vectors make the k nearest arbitrary among the copies (and hurt HNSW)
        head = np.array(vec[: int(1.2 * (a.n_base + a.n_queries + 1000))])
        _, first = np.unique(head, axis=0, return_index=True)
        vec = head[np.sort(first)]
    base = np.ascontiguousarray(vec[: a.n_base])
    queries = np.ascontiguousarray(vec[a.n_base: a.n_base + a.n_queries])
    held_out = np.ascontiguousarray(vec[a.n_base + a.n_queries: a.n_base + a.n_queries + 1000])
    bv = ArrayVectors(base)
    res: dict = {"n_base": a.n_base, "n_queries": a.n_queries, "k": a.k, "dim": int(base.shape[1]),
                 "threads": faiss.omp_get_max_threads(), "target_recall": a.target_recall,
                 "base_mib": round(base.nbytes / 2**20, 1), "rss_after_loading_mib": round(rss_mib() - rss0, 1),
                 "runs": {}}
    truth = None
    for kind in a.kinds.split(","):
        r0 = rss_mib()
        name, kind, metric = kind, kind.split("-")[0], (kind.split("-") + [None])[1]  # ivf-ip: inner-product IVF
        ann = build_ann_index(bv, kind, k=a.k, seed=0, nlist=a.nlist, train_size=a.train_size, metric=metric,
                              ef_construction=a.ef_construction, progress=True)
        run = {"spec": ann.spec, "metric": ann.info["metric"], "build_seconds": ann.info["build_seconds"],
               "ef_construction": ann.info.get("ef_construction"),
               "train_seconds": ann.info.get("train_seconds"), "n_train": ann.info.get("n_train"),
               "index_rss_mib": round(rss_mib() - r0, 1)}
        if kind != "flat" and a.target_recall:
            t = time.perf_counter()
            both = np.concatenate([held_out, held_out])[:1000]
            run["tuning"] = tune_search(ann, ArrayVectors(both), a.k, a.target_recall, n_sample=1000, seed=1)
            run["tuning_seconds"] = round(time.perf_counter() - t, 1)
        if ann.search_param:
            run[ann.search_param[0]] = ann.search_param[1]
        if kind != "flat":
            run["rerank"] = ann.rerank
        t = time.perf_counter()
        sims, ids = ann.search(queries, a.k)
        run["search_seconds"] = round(time.perf_counter() - t, 2)
        run["queries_per_second"] = round(a.n_queries / run["search_seconds"], 1)
        if kind == "flat":
            truth = ids
        if truth is not None:
            run["recall_at_k"] = round(recall_at_k(ids, truth), 4)
            run["speedup_vs_flat"] = round(res["runs"]["flat"]["search_seconds"] / run["search_seconds"], 2) \
                if "flat" in res["runs"] else 1.0
        run["peak_rss_mib"] = peak_rss_mib()
        res["runs"][name] = run
        print(name, json.dumps(run), flush=True)
        del ann
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))


# --------------------------------------------------------------------------- BUCC F1


def _target_pile(a, res: dict, source_texts: set[str]) -> np.ndarray:
    """Rows of an ``xlt embed`` folder as further target-side distractors (``--distractor-embeddings``),
    without any text of the data folder's NTREX files (in any language: NTREX is multi-parallel, so
    another language's translation of a gold sentence would be a second right answer) and without
    copies of the source pile's own distractor sentences (``source_texts``)."""
    from xlt.models.shards import ShardedEmbeddings

    emb = ShardedEmbeddings.open(a.distractor_embeddings)
    made_int8 = bool(emb.manifest.get("settings", {}).get("int8", False))
    if made_int8 != a.int8:
        sys.exit(f"{a.distractor_embeddings} was embedded with int8={made_int8}: give --int8 the same way")
    ntrex = set()
    for p in sorted((Path(a.data) / "ntrex").glob("*.txt")):
        ntrex.update(t.strip() for t in p.read_text(encoding="utf-8").splitlines())
    texts = emb.texts()
    source_texts = {t.strip() for t in source_texts}
    ntrex_row = np.array([t.strip() in ntrex for t in texts])
    source_row = np.array([t.strip() in source_texts for t in texts])
    rows = np.flatnonzero(~ntrex_row & ~source_row)[: a.n_distractor_rows]
    res["distractor_pile"] = {"folder": str(a.distractor_embeddings), "rows": int(len(rows)),
                              "ntrex_rows_dropped": int(ntrex_row[: rows[-1] + 1].sum()),
                              "source_copies_dropped": int(source_row[: rows[-1] + 1].sum())}
    print("target pile", res["distractor_pile"], flush=True)
    return np.ascontiguousarray(emb.to_array()[rows], dtype=np.float32)


def cmd_bucc(a) -> None:
    from xlt.data.parallel import NTREX_SOURCE, read_multiparallel, select_ntrex
    from xlt.jobs.mine import panx_distractors
    from xlt.models.loading import load_encoder
    from xlt.retrieval.ann import peak_rss_mib
    from xlt.retrieval.bucc import evaluate_language
    from xlt.retrieval.mining import embed_to_array

    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    enc = load_encoder(int8=a.int8)
    tag = "-int8" if a.int8 else ""
    files = select_ntrex(",".join(a.langs.split(",")), None)
    corpus = read_multiparallel(files)

    def embedded(name: str, texts: list[str]) -> np.ndarray:
        p = cache / f"bucc-{name}-{len(texts)}{tag}.npy"
        if not p.exists():
            np.save(p, embed_to_array(enc, texts, batch_size=64, progress=True))
        return np.load(p)

    res: dict = {"langs": a.langs, "distractors": a.distractors, "k": a.k, "int8": a.int8, "runs": {}}
    x_all = embedded("eng", corpus.texts[NTREX_SOURCE])
    xt, _ = panx_distractors("en", a.distractors, a.min_words, None, 0)
    x_extra = embedded("panx-en", xt)
    pile = _target_pile(a, res, set(xt)) if a.distractor_embeddings else None
    for lang in [l for l in files if l != NTREX_SOURCE]:
        y_all = embedded(lang, corpus.texts[lang])
        yt, _ = panx_distractors(lang, a.distractors, a.min_words, None, 0)
        y_extra = embedded(f"panx-{lang}", yt)
        if pile is not None:  # the same large pile in the dev and in the test task (each takes one half)
            half = np.concatenate([y_extra[: len(y_extra) // 2], pile])
            y_extra = np.concatenate([half, np.concatenate([y_extra[len(y_extra) // 2:], pile])])
            del half
        for kind in a.kinds.split(","):
            t = time.perf_counter()
            opts = {"check_recall": 1000, "approx_above": 0}
            if kind != "flat" and a.target_recall:
                opts["target_recall"] = a.target_recall
            r = evaluate_language(x_all, y_all, corpus.texts[NTREX_SOURCE], corpus.texts[lang], margins=["ratio"],
                                  strategies=["max"], k=a.k, index=kind, x_extra=x_extra, y_extra=y_extra,
                                  knn_options=opts)
            m = r["methods"]["ratio/max"]
            idx = r["index"]["test"]
            res["runs"][f"{lang}/{kind}"] = {
                "f1": round(m["f1"], 2), "precision": round(m["precision"], 2), "recall": round(m["recall"], 2),
                "pile_sizes_test": r["tasks"]["test"], "seconds": round(time.perf_counter() - t, 1),
                "search_seconds_test": round(idx["forward_index"]["search_seconds"]
                                             + idx["backward_index"]["search_seconds"], 2),
                "recall_at_k_test": [idx[d]["recall_check"]["recall"] for d in ("forward_index", "backward_index")],
                "spec": idx["forward_index"]["spec"],
                "search_param": {p: idx["forward_index"].get(p) for p in ("nprobe", "ef_search") if p in idx["forward_index"]},
                "peak_rss_mib": peak_rss_mib()}
            print(lang, kind, json.dumps(res["runs"][f"{lang}/{kind}"]), flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("vectors")
    v.add_argument("--cache", required=True)
    v.add_argument("--data", default=str(DATA))
    v.add_argument("--n", type=int, default=1_100_000)
    s = sub.add_parser("search")
    s.add_argument("--cache", help="folder of the layer-0 vectors (the 'vectors' command)")
    s.add_argument("--embeddings", help="an 'xlt embed' folder to search instead of the layer-0 cache")
    s.add_argument("--n-base", type=int, default=1_000_000)
    s.add_argument("--n-queries", type=int, default=5000)
    s.add_argument("--k", type=int, default=16)
    s.add_argument("--kinds", default="flat,ivf,ivfpq,hnsw")
    s.add_argument("--nlist", type=int, default=None)
    s.add_argument("--train-size", type=int, default=None)
    s.add_argument("--ef-construction", type=int, default=None, help="HNSW graph-building breadth (FAISS: 40)")
    s.add_argument("--target-recall", type=float, default=0.98)
    s.add_argument("--dedup", action="store_true", help="drop repeated vectors (keep first occurrences)")
    s.add_argument("--out", required=True)
    b = sub.add_parser("bucc")
    b.add_argument("--cache", required=True)
    b.add_argument("--langs", default="deu")
    b.add_argument("--distractors", type=int, default=5000)
    b.add_argument("--min-words", type=int, default=10)
    b.add_argument("--k", type=int, default=4)
    b.add_argument("--kinds", default="flat,ivf,ivfpq,hnsw")
    b.add_argument("--target-recall", type=float, default=0.98)
    b.add_argument("--int8", action="store_true", help="embed NTREX and PAN-X with the int8 encoder")
    b.add_argument("--distractor-embeddings", help="an 'xlt embed' folder: its rows join every target pile")
    b.add_argument("--n-distractor-rows", type=int, default=1_000_000)
    b.add_argument("--data", default=str(DATA))
    b.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    {"vectors": cmd_vectors, "search": cmd_search, "bucc": cmd_bucc}[a.cmd](a)


if __name__ == "__main__":
    main()
