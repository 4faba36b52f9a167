"""BLI on the 28 XLING pairs (Glavaš et al. 2019) with the encoder's type-level word vectors.

Usage::

    python benchmarks/bli_xling.py --out runs/bli-xling [--layers 4,8,12 --combine concat] [--seeds 5k,1k]

Each language's vocabulary (:func:`xlt.jobs.bli.vocabulary`: its ``--vocab-size`` most frequent
words in the data folder's text, plus every XLING dictionary word of the language over all its
pairs) is encoded once, every layer (:func:`xlt.lexicon.vectors.encoder_layer_vectors`), and
cached as ``OUT/vectors/LANG.iso.npz`` (``words``, ``stack`` ``(n_layers, n_words, dim)``
float16); a second run with other layers encodes nothing. The chosen layers are combined into
``OUT/vectors/LANG.<layers>.npz`` (:class:`xlt.lexicon.vectors.WordVectors`), then every pair runs
as ``xlt bli eval --vectors SRC=... --vectors TGT=...`` would (:func:`xlt.jobs.bli.run`), with
each seed dictionary, Procrustes (``--mapping contrastive``: the contrastively tuned map), NN (cosine)
and CSLS (``--rerank N``: and CSLS with each word's N
best candidates re-ranked, as ``xlt bli eval --rerank N``, with single layers of the cached stacks as
the re-ranker's views). Written: ``OUT/results.json`` (every
pair's scores) and ``OUT/table.md`` (P@1 and MAP per pair and their averages, with the search
space of each pair's target language). Runs over disjoint ``--pairs`` into one folder (e.g. two
processes) add up in ``results.json`` and ``table.md`` when their other settings are the same.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from xlt.core.io import write_json, write_text
from xlt.data.dictionaries import read_dictionary
from xlt.data.paths import resolve_data_dir
from xlt.jobs.bli import BliSettings, read_pairs, build_spaces, fit_spaces_reranker, layer_positions, run, vocabulary
from xlt.lexicon.mapping import normalize_embeddings
from xlt.lexicon.rerank import evaluate_reranked
from xlt.lexicon.vectors import WordVectors, combine_layers, encoder_layer_vectors
from xlt.models.loading import load_encoder

SIZES = {"500": 500, "1k": 1000, "3k": 3000, "5k": 5000}


def pairs(data_dir: Path) -> list[tuple[str, str]]:
    """The XLING pairs present in the data folder, as ``(src, tgt)``."""
    return sorted(tuple(p.name.split("-")) for p in (data_dir / "bli").iterdir() if p.is_dir() and "-" in p.name)


def dictionary_words(data_dir: Path) -> dict[str, list[str]]:
    """Every XLING dictionary word of each language, over all its pairs and files (sorted order)."""
    words: dict[str, list[str]] = {}
    for d in sorted((data_dir / "bli").iterdir()):
        if not d.is_dir() or "-" not in d.name:
            continue
        a, b = d.name.split("-")
        for f in sorted(d.glob(f"yacle.*.{a}-{b}.tsv")):  # en-fr also holds fr-en files, columns swapped
            for x, y in read_dictionary(f).entries:
                words.setdefault(a, []).append(x)
                words.setdefault(b, []).append(y)
    return words


def encoded(lang: str, must: list[str], out: Path, args, state: dict) -> tuple[list[str], np.ndarray]:
    """The language's vocabulary and its all-layer stack, from ``OUT/vectors/LANG.iso.npz`` when
    there (encoded and saved otherwise)."""
    path = out / "vectors" / f"{lang}.iso.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            words, stack = [str(w) for w in z["words"]], z["stack"]
        # a cache made with other dictionary words: its first --vocab-size rows are the frequent words, and
        # isolated vectors do not depend on the rest of the vocabulary, so rows are picked, not encoded again
        head = words[:args.vocab_size]
        seen = set(head)
        want = head + [w for w in dict.fromkeys(must) if w not in seen]
        if want == words:
            return words, stack
        row = {w: i for i, w in enumerate(words)}
        if all(w in row for w in want):
            return want, stack[:, [row[w] for w in want]]
    vocab = vocabulary(lang, args.vocab_size, must)
    state.setdefault("encoder", load_encoder(args.model))
    t = time.time()
    stack, _ = encoder_layer_vectors(state["encoder"], vocab, layers="all", progress=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, words=np.asarray(vocab, dtype=str), stack=stack.astype(np.float16))
    tmp.rename(path)
    print(f"{lang}: {len(vocab):,} words encoded in {time.time() - t:.0f} s", flush=True)
    return vocab, stack


def reranked(cfg: BliSettings, a: str, b: str, files: dict, stacks: dict, top: int) -> dict:
    """The pair's CSLS scores after re-ranking (``xlt bli eval --rerank``) with the single-layer views
    of both languages' cached stacks (the vector files hold only the combined layers)."""
    cfg = BliSettings(src=a, tgt=b, seed_size=cfg.seed_size, vectors=dict(cfg.vectors), mapping=cfg.mapping, rerank=top,
                      progress=False)
    test, _ = read_pairs(cfg, None, "test.freq.2k", True)
    spaces = build_spaces(cfg, {a: [x for x, _ in test], b: [y for _, y in test]})
    spaces.views = list(zip(stacks[a], stacks[b]))
    reranker = fit_spaces_reranker(cfg, spaces)
    s = evaluate_reranked(spaces.mapped_source(), spaces.tgt.vectors, test, spaces.src.words, spaces.tgt.words,
                          reranker, top=top, k=cfg.k, views=spaces.views)
    print(f"{a}-{b} {_SEED_NAME[cfg.seed_size]} re-ranked: P@1 {s.p_at_1:.1f}, MAP {s.map:.1f}", flush=True)
    return s.describe()


_SEED_NAME = {v: k for k, v in SIZES.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="bundled:e5-small")
    ap.add_argument("--layers", default="last", help="last, numbers or ranges, comma-separated (4,8,12 or 4-8)")
    ap.add_argument("--combine", default="mean", choices=("mean", "concat"))
    ap.add_argument("--vocab-size", type=int, default=20000)
    ap.add_argument("--seeds", default="5k,1k")
    ap.add_argument("--pairs", default="", help="only these pairs (en-de,de-fi); default all 28")
    ap.add_argument("--mapping", default="procrustes", choices=("procrustes", "contrastive"),
                    help="the map (xlt bli eval --mapping)")
    ap.add_argument("--rerank", type=int, default=0, help="also re-rank the N best candidates (xlt bli eval --rerank)")
    ap.add_argument("--rerank-layers", default="4,6,8,10", help="the re-ranker's views (isolated single layers)")
    args = ap.parse_args()
    data = resolve_data_dir()
    out = Path(args.out)
    (out / "vectors").mkdir(parents=True, exist_ok=True)
    todo = pairs(data) if not args.pairs else [tuple(p.split("-")) for p in args.pairs.split(",")]
    must = dictionary_words(data)
    tag = f"{args.layers.replace(',', '_')}.{args.combine}"
    files, state, stacks = {}, {}, {}
    for lang in sorted({x for p in todo for x in p}):
        files[lang] = out / "vectors" / f"{lang}.{tag}.npz"
        if files[lang].exists() and not args.rerank:
            continue
        words, stack = encoded(lang, must[lang], out, args, state)
        if args.rerank:  # the re-ranker's views: single layers of the same words, in the vector files' row order
            views = layer_positions(args.rerank_layers.split(","), len(stack))
            stacks[lang] = [normalize_embeddings(stack[i].astype(np.float32)) for i in views]
        if files[lang].exists():
            continue
        sel = layer_positions(args.layers.split(","), len(stack))
        WordVectors(words, combine_layers(stack, sel, args.combine),
                    source=f"{args.model} (isolated, layers {args.layers} {args.combine})").save(files[lang])
    results = {}
    t0 = time.time()
    for a, b in todo:
        for seed in args.seeds.split(","):
            cfg = BliSettings(src=a, tgt=b, seed_size=SIZES[seed], vectors={a: files[a], b: files[b]},
                              mapping=args.mapping, progress=False)
            r = run(cfg, command=["benchmarks/bli_xling.py", f"{a}-{b}", seed])
            results[f"{a}-{b} {seed}"] = {m: s.describe() for m, s in r.scores.items()}
            if args.rerank:
                results[f"{a}-{b} {seed}"]["csls+rerank"] = reranked(cfg, a, b, files, stacks, args.rerank)
            s = r.scores["csls"]
            print(f"{a}-{b} {seed}: P@1 NN {r.scores['cosine'].p_at_1:.1f} CSLS {s.p_at_1:.1f}, MAP CSLS {s.map:.1f} "
                  f"(search space {r.search_space:,}, {r.seed_pairs:,} seed pairs)", flush=True)
    seconds = round(time.time() - t0, 1)
    previous = out / "results.json"  # runs over other --pairs into the same folder add up (same settings only)
    if previous.exists():
        old = json.loads(previous.read_text(encoding="utf-8"))
        if {k: v for k, v in old["settings"].items() if k != "pairs"} == {k: v for k, v in vars(args).items()
                                                                           if k != "pairs"}:
            results = {**old["results"], **results}
            seconds += old.get("seconds", 0)
    order = {f"{a}-{b}": i for i, (a, b) in enumerate(pairs(data))}
    results = dict(sorted(results.items(), key=lambda kv: (kv[0].split()[1] != "5k", order.get(kv[0].split()[0], 99))))
    write_json(out / "results.json", {"settings": vars(args), "seconds": seconds, "results": results})
    methods = ["cosine", "csls"] + (["csls+rerank"] if args.rerank else [])
    rows = ["| pair | seed | " + " | ".join(f"P@1 {m}" for m in methods) + " | "
            + " | ".join(f"MAP {m}" for m in methods) + " | search space |",
            "|:---|:---|" + "---:|" * (2 * len(methods) + 1)]
    for key, r in results.items():
        pair, seed = key.split()
        rows.append(f"| {pair} | {seed} | " + " | ".join(f"{r[m]['p_at_1']:.1f}" for m in methods) + " | "
                    + " | ".join(f"{r[m]['map']:.1f}" for m in methods) + f" | {r['csls']['search_space']:,} |")
    for seed in args.seeds.split(","):
        sel = [r for k, r in results.items() if k.endswith(" " + seed)]
        if sel:
            avg = {m: {k: sum(r[m][k] for r in sel) / len(sel) for k in ("p_at_1", "map")} for m in methods}
            rows.append(f"| **average ({len(sel)})** | {seed} | " + " | ".join(f"{avg[m]['p_at_1']:.1f}" for m in methods)
                        + " | " + " | ".join(f"{avg[m]['map']:.1f}" for m in methods) + " | |")
    write_text(out / "table.md", "\n".join(rows) + "\n")
    print("\n".join(rows))
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
