"""From per-word label probabilities to a tag sequence: argmax, or Viterbi under BIO constraints.

A tagger trained with a softmax per word picks each word's label on its own, so it can emit
sequences no gold annotation contains: ``O I-PER`` (an entity that never began), ``B-ORG I-PER``
(an entity that changes type inside), and in BIOES ``B-LOC O`` (an entity that never ends). Span
scorers repair them by guessing (``seqeval``'s default mode reads a stray ``I-X`` as the start of a
new entity), and zero-shot taggers produce many of them in target languages, where the per-word
decisions are least sure. Constrained decoding picks instead the most probable sequence among the
well-formed ones: the Viterbi path that maximises ``sum_t log p_t(y_t)`` over sequences whose
every transition the tagging scheme allows (the hard transition mask of a CRF without learned
transition scores; Lample et al. 2016, "Neural Architectures for Named Entity Recognition", use
the same constraints in their CRF decoder). It needs no training and no target-language data.

Settings (:data:`DECODINGS`):

* ``argmax``: each word's most probable label (what every ``*ForTokenClassification`` does).
* ``bio`` (default): Viterbi under the constraints of the label set's scheme (IOB2 or BIOES, from
  the label names); a label set that is not BIO-tagged (UPOS, ...) has no constraints, and ``bio``
  is then the same as ``argmax``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

#: The decoding settings (see the module docstring).
DECODINGS = ("bio", "argmax")
#: The default setting of every task model and of ``xlt transfer`` / ``xlt predict``.
DEFAULT_DECODING = "bio"
#: Log-probability given to a probability of 0 (a label a word cannot have, e.g. ``B-X`` of a
#: character that shares its piece with the one before it): far below any real one, but finite, so
#: a sentence whose every well-formed path needs such a label still gets a path.
LOG_FLOOR = -1e4


def check_decoding(value: str) -> str:
    """``value`` if it is one of :data:`DECODINGS`.

    Raises:
        ValueError: any other value (the message lists the settings).
    """
    if value not in DECODINGS:
        raise ValueError(f"unknown decoding {value!r}; choose one of {', '.join(DECODINGS)}")
    return value


@functools.lru_cache(maxsize=32)
def bio_constraints(labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The hard constraints of the label set's tagging scheme.

    The scheme is read from the label names: ``B-X``/``I-X``/``O`` is IOB2; any ``E-X`` or ``S-X``
    makes it BIOES (IOBES). Labels without a ``B-``/``I-``/``E-``/``S-`` prefix (``O``, or tags
    such as ``NOUN``) may stand anywhere, as long as no entity is left open before them.

    * IOB2: ``I-X`` only after ``B-X`` or ``I-X``; so not at the start.
    * BIOES: ``I-X`` and ``E-X`` only after ``B-X`` or ``I-X``; ``B-X`` and ``I-X`` only before
      ``I-X`` or ``E-X``; so a sentence neither starts with ``I``/``E`` nor ends with ``B``/``I``.

    Args:
        labels: the label names in column order.

    Returns:
        ``(allowed, start, end)``: ``(n_labels, n_labels)`` bool, ``allowed[a, b]`` = label ``b``
        may follow label ``a``; ``(n_labels,)`` bool, which labels may start and which may end a
        sentence. None when the labels have no ``I-`` (nothing to constrain).
    """
    parts = [(l[0], l[2:]) if len(l) > 2 and l[1] == "-" and l[0] in "BIES" else ("", l) for l in labels]
    if not any(p == "I" for p, _ in parts):
        return None
    bioes = any(p in ("E", "S") for p, _ in parts)
    n = len(labels)
    allowed = np.ones((n, n), dtype=bool)
    start, end = np.ones(n, dtype=bool), np.ones(n, dtype=bool)
    for b, (pb, tb) in enumerate(parts):
        inside = pb == "I" or (bioes and pb == "E")  # needs an open entity of its type before it
        if inside:
            start[b] = False
            for a, (pa, ta) in enumerate(parts):
                allowed[a, b] = pa in ("B", "I") and ta == tb
        if bioes and pb in ("B", "I"):  # opens or continues an entity that must go on
            end[b] = False
            for c, (pc, tc) in enumerate(parts):
                if not (pc in ("I", "E") and tc == tb):
                    allowed[b, c] = False
    return allowed, start, end


def viterbi_paths(probas: Sequence[np.ndarray], allowed: np.ndarray, start: np.ndarray,
                  end: np.ndarray) -> list[np.ndarray]:
    """The most probable well-formed label sequence of every sentence.

    Maximises ``sum_t log p_t(y_t)`` over the sequences with ``start[y_0]``, ``allowed[y_t, y_t+1]``
    for every t and ``end[y_last]``. Sentences of the same length are decoded together, so the
    Python loop runs once per position of each distinct length, not once per word.

    Args:
        probas: per sentence ``(n_words, n_labels)`` probabilities (rows need not sum to 1).
        allowed, start, end: as :func:`bio_constraints` returns them.

    Returns:
        per sentence the ``(n_words,)`` int64 label ids of its best path (ties go to the lower id).
    """
    out: list[np.ndarray | None] = [None] * len(probas)
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(probas):
        by_length.setdefault(len(p), []).append(i)
    trans = np.where(allowed, 0.0, -np.inf)
    first, last = np.where(start, 0.0, -np.inf), np.where(end, 0.0, -np.inf)
    for length, idx in by_length.items():
        if length == 0:
            for i in idx:
                out[i] = np.zeros(0, dtype=np.int64)
            continue
        with np.errstate(divide="ignore"):
            emit = np.maximum(np.log(np.stack([np.asarray(probas[i], dtype=np.float64) for i in idx])), LOG_FLOOR)
        b = len(idx)
        score = emit[:, 0] + first  # (b, n_labels)
        back = np.zeros((length, b, emit.shape[2]), dtype=np.int64)
        for t in range(1, length):
            cand = score[:, :, None] + trans[None]  # (b, from, to)
            back[t] = cand.argmax(1)
            score = np.take_along_axis(cand, back[t][:, None, :], 1)[:, 0] + emit[:, t]
        path = np.zeros((b, length), dtype=np.int64)
        path[:, -1] = (score + last).argmax(1)
        for t in range(length - 1, 0, -1):
            path[:, t - 1] = np.take_along_axis(back[t], path[:, t:t + 1], 1)[:, 0]
        for k, i in enumerate(idx):
            out[i] = path[k]
    return out  # type: ignore[return-value]


def decode_word_labels(probas: Sequence[np.ndarray], labels: Sequence[str], decoding: str = DEFAULT_DECODING
                ) -> list[list[str]]:
    """Per-word label probabilities to label names, one list per sentence.

    Args:
        probas: per sentence ``(n_words, n_labels)`` probabilities, columns in ``labels`` order.
        labels: the label names.
        decoding: one of :data:`DECODINGS`.

    Returns:
        per sentence its ``n_words`` labels.

    Raises:
        ValueError: an unknown ``decoding``.
    """
    check_decoding(decoding)
    cons = bio_constraints(tuple(labels)) if decoding != "argmax" else None
    if cons is None:
        return [[labels[i] for i in p.argmax(-1)] if len(p) else [] for p in probas]
    return [[labels[i] for i in path] for path in viterbi_paths(probas, *cons)]
