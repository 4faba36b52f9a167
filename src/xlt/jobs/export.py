"""``xlt export-model`` as a job: write an encoder as a standard Hugging Face model folder.

The folder (``config.json``, ``model.safetensors``, the tokenizer files and ``xlt_export.json``) is
written by :func:`xlt.models.export.export_model`; ``AutoModel`` / ``AutoTokenizer.from_pretrained``
then give the same hidden states and token ids as xlt's encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xlt.jobs import ConfigError
from xlt.jobs.parts_aligncmds import same_field
from xlt.jobs.settings import RunSettings, Settings
from xlt.models import export

__all__ = ["ExportResult", "ExportSettings", "run"]


@dataclass(kw_only=True)
class ExportSettings(Settings):
    """Settings of ``xlt export-model SPEC DIR``.

    Attributes:
        model: the model spec to export (``bundled:e5-small``, a Hugging Face id or a local folder);
            the command line's ``SPEC``.
        out: the output folder (new or empty); the command line's ``DIR``.
        overwrite: replace a non-empty ``out`` (as a whole; never the model itself).

    Raises:
        ConfigError: no ``model`` or no ``out``.
    """

    model: str | None = same_field(RunSettings, "model", default=None, cli=False,
                                   help="model spec, e.g. bundled:e5-small")
    out: Path | None = same_field(RunSettings, "out", cli=False,
                                  help="output folder (must be empty or new; see --overwrite)")
    overwrite: bool = same_field(RunSettings, "overwrite", help="replace a non-empty output folder (whole)")

    def __post_init__(self) -> None:
        super().__post_init__()
        missing = [name for name, value in (("spec", self.model), ("dir", self.out)) if value is None]
        if missing:
            raise ConfigError(f"the following arguments are required: {', '.join(missing)}")


@dataclass
class ExportResult:
    """What :func:`run` wrote.

    Attributes:
        model: the exported model spec.
        out: the model folder.
    """

    model: str
    out: Path


def run(settings: ExportSettings, command: list[str] | None = None) -> ExportResult:
    """Export ``settings.model`` into ``settings.out``.

    Args:
        settings: the run's settings.
        command: the command line (unused: the folder's ``xlt_export.json`` records the model, not the command).

    Returns:
        the :class:`ExportResult`.

    Raises:
        ModelLoadError: the spec cannot be loaded; FileExistsError: ``out`` is not empty and
        ``overwrite`` is off; OutputError: ``out`` is, holds or lies inside the model folder;
        NotADirectoryError: ``out`` is a file (all but the first checked before the model loads).
    """
    out = export.export_model(settings.model, settings.out, overwrite=settings.overwrite)
    return ExportResult(model=settings.model, out=Path(out))
