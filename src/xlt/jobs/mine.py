"""``xlt mine`` as a job: mine translation pairs from two text files, and evaluate mining on NTREX.

:func:`run_mine` reads two files of sentences (one per line), embeds both sides in chunks,
mines pairs with :func:`xlt.retrieval.mining.mine` and writes ``score<TAB>src<TAB>tgt`` lines,
best first, plus a JSON report (counts, timings, manifest) beside them.

:func:`run_mine_eval` measures mining on BUCC-style tasks built from NTREX-128 (see
:mod:`xlt.retrieval.bucc`, whose :func:`~xlt.retrieval.bucc.evaluate_language` does the
computation per language): per language, the corpus lines are split in two halves; on each half
a task hides 20% true English–target pairs among non-parallel sentences. The score threshold of
every (margin, strategy) is chosen on the first half (the BUCC "training" split) and precision,
recall and F1 are measured on the second.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from xlt.core.io import atomic_write
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import write_json, write_report
from xlt.core.outputs import Output, OutputPlan
from xlt.data.paths import data_set_folders
from xlt.models.features import parse_layer
from xlt.models import loading  # loading.load_encoder is looked up at call time (tests replace it)
from xlt.models.loading import DEFAULT_MODEL
from xlt.retrieval.bucc import evaluate_language
from xlt.retrieval.mining import (DEFAULT_APPROX_ABOVE, DEFAULT_CHUNK_SIZE, MARGINS, STRATEGIES,
                                  embed_to_array, read_sentences, score_candidates, select_pairs)


@dataclass
class MineConfig:
    """Settings of ``xlt mine SRC TGT``.

    Attributes:
        src, tgt: input files, one sentence per line. out: output TSV path.
        model: model spec. margin: ``ratio``/``distance``/``absolute``. strategy: forward,
        backward, intersection or max. k: neighbourhood size (4). threshold: keep pairs
        scoring at least this (None: all).
        index: FAISS index kind (``auto``/``flat``/``ivf``/``ivfpq``); approx_above: ``auto``
        switches to IVF above this many vectors per side; nprobe, nlist, pq_m: IVF settings.
        chunk_size: sentences per embedding/search chunk. memmap_above: sides longer than this
        are embedded into disk memmaps under ``work_dir`` (default: a temporary folder).
        layer, pooling, batch_size: embedding settings (see ``encode_sentences``).
        overwrite: replace an existing ``out`` (never an input: ``out`` may not be ``src`` or ``tgt``).
    """

    src: str
    tgt: str
    out: str
    model: str = DEFAULT_MODEL
    margin: str = "ratio"
    strategy: str = "max"
    k: int = 4
    threshold: float | None = None
    index: str = "auto"
    approx_above: int = DEFAULT_APPROX_ABOVE
    nprobe: int = 16
    nlist: int | None = None
    pq_m: int | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    memmap_above: int = 200_000
    work_dir: str | None = None
    layer: str = "last"
    pooling: str = "mean"
    batch_size: int = 64
    seed: int = 0
    overwrite: bool = False
    progress: bool = True


def _check_choice(name: str, value: str, options) -> None:
    from xlt.jobs import ConfigError

    if value not in options:
        raise ConfigError(f"{name} must be one of {', '.join(options)}, got {value!r}")


def _check_counts(config, names: tuple[str, ...]) -> None:
    from xlt.jobs import ConfigError

    for name in names:
        v = getattr(config, name)
        if v is not None and (not isinstance(v, int) or v < 1):
            raise ConfigError(f"--{name.replace('_', '-')} must be a whole number >= 1, got {v!r}")


def _check_threshold(threshold) -> None:
    import math

    from xlt.jobs import ConfigError

    if threshold is not None and not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
        raise ConfigError(f"--threshold must be a finite number, got {threshold!r}")


def run_mine(config: MineConfig, command: list[str] | None = None) -> dict[str, Any]:
    """Mine ``config.src`` × ``config.tgt`` and write the pairs and ``<out stem>.report.json``.

    Returns:
        the report dict: counts per side (lines, kept, skipped empty/duplicate), number of
        pairs, score range, index info, seconds and sentences/s per stage, config, manifest.

    Raises:
        FileNotFoundError, DataFormatError: unreadable or empty input; ValueError: bad settings.
        OutputError: ``out`` is an input; FileExistsError: ``out`` exists and ``overwrite`` is off
            (both checked before the model loads).
    """
    _check_choice("margin", config.margin, MARGINS)
    _check_choice("strategy", config.strategy, STRATEGIES)
    _check_counts(config, ("k", "batch_size", "chunk_size", "nprobe", "nlist", "pq_m"))
    _check_threshold(config.threshold)
    t0 = time.perf_counter()
    src, tgt = read_sentences(config.src), read_sentences(config.tgt)
    OutputPlan(inputs=[("src", config.src), ("tgt", config.tgt), ("--model", config.model)],
               outputs=[Output("--out", config.out, "file")]
               + ([Output("--work-dir", Path(config.work_dir), "store")] if config.work_dir else []),
               overwrite=config.overwrite).check()
    encoder = loading.load_encoder(config.model, device="auto")
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=config.work_dir, prefix="xlt-mine-") as tmp:
        emb = []
        for name, side in (("src", src), ("tgt", tgt)):
            t = time.perf_counter()
            mm = Path(tmp) / f"{name}.npy" if len(side.sentences) > config.memmap_above else None
            emb.append(embed_to_array(encoder, side.sentences, chunk_size=config.chunk_size, memmap_path=mm,
                                      batch_size=config.batch_size, layer=parse_layer(config.layer),
                                      pooling=config.pooling, progress=config.progress))
            seconds[f"embed_{name}"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        cands = score_candidates(emb[0], emb[1], k=config.k, margin=config.margin, index=config.index,
                                 approx_above=config.approx_above, nprobe=config.nprobe, nlist=config.nlist,
                                 pq_m=config.pq_m, chunk_size=config.chunk_size, progress=config.progress,
                                 seed=config.seed)
        pairs = select_pairs(cands, config.strategy, config.threshold)
        seconds["search_and_select"] = round(time.perf_counter() - t, 3)
        del emb
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def write_pairs(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8") as f:
            for s, i, j in zip(pairs.scores, pairs.src, pairs.tgt):
                f.write(f"{s:.6f}\t{src.sentences[i]}\t{tgt.sentences[j]}\n")

    atomic_write(out, write_pairs)
    seconds["total"] = round(time.perf_counter() - t0, 3)
    n_emb = len(src.sentences) + len(tgt.sentences)
    cfg = {k: v for k, v in asdict(config).items() if k != "progress"}
    argv = command if command is not None else sys.argv
    report = {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "mine",
        "model": config.model,
        "counts": {"src": src.counts(), "tgt": tgt.counts()},
        "n_pairs": len(pairs),
        "score_range": [float(pairs.scores.min()), float(pairs.scores.max())] if len(pairs) else None,
        "index": cands.info,
        "seconds": seconds,
        "sentences_per_second": {
            "embedding": round(n_emb / max(seconds["embed_src"] + seconds["embed_tgt"], 1e-9), 1),
            "search": round(n_emb / max(seconds["search_and_select"], 1e-9), 1),
        },
        "output": str(out),
        "config": cfg,
        "manifest": build_manifest(cfg, [config.src, config.tgt], encoder.describe(), [config.seed]),
    }
    rep_path = out.with_name(out.stem + ".report.json")
    write_json(rep_path, report)
    report["report_path"] = str(rep_path)
    return report


# --------------------------------------------------------------------------- NTREX evaluation


@dataclass
class MineEvalConfig:
    """Settings of ``xlt mine --eval ntrex``.

    Attributes:
        langs: comma-separated target languages (mined against English).
        margins, strategies: comma-separated lists to compare (default: all).
        k: neighbourhood size. parallel_fraction: share of true pairs in each task.
        report_margin, report_strategy: the method whose F1 is the report's headline score.
        index: FAISS index kind. layer, pooling, batch_size: embedding settings.
        distractors: extra non-parallel sentences per pile, taken from each language's PAN-X
        (Wikipedia) file (``dev-en.tsv`` for English), as BUCC hides pairs in large comparable
        corpora; 0 = only NTREX's own non-parallel lines. distractor_min_words: skip PAN-X
        sentences shorter than this (short fragments such as place names are often identical
        across languages, i.e. accidental translations).
        seed: task-building seed. data_dir: data folder. out: report folder (an existing non-empty
            one is replaced only with ``overwrite``).
    """

    langs: str = "deu,fra,rus,zho-CN,swa"
    model: str = DEFAULT_MODEL
    margins: str = ",".join(MARGINS)
    strategies: str = ",".join(STRATEGIES)
    k: int = 4
    parallel_fraction: float = 0.2
    report_margin: str = "ratio"
    report_strategy: str = "max"
    index: str = "auto"
    layer: str = "last"
    pooling: str = "mean"
    batch_size: int = 64
    distractors: int = 0
    distractor_min_words: int = 0
    seed: int = 0
    data_dir: str | None = None
    out: str | None = None
    overwrite: bool = False
    progress: bool = True


def _split_list(text: str, options, name: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    for it in items:
        _check_choice(name, it, options)
    if not items:
        raise ValueError(f"no {name} given")
    return items


def panx_distractors(lang: str, n: int, min_words: int = 0, data_dir: str | None = None,
                     seed: int = 0) -> tuple[list[str], dict[str, Any]]:
    """Up to ``n`` unique PAN-X sentences (tokens joined by spaces; no spaces for zh/ja) of ``lang``.

    Sentences are drawn in a seeded random order from the language's PAN-X evaluation file
    (``dev-en.tsv`` for English), skipping those with fewer than ``min_words`` tokens.

    Returns:
        ``(sentences, info)`` with the file, its sentence count and how many were kept.

    Raises:
        UnknownLanguageError: PAN-X has no such language. DatasetNotFoundError: no PAN-X folder.
    """
    from xlt.data import tasks
    from xlt.data.langs import iso639_3
    from xlt.retrieval.mining import unique_sentences

    avail = tasks.available_languages("panx", data_dir)
    code = tasks.match_task_language("panx", lang, data_dir)
    path = avail[code]
    if code == "en" and not path.name.startswith("dev"):
        path = path.with_name("dev-en.tsv")
    examples, _ = tasks.load_split("panx", path)
    joiner = "" if iso639_3(code) in {"zho", "jpn"} else " "
    order = np.random.default_rng(seed).permutation(len(examples))
    texts = [joiner.join(examples[i].tokens) for i in order if len(examples[i].tokens) >= min_words]
    kept = unique_sentences(texts).sentences[:n]
    return kept, {"file": str(path), "sentences_in_file": len(examples), "used": len(kept)}


def _methods_markdown(per_lang: dict[str, dict[str, Any]], key: str, title: str) -> str:
    langs = list(per_lang)
    methods = list(next(iter(per_lang.values()))["methods"])
    head = f"## {title}\n\n| margin/strategy | " + " | ".join(langs) + " | average |\n|---|" + "---:|" * (len(langs) + 1)
    rows = []
    for m in methods:
        vals = [per_lang[l]["methods"][m][key] for l in langs]
        rows.append(f"| {m} | " + " | ".join(f"{v:.1f}" for v in vals) + f" | {np.mean(vals):.1f} |")
    return "\n".join([head, *rows])


def run_mine_eval(config: MineEvalConfig, command: list[str] | None = None) -> dict[str, Any]:
    """BUCC-style mining evaluation on NTREX for each language against English.

    Returns:
        a report dict in the ``xlt transfer`` layout (``scores`` = test F1 of
        ``report_margin/report_strategy`` per language, in percent) with ``methods``: language
        → margin/strategy → threshold, P, R, F1, oracle F1; written with
        :func:`xlt.evaluate.report.write_report` when ``config.out`` is set.

    Raises:
        UnknownLanguageError: a language not in NTREX; DatasetNotFoundError: no NTREX folder;
        DataFormatError: files of different lengths; ValueError: bad settings.
    """
    from xlt.data.parallel import NTREX_SOURCE, read_multiparallel, select_ntrex

    margins = _split_list(config.margins, MARGINS, "margin")
    strategies = _split_list(config.strategies, STRATEGIES, "strategy")
    OutputPlan(inputs=[("--model", config.model), ("--data-dir", data_set_folders(config.data_dir))],
               outputs=[Output("--out", Path(config.out))] if config.out else [], overwrite=config.overwrite).check()
    _check_choice("report margin", config.report_margin, margins)
    _check_choice("report strategy", config.report_strategy, strategies)
    t0 = time.perf_counter()
    files = select_ntrex(config.langs, config.data_dir)
    if len(files) < 2:
        raise ValueError("give at least one target language with --langs")
    corpus = read_multiparallel(files)
    encoder = loading.load_encoder(config.model, device="auto")
    emb_opts = dict(batch_size=config.batch_size, layer=parse_layer(config.layer), pooling=config.pooling, progress=False)
    t = time.perf_counter()
    x_all = embed_to_array(encoder, corpus.texts[NTREX_SOURCE], **emb_opts)
    embed_s, n_embedded = time.perf_counter() - t, len(corpus.texts[NTREX_SOURCE])
    distractor_info: dict[str, Any] = {}
    x_extra = None
    if config.distractors:
        texts, distractor_info[NTREX_SOURCE] = panx_distractors("en", config.distractors,
                                                                config.distractor_min_words, config.data_dir,
                                                                config.seed)
        x_extra = embed_to_array(encoder, texts, **emb_opts)
        n_embedded += len(texts)
        data_extra = [distractor_info[NTREX_SOURCE]["file"]]
    else:
        data_extra = []
    per_lang, scores, counts = {}, {}, {}
    for lang in tqdm([l for l in files if l != NTREX_SOURCE], desc="languages", disable=not config.progress):
        t = time.perf_counter()
        y_all = embed_to_array(encoder, corpus.texts[lang], **emb_opts)
        n_embedded += len(corpus.texts[lang])
        y_extra = None
        if config.distractors:
            texts, distractor_info[lang] = panx_distractors(lang, config.distractors, config.distractor_min_words,
                                                            config.data_dir, config.seed)
            y_extra = embed_to_array(encoder, texts, **emb_opts)
            n_embedded += len(texts)
            data_extra.append(distractor_info[lang]["file"])
        embed_s += time.perf_counter() - t
        res = evaluate_language(x_all, y_all, corpus.texts[NTREX_SOURCE], corpus.texts[lang], margins=margins,
                                strategies=strategies, k=config.k, parallel_fraction=config.parallel_fraction,
                                seed=config.seed, index=config.index, x_extra=x_extra, y_extra=y_extra)
        per_lang[lang] = res
        scores[lang] = res["methods"][f"{config.report_margin}/{config.report_strategy}"]["f1"]
        counts[lang] = {"sentences": res["tasks"]["test"]["tgt"], "skipped_empty": corpus.n_skipped_empty,
                        "gold_pairs_test": res["tasks"]["test"]["gold"]}
    cfg = {k: v for k, v in asdict(config).items() if k != "progress"}
    argv = command if command is not None else sys.argv
    method_avgs = {m: float(np.mean([per_lang[l]["methods"][m]["f1"] for l in per_lang]))
                   for m in next(iter(per_lang.values()))["methods"]}
    report = {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "ntrex-mining",
        "model": config.model,
        "mode": f"mining ({config.report_margin} margin, {config.report_strategy})",
        "source": NTREX_SOURCE,
        "metric": "f1",
        "metric_name": "mining F1 (%) vs English, threshold from the dev half",
        "scores": scores,
        "average": float(np.mean(list(scores.values()))),
        "n_targets": len(scores),
        "methods": {l: r["methods"] for l, r in per_lang.items()},
        "method_average_f1": method_avgs,
        "tasks": {l: r["tasks"] for l, r in per_lang.items()},
        "distractors": distractor_info,
        "counts": counts,
        "seconds": {"total": round(time.perf_counter() - t0, 1), "embedding": round(embed_s, 1)},
        "sentences_per_second": {"embedding": round(n_embedded / max(embed_s, 1e-9), 1)},
        "config": cfg,
        "extra_markdown": [
            _methods_markdown(per_lang, "f1", "Test F1 (%) per margin and strategy (threshold from the dev half)"),
            _methods_markdown(per_lang, "oracle_f1", "Oracle test F1 (%) (best threshold on the test half itself)"),
        ],
        "manifest": build_manifest(cfg, list(files.values()) + data_extra, encoder.describe(),
                                   [config.seed]),
    }
    if config.out:
        write_report(config.out, report)
    return report
