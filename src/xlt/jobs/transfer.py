"""``xlt transfer`` as a job: resolve the data set, train, score every language, report, keep models.

The protocol is XTREME's (Hu et al. 2020, "XTREME: A Massively Multilingual Multi-task
Benchmark for Evaluating Cross-lingual Generalization"): the task model sees labelled data of
the source language only; model selection uses the source language's dev set only; every
target language is scored on its own evaluation set and the report gives the average over
targets (source excluded).

The settings are :class:`~xlt.jobs.parts.TransferSettings` (typed, checked at construction);
:func:`run` takes them through named steps: :func:`prepare` (every check, then every data file
read, before the model loads, into one :class:`xlt.data.dataset.TaskDataset`), :func:`training_for`
(the mode's training settings, every default resolved once), training, :func:`evaluate`
(every language, every seed), :func:`build_report` and :func:`publish` (report and models
written together). The trained models are :class:`xlt.transfer.model.TaskModel` values that can
be kept (``save``) and applied to new text (``xlt predict``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from xlt.adapt.peft import read_language_adapter
from xlt.adapt.translit import is_non_latin, romanize_examples
from xlt.adapt.vocab import outside_trimmed
from xlt.align.maps import AlignerError, CrossLingualAligner
from xlt.core.metrics import mean_std, score
from xlt.core.outputs import Output, OutputPlan, path_relation, staged_folders
from xlt.data.codeswitch import CodeSwitcher, load_code_switch_dictionaries, source_coverage
from xlt.data.dataset import DatasetError, TaskDataset, extend_with_files, from_files, load_task, multi_source
from xlt.data.kinds import TOKEN
from xlt.data.langs import denote_same as same
from xlt.data.paths import data_set_folders
from xlt.data.text import example_text
from xlt.evaluate.manifest import build_manifest, to_jsonable
from xlt.evaluate.report import write_jsonl, write_report
from xlt.jobs import ConfigError, check_max_length
from xlt.jobs.parts import SourceFiles, TransferSettings, finetune_training, probe_training
from xlt.jobs.selftrain import add_self_train_section, check_teachers, read_unlabeled_for, selftrain_trainer
from xlt.models.loading import load_encoder
from xlt.transfer.checkpoint import CHECKPOINT_FILE, CheckpointError
from xlt.transfer.ensemble import mean_proba
from xlt.transfer.finetune import distributed_state, resolve_micro_batch_size
from xlt.transfer.model import MODEL_FILE, TaskModel
from xlt.transfer.training import FinetuneTrainer, FinetuneTraining, ProbeTrainer, ProbeTraining

log = logging.getLogger(__name__)

SAVE_WHICH = ("best", "all")
#: The settings' former name (``xlt.TransferConfig``, scripts).
TransferConfig = TransferSettings


# --------------------------------------------------------------------------- data


def load_dataset_for(settings: TransferSettings) -> TaskDataset:
    """Resolve the settings' data (built-in task, user files, or a built-in task with user files) into
    one :class:`TaskDataset`.

    Every file is read here, before any model loads, so bad data fails at once. With ``task``, the
    user's ``train``/``dev``/``eval`` files are added by :func:`xlt.data.dataset.extend_with_files`
    (checked against the task's kind and labels; the label map is applied to the task's splits and
    the files alike); ``targets`` left unset then means none of the task's targets when ``eval``
    files are given (the source's own set and the user's files are scored), else all.

    Raises:
        DatasetError: neither ``task`` nor ``train``; user files without ``eval``; several ``dev``
            files with ``task``; plus the errors of :func:`xlt.data.dataset.load_task`,
            :func:`~xlt.data.dataset.extend_with_files` and :func:`~xlt.data.dataset.from_files`.
    """
    if not (settings.task or settings.train):
        raise DatasetError("give either --task (udpos, panx, sib200) or --train FILE with --eval")
    return _task_dataset(settings) if settings.task else _user_dataset(settings)


def _task_dataset(s: TransferSettings) -> TaskDataset:
    """A built-in task's data set, with the user's files added (:func:`load_dataset_for`)."""
    if len(s.dev) > 1:
        raise DatasetError(f"--dev with --task replaces the task's one source dev set: give one file, got "
                           f"{', '.join(map(str, s.dev))}")
    with_files = bool(s.train or s.dev or s.eval)
    # the task's targets: as --targets says; without it all of them, or none when the user's --eval
    # files are given (so that the user's de is not scored next to the task's de)
    targets = ",".join(s.targets) if s.targets is not None else ([] if s.eval else "all")
    # with files, the label map is applied (and checked against their labels too) by extend_with_files
    parts = [load_task(s.task, src, targets, data_dir=s.data_dir, train_limit=s.train_limit,
                       eval_limit=s.eval_limit, label_map=None if with_files else s.label_map)
             for src in s.source]
    ds = parts[0] if len(parts) == 1 else multi_source(parts, s.sampling_temperature, s.seeds[0])
    if with_files:
        ds = extend_with_files(ds, train=[str(f) for f in s.train], dev=str(s.dev[0]) if s.dev else None,
                               eval=[str(f) for f in s.eval], format=s.format, options=s.read_options(),
                               label_map=s.label_map, train_limit=s.train_limit, eval_limit=s.eval_limit)
    if s.metric and s.metric != ds.metric:
        ds = dataclasses.replace(ds, metric=s.metric)  # checked again (f1 is for BIO tags only)
    return ds


def _user_dataset(s: TransferSettings) -> TaskDataset:
    """The user's files as a data set, one part per source language (:func:`load_dataset_for`)."""
    if not s.eval:
        raise DatasetError("--train needs at least one --eval LANG=FILE (or --eval DIR) to transfer to")
    parts = [from_files(sf.train, [str(f) for f in s.eval], dev=sf.dev, source=sf.lang, format=s.format,
                        options=s.read_options(), metric=s.metric, label_map=s.label_map, labels=s.labels,
                        train_limit=s.train_limit, eval_limit=s.eval_limit, dev_fraction=s.dev_fraction,
                        seed=s.seeds[0])
             for sf in s.user_sources]
    return parts[0] if len(parts) == 1 else multi_source(parts, s.sampling_temperature, s.seeds[0])


def user_sources(settings: TransferSettings) -> list[SourceFiles]:
    """The source languages of the user's files and the files of each
    (:attr:`~xlt.jobs.parts.DataSettings.user_sources`, resolved once per settings)."""
    return settings.user_sources


def source_configs(settings: TransferSettings) -> dict[str, TransferSettings]:
    """One single-source settings per source language (:meth:`TransferSettings.source_settings`)."""
    return settings.source_settings()


def read_options(settings: TransferSettings):
    """The :class:`xlt.data.formats.ReadOptions` of the settings' column options."""
    return settings.read_options()


def read_language_adapters(settings: TransferSettings, source: str) -> dict[str, tuple[dict, dict]]:
    """The ``language_adapters`` of the settings, read: language -> ``(weights, meta)``.

    Raises:
        ConfigError: no adapter for the source, adapters of different sizes; FileNotFoundError /
        PeftError: a folder without a readable adapter.
    """
    out = {lang: read_language_adapter(folder) for lang, folder in settings.language_adapters.items()}
    if not out:
        return out
    if not any(same(l, source) for l in out):
        raise ConfigError(f"--language-adapters has none for the source language {source}: MAD-X trains the task "
                          "adapter on top of the source's language adapter")
    sizes = {int(meta["size"]) for _, meta in out.values()}
    if len(sizes) > 1:
        raise ConfigError(f"--language-adapters of different sizes ({sorted(sizes)}) cannot share one model")
    return out


def is_main_process() -> bool:
    """False on the non-main ranks of an ``accelerate launch`` run (they write no report and save no model)."""
    return distributed_state().is_main_process


_is_main_process = is_main_process  # the former private name


def checkpoint_dir_of(settings: TransferSettings) -> Path | None:
    """Where a fine-tuning run keeps its checkpoints: ``checkpoint_dir``, or with ``resume``
    ``out/checkpoints``; None = no checkpoints.

    Raises:
        CheckpointError: checkpoints asked for in probe mode, or ``resume`` without a folder.
    """
    if not (settings.checkpoint_dir or settings.resume):
        return None
    if settings.mode != "finetune":
        raise CheckpointError("--checkpoint-dir and --resume are for --mode finetune (a probe trains in minutes)")
    if settings.checkpoint_dir:
        return Path(settings.checkpoint_dir)
    if not settings.out:
        raise CheckpointError("--resume needs --checkpoint-dir or --out (checkpoints default to OUT/checkpoints)")
    return Path(settings.out) / "checkpoints"


@dataclass
class TransferResult:
    """What :func:`run` gives back.

    Attributes:
        report: the report dict (scores per language, averages, counts, config, manifest), as
            written to ``out/report.json``.
        models: the trained task model of every seed.
        best_seed: the seed whose model scored best on source dev (ties: the first).
        dataset: the data set the run used.
        scores: language -> score (%, mean over seeds; the source's own set included).
        scores_std: language -> sample std over seeds (0 with one seed).
        average, average_std: mean over the targets (source excluded) of each seed's average, and its
            std over seeds (NaN without targets).
        dev_scores: seed -> best source-dev score (%).
        out: the report folder (None: nothing written).
    """

    report: dict
    models: dict[int, TaskModel]
    best_seed: int
    dataset: TaskDataset
    scores: dict[str, float] = field(default_factory=dict)
    scores_std: dict[str, float] = field(default_factory=dict)
    average: float = float("nan")
    average_std: float = float("nan")
    dev_scores: dict[int, float] = field(default_factory=dict)
    out: Path | None = None

    @property
    def model(self) -> TaskModel:
        """The model chosen on source dev (:attr:`best_seed`)."""
        return self.models[self.best_seed]


def output_plan(settings: TransferSettings) -> OutputPlan:
    """Every input and output of a transfer run (or matrix), for the output rule (:class:`OutputPlan`).

    Inputs: the training, dev and evaluation files and folders, the model folder, the aligner, the
    language adapters and the data folder (a built-in task's, or ``data_dir``). Outputs: ``out``
    (it may hold ``checkpoints``; a resumed run continues it), ``save``, an explicit
    ``checkpoint_dir`` and the feature cache (kept folders). Checkpoints in ``out/checkpoints``
    are part of ``out`` (carried over when it is replaced), so they are no output of their own.
    """
    s = settings
    data_dir = data_set_folders(s.data_dir) if (s.task or s.data_dir) else None
    inputs = [("--train", [f.path for f in s.train]), ("--dev", [f.path for f in s.dev]),
              ("--eval", [f.path for f in s.eval]), ("--model", s.model), ("--aligner", s.aligner),
              ("--language-adapters", list(s.language_adapters.values())), ("--data-dir", data_dir)]
    outputs = [Output("--out", s.out, "folder", allow=("checkpoints",), overwrite=bool(s.overwrite or s.resume)),
               Output("--save", s.save, "folder")]
    ckpt = checkpoint_dir_of(s)
    if s.checkpoint_dir and not (s.out and path_relation(ckpt, Path(s.out) / "checkpoints") == "same"):
        outputs.append(Output("--checkpoint-dir", ckpt, "store"))
    if s.cache_dir:
        outputs.append(Output("--cache-dir", s.cache_dir, "store"))
    return OutputPlan(inputs=inputs, outputs=[o for o in outputs if o.path], overwrite=bool(s.overwrite))


def check_outputs(settings: TransferSettings) -> None:
    """Refuse outputs that would destroy something, before any work starts (:func:`output_plan`).

    Raises:
        OutputError: an output equals, contains or lies inside an input, or two outputs (``out``,
            ``save``, ``checkpoint_dir``, ``cache_dir``) equal or contain each other; or their
            folder is not writable.
        FileExistsError: ``out`` or ``save`` is a non-empty folder and ``overwrite`` is off (``out``
            may hold ``checkpoints``; with ``resume`` anything); the checkpoint folder holds
            checkpoints and ``resume`` is off.
        NotADirectoryError: ``save``, ``out`` or the checkpoint folder is a file.
        CheckpointError: see :func:`checkpoint_dir_of`.
    """
    ckpt = checkpoint_dir_of(settings)
    if ckpt is not None and ckpt.exists() and not ckpt.is_dir():
        raise NotADirectoryError(f"--checkpoint-dir {ckpt} is a file, not a folder")
    if ckpt is not None and not settings.resume and any(ckpt.glob(f"seed-*/{CHECKPOINT_FILE}")):
        raise FileExistsError(f"{ckpt} holds checkpoints of an earlier run; add --resume to continue it, "
                              "or give another --checkpoint-dir")
    output_plan(settings).check()


def _write_predictions(folder: Path, ds: TaskDataset, preds: dict[str, list]) -> None:
    for lang, labels in preds.items():
        split = ds.eval[lang]
        rows = []
        for e, p in zip(split.examples, labels):
            row = {"tokens": e.tokens, "gold": e.labels, "pred": p} if ds.kind is TOKEN else \
                  {"id": e.id, "text": e.text, **({"text_pair": e.text_pair} if hasattr(e, "text_pair") else {}),
                   "gold": e.label, "pred": p}
            rows.append(row)
        write_jsonl(folder / f"{lang}.jsonl", rows)


# --------------------------------------------------------------------------- the steps of a run


@dataclass
class Prepared:
    """A run's inputs, checked and read before the model loads.

    Attributes:
        dataset: the data set (targets romanised with ``romanize``).
        aligner: the loaded :class:`~xlt.align.maps.CrossLingualAligner` (None: none).
        romanized: language -> examples romanised.
        adapters: MAD-X language adapters, language -> ``(weights, meta)``.
        code_switch: the dictionaries of ``code_switch``, ready (:class:`~xlt.data.codeswitch.CodeSwitcher`;
            None: off).
        code_switch_coverage: dictionary language -> distinct source training words it holds.
        unlabeled: ``--self-train`` / ``--distill-from``: language ->
            :class:`~xlt.data.unlabeled.UnlabeledText` (:func:`xlt.jobs.selftrain.read_unlabeled_for`).
    """

    dataset: TaskDataset
    aligner: object | None = None
    romanized: dict[str, int] = field(default_factory=dict)
    adapters: dict = field(default_factory=dict)
    code_switch: CodeSwitcher | None = None
    code_switch_coverage: dict[str, int] = field(default_factory=dict)
    cs_copies: int = 1
    unlabeled: dict = field(default_factory=dict)


def code_switcher_for(settings: TransferSettings, ds: TaskDataset) -> tuple[CodeSwitcher | None, dict[str, int]]:
    """The code-switcher of ``settings.code_switch`` (CoSDA-ML, Qin et al. 2020) and, per dictionary,
    how many distinct source training words it holds; a dictionary that holds none is warned about
    (with its size): it can switch nothing. ``(None, {})`` without ``code_switch``.

    Raises:
        CodeSwitchError: a value naming no file and no ``dict/`` language; DataFormatError: a
            malformed dictionary line (file and line named); DatasetNotFoundError: ``builtin``
            without a data folder. ConfigError: ``cs_only_labels`` on a task that is not a
            tagging task, or naming a label the task does not have.
    """
    if not settings.code_switch:
        return None, {}
    only = settings.cs_only_labels
    if only is not None:
        if ds.kind is not TOKEN:
            raise ConfigError(f"--cs-only-labels: {ds.name} is a {ds.kind.name} task (one label per example); "
                              "it applies to tagging tasks, whose words have labels")
        unknown = [lab for lab in only if lab not in ds.labels]
        if unknown:
            raise ConfigError(f"--cs-only-labels: {', '.join(unknown)} not among {ds.name}'s labels "
                              f"({', '.join(ds.labels[:12])}{' ...' if len(ds.labels) > 12 else ''})")
    dictionaries = load_code_switch_dictionaries(settings.code_switch, settings.cs_langs, settings.data_dir,
                                                 settings.cs_min_score)
    coverage = source_coverage(dictionaries, ds.train.examples)
    for d in dictionaries:
        if not coverage[d.lang]:
            log.warning("--code-switch: none of the %d source words of %s (%s) occurs in the %d training examples; "
                        "it switches nothing", d.stats["n_words"], d.path, d.lang, len(ds.train.examples))
    return CodeSwitcher(dictionaries, settings.code_switch_ratio, only), coverage


def prepare(settings: TransferSettings, dataset: TaskDataset | None = None) -> Prepared:
    """Check the outputs, the model and the aligner, then read every data file (``dataset``: one given
    instead), before any model loads.

    Raises:
        the errors of :func:`check_outputs`, :func:`check_encoder_spec`,
            :func:`xlt.jobs.check_max_length`, :func:`load_dataset_for`, :func:`check_evaluation_sets`
            and :func:`read_language_adapters`; AlignerError: an aligner with fine-tuning.
    """
    check_outputs(settings)
    check_encoder_spec(settings.model)
    if settings.mode == "finetune":
        check_max_length(settings.model, settings.max_length, default=FinetuneTraining.max_length)
    aligner = None
    if settings.aligner:
        if settings.mode != "probe":
            raise AlignerError("--aligner maps frozen features, so it needs --mode probe; for fine-tuning, "
                               "give a fine-tuning-aligned encoder (`xlt align finetune`) as --model")
        aligner = CrossLingualAligner.load(settings.aligner)
    # every data file is read before the model loads
    ds = dataset if dataset is not None else load_dataset_for(settings)
    check_evaluation_sets(ds)
    romanized = {}
    if settings.romanize:
        ds, romanized = romanize_targets(ds)
    switcher, coverage = code_switcher_for(settings, ds)
    check_teachers(settings)
    return Prepared(ds, aligner, romanized, read_language_adapters(settings, ds.source), switcher, coverage,
                    settings.cs_copies or 1, read_unlabeled_for(settings, ds))


def training_for(settings: TransferSettings, kind: str) -> ProbeTraining | FinetuneTraining:
    """The mode's training settings for a task kind, every default resolved once: epochs, batch size
    and learning rate of the mode and kind, the checkpoint folder (:func:`checkpoint_dir_of`) and,
    for fine-tuning, the device's micro-batch size."""
    if settings.mode == "probe":
        return probe_training(settings, kind, decoding=settings.decoding,
                              aligner_path=None if settings.aligner is None else str(settings.aligner))
    return finetune_training(settings, kind, checkpoint_dir=checkpoint_dir_of(settings),
                             micro_batch_size=resolve_micro_batch_size(settings.micro_batch_size))


def report_config(settings: TransferSettings, training: ProbeTraining | FinetuneTraining) -> dict:
    """The report's ``config``: the settings as given (:meth:`TransferSettings.echo`) with the values the
    run resolved (epochs, batch size, learning rate, checkpoint folder, fine-tuning's micro-batch size)."""
    cfg = settings.echo()
    cfg.update(epochs=training.epochs, batch_size=training.batch_size, lr=training.lr)
    ckpt = getattr(training, "checkpoint_dir", None)
    cfg["checkpoint_dir"] = None if ckpt is None else str(ckpt)
    if isinstance(training, FinetuneTraining):
        cfg["micro_batch_size"] = training.micro_batch_size
    return cfg


def _warn_unseen_labels(ds: TaskDataset) -> None:
    for lang, unseen in ds.unseen_labels().items():
        log.warning("%s: %d gold label(s) never seen in training: %s (map them with --label-map, e.g. %s=O)",
                    lang, sum(unseen.values()), ", ".join(f"{k}×{v}" for k, v in sorted(unseen.items())),
                    next(iter(sorted(unseen))))


def encoder_for(settings: TransferSettings, training: ProbeTraining | FinetuneTraining, encoder=None):
    """The run's encoder: ``encoder`` if given (runs sharing one, a matrix), else loaded: on the CPU for
    fine-tuning (a source of weights that accelerate places on each process's device), else on the
    best device."""
    if isinstance(training, FinetuneTraining):
        distributed_state()  # before anything else sets up accelerate (CPU processes: gloo)
        return encoder if encoder is not None else load_encoder(settings.model, device="cpu")
    n_proc = int(os.environ.get("WORLD_SIZE") or 1)
    if n_proc > 1:
        log.warning("--mode probe is not data-parallel: each of the %d processes trains and evaluates the "
                    "same probe (only the main one writes); run it without accelerate launch", n_proc)
    return encoder if encoder is not None else load_encoder(settings.model, device="auto", **settings.encoder_options())


def make_trainer(encoder, training: ProbeTraining | FinetuneTraining, prepared: Prepared,
                 settings: TransferSettings | None = None):
    """A :class:`ProbeTrainer` or :class:`FinetuneTrainer` of ``training`` on ``encoder``, the aligner
    checked against the encoder and languages; with ``settings`` that self-train or distil, their
    trainer (:func:`xlt.jobs.selftrain.selftrain_trainer`).

    Raises:
        AlignerError: an aligner of another model, layers or languages.
    """
    ds, aligner = prepared.dataset, prepared.aligner
    if settings is not None and settings.learns_from_unlabeled:
        trainer = selftrain_trainer(settings, encoder, ds, training, prepared)
    elif isinstance(training, ProbeTraining):
        trainer = ProbeTrainer(encoder, ds, training, aligner, code_switch=prepared.code_switch,
                               cs_copies=prepared.cs_copies)
    else:
        trainer = FinetuneTrainer(encoder, ds, training, language_adapters=prepared.adapters,
                                  code_switch=prepared.code_switch)
    if aligner is not None:
        aligner.check(encoder.describe(), trainer.base.layer_ids, list(ds.eval) + [ds.source],
                      word_pieces=trainer.base.word_pieces if ds.kind is TOKEN else None)
    return trainer


@dataclass
class Evaluation:
    """Every seed's scores on every evaluation set.

    Attributes:
        per_seed: seed -> language -> score (%).
        counts: language -> sentences, tokens, skipped, truncated inputs.
        predictions: language -> the best seed's predicted labels.
        pooled: with ``seed_ensemble``: language -> score of the seeds' mean probabilities.
    """

    per_seed: dict[int, dict[str, float]]
    counts: dict[str, dict] = field(default_factory=dict)
    predictions: dict[str, list] = field(default_factory=dict)
    pooled: dict[str, float] = field(default_factory=dict)


def evaluate(settings: TransferSettings, ds: TaskDataset, trainer, best_seed: int) -> Evaluation:
    """Score every seed's model on every evaluation set of ``ds`` (an empty set is counted, not
    scored); with ``seed_ensemble`` the mean of the seeds' probabilities too."""
    ev = Evaluation(per_seed={s: {} for s in settings.seeds})
    for lang, split in tqdm(ds.eval.items(), desc="languages", disable=not settings.progress):
        c = split.counts(ds.kind)
        if not split.examples:  # warned about before training (check_evaluation_sets)
            ev.counts[lang] = dict(c, truncated=0)
            continue
        probas, truncated = trainer.evaluate_proba(split)
        preds = trainer.decode(probas)
        gold = ds.kind.gold(split.examples)
        for s, p in preds.items():
            ev.per_seed[s][lang] = score(ds.metric, gold, p)
        if settings.seed_ensemble:
            pooled = trainer.models[best_seed].decode(mean_proba(list(probas.values())))
            ev.pooled[lang] = score(ds.metric, gold, pooled)
        ev.predictions[lang] = preds[best_seed]
        ev.counts[lang] = dict(c, truncated=int(truncated))
        if truncated:
            log.warning("%s: %d of %d inputs are longer than the model takes and were cut (in the report's counts; "
                        "a token task scores words past the cut as its fallback label)", lang, int(truncated),
                        len(split.examples))
    return ev


@dataclass
class Summary:
    """Scores over seeds: per language, and the target average.

    Attributes:
        scores, scores_std: language -> mean and sample std over seeds (%).
        average, average_std: mean and std over seeds of each seed's target average (%).
        targets: the languages averaged (every scored language but the source).
    """

    scores: dict[str, float]
    scores_std: dict[str, float]
    average: float
    average_std: float
    targets: list[str]


def summarize(per_seed: dict[int, dict[str, float]], seeds: list[int], source: str) -> Summary:
    """Mean ± std over ``seeds`` of every language's score and of the target average (``source`` left out)."""
    langs = list(per_seed[seeds[0]])
    scores, scores_std = {}, {}
    for lang in langs:
        scores[lang], scores_std[lang] = mean_std([per_seed[s][lang] for s in seeds])
    targets = [l for l in langs if l != source]
    seed_avgs = [float(np.mean([per_seed[s][l] for l in targets])) for s in seeds] if targets else []
    average, average_std = mean_std(seed_avgs) if seed_avgs else (float("nan"), float("nan"))
    return Summary(scores, scores_std, average, average_std, targets)


def build_report(settings: TransferSettings, *, ds: TaskDataset, trainer, ev: Evaluation, summary: Summary,
                 best_seed: int, saved: dict, cfg: dict, manifest: dict, seconds: dict,
                 command: list[str] | None) -> dict:
    """The report of a run (:func:`xlt.evaluate.report.write_report` renders it): scores per language
    and seed, averages, counts, labels, source-dev scores, the model kept, training histories, timings,
    ``config`` and ``manifest``; the sections of :func:`add_sections` are added after it."""
    described = ds.describe()
    return {
        "command": command if command is not None else [Path(sys.argv[0]).name] + sys.argv[1:],
        "command_line": shlex.join(command if command is not None else sys.argv),
        "task": ds.name,
        "kind": ds.kind.name,
        "model": settings.model,
        "mode": settings.mode,
        "source": ds.source,
        "metric": ds.metric,
        "metric_name": {"accuracy": "accuracy (%)", "f1": "entity F1 (%)"}.get(ds.metric, ds.metric),
        "scores": summary.scores,
        "scores_std": summary.scores_std,
        "per_seed": {str(s): v for s, v in ev.per_seed.items()},
        "average": summary.average,
        "average_std": summary.average_std,
        "n_targets": len(summary.targets),
        "counts": ev.counts,
        "source_counts": {"train": dict(ds.train.counts(ds.kind), truncated=0, note=ds.train.note),
                          "dev": dict(ds.dev.counts(ds.kind), truncated=0, note=ds.dev.note)},
        "labels": list(ds.labels),
        "label_map": dict(ds.label_map),
        "unseen_labels": ds.unseen_labels(),
        "dataset": {k: described[k] for k in ("name", "kind", "metric", "origin")},
        "dev_scores": {str(s): v for s, v in trainer.dev_scores.items()},
        "best_seed": best_seed,
        "saved": saved,
        "training": {str(s): trainer.histories.get(s) for s in settings.seeds},
        "seconds": seconds,
        "config": cfg,
        "manifest": manifest,
    }


def add_sections(report: dict, settings: TransferSettings, *, prepared: Prepared, trainer, ev: Evaluation,
                 summary: Summary, outside: dict[str, float], encoder) -> None:
    """Add what only some runs have to ``report``: unseen labels, the aligner, language adapters, the
    seed ensemble, romanised targets, a trimmed vocabulary, fine-tuning's selection and trained
    parameters; the Markdown sections of these go to ``report["extra_markdown"]`` (one list)."""
    extra: list[str] = []

    def section(text: str) -> None:
        extra.append(text)
        report.setdefault("extra_markdown", extra)

    if report["unseen_labels"]:
        extra.append("## Labels never seen in training\n\nScored as they are (a model cannot predict them); "
                     "map them with `--label-map LABEL=O`.\n\n" + "\n".join(
                         f"- {lang}: " + ", ".join(f"{k} ×{v}" for k, v in sorted(u.items()))
                         for lang, u in report["unseen_labels"].items()))
    aligner = prepared.aligner
    if aligner is not None:
        report["aligner"] = dict(aligner.describe(), file=str(settings.aligner))
        kind = aligner.info.get("supervision", "?")
        extra.append(
            f"## Alignment\n\nFeatures of every language were mapped with `{settings.aligner}`: "
            f"{aligner.method} maps ({kind} supervision) into the {aligner.source} space, layers "
            f"{aligner.layers[0]}..{aligner.layers[-1]}; pairs per language: "
            + ", ".join(f"{l} {n}" for l, n in report["aligner"]["supervision"].items()) + ".")
    if extra:
        report["extra_markdown"] = extra
    if prepared.adapters:
        report["language_adapters"] = {"given": {l: meta for l, (_, meta) in prepared.adapters.items()},
                                       "evaluated_with_the_source_adapter": sorted(trainer.missing_adapters)}
        if trainer.missing_adapters:
            log.warning("no language adapter for %s: evaluated with the source's (%s)",
                        ", ".join(sorted(trainer.missing_adapters)), report["source"])
    if settings.seed_ensemble:
        pooled, seeds = ev.pooled, settings.seeds
        avg = float(np.mean([pooled[l] for l in summary.targets])) if summary.targets else float("nan")
        report["seed_ensemble"] = {"seeds": list(seeds), "scores": pooled, "average": avg}
        section(f"## Ensemble of the {len(seeds)} seeds\n\nMean of the seeds' label probabilities "
                f"(seeds {', '.join(map(str, seeds))}); average over the targets "
                f"**{avg:.2f}** against {summary.average:.2f} for one seed on average.\n\n"
                "| language | ensemble | mean of the seeds |\n|:---|---:|---:|\n"
                + "\n".join(f"| {l} | {pooled[l]:.2f} | {summary.scores[l]:.2f} |" for l in pooled))
    if prepared.romanized:
        report["romanized"] = prepared.romanized
        section("## Romanised targets\n\nEvaluated on their uroman romanisation: " + ", ".join(
            f"{l} ({n} examples)" for l, n in prepared.romanized.items()) + ".")
    if prepared.code_switch is not None:
        add_code_switch_section(report, settings, prepared, trainer, section)
    if prepared.unlabeled:
        add_self_train_section(report, settings, prepared.unlabeled, trainer, section)
    if outside:
        report["outside_trimmed_vocabulary"] = {"trimmed_for": encoder.info["trimmed_for"], "unknown_percent": outside}
    if settings.mode == "finetune":
        report["selection"] = {str(s): v for s, v in trainer.selected.items()}
        params = next(iter(trainer.parameters.values()), None)
        if params:
            method = settings.peft or "full fine-tuning"
            report["parameters"] = dict(params, method=method)
            section(f"## Trained parameters\n\n{method}: {params['trainable']:,} of {params['total']:,} "
                    f"({params['share']:.2f}%).")


def add_code_switch_section(report: dict, settings: TransferSettings, prepared: Prepared, trainer, section) -> None:
    """``report["code_switch"]`` (the ratio, every dictionary's file, size and source-word coverage,
    and per seed the words replaced in every epoch, or probe copy) and its Markdown section."""
    cs = prepared.code_switch
    counts = {str(s): v for s, v in trainer.code_switch_counts.items()}
    dictionaries = [{"lang": d.lang, "path": str(d.path), "entries": d.size, "source_words": d.stats["n_words"],
                     "in_training_data": prepared.code_switch_coverage.get(d.lang, 0), "stats": d.stats}
                    for d in cs.dictionaries]
    mode = "probe" if settings.mode == "probe" else "finetune"
    report["code_switch"] = {"method": "CoSDA-ML (Qin et al. 2020)", "ratio": cs.ratio, "mode": mode,
                             "copies": prepared.cs_copies if mode == "probe" else None,
                             "dictionaries": dictionaries, "per_seed": counts}
    report["manifest"]["code_switch"] = {
        "ratio": cs.ratio, "dictionary_sizes": {d["lang"]: d["entries"] for d in dictionaries},
        "replaced": {s: [r["replaced"] for r in recs] for s, recs in counts.items()}}
    unit = "copy" if mode == "probe" else "epoch"
    rows = [f"| {s} | {r[unit]} | {r['words']:,} | {r['in_dictionary']:,} | {r['replaced']:,} | "
            f"{r['examples_switched']:,} |" for s, recs in counts.items() for r in recs]
    how = (f"{prepared.cs_copies} switched cop{'y' if prepared.cs_copies == 1 else 'ies'} of the training set, "
           "drawn once (probe features are extracted once)") if mode == "probe" else "re-drawn every epoch"
    section(f"## Code-switched training (CoSDA-ML)\n\nSource words replaced by dictionary translations with "
            f"probability {cs.ratio:g} ({how}); {len(dictionaries)} dictionaries: "
            + ", ".join(f"{d['lang']} {d['entries']:,} entries ({d['in_training_data']:,} of its words in the "
                        f"training data)" for d in dictionaries)
            + f".\n\n| seed | {unit} | words | in a dictionary | replaced | examples switched |\n"
              "|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows))


def publish(settings: TransferSettings, report: dict, ds: TaskDataset, predictions: dict[str, list],
            models: dict[int, TaskModel], best_seed: int) -> None:
    """Write the report (and predictions) to ``out`` and the model(s) to ``save``, together: an interrupt
    leaves both old or both new, never a report naming a model it does not describe. Only the main
    process writes; with fine-tuning every process waits until the files are there."""
    s = settings
    if (s.out or s.save) and is_main_process():
        finals = [p for p in (s.out, s.save) if p]
        keeps = [("checkpoints",) if p == s.out else () for p in finals]
        with staged_folders(finals, keep=keeps) as folders:
            if s.out:
                write_report(folders[0], report)
                if s.predictions:
                    _write_predictions(folders[0] / "predictions", ds, predictions)
            if s.save:
                _save_models(s, models, best_seed, folder=folders[-1])
    if s.mode == "finetune" and (s.out or s.save):
        distributed_state().wait_for_everyone()  # the report and models are on disk when any process returns


def run(settings: TransferSettings, command: list[str] | None = None, dataset: TaskDataset | None = None,
        encoder=None) -> TransferResult:
    """Run one zero-shot transfer experiment and (if ``settings.out``) write its report.

    Args:
        settings: the run's settings.
        command: the command line, recorded in the report (default: ``sys.argv``).
        dataset: a data set to use instead of the settings' data (the Python API).
        encoder: an already loaded :class:`~xlt.models.loading.Encoder` of ``settings.model`` (runs
            that share one, such as a transfer matrix); None = load it. It is not changed
            (fine-tuning copies its weights).

    Returns:
        :class:`TransferResult`: the figures, the report dict (see
        :func:`xlt.evaluate.report.write_report` for its fields) and the models of every seed.

    Raises:
        ValueError: unknown task; UnknownLanguageError: a language not in the data;
        DatasetNotFoundError: the data folder lacks the task's data; DataFormatError: a
            malformed line (the message names file and line); FileExistsError: ``save`` exists;
            plus :func:`prepare`'s errors, all before the model loads.
    """
    t0 = time.time()
    prepared = prepare(settings, dataset)
    ds = prepared.dataset
    training = training_for(settings, ds.kind.name)
    cfg = report_config(settings, training)
    # hash the data files now, as they were read (and so a vanished file fails before training)
    data_files = ds.files() + ([Path(settings.aligner)] if prepared.aligner is not None else [])
    if prepared.code_switch is not None:  # the dictionaries are hashed with the data
        data_files += [d.path for d in prepared.code_switch.dictionaries]
    data_files += [p for u in prepared.unlabeled.values() for p in u.paths]  # self-training's text
    manifest = build_manifest(cfg, data_files, {"spec": settings.model}, settings.seeds)
    torch.manual_seed(settings.seeds[0])
    np.random.seed(settings.seeds[0])
    _warn_unseen_labels(ds)
    encoder = encoder_for(settings, training, encoder)
    outside = _warn_outside_trimmed(encoder, ds)
    trainer = make_trainer(encoder, training, prepared, settings)
    trainer.train(settings.seeds)
    t_train = time.time() - t0
    seeds = settings.seeds
    best_seed = max(seeds, key=lambda s: (trainer.dev_scores.get(s, float("-inf")), -seeds.index(s)))
    # what will be saved; the models are written with the report, at the end, so that the two appear together
    saved = _save_models(settings, trainer.models, best_seed, write=False) if settings.save else {}
    ev = evaluate(settings, ds, trainer, best_seed)
    summary = summarize(ev.per_seed, seeds, ds.source)
    manifest["model"] = to_jsonable(encoder.describe())
    report = build_report(settings, ds=ds, trainer=trainer, ev=ev, summary=summary, best_seed=best_seed, saved=saved,
                          cfg=cfg, manifest=manifest, command=command,
                          seconds={"train": round(t_train, 1), "total": round(time.time() - t0, 1)})
    add_sections(report, settings, prepared=prepared, trainer=trainer, ev=ev, summary=summary, outside=outside,
                 encoder=encoder)
    publish(settings, report, ds, ev.predictions, trainer.models, best_seed)
    return TransferResult(report=report, models=dict(trainer.models), best_seed=best_seed, dataset=ds,
                          scores=summary.scores, scores_std=summary.scores_std, average=summary.average,
                          average_std=summary.average_std, dev_scores=dict(trainer.dev_scores), out=settings.out)


def transfer_result(settings: TransferSettings, command: list[str] | None = None,
                    dataset: TaskDataset | None = None, encoder=None) -> TransferResult:
    """:func:`run` (its former name)."""
    return run(settings, command, dataset, encoder)


def run_transfer(settings: TransferSettings, command: list[str] | None = None,
                 dataset: TaskDataset | None = None) -> dict:
    """:func:`run`, returning the report dict only (the models are in :func:`run`'s
    :class:`TransferResult`)."""
    return run(settings, command, dataset).report


def _save_models(settings: TransferSettings, models: dict[int, TaskModel], best_seed: int, write: bool = True,
                 folder: Path | None = None) -> dict:
    """Save the model(s) of ``settings.save`` into ``folder`` (the folder being built for it), or with
    ``write=False`` only say what will be saved there."""
    best = settings.save_which == "best"
    seeds = [best_seed] if best else list(models)
    if write:
        for s in seeds:
            models[s].save_pretrained(folder if best else folder / f"seed-{s}", overwrite=True)
    info = {"path": str(settings.save), "seeds": seeds, "which": settings.save_which}
    return info if best else dict(info, best_seed=best_seed)


def zero_shot_transfer(dataset: TaskDataset, *, out: str | None = None, **settings) -> TransferResult:
    """Train on ``dataset``'s source language and evaluate on every evaluation language (Python API).

    Example::

        import xlt
        ds = xlt.read_dataset("train.conll", eval=["de=test-de.conll", "sw=test-sw.conll"])
        result = xlt.zero_shot_transfer(ds, mode="probe", epochs=5)
        print(result.scores)                    # {"en": ..., "de": ..., "sw": ...}
        result.model.save_pretrained("my-ner")  # or xlt.TaskModel.from_pretrained("my-ner")
        result.model.predict(["Amina alienda Nairobi jana ."], lang="sw")

    Args:
        dataset: a :class:`~xlt.data.dataset.TaskDataset` (:func:`xlt.load_task`,
            :func:`xlt.read_dataset`, :func:`xlt.from_examples`).
        out: report folder (``None``: no files).
        settings: any other :class:`~xlt.jobs.parts.TransferSettings` field (``model``, ``mode``,
            ``layer``, ``epochs``, ``seeds``, ``save``, ...).

    Returns:
        :class:`TransferResult` (the figures, the report, the model of every seed, the best seed).

    Raises:
        TypeError: an unknown setting; ConfigError: a bad value; plus the errors of :func:`run`.
    """
    config = TransferSettings(task=None, out=out, **settings)
    return run(config, command=["python", "xlt.zero_shot_transfer"], dataset=dataset)


def _warn_outside_trimmed(encoder, ds: TaskDataset) -> dict[str, float]:
    """Warn about every language of the run that a trimmed model's vocabulary was not kept for
    (:func:`xlt.adapt.vocab.outside_trimmed`); returns language -> percent of ``<unk>`` tokens."""
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
    """A copy of ``ds`` whose non-Latin-script targets are romanised (``TransferSettings.romanize``),
    and ``{lang: examples romanised}``; ``ds`` itself is not changed.

    Raises:
        TransliterationError: uroman is not installed.
    """
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


def check_evaluation_sets(ds: TaskDataset) -> None:
    """Refuse a data set none of whose evaluation sets holds an example, before training; warn about
    each empty one (it is skipped and counted in the report).

    Raises:
        DatasetError: every evaluation set is empty (or all its sentences were skipped); the message
            names the files.
    """
    empty = {lang: split for lang, split in ds.eval.items() if not split.examples}
    if ds.eval and len(empty) == len(ds.eval):
        raise DatasetError("no evaluation set holds an example: " + "; ".join(
            f"{lang} {split.path} ({split.n_skipped_empty} empty sentences skipped)" for lang, split in empty.items())
            + "; nothing could be scored, so nothing was trained")
    for lang, split in empty.items():
        log.warning("%s: no examples in %s (%d empty sentences skipped); it is left out of the scores", lang, split.path,
                    split.n_skipped_empty)


def check_encoder_spec(model: str) -> None:
    """Refuse a saved xlt task model where an encoder is expected (``--model`` of ``transfer``),
    before it loads: a probe folder holds a head, not an encoder. A fine-tuned task model is a
    complete encoder with a task head; it is taken as an encoder (its head is left out) with a
    warning.

    Raises:
        ConfigError: ``model`` is a folder holding a saved probe.
    """
    meta_file = Path(model) / MODEL_FILE
    if not meta_file.is_file():
        return
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



__all__ = ["Evaluation", "Prepared", "SAVE_WHICH", "Summary", "TransferConfig", "TransferResult", "TransferSettings",
           "add_code_switch_section", "add_sections", "build_report", "check_encoder_spec", "check_evaluation_sets", "check_outputs",
           "checkpoint_dir_of", "code_switcher_for", "encoder_for", "evaluate", "is_main_process", "load_dataset_for", "make_trainer",
           "output_plan", "prepare", "publish", "read_language_adapters", "read_options", "report_config",
           "romanize_targets", "run", "run_transfer", "source_configs", "summarize", "training_for",
           "transfer_result", "user_sources", "zero_shot_transfer"]
