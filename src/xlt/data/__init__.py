"""xlt.data: data sets as values, file formats, language codes, data-folder resolution.

The lowest layer: nothing here imports ``torch``, ``transformers`` or another xlt package.

* :mod:`xlt.data.dataset`: :class:`TaskDataset` (source train/dev, evaluation sets per
  language, labels, kind, metric) from :func:`load_task` (built-in), :func:`from_files` (a
  user's files) or :func:`from_examples`;
* :mod:`xlt.data.kinds`: the task kinds :data:`TOKEN`, :data:`SEQUENCE`, :data:`PAIR`;
* :mod:`xlt.data.formats`: the format registry (CoNLL-U, CoNLL columns, XTREME tsv, SIB-200,
  CSV/TSV/JSONL, ``datasets`` folders, ``hf:`` specs), :func:`read_examples`,
  :func:`detect_format`, :func:`language_from_filename`;
* :mod:`xlt.data.parallel`, :mod:`xlt.data.dictionaries`: parallel corpora (Tatoeba, NTREX, a
  user's files) and bilingual dictionaries;
* :mod:`xlt.data.segment`: word splitting of raw text in every script;
* :mod:`xlt.core.metrics`: accuracy, span F1 (seqeval), mean ± std (also :mod:`xlt.core.metrics`);

* :mod:`xlt.data.paths`: :func:`resolve_data_dir`, :func:`dataset_dir`;
* :mod:`xlt.data.langs`: :func:`iso639_3`, :func:`script_of`, :func:`language_name`,
  :func:`same_language`, :func:`match_language`;
* :mod:`xlt.data.readers`: :func:`read_xtreme_tsv`, :func:`read_conllu`, :func:`read_sib200`;
* :mod:`xlt.data.tasks`: :data:`TASKS`, :func:`available_languages`, :func:`source_files`,
  :func:`select_targets`, :func:`load_split`, :func:`label_list`.
"""

from xlt.data.dataset import DatasetError, Split, TaskDataset, from_examples, from_files, load_task
from xlt.data.formats import FORMATS, ReadOptions, read_examples
from xlt.data.kinds import PAIR, SEQUENCE, TOKEN, TaskKind
from xlt.data.langs import (
    AmbiguousLanguageError,
    UnknownLanguageError,
    describe_codes,
    iso639_3,
    language_name,
    match_language,
    names_for,
    same_language,
    script_of,
)
from xlt.data.paths import DATASET_SOURCES, DatasetNotFoundError, dataset_dir, resolve_data_dir
from xlt.data.readers import (
    DataFormatError,
    PairExample,
    ReadStats,
    TaggedSentence,
    TextExample,
    read_conllu,
    read_sib200,
    read_xtreme_tsv,
)
from xlt.data.tasks import (
    PANX_TAGS,
    TASKS,
    UPOS_TAGS,
    SourceFiles,
    TaskSpec,
    available_languages,
    get_task,
    label_list,
    load_split,
    match_task_language,
    select_targets,
    source_files,
)

__all__ = [
    "DatasetError",
    "FORMATS",
    "PAIR",
    "PairExample",
    "ReadOptions",
    "SEQUENCE",
    "Split",
    "TOKEN",
    "TaskDataset",
    "TaskKind",
    "from_examples",
    "from_files",
    "load_task",
    "read_examples",
    "AmbiguousLanguageError",
    "DATASET_SOURCES",
    "DataFormatError",
    "DatasetNotFoundError",
    "PANX_TAGS",
    "ReadStats",
    "SourceFiles",
    "TASKS",
    "TaggedSentence",
    "TaskSpec",
    "TextExample",
    "UPOS_TAGS",
    "UnknownLanguageError",
    "available_languages",
    "dataset_dir",
    "describe_codes",
    "get_task",
    "iso639_3",
    "label_list",
    "language_name",
    "load_split",
    "match_language",
    "match_task_language",
    "names_for",
    "read_conllu",
    "read_sib200",
    "read_xtreme_tsv",
    "resolve_data_dir",
    "same_language",
    "script_of",
    "select_targets",
    "source_files",
]
