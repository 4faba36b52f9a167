"""``xlt project``: BIO label projection through word alignments, and silver data.

With ``--silver`` the options map onto :class:`xlt.jobs.silver.SilverConfig`, which holds every
default; ``--config run.yaml`` gives any of its fields, and the command line wins. The file mode
(``--src-tags``/``--tgt``/``--align``) has no config dataclass; unset options take the defaults
of :func:`xlt.align.projection.project_files`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xlt.cli._common import (build_config, config_option, config_values, count_arg, default_of, layer_number_arg,
                             no_progress_to_config, nonneg_int_arg, option_name, positive_float_arg, seeds_arg)

# option name -> SilverConfig field, where they differ
SILVER_RENAME = {"silver": "parallel"}


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def add_parser(sub) -> None:
    from xlt.data.wordalign import WORD_TOKENIZERS
    from xlt.jobs.silver import SilverConfig as S
    from xlt.models.words import WORD_PIECES

    p = sub.add_parser("project", help="project BIO spans onto translations through word alignments",
                       description="Label projection: each BIO span of the source sentence goes to the "
                                   "contiguous target range from the first to the last target word linked "
                                   "to it (Yarowsky et al. 2001); spans with no link are unprojectable, "
                                   "overlapping projections are resolved in favour of the span with more "
                                   "links. Writes the target side as XTREME token<TAB>TAG lines plus a JSON "
                                   "statistics file. With --silver ntrex instead of the file options: the "
                                   "whole silver-data pipeline (tag NTREX English with an English PAN-X "
                                   "probe, align, project, train on the projected data) and its PAN-X dev "
                                   "F1 next to zero-shot transfer, as a report folder.",
                       argument_default=None)
    p.add_argument("--src-tags", metavar="FILE.tsv",
                   help="source sentences, XTREME 'token<TAB>TAG' lines (BIO), blank line between sentences")
    p.add_argument("--tgt", metavar="FILE",
                   help="target sentences: tokenised text (one per line) or a 'source ||| target' file")
    p.add_argument("--align", metavar="FILE",
                   help="Pharaoh links (i-j), one line per sentence pair, 0-based unless --one-based")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an existing --out (file, or report folder with --silver; never an input)")
    p.add_argument("--out", metavar="FILE.tsv|DIR",
                   help="output: the tagged target side (with --silver: the report folder) (required)")
    p.add_argument("--stats", metavar="FILE.json", help="statistics file (default: --out with .stats.json)")
    p.add_argument("--one-based", action="store_true", default=None, help="the --align file counts words from 1")
    p.add_argument("--tgt-format", choices=["auto", "text", "pairs"],
                   help="auto (default): a pairs file when the first line contains '|||'")
    p.add_argument("--tokenizer", choices=sorted(WORD_TOKENIZERS),
                   help="word tokeniser of --tgt (default space); use the one the alignments were made with")
    p.add_argument("--max-gap", type=nonneg_int_arg, metavar="N",
                   help="drop a projected span with more than N unlinked words inside it (default: no limit)")
    p.add_argument("--use-possible", action="store_true", default=None,
                   help="also use 'ipj' possible links (default: sure only)")
    p.add_argument("--drop-partial", action=argparse.BooleanOptionalAction,
                   help="leave out sentences where some source span could not be projected "
                        f"(default: {_yes(default_of(S, 'drop_partial'))})")
    p.add_argument("--keep-empty", action=argparse.BooleanOptionalAction,
                   help=f"keep sentences with no source entity, as all-O training data "
                        f"(default: {_yes(default_of(S, 'keep_empty'))})")
    s = p.add_argument_group("silver-data mode (--silver; not with the file options above)")
    s.add_argument("--silver", choices=["ntrex"],
                   help="build silver NER data from this parallel corpus, train on it and compare with zero-shot")
    config_option(s, S)
    s.add_argument("--langs", help=f"target languages (default {default_of(S, 'langs')}; zho-TW for traditional "
                                   "Chinese)")
    s.add_argument("--model", help=f"encoder for probes and alignment (default {default_of(S, 'model')})")
    s.add_argument("--align-method", choices=["argmax", "itermax", "match", "softmax"],
                   help=f"word alignment method (default {default_of(S, 'align_method')}; itermax: more links, "
                        "fewer unprojectable spans; argmax is the higher-precision choice)")
    s.add_argument("--align-layer", type=layer_number_arg, help=f"hidden state for alignment (default {default_of(S, 'align_layer')})")
    s.add_argument("--word-pieces", choices=list(WORD_PIECES),
                   help=f"which subword pieces stand for a word in probe features and alignment units "
                        f"(as 'xlt transfer --word-pieces'; default {default_of(S, 'word_pieces')})")
    s.add_argument("--train-limit", type=count_arg,
                   help=f"first N PAN-X English training sentences (default {default_of(S, 'train_limit')})")
    s.add_argument("--eval-limit", type=count_arg,
                   help=f"first N sentences of each PAN-X dev set (default {default_of(S, 'eval_limit')})")
    s.add_argument("--seeds", type=seeds_arg,
                   help=f"a count (3 = seeds 0,1,2) or a list (0,5,7); default {default_of(S, 'seeds')}")
    s.add_argument("--epochs", type=count_arg, help="probe epochs (default: as xlt transfer's probe, 10)")
    s.add_argument("--batch-size", type=count_arg, help="probe batch size (default 256)")
    s.add_argument("--lr", type=positive_float_arg, help="probe learning rate (default 1e-3)")
    s.add_argument("--data-dir", help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    s.add_argument("--cache-dir", help="on-disk feature cache folder")
    s.add_argument("--no-progress", action="store_true")


_PROJECT_FILE_OPTIONS = ("src_tags", "tgt", "align", "stats", "one_based", "tgt_format", "tokenizer", "use_possible")


_PROJECT_SILVER_OPTIONS = ("langs", "model", "align_method", "align_layer", "train_limit", "eval_limit", "seeds",
                           "epochs", "batch_size", "lr", "data_dir", "cache_dir", "config", "word_pieces")


def _run_silver(args, argv) -> int:
    from xlt.cli._common import UsageError
    from xlt.jobs.silver import SilverConfig, run_silver

    given = [option_name(n) for n in _PROJECT_FILE_OPTIONS if getattr(args, n) not in (None, False)]
    if given:
        raise UsageError(f"--silver builds its own inputs; it cannot be combined with {', '.join(given)}")
    no_progress_to_config(args)
    cfg = build_config(SilverConfig, config_values(SilverConfig, args, rename=SILVER_RENAME,
                                                   config_file=args.config), rename=SILVER_RENAME)
    for name in ("train_limit", "eval_limit", "epochs", "batch_size"):
        if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
            raise UsageError(f"{option_name(name)} must be >= 1")
    if cfg.max_gap is not None and cfg.max_gap < 0:
        raise UsageError(f"--max-gap must be >= 0, got {cfg.max_gap}")
    if not cfg.out:
        raise UsageError("--out is required (the report folder)")
    rep = run_silver(cfg, command=["xlt"] + argv)
    first = str(cfg.seeds[0])
    print(f"\nPAN-X {rep['metric_name']}, model {rep['model']}, silver data from {cfg.parallel} "
          f"({cfg.align_method}, layer {cfg.align_layer}), seeds {cfg.seeds}")
    print(f"{'lang':<6} {'zero-shot':>9} {'silver':>8} {'delta':>7} {'silver sents':>12} {'spans proj.':>12}")
    for lang, val in rep["scores"].items():
        zs = rep["zero_shot_scores"][lang]
        s = rep["counts"][lang]["silver"][first]
        print(f"{lang:<6} {zs:9.2f} {val:8.2f} {val - zs:+7.2f} {s['kept']:12d} "
              f"{s['spans']['projected']:5d}/{s['spans']['n_spans']:<6d}")
    print(f"{'avg':<6} {rep['zero_shot_average']:9.2f} {rep['average']:8.2f} "
          f"{rep['average'] - rep['zero_shot_average']:+7.2f}")
    print(f"report: {Path(cfg.out) / 'report.md'} (silver data: {Path(cfg.out) / 'silver'})")
    return 0


def run(args, argv) -> int:
    from xlt.align.projection import project_files
    from xlt.cli._common import UsageError

    if args.silver:
        return _run_silver(args, argv)
    given = [option_name(n) for n in _PROJECT_SILVER_OPTIONS if getattr(args, n) is not None]
    if given:
        raise UsageError(f"{', '.join(given)} only apply with --silver")
    missing = [option_name(n) for n in ("src_tags", "tgt", "align") if getattr(args, n) is None]
    if missing:
        raise UsageError(f"give {', '.join(missing)} (or --silver ntrex to build silver data)")
    if not args.out:
        raise UsageError("--out is required (the tagged target file)")
    from xlt.core.outputs import Output, OutputPlan

    OutputPlan(inputs=[(option_name(n), getattr(args, n)) for n in ("src_tags", "tgt", "align")],
               outputs=[Output("--out", args.out, "file"), Output("--stats", args.stats, "file")],
               overwrite=bool(args.overwrite)).check()
    options = {n: getattr(args, n) for n in ("one_based", "tgt_format", "tokenizer", "max_gap", "use_possible",
                                             "drop_partial", "keep_empty")}
    rep = project_files(args.src_tags, args.tgt, args.align, args.out, stats_path=args.stats, command=["xlt"] + argv,
                        **{n: v for n, v in options.items() if v is not None})  # unset: project_files's defaults
    s, sp = rep["sentences"], rep["spans"]
    pct = f" ({sp['projected_pct']:.1f}%)" if sp["projected_pct"] is not None else ""
    print(f"spans: {sp['n_spans']} source, {sp['projected']} projected{pct}, {sp['unprojectable']} unprojectable, "
          f"{sp['conflicts']} conflicts, {sp['too_gappy']} too gappy")
    for label, c in sp["per_label"].items():
        print(f"  {label:<8} {c['spans']:6d} source {c['projected']:6d} projected {c['unprojectable']:6d} "
              f"unprojectable {c['conflicts']:5d} conflicts {c['too_gappy']:5d} too gappy")
    print(f"sentences: {s['read']} read, {s['written']} written; {s['empty_target']} with an empty target, "
          f"{s['dropped_partial']} dropped as partial, {s['dropped_no_entity']} dropped without entities")
    if s["src_word_mismatch"]:
        print(f"warning: {s['src_word_mismatch']} pairs-file source sides differ from the tsv words "
              "(same counts); check that the files are in the same order")
    print(f"output: {rep['outputs']['tsv']} (stats: {rep['outputs']['stats']})")
    return 0
