"""Alignment measures (MEXA, language ID, mPLM-Sim), ``xlt analyze`` and ``xlt analyze correlate``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import write_ntrex

from xlt.cli import main
from xlt.evaluate.alignment import (
    language_identification_accuracy,
    language_similarity,
    mexa_alignment,
    mexa_score,
    rank_sources,
)
from xlt.evaluate.analyze import TooFewLanguagesError, match_languages
from xlt.jobs.analyze import AnalyzeSettings, CorrelateSettings, run_correlate
from xlt.jobs.analyze import run as run_analyze
from xlt.retrieval.scoring import retrieval_accuracy

# distinct sentences spelled with the tiny vocabulary's letters (every one tokenises differently)
SENTENCES = [f"zebra {a} {b} said {c}" for a, b, c in zip("abcdefghij", "klmnopqrst", "0123456789")]


# --------------------------------------------------------------------------- MEXA


def test_mexa_all_diagonals_win_row_and_column():
    s = np.array([[0.9, 0.1, 0.2],
                  [0.3, 0.8, 0.1],
                  [0.2, 0.4, 0.7]])
    assert mexa_score(s) == 1.0


def test_mexa_needs_the_column_too():
    # row 0: 0.9 beats its row (0.1, 0.2) but not its column (0.95 below it);
    # row 1: 0.5 loses its row to 0.95; row 2: 0.7 beats 0.2, 0.4 and 0.2, 0.1.
    s = np.array([[0.9, 0.1, 0.2],
                  [0.95, 0.5, 0.1],
                  [0.2, 0.4, 0.7]])
    assert retrieval_accuracy(s) == pytest.approx(2 / 3)  # row-wise retrieval still counts row 0
    assert mexa_score(s) == pytest.approx(1 / 3)
    assert mexa_score(s.T) == pytest.approx(1 / 3)


def test_mexa_ties_do_not_count():
    assert mexa_score(np.array([[0.5, 0.5], [0.1, 0.9]])) == 0.5


def test_mexa_alignment_on_vectors():
    x = np.random.default_rng(0).normal(size=(50, 8))
    assert mexa_alignment(x, 3.0 * x) == 1.0  # same directions: cosine 1 on the diagonal only
    # every translation is moved one row down: sentence i's own translation never wins
    assert mexa_alignment(x, np.roll(x, 1, axis=0)) == 0.0


@pytest.mark.parametrize("x, y", [(np.ones((3, 4)), np.ones((4, 4))), (np.ones((1, 4)), np.ones((1, 4))),
                                  (np.ones(4), np.ones(4))])
def test_mexa_alignment_rejects_bad_shapes(x, y):
    with pytest.raises(ValueError):
        mexa_alignment(x, y)


def test_mexa_score_rejects_non_square_and_nan():
    with pytest.raises(ValueError, match="square"):
        mexa_score(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        mexa_score(np.array([[1.0, np.nan], [0.0, 1.0]]))


# --------------------------------------------------------------------------- language neutrality


def test_language_id_offset_languages_before_and_after_centering():
    """Languages that differ only by a constant offset: identifiable, but identical once centred."""
    rng = np.random.default_rng(1)
    content = rng.normal(size=(200, 16))
    offsets = 4.0 * rng.normal(size=(4, 16))
    by_lang = {lang: content + offsets[k] for k, lang in enumerate(["eng", "deu", "fra", "zho"])}
    assert language_identification_accuracy(by_lang, center=False) > 0.95
    # after centring all four copies of a test sentence are the same vector, so the classifier
    # gives them one label: exactly one of the four is right
    assert language_identification_accuracy(by_lang, center=True) == pytest.approx(0.25)


def test_language_id_rejects_bad_input():
    a = np.ones((10, 3))
    with pytest.raises(ValueError, match="at least 2 languages"):
        language_identification_accuracy({"eng": a})
    with pytest.raises(ValueError, match="same"):
        language_identification_accuracy({"eng": a, "deu": np.ones((9, 3))})
    with pytest.raises(ValueError, match="test_fraction"):
        language_identification_accuracy({"eng": a, "deu": a}, test_fraction=1.0)


# --------------------------------------------------------------------------- language similarity


def test_similarity_hand_worked():
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    b = np.array([[2.0, 0.0], [1.0, 1.0]])  # cosines with a: 1 and 1/sqrt(2)
    c = np.array([[0.0, 1.0], [0.0, 3.0]])  # with a: 0 and 1; with b: 0 and 1/sqrt(2)
    sim = language_similarity({"a": a, "b": b, "c": c})
    h = 1 / np.sqrt(2)
    expected = np.array([[1.0, (1 + h) / 2, 0.5],
                         [(1 + h) / 2, 1.0, h / 2],
                         [0.5, h / 2, 1.0]])
    np.testing.assert_allclose(sim, expected, atol=1e-12)
    assert rank_sources(sim, ["a", "b", "c"], "c") == [("a", pytest.approx(0.5)), ("b", pytest.approx(h / 2))]
    assert [x for x, _ in rank_sources(sim, ["a", "b", "c"], "a")] == ["b", "c"]
    assert [x for x, _ in rank_sources(sim, ["a", "b", "c"], "a", candidates=["c"])] == ["c"]


def test_similarity_properties_on_random_vectors():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(30, 12))
    by_lang = {"eng": base, "deu": base + 0.1 * rng.normal(size=base.shape), "zho": rng.normal(size=base.shape)}
    sim = language_similarity(by_lang)
    np.testing.assert_allclose(sim, sim.T)
    np.testing.assert_allclose(np.diag(sim), 1.0)
    assert rank_sources(sim, list(by_lang), "eng")[0][0] == "deu"


def test_similarity_and_ranking_errors():
    with pytest.raises(ValueError, match="zero vector"):
        language_similarity({"a": np.zeros((2, 2)), "b": np.ones((2, 2))})
    with pytest.raises(ValueError, match="target"):
        rank_sources(np.eye(2), ["a", "b"], "c")
    with pytest.raises(ValueError, match="candidates"):
        rank_sources(np.eye(2), ["a", "b"], "a", candidates=["x"])
    with pytest.raises(ValueError):
        rank_sources(np.eye(3), ["a", "b"], "a")


# --------------------------------------------------------------------------- correlate


def correlate(alignment, transfer, layer=None, **settings) -> dict:
    """The report of ``xlt analyze correlate`` run through the Python API."""
    return run_correlate(CorrelateSettings(alignment=alignment, transfer=transfer, alignment_layer=layer,
                                           **settings)).report


def write_json(folder, data):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


def make_reports(tmp_path, transfer_scores=None):
    """Alignment report (layers 0-2, reported layer 1) and a udpos-style transfer report.

    Paired in the order de, ar, zh, fr, pt: transfer = x**3 for x = 1..5; the MEXA values are
    reversed at layer 0, x at layer 1 (monotone, not linear) and proportional to x**3 at layer 2.
    """
    x = np.arange(1, 6, dtype=float)
    values = {"deu": 0, "arb": 1, "zho-CN": 2, "fra": 3, "por": 4}
    mexa = {a: [6 - x[i], x[i], x[i] ** 3 / 2] for a, i in values.items()}
    mexa.update({"zho-TW": [0.0, 0.0, 0.0], "por-BR": [1.0, 1.0, 1.0], "jpn": [2.0, 2.0, 2.0]})
    align = {"scores": {a: v[1] for a, v in mexa.items()}, "layer": 1, "layers": [0, 1, 2], "model": "m",
             "per_layer": {"mexa": mexa, "retrieval_xx_to_eng": {a: [50.0, 50.0, 50.0] for a in mexa}}}
    scores = transfer_scores or {"en": 95.0, "de": 1.0, "ar": 8.0, "zh": 27.0, "fr": 64.0, "pt": 125.0, "sw": 3.0}
    transfer = {"task": "udpos", "metric": "accuracy", "mode": "probe", "model": "m", "source": "en",
                "scores": scores}
    return write_json(tmp_path / "align", align), write_json(tmp_path / "transfer", transfer)


def test_correlate_known_values(tmp_path):
    a, t = make_reports(tmp_path)
    rep = correlate(a, t, out=tmp_path / "corr")
    x = np.arange(1, 6, dtype=float)
    assert rep["n"] == 5 and rep["layer"] == 1
    assert rep["spearman"]["rho"] == pytest.approx(1.0)
    assert rep["pearson"]["r"] == pytest.approx(np.corrcoef(x, x**3)[0, 1]) and rep["pearson"]["r"] < 0.99
    per_layer = {r["layer"]: r for r in rep["per_layer"]}
    assert per_layer[0]["spearman_rho"] == pytest.approx(-1.0)
    assert per_layer[2]["pearson_r"] == pytest.approx(1.0)
    assert rep["best_layer"]["pearson"] == 2
    assert {r["transfer_lang"]: r["alignment_lang"] for r in rep["table"]} == {
        "de": "deu", "ar": "arb", "zh": "zho-CN", "fr": "fra", "pt": "por"}
    assert rep["choices"]["zh"]["chosen"] == "zho-CN" and rep["choices"]["pt"]["chosen"] == "por"
    assert rep["unmatched_transfer"] == ["sw"]
    assert sorted(rep["unmatched_alignment"]) == ["jpn", "por-BR", "zho-TW"]
    assert "en" not in {r["transfer_lang"] for r in rep["table"]}
    for name in ("report.json", "report.md", "correlation.png"):
        assert (tmp_path / "corr" / name).is_file()
    saved = json.loads((tmp_path / "corr" / "report.json").read_text(encoding="utf-8"))
    assert saved["spearman"]["rho"] == pytest.approx(1.0)
    # another layer, and the mean over layers
    assert correlate(a, t, layer=0)["spearman"]["rho"] == pytest.approx(-1.0)
    mean = correlate(a, t, layer="mean")
    assert {r["alignment_lang"]: r["alignment"] for r in mean["table"]}["deu"] == pytest.approx((5 + 1 + 0.5) / 3)
    # retrieval is constant here: no correlation can be computed, reported as NaN (null in JSON)
    assert np.isnan(correlate(a, t, metric="retrieval")["pearson"]["r"])


def test_match_languages_codes():
    m = match_languages(["ar", "zh", "pt", "tl", "xx-bogus"], ["arb", "zho-TW", "zho-CN", "por-BR", "por", "fil"])
    assert m["pairs"] == {"ar": "arb", "zh": "zho-CN", "pt": "por", "tl": "fil"}
    assert m["unmatched_transfer"] == ["xx-bogus"]
    assert m["unmatched_alignment"] == ["zho-TW", "por-BR"]


def test_correlate_errors(tmp_path, capsys):
    a, t = make_reports(tmp_path, transfer_scores={"en": 90.0, "de": 50.0, "ar": 40.0})
    with pytest.raises(TooFewLanguagesError, match="at least 3"):
        correlate(a, t)
    assert main(["analyze", "correlate", "--alignment", str(a), "--transfer", str(t)]) == 2
    assert "xlt: error:" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not analysed"):
        correlate(a, t, layer=7)
    assert main(["analyze", "correlate", "--alignment", str(tmp_path / "nope"), "--transfer", str(t)]) == 2
    assert "report.json" in capsys.readouterr().err


def test_cli_correlate(tmp_path, capsys):
    a, t = make_reports(tmp_path)
    out = tmp_path / "corr"
    assert main(["analyze", "correlate", "--alignment", str(a), "--transfer", str(t), "--layer", "2",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Pearson r = 1.000" in printed and "n = 5" in printed
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["layer"] == 2


# --------------------------------------------------------------------------- xlt analyze




@pytest.mark.usefixtures("single_torch_thread")
def test_cli_analyze_tiny(tiny, tmp_path, capsys):
    encoder, spec = tiny
    eng = SENTENCES + ["the cat sat"]
    fra = list(reversed(SENTENCES)) + [""]  # last line empty in one language: dropped everywhere
    root = write_ntrex(tmp_path, {"eng": eng, "deu": eng, "fra": fra})
    out = tmp_path / "report"
    code = main(["analyze", "--parallel", "ntrex", "--langs", "de,fr", "--model", spec, "--data-dir", str(root),
                 "--out", str(out), "--no-progress", "--batch-size", "4"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "MEXA" in printed and "reported layer" in printed
    for name in ("report.json", "report.md", "layers.png", "mexa_layers.png", "similarity.png"):
        assert (out / name).is_file(), name
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    n_layers = encoder.num_layers + 1
    assert rep["layers"] == list(range(n_layers))
    assert len(rep["per_layer_average"]) == n_layers
    assert all(len(v) == n_layers for table in rep["per_layer"].values() for v in table.values())
    # German is a copy of English: identical vectors, every sentence aligned at every layer
    assert rep["per_layer"]["mexa"]["deu"] == [100.0] * n_layers
    assert rep["per_layer"]["retrieval_xx_to_eng"]["deu"] == [100.0] * n_layers
    assert set(rep["scores"]) == {"deu", "fra"} and rep["scores"]["deu"] == 100.0
    assert rep["counts"]["sentences"] == 10 and rep["counts"]["skipped_empty"] == 1
    assert rep["counts"]["skipped_lines"] == [11]
    sim = dict(zip(rep["similarity"]["langs"], rep["similarity"]["matrix"]))
    assert sim["eng"][rep["similarity"]["langs"].index("deu")] == pytest.approx(1.0)
    assert rep["source_ranking"]["eng"][0][0] == "deu"
    assert 0.0 <= rep["per_layer_average"][0]["lid_accuracy"] <= 100.0
    assert rep["manifest"]["seeds"] == [0]


def test_cli_analyze_checks_data_before_the_model(tmp_path, capsys):
    root = write_ntrex(tmp_path, {"eng": SENTENCES, "deu": SENTENCES, "fra": SENTENCES[:-1]})
    code = main(["analyze", "--langs", "deu,fra", "--model", str(tmp_path / "no-model"), "--data-dir", str(root),
                 "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "xlt: error:" in err and "newstest2019-ref.fra.txt" in err
    with pytest.raises(SystemExit):  # --out is required without 'correlate'
        main(["analyze", "--langs", "deu", "--data-dir", str(root)])
    with pytest.raises(TooFewLanguagesError):
        run_analyze(AnalyzeSettings(langs="en", data_dir=str(root), progress=False))


def test_analyze_settings_checks_and_the_report_config():
    from xlt.jobs import ConfigError

    s = AnalyzeSettings(langs="de,fr", layers="0,2", targets="de", lid_sentences=0, layer=2, out="o")
    assert (s.langs, s.layers, s.layer, s.lid_sentences, s.parallel) == (["de", "fr"], ["0", "2"], "2", None, ["ntrex"])
    cfg = s.report_config()  # the report's config keeps the form and order reports have always had
    assert list(cfg)[:6] == ["parallel", "langs", "model", "pooling", "layers", "layer"] and "progress" not in cfg
    assert (cfg["parallel"], cfg["langs"], cfg["layers"], cfg["targets"], cfg["lid_sentences"], cfg["out"]) == \
        ("ntrex", "de,fr", "0,2", "de", None, "o")
    assert AnalyzeSettings(parallel=["a.en", "b.de"]).report_config()["parallel"] == ["a.en", "b.de"]
    for kwargs, message in [({"parallel": ["a", "b", "c"]}, "got 3 paths"), ({"layers": "0,x"}, "--layers 0,x"),
                            ({"layer": "top"}, "--layer top"), ({"limit": 1}, "--limit 1: expected a whole number >= 2"),
                            ({"test_fraction": 1.0}, "--test-fraction 1.0")]:
        with pytest.raises(ConfigError, match=message):
            AnalyzeSettings(**kwargs)
    with pytest.raises(ConfigError, match="--layer x: expected a layer number or mean"):
        CorrelateSettings(alignment="a", transfer="t", alignment_layer="x")
    assert CorrelateSettings(alignment="a", transfer="t", alignment_layer=3).alignment_layer == "3"


@pytest.mark.integration
def test_ntrex_languages_match_udpos_codes(data_root):
    """The real NTREX files for 20 UD-POS languages line up and pair with XTREME codes."""
    from xlt.data.parallel import read_multiparallel, select_ntrex

    xtreme = "de,fr,es,ru,zh,ar,hi,ja,ko,fi,tr,vi,he,fa,id,it,nl,pl,pt,uk".split(",")
    files = select_ntrex(",".join(xtreme), data_root)
    assert len(files) == 21 and next(iter(files)) == "eng"
    data = read_multiparallel(files)
    assert data.n_lines == 1997 and len(data.lines) == 1997 - data.n_skipped_empty
    m = match_languages(xtreme, [lang for lang in files if lang != "eng"])
    assert not m["unmatched_transfer"] and m["pairs"]["zh"] == "zho-CN" and m["pairs"]["ar"] == "arb"


@pytest.mark.usefixtures("single_torch_thread")
def test_analyze_user_folder_matches_ntrex(tiny, tmp_path):
    """The NTREX case above as a user's folder (en.txt, de.txt, fr.txt): the same numbers."""
    _, spec = tiny
    eng = SENTENCES + ["the cat sat"]
    fra = list(reversed(SENTENCES)) + [""]
    root = write_ntrex(tmp_path, {"eng": eng, "deu": eng, "fra": fra})
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, lines in (("en", eng), ("de", eng), ("fr", fra)):
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "README.md").write_text("my corpus\n", encoding="utf-8")
    opts = dict(model=spec, batch_size=4, progress=False, lid_sentences=None)
    a = run_analyze(AnalyzeSettings(langs="de,fr", data_dir=str(root), **opts)).report
    b = run_analyze(AnalyzeSettings(parallel=str(folder), out=str(tmp_path / "out"), **opts)).report
    assert a["source"] == "eng" and b["source"] == "en" and b["parallel_name"] == str(folder)
    assert list(b["scores"]) == ["de", "fr"] and b["scores"]["de"] == 100.0
    assert b["per_layer"]["mexa"]["de"] == a["per_layer"]["mexa"]["deu"]
    assert b["per_layer"]["mexa"]["fr"] == a["per_layer"]["mexa"]["fra"]
    assert b["per_layer"]["retrieval_xx_to_eng"]["fr"] == a["per_layer"]["retrieval_xx_to_eng"]["fra"]
    assert b["counts"]["sentences"] == 10 and b["counts"]["skipped_lines"] == [11]
    assert b["counts"]["ignored_files"] == [str(folder / "README.md")]
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "· mine" in md and "against English (en)" in md


@pytest.mark.usefixtures("single_torch_thread")
def test_cli_analyze_pivot_and_pair_file(tiny, tmp_path, capsys):
    _, spec = tiny
    pair = tmp_path / "news.en-fr.txt"  # French = English here: every sentence aligned
    pair.write_text("\n".join(f"{s} ||| {s}" for s in SENTENCES) + "\n", encoding="utf-8")
    out = tmp_path / "pair"
    assert main(["analyze", "--parallel", str(pair), "--model", spec, "--out", str(out), "--no-progress",
                 "--lid-sentences", "0"]) == 0
    printed = capsys.readouterr().out
    assert "news.en-fr.txt alignment" in printed and "1 languages ↔ en" in printed
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["scores"] == {"fr": 100.0} and rep["counts"]["sentences"] == 10
    # --pivot: French is scored against, English becomes the target
    assert main(["analyze", "--parallel", str(pair), "--pivot", "fra", "--model", spec, "--out",
                 str(tmp_path / "piv"), "--no-progress", "--lid-sentences", "0"]) == 0
    rep = json.loads((tmp_path / "piv" / "report.json").read_text(encoding="utf-8"))
    assert rep["source"] == "fr" and rep["scores"] == {"en": 100.0} and "French" in rep["metric_name"]


@pytest.mark.usefixtures("single_torch_thread")
def test_analyze_embeddings_folders_match_encoding_the_text(tiny, tmp_path, capsys):
    """``--embeddings`` on ``xlt embed`` folders of each language gives the scores that encoding the
    same files gives at that layer (the reference: the encoding path, same model and pooling)."""
    _, spec = tiny
    eng = SENTENCES
    fra = list(reversed(SENTENCES[:5])) + SENTENCES[5:]  # the first five misaligned
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, lines in (("en", eng), ("de", eng), ("fr", fra)):
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert main(["embed", str(folder / f"{name}.txt"), "--out", str(tmp_path / "emb" / name), "--model", spec,
                     "--layer", "1", "--shard-size", "4", "--no-progress"]) == 0
    opts = dict(progress=False, lid_sentences=None)
    encoded = run_analyze(AnalyzeSettings(parallel=str(folder), model=spec, batch_size=4, **opts)).report
    emb = [f"{l}={tmp_path / 'emb' / l}" for l in ("en", "de", "fr")]
    capsys.readouterr()
    assert main(["analyze", "--embeddings", *emb, "--out", str(tmp_path / "out"), "--no-progress",
                 "--lid-sentences", "0"]) == 0
    assert "model " + spec in capsys.readouterr().out
    got = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    k = encoded["layers"].index(1)
    assert got["layers"] == [1] and got["layer"] == 1 and got["parallel_name"] == "embeddings"
    for key in ("mexa", "retrieval_xx_to_eng", "retrieval_eng_to_xx"):
        for lang in ("de", "fr"):
            assert got["per_layer"][key][lang][0] == pytest.approx(encoded["per_layer"][key][lang][k], abs=1e-6)
    assert got["scores"]["de"] == 100.0 and got["scores"]["fr"] < 100.0  # five of ten French rows misaligned
    sim = np.array(got["similarity"]["matrix"])
    assert sim.shape == (3, 3) and got["config"]["embeddings"] == emb
    # bad input: one line, exit 2, no model loaded (none is needed)
    for extra, words in ((["--layer", "0"], "hold layer 1 only"), (["--pooling", "cls"], "--pooling"),
                         (["--langs", "xx"], "xx")):
        assert main(["analyze", "--embeddings", *emb, "--out", str(tmp_path / "bad"), "--no-progress", *extra]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("xlt: error: ")]
        assert len(err) == 1 and words in err[0], err
    assert main(["analyze", "--embeddings", emb[0], f"de={tmp_path / 'corpus'}", "--out", str(tmp_path / "bad"),
                 "--no-progress"]) == 2  # a folder xlt embed did not make
    assert "corpus" in capsys.readouterr().err
    assert main(["analyze", "--embeddings", emb[0], emb[1].replace("de=", "en="), "--out", str(tmp_path / "bad"),
                 "--no-progress"]) == 2
    assert "given twice" in capsys.readouterr().err
    gap = tmp_path / "gap.txt"  # an empty line: xlt embed skips it, so row i is no longer line i
    gap.write_text("\n".join(SENTENCES[:5] + [""] + SENTENCES[5:]) + "\n", encoding="utf-8")
    assert main(["embed", str(gap), "--out", str(tmp_path / "emb" / "gap"), "--model", spec, "--layer", "1",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["analyze", "--embeddings", emb[0], f"fr={tmp_path / 'emb' / 'gap'}", "--out", str(tmp_path / "bad"),
                 "--no-progress"]) == 2
    assert "skipped 1 empty" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
