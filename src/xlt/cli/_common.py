"""Argument types and option handling shared by several commands.

Every command whose job has a config dataclass builds it with :func:`config_from_args`: its
options have no defaults of their own (``None`` = not given), so each default lives in the
dataclass only, ``--config FILE.yaml`` gives any field, and the command line wins over the file.
Help texts read the defaults back with :func:`default_of`.
"""

from __future__ import annotations

import argparse


def seeds_arg(text: str) -> list[int]:
    """``"0,1,2"`` or ``"3"`` (meaning 0,1,2) → list of seeds."""
    if "," in text:
        return [int(s) for s in text.split(",") if s.strip()]
    n = int(text)
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
        values.update(read_config_file(config_file, fields))
    for name, value in vars(args).items():
        field = (rename or {}).get(name, name)
        if field in fields and value is not None:
            values[field] = value
    return values


def build_config(cls, values: dict, *, rename: dict[str, str] | None = None):
    """``cls(**values)``, with a usage error naming the option of every required setting left out.

    Raises:
        UsageError: a required field (no default) missing from ``values``, or bad values.
    """
    import dataclasses

    from xlt.errors import UsageError

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

    from xlt.errors import UsageError

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
