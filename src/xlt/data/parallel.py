"""Parallel text: line-aligned file pairs and the Tatoeba retrieval test sets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from xlt.data.langs import match_language
from xlt.data.paths import dataset_dir
from xlt.data.readers import DataFormatError, read_lines

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
        FileNotFoundError: a file is missing. DataFormatError: a line that is not UTF-8.
    """
    path_src, path_tgt = Path(path_src), Path(path_tgt)
    a, b = read_lines(path_src), read_lines(path_tgt)
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


_NTREX_REF = re.compile(r"^newstest2019-ref\.(?P<lang>[A-Za-z]{3}(?:-[A-Za-z]{2,4})?)\.txt$")
NTREX_SOURCE = "eng"
"""Key of NTREX's English source side (``newstest2019-src.eng.txt``)."""


@dataclass
class MultiParallel:
    """Line-aligned multi-parallel text: ``texts[lang][i]`` are translations of each other.

    Attributes:
        texts: language code → its kept sentences (all lists have the same length).
        paths: language code → file.
        lines: 1-based line number of each kept sentence (same for all languages).
        n_lines: lines per file.
        n_skipped_empty: lines dropped because at least one language's side was empty.
        skipped_lines: 1-based numbers of those lines.
    """

    texts: dict[str, list[str]]
    paths: dict[str, Path]
    lines: list[int]
    n_lines: int
    n_skipped_empty: int = 0
    skipped_lines: list[int] = field(default_factory=list)


def read_multiparallel(paths: dict[str, str | Path]) -> MultiParallel:
    """Read several line-aligned files (line ``i`` is the same sentence in every file).

    A line that is empty (after stripping) in any file is dropped from every language and
    counted in ``n_skipped_empty``, so the languages stay aligned.

    Raises:
        DataFormatError: the files have different numbers of lines (names the file, its line
            count and the count of the first file).
        ValueError: ``paths`` is empty.
        FileNotFoundError: a file is missing. DataFormatError: a line that is not UTF-8.
    """
    if not paths:
        raise ValueError("read_multiparallel needs at least one file")
    raw = {lang: read_lines(p) for lang, p in paths.items()}
    first = next(iter(paths))
    n = len(raw[first])
    for lang, rows in raw.items():
        if len(rows) != n:
            raise DataFormatError(Path(paths[lang]), min(len(rows), n) + 1,
                                  f"{Path(paths[lang]).name} has {len(rows)} lines but "
                                  f"{Path(paths[first]).name} has {n}; multi-parallel files must "
                                  "have one sentence per line in every language")
    out = MultiParallel(texts={lang: [] for lang in raw}, paths={k: Path(v) for k, v in paths.items()},
                        lines=[], n_lines=n)
    for i in range(n):
        row = {lang: rows[i].strip() for lang, rows in raw.items()}
        if not all(row.values()):
            out.n_skipped_empty += 1
            out.skipped_lines.append(i + 1)
            continue
        out.lines.append(i + 1)
        for lang, text in row.items():
            out.texts[lang].append(text)
    return out


def ntrex_languages(data_dir: str | Path | None = None) -> dict[str, Path]:
    """The NTREX-128 files (Federmann et al. 2022): code → file, English source as ``eng``.

    Codes are the file names' (ISO 639-3, sometimes with a script or region:
    ``zho-CN``, ``srp-Cyrl``); ``newstest2019-ref-2.spa.txt`` (a second Spanish reference) is
    left out.

    Raises:
        DatasetNotFoundError: no ``ntrex`` folder in the data folder.
    """
    root = dataset_dir("ntrex", data_dir)
    out = {}
    src = root / f"newstest2019-src.{NTREX_SOURCE}.txt"
    if src.is_file():
        out[NTREX_SOURCE] = src
    for f in sorted(root.iterdir()):
        m = _NTREX_REF.match(f.name)
        if m:
            out[m["lang"]] = f
    return out


def select_ntrex(spec: str, data_dir: str | Path | None = None, *, include_source: bool = True
                 ) -> dict[str, Path]:
    """``all`` or a comma-separated list of codes (any form: ``de``, ``deu``, ``zh``) → NTREX files.

    English (the source side, key ``eng``) comes first when ``include_source``.

    Raises:
        UnknownLanguageError: a code matches no NTREX language (the message lists them).
        DatasetNotFoundError: no ``ntrex`` folder.
    """
    available = ntrex_languages(data_dir)
    refs = {k: v for k, v in available.items() if k != NTREX_SOURCE}
    if spec.strip().lower() == "all":
        chosen = dict(refs)
    else:
        chosen = {}
        for code in (c.strip() for c in spec.split(",") if c.strip()):
            key = (NTREX_SOURCE if code.lower() in ("en", "eng") else
                   match_language(code, refs, context="NTREX languages"))
            if key != NTREX_SOURCE:
                chosen[key] = refs[key]
    if include_source:
        if NTREX_SOURCE not in available:
            raise FileNotFoundError(f"NTREX English source newstest2019-src.{NTREX_SOURCE}.txt is missing")
        chosen = {NTREX_SOURCE: available[NTREX_SOURCE], **chosen}
    return chosen
