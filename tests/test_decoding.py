"""Constrained (BIO) Viterbi decoding of per-word label probabilities (xlt.transfer.decoding).

The reference for the Viterbi search is exhaustive enumeration: every label sequence of a short
sentence is checked against the scheme's rules written out independently here, and the best
well-formed one must be the decoder's path.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlt.transfer.decoding import (
    DECODINGS,
    bio_constraints,
    check_decoding,
    decode_word_labels,
    viterbi_paths,
)

IOB2 = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]
BIOES = ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-PER", "I-PER", "E-PER", "S-PER"]


def well_formed(tags: list[str], bioes: bool = False) -> bool:
    """The scheme's rules (IOB2, or BIOES), written out from its definition."""
    prev = "O"
    for t in tags:
        if t[:2] in ("I-", "E-") and not (prev[:2] in ("B-", "I-") and prev[2:] == t[2:]):
            return False
        if bioes and prev[:2] in ("B-", "I-") and not (t[:2] in ("I-", "E-") and t[2:] == prev[2:]):
            return False
        prev = t
    return not (bioes and prev[:2] in ("B-", "I-"))


def brute_force(p: np.ndarray, labels: list[str], bioes: bool) -> tuple[float, list[str]]:
    """Best log-probability and sequence over all well-formed sequences (exhaustive)."""
    best = (-np.inf, [])
    for seq in itertools.product(range(len(labels)), repeat=len(p)):
        tags = [labels[i] for i in seq]
        if not well_formed(tags, bioes):
            continue
        s = float(sum(np.log(p[t, i]) for t, i in enumerate(seq)))
        if s > best[0] + 1e-12:
            best = (s, tags)
    return best


def path_logp(p: np.ndarray, tags: list[str], labels: list[str]) -> float:
    return float(sum(np.log(p[t, labels.index(tag)]) for t, tag in enumerate(tags)))


def test_hand_worked_stray_inside_tag():
    # argmax: O I-PER -- an entity that never began. The best well-formed sequence:
    #   O O          0.6 * 0.3  = 0.18
    #   B-PER I-PER  0.3 * 0.7  = 0.21  <- best
    #   O B-PER      0.6 * 0.0
    p = np.array([[0.6, 0.3, 0.1, 0.0, 0.0],
                  [0.3, 0.0, 0.7, 0.0, 0.0]]) + 1e-9
    assert decode_word_labels([p], IOB2, "argmax") == [["O", "I-PER"]]
    assert decode_word_labels([p], IOB2, "bio") == [["B-PER", "I-PER"]]


def test_hand_worked_type_change_inside_an_entity():
    # argmax: B-ORG I-PER I-PER (seqeval reads two entities). Well-formed candidates:
    #   B-ORG I-ORG I-ORG  0.5 * 0.4 * 0.4 = 0.080
    #   B-PER I-PER I-PER  0.3 * 0.6 * 0.6 = 0.108  <- best
    p = np.array([[0.1, 0.3, 0.1, 0.5, 0.0],
                  [0.0, 0.0, 0.6, 0.0, 0.4],
                  [0.0, 0.0, 0.6, 0.0, 0.4]]) + 1e-9
    assert decode_word_labels([p], IOB2, "argmax") == [["B-ORG", "I-PER", "I-PER"]]
    assert decode_word_labels([p], IOB2) == [["B-PER", "I-PER", "I-PER"]]


def test_well_formed_argmax_is_kept():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), size=6)
    p[:, 2] = p[:, 4] = 0.0  # no I- tags at all: every argmax sequence is well formed
    assert decode_word_labels([p], IOB2, "bio") == decode_word_labels([p], IOB2, "argmax")


def test_no_bio_labels_means_argmax():
    labels = ["NOUN", "VERB", "ADJ"]
    assert bio_constraints(tuple(labels)) is None
    p = np.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    assert decode_word_labels([p], labels, "bio") == [["VERB", "NOUN"]]


def test_bioes_rules():
    allowed, start, end = bio_constraints(tuple(BIOES))
    ix = {l: i for i, l in enumerate(BIOES)}
    assert not start[ix["I-LOC"]] and not start[ix["E-LOC"]] and start[ix["S-LOC"]] and start[ix["B-LOC"]]
    assert not end[ix["B-LOC"]] and not end[ix["I-LOC"]] and end[ix["E-LOC"]] and end[ix["O"]]
    assert allowed[ix["B-LOC"], ix["E-LOC"]] and not allowed[ix["B-LOC"], ix["O"]]
    assert not allowed[ix["B-LOC"], ix["E-PER"]] and not allowed[ix["E-LOC"], ix["I-LOC"]]
    assert allowed[ix["E-LOC"], ix["B-PER"]] and allowed[ix["S-PER"], ix["S-PER"]]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5), scheme=st.sampled_from(["iob2", "bioes"]))
def test_viterbi_matches_exhaustive_search(seed, n, scheme):
    labels = IOB2 if scheme == "iob2" else BIOES[:5]  # O + one BIOES type keeps enumeration small
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(len(labels), 0.5), size=n) + 1e-12
    [tags] = decode_word_labels([p], labels, "bio")
    assert well_formed(tags, scheme == "bioes")
    best, _ = brute_force(p, labels, scheme == "bioes")
    assert path_logp(p, tags, labels) == pytest.approx(best, abs=1e-9)


def test_batched_lengths_match_one_by_one():
    rng = np.random.default_rng(1)
    probas = [rng.dirichlet(np.ones(5), size=n) for n in (3, 0, 7, 3, 1, 7, 3)]
    cons = bio_constraints(tuple(IOB2))
    together = viterbi_paths(probas, *cons)
    alone = [viterbi_paths([p], *cons)[0] for p in probas]
    assert [a.tolist() for a in together] == [a.tolist() for a in alone]
    assert together[1].shape == (0,)


def test_zero_probabilities_stay_decodable():
    # a word whose only non-zero label is I-PER after an O-only word: no well-formed path has
    # positive probability; the decoder still returns a well-formed path
    p = np.array([[1.0, 0, 0, 0, 0], [0, 0, 1.0, 0, 0]])
    [tags] = decode_word_labels([p], IOB2, "bio")
    assert well_formed(tags) and len(tags) == 2


def test_check_decoding():
    assert all(check_decoding(d) == d for d in DECODINGS)
    with pytest.raises(ValueError, match="unknown decoding 'crf'"):
        check_decoding("crf")
