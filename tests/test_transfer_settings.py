"""Typed settings of xlt transfer / project / rank-sources (xlt.jobs.parts, xlt.jobs.project, xlt.jobs.rank)
and the typed training settings the trainers take (xlt.transfer.training_settings). No model is loaded."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from xlt.cli import build_parser, main
from xlt.cli._settings import settings_from_args
from xlt.jobs import ConfigError
from xlt.jobs.parts import REPORT_KEYS, DataFile, TransferSettings, finetune_training, parse_seeds, probe_training
from xlt.transfer.training_settings import DEFAULTS, FinetuneTraining, ProbeTraining

SRC = Path(__file__).resolve().parents[1] / "src" / "xlt"


def test_values_are_parsed_once_into_types(tmp_path):
    s = TransferSettings(task="udpos", source="en, de", targets="fr,sw", seeds="3", eval=["German=x.conll"],
                         layer=4, lr="1e-3", text_column="premise,hypothesis", language_adapters=["en=a", "sw=b"],
                         mode="finetune", peft="adapter")
    assert s.source == ["en", "de"] and s.targets == ["fr", "sw"] and s.seeds == [0, 1, 2]
    assert s.eval == [DataFile(Path("x.conll"), "de", "German=x.conll")]  # a language name becomes its code
    assert (s.layer, s.lr, s.text_column) == ("4", 1e-3, ["premise", "hypothesis"])
    assert s.language_adapters == {"en": Path("a"), "sw": Path("b")}
    # one file from a config file is one file, never cut at a comma
    assert TransferSettings(train="a,b.conll", eval=["de=x"]).train == [DataFile(Path("a,b.conll"), None, "a,b.conll")]
    assert TransferSettings(dev=None).dev == []  # as reports echo "no dev file"


@pytest.mark.parametrize("value,seeds", [("3", [0, 1, 2]), (2, [0, 1]), ("0,5,7", [0, 5, 7]), ([4], [4]),
                                         ([1, "2"], [1, 2])])
def test_seeds_are_a_count_or_a_list(value, seeds):
    assert parse_seeds(value) == seeds


@pytest.mark.parametrize("value", ["0", "x", "-1,2", True, [], ""])
def test_bad_seeds(value):
    with pytest.raises(ConfigError, match="--seeds"):
        parse_seeds(value)


@pytest.mark.parametrize("kwargs,words", [
    ({"task": "udpos", "labels": ["A"]}, "--labels fixes the label inventory"),
    ({"task": "udpos", "source": "en,de", "train": ["x"]}, "--train and --dev with --task add to one source"),
    ({"task": "udpos", "format": "conll"}, "--format says how to read your own files"),
    ({"source": "en,de", "train": ["x.conll"]}, "give one --train LANG=FILE per source language"),
    ({"task": "udpos", "matrix": True}, "--matrix needs at least two source languages"),
    ({"task": "udpos", "ensemble": 2}, "--ensemble combines the models of a transfer matrix"),
    ({"task": "udpos", "source": "en,af", "matrix": True, "save": "m"}, "it takes no --save or --resume"),
    ({"task": "udpos", "source": "en,en", "matrix": True}, "--source names a language twice"),
    ({"task": "udpos", "peft": "lora"}, "--peft chooses what fine-tuning trains"),
    ({"task": "udpos", "mode": "finetune", "language_adapters": ["en=a"]}, "go under task adapters"),
    ({"task": "udpos", "seed_ensemble": True}, "--seed-ensemble combines the models of several seeds"),
    ({"task": "udpos", "layer": "top"}, "--layer top: expected mix, last or a layer number"),
    ({"task": "udpos", "format": "xls"}, "--format xls: expected one of"),
])
def test_settings_that_cannot_work_fail_alike_in_python_and_on_the_command_line(kwargs, words, tmp_path, capsys):
    with pytest.raises(ConfigError, match=words):
        TransferSettings(**kwargs)
    argv = ["transfer", "--out", str(tmp_path / "o")]
    for key, value in kwargs.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        else:
            for v in value if isinstance(value, list) else [value]:
                argv += [flag, str(v)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("xlt: error: ") and words in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_a_choice_outside_the_list():
    # the command line's argument parser offers the choices itself; Python gets the settings' message
    with pytest.raises(ConfigError, match="--mode zero-shot: expected one of probe, finetune"):
        TransferSettings(task="udpos", mode="zero-shot")


def test_the_options_keep_their_shapes():
    parse = build_parser().parse_args
    args = parse(["transfer", "--task", "udpos", "--no-group-by-length", "--train-embeddings", "--language-adapters",
                  "en=a", "sw=b", "--mode", "finetune", "--peft", "adapter", "--seeds", "2"])
    s = settings_from_args(TransferSettings, args)
    assert (s.group_by_length, s.freeze_embeddings, s.seeds) == (False, False, [0, 1])
    assert s.language_adapters == {"en": Path("a"), "sw": Path("b")}
    assert settings_from_args(TransferSettings, parse(["transfer", "--task", "udpos", "--group-by-length"])
                              ).group_by_length is True


def test_echo_keeps_the_report_keys_and_forms():
    s = TransferSettings(task="udpos", source="en,de", targets="fr", eval=["de=y", "sw=z"], out="runs/a",
                         text_column="a,b")
    echo = s.echo()
    assert tuple(echo) == REPORT_KEYS and "progress" not in echo
    assert (echo["source"], echo["targets"], echo["train"], echo["dev"], echo["eval"]) == \
        ("en,de", "fr", None, None, ["de=y", "sw=z"])
    assert TransferSettings(train=["x.conll"], eval=["de=y"]).echo()["train"] == "x.conll"  # one file: a string
    assert (echo["out"], echo["text_column"], echo["epochs"]) == ("runs/a", "a,b", None)
    # a report's config gives the same settings back (xlt.jobs.rank.matrix_config reads it so)
    assert TransferSettings(**echo).echo() == echo


def test_training_defaults_are_resolved_once_per_mode_and_kind():
    s = TransferSettings(task="udpos", epochs=3)
    probe = probe_training(s, "token")
    assert isinstance(probe, ProbeTraining)
    assert (probe.epochs, probe.batch_size, probe.lr) == (3, *list(DEFAULTS[("probe", "token")].values())[1:])
    assert (probe.layer, probe.head, probe.hidden) == ("mix", "linear", 0)
    ft = finetune_training(TransferSettings(task="sib200", mode="finetune"), "pair")
    assert (ft.epochs, ft.batch_size, ft.lr, ft.max_length, ft.freeze_embeddings) == (3, 32, 2e-5, 128, True)
    with pytest.raises(ValueError, match="unknown settings"):
        ProbeTraining.for_kind("token", epochz=3)
    with pytest.raises(ValueError, match="task kind"):
        FinetuneTraining.for_kind("image")
    with pytest.raises(Exception):  # frozen: a run's training settings do not change under it
        probe.epochs = 4


def test_defaults_are_declared_once():
    from dataclasses import fields

    from xlt.jobs.parts import FinetuneSettings, ProbeSettings

    d = {f.name: f.default for f in fields(TransferSettings)}
    for cls, part in ((ProbeTraining, ProbeSettings), (FinetuneTraining, FinetuneSettings)):
        for f in fields(cls):
            if f.name in {g.name for g in fields(part)} and f.default is not f.default_factory:
                assert d[f.name] == f.default, f.name


def test_choice_lists_agree_with_the_modules_that_import_torch():
    from xlt.adapt.peft import PEFT_METHODS
    from xlt.transfer.training_settings import PEFT_CHOICES

    assert PEFT_CHOICES == PEFT_METHODS


def test_project_options_split_into_each_mode(tmp_path, capsys):
    from xlt.jobs.project import ProjectCommand, ProjectSettings
    from xlt.jobs.silver import SilverSettings

    both = ProjectCommand(src_tags="a.tsv", tgt="b", align="c", out="o.tsv", max_gap=2)
    f = both.file_settings()
    assert isinstance(f, ProjectSettings) and (f.src_tags, f.max_gap, f.drop_partial) == (Path("a.tsv"), 2, True)
    s = ProjectCommand(parallel="ntrex", langs="de", out="o", seeds="2").silver_settings()
    assert isinstance(s, SilverSettings) and (s.langs, s.seeds, s.train_limit) == (["de"], [0, 1], 5000)
    with pytest.raises(ConfigError, match="give --tgt, --align"):
        ProjectSettings(src_tags="a.tsv", out="o.tsv")
    assert main(["project", "--silver", "ntrex", "--src-tags", "a.tsv", "--out", str(tmp_path / "o")]) == 2
    assert "--silver builds its own inputs; it cannot be combined with --src-tags" in capsys.readouterr().err


def test_rank_settings():
    from xlt.jobs.rank import RankSettings
    from xlt.transfer.ranking import RankingError

    s = RankSettings(target="yor", candidates="eng, fra", text=["yor=a.txt"], out="r")
    assert (s.candidates, s.text, s.matrices) == (["eng", "fra"], {"yor": Path("a.txt")}, [])
    assert s.echo()["candidates"] == "eng,fra" and s.echo()["text"] == ["yor=a.txt"]
    with pytest.raises(RankingError, match="--target"):
        RankSettings()
    with pytest.raises(ConfigError, match="--text-sentences 0"):
        RankSettings(target="yor", text_sentences=0)


def test_parser_building_imports_no_torch():
    code = "import sys; from xlt.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_model_does_not_import_training():
    """xlt.transfer.model is imported by xlt.transfer.training, never the other way (no import circle)."""
    tree = ast.parse((SRC / "transfer" / "model.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m for m in imported if m.startswith("xlt.transfer.training")}
