"""``xlt adapt ...`` as jobs: adapt an encoder to the languages a user serves; each writes a model folder
that ``xlt transfer --model`` and ``xlt predict`` load.

``trim``: :func:`run_trim` keeps the vocabulary pieces of the given languages' text, of their
scripts, or both (:func:`xlt.adapt.vocab.trim_vocabulary`; Abdaoui et al. 2020, "Load What You
Need") and writes the smaller model with its report.
``mlm``: :func:`run_mlm` trains the encoder further with masked language modelling on a target
language's text (:func:`xlt.adapt.mlm.continue_pretraining`; Devlin et al. 2019; MAD-X language
adapters, Pfeiffer et al. 2020).
``extend``: :func:`run_extend` learns a vocabulary on a language's text, initialises the new
pieces from the old embeddings (:func:`xlt.adapt.extend.extend_vocabulary`; FOCUS, Dobler & de
Melo 2023) and trains with MLM.
``translit``: :func:`run_translit` fine-tunes it so that words of non-Latin-script text and of
their romanisations get close vectors (TransliCo, Liu et al. 2024, through ``align finetune``'s training).

Every command's settings share :class:`AdaptSettings` (languages, their text, the model, the
output); the training commands add :class:`AdaptTrainingSettings`. :func:`run` runs any of them
by the type of its settings. The adapt libraries import torch, so they are imported when a job runs.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from xlt.adapt.translit import transliteration_pairs
from xlt.align.finetune import finetune_alignment, save_aligned_encoder
from xlt.core.io import write_json
from xlt.core.outputs import Output, OutputPlan, staged_folder
from xlt.data.langs import iso639_3
from xlt.data.paths import data_set_folders
from xlt.data.text import texts_for
from xlt.evaluate.manifest import to_jsonable
from xlt.jobs import ConfigError, check_max_length
from xlt.jobs.parts_aligncmds import report_config, same_field
from xlt.jobs.settings import AT_LEAST_0, AT_LEAST_1, FRACTION, POSITIVE, Interval, RunSettings, option
from xlt.models import loading  # loading.load_encoder is looked up at call time (tests replace it)
from xlt.models import export

__all__ = ["AdaptResult", "AdaptSettings", "AdaptTrainingSettings", "ExtendSettings", "MlmSettings",
           "TranslitSettings", "TrimSettings", "run", "run_extend", "run_mlm", "run_translit", "run_trim"]

TEXT_HELP = ("a text file for one of them (one sentence per line); repeat it. Default: every sentence the data "
             "folder holds in the language (NTREX, SIB-200, UD-POS, PAN-X)")


# --------------------------------------------------------------------------- shared parts


@dataclass(kw_only=True)
class AdaptSettings(RunSettings):
    """Languages and their text.

    What every ``adapt`` command adapts the model to (with :class:`~xlt.jobs.settings.RunSettings`:
    model, out, overwrite, progress, data_dir).

    Attributes:
        langs: the languages (codes; repeats dropped; required).
        text: ``LANG=FILE`` text files (one sentence per line) for any of them; the others take the
            text the data folder holds in them (:func:`xlt.data.text.builtin_text`).
        min_sentences: least text per language.
        out: the adapted model's folder (required).

    Raises:
        ConfigError: no ``langs`` or no ``out``; any field's own check.
    """

    langs: list[str] = option(default_factory=list, help="comma-separated languages (en,de,sw) (required)")
    text: dict[str, Path] = option(default_factory=dict, help=TEXT_HELP)
    min_sentences: int = option(200, help="least text per language", check=AT_LEAST_1)
    out: Path | None = same_field(RunSettings, "out", help="the adapted model's folder (required)")

    updates_encoder = True  # writes (and mostly trains) the encoder: no --backend onnx / --int8

    def __post_init__(self) -> None:
        super().__post_init__()
        self.langs = list(dict.fromkeys(self.langs))
        missing = [flag for flag, given in (("--langs", self.langs), ("--out", self.out is not None)) if not given]
        if missing:
            raise ConfigError(f"the following settings are required: {', '.join(missing)}")


@dataclass(kw_only=True)
class AdaptTrainingSettings(AdaptSettings):
    """Training.

    The optimisation of the commands that train (mlm, extend, translit).

    Attributes:
        batch_size: sentences per step. lr: peak learning rate. seed: the training seed.
        limit: use at most this many sentences per language (None: all).
    """

    batch_size: int = option(16, help="sentences per step", check=AT_LEAST_1)
    lr: float = option(5e-5, help="peak learning rate", check=POSITIVE)
    limit: int | None = option(None, help="at most this many sentences per language", check=AT_LEAST_1)
    seed: int = option(0, help="seed", check=AT_LEAST_0)


@dataclass
class AdaptResult:
    """What an ``adapt`` job wrote.

    Attributes:
        out: the model (or language adapter) folder.
        report: the report (also in the folder: ``trim_report.json``, ``mlm_report.json``,
            ``extend_report.json`` or ``translit_report.json``), with ``out`` added.
    """

    out: Path
    report: dict[str, Any]


def _report_head(command: list[str] | None, settings: AdaptSettings, texts: dict) -> dict:
    """The fields every ``adapt`` report starts with: the command, the model, the languages and
    what text each had (sentences, words, where from, empty lines skipped)."""
    argv = command if command is not None else sys.argv
    return {"command": argv, "command_line": shlex.join(argv), "model": settings.model, "langs": settings.langs,
            "text": {l: {"sentences": len(t.sentences), "words": t.n_words, "sources": t.sources,
                         "skipped_empty": t.skipped_empty} for l, t in texts.items()}}


def _check_langs(settings: AdaptSettings) -> None:
    """Every language is known, and every ``text`` file is for one of them.

    Raises:
        UnknownLanguageError: an unknown code (named); VocabularyError: a text file for another language.
    """
    from xlt.adapt.vocab import VocabularyError  # lazy: heavy import

    for l in settings.langs:
        iso639_3(l)  # an unknown code is named here
    extra = [l for l in settings.text if l not in settings.langs]
    if extra:
        raise VocabularyError(f"--text {', '.join(extra)}: not among --langs ({', '.join(settings.langs)})")


def _read_texts(settings: AdaptSettings, limit: int | None = None) -> dict:
    """Every language's :class:`~xlt.data.text.LanguageText` (read before any model loads).

    Raises:
        VocabularyError: a --text language not in --langs, too little text (says how much is needed);
        UnknownLanguageError, FileNotFoundError, DataFormatError: see the readers.
    """
    from xlt.adapt.vocab import VocabularyError  # lazy: heavy import

    _check_langs(settings)
    texts = texts_for(settings.langs, settings.text, settings.data_dir, limit)
    short = {l: len(t.sentences) for l, t in texts.items() if len(t.sentences) < settings.min_sentences}
    if short:
        raise VocabularyError("too little text for: " + ", ".join(f"{l} ({n} sentences)" for l, n in short.items())
                              + f"; give at least {settings.min_sentences} sentences per language (a text file, one "
                              "sentence per line: --text LANG=FILE)")
    return texts


def _check_out(settings: AdaptSettings) -> Path:
    """The output rule for an ``adapt`` command's model folder (:class:`~xlt.core.outputs.OutputPlan`):
    ``--out`` may not equal, contain or lie inside the model, a text file or the data folder.

    Returns:
        ``settings.out``.

    Raises:
        OutputError, FileExistsError, NotADirectoryError: as :meth:`OutputPlan.check`.
    """
    OutputPlan(inputs=[("--model", settings.model), ("--text", [str(p) for p in settings.text.values()]),
                       ("--data-dir", data_set_folders(settings.data_dir))],
               outputs=[Output("--out", settings.out)], overwrite=settings.overwrite).check()
    return settings.out


# --------------------------------------------------------------------------- trim


@dataclass(kw_only=True)
class TrimSettings(AdaptSettings):
    """Settings of ``xlt adapt trim`` (with :class:`AdaptSettings`).

    Attributes:
        keep: ``text`` (the pieces the languages' text uses; exact on that text), ``script`` (every
            piece of the languages' scripts, digits, punctuation and symbols; exact on all text in
            those scripts; reads no text) or ``both`` (the union).
        basic_latin: with ``script``/``both``, also keep the pieces of the letters A-Z a-z
            (:data:`xlt.adapt.vocab.BASIC_LATIN`), which names and units in any script's text use.
        min_count: frequency floor (keep text pieces seen at least this often).
    """

    langs: list[str] = same_field(AdaptSettings, "langs",
                                  help="comma-separated languages to keep (en,de,sw) (required)")
    keep: Literal["text", "script", "both"] = option(
        "text", help="what to keep: the pieces the text uses (text), every piece of the languages' scripts (script; "
                     "larger, exact on all their text), or both")
    basic_latin: bool = option(True, help="with --keep script/both, also keep the pieces of the letters A-Z a-z",
                               negative_help="with --keep script/both: keep the scripts' pieces alone, not also those "
                                             "of the letters A-Z a-z that names, units and addresses in any script's "
                                             "text use (smaller; text with Latin letters is then no longer exact)")
    min_count: int = option(1, help="keep text pieces seen at least this often (1: every piece the text uses)",
                            check=AT_LEAST_1)


_TRIM_KEYS = ("langs", "out", "keep", "basic_latin", "text", "model", "min_count", "min_sentences", "data_dir",
              "overwrite")


def _script_langs(settings: TrimSettings) -> None:
    """Check a ``--keep script`` trim's languages without reading any text.

    Raises:
        VocabularyError: ``--text`` or ``--min-count`` given (script mode reads no text), a language
        without a known script; UnknownLanguageError: an unknown code.
    """
    from xlt.adapt.vocab import VocabularyError, language_scripts  # lazy: heavy import

    for l in settings.langs:
        iso639_3(l)  # an unknown code is named here
    if settings.text:
        raise VocabularyError("--keep script reads no text; --text is for --keep text or --keep both")
    if settings.min_count != 1:
        raise VocabularyError(f"--min-count {settings.min_count}: it counts pieces in the text, which --keep script "
                              "does not read (use --keep text or --keep both)")
    language_scripts(settings.langs)


def run_trim(settings: TrimSettings, command: list[str] | None = None) -> AdaptResult:
    """Trim ``settings.model``'s vocabulary to ``settings.langs`` and write the model folder.

    ``keep`` chooses what stays (:func:`xlt.adapt.vocab.trim_vocabulary`): the pieces of the
    languages' text, every piece of their scripts (no text read: ``--min-sentences`` does not
    apply), or both. Every text is read and every language's script found before the model loads.
    The folder holds the model, its tokenizer, ``xlt_export.json`` (text prefix; the languages it was
    trimmed for, so that runs on other languages warn) and ``trim_report.json``.

    Returns:
        an :class:`AdaptResult`; its report: sizes before/after and of each part kept (pieces,
        parameters, share of the full model's parameters), the scripts kept, per-language text and
        piece counts, seconds, command.

    Raises:
        UnknownLanguageError: an unknown language, or (text, both) one the data folder holds no text
        in and no --text names; VocabularyError: too little text, a language without a known script,
        --text or --min-count with ``keep="script"``, a tokenizer that cannot be trimmed;
        FileNotFoundError, DataFormatError: a bad text file; FileExistsError: ``out`` is not empty
        (no --overwrite).
    """
    from xlt.adapt.vocab import language_scripts, trim_vocabulary  # lazy: heavy import

    t0 = time.time()
    if settings.keep == "script":
        _script_langs(settings)
        texts = {}
    else:
        texts = _read_texts(settings)
        if settings.keep == "both":
            language_scripts(settings.langs)
    final = _check_out(settings)
    t_load = time.time()
    encoder = loading.load_encoder(settings.model)
    t_load = time.time() - t_load
    t_trim = time.time()
    trimmed, result = trim_vocabulary(encoder, {l: t.sentences for l, t in texts.items()}, keep=settings.keep,
                                      langs=settings.langs, min_count=settings.min_count,
                                      min_sentences=settings.min_sentences, basic_latin=settings.basic_latin)
    t_trim = time.time() - t_trim
    report = {**_report_head(command, settings, texts), **result.describe(),
              "config": report_config(settings, _TRIM_KEYS, joined=("langs",)),
              "seconds": {"load": round(t_load, 2), "trim": round(t_trim, 1), "total": round(time.time() - t0, 1)}}
    with staged_folder(final) as folder:
        export.write_export_folder(trimmed, folder)
        write_json(folder / "trim_report.json", report)
    report["out"] = str(final)
    return AdaptResult(out=final, report=report)


# --------------------------------------------------------------------------- mlm


@dataclass(kw_only=True)
class MlmSettings(AdaptTrainingSettings):
    """Masked language modelling.

    The settings of ``xlt adapt mlm`` (with :class:`AdaptTrainingSettings` and :class:`AdaptSettings`);
    the languages' text is mixed, each sentence once per pass.

    Attributes:
        steps, max_length: training (AdamW, linear warm-up and decay; tokens per sentence).
        lora, lora_r: LoRA updates of query/value (merged after) instead of full training.
        freeze_embeddings: keep the word embeddings fixed.
        dev_fraction: held-out share for the loss before/after.
        head_steps: steps that train the new MLM head alone first (None: a quarter of ``steps``).
        language_adapter: train a MAD-X language adapter of this bottleneck size instead of the
            model; ``out`` then holds the adapter (for ``xlt transfer --language-adapters``).
    """

    langs: list[str] = same_field(AdaptSettings, "langs",
                                  help="comma-separated languages to train on (yo, or yo,ha) (required)")
    steps: int = option(500, help="optimiser steps", check=AT_LEAST_1)
    max_length: int = option(128, help="tokens per sentence", check=AT_LEAST_1)
    lora: bool = option(False, help="train LoRA updates of query/value only (merged)")
    lora_r: int = option(8, help="LoRA rank", check=AT_LEAST_1)
    freeze_embeddings: bool = option(False, help="keep the word embeddings fixed")
    dev_fraction: float = option(0.05, help="held-out share for the loss", check=FRACTION)
    head_steps: int | None = option(None, help="steps that train the new MLM head alone before the encoder "
                                               "(default: a quarter of --steps)", check=AT_LEAST_0)
    language_adapter: int | None = option(None, metavar="SIZE", check=AT_LEAST_1,
                                          help="train a MAD-X language adapter of this bottleneck size (e.g. 48) "
                                               "instead of the model; --out then holds the adapter for 'xlt "
                                               "transfer --language-adapters'")


_MLM_KEYS = ("langs", "out", "text", "model", "steps", "batch_size", "lr", "max_length", "lora", "lora_r",
             "freeze_embeddings", "dev_fraction", "limit", "min_sentences", "seed", "data_dir", "overwrite",
             "language_adapter", "head_steps")


def _pretrain(settings: MlmSettings, encoder, sentences: list[str]):
    """:func:`xlt.adapt.mlm.continue_pretraining` with the settings' training options."""
    from xlt.adapt.mlm import continue_pretraining  # lazy: heavy import

    return continue_pretraining(
        encoder, sentences, steps=settings.steps, batch_size=settings.batch_size, lr=settings.lr,
        max_length=settings.max_length, dev_fraction=settings.dev_fraction, lora=settings.lora, lora_r=settings.lora_r,
        freeze_embeddings=settings.freeze_embeddings, seed=settings.seed, progress=settings.progress,
        language_adapter=settings.language_adapter, head_steps=settings.head_steps)


def run_mlm(settings: MlmSettings, command: list[str] | None = None) -> AdaptResult:
    """Continue pretraining ``settings.model`` with MLM on the languages' text and write the model folder
    (or, with ``language_adapter``, the adapter's).

    Returns:
        an :class:`AdaptResult`; its report: text sizes and sources, the loss curve, the held-out MLM
        loss before and after, trained parameters, seconds, command.

    Raises:
        as :func:`run_trim` (text and output checks come before the model loads); ConfigError: a
        ``max_length`` the model cannot take.
    """
    t0 = time.time()
    check_max_length(settings.model, settings.max_length, default=MlmSettings.max_length)
    texts = _read_texts(settings, settings.limit)
    final = _check_out(settings)
    encoder = loading.load_encoder(settings.model)
    adapted, result = _pretrain(settings, encoder, [s for t in texts.values() for s in t.sentences])
    report = {**_report_head(command, settings, texts), "training_sequences": result.sequences,
              "trainable_parameters": result.trainable, "total_parameters": result.total,
              "dev_loss_before": result.dev_loss_before, "dev_loss_after": result.dev_loss_after,
              "loss_curve": result.history, "dev_loss_random_head": result.dev_loss_random_head,
              "head_steps": result.head_steps, "language_adapter": settings.language_adapter,
              "config": report_config(settings, _MLM_KEYS, joined=("langs",)), "seconds": round(time.time() - t0, 1)}
    with staged_folder(final) as folder:
        if settings.language_adapter:
            from xlt.adapt.peft import write_language_adapter  # lazy: heavy import

            write_language_adapter(folder, result.language_adapter, {
                "language": ",".join(settings.langs), "size": settings.language_adapter,
                "base_model": settings.model, "base_fingerprint": encoder.fingerprint,
                "dev_loss_before": result.dev_loss_before, "dev_loss_after": result.dev_loss_after})
        else:
            export.write_export_folder(adapted, folder)
        write_json(folder / "mlm_report.json", report)
    report["out"] = str(final)
    return AdaptResult(out=final, report=report)


# --------------------------------------------------------------------------- extend


@dataclass(kw_only=True)
class ExtendSettings(MlmSettings):
    """Settings of ``xlt adapt extend``: those of :class:`MlmSettings` (the MLM training after the new
    vocabulary; ``steps=0`` skips it; no language adapter) plus the vocabulary's.

    Attributes:
        vocab_size: the new tokenizer's size.
        mode: ``extend`` (old vocabulary + new pieces) or ``replace`` (the new tokenizer alone).
        init: the new pieces' embeddings: ``focus`` (from similar old pieces) or ``random``
            (:mod:`xlt.adapt.extend`).

    Raises:
        ConfigError: ``language_adapter`` given; any field's own check.
    """

    langs: list[str] = same_field(AdaptSettings, "langs", help="comma-separated languages (usually one) (required)")
    steps: int = same_field(MlmSettings, "steps", check=AT_LEAST_0, help="optimiser steps (0 = none)")
    language_adapter: int | None = same_field(MlmSettings, "language_adapter", cli=False)
    vocab_size: int = option(8000, help="the new tokenizer's size", check=Interval(10))
    mode: Literal["extend", "replace"] = option("extend", help="extend or replace the vocabulary")
    init: Literal["focus", "random"] = option("focus", help="new pieces' embeddings")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.language_adapter is not None:
            raise ConfigError("a language adapter is trained by 'xlt adapt mlm --language-adapter', not by extend")


_EXTEND_KEYS = _MLM_KEYS + ("vocab_size", "mode", "init")


def run_extend(settings: ExtendSettings, command: list[str] | None = None) -> AdaptResult:
    """Learn a vocabulary on the languages' text, initialise its new pieces, train with MLM, write the model.

    Returns:
        an :class:`AdaptResult`; its report: vocabulary sizes, overlap, pieces per word before/after,
        the MLM loss before and after and the loss curve, seconds.

    Raises:
        as :func:`run_mlm`; VocabularyError: a tokenizer without a Unigram vocabulary to extend.
    """
    from xlt.adapt.extend import extend_vocabulary  # lazy: heavy import
    from xlt.adapt.vocab import VocabularyError  # lazy: heavy import

    t0 = time.time()
    texts = _read_texts(settings, settings.limit)
    final = _check_out(settings)
    encoder = loading.load_encoder(settings.model)
    sentences = [s for t in texts.values() for s in t.sentences]
    try:
        extended, ext = extend_vocabulary(encoder, sentences, vocab_size=settings.vocab_size, mode=settings.mode,
                                          init=settings.init, seed=settings.seed)
    except ValueError as exc:
        raise VocabularyError(str(exc)) from None
    t_vocab = time.time() - t0
    mlm = None
    if settings.steps:
        extended, mlm = _pretrain(settings, extended, sentences)
    report = {**_report_head(command, settings, texts), "vocabulary": asdict(ext),
              "dev_loss_before": mlm.dev_loss_before if mlm else None,
              "dev_loss_after": mlm.dev_loss_after if mlm else None,
              "loss_curve": mlm.history if mlm else [],
              "config": report_config(settings, _EXTEND_KEYS, joined=("langs",)),
              "seconds": {"vocabulary": round(t_vocab, 1), "total": round(time.time() - t0, 1)}}
    with staged_folder(final) as folder:
        export.write_export_folder(extended, folder)
        write_json(folder / "extend_report.json", report)
    report["out"] = str(final)
    return AdaptResult(out=final, report=report)


# --------------------------------------------------------------------------- translit


@dataclass(kw_only=True)
class TranslitSettings(AdaptTrainingSettings):
    """Settings of ``xlt adapt translit`` (with :class:`AdaptTrainingSettings` and :class:`AdaptSettings`).

    Attributes:
        langs: non-Latin-script languages.
        limit: sentences per language (default 2000).
        loss: ``contrastive`` (default, as TransliCo) or ``l2``.
        reg_weight: weight of the regulariser that keeps the romanised side's vectors in place.
        epochs: passes over the pairs.
    """

    langs: list[str] = same_field(AdaptSettings, "langs",
                                  help="comma-separated non-Latin-script languages (th,ur,am) (required)")
    limit: int | None = same_field(AdaptTrainingSettings, "limit", default=2000)
    loss: Literal["contrastive", "l2"] = option("contrastive", help="the alignment loss")
    reg_weight: float = option(1.0, help="weight of the regulariser", check=AT_LEAST_0)
    epochs: int = option(1, help="passes over the pairs", check=AT_LEAST_1)


_TRANSLIT_KEYS = ("langs", "out", "text", "model", "loss", "reg_weight", "epochs", "batch_size", "lr", "limit",
                  "min_sentences", "seed", "data_dir", "overwrite")


def run_translit(settings: TranslitSettings, command: list[str] | None = None) -> AdaptResult:
    """Transliteration alignment: romanise each language's text word by word (uroman; Hermjakob et al.
    2018) and fine-tune the encoder on the word-aligned (romanised, original) pairs
    (:func:`xlt.adapt.translit.transliteration_pairs`, :func:`xlt.align.finetune.finetune_alignment`),
    then write the model folder.

    Returns:
        an :class:`AdaptResult`; its report: pairs per language, sentences left out, training
        history, seconds.

    Raises:
        TransliterationError: uroman missing, a language without non-Latin text; plus the text and
        output errors of :func:`run_trim`, all before the model loads.
    """
    t0 = time.time()
    texts = _read_texts(settings, settings.limit)
    final = _check_out(settings)
    examples, counts = [], {}
    for lang, t in texts.items():
        pairs, skipped = transliteration_pairs(t.sentences, lang)
        examples += pairs
        counts[lang] = {"pairs": len(pairs), "skipped": skipped, "words": sum(len(p.target) for p in pairs)}
    encoder = loading.load_encoder(settings.model)
    res = finetune_alignment(encoder, examples, loss=settings.loss, reg_weight=settings.reg_weight,
                             epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
                             seed=settings.seed, progress=settings.progress)
    cfg = report_config(settings, _TRANSLIT_KEYS, joined=("langs",))
    meta = {"method": "transliteration", "paper": "Liu et al. 2024 (TransliCo); uroman, Hermjakob et al. 2018",
            "loss": settings.loss, "languages": settings.langs, "base_model": encoder.describe(), "config": cfg,
            "pairs": counts, "stats": res.stats}
    save_aligned_encoder(res, final, meta=to_jsonable(meta), overwrite=settings.overwrite)
    report = {**_report_head(command, settings, texts), "out": str(final), "pairs": counts,
              "history": res.history, "stats": res.stats, "config": cfg, "seconds": round(time.time() - t0, 1)}
    write_json(Path(final) / "translit_report.json", to_jsonable(report))
    return AdaptResult(out=final, report=report)


def run(settings: AdaptSettings, command: list[str] | None = None) -> AdaptResult:
    """The ``adapt`` job of the settings' type (:func:`run_trim`, :func:`run_mlm`, :func:`run_extend`,
    :func:`run_translit`)."""
    for cls, job in ((TrimSettings, run_trim), (ExtendSettings, run_extend), (MlmSettings, run_mlm),
                     (TranslitSettings, run_translit)):
        if isinstance(settings, cls):
            return job(settings, command)
    raise TypeError(f"no adapt job for {type(settings).__name__}")
