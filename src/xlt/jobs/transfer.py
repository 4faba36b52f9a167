"""``xlt transfer`` as a job: resolve the data set, train, score every language, report, keep models.

The protocol is XTREME's (Hu et al. 2020, "XTREME: A Massively Multilingual Multi-task
Benchmark for Evaluating Cross-lingual Generalization"): the task model sees labelled data of
the source language only; model selection uses the source language's dev set only; every
target language is scored on its own evaluation set and the report gives the average over
targets (source excluded).

The data come as one :class:`xlt.data.dataset.TaskDataset` (a built-in task or a user's files),
resolved once before the model loads; the trained models are :class:`xlt.transfer.model.TaskModel`
values that can be kept (``save``) and applied to new text (``xlt predict``).
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from xlt.data import tasks as task_registry
from xlt.data.dataset import TaskDataset, extend_with_files, from_files, load_task, multi_source
from xlt.data.kinds import TOKEN
from xlt.core.metrics import mean_std, score
from xlt.core.outputs import Output, OutputPlan, path_relation, staged_folders
from xlt.data.paths import data_set_folders
from xlt.jobs import check_max_length
from xlt.evaluate.manifest import build_manifest, to_jsonable
from xlt.evaluate.report import write_report
from xlt.models.loading import DEFAULT_MODEL, load_encoder
from xlt.models.words import DEFAULT_WORD_PIECES, check_word_pieces
from xlt.transfer.decoding import DEFAULT_DECODING, check_decoding
from xlt.transfer.ensemble import mean_proba
from xlt.transfer.model import TaskModel
from xlt.transfer.training import FinetuneTrainer, ProbeTrainer, with_defaults

log = logging.getLogger(__name__)

SAVE_WHICH = ("best", "all")


@dataclass
class TransferConfig:
    """Settings of one ``xlt transfer`` run (every field is echoed in the report).

    Data (a built-in ``task``, a user's ``train`` file, or a built-in task with a user's files):
        task: ``udpos``, ``panx`` or ``sib200``.
        train, dev: the user's source training / dev file (any format of
            :mod:`xlt.data.formats`); without ``dev`` a seeded ``dev_fraction`` of the training
            data is held out for model selection. Several source languages (multi-source or
            ``matrix``): a list of ``LANG=FILE`` values (or files named by language) for each
            (:func:`user_sources`). With ``task`` (one source language): ``train`` files (``FILE``
            or ``LANG=FILE`` of the source) are added to the task's training data and a ``dev`` file
            replaces the task's dev set (:func:`xlt.data.dataset.extend_with_files`).
        eval: evaluation sets: ``LANG=FILE`` strings, or files/folders whose language is read
            from the file name. With ``task``: scored besides the task's source set, with the
            task's model; a file of the source language replaces the task's in-language set, and
            a language that ``targets`` also gives is an error. Every file of the user's is checked
            against the task (its kind, its labels in the task's inventory) before the model loads.
        format: the format of the user's files (default: detected per file).
        text_column, label_column, tag_column: columns of table files (``premise,hypothesis``
            for pairs) and of CoNLL column files (0-based, -1 = last).
        metric: ``accuracy`` or ``f1``; default: span F1 for BIO tags, else accuracy.
        label_map: ``["DATE=O", ...]``: rename labels (or BIO entity types) in every split.
        labels: user files: the label inventory in a fixed order (a label's index is its class
            id, which seeds the head's initialisation); default: the training labels, ordered by
            :func:`xlt.data.dataset.order_labels`. Not with ``task``, which fixes its inventory.
        source: source language code (any form: ``en``, ``eng``, ``eng_Latn``).
        targets: built-in tasks: ``all`` or a comma-separated list of language codes; None (the
            default) = ``all``, or with ``eval`` files none of the task's targets (the source's
            set and the user's files are scored).
    Model and training:
        model: model spec (``bundled:e5-small``, a Hugging Face id or folder).
        mode: ``probe`` (frozen encoder + head) or ``finetune`` (full fine-tuning).
        layer: probe features: ``mix`` (learned scalar mix of all layers), ``last``, or an
            int (0 = embeddings, 1..L = layers, negative counts from the top).
        head: probe head: ``linear`` or ``mlp``.
        pooling: fine-tuned sequence/pair classifiers: ``mean`` (XTREME) or ``cls``.
        bf16: fine-tuning: bfloat16 autocast for forward and backward.
        group_by_length: fine-tuning: batches of similar-length examples (less padding; see
            :func:`xlt.transfer.finetune.length_grouped_batches`); off (default) = uniformly
            shuffled batches. Faster, but on short budgets less accurate (docs/benchmarks.md).
        micro_batch_size: fine-tuning: run each batch as length-sorted micro-batches of at most
            this many sentences with accumulated gradients (the same update, less padding; see
            :func:`xlt.transfer.finetune.finetune`); 0 = each batch in one pass; None = the
            device's default (:func:`xlt.transfer.finetune.resolve_micro_batch_size`: 8 on a CPU,
            0 on a GPU).
        word_pieces: token tasks: which subword pieces stand for a word -- the probe's word
            vector and the piece that carries a fine-tuned tagger's label
            (:data:`xlt.models.words.WORD_PIECES`): ``first`` (default: the first piece that is
            not a bare SentencePiece ``▁`` marker), ``mean``, ``xtreme`` (XTREME's first piece,
            marker included), ``mean_all``, ``no_marker``, ``text``. Saved with the task model.
        decoding: token tasks: word probabilities to tags (:mod:`xlt.transfer.decoding`): ``bio``
            (default: Viterbi under the BIO constraints for BIO labels, argmax otherwise) or
            ``argmax`` (each word's most probable label, as XTREME). Used for source-dev model
            selection and every score; saved with the task model.
        epochs, batch_size, lr: ``None`` = the default for the mode and task kind (``DEFAULTS``).
        seeds: one run per seed; scores are mean ± sample std over seeds.
        train_limit, eval_limit: keep the first N sentences of training / each evaluation
            (and source dev) set, for quick runs.
        ckpt_avg: fine-tuning: average the last N epochs' weights (Schmidt et al. 2023).
        freeze_embeddings: fine-tuning: keep the word-embedding matrix fixed.
        max_length: fine-tuning training length in tokens (XTREME uses 128).
        checkpoint_dir: fine-tuning: write a checkpoint at the end of every epoch into
            ``checkpoint_dir/seed-N/checkpoint.pt`` (weights, optimiser, schedule, RNG states,
            history, best weights so far; written atomically). None = no checkpoints, or with
            ``resume`` ``out/checkpoints``.
        resume: fine-tuning: continue from the checkpoints in ``checkpoint_dir`` (seeds without
            one start afresh); the scores are those of an uninterrupted run. A checkpoint of other
            settings or data is refused (:class:`~xlt.transfer.finetune.CheckpointError`).
        aligner: probe mode: a saved :class:`~xlt.align.maps.CrossLingualAligner`.
        sampling_temperature: several sources without ``matrix``: train on their union, languages
            drawn with probability ∝ size ** (1 / temperature) (:func:`xlt.data.dataset.multi_source`).
        matrix: train on each language of a comma-separated ``source`` in turn and score every
            target with each (:func:`xlt.jobs.matrix.run_matrix`): a sources × targets table.
        peft: fine-tuning: train few parameters (:mod:`xlt.adapt.peft`): ``lora`` (rank ``lora_r``
            updates of the attention's query and value, merged after training), ``bitfit`` (biases),
            ``adapter`` (bottleneck adapters of ``adapter_size`` after every feed-forward block);
            the head is always trained. None = full fine-tuning.
        language_adapters: with ``peft='adapter'``: MAD-X language adapters, ``LANG=DIR`` (from
            ``xlt adapt mlm --language-adapter``); the source's is required and sits under the task
            adapter in training; each target's replaces it in evaluation.
        ensemble: with ``matrix``: also score each target with ensembles of the source models
            (:func:`xlt.transfer.ensemble.ensemble_proba`): all sources with equal weights, and the
            ``ensemble`` sources a ranker trained on the other targets' columns puts first
            (:func:`xlt.jobs.rank.loto_rankings`); 0 = no ensembles.
        seed_ensemble: with two or more ``seeds``: also score every language with the ensemble of
            the seeds' models, the mean of their label probabilities (an equal-weight linear opinion
            pool, as :func:`xlt.transfer.ensemble.ensemble_proba`; deep ensembles, Lakshminarayanan
            et al. 2017), reported under ``seed_ensemble`` next to the per-seed scores.
        romanize: evaluate every target whose text is mostly in a non-Latin script on its uroman
            romanisation instead (:func:`xlt.adapt.translit.romanize_examples`; token tasks word by
            word, so the gold labels still fit); the source and Latin-script targets are unchanged.
    Outputs:
        out: report folder (``report.json``, ``report.md``, ``scores.png``); None = no files.
        save: folder for the task model(s): the seed with the best source-dev score
            (``save_which='best'``) or every seed under ``seed-N/`` (``'all'``).
        overwrite: replace an existing non-empty ``out`` or ``save`` folder (whole).
        predictions: also write the selected model's predictions per language under
            ``out/predictions/<lang>.jsonl``.
        data_dir, cache_dir: data folder and probe feature cache (None = off).
    """

    task: str | None = None
    train: str | list[str] | None = None
    dev: str | list[str] | None = None
    eval: list[str] = field(default_factory=list)
    format: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    tag_column: int | None = None
    metric: str | None = None
    label_map: list[str] = field(default_factory=list)
    labels: list[str] | None = None
    dev_fraction: float = 0.1
    source: str = "en"
    targets: str | None = None
    model: str = DEFAULT_MODEL
    mode: str = "probe"
    layer: str = "mix"
    head: str = "linear"
    pooling: str = "mean"
    group_by_length: bool = False
    bf16: bool = False
    micro_batch_size: int | None = None
    word_pieces: str = DEFAULT_WORD_PIECES
    decoding: str = DEFAULT_DECODING
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    train_limit: int | None = None
    eval_limit: int | None = None
    ckpt_avg: int = 0
    freeze_embeddings: bool = True
    max_length: int = 128
    checkpoint_dir: str | None = None
    resume: bool = False
    data_dir: str | None = None
    cache_dir: str | None = None
    sampling_temperature: float = 1.0
    matrix: bool = False
    ensemble: int = 0
    seed_ensemble: bool = False
    peft: str | None = None
    lora_r: int = 8
    adapter_size: int = 48
    language_adapters: list[str] = field(default_factory=list)
    romanize: bool = False
    out: str | None = None
    save: str | None = None
    save_which: str = "best"
    overwrite: bool = False
    predictions: bool = False
    aligner: str | None = None
    progress: bool = True

    def validate(self) -> None:
        """Check every setting that cannot work (counts < 1, a non-positive rate, ...).

        Raises:
            ConfigError: names the option and the value.
        """
        _check_settings(self)

    def resolved(self, kind: str | None = None) -> dict:
        """Config with the defaults of the mode and task kind filled in (see ``DEFAULTS``)."""
        if kind is None:
            kind = task_registry.get_task(self.task).kind
        return with_defaults(asdict(self), self.mode, kind)

def _check_settings(config: TransferConfig) -> None:
    import math

    from xlt.jobs import ConfigError

    if config.micro_batch_size is not None and (not isinstance(config.micro_batch_size, int)
                                                or config.micro_batch_size < 0):
        raise ConfigError(f"--micro-batch-size must be a whole number >= 0 (0: whole batches), "
                          f"got {config.micro_batch_size!r}")
    for name in ("train_limit", "eval_limit", "epochs", "batch_size"):
        v = getattr(config, name)
        if v is not None and (not isinstance(v, int) or v < 1):
            raise ConfigError(f"--{name.replace('_', '-')} must be a whole number >= 1, got {v!r}")
    if config.max_length < 1 or config.ckpt_avg < 0:
        raise ConfigError(f"--max-length must be >= 1 and --ckpt-avg >= 0, got {config.max_length} and "
                          f"{config.ckpt_avg}")
    if config.lr is not None and not (math.isfinite(config.lr) and config.lr > 0):
        raise ConfigError(f"--lr must be a positive number, got {config.lr!r}")
    if not 0.0 < config.dev_fraction < 1.0:
        raise ConfigError(f"--dev-fraction must be between 0 and 1, got {config.dev_fraction!r}")
    if not config.seeds:
        raise ConfigError("--seeds needs at least one seed")
    if config.mode not in ("probe", "finetune"):
        raise ConfigError(f"mode must be 'probe' or 'finetune', got {config.mode!r}")
    try:
        check_decoding(config.decoding)
    except ValueError as exc:
        raise ConfigError(f"--decoding: {exc}") from None
    sources = [x.strip() for x in str(config.source).split(",") if x.strip()]
    if not sources:
        raise ConfigError("--source needs a language")
    trains = _as_list(config.train)
    if config.task:  # a built-in task, perhaps with the user's files added (load_dataset_for)
        if config.labels is not None:
            raise ConfigError(f"--labels fixes the label inventory of your own data set; --task {config.task} has "
                              f"its own, which your files' labels must be in (rename them with --label-map FROM=TO)")
        if (trains or _as_list(config.dev)) and len(sources) > 1:
            raise ConfigError(f"--train and --dev with --task add to one source language's data; --source "
                              f"{config.source} names several (multi-source, --matrix): give one --source, or "
                              f"your own files for every source without --task (--train LANG=FILE, repeated)")
        if not (trains or config.dev or config.eval):
            given = [n for n in ("format", "text_column", "label_column", "tag_column")
                     if getattr(config, n) is not None]
            if given:
                raise ConfigError(f"--{given[0].replace('_', '-')} says how to read your own files, and --task "
                                  f"{config.task} is given none (add --eval, --train or --dev FILE, or leave it out)")
    elif len(sources) > 1 and len(trains) == 1:
        raise ConfigError(f"several source languages ({config.source}) with your own files: give one --train "
                          "LANG=FILE per source language instead (--train en=train-en.conll --train de=...)")
    n_sources = len(sources) if config.task else (len(trains) if trains else len(sources))
    if config.matrix and n_sources < 2:
        raise ConfigError(f"--matrix needs at least two source languages (a matrix of one source is one "
                          f"transfer run): --source a,b,... or --train LANG=FILE for each; got "
                          f"{', '.join(trains) if trains else config.source}")
    if not (math.isfinite(config.sampling_temperature) and config.sampling_temperature > 0):
        raise ConfigError(f"--sampling-temperature must be a number > 0, got {config.sampling_temperature!r}")
    if config.peft is not None:
        from xlt.adapt.peft import PEFT_METHODS

        if config.peft not in PEFT_METHODS:
            raise ConfigError(f"--peft must be one of {', '.join(PEFT_METHODS)}, got {config.peft!r}")
        if config.mode != "finetune":
            raise ConfigError("--peft chooses what fine-tuning trains: add --mode finetune")
    if config.language_adapters and config.peft != "adapter":
        raise ConfigError("--language-adapters (MAD-X) go under task adapters: add --mode finetune --peft adapter")
    if config.lora_r < 1 or config.adapter_size < 1:
        raise ConfigError(f"--lora-r and --adapter-size must be >= 1, got {config.lora_r} and {config.adapter_size}")
    if config.ensemble and not config.matrix:
        raise ConfigError("--ensemble combines the models of a transfer matrix: add --matrix")
    if not isinstance(config.ensemble, int) or config.ensemble < 0:
        raise ConfigError(f"--ensemble must be a whole number >= 0, got {config.ensemble!r}")
    if config.seed_ensemble and (len(config.seeds) < 2 or config.matrix):
        raise ConfigError("--seed-ensemble combines the models of several seeds of one run: give --seeds 2 or "
                          f"more, without --matrix (got seeds {list(config.seeds)}"
                          f"{', --matrix' if config.matrix else ''})")
    if config.matrix and (config.save or config.resume):
        raise ConfigError("--matrix runs its source languages one by one; it takes no --save or --resume")


def _as_list(value) -> list[str]:
    """A ``train``/``dev`` setting as a list of its values (None -> [], one string -> [it])."""
    if value is None:
        return []
    return [value] if isinstance(value, (str, Path)) else [str(v) for v in value]


@dataclass(frozen=True)
class SourceFiles:
    """One source language's files in a user's data set.

    Attributes:
        lang: the language code as given (``de``, ``deu_Latn``).
        train: its training file. dev: its dev file (None: held out from ``train``).
    """

    lang: str
    train: str
    dev: str | None = None


def user_sources(config: TransferConfig) -> list[SourceFiles]:
    """The source languages of a user's files and the files of each.

    One ``--train FILE`` is the language of ``--source``. Several training files (multi-source
    training, or ``--matrix``) each name their language: ``LANG=FILE``, or a file name holding the
    code (``train-de.conll``); ``--dev`` then takes ``LANG=FILE`` values for any of them (the others
    hold ``dev_fraction`` of their training data out).

    Raises:
        DatasetError: a training file whose language cannot be told, a language given twice, a
            dev file of no source language, or ``--source`` naming other languages than the files.
    """
    from xlt.data.dataset import DatasetError, parse_eval_args
    from xlt.data.formats import FileLanguageError, language_from_filename
    from xlt.data.langs import denote_same as same


    trains = parse_eval_args(_as_list(config.train))
    devs = parse_eval_args(_as_list(config.dev))
    if len(trains) == 1 and trains[0][0] is None:
        if len(devs) > 1:
            raise DatasetError("one --train file takes one --dev file")
        dev = str(devs[0][1]) if devs else None
        return [SourceFiles(str(config.source), str(trains[0][1]), dev)]

    def language(lang: str | None, path: Path, option: str) -> str:
        if lang is not None:
            return lang
        try:
            return language_from_filename(path)
        except FileLanguageError:
            raise DatasetError(f"{option} {path}: with several source languages every file needs its language: "
                               f"{option} LANG=FILE") from None

    out: list[SourceFiles] = []
    for lang, path in trains:
        code = language(lang, path, "--train")
        twice = [s for s in out if same(s.lang, code)]
        if twice:
            raise DatasetError(f"--train: source language {code} given twice ({twice[0].train} and {path})")
        out.append(SourceFiles(code, str(path)))
    for lang, path in devs:
        code = language(lang, path, "--dev")
        hit = [i for i, s in enumerate(out) if same(s.lang, code)]
        if not hit:
            raise DatasetError(f"--dev {path}: {code} is not one of the --train languages "
                               f"({', '.join(s.lang for s in out)})")
        if out[hit[0]].dev is not None:
            raise DatasetError(f"--dev: source language {code} given twice")
        out[hit[0]] = replace(out[hit[0]], dev=str(path))
    given = [x.strip() for x in str(config.source).split(",") if x.strip()]
    if given != [TransferConfig.source] and not (
            len(given) == len(out) and all(any(same(g, s.lang) for s in out) for g in given)):
        raise DatasetError(f"--source {config.source} does not match the languages of the --train files "
                           f"({', '.join(s.lang for s in out)}); leave --source out")
    return out


def source_configs(config: TransferConfig) -> dict[str, TransferConfig]:
    """One single-source config per source language of ``config`` (built-in ``--source a,b`` or one
    user ``--train LANG=FILE`` each), keyed by the language as given; every other setting is kept.

    Raises:
        DatasetError: see :func:`user_sources`.
    """
    if config.train is None:
        return {s: replace(config, source=s) for s in dict.fromkeys(x.strip() for x in str(config.source).split(",")
                                                                      if x.strip())}
    return {sf.lang: replace(config, source=sf.lang, train=sf.train, dev=sf.dev) for sf in user_sources(config)}


def read_options(config: TransferConfig):
    """The :class:`xlt.data.formats.ReadOptions` a config's column settings give."""
    from xlt.data.formats import ReadOptions

    kw = {}
    if config.text_column:
        kw["text_column"] = tuple(c.strip() for c in config.text_column.split(",") if c.strip())
    if config.label_column:
        kw["label_column"] = config.label_column
    if config.tag_column is not None:
        kw["tag_column"] = int(config.tag_column)
    try:
        return ReadOptions(**kw)
    except ValueError as exc:
        from xlt.data.dataset import DatasetError

        raise DatasetError(str(exc)) from None


def load_dataset_for(config: TransferConfig) -> TaskDataset:
    """Resolve a config's data (built-in task, user files, or a built-in task with user files) into
    one :class:`TaskDataset`.

    Every file is read here, before any model loads, so bad data fails at once. With ``task``, the
    user's ``train``/``dev``/``eval`` files are added by :func:`xlt.data.dataset.extend_with_files`
    (checked against the task's kind and labels; the label map is applied to the task's splits and
    the files alike); ``targets`` left unset then means none of the task's targets when ``eval``
    files are given (the source's own set and the user's files are scored), else all.

    Raises:
        DatasetError: neither ``task`` nor ``train``; ``labels`` or several ``dev`` files with
        ``task``; plus the errors of :func:`xlt.data.dataset.load_task`,
        :func:`~xlt.data.dataset.extend_with_files` and :func:`~xlt.data.dataset.from_files`.
    """
    from xlt.data.dataset import DatasetError

    if not (config.task or config.train):
        raise DatasetError("give either --task (udpos, panx, sib200) or --train FILE with --eval")
    if config.task:
        if config.labels is not None:  # as _check_settings says, for callers that skip validate()
            raise DatasetError(f"--labels fixes the label inventory of your own data set; --task {config.task} "
                               f"has its own")
        trains, devs = _as_list(config.train), _as_list(config.dev)
        if len(devs) > 1:
            raise DatasetError(f"--dev with --task replaces the task's one source dev set: give one file, got "
                               f"{', '.join(devs)}")
        with_files = bool(trains or devs or config.eval)
        # the task's targets: as --targets says; without it all of them, or none when the user's --eval
        # files are given (so that the user's de is not scored next to the task's de)
        targets = config.targets if config.targets is not None else ([] if config.eval else "all")
        sources = [x.strip() for x in str(config.source).split(",") if x.strip()]
        # with files, the label map is applied (and checked against their labels too) by extend_with_files
        parts = [load_task(config.task, s, targets, data_dir=config.data_dir, train_limit=config.train_limit,
                           eval_limit=config.eval_limit, label_map=None if with_files else config.label_map)
                 for s in sources]
        ds = parts[0] if len(parts) == 1 else multi_source(parts, config.sampling_temperature, config.seeds[0])
        if with_files:
            ds = extend_with_files(ds, train=trains, dev=devs[0] if devs else None, eval=config.eval,
                                   format=config.format, options=read_options(config), label_map=config.label_map,
                                   train_limit=config.train_limit, eval_limit=config.eval_limit)
        if config.metric and config.metric != ds.metric:
            import dataclasses

            ds = dataclasses.replace(ds, metric=config.metric)  # checked again (f1 is for BIO tags only)
        return ds
    if not config.eval:
        raise DatasetError("--train needs at least one --eval LANG=FILE (or --eval DIR) to transfer to")
    parts = [from_files(sf.train, config.eval, dev=sf.dev, source=sf.lang, format=config.format,
                        options=read_options(config), metric=config.metric, label_map=config.label_map,
                        labels=config.labels, train_limit=config.train_limit, eval_limit=config.eval_limit,
                        dev_fraction=config.dev_fraction, seed=config.seeds[0])
             for sf in user_sources(config)]
    return parts[0] if len(parts) == 1 else multi_source(parts, config.sampling_temperature, config.seeds[0])


def read_language_adapters(config: TransferConfig, source: str) -> dict[str, tuple[dict, dict]]:
    """The ``--language-adapters LANG=DIR`` of a config, read: language -> ``(weights, meta)``.

    Raises:
        ConfigError: a value without ``LANG=``, a language twice, no adapter for the source, adapters
        of different sizes; FileNotFoundError / PeftError: a folder without a readable adapter.
    """
    from xlt.adapt.peft import read_language_adapter
    from xlt.data.langs import denote_same as same
    from xlt.data.text import parse_text_args
    from xlt.jobs import ConfigError

    try:
        folders = parse_text_args(config.language_adapters, "--language-adapters", "DIR")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    out = {lang: read_language_adapter(folder) for lang, folder in folders.items()}
    if not out:
        return out
    if not any(same(l, source) for l in out):
        raise ConfigError(f"--language-adapters has none for the source language {source}: MAD-X trains the task "
                          "adapter on top of the source's language adapter")
    sizes = {int(meta["size"]) for _, meta in out.values()}
    if len(sizes) > 1:
        raise ConfigError(f"--language-adapters of different sizes ({sorted(sizes)}) cannot share one model")
    return out


def _warn_outside_trimmed(encoder, ds: TaskDataset) -> dict[str, float]:
    """Warn about every language of the run that a trimmed model's vocabulary was not kept for
    (:func:`xlt.adapt.vocab.outside_trimmed`); returns language -> percent of ``<unk>`` tokens."""
    from xlt.adapt.vocab import outside_trimmed
    from xlt.data.text import example_text

    if not encoder.info.get("trimmed_for"):  # an untrimmed model: nothing to check, no text to build
        return {}
    splits = {ds.source: ds.train, **ds.eval}
    outside = outside_trimmed(encoder, {l: [example_text(e) for e in sp.examples[:200]] for l, sp in splits.items()})
    for lang, unk in outside.items():
        log.warning("%s is not among the languages this model's vocabulary was trimmed for (%s): %.1f%% of its "
                    "tokens are unknown pieces, and its words may split into smaller pieces than the full model "
                    "gives; use the untrimmed model for it", lang, ", ".join(encoder.info["trimmed_for"]), unk)
    return outside


def romanize_targets(ds: TaskDataset) -> tuple[TaskDataset, dict[str, int]]:
    """A copy of ``ds`` whose non-Latin-script targets are romanised (``TransferConfig.romanize``),
    and ``{lang: examples romanised}``; ``ds`` itself is not changed.

    Raises:
        TransliterationError: uroman is not installed.
    """
    import dataclasses

    from xlt.adapt.translit import is_non_latin, romanize_examples

    evals, done = {}, {}
    for lang, split in ds.eval.items():
        if lang != ds.source and split.examples and is_non_latin(split.examples):
            split = dataclasses.replace(split, examples=romanize_examples(split.examples, lang),
                                        note="romanised with uroman")
            done[lang] = len(split.examples)
        evals[lang] = split
    if not done:
        log.warning("--romanize: no target is in a non-Latin script; nothing was romanised")
    return dataclasses.replace(ds, eval=evals), done


def _is_main_process() -> bool:
    """False on the non-main ranks of an ``accelerate launch`` run (they write no report and save no model)."""
    from xlt.transfer.finetune import distributed_state

    return distributed_state().is_main_process


def checkpoint_dir_of(config: TransferConfig) -> Path | None:
    """Where a fine-tuning run keeps its checkpoints: ``checkpoint_dir``, or with ``resume``
    ``out/checkpoints``; None = no checkpoints.

    Raises:
        CheckpointError: checkpoints asked for in probe mode, or ``resume`` without a folder.
    """
    from xlt.transfer.finetune import CheckpointError

    if not (config.checkpoint_dir or config.resume):
        return None
    if config.mode != "finetune":
        raise CheckpointError("--checkpoint-dir and --resume are for --mode finetune (a probe trains in minutes)")
    if config.checkpoint_dir:
        return Path(config.checkpoint_dir)
    if not config.out:
        raise CheckpointError("--resume needs --checkpoint-dir or --out (checkpoints default to OUT/checkpoints)")
    return Path(config.out) / "checkpoints"


@dataclass
class TransferResult:
    """What :func:`run_transfer` gives back.

    Attributes:
        report: the report dict (scores per language, averages, counts, config, manifest).
        models: the trained task model of every seed.
        best_seed: the seed whose model scored best on source dev (ties: the first).
        dataset: the data set the run used.
    """

    report: dict
    models: dict[int, TaskModel]
    best_seed: int
    dataset: TaskDataset

    @property
    def model(self) -> TaskModel:
        """The model chosen on source dev (:attr:`best_seed`)."""
        return self.models[self.best_seed]


def output_plan(config: TransferConfig) -> OutputPlan:
    """Every input and output of a transfer run (or matrix), for the output rule (:class:`OutputPlan`).

    Inputs: the training, dev and evaluation files and folders, the model folder, the aligner, the
    language adapters and the data folder (a built-in task's, or ``data_dir``). Outputs: ``out``
    (it may hold ``checkpoints``; a resumed run continues it), ``save``, an explicit
    ``checkpoint_dir`` and the feature cache (kept folders). Checkpoints in ``out/checkpoints``
    are part of ``out`` (carried over when it is replaced), so they are no output of their own.
    """
    data_dir = data_set_folders(config.data_dir) if (config.task or config.data_dir) else None
    inputs = [("--train", config.train), ("--dev", config.dev), ("--eval", config.eval), ("--model", config.model),
              ("--aligner", config.aligner), ("--language-adapters", config.language_adapters),
              ("--data-dir", data_dir)]
    outputs = [Output("--out", config.out, "folder", allow=("checkpoints",),
                      overwrite=bool(config.overwrite or config.resume)),
               Output("--save", config.save, "folder")]
    ckpt = checkpoint_dir_of(config)
    if config.checkpoint_dir and not (config.out and path_relation(ckpt, Path(config.out) / "checkpoints") == "same"):
        outputs.append(Output("--checkpoint-dir", ckpt, "store"))
    if config.cache_dir:
        outputs.append(Output("--cache-dir", config.cache_dir, "store"))
    return OutputPlan(inputs=inputs, outputs=[o for o in outputs if o.path], overwrite=bool(config.overwrite))


def check_outputs(config: TransferConfig) -> None:
    """Refuse outputs that would destroy something, before any work starts (:func:`output_plan`).

    Raises:
        OutputError: an output equals, contains or lies inside an input, or two outputs (``out``,
            ``save``, ``checkpoint_dir``, ``cache_dir``) equal or contain each other; or their
            folder is not writable.
        FileExistsError: ``out`` or ``save`` is a non-empty folder and ``overwrite`` is off (``out``
            may hold ``checkpoints``; with ``resume`` anything); the checkpoint folder holds
            checkpoints and ``resume`` is off.
        NotADirectoryError: ``save``, ``out`` or the checkpoint folder is a file.
        ConfigError: an unknown ``save_which``.
        CheckpointError: see :func:`checkpoint_dir_of`.
    """
    from xlt.jobs import ConfigError
    from xlt.transfer.finetune import CHECKPOINT_FILE

    ckpt = checkpoint_dir_of(config)
    if ckpt is not None and ckpt.exists() and not ckpt.is_dir():
        raise NotADirectoryError(f"--checkpoint-dir {ckpt} is a file, not a folder")
    if ckpt is not None and not config.resume and any(ckpt.glob(f"seed-*/{CHECKPOINT_FILE}")):
        raise FileExistsError(f"{ckpt} holds checkpoints of an earlier run; add --resume to continue it, "
                              "or give another --checkpoint-dir")
    if config.save_which not in SAVE_WHICH:
        raise ConfigError(f"--save-which must be one of {', '.join(SAVE_WHICH)}, got {config.save_which!r}")
    output_plan(config).check()


def _write_predictions(folder: Path, ds: TaskDataset, preds: dict[str, list]) -> None:
    from xlt.evaluate.report import write_jsonl

    for lang, labels in preds.items():
        split = ds.eval[lang]
        rows = []
        for e, p in zip(split.examples, labels):
            row = {"tokens": e.tokens, "gold": e.labels, "pred": p} if ds.kind is TOKEN else \
                  {"id": e.id, "text": e.text, **({"text_pair": e.text_pair} if hasattr(e, "text_pair") else {}),
                   "gold": e.label, "pred": p}
            rows.append(row)
        write_jsonl(folder / f"{lang}.jsonl", rows)


def run_transfer(config: TransferConfig, command: list[str] | None = None,
                 dataset: TaskDataset | None = None) -> dict:
    """Run one zero-shot transfer experiment and (if ``config.out``) write its report.

    Returns:
        the report dict (see :func:`xlt.evaluate.report.write_report` for the fields); the
        models are in :func:`transfer`'s :class:`TransferResult`.

    Raises:
        ValueError: unknown task or mode; UnknownLanguageError: a language not in the data;
        DatasetNotFoundError: the data folder lacks the task's data; DataFormatError: a
        malformed line (the message names file and line); FileExistsError: ``save`` exists.
    """
    return transfer_result(config, command, dataset).report


def transfer_result(config: TransferConfig, command: list[str] | None = None,
                    dataset: TaskDataset | None = None, encoder=None) -> TransferResult:
    """:func:`run_transfer` returning the models too (:class:`TransferResult`).

    ``encoder``: an already loaded :class:`~xlt.models.loading.Encoder` of ``config.model`` (runs
    that share one, such as a transfer matrix); None = load it. It is not changed (fine-tuning
    copies its weights).
    """
    t0 = time.time()
    config.validate()
    check_word_pieces(config.word_pieces)
    check_outputs(config)
    check_encoder_spec(config.model)
    if config.mode == "finetune":
        check_max_length(config.model, config.max_length, default=TransferConfig.max_length)
    aligner = None
    if config.aligner:
        from xlt.align.maps import AlignerError, CrossLingualAligner

        if config.mode != "probe":
            raise AlignerError("--aligner maps frozen features, so it needs --mode probe; for fine-tuning, "
                               "give a fine-tuning-aligned encoder (`xlt align finetune`) as --model")
        aligner = CrossLingualAligner.load(config.aligner)
    # every data file is read before the model loads
    ds = dataset if dataset is not None else load_dataset_for(config)
    check_evaluation_sets(ds)
    romanized = {}
    if config.romanize:
        ds, romanized = romanize_targets(ds)
    adapters = read_language_adapters(config, ds.source)
    cfg = config.resolved(ds.kind.name)
    ckpt = checkpoint_dir_of(config)
    cfg["checkpoint_dir"] = str(ckpt) if ckpt is not None else None
    if config.mode == "finetune":  # the size used goes into the report (the default depends on the device)
        from xlt.transfer.finetune import resolve_micro_batch_size

        cfg["micro_batch_size"] = resolve_micro_batch_size(cfg.get("micro_batch_size"))
    cfg_out = {k: v for k, v in cfg.items() if k != "progress"}
    # hash the data files now, as they were read (and so a vanished file fails before training)
    data_files = ds.files() + ([Path(config.aligner)] if aligner is not None else [])
    manifest = build_manifest(cfg_out, data_files, {"spec": config.model}, config.seeds)
    torch.manual_seed(config.seeds[0])
    np.random.seed(config.seeds[0])
    for lang, unseen in ds.unseen_labels().items():
        log.warning("%s: %d gold label(s) never seen in training: %s (map them with --label-map, e.g. %s=O)",
                    lang, sum(unseen.values()), ", ".join(f"{k}×{v}" for k, v in sorted(unseen.items())),
                    next(iter(sorted(unseen))))

    if config.mode == "finetune":
        from xlt.transfer.finetune import distributed_state

        distributed_state()  # before anything else sets up accelerate (CPU processes: gloo)
        # only a source of weights for the task model, which accelerate puts on each process's device
        encoder = encoder if encoder is not None else load_encoder(config.model, device="cpu")
    else:
        n_proc = int(os.environ.get("WORLD_SIZE") or 1)
        if n_proc > 1:
            log.warning("--mode probe is not data-parallel: each of the %d processes trains and evaluates the "
                        "same probe (only the main one writes); run it without accelerate launch", n_proc)
        encoder = encoder if encoder is not None else load_encoder(config.model, device="auto")
    outside = _warn_outside_trimmed(encoder, ds)
    trainer = (ProbeTrainer(encoder, ds, cfg, aligner) if config.mode == "probe"
               else FinetuneTrainer(encoder, ds, cfg, language_adapters=adapters))
    if aligner is not None:
        aligner.check(encoder.describe(), trainer.base.layer_ids, list(ds.eval) + [ds.source],
                      word_pieces=trainer.base.word_pieces if ds.kind is TOKEN else None)
    trainer.train(config.seeds)
    t_train = time.time() - t0
    best_seed = max(config.seeds, key=lambda s: (trainer.dev_scores.get(s, float("-inf")), -config.seeds.index(s)))
    # what will be saved; the models are written with the report, at the end, so that the two appear together
    saved = _save_models(config, trainer.models, best_seed, write=False) if config.save else {}

    per_seed: dict[int, dict[str, float]] = {s: {} for s in config.seeds}
    counts: dict[str, dict] = {}
    best_preds: dict[str, list] = {}
    pooled: dict[str, float] = {}  # --seed-ensemble: language -> score of the seeds' mean probabilities
    for lang, split in tqdm(ds.eval.items(), desc="languages", disable=not config.progress):
        c = split.counts(ds.kind)
        if not split.examples:  # warned about before training (check_evaluation_sets)
            counts[lang] = dict(c, truncated=0)
            continue
        probas, truncated = trainer.evaluate_proba(split)
        preds = trainer.decode(probas)
        gold = ds.kind.gold(split.examples)
        for s, p in preds.items():
            per_seed[s][lang] = score(ds.metric, gold, p)
        if config.seed_ensemble:
            pooled[lang] = score(ds.metric, gold, trainer.models[best_seed].decode(mean_proba(list(probas.values()))))
        best_preds[lang] = preds[best_seed]
        counts[lang] = dict(c, truncated=int(truncated))
        if truncated:
            log.warning("%s: %d of %d inputs are longer than the model takes and were cut (in the report's counts; "
                        "a token task scores words past the cut as its fallback label)", lang, int(truncated),
                        len(split.examples))

    langs = list(per_seed[config.seeds[0]])
    scores, scores_std = {}, {}
    for lang in langs:
        scores[lang], scores_std[lang] = mean_std([per_seed[s][lang] for s in config.seeds])
    target_langs = [l for l in langs if l != ds.source]
    seed_avgs = [float(np.mean([per_seed[s][l] for l in target_langs])) for s in config.seeds] if target_langs else []
    average, average_std = mean_std(seed_avgs) if seed_avgs else (float("nan"), float("nan"))

    manifest["model"] = to_jsonable(encoder.describe())
    described = ds.describe()
    report = {
        "command": command if command is not None else [Path(sys.argv[0]).name] + sys.argv[1:],
        "command_line": shlex.join(command if command is not None else sys.argv),
        "task": ds.name,
        "kind": ds.kind.name,
        "model": config.model,
        "mode": config.mode,
        "source": ds.source,
        "metric": ds.metric,
        "metric_name": {"accuracy": "accuracy (%)", "f1": "entity F1 (%)"}.get(ds.metric, ds.metric),
        "scores": scores,
        "scores_std": scores_std,
        "per_seed": {str(s): v for s, v in per_seed.items()},
        "average": average,
        "average_std": average_std,
        "n_targets": len(target_langs),
        "counts": counts,
        "source_counts": {"train": dict(ds.train.counts(ds.kind), truncated=0, note=ds.train.note),
                          "dev": dict(ds.dev.counts(ds.kind), truncated=0, note=ds.dev.note)},
        "labels": list(ds.labels),
        "label_map": dict(ds.label_map),
        "unseen_labels": ds.unseen_labels(),
        "dataset": {k: described[k] for k in ("name", "kind", "metric", "origin")},
        "dev_scores": {str(s): v for s, v in trainer.dev_scores.items()},
        "best_seed": best_seed,
        "saved": saved,
        "training": {str(s): trainer.histories.get(s) for s in config.seeds},
        "seconds": {"train": round(t_train, 1), "total": round(time.time() - t0, 1)},
        "config": cfg_out,
        "manifest": manifest,
    }
    extra = []
    if report["unseen_labels"]:
        extra.append("## Labels never seen in training\n\nScored as they are (a model cannot predict them); "
                     "map them with `--label-map LABEL=O`.\n\n" + "\n".join(
                         f"- {lang}: " + ", ".join(f"{k} ×{v}" for k, v in sorted(u.items()))
                         for lang, u in report["unseen_labels"].items()))
    if aligner is not None:
        report["aligner"] = dict(aligner.describe(), file=str(config.aligner))
        kind = aligner.info.get("supervision", "?")
        extra.append(
            f"## Alignment\n\nFeatures of every language were mapped with `{config.aligner}`: "
            f"{aligner.method} maps ({kind} supervision) into the {aligner.source} space, layers "
            f"{aligner.layers[0]}..{aligner.layers[-1]}; pairs per language: "
            + ", ".join(f"{l} {n}" for l, n in report["aligner"]["supervision"].items()) + ".")
    if extra:
        report["extra_markdown"] = extra
    if adapters:
        report["language_adapters"] = {"given": {l: meta for l, (_, meta) in adapters.items()},
                                       "evaluated_with_the_source_adapter": sorted(trainer.missing_adapters)}
        if trainer.missing_adapters:
            log.warning("no language adapter for %s: evaluated with the source's (%s)",
                        ", ".join(sorted(trainer.missing_adapters)), ds.source)
    if config.seed_ensemble:
        avg_pooled = float(np.mean([pooled[l] for l in target_langs])) if target_langs else float("nan")
        report["seed_ensemble"] = {"seeds": list(config.seeds), "scores": pooled, "average": avg_pooled}
        extra.append(f"## Ensemble of the {len(config.seeds)} seeds\n\nMean of the seeds' label probabilities "
                     f"(seeds {', '.join(map(str, config.seeds))}); average over the targets "
                     f"**{avg_pooled:.2f}** against {average:.2f} for one seed on average.\n\n"
                     "| language | ensemble | mean of the seeds |\n|:---|---:|---:|\n"
                     + "\n".join(f"| {l} | {pooled[l]:.2f} | {scores[l]:.2f} |" for l in pooled))
        report["extra_markdown"] = extra
    if romanized:
        report["romanized"] = romanized
        extra.append("## Romanised targets\n\nEvaluated on their uroman romanisation: " + ", ".join(
            f"{l} ({n} examples)" for l, n in romanized.items()) + ".")
        report["extra_markdown"] = extra
    if outside:
        report["outside_trimmed_vocabulary"] = {"trimmed_for": encoder.info["trimmed_for"], "unknown_percent": outside}
    if config.mode == "finetune":
        report["selection"] = {str(s): v for s, v in trainer.selected.items()}
        params = next(iter(trainer.parameters.values()), None)
        if params:
            report["parameters"] = dict(params, method=config.peft or "full fine-tuning")
            extra.append(f"## Trained parameters\n\n{config.peft or 'full fine-tuning'}: {params['trainable']:,} of "
                         f"{params['total']:,} ({params['share']:.2f}%).")
            report["extra_markdown"] = extra
    if (config.out or config.save) and _is_main_process():  # only the main process writes
        # the report and the model appear together: an interrupt leaves both old or both new, never a
        # report naming a model it does not describe
        finals = [p for p in (config.out, config.save) if p]
        keeps = [("checkpoints",) if p == config.out else () for p in finals]
        with staged_folders(finals, keep=keeps) as folders:
            if config.out:
                write_report(folders[0], report)
                if config.predictions:
                    _write_predictions(folders[0] / "predictions", ds, best_preds)
            if config.save:
                _save_models(config, trainer.models, best_seed, folder=folders[-1])
    if config.mode == "finetune" and (config.out or config.save):
        from xlt.transfer.finetune import distributed_state

        distributed_state().wait_for_everyone()  # the report and models are on disk when any process returns
    return TransferResult(report=report, models=dict(trainer.models), best_seed=best_seed, dataset=ds)


def check_evaluation_sets(ds: TaskDataset) -> None:
    """Refuse a data set none of whose evaluation sets holds an example, before training; warn about
    each empty one (it is skipped and counted in the report).

    Raises:
        DatasetError: every evaluation set is empty (or all its sentences were skipped); the message
            names the files.
    """
    from xlt.data.dataset import DatasetError

    empty = {lang: split for lang, split in ds.eval.items() if not split.examples}
    if ds.eval and len(empty) == len(ds.eval):
        raise DatasetError("no evaluation set holds an example: " + "; ".join(
            f"{lang} {split.path} ({split.n_skipped_empty} empty sentences skipped)" for lang, split in empty.items())
            + "; nothing could be scored, so nothing was trained")
    for lang, split in empty.items():
        log.warning("%s: no examples in %s (%d empty sentences skipped); it is left out of the scores", lang, split.path,
                    split.n_skipped_empty)


def _save_models(config: TransferConfig, models: dict[int, TaskModel], best_seed: int, write: bool = True,
                 folder: Path | None = None) -> dict:
    """Save the model(s) of ``config.save`` into ``folder`` (the folder being built for it), or with
    ``write=False`` only say what will be saved there."""
    root = Path(config.save)
    seeds = [best_seed] if config.save_which == "best" else list(models)
    if write:
        for s in seeds:
            models[s].save_pretrained(folder if config.save_which == "best" else folder / f"seed-{s}",
                                      overwrite=True)
    info = {"path": str(root), "seeds": seeds, "which": config.save_which}
    return info if config.save_which == "best" else dict(info, best_seed=best_seed)


def check_encoder_spec(model: str) -> None:
    """Refuse a saved xlt task model where an encoder is expected (``--model`` of ``transfer``),
    before it loads: a probe folder holds a head, not an encoder. A fine-tuned task model is a
    complete encoder with a task head; it is taken as an encoder (its head is left out) with a
    warning.

    Raises:
        ConfigError: ``model`` is a folder holding a saved probe.
    """
    from xlt.jobs import ConfigError
    from xlt.transfer.model import MODEL_FILE

    meta_file = Path(model) / MODEL_FILE
    if not meta_file.is_file():
        return
    import json

    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    mode = meta.get("mode") if isinstance(meta, dict) else None
    spec = (meta.get("encoder") or {}).get("spec") if isinstance(meta, dict) else None
    if mode == "finetune":
        log.warning("--model %s is a fine-tuned xlt task model; its encoder is used and its task head left out", model)
        return
    raise ConfigError(f"--model {model} is a saved xlt task model ({MODEL_FILE}: a {mode or 'task'} head), not an "
                     f"encoder; apply it with 'xlt predict --model {model}', or train on its encoder"
                     + (f" (--model {spec})" if spec else ""))


def zero_shot_transfer(dataset: TaskDataset, *, out: str | None = None, **settings) -> TransferResult:
    """Train on ``dataset``'s source language and evaluate on every evaluation language (Python API).

    Example::

        import xlt
        ds = xlt.read_dataset("train.conll", eval=["de=test-de.conll", "sw=test-sw.conll"])
        result = xlt.zero_shot_transfer(ds, mode="probe", epochs=5)
        print(result.report["scores"])          # {"en": ..., "de": ..., "sw": ...}
        result.model.save_pretrained("my-ner")  # or xlt.TaskModel.from_pretrained("my-ner")
        result.model.predict(["Amina alienda Nairobi jana ."], lang="sw")

    Args:
        dataset: a :class:`~xlt.data.dataset.TaskDataset` (:func:`xlt.load_task`,
            :func:`xlt.read_dataset`, :func:`xlt.from_examples`).
        out: report folder (``None``: no files).
        settings: any other :class:`TransferConfig` field (``model``, ``mode``, ``layer``,
            ``epochs``, ``seeds``, ``save``, ...).

    Returns:
        :class:`TransferResult` (report, the model of every seed, the best seed).

    Raises:
        TypeError: an unknown setting; plus the errors of :func:`run_transfer`.
    """
    config = TransferConfig(task=None, out=out, **settings)
    return transfer_result(config, command=["python", "xlt.zero_shot_transfer"], dataset=dataset)


__all__ = ["SAVE_WHICH", "TransferConfig", "TransferResult", "check_encoder_spec", "check_evaluation_sets", "check_outputs", "load_dataset_for",
           "output_plan", "read_options",
           "run_transfer", "transfer_result", "zero_shot_transfer"]
