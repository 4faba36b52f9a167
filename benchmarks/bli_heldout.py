"""Choose the encoder's word vectors for BLI on held-out seed pairs (never on the test set).

Usage::

    python benchmarks/bli_heldout.py --vectors runs/bli-xling/vectors --src en --tgt de [--hold-out 500]

Reads the all-layer stacks ``VECTORS/SRC.iso.npz`` and ``VECTORS/TGT.iso.npz`` that
``benchmarks/bli_xling.py`` caches (``words``, ``stack`` ``(n_layers, n_words, dim)``), holds out
``--hold-out`` source words of XLING's 5k seed dictionary (their pairs), fits Procrustes on the
other pairs and ranks the held-out words against the whole target vocabulary by cosine, for single
layers, layer means and concatenations. Prints P@1 per setting (percent).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from xlt.data.dictionaries import read_dictionary
from xlt.data.paths import resolve_data_dir
from xlt.lexicon.induction import evaluate_bli
from xlt.lexicon.mapping import normalize_embeddings, procrustes
from xlt.lexicon.vectors import combine_layers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", default="runs/bli-xling/vectors")
    ap.add_argument("--src", default="en")
    ap.add_argument("--tgt", default="de")
    ap.add_argument("--hold-out", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    spaces = {}
    for lang in (args.src, args.tgt):
        with np.load(Path(args.vectors) / f"{lang}.iso.npz", allow_pickle=False) as z:
            spaces[lang] = ([str(w) for w in z["words"]], z["stack"].astype(np.float32))
    (sw, ss), (tw, ts) = spaces[args.src], spaces[args.tgt]
    pair = f"{args.src}-{args.tgt}"
    train = read_dictionary(resolve_data_dir() / "bli" / pair / f"yacle.train.freq.5k.{pair}.tsv").entries
    rng = np.random.default_rng(args.seed)
    sources = sorted({a for a, _ in train})
    rng.shuffle(sources)
    held = set(sources[:args.hold_out])
    fit = [(a, b) for a, b in train if a not in held]
    dev = [(a, b) for a, b in train if a in held]
    si, ti = {w: i for i, w in enumerate(sw)}, {w: i for i, w in enumerate(tw)}
    seed = np.array([(si[a], ti[b]) for a, b in fit if a in si and b in ti])
    queries = sorted({si[a] for a, _ in dev if a in si})
    print(f"{len(fit)} pairs fitted, {len(dev)} held out ({len(queries)} words), search space {len(tw):,}")
    settings = [("single", [i]) for i in range(len(ss))]
    settings += [("mean", list(r)) for r in (range(0, 7), range(1, 7), range(2, 9), range(4, 9), range(5, 10),
                                             range(6, 11), range(8, 13), range(4, 13), range(6, 13), range(3, 11),
                                             range(2, 13), range(1, 13))]
    settings += [("concat", [6, 12]), ("concat", [8, 12]), ("concat", [4, 8, 12])]
    for combine, sel in settings:
        if max(sel) >= len(ss):
            continue
        how = "mean" if combine == "single" else combine
        x = normalize_embeddings(combine_layers(ss, sel, how))
        y = normalize_embeddings(combine_layers(ts, sel, how))
        w = procrustes(x, y, seed)
        s = evaluate_bli(x[queries] @ w, y, dev, [sw[i] for i in queries], tw, method="cosine")
        print(f"{combine:6} {str(sel):40} P@1 NN {s.p_at_1:5.1f}", flush=True)


if __name__ == "__main__":
    main()
