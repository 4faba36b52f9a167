"""Label projection: carry BIO spans from a tagged source sentence onto its translation through
word alignments (the building block of *silver* training data: tag the English side of a
parallel corpus, project, train on the projected target side).

The rule (alignment-based *direct projection*, Yarowsky, Ngai & Wicentowski 2001, "Inducing
Multilingual Text Analysis Tools via Robust Projection across Aligned Corpora"; projection
through word alignments is also used e.g. by Mayhew, Tsai & Roth 2017, "Cheap Translation for
Cross-Lingual Named Entity Recognition", and, for SRL arguments, by Fei, Zhang & Ji 2020,
"Cross-Lingual Semantic Role Labeling with High-Quality Translated Training Corpus"; the exact
span heuristics differ between papers, the one below is the common "cover everything the span
is linked to" range, stated precisely here):

1. Source spans come from the BIO tags (:func:`bio_spans`, conlleval/seqeval chunking).
2. For a source span ``[a, b)``, ``T`` is the set of target words linked to any of its words.
   ``T`` empty: the span is **unprojectable**.
3. Otherwise the projected span is the contiguous range ``[min T, max T]`` (target spans must
   be contiguous for BIO, so words inside the range that are not linked to the span, e.g. a
   French ``de`` in ``ciudad de Nueva York``, are included). Its *gap* is the number of such
   unlinked words inside the range. With ``max_gap=N`` a span whose gap exceeds ``N`` is
   dropped as **too_gappy** (a single wrong far-away link otherwise stretches an entity over
   half the sentence). The default is ``None`` (no limit): how many unlinked words a correct
   span contains depends on the tokenisation (character-split Chinese/Japanese names have many)
   and on the aligner, so no one number fits; ``stats.gappy`` counts the kept spans with a gap.
4. Conflicts: projected ranges may not overlap (BIO cannot express it). Candidates are taken in
   order of more alignment links (``|{(i, j) in links : a <= i < b}|``), then longer source span,
   then earlier source span; a candidate overlapping one already kept is dropped and counted as
   a **conflict** (its label's ``conflicts``).
5. Kept spans become ``B-label I-label ...`` on the target words, everything else ``O``.

Alternatives that do not use word alignments, such as matching translated entity strings
(Ehrmann, Turchi & Steinberger 2011, "Building a Multilingual Named Entity-Annotated Corpus
Using Annotation Projection"; Jain, Paranjape & Lipton 2019, "Entity Projection via Machine
Translation for Cross-Lingual NER"), are not implemented here.

Files (:func:`project_files`, the ``xlt project`` command): source tags in XTREME
``token<TAB>TAG`` format (:func:`xlt.data.readers.read_xtreme_tsv`), target sentences as a
tokenised text file (one sentence per line) or a ``source ||| target`` pairs file
(:func:`xlt.data.wordalign.read_pairs`), Pharaoh links (:func:`xlt.data.wordalign.read_pharaoh`);
the k-th non-empty sentence of the tsv, line k of the target file and line k of the links
belong together. The target side is written in the same XTREME format, so ``xlt transfer``'s
readers train on it directly.

Nothing here imports torch.
"""

from __future__ import annotations

import logging
import numbers
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xlt.core.errors import XltError
from xlt.data.readers import DataFormatError, ReadStats, iter_lines, check_not_folder, read_xtreme_tsv
from xlt.core.io import atomic_write, write_json
from xlt.data.wordalign import SEPARATOR, WORD_TOKENIZERS, Link, read_pairs, read_pharaoh

log = logging.getLogger(__name__)

Span = tuple[int, int, str]

_BIO = re.compile(r"^([BI])-(\S+)$")

#: Status of a source span after projection (:attr:`ProjectedSpan.status`).
PROJECTED = "projected"
UNPROJECTABLE = "unprojectable"
TOO_GAPPY = "too_gappy"
CONFLICT = "conflict"

_LABEL_KEYS = ("spans", PROJECTED, UNPROJECTABLE, TOO_GAPPY, "conflicts")


class BioTagError(XltError, ValueError):
    """A tag that is neither ``O`` nor ``B-X``/``I-X``.

    Attributes:
        index: 0-based position of the tag in its sentence.
        sentence: 0-based sentence index when raised by :func:`project_corpus`, else ``None``.
    """

    def __init__(self, message: str, index: int, sentence: int | None = None) -> None:
        self.index = index
        self.sentence = sentence
        super().__init__(message)


# --------------------------------------------------------------------------- spans
def bio_spans(tags: Sequence[str]) -> list[Span]:
    """The labelled spans of a BIO tag sequence, as conlleval and seqeval's default mode read them.

    A span starts at ``B-X``, and also at ``I-X`` when the previous tag is not ``B-X``/``I-X``
    of the same type ``X`` (an ``I-`` without its ``B-``, as in IOB1 files or model output, is
    not thrown away: conlleval and ``seqeval.metrics.sequence_labeling.get_entities`` start a
    chunk there too). A span continues over ``I-X`` tags of its type and ends before ``O``,
    any ``B-``, or an ``I-`` of another type.

    Args:
        tags: one tag per word: ``'O'``, ``'B-<type>'`` or ``'I-<type>'`` (type: no whitespace).

    Returns:
        ``[(start, end, type)]`` in order, ``end`` exclusive, e.g.
        ``bio_spans(['B-PER', 'I-PER', 'O', 'I-LOC'])`` == ``[(0, 2, 'PER'), (3, 4, 'LOC')]``.

    Raises:
        BioTagError: (a ``ValueError``) a tag of another form (``E-``/``S-`` tags, bare types,
            empty strings); ``.index`` is its position.
    """
    spans: list[Span] = []
    start, cur = -1, None
    for k, tag in enumerate(tags):
        if tag == "O":
            if cur is not None:
                spans.append((start, k, cur))
            cur = None
            continue
        m = _BIO.match(tag) if isinstance(tag, str) else None
        if m is None:
            raise BioTagError(f"tag {tag!r} at word {k} is not BIO: expected 'O', 'B-<type>' or 'I-<type>'", k)
        prefix, typ = m.group(1), m.group(2)
        if prefix == "I" and cur == typ:
            continue
        if cur is not None:
            spans.append((start, k, cur))
        start, cur = k, typ
    if cur is not None:
        spans.append((start, len(tags), cur))
    return spans


def spans_to_bio(n: int, spans: Iterable[Span]) -> list[str]:
    """BIO tags for ``n`` words with the given non-overlapping ``(start, end_exclusive, type)`` spans.

    Raises:
        ValueError: a span outside ``[0, n)``, empty, or overlapping another.
    """
    tags = ["O"] * n
    for start, end, label in spans:
        if not 0 <= start < end <= n:
            raise ValueError(f"span {(start, end, label)} is outside 0..{n} or empty")
        if any(t != "O" for t in tags[start:end]):
            raise ValueError(f"span {(start, end, label)} overlaps another span")
        tags[start] = f"B-{label}"
        for k in range(start + 1, end):
            tags[k] = f"I-{label}"
    return tags


# --------------------------------------------------------------------------- statistics
@dataclass
class ProjectedSpan:
    """What happened to one source span.

    Attributes:
        src_start, src_end: the source span, ``end`` exclusive.
        label: its type (``PER``...).
        status: ``'projected'``, ``'unprojectable'`` (no linked target word), ``'too_gappy'``
            (gap above ``max_gap``) or ``'conflict'`` (overlapped a stronger span).
        tgt_start, tgt_end: the candidate target range (``end`` exclusive); ``None`` when
            unprojectable. Set for too_gappy/conflict spans too (the range that was refused).
        n_links: alignment links leaving the source span.
        gap: words inside the target range not linked to the span (0 when unprojectable).
    """

    src_start: int
    src_end: int
    label: str
    status: str
    tgt_start: int | None = None
    tgt_end: int | None = None
    n_links: int = 0
    gap: int = 0


@dataclass
class ProjectionStats:
    """Span counts of a projection (one sentence or, summed, a corpus).

    Attributes:
        n_spans: source spans.
        projected: spans written on the target side.
        unprojectable: spans with no linked target word.
        too_gappy: spans dropped because their range had more than ``max_gap`` unlinked words.
        conflicts: spans dropped because their range overlapped a stronger projected span.
        gappy: projected spans whose range contains at least one unlinked word (kept; a hint
            for choosing ``max_gap``).
        per_label: type -> counts with keys ``spans``, ``projected``, ``unprojectable``,
            ``too_gappy``, ``conflicts``.
        spans: per span decisions (:class:`ProjectedSpan`); filled by :func:`project_spans`,
            left empty by :func:`project_corpus` (which keeps only counts).
        n_sentences: sentences counted (1 for :func:`project_spans`).
        partial_sentences: 0-based indices of sentences where some span was not projected
            (only :func:`project_corpus` fills it).
        no_entity_sentences: 0-based indices of sentences without a source span (likewise).
    """

    n_spans: int = 0
    projected: int = 0
    unprojectable: int = 0
    too_gappy: int = 0
    conflicts: int = 0
    gappy: int = 0
    per_label: dict[str, Counter[str]] = field(default_factory=dict)
    spans: list[ProjectedSpan] = field(default_factory=list)
    n_sentences: int = 0
    partial_sentences: list[int] = field(default_factory=list)
    no_entity_sentences: list[int] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Source spans missing on the target side (unprojectable + too_gappy + conflicts)."""
        return self.n_spans - self.projected

    def _count(self, label: str, key: str) -> None:
        self.per_label.setdefault(label, Counter())[key] += 1

    def add(self, other: ProjectionStats, sentence: int | None = None) -> None:
        """Add ``other``'s counts (not its ``spans``); with ``sentence``, record that sentence's
        index in ``partial_sentences``/``no_entity_sentences`` as ``other`` warrants."""
        for name in ("n_spans", "projected", "unprojectable", "too_gappy", "conflicts", "gappy", "n_sentences"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for label, counts in other.per_label.items():
            self.per_label.setdefault(label, Counter()).update(counts)
        self.partial_sentences.extend(other.partial_sentences)
        self.no_entity_sentences.extend(other.no_entity_sentences)
        if sentence is not None:
            if other.n_spans == 0:
                self.no_entity_sentences.append(sentence)
            elif other.lost:
                self.partial_sentences.append(sentence)

    def to_dict(self) -> dict:
        """JSON-ready counts (no per-span list; sentence lists as counts)."""
        return {
            "n_spans": self.n_spans, "projected": self.projected, "unprojectable": self.unprojectable,
            "too_gappy": self.too_gappy, "conflicts": self.conflicts, "gappy": self.gappy,
            "projected_pct": round(100.0 * self.projected / self.n_spans, 2) if self.n_spans else None,
            "per_label": {lab: {k: int(c[k]) for k in _LABEL_KEYS} for lab, c in sorted(self.per_label.items())},
            "n_sentences": self.n_sentences, "partial_sentences": len(self.partial_sentences),
            "no_entity_sentences": len(self.no_entity_sentences),
        }


# --------------------------------------------------------------------------- projection
def _check_links(links: Iterable[Link], n_src: int, n_tgt: int, where: str = "") -> set[Link]:
    out: set[Link] = set()
    for link in links:
        try:
            i, j = link
        except (TypeError, ValueError):
            raise ValueError(f"{where}link {link!r} is not an (i, j) pair") from None
        if not (isinstance(i, numbers.Integral) and isinstance(j, numbers.Integral)):
            raise ValueError(f"{where}link {link!r} has non-integer indices")
        if not (0 <= i < n_src and 0 <= j < n_tgt):
            raise ValueError(f"{where}link {i}-{j} is outside the sentence pair (source has {n_src} words, "
                             f"target {n_tgt}; links are 0-based)")
        out.add((int(i), int(j)))
    return out


def project_spans(src_tags: Sequence[str], n_tgt: int, links: Iterable[Link], *,
                  max_gap: int | None = None) -> tuple[list[str], ProjectionStats]:
    """Project the BIO spans of one source sentence onto its ``n_tgt``-word translation.

    The rule (module docstring; direct projection, Yarowsky et al. 2001): a span goes to the
    contiguous target range from the first to the last target word linked to any of its words;
    no linked word: unprojectable; more than ``max_gap`` unlinked words inside the range:
    too_gappy; overlapping ranges: the span with more links wins (ties: the longer source span,
    then the earlier), the other is a conflict.

    Args:
        src_tags: the source sentence's BIO tags, length ``n_src`` (see :func:`bio_spans`).
        n_tgt: number of target words (``>= 0``).
        links: 0-based ``(source word, target word)`` pairs (duplicates are ignored).
        max_gap: drop a projected span whose range holds more than this many words not linked
            to it (``None``: no limit, the default; ``0``: only gap-free ranges).

    Returns:
        ``(tgt_tags, stats)``: ``n_tgt`` BIO tags (``B-X`` then ``I-X`` over each kept range,
        ``O`` elsewhere) and a :class:`ProjectionStats` whose ``spans`` lists each source
        span's :class:`ProjectedSpan` in source order.

    Raises:
        BioTagError: a source tag that is not BIO.
        ValueError: a link outside ``[0, n_src) x [0, n_tgt)`` or not an integer pair,
            ``n_tgt < 0`` or ``max_gap < 0``.
    """
    if n_tgt < 0:
        raise ValueError(f"n_tgt must be >= 0, got {n_tgt}")
    if max_gap is not None and max_gap < 0:
        raise ValueError(f"max_gap must be None or >= 0, got {max_gap}")
    link_set = _check_links(links, len(src_tags), n_tgt)
    spans = bio_spans(src_tags)
    by_src: dict[int, set[int]] = {}
    for i, j in link_set:
        by_src.setdefault(i, set()).add(j)

    stats = ProjectionStats(n_sentences=1)
    decisions: list[ProjectedSpan] = []
    for a, b, label in spans:
        stats.n_spans += 1
        stats._count(label, "spans")
        targets: set[int] = set()
        n_links = 0
        for i in range(a, b):
            js = by_src.get(i, ())
            n_links += len(js)
            targets.update(js)
        if not targets:
            decisions.append(ProjectedSpan(a, b, label, UNPROJECTABLE))
            continue
        lo, hi = min(targets), max(targets) + 1
        gap = (hi - lo) - len(targets)
        status = TOO_GAPPY if max_gap is not None and gap > max_gap else PROJECTED
        decisions.append(ProjectedSpan(a, b, label, status, lo, hi, n_links, gap))

    # conflicts: strongest candidate first (more links, longer source span, earlier source span)
    taken = [False] * n_tgt
    order = sorted((d for d in decisions if d.status == PROJECTED),
                   key=lambda d: (-d.n_links, -(d.src_end - d.src_start), d.src_start))
    kept: list[Span] = []
    for d in order:
        if any(taken[d.tgt_start:d.tgt_end]):
            d.status = CONFLICT
            continue
        for k in range(d.tgt_start, d.tgt_end):
            taken[k] = True
        kept.append((d.tgt_start, d.tgt_end, d.label))

    for d in decisions:
        if d.status == PROJECTED:
            stats.projected += 1
            stats.gappy += d.gap > 0
            stats._count(d.label, PROJECTED)
        elif d.status == UNPROJECTABLE:
            stats.unprojectable += 1
            stats._count(d.label, UNPROJECTABLE)
        elif d.status == TOO_GAPPY:
            stats.too_gappy += 1
            stats._count(d.label, TOO_GAPPY)
        else:
            stats.conflicts += 1
            stats._count(d.label, "conflicts")
    stats.spans = decisions
    return spans_to_bio(n_tgt, kept), stats


def project_corpus(src_tag_seqs: Sequence[Sequence[str]], tgt_token_seqs: Sequence[Sequence[str]],
                   alignments: Sequence[Iterable[Link]], *,
                   max_gap: int | None = None) -> tuple[list[list[str]], ProjectionStats]:
    """:func:`project_spans` over parallel lists of sentences.

    Args:
        src_tag_seqs: ``N`` source tag sequences (BIO).
        tgt_token_seqs: ``N`` target word lists (only their lengths are used).
        alignments: ``N`` sets of 0-based ``(source word, target word)`` links.
        max_gap: as in :func:`project_spans`.

    Returns:
        ``(tgt_tag_seqs, stats)``: ``N`` target tag lists (``len(tgt_tag_seqs[k]) ==
        len(tgt_token_seqs[k])``) and the summed :class:`ProjectionStats` (without per-span
        records), with ``partial_sentences`` (some span lost) and ``no_entity_sentences``
        (no source span) filled with 0-based sentence indices.

    Raises:
        ValueError: the three lists differ in length; a link outside its sentence pair (the
            message names the 0-based pair index and the link).
        BioTagError: a source tag that is not BIO (``.sentence`` and ``.index`` locate it).
    """
    n = len(src_tag_seqs)
    if len(tgt_token_seqs) != n or len(alignments) != n:
        raise ValueError(f"{n} source tag sequences, {len(tgt_token_seqs)} target sentences and "
                         f"{len(alignments)} alignments: the three must have one entry per sentence pair")
    total = ProjectionStats()
    out: list[list[str]] = []
    for k, (tags, toks, links) in enumerate(zip(src_tag_seqs, tgt_token_seqs, alignments)):
        link_set = _check_links(links, len(tags), len(toks), where=f"sentence pair {k}: ")
        try:
            tgt_tags, stats = project_spans(tags, len(toks), link_set, max_gap=max_gap)
        except BioTagError as exc:
            raise BioTagError(f"sentence {k}: {exc}", exc.index, sentence=k) from None
        total.add(stats, sentence=k)
        out.append(tgt_tags)
    return out, total


# --------------------------------------------------------------------------- files
def read_token_lines(path: str | Path, tokenizer: str | Callable[[str], list[str]] = "space"
                     ) -> tuple[list[list[str]], ReadStats]:
    """Read a tokenised text file: one sentence per line, split into words by ``tokenizer``.

    Args:
        path: UTF-8 text file.
        tokenizer: ``'space'`` (words separated by ASCII spaces, the default), ``'simple'`` or a
            function (see :data:`xlt.data.wordalign.WORD_TOKENIZERS`).

    Returns:
        ``(sentences, stats)``: one word list per line (``[]`` for an empty line, counted in
        ``stats.skipped['empty_line']``), so index ``k`` is line ``k + 1``.

    Raises:
        FileNotFoundError: no such file. IsADirectoryError: ``path`` is a folder (the message says so).
        DataFormatError: a line that is not UTF-8.
        ValueError: an unknown tokenizer name.
    """
    tokenize = _tokenizer(tokenizer)
    path = Path(path)
    check_not_folder(path, "a target file")
    if not path.is_file():
        raise FileNotFoundError(f"target file {path} does not exist")
    stats = ReadStats(path=path)
    out: list[list[str]] = []
    for _, line in iter_lines(path, stats):
        words = tokenize(line)
        if words:
            stats.n_read += 1
        else:
            stats.skipped["empty_line"] += 1
        out.append(words)
    return out, stats


def _tokenizer(tokenizer: str | Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    if not isinstance(tokenizer, str):
        return tokenizer
    if tokenizer not in WORD_TOKENIZERS:
        raise ValueError(f"unknown word tokenizer {tokenizer!r}; choose from {sorted(WORD_TOKENIZERS)}")
    return WORD_TOKENIZERS[tokenizer]


def _detect_pairs(path: Path) -> bool:
    """Whether the first non-blank line holds the ``|||`` separator."""
    stats = ReadStats(path=path)
    for _, line in iter_lines(path, stats):
        if line.strip():
            return SEPARATOR in line
    return False


def _tsv_token_lines(path: Path) -> list[list[int]]:
    """1-based file line of every token of every sentence, segmented as :func:`read_xtreme_tsv` does
    (call only on a file it has read without error)."""
    stats = ReadStats(path=path)
    out: list[list[int]] = []
    cur: list[int] = []
    for lineno, line in iter_lines(path, stats):
        stripped = line.rstrip()
        if not stripped.strip():
            if cur:
                out.append(cur)
                cur = []
            continue
        if stripped.split("\t")[0].strip():
            cur.append(lineno)
    if cur:
        out.append(cur)
    return out


def write_xtreme_tsv(path: str | Path, sentences: Iterable[tuple[Sequence[str], Sequence[str]]]) -> dict:
    """Write ``(tokens, tags)`` sentences as XTREME ``token<TAB>tag`` lines, a blank line after each.

    A token that is empty after stripping whitespace (e.g. the ideographic space U+3000, which
    ``space`` tokenisation keeps as a word) cannot survive a round trip through
    :func:`~xlt.data.readers.read_xtreme_tsv` (it would be skipped as a blank token), so it is
    left out and counted; if it carried a tag, the next word of the same span starts with
    ``B-`` instead (the span stays contiguous). A sentence left with no word is not written.

    Args:
        path: output file (parent folders are created).
        sentences: ``(tokens, tags)`` pairs of equal length.

    Returns:
        ``{'sentences': written, 'tokens': written, 'blank_tokens_dropped': n,
        'empty_sentences_dropped': n}``.

    Raises:
        ValueError: tokens and tags of different lengths, or a token/tag containing a tab or
            line break, or a tag with whitespace.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = Counter(sentences=0, tokens=0, blank_tokens_dropped=0, empty_sentences_dropped=0)
    atomic_write(path, lambda tmp: _write_rows(tmp, sentences, counts))  # written beside, renamed into place
    return dict(counts)


def _write_rows(path: Path, sentences, counts: Counter) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for tokens, tags in sentences:
            if len(tokens) != len(tags):
                raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags: {list(tokens)[:5]}")
            rows: list[tuple[str, str]] = []
            for tok, tag in zip(tokens, tags):
                if any(ch in tok for ch in "\t\n\r") or not tag or any(ch.isspace() for ch in tag):
                    raise ValueError(f"cannot write token {tok!r} with tag {tag!r} as 'token<TAB>tag'")
                if not tok.strip():
                    counts["blank_tokens_dropped"] += 1
                    if tag.startswith("B-"):
                        # the span now starts at its next word (if that word continues it)
                        rows.append(("", tag))
                    continue
                if rows and rows[-1][0] == "":
                    pending = rows.pop()[1]
                    if tag == "I-" + pending[2:]:
                        tag = pending
                rows.append((tok, tag))
            if rows and rows[-1][0] == "":
                rows.pop()
            if not rows:
                counts["empty_sentences_dropped"] += 1
                continue
            fh.write("".join(f"{tok}\t{tag}\n" for tok, tag in rows) + "\n")
            counts["sentences"] += 1
            counts["tokens"] += len(rows)


@dataclass
class _Targets:
    """The target sentences of :func:`project_files`, and the source sides of a pairs file."""

    is_pairs: bool
    sents: list[list[str]]
    src: list[list[str]] | None = None


@dataclass
class _Projected:
    """The tags projected onto the sentences with a non-empty target side (``active``)."""

    active: list[int]
    tags: list[list[str]]
    span_stats: ProjectionStats
    partial: set[int]
    no_entity: set[int]


@dataclass
class _Selection:
    """The projected sentences kept for the output, and what was dropped."""

    keep: list[tuple[list[str], list[str]]]
    label_counts: Counter[str]
    dropped_partial: int = 0
    dropped_no_entity: int = 0


def _check_project_options(tgt_format: str, max_gap: int | None) -> None:
    """Raise ValueError for a bad ``tgt_format`` or ``max_gap``."""
    if tgt_format not in ("auto", "text", "pairs"):
        raise ValueError(f"tgt_format must be 'auto', 'text' or 'pairs', got {tgt_format!r}")
    if max_gap is not None and max_gap < 0:
        raise ValueError(f"max_gap must be None or >= 0, got {max_gap}")


def _read_targets(tgt_path: Path, tgt_format: str, tokenizer: str | Callable[[str], list[str]]) -> _Targets:
    """Read the target file as sentences per line or as ``source ||| target`` pairs."""
    check_not_folder(tgt_path, "a target file")
    if not tgt_path.is_file():
        raise FileNotFoundError(f"target file {tgt_path} does not exist")
    is_pairs = tgt_format == "pairs" or (tgt_format == "auto" and _detect_pairs(tgt_path))
    if is_pairs:
        pairs = read_pairs(tgt_path, tokenizer=tokenizer)
        return _Targets(True, pairs.tgt, pairs.src)
    tgt_sents, _ = read_token_lines(tgt_path, tokenizer=tokenizer)
    if tgt_format == "auto":
        for k, words in enumerate(tgt_sents):
            if SEPARATOR in words:
                raise DataFormatError(tgt_path, k + 1, f"'{SEPARATOR}' in a file read as one target sentence "
                                                       "per line (its first line has none); pass --tgt-format "
                                                       "pairs or text")
    return _Targets(False, tgt_sents)


def _check_targets(sents: list, src_stats: ReadStats, targets: _Targets, src_path: Path,
                   tgt_path: Path) -> int:
    """Check the targets against the tsv sentences; returns the pairs whose source words differ."""
    n = len(sents)
    empty_note = (f" ({src_stats.skipped['empty_sentence']} empty sentences - consecutive blank lines - "
                  "were skipped in it)") if src_stats.skipped["empty_sentence"] else ""
    if len(targets.sents) != n:
        raise DataFormatError(tgt_path, min(len(targets.sents), n) + 1,
                              f"{tgt_path.name} has {len(targets.sents)} lines but {src_path} has {n} sentences"
                              f"{empty_note}; line k must be the translation of sentence k")
    mismatched_src_words = 0
    if targets.is_pairs:
        for k, (s, src_words) in enumerate(zip(sents, targets.src)):
            if src_words and len(src_words) != len(s.tokens):
                raise DataFormatError(tgt_path, k + 1, f"source side has {len(src_words)} words but sentence "
                                                       f"{k + 1} of {src_path.name} has {len(s.tokens)} tokens "
                                                       f"(starting {' '.join(s.tokens[:5])!r})")
            if src_words and src_words != s.tokens:
                mismatched_src_words += 1
    return mismatched_src_words


def _check_source_tags(sents: list, src_path: Path) -> None:
    """Validate every tag first, naming the tsv line of a bad one."""
    for k, s in enumerate(sents):
        try:
            bio_spans(s.labels)
        except BioTagError as exc:
            lines = _tsv_token_lines(src_path)
            line = lines[k][exc.index] if k < len(lines) and exc.index < len(lines[k]) else 0
            raise DataFormatError(src_path, line, str(exc)) from None


def _project_active(sents: list, tgt_sents: list[list[str]], link_sets: list,
                    max_gap: int | None) -> _Projected:
    """Project the tags of the sentences whose target side is not empty."""
    active = [k for k in range(len(sents)) if tgt_sents[k]]
    tgt_tags, span_stats = project_corpus([sents[k].labels for k in active], [tgt_sents[k] for k in active],
                                          [link_sets[k] for k in active], max_gap=max_gap)
    partial = {active[i] for i in span_stats.partial_sentences}
    no_entity = {active[i] for i in span_stats.no_entity_sentences}
    return _Projected(active, tgt_tags, span_stats, partial, no_entity)


def _select_projected(proj: _Projected, tgt_sents: list[list[str]], drop_partial: bool,
                      keep_empty: bool) -> _Selection:
    """The projected sentences to write, after the partial / no-entity filters."""
    sel = _Selection(keep=[], label_counts=Counter())
    for i, k in enumerate(proj.active):
        if drop_partial and k in proj.partial:
            sel.dropped_partial += 1
            continue
        if not keep_empty and k in proj.no_entity:
            sel.dropped_no_entity += 1
            continue
        sel.keep.append((tgt_sents[k], proj.tags[i]))
        sel.label_counts.update(lab for _, _, lab in bio_spans(proj.tags[i]))
    return sel


def _sentence_counts(n: int, proj: _Projected, sel: _Selection, written: dict,
                     mismatched_src_words: int) -> dict:
    """The ``sentences`` entry of the statistics."""
    return {
        "read": n,
        "empty_target": n - len(proj.active),
        "projected": len(proj.active),
        "partial": len(proj.partial),
        "no_entity": len(proj.no_entity),
        "dropped_partial": sel.dropped_partial,
        "dropped_no_entity": sel.dropped_no_entity,
        "written": written["sentences"],
        "empty_after_blank_tokens": written["empty_sentences_dropped"],
        "src_word_mismatch": mismatched_src_words,
    }


def project_files(src_tags: str | Path, tgt: str | Path, align: str | Path, out: str | Path, *,
                  one_based: bool = False, tgt_format: str = "auto", tokenizer: str = "space",
                  max_gap: int | None = None, use_possible: bool = False, drop_partial: bool = True,
                  keep_empty: bool = True, stats_path: str | Path | None = None,
                  command: Sequence[str] | None = None) -> dict:
    """The ``xlt project`` job: project a tagged source file onto target sentences through links.

    Args:
        src_tags: XTREME ``token<TAB>TAG`` file (BIO tags); its k-th non-empty sentence is pair k.
        tgt: target sentences: a tokenised text file (one sentence per line) or a
            ``source ||| target`` file (``tgt_format`` ``'text'``/``'pairs'``; ``'auto'``: pairs
            when the first non-blank line contains ``|||``). With a pairs file, each line's
            source side must have as many words as the tsv sentence.
        align: Pharaoh links, one line per pair (``i-j``; 0-based unless ``one_based``).
        out: output XTREME tsv of the target side.
        one_based: the links file counts words from 1.
        tgt_format: ``'auto'``, ``'text'`` or ``'pairs'``.
        tokenizer: word tokeniser for the target file (``'space'`` or ``'simple'``); it must be
            the one the alignments were computed with.
        max_gap: see :func:`project_spans` (``None``: no limit).
        use_possible: also use ``ipj`` (possible) links; by default only ``i-j`` (sure) links.
        drop_partial: leave out sentences where a source span was not projected (unprojectable,
            too_gappy or conflict) - the usual silver-data filter, since such a sentence would
            teach the model that a real entity is ``O``. Default ``True``.
        keep_empty: keep sentences whose source side has no entity (all-``O`` training data).
            Default ``True``.
        stats_path: JSON statistics file (default: ``out`` with suffix ``.stats.json``).
        command: the command line, recorded in the statistics.

    Returns:
        the statistics dict (also written to ``stats_path``): ``sentences`` (read, written,
        empty_target, dropped_partial, dropped_no_entity, ...), ``spans``
        (:meth:`ProjectionStats.to_dict` over the projected pairs), ``tokens``, ``config``,
        ``outputs`` and ``warnings`` (the messages also logged: an output without sentences, see
        :func:`_empty_output_warning`).

    Raises:
        DataFormatError: a malformed line in any input (file and line named), a tag that is not
            BIO (tsv line named), different sentence counts across the inputs (the file that
            disagrees with the tsv is named), a link outside its sentence pair (links file and
            line), a pairs-file source side whose word count differs from the tsv sentence.
        FileNotFoundError: a missing input. IsADirectoryError: a folder given as an input file.
        ValueError: bad ``tgt_format``/``tokenizer``/``max_gap``.
    """
    src_path, tgt_path, align_path, out_path = Path(src_tags), Path(tgt), Path(align), Path(out)
    _check_project_options(tgt_format, max_gap)
    stats_file = Path(stats_path) if stats_path else out_path.with_suffix(".stats.json")

    sents, src_stats = read_xtreme_tsv(src_path)
    targets = _read_targets(tgt_path, tgt_format, tokenizer)
    mismatched_src_words = _check_targets(sents, src_stats, targets, src_path, tgt_path)
    lengths = [(len(s.tokens), len(t)) for s, t in zip(sents, targets.sents)]
    aligns = read_pharaoh(align_path, one_based=one_based, lengths=lengths)
    link_sets = aligns.possible if use_possible else aligns.sure
    _check_source_tags(sents, src_path)

    proj = _project_active(sents, targets.sents, link_sets, max_gap)
    sel = _select_projected(proj, targets.sents, drop_partial, keep_empty)
    written = write_xtreme_tsv(out_path, sel.keep)

    report = {
        "command": list(command) if command else None,
        "inputs": {"src_tags": str(src_path), "tgt": str(tgt_path), "align": str(align_path),
                   "tgt_format": "pairs" if targets.is_pairs else "text"},
        "config": {"one_based": one_based, "tokenizer": tokenizer if isinstance(tokenizer, str) else "custom",
                   "max_gap": max_gap, "use_possible": use_possible, "drop_partial": drop_partial,
                   "keep_empty": keep_empty},
        "sentences": _sentence_counts(len(sents), proj, sel, written, mismatched_src_words),
        "spans": proj.span_stats.to_dict(),
        "written_spans": dict(sorted(sel.label_counts.items())),
        "tokens": {"written": written["tokens"], "blank_tokens_dropped": written["blank_tokens_dropped"]},
        "links": {"sure": aligns.n_sure, "possible_only": aligns.n_possible_only,
                  "used": sum(len(link_sets[k]) for k in proj.active)},
        "outputs": {"tsv": str(out_path), "stats": str(stats_file)},
        "warnings": [],
    }
    empty = _empty_output_warning(report)
    if empty:
        log.warning("%s", empty)
        report["warnings"].append(empty)
    write_json(stats_file, report)  # atomic, NaN-checked
    return report


def _empty_output_warning(report: dict) -> str | None:
    """Why :func:`project_files` wrote no sentence, or ``None`` when it wrote some.

    An empty output is not an error (a filter may rightly leave nothing), but it is never what a
    user wants to find out later from a training run on an empty file.
    """
    s, inputs, out = report["sentences"], report["inputs"], report["outputs"]["tsv"]
    if s["written"]:
        return None
    if not s["read"]:
        return f"{inputs['src_tags']} has no sentences: nothing to project, the output {out} is empty"
    reasons = [f"{n} {why}" for n, why in ((s["empty_target"], "with an empty target"),
                                           (s["dropped_partial"], "dropped as partial (--no-drop-partial keeps them)"),
                                           (s["dropped_no_entity"], "dropped without entities (--keep-empty "
                                                                    "keeps them)"),
                                           (s["empty_after_blank_tokens"], "with only blank tokens")) if n]
    return (f"no sentence was written: all {s['read']} sentences of {inputs['src_tags']} were left out "
            f"({', '.join(reasons)}); the output {out} is empty")


__all__ = [
    "BioTagError", "ProjectedSpan", "ProjectionStats", "bio_spans", "spans_to_bio", "project_spans",
    "project_corpus", "read_token_lines", "write_xtreme_tsv", "project_files",
    "PROJECTED", "UNPROJECTABLE", "TOO_GAPPY", "CONFLICT",
]
