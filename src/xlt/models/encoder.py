"""The encoder: a multilingual transformer, its fast tokenizer, and the code that runs them.

:class:`Encoder` is what :func:`xlt.models.loading.load_encoder` returns for every model spec
(``bundled:e5-small``, a Hugging Face folder or Hub id). Everything xlt computes from a model
goes through its methods:

* :meth:`Encoder.encode_sentences` -- one vector per text: E5-style mean pooling by default
  (Wang et al. 2024, "Multilingual E5 Text Embeddings: A Technical Report": ``average_pool`` of
  the model cards, the mean pooling of sentence-transformers, Reimers & Gurevych 2019), or the
  first/``[CLS]`` token. Used by sentence probes, retrieval (Tatoeba, BUCC) and bitext mining.
* :meth:`Encoder.encode_words` -- one vector per input *word* of pre-split sentences, from the
  subword pieces that stand for the word under a ``word_pieces`` setting
  (:data:`xlt.models.words.WORD_PIECES`; ``'xtreme'`` is the first-subword rule of XTREME, Hu et
  al. 2020), from any hidden layer(s). Used by token probes and the supervision of
  cross-lingual maps.
* :meth:`Encoder.hidden_states` -- the raw per-layer hidden states of a padded batch of model
  inputs, with or without gradients, optionally stopping the forward pass at the requested layer.
  :meth:`Encoder.word_inputs` builds those inputs for pre-split sentences and says which input
  positions stand for each word (the word ↔ piece mapping of :func:`xlt.models.words.map_words`,
  cut at a length limit). Used by word alignment (SimAlign, Jalili Sabet et al. 2020;
  awesome-align, Dou & Neubig 2021: :mod:`xlt.align.words`) and alignment fine-tuning (Cao,
  Kitaev & Klein 2020: :mod:`xlt.align.finetune`, with gradients).

Layer indexing (all methods): ``0`` is the embedding output, ``1..L`` the transformer layers
(``L = Encoder.num_layers``), ``'last'`` = ``L``, ``'all'`` = ``0..L``, and negative ints count
from the end (``-1`` = ``L``). A single layer (an int or ``'last'``) gives arrays without a
layer axis; a list or ``'all'`` gives a leading ``n_layers_selected`` axis.

``encode_sentences`` and ``encode_words`` prepend the encoder's ``text_prefix`` (``"query: "``
for E5 models) to every input and never return vectors for it. Inputs are sorted by length
(longest first) into batches to minimise padding; outputs come back in input order. Results do
not depend on the batch size beyond float rounding (~1e-6). Everything runs on
:attr:`Encoder.device`; pooling is done with matrix products (not scatter-adds) so CUDA results
are deterministic too.

Inputs longer than the model limit (``max_length`` tokens, specials included) are handled by
``long_inputs``:

* ``'window'`` (default): split into windows that fit. For words, windows are made of whole
  words and overlap by about half a window; each word takes its vector from the window in
  which it has the most context on both sides. For sentences, the token sequence is cut into
  consecutive windows (each with the prefix and special tokens) whose pooled vectors are
  averaged, weighted by the number of pooled tokens in each window.
* ``'truncate'``: keep the first ``max_length`` tokens. Words that lose *all* of their
  subwords get an all-zero vector (counted in ``stats['n_truncated_words']``); words cut
  partway are pooled from their surviving subwords.

torch is imported inside the methods that run the model, not at the top of this module:
``xlt --help`` imports :mod:`xlt.models.loading` (and so this module), and torch alone takes
about a second to import.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np
from tqdm.auto import tqdm

from xlt.core.errors import XltError
from xlt.models.cache import FeatureCache, as_cache
from xlt.models.words import DEFAULT_WORD_PIECES, WordPieces, map_words, piece_rule

LayerSpec = Union[int, str, Sequence[int]]
WordPooling = Literal["first", "mean"]
SentencePooling = Literal["mean", "mean_nospecial", "cls"]
LongInputs = Literal["window", "truncate"]

#: Fraction of a word window (in tokens) shared with the next window in ``'window'`` mode.
WINDOW_OVERLAP = 0.5

#: Per-sentence counters of :meth:`Encoder.encode_words` (stored with cached entries, summed in stats).
WORD_ITEM_STATS = ("n_words", "n_subwords", "n_windowed", "n_truncated", "n_unk_fallback",
                   "n_truncated_words", "n_clipped_words")
#: Per-text counters of :meth:`Encoder.encode_sentences`.
SENT_ITEM_STATS = ("n_subwords", "n_windowed", "n_truncated")
#: Model types whose ``model.encoder.layer`` list yields ``hidden_states[k]`` as the output of
#: layer ``k - 1`` (and the input of layer 0 as ``hidden_states[0]``), so the forward pass can stop there.
EARLY_EXIT_TYPES = frozenset({"bert", "roberta", "xlm-roberta", "camembert", "electra"})


class ModelLoadError(XltError, RuntimeError):
    """Raised when a model spec cannot be resolved or loaded."""


# --------------------------------------------------------------------------- results
@dataclass
class WordFeatures:
    """Word vectors returned by :meth:`Encoder.encode_words`.

    Attributes:
        vectors: one float32 array per input sentence, in input order: shape
            ``(n_words, dim)`` when a single layer was asked for, else
            ``(n_layers_selected, n_words, dim)``. ``n_words`` always equals the number of
            input words of that sentence.
        layers: the resolved hidden-state indices (``0`` = embeddings), in the order of the
            layer axis.
        single_layer: ``True`` when ``vectors`` have no layer axis.
        pooling: ``'first'`` or ``'mean'``.
        word_pieces: the word ↔ subword setting (:data:`xlt.models.words.WORD_PIECES`).
        stats: counters for the call --
            ``n_sentences``; ``n_words``; ``n_subwords`` (subword tokens of the input words,
            unk fallbacks included, prefix and specials excluded); ``n_windowed`` (sentences
            split into several windows); ``n_truncated`` (sentences cut in truncate mode);
            ``n_truncated_words`` (words that got zero vectors because of truncation);
            ``n_clipped_words`` (single words longer than a whole window, encoded from their
            first subwords only); ``n_unk_fallback`` (words with no subwords that were
            encoded as the unknown token); ``n_cache_hits``; ``n_sequences`` and
            ``n_model_tokens`` (model inputs actually run in this call, padding excluded)
            and ``n_padding_tokens``.
    """

    vectors: list[np.ndarray]
    layers: list[int]
    single_layer: bool
    pooling: str
    stats: dict[str, int] = field(default_factory=dict)
    word_pieces: str = DEFAULT_WORD_PIECES

    def __len__(self) -> int:
        return len(self.vectors)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.vectors[i]

    def stacked(self) -> np.ndarray:
        """All word vectors concatenated over sentences.

        Returns:
            float32 array ``(total_words, dim)`` (single layer) or
            ``(n_layers_selected, total_words, dim)``.
        """
        axis = 0 if self.single_layer else 1
        if not self.vectors:
            dim = 0
            return np.zeros((0, dim) if self.single_layer else (len(self.layers), 0, dim),
                            dtype=np.float32)
        return np.concatenate(self.vectors, axis=axis)


@dataclass
class WordInput:
    """One pre-split sentence as a model input, from :meth:`Encoder.word_inputs`.

    Attributes:
        ids: the model input: the tokenizer's leading special tokens, the text prefix's pieces (if
            asked for), the words' pieces in order (cut at the length limit), the trailing special
            tokens.
        positions: per word, the indices into ``ids`` of the pieces that stand for it (its
            ``pieces.pooled``) that survived the cut, in order; empty for a word without pieces
            (``unk=False``) or cut off entirely.
        pieces: the word ↔ piece mapping of the sentence (:class:`xlt.models.words.WordPieces`,
            before the cut; ``pieces.unk_words`` lists the words fed as the unknown token).
        truncated: the words' pieces were cut at the length limit.
    """

    ids: list[int]
    positions: list[list[int]]
    pieces: WordPieces
    truncated: bool = False

    def first(self, w: int) -> int:
        """Index into ``ids`` of the first piece that stands for word ``w`` (the piece a tagger
        labels, the vector of ``pooling='first'``); ``-1`` when it has none left."""
        return self.positions[w][0] if self.positions[w] else -1


# --------------------------------------------------------------------------- layers
def parse_layer(text: str | int) -> str | int:
    """A single-layer option as given on a command line: ``'last'`` stays, ``'3'``/``'-1'`` → int.

    Raises:
        ValueError: neither ``'last'`` nor an integer.
    """
    return text if text == "last" else int(text)


def resolve_layers(layers: LayerSpec, num_layers: int) -> tuple[list[int], bool]:
    """Turn a layer spec into hidden-state indices.

    Args:
        layers: ``'last'``, ``'all'``, an int (``0`` = embeddings, ``1..num_layers``, or
            negative from the end, ``-1`` = last) or a non-empty sequence of ints.
        num_layers: transformer layers of the model (``L``).

    Returns:
        ``(indices, single)``: indices in ``0..L`` in the requested order; ``single`` is
        ``True`` for an int or ``'last'`` (outputs then have no layer axis).

    Raises:
        ValueError: an unknown string, an empty list, a non-integer, or an index outside
            ``-(L+1)..L``; the message gives the valid range.
    """
    n = num_layers + 1
    valid = f"valid layers: 0..{num_layers} (0 = embeddings), -{n}..-1, 'last' or 'all'"
    if isinstance(layers, str):
        if layers == "last":
            return [num_layers], True
        if layers == "all":
            return list(range(n)), False
        raise ValueError(f"unknown layer spec {layers!r}; {valid}")
    single = not isinstance(layers, Sequence)
    items = [layers] if single else list(layers)
    if not items:
        raise ValueError(f"empty layer list; {valid}")
    out = []
    for x in items:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
            raise ValueError(f"layer {x!r} is not an integer; {valid}")
        x = int(x)
        if not -n <= x <= num_layers:
            raise ValueError(f"layer {x} out of range for a {num_layers}-layer model; {valid}")
        out.append(x % n)
    return out, single


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special token ids a tokenizer puts before and after a single sequence.

    Read from the tokenizer's own output for a one-word input (``[CLS]`` / ``[SEP]`` for BERT,
    ``<s>`` / ``</s>`` for XLM-R); when no probe word gives a piece, ``cls_token_id`` and
    ``sep_token_id``.

    Returns:
        ``(lead, trail)``: lists of token ids (possibly empty).
    """
    for probe in ("a", "x", "1", "the"):
        enc = tokenizer([[probe]], is_split_into_words=True, add_special_tokens=True)
        ids = list(enc["input_ids"][0])
        wids = enc.word_ids(0)
        pos = [i for i, w in enumerate(wids) if w is not None]
        if pos:
            return ids[: pos[0]], ids[pos[-1] + 1:]
    lead = [tokenizer.cls_token_id] if getattr(tokenizer, "cls_token_id", None) is not None else []
    trail = [tokenizer.sep_token_id] if getattr(tokenizer, "sep_token_id", None) is not None else []
    return lead, trail


def as_word_lists(sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """Pre-split sentences as lists of word strings (copies).

    Raises:
        ValueError: a sentence that is a string or not a sequence (the message says to use
            :meth:`Encoder.encode_sentences` for raw texts), or a word that is not a string; the
            message gives the sentence's index.
    """
    return [_as_word_list(s, i) for i, s in enumerate(sentences)]


# --------------------------------------------------------------------------- the encoder
@dataclass
class Encoder:
    """A multilingual encoder and its tokenizer, and the code that runs them.

    Build one with :func:`xlt.models.loading.load_encoder`; the fields may also be set directly
    (vocabulary adaptation and alignment fine-tuning wrap their new models this way).

    Attributes:
        model: a ``transformers.PreTrainedModel`` encoder (e.g. ``BertModel``) in eval mode;
            called with ``output_hidden_states=True`` it returns ``num_layers + 1`` hidden
            state tensors of shape ``(batch, seq_len, hidden_size)`` (index 0 = embeddings).
        tokenizer: a fast (Rust) ``PreTrainedTokenizerFast`` so that ``word_ids()`` works.
        spec: the model spec string it was loaded from.
        text_prefix: text the model card asks to put before every input (``"query: "`` for
            E5 models); ``""`` for models without one. Feature extraction adds it.
        fingerprint: a string that identifies the weights (used in cache keys and manifests).
        info: what a run manifest records beyond the spec (source, checksums, adaptations).
        backend: ``"torch"`` or ``"onnx"``: what runs the forward pass of :meth:`hidden_states`
            (:mod:`xlt.models.backends`).
        int8: the linear layers run in int8 (dynamic quantisation); with ``backend="torch"``,
            :attr:`model` is then the quantised module.
        runtime: with ``backend="onnx"``, the :class:`~xlt.models.backends.OnnxRunner` that runs
            the exported model (:attr:`model` stays the float32 torch model, for its config).
    """

    model: Any
    tokenizer: Any
    spec: str
    text_prefix: str = ""
    fingerprint: str = ""
    info: dict = field(default_factory=dict)
    backend: str = "torch"
    int8: bool = False
    runtime: Any = field(default=None, repr=False)

    # ----------------------------------------------------------------------- facts
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

    @property
    def pad_id(self) -> int:
        """The token id padding is filled with (the tokenizer's pad token, else 0)."""
        pid = getattr(self.tokenizer, "pad_token_id", None)
        return int(pid) if pid is not None else 0

    @property
    def backend_name(self) -> str:
        """``'torch'``, ``'torch-int8'``, ``'onnx'`` or ``'onnx-int8'`` (:func:`xlt.models.backends.backend_name`)."""
        return self.backend + ("-int8" if self.int8 else "")

    def describe(self) -> dict:
        """What a run manifest records about the model: spec, fingerprint, layers, width, prefix, info,
        and the backend when it is not plain torch fp32 (``"backend": "onnx-int8"``)."""
        out = {"spec": self.spec, "fingerprint": self.fingerprint, "layers": self.num_layers,
               "hidden_size": self.hidden_size, "text_prefix": self.text_prefix, **self.info}
        if self.backend_name != "torch":
            out["backend"] = self.backend_name
        return out

    def resolve_layers(self, layers: LayerSpec) -> tuple[list[int], bool]:
        """:func:`resolve_layers` for this model's layer count: ``(hidden-state indices, single)``.

        Raises:
            ValueError: a layer spec outside this model (the message gives the valid range).
        """
        return resolve_layers(layers, self.num_layers)

    def special_tokens(self) -> tuple[list[int], list[int]]:
        """``(lead, trail)``: the special token ids around a single input (:func:`special_tokens`)."""
        return special_tokens(self.tokenizer)

    # ----------------------------------------------------------------------- model inputs
    def word_inputs(self, sentences: Sequence[Sequence[str]], *, word_pieces: str = DEFAULT_WORD_PIECES,
                    prefix: bool = True, max_length: int | None = None, unk: bool = True) -> list[WordInput]:
        """Model inputs for pre-split sentences, each sentence on its own, cut at a length limit.

        Each sentence's words go through :func:`xlt.models.words.map_words` (``word_pieces``), the
        words of ``text_prefix`` in front when ``prefix`` is on, the tokenizer's special tokens
        around (:meth:`special_tokens`). A sentence whose pieces do not fit in ``max_length``
        tokens is cut at the limit, as a tokenizer's truncation does (SimAlign's inputs; the
        ``long_inputs='truncate'`` input of :meth:`encode_words`); :attr:`WordInput.positions`
        says which of the remaining positions stand for each word.

        Args:
            sentences: ``n`` lists of words (a sentence may be empty).
            word_pieces: a setting of :data:`xlt.models.words.WORD_PIECES`.
            prefix: put the words of ``text_prefix`` (E5's ``"query:"``) before the words.
            max_length: the limit in tokens, special tokens and prefix included; default and
                maximum :attr:`max_length`.
            unk: feed a word without pieces as the unknown token (see :func:`map_words`); with
                ``False`` it gets no piece and no position.

        Returns:
            one :class:`WordInput` per sentence, in order.

        Raises:
            ValueError: a sentence that is not a list of strings, an unknown ``word_pieces``,
                a ``max_length`` above the model's limit or leaving no room for words next to the
                special tokens and the prefix, or ``unk=True`` with a tokenizer without an
                unknown token meeting a word without pieces.
        """
        sents = as_word_lists(sentences)
        lead, trail = self.special_tokens()
        max_len = self._max_length(max_length, len(lead) + len(trail))
        prefix_words = self.text_prefix.split() if prefix else []
        out = []
        for words, wp in zip(sents, map_words(self.tokenizer, sents, word_pieces, prefix_words, unk=unk)):
            room = max_len - len(lead) - len(trail) - len(wp.prefix)
            if room < 1 and words:
                raise ValueError(f"max_length={max_len} leaves no room for words after the special tokens "
                                 f"and the {len(wp.prefix)}-token text prefix")
            body = wp.ids
            cut = len(body) > room
            if cut:
                body = body[:room]
            base = len(lead) + len(wp.prefix)
            positions = [[base + q for q in qs if q < room] for qs in wp.pooled]
            out.append(WordInput(ids=lead + wp.prefix + body + trail, positions=positions, pieces=wp,
                                 truncated=cut))
        return out

    # ----------------------------------------------------------------------- forward pass
    def hidden_states(self, inputs: Sequence[Sequence[int]], layers: LayerSpec = "last", *, grad: bool = False,
                      early_exit: bool = False):
        """Hidden states of one batch of model inputs, as float32 torch tensors.

        The inputs are padded (right, with :attr:`pad_id`) to the longest; the attention mask
        covers the real tokens; ``token_type_ids`` are all 0 where the tokenizer uses them. One
        forward pass of :attr:`model` (in whatever mode it is in: dropout is the caller's
        business) on :attr:`device`.

        Args:
            inputs: ``B`` lists of token ids, special tokens included (e.g.
                :attr:`WordInput.ids`); none longer than the model allows.
            layers: hidden-state indices as :func:`resolve_layers` takes them (``0`` = embedding
                output).
            grad: ``False`` (default): run under ``torch.inference_mode()``: no autograd graph,
                and the result is an inference tensor (a constant in later computations; clone it
                before an operation that saves it for backward). ``True``: gradients flow into the
                model's parameters (training, e.g. Cao et al. 2020's alignment fine-tuning).
            early_exit: with a single layer and a BERT/RoBERTa/XLM-R-style model
                (:data:`EARLY_EXIT_TYPES`), stop the forward pass once that layer has been
                computed (a forward hook raises); the values are those of the full pass. Else
                the model runs in full with ``output_hidden_states=True``.

        Returns:
            ``(B, T, dim)`` for a single layer, ``(n_layers_selected, B, T, dim)`` for a list or
            ``'all'``, where ``T`` is the longest input's length; float32 on :attr:`device`
            (a bfloat16 model's states are converted). Rows past an input's length are padding.

        Raises:
            ValueError: no inputs, or a layer spec outside the model.
        """
        import torch  # lazy: see the module docs

        layer_ids, single = self.resolve_layers(layers)
        if not inputs:
            raise ValueError("hidden_states needs at least one input")
        t_max = max(len(s) for s in inputs)
        ids = torch.full((len(inputs), t_max), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(inputs), t_max), dtype=torch.long)
        for r, s in enumerate(inputs):
            ids[r, :len(s)] = torch.tensor(s, dtype=torch.long)
            mask[r, :len(s)] = 1
        device = self.device
        batch = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
        if "token_type_ids" in getattr(self.tokenizer, "model_input_names", ()):
            batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
        if self.runtime is not None:
            if grad:
                raise ValueError(f"the {self.backend_name} backend runs inference only (no gradients): load the "
                                 "model with backend='torch' to train it")
            states = self.runtime.run(ids.numpy(), mask.numpy(), layer_ids)
            if single:
                return torch.from_numpy(states[0]).to(device)
            return torch.from_numpy(np.stack(states, 0)).to(device)
        with torch.inference_mode(not grad):
            if single and early_exit:
                return self._layer_state(batch, layer_ids[0]).float()
            hs = self.model(**batch, output_hidden_states=True, return_dict=True).hidden_states
            if single:
                return hs[layer_ids[0]].float()
            return torch.stack([hs[i] for i in layer_ids], 0).float()

    def _layer_state(self, batch: dict, layer: int):
        """``hidden_states[layer]`` of one padded batch, stopping the forward pass there when the
        model allows it (:data:`EARLY_EXIT_TYPES`)."""
        model = self.model
        layers = _layer_modules(model)
        if layers is None:
            return model(**batch, output_hidden_states=True, return_dict=True).hidden_states[layer]
        got: dict[str, Any] = {}
        if layer == 0:
            def pre_hook(module, args, kwargs):
                got["h"] = args[0] if args else kwargs["hidden_states"]
                raise _StopForward

            handle = layers[0].register_forward_pre_hook(pre_hook, with_kwargs=True)
        else:
            def hook(module, args, output):
                got["h"] = output[0] if isinstance(output, tuple) else output
                raise _StopForward

            handle = layers[layer - 1].register_forward_hook(hook)
        try:
            model(**batch)
        except _StopForward:
            pass
        finally:
            handle.remove()
        if "h" not in got:  # pragma: no cover - a model that skipped its layers
            raise RuntimeError(f"layer {layer} of {self.spec} was never reached")
        return got["h"]

    def _pooled_batches(self, seqs: list[_Seq], layers: list[int], batch_size: int, mean: bool,
                        progress: bool, desc: str, stats: dict[str, int]):
        """Run sequences through the model longest-first; yield ``(seq, pooled)`` pairs.

        ``pooled`` is a float32 numpy array ``(n_layers_selected, len(seq.groups), dim)``: per
        group, the mean (``mean``) or the first of its positions' hidden states.
        """
        import torch  # lazy: see the module docs

        device = self.device
        order = sorted(range(len(seqs)), key=lambda i: (-len(seqs[i].ids), i))
        n_batches = math.ceil(len(order) / batch_size)
        bar = tqdm(total=len(seqs), desc=desc, unit="seq", disable=not progress, leave=False)
        try:
            with torch.inference_mode():
                for b in range(n_batches):
                    batch = [seqs[i] for i in order[b * batch_size:(b + 1) * batch_size]]
                    t_max = max(len(s.ids) for s in batch)
                    g_max = max(1, max(len(s.groups) for s in batch))
                    rows: list[int] = []
                    grps: list[int] = []
                    cols: list[int] = []
                    vals: list[float] = []
                    for r, s in enumerate(batch):
                        for g, pos in enumerate(s.groups):
                            use = pos if mean else pos[:1]
                            rows.extend([r] * len(use))
                            grps.extend([g] * len(use))
                            cols.extend(use)
                            vals.extend([1.0 / len(use)] * len(use))
                        stats["n_model_tokens"] += len(s.ids)
                        stats["n_padding_tokens"] += t_max - len(s.ids)
                    pool = torch.zeros((len(batch), g_max, t_max), dtype=torch.float32)
                    pool[rows, grps, cols] = torch.tensor(vals, dtype=torch.float32)
                    # (S, B, T, D) -> pooled (S, B, G, D) via batched matmul (deterministic).
                    if len(layers) == 1 and layers[0] < self.num_layers:  # stop below the top: no wasted layers
                        h = self.hidden_states([s.ids for s in batch], layers[0], early_exit=True).unsqueeze(0)
                    else:
                        h = self.hidden_states([s.ids for s in batch], layers)
                    pooled = torch.matmul(pool.to(device).unsqueeze(0), h).cpu().numpy()
                    stats["n_sequences"] += len(batch)
                    for r, s in enumerate(batch):
                        yield s, pooled[:, r, : len(s.groups)]
                    bar.update(len(batch))
        finally:
            bar.close()

    # ----------------------------------------------------------------------- words
    def encode_words(
        self,
        sentences: Sequence[Sequence[str]],
        layers: LayerSpec = "last",
        pooling: WordPooling | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        long_inputs: LongInputs = "window",
        progress: bool = True,
        cache: FeatureCache | str | os.PathLike[str] | None = None,
        word_pieces: str = DEFAULT_WORD_PIECES,
    ) -> WordFeatures:
        """Word-level vectors for pre-tokenised sentences: per sentence ``(n_words, dim)`` float32.

        Words meet subwords through :func:`xlt.models.words.map_words` (``word_pieces``): by
        default each sentence is tokenised with ``is_split_into_words=True``, and a word's vector is
        the hidden state of its first piece that is not a bare SentencePiece ``▁`` marker
        (``word_pieces='first'``), the mean over those pieces (``'mean'``), or XTREME's first
        piece, marker included (``'xtreme'``); see :data:`xlt.models.words.WORD_PIECES`. The words
        of :attr:`text_prefix` (e.g. ``"query:"``) are put in front and dropped from the
        output. Every input word gets exactly one vector: a word that yields no subwords (empty
        string, control characters removed by normalisation) is encoded as the tokenizer's unknown
        token (counted in ``stats['n_unk_fallback']``). The ``'xtreme'`` setting with
        ``pooling='first'`` is XTREME's first-subword rule (Hu et al. 2020, "XTREME: A Massively
        Multilingual Multi-task Benchmark for Evaluating Cross-lingual Generalization"); layer
        stacks (``'all'``) feed the scalar mix of probing (Tenney et al. 2019).

        Args:
            sentences: ``n_sentences`` lists of word strings (a sentence may be empty).
            layers: ``'last'`` (default), ``'all'``, an int or a list of ints; see
                :func:`resolve_layers`.
            pooling: ``'first'`` or ``'mean'`` over the pieces ``word_pieces`` gives the word;
                ``None`` (default): the setting's own (``'mean'`` for ``mean``/``mean_all``, else
                ``'first'``).
            batch_size: model inputs (sentences or windows) per forward pass.
            max_length: model input limit in tokens, special tokens included; default and
                maximum :attr:`max_length`.
            long_inputs: ``'window'`` -- overlapping windows of whole words so every word gets a
                contextual vector (counted in ``n_windowed``); ``'truncate'`` -- keep the first
                ``max_length`` tokens, words entirely past the limit get **all-zero vectors**
                (sentences counted in ``n_truncated``, words in ``n_truncated_words``).
            progress: show a tqdm progress bar (on stderr).
            cache: a :class:`~xlt.models.cache.FeatureCache` or a folder path for one; cached
                sentences are not run through the model again.
            word_pieces: which subword pieces stand for a word (:data:`xlt.models.words.WORD_PIECES`;
                default :data:`~xlt.models.words.DEFAULT_WORD_PIECES`).

        Returns:
            :class:`WordFeatures`; ``vectors[i]`` is float32 ``(n_words_i, dim)`` for a single
            layer or ``(n_layers_selected, n_words_i, dim)`` for a list of layers / ``'all'``.

        Raises:
            ValueError: bad ``layers``, ``pooling``, ``word_pieces``, ``long_inputs``, ``batch_size``
                or ``max_length`` (larger than the model limit, or too small for the special tokens
                plus the text prefix in window mode); ``sentences`` not a list of word lists.
        """
        rule = piece_rule(word_pieces, pooling)
        _check_common(long_inputs, batch_size)
        sentences = as_word_lists(sentences)
        layer_ids, single = self.resolve_layers(layers)
        tok = self.tokenizer
        lead, trail = self.special_tokens()
        max_len = self._max_length(max_length, len(lead) + len(trail))
        budget = max_len - len(lead) - len(trail)
        prefix_words = self.text_prefix.split()
        dim, n_sel = self.hidden_size, len(layer_ids)

        totals = dict.fromkeys(WORD_ITEM_STATS, 0)
        run_stats = {"n_cache_hits": 0, "n_sequences": 0, "n_model_tokens": 0,
                     "n_padding_tokens": 0}
        results: list[np.ndarray | None] = [None] * len(sentences)

        store = as_cache(cache)
        keys: list[str] = []
        if store is not None:
            keys = store.make_keys({
                "fn": "encode_words", **self._identity(), "layers": layer_ids,
                "pooling": rule.pool, "max_length": max_len,
                "word_pieces": [rule.markers, rule.text] + (["char_text"] if rule.char_text else []),
                "long_inputs": long_inputs, "prefix": self.text_prefix, "overlap": WINDOW_OVERLAP,
            }, sentences)
            for i, k in enumerate(keys):
                hit = store.get(k, shape=(n_sel, len(sentences[i]), dim), n_stats=len(WORD_ITEM_STATS))
                if hit is not None:
                    results[i] = hit[0].astype(np.float32, copy=False)
                    for name, v in zip(WORD_ITEM_STATS, hit[1].tolist()):
                        totals[name] += int(v)
                    run_stats["n_cache_hits"] += 1

        todo = [i for i, r in enumerate(results) if r is None]
        item_stats: dict[int, dict[str, int]] = {}
        seqs: list[_Seq] = []
        nonempty = [i for i in todo if sentences[i]]
        for i in todo:
            results[i] = np.zeros((n_sel, len(sentences[i]), dim), dtype=np.float32)
            item_stats[i] = dict.fromkeys(WORD_ITEM_STATS, 0)
            item_stats[i]["n_words"] = len(sentences[i])
        mapped = map_words(tok, [sentences[i] for i in nonempty], rule, prefix_words)
        for i, wp in zip(nonempty, mapped):
            st = item_stats[i]
            st["n_unk_fallback"] += wp.n_unk_fallback
            st["n_subwords"] += sum(len(w) for w in wp.pieces)
            seqs.extend(_word_seqs(i, lead, trail, wp.prefix, wp.pieces, wp.pooled_by_word(), budget,
                                   long_inputs, st))

        for s, pooled in self._pooled_batches(seqs, layer_ids, batch_size, rule.pool == "mean",
                                      progress, "encode_words", run_stats):
            results[s.item][:, s.targets] = pooled  # type: ignore[index]

        for i in todo:
            for name in WORD_ITEM_STATS:
                totals[name] += item_stats[i][name]
            if store is not None:
                store.put(keys[i], results[i],  # type: ignore[arg-type]
                          np.array([item_stats[i][n] for n in WORD_ITEM_STATS]))

        vectors = [r[0] if single else r for r in results]  # type: ignore[index]
        stats = {"n_sentences": len(sentences), **totals, **run_stats}
        return WordFeatures(vectors=vectors, layers=layer_ids, single_layer=single,
                            pooling=rule.pool, stats=stats, word_pieces=word_pieces)

    # ----------------------------------------------------------------------- sentences
    def encode_sentences(
        self,
        texts: Sequence[str],
        layers: LayerSpec = "last",
        pooling: SentencePooling = "mean",
        batch_size: int = 32,
        normalize: bool = False,
        max_length: int | None = None,
        long_inputs: LongInputs = "window",
        progress: bool = True,
        cache: FeatureCache | str | os.PathLike[str] | None = None,
        return_stats: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, dict[str, int]]:
        """One vector per text: ``(n_texts, dim)`` float32.

        :attr:`text_prefix` is put in front of every text (``"query: " + text`` for E5).
        The default pooling is that of multilingual E5 (Wang et al. 2024, "Multilingual E5 Text
        Embeddings: A Technical Report"), the mean pooling of Sentence-BERT (Reimers & Gurevych
        2019).

        Pooling:

        * ``'mean'`` (default): average of the hidden states of **all** tokens under the
          attention mask, special tokens (``<s>``/``</s>``, ``[CLS]``/``[SEP]``) and the prefix
          included -- exactly ``average_pool`` from the intfloat/multilingual-e5 model cards and
          sentence-transformers' mean pooling, so E5 vectors match the published ones.
        * ``'mean_nospecial'``: average over the non-special tokens only (prefix included).
        * ``'cls'``: the first token's hidden state (``[CLS]``/``<s>``).

        Args:
            texts: ``n`` raw strings.
            layers: ``'last'`` (default), ``'all'``, an int or a list of ints; see
                :func:`resolve_layers`.
            pooling: ``'mean'``, ``'mean_nospecial'`` or ``'cls'`` (see above).
            batch_size: model inputs (texts or windows) per forward pass.
            normalize: L2-normalise each output vector (per layer).
            max_length: model input limit in tokens, special tokens included; default and
                maximum :attr:`max_length`.
            long_inputs: ``'window'`` -- cut the text's tokens into consecutive windows (each
                with the prefix and specials), pool each, and average the window vectors
                weighted by their number of pooled tokens (counted in the returned stats as
                windowed); ``'truncate'`` -- keep the first ``max_length`` tokens.
            progress: show a tqdm progress bar (on stderr).
            cache: a :class:`~xlt.models.cache.FeatureCache` or a folder path for one (vectors
                are cached before normalisation).
            return_stats: also return a dict of counters: ``n_texts``; ``n_subwords`` (tokens
                of prefix + text, specials excluded); ``n_windowed`` (texts split into several
                windows); ``n_truncated`` (texts cut to ``max_length``); ``n_cache_hits``;
                ``n_sequences``, ``n_model_tokens`` and ``n_padding_tokens`` (model inputs run
                in this call).

        Returns:
            float32 array ``(n, dim)`` for a single layer or ``(n_layers_selected, n, dim)`` for
            a list of layers / ``'all'``; with ``return_stats=True`` a tuple ``(array, stats)``.

        Raises:
            ValueError: bad ``layers``, ``pooling``, ``long_inputs``, ``batch_size`` or
                ``max_length``; a text that is not a string.
        """
        texts = _check_sentence_args(texts, pooling, long_inputs, batch_size)
        layer_ids, single = self.resolve_layers(layers)
        lead, trail = self.special_tokens()
        max_len = self._max_length(max_length, len(lead) + len(trail))
        plan = _SentenceInputs(tokenizer=self.tokenizer, prefix=self.text_prefix, lead=lead,
                               trail=trail, budget=max_len - len(lead) - len(trail),
                               long_inputs=long_inputs, pooling=pooling)
        dim, n_sel = self.hidden_size, len(layer_ids)

        totals = dict.fromkeys(SENT_ITEM_STATS, 0)
        run_stats = {"n_cache_hits": 0, "n_sequences": 0, "n_model_tokens": 0,
                     "n_padding_tokens": 0}
        out = np.zeros((n_sel, len(texts), dim), dtype=np.float32)
        done = [False] * len(texts)

        store = as_cache(cache)
        keys: list[str] = []
        if store is not None:
            keys = store.make_keys({
                "fn": "encode_sentences", **self._identity(), "layers": layer_ids,
                "pooling": pooling, "max_length": max_len, "long_inputs": long_inputs,
                "prefix": plan.prefix,
            }, texts)
            _read_cached_sentences(store, keys, out, done, totals, run_stats)

        todo = [i for i in range(len(texts)) if not done[i]]
        item_stats = {i: dict.fromkeys(SENT_ITEM_STATS, 0) for i in todo}
        seqs = plan.sequences(texts, todo, item_stats)
        acc, wsum = self._pool_windows(seqs, layer_ids, batch_size, progress, run_stats, out.shape)
        _finish_sentences(out, todo, acc, wsum, item_stats, totals, store, keys)

        if normalize:
            norms = np.linalg.norm(out, axis=-1, keepdims=True)
            out = out / np.maximum(norms, 1e-12)
        result = out[0] if single else out
        if return_stats:
            return result, {"n_texts": len(texts), **totals, **run_stats}
        return result

    def _pool_windows(self, seqs: list[_Seq], layer_ids: list[int], batch_size: int, progress: bool,
                      run_stats: dict[str, int], shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Run the sentence windows; ``(acc, wsum)``: weighted sums of window vectors and weights."""
        n_sel, n_texts, dim = shape
        acc = np.zeros((n_sel, n_texts, dim), dtype=np.float64)
        wsum = np.zeros(n_texts, dtype=np.float64)
        for s, pooled in self._pooled_batches(seqs, layer_ids, batch_size, True, progress,
                                              "encode_sentences", run_stats):
            acc[:, s.item] += s.weights[0] * pooled[:, 0].astype(np.float64)
            wsum[s.item] += s.weights[0]
        return acc, wsum

    # ----------------------------------------------------------------------- helpers
    def _max_length(self, max_length: int | None, n_special: int) -> int:
        """The input limit in tokens: ``max_length`` checked against the model, or the model's."""
        limit = self.max_length
        if max_length is None:
            return limit
        if not isinstance(max_length, int) or isinstance(max_length, bool):
            raise ValueError(f"max_length must be an int, got {max_length!r}")
        if max_length > limit:
            raise ValueError(f"max_length={max_length} exceeds the model limit of {limit} tokens")
        if max_length <= n_special:
            raise ValueError(f"max_length={max_length} leaves no room next to {n_special} "
                             f"special tokens")
        return max_length

    def _identity(self) -> dict[str, str]:
        """The model's part of a feature-cache key: fingerprint, dtype, and the backend when it is not
        plain torch fp32 (so int8 or ONNX vectors never mix with fp32 torch ones; plain torch keys are
        those of earlier versions, so existing caches stay valid)."""
        out = {"model": self.fingerprint or f"spec:{self.spec}",
               "dtype": str(getattr(self.model, "dtype", ""))}
        if self.backend_name != "torch":
            out["backend"] = self.backend_name
        return out


# --------------------------------------------------------------------------- private helpers
def _check_common(long_inputs: str, batch_size: int) -> None:
    if long_inputs not in ("window", "truncate"):
        raise ValueError(f"long_inputs must be 'window' or 'truncate', got {long_inputs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def _plain_ids(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` without special tokens."""
    enc = tokenizer(text, add_special_tokens=False, verbose=False)
    return [int(t) for t in enc["input_ids"]]


@dataclass
class _Seq:
    """One model input: token ids plus pooling groups (lists of positions)."""

    item: int  # index into the list of items being computed
    ids: list[int]
    groups: list[list[int]]  # positions pooled into one output row each
    targets: list[int]  # output row (word index / window index) per group
    weights: list[float] = field(default_factory=list)  # per-group weights (sentences)


def _check_sentence_args(texts: Sequence[str], pooling: str, long_inputs: str,
                         batch_size: int) -> list[str]:
    """Check the arguments of :meth:`Encoder.encode_sentences`; the texts as a list."""
    if pooling not in ("mean", "mean_nospecial", "cls"):
        raise ValueError(f"pooling must be 'mean', 'mean_nospecial' or 'cls', got {pooling!r}")
    _check_common(long_inputs, batch_size)
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not a single string")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"text {i} is not a string: {t!r}")
    return texts


@dataclass
class _SentenceInputs:
    """How :meth:`Encoder.encode_sentences` turns texts into model inputs (windows or a cut)."""

    tokenizer: Any
    prefix: str
    lead: list[int]
    trail: list[int]
    budget: int  # tokens per input besides the special tokens
    long_inputs: str
    pooling: str
    pre_ids: list[int] | None = None  # the prefix's ids, read when a text first needs windows

    def sequences(self, texts: list[str], todo: list[int],
                  item_stats: dict[int, dict[str, int]]) -> list[_Seq]:
        """The model inputs of the texts ``todo`` (tokenised 2048 at a time), counting into ``item_stats``."""
        seqs: list[_Seq] = []
        chunk = 2048
        for c in range(0, len(todo), chunk):
            part = todo[c:c + chunk]
            enc = self.tokenizer([self.prefix + texts[i] for i in part], add_special_tokens=False,
                                 verbose=False)
            for j, i in enumerate(part):
                st = item_stats[i]
                ids = [int(t) for t in enc["input_ids"][j]]
                for k, w in enumerate(self.windows(texts[i], ids, st)):
                    seqs.append(self.window_seq(i, k, w))
        return seqs

    def windows(self, text: str, ids: list[int], st: dict[str, int]) -> list[list[int]]:
        """The token windows of one text (``ids``: prefix + text), counting into ``st``."""
        budget = self.budget
        if len(ids) <= budget:
            st["n_subwords"] += len(ids)
            return [ids]
        if self.long_inputs == "truncate":
            st["n_subwords"] += len(ids)
            st["n_truncated"] += 1
            return [ids[:budget]]
        if self.pre_ids is None:
            self.pre_ids = _plain_ids(self.tokenizer, self.prefix) if self.prefix else []
        pre_ids = self.pre_ids
        body = _plain_ids(self.tokenizer, text)
        room = budget - len(pre_ids)
        if room < 1:
            raise ValueError("max_length leaves no room for text after the special "
                             f"tokens and the {len(pre_ids)}-token text prefix")
        st["n_subwords"] += len(pre_ids) + len(body)
        windows = [pre_ids + body[k:k + room] for k in range(0, len(body), room)]
        if len(windows) > 1:
            st["n_windowed"] += 1
        return windows

    def window_seq(self, item: int, k: int, w: list[int]) -> _Seq:
        """Window ``k`` of text ``item`` as a model input with its pooled positions and weight."""
        lead = self.lead
        seq_ids = lead + w + self.trail
        if self.pooling == "cls":
            pos = [0]
        elif self.pooling == "mean_nospecial" and w:
            pos = list(range(len(lead), len(lead) + len(w)))
        else:
            pos = list(range(len(seq_ids)))
        weight = float(len(seq_ids) if self.pooling == "cls" else len(pos))
        return _Seq(item, seq_ids, [pos], [k], [weight])


def _read_cached_sentences(store: FeatureCache, keys: list[str], out: np.ndarray, done: list[bool],
                           totals: dict[str, int], run_stats: dict[str, int]) -> None:
    """Fill ``out`` with the cached sentence vectors, marking the texts found in ``done``."""
    n_sel, _, dim = out.shape
    for i, k in enumerate(keys):
        hit = store.get(k, shape=(n_sel, dim), n_stats=len(SENT_ITEM_STATS))
        if hit is not None:
            out[:, i] = hit[0]
            for name, v in zip(SENT_ITEM_STATS, hit[1].tolist()):
                totals[name] += int(v)
            run_stats["n_cache_hits"] += 1
            done[i] = True


def _finish_sentences(out: np.ndarray, todo: list[int], acc: np.ndarray, wsum: np.ndarray,
                      item_stats: dict[int, dict[str, int]], totals: dict[str, int],
                      store: FeatureCache | None, keys: list[str]) -> None:
    """Average the window vectors of the texts ``todo`` into ``out``, count and cache them."""
    for i in todo:
        out[:, i] = (acc[:, i] / wsum[i]).astype(np.float32)
        for name in SENT_ITEM_STATS:
            totals[name] += item_stats[i][name]
        if store is not None:
            store.put(keys[i], out[:, i], np.array([item_stats[i][n] for n in SENT_ITEM_STATS]))


class _StopForward(Exception):
    """Raised by a forward hook once the requested layer has been computed."""


def _layer_modules(model: Any):
    """The model's list of transformer layers when a forward pass may stop after one of them."""
    enc = getattr(model, "encoder", None)
    layers = getattr(enc, "layer", None)
    if getattr(model.config, "model_type", None) not in EARLY_EXIT_TYPES or layers is None:
        return None
    try:
        n = len(layers)
    except TypeError:
        return None
    return layers if n == int(model.config.num_hidden_layers) else None


def _plan_word_windows(lens: list[int], budget: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Windows ``[start, end)`` of whole words (each word <= budget tokens) and each
    word's owning window index (the one giving it the most context on both sides)."""
    n = len(lens)
    overlap = int(budget * WINDOW_OVERLAP)
    windows: list[tuple[int, int]] = []
    s = 0
    while True:
        e, tot = s, 0
        while e < n and tot + lens[e] <= budget:
            tot += lens[e]
            e += 1
        windows.append((s, e))
        if e >= n:
            break
        s2, tot = e, 0
        while s2 - 1 > s and tot + lens[s2 - 1] <= overlap:
            s2 -= 1
            tot += lens[s2]
        s = s2
    cum = np.concatenate([[0], np.cumsum(lens)])
    owner = [-1] * n
    best = [-1.0] * n
    for w, (ws, we) in enumerate(windows):
        for i in range(ws, we):
            left = math.inf if ws == 0 else float(cum[i] - cum[ws])
            right = math.inf if we == n else float(cum[we] - cum[i + 1])
            score = min(left, right)
            if score > best[i]:
                best[i], owner[i] = score, w
    return windows, owner


def _as_word_list(s: Any, i: int) -> list[str]:
    if isinstance(s, str) or not isinstance(s, Sequence):
        raise ValueError(f"sentence {i} must be a list of words, got {type(s).__name__}"
                         " (use encode_sentences for raw texts)")
    words = list(s)
    for w in words:
        if not isinstance(w, str):
            raise ValueError(f"sentence {i} contains a non-string word {w!r}")
    return words


def _word_seqs(item: int, lead: list[int], trail: list[int], pre_ids: list[int],
               words: list[list[int]], pooled: list[list[tuple[int, int]]], budget: int,
               long_inputs: str, st: dict[str, int]) -> list[_Seq]:
    """Model inputs for one sentence; updates the sentence's counters ``st``.

    ``words``: each word's own input pieces; ``pooled``: per word, the pieces it is pooled from
    as ``(owning word, index among its pieces)`` (the owner is the word itself, or an earlier word
    whose piece it shares). A word whose pooled pieces were all cut off (truncation, a word
    longer than a window) is pooled from its own surviving pieces.
    """
    n = len(words)
    if n == 0:
        return []
    total = len(pre_ids) + sum(len(w) for w in words)

    def build(ws: int, we: int, owned: list[int], word_list: list[list[int]]) -> _Seq:
        ids = lead + pre_ids
        start: dict[int, int] = {}
        for w in range(ws, we):
            start[w] = len(ids)
            ids = ids + word_list[w]
        groups, targets = [], []
        for w in owned:
            pos = [start[v] + k for v, k in pooled[w] if ws <= v < we and k < len(word_list[v])]
            if not pos:
                pos = list(range(start[w], start[w] + len(word_list[w])))
            if pos:
                groups.append(pos)
                targets.append(w)
        return _Seq(item, ids + trail, groups, targets)

    if total <= budget:
        return [build(0, n, list(range(n)), words)]

    if long_inputs == "truncate":
        st["n_truncated"] += 1
        room = budget - len(pre_ids)
        kept: list[list[int]] = []
        for w in words:
            take = w[: max(room, 0)]
            room -= len(take)
            if w and not take:
                break
            kept.append(take)
        seq = build(0, len(kept), list(range(len(kept))), kept)
        st["n_truncated_words"] += n - len(seq.targets)
        return [seq] if seq.targets else []

    word_budget = budget - len(pre_ids)
    if word_budget < 1:
        raise ValueError(f"max_length leaves no room for words after the special tokens and "
                         f"the {len(pre_ids)}-token text prefix")
    clipped = []
    for w in words:
        if len(w) > word_budget:
            st["n_clipped_words"] += 1
            w = w[:word_budget]
        clipped.append(w)
    if len(pre_ids) + sum(len(w) for w in clipped) <= budget:  # only a clipped giant word
        return [build(0, n, list(range(n)), clipped)]
    st["n_windowed"] += 1
    # a word that shares an earlier word's piece stays in one window with it: plan over units
    # (only the ``text`` setting shares pieces; a sharing word has no piece of its own, so a
    # unit is never longer than its longest word)
    unit_of = [0] * n
    for w in range(1, n):
        back = min((v for v, _ in pooled[w]), default=w)
        if back < w:
            for x in range(back + 1, w + 1):
                unit_of[x] = unit_of[back]
        else:
            unit_of[w] = unit_of[w - 1] + 1
    n_units = unit_of[-1] + 1
    unit_lens = [0] * n_units
    first_word = [n] * n_units
    for w in range(n):
        unit_lens[unit_of[w]] += len(clipped[w])
        first_word[unit_of[w]] = min(first_word[unit_of[w]], w)
    windows, owner = _plan_word_windows(unit_lens, word_budget)
    out = []
    for k, (us, ue) in enumerate(windows):
        ws = first_word[us]
        we = first_word[ue] if ue < n_units else n
        owned = [w for w in range(ws, we) if owner[unit_of[w]] == k]
        if owned:
            out.append(build(ws, we, owned, clipped))
    return out


# --------------------------------------------------------------------------- sentences

__all__ = ["EARLY_EXIT_TYPES", "Encoder", "LayerSpec", "LongInputs", "ModelLoadError", "SENT_ITEM_STATS",
           "SentencePooling", "WINDOW_OVERLAP", "WORD_ITEM_STATS", "WordFeatures", "WordInput", "WordPooling",
           "as_word_lists", "parse_layer", "resolve_layers", "special_tokens"]
