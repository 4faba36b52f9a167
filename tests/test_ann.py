"""Approximate nearest neighbours (xlt.retrieval.ann) and ``xlt mine`` on ``xlt embed`` folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xlt.cli import main
from xlt.models.shards import ShardedEmbeddings, shard_name, write_manifest, write_shard, write_texts
from xlt.retrieval.ann import (ArrayVectors, ShardVectors, build_ann_index, exact_knn, measure_recall, recall_at_k,
                               tune_search)
from xlt.retrieval.mining import knn_search, mine


def unit(a):
    a = np.asarray(a, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def clustered(n, d, n_centres, spread, seed):
    """Unit vectors around ``n_centres`` random directions (a toy set with IVF-friendly structure)."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(n_centres, d)))
    return unit(centres[rng.integers(0, n_centres, n)] + spread * rng.normal(size=(n, d)) / np.sqrt(d))


def embeddings_folder(path, vectors, texts, shard_rows):
    """A minimal ``xlt embed`` folder written through the shards API: shards of ``shard_rows`` rows."""
    path.mkdir()
    shards = [write_shard(path / shard_name(i), vectors[s:s + shard_rows]).to_dict()
              for i, s in enumerate(range(0, len(vectors), shard_rows))]
    write_manifest(path, {"format": "xlt-embeddings", "version": 1, "model": "test", "normalisation": "unit",
                          "dim": int(vectors.shape[1]), "dtype": "float32", "shard_size": shard_rows,
                          "n_rows": len(vectors), "texts": write_texts(path / "texts.jsonl", texts),
                          "shards": shards, "complete": True})
    return path


# --------------------------------------------------------------------------- recall


def test_recall_at_k_by_hand():
    # query 0 finds both true neighbours (order ignored), query 1 one of two: 3 of 4
    assert recall_at_k(np.array([[1, 2], [3, 4]]), np.array([[2, 1], [3, 5]])) == pytest.approx(0.75)


def test_recall_check_equals_brute_force_numpy():
    rng = np.random.default_rng(0)
    base, queries = unit(rng.normal(size=(600, 12))), unit(rng.normal(size=(40, 12)))
    ann = build_ann_index(base, "ivf", nlist=16, nprobe=1, k=5)
    got = measure_recall(ann, queries, 5, n_sample=40)  # the sample is every query
    # by hand: numpy brute force vs the ids FAISS's IVF search returns (its distances are exact)
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :5]
    found = ann.index.search(queries, 5)[1]
    hand = np.mean([len(set(f) & set(t)) / 5 for f, t in zip(found, truth)])
    assert got["n_sample"] == 40 and got["k"] == 5
    assert got["recall"] == pytest.approx(hand, abs=1e-5)
    assert got["recall"] < 0.9  # one list of 16 on random vectors misses neighbours: the check is not trivial
    # knn_search reports the same check, and a flat index is exact without measuring
    info = knn_search(queries, base, 5, index="ivf", nlist=16, nprobe=1, check_recall=40)[2]
    assert info["recall_check"]["recall"] == pytest.approx(hand, abs=1e-5)
    assert knn_search(queries, base, 5, index="flat", check_recall=40)[2]["recall_check"]["recall"] == 1.0


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_target_recall_tuning_reaches_the_target_on_clustered_data(kind):
    x = clustered(3000, 16, 40, 0.6, seed=1)
    base, queries = x[:2500], x[2500:]
    ann = build_ann_index(base, kind, nlist=64, k=10)
    tuned = tune_search(ann, queries, 10, 0.95, n_sample=300, seed=1)
    assert tuned["reached"] and tuned["recall"] >= 0.95
    param = "nprobe" if kind == "ivf" else "ef_search"
    values = [t[param] for t in tuned["trail"]]
    doubled = [i for i, t in enumerate(tuned["trail"]) if t["recall"] >= 0.95][0] + 1
    assert all(b == 2 * a for a, b in zip(values[:doubled], values[1:doubled]))  # doubling to the first passing value
    assert all(t["recall"] < 0.95 for t in tuned["trail"][:doubled - 1])
    # then bisection between the last failing and the first passing value: it keeps the smallest
    # passing value tried, and every value below it that was tried fell short
    passing = [t[param] for t in tuned["trail"] if t["recall"] >= 0.95]
    assert tuned["value"] == min(passing) == ann.search_param[1]
    assert all(t["recall"] < 0.95 for t in tuned["trail"] if t[param] < tuned["value"])
    if doubled >= 2 and values[doubled - 1] >= 4:  # a gap to bisect: at least one value in between was tried
        assert len(values) > doubled and values[doubled - 1] // 2 < values[doubled] < values[doubled - 1]
    # the recall it reports is the brute-force recall at the value it kept, on its own sample
    rows = np.sort(np.random.default_rng(1).choice(len(queries), 300, replace=False))
    truth = np.argsort(-(queries[rows] @ base.T), axis=1)[:, :10]
    found = ann.search(queries[rows], 10)[1]
    assert np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]) == pytest.approx(tuned["recall"], abs=1e-5)
    with pytest.raises(ValueError, match="target recall"):
        tune_search(ann, queries, 10, 1.5)


def test_target_recall_tuning_bisects_to_the_smallest_nprobe_that_reaches_it():
    """Doubling overshoots (here 4 falls short and 8 passes); bisection between them must keep the
    smallest passing nprobe: with a first passing value under 16 the gap closes to 1, so value - 1
    was tried and fell short (recall grows with nprobe, so no smaller value passes either)."""
    x = clustered(3000, 16, 40, 1.0, seed=1)
    ann = build_ann_index(x[:2500], "ivf", nlist=64, k=10)
    tuned = tune_search(ann, x[2500:], 10, 0.95, n_sample=300, seed=1)
    tried = {t["nprobe"]: t["recall"] for t in tuned["trail"]}
    assert [t["nprobe"] for t in tuned["trail"]][:4] == [1, 2, 4, 8] and tried[4] < 0.95 <= tried[8]
    assert 4 < tuned["value"] <= 8 and tuned["value"] == ann.search_param[1] and tuned["recall"] >= 0.95
    assert tried[tuned["value"] - 1] < 0.95 and tried[tuned["value"]] == tuned["recall"]


def test_hnsw_ef_construction_is_applied_and_checked():
    x = clustered(400, 16, 10, 0.8, seed=3)
    default = build_ann_index(x, "hnsw", k=5)
    wide = build_ann_index(x, "hnsw", k=5, ef_construction=64)
    assert default.info["ef_construction"] == default.index.hnsw.efConstruction == 40  # FAISS's own default
    assert wide.info["ef_construction"] == wide.index.hnsw.efConstruction == 64
    with pytest.raises(ValueError, match="ef_construction"):
        build_ann_index(x, "hnsw", ef_construction=0)


def test_ivfpq_tuning_adds_candidates_once_every_list_is_scanned():
    x = clustered(700, 16, 10, 0.8, seed=6)
    ann = build_ann_index(x[:600], "ivfpq", nlist=2, pq_m=4, k=5)
    assert ann.spec == "IVF2,PQ4x3" and ann.rerank == 20  # too few vectors for 8-bit codes and OPQ; 4*k candidates
    tuned = tune_search(ann, x[600:], 5, 0.99, n_sample=100)
    assert tuned["reached"] and [t["nprobe"] for t in tuned["trail"]][:2] == [1, 2]
    assert tuned["rerank"] > 20 and tuned["trail"][-1]["rerank"] == tuned["rerank"]


def test_exact_reranking_gives_the_flat_order_of_the_candidates():
    rng = np.random.default_rng(2)
    base, queries = unit(rng.normal(size=(800, 16))), unit(rng.normal(size=(30, 16)))
    flat_sims, flat_ids = knn_search(queries, base, 6, index="flat")[:2]
    # every list scanned and every vector a candidate: re-ranking turns IVF-PQ into exact search
    full = build_ann_index(base, "ivfpq", nlist=4, nprobe=4, pq_m=4, k=6, rerank=800)
    sims, ids = full.search(queries, 6)
    np.testing.assert_array_equal(ids, flat_ids)
    np.testing.assert_allclose(sims, flat_sims, atol=1e-6)
    # with a few candidates: the top 6 of the candidates the index proposed, in exact order
    few = build_ann_index(base, "ivfpq", nlist=4, nprobe=2, pq_m=4, k=6, rerank=12)
    _, cand = few.index.search(queries, 12)
    sims, ids = few.search(queries, 6)
    for q, c, got in zip(queries, cand, ids):
        exact = base[c] @ q
        np.testing.assert_array_equal(got, c[np.argsort(-exact, kind="stable")][:6])
    np.testing.assert_allclose(sims, np.einsum("nd,nkd->nk", queries, base[ids]), atol=1e-6)


# --------------------------------------------------------------------------- shards


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_mining_from_shards_equals_mining_from_arrays(tmp_path, kind):
    rng = np.random.default_rng(3)
    x = unit(rng.normal(size=(90, 8)))
    y = unit(np.vstack([x[rng.permutation(90)[:70]] + 0.1 * rng.normal(size=(70, 8)), rng.normal(size=(20, 8))]))
    a = ShardedEmbeddings.open(embeddings_folder(tmp_path / "a", x, [f"a{i}" for i in range(90)], 25))
    b = ShardedEmbeddings.open(embeddings_folder(tmp_path / "b", y, [f"b{i}" for i in range(90)], 40))
    assert [len(blk) for _, blk in ShardVectors(a).blocks()] == [25, 25, 25, 15]
    opts = dict(k=4, index=kind, nlist=4, nprobe=2, approx_above=0)
    from_arrays = mine(x, y, chunk_size=17, **opts)
    from_shards = mine(a, b, **opts)
    np.testing.assert_array_equal(from_shards.src, from_arrays.src)
    np.testing.assert_array_equal(from_shards.tgt, from_arrays.tgt)
    np.testing.assert_allclose(from_shards.scores, from_arrays.scores, rtol=1e-6)
    # rows taken across shard borders are the right rows
    rows = np.array([89, 0, 24, 25, 50, 24])
    np.testing.assert_array_equal(ShardVectors(a).take(rows), x[rows])
    np.testing.assert_array_equal(exact_knn(x[:5], ShardVectors(b), 3)[1], exact_knn(x[:5], ArrayVectors(y), 3)[1])


def test_cli_mines_two_embeddings_folders_without_a_model(tmp_path, monkeypatch):
    import xlt.jobs.mine as mine_module

    monkeypatch.setattr(mine_module.loading, "load_encoder", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    rng = np.random.default_rng(4)
    x = unit(rng.normal(size=(50, 8)))
    perm = rng.permutation(50)
    src = embeddings_folder(tmp_path / "src", x, [f"s{i}" for i in range(50)], 20)
    tgt = embeddings_folder(tmp_path / "tgt", x[perm], [f"s{i}" for i in perm], 30)
    out = tmp_path / "pairs.tsv"
    assert main(["mine", "--src-embeddings", str(src), "--tgt-embeddings", str(tgt), "--out", str(out),
                 "--index", "ivf", "--approx-above", "0", "--nlist", "2", "--check-recall", "20",
                 "--no-progress"]) == 0
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 50 and all(r[1] == r[2] for r in rows)  # each vector found its own copy
    report = json.loads((tmp_path / "pairs.report.json").read_text(encoding="utf-8"))
    fwd = report["index"]["forward_index"]
    assert fwd["spec"] == "IVF2,Flat" and fwd["nprobe"] == 2 and fwd["recall_check"]["n_sample"] == 20
    assert fwd["recall_check"]["recall"] == 1.0  # both lists scanned: exact
    assert report["counts"]["src"]["shards"] == 3 and report["index"]["peak_rss_mib"] > 0


def test_bad_mining_settings_and_folders_fail_before_loading(tmp_path, capsys, monkeypatch):
    import xlt.jobs.mine as mine_module

    monkeypatch.setattr(mine_module.loading, "load_encoder", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    rng = np.random.default_rng(5)
    a = embeddings_folder(tmp_path / "a", unit(rng.normal(size=(10, 8))), [f"a{i}" for i in range(10)], 4)
    b = embeddings_folder(tmp_path / "b", unit(rng.normal(size=(10, 6))), [f"b{i}" for i in range(10)], 4)
    out = str(tmp_path / "p.tsv")
    assert main(["mine", "--src-embeddings", str(a), "--tgt-embeddings", str(a), "--index", "hnsw",
                 "--target-recall", "1.5", "--out", out]) == 2
    assert capsys.readouterr().err.startswith("xlt: error: --target-recall 1.5: expected a number between 0 and 1")
    assert main(["mine", "--src-embeddings", str(a), "--tgt-embeddings", str(b), "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xlt: error:") and str(a) in err and str(b) in err and "8-dim" in err and "6-dim" in err
    # same dimension, another text prefix: the two sides do not share a space
    c = embeddings_folder(tmp_path / "c", unit(rng.normal(size=(10, 8))), [f"c{i}" for i in range(10)], 4)
    manifest = json.loads((c / "manifest.json").read_text(encoding="utf-8"))
    write_manifest(c, dict(manifest, text_prefix="passage: "))
    assert main(["mine", "--src-embeddings", str(a), "--tgt-embeddings", str(c), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "embedded differently" in err and "text_prefix None vs 'passage: '" in err
    # a changed shard is caught by its hash
    shard = b / shard_name(1)
    shard.write_bytes(shard.read_bytes()[:-4] + b"\0\0\0\0")
    assert main(["mine", "--src-embeddings", str(a), "--tgt-embeddings", str(b), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "SHA-256" in err and str(shard) in err
    assert not (tmp_path / "p.tsv").exists()
