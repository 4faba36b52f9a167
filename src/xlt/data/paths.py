"""Finding the data folder and the data sets in it.

The data folder holds one sub-folder per data set (``udpos/``, ``panx/``, ``sib200/``, ...),
with upstream file names and formats. It is never part of the repository; it is looked for in
this order:

1. the ``explicit`` argument (e.g. a ``--data-dir`` option);
2. the environment variable ``XLT_DATA``;
3. ``shared/data`` in the current working directory or any of its parents, then in the
   folder of this package or any of its parents (a checkout at ``/work/main`` finds
   ``/work/shared/data`` beside it; a fresh clone with ``shared/`` beside it does too);
4. the user cache, ``$XDG_CACHE_HOME/xlt/data`` (default ``~/.cache/xlt/data``).

1 and 2 are the user's choice and are used exclusively: if the folder they name does not
exist, that is an error, not a reason to look elsewhere. Folders found by 3 and 4 only count if
they contain at least one known data set sub-folder, and :func:`dataset_dir` searches them in
order for the requested data set.
"""

from __future__ import annotations

import os
from pathlib import Path

from xlt.core.errors import XltError

ENV_VAR = "XLT_DATA"

# One line per data set: where to get it.
DATASET_SOURCES: dict[str, str] = {
    "udpos": "Universal Dependencies v2.5 POS, XTREME preprocessing "
    "(github.com/google-research/xtreme, task udpos)",
    "panx": "WikiANN / PAN-X NER, XTREME preprocessing "
    "(github.com/google-research/xtreme, task panx)",
    "sib200": "SIB-200 topic classification (github.com/dadelani/sib-200)",
    "tatoeba": "Tatoeba bitext retrieval (github.com/facebookresearch/LASER, data/tatoeba/v1)",
    "ntrex": "NTREX-128 news test set (github.com/MicrosoftTranslator/NTREX)",
    "wordalign": "word-alignment gold standards (github.com/neulab/awesome-align, examples/)",
    "bli": "bilingual lexicon induction dictionaries (github.com/codogogo/xling-eval)",
    "dict": "English-X Wiktionary dictionaries (github.com/CPJKU/wechsel, dicts/data)",
}

# Where this package lives; a constant so that tests can point it elsewhere.
_PACKAGE_DIR = Path(__file__).resolve().parent


class DatasetNotFoundError(XltError, FileNotFoundError):
    """The data folder, or a data set inside it, could not be found.

    The message lists every place that was looked at and, for a data set, where it comes
    from. Attributes: ``dataset`` (name or ``None``) and ``searched`` (the paths looked at).
    """

    def __init__(self, message: str, searched: list[Path], dataset: str | None = None) -> None:
        super().__init__(message)
        self.searched = list(searched)
        self.dataset = dataset


def _cache_dir() -> Path:
    """``$XDG_CACHE_HOME/xlt/data``, defaulting to ``~/.cache/xlt/data``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(base).expanduser() / "xlt" / "data").resolve()


def _walk_up(start: Path) -> list[Path]:
    """``start/shared/data`` for ``start`` and each of its parents."""
    start = start.resolve()
    return [d / "shared" / "data" for d in (start, *start.parents)]


def _looks_like_data_dir(path: Path) -> bool:
    """A folder holding at least one known data set."""
    return path.is_dir() and any((path / name).is_dir() for name in DATASET_SOURCES)


def _user_choice(explicit: str | Path | None) -> tuple[str, Path] | None:
    """The folder named by ``explicit`` or ``$XLT_DATA``, with how it was chosen."""
    if explicit is not None and str(explicit) != "":
        return "argument", Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env.strip():
        return f"${ENV_VAR}", Path(env.strip()).expanduser()
    return None


def candidate_data_dirs() -> list[tuple[str, Path]]:
    """The automatic search path (steps 3 and 4 of the module docstring), in order.

    Returns:
        ``[(how, path), ...]`` with duplicates removed, e.g.
        ``[('cwd', Path('/work/main/shared/data')), ('cwd', Path('/work/shared/data')), ...,
        ('cache', Path('~/.cache/xlt/data'))]``. Paths need not exist.
    """
    seen: set[Path] = set()
    out: list[tuple[str, Path]] = []
    for how, paths in (
        ("walking up from the working directory", _walk_up(Path.cwd())),
        ("walking up from the xlt package", _walk_up(_PACKAGE_DIR)),
        ("user cache", [_cache_dir()]),
    ):
        for p in paths:
            if p not in seen:
                seen.add(p)
                out.append((how, p))
    return out


def _format_searched(searched: list[tuple[str, Path]]) -> str:
    return "; ".join(f"{p} ({how})" for how, p in searched)


def resolve_data_dir(explicit: str | Path | None = None) -> Path:
    """Find the data folder.

    Args:
        explicit: a folder given by the caller; overrides everything else.

    Returns:
        The absolute path of the data folder (see the module docstring for the order).

    Raises:
        DatasetNotFoundError: ``explicit`` or ``$XLT_DATA`` names a folder that does not
            exist, or no automatic candidate holds a known data set. The message lists every
            path looked at.
    """
    chosen = _user_choice(explicit)
    if chosen is not None:
        how, path = chosen
        if path.is_dir():
            return path.resolve()
        raise DatasetNotFoundError(
            f"data folder {path} (from {how}) does not exist or is not a folder",
            [path],
        )
    searched = candidate_data_dirs()
    for _, path in searched:
        if _looks_like_data_dir(path):
            return path.resolve()
    raise DatasetNotFoundError(
        "no data folder found. Pass one explicitly or set "
        f"${ENV_VAR}; looked for a folder holding any of "
        f"{', '.join(sorted(DATASET_SOURCES))} in: {_format_searched(searched)}",
        [p for _, p in searched],
    )


def dataset_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """The folder of one data set.

    With ``data_dir`` (or ``$XLT_DATA``) only ``<that folder>/<name>`` is considered;
    otherwise the automatic search path is scanned in order and the first
    ``<candidate>/<name>`` folder wins.

    Args:
        name: data set folder name, e.g. ``'udpos'``, ``'panx'``, ``'sib200'``.
        data_dir: optional data folder overriding the search.

    Returns:
        The absolute path of the data set folder.

    Raises:
        DatasetNotFoundError: the folder does not exist anywhere looked at; the message lists
            those places and where the data set comes from.
    """
    chosen = _user_choice(data_dir)
    if chosen is not None:
        searched = [(chosen[0], chosen[1] / name)]
    else:
        searched = [(how, p / name) for how, p in candidate_data_dirs()]
    for _, path in searched:
        if path.is_dir():
            return path.resolve()
    source = DATASET_SOURCES.get(name, "unknown data set (no source on record)")
    raise DatasetNotFoundError(
        f"data set {name!r} not found in {_format_searched(searched)}; put it there or point "
        f"${ENV_VAR} / --data-dir at a folder holding '{name}/' (source: {source})",
        [p for _, p in searched],
        dataset=name,
    )


def data_set_folders(explicit: str | Path | None = None) -> list[Path]:
    """The data set folders (``udpos/``, ``ntrex/``, ...) of the data folder :func:`resolve_data_dir`
    finds; none where there is no data folder.

    These are what a run's output plan declares as the data folder's inputs: an output may sit in
    the data folder beside them, but may not replace or enter one (nor replace the data folder).
    """
    try:
        root = resolve_data_dir(explicit)
    except DatasetNotFoundError:
        return []
    return [root / name for name in DATASET_SOURCES if (root / name).is_dir()]
