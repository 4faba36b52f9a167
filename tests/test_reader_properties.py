"""Property-based tests of the data readers (hypothesis).

Every reader of :mod:`xlt.data` is fed

* arbitrary bytes,
* lines of random tokens joined by random separators (tab, spaces, ``|||``, commas, ``;``, ...)
  with random blank and whitespace-only lines, mixed ``\\n``/``\\r\\n``/``\\r`` line ends and a
  byte-order mark, and
* structurally valid files with a few random perturbations (inserted separators, quotes, line
  breaks, bad UTF-8 bytes, very long numbers, deep JSON nesting, deleted or repeated lines),

and must either return a sane result or raise one of :data:`xlt.core.errors.USER_ERRORS`; a
:class:`~xlt.data.readers.DataFormatError` must name the file and a line of it (``path:LINE: what``).

On valid data the readers round-trip: random sentences, tables, dictionaries, parallel text and
alignments written in each format are read back unchanged, and whatever is left out (blank lines,
empty sentences, blank tokens, multiword tokens, duplicates, ...) is counted in the reader's
stats. The plain regression tests at the end pin the crashes these properties found.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("hypothesis")  # in the `test` extra

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from xlt.data.dictionaries import Dictionary, read_dictionary  # noqa: E402
from xlt.data.formats import ReadOptions, read_conll, read_examples  # noqa: E402
from xlt.data.parallel import (  # noqa: E402
    MultiParallel,
    ParallelText,
    open_parallel,
    read_multiparallel,
    read_parallel,
    read_user_pair,
    read_user_parallel,
)
from xlt.data.readers import (  # noqa: E402
    DataFormatError,
    PairExample,
    ReadStats,
    TaggedSentence,
    TextExample,
    read_conllu,
    read_lines,
    read_sib200,
    read_xtreme_tsv,
)
from xlt.data.wordalign import AlignmentPairs, PharaohAlignments, read_pairs, read_pharaoh  # noqa: E402
from xlt.core.errors import USER_ERRORS  # noqa: E402

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PERTURB = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BOM = b"\xef\xbb\xbf"


# =========================================================================== files and checks
@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One folder for the module (hypothesis runs many examples per test; files are overwritten)."""
    return tmp_path_factory.mktemp("reader_props")


def _write(folder: Path, names: Sequence[str], contents: Sequence[bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in zip(names, contents, strict=True):
        p = folder / name
        p.write_bytes(data)
        paths.append(p)
    return paths


def _n_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _check_error(exc: BaseException, paths: Sequence[Path], contents: Sequence[bytes]) -> None:
    """A user error is clear: a DataFormatError says ``path:LINE: what`` for one of the files."""
    msg = str(exc)
    assert msg.strip(), f"{type(exc).__name__} without a message"
    if isinstance(exc, DataFormatError):
        assert exc.path in paths, f"{msg!r} names {exc.path}, not one of the files read"
        prefix = f"{exc.path}:{exc.line}: "
        assert msg.startswith(prefix) and msg[len(prefix):].strip(), msg
        n = _n_lines(contents[paths.index(exc.path)])
        assert 1 <= exc.line <= n + 1, f"line {exc.line} of a file of {n} lines: {msg!r}"


def _is_stripped(text: Any) -> bool:
    """A non-empty string without surrounding whitespace that is valid Unicode (no lone surrogate
    that would break a tokenizer or an output file later)."""
    if not (isinstance(text, str) and text and text == text.strip()):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_result(result: Any) -> None:
    """What a reader returns is consistent: counts match, nothing empty or unstripped is kept."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], ReadStats):
        examples, stats = result
        assert stats.n_read == len(examples)
        assert all(v >= 0 for v in [*stats.skipped.values(), *stats.notes.values()])
        for ex in examples:
            if isinstance(ex, TaggedSentence):
                assert ex.tokens and len(ex.tokens) == len(ex.labels)
                assert all(_is_stripped(t) for t in ex.tokens), ex.tokens
                assert all(_is_stripped(lab) for lab in ex.labels), ex.labels
            elif isinstance(ex, TextExample):
                assert _is_stripped(ex.text) and _is_stripped(ex.label) and ex.id
            elif isinstance(ex, PairExample):
                assert _is_stripped(ex.text) and _is_stripped(ex.text_pair) and _is_stripped(ex.label)
            else:
                raise AssertionError(f"unexpected example type {type(ex).__name__}")
    elif isinstance(result, ParallelText):
        assert len(result.src) == len(result.tgt) == len(result.lines)
        assert result.n_lines == len(result.lines) + result.n_skipped_empty
        assert all(_is_stripped(s) for s in [*result.src, *result.tgt])
    elif isinstance(result, MultiParallel):
        assert all(len(t) == len(result.lines) for t in result.texts.values())
        assert result.n_lines == len(result.lines) + result.n_skipped_empty
        assert all(_is_stripped(s) for t in result.texts.values() for s in t)
    elif isinstance(result, Dictionary):
        assert len(set(result.entries)) == len(result.entries) == result.stats["n_entries"]
        assert all(_is_stripped(e) and _is_stripped(f) for e, f in result.entries)
    elif isinstance(result, AlignmentPairs):
        assert len(result.src) == len(result.tgt)
        assert all(bool(s) == bool(t) for s, t in result.pairs)
        assert result.stats.n_read + result.n_skipped_empty == result.n_lines
    elif isinstance(result, PharaohAlignments):
        assert len(result.sure) == len(result.possible)
        for s, p in zip(result.sure, result.possible):
            assert s <= p and all(i >= 0 and j >= 0 for i, j in p)
    elif isinstance(result, list):  # read_lines
        assert all(isinstance(line, str) and "\n" not in line for line in result)
    else:
        raise AssertionError(f"unexpected result type {type(result).__name__}")


def _run(folder: Path, names: Sequence[str], contents: Sequence[bytes], call: Callable[..., Any]) -> Any:
    """Write the files, read them; the result (checked) or None after a clear user error."""
    paths = _write(folder, names, contents)
    try:
        result = call(*paths)
    except USER_ERRORS as exc:
        _check_error(exc, paths, contents)
        return None
    _check_result(result)
    return result


# =========================================================================== the readers
@dataclass(frozen=True)
class Reader:
    """A reader under test: the file names it is given and how it is called."""

    names: tuple[str, ...]
    call: Callable[..., Any]


READERS: dict[str, Reader] = {
    "xtreme": Reader(("test-de.tsv",), read_xtreme_tsv),
    "xtreme-limit": Reader(("test-de.tsv",), lambda p: read_xtreme_tsv(p, limit=1)),
    "conllu-upos": Reader(("de.conllu",), read_conllu),
    "conllu-lemma": Reader(("de.conllu",), lambda p: read_conllu(p, label_field="lemma")),
    "conllu-xpos": Reader(("de.conllu",), lambda p: read_conllu(p, label_field="xpos", limit=2)),
    "sib200": Reader(("test.tsv",), read_sib200),
    "sib200-raw": Reader(("test.tsv",), lambda p: read_sib200(p, unquote=False)),
    "lines": Reader(("x.txt",), read_lines),
    "conll": Reader(("x.conll",), lambda p: read_examples(p, "conll")),
    "conll-columns": Reader(("x.conll",), lambda p: read_conll(p, ReadOptions(token_column=1, tag_column=0))),
    "conll-negative": Reader(("x.conll",), lambda p: read_conll(p, ReadOptions(token_column=-2, tag_column=2))),
    "examples-xtreme": Reader(("x.tsv",), lambda p: read_examples(p, "xtreme")),
    "examples-conllu": Reader(("x.conllu",), lambda p: read_examples(p, "conllu", ReadOptions(conllu_field="deprel"))),
    "examples-sib200": Reader(("x.tsv",), lambda p: read_examples(p, "sib200", limit=3)),
    "csv": Reader(("x.csv",), lambda p: read_examples(p, "csv")),
    "csv-columns": Reader(("x.csv",), lambda p: read_examples(
        p, "csv", ReadOptions(text_column=("premise", "hypothesis"), label_column="label", id_column="id"))),
    "tsv": Reader(("x.tsv",), lambda p: read_examples(p, "tsv")),
    "tsv-tokens": Reader(("x.tsv",), lambda p: read_examples(
        p, "tsv", ReadOptions(text_column="tokens", label_column="ner_tags"))),
    "jsonl": Reader(("x.jsonl",), lambda p: read_examples(p, "jsonl")),
    "json": Reader(("x.json",), lambda p: read_examples(p)),
    "jsonl-columns": Reader(("x.jsonl",), lambda p: read_examples(
        p, "jsonl", ReadOptions(text_column="tokens", label_column="ner_tags", id_column="id"), limit=2)),
    "detect-tsv": Reader(("test-de.tsv",), lambda p: read_examples(p)),
    "detect-txt": Reader(("test-de.txt",), lambda p: read_examples(p)),
    "dictionary": Reader(("en-de.txt",), read_dictionary),
    "pairs-space": Reader(("x.en-de",), read_pairs),
    "pairs-simple": Reader(("x.en-de",), lambda p: read_pairs(p, "simple")),
    "pharaoh": Reader(("x.gold",), read_pharaoh),
    "pharaoh-one-based": Reader(("x.gold",), lambda p: read_pharaoh(p, one_based=True)),
    "pharaoh-lengths": Reader(("x.gold",), lambda p: read_pharaoh(p, lengths=[(3, 4), None, (2, 2)])),
    "parallel-two-files": Reader(("corpus.en", "corpus.de"), read_parallel),
    "parallel-user-pair": Reader(("corpus.en", "corpus.de"), lambda a, b: read_user_pair([a, b])),
    "multiparallel": Reader(("en.txt", "de.txt", "fr.txt"),
                            lambda a, b, c: read_multiparallel({"en": a, "de": b, "fr": c})),
    "parallel-one-file": Reader(("corpus.en-de.txt",), lambda p: read_user_pair(p)),
    "parallel-one-tsv": Reader(("corpus.en-de.tsv",), lambda p: read_user_parallel(p, pivot="de")),
    "parallel-one-file-langs": Reader(("pairs.txt",), lambda p: read_user_pair(p, src_lang="en", tgt_lang="fr")),
    "parallel-header": Reader(("pairs.tsv",), lambda p: open_parallel(p).read()),
}


# =========================================================================== strategies
_VISIBLE_CHAR = st.characters(exclude_categories=("Cs",)).filter(lambda c: not c.isspace())
#: A word without whitespace: familiar words, tags and markup, or random characters.
WORD = st.one_of(
    st.sampled_from(["Hund", "lives", "B-PER", "I-LOC", "O", "NOUN", "é", "İ", "ß", "中文", "ไทย", "x"]),
    st.text(_VISIBLE_CHAR, min_size=1, max_size=6),
)
#: Tokens of the random-line files: words plus pieces of every format's syntax.
FUZZ_TOKEN = st.one_of(
    WORD,
    st.sampled_from([
        "_", "0", "1", "2", "1-2", "2.1", "3-1", "0-0", "1p2", "1-1 2p3", "4294967296", "-1", "1:root",
        "-DOCSTART-", "#", "# text = x", '"', '""', '"a ""b"""', "'", "{", "}", "[", "]", "{}", "[]", ":",
        '"text"', '"label"', '{"text": "a", "label": 1}', '{"tokens": ["a"], "ner_tags": ["O"]}',
        "null", "true", "NaN", "1e999", "text", "label", "premise", "hypothesis", "tokens", "ner_tags", "id",
        "index_id", "category", "sentence", "en", "de", "fr", "eng_Latn", "|", "||", "a=b|c=d",
        "\u200b", "\ufeff", "\x00", "\x85", "\u2028", "\x1c", "\u3000", '"\\ud800"', "9" * 4400, "[" * 3000,
    ]),
    st.text(max_size=5),
)
SEPARATORS = ["\t", " ", "  ", " ||| ", "|||", ",", ";", ", ", "\t\t", " \t", "\u3000", "\xa0", "-", "p", "=", "|"]
BLANKS = ["", " ", "\t", "  \t ", "\u3000", "\xa0", "\x0b", "\x0c", "\x1c"]
ENDS = ["\n"] * 6 + ["\r\n"] * 2 + ["\r", "\n\r", "\r\r\n"]
HEADERS = [
    "", "", "", "index_id\tcategory\ttext", "text,label", "id,premise,hypothesis,label", "text\tlabel",
    "sentence1\tsentence2\tlabel", "tokens\tner_tags", "en\tde", "# sent_id = 1", "-DOCSTART- -X- -X- O",
    "[", '{"text": "a", "label": 1}',
]


def _to_bytes(text: str, bom: bool) -> bytes:
    """UTF-8 bytes, with a byte-order mark when asked, and always when the text starts with U+FEFF
    (readers drop one leading mark, so text starting with one needs another in front)."""
    data = text.encode("utf-8")
    return BOM + data if (bom and text) or text.startswith("\ufeff") else data


def _encode(draw, lines: list[str], end_strategy=st.sampled_from(ENDS)) -> bytes:
    """Join lines with random line ends; maybe drop the last one (when that keeps the line count) and
    add a byte-order mark."""
    ends = [draw(end_strategy) for _ in lines]
    if lines and lines[-1] and draw(st.booleans()):
        ends[-1] = ""
    return _to_bytes("".join(a + b for a, b in zip(lines, ends)), draw(st.integers(0, 4)) == 0)


@st.composite
def token_line_files(draw) -> bytes:
    """Lines of random tokens joined by random separators, blank lines, mixed line ends, a BOM."""
    header = draw(st.sampled_from(HEADERS))
    lines = [header] if header else []
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.integers(0, 3)) == 0:
            lines.append(draw(st.sampled_from(BLANKS)))
            continue
        words = draw(st.lists(FUZZ_TOKEN, min_size=1, max_size=6))
        line = words[0]
        for w in words[1:]:
            line += draw(st.sampled_from(SEPARATORS)) + w
        lines.append(draw(st.sampled_from(["", "", "", " ", "\t"])) + line)
    return _encode(draw, lines)


#: Arbitrary bytes, and arbitrary bytes that look like text (most are valid UTF-8).
RANDOM_BYTES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.lists(st.sampled_from([b"\t", b" ", b"\n", b"\r", b"|||", b",", b";", b'"', b"a", b"0", b"-", b"p",
                              b"\xff", b"\xc3", BOM, b"{", b"[", b"}", b"]", b"_", b"#"]), max_size=60)
    .map(b"".join),
)


# --------------------------------------------------------------------------- valid files
@dataclass
class Valid:
    """A valid file (or files) and what reading it must give."""

    data: list[bytes]
    expected: Any
    stats: dict[str, int] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)


def _is_invisible(token: str) -> bool:
    return all(unicodedata.category(c) in {"Cf", "Cc", "Zs", "Zl", "Zp"} for c in token)


NO_DOCSTART_WORD = WORD.filter(lambda w: w != "-DOCSTART-")
LINE_ENDS = st.sampled_from(["\n", "\n", "\r\n"])
BLANK_LINE = st.sampled_from(["", "", " ", "\t", " \t "])
#: A token of a token file: a word, sometimes two joined by a space (``10 000``).
SPACED_TOKEN = st.one_of(WORD, st.tuples(WORD, WORD).map(" ".join))


@st.composite
def xtreme_files(draw) -> Valid:
    """XTREME ``token<TAB>label`` lines with blank lines (some doubled), blank and invisible tokens."""
    items = draw(st.lists(st.one_of(
        st.tuples(st.just("tok"), SPACED_TOKEN, WORD),
        st.tuples(st.just("tok"), st.sampled_from(["\u200b", "\ufeff", "\u200b\u200e"]), WORD),
        st.tuples(st.just("blanktok"), st.sampled_from(["", " ", "\u3000"]), WORD),
        st.tuples(st.just("blank"), BLANK_LINE, st.just("")),
    ), max_size=25))
    lines: list[str] = []
    sentences, cur = [], []
    stats = Counter()
    for kind, token, label in items:
        if kind == "blank":
            lines.append(token)
            if cur:
                sentences.append(cur)
                cur = []
            else:
                stats["empty_sentence"] += 1
            continue
        pad = draw(st.sampled_from(["", "", " "]))
        trail = draw(st.sampled_from(["", "", " ", "\t", " \t"]))
        lines.append(f"{pad}{token}{pad}\t{label}{trail}")
        if kind == "blanktok":
            stats["blank_token"] += 1
        else:
            cur.append((token, label))
            if _is_invisible(token):
                stats["invisible_token"] += 1
    if cur:
        sentences.append(cur)
    expected = [TaggedSentence([t for t, _ in s], [lab for _, lab in s]) for s in sentences]
    return Valid([_encode(draw, lines, LINE_ENDS)], expected, dict(stats))


@st.composite
def conll_files(draw) -> Valid:
    """CoNLL columns (one separator for the file) with -DOCSTART- lines and random column choices."""
    n_cols = draw(st.integers(2, 4))
    tok_pos, tag_pos = draw(st.permutations(range(n_cols)))[:2]
    options = ReadOptions(
        token_column=draw(st.sampled_from([tok_pos, tok_pos - n_cols])),
        tag_column=draw(st.sampled_from([tag_pos, tag_pos - n_cols])),
    )
    sep = draw(st.sampled_from(["\t", " ", "  "]))
    # only a tab-separated file may hold spaces inside a column
    token_st = SPACED_TOKEN if sep == "\t" else WORD
    token_st = token_st.filter(lambda w: w.split()[0] != "-DOCSTART-")
    items = draw(st.lists(st.one_of(
        st.tuples(st.just("tok"), st.lists(NO_DOCSTART_WORD, min_size=n_cols, max_size=n_cols), token_st),
        st.tuples(st.just("blank"), BLANK_LINE, st.none()),
        st.tuples(st.just("docstart"), st.sampled_from(["-DOCSTART- -X- -X- O", "-DOCSTART-", "-DOCSTART-\tO"]),
                  st.none()),
    ), max_size=25))
    lines, sentences, cur = [], [], []
    stats = Counter()
    after_docstart = False
    for kind, value, token in items:
        if kind == "blank":
            lines.append(value)
            if after_docstart:
                after_docstart = False
            elif cur:
                sentences.append(cur)
                cur = []
            else:
                stats["empty_sentence"] += 1
            continue
        if kind == "docstart":
            lines.append(value)
            stats["docstart"] += 1
            after_docstart = True
            if cur:
                sentences.append(cur)
                cur = []
            continue
        after_docstart = False
        value[tok_pos] = token
        lines.append(sep.join(value))
        cur.append((token, value[tag_pos]))
    if cur:
        sentences.append(cur)
    expected = [TaggedSentence([t for t, _ in s], [lab for _, lab in s]) for s in sentences]
    return Valid([_encode(draw, lines, LINE_ENDS)], expected, dict(stats), {"options": options})


CONLLU_FIELD = WORD.filter(lambda w: w != "_")
#: FORM and LEMMA may hold spaces (UD v2), also two in a row; only tabs separate columns.
CONLLU_FORM = st.one_of(CONLLU_FIELD, st.tuples(CONLLU_FIELD, st.sampled_from([" ", "  "]), CONLLU_FIELD)
                        .map("".join))


@st.composite
def conllu_files(draw) -> Valid:
    """CoNLL-U blocks with comments, multiword ranges, empty nodes, comment-only blocks, extra blanks."""
    label_field = draw(st.sampled_from(["upos", "xpos", "lemma", "deprel"]))
    col = {"lemma": 2, "upos": 3, "xpos": 4, "deprel": 7}[label_field]
    lines: list[str] = []
    sentences = []
    stats = Counter()
    in_block = False
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["sent", "sent", "sent", "comments", "blank"]))
        if kind == "blank":
            lines.append(draw(BLANK_LINE))
            if in_block:
                in_block = False  # ends the block before it
            else:
                stats["blank_line"] += 1
            continue
        if in_block:  # close the previous block
            lines.append("")
            in_block = False
        n_comments = draw(st.integers(0 if kind == "sent" else 1, 2))
        lines += [f"# {draw(st.sampled_from(['sent_id', 'text', 'x']))} = {draw(WORD)}"
                  for _ in range(n_comments)]
        in_block = True
        if kind == "comments":
            stats["empty_sentence"] += 1
            continue
        n = draw(st.integers(1, 5))
        tokens, labels = [], []
        for i in range(1, n + 1):
            if i < n and draw(st.integers(0, 4)) == 0:
                lines.append(f"{i}-{i + 1}\t{draw(CONLLU_FORM)}\t_\t_\t_\t_\t_\t_\t_\t_")
                stats["multiword_token"] += 1
            cols = [str(i), draw(CONLLU_FORM), draw(CONLLU_FORM), draw(CONLLU_FIELD), draw(CONLLU_FIELD),
                    draw(st.sampled_from(["_", "Case=Nom|Number=Sing"])), str(draw(st.integers(0, n))),
                    draw(CONLLU_FIELD), draw(st.sampled_from(["_", f"{i}:dep"])), "_"]
            cols[col] = draw(CONLLU_FIELD)
            lines.append("\t".join(cols))
            tokens.append(cols[1])
            labels.append(cols[col])
            if _is_invisible(cols[1]):
                stats["invisible_token"] += 1
            if draw(st.integers(0, 5)) == 0:
                lines.append(f"{i}.1\t{draw(CONLLU_FORM)}\t_\t_\t_\t_\t_\t_\t_\t_")
                stats["empty_node"] += 1
        sentences.append(TaggedSentence(tokens, labels))
    if in_block and draw(st.booleans()):
        lines.append("")
    return Valid([_encode(draw, lines, LINE_ENDS)], sentences, dict(stats), {"label_field": label_field})


#: Free text on one line: anything but a line break; stripped, may be empty.
LINE_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\n\r"), max_size=12)
NONEMPTY_TEXT = LINE_TEXT.map(str.strip).filter(bool)


@st.composite
def sib200_files(draw) -> Valid:
    """A SIB-200 split: header, rows (texts with tabs and CSV-quoted quotes), blank rows, empty texts."""
    lines = ["index_id\tcategory\ttext"]
    expected, stats = [], Counter()
    for k in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(["row", "row", "row", "blank", "empty"]))
        if kind == "blank":
            lines.append(draw(BLANK_LINE))
            stats["blank_line"] += 1
            continue
        ex_id, label = str(draw(st.integers(0, 999))), draw(WORD)
        if kind == "empty":
            lines.append(f"{ex_id}\t{label}\t{draw(st.sampled_from(['', ' ', '  ']))}")
            stats["empty_text"] += 1
            continue
        text = draw(st.one_of(NONEMPTY_TEXT, st.tuples(NONEMPTY_TEXT, NONEMPTY_TEXT).map("\t".join)))
        written = text
        if '"' in text:
            written = '"' + text.replace('"', '""') + '"'
            stats["unquoted_text"] += 1
        lines.append(f"{ex_id}\t{label}\t{written}")
        expected.append(TextExample(ex_id, text, label))
    return Valid([_encode(draw, lines, LINE_ENDS)], expected, dict(stats))


#: Cells of CSV/TSV tables: anything but carriage returns (line breaks, quotes, commas, tabs welcome).
TABLE_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r"), max_size=12)


@st.composite
def table_files(draw, delimiter: str) -> Valid:
    """A CSV/TSV table written by :mod:`csv` (text or pair columns, ids or not) with blank lines."""
    pair = draw(st.booleans())
    with_id = draw(st.booleans())
    text_cols = ["premise", "hypothesis"] if pair else ["text"]
    header = (["id"] if with_id else []) + text_cols + ["label"]
    order = draw(st.permutations(header))
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(order)
    expected, stats, n_record = [], Counter(), 0
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.integers(0, 4)) == 0:
            buf.write(draw(st.sampled_from(["", " "])) + "\n")
            stats["blank_line"] += 1
            continue
        n_record += 1
        row = {"id": draw(WORD.filter(lambda w: w.strip() == w)), "label": draw(WORD)}
        texts = [draw(st.one_of(TABLE_TEXT.filter(lambda t: t.strip()), st.sampled_from(["", " "])))
                 for _ in text_cols]
        row.update(zip(text_cols, texts))
        writer.writerow([row[c] for c in order])
        if not all(t.strip() for t in texts):
            stats["empty_text"] += 1
            continue
        ex_id = row["id"] if with_id else str(n_record)
        if pair:
            expected.append(PairExample(ex_id, texts[0].strip(), texts[1].strip(), row["label"]))
        else:
            expected.append(TextExample(ex_id, texts[0].strip(), row["label"]))
    return Valid([_to_bytes(buf.getvalue(), draw(st.integers(0, 4)) == 0)], expected, dict(stats))


JSON_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=10)


@st.composite
def jsonl_files(draw, array: bool = False) -> Valid:
    """JSON lines (or one JSON list): text, pair or token-list records, blank lines, empty texts."""
    mode = draw(st.sampled_from(["text", "pair", "token"]))
    records: list[dict] = []
    expected, stats = [], Counter()
    for _ in range(draw(st.integers(0, 8))):
        label = draw(st.one_of(WORD, st.integers(-5, 10**30)))
        if mode == "token":
            tokens = draw(st.lists(JSON_TEXT, max_size=5))
            tags = [draw(st.one_of(WORD, st.integers(0, 9))) for _ in tokens]
            rec = {"tokens": tokens, "ner_tags": tags}
            kept = [(t.strip(), str(g)) for t, g in zip(tokens, tags) if t.strip()]
            stats["blank_token"] += len(tokens) - len(kept)
            stats["invisible_token"] += sum(_is_invisible(t) for t, _ in kept)
            if kept:
                expected.append(TaggedSentence([t for t, _ in kept], [g for _, g in kept]))
            else:
                stats["empty_sentence"] += 1
        else:
            cols = ["premise", "hypothesis"] if mode == "pair" else ["text"]
            texts = [draw(JSON_TEXT) for _ in cols]
            rec = dict(zip(cols, texts), label=label)
            if all(t.strip() for t in texts):
                expected.append((len(records) + 1, [t.strip() for t in texts], str(label)))
            else:
                stats["empty_text"] += 1
        records.append(rec)
    ascii_only = draw(st.booleans())
    if array:
        data = _to_bytes(json.dumps(records, ensure_ascii=ascii_only, indent=draw(st.sampled_from([None, 1]))),
                         draw(st.booleans()))
        numbers = list(range(1, len(records) + 1))
    else:
        lines, numbers = [], []
        for rec in records:
            while draw(st.integers(0, 4)) == 0:
                lines.append(draw(BLANK_LINE))
                stats["blank_line"] += 1
            lines.append(json.dumps(rec, ensure_ascii=ascii_only))
            numbers.append(len(lines))
        data = _encode(draw, lines, LINE_ENDS)
    if mode != "token":  # ids are the line (JSONL) or item (JSON list) numbers
        expected = [
            PairExample(str(numbers[k - 1]), t[0], t[1], lab) if mode == "pair" else
            TextExample(str(numbers[k - 1]), t[0], lab)
            for k, t, lab in expected
        ]
    return Valid([data], expected, dict(stats))


@st.composite
def dictionary_files(draw) -> Valid:
    """A bilingual dictionary in the tab or the space layout, with multiword entries and repeats."""
    layout = draw(st.sampled_from(["tab", "space"]))
    lines, entries, seen = [], [], set()
    stats = Counter()
    for _ in range(draw(st.integers(0, 10))):
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(BLANK_LINE))
            stats["n_blank"] += 1
            continue
        if layout == "tab":
            e = draw(st.one_of(WORD, st.tuples(WORD, WORD).map(" ".join)))
            f = draw(st.one_of(WORD, st.tuples(WORD, WORD).map(" ".join)))
            lines.append(f"{e}\t{f}")
        else:
            e, f = draw(WORD), draw(WORD)
            lines.append(f"{e}{draw(st.sampled_from([' ', '  ', ' ' + chr(0x3000)]))}{f}")
        key = (e.casefold(), f.casefold())
        if " " in key[0] or " " in key[1]:
            stats["n_multiword"] += 1
        elif key in seen:
            stats["n_duplicates"] += 1
        else:
            seen.add(key)
            entries.append(key)
    return Valid([_encode(draw, lines, LINE_ENDS)], entries, dict(stats), {"layout": layout})


#: A sentence of parallel text: no line break, tab or ``|``; may be blank (a skipped pair).
SENTENCE = st.one_of(LINE_TEXT.filter(lambda s: "\t" not in s and "|" not in s),
                     st.sampled_from(["", " "]))


@st.composite
def parallel_files(draw, layout: str) -> Valid:
    """Line-aligned files (``files``), a ``src ||| tgt`` file (``bitext``) or ``src<TAB>tgt`` with header."""
    pairs = draw(st.lists(st.tuples(SENTENCE, SENTENCE), max_size=10))
    first = 2 if layout == "tsv" else 1
    kept = [(k, a.strip(), b.strip()) for k, (a, b) in enumerate(pairs, first) if a.strip() and b.strip()]
    skipped = [k for k, (a, b) in enumerate(pairs, first) if not (a.strip() and b.strip())]
    if layout == "files":
        data = [_encode(draw, [a for a, _ in pairs], LINE_ENDS), _encode(draw, [b for _, b in pairs], LINE_ENDS)]
        if not pairs:
            data = [b"", b""]
    elif layout == "bitext":
        if not pairs:  # a one-file corpus needs a pair to show its layout
            pairs, kept, skipped = [("a", "b")], [(1, "a", "b")], []
        sep = draw(st.sampled_from([" ||| ", "|||", "\t|||\t"]))
        data = [_encode(draw, [f"{a}{sep}{b}" for a, b in pairs], LINE_ENDS)]
    else:
        data = [_encode(draw, ["en\tde"] + [f"{a}\t{b}" for a, b in pairs], LINE_ENDS)]
    return Valid(data, (kept, skipped))


#: A word of a pre-tokenised sentence pair: no whitespace, no ``|``.
PAIR_WORD = WORD.filter(lambda w: "|" not in w)


@st.composite
def pair_files(draw) -> Valid:
    """``source ||| target`` lines of pre-tokenised words, with empty sides and blank lines."""
    lines, src, tgt, skipped = [], [], [], []
    for k in range(1, draw(st.integers(0, 10)) + 1):
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(BLANK_LINE))
            a = b = []
        else:
            a = draw(st.lists(PAIR_WORD, max_size=4))
            b = draw(st.lists(PAIR_WORD, max_size=4))
            sp = draw(st.sampled_from([" ", "  ", "\t"]))
            lines.append(sp.join(a) + draw(st.sampled_from([" ||| ", "|||", " |||", "\t||| "])) + sp.join(b))
        if not a or not b:
            a, b = [], []
            skipped.append(k)
        src.append(a)
        tgt.append(b)
    return Valid([_encode(draw, lines, LINE_ENDS)], (src, tgt, skipped))


LINK = st.tuples(st.integers(0, 40), st.integers(0, 40))


@st.composite
def pharaoh_files(draw) -> Valid:
    """Pharaoh lines of sure ``i-j`` and possible ``ipj`` links (0- or 1-based), random spacing."""
    one_based = draw(st.booleans())
    base = 1 if one_based else 0
    lines, sure, possible = [], [], []
    for _ in range(draw(st.integers(0, 8))):
        s = draw(st.sets(LINK, max_size=5))
        p = draw(st.sets(LINK, max_size=5))
        toks = [f"{i + base}-{j + base}" for i, j in s] + [f"{i + base}p{j + base}" for i, j in p]
        toks = draw(st.permutations(toks))
        line = draw(st.sampled_from(["", " ", "\t"]))
        for t in toks:
            line += t + draw(st.sampled_from([" ", "  ", "\t"]))
        lines.append(line)
        sure.append(s)
        possible.append(s | p)
    lengths = [(max([i for i, _ in p] + [-1]) + 1 + draw(st.integers(0, 2)),
                max([j for _, j in p] + [-1]) + 1) for p in possible]
    return Valid([_encode(draw, lines, LINE_ENDS)], (sure, possible),
                 kwargs={"one_based": one_based, "lengths": lengths})


# =========================================================================== (a), (b): random input
@pytest.mark.parametrize("name", list(READERS))
@FUZZ
@given(data=st.data())
def test_random_bytes_give_a_result_or_a_clear_error(workdir, name, data):
    reader = READERS[name]
    contents = [data.draw(RANDOM_BYTES, label=f"file {k}") for k in range(len(reader.names))]
    _run(workdir / "bytes" / name, reader.names, contents, reader.call)


@pytest.mark.parametrize("name", list(READERS))
@FUZZ
@given(data=st.data())
def test_random_token_lines_give_a_result_or_a_clear_error(workdir, name, data):
    reader = READERS[name]
    contents = [data.draw(token_line_files(), label=f"file {k}") for k in range(len(reader.names))]
    _run(workdir / "lines" / name, reader.names, contents, reader.call)


# =========================================================================== (c): valid files, perturbed
#: Values put into valid files: separators, quotes, line breaks, bad bytes, empty and placeholder
#: fields, huge numbers, deep JSON nesting, escaped lone surrogates.
NASTY = [b"\t", b" ", b"  ", b"|||", b",", b";", b'"', b"'", b"\n", b"\r", b"\r\n", b"\n\n", b" \n", b"\t\n",
         b"{", b"}", b"[", b"]", b":", b"_", b"", b"-", b"p", b"#", b"=", b"|", b"0", b"-1", b"1-2", b"2.1", b"3-1",
         b"a  b", b"NaN", b"1e999", b"null", b"[]", b"{}", b'""', BOM, b"\xff", b"\xc3", b"\x00", b"\xe2\x80\x8b",
         b"-DOCSTART- O\n", b"9" * 4400, b"9" * 4400 + b"-1", b"1p" + b"9" * 4400, b"[" * 3000, b'{"a":' * 1500,
         b'"\\ud800"', b'"x\\udfff"', b"\\ud800", b"\\udfff"]


@st.composite
def perturbed(draw, valid: st.SearchStrategy[Valid]) -> tuple[list[bytes], dict[str, Any]]:
    """A valid file (or files) with one to three random edits each, and the reader arguments."""
    v = draw(valid)
    out = []
    for data in v.data:
        for _ in range(draw(st.integers(1, 3))):
            pos = draw(st.integers(0, len(data)))
            op = draw(st.sampled_from(["insert", "insert", "field", "field", "delete", "line", "byte", "truncate"]))
            if op == "insert":
                data = data[:pos] + draw(st.sampled_from(NASTY)) + data[pos:]
            elif op == "field":  # replace one field (tab, space, comma or ||| separated) of a line
                lines = data.split(b"\n")
                k = draw(st.integers(0, len(lines) - 1))
                sep = draw(st.sampled_from([b"\t", b" ", b",", b"|||"]))
                cells = lines[k].split(sep)
                cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(NASTY))
                lines[k] = sep.join(cells)
                data = b"\n".join(lines)
            elif op == "delete":
                data = data[:pos] + data[pos + draw(st.integers(1, 6)):]
            elif op == "line":  # repeat, drop or blank out a line
                lines = data.split(b"\n")
                k = draw(st.integers(0, len(lines) - 1))
                what = draw(st.sampled_from(["repeat", "drop", "blank", "spaces"]))
                repl = {"repeat": [lines[k], lines[k]], "drop": [], "blank": [b""], "spaces": [b" \t "]}[what]
                data = b"\n".join(lines[:k] + repl + lines[k + 1:])
            elif op == "byte" and data:
                pos = min(pos, len(data) - 1)
                data = data[:pos] + bytes([draw(st.integers(0, 255))]) + data[pos + 1:]
            elif op == "truncate":
                data = data[:pos]
        out.append(data)
    return out, v.kwargs


#: (valid files, file names, reader called with the Valid's kwargs and the paths).
PERTURBED: dict[str, tuple[st.SearchStrategy[Valid], tuple[str, ...], Callable[..., Any]]] = {
    "xtreme": (xtreme_files(), ("test-de.tsv",), lambda kw, p: read_xtreme_tsv(p)),
    "xtreme-detected": (xtreme_files(), ("test-de.tsv",), lambda kw, p: read_examples(p)),
    "conll": (conll_files(), ("x.conll",), lambda kw, p: read_conll(p, kw["options"])),
    "conll-detected": (conll_files(), ("x.tsv",), lambda kw, p: read_examples(p, options=kw["options"])),
    "conllu": (conllu_files(), ("x.conllu",), lambda kw, p: read_conllu(p, label_field=kw["label_field"])),
    "sib200": (sib200_files(), ("test.tsv",), lambda kw, p: read_sib200(p)),
    "sib200-detected": (sib200_files(), ("test.tsv",), lambda kw, p: read_examples(p)),
    "csv": (table_files(","), ("x.csv",), lambda kw, p: read_examples(p)),
    "tsv": (table_files("\t"), ("x.tsv",), lambda kw, p: read_examples(p, "tsv")),
    "jsonl": (jsonl_files(), ("x.jsonl",), lambda kw, p: read_examples(p)),
    "json": (jsonl_files(array=True), ("x.json",), lambda kw, p: read_examples(p)),
    "dictionary": (dictionary_files(), ("d.txt",), lambda kw, p: read_dictionary(p)),
    "parallel-files": (parallel_files("files"), ("c.en", "c.de"), lambda kw, a, b: read_user_pair([a, b])),
    "parallel-bitext": (parallel_files("bitext"), ("c.en-de.txt",), lambda kw, p: read_user_pair(p)),
    "parallel-tsv": (parallel_files("tsv"), ("c.tsv",), lambda kw, p: read_user_parallel(p)),
    "pairs": (pair_files(), ("x.en-de",), lambda kw, p: read_pairs(p, "simple")),
    "pharaoh": (pharaoh_files(), ("x.gold",), lambda kw, p: read_pharaoh(p, **kw)),
}


@pytest.mark.parametrize("name", list(PERTURBED))
@PERTURB
@given(data=st.data())
def test_perturbed_valid_files_give_a_result_or_a_clear_error(workdir, name, data):
    valid, names, call = PERTURBED[name]
    contents, kwargs = data.draw(perturbed(valid))
    _run(workdir / "perturbed" / name, names, contents, lambda *paths: call(kwargs, *paths))


# --------------------------------------------------------------------------- (c): right syntax, random fields
#: Field values that have broken readers or parsers somewhere: placeholders, empty and spaced
#: fields, odd ids and numbers (Arabic-Indic digits, more digits than ``int()`` takes), quotes.
ODD_CELLS = ["_", "", " ", "a  b", "0", "-1", "1-2", "2.1", "3-1", "1.1", "01", "+1", "\u0663", "9" * 4400,
             "1:dep", "0:root", "x=y=z", "Case=Nom|Number", "|", "=", '"', '""', '"a ""b"""', '"a"b"', "#",
             "-DOCSTART-", "\u200b", "\ufeff"]
CELL = st.one_of(WORD, st.sampled_from(ODD_CELLS))
COLUMN_NAMES = ["text", "label", "premise", "hypothesis", "id", "tokens", "ner_tags", "sentence", "category",
                "index_id", "labels", "guid", "text_pair"]


@st.composite
def grid_files(draw, sep: str | st.SearchStrategy[str], cells: st.SearchStrategy[list[str]],
               header: str | st.SearchStrategy[str] = "") -> bytes:
    """Lines of random fields joined by the format's separator (one per file), blank lines between."""
    sep = sep if isinstance(sep, str) else draw(sep)
    header = header if isinstance(header, str) else draw(header)
    lines = [header] if header else []
    for _ in range(draw(st.integers(1, 8))):
        lines.append(draw(BLANK_LINE) if draw(st.integers(0, 5)) == 0 else sep.join(draw(cells)))
    return _encode(draw, lines, LINE_ENDS)


def _conllu_cells() -> st.SearchStrategy[list[str]]:
    ids = st.one_of(st.integers(0, 4).map(str),
                    st.sampled_from(["_", "", "1-2", "2.1", "2-1", "1.0", "01", "a", "9" * 4400]))
    heads = st.one_of(st.integers(0, 4).map(str), st.sampled_from(["_", "-1", "01", "a", "9" * 4400]))
    deps = st.sampled_from(["_", "1:dep", "0:root", "1:dep|2:x", "2-1:x", "1", ":x", "a:b"])
    return st.tuples(ids, CELL, CELL, CELL, CELL, st.one_of(CELL, st.just("_")), heads, CELL, deps, CELL).map(list)


NUMBER = st.one_of(st.integers(0, 20).map(str), st.sampled_from(["", "-1", "00", "\u0663", "1.5"]), st.just("9" * 4400))
LINK_TOKEN = st.tuples(NUMBER, st.sampled_from(["-", "-", "p", "--", "P", ":"]), NUMBER).map("".join)

#: Sentinel strings that :func:`json_files` writes as raw JSON no encoder would produce.
_RAW_JSON = {"\x00BIG": "9" * 4400, "\x00DEEP": "[" * 3000 + "]" * 3000, "\x00SURR": '"a \\ud800"',
             "\x00NAN": "NaN", "\x00INF": "-Infinity"}
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), JSON_TEXT, WORD,
                      st.sampled_from(list(_RAW_JSON)))
JSON_VALUE = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.sampled_from(COLUMN_NAMES), inner, max_size=3), max_leaves=6)
#: Mostly plain strings and labels, so that whole files get through and odd values reach the examples.
JSON_TEXT_VALUE = st.one_of(JSON_TEXT, WORD, st.just("\x00SURR"), JSON_LEAF)
JSON_LABEL_VALUE = st.one_of(WORD, st.integers(), st.just("\x00SURR"), JSON_LEAF)
#: Records of one kind per file (text, pair, token lists), or anything JSON.
JSON_RECORDS = [
    st.fixed_dictionaries({"text": JSON_TEXT_VALUE, "label": JSON_LABEL_VALUE}, optional={"id": JSON_TEXT_VALUE}),
    st.fixed_dictionaries({"premise": JSON_TEXT_VALUE, "hypothesis": JSON_TEXT_VALUE, "label": JSON_LABEL_VALUE}),
    st.fixed_dictionaries({"tokens": st.lists(JSON_TEXT_VALUE, max_size=3),
                           "ner_tags": st.lists(JSON_LABEL_VALUE, max_size=3)}),
    st.one_of(st.dictionaries(st.sampled_from(COLUMN_NAMES), JSON_VALUE, max_size=4), JSON_VALUE),
]


def _raw_json(value: Any) -> str:
    text = json.dumps(value)
    for sentinel, raw in _RAW_JSON.items():
        text = text.replace(json.dumps(sentinel), raw)
    return text


@st.composite
def json_files(draw, array: bool) -> bytes:
    """JSON lines or one JSON list of random records: any JSON, huge numbers, deep nesting, surrogates."""
    kind = draw(st.sampled_from(JSON_RECORDS))
    records = [_raw_json(r) for r in draw(st.lists(kind, min_size=1, max_size=3))]
    if array:
        return _to_bytes("[" + ",\n".join(records) + "]\n", draw(st.booleans()))
    return _encode(draw, records, LINE_ENDS)


TABLE_HEADER = st.lists(st.sampled_from(COLUMN_NAMES + ["", " text", "x"]), min_size=1, max_size=4)
GRIDS: dict[str, tuple[tuple[str, ...], Callable[..., Any], st.SearchStrategy[bytes]]] = {
    "xtreme": (("t.tsv",), read_xtreme_tsv, grid_files("\t", st.lists(CELL, min_size=1, max_size=3))),
    "conll": (("t.conll",), read_conll,
              grid_files(st.sampled_from(["\t", " "]), st.lists(CELL, min_size=1, max_size=4))),
    "conllu": (("t.conllu",), read_conllu, grid_files("\t", _conllu_cells())),
    "conllu-xpos": (("t.conllu",), lambda p: read_conllu(p, label_field="xpos"), grid_files("\t", _conllu_cells())),
    "sib200": (("test.tsv",), read_sib200,
               grid_files("\t", st.lists(CELL, min_size=2, max_size=4), "index_id\tcategory\ttext")),
    "csv": (("t.csv",), lambda p: read_examples(p, "csv"),
            grid_files(",", st.lists(CELL, min_size=1, max_size=4), TABLE_HEADER.map(",".join))),
    "tsv": (("t.tsv",), lambda p: read_examples(p, "tsv"),
            grid_files("\t", st.lists(CELL, min_size=1, max_size=4), TABLE_HEADER.map("\t".join))),
    "tsv-detected": (("t.tsv",), read_examples,
                     grid_files("\t", st.lists(CELL, min_size=1, max_size=4), TABLE_HEADER.map("\t".join))),
    "jsonl": (("t.jsonl",), read_examples, json_files(array=False)),
    "json": (("t.json",), read_examples, json_files(array=True)),
    "dictionary": (("d.txt",), read_dictionary,
                   grid_files(st.sampled_from(["\t", " "]), st.lists(CELL, min_size=1, max_size=3))),
    "pharaoh": (("a.gold",), read_pharaoh, grid_files(st.sampled_from([" ", "\t"]), st.lists(LINK_TOKEN, max_size=4))),
    "pharaoh-one-based": (("a.gold",), lambda p: read_pharaoh(p, one_based=True, lengths=[(3, 3)] * 4),
                          grid_files(" ", st.lists(LINK_TOKEN, max_size=4))),
    "pairs": (("x.en-de",), read_pairs,
              grid_files(st.sampled_from([" ||| ", "|||"]), st.lists(CELL, min_size=1, max_size=3))),
    "parallel-bitext": (("c.en-de.txt",), read_user_pair,
                        grid_files(st.sampled_from([" ||| ", "|||"]), st.lists(CELL, min_size=1, max_size=3))),
    "parallel-tsv": (("c.tsv",), read_user_pair,
                     grid_files("\t", st.lists(CELL, min_size=1, max_size=3),
                                st.sampled_from(["en\tde", "", "de\tde"]))),
}


@pytest.mark.parametrize("name", list(GRIDS))
@FUZZ
@given(data=st.data())
def test_random_fields_in_the_right_syntax_give_a_result_or_a_clear_error(workdir, name, data):
    names, call, files = GRIDS[name]
    _run(workdir / "grid" / name, names, [data.draw(files)], call)


# =========================================================================== round trips on valid data
def _read_valid(workdir: Path, name: str, names: Sequence[str], valid: Valid, call: Callable[..., Any]) -> Any:
    paths = _write(workdir / "valid" / name, names, valid.data)
    result = call(*paths)
    _check_result(result)
    return result


def _counts(stats_counter: Counter, keys: Sequence[str]) -> dict[str, int]:
    return {k: stats_counter[k] for k in keys if stats_counter[k]}


@ROUND_TRIP
@given(valid=xtreme_files(), limit=st.one_of(st.none(), st.integers(1, 4)))
def test_xtreme_round_trip_and_counts(workdir, valid, limit):
    sents, stats = _read_valid(workdir, "xtreme", ["t.tsv"], valid, read_xtreme_tsv)
    assert sents == valid.expected
    assert _counts(stats.skipped, ["empty_sentence", "blank_token"]) == _counts(
        Counter(valid.stats), ["empty_sentence", "blank_token"])
    assert stats.notes["invisible_token"] == valid.stats.get("invisible_token", 0)
    assert stats.n_lines == _n_lines(valid.data[0])
    limited, lstats = read_xtreme_tsv(stats.path, limit=limit)
    assert limited == valid.expected[:limit]
    assert lstats.n_read == len(limited)


@ROUND_TRIP
@given(valid=conll_files())
def test_conll_round_trip_and_counts(workdir, valid):
    sents, stats = _read_valid(workdir, "conll", ["t.conll"], valid,
                               lambda p: read_examples(p, "conll", valid.kwargs["options"]))
    assert sents == valid.expected
    assert _counts(stats.skipped, ["empty_sentence", "docstart"]) == _counts(
        Counter(valid.stats), ["empty_sentence", "docstart"])


@ROUND_TRIP
@given(valid=conllu_files())
def test_conllu_round_trip_and_counts(workdir, valid):
    keys = ["empty_sentence", "blank_line", "multiword_token", "empty_node"]
    sents, stats = _read_valid(workdir, "conllu", ["t.conllu"], valid,
                               lambda p: read_conllu(p, label_field=valid.kwargs["label_field"]))
    assert sents == valid.expected
    assert _counts(stats.skipped, keys) == _counts(Counter(valid.stats), keys)
    assert stats.notes["invisible_token"] == valid.stats.get("invisible_token", 0)


@ROUND_TRIP
@given(valid=sib200_files())
def test_sib200_round_trip_and_counts(workdir, valid):
    examples, stats = _read_valid(workdir, "sib200", ["test.tsv"], valid, read_sib200)
    assert examples == valid.expected
    assert _counts(stats.skipped, ["blank_line", "empty_text"]) == _counts(
        Counter(valid.stats), ["blank_line", "empty_text"])
    assert stats.notes["unquoted_text"] == valid.stats.get("unquoted_text", 0)


@ROUND_TRIP
@given(valid=st.one_of(table_files(","), table_files("\t")), limit=st.one_of(st.none(), st.integers(0, 3)))
def test_csv_tsv_round_trip_and_counts(workdir, valid, limit):
    comma = b"\t" not in valid.data[0].split(b"\n")[0]
    examples, stats = _read_valid(workdir, "table", ["t.csv" if comma else "t.tsv"], valid,
                                  lambda p: read_examples(p, "csv" if comma else "tsv"))
    assert examples == valid.expected
    assert _counts(stats.skipped, ["blank_line", "empty_text"]) == _counts(
        Counter(valid.stats), ["blank_line", "empty_text"])
    assert read_examples(stats.path, "csv" if comma else "tsv", limit=limit)[0] == valid.expected[:limit]


@ROUND_TRIP
@given(valid=st.one_of(jsonl_files(), jsonl_files(array=True)))
def test_jsonl_round_trip_and_counts(workdir, valid):
    array = valid.data[0].lstrip(BOM).lstrip().startswith(b"[")
    keys = ["blank_line", "empty_text", "empty_sentence", "blank_token"]
    examples, stats = _read_valid(workdir, "json", ["t.json" if array else "t.jsonl"], valid, read_examples)
    assert examples == valid.expected
    assert _counts(stats.skipped, keys) == _counts(Counter(valid.stats), keys)
    assert stats.notes["invisible_token"] == valid.stats.get("invisible_token", 0)


@ROUND_TRIP
@given(valid=dictionary_files())
def test_dictionary_round_trip_and_counts(workdir, valid):
    d = _read_valid(workdir, "dict", ["en-de.txt"], valid, read_dictionary)
    assert d.entries == valid.expected
    for key in ("n_blank", "n_multiword", "n_duplicates"):
        assert d.stats[key] == valid.stats.get(key, 0), key
    assert d.stats["n_lines"] == _n_lines(valid.data[0])
    if d.entries or d.stats["n_multiword"] or d.stats["n_duplicates"]:
        assert d.format == valid.kwargs["layout"]


@ROUND_TRIP
@given(valid=parallel_files("files"))
def test_parallel_files_round_trip(workdir, valid):
    kept, skipped = valid.expected
    pt = _read_valid(workdir, "par2", ["c.en", "c.de"], valid, lambda a, b: read_user_pair([a, b]))
    assert list(zip(pt.lines, pt.src, pt.tgt)) == kept
    assert pt.skipped_lines == skipped and pt.n_skipped_empty == len(skipped)
    assert (pt.src_lang, pt.tgt_lang) == ("en", "de")
    mp = read_multiparallel({"en": pt.path_src, "de": pt.path_tgt, "x": pt.path_src})
    assert mp.texts["de"] == pt.tgt and mp.texts["x"] == pt.src and mp.skipped_lines == skipped


@ROUND_TRIP
@given(valid=st.one_of(parallel_files("bitext"), parallel_files("tsv")))
def test_parallel_one_file_round_trip(workdir, valid):
    kept, skipped = valid.expected
    tsv = valid.data[0].lstrip(BOM).startswith(b"en\tde")
    pt = _read_valid(workdir, "par1", ["pairs.tsv" if tsv else "c.en-de.txt"], valid, read_user_pair)
    assert list(zip(pt.lines, pt.src, pt.tgt)) == kept
    assert pt.skipped_lines == skipped
    assert (pt.src_lang, pt.tgt_lang) == ("en", "de")


@ROUND_TRIP
@given(valid=pair_files(), tokenizer=st.sampled_from(["space", "simple"]))
def test_alignment_pairs_round_trip(workdir, valid, tokenizer):
    src, tgt, skipped = valid.expected
    pairs = _read_valid(workdir, "pairs", ["x.en-de"], valid, lambda p: read_pairs(p, tokenizer))
    assert len(pairs) == len(src)
    assert pairs.stats.skipped["empty_side"] == len(pairs.skipped_lines)
    if tokenizer == "space":  # "simple" splits punctuation off and drops invisible characters
        assert (pairs.src, pairs.tgt) == (src, tgt)
        assert pairs.skipped_lines == skipped


@ROUND_TRIP
@given(valid=pharaoh_files())
def test_pharaoh_round_trip(workdir, valid):
    sure, possible = valid.expected
    links = _read_valid(workdir, "pharaoh", ["x.gold"], valid, lambda p: read_pharaoh(p, **valid.kwargs))
    assert links.sure == sure and links.possible == possible


# =========================================================================== regressions found by the properties
def _one(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return p


def _error(call: Callable[[], Any]) -> DataFormatError:
    with pytest.raises(DataFormatError) as info:
        call()
    return info.value


@pytest.mark.parametrize("word_id", ["_", ""])
def test_conllu_word_without_id_is_a_format_error(tmp_path, word_id):
    # was: TypeError ('NoneType' object is not subscriptable) from the multiword/empty-node check
    p = _one(tmp_path, "x.conllu", "1\tHund\tHund\tNOUN\t_\t_\t0\troot\t_\t_\n"
                                   f"{word_id}\tbellt\tbellen\tVERB\t_\t_\t1\tdep\t_\t_\n")
    err = _error(lambda: read_conllu(p))
    assert str(err).startswith(f"{p}:2: word has no ID")


def test_conllu_two_spaces_inside_a_field_do_not_shift_the_columns(tmp_path):
    # was: conllu's parse_line also splits at two spaces, so the LEMMA 'New  York' pushed 'York' into
    # UPOS and every word was read with the wrong label (or a valid line was rejected: HEAD <- FEATS)
    p = _one(tmp_path, "x.conllu", "1\tNew  York\tNew  York\tPROPN\tNNP\t_\t0\troot\t_\t_\n"
                                   "2\tis\tbe\tAUX\tVBZ\tMood=Ind|Tense=Pres\t1\tcop\t_\t_\n")
    sents, _ = read_conllu(p)
    assert sents == [TaggedSentence(["New  York", "is"], ["PROPN", "AUX"])]
    assert read_conllu(p, label_field="lemma")[0][0].labels == ["New  York", "be"]


def test_conllu_label_is_stripped(tmp_path):
    p = _one(tmp_path, "x.conllu", "1\tHund\tHund\t NOUN \t_\t_\t0\troot\t_\t_\n2\tx\tx\t _ \t_\t_\t1\tdep\t_\t_\n")
    err = _error(lambda: read_conllu(p))
    assert str(err).startswith(f"{p}:2: word has no upos")
    p.write_text("1\tHund\tHund\t NOUN \t_\t_\t0\troot\t_\t_\n")
    assert read_conllu(p)[0] == [TaggedSentence(["Hund"], ["NOUN"])]


@pytest.mark.parametrize(("name", "content", "line", "what"), [
    # was: ValueError "Exceeds the limit (4300 digits) for integer string conversion"
    ("x.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": ' + "9" * 4400 + "}\n", 2, "number"),
    ("x.json", '[{"text": "a", "label": 1},\n {"text": "b", "label": ' + "9" * 4400 + "}]\n", 2, "number"),
    # was: RecursionError
    ("x.jsonl", '{"text": "a", "label": 1}\n{"text": ' + "[" * 3000 + "\n", 2, "nested"),
    ("x.json", '[{"text": "a", "label": 1},\n' + "[" * 3000 + "]" * 3000 + "]\n", 2, "nested"),
])
def test_unreadable_json_numbers_and_nesting_are_format_errors(tmp_path, name, content, line, what):
    p = _one(tmp_path, name, content)
    err = _error(lambda: read_examples(p))
    assert str(err).startswith(f"{p}:{line}: ") and what in str(err)


@pytest.mark.parametrize("record", [
    '{"text": "caf\\ud800", "label": "x"}',
    '{"text": "a", "label": "\\udfff"}',
    '{"premise": "a", "hypothesis": "b\\ud83d", "label": "x"}',
    '{"tokens": ["a", "\\udc00"], "ner_tags": ["O", "O"]}',
    '{"tokens": ["a"], "ner_tags": ["B-\\ud800"]}',
])
def test_json_lone_surrogates_are_format_errors(tmp_path, record):
    # was: read as text that a tokenizer or a UTF-8 output file fails on later
    p = _one(tmp_path, "x.jsonl", '{"text": "ok \\ud83d\\ude00", "label": "x"}\n' if "text" in record else "")
    p.write_text(p.read_text() + record + "\n")
    err = _error(lambda: read_examples(p))
    assert str(err).startswith(f"{p}:") and "lone surrogate" in str(err)
    assert err.line == (2 if "text" in record else 1)


def test_json_surrogate_pairs_are_text(tmp_path):
    p = _one(tmp_path, "x.jsonl", '{"text": "ok \\ud83d\\ude00", "label": "x"}\n')
    assert read_examples(p)[0] == [TextExample("1", "ok \U0001f600", "x")]


def test_pharaoh_index_with_too_many_digits_is_a_format_error(tmp_path):
    # was: ValueError "Exceeds the limit (4300 digits) for integer string conversion"
    p = _one(tmp_path, "a.gold", "0-0 1p1\n" + "9" * 4400 + "-1\n")
    err = _error(lambda: read_pharaoh(p))
    assert str(err).startswith(f"{p}:2: bad link '9999") and len(str(err)) < 300
