"""The base class of every error a user can fix.

Each layer subclasses :class:`XltError` where it raises (``DataFormatError`` in ``xlt.data``,
``ModelLoadError`` in ``xlt.models``, ``ConfigError`` in ``xlt.jobs``, ...), usually together with
the built-in class the error also is (``ValueError``, ``FileNotFoundError``), so that code catching
the built-in keeps working. The command line prints any :data:`USER_ERRORS` as one
``xlt: error: ...`` line and exits with status 2 instead of showing a traceback; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["USER_ERRORS", "XltError"]


class XltError(Exception):
    """An error the user can fix: bad data, an unknown language, a setting that cannot work, a model
    that does not load, an output that would overwrite an input. Its message names the file, line,
    option or value at fault and, where there is one, what to do instead."""


#: What the command line reports as one ``xlt: error:`` line (exit 2): every :class:`XltError`, and
#: the operating system's errors about paths (a missing input, an existing output without
#: ``--overwrite``, a folder where a file is expected, a permission), whose messages name the path.
USER_ERRORS: tuple[type[BaseException], ...] = (
    XltError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)
