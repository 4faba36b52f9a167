"""Arrays read from disk, checked before use: a bad file is a clear error, never a wrong result.

Every array xlt loads (aligner maps, cached features, task heads) passes through here:
:func:`read_npz` reads an ``.npz`` file without pickle and turns every way it can be unreadable
(truncated, corrupted, not a zip, object arrays) into one :class:`ArrayFileError`;
:func:`check_array` checks one array's dtype, shape and values (NaN / inf). Messages say what
is wrong but not where: callers prefix the file's path and raise their own error type
(:class:`~xlt.align.maps.AlignerError`, :class:`~xlt.transfer.model.TaskModelError`, ...), so
the user sees e.g. ``maps.npz: map for 'deu' layer 8: W has 147456 NaN values``.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xlt.core.errors import XltError

#: What a file that :func:`read_npz` cannot read is called in messages.
UNREADABLE_NPZ = "not a readable .npz file (truncated or corrupted)"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the end record of an empty zip

# What numpy and zipfile raise for a damaged file: a truncated or overwritten zip directory
# (BadZipFile), a bad member checksum (BadZipFile), a cut member (EOFError, ValueError "EOF"),
# a broken .npy header (ValueError), a broken deflate stream (zlib.error), an unknown compression
# (NotImplementedError), an encrypted member (RuntimeError), a header claiming a huge array
# (MemoryError), a read error (OSError).
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, NotImplementedError,
           RuntimeError, MemoryError, OverflowError)


class ArrayFileError(XltError, ValueError):
    """An array file or array that cannot be used; the message says what is wrong (no path)."""


def read_npz(path: str | os.PathLike[str], required: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read without pickle.

    Args:
        path: the file.
        required: member names that must be present.

    Returns:
        ``{member name: array}`` (the arrays are in memory; the file is closed).

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: ``path`` is a folder.
        ArrayFileError: not a readable ``.npz`` file (truncated, corrupted, not a zip archive),
            a member that holds Python objects (would need pickle, which xlt never uses), or a
            ``required`` member missing.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not an .npz file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist") from None
    except OSError as exc:
        raise ArrayFileError(f"cannot be read ({exc.strerror or exc})") from None
    if magic not in _ZIP_MAGIC:  # also keeps np.load from trying a .npy or a pickle
        raise ArrayFileError(UNREADABLE_NPZ)
    out: dict[str, np.ndarray] = {}
    name = None
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ArrayFileError(UNREADABLE_NPZ)
            for name in z.files:
                value = z[name]
                if not isinstance(value, np.ndarray):  # a member that is not a .npy file: numpy returns its bytes
                    raise ArrayFileError(f"member {name!r} is not a .npy array; not an .npz file xlt wrote")
                out[name] = value
    except ArrayFileError:
        raise
    except _DAMAGE as exc:
        if isinstance(exc, ValueError) and "pickle" in str(exc).lower():
            raise ArrayFileError(f"array {name!r} holds Python objects (it would need pickle, which xlt never "
                                 "loads); not a file xlt wrote") from None
        raise ArrayFileError(UNREADABLE_NPZ) from None
    missing = [n for n in required if n not in out]
    if missing:
        raise ArrayFileError(f"no array {', '.join(repr(n) for n in missing)} in the file "
                             f"(it holds {', '.join(repr(n) for n in sorted(out)) or 'no arrays'})")
    return out


def nonfinite(a: Any) -> str | None:
    """How many NaN / inf values ``a`` holds, in words (``'147456 NaN values'``), or None if none.

    Args:
        a: a numpy array or torch tensor of floats (other dtypes never hold NaN/inf: None).
    """
    if hasattr(a, "detach"):  # torch
        import torch  # lazy: heavy import

        t = a.detach()
        if not t.is_floating_point() or bool(torch.isfinite(t).all()):
            return None
        n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
    else:
        a = np.asarray(a)
        if not np.issubdtype(a.dtype, np.inexact) or np.isfinite(a).all():
            return None
        n_nan, n_inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    parts = [f"{n} {what}" for n, what in ((n_nan, "NaN"), (n_inf, "inf")) if n]
    return " and ".join(parts) + (" value" if n_nan + n_inf == 1 else " values")


def check_array(a: np.ndarray, what: str, *, shape: Sequence[int | None] | None = None,
                kind: str = "float") -> np.ndarray:
    """Check one loaded array: its dtype, its shape and (floats) that every value is finite.

    Args:
        a: the array.
        what: how messages name it (``"map for 'deu' layer 8: W"``).
        shape: the expected shape; ``None`` entries match any size.
        kind: ``float`` (any floating dtype, every value finite) or ``int`` (any integer dtype).

    Returns:
        ``a``, unchanged.

    Raises:
        ArrayFileError: another dtype, another shape, or NaN / inf values.
    """
    a = np.asarray(a)
    if kind == "float" and not np.issubdtype(a.dtype, np.floating):
        raise ArrayFileError(f"{what} has dtype {a.dtype}, expected floating-point numbers")
    if kind == "int" and not np.issubdtype(a.dtype, np.integer):
        raise ArrayFileError(f"{what} has dtype {a.dtype}, expected integers")
    if shape is not None and (a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape))):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ArrayFileError(f"{what} has shape {tuple(a.shape)}, expected {want}")
    bad = nonfinite(a) if kind == "float" else None
    if bad:
        raise ArrayFileError(f"{what} has {bad}")
    return a


__all__ = ["UNREADABLE_NPZ", "ArrayFileError", "check_array", "nonfinite", "read_npz"]
