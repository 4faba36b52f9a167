"""Bilingual dictionaries: the bundled ``dict/`` and ``bli/`` files and a user's own.

One reader, :func:`read_dictionary`, for every dictionary ``xlt align fit --supervision
dictionary`` takes: the Wiktionary ``dict/en-<language>.txt`` files (as collected for WECHSEL,
Minixhofer et al. 2022), the BLI training sets ``bli/en-xx/yacle.train.freq.5k.en-xx.tsv``
(Glavaš et al. 2019) and a user's file (``--dictionary FILE``) in either of the two usual
layouts:

* ``word<TAB>word`` (Wiktionary, BLI): exactly one tab per line; a side may hold several
  words (``free of charge<TAB>umsonst``): such multi-word entries are skipped and counted;
* ``word word`` (MUSE, Conneau et al. 2018): exactly two words separated by spaces.

Two options serve code-switched fine-tuning (:mod:`xlt.data.codeswitch`): ``keep_multiword``
keeps entries whose foreign side holds several words (``free<TAB>kostenlos erhältlich``; a
multi-word English side is still skipped and counted), and ``scored`` also takes a third,
numeric column, the scored lexicons that ``xlt bli induce`` writes
(``word<TAB>word<TAB>score``); ``min_score`` then drops entries scored below it (counted in
``n_below_score``). Without these options a file is read exactly as before.

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
        scores: with ``scored=True``: the third column of each entry (NaN where a line has
            none), parallel to ``entries``; else None.
    """

    path: Path
    entries: list[tuple[str, str]]
    stats: dict
    format: str = "tab"
    scores: list[float] | None = None


def read_dictionary(path: str | Path, *, keep_multiword: bool = False, scored: bool = False,
                    min_score: float | None = None) -> Dictionary:
    """Read a bilingual dictionary: ``english<TAB>foreign`` or ``english foreign`` per line.

    See the module docs for the two layouts; the first non-blank line decides which one the
    file uses.

    Args:
        path: the file (UTF-8).
        keep_multiword: keep entries whose foreign side holds several words (their words
            joined by one space); an English side of several words is skipped either way.
        scored: the tab layout may have a third column, a number (``word<TAB>word<TAB>score``,
            the output of ``xlt bli induce``); kept in :attr:`Dictionary.scores`.
        min_score: with ``scored``: skip entries scored below this (counted as
            ``n_below_score``); lines without a score are kept.

    Returns:
        a :class:`Dictionary`.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: in the tab layout, a non-blank line without exactly one tab (with
            ``scored``: one or two, the third column a number) or with an empty side; in the space layout, a line that is not exactly two words; bytes that
            are not UTF-8. The message names the file and line.
    """
    path = Path(path)
    entries: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    stats = {"n_lines": 0, "n_entries": 0, "n_multiword": 0, "n_duplicates": 0, "n_blank": 0}
    if scored:
        stats["n_below_score"] = 0
    scores: list[float] = []
    layout = None
    for lineno, line in enumerate(read_lines(path), 1):
        stats["n_lines"] += 1
        if not line.strip():
            stats["n_blank"] += 1
            continue
        if layout is None:
            layout = "tab" if "\t" in line else "space"
        value = float("nan")
        if layout == "tab":
            parts = line.split("\t")
            if scored and len(parts) == 3:
                try:
                    value = float(parts[2])
                except ValueError:
                    raise DataFormatError(path, lineno, f"expected 'english<TAB>foreign<TAB>score' with a number "
                                                        f"as score, got {parts[2].strip()[:40]!r}") from None
                parts = parts[:2]
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
        if keep_multiword:
            f = " ".join(f.split())
        if " " in e or (" " in f and not keep_multiword):
            stats["n_multiword"] += 1
            continue
        if scored and min_score is not None and value < min_score:  # NaN (no score) is kept
            stats["n_below_score"] += 1
            continue
        if (e, f) in seen:
            stats["n_duplicates"] += 1
            continue
        seen.add((e, f))
        entries.append((e, f))
        scores.append(value)
    stats["n_entries"] = len(entries)
    return Dictionary(path=path, entries=entries, stats=stats, format=layout or "tab",
                      scores=scores if scored else None)


__all__ = ["FORMATS", "Dictionary", "read_dictionary"]
