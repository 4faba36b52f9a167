"""``xlt mine``: margin-based bitext mining (``xlt mine SRC TGT``) and its NTREX evaluation (``--eval ntrex``).

Options are generated from :class:`xlt.jobs.mine.MineOptions` (the fields of both modes); a run
takes its mode's settings, :class:`~xlt.jobs.mine.MineSettings` or
:class:`~xlt.jobs.mine.MineEvalSettings`, whose fields a ``--config`` file gives.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xlt.cli._common import UsageError
from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import mine as job
from xlt.jobs.parts_aligncmds import help_of


def add_parser(sub) -> None:
    p = add_command(sub, "mine", job.MineOptions,
                    help="margin-based bitext mining (or its NTREX evaluation)",
                    description="Mine translation pairs between two files of sentences (one per line), or "
                                "two folders of vectors made by xlt embed (--src-embeddings, --tgt-embeddings; "
                                "searched shard by shard), with margin scores over FAISS nearest neighbours "
                                "(Artetxe & Schwenk 2019; exact, IVF, OPQ+IVF+PQ or HNSW, approximate "
                                "candidates re-ranked exactly and recall against exact search checked on a "
                                "sample), writing 'score<TAB>src<TAB>tgt' lines best first. With --eval "
                                "ntrex: precision/recall/F1 on BUCC-style tasks built from NTREX. "
                                "--config takes the fields of MineSettings, or of MineEvalSettings with --eval.")
    p.add_argument("src", nargs="?", help=help_of(job.MineSettings, "src"))
    p.add_argument("tgt", nargs="?", help=help_of(job.MineSettings, "tgt"))


def run(args, argv) -> int:
    # every option is checked, whichever mode it belongs to; the run takes its mode's settings (and --config)
    options = settings_from_args(job.MineOptions, argparse.Namespace(**{**vars(args), "config": None}))
    if options.eval and (options.src or options.tgt):
        raise UsageError("give either SRC TGT files or --eval, not both")
    cfg = settings_from_args(job.MineEvalSettings if options.eval else job.MineSettings, args,
                             out="the report folder" if options.eval else None)
    if options.eval:
        report = job.run_mine_eval(cfg, command=["xlt"] + argv).report
        print(f"\nNTREX mining F1 (%) vs English, model {cfg.model}; threshold chosen on the dev half")
        print(f"{'margin/strategy':<24}" + "".join(f"{l:>9}" for l in report["scores"]) + f"{'avg':>8}")
        for m, avg in report["method_average_f1"].items():
            vals = [report["methods"][l][m]["f1"] for l in report["scores"]]
            print(f"{m:<24}" + "".join(f"{v:9.1f}" for v in vals) + f"{avg:8.1f}")
        print(f"report: {Path(cfg.out) / 'report.md'}")
        return 0
    res = job.run_mine(cfg, command=["xlt"] + argv)
    for side, c in res.counts.items():
        if "shards" in c:
            print(f"{side}: {c['rows']} vectors in {c['shards']} shards")
        else:
            print(f"{side}: {c['lines']} lines, {c['kept']} kept, {c['skipped_empty']} empty "
                  f"and {c['skipped_duplicate']} duplicate lines skipped")
    for direction, info in res.report["index"].items():
        check = info.get("recall_check") if isinstance(info, dict) else None
        if check and not check.get("exact"):
            print(f"{direction}: {info['spec']}, recall@{check['k']} {check['recall']:.4f} against exact search "
                  f"on {check['n_sample']} queries")
    print(f"{res.n_pairs} pairs ({cfg.margin} margin, {cfg.strategy}) in {res.seconds['total']:.1f} s "
          f"-> {cfg.out} (report: {res.report_path})")
    return 0
