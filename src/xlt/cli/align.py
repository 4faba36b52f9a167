"""``xlt align``: cross-lingual maps (fit, eval) and fine-tuning alignment."""

from __future__ import annotations

from pathlib import Path

from xlt.models.loading import DEFAULT_MODEL

PARALLEL_HELP = ("parallel text with an English side: ntrex (default); a folder of line-aligned files named by "
                 "language (en.txt, de.txt, ... or newstest2019-ref.deu.txt); one 'src ||| tgt' or 'src<TAB>tgt' "
                 "file; or two line-aligned files SRC_FILE TGT_FILE")


def _parallel_options(parser) -> None:
    """``--parallel`` and the languages of a pair whose file names do not give them."""
    parser.add_argument("--parallel", nargs="+", default=["ntrex"], metavar="ntrex|DIR|FILE", help=PARALLEL_HELP)
    parser.add_argument("--src-lang", help="language of the first file / left side of a --parallel pair")
    parser.add_argument("--tgt-lang", help="language of the second file / right side of a --parallel pair")


def _parallel(args):
    """``--parallel`` as the library takes it (``'ntrex'``, one path, or two paths).

    Raises:
        UsageError: more than two paths.
    """
    from xlt.errors import UsageError

    if len(args.parallel) > 2:
        raise UsageError(f"--parallel takes ntrex, one folder or file, or two line-aligned files; "
                         f"got {len(args.parallel)} paths")
    return args.parallel[0] if len(args.parallel) == 1 else list(args.parallel)


def add_parser(sub) -> None:
    from xlt.align.maps import METHODS

    p = sub.add_parser("align", help="cross-lingual maps (centering, Procrustes, linear) and fine-tuning alignment",
                       description="'fit': per-language, per-layer maps of word vectors into the English space, "
                                   "from word-aligned parallel text (NTREX or yours, --parallel) or bilingual "
                                   "dictionaries (use them with 'xlt transfer --aligner'); 'eval': word retrieval "
                                   "before/after on held-out parallel lines; 'finetune': fine-tune the encoder "
                                   "itself (Cao et al. 2020).")
    asub = p.add_subparsers(dest="align_command", required=True)
    f = asub.add_parser("fit", help="fit maps and save them")
    f.add_argument("--method", default="procrustes",
                   help=f"one or several (comma-separated) of: {', '.join(METHODS)}; several share one encoder pass")
    f.add_argument("--supervision", choices=["parallel", "dictionary"],
                   help="parallel (default) or dictionary (the default when --dictionary is given)")
    f.add_argument("--langs", default="all",
                   help="target languages (codes), task names (udpos, panx: their targets with parallel text) or "
                        "all; with --dictionary FILE, the one language of the file")
    f.add_argument("--model", default=DEFAULT_MODEL)
    f.add_argument("--layers", default="all", help="all (embeddings and every layer) or comma-separated indices")
    f.add_argument("--dictionary", metavar="wiktionary|bli|FILE",
                   help="dictionary supervision: wiktionary (dict/en-<language>.txt, default), bli (bli/en-xx 5k "
                        "training sets), or your file of 'english<TAB>foreign' or 'english foreign' lines for "
                        "the one language of --langs; implies --supervision dictionary")
    _parallel_options(f)
    f.add_argument("--align-layer", type=int, default=8, help="word aligner layer (parallel supervision)")
    f.add_argument("--align-dtype", default="float32", choices=["float32", "bfloat16"])
    f.add_argument("--max-sentences", type=int, help="parallel lines used for fitting (default: all but --heldout)")
    f.add_argument("--heldout", type=int, default=200, help="final parallel lines kept apart for 'xlt align eval'")
    f.add_argument("--max-pairs", type=int, default=50000, help="per-language cap on pairs (0 = no cap)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", required=True, help="map file (.npz); with several methods, <stem>.<method>.npz each")
    f.add_argument("--data-dir")
    f.add_argument("--cache-dir", help="on-disk feature cache folder")
    f.add_argument("--no-progress", action="store_true")
    e = asub.add_parser("eval", help="word retrieval P@1 before and after maps, on held-out parallel lines")
    e.add_argument("--aligner", nargs="*", default=[],
                   help="map file(s) from 'xlt align fit' (none: score --model's own vectors, e.g. a "
                        "fine-tuning-aligned encoder; --langs is then required)")
    e.add_argument("--langs", help="target languages (default: the first map file's)")
    e.add_argument("--model", help="model spec (default: the one the maps were fitted on)")
    e.add_argument("--heldout", type=int, default=200, help="final parallel lines held out (as for fit)")
    _parallel_options(e)
    e.add_argument("--align-layer", type=int, default=8)
    e.add_argument("--no-gold", action="store_true", help="skip the human-aligned wordalign sets")
    e.add_argument("--data-dir")
    e.add_argument("--out", help="JSON report")
    e.add_argument("--no-progress", action="store_true")
    t = asub.add_parser("finetune", help="fine-tuning alignment (Cao et al. 2020): a new encoder folder")
    t.add_argument("--langs", default="all", help="as for 'fit'")
    t.add_argument("--model", default=DEFAULT_MODEL)
    t.add_argument("--loss", default="l2", choices=["l2", "contrastive"])
    t.add_argument("--reg-weight", type=float, default=1.0, help="weight of the English-vector regulariser")
    t.add_argument("--layer", type=int, default=-1, help="hidden state to align (-1 = last, as Cao et al.)")
    t.add_argument("--align-layer", type=int, default=8)
    t.add_argument("--align-dtype", default="float32", choices=["float32", "bfloat16"])
    t.add_argument("--max-sentences", type=int, help="parallel lines per language (default: all but --heldout)")
    t.add_argument("--heldout", type=int, default=200)
    _parallel_options(t)
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, help="output model folder (for 'xlt transfer --model')")
    t.add_argument("--data-dir")
    t.add_argument("--no-progress", action="store_true")


def run(args, argv) -> int:
    from xlt.align import fit as af

    if args.align_command == "fit":
        from xlt.errors import UsageError

        if args.dictionary and args.supervision == "parallel":
            raise UsageError("--dictionary is for --supervision dictionary; leave out one of them")
        supervision = args.supervision or ("dictionary" if args.dictionary else "parallel")
        cfg = af.AlignFitConfig(out=args.out, methods=args.method, supervision=supervision, langs=args.langs,
                                model=args.model, layers=args.layers, dictionary=args.dictionary or "wiktionary",
                                parallel=_parallel(args), src_lang=args.src_lang, tgt_lang=args.tgt_lang,
                                align_layer=args.align_layer, align_dtype=args.align_dtype,
                                max_sentences=args.max_sentences, heldout=args.heldout,
                                max_pairs=args.max_pairs or None, seed=args.seed, data_dir=args.data_dir,
                                cache_dir=args.cache_dir, progress=not args.no_progress)
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
                                parallel=_parallel(args), src_lang=args.src_lang, tgt_lang=args.tgt_lang,
                                align_layer=args.align_layer, gold=not args.no_gold, data_dir=args.data_dir,
                                out=args.out, progress=not args.no_progress, command=["xlt"] + argv)
        for src, table in rep["summary"].items():
            names = list(table)
            print(f"\n{src}: word retrieval P@1 (%), mean over languages: within sentence / among all English words")
            print(f"{'layer':>5} " + " ".join(f"{Path(n).name[-22:]:>22}" for n in names))
            for k in table[names[0]]:
                print(f"{k:>5} " + " ".join(f"{table[n][k]['sentence']:10.1f} /{table[n][k]['all']:9.1f}"
                                            for n in names))
        return 0
    cfg = af.AlignFinetuneConfig(out=args.out, langs=args.langs, model=args.model, loss=args.loss,
                                 reg_weight=args.reg_weight, layer=args.layer, align_layer=args.align_layer,
                                 align_dtype=args.align_dtype, max_sentences=args.max_sentences,
                                 heldout=args.heldout, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                 seed=args.seed, data_dir=args.data_dir, progress=not args.no_progress,
                                 parallel=_parallel(args), src_lang=args.src_lang, tgt_lang=args.tgt_lang)
    rep = af.run_align_finetune(cfg, command=["xlt"] + argv)
    print(f"fine-tuned on {rep['stats'].get('n_links_used')} links of {len(rep['links'])} languages in "
          f"{rep['seconds']['total']:.0f} s; model folder: {rep['out']}")
    return 0
