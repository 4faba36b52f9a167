"""The registry of data formats: a :class:`Format` is a name, a reader
``reader(path, options, limit) -> (examples, ReadStats)`` and the file extensions it reads;
:data:`FORMATS` holds them by name (the built-in ones are registered by :mod:`xlt.data.formats`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xlt.data.formats.options import ReadOptions
from xlt.data.kinds import Example
from xlt.data.readers import ReadStats

__all__ = ["FORMATS", "Format", "Reader", "format_names", "get_format", "known_extensions", "register_format"]

#: A reader: ``reader(path, options, limit) -> (examples, stats)``.
Reader = Callable[[Path, ReadOptions, "int | None"], tuple[list[Example], ReadStats]]


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Format:
    """A file format and its reader.

    Attributes:
        name: the name given to ``--format`` (``conll``, ``csv``, ...).
        reader: ``reader(path, options, limit) -> (examples, stats)``.
        extensions: lower-case file name endings with the dot (``(".conll", ".txt")``) the
            format reads; used by :func:`eval_files_in_dir` and, for formats registered later,
            by :func:`detect_format`. Folder formats have none.
        description: one line for ``--help`` and error messages.
    """

    name: str
    reader: Reader
    extensions: tuple[str, ...] = ()
    description: str = ""


#: name -> :class:`Format`, in registration order.
FORMATS: dict[str, Format] = {}


def register_format(fmt: Format, *, replace: bool = False) -> Format:
    """Add a format to :data:`FORMATS`.

    Args:
        fmt: the format.
        replace: allow replacing a format of the same name.

    Returns:
        ``fmt``.

    Raises:
        ValueError: an empty name, extensions not starting with ``.``, or a name already
            registered (without ``replace``).
    """
    if not fmt.name or fmt.name != fmt.name.strip():
        raise ValueError(f"bad format name {fmt.name!r}")
    if not callable(fmt.reader):
        raise ValueError(f"format {fmt.name!r}: reader is not callable")
    for ext in fmt.extensions:
        if not ext.startswith(".") or ext != ext.lower():
            raise ValueError(f"format {fmt.name!r}: extension {ext!r} must be lower case, starting with '.'")
    if fmt.name in FORMATS and not replace:
        raise ValueError(f"format {fmt.name!r} is already registered")
    FORMATS[fmt.name] = fmt
    return fmt


def format_names() -> str:
    """The registered format names, comma-separated (for messages)."""
    return ", ".join(FORMATS)


def get_format(name: str) -> Format:
    """The registered format called ``name``.

    Raises:
        ValueError: no such format; the message lists the known ones.
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known formats: {format_names()}") from None


def known_extensions() -> set[str]:
    """Every file extension a registered format reads (``.conll``, ``.csv``, ...)."""
    return {ext for f in FORMATS.values() for ext in f.extensions}
