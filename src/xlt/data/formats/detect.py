"""Which format a file is in (:func:`detect_format`: ``hf:`` specs, ``datasets`` folders, file
extensions, a look inside ``.tsv`` files) and the one entry point that reads any of them
(:func:`read_examples`).
"""

from __future__ import annotations

import errno
from dataclasses import replace
from pathlib import Path

from xlt.data.formats.conll import CONLL_EXTENSIONS
from xlt.data.formats.hf import DATASETS_FOLDER_FILES, HF_PREFIX, is_datasets_folder
from xlt.data.formats.options import LABEL_COLUMNS, PAIR_COLUMNS, TEXT_COLUMNS, ReadOptions
from xlt.data.formats.registry import FORMATS, format_names, get_format
from xlt.data.kinds import Example
from xlt.data.readers import SIB200_HEADER, ReadStats, check_limit, iter_lines

__all__ = ["detect_format", "read_examples"]

_BUILTIN_EXTENSIONS: dict[str, str] = {
    ".conllu": "conllu",
    **{ext: "conll" for ext in CONLL_EXTENSIONS},
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


# --------------------------------------------------------------------------- detection
def _split_suffix(path: str | Path) -> tuple[Path, str | None]:
    """``FOLDER@split`` -> ``(FOLDER, 'split')`` when ``FOLDER`` is a datasets folder."""
    text = str(path)
    if "@" in Path(text).name and not Path(text).exists():
        base, split = text.rsplit("@", 1)
        if split and is_datasets_folder(base):
            return Path(base), split
    return Path(text), None


def _sniff_tsv(path: Path, options: ReadOptions) -> str:
    stats = ReadStats(path=path)
    lines: list[str] = []
    numbered = iter_lines(path, stats)
    try:
        for lineno, line in numbered:
            lines.append(line)
            if lineno >= 200:
                break
    finally:
        numbered.close()
    first = next((line for line in lines if line.strip()), "")
    cells = [c.strip() for c in first.split("\t")]
    if tuple(cells) == SIB200_HEADER:
        return "sib200"
    present = set(cells)
    given = [*(options.text_column or ()), *((options.label_column,) if options.label_column else ())]
    if given and all(name in present for name in given):
        return "tsv"
    has_text = any(c in present for c in TEXT_COLUMNS) or any(
        a in present and b in present for a, b in PAIR_COLUMNS
    )
    if has_text and any(c in present for c in LABEL_COLUMNS):
        return "tsv"
    data = [line.rstrip() for line in lines if line.strip()]
    if any(line.split(maxsplit=1)[0] == "-DOCSTART-" for line in data):
        return "conll"
    if data and all(len(line.split("\t")) == 2 for line in data):
        return "xtreme"
    return "conll"


def detect_format(path: str | Path, options: ReadOptions | None = None) -> str:
    """The format name of a file, folder or ``hf:`` spec.

    Rules: ``hf:...`` -> ``hf-hub``; a ``save_to_disk`` folder (also ``FOLDER@split``) ->
    ``hf-disk``; by extension (case-insensitive): ``.conllu`` -> ``conllu``; ``.conll``,
    ``.txt``, ``.bio``, ``.iob``, ``.iob2``, ``.bioes``, ``.ner`` -> ``conll``; ``.csv`` ->
    ``csv``; ``.jsonl``, ``.ndjson``, ``.json`` -> ``jsonl``. A ``.tsv`` file is looked at:
    the SIB-200 header ``index_id<TAB>category<TAB>text`` -> ``sib200``; a first line naming
    the given text/label columns, or a default text column (or pair) and a default label column
    -> ``tsv``; else ``xtreme`` if every non-blank line of the first 200 has exactly two
    tab-separated columns (and none is ``-DOCSTART-``), else ``conll``. Extensions of formats
    registered later are looked up in :data:`FORMATS`.

    Raises:
        FileNotFoundError: no such file or folder.
        ValueError: a folder that is not a datasets folder, or an extension no format claims
            (the message lists the format names for ``--format``).
        DataFormatError: a ``.tsv`` file that is not UTF-8.
    """
    options = options or ReadOptions()
    if str(path).startswith(HF_PREFIX):
        return "hf-hub"
    path, split = _split_suffix(path)
    if split is not None:
        return "hf-disk"
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file or folder", str(path))
    if path.is_dir():
        if is_datasets_folder(path):
            return "hf-disk"
        raise ValueError(
            f"{path} is a folder, not a data file, and not a folder written by datasets' save_to_disk "
            f"(no {', '.join(DATASETS_FOLDER_FILES)})"
        )
    ext = path.suffix.lower()
    if ext == ".tsv":
        return _sniff_tsv(path, options)
    if ext in _BUILTIN_EXTENSIONS:
        return _BUILTIN_EXTENSIONS[ext]
    claimed = [f.name for f in FORMATS.values() if ext and ext in f.extensions]
    if len(claimed) == 1:
        return claimed[0]
    raise ValueError(
        f"cannot tell the format of {path} from its extension {ext or '(none)'!r}; pass --format "
        f"with one of: {format_names()}"
    )


def read_examples(
    path: str | Path,
    format: str | None = None,
    options: ReadOptions | None = None,
    limit: int | None = None,
) -> tuple[list[Example], ReadStats]:
    """Read a data file (folder, ``hf:`` spec) in a given or detected format.

    Args:
        path: a file, a ``save_to_disk`` folder (``FOLDER@split`` selects a split), or
            ``hf:NAME[:CONFIG][@SPLIT]``.
        format: a name in :data:`FORMATS`; ``None``: :func:`detect_format`.
        options: columns, tag column, split (default :class:`ReadOptions()`).
        limit: keep the first ``limit`` examples (``None``: all).

    Returns:
        ``(examples, stats)``. A file without examples gives ``([], stats)``; the caller decides
        whether that is an error.

    Raises:
        FileNotFoundError: no such file or folder (names it).
        ValueError: an unknown format, a folder where a file is expected (or a file where a
            folder is), an undetectable format, a split given twice differently, a negative
            ``limit``.
        DataFormatError: a malformed line (names file and line).
    """
    options = options if options is not None else ReadOptions()
    check_limit(limit)
    text = str(path)
    if text.startswith(HF_PREFIX):
        if format not in (None, "hf-hub"):
            raise ValueError(f"{text!r} is a Hugging Face spec; format {format} reads files")
        return get_format("hf-hub").reader(Path(text), options, limit)
    path, split = _split_suffix(path)
    if split is not None:
        if options.split is not None and options.split != split:
            raise ValueError(f"{text} names split {split!r} but the options ask for {options.split!r}")
        options = replace(options, split=split)
    if format is not None:
        fmt = get_format(format)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file or folder", str(path))
    if format is None:
        fmt = get_format(detect_format(path, options))
    if fmt.name == "hf-disk":
        if not path.is_dir():
            raise ValueError(f"{path} is a file; format hf-disk reads a folder written by save_to_disk")
    elif fmt.name == "hf-hub":
        raise ValueError(f"format hf-hub takes 'hf:NAME[:CONFIG][@SPLIT]', not {text!r}")
    elif path.is_dir():
        raise ValueError(f"{path} is a folder; format {fmt.name} reads a file")
    elif split is not None:
        raise ValueError(f"{text}: '@{split}' selects a split of a datasets folder, not of a {fmt.name} file")
    return fmt.reader(path, options, limit)
