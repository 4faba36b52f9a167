"""Parallel text: line-aligned file pairs and the Tatoeba retrieval test sets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from xlt.data.langs import match_language
from xlt.data.paths import dataset_dir
from xlt.data.readers import DataFormatError

_TATOEBA = re.compile(r"^tatoeba\.(?P<lang>[a-z]{3})-eng\.(?P=lang)$")


@dataclass
class ParallelText:
    """Aligned sentence pairs read from two files.

    Attributes:
        src, tgt: the kept sentences; ``src[i]`` translates to ``tgt[i]``.
        path_src, path_tgt: the files.
        n_skipped_empty: pairs dropped because one side was empty (counted, never silent).
        skipped_lines: 1-based line numbers of those pairs.
    """

    src: list[str]
    tgt: list[str]
    path_src: Path
    path_tgt: Path
    n_skipped_empty: int = 0
    skipped_lines: list[int] = field(default_factory=list)


def read_parallel(path_src: str | Path, path_tgt: str | Path) -> ParallelText:
    """Read two line-aligned files (line ``i`` of one translates line ``i`` of the other).

    Surrounding whitespace is stripped; a pair with an empty side is skipped and counted.

    Raises:
        DataFormatError: the files have different numbers of lines (the message names both
            files, their line counts, and points at the first line past the shorter one).
        FileNotFoundError: a file is missing.
    """
    path_src, path_tgt = Path(path_src), Path(path_tgt)
    a = path_src.read_text(encoding="utf-8").splitlines()
    b = path_tgt.read_text(encoding="utf-8").splitlines()
    if len(a) != len(b):
        longer = path_src if len(a) > len(b) else path_tgt
        raise DataFormatError(longer, min(len(a), len(b)) + 1,
                              f"{path_src.name} has {len(a)} lines but {path_tgt.name} has {len(b)}; "
                              "parallel files must have one sentence per line on both sides")
    out = ParallelText(src=[], tgt=[], path_src=path_src, path_tgt=path_tgt)
    for i, (x, y) in enumerate(zip(a, b), start=1):
        x, y = x.strip(), y.strip()
        if not x or not y:
            out.n_skipped_empty += 1
            out.skipped_lines.append(i)
            continue
        out.src.append(x)
        out.tgt.append(y)
    return out


def tatoeba_languages(data_dir: str | Path | None = None) -> dict[str, tuple[Path, Path]]:
    """The Tatoeba test sets (Artetxe & Schwenk 2019): ISO 639-3 code → (``xx`` file, ``eng`` file).

    Raises:
        DatasetNotFoundError: no ``tatoeba`` folder in the data folder.
    """
    root = dataset_dir("tatoeba", data_dir)
    out = {}
    for f in sorted(root.iterdir()):
        m = _TATOEBA.match(f.name)
        if m and (root / f"tatoeba.{m['lang']}-eng.eng").is_file():
            out[m["lang"]] = (f, root / f"tatoeba.{m['lang']}-eng.eng")
    return out


def select_tatoeba(spec: str, data_dir: str | Path | None = None) -> dict[str, tuple[Path, Path]]:
    """``all`` or a comma-separated list of language codes (any form: ``de``, ``deu``) → files.

    Raises:
        UnknownLanguageError: a code matches no Tatoeba language (the message lists them).
    """
    available = tatoeba_languages(data_dir)
    if spec.strip().lower() == "all":
        return available
    chosen = {}
    for code in (c.strip() for c in spec.split(",") if c.strip()):
        key = match_language(code, available, context="Tatoeba languages")
        chosen[key] = available[key]
    return chosen
