"""Source ranking without a lab (issue 26): the shipped rankers, and matrices of every shape ranked.

The shipped rankers are files in the package (``xlt/transfer/rankers``); the tests that use them
read the real built-in text (``../shared/data``) and the bundled tokenizer, as ``rank-sources``
does on a fresh clone.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from xlt.cli import main
from xlt.transfer.ranking import (RANKER_KINDS, RANKERS_DIR, SHIPPED_FEATURES, RankingError, SourceRanker,
                                  ranker_kind, shipped_ranker)

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def _groups(rng: np.random.Generator, n_queries: int = 6, n_cands: int = 5) -> list:
    """Queries whose relevance follows one feature (the ranker has something to learn)."""
    groups = []
    for _ in range(n_queries):
        feats = [{f: float(rng.random()) for f in SHIPPED_FEATURES} for _ in range(n_cands)]
        order = np.argsort([-f["subword_overlap"] for f in feats])
        rel = [0] * n_cands
        for rank, i in enumerate(order):
            rel[i] = max(0, n_cands - rank)
        groups.append((feats, rel))
    return groups


def test_a_ranker_round_trips_through_lightgbm_text():
    rng = np.random.default_rng(0)
    groups = _groups(rng)
    ranker = SourceRanker(features=SHIPPED_FEATURES).fit(groups)
    again = SourceRanker.from_string(ranker.to_string(), SHIPPED_FEATURES)
    probe = [{f: float(rng.random()) for f in SHIPPED_FEATURES} for _ in range(20)]
    assert np.allclose(ranker.score(probe), again.score(probe))
    # it learnt the one feature that decides: more overlap, a higher score
    lo, hi = dict(probe[0], subword_overlap=0.0), dict(probe[0], subword_overlap=1.0)
    assert again.score([hi])[0] > again.score([lo])[0]
    with pytest.raises(RankingError, match="has 8 features"):
        SourceRanker.from_string(ranker.to_string(), SHIPPED_FEATURES[:3])
    with pytest.raises(RankingError, match="not a LightGBM"):
        SourceRanker.from_string("tree\nnonsense", SHIPPED_FEATURES)


def test_task_names_and_kinds():
    assert [ranker_kind(t) for t in ("udpos", "panx", "sib200", "NER", None, "general")] == \
        ["pos", "ner", "classification", "ner", "general", "general"]
    with pytest.raises(RankingError, match="pos, ner, classification, general"):
        ranker_kind("parsing")


@pytest.mark.parametrize("kind", list(RANKER_KINDS))
def test_every_shipped_ranker_loads_with_its_provenance(kind):
    ranker, prov = shipped_ranker(kind)
    assert ranker.features[:len(SHIPPED_FEATURES)] == SHIPPED_FEATURES
    assert prov["kind"] == kind and prov["common"]["model"] == "bundled:e5-small"
    assert set(prov["matrices"]) == set(RANKER_KINDS[kind])  # trained on the matrices of its tasks
    loto = prov["evaluation"]["leave one target out"]
    assert loto["n_targets"] >= 30 and 0 <= loto["ndcg@3"] <= 100
    assert len(prov["candidates"]) >= 10


def test_shipped_ranker_files_that_are_damaged_are_named(tmp_path):
    shutil.copytree(RANKERS_DIR, tmp_path / "r")
    (tmp_path / "r" / "ner.txt").write_text("garbage", encoding="utf-8")
    with pytest.raises(RankingError, match="not a LightGBM"):
        shipped_ranker("ner", tmp_path / "r")
    (tmp_path / "r" / "rankers.json").write_text("{", encoding="utf-8")
    with pytest.raises(RankingError, match="rankers.json"):
        shipped_ranker("ner", tmp_path / "r")


def test_rank_sources_for_yoruba_ner_without_a_matrix(tmp_path, data_root, capsys):
    out = tmp_path / "rk"
    assert main(["rank-sources", "--target", "yor", "--task", "ner", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    r = rep["ranking"]
    _, prov = shipped_ranker("ner")
    assert r["target"] == "yor" and r["task"] == "ner"
    assert {x["source"] for x in r["ranked"]} == set(prov["candidates"]) - {"yo"}
    scores = [x["ranker_score"] for x in r["ranked"]]
    assert scores == sorted(scores, reverse=True)
    for x in r["ranked"]:  # the features behind each candidate are shown, and are what they say
        assert set(x["features"]) == set(r["features"]) >= set(SHIPPED_FEATURES)
        assert 0.0 <= x["features"]["subword_overlap"] <= 1.0 and x["features"]["same_script"] in (0.0, 1.0)
    en = next(x for x in r["ranked"] if x["source"] == "en")
    assert en["features"]["same_script"] == 1.0  # Yoruba is written in Latin script, as English
    assert "sources for yor" in printed and "shipped ner ranker" in printed
    assert "The shipped ranker: ner" in (out / "report.md").read_text(encoding="utf-8")


def test_rank_sources_takes_the_users_text_and_candidates(tmp_path, data_root):
    text = tmp_path / "yo.txt"
    text.write_text("".join(f"Ọmọ náà lọ sí ọjà ní ọjọ́ {i} .\n" for i in range(40)), encoding="utf-8")
    out = tmp_path / "rk"
    assert main(["rank-sources", "--target", "yo", "--candidates", "eng,fra,swh", "--text", f"yo={text}",
                 "--out", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert sorted(x["source"] for x in rep["ranking"]["ranked"]) == ["eng", "fra", "swh"]
    # English on Yoruba was measured in the training matrices (spelled en/yo there): shown beside it
    _, prov = shipped_ranker("general")
    eng = next(x for x in rep["ranking"]["ranked"] if x["source"] == "eng")
    assert eng["observed"] in [row.get("yo") for row in (m.get("en", {}) for m in prov["scores"].values())]
    assert rep["ranking"]["target_text"] == {str(text): 40}
    assert rep["ranking"]["task"] == "general"


@pytest.mark.parametrize("argv, words", [
    (["--target", "yor", "--task", "parsing"], ["--task parsing"]),
    (["--target", "yor", "--candidates", "en,qya"], ["not in URIEL", "qya"]),
    (["--target", "yor", "--candidates", "en"], ["at least two source languages"]),
    (["--task", "ner"], ["--target"]),
    (["--target", "yor", "--candidates", "en,fr", "--text", "de={root}/none.txt"], ["--text de=", "neither --target nor"]),
    (["--target", "yor", "--text", "yor={root}/none.txt"], ["none.txt"]),
])
def test_rank_sources_without_a_matrix_bad_input(argv, words, tmp_path, capsys, monkeypatch):
    import xlt.models.loading as loading

    monkeypatch.setattr(loading, "load_tokenizer", lambda *a, **k: pytest.fail("the tokenizer loaded"))
    args = [a.format(root=tmp_path) for a in argv]
    assert main(["rank-sources", *args, "--out", str(tmp_path / "rk")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xlt: error:") and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)


# --------------------------------------------------------------------------- matrices of every shape
def _user_matrix(tiny, tmp_path, sources, evals, extra=()):
    """A probe matrix of the user's files (``--train LANG=FILE`` per source)."""
    from fixtures import make_synthetic_data

    _, spec = tiny
    ud = make_synthetic_data(tmp_path / "data").root / "udpos"
    for lang in set(sources) | set(evals):
        for split in ("train", "test"):
            if not (ud / f"{split}-{lang}.tsv").exists():
                shutil.copy(ud / "test-de.tsv", ud / f"{split}-{lang}.tsv")
    args = [x for lang in sources for x in ("--train", f"{lang}={ud / f'train-{lang}.tsv'}")]
    args += [x for lang in evals for x in ("--eval", f"{lang}={ud / f'test-{lang}.tsv'}")]
    out = tmp_path / "mx"
    assert main(["transfer", *args, "--matrix", "--model", spec, "--mode", "probe", "--epochs", "1",
                 "--no-progress", "--out", str(out), *extra]) == 0
    return out, spec


def test_a_matrix_too_small_to_learn_from_is_refused_up_front_with_its_counts(tiny, tmp_path, capsys, monkeypatch):
    mx, spec = _user_matrix(tiny, tmp_path, ["en", "de", "fr"], ["es", "it"])  # 3 sources x 2 targets
    import xlt.jobs.rank as rank

    monkeypatch.setattr(rank, "_texts", lambda *a, **k: pytest.fail("text was read before the size check"))
    assert main(["rank-sources", "--matrix", str(mx), "--model", spec, "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "needs at least 3 targets" in err and "it has 2" in err and "es: 3, it: 3" in err
    assert main(["rank-sources", "--matrix", str(mx), "--target", "es", "--model", spec,
                 "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "needs at least 2 other targets" in err and "it has 1" in err and "shipped ranker" in err


def test_a_matrix_made_with_a_label_map_ranks(tiny, tmp_path):
    """The targets have a DATE type the English file lacks; the matrix maps it away (--label-map
    DATE=O). Ranking reads the files for their text only, so the map is not applied again."""
    from fixtures import make_synthetic_data

    _, spec = tiny
    ud = make_synthetic_data(tmp_path / "data").root / "panx"
    en = (ud / "train-en.tsv").read_text(encoding="utf-8")
    dated = en.replace("\tO\n", "\tB-DATE\n", 3)
    for lang in ("de", "fr", "es", "it"):
        (ud / f"x-{lang}.tsv").write_text(dated, encoding="utf-8")
    args = ["--train", f"en={ud / 'train-en.tsv'}", "--train", f"de={ud / 'x-de.tsv'}",
            "--train", f"fr={ud / 'x-fr.tsv'}", "--label-map", "DATE=O"]
    args += [x for lang in ("de", "fr", "es", "it") for x in ("--eval", f"{lang}={ud / f'x-{lang}.tsv'}")]
    assert main(["transfer", *args, "--matrix", "--model", spec, "--mode", "probe", "--epochs", "1",
                 "--no-progress", "--out", str(tmp_path / "mx")]) == 0
    mx = json.loads((tmp_path / "mx" / "matrix.json").read_text(encoding="utf-8"))
    # every target is also a source here or not: each row still has a zero-shot average
    assert all(v is not None for v in mx["source_average"].values())
    assert main(["rank-sources", "--matrix", str(tmp_path / "mx"), "--model", spec, "--target", "es",
                 "--out", str(tmp_path / "rk")]) == 0
    rep = json.loads((tmp_path / "rk" / "report.json").read_text(encoding="utf-8"))
    assert {x["source"] for x in rep["ranking"]["ranked"]} == {"en", "de", "fr"}


def test_every_target_a_source_still_has_averages(tiny, tmp_path):
    mx, _ = _user_matrix(tiny, tmp_path, ["en", "de", "fr"], ["en", "de", "fr"])
    rep = json.loads((mx / "matrix.json").read_text(encoding="utf-8"))
    assert rep["shared_targets"] == [] and rep["shared_average"] == {"en": None, "de": None, "fr": None}
    for s in ("en", "de", "fr"):  # the mean of the two other languages' cells
        others = [v for t, v in rep["scores"][s].items() if t != s]
        assert rep["source_average"][s] == pytest.approx(sum(others) / 2)
    assert "zero-shot average" in (mx / "matrix.md").read_text(encoding="utf-8")


def test_a_small_matrix_ensembles_with_the_shipped_ranker(tiny, tmp_path, data_root):
    """Two sources and one target that is no source's language: too little to learn a ranker from,
    so the top-1 ensemble follows the shipped ranker (before: a traceback after the whole matrix)."""
    mx, _ = _user_matrix(tiny, tmp_path, ["en", "fr"], ["en", "fr", "de"], extra=["--ensemble", "1"])
    rep = json.loads((mx / "matrix.json").read_text(encoding="utf-8"))
    ens = rep["ensembles"]
    assert ens["targets"] == ["de"] and ens["top_sources"]["de"][0] in ("en", "fr")
    top = ens["top_sources"]["de"][0]
    assert ens["top"]["de"] == pytest.approx(rep["scores"][top]["de"])  # a top-1 ensemble is that source's model


def test_uriel_vectors_are_lang2vecs():
    """xlt reads lang2vec's data file once per feature set; the values are get_features' own."""
    from xlt.transfer.ranking import URIEL_DISTANCES, _lang2vec, uriel_vectors

    langs = ["eng", "yor", "deu", "cmn", "hin", "fin"]
    l2v = _lang2vec()
    for fs in sorted({f for sets in URIEL_DISTANCES.values() for f in sets}):
        ref = l2v.get_features(langs, fs)
        ours = uriel_vectors(langs, fs)
        for lang in langs:
            expected = np.array([0.0 if v == "--" else float(v) for v in ref[lang]])
            assert np.array_equal(ours[lang], expected), (fs, lang)


def test_the_tokenizer_alone_is_the_encoders():
    from xlt.models.loading import load_encoder, load_tokenizer

    text = ["Ọmọ náà lọ sí ọjà .", "Der Hund läuft schnell nach Hause .", "これは日本語の文です。"]
    assert load_tokenizer("bundled:e5-small")(text)["input_ids"] == load_encoder("bundled:e5-small").tokenizer(text)["input_ids"]


def test_a_builtin_matrix_with_an_ensemble_ranks_and_ensembles(tiny, tmp_path, data_root):
    """The README's form (built-in task, sources that are no targets, --ensemble): the whole
    command succeeds, and the top-1 ensemble is the chosen source's own model."""
    from fixtures import make_synthetic_data

    _, spec = tiny
    data = make_synthetic_data(tmp_path / "data").root
    shutil.copy(data / "udpos" / "test-fr.tsv", data / "udpos" / "train-fr.tsv")
    out = tmp_path / "mx"
    assert main(["transfer", "--task", "udpos", "--source", "en,fr", "--targets", "de", "--matrix", "--ensemble", "1",
                 "--data-dir", str(data), "--model", spec, "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    rep = json.loads((out / "matrix.json").read_text(encoding="utf-8"))
    top = rep["ensembles"]["top_sources"]["de"][0]
    assert rep["ensembles"]["top"]["de"] == pytest.approx(rep["scores"][top]["de"])
