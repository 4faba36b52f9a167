"""Tests for xlt.core.metrics against hand-worked examples.

Every expected number below was counted by hand (see the comments), not
taken from the implementation's output.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from xlt.core.metrics import (
    METRICS,
    accuracy,
    mean_std,
    score,
    span_f1,
    token_accuracy,
)

# Hand-worked NER example (IOB2), three sentences.
#
# sent 0 gold: B-PER I-PER O B-LOC O      -> PER[0..1], LOC[3]
#        pred: B-PER I-PER O B-ORG O      -> PER[0..1], ORG[3]      (type error on LOC)
# sent 1 gold: B-ORG I-ORG I-ORG O B-MISC -> ORG[0..2], MISC[4]
#        pred: B-ORG I-ORG O     O B-MISC -> ORG[0..1], MISC[4]     (boundary error on ORG)
# sent 2 gold: O B-LOC O                  -> LOC[1]
#        pred: O O     O                  -> (nothing)              (missed entity)
#
# gold entities = 5, predicted entities = 4, exact matches (TP) = PER, MISC = 2
# P = 2/4 = 50 %, R = 2/5 = 40 %, F1 = 2*50*40/(50+40) = 4000/90 = 44.444... %
GOLD = [
    ["B-PER", "I-PER", "O", "B-LOC", "O"],
    ["B-ORG", "I-ORG", "I-ORG", "O", "B-MISC"],
    ["O", "B-LOC", "O"],
]
PRED = [
    ["B-PER", "I-PER", "O", "B-ORG", "O"],
    ["B-ORG", "I-ORG", "O", "O", "B-MISC"],
    ["O", "O", "O"],
]


def test_span_f1_hand_worked_boundary_type_and_missed() -> None:
    r = span_f1(GOLD, PRED)
    assert set(r) == {"precision", "recall", "f1"}
    assert r["precision"] == pytest.approx(50.0)
    assert r["recall"] == pytest.approx(40.0)
    assert r["f1"] == pytest.approx(400.0 / 9.0)  # 44.444...


def test_span_f1_false_positive() -> None:
    # gold: LOC[2]; pred: PER[0] (spurious) + LOC[2] (correct)
    # TP=1, pred=2, gold=1 -> P=50, R=100, F1=2*50*100/150=66.67
    r = span_f1([["O", "O", "B-LOC"]], [["B-PER", "O", "B-LOC"]])
    assert r["precision"] == pytest.approx(50.0)
    assert r["recall"] == pytest.approx(100.0)
    assert r["f1"] == pytest.approx(200.0 / 3.0)


def test_span_f1_perfect_and_type_switch_inside_span() -> None:
    assert span_f1(GOLD, GOLD)["f1"] == pytest.approx(100.0)
    # gold PER[0..1]; pred B-PER I-LOC = PER[0] + LOC[1]: no exact match at all
    r = span_f1([["B-PER", "I-PER"]], [["B-PER", "I-LOC"]])
    assert r == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_span_f1_default_is_conlleval_lenient_strict_is_not() -> None:
    # pred starts the PER span with I-PER (invalid in IOB2).
    # conlleval / seqeval default: I-PER I-PER is still the chunk PER[0..1]
    #   -> TP=2 (PER, LOC), pred=2, gold=2 -> P=R=F1=100
    # strict IOB2: the I-PER chunk is invalid and dropped -> pred={LOC}
    #   -> TP=1, pred=1, gold=2 -> P=100, R=50, F1=66.67
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["I-PER", "I-PER", "O", "B-LOC"]]
    lenient = span_f1(gold, pred)
    assert lenient["f1"] == pytest.approx(100.0)
    assert span_f1(gold, pred, mode="default") == lenient
    strict = span_f1(gold, pred, scheme="IOB2", mode="strict")
    assert strict["precision"] == pytest.approx(100.0)
    assert strict["recall"] == pytest.approx(50.0)
    assert strict["f1"] == pytest.approx(200.0 / 3.0)


def test_span_f1_no_entities_is_zero() -> None:
    assert span_f1([["O", "O"]], [["O", "O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_span_f1_accepts_tuples() -> None:
    gold = tuple(tuple(s) for s in GOLD)
    pred = tuple(tuple(s) for s in PRED)
    assert span_f1(gold, pred)["f1"] == pytest.approx(400.0 / 9.0)


def test_span_f1_errors() -> None:
    with pytest.raises(ValueError, match="sentence 1"):
        span_f1(GOLD, [PRED[0], PRED[1][:-1], PRED[2]])
    with pytest.raises(ValueError, match="sentences"):
        span_f1(GOLD, PRED[:2])
    with pytest.raises(ValueError):
        span_f1([], [])
    with pytest.raises(ValueError, match="scheme"):
        span_f1(GOLD, PRED, scheme="XYZ", mode="strict")
    with pytest.raises(ValueError, match="mode"):
        span_f1(GOLD, PRED, mode="lenient")  # type: ignore[arg-type]


def test_token_accuracy_hand_worked() -> None:
    # 5 tokens, 1 wrong -> 4/5 = 80 %
    assert token_accuracy([["A", "B", "C"], ["D", "E"]], [["A", "X", "C"], ["D", "E"]]) == pytest.approx(80.0)
    # NER example: sent0 4/5 right (LOC->ORG), sent1 4/5 (I-ORG->O), sent2 2/3 (B-LOC->O)
    # -> 10/13 = 76.923 %
    assert token_accuracy(GOLD, PRED) == pytest.approx(1000.0 / 13.0)


def test_token_accuracy_length_mismatch_names_sentence() -> None:
    with pytest.raises(ValueError, match="sentence 2"):
        token_accuracy([["A"], ["B"], ["C", "D"]], [["A"], ["B"], ["C"]])
    with pytest.raises(ValueError, match="3 sentences"):
        token_accuracy([["A"], ["B"], ["C"]], [["A"], ["B"]])
    with pytest.raises(ValueError):
        token_accuracy([[]], [[]])  # no tokens at all
    with pytest.raises(TypeError):
        token_accuracy(["AB"], ["AB"])  # sentence given as a str


def test_accuracy_hand_worked() -> None:
    # 3 of 4 equal -> 75 %
    assert accuracy(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == pytest.approx(75.0)
    assert accuracy([0, 1, 2], [0, 1, 2]) == pytest.approx(100.0)
    assert accuracy(["a"], ["b"]) == 0.0
    with pytest.raises(ValueError):
        accuracy(["a", "b"], ["a"])
    with pytest.raises(ValueError):
        accuracy([], [])


def test_mean_std_hand_worked() -> None:
    # [1,2,3,4]: mean 2.5; squared deviations 2.25+0.25+0.25+2.25 = 5; ddof=1 -> 5/3
    m, s = mean_std([1, 2, 3, 4])
    assert m == pytest.approx(2.5)
    assert s == pytest.approx(math.sqrt(5.0 / 3.0))
    # [70, 74]: mean 72; deviations 4+4 = 8; /1 -> sqrt(8)
    assert mean_std([70.0, 74.0]) == pytest.approx((72.0, math.sqrt(8.0)))
    assert mean_std([42.0]) == (42.0, 0.0)
    assert mean_std(x for x in (5.0, 5.0, 5.0)) == (5.0, 0.0)
    with pytest.raises(ValueError):
        mean_std([])
    with pytest.raises(ValueError):
        mean_std([1.0, float("nan")])


def test_score_dispatch() -> None:
    assert set(METRICS) >= {"accuracy", "f1"}
    assert score("f1", GOLD, PRED) == pytest.approx(400.0 / 9.0)
    assert score("accuracy", ["a", "b", "c", "d"], ["a", "b", "x", "d"]) == pytest.approx(75.0)
    # nested labels -> token accuracy (10/13, see above)
    assert score("accuracy", GOLD, PRED) == pytest.approx(1000.0 / 13.0)
    assert isinstance(score("accuracy", [1, 2], [1, 3]), float)
    with pytest.raises(ValueError, match="unknown metric"):
        score("bleu", ["a"], ["a"])


def test_import_does_not_pull_torch_or_matplotlib() -> None:
    code = (
        "import sys, xlt.evaluate, xlt.core.metrics, xlt.evaluate.report, "
        "xlt.evaluate.manifest; "
        "print(','.join(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
