"""Export any xlt encoder as a standard Hugging Face model folder."""

from __future__ import annotations

from pathlib import Path

from xlt.core.io import write_json
from xlt.core.outputs import Output, OutputPlan, staged_folder
from xlt.models.encoder import Encoder
from xlt.models.loading import load_encoder


def export_model(spec_or_encoder: str | Encoder, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``config.json``, ``model.safetensors`` and the tokenizer files to ``out_dir``.

    ``AutoModel.from_pretrained(out_dir)`` and ``AutoTokenizer.from_pretrained(out_dir)``
    then give the same hidden states and token ids as xlt's encoder, so other tools (e.g.
    SimAlign, sentence-transformers) can use the bundled model. An ``xlt_export.json`` records
    the source spec, fingerprint and text prefix.

    Args:
        spec_or_encoder: a model spec (see :func:`xlt.models.loading.load_encoder`) or an
            already loaded :class:`~xlt.models.loading.Encoder`.
        out_dir: destination folder (created). It is written beside and renamed into place, so an
            existing folder is replaced whole (no stale tokenizer files from an earlier export).
        overwrite: replace a non-empty ``out_dir``.

    Returns:
        the folder path.

    Raises:
        ModelLoadError: the spec cannot be loaded.
        FileExistsError: ``out_dir`` is not empty and ``overwrite`` is off (checked before loading).
        NotADirectoryError: ``out_dir`` is a file.
    """
    final = Path(out_dir)
    spec = spec_or_encoder if isinstance(spec_or_encoder, str) else None
    OutputPlan(inputs=[("the model", spec)], outputs=[Output("export folder", final)], overwrite=overwrite).check()
    enc = load_encoder(spec_or_encoder) if isinstance(spec_or_encoder, str) else spec_or_encoder
    with staged_folder(final) as out:
        write_export_folder(enc, out)
    return final


def write_export_folder(enc: Encoder, out: Path) -> None:
    """Write an encoder's ``config.json``, ``model.safetensors``, tokenizer files and
    ``xlt_export.json`` into the existing folder ``out`` (no checks; see :func:`export_model`)."""
    model = enc.model
    if not getattr(model.config, "architectures", None):
        model.config.architectures = [type(model).__name__]
    model.save_pretrained(out, safe_serialization=True)
    enc.tokenizer.save_pretrained(out)
    meta = {"source_spec": enc.spec, "fingerprint": enc.fingerprint, "text_prefix": enc.text_prefix,
            "info": enc.info}
    write_json(out / "xlt_export.json", meta)
