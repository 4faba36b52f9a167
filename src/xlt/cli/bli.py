"""``xlt bli``: bilingual lexicon induction from static word vectors (``eval``, ``fit``, ``induce``).

Options are generated from :class:`xlt.jobs.bli.BliSettings`, :class:`~xlt.jobs.bli.BliFitSettings`
and :class:`~xlt.jobs.bli.BliInduceSettings`.
"""

from __future__ import annotations

from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import bli as job

SUBCOMMANDS = {"eval": job.BliSettings, "fit": job.BliFitSettings, "induce": job.BliInduceSettings}


def add_parser(sub) -> None:
    p = sub.add_parser("bli", help="bilingual lexicon induction: map static word vectors, translate words, score",
                       description="Word translations from static word vectors (the encoder's type-level vectors "
                                   "or your .vec files) mapped into one space (Procrustes, MUSE refinement, VecMap "
                                   "unsupervised, identical strings). 'eval': score a test dictionary (XLING by "
                                   "default); 'fit': save the mapped spaces and the map; 'induce': write a scored "
                                   "dictionary.")
    bsub = p.add_subparsers(dest="bli_command", required=True)
    helps = {"eval": ("fit a map and score P@1/5/10 and MAP on a test dictionary",
                      "Fit an orthogonal map between two languages' word vectors and score the test dictionary's "
                      "translations by cosine and CSLS."),
             "fit": ("fit a map and save the mapped spaces (.npz/.vec) and the map matrix",
                     "Fit an orthogonal map and save both spaces, mapped, with the map: 'eval --fitted' and "
                     "'induce --fitted' reuse them."),
             "induce": ("write a dictionary word<TAB>word<TAB>score",
                        "Translate source words into the target vocabulary by CSLS or cosine, with a score "
                        "threshold (--min-score) and mutual nearest neighbours (--mutual).")}
    for name, cls in SUBCOMMANDS.items():
        add_command(bsub, name, cls, help=helps[name][0], description=helps[name][1])


def run(args, argv) -> int:
    out = {"eval": "the report folder", "fit": "the folder of the mapped spaces", "induce": "the dictionary file"}
    cfg = settings_from_args(SUBCOMMANDS[args.bli_command], args, out=out[args.bli_command])
    if args.bli_command == "fit":
        r = job.run_fit(cfg, command=["xlt"] + argv)
        print(f"{cfg.src} -> {cfg.tgt}: {r.seed_pairs:,} seed pairs, search spaces "
              + ", ".join(f"{k} {v:,}" for k, v in r.search_space.items()))
        print(f"mapped spaces and map: {r.out}")
        return 0
    if args.bli_command == "induce":
        r = job.run_induce(cfg, command=["xlt"] + argv)
        print(f"{cfg.src} -> {cfg.tgt}: {len(r.pairs):,} pairs for {r.n_words:,} source words (search space "
              f"{r.search_space:,} words)")
        print(f"dictionary: {r.out}")
        return 0
    result = job.run(cfg, command=["xlt"] + argv)
    print(f"{cfg.src} -> {cfg.tgt}: {result.seed_pairs:,} seed pairs, search space {result.search_space:,} words")
    for method, s in result.scores.items():
        print(f"  {method:<6} P@1 {s.p_at_1:6.2f}  P@5 {s.p_at_5:6.2f}  MAP {s.map:6.2f}  ({s.n_queries} queries)")
    print(f"report: {cfg.out}/report.md")
    return 0
