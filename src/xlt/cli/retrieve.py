"""``xlt retrieve``: bitext retrieval accuracy (Tatoeba, or a user's sentence pairs).

Options map onto :class:`xlt.jobs.retrieve.RetrievalConfig`, which holds every default;
``--config run.yaml`` gives any of its fields, and the command line wins.
"""

from __future__ import annotations

from pathlib import Path

from xlt.cli._common import config_from_args, config_option, count_arg, default_of, layer_arg, no_progress_to_config


def add_parser(sub) -> None:
    from xlt.jobs.retrieve import RetrievalConfig as C
    from xlt.retrieval.scoring import METHODS

    p = sub.add_parser("retrieve", help="bitext retrieval accuracy on Tatoeba or your own sentence pairs",
                       description="Embed both sides of each Tatoeba test set (or of your own sentence pairs, "
                                   "--pairs) and report retrieval accuracy in both directions and the xsim "
                                   "error rate.", argument_default=None)
    config_option(p, C)
    p.add_argument("--dataset", choices=["tatoeba"], help="test set (default tatoeba; not with --pairs)")
    p.add_argument("--pairs", nargs="+", metavar="FILE",
                   help="your sentence pairs instead of Tatoeba: SRC_FILE TGT_FILE (line-aligned), or one "
                        "'src ||| tgt' or 'src<TAB>tgt' file; languages from the file names (corpus.de, "
                        "x.en-de.tsv), a TSV header or --src-lang/--tgt-lang")
    p.add_argument("--src-lang", help="language of the first file / left side of --pairs")
    p.add_argument("--tgt-lang", help="language of the second file / right side of --pairs")
    p.add_argument("--langs", help=f"Tatoeba: '{default_of(C, 'langs')}' (default) or a comma-separated list "
                                   "of languages")
    p.add_argument("--model", help=f"model spec (default {default_of(C, 'model')})")
    p.add_argument("--method", choices=list(METHODS), help=f"similarity score (default {default_of(C, 'method')})")
    p.add_argument("--k", type=count_arg, help="neighbours for csls (default 10) and margins (default 4)")
    p.add_argument("--layer", type=layer_arg,
                   help=f"hidden state to pool: last or a number (default {default_of(C, 'layer')})")
    p.add_argument("--pooling", choices=["mean", "cls"], help=f"default {default_of(C, 'pooling')}")
    p.add_argument("--batch-size", type=count_arg, help=f"sentences per forward pass (default {default_of(C, 'batch_size')})")
    p.add_argument("--data-dir", help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an existing non-empty output (whole; never an input)")
    p.add_argument("--out", help="report folder (required)")
    p.add_argument("--no-progress", action="store_true")


def run(args, argv) -> int:
    from xlt.cli._common import UsageError
    from xlt.jobs.retrieve import RetrievalConfig, run_retrieval

    no_progress_to_config(args)
    cfg = config_from_args(RetrievalConfig, args, config_file=args.config)
    if isinstance(cfg.pairs, str):  # a config file may give one path as a plain string
        cfg.pairs = [cfg.pairs]
    if cfg.pairs:
        if args.dataset:
            raise UsageError("--pairs replaces --dataset; give one of them")
        if cfg.langs not in (None, "all"):
            raise UsageError("--langs selects Tatoeba languages; with --pairs the languages come from the file "
                             "names or --src-lang/--tgt-lang")
        if len(cfg.pairs) > 2:
            raise UsageError(f"--pairs takes one file ('src ||| tgt' or 'src<TAB>tgt') or two line-aligned files, "
                             f"got {len(cfg.pairs)}")
    elif cfg.src_lang or cfg.tgt_lang:
        raise UsageError("--src-lang/--tgt-lang name the languages of --pairs files")
    if not cfg.out:
        raise UsageError("--out is required (the report folder)")
    report = run_retrieval(cfg, command=["xlt"] + argv)
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
