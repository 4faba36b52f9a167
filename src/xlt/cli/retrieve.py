"""``xlt retrieve``: bitext retrieval accuracy (Tatoeba, or a user's sentence pairs).

Options are generated from :class:`xlt.jobs.retrieve.RetrieveSettings`, which holds every default
and check; ``--config run.yaml`` gives any of its fields, and the command line wins.
"""

from __future__ import annotations

from pathlib import Path

from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import retrieve as job


def add_parser(sub) -> None:
    add_command(sub, "retrieve", job.RetrieveSettings,
                help="bitext retrieval accuracy on Tatoeba or your own sentence pairs",
                description="Embed both sides of each Tatoeba test set (or of your own sentence pairs, "
                            "--pairs) and report retrieval accuracy in both directions and the xsim "
                            "error rate.")


def run(args, argv) -> int:
    cfg = settings_from_args(job.RetrieveSettings, args, out="the report folder")
    result = job.run(cfg, command=["xlt"] + argv)
    report = result.report
    fwd, rev = (d.replace("→", "->") for d in (report["directions"]["forward"], report["directions"]["reverse"]))
    where = "Tatoeba" if not cfg.pairs else " ".join(Path(p).name for p in cfg.pairs)
    print(f"\n{where} retrieval ({cfg.method}), model {cfg.model}")
    width = max(8, len(fwd), len(rev))
    print(f"{'lang':<6} {fwd:>{width}} {rev:>{width}} {'pairs':>6}")
    for lang in sorted(report["scores"], key=lambda l: -report["scores"][l]):
        print(f"{lang:<6} {report['scores'][lang]:{width}.2f} {report['scores_eng_to_xx'][lang]:{width}.2f} "
              f"{report['counts'][lang]['sentences']:6d}")
    if cfg.pairs:
        c = next(iter(report["counts"].values()))
        print(f"{c['skipped_empty']} of {c['lines']} lines skipped (an empty side)")
    else:
        print(f"{'average over ' + str(report['n_targets']):<15} {report['average']:8.2f} "
              f"{report['average_eng_to_xx']:8.2f}")
    print(f"report: {Path(cfg.out) / 'report.md'}")
    return 0
