"""``xlt mine``: margin-based bitext mining and its NTREX evaluation."""

from __future__ import annotations

from pathlib import Path

from xlt.models.loading import DEFAULT_MODEL
from xlt.cli._common import layer_arg


def add_parser(sub) -> None:
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
    p.add_argument("--layer", default="last", type=layer_arg)
    p.add_argument("--pooling", default="mean", choices=["mean", "cls"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--distractors", type=int, default=0,
                   help="--eval: extra non-parallel PAN-X sentences per side and language (default 0)")
    p.add_argument("--distractor-min-words", type=int, default=0,
                   help="--eval: skip PAN-X distractors shorter than this many tokens")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir")
    p.add_argument("--no-progress", action="store_true")


def run(args, argv) -> int:
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
