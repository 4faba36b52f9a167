"""Typed settings (xlt.jobs.settings) and the options generated from them (xlt.cli._settings).

Every command whose options are generated from a settings class is walked: each option maps to a
field, carries no default of its own (so a --config file and the dataclass fill the rest), and
every constraint fails with the same message from the Python API and from the command line.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Literal

import pytest

from xlt.cli import build_parser, main
from xlt.jobs import ConfigError
from xlt.jobs.settings import AT_LEAST_1, FRACTION, Interval, RunSettings, Settings, flag_of, option, setting_fields


@dataclass(kw_only=True)
class Demo(RunSettings):
    """Demo settings."""

    langs: list[str] = option(default_factory=lambda: ["en"], help="languages")
    files: dict[str, Path] = option(default_factory=dict, help="LANG=FILE")
    k: int = option(4, help="neighbours", check=AT_LEAST_1)
    ratio: float = option(0.5, help="a share", check=FRACTION)
    how: Literal["a", "b"] = option("a", help="how")
    limit: int | None = option(None, help="at most", check=AT_LEAST_1)


def test_values_are_converted_to_the_declared_types():
    d = Demo(langs="de, fr", files=["de=x.conll", "fr=y.conll"], k="7", ratio="0.25", overwrite="true", out="o")
    assert d.langs == ["de", "fr"] and d.files == {"de": Path("x.conll"), "fr": Path("y.conll")}
    assert (d.k, d.ratio, d.overwrite, d.out) == (7, 0.25, True, Path("o"))
    assert Demo(langs=["de,fr", "sw"]).langs == ["de", "fr", "sw"]  # repeated options, each comma-separated

    @dataclass(kw_only=True)
    class Sizes(Settings):
        sizes: list[int] = option(default_factory=list, help="sizes")

    assert Sizes(sizes=["20,40", "80"]).sizes == [20, 40, 80]  # numbers too
    assert Demo().to_dict()["out"] is None and Demo(out="o").to_dict()["out"] == "o"


@pytest.mark.parametrize("kwargs,message", [
    ({"k": 0}, "--k 0: expected a whole number >= 1"),
    ({"k": "x"}, "--k x: expected a whole number"),
    ({"k": True}, "--k True: expected a whole number"),
    ({"ratio": 1.0}, "--ratio 1.0: expected a number between 0 and 1 (exclusive)"),
    ({"ratio": float("nan")}, "--ratio nan: expected a number between 0 and 1 (exclusive)"),
    ({"how": "c"}, "--how c: expected one of a, b"),
    ({"files": ["de"]}, "--files de: expected KEY=VALUE (LANG=FILE)"),
    ({"files": ["de=a", "de=b"]}, "--files: de is given twice"),
    ({"limit": -5}, "--limit -5: expected a whole number >= 1"),
    ({"overwrite": "maybe"}, "--overwrite maybe: expected true or false"),
])
def test_bad_values_fail_at_construction(kwargs, message):
    with pytest.raises(ConfigError) as info:
        Demo(**kwargs)
    assert str(info.value) == message


def test_interval_descriptions_by_hand():
    assert Interval(0, closed="neither")(0.0) == "a finite number > 0"
    assert Interval(0, closed="neither")(1e-9) is None
    assert Interval(1)(0) == "a whole number >= 1" and Interval(1)(1) is None
    assert Interval(0, 1, closed="both")(1.5) == "a number between 0 and 1 (inclusive)"
    assert Interval(0)(float("inf")) == "a finite number >= 0"


def test_from_dict_names_unknown_and_missing_settings():
    @dataclass(kw_only=True)
    class Needs(Settings):
        src: Path = option(help="source file")

    with pytest.raises(ConfigError, match="unknown settings nope; known: src"):
        Needs.from_dict({"src": "a", "nope": 1})
    with pytest.raises(ConfigError, match="required: --src"):
        Needs.from_dict({})
    assert Needs.from_dict({"src": "a"}).src == Path("a")


def test_a_value_is_shown_as_given_not_as_converted():
    # "-1e-3" converts to -0.001; the message must quote what the user typed.
    @dataclass(kw_only=True)
    class Rate(Settings):
        lr: float = option(1e-3, help="rate", check=Interval(0, closed="neither"))

    with pytest.raises(ConfigError) as info:
        Rate(lr="-1e-3")
    assert str(info.value) == "--lr -1e-3: expected a finite number > 0"


def test_config_file_errors_name_the_file_and_line(tmp_path):
    bad_value = tmp_path / "run.yaml"
    bad_value.write_text("# my run\nk: 3\nratio: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Demo.from_file(bad_value)
    assert str(info.value) == (f"--config {bad_value}, line 3 (ratio): --ratio 2: expected a number between 0 "
                               "and 1 (exclusive)")
    # a value given on the command line wins, so its error is not the file's
    with pytest.raises(ConfigError) as info:
        Demo.from_file(bad_value, ratio=0.5, k=0)
    assert str(info.value) == "--k 0: expected a whole number >= 1"
    broken = tmp_path / "run.json"
    broken.write_text('{"k": 3,\n "langs": [1\n}', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^--config {broken}, line 3: not YAML or JSON"):
        Demo.from_file(broken)


def _commands(parser: argparse.ArgumentParser, prefix=()):
    """(command words, parser) of every (sub)command parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, prefix + (name,))
    if prefix:
        yield prefix, parser


def _settings_commands():
    return [(words, p, p.get_default("_settings")) for words, p in _commands(build_parser())
            if p.get_default("_settings") is not None]


def test_some_commands_have_generated_options():
    assert {"retrieve"} <= {" ".join(w) for w, _, _ in _settings_commands()}
    assert {"transfer", "project", "rank-sources"} <= {" ".join(w) for w, _, _ in _settings_commands()}
    assert {"align fit", "align eval", "align finetune", "wordalign", "wordalign eval", "mine", "adapt trim", "adapt mlm",
            "adapt extend", "adapt translit", "export-model"} <= {" ".join(w) for w, _, _ in _settings_commands()}
    assert {"predict", "analyze", "analyze correlate", "bench extract", "bench finetune", "bench mine"} <= \
        {" ".join(w) for w, _, _ in _settings_commands()}


@pytest.mark.parametrize("words,parser,cls", _settings_commands(), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_option_is_a_settings_field_with_its_default(words, parser, cls):
    by_name = {f.name: (f, tp) for f, tp in setting_fields(cls)}
    dests = set()
    for action in parser._actions:
        if action.dest in ("help", "config", "_settings") or not action.option_strings:
            continue
        assert action.dest in by_name, f"xlt {' '.join(words)} {action.option_strings}: no field {action.dest}"
        assert action.default is None, f"{action.option_strings}: the option has a default of its own"
        f, _ = by_name[action.dest]
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"
        dests.add(action.dest)
    hidden = {f.name for f, _ in setting_fields(cls) if not f.metadata.get("cli", True)}
    assert dests | hidden >= set(by_name) - {"_settings"}, f"fields without an option: {set(by_name) - dests - hidden}"
    # parsing nothing gives the dataclass's own defaults
    args = parser.parse_args([])
    for name in dests:
        assert getattr(args, name) is None


def _bad_value(check) -> str | None:
    if isinstance(check, Interval):
        if check.low is not None:
            return str(check.low - 1) if check.closed in ("both", "left") else str(check.low)
        if check.high is not None:
            return str(check.high + 1)
    return None


@pytest.mark.parametrize("words,parser,cls", _settings_commands(), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_constraints_fail_alike_in_python_and_on_the_command_line(words, parser, cls, capsys, no_model, tmp_path):
    checked = 0
    # required settings get a stand-in value each (distinct, so that two languages differ)
    required = {f.name: f"x{i}" for i, (f, _) in enumerate(setting_fields(cls))
                if f.default is MISSING and f.default_factory is MISSING}
    required_args = [a for name, v in required.items() for a in (flag_of(next(f for f, _ in setting_fields(cls)
                                                                                 if f.name == name)), v)]
    for f, tp in setting_fields(cls):
        bad = _bad_value(f.metadata.get("check"))
        if bad is None or not f.metadata.get("cli", True):
            continue
        if tp in (int, int | None) or getattr(tp, "__args__", None) and int in tp.__args__:
            bad = str(int(float(bad)))
        with pytest.raises(ConfigError) as info:
            cls(**{**required, f.name: bad})
        assert main([*words, *required_args, flag_of(f), bad, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err == f"xlt: error: {info.value}\n", (f.name, err)
        checked += 1
    assert checked or not any(f.metadata.get("check") for f in fields(cls))
