"""Readers for the evaluation/supervision file formats.

All readers share these rules:

* files are UTF-8; a byte-order mark at the start is ignored; lines end at ``\\n`` and a
  trailing ``\\r`` (Windows line ends) is removed; a line that is not valid UTF-8 is a
  :class:`DataFormatError`;
* a malformed line raises :class:`DataFormatError` whose message starts with ``path:line:``
  (1-based line number);
* nothing is dropped silently: empty sentences/texts are skipped and counted in
  :class:`ReadStats`, and so is every other thing a reader leaves out;
* ``limit=N`` keeps the first ``N`` valid examples and stops reading there.

XTREME token files (``udpos``, ``panx``): ``token<TAB>label`` per line, a blank (empty or
whitespace-only) line ends a sentence, so two blank lines in a row enclose an empty
sentence (skipped, counted as ``empty_sentence``). Exactly two columns after trailing whitespace is
removed; a line with one column (e.g. ``token label`` separated by a space) or with more than two
non-empty columns is malformed, since which column is the label would be a guess. Tokens are
stripped of surrounding whitespace but otherwise kept verbatim, inner spaces included
(``10 000``); a token that is empty after stripping is skipped and counted as ``blank_token``.
Labels must be non-empty and contain no whitespace. Tokens made only of invisible characters
(zero-width space, BOM, direction marks) are kept - they are real tokens with gold labels in
PAN-X - and counted under ``ReadStats.notes['invisible_token']``, because a subword tokenizer
may turn them into zero pieces.

CoNLL-U: strict 10-column lines split at tabs only (FORM and LEMMA may hold spaces), fields parsed
with the ``conllu`` package. Multiword-token ranges (``1-2``) and empty nodes (``1.1``) are skipped
and counted; the label comes from a configurable field (``upos`` by default), stripped of
surrounding whitespace; a missing label (``_``) or ID on a word is malformed. A sentence
block with no word (only comments, ranges or empty nodes) is counted as ``empty_sentence``;
extra blank lines between blocks as ``blank_line``.

SIB-200: header ``index_id<TAB>category<TAB>text``, then one example per line, split on the
first two tabs (so tabs inside the text survive). The upstream files were written with CSV
quoting: a text containing ``"`` is wrapped in quotes with inner quotes doubled
(``"He said ""hi""."``). Such a field - starting and ending with ``"`` and with only doubled
quotes in between - is unquoted (counted as ``notes['unquoted_text']``); anything else is kept
verbatim, so a stray quote can never swallow the following lines the way a CSV parser would.
Texts are stripped of surrounding whitespace.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from conllu.exceptions import ParseException
from conllu.parser import DEFAULT_FIELD_PARSERS, DEFAULT_FIELDS

from xlt.core.errors import XltError

SIB200_HEADER = ("index_id", "category", "text")
CONLLU_LABEL_FIELDS = frozenset({"lemma", "upos", "xpos", "deprel"})

# Reason keys used in ReadStats.skipped / ReadStats.notes.
EMPTY_SENTENCE = "empty_sentence"
EMPTY_TEXT = "empty_text"
BLANK_TOKEN = "blank_token"
BLANK_LINE = "blank_line"
MULTIWORD_TOKEN = "multiword_token"
EMPTY_NODE = "empty_node"
INVISIBLE_TOKEN = "invisible_token"
UNQUOTED_TEXT = "unquoted_text"

_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})


class DataFormatError(XltError, ValueError):
    """A data file line that cannot be read.

    Attributes:
        path: the file.
        line: 1-based line number of the offending line.
    The message is ``f"{path}:{line}: {what went wrong}"``.
    """

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = Path(path)
        self.line = line
        super().__init__(f"{self.path}:{line}: {message}")


@dataclass
class TaggedSentence:
    """One sentence of a token-classification set.

    Attributes:
        tokens: the words, in order.
        labels: one label per token (UPOS tag, BIO tag, ...), ``len(labels) == len(tokens)``.
    """

    tokens: list[str]
    labels: list[str]

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.labels):
            raise ValueError(
                f"{len(self.tokens)} tokens but {len(self.labels)} labels: {self.tokens[:5]}"
            )

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass
class TextExample:
    """One example of a sequence-classification set.

    Attributes:
        id: the example id (for SIB-200 the FLORES ``index_id``: the same id is the same
            sentence in every language).
        text: the text, stripped of surrounding whitespace.
        label: the class label.
    """

    id: str
    text: str
    label: str


@dataclass
class PairExample:
    """One example of a sentence-pair classification set (NLI, paraphrase: XNLI, PAWS-X).

    Attributes:
        id: the example id (the line or row number when the file has none).
        text: the first text (premise, sentence1), stripped of surrounding whitespace.
        text_pair: the second text (hypothesis, sentence2), stripped.
        label: the class label.
    """

    id: str
    text: str
    text_pair: str
    label: str


@dataclass
class ReadStats:
    """What a reader did with a file.

    Attributes:
        path: the file read.
        n_read: examples returned.
        n_lines: lines read (the reader stops early when ``limit`` is reached).
        skipped: reason -> count of things left out. Sentence/example-level reasons
            (``empty_sentence``, ``empty_text``, ``blank_line``) and token-level ones
            (``blank_token``, ``multiword_token``, ``empty_node``) are both counted here.
        notes: reason -> count of things kept but worth knowing about
            (``invisible_token``, ``unquoted_text``).
        stopped_at_limit: reading stopped because ``limit`` examples were collected.
    """

    path: Path
    n_read: int = 0
    n_lines: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    stopped_at_limit: bool = False

    @property
    def n_skipped_empty(self) -> int:
        """Empty sentences and empty texts skipped."""
        return self.skipped[EMPTY_SENTENCE] + self.skipped[EMPTY_TEXT]

    def summary(self) -> str:
        """One line for logs, e.g. ``'dev-ta.tsv: 1000 read; notes invisible_token=4'``."""

        def fmt(counts: Counter[str]) -> str:
            return ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if v)

        parts = [f"{self.path.name}: {self.n_read} read"]
        if +self.skipped:
            parts.append("skipped " + fmt(self.skipped))
        if +self.notes:
            parts.append("notes " + fmt(self.notes))
        if self.stopped_at_limit:
            parts.append("stopped at limit")
        return "; ".join(parts)


def check_limit(limit: int | None) -> None:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be None or a non-negative int, got {limit!r}")


def check_not_folder(path: str | Path, what: str = "a file") -> None:
    """Refuse a folder given where a file is expected, with a message that says so (opening a folder
    would otherwise fail with a bare "Is a directory", and ``is_file()`` checks with "does not exist").

    Args:
        path: the path as given.
        what: what was expected, for the message (``"a file"``, ``"a sentence-pair file"``).

    Raises:
        IsADirectoryError: ``path`` is a folder; the message names it: ``"PATH is a folder, not a file"``.
    """
    if Path(path).is_dir():
        raise IsADirectoryError(f"{path} is a folder, not {what}")


def iter_lines(path: Path, stats: ReadStats) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` with ``\\n``/``\\r\\n`` removed; counts lines in stats.

    Raises:
        FileNotFoundError: no such file. IsADirectoryError: ``path`` is a folder (says so).
        DataFormatError: a line that is not valid UTF-8.
    """
    check_not_folder(path)
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataFormatError(path, lineno, f"not valid UTF-8 ({exc.reason})") from exc
            stats.n_lines = lineno
            yield lineno, text.rstrip("\n").rstrip("\r")


def read_lines(path: str | Path) -> list[str]:
    """Every line of a UTF-8 text file, without its line end (a leading byte-order mark dropped).

    Raises:
        FileNotFoundError: no such file. IsADirectoryError: ``path`` is a folder (the message says so).
        DataFormatError: a line that is not valid UTF-8 (names the file and line).
    """
    path = Path(path)
    return [text for _, text in iter_lines(path, ReadStats(path))]


def _is_invisible(token: str) -> bool:
    """Whether a token consists only of format/control/space characters."""
    if token.isprintable() and not token.isspace():
        return False  # fast path: printable and not blank means something visible
    return all(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in token)


def add_token(token: str, label: str, tokens: list[str], labels: list[str], stats: ReadStats) -> None:
    """Append a stripped token and its label, the way every token reader does: an empty token is
    skipped and counted (``blank_token``), an invisible one kept and noted (``invisible_token``)."""
    if not token:
        stats.skipped[BLANK_TOKEN] += 1
        return
    if _is_invisible(token):
        stats.notes[INVISIBLE_TOKEN] += 1
    tokens.append(token)
    labels.append(label)


class SentenceCollector:
    """The tagged sentences a token reader collects between blank lines, with its ``limit`` and
    :class:`ReadStats`: the one place that decides when a sentence ends, when an empty one is
    counted and when the limit stops reading (``read_xtreme_tsv``, ``read_conllu`` and
    :func:`xlt.data.formats.conll.read_conll` share it).

    Args:
        path: the file read (for ``stats``). limit: keep at most this many non-empty sentences
            (``None``: all; 0: none, and :attr:`done` is True at once).

    Raises:
        ValueError: a negative ``limit``.
    """

    def __init__(self, path: Path, limit: int | None) -> None:
        check_limit(limit)
        self.limit = limit
        self.stats = ReadStats(path=path)
        self.sentences: list[TaggedSentence] = []
        self.tokens: list[str] = []
        self.labels: list[str] = []
        self.done = limit == 0
        self.stats.stopped_at_limit = self.done

    def add(self, token: str, label: str) -> None:
        """Add a token to the current sentence (:func:`add_token`: blank ones skipped and counted)."""
        add_token(token, label, self.tokens, self.labels, self.stats)

    def end_sentence(self) -> bool:
        """End the current sentence: keep it if it has a token, else count an empty sentence.

        Returns:
            True when the limit is reached (reading should stop; :attr:`done` is set).
        """
        if not self.tokens:
            self.stats.skipped[EMPTY_SENTENCE] += 1
            return False
        self.sentences.append(TaggedSentence(self.tokens, self.labels))
        self.tokens, self.labels = [], []
        if self.limit is not None and len(self.sentences) >= self.limit:
            self.stats.stopped_at_limit = self.done = True
        return self.done

    def finish(self, *, count_empty: bool = False) -> tuple[list[TaggedSentence], ReadStats]:
        """Keep the last sentence (unless the limit stopped reading) and return ``(sentences, stats)``.

        Args:
            count_empty: count an unfinished sentence without tokens as an empty sentence (CoNLL-U:
                comment lines after the last blank line).
        """
        if self.tokens:  # the file ended without a blank line (the limit is not checked: nothing is left to read)
            self.sentences.append(TaggedSentence(self.tokens, self.labels))
        elif count_empty and not self.done:
            self.stats.skipped[EMPTY_SENTENCE] += 1
        self.stats.n_read = len(self.sentences)
        return self.sentences, self.stats


def _parse_conllu_word(cols: list[str]) -> dict:
    """The fields of a 10-column CoNLL-U word line, parsed with the ``conllu`` package's field parsers.

    The columns are the line's tab-separated fields as given: ``conllu.parser.parse_line`` also splits at
    two spaces in a row, which shifts every later column of a FORM or LEMMA holding them (``New  York``).

    Raises:
        ParseException: a field the ``conllu`` package cannot parse (a bad ID, HEAD or DEPS).
        ValueError: a number with more digits than ``int()`` reads.
    """
    word = {}
    for i, name in enumerate(DEFAULT_FIELDS):
        parse = DEFAULT_FIELD_PARSERS.get(name)
        try:
            word[name] = parse(cols, i) if parse is not None else cols[i]
        except ParseException as exc:
            raise ParseException(f"Failed parsing field '{name}': {exc}") from exc
    return word


def show_line(line: str, width: int = 80) -> str:
    return repr(line if len(line) <= width else line[:width] + "...")


def read_xtreme_tsv(
    path: str | Path, limit: int | None = None
) -> tuple[list[TaggedSentence], ReadStats]:
    """Read an XTREME ``token<TAB>label`` file (udpos, panx).

    Args:
        path: the ``.tsv`` file.
        limit: keep only the first ``limit`` non-empty sentences (``None``: all).

    Returns:
        ``(sentences, stats)``: the non-empty sentences in file order and a
        :class:`ReadStats` (empty sentences are in ``stats.skipped['empty_sentence']``).

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: a line without exactly two columns, an empty label or a label with
            whitespace, or bytes that are not UTF-8.
        ValueError: a negative ``limit``.
    """
    path = Path(path)
    out = SentenceCollector(path, limit)
    for lineno, line in iter_lines(path, out.stats) if not out.done else ():
        stripped = line.rstrip()
        if not stripped.strip():
            # every blank line ends the current sentence, so two in a row enclose an empty one
            if out.end_sentence():
                break
            continue
        cols = stripped.split("\t")
        if len(cols) != 2:
            what = "no tab" if len(cols) == 1 else f"{len(cols)} tab-separated columns"
            raise DataFormatError(
                path, lineno, f"expected 'token<TAB>label', found {what}: {show_line(line)}"
            )
        token, label = cols[0].strip(), cols[1].strip()
        if not label or any(ch.isspace() for ch in label):
            raise DataFormatError(path, lineno, f"bad label {label!r} in {show_line(line)}")
        out.add(token, label)
    return out.finish()


def read_conllu(
    path: str | Path, label_field: str = "upos", limit: int | None = None
) -> tuple[list[TaggedSentence], ReadStats]:
    """Read a CoNLL-U file (e.g. a Universal Dependencies treebank) as tagged sentences.

    Args:
        path: the ``.conllu`` file.
        label_field: the column used as label: one of ``lemma``, ``upos``, ``xpos``,
            ``deprel``.
        limit: keep only the first ``limit`` non-empty sentences (``None``: all).

    Returns:
        ``(sentences, stats)``: tokens are the FORM column of syntactic words (multiword
        ranges and empty nodes skipped, counted in ``stats.skipped``); sentences left with no
        word are counted as ``empty_sentence``.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: a word line without 10 tab-separated columns, a field the ``conllu``
            package cannot parse (e.g. a bad ID), a word whose ID or label field is ``_``, or
            bytes that are not UTF-8.
        ValueError: an unsupported ``label_field`` or a negative ``limit``.
    """
    if label_field not in CONLLU_LABEL_FIELDS:
        raise ValueError(
            f"label_field must be one of {sorted(CONLLU_LABEL_FIELDS)}, got {label_field!r}"
        )
    path = Path(path)
    out = SentenceCollector(path, limit)
    stats = out.stats
    in_block = False  # saw a comment or word line since the last blank line
    for lineno, line in iter_lines(path, stats) if not out.done else ():
        if not line.strip():
            if not in_block:
                stats.skipped[BLANK_LINE] += 1
                continue
            in_block = False
            if out.end_sentence():
                break
            continue
        in_block = True
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise DataFormatError(
                path, lineno, f"expected 10 tab-separated CoNLL-U columns, found {len(cols)}: "
                f"{show_line(line)}"
            )
        try:
            word = _parse_conllu_word(cols)
        except (ParseException, ValueError) as exc:
            raise DataFormatError(path, lineno, f"{exc}: {show_line(line)}") from exc
        wid = word["id"]
        if wid is None:
            raise DataFormatError(
                path, lineno, f"word has no ID (the first column is empty or '_'): {show_line(line)}"
            )
        if not isinstance(wid, int):
            # (1, '-', 2) is a multiword range, (1, '.', 1) an empty node
            stats.skipped[MULTIWORD_TOKEN if wid[1] == "-" else EMPTY_NODE] += 1
            continue
        label = "" if word[label_field] is None else str(word[label_field]).strip()
        if not label or label == "_":
            raise DataFormatError(path, lineno, f"word has no {label_field}: {show_line(line)}")
        out.add(str(word["form"]).strip(), label)
    return out.finish(count_empty=in_block)


def _unquote_csv_field(text: str) -> str | None:
    """The content of a CSV-quoted field (``"a ""b"" c"`` -> ``a "b" c``), or ``None``."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    inner = text[1:-1]
    if '"' in inner.replace('""', ""):
        return None  # a lone quote inside: not something a CSV writer produces
    return inner.replace('""', '"')


def read_sib200(
    path: str | Path, limit: int | None = None, unquote: bool = True
) -> tuple[list[TextExample], ReadStats]:
    """Read a SIB-200 split (``index_id<TAB>category<TAB>text`` with a header line).

    Args:
        path: ``<lang>/train.tsv``, ``dev.tsv`` or ``test.tsv``.
        limit: keep only the first ``limit`` non-empty examples (``None``: all).
        unquote: undo the upstream CSV quoting of texts that contain ``"`` (see the module
            docstring); ``False`` keeps the field exactly as in the file.

    Returns:
        ``(examples, stats)``: examples in file order; empty texts are skipped and counted
        as ``empty_text``, blank lines as ``blank_line``.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: a missing or wrong header, a line with fewer than 3 tab-separated
            fields, an empty id or category, or bytes that are not UTF-8.
        ValueError: a negative ``limit``.
    """
    check_limit(limit)
    path = Path(path)
    stats = ReadStats(path=path)
    examples: list[TextExample] = []
    lines = iter_lines(path, stats)
    header = next(lines, None)
    if header is None:
        raise DataFormatError(path, 1, "empty file; expected header 'index_id\\tcategory\\ttext'")
    if tuple(c.strip() for c in header[1].split("\t")) != SIB200_HEADER:
        raise DataFormatError(
            path, 1, f"expected header 'index_id\\tcategory\\ttext', found {show_line(header[1])}"
        )
    if limit == 0:
        stats.stopped_at_limit = True
        return examples, stats
    for lineno, line in lines:
        if not line.strip():
            stats.skipped[BLANK_LINE] += 1
            continue
        cols = line.split("\t", 2)
        if len(cols) != 3:
            raise DataFormatError(
                path, lineno, f"expected 'index_id<TAB>category<TAB>text', found "
                f"{len(cols)} field(s): {show_line(line)}"
            )
        ex_id, label, text = cols[0].strip(), cols[1].strip(), cols[2]
        if not ex_id:
            raise DataFormatError(path, lineno, f"empty index_id: {show_line(line)}")
        if not label:
            raise DataFormatError(path, lineno, f"empty category: {show_line(line)}")
        if unquote:
            plain = _unquote_csv_field(text.strip())
            if plain is not None:
                text = plain
                stats.notes[UNQUOTED_TEXT] += 1
        text = text.strip()
        if not text:
            stats.skipped[EMPTY_TEXT] += 1
            continue
        examples.append(TextExample(ex_id, text, label))
        if limit is not None and len(examples) >= limit:
            stats.stopped_at_limit = True
            break
    stats.n_read = len(examples)
    return examples, stats


__all__ = [
    "SentenceCollector",
    "DataFormatError",
    "PairExample",
    "ReadStats",
    "TaggedSentence",
    "TextExample",
    "check_not_folder",
    "read_conllu",
    "read_lines",
    "read_sib200",
    "read_xtreme_tsv",
]
