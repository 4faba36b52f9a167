"""Text corpora for embedding: plain text, JSONL, CSV/TSV, Parquet, Hugging Face ``datasets`` folders.

:func:`read_corpus` reads one or several inputs into one list of texts, in file order, with the
counts a report needs. Each input's format comes from its name (:func:`corpus_format`):

* ``.txt`` (or any other name): one text per line (UTF-8; a byte-order mark is dropped);
* ``.jsonl`` / ``.ndjson``: one JSON object per line; the text is the value of ``column``;
* ``.csv`` / ``.tsv``: a header row, then one row per text (Python's ``csv`` module); the text
  is the column named ``column``;
* ``.parquet``: the column ``column``, read with ``pyarrow.parquet``;
* a folder written by ``datasets.Dataset.save_to_disk`` (it holds ``state.json`` and
  ``dataset_info.json``): the column ``column``, read with ``datasets.load_from_disk``.

For the formats with columns, ``column`` defaults to ``text`` when there is such a column.
Texts are stripped of surrounding whitespace; empty ones (and JSON/Parquet nulls) are skipped and
counted per file (``skipped_empty``); with ``dedup`` a text seen before (in any file) is skipped
and counted (``skipped_duplicate``). A bad input (a missing column, a line that is not a JSON
object, text that is not UTF-8) raises :class:`~xlt.data.readers.DataFormatError` naming the file
and line, so commands can report it before loading a model.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlt.data.readers import DataFormatError, ReadStats, iter_lines

__all__ = ["CORPUS_FORMATS", "Corpus", "corpus_format", "input_fingerprint", "read_corpus"]

CORPUS_FORMATS = ("text", "jsonl", "csv", "tsv", "parquet", "hf")
"""Formats :func:`read_corpus` reads (see the module docstring)."""

_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}


@dataclass
class Corpus:
    """The texts of one or several inputs.

    Attributes:
        texts: the kept texts, stripped, in input order (file by file).
        files: per input, ``{"path", "format", "column", "rows", "kept", "skipped_empty",
            "skipped_duplicate"}`` (``rows``: lines or table rows read, header excluded).
    """

    texts: list[str]
    files: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Totals over the inputs: ``{"rows", "kept", "skipped_empty", "skipped_duplicate"}``."""
        return {k: sum(f[k] for f in self.files) for k in ("rows", "kept", "skipped_empty", "skipped_duplicate")}


def corpus_format(path: str | os.PathLike[str]) -> str:
    """The format of an input, one of :data:`CORPUS_FORMATS`: ``hf`` for a folder with ``state.json``
    (a saved ``datasets.Dataset``), else from the file name's suffix (``text`` for any other).

    Raises:
        FileNotFoundError: no such file or folder. IsADirectoryError: a folder that is not a saved dataset.
    """
    p = Path(path)
    if not os.path.lexists(p):
        raise FileNotFoundError(f"{p}: no such file or folder")
    if p.is_dir():
        if (p / "state.json").is_file():
            return "hf"
        if (p / "dataset_dict.json").is_file():
            raise IsADirectoryError(f"{p} is a saved DatasetDict; give one split's folder (e.g. {p / 'train'})")
        raise IsADirectoryError(f"{p} is a folder, not a text file or a saved Hugging Face dataset")
    return _SUFFIXES.get(p.suffix.lower(), "text")


def _column(fmt: str, column: str | None, names: Sequence[str], path: Path, line: int = 1) -> str:
    if column is None:
        if "text" in names:
            return "text"
        raise DataFormatError(path, line, f"give the text column with --column (a {fmt} input; columns: "
                                          f"{', '.join(map(str, names)) or 'none'})")
    if column not in names:
        raise DataFormatError(path, line, f"no column {column!r} (columns: {', '.join(map(str, names)) or 'none'})")
    return column


def _text_rows(path: Path) -> Iterator[tuple[int, Any]]:
    yield from iter_lines(path, ReadStats(path))


def _jsonl_rows(path: Path, column: str | None) -> Iterator[tuple[int, Any]]:
    col = column
    for n, line in iter_lines(path, ReadStats(path)):
        if not line.strip():
            yield n, None
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise DataFormatError(path, n, f"not a JSON object ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise DataFormatError(path, n, f"not a JSON object (a {type(obj).__name__})")
        if col is None or col not in obj:
            col = _column("jsonl", column, list(obj), path, n)
        value = obj[col]
        if value is not None and not isinstance(value, str):
            raise DataFormatError(path, n, f"column {col!r} is a {type(value).__name__}, not text")
        yield n, value


def _csv_rows(path: Path, column: str | None, delimiter: str) -> Iterator[tuple[int, Any]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise DataFormatError(path, 1, "empty file: expected a header row")
            i = header.index(_column("csv" if delimiter == "," else "tsv", column, header, path))
            for row in reader:
                if not row:
                    yield reader.line_num, None
                    continue
                if i >= len(row):
                    raise DataFormatError(path, reader.line_num, f"{len(row)} fields, the header has {len(header)}")
                yield reader.line_num, row[i]
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, "?", f"not valid UTF-8 ({exc.reason})") from None
    except csv.Error as exc:
        raise DataFormatError(path, "?", f"not CSV ({exc})") from None


def _table_rows(path: Path, column: str | None, fmt: str) -> Iterator[tuple[int, Any]]:
    if fmt == "parquet":
        import pyarrow.parquet as pq  # lazy: heavy import

        try:
            names = pq.read_schema(path).names
            table = pq.read_table(path, columns=[_column(fmt, column, names, path)])
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            if isinstance(exc, DataFormatError):
                raise
            raise DataFormatError(path, 1, f"not a Parquet file ({exc})") from None
        values = table.column(0).to_pylist()
    else:
        import datasets  # lazy: heavy import

        ds = datasets.load_from_disk(str(path))
        values = ds[_column(fmt, column, list(ds.column_names), path)]
    for n, v in enumerate(values, start=1):
        if v is not None and not isinstance(v, str):
            raise DataFormatError(path, n, f"column {column or 'text'!r} holds {type(v).__name__} values, not text")
        yield n, v


def _rows(path: Path, fmt: str, column: str | None) -> Iterator[tuple[int, Any]]:
    if fmt == "text":
        return _text_rows(path)
    if fmt == "jsonl":
        return _jsonl_rows(path, column)
    if fmt in ("csv", "tsv"):
        return _csv_rows(path, column, "," if fmt == "csv" else "\t")
    return _table_rows(path, column, fmt)


def read_corpus(paths: Sequence[str | os.PathLike[str]], *, column: str | None = None,
                dedup: bool = False) -> Corpus:
    """Read every input (see the module docstring for formats and counts).

    Args:
        paths: the inputs, in order. column: the text column of JSONL/CSV/TSV/Parquet/datasets
            inputs (default ``text``; ignored for plain text). dedup: skip texts seen before.

    Returns:
        a :class:`Corpus`.

    Raises:
        FileNotFoundError: a missing input. IsADirectoryError: a folder that is not a saved dataset.
        DataFormatError: a missing column, a bad line (file and line named), no text at all.
    """
    if not paths:
        raise FileNotFoundError("no input given")
    texts: list[str] = []
    files: list[dict[str, Any]] = []
    seen: set[str] = set()
    for p in map(Path, paths):
        fmt = corpus_format(p)
        info = {"path": str(p), "format": fmt, "column": None if fmt == "text" else (column or "text"), "rows": 0,
                "kept": 0, "skipped_empty": 0, "skipped_duplicate": 0}
        for _, value in _rows(p, fmt, column):
            info["rows"] += 1
            text = value.strip() if isinstance(value, str) else ""
            if not text:
                info["skipped_empty"] += 1
            elif dedup and text in seen:
                info["skipped_duplicate"] += 1
            else:
                if dedup:
                    seen.add(text)
                texts.append(text)
                info["kept"] += 1
        files.append(info)
    if not texts:
        raise DataFormatError(Path(paths[0]), 1, "no non-empty text in the input(s)")
    return Corpus(texts=texts, files=files)


def input_fingerprint(paths: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """What identifies the inputs' contents: per input ``{"path", "bytes", "sha256"}`` (for a
    saved dataset folder, over its files in name order), so a resumed run can tell whether the
    inputs changed. Reads every byte once (SHA-256 runs at several hundred MB/s)."""
    out = []
    for p in map(Path, paths):
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        h, size = hashlib.sha256(), 0
        for f in files:
            if p.is_dir():
                h.update(str(f.relative_to(p)).encode("utf-8") + b"\0")
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
                    size += len(block)
        out.append({"path": str(p), "bytes": size, "sha256": h.hexdigest()})
    return out
