"""Settings part of ``xlt transfer``: learning from unlabelled target-language text.

:class:`SelfTrainSettings` holds the options of self-training (Xie et al. 2020, noisy student;
Wu et al. 2020, teacher-student learning for cross-lingual NER) and of ensemble distillation
(Hinton et al. 2015); the methods are :mod:`xlt.transfer.selftrain`, the text
:mod:`xlt.data.unlabeled`. Every value is checked at construction, before any file is read or
model loaded. No torch here (the command line builds its options from this class).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from xlt.data.dataset import parse_eval_args
from xlt.data.unlabeled import BUILTIN
from xlt.jobs import ConfigError
from xlt.jobs.settings import AT_LEAST_1, Interval, Settings, option

__all__ = ["DEFAULT_PSEUDO_THRESHOLD", "SelfTrainSettings", "UnlabeledSpec"]

#: ``--pseudo-threshold`` when not given (hard labels; soft labels keep every example unless given).
DEFAULT_PSEUDO_THRESHOLD = 0.9


@dataclass(frozen=True)
class UnlabeledSpec:
    """One ``--unlabeled`` value: ``builtin``, or ``LANG=FILE|DIR``.

    Attributes:
        lang: the language (None for ``builtin``). path: the file or folder (None for ``builtin``).
        text: the value as given.
    """

    lang: str | None
    path: Path | None
    text: str

    @property
    def builtin(self) -> bool:
        """The task's own unlabelled text (:func:`xlt.data.unlabeled.builtin_unlabeled`)."""
        return self.path is None

    @classmethod
    def parse(cls, value: Any) -> UnlabeledSpec:
        """``"builtin"`` or ``"LANG=FILE"`` as a spec.

        Raises:
            ConfigError: a value without ``LANG=`` (the language of unlabelled text must be given).
            UnknownLanguageError: an unknown ``LANG``.
        """
        if isinstance(value, UnlabeledSpec):
            return value
        text = str(value).strip()
        if text.lower() == BUILTIN:
            return cls(None, None, text)
        ((lang, path),) = parse_eval_args([text])
        if lang is None:
            raise ConfigError(f"--unlabeled {text}: give the text's language, --unlabeled LANG=FILE (or builtin: "
                              "a built-in task's own training text, labels removed)")
        return cls(lang, Path(path), text)

    def __str__(self) -> str:
        return self.text


@dataclass(kw_only=True)
class SelfTrainSettings(Settings):
    """Self-training and distillation on unlabelled target-language text.

    Attributes:
        unlabeled: ``LANG=FILE|DIR`` (raw text one sentence a line, or any supported data file with
            its labels ignored), or ``builtin`` (a built-in task's in-language training files with
            the labels removed, SIB-200: NTREX sentences; evaluation sentences left out).
        unlabeled_limit: the first N sentences of each language's unlabelled text.
        transductive: ``builtin`` takes the evaluation sentences themselves (labels removed); the
            report says the run was transductive.
        self_train: rounds of self-training (None: off).
        distill_from: saved task models whose mean probabilities one student learns.
        pseudo_threshold: keep a pseudo-labelled example whose confidence is at least this (None:
            :data:`DEFAULT_PSEUDO_THRESHOLD` for hard labels, 0 for soft ones).
        pseudo_labels: ``hard`` (decoded labels) or ``soft`` (the teacher's probabilities).
        pseudo_per_language: at most N pseudo-labelled examples per language.
        pseudo_teacher: ``each`` seed teaches its own student, or the seeds' ``ensemble``.
        student_noise: probe students: feature dropout probability in training (noisy student,
            Xie et al. 2020), in [0, 1).
    """

    unlabeled: list[str] = option(default_factory=list, metavar="LANG=FILE|DIR|builtin", nargs="+",
                                  help="unlabelled target-language text for --self-train / --distill-from: raw text "
                                       "(one sentence a line; .txt or no extension) or any data file (labels "
                                       "ignored), or 'builtin': the task's in-language training files with the "
                                       "labels removed (PAN-X, UD-POS train-XX; SIB-200: NTREX), evaluation "
                                       "sentences left out")
    unlabeled_limit: int | None = option(None, check=AT_LEAST_1, metavar="N",
                                         help="the first N sentences of each language's unlabelled text")
    transductive: bool = option(False, help="--unlabeled builtin takes the evaluation sentences themselves (labels "
                                            "removed): a transductive run, and the report says so")
    self_train: int | None = option(None, check=AT_LEAST_1, metavar="ROUNDS",
                                    help="self-training: the zero-shot model labels the --unlabeled text, a student "
                                         "trains on source gold + pseudo-labels, ROUNDS times (probe or fine-tune mode)")
    distill_from: list[Path] = option(default_factory=list, metavar="DIR", nargs="+",
                                      help="distil saved task models (seeds, other sources, probes or fine-tuned) "
                                           "into one student (probe or fine-tuned, --mode) on the --unlabeled text "
                                           "and the source training text (mean of their probabilities)")
    pseudo_threshold: float | None = option(None, check=Interval(0, 1), metavar="P",
                                            help=f"keep pseudo-labelled examples whose confidence (token tasks: the "
                                                 f"least sure word) is at least P, 0 to 1 (default "
                                                 f"{DEFAULT_PSEUDO_THRESHOLD} for hard labels, 0 for soft)")
    pseudo_labels: Literal["hard", "soft"] = option("hard", help="hard: the teacher's decoded labels (BIO: the best "
                                                                 "well-formed sequence); soft: its probabilities")
    pseudo_per_language: int | None = option(None, check=AT_LEAST_1, metavar="N",
                                             help="at most N pseudo-labelled examples per language (drawn at random)")
    pseudo_teacher: Literal["each", "ensemble"] = option("each", help="--self-train with several seeds: each seed's "
                                                                      "model teaches its student, or their ensemble")
    student_noise: float = option(0.0, check=Interval(0, 1, closed="left"), metavar="P",
                                  help="probe students: dropout on the frozen features with probability P while "
                                       "they train (noisy student); fine-tuned students have the encoder's dropout")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.unlabeled = [UnlabeledSpec.parse(v) for v in self.unlabeled]
        on = self.self_train is not None or bool(self.distill_from)
        if self.self_train is not None and self.distill_from:
            raise ConfigError("--self-train and --distill-from are two methods: give one")
        if self.student_noise and getattr(self, "mode", "probe") != "probe":
            raise ConfigError("--student-noise is feature dropout for probe students; fine-tuned students train "
                              "with the encoder's own dropout: leave it out with --mode finetune")
        if on and not self.unlabeled:
            raise ConfigError(f"{'--self-train' if self.self_train is not None else '--distill-from'} learns from "
                              "unlabelled target text: add --unlabeled LANG=FILE (or builtin with --task)")
        if not on:
            given = [n for n in ("pseudo_threshold", "pseudo_per_language", "unlabeled_limit")
                     if getattr(self, n) is not None] + (["unlabeled"] if self.unlabeled else []) \
                + (["transductive"] if self.transductive else []) \
                + (["pseudo_labels"] if self.pseudo_labels != "hard" else []) \
                + (["pseudo_teacher"] if self.pseudo_teacher != "each" else []) \
                + (["student_noise"] if self.student_noise else [])
            if given:
                raise ConfigError(f"--{given[0].replace('_', '-')} is a setting of self-training: add --self-train "
                                  "ROUNDS (or --distill-from DIR)")
        if self.transductive and not any(u.builtin for u in self.unlabeled):
            raise ConfigError("--transductive says --unlabeled builtin takes the evaluation sentences: add "
                              "--unlabeled builtin")

    @property
    def learns_from_unlabeled(self) -> bool:
        """Self-training or distillation is on."""
        return self.self_train is not None or bool(self.distill_from)

    @property
    def threshold(self) -> float:
        """``pseudo_threshold``, or its default for the label kind."""
        if self.pseudo_threshold is not None:
            return self.pseudo_threshold
        return DEFAULT_PSEUDO_THRESHOLD if self.pseudo_labels == "hard" else 0.0

    def self_train_echo(self) -> dict[str, Any]:
        """The settings as reports record them (empty when off, so other reports are unchanged)."""
        if not self.learns_from_unlabeled:
            return {}
        return {"unlabeled": [str(u) for u in self.unlabeled], "unlabeled_limit": self.unlabeled_limit,
                "transductive": self.transductive, "self_train": self.self_train,
                "distill_from": [str(p) for p in self.distill_from], "pseudo_threshold": self.threshold,
                "pseudo_labels": self.pseudo_labels, "pseudo_per_language": self.pseudo_per_language,
                "pseudo_teacher": self.pseudo_teacher, "student_noise": self.student_noise}
