"""``xlt transfer --self-train`` / ``--distill-from``: the job's steps around :mod:`xlt.transfer.selftrain`.

:func:`read_unlabeled_for` reads the settings' unlabelled text (before any model loads, so a bad
file fails at once); :func:`teachers_for` loads the saved teacher models of ``--distill-from``;
:func:`selftrain_trainer` builds the trainer; :func:`add_self_train_section` writes what the
report says about it (the text used per language, what passed the threshold, the source-dev
scores of teacher and student, and that selection used the source dev set only).
"""

from __future__ import annotations

import logging

from xlt.data.dataset import TaskDataset
from xlt.data.langs import denote_same as same
from xlt.data.unlabeled import UnlabeledError, UnlabeledText, builtin_unlabeled, read_unlabeled
from xlt.jobs import ConfigError
from xlt.jobs.parts import TransferSettings
from xlt.transfer.model import TaskModel, read_meta
from xlt.transfer.selftrain import (DistillationFinetuneTrainer, DistillationProbeTrainer, SelfTraining,
                                    SelfTrainingFinetuneTrainer, SelfTrainingProbeTrainer)
from xlt.transfer.training import FinetuneTraining, ProbeTraining

log = logging.getLogger(__name__)

__all__ = ["add_self_train_section", "check_teachers", "read_unlabeled_for", "selftrain_config", "selftrain_trainer",
           "teachers_for"]


def read_unlabeled_for(settings: TransferSettings, ds: TaskDataset) -> dict[str, UnlabeledText]:
    """The run's unlabelled text: every ``--unlabeled LANG=FILE|DIR`` read, and with ``builtin`` the
    task's own text for every evaluation language (evaluation sentences left out unless
    ``transductive``); a language given twice keeps the user's file. Empty without the methods.

    Raises:
        ConfigError: ``builtin`` without ``--task``.
        UnlabeledError: no text at all; DataFormatError: a bad line (file and line named);
        FileNotFoundError: a missing file.
    """
    s = settings
    if not s.learns_from_unlabeled:
        return {}
    out: dict[str, UnlabeledText] = {}
    for spec in s.unlabeled:
        if spec.builtin:
            continue
        text = read_unlabeled(spec.path, spec.lang, ds.kind, limit=s.unlabeled_limit, format=s.format,
                              options=s.read_options())
        out[spec.lang] = text
    if any(spec.builtin for spec in s.unlabeled):
        if not s.task:
            raise ConfigError("--unlabeled builtin is a built-in task's own text: add --task, or give LANG=FILE")
        langs = [l for l in ds.eval if not same(l, ds.source) and not any(same(l, k) for k in out)]
        found = builtin_unlabeled(s.task, langs, {l: ds.eval[l].examples for l in langs}, data_dir=s.data_dir,
                                  limit=s.unlabeled_limit, transductive=s.transductive)
        for lang in langs:
            if lang not in found:
                log.warning("--unlabeled builtin: no unlabelled %s text in the data folder; %s gets no pseudo-labels",
                            lang, lang)
        out.update(found)
    if not out:
        raise UnlabeledError("--unlabeled gave no text in any language")
    return out


def check_teachers(settings: TransferSettings) -> None:
    """Refuse a ``--distill-from`` folder that is no saved task model, before any model loads.

    Raises:
        TaskModelError: no readable ``xlt_task.json`` (:func:`xlt.transfer.model.read_meta`).
    """
    for folder in settings.distill_from:
        read_meta(folder)


def teachers_for(settings: TransferSettings) -> list[TaskModel]:
    """The task models of ``--distill-from``, loaded.

    Raises:
        TaskModelError: a folder that is no saved task model, or whose weights are damaged.
    """
    return [TaskModel.from_pretrained(folder) for folder in settings.distill_from]


def selftrain_config(settings: TransferSettings) -> SelfTraining:
    """The :class:`~xlt.transfer.selftrain.SelfTraining` of the settings."""
    return SelfTraining(rounds=settings.self_train or 1, threshold=settings.threshold, labels=settings.pseudo_labels,
                        per_language=settings.pseudo_per_language, teacher=settings.pseudo_teacher,
                        decoding=settings.decoding, noise=settings.student_noise)


def selftrain_trainer(settings: TransferSettings, encoder, ds: TaskDataset, training: ProbeTraining | FinetuneTraining,
                      prepared):
    """The self-training or distillation trainer of the settings (``prepared``: the run's
    :class:`~xlt.jobs.transfer.Prepared`, with its unlabelled text); fine-tuning settings give
    fine-tuned students (:class:`~xlt.transfer.selftrain.SelfTrainingFinetuneTrainer`,
    :class:`~xlt.transfer.selftrain.DistillationFinetuneTrainer`)."""
    config = selftrain_config(settings)
    if isinstance(training, FinetuneTraining) and settings.distill_from:
        return DistillationFinetuneTrainer(encoder, ds, training, teachers_for(settings), prepared.unlabeled, config,
                                           language_adapters=prepared.adapters, code_switch=prepared.code_switch)
    if isinstance(training, FinetuneTraining):
        return SelfTrainingFinetuneTrainer(encoder, ds, training, prepared.unlabeled, config,
                                           language_adapters=prepared.adapters, code_switch=prepared.code_switch)
    if settings.distill_from:
        return DistillationProbeTrainer(encoder, ds, training, teachers_for(settings), prepared.unlabeled,
                                        config, prepared.aligner)
    return SelfTrainingProbeTrainer(encoder, ds, training, prepared.unlabeled, config, prepared.aligner,
                                    code_switch=prepared.code_switch, cs_copies=prepared.cs_copies)


def add_self_train_section(report: dict, settings: TransferSettings, unlabeled: dict[str, UnlabeledText], trainer,
                           section) -> None:
    """``report["self_training"]`` and its Markdown section (``section(text)`` adds one)."""
    method = ("ensemble distillation (Hinton et al. 2015)" if settings.distill_from else
              "self-training (teacher-student, Wu et al. 2020; noisy student, Xie et al. 2020)")
    transductive = any(u.transductive for u in unlabeled.values())
    report["self_training"] = {
        "method": method, "config": settings.self_train_echo(), "transductive": transductive,
        "selection": "source dev set only (zero-shot protocol)",
        "unlabeled": {l: u.describe() for l, u in unlabeled.items()},
        "teacher_dev": {str(s): v for s, v in trainer.teacher_dev_scores.items()},
        "rounds": trainer.rounds, "round_costs": trainer.round_costs}
    rows = []
    for rec in trainer.rounds:
        for lang, c in rec["languages"].items():
            rows.append(f"| {rec['round']} | {rec['seed']} | {lang} | {c['unlabeled']:,} | {c['confident']:,} | "
                        f"{c['used']:,} | {c['mean_confidence']:.3f} |")
    devs = "; ".join(f"round {r['round']} seed {r['seed']}: teacher {r['teacher_dev']:.2f} -> student "
                     f"{r['student_dev']:.2f}" for r in trainer.rounds)
    setting = ("**transductive**: the unlabelled text is the evaluation sentences (labels removed)" if transductive
               else "inductive: no evaluation sentence is in the unlabelled text")
    section(f"## Learning from unlabelled target text\n\n{method[0].upper() + method[1:]}; {setting}; "
            f"labels {settings.pseudo_labels}, threshold {settings.threshold:g}, at most "
            f"{settings.pseudo_per_language or 'all'} per language. Model selection used the source dev set only "
            f"(zero-shot protocol). Source dev: {devs}.\n\n"
            + "Cost per round (teacher labelling and students): " + "; ".join(
                f"round {c['round']}: {c['seconds']:,.1f} s, peak memory {c['peak_memory_mib']:,.0f} MiB"
                for c in trainer.round_costs) + ".\n\n"
            + "\n".join(f"- {l}: {len(u.examples):,} sentences from {u.origin}"
                        + (f" ({u.n_excluded:,} evaluation sentences left out)" if u.n_excluded else "")
                        for l, u in unlabeled.items())
            + "\n\n| round | seed | language | unlabelled | confident | used | mean confidence |\n"
              "|---:|---:|:---|---:|---:|---:|---:|\n" + "\n".join(rows))
