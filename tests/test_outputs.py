"""Outputs: never over an input, replaced only with --overwrite, published whole (issue 12).

Includes the interruption test: ``xlt transfer`` is interrupted after each file write of a run
that replaces an earlier report, and the report folder must then hold exactly the earlier run or
exactly the new one, never a mix, with exit code 130 and one line on stderr.
"""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import pytest

from xlt.cli import main
from xlt.core.outputs import OutputError, check_output_file, check_output_folder, commit_files, staged_folder

from test_transfer_user_data import DEV, TEST_DE, TEST_EN, TRAIN, conll, write


# --------------------------------------------------------------------------- checks
def test_output_file_may_not_be_an_input_even_through_a_link_or_with_overwrite(tmp_path):
    src = write(tmp_path / "a.txt", "x\n")
    link = tmp_path / "link.txt"
    link.symlink_to(src)
    for out in (src, link, tmp_path / "." / "a.txt"):
        with pytest.raises(OutputError, match="also an input"):
            check_output_file(out, inputs=[src], overwrite=True)
    assert src.read_text() == "x\n"


def test_output_file_rules(tmp_path):
    existing = write(tmp_path / "old.tsv", "keep me\n")
    with pytest.raises(FileExistsError, match="--overwrite"):
        check_output_file(existing)
    assert check_output_file(existing, overwrite=True) == existing
    with pytest.raises(IsADirectoryError):
        check_output_file(tmp_path)
    with pytest.raises(NotADirectoryError):
        check_output_file(existing / "below" / "x.tsv")
    assert str(check_output_file("-")) == "-"
    assert check_output_file(tmp_path / "new" / "deeper" / "x.tsv").name == "x.tsv"  # folders get created


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_output_in_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            check_output_file(ro / "x.tsv")
    finally:
        ro.chmod(0o700)


def test_output_folder_rules(tmp_path):
    out = tmp_path / "run"
    assert check_output_folder(out) == out  # new
    out.mkdir()
    assert check_output_folder(out) == out  # empty
    write(out / "report.json", "{}")
    with pytest.raises(FileExistsError, match="not empty.*--overwrite"):
        check_output_folder(out)
    assert check_output_folder(out, overwrite=True) == out
    (out / "report.json").unlink()
    (out / "checkpoints").mkdir()
    assert check_output_folder(out, allow=("checkpoints",)) == out
    data = write(out / "data" / "train.tsv", "a\tO\n")
    with pytest.raises(OutputError, match="contains the input"):
        check_output_folder(out, overwrite=True, inputs=[data])
    with pytest.raises(NotADirectoryError):
        check_output_folder(data)


def test_staged_folder_replaces_whole_or_not_at_all(tmp_path):
    out = tmp_path / "model"
    write(out / "stale_tokenizer.json", "old")
    write(out / "checkpoints" / "c.pt", "ckpt")
    with pytest.raises(RuntimeError):
        with staged_folder(out) as tmp:
            write(tmp / "config.json", "new")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "stale_tokenizer.json"]
    with staged_folder(out, keep=("checkpoints",)) as tmp:
        write(tmp / "config.json", "new")
    # the stale file of the old folder is gone, the kept entry moved over
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "config.json"]
    assert (out / "checkpoints" / "c.pt").read_text() == "ckpt"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging or old folders left


def test_commit_files_holds_sigint_until_all_renames_are_done(tmp_path):
    a, b = write(tmp_path / ".a.tmp", "A"), write(tmp_path / ".b.tmp", "B")
    seen = []
    old = signal.signal(signal.SIGINT, lambda *_: seen.append(sorted(p.name for p in tmp_path.iterdir())))
    try:
        def renames():
            yield a, tmp_path / "a"
            os.kill(os.getpid(), signal.SIGINT)  # arrives between the two renames
            yield b, tmp_path / "b"

        commit_files(renames())
    finally:
        signal.signal(signal.SIGINT, old)
    assert seen == [["a", "b"]]  # delivered only once both files were in place


# --------------------------------------------------------------------------- CLI
def test_mine_and_wordalign_refuse_their_input_as_output(tmp_path, capsys):
    src = write(tmp_path / "a.txt", "one\ntwo\n")
    before = src.read_bytes()
    assert main(["mine", str(src), str(src), "--out", str(src), "--overwrite"]) == 2
    assert "is also an input" in capsys.readouterr().err
    pairs = write(tmp_path / "p.txt", "a b ||| c d\n")
    assert main(["wordalign", "--pairs", str(pairs), "--out", str(pairs), "--overwrite", "--layer", "1"]) == 2
    assert "is also an input" in capsys.readouterr().err
    assert src.read_bytes() == before and pairs.read_text() == "a b ||| c d\n"


def test_export_refuses_a_non_empty_folder_before_loading(tmp_path, capsys, monkeypatch):
    import xlt.models.export as export

    monkeypatch.setattr(export, "load_encoder", lambda *a, **k: pytest.fail("the model was loaded"))
    out = write(tmp_path / "e5" / "tokenizer.json", "stale")
    assert main(["export-model", "bundled:e5-small", str(out.parent)]) == 2
    assert "not empty" in capsys.readouterr().err and out.read_text() == "stale"


def test_numbers_are_checked_with_one_line(capsys, no_model):
    """By the parser's option types, or (commands whose options are generated from their settings)
    by the settings class: either way one line naming the option, exit 2, before any model loads."""
    for argv in (["mine", "a", "b", "--k", "0"], ["transfer", "--task", "udpos", "--epochs", "0"],
                 ["transfer", "--task", "udpos", "--lr", "nan"], ["mine", "a", "b", "--threshold", "nan"],
                 ["transfer", "--task", "udpos", "--train-limit", "-5"], ["align", "fit", "--max-sentences", "0"],
                 ["retrieve", "--batch-size", "0", "--out", "o"], ["wordalign", "--threshold", "inf"]):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        option = next(a for a in argv if a.startswith("--") and a != "--out" and a != "--task")
        assert code == 2 and err.startswith("xlt: error:") and option in err and err.count("\n") == 1, argv


def test_layer_outside_the_model_is_refused_before_it_loads(tiny, tmp_path, capsys):
    _, spec = tiny  # 2 layers
    pairs = write(tmp_path / "p.txt", "a b ||| c d\n")
    assert main(["wordalign", "--pairs", str(pairs), "--out", str(tmp_path / "o"), "--model", spec,
                 "--layer", "99"]) == 2
    assert "has 2 layers" in capsys.readouterr().err
    assert main(["transfer", "--task", "udpos", "--model", spec, "--layer", "-4", "--out", str(tmp_path / "r")]) == 2
    assert "has 2 layers" in capsys.readouterr().err


# --------------------------------------------------------------------------- interruption
def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.usefixtures("single_torch_thread")
def test_interrupted_transfer_never_leaves_a_mixed_report_folder(tiny, tmp_path, monkeypatch, capsys):
    _, spec = tiny
    # a shell's background job starts with SIGINT ignored, and Python then keeps it so: a Ctrl-C here
    # must raise KeyboardInterrupt as it does in a terminal
    signal.signal(signal.SIGINT, signal.default_int_handler)
    train = write(tmp_path / "data" / "train.conll", conll(TRAIN))
    dev = write(tmp_path / "data" / "dev.conll", conll(DEV))
    write(tmp_path / "data" / "eval" / "test-en.conll", conll(TEST_EN))
    write(tmp_path / "data" / "eval" / "test-de.conll", conll(TEST_DE))
    out = tmp_path / "out"
    base = ["transfer", "--train", str(train), "--dev", str(dev), "--eval", str(tmp_path / "data" / "eval"),
            "--source", "en", "--model", spec, "--mode", "probe", "--epochs", "2", "--no-progress",
            "--predictions", "--out", str(out)]
    assert main(base + ["--seeds", "1"]) == 0
    old = _digest(out)
    assert {"report.json", "report.md", "scores.png", "predictions/de.jsonl"} <= set(old)
    assert main(base + ["--seeds", "1,2"]) == 2  # no silent replacement
    assert "--overwrite" in capsys.readouterr().err and _digest(out) == old

    # count the file writes of a replacing run, then interrupt after each one of them in turn
    from fixtures import interrupt_after_write

    calls = interrupt_after_write(monkeypatch)
    new_args = base + ["--seeds", "1,2", "--overwrite"]
    assert main(new_args) == 0
    new_files = set(_digest(out))
    n_writes = calls["n"]
    assert n_writes >= 6
    import shutil
    import time

    shutil.rmtree(out)
    calls["stop"] = None
    assert main(base + ["--seeds", "1"]) == 0
    snapshot = tmp_path / "snapshot"
    shutil.copytree(out, snapshot)  # the earlier run's folder, mtimes kept
    states = set()
    for stop in range(1, n_writes + 1):
        shutil.rmtree(out)
        shutil.copytree(snapshot, out)
        t_start = time.time()
        time.sleep(0.01)
        calls["n"], calls["stop"] = 0, stop
        code = main(new_args)
        err = capsys.readouterr().err
        now = _digest(out)
        if now == old_digest(snapshot):
            states.add("old")
        else:  # every file must come from the new run, and all of them must be there
            assert set(now) == new_files, f"interrupt after write {stop}: files {sorted(now)}"
            stale = [f for f in now if (out / f).stat().st_mtime < t_start]
            assert not stale, f"interrupt after write {stop} left old files beside new ones: {stale}"
            states.add("new")
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left
        if code == 130:
            assert err.strip().splitlines()[-1].startswith("xlt: interrupted")
        else:
            assert code == 0
    assert states == {"old", "new"}  # both outcomes happen, depending on when the interrupt lands


def old_digest(snapshot: Path) -> dict[str, str]:
    return _digest(snapshot)


def test_config_file_values_are_typed_like_options(tmp_path, capsys, monkeypatch):
    import xlt.jobs.transfer as job

    monkeypatch.setattr(job, "load_encoder", lambda *a, **k: pytest.fail("the model was loaded"))
    for text, message in (("epochs: three\n", "--epochs three: expected a whole number"),
                          ("epochs: 2.5\n", "--epochs 2.5: expected a whole number"),
                          ("lr: fast\n", "--lr fast: expected a number"),
                          ("bf16: maybe\n", "--bf16 maybe: expected true or false")):
        config = write(tmp_path / "run.yaml", text)
        assert main(["transfer", "--task", "udpos", "--out", str(tmp_path / "r"), "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert err == f"xlt: error: --config {config}, line 1 ({text.split(':')[0]}): {message}\n", err


def test_a_one_based_link_file_read_as_zero_based_is_warned_about(tmp_path, caplog):
    import logging

    from xlt.data.wordalign import read_pharaoh

    # 25 pairs of 3 words, linked diagonally, written 1-based (1-1 2-2 3-3)
    one_based = write(tmp_path / "gold", "1-1 2-2 3-3\n" * 25)
    with caplog.at_level(logging.WARNING, logger="xlt.data.wordalign"):
        read_pharaoh(one_based)
    assert "none of its 75 links uses index 0" in caplog.text and "--one-based" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xlt.data.wordalign"):
        read_pharaoh(one_based, one_based=True)
        read_pharaoh(write(tmp_path / "zero", "0-0 1-1 2-2\n" * 25))
        read_pharaoh(write(tmp_path / "few", "1-1 2-2\n"))  # too few links to tell
    assert caplog.text == ""


@pytest.mark.usefixtures("single_torch_thread")
def test_cut_inputs_are_counted_and_warned_about(tiny, tmp_path, caplog):
    import json
    import logging

    _, spec = tiny  # 64 positions
    train = write(tmp_path / "train.conll", conll(TRAIN))
    long_de = [[("mat", "O")] * 100]  # 100 words: longer than 64 tokens
    write(tmp_path / "eval" / "test-de.conll", conll(TEST_DE + long_de))
    with caplog.at_level(logging.WARNING, logger="xlt.jobs.transfer"):
        assert main(["transfer", "--train", str(train), "--dev", str(train), "--eval", str(tmp_path / "eval"),
                     "--source", "en", "--model", spec, "--mode", "finetune", "--epochs", "1", "--no-progress",
                     "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["de"]["truncated"] == 1
    assert "de: 1 of 3 inputs are longer than the model takes and were cut" in caplog.text


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_ends_a_run_with_one_line_and_exit_130(tmp_path, sig):
    import subprocess
    import sys
    import time

    src = write(tmp_path / "a.txt", "one\ntwo\n")
    ready = tmp_path / "ready"
    script = (
        "import pathlib, sys, time\n"
        "import xlt.jobs.mine as m\n"
        "def slow(*a, **k):\n"
        f"    pathlib.Path({str(ready)!r}).write_text('x')\n"
        "    time.sleep(60)\n"
        "m.run_mine = slow\n"
        "from xlt.cli import main\n"
        f"sys.exit(main(['mine', {str(src)!r}, {str(src)!r}, '--out', {str(tmp_path / 'p.tsv')!r}]))\n")
    # the default SIGINT disposition, also when these tests run as a shell's background job (which
    # starts its children with SIGINT ignored)
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for _ in range(600):  # wait until the run is under way
        if ready.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines == [lines[-1]] and lines[-1].startswith("xlt: interrupted"), err
    assert not (tmp_path / "p.tsv").exists()
