"""The typed settings of ``xlt align``, ``wordalign``, ``mine``, ``adapt`` and ``export-model``: values
resolved and refused at construction (no model, no data), and reports echoing them as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlt.cli import mine as mine_cli
from xlt.cli._common import XltArgumentParser
from xlt.cli._settings import settings_from_args
from xlt.jobs import ConfigError
from xlt.jobs.adapt import ExtendSettings, MlmSettings, TranslitSettings, TrimSettings
from xlt.jobs.align import AlignEvalSettings, AlignFinetuneSettings, AlignFitSettings
from xlt.jobs.export import ExportSettings
from xlt.jobs.mine import MineEvalSettings, MineOptions, MineSettings
from xlt.jobs.parts_aligncmds import FileRunSettings, report_config, same_field
from xlt.jobs.settings import RunSettings
from xlt.jobs.wordalign import WordalignEvalSettings, WordalignSettings


def test_align_fit_resolves_supervision_and_refuses_what_cannot_work():
    assert AlignFitSettings(out="m.npz").supervision == "parallel"
    fit = AlignFitSettings(out="m.npz", dictionary="bli", max_pairs=0, methods="centering, procrustes")
    assert (fit.supervision, fit.dictionary_kind, fit.max_pairs) == ("dictionary", "bli", None)
    assert fit.method_names == ["center", "procrustes"]
    assert AlignFitSettings(out="m.npz").dictionary_kind == "wiktionary"
    for kwargs, message in (({"dictionary": "bli", "supervision": "parallel"}, "--dictionary is for --supervision"),
                            ({"methods": "rotate"}, "unknown alignment method 'rotate'"),
                            ({"layers": "0,all"}, "--layers 0,all: expected 'all', 'last'"),
                            ({"layers": "x"}, "--layers x"),
                            ({"parallel": ["a", "b", "c"]}, "got 3 paths")):
        with pytest.raises(ConfigError, match=message):
            AlignFitSettings(out="m.npz", **kwargs)
    with pytest.raises(ConfigError, match="required: --out"):
        AlignFitSettings()
    with pytest.raises(ConfigError, match="required: --out"):
        AlignFinetuneSettings()


def test_parallel_source_is_what_the_library_takes():
    assert AlignEvalSettings().parallel_source == "ntrex"
    assert AlignFinetuneSettings(out="f", parallel="corpus/").parallel_source == "corpus/"
    assert AlignFitSettings(out="m", parallel=["a.txt", "b.txt"]).parallel_source == ["a.txt", "b.txt"]


def test_report_config_echoes_settings_as_the_reports_always_did():
    fit = AlignFitSettings(out="runs/m.npz", langs=["de", "fr"], layers="4,12", methods="center,procrustes")
    cfg = report_config(fit, ("out", "langs", "layers", "methods", "heldout", "data_dir"),
                        joined=("langs", "layers", "methods"))
    assert cfg == {"out": "runs/m.npz", "langs": "de,fr", "layers": "4,12", "methods": "center,procrustes",
                   "heldout": 200, "data_dir": None}
    trim = TrimSettings(langs="de", text=["de=a.txt"], out="o")
    assert report_config(trim, ("langs", "text", "out"), joined=("langs",)) == {"langs": "de", "text": ["de=a.txt"],
                                                                                  "out": "o"}


def test_same_field_keeps_the_declaration_and_changes_what_is_asked():
    import dataclasses

    f = same_field(RunSettings, "out", help="the map file", cli=False)
    assert f.default is None and f.metadata["help"] == "the map file" and f.metadata["cli"] is False
    assert [g.name for g in dataclasses.fields(FileRunSettings)] == ["model", "backend", "int8", "out", "overwrite",
                                                                     "progress"]
    assert TranslitSettings(langs="ru", out="o").limit == 2000 and MlmSettings(langs="ru", out="o").limit is None


def test_adapt_settings():
    mlm = MlmSettings(langs="yo,yo,ha", text=["yo=a.txt"], out="o")
    assert mlm.langs == ["yo", "ha"] and mlm.text == {"yo": Path("a.txt")}
    with pytest.raises(ConfigError, match="required: --langs, --out"):
        TrimSettings()
    with pytest.raises(ConfigError, match="--steps 0: expected a whole number >= 1"):
        MlmSettings(langs="yo", out="o", steps=0)
    assert ExtendSettings(langs="yo", out="o", steps=0).steps == 0  # extend: 0 = no MLM
    with pytest.raises(ConfigError, match="--vocab-size 5: expected a whole number >= 10"):
        ExtendSettings(langs="yo", out="o", vocab_size=5)
    with pytest.raises(ConfigError, match="language adapter"):
        ExtendSettings(langs="yo", out="o", language_adapter=8)


def test_wordalign_settings():
    assert WordalignSettings(pairs="p", out="o", methods="all").methods == ["argmax", "itermax", "match", "softmax"]
    assert WordalignSettings(pairs="p", out="o", methods="match,argmax,match").methods == ["match", "argmax"]
    with pytest.raises(ConfigError, match="unknown alignment method 'inter'"):
        WordalignSettings(pairs="p", out="o", methods="inter")
    with pytest.raises(ConfigError, match="required: --pairs, --out"):
        WordalignSettings()
    with pytest.raises(ConfigError, match="required: --gold, --pred"):
        WordalignEvalSettings()


def test_mine_options_check_both_modes_and_give_the_mode_settings():
    parser = XltArgumentParser(prog="xlt")
    mine_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["mine", "a.txt", "b.txt", "--out", "p.tsv", "--k", "3", "--distractors", "5"])
    options = settings_from_args(MineOptions, args)
    mode = options.mode_settings()
    assert type(mode) is MineSettings and (mode.src, mode.k) == (Path("a.txt"), 3)
    ev = MineOptions(eval="ntrex", langs="deu", distractors=5).mode_settings()
    assert type(ev) is MineEvalSettings and (ev.langs, ev.distractors) == (["deu"], 5)
    with pytest.raises(ConfigError, match="--distractors -1: expected a whole number >= 0"):
        MineOptions(distractors=-1)
    with pytest.raises(ConfigError, match="report_margin ratio is not among"):
        MineEvalSettings(margins="distance")


def test_export_settings_need_the_model_and_the_folder():
    assert ExportSettings(model="bundled:e5-small", out="e5").out == Path("e5")
    with pytest.raises(ConfigError, match="required: dir"):
        ExportSettings(model="bundled:e5-small")
