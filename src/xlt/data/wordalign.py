"""Word-alignment files: sentence pairs (``source ||| target``) and Pharaoh links.

Sentence pairs (the input of ``xlt wordalign``, the ``*.src-tgt`` files of the gold sets):
one pair per line, ``source ||| target``; each side is split into words by a word tokeniser
(``space``: on ASCII spaces, for pre-tokenised text, the default; ``simple``: whitespace, then
punctuation split off and every Han/kana character made its own word, for raw text; ``auto``:
:func:`xlt.data.segment.split_words`, raw text in any script, with word segmenters for Thai,
Chinese, Japanese, Khmer and Lao where installed).
A line without ``|||``, or with more than one, is a :class:`DataFormatError` naming the file and
line. A pair with an empty side (or a blank line) is skipped and counted, but keeps its place:
the result has one entry per line, so line ``k`` of the pairs file, of the predicted links and of
the gold links always describe the same pair.

Pharaoh links (the output of ``xlt wordalign`` and the ``*.gold`` files): one line per sentence
pair, whitespace-separated links ``i-j`` (a *sure* link from source word ``i`` to target word
``j``) or ``ipj`` (a *possible* link); an empty line is a pair without links. Indices are 0-based
(what fast_align, atools and the awesome-align/SimAlign outputs use) unless the file is read with
``one_based=True`` (the gold sets in ``../shared/data/wordalign`` are 1-based), in which case they
are converted to 0-based. In memory, links are always 0-based ``(i, j)`` tuples.

Nothing here imports torch.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xlt.core.io import write_text
from xlt.data.readers import DataFormatError, ReadStats, iter_lines, check_not_folder
from xlt.data.segment import split_words

SEPARATOR = "|||"

Link = tuple[int, int]

_LINK = re.compile(r"^([0-9]+)([-p])([0-9]+)$")  # ASCII digits only (\d takes any script's)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- word tokenisers
def _is_cjk_char(ch: str) -> bool:
    """Han ideographs, hiragana and katakana: scripts written without spaces between words."""
    cp = ord(ch)
    return (0x3040 <= cp <= 0x30FF or 0x3400 <= cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF
            or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x2FA1F or 0x31F0 <= cp <= 0x31FF)


#: Characters that do not split a number when between two digits (``3.5``, ``1,000``, ``10:30``).
_NUMBER_SEPARATORS = frozenset(".,:")


def simple_tokenize(text: str) -> list[str]:
    """Split raw text into words: whitespace, then punctuation and symbols become words of their own.

    Runs of letters, digits, marks and connector punctuation (``_``) stay together; every other
    visible character (punctuation, symbols) is one word, except that ``.``, ``,`` and ``:``
    between two digits do not split a number (``3.5``, ``1,000``, ``10:30``); every Han,
    hiragana or katakana character is one word (Chinese and Japanese have no spaces; gold sets
    for them are usually segmented into words, so give those pre-tokenised when you can).
    Thai, Lao, Khmer and Burmese runs stay whole: the ``auto`` tokeniser
    (:func:`xlt.data.segment.split_words`) segments those.

    >>> simple_tokenize("Hello, world! It's 3.5 km.")
    ['Hello', ',', 'world', '!', 'It', "'", 's', '3.5', 'km', '.']
    """
    out: list[str] = []
    for chunk in text.split():
        cur = ""
        for i, ch in enumerate(chunk):
            cat = unicodedata.category(ch)
            if (ch in _NUMBER_SEPARATORS and cur[-1:].isdecimal()
                    and chunk[i + 1:i + 2].isdecimal()):
                cur += ch  # inside a number
            elif _is_cjk_char(ch) or not (cat[0] in "LNM" or cat == "Pc"):
                if cur:
                    out.append(cur)
                    cur = ""
                if cat[0] != "C":  # drop invisible format/control characters
                    out.append(ch)
            else:
                cur += ch
        if cur:
            out.append(cur)
    return out


_ASCII_SPACE = re.compile(r"[ \t\v\f]+")


def space_tokenize(text: str) -> list[str]:
    """Pre-tokenised text: words are separated by ASCII spaces (or tabs).

    Other Unicode spaces are *not* separators: the Japanese gold set has the ideographic space
    U+3000 as a word of its own (5 lines of ``jaen``), and splitting it away, as ``str.split()``
    would, shifts every later word index against the gold links.

    >>> space_tokenize("a\u3000b  c ")
    ['a\u3000b', 'c']
    """
    return [w for w in _ASCII_SPACE.split(text) if w]


#: Word tokenisers by name (``--tokenizer`` of ``xlt wordalign``). ``auto`` is
#: :func:`xlt.data.segment.split_words` without a language: raw text in any script, Thai,
#: Chinese, Japanese, Khmer and Lao through word segmenters where installed (``xlt[segment]``).
WORD_TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"space": space_tokenize,
                                                          "simple": simple_tokenize,
                                                          "auto": split_words}


# --------------------------------------------------------------------------- sentence pairs
@dataclass
class AlignmentPairs:
    """Sentence pairs read by :func:`read_pairs`, one entry per line of the file.

    Attributes:
        src, tgt: the words of each line's source and target side; both are ``[]`` for a
            skipped line (so ``len(src) == len(tgt) == n_lines`` and indices are line - 1).
        path: the file read.
        skipped_lines: 1-based numbers of the lines skipped because a side (or the whole line)
            was empty.
        stats: the reader's :class:`~xlt.data.readers.ReadStats` (``skipped['empty_side']``).
    """

    src: list[list[str]]
    tgt: list[list[str]]
    path: Path
    skipped_lines: list[int] = field(default_factory=list)
    stats: ReadStats | None = None

    def __len__(self) -> int:
        return len(self.src)

    @property
    def n_lines(self) -> int:
        """Lines in the file (= pairs, skipped ones included)."""
        return len(self.src)

    @property
    def n_skipped_empty(self) -> int:
        """Lines skipped because a side was empty."""
        return len(self.skipped_lines)

    @property
    def pairs(self) -> list[tuple[list[str], list[str]]]:
        """``(source words, target words)`` per line (``([], [])`` for skipped lines)."""
        return list(zip(self.src, self.tgt))

    @property
    def lengths(self) -> list[tuple[int, int]]:
        """``(source words, target words)`` per line, for :func:`read_pharaoh`'s range checks."""
        return [(len(s), len(t)) for s, t in zip(self.src, self.tgt)]


def read_pairs(path: str | Path, tokenizer: str | Callable[[str], list[str]] = "space") -> AlignmentPairs:
    """Read ``source ||| target`` lines.

    Args:
        path: UTF-8 text file, one pair per line.
        tokenizer: ``'space'`` (pre-tokenised text, the default), ``'simple'`` (see
            :func:`simple_tokenize`) or a function from a string to a list of words.

    Returns:
        :class:`AlignmentPairs` with one entry per line; a line whose source or target has no
        words (or a blank line) becomes ``([], [])`` and is listed in ``skipped_lines``.

    Raises:
        DataFormatError: a non-blank line without the ``|||`` separator or with more than one
            (the message gives ``path:line:`` and the line); a line that is not UTF-8.
        FileNotFoundError: no such file. IsADirectoryError: ``path`` is a folder (the message says so).
        ValueError: an unknown tokenizer name.
    """
    if isinstance(tokenizer, str):
        if tokenizer not in WORD_TOKENIZERS:
            raise ValueError(f"unknown word tokenizer {tokenizer!r}; choose from {sorted(WORD_TOKENIZERS)}")
        tokenize = WORD_TOKENIZERS[tokenizer]
    else:
        tokenize = tokenizer
    path = Path(path)
    check_not_folder(path, "a sentence-pair file")
    if not path.is_file():
        raise FileNotFoundError(f"sentence-pair file {path} does not exist")
    stats = ReadStats(path=path)
    out = AlignmentPairs(src=[], tgt=[], path=path, stats=stats)
    for lineno, line in iter_lines(path, stats):
        n_sep = line.count(SEPARATOR)
        if n_sep != 1 and line.strip():
            what = "no" if n_sep == 0 else f"{n_sep}"
            raise DataFormatError(path, lineno, f"expected 'source ||| target', found {what} '|||' "
                                                f"separators in {line[:80]!r}")
        left, _, right = line.partition(SEPARATOR)
        src, tgt = tokenize(left), tokenize(right)
        if not src or not tgt:
            stats.skipped["empty_side"] += 1
            out.skipped_lines.append(lineno)
            src, tgt = [], []
        else:
            stats.n_read += 1
        out.src.append(src)
        out.tgt.append(tgt)
    return out


# --------------------------------------------------------------------------- Pharaoh links
@dataclass
class PharaohAlignments:
    """Links read by :func:`read_pharaoh`, one entry per line, 0-based.

    Attributes:
        sure: per line, the links written ``i-j`` (the set S of Och & Ney 2003).
        possible: per line, *all* links: the sure ones plus those written ``ipj`` (the set P;
            so ``sure[k] <= possible[k]`` always holds, as the AER definition assumes).
        path: the file read.
    """

    sure: list[set[Link]]
    possible: list[set[Link]]
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.sure)

    @property
    def n_sure(self) -> int:
        return sum(len(s) for s in self.sure)

    @property
    def n_possible_only(self) -> int:
        """Links marked possible and not sure."""
        return sum(len(p) - len(s) for s, p in zip(self.sure, self.possible))


def read_pharaoh(path: str | Path, one_based: bool = False,
                 lengths: Sequence[tuple[int, int] | None] | None = None,
                 option: str = "--one-based") -> PharaohAlignments:
    """Read a Pharaoh-format alignment file (``i-j`` sure links, ``ipj`` possible links).

    A file read as 0-based that looks 1-based is warned about (see :func:`_warn_index_base`),
    and a link outside its pair in a file without index 0 gets a hint to read it as 1-based.

    Args:
        path: the file; line ``k`` holds the links of sentence pair ``k``.
        one_based: the file counts words from 1 (as the gold sets in ``../shared/data/wordalign``);
            links are converted to 0-based. Default: 0-based, as Pharaoh tools write.
        lengths: optional ``(source words, target words)`` per line (e.g.
            :attr:`AlignmentPairs.lengths`); then the file must have exactly that many lines and
            every link must fall inside its sentence pair. ``None`` entries are not checked.
        option: the command-line option that reads this file as 1-based, named in hints and
            warnings (``--pred-one-based`` for the predictions of ``xlt wordalign eval``).

    Returns:
        :class:`PharaohAlignments` (0-based links).

    Raises:
        DataFormatError: a token that is not ``i-j``/``ipj`` (or an index too long to read), index 0
            in a 1-based file, a link outside its sentence pair, or a line count different from
            ``len(lengths)``; the message names the file and 1-based line (and the link, in the
            file's own numbering).
        FileNotFoundError: no such file. IsADirectoryError: ``path`` is a folder (the message says so).
    """
    path = Path(path)
    check_not_folder(path, "an alignment file")
    if not path.is_file():
        raise FileNotFoundError(f"alignment file {path} does not exist")
    base = 1 if one_based else 0
    numbering = "1-based" if one_based else "0-based"
    stats = ReadStats(path=path)
    sure: list[set[Link]] = []
    possible: list[set[Link]] = []
    for lineno, line in iter_lines(path, stats):
        s: set[Link] = set()
        p: set[Link] = set()
        size = None
        if lengths is not None:
            if lineno > len(lengths):
                raise DataFormatError(path, lineno, f"{path.name} has more lines than the "
                                                    f"{len(lengths)} sentence pairs")
            size = lengths[lineno - 1]
        for tok in line.split():
            m = _LINK.match(tok)
            if m is None:
                raise DataFormatError(path, lineno, f"bad link {tok!r}: expected 'i-j' (sure) or 'ipj' (possible)")
            try:
                i, j = int(m.group(1)) - base, int(m.group(3)) - base
            except ValueError:  # more digits than int() reads (4300)
                raise DataFormatError(path, lineno, f"bad link {tok[:40]!r}{'...' if len(tok) > 40 else ''}: "
                                                    "an index with more digits than can be read") from None
            if i < 0 or j < 0:
                raise DataFormatError(path, lineno, f"link {tok!r} has index 0 but the file is read as "
                                                    f"1-based (drop {option} / one_based=True for 0-based files)")
            if size is not None and (i >= size[0] or j >= size[1]):
                # a 1-based file read as 0-based: its last words fall outside, and it has no index 0
                hint = "" if one_based or _has_index_zero(path) else \
                    f"; if the file counts words from 1, add {option}"
                raise DataFormatError(path, lineno, f"link {tok!r} is outside the sentence pair: source has "
                                                    f"{size[0]} words, target {size[1]} ({numbering} indices"
                                                    f"{hint})")
            (s if m.group(2) == "-" else p).add((i, j))
        sure.append(s)
        possible.append(p | s)
    if lengths is not None and len(sure) != len(lengths):
        raise DataFormatError(path, len(sure) + 1, f"{path.name} has {len(sure)} lines but there are "
                                                   f"{len(lengths)} sentence pairs")
    _warn_index_base(path, possible, one_based, lengths, option)
    return PharaohAlignments(sure=sure, possible=possible, path=path)


#: Fewest links before a file that never uses the first word is taken for 1-based.
INDEX_BASE_MIN_LINKS = 20
#: With fewer links, the most words a side of a linked pair may have for a file without index 0
#: to be taken for 1-based (in short sentences the first words are nearly always linked).
INDEX_BASE_SHORT_WORDS = 10


def _has_index_zero(path: Path) -> bool:
    """Whether any well-formed link of the file has index 0 on either side (a second, cheap pass)."""
    for _, line in iter_lines(path, ReadStats(path=path)):
        for tok in line.split():
            m = _LINK.match(tok)
            if m is not None and (not m.group(1).strip("0") or not m.group(3).strip("0")):
                return True
    return False


def _warn_index_base(path: Path, links: list[set[Link]], one_based: bool,
                     lengths: Sequence[tuple[int, int] | None] | None = None, option: str = "--one-based") -> None:
    """Warn when a file read as 0-based never links the first word of either side.

    Nearly every sentence pair links its first words, so a 0-based file without a single index 0
    in ``INDEX_BASE_MIN_LINKS`` or more links is almost surely 1-based, and reading it as 0-based
    shifts every link by one word (labels projected onto the wrong words, AER far too high).
    With fewer links the file is taken for 1-based only when the sentence lengths are known and
    every pair with links has at most ``INDEX_BASE_SHORT_WORDS`` words on each side (a 1-based
    file that links a last word never gets here: that link is outside its pair, an error that
    carries the same hint).
    """
    n = sum(len(x) for x in links)
    if one_based or not n or any(i == 0 or j == 0 for x in links for i, j in x):
        return
    if n >= INDEX_BASE_MIN_LINKS:
        log.warning("%s: none of its %d links uses index 0 on either side; if the file is 1-based (as "
                    "awesome-align gold files are), read it with %s: read as 0-based every link is "
                    "shifted by one word", path, n, option)
        return
    if lengths is None:
        return  # too few links to tell
    sizes = [lengths[k] if k < len(lengths) else None for k, x in enumerate(links) if x]
    if all(size is not None and max(size) <= INDEX_BASE_SHORT_WORDS for size in sizes):
        log.warning("links file %s: no index 0 in %d links; if it counts words from 1, add %s", path, n, option)


def format_pharaoh(links: Iterable[Link], possible: Iterable[Link] = (), one_based: bool = False) -> str:
    """One Pharaoh line: sorted ``i-j`` links, then sorted ``ipj`` for possible-only links."""
    base = 1 if one_based else 0
    sure = sorted(set(links))
    extra = sorted(set(possible) - set(sure))
    return " ".join([f"{i + base}-{j + base}" for i, j in sure] + [f"{i + base}p{j + base}" for i, j in extra])


def write_pharaoh(path: str | Path, alignments: Sequence[Iterable[Link]],
                  possible: Sequence[Iterable[Link]] | None = None, one_based: bool = False) -> Path:
    """Write one Pharaoh line per sentence pair (empty line = no links), 0-based by default.

    Args:
        path: output file (parent folders are created).
        alignments: per pair, the (sure) links ``(i, j)``.
        possible: optional per pair links to write as possible (``ipj``) when not sure.
        one_based: write 1-based indices (default 0-based, as Pharaoh tools expect).

    Returns:
        the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if possible is not None and len(possible) != len(alignments):
        raise ValueError(f"{len(alignments)} alignments but {len(possible)} possible-link sets")
    lines = [format_pharaoh(a, possible[k] if possible is not None else (), one_based)
             for k, a in enumerate(alignments)]
    write_text(path, "".join(line + "\n" for line in lines))  # atomic: temporary file + rename
    return path
