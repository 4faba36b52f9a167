"""Settings parts and helpers shared by ``xlt align``, ``wordalign``, ``mine``, ``adapt`` and ``export-model``.

* :func:`same_field`: a settings field declared like one of a shared part (same default, help and
  constraint), with a few metadata changes, so that a part that leaves out some of
  :class:`~xlt.jobs.settings.RunSettings`' fields does not repeat the others;
* :class:`FileRunSettings`: :class:`~xlt.jobs.settings.RunSettings` without the data folder, for the
  runs that read only the user's own files (``xlt wordalign``, ``xlt mine SRC TGT``);
* :func:`report_config`: the settings as the reports and manifests have always echoed them (key order,
  paths as strings, comma lists as one string), so that typed settings write the same reports;
* :func:`help_of`: a field's help text, for the positional argument that fills it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from xlt.jobs.settings import RunSettings, Settings, check_inference_backend, encoder_options

__all__ = ["FileRunSettings", "help_of", "report_config", "same_field"]


def same_field(part: type, name: str, *, default: Any = dataclasses.MISSING,
               default_factory: Any = dataclasses.MISSING, **changes: Any) -> Any:
    """A field declared as ``name`` of the settings class ``part`` (default, help, constraint, flag),
    with another ``default`` / ``default_factory`` if given and ``changes`` to its
    :func:`~xlt.jobs.settings.option` metadata (``help=``, ``cli=``, ``check=``, ...).

    Raises:
        KeyError: ``part`` has no field ``name``.
    """
    f = {g.name: g for g in dataclasses.fields(part)}[name]
    if default is dataclasses.MISSING and default_factory is dataclasses.MISSING:
        default, default_factory = f.default, f.default_factory
    return dataclasses.field(default=default, default_factory=default_factory, metadata={**f.metadata, **changes})


def help_of(cls: type, name: str) -> str:
    """The help text of field ``name`` of the settings class ``cls`` (for a command's hand-added
    positional argument that fills it, so the text is declared once, beside the field)."""
    return {f.name: f for f in dataclasses.fields(cls)}[name].metadata["help"]


@dataclass(kw_only=True)
class FileRunSettings(Settings):
    """Model, output and run options.

    Those of :class:`~xlt.jobs.settings.RunSettings` but ``data_dir``: for a run on the user's own
    files only.

    Attributes:
        model: the encoder (``bundled:e5-small``, a Hugging Face id or a local folder).
        backend, int8: how the encoder runs (as :class:`~xlt.jobs.settings.RunSettings`).
        out: the output (a file or folder, as the command says).
        overwrite: replace an existing output (never an input).
        progress: show progress bars.
    """

    model: str = same_field(RunSettings, "model")
    backend: Literal["torch", "onnx"] = same_field(RunSettings, "backend")
    int8: bool = same_field(RunSettings, "int8")
    out: Path | None = same_field(RunSettings, "out")
    overwrite: bool = same_field(RunSettings, "overwrite")
    progress: bool = same_field(RunSettings, "progress")

    updates_encoder = False  # as RunSettings.updates_encoder

    def __post_init__(self) -> None:
        super().__post_init__()
        check_inference_backend(self)

    def encoder_options(self) -> dict[str, Any]:
        """The ``backend`` and ``int8`` keyword arguments of :func:`xlt.models.loading.load_encoder`."""
        return encoder_options(self)


def _plain(value: Any, joined: bool) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return [f"{k}={_plain(v, False)}" for k, v in value.items()]  # LANG=FILE, as typed
    if isinstance(value, list):
        items = [_plain(v, False) for v in value]
        return ",".join(map(str, items)) if joined else items
    return value


def report_config(settings: Settings, keys: Sequence[str], joined: Iterable[str] = ()) -> dict[str, Any]:
    """The settings as a report's ``config`` (and its manifest) holds them: the fields ``keys``, in that
    order, paths as strings, ``LANG=FILE`` mappings as the list of ``LANG=FILE`` strings, and the list
    fields named in ``joined`` as one comma-separated string (``["de", "fr"]`` -> ``"de,fr"``).

    The reports written before settings were typed hold these values, so a run writes the same report.
    """
    joined = set(joined)
    return {k: _plain(getattr(settings, k), k in joined) for k in keys}

