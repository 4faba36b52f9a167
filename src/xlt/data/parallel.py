"""Parallel text: line-aligned files, the Tatoeba and NTREX sets, and a user's own corpora.

* :func:`read_parallel` / :func:`read_multiparallel`: two or more line-aligned files;
* :func:`select_tatoeba`, :func:`select_ntrex`: the bundled test sets (Artetxe & Schwenk 2019;
  Federmann et al. 2022);
* :func:`open_parallel` -> :class:`ParallelSource` (``select``, ``read``, ``read_pair``): one
  reader for every parallel input a command takes - two line-aligned files, a ``src ||| tgt``
  file, a ``src<TAB>tgt`` file, a folder of files named by language, or ``ntrex``; languages
  come from options, a header or the file names (:func:`corpus_language_from_filename`), all through
  :mod:`xlt.data.langs`. Empty lines and empty sides are skipped and counted; a malformed
  line or files of different lengths raise :class:`~xlt.data.readers.DataFormatError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xlt.data.dataset import DatasetError
from xlt.data.formats import FileLanguageError
from xlt.data.langs import UnknownLanguageError, iso639_3, language_name, match_language, same_language
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
        lines: 1-based line number of each kept pair (``len(lines) == len(src)``).
        n_lines: lines read (pairs kept + skipped).
        src_lang, tgt_lang: the languages, when known (:func:`read_user_pair` sets them).
    """

    src: list[str]
    tgt: list[str]
    path_src: Path
    path_tgt: Path
    n_skipped_empty: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    n_lines: int = 0
    src_lang: str | None = None
    tgt_lang: str | None = None


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
    out = ParallelText(src=[], tgt=[], path_src=path_src, path_tgt=path_tgt, n_lines=len(a))
    for i, (x, y) in enumerate(zip(a, b), start=1):
        x, y = x.strip(), y.strip()
        if not x or not y:
            out.n_skipped_empty += 1
            out.skipped_lines.append(i)
            continue
        out.lines.append(i)
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
    return _ntrex_files(dataset_dir("ntrex", data_dir))[0]


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


# ============================================================================ user corpora
#
# One reader for a user's own parallel text, used by ``xlt retrieve --pairs``, ``xlt analyze
# --parallel`` and ``xlt align fit|finetune|eval --parallel``. NTREX goes through the same code
# (``open_parallel("ntrex")``), so a corpus gives the same sentences whichever way it is named.

#: File-name endings that say how a file is stored, not which language it holds.
_TEXT_EXTENSIONS = frozenset({"txt", "text", "tsv", "tok", "raw"})
#: Name parts that are ISO 639-3 codes but, in a corpus file name, name no language
#: (``train.src`` is not Logudorese Sardinian, ``train.tgt`` not Central Tagbanwa).
#: Only a bare part is left out (with a script or region it counts); ``--src-lang`` names such a file.
_NOT_LANGUAGES = frozenset({"src", "tgt", "ref", "hyp", "out", "txt", "tsv", "raw", "tok", "all", "dev",
                            "xml", "sgm", "csv"})
#: One language: ``de``, ``deu``, ``deu_Latn``, ``zho-CN``, ``sr-Latn`` (a region is upper case,
#: so ``en-de`` reads as a language pair, not as English in Germany).
_LANG_PART = re.compile(r"^[A-Za-z]{2,3}(?:[-_](?:[A-Za-z]{4}|[A-Z]{2}|[0-9]{3}))*$")
#: A language pair: ``en-de``, ``eng_deu`` (for one file holding both sides).
_PAIR_PART = re.compile(r"^([A-Za-z]{2,3})[-_]([a-z]{2,3})$")
#: Files of a multi-parallel folder that hold no sentences (left out and listed in ``ignored``).
_DOC_NAMES = re.compile(r"^(readme|license|licence|notice|copying|languages)\b", re.IGNORECASE)
_DOC_SUFFIXES = frozenset({".md", ".json", ".yaml", ".yml", ".py", ".sh", ".html", ".pdf"})

#: How :func:`open_parallel` read a user's input: line-aligned files, one per language
#: (two files, a folder, NTREX); one ``source ||| target`` file; one ``source<TAB>target`` file.
PARALLEL_KINDS = ("files", "bitext", "tsv")


def _as_code(part: str) -> str | None:
    """``part`` if it is written like one language code and names a known language, else None."""
    if not _LANG_PART.match(part) or part.lower() in _NOT_LANGUAGES:
        return None
    try:
        iso639_3(part)
    except UnknownLanguageError:
        return None
    return part


def _name_parts(path: str | Path) -> list[str]:
    """The dot-separated parts of a file name that may name its language(s): the last part that
    is not a storage ending (``.txt``), then the first part."""
    parts = Path(path).name.split(".")
    while len(parts) > 1 and parts[-1].lower() in _TEXT_EXTENSIONS:
        parts.pop()
    return [parts[-1]] + ([parts[0]] if len(parts) > 1 else [])


def corpus_language_from_filename(path: str | Path) -> str | None:
    """The language a parallel-corpus file name states (Moses style, ``corpus.de``), or None.

    Labelled task files follow another convention (``test-de.conll``, ``de.csv``) and are read by
    :func:`xlt.data.formats.language_from_filename`; both end in :mod:`xlt.data.langs`.

    The language is the last dot-separated part of the name, not counting a storage ending
    (``.txt``, ``.text``, ``.tsv``, ``.tok``, ``.raw``); when that part names no language, the first
    part (FLORES' ``deu_Latn.devtest``). A part counts when it is an ISO 639-1/3 code, optionally
    with a script or an upper-case region (``zho-CN``, ``eng_Latn``); parts such as ``src``,
    ``tgt``, ``ref``, ``txt`` are never languages. Examples::

        corpus.de -> 'de'        newstest.deu.txt -> 'deu'      x.en-de.de -> 'de'
        en.txt -> 'en'           newstest2019-ref.zho-CN.txt -> 'zho-CN'
        deu_Latn.devtest -> 'deu_Latn'     train.src -> None     corpus.en-de -> None (a pair)

    Args:
        path: a file path (only its name is looked at).

    Returns:
        The code as written (``'deu'``, ``'zho-CN'``), valid for :func:`~xlt.data.langs.iso639_3`;
        None when no part names a language.
    """
    for part in _name_parts(path):
        code = _as_code(part)
        if code:
            return code
    return None


def pair_languages_from_filename(path: str | Path) -> tuple[str, str] | None:
    """The language pair a file name states (``corpus.en-de.txt``, ``en-de.tsv`` -> ``('en', 'de')``).

    The same parts as :func:`corpus_language_from_filename` are looked at; one of them must be two
    language codes joined by ``-`` or ``_`` (the second lower case, so ``zho-CN`` stays one
    language).

    Returns:
        ``(source, target)`` as written, or None.
    """
    for part in _name_parts(path):
        m = _PAIR_PART.match(part)
        if m and _as_code(m[1]) and _as_code(m[2]):
            return m[1], m[2]
    return None


def _check_code(code: str, what: str) -> str:
    """A user-given language code, checked (``UnknownLanguageError`` names the option)."""
    try:
        iso639_3(code)
    except UnknownLanguageError as exc:
        raise UnknownLanguageError(code, f"{what}: {exc}") from exc
    return code.strip()


def _ntrex_files(root: Path) -> tuple[dict[str, Path], list[Path]]:
    """NTREX naming in ``root``: code -> file (English source as ``eng`` first) and the other files."""
    out: dict[str, Path] = {}
    src = root / f"newstest2019-src.{NTREX_SOURCE}.txt"
    if src.is_file():
        out[NTREX_SOURCE] = src
    ignored = []
    for f in sorted(root.iterdir()):
        m = _NTREX_REF.match(f.name)
        if m and f.is_file():
            out[m["lang"]] = f
        elif f != src:
            ignored.append(f)
    return out, ignored


@dataclass
class ParallelSource:
    """A parallel corpus named by a user, resolved but not read yet (:func:`open_parallel`).

    Attributes:
        name: how messages and reports name it (``NTREX`` or the path(s) given).
        kind: ``files`` (line-aligned files, one per language: two files, a folder, NTREX),
            ``bitext`` (one ``source ||| target`` file) or ``tsv`` (one ``source<TAB>target``
            file); see :data:`PARALLEL_KINDS`.
        files: language code (as written in the file name, option or header) -> file; for the
            one-file kinds both languages map to that file. Its order is the order of
            :meth:`read`'s languages.
        columns: for the one-file kinds, language -> column (0 = left of ``|||``/the tab).
        header: a ``tsv`` file whose first line names the two languages (not read as a pair):
            two fields that are language codes written in lower case (``en<TAB>de``,
            ``eng_Latn<TAB>deu_Latn``) of two different languages.
        ignored: files of a folder left out because they hold no sentences (``README``,
            ``*.json``, sub-folders, NTREX's second Spanish reference ...), listed, not silent.
        pivot: the language :meth:`select` put first (None before selection).
    """

    name: str
    kind: str
    files: dict[str, Path]
    columns: dict[str, int] = field(default_factory=dict)
    header: bool = False
    ignored: list[Path] = field(default_factory=list)
    pivot: str | None = None

    @property
    def languages(self) -> list[str]:
        """The language codes, in reading order."""
        return list(self.files)

    @property
    def paths(self) -> list[Path]:
        """The distinct files (for manifests)."""
        return list(dict.fromkeys(self.files.values()))

    def select(self, langs: str | None = "all", pivot: str | None = None) -> ParallelSource:
        """Keep the pivot language (first) and the requested ones.

        Codes are matched with :func:`~xlt.data.langs.match_language` (``de`` finds ``deu``,
        ``zh`` finds ``zho-CN``); a requested code that matches the pivot is dropped, a
        repeated one counts once. A one-file corpus always keeps both of its languages.

        Args:
            langs: ``all`` (or None) or comma-separated codes, in the order wanted.
            pivot: the language to put first (``en``), or None to keep the order.

        Returns:
            a new :class:`ParallelSource` with ``pivot`` set to the matched key.

        Raises:
            UnknownLanguageError: a code (or the pivot) that matches no language of the
                corpus; the message lists those there are.
        """
        avail = self.languages
        context = f"{self.name} languages"
        piv = match_language(pivot, avail, context=context) if pivot else None
        if langs is None or langs.strip().lower() == "all":
            chosen = [k for k in avail if k != piv]
        else:
            chosen = []
            for code in (c.strip() for c in langs.split(",") if c.strip()):
                key = match_language(code, avail, context=context)
                if key != piv and key not in chosen:
                    chosen.append(key)
        keys = ([piv] if piv else []) + chosen
        if self.kind != "files":
            keys += [k for k in avail if k not in keys]
        return ParallelSource(name=self.name, kind=self.kind, files={k: self.files[k] for k in keys},
                              columns=dict(self.columns), header=self.header, ignored=list(self.ignored),
                              pivot=piv)

    def read(self) -> MultiParallel:
        """Read the corpus: ``texts[lang][i]`` are translations of each other.

        A line that is empty in any language (a blank line, an empty side of ``|||`` or of the
        tab) is dropped from every language and counted (``n_skipped_empty``,
        ``skipped_lines``); ``lines`` are 1-based line numbers of the files (so a ``tsv``
        file's first pair is line 2 after a header), ``n_lines`` the lines read (header not
        counted).

        Raises:
            DataFormatError: files of different lengths (names both files and their line
                counts); a ``bitext`` line without exactly one ``|||``; a ``tsv`` line without
                exactly one tab; a line that is not UTF-8 (all name the file and line).
            FileNotFoundError: a file is missing.
        """
        if self.kind == "files":
            return read_multiparallel(self.files)
        path = next(iter(self.files.values()))
        rows = read_lines(path)
        start = 1 if self.header else 0
        order = list(self.files)
        out = MultiParallel(texts={k: [] for k in order}, paths=dict(self.files), lines=[],
                            n_lines=len(rows) - start)
        for lineno, line in enumerate(rows[start:], start=start + 1):
            sides = _split_pair(path, lineno, line, self.kind)
            if sides is None or not all(sides):
                out.n_skipped_empty += 1
                out.skipped_lines.append(lineno)
                continue
            out.lines.append(lineno)
            for k in order:
                out.texts[k].append(sides[self.columns[k]])
        return out

    def read_pair(self) -> ParallelText:
        """Read a two-language corpus as a :class:`ParallelText` (``src`` = the first language).

        Raises:
            DatasetError: the corpus has more than two languages (select two first).
            DataFormatError, FileNotFoundError: as :meth:`read`.
        """
        if len(self.files) != 2:
            raise DatasetError(f"{self.name} has {len(self.files)} languages ({', '.join(self.files)}); "
                               "a sentence pair set needs exactly two")
        (a, pa), (b, pb) = self.files.items()
        if self.kind == "files":
            pt = read_parallel(pa, pb)
        else:
            mp = self.read()
            pt = ParallelText(src=mp.texts[a], tgt=mp.texts[b], path_src=pa, path_tgt=pb,
                              n_skipped_empty=mp.n_skipped_empty, skipped_lines=mp.skipped_lines,
                              lines=mp.lines, n_lines=mp.n_lines)
        pt.src_lang, pt.tgt_lang = a, b
        return pt


def _split_pair(path: Path, lineno: int, line: str, kind: str) -> tuple[str, str] | None:
    """The two stripped sides of one ``bitext``/``tsv`` line; None for a blank line."""
    if not line.strip():
        return None
    if kind == "bitext":
        parts = line.split("|||")
        if len(parts) != 2:
            raise DataFormatError(path, lineno, (f"expected 'source ||| target', found {len(parts) - 1} '|||' "
                                                 f"in {line.strip()[:80]!r}"))
    else:
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataFormatError(path, lineno, (f"expected 'source<TAB>target' (2 tab-separated fields), found "
                                                 f"{len(parts)} field(s) in {line.strip()[:80]!r}"))
    return parts[0].strip(), parts[1].strip()


def _one_file(path: Path, src_lang: str | None, tgt_lang: str | None) -> ParallelSource:
    """A ``|||`` or tab-separated file of sentence pairs (format from its first non-blank line)."""
    rows = read_lines(path)
    first = next(((i, line) for i, line in enumerate(rows, 1) if line.strip()), None)
    if first is None:
        raise DataFormatError(path, 1, "no sentence pair in the file (it is empty or blank)")
    lineno, line = first
    if "|||" in line:
        kind = "bitext"
    elif "\t" in line or path.suffix.lower() == ".tsv":
        kind = "tsv"
    else:
        raise DataFormatError(path, lineno, "expected 'source ||| target' or 'source<TAB>target' lines; give two "
                                            "line-aligned files (one sentence per line) as two paths")
    header_langs = None
    if kind == "tsv" and lineno == 1:
        cells = [c.strip() for c in line.split("\t")]
        if (len(cells) == 2 and all(c[:1].islower() and _as_code(c) for c in cells)
                and not same_language(*cells)):
            header_langs = (cells[0], cells[1])
    if src_lang or tgt_lang:
        if not (src_lang and tgt_lang):
            raise DatasetError(f"{path.name} holds both sides: give both --src-lang and --tgt-lang")
        langs = (_check_code(src_lang, "--src-lang"), _check_code(tgt_lang, "--tgt-lang"))
        if header_langs and not (same_language(header_langs[0], langs[0]) and same_language(header_langs[1], langs[1])):
            raise DataFormatError(path, 1, f"the header names {header_langs[0]}, {header_langs[1]} but "
                                           f"--src-lang/--tgt-lang say {langs[0]}, {langs[1]}")
    else:
        langs = header_langs or pair_languages_from_filename(path)
    if langs is None:
        raise FileLanguageError(path, f"{path}: cannot read its two languages from the name; name it like "
                                      f"corpus.en-de.{'tsv' if kind == 'tsv' else 'txt'}"
                                      + (", start it with a header line 'en<TAB>de'" if kind == "tsv" else "")
                                      + " or give --src-lang and --tgt-lang")
    if same_language(*langs):
        raise FileLanguageError(path, f"{path}: both sides are {language_name(langs[0])} ({langs[0]}, {langs[1]}); "
                                      "name two different languages")
    return ParallelSource(name=str(path), kind=kind, files={langs[0]: path, langs[1]: path},
                          columns={langs[0]: 0, langs[1]: 1}, header=header_langs is not None)


def _folder(root: Path) -> ParallelSource:
    """A folder of line-aligned files named by language (NTREX naming recognised)."""
    if (root / f"newstest2019-src.{NTREX_SOURCE}.txt").is_file():
        files, ignored = _ntrex_files(root)
    else:
        files, ignored, keys = {}, [], {}
        for f in sorted(root.iterdir()):
            if (f.name.startswith(".") or not f.is_file() or _DOC_NAMES.match(f.name)
                    or f.suffix.lower() in _DOC_SUFFIXES):
                ignored.append(f)
                continue
            lang = corpus_language_from_filename(f)
            if lang is None:
                raise FileLanguageError(f, f"{f}: cannot read its language from the file name; name the files "
                                           "of a multi-parallel folder by language (en.txt, de.txt, or "
                                           "newstest2019-ref.deu.txt)")
            key = lang.replace("_", "-").lower()
            if key in keys:
                raise FileLanguageError(f, f"{root}: two files for {lang}: {keys[key].name} and {f.name}; "
                                           "keep one of them in the folder")
            keys[key] = f
            files[lang] = f
    if len(files) < 2:
        raise DatasetError(f"{root}: a multi-parallel folder needs files of at least two languages, found "
                           f"{len(files)} ({', '.join(f.name for f in files.values()) or 'none'})")
    return ParallelSource(name=str(root), kind="files", files=files, ignored=ignored)


def open_parallel(spec: str | Path | Sequence[str | Path], *, src_lang: str | None = None,
                  tgt_lang: str | None = None, data_dir: str | Path | None = None) -> ParallelSource:
    """Resolve a user's parallel corpus (or NTREX) to languages and files, without reading it.

    Accepted inputs (``spec``):

    * ``"ntrex"``: NTREX-128 of the data folder (English ``eng`` first);
    * two paths ``[SRC_FILE, TGT_FILE]``: line-aligned files (line ``i`` of one translates
      line ``i`` of the other); languages from ``src_lang``/``tgt_lang`` or the file names
      (:func:`corpus_language_from_filename`: ``corpus.de``, ``newstest.deu.txt``, ``x.en-de.de``);
    * one file of ``source ||| target`` lines, or of ``source<TAB>target`` lines (``.tsv`` or a
      first line with a tab); languages from the options, else a header line naming both
      (``en<TAB>de``: two lower-case language codes, so a first pair like ``Ja<TAB>Yes`` stays
      a pair), else the file name (``corpus.en-de.txt``);
    * a folder of multi-parallel files named by language (``en.txt``, ``de.txt``; NTREX-style
      ``newstest2019-ref.deu.txt``), line ``i`` the same sentence in every file; non-text
      files (``README``, ``*.md``, ``*.json``, sub-folders) are left out and listed in
      ``ignored``.

    Only names are looked at, except that one file is read once to find its layout (its first
    non-blank line) and a TSV header; :meth:`ParallelSource.read` reads the text. Papers:
    NTREX-128 (Federmann et al. 2022).

    Args:
        spec: ``"ntrex"``, a path, or a list of one or two paths.
        src_lang, tgt_lang: languages of a pair (two files, or the two sides of one file);
            they win over file names.
        data_dir: data folder for ``ntrex``.

    Returns:
        a :class:`ParallelSource`.

    Raises:
        FileNotFoundError: a path that does not exist (DatasetNotFoundError for NTREX).
        FileLanguageError: (:class:`xlt.data.formats.FileLanguageError`) a file whose language
            cannot be read from its name (the message says how to name it or which option to
            give), two files of one language.
        UnknownLanguageError: ``src_lang``/``tgt_lang`` is not a language code.
        DataFormatError: a one-file corpus whose first line is neither ``|||`` nor tab
            separated, or that is empty; a line that is not UTF-8.
        DatasetError: more than two paths, a folder among two paths, ``src_lang``/``tgt_lang``
            with a folder or NTREX (or only one of them for one file), a folder with fewer than
            two languages.
    """
    items = [spec] if isinstance(spec, (str, Path)) else list(spec)
    if len(items) == 1 and isinstance(items[0], str) and items[0].strip().lower() == "ntrex":
        if src_lang or tgt_lang:
            raise DatasetError("--src-lang/--tgt-lang name the sides of a user's pair, not NTREX's")
        root = dataset_dir("ntrex", data_dir)
        files, ignored = _ntrex_files(root)
        return ParallelSource(name="NTREX", kind="files", files=files, ignored=ignored)
    if not 1 <= len(items) <= 2:
        raise DatasetError(f"give one parallel file or folder, or two line-aligned files; got {len(items)} paths")
    paths = [Path(p) for p in items]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"no such file or folder: {p}")
    if len(paths) == 1:
        if paths[0].is_dir():
            if src_lang or tgt_lang:
                raise DatasetError(f"--src-lang/--tgt-lang name the sides of a pair; in the folder {paths[0]} the "
                                   "file names give the languages")
            return _folder(paths[0])
        return _one_file(paths[0], src_lang, tgt_lang)
    for p in paths:
        if p.is_dir():
            raise DatasetError(f"{p} is a folder; give two line-aligned files, or one folder on its own")
    langs = []
    for p, given, option in zip(paths, (src_lang, tgt_lang), ("--src-lang", "--tgt-lang")):
        code = _check_code(given, option) if given else corpus_language_from_filename(p)
        if code is None:
            raise FileLanguageError(p, f"{p}: cannot read its language from the file name; name it like "
                                       f"corpus.de, de.txt or newstest.deu.txt, or give {option}")
        langs.append(code)
    if same_language(*langs):
        raise FileLanguageError(paths[1], f"{paths[0].name} and {paths[1].name} are both "
                                          f"{language_name(langs[0])} ({langs[0]}, {langs[1]}); "
                                          "name their languages with --src-lang and --tgt-lang")
    return ParallelSource(name=f"{paths[0]} {paths[1]}", kind="files", files=dict(zip(langs, paths)))


def read_user_parallel(spec: str | Path | Sequence[str | Path], *, langs: str | None = "all",
                       pivot: str | None = None, src_lang: str | None = None, tgt_lang: str | None = None,
                       data_dir: str | Path | None = None) -> MultiParallel:
    """:func:`open_parallel`, :meth:`ParallelSource.select` and :meth:`ParallelSource.read` in one call.

    Returns:
        the :class:`MultiParallel` of the selected languages (``pivot`` first when given).

    Raises:
        everything :func:`open_parallel`, :meth:`~ParallelSource.select` and
        :meth:`~ParallelSource.read` raise.
    """
    source = open_parallel(spec, src_lang=src_lang, tgt_lang=tgt_lang, data_dir=data_dir)
    return source.select(langs, pivot=pivot).read()


def read_user_pair(spec: str | Path | Sequence[str | Path], *, src_lang: str | None = None,
                   tgt_lang: str | None = None) -> ParallelText:
    """A user's sentence pairs (two files, a ``|||`` or a tab-separated file) as :class:`ParallelText`.

    ``src``/``tgt`` are the first/second file (the left/right side of one file);
    ``src_lang``/``tgt_lang`` are set.

    Raises:
        everything :func:`open_parallel` and :meth:`ParallelSource.read_pair` raise.
    """
    return open_parallel(spec, src_lang=src_lang, tgt_lang=tgt_lang).read_pair()
