"""Plain JSON values and atomic JSON files (re-exported by :mod:`xlt.evaluate.manifest` and
:mod:`xlt.evaluate.report`).

Every layer that writes JSON (map file headers in :mod:`xlt.align.maps`, aligned-encoder folders,
reports and manifests) converts its values with :func:`to_jsonable` and writes with
:func:`write_json`, so this lives in the lowest layer. Standard library only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePath
from typing import Any

__all__ = ["atomic_write", "to_jsonable", "write_json", "write_jsonl", "write_text"]


def to_jsonable(obj: Any) -> Any:
    """Recursively convert ``obj`` into plain JSON-compatible Python values.

    Conversions: mapping keys -> ``str`` (insertion order kept); paths ->
    POSIX strings; tuples/lists/sets -> lists (sets sorted by ``repr``);
    dataclasses -> dicts; numpy/torch scalars (anything with ``.item()``)
    -> Python scalars; non-finite floats (NaN, +/-inf) -> ``None`` (strict
    JSON has no NaN); other unknown objects -> ``str(obj)``.

    Args:
        obj: any value.

    Returns:
        A structure of dict/list/str/int/float/bool/None.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (set, frozenset)):
        return [to_jsonable(v) for v in sorted(obj, key=repr)]
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return to_jsonable(item())
        except Exception:
            pass
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        try:
            return to_jsonable(tolist())
        except Exception:
            pass
    return str(obj)


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any], *, fsync: bool = False) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``: a reader
    sees the old file or the whole new one, never half of it; an error or interrupt leaves no
    temporary file behind.

    Args:
        path: the file to write (its folder must exist).
        write: writes the content to the path it is given.
        fsync: flush the file to disk before the rename, so that a power loss cannot leave an empty
            file under the final name (for files a run resumes from, such as checkpoints).
    """
    # Not mkstemp: that creates mode 0600 files; this keeps the umask default.
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(Path(tmp))
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as pretty-printed UTF-8 JSON (indent 2, no ASCII escaping), atomically.

    Values pass through :func:`to_jsonable` (paths → str, numpy scalars → numbers, NaN/inf →
    null). The parent folder is created if needed.

    Returns:
        the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Any]) -> Path:
    """Write one JSON object per line (UTF-8, no ASCII escaping), atomically.

    Values pass through :func:`to_jsonable`. The parent folder is created.

    Returns:
        the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(to_jsonable(r), ensure_ascii=False, allow_nan=False) + "\n" for r in rows)
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (temporary file + rename).

    Returns:
        the path written.
    """
    path = Path(path)
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path
