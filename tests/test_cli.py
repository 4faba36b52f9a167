"""Tests for the ``xlt`` command line (in-process ``xlt.cli.main`` plus one subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from xlt.cli import build_parser, main
from xlt.jobs.parts import parse_seeds


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def error_lines(err: str) -> list[str]:
    """The ``xlt: error:`` lines of stderr (transformers may draw a loading bar there too)."""
    return [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("xlt: error: ")]


def transfer_args(spec, root, out, *extra):
    return ["transfer", "--task", "udpos", "--model", spec, "--data-dir", str(root),
            "--out", str(out), "--epochs", "30", "--lr", "0.01", "--batch-size", "32",
            "--no-progress", *extra]


def test_help_subprocess():
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "xlt.cli", "--help"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for sub in ("transfer", "export-model", "bench"):
        assert sub in proc.stdout


def test_seeds_argument(capsys):
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("0,5,7") == [0, 5, 7]
    args = build_parser().parse_args(["transfer", "--task", "udpos", "--out", "x", "--seeds", "2"])
    # unset options stay None on the command line; the defaults live in TransferSettings only
    from xlt.cli._settings import settings_from_args
    from xlt.jobs.parts import TransferSettings

    cfg = settings_from_args(TransferSettings, args)
    assert cfg.seeds == [0, 1] and cfg.mode == "probe" and cfg.layer == "mix" and cfg.task == "udpos"
    assert settings_from_args(TransferSettings, build_parser().parse_args(
        ["transfer", "--task", "udpos", "--seeds", "0,5,7"])).seeds == [0, 5, 7]
    assert main(["transfer", "--task", "udpos", "--out", "x", "--seeds", "0"]) == 2
    assert "--seeds 0: expected a count >= 1" in capsys.readouterr().err


def test_transfer_end_to_end(tiny, data, tmp_path, capsys):
    _, spec = tiny
    out = tmp_path / "run"
    argv = transfer_args(spec, data.root, out, "--seeds", "2")
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["command"] == ["xlt", *argv]
    assert set(report["per_seed"]) == {"0", "1"}
    assert (out / "report.md").is_file() and (out / "scores.png").is_file()

    scores = report["scores"]
    assert set(scores) == {"en", "de", "fr"}
    lines = stdout.splitlines()
    assert any(ln.startswith("udpos probe accuracy (%)") for ln in lines)
    # one table row per language: code, name, score, std, sentence count
    names = {"en": "English (source)", "de": "German", "fr": "French"}
    n_sents = {"en": 30, "de": 30, "fr": 30}
    for lang, name in names.items():
        row = next(ln for ln in lines if ln.split()[:1] == [lang])
        assert name in row
        vals = [report["per_seed"][s][lang] for s in ("0", "1")]
        fields = row.split()
        assert float(fields[-3]) == pytest.approx(sum(vals) / 2, abs=0.006)
        assert float(fields[-2]) == pytest.approx(statistics.stdev(vals), abs=0.006)
        assert int(fields[-1]) == n_sents[lang]
    # rows sorted by score, best first
    row_langs = [ln.split()[0] for ln in lines if ln.split()[:1] in (["en"], ["de"], ["fr"])]
    assert [scores[c] for c in row_langs] == sorted(scores.values(), reverse=True)
    avg_line = next(ln for ln in lines if ln.startswith("average over 2 targets"))
    assert float(avg_line.split()[-2]) == pytest.approx((scores["de"] + scores["fr"]) / 2,
                                                        abs=0.006)
    assert str(out / "report.md") in stdout


def test_malformed_line_exit_2(tiny, data, tmp_path, capsys):
    _, spec = tiny
    root = tmp_path / "data"
    shutil.copytree(data.root, root)
    bad = root / "udpos" / "test-fr.tsv"
    lines = bad.read_text(encoding="utf-8").split("\n")
    lines[2] = lines[2].replace("\t", " ")  # line 3: "word label" without a tab
    bad.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "run"
    assert main(transfer_args(spec, root, out)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (msg,) = error_lines(err)
    assert msg.startswith(f"xlt: error: {bad.resolve()}:3: ")
    assert not (out / "report.json").exists()


def test_malformed_training_file_exit_2(tiny, data, tmp_path, capsys):
    _, spec = tiny
    root = tmp_path / "data"
    shutil.copytree(data.root, root)
    bad = root / "udpos" / "train-en.tsv"
    lines = bad.read_text(encoding="utf-8").split("\n")
    lines[0] = lines[0] + "\textra"  # line 1: three columns
    bad.write_text("\n".join(lines), encoding="utf-8")
    assert main(transfer_args(spec, root, tmp_path / "run")) == 2
    (msg,) = error_lines(capsys.readouterr().err)
    assert msg.startswith(f"xlt: error: {bad.resolve()}:1: ")


def test_unknown_target_exit_2_lists_languages(tiny, data, tmp_path, capsys):
    _, spec = tiny
    assert main(transfer_args(spec, data.root, tmp_path / "run", "--targets", "de,ja")) == 2
    err = capsys.readouterr().err
    (msg,) = error_lines(err)
    assert "'ja'" in msg
    for listed in ("de (German)", "en (English)", "fr (French)"):
        assert listed in msg
    assert "Traceback" not in err


def test_missing_dataset_exit_2(tiny, tmp_path, capsys):
    _, spec = tiny
    (tmp_path / "empty").mkdir()
    assert main(transfer_args(spec, tmp_path / "empty", tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert "udpos" in err and "not found" in err


def test_missing_model_exit_2(data, tmp_path, capsys):
    missing = tmp_path / "no-such-model"
    assert main(transfer_args(str(missing), data.root, tmp_path / "run")) == 2
    (msg,) = error_lines(capsys.readouterr().err)
    assert str(missing) in msg and "does not exist" in msg


def test_export_model_roundtrip(tiny, tmp_path, capsys):
    from transformers import AutoModel, AutoTokenizer

    enc, spec = tiny
    out = tmp_path / "exported"
    assert main(["export-model", spec, str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    meta = json.loads((out / "xlt_export.json").read_text(encoding="utf-8"))
    assert meta["source_spec"] == spec and meta["text_prefix"] == ""

    tok = AutoTokenizer.from_pretrained(str(out))
    model = AutoModel.from_pretrained(str(out)).eval()
    texts = ["The cats sat on the mat.", "running zebra", "a big house"]
    for text in texts:
        assert tok(text)["input_ids"] == enc.tokenizer(text)["input_ids"]
    batch_new = tok(texts, padding=True, return_tensors="pt")
    batch_old = enc.tokenizer(texts, padding=True, return_tensors="pt")
    assert torch.equal(batch_new["input_ids"], batch_old["input_ids"])
    with torch.no_grad():
        h_new = model(**batch_new, output_hidden_states=True).hidden_states
        h_old = enc.model(**batch_old, output_hidden_states=True).hidden_states
    assert len(h_new) == len(h_old) == 3
    for a, b in zip(h_new, h_old):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_bench_extract(tiny, data, tmp_path, capsys):
    _, spec = tiny
    rel = "udpos/train-en.tsv"
    out = tmp_path / "bench" / "result.json"
    assert main(["bench", "extract", "--model", spec, "--file", str(data.path(rel)),
                 "--n", "10", "--batch-size", "4", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "| method |" in stdout and "naive loop" in stdout and "speed-up" in stdout
    result = json.loads(out.read_text(encoding="utf-8"))
    first10 = data.token_files[rel][:10]
    assert result["input"]["sentences"] == 10 and result["n_sentences"] == 10
    assert result["n_words"] == sum(len(s) for s in first10)
    assert result["speedup"] > 0
    # every sentence fits and has no subword-less word, so all are compared and agree
    assert result["n_compared_sentences"] == 10
    assert result["max_abs_diff"] < 1e-4


# --------------------------------------------------------------------------- --config files (defaults in one place)

CORPUS = ["the cat sat on a mat", "a big dog is in the house", "it is happy and small", "the small cat run home",
          "a dog walk on the mat", "it sat in a big house"]


def write_yaml(path, settings: dict):
    import yaml

    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return str(path)


def test_retrieve_config_file_with_an_option_winning(tiny, tmp_path, capsys):
    _, spec = tiny
    (tmp_path / "c.de").write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    (tmp_path / "c.en").write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    out = tmp_path / "report"
    cfg = write_yaml(tmp_path / "run.yaml", {"pairs": [str(tmp_path / "c.de"), str(tmp_path / "c.en")],
                                             "model": spec, "method": "csls", "k": 3, "batch-size": 2,
                                             "out": str(out), "progress": False})
    assert main(["retrieve", "--config", cfg, "--method", "margin-ratio"]) == 0
    config = json.loads((out / "report.json").read_text(encoding="utf-8"))["config"]
    assert config["method"] == "margin-ratio"  # the command line wins
    assert (config["k"], config["batch_size"], config["model"], config["out"]) == (3, 2, spec, str(out))  # the file's
    assert config["pooling"] == "mean" and config["layer"] == "last"  # RetrieveSettings's defaults
    assert "(margin-ratio)" in capsys.readouterr().out


@pytest.mark.usefixtures("single_torch_thread")
def test_mine_config_file_with_an_option_winning(tiny, tmp_path):
    _, spec = tiny
    (tmp_path / "a.txt").write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    out = tmp_path / "pairs.tsv"
    cfg = write_yaml(tmp_path / "mine.yaml", {"src": str(tmp_path / "a.txt"), "tgt": str(tmp_path / "a.txt"),
                                              "out": str(out), "model": spec, "margin": "absolute", "k": 2,
                                              "threshold": 2.0, "batch_size": 3})
    assert main(["mine", "--config", cfg, "--threshold", "0.5", "--no-progress"]) == 0
    report = json.loads((tmp_path / "pairs.report.json").read_text(encoding="utf-8"))
    assert report["config"]["threshold"] == 0.5  # the command line wins (2.0 would keep no pair)
    assert (report["config"]["margin"], report["config"]["k"], report["config"]["batch_size"]) == ("absolute", 2, 3)
    assert report["config"]["strategy"] == "max" and report["n_pairs"] == len(CORPUS)


@pytest.mark.parametrize("command,job,key", [
    (["retrieve"], "xlt.jobs.retrieve.run", "methd"),
    (["mine", "a.txt", "b.txt", "--out", "p.tsv"], "xlt.jobs.mine.run_mine", "margins"),  # MineEvalSettings', not MineSettings'
    (["align", "fit", "--out", "m.npz"], "xlt.jobs.align.run_align_fit", "method"),  # the option is --method, the key methods
    (["analyze", "--out", "o"], "xlt.jobs.analyze.run", "pooling_layer"),
    (["project", "--silver", "ntrex", "--out", "o"], "xlt.jobs.silver.run", "silver"),
])
def test_config_file_unknown_key_exit_2(command, job, key, tmp_path, monkeypatch, capsys):
    def no_run(*args, **kwargs):
        raise AssertionError("the job ran despite a bad --config file")

    monkeypatch.setattr(job, no_run)
    cfg = write_yaml(tmp_path / "bad.yaml", {key: 1, "model": "m"})  # one known key, one unknown
    assert main(command + ["--config", cfg]) == 2
    (msg,) = error_lines(capsys.readouterr().err)
    assert f"unknown settings {key};" in msg and cfg in msg


def capture(monkeypatch, job: str) -> list:
    """Replace the job ``module.function`` by one that records its config and returns a minimal report."""
    seen = []

    def fake(config, *args, **kwargs):
        seen.append(config)
        raise SystemExit(0)  # stop before the command prints the (missing) report

    monkeypatch.setattr(job, fake)
    return seen


def test_config_files_of_the_other_commands(tmp_path, monkeypatch):
    """align fit/finetune, analyze, mine --eval and project --silver: file values, renamed options,
    the command line winning, and the dataclass's defaults for everything else."""
    def run(job, argv, settings):
        seen = capture(monkeypatch, job)
        with pytest.raises(SystemExit):
            main(argv + ["--config", write_yaml(tmp_path / "c.yaml", settings)])
        (config,) = seen
        return config

    c = run("xlt.jobs.align.run_align_fit", ["align", "fit", "--method", "center", "--no-progress"],
            {"out": "m.npz", "methods": "procrustes", "langs": "de", "max_pairs": 0, "parallel": ["a.txt", "b.txt"]})
    assert (c.methods, str(c.out), c.langs, c.max_pairs, c.parallel) == (["center"], "m.npz", ["de"], None,
                                                                          ["a.txt", "b.txt"])
    assert (c.supervision, c.heldout, c.progress) == ("parallel", 200, False)
    c = run("xlt.jobs.align.run_align_fit", ["align", "fit"], {"out": "m.npz", "dictionary": "bli"})
    assert (c.supervision, c.dictionary, c.progress) == ("dictionary", "bli", True)  # --dictionary implies it
    c = run("xlt.jobs.align.run_align_finetune", ["align", "finetune", "--epochs", "3"],
            {"out": "ft", "epochs": 2, "lr": 1e-4, "parallel": "corpus/"})
    assert (str(c.out), c.epochs, c.lr, c.parallel, c.batch_size) == ("ft", 3, 1e-4, ["corpus/"], 16)
    c = run("xlt.jobs.analyze.run", ["analyze", "--layers", "0,1"],
            {"out": "o", "layers": "all", "lid_sentences": 0, "test_fraction": 0.5, "parallel": ["x.tsv"]})
    assert (c.out, c.layers, c.lid_sentences, c.test_fraction, c.parallel, c.top) == \
        (Path("o"), ["0", "1"], None, 0.5, ["x.tsv"], 5)
    c = run("xlt.jobs.mine.run_mine_eval", ["mine", "--eval", "ntrex", "--k", "8"],
            {"out": "o", "k": 3, "margins": "ratio", "distractors": 100})
    assert (str(c.out), c.k, c.margins, c.distractors, c.langs) == ("o", 8, ["ratio"], 100,
                                                                     ["deu", "fra", "rus", "zho-CN", "swa"])
    c = run("xlt.jobs.silver.run", ["project", "--silver", "ntrex", "--langs", "de", "--no-drop-partial"],
            {"out": "o", "langs": "fr", "seeds": [1, 2], "align_method": "argmax", "drop_partial": True})
    assert (c.parallel, c.out, c.langs, c.seeds, c.align_method, c.drop_partial) == \
        ("ntrex", Path("o"), ["de"], [1, 2], "argmax", False)
    assert (c.keep_empty, c.train_limit) == (True, 5000)


def test_config_file_required_settings_and_checks(tmp_path, capsys):
    def err(argv) -> str:
        capsys.readouterr()
        assert main(argv) == 2
        (msg,) = error_lines(capsys.readouterr().err)
        return msg

    assert "--out" in err(["align", "fit", "--langs", "de"])  # neither an option nor a --config key
    cfg = write_yaml(tmp_path / "c.yaml", {"pairs": ["a", "b", "c"]})
    assert "got 3" in err(["retrieve", "--config", cfg, "--out", "o"])  # the CLI's checks see the file's values
    cfg = write_yaml(tmp_path / "d.yaml", {"dictionary": "bli", "out": "m.npz"})
    assert "--dictionary is for --supervision dictionary" in err(["align", "fit", "--config", cfg,
                                                                   "--supervision", "parallel"])
    assert "--config only apply with --silver" in err(["project", "--src-tags", "a", "--tgt", "b", "--align", "c",
                                                       "--out", "o", "--config", cfg])
    assert "no such file" in err(["mine", "--eval", "ntrex", "--config", str(tmp_path / "none.yaml")])


@pytest.mark.parametrize("command,expected", [
    (["retrieve"], ["default 64", "default cosine"]),
    (["mine"], ["default 4", "default 200000", "default deu,fra,rus,zho-CN,swa"]),
    (["align", "fit"], ["default 50000", "default procrustes"]),
    (["align", "finetune"], ["default 5e-05", "default l2"]),
    (["analyze"], ["default best", "default 1000"]),
    (["project"], ["default itermax", "default 5000"]),
])
def test_help_states_the_dataclass_defaults(command, expected, capsys):
    with pytest.raises(SystemExit):
        main(command + ["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in expected:
        assert phrase in text, phrase
    assert "(default: None)" not in text and "--config" in text
