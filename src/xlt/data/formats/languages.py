"""Languages of data files: :func:`language_from_filename` reads the language from a name
(``test-de.tsv`` -> ``de``, ``dev-deu_Latn.conll`` -> ``deu_Latn``) and :func:`eval_files_in_dir`
maps every data file of a folder (or the ``test.*`` of every per-language subfolder, the SIB-200
layout) to its language.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import langcodes

from xlt.core.errors import XltError
from xlt.data.formats.hf import is_datasets_folder
from xlt.data.formats.registry import get_format, known_extensions
from xlt.data.langs import UnknownLanguageError, iso639_3, script_of

__all__ = ["SPLIT_WORDS", "EvalFiles", "FileLanguageError", "eval_files_in_dir", "language_from_filename"]


# --------------------------------------------------------------------------- languages of files
class FileLanguageError(XltError, ValueError):
    """The language of a file cannot be read from its name, or two files have the same language.

    Attributes:
        path: the file (the first one, for duplicates).
        candidates: the language codes found in the name (several, or none).
    """

    def __init__(self, path: str | Path, message: str, candidates: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.path = Path(path)
        self.candidates = tuple(candidates)


#: Components of a file name that are never its language.
SPLIT_WORDS = frozenset({"train", "dev", "test", "valid", "validation", "val", "eval", "evaluation"})
#: Two- and three-letter words common in file names that are also language codes; not languages
#: in a file name (``in`` is the old code of Indonesian, ``per`` the NER class and Persian).
_NOT_LANGUAGES = frozenset(
    """in arm bis cat chi cor div geo ger hat her ice lit mac may mon nav per run sag sin slo sun ton
    vol wel""".split()
)
#: Three-letter words common in data file names that are also ISO 639-3 codes of languages
#: without a two-letter code; never taken as a language, not even as a weak candidate.
_FILE_WORDS = frozenset(
    """all and bio big dat doc dum ewt gsd iob lab mix new ner out pos raw ref set src tag tgt the
    tok txt xml""".split()
)
_TOKEN_RE = re.compile(r"[^._\-\s@]+")


def _is_code(code: str) -> bool:
    try:
        iso639_3(code)
    except UnknownLanguageError:
        return False
    return True


def _plain_language(token: str) -> bool:
    """A lone 2-3 letter component that is a language code (see :func:`language_from_filename`)."""
    low = token.lower()
    if not token.isascii() or not token.isalpha() or low in _NOT_LANGUAGES or low in SPLIT_WORDS:
        return False
    if len(token) == 2:
        return _is_code(low)
    if len(token) == 3:
        if not _is_code(low):
            return False
        # only three-letter codes of languages that also have a two-letter code (deu, fra, swa)
        return len(langcodes.Language.get(low).language or "") == 2
    return False


def _weak_language(token: str) -> bool:
    """A lone three-letter ISO 639-3 code of a language without a two-letter code (``pcm``,
    ``fon``, ``bam``): used only when the name holds no stronger candidate."""
    low = token.lower()
    if len(token) != 3 or not token.isascii() or not token.isalpha() or low in _FILE_WORDS:
        return False
    if low in _NOT_LANGUAGES or low in SPLIT_WORDS:
        return False
    return _is_code(low)


def _code_with_subtag(lang: str, sub: str) -> bool:
    """``deu`` + ``Latn`` or ``pt`` + ``BR``: a language code with a script or region subtag."""
    if not (lang.isascii() and lang.isalpha() and lang.islower() and 2 <= len(lang) <= 3):
        return False
    if lang in _NOT_LANGUAGES or lang in SPLIT_WORDS:
        return False
    is_script = len(sub) == 4 and sub.isascii() and sub.isalpha() and sub[0].isupper() and sub[1:].islower()
    is_region = (len(sub) == 2 and sub.isascii() and sub.isalpha() and sub.isupper()) or (
        len(sub) == 3 and sub.isdigit()
    )
    return (is_script or is_region) and _is_code(f"{lang}-{sub}")


def _name_stem(path: Path) -> str:
    name = path.name
    if "@" in name:
        name = name.rsplit("@", 1)[0]
    if not path.is_dir():
        suffix = Path(name).suffix
        if suffix.lower() in known_extensions():
            name = name[: -len(suffix)]
    return name


def language_from_filename(path: str | Path) -> str:
    """The language code in a file (or folder) name, as written there.

    The name, without a known data extension (and without a ``@split`` suffix), is split at
    ``.``, ``-``, ``_`` and whitespace. A language code with a script or region
    (``deu_Latn``, ``zh-Hans``, ``pt-BR``) is one candidate; otherwise a component is a
    candidate when it is a two-letter language code, or a three-letter code of a language that
    also has a two-letter one (``deu``, ``swa``; ``ner``, ``set`` or ``pos`` are not). When the
    name has no such candidate, one other ISO 639-3 code (``pcm``, ``fon``: languages without a
    two-letter code) is taken, and failing that the name of the file's folder (``pcm/test.txt``,
    MasakhaNER's layout). Split
    words (train, dev, test, valid, validation, eval) and a few English words that happen to be
    codes (``cat``, ``per``, ``run``, ``sun``, ``in``, ...) never count. Examples::

        test-de.tsv -> 'de'          dev-deu_Latn.conll -> 'deu_Latn'
        de.csv -> 'de'               xnli.fr.test.jsonl -> 'fr'
        sw_test.csv -> 'sw'          ner-test-sw.conll -> 'sw'

    Returns:
        The code as spelled in the name.

    Raises:
        FileLanguageError: (a ``ValueError``) no candidate, or several different ones
            (``test.tsv``, ``data.csv``, ``en-de.tsv``); the message names the file and says to
            use ``--eval LANG=FILE``.
    """
    path = Path(path)
    found = _name_candidates(_name_stem(path))
    if not found and path.parent.name:  # a language folder: swa/test.txt, pcm/dev.conll
        found = _name_candidates(path.parent.name, whole=True)
    if len(found) == 1:
        return found[0]
    if not found:
        what = "no language code"
    else:
        what = f"several language codes ({', '.join(found)})"
    raise FileLanguageError(
        path,
        f"{path}: found {what} in the file name; name the language with --eval LANG={path}",
        found,
    )


def _name_candidates(stem: str, whole: bool = False) -> list[str]:
    """Language codes in a name: strong candidates, else (if exactly one) a weak one.

    ``whole=True`` (folder names): only the whole name counts.
    """
    tokens = [m.group(0) for m in _TOKEN_RE.finditer(stem)]
    spans = [m.span() for m in _TOKEN_RE.finditer(stem)]
    if whole and len(tokens) > 2:
        return []
    found: list[str] = []
    weak: list[str] = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and _code_with_subtag(tokens[i], tokens[i + 1]):
            found.append(stem[spans[i][0] : spans[i + 1][1]])
            i += 2
            continue
        if whole and len(tokens) > 1:
            return []
        if _plain_language(tokens[i]):
            found.append(tokens[i])
        elif _weak_language(tokens[i]):
            weak.append(tokens[i])
        i += 1
    found = list(dict.fromkeys(found))
    weak = list(dict.fromkeys(weak))
    return found or weak  # one weak candidate is taken; several are reported as ambiguous


@dataclass
class _Variant:
    code: str
    lang3: str
    script: str | None
    region: str | None


def _variant(code: str) -> _Variant:
    return _Variant(
        code, iso639_3(code), script_of(code), langcodes.Language.get(code.replace("_", "-")).territory
    )


def _same_variant(a: _Variant, b: _Variant) -> bool:
    """Same language, and script and region do not differ where both name one."""
    if a.lang3 != b.lang3:
        return False
    if a.script and b.script and a.script != b.script:
        return False
    return not (a.region and b.region and a.region != b.region)


class EvalFiles(dict):
    """``{language code: path}`` found by :func:`eval_files_in_dir`, in name order.

    Attributes:
        skipped: names of entries that were left out (README files, ``labels.txt``, files with
            an extension no format reads, subfolders without a ``test.*`` file), for reports.
    """

    def __init__(self, items: Iterable[tuple[str, Path]] = (), skipped: Iterable[str] = ()) -> None:
        super().__init__(items)
        self.skipped: list[str] = list(skipped)


def eval_files_in_dir(directory: str | Path, format: str | None = None) -> EvalFiles:
    """Every evaluation file of a folder, keyed by the language in its name.

    Taken, in name order: files with an extension of ``format`` (default: of any format), e.g.
    ``test-de.conll``, ``fr.csv``; ``save_to_disk`` folders (when ``format`` is ``None`` or
    ``hf-disk``), language from the folder name; and per-language subfolders holding one
    ``test.*`` data file (the SIB-200 layout ``deu_Latn/test.tsv``), language from the
    subfolder name. Hidden entries are ignored; ``README*``, ``labels.txt``, files with other
    extensions and subfolders without a ``test.*`` are left out and listed in ``skipped``.

    Returns:
        An :class:`EvalFiles` dict ``{code: path}`` (empty when nothing was found) with the
        ``skipped`` names.

    Raises:
        FileNotFoundError / NotADirectoryError: ``directory`` is missing / not a folder.
        ValueError: an unknown ``format``; a subfolder with several ``test.*`` files.
        FileLanguageError: a name without exactly one language code (use ``--eval LANG=FILE``),
            or two entries of the same language (names both).
    """
    directory = Path(directory)
    if not directory.exists():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(directory))
    if not directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(directory))
    if format is not None:
        fmt = get_format(format)
        extensions = set(fmt.extensions)
        take_datasets = fmt.name == "hf-disk"
    else:
        extensions = known_extensions()
        take_datasets = True
    found: list[tuple[str, Path]] = []
    skipped: list[str] = []
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        name = entry.name
        if name.startswith("."):
            continue
        if entry.is_dir():
            if is_datasets_folder(entry):
                if take_datasets:
                    found.append((language_from_filename(entry), entry))
                else:
                    skipped.append(name + "/")
                continue
            tests = sorted(
                p for p in entry.iterdir()
                if p.is_file() and p.stem == "test" and p.suffix.lower() in extensions
            )
            if len(tests) > 1:
                raise ValueError(
                    f"{entry}: several test files ({', '.join(p.name for p in tests)}); pass one with "
                    f"--eval LANG=FILE"
                )
            if tests:
                found.append((language_from_filename(entry), tests[0]))
            else:
                skipped.append(name + "/")
            continue
        lower = name.lower()
        if lower.startswith("readme") or lower == "labels.txt" or entry.suffix.lower() not in extensions:
            skipped.append(name)
            continue
        found.append((language_from_filename(entry), entry))

    result = EvalFiles(skipped=skipped)
    variants: list[tuple[_Variant, Path]] = []
    for code, path in found:
        var = _variant(code)
        for other, other_path in variants:
            if _same_variant(var, other):
                raise FileLanguageError(
                    path,
                    f"{other_path} ({other.code}) and {path} ({code}) are both for the same language; "
                    f"keep one, or pass them with --eval LANG=FILE",
                    (other.code, code),
                )
        variants.append((var, path))
        result[code] = path
    return result
