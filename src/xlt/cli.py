"""The ``xlt`` command line: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from xlt.models.loading import DEFAULT_MODEL


def _seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"3"`` (meaning 0,1,2) → list of seeds."""
    if "," in text:
        return [int(s) for s in text.split(",") if s.strip()]
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("--seeds needs a positive count or a comma-separated list")
    return list(range(n))


def _layer(text: str) -> str:
    """``mix``, ``last`` or a (possibly negative) layer number, as given."""
    if text in {"mix", "last"}:
        return text
    try:
        int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layer must be 'mix', 'last' or an integer, got {text!r}") from None
    return text


def _add_transfer(sub) -> None:
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
    p.add_argument("--layer", default="mix", type=_layer, help="probe features: mix, last, or a layer number (0 = embeddings)")
    p.add_argument("--head", default="linear", choices=["linear", "mlp"], help="probe head")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seeds", type=_seeds, default=[0], help="a count (3 = seeds 0,1,2) or a list (0,5,7)")
    p.add_argument("--train-limit", type=int, help="use the first N training sentences")
    p.add_argument("--eval-limit", type=int, help="use the first N sentences of each dev/evaluation set")
    p.add_argument("--ckpt-avg", type=int, default=0,
                   help="finetune: average the weights of the last N epochs (Schmidt et al. 2023)")
    p.add_argument("--max-length", type=int, default=128, help="finetune: training length in tokens")
    p.add_argument("--train-embeddings", action="store_true",
                   help="finetune: also train the word-embedding matrix (frozen by default: much faster on CPU)")
    p.add_argument("--data-dir", help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    p.add_argument("--cache-dir", help="probe: on-disk feature cache folder")
    p.add_argument("--no-progress", action="store_true")


def _cmd_transfer(args, argv: list[str]) -> int:
    from xlt.data.langs import language_name
    from xlt.transfer.run import TransferConfig, run_transfer

    cfg = TransferConfig(task=args.task, source=args.source, targets=args.targets, model=args.model,
                         mode=args.mode, layer=args.layer, head=args.head, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seeds=args.seeds,
                         train_limit=args.train_limit, eval_limit=args.eval_limit, ckpt_avg=args.ckpt_avg,
                         freeze_embeddings=not args.train_embeddings,
                         max_length=args.max_length, data_dir=args.data_dir, cache_dir=args.cache_dir,
                         out=args.out, progress=not args.no_progress)
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


def _add_retrieve(sub) -> None:
    from xlt.retrieval.scoring import METHODS

    p = sub.add_parser("retrieve", help="bitext retrieval accuracy on Tatoeba",
                       description="Embed both sides of each Tatoeba test set and report retrieval "
                                   "accuracy in both directions and the xsim error rate.")
    p.add_argument("--dataset", default="tatoeba", choices=["tatoeba"])
    p.add_argument("--langs", default="all", help="'all' or a comma-separated list of languages")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--method", default="cosine", choices=list(METHODS))
    p.add_argument("--k", type=int, help="neighbours for csls (default 10) and margins (default 4)")
    p.add_argument("--layer", default="last", type=_layer, help="hidden state to pool: last or a number")
    p.add_argument("--pooling", default="mean", choices=["mean", "cls"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--data-dir")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--no-progress", action="store_true")


def _cmd_retrieve(args, argv) -> int:
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


def _add_export(sub) -> None:
    p = sub.add_parser("export-model", help="write a model as a standard Hugging Face folder")
    p.add_argument("spec", help="model spec, e.g. bundled:e5-small")
    p.add_argument("dir", help="output folder")


def _cmd_export(args, argv) -> int:
    from xlt.models.export import export_model

    out = export_model(args.spec, args.dir)
    print(f"exported {args.spec} to {out} (load with AutoModel/AutoTokenizer.from_pretrained)")
    return 0


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench", required=True)
    e = bsub.add_parser("extract", help="xlt's batched feature extraction vs a naive one-sentence loop")
    e.add_argument("--model", default=DEFAULT_MODEL)
    e.add_argument("--file", help="XTREME tsv file to take sentences from "
                                   "(default: the evaluation file of --task/--lang)")
    e.add_argument("--task", default="udpos", choices=["udpos", "panx", "sib200"])
    e.add_argument("--lang", default="en", help="language of the evaluation file to use")
    e.add_argument("--n", type=int, default=500, help="number of sentences")
    e.add_argument("--batch-size", type=int, default=32)
    e.add_argument("--data-dir")
    e.add_argument("--out", help="write the result as JSON here")


def _cmd_bench(args, argv) -> int:
    import json

    from xlt.bench import bench_extract, format_bench
    from xlt.data import tasks
    from xlt.data.readers import DataFormatError
    from xlt.models.loading import load_encoder

    if args.file:
        path = Path(args.file)
    else:
        path = tasks.available_languages(args.task, args.data_dir)[
            tasks.match_task_language(args.task, args.lang, args.data_dir)]
    examples, _ = tasks.load_split(args.task, path, limit=args.n)
    if not examples:
        raise DataFormatError(path, 1, "no sentences to benchmark")
    sentences = [e.tokens for e in examples] if hasattr(examples[0], "tokens") else [e.text.split() for e in examples]
    enc = load_encoder(args.model)
    result = bench_extract(enc, sentences, batch_size=args.batch_size)
    result["input"] = {"file": str(path), "sentences": len(sentences), "model": args.model}
    print(format_bench(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


COMMANDS = {"transfer": _cmd_transfer, "retrieve": _cmd_retrieve, "export-model": _cmd_export,
            "bench": _cmd_bench}


def build_parser() -> argparse.ArgumentParser:
    """The ``xlt`` argument parser with all subcommands."""
    parser = argparse.ArgumentParser(prog="xlt", description="zero-shot cross-lingual transfer toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_transfer(sub)
    _add_retrieve(sub)
    _add_export(sub)
    _add_bench(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xlt`` console script. Returns the process exit code.

    Errors users can fix (bad data lines, unknown languages, missing data or models) are
    printed as one ``xlt: error: ...`` line with exit code 2, without a traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from xlt.errors import USER_ERRORS

    if getattr(args, "no_progress", False):
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

    try:
        return COMMANDS[args.command](args, argv)
    except USER_ERRORS as exc:
        if args.verbose:
            raise
        print(f"xlt: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
