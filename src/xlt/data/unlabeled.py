"""Unlabelled target-language text for self-training and distillation.

Self-training (Xie et al. 2020, "Self-training with Noisy Student improves ImageNet
classification"; for cross-lingual NER Wu et al. 2020, "Single-/Multi-Source Cross-Lingual NER
via Teacher-Student Learning on Unlabeled Data in Target Language") and distillation (Hinton et
al. 2015, "Distilling the Knowledge in a Neural Network") learn from target-language text that
has no labels. This module reads that text, with no torch:

* :func:`read_unlabeled`: a user's file or folder (``--unlabeled LANG=FILE|DIR``). A ``.txt``
  file, or a file without an extension, is raw text: one sentence (token tasks, text tasks) or
  one ``text<TAB>text_pair`` (pair tasks) per line, blank lines skipped; token tasks split each
  line into words with :func:`xlt.data.segment.split_words`. Any other file is read as a data
  file of a supported format (:func:`xlt.data.formats.read_examples`) and its labels are
  dropped. A folder gives every file in it, in name order.
* :func:`builtin_unlabeled`: a built-in task's own unlabelled text: the text of the data
  folder's in-language *training* files with the labels removed (PAN-X and UD-POS
  ``train-XX``), or for SIB-200 the NTREX-128 news sentences of the language. Sentences that
  are also in that language's evaluation set are left out (counted), so the transfer stays
  inductive; with ``transductive=True`` the evaluation sentences themselves are the text
  (labels removed), which a report must then say.

Every example comes back with placeholder labels (``O`` per word, ``""`` for texts), as
:func:`xlt.transfer.model.as_examples` makes them: the labels are never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xlt.data.dataset import DatasetError
from xlt.data.formats import read_examples
from xlt.data.kinds import PAIR, TOKEN, TaskKind, get_kind
from xlt.data.langs import UnknownLanguageError, match_language
from xlt.data.parallel import ntrex_languages
from xlt.data.paths import DatasetNotFoundError
from xlt.data.readers import DataFormatError, PairExample, ReadStats, TaggedSentence, TextExample, iter_lines
from xlt.data.segment import split_words
from xlt.data.tasks import get_task, load_split, split_files

__all__ = ["BUILTIN", "RAW_TEXT_SUFFIXES", "UnlabeledError", "UnlabeledText", "builtin_unlabeled", "example_key",
           "read_unlabeled", "strip_labels"]

#: The ``--unlabeled`` value that takes a built-in task's own unlabelled text.
BUILTIN = "builtin"
#: File suffixes read as raw text, one sentence a line ("" = a file without an extension).
RAW_TEXT_SUFFIXES = (".txt", "")


class UnlabeledError(DatasetError):
    """Unlabelled text that cannot be used (no text at all, a language without a source, a
    folder without files)."""


@dataclass
class UnlabeledText:
    """One language's unlabelled text.

    Attributes:
        lang: the language code.
        examples: examples of the task kind with placeholder labels.
        origin: where the text comes from (a path, ``"panx train-de.tsv"``, ``"ntrex ..."``).
        transductive: the text is the language's evaluation set (labels removed).
        n_excluded: sentences left out because the evaluation set holds them.
        n_lines: lines (raw text) or examples (data files) read.
    """

    lang: str
    examples: list
    origin: str
    transductive: bool = False
    n_excluded: int = 0
    n_lines: int = 0
    paths: list[Path] = field(default_factory=list)

    def describe(self) -> dict:
        """A JSON-ready record for reports."""
        return {"lang": self.lang, "examples": len(self.examples), "origin": self.origin,
                "transductive": self.transductive, "excluded_evaluation_sentences": self.n_excluded,
                "read": self.n_lines}


def example_key(example) -> tuple:
    """What makes two examples the same text (labels ignored): the word tuple of a tagged
    sentence, the text of a text example, the two texts of a pair."""
    if isinstance(example, TaggedSentence):
        return tuple(example.tokens)
    if isinstance(example, PairExample):
        return (example.text, example.text_pair)
    return (example.text,)


def strip_labels(kind: TaskKind | str, examples: Iterable) -> list:
    """Copies of ``examples`` with placeholder labels (``O`` per word, ``""`` for texts).

    Raises:
        DatasetError: an example of another kind than ``kind``.
    """
    kind = get_kind(kind)
    out = []
    for i, e in enumerate(examples):
        if not isinstance(e, kind.example_type):
            raise DatasetError(f"unlabelled example {i + 1} is a {type(e).__name__}, not an example of a "
                               f"{kind.name} task")
        if kind is TOKEN:
            out.append(TaggedSentence(list(e.tokens), ["O"] * len(e.tokens)))
        elif kind is PAIR:
            out.append(PairExample(e.id, e.text, e.text_pair, ""))
        else:
            out.append(TextExample(e.id, e.text, ""))
    return out


def _raw_lines(path: Path, kind: TaskKind, lang: str, limit: int | None) -> tuple[list, int]:
    """The examples of a raw-text file, one per non-blank line, and the lines read.

    Raises:
        DataFormatError: a line that is not UTF-8, or (pair tasks) a line without a tab.
    """
    stats, out, n = ReadStats(path), [], 0
    for lineno, line in iter_lines(path, stats):
        n = lineno
        text = line.strip()
        if not text:
            continue
        if kind is TOKEN:
            words = split_words(text, lang)
            if words:
                out.append(TaggedSentence(words, ["O"] * len(words)))
        elif kind is PAIR:
            if "\t" not in text:
                raise DataFormatError(path, lineno, "a pair task's unlabelled line needs two texts: text<TAB>text_pair")
            a, b = text.split("\t", 1)
            out.append(PairExample(f"{path.name}:{lineno}", a.strip(), b.strip(), ""))
        else:
            out.append(TextExample(f"{path.name}:{lineno}", text, ""))
        if limit is not None and len(out) >= limit:
            break
    return out, n


def _files_of(path: Path) -> list[Path]:
    if not path.exists():
        raise FileNotFoundError(f"--unlabeled {path}: no such file or folder")
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise UnlabeledError(f"--unlabeled {path}: the folder holds no file")
    return files


def read_unlabeled(path: str | Path, lang: str, kind: TaskKind | str, *, limit: int | None = None,
                   format: str | None = None, options=None) -> UnlabeledText:
    """A user's unlabelled text (``--unlabeled LANG=FILE|DIR``) as examples of ``kind``.

    Args:
        path: a raw-text file (``.txt`` or no extension: one sentence a line), a labelled data
            file of any supported format (its labels are dropped) or a folder of such files.
        lang: the text's language (picks the word segmenter for scripts without spaces).
        kind: the task kind (``token``: word lists, ``sequence``: texts, ``pair``: text pairs).
        limit: keep the first ``limit`` examples (None: all).
        format, options: how to read data files (:func:`xlt.data.formats.read_examples`);
            ``format`` does not apply to raw-text files.

    Returns:
        :class:`UnlabeledText` with examples ``(n,)`` in file order.

    Raises:
        FileNotFoundError: no such file or folder.
        DataFormatError: a line that is not valid UTF-8, or is malformed (file and line named).
        UnlabeledError: a folder without files, or no text at all.
    """
    kind = get_kind(kind)
    path = Path(path)
    out, n_read, files = [], 0, _files_of(path)
    for f in files:
        left = None if limit is None else limit - len(out)
        if left is not None and left <= 0:
            break
        if f.suffix.lower() in RAW_TEXT_SUFFIXES and format is None:
            examples, n = _raw_lines(f, kind, lang, left)
        else:
            examples, stats = read_examples(f, format, options, left)
            examples, n = strip_labels(kind, examples), len(examples)
        out.extend(examples)
        n_read += n
    if not out:
        raise UnlabeledError(f"--unlabeled {lang}={path}: no text in it ({n_read} lines read)")
    return UnlabeledText(lang, out, str(path), n_lines=n_read, paths=files)


def _without(examples: Sequence, excluded: Iterable, kind: TaskKind) -> tuple[list, int]:
    """``examples`` without those whose text (:func:`example_key`) is in ``excluded``."""
    banned = {example_key(e) for e in excluded}
    kept = [e for e in strip_labels(kind, examples) if example_key(e) not in banned]
    return kept, len(examples) - len(kept)


def builtin_unlabeled(task: str, langs: Sequence[str], evaluation: Mapping[str, Sequence], *,
                      data_dir: str | Path | None = None, limit: int | None = None,
                      transductive: bool = False) -> dict[str, UnlabeledText]:
    """A built-in task's own unlabelled text for each of ``langs``.

    PAN-X and UD-POS: the language's ``train-XX`` file with its labels removed. SIB-200: the
    NTREX-128 news sentences of the language (``newstest2019-ref.XXX.txt``). Every sentence
    that is also in the language's evaluation set (``evaluation[lang]``, compared by text) is
    left out and counted in :attr:`UnlabeledText.n_excluded`, so no evaluation sentence is
    seen in training. With ``transductive``, the text is the evaluation set itself (labels
    removed): a transductive setting, which reports must name.

    Args:
        task: ``panx``, ``udpos`` or ``sib200``.
        langs: the languages (codes of the task's evaluation sets).
        evaluation: language -> its evaluation examples ``(n,)``.
        data_dir: the data folder.
        limit: the first ``limit`` sentences per language (read before the exclusion).
        transductive: take the evaluation sentences themselves.

    Returns:
        language -> :class:`UnlabeledText`; a language without such text is left out (the caller
        warns).

    Raises:
        ValueError: an unknown task; DatasetNotFoundError: no data folder;
        DataFormatError: a malformed line.
    """
    spec = get_task(task)
    kind = get_kind(spec.kind)
    out: dict[str, UnlabeledText] = {}
    for lang in langs:
        gold = list(evaluation.get(lang, []))
        if transductive:
            examples = strip_labels(kind, gold[:limit] if limit else gold)
            out[lang] = UnlabeledText(lang, examples, f"{spec.name} evaluation set of {lang} (transductive)",
                                      transductive=True, n_lines=len(examples))
            continue
        found = _builtin_file(spec, kind, lang, data_dir)
        if found is None:
            continue
        path, reader = found
        examples = reader(path, limit)
        kept, n_excluded = _without(examples, gold, kind)
        if kept:
            out[lang] = UnlabeledText(lang, kept, f"{spec.name} {path.name} (labels removed)" if kind is TOKEN
                                      else f"ntrex {path.name}", n_excluded=n_excluded, n_lines=len(examples),
                                      paths=[path])
    return out


def _builtin_file(spec, kind: TaskKind, lang: str, data_dir):
    """``(path, reader(path, limit) -> examples)`` of a language's built-in unlabelled text, or None."""
    if kind is TOKEN:
        train = split_files(spec, data_dir)["train"]
        try:
            code = match_language(lang, train, context=f"{spec.name} training files")
        except UnknownLanguageError:
            return None
        return train[code], lambda p, n: load_split(spec, p, limit=n)[0]
    try:
        files = {k: v for k, v in ntrex_languages(data_dir).items() if k != "eng"}
        code = match_language(lang, files, context="NTREX languages")
    except (UnknownLanguageError, DatasetNotFoundError):
        return None
    return files[code], lambda p, n: _raw_lines(p, kind, lang, n)[0]
