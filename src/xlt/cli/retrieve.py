"""``xlt retrieve``: bitext retrieval accuracy."""

from __future__ import annotations

from pathlib import Path

from xlt.models.loading import DEFAULT_MODEL
from xlt.cli._common import layer_arg


def add_parser(sub) -> None:
    from xlt.retrieval.scoring import METHODS

    p = sub.add_parser("retrieve", help="bitext retrieval accuracy on Tatoeba",
                       description="Embed both sides of each Tatoeba test set and report retrieval "
                                   "accuracy in both directions and the xsim error rate.")
    p.add_argument("--dataset", default="tatoeba", choices=["tatoeba"])
    p.add_argument("--langs", default="all", help="'all' or a comma-separated list of languages")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--method", default="cosine", choices=list(METHODS))
    p.add_argument("--k", type=int, help="neighbours for csls (default 10) and margins (default 4)")
    p.add_argument("--layer", default="last", type=layer_arg, help="hidden state to pool: last or a number")
    p.add_argument("--pooling", default="mean", choices=["mean", "cls"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--data-dir")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--no-progress", action="store_true")


def run(args, argv) -> int:
    from xlt.retrieval.run import RetrievalConfig, run_retrieval

    cfg = RetrievalConfig(langs=args.langs, model=args.model, method=args.method, k=args.k,
                          layer=args.layer, pooling=args.pooling, batch_size=args.batch_size,
                          data_dir=args.data_dir, out=args.out, progress=not args.no_progress)
    report = run_retrieval(cfg, command=["xlt"] + argv)
    print(f"\nTatoeba retrieval ({args.method}), model {args.model}")
    print(f"{'lang':<6} {'xx->eng':>8} {'eng->xx':>8} {'pairs':>6}")
    for lang in sorted(report["scores"], key=lambda l: -report["scores"][l]):
        print(f"{lang:<6} {report['scores'][lang]:8.2f} {report['scores_eng_to_xx'][lang]:8.2f} "
              f"{report['counts'][lang]['sentences']:6d}")
    print(f"{'average over ' + str(report['n_targets']):<15} {report['average']:8.2f} {report['average_eng_to_xx']:8.2f}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0
