"""``xlt adapt``: adapt an encoder to the languages you serve (``trim``: keep only their vocabulary)."""

from __future__ import annotations

from xlt.cli._common import count_arg


def add_parser(sub) -> None:
    p = sub.add_parser("adapt", help="adapt an encoder to your languages (trim: keep only their vocabulary)",
                       description="Each subcommand writes a model folder that 'xlt transfer --model' and 'xlt "
                                   "predict' load.")
    asub = p.add_subparsers(dest="adapt_command", required=True)
    t = asub.add_parser("trim", help="keep the vocabulary pieces (and embedding rows) your languages' text uses",
                        description="Tokenise the given languages' text, keep the pieces it uses (plus the special "
                                    "tokens), and re-index the tokenizer and the embedding matrix. On that text the "
                                    "trimmed model computes exactly what the full one does.")
    t.add_argument("--langs", required=True, help="comma-separated languages to keep (en,de,sw)")
    t.add_argument("--text", action="append", metavar="LANG=FILE",
                   help="a text file for one of them (one sentence per line); repeat it. Default: every sentence "
                        "the data folder holds in the language (NTREX, SIB-200, UD-POS, PAN-X)")
    t.add_argument("--model", default="bundled:e5-small", help="the model to trim (default bundled:e5-small)")
    t.add_argument("--min-count", type=count_arg, default=1,
                   help="keep pieces seen at least this often (default 1: every piece the text uses)")
    t.add_argument("--min-sentences", type=count_arg, default=200, help="least text per language (default 200)")
    t.add_argument("--data-dir", help="data folder")
    t.add_argument("--out", required=True, help="the trimmed model's folder")
    t.add_argument("--overwrite", action="store_true", help="replace a non-empty --out (whole)")


def run(args, argv) -> int:
    from xlt.jobs.adapt import TrimConfig, run_trim

    cfg = TrimConfig(langs=args.langs, out=args.out, text=args.text or [], model=args.model,
                     min_count=args.min_count, min_sentences=args.min_sentences, data_dir=args.data_dir,
                     overwrite=args.overwrite)
    rep = run_trim(cfg, command=["xlt"] + argv)
    mb = 4 / 2 ** 20
    print(f"vocabulary {rep['vocab_before']:,} -> {rep['vocab_after']:,} pieces; parameters "
          f"{rep['parameters_before']:,} -> {rep['parameters_after']:,} ({rep['parameters_before'] * mb:.0f} -> "
          f"{rep['parameters_after'] * mb:.0f} MiB as float32)")
    for lang, t in rep["per_language"].items():
        print(f"  {lang}: {t['sentences']:,} sentences, {t['tokens']:,} tokens, {t['pieces']:,} distinct pieces")
    print(f"model: {rep['out']} (use it with --model)")
    return 0
