"""Transfer matrices (issue 13): ``xlt transfer --source a,b --matrix``."""

from __future__ import annotations

import json
import shutil

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
    assert rep["source_average"]["en"] == pytest.approx(single_en["scores"]["de"])
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
    assert main(["transfer", "--task", "udpos", "--source", "en,fr", "--model", spec, "--out", str(tmp_path / "o"),
                 "--data-dir", str(two_sources.root)]) == 2
    assert "need --matrix" in capsys.readouterr().err
