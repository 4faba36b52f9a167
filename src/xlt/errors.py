"""Errors a user can fix (bad data, unknown languages, missing data or models).

The CLI prints these as one ``xlt: error: ...`` line (exit code 2) instead of a traceback.
"""

from xlt.adapt.peft import PeftError
from xlt.adapt.translit import TransliterationError
from xlt.adapt.vocab import VocabularyError
from xlt.align.maps import AlignerError
from xlt.data.dataset import DatasetError
from xlt.data.formats import FileLanguageError
from xlt.data.outputs import OutputError
from xlt.data.langs import UnknownLanguageError
from xlt.data.paths import DatasetNotFoundError
from xlt.data.readers import DataFormatError
from xlt.jobs import ConfigError
from xlt.models.loading import ModelLoadError
from xlt.transfer.checkpoint import CheckpointError
from xlt.transfer.ranking import RankingError



class UsageError(ValueError):
    """A command line that names an impossible combination of inputs or options."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    DataFormatError,
    UnknownLanguageError,
    DatasetNotFoundError,
    ModelLoadError,
    UsageError,
    AlignerError,  # a map that does not fit the model, layers or languages; no supervision
    FileNotFoundError,  # an input path that does not exist (the message names it)
    FileExistsError,  # an output that exists and may only be replaced with --overwrite
    NotADirectoryError,  # a file where an output folder is expected
    IsADirectoryError,  # a folder where an input or output file is expected (the message names it)
    PermissionError,  # an input that cannot be read or an output that cannot be written (names the path)
    OutputError,  # an output that is one of the inputs, or in a folder that cannot be written
    ConfigError,  # a setting that cannot work (--k 0, --train-limit -5), found before any work
    FileLanguageError,  # an --eval file whose name does not say its language
    DatasetError,  # a data set that cannot be used as given (no examples, bad --label-map, ...)
    CheckpointError,  # a fine-tuning checkpoint of other settings, or in the way without --resume
    RankingError,  # a source ranking that cannot be made: languages missing from URIEL, one source
    VocabularyError,  # a vocabulary that cannot be trimmed as asked: too little text, a BPE tokenizer
    PeftError,  # a parameter-efficient method that does not fit the model
    TransliterationError,  # uroman missing, or no non-Latin-script text to transliterate
)

__all__ = ["USER_ERRORS", "AlignerError", "CheckpointError", "ConfigError", "DataFormatError", "UnknownLanguageError", "DatasetNotFoundError", "ModelLoadError", "OutputError", "UsageError"]
