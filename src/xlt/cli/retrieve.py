"""``xlt retrieve``: bitext retrieval accuracy (Tatoeba, or a user's sentence pairs)."""

from __future__ import annotations

from pathlib import Path

from xlt.models.loading import DEFAULT_MODEL
from xlt.cli._common import layer_arg


def add_parser(sub) -> None:
    from xlt.retrieval.scoring import METHODS

    p = sub.add_parser("retrieve", help="bitext retrieval accuracy on Tatoeba or your own sentence pairs",
                       description="Embed both sides of each Tatoeba test set (or of your own sentence pairs, "
                                   "--pairs) and report retrieval accuracy in both directions and the xsim "
                                   "error rate.")
    p.add_argument("--dataset", choices=["tatoeba"], help="test set (default tatoeba; not with --pairs)")
    p.add_argument("--pairs", nargs="+", metavar="FILE",
                   help="your sentence pairs instead of Tatoeba: SRC_FILE TGT_FILE (line-aligned), or one "
                        "'src ||| tgt' or 'src<TAB>tgt' file; languages from the file names (corpus.de, "
                        "x.en-de.tsv), a TSV header or --src-lang/--tgt-lang")
    p.add_argument("--src-lang", help="language of the first file / left side of --pairs")
    p.add_argument("--tgt-lang", help="language of the second file / right side of --pairs")
    p.add_argument("--langs", help="Tatoeba: 'all' (default) or a comma-separated list of languages")
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
    from xlt.errors import UsageError
    from xlt.retrieval.run import RetrievalConfig, run_retrieval

    if args.pairs:
        if args.dataset:
            raise UsageError("--pairs replaces --dataset; give one of them")
        if args.langs not in (None, "all"):
            raise UsageError("--langs selects Tatoeba languages; with --pairs the languages come from the file "
                             "names or --src-lang/--tgt-lang")
        if len(args.pairs) > 2:
            raise UsageError(f"--pairs takes one file ('src ||| tgt' or 'src<TAB>tgt') or two line-aligned files, "
                             f"got {len(args.pairs)}")
    elif args.src_lang or args.tgt_lang:
        raise UsageError("--src-lang/--tgt-lang name the languages of --pairs files")
    cfg = RetrievalConfig(langs=args.langs if args.pairs else (args.langs or "all"), model=args.model,
                          method=args.method, k=args.k, layer=args.layer, pooling=args.pooling,
                          batch_size=args.batch_size, data_dir=args.data_dir, out=args.out,
                          progress=not args.no_progress, pairs=args.pairs, src_lang=args.src_lang,
                          tgt_lang=args.tgt_lang)
    report = run_retrieval(cfg, command=["xlt"] + argv)
    fwd, rev = (d.replace("→", "->") for d in (report["directions"]["forward"], report["directions"]["reverse"]))
    where = "Tatoeba" if not args.pairs else " ".join(Path(p).name for p in args.pairs)
    print(f"\n{where} retrieval ({args.method}), model {args.model}")
    width = max(8, len(fwd), len(rev))
    print(f"{'lang':<6} {fwd:>{width}} {rev:>{width}} {'pairs':>6}")
    for lang in sorted(report["scores"], key=lambda l: -report["scores"][l]):
        print(f"{lang:<6} {report['scores'][lang]:{width}.2f} {report['scores_eng_to_xx'][lang]:{width}.2f} "
              f"{report['counts'][lang]['sentences']:6d}")
    if args.pairs:
        c = next(iter(report["counts"].values()))
        print(f"{c['skipped_empty']} of {c['lines']} lines skipped (an empty side)")
    else:
        print(f"{'average over ' + str(report['n_targets']):<15} {report['average']:8.2f} "
              f"{report['average_eng_to_xx']:8.2f}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0
