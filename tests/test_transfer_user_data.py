"""``xlt transfer`` on a user's own files (--train/--dev/--eval/--label-map/--config), in-process
through ``xlt.cli.main`` with the tiny test encoder.

Bad inputs must fail with exit code 2 and one ``xlt: error:`` line before any model is loaded;
the model loader is replaced by one that fails the test if it is called. The full runs use a
hand-written CoNLL set whose Swahili file has an entity type (DATE) training never saw; every
expected count below is counted by hand from those files.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from xlt.cli import main

pytestmark = pytest.mark.usefixtures("single_torch_thread")

LABEL_MAP_BUG = (
    "dataset.py from_examples checks the label map (_check_map_used) on the splits AFTER the map was "
    "applied, so --label-map DATE=O always fails with \"no label or entity type 'DATE' in the data\""
)


def error_lines(err: str) -> list[str]:
    """The ``xlt: error:`` lines of stderr."""
    return [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("xlt: error: ")]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def conll(sentences: list[list[tuple[str, str]]]) -> str:
    """CoNLL text, ``token tag`` separated by a space, a blank line after each sentence."""
    return "".join("".join(f"{w} {t}\n" for w, t in s) + "\n" for s in sentences)


def S(words: str, tags: str) -> list[tuple[str, str]]:
    w, t = words.split(), tags.split()
    assert len(w) == len(t)
    return list(zip(w, t))


# Every word is in the tiny WordPiece vocabulary; the training sentences together have PER, ORG and LOC.
TRAIN = [
    S("happy walk sat on the mat .", "B-PER I-PER O O O B-LOC O"),
    S("big house is in the mat .", "B-ORG I-ORG O O O B-LOC O"),
    S("the cat and happy walk sat on big house mat .", "O O O B-PER I-PER O O B-ORG I-ORG B-LOC O"),
    S("a dog is big house and happy walk on mat .", "O O O B-ORG I-ORG O B-PER I-PER O B-LOC O"),
]
DEV = [
    S("happy walk is in big house on the mat .", "B-PER I-PER O O B-ORG I-ORG O O B-LOC O"),
    S("the dog sat on mat .", "O O O O B-LOC O"),
]
TEST_EN = [S("happy walk sat .", "B-PER I-PER O O"), S("big house on mat .", "B-ORG I-ORG O B-LOC O")]
TEST_DE = [S("the cat sat on mat .", "O O O O B-LOC O"), S("happy walk and big house .", "B-PER I-PER O B-ORG I-ORG O")]
# Swahili: "small dog" / "small" are dates: B-DATE 3 times, I-DATE twice
TEST_SW = [
    S("happy walk sat on the mat .", "B-PER I-PER O O O B-LOC O"),
    S("the cat sat small dog .", "O O O B-DATE I-DATE O"),
    S("big house run small .", "B-ORG I-ORG O B-DATE O"),
    S("small dog and the mat .", "B-DATE I-DATE O O B-LOC O"),
]
LABELS = ["O", "B-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


@pytest.fixture
def user_data(tmp_path):
    """``{"train", "dev", "eval"}`` paths: train/dev files and a folder test-{en,de,sw}.conll."""
    root = tmp_path / "mydata"
    train = write(root / "train.conll", "-DOCSTART- O\n\n" + conll(TRAIN))
    dev = write(root / "dev.conll", conll(DEV))
    folder = root / "eval"
    write(folder / "test-en.conll", conll(TEST_EN))
    write(folder / "test-de.conll", conll(TEST_DE))
    write(folder / "test-sw.conll", conll(TEST_SW))
    return {"root": root, "train": train, "dev": dev, "eval": folder}


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if ``xlt transfer`` loads a model (data must be checked first)."""
    import xlt.jobs.transfer as run_module

    def refuse(*args, **kwargs):
        raise AssertionError("model loaded")

    monkeypatch.setattr(run_module, "load_encoder", refuse)


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fails_early(argv, capsys) -> str:
    """Run, expect exit 2 with one error line and no traceback; return that line."""
    code, _, err = run_cli(argv, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    (line,) = error_lines(err)
    return line


def base(out: Path, *extra: str) -> list[str]:
    return ["transfer", "--model", "no-such-model", "--out", str(out), "--no-progress", *extra]


# ======================================================================= early errors
def test_unknown_csv_column(tmp_path, no_model, capsys):
    train = write(tmp_path / "reviews.csv", 'id,review,stars\n1,"good, very",5\n2,bad,1\n')
    de = write(tmp_path / "de.csv", "id,review,stars\n1,gut,5\n")
    line = fails_early(base(tmp_path / "out", "--train", str(train), "--eval", f"de={de}",
                            "--text-column", "text", "--label-column", "stars"), capsys)
    assert line.startswith(f"xlt: error: {train}:1: ")
    assert "'text'" in line and "id, review, stars" in line
    assert not (tmp_path / "out").exists()


def test_unknown_csv_label_column_in_eval_file(tmp_path, no_model, capsys):
    train = write(tmp_path / "reviews.csv", "review,stars\ngood,5\nbad,1\n")
    de = write(tmp_path / "de.csv", "review,sterne\ngut,5\n")
    line = fails_early(base(tmp_path / "out", "--train", str(train), "--eval", f"de={de}",
                            "--text-column", "review", "--label-column", "stars"), capsys)
    assert line.startswith(f"xlt: error: {de}:1: ")
    assert "'stars'" in line and "review, sterne" in line


def test_conll_line_without_label(user_data, tmp_path, no_model, capsys):
    # line 5 has a token and a tab but no tag
    bad = write(tmp_path / "test-de.conll", "the\tO\ncat\tO\n\nhappy\tB-PER\nwalk\t\n")
    line = fails_early(base(tmp_path / "out", "--train", str(user_data["train"]), "--eval", str(bad)),
                       capsys)
    assert line.startswith(f"xlt: error: {bad}:5: ")


def test_conll_mixed_separators(user_data, tmp_path, no_model, capsys):
    bad = write(tmp_path / "train.conll", "happy\tB-PER\nwalk\tI-PER\n\nthe O\ncat\tO\n")
    line = fails_early(base(tmp_path / "out", "--train", str(bad), "--eval", str(user_data["eval"])),
                       capsys)
    assert line.startswith(f"xlt: error: {bad}:4: ")
    assert "mixed separators" in line


def test_eval_file_without_language_in_name(user_data, tmp_path, no_model, capsys):
    bad = write(tmp_path / "holdout.conll", conll(TEST_DE))
    line = fails_early(base(tmp_path / "out", "--train", str(user_data["train"]), "--eval", str(bad)),
                       capsys)
    assert line.startswith(f"xlt: error: {bad}: ")
    assert f"--eval LANG={bad}" in line


def test_eval_folder_file_without_language(user_data, tmp_path, no_model, capsys):
    bad = write(user_data["eval"] / "extra.conll", conll(TEST_DE))
    line = fails_early(base(tmp_path / "out", "--train", str(user_data["train"]),
                            "--eval", str(user_data["eval"])), capsys)
    assert str(bad) in line


def test_task_with_files_of_other_labels(user_data, tmp_path, no_model, capsys):
    """--task with --train adds the user's file to the task's data (issue 26), so its labels must be
    the task's: NER tags are no UPOS tags, which the error says before any model loads."""
    line = fails_early(base(tmp_path / "out", "--task", "udpos", "--train", str(user_data["train"]),
                            "--eval", str(user_data["eval"])), capsys)
    assert str(user_data["train"]) in line and "--label-map" in line


def test_train_without_eval(user_data, tmp_path, no_model, capsys):
    line = fails_early(base(tmp_path / "out", "--train", str(user_data["train"])), capsys)
    assert "--eval" in line


def test_nonempty_save_folder_without_overwrite(user_data, tmp_path, no_model, capsys):
    save = tmp_path / "keep"
    write(save / "model.safetensors", "not really a model")
    line = fails_early(base(tmp_path / "out", "--train", str(user_data["train"]),
                            "--eval", str(user_data["eval"]), "--save", str(save)), capsys)
    assert str(save) in line and "--overwrite" in line
    assert (save / "model.safetensors").read_text(encoding="utf-8") == "not really a model"


def test_label_map_naming_a_missing_label(user_data, tmp_path, no_model, capsys):
    line = fails_early(base(tmp_path / "out", "--train", str(user_data["train"]),
                            "--eval", str(user_data["eval"]), "--label-map", "TIME=O"), capsys)
    assert "'TIME'" in line


def test_config_file_with_unknown_key(user_data, tmp_path, no_model, capsys):
    cfg = write(tmp_path / "run.yaml", f"train: {user_data['train']}\nepochz: 3\n")
    line = fails_early(base(tmp_path / "out", "--config", str(cfg), "--eval", str(user_data["eval"])),
                       capsys)
    assert line.startswith(f"xlt: error: --config {cfg}: ")
    assert "epochz" in line


def test_unknown_extension_is_a_user_error(user_data, tmp_path, no_model, capsys):
    bad = write(tmp_path / "train.dat", conll(TRAIN))
    line = fails_early(base(tmp_path / "out", "--train", str(bad), "--eval", str(user_data["eval"])), capsys)
    assert str(bad) in line and "--format" in line


def test_eval_folder_without_data_files(user_data, tmp_path, no_model, capsys):
    empty = tmp_path / "nothing"
    write(empty / "README.md", "no data here\n")
    line = fails_early(base(tmp_path / "out", "--train", str(user_data["train"]), "--eval", str(empty)),
                       capsys)
    assert str(empty) in line


# ========================================================================== full runs
def tiny_args(spec, data, out, *extra):
    return ["transfer", "--train", str(data["train"]), "--dev", str(data["dev"]), "--eval", str(data["eval"]),
            "--model", spec, "--out", str(out), "--epochs", "2", "--lr", "0.01", "--batch-size", "16",
            "--no-progress", *extra]


def test_full_run_reports_unseen_labels(tiny, user_data, tmp_path, capsys, caplog):
    _, spec = tiny
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        code, stdout, err = run_cli(tiny_args(spec, user_data, out, "--predictions"), capsys)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["task"] == "train" and report["kind"] == "token"
    assert report["metric"] == "f1" and report["source"] == "en"
    assert report["labels"] == LABELS
    assert set(report["scores"]) == {"en", "de", "sw"} and report["n_targets"] == 2
    assert report["unseen_labels"] == {"sw": {"B-DATE": 3, "I-DATE": 2}}
    assert report["counts"]["sw"] == {"sentences": 4, "tokens": 24, "skipped_empty": 0,
                                      "unseen_labels": {"B-DATE": 3, "I-DATE": 2}, "truncated": 0}
    assert report["counts"]["de"] == {"sentences": 2, "tokens": 12, "skipped_empty": 0, "truncated": 0}
    assert report["source_counts"]["train"]["sentences"] == 4
    assert report["source_counts"]["train"]["tokens"] == 7 + 7 + 11 + 11
    assert report["source_counts"]["train"]["skipped"] == {"docstart": 1}
    assert report["source_counts"]["dev"]["sentences"] == 2
    assert report["label_map"] == {}
    assert [h["epoch"] for h in report["training"]["0"] if "epoch" in h] == [1, 2]
    assert report["config"]["epochs"] == 2

    # the console says it, once per affected language
    warnings = [ln for ln in stdout.splitlines() if ln.startswith("warning:")]
    assert warnings == ["warning: sw: gold labels never seen in training, scored as they are: "
                        "B-DATE ×3, I-DATE ×2 (map them with --label-map)"]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("sw: 5 gold label(s) never seen in training") for m in logged)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "sw: B-DATE ×3, I-DATE ×2" in md

    gold = [json.loads(ln)["gold"] for ln in
            (out / "predictions" / "sw.jsonl").read_text(encoding="utf-8").splitlines()]
    assert gold == [[t for _, t in s] for s in TEST_SW]



def test_full_run_with_label_map(tiny, user_data, tmp_path, capsys):
    _, spec = tiny
    out = tmp_path / "run"
    code, stdout, err = run_cli(tiny_args(spec, user_data, out, "--label-map", "DATE=O", "--predictions"), capsys)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["unseen_labels"] == {}
    assert report["label_map"] == {"DATE": "O"}
    assert report["labels"] == LABELS
    assert "unseen_labels" not in report["counts"]["sw"]
    assert not [ln for ln in stdout.splitlines() if ln.startswith("warning:")]
    gold = [json.loads(ln)["gold"] for ln in
            (out / "predictions" / "sw.jsonl").read_text(encoding="utf-8").splitlines()]
    assert gold == [
        ["B-PER", "I-PER", "O", "O", "O", "B-LOC", "O"],
        ["O", "O", "O", "O", "O", "O"],
        ["B-ORG", "I-ORG", "O", "O", "O"],
        ["O", "O", "O", "O", "B-LOC", "O"],
    ]


def test_config_file_and_command_line(tiny, user_data, tmp_path, capsys):
    _, spec = tiny
    cfg = write(tmp_path / "run.yaml",
                f"train: {user_data['train']}\n"
                f"eval:\n  - de={user_data['eval'] / 'test-de.conll'}\n"
                "epochs: 3\n"
                "batch-size: 8\n"
                "dev-fraction: 0.5\n")
    out = tmp_path / "run"
    argv = ["transfer", "--config", str(cfg), "--epochs", "2", "--model", spec, "--out", str(out),
            "--no-progress"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    c = report["config"]
    assert c["epochs"] == 2  # the command line wins
    assert c["batch_size"] == 8 and c["dev_fraction"] == 0.5  # from the file
    assert c["train"] == str(user_data["train"])
    assert c["eval"] == [f"de={user_data['eval'] / 'test-de.conll'}"]
    assert c["lr"] == 1e-3  # the probe/token default, named nowhere
    assert [h["epoch"] for h in report["training"]["0"] if "epoch" in h] == [1, 2]
    # no --dev: int(0.5 * 4) = 2 of the 4 training sentences are held out
    assert report["source_counts"]["train"]["sentences"] == 2
    assert report["source_counts"]["dev"]["sentences"] == 2
    assert set(report["scores"]) == {"de"} and report["n_targets"] == 1
    assert report["command"] == ["xlt", *argv]


@pytest.mark.parametrize("args, message", [
    (["--train-limit", "-5"], "--train-limit -5: expected a whole number >= 1"),
    (["--eval-limit", "0"], "--eval-limit 0: expected a whole number >= 1"),
    (["--epochs", "0"], "--epochs 0: expected a whole number >= 1"),
    (["--lr", "nan"], "--lr nan: expected a finite number > 0"),
    (["--dev-fraction", "1.5"], "--dev-fraction 1.5: expected a number between 0 and 1 (exclusive)"),
])
def test_impossible_settings_fail_before_any_work(tmp_path, capsys, monkeypatch, args, message):
    import xlt.jobs.transfer as run_module

    monkeypatch.setattr(run_module, "load_encoder", lambda *a, **k: (_ for _ in ()).throw(AssertionError("loaded")))
    monkeypatch.setattr(run_module, "load_task", lambda *a, **k: (_ for _ in ()).throw(AssertionError("read")))
    # on the command line the settings refuse them (one line, exit 2) ...
    assert main(["transfer", "--task", "udpos", "--out", str(tmp_path / "r")] + args) == 2
    assert capsys.readouterr().err == f"xlt: error: {message}\n"
    # ... and from a --config file the same check does, with the same message after the file, line and key,
    # before any data or model is read
    key, value = args[0][2:].replace("-", "_"), args[1]
    config = tmp_path / "run.yaml"
    config.write_text(f"{key}: {value}\n", encoding="utf-8")
    assert main(["transfer", "--task", "udpos", "--out", str(tmp_path / "r"), "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == f"xlt: error: --config {config}, line 1 ({key}): {message}"
