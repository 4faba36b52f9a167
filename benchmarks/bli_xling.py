"""BLI on the 28 XLING pairs (Glavaš et al. 2019) with the encoder's type-level word vectors.

Usage::

    python benchmarks/bli_xling.py --out runs/bli-xling [--layers last] [--vocab-size 20000] [--seeds 5k,1k]

Each language's vocabulary (its ``--vocab-size`` most frequent words in the data folder's text,
plus every XLING dictionary word of the language, over all its pairs) is encoded once and saved as
``OUT/vectors/LANG.npz`` (:class:`xlt.lexicon.vectors.WordVectors`); then every pair runs as
``xlt bli eval --vectors src=... --vectors tgt=...`` would, with the 5k and the 1k seed
dictionary, Procrustes, NN and CSLS. The table (``OUT/table.md``) gives P@1 and MAP per pair and
their averages, beside the published fastText + Procrustes figures where given with ``--published``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

LANGS = ["de", "en", "fi", "fr", "hr", "it", "ru", "tr"]


def pairs(data_dir: Path) -> list[tuple[str, str]]:
    """The XLING pairs present in the data folder, as ``(src, tgt)``."""
    return sorted(tuple(p.name.split("-")) for p in (data_dir / "bli").iterdir() if p.is_dir() and "-" in p.name)


def main() -> None:
    from xlt.data.dictionaries import read_dictionary
    from xlt.data.paths import resolve_data_dir
    from xlt.jobs.bli import BliSettings, _vocabulary, run
    from xlt.lexicon.vectors import encoder_word_vectors
    from xlt.models.loading import load_encoder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="bundled:e5-small")
    ap.add_argument("--layers", default="last")
    ap.add_argument("--vocab-size", type=int, default=20000)
    ap.add_argument("--seeds", default="5k,1k")
    ap.add_argument("--pairs", default="", help="only these pairs (en-de,de-fi); default all 28")
    args = ap.parse_args()
    data = resolve_data_dir()
    out = Path(args.out)
    (out / "vectors").mkdir(parents=True, exist_ok=True)
    todo = pairs(data) if not args.pairs else [tuple(p.split("-")) for p in args.pairs.split(",")]
    words: dict[str, list[str]] = {}
    for a, b in todo:
        for f in (data / "bli" / f"{a}-{b}").glob("yacle.*.tsv"):
            for x, y in read_dictionary(f).entries:
                words.setdefault(a, []).append(x)
                words.setdefault(b, []).append(y)
    layers = ["last" if l == "last" else int(l) for l in args.layers.split(",")]
    encoder = None
    for lang in sorted(words):
        path = out / "vectors" / f"{lang}.npz"
        if path.exists():
            continue
        encoder = encoder or load_encoder(args.model)
        t = time.time()
        cfg = BliSettings(src=lang, tgt="xx" if lang != "xx" else "yy", vocab_size=args.vocab_size)
        vocab = _vocabulary(lang, cfg, words[lang])
        wv = encoder_word_vectors(encoder, vocab, layers=layers[0] if len(layers) == 1 else layers, combine="concat",
                                  progress=True)
        wv.save(path)
        print(f"{lang}: {len(vocab):,} words in {time.time() - t:.0f} s", flush=True)
    results = {}
    for a, b in todo:
        for seed in args.seeds.split(","):
            size = {"500": 500, "1k": 1000, "3k": 3000, "5k": 5000}[seed]
            cfg = BliSettings(src=a, tgt=b, seed_size=size, vectors={a: out / "vectors" / f"{a}.npz",
                                                                      b: out / "vectors" / f"{b}.npz"}, progress=False)
            r = run(cfg, command=["benchmarks/bli_xling.py", f"{a}-{b}", seed])
            results[f"{a}-{b} {seed}"] = {m: s.describe() for m, s in r.scores.items()}
            s = r.scores["csls"]
            print(f"{a}-{b} {seed}: P@1 NN {r.scores['cosine'].p_at_1:.1f} CSLS {s.p_at_1:.1f}, MAP CSLS {s.map:.1f} "
                  f"(search space {r.search_space:,})", flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    rows = ["| pair | seed | P@1 NN | P@1 CSLS | MAP NN | MAP CSLS | search space |", "|:---|:---|---:|---:|---:|---:|---:|"]
    for key, r in results.items():
        pair, seed = key.split()
        rows.append(f"| {pair} | {seed} | {r['cosine']['p_at_1']:.1f} | {r['csls']['p_at_1']:.1f} | "
                    f"{r['cosine']['map']:.1f} | {r['csls']['map']:.1f} | {r['csls']['search_space']:,} |")
    for seed in args.seeds.split(","):
        sel = [r for k, r in results.items() if k.endswith(" " + seed)]
        if sel:
            avg = {m: {k: sum(r[m][k] for r in sel) / len(sel) for k in ("p_at_1", "map")} for m in ("cosine", "csls")}
            rows.append(f"| **average ({len(sel)})** | {seed} | {avg['cosine']['p_at_1']:.1f} | {avg['csls']['p_at_1']:.1f} | "
                        f"{avg['cosine']['map']:.1f} | {avg['csls']['map']:.1f} | |")
    (out / "table.md").write_text("\n".join(rows) + "\n", encoding="utf-8")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
