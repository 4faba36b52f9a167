"""The BLI re-ranker (xlt.lexicon.rerank) on hand-worked and synthetic spaces.

Expected values: features of a 2-D toy worked out by hand (cosines of unit vectors at known angles,
``difflib``'s ratio 2M/T counted by hand); on a synthetic pair of languages whose translations are
spelt alike (cognates) while the vectors are noisy, spelling identifies the translation whenever the
first stage has it among its candidates, so a re-ranker that learnt to use it must lift P@1 to
about the first stage's recall at ``top`` (and far above the first stage's own P@1).
"""

from __future__ import annotations

import difflib
import json

import numpy as np
import pytest

from xlt.lexicon.induction import evaluate_bli
from xlt.lexicon.mapping import MappingError, normalize_embeddings, procrustes
from xlt.lexicon.rerank import FEATURES, Reranker, candidate_features, evaluate_reranked, fit_reranker


def _unit(deg):
    a = np.deg2rad(np.asarray(deg, dtype=np.float64))
    return np.stack([np.cos(a), np.sin(a)], 1).astype(np.float32)


def test_features_by_hand():
    # source words at 0 and 90 degrees; targets at 10, 40 and 100 degrees (cosine retrieval)
    x, y = _unit([0, 90]), _unit([10, 40, 100])
    src, tgt = ["haus", "katze"], ["house", "haus", "cat"]
    c = candidate_features(x, y, src, tgt, [0, 1], top=2, method="cosine")
    col = {n: i for i, n in enumerate(FEATURES)}
    # source 0: targets 10 (cos 10) then 40 degrees; source 1: 100 (cos 10) then 40 (cos 50)
    assert c.cand.tolist() == [[0, 1], [2, 1]]
    f = c.features
    assert np.allclose(f[0, :, col["cosine"]], np.cos(np.deg2rad([10, 40])), atol=1e-6)
    assert np.allclose(f[0, :, col["score"]], f[0, :, col["cosine"]])  # cosine retrieval: score = cosine
    assert f[1, :, col["rank"]].tolist() == [0, 1]
    assert np.allclose(f[1, :, col["gap_to_best"]], [0, np.cos(np.deg2rad(50)) - np.cos(np.deg2rad(10))], atol=1e-6)
    # backward: target 40 degrees is nearer to source 0 (40) than to source 1 (50): 0 for source 0,
    # cos 50 - cos 40 for source 1; target 10 degrees' best source is source 0 (gap 0)
    assert np.allclose(f[0, :, col["backward_gap"]], [0, 0], atol=1e-6)
    assert np.isclose(f[1, 1, col["backward_gap"]], np.cos(np.deg2rad(50)) - np.cos(np.deg2rad(40)), atol=1e-6)
    # spelling: "haus"/"house" match h, us: 2 * 3 / 9; "haus"/"haus" identical
    assert np.isclose(f[0, 0, col["orthography"]], 2 * 3 / 9) and f[0, 0, col["identical"]] == 0
    assert f[0, 1, col["orthography"]] == 1 and f[0, 1, col["identical"]] == 1
    assert f[1, 0, col["length_difference"]] == len("cat") - len("katze")
    # a view adds its cosine: the same spaces rotated by 90 degrees keep every cosine
    r = _unit([90, 180])
    c2 = candidate_features(x, y, src, tgt, [0, 1], top=2, method="cosine", views=[(x @ r, y @ r)])
    assert c2.features.shape[-1] == len(FEATURES) + 1
    assert np.allclose(c2.features[..., -1], c2.features[..., col["cosine"]], atol=1e-6)
    with pytest.raises(MappingError, match="view 1"):
        candidate_features(x, y, src, tgt, [0], views=[(x[:1], y)])
    with pytest.raises(MappingError, match="top"):
        candidate_features(x, y, src, tgt, [0], top=0)


def _cognates(n=400, dim=24, noise=0.5, seed=0):
    """Two languages whose translation pairs are spelt alike (one letter changed) and whose
    vectors are a rotation plus heavy noise: the first stage often misses P@1 but has the
    translation among its candidates."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    src = ["".join(rng.choice(letters, 7)) for _ in range(n)]
    tgt = [w[:-1] + ("z" if w[-1] != "z" else "y") for w in src]
    x = normalize_embeddings(rng.normal(size=(n, dim)))
    r, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    y = normalize_embeddings(x @ r + noise * rng.normal(size=(n, dim)))
    return x, y, src, tgt


def test_reranker_learns_spelling_and_lifts_p1_to_the_first_stage_recall():
    x, y, src, tgt = _cognates()
    seed = np.stack([np.arange(300), np.arange(300)], 1)  # words 300-399 are the test
    test = [(src[i], tgt[i]) for i in range(300, 400)]
    xw = x @ procrustes(x, y, seed)
    base = evaluate_bli(xw, y, test, src, tgt, method="csls", k=5)
    rr = fit_reranker(x, y, seed, src, tgt, fit_map=procrustes, top=10, k=5, n_estimators=100)
    assert rr.stats["importance"]["orthography"] == max(rr.stats["importance"].values())
    got = evaluate_reranked(xw, y, test, src, tgt, rr, top=10, k=5)
    recall = float((np.asarray(base.per_query) <= 10).mean() * 100)
    assert base.p_at_1 < recall - 15  # the toy is hard enough for the first stage
    assert got.p_at_1 >= recall - 3 and got.p_at_10 == pytest.approx(recall)
    # queries whose translation lies below the candidates keep their first-stage rank
    assert [r for r, b in zip(got.per_query, base.per_query) if b > 10] == [b for b in base.per_query if b > 10]
    assert got.method == "csls+rerank" and got.n_queries == 100


def test_a_query_outside_the_candidates_keeps_its_rank_and_a_reranker_reorders():
    class Reverse(Reranker):  # a scorer that prefers the first stage's last candidate
        def score(self, cands):
            return np.broadcast_to(np.arange(cands.cand.shape[1], dtype=np.float32), cands.cand.shape).copy()

    x, y = _unit([0, 90]), _unit([10, 40, 100, 170])
    src, tgt = ["a", "b"], ["p", "q", "r", "s"]
    # source 0 by cosine: 10 (p), 40 (q), 100 (r), 170 (s); its gold "q" is 2nd, re-ranked top-2 puts it 1st
    # source 1: 100 (r, cos 10), 40 (q, cos 50), then 10 (p) and 170 (s) tie at cos 80: its gold "p" is
    # outside the top 2 and keeps its first-stage rank, 3 (ties in the query's favour)
    got = evaluate_reranked(x, y, [("a", "q"), ("b", "p")], src, tgt, Reverse(model=None, n_features=9), top=2,
                            method="cosine")
    assert got.per_query == [1, 3] and got.p_at_1 == 50.0 and got.map == pytest.approx(100 * (1 + 1 / 3) / 2)


def test_fit_reranker_refuses_too_few_seed_words_and_a_first_stage_that_finds_nothing():
    x, y, src, tgt = _cognates(n=40)
    with pytest.raises(MappingError, match="at least 5 seed source words"):
        fit_reranker(x, y, [(0, 0), (1, 1)], src, tgt, fit_map=procrustes)
    # six source words near 0 degrees, targets at 0 and near 180 degrees: every word's single candidate
    # is target 0, and the seed pairs name the far ones
    xs, ys = _unit([0, 1, 2, 3, 4, 5]), _unit([0, 180, 181, 182, 183, 184])
    far = [(i, 1 + i % 5) for i in range(6)]
    with pytest.raises(MappingError, match="no seed word has its translation"):
        fit_reranker(xs, ys, far, list("abcdef"), list("pqrstu"), fit_map=None, top=1, k=1)


def test_bli_eval_and_induce_with_rerank_on_vec_files(tmp_path, capsys, no_model):
    from xlt.cli import main

    x, y, src, tgt = _cognates(n=200, dim=8, noise=0.35, seed=3)
    for name, words, vecs in (("en", src, x), ("de", tgt, y)):
        rows = [f"{w} " + " ".join(f"{v:.5f}" for v in vec) for w, vec in zip(words, vecs)]
        (tmp_path / f"{name}.vec").write_text(f"{len(words)} 8\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "train.tsv").write_text("".join(f"{src[i]}\t{tgt[i]}\n" for i in range(150)), encoding="utf-8")
    (tmp_path / "test.tsv").write_text("".join(f"{src[i]}\t{tgt[i]}\n" for i in range(150, 200)), encoding="utf-8")
    common = ["--src", "en", "--tgt", "de", "--vectors", f"en={tmp_path / 'en.vec'}", "--vectors",
              f"de={tmp_path / 'de.vec'}", "--train", str(tmp_path / "train.tsv"), "--k", "3"]
    out = tmp_path / "out"
    assert main(["bli", "eval", *common, "--test", str(tmp_path / "test.tsv"), "--rerank", "8", "--out", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["bli"]["csls+rerank"]["p_at_1"] > rep["bli"]["csls"]["p_at_1"]
    assert rep["rerank"]["views"] == 0 and rep["rerank"]["folds"] == 5
    assert rep["scores"]["de"] == rep["bli"]["csls+rerank"]["p_at_1"]
    assert "csls+rerank" in capsys.readouterr().out
    # induce: probabilities in [0, 1], thresholded; one line per word with --top 1
    dic = tmp_path / "d.tsv"
    assert main(["bli", "induce", *common, "--rerank", "8", "--words", str(tmp_path / "words.txt"), "--out",
                 str(dic)]) == 2  # the words file does not exist yet
    (tmp_path / "words.txt").write_text("\n".join(src[150:]) + "\n", encoding="utf-8")
    assert main(["bli", "induce", *common, "--rerank", "8", "--words", str(tmp_path / "words.txt"),
                 "--min-score", "0.5", "--out", str(dic)]) == 0
    lines = [ln.split("\t") for ln in dic.read_text(encoding="utf-8").splitlines()]
    assert lines and all(0.5 <= float(p) <= 1 for _, _, p in lines)
    right = sum(tgt[src.index(a)] == b for a, b, _ in lines)
    assert right / len(lines) > 0.8  # the confident ones are mostly right
    # bad combinations, refused before anything is read
    capsys.readouterr()
    assert main(["bli", "induce", *common, "--rerank", "8", "--mutual", "--out", str(tmp_path / "m.tsv")]) == 2
    assert "--mutual and --rerank" in capsys.readouterr().err
    assert main(["bli", "induce", *common, "--rerank", "8", "--min-score", "1.5", "--out", str(tmp_path / "m.tsv")]) == 2
    assert "re-ranker's probabilities lie between 0 and 1" in capsys.readouterr().err
    assert main(["bli", "eval", *common, "--rerank", "8", "--fitted", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "not --fitted" in capsys.readouterr().err


def test_default_views_spread_over_the_upper_two_thirds():
    from xlt.jobs.bli import view_layers

    # round(n * k / 6), k = 2..5: 12 layers -> 4, 6, 8, 10; 8 -> 2.67, 4, 5.33, 6.67; 2 -> 0.67, 1, 1.33, 1.67
    assert view_layers(12) == [4, 6, 8, 10] and view_layers(8) == [3, 4, 5, 7] and view_layers(2) == [1, 2]
