"""Typed settings of xlt's commands: one dataclass per command, composed from shared parts.

Modelled on Hugging Face ``TrainingArguments`` (a typed object checked in ``__post_init__``) and
scikit-learn's parameter constraints (declared beside the parameters): every setting is a field
declared once with :func:`option`, which carries its default, its help text and its constraint;
:class:`Settings` converts values to the field's type and checks every constraint when the object
is built. So the Python API gets exactly the checks the command line gets, and the command line
(:mod:`xlt.cli._settings`) is generated from the fields.

Shared parts, combined by inheritance (all fields are keyword-only, so parts combine in any order):

* :class:`RunSettings`: model, inference backend and int8, out, overwrite, progress, data folder (commands that train add
  ``seed`` with their training settings);
* :class:`EncodingSettings`: layer, pooling, batch size of a frozen encoder.

Types a field may have, and what a value is converted from (strings from a config file or the
command line, or Python values): ``str``, ``int``, ``float``, ``bool`` (``true``/``false``),
``Path``, ``Literal[...]`` (one of the choices), ``list[X]`` (a list, or a comma-separated string:
``"en,de"``), ``dict[str, Path]`` (``{"de": "x.conll"}``, or ``LANG=FILE`` strings), and ``X | None``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from xlt.jobs import ConfigError
from xlt.models.backends import BackendError, check_backend
from xlt.models.loading import DEFAULT_MODEL

__all__ = ["AT_LEAST_0", "AT_LEAST_1", "FRACTION", "POSITIVE", "EncodingSettings", "Interval", "RunSettings",
           "Settings", "check_inference_backend", "encoder_options", "flag_of", "option", "setting_fields",
           "setting_parts"]


# --------------------------------------------------------------------------- constraints


@dataclass(frozen=True)
class Interval:
    """A number constraint, as scikit-learn's ``Interval``: ``low <= value <= high`` (``closed``
    says which ends are included; None = unbounded). Values must be finite.

    Attributes:
        low, high: the bounds (None: none). closed: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``.
    """

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __call__(self, value) -> str | None:
        """None if ``value`` is inside, else what is expected (for the error message; "a whole
        number >= 1" for an ``int``)."""
        if value is None:
            return None
        ok = math.isfinite(value)
        if ok and self.low is not None:
            ok = value >= self.low if self.closed in ("both", "left") else value > self.low
        if ok and self.high is not None:
            ok = value <= self.high if self.closed in ("both", "right") else value < self.high
        return None if ok else self.describe(isinstance(value, int))

    def describe(self, integer: bool = False) -> str:
        """``"a finite number >= 1"`` (``integer``: ``"a whole number >= 1"``), ``"a number between 0
        and 1 (exclusive)"``, ... ."""
        kind = "a whole number" if integer else "a finite number"
        lo_op = ">=" if self.closed in ("both", "left") else ">"
        hi_op = "<=" if self.closed in ("both", "right") else "<"
        if self.low is not None and self.high is not None:
            ends = {"both": "inclusive", "neither": "exclusive"}.get(self.closed, f"{lo_op} {self.low}, {hi_op} {self.high}")
            return f"a number between {self.low:g} and {self.high:g} ({ends})"
        if self.low is not None:
            return f"{kind} {lo_op} {self.low:g}"
        if self.high is not None:
            return f"{kind} {hi_op} {self.high:g}"
        return kind


#: Common constraints.
AT_LEAST_1 = Interval(1)
AT_LEAST_0 = Interval(0)
POSITIVE = Interval(0, closed="neither")
FRACTION = Interval(0, 1, closed="neither")


# --------------------------------------------------------------------------- fields


def option(default: Any = MISSING, *, help: str, default_factory: Callable[[], Any] | Any = MISSING,
           check: Callable[[Any], str | None] | None = None, flag: str | None = None, metavar: str | None = None,
           cli: bool = True, negative_flag: str | None = None, negative_help: str | None = None,
           nargs: str | None = None, both_ways: bool = False, repeat: bool = True) -> Any:
    """A settings field: its default, help text and constraint in one place.

    Args:
        default, default_factory: as :func:`dataclasses.field` (none: a required setting).
        help: one line for ``--help`` and the API reference (the default is added to it).
        check: a constraint: called with the converted value (each element of a list), returns
            None if it is fine or what is expected (:class:`Interval` is one).
        flag: the command-line option (default ``--`` + the name with ``-`` for ``_``).
        metavar: the value's name in ``--help``.
        cli: False: a setting of the Python API and config files only.
        negative_flag: for a bool that defaults to True, the option that turns it off
            (default ``--no-NAME``), and that option's help (default: "turn off: " + ``help``).
        negative_help: see ``negative_flag``.
        nargs: for a list or a ``LANG=FILE`` dict, ``"+"`` to take several values after one option
            (``--pairs SRC TGT``).
        both_ways: for a bool, both ``--NAME`` and ``--no-NAME`` (``--drop-partial``/``--no-drop-partial``).
        repeat: for a list, False makes the option one value that a repeat replaces (``--seeds 3``:
            a count or a comma-separated list) instead of a repeatable option whose values add up.
    """
    meta = {"help": help, "check": check, "flag": flag, "metavar": metavar, "cli": cli, "negative_flag": negative_flag,
            "negative_help": negative_help, "nargs": nargs, "both_ways": both_ways, "repeat": repeat}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=meta)


def flag_of(f: dataclasses.Field) -> str:
    """The command-line option of field ``f`` (``--train-limit`` for ``train_limit``)."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def setting_fields(cls) -> list[tuple[dataclasses.Field, Any]]:
    """``(field, resolved type)`` of every field of the settings class ``cls``, in order."""
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in fields(cls)]


def setting_parts(cls) -> list[tuple[type, list[str]]]:
    """The settings classes ``cls`` is composed of, each with the field names it declares: ``cls``
    itself first, then its shared parts (:class:`RunSettings`, ...) in method-resolution order."""
    seen: set[str] = set()
    parts = []
    for klass in cls.__mro__:
        if klass in (Settings, object) or not dataclasses.is_dataclass(klass):
            continue
        own = [n for n in vars(klass).get("__annotations__", {}) if n not in seen]
        seen.update(own)
        if own:
            parts.append((klass, own))
    return parts


def unwrap_optional(tp) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(tp, False)``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _blamed_key(cls, message: str, keys: set) -> str | None:
    """The config-file key whose option a settings error message starts with (None: another)."""
    for f in fields(cls):
        for key in (f.name, f.name.replace("_", "-")):
            if key in keys and message[len(flag_of(f)):][:1] in (" ", ":") and message.startswith(flag_of(f)):
                return key
    return None


def _key_line(text: str, key: str) -> int | str:
    """The 1-based line of top-level ``key`` in a YAML/JSON mapping (``?`` if not found)."""
    node = yaml.compose(text)
    for key_node, _ in getattr(node, "value", []):
        if getattr(key_node, "value", None) == key:
            return key_node.start_mark.line + 1
    return "?"


def _fail(f: dataclasses.Field, value: Any, expected: str) -> ConfigError:
    shown = value if isinstance(value, str) else repr(value)
    return ConfigError(f"{flag_of(f)} {shown}: expected {expected}")


def _convert(f: dataclasses.Field, tp, value: Any) -> Any:
    """``value`` as type ``tp`` (see the module docstring), or ConfigError naming the option."""
    tp, optional = unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{flag_of(f)} is required")
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise _fail(f, value, "one of " + ", ".join(map(str, choices)))
        return value
    if origin is list:
        (item,) = typing.get_args(tp) or (str,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, (list, tuple)):
            value = [p.strip() if isinstance(p, str) else p for v in value
                     for p in (v.split(",") if isinstance(v, str) and item in (str, Path, int, float) else [v])
                     if not (isinstance(p, str) and not p.strip())]
        else:
            raise _fail(f, value, "a list (or comma-separated values)")
        return [_convert(f, item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(tp)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            pairs = {}
            for v in value:
                key, sep, rest = str(v).partition("=")
                if not sep or not key.strip() or not rest.strip():
                    raise _fail(f, v, "KEY=VALUE (LANG=FILE)")
                if key.strip() in pairs:
                    raise ConfigError(f"{flag_of(f)}: {key.strip()} is given twice")
                pairs[key.strip()] = rest.strip()
            value = pairs
        if not isinstance(value, Mapping):
            raise _fail(f, value, "KEY=VALUE pairs")
        return {str(k): _convert(f, item, v) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        if not isinstance(value, bool):
            raise _fail(f, value, "true or false")
        return value
    if tp is int:
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise _fail(f, value, "a whole number") from None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise _fail(f, value, "a whole number")
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise _fail(f, value, "a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(f, value, "a number")
        return float(value)
    if tp is Path:
        if isinstance(value, (str, Path)) and str(value).strip():
            return Path(value)
        raise _fail(f, value, "a path")
    if tp is str:
        if isinstance(value, Path):
            return str(value)
        if not isinstance(value, str):
            raise _fail(f, value, "text")
        return value
    return value


# --------------------------------------------------------------------------- the base class


@dataclass(kw_only=True)
class Settings:
    """Base class of every command's settings: converts each field to its declared type and checks
    its constraint at construction (``__post_init__``), so a bad value fails where it is given
    (``XxxSettings(lr=-1)``, a config file, the command line) with the same message.

    Subclasses add cross-field checks in ``__post_init__`` after calling ``super().__post_init__()``.

    Raises:
        ConfigError: a value of the wrong type, outside its constraint, or a required one missing;
        the message names the command-line option and the value.
    """

    def __post_init__(self) -> None:
        for f, tp in setting_fields(type(self)):
            given = getattr(self, f.name)
            value = _convert(f, tp, given)
            check = f.metadata.get("check")
            if check is not None and value is not None:
                for v in value if isinstance(value, list) else value.values() if isinstance(value, dict) else [value]:
                    expected = check(v)
                    if expected:  # a single value is shown as given (-1e-3, not -0.001)
                        raise _fail(f, given if v is value else v, expected)
            object.__setattr__(self, f.name, value)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str = "settings"):
        """Settings from a mapping (a parsed config file): keys are field names (``-`` read as ``_``).

        Raises:
            ConfigError: an unknown key (the known ones are listed), a missing required setting,
            or a bad value.
        """
        names = {f.name for f in fields(cls)}
        values = {str(k).replace("-", "_"): v for k, v in values.items()}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"{where}: unknown settings {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        missing = [flag_of(f) for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
                   and f.name not in values]
        if missing:
            raise ConfigError(f"the following settings are required: {', '.join(missing)}")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path, **overrides):
        """Settings from a YAML or JSON file of field names, with ``overrides`` winning.

        Raises:
            ConfigError: an unreadable file, not a mapping, an unknown key, a bad value.
        """
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"--config {path}: no such file")
        try:
            text = p.read_text(encoding="utf-8")
            data = yaml.safe_load(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--config {path}: cannot read it ({exc})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"--config {path}" + (f", line {mark.line + 1}" if mark is not None else "")
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{where}: not YAML or JSON ({problem})") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"--config {path}: expected a mapping of option names to values")
        try:
            return cls.from_dict({**data, **overrides}, where=f"--config {path}")
        except ConfigError as exc:
            key = _blamed_key(cls, str(exc), {k for k in data if str(k).replace("-", "_") not in overrides})
            if key is None:
                raise
            raise ConfigError(f"--config {path}, line {_key_line(text, key)} ({key}): {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-able values (paths as strings), for reports and manifests."""
        def plain(v):
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, list):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


# --------------------------------------------------------------------------- shared parts


def check_inference_backend(settings: Settings) -> None:
    """Check the ``backend`` and ``int8`` settings of a part that carries ``model``, before any model loads.

    Raises:
        ConfigError: ``--backend onnx`` without onnxruntime installed (the message names the extra), or
            ``--backend onnx`` / ``--int8`` for a run that trains the encoder or writes its weights
            (``updates_encoder``, or ``mode='finetune'``): those need torch fp32 weights with gradients.
    """
    backend, int8 = getattr(settings, "backend", "torch"), bool(getattr(settings, "int8", False))
    if backend == "torch" and not int8:
        return
    asked = ("--backend onnx" if backend == "onnx" else "") + (" --int8" if int8 else "")
    asked = asked.strip()
    if getattr(settings, "updates_encoder", False) or getattr(settings, "mode", None) == "finetune":
        raise ConfigError(f"{asked}: this command trains the encoder or writes its weights, which needs the "
                          "torch backend in fp32 (gradients); use --backend onnx/--int8 for inference only "
                          "(e.g. --mode probe, retrieve, mine, wordalign)")
    try:
        check_backend(backend, int8)
    except BackendError as exc:
        raise ConfigError(str(exc)) from None


def encoder_options(settings: Settings) -> dict[str, Any]:
    """``{"backend": ..., "int8": ...}`` of a settings object (``torch``/False where it has no such fields),
    for :func:`xlt.models.loading.load_encoder`."""
    return {"backend": getattr(settings, "backend", "torch"), "int8": bool(getattr(settings, "int8", False))}


@dataclass(kw_only=True)
class RunSettings(Settings):
    """Model, output and run options.

    Attributes:
        model: the encoder: ``bundled:e5-small`` (default), a Hugging Face id or a local folder.
        backend: ``torch`` (default) or ``onnx`` (ONNX Runtime; :mod:`xlt.models.backends`).
        int8: int8 dynamic quantisation of the encoder's linear layers.
        out: the output folder (reports; a model folder for commands that write one).
        overwrite: replace a non-empty ``out`` (as a whole; never an input).
        progress: show progress bars.
        data_dir: the data folder of the built-in sets (default: ``$XLT_DATA``, ``../shared/data``,
            ``~/.cache/xlt/data``).
    """

    model: str = option(DEFAULT_MODEL, help="the encoder: bundled:e5-small, a Hugging Face id or a local folder")
    backend: Literal["torch", "onnx"] = option(
        "torch", help="what runs the encoder: torch, or onnx (ONNX Runtime on the CPU, exported once and cached; "
                      "pip install 'xlt[onnx]'); onnx and --int8 run inference only, never training")
    int8: bool = option(False, help="int8 dynamic quantisation of the encoder's linear layers (faster on a CPU; "
                                    "vectors differ slightly from fp32 ones, and are cached apart)")
    out: Path | None = option(None, help="the output folder")
    overwrite: bool = option(False, help="replace a non-empty output (as a whole; never an input)")
    progress: bool = option(True, help="show progress bars", negative_help="no progress bars")
    data_dir: Path | None = option(None, help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")

    #: True on the settings of commands that train the encoder or write its weights (fine-tuning, MLM
    #: adaptation, alignment fine-tuning, vocabulary trimming): they refuse ``backend='onnx'`` and ``int8``.
    #: ``mode='finetune'`` (``xlt transfer``) refuses them too. A plain class attribute, not a setting.
    updates_encoder = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_inference_backend(self)

    def encoder_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`xlt.models.loading.load_encoder` these settings choose
        (``backend``, ``int8``)."""
        return encoder_options(self)


@dataclass(kw_only=True)
class EncodingSettings(Settings):
    """Encoder options: how a frozen encoder turns text into vectors.

    Attributes:
        layer: hidden state to pool: ``last`` or a layer number (0 = embeddings; negative counts
            from the top).
        pooling: ``mean`` over the attention mask (as E5, Wang et al. 2022) or ``cls``.
        batch_size: texts per forward pass.
    """

    layer: str = option("last", help="hidden state to pool: last or a layer number (0 = embeddings)")
    pooling: Literal["mean", "cls"] = option("mean", help="pooling over word pieces")
    batch_size: int = option(64, help="texts per forward pass", check=AT_LEAST_1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.layer != "last":
            try:
                int(self.layer)
            except ValueError:
                raise ConfigError(f"--layer {self.layer}: expected last or a layer number") from None
