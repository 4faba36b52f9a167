"""Errors a user can fix (bad data, unknown languages, missing data or models).

The CLI prints these as one ``xlt: error: ...`` line (exit code 2) instead of a traceback.
"""

from xlt.align.maps import AlignerError
from xlt.data.langs import UnknownLanguageError
from xlt.data.paths import DatasetNotFoundError
from xlt.data.readers import DataFormatError
from xlt.models.loading import ModelLoadError



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
)

__all__ = ["USER_ERRORS", "AlignerError", "DataFormatError", "UnknownLanguageError", "DatasetNotFoundError", "ModelLoadError", "UsageError"]
