"""``xlt transfer --task udpos`` with the user's own files added (issue 26, part 3): ``--eval LANG=FILE``
scores the built-in task's model on them, ``--train FILE`` adds training data, ``--dev FILE`` replaces
the task's dev set; every file is checked against the task (kind, labels) before the model loads.

Runs go through ``xlt.cli.main`` with the tiny test encoder and the synthetic XTREME-layout data
folder; the user's files are written here from the synthetic sentences, so every expected count and
label is known independently of the readers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlt.cli import main
from xlt.data.tasks import UPOS_TAGS

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def error_lines(err: str) -> list[str]:
    return [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("xlt: error: ")]


def conllu(sentences) -> str:
    """CoNLL-U text: the 10 columns, UPOS in the fourth, a comment and a blank line per sentence."""
    out = []
    for k, sent in enumerate(sentences, 1):
        out.append(f"# sent_id = {k}")
        out += [f"{i}\t{w}\t{w}\t{t}\t_\t_\t0\tdep\t_\t_" for i, (w, t) in enumerate(sent, 1)]
        out.append("")
    return "\n".join(out) + "\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def args(spec, data, out, *extra) -> list[str]:
    return ["transfer", "--model", spec, "--data-dir", str(data.root), "--out", str(out), "--epochs", "4",
            "--lr", "0.01", "--batch-size", "16", "--no-progress", *extra]


def fails_early(argv, capsys) -> str:
    """Run, expect exit 2 and one ``xlt: error:`` line (no traceback); return that line."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    (line,) = error_lines(err)
    return line


def config(data, **kw):
    from xlt.jobs.transfer import TransferConfig

    return TransferConfig(task=kw.pop("task", "udpos"), data_dir=str(data.root), progress=False, **kw)


@pytest.fixture
def de_file(data, tmp_path):
    """A CoNLL-U file of the synthetic French sentences (NOUN and VERB swapped against English, so a
    model trained on English scores well below 100 on it): ``(path, sentences)``."""
    sents = data.token_files["udpos/test-fr.tsv"][:12]
    return write(tmp_path / "treebank.conllu", conllu(sents)), sents


# ======================================================================= scoring the user's file
def test_eval_file_is_scored_with_the_task_model(tiny, data, de_file, tmp_path):
    """The report scores the source and the user's de file only (not the task's own de and fr), says
    which file the de set came from, and its score is the accuracy of the predictions written for
    it against the gold labels this test wrote."""
    _, spec = tiny
    path, sents = de_file
    out = tmp_path / "run"
    assert main(args(spec, data, out, "--task", "udpos", "--eval", f"de={path}", "--predictions")) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert set(report["scores"]) == {"en", "de"} and report["n_targets"] == 1
    assert report["counts"]["de"]["sentences"] == len(sents)
    assert report["counts"]["de"]["tokens"] == sum(len(s) for s in sents)
    assert report["counts"]["de"]["note"] == f"your file {path}"
    assert "note" not in report["counts"]["en"]  # the task's own English test set
    assert report["dataset"]["origin"]["user_files"]["eval"] == {"de": str(path)}
    assert str(path) in [f["path"] for f in report["manifest"]["data_files"]]
    rows = [json.loads(l) for l in (out / "predictions" / "de.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["tokens"] for r in rows] == [[w for w, _ in s] for s in sents]
    gold = [t for s in sents for _, t in s]
    pred = [p for r in rows for p in r["pred"]]
    assert len(pred) == len(gold)
    accuracy = 100.0 * sum(g == p for g, p in zip(gold, pred)) / len(gold)
    assert report["scores"]["de"] == pytest.approx(accuracy)
    assert report["scores"]["de"] < report["scores"]["en"]  # NOUN/VERB swapped: not the English mapping


def test_same_score_as_the_built_in_files_given_by_path(tiny, data, de_file, tmp_path):
    """The same file as a plain user --eval, in a run on the task's files given by path (with the
    task's label order), gets the same score as with --task: the same model scores the same set."""
    _, spec = tiny
    path, _ = de_file
    udpos = data.root / "udpos"
    assert main(args(spec, data, tmp_path / "task", "--task", "udpos", "--eval", f"de={path}")) == 0
    assert main(args(spec, data, tmp_path / "files", "--train", str(udpos / "train-en.tsv"),
                     "--dev", str(udpos / "dev-en.tsv"), "--eval", f"en={udpos / 'test-en.tsv'}",
                     "--eval", f"de={path}", "--labels", ",".join(UPOS_TAGS))) == 0
    task, files = (json.loads((tmp_path / d / "report.json").read_text(encoding="utf-8"))["scores"]
                   for d in ("task", "files"))
    assert set(task) == set(files) == {"en", "de"}
    assert task["de"] == pytest.approx(files["de"]) and task["en"] == pytest.approx(files["en"])


def test_train_and_dev_files(tiny, data, tmp_path):
    """--train adds exactly its sentences to the task's training count (noted in the report); --dev
    replaces the task's dev set; no --eval: every built-in target is scored as before."""
    _, spec = tiny
    extra = data.token_files["udpos/test-en.tsv"][:7]
    dev = data.token_files["udpos/dev-en.tsv"][:5]
    train_file = write(tmp_path / "more.conllu", conllu(extra))
    dev_file = write(tmp_path / "mydev.conllu", conllu(dev))
    out = tmp_path / "run"
    assert main(args(spec, data, out, "--task", "udpos", "--train", str(train_file), "--dev", f"en={dev_file}")) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    n_builtin = len(data.token_files["udpos/train-en.tsv"])
    train = report["source_counts"]["train"]
    assert train["sentences"] == n_builtin + len(extra)
    assert train["tokens"] == sum(len(s) for s in data.token_files["udpos/train-en.tsv"] + extra)
    assert train["note"] == f"train-en.tsv ({n_builtin}) + your file {train_file} ({len(extra)})"
    assert report["source_counts"]["dev"]["sentences"] == len(dev)
    assert str(dev_file) in report["source_counts"]["dev"]["note"]
    assert report["dataset"]["origin"]["user_files"]["train"] == [{"file": str(train_file), "sentences": len(extra)}]
    assert set(report["scores"]) == {"en", "de", "fr"}


# ======================================================================= checks against the task
def test_label_outside_the_inventory_is_refused(tiny, data, tmp_path, no_model, capsys):
    _, spec = tiny
    bad = write(tmp_path / "de.conllu", conllu([[("the", "DET"), ("cat", "NOM"), ("sat", "VERB")],
                                                [("a", "DET"), ("dog", "NOM")]]))
    line = fails_early(args(spec, data, tmp_path / "run", "--task", "udpos", "--eval", f"de={bad}"), capsys)
    assert str(bad) in line and "NOM ×2" in line and "--label-map NOM=" in line
    assert not (tmp_path / "run").exists()


def test_label_map_renames_labels_only_the_user_file_has(data, tmp_path):
    """A --label-map key that only the user's file has is used (not "no such label"), and the task's
    splits are mapped too."""
    from xlt.jobs.transfer import load_dataset_for

    mine = write(tmp_path / "de.conllu", conllu([[("the", "DET"), ("cat", "NOM"), ("sat", "VERB")]]))
    ds = load_dataset_for(config(data, eval=[f"de={mine}"], label_map=["NOM=NOUN", "ADP=X"]))
    assert ds.eval["de"].examples[0].labels == ["DET", "NOUN", "VERB"]
    assert "ADP" not in {l for e in ds.train.examples for l in e.labels}
    assert "X" in {l for e in ds.train.examples for l in e.labels}
    assert ds.label_map == {"NOM": "NOUN", "ADP": "X"} and ds.labels == list(UPOS_TAGS)


def test_token_file_for_a_classification_task_is_refused(tiny, data, de_file, tmp_path, no_model, capsys):
    _, spec = tiny
    path, _ = de_file
    line = fails_early(args(spec, data, tmp_path / "run", "--task", "sib200", "--eval", f"deu_Latn={path}"),
                       capsys)
    assert str(path) in line and "token examples" in line and "sequence task" in line


def test_table_options_apply_to_the_user_files(data, tmp_path):
    """--text-column/--label-column read the user's CSV for sib200; its labels are the task's topics."""
    from xlt.jobs.transfer import load_dataset_for

    rows = data.text_files["sib200/eng_Latn/test.tsv"][:6]
    csv = write(tmp_path / "fr.csv", "sentence,topic\n" + "".join(f"{t},{c}\n" for _, c, t in rows))
    ds = load_dataset_for(config(data, task="sib200", eval=[str(csv)], text_column="sentence", label_column="topic"))
    assert list(ds.eval) == ["eng_Latn", "fr"]
    assert [e.label for e in ds.eval["fr"].examples] == [c for _, c, _ in rows]
    assert [e.text for e in ds.eval["fr"].examples] == [t for _, _, t in rows]


# ======================================================================= how the sets combine
def test_targets_given_are_scored_besides_the_files(data, de_file):
    from xlt.jobs.transfer import load_dataset_for

    path, _ = de_file
    ds = load_dataset_for(config(data, targets="fr", eval=[f"German={path}"]))
    assert list(ds.eval) == ["en", "fr", "de"]
    assert ds.eval["fr"].path == data.root / "udpos" / "test-fr.tsv" and ds.eval["de"].path == path


def test_source_language_file_replaces_the_in_language_set(data, de_file):
    """A file of the source language (any spelling) takes the task's test-en.tsv's place, under the
    source's key, so that it stays out of the target average."""
    from xlt.jobs.transfer import load_dataset_for

    path, sents = de_file
    ds = load_dataset_for(config(data, eval=[f"eng={path}"]))
    assert list(ds.eval) == ["en"] and ds.eval["en"].path == path and len(ds.eval["en"]) == len(sents)
    assert "given as eng" in ds.eval["en"].note and "test-en.tsv" in ds.eval["en"].note
    assert ds.origin["user_files"]["replaced"] == {"en": str(data.root / "udpos" / "test-en.tsv")}


@pytest.mark.parametrize("extra, expected", [
    (["--targets", "de", "--eval", "de={f}"], ["test-de.tsv", "--targets"]),
    (["--targets", "all", "--eval", "deu={f}"], ["de is also a target", "--targets"]),
    (["--train", "de={f}"], ["trains on en", "not de"]),
    (["--source", "en,fr", "--train", "{f}"], ["several", "--source"]),
    (["--dev", "{f}", "--dev", "{f}"], ["one file"]),
    (["--labels", "NOUN,VERB", "--eval", "de={f}"], ["--labels", "its own"]),
    (["--format", "conll"], ["--format", "none"]),
    (["--train", "{empty}"], ["no examples"]),
])
def test_combinations_that_make_no_sense(tiny, data, de_file, tmp_path, no_model, capsys, extra, expected):
    _, spec = tiny
    path, _ = de_file
    empty = write(tmp_path / "empty.conllu", "\n")
    extra = [a.format(f=path, empty=empty) for a in extra]
    line = fails_early(args(spec, data, tmp_path / "run", "--task", "udpos", *extra), capsys)
    for text in expected:
        assert text in line, line
