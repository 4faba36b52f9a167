"""``xlt align``: cross-lingual maps (fit, eval) and fine-tuning alignment.

Options are generated from :class:`xlt.jobs.align.AlignFitSettings`,
:class:`~xlt.jobs.align.AlignEvalSettings` and :class:`~xlt.jobs.align.AlignFinetuneSettings`,
which hold every default and check; ``--config run.yaml`` gives any of their fields, and the
command line wins.
"""

from __future__ import annotations

from pathlib import Path

from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import align as job

SUBCOMMANDS = {"fit": job.AlignFitSettings, "eval": job.AlignEvalSettings, "finetune": job.AlignFinetuneSettings}


def add_parser(sub) -> None:
    p = sub.add_parser("align", help="cross-lingual maps (centering, Procrustes, linear) and fine-tuning alignment",
                       description="'fit': per-language, per-layer maps of word vectors into the English space, "
                                   "from word-aligned parallel text (NTREX or yours, --parallel) or bilingual "
                                   "dictionaries (use them with 'xlt transfer --aligner'); 'eval': word retrieval "
                                   "before/after on held-out parallel lines; 'finetune': fine-tune the encoder "
                                   "itself (Cao et al. 2020).")
    asub = p.add_subparsers(dest="align_command", required=True)
    helps = {"fit": "fit maps and save them",
             "eval": "word retrieval P@1 before and after maps, on held-out parallel lines",
             "finetune": "fine-tuning alignment (Cao et al. 2020): a new encoder folder"}
    for name, cls in SUBCOMMANDS.items():
        add_command(asub, name, cls, help=helps[name])


def run(args, argv) -> int:
    cfg = settings_from_args(SUBCOMMANDS[args.align_command], args)
    result = job.run(cfg, command=["xlt"] + argv)
    {"fit": _show_fit, "eval": _show_eval, "finetune": _show_finetune}[args.align_command](result)
    return 0


def _show_fit(result: job.AlignFitResult) -> None:
    rep = result.report
    print(f"{rep['n_languages']} languages, layers {result.layers[0]}..{result.layers[-1]}, "
          f"{result.seconds['total']:.0f} s (supervision {result.seconds['supervision']:.0f} s, "
          f"fitting {result.seconds['fit']:.0f} s)")
    print(f"{'lang':<10} {'pairs':>7}")
    for lang, st in result.supervision.items():
        print(f"{lang:<10} {st['n_pairs']:7d}")
    for m, path in result.files.items():
        print(f"{m}: {path}")


def _show_eval(result: job.AlignEvalResult) -> None:
    for src, table in result.summary.items():
        names = list(table)
        print(f"\n{src}: word retrieval P@1 (%), mean over languages: within sentence / among all English words")
        print(f"{'layer':>5} " + " ".join(f"{Path(n).name[-22:]:>22}" for n in names))
        for k in table[names[0]]:
            print(f"{k:>5} " + " ".join(f"{table[n][k]['sentence']:10.1f} /{table[n][k]['all']:9.1f}" for n in names))


def _show_finetune(result: job.AlignFinetuneResult) -> None:
    print(f"fine-tuned on {result.stats.get('n_links_used')} links of {len(result.links)} languages in "
          f"{result.report['seconds']['total']:.0f} s; model folder: {result.out}")
