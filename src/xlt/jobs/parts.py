"""Settings parts of the training commands (``xlt transfer``, ``xlt project --silver``) and the
whole settings of ``xlt transfer``.

Parts (combined by inheritance with :class:`xlt.jobs.settings.RunSettings`):

* :class:`DataSettings`: a built-in task and/or the user's files, the source and target
  languages, limits and how to read the files;
* :class:`TrainingSettings`: epochs, batch size, learning rate (None: the mode's default for the
  task kind, resolved once by :func:`probe_training` / :func:`finetune_training`) and seeds;
* :class:`ProbeSettings` (with :class:`TrainingSettings`): the probe's features and head;
* :class:`FinetuneSettings`: fine-tuning, PEFT and checkpoints;
* :class:`ProjectionSettings`: which label-projected sentences are kept (``xlt project``);
* :class:`CodeSwitchSettings`: code-switched training data (CoSDA-ML, Qin et al. 2020).

:class:`TransferSettings` composes them all. File options are parsed once, at construction,
into :class:`DataFile` values (``LANG=FILE`` or ``FILE``); languages into lists. The defaults of
the training settings are those of :mod:`xlt.transfer.training_settings` (declared once, there).

No torch here: the command line builds its options from these classes when ``xlt`` starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from xlt.data.dataset import DatasetError, parse_eval_args
from xlt.data.formats import FORMATS, FileLanguageError, ReadOptions, language_from_filename
from xlt.data.langs import denote_same as same
from xlt.data.tasks import TASKS
from xlt.jobs import ConfigError
from xlt.jobs.parts_selftrain import SelfTrainSettings
from xlt.jobs.settings import AT_LEAST_0, AT_LEAST_1, FRACTION, POSITIVE, Interval, RunSettings, Settings, option
from xlt.models.words import DEFAULT_WORD_PIECES, WORD_PIECES
from xlt.transfer.decoding import DECODINGS, DEFAULT_DECODING
from xlt.transfer.training_settings import FinetuneTraining, ProbeTraining

__all__ = ["CodeSwitchSettings", "DataFile", "DataSettings", "FinetuneSettings", "ProbeSettings", "ProjectionSettings", "SourceFiles",
           "TrainingSettings", "TransferSettings", "finetune_training", "parse_seeds", "probe_training"]

TASK_NAMES = tuple(sorted(TASKS))
WORD_PIECE_NAMES = tuple(WORD_PIECES)


# --------------------------------------------------------------------------- typed values


@dataclass(frozen=True)
class DataFile:
    """One value of a file option (``--train``, ``--dev``, ``--eval``): ``LANG=FILE`` or ``FILE``.

    Attributes:
        path: the file, folder or ``hf:`` spec.
        lang: the language code (a language name given is turned into its code,
            :func:`xlt.data.dataset.parse_eval_args`); None: read from the file name later.
        text: the value as given (echoed in reports, and handed to the data layer's readers).
    """

    path: Path
    lang: str | None = None
    text: str = ""

    @classmethod
    def parse(cls, value: Any) -> DataFile:
        """``value`` (``"de=test.conll"``, ``"test-de.conll"``, a path, a :class:`DataFile`) as a
        :class:`DataFile`. A part before ``=`` holding a path separator, or a value naming an
        existing path, is a path.

        Raises:
            UnknownLanguageError: a ``LANG`` that is no known code or language name.
        """
        if isinstance(value, DataFile):
            return value
        text = str(value)
        ((lang, path),) = parse_eval_args([text])
        return cls(path=path, lang=lang, text=text)

    def __str__(self) -> str:
        return self.text or str(self.path)


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


def parse_seeds(value: Any) -> list[int]:
    """``--seeds`` as a list: a count (``3`` or ``"3"`` = seeds 0, 1, 2) or a list (``"0,5,7"``,
    ``[0, 5, 7]``).

    Raises:
        ConfigError: not a count >= 1 nor a list of whole numbers >= 0, or an empty list.
    """
    def bad() -> ConfigError:
        shown = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        return ConfigError(f"--seeds {shown}: expected a count (3 = seeds 0,1,2) or a list of seeds >= 0 (0,5,7)")

    if isinstance(value, bool):
        raise bad()
    if isinstance(value, str) and "," not in value:
        try:
            value = int(value.strip())
        except ValueError:
            raise bad() from None
    if isinstance(value, int):
        if value < 1:
            raise ConfigError(f"--seeds {value}: expected a count >= 1 (3 = seeds 0,1,2) or a list of seeds (0,5,7)")
        return list(range(value))
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise bad()
    seeds = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        try:
            seed = int(item.strip()) if isinstance(item, str) else item
        except ValueError:
            raise bad() from None
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise bad()
        seeds.append(seed)
    if not seeds:
        raise ConfigError("--seeds needs at least one seed")
    return seeds


def _layer_check(value: str) -> str | None:
    if value in ("mix", "last"):
        return None
    try:
        int(value)
    except ValueError:
        return "mix, last or a layer number"
    return None


def _format_check(value: str) -> str | None:
    return None if value in FORMATS else "one of " + ", ".join(sorted(FORMATS))


def _as_list(value: Any) -> Any:
    """A single file option value (a config file's ``train: x.conll``) as a one-element list, so that
    the comma-splitting of list settings never cuts a file name; None (as reports echo no file) as none."""
    if value is None:
        return []
    return [value] if isinstance(value, (str, Path, DataFile)) else value


# --------------------------------------------------------------------------- parts


@dataclass(kw_only=True)
class DataSettings(Settings):
    """Data: a built-in task, your own files, or both (then each file is checked against the task).

    Attributes:
        task: a built-in task (``udpos``, ``panx``, ``sib200``); None: the user's files alone.
        source: source language(s), any code form (``en``, ``eng``, ``eng_Latn``); several: a
            multi-source union, or one run each with ``matrix``.
        targets: a built-in task's targets: ``["all"]`` or codes; None: all, or with ``eval`` files
            none of the task's (the source's set and the user's files are scored).
        train, dev: the user's source training / dev files; with several source languages
            ``LANG=FILE`` (or files named by language), one per language; with ``task``: added to
            (``train``) or replacing (``dev``, one file) the task's source data.
        eval: evaluation sets (``LANG=FILE``, files named by language, folders); with ``task``,
            scored with the task's model besides the source.
        format, text_column, label_column, tag_column: how to read the user's files.
        dev_fraction: share of ``train`` held out as dev when no ``dev`` is given.
        label_map: ``FROM=TO`` label renamings for every split.
        labels: the user's label inventory in a fixed order (not with ``task``).
        metric: ``accuracy`` or ``f1`` (default: span F1 for BIO tags, else accuracy).
        sampling_temperature: multi-source: languages drawn with probability ~ size^(1/T).
        train_limit, eval_limit: the first N sentences of training / each dev and evaluation set.
    """

    task: Literal[TASK_NAMES] | None = option(None, help="a built-in task")
    source: list[str] = option(default_factory=lambda: ["en"],
                               help="source language (en, eng, eng_Latn all work); built-in tasks: a comma-separated "
                                    "list (en,de,ru) trains on their union (multi-source), or with --matrix once per "
                                    "source (your files: --train LANG=FILE per source)")
    targets: list[str] | None = option(None, help="'all' (default) or a comma-separated list of languages; with --eval "
                                                  "files the default is none of the task's (the source and your files "
                                                  "are scored), and a language both here and in --eval is an error")
    train: list[DataFile] = option(default_factory=list, metavar="FILE|LANG=FILE",
                                   help="source-language training file (or datasets folder, hf:NAME spec); for several "
                                        "source languages (multi-source, --matrix) repeat it as LANG=FILE (or files "
                                        "named by language); with --task: added to the task's source training data "
                                        "(repeatable; one --source)")
    dev: list[DataFile] = option(default_factory=list, metavar="FILE|LANG=FILE",
                                 help="source-language dev file for model selection (default: --dev-fraction of --train "
                                      "held out); with several --train languages LANG=FILE, repeated; with --task: one "
                                      "file, which replaces the task's dev set")
    eval: list[DataFile] = option(default_factory=list, metavar="LANG=FILE|FILE|DIR",
                                  help="an evaluation set; repeat it. Without LANG= the language is read from the file "
                                       "name (test-de.conll, sw.csv); a folder gives every data file in it. With "
                                       "--task: scored with the task's model besides the source (a source-language "
                                       "file replaces the task's in-language set)")
    format: str | None = option(None, check=_format_check,
                                help="format of every file of yours (default: from the extension)")
    text_column: list[str] | None = option(None, help="table column(s) with the text: 'text', or 'premise,hypothesis' "
                                                      "for pairs")
    label_column: str | None = option(None, help="table column with the label")
    tag_column: int | None = option(None, help="CoNLL columns: 0-based column of the tag (-1 = last, default)")
    dev_fraction: float = option(0.1, check=FRACTION, help="share of --train held out as dev when no --dev")
    label_map: list[str] = option(default_factory=list, metavar="FROM=TO",
                                  help="rename a label or BIO entity type in every split (DATE=O); repeat or "
                                       "comma-separate")
    labels: list[str] | None = option(None, help="your files: the label inventory in this order (a training label "
                                                 "outside it is an error); default: the training labels, BIO tags "
                                                 "grouped by type; not with --task (the task fixes its inventory)")
    metric: Literal["accuracy", "f1"] | None = option(None, help="default: span F1 for BIO tags, else accuracy")
    sampling_temperature: float = option(1.0, check=POSITIVE,
                                         help="multi-source: draw languages with probability ~ size^(1/T) (1 = "
                                              "natural proportions; larger favours small sources)")
    train_limit: int | None = option(None, check=AT_LEAST_1, help="use the first N training sentences")
    eval_limit: int | None = option(None, check=AT_LEAST_1,
                                    help="use the first N sentences of each dev/evaluation set")

    def __post_init__(self) -> None:
        for name in ("train", "dev", "eval"):
            setattr(self, name, _as_list(getattr(self, name)))
        super().__post_init__()
        for name in ("train", "dev", "eval"):
            setattr(self, name, [DataFile.parse(v) for v in getattr(self, name)])
        if not self.source:
            raise ConfigError("--source needs a language")

    def read_options(self):
        """The :class:`xlt.data.formats.ReadOptions` of the column settings.

        Raises:
            DatasetError: options that cannot go together.
        """
        kw: dict[str, Any] = {}
        if self.text_column:
            kw["text_column"] = tuple(self.text_column)
        if self.label_column:
            kw["label_column"] = self.label_column
        if self.tag_column is not None:
            kw["tag_column"] = self.tag_column
        try:
            return ReadOptions(**kw)
        except ValueError as exc:
            raise DatasetError(str(exc)) from None

    @cached_property
    def user_sources(self) -> list[SourceFiles]:
        """The source languages of the user's files (no ``task``) and the files of each, resolved once.

        One ``train`` file is the language of ``source``. Several training files (multi-source
        training, or ``matrix``) each name their language: ``LANG=FILE``, or a file name holding the
        code (``train-de.conll``); ``dev`` then takes ``LANG=FILE`` values for any of them (the others
        hold ``dev_fraction`` of their training data out).

        Raises:
            DatasetError: a training file whose language cannot be told, a language given twice, a
                dev file of no source language, or ``source`` naming other languages than the files.
        """
        if len(self.train) == 1 and self.train[0].lang is None:
            if len(self.dev) > 1:
                raise DatasetError("one --train file takes one --dev file")
            dev = str(self.dev[0].path) if self.dev else None
            return [SourceFiles(",".join(self.source), str(self.train[0].path), dev)]

        def language(spec: DataFile, option: str) -> str:
            if spec.lang is not None:
                return spec.lang
            try:
                return language_from_filename(spec.path)
            except FileLanguageError:
                raise DatasetError(f"{option} {spec.path}: with several source languages every file needs its "
                                   f"language: {option} LANG=FILE") from None

        out: list[SourceFiles] = []
        for spec in self.train:
            code = language(spec, "--train")
            twice = [s for s in out if same(s.lang, code)]
            if twice:
                raise DatasetError(f"--train: source language {code} given twice ({twice[0].train} and {spec.path})")
            out.append(SourceFiles(code, str(spec.path)))
        for spec in self.dev:
            code = language(spec, "--dev")
            hit = [i for i, s in enumerate(out) if same(s.lang, code)]
            if not hit:
                raise DatasetError(f"--dev {spec.path}: {code} is not one of the --train languages "
                                   f"({', '.join(s.lang for s in out)})")
            if out[hit[0]].dev is not None:
                raise DatasetError(f"--dev: source language {code} given twice")
            out[hit[0]] = dataclasses.replace(out[hit[0]], dev=str(spec.path))
        given = self.source
        if given != ["en"] and not (len(given) == len(out) and all(any(same(g, s.lang) for s in out) for g in given)):
            raise DatasetError(f"--source {','.join(given)} does not match the languages of the --train files "
                               f"({', '.join(s.lang for s in out)}); leave --source out")
        return out


@dataclass(kw_only=True)
class TrainingSettings(Settings):
    """Training budget and seeds.

    Attributes:
        epochs, batch_size, lr: None = the default of the mode and task kind
            (:data:`xlt.transfer.training_settings.DEFAULTS`).
        seeds: one run per seed; scores are mean ± sample std over seeds. A count (``3``) means
            seeds 0, 1, 2.
    """

    epochs: int | None = option(None, check=AT_LEAST_1,
                                help="training epochs (default: the mode's for the task kind: probe 10 for token "
                                     "tasks, 100 for text tasks; finetune 3, 10 for single texts)")
    batch_size: int | None = option(None, check=AT_LEAST_1,
                                    help="batch size (default: probe 256 for token tasks, else 32; finetune 32)")
    lr: float | None = option(None, check=POSITIVE,
                              help="learning rate (default: probe 1e-3; finetune 5e-5, 2e-5 for text pairs)")
    seeds: list[int] = option(default_factory=lambda: [0], repeat=False,
                              help="a count (3 = seeds 0,1,2) or a list (0,5,7)")

    def __post_init__(self) -> None:
        self.seeds = parse_seeds(self.seeds)
        super().__post_init__()


@dataclass(kw_only=True)
class ProbeSettings(TrainingSettings):
    """Probe: a head on frozen features.

    Attributes:
        layer: ``mix`` (a learned scalar mix of every hidden state), ``last``, or a layer number
            (0 = embeddings; negative counts from the top).
        head: ``linear`` or ``mlp`` (256 hidden units).
        word_pieces: token tasks: which subword pieces stand for a word (probe vector, fine-tuned
            label; :data:`xlt.models.words.WORD_PIECES`).
        cache_dir: on-disk feature cache folder (None: off).
    """

    layer: str = option(ProbeTraining.layer, check=_layer_check,
                        help="probe features: mix (a learned mix of every layer), last, or a layer number")
    head: Literal["linear", "mlp"] = option(ProbeTraining.head, help="probe head")
    word_pieces: Literal[WORD_PIECE_NAMES] = option(
        DEFAULT_WORD_PIECES,
        help="token tasks: which subword pieces stand for a word (probe vector, fine-tuned label): auto (as "
             "first, but a sentence split into single characters, as PAN-X's Japanese and Chinese, is tokenised "
             "as text), first (the first piece that is not a bare SentencePiece '▁' marker), mean (of those "
             "pieces), xtreme (XTREME's first piece, a bare '▁' included), mean_all, no_marker (bare markers also "
             "left out of the input), text (the sentence tokenised as text, words mapped by character offsets)")
    cache_dir: Path | None = option(None, help="probe: on-disk feature cache folder")

    def __post_init__(self) -> None:
        if isinstance(self.layer, int) and not isinstance(self.layer, bool):
            self.layer = str(self.layer)
        super().__post_init__()


@dataclass(kw_only=True)
class FinetuneSettings(Settings):
    """Fine-tuning (--mode finetune): the whole encoder, or few parameters (--peft).

    Attributes: see :class:`xlt.transfer.training_settings.FinetuneTraining` (``freeze_embeddings``
    is ``--train-embeddings`` turned round); ``language_adapters``: MAD-X language adapters,
    ``LANG=DIR`` (``xlt adapt mlm --language-adapter``), with ``peft='adapter'``.
    """

    pooling: Literal["mean", "cls"] = option(FinetuneTraining.pooling,
                                             help="finetune, sequence/pair tasks: mean pooling (XTREME) or the "
                                                  "model's CLS head")
    max_length: int = option(FinetuneTraining.max_length, check=AT_LEAST_1, help="finetune: training length in tokens")
    ckpt_avg: int = option(FinetuneTraining.ckpt_avg, check=AT_LEAST_0,
                           help="finetune: average the weights of the last N epochs (Schmidt et al. 2023)")
    freeze_embeddings: bool = option(FinetuneTraining.freeze_embeddings, negative_flag="--train-embeddings",
                                     help="finetune: keep the word-embedding matrix frozen",
                                     negative_help="finetune: also train the word-embedding matrix (frozen by "
                                                   "default: much faster on CPU)")
    group_by_length: bool = option(FinetuneTraining.group_by_length, both_ways=True,
                                   help="finetune: batches of similar-length sentences (faster, but less accurate on "
                                        "short runs; default off: uniformly shuffled batches)")
    bf16: bool = option(FinetuneTraining.bf16, help="finetune: bfloat16 autocast (CPUs with AVX512-BF16/AMX, GPUs)")
    micro_batch_size: int | None = option(FinetuneTraining.micro_batch_size, check=AT_LEAST_0,
                                          help="finetune: run each batch as length-sorted micro-batches of N "
                                               "sentences, accumulating gradients (the same update with less "
                                               "padding); 0: whole batches; default 8 on a CPU, 0 on a GPU")
    peft: Literal["lora", "bitfit", "adapter"] | None = option(
        FinetuneTraining.peft, help="finetune: train few parameters: lora (low-rank query/value updates, merged after "
                                    "training), bitfit (biases only) or adapter (bottleneck adapters); the head is "
                                    "always trained")
    lora_r: int = option(FinetuneTraining.lora_r, check=AT_LEAST_1, help="--peft lora: rank (alpha = 2r)")
    adapter_size: int = option(FinetuneTraining.adapter_size, check=AT_LEAST_1, help="--peft adapter: bottleneck size")
    language_adapters: dict[str, Path] = option(default_factory=dict, metavar="LANG=DIR", nargs="+",
                                                help="--peft adapter: MAD-X language adapters from 'xlt adapt mlm "
                                                     "--language-adapter' (the source's is needed; each target's is "
                                                     "swapped in when it is evaluated)")
    checkpoint_dir: Path | None = option(FinetuneTraining.checkpoint_dir, metavar="DIR",
                                         help="finetune: write a checkpoint at the end of every epoch to DIR/seed-N/ "
                                              "(default with --resume: OUT/checkpoints)")
    resume: bool = option(FinetuneTraining.resume,
                          help="finetune: continue an interrupted run from its checkpoints (same settings and data; "
                               "seeds without a checkpoint start afresh)")


@dataclass(kw_only=True)
class ProjectionSettings(Settings):
    """Label projection: which projected sentences are kept.

    Attributes:
        max_gap: drop a projected span with more than N unlinked target words inside it (None: no
            limit; :func:`xlt.align.projection.project_spans`).
        drop_partial: leave out sentences where some source span could not be projected (they would
            teach a model that a real entity is ``O``).
        keep_empty: keep sentences without any source entity, as all-``O`` data.
    """

    max_gap: int | None = option(None, check=AT_LEAST_0, metavar="N",
                                 help="drop a projected span with more than N unlinked words inside it (default: no "
                                      "limit)")
    drop_partial: bool = option(True, both_ways=True,
                                help="leave out sentences where some source span could not be projected")
    keep_empty: bool = option(True, both_ways=True,
                              help="keep sentences with no source entity, as all-O training data")


#: ``--cs-ratio`` when ``--code-switch`` is given without it.
DEFAULT_CS_RATIO = 0.5


@dataclass(kw_only=True)
class CodeSwitchSettings(Settings):
    """Code-switched training: source words replaced by dictionary translations.

    CoSDA-ML (Qin et al. 2020, IJCAI); the switching itself is :mod:`xlt.data.codeswitch`.

    Attributes:
        code_switch: dictionaries (:func:`xlt.data.codeswitch.load_code_switch_dictionaries`):
            ``builtin`` (the data folder's ``dict/en-<language>.txt`` of every ``cs_langs``
            language), a language with such a file (``de``), ``FILE`` or ``LANG=FILE``
            (``word<TAB>word``, ``word word``, ``word<TAB>word<TAB>score``). Empty: off.
        cs_ratio: share of the words found in a dictionary that are replaced, in [0, 1] (None:
            :data:`DEFAULT_CS_RATIO`).
        cs_langs: the languages switched into (None: all): ``builtin`` takes their ``dict/`` files
            (default: all 15), and other dictionaries of other languages are left out.
        cs_min_score: drop scored dictionary entries (``xlt bli induce`` output) below this.
        cs_copies: probe mode: switched copies of the training set whose frozen features the probe
            trains on (drawn once; None: 1). Fine-tuning re-draws the switch every epoch instead.
        cs_only_labels: tagging tasks: only words with one of these labels are replaced (``O`` for
            NER: entity words keep their spelling); None: any word. Checked against the task's
            labels when the data is read (:func:`xlt.jobs.transfer.code_switcher_for`).
    """

    code_switch: list[str] = option(default_factory=list, metavar="DICT", nargs="+",
                                    help="code-switched training (CoSDA-ML): replace source words of every training "
                                         "sentence with dictionary translations in random languages, re-drawn every "
                                         "epoch; DICT: builtin (the data folder's dict/en-<language>.txt of each "
                                         "--cs-langs language), a language with such a file (de), FILE or LANG=FILE "
                                         "(word<TAB>word, 'word word', or 'xlt bli induce' output with a score column)")
    cs_ratio: float | None = option(None, check=Interval(0, 1), metavar="R",
                                    help=f"--code-switch: share of the dictionary words replaced, 0 to 1 (default "
                                         f"{DEFAULT_CS_RATIO})")
    cs_langs: list[str] | None = option(None, metavar="LANGS", help="--code-switch: the languages switched into (builtin: their dict/ "
                                                   "files; other dictionaries of other languages are left out; "
                                                   "default: all)")
    cs_min_score: float | None = option(None, metavar="SCORE", help="--code-switch: leave out scored dictionary entries "
                                                   "(word<TAB>word<TAB>score) below this score")
    cs_copies: int | None = option(None, check=AT_LEAST_1, metavar="N",
                                   help="--code-switch with --mode probe: switched copies of the training set whose "
                                        "features the probe trains on, drawn once (default 1); fine-tuning re-draws "
                                        "every epoch")
    cs_only_labels: list[str] | None = option(None, metavar="LABELS",
                                              help="--code-switch on a tagging task: replace only words with these "
                                                   "labels (O for NER: entity words keep their spelling; default: "
                                                   "any word)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.code_switch:
            given = [n for n in ("cs_ratio", "cs_langs", "cs_min_score", "cs_copies", "cs_only_labels")
                     if getattr(self, n) is not None]
            if given:
                raise ConfigError(f"--{given[0].replace('_', '-')} is a setting of code-switched training: add "
                                  "--code-switch DICT (builtin, a language, or a dictionary file)")

    @property
    def code_switch_ratio(self) -> float:
        """``cs_ratio``, or :data:`DEFAULT_CS_RATIO` when not given."""
        return DEFAULT_CS_RATIO if self.cs_ratio is None else self.cs_ratio

    def code_switch_echo(self) -> dict[str, Any]:
        """The code-switch settings as reports record them (empty when ``code_switch`` is off, so a
        report without it is unchanged)."""
        if not self.code_switch:
            return {}
        return {"code_switch": list(self.code_switch), "cs_ratio": self.cs_ratio,
                "cs_langs": None if self.cs_langs is None else ",".join(self.cs_langs),
                "cs_min_score": self.cs_min_score, "cs_copies": self.cs_copies,
                **({"cs_only_labels": ",".join(self.cs_only_labels)} if self.cs_only_labels else {})}


# --------------------------------------------------------------------------- xlt transfer


#: The report's ``config`` keys, in the order reports have always listed them.
REPORT_KEYS = ("task", "train", "dev", "eval", "format", "text_column", "label_column", "tag_column", "metric",
               "label_map", "labels", "dev_fraction", "source", "targets", "model", "mode", "layer", "head", "pooling",
               "group_by_length", "bf16", "micro_batch_size", "word_pieces", "decoding", "epochs", "batch_size", "lr",
               "seeds", "train_limit", "eval_limit", "ckpt_avg", "freeze_embeddings", "max_length", "checkpoint_dir",
               "resume", "data_dir", "cache_dir", "sampling_temperature", "matrix", "ensemble", "seed_ensemble", "peft",
               "lora_r", "adapter_size", "language_adapters", "romanize", "out", "save", "save_which", "overwrite",
               "predictions", "aligner")


@dataclass(kw_only=True)
class TransferSettings(RunSettings, DataSettings, ProbeSettings, FinetuneSettings, CodeSwitchSettings,
                       SelfTrainSettings):
    """Settings of one ``xlt transfer`` run: the parts :class:`~xlt.jobs.settings.RunSettings` (model,
    out, overwrite, progress, data_dir), :class:`DataSettings`, :class:`ProbeSettings` (with
    :class:`TrainingSettings`), :class:`FinetuneSettings`, :class:`CodeSwitchSettings` and
    :class:`~xlt.jobs.parts_selftrain.SelfTrainSettings` (self-training, distillation), and:

    Attributes:
        mode: ``probe`` (frozen encoder + head) or ``finetune``.
        decoding: token tasks: word probabilities to tags (:mod:`xlt.transfer.decoding`); used for
            source-dev model selection and every score; saved with the task model.
        aligner: probe mode: a map file from ``xlt align fit``; every language's features are mapped
            into the source space before the head.
        matrix: train on each source language in turn and score every target (a sources × targets
            table, :func:`xlt.jobs.matrix.run`).
        ensemble: with ``matrix``: also score ensembles of the source models (all sources, and the
            K a ranker puts first); 0 = off.
        seed_ensemble: with two or more seeds: also score the ensemble of the seeds' models (mean of
            their label probabilities; Lakshminarayanan et al. 2017).
        romanize: evaluate non-Latin-script targets on their uroman romanisation.
        save: folder for the task model(s): the best seed on source dev (``save_which='best'``) or
            every seed under ``seed-N/`` (``'all'``).
        predictions: also write the selected model's predictions to ``out/predictions/<lang>.jsonl``.

    Raises:
        ConfigError: a value outside its constraint, or settings that cannot go together (named as
            on the command line), at construction.
    """

    model: str = option(RunSettings.model, help="the encoder: bundled:e5-small, a Hugging Face id or a local folder")
    out: Path | None = option(None, help="report folder (required on the command line)")
    overwrite: bool = option(False, help="replace a non-empty --out or --save folder (whole)")
    mode: Literal["probe", "finetune"] = option("probe", help="train a probe on frozen features, or fine-tune")
    decoding: Literal[DECODINGS] = option(DEFAULT_DECODING,
                                          help="token tasks: how word probabilities become tags: bio (for BIO labels "
                                               "the most probable well-formed sequence, a Viterbi search under the "
                                               "BIO constraints; for other labels each word's most probable one), "
                                               "argmax (each word's most probable label, as XTREME)")
    aligner: Path | None = option(None, help="probe: a map file from 'xlt align fit'; every language's features are "
                                             "mapped into the source space before the head")
    matrix: bool = option(False, help="train on each source language (--source a,b,... or --train LANG=FILE, "
                                      "repeated) in turn and score every target: a sources x targets table "
                                      "(matrix.json, matrix.md, matrix.png; each source's report under OUT/by-source/)")
    ensemble: int = option(0, check=AT_LEAST_0, metavar="K",
                           help="with --matrix: also score every target with ensembles of the source models: all "
                                "sources, equally weighted, and the K sources a ranker trained on the other targets' "
                                "columns puts first (LangRank features; 0 = off)")
    seed_ensemble: bool = option(False, help="with --seeds 2 or more: also score every language with the ensemble of "
                                             "the seeds' models (mean of their label probabilities)")
    romanize: bool = option(False, help="evaluate targets written mostly in a non-Latin script on their uroman "
                                        "romanisation (token tasks word by word)")
    save: Path | None = option(None, metavar="DIR",
                               help="keep the task model chosen on source dev here (for 'xlt predict')")
    save_which: Literal["best", "all"] = option("best", help="best seed or every seed under DIR/seed-N")
    predictions: bool = option(False, help="also write the selected model's predictions to OUT/predictions/<lang>.jsonl")

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_data()
        self._check_training()
        self._check_matrix()

    def _check_data(self) -> None:
        if self.task:  # a built-in task, perhaps with the user's files added
            if self.labels is not None:
                raise ConfigError(f"--labels fixes the label inventory of your own data set; --task {self.task} has "
                                  f"its own, which your files' labels must be in (rename them with --label-map FROM=TO)")
            if (self.train or self.dev) and len(self.source) > 1:
                raise ConfigError(f"--train and --dev with --task add to one source language's data; --source "
                                  f"{','.join(self.source)} names several (multi-source, --matrix): give one --source, "
                                  f"or your own files for every source without --task (--train LANG=FILE, repeated)")
            if not (self.train or self.dev or self.eval):
                given = [n for n in ("format", "text_column", "label_column", "tag_column")
                         if getattr(self, n) is not None]
                if given:
                    raise ConfigError(f"--{given[0].replace('_', '-')} says how to read your own files, and --task "
                                      f"{self.task} is given none (add --eval, --train or --dev FILE, or leave it out)")
        elif len(self.source) > 1 and len(self.train) == 1:
            raise ConfigError(f"several source languages ({','.join(self.source)}) with your own files: give one "
                              "--train LANG=FILE per source language instead (--train en=train-en.conll --train de=...)")

    def _check_training(self) -> None:
        if self.peft is not None and self.mode != "finetune":
            raise ConfigError("--peft chooses what fine-tuning trains: add --mode finetune")
        if self.language_adapters and self.peft != "adapter":
            raise ConfigError("--language-adapters (MAD-X) go under task adapters: add --mode finetune --peft adapter")
        if self.cs_copies is not None and self.mode != "probe":
            raise ConfigError("--cs-copies sets how many switched copies a probe's frozen features are computed on; "
                              "fine-tuning re-draws the switch every epoch: leave it out with --mode finetune")
        if self.seed_ensemble and (len(self.seeds) < 2 or self.matrix):
            raise ConfigError("--seed-ensemble combines the models of several seeds of one run: give --seeds 2 or "
                              f"more, without --matrix (got seeds {list(self.seeds)}"
                              f"{', --matrix' if self.matrix else ''})")

    def _check_matrix(self) -> None:
        n_sources = len(self.source) if self.task else (len(self.train) if self.train else len(self.source))
        if self.matrix and n_sources < 2:
            given = ", ".join(map(str, self.train)) if self.train else ",".join(self.source)
            raise ConfigError(f"--matrix needs at least two source languages (a matrix of one source is one "
                              f"transfer run): --source a,b,... or --train LANG=FILE for each; got {given}")
        if self.ensemble and not self.matrix:
            raise ConfigError("--ensemble combines the models of a transfer matrix: add --matrix")
        if self.matrix and (self.save or self.resume):
            raise ConfigError("--matrix runs its source languages one by one; it takes no --save or --resume")
        if self.matrix and not self.train and len(self.source) != len(set(self.source)):
            raise ConfigError(f"--source names a language twice: {','.join(self.source)}")

    def source_settings(self) -> dict[str, TransferSettings]:
        """One single-source, single-run settings per source language (built-in ``source`` a,b,... or
        one user ``train`` ``LANG=FILE`` each), keyed by the language as given; outputs, ``matrix`` and
        ensembles off, every other setting kept.

        Raises:
            DatasetError: see :attr:`DataSettings.user_sources`.
        """
        single = dict(matrix=False, ensemble=0, out=None, save=None, predictions=False)
        if not self.train:
            return {s: dataclasses.replace(self, source=[s], **single) for s in dict.fromkeys(self.source)}
        return {sf.lang: dataclasses.replace(self, source=[sf.lang], train=[DataFile(Path(sf.train), None, sf.train)],
                                             dev=[DataFile(Path(sf.dev), None, sf.dev)] if sf.dev else [], **single)
                for sf in self.user_sources}

    def echo(self) -> dict[str, Any]:
        """The settings as reports record them (``config``): the keys of :data:`REPORT_KEYS` in that order,
        values as given (one file as a string, languages comma-separated, paths as strings); with
        ``code_switch``, its settings after them (:meth:`CodeSwitchSettings.code_switch_echo`); then
        self-training's (:meth:`~xlt.jobs.parts_selftrain.SelfTrainSettings.self_train_echo`)."""
        def files(specs: list[DataFile]):
            texts = [str(s) for s in specs]
            return None if not texts else texts[0] if len(texts) == 1 else texts

        def text(value):
            return None if value is None else str(value)

        special = {
            "train": files(self.train), "dev": files(self.dev), "eval": [str(s) for s in self.eval],
            "text_column": ",".join(self.text_column) if self.text_column else None,
            "source": ",".join(self.source), "targets": None if self.targets is None else ",".join(self.targets),
            "language_adapters": [f"{k}={v}" for k, v in self.language_adapters.items()],
            **{k: text(getattr(self, k)) for k in ("checkpoint_dir", "data_dir", "cache_dir", "out", "save", "aligner")},
        }
        return {**{k: special[k] if k in special else getattr(self, k) for k in REPORT_KEYS}, **self.code_switch_echo(),
                **self.self_train_echo()}


def probe_training(settings: ProbeSettings, kind: str, **extra) -> ProbeTraining:
    """The probe training of ``settings`` for a task kind, every default resolved once
    (``extra``: more :class:`ProbeTraining` fields, such as ``decoding`` and ``aligner_path``)."""
    return ProbeTraining.for_kind(kind, epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
                                  layer=settings.layer, head=settings.head, word_pieces=settings.word_pieces,
                                  cache_dir=settings.cache_dir, progress=getattr(settings, "progress", True), **extra)


def finetune_training(settings: TransferSettings, kind: str, **extra) -> FinetuneTraining:
    """The fine-tuning of ``settings`` for a task kind, every default resolved once (``extra``: more
    :class:`FinetuneTraining` fields, such as a resolved ``checkpoint_dir`` or ``micro_batch_size``)."""
    values = dict(epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr, pooling=settings.pooling,
                  max_length=settings.max_length, ckpt_avg=settings.ckpt_avg,
                  freeze_embeddings=settings.freeze_embeddings, word_pieces=settings.word_pieces,
                  decoding=settings.decoding, group_by_length=settings.group_by_length, bf16=settings.bf16,
                  micro_batch_size=settings.micro_batch_size, checkpoint_dir=settings.checkpoint_dir,
                  resume=settings.resume, peft=settings.peft, lora_r=settings.lora_r,
                  adapter_size=settings.adapter_size, progress=settings.progress)
    return FinetuneTraining.for_kind(kind, **{**values, **extra})
