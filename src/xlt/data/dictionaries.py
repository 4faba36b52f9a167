"""Bilingual dictionaries: the bundled ``dict/`` and ``bli/`` files and a user's own.

One reader, :func:`read_dictionary`, for every dictionary ``xlt align fit --supervision
dictionary`` takes: the Wiktionary ``dict/en-<language>.txt`` files (as collected for WECHSEL,
Minixhofer et al. 2022), the BLI training sets ``bli/en-xx/yacle.train.freq.5k.en-xx.tsv``
(Glavaš et al. 2019) and a user's file (``--dictionary FILE``) in either of the two usual
layouts:

* ``word<TAB>word`` (Wiktionary, BLI): exactly one tab per line; a side may hold several
  words (``free of charge<TAB>umsonst``): such multi-word entries are skipped and counted;
* ``word word`` (MUSE, Conneau et al. 2018): exactly two words separated by spaces.

The layout is decided by the first non-blank line (a tab in it: the tab layout) and holds for
the whole file; a line that does not follow it raises :class:`~xlt.data.readers.DataFormatError`
naming the file and line. The left column is English (the side the maps go to), the right one
the other language. Words are case-folded; blank lines, multi-word entries and repeated entries
are skipped and counted in :attr:`Dictionary.stats`. Nothing here imports ``torch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xlt.data.readers import DataFormatError, read_lines

#: Dictionary layouts :func:`read_dictionary` knows.
FORMATS = ("tab", "space")


@dataclass
class Dictionary:
    """A bilingual dictionary read by :func:`read_dictionary`.

    Attributes:
        path: the file. entries: distinct ``(english, foreign)`` single-word pairs, case-folded,
            in file order.
        stats: ``n_lines``, ``n_entries`` (distinct single-word entries), ``n_multiword``
            (skipped: a side with a space), ``n_duplicates``, ``n_blank``.
        format: ``tab`` (``word<TAB>word``) or ``space`` (``word word``).
    """

    path: Path
    entries: list[tuple[str, str]]
    stats: dict
    format: str = "tab"


def read_dictionary(path: str | Path) -> Dictionary:
    """Read a bilingual dictionary: ``english<TAB>foreign`` or ``english foreign`` per line.

    See the module docs for the two layouts; the first non-blank line decides which one the
    file uses.

    Args:
        path: the file (UTF-8).

    Returns:
        a :class:`Dictionary`.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: in the tab layout, a non-blank line without exactly one tab or with an
            empty side; in the space layout, a line that is not exactly two words; bytes that
            are not UTF-8. The message names the file and line.
    """
    path = Path(path)
    entries: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    stats = {"n_lines": 0, "n_entries": 0, "n_multiword": 0, "n_duplicates": 0, "n_blank": 0}
    layout = None
    for lineno, line in enumerate(read_lines(path), 1):
        stats["n_lines"] += 1
        if not line.strip():
            stats["n_blank"] += 1
            continue
        if layout is None:
            layout = "tab" if "\t" in line else "space"
        if layout == "tab":
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise DataFormatError(path, lineno, f"expected 'english<TAB>foreign' (the file's first entry has "
                                                    f"a tab), got {line.strip()[:80]!r}")
        else:
            parts = line.split()
            if len(parts) != 2:
                raise DataFormatError(path, lineno, f"expected two words 'english foreign' (the file's first "
                                                    f"entry has no tab), got {len(parts)} in "
                                                    f"{line.strip()[:80]!r}; write multi-word entries as "
                                                    "'english<TAB>foreign'")
        e, f = parts[0].strip().casefold(), parts[1].strip().casefold()
        if " " in e or " " in f:
            stats["n_multiword"] += 1
            continue
        if (e, f) in seen:
            stats["n_duplicates"] += 1
            continue
        seen.add((e, f))
        entries.append((e, f))
    stats["n_entries"] = len(entries)
    return Dictionary(path=path, entries=entries, stats=stats, format=layout or "tab")


__all__ = ["FORMATS", "Dictionary", "read_dictionary"]
