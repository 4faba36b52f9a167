"""``xlt adapt``: adapt an encoder to the languages you serve: ``trim`` (keep only their vocabulary),
``mlm`` (continued pretraining, or a MAD-X language adapter), ``extend`` (a vocabulary of their own),
``translit`` (align non-Latin text with its romanisation).

Options are generated from the settings classes of :mod:`xlt.jobs.adapt`, which hold every default
and check; ``--config FILE`` gives any of their fields, and the command line wins.
"""

from __future__ import annotations

from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import adapt as job

#: subcommand -> (settings class, help, description)
SUBCOMMANDS = {
    "trim": (job.TrimSettings,
             "keep the vocabulary pieces (and embedding rows) your languages' text or scripts use",
             "Keep only some vocabulary pieces (plus the special tokens) and re-index the tokenizer and the "
             "embedding matrix. --keep text (default): tokenise the given languages' text and keep the pieces it "
             "uses; on that text the trimmed model computes exactly what the full one does. --keep script: keep "
             "every piece made of the languages' scripts, digits, punctuation and symbols (no text needed); every "
             "text in those scripts then gives exactly the full model's outputs. --keep both: the union."),
    "mlm": (job.MlmSettings, "continued pretraining: masked language modelling on your languages' text",
            "Train the encoder further with BERT's masked language modelling on the given languages' text (an MLM "
            "head tied to the word embeddings is added for training and dropped after): full, LoRA, or a MAD-X "
            "language adapter only. Reports the MLM loss on held-out text before and after."),
    "extend": (job.ExtendSettings, "a vocabulary learnt on your language's text, new pieces initialised from the old "
                                   "embeddings (FOCUS-style), then MLM",
               "Learn a Unigram tokenizer on the languages' text, add its new pieces to the vocabulary (--mode "
               "extend) or use it alone (--mode replace), initialise the new pieces' embeddings from similar old "
               "pieces (--init focus) or at random, and train with MLM (--steps; 0 = none)."),
    "translit": (job.TranslitSettings, "align non-Latin-script text with its romanisation (uroman; TransliCo-style)",
                 "Romanise each language's text word by word with uroman and fine-tune the encoder so that every "
                 "original-script word's vector moves to its romanised word's (contrastive or L2 loss of 'xlt align "
                 "finetune'; the romanised side is kept in place by a regulariser)."),
}


def add_parser(sub) -> None:
    p = sub.add_parser("adapt", help="adapt an encoder to your languages: trim its vocabulary, continue pretraining "
                                     "(MLM, language adapters), extend its vocabulary, transliterate",
                       description="Each subcommand writes a model folder that 'xlt transfer --model' and 'xlt "
                                   "predict' load ('mlm --language-adapter': an adapter for 'xlt transfer "
                                   "--language-adapters').")
    asub = p.add_subparsers(dest="adapt_command", required=True)
    for name, (cls, help_text, description) in SUBCOMMANDS.items():
        add_command(asub, name, cls, help=help_text, description=description)


def run(args, argv) -> int:
    cfg = settings_from_args(SUBCOMMANDS[args.adapt_command][0], args)
    rep = job.run(cfg, command=["xlt"] + argv).report
    {"trim": _show_trim, "mlm": _show_mlm, "extend": _show_extend, "translit": _show_translit}[args.adapt_command](rep)
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
