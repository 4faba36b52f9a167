"""``xlt rank-sources``: which source language for a target? (LangRank-style ranker on transfer matrices)."""

from __future__ import annotations

from pathlib import Path

from xlt.cli._common import count_arg, nonneg_int_arg
from xlt.models.loading import DEFAULT_MODEL


def add_parser(sub) -> None:
    p = sub.add_parser("rank-sources", help="rank source languages for a target: with the shipped rankers, or "
                                            "learnt from your transfer matrices (LightGBM lambdarank on URIEL, "
                                            "subword-overlap, script, size, dev-score and mPLM-Sim/MEXA features)",
                       description="Rank candidate source languages for --target. Without --matrix, with the "
                                   "ranker xlt ships for the task kind (--task pos|ner|classification|general, "
                                   "trained on xlt's own transfer matrices). With --matrix, learn from those "
                                   "transfer matrices (`xlt transfer --source a,b,... --matrix`) which source "
                                   "transfers best, evaluate that leave one target out against simple baselines, "
                                   "and rank the candidates for --target.")
    p.add_argument("--matrix", nargs="+", default=[], metavar="DIR",
                   help="matrix folder(s) or matrix.json file(s) written by `xlt transfer --matrix` (default: none, "
                        "use the shipped ranker)")
    p.add_argument("--analysis", metavar="DIR",
                   help="an `xlt analyze` report on parallel text of the matrix's languages: adds mPLM-Sim and "
                        "MEXA features and the 'nearest by mPLM-Sim' baseline (targets it lacks are left out)")
    p.add_argument("--task", help="without --matrix: the shipped ranker's task kind (pos, ner, classification, "
                                  "general; or udpos, panx, sib200; default general); with --matrix: use only the "
                                  "matrices of this task (udpos, panx, sib200, or your data set's name)")
    p.add_argument("--target", help="the language to rank sources for (any code: yo, yor, yor_Latn)")
    p.add_argument("--candidates", help="comma-separated sources to rank (default: the matrix's sources; without "
                                        "--matrix, the sources of the shipped ranker's training matrices)")
    p.add_argument("--text", action="append", default=[], metavar="LANG=FILE",
                   help="text of a language (one sentence per line) for the overlap and script features, in place "
                        "of the built-in text; needed for a language no built-in set holds; repeat it")
    p.add_argument("--model", default=DEFAULT_MODEL, help="with --matrix: tokenizer for the subword-overlap feature "
                                                          "(the shipped rankers use the one they were trained with)")
    p.add_argument("--text-sentences", type=count_arg, default=300,
                   help="sentences per language for the overlap and script features")
    p.add_argument("--seed", type=nonneg_int_arg, default=0)
    p.add_argument("--data-dir", help="data folder of the matrix's task")
    p.add_argument("--out", required=True, help="report folder (report.json, report.md)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")


def run(args, argv) -> int:
    from xlt.jobs.rank import RankConfig, run_rank

    cfg = RankConfig(matrices=args.matrix, analysis=args.analysis, task=args.task, target=args.target,
                     candidates=args.candidates, model=args.model, text=args.text,
                     text_sentences=args.text_sentences, data_dir=args.data_dir, out=args.out,
                     overwrite=args.overwrite, seed=args.seed)
    rep = run_rank(cfg, command=["xlt"] + argv)
    for m in rep["matrices"]:
        if "skipped" in m["evaluation"]:
            print(f"\n{m['task']}: not evaluated ({m['evaluation']['skipped']})")
            continue
        print(f"\n{m['task']}: leave one target out over {len(m['targets'])} targets, {len(m['sources'])} sources")
        print(f"{'method':<32} {'NDCG@3':>7} {'top-1':>6} {'score':>7} {'loss':>6}")
        for name, row in m["evaluation"]["methods"].items():
            if name != "oracle":
                print(f"{name:<32} {row['ndcg@3']:7.1f} {row['top1_accuracy']:6.1f} "
                      f"{row['mean_score_of_top1']:7.2f} {row['mean_loss_vs_oracle']:6.2f}")
        print(f"{'oracle':<32} {'':>7} {'':>6} {m['evaluation']['methods']['oracle']['mean_score_of_top1']:7.2f}")
    if rep.get("ranker"):
        ev = rep["ranker"].get("evaluation", {}).get("leave one target out", {})
        print(f"\nshipped {rep['ranker']['kind']} ranker" + (
            f" (leave one target out: NDCG@3 {ev['ndcg@3']:.1f} vs {ev['english_ndcg@3']:.1f} for always English)"
            if ev else ""))
    if rep["ranking"]:
        r = rep["ranking"]
        print(f"\nsources for {r['target']}:")
        for i, row in enumerate(r["ranked"], 1):
            obs = "" if row["observed"] is None else (
                f" (observed {row['observed']:.1f}" + (f" on {row['observed_task']}" if row.get("observed_task") else "")
                + ")")
            f = row["features"]
            print(f"{i:>3}. {row['source']:<10} score {row['ranker_score']:+.3f}{obs}  syntax {f['uriel_syntactic']:.2f} "
                  f"genetic {f['uriel_genetic']:.2f} overlap {f['subword_overlap']:.2f} same script "
                  f"{int(f['same_script'])}" + (f" mPLM-Sim {f['mplm_sim']:.3f}" if "mplm_sim" in f else ""))
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0
