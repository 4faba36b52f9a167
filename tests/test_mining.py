"""Bitext mining: margins, FAISS k-NN, pair selection, BUCC-style evaluation, ``xlt mine``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xlt.cli import main
from xlt.data.parallel import read_multiparallel
from xlt.data.readers import DataFormatError
from xlt.jobs.mine import MineSettings, run_mine
from xlt.retrieval import bucc
from xlt.retrieval.bucc import evaluate_language
from xlt.retrieval.mining import (Candidates, knn_search, margin_score, mine, read_sentences, select_pairs,
                                  unique_sentences)

SENTENCES = [f"zebra {a} {b} said {c}" for a, b, c in zip("abcdefghij", "klmnopqrst", "0123456789")]


def unit(a):
    a = np.asarray(a, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


# --------------------------------------------------------------------------- margins


def test_margin_scores_worked_by_hand():
    # cos 0.8; the source's 4-NN mean 0.6 and the target's 0.4 average to 0.5
    assert margin_score(np.array(0.8), 0.6, 0.4, "ratio") == pytest.approx(1.6)
    assert margin_score(np.array(0.8), 0.6, 0.4, "distance") == pytest.approx(0.3)
    assert margin_score(np.array(0.8), 0.6, 0.4, "absolute") == pytest.approx(0.8)
    with pytest.raises(ValueError, match="margin must be one of"):
        margin_score(np.array(0.8), 0.6, 0.4, "cosine")


# --------------------------------------------------------------------------- k-NN


def test_flat_knn_matches_brute_force():
    rng = np.random.default_rng(0)
    q, b = unit(rng.normal(size=(40, 16))), unit(rng.normal(size=(70, 16)))
    sims, ids, info = knn_search(q, b, 5, index="flat")
    full = q @ b.T
    expected = np.argsort(-full, axis=1)[:, :5]
    assert info["kind"] == "flat"
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(sims, np.take_along_axis(full, expected, axis=1), atol=1e-5)


def test_ivf_probing_every_list_is_exact_and_ivfpq_cosines_are_exact():
    rng = np.random.default_rng(1)
    q, b = unit(rng.normal(size=(30, 16))), unit(rng.normal(size=(400, 16)))
    _, flat_ids, _ = knn_search(q, b, 4, index="flat")
    _, ivf_ids, info = knn_search(q, b, 4, index="ivf", nlist=8, nprobe=8, chunk_size=7)
    assert info["kind"] == "ivf" and info["nprobe"] == 8
    np.testing.assert_array_equal(ivf_ids, flat_ids)
    # product quantisation only proposes candidates; their cosines are recomputed exactly
    sims, ids, info = knn_search(q, b, 4, index="ivfpq", nlist=4, nprobe=4, pq_m=4)
    assert info["kind"] == "ivfpq" and (ids >= 0).all()
    np.testing.assert_allclose(sims, np.einsum("nd,nkd->nk", q, b[ids]), atol=1e-5)
    assert (np.diff(sims, axis=1) <= 1e-6).all()


def test_auto_index_switches_to_ivf_above_the_size_limit():
    rng = np.random.default_rng(2)
    b = unit(rng.normal(size=(200, 8)))
    assert knn_search(b[:3], b, 2, approx_above=500)[2]["kind"] == "flat"
    assert knn_search(b[:3], b, 2, approx_above=100)[2]["kind"] == "ivf"
    with pytest.raises(ValueError, match="same dim"):
        knn_search(b[:, :4], b, 2)


# --------------------------------------------------------------------------- selection


def hand_candidates():
    """k = 1: sources 0,1 both prefer target 0; targets 1,2 both prefer source 1."""
    return Candidates(fwd_ids=np.array([[0], [0], [2]]), fwd_scores=np.array([[0.9], [0.8], [0.5]]),
                      bwd_ids=np.array([[0], [1], [1]]), bwd_scores=np.array([[0.9], [0.7], [0.6]]))


def pairs_of(p):
    return {(int(a), int(b)) for a, b in zip(p.src, p.tgt)}


def test_strategies_on_hand_built_candidates():
    c = hand_candidates()
    assert pairs_of(select_pairs(c, "forward")) == {(0, 0), (1, 0), (2, 2)}
    assert pairs_of(select_pairs(c, "backward")) == {(0, 0), (1, 1), (1, 2)}
    # only 0<->0 is best in both directions
    assert pairs_of(select_pairs(c, "intersection")) == {(0, 0)}
    # pooled and greedy: (0,0) .9, skip (1,0) .8 (target 0 used), (1,1) .7, skip (1,2) .6, (2,2) .5
    mx = select_pairs(c, "max")
    assert [(int(a), int(b)) for a, b in zip(mx.src, mx.tgt)] == [(0, 0), (1, 1), (2, 2)]
    assert list(mx.scores) == [0.9, 0.7, 0.5]
    assert pairs_of(select_pairs(c, "max", threshold=0.6)) == {(0, 0), (1, 1)}
    with pytest.raises(ValueError, match="strategy"):
        select_pairs(c, "union")


def test_margin_defeats_a_hub_that_fools_cosine():
    """Sources share a common direction ``c``; a target ``c`` itself (a hub) is closer to every
    source (cos ≈ 0.89) than its noisy translation (≈ 0.86), so cosine picks the hub. Its
    neighbourhood is dense too, so the ratio margin divides it down and picks the translation."""
    rng = np.random.default_rng(3)
    n, d = 60, 64
    c = np.zeros(d)
    c[0] = 1.0
    r = rng.normal(size=(n, d)) / np.sqrt(d)
    x = unit(c + 0.5 * r)
    y = unit(np.vstack([x + 0.6 * rng.normal(size=(n, d)) / np.sqrt(d), c]))
    for margin, low, high in (("absolute", 0.0, 0.2), ("ratio", 0.8, 1.0), ("distance", 0.8, 1.0)):
        p = mine(x, y, k=4, margin=margin, strategy="forward")
        acc = float(np.mean(p.tgt[np.argsort(p.src)] == np.arange(n)))
        assert low <= acc <= high, (margin, acc)


# --------------------------------------------------------------------------- BUCC task and metrics


def test_build_task_hides_gold_pairs_among_one_sided_sentences():
    src = [f"s{i}" for i in range(100)]
    tgt = [f"t{i}" for i in range(100)]
    task = bucc.build_task(src, tgt, parallel_fraction=0.2, seed=4)
    assert len(task.gold) == 20 and len(task.src) == 60 and len(task.tgt) == 60
    for a, b in task.gold:  # gold pairs come from the same corpus line
        assert task.src[a][1:] == task.tgt[b][1:]
    src_only = set(task.src_lines) - set(task.tgt_lines)
    tgt_only = set(task.tgt_lines) - set(task.src_lines)
    assert len(src_only) == 40 and len(tgt_only) == 40 and not src_only & tgt_only
    # a repeated sentence is dropped from its pile and counted
    dup = bucc.build_task(["same"] * 10, [f"t{i}" for i in range(10)], parallel_fraction=0.5, seed=0)
    # 5 parallel + 2 source-only lines are all "same": one kept, six dropped
    assert len(dup.src) == 1 and dup.n_dropped_duplicates == 6 and len(dup.gold) <= 1
    with pytest.raises(ValueError, match="line-aligned"):
        bucc.build_task(src, tgt[:-1])


def test_precision_recall_f1_by_hand():
    m = bucc.precision_recall_f1({(0, 0), (1, 1), (2, 3)}, {(0, 0), (1, 1), (2, 2), (3, 3)})
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(2 * (2 / 3 * 0.5) / (2 / 3 + 0.5))
    assert bucc.precision_recall_f1(set(), {(0, 0)})["f1"] == 0.0


def test_best_threshold_maximises_f1():
    # keeping the top 4 (3 correct of 4 gold) beats the top 2: F1 6/8 vs 4/6
    thr, f1 = bucc.best_threshold(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 1, 0, 1], bool), 4)
    assert thr == pytest.approx(0.6) and f1 == pytest.approx(0.75)
    # with 2 gold pairs, cutting after the second is perfect; the cut is halfway to the next score
    thr, f1 = bucc.best_threshold(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 1, 0, 0], bool), 2)
    assert thr == pytest.approx(0.75) and f1 == pytest.approx(1.0)


def test_evaluate_language_is_perfect_on_identical_embeddings():
    rng = np.random.default_rng(5)
    x = unit(rng.normal(size=(80, 128)))
    lines = [f"l{i}" for i in range(80)]
    res = evaluate_language(x, x.copy(), lines, lines, margins=["ratio", "absolute"], strategies=["max", "forward"],
                            x_extra=unit(rng.normal(size=(30, 128))), y_extra=unit(rng.normal(size=(30, 128))))
    assert res["tasks"]["test"]["extra_distractors_src"] == 15
    for m in res["methods"].values():
        assert m["precision"] == pytest.approx(100.0) and m["recall"] == pytest.approx(100.0)


# --------------------------------------------------------------------------- input files and CLI


def test_reading_counts_empty_and_duplicate_lines(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("one\n\n two \none\n  \nthree\n", encoding="utf-8")
    text = read_sentences(f)
    assert text.sentences == ["one", "two", "three"] and text.lines == [1, 3, 6]
    assert text.counts() == {"lines": 6, "kept": 3, "skipped_empty": 2, "skipped_duplicate": 1}
    f.write_bytes(b"ok\n\xff\xfe bad\n")
    with pytest.raises(DataFormatError, match=r"a\.txt:2: not valid UTF-8"):
        read_sentences(f)
    f.write_text("\n \n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="no non-empty sentence"):
        read_sentences(f)
    assert unique_sentences(["x", "x", "y"]).n_duplicates == 1


@pytest.mark.usefixtures("single_torch_thread")
@pytest.mark.parametrize("memmap_above,index", [(10**6, "flat"), (1, "ivf")])
def test_run_mine_recovers_shuffled_copies(tiny, tmp_path, memmap_above, index):
    """Identical texts get identical vectors, so mining a shuffled copy must pair every line with
    itself, whether the vectors live in memory or in disk memmaps and with an IVF index."""
    _, spec = tiny
    rng = np.random.default_rng(6)
    tgt = [SENTENCES[i] for i in rng.permutation(len(SENTENCES))]
    (tmp_path / "src.txt").write_text("\n".join(SENTENCES + ["", SENTENCES[0]]) + "\n", encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("\n".join(tgt) + "\n", encoding="utf-8")
    out = tmp_path / "pairs.tsv"
    report = run_mine(MineSettings(src=str(tmp_path / "src.txt"), tgt=str(tmp_path / "tgt.txt"), out=str(out),
                                   model=spec, index=index, approx_above=1, nlist=2, nprobe=2,
                                   memmap_above=memmap_above, chunk_size=3, progress=False),
                      command=["xlt", "mine"]).report
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(SENTENCES)
    assert all(r[1] == r[2] for r in rows)
    scores = [float(r[0]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert report["counts"]["src"] == {"lines": 12, "kept": 10, "skipped_empty": 1, "skipped_duplicate": 1}
    saved = json.loads((tmp_path / "pairs.report.json").read_text(encoding="utf-8"))
    assert saved["n_pairs"] == 10 and saved["index"]["forward_index"]["kind"] == index


@pytest.mark.usefixtures("single_torch_thread")
def test_cli_mine_and_its_usage_errors(tiny, tmp_path, capsys):
    _, spec = tiny
    (tmp_path / "a.txt").write_text("\n".join(SENTENCES[:4]) + "\n", encoding="utf-8")
    out = tmp_path / "p.tsv"
    code = main(["mine", str(tmp_path / "a.txt"), str(tmp_path / "a.txt"), "--out", str(out), "--model", spec,
                 "--threshold", "0.99", "--margin", "absolute", "--no-progress"])
    assert code == 0 and len(out.read_text().splitlines()) == 4
    assert "4 pairs" in capsys.readouterr().out
    assert main(["mine", str(tmp_path / "a.txt"), "--out", str(out)]) == 2
    assert "give SRC and TGT" in capsys.readouterr().err
    assert main(["mine", str(tmp_path / "a.txt"), str(tmp_path / "a.txt"), "--eval", "ntrex", "--out", "x"]) == 2
    assert main(["mine", str(tmp_path / "missing.txt"), str(tmp_path / "a.txt"), "--out", str(out),
                 "--model", spec]) == 2
    assert "missing.txt" in capsys.readouterr().err


# --------------------------------------------------------------------------- multi-parallel reader


def test_multiparallel_keeps_languages_aligned(tmp_path):
    files = {}
    for lang, rows in {"eng": ["a", "b", "c"], "deu": ["A", "", "C"], "fra": ["x", "y", "z"]}.items():
        files[lang] = tmp_path / f"{lang}.txt"
        files[lang].write_text("\n".join(rows) + "\n", encoding="utf-8")
    mp = read_multiparallel(files)
    assert mp.texts == {"eng": ["a", "c"], "deu": ["A", "C"], "fra": ["x", "z"]}
    assert mp.lines == [1, 3] and mp.n_skipped_empty == 1 and mp.skipped_lines == [2]
    files["fra"].write_text("x\ny\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"fra\.txt:3: fra\.txt has 2 lines but eng\.txt has 3"):
        read_multiparallel(files)


def test_parallel_readers_name_the_line_that_is_not_utf8(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("one\ntwo\n", encoding="utf-8")
    b.write_bytes(b"eins\nzw\xe4i\n")
    with pytest.raises(DataFormatError, match=r"b\.txt:2: not valid UTF-8"):
        read_multiparallel({"eng": a, "deu": b})


def test_mine_rejects_impossible_settings_and_folders_before_loading(tmp_path, capsys, monkeypatch):
    import xlt.jobs.mine as mine_module

    monkeypatch.setattr(mine_module.loading, "load_encoder", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    (tmp_path / "a.txt").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "dir").mkdir()
    # refused by the settings (one line, exit 2)
    assert main(["mine", str(tmp_path / "a.txt"), str(tmp_path / "a.txt"), "--k", "0",
                 "--out", str(tmp_path / "p.tsv")]) == 2
    err = capsys.readouterr().err
    assert err == "xlt: error: --k 0: expected a whole number >= 1\n"
    assert main(["mine", str(tmp_path / "a.txt"), str(tmp_path / "dir"), "--out", str(tmp_path / "p.tsv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xlt: error:") and "is a folder" in err and str(tmp_path / "dir") in err
