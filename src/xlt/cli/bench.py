"""``xlt bench``: speed benchmarks run side by side with the alternative."""

from __future__ import annotations

from pathlib import Path

from xlt.cli._common import count_arg, positive_float_arg
from xlt.core.io import write_json
from xlt.models.loading import DEFAULT_MODEL

#: xlt fine-tuning variants `xlt bench finetune --variants` can time (extra `finetune()` arguments)
FINETUNE_VARIANTS: dict[str, dict] = {
    "grouped": {"group_by_length": True},
    "bf16": {"bf16": True},
    "grouped+bf16": {"group_by_length": True, "bf16": True},
    "micro4": {"micro_batch_size": 4},
    "micro8": {"micro_batch_size": 8},
    "micro8+bf16": {"micro_batch_size": 8, "bf16": True},
}


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench", required=True)
    e = bsub.add_parser("extract", help="xlt's batched feature extraction vs a naive one-sentence loop")
    e.add_argument("--model", default=DEFAULT_MODEL)
    e.add_argument("--file", help="XTREME tsv file to take sentences from "
                                   "(default: the evaluation file of --task/--lang)")
    e.add_argument("--task", default="udpos", choices=["udpos", "panx", "sib200"])
    e.add_argument("--lang", default="en", help="language of the evaluation file to use")
    e.add_argument("--n", type=count_arg, default=500, help="number of sentences")
    e.add_argument("--batch-size", type=count_arg, default=32)
    e.add_argument("--data-dir")
    e.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    e.add_argument("--out", help="write the result as JSON here")
    f = bsub.add_parser("finetune", help="xlt's fine-tuning vs a plain transformers.Trainer on the same model and data")
    f.add_argument("--model", default=DEFAULT_MODEL)
    f.add_argument("--task", default="udpos", choices=["udpos", "panx"], help="token task whose English data is used")
    f.add_argument("--n", type=count_arg, default=1000, help="training sentences (the first N of train-en)")
    f.add_argument("--dev-n", type=count_arg, default=500, help="dev sentences for the accuracy check")
    f.add_argument("--epochs", type=count_arg, default=1)
    f.add_argument("--batch-size", type=count_arg, default=32)
    f.add_argument("--lr", type=positive_float_arg, default=5e-5)
    f.add_argument("--max-length", type=count_arg, default=128)
    f.add_argument("--seed", type=int, default=0, help="seed of the head's initialisation and the batch order")
    f.add_argument("--variants", default="xlt",
                   help="comma-separated xlt variants to time: xlt (uniformly shuffled batches, as the Trainer), "
                        "plus any of " + ", ".join(FINETUNE_VARIANTS) + " (microN: length-sorted micro-batches of N, "
                        "'xlt transfer''s default on a CPU is micro8)")
    f.add_argument("--no-trainer", action="store_true", help="skip the transformers.Trainer baseline")
    f.add_argument("--data-dir")
    f.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    f.add_argument("--out", help="write the result as JSON here")
    m = bsub.add_parser("mine", help="bitext mining time as the input grows (embedding and FAISS search)")
    m.add_argument("--model", default=DEFAULT_MODEL)
    m.add_argument("--sizes", default="1000,10000,100000", help="sentences per side, comma-separated")
    m.add_argument("--lang", default="de", help="target language (its PAN-X sentences; English is the source)")
    m.add_argument("--indexes", default="flat,ivf", help="FAISS index kinds to time")
    m.add_argument("--batch-size", type=count_arg, default=64)
    m.add_argument("--data-dir")
    m.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    m.add_argument("--out", help="write the result as JSON here")


def _bench_mine(args) -> int:
    from xlt.bench import bench_mine, format_bench_mine, synthetic_sentences
    from xlt.models.loading import load_encoder
    from xlt.jobs.mine import panx_distractors

    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    n = max(sizes)
    sides, sources = [], {}
    for lang in ("en", args.lang):
        real, info = panx_distractors(lang, n, 0, args.data_dir)  # unique PAN-X sentences, seeded order
        words = sorted({w for sent in real for w in sent.split()})
        extra = synthetic_sentences(words, n - len(real) + len(real) // 10, seed=1) if len(real) < n else []
        seen = set(real)
        sides.append((real + [e for e in extra if e not in seen])[:n])
        sources[lang] = {**info, "real": min(len(real), n), "synthetic": max(0, n - len(real))}
    result = bench_mine(load_encoder(args.model), sides[0], sides[1], sizes,
                        [k.strip() for k in args.indexes.split(",") if k.strip()], batch_size=args.batch_size)
    result["input"] = {"model": args.model, "sentences": sources}
    print(format_bench_mine(result))
    if args.out:
        write_json(args.out, result)
    return 0


def _bench_finetune(args) -> int:
    from xlt.bench import bench_finetune, format_bench_finetune
    from xlt.data.tasks import load_split, source_files
    from xlt.cli._common import UsageError
    from xlt.models.loading import load_encoder

    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v != "xlt" and v not in FINETUNE_VARIANTS]
    if unknown or not names:
        raise UsageError(f"--variants: unknown {unknown}; choose from xlt, {', '.join(FINETUNE_VARIANTS)}")
    files = source_files(args.task, "en", args.data_dir)
    train, _ = load_split(args.task, files["train"], limit=args.n)
    dev, _ = load_split(args.task, files["dev"] or files["train"], limit=args.dev_n)
    enc = load_encoder(args.model)
    result = bench_finetune(enc, [e.tokens for e in train], [e.labels for e in train], [e.tokens for e in dev],
                            [e.labels for e in dev], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                            max_length=args.max_length, seed=args.seed,
                            variants={v: FINETUNE_VARIANTS.get(v, {}) for v in names}, trainer=not args.no_trainer)
    result["input"] = {"task": args.task, "train": str(files["train"]), "dev": str(files["dev"]), "model": args.model}
    print(format_bench_finetune(result))
    if args.out:
        write_json(args.out, result)
    return 0


def run(args, argv) -> int:
    from xlt.core.outputs import Output, OutputPlan

    # before any work
    from xlt.data.paths import data_set_folders

    inputs = [("--model", args.model), ("--file", getattr(args, "file", None)),
              ("--data-dir", data_set_folders(args.data_dir))]
    OutputPlan(inputs=inputs, outputs=[Output("--out", args.out, "file")], overwrite=args.overwrite).check()
    if args.bench == "mine":
        return _bench_mine(args)
    if args.bench == "finetune":
        return _bench_finetune(args)

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
        write_json(args.out, result)
    return 0
