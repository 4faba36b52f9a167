"""``xlt analyze``: layer-wise cross-lingual alignment and its correlation with transfer.

The options of ``xlt analyze`` map onto :class:`xlt.evaluate.analyze.AnalyzeConfig`, which holds
every default; ``--config run.yaml`` gives any of its fields, and the command line wins.
``xlt analyze correlate`` has no config dataclass; its options keep their own defaults.
"""

from __future__ import annotations

from pathlib import Path

from xlt.cli._common import config_from_args, config_option, count_arg, default_of, no_progress_to_config, nonneg_int_arg


def add_parser(sub) -> None:
    from xlt.evaluate.analyze import AnalyzeConfig as C

    p = sub.add_parser("analyze", help="layer-wise cross-lingual alignment on NTREX or your own parallel text "
                                       "(MEXA, retrieval, language neutrality, language similarity)",
                       description="Encode every selected language of NTREX (or of your own multi-parallel "
                                   "folder or sentence pairs, --parallel) at every layer and report, per "
                                   "layer, retrieval accuracy to the pivot (English), MEXA alignment, language-ID "
                                   "accuracy before/after mean-centering, plus an mPLM-Sim language "
                                   "similarity matrix and source-language rankings. "
                                   "'xlt analyze correlate' relates alignment to zero-shot transfer.",
                       argument_default=None)
    config_option(p, C)
    p.add_argument("--parallel", nargs="+", metavar="ntrex|DIR|FILE",
                   help=f"multi-parallel set: {default_of(C, 'parallel')} (default); a folder of line-aligned files "
                        "named by language (en.txt, de.txt, ... or newstest2019-ref.deu.txt); one 'src ||| tgt' or "
                        "'src<TAB>tgt' file; or two line-aligned files SRC_FILE TGT_FILE")
    p.add_argument("--pivot", help=f"language the others are scored against (default {default_of(C, 'pivot')})")
    p.add_argument("--src-lang", help="language of the first file / left side of a --parallel pair")
    p.add_argument("--tgt-lang", help="language of the second file / right side of a --parallel pair")
    p.add_argument("--langs", help=f"'all' or a comma-separated list (de,zh or deu,zho-CN) "
                                   f"(default {default_of(C, 'langs')})")
    p.add_argument("--model", help=f"model spec (default {default_of(C, 'model')})")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an existing non-empty output (whole; never an input)")
    p.add_argument("--out", help="report folder (required)")
    p.add_argument("--layer",
                   help="layer behind the scores and similarity matrix: best (highest mean MEXA), mean, or a number "
                        f"(default {default_of(C, 'layer')})")
    p.add_argument("--layers", help=f"layers to analyse: all or a list like 0,6,12 (default {default_of(C, 'layers')})")
    p.add_argument("--pooling", choices=["mean", "mean_nospecial", "cls"], help=f"default {default_of(C, 'pooling')}")
    p.add_argument("--limit", type=count_arg, help="use the first N multi-parallel sentences")
    p.add_argument("--batch-size", type=count_arg, help=f"sentences per forward pass (default {default_of(C, 'batch_size')})")
    p.add_argument("--targets", help="languages to rank source languages for (default: all)")
    p.add_argument("--top", type=count_arg, help=f"ranked sources shown per target in report.md (default {default_of(C, 'top')})")
    p.add_argument("--lid-sentences", type=nonneg_int_arg,
                   help=f"sentences per language for the language-ID probe (0 = all; default "
                        f"{default_of(C, 'lid_sentences')})")
    p.add_argument("--seed", type=nonneg_int_arg, help=f"default {default_of(C, 'seed')}")
    p.add_argument("--data-dir", help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
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
    c.add_argument("--overwrite", dest="corr_overwrite", action="store_true",
                   help="replace a non-empty --out folder (whole)")


def run(args, argv) -> int:
    from xlt.evaluate.analyze import AnalyzeConfig, correlate, run_analyze

    if args.analyze_command == "correlate":
        layer = args.corr_layer
        if layer is not None and layer != "mean":
            try:
                layer = int(layer)
            except ValueError:
                args.analyze_parser.error(f"--layer must be a number or 'mean', got {layer!r}")
        rep = correlate(args.alignment, args.transfer, metric=args.metric, layer=layer, out=args.corr_out,
                        command=["xlt"] + argv, overwrite=args.corr_overwrite)
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
    no_progress_to_config(args)
    cfg = config_from_args(AnalyzeConfig, args, config_file=args.config)
    if not cfg.out:
        args.analyze_parser.error("the following arguments are required: --out")
    if isinstance(cfg.parallel, (list, tuple)):
        if len(cfg.parallel) > 2:
            from xlt.cli._common import UsageError

            raise UsageError(f"--parallel takes ntrex, one folder or file, or two line-aligned files; "
                             f"got {len(cfg.parallel)} paths")
        cfg.parallel = cfg.parallel[0] if len(cfg.parallel) == 1 else list(cfg.parallel)
    if cfg.lid_sentences == 0:
        cfg.lid_sentences = None  # 0 = every sentence
    rep = run_analyze(cfg, command=["xlt"] + argv)
    paths = [cfg.parallel] if isinstance(cfg.parallel, str) else cfg.parallel
    where = "NTREX" if rep["parallel_name"] == "NTREX" else " ".join(Path(p).name for p in paths)
    piv = rep["source"]
    print(f"\n{where} alignment, model {cfg.model}: {rep['n_targets']} languages ↔ {piv}, "
          f"{rep['counts']['sentences']} sentences ({rep['counts']['skipped_empty']} of {rep['counts']['lines']} "
          "lines skipped: empty in some language)")
    print(f"{'layer':>5} {'MEXA':>7} {'xx->' + piv:>8} {piv + '->xx':>8} {'langID':>7} {'centred':>8}")
    for r in rep["per_layer_average"]:
        print(f"{r['layer']:>5} {r['mexa']:7.2f} {r['retrieval_xx_to_eng']:8.2f} {r['retrieval_eng_to_xx']:8.2f} "
              f"{r['lid_accuracy']:7.2f} {r['lid_accuracy_centered']:8.2f}")
    print(f"reported layer {rep['layer']}: mean MEXA {rep['average']:.2f}")
    print(f"report: {Path(cfg.out) / 'report.md'}")
    return 0
