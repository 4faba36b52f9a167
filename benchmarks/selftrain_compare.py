"""Self-training on unlabelled target text against the zero-shot model, per PAN-X language (issue 29).

Self-training (teacher-student; Wu et al. 2020 for cross-lingual NER, Xie et al. 2020 noisy
student): the zero-shot probe labels each target language's unlabelled text, a student probe
trains on English gold + the pseudo-labels, for ROUNDS rounds (``xlt transfer --self-train``).
This script runs, on one data set and one feature cache, the zero-shot baseline and
self-training with each number of rounds, same seeds, and writes a per-language table::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/selftrain_compare.py \\
        --langs gu,jv,my,pa,qu,yo,af,az,bn,hi,kk,ml,mr,ms,sw,ta,te,tl,ur --rounds 1,2 \\
        --train-limit 5000 --dev-limit 2000 --unlabeled-limit 1000 \\
        --cache-dir runs/selftrain/cache --out runs/selftrain/panx

What is run (all through :func:`xlt.jobs.transfer.run` with a data set given):

* source: the first ``--train-limit`` English training sentences; model selection on the first
  ``--dev-limit`` sentences of English dev (the only selection data: zero-shot protocol);
* evaluation: the FULL dev set of every ``--langs`` language (PAN-X's test labels are hidden; the
  dev sets are the evaluation sets); English's own dev set is not scored (it is the selection set);
* unlabelled text (self-training runs): ``--unlabeled builtin``, the first ``--unlabeled-limit``
  sentences of each language's PAN-X ``train-XX.tsv``, labels removed, evaluation sentences left
  out (counted in the reports);
* the default probe (frozen bundled e5-small, scalar mix of all 13 hidden states, linear head, 10
  epochs, BIO decoding), ``--cache-dir`` so each sentence is encoded once for all conditions; or
  with ``--mode finetune`` fine-tuned teacher and students (``--epochs``, ``--batch-size``, ``--lr``),
  each student fine-tuned anew on English gold + pseudo-labels.

With ``--distill`` the comparison is ensemble distillation (Hinton et al. 2015; ``xlt transfer
--distill-from``) instead: the zero-shot models of ``--seeds`` (two or more, saved under
``OUT/teacher-models``), the mean of their scores, their ensemble (mean probabilities, the teacher), and
one student (seed of the first ``--seeds``) distilled from them on the unlabelled text and the
English training text, for each ``--labels``: the ensemble's quality at one model's cost::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/selftrain_compare.py --distill \
        --seeds 0,1 --labels soft,hard --threshold 0.5 --langs ... --cache-dir runs/selftrain/cache \
        --out runs/selftrain/panx-distill

Outputs: ``OUT/<condition>/report.{json,md}`` per run, ``OUT/selftrain.json`` and
``OUT/selftrain.md`` (per language: baseline, every self-training condition, the gain; the average
over the languages; where it hurts).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from xlt.data.dataset import load_task
from xlt.jobs.parts import TransferSettings
from xlt.jobs.transfer import run
from xlt.models.loading import load_encoder


def dataset(args):
    """PAN-X, English source (first ``train_limit`` sentences), selection on the first ``dev_limit``
    English dev sentences, every ``langs`` dev set in full, English's own set not scored."""
    ds = load_task("panx", "en", args.langs, train_limit=args.train_limit)
    dev = dataclasses.replace(ds.dev, examples=ds.dev.examples[:args.dev_limit],
                              note=f"first {args.dev_limit} sentences of dev-en")
    return dataclasses.replace(ds, dev=dev, eval={l: s for l, s in ds.eval.items() if l != "en"})


def settings_for(args, rounds: int | None, labels: str, out: Path) -> TransferSettings:
    """One condition: the zero-shot model (``rounds`` None), self-training for ``rounds`` rounds, or
    (``--distill``; ``rounds`` 0: the teachers, saved with their ensemble scored; 1: the student)."""
    extra, seeds = {}, args.seeds
    unlabeled = dict(unlabeled=["builtin"], unlabeled_limit=args.unlabeled_limit,
                     pseudo_threshold=args.threshold if labels == "hard" else None, pseudo_labels=labels,
                     pseudo_per_language=args.per_language)
    if args.distill and rounds == 0:
        extra = dict(seed_ensemble=True, save=teachers_dir(args), save_which="all")
    elif args.distill:
        extra = dict(unlabeled, distill_from=[teachers_dir(args) / f"seed-{s}" for s in args.seeds])
        seeds = args.seeds[:1]
    elif rounds:
        extra = dict(unlabeled, self_train=rounds, student_noise=args.student_noise)
    if args.mode == "finetune":  # fine-tuned teacher and students: the budget is the script's
        extra.update(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr)
    return TransferSettings(task="panx", source=["en"], mode=args.mode, seeds=seeds,
                            cache_dir=args.cache_dir if args.mode == "probe" else None,
                            out=out, overwrite=True, progress=False, **extra)


def teachers_dir(args) -> Path:
    """Where ``--distill`` keeps the teachers (one folder per seed)."""
    return args.out / "teacher-models"


def conditions(args) -> list[tuple[str, int | None, str]]:
    if args.distill:
        return [("teachers", 0, "hard")] + [(f"distilled ({labels})", 1, labels) for labels in args.labels]
    out = [("zero-shot", None, "hard")]
    for labels in args.labels:
        out += [(f"self-train {r} ({labels})", r, labels) for r in args.rounds]
    return out


def teacher_rows(res) -> dict[str, dict]:
    """The teachers' run as two rows: the mean of the seeds' scores, and their ensemble's."""
    ens = res.report["seed_ensemble"]
    return {"zero-shot (mean of the seeds)": {"scores": res.scores, "average": res.average, "dev": res.dev_scores},
            "ensemble (teacher)": {"scores": ens["scores"], "average": ens["average"]}}


def table(results: dict[str, dict], langs: list[str]) -> tuple[dict, str]:
    """The per-language comparison (JSON-ready) and its Markdown."""
    names = list(results)
    base = results[names[0]]["scores"]
    rows = {l: {n: results[n]["scores"].get(l) for n in names} for l in langs}
    avg = {n: sum(results[n]["scores"][l] for l in langs) / len(langs) for n in names}
    gains = {n: {l: rows[l][n] - base[l] for l in langs} for n in names[1:]}
    md = ["| lang | " + " | ".join(names) + " | " + " | ".join(f"Δ {n}" for n in names[1:]) + " |",
          "|:---|" + "---:|" * (2 * len(names) - 1)]
    for l in sorted(langs, key=lambda l: -(gains[names[-1]][l] if len(names) > 1 else 0)):
        md.append(f"| {l} | " + " | ".join(f"{rows[l][n]:.2f}" for n in names) + " | "
                  + " | ".join(f"{gains[n][l]:+.2f}" for n in names[1:]) + " |")
    md.append(f"| **average ({len(langs)})** | " + " | ".join(f"**{avg[n]:.2f}**" for n in names) + " | "
              + " | ".join(f"**{avg[n] - avg[names[0]]:+.2f}**" for n in names[1:]) + " |")
    hurts = {n: sorted((l for l in langs if gains[n][l] < 0), key=lambda l: gains[n][l]) for n in names[1:]}
    md.append("")
    for n in names[1:]:
        up = sum(1 for l in langs if gains[n][l] > 0)
        md.append(f"- {n}: better on {up} of {len(langs)} languages; worse on " + (
            ", ".join(f"{l} ({gains[n][l]:+.2f})" for l in hurts[n]) if hurts[n] else "none") + ".")
    return {"languages": langs, "scores": rows, "average": avg, "gains": gains, "hurts": hurts}, "\n".join(md)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--langs", required=True, help="comma-separated PAN-X target languages (full dev sets)")
    p.add_argument("--rounds", default="1,2", help="self-training rounds to compare (comma-separated)")
    p.add_argument("--labels", default="hard", help="hard, soft or hard,soft")
    p.add_argument("--train-limit", type=int, default=5000)
    p.add_argument("--dev-limit", type=int, default=2000)
    p.add_argument("--unlabeled-limit", type=int, default=1000)
    p.add_argument("--threshold", type=float, default=None,
                   help="--pseudo-threshold of the hard-label runs (default xlt's, 0.9); soft-label runs keep xlt's 0")
    p.add_argument("--per-language", type=int, default=None)
    p.add_argument("--seeds", default="0")
    p.add_argument("--mode", default="probe", choices=("probe", "finetune"),
                   help="probe (frozen features) or finetune (fine-tuned teacher and students)")
    p.add_argument("--epochs", type=int, default=None, help="finetune: epochs of the teacher and each student")
    p.add_argument("--batch-size", type=int, default=None, help="finetune: batch size")
    p.add_argument("--lr", type=float, default=None, help="finetune: learning rate")
    p.add_argument("--cache-dir", type=Path, default=None, help="probe: the feature cache")
    p.add_argument("--student-noise", type=float, default=0.0, help="probe students: feature dropout (noisy student)")
    p.add_argument("--distill", action="store_true", help="ensemble distillation of the --seeds' zero-shot models "
                                                          "instead of self-training")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    args.langs = [l for l in args.langs.split(",") if l]
    args.rounds = [int(r) for r in args.rounds.split(",") if r]
    args.labels = [l for l in args.labels.split(",") if l]
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    ds = dataset(args)
    encoder = load_encoder("bundled:e5-small")
    results, seconds = {}, {}
    method = "distillation" if args.distill else "self-training"
    if args.distill and len(args.seeds) < 2:
        p.error("--distill needs two or more --seeds (the teachers)")
    for name, rounds, labels in conditions(args):
        t = time.time()
        out = args.out / name.replace(" ", "-").replace("(", "").replace(")", "")
        res = run(settings_for(args, rounds, labels, out), dataset=ds, encoder=encoder,
                  command=["benchmarks/selftrain_compare.py"] + (argv or sys.argv[1:]))
        if name == "teachers":
            results.update(teacher_rows(res))
        else:
            results[name] = {"scores": res.scores, "average": res.average, "dev": res.dev_scores,
                             "self_training": res.report.get("self_training")}
        seconds[name] = round(time.time() - t, 1)
        print(f"{name}: average {res.average:.2f} over {len(ds.eval)} languages ({seconds[name]} s)", flush=True)
        summary, md = table(results, list(ds.eval))
        record = {"command": shlex.join([sys.executable] + sys.argv), "machine": f"{os.cpu_count()} CPUs, "
                  f"{platform.processor() or platform.machine()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
                  "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "seconds": seconds,
                  "total_seconds": round(time.time() - t0, 1), "settings": {k: (str(v) if isinstance(v, Path) else v)
                                                                           for k, v in vars(args).items()},
                  "source": {"train": len(ds.train.examples), "dev": len(ds.dev.examples)},
                  "eval_sentences": {l: len(s.examples) for l, s in ds.eval.items()},
                  "results": results, "summary": summary}
        (args.out / "selftrain.json").write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
        (args.out / "selftrain.md").write_text(
            f"# PAN-X {args.mode}: zero-shot vs {method}\n\n`{record['command']}`\n\n{record['machine']}, "
            f"{record['date']}\n\n{md}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
