"""Unlabelled inputs: what ``xlt predict`` (:mod:`xlt.jobs.predict`) reads, by input format.

Formats (``--input-format``; ``auto`` picks one from the file extension, ``text`` for standard input):

* ``text``: one input per line: raw text (token models split it into words later, with
  :func:`xlt.data.segment.split_words`), or for pair models ``text<TAB>text_pair``;
* ``tokens``: pre-tokenised sentences, one per line, words separated by spaces;
* ``conll``: one word per line, a blank line between sentences (``.conll``, ``.conllu`` word
  lines, XTREME ``.tsv``; other columns are ignored: :func:`~xlt.data.formats.conll.conll_words`);
* ``jsonl``: one object per line with ``tokens`` or ``text`` (and ``text_pair``)
  (:func:`~xlt.data.formats.tables.jsonl_inputs`);
* ``csv`` / ``tsv``: a table with a header (:func:`~xlt.data.formats.tables.table_inputs`).

In the line formats an empty line gives an empty input (``None``), so output line i always
belongs to input line i.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from xlt.data.formats.conll import conll_words
from xlt.data.formats.tables import jsonl_inputs, table_inputs
from xlt.data.kinds import PAIR, TOKEN, TaskKind
from xlt.data.readers import DataFormatError, read_lines

__all__ = ["INPUT_FORMATS", "INPUT_UNITS", "STDIN", "Inputs", "input_format", "read_inputs", "text_inputs"]

#: The ``--input-format`` choices of ``xlt predict``.
INPUT_FORMATS = ("auto", "text", "tokens", "conll", "jsonl", "csv", "tsv")
#: What input i is, by input format (warnings number inputs from 1 in these units; else ``line``).
INPUT_UNITS = {"conll": "sentence", "csv": "row", "tsv": "row"}
#: The path that means standard input.
STDIN = "-"
_BY_EXT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".conll": "conll", ".conllu": "conll", ".tsv": "conll",
           ".iob": "conll", ".bio": "conll", ".csv": "csv"}


@dataclass
class Inputs:
    """The inputs of one file, in file order.

    Attributes:
        items: per input a text, a word list or a ``(text, text_pair)`` tuple; ``None`` for an
            empty line or row (kept for alignment).
        extra: csv/tsv only: per row the other columns (ids, gold labels); else None.
        format: the input format read (``text``, ``conll``, ...).
        unit: what one input is (``line``, ``sentence``, ``row``).
    """

    items: list
    extra: list[dict] | None
    format: str
    unit: str


def input_format(path: str | Path, given: str = "auto") -> str:
    """The input format of ``path``: ``given`` unless it is ``auto``; else by extension (``.jsonl``,
    ``.ndjson`` -> jsonl; ``.conll``, ``.conllu``, ``.tsv``, ``.iob``, ``.bio`` -> conll; ``.csv`` ->
    csv), ``text`` for anything else and for standard input (``-``)."""
    if given != "auto":
        return given
    return "text" if str(path) == STDIN else _BY_EXT.get(Path(path).suffix.lower(), "text")


def text_inputs(lines: Sequence[str], path: Path, kind: TaskKind, tokens: bool = False) -> list:
    """Inputs of a line format: per line a text, a word list (``tokens``: split at spaces), or for
    pair models a ``(text, text_pair)`` tuple split at the first tab; ``None`` for an empty line.

    Raises:
        DataFormatError: a pair model's line without a tab (names the line).
    """
    out: list = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            out.append(None)
        elif kind is PAIR:
            if "\t" not in line:
                raise DataFormatError(path, i, "a pair model needs 'text<TAB>text_pair' lines")
            a, b = line.split("\t", 1)
            out.append((a, b))
        elif tokens:
            out.append(line.split())
        else:
            out.append(line)
    return out


def _lines(path: str) -> list[str]:
    if path == STDIN:
        return sys.stdin.read().splitlines()
    p = Path(path)
    if p.is_dir():
        raise DataFormatError(p, 0, "is a folder; --input needs a file (or - for standard input)")
    return read_lines(p)


def read_inputs(path: str | Path, fmt: str, kind: TaskKind, text_column: Sequence[str] = ()) -> Inputs:
    """Read every input of a file (or of standard input, ``-``) up front, so that bad lines fail
    before a model loads.

    Args:
        path: the file, or ``-``.
        fmt: an input format (:data:`INPUT_FORMATS`; ``auto``: :func:`input_format`).
        kind: the model's task kind (:data:`~xlt.data.kinds.TOKEN`, ``SEQUENCE`` or ``PAIR``).
        text_column: csv/tsv: the text column(s) (default: the known names).

    Returns:
        the :class:`Inputs`.

    Raises:
        DataFormatError: a line that is not JSON, an object without ``tokens``/``text``, a pair
            line without a tab, a table without the text columns, CoNLL input for a model that
            is no token tagger, a folder (names file and line); FileNotFoundError.
    """
    path = str(path)
    fmt = input_format(path, fmt)
    name = Path("<stdin>" if path == STDIN else path)
    unit = INPUT_UNITS.get(fmt, "line")
    if fmt in ("csv", "tsv"):
        text = sys.stdin.read() if path == STDIN else "\n".join(read_lines(Path(path)))
        items, extra = table_inputs(text, name, "," if fmt == "csv" else "\t", kind, text_column)
        return Inputs(items, extra, fmt, unit)
    lines = _lines(path)
    if fmt == "conll":
        items = conll_words(lines)
        if kind is not TOKEN:
            raise DataFormatError(name, 1, f"CoNLL input holds words, but the model is a {kind.name} classifier")
    elif fmt == "jsonl":
        items = jsonl_inputs(lines, name, kind)
    else:
        items = text_inputs(lines, name, kind, tokens=fmt == "tokens")
    return Inputs(items, None, fmt, unit)
