"""``xlt adapt``: adapt an encoder to the languages you serve (``trim``: keep only their vocabulary;
``mlm``: continued pretraining on their text)."""

from __future__ import annotations

from xlt.cli._common import count_arg, fraction_arg, positive_float_arg

TEXT_HELP = ("a text file for one of them (one sentence per line); repeat it. Default: every sentence the data "
             "folder holds in the language (NTREX, SIB-200, UD-POS, PAN-X)")


def add_parser(sub) -> None:
    p = sub.add_parser("adapt", help="adapt an encoder to your languages (trim: keep only their vocabulary; mlm: "
                                     "continued pretraining on their text)",
                       description="Each subcommand writes a model folder that 'xlt transfer --model' and 'xlt "
                                   "predict' load.")
    asub = p.add_subparsers(dest="adapt_command", required=True)
    t = asub.add_parser("trim", help="keep the vocabulary pieces (and embedding rows) your languages' text uses",
                        description="Tokenise the given languages' text, keep the pieces it uses (plus the special "
                                    "tokens), and re-index the tokenizer and the embedding matrix. On that text the "
                                    "trimmed model computes exactly what the full one does.")
    t.add_argument("--langs", required=True, help="comma-separated languages to keep (en,de,sw)")
    t.add_argument("--text", action="append", metavar="LANG=FILE", help=TEXT_HELP)
    t.add_argument("--model", default="bundled:e5-small", help="the model to trim (default bundled:e5-small)")
    t.add_argument("--min-count", type=count_arg, default=1,
                   help="keep pieces seen at least this often (default 1: every piece the text uses)")
    t.add_argument("--min-sentences", type=count_arg, default=200, help="least text per language (default 200)")
    t.add_argument("--data-dir", help="data folder")
    t.add_argument("--out", required=True, help="the trimmed model's folder")
    t.add_argument("--overwrite", action="store_true", help="replace a non-empty --out (whole)")
    m = asub.add_parser("mlm", help="continued pretraining: masked language modelling on your languages' text",
                        description="Train the encoder further with BERT's masked language modelling on the given "
                                    "languages' text (an MLM head tied to the word embeddings is added for "
                                    "training and dropped after); full training or LoRA. Reports the MLM loss on "
                                    "held-out text before and after.")
    m.add_argument("--langs", required=True, help="comma-separated languages to train on (yo, or yo,ha)")
    m.add_argument("--text", action="append", metavar="LANG=FILE", help=TEXT_HELP)
    m.add_argument("--model", default="bundled:e5-small", help="the model to adapt (default bundled:e5-small)")
    m.add_argument("--steps", type=count_arg, default=500, help="optimiser steps (default 500)")
    m.add_argument("--batch-size", type=count_arg, default=16, help="sentences per step (default 16)")
    m.add_argument("--lr", type=positive_float_arg, default=5e-5, help="peak learning rate (default 5e-5)")
    m.add_argument("--max-length", type=count_arg, default=128, help="tokens per sentence (default 128)")
    m.add_argument("--lora", action="store_true", help="train LoRA updates of query/value only (merged after)")
    m.add_argument("--lora-r", type=count_arg, default=8, help="LoRA rank (default 8)")
    m.add_argument("--freeze-embeddings", action="store_true", help="keep the word embeddings fixed")
    m.add_argument("--language-adapter", type=count_arg, metavar="SIZE",
                   help="train a MAD-X language adapter of this bottleneck size (e.g. 48) instead of the model; "
                        "--out then holds the adapter for 'xlt transfer --language-adapters'")
    m.add_argument("--dev-fraction", type=fraction_arg, default=0.05, help="held-out share for the loss (0.05)")
    m.add_argument("--limit", type=count_arg, help="at most this many sentences per language")
    m.add_argument("--min-sentences", type=count_arg, default=200, help="least text per language (default 200)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--data-dir", help="data folder")
    m.add_argument("--out", required=True, help="the adapted model's folder")
    m.add_argument("--overwrite", action="store_true", help="replace a non-empty --out (whole)")
    m.add_argument("--no-progress", action="store_true")
    e = asub.add_parser("extend", help="a vocabulary learnt on your language's text, new pieces initialised from "
                                       "the old embeddings (FOCUS-style), then MLM",
                        description="Learn a Unigram tokenizer on the languages' text, add its new pieces to the "
                                    "vocabulary (--mode extend) or use it alone (--mode replace), initialise the new "
                                    "pieces' embeddings from similar old pieces (--init focus) or at random, and "
                                    "train with MLM (--steps; 0 = none).")
    e.add_argument("--langs", required=True, help="comma-separated languages (usually one)")
    e.add_argument("--text", action="append", metavar="LANG=FILE", help=TEXT_HELP)
    e.add_argument("--model", default="bundled:e5-small", help="the model to adapt (default bundled:e5-small)")
    e.add_argument("--vocab-size", type=count_arg, default=8000, help="the new tokenizer's size (default 8000)")
    e.add_argument("--mode", choices=["extend", "replace"], default="extend")
    e.add_argument("--init", choices=["focus", "random"], default="focus")
    e.add_argument("--steps", type=int, default=500, help="MLM steps after (default 500; 0 = none)")
    e.add_argument("--batch-size", type=count_arg, default=16)
    e.add_argument("--lr", type=positive_float_arg, default=5e-5)
    e.add_argument("--limit", type=count_arg, help="at most this many sentences per language")
    e.add_argument("--min-sentences", type=count_arg, default=200, help="least text per language (default 200)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--data-dir", help="data folder")
    e.add_argument("--out", required=True, help="the adapted model's folder")
    e.add_argument("--overwrite", action="store_true", help="replace a non-empty --out (whole)")
    e.add_argument("--no-progress", action="store_true")
    r = asub.add_parser("translit", help="align non-Latin-script text with its romanisation (uroman; TransliCo-style)",
                        description="Romanise each language's text word by word with uroman and fine-tune the encoder "
                                    "so that every original-script word's vector moves to its romanised word's "
                                    "(contrastive or L2 loss of 'xlt align finetune'; the romanised side is kept in "
                                    "place by a regulariser).")
    r.add_argument("--langs", required=True, help="comma-separated non-Latin-script languages (th,ur,am)")
    r.add_argument("--text", action="append", metavar="LANG=FILE", help=TEXT_HELP)
    r.add_argument("--model", default="bundled:e5-small", help="the model to adapt (default bundled:e5-small)")
    r.add_argument("--loss", choices=["contrastive", "l2"], default="contrastive")
    r.add_argument("--reg-weight", type=float, default=1.0, help="weight of the regulariser (default 1)")
    r.add_argument("--epochs", type=count_arg, default=1)
    r.add_argument("--batch-size", type=count_arg, default=16)
    r.add_argument("--lr", type=positive_float_arg, default=5e-5)
    r.add_argument("--limit", type=count_arg, default=2000, help="sentences per language (default 2000)")
    r.add_argument("--min-sentences", type=count_arg, default=200, help="least text per language (default 200)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--data-dir", help="data folder")
    r.add_argument("--out", required=True, help="the adapted model's folder")
    r.add_argument("--overwrite", action="store_true", help="replace a non-empty --out (whole)")
    r.add_argument("--no-progress", action="store_true")


def run(args, argv) -> int:
    if args.adapt_command == "mlm":
        return _run_mlm(args, argv)
    if args.adapt_command == "translit":
        return _run_translit(args, argv)
    if args.adapt_command == "extend":
        return _run_extend(args, argv)
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


def _run_mlm(args, argv) -> int:
    from xlt.jobs.adapt import MlmConfig, run_mlm

    cfg = MlmConfig(langs=args.langs, out=args.out, text=args.text or [], model=args.model, steps=args.steps,
                    batch_size=args.batch_size, lr=args.lr, max_length=args.max_length, lora=args.lora,
                    lora_r=args.lora_r, freeze_embeddings=args.freeze_embeddings, dev_fraction=args.dev_fraction,
                    limit=args.limit, min_sentences=args.min_sentences, seed=args.seed, data_dir=args.data_dir,
                    overwrite=args.overwrite, progress=not args.no_progress, language_adapter=args.language_adapter)
    rep = run_mlm(cfg, command=["xlt"] + argv)
    for lang, t in rep["text"].items():
        print(f"  {lang}: {t['sentences']:,} sentences")
    print(f"MLM loss on held-out text: {rep['dev_loss_before']:.3f} -> {rep['dev_loss_after']:.3f} "
          f"({rep['trainable_parameters']:,} parameters trained, {rep['seconds']:.0f} s)")
    print(f"{'language adapter' if args.language_adapter else 'model'}: {rep['out']} (use it with "
          f"{'--language-adapters LANG=DIR' if args.language_adapter else '--model'})")
    return 0


def _run_translit(args, argv) -> int:
    from xlt.jobs.adapt import TranslitConfig, run_translit

    cfg = TranslitConfig(langs=args.langs, out=args.out, text=args.text or [], model=args.model, loss=args.loss,
                         reg_weight=args.reg_weight, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         limit=args.limit, min_sentences=args.min_sentences, seed=args.seed, data_dir=args.data_dir,
                         overwrite=args.overwrite, progress=not args.no_progress)
    rep = run_translit(cfg, command=["xlt"] + argv)
    for lang, c in rep["pairs"].items():
        print(f"  {lang}: {c['pairs']:,} sentence pairs ({c['words']:,} linked words; {c['skipped']} sentences left out)")
    last = rep["history"][-1] if rep["history"] else {}
    print(f"loss {last.get('loss', float('nan')):.4f} after {rep['stats'].get('steps', 0)} steps, {rep['seconds']:.0f} s")
    print(f"model: {rep['out']} (use it with --model)")
    return 0


def _run_extend(args, argv) -> int:
    from xlt.jobs.adapt import ExtendConfig, run_extend

    cfg = ExtendConfig(langs=args.langs, out=args.out, text=args.text or [], model=args.model, steps=args.steps,
                       batch_size=args.batch_size, lr=args.lr, limit=args.limit, min_sentences=args.min_sentences,
                       seed=args.seed, data_dir=args.data_dir, overwrite=args.overwrite,
                       progress=not args.no_progress, vocab_size=args.vocab_size, mode=args.mode, init=args.init)
    rep = run_extend(cfg, command=["xlt"] + argv)
    v = rep["vocabulary"]
    print(f"vocabulary {v['vocab_before']:,} -> {v['vocab_after']:,} ({v['mode']}); {v['overlap']:,} pieces shared "
          f"with the old vocabulary, {v['initialised']:,} initialised ({v['init']}); pieces per word "
          f"{v['tokens_per_word']['old']:.2f} -> {v['tokens_per_word']['new']:.2f}")
    if rep["dev_loss_before"] is not None:
        print(f"MLM loss on held-out text: {rep['dev_loss_before']:.3f} -> {rep['dev_loss_after']:.3f}")
    print(f"model: {rep['out']} (use it with --model)")
    return 0

