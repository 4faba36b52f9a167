"""The ``xlt`` command line: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from xlt.models.loading import DEFAULT_MODEL


def _seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"3"`` (meaning 0,1,2) → list of seeds."""
    if "," in text:
        return [int(s) for s in text.split(",") if s.strip()]
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("--seeds needs a positive count or a comma-separated list")
    return list(range(n))


def _layer(text: str) -> str:
    """``mix``, ``last`` or a (possibly negative) layer number, as given."""
    if text in {"mix", "last"}:
        return text
    try:
        int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layer must be 'mix', 'last' or an integer, got {text!r}") from None
    return text


def _add_transfer(sub) -> None:
    p = sub.add_parser("transfer", help="train on the source language, evaluate zero-shot on targets",
                       description="Zero-shot cross-lingual transfer (XTREME protocol): train a task "
                                   "model on the source language, score every target language, write "
                                   "report.json, report.md and scores.png.")
    p.add_argument("--task", required=True, choices=["udpos", "panx", "sib200"])
    p.add_argument("--source", default="en", help="source language (en, eng, eng_Latn all work)")
    p.add_argument("--targets", default="all", help="'all' or a comma-separated list of languages")
    p.add_argument("--model", default=DEFAULT_MODEL, help="bundled:e5-small, a HF id or a local folder")
    p.add_argument("--mode", default="probe", choices=["probe", "finetune"])
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--layer", default="mix", type=_layer, help="probe features: mix, last, or a layer number (0 = embeddings)")
    p.add_argument("--head", default="linear", choices=["linear", "mlp"], help="probe head")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seeds", type=_seeds, default=[0], help="a count (3 = seeds 0,1,2) or a list (0,5,7)")
    p.add_argument("--train-limit", type=int, help="use the first N training sentences")
    p.add_argument("--eval-limit", type=int, help="use the first N sentences of each dev/evaluation set")
    p.add_argument("--ckpt-avg", type=int, default=0,
                   help="finetune: average the weights of the last N epochs (Schmidt et al. 2023)")
    p.add_argument("--max-length", type=int, default=128, help="finetune: training length in tokens")
    p.add_argument("--train-embeddings", action="store_true",
                   help="finetune: also train the word-embedding matrix (frozen by default: much faster on CPU)")
    p.add_argument("--data-dir", help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    p.add_argument("--cache-dir", help="probe: on-disk feature cache folder")
    p.add_argument("--aligner", help="probe: a map file from 'xlt align fit'; every language's features are "
                                     "mapped into the source space before the head")
    p.add_argument("--no-progress", action="store_true")


def _cmd_transfer(args, argv: list[str]) -> int:
    from xlt.data.langs import language_name
    from xlt.transfer.run import TransferConfig, run_transfer

    cfg = TransferConfig(task=args.task, source=args.source, targets=args.targets, model=args.model,
                         mode=args.mode, layer=args.layer, head=args.head, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seeds=args.seeds,
                         train_limit=args.train_limit, eval_limit=args.eval_limit, ckpt_avg=args.ckpt_avg,
                         freeze_embeddings=not args.train_embeddings,
                         max_length=args.max_length, data_dir=args.data_dir, cache_dir=args.cache_dir,
                         out=args.out, aligner=args.aligner, progress=not args.no_progress)
    report = run_transfer(cfg, command=["xlt"] + argv)
    src = report["source"]
    rows = sorted(report["scores"].items(), key=lambda kv: -kv[1])
    print(f"\n{report['task']} {report['mode']} {report['metric_name']}, model {report['model']}, "
          f"source {src}, seeds {cfg.seeds}")
    print(f"{'lang':<10} {'language':<28} {'score':>8} {'± std':>7} {'sents':>7}")
    for lang, val in rows:
        mark = " (source)" if lang == src else ""
        try:
            name = language_name(lang)
        except Exception:  # noqa: BLE001 - names are cosmetic here
            name = lang
        print(f"{lang:<10} {(name + mark)[:28]:<28} {val:8.2f} {report['scores_std'][lang]:7.2f} "
              f"{report['counts'][lang]['sentences']:7d}")
    print(f"{'average over ' + str(report['n_targets']) + ' targets':<39} {report['average']:8.2f} "
          f"{report['average_std']:7.2f}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _add_retrieve(sub) -> None:
    from xlt.retrieval.scoring import METHODS

    p = sub.add_parser("retrieve", help="bitext retrieval accuracy on Tatoeba",
                       description="Embed both sides of each Tatoeba test set and report retrieval "
                                   "accuracy in both directions and the xsim error rate.")
    p.add_argument("--dataset", default="tatoeba", choices=["tatoeba"])
    p.add_argument("--langs", default="all", help="'all' or a comma-separated list of languages")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--method", default="cosine", choices=list(METHODS))
    p.add_argument("--k", type=int, help="neighbours for csls (default 10) and margins (default 4)")
    p.add_argument("--layer", default="last", type=_layer, help="hidden state to pool: last or a number")
    p.add_argument("--pooling", default="mean", choices=["mean", "cls"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--data-dir")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--no-progress", action="store_true")


def _cmd_retrieve(args, argv) -> int:
    from xlt.retrieval.run import RetrievalConfig, run_retrieval

    cfg = RetrievalConfig(langs=args.langs, model=args.model, method=args.method, k=args.k,
                          layer=args.layer, pooling=args.pooling, batch_size=args.batch_size,
                          data_dir=args.data_dir, out=args.out, progress=not args.no_progress)
    report = run_retrieval(cfg, command=["xlt"] + argv)
    print(f"\nTatoeba retrieval ({args.method}), model {args.model}")
    print(f"{'lang':<6} {'xx->eng':>8} {'eng->xx':>8} {'pairs':>6}")
    for lang in sorted(report["scores"], key=lambda l: -report["scores"][l]):
        print(f"{lang:<6} {report['scores'][lang]:8.2f} {report['scores_eng_to_xx'][lang]:8.2f} "
              f"{report['counts'][lang]['sentences']:6d}")
    print(f"{'average over ' + str(report['n_targets']):<15} {report['average']:8.2f} {report['average_eng_to_xx']:8.2f}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export-model", help="write a model as a standard Hugging Face folder")
    p.add_argument("spec", help="model spec, e.g. bundled:e5-small")
    p.add_argument("dir", help="output folder")


def _cmd_export(args, argv) -> int:
    from xlt.models.export import export_model

    out = export_model(args.spec, args.dir)
    print(f"exported {args.spec} to {out} (load with AutoModel/AutoTokenizer.from_pretrained)")
    return 0


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench", required=True)
    e = bsub.add_parser("extract", help="xlt's batched feature extraction vs a naive one-sentence loop")
    e.add_argument("--model", default=DEFAULT_MODEL)
    e.add_argument("--file", help="XTREME tsv file to take sentences from "
                                   "(default: the evaluation file of --task/--lang)")
    e.add_argument("--task", default="udpos", choices=["udpos", "panx", "sib200"])
    e.add_argument("--lang", default="en", help="language of the evaluation file to use")
    e.add_argument("--n", type=int, default=500, help="number of sentences")
    e.add_argument("--batch-size", type=int, default=32)
    e.add_argument("--data-dir")
    e.add_argument("--out", help="write the result as JSON here")
    m = bsub.add_parser("mine", help="bitext mining time as the input grows (embedding and FAISS search)")
    m.add_argument("--model", default=DEFAULT_MODEL)
    m.add_argument("--sizes", default="1000,10000,100000", help="sentences per side, comma-separated")
    m.add_argument("--lang", default="de", help="target language (its PAN-X sentences; English is the source)")
    m.add_argument("--indexes", default="flat,ivf", help="FAISS index kinds to time")
    m.add_argument("--batch-size", type=int, default=64)
    m.add_argument("--data-dir")
    m.add_argument("--out", help="write the result as JSON here")


def _bench_mine(args) -> int:
    import json

    from xlt.bench import bench_mine, format_bench_mine, synthetic_sentences
    from xlt.models.loading import load_encoder
    from xlt.retrieval.mine_run import panx_distractors

    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    n = max(sizes)
    sides, sources = [], {}
    for lang in ("en", args.lang):
        real, info = panx_distractors(lang, n, 0, args.data_dir)  # unique PAN-X sentences, seeded order
        words = sorted({w for sent in real for w in sent.split()})
        extra = synthetic_sentences(words, n - len(real) + len(real) // 10, seed=1) if len(real) < n else []
        seen = set(real)
        sides.append((real + [e for e in extra if e not in seen])[:n])
        sources[lang] = {**info, "real": min(len(real), n), "synthetic": max(0, n - len(real))}
    result = bench_mine(load_encoder(args.model), sides[0], sides[1], sizes,
                        [k.strip() for k in args.indexes.split(",") if k.strip()], batch_size=args.batch_size)
    result["input"] = {"model": args.model, "sentences": sources}
    print(format_bench_mine(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


def _cmd_bench(args, argv) -> int:
    import json

    if args.bench == "mine":
        return _bench_mine(args)

    from xlt.bench import bench_extract, format_bench
    from xlt.data import tasks
    from xlt.data.readers import DataFormatError
    from xlt.models.loading import load_encoder

    if args.file:
        path = Path(args.file)
    else:
        path = tasks.available_languages(args.task, args.data_dir)[
            tasks.match_task_language(args.task, args.lang, args.data_dir)]
    examples, _ = tasks.load_split(args.task, path, limit=args.n)
    if not examples:
        raise DataFormatError(path, 1, "no sentences to benchmark")
    sentences = [e.tokens for e in examples] if hasattr(examples[0], "tokens") else [e.text.split() for e in examples]
    enc = load_encoder(args.model)
    result = bench_extract(enc, sentences, batch_size=args.batch_size)
    result["input"] = {"file": str(path), "sentences": len(sentences), "model": args.model}
    print(format_bench(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


def _add_mine(sub) -> None:
    from xlt.retrieval.mining import DEFAULT_APPROX_ABOVE, DEFAULT_CHUNK_SIZE, INDEX_KINDS, MARGINS, STRATEGIES

    p = sub.add_parser("mine", help="margin-based bitext mining (or its NTREX evaluation)",
                       description="Mine translation pairs between two files of sentences (one per line) "
                                   "with margin scores over FAISS nearest neighbours (Artetxe & Schwenk "
                                   "2019), writing 'score<TAB>src<TAB>tgt' lines best first. With --eval "
                                   "ntrex: precision/recall/F1 on BUCC-style tasks built from NTREX.")
    p.add_argument("src", nargs="?", help="source sentences, one per line")
    p.add_argument("tgt", nargs="?", help="target sentences, one per line")
    p.add_argument("--out", required=True, help="output TSV (or the report folder with --eval)")
    p.add_argument("--eval", choices=["ntrex"], help="evaluate mining on tasks built from this corpus")
    p.add_argument("--langs", default="deu,fra,rus,zho-CN,swa", help="--eval: target languages vs English")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--margin", default="ratio", choices=list(MARGINS),
                   help="ratio / distance margin, or absolute (plain cosine)")
    p.add_argument("--strategy", default="max", choices=list(STRATEGIES))
    p.add_argument("--k", type=int, default=4, help="neighbours for the margin (default 4)")
    p.add_argument("--threshold", type=float, help="keep pairs scoring at least this (default: all)")
    p.add_argument("--index", default="auto", choices=list(INDEX_KINDS),
                   help="FAISS index: auto = exact flat up to --approx-above vectors per side, IVF above")
    p.add_argument("--approx-above", type=int, default=DEFAULT_APPROX_ABOVE)
    p.add_argument("--nprobe", type=int, default=16, help="IVF lists visited per query")
    p.add_argument("--nlist", type=int, help="IVF lists (default about 4*sqrt(n))")
    p.add_argument("--pq-m", type=int, help="ivfpq: bytes per vector (default dim/8)")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="sentences per embedding/search chunk")
    p.add_argument("--work-dir", help="folder for on-disk embedding memmaps of large inputs (default: temp)")
    p.add_argument("--layer", default="last", type=_layer)
    p.add_argument("--pooling", default="mean", choices=["mean", "cls"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--distractors", type=int, default=0,
                   help="--eval: extra non-parallel PAN-X sentences per side and language (default 0)")
    p.add_argument("--distractor-min-words", type=int, default=0,
                   help="--eval: skip PAN-X distractors shorter than this many tokens")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir")
    p.add_argument("--no-progress", action="store_true")


def _cmd_mine(args, argv) -> int:
    from xlt.errors import UsageError
    from xlt.retrieval.mine_run import MineConfig, MineEvalConfig, run_mine, run_mine_eval

    if args.layer == "mix":
        raise UsageError("--layer must be 'last' or a layer number")
    if args.eval:
        if args.src or args.tgt:
            raise UsageError("give either SRC TGT files or --eval, not both")
        cfg = MineEvalConfig(langs=args.langs, model=args.model, k=args.k, index=args.index, layer=args.layer,
                             pooling=args.pooling, batch_size=args.batch_size, seed=args.seed,
                             distractors=args.distractors, distractor_min_words=args.distractor_min_words,
                             data_dir=args.data_dir, out=args.out, progress=not args.no_progress)
        report = run_mine_eval(cfg, command=["xlt"] + argv)
        print(f"\nNTREX mining F1 (%) vs English, model {args.model}; threshold chosen on the dev half")
        methods = list(report["method_average_f1"])
        print(f"{'margin/strategy':<24}" + "".join(f"{l:>9}" for l in report["scores"]) + f"{'avg':>8}")
        for m in methods:
            vals = [report["methods"][l][m]["f1"] for l in report["scores"]]
            print(f"{m:<24}" + "".join(f"{v:9.1f}" for v in vals) + f"{report['method_average_f1'][m]:8.1f}")
        print(f"report: {Path(args.out) / 'report.md'}")
        return 0
    if not (args.src and args.tgt):
        raise UsageError("give SRC and TGT files (or --eval ntrex)")
    cfg = MineConfig(src=args.src, tgt=args.tgt, out=args.out, model=args.model, margin=args.margin,
                     strategy=args.strategy, k=args.k, threshold=args.threshold, index=args.index,
                     approx_above=args.approx_above, nprobe=args.nprobe, nlist=args.nlist, pq_m=args.pq_m,
                     chunk_size=args.chunk_size, work_dir=args.work_dir, layer=args.layer, pooling=args.pooling,
                     batch_size=args.batch_size, seed=args.seed, progress=not args.no_progress)
    report = run_mine(cfg, command=["xlt"] + argv)
    c = report["counts"]
    for side in ("src", "tgt"):
        print(f"{side}: {c[side]['lines']} lines, {c[side]['kept']} kept, {c[side]['skipped_empty']} empty "
              f"and {c[side]['skipped_duplicate']} duplicate lines skipped")
    print(f"{report['n_pairs']} pairs ({args.margin} margin, {args.strategy}) in {report['seconds']['total']:.1f} s "
          f"-> {args.out} (report: {report['report_path']})")
    return 0


def _add_analyze(sub) -> None:
    p = sub.add_parser("analyze", help="layer-wise cross-lingual alignment on NTREX (MEXA, retrieval, "
                                       "language neutrality, language similarity)",
                       description="Encode every selected NTREX language at every layer and report, per "
                                   "layer, retrieval accuracy to English, MEXA alignment, language-ID "
                                   "accuracy before/after mean-centering, plus an mPLM-Sim language "
                                   "similarity matrix and source-language rankings. "
                                   "'xlt analyze correlate' relates alignment to zero-shot transfer.")
    p.add_argument("--parallel", default="ntrex", choices=["ntrex"], help="multi-parallel set")
    p.add_argument("--langs", default="all", help="'all' or a comma-separated list (de,zh or deu,zho-CN)")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--out", help="report folder (required)")
    p.add_argument("--layer", default="best",
                   help="layer behind the scores and similarity matrix: best (highest mean MEXA), mean, or a number")
    p.add_argument("--layers", default="all", help="layers to analyse: all or a list like 0,6,12")
    p.add_argument("--pooling", default="mean", choices=["mean", "mean_nospecial", "cls"])
    p.add_argument("--limit", type=int, help="use the first N multi-parallel sentences")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--targets", help="languages to rank source languages for (default: all)")
    p.add_argument("--top", type=int, default=5, help="ranked sources shown per target in report.md")
    p.add_argument("--lid-sentences", type=int, default=1000,
                   help="sentences per language for the language-ID probe (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(analyze_parser=p)
    asub = p.add_subparsers(dest="analyze_command", required=False, metavar="{correlate}")
    c = asub.add_parser("correlate", help="correlate alignment scores with zero-shot transfer scores",
                        description="Pearson and Spearman correlation between each language's alignment "
                                    "score (an 'xlt analyze' report) and its zero-shot score (an 'xlt "
                                    "transfer' report), at one layer and at every layer.")
    c.add_argument("--alignment", required=True, help="folder (or report.json) of an xlt analyze run")
    c.add_argument("--transfer", required=True, help="folder (or report.json) of an xlt transfer run")
    c.add_argument("--metric", default="mexa", choices=["mexa", "retrieval"])
    c.add_argument("--layer", dest="corr_layer", metavar="LAYER",
                   help="a layer number or mean (default: the layer of the alignment report)")
    c.add_argument("--out", dest="corr_out", metavar="DIR", help="folder for report.json, report.md and correlation.png")


def _cmd_analyze(args, argv) -> int:
    from xlt.evaluate.analyze import AnalyzeConfig, correlate, run_analyze

    if args.analyze_command == "correlate":
        layer = args.corr_layer
        if layer is not None and layer != "mean":
            try:
                layer = int(layer)
            except ValueError:
                args.analyze_parser.error(f"--layer must be a number or 'mean', got {layer!r}")
        rep = correlate(args.alignment, args.transfer, metric=args.metric, layer=layer, out=args.corr_out,
                        command=["xlt"] + argv)
        print(f"\n{rep['metric_name']} (layer {rep['layer']}) vs zero-shot {rep['transfer_task']} "
              f"{rep['transfer_metric']}, n = {rep['n']}")
        print(f"Pearson r = {rep['pearson']['r']:.3f} (p = {rep['pearson']['p']:.2g}), "
              f"Spearman rho = {rep['spearman']['rho']:.3f} (p = {rep['spearman']['p']:.2g})")
        print(f"best layer: {rep['best_layer']['pearson']} (Pearson), {rep['best_layer']['spearman']} (Spearman)")
        if rep["unmatched_transfer"]:
            print(f"unmatched transfer languages: {', '.join(rep['unmatched_transfer'])}")
        if args.corr_out:
            print(f"report: {Path(args.corr_out) / 'report.md'}")
        return 0
    if not args.out:
        args.analyze_parser.error("the following arguments are required: --out")
    cfg = AnalyzeConfig(parallel=args.parallel, langs=args.langs, model=args.model, pooling=args.pooling,
                        layers=args.layers, layer=args.layer, batch_size=args.batch_size, limit=args.limit,
                        targets=args.targets, top=args.top, lid_sentences=args.lid_sentences or None,
                        seed=args.seed, data_dir=args.data_dir, out=args.out, progress=not args.no_progress)
    rep = run_analyze(cfg, command=["xlt"] + argv)
    print(f"\nNTREX alignment, model {args.model}: {rep['n_targets']} languages ↔ eng, "
          f"{rep['counts']['sentences']} sentences")
    print(f"{'layer':>5} {'MEXA':>7} {'xx->eng':>8} {'eng->xx':>8} {'langID':>7} {'centred':>8}")
    for r in rep["per_layer_average"]:
        print(f"{r['layer']:>5} {r['mexa']:7.2f} {r['retrieval_xx_to_eng']:8.2f} {r['retrieval_eng_to_xx']:8.2f} "
              f"{r['lid_accuracy']:7.2f} {r['lid_accuracy_centered']:8.2f}")
    print(f"reported layer {rep['layer']}: mean MEXA {rep['average']:.2f}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _add_wordalign(sub) -> None:
    from xlt.align.words import DEFAULT_LAYER, LEVELS, SOFTMAX_THRESHOLD
    from xlt.data.wordalign import WORD_TOKENIZERS

    p = sub.add_parser("wordalign", help="word alignment from a multilingual encoder (SimAlign, awesome-align)",
                       description="Align the words of 'source ||| target' lines with similarity-based "
                                   "extraction (SimAlign: argmax, itermax, match; awesome-align: softmax) "
                                   "and write Pharaoh links (0-based i-j, one line per pair). "
                                   "'xlt wordalign eval' scores a Pharaoh file against a gold one.")
    p.add_argument("--pairs", help="input file: one 'source ||| target' pair per line (required)")
    p.add_argument("--out", help="output Pharaoh file; with several methods {method} in it is replaced, "
                                 "else the method goes before the suffix (required)")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--method", default="argmax",
                   help="argmax, itermax, match, softmax, a comma-separated list or 'all' (one encoder pass)")
    p.add_argument("--layer", type=int, default=DEFAULT_LAYER,
                   help=f"hidden state index (0 = embeddings; default {DEFAULT_LAYER}, as SimAlign)")
    p.add_argument("--tokenizer", default="space", choices=sorted(WORD_TOKENIZERS),
                   help="word tokeniser: space (pre-tokenised input) or simple (raw text: punctuation split off)")
    p.add_argument("--level", default="subword", choices=list(LEVELS),
                   help="similarities between subwords (SimAlign bpe, default) or mean-pooled words")
    p.add_argument("--distortion", type=float, default=0.0, help="SimAlign distortion ratio (0 = off)")
    p.add_argument("--threshold", type=float, default=SOFTMAX_THRESHOLD, help="softmax method threshold")
    p.add_argument("--use-prefix", action="store_true",
                   help="put the model's text prefix (E5: 'query: ') before each sentence (default: raw words)")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per forward pass")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                   help="encoder precision (bfloat16: much faster on CPUs with AMX/AVX512-BF16)")
    p.add_argument("--gold", help="gold Pharaoh file: print AER, precision, recall and F1 per method")
    p.add_argument("--one-based", action="store_true", help="the --gold file is 1-based")
    p.add_argument("--report", help="write the result (scores, counts, timings, config) as JSON here")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(wordalign_parser=p)
    wsub = p.add_subparsers(dest="wordalign_command", required=False, metavar="{eval}")
    e = wsub.add_parser("eval", help="AER, precision, recall and F1 of Pharaoh links against a gold file",
                        description="Score predicted Pharaoh links against gold links (i-j sure, ipj "
                                    "possible): AER (Och & Ney 2003), precision, recall and F1, in %.")
    e.add_argument("--gold", dest="eval_gold", metavar="FILE", required=True, help="gold Pharaoh file")
    e.add_argument("--pred", dest="eval_pred", metavar="FILE", nargs="+", required=True,
                   help="predicted Pharaoh file(s), 0-based")
    e.add_argument("--one-based", dest="eval_one_based", action="store_true", help="the gold file is 1-based")
    e.add_argument("--pred-one-based", dest="eval_pred_one_based", action="store_true",
                   help="the predicted files are 1-based")
    e.add_argument("--pairs", dest="eval_pairs", metavar="FILE",
                   help="'source ||| target' file: check that every link lies inside its sentence pair")
    e.add_argument("--tokenizer", dest="eval_tokenizer", default="space", choices=sorted(WORD_TOKENIZERS))
    e.add_argument("--report", dest="eval_report", metavar="FILE", help="write the scores as JSON here")


def _print_wordalign_scores(rows: list[tuple[str, dict]]) -> None:
    print(f"{'':<24} {'AER':>6} {'P':>6} {'R':>6} {'F1':>6} {'links':>7}")
    for name, s in rows:
        print(f"{name[:24]:<24} {s['aer']:6.2f} {s['precision']:6.2f} {s['recall']:6.2f} {s['f1']:6.2f} "
              f"{s['counts']['pred']:7d}")


def _cmd_wordalign(args, argv) -> int:
    import json

    from xlt.errors import UsageError

    if args.wordalign_command == "eval":
        from xlt.evaluate.wordalign import evaluate_alignment_files

        rows = [(Path(f).name, evaluate_alignment_files(f, args.eval_gold, one_based=args.eval_one_based,
                                                        pred_one_based=args.eval_pred_one_based,
                                                        pairs=args.eval_pairs, tokenizer=args.eval_tokenizer))
                for f in args.eval_pred]
        print(f"gold: {args.eval_gold} ({rows[0][1]['counts']['pairs']} pairs, "
              f"{rows[0][1]['counts']['sure']} sure and {rows[0][1]['counts']['possible']} possible links); "
              "scores in %")
        _print_wordalign_scores(rows)
        if args.eval_report:
            Path(args.eval_report).parent.mkdir(parents=True, exist_ok=True)
            Path(args.eval_report).write_text(json.dumps({"command": ["xlt"] + argv, "scores": dict(rows)},
                                                         indent=2) + "\n", encoding="utf-8")
        return 0
    missing = [f"--{n}" for n in ("pairs", "out") if not getattr(args, n)]
    if missing:
        args.wordalign_parser.error(f"the following arguments are required: {', '.join(missing)}")
    from xlt.align.words import parse_methods, run_wordalign

    try:
        methods = parse_methods(args.method)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not 0.0 < args.threshold < 1.0:
        raise UsageError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.distortion < 0 or args.batch_size < 1:
        raise UsageError("--distortion must be >= 0 and --batch-size >= 1")
    from xlt.models.loading import load_encoder

    encoder = load_encoder(args.model, device="auto")
    if not -(encoder.num_layers + 1) <= args.layer <= encoder.num_layers:
        raise UsageError(f"--layer {args.layer} is outside {args.model} (hidden states 0..{encoder.num_layers}, "
                         "0 = embeddings)")
    res = run_wordalign(args.pairs, args.out, encoder, methods=methods, layer=args.layer, tokenizer=args.tokenizer,
                        gold=args.gold, one_based=args.one_based, report=args.report, command=["xlt"] + argv,
                        batch_size=args.batch_size, level=args.level, distortion=args.distortion,
                        softmax_threshold=args.threshold, use_prefix=args.use_prefix, dtype=args.dtype,
                        progress=not args.no_progress)
    c = res["counts"]
    print(f"{c['aligned']} sentence pairs aligned ({c['skipped_empty']} lines with an empty side skipped) "
          f"with {args.model}, layer {res['config']['layer']}, in {res['seconds']['total']:.1f} s "
          f"({res['pairs_per_second']:.1f} pairs/s)")
    for m, path in res["outputs"].items():
        print(f"{m}: {path}")
    if res["scores"]:
        print(f"scores against {args.gold} (%):")
        _print_wordalign_scores(list(res["scores"].items()))
    if args.report:
        print(f"report: {args.report}")
    return 0


def _add_project(sub) -> None:
    from xlt.data.wordalign import WORD_TOKENIZERS

    p = sub.add_parser("project", help="project BIO spans onto translations through word alignments",
                       description="Label projection: each BIO span of the source sentence goes to the "
                                   "contiguous target range from the first to the last target word linked "
                                   "to it (Yarowsky et al. 2001); spans with no link are unprojectable, "
                                   "overlapping projections are resolved in favour of the span with more "
                                   "links. Writes the target side as XTREME token<TAB>TAG lines plus a JSON "
                                   "statistics file. With --silver ntrex instead of the file options: the "
                                   "whole silver-data pipeline (tag NTREX English with an English PAN-X "
                                   "probe, align, project, train on the projected data) and its PAN-X dev "
                                   "F1 next to zero-shot transfer, as a report folder.")
    p.add_argument("--src-tags", metavar="FILE.tsv",
                   help="source sentences, XTREME 'token<TAB>TAG' lines (BIO), blank line between sentences")
    p.add_argument("--tgt", metavar="FILE",
                   help="target sentences: tokenised text (one per line) or a 'source ||| target' file")
    p.add_argument("--align", metavar="FILE",
                   help="Pharaoh links (i-j), one line per sentence pair, 0-based unless --one-based")
    p.add_argument("--out", required=True, metavar="FILE.tsv|DIR",
                   help="output: the tagged target side (with --silver: the report folder)")
    p.add_argument("--stats", metavar="FILE.json", help="statistics file (default: --out with .stats.json)")
    p.add_argument("--one-based", action="store_true", help="the --align file counts words from 1")
    p.add_argument("--tgt-format", choices=["auto", "text", "pairs"],
                   help="auto (default): a pairs file when the first line contains '|||'")
    p.add_argument("--tokenizer", choices=sorted(WORD_TOKENIZERS),
                   help="word tokeniser of --tgt (default space); use the one the alignments were made with")
    p.add_argument("--max-gap", type=int, metavar="N",
                   help="drop a projected span with more than N unlinked words inside it (default: no limit)")
    p.add_argument("--use-possible", action="store_true", help="also use 'ipj' possible links (default: sure only)")
    p.add_argument("--drop-partial", action=argparse.BooleanOptionalAction, default=True,
                   help="leave out sentences where some source span could not be projected (default: yes)")
    p.add_argument("--keep-empty", action=argparse.BooleanOptionalAction, default=True,
                   help="keep sentences with no source entity, as all-O training data (default: yes)")
    s = p.add_argument_group("silver-data mode (--silver; not with the file options above)")
    s.add_argument("--silver", choices=["ntrex"],
                   help="build silver NER data from this parallel corpus, train on it and compare with zero-shot")
    s.add_argument("--langs", help="target languages (default de,fr,es,ru,zh; zho-TW for traditional Chinese)")
    s.add_argument("--model", help=f"encoder for probes and alignment (default {DEFAULT_MODEL})")
    s.add_argument("--align-method", choices=["argmax", "itermax", "match", "softmax"],
                   help="word alignment method (default itermax: more links, fewer unprojectable spans; "
                        "argmax is the higher-precision choice)")
    s.add_argument("--align-layer", type=int, help="hidden state for alignment (default 8)")
    s.add_argument("--train-limit", type=int, help="first N PAN-X English training sentences (default 5000)")
    s.add_argument("--eval-limit", type=int, help="first N sentences of each PAN-X dev set (default 1000)")
    s.add_argument("--seeds", type=_seeds, help="a count (3 = seeds 0,1,2) or a list (0,5,7); default 0")
    s.add_argument("--epochs", type=int, help="probe epochs (default: as xlt transfer's probe, 10)")
    s.add_argument("--batch-size", type=int, help="probe batch size (default 256)")
    s.add_argument("--lr", type=float, help="probe learning rate (default 1e-3)")
    s.add_argument("--data-dir", help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    s.add_argument("--cache-dir", help="on-disk feature cache folder")
    s.add_argument("--no-progress", action="store_true")


_PROJECT_FILE_OPTIONS = ("src_tags", "tgt", "align", "stats", "one_based", "tgt_format", "tokenizer", "use_possible")
_PROJECT_SILVER_OPTIONS = ("langs", "model", "align_method", "align_layer", "train_limit", "eval_limit", "seeds",
                           "epochs", "batch_size", "lr", "data_dir", "cache_dir", "no_progress")


def _opt(name: str) -> str:
    return "--" + name.replace("_", "-")


def _cmd_project_silver(args, argv) -> int:
    from xlt.errors import UsageError
    from xlt.transfer.silver import SilverConfig, run_silver

    given = [_opt(n) for n in _PROJECT_FILE_OPTIONS if getattr(args, n) not in (None, False)]
    if given:
        raise UsageError(f"--silver builds its own inputs; it cannot be combined with {', '.join(given)}")
    for name in ("train_limit", "eval_limit", "epochs", "batch_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UsageError(f"{_opt(name)} must be >= 1")
    given = {n: getattr(args, n) for n in _PROJECT_SILVER_OPTIONS if n != "no_progress"}
    cfg = SilverConfig(parallel=args.silver, max_gap=args.max_gap, drop_partial=args.drop_partial,
                       keep_empty=args.keep_empty, out=args.out, progress=not args.no_progress,
                       **{n: v for n, v in given.items() if v is not None})  # unset: SilverConfig's defaults
    rep = run_silver(cfg, command=["xlt"] + argv)
    first = str(cfg.seeds[0])
    print(f"\nPAN-X {rep['metric_name']}, model {rep['model']}, silver data from {args.silver} "
          f"({cfg.align_method}, layer {cfg.align_layer}), seeds {cfg.seeds}")
    print(f"{'lang':<6} {'zero-shot':>9} {'silver':>8} {'delta':>7} {'silver sents':>12} {'spans proj.':>12}")
    for lang, val in rep["scores"].items():
        zs = rep["zero_shot_scores"][lang]
        s = rep["counts"][lang]["silver"][first]
        print(f"{lang:<6} {zs:9.2f} {val:8.2f} {val - zs:+7.2f} {s['kept']:12d} "
              f"{s['spans']['projected']:5d}/{s['spans']['n_spans']:<6d}")
    print(f"{'avg':<6} {rep['zero_shot_average']:9.2f} {rep['average']:8.2f} "
          f"{rep['average'] - rep['zero_shot_average']:+7.2f}")
    print(f"report: {Path(args.out) / 'report.md'} (silver data: {Path(args.out) / 'silver'})")
    return 0


def _cmd_project(args, argv) -> int:
    from xlt.align.projection import project_files
    from xlt.errors import UsageError

    if args.max_gap is not None and args.max_gap < 0:
        raise UsageError(f"--max-gap must be >= 0, got {args.max_gap}")
    if args.silver:
        return _cmd_project_silver(args, argv)
    given = [_opt(n) for n in _PROJECT_SILVER_OPTIONS if n != "no_progress" and getattr(args, n) is not None]
    if given:
        raise UsageError(f"{', '.join(given)} only apply with --silver")
    missing = [_opt(n) for n in ("src_tags", "tgt", "align") if getattr(args, n) is None]
    if missing:
        raise UsageError(f"give {', '.join(missing)} (or --silver ntrex to build silver data)")
    args.tgt_format = args.tgt_format or "auto"
    args.tokenizer = args.tokenizer or "space"
    out = Path(args.out).resolve()
    for name in ("src_tags", "tgt", "align"):
        if Path(getattr(args, name)).resolve() == out:
            raise UsageError(f"--out {args.out} would overwrite the --{name.replace('_', '-')} input")
    rep = project_files(args.src_tags, args.tgt, args.align, args.out, one_based=args.one_based,
                        tgt_format=args.tgt_format, tokenizer=args.tokenizer, max_gap=args.max_gap,
                        use_possible=args.use_possible, drop_partial=args.drop_partial,
                        keep_empty=args.keep_empty, stats_path=args.stats, command=["xlt"] + argv)
    s, sp = rep["sentences"], rep["spans"]
    pct = f" ({sp['projected_pct']:.1f}%)" if sp["projected_pct"] is not None else ""
    print(f"spans: {sp['n_spans']} source, {sp['projected']} projected{pct}, {sp['unprojectable']} unprojectable, "
          f"{sp['conflicts']} conflicts, {sp['too_gappy']} too gappy")
    for label, c in sp["per_label"].items():
        print(f"  {label:<8} {c['spans']:6d} source {c['projected']:6d} projected {c['unprojectable']:6d} "
              f"unprojectable {c['conflicts']:5d} conflicts {c['too_gappy']:5d} too gappy")
    print(f"sentences: {s['read']} read, {s['written']} written; {s['empty_target']} with an empty target, "
          f"{s['dropped_partial']} dropped as partial, {s['dropped_no_entity']} dropped without entities")
    if s["src_word_mismatch"]:
        print(f"warning: {s['src_word_mismatch']} pairs-file source sides differ from the tsv words "
              "(same counts); check that the files are in the same order")
    print(f"output: {rep['outputs']['tsv']} (stats: {rep['outputs']['stats']})")
    return 0


COMMANDS = {"transfer": _cmd_transfer, "retrieve": _cmd_retrieve, "mine": _cmd_mine,
            "analyze": _cmd_analyze, "export-model": _cmd_export, "bench": _cmd_bench,
            "wordalign": _cmd_wordalign, "project": _cmd_project}  # "align" is added after its definition


def build_parser() -> argparse.ArgumentParser:
    """The ``xlt`` argument parser with all subcommands."""
    parser = argparse.ArgumentParser(prog="xlt", description="zero-shot cross-lingual transfer toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_transfer(sub)
    _add_retrieve(sub)
    _add_mine(sub)
    _add_analyze(sub)
    _add_export(sub)
    _add_bench(sub)
    _add_wordalign(sub)
    _add_project(sub)
    _add_align(sub)
    return parser


def _add_align(sub) -> None:
    from xlt.align.maps import METHODS

    p = sub.add_parser("align", help="cross-lingual maps (centering, Procrustes, linear) and fine-tuning alignment",
                       description="'fit': per-language, per-layer maps of word vectors into the English space, "
                                   "from word-aligned NTREX text or bilingual dictionaries (use them with "
                                   "'xlt transfer --aligner'); 'eval': word retrieval before/after on held-out "
                                   "NTREX lines; 'finetune': fine-tune the encoder itself (Cao et al. 2020).")
    asub = p.add_subparsers(dest="align_command", required=True)
    f = asub.add_parser("fit", help="fit maps and save them")
    f.add_argument("--method", default="procrustes",
                   help=f"one or several (comma-separated) of: {', '.join(METHODS)}; several share one encoder pass")
    f.add_argument("--supervision", default="parallel", choices=["parallel", "dictionary"])
    f.add_argument("--langs", default="all",
                   help="target languages (codes), task names (udpos, panx: their targets with NTREX text) or all")
    f.add_argument("--model", default=DEFAULT_MODEL)
    f.add_argument("--layers", default="all", help="all (embeddings and every layer) or comma-separated indices")
    f.add_argument("--dictionary", default="wiktionary", choices=["wiktionary", "bli"],
                   help="dictionary supervision: dict/en-<language>.txt or bli/en-xx 5k training sets")
    f.add_argument("--align-layer", type=int, default=8, help="word aligner layer (parallel supervision)")
    f.add_argument("--align-dtype", default="float32", choices=["float32", "bfloat16"])
    f.add_argument("--max-sentences", type=int, help="NTREX lines used for fitting (default: all but --heldout)")
    f.add_argument("--heldout", type=int, default=200, help="final NTREX lines kept apart for 'xlt align eval'")
    f.add_argument("--max-pairs", type=int, default=50000, help="per-language cap on pairs (0 = no cap)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", required=True, help="map file (.npz); with several methods, <stem>.<method>.npz each")
    f.add_argument("--data-dir")
    f.add_argument("--cache-dir", help="on-disk feature cache folder")
    f.add_argument("--no-progress", action="store_true")
    e = asub.add_parser("eval", help="word retrieval P@1 before and after maps, on held-out NTREX lines")
    e.add_argument("--aligner", nargs="*", default=[],
                   help="map file(s) from 'xlt align fit' (none: score --model's own vectors, e.g. a "
                        "fine-tuning-aligned encoder; --langs is then required)")
    e.add_argument("--langs", help="target languages (default: the first map file's)")
    e.add_argument("--model", help="model spec (default: the one the maps were fitted on)")
    e.add_argument("--heldout", type=int, default=200)
    e.add_argument("--align-layer", type=int, default=8)
    e.add_argument("--no-gold", action="store_true", help="skip the human-aligned wordalign sets")
    e.add_argument("--data-dir")
    e.add_argument("--out", help="JSON report")
    e.add_argument("--no-progress", action="store_true")
    t = asub.add_parser("finetune", help="fine-tuning alignment (Cao et al. 2020): a new encoder folder")
    t.add_argument("--langs", default="all", help="as for 'fit'")
    t.add_argument("--model", default=DEFAULT_MODEL)
    t.add_argument("--loss", default="l2", choices=["l2", "contrastive"])
    t.add_argument("--reg-weight", type=float, default=1.0, help="weight of the English-vector regulariser")
    t.add_argument("--layer", type=int, default=-1, help="hidden state to align (-1 = last, as Cao et al.)")
    t.add_argument("--align-layer", type=int, default=8)
    t.add_argument("--align-dtype", default="float32", choices=["float32", "bfloat16"])
    t.add_argument("--max-sentences", type=int, help="NTREX lines per language (default: all but --heldout)")
    t.add_argument("--heldout", type=int, default=200)
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, help="output model folder (for 'xlt transfer --model')")
    t.add_argument("--data-dir")
    t.add_argument("--no-progress", action="store_true")


def _cmd_align(args, argv) -> int:
    from xlt.align import fit as af

    if args.align_command == "fit":
        cfg = af.AlignFitConfig(out=args.out, methods=args.method, supervision=args.supervision, langs=args.langs,
                                model=args.model, layers=args.layers, dictionary=args.dictionary,
                                align_layer=args.align_layer, align_dtype=args.align_dtype,
                                max_sentences=args.max_sentences, heldout=args.heldout,
                                max_pairs=args.max_pairs or None, seed=args.seed, data_dir=args.data_dir,
                                cache_dir=args.cache_dir, progress=not args.no_progress)
        rep = af.run_align_fit(cfg, command=["xlt"] + argv)
        print(f"{rep['n_languages']} languages, layers {rep['layers'][0]}..{rep['layers'][-1]}, "
              f"{rep['seconds']['total']:.0f} s (supervision {rep['seconds']['supervision']:.0f} s, "
              f"fitting {rep['seconds']['fit']:.0f} s)")
        print(f"{'lang':<10} {'pairs':>7}")
        for lang, st in rep["supervision"].items():
            print(f"{lang:<10} {st['n_pairs']:7d}")
        for m, path in rep["files"].items():
            print(f"{m}: {path}")
        return 0
    if args.align_command == "eval":
        rep = af.run_align_eval(args.aligner, model=args.model, langs=args.langs, heldout=args.heldout,
                                align_layer=args.align_layer, gold=not args.no_gold, data_dir=args.data_dir,
                                out=args.out, progress=not args.no_progress, command=["xlt"] + argv)
        for src, table in rep["summary"].items():
            names = list(table)
            print(f"\n{src}: word retrieval P@1 (%), mean over languages: within sentence / among all English words")
            print(f"{'layer':>5} " + " ".join(f"{Path(n).name[-22:]:>22}" for n in names))
            for k in table[names[0]]:
                print(f"{k:>5} " + " ".join(f"{table[n][k]['sentence']:10.1f} /{table[n][k]['all']:9.1f}"
                                            for n in names))
        return 0
    cfg = af.AlignFinetuneConfig(out=args.out, langs=args.langs, model=args.model, loss=args.loss,
                                 reg_weight=args.reg_weight, layer=args.layer, align_layer=args.align_layer,
                                 align_dtype=args.align_dtype, max_sentences=args.max_sentences,
                                 heldout=args.heldout, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                 seed=args.seed, data_dir=args.data_dir, progress=not args.no_progress)
    rep = af.run_align_finetune(cfg, command=["xlt"] + argv)
    print(f"fine-tuned on {rep['stats'].get('n_links_used')} links of {len(rep['links'])} languages in "
          f"{rep['seconds']['total']:.0f} s; model folder: {rep['out']}")
    return 0


COMMANDS["align"] = _cmd_align


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xlt`` console script. Returns the process exit code.

    Errors users can fix (bad data lines, unknown languages, missing data or models) are
    printed as one ``xlt: error: ...`` line with exit code 2, without a traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from xlt.errors import USER_ERRORS

    if getattr(args, "no_progress", False):
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

    try:
        return COMMANDS[args.command](args, argv)
    except USER_ERRORS as exc:
        if args.verbose:
            raise
        print(f"xlt: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
