"""Formats of user data files, a registry of their readers, format detection and file languages.

``xlt transfer --train FILE --dev FILE --eval LANG=FILE ... --eval DIR --format F`` reads labelled
files that users bring in the formats this field uses. Every format has a reader with the
signature ``reader(path, options, limit) -> (examples, ReadStats)`` and follows the rules of
:mod:`xlt.data.readers` (UTF-8, errors name file and line, nothing dropped silently, ``limit``).
The examples are :class:`~xlt.data.readers.TaggedSentence` (token tasks),
:class:`~xlt.data.readers.TextExample` (text classification) or
:class:`~xlt.data.readers.PairExample` (sentence-pair classification).

Formats
-------
``conllu``
    CoNLL-U (Universal Dependencies); the label is the field ``ReadOptions.conllu_field``
    (``upos`` by default). See :func:`xlt.data.readers.read_conllu`.
``xtreme``
    XTREME ``token<TAB>label`` lines, a blank line between sentences (udpos, panx).
``sib200``
    SIB-200 ``index_id<TAB>category<TAB>text`` with that header line.
``conll``
    CoNLL-2002/2003 columns: one token per line, columns separated by a tab or by spaces, the
    token in column ``ReadOptions.token_column`` (default 0) and the tag in column
    ``ReadOptions.tag_column`` (default -1, the last); a blank line ends a sentence, and
    ``-DOCSTART-`` lines (with the blank line after them) are skipped and counted as
    ``docstart``::

        -DOCSTART- -X- -X- O

        EU NNP B-NP B-ORG
        rejects VBZ B-VP O

    The separator is the one of the first line (a tab if it has one, else spaces); a line using
    the other one is an error, so are lines with fewer columns than needed and a column count
    that changes inside the file. With tabs, tokens may contain spaces (``10 000<TAB>NUM``).
``csv`` / ``tsv``
    Tables with a header row, read with Python's :mod:`csv` module (quoted fields with commas,
    quotes or line breaks work, and fields of any length - the module's 131072-character limit is
    raised, see :func:`allow_long_csv_fields`; TSV tables follow the same quoting)::

        id,premise,hypothesis,label
        1,"He said ""hi"", then left.",He left.,entailment

``jsonl``
    One JSON object per line (``.jsonl``, ``.ndjson``; also ``.json``, which may instead hold
    one JSON list of objects)::

        {"text": "Great film", "label": 1}
        {"tokens": ["Anna", "lives"], "ner_tags": ["B-PER", "O"]}

``hf-disk``
    A folder written by ``datasets.Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``; a
    DatasetDict needs a split (``ReadOptions.split`` or ``FOLDER@split``). ``ClassLabel``
    labels (also ``Sequence(ClassLabel)`` tag lists) become their names.
``hf-hub``
    ``hf:NAME[:CONFIG][@SPLIT]`` loaded with ``datasets.load_dataset``; xlt works offline, so
    this only works for data sets in the local Hugging Face cache (or local folders).

Columns of tables (csv, tsv, jsonl, hf-disk, hf-hub)
----------------------------------------------------
All tables go through one function. With ``ReadOptions.text_column`` the user names the text
column (text classification), two columns (pair classification), or the column holding token
lists (token classification; then the label column holds tag lists). Without it:

1. token classification when a ``tokens``/``words`` column holds lists and a label column
   holds lists too (the first row decides);
2. else pair classification when a known pair is present - the first complete one of
   ``(premise, hypothesis)``, ``(sentence1, sentence2)``, ``(text, text_pair)``,
   ``(question, sentence)``, ``(question1, question2)`` - and no single text column outside
   that pair is (so ``text, text_pair`` and ``question, sentence`` are pairs); a single text
   column *and* an unrelated pair is ambiguous and an error;
3. else text classification with the first present of ``text, sentence, content, review,
   document``.

The label column is ``ReadOptions.label_column`` or the first present of ``label, labels,
category, class, ner_tags, tags, pos_tags, upos`` (for token tasks one holding lists).
Ids: ``ReadOptions.id_column``, else ``id``/``index_id``/``guid`` when present, else the record
number (1-based; the data row of CSV/TSV without the header, the line of JSONL, the row of a
Hugging Face dataset). Labels are kept as strings (``0`` -> ``'0'``); an empty label is an
error, an empty text is skipped and counted as ``empty_text``.

Languages of evaluation files
-----------------------------
:func:`language_from_filename` reads the language from a name (``test-de.tsv`` -> ``de``,
``dev-deu_Latn.conll`` -> ``deu_Latn``) and :func:`eval_files_in_dir` maps every data file of a
folder (or the ``test.*`` of every per-language subfolder, the SIB-200 layout) to its language.
"""

from __future__ import annotations

import csv
import errno
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import langcodes

from xlt.core.errors import XltError
from xlt.data.kinds import Example
from xlt.data.langs import UnknownLanguageError, iso639_3, script_of
from xlt.data.readers import (
    BLANK_LINE,
    CONLLU_LABEL_FIELDS,
    EMPTY_SENTENCE,
    EMPTY_TEXT,
    SIB200_HEADER,
    DataFormatError,
    PairExample,
    ReadStats,
    TaggedSentence,
    TextExample,
    _check_limit,
    add_token,
    _iter_lines,
    _show,
    read_conllu,
    read_sib200,
    read_xtreme_tsv,
)

#: Reason key in ``ReadStats.skipped`` for ``-DOCSTART-`` lines of CoNLL files.
DOCSTART = "docstart"

#: Default column names of tables, in order of preference.
TEXT_COLUMNS: tuple[str, ...] = ("text", "sentence", "content", "review", "document")
PAIR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("premise", "hypothesis"),
    ("sentence1", "sentence2"),
    ("text", "text_pair"),
    ("question", "sentence"),
    ("question1", "question2"),
)
TOKEN_COLUMNS: tuple[str, ...] = ("tokens", "words")
LABEL_COLUMNS: tuple[str, ...] = (
    "label", "labels", "category", "class", "ner_tags", "tags", "pos_tags", "upos",
)
ID_COLUMNS: tuple[str, ...] = ("id", "index_id", "guid")

#: Files of a folder written by ``datasets`` ``save_to_disk``.
DATASETS_FOLDER_FILES: tuple[str, ...] = ("dataset_info.json", "state.json", "dataset_dict.json")

HF_PREFIX = "hf:"

Reader = Callable[[Path, "ReadOptions", "int | None"], "tuple[list[Example], ReadStats]"]


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class ReadOptions:
    """How to read a file: which columns hold what.

    Attributes:
        text_column: for tables: one name (text classification), two names
            (``("premise", "hypothesis")``, pair classification), or the column of token lists
            (token classification). A single string is accepted and made a 1-tuple.
            ``None``: the default names (see the module docstring).
        label_column: for tables: the class label column, or the tag-list column.
        tag_column: CoNLL: 0-based column index of the tag; negative counts from the end
            (``-1``, the default, is the last column).
        token_column: CoNLL: 0-based column index of the token (negative counts from the end).
        conllu_field: CoNLL-U: the field used as label (``upos``, ``xpos``, ``lemma``,
            ``deprel``).
        split: the split of a Hugging Face ``DatasetDict`` (``train``, ``test``, ...).
        id_column: for tables: the column of example ids.

    Raises:
        ValueError: on construction, for an empty or repeated column name, more than two text
            columns, a non-integer column index, token and tag columns that are the same index,
            or an unknown ``conllu_field``.
    """

    text_column: tuple[str, ...] | None = None
    label_column: str | None = None
    tag_column: int = -1
    token_column: int = 0
    conllu_field: str = "upos"
    split: str | None = None
    id_column: str | None = None

    def __post_init__(self) -> None:
        text = self.text_column
        if text is not None:
            if isinstance(text, str):
                text = (text,)
            elif isinstance(text, Iterable):
                text = tuple(text)
            else:
                raise ValueError(f"text_column must be a name or names, got {text!r}")
            if not 1 <= len(text) <= 2:
                raise ValueError(
                    f"text_column takes one name (text) or two (text pair), got {len(text)}: {text!r}"
                )
            for name in text:
                _check_name("text_column", name)
            if len(set(text)) != len(text):
                raise ValueError(f"text_column names the same column twice: {text!r}")
            object.__setattr__(self, "text_column", text)
        for attr in ("label_column", "split", "id_column"):
            value = getattr(self, attr)
            if value is not None:
                _check_name(attr, value)
        if self.label_column is not None and self.text_column and self.label_column in self.text_column:
            raise ValueError(f"label_column {self.label_column!r} is also a text column")
        for attr in ("tag_column", "token_column"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{attr} must be an int column index, got {value!r}")
        if self.tag_column == self.token_column:
            raise ValueError(f"tag_column and token_column are both {self.tag_column}")
        if self.conllu_field not in CONLLU_LABEL_FIELDS:
            raise ValueError(
                f"conllu_field must be one of {sorted(CONLLU_LABEL_FIELDS)}, got {self.conllu_field!r}"
            )


def _check_name(attr: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attr} must be a non-empty string, got {value!r}")


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Format:
    """A file format and its reader.

    Attributes:
        name: the name given to ``--format`` (``conll``, ``csv``, ...).
        reader: ``reader(path, options, limit) -> (examples, stats)``.
        extensions: lower-case file name endings with the dot (``(".conll", ".txt")``) the
            format reads; used by :func:`eval_files_in_dir` and, for formats registered later,
            by :func:`detect_format`. Folder formats have none.
        description: one line for ``--help`` and error messages.
    """

    name: str
    reader: Reader
    extensions: tuple[str, ...] = ()
    description: str = ""


#: name -> :class:`Format`, in registration order.
FORMATS: dict[str, Format] = {}


def register_format(fmt: Format, *, replace: bool = False) -> Format:
    """Add a format to :data:`FORMATS`.

    Args:
        fmt: the format.
        replace: allow replacing a format of the same name.

    Returns:
        ``fmt``.

    Raises:
        ValueError: an empty name, extensions not starting with ``.``, or a name already
            registered (without ``replace``).
    """
    if not fmt.name or fmt.name != fmt.name.strip():
        raise ValueError(f"bad format name {fmt.name!r}")
    if not callable(fmt.reader):
        raise ValueError(f"format {fmt.name!r}: reader is not callable")
    for ext in fmt.extensions:
        if not ext.startswith(".") or ext != ext.lower():
            raise ValueError(f"format {fmt.name!r}: extension {ext!r} must be lower case, starting with '.'")
    if fmt.name in FORMATS and not replace:
        raise ValueError(f"format {fmt.name!r} is already registered")
    FORMATS[fmt.name] = fmt
    return fmt


def _format_names() -> str:
    return ", ".join(FORMATS)


def get_format(name: str) -> Format:
    """The registered format called ``name``.

    Raises:
        ValueError: no such format; the message lists the known ones.
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known formats: {_format_names()}") from None


# --------------------------------------------------------------------------- CoNLL columns
_SEP_NAMES = {"\t": "tabs", " ": "spaces"}


def _close(
    sentences: list, tokens: list[str], labels: list[str], stats: ReadStats, limit: int | None
) -> bool:
    """Append a non-empty sentence; True when ``limit`` is reached."""
    sentences.append(TaggedSentence(tokens, labels))
    if limit is not None and len(sentences) >= limit:
        stats.stopped_at_limit = True
        return True
    return False


def read_conll(
    path: str | Path, options: ReadOptions | None = None, limit: int | None = None
) -> tuple[list[TaggedSentence], ReadStats]:
    """Read a CoNLL column file (CoNLL-2002/2003 style) as tagged sentences.

    Args:
        path: the file; one token per line, columns separated by one tab or by spaces.
        options: ``token_column`` and ``tag_column`` pick the columns (default: first and last).
        limit: keep only the first ``limit`` non-empty sentences (``None``: all).

    Returns:
        ``(sentences, stats)``; ``-DOCSTART-`` lines are counted in ``stats.skipped['docstart']``
        (the blank line after one is not an empty sentence), empty sentences (two blank lines
        in a row) as ``empty_sentence``, empty tokens as ``blank_token``.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: a line using the other separator than the first line ("mixed
            separators"), fewer columns than the token/tag column need, a column count that
            differs from the first line's, an empty tag or one containing whitespace, bytes that
            are not UTF-8.
        ValueError: a negative ``limit``.
    """
    options = options or ReadOptions()
    _check_limit(limit)
    path = Path(path)
    stats = ReadStats(path=path)
    sentences: list[TaggedSentence] = []
    if limit == 0:
        stats.stopped_at_limit = True
        return sentences, stats
    sep: str | None = None
    sep_line = 0
    n_cols: int | None = None
    n_cols_line = 0
    tokens: list[str] = []
    labels: list[str] = []
    after_docstart = False
    for lineno, line in _iter_lines(path, stats):
        text = line.rstrip()
        if not text.strip():
            if after_docstart:
                after_docstart = False
            elif tokens:
                if _close(sentences, tokens, labels, stats, limit):
                    break
                tokens, labels = [], []
            else:
                stats.skipped[EMPTY_SENTENCE] += 1
            continue
        after_docstart = False
        if text.split(maxsplit=1)[0] == "-DOCSTART-":
            stats.skipped[DOCSTART] += 1
            after_docstart = True
            if tokens:
                if _close(sentences, tokens, labels, stats, limit):
                    break
                tokens, labels = [], []
            continue
        body = text.strip()
        line_sep = "\t" if "\t" in text else (" " if any(c.isspace() for c in body) else None)
        if line_sep is not None:
            if sep is None:
                sep, sep_line = line_sep, lineno
            elif line_sep != sep:
                raise DataFormatError(
                    path, lineno,
                    f"mixed separators: line {sep_line} separated the columns with {_SEP_NAMES[sep]}, "
                    f"but line {lineno} used {_SEP_NAMES[line_sep]}: {_show(line)}; use one separator "
                    f"in the whole file",
                )
        if line_sep == "\t":
            cells = text.split("\t")
        elif line_sep == " ":
            cells = body.split()
        else:
            cells = [body]
        n = len(cells)
        tag_i = options.tag_column if options.tag_column >= 0 else n + options.tag_column
        tok_i = options.token_column if options.token_column >= 0 else n + options.token_column
        if not (0 <= tag_i < n and 0 <= tok_i < n) or tag_i == tok_i:
            raise DataFormatError(
                path, lineno,
                f"expected a token column {options.token_column} and a different tag column "
                f"{options.tag_column}, found {n} column(s): {_show(line)}",
            )
        if n_cols is None:
            n_cols, n_cols_line = n, lineno
        elif n != n_cols:
            raise DataFormatError(
                path, lineno,
                f"{n} columns, but line {n_cols_line} had {n_cols}; every token line needs the same "
                f"number of columns: {_show(line)}",
            )
        token, tag = cells[tok_i].strip(), cells[tag_i].strip()
        if not tag:
            raise DataFormatError(path, lineno, f"empty tag in column {tag_i}: {_show(line)}")
        if any(c.isspace() for c in tag):
            raise DataFormatError(path, lineno, f"tag {tag!r} contains whitespace: {_show(line)}")
        add_token(token, tag, tokens, labels, stats)
    else:
        if tokens:
            sentences.append(TaggedSentence(tokens, labels))
    stats.n_read = len(sentences)
    return sentences, stats


# --------------------------------------------------------------------------- tables
@dataclass
class _Columns:
    """The columns a table is read with."""

    mode: str  # "text", "pair" or "token"
    text: tuple[str, ...]  # the text column(s); for "token" the token-list column
    label: str
    id: str | None


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _resolve_columns(
    path: Path, line: int, columns: Sequence[str], first: Mapping[str, Any] | None, options: ReadOptions
) -> _Columns:
    """Pick text/label/id columns from the column names and the first record (see module doc)."""
    present = set(columns)
    listing = ", ".join(columns) if columns else "(none)"

    def need(name: str, role: str) -> None:
        if name not in present:
            raise DataFormatError(path, line, f"no column {name!r} ({role}); columns are: {listing}")

    def holds_list(name: str | None) -> bool:
        return first is not None and name is not None and _is_list(first.get(name))

    if options.label_column is not None:
        need(options.label_column, "label column")
    if options.id_column is not None:
        need(options.id_column, "id column")

    if options.text_column is not None:
        for name in options.text_column:
            need(name, "text column")
        text = options.text_column
        if len(text) == 2:
            mode = "pair"
        else:
            mode = "token" if holds_list(text[0]) else "text"
    else:
        tok = next((c for c in TOKEN_COLUMNS if holds_list(c)), None)
        if options.label_column is not None:
            list_label = holds_list(options.label_column)
        else:
            list_label = any(holds_list(c) for c in LABEL_COLUMNS)
        single = next((c for c in TEXT_COLUMNS if c in present), None)
        pair = next((p for p in PAIR_COLUMNS if p[0] in present and p[1] in present), None)
        if tok is not None and list_label:
            mode, text = "token", (tok,)
        elif pair is not None and (single is None or single in pair):
            mode, text = "pair", pair
        elif pair is not None:
            raise DataFormatError(
                path, line,
                f"both a text column {single!r} and a text pair {pair} are present; name the text "
                f"column(s) (--text-column); columns are: {listing}",
            )
        elif single is not None:
            mode, text = "text", (single,)
        else:
            raise DataFormatError(
                path, line,
                f"no text column: looked for {', '.join(TEXT_COLUMNS)}, the pairs "
                f"{', '.join('/'.join(p) for p in PAIR_COLUMNS)} and token lists in "
                f"{', '.join(TOKEN_COLUMNS)}; name it (--text-column); columns are: {listing}",
            )

    if options.label_column is not None:
        label = options.label_column
    else:
        found = [c for c in LABEL_COLUMNS if c in present and c not in text]
        if first is not None:
            preferred = [c for c in found if holds_list(c) == (mode == "token")]
            found = preferred or found
        if not found:
            raise DataFormatError(
                path, line,
                f"no label column: looked for {', '.join(LABEL_COLUMNS)}; name it (--label-column); "
                f"columns are: {listing}",
            )
        label = found[0]
    if label in text:
        raise DataFormatError(path, line, f"column {label!r} cannot be both text and label")

    if options.id_column is not None:
        id_col: str | None = options.id_column
    else:
        id_col = next((c for c in ID_COLUMNS if c in present and c not in text and c != label), None)
    return _Columns(mode, tuple(text), label, id_col)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _no_surrogate(text: str, path: Path, line: int, column: str, where: str = "") -> str:
    """``text``, unless it holds a lone surrogate (a JSON escape like ``\\ud800`` without its pair),
    which is no character: a tokenizer or a UTF-8 output file would fail on it later."""
    found = _SURROGATE.search(text)
    if found:
        raise DataFormatError(
            path, line, f"column {column!r}{where} holds the lone surrogate {found.group()!r}, which is not "
            "text (a JSON escape like \\ud800 without the second half of its pair)"
        )
    return text


def _text_value(value: Any, path: Path, line: int, column: str) -> str:
    """A text cell as a stripped string (``''`` for missing)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (list, tuple, dict)):
        raise DataFormatError(path, line, f"column {column!r} holds a {type(value).__name__}, expected text")
    return _no_surrogate(str(value).strip(), path, line, column)


def _label_value(
    value: Any, names: Sequence[str] | None, path: Path, line: int, column: str, where: str = ""
) -> str:
    """A label cell as a non-empty string; ``ClassLabel`` ints become their names."""
    if isinstance(value, (list, tuple, dict)):
        raise DataFormatError(
            path, line, f"column {column!r}{where} holds a {type(value).__name__}, expected one label"
        )
    if value is None or (isinstance(value, float) and value != value):
        raise DataFormatError(path, line, f"empty label in column {column!r}{where}")
    if names is not None and isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < len(names):
            raise DataFormatError(
                path, line,
                f"label {value} in column {column!r}{where} is not a class of its ClassLabel "
                f"({len(names)} names: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''})"
                + ("; -1 marks an unlabelled example" if value == -1 else ""),
            )
        return names[value]
    label = _no_surrogate(str(value).strip(), path, line, column, where)
    if not label:
        raise DataFormatError(path, line, f"empty label in column {column!r}{where}")
    return label


def _table_examples(
    path: Path,
    columns: Sequence[str] | None,
    records: Iterator[tuple[int, str, Mapping[str, Any]]],
    options: ReadOptions,
    limit: int | None,
    stats: ReadStats,
    header_line: int = 1,
    label_names: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[Example], ReadStats]:
    """Examples from table records: the one code path of csv, tsv, jsonl and Hugging Face data.

    Args:
        path: the file, for messages.
        columns: the column names (a CSV header); ``None``: the keys of the first record.
        records: ``(line, fallback_id, row)`` per record.
        options: the columns to use.
        limit: as in the readers.
        stats: updated with skipped records.
        header_line: the line reported for unknown column names.
        label_names: column -> ``ClassLabel`` names, to turn integer labels into names.

    Returns:
        ``(examples, stats)`` with ``stats.n_read`` set, as every reader returns them.
    """
    examples = _collect_table_examples(path, columns, records, options, limit, stats, header_line, label_names)
    stats.n_read = len(examples)
    return examples, stats


def _collect_table_examples(path, columns, records, options, limit, stats, header_line, label_names) -> list[Example]:
    """The body of :func:`_table_examples`: the examples, in record order."""
    label_names = label_names or {}
    first = next(records, None)
    if columns is None:
        if first is None:
            return []
        columns = list(first[2])
        header_line = first[0]
    cols = _resolve_columns(path, header_line, columns, first[2] if first else None, options)
    examples: list[Example] = []
    if limit == 0:
        stats.stopped_at_limit = True
        return examples
    if first is None:
        return examples
    names = label_names.get(cols.label)
    wanted = (*cols.text, cols.label, *((cols.id,) if cols.id else ()))

    def chained() -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        yield first
        yield from records

    for line, fallback_id, row in chained():
        for name in wanted:
            if name not in row:
                raise DataFormatError(
                    path, line, f"no column {name!r} in this record; it has: {', '.join(row) or '(none)'}"
                )
        if cols.mode == "token":
            example = _token_record(path, line, row, cols, names, stats)
        else:
            texts = [_text_value(row[c], path, line, c) for c in cols.text]
            if not all(texts):
                stats.skipped[EMPTY_TEXT] += 1
                continue
            label = _label_value(row[cols.label], names, path, line, cols.label)
            if cols.id is not None:
                ex_id = _text_value(row[cols.id], path, line, cols.id)
                if not ex_id:
                    raise DataFormatError(path, line, f"empty id in column {cols.id!r}")
            else:
                ex_id = fallback_id
            if cols.mode == "pair":
                example = PairExample(ex_id, texts[0], texts[1], label)
            else:
                example = TextExample(ex_id, texts[0], label)
        if example is None:
            continue
        examples.append(example)
        if limit is not None and len(examples) >= limit:
            stats.stopped_at_limit = True
            break
    return examples


def _token_record(
    path: Path, line: int, row: Mapping[str, Any], cols: _Columns, names: Sequence[str] | None,
    stats: ReadStats,
) -> TaggedSentence | None:
    """One token-list record as a sentence (``None``: empty, counted)."""
    tok_col = cols.text[0]
    raw_tokens, raw_tags = row[tok_col], row[cols.label]
    if not _is_list(raw_tokens):
        raise DataFormatError(
            path, line, f"column {tok_col!r} should hold a list of tokens, found {raw_tokens!r}"
        )
    if not _is_list(raw_tags):
        raise DataFormatError(
            path, line, f"column {cols.label!r} should hold a list of tags, found {raw_tags!r}"
        )
    if len(raw_tokens) != len(raw_tags):
        raise DataFormatError(
            path, line, f"{len(raw_tokens)} tokens in {tok_col!r} but {len(raw_tags)} tags in {cols.label!r}"
        )
    tokens: list[str] = []
    labels: list[str] = []
    for i, (tok, tag) in enumerate(zip(raw_tokens, raw_tags)):
        label = _label_value(tag, names, path, line, cols.label, f" (token {i + 1})")
        add_token(_text_value(tok, path, line, tok_col), label, tokens, labels, stats)
    if not tokens:
        stats.skipped[EMPTY_SENTENCE] += 1
        return None
    return TaggedSentence(tokens, labels)


def allow_long_csv_fields() -> int:
    """Raise the :mod:`csv` module's field size limit to the largest value the platform takes.

    Python's default limit is 131072 characters per field, so a table with one long text (a whole
    document in a cell) fails with "field larger than field limit". The limit is process-wide: it
    is raised when this module is imported (so every reader of tables in xlt has it) and again
    before each table is read (in case other code lowered it).

    Returns:
        The limit now in force (``sys.maxsize`` where the C ``long`` holds it, else the largest
        power-of-two fraction of it that does).
    """
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return limit
        except OverflowError:  # a 32-bit C long (Windows)
            limit //= 2


allow_long_csv_fields()


def _read_delimited(
    path: Path, options: ReadOptions, limit: int | None, delimiter: str
) -> tuple[list, ReadStats]:
    _check_limit(limit)
    allow_long_csv_fields()
    path = Path(path)
    stats = ReadStats(path=path)
    lines = (text + "\n" for _, text in _iter_lines(path, stats))
    reader = csv.reader(lines, delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[str]]]:
        start = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataFormatError(
                    path, reader.line_num, f"bad {delimiter!r}-separated row: {exc}"
                ) from exc
            if row and (len(row) > 1 or row[0].strip()):
                yield start, row
            else:
                stats.skipped[BLANK_LINE] += 1
            start = reader.line_num + 1

    numbered = rows()
    head = next(numbered, None)
    if head is None:
        return [], stats
    header_line, header = head
    header = [c.strip() for c in header]
    seen: set[str] = set()
    for name in header:
        if not name:
            raise DataFormatError(path, header_line, f"empty column name in the header row {header!r}")
        if name in seen:
            raise DataFormatError(path, header_line, f"column {name!r} appears twice in the header row")
        seen.add(name)

    def records() -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        for n, (line, row) in enumerate(numbered, 1):
            if len(row) != len(header):
                raise DataFormatError(
                    path, line,
                    f"{len(row)} fields, but the header row has {len(header)} ({', '.join(header)})",
                )
            yield line, str(n), dict(zip(header, row))

    return _table_examples(path, header, records(), options, limit, stats, header_line)


def read_csv(
    path: str | Path, options: ReadOptions | None = None, limit: int | None = None
) -> tuple[list, ReadStats]:
    """Read a comma-separated table with a header row.

    Returns:
        ``(examples, stats)``: :class:`TextExample`, or :class:`PairExample` for two text
        columns (columns as in the module docstring); empty texts are counted as
        ``empty_text``, blank lines as ``blank_line``.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: an unknown column name (lists the columns), a row with another number
            of fields than the header, an empty label, a CSV syntax error, bytes that are not
            UTF-8 - all naming the line.
        ValueError: a negative ``limit``.
    """
    return _read_delimited(Path(path), options or ReadOptions(), limit, ",")


def read_tsv_table(
    path: str | Path, options: ReadOptions | None = None, limit: int | None = None
) -> tuple[list, ReadStats]:
    """Read a tab-separated table with a header row (CSV quoting rules); as :func:`read_csv`."""
    return _read_delimited(Path(path), options or ReadOptions(), limit, "\t")


def _unreadable_json(exc: ValueError | RecursionError) -> str:
    """What is wrong with JSON that the decoder gave up on without a ``JSONDecodeError``: an integer
    with more digits than ``int()`` reads, or nesting deeper than the recursion limit."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply to read"
    return f"a JSON number that cannot be read ({str(exc).split(';')[0]})"


def _json_array_records(path: Path, stats: ReadStats) -> Iterator[tuple[int, str, Any]]:
    """``(line, item number, item)`` of a file holding one JSON list."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFormatError(path, line, f"not valid UTF-8 ({exc.reason})") from exc
    stats.n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    decoder = json.JSONDecoder()
    ws = re.compile(r"\s*")

    def line_at(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    pos = ws.match(text, 0).end()
    if text[pos : pos + 1] != "[":
        raise DataFormatError(path, line_at(pos), "expected a JSON list of objects")
    pos = ws.match(text, pos + 1).end()
    if text[pos : pos + 1] == "]":
        return
    n = 0
    while True:
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, exc.lineno, f"not valid JSON: {exc.msg}") from exc
        except (ValueError, RecursionError) as exc:
            raise DataFormatError(path, line_at(pos), _unreadable_json(exc)) from None
        n += 1
        yield line_at(pos), str(n), item
        pos = ws.match(text, end).end()
        nxt = text[pos : pos + 1]
        if nxt == "]":
            if text[ws.match(text, pos + 1).end() :]:
                raise DataFormatError(path, line_at(pos + 1), "text after the end of the JSON list")
            return
        if nxt != ",":
            raise DataFormatError(path, line_at(pos), "expected ',' or ']' in the JSON list")
        pos = ws.match(text, pos + 1).end()


def _jsonl_records(path: Path, stats: ReadStats) -> Iterator[tuple[int, str, Any]]:
    for lineno, line in _iter_lines(path, stats):
        if not line.strip():
            stats.skipped[BLANK_LINE] += 1
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, lineno, f"not valid JSON: {exc.msg} (column {exc.colno})") from exc
        except (ValueError, RecursionError) as exc:
            raise DataFormatError(path, lineno, _unreadable_json(exc)) from None
        yield lineno, str(lineno), item


def _starts_with_bracket(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096)
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")


def read_jsonl(
    path: str | Path, options: ReadOptions | None = None, limit: int | None = None
) -> tuple[list, ReadStats]:
    """Read JSON lines (one object per line); a file starting with ``[`` is read as one JSON list.

    Returns:
        ``(examples, stats)``: :class:`TextExample`, :class:`PairExample`, or
        :class:`TaggedSentence` for token-list records (columns as in the module docstring);
        the fallback id is the line number (the item number in a JSON list).

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: invalid JSON (also a number too long to read, nesting too deep), a record
            that is not an object, an unknown or missing column, an empty label, tags that do not
            match the tokens, a text or label with a lone surrogate (``\\ud800``) - naming the line.
        ValueError: a negative ``limit``.
    """
    options = options or ReadOptions()
    _check_limit(limit)
    path = Path(path)
    stats = ReadStats(path=path)
    source = _json_array_records(path, stats) if _starts_with_bracket(path) else _jsonl_records(path, stats)

    def records() -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        for line, fallback, item in source:
            if not isinstance(item, dict):
                raise DataFormatError(path, line, f"expected a JSON object, found {type(item).__name__}")
            yield line, fallback, item

    return _table_examples(path, None, records(), options, limit, stats)


# --------------------------------------------------------------------------- Hugging Face datasets
def _class_names(feature: Any) -> list[str] | None:
    """The names of a ``ClassLabel`` feature, or of the ``ClassLabel`` inside a sequence."""
    names = getattr(feature, "names", None)
    if isinstance(names, list) and hasattr(feature, "str2int"):
        return list(names)
    inner = getattr(feature, "feature", None)
    if inner is not None and inner is not feature:
        return _class_names(inner)
    return None


def _pick_split(obj: Any, split: str | None, where: str) -> Any:
    """The ``Dataset`` of a ``Dataset``/``DatasetDict`` for ``split``."""
    import datasets

    if isinstance(obj, datasets.DatasetDict):
        splits = list(obj)
        if split is None:
            raise ValueError(
                f"{where} holds a DatasetDict with splits {', '.join(splits)}; choose one "
                f"(ReadOptions.split, --split, or '{where}@SPLIT')"
            )
        if split not in obj:
            raise ValueError(f"{where} has no split {split!r}; its splits are: {', '.join(splits)}")
        return obj[split]
    if isinstance(obj, datasets.Dataset):
        if split is not None and obj.split is not None and str(obj.split) != split:
            raise ValueError(f"{where} holds a single Dataset of split {obj.split}, not {split!r}")
        return obj
    raise ValueError(f"{where}: expected a datasets Dataset or DatasetDict, got {type(obj).__name__}")


def _dataset_examples(
    ds: Any, path: Path, options: ReadOptions, limit: int | None
) -> tuple[list, ReadStats]:
    """Examples of a ``datasets.Dataset`` through the table code."""
    stats = ReadStats(path=path)
    label_names = {}
    for name, feature in ds.features.items():
        names = _class_names(feature)
        if names is not None:
            label_names[name] = names
    first = ds[0] if len(ds) else None
    cols = _resolve_columns(path, 1, list(ds.column_names), first, options)
    keep = list(dict.fromkeys((*cols.text, cols.label, *((cols.id,) if cols.id else ()))))
    ds = ds.select_columns(keep)
    fixed = ReadOptions(text_column=cols.text, label_column=cols.label, id_column=cols.id)

    def records() -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        for i, row in enumerate(ds, 1):
            stats.n_lines = i
            yield i, str(i), row

    return _table_examples(path, keep, records(), fixed, limit, stats, label_names=label_names)


def read_hf_disk(
    path: str | Path, options: ReadOptions | None = None, limit: int | None = None
) -> tuple[list, ReadStats]:
    """Read a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``.

    Args:
        path: the folder (a ``FOLDER@split`` suffix is handled by :func:`read_examples`).
        options: ``split`` chooses the split of a DatasetDict; columns as for tables.
        limit: keep the first ``limit`` examples.

    Returns:
        ``(examples, stats)`` as for :func:`read_jsonl`; ``ClassLabel`` ids (also in tag
        lists) become their names; the fallback id is the 1-based row number.

    Raises:
        FileNotFoundError: no such folder.
        ValueError: not a datasets folder, a DatasetDict without a (known) split - listing the
            splits.
        DataFormatError: unknown columns, empty labels, ... (line = row number).
    """
    options = options or ReadOptions()
    _check_limit(limit)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(path))
    if not is_datasets_folder(path):
        raise ValueError(
            f"{path} is not a folder written by datasets' save_to_disk (none of "
            f"{', '.join(DATASETS_FOLDER_FILES)} in it)"
        )
    import datasets

    obj = datasets.load_from_disk(str(path))
    ds = _pick_split(obj, options.split, str(path))
    return _dataset_examples(ds, path, options, limit)


def parse_hf_spec(spec: str) -> tuple[str, str | None, str | None]:
    """Split ``hf:NAME[:CONFIG][@SPLIT]`` into ``(name, config, split)``.

    Examples: ``'hf:xnli:de@test'`` -> ``('xnli', 'de', 'test')``;
    ``'hf:org/data'`` -> ``('org/data', None, None)``.

    Raises:
        ValueError: no ``hf:`` prefix or an empty name, config or split.
    """
    if not spec.startswith(HF_PREFIX):
        raise ValueError(f"{spec!r} is not a Hugging Face spec 'hf:NAME[:CONFIG][@SPLIT]'")
    rest = spec[len(HF_PREFIX):]
    split = None
    if "@" in rest:
        rest, split = rest.rsplit("@", 1)
        if not split:
            raise ValueError(f"{spec!r}: empty split after '@'")
    config = None
    if ":" in rest:
        rest, config = rest.rsplit(":", 1)
        if not config:
            raise ValueError(f"{spec!r}: empty config after ':'")
    if not rest:
        raise ValueError(f"{spec!r}: no data set name; expected 'hf:NAME[:CONFIG][@SPLIT]'")
    return rest, config, split


def read_hf_hub(
    path: str | Path, options: ReadOptions | None = None, limit: int | None = None
) -> tuple[list, ReadStats]:
    """Load ``hf:NAME[:CONFIG][@SPLIT]`` with ``datasets.load_dataset`` and read it as a table.

    xlt runs offline: the data set must be in the local Hugging Face cache (or ``NAME`` a local
    folder ``load_dataset`` understands). The split is the ``@SPLIT`` of the spec or
    ``options.split``.

    Returns:
        As :func:`read_hf_disk`.

    Raises:
        ValueError: a malformed spec, a data set that could not be loaded (offline), a split
            missing or unknown (listing the splits).
        DataFormatError: unknown columns, empty labels, ... (line = row number).
    """
    options = options or ReadOptions()
    _check_limit(limit)
    spec = str(path)
    name, config, split = parse_hf_spec(spec)
    if split is not None and options.split is not None and split != options.split:
        raise ValueError(f"{spec!r} names split {split!r} but the options ask for {options.split!r}")
    split = split or options.split
    import datasets

    try:
        obj = datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # the datasets library raises many kinds; all mean "not loadable"
        raise ValueError(
            f"could not load the Hugging Face data set {spec!r} (name {name!r}, config {config!r}, "
            f"split {split!r}); xlt works offline, so it must be in the local Hugging Face cache or "
            f"a local folder - save it with save_to_disk and pass the folder instead: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    ds = _pick_split(obj, split, spec)
    return _dataset_examples(ds, Path(spec), options, limit)


# --------------------------------------------------------------------------- built-in formats
def _read_conllu(path: Path, options: ReadOptions, limit: int | None) -> tuple[list, ReadStats]:
    return read_conllu(path, label_field=options.conllu_field, limit=limit)


def _read_xtreme(path: Path, options: ReadOptions, limit: int | None) -> tuple[list, ReadStats]:
    return read_xtreme_tsv(path, limit=limit)


def _read_sib200(path: Path, options: ReadOptions, limit: int | None) -> tuple[list, ReadStats]:
    return read_sib200(path, limit=limit)


_CONLL_EXTENSIONS = (".conll", ".txt", ".bio", ".iob", ".iob2", ".bioes", ".ner")

for _fmt in (
    Format("conllu", _read_conllu, (".conllu",),
           "CoNLL-U (Universal Dependencies); label field --conllu-field (default upos)"),
    Format("conll", read_conll, (*_CONLL_EXTENSIONS, ".tsv"),
           "CoNLL columns 'EU NNP B-NP B-ORG' (tab or spaces), tag in the last column (--tag-column), "
           "blank line between sentences, -DOCSTART- skipped"),
    Format("xtreme", _read_xtreme, (".tsv",), "XTREME 'token<TAB>label' lines (udpos, panx)"),
    Format("sib200", _read_sib200, (".tsv",), "SIB-200 'index_id<TAB>category<TAB>text' with header"),
    Format("csv", read_csv, (".csv",),
           "comma-separated table with a header row (text,label / premise,hypothesis,label)"),
    Format("tsv", read_tsv_table, (".tsv",), "tab-separated table with a header row (text<TAB>label)"),
    Format("jsonl", read_jsonl, (".jsonl", ".ndjson", ".json"),
           'JSON lines {"text": ..., "label": ...} or {"tokens": [...], "ner_tags": [...]}'),
    Format("hf-disk", read_hf_disk, (),
           "folder written by datasets' save_to_disk (FOLDER@split for a DatasetDict)"),
    Format("hf-hub", read_hf_hub, (), "hf:NAME[:CONFIG][@SPLIT] from the local Hugging Face cache"),
):
    register_format(_fmt)
del _fmt

_BUILTIN_EXTENSIONS: dict[str, str] = {
    ".conllu": "conllu",
    **{ext: "conll" for ext in _CONLL_EXTENSIONS},
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


# --------------------------------------------------------------------------- detection
def is_datasets_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``datasets`` ``save_to_disk``."""
    path = Path(path)
    return path.is_dir() and any((path / f).is_file() for f in DATASETS_FOLDER_FILES)


def _split_suffix(path: str | Path) -> tuple[Path, str | None]:
    """``FOLDER@split`` -> ``(FOLDER, 'split')`` when ``FOLDER`` is a datasets folder."""
    text = str(path)
    if "@" in Path(text).name and not Path(text).exists():
        base, split = text.rsplit("@", 1)
        if split and is_datasets_folder(base):
            return Path(base), split
    return Path(text), None


def _sniff_tsv(path: Path, options: ReadOptions) -> str:
    stats = ReadStats(path=path)
    lines: list[str] = []
    numbered = _iter_lines(path, stats)
    try:
        for lineno, line in numbered:
            lines.append(line)
            if lineno >= 200:
                break
    finally:
        numbered.close()
    first = next((line for line in lines if line.strip()), "")
    cells = [c.strip() for c in first.split("\t")]
    if tuple(cells) == SIB200_HEADER:
        return "sib200"
    present = set(cells)
    given = [*(options.text_column or ()), *((options.label_column,) if options.label_column else ())]
    if given and all(name in present for name in given):
        return "tsv"
    has_text = any(c in present for c in TEXT_COLUMNS) or any(
        a in present and b in present for a, b in PAIR_COLUMNS
    )
    if has_text and any(c in present for c in LABEL_COLUMNS):
        return "tsv"
    data = [line.rstrip() for line in lines if line.strip()]
    if any(line.split(maxsplit=1)[0] == "-DOCSTART-" for line in data):
        return "conll"
    if data and all(len(line.split("\t")) == 2 for line in data):
        return "xtreme"
    return "conll"


def detect_format(path: str | Path, options: ReadOptions | None = None) -> str:
    """The format name of a file, folder or ``hf:`` spec.

    Rules: ``hf:...`` -> ``hf-hub``; a ``save_to_disk`` folder (also ``FOLDER@split``) ->
    ``hf-disk``; by extension (case-insensitive): ``.conllu`` -> ``conllu``; ``.conll``,
    ``.txt``, ``.bio``, ``.iob``, ``.iob2``, ``.bioes``, ``.ner`` -> ``conll``; ``.csv`` ->
    ``csv``; ``.jsonl``, ``.ndjson``, ``.json`` -> ``jsonl``. A ``.tsv`` file is looked at:
    the SIB-200 header ``index_id<TAB>category<TAB>text`` -> ``sib200``; a first line naming
    the given text/label columns, or a default text column (or pair) and a default label column
    -> ``tsv``; else ``xtreme`` if every non-blank line of the first 200 has exactly two
    tab-separated columns (and none is ``-DOCSTART-``), else ``conll``. Extensions of formats
    registered later are looked up in :data:`FORMATS`.

    Raises:
        FileNotFoundError: no such file or folder.
        ValueError: a folder that is not a datasets folder, or an extension no format claims
            (the message lists the format names for ``--format``).
        DataFormatError: a ``.tsv`` file that is not UTF-8.
    """
    options = options or ReadOptions()
    if str(path).startswith(HF_PREFIX):
        return "hf-hub"
    path, split = _split_suffix(path)
    if split is not None:
        return "hf-disk"
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file or folder", str(path))
    if path.is_dir():
        if is_datasets_folder(path):
            return "hf-disk"
        raise ValueError(
            f"{path} is a folder, not a data file, and not a folder written by datasets' save_to_disk "
            f"(no {', '.join(DATASETS_FOLDER_FILES)})"
        )
    ext = path.suffix.lower()
    if ext == ".tsv":
        return _sniff_tsv(path, options)
    if ext in _BUILTIN_EXTENSIONS:
        return _BUILTIN_EXTENSIONS[ext]
    claimed = [f.name for f in FORMATS.values() if ext and ext in f.extensions]
    if len(claimed) == 1:
        return claimed[0]
    raise ValueError(
        f"cannot tell the format of {path} from its extension {ext or '(none)'!r}; pass --format "
        f"with one of: {_format_names()}"
    )


def read_examples(
    path: str | Path,
    format: str | None = None,
    options: ReadOptions | None = None,
    limit: int | None = None,
) -> tuple[list[Example], ReadStats]:
    """Read a data file (folder, ``hf:`` spec) in a given or detected format.

    Args:
        path: a file, a ``save_to_disk`` folder (``FOLDER@split`` selects a split), or
            ``hf:NAME[:CONFIG][@SPLIT]``.
        format: a name in :data:`FORMATS`; ``None``: :func:`detect_format`.
        options: columns, tag column, split (default :class:`ReadOptions()`).
        limit: keep the first ``limit`` examples (``None``: all).

    Returns:
        ``(examples, stats)``. A file without examples gives ``([], stats)``; the caller decides
        whether that is an error.

    Raises:
        FileNotFoundError: no such file or folder (names it).
        ValueError: an unknown format, a folder where a file is expected (or a file where a
            folder is), an undetectable format, a split given twice differently, a negative
            ``limit``.
        DataFormatError: a malformed line (names file and line).
    """
    options = options if options is not None else ReadOptions()
    _check_limit(limit)
    text = str(path)
    if text.startswith(HF_PREFIX):
        if format not in (None, "hf-hub"):
            raise ValueError(f"{text!r} is a Hugging Face spec; format {format} reads files")
        return get_format("hf-hub").reader(Path(text), options, limit)
    path, split = _split_suffix(path)
    if split is not None:
        if options.split is not None and options.split != split:
            raise ValueError(f"{text} names split {split!r} but the options ask for {options.split!r}")
        options = replace(options, split=split)
    if format is not None:
        fmt = get_format(format)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file or folder", str(path))
    if format is None:
        fmt = get_format(detect_format(path, options))
    if fmt.name == "hf-disk":
        if not path.is_dir():
            raise ValueError(f"{path} is a file; format hf-disk reads a folder written by save_to_disk")
    elif fmt.name == "hf-hub":
        raise ValueError(f"format hf-hub takes 'hf:NAME[:CONFIG][@SPLIT]', not {text!r}")
    elif path.is_dir():
        raise ValueError(f"{path} is a folder; format {fmt.name} reads a file")
    elif split is not None:
        raise ValueError(f"{text}: '@{split}' selects a split of a datasets folder, not of a {fmt.name} file")
    return fmt.reader(path, options, limit)


# --------------------------------------------------------------------------- languages of files
class FileLanguageError(XltError, ValueError):
    """The language of a file cannot be read from its name, or two files have the same language.

    Attributes:
        path: the file (the first one, for duplicates).
        candidates: the language codes found in the name (several, or none).
    """

    def __init__(self, path: str | Path, message: str, candidates: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.path = Path(path)
        self.candidates = tuple(candidates)


#: Components of a file name that are never its language.
SPLIT_WORDS = frozenset({"train", "dev", "test", "valid", "validation", "val", "eval", "evaluation"})
#: Two- and three-letter words common in file names that are also language codes; not languages
#: in a file name (``in`` is the old code of Indonesian, ``per`` the NER class and Persian).
_NOT_LANGUAGES = frozenset(
    """in arm bis cat chi cor div geo ger hat her ice lit mac may mon nav per run sag sin slo sun ton
    vol wel""".split()
)
#: Three-letter words common in data file names that are also ISO 639-3 codes of languages
#: without a two-letter code; never taken as a language, not even as a weak candidate.
_FILE_WORDS = frozenset(
    """all and bio big dat doc dum ewt gsd iob lab mix new ner out pos raw ref set src tag tgt the
    tok txt xml""".split()
)
_TOKEN_RE = re.compile(r"[^._\-\s@]+")


def _known_extensions() -> set[str]:
    return {ext for f in FORMATS.values() for ext in f.extensions}


def _is_code(code: str) -> bool:
    try:
        iso639_3(code)
    except UnknownLanguageError:
        return False
    return True


def _plain_language(token: str) -> bool:
    """A lone 2-3 letter component that is a language code (see :func:`language_from_filename`)."""
    low = token.lower()
    if not token.isascii() or not token.isalpha() or low in _NOT_LANGUAGES or low in SPLIT_WORDS:
        return False
    if len(token) == 2:
        return _is_code(low)
    if len(token) == 3:
        if not _is_code(low):
            return False
        # only three-letter codes of languages that also have a two-letter code (deu, fra, swa)
        return len(langcodes.Language.get(low).language or "") == 2
    return False


def _weak_language(token: str) -> bool:
    """A lone three-letter ISO 639-3 code of a language without a two-letter code (``pcm``,
    ``fon``, ``bam``): used only when the name holds no stronger candidate."""
    low = token.lower()
    if len(token) != 3 or not token.isascii() or not token.isalpha() or low in _FILE_WORDS:
        return False
    if low in _NOT_LANGUAGES or low in SPLIT_WORDS:
        return False
    return _is_code(low)


def _code_with_subtag(lang: str, sub: str) -> bool:
    """``deu`` + ``Latn`` or ``pt`` + ``BR``: a language code with a script or region subtag."""
    if not (lang.isascii() and lang.isalpha() and lang.islower() and 2 <= len(lang) <= 3):
        return False
    if lang in _NOT_LANGUAGES or lang in SPLIT_WORDS:
        return False
    is_script = len(sub) == 4 and sub.isascii() and sub.isalpha() and sub[0].isupper() and sub[1:].islower()
    is_region = (len(sub) == 2 and sub.isascii() and sub.isalpha() and sub.isupper()) or (
        len(sub) == 3 and sub.isdigit()
    )
    return (is_script or is_region) and _is_code(f"{lang}-{sub}")


def _name_stem(path: Path) -> str:
    name = path.name
    if "@" in name:
        name = name.rsplit("@", 1)[0]
    if not path.is_dir():
        suffix = Path(name).suffix
        if suffix.lower() in _known_extensions():
            name = name[: -len(suffix)]
    return name


def language_from_filename(path: str | Path) -> str:
    """The language code in a file (or folder) name, as written there.

    The name, without a known data extension (and without a ``@split`` suffix), is split at
    ``.``, ``-``, ``_`` and whitespace. A language code with a script or region
    (``deu_Latn``, ``zh-Hans``, ``pt-BR``) is one candidate; otherwise a component is a
    candidate when it is a two-letter language code, or a three-letter code of a language that
    also has a two-letter one (``deu``, ``swa``; ``ner``, ``set`` or ``pos`` are not). When the
    name has no such candidate, one other ISO 639-3 code (``pcm``, ``fon``: languages without a
    two-letter code) is taken, and failing that the name of the file's folder (``pcm/test.txt``,
    MasakhaNER's layout). Split
    words (train, dev, test, valid, validation, eval) and a few English words that happen to be
    codes (``cat``, ``per``, ``run``, ``sun``, ``in``, ...) never count. Examples::

        test-de.tsv -> 'de'          dev-deu_Latn.conll -> 'deu_Latn'
        de.csv -> 'de'               xnli.fr.test.jsonl -> 'fr'
        sw_test.csv -> 'sw'          ner-test-sw.conll -> 'sw'

    Returns:
        The code as spelled in the name.

    Raises:
        FileLanguageError: (a ``ValueError``) no candidate, or several different ones
            (``test.tsv``, ``data.csv``, ``en-de.tsv``); the message names the file and says to
            use ``--eval LANG=FILE``.
    """
    path = Path(path)
    found = _name_candidates(_name_stem(path))
    if not found and path.parent.name:  # a language folder: swa/test.txt, pcm/dev.conll
        found = _name_candidates(path.parent.name, whole=True)
    if len(found) == 1:
        return found[0]
    if not found:
        what = "no language code"
    else:
        what = f"several language codes ({', '.join(found)})"
    raise FileLanguageError(
        path,
        f"{path}: found {what} in the file name; name the language with --eval LANG={path}",
        found,
    )


def _name_candidates(stem: str, whole: bool = False) -> list[str]:
    """Language codes in a name: strong candidates, else (if exactly one) a weak one.

    ``whole=True`` (folder names): only the whole name counts.
    """
    tokens = [m.group(0) for m in _TOKEN_RE.finditer(stem)]
    spans = [m.span() for m in _TOKEN_RE.finditer(stem)]
    if whole and len(tokens) > 2:
        return []
    found: list[str] = []
    weak: list[str] = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and _code_with_subtag(tokens[i], tokens[i + 1]):
            found.append(stem[spans[i][0] : spans[i + 1][1]])
            i += 2
            continue
        if whole and len(tokens) > 1:
            return []
        if _plain_language(tokens[i]):
            found.append(tokens[i])
        elif _weak_language(tokens[i]):
            weak.append(tokens[i])
        i += 1
    found = list(dict.fromkeys(found))
    weak = list(dict.fromkeys(weak))
    return found or weak  # one weak candidate is taken; several are reported as ambiguous


@dataclass
class _Variant:
    code: str
    lang3: str
    script: str | None
    region: str | None


def _variant(code: str) -> _Variant:
    return _Variant(
        code, iso639_3(code), script_of(code), langcodes.Language.get(code.replace("_", "-")).territory
    )


def _same_variant(a: _Variant, b: _Variant) -> bool:
    """Same language, and script and region do not differ where both name one."""
    if a.lang3 != b.lang3:
        return False
    if a.script and b.script and a.script != b.script:
        return False
    return not (a.region and b.region and a.region != b.region)


class EvalFiles(dict):
    """``{language code: path}`` found by :func:`eval_files_in_dir`, in name order.

    Attributes:
        skipped: names of entries that were left out (README files, ``labels.txt``, files with
            an extension no format reads, subfolders without a ``test.*`` file), for reports.
    """

    def __init__(self, items: Iterable[tuple[str, Path]] = (), skipped: Iterable[str] = ()) -> None:
        super().__init__(items)
        self.skipped: list[str] = list(skipped)


def eval_files_in_dir(directory: str | Path, format: str | None = None) -> EvalFiles:
    """Every evaluation file of a folder, keyed by the language in its name.

    Taken, in name order: files with an extension of ``format`` (default: of any format), e.g.
    ``test-de.conll``, ``fr.csv``; ``save_to_disk`` folders (when ``format`` is ``None`` or
    ``hf-disk``), language from the folder name; and per-language subfolders holding one
    ``test.*`` data file (the SIB-200 layout ``deu_Latn/test.tsv``), language from the
    subfolder name. Hidden entries are ignored; ``README*``, ``labels.txt``, files with other
    extensions and subfolders without a ``test.*`` are left out and listed in ``skipped``.

    Returns:
        An :class:`EvalFiles` dict ``{code: path}`` (empty when nothing was found) with the
        ``skipped`` names.

    Raises:
        FileNotFoundError / NotADirectoryError: ``directory`` is missing / not a folder.
        ValueError: an unknown ``format``; a subfolder with several ``test.*`` files.
        FileLanguageError: a name without exactly one language code (use ``--eval LANG=FILE``),
            or two entries of the same language (names both).
    """
    directory = Path(directory)
    if not directory.exists():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(directory))
    if not directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(directory))
    if format is not None:
        fmt = get_format(format)
        extensions = set(fmt.extensions)
        take_datasets = fmt.name == "hf-disk"
    else:
        extensions = _known_extensions()
        take_datasets = True
    found: list[tuple[str, Path]] = []
    skipped: list[str] = []
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        name = entry.name
        if name.startswith("."):
            continue
        if entry.is_dir():
            if is_datasets_folder(entry):
                if take_datasets:
                    found.append((language_from_filename(entry), entry))
                else:
                    skipped.append(name + "/")
                continue
            tests = sorted(
                p for p in entry.iterdir()
                if p.is_file() and p.stem == "test" and p.suffix.lower() in extensions
            )
            if len(tests) > 1:
                raise ValueError(
                    f"{entry}: several test files ({', '.join(p.name for p in tests)}); pass one with "
                    f"--eval LANG=FILE"
                )
            if tests:
                found.append((language_from_filename(entry), tests[0]))
            else:
                skipped.append(name + "/")
            continue
        lower = name.lower()
        if lower.startswith("readme") or lower == "labels.txt" or entry.suffix.lower() not in extensions:
            skipped.append(name)
            continue
        found.append((language_from_filename(entry), entry))

    result = EvalFiles(skipped=skipped)
    variants: list[tuple[_Variant, Path]] = []
    for code, path in found:
        var = _variant(code)
        for other, other_path in variants:
            if _same_variant(var, other):
                raise FileLanguageError(
                    path,
                    f"{other_path} ({other.code}) and {path} ({code}) are both for the same language; "
                    f"keep one, or pass them with --eval LANG=FILE",
                    (other.code, code),
                )
        variants.append((var, path))
        result[code] = path
    return result


__all__ = [
    "DATASETS_FOLDER_FILES",
    "DOCSTART",
    "EvalFiles",
    "FORMATS",
    "FileLanguageError",
    "Format",
    "ID_COLUMNS",
    "LABEL_COLUMNS",
    "PAIR_COLUMNS",
    "ReadOptions",
    "SPLIT_WORDS",
    "TEXT_COLUMNS",
    "TOKEN_COLUMNS",
    "allow_long_csv_fields",
    "detect_format",
    "eval_files_in_dir",
    "get_format",
    "is_datasets_folder",
    "language_from_filename",
    "parse_hf_spec",
    "read_conll",
    "read_csv",
    "read_examples",
    "read_hf_disk",
    "read_hf_hub",
    "read_jsonl",
    "read_tsv_table",
    "register_format",
]
