"""``xlt wordalign``: word alignment and its evaluation."""

from __future__ import annotations

from pathlib import Path

from xlt.cli._common import count_arg, fraction_arg, layer_number_arg, nonneg_float_arg
from xlt.models.loading import DEFAULT_MODEL


def add_parser(sub) -> None:
    from xlt.align.words import DEFAULT_LAYER, LEVELS, SOFTMAX_THRESHOLD
    from xlt.data.wordalign import WORD_TOKENIZERS
    from xlt.models.words import DEFAULT_WORD_PIECES, WORD_PIECES

    p = sub.add_parser("wordalign", help="word alignment from a multilingual encoder (SimAlign, awesome-align)",
                       description="Align the words of 'source ||| target' lines with similarity-based "
                                   "extraction (SimAlign: argmax, itermax, match; awesome-align: softmax) "
                                   "and write Pharaoh links (0-based i-j, one line per pair). "
                                   "'xlt wordalign eval' scores a Pharaoh file against a gold one.")
    p.add_argument("--pairs", help="input file: one 'source ||| target' pair per line (required)")
    p.add_argument("--out", help="output Pharaoh file; with several methods {method} in it is replaced, "
                                 "else the method goes before the suffix (required)")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--overwrite", action="store_true", help="replace existing --out/--report files (never an input)")
    p.add_argument("--method", default="argmax",
                   help="argmax, itermax, match, softmax, a comma-separated list or 'all' (one encoder pass)")
    p.add_argument("--layer", type=layer_number_arg, default=DEFAULT_LAYER,
                   help=f"hidden state index (0 = embeddings; default {DEFAULT_LAYER}, as SimAlign)")
    p.add_argument("--tokenizer", default="space", choices=sorted(WORD_TOKENIZERS),
                   help="word tokeniser: space (pre-tokenised input) or simple (raw text: punctuation split off)")
    p.add_argument("--level", default="subword", choices=list(LEVELS),
                   help="similarities between subwords (SimAlign bpe, default) or mean-pooled words")
    p.add_argument("--word-pieces", default=DEFAULT_WORD_PIECES, choices=list(WORD_PIECES),
                   help="which subword pieces are a word's units: first/mean (default: every piece but a bare "
                        "SentencePiece '▁' marker), xtreme/mean_all (every piece, as SimAlign), no_marker, text")
    p.add_argument("--distortion", type=nonneg_float_arg, default=0.0, help="SimAlign distortion ratio (0 = off)")
    p.add_argument("--threshold", type=fraction_arg, default=SOFTMAX_THRESHOLD, help="softmax method threshold")
    p.add_argument("--use-prefix", action="store_true",
                   help="put the model's text prefix (E5: 'query: ') before each sentence (default: raw words)")
    p.add_argument("--batch-size", type=count_arg, default=32, help="sentences per forward pass")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                   help="encoder precision (bfloat16: much faster on CPUs with AMX/AVX512-BF16)")
    p.add_argument("--gold", help="gold Pharaoh file: print AER, precision, recall and F1 per method")
    p.add_argument("--one-based", action="store_true", help="the --gold file is 1-based")
    p.add_argument("--report", help="write the result (scores, counts, timings, config) as JSON here")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(wordalign_parser=p)
    wsub = p.add_subparsers(dest="wordalign_command", required=False, metavar="{eval}")
    e = wsub.add_parser("eval", help="AER, precision, recall and F1 of Pharaoh links against a gold file",
                        description="Score predicted Pharaoh links against gold links (i-j sure, ipj "
                                    "possible): AER (Och & Ney 2003), precision, recall and F1, in %.")
    e.add_argument("--gold", dest="eval_gold", metavar="FILE", required=True, help="gold Pharaoh file")
    e.add_argument("--pred", dest="eval_pred", metavar="FILE", nargs="+", required=True,
                   help="predicted Pharaoh file(s), 0-based")
    e.add_argument("--one-based", dest="eval_one_based", action="store_true", help="the gold file is 1-based")
    e.add_argument("--pred-one-based", dest="eval_pred_one_based", action="store_true",
                   help="the predicted files are 1-based")
    e.add_argument("--pairs", dest="eval_pairs", metavar="FILE",
                   help="'source ||| target' file: check that every link lies inside its sentence pair")
    e.add_argument("--tokenizer", dest="eval_tokenizer", default="space", choices=sorted(WORD_TOKENIZERS))
    e.add_argument("--report", dest="eval_report", metavar="FILE", help="write the scores as JSON here")
    e.add_argument("--overwrite", dest="eval_overwrite", action="store_true", help="replace an existing --report file")


def _print_wordalign_scores(rows: list[tuple[str, dict]]) -> None:
    print(f"{'':<24} {'AER':>6} {'P':>6} {'R':>6} {'F1':>6} {'links':>7}")
    for name, s in rows:
        print(f"{name[:24]:<24} {s['aer']:6.2f} {s['precision']:6.2f} {s['recall']:6.2f} {s['f1']:6.2f} "
              f"{s['counts']['pred']:7d}")


def _warn_truncated(stats: dict, n_aligned: int) -> None:
    """One stderr line when sentence pairs were cut at the model's length limit: how many, and their lines."""
    import sys

    from xlt.cli._common import first_few

    n = stats.get("n_truncated_pairs", 0)
    if not n:
        return
    # pair k of the job is line k + 1 of --pairs (skipped lines keep their place)
    lines = first_few([k + 1 for k in stats["truncated_pairs"]], n)
    print(f"warning: {n} of {n_aligned} sentence pairs are longer than the model takes ({stats['max_length']} "
          f"tokens) and were cut: {stats['n_truncated_words']} words past the cut have no links "
          f"(line{'s' if n > 1 else ''} {lines})", file=sys.stderr)


def run(args, argv) -> int:
    from xlt.cli._common import UsageError

    if args.wordalign_command == "eval":
        from xlt.core.outputs import Output, OutputPlan
        from xlt.evaluate.wordalign import evaluate_alignment_files

        OutputPlan(inputs=[("--gold", args.eval_gold), ("--pred", args.eval_pred), ("--pairs", args.eval_pairs)],
                   outputs=[Output("--report", args.eval_report, "file")], overwrite=args.eval_overwrite).check()

        rows = [(Path(f).name, evaluate_alignment_files(f, args.eval_gold, one_based=args.eval_one_based,
                                                        pred_one_based=args.eval_pred_one_based,
                                                        pairs=args.eval_pairs, tokenizer=args.eval_tokenizer))
                for f in args.eval_pred]
        print(f"gold: {args.eval_gold} ({rows[0][1]['counts']['pairs']} pairs, "
              f"{rows[0][1]['counts']['sure']} sure and {rows[0][1]['counts']['possible']} possible links); "
              "scores in %")
        _print_wordalign_scores(rows)
        if args.eval_report:
            from xlt.core.io import write_json

            write_json(args.eval_report, {"command": ["xlt"] + argv, "scores": dict(rows)})
        return 0
    missing = [f"--{n}" for n in ("pairs", "out") if not getattr(args, n)]
    if missing:
        args.wordalign_parser.error(f"the following arguments are required: {', '.join(missing)}")
    from xlt.align.words import parse_methods
    from xlt.jobs.wordalign import run_wordalign

    try:
        methods = parse_methods(args.method)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # the model spec goes on: run_wordalign reads and checks every file before the model loads
    res = run_wordalign(args.pairs, args.out, args.model, methods=methods, layer=args.layer, tokenizer=args.tokenizer,
                        gold=args.gold, one_based=args.one_based, report=args.report, command=["xlt"] + argv,
                        batch_size=args.batch_size, level=args.level, distortion=args.distortion,
                        softmax_threshold=args.threshold, use_prefix=args.use_prefix, dtype=args.dtype,
                        word_pieces=args.word_pieces, progress=not args.no_progress, overwrite=args.overwrite)
    c = res["counts"]
    print(f"{c['aligned']} sentence pairs aligned ({c['skipped_empty']} lines with an empty side skipped) "
          f"with {args.model}, layer {res['config']['layer']}, in {res['seconds']['total']:.1f} s "
          f"({res['pairs_per_second']:.1f} pairs/s)")
    _warn_truncated(res["stats"], c["aligned"])
    for m, path in res["outputs"].items():
        print(f"{m}: {path}")
    if res["scores"]:
        print(f"scores against {args.gold} (%):")
        _print_wordalign_scores(list(res["scores"].items()))
    if args.report:
        print(f"report: {args.report}")
    return 0
