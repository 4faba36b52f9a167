"""Vocabulary trimming, measured: size, load time and identical vectors (issue 14).

Usage::

    python benchmarks/trim_bench.py --trimmed runs/trim-en5 --langs en,de,ru,zh,ar,sw --outside ja,th,am \
        --out runs/trim-bench.json

``--trimmed`` is a folder written by ``xlt adapt trim``. The script exports the untrimmed model to a
folder of the same kind (float32 safetensors + tokenizer) so that both are read the same way, then,
in one process: folder sizes; load time of each (``load_encoder``, median of 3); sentence vectors
(mean pooling, last layer) of the first N NTREX sentences of every kept language under both models
and their cosines; and for languages outside the set, the share of tokens that become ``<unk>``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def folder_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / 2 ** 20


def timed_load(spec: str, repeats: int = 3) -> tuple[float, object]:
    from xlt.models.loading import load_encoder

    times, enc = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        enc = load_encoder(spec)
        times.append(time.perf_counter() - t)
    return statistics.median(times), enc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trimmed", required=True)
    ap.add_argument("--model", default="bundled:e5-small")
    ap.add_argument("--langs", required=True)
    ap.add_argument("--outside", default="")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    from xlt.adapt.vocab import unknown_rate
    from xlt.data.langs import match_language
    from xlt.data.parallel import ntrex_languages
    from xlt.models.export import export_model
    from xlt.models.features import encode_sentences

    files = ntrex_languages(args.data_dir)

    def ntrex(lang: str) -> list[str]:
        return Path(files[match_language(lang, files)]).read_text(encoding="utf-8").splitlines()[:args.n]

    result: dict = {"model": args.model, "trimmed": args.trimmed, "n_sentences": args.n,
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with tempfile.TemporaryDirectory() as tmp:
        full_dir = Path(tmp) / "full"
        export_model(args.model, full_dir)
        result["size_mib"] = {"full": folder_mib(full_dir), "trimmed": folder_mib(Path(args.trimmed))}
        t_full, full = timed_load(str(full_dir))
        t_trim, trimmed = timed_load(args.trimmed)
        t_bundled, _ = timed_load(args.model, 1)
        result["load_seconds"] = {"full (exported folder)": t_full, "trimmed": t_trim,
                                  f"{args.model} (4-bit file, dequantised)": t_bundled}
        result["parameters"] = {"full": sum(p.numel() for p in full.model.parameters()),
                                "trimmed": sum(p.numel() for p in trimmed.model.parameters())}
        result["vocab"] = {"full": len(full.tokenizer), "trimmed": len(trimmed.tokenizer)}
        cos, speed = {}, {}
        for lang in [l for l in args.langs.split(",") if l]:
            texts = ntrex(lang)
            t = time.perf_counter()
            a = encode_sentences(full, texts, progress=False)
            t_a = time.perf_counter() - t
            t = time.perf_counter()
            b = encode_sentences(trimmed, texts, progress=False)
            t_b = time.perf_counter() - t
            c = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
            cos[lang] = {"min": float(c.min()), "mean": float(c.mean()), "max_abs_diff": float(np.abs(a - b).max())}
            speed[lang] = {"full_s": t_a, "trimmed_s": t_b}
        result["cosine"] = cos
        result["encode_seconds"] = speed
        result["outside_unknown_percent"] = {
            lang: {"full": unknown_rate(full.tokenizer, ntrex(lang), full.text_prefix),
                   "trimmed": unknown_rate(trimmed.tokenizer, ntrex(lang), trimmed.text_prefix)}
            for lang in [l for l in args.outside.split(",") if l]}
    Path(args.out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
