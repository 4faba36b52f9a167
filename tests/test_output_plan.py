"""The output rule (issue 25): no output equals, contains or lies inside an input, no two outputs
equal or contain each other, with or without --overwrite, through any spelling of the path.

The expected relation of two paths is computed independently of :func:`path_identity` (which
compares device/inode chains): by ``os.path.realpath`` strings, which agree with it on a
case-sensitive file system. The command-line cases hash every file before and after the run.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xlt.core.outputs as outputs_mod
from xlt.cli import main
from xlt.core.outputs import Output, OutputError, OutputPlan, path_relation, staged_folders

TRAIN = "The\tDET\ncat\tNOUN\nsat\tVERB\n\nA\tDET\ndog\tNOUN\n\n"


# --------------------------------------------------------------------------- helpers
def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}




def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def _one_error(err: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("xlt: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def _fake_model(folder: Path) -> Path:
    """A folder that looks like a Hugging Face model (nothing loads it: the plan refuses first)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "bert", "num_hidden_layers": 2}\n', encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"\x00weights\x01" * 10)
    return folder


# --------------------------------------------------------------------------- path relations
def test_relation_of_spellings_links_and_nesting(tmp_path):
    a = tmp_path / "a"
    (a / "b").mkdir(parents=True)
    (a / "f.txt").write_text("x", encoding="utf-8")
    link = tmp_path / "link"
    link.symlink_to(a)
    hard = tmp_path / "hard.txt"
    os.link(a / "f.txt", hard)
    assert path_relation(a, link) == "same"
    assert path_relation(f"{tmp_path}/./a/b/..", a) == "same"
    assert path_relation(link / "b", a) == "inside"
    assert path_relation(a, link / "b" / "new" / "deeper") == "contains"  # not there yet: still inside
    assert path_relation(hard, a / "f.txt") == "same"  # one file, two names
    assert path_relation(tmp_path / "ab", a) is None  # a shared name prefix is not nesting
    assert path_relation(tmp_path / "new" / "x", tmp_path / "new" / "y") is None


def test_case_variants_are_one_place_only_where_names_ignore_case(tmp_path, monkeypatch):
    (tmp_path / "Run").mkdir()
    # this file system tells case apart: probed with an entry of the folder
    assert path_relation(tmp_path / "Run", tmp_path / "run") is None
    assert path_relation(tmp_path / "new" / "Out", tmp_path / "new" / "out") is None
    # a case-insensitive one (macOS, Windows): names that do not exist yet are compared case-folded
    monkeypatch.setattr(outputs_mod, "_case_insensitive", lambda folder: True)
    assert path_relation(tmp_path / "new" / "Out", tmp_path / "new" / "OUT") == "same"
    assert path_relation(tmp_path / "new" / "Out" / "model", tmp_path / "new" / "out") == "inside"


def test_plan_lists_every_conflict_and_names_both_paths(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tsv").write_text(TRAIN, encoding="utf-8")
    plan = OutputPlan(inputs=[("--train", f"en={data / 'train.tsv'}"), ("--model", "bundled:e5-small"), ("--data-dir", data)],
                      outputs=[Output("--out", tmp_path / "run"), Output("--save", tmp_path / "run" / "model"),
                               Output("--cache-dir", data / "cache", "store")])
    found = plan.conflicts()
    assert len(found) == 2, found
    assert "--cache-dir" in found[0] and "lies inside the input --data-dir" in found[0]
    assert "--out" in found[1] and "contains --save" in found[1] and str(tmp_path / "run" / "model") in found[1]
    with pytest.raises(OutputError, match="lies inside the input"):
        plan.check()
    OutputPlan(inputs=[("--train", data / "train.tsv")], outputs=[Output("--out", tmp_path / "run")]).check()


def test_inputs_that_name_nothing_on_disk_are_left_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ntrex").mkdir()  # a folder that happens to share a built-in name is an input
    assert outputs_mod.input_paths(["bundled:e5-small", "org/model", "hf:wikiann", None, "-"]) == []
    assert outputs_mod.input_paths({"de": "de=ntrex"}) == [Path("ntrex")]


# --------------------------------------------------------------------------- the data-loss cases
def _layout(root: Path) -> dict[str, str]:
    train, evalf = root / "train-en.tsv", root / "test-de.tsv"
    train.write_text(TRAIN, encoding="utf-8")
    evalf.write_text(TRAIN.replace("The", "Die"), encoding="utf-8")
    enc = _fake_model(root / "enc")
    mx = root / "mx"
    mx.mkdir()
    (mx / "matrix.json").write_text(json.dumps({"task": "udpos", "sources": ["en", "de"], "targets": ["fr"],
                                                "scores": {"en": {"fr": 70}, "de": {"fr": 60}}}), encoding="utf-8")
    (mx / "matrix.md").write_text("# matrix\n", encoding="utf-8")
    (root / "run").mkdir()
    (root / "run" / "report.json").write_text("{}\n", encoding="utf-8")
    (root / "enc-link").symlink_to(enc)
    text = root / "en.txt"
    text.write_text("".join(f"sentence number {i} here .\n" for i in range(5)), encoding="utf-8")
    (root / "run.yaml").write_text("k: 2\n", encoding="utf-8")
    return {"cfg": str(root / "run.yaml"), "train": str(train), "eval": str(evalf), "enc": str(enc), "mx": str(mx), "root": str(root),
            "run": str(root / "run"), "enc_link": str(root / "enc-link"), "text": str(text)}


T = ["transfer", "--train", "{train}", "--eval", "de={eval}", "--source", "en", "--model", "{enc}"]
LOSS_CASES = [
    # (argv, words of the error line)
    (T + ["--out", "{run}", "--save", "{run}"], ["--save", "same place"]),
    (T + ["--out", "{run}", "--save", "{run}/model"], ["--out", "contains --save"]),
    (T + ["--out", "{enc}/report", "--save", "{root}/saved"], ["lies inside the input --model"]),
    (T + ["--out", "{root}/r", "--save", "{enc}"], ["--save", "also an input (--model"]),
    (T + ["--out", "{root}/r", "--save", "{enc_link}"], ["--save", "also an input (--model"]),
    (T + ["--out", "{root}/r", "--save", "{root}/./x/../enc"], ["--save", "also an input (--model"]),
    (["rank-sources", "--matrix", "{mx}", "--target", "fr", "--out", "{mx}"], ["--out", "also an input (--matrix"]),
    (["rank-sources", "--matrix", "{mx}/matrix.json", "--out", "{mx}"], ["contains the input --matrix"]),
    (["adapt", "mlm", "--langs", "en", "--text", "en={text}", "--min-sentences", "1", "--model", "{enc}",
      "--out", "{enc}"], ["also an input (--model"]),
    (["adapt", "trim", "--langs", "en", "--text", "en={text}", "--min-sentences", "1", "--model", "{enc_link}",
      "--out", "{enc}"], ["also an input (--model"]),
    (["export-model", "{enc}", "{enc}"], ["export folder", "also an input"]),
    (["export-model", "{enc}", "{enc}/exported"], ["lies inside the input"]),
    (["mine", "{text}", "{train}", "--out", "{train}"], ["also an input"]),
    (["predict", "--model", "{enc}", "--input", "{text}", "--out", "{enc}/pred.jsonl"], ["lies inside the input --model"]),
    (["mine", "{text}", "{train}", "--config", "{cfg}", "--out", "{cfg}"], ["--out", "is the --config file"]),
    (["transfer", "--config", "{cfg}", "--train", "{train}", "--eval", "de={eval}", "--out", "{root}"],
     ["contains the --config file"]),
    (["bench", "extract", "--file", "{train}", "--out", "{train}"], ["also an input (--file"]),
]


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("argv, words", LOSS_CASES, ids=[f"{c[0][0]}-{i}" for i, c in enumerate(LOSS_CASES)])
def test_no_command_destroys_an_input_or_another_output(argv, words, overwrite, tmp_path, no_model, capsys):
    values = _layout(tmp_path)
    args = [a.format(**values) for a in argv] + (["--overwrite"] if overwrite else [])
    before = _snapshot(tmp_path)
    code, err = _run(args, capsys)
    assert code == 2, (args, err)
    line = _one_error(err)
    for w in words:
        assert w in line, (w, line)
    assert _snapshot(tmp_path) == before


def test_a_saved_probe_is_no_encoder(tmp_path, no_model, capsys):
    values = _layout(tmp_path)
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "xlt_task.json").write_text(json.dumps({"mode": "probe", "encoder": {"spec": "bundled:e5-small"}}),
                                         encoding="utf-8")
    code, err = _run(["transfer", "--train", values["train"], "--eval", f"de={values['eval']}", "--model", str(probe),
                      "--out", str(tmp_path / "r")], capsys)
    assert code == 2
    line = _one_error(err)
    assert "saved xlt task model" in line and "xlt predict" in line and "--model bundled:e5-small" in line


# --------------------------------------------------------------------------- publishing
def test_report_and_model_appear_together_or_not_at_all(tmp_path, monkeypatch):
    out, save = tmp_path / "run", tmp_path / "model"
    for folder, text in ((out, "old report"), (save, "old model")):
        folder.mkdir()
        (folder / "content.txt").write_text(text, encoding="utf-8")
    real_replace = os.replace

    def fail_on_model(src, dst):  # the second folder's swap fails, after the first one's
        if Path(dst) == save and ".tmp-" in Path(src).name:
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_replace(src, dst)

    monkeypatch.setattr(outputs_mod.os, "replace", fail_on_model)
    with pytest.raises(OutputError, match="nothing was replaced, and the complete results are kept in") as info:
        with staged_folders([out, save]) as (a, b):
            (a / "content.txt").write_text("new report", encoding="utf-8")
            (b / "content.txt").write_text("new model", encoding="utf-8")
    # both old: the report was put back when the model could not follow
    assert (out / "content.txt").read_text() == "old report"
    assert (save / "content.txt").read_text() == "old model"
    kept = [Path(p.strip()) for p in str(info.value).split("kept in ", 1)[1].split(",")]
    assert sorted(p.joinpath("content.txt").read_text() for p in kept) == ["new model", "new report"]


def test_a_mount_point_is_filled_in_place(tmp_path, monkeypatch):
    mount = tmp_path / "volume"
    mount.mkdir()
    (mount / "old.txt").write_text("old", encoding="utf-8")
    (mount / "checkpoints").mkdir()
    real_ismount = os.path.ismount
    monkeypatch.setattr(outputs_mod.os.path, "ismount", lambda p: Path(p) == mount or real_ismount(p))
    real_replace = os.replace

    def no_rename_of_the_mount(src, dst):  # what the kernel says (EBUSY) when a mount point is renamed
        if Path(src) == mount:
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_replace(src, dst)

    monkeypatch.setattr(outputs_mod.os, "replace", no_rename_of_the_mount)
    with staged_folders([mount], keep=[("checkpoints",)]) as (tmp,):
        assert tmp.parent == mount  # built inside: a rename within one file system
        (tmp / "report.json").write_text("{}", encoding="utf-8")
    assert sorted(p.name for p in mount.iterdir()) == ["checkpoints", "report.json"]


def test_transfer_writes_into_a_mount_point_out(tmp_path, monkeypatch, tiny, capsys):
    from test_transfer_user_data import TEST_DE, TRAIN as TRAIN_EN, conll, write

    _, spec = tiny
    train = write(tmp_path / "train.conll", conll(TRAIN_EN))
    test_de = write(tmp_path / "test-de.conll", conll(TEST_DE))
    mount = tmp_path / "volume"
    mount.mkdir()
    (mount / "stale.txt").write_text("old", encoding="utf-8")
    real_ismount = os.path.ismount
    monkeypatch.setattr(outputs_mod.os.path, "ismount", lambda p: Path(p) == mount or real_ismount(p))
    assert main(["transfer", "--train", str(train), "--eval", f"de={test_de}", "--model", spec, "--epochs", "1",
                 "--no-progress", "--out", str(mount), "--overwrite"]) == 0
    assert sorted(p.name for p in mount.iterdir()) == ["report.json", "report.md", "scores.png"]


# --------------------------------------------------------------------------- the rule, as a property
# Places in one layout: inputs (files and folders), places that do not exist yet, and links.
INPUT_FILES = ["data/train-en.tsv", "data/test-de.tsv", "data/pairs.txt", "data/links.txt", "mx/matrix.json"]
INPUT_DIRS = ["enc", "mx", "data"]
PLACES = ["new", "new/deeper", "data", "data/out", "data/train-en.tsv", "enc", "enc/sub", "mx", "mx/out",
          "run", "run/model", "other", "lnk-data", "lnk-data/out", "lnk-enc", "lnk-new/x"]


def _build(root: Path) -> None:
    (root / "data").mkdir()
    (root / "data" / "train-en.tsv").write_text(TRAIN, encoding="utf-8")
    (root / "data" / "test-de.tsv").write_text(TRAIN.replace("The", "Die"), encoding="utf-8")
    (root / "data" / "pairs.txt").write_text("the cat ||| die Katze\na dog ||| ein Hund\n", encoding="utf-8")
    (root / "data" / "links.txt").write_text("0-0 1-1\n0-0 1-1\n", encoding="utf-8")
    _fake_model(root / "enc")
    (root / "mx").mkdir()
    (root / "mx" / "matrix.json").write_text(json.dumps({"task": "udpos", "sources": ["en", "de"], "targets": ["fr"],
                                                         "scores": {"en": {"fr": 70}, "de": {"fr": 60}}}),
                                             encoding="utf-8")
    (root / "lnk-data").symlink_to(root / "data")
    (root / "lnk-enc").symlink_to(root / "enc")
    (root / "lnk-new").symlink_to(root / "new-target")  # a dangling link: writes would go to new-target


@st.composite
def spelled(draw, place: str) -> str:
    """One of the many spellings of ``place`` (relative to the layout root, which is the cwd)."""
    how = draw(st.sampled_from(["plain", "dot", "updown", "absolute", "trailing"]))
    if how == "dot":
        return "./" + place
    if how == "updown":
        return f"other/../{place}"
    if how == "absolute":
        return str(Path.cwd() / place)
    if how == "trailing":
        return place + "/"
    return place


def _expected(outputs: list[str], inputs: list[str]) -> bool:
    """Whether the layout is dangerous, by realpath strings (an independent computation)."""
    def real(p: str) -> str:
        return os.path.realpath(p)

    def related(a: str, b: str) -> bool:
        ra, rb = real(a), real(b)
        return ra == rb or ra.startswith(rb + os.sep) or rb.startswith(ra + os.sep)

    return any(related(o, i) for o in outputs for i in inputs) or any(
        related(a, b) for k, a in enumerate(outputs) for b in outputs[k + 1:])


# command -> (argv template with {o0}, {o1} outputs, the inputs that template reads)
COMMANDS = {
    "transfer": (["transfer", "--train", "data/train-en.tsv", "--eval", "de=data/test-de.tsv", "--model", "enc",
                  "--out", "{o0}", "--save", "{o1}", "--overwrite"], ["data/train-en.tsv", "data/test-de.tsv", "enc"]),
    # --target yo is in no matrix: a safe layout stops right after the plan (before URIEL is read)
    "rank-sources": (["rank-sources", "--matrix", "mx", "--target", "yo", "--out", "{o0}", "--overwrite"], ["mx"]),
    "export-model": (["export-model", "enc", "{o0}", "--overwrite"], ["enc"]),
    "adapt mlm": (["adapt", "mlm", "--langs", "en", "--text", "en=data/pairs.txt", "--min-sentences", "1",
                   "--model", "enc", "--out", "{o0}", "--overwrite"], ["data/pairs.txt", "enc"]),
    "wordalign": (["wordalign", "--pairs", "data/pairs.txt", "--gold", "data/links.txt", "--model", "enc",
                   "--layer", "1", "--out", "{o0}/a.txt", "--report", "{o1}/r.json", "--overwrite"],
                  ["data/pairs.txt", "data/links.txt", "enc"]),
    "project": (["project", "--src-tags", "data/train-en.tsv", "--tgt", "data/pairs.txt", "--align", "data/links.txt",
                 "--out", "{o0}/p.tsv", "--stats", "{o1}/s.json", "--overwrite"],
                ["data/train-en.tsv", "data/pairs.txt", "data/links.txt"]),
}
PLAN_WORDS = ("also an input", "contains the input", "lies inside the input", "same place", "contains --")


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout")
    _build(root)
    return root


@pytest.mark.parametrize("command", list(COMMANDS))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_plan_refuses_exactly_the_dangerous_layouts(command, data, layout, no_model, capsys, monkeypatch):
    monkeypatch.chdir(layout)
    template, inputs = COMMANDS[command]
    places = [data.draw(spelled(data.draw(st.sampled_from(PLACES)))) for _ in range(2)]
    argv = [a.format(o0=places[0], o1=places[1]) for a in template]
    outputs = [a for a, t in zip(argv, template) if "{o" in t]
    dangerous = _expected(outputs, inputs)
    before = _snapshot(layout)
    try:
        code, err = _run(argv, capsys)
    except AssertionError as exc:  # the model would have loaded: every check before it passed
        assert "a model was loaded" in str(exc)
        code, err = None, ""
    refused = code == 2 and any(w in err for w in PLAN_WORDS)
    after = _snapshot(layout)
    _remove_new(layout, before)  # a safe run may have written its outputs (project runs without a model)
    assert refused == dangerous, (argv, err)
    assert {k: after.get(k) for k in before} == before  # no input changed
    assert not refused or after == before  # a refused run wrote nothing


def _remove_new(root: Path, before: dict[str, str]) -> None:
    """Delete what a run created in the layout (files not in ``before``, then empty new folders)."""
    import shutil

    keep_dirs = {str(Path(k).parent) for k in before} | {"data", "enc", "mx"}
    for p in sorted(root.rglob("*"), key=lambda q: -len(q.parts)):
        rel = str(p.relative_to(root))
        if p.is_symlink() or rel in before or rel in keep_dirs:
            continue
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
    shutil.rmtree(root / "new-target", ignore_errors=True)


def test_property_universe_has_both_outcomes(layout, monkeypatch):
    """The layouts above are not all dangerous (or all safe): the property test can fail both ways."""
    monkeypatch.chdir(layout)
    assert _expected(["new/a.txt", "run/r.json"], ["data/pairs.txt"]) is False
    assert _expected(["data/out/a.txt", "run/r.json"], ["data/pairs.txt"]) is False  # beside, not inside, a file
    assert _expected(["new", "new/deeper"], ["enc"]) is True
    assert _expected(["lnk-enc/sub"], ["enc"]) is True


@pytest.mark.usefixtures("single_torch_thread")
def test_an_interrupt_never_leaves_a_report_beside_a_model_it_does_not_describe(tiny, tmp_path, monkeypatch, capsys):
    """``--out`` and ``--save`` of a run that replaces an earlier one, interrupted (a real SIGINT) after
    each file write in turn: the two folders are both the earlier run's or both the new run's."""
    import shutil
    import signal

    from fixtures import interrupt_after_write
    from test_transfer_user_data import TEST_DE, TRAIN as TRAIN_EN, conll, write

    _, spec = tiny
    signal.signal(signal.SIGINT, signal.default_int_handler)
    train = write(tmp_path / "data" / "train.conll", conll(TRAIN_EN))
    test_de = write(tmp_path / "data" / "test-de.conll", conll(TEST_DE))
    out, save = tmp_path / "out", tmp_path / "model"
    base = ["transfer", "--train", str(train), "--eval", f"de={test_de}", "--model", spec, "--mode", "probe",
            "--no-progress", "--out", str(out), "--save", str(save)]
    assert main(base + ["--seeds", "7,"]) == 0  # one seed, 7
    old = (_snapshot(out), _snapshot(save))
    snap = tmp_path / "snap"
    shutil.copytree(out, snap / "out")
    shutil.copytree(save, snap / "model")

    calls = interrupt_after_write(monkeypatch)
    new_args = base + ["--seeds", "8,", "--overwrite"]
    assert main(new_args) == 0
    new = (_snapshot(out), _snapshot(save))
    assert new[0] != old[0] and new[1] != old[1]  # the new run's report and model differ from the old ones
    n_writes, states = calls["n"], set()
    for stop in range(1, n_writes + 1):
        for name, folder in (("out", out), ("model", save)):
            shutil.rmtree(folder)
            shutil.copytree(snap / name, folder)
        calls["n"], calls["stop"] = 0, stop
        main(new_args)
        capsys.readouterr()
        calls["stop"] = None
        report, model = _snapshot(out), _snapshot(save)
        # the report holds timings, so a new one differs from the first new run's; the model does not
        report_state = "old" if report == old[0] else "new" if set(report) == set(new[0]) else "mixed"
        model_state = "old" if model == old[1] else "new" if model == new[1] else "mixed"
        assert report_state == model_state != "mixed", f"interrupt after write {stop} of {n_writes}: report " \
                                                         f"{report_state}, model {model_state}"
        if report_state == "new":
            assert json.loads((out / "report.json").read_text())["best_seed"] == 8
        states.add(report_state)
    assert states == {"old", "new"}
