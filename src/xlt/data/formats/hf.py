"""Hugging Face ``datasets`` data: folders written by ``save_to_disk`` (:func:`read_hf_disk`) and
``hf:NAME[:CONFIG][@SPLIT]`` specs loaded from the local cache (:func:`read_hf_hub`), read as
tables (:mod:`xlt.data.formats.tables`); ``ClassLabel`` ids become their names.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from xlt.data.formats.options import ReadOptions
from xlt.data.formats.tables import resolve_columns, table_examples
from xlt.data.readers import ReadStats, check_limit

__all__ = ["DATASETS_FOLDER_FILES", "HF_PREFIX", "is_datasets_folder", "parse_hf_spec", "read_hf_disk", "read_hf_hub"]

#: Files of a folder written by ``datasets`` ``save_to_disk``.
DATASETS_FOLDER_FILES: tuple[str, ...] = ("dataset_info.json", "state.json", "dataset_dict.json")

HF_PREFIX = "hf:"


# --------------------------------------------------------------------------- Hugging Face datasets
def _class_names(feature: Any) -> list[str] | None:
    """The names of a ``ClassLabel`` feature, or of the ``ClassLabel`` inside a sequence."""
    names = getattr(feature, "names", None)
    if isinstance(names, list) and hasattr(feature, "str2int"):
        return list(names)
    inner = getattr(feature, "feature", None)
    if inner is not None and inner is not feature:
        return _class_names(inner)
    return None


def _pick_split(obj: Any, split: str | None, where: str) -> Any:
    """The ``Dataset`` of a ``Dataset``/``DatasetDict`` for ``split``."""
    import datasets  # lazy: heavy import

    if isinstance(obj, datasets.DatasetDict):
        splits = list(obj)
        if split is None:
            raise ValueError(
                f"{where} holds a DatasetDict with splits {', '.join(splits)}; choose one "
                f"(ReadOptions.split, --split, or '{where}@SPLIT')"
            )
        if split not in obj:
            raise ValueError(f"{where} has no split {split!r}; its splits are: {', '.join(splits)}")
        return obj[split]
    if isinstance(obj, datasets.Dataset):
        if split is not None and obj.split is not None and str(obj.split) != split:
            raise ValueError(f"{where} holds a single Dataset of split {obj.split}, not {split!r}")
        return obj
    raise ValueError(f"{where}: expected a datasets Dataset or DatasetDict, got {type(obj).__name__}")


def _dataset_examples(
    ds: Any, path: Path, options: ReadOptions, limit: int | None
) -> tuple[list, ReadStats]:
    """Examples of a ``datasets.Dataset`` through the table code."""
    stats = ReadStats(path=path)
    label_names = {}
    for name, feature in ds.features.items():
        names = _class_names(feature)
        if names is not None:
            label_names[name] = names
    first = ds[0] if len(ds) else None
    cols = resolve_columns(path, 1, list(ds.column_names), first, options)
    keep = list(dict.fromkeys((*cols.text, cols.label, *((cols.id,) if cols.id else ()))))
    ds = ds.select_columns(keep)
    fixed = ReadOptions(text_column=cols.text, label_column=cols.label, id_column=cols.id)

    def records() -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        for i, row in enumerate(ds, 1):
            stats.n_lines = i
            yield i, str(i), row

    return table_examples(path, keep, records(), fixed, limit, stats, label_names=label_names)


def read_hf_disk(
    path: str | Path, options: ReadOptions | None = None, limit: int | None = None
) -> tuple[list, ReadStats]:
    """Read a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``.

    Args:
        path: the folder (a ``FOLDER@split`` suffix is handled by :func:`read_examples`).
        options: ``split`` chooses the split of a DatasetDict; columns as for tables.
        limit: keep the first ``limit`` examples.

    Returns:
        ``(examples, stats)`` as for :func:`read_jsonl`; ``ClassLabel`` ids (also in tag
        lists) become their names; the fallback id is the 1-based row number.

    Raises:
        FileNotFoundError: no such folder.
        ValueError: not a datasets folder, a DatasetDict without a (known) split - listing the
            splits.
        DataFormatError: unknown columns, empty labels, ... (line = row number).
    """
    options = options or ReadOptions()
    check_limit(limit)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(path))
    if not is_datasets_folder(path):
        raise ValueError(
            f"{path} is not a folder written by datasets' save_to_disk (none of "
            f"{', '.join(DATASETS_FOLDER_FILES)} in it)"
        )
    import datasets  # lazy: heavy import

    obj = datasets.load_from_disk(str(path))
    ds = _pick_split(obj, options.split, str(path))
    return _dataset_examples(ds, path, options, limit)


def parse_hf_spec(spec: str) -> tuple[str, str | None, str | None]:
    """Split ``hf:NAME[:CONFIG][@SPLIT]`` into ``(name, config, split)``.

    Examples: ``'hf:xnli:de@test'`` -> ``('xnli', 'de', 'test')``;
    ``'hf:org/data'`` -> ``('org/data', None, None)``.

    Raises:
        ValueError: no ``hf:`` prefix or an empty name, config or split.
    """
    if not spec.startswith(HF_PREFIX):
        raise ValueError(f"{spec!r} is not a Hugging Face spec 'hf:NAME[:CONFIG][@SPLIT]'")
    rest = spec[len(HF_PREFIX):]
    split = None
    if "@" in rest:
        rest, split = rest.rsplit("@", 1)
        if not split:
            raise ValueError(f"{spec!r}: empty split after '@'")
    config = None
    if ":" in rest:
        rest, config = rest.rsplit(":", 1)
        if not config:
            raise ValueError(f"{spec!r}: empty config after ':'")
    if not rest:
        raise ValueError(f"{spec!r}: no data set name; expected 'hf:NAME[:CONFIG][@SPLIT]'")
    return rest, config, split


def read_hf_hub(
    path: str | Path, options: ReadOptions | None = None, limit: int | None = None
) -> tuple[list, ReadStats]:
    """Load ``hf:NAME[:CONFIG][@SPLIT]`` with ``datasets.load_dataset`` and read it as a table.

    xlt runs offline: the data set must be in the local Hugging Face cache (or ``NAME`` a local
    folder ``load_dataset`` understands). The split is the ``@SPLIT`` of the spec or
    ``options.split``.

    Returns:
        As :func:`read_hf_disk`.

    Raises:
        ValueError: a malformed spec, a data set that could not be loaded (offline), a split
            missing or unknown (listing the splits).
        DataFormatError: unknown columns, empty labels, ... (line = row number).
    """
    options = options or ReadOptions()
    check_limit(limit)
    spec = str(path)
    name, config, split = parse_hf_spec(spec)
    if split is not None and options.split is not None and split != options.split:
        raise ValueError(f"{spec!r} names split {split!r} but the options ask for {options.split!r}")
    split = split or options.split
    import datasets  # lazy: heavy import

    try:
        obj = datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # the datasets library raises many kinds; all mean "not loadable"
        raise ValueError(
            f"could not load the Hugging Face data set {spec!r} (name {name!r}, config {config!r}, "
            f"split {split!r}); xlt works offline, so it must be in the local Hugging Face cache or "
            f"a local folder - save it with save_to_disk and pass the folder instead: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    ds = _pick_split(obj, split, spec)
    return _dataset_examples(ds, Path(spec), options, limit)


# --------------------------------------------------------------------------- detection
def is_datasets_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``datasets`` ``save_to_disk``."""
    path = Path(path)
    return path.is_dir() and any((path / f).is_file() for f in DATASETS_FOLDER_FILES)
