"""``xlt adapt ...`` as jobs: adapt an encoder to the languages a user serves; each writes a model folder
that ``xlt transfer --model`` and ``xlt predict`` load.

``trim``: :func:`run_trim` keeps the vocabulary pieces of the given languages' text, of their
scripts, or both (:func:`xlt.adapt.vocab.trim_vocabulary`) and writes the smaller model with its report.
``mlm``: :func:`run_mlm` trains the encoder further with masked language modelling on a target
language's text (:func:`xlt.adapt.mlm.continue_pretraining`).
``extend``: :func:`run_extend` learns a vocabulary on a language's text, initialises the new
pieces from the old embeddings (:func:`xlt.adapt.extend.extend_vocabulary`) and trains with MLM.
``translit``: :func:`run_translit` fine-tunes it so that words of non-Latin-script text and of
their romanisations get close vectors (TransliCo-style, through ``align finetune``'s training).
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xlt.core.io import write_json
from xlt.core.outputs import Output, OutputPlan, staged_folder
from xlt.data.paths import data_set_folders
from xlt.jobs import check_max_length

__all__ = ["ExtendConfig", "MlmConfig", "TranslitConfig", "TrimConfig", "run_extend", "run_mlm", "run_translit",
           "run_trim"]


def _report_head(command: list[str] | None, config, langs: list[str], texts: dict) -> dict:
    """The fields every ``adapt`` report starts with: the command, the model, the languages and
    what text each had (sentences, words, where from, empty lines skipped)."""
    argv = command if command is not None else sys.argv
    return {"command": argv, "command_line": shlex.join(argv), "model": config.model, "langs": langs,
            "text": {l: {"sentences": len(t.sentences), "words": t.n_words, "sources": t.sources,
                         "skipped_empty": t.skipped_empty} for l, t in texts.items()}}


@dataclass
class TrimConfig:
    """Settings of ``xlt adapt trim``.

    Attributes:
        langs: comma-separated languages to keep the vocabulary of.
        keep: ``text`` (the pieces the languages' text uses; exact on that text), ``script`` (every
            piece of the languages' scripts, digits, punctuation and symbols; exact on all text in
            those scripts; reads no text) or ``both`` (the union).
        basic_latin: with ``script``/``both``, also keep the pieces of the letters A-Z a-z
            (:data:`xlt.adapt.vocab.BASIC_LATIN`), which names and units in any script's text use.
        text: ``LANG=FILE`` text files (one sentence per line) for any of them; the others take the
            text the data folder holds in them (:func:`xlt.data.text.builtin_text`). Not with ``script``.
        model: the model to trim. min_count: frequency floor (keep text pieces seen at least this often).
        min_sentences: least text per language (text, both). data_dir: data folder.
        out: the trimmed model's folder. overwrite: replace a non-empty one.
    """

    langs: str
    out: str
    keep: str = "text"
    basic_latin: bool = True
    text: list[str] = field(default_factory=list)
    model: str = "bundled:e5-small"
    min_count: int = 1
    min_sentences: int = 200
    data_dir: str | None = None
    overwrite: bool = False


def _check_out(config, files: dict) -> Path:
    """The output rule for an ``adapt`` command's model folder (:class:`~xlt.core.outputs.OutputPlan`):
    ``--out`` may not equal, contain or lie inside the model, a text file or the data folder.

    Returns:
        ``config.out`` as a path.

    Raises:
        OutputError, FileExistsError, NotADirectoryError: as :meth:`OutputPlan.check`.
    """
    OutputPlan(inputs=[("--model", config.model), ("--text", [str(p) for p in files.values()]),
                       ("--data-dir", data_set_folders(config.data_dir))],
               outputs=[Output("--out", Path(config.out))], overwrite=config.overwrite).check()
    return Path(config.out)


def _trim_langs(config: TrimConfig) -> list[str]:
    """The languages of a ``--keep script`` trim, checked without reading any text.

    Raises:
        VocabularyError: no language, ``--text`` or ``--min-count`` given (script mode reads no text),
        a language without a known script; UnknownLanguageError: an unknown code.
    """
    from xlt.adapt.vocab import VocabularyError, language_scripts
    from xlt.data.langs import iso639_3

    langs = list(dict.fromkeys(l.strip() for l in config.langs.split(",") if l.strip()))
    if not langs:
        raise VocabularyError("--langs needs at least one language")
    for l in langs:
        iso639_3(l)  # an unknown code is named here
    if config.text:
        raise VocabularyError("--keep script reads no text; --text is for --keep text or --keep both")
    if config.min_count != 1:
        raise VocabularyError(f"--min-count {config.min_count}: it counts pieces in the text, which --keep script "
                              "does not read (use --keep text or --keep both)")
    language_scripts(langs)
    return langs


def run_trim(config: TrimConfig, command: list[str] | None = None) -> dict:
    """Trim ``config.model``'s vocabulary to ``config.langs`` and write the model folder.

    ``keep`` chooses what stays (:func:`xlt.adapt.vocab.trim_vocabulary`): the pieces of the
    languages' text, every piece of their scripts (no text read: ``--min-sentences`` does not
    apply), or both. Every text is read and every language's script found before the model loads.
    The folder holds the model, its tokenizer, ``xlt_export.json`` (text prefix; the languages it was
    trimmed for, so that runs on other languages warn) and ``trim_report.json``.

    Returns:
        the report: sizes before/after and of each part kept (pieces, parameters, share of the full
        model's parameters), the scripts kept, per-language text and piece counts, seconds, command.

    Raises:
        UnknownLanguageError: an unknown language, or (text, both) one the data folder holds no text
        in and no --text names; VocabularyError: too little text, a bad ``keep``, a language without
        a known script, --text or --min-count with ``keep="script"``, a tokenizer that cannot be
        trimmed; FileNotFoundError, DataFormatError: a bad text file; FileExistsError: ``out`` is not
        empty (no --overwrite).
    """
    from xlt.adapt.vocab import KEEP_MODES, VocabularyError, language_scripts, trim_vocabulary
    from xlt.models.export import write_export_folder
    from xlt.models.loading import load_encoder

    t0 = time.time()
    if config.keep not in KEEP_MODES:
        raise VocabularyError(f"--keep must be one of {', '.join(KEEP_MODES)}, got {config.keep!r}")
    if config.keep == "script":
        langs, files, texts = _trim_langs(config), {}, {}
    else:
        langs, files, texts = _read_texts(config.langs, config.text, config.data_dir, config.min_sentences)
        if config.keep == "both":
            language_scripts(langs)
    final = _check_out(config, files)
    t_load = time.time()
    encoder = load_encoder(config.model)
    t_load = time.time() - t_load
    t_trim = time.time()
    trimmed, result = trim_vocabulary(encoder, {l: t.sentences for l, t in texts.items()}, keep=config.keep,
                                      langs=langs, min_count=config.min_count, min_sentences=config.min_sentences,
                                      basic_latin=config.basic_latin)
    t_trim = time.time() - t_trim
    report = {**_report_head(command, config, langs, texts), **result.describe(), "config": asdict(config),
              "seconds": {"load": round(t_load, 2), "trim": round(t_trim, 1), "total": round(time.time() - t0, 1)}}
    with staged_folder(final) as folder:
        write_export_folder(trimmed, folder)
        write_json(folder / "trim_report.json", report)
    report["out"] = str(final)
    return report


@dataclass
class MlmConfig:
    """Settings of ``xlt adapt mlm``.

    Attributes:
        langs: comma-separated languages whose text the model is trained on (mixed, each sentence
            once per pass). text: ``LANG=FILE`` text files; other languages take the data folder's text.
        model: the model to adapt. steps, batch_size, lr, max_length: training (AdamW, linear warm-up
            and decay). lora, lora_r: LoRA instead of full training. freeze_embeddings: keep the word
            embeddings fixed. dev_fraction: held-out share for the loss before/after.
        limit: use at most this many sentences per language. min_sentences: least text per language.
        seed, data_dir, out, overwrite, progress: as elsewhere.
        language_adapter: train a MAD-X language adapter of this bottleneck size instead of the
            model; ``out`` then holds the adapter (for ``xlt transfer --language-adapters``).
        head_steps: steps that train the new MLM head alone first (default: a quarter of ``steps``).
    """

    langs: str
    out: str
    text: list[str] = field(default_factory=list)
    model: str = "bundled:e5-small"
    steps: int = 500
    batch_size: int = 16
    lr: float = 5e-5
    max_length: int = 128
    lora: bool = False
    lora_r: int = 8
    freeze_embeddings: bool = False
    dev_fraction: float = 0.05
    limit: int | None = None
    min_sentences: int = 200
    seed: int = 0
    data_dir: str | None = None
    overwrite: bool = False
    progress: bool = True
    language_adapter: int | None = None
    head_steps: int | None = None


def _read_texts(langs_spec: str, text_args: list[str], data_dir, min_sentences: int, limit: int | None = None):
    """``(langs, files, texts)`` for an adapt command: the languages, their ``--text`` files and every
    language's :class:`~xlt.data.text.LanguageText` (read before any model loads).

    Raises:
        VocabularyError: no language, a --text language not in --langs, too little text (says how much
        is needed); UnknownLanguageError, FileNotFoundError, DataFormatError: see the readers.
    """
    from xlt.adapt.vocab import VocabularyError
    from xlt.data.langs import iso639_3
    from xlt.data.text import parse_text_args, texts_for

    langs = list(dict.fromkeys(l.strip() for l in langs_spec.split(",") if l.strip()))
    if not langs:
        raise VocabularyError("--langs needs at least one language")
    for l in langs:
        iso639_3(l)  # an unknown code is named here
    try:
        files = parse_text_args(text_args)
    except ValueError as exc:
        raise VocabularyError(str(exc)) from None
    extra = [l for l in files if l not in langs]
    if extra:
        raise VocabularyError(f"--text {', '.join(extra)}: not among --langs ({', '.join(langs)})")
    texts = texts_for(langs, files, data_dir, limit)
    short = {l: len(t.sentences) for l, t in texts.items() if len(t.sentences) < min_sentences}
    if short:
        raise VocabularyError("too little text for: " + ", ".join(f"{l} ({n} sentences)" for l, n in short.items())
                              + f"; give at least {min_sentences} sentences per language (a text file, one "
                              "sentence per line: --text LANG=FILE)")
    return langs, files, texts


def run_mlm(config: MlmConfig, command: list[str] | None = None) -> dict:
    """Continue pretraining ``config.model`` with MLM on the languages' text and write the model folder.

    Returns:
        the report: text sizes and sources, the loss curve, the held-out MLM loss before and after,
        trained parameters, seconds, command.

    Raises:
        as :func:`run_trim` (text and output checks come before the model loads); ConfigError: bad
        training settings.
    """
    from xlt.adapt.mlm import continue_pretraining
    from xlt.jobs import ConfigError
    from xlt.models.export import write_export_folder
    from xlt.models.loading import load_encoder

    t0 = time.time()
    for name in ("steps", "batch_size", "max_length", "lora_r", "min_sentences"):
        if getattr(config, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(config, name)}")
    if not (config.lr > 0 and 0 < config.dev_fraction < 1):
        raise ConfigError(f"--lr must be > 0 and --dev-fraction between 0 and 1, got {config.lr}, {config.dev_fraction}")
    check_max_length(config.model, config.max_length, default=MlmConfig.max_length)
    langs, files, texts = _read_texts(config.langs, config.text, config.data_dir, config.min_sentences, config.limit)
    final = _check_out(config, files)
    encoder = load_encoder(config.model)
    sentences = [s for t in texts.values() for s in t.sentences]
    adapted, result = continue_pretraining(
        encoder, sentences, steps=config.steps, batch_size=config.batch_size, lr=config.lr,
        max_length=config.max_length, dev_fraction=config.dev_fraction, lora=config.lora, lora_r=config.lora_r,
        freeze_embeddings=config.freeze_embeddings, seed=config.seed, progress=config.progress,
        language_adapter=config.language_adapter, head_steps=config.head_steps)
    report = {**_report_head(command, config, langs, texts), "training_sequences": result.sequences, "trainable_parameters": result.trainable,
              "total_parameters": result.total, "dev_loss_before": result.dev_loss_before,
              "dev_loss_after": result.dev_loss_after, "loss_curve": result.history,
              "dev_loss_random_head": result.dev_loss_random_head, "head_steps": result.head_steps,
              "language_adapter": config.language_adapter,
              "config": {k: v for k, v in asdict(config).items() if k != "progress"},
              "seconds": round(time.time() - t0, 1)}
    with staged_folder(final) as folder:
        if config.language_adapter:
            from xlt.adapt.peft import write_language_adapter

            write_language_adapter(folder, result.language_adapter, {
                "language": langs[0] if len(langs) == 1 else ",".join(langs), "size": config.language_adapter,
                "base_model": config.model, "base_fingerprint": encoder.fingerprint,
                "dev_loss_before": result.dev_loss_before, "dev_loss_after": result.dev_loss_after})
        else:
            write_export_folder(adapted, folder)
        write_json(folder / "mlm_report.json", report)
    report["out"] = str(final)
    return report


@dataclass
class TranslitConfig:
    """Settings of ``xlt adapt translit``.

    Attributes:
        langs: comma-separated non-Latin-script languages. text: ``LANG=FILE`` text files; other
            languages take the data folder's text. limit: sentences per language.
        model: the model to adapt. loss: ``contrastive`` (default, as TransliCo) or ``l2``;
            reg_weight: weight of the regulariser that keeps the romanised side's vectors in place.
        epochs, batch_size, lr: training. min_sentences, seed, data_dir, out, overwrite, progress: as elsewhere.
    """

    langs: str
    out: str
    text: list[str] = field(default_factory=list)
    model: str = "bundled:e5-small"
    loss: str = "contrastive"
    reg_weight: float = 1.0
    epochs: int = 1
    batch_size: int = 16
    lr: float = 5e-5
    limit: int | None = 2000
    min_sentences: int = 200
    seed: int = 0
    data_dir: str | None = None
    overwrite: bool = False
    progress: bool = True


def run_translit(config: TranslitConfig, command: list[str] | None = None) -> dict:
    """Transliteration alignment: romanise each language's text word by word (uroman) and fine-tune the
    encoder on the word-aligned (romanised, original) pairs (:func:`xlt.adapt.translit.transliteration_pairs`,
    :func:`xlt.align.finetune.finetune_alignment`), then write the model folder.

    Returns:
        the report: pairs per language, sentences left out, training history, seconds.

    Raises:
        TransliterationError: uroman missing, a language without non-Latin text; plus the text and
        output errors of :func:`run_trim`, all before the model loads.
    """
    from xlt.adapt.translit import transliteration_pairs
    from xlt.align.finetune import finetune_alignment, save_aligned_encoder
    from xlt.jobs import ConfigError
    from xlt.models.loading import load_encoder

    t0 = time.time()
    if config.loss not in ("contrastive", "l2") or config.epochs < 1 or config.batch_size < 1 or not config.lr > 0:
        raise ConfigError(f"bad training settings: loss {config.loss!r} (contrastive or l2), epochs {config.epochs}, "
                          f"batch size {config.batch_size}, lr {config.lr}")
    langs, files, texts = _read_texts(config.langs, config.text, config.data_dir, config.min_sentences, config.limit)
    final = _check_out(config, files)
    examples, counts = [], {}
    for lang, t in texts.items():
        pairs, skipped = transliteration_pairs(t.sentences, lang)
        examples += pairs
        counts[lang] = {"pairs": len(pairs), "skipped": skipped, "words": sum(len(p.target) for p in pairs)}
    encoder = load_encoder(config.model)
    res = finetune_alignment(encoder, examples, loss=config.loss, reg_weight=config.reg_weight, epochs=config.epochs,
                             batch_size=config.batch_size, lr=config.lr, seed=config.seed, progress=config.progress)
    cfg = {k: v for k, v in asdict(config).items() if k != "progress"}
    meta = {"method": "transliteration", "paper": "Liu et al. 2024 (TransliCo); uroman, Hermjakob et al. 2018",
            "loss": config.loss, "languages": langs, "base_model": encoder.describe(), "config": cfg,
            "pairs": counts, "stats": res.stats}
    from xlt.evaluate.manifest import to_jsonable

    save_aligned_encoder(res, final, meta=to_jsonable(meta), overwrite=config.overwrite)
    report = {**_report_head(command, config, langs, texts), "out": str(final), "pairs": counts,
              "history": res.history, "stats": res.stats, "config": cfg, "seconds": round(time.time() - t0, 1)}
    write_json(Path(final) / "translit_report.json", to_jsonable(report))
    return report


@dataclass
class ExtendConfig(MlmConfig):
    """Settings of ``xlt adapt extend``: those of :class:`MlmConfig` (the MLM training after the new
    vocabulary; ``steps=0`` skips it) plus ``vocab_size`` (the new tokenizer's size), ``mode``
    (``extend``: old vocabulary + new pieces; ``replace``: the new tokenizer alone) and ``init``
    (``focus`` or ``random``; :mod:`xlt.adapt.extend`)."""

    vocab_size: int = 8000
    mode: str = "extend"
    init: str = "focus"


def run_extend(config: ExtendConfig, command: list[str] | None = None) -> dict:
    """Learn a vocabulary on the languages' text, initialise its new pieces, train with MLM, write the model.

    Returns:
        the report: vocabulary sizes, overlap, pieces per word before/after, the MLM loss before and
        after and the loss curve, seconds.

    Raises:
        as :func:`run_mlm`; ConfigError: an unknown mode or init, a vocabulary size below 10.
    """
    from xlt.adapt.extend import INITS, MODES, extend_vocabulary
    from xlt.adapt.mlm import continue_pretraining
    from xlt.jobs import ConfigError
    from xlt.models.export import write_export_folder
    from xlt.models.loading import load_encoder

    t0 = time.time()
    if config.mode not in MODES or config.init not in INITS or config.vocab_size < 10:
        raise ConfigError(f"--mode must be one of {', '.join(MODES)}, --init one of {', '.join(INITS)} and "
                          f"--vocab-size >= 10; got {config.mode}, {config.init}, {config.vocab_size}")
    if config.steps < 0 or config.batch_size < 1 or not config.lr > 0:
        raise ConfigError(f"--steps must be >= 0, --batch-size >= 1 and --lr > 0; got {config.steps}, "
                          f"{config.batch_size}, {config.lr}")
    langs, files, texts = _read_texts(config.langs, config.text, config.data_dir, config.min_sentences, config.limit)
    final = _check_out(config, files)
    encoder = load_encoder(config.model)
    sentences = [s for t in texts.values() for s in t.sentences]
    try:
        extended, ext = extend_vocabulary(encoder, sentences, vocab_size=config.vocab_size, mode=config.mode,
                                          init=config.init, seed=config.seed)
    except ValueError as exc:
        from xlt.adapt.vocab import VocabularyError

        raise VocabularyError(str(exc)) from None
    t_vocab = time.time() - t0
    mlm = None
    if config.steps:
        extended, mlm = continue_pretraining(
            extended, sentences, steps=config.steps, batch_size=config.batch_size, lr=config.lr,
            max_length=config.max_length, dev_fraction=config.dev_fraction, lora=config.lora, lora_r=config.lora_r,
            freeze_embeddings=config.freeze_embeddings, seed=config.seed, progress=config.progress,
        language_adapter=config.language_adapter, head_steps=config.head_steps)
    report = {**_report_head(command, config, langs, texts), "vocabulary": asdict(ext),
              "dev_loss_before": mlm.dev_loss_before if mlm else None,
              "dev_loss_after": mlm.dev_loss_after if mlm else None,
              "loss_curve": mlm.history if mlm else [],
              "config": {k: v for k, v in asdict(config).items() if k != "progress"},
              "seconds": {"vocabulary": round(t_vocab, 1), "total": round(time.time() - t0, 1)}}
    with staged_folder(final) as folder:
        write_export_folder(extended, folder)
        write_json(folder / "extend_report.json", report)
    report["out"] = str(final)
    return report

