"""Argument types and option handling shared by several commands.

Every command whose job has a config dataclass builds it with :func:`config_from_args`: its
options have no defaults of their own (``None`` = not given), so each default lives in the
dataclass only, ``--config FILE.yaml`` gives any field, and the command line wins over the file.
Help texts read the defaults back with :func:`default_of`.
"""

from __future__ import annotations

import argparse
import re

from xlt.core.errors import XltError

#: A negative number as an option value: ``-1``, ``-0.5``, ``-.5``, ``-1e-3``, ``-2E+4``.
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class UsageError(XltError, ValueError):
    """A command line that names an impossible combination of inputs or options."""


class XltArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``xlt: error: ...`` line (exit code 2).

    argparse prints the usage block and ``prog: error: ...``; xlt's contract for every mistake a
    user can fix is a single line, with ``--help`` for the rest.

    Negative numbers in scientific notation (``--lr -1e-3``) are values, as ``-0.5`` is: argparse's
    own pattern misses them and reads them as an unknown option ("expected one argument"), so the
    option's type check, which says what is wrong with the value, never ran. Subparsers made with
    ``add_subparsers`` are of this class too (argparse's default ``parser_class`` is the parent's).
    """

    def __init__(self, *args, **kwargs) -> None:  # noqa: D107 - as argparse.ArgumentParser
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message: str):  # noqa: D102 - argparse's hook
        import sys

        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        hint = f" (xlt {command} --help)" if command else " (xlt --help)"
        print(f"xlt: error: {message}{hint}", file=sys.stderr)
        raise SystemExit(2)


def _number(text: str, kind: type, what: str, ok) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def count_arg(text: str) -> int:
    """A whole number >= 1 (sentences, neighbours, epochs, batch sizes)."""
    return _number(text, int, "a whole number >= 1", lambda v: v >= 1)


def nonneg_int_arg(text: str) -> int:
    """A whole number >= 0 (held-out lines, gaps, a size below which something is off)."""
    return _number(text, int, "a whole number >= 0", lambda v: v >= 0)


def positive_float_arg(text: str) -> float:
    """A finite number > 0 (learning rates, weights)."""
    import math

    return _number(text, float, "a finite number > 0", lambda v: math.isfinite(v) and v > 0)


def nonneg_float_arg(text: str) -> float:
    """A finite number >= 0 (regularisation weights, distortion)."""
    import math

    return _number(text, float, "a finite number >= 0", lambda v: math.isfinite(v) and v >= 0)


def finite_float_arg(text: str) -> float:
    """Any finite number (thresholds on scores that may be negative); ``nan`` and ``inf`` are refused."""
    import math

    return _number(text, float, "a finite number", math.isfinite)


def fraction_arg(text: str) -> float:
    """A number strictly between 0 and 1."""
    return _number(text, float, "a number between 0 and 1 (exclusive)", lambda v: 0.0 < v < 1.0)


def layer_number_arg(text: str) -> int:
    """A layer number (0 = embeddings, 1..L; negative counts from the top). The model's own
    range is checked before it loads (:func:`check_layers`)."""
    return _number(text, int, "a layer number (an integer)", lambda v: True)


def check_layers(model: str, **layers) -> None:
    """Check layer options against the model's number of layers, read without loading weights.

    Args:
        model: the model spec (``bundled:...``, a folder or a Hugging Face id).
        layers: option name (``align_layer``) → value (an int, ``'mix'``/``'last'``, a digit
            string, or None = not given).

    Raises:
        UsageError: a layer outside ``-(L+1) .. L`` for a model with ``L`` layers.
    """
    from xlt.models.loading import model_num_layers

    given = {k: v for k, v in layers.items() if v is not None and str(v).lstrip("-").isdigit()}
    if not given:
        return
    n = model_num_layers(model)
    if n is None:
        return
    for name, value in given.items():
        v = int(value)
        if not -(n + 1) <= v <= n:
            raise UsageError(f"--{name.replace('_', '-')} {v}: {model} has {n} layers (0 = embeddings, 1..{n}; "
                             f"negative numbers count from the top, down to {-(n + 1)})")


def seeds_arg(text: str) -> list[int]:
    """``"0,1,2"`` or ``"3"`` (meaning 0,1,2) → list of seeds."""
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
            if not seeds or min(seeds) < 0:
                raise ValueError
            return seeds
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count (3 = seeds 0,1,2) or a list of seeds >= 0 (0,5,7), "
                                         f"got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("--seeds needs a positive count or a comma-separated list")
    return list(range(n))


def layer_arg(text: str) -> str:
    """``mix``, ``last`` or a (possibly negative) layer number, as given."""
    if text in {"mix", "last"}:
        return text
    try:
        int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layer must be 'mix', 'last' or an integer, got {text!r}") from None
    return text


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def default_of(cls, name: str):
    """The default of field ``name`` of the config dataclass ``cls`` (for help texts).

    A ``default_factory`` is called; a list default is shown comma-separated (``[0]`` -> ``0``).

    Raises:
        KeyError: ``cls`` has no such field, or the field has no default.
    """
    import dataclasses

    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                value = f.default
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                raise KeyError(f"{cls.__name__}.{name} has no default")
            return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def config_values(cls, args, *, rename: dict[str, str] | None = None, config_file: str | None = None) -> dict:
    """The settings for the config dataclass ``cls``: ``--config FILE`` first, then every option given.

    Only options the user gave (not ``None``) are taken, so every default stays in ``cls``;
    ``rename`` maps argparse names to field names. Options that are no field of ``cls`` are left
    out (a command's other mode, ``--config`` itself).

    Raises:
        UsageError: an unreadable config file, or a key that is not a field of ``cls``.
    """
    import dataclasses

    fields = {f.name for f in dataclasses.fields(cls)}
    values: dict = {}
    if config_file:
        values.update(_typed_file_values(cls, read_config_file(config_file, fields), config_file))
    for name, value in vars(args).items():
        field = (rename or {}).get(name, name)
        if field in fields and value is not None:
            values[field] = value
    return values


def _typed_file_values(cls, values: dict, path: str) -> dict:
    """Config-file values checked against the field types of ``cls`` (the command line's types do
    this for options): numbers for ``int``/``float`` fields (``"1e-3"`` is read as a number),
    ``true``/``false`` for ``bool`` fields.

    Raises:
        UsageError: a value of the wrong type, naming the file and the key.
    """
    import dataclasses

    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    out = {}
    for key, value in values.items():
        kind = types.get(key, "")
        base = {t.strip() for t in kind.split("|")} - {"None"}
        if value is None or not base:
            out[key] = value
            continue
        if base == {"bool"} and not isinstance(value, bool):
            raise UsageError(f"--config {path}: {key} must be true or false, got {value!r}")
        if base == {"int"} and (isinstance(value, bool) or not isinstance(value, int)):
            raise UsageError(f"--config {path}: {key} must be a whole number, got {value!r}")
        if base == {"float"}:
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise UsageError(f"--config {path}: {key} must be a number, got {value!r}") from None
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(f"--config {path}: {key} must be a number, got {value!r}")
        out[key] = value
    return out


def build_config(cls, values: dict, *, rename: dict[str, str] | None = None):
    """``cls(**values)``, with a usage error naming the option of every required setting left out.

    Raises:
        UsageError: a required field (no default) missing from ``values``, or bad values.
    """
    import dataclasses

    option_of = {field: name for name, field in (rename or {}).items()}
    missing = [option_name(option_of.get(f.name, f.name)) for f in dataclasses.fields(cls)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               and f.name not in values]
    if missing:
        raise UsageError(f"the following arguments are required: {', '.join(missing)} "
                         "(on the command line or in the --config file)")
    try:
        return cls(**values)
    except TypeError as exc:
        raise UsageError(str(exc)) from None


def config_from_args(cls, args, *, rename: dict[str, str] | None = None, config_file: str | None = None):
    """Build the config dataclass ``cls`` from parsed arguments, with defaults in one place.

    Only options the user gave (not ``None``) are passed on, so every default lives in ``cls``;
    ``--config FILE`` (YAML or JSON, keys = the dataclass's field names) is read first and the
    command line wins over it. ``rename`` maps argparse names to field names.

    Raises:
        UsageError: an unreadable config file, a key that is not a field of ``cls``, or a
        required setting given neither as an option nor in the file.
    """
    return build_config(cls, config_values(cls, args, rename=rename, config_file=config_file), rename=rename)


def config_option(parser, cls) -> None:
    """The ``--config FILE`` option of a command whose job is configured by ``cls``."""
    parser.add_argument("--config", metavar="FILE.yaml",
                        help=f"YAML/JSON file of settings (keys: field names of {cls.__name__}); options given "
                             "on the command line win")


def no_progress_to_config(args) -> None:
    """``--no-progress`` as the config field ``progress``: ``False`` when given, else unset (``None``),
    so that a ``--config`` file's ``progress`` or the dataclass default applies."""
    args.progress = False if getattr(args, "no_progress", False) else None


def read_config_file(path: str, fields: set[str]) -> dict:
    """The settings of a ``--config`` file (YAML or JSON mapping; ``-`` in keys read as ``_``).

    Raises:
        UsageError: missing or unreadable file, not a mapping, or unknown keys (listed).
    """
    from pathlib import Path

    import yaml

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--config {path}: no such file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"--config {path}: cannot read it ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected a mapping of option names to values")
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise UsageError(f"--config {path}: unknown settings {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    return data


def first_few(numbers, total: int | None = None, shown: int = 5) -> str:
    """``3, 7, 12`` or, with more than ``shown`` numbers (or a larger ``total``), ``3, 7, 12, 15, 20 and 8 more``.

    Args:
        numbers: the numbers to show (line numbers, pair numbers), in order; only the first
            ``shown`` are printed.
        total: how many there are in all (default ``len(numbers)``; a list may hold only the first few).
        shown: how many to print.
    """
    numbers = list(numbers)
    total = len(numbers) if total is None else total
    text = ", ".join(str(n) for n in numbers[:shown])
    more = total - min(shown, len(numbers))
    return f"{text} and {more} more" if more > 0 else text
