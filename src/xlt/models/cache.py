"""On-disk cache for extracted features.

:class:`FeatureCache` stores one small ``.npz`` file per input item (a sentence's word
vectors, or a text's sentence vector) under ``folder/<k[:2]>/<k>.npz``, where ``k`` is the
sha256 hex digest of everything that determines the output:

* the encoder's identity (``Encoder.fingerprint``, or ``spec:<spec>`` when empty) and dtype, and its
  inference backend when that is not plain torch fp32 (``torch-int8``, ``onnx``, ``onnx-int8``:
  :mod:`xlt.models.backends`), so int8 or ONNX vectors never mix with fp32 ones,
* the function name (``encode_words`` / ``encode_sentences``) and a format version,
* the resolved layer indices, the pooling, the effective ``max_length``, ``long_inputs``,
  the text prefix, and
* the item itself (the word list or the text).

Changing any of these gives a different key, so a stale entry can never be returned.
Entries are written atomically (temporary file + ``os.replace``), so several processes may
share one cache folder. Items are cached individually, so a call that shares only some
inputs with an earlier one recomputes only the new ones.

Entries are checked when read: an entry that is truncated or corrupted, lacks an array, holds
arrays of another dtype or shape, or holds NaN/inf values is never served. It counts as a miss
(the item is recomputed and the entry rewritten) and is logged as a warning that names the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xlt.core.arrays import ArrayFileError, check_array, read_npz

CACHE_FORMAT_VERSION = 1
#: Bad entries named one by one in warnings per :class:`FeatureCache`; later ones are only counted.
MAX_BAD_WARNINGS = 5

log = logging.getLogger(__name__)


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class FeatureCache:
    """A folder of cached feature arrays keyed by sha256 digests.

    Args:
        folder: directory to store entries in (created if missing).

    Attributes:
        folder: the cache directory as a :class:`~pathlib.Path`.
        hits: number of successful :meth:`get` calls since creation.
        misses: number of :meth:`get` calls that found nothing (or an unusable entry).
        bad: number of unusable entries found (damaged, wrong arrays, NaN/inf; each also a miss).

    Example:
        >>> cache = FeatureCache("~/.cache/xlt/features")        # doctest: +SKIP
        >>> encode_words(enc, sents, cache=cache)                 # doctest: +SKIP
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder).expanduser()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self.bad = 0

    # ------------------------------------------------------------------ keys
    @staticmethod
    def make_keys(components: Mapping[str, Any], items: Iterable[Any]) -> list[str]:
        """Cache keys for ``items`` under shared key ``components``.

        Args:
            components: JSON-serialisable settings shared by all items (encoder fingerprint,
                function name, layers, pooling, ...).
            items: JSON-serialisable per-item inputs (a word list or a text each).

        Returns:
            One 64-character sha256 hex digest per item, in order.
        """
        base = hashlib.sha256()
        base.update(_canonical({"v": CACHE_FORMAT_VERSION, **dict(components)}))
        base.update(b"\x00")
        keys = []
        for item in items:
            h = base.copy()
            h.update(_canonical(item))
            keys.append(h.hexdigest())
        return keys

    def path(self, key: str) -> Path:
        """File that holds (or would hold) the entry for ``key``."""
        return self.folder / key[:2] / f"{key}.npz"

    # ------------------------------------------------------------ get / put
    def get(self, key: str, shape: tuple[int | None, ...] | None = None,
            n_stats: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Load an entry, checked.

        Args:
            key: a digest from :meth:`make_keys`.
            shape: the feature array's expected shape (``None`` entries match any size); an
                entry of another shape is not served.
            n_stats: the expected length of the stats array (None: any).

        Returns:
            ``(array, stats)`` as stored by :meth:`put`, or ``None`` when the entry is missing
            or unusable: not a readable ``.npz`` file (truncated, corrupted), ``v`` or ``s``
            missing, ``v`` not floating-point, of another shape or holding NaN/inf, ``s`` not a
            1-D integer array of ``n_stats`` values. An unusable entry counts as a miss (so it
            is recomputed and rewritten) and is logged as a warning naming the file.
        """
        p = self.path(key)
        try:
            data = read_npz(p, required=("v", "s"))
            v = check_array(data["v"], "the feature array 'v'", shape=shape)
            s = check_array(data["s"], "the stats array 's'", shape=(n_stats,), kind="int")
        except FileNotFoundError:
            self.misses += 1
            return None
        except (ArrayFileError, OSError) as exc:
            self.misses += 1
            self.bad += 1
            if self.bad <= MAX_BAD_WARNINGS:
                log.warning("feature cache entry %s is unusable (%s); recomputing it%s", p, exc,
                            "" if self.bad < MAX_BAD_WARNINGS else
                            " (further unusable entries of this cache are not listed; see FeatureCache.bad)")
            return None
        self.hits += 1
        return v, s

    def put(self, key: str, array: np.ndarray, stats: np.ndarray | None = None) -> None:
        """Store an entry atomically.

        Args:
            key: a digest from :meth:`make_keys`.
            array: the feature array (any shape; stored as-is).
            stats: optional small integer array of per-item counters.
        """
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        s = np.zeros(0, dtype=np.int64) if stats is None else np.asarray(stats, dtype=np.int64)
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, v=np.asarray(array), s=s)
            os.replace(tmp, p)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def __contains__(self, key: str) -> bool:
        return self.path(key).exists()

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*/*.npz"))

    def clear(self) -> None:
        """Delete every entry in the folder (the folder itself stays)."""
        for f in self.folder.glob("*/*.npz"):
            f.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.folder)!r}, hits={self.hits}, misses={self.misses})"


def as_cache(cache: FeatureCache | str | os.PathLike[str] | None) -> FeatureCache | None:
    """Accept a :class:`FeatureCache`, a folder path, or ``None`` (no caching)."""
    if cache is None or isinstance(cache, FeatureCache):
        return cache
    return FeatureCache(cache)
