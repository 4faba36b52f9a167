"""Task models that outlive the run: predict, score, ``save_pretrained``/``from_pretrained``.

They are trained by :mod:`xlt.transfer.training` (:func:`~xlt.transfer.training.fit_task_model`
for one model in one call), which imports this module and not the other way round.

Two kinds of task model, one interface (:class:`TaskModel`):

* :class:`ProbeModel`: a frozen encoder (named by its model spec), the layer setting, a small
  head (linear or MLP, with a scalar mix over layers) and optionally a cross-lingual aligner.
  Saved as ``xlt_task.json`` + ``head.safetensors`` (+ ``aligner.npz``); no pickle.
* :class:`FinetunedModel`: a fine-tuned Hugging Face ``AutoModelForTokenClassification`` or
  sequence classifier with ``id2label``, saved as a standard Hugging Face folder (config,
  safetensors weights, tokenizer) plus ``xlt_task.json``. ``transformers.pipeline`` loads it
  (mean-pooling sequence heads need ``trust_remote_code=True``: the folder carries their
  10-line model file; see :mod:`xlt.models.modeling_xlt`).

Inputs of :meth:`TaskModel.predict` by kind: token tasks take word lists or raw strings (split
into words with :func:`xlt.data.segment.split_words` for the given language); sequence tasks take
strings; pair tasks take ``(text, text_pair)`` tuples. Examples from a reader
(``TaggedSentence``, ``TextExample``, ``PairExample``) are accepted too.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

from xlt.adapt.peft import PeftError, adapter_sizes, insert_adapters
from xlt.align.maps import AlignerError, CrossLingualAligner
from xlt.core.arrays import nonfinite
from xlt.core.io import write_json
from xlt.core.metrics import score
from xlt.core.outputs import check_output_folder, staged_folder
from xlt.data.kinds import PAIR, TOKEN, TaskKind, get_kind
from xlt.data.readers import PairExample, TaggedSentence, TextExample
from xlt.data.segment import split_words
from xlt.models.features import resolve_layers
from xlt.models.loading import Encoder, ModelLoadError, load_encoder
from xlt.models.modeling_xlt import XltMeanPoolingForSequenceClassification
from xlt.models.words import DEFAULT_WORD_PIECES, XTREME_WORD_PIECES, check_word_pieces
from xlt.transfer.decoding import DEFAULT_DECODING, check_decoding, decode_word_labels
from xlt.transfer.finetune import encode_examples
from xlt.transfer.finetune import predict_logits as finetuned_logits
from xlt.transfer.heads import ProbeHead
from xlt.transfer.probe import predict_logits as probe_logits
from xlt.transfer.probe import sentence_feature_tensor, stack_token_features

MODEL_FILE = "xlt_task.json"
FORMAT_NAME = "xlt-task-model"
FORMAT_VERSION = 1
FEATURE_CHUNK = 2000  # sentences per feature-extraction call in probe mode (bounds float32 memory)


class TaskModelError(ModelLoadError):
    """A saved task model that cannot be loaded or used (missing files, other encoder, bad input)."""


# --------------------------------------------------------------------------- inputs
def as_examples(kind: TaskKind, inputs: Sequence[Any], lang: str | None = None) -> tuple[list, int]:
    """Turn user inputs into examples of ``kind`` (labels are placeholders).

    Token tasks: a word list, or a string split with :func:`xlt.data.segment.split_words`
    (``lang`` picks the segmenter for scripts written without spaces). Sequence tasks: a string.
    Pair tasks: a ``(text, text_pair)`` tuple or a string holding a tab between the two.

    Returns:
        ``(examples, n_split)``: examples in input order and how many raw strings were split.

    Raises:
        TypeError/ValueError: an input of the wrong shape for the kind (the message gives its index).
    """
    out, n_split = [], 0
    for i, x in enumerate(inputs):
        if isinstance(x, kind.example_type):
            out.append(x)
        elif kind is TOKEN:
            if isinstance(x, str):
                words = split_words(x, lang)
                n_split += 1
            else:
                words = [str(w) for w in x]
            out.append(TaggedSentence(words, ["O"] * len(words)))
        elif kind is PAIR:
            if isinstance(x, str):
                if "\t" not in x:
                    raise ValueError(f"input {i}: a pair task needs two texts (a tuple or 'text<TAB>text_pair')")
                x = x.split("\t", 1)
            a, b = x
            out.append(PairExample(str(i), str(a).strip(), str(b).strip(), ""))
        else:
            if not isinstance(x, str):
                raise TypeError(f"input {i}: a {kind.name} task needs a string, got {type(x).__name__}")
            out.append(TextExample(str(i), x.strip(), ""))
    return out, n_split


@functools.lru_cache(maxsize=16)
def _bio_moves(labels: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """``(column of B-X, column of I-X)`` for every entity type with both (computed once per label set)."""
    index = {name: k for k, name in enumerate(labels)}
    return tuple((k, index["I-" + name[2:]]) for k, name in enumerate(labels)
                 if name.startswith("B-") and "I-" + name[2:] in index)


def continue_shared_pieces(proba: np.ndarray, firsts: Sequence[int], labels: Sequence[str]) -> np.ndarray:
    """BIO continuation for words that share their labelled piece with the word before them.

    With ``word_pieces='text'`` one subword piece can cover several words (``'東京'`` for the
    character words ``東``, ``京``): the later words read the same prediction as the first. A
    ``B-X`` there would open a new entity inside one piece, so the probability of ``B-X`` of a
    sharing word is moved to ``I-X`` (the word continues the entity its piece began). Labels that
    are not BIO are left as they are.

    Args:
        proba: ``(n_words, n_labels)`` per-word probabilities; changed in place and returned.
        firsts: per word, the position of its labelled piece (``-1``: none).
        labels: the label names, in column order.
    """
    moves = _bio_moves(tuple(labels))
    if not moves:
        return proba
    for w in range(1, len(firsts)):
        if firsts[w] >= 0 and firsts[w] == firsts[w - 1]:
            for b, i in moves:
                proba[w, i] += proba[w, b]
                proba[w, b] = 0.0
    return proba


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# ----------------------------------------------------------------------------- base
def decode_probas(kind: TaskKind, labels: Sequence[str], probas: list[np.ndarray],
                  decoding: str = DEFAULT_DECODING) -> list:
    """Label probabilities -> label names: per input a list of word labels (token tasks, from
    ``(n_words, n_labels)``, decoded as ``decoding`` says: :func:`xlt.transfer.decoding.decode_word_labels`)
    or the most probable label (from ``(n_labels,)``).

    Raises:
        ValueError: an unknown ``decoding``.
    """
    if kind is TOKEN:
        return decode_word_labels(probas, list(labels), decoding)
    return [labels[int(p.argmax())] for p in probas]


class TaskModel:
    """A trained task model: labels, kind, and the ways to apply, score and keep it.

    Attributes:
        kind: the task kind (token, sequence, pair).
        labels: label names; a label's index is its class id.
        metric: ``accuracy`` or ``f1``, used by :meth:`score`.
        meta: what the run recorded (task, source language, seed, dev score, ...), saved along.
        decoding: token tasks: how word probabilities become tags (:data:`xlt.transfer.decoding.DECODINGS`;
            ``bio``: Viterbi under the BIO constraints for BIO label sets, else argmax). Saved
            with the model; a folder saved before the setting existed loads with the default.
            It may be changed after loading (``xlt predict --decoding``).
        stats: after :meth:`predict_proba`, counts of that call: ``n_inputs``, ``n_truncated``
            (inputs longer than the model takes, cut at its length limit: fine-tuned models;
            probes encode long inputs in windows and cut none) and ``truncated`` (their
            indices in the call's input order).
    """

    mode = ""

    def __init__(self, kind: TaskKind | str, labels: Sequence[str], metric: str = "accuracy",
                 meta: dict | None = None, decoding: str = DEFAULT_DECODING):
        self.kind = get_kind(kind)
        self.labels = [str(l) for l in labels]
        self.metric = metric
        self.meta = dict(meta or {})
        self.decoding = check_decoding(decoding)
        self.stats: dict[str, Any] = {}

    # subclasses implement _proba(examples, lang, progress) -> list of (n_words, L) or (L,) arrays
    def _proba(self, examples: list, lang: str | None, progress: bool) -> list[np.ndarray]:
        raise NotImplementedError

    def predict_proba(self, inputs: Sequence[Any], lang: str | None = None, *, progress: bool = False
                      ) -> list[np.ndarray]:
        """Label probabilities: per input ``(n_words, n_labels)`` (token tasks) or ``(n_labels,)``.

        Args:
            inputs: see the module docstring; ``lang``: language of the inputs (segmenter choice,
                and the aligner's map for probe models with one).

        Afterwards :attr:`stats` says which inputs were cut at the model's length limit.
        """
        examples, _ = as_examples(self.kind, inputs, lang)
        self.stats = {"n_inputs": len(examples), "n_truncated": 0, "truncated": []}
        return self._proba(examples, lang, progress) if examples else []

    def predict(self, inputs: Sequence[Any], lang: str | None = None, *, progress: bool = False) -> list:
        """Predicted labels: a list of word labels per input (token tasks) or one label per input."""
        return self.decode(self.predict_proba(inputs, lang, progress=progress))

    def decode(self, probas: list[np.ndarray]) -> list:
        """Probabilities (as :meth:`predict_proba` returns them) -> label names."""
        return decode_probas(self.kind, self.labels, probas, self.decoding)

    def score(self, examples: Sequence[Any], lang: str | None = None) -> float:
        """The task metric (percent) of this model on labelled examples."""
        return score(self.metric, self.kind.gold(examples), self.predict(list(examples), lang))

    # -------------------------------------------------------------- saving
    def _meta_json(self) -> dict:
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "mode": self.mode, "kind": self.kind.name,
                "labels": self.labels, "metric": self.metric, "meta": self.meta, "decoding": self.decoding}

    def _write(self, folder: Path) -> None:
        raise NotImplementedError

    def save_pretrained(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the model to the folder ``path``, atomically (a complete old or new folder, never a mix).

        Raises:
            FileExistsError: ``path`` exists and is not empty, and ``overwrite`` is False.
            NotADirectoryError: ``path`` is a file.
            OutputError: the folder above ``path`` cannot be written.
        """
        out = check_output_folder(path, overwrite=overwrite, option="model folder")
        with staged_folder(out) as tmp:  # the folder appears whole, replacing an old one whole
            self._write(tmp)
            write_json(tmp / MODEL_FILE, self._meta_json())
        return out

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str = "cpu") -> TaskModel:
        """Load a folder written by :meth:`save_pretrained` (probe or fine-tuned).

        Args:
            device: ``cpu``, ``cuda``, ... or ``auto`` (CUDA when available).

        Raises:
            TaskModelError: no ``xlt_task.json`` or one that is not valid JSON, an unknown format
                or version, missing files, damaged weights (a truncated or corrupted
                ``head.safetensors`` / model file, tensors of the wrong shape or dtype, NaN/inf
                values; see :func:`read_probe_head`), a probe's ``aligner.npz`` that
                :meth:`~xlt.align.maps.CrossLingualAligner.load` refuses, or (probe) an encoder
                whose weights differ from the ones the head was trained on. Messages name the file.
            ModelLoadError: (probe) the encoder the head was trained on cannot be loaded.
        """
        folder = Path(path)
        meta = read_meta(folder)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        impl = {"probe": ProbeModel, "finetune": FinetunedModel}.get(meta.get("mode"))
        if impl is None:
            raise TaskModelError(f"{folder / MODEL_FILE}: unknown mode {meta.get('mode')!r}")
        return impl._load(folder, meta, device)


def read_meta(folder: Path) -> dict:
    """The ``xlt_task.json`` of a saved task model, checked.

    Raises:
        TaskModelError: missing or unreadable file, not valid JSON (truncated or corrupted), not
            an xlt task model of a known version, or labels / kind / encoder / head entries
            missing or of the wrong type. The message names the file.
    """
    f = Path(folder) / MODEL_FILE
    if not Path(folder).is_dir():
        raise TaskModelError(f"{folder} is not a folder (expected a task model saved by 'xlt transfer --save')")
    if not f.is_file():
        raise TaskModelError(f"{folder} holds no {MODEL_FILE}: not a task model saved by xlt "
                             "(an encoder folder goes to --model of 'xlt transfer', not of 'xlt predict')")
    try:
        text = f.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskModelError(f"{f}: unreadable ({exc})") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskModelError(f"{f}: not valid JSON (truncated or corrupted?): {exc.msg} at line {exc.lineno} "
                             f"column {exc.colno}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
        raise TaskModelError(f"{f}: not an {FORMAT_NAME} v{FORMAT_VERSION} file")
    labels = meta.get("labels")
    if (not isinstance(labels, list) or not labels or not all(isinstance(l, str) for l in labels)
            or meta.get("kind") not in ("token", "sequence", "pair")):
        raise TaskModelError(f"{f}: missing labels (a list of names) or kind")
    for key in ("encoder", "head", "meta"):
        if not isinstance(meta.get(key) or {}, dict):
            raise TaskModelError(f"{f}: {key!r} is not a table")
    return meta


# ---------------------------------------------------------------------------- probe
def probe_layers(layer: str | int) -> str | int:
    """The ``layers`` argument of :meth:`xlt.models.encoder.Encoder.encode_words` for a probe's ``layer``
    setting: ``'mix'`` → ``'all'`` (every hidden state, for a learned scalar mix), ``'last'`` as is,
    else the layer number."""
    return "all" if layer == "mix" else ("last" if layer == "last" else int(layer))


def tag_features(encoder: Encoder, sentences: list[list[str]], layers: str | int = "all", *,
                 progress: bool = True, cache=None, word_pieces: str = DEFAULT_WORD_PIECES) -> tuple[torch.Tensor, int]:
    """Probe input for pre-tokenised sentences: one float16 row per word (the vector of the
    subword piece(s) ``word_pieces`` gives the word: :mod:`xlt.models.words`).

    Extracts in chunks of :data:`FEATURE_CHUNK` sentences and keeps only the float16 stack (a
    13-layer float32 copy of a 20k-sentence training set would need ~7 GB on top).

    Args:
        encoder: the model (see :func:`xlt.models.loading.load_encoder`).
        sentences: word lists; rows come out in order, sentence after sentence.
        layers: as :func:`probe_layers` returns (``'all'`` gives ``(n_words, n_layers, dim)``).
        progress: tqdm bars.
        cache: a :class:`~xlt.models.cache.FeatureCache` (or None).
        word_pieces: a setting of :data:`xlt.models.words.WORD_PIECES`.

    Returns:
        ``(X, truncated)``: ``(sum of sentence lengths, [n_layers,] dim)`` float16 and the number
        of sentences that were truncated.

    Raises:
        ValueError: no sentences.
    """
    if not sentences:
        raise ValueError("no sentences to extract features from")
    parts, truncated = [], 0
    for start in range(0, len(sentences), FEATURE_CHUNK):
        wf = encoder.encode_words(sentences[start:start + FEATURE_CHUNK], layers=layers,
                          word_pieces=word_pieces, progress=progress, cache=cache)
        parts.append(stack_token_features(list(wf.vectors)))
        truncated += int(wf.stats.get("n_truncated", 0))
        del wf
    X = torch.cat(parts) if len(parts) > 1 else parts[0]
    return X, truncated


def text_features(encoder: Encoder, kind: TaskKind, examples: Sequence, layers: str | int = "all", *,
                  progress: bool = True, cache=None) -> torch.Tensor:
    """Probe input for sequence and pair examples (mean-pooled sentence vectors, float16).

    Sequence: ``(n, [n_layers,] dim)``. Pair: the two texts are encoded separately and joined
    as ``[u, v, |u - v|, u * v]`` (Conneau et al. 2017, InferSent; the SentEval protocol for
    frozen encoders): ``(n, [n_layers,] 4 * dim)``.
    """
    def enc(texts: list[str]) -> np.ndarray:
        return encoder.encode_sentences(texts, layers=layers, pooling="mean", progress=progress, cache=cache)

    if kind is PAIR:
        u = enc([e.text for e in examples])
        v = enc([e.text_pair for e in examples])
        return sentence_feature_tensor(np.concatenate([u, v, np.abs(u - v), u * v], axis=-1))
    return sentence_feature_tensor(enc([e.text for e in examples]))


class ProbeModel(TaskModel):
    """A head on frozen encoder features (see :mod:`xlt.transfer.probe`).

    Args:
        encoder: the frozen encoder.
        head: a trained :class:`~xlt.transfer.heads.ProbeHead`.
        kind, labels, metric, meta, decoding: as :class:`TaskModel`.
        layer: ``mix`` (scalar mix of every hidden state), ``last`` or a layer number.
        aligner: an optional :class:`~xlt.align.maps.CrossLingualAligner` applied to every
            language's features (then ``lang`` must be given to :meth:`predict`).
        aligner_path: the aligner's file (copied into saved folders).
        word_pieces: which subword pieces give a word its vector (token tasks;
            :data:`xlt.models.words.WORD_PIECES`). Saved with the model; a folder saved before
            the setting existed loads as ``xtreme``, the mapping it was trained with.
    """

    mode = "probe"

    def __init__(self, encoder: Encoder, head, kind: TaskKind | str, labels: Sequence[str], *,
                 layer: str | int = "mix", metric: str = "accuracy", aligner=None,
                 aligner_path: str | None = None, meta: dict | None = None, cache=None,
                 word_pieces: str = DEFAULT_WORD_PIECES, decoding: str = DEFAULT_DECODING):
        super().__init__(kind, labels, metric, meta, decoding)
        self.encoder, self.head, self.layer = encoder, head, str(layer)
        self.aligner, self.aligner_path, self.cache = aligner, aligner_path, cache
        self.word_pieces = check_word_pieces(word_pieces)

    @property
    def layer_ids(self) -> list[int]:
        """The hidden-state indices the head reads."""
        return resolve_layers(probe_layers(self.layer), self.encoder.num_layers)[0]

    def features(self, examples: Sequence, lang: str | None = None, *, progress: bool = False
                 ) -> tuple[torch.Tensor, int]:
        """Head input for examples of this model's kind (mapped by the aligner if there is one).

        Returns:
            ``(X, truncated)``: ``(n_rows, [n_layers,] dim)`` float16, one row per word (token
            tasks) or per example; ``truncated`` = inputs cut to the model's length.

        Raises:
            TaskModelError: an aligner but no ``lang``.
        """
        layers = probe_layers(self.layer)
        if self.kind is TOKEN:
            X, truncated = tag_features(self.encoder, [list(e.tokens) for e in examples], layers,
                                        progress=progress, cache=self.cache, word_pieces=self.word_pieces)
        else:
            X, truncated = text_features(self.encoder, self.kind, examples, layers, progress=progress,
                                         cache=self.cache), 0
        if self.aligner is not None:
            if lang is None:
                raise TaskModelError("this probe maps features with a cross-lingual aligner: give the input language")
            X = self.aligner.transform_features(X, lang, self.layer_ids)
        return X, truncated

    def proba_from_features(self, X: torch.Tensor, examples: Sequence) -> list[np.ndarray]:
        """Split the head's probabilities for ``X`` back per example."""

        P = _softmax(probe_logits(self.head, X))
        if self.kind is not TOKEN:
            return list(P)
        out, k = [], 0
        for e in examples:
            out.append(P[k:k + len(e.tokens)])
            k += len(e.tokens)
        return out

    def _proba(self, examples: list, lang: str | None, progress: bool) -> list[np.ndarray]:
        nonempty = [e for e in examples if self.kind is not TOKEN or len(e.tokens)]
        if not nonempty:
            return [np.zeros((0, len(self.labels)), dtype=np.float32) for _ in examples]
        X, _ = self.features(nonempty, lang, progress=progress)
        probs = iter(self.proba_from_features(X, nonempty))
        empty = np.zeros((0, len(self.labels)), dtype=np.float32)
        return [next(probs) if (self.kind is not TOKEN or len(e.tokens)) else empty for e in examples]

    def _meta_json(self) -> dict:
        h = self.head
        return dict(super()._meta_json(), encoder={"spec": self.encoder.spec, "fingerprint": self.encoder.fingerprint,
                                                   "layers": self.encoder.num_layers,
                                                   "hidden_size": self.encoder.hidden_size},
                    layer=self.layer, head={"dim": h.dim, "n_labels": h.n_labels, "hidden": h.hidden,
                                            "n_layers": h.n_layers, "dropout": h.dropout},
                    aligner="aligner.npz" if self.aligner_path else None, word_pieces=self.word_pieces)

    def _write(self, folder: Path) -> None:
        save_file({k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
                  str(folder / "head.safetensors"))
        if self.aligner_path:
            shutil.copyfile(self.aligner_path, folder / "aligner.npz")

    @classmethod
    def _load(cls, folder: Path, meta: dict, device: str) -> ProbeModel:
        # the head and the aligner are read and checked before the (slow) encoder is loaded
        enc_meta = meta.get("encoder") or {}
        head = read_probe_head(folder, meta)
        aligner, aligner_path = None, None
        if meta.get("aligner"):
            aligner_path = str(folder / str(meta["aligner"]))
            try:
                aligner = CrossLingualAligner.load(aligner_path)
            except (AlignerError, OSError) as exc:
                raise TaskModelError(f"{folder}: the probe's aligner cannot be used: {exc}") from None
        encoder = load_encoder(enc_meta.get("spec", ""), device=device)
        if enc_meta.get("fingerprint") and encoder.fingerprint != enc_meta["fingerprint"]:
            raise TaskModelError(f"{folder}: the head was trained on encoder {enc_meta['spec']} with fingerprint "
                                 f"{enc_meta['fingerprint']}, but that spec now loads {encoder.fingerprint}")
        return cls(encoder, head, meta["kind"], meta["labels"], layer=meta.get("layer", "mix"),
                   metric=meta.get("metric", "accuracy"), aligner=aligner, aligner_path=aligner_path,
                   meta=meta.get("meta"), word_pieces=_saved_word_pieces(folder, meta),
                   decoding=_saved_decoding(folder, meta))


def read_probe_head(folder: str | os.PathLike, meta: dict):
    """The probe head saved in ``folder/head.safetensors``, checked against ``meta`` (the folder's
    ``xlt_task.json``, as :func:`read_meta` returns it).

    Returns:
        a :class:`~xlt.transfer.heads.ProbeHead` in eval mode.

    Raises:
        TaskModelError: a head description in ``xlt_task.json`` that is missing or impossible,
            ``head.safetensors`` missing or not a readable safetensors file (truncated or
            corrupted), a tensor missing, extra, of another dtype or shape than the head
            described, or holding NaN/inf values. The message names the file.
    """
    folder = Path(folder)
    f, h = folder / "head.safetensors", meta.get("head") or {}
    try:
        dims = (int(h["dim"]), int(h["n_labels"]), int(h["hidden"]), int(h["n_layers"]))
        dropout = float(h["dropout"])
        if min(dims[0], dims[1], dims[3]) < 1 or dims[2] < 0 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"impossible sizes {h}")
        head = ProbeHead(dims[0], dims[1], hidden=dims[2], n_layers=dims[3], dropout=dropout)
    except (KeyError, TypeError, ValueError) as exc:
        raise TaskModelError(f"{folder / MODEL_FILE}: no usable head description "
                             f"({type(exc).__name__}: {exc})") from None
    if dims[1] != len(meta["labels"]):
        raise TaskModelError(f"{folder}: the head has {dims[1]} outputs for {len(meta['labels'])} labels")
    if not f.is_file():
        raise TaskModelError(f"{folder} holds no head.safetensors (the probe's weights); the folder is incomplete")
    try:
        tensors = load_file(str(f))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise TaskModelError(f"{f}: not a readable safetensors file (truncated or corrupted: {exc})") from None
    want = head.state_dict()
    missing, extra = sorted(set(want) - set(tensors)), sorted(set(tensors) - set(want))
    if missing or extra:
        raise TaskModelError(f"{f}: does not hold the head {MODEL_FILE} describes"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; unexpected {', '.join(extra)}" if extra else ""))
    for name, t in tensors.items():
        if not t.is_floating_point():
            raise TaskModelError(f"{f}: tensor {name!r} has dtype {t.dtype}, expected floating-point numbers")
        if tuple(t.shape) != tuple(want[name].shape):
            raise TaskModelError(f"{f}: tensor {name!r} has shape {tuple(t.shape)}, the head {MODEL_FILE} "
                                 f"describes needs {tuple(want[name].shape)}")
        bad = nonfinite(t)
        if bad:
            raise TaskModelError(f"{f}: tensor {name!r} has {bad}")
    head.load_state_dict(tensors)
    head.eval()
    return head


# ------------------------------------------------------------------------- finetune
class FinetunedModel(TaskModel):
    """A fine-tuned Hugging Face task model and its tokenizer.

    Args:
        model: ``*ForTokenClassification`` (token tasks) or a sequence classifier (see
            :func:`xlt.transfer.finetune.build_classifier`).
        tokenizer: its fast tokenizer.
        text_prefix: text put before every input (``"query: "`` for E5 models).
        kind, labels, metric, meta, decoding: as :class:`TaskModel`.
        spec: the encoder spec it was fine-tuned from (for reports).
        word_pieces: token tasks: which subword piece carries a word's label
            (:func:`xlt.transfer.finetune.encode_token_examples`); saved with the model, and a
            folder saved before the setting existed loads as ``xtreme``.
    """

    mode = "finetune"

    def __init__(self, model, tokenizer, kind: TaskKind | str, labels: Sequence[str], *, text_prefix: str = "",
                 metric: str = "accuracy", spec: str = "", fingerprint: str = "", meta: dict | None = None,
                 batch_size: int = 64, word_pieces: str = DEFAULT_WORD_PIECES, decoding: str = DEFAULT_DECODING):
        super().__init__(kind, labels, metric, meta, decoding)
        self.model, self.tokenizer, self.text_prefix, self.spec = model, tokenizer, text_prefix, spec
        self.fingerprint, self.batch_size = fingerprint, batch_size
        self.word_pieces = check_word_pieces(word_pieces)

    @property
    def as_encoder(self) -> Encoder:
        """This model seen as an :class:`Encoder` (tokenizer, prefix, length limit)."""
        return Encoder(model=self.model, tokenizer=self.tokenizer, spec=self.spec, text_prefix=self.text_prefix,
                       fingerprint=self.fingerprint)

    def encode(self, examples: Sequence, label_ids: Sequence | None = None, max_length: int | None = None):
        """Tokenise examples of this model's kind (:class:`xlt.transfer.finetune.Encoded`)."""

        enc = self.as_encoder
        return encode_examples(enc, self.kind, examples, label_ids, max_length or enc.max_length,
                               word_pieces=self.word_pieces)

    def proba_from_encoded(self, data, *, progress: bool = False, desc: str = "predict") -> list[np.ndarray]:
        """Probabilities per example from tokenised input: first-subword rows for token tasks
        (``(n_words, n_labels)``; a word cut off by truncation gets a one-hot row on ``O`` if the
        labels have it, else on label 0), ``(n_labels,)`` otherwise."""

        logits = finetuned_logits(self.model, data, self.tokenizer.pad_token_id, batch_size=self.batch_size,
                                progress=progress, desc=desc)
        if self.kind is not TOKEN:
            return [_softmax(lg) for lg in logits]
        fallback = self.labels.index("O") if "O" in self.labels else 0
        out = []
        for lg, firsts in zip(logits, data.first_subword):
            p = np.zeros((len(firsts), len(self.labels)), dtype=np.float32)
            for w, pos in enumerate(firsts):
                if pos >= 0:
                    p[w] = _softmax(lg[pos])
                else:
                    p[w, fallback] = 1.0
            out.append(continue_shared_pieces(p, firsts, self.labels))
        return out

    def _proba(self, examples: list, lang: str | None, progress: bool) -> list[np.ndarray]:
        data = self.encode(examples)
        self.stats = {"n_inputs": len(examples), "n_truncated": data.n_truncated, "truncated": list(data.truncated)}
        return self.proba_from_encoded(data, progress=progress)

    def _meta_json(self) -> dict:
        out = dict(super()._meta_json(), encoder={"spec": self.spec, "fingerprint": self.fingerprint},
                   text_prefix=self.text_prefix, architecture=type(self.model).__name__,
                   word_pieces=self.word_pieces)
        sizes = adapter_sizes(self.model)
        if sizes:  # bottleneck adapters (xlt.adapt.peft): rebuilt around the weights when loaded
            out["adapters"] = sizes
        return out

    def _write(self, folder: Path) -> None:
        model = self.model
        if isinstance(model, XltMeanPoolingForSequenceClassification):
            shutil.copyfile(Path(__file__).resolve().parents[1] / "models" / "modeling_xlt.py",
                            folder / "modeling_xlt.py")
            model.config.auto_map = {"AutoModelForSequenceClassification":
                                     "modeling_xlt.XltMeanPoolingForSequenceClassification"}
        model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        # lets `xlt transfer --model FOLDER` reuse the fine-tuned encoder with the right prefix
        from xlt.adapt.peft import adapter_sizes

        export = {"source_spec": self.spec, "text_prefix": self.text_prefix, "fingerprint": self.fingerprint}
        sizes = adapter_sizes(model)
        if sizes:  # not a plain encoder: its loader refuses it rather than drop the adapters
            export["adapters"] = sizes
        write_json(folder / "xlt_export.json", export)

    @classmethod
    def _load(cls, folder: Path, meta: dict, device: str) -> FinetunedModel:
        try:
            config = AutoConfig.from_pretrained(str(folder))
            arch = (getattr(config, "architectures", None) or [""])[0]
            model_cls = _task_model_class(arch, meta["kind"])
            if meta.get("adapters"):
                model = _load_with_adapters(folder, model_cls, config, meta)
            else:
                model = model_cls.from_pretrained(str(folder), config=config)
            tokenizer = AutoTokenizer.from_pretrained(str(folder), use_fast=True)
        except (OSError, ValueError, SafetensorError) as exc:
            raise TaskModelError(f"{folder}: cannot load the fine-tuned model (a missing, truncated or corrupted "
                                 f"file: {exc})") from None
        bad = nonfinite_parameters(model)
        if bad:
            raise TaskModelError(f"{folder}: the fine-tuned weights are damaged: {bad}")
        if model.config.num_labels != len(meta["labels"]):
            raise TaskModelError(f"{folder}: config.json has {model.config.num_labels} labels, "
                                 f"{MODEL_FILE} {len(meta['labels'])}")
        model.to(device).eval()
        enc = meta.get("encoder") or {}
        return cls(model, tokenizer, meta["kind"], meta["labels"], text_prefix=meta.get("text_prefix", ""),
                   metric=meta.get("metric", "accuracy"), spec=enc.get("spec", ""),
                   fingerprint=enc.get("fingerprint", ""), meta=meta.get("meta"),
                   word_pieces=_saved_word_pieces(folder, meta), decoding=_saved_decoding(folder, meta))


def _task_model_class(arch: str, kind: str):
    """The class a saved fine-tuned model is rebuilt with: xlt's mean-pooling classifier when
    ``config.json`` names it, else the ``transformers`` auto class of the task kind."""
    if arch == "XltMeanPoolingForSequenceClassification":
        return XltMeanPoolingForSequenceClassification
    return AutoModelForTokenClassification if kind == "token" else AutoModelForSequenceClassification


def _load_with_adapters(folder: Path, cls, config, meta: dict) -> torch.nn.Module:
    """A fine-tuned model saved with bottleneck adapters (``meta["adapters"]``): ``cls`` built from
    ``config``, the adapters inserted (:func:`xlt.adapt.peft.insert_adapters`), then every weight of
    ``model.safetensors`` loaded, none missing and none left over.

    Raises:
        TaskModelError: a bad ``adapters`` entry, no ``model.safetensors``, or weights that do not fit.
    """
    sizes = meta["adapters"]
    if not isinstance(sizes, dict) or not all(isinstance(sizes.get(k), (int, type(None))) for k in ("bottleneck", "language")):
        raise TaskModelError(f"{folder / MODEL_FILE}: 'adapters' must be a table of sizes, got {sizes!r}")
    # an auto class builds through from_config; a model class is its own constructor
    model = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
    try:
        insert_adapters(model, sizes.get("bottleneck"), sizes.get("language"))
    except PeftError as exc:
        raise TaskModelError(f"{folder}: {exc}") from None
    f = folder / "model.safetensors"
    if not f.is_file():
        raise TaskModelError(f"{folder}: no model.safetensors (a model with adapters is saved in one file)")
    missing, unexpected = model.load_state_dict(load_file(str(f)), strict=False)
    if missing or unexpected:
        raise TaskModelError(f"{f}: the weights do not fit the model with adapters {sizes} "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model


def nonfinite_parameters(model: torch.nn.Module) -> str | None:
    """The first parameter of ``model`` that holds NaN/inf values, in words
    (``"parameter 'classifier.weight' has 3 NaN values"``), or None when every value is finite."""
    for name, p in model.named_parameters():
        bad = nonfinite(p)
        if bad:
            return f"parameter {name!r} has {bad}"
    return None


def _saved_setting(folder: Path, meta: dict, key: str, missing: str, check) -> str:
    """The setting ``key`` of a saved model, checked by ``check``; ``missing`` for folders saved
    before the setting existed.

    Raises:
        TaskModelError: a value ``check`` refuses (the message names the file).
    """
    try:
        return check(meta.get(key, missing))
    except ValueError as exc:
        raise TaskModelError(f"{folder / MODEL_FILE}: {exc}") from None


def _saved_word_pieces(folder: Path, meta: dict) -> str:
    """The ``word_pieces`` setting of a saved model (``xtreme``, the mapping it was trained with,
    for folders saved before it existed). Raises TaskModelError: an unknown setting."""
    return _saved_setting(folder, meta, "word_pieces", XTREME_WORD_PIECES, check_word_pieces)


def _saved_decoding(folder: Path, meta: dict) -> str:
    """The ``decoding`` setting of a saved model (the default for folders saved before it existed:
    decoding is not learned, so the weights are the same either way). Raises TaskModelError: an
    unknown setting."""
    return _saved_setting(folder, meta, "decoding", DEFAULT_DECODING, check_decoding)


def load_task_model(path: str | os.PathLike, device: str = "cpu") -> TaskModel:
    """Shorthand for :meth:`TaskModel.from_pretrained`."""
    return TaskModel.from_pretrained(path, device=device)


__all__ = ["FinetunedModel", "ProbeModel", "TaskModel", "TaskModelError", "as_examples", "load_task_model",
           "nonfinite_parameters", "probe_layers", "read_meta", "read_probe_head", "tag_features", "text_features"]
