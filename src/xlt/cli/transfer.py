"""``xlt transfer``: train on the source language, evaluate zero-shot on the targets."""

from __future__ import annotations

from pathlib import Path

from xlt.models.loading import DEFAULT_MODEL
from xlt.cli._common import layer_arg, seeds_arg


def add_parser(sub) -> None:
    p = sub.add_parser("transfer", help="train on the source language, evaluate zero-shot on targets",
                       description="Zero-shot cross-lingual transfer (XTREME protocol): train a task "
                                   "model on the source language, score every target language, write "
                                   "report.json, report.md and scores.png.")
    p.add_argument("--task", required=True, choices=["udpos", "panx", "sib200"])
    p.add_argument("--source", default="en", help="source language (en, eng, eng_Latn all work)")
    p.add_argument("--targets", default="all", help="'all' or a comma-separated list of languages")
    p.add_argument("--model", default=DEFAULT_MODEL, help="bundled:e5-small, a HF id or a local folder")
    p.add_argument("--mode", default="probe", choices=["probe", "finetune"])
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--layer", default="mix", type=layer_arg, help="probe features: mix, last, or a layer number (0 = embeddings)")
    p.add_argument("--head", default="linear", choices=["linear", "mlp"], help="probe head")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seeds", type=seeds_arg, default=[0], help="a count (3 = seeds 0,1,2) or a list (0,5,7)")
    p.add_argument("--train-limit", type=int, help="use the first N training sentences")
    p.add_argument("--eval-limit", type=int, help="use the first N sentences of each dev/evaluation set")
    p.add_argument("--ckpt-avg", type=int, default=0,
                   help="finetune: average the weights of the last N epochs (Schmidt et al. 2023)")
    p.add_argument("--max-length", type=int, default=128, help="finetune: training length in tokens")
    p.add_argument("--train-embeddings", action="store_true",
                   help="finetune: also train the word-embedding matrix (frozen by default: much faster on CPU)")
    p.add_argument("--data-dir", help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    p.add_argument("--cache-dir", help="probe: on-disk feature cache folder")
    p.add_argument("--aligner", help="probe: a map file from 'xlt align fit'; every language's features are "
                                     "mapped into the source space before the head")
    p.add_argument("--no-progress", action="store_true")


def run(args, argv: list[str]) -> int:
    from xlt.data.langs import language_name
    from xlt.transfer.run import TransferConfig, run_transfer

    cfg = TransferConfig(task=args.task, source=args.source, targets=args.targets, model=args.model,
                         mode=args.mode, layer=args.layer, head=args.head, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seeds=args.seeds,
                         train_limit=args.train_limit, eval_limit=args.eval_limit, ckpt_avg=args.ckpt_avg,
                         freeze_embeddings=not args.train_embeddings,
                         max_length=args.max_length, data_dir=args.data_dir, cache_dir=args.cache_dir,
                         out=args.out, aligner=args.aligner, progress=not args.no_progress)
    report = run_transfer(cfg, command=["xlt"] + argv)
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
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0
