"""``xlt rank-sources``: which source language for a target? (LangRank-style ranker on transfer matrices)."""

from __future__ import annotations

from pathlib import Path

from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import rank as job


def add_parser(sub) -> None:
    add_command(sub, "rank-sources", job.RankSettings,
                help="rank source languages for a target: with the shipped rankers, or "
                     "learnt from your transfer matrices (LightGBM lambdarank on URIEL, "
                     "subword-overlap, script, size, dev-score and mPLM-Sim/MEXA features)",
                description="Rank candidate source languages for --target. Without --matrix, with the "
                            "ranker xlt ships for the task kind (--task pos|ner|classification|general, "
                            "trained on xlt's own transfer matrices). With --matrix, learn from those "
                            "transfer matrices (`xlt transfer --source a,b,... --matrix`) which source "
                            "transfers best, evaluate that leave one target out against simple baselines, "
                            "and rank the candidates for --target.")


def run(args, argv) -> int:
    settings = settings_from_args(job.RankSettings, args, out="the report folder")
    print_ranking(job.run(settings, command=["xlt"] + argv).report, settings)
    return 0


def print_ranking(rep: dict, settings) -> None:
    """Each matrix's evaluation table, the shipped ranker's figures, the ranking and the report's path."""
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
    print(f"report: {Path(settings.out) / 'report.md'}")
