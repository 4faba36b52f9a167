"""``xlt rank-sources``: which source language for a target? (LangRank-style ranker on transfer matrices)."""

from __future__ import annotations

from pathlib import Path

from xlt.cli._common import count_arg, nonneg_int_arg
from xlt.models.loading import DEFAULT_MODEL


def add_parser(sub) -> None:
    p = sub.add_parser("rank-sources", help="rank source languages for a target from transfer matrices "
                                            "(LightGBM lambdarank on URIEL, subword-overlap, script, size, dev-score and mPLM-Sim/MEXA features)",
                       description="Learn from transfer matrices (`xlt transfer --source a,b,... --matrix`) which "
                                   "source transfers best, evaluate that leave one target out against simple "
                                   "baselines, and rank the candidate sources for --target.")
    p.add_argument("--matrix", nargs="+", required=True, metavar="DIR",
                   help="matrix folder(s) or matrix.json file(s) written by `xlt transfer --matrix`")
    p.add_argument("--analysis", metavar="DIR",
                   help="an `xlt analyze` report on parallel text of the matrix's languages: adds mPLM-Sim and "
                        "MEXA features and the 'nearest by mPLM-Sim' baseline (targets it lacks are left out)")
    p.add_argument("--task", help="use only the --matrix folders of this task (udpos, panx, sib200, or your data "
                                  "set's name)")
    p.add_argument("--target", help="the language to rank sources for (a target or source of the matrix)")
    p.add_argument("--candidates", help="comma-separated sources to rank (default: the matrix's sources)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="tokenizer for the subword-overlap feature")
    p.add_argument("--text-sentences", type=count_arg, default=300,
                   help="sentences per language for the overlap and script features")
    p.add_argument("--seed", type=nonneg_int_arg, default=0)
    p.add_argument("--data-dir", help="data folder of the matrix's task")
    p.add_argument("--out", required=True, help="report folder (report.json, report.md)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")


def run(args, argv) -> int:
    from xlt.jobs.rank import RankConfig, run_rank

    cfg = RankConfig(matrices=args.matrix, analysis=args.analysis, task=args.task, target=args.target,
                     candidates=args.candidates, model=args.model,
                     text_sentences=args.text_sentences, data_dir=args.data_dir, out=args.out,
                     overwrite=args.overwrite, seed=args.seed)
    rep = run_rank(cfg, command=["xlt"] + argv)
    for m in rep["matrices"]:
        print(f"\n{m['task']}: leave one target out over {len(m['targets'])} targets, {len(m['sources'])} sources")
        print(f"{'method':<32} {'NDCG@3':>7} {'top-1':>6} {'score':>7} {'loss':>6}")
        for name, row in m["evaluation"]["methods"].items():
            if name != "oracle":
                print(f"{name:<32} {row['ndcg@3']:7.1f} {row['top1_accuracy']:6.1f} "
                      f"{row['mean_score_of_top1']:7.2f} {row['mean_loss_vs_oracle']:6.2f}")
        print(f"{'oracle':<32} {'':>7} {'':>6} {m['evaluation']['methods']['oracle']['mean_score_of_top1']:7.2f}")
    if rep["ranking"]:
        r = rep["ranking"]
        print(f"\nsources for {r['target']}:")
        for i, row in enumerate(r["ranked"], 1):
            obs = "" if row["observed"] is None else f" (observed {row['observed']:.1f})"
            f = row["features"]
            print(f"{i:>3}. {row['source']:<10} score {row['ranker_score']:+.3f}{obs}  syntax {f['uriel_syntactic']:.2f} "
                  f"genetic {f['uriel_genetic']:.2f} overlap {f['subword_overlap']:.2f} same script "
                  f"{int(f['same_script'])}" + (f" mPLM-Sim {f['mplm_sim']:.3f}" if "mplm_sim" in f else ""))
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0
