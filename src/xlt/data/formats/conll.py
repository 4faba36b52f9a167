"""Token-per-line formats: CoNLL-2002/2003 columns (:func:`read_conll`), CoNLL-U (Universal
Dependencies) and XTREME ``token<TAB>label`` files (readers in :mod:`xlt.data.readers`, adapted
to the registry's signature here).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xlt.data.formats.options import ReadOptions
from xlt.data.readers import (
    DataFormatError,
    ReadStats,
    SentenceCollector,
    TaggedSentence,
    iter_lines,
    read_conllu,
    read_xtreme_tsv,
    show_line,
)

__all__ = ["CONLL_EXTENSIONS", "DOCSTART", "conll_words", "conllu_reader", "read_conll", "xtreme_reader"]

#: Reason key in ``ReadStats.skipped`` for ``-DOCSTART-`` lines of CoNLL files.
DOCSTART = "docstart"


# --------------------------------------------------------------------------- CoNLL columns
_SEP_NAMES = {"\t": "tabs", " ": "spaces"}


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
    path = Path(path)
    out = SentenceCollector(path, limit)
    stats = out.stats
    sep: str | None = None
    sep_line = 0
    n_cols: int | None = None
    n_cols_line = 0
    after_docstart = False
    for lineno, line in iter_lines(path, stats) if not out.done else ():
        text = line.rstrip()
        if not text.strip():
            if after_docstart:
                after_docstart = False
            elif out.end_sentence():
                break
            continue
        after_docstart = False
        if text.split(maxsplit=1)[0] == "-DOCSTART-":
            stats.skipped[DOCSTART] += 1
            after_docstart = True
            if out.tokens and out.end_sentence():
                break
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
                    f"but line {lineno} used {_SEP_NAMES[line_sep]}: {show_line(line)}; use one separator "
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
                f"{options.tag_column}, found {n} column(s): {show_line(line)}",
            )
        if n_cols is None:
            n_cols, n_cols_line = n, lineno
        elif n != n_cols:
            raise DataFormatError(
                path, lineno,
                f"{n} columns, but line {n_cols_line} had {n_cols}; every token line needs the same "
                f"number of columns: {show_line(line)}",
            )
        token, tag = cells[tok_i].strip(), cells[tag_i].strip()
        if not tag:
            raise DataFormatError(path, lineno, f"empty tag in column {tag_i}: {show_line(line)}")
        if any(c.isspace() for c in tag):
            raise DataFormatError(path, lineno, f"tag {tag!r} contains whitespace: {show_line(line)}")
        out.add(token, tag)
    return out.finish()


# --------------------------------------------------------------------------- unlabelled words
def conll_words(lines: Sequence[str]) -> list[list[str]]:
    """The words of CoNLL-like text without reading its labels: the input of ``xlt predict``.

    One word per line, a blank line between sentences; ``#`` comment lines and ``-DOCSTART-``
    lines are skipped. The word is the first column (columns split at tabs, else at spaces;
    other columns, gold tags among them, are ignored), except on CoNLL-U word lines (ten
    tab-separated fields, a numeric id), where it is the FORM field; CoNLL-U multiword ranges
    (``1-2``) and empty nodes (``2.1``) are skipped. Nothing is refused: any text gives words.

    Args:
        lines: the lines of the file, without line ends.

    Returns:
        one word list per non-empty sentence, in file order.
    """
    out: list[list[str]] = []
    words: list[str] = []
    for line in lines:
        if not line.strip():
            if words:
                out.append(words)
                words = []
            continue
        if line.startswith("#") or line.startswith("-DOCSTART-"):
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        if "\t" in line and cols[0].replace("-", "").replace(".", "").isdigit() and len(cols) == 10:
            if not cols[0].isdigit():  # CoNLL-U multiword ranges / empty nodes
                continue
            words.append(cols[1])
        else:
            words.append(cols[0].strip())
    if words:
        out.append(words)
    return out


# --------------------------------------------------------------------------- registry adapters
def conllu_reader(path: Path, options: ReadOptions, limit: int | None) -> tuple[list, ReadStats]:
    """The registered ``conllu`` reader: :func:`xlt.data.readers.read_conllu` with the label field
    ``options.conllu_field``."""
    return read_conllu(path, label_field=options.conllu_field, limit=limit)


def xtreme_reader(path: Path, options: ReadOptions, limit: int | None) -> tuple[list, ReadStats]:
    """The registered ``xtreme`` reader: :func:`xlt.data.readers.read_xtreme_tsv` (no options)."""
    return read_xtreme_tsv(path, limit=limit)


#: File extensions of CoNLL column files (``.tsv`` is looked at: see :func:`~xlt.data.formats.detect_format`).
CONLL_EXTENSIONS = (".conll", ".txt", ".bio", ".iob", ".iob2", ".bioes", ".ner")
