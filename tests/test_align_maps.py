"""Cross-lingual maps (``xlt.align.maps``): each method recovers a map planted in synthetic data,
files round-trip, and misuse is refused rather than turned into an identity map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xlt.align.maps import METHODS, AffineMap, AlignerError, CrossLingualAligner, parse_method, procrustes

DIM = 16
MODEL = {"spec": "tiny", "fingerprint": "abc123", "hidden_size": DIM}


def _orthogonal(rng, d=DIM):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q


def test_procrustes_recovers_a_planted_rotation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, DIM))
    Q = _orthogonal(rng)
    W = procrustes(X, X @ Q)
    np.testing.assert_allclose(W, Q, atol=1e-8)
    m = AffineMap("procrustes").fit(X, X @ Q + 0.01 * rng.normal(size=X.shape))
    np.testing.assert_allclose(m.transform(X), X @ Q, atol=0.05)
    assert m.fit_error["mse_after"] < 0.01 * m.fit_error["mse_before"]
    np.testing.assert_allclose(m.transform_source(X), X.astype(np.float32))  # source left as it is


def test_procrustes_stays_orthogonal_when_the_true_map_is_not():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, DIM))
    A = rng.normal(size=(DIM, DIM))
    W = AffineMap("procrustes").fit(X, X @ A).W
    np.testing.assert_allclose(W @ W.T, np.eye(DIM), atol=1e-8)


def test_linear_recovers_an_affine_map():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, DIM))
    A, c = rng.normal(size=(DIM, DIM)), rng.normal(size=DIM)
    m = AffineMap("linear").fit(X, X @ A + c)
    np.testing.assert_allclose(m.transform(X), X @ A + c, atol=0.05)
    assert AffineMap("procrustes").fit(X, X @ A + c).fit_error["mse_after"] > 10 * m.fit_error["mse_after"]


def test_center_moves_the_target_mean_onto_the_source_mean():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, DIM)) + 5.0
    Y = rng.normal(size=(100, DIM)) - 2.0
    m = AffineMap("center").fit(X, Y)
    np.testing.assert_allclose(m.transform(X).mean(0), Y.mean(0), atol=1e-5)
    # given language means (token means of the text) take precedence over the pairs' means
    mx, my = np.full(DIM, 1.0), np.full(DIM, -1.0)
    m2 = AffineMap("center").fit(X, Y, x_mean=mx, y_mean=my)
    np.testing.assert_allclose(m2.transform(mx[None]), my[None], atol=1e-6)


def test_center_procrustes_recovers_rotation_between_shifted_spaces():
    rng = np.random.default_rng(4)
    Q = _orthogonal(rng)
    Z = rng.normal(size=(300, DIM))
    X, Y = Z + 3.0, Z @ Q - 1.0
    m = AffineMap("center+procrustes").fit(X, Y)
    np.testing.assert_allclose(m.transform(X), Y, atol=1e-4)
    # plain Procrustes cannot absorb the shifts
    assert AffineMap("procrustes").fit(X, Y).fit_error["mse_after"] > 1.0


@pytest.mark.parametrize("method", ["center+norm", "center+norm+procrustes"])
def test_norm_methods_put_both_languages_on_one_sphere(method):
    rng = np.random.default_rng(5)
    X = 3 * rng.normal(size=(200, DIM)) + 4.0
    Y = rng.normal(size=(200, DIM))
    m = AffineMap(method).fit(X, Y)
    r = np.linalg.norm(Y - Y.mean(0), axis=1).mean()
    assert m.scale == pytest.approx(r)
    np.testing.assert_allclose(np.linalg.norm(m.transform(X), axis=1), r, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(m.transform_source(Y), axis=1), r, rtol=1e-4)


def test_source_transform_is_shared_by_every_language():
    rng = np.random.default_rng(6)
    al = CrossLingualAligner("center+norm", "eng", [0], MODEL)
    for lang, shift in (("deu", 1.0), ("fra", 7.0)):
        Y = rng.normal(size=(50, DIM)) * (1 + shift)  # each language's English partners differ
        al.fit_language(lang, {0: (rng.normal(size=(50, DIM)) + shift, Y)})
    a, b = al.maps["deu"][0], al.maps["fra"][0]
    assert a.scale == b.scale
    np.testing.assert_array_equal(a.source_a, b.source_a)


def test_aligner_file_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    al = CrossLingualAligner("center+norm+procrustes", "eng", [0, 2], MODEL, info={"supervision": "parallel"})
    for lang in ("deu", "zho-CN"):
        al.fit_language(lang, {k: (rng.normal(size=(40, DIM)), rng.normal(size=(40, DIM))) for k in (0, 2)},
                        supervision={"n_sentence_pairs": 9})
    path = al.save(tmp_path / "maps")
    assert path.name == "maps.npz"
    back = CrossLingualAligner.load(path)
    assert back.languages == ["deu", "zho-CN"] and back.layers == [0, 2] and back.method == al.method
    assert back.supervision["deu"] == {"n_sentence_pairs": 9, "n_pairs": 40}
    X = rng.normal(size=(5, DIM))
    for lang in ("de", "zh", "en"):
        np.testing.assert_allclose(back.transform(X, lang, 2), al.transform(X, lang, 2), atol=1e-6)


def test_load_refuses_other_files(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(AlignerError, match="not an xlt aligner"):
        CrossLingualAligner.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        CrossLingualAligner.load(tmp_path / "missing.npz")


def _fitted(method="procrustes", layers=(0, 1)):
    rng = np.random.default_rng(8)
    al = CrossLingualAligner(method, "eng", list(layers), MODEL)
    al.fit_language("deu", {k: (rng.normal(size=(30, DIM)), rng.normal(size=(30, DIM))) for k in layers})
    return al


def test_check_refuses_another_model_layer_or_unmapped_language():
    al = _fitted()
    al.check(MODEL, [0, 1], ["de", "en"])  # fine: German is mapped, English is the source
    with pytest.raises(AlignerError, match="fitted on model"):
        al.check(dict(MODEL, fingerprint="zzz", spec="other"), [0, 1])
    with pytest.raises(AlignerError, match=r"not for \[5\]"):
        al.check(MODEL, [0, 1, 5])
    with pytest.raises(AlignerError, match="no map for fr"):
        al.check(MODEL, [0], ["de", "fr"])
    with pytest.raises(AlignerError, match="no map for fr"):
        al.transform(np.zeros((1, DIM)), "fr", 0)


def test_no_pairs_is_an_error_never_an_identity_map():
    al = CrossLingualAligner("procrustes", "eng", [0], MODEL)
    with pytest.raises(AlignerError, match="no supervision pairs"):
        al.fit_language("deu", {0: (np.zeros((0, DIM)), np.zeros((0, DIM)))})
    with pytest.raises(AlignerError, match="layer"):
        al.fit_language("deu", {3: (np.ones((4, DIM)), np.ones((4, DIM)))})
    with pytest.raises(AlignerError, match="source language"):
        al.fit_language("en", {0: (np.ones((4, DIM)), np.ones((4, DIM)))})
    assert al.languages == []
    with pytest.raises(AlignerError, match="not fitted"):
        AffineMap("procrustes").transform(np.zeros((1, DIM)))
    with pytest.raises(AlignerError, match="same shape"):
        AffineMap("center").fit(np.zeros((3, DIM)), np.zeros((4, DIM)))
    with pytest.raises(AlignerError, match="NaN"):
        AffineMap("center").fit(np.full((3, DIM), np.nan), np.zeros((3, DIM)))


def test_transform_features_maps_each_layer_slot_and_keeps_tensor_dtype():
    al = _fitted(layers=(0, 1))
    rng = np.random.default_rng(9)
    X = torch.from_numpy(rng.normal(size=(7, 2, DIM)).astype(np.float16))
    out = al.transform_features(X, "de", [0, 1])
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float16 and out.shape == X.shape
    for i, k in enumerate((0, 1)):
        np.testing.assert_allclose(out[:, i].float().numpy(), al.transform(X[:, i].float().numpy(), "de", k),
                                   atol=1e-2)
    with pytest.raises(AlignerError, match="layer slots"):
        al.transform_features(X, "de", [0])
    with pytest.raises(AlignerError, match="dimension"):
        al.transform(np.zeros((2, DIM + 1)), "de", 0)


def test_method_names():
    assert parse_method("Center + Procrustes") == "center+procrustes"
    assert set(METHODS) == {parse_method(m) for m in METHODS}
    with pytest.raises(AlignerError, match="unknown alignment method"):
        parse_method("magic")
