"""``xlt adapt``: adapt an encoder to the languages you serve: ``trim`` (keep only their vocabulary),
``mlm`` (continued pretraining, or a MAD-X language adapter), ``extend`` (a vocabulary of their own),
``translit`` (align non-Latin text with its romanisation).

Options map one to one onto the config dataclasses of :mod:`xlt.jobs.adapt`, which hold every
default; ``--config FILE`` gives any of their fields, and the command line wins.
"""

from __future__ import annotations

from xlt.cli._common import (config_from_args, config_option, count_arg, fraction_arg, no_progress_to_config,
                             nonneg_int_arg, positive_float_arg)

TEXT_HELP = ("a text file for one of them (one sentence per line); repeat it. Default: every sentence the data "
             "folder holds in the language (NTREX, SIB-200, UD-POS, PAN-X)")


def _common(p, cls, langs_help: str, out_help: str = "the adapted model's folder", progress: bool = True) -> None:
    """The options every ``adapt`` subcommand has: languages, their text, model, output."""
    config_option(p, cls)
    p.add_argument("--langs", help=langs_help + " (required)")
    p.add_argument("--text", action="append", metavar="LANG=FILE", help=TEXT_HELP)
    p.add_argument("--model", help="the model to adapt (default bundled:e5-small)")
    p.add_argument("--min-sentences", type=count_arg, help="least text per language (default 200)")
    p.add_argument("--data-dir", help="data folder")
    p.add_argument("--out", help=out_help + " (required)")
    p.add_argument("--overwrite", action="store_true", default=None, help="replace a non-empty --out (whole)")
    if progress:
        p.add_argument("--seed", type=int)
        p.add_argument("--no-progress", action="store_true")


def _training(p, steps_default: int | None = 500) -> None:
    if steps_default is not None:
        p.add_argument("--steps", type=nonneg_int_arg, help=f"optimiser steps (default {steps_default})")
    p.add_argument("--batch-size", type=count_arg, help="sentences per step (default 16)")
    p.add_argument("--lr", type=positive_float_arg, help="peak learning rate (default 5e-5)")
    p.add_argument("--limit", type=count_arg, help="at most this many sentences per language")


def add_parser(sub) -> None:
    from xlt.jobs.adapt import ExtendConfig, MlmConfig, TranslitConfig, TrimConfig

    p = sub.add_parser("adapt", help="adapt an encoder to your languages: trim its vocabulary, continue pretraining "
                                     "(MLM, language adapters), extend its vocabulary, transliterate",
                       description="Each subcommand writes a model folder that 'xlt transfer --model' and 'xlt "
                                   "predict' load ('mlm --language-adapter': an adapter for 'xlt transfer "
                                   "--language-adapters').")
    asub = p.add_subparsers(dest="adapt_command", required=True)
    t = asub.add_parser("trim", help="keep the vocabulary pieces (and embedding rows) your languages' text or "
                                     "scripts use",
                        description="Keep only some vocabulary pieces (plus the special tokens) and re-index the "
                                    "tokenizer and the embedding matrix. --keep text (default): tokenise the given "
                                    "languages' text and keep the pieces it uses; on that text the trimmed model "
                                    "computes exactly what the full one does. --keep script: keep every piece made "
                                    "of the languages' scripts, digits, punctuation and symbols (no text needed); "
                                    "every text in those scripts then gives exactly the full model's outputs. "
                                    "--keep both: the union.")
    _common(t, TrimConfig, "comma-separated languages to keep (en,de,sw)", "the trimmed model's folder", progress=False)
    t.add_argument("--keep", choices=["text", "script", "both"],
                   help="what to keep: the pieces the text uses (text, default), every piece of the languages' "
                        "scripts (script; larger, exact on all their text), or both")
    t.add_argument("--no-basic-latin", dest="basic_latin", action="store_const", const=False, default=None,
                   help="with --keep script/both: keep the scripts' pieces alone, not also those of the letters "
                        "A-Z a-z that names, units and addresses in any script's text use (smaller; text with "
                        "Latin letters is then no longer exact)")
    t.add_argument("--min-count", type=count_arg,
                   help="keep text pieces seen at least this often (default 1: every piece the text uses)")

    m = asub.add_parser("mlm", help="continued pretraining: masked language modelling on your languages' text",
                        description="Train the encoder further with BERT's masked language modelling on the given "
                                    "languages' text (an MLM head tied to the word embeddings is added for "
                                    "training and dropped after): full, LoRA, or a MAD-X language adapter only. "
                                    "Reports the MLM loss on held-out text before and after.")
    _common(m, MlmConfig, "comma-separated languages to train on (yo, or yo,ha)")
    _training(m)
    m.add_argument("--max-length", type=count_arg, help="tokens per sentence (default 128)")
    m.add_argument("--lora", action="store_true", default=None, help="train LoRA updates of query/value only (merged)")
    m.add_argument("--lora-r", type=count_arg, help="LoRA rank (default 8)")
    m.add_argument("--freeze-embeddings", action="store_true", default=None, help="keep the word embeddings fixed")
    m.add_argument("--dev-fraction", type=fraction_arg, help="held-out share for the loss (default 0.05)")
    m.add_argument("--head-steps", type=nonneg_int_arg,
                   help="steps that train the new MLM head alone before the encoder (default: a quarter of --steps)")
    m.add_argument("--language-adapter", type=count_arg, metavar="SIZE",
                   help="train a MAD-X language adapter of this bottleneck size (e.g. 48) instead of the model; "
                        "--out then holds the adapter for 'xlt transfer --language-adapters'")

    e = asub.add_parser("extend", help="a vocabulary learnt on your language's text, new pieces initialised from "
                                       "the old embeddings (FOCUS-style), then MLM",
                        description="Learn a Unigram tokenizer on the languages' text, add its new pieces to the "
                                    "vocabulary (--mode extend) or use it alone (--mode replace), initialise the new "
                                    "pieces' embeddings from similar old pieces (--init focus) or at random, and "
                                    "train with MLM (--steps; 0 = none).")
    _common(e, ExtendConfig, "comma-separated languages (usually one)")
    _training(e)
    e.add_argument("--vocab-size", type=count_arg, help="the new tokenizer's size (default 8000)")
    e.add_argument("--mode", choices=["extend", "replace"], help="extend (default) or replace the vocabulary")
    e.add_argument("--init", choices=["focus", "random"], help="new pieces' embeddings (default focus)")

    r = asub.add_parser("translit", help="align non-Latin-script text with its romanisation (uroman; TransliCo-style)",
                        description="Romanise each language's text word by word with uroman and fine-tune the encoder "
                                    "so that every original-script word's vector moves to its romanised word's "
                                    "(contrastive or L2 loss of 'xlt align finetune'; the romanised side is kept in "
                                    "place by a regulariser).")
    _common(r, TranslitConfig, "comma-separated non-Latin-script languages (th,ur,am)")
    _training(r, steps_default=None)
    r.add_argument("--loss", choices=["contrastive", "l2"], help="default contrastive")
    r.add_argument("--reg-weight", type=float, help="weight of the regulariser (default 1)")
    r.add_argument("--epochs", type=count_arg, help="passes over the pairs (default 1)")


def run(args, argv) -> int:
    from xlt.jobs import adapt as jobs

    if getattr(args, "no_progress", None) is not None:
        no_progress_to_config(args)
    cls, job, show = {"trim": (jobs.TrimConfig, jobs.run_trim, _show_trim),
                      "mlm": (jobs.MlmConfig, jobs.run_mlm, _show_mlm),
                      "extend": (jobs.ExtendConfig, jobs.run_extend, _show_extend),
                      "translit": (jobs.TranslitConfig, jobs.run_translit, _show_translit)}[args.adapt_command]
    cfg = config_from_args(cls, args, config_file=args.config)
    rep = job(cfg, command=["xlt"] + argv)
    show(rep)
    what = "language adapter" if rep.get("language_adapter") else "model"
    use = "--language-adapters LANG=DIR" if rep.get("language_adapter") else "--model"
    print(f"{what}: {rep['out']} (use it with {use})")
    return 0


def _show_trim(rep: dict) -> None:
    mb = 4 / 2 ** 20
    keep = rep.get("keep", "text")
    before, after = rep["parameters_before"], rep["parameters_after"]
    print(f"vocabulary {rep['vocab_before']:,} -> {rep['vocab_after']:,} pieces (--keep {keep}); parameters "
          f"{before:,} -> {after:,}, {100 * after / before:.1f}% of the full model ({before * mb:.0f} -> "
          f"{after * mb:.0f} MiB as float32)")
    sizes = rep.get("sizes") or {}
    latin = " + basic Latin A-Z a-z" if rep.get("basic_latin") and "Latn" not in (rep.get("scripts") or []) else ""
    names = {"text": "the text's pieces", "script": f"the scripts' pieces ({', '.join(rep.get('scripts') or [])}{latin})",
             "kept": "kept (both together)"}
    for part in ("text", "script", "kept") if keep == "both" else (keep,) if keep in sizes else ():
        z = sizes[part]
        print(f"  {names[part]}: {z['pieces']:,} pieces, {z['parameters']:,} parameters "
              f"({100 * z['share']:.1f}% of the full model's)")
    for lang, t in rep["per_language"].items():
        what = [f"{t['sentences']:,} sentences, {t['tokens']:,} tokens, {t['pieces']:,} distinct pieces"] \
            if "sentences" in t else []
        what += [f"script {'+'.join(t['scripts'])}"] if "scripts" in t else []
        print(f"  {lang}: {'; '.join(what)}")


def _show_mlm(rep: dict) -> None:
    for lang, t in rep["text"].items():
        print(f"  {lang}: {t['sentences']:,} sentences")
    print(f"MLM loss on held-out text: {rep['dev_loss_before']:.3f} -> {rep['dev_loss_after']:.3f} "
          f"({rep['trainable_parameters']:,} parameters trained, {rep['seconds']:.0f} s)")


def _show_extend(rep: dict) -> None:
    v = rep["vocabulary"]
    print(f"vocabulary {v['vocab_before']:,} -> {v['vocab_after']:,} ({v['mode']}); {v['overlap']:,} pieces shared "
          f"with the old vocabulary, {v['initialised']:,} initialised ({v['init']}); pieces per word "
          f"{v['tokens_per_word']['old']:.2f} -> {v['tokens_per_word']['new']:.2f}")
    if rep["dev_loss_before"] is not None:
        print(f"MLM loss on held-out text: {rep['dev_loss_before']:.3f} -> {rep['dev_loss_after']:.3f}")


def _show_translit(rep: dict) -> None:
    for lang, c in rep["pairs"].items():
        print(f"  {lang}: {c['pairs']:,} sentence pairs ({c['words']:,} linked words; {c['skipped']} sentences left out)")
    last = rep["history"][-1] if rep["history"] else {}
    print(f"loss {last.get('loss', float('nan')):.4f} after {rep['stats'].get('steps', 0)} steps, {rep['seconds']:.0f} s")
