"""``xlt mine``: margin-based bitext mining and its NTREX evaluation.

Options map onto :class:`xlt.jobs.mine.MineConfig` (``xlt mine SRC TGT``) or
:class:`xlt.jobs.mine.MineEvalConfig` (``--eval ntrex``), which hold every default;
``--config run.yaml`` gives any field of the mode's dataclass, and the command line wins.
"""

from __future__ import annotations

from pathlib import Path

from xlt.cli._common import (build_config, config_option, config_values, count_arg, default_of, finite_float_arg,
                             layer_arg, no_progress_to_config, nonneg_int_arg)


def add_parser(sub) -> None:
    from xlt.jobs.mine import MineConfig as C
    from xlt.jobs.mine import MineEvalConfig as E
    from xlt.retrieval.mining import INDEX_KINDS, MARGINS, STRATEGIES

    p = sub.add_parser("mine", help="margin-based bitext mining (or its NTREX evaluation)",
                       description="Mine translation pairs between two files of sentences (one per line) "
                                   "with margin scores over FAISS nearest neighbours (Artetxe & Schwenk "
                                   "2019), writing 'score<TAB>src<TAB>tgt' lines best first. With --eval "
                                   "ntrex: precision/recall/F1 on BUCC-style tasks built from NTREX. "
                                   "--config takes the fields of MineConfig, or of MineEvalConfig with --eval.",
                       argument_default=None)
    config_option(p, C)
    p.add_argument("src", nargs="?", help="source sentences, one per line")
    p.add_argument("tgt", nargs="?", help="target sentences, one per line")
    p.add_argument("--out", help="output TSV (or the report folder with --eval) (required)")
    p.add_argument("--eval", choices=["ntrex"], help="evaluate mining on tasks built from this corpus")
    p.add_argument("--langs", help=f"--eval: target languages vs English (default {default_of(E, 'langs')})")
    p.add_argument("--model", help=f"model spec (default {default_of(C, 'model')})")
    p.add_argument("--margin", choices=list(MARGINS),
                   help=f"ratio / distance margin, or absolute (plain cosine) (default {default_of(C, 'margin')})")
    p.add_argument("--strategy", choices=list(STRATEGIES), help=f"default {default_of(C, 'strategy')}")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an existing --out (never one of the inputs)")
    p.add_argument("--k", type=count_arg, help=f"neighbours for the margin (default {default_of(C, 'k')})")
    p.add_argument("--threshold", type=finite_float_arg, help="keep pairs scoring at least this (default: all)")
    p.add_argument("--index", choices=list(INDEX_KINDS),
                   help=f"FAISS index: auto = exact flat up to --approx-above vectors per side, IVF above "
                        f"(default {default_of(C, 'index')})")
    p.add_argument("--approx-above", type=nonneg_int_arg, help=f"default {default_of(C, 'approx_above')}")
    p.add_argument("--nprobe", type=count_arg, help=f"IVF lists visited per query (default {default_of(C, 'nprobe')})")
    p.add_argument("--nlist", type=count_arg, help="IVF lists (default about 4*sqrt(n))")
    p.add_argument("--pq-m", type=count_arg, help="ivfpq: bytes per vector (default dim/8)")
    p.add_argument("--chunk-size", type=count_arg,
                   help=f"sentences per embedding/search chunk (default {default_of(C, 'chunk_size')})")
    p.add_argument("--memmap-above", type=nonneg_int_arg,
                   help=f"embed sides longer than this into disk memmaps (default {default_of(C, 'memmap_above')})")
    p.add_argument("--work-dir", help="folder for on-disk embedding memmaps of large inputs (default: temp)")
    p.add_argument("--layer", type=layer_arg, help=f"hidden state to pool: last or a number "
                                                   f"(default {default_of(C, 'layer')})")
    p.add_argument("--pooling", choices=["mean", "cls"], help=f"default {default_of(C, 'pooling')}")
    p.add_argument("--batch-size", type=count_arg, help=f"sentences per forward pass (default {default_of(C, 'batch_size')})")
    p.add_argument("--distractors", type=nonneg_int_arg,
                   help=f"--eval: extra non-parallel PAN-X sentences per side and language "
                        f"(default {default_of(E, 'distractors')})")
    p.add_argument("--distractor-min-words", type=nonneg_int_arg,
                   help=f"--eval: skip PAN-X distractors shorter than this many tokens "
                        f"(default {default_of(E, 'distractor_min_words')})")
    p.add_argument("--seed", type=nonneg_int_arg, help=f"default {default_of(C, 'seed')}")
    p.add_argument("--data-dir", help="--eval: data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    p.add_argument("--no-progress", action="store_true")


def run(args, argv) -> int:
    from xlt.cli._common import UsageError
    from xlt.jobs.mine import MineConfig, MineEvalConfig, run_mine, run_mine_eval

    no_progress_to_config(args)
    if args.eval:
        if args.src or args.tgt:
            raise UsageError("give either SRC TGT files or --eval, not both")
        cfg = build_config(MineEvalConfig, config_values(MineEvalConfig, args, config_file=args.config))
    else:
        values = config_values(MineConfig, args, config_file=args.config)
        if not (values.get("src") and values.get("tgt")):
            raise UsageError("give SRC and TGT files (or --eval ntrex)")
        if not values.get("out"):
            raise UsageError("--out is required (the output TSV)")
        cfg = build_config(MineConfig, values)
    if str(cfg.layer) == "mix":
        raise UsageError("--layer must be 'last' or a layer number")
    if args.eval:
        if not cfg.out:
            raise UsageError("--out is required (the report folder)")
        report = run_mine_eval(cfg, command=["xlt"] + argv)
        print(f"\nNTREX mining F1 (%) vs English, model {cfg.model}; threshold chosen on the dev half")
        methods = list(report["method_average_f1"])
        print(f"{'margin/strategy':<24}" + "".join(f"{l:>9}" for l in report["scores"]) + f"{'avg':>8}")
        for m in methods:
            vals = [report["methods"][l][m]["f1"] for l in report["scores"]]
            print(f"{m:<24}" + "".join(f"{v:9.1f}" for v in vals) + f"{report['method_average_f1'][m]:8.1f}")
        print(f"report: {Path(cfg.out) / 'report.md'}")
        return 0
    report = run_mine(cfg, command=["xlt"] + argv)
    c = report["counts"]
    for side in ("src", "tgt"):
        print(f"{side}: {c[side]['lines']} lines, {c[side]['kept']} kept, {c[side]['skipped_empty']} empty "
              f"and {c[side]['skipped_duplicate']} duplicate lines skipped")
    print(f"{report['n_pairs']} pairs ({cfg.margin} margin, {cfg.strategy}) in {report['seconds']['total']:.1f} s "
          f"-> {cfg.out} (report: {report['report_path']})")
    return 0
