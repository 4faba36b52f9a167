"""``xlt bli``: bilingual lexicon induction from static word vectors (``eval``).

Options are generated from :class:`xlt.jobs.bli.BliSettings`.
"""

from __future__ import annotations

from xlt.cli._common import UsageError
from xlt.cli._settings import add_settings_options, settings_from_args
from xlt.jobs import bli as job


def add_parser(sub) -> None:
    p = sub.add_parser("bli", help="bilingual lexicon induction: map static word vectors, translate words, score",
                       description="Word translations from static word vectors (the encoder's type-level vectors "
                                   "or your .vec files) mapped into one space (Procrustes, MUSE refinement, VecMap "
                                   "unsupervised), scored on a test dictionary (XLING by default).")
    bsub = p.add_subparsers(dest="bli_command", required=True)
    e = bsub.add_parser("eval", help="fit a map and score P@1/5/10 and MAP on a test dictionary",
                        description="Fit an orthogonal map between two languages' word vectors and score the "
                                    "test dictionary's translations by cosine and CSLS.")
    add_settings_options(e, job.BliSettings)


def run(args, argv) -> int:
    cfg = settings_from_args(job.BliSettings, args)
    if cfg.out is None:
        raise UsageError("--out is required (the report folder)")
    result = job.run(cfg, command=["xlt"] + argv)
    print(f"{cfg.src} -> {cfg.tgt}: {result.seed_pairs:,} seed pairs, search space {result.search_space:,} words")
    for method, s in result.scores.items():
        print(f"  {method:<6} P@1 {s.p_at_1:6.2f}  P@5 {s.p_at_5:6.2f}  MAP {s.map:6.2f}  ({s.n_queries} queries)")
    print(f"report: {cfg.out}/report.md")
    return 0
