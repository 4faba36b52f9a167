"""``xlt analyze``: layer-wise cross-lingual alignment and its correlation with transfer.

Options are generated from :class:`xlt.jobs.analyze.AnalyzeSettings` (``xlt analyze``) and
:class:`xlt.jobs.analyze.CorrelateSettings` (``xlt analyze correlate``), which hold every default
and check; ``--config run.yaml`` gives any of their fields, and the command line wins.
"""

from __future__ import annotations

from pathlib import Path

from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import analyze as job


def add_parser(sub) -> None:
    p = add_command(sub, "analyze", job.AnalyzeSettings,
                    help="layer-wise cross-lingual alignment on NTREX or your own parallel text "
                         "(MEXA, retrieval, language neutrality, language similarity)",
                    description="Encode every selected language of NTREX (or of your own multi-parallel "
                                "folder or sentence pairs, --parallel) at every layer and report, per "
                                "layer, retrieval accuracy to the pivot (English), MEXA alignment, language-ID "
                                "accuracy before/after mean-centering, plus an mPLM-Sim language "
                                "similarity matrix and source-language rankings. "
                                "'xlt analyze correlate' relates alignment to zero-shot transfer.")
    p.set_defaults(analyze_parser=p)
    asub = p.add_subparsers(dest="analyze_command", required=False, metavar="{correlate}")
    add_command(asub, "correlate", job.CorrelateSettings,
                help="correlate alignment scores with zero-shot transfer scores",
                description="Pearson and Spearman correlation between each language's alignment "
                            "score (an 'xlt analyze' report) and its zero-shot score (an 'xlt "
                            "transfer' report), at one layer and at every layer.")



def _correlate(args, argv) -> int:
    cfg = settings_from_args(job.CorrelateSettings, args)
    rep = job.run_correlate(cfg, command=["xlt"] + argv).report
    print(f"\n{rep['metric_name']} (layer {rep['layer']}) vs zero-shot {rep['transfer_task']} "
          f"{rep['transfer_metric']}, n = {rep['n']}")
    print(f"Pearson r = {rep['pearson']['r']:.3f} (p = {rep['pearson']['p']:.2g}), "
          f"Spearman rho = {rep['spearman']['rho']:.3f} (p = {rep['spearman']['p']:.2g})")
    print(f"best layer: {rep['best_layer']['pearson']} (Pearson), {rep['best_layer']['spearman']} (Spearman)")
    if rep["unmatched_transfer"]:
        print(f"unmatched transfer languages: {', '.join(rep['unmatched_transfer'])}")
    if cfg.out:
        print(f"report: {Path(cfg.out) / 'report.md'}")
    return 0


def run(args, argv) -> int:
    if args.analyze_command == "correlate":
        return _correlate(args, argv)
    cfg = settings_from_args(job.AnalyzeSettings, args)
    if not cfg.out:
        args.analyze_parser.error("the following arguments are required: --out")
    rep = job.run(cfg, command=["xlt"] + argv).report
    if cfg.embeddings:
        where = "xlt embed folders' (" + " ".join(f.path.name for f in cfg.embeddings) + ")"
    else:
        where = "NTREX" if rep["parallel_name"] == "NTREX" else " ".join(Path(p).name for p in cfg.parallel)
    piv = rep["source"]
    print(f"\n{where} alignment, model {rep['model']}: {rep['n_targets']} languages ↔ {piv}, "
          f"{rep['counts']['sentences']} sentences ({rep['counts']['skipped_empty']} of {rep['counts']['lines']} "
          "lines skipped: empty in some language)")
    print(f"{'layer':>5} {'MEXA':>7} {'xx->' + piv:>8} {piv + '->xx':>8} {'langID':>7} {'centred':>8}")
    for r in rep["per_layer_average"]:
        print(f"{r['layer']:>5} {r['mexa']:7.2f} {r['retrieval_xx_to_eng']:8.2f} {r['retrieval_eng_to_xx']:8.2f} "
              f"{r['lid_accuracy']:7.2f} {r['lid_accuracy_centered']:8.2f}")
    print(f"reported layer {rep['layer']}: mean MEXA {rep['average']:.2f}")
    print(f"report: {Path(cfg.out) / 'report.md'}")
    return 0
