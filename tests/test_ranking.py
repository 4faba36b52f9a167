"""Source-language ranking (issue 13): URIEL features, NDCG, the LambdaRank ranker, leave-one-target-out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xlt.cli import main
from xlt.jobs.rank import evaluate_loto
from xlt.transfer.ranking import (FEATURES, LanguageProfile, RankingError, ndcg_at, pair_features, relevance,
                                  uriel_code, uriel_distances)


def test_uriel_distances_agree_with_what_typology_says():
    d = uriel_distances(["eng", "deu", "jpn", "kor", "ara"])
    assert all(d[(l, l)][k] == pytest.approx(0.0, abs=1e-9) for l in ("eng", "jpn") for k in d[(l, l)])
    # German is an SVO/V2 Germanic language, Japanese SOV and unrelated: closer to English on both
    assert d[("eng", "deu")]["syntactic"] < d[("eng", "jpn")]["syntactic"]
    assert d[("eng", "deu")]["genetic"] < d[("eng", "jpn")]["genetic"]
    # Japanese and Korean are both SOV with postpositions
    assert d[("jpn", "kor")]["syntactic"] < d[("jpn", "eng")]["syntactic"]
    assert d[("eng", "deu")]["syntactic"] == pytest.approx(d[("deu", "eng")]["syntactic"])
    assert uriel_code("ara") == "arb" and uriel_code("zho") == "cmn" and uriel_code("deu") == "deu"


def test_a_language_missing_from_uriel_is_named():
    with pytest.raises(RankingError, match="not in URIEL.*qya"):  # Quenya has an ISO code, not URIEL data
        uriel_distances(["eng", "qya"])


def test_relevance_and_ndcg_hand_worked():
    rel = relevance({"a": 70.0, "b": 90.0, "c": 80.0}, levels=2)
    assert rel == {"b": 2, "c": 1, "a": 0}
    assert ndcg_at(["b", "c", "a"], rel, 3) == pytest.approx(1.0)
    # ranking c, b, a: DCG = (2^1-1)/log2(2) + (2^2-1)/log2(3) = 1 + 3/1.585 = 2.893; ideal = 3 + 1/1.585 = 3.631
    assert ndcg_at(["c", "b", "a"], rel, 3) == pytest.approx((1 + 3 / np.log2(3)) / (3 + 1 / np.log2(3)))
    assert ndcg_at(["a", "c", "b"], rel, 1) == 0.0


def test_pair_features_hand_worked():
    uriel = uriel_distances(["eng", "deu"])
    src = LanguageProfile("en", "eng", pieces={1, 2, 3, 4}, script="LATIN", train_size=99)
    tgt = LanguageProfile("de", "deu", pieces={3, 4, 5}, script="LATIN")
    f = pair_features(src, tgt, uriel)
    assert list(f) == list(FEATURES)
    assert f["subword_overlap"] == pytest.approx(2 / 5) and f["same_script"] == 1.0
    assert f["log_train_size"] == pytest.approx(np.log(100))


def test_ranker_learns_a_transfer_law_leave_one_target_out():
    """Scores made by a known rule (closer syntax and more shared pieces transfer better): the
    ranker, never shown the column it ranks, finds the best source far more often than chance."""
    rng = np.random.default_rng(0)
    langs = ["eng", "deu", "fra", "spa", "rus", "jpn", "kor", "hin", "tur", "fin", "ind", "vie"]
    uriel = uriel_distances(langs)
    profiles = {l: LanguageProfile(l, l, pieces=set(rng.choice(400, 120, replace=False).tolist()),
                                   script="LATIN" if l in ("eng", "deu", "fra", "spa", "tur", "fin", "ind", "vie")
                                   else l, train_size=1000) for l in langs}
    sources, targets = langs[:6], langs
    feats = {(s, t): pair_features(profiles[s], profiles[t], uriel) for s in sources for t in targets if s != t}
    queries = {}
    for t in targets:
        cands = [s for s in sources if s != t]
        scores = {s: 90 - 60 * feats[(s, t)]["uriel_syntactic"] + 20 * feats[(s, t)]["subword_overlap"]
                  + rng.normal(0, 0.5) for s in cands}
        queries[t] = (cands, [feats[(s, t)] for s in cands], scores)
    ev = evaluate_loto(queries, "eng")
    m = ev["methods"]
    assert m["ranker (LightGBM lambdarank)"]["n_targets"] == len(targets)
    chance = np.mean([1 / len(c) for c, _, _ in queries.values()]) * 100
    assert m["ranker (LightGBM lambdarank)"]["top1_accuracy"] > chance + 25
    assert m["ranker (LightGBM lambdarank)"]["mean_loss_vs_oracle"] < m["always eng"]["mean_loss_vs_oracle"]
    assert m["nearest by URIEL syntax"]["ndcg@3"] > 80  # the rule is mostly syntax


def _matrix(path, sources, targets, scores):
    path.mkdir(parents=True, exist_ok=True)
    (path / "matrix.json").write_text(json.dumps({"task": "udpos", "mode": "probe", "sources": sources,
                                                  "targets": targets, "scores": scores}), encoding="utf-8")
    return path


def test_rank_sources_bad_input(tmp_path, capsys, monkeypatch):
    import xlt.models.loading as loading

    monkeypatch.setattr(loading, "_load_hf", lambda *a, **k: pytest.fail("loaded"))
    one = _matrix(tmp_path / "one", ["en"], ["de"], {"en": {"de": 80.0}})
    two = _matrix(tmp_path / "two", ["en", "de"], ["fr", "de"], {"en": {"fr": 70.0, "de": 80.0},
                                                                  "de": {"fr": 60.0, "de": 95.0}})
    cases = [(["--matrix", str(one)], "single source"),
             (["--matrix", str(tmp_path / "none")], "no matrix.json"),
             (["--matrix", str(two), "--candidates", "en,sw"], "sw"),
             (["--matrix", str(two), "--target", "yo"], "--target yo"),
             (["--matrix", str(two), "--task", "panx"], "--task panx: no matrix of that task"),
             (["--matrix", str(_matrix(tmp_path / "q", ["en", "qya"], ["fr"], {"en": {"fr": 1.0},
                                                                                 "qya": {"fr": 2.0}}))],
              "not in URIEL")]
    for args, words in cases:
        assert main(["rank-sources", *args, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("xlt: error:") and words in err and "Traceback" not in err, err


def test_rank_sources_on_a_matrix_of_user_files(tiny, tmp_path):
    """A matrix made from a user's files (--train LANG=FILE) is ranked from those same files: the
    features of each language come from its own text (a copy of German's test set named Spanish has
    exactly German's pieces: overlap 1)."""
    import shutil

    from fixtures import make_synthetic_data

    _, spec = tiny
    ud = make_synthetic_data(tmp_path / "data").root / "udpos"
    for src, dst in (("test-fr.tsv", "train-fr.tsv"), ("test-de.tsv", "train-de.tsv"), ("test-de.tsv", "test-es.tsv")):
        shutil.copy(ud / src, ud / dst)
    args = ["--train", f"en={ud / 'train-en.tsv'}", "--train", f"fr={ud / 'train-fr.tsv'}",
            "--train", f"de={ud / 'train-de.tsv'}", "--dev", f"fr={ud / 'test-fr.tsv'}"]  # en, de: 10% held out
    args += [x for lang in ("en", "de", "fr", "es") for x in ("--eval", f"{lang}={ud / f'test-{lang}.tsv'}")]
    assert main(["transfer", *args, "--matrix", "--model", spec, "--mode", "probe", "--epochs", "2", "--no-progress",
                 "--out", str(tmp_path / "mx")]) == 0
    assert main(["rank-sources", "--matrix", str(tmp_path / "mx"), "--target", "es", "--model", spec,
                 "--out", str(tmp_path / "rk")]) == 0
    rep = json.loads((tmp_path / "rk" / "report.json").read_text(encoding="utf-8"))
    ranked = {r["source"]: r for r in rep["ranking"]["ranked"]}
    assert set(ranked) == {"en", "fr", "de"}
    assert ranked["de"]["features"]["subword_overlap"] == pytest.approx(1.0)
    n_fr = sum(1 for block in (ud / "train-fr.tsv").read_text(encoding="utf-8").split("\n\n") if block.strip())
    assert ranked["fr"]["features"]["log_train_size"] == pytest.approx(np.log1p(n_fr))  # its whole training file (its dev is its own file)
    assert rep["matrices"][0]["evaluation"]["methods"]["oracle"]["n_targets"] == 4  # en, de, fr, es: 2+ sources each


def test_rank_sources_on_a_builtin_matrix_whose_sources_are_not_targets(tiny, tmp_path):
    """A built-in task's matrix whose second source (de) is no target of the first source's run: its
    text comes from its training file (before: "udpos: empty target list" from the text lookup)."""
    import shutil

    from fixtures import make_synthetic_data

    _, spec = tiny
    data = make_synthetic_data(tmp_path / "data").root
    shutil.copy(data / "udpos" / "test-de.tsv", data / "udpos" / "train-de.tsv")
    assert main(["transfer", "--task", "udpos", "--source", "en,de", "--targets", "fr", "--matrix",
                 "--data-dir", str(data), "--model", spec, "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "mx")]) == 0
    mx = json.loads((tmp_path / "mx" / "matrix.json").read_text(encoding="utf-8"))
    assert mx["sources"] == ["en", "de"]  # en's run scores en and fr: de has no evaluation set in it
    from xlt.jobs.rank import _texts

    texts = _texts(dict(mx, _path=str(tmp_path / "mx")), 5, str(data))
    assert len(texts["de"]) == 5  # German's own (training) text, the first five sentences
    assert set(texts) >= {"en", "de", "fr"}
