"""SIB-200 files: ``index_id<TAB>category<TAB>text`` with that header line (Adelani et al. 2024,
"SIB-200: A Simple, Inclusive, and Big Evaluation Dataset for Topic Classification in 200+
Languages"); the reader is :func:`xlt.data.readers.read_sib200`, adapted to the registry here.
"""

from __future__ import annotations

from pathlib import Path

from xlt.data.formats.options import ReadOptions
from xlt.data.readers import SIB200_HEADER, ReadStats, read_sib200

__all__ = ["SIB200_HEADER", "sib200_reader"]


def sib200_reader(path: Path, options: ReadOptions, limit: int | None) -> tuple[list, ReadStats]:
    """The registered ``sib200`` reader: :func:`xlt.data.readers.read_sib200` (no options)."""
    return read_sib200(path, limit=limit)
