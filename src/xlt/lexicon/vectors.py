"""Static word vectors: read from the usual files, written back, or extracted from an encoder.

* :func:`read_word_vectors`: word2vec/fastText text files (``.vec``, ``.txt``: a ``count dim``
  header, then ``word v1 ... vdim`` per line), fastText ``.bin`` models and word2vec binary
  files, read with gensim (Řehůřek & Sojka 2010), and ``.npz`` files written by
  :meth:`WordVectors.save`; the file's header is checked against its rows, and duplicate words
  and non-finite values are errors naming the file.
* :func:`encoder_word_vectors`: type-level vectors from a contextual encoder, as Vulić et al. 2020
  ("Probing Pretrained Language Models for Lexical Semantics") and Bommasani et al. 2020: each
  word encoded on its own (``isolated``: the mean of its word pieces' hidden states, the
  encoder's text prefix in front), or the mean of its contextual vectors over up to ``n``
  occurrences in a corpus (``contexts``), falling back to the isolated vector for words the
  corpus lacks (counted).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xlt.core.errors import XltError
from xlt.core.io import atomic_write

__all__ = ["WordVectorError", "WordVectors", "combine_layers", "context_occurrences", "encoder_layer_vectors",
           "encoder_word_vectors", "read_word_vectors"]


class WordVectorError(XltError, ValueError):
    """A word-vector file or matrix that cannot be used: a header that disagrees with its rows,
    duplicate words, rows of different lengths, non-finite values."""


@dataclass
class WordVectors:
    """Words and their vectors, row ``i`` for ``words[i]`` (frequency order where the source has one).

    Attributes:
        words: the vocabulary, ``n_words`` distinct strings.
        vectors: float32 ``(n_words, dim)``.
        source: where they came from (a file, or the encoder and how), for reports.
        stats: counts of how they were made (e.g. words without a context).

    Raises:
        WordVectorError: duplicate words, a count that differs from the rows, non-finite values.
    """

    words: list[str]
    vectors: np.ndarray
    source: str = ""
    stats: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or len(self.words) != len(self.vectors):
            raise WordVectorError(f"{self.source or 'word vectors'}: {len(self.words)} words but vectors of shape "
                                  f"{self.vectors.shape}")
        if len(set(self.words)) != len(self.words):
            seen, dup = set(), []
            for w in self.words:
                if w in seen:
                    dup.append(w)
                seen.add(w)
            raise WordVectorError(f"{self.source or 'word vectors'}: duplicate words ({len(dup)}, e.g. "
                                  f"{', '.join(map(repr, dup[:3]))})")
        if not np.isfinite(self.vectors).all():
            row = int(np.where(~np.isfinite(self.vectors).all(1))[0][0])
            raise WordVectorError(f"{self.source or 'word vectors'}: non-finite values in the vector of "
                                  f"{self.words[row]!r}")

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        return int(self.vectors.shape[1])

    def index(self) -> dict[str, int]:
        """word -> row."""
        return {w: i for i, w in enumerate(self.words)}

    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``path``: word2vec text format for ``.vec``/``.txt`` (readable by gensim, fastText
        and MUSE/VecMap), else ``.npz`` (``words``, ``vectors``); atomically.

        Returns:
            the path written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".vec", ".txt"):
            def write(tmp: Path) -> None:
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(f"{len(self.words)} {self.dim}\n")
                    for w, v in zip(self.words, self.vectors):
                        f.write(w + " " + " ".join(f"{x:.6g}" for x in v) + "\n")
        else:
            def write(tmp: Path) -> None:
                with open(tmp, "wb") as f:
                    np.savez(f, words=np.asarray(self.words, dtype=str), vectors=self.vectors)
        atomic_write(path, write)
        return path


def _check_text_file(path: Path) -> None:
    """Check a word2vec text file's shape before gensim parses it (gensim pads a short row and
    keeps a repeated word as an empty slot without an error): a ``count dim`` header, ``count``
    rows of one word and ``dim`` values each, no word twice.

    Raises:
        WordVectorError: naming the file and line.
    """
    with open(path, "rb") as f:
        head = f.readline().split()
        if len(head) != 2 or not all(h.isdigit() for h in head):
            raise WordVectorError(f"{path}:1: expected a 'count dim' header line, got {b' '.join(head)[:60].decode('utf-8', 'replace')!r}")
        count, dim = int(head[0]), int(head[1])
        seen: dict[bytes, int] = {}
        rows = 0
        for lineno, line in enumerate(f, 2):
            fields = line.split()
            if not fields:
                continue
            rows += 1
            if len(fields) != dim + 1:
                raise WordVectorError(f"{path}:{lineno}: expected a word and {dim} values (the header's dimension), "
                                      f"got {len(fields) - 1} values")
            if fields[0] in seen:
                raise WordVectorError(f"{path}:{lineno}: duplicate words: {fields[0].decode('utf-8', 'replace')!r} "
                                      f"is also on line {seen[fields[0]]}")
            seen[fields[0]] = lineno
    if count != rows:
        raise WordVectorError(f"{path}:1: the header says {count} words but the file has {rows} rows")


def read_word_vectors(path: str | os.PathLike, limit: int | None = None) -> WordVectors:
    """Read word vectors (see the module docstring for the formats), keeping file order.

    Args:
        path: the file. limit: the first ``limit`` words only (frequency-ordered files: the most
            frequent).

    Raises:
        FileNotFoundError: no such file. WordVectorError: a header that disagrees with the rows
            (count or dimension), duplicate words, non-finite values, an unreadable file (the message
            names it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such word-vector file")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if "words" not in z or "vectors" not in z:
                raise WordVectorError(f"{path}: an .npz of word vectors holds 'words' and 'vectors'")
            words, vectors = [str(w) for w in z["words"]], z["vectors"]
        return WordVectors(words[:limit], vectors[:limit], source=str(path))
    from gensim.models import KeyedVectors  # lazy: heavy import

    try:
        if path.suffix == ".bin":
            try:
                from gensim.models.fasttext import load_facebook_vectors  # lazy: heavy import

                kv = load_facebook_vectors(str(path))
            except (NotImplementedError, ValueError, AssertionError):
                kv = KeyedVectors.load_word2vec_format(str(path), binary=True, limit=limit)
        else:
            _check_text_file(path)
            kv = KeyedVectors.load_word2vec_format(str(path), binary=False, limit=limit)
    except (UnicodeDecodeError, EOFError) as exc:
        raise WordVectorError(f"{path}: not a readable word-vector file ({exc})") from None
    except ValueError as exc:
        if isinstance(exc, WordVectorError):
            raise
        raise WordVectorError(f"{path}: not a readable word-vector file ({str(exc).splitlines()[0]}; rows of "
                              "different lengths?)") from None
    words = list(kv.index_to_key)[:limit]
    return WordVectors(words, kv.vectors[:len(words)], source=str(path))


def context_occurrences(words: Sequence[str], contexts: Sequence[Sequence[str]], max_occurrences: int = 10,
                        fold_case: bool = False) -> tuple[dict[int, list[tuple[int, int]]], np.ndarray]:
    """Where each word occurs in a corpus, up to ``max_occurrences`` times (the first ones).

    The sentence index behind Vulić et al. 2020's "AOC" vectors: only sentences holding a word that
    still needs an occurrence are kept, so each is encoded once for all its words.

    Args:
        words: the vocabulary, ``n_words`` distinct strings.
        contexts: tokenised sentences. max_occurrences: occurrences kept per word (``>= 1``).
        fold_case: match ``token.casefold()`` against the words (for a case-folded vocabulary).

    Returns:
        ``(wanted, counts)``: ``wanted[s]`` lists ``(token position, word row)`` for sentence ``s``
        (only sentences with at least one); ``counts`` ``(n_words,)`` int64 occurrences kept per word.

    Raises:
        WordVectorError: ``max_occurrences < 1``.
    """
    if max_occurrences < 1:
        raise WordVectorError(f"max_occurrences must be >= 1, got {max_occurrences}")
    row = {w: i for i, w in enumerate(words)}
    wanted: dict[int, list[tuple[int, int]]] = {}
    counts = np.zeros(len(row), dtype=np.int64)
    for s, sent in enumerate(contexts):
        for t, w in enumerate(sent):
            i = row.get(w.casefold() if fold_case else w)
            if i is not None and counts[i] < max_occurrences:
                counts[i] += 1
                wanted.setdefault(s, []).append((t, i))
    return wanted, counts


def encoder_layer_vectors(encoder, words: Sequence[str], *, contexts: Sequence[Sequence[str]] | None = None,
                          max_occurrences: int = 10, fold_case: bool = False, layers="all", batch_size: int = 256,
                          prefix: bool = False, progress: bool = False, chunk_size: int = 1000) -> tuple[np.ndarray, dict]:
    """Type-level vectors of ``words`` at several layers at once: ``(n_layers, n_words, hidden size)``.

    One forward pass gives every layer, so a vocabulary encoded once (and cached, e.g. with
    ``np.savez``) serves any choice of layers later (:func:`combine_layers`). Isolated
    (``contexts=None``): each word is encoded alone and its vector is the mean of its word pieces'
    hidden states, with no special token and no text prefix in the mean (Vulić et al. 2020's "ISO"
    vectors). With ``contexts``: the mean of the word's contextual vectors (the mean of its pieces
    in the sentence) over its first ``max_occurrences`` occurrences (Vulić et al. 2020's "AOC";
    Bommasani et al. 2020); rows of words with no occurrence are **zero** (``stats["counts"]``
    says which), so that the caller chooses the fallback.

    Args:
        encoder: a loaded :class:`~xlt.models.encoder.Encoder`. words: the vocabulary (distinct, non-empty).
        contexts: tokenised sentences of the words' language, or None.
        max_occurrences, fold_case: :func:`context_occurrences`.
        layers: ``'all'`` (embeddings = 0 to the last layer), ``'last'``, an int or a list of ints.
        batch_size: sentences per forward pass.
        prefix: put the encoder's text prefix (E5's ``query:``) before each word or sentence.
        chunk_size: sentences encoded at a time (their per-word states of every layer are held in
            memory: ``chunk_size * words per sentence * n_layers * dim`` floats).

    Returns:
        ``(stack, stats)``: float32 ``(n_layers, n_words, dim)`` (``n_layers = 1`` for a single
        layer) and counts (``words``, ``layers``, and with contexts ``counts`` ``(n_words,)``,
        ``no_context``, ``occurrences``, ``sentences``).

    Raises:
        WordVectorError: duplicate or empty words, ``max_occurrences < 1``. ValueError: a bad
            layer spec (:meth:`~xlt.models.encoder.Encoder.resolve_layers`).
    """
    if not prefix and encoder.text_prefix:
        encoder = dataclasses.replace(encoder, text_prefix="")
    words = list(words)
    if any(not w.strip() for w in words):
        raise WordVectorError("empty word in the vocabulary")
    if len(set(words)) != len(words):
        raise WordVectorError("duplicate words in the vocabulary")
    ids, single = encoder.resolve_layers(layers)
    dim = encoder.hidden_size
    stats: dict = {"words": len(words), "layers": ids}
    if contexts is None:
        feats = encoder.encode_words([[w] for w in words], layers=ids, batch_size=batch_size, progress=progress,
                                     word_pieces="mean_all")
        stack = np.empty((len(ids), len(words), dim), dtype=np.float32)
        for i, v in enumerate(feats.vectors):
            stack[:, i] = v[:, 0]
        return stack, stats
    wanted, counts = context_occurrences(words, contexts, max_occurrences, fold_case)
    keep = sorted(wanted)
    sums = np.zeros((len(ids), len(words), dim), dtype=np.float32)
    for c in range(0, len(keep), chunk_size):  # a chunk's per-word states of every layer stay in memory, not all
        part = keep[c:c + chunk_size]
        feats = encoder.encode_words([list(contexts[s]) for s in part], layers=ids, batch_size=batch_size,
                                     progress=progress, word_pieces="mean_all")
        for s, v in zip(part, feats.vectors):
            for t, i in wanted[s]:
                sums[:, i] += v[:, t]
    has = counts > 0
    sums[:, has] /= counts[has][None, :, None]
    stats.update(counts=counts, no_context=int((~has).sum()), occurrences=int(counts.sum()), sentences=len(keep))
    return sums, stats


def combine_layers(stack, select: Sequence[int] | None = None, combine: str = "mean") -> np.ndarray:
    """One vector per word from several layers: ``(n_words, dim)`` or ``(n_words, len(select) * dim)``.

    ``mean``: the layers' average (Vulić et al. 2020 average layers, e.g. the lower six, for their
    lexical probes); ``concat``: each layer's vector scaled to unit length, then concatenated.

    Args:
        stack: ``(n_layers, n_words, dim)`` (:func:`encoder_layer_vectors`).
        select: positions in ``stack``'s first axis (None: all).
        combine: ``mean`` or ``concat``.

    Returns:
        float32 ``(n_words, dim)`` (``mean``) or ``(n_words, len(select) * dim)`` (``concat``).

    Raises:
        WordVectorError: not a 3-d stack, a position outside it, an empty selection, an unknown ``combine``.
    """
    stack = np.asarray(stack)
    if stack.ndim != 3:
        raise WordVectorError(f"expected a (n_layers, n_words, dim) stack, got shape {stack.shape}")
    sel = list(range(len(stack))) if select is None else list(select)
    if not sel or any(not -len(stack) <= i < len(stack) for i in sel):
        raise WordVectorError(f"layer positions {sel} outside a stack of {len(stack)} layers")
    if combine == "mean":
        return stack[sel].astype(np.float32).mean(0)
    if combine == "concat":
        parts = stack[sel].astype(np.float32)
        parts /= np.maximum(np.linalg.norm(parts, axis=-1, keepdims=True), 1e-12)
        return np.concatenate(list(parts), axis=-1)
    raise WordVectorError(f"combine must be mean or concat, got {combine!r}")


def encoder_word_vectors(encoder, words: Sequence[str], *, contexts: Sequence[Sequence[str]] | None = None,
                         max_occurrences: int = 10, layers="last", combine: str = "mean", batch_size: int = 256,
                         prefix: bool = False, fold_case: bool = False, progress: bool = False) -> WordVectors:
    """Static vectors of ``words`` from a contextual encoder.

    Isolated (``contexts=None``): each word is encoded alone and its vector is the mean of its
    word pieces' hidden states (Vulić et al. 2020's decontextualised "ISO" vectors). With
    ``contexts`` (tokenised sentences): the mean of its contextual vectors over its first
    ``max_occurrences`` occurrences (Vulić et al. 2020's "AOC" vectors; Bommasani et al. 2020);
    words with no occurrence keep their isolated vector (``stats["no_context"]``). Several layers
    are combined by :func:`combine_layers`.

    Args:
        encoder: a loaded :class:`~xlt.models.encoder.Encoder`. words: the vocabulary (distinct).
        contexts: tokenised sentences of the words' language, or None.
        max_occurrences: occurrences averaged per word. layers: hidden states (``'last'``, an
            int, or a list). combine: several layers: ``mean`` (averaged) or ``concat`` (each
            scaled to unit length, then concatenated: ``len(layers) * hidden size`` dimensions).
        batch_size: sentences per forward pass.
        prefix: put the encoder's text prefix (E5's ``query:``) before each word or sentence.
            Off by default: on XLING en-de (5k seed pairs, Procrustes), multilingual-e5-small's
            isolated last-layer vectors give P@1 44.2 without it and 40.2 with it
            (docs/results, "Word translations").
        fold_case: match case-folded corpus tokens against the words.

    Returns:
        :class:`WordVectors` ``(len(words), hidden size)`` (``concat``: times the layers), unnormalised.

    Raises:
        WordVectorError: duplicate or empty words, an unknown ``combine``.
    """
    if combine not in ("mean", "concat"):
        raise WordVectorError(f"combine must be mean or concat, got {combine!r}")
    iso, stats = encoder_layer_vectors(encoder, words, layers=layers, batch_size=batch_size, prefix=prefix,
                                       progress=progress)
    vectors = combine_layers(iso, None, combine)
    stats = {"words": stats["words"], "mode": "isolated" if contexts is None else "contexts"}
    if contexts is not None:
        ctx, cstats = encoder_layer_vectors(encoder, words, contexts=contexts, max_occurrences=max_occurrences,
                                            fold_case=fold_case, layers=layers, batch_size=batch_size, prefix=prefix,
                                            progress=progress)
        has = cstats["counts"] > 0
        vectors[has] = combine_layers(ctx, None, combine)[has]
        stats.update(no_context=cstats["no_context"], occurrences=cstats["occurrences"], sentences=cstats["sentences"])
    return WordVectors(list(words), vectors, source=f"{encoder.spec} ({stats['mode']})", stats=stats)
