"""Registry of the cross-lingual transfer tasks: what each needs, where its files are.

No model code here. A task names a data set folder, how its files are laid out, how it is
scored and its label inventory:

=========  ========  ========  ==========  =================================================
task       kind      metric    labels      files (inside the data set folder)
=========  ========  ========  ==========  =================================================
udpos      token     accuracy  17 UPOS     ``{train,dev,test}-XX.tsv``; evaluation = test if
                                           present else dev (German only has ``dev-de.tsv``)
panx       token     f1        BIO         ``train-en.tsv``, ``dev-XX.tsv``; evaluation = dev
                                           (upstream test labels are hidden)
sib200     sequence  accuracy  7 topics    ``<lang_Script>/{train,dev,test}.tsv``;
                                           evaluation = ``test.tsv`` of every folder
=========  ========  ========  ==========  =================================================

Language keys in returned dicts are the data set's own codes (``de`` for udpos, ``deu_Latn``
for sib200); codes given by users go through :func:`xlt.data.langs.match_language`, so
``de``, ``deu`` and ``deu_Latn`` all select German in either data set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypedDict

from xlt.data.langs import (
    AmbiguousLanguageError,
    UnknownLanguageError,
    describe_codes,
    match_language,
)
from xlt.data.paths import dataset_dir
from xlt.data.readers import (
    ReadStats,
    TaggedSentence,
    TextExample,
    read_conllu,
    read_sib200,
    read_xtreme_tsv,
)

# Universal POS tags in the order of universaldependencies.org/u/pos/ (alphabetical), which
# is also XTREME's label order for udpos.
UPOS_TAGS: tuple[str, ...] = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
)  # fmt: skip
# PAN-X BIO tags in XTREME's order.
PANX_TAGS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")

_FLAT_FILE = re.compile(r"^(?P<split>train|dev|test)-(?P<lang>[^.\s]+)\.(?P<ext>tsv|conllu)$")


@dataclass(frozen=True)
class TaskSpec:
    """What a transfer task needs.

    Attributes:
        name: registry key (``'udpos'``, ``'panx'``, ``'sib200'``).
        kind: ``'token'`` (one label per word) or ``'sequence'`` (one label per text).
        metric: ``'accuracy'`` (token or example accuracy) or ``'f1'`` (entity-level F1).
        dataset: data set folder name under the data folder.
        label_scheme: ``'upos'``, ``'bio'`` or ``'class'``.
        layout: ``'flat'`` (``<split>-<lang>.tsv`` files) or ``'folders'``
            (``<lang>/<split>.tsv``).
        eval_splits: splits usable as evaluation set, in order of preference.
        labels: the fixed label inventory in its canonical order, or ``None`` when the labels
            come from the data (see :func:`label_list`).
        default_source: the usual source (training) language, as a data set code.
    """

    name: str
    kind: Literal["token", "sequence"]
    metric: Literal["accuracy", "f1"]
    dataset: str
    label_scheme: Literal["upos", "bio", "class"]
    layout: Literal["flat", "folders"]
    eval_splits: tuple[str, ...]
    labels: tuple[str, ...] | None
    default_source: str


TASKS: dict[str, TaskSpec] = {
    "udpos": TaskSpec(
        "udpos", "token", "accuracy", "udpos", "upos", "flat", ("test", "dev"), UPOS_TAGS, "en"
    ),
    "panx": TaskSpec("panx", "token", "f1", "panx", "bio", "flat", ("dev",), PANX_TAGS, "en"),
    "sib200": TaskSpec(
        "sib200", "sequence", "accuracy", "sib200", "class", "folders", ("test",), None,
        "eng_Latn",
    ),
}


class SourceFiles(TypedDict):
    """Training files of a source language (see :func:`source_files`)."""

    lang: str
    train: Path
    dev: Path | None


def get_task(task: str | TaskSpec) -> TaskSpec:
    """Look up a task.

    Args:
        task: a registry name (case-insensitive) or a :class:`TaskSpec` (returned as is).

    Returns:
        The :class:`TaskSpec`.

    Raises:
        ValueError: unknown task name; the message lists the known ones.
    """
    if isinstance(task, TaskSpec):
        return task
    spec = TASKS.get(str(task).strip().lower())
    if spec is None:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(sorted(TASKS))}")
    return spec


def split_files(spec: TaskSpec, data_dir: str | Path | None) -> dict[str, dict[str, Path]]:
    """``{split: {lang: path}}`` for every split file of a task's data set."""
    root = dataset_dir(spec.dataset, data_dir)
    out: dict[str, dict[str, Path]] = {"train": {}, "dev": {}, "test": {}}
    if spec.layout == "flat":
        for p in sorted(root.iterdir()):
            m = _FLAT_FILE.match(p.name)
            if not (m and p.is_file()):
                continue
            known = out[m["split"]].get(m["lang"])
            # a .tsv and a .conllu for the same split: keep the .tsv (the XTREME file)
            if known is None or known.suffix == ".conllu":
                out[m["split"]][m["lang"]] = p
    else:
        for d in sorted(root.iterdir()):
            if not d.is_dir():
                continue
            for split in out:
                f = d / f"{split}.tsv"
                if f.is_file():
                    out[split][d.name] = f
    return out


def available_languages(
    task: str | TaskSpec, data_dir: str | Path | None = None
) -> dict[str, Path]:
    """Languages with an evaluation file, and that file.

    Args:
        task: task name or spec.
        data_dir: data folder (default: :func:`xlt.data.paths.resolve_data_dir` order).

    Returns:
        ``{dataset_code: evaluation_file}`` sorted by code, the source language included:
        udpos ``test-XX.tsv``, or ``dev-XX.tsv`` where there is no test file; panx
        ``dev-XX.tsv``; sib200 ``<folder>/test.tsv`` (folders without one are ignored).

    Raises:
        ValueError: unknown task.
        DatasetNotFoundError: the data set folder is missing.
    """
    spec = get_task(task)
    files = split_files(spec, data_dir)
    out: dict[str, Path] = {}
    for split in reversed(spec.eval_splits):  # preferred split last, so it overwrites
        out.update(files[split])
    return dict(sorted(out.items()))


def match_task_language(
    task: str | TaskSpec, lang: str, data_dir: str | Path | None = None
) -> str:
    """The data set code among :func:`available_languages` that denotes ``lang``.

    Args:
        task: task name or spec.
        lang: any code for the language (``de``, ``deu``, ``deu_Latn``, ``de-DE``).
        data_dir: data folder.

    Returns:
        A key of ``available_languages(task, data_dir)``.

    Raises:
        UnknownLanguageError: no (or more than one) evaluation language matches; the message
            lists the available ones.
    """
    spec = get_task(task)
    avail = available_languages(spec, data_dir)
    return match_language(lang, avail, context=f"{spec.name} evaluation languages")


def source_files(
    task: str | TaskSpec, lang: str, data_dir: str | Path | None = None
) -> SourceFiles:
    """Training (and development) files of a source language.

    Args:
        task: task name or spec.
        lang: any code for the source language (matched against the languages that have a
            training file).
        data_dir: data folder.

    Returns:
        ``{'lang': dataset_code, 'train': Path, 'dev': Path | None}``, e.g. for udpos/en
        ``train-en.tsv`` and ``dev-en.tsv``.

    Raises:
        UnknownLanguageError: ``lang`` has no training file; the message lists the
            languages that do.
        DatasetNotFoundError: the data set folder is missing.
    """
    spec = get_task(task)
    files = split_files(spec, data_dir)
    train = files["train"]
    if not train:
        raise UnknownLanguageError(
            lang, f"{spec.name}: the data set has no training file for any language", ()
        )
    code = match_language(lang, train, context=f"{spec.name} (languages with training data)")
    return SourceFiles(lang=code, train=train[code], dev=files["dev"].get(code))


def load_split(
    task: str | TaskSpec, path: str | Path, limit: int | None = None
) -> tuple[list[TaggedSentence] | list[TextExample], ReadStats]:
    """Read one split file of a task with the right reader.

    Token tasks read XTREME ``.tsv`` files, or CoNLL-U (``.conllu``, UPOS labels) for udpos;
    sib200 reads its ``.tsv`` format.

    Args:
        task: task name or spec.
        path: the split file.
        limit: keep the first ``limit`` examples.

    Returns:
        ``(examples, stats)``: :class:`TaggedSentence` list for token tasks,
        :class:`TextExample` list for sib200, and the reader's :class:`ReadStats`.

    Raises:
        ValueError: unknown task, or a CoNLL-U file for a task other than udpos.
        DataFormatError: a malformed line (message starts with ``path:line:``).
        FileNotFoundError: no such file.
    """
    spec = get_task(task)
    path = Path(path)
    if spec.kind == "sequence":
        return read_sib200(path, limit=limit)
    if path.suffix == ".conllu":
        if spec.label_scheme != "upos":
            raise ValueError(f"{spec.name}: CoNLL-U input only makes sense for udpos, got {path}")
        return read_conllu(path, label_field="upos", limit=limit)
    return read_xtreme_tsv(path, limit=limit)


def _labels_file_labels(split_path: str | Path | None) -> list[str]:
    if split_path is None:
        return []
    f = Path(split_path).parent / "labels.txt"
    if not f.is_file():
        return []
    return [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]


def label_list(
    task: str | TaskSpec,
    examples: Iterable[TaggedSentence | TextExample],
    split_path: str | Path | None = None,
) -> list[str]:
    """The label inventory of a task, in a stable order.

    udpos: the 17 UPOS tags (:data:`UPOS_TAGS`); panx: :data:`PANX_TAGS`; sib200: the sorted
    union of the labels seen in ``examples`` and those in the ``labels.txt`` next to
    ``split_path`` (when given). Sorting rather than using ``labels.txt`` order keeps the
    order the same whether or not a labels file is at hand.

    Args:
        task: task name or spec.
        examples: examples of the task (all are checked).
        split_path: for sib200, a split file whose folder may hold ``labels.txt``.

    Returns:
        Label strings; a label's index in this list is its class id.

    Raises:
        ValueError: a token task's examples use labels outside its fixed inventory (the
            wrong file or task), or there are no labels at all.
    """
    spec = get_task(task)
    seen: set[str] = set()
    for ex in examples:
        if isinstance(ex, TaggedSentence):
            seen.update(ex.labels)
        else:
            seen.add(ex.label)
    if spec.labels is not None:
        extra = seen.difference(spec.labels)
        if extra:
            raise ValueError(
                f"{spec.name}: labels outside the {spec.label_scheme} inventory: "
                f"{sorted(extra)} (expected {list(spec.labels)})"
            )
        return list(spec.labels)
    labels = sorted(seen.union(_labels_file_labels(split_path)))
    if not labels:
        raise ValueError(f"{spec.name}: no labels in the examples and no labels.txt")
    return labels


def select_targets(
    task: str | TaskSpec, spec: str | Sequence[str], source: str, data_dir: str | Path | None = None
) -> dict[str, Path]:
    """Choose the evaluation languages of a transfer run.

    Args:
        task: task name or spec.
        spec: ``'all'`` (every evaluation language except the source) or a comma-separated
            list of codes (``'de,fra,jpn_Jpan'``) or a list of codes; codes go through
            :func:`xlt.data.langs.match_language`. A listed source language is kept
            (in-language evaluation); duplicates are dropped.
        source: the source language (any code); with ``'all'`` the evaluation language it
            matches is left out (nothing is left out if it matches none).
        data_dir: data folder.

    Returns:
        ``{dataset_code: evaluation_file}``; sorted by code for ``'all'``, in the given order
        otherwise.

    Raises:
        UnknownLanguageError: a listed code matches no evaluation language (the message lists
            the available ones with names), or matches several (:class:`AmbiguousLanguageError`).
        ValueError: an empty string (an empty list is no targets: ``{}``).
    """
    task_spec = get_task(task)
    avail = available_languages(task_spec, data_dir)
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            try:
                src: str | None = match_language(source, avail)
            except AmbiguousLanguageError:
                raise  # the caller must say which one is the source
            except UnknownLanguageError:
                src = None
            return {k: v for k, v in avail.items() if k != src}
        requested = [c.strip() for c in spec.split(",")]
    else:
        requested = [str(c).strip() for c in spec]
    requested = [c for c in requested if c]
    if not requested and not isinstance(spec, str):
        return {}  # an empty list: no targets (a source's training text alone)
    if not requested:
        raise ValueError(
            f"{task_spec.name}: empty target list; use 'all' or some of: {describe_codes(avail)}"
        )
    out: dict[str, Path] = {}
    for code in requested:
        key = match_language(code, avail, context=f"{task_spec.name} evaluation languages")
        out.setdefault(key, avail[key])
    return out


__all__ = [
    "PANX_TAGS",
    "SourceFiles",
    "TASKS",
    "TaskSpec",
    "UPOS_TAGS",
    "available_languages",
    "get_task",
    "label_list",
    "load_split",
    "match_task_language",
    "select_targets",
    "source_files",
]
