"""Command-line options generated from a command's settings dataclass (:mod:`xlt.jobs.settings`).

Every field of the settings class becomes one option (``--train-limit`` for ``train_limit``) whose
help text is the field's, followed by its default; options carry no default of their own
(``None`` = not given), so that ``--config FILE`` (YAML/JSON, keys = field names) fills what the
command line leaves out, and the dataclass fills the rest. Values reach the settings class as the
strings typed, and its ``__post_init__`` converts and checks them: the command line and the Python
API share one set of checks and messages.

Option shapes by field type: ``bool`` defaulting to False: a flag (``--overwrite``); defaulting
to True: ``--no-NAME`` (``--no-progress``); either, with ``both_ways``: both forms; ``Literal``:
``choices``; ``list[X]``: repeatable, each value comma-separated (``--source en,de`` or ``--source en
--source de``), or one value with ``repeat=False`` (``--seeds 3``), or several after one option with
``nargs="+"``; ``dict[str, Path]``: repeatable ``LANG=FILE`` (``nargs="+"``: several after one
option); everything else: one value. These shapes are declared with the field
(:func:`xlt.jobs.settings.option`), so no command adds options by hand.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Literal

from xlt.cli._common import UsageError
from xlt.jobs.settings import flag_of, setting_fields, setting_parts, unwrap_optional

__all__ = ["add_command", "add_settings_options", "settings_from_args"]


def _default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return " (required)"
    if value is None or value == [] or value == {}:
        return ""
    if isinstance(value, bool):
        return ""
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return f" (default {value})"


def add_command(sub, name: str, cls, *, help: str, description: str | None = None, **kwargs) -> argparse.ArgumentParser:
    """Add the (sub)command ``name`` to ``sub`` (an argparse subparsers object) with one option per
    field of the settings class ``cls`` (:func:`add_settings_options`); the command's parser is
    returned for positional arguments or subcommands of its own.

    Args:
        sub: ``parser.add_subparsers(...)``. name: the command word. cls: its settings class.
        help: the line in the parent's ``--help``. description: the command's own ``--help`` text
            (default: ``help``). kwargs: more :meth:`argparse.ArgumentParser.add_parser` arguments.
    """
    parser = sub.add_parser(name, help=help, description=description or help, **kwargs)
    add_settings_options(parser, cls)
    return parser


def add_settings_options(parser: argparse.ArgumentParser, cls) -> None:
    """Add one option per field of the settings class ``cls`` (see the module docstring), plus
    ``--config FILE``.

    Args:
        parser: a (sub)command's parser.
        cls: a :class:`~xlt.jobs.settings.Settings` subclass.
    """
    parser.add_argument("--config", metavar="FILE.yaml",
                        help=f"YAML/JSON file of settings (keys: the field names of {cls.__name__}); options "
                             "given on the command line win")
    parser.set_defaults(_settings=cls)  # for tests that walk every command's options
    typed = {f.name: (f, tp) for f, tp in setting_fields(cls)}
    for k, (part, names) in enumerate(setting_parts(cls)):
        title = "options" if k == 0 else part.__doc__.splitlines()[0].rstrip(".").lower() if part.__doc__ else part.__name__
        group = parser.add_argument_group(title) if k else parser
        for name in names:
            f, tp = typed[name]
            if f.metadata.get("cli", True):
                _add_option(group, f, tp)


def _add_option(parser, f: dataclasses.Field, tp) -> None:
    help_text = ((f.metadata.get("help") or "") + _default_text(f)).replace("%", "%%")
    base, _ = unwrap_optional(tp)
    origin = typing.get_origin(base)
    kwargs: dict = {"dest": f.name, "default": None, "help": help_text}
    if f.metadata.get("metavar"):
        kwargs["metavar"] = f.metadata["metavar"]
    if base is bool:
        if f.metadata.get("both_ways"):
            parser.add_argument(flag_of(f), action=argparse.BooleanOptionalAction, **kwargs)
        elif f.default is True:
            kwargs["help"] = f.metadata.get("negative_help") or "turn off: " + kwargs["help"]
            parser.add_argument(f.metadata.get("negative_flag") or "--no-" + f.name.replace("_", "-"),
                                action="store_const", const=False, **kwargs)
        else:
            parser.add_argument(flag_of(f), action="store_const", const=True, **kwargs)
        return
    if origin is Literal:
        kwargs["choices"] = list(typing.get_args(base))
    elif origin in (list, dict) and f.metadata.get("nargs"):
        kwargs.update(action="extend", nargs=f.metadata["nargs"])
    elif origin is list and f.metadata.get("repeat", True):
        kwargs["action"] = "append"
    elif origin is dict:
        kwargs["action"] = "append"
    if origin is dict:
        kwargs.setdefault("metavar", "LANG=FILE")
    parser.add_argument(flag_of(f), **kwargs)


def settings_from_args(cls, args: argparse.Namespace, *, extra: dict | None = None, out: str | None = None):
    """The settings of ``cls`` from parsed arguments: the ``--config`` file's values, then every
    option given, then ``extra`` (values the command computed itself).

    Args:
        cls: the settings class. args: the parsed arguments. extra: computed values.
        out: what ``--out`` names (``"the report folder"``) where the command needs one: the Python
            API may leave ``out`` unset (the result is returned), a command must write somewhere.

    Raises:
        ConfigError: a config file or option value that ``cls`` refuses (the message names the
            option), or a required setting given nowhere.
        UsageError: ``out`` is asked for and neither ``--out`` nor the config file gives it.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    given.update(extra or {})
    if getattr(args, "config", None):
        settings = cls.from_file(args.config, **given)
    else:
        settings = cls.from_dict(given, where="the command line")
    if out is not None and settings.out is None:
        raise UsageError(f"--out is required ({out})")
    return settings
