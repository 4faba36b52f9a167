"""``xlt transfer``: train on the source language, evaluate zero-shot on the targets.

Options map one to one onto :class:`xlt.jobs.transfer.TransferConfig`, which holds every default;
``--config run.yaml`` gives any of its fields, and the command line wins.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xlt.cli._common import (config_from_args, count_arg, fraction_arg, layer_arg, no_progress_to_config,
                             nonneg_int_arg, positive_float_arg, seeds_arg)


def add_parser(sub) -> None:
    from xlt.data.formats import FORMATS
    from xlt.data.tasks import TASKS
    from xlt.models.words import WORD_PIECES
    from xlt.transfer.decoding import DECODINGS

    p = sub.add_parser("transfer", help="train on the source language, evaluate zero-shot on targets",
                       description="Zero-shot cross-lingual transfer (XTREME protocol): train a task "
                                   "model on the source language, score every target language, write "
                                   "report.json, report.md and scores.png; optionally keep the model (--save) "
                                   "for 'xlt predict'. Data: a built-in --task, or your own files (--train, "
                                   "--dev, --eval) in CoNLL-U, CoNLL columns, XTREME tsv, CSV/TSV/JSONL or a "
                                   "Hugging Face datasets folder, or both: --task udpos --eval de=FILE scores "
                                   "the task's model on your file too (checked against the task's labels).",
                       argument_default=None)
    p.add_argument("--config", help="YAML/JSON file of settings (field names of TransferConfig); options win")
    d = p.add_argument_group("data: a built-in task")
    d.add_argument("--task", choices=sorted(TASKS))
    d.add_argument("--targets", help="'all' (default) or a comma-separated list of languages; with --eval files "
                                     "the default is none of the task's (the source and your files are scored), "
                                     "and a language both here and in --eval is an error")
    d.add_argument("--data-dir", help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    u = p.add_argument_group("data: your own files (alone, or added to a --task: each file is then checked against "
                             "the task's kind and labels)")
    u.add_argument("--train", metavar="FILE|LANG=FILE", action="append",
                   help="source-language training file (or datasets folder, hf:NAME spec); for several source "
                        "languages (multi-source, --matrix) repeat it as LANG=FILE (or files named by language); "
                        "with --task: added to the task's source training data (repeatable; one --source)")
    u.add_argument("--dev", metavar="FILE|LANG=FILE", action="append",
                   help="source-language dev file for model selection (default: --dev-fraction of --train held "
                        "out); with several --train languages LANG=FILE, repeated; with --task: one file, which "
                        "replaces the task's dev set")
    u.add_argument("--eval", metavar="LANG=FILE|FILE|DIR", action="append",
                   help="an evaluation set; repeat it. Without LANG= the language is read from the file name "
                        "(test-de.conll, sw.csv); a folder gives every data file in it. With --task: scored "
                        "with the task's model besides the source (a source-language file replaces the task's "
                        "in-language set)")
    u.add_argument("--format", choices=sorted(FORMATS), help="format of every file of yours (default: from the "
                                                            "extension)")
    u.add_argument("--text-column", help="table column(s) with the text: 'text', or 'premise,hypothesis' for pairs")
    u.add_argument("--label-column", help="table column with the label")
    u.add_argument("--tag-column", type=int, help="CoNLL columns: 0-based column of the tag (-1 = last, default)")
    u.add_argument("--dev-fraction", type=fraction_arg, help="share of --train held out as dev when no --dev (0.1)")
    p.add_argument("--label-map", action="append", metavar="FROM=TO",
                   help="rename a label or BIO entity type in every split (DATE=O); repeat or comma-separate")
    p.add_argument("--labels", type=lambda t: [x.strip() for x in t.split(",") if x.strip()],
                   help="your files: the label inventory in this order (a training label outside it is an "
                        "error); default: the training labels, BIO tags grouped by type; not with --task (the "
                        "task fixes its inventory)")
    p.add_argument("--metric", choices=["accuracy", "f1"], help="default: span F1 for BIO tags, else accuracy")
    p.add_argument("--source", help="source language (en, eng, eng_Latn all work; default en); built-in tasks: a "
                                    "comma-separated list (en,de,ru) trains on their union (multi-source), or with "
                                    "--matrix once per source (your files: --train LANG=FILE per source)")
    p.add_argument("--sampling-temperature", type=positive_float_arg,
                   help="multi-source: draw languages with probability ~ size^(1/T) (1 = natural proportions, "
                        "default; larger favours small sources)")
    p.add_argument("--matrix", action="store_true", default=None,
                   help="train on each source language (--source a,b,... or --train LANG=FILE, repeated) in turn and "
                        "score every target: a "
                        "sources x targets table (matrix.json, matrix.md, matrix.png; each source's report under "
                        "OUT/by-source/)")
    p.add_argument("--ensemble", type=nonneg_int_arg, metavar="K",
                   help="with --matrix: also score every target with ensembles of the source models: all "
                        "sources, equally weighted, and the K sources a ranker trained on the other targets' "
                        "columns puts first (LangRank features; 0 = off, default)")
    m = p.add_argument_group("model and training")
    m.add_argument("--model", help="bundled:e5-small (default), a HF id or a local folder")
    m.add_argument("--mode", choices=["probe", "finetune"], help="default probe")
    m.add_argument("--layer", type=layer_arg, help="probe features: mix (default), last, or a layer number")
    m.add_argument("--head", choices=["linear", "mlp"], help="probe head (default linear)")
    m.add_argument("--group-by-length", action=argparse.BooleanOptionalAction, default=None,
                   help="finetune: batches of similar-length sentences (faster, but less accurate on short "
                        "runs; default off: uniformly shuffled batches)")
    m.add_argument("--micro-batch-size", type=nonneg_int_arg,
                   help="finetune: run each batch as length-sorted micro-batches of N sentences, accumulating "
                        "gradients (the same update with less padding); 0: whole batches; default 8 on a CPU, "
                        "0 on a GPU")
    m.add_argument("--bf16", action="store_true", default=None,
                   help="finetune: bfloat16 autocast (CPUs with AVX512-BF16/AMX, GPUs)")
    m.add_argument("--pooling", choices=["mean", "cls"],
                   help="finetune, sequence/pair tasks: mean pooling (default, XTREME) or the model's CLS head")
    m.add_argument("--word-pieces", choices=list(WORD_PIECES),
                   help="token tasks: which subword pieces stand for a word (probe vector, fine-tuned label): "
                        "auto (default: as first, but a sentence split into single characters, as PAN-X's "
                        "Japanese and Chinese, is tokenised as text), first (the first piece that is not a bare "
                        "SentencePiece '▁' marker), mean (of those pieces), xtreme (XTREME's first piece, a bare "
                        "'▁' included), mean_all, no_marker (bare markers also left out of the input), text (the "
                        "sentence tokenised as text, words mapped by character offsets)")
    m.add_argument("--decoding", choices=list(DECODINGS),
                   help="token tasks: how word probabilities become tags: bio (default: for BIO labels the "
                        "most probable well-formed sequence, a Viterbi search under the BIO constraints; "
                        "for other labels each word's most probable one), argmax (each word's most probable "
                        "label, as XTREME)")
    m.add_argument("--peft", choices=["lora", "bitfit", "adapter"],
                   help="finetune: train few parameters: lora (low-rank query/value updates, merged after "
                        "training), bitfit (biases only) or adapter (bottleneck adapters); the head is always trained")
    m.add_argument("--language-adapters", nargs="+", metavar="LANG=DIR",
                   help="--peft adapter: MAD-X language adapters from 'xlt adapt mlm --language-adapter' (the "
                        "source's is needed; each target's is swapped in when it is evaluated)")
    m.add_argument("--lora-r", type=count_arg, help="--peft lora: rank (default 8; alpha = 2r)")
    m.add_argument("--adapter-size", type=count_arg, help="--peft adapter: bottleneck size (default 48)")
    m.add_argument("--epochs", type=count_arg)
    m.add_argument("--batch-size", type=count_arg)
    m.add_argument("--lr", type=positive_float_arg)
    m.add_argument("--seeds", type=seeds_arg, help="a count (3 = seeds 0,1,2) or a list (0,5,7); default 0")
    m.add_argument("--seed-ensemble", action="store_true", default=None,
                   help="with --seeds 2 or more: also score every language with the ensemble of the seeds' "
                        "models (mean of their label probabilities)")
    m.add_argument("--train-limit", type=count_arg, help="use the first N training sentences")
    m.add_argument("--eval-limit", type=count_arg, help="use the first N sentences of each dev/evaluation set")
    m.add_argument("--romanize", action="store_true", default=None,
                   help="evaluate targets written mostly in a non-Latin script on their uroman romanisation "
                        "(token tasks word by word)")
    m.add_argument("--ckpt-avg", type=nonneg_int_arg, help="finetune: average the weights of the last N epochs (Schmidt et al. 2023)")
    m.add_argument("--max-length", type=count_arg, help="finetune: training length in tokens (128)")
    m.add_argument("--train-embeddings", action="store_true", default=None,
                   help="finetune: also train the word-embedding matrix (frozen by default: much faster on CPU)")
    m.add_argument("--checkpoint-dir", metavar="DIR",
                   help="finetune: write a checkpoint at the end of every epoch to DIR/seed-N/ "
                        "(default with --resume: OUT/checkpoints)")
    m.add_argument("--resume", action="store_true", default=None,
                   help="finetune: continue an interrupted run from its checkpoints (same settings and data; "
                        "seeds without a checkpoint start afresh)")
    m.add_argument("--cache-dir", help="probe: on-disk feature cache folder")
    m.add_argument("--aligner", help="probe: a map file from 'xlt align fit'; every language's features are "
                                     "mapped into the source space before the head")
    o = p.add_argument_group("outputs")
    o.add_argument("--out", help="report folder (required)")
    o.add_argument("--save", metavar="DIR", help="keep the task model chosen on source dev here (for 'xlt predict')")
    o.add_argument("--save-which", choices=["best", "all"], help="best seed (default) or every seed under DIR/seed-N")
    o.add_argument("--overwrite", action="store_true", default=None, help="replace a non-empty --out or --save folder (whole)")
    o.add_argument("--predictions", action="store_true", default=None,
                   help="also write the selected model's predictions to OUT/predictions/<lang>.jsonl")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(transfer_parser=p)


def run(args, argv: list[str]) -> int:
    from xlt.data.langs import language_name
    from xlt.cli._common import UsageError
    from xlt.jobs.transfer import TransferConfig, run_transfer

    if args.train_embeddings:
        args.freeze_embeddings = False
    no_progress_to_config(args)
    for name in ("train", "dev"):  # one file stays a plain string (as in a --config file)
        value = getattr(args, name)
        if value is not None and len(value) == 1:
            setattr(args, name, value[0])
    cfg = config_from_args(TransferConfig, args, config_file=args.config)
    if not cfg.out:
        raise UsageError("--out is required (the report folder)")
    if cfg.matrix:
        return _run_matrix(cfg, argv)
    report = run_transfer(cfg, command=["xlt"] + argv)
    from xlt.jobs.transfer import _is_main_process

    if not _is_main_process():  # accelerate launch: the main process prints
        return 0
    src = report["source"]
    rows = sorted(report["scores"].items(), key=lambda kv: -kv[1])
    print(f"\n{report['task']} {report['mode']} {report['metric_name']}, model {report['model']}, "
          f"source {src}, seeds {cfg.seeds}")
    print(f"{'lang':<10} {'language':<28} {'score':>8} {'± std':>7} {'sents':>7}")
    for lang, val in rows:
        mark = " (source)" if lang == src else ""
        try:
            name = language_name(lang)
        except Exception:  # noqa: BLE001 - names are cosmetic here
            name = lang
        print(f"{lang:<10} {(name + mark)[:28]:<28} {val:8.2f} {report['scores_std'][lang]:7.2f} "
              f"{report['counts'][lang]['sentences']:7d}")
    print(f"{'average over ' + str(report['n_targets']) + ' targets':<39} {report['average']:8.2f} "
          f"{report['average_std']:7.2f}")
    if "seed_ensemble" in report:
        ens = report["seed_ensemble"]
        print(f"{'ensemble of the ' + str(len(ens['seeds'])) + ' seeds':<39} {ens['average']:8.2f} "
              f"(source {ens['scores'].get(src, float('nan')):.2f})")
    for lang, unseen in report.get("unseen_labels", {}).items():
        print(f"warning: {lang}: gold labels never seen in training, scored as they are: "
              + ", ".join(f"{k} ×{v}" for k, v in sorted(unseen.items())) + " (map them with --label-map)")
    if report.get("saved"):
        print(f"model: {report['saved']['path']} (seed {report['best_seed']}, best on source dev)")
    print(f"report: {Path(cfg.out) / 'report.md'}")
    return 0


def _run_matrix(cfg, argv: list[str]) -> int:
    from xlt.jobs.matrix import run_matrix

    rep = run_matrix(cfg, command=["xlt"] + argv)
    print(f"\n{rep['task']} {rep['mode']} {rep['metric_name']}: transfer matrix, model {rep['model']}")
    print(f"{'source':<8} {'avg over targets':>16} {'source dev':>10}")
    for s in rep["sources"]:
        dev = next(iter(rep["source_dev"][s].values()), float("nan"))
        avg = rep["source_average"][s]
        print(f"{s:<8} {'–' if avg is None else f'{avg:.2f}':>16} {dev:10.2f}")
    gains = [b["gain"] for b in rep["best_source"].values() if b["gain"] is not None]
    if gains:
        print(f"best source per target instead of {rep['sources'][0]}: {sum(gains) / len(gains):+.2f} on average "
              f"over {len(gains)} targets (oracle)")
    print(f"matrix: {Path(cfg.out) / 'matrix.md'}")
    return 0
