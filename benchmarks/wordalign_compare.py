"""Word alignment with the bundled model: layer choice, AER on four gold sets, and SimAlign side by side.

1. Layer sweep on one gold set (default en-fr): AER of every method at every layer; the best layer
   per method is the one with the lowest AER there.
2. AER, precision, recall and F1 of every method at its chosen layer on all gold sets.
3. The same model exported with ``xlt export-model`` is given to the ``simalign`` package
   (Jalili Sabet et al. 2020; ``pip install '.[bench]'``) and to xlt, with the same layer and
   the same word lists; both are timed on the same pairs (pairs/s) and scored against the gold.
   xlt is also timed with its encoder in bfloat16 (``--dtype bfloat16``).

Usage::

    python benchmarks/wordalign_compare.py --out runs/wordalign-compare.json

Gold sets: ``../shared/data/wordalign/XXYY.src-tgt`` and ``XXYY.gold`` (1-based, ``p`` = possible).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

SIMALIGN_CODES = {"argmax": "inter", "itermax": "itermax", "match": "mwmf"}


def load_set(root: Path, name: str):
    from xlt.data.wordalign import read_pairs, read_pharaoh

    pairs = read_pairs(root / f"{name}.src-tgt")
    gold = read_pharaoh(root / f"{name}.gold", one_based=True, lengths=pairs.lengths)
    keep = [k for k, (s, t) in enumerate(pairs.pairs) if s and t]
    return ([pairs.pairs[k] for k in keep], [gold.sure[k] for k in keep], [gold.possible[k] for k in keep],
            len(pairs.pairs) - len(keep))


def score(pred, sure, possible) -> dict:
    from xlt.evaluate.wordalign import alignment_scores

    s = alignment_scores(pred, sure, possible)
    return {k: round(s[k], 2) for k in ("aer", "precision", "recall", "f1")}


WORD_PIECES = "xtreme"  # set from --word-pieces in main()


def run_xlt(model: str, pairs, layer: int, methods, dtype: str = "float32"):
    from xlt.align.words import WordAligner

    aligner = WordAligner(model, layer=layer, methods=methods, dtype=dtype, word_pieces=WORD_PIECES)
    t0 = time.perf_counter()
    out = aligner.align_all(pairs, methods)
    return out, time.perf_counter() - t0


def run_simalign(folder: str, pairs, layer: int, methods):
    from simalign import SentenceAligner

    codes = "".join({"argmax": "a", "itermax": "i", "match": "m"}[m] for m in methods)
    aligner = SentenceAligner(model=folder, token_type="bpe", matching_methods=codes, device="cpu", layer=layer)
    t0 = time.perf_counter()
    res = [aligner.get_word_aligns(s, t) for s, t in pairs]
    seconds = time.perf_counter() - t0
    return {m: [set(map(tuple, r[SIMALIGN_CODES[m]])) for r in res] for m in methods}, seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", help="data folder (default: resolved as xlt does)")
    p.add_argument("--sets", default="enfr,roen,jaen,zhen")
    p.add_argument("--select-on", default="enfr", help="gold set the layer of each method is chosen on")
    p.add_argument("--layers", default="2,3,4,5,6,7,8,9,10,11,12")
    p.add_argument("--methods", default="argmax,itermax,match,softmax")
    p.add_argument("--compare-layer", type=int, default=8, help="layer for the SimAlign comparison (its default)")
    p.add_argument("--model", default="bundled:e5-small")
    p.add_argument("--skip-simalign", action="store_true")
    p.add_argument("--limit", type=int, help="use the first N pairs of each set (smoke tests)")
    p.add_argument("--word-pieces", default="xtreme",
                   help="xlt's subword units per word (xlt.models.words): xtreme (default here: every piece, "
                        "as SimAlign, so the comparison is like for like) or first (xlt's default)")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    global WORD_PIECES
    WORD_PIECES = args.word_pieces

    from xlt.data.paths import dataset_dir
    from xlt.models.export import export_model
    from xlt.models.loading import load_encoder

    root = dataset_dir("wordalign", args.data_dir)
    methods = [m.strip() for m in args.methods.split(",")]
    sets = {name: load_set(root, name) for name in args.sets.split(",")}
    if args.limit:
        sets = {n: (v[0][: args.limit], v[1][: args.limit], v[2][: args.limit], v[3]) for n, v in sets.items()}
    encoder = load_encoder(args.model)
    result: dict = {"model": args.model, "sets": {n: {"pairs": len(v[0]), "skipped_empty": v[3]} for n, v in sets.items()}}

    # 1. layer sweep on one set
    pairs, sure, possible, _ = sets[args.select_on]
    sweep = {}
    for layer in [int(x) for x in args.layers.split(",")]:
        out, _ = run_xlt(encoder, pairs, layer, methods)
        sweep[layer] = {m: score(out[m], sure, possible) for m in methods}
        print(f"layer {layer}: " + ", ".join(f"{m} {sweep[layer][m]['aer']:.1f}" for m in methods), file=sys.stderr)
    best = {m: min(sweep, key=lambda layer: (sweep[layer][m]["aer"], layer)) for m in methods}
    result["sweep"] = {"set": args.select_on, "aer": sweep, "best_layer": best}

    # 2. every method at its layer on every set
    table = {}
    for name, (pairs, sure, possible, _) in sets.items():
        table[name] = {}
        for layer in sorted(set(best.values())):
            ms = [m for m in methods if best[m] == layer]
            out, seconds = run_xlt(encoder, pairs, layer, ms)
            for m in ms:
                table[name][m] = {"layer": layer, **score(out[m], sure, possible)}
    result["best_layer_scores"] = table

    # 3. SimAlign side by side, same exported model, layer and words
    if not args.skip_simalign:
        cmp_methods = [m for m in methods if m in SIMALIGN_CODES]
        with tempfile.TemporaryDirectory() as tmp:
            folder = str(export_model(args.model, Path(tmp) / "model"))
            comparison = {}
            for name, (pairs, sure, possible, _) in sets.items():
                xo, xs = run_xlt(folder, pairs, args.compare_layer, cmp_methods)
                so, ss = run_simalign(folder, pairs, args.compare_layer, cmp_methods)
                xa, xas = run_xlt(folder, pairs, args.compare_layer, ["argmax"])
                sa, sas = run_simalign(folder, pairs, args.compare_layer, ["argmax"])
                bo, bs = run_xlt(folder, pairs, args.compare_layer, cmp_methods, dtype="bfloat16")
                _, bas = run_xlt(folder, pairs, args.compare_layer, ["argmax"], dtype="bfloat16")
                comparison[name] = {
                    "pairs": len(pairs),
                    "xlt": {m: score(xo[m], sure, possible) for m in cmp_methods},
                    "simalign": {m: score(so[m], sure, possible) for m in cmp_methods},
                    "xlt_bfloat16": {m: score(bo[m], sure, possible) for m in cmp_methods},
                    "identical_links": {m: sum(a == b for a, b in zip(xo[m], so[m])) / len(pairs) for m in cmp_methods},
                    "pairs_per_s": {"xlt_all3": len(pairs) / xs, "simalign_all3": len(pairs) / ss,
                                    "xlt_argmax": len(pairs) / xas,
                                    "simalign_argmax": len(pairs) / sas,
                                    "xlt_bfloat16_all3": len(pairs) / bs, "xlt_bfloat16_argmax": len(pairs) / bas},
                }
                c = comparison[name]
                print(f"{name}: " + ", ".join(f"{m} AER xlt {c['xlt'][m]['aer']:.2f} / SimAlign "
                                              f"{c['simalign'][m]['aer']:.2f}" for m in cmp_methods)
                      + f"; pairs/s all3 {c['pairs_per_s']['xlt_all3']:.1f} vs {c['pairs_per_s']['simalign_all3']:.1f}",
                      file=sys.stderr)
            result["simalign_comparison"] = {"layer": args.compare_layer, "sets": comparison}

    import torch

    result["threads"] = torch.get_num_threads()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["best_layer_scores"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
