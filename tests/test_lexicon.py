"""Cross-lingual word maps and BLI evaluation (xlt.lexicon), on toy spaces with known answers.

Expected values: a random orthogonal rotation R applied to a space must be recovered by
Procrustes from a few pairs and, without any pair, by VecMap's unsupervised initialisation (the
sorted similarity distributions of x and xR are the same); P@k and MAP are worked out by hand on
a 3-word example.
"""

from __future__ import annotations

import numpy as np
import pytest

from xlt.lexicon.induction import evaluate_bli, rank_translations, bli_queries
from xlt.lexicon.mapping import (MappingError, identical_seed, induce_pairs, normalize_embeddings, procrustes, refine,
                                 self_learning, similarity_scores, unsupervised_seed)


def _toy(n=300, dim=16, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    # a space with some structure (clusters), as real word spaces, so similarity distributions differ
    centers = rng.normal(size=(12, dim))
    x = centers[rng.integers(0, 12, n)] + 0.6 * rng.normal(size=(n, dim))
    r, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    y = x @ r + noise * rng.normal(size=(n, dim))
    perm = rng.permutation(n)  # the target vocabulary in another order
    return normalize_embeddings(x), normalize_embeddings(y[perm]), r, perm


def test_procrustes_recovers_a_rotation_from_few_pairs():
    x, y, r, perm = _toy()
    inv = np.argsort(perm)  # source row i is target row inv[i]
    pairs = np.stack([np.arange(40), inv[:40]], 1)
    w = procrustes(x, y, pairs)
    assert np.allclose(w @ w.T, np.eye(len(w)), atol=1e-5)
    # normalisation (centring) is the same linear operation on both sides, so the map is R itself
    assert np.abs(w - r).max() < 1e-4
    found = induce_pairs(x @ w, y, "cosine", direction="forward")
    assert (found[:, 1] == inv).all()


def test_unsupervised_seed_and_self_learning_recover_the_rotation_without_pairs():
    x, y, r, perm = _toy(noise=0.01)
    inv = np.argsort(perm)
    seed = unsupervised_seed(x, y, vocab_cutoff=300)
    correct = np.mean([inv[i] == j for i, j in seed])
    assert correct > 0.9, correct  # sorted similarity rows are rotation-invariant
    res = self_learning(x, y, seed, max_rank=300, patience=3, rng=0)
    assert np.abs(res.W - r).max() < 0.05
    assert (induce_pairs(x @ res.W, y, "csls", direction="forward")[:, 1] == inv).mean() == 1.0


def test_refine_keeps_a_good_map_and_identical_seed():
    x, y, r, perm = _toy(noise=0.01)
    inv = np.argsort(perm)
    res = refine(x, y, np.stack([np.arange(20), inv[:20]], 1), iterations=3, max_rank=None)
    assert np.abs(res.W - r).max() < 0.05 and len(res.history) == 4
    assert identical_seed(["a", "b", "7"], ["7", "x", "a"]).tolist() == [[0, 2], [2, 0]]


def test_contrastive_map_learns_a_stretch_that_procrustes_cannot():
    """Targets are a *stretched* rotation of the sources (y = x diag(1..10) R, not orthogonal): the
    best orthogonal map (Procrustes) leaves held-out words among near neighbours (64% P@1 here),
    while a general linear map can be exact, so contrastive tuning from Procrustes (Li et al. 2022,
    C1) must bring held-out P@1 close to 100%; the same seed gives the same map."""
    from xlt.lexicon.contrastive import contrastive_map
    from xlt.lexicon.mapping import map_source

    rng = np.random.default_rng(0)
    n, dim = 1000, 8
    x = rng.normal(size=(n, dim))
    r, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    x, y = normalize_embeddings(x), normalize_embeddings(x @ (np.diag(np.geomspace(1, 10, dim)) @ r))
    pairs, held = np.stack([np.arange(300), np.arange(300)], 1), np.arange(300, n)

    def p_at_1(w):
        return (induce_pairs(map_source(x, w), y, "cosine", direction="forward")[held, 1] == held).mean()

    before = p_at_1(procrustes(x, y, pairs))
    c = contrastive_map(x, y, pairs, temperature=0.05, epochs=30, lr=1e-2, batch_size=64, source_negatives=64)
    after = p_at_1(c.W)
    assert before < 0.75 and after > 0.95, (before, after)
    assert len(c.history) == 30 and c.history[-1]["loss"] < c.history[0]["loss"]
    again = contrastive_map(x, y, pairs, temperature=0.05, epochs=30, lr=1e-2, batch_size=64, source_negatives=64)
    assert np.array_equal(again.W, c.W)
    m = map_source(np.vstack([x[:3], np.zeros((1, dim))]), c.W)  # unit rows; a zero row stays zero
    assert np.allclose(np.linalg.norm(m[:3], axis=1), 1, atol=1e-6) and not m[3].any()
    for bad in ({"temperature": 0}, {"epochs": 0}, {"W0": np.eye(3)}):
        with pytest.raises(MappingError):
            contrastive_map(x, y, pairs, **bad)


def test_csls_by_hand():
    # target 0 is source 0 itself and also source 1's nearest (cos 0.9 vs 0.8275): with k = 1
    # CSLS charges it r = 1.0, target 1 only 0.8275, so source 1 goes to target 1
    # (2 * 0.9 - 1.0 = 0.8 < 2 * 0.8275 - 0.8275 = 0.8275, both less r_src)
    xw = np.array([[1.0, 0.0], [0.9, np.sqrt(1 - 0.81)]], dtype=np.float32)
    y = np.array([[1.0, 0.0], [0.5, np.sqrt(0.75)]], dtype=np.float32)
    cos = xw @ y.T
    assert cos[1].argmax() == 0  # cosine: the hub
    k = 1
    r_src = cos.max(1)  # each source's best cosine
    r_tgt = cos.max(0)
    expected = 2 * cos - r_src[:, None] - r_tgt[None, :]
    assert np.allclose(similarity_scores(xw, y, "csls", k=k), expected)
    assert similarity_scores(xw, y, "csls", k=k)[1].argmax() == 1


def test_bli_scores_by_hand():
    # 3 source words; target ranking by cosine: a -> [A, B, C]; b -> [C, B, A]; c -> [C, A, B]
    src = ["a", "b", "c", "d"]
    tgt = ["A", "B", "C"]
    xw = np.array([[1, 0, 0], [0, 0.1, 1], [0.2, 0, 1], [1, 1, 1]], dtype=np.float32)
    xw /= np.linalg.norm(xw, axis=1, keepdims=True)
    y = np.eye(3, dtype=np.float32)
    pairs = [("a", "A"), ("b", "B"), ("b", "Z"), ("c", "A"), ("zz", "A"), ("d", "Q")]
    s = evaluate_bli(xw, y, pairs, src, tgt, method="cosine")
    # a: rank 1; b: B is 2nd; c: A is 2nd. zz: not in the source vocabulary; d: no translation there
    assert s.per_query == [1, 2, 2]
    assert s.p_at_1 == pytest.approx(100 / 3) and s.p_at_5 == 100.0
    assert s.map == pytest.approx(100 * (1 + 0.5 + 0.5) / 3)
    assert (s.n_pairs, s.skipped_source, s.skipped_target, s.search_space) == (6, 1, 1, 3)
    cand, _ = rank_translations(xw, y, [1], "cosine", top=2)
    assert cand.tolist() == [[2, 1]]


def test_bad_input():
    x = np.ones((3, 4), dtype=np.float32)
    with pytest.raises(MappingError, match="different dimensions: 4 and 5"):
        procrustes(x, np.ones((3, 5)), [[0, 0]])
    with pytest.raises(MappingError, match="at least one seed pair"):
        procrustes(x, x, [])
    with pytest.raises(MappingError, match="NaN"):
        procrustes(np.full((2, 4), np.nan), x, [[0, 0]])
    with pytest.raises(MappingError, match="no test pair is left"):
        bli_queries([("q", "w")], ["a"], ["b"])


# --------------------------------------------------------------------------- word-vector files


def _write_vec(path, header, rows):
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_vec_files_round_trip_and_bad_files(tmp_path):
    from xlt.lexicon.vectors import WordVectorError, WordVectors, read_word_vectors

    wv = WordVectors(["der", "die", "haus"], np.array([[1, 0], [0, 1], [0.5, -0.25]]), source="toy")
    for name in ("v.vec", "v.npz"):
        back = read_word_vectors(wv.save(tmp_path / name))
        assert back.words == wv.words and np.allclose(back.vectors, wv.vectors)
    assert read_word_vectors(tmp_path / "v.vec", limit=2).words == ["der", "die"]
    bad = {
        "count": (_write_vec(tmp_path / "a.vec", "3 2", ["a 1 2", "b 3 4"]), "header says 3 words but the file has 2"),
        "dim": (_write_vec(tmp_path / "b.vec", "2 3", ["a 1 2", "b 3 4"]), ":2: expected a word and 3 values"),
        "dup": (_write_vec(tmp_path / "c.vec", "3 2", ["a 1 2", "b 3 4", "a 5 6"]), ":4: duplicate words"),
        "ragged": (_write_vec(tmp_path / "d.vec", "2 2", ["a 1 2", "b 3"]), ":3: expected a word and 2 values"),
        "noheader": (_write_vec(tmp_path / "e.vec", "a 1 2", ["b 3 4"]), "count dim"),
    }
    for what, (path, words) in bad.items():
        with pytest.raises(WordVectorError) as info:
            read_word_vectors(path)
        assert str(path) in str(info.value) and words in str(info.value), (what, str(info.value))
    with pytest.raises(WordVectorError, match="duplicate words"):
        WordVectors(["a", "a"], np.zeros((2, 2)))


def test_bli_on_vec_files_matches_a_hand_computed_reference(tmp_path):
    """Two tiny .vec spaces where the target is the source rotated by 90 degrees: Procrustes on two
    seed pairs finds the rotation, and P@1 on the other words is what a hand count gives."""
    from xlt.lexicon.vectors import read_word_vectors

    src = {"one": (1, 0), "two": (0, 1), "three": (0.6, 0.8), "four": (-0.8, 0.6)}
    rot = lambda v: (-v[1], v[0])  # noqa: E731 - 90 degrees
    tgt = {"eins": rot(src["one"]), "zwei": rot(src["two"]), "drei": rot(src["three"]), "vier": rot(src["four"])}
    fmt = lambda d: [f"{w} {a} {b}" for w, (a, b) in d.items()]  # noqa: E731
    x = read_word_vectors(_write_vec(tmp_path / "en.vec", "4 2", fmt(src)))
    y = read_word_vectors(_write_vec(tmp_path / "de.vec", "4 2", fmt(tgt)))
    xs, ys = normalize_embeddings(x.vectors, ("unit",)), normalize_embeddings(y.vectors, ("unit",))
    w = procrustes(xs, ys, [[0, 0], [1, 1]])
    assert np.allclose(w, [[0, 1], [-1, 0]], atol=1e-6)
    # "three" -> drei (right), "four" -> vier (right), "five" is not in the vocabulary: P@1 = 2/2
    s = evaluate_bli(xs @ w, ys, [("three", "drei"), ("four", "vier"), ("five", "fünf")], x.words, y.words,
                     method="cosine")
    assert (s.p_at_1, s.n_queries, s.skipped_source) == (100.0, 2, 1)
    # with a wrong map (identity), "three" (0.6, 0.8) lands nearest to drei? cos(three, drei) = 0:
    # its nearest is eins (0, 1) at 0.8: P@1 = 0 for three; four (-0.8, 0.6) -> zwei (-1, 0) at 0.8
    s0 = evaluate_bli(xs, ys, [("three", "drei"), ("four", "vier")], x.words, y.words, method="cosine")
    assert s0.p_at_1 == 0.0


@pytest.mark.usefixtures("single_torch_thread")
def test_encoder_word_vectors_isolated_and_in_context(tiny):
    from xlt.lexicon.vectors import encoder_word_vectors
    from xlt.models.features import encode_words

    encoder, _ = tiny
    iso = encoder_word_vectors(encoder, ["the", "cat"])
    ref = encode_words(encoder, [["the"]], word_pieces="mean_all", progress=False).vectors[0][0]
    assert np.allclose(iso.vectors[0], ref) and iso.stats["mode"] == "isolated"
    corpus = [["the", "cat", "sat"], ["a", "cat"]]
    ctx = encoder_word_vectors(encoder, ["cat", "dog"], contexts=corpus)
    feats = encode_words(encoder, corpus, word_pieces="mean_all", progress=False).vectors
    assert np.allclose(ctx.vectors[0], (feats[0][1] + feats[1][1]) / 2, atol=1e-6)  # mean over both contexts
    assert ctx.stats["no_context"] == 1  # dog: its isolated vector
    assert np.allclose(ctx.vectors[1], encoder_word_vectors(encoder, ["dog"]).vectors[0])


def test_bli_eval_command_on_vec_files(tmp_path, capsys, no_model):
    """`xlt bli eval` on a user's .vec files: the 90-degree toy of the test above, seed pairs
    one/two, test three/four plus a pair whose source word the vocabulary lacks: P@1 100 (2 of 2),
    1 skipped, search space 4; no model is loaded."""
    import json

    from xlt.cli import main

    src = {"one": (1, 0), "two": (0, 1), "three": (0.6, 0.8), "four": (-0.8, 0.6)}
    names = {"one": "eins", "two": "zwei", "three": "drei", "four": "vier"}
    _write_vec(tmp_path / "en.vec", "4 2", [f"{w} {a} {b}" for w, (a, b) in src.items()])
    _write_vec(tmp_path / "de.vec", "4 2", [f"{names[w]} {-b} {a}" for w, (a, b) in src.items()])
    (tmp_path / "train.tsv").write_text("one\teins\ntwo\tzwei\n", encoding="utf-8")
    (tmp_path / "test.tsv").write_text("three\tdrei\nfour\tvier\nfive\tfünf\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["bli", "eval", "--src", "en", "--tgt", "de", "--vectors", f"en={tmp_path / 'en.vec'}",
            "--vectors", f"de={tmp_path / 'de.vec'}", "--train", str(tmp_path / "train.tsv"),
            "--test", str(tmp_path / "test.tsv"), "--out", str(out), "--k", "1"]
    assert main(argv) == 0
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    cos = rep["bli"]["cosine"]
    assert (cos["p_at_1"], cos["n_queries"], cos["skipped_source"], cos["search_space"]) == (100.0, 2, 1, 4)
    assert rep["seed_pairs"] == 2 and "P@1 100.00" in capsys.readouterr().out
    # the contrastive map starts from the exact rotation and keeps both test words right
    assert main(argv[:-4] + ["--out", str(tmp_path / "c"), "--k", "1", "--mapping", "contrastive"]) == 0
    rep = json.loads((tmp_path / "c" / "report.json").read_text(encoding="utf-8"))
    assert rep["bli"]["cosine"]["p_at_1"] == 100.0 and [h.get("epoch") for h in rep["history"]] == [None, 1, 2, 3, 4, 5]
    assert main(argv[:-4] + ["--out", str(tmp_path / "c2"), "--mapping", "contrastive", "--temperature", "0"]) == 2
    assert "--temperature" in capsys.readouterr().err
    # self-learning: three/drei and four/vier are mutual nearest neighbours and not seed words, so
    # both are added (one and two are seed sources already) and the refitted map stays exact
    assert main(argv[:-4] + ["--out", str(tmp_path / "sl"), "--k", "1", "--self-learning", "5"]) == 0
    rep = json.loads((tmp_path / "sl" / "report.json").read_text(encoding="utf-8"))
    assert rep["bli"]["cosine"]["p_at_1"] == 100.0
    assert rep["history"] == [{"iteration": 0, "pairs": 2}, {"iteration": 1, "pairs": 4, "added": 2}]
    assert main(argv[:-4] + ["--out", str(tmp_path / "sl2"), "--mapping", "refine", "--self-learning", "5"]) == 2
    assert "--self-learning refits" in capsys.readouterr().err
    # bad input: a seed dictionary none of whose pairs is in the vocabularies; the same language twice
    (tmp_path / "none.tsv").write_text("x\ty\n", encoding="utf-8")
    bad = argv[:-4] + ["--train", str(tmp_path / "none.tsv"), "--test", str(tmp_path / "test.tsv"), "--out",
                       str(tmp_path / "o2")]
    bad[bad.index("--train") + 1] = str(tmp_path / "none.tsv")
    assert main(bad) == 2 and "no seed pair has both words" in capsys.readouterr().err
    assert main(["bli", "eval", "--src", "en", "--tgt", "en", "--out", str(tmp_path / "o3")]) == 2
    assert "--src and --tgt are both en" in capsys.readouterr().err


# --------------------------------------------------------------------------- layers, contexts, induction, fit/induce


def test_combine_layers_and_layer_positions_by_hand():
    from xlt.jobs import ConfigError
    from xlt.jobs.bli import layer_positions
    from xlt.lexicon.vectors import WordVectorError, combine_layers

    # 3 layers, 2 words, dim 2: the mean of layers 0 and 2, and their unit rows side by side
    stack = np.array([[[2, 0], [0, 4]], [[9, 9], [9, 9]], [[0, 2], [3, 4]]], dtype=np.float32)
    assert combine_layers(stack, [0, 2], "mean").tolist() == [[1, 1], [1.5, 4]]
    assert np.allclose(combine_layers(stack, [0, 2], "concat"), [[1, 0, 0, 1], [0, 1, 0.6, 0.8]])
    assert np.allclose(combine_layers(stack, None), [[11 / 3, 11 / 3], [4, 17 / 3]])
    with pytest.raises(WordVectorError, match="outside a stack of 3 layers"):
        combine_layers(stack, [3])
    with pytest.raises(WordVectorError, match="mean or concat"):
        combine_layers(stack, [0], "sum")
    # 13 hidden states (embeddings + 12 layers): last = 12, a range includes both ends, -1 = last
    assert layer_positions(["last"], 13) == [12]
    assert layer_positions(["4-6", "-1", "0"], 13) == [4, 5, 6, 12, 0]
    assert layer_positions(["10-last"], 13) == [10, 11, 12] and layer_positions(["7-last"], 9) == [7, 8]
    for bad in ("x", "6-4", "13"):
        with pytest.raises(ConfigError, match="--layers"):
            layer_positions([bad], 13)


def test_context_occurrences_caps_and_folds_case():
    from xlt.lexicon.vectors import WordVectorError, context_occurrences

    corpus = [["The", "cat"], ["a", "cat", "and", "the", "cat"], ["dog"]]
    wanted, counts = context_occurrences(["the", "cat", "fox"], corpus, max_occurrences=2, fold_case=True)
    # the: sentence 0 pos 0, sentence 1 pos 3; cat: sentence 0 pos 1, sentence 1 pos 1 (the third is over the cap)
    assert wanted == {0: [(0, 0), (1, 1)], 1: [(1, 1), (3, 0)]}
    assert counts.tolist() == [2, 2, 0]
    wanted, counts = context_occurrences(["the"], corpus, max_occurrences=5)  # case kept: only "the" in sentence 1
    assert wanted == {1: [(3, 0)]} and counts.tolist() == [1]
    with pytest.raises(WordVectorError, match="max_occurrences"):
        context_occurrences(["a"], corpus, 0)


def test_neighbourhood_means_match_the_full_csls_matrix():
    from xlt.lexicon.mapping import neighbourhood_means

    rng = np.random.default_rng(1)
    a = normalize_embeddings(rng.normal(size=(70, 6)), ("unit",))
    b = normalize_embeddings(rng.normal(size=(50, 6)), ("unit",))
    r_a, r_b = neighbourhood_means(a, b, k=4, block_size=16)  # blocks of 16 rows
    s = a @ b.T  # the reference: sorted full matrix
    assert np.allclose(r_a, np.sort(s, 1)[:, -4:].mean(1), atol=1e-6)
    assert np.allclose(r_b, np.sort(s, 0)[-4:].mean(0), atol=1e-6)
    # similarity_scores' CSLS is the formula on the sorted full matrix's terms
    full = 2 * s - np.sort(s, 1)[:, -4:].mean(1)[:, None] - np.sort(s, 0)[-4:].mean(0)[None, :]
    assert np.allclose(similarity_scores(a, b, "csls", k=4), full, atol=1e-5)
    # the terms read from a given matrix are the blockwise ones
    assert np.allclose(neighbourhood_means(a, b, k=4, block_size=7, scores=s)[1], r_b, atol=1e-6)
    # evaluate_bli's CSLS ranks (computed from these terms) are the ranks in the full matrix
    words_a, words_b = [f"a{i}" for i in range(70)], [f"b{j}" for j in range(50)]
    pairs = [(f"a{i}", f"b{(3 * i) % 50}") for i in range(0, 70, 7)]
    ranks = [int((full[i] > full[i, (3 * i) % 50]).sum()) + 1 for i in range(0, 70, 7)]
    assert evaluate_bli(a, b, pairs, words_a, words_b, method="csls", k=4).per_query == ranks


def test_best_sources_is_the_column_argmax_of_the_full_score_matrix():
    from xlt.lexicon.induction import best_sources, hubness, top_candidates

    rng = np.random.default_rng(4)
    a = normalize_embeddings(rng.normal(size=(40, 5)), ("unit",))
    b = normalize_embeddings(rng.normal(size=(30, 5)), ("unit",))
    for method in ("cosine", "csls"):
        full = similarity_scores(a, b, method, k=3)
        src, val = best_sources(a, b, hubness(a, b, method, k=3), block_size=9)
        assert src.tolist() == full.argmax(0).tolist()
        assert np.allclose(val, full.max(0), atol=1e-5)
    # ties: the lower column first, best score first
    cand, sc = top_candidates(np.array([[0.5, 0.9, 0.5, 0.1]], dtype=np.float32), 3)
    assert cand.tolist() == [[1, 0, 2]] and sc.tolist() == [[np.float32(0.9), 0.5, 0.5]]


def test_self_learning_pairs_by_hand_and_against_the_full_matrix():
    """Hand-worked: target rows are e0..e3; source 0 = e0 (a seed word), 1 = e1, 2 ~ e2 (+0.3 e3),
    3 ~ e1 + 0.5 e2. Source 3's nearest target is e1, whose nearest source is 1 (cosine 1 > 0.89):
    not mutual. So the candidates are (1, 1) and (2, 2); source 0 is a seed word. Their order (most
    confident first) and the whole result on a random space are checked against the full CSLS
    matrix (:func:`similarity_scores`, its own tests) and a brute-force mutual check."""
    from xlt.lexicon.induction import self_learning_pairs

    y = np.eye(4, dtype=np.float32)
    x = normalize_embeddings(np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0.3], [0, 1, 0.5, 0]]), ("unit",))
    seed = np.array([[0, 0]])
    pairs, added = self_learning_pairs(x, y, seed, 5, k=2)
    s = similarity_scores(x, y, "csls", 2)
    assert added == 2 and pairs[0].tolist() == [0, 0]
    assert sorted(map(tuple, pairs[1:].tolist())) == [(1, 1), (2, 2)]
    assert s[pairs[1, 0], pairs[1, 1]] >= s[pairs[2, 0], pairs[2, 1]]
    assert self_learning_pairs(x, y, seed, 1, k=2)[1] == 1
    assert self_learning_pairs(x, y, seed, 0)[0].tolist() == [[0, 0]]
    # limit: only the first two rows of each side are searched, so only (1, 1) remains
    assert self_learning_pairs(x, y, seed, 5, k=2, limit=2)[0][1:].tolist() == [[1, 1]]
    with pytest.raises(MappingError):
        self_learning_pairs(x, y, seed, -1)
    # a random space, in blocks smaller than the vocabulary: the reference is the full matrix
    rng = np.random.default_rng(3)
    a, b = normalize_embeddings(rng.normal(size=(50, 8))), normalize_embeddings(rng.normal(size=(40, 8)))
    seed = np.array([[0, 1], [5, 2]])
    pairs, added = self_learning_pairs(a, b, seed, 100, k=3, block_size=7)
    full = similarity_scores(a, b, "csls", 3)
    fwd, bwd = full.argmax(1), full.argmax(0)
    want = [(i, int(fwd[i])) for i in range(50) if bwd[fwd[i]] == i and i not in (0, 5)]
    want.sort(key=lambda p: -full[p])
    assert [tuple(p) for p in pairs[2:].tolist()] == want and added == len(want) > 3


def test_induce_dictionary_threshold_top_and_mutual_by_hand():
    from xlt.lexicon.induction import induce_dictionary

    # cosine: source 0 = target 0 (1.0); source 1 is nearest to target 0 too (0.9 vs 0.9*0.5+0.436*0.866 = 0.828)
    xw = np.array([[1.0, 0.0], [0.9, np.sqrt(1 - 0.81)]], dtype=np.float32)
    y = np.array([[1.0, 0.0], [0.5, np.sqrt(0.75)]], dtype=np.float32)
    src, tgt = ["a", "b"], ["A", "B"]
    got = induce_dictionary(xw, y, src, tgt, method="cosine")
    assert [(s, t) for s, t, _ in got] == [("a", "A"), ("b", "A")]
    assert got[1][2] == pytest.approx(0.9, abs=1e-6)
    # target A's best source is a, so b -> A is not mutual
    assert [(s, t) for s, t, _ in induce_dictionary(xw, y, src, tgt, method="cosine", mutual=True)] == [("a", "A")]
    # top 2 with a threshold of 0.85: a -> A (1.0), a -> B (0.5: dropped), b -> A (0.9), b -> B (0.828: dropped)
    got = induce_dictionary(xw, y, src, tgt, method="cosine", top=2, min_score=0.85)
    assert [(s, t) for s, t, _ in got] == [("a", "A"), ("b", "A")]
    # CSLS with k = 1 (hand-worked in test_csls_by_hand): b goes to B
    assert [(s, t) for s, t, _ in induce_dictionary(xw, y, src, tgt, k=1)] == [("a", "A"), ("b", "B")]
    # skip_identical: with a target word spelt "a", source a may not take it, even as its best (cosine 1.0)
    got = induce_dictionary(xw, y, src, ["a", "B"], method="cosine", skip_identical=True)
    assert [(s, t) for s, t, _ in got] == [("a", "B"), ("b", "a")]
    got = induce_dictionary(xw, y, src, ["a", "B"], method="cosine", skip_identical=True, mutual=True)
    # mutual: B's best source is b (0.828 against a's 0.5), so a -> B goes; "a"'s best source, a itself
    # being skipped, is b (0.9), so b -> a stays
    assert [(s, t) for s, t, _ in got] == [("b", "a")]
    with pytest.raises(MappingError, match="top must be"):
        induce_dictionary(xw, y, src, tgt, top=0)
    with pytest.raises(MappingError, match="source and"):
        induce_dictionary(xw, y, ["a"], tgt)


def _square_vecs(tmp_path):
    """Four unit vectors symmetric about 0 (centring changes nothing) and their 90-degree rotation."""
    src = {"one": (1, 0), "two": (0, 1), "three": (-1, 0), "four": (0, -1)}
    names = {"one": "eins", "two": "zwei", "three": "drei", "four": "vier"}
    _write_vec(tmp_path / "en.vec", "4 2", [f"{w} {a} {b}" for w, (a, b) in src.items()])
    _write_vec(tmp_path / "de.vec", "4 2", [f"{names[w]} {-b} {a}" for w, (a, b) in src.items()])
    (tmp_path / "train.tsv").write_text("one\teins\ntwo\tzwei\n", encoding="utf-8")
    return ["--src", "en", "--tgt", "de", "--vectors", f"en={tmp_path / 'en.vec'}", "--vectors",
            f"de={tmp_path / 'de.vec'}", "--train", str(tmp_path / "train.tsv"), "--no-progress"]


def test_bli_fit_then_induce_and_eval_reuse_the_mapped_spaces(tmp_path, capsys, no_model):
    """Procrustes on one/two recovers the 90-degree rotation exactly, so every source word maps onto
    its translation: cosine 1.0 with it, 0.0 with the two orthogonal words, -1.0 with the opposite."""
    import json

    from xlt.cli import main
    from xlt.lexicon.vectors import read_word_vectors

    common = _square_vecs(tmp_path)
    fit = tmp_path / "fit"
    assert main(["bli", "fit", *common, "--out", str(fit), "--format", "vec"]) == 0
    meta = json.loads((fit / "fit.json").read_text(encoding="utf-8"))
    assert meta["seed_pairs"] == 2 and meta["files"] == {"src": "en.vec", "tgt": "de.vec", "map": "map.npy"}
    w = np.load(fit / "map.npy")
    assert np.allclose(w, [[0, 1], [-1, 0]], atol=1e-6)  # the rotation
    mapped, tgt = read_word_vectors(fit / "en.vec"), read_word_vectors(fit / "de.vec")
    assert np.allclose(mapped.vectors, tgt.vectors, atol=1e-5)  # one -> eins, ... row by row
    out = tmp_path / "dict.tsv"
    base = ["bli", "induce", "--src", "en", "--tgt", "de", "--fitted", str(fit), "--retrieval", "cosine"]
    assert main([*base, "--top", "4", "--min-score", "0.5", "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines == ["one\teins\t1.0000", "two\tzwei\t1.0000", "three\tdrei\t1.0000", "four\tvier\t1.0000"]
    # a threshold of -0.5 lets the two orthogonal candidates (0.0) in, never the opposite word (-1.0)
    assert main([*base, "--top", "4", "--min-score", "-0.5", "--out", str(out), "--overwrite"]) == 0
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 12 and {r[1] for r in rows if r[0] == "one"} == {"eins", "zwei", "vier"}
    assert all(float(r[2]) in (1.0, 0.0) for r in rows)
    # the file reads back as a scored dictionary
    from xlt.data.dictionaries import read_dictionary
    assert read_dictionary(out, scored=True, min_score=0.5).entries == [("one", "eins"), ("two", "zwei"),
                                                                         ("three", "drei"), ("four", "vier")]
    # induce without a fitted folder (fits the map itself), mutual neighbours, CSLS k=1: 2 cos - 1 - 1 = 0
    assert main(["bli", "induce", *common, "--mutual", "--k", "1", "--out", str(tmp_path / "m.tsv")]) == 0
    assert (tmp_path / "m.tsv").read_text(encoding="utf-8").splitlines()[0] == "one\teins\t0.0000"
    # eval on the fitted spaces
    (tmp_path / "test.tsv").write_text("three\tdrei\nfour\tvier\n", encoding="utf-8")
    assert main(["bli", "eval", "--src", "en", "--tgt", "de", "--fitted", str(fit), "--test", str(tmp_path / "test.tsv"),
                 "--out", str(tmp_path / "rep")]) == 0
    rep = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    assert rep["bli"]["cosine"]["p_at_1"] == 100.0 and rep["bli"]["cosine"]["n_queries"] == 2
    capsys.readouterr()
    # outputs never over inputs; an existing dictionary needs --overwrite
    assert main([*base, "--out", str(fit / "map.npy")]) == 2
    assert "--out" in capsys.readouterr().err
    assert main([*base, "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_bli_induce_settings_refuse_bad_values():
    from xlt.jobs import ConfigError
    from xlt.jobs.bli import BliInduceSettings

    with pytest.raises(ConfigError, match="--min-score 1.5: cosine scores lie between -1 and 1"):
        BliInduceSettings(src="en", tgt="de", retrieval="cosine", min_score=1.5)
    with pytest.raises(ConfigError, match="--min-score -3.0: csls scores lie between -2 and 2"):
        BliInduceSettings(src="en", tgt="de", min_score=-3)
    with pytest.raises(ConfigError, match="--top"):
        BliInduceSettings(src="en", tgt="de", top=0)
    with pytest.raises(ConfigError, match="--layers"):
        BliInduceSettings(src="en", tgt="de", layers=["4-x"])
    assert BliInduceSettings(src="en", tgt="de", min_score=1.5).min_score == 1.5  # fine for CSLS


@pytest.mark.usefixtures("single_torch_thread")
def test_encoder_layer_vectors_stack_every_layer(tiny):
    from xlt.lexicon.vectors import combine_layers, encoder_layer_vectors
    from xlt.models.features import encode_words

    encoder, _ = tiny
    stack, stats = encoder_layer_vectors(encoder, ["the", "cat"])
    assert stack.shape == (encoder.num_layers + 1, 2, encoder.hidden_size) and stats["layers"][0] == 0
    ref = encode_words(encoder, [["cat"]], layers="all", word_pieces="mean_all", progress=False).vectors[0][:, 0]
    assert np.allclose(stack[:, 1], ref, atol=1e-6)
    assert np.allclose(combine_layers(stack, [1, 2])[1], (ref[1] + ref[2]) / 2, atol=1e-6)


@pytest.mark.usefixtures("single_torch_thread")
def test_bli_encoder_spaces_with_contexts_and_the_cache(tiny, tmp_path, monkeypatch):
    """`--contexts 2 --mix average`: a word found in the text gets (unit isolated + unit AOC) / 2 of the
    chosen layers' mean, a word not found keeps its isolated vector; a second run reads every
    language's layers from --cache-dir and loads no model."""
    import xlt.jobs.bli as job
    from xlt.lexicon.vectors import combine_layers, encoder_layer_vectors

    encoder, spec = tiny
    (tmp_path / "en.txt").write_text("the cat sat\nthe dog ran\na cat ran\n", encoding="utf-8")
    (tmp_path / "de.txt").write_text("die katze sass\nder hund lief\n", encoding="utf-8")
    (tmp_path / "train.tsv").write_text("cat\tkatze\ndog\thund\nthe\tdie\n", encoding="utf-8")
    (tmp_path / "test.tsv").write_text("sat\tsass\nran\tlief\nbird\tvogel\n", encoding="utf-8")
    cfg = job.BliSettings(src="en", tgt="de", model=spec, text={"en": tmp_path / "en.txt", "de": tmp_path / "de.txt"},
                          train=tmp_path / "train.tsv", test=tmp_path / "test.tsv", layers=["1-2"], contexts=2,
                          cache_dir=tmp_path / "cache", progress=False)
    words = ["cat", "bird"]
    got = job.word_space("en", words, cfg, {})
    iso, _ = encoder_layer_vectors(encoder, words)
    ctx, stats = encoder_layer_vectors(encoder, words, contexts=[["the", "cat", "sat"], ["the", "dog", "ran"],
                                                                 ["a", "cat", "ran"]], max_occurrences=2)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    i0, c0 = combine_layers(iso, [1, 2])[0], combine_layers(ctx, [1, 2])[0]
    assert stats["counts"].tolist() == [2, 0]
    assert np.allclose(got.vectors[0], (unit(i0) + unit(c0)) / 2, atol=1e-3)  # float16 cache
    assert np.allclose(got.vectors[1], combine_layers(iso, [1, 2])[1], atol=1e-2)  # bird: no context
    first = job.run(cfg)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 6  # (iso, AOC) x (en, de) + the two words above
    monkeypatch.setattr(job, "load_encoder", lambda spec: (_ for _ in ()).throw(AssertionError("a model loaded")))
    again = job.run(cfg)
    assert again.scores["csls"].per_query == first.scores["csls"].per_query
    # the dictionaries' words join the vocabulary: bird and vogel too (isolated vectors), so 3 queries over
    # die katze sass der hund lief + vogel
    assert (first.scores["csls"].n_queries, first.search_space) == (3, 7)
