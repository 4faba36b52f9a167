"""Tests for xlt.retrieval.scoring.

The 3x3 expected numbers are worked out by hand from the paper formulas
(comments show the arithmetic); they are not taken from the implementation.
"""

from __future__ import annotations

import numpy as np
import pytest

from xlt.retrieval.scoring import (
    METHODS,
    cosine_scores,
    csls_scores,
    knn_mean_similarity,
    margin_scores,
    retrieval_accuracy,
    score_matrix,
    xsim_error_rate,
)

# --------------------------------------------------------------------------- hand-worked 3x3
#
# Sources (not unit length on purpose):      unit vectors
#   x0 = (2, 0)                              (1, 0)
#   x1 = (0, 1)                              (0, 1)
#   x2 = (3, 4)                              (0.6, 0.8)
# Targets:
#   y0 = (1, 0)                              (1, 0)
#   y1 = (0.8, 0.6)                          (0.8, 0.6)
#   y2 = (0, 5)                              (0, 1)
X3 = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
Y3 = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 5.0]])

# cos(xi, yj) = dot of the unit vectors:
#   x0: 1*1 = 1      1*0.8 = 0.8             0
#   x1: 0            0.6                     1
#   x2: 0.6          0.6*0.8+0.8*0.6 = 0.96  0.8
COS = [
    [1.0, 0.8, 0.0],
    [0.0, 0.6, 1.0],
    [0.6, 0.96, 0.8],
]
K = 2
# r_y(xi): mean of the 2 largest cosines in row i
#   x0: (1 + 0.8)/2 = 0.9;  x1: (1 + 0.6)/2 = 0.8;  x2: (0.96 + 0.8)/2 = 0.88
R_X = [0.9, 0.8, 0.88]
# r_x(yj): mean of the 2 largest cosines in column j
#   y0: col (1, 0, 0.6) -> (1 + 0.6)/2 = 0.8
#   y1: col (0.8, 0.6, 0.96) -> (0.96 + 0.8)/2 = 0.88
#   y2: col (0, 1, 0.8) -> (1 + 0.8)/2 = 0.9
R_Y = [0.8, 0.88, 0.9]

# CSLS = 2 cos - r_y(x) - r_x(y)
CSLS = [
    [2 * 1.0 - 0.9 - 0.8, 2 * 0.8 - 0.9 - 0.88, 2 * 0.0 - 0.9 - 0.9],  # 0.3, -0.18, -1.8
    [2 * 0.0 - 0.8 - 0.8, 2 * 0.6 - 0.8 - 0.88, 2 * 1.0 - 0.8 - 0.9],  # -1.6, -0.48, 0.3
    [2 * 0.6 - 0.88 - 0.8, 2 * 0.96 - 0.88 - 0.88, 2 * 0.8 - 0.88 - 0.9],  # -0.48, 0.16, -0.18
]
# Margin denominator D = (r_y(x) + r_x(y)) / 2
D = [
    [(0.9 + 0.8) / 2, (0.9 + 0.88) / 2, (0.9 + 0.9) / 2],  # 0.85, 0.89, 0.9
    [(0.8 + 0.8) / 2, (0.8 + 0.88) / 2, (0.8 + 0.9) / 2],  # 0.8, 0.84, 0.85
    [(0.88 + 0.8) / 2, (0.88 + 0.88) / 2, (0.88 + 0.9) / 2],  # 0.84, 0.88, 0.89
]
MARGIN_RATIO = [
    [1.0 / 0.85, 0.8 / 0.89, 0.0 / 0.9],
    [0.0 / 0.8, 0.6 / 0.84, 1.0 / 0.85],
    [0.6 / 0.84, 0.96 / 0.88, 0.8 / 0.89],
]
MARGIN_DISTANCE = [
    [1.0 - 0.85, 0.8 - 0.89, 0.0 - 0.9],  # 0.15, -0.09, -0.9
    [0.0 - 0.8, 0.6 - 0.84, 1.0 - 0.85],  # -0.8, -0.24, 0.15
    [0.6 - 0.84, 0.96 - 0.88, 0.8 - 0.89],  # -0.24, 0.08, -0.09
]

TOL = dict(rtol=0, atol=1e-6)


def test_hand_cosine():
    s = cosine_scores(X3, Y3)
    assert s.dtype == np.float32 and s.shape == (3, 3)
    np.testing.assert_allclose(s, COS, **TOL)


def test_hand_knn_means():
    np.testing.assert_allclose(knn_mean_similarity(X3, Y3, K), R_X, **TOL)
    np.testing.assert_allclose(knn_mean_similarity(Y3, X3, K), R_Y, **TOL)


def test_hand_knn_k1_is_row_max():
    # k = 1: the best cosine per row: x0 -> 1, x1 -> 1, x2 -> 0.96
    np.testing.assert_allclose(knn_mean_similarity(X3, Y3, 1), [1.0, 1.0, 0.96], **TOL)


def test_hand_csls():
    s = csls_scores(X3, Y3, k=K)
    assert s.dtype == np.float32 and s.shape == (3, 3)
    np.testing.assert_allclose(s, CSLS, **TOL)
    np.testing.assert_allclose(score_matrix(X3, Y3, "csls", k=K), CSLS, **TOL)


def test_hand_margins():
    np.testing.assert_allclose(margin_scores(X3, Y3, k=K, kind="ratio"), MARGIN_RATIO, **TOL)
    np.testing.assert_allclose(margin_scores(X3, Y3, k=K, kind="distance"), MARGIN_DISTANCE, **TOL)
    np.testing.assert_allclose(score_matrix(X3, Y3, "margin-ratio", k=K), MARGIN_RATIO, **TOL)
    np.testing.assert_allclose(score_matrix(X3, Y3, "margin-distance", k=K), MARGIN_DISTANCE, **TOL)


def test_hand_retrieval_on_scores():
    # argmax per row of COS: row0 -> 0 (ok), row1 -> 2 (wrong), row2 -> 1 (wrong)
    assert retrieval_accuracy(np.array(COS)) == pytest.approx(1 / 3)
    # CSLS rows: argmax 0 (0.3), 2 (0.3), 1 (0.16) -> same picks
    assert retrieval_accuracy(np.array(CSLS)) == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- k handling


def test_k_clipped_to_set_size():
    # k = 100 > 3 -> all 3 neighbours: row means of COS
    #   x0: (1 + 0.8 + 0)/3 = 0.6;  x1: (0 + 0.6 + 1)/3 = 1.6/3;  x2: (0.6 + 0.96 + 0.8)/3 = 2.36/3
    np.testing.assert_allclose(knn_mean_similarity(X3, Y3, 100), [0.6, 1.6 / 3, 2.36 / 3], **TOL)
    np.testing.assert_allclose(csls_scores(X3, Y3, k=100), csls_scores(X3, Y3, k=3), **TOL)
    for kind in ("ratio", "distance"):
        np.testing.assert_allclose(
            margin_scores(X3, Y3, k=100, kind=kind), margin_scores(X3, Y3, k=3, kind=kind), **TOL
        )


def test_k_clipped_separately_per_side():
    # n = 2 sources, m = 3 targets, k = 3: r_y(x) uses 3 targets, r_x(y) only 2 sources.
    x, y = X3[:2], Y3
    # r_y(x): x0 (1+0.8+0)/3 = 0.6, x1 (0+0.6+1)/3 = 1.6/3
    # r_x(y) over x0, x1 only: y0 (1+0)/2 = 0.5, y1 (0.8+0.6)/2 = 0.7, y2 (0+1)/2 = 0.5
    rx, ry = [0.6, 1.6 / 3], [0.5, 0.7, 0.5]
    expected = [[2 * COS[i][j] - rx[i] - ry[j] for j in range(3)] for i in range(2)]
    np.testing.assert_allclose(csls_scores(x, y, k=3), expected, **TOL)


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_raises(k):
    with pytest.raises(ValueError, match="k must be >= 1"):
        knn_mean_similarity(X3, Y3, k)
    with pytest.raises(ValueError, match="k must be >= 1"):
        csls_scores(X3, Y3, k=k)
    with pytest.raises(ValueError, match="k must be >= 1"):
        margin_scores(X3, Y3, k=k)
    with pytest.raises(ValueError, match="k must be >= 1"):
        score_matrix(X3, Y3, "csls", k=k)


def test_non_integer_k_raises():
    with pytest.raises(ValueError):
        knn_mean_similarity(X3, Y3, 2.5)


# --------------------------------------------------------------------------- input errors


def test_zero_vector_raises():
    bad = X3.copy()
    bad[1] = 0.0
    with pytest.raises(ValueError, match="zero vector"):
        cosine_scores(bad, Y3)
    with pytest.raises(ValueError, match="zero vector"):
        csls_scores(X3, np.vstack([Y3, np.zeros(2)]))
    for method in METHODS:
        with pytest.raises(ValueError, match="zero vector"):
            score_matrix(bad, Y3, method)


@pytest.mark.parametrize(
    "x, y",
    [
        (np.ones(3), np.ones((2, 3))),  # 1-D
        (np.ones((0, 3)), np.ones((2, 3))),  # empty
        (np.ones((2, 3)), np.ones((2, 4))),  # dim mismatch
        (np.array([[1.0, np.nan]]), np.ones((1, 2))),  # NaN
    ],
)
def test_bad_shapes_raise(x, y):
    with pytest.raises(ValueError):
        cosine_scores(x, y)


def test_bad_method_kind_block_size():
    with pytest.raises(ValueError, match="unknown method"):
        score_matrix(X3, Y3, "dot")
    with pytest.raises(ValueError, match="k is not used"):
        score_matrix(X3, Y3, "cosine", k=3)
    with pytest.raises(ValueError, match="kind"):
        margin_scores(X3, Y3, kind="sum")
    with pytest.raises(ValueError, match="block_size"):
        cosine_scores(X3, Y3, block_size=0)


def test_ratio_margin_nonpositive_denominator_raises():
    # x = (1, 0), y = (-1, 0): the only cosine is -1, so D = (-1 + -1)/2 = -1 <= 0
    x, y = np.array([[1.0, 0.0]]), np.array([[-1.0, 0.0]])
    with pytest.raises(ValueError, match="positive denominators"):
        margin_scores(x, y, k=1, kind="ratio")
    # distance is fine: cos - D = -1 - (-1) = 0
    np.testing.assert_allclose(margin_scores(x, y, k=1, kind="distance"), [[0.0]], **TOL)


def test_score_matrix_defaults():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 8)), rng.normal(size=(40, 8))
    np.testing.assert_array_equal(score_matrix(x, y), cosine_scores(x, y))
    np.testing.assert_array_equal(score_matrix(x, y, "csls"), csls_scores(x, y, k=10))
    np.testing.assert_array_equal(score_matrix(x, y, "margin-distance"), margin_scores(x, y, 4, "distance"))
    x, y = np.abs(x), np.abs(y)  # positive cosines for the ratio
    np.testing.assert_array_equal(score_matrix(x, y, "margin-ratio"), margin_scores(x, y, 4, "ratio"))


# --------------------------------------------------------------------------- blockwise == direct


def _direct(x, y, k):
    """Full-matrix float64 reference, written independently of the module."""
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    cos = xn @ yn.T
    r_x = np.sort(cos, axis=1)[:, -k:].mean(axis=1)  # (n,)
    r_y = np.sort(cos, axis=0)[-k:, :].mean(axis=0)  # (m,)
    csls = 2 * cos - r_x[:, None] - r_y[None, :]
    denom = (r_x[:, None] + r_y[None, :]) / 2
    return cos, r_x, r_y, csls, cos / denom, cos - denom


def test_blockwise_equals_direct():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2500, 16))
    y = rng.normal(size=(3000, 16))
    k = 4
    cos, r_x, r_y, csls, ratio, dist = _direct(x, y, k)
    bs = 300  # does not divide 2500 or 3000: last block is partial
    atol = dict(rtol=0, atol=2e-5)
    np.testing.assert_allclose(cosine_scores(x, y, block_size=bs), cos, **atol)
    np.testing.assert_allclose(knn_mean_similarity(x, y, k, block_size=bs), r_x, **atol)
    np.testing.assert_allclose(knn_mean_similarity(y, x, k, block_size=bs), r_y, **atol)
    np.testing.assert_allclose(csls_scores(x, y, k, block_size=bs), csls, **atol)
    np.testing.assert_allclose(margin_scores(x, y, k, "ratio", block_size=bs), ratio, **atol)
    np.testing.assert_allclose(margin_scores(x, y, k, "distance", block_size=bs), dist, **atol)
    # block size does not change the result beyond float rounding
    np.testing.assert_allclose(
        csls_scores(x, y, k, block_size=bs), csls_scores(x, y, k, block_size=4096), **atol
    )


# --------------------------------------------------------------------------- hubness


def _hub_example():
    """4 pairs; target 3 is a hub that is every source's cosine nearest neighbour.

    dim 0 is a shared direction, dims 1..4 are per-pair, dims 5..7 private target noise.
      x_i = e0 + e_{1+i}                      (i = 0..3)
      y_i = e_{1+i} + e_{5+i}                 (i = 0..2, gold targets)
      y_3 = e0 + 0.3 e_4                      (the hub, gold for x_3)
    cos(x_i, y_i) = 1 / (sqrt2 * sqrt2) = 0.5            for i < 3
    cos(x_i, y_3) = 1 / (sqrt2 * sqrt(1.09)) ~= 0.677    for i < 3  -> hub wins
    cos(x_3, y_3) = 1.3 / (sqrt2 * sqrt(1.09)) ~= 0.880
    So cosine accuracy is 1/4. The hub's neighbourhood in x is dense
    (r_x(y_3) ~= 0.78 with k = 2) while the gold targets' is not
    (r_x(y_i) = (0.5 + 0) / 2 = 0.25), which CSLS and margin subtract / divide out.
    """
    x = np.zeros((4, 8))
    y = np.zeros((4, 8))
    for i in range(4):
        x[i, 0] = 1.0
        x[i, 1 + i] = 1.0
    for i in range(3):
        y[i, 1 + i] = 1.0
        y[i, 5 + i] = 1.0
    y[3, 0] = 1.0
    y[3, 4] = 0.3
    return x, y


def test_hubness_fixed_by_csls_and_margin():
    x, y = _hub_example()
    cos = cosine_scores(x, y)
    # the hub (column 3) is the cosine argmax of every source
    assert list(np.argmax(cos, axis=1)) == [3, 3, 3, 3]
    acc_cos = retrieval_accuracy(cos)
    assert acc_cos == pytest.approx(0.25)
    for method in ("csls", "margin-ratio", "margin-distance"):
        acc = retrieval_accuracy(score_matrix(x, y, method, k=2))
        assert acc_cos < acc, method
        assert acc == pytest.approx(1.0), method
        assert xsim_error_rate(score_matrix(x, y, method, k=2)) == pytest.approx(0.0)
    assert xsim_error_rate(cos) == pytest.approx(0.75)


# --------------------------------------------------------------------------- accuracy / xsim


def test_accuracy_and_xsim_hand_matrix():
    s = np.array(
        [
            [0.9, 0.1, 0.2, 0.0],  # argmax 0 == 0  correct
            [0.8, 0.7, 0.1, 0.0],  # argmax 0 != 1  wrong
            [0.1, 0.2, 0.3, 0.0],  # argmax 2 == 2  correct
            [0.1, 0.2, 0.3, 0.9],  # argmax 3 == 3  correct
            [0.5, 0.1, 0.1, 0.6],  # argmax 3 != 4  wrong (gold column 4, extra distractor col 5 below)
        ]
    )
    s = np.hstack([s, np.array([[0.0], [0.0], [0.0], [0.0], [0.1]]), np.full((5, 1), -1.0)])
    # column 4 for row 4 is 0.1 < 0.6 -> wrong; 3 correct out of 5
    assert retrieval_accuracy(s) == pytest.approx(3 / 5)
    assert xsim_error_rate(s) == pytest.approx(2 / 5)
    assert retrieval_accuracy(s) + xsim_error_rate(s) == pytest.approx(1.0)


def test_accuracy_ties_go_to_lowest_index():
    # row 1 ties between columns 0 and 1 -> argmax picks 0 -> wrong
    s = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert retrieval_accuracy(s) == pytest.approx(0.5)
    assert xsim_error_rate(s) == pytest.approx(0.5)


def test_accuracy_bounds_and_errors():
    assert retrieval_accuracy(np.eye(3)) == 1.0
    assert xsim_error_rate(np.eye(3)) == 0.0
    assert retrieval_accuracy(np.eye(3)[::-1] + 0.0) == pytest.approx(1 / 3)  # anti-diagonal: only middle row
    with pytest.raises(ValueError, match="more rows than columns"):
        retrieval_accuracy(np.ones((3, 2)))
    with pytest.raises(ValueError):
        xsim_error_rate(np.ones(3))
    with pytest.raises(ValueError):
        retrieval_accuracy(np.ones((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        retrieval_accuracy(np.array([[np.nan, 1.0]]))
