"""``xlt align``: cross-lingual maps (fit, eval) and fine-tuning alignment.

The options of ``fit`` and ``finetune`` map onto :class:`xlt.jobs.align.AlignFitConfig` and
:class:`xlt.jobs.align.AlignFinetuneConfig`, which hold every default; ``--config run.yaml``
gives any of their fields, and the command line wins. ``eval`` has no config dataclass; its
options keep their own defaults.
"""

from __future__ import annotations

from pathlib import Path

from xlt.cli._common import (build_config, config_option, config_values, count_arg, default_of, layer_number_arg,
                             no_progress_to_config, nonneg_float_arg, nonneg_int_arg, positive_float_arg)

PARALLEL_HELP = ("parallel text with an English side: {default} (default); a folder of line-aligned files named by "
                 "language (en.txt, de.txt, ... or newstest2019-ref.deu.txt); one 'src ||| tgt' or 'src<TAB>tgt' "
                 "file; or two line-aligned files SRC_FILE TGT_FILE")

# option name -> field name, where they differ
FIT_RENAME = {"method": "methods"}


def _parallel_options(parser, default=None, shown: str = "ntrex") -> None:
    """``--parallel`` and the languages of a pair whose file names do not give them."""
    parser.add_argument("--parallel", nargs="+", default=default, metavar="ntrex|DIR|FILE",
                        help=PARALLEL_HELP.format(default=shown))
    parser.add_argument("--src-lang", help="language of the first file / left side of a --parallel pair")
    parser.add_argument("--tgt-lang", help="language of the second file / right side of a --parallel pair")


def _parallel(value):
    """``--parallel`` (or a config file's ``parallel``) as the library takes it: ``'ntrex'``, one path, or two.

    Raises:
        UsageError: more than two paths.
    """
    from xlt.cli._common import UsageError

    if isinstance(value, str):
        return value
    if len(value) > 2:
        raise UsageError(f"--parallel takes ntrex, one folder or file, or two line-aligned files; "
                         f"got {len(value)} paths")
    return value[0] if len(value) == 1 else list(value)


def add_parser(sub) -> None:
    from xlt.align.maps import METHODS
    from xlt.jobs.align import AlignFinetuneConfig as T
    from xlt.jobs.align import AlignFitConfig as F
    from xlt.models.words import WORD_PIECES

    p = sub.add_parser("align", help="cross-lingual maps (centering, Procrustes, linear) and fine-tuning alignment",
                       description="'fit': per-language, per-layer maps of word vectors into the English space, "
                                   "from word-aligned parallel text (NTREX or yours, --parallel) or bilingual "
                                   "dictionaries (use them with 'xlt transfer --aligner'); 'eval': word retrieval "
                                   "before/after on held-out parallel lines; 'finetune': fine-tune the encoder "
                                   "itself (Cao et al. 2020).")
    asub = p.add_subparsers(dest="align_command", required=True)
    f = asub.add_parser("fit", help="fit maps and save them", argument_default=None)
    config_option(f, F)
    f.add_argument("--method",
                   help=f"one or several (comma-separated) of: {', '.join(METHODS)}; several share one encoder pass "
                        f"(default {default_of(F, 'methods')})")
    f.add_argument("--supervision", choices=["parallel", "dictionary"],
                   help=f"{default_of(F, 'supervision')} (default) or dictionary (the default when --dictionary "
                        "is given)")
    f.add_argument("--langs",
                   help="target languages (codes), task names (udpos, panx: their targets with parallel text) or "
                        f"all (default {default_of(F, 'langs')}); with --dictionary FILE, the one language of the "
                        "file")
    f.add_argument("--model", help=f"model spec (default {default_of(F, 'model')})")
    f.add_argument("--layers", help=f"all (embeddings and every layer) or comma-separated indices "
                                    f"(default {default_of(F, 'layers')})")
    f.add_argument("--dictionary", metavar="wiktionary|bli|FILE",
                   help=f"dictionary supervision (default {default_of(F, 'dictionary')}): wiktionary "
                        "(dict/en-<language>.txt), bli (bli/en-xx 5k training sets), or your file of "
                        "'english<TAB>foreign' or 'english foreign' lines for the one language of --langs; "
                        "implies --supervision dictionary")
    _parallel_options(f, shown=default_of(F, "parallel"))
    f.add_argument("--align-layer", type=layer_number_arg,
                   help=f"word aligner layer (parallel supervision; default {default_of(F, 'align_layer')})")
    f.add_argument("--align-dtype", choices=["float32", "bfloat16"], help=f"default {default_of(F, 'align_dtype')}")
    f.add_argument("--max-sentences", type=count_arg, help="parallel lines used for fitting (default: all but --heldout)")
    f.add_argument("--heldout", type=nonneg_int_arg, help=f"final parallel lines kept apart for 'xlt align eval' "
                                               f"(default {default_of(F, 'heldout')})")
    f.add_argument("--max-pairs", type=count_arg,
                   help=f"per-language cap on pairs (0 = no cap; default {default_of(F, 'max_pairs')})")
    f.add_argument("--seed", type=nonneg_int_arg, help=f"default {default_of(F, 'seed')}")
    f.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an existing non-empty output (whole; never an input)")
    f.add_argument("--out", help="map file (.npz); with several methods, <stem>.<method>.npz each (required)")
    f.add_argument("--data-dir", help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    f.add_argument("--cache-dir", help="on-disk feature cache folder")
    f.add_argument("--word-pieces", choices=list(WORD_PIECES),
                   help=f"which subword pieces give a word its vector (as 'xlt transfer --word-pieces'; "
                        f"default {default_of(F, 'word_pieces')})")
    f.add_argument("--no-progress", action="store_true")
    e = asub.add_parser("eval", help="word retrieval P@1 before and after maps, on held-out parallel lines")
    e.add_argument("--aligner", nargs="*", default=[],
                   help="map file(s) from 'xlt align fit' (none: score --model's own vectors, e.g. a "
                        "fine-tuning-aligned encoder; --langs is then required)")
    e.add_argument("--langs", help="target languages (default: the first map file's)")
    e.add_argument("--model", help="model spec (default: the one the maps were fitted on)")
    e.add_argument("--heldout", type=nonneg_int_arg, default=200, help="final parallel lines held out (as for fit)")
    _parallel_options(e, default=["ntrex"])
    e.add_argument("--align-layer", type=layer_number_arg, default=8)
    e.add_argument("--no-gold", action="store_true", help="skip the human-aligned wordalign sets")
    e.add_argument("--word-pieces", choices=list(WORD_PIECES), help="how words get their vectors "
                                                                     "(default: the maps' setting)")
    e.add_argument("--data-dir")
    e.add_argument("--out", help="JSON report")
    e.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    e.add_argument("--no-progress", action="store_true")
    t = asub.add_parser("finetune", help="fine-tuning alignment (Cao et al. 2020): a new encoder folder",
                        argument_default=None)
    config_option(t, T)
    t.add_argument("--langs", help=f"as for 'fit' (default {default_of(T, 'langs')})")
    t.add_argument("--model", help=f"model spec (default {default_of(T, 'model')})")
    t.add_argument("--loss", choices=["l2", "contrastive"], help=f"default {default_of(T, 'loss')}")
    t.add_argument("--reg-weight", type=nonneg_float_arg,
                   help=f"weight of the English-vector regulariser (default {default_of(T, 'reg_weight')})")
    t.add_argument("--layer", type=layer_number_arg,
                   help=f"hidden state to align (-1 = last, as Cao et al.; default {default_of(T, 'layer')})")
    t.add_argument("--align-layer", type=layer_number_arg, help=f"word aligner layer (default {default_of(T, 'align_layer')})")
    t.add_argument("--align-dtype", choices=["float32", "bfloat16"], help=f"default {default_of(T, 'align_dtype')}")
    t.add_argument("--max-sentences", type=count_arg, help="parallel lines per language (default: all but --heldout)")
    t.add_argument("--heldout", type=nonneg_int_arg, help=f"final parallel lines kept apart (default {default_of(T, 'heldout')})")
    _parallel_options(t, shown=default_of(T, "parallel"))
    t.add_argument("--epochs", type=count_arg, help=f"default {default_of(T, 'epochs')}")
    t.add_argument("--batch-size", type=count_arg, help=f"default {default_of(T, 'batch_size')}")
    t.add_argument("--lr", type=positive_float_arg, help=f"default {default_of(T, 'lr')}")
    t.add_argument("--seed", type=nonneg_int_arg, help=f"default {default_of(T, 'seed')}")
    t.add_argument("--word-pieces", choices=list(WORD_PIECES),
                   help=f"which subword piece gives a word its trained vector (default {default_of(T, 'word_pieces')})")
    t.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an existing non-empty output (whole; never an input)")
    t.add_argument("--out", help="output model folder (for 'xlt transfer --model') (required)")
    t.add_argument("--data-dir", help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    t.add_argument("--no-progress", action="store_true")


def run(args, argv) -> int:
    from xlt.cli._common import UsageError
    from xlt.jobs import align as af

    if args.align_command == "fit":
        no_progress_to_config(args)
        values = config_values(af.AlignFitConfig, args, rename=FIT_RENAME, config_file=args.config)
        if values.get("dictionary") and values.get("supervision") == "parallel":
            raise UsageError("--dictionary is for --supervision dictionary; leave out one of them")
        if values.get("dictionary") and "supervision" not in values:
            values["supervision"] = "dictionary"
        if "parallel" in values:
            values["parallel"] = _parallel(values["parallel"])
        if values.get("max_pairs") == 0:
            values["max_pairs"] = None  # 0 = no cap
        cfg = build_config(af.AlignFitConfig, values, rename=FIT_RENAME)
        rep = af.run_align_fit(cfg, command=["xlt"] + argv)
        print(f"{rep['n_languages']} languages, layers {rep['layers'][0]}..{rep['layers'][-1]}, "
              f"{rep['seconds']['total']:.0f} s (supervision {rep['seconds']['supervision']:.0f} s, "
              f"fitting {rep['seconds']['fit']:.0f} s)")
        print(f"{'lang':<10} {'pairs':>7}")
        for lang, st in rep["supervision"].items():
            print(f"{lang:<10} {st['n_pairs']:7d}")
        for m, path in rep["files"].items():
            print(f"{m}: {path}")
        return 0
    if args.align_command == "eval":
        rep = af.run_align_eval(args.aligner, model=args.model, langs=args.langs, heldout=args.heldout,
                                parallel=_parallel(args.parallel), src_lang=args.src_lang, tgt_lang=args.tgt_lang,
                                align_layer=args.align_layer, gold=not args.no_gold, data_dir=args.data_dir,
                                out=args.out, progress=not args.no_progress, command=["xlt"] + argv,
                                word_pieces=args.word_pieces, overwrite=args.overwrite)
        for src, table in rep["summary"].items():
            names = list(table)
            print(f"\n{src}: word retrieval P@1 (%), mean over languages: within sentence / among all English words")
            print(f"{'layer':>5} " + " ".join(f"{Path(n).name[-22:]:>22}" for n in names))
            for k in table[names[0]]:
                print(f"{k:>5} " + " ".join(f"{table[n][k]['sentence']:10.1f} /{table[n][k]['all']:9.1f}"
                                            for n in names))
        return 0
    no_progress_to_config(args)
    values = config_values(af.AlignFinetuneConfig, args, config_file=args.config)
    if "parallel" in values:
        values["parallel"] = _parallel(values["parallel"])
    cfg = build_config(af.AlignFinetuneConfig, values)
    rep = af.run_align_finetune(cfg, command=["xlt"] + argv)
    print(f"fine-tuned on {rep['stats'].get('n_links_used')} links of {len(rep['links'])} languages in "
          f"{rep['seconds']['total']:.0f} s; model folder: {rep['out']}")
    return 0
