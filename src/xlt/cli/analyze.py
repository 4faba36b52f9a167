"""``xlt analyze``: layer-wise cross-lingual alignment and its correlation with transfer."""

from __future__ import annotations

from pathlib import Path

from xlt.models.loading import DEFAULT_MODEL


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="layer-wise cross-lingual alignment on NTREX or your own parallel text "
                                       "(MEXA, retrieval, language neutrality, language similarity)",
                       description="Encode every selected language of NTREX (or of your own multi-parallel "
                                   "folder or sentence pairs, --parallel) at every layer and report, per "
                                   "layer, retrieval accuracy to the pivot (English), MEXA alignment, language-ID "
                                   "accuracy before/after mean-centering, plus an mPLM-Sim language "
                                   "similarity matrix and source-language rankings. "
                                   "'xlt analyze correlate' relates alignment to zero-shot transfer.")
    p.add_argument("--parallel", nargs="+", default=["ntrex"], metavar="ntrex|DIR|FILE",
                   help="multi-parallel set: ntrex (default); a folder of line-aligned files named by language "
                        "(en.txt, de.txt, ... or newstest2019-ref.deu.txt); one 'src ||| tgt' or 'src<TAB>tgt' "
                        "file; or two line-aligned files SRC_FILE TGT_FILE")
    p.add_argument("--pivot", default="en", help="language the others are scored against (default en)")
    p.add_argument("--src-lang", help="language of the first file / left side of a --parallel pair")
    p.add_argument("--tgt-lang", help="language of the second file / right side of a --parallel pair")
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
    if len(args.parallel) > 2:
        from xlt.errors import UsageError

        raise UsageError(f"--parallel takes ntrex, one folder or file, or two line-aligned files; "
                         f"got {len(args.parallel)} paths")
    parallel = args.parallel[0] if len(args.parallel) == 1 else list(args.parallel)
    cfg = AnalyzeConfig(parallel=parallel, pivot=args.pivot, src_lang=args.src_lang, tgt_lang=args.tgt_lang,
                        langs=args.langs, model=args.model, pooling=args.pooling,
                        layers=args.layers, layer=args.layer, batch_size=args.batch_size, limit=args.limit,
                        targets=args.targets, top=args.top, lid_sentences=args.lid_sentences or None,
                        seed=args.seed, data_dir=args.data_dir, out=args.out, progress=not args.no_progress)
    rep = run_analyze(cfg, command=["xlt"] + argv)
    where = "NTREX" if rep["parallel_name"] == "NTREX" else " ".join(Path(p).name for p in args.parallel)
    piv = rep["source"]
    print(f"\n{where} alignment, model {args.model}: {rep['n_targets']} languages ↔ {piv}, "
          f"{rep['counts']['sentences']} sentences ({rep['counts']['skipped_empty']} of {rep['counts']['lines']} "
          "lines skipped: empty in some language)")
    print(f"{'layer':>5} {'MEXA':>7} {'xx->' + piv:>8} {piv + '->xx':>8} {'langID':>7} {'centred':>8}")
    for r in rep["per_layer_average"]:
        print(f"{r['layer']:>5} {r['mexa']:7.2f} {r['retrieval_xx_to_eng']:8.2f} {r['retrieval_eng_to_xx']:8.2f} "
              f"{r['lid_accuracy']:7.2f} {r['lid_accuracy_centered']:8.2f}")
    print(f"reported layer {rep['layer']}: mean MEXA {rep['average']:.2f}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0
