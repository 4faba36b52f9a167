"""Code-switched fine-tuning (CoSDA-ML) against the same-budget baseline, per task and language.

CoSDA-ML (Qin, Ni, Zhang and Che 2020, "CoSDA-ML: Multi-Lingual Code-Switching Data Augmentation
for Zero-Shot Cross-Lingual NLP", IJCAI) replaces source words of every training batch with
dictionary translations in random target languages. ``xlt transfer --code-switch`` does it with
the data folder's Wiktionary dictionaries (``--code-switch builtin``), re-drawn every epoch.

For every task and seed this script runs ``xlt transfer --mode finetune`` twice with the same
settings, data, seed and budget, the second time with ``--code-switch builtin --cs-ratio R``
added, and compares the per-language scores (mean over seeds) and the target averages::

    OMP_NUM_THREADS=2 nice -n 10 .venv/bin/python benchmarks/codeswitch_compare.py \\
        --tasks panx,sib200,udpos --seeds 3 --out runs/codeswitch

The runs go seed by seed, baseline then code-switched, so that whatever has finished is a paired
comparison; each run's report stays under ``OUT/<task>/<condition>/seed-N/``, and a run whose
report is there is not repeated (delete it to rerun). After every run ``OUT/codeswitch.json`` and
``OUT/codeswitch.md`` are rewritten from the seeds both conditions have finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: The targets with a Wiktionary dictionary in dict/ (de es fr ru zh ar hi tr fi id sw vi ja ko eu),
#: as each task names them (UD-POS has no German or Swahili test set in the data folder).
TARGETS = {
    "panx": "de,es,fr,ru,zh,ar,hi,tr,fi,id,sw,vi,ja,ko,eu",
    "udpos": "es,fr,ru,zh,ar,hi,tr,fi,id,vi,ja,ko,eu",
    "sib200": "deu_Latn,spa_Latn,fra_Latn,rus_Cyrl,zho_Hans,arb_Arab,hin_Deva,tur_Latn,fin_Latn,ind_Latn,"
              "swh_Latn,vie_Latn,jpn_Jpan,kor_Hang,eus_Latn",
}


def command(args, task: str, seed: int, out: Path, code_switch: bool) -> list[str]:
    """The ``xlt transfer`` command of one condition and seed: identical but for the code-switch options."""
    sib = task == "sib200"
    cmd = [sys.executable, "-m", "xlt.cli", "transfer", "--task", task, "--source", "en",
           "--targets", TARGETS[task], "--mode", "finetune",
           "--train-limit", str(args.sib_train_limit if sib else args.train_limit),
           "--eval-limit", str(args.sib_eval_limit if sib else args.eval_limit),
           "--epochs", str(args.sib_epochs if sib else args.epochs), "--max-length", str(args.max_length),
           "--batch-size", str(args.batch_size), "--seeds", f"{seed},",  # one seed: a list, not a count
           "--no-progress", "--out", str(out),
           "--overwrite"]
    lr = args.sib_lr if sib else args.lr
    if lr:
        cmd += ["--lr", str(lr)]
    if code_switch:
        cmd += ["--code-switch", "builtin", "--cs-ratio", str(args.ratio)]
        if args.only_labels and task != "sib200":
            cmd += ["--cs-only-labels", args.only_labels]
    return cmd


def run_one(args, task: str, seed: int, condition: str) -> dict:
    """Run (or reuse) one condition's ``xlt transfer`` for one seed and return its report."""
    out = Path(args.out) / task / condition / f"seed-{seed}"
    report_file = out / "report.json"
    if not report_file.is_file():
        cmd = command(args, task, seed, out, condition == "codeswitch")
        print("+", shlex.join(cmd), flush=True)
        t0 = time.time()
        subprocess.run(cmd, check=True)
        print(f"  {task}/{condition}/seed-{seed}: {time.time() - t0:.0f} s", flush=True)
    return json.loads(report_file.read_text(encoding="utf-8"))


def merge(reports: list[dict]) -> dict:
    """One-seed reports of one condition as one report of several seeds (``per_seed``, seconds, counts)."""
    first = reports[0]
    return dict(first, per_seed={s: v for r in reports for s, v in r["per_seed"].items()},
                seconds={"total": sum(r["seconds"]["total"] for r in reports),
                         "train": sum(r["seconds"]["train"] for r in reports)},
                code_switch=None if "code_switch" not in first else dict(
                    first["code_switch"], per_seed={s: v for r in reports for s, v in r["code_switch"]["per_seed"].items()}),
                command_line=first["command_line"])


def summarize(base: dict, cs: dict) -> dict:
    """Per-language means over seeds of both conditions, their difference, and the target averages
    (mean and sample std over seeds of each seed's average)."""
    seeds = sorted(base["per_seed"])
    targets = [l for l in base["per_seed"][seeds[0]] if l != base["source"]]

    def per_lang(rep):
        return {l: statistics.mean(rep["per_seed"][s][l] for s in seeds) for l in [base["source"], *targets]}

    def seed_avgs(rep):
        return [statistics.mean(rep["per_seed"][s][l] for l in targets) for s in seeds]

    b, c = per_lang(base), per_lang(cs)
    ba, ca = seed_avgs(base), seed_avgs(cs)
    sd = (lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0)
    return {
        "metric": base["metric_name"], "source": base["source"], "seeds": seeds, "targets": targets,
        "baseline": b, "codeswitch": c, "delta": {l: c[l] - b[l] for l in b},
        "average": {"baseline": statistics.mean(ba), "baseline_std": sd(ba), "codeswitch": statistics.mean(ca),
                    "codeswitch_std": sd(ca), "delta": statistics.mean(ca) - statistics.mean(ba),
                    "per_seed_baseline": ba, "per_seed_codeswitch": ca,
                    "targets_improved": sum(c[l] > b[l] for l in targets)},
        "seconds": {"baseline": base["seconds"]["total"], "codeswitch": cs["seconds"]["total"]},
        "replaced_per_epoch": {s: [r["replaced"] for r in recs] for s, recs in cs["code_switch"]["per_seed"].items()},
        "words_per_epoch": {s: [r["words"] for r in recs] for s, recs in cs["code_switch"]["per_seed"].items()},
        "dictionaries": {d["lang"]: {"entries": d["entries"], "in_training_data": d["in_training_data"]}
                         for d in cs["code_switch"]["dictionaries"]},
        "commands": {"baseline": base["command_line"], "codeswitch": cs["command_line"]},
        "train_sentences": base["source_counts"]["train"]["sentences"],
        "eval_sentences": {l: base["counts"][l]["sentences"] for l in [base["source"], *targets]},
    }


def markdown(results: dict, meta: dict) -> str:
    """The per-task tables."""
    lines = ["# Code-switched fine-tuning (CoSDA-ML) vs the same-budget baseline", "",
             f"{meta['date']}; {meta['machine']}; bundled multilingual-e5-small; seeds {meta['seeds']}; "
             f"code-switch ratio {meta['ratio']}.", ""]
    for task, r in results.items():
        a = r["average"]
        lines += [f"## {task} ({r['metric']})", "",
                  f"Target average: baseline **{a['baseline']:.2f} ± {a['baseline_std']:.2f}**, code-switched "
                  f"**{a['codeswitch']:.2f} ± {a['codeswitch_std']:.2f}** (Δ {a['delta']:+.2f}; "
                  f"{a['targets_improved']} of {len(r['targets'])} targets improved). Words replaced per epoch "
                  f"(seed 0): {', '.join(f'{n:,}' for n in r['replaced_per_epoch'].get('0', []))} of "
                  f"{', '.join(f'{n:,}' for n in r['words_per_epoch'].get('0', []))}.", "",
                  f"{r['train_sentences']:,} English training examples; seeds {', '.join(r['seeds'])}; run time "
                  f"{r['seconds']['baseline']:.0f} s baseline, {r['seconds']['codeswitch']:.0f} s code-switched.", "",
                  "| language | baseline | code-switched | Δ |", "|:---|---:|---:|---:|"]
        for l in [r["source"], *r["targets"]]:
            name = f"{l} (source)" if l == r["source"] else l
            lines.append(f"| {name} | {r['baseline'][l]:.2f} | {r['codeswitch'][l]:.2f} | {r['delta'][l]:+.2f} |")
        lines += [f"| **target average** | **{a['baseline']:.2f}** | **{a['codeswitch']:.2f}** | "
                  f"**{a['delta']:+.2f}** |", "", "Commands (seed 0; the other seeds differ in --seeds and --out):",
                  "", "```", r["commands"]["baseline"], r["commands"]["codeswitch"], "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="panx,sib200,udpos")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--train-limit", type=int, default=600, help="PAN-X and UD-POS English training sentences")
    p.add_argument("--sib-train-limit", type=int, default=701, help="SIB-200 English training texts (all: 701)")
    p.add_argument("--epochs", type=int, default=2, help="PAN-X and UD-POS epochs")
    p.add_argument("--sib-epochs", type=int, default=3, help="SIB-200 epochs")
    p.add_argument("--eval-limit", type=int, default=150, help="PAN-X and UD-POS: sentences per dev/test set")
    p.add_argument("--sib-eval-limit", type=int, default=100, help="SIB-200: texts per dev/test set")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--lr", type=float, default=None, help="PAN-X, UD-POS (default: the mode's for the task kind)")
    p.add_argument("--sib-lr", type=float, default=None, help="SIB-200 (default: the mode's for the task kind)")
    p.add_argument("--ratio", type=float, default=0.5)
    p.add_argument("--only-labels", default="", help="tagging tasks: --cs-only-labels (e.g. O for PAN-X)")
    p.add_argument("--out", default="runs/codeswitch")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} vCPU, no GPU ({platform.machine()})",
            "seeds": ",".join(map(str, range(args.seeds))), "ratio": args.ratio, "settings": vars(args)}
    results: dict = {}
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        done: dict[str, list[dict]] = {"baseline": [], "codeswitch": []}
        for seed in range(args.seeds):
            for condition in ("baseline", "codeswitch"):
                done[condition].append(run_one(args, task, seed, condition))
            results[task] = summarize(merge(done["baseline"]), merge(done["codeswitch"]))
            (out / "codeswitch.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n",
                                                 encoding="utf-8")
            (out / "codeswitch.md").write_text(markdown(results, meta), encoding="utf-8")
            a = results[task]["average"]
            print(f"{task} (seeds 0-{seed}): baseline {a['baseline']:.2f} ± {a['baseline_std']:.2f}, code-switched "
                  f"{a['codeswitch']:.2f} ± {a['codeswitch_std']:.2f} (Δ {a['delta']:+.2f})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
