"""Tables with named columns: CSV and TSV with a header row, JSON lines (or one JSON list), read
through one code path (:func:`table_examples`) that the Hugging Face readers share.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlt.data.formats.options import ID_COLUMNS, LABEL_COLUMNS, PAIR_COLUMNS, TEXT_COLUMNS, TOKEN_COLUMNS, ReadOptions
from xlt.data.kinds import PAIR, TOKEN, Example, TaskKind
from xlt.data.readers import (
    BLANK_LINE,
    EMPTY_SENTENCE,
    EMPTY_TEXT,
    DataFormatError,
    PairExample,
    ReadStats,
    TaggedSentence,
    TextExample,
    check_limit,
    iter_lines,
    add_token,
)

__all__ = ["TableColumns", "allow_long_csv_fields", "jsonl_inputs", "read_csv", "read_jsonl", "read_tsv_table",
           "resolve_columns", "table_examples", "table_inputs"]


# --------------------------------------------------------------------------- tables
@dataclass
class TableColumns:
    """The columns a table is read with."""

    mode: str  # "text", "pair" or "token"
    text: tuple[str, ...]  # the text column(s); for "token" the token-list column
    label: str
    id: str | None


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def resolve_columns(
    path: Path, line: int, columns: Sequence[str], first: Mapping[str, Any] | None, options: ReadOptions
) -> TableColumns:
    """Pick text/label/id columns from the column names and the first record (see the docstring of
    :mod:`xlt.data.formats`).

    Raises:
        DataFormatError: a named column missing, no text or label column, an ambiguous text
            column, a column both text and label (names ``path`` and ``line``).
    """
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
    return TableColumns(mode, tuple(text), label, id_col)


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


def table_examples(
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
    """The body of :func:`table_examples`: the examples, in record order."""
    label_names = label_names or {}
    first = next(records, None)
    if columns is None:
        if first is None:
            return []
        columns = list(first[2])
        header_line = first[0]
    cols = resolve_columns(path, header_line, columns, first[2] if first else None, options)
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
    path: Path, line: int, row: Mapping[str, Any], cols: TableColumns, names: Sequence[str] | None,
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
    check_limit(limit)
    allow_long_csv_fields()
    path = Path(path)
    stats = ReadStats(path=path)
    lines = (text + "\n" for _, text in iter_lines(path, stats))
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

    return table_examples(path, header, records(), options, limit, stats, header_line)


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
    for lineno, line in iter_lines(path, stats):
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
    check_limit(limit)
    path = Path(path)
    stats = ReadStats(path=path)
    source = _json_array_records(path, stats) if _starts_with_bracket(path) else _jsonl_records(path, stats)

    def records() -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        for line, fallback, item in source:
            if not isinstance(item, dict):
                raise DataFormatError(path, line, f"expected a JSON object, found {type(item).__name__}")
            yield line, fallback, item

    return table_examples(path, None, records(), options, limit, stats)


# --------------------------------------------------------------------------- unlabelled inputs
def table_inputs(text: str, path: Path, delimiter: str, kind: TaskKind,
                 text_column: Sequence[str] = ()) -> tuple[list, list[dict]]:
    """The texts of an unlabelled table (the input of ``xlt predict``) and the other columns of each row.

    The table has a header row and is read with Python's :mod:`csv` module (blank rows are no
    rows). The text column is ``text_column`` (two names for pair models:
    ``("premise", "hypothesis")``); without it, the first of :data:`TEXT_COLUMNS` (pair models:
    the first pair of :data:`PAIR_COLUMNS`) the header has.

    Args:
        text: the whole table. path: its name, for messages. delimiter: ``","`` or ``"\\t"``.
        kind: the model's task kind (:data:`xlt.data.kinds.PAIR` needs two text columns).
        text_column: the text column(s); empty: the default names.

    Returns:
        ``(inputs, extra)``: per row a text (pair models: a ``(text, text_pair)`` tuple), or
        ``None`` when its text is empty (the row keeps its place); and per row a dict of the
        other columns (ids, gold labels) as read.

    Raises:
        DataFormatError: no header row; text columns missing from the header or of the wrong
            number for ``kind`` (the header's columns are listed); a row with more fields than
            the header has (names its line).
    """
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = reader.fieldnames or []
    if not header:
        raise DataFormatError(path, 1, "empty table: expected a header row")
    if text_column:
        cols = list(text_column)
    elif kind is PAIR:
        cols = list(next((p for p in PAIR_COLUMNS if set(p) <= set(header)), ()))
    else:
        cols = [next((c for c in TEXT_COLUMNS if c in header), "")]
    want = 2 if kind is PAIR else 1
    if len(cols) != want or any(c not in header for c in cols):
        raise DataFormatError(path, 1, f"the {kind.name} model needs {want} text column(s) (--text-column); "
                                       f"found {cols or 'none'} in the header columns: {', '.join(header)}")
    inputs, extra = [], []
    for row in reader:
        if None in row:
            raise DataFormatError(path, reader.line_num, "more fields than the header has")
        values = [(row.get(c) or "").strip() for c in cols]
        if not any(values):
            inputs.append(None)
        elif kind is PAIR:
            inputs.append((values[0], values[1]))
        else:
            inputs.append(values[0])  # raw text; token models split it into words
        extra.append({k: v for k, v in row.items() if k not in cols})
    return inputs, extra


def jsonl_inputs(lines: Sequence[str], path: Path, kind: TaskKind) -> list:
    """The inputs of unlabelled JSON lines (the input of ``xlt predict``), one per line.

    Each line is an object with ``tokens`` (a word list; token models) or ``text`` (pair models:
    ``text`` and ``text_pair``); other keys are ignored. An empty line gives ``None``, so that
    output line i belongs to input line i.

    Args:
        lines: the file's lines, without line ends. path: its name, for messages.
        kind: the model's task kind.

    Returns:
        per line a word list, a text, a ``(text, text_pair)`` tuple or ``None``.

    Raises:
        DataFormatError: a line that is not JSON or not an object, an object without
            ``tokens``/``text`` (or ``text_pair`` for pair models); names the line.
    """
    out: list = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            out.append(None)
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, i, f"not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise DataFormatError(path, i, "expected a JSON object")
        if kind is TOKEN and isinstance(obj.get("tokens"), list):
            out.append([str(w) for w in obj["tokens"]])
        elif isinstance(obj.get("text"), str):
            if kind is PAIR:
                if not isinstance(obj.get("text_pair"), str):
                    raise DataFormatError(path, i, "a pair model needs 'text' and 'text_pair'")
                out.append((obj["text"], obj["text_pair"]))
            else:
                out.append(obj["text"])
        else:
            raise DataFormatError(path, i, "expected a 'text' string" +
                                  (" or a 'tokens' list" if kind is TOKEN else ""))
    return out
