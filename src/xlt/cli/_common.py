"""Argument types shared by several commands."""

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


def config_from_args(cls, args, *, rename: dict[str, str] | None = None, config_file: str | None = None):
    """Build the config dataclass ``cls`` from parsed arguments, with defaults in one place.

    Only options the user gave (not ``None``) are passed on, so every default lives in ``cls``;
    ``--config FILE`` (YAML or JSON, keys = the dataclass's field names) is read first and the
    command line wins over it. ``rename`` maps argparse names to field names.

    Raises:
        UsageError: an unreadable config file, or a key that is not a field of ``cls``.
    """
    import dataclasses

    from xlt.errors import UsageError

    fields = {f.name for f in dataclasses.fields(cls)}
    values: dict = {}
    if config_file:
        values.update(read_config_file(config_file, fields))
    for name, value in vars(args).items():
        field = (rename or {}).get(name, name)
        if field in fields and value is not None:
            values[field] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise UsageError(str(exc)) from None


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
