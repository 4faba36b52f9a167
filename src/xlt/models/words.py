"""Which subword pieces stand for a word: the one word ↔ subword mapping of xlt.

Every place where pre-split words meet a subword tokenizer goes through :func:`map_words`:
probe features (:meth:`xlt.models.encoder.Encoder.encode_words`), the fine-tuned tagger's labels and
predictions (:func:`xlt.transfer.finetune.encode_token_examples`), word alignment
(:func:`xlt.align.words.encode_subwords`), alignment fine-tuning and the supervision of
cross-lingual maps.

The problem it solves: SentencePiece tokenizers with a ``Metaspace`` pre-tokenizer (XLM-R, E5,
mT5, ...) put a word-boundary marker ``▁`` in front of every word, and when no vocabulary entry
starts with ``▁`` + the word's first characters the marker becomes a piece of its own. For
Japanese, Chinese and Thai that is nearly every word (``これ`` → ``['▁', 'これ']``; also
punctuation after a space in every script: ``.`` → ``['▁', '.']``), so taking "the first
subword" of a word, as XTREME does (google-research/xtreme #84), gives the same ``▁`` token for
almost every word, whose hidden state says little about the word itself.

Settings (``word_pieces``; :data:`WORD_PIECES`):

============  =====================================================================  ========
name          the word's vector (probe) / the piece that carries its label (tagger)  input
============  =====================================================================  ========
``first``     the first piece that is not a bare marker (the default)                as is
``mean``      the mean over the pieces that are not bare markers (tagger: the first)  as is
``xtreme``    the first piece, a bare ``▁`` included (XTREME's code)                  as is
``mean_all``  the mean over all pieces, bare ``▁`` included (tagger: the first)       as is
``no_marker`` the first piece that is not a bare marker                               bare markers removed
``text``      the first piece that is not a bare marker                               see below
``auto``      as ``first``; as ``text`` for sentences split into single characters    see below
============  =====================================================================  ========

"Input as is" means the tokenizer's ``is_split_into_words=True`` pieces, each word's pieces in
order, so the model sees exactly what XTREME feeds it; only the piece read for the word changes.
A *bare marker* is a piece whose text is nothing but ``▁`` (U+2581, SentencePiece) or ``Ġ``
(U+0120, byte-level BPE). A word made of a bare marker only (a whitespace-only word) keeps it:
every word has at least one piece. WordPiece tokenizers (BERT) have no markers: there
``first``, ``no_marker`` and ``xtreme`` are one and the same, and so are ``mean`` and ``mean_all``.

``text`` tokenises the sentence as running text instead of word by word (:func:`join_words`:
words are joined with spaces, but a sentence in a script written without spaces -- Han and
kana, Thai, Lao, Khmer, Myanmar -- is joined without, so ``['これ', 'に', '。']`` becomes
``'これに。'``); pieces go to the word in which they start (character offsets). A piece
may then cover the end of one word and the next word (``'ภาษาไทย'`` for ``['ภาษา', 'ไทย']``):
the next word has no piece of its own and *shares* the covering piece (it reads the same
vector, and a tagger trains that piece on the first word's label only).

``auto`` (the default) is ``first``, except for a sentence of a script written without spaces whose
"words" are single characters (:func:`char_segmented`: PAN-X's Japanese and Chinese split every
character off). Such a split carries no word information, and fed character by character, each
with its own ``▁``, the text looks like nothing the model saw in pre-training; tokenised as running
text (the ``text`` rule) it does, and the BIO continuation of shared pieces
(:func:`xlt.transfer.model.continue_shared_pieces`) keeps entities whole. On UD-POS, whose
Japanese, Chinese and Thai are word-segmented, ``auto`` changes 9 of 2,372 ja and 96 of 3,455 zh
test sentences and nothing else.

Measured with the bundled model (docs/benchmarks.md, "Word ↔ subword mapping (issue 11)"), UD-POS
probe over 37 targets: ``xtreme`` 71.5, ``first`` 74.6 (ja 18.0 → 54.7, zh 30.5 → 70.3, th 41.7 →
66.0; no language more than 0.8 below ``xtreme``), ``mean`` 75.5 (but hi, tr, ur, mr 1.6–3.2
below ``xtreme``), ``no_marker`` 74.0 (yo −2.4), ``text`` 74.2 (zh 64.0: shared pieces); ``auto``
74.62 (zh 70.15). PAN-X fine-tuning on the full English training set (GPU, same model for both):
``first`` ja 17.7, zh 22.5; ``auto`` ja 26.5, zh 30.2, every other language unchanged. Hence the
default ``auto``.
"""

from __future__ import annotations

import bisect
import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from xlt.data.segment import join_words  # re-exported: it lived here before moving to the data layer

#: Word-boundary markers of subword vocabularies: SentencePiece ``▁`` and byte-level BPE ``Ġ``.
MARKER_CHARS = frozenset("\u2581\u0120")


@dataclass(frozen=True)
class PieceRule:
    """What a ``word_pieces`` setting does.

    Attributes:
        pool: ``'first'`` (the first of the word's pooled pieces) or ``'mean'`` (their mean).
        markers: ``'keep'`` (bare markers are pooled like any piece), ``'skip'`` (left in the
            input, not pooled, unless the word has nothing else) or ``'drop'`` (removed from the
            input too, unless the word has nothing else).
        text: tokenise the sentence as running text and map pieces to words by character offsets.
        char_text: do so only for sentences split into single characters (:func:`char_segmented`);
            the others word by word.
    """

    pool: str
    markers: str
    text: bool = False
    char_text: bool = False


#: The ``word_pieces`` settings (see the module docs).
WORD_PIECES: dict[str, PieceRule] = {
    "first": PieceRule("first", "skip"),
    "mean": PieceRule("mean", "skip"),
    "xtreme": PieceRule("first", "keep"),
    "mean_all": PieceRule("mean", "keep"),
    "no_marker": PieceRule("first", "drop"),
    "text": PieceRule("first", "skip", text=True),
    "auto": PieceRule("first", "skip", char_text=True),
}
#: The default setting (the best one measured on UD POS and PAN-X, see docs/benchmarks.md).
DEFAULT_WORD_PIECES = "auto"
#: What xlt did before issue 11, and what XTREME's code does.
XTREME_WORD_PIECES = "xtreme"


def check_word_pieces(word_pieces: str) -> str:
    """``word_pieces`` if it is a known setting.

    Raises:
        ValueError: an unknown setting (the message lists the known ones).
    """
    if word_pieces not in WORD_PIECES:
        raise ValueError(f"word_pieces must be one of {', '.join(WORD_PIECES)}, got {word_pieces!r}")
    return word_pieces


def piece_rule(word_pieces: str = DEFAULT_WORD_PIECES, pooling: str | None = None) -> PieceRule:
    """The :class:`PieceRule` of a setting, with its pooling replaced by ``pooling`` if given.

    Raises:
        ValueError: an unknown setting or pooling.
    """
    rule = WORD_PIECES[check_word_pieces(word_pieces)]
    if pooling is None:
        return rule
    if pooling not in ("first", "mean"):
        raise ValueError(f"pooling must be 'first' or 'mean', got {pooling!r}")
    return PieceRule(pooling, rule.markers, rule.text, rule.char_text)


@functools.lru_cache(maxsize=16)
def marker_ids(tokenizer: Any) -> frozenset[int]:
    """Ids of the tokenizer's bare-marker pieces (text made of ``▁``/``Ġ`` only)."""
    vocab = tokenizer.get_vocab()
    return frozenset(int(i) for t, i in vocab.items() if t and set(t) <= MARKER_CHARS)


@dataclass
class WordPieces:
    """One sentence's subword pieces and which of them stand for each word.

    Attributes:
        prefix: piece ids of the text-prefix words (model input, never pooled).
        pieces: per word, the piece ids it puts into the model input; concatenated (after
            ``prefix``) they are the sentence's input, in order. Empty for a word without pieces
            when :func:`map_words` was called with ``unk=False``, and for a word that shares a
            piece of an earlier word (``text`` setting).
        pooled: per word, the indices (into the concatenation of ``pieces``, prefix excluded) of
            the pieces that stand for it, in order: its vector is the first one's hidden state
            or their mean, and a tagger labels the first one. Empty only for a word without
            pieces (``unk=False``).
        unk_words: the words that gave no piece and were fed as the unknown token.
    """

    prefix: list[int]
    pieces: list[list[int]]
    pooled: list[list[int]]
    unk_words: list[int] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list, repr=False)

    @property
    def n_unk_fallback(self) -> int:
        """Words fed as the unknown token."""
        return len(self.unk_words)

    @property
    def ids(self) -> list[int]:
        """The sentence's piece ids (prefix excluded)."""
        return [t for p in self.pieces for t in p]

    @property
    def starts(self) -> list[int]:
        """Per word, the index of its first own piece (prefix excluded)."""
        if len(self._starts) != len(self.pieces):
            out, k = [], 0
            for p in self.pieces:
                out.append(k)
                k += len(p)
            self._starts = out
        return self._starts

    def pooled_by_word(self) -> list[list[tuple[int, int]]]:
        """:attr:`pooled` as ``(owning word, index among that word's own pieces)`` pairs."""
        starts = self.starts
        owners = [v for v, p in enumerate(self.pieces) if p]
        ostarts = [starts[v] for v in owners]
        out = []
        for q in self.pooled:
            row = []
            for x in q:
                v = owners[bisect.bisect_right(ostarts, x) - 1]
                row.append((v, x - starts[v]))
            out.append(row)
        return out

    def first(self, w: int) -> int:
        """Index of the piece that carries word ``w``'s label (``-1`` for a word without pieces)."""
        return self.pooled[w][0] if self.pooled[w] else -1


# --------------------------------------------------------------------------- joining
def _has_spaceless(word: str) -> bool:
    """Whether ``word`` has a letter of a script written without spaces (Han/kana, Thai, Lao, Khmer,
    Myanmar), decided as :func:`xlt.data.segment.join_words` decides it: only a sentence with such a
    letter joins a punctuation mark and the word without a space."""
    return bool(word) and len(join_words(("-", word))[0]) == 1 + len(word)


# --------------------------------------------------------------------------- mapping
def _word_rule(ids: list[int], markers: frozenset[int], how: str) -> tuple[list[int], list[int]]:
    """``(input ids, pooled indices into them)`` of one word's pieces under a marker rule."""
    if how == "keep" or not markers:
        return ids, list(range(len(ids)))
    content = [k for k, t in enumerate(ids) if t not in markers]
    if not content:  # a word made of markers only keeps them
        return ids, list(range(len(ids)))
    if how == "drop":
        return [ids[k] for k in content], list(range(len(content)))
    return ids, content


def map_words(tokenizer: Any, sentences: Sequence[Sequence[str]], word_pieces: str | PieceRule = DEFAULT_WORD_PIECES,
              prefix_words: Sequence[str] = (), *, unk: bool = True, chunk: int = 2048) -> list[WordPieces]:
    """Subword pieces of pre-split sentences and the pieces that stand for each word.

    Args:
        tokenizer: a Hugging Face *fast* tokenizer (``word_ids()``, offsets).
        sentences: word lists.
        word_pieces: a setting of :data:`WORD_PIECES` or a :class:`PieceRule`.
        prefix_words: words put in front of every sentence (E5's ``"query:"``); their pieces come
            back as :attr:`WordPieces.prefix`.
        unk: feed a word that gives no piece at all (empty, or only characters the normaliser
            removes) as the tokenizer's unknown token, so that every word has a vector (counted
            in ``n_unk_fallback``); with ``False`` such a word gets no piece.
        chunk: sentences per tokenizer call.

    Returns:
        one :class:`WordPieces` per sentence, in order.

    Raises:
        ValueError: an unknown setting; ``unk=True`` and a tokenizer without an unknown token
            meets a word without pieces.
    """
    rule = word_pieces if isinstance(word_pieces, PieceRule) else piece_rule(word_pieces)
    markers = marker_ids(tokenizer) if rule.markers != "keep" or rule.text or rule.char_text else frozenset()
    prefix_words = list(prefix_words)
    unk_id = getattr(tokenizer, "unk_token_id", None)
    out: list[WordPieces] = []
    for c in range(0, len(sentences), chunk):
        part = [list(s) for s in sentences[c:c + chunk]]
        if rule.text:
            out.extend(_map_text(tokenizer, part, prefix_words, markers, unk_id if unk else None))
            continue
        as_text = [j for j, s in enumerate(part) if s and char_segmented(s)] if rule.char_text else []
        if not as_text:
            out.extend(_map_split(tokenizer, part, prefix_words, markers, rule, unk, unk_id))
            continue
        texts = iter(_map_text(tokenizer, [part[j] for j in as_text], prefix_words, markers, unk_id if unk else None))
        chosen = set(as_text)
        split = iter(_map_split(tokenizer, [s for j, s in enumerate(part) if j not in chosen], prefix_words,
                                markers, rule, unk, unk_id))
        out.extend(next(texts) if j in chosen else next(split) for j in range(len(part)))
    return out


def char_segmented(words: Sequence[str], min_words: int = 3, share: float = 0.9) -> bool:
    """Whether a sentence of a script written without spaces is split into single characters.

    PAN-X's Japanese and Chinese (and other character-split corpora) give every character as a
    "word": the split says nothing about words, and feeding the characters one by one (each with
    its own ``▁``) is far from the text the model was trained on. Such sentences are better
    tokenised as running text (the ``auto`` setting).

    Args:
        words: the sentence's words.
        min_words: fewest words with Han/kana, Thai, Lao, Khmer or Myanmar letters for a decision.
        share: the least share of those words that are one character (combining marks not counted).

    Returns:
        True when at least ``min_words`` words carry such letters and ``share`` of them are
        single characters.
    """
    spaceless = [w for w in words if _has_spaceless(w)]
    if len(spaceless) < min_words:
        return False
    single = sum(1 for w in spaceless if sum(1 for ch in w if unicodedata.category(ch)[0] != "M") == 1)
    return single >= share * len(spaceless)


def _map_split(tokenizer: Any, part: list[list[str]], prefix_words: list[str], markers: frozenset[int],
               rule: PieceRule, unk: bool, unk_id: int | None) -> list[WordPieces]:
    """The word-by-word settings (``is_split_into_words``) for one chunk of sentences."""
    out: list[WordPieces] = []
    nonempty = [j for j, s in enumerate(part) if s or prefix_words]
    enc = tokenizer([prefix_words + part[j] for j in nonempty], is_split_into_words=True,
                    add_special_tokens=False, verbose=False) if nonempty else None
    row = {j: k for k, j in enumerate(nonempty)}
    n_pre = len(prefix_words)
    for j, words in enumerate(part):
        raw: list[list[int]] = [[] for _ in range(n_pre + len(words))]
        if j in row:
            k = row[j]
            for t, w in zip(enc["input_ids"][k], enc.word_ids(k)):
                if w is not None:
                    raw[w].append(int(t))
        wp = WordPieces(prefix=[], pieces=[], pooled=[])
        base = 0
        for w, ids in enumerate(raw):
            if not ids and (unk or w < n_pre):
                if unk_id is None:
                    raise ValueError("the tokenizer has no unknown token for a word without pieces")
                ids = [int(unk_id)]
                if w >= n_pre:
                    wp.unk_words.append(w - n_pre)
            if w < n_pre:
                wp.prefix.extend(ids)
                continue
            ids, pool = _word_rule(ids, markers, rule.markers)
            wp.pieces.append(ids)
            wp.pooled.append([base + k for k in pool])
            base += len(ids)
        out.append(wp)
    return out


def _map_text(tokenizer: Any, part: list[list[str]], prefix_words: list[str], markers: frozenset[int],
              unk_id: int | None) -> list[WordPieces]:
    """The ``text`` setting for one chunk of sentences (see the module docs)."""
    pre_text = " ".join(prefix_words)
    off = len(pre_text) + 1 if pre_text else 0
    joined = [join_words(words) for words in part]
    texts = [(pre_text + " " + body) if pre_text and body else (pre_text or body) for body, _ in joined]
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    out = []
    for j, words in enumerate(part):
        ids = [int(t) for t in enc["input_ids"][j]]
        spans = joined[j][1]
        text = texts[j]
        offsets = []
        for a, b in enc["offset_mapping"][j]:
            while a < b and text[a].isspace():  # a piece's offsets may include the space before it
                a += 1
            offsets.append((a - off, b - off))
        cand = [v for v, (s, e) in enumerate(spans) if e > s]
        cstarts = [spans[v][0] for v in cand]
        # owner of every piece: -1 = prefix, else the word in which it starts (a piece starting in
        # the space before a word belongs to that word); a bare marker goes with the next piece
        owner: list[int | None] = []
        for p, (a, _) in enumerate(offsets):
            if ids[p] in markers:
                owner.append(None)
            elif a < 0 or not cand:
                owner.append(-1 if a < 0 or not words else len(words) - 1)
            else:
                i = max(0, bisect.bisect_right(cstarts, a) - 1)
                if a >= spans[cand[i]][1] and i + 1 < len(cand) and a >= spans[cand[i]][0]:
                    i += 1
                owner.append(cand[i])
        nxt = len(words) - 1 if words else -1
        for p in range(len(ids) - 1, -1, -1):
            if owner[p] is None:
                owner[p] = nxt
            else:
                nxt = owner[p]  # type: ignore[assignment]
        wp = WordPieces(prefix=[ids[p] for p in range(len(ids)) if owner[p] == -1], pieces=[], pooled=[])
        own: list[list[int]] = [[] for _ in words]  # piece positions (into ids) owned by each word
        for p in range(len(ids)):
            if owner[p] != -1:
                own[owner[p]].append(p)  # type: ignore[index]
        final: dict[int, int] = {}  # piece position in ids -> index in the sentence's input
        k = 0
        for v in range(len(words)):
            pieces = [ids[p] for p in own[v]]
            for p in own[v]:
                final[p] = k
                k += 1
            if not own[v]:
                s, e = spans[v]
                covered = [final[p] for p in range(len(ids)) if p in final and ids[p] not in markers
                           and offsets[p][0] < e and offsets[p][1] > s and e > s]
                if covered:  # shares the piece(s) of an earlier word
                    wp.pieces.append([])
                    wp.pooled.append(covered)
                    continue
                if unk_id is not None:
                    pieces = [int(unk_id)]
                    wp.unk_words.append(v)
                    k += 1
                wp.pieces.append(pieces)
                wp.pooled.append([k - 1] if pieces else [])
                continue
            content = [final[p] for p in own[v] if ids[p] not in markers]
            wp.pieces.append(pieces)
            wp.pooled.append(content or [final[p] for p in own[v]])
        out.append(wp)
    return out


__all__ = ["DEFAULT_WORD_PIECES", "MARKER_CHARS", "PieceRule", "WORD_PIECES", "WordPieces", "XTREME_WORD_PIECES",
           "check_word_pieces", "join_words", "map_words", "marker_ids", "piece_rule"]
