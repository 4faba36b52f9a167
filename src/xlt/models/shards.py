"""Sentence embeddings stored on disk as shards: ``.npy`` files plus a ``manifest.json``.

``xlt embed`` (:mod:`xlt.jobs.embed`) writes, and ``xlt mine`` / ``xlt retrieve`` read, a folder::

    manifest.json          what made the vectors and where they are (below); written last
    texts.jsonl            the embedded texts in row order, one JSON string per line
    shard-00000.npy        rows 0 .. shard_size-1, shape (rows, dim), float32 (or float16)
    shard-00001.npy        ...

The manifest is a JSON object with ``format`` (``"xlt-embeddings"``), ``version`` (1), ``model``
(the spec), ``model_fingerprint``, ``text_prefix``, ``pooling``, ``layer``, ``normalisation``
(``"unit"``: every row has L2 norm 1; ``"none"``), ``dim``, ``dtype`` (``float32``/``float16``),
``shard_size``, ``n_rows`` (of the whole corpus), ``texts`` (``{"file", "rows", "sha256"}``),
``inputs`` (the input files' fingerprint), ``settings`` (the embedding settings), ``counts`` and
``shards``: one ``{"file", "rows", "sha256"}`` per finished shard, in row order. It is
rewritten atomically after every shard (:func:`write_manifest`), so an interrupted run leaves a
manifest that lists exactly the shards that were complete, and a rerun resumes from it;
``complete`` becomes true when every row is in a shard.

Every shard's SHA-256 (of the whole ``.npy`` file) is in the manifest, and :meth:`ShardedEmbeddings.open`
checks them (``verify=True``) before anything is read, so a corrupt or truncated shard is an
error, never silently used. Shards are plain NumPy ``.npy`` files (``numpy.lib.format``), read
with ``np.load(mmap_mode="r")``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xlt.core.errors import XltError
from xlt.core.io import atomic_write, write_json

__all__ = ["FORMAT", "MANIFEST", "SAME_SPACE", "TEXTS", "VERSION", "ShardError", "ShardInfo", "ShardedEmbeddings",
           "embedding_differences", "file_sha256", "is_embeddings_folder", "read_manifest", "shard_name",
           "write_manifest", "write_shard", "write_texts"]

FORMAT = "xlt-embeddings"
"""The manifest's ``format`` value."""
VERSION = 1
"""The manifest's ``version`` value this module reads and writes."""
MANIFEST = "manifest.json"
"""The manifest's file name inside an embeddings folder."""
TEXTS = "texts.jsonl"
"""The texts' file name inside an embeddings folder."""
DTYPES = ("float32", "float16")
"""The shard dtypes :func:`write_shard` accepts."""
SAME_SPACE = ("model_fingerprint", "text_prefix", "pooling", "layer", "normalisation", "dim")
"""Manifest keys two embeddings folders must share for their vectors to be compared."""


def embedding_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """How two embeddings folders' manifests disagree on :data:`SAME_SPACE`, as
    ``"key 'x' vs 'y'"`` strings (empty: their vectors lie in one space and compare)."""
    return [f"{k} {a.get(k)!r} vs {b.get(k)!r}" for k in SAME_SPACE if a.get(k) != b.get(k)]


class ShardError(XltError, ValueError):
    """An embeddings folder that cannot be used: a missing or unreadable manifest, a missing shard
    or texts file, one whose SHA-256, shape or dtype differs from the manifest. The message names
    the file."""


@dataclass(frozen=True)
class ShardInfo:
    """One shard's entry in the manifest.

    Attributes:
        file: the ``.npy`` file's name, relative to the folder (``shard-00000.npy``).
        rows: its number of rows (vectors).
        sha256: hex SHA-256 of the whole file.
    """

    file: str
    rows: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """``{"file", "rows", "sha256"}`` for the manifest."""
        return {"file": self.file, "rows": self.rows, "sha256": self.sha256}


def shard_name(i: int) -> str:
    """The file name of shard ``i`` (0-based): ``shard-00000.npy``."""
    return f"shard-{i:05d}.npy"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (``hashlib``).

    Raises:
        FileNotFoundError: no such file.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_shard(path: str | os.PathLike[str], vectors: np.ndarray, dtype: str = "float32") -> ShardInfo:
    """Write ``vectors`` ``(rows, dim)`` as a ``.npy`` file atomically (temporary file, fsync,
    rename), so that a shard file is either absent or whole.

    The bytes depend only on the values, shape and dtype (``np.save`` writes no time stamp), so the
    same vectors give the same file and the same hash.

    Args:
        path: the shard file. vectors: a 2-d float array. dtype: ``float32`` or ``float16``.

    Returns:
        the shard's :class:`ShardInfo` (file name only, rows, SHA-256).

    Raises:
        ValueError: not a 2-d array, or another dtype.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise ValueError(f"a shard is a (rows, dim) array, got shape {vectors.shape}")
    data = np.ascontiguousarray(vectors, dtype=np.dtype(dtype))
    path = Path(path)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.lib.format.write_array(f, data, allow_pickle=False)

    atomic_write(path, write, fsync=True)
    return ShardInfo(file=path.name, rows=int(data.shape[0]), sha256=file_sha256(path))


def write_texts(path: str | os.PathLike[str], texts: list[str]) -> dict[str, Any]:
    """Write ``texts`` as one JSON string per line (UTF-8), atomically.

    Returns:
        ``{"file", "rows", "sha256"}`` for the manifest's ``texts`` entry.
    """
    path = Path(path)
    body = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts).encode("utf-8")
    atomic_write(path, lambda p: p.write_bytes(body), fsync=True)
    return {"file": path.name, "rows": len(texts), "sha256": hashlib.sha256(body).hexdigest()}


def write_manifest(folder: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Write ``manifest`` as ``folder/manifest.json`` atomically (pretty JSON, keys in the order
    given): a reader sees the previous manifest or this one, never a mix."""
    return write_json(Path(folder) / MANIFEST, manifest)


def is_embeddings_folder(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder holding a ``manifest.json`` of :data:`FORMAT` (not checked further)."""
    p = Path(path) / MANIFEST
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of an embeddings folder, with its required keys checked.

    Raises:
        ShardError: no ``manifest.json``, not JSON, another format or version, a key missing or
            of the wrong kind; the message names the file.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ShardError(f"{path}: no embeddings manifest (is {folder} a folder made by xlt embed?)")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ShardError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise ShardError(f"{path}: not an xlt embeddings manifest (format is not {FORMAT!r})")
    if m.get("version") != VERSION:
        raise ShardError(f"{path}: manifest version {m.get('version')!r}; this xlt reads version {VERSION}")
    for key, kind in (("dim", int), ("dtype", str), ("shards", list), ("texts", dict), ("n_rows", int)):
        if not isinstance(m.get(key), kind):
            raise ShardError(f"{path}: manifest key {key!r} is missing or not a {kind.__name__}")
    if m["dtype"] not in DTYPES:
        raise ShardError(f"{path}: dtype {m['dtype']!r} is not one of {', '.join(DTYPES)}")
    for j, s in enumerate(m["shards"]):
        if not (isinstance(s, dict) and isinstance(s.get("file"), str) and isinstance(s.get("rows"), int)
                and isinstance(s.get("sha256"), str)) or "/" in s["file"] or "\\" in s["file"]:
            raise ShardError(f"{path}: shard entry {j} is not {{file, rows, sha256}} with a plain file name")
    return m


class ShardedEmbeddings:
    """An embeddings folder made by ``xlt embed``, read shard by shard.

    Attributes:
        folder: the folder. manifest: its ``manifest.json`` (see the module docstring).

    Build one with :meth:`open`. Shards are memory-mapped, so iterating over :meth:`blocks` keeps
    one shard's pages in memory at a time, whatever the corpus size.
    """

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.manifest = manifest
        self.shard_infos = [ShardInfo(file=s["file"], rows=s["rows"], sha256=s["sha256"]) for s in manifest["shards"]]

    @classmethod
    def open(cls, folder: str | os.PathLike[str], *, verify: bool = True) -> ShardedEmbeddings:
        """Open an embeddings folder.

        Args:
            folder: the folder ``xlt embed`` wrote.
            verify: check every shard's and the texts file's SHA-256 against the manifest now (reads
                every byte once); False: only that the files exist.

        Returns:
            a :class:`ShardedEmbeddings`.

        Raises:
            ShardError: a bad manifest (:func:`read_manifest`); an unfinished folder
                (``complete`` false: rerun ``xlt embed`` to finish it); a missing shard or texts
                file; a hash mismatch (the file is named); rows that do not add up to ``n_rows``.
        """
        folder = Path(folder)
        m = read_manifest(folder)
        if not m.get("complete", False):
            raise ShardError(f"{folder / MANIFEST}: the embeddings are unfinished ({len(m['shards'])} shards, "
                             f"{sum(s['rows'] for s in m['shards'])} of {m['n_rows']} rows); rerun xlt embed to "
                             "resume it")
        if sum(s["rows"] for s in m["shards"]) != m["n_rows"]:
            raise ShardError(f"{folder / MANIFEST}: shard rows add up to {sum(s['rows'] for s in m['shards'])}, "
                             f"not n_rows {m['n_rows']}")
        if m["texts"].get("rows") != m["n_rows"]:
            raise ShardError(f"{folder / MANIFEST}: texts has {m['texts'].get('rows')} rows, not n_rows {m['n_rows']}")
        files = [(s["file"], s["sha256"]) for s in m["shards"]] + [(m["texts"].get("file", TEXTS),
                                                                   m["texts"].get("sha256", ""))]
        for name, digest in files:
            path = folder / name
            if not path.is_file():
                raise ShardError(f"{path}: missing (listed in {folder / MANIFEST})")
            if verify and file_sha256(path) != digest:
                raise ShardError(f"{path}: SHA-256 differs from the manifest's: the file is corrupt or was changed "
                                 "(rerun xlt embed on the folder to re-make it)")
        return cls(folder, m)

    @property
    def n_rows(self) -> int:
        """Vectors in all shards."""
        return int(self.manifest["n_rows"])

    @property
    def dim(self) -> int:
        """Width of every vector."""
        return int(self.manifest["dim"])

    @property
    def n_shards(self) -> int:
        """Number of shards."""
        return len(self.shard_infos)

    @property
    def unit(self) -> bool:
        """True when every row has L2 norm 1 (``normalisation == "unit"``)."""
        return self.manifest.get("normalisation") == "unit"

    @property
    def line_aligned_problem(self) -> str | None:
        """Why row ``i`` may not be line ``i`` of the input (None: it is): ``xlt embed`` skipped empty
        or duplicate lines, which line-aligned uses (retrieval, alignment analysis) cannot have."""
        c = self.manifest.get("counts", {})
        if not (c.get("skipped_empty") or c.get("skipped_duplicate")):
            return None
        return (f"xlt embed skipped {c.get('skipped_empty', 0)} empty and {c.get('skipped_duplicate', 0)} duplicate "
                "lines, so its rows are not line-aligned with the other side's; embed files without empty lines "
                "(and without --dedup)")

    def shard(self, i: int) -> np.ndarray:
        """Shard ``i``'s vectors: ``(rows_i, dim)`` float32, memory-mapped (``np.load(mmap_mode="r")``,
        read-only) for float32 shards, a float32 copy for float16 ones.

        Raises:
            IndexError: no shard ``i``. ShardError: the file's shape or dtype is not the manifest's.
        """
        if not 0 <= i < self.n_shards:
            raise IndexError(f"shard {i} out of range (0..{self.n_shards - 1})")
        info = self.shard_infos[i]
        path = self.folder / info.file
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ShardError(f"{path}: not a readable .npy file ({exc})") from None
        if arr.shape != (info.rows, self.dim) or arr.dtype != np.dtype(self.manifest["dtype"]):
            raise ShardError(f"{path}: shape {arr.shape} {arr.dtype}, the manifest says ({info.rows}, {self.dim}) "
                             f"{self.manifest['dtype']}")
        return arr if arr.dtype == np.float32 else np.asarray(arr, dtype=np.float32)

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row id, block)`` for every shard in order; block as :meth:`shard`."""
        start = 0
        for i in range(self.n_shards):
            block = self.shard(i)
            yield start, block
            start += block.shape[0]

    def to_array(self) -> np.ndarray:
        """All vectors ``(n_rows, dim)`` float32 in one in-memory array (for corpora that fit in memory)."""
        out = np.empty((self.n_rows, self.dim), dtype=np.float32)
        for start, block in self.blocks():
            out[start:start + block.shape[0]] = block
        return out

    def texts(self) -> list[str]:
        """The embedded texts in row order (``texts.jsonl``), ``n_rows`` strings.

        Raises:
            ShardError: the file is not one JSON string per line, or has another number of lines.
        """
        path = self.folder / self.manifest["texts"].get("file", TEXTS)
        out: list[str] = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                try:
                    t = json.loads(line)
                except ValueError:
                    t = None
                if not isinstance(t, str):
                    raise ShardError(f"{path}, line {n}: not a JSON string")
                out.append(t)
        if len(out) != self.n_rows:
            raise ShardError(f"{path}: {len(out)} texts, the manifest says {self.n_rows}")
        return out

    def __repr__(self) -> str:
        return f"ShardedEmbeddings({str(self.folder)!r}, rows={self.n_rows}, dim={self.dim}, shards={self.n_shards})"
