"""Plain text of a language: a user's text file, or every sentence the shared data holds in it.

Adapting an encoder to languages (vocabulary trimming, continued pretraining) needs raw text in
each of them. A user gives a text file per language (``LANG=FILE``: one sentence or paragraph per
line, UTF-8; empty lines skipped and counted); without one, :func:`builtin_text` gathers the
language's sentences from the built-in sets in the data folder: NTREX-128 (news), SIB-200
(Flores-200 sentences) and the UD-POS and PAN-X files (words joined back into text), without
repeats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xlt.data import tasks as registry
from xlt.data.langs import UnknownLanguageError, match_language
from xlt.data.parallel import ntrex_languages
from xlt.data.paths import DatasetNotFoundError
from xlt.data.readers import DataFormatError, check_not_folder
from xlt.data.segment import join_words

__all__ = ["LanguageText", "builtin_text", "example_text", "parse_text_args", "read_text_file", "texts_for"]


@dataclass
class LanguageText:
    """The text of one language.

    Attributes:
        lang: the language code as asked. sentences: the lines / sentences.
        sources: where they came from (file paths, or ``ntrex:<file>``-style names) with counts.
        skipped_empty: empty lines left out.
    """

    lang: str
    sentences: list[str]
    sources: dict[str, int] = field(default_factory=dict)
    skipped_empty: int = 0

    @property
    def n_words(self) -> int:
        """Whitespace-separated words in all sentences (a size that means something for every script
        but the unsegmented ones, where it counts runs)."""
        return sum(len(s.split()) for s in self.sentences)


def example_text(example) -> str:
    """The running text of a labelled example: a tagged sentence's words joined as text
    (:func:`xlt.data.segment.join_words`), a pair's two texts with a space between, or the text."""
    if hasattr(example, "tokens"):
        return join_words(example.tokens)[0]
    return f"{example.text} {example.text_pair}" if hasattr(example, "text_pair") else example.text


def read_text_file(path: str | Path, lang: str, limit: int | None = None) -> LanguageText:
    """A text file, one sentence or paragraph per line (UTF-8).

    Raises:
        FileNotFoundError: no such file; IsADirectoryError: ``path`` is a folder (the message says so);
        DataFormatError: not UTF-8 (names the line).
    """
    p = Path(path)
    check_not_folder(p, "a text file")
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such text file")
    out, empty = [], 0
    with p.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise DataFormatError(p, lineno, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
            if not line:
                empty += 1
                continue
            out.append(line.lstrip("\ufeff") if lineno == 1 else line)
            if limit is not None and len(out) >= limit:
                break
    return LanguageText(lang, out, {str(p): len(out)}, empty)


def builtin_text(lang: str, data_dir: str | Path | None = None, limit: int | None = None) -> LanguageText:
    """Every sentence of ``lang`` in the built-in sets (NTREX-128, SIB-200, UD-POS, PAN-X), without repeats.

    Args:
        lang: any code of the language (``sw``, ``swh``, ``swh_Latn``).
        data_dir: data folder. limit: stop after this many sentences.

    Raises:
        UnknownLanguageError: no built-in set holds text in ``lang`` (the message says to give a
        text file: ``--text LANG=FILE``).
    """
    seen: dict[str, None] = {}
    sources: dict[str, int] = {}

    def full() -> bool:
        return limit is not None and len(seen) >= limit

    def add(name: str, texts: Iterable[str]) -> None:
        n = 0
        for t in texts:
            if full():  # ``sources`` counts only the sentences kept
                break
            t = t.strip()
            if t and t not in seen:
                seen[t] = None
                n += 1
        if n:
            sources[name] = n

    try:
        files = ntrex_languages(data_dir)
        code = match_language(lang, files)
        add(str(files[code]), Path(files[code]).read_text(encoding="utf-8").splitlines())
    except (DatasetNotFoundError, UnknownLanguageError):
        pass
    for task in ("sib200", "udpos", "panx"):
        spec = registry.get_task(task)
        try:
            split_files = registry.split_files(spec, data_dir)
        except DatasetNotFoundError:
            continue
        for split in split_files.values():
            if full():
                break
            try:
                code = match_language(lang, split)
            except UnknownLanguageError:
                continue
            examples, _ = registry.load_split(spec, split[code])
            add(str(split[code]), (example_text(e) for e in examples))
    if not seen:
        raise UnknownLanguageError(lang, f"no built-in data set holds text in {lang!r}; give a text file with "
                                         f"--text {lang}=FILE", ())
    return LanguageText(lang, list(seen), sources)


def parse_text_args(items: Sequence[str] | None, option: str = "--text", what: str = "FILE") -> dict[str, Path]:
    """``LANG=PATH`` option values (``--text sw=swahili.txt``, ``--language-adapters yo=DIR``) ->
    ``{lang: path}``; ``option`` and ``what`` name them in messages.

    Raises:
        ValueError: a value without ``LANG=``, or a language given twice.
    """
    out: dict[str, Path] = {}
    for item in items or ():
        lang, sep, path = str(item).partition("=")
        if not sep or not lang.strip() or not path.strip():
            raise ValueError(f"{option} {item}: expected LANG={what} (e.g. sw=...)")
        if lang.strip() in out:
            raise ValueError(f"{option}: language {lang.strip()} given twice")
        out[lang.strip()] = Path(path.strip())
    return out


def texts_for(langs: Sequence[str], files: dict[str, Path] | None = None, data_dir: str | Path | None = None,
              limit: int | None = None) -> dict[str, LanguageText]:
    """The text of each language: its file where one is given, else :func:`builtin_text`.

    Raises:
        UnknownLanguageError / FileNotFoundError / DataFormatError: see the two readers.
    """
    files = files or {}
    return {l: read_text_file(files[l], l, limit) if l in files else builtin_text(l, data_dir, limit) for l in langs}
