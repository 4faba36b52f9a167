"""xlt.data: data folder resolution, language codes, file readers and the task registry.

Nothing here imports ``torch`` or ``transformers``.

* :mod:`xlt.data.paths`: :func:`resolve_data_dir`, :func:`dataset_dir`;
* :mod:`xlt.data.langs`: :func:`iso639_3`, :func:`script_of`, :func:`language_name`,
  :func:`same_language`, :func:`match_language`;
* :mod:`xlt.data.readers`: :func:`read_xtreme_tsv`, :func:`read_conllu`, :func:`read_sib200`;
* :mod:`xlt.data.tasks`: :data:`TASKS`, :func:`available_languages`, :func:`source_files`,
  :func:`select_targets`, :func:`load_split`, :func:`label_list`.
"""

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
