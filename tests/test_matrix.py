"""Transfer matrices (issue 13): ``xlt transfer --source a,b --matrix``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from xlt.cli import main
from xlt.evaluate.matrix import best_sources
from xlt.jobs.transfer import TransferConfig, run_transfer

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_best_sources_hand_worked():
    scores = {"en": {"de": 80.0, "fr": 70.0, "en": 95.0, "sw": 40.0},
              "fr": {"de": 75.0, "fr": 99.0, "sw": 55.0},
              "de": {"de": 98.0, "fr": 72.0, "sw": 55.0}}
    best = best_sources(scores)
    assert best["de"] == {"source": "en", "score": 80.0, "first": "en", "first_score": 80.0, "gain": 0.0}
    assert best["fr"]["source"] == "de" and best["fr"]["gain"] == pytest.approx(2.0)  # fr itself is excluded
    assert best["sw"]["source"] == "fr" and best["sw"]["gain"] == pytest.approx(15.0)  # tie: the earlier source
    assert "en" not in best  # only English scored en: that is no transfer


@pytest.fixture
def two_sources(tmp_path):
    from fixtures import make_synthetic_data

    data = make_synthetic_data(tmp_path / "data")
    ud = data.root / "udpos"
    # a second source language with training data: the French test sentences (NOUN/VERB swapped)
    shutil.copy(ud / "test-fr.tsv", ud / "train-fr.tsv")
    shutil.copy(ud / "test-fr.tsv", ud / "dev-fr.tsv")
    return data


def test_matrix_rows_are_the_single_source_runs(tiny, two_sources, tmp_path):
    _, spec = tiny
    common = dict(task="udpos", model=spec, data_dir=str(two_sources.root), mode="probe", epochs=3,
                  progress=False, targets="de,fr")
    single_en = run_transfer(TransferConfig(source="en", **common))
    single_fr = run_transfer(TransferConfig(source="fr", **common))
    out = tmp_path / "mx"
    assert main(["transfer", "--task", "udpos", "--source", "en,fr", "--matrix", "--targets", "de,fr",
                 "--model", spec, "--data-dir", str(two_sources.root), "--mode", "probe", "--epochs", "3",
                 "--no-progress", "--out", str(out)]) == 0
    rep = json.loads((out / "matrix.json").read_text(encoding="utf-8"))
    assert rep["sources"] == ["en", "fr"]
    # each row is exactly what a single-source run with the same settings scores
    assert rep["scores"]["en"] == pytest.approx(single_en["scores"])
    assert rep["scores"]["fr"] == pytest.approx(single_fr["scores"])
    assert rep["shared_targets"] == ["de"]
    assert rep["shared_average"]["en"] == pytest.approx(single_en["scores"]["de"])
    # a source's zero-shot average leaves out its own language only: en over de and fr, fr over de alone
    assert rep["source_average"]["en"] == pytest.approx((single_en["scores"]["de"] + single_en["scores"]["fr"]) / 2)
    assert rep["source_average"]["fr"] == pytest.approx(single_fr["scores"]["de"])
    # the French data has NOUN and VERB swapped, so on German (labelled like English) English wins
    assert rep["best_source"]["de"]["source"] == "en" and rep["scores"]["en"]["de"] > rep["scores"]["fr"]["de"]
    assert {p.name for p in out.iterdir()} == {"matrix.json", "matrix.md", "matrix.png", "by-source"}
    assert json.loads((out / "by-source" / "fr" / "report.json").read_text())["source"] == "fr"
    md = (out / "matrix.md").read_text(encoding="utf-8")
    assert "| en |" in md and "(" in md  # the source's own language in brackets


def test_matrix_bad_input(tiny, two_sources, tmp_path, capsys, monkeypatch):
    import xlt.jobs.matrix as matrix

    monkeypatch.setattr(matrix, "load_encoder", lambda *a, **k: pytest.fail("the model was loaded"))
    _, spec = tiny
    base = ["transfer", "--task", "udpos", "--matrix", "--model", spec, "--data-dir", str(two_sources.root),
            "--out", str(tmp_path / "o")]
    for extra, words in ((["--source", "en"], "at least two"),
                         (["--source", "en,xx"], "xx"),
                         (["--source", "en,fr,en"], "twice"),
                         (["--source", "en,fr", "--save", str(tmp_path / "m")], "--save")):
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert err.startswith("xlt: error:") and words in err, err
    assert main(["transfer", "--train", str(two_sources.root / "udpos" / "train-en.tsv"), "--source", "en,fr",
                 "--eval", f"de={two_sources.root / 'udpos' / 'test-de.tsv'}", "--model", spec,
                 "--out", str(tmp_path / "o")]) == 2
    assert "--train LANG=FILE per source" in capsys.readouterr().err


def _user_files_args(root) -> list[str]:
    """The en and fr sources and the de/fr evaluation sets of the built-in fixture, as a user's files."""
    ud = root / "udpos"
    return ["--train", f"en={ud / 'train-en.tsv'}", "--train", f"fr={ud / 'train-fr.tsv'}",
            "--dev", f"en={ud / 'dev-en.tsv'}", "--dev", f"fr={ud / 'dev-fr.tsv'}",
            "--eval", f"de={ud / 'test-de.tsv'}", "--eval", f"fr={ud / 'test-fr.tsv'}"]


def test_user_files_give_the_built_in_matrix_and_union(tiny, two_sources, tmp_path):
    """A user's per-language training files (--train LANG=FILE, repeated) make the same matrix and the
    same multi-source model as the built-in task over the same files (same labels, same settings)."""
    from xlt.data.tasks import UPOS_TAGS

    _, spec = tiny
    common = ["--model", spec, "--mode", "probe", "--epochs", "3", "--no-progress"]
    builtin = ["transfer", "--task", "udpos", "--source", "en,fr", "--targets", "de,fr",
               "--data-dir", str(two_sources.root)] + common
    user = ["transfer", *_user_files_args(two_sources.root), "--labels", ",".join(UPOS_TAGS)] + common
    assert main(builtin + ["--matrix", "--out", str(tmp_path / "mb")]) == 0
    assert main(user + ["--matrix", "--out", str(tmp_path / "mu")]) == 0
    mb = json.loads((tmp_path / "mb" / "matrix.json").read_text(encoding="utf-8"))
    mu = json.loads((tmp_path / "mu" / "matrix.json").read_text(encoding="utf-8"))
    assert mu["sources"] == ["en", "fr"]
    for s in ("en", "fr"):  # the built-in run also scores English's own test set; the user gave none
        assert {t: mu["scores"][s][t] for t in ("de", "fr")} == pytest.approx(
            {t: mb["scores"][s][t] for t in ("de", "fr")})
    assert mu["config"]["train"] == [f"en={two_sources.root / 'udpos' / 'train-en.tsv'}",
                                     f"fr={two_sources.root / 'udpos' / 'train-fr.tsv'}"]
    # without --matrix: one model on the union of both languages, as for the built-in task
    assert main(builtin + ["--out", str(tmp_path / "ub")]) == 0
    assert main(user + ["--out", str(tmp_path / "uu")]) == 0
    ub = json.loads((tmp_path / "ub" / "report.json").read_text(encoding="utf-8"))
    uu = json.loads((tmp_path / "uu" / "report.json").read_text(encoding="utf-8"))
    assert uu["source"] == ub["source"] == "en+fr"
    assert uu["scores"] == pytest.approx(ub["scores"]) and list(uu["scores"]) == ["de"]


def test_user_files_matrix_bad_input(tiny, two_sources, tmp_path, capsys, monkeypatch):
    import xlt.jobs.matrix as matrix

    monkeypatch.setattr(matrix, "load_encoder", lambda *a, **k: pytest.fail("the model was loaded"))
    _, spec = tiny
    ud = two_sources.root / "udpos"
    ev = ["--eval", f"de={ud / 'test-de.tsv'}", "--model", spec, "--matrix", "--out", str(tmp_path / "o")]
    odd = tmp_path / "data.tsv"
    shutil.copy(ud / "train-fr.tsv", odd)
    for extra, words in ((["--train", f"en={ud / 'train-en.tsv'}"], "at least two source languages"),
                         (["--train", f"en={ud / 'train-en.tsv'}", "--train", f"eng={ud / 'train-fr.tsv'}"], "twice"),
                         (["--train", f"en={ud / 'train-en.tsv'}", "--train", str(odd)], "LANG=FILE"),
                         (["--train", f"en={ud / 'train-en.tsv'}", "--train", f"fr={ud / 'train-fr.tsv'}",
                           "--dev", f"de={ud / 'test-de.tsv'}"], "not one of the --train languages"),
                         (["--train", f"en={ud / 'train-en.tsv'}", "--train", f"fr={ud / 'train-fr.tsv'}",
                           "--source", "en,de"], "does not match"),
                         (["--train", f"en={ud / 'train-en.tsv'}", "--train", f"fr={tmp_path / 'none.tsv'}"],
                          "none.tsv")):
        assert main(["transfer", *extra, *ev]) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("xlt: error:") and words in err and err.count("\n") == 1, err


def test_multi_source_union_and_temperature(two_sources):
    from xlt.data.dataset import load_task, multi_source

    en = load_task("udpos", "en", "all", data_dir=two_sources.root)
    fr = load_task("udpos", "fr", "all", data_dir=two_sources.root, train_limit=10)
    n_en, n_fr = len(en.train.examples), len(fr.train.examples)
    assert (n_en, n_fr) == (80, 10)
    one = multi_source([en, fr], temperature=1.0, seed=0)
    assert one.source == "en+fr" and len(one.train.examples) == 90
    assert sorted(map(id, one.train.examples)) == sorted(map(id, en.train.examples + fr.train.examples))
    assert len(one.dev.examples) == len(en.dev.examples) + len(fr.dev.examples)
    assert "en" not in one.eval and "fr" not in one.eval and "de" in one.eval
    assert {str(en.train.path), str(en.dev.path), str(fr.train.path)} <= {str(p) for p in one.files()}
    assert len(one.origin["multi_source"]["files"]) == 4  # train and dev of each source, once
    # temperature 1000: p ~ (n/N)^(1/1000), nearly uniform: about 45 draws each (hand: 0.5 * 90)
    hot = multi_source([en, fr], temperature=1000.0, seed=0)
    drawn = hot.origin["multi_source"]["drawn"]
    assert sum(drawn.values()) == 90 and 30 < drawn["fr"] < 60
    assert hot.origin["multi_source"]["probabilities"]["fr"] == pytest.approx(0.5, abs=0.01)
    # p_l for temperature 2, by hand: sqrt(80/90) : sqrt(10/90) = 0.7388 : 0.2612
    assert multi_source([en, fr], 2.0).origin["multi_source"]["probabilities"]["en"] == pytest.approx(
        np.sqrt(80) / (np.sqrt(80) + np.sqrt(10)), abs=1e-9)
    assert multi_source([en, fr], 2.0, seed=3).origin == multi_source([en, fr], 2.0, seed=3).origin
    with pytest.raises(Exception, match="temperature"):
        multi_source([en, fr], 0.0)


def test_matrix_markdown_turns_when_there_are_many_targets():
    from xlt.evaluate.matrix import MAX_COLUMNS, render_matrix_markdown

    targets = [f"t{i:02d}" for i in range(MAX_COLUMNS + 1)]
    scores = {"en": {t: 50.0 for t in targets}, "de": {t: 60.0 for t in targets}}
    rep = {"task": "x", "mode": "probe", "metric_name": "accuracy (%)", "model": "m", "sources": ["en", "de"],
           "targets": targets, "scores": scores, "source_average": {"en": 50.0, "de": 60.0},
           "shared_targets": targets, "best_source": best_sources(scores)}
    md = render_matrix_markdown(rep)
    assert "| target \\ source | en | de |" in md and "| t20 | 50.0 | 60.0 |" in md
    rep["targets"] = targets[:2]
    assert "| source \\ target | t00 | t01 |" in render_matrix_markdown(rep)


class _Fixed:
    """A stand-in task model whose probabilities are fixed (ensemble arithmetic by hand)."""

    def __init__(self, labels, probs):
        from xlt.data.kinds import SEQUENCE

        self.kind, self.labels, self.probs = SEQUENCE, labels, np.asarray(probs, dtype=float)

    def predict_proba(self, inputs, lang=None, *, progress=False):
        return [self.probs for _ in inputs]


def test_ensemble_proba_hand_worked():
    from xlt.transfer.ensemble import EnsembleError, ensemble_proba, top_k_weights

    a = _Fixed(["pos", "neg"], [0.9, 0.1])
    b = _Fixed(["neg", "pos", "mixed"], [0.2, 0.2, 0.6])  # another label order and one more label
    c = _Fixed(["pos", "neg"], [0.0, 1.0])
    labels, probas = ensemble_proba([a, b, c], [1.0, 3.0, 0.0], ["x", "y"])
    assert labels == ["pos", "neg", "mixed"] and len(probas) == 2
    # (1 * [0.9, 0.1, 0] + 3 * [0.2, 0.2, 0.6]) / 4 = [0.375, 0.175, 0.45]; c has weight 0
    assert probas[0] == pytest.approx([0.375, 0.175, 0.45])
    assert top_k_weights(["c", "a", "b"], ["a", "b", "c"], k=2) == [1.0, 0.0, 1.0]
    for bad in ([1.0, -1.0, 0.0], [0.0, 0.0, 0.0], [1.0, float("nan"), 0.0], [1.0]):
        with pytest.raises(EnsembleError):
            ensemble_proba([a, b, c], bad, ["x"])
    with pytest.raises(EnsembleError, match="without a model"):
        top_k_weights(["zz"], ["a"], 1)


def test_mean_proba_hand_worked():
    from xlt.transfer.ensemble import EnsembleError, mean_proba

    a = [np.array([[0.2, 0.8], [1.0, 0.0]]), np.array([0.5, 0.5])]
    b = [np.array([[0.6, 0.4], [0.0, 1.0]]), np.array([0.1, 0.9])]
    out = mean_proba([a, b])
    np.testing.assert_allclose(out[0], [[0.4, 0.6], [0.5, 0.5]])
    np.testing.assert_allclose(out[1], [0.3, 0.7])
    with pytest.raises(EnsembleError):
        mean_proba([a, b[:1]])
    with pytest.raises(EnsembleError):
        mean_proba([])


def test_matrix_ensembles(tiny, two_sources, tmp_path):
    """--ensemble K: a top-1 ensemble is the ranked-first source's own model, so it scores what that
    source's row says; the all-sources ensemble and the ranker's choice are reported per target."""
    _, spec = tiny
    ud = two_sources.root / "udpos"
    shutil.copy(ud / "test-de.tsv", ud / "train-de.tsv")
    shutil.copy(ud / "test-de.tsv", ud / "test-es.tsv")
    args = [x for lang in ("en", "fr", "de") for x in ("--train", f"{lang}={ud / f'train-{lang}.tsv'}")]
    args += [x for lang in ("en", "de", "fr", "es") for x in ("--eval", f"{lang}={ud / f'test-{lang}.tsv'}")]
    out = tmp_path / "mx"
    assert main(["transfer", *args, "--matrix", "--ensemble", "1", "--model", spec, "--mode", "probe",
                 "--epochs", "2", "--no-progress", "--out", str(out)]) == 0
    rep = json.loads((out / "matrix.json").read_text(encoding="utf-8"))
    ens = rep["ensembles"]
    assert ens["k"] == 1 and set(ens["all"]) == {"es"} and ens["targets"] == ["es"]
    top = ens["top_sources"]["es"][0]
    assert top in ("en", "fr", "de")
    assert ens["top"]["es"] == pytest.approx(rep["scores"][top]["es"])
    assert 0.0 <= ens["all"]["es"] <= 100.0
    assert "Ensembles of the source models" in (out / "matrix.md").read_text(encoding="utf-8")
    assert main(["transfer", *args, "--ensemble", "2", "--model", spec, "--out", str(tmp_path / "o2")]) == 2
