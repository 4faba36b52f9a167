"""Vocabulary trimming, measured: size, load time and identical vectors (issue 14); and, with
``--held-out``, how exact each ``--keep`` mode is on text it was not trimmed with (issue 26).

Usage::

    python benchmarks/trim_bench.py --trimmed runs/trim-en5 --langs en,de,ru,zh,ar,sw --outside ja,th,am \
        --out runs/trim-bench.json
    python benchmarks/trim_bench.py --held-out --langs en,de --out runs/trim-keep-ende.json
    python benchmarks/trim_bench.py --held-out --langs ru,uk --out runs/trim-keep-ruuk.json
    python benchmarks/trim_bench.py --trimmed runs/trim-latn --segment-check FILE ... --out runs/trim-latn-seg.json

``--trimmed`` is a folder written by ``xlt adapt trim``. The script exports the untrimmed model to a
folder of the same kind (float32 safetensors + tokenizer) so that both are read the same way, then,
in one process: folder sizes; load time of each (``load_encoder``, median of 3); sentence vectors
(mean pooling, last layer) of the first N NTREX sentences of every kept language under both models
and their cosines; and for languages outside the set, the share of tokens that become ``<unk>``.

``--held-out`` trims the model in this process three ways (``--keep text`` with the text
``xlt adapt trim`` reads by default, the data folder's NTREX/SIB-200/UD-POS/PAN-X sentences;
``--keep script``; ``--keep both``) and compares each with the full model on held-out sentences of
every language: the Tatoeba test sentences (the ``xxx`` side of ``tatoeba.xxx-eng``; English: the
``eng`` side of the first other language's file, else German's), none of which the trim text holds
(sentences that are in it are left out and counted). Per mode and language: sentences segmented
differently (ids mapped back to the full vocabulary), cosine of the sentence vectors (mean pooling,
``encode_sentences``) min/mean, and the same over the sentences written only in the kept scripts;
sentences with letters of another script, or with characters that the tokenizer's normaliser turns
into letters of another script (№ -> No), are counted, not dropped.

``--segment-check FILE ...`` (with ``--trimmed``, a ``--keep script`` or ``both`` folder) compares
tokenizers only, on many lines at once: for every line of each file (a tab-separated file: its
last column), whether it is written in the kept scripts (after the tokenizer's normaliser) and
whether the trimmed tokenizer's ids, mapped back, are the full one's; with ``--vectors``, also the
cosine of the two models' sentence vectors over the first ``--n`` lines of each file.
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


def held_out_sentences(langs: list[str], trim_texts: dict[str, list[str]], data_dir, n: int) -> dict[str, dict]:
    """Up to ``n`` Tatoeba test sentences per language that the trim text does not hold.

    Returns:
        language -> ``{"file", "sentences", "in_trim_text"}`` (sentences left out because the trim
        text holds them; repeats within the file are left out too and counted as ``repeats``).
    """
    from xlt.data.langs import iso639_3
    from xlt.data.parallel import tatoeba_languages

    files = tatoeba_languages(data_dir)
    others = [iso639_3(l) for l in langs if iso639_3(l) != "eng" and iso639_3(l) in files]
    out = {}
    for lang in langs:
        code = iso639_3(lang)
        path = files[code][0] if code in files else files[others[0] if others else "deu"][1]
        trim_set, seen, kept, in_trim, repeats = set(trim_texts.get(lang, ())), set(), [], 0, 0
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line:
                continue
            if line in trim_set or line in seen:
                in_trim += line in trim_set
                repeats += line not in trim_set
                continue
            seen.add(line)
            kept.append(line)
            if len(kept) >= n:
                break
        out[lang] = {"file": str(path), "sentences": kept, "in_trim_text": in_trim, "repeats": repeats}
    return out


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _summary(cos: np.ndarray, differ: np.ndarray, diff: np.ndarray, mask: np.ndarray) -> dict:
    c = cos[mask]
    return {"sentences": int(mask.sum()), "segmented_differently": int(differ[mask].sum()),
            "cosine_min": float(c.min()) if len(c) else None, "cosine_mean": float(c.mean()) if len(c) else None,
            "below_0.9999": int((c < 0.9999).sum()), "identical_vectors": int((diff[mask] == 0).sum()),
            "max_abs_diff": float(diff[mask].max()) if len(c) else None}


def held_out(args) -> dict:
    """The ``--held-out`` measurement (see the module docstring); returns the result dict."""
    from xlt.adapt.vocab import BASIC_LATIN, ScriptCharacters, language_scripts, normalized, trim_vocabulary
    from xlt.data.text import texts_for
    from xlt.models.features import encode_sentences
    from xlt.models.loading import load_encoder

    import regex

    langs = [l for l in args.langs.split(",") if l]
    t0 = time.perf_counter()
    trim_texts = {l: t.sentences for l, t in texts_for(langs, None, args.data_dir).items()}
    held = held_out_sentences(langs, trim_texts, args.data_dir, args.n)
    full = load_encoder(args.model)
    scripts = language_scripts(langs)
    kept_scripts = tuple(dict.fromkeys(s for parts in scripts.values() for s in parts))
    chars = ScriptCharacters(kept_scripts, "".join(dict.fromkeys(normalized(full.tokenizer, full.text_prefix)
                                                                 + (BASIC_LATIN if not args.no_basic_latin else ""))))
    latin = "" if args.no_basic_latin else "a-zA-Z"
    letter_ok = regex.compile(r"(?:(?!\p{L}).|[%s%s])*" % ("".join(r"\p{sc=%s}" % s for s in (*kept_scripts, "Zyyy", "Zinh")),
                                                          latin), regex.S)
    result: dict = {"model": args.model, "langs": langs, "scripts": {l: list(v) for l, v in scripts.items()},
                    "n_per_language": args.n, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "trim_text_sentences": {l: len(t) for l, t in trim_texts.items()},
                    "held_out": {l: {k: v for k, v in h.items() if k != "sentences"} | {"n": len(h["sentences"])}
                                 for l, h in held.items()},
                    "modes": {}}
    full_vecs = {l: encode_sentences(full, h["sentences"], progress=False) for l, h in held.items()}
    full_ids = {l: full.tokenizer([full.text_prefix + s for s in h["sentences"]])["input_ids"] for l, h in held.items()}
    outside = {}
    for lang, h in held.items():
        letters = [s for s in h["sentences"] if not letter_ok.fullmatch(s)]
        norm = [chars.outside(normalized(full.tokenizer, full.text_prefix + s)) for s in h["sentences"]]
        outside[lang] = {
            "letters": np.array([not letter_ok.fullmatch(s) for s in h["sentences"]]),
            "normalized": np.array([bool(o) for o in norm])}
        result["held_out"][lang]["with_other_script_letters"] = len(letters)
        result["held_out"][lang]["other_script_letter_examples"] = letters[:5]
        result["held_out"][lang]["outside_after_normalisation"] = int(outside[lang]["normalized"].sum())
        result["held_out"][lang]["characters_outside_after_normalisation"] = "".join(dict.fromkeys("".join(norm)))
    for keep in ("text", "script", "both"):
        t = time.perf_counter()
        trimmed, res = trim_vocabulary(full, trim_texts if keep != "script" else None, keep=keep, langs=langs,
                                       basic_latin=not args.no_basic_latin)
        seconds = time.perf_counter() - t
        mode = {"pieces": res.vocab_after, "parameters": res.parameters_after,
                "share": res.parameters_after / res.parameters_before, "sizes": res.sizes,
                "trim_seconds": round(seconds, 1), "per_language": {}}
        for lang, h in held.items():
            ids = trimmed.tokenizer([trimmed.text_prefix + s for s in h["sentences"]])["input_ids"]
            back = [[res.kept_ids[i] for i in row] for row in ids]
            differ = np.array([a != b for a, b in zip(back, full_ids[lang])])
            vecs = encode_sentences(trimmed, h["sentences"], progress=False)
            cos = _cosines(full_vecs[lang], vecs)
            diff = np.abs(full_vecs[lang] - vecs).max(1)
            every = np.ones(len(cos), dtype=bool)
            in_script = ~outside[lang]["letters"] & ~outside[lang]["normalized"]
            mode["per_language"][lang] = {"all": _summary(cos, differ, diff, every),
                                          "in_kept_scripts": _summary(cos, differ, diff, in_script),
                                          "with_other_script_letters": _summary(cos, differ, diff,
                                                                                outside[lang]["letters"]),
                                          "unknown_tokens": int(sum(row.count(trimmed.tokenizer.unk_token_id)
                                                                    for row in ids))}
        result["modes"][keep] = mode
        print(f"--keep {keep}: {res.vocab_after:,} pieces, {res.parameters_after:,} parameters "
              f"({100 * mode['share']:.1f}%)", flush=True)
    result["parameters_full"] = sum(p.numel() for p in full.model.parameters())
    result["vocab_full"] = len(full.tokenizer)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def segment_check(args) -> dict:
    """The ``--segment-check`` measurement (see the module docstring); returns the result dict."""
    from transformers import AutoTokenizer

    from xlt.adapt.vocab import BASIC_LATIN, ScriptCharacters, normalized
    from xlt.models.loading import load_encoder

    meta = json.loads((Path(args.trimmed) / "xlt_export.json").read_text(encoding="utf-8"))
    scripts = tuple(meta["info"].get("trimmed_scripts") or ())
    if not scripts:
        raise SystemExit(f"{args.trimmed}: not trimmed with --keep script or both (no trimmed_scripts)")
    prefix = meta.get("text_prefix", "")
    full_encoder = load_encoder(args.model)
    full = full_encoder.tokenizer
    trimmed = AutoTokenizer.from_pretrained(args.trimmed)
    trimmed_encoder = load_encoder(args.trimmed) if args.vectors else None
    full_vocab = full.get_vocab()
    back = {i: full_vocab[p] for p, i in trimmed.get_vocab().items()}
    latin = BASIC_LATIN if meta["info"].get("trimmed_basic_latin") else ""
    chars = ScriptCharacters(scripts, "".join(dict.fromkeys(normalized(full, prefix) + latin)))
    result: dict = {"model": args.model, "trimmed": args.trimmed, "scripts": list(scripts),
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "files": {}}
    for name in args.segment_check:
        lines = [l.split("\t")[-1].strip() for l in Path(name).read_text(encoding="utf-8").splitlines()]
        lines = [l for l in lines if l]
        a = full([prefix + l for l in lines])["input_ids"]
        b = trimmed([prefix + l for l in lines])["input_ids"]
        inside = [chars.outside(normalized(full, prefix + l)) == "" for l in lines]
        differ = [x != [back[i] for i in y] for x, y in zip(a, b)]
        result["files"][name] = {"lines": len(lines), "in_kept_scripts": sum(inside),
                                 "differ_in_kept_scripts": sum(d for d, c in zip(differ, inside) if c),
                                 "differ_outside": sum(d for d, c in zip(differ, inside) if not c)}
        if trimmed_encoder is not None:
            from xlt.models.features import encode_sentences

            first = lines[:args.n]
            u = encode_sentences(full_encoder, first, progress=False)
            v = encode_sentences(trimmed_encoder, first, progress=False)
            cos, diff = _cosines(u, v), np.abs(u - v).max(1)
            mask, dif = np.array(inside[:len(first)]), np.array(differ[:len(first)])
            result["files"][name]["vectors"] = {"in_kept_scripts": _summary(cos, dif, diff, mask),
                                                "outside": _summary(cos, dif, diff, ~mask)}
        print(name, result["files"][name], flush=True)
    return result


def table(result: dict) -> str:
    """The ``--held-out`` result as a Markdown table (one row per mode and language)."""
    rows = ["| --keep | pieces | parameters (share) | language | held-out sentences | segmented differently "
            "| cosine min / mean (all) | in kept scripts: n, differ, cosine min | with other-script letters: n, "
            "cosine min |", "|:---|---:|---:|:---|---:|---:|---:|---:|---:|"]
    for keep, m in result["modes"].items():
        for lang, r in m["per_language"].items():
            a, i, o = r["all"], r["in_kept_scripts"], r["with_other_script_letters"]
            omin = f"{o['cosine_min']:.6f}" if o["sentences"] else "–"
            rows.append(f"| {keep} | {m['pieces']:,} | {m['parameters']:,} ({100 * m['share']:.1f}%) | {lang} | "
                        f"{a['sentences']} | {a['segmented_differently']} | {a['cosine_min']:.6f} / "
                        f"{a['cosine_mean']:.6f} | {i['sentences']}, {i['segmented_differently']}, "
                        f"{i['cosine_min']:.6f} | {o['sentences']}, {omin} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trimmed", help="a folder written by xlt adapt trim (required without --held-out)")
    ap.add_argument("--held-out", action="store_true",
                    help="trim in this process with --keep text, script and both, and compare on held-out text")
    ap.add_argument("--model", default="bundled:e5-small")
    ap.add_argument("--langs", help="kept languages (not with --segment-check)")
    ap.add_argument("--segment-check", nargs="+", metavar="FILE",
                    help="with --trimmed: compare the tokenizers on every line of these files")
    ap.add_argument("--no-basic-latin", action="store_true",
                    help="--held-out: trim without the basic Latin letters (adapt trim --no-basic-latin)")
    ap.add_argument("--vectors", action="store_true", help="with --segment-check: compare sentence vectors too")
    ap.add_argument("--outside", default="")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.segment_check:
        if not args.trimmed:
            ap.error("--segment-check needs --trimmed")
        result = segment_check(args)
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
        return
    if not args.langs:
        ap.error("--langs is required")
    if args.held_out:
        result = held_out(args)
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
        print(table(result))
        return
    if not args.trimmed:
        ap.error("--trimmed is required without --held-out")

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
