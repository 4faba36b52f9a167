"""Feature extraction: word vectors and sentence vectors from an :class:`Encoder`.

Two entry points:

* :func:`encode_words` -- one vector per input *word* (pre-tokenised sentences), pooled from
  the word's subword vectors (first subword or mean of subwords), from any hidden layer(s).
* :func:`encode_sentences` -- one vector per text (E5-style mean pooling by default, or the
  first/``[CLS]`` token).

Layer indexing (both functions): ``0`` is the embedding output, ``1..L`` the transformer
layers (``L = encoder.num_layers``), ``'last'`` = ``L``, ``'all'`` = ``0..L``, and negative
ints count from the end (``-1`` = ``L``). A single layer (an int or ``'last'``) gives arrays
without a layer axis; a list or ``'all'`` gives a leading ``n_layers_selected`` axis.

Both functions prepend ``encoder.text_prefix`` (``"query: "`` for E5 models) to every input
and never return vectors for it. Inputs are sorted by length (longest first) into batches to
minimise padding; outputs come back in input order. Results do not depend on the batch size
beyond float rounding (~1e-6). Everything runs on ``encoder.device``; pooling is done with
matrix products (not scatter-adds) so CUDA results are deterministic too.

Inputs longer than the model limit (``max_length`` tokens, specials included) are handled
by ``long_inputs``:

* ``'window'`` (default): split into windows that fit. For words, windows are made of whole
  words and overlap by about half a window; each word takes its vector from the window in
  which it has the most context on both sides. For sentences, the token sequence is cut into
  consecutive windows (each with the prefix and special tokens) whose pooled vectors are
  averaged, weighted by the number of pooled tokens in each window.
* ``'truncate'``: keep the first ``max_length`` tokens. Words that lose *all* of their
  subwords get an all-zero vector (counted in ``stats['n_truncated_words']``); words cut
  partway are pooled from their surviving subwords.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np

from xlt.models.cache import FeatureCache, as_cache
from xlt.models.words import DEFAULT_WORD_PIECES, map_words, piece_rule

if TYPE_CHECKING:  # pragma: no cover
    import os

    from xlt.models.loading import Encoder

LayerSpec = Union[int, str, Sequence[int]]
WordPooling = Literal["first", "mean"]
SentencePooling = Literal["mean", "mean_nospecial", "cls"]
LongInputs = Literal["window", "truncate"]

#: Fraction of a word window (in tokens) shared with the next window in ``'window'`` mode.
WINDOW_OVERLAP = 0.5

#: Per-sentence counters of :func:`encode_words` (stored with cached entries, summed in stats).
WORD_ITEM_STATS = ("n_words", "n_subwords", "n_windowed", "n_truncated", "n_unk_fallback",
                   "n_truncated_words", "n_clipped_words")
#: Per-text counters of :func:`encode_sentences`.
SENT_ITEM_STATS = ("n_subwords", "n_windowed", "n_truncated")


# --------------------------------------------------------------------------- results
@dataclass
class WordFeatures:
    """Word vectors returned by :func:`encode_words`.

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


# --------------------------------------------------------------------------- helpers
def _special_template(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Special token ids the tokenizer puts before and after a single sequence."""
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


def _effective_max_length(encoder: Encoder, max_length: int | None, n_special: int) -> int:
    limit = encoder.max_length
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


def _check_common(long_inputs: str, batch_size: int) -> None:
    if long_inputs not in ("window", "truncate"):
        raise ValueError(f"long_inputs must be 'window' or 'truncate', got {long_inputs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def _identity(encoder: Encoder) -> dict[str, str]:
    return {"model": encoder.fingerprint or f"spec:{encoder.spec}",
            "dtype": str(getattr(encoder.model, "dtype", ""))}


def _plain_ids(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` without special tokens."""
    enc = tokenizer(text, add_special_tokens=False, verbose=False)
    return [int(t) for t in enc["input_ids"]]


def _pad_id(tokenizer: Any) -> int:
    pid = getattr(tokenizer, "pad_token_id", None)
    return int(pid) if pid is not None else 0


@dataclass
class _Seq:
    """One model input: token ids plus pooling groups (lists of positions)."""

    item: int  # index into the list of items being computed
    ids: list[int]
    groups: list[list[int]]  # positions pooled into one output row each
    targets: list[int]  # output row (word index / window index) per group
    weights: list[float] = field(default_factory=list)  # per-group weights (sentences)


def _run_batches(encoder: Encoder, seqs: list[_Seq], layers: list[int], batch_size: int,
                 mean: bool, progress: bool, desc: str, stats: dict[str, int]):
    """Run sequences through the model longest-first; yield ``(seq, pooled)`` pairs.

    ``pooled`` is a float32 numpy array ``(n_layers_selected, len(seq.groups), dim)``.
    """
    import torch
    from tqdm.auto import tqdm

    model = encoder.model
    tok = encoder.tokenizer
    device = encoder.device
    pad = _pad_id(tok)
    want_tt = "token_type_ids" in getattr(tok, "model_input_names", ())
    order = sorted(range(len(seqs)), key=lambda i: (-len(seqs[i].ids), i))
    n_batches = math.ceil(len(order) / batch_size)
    bar = tqdm(total=len(seqs), desc=desc, unit="seq", disable=not progress, leave=False)
    try:
        with torch.inference_mode():
            for b in range(n_batches):
                batch = [seqs[i] for i in order[b * batch_size:(b + 1) * batch_size]]
                t_max = max(len(s.ids) for s in batch)
                g_max = max(1, max(len(s.groups) for s in batch))
                ids = torch.full((len(batch), t_max), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), t_max), dtype=torch.long)
                rows: list[int] = []
                grps: list[int] = []
                cols: list[int] = []
                vals: list[float] = []
                for r, s in enumerate(batch):
                    ids[r, : len(s.ids)] = torch.tensor(s.ids, dtype=torch.long)
                    mask[r, : len(s.ids)] = 1
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
                inputs = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
                if want_tt:
                    inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
                out = model(**inputs, output_hidden_states=True, return_dict=True)
                hs = out.hidden_states
                pool = pool.to(device)
                # (S, B, T, D) -> pooled (S, B, G, D) via batched matmul (deterministic).
                h = torch.stack([hs[i] for i in layers], 0).float()
                pooled = torch.matmul(pool.unsqueeze(0), h).cpu().numpy()
                stats["n_sequences"] += len(batch)
                for r, s in enumerate(batch):
                    yield s, pooled[:, r, : len(s.groups)]
                bar.update(len(batch))
    finally:
        bar.close()


# --------------------------------------------------------------------------- words
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


def encode_words(
    encoder: Encoder,
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
    """Word-level vectors for pre-tokenised sentences.

    Words meet subwords through :func:`xlt.models.words.map_words` (``word_pieces``): by
    default each sentence is tokenised with ``is_split_into_words=True``, and a word's vector is
    the hidden state of its first piece that is not a bare SentencePiece ``▁`` marker
    (``word_pieces='first'``), the mean over those pieces (``'mean'``), or XTREME's first
    piece, marker included (``'xtreme'``); see :data:`xlt.models.words.WORD_PIECES`. The words
    of ``encoder.text_prefix`` (e.g. ``"query:"``) are put in front and dropped from the
    output. Every input word gets exactly one vector: a word that yields no subwords (empty
    string, control characters removed by normalisation) is encoded as the tokenizer's unknown
    token (counted in ``stats['n_unk_fallback']``).

    Args:
        encoder: the model and fast tokenizer (see :func:`xlt.models.loading.load_encoder`).
        sentences: ``n_sentences`` lists of word strings (a sentence may be empty).
        layers: ``'last'`` (default), ``'all'``, an int or a list of ints; see
            :func:`resolve_layers`.
        pooling: ``'first'`` or ``'mean'`` over the pieces ``word_pieces`` gives the word;
            ``None`` (default): the setting's own (``'mean'`` for ``mean``/``mean_all``, else
            ``'first'``).
        batch_size: model inputs (sentences or windows) per forward pass.
        max_length: model input limit in tokens, special tokens included; default and
            maximum ``encoder.max_length``.
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
    sentences = [_as_word_list(s, i) for i, s in enumerate(sentences)]
    layer_ids, single = resolve_layers(layers, encoder.num_layers)
    tok = encoder.tokenizer
    lead, trail = _special_template(tok)
    max_len = _effective_max_length(encoder, max_length, len(lead) + len(trail))
    budget = max_len - len(lead) - len(trail)
    prefix_words = encoder.text_prefix.split()
    dim, n_sel = encoder.hidden_size, len(layer_ids)

    totals = dict.fromkeys(WORD_ITEM_STATS, 0)
    run_stats = {"n_cache_hits": 0, "n_sequences": 0, "n_model_tokens": 0,
                 "n_padding_tokens": 0}
    results: list[np.ndarray | None] = [None] * len(sentences)

    store = as_cache(cache)
    keys: list[str] = []
    if store is not None:
        keys = store.make_keys({
            "fn": "encode_words", **_identity(encoder), "layers": layer_ids,
            "pooling": rule.pool, "max_length": max_len,
            "word_pieces": [rule.markers, rule.text] + (["char_text"] if rule.char_text else []),
            "long_inputs": long_inputs, "prefix": encoder.text_prefix, "overlap": WINDOW_OVERLAP,
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

    for s, pooled in _run_batches(encoder, seqs, layer_ids, batch_size, rule.pool == "mean",
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
def encode_sentences(
    encoder: Encoder,
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
    """One vector per text.

    ``encoder.text_prefix`` is put in front of every text (``"query: " + text`` for E5).

    Pooling:

    * ``'mean'`` (default): average of the hidden states of **all** tokens under the
      attention mask, special tokens (``<s>``/``</s>``, ``[CLS]``/``[SEP]``) and the prefix
      included -- exactly ``average_pool`` from the intfloat/multilingual-e5 model cards and
      sentence-transformers' mean pooling, so E5 vectors match the published ones.
    * ``'mean_nospecial'``: average over the non-special tokens only (prefix included).
    * ``'cls'``: the first token's hidden state (``[CLS]``/``<s>``).

    Args:
        encoder: the model and fast tokenizer.
        texts: ``n`` raw strings.
        layers: ``'last'`` (default), ``'all'``, an int or a list of ints; see
            :func:`resolve_layers`.
        pooling: ``'mean'``, ``'mean_nospecial'`` or ``'cls'`` (see above).
        batch_size: model inputs (texts or windows) per forward pass.
        normalize: L2-normalise each output vector (per layer).
        max_length: model input limit in tokens, special tokens included; default and
            maximum ``encoder.max_length``.
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
    if pooling not in ("mean", "mean_nospecial", "cls"):
        raise ValueError(f"pooling must be 'mean', 'mean_nospecial' or 'cls', got {pooling!r}")
    _check_common(long_inputs, batch_size)
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not a single string")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"text {i} is not a string: {t!r}")
    layer_ids, single = resolve_layers(layers, encoder.num_layers)
    tok = encoder.tokenizer
    lead, trail = _special_template(tok)
    max_len = _effective_max_length(encoder, max_length, len(lead) + len(trail))
    budget = max_len - len(lead) - len(trail)
    prefix = encoder.text_prefix
    dim, n_sel = encoder.hidden_size, len(layer_ids)

    totals = dict.fromkeys(SENT_ITEM_STATS, 0)
    run_stats = {"n_cache_hits": 0, "n_sequences": 0, "n_model_tokens": 0,
                 "n_padding_tokens": 0}
    out = np.zeros((n_sel, len(texts), dim), dtype=np.float32)
    done = [False] * len(texts)

    store = as_cache(cache)
    keys: list[str] = []
    if store is not None:
        keys = store.make_keys({
            "fn": "encode_sentences", **_identity(encoder), "layers": layer_ids,
            "pooling": pooling, "max_length": max_len, "long_inputs": long_inputs,
            "prefix": prefix,
        }, texts)
        for i, k in enumerate(keys):
            hit = store.get(k, shape=(n_sel, dim), n_stats=len(SENT_ITEM_STATS))
            if hit is not None:
                out[:, i] = hit[0]
                for name, v in zip(SENT_ITEM_STATS, hit[1].tolist()):
                    totals[name] += int(v)
                run_stats["n_cache_hits"] += 1
                done[i] = True

    todo = [i for i in range(len(texts)) if not done[i]]
    item_stats = {i: dict.fromkeys(SENT_ITEM_STATS, 0) for i in todo}
    seqs: list[_Seq] = []
    pre_ids: list[int] | None = None
    chunk = 2048
    for c in range(0, len(todo), chunk):
        part = todo[c:c + chunk]
        enc = tok([prefix + texts[i] for i in part], add_special_tokens=False, verbose=False)
        for j, i in enumerate(part):
            st = item_stats[i]
            ids = [int(t) for t in enc["input_ids"][j]]
            if len(ids) <= budget:
                st["n_subwords"] += len(ids)
                windows = [ids]
            elif long_inputs == "truncate":
                st["n_subwords"] += len(ids)
                st["n_truncated"] += 1
                windows = [ids[:budget]]
            else:
                if pre_ids is None:
                    pre_ids = _plain_ids(tok, prefix) if prefix else []
                body = _plain_ids(tok, texts[i])
                room = budget - len(pre_ids)
                if room < 1:
                    raise ValueError("max_length leaves no room for text after the special "
                                     f"tokens and the {len(pre_ids)}-token text prefix")
                st["n_subwords"] += len(pre_ids) + len(body)
                windows = [pre_ids + body[k:k + room] for k in range(0, len(body), room)]
                if len(windows) > 1:
                    st["n_windowed"] += 1
            for k, w in enumerate(windows):
                seq_ids = lead + w + trail
                if pooling == "cls":
                    pos = [0]
                elif pooling == "mean_nospecial" and w:
                    pos = list(range(len(lead), len(lead) + len(w)))
                else:
                    pos = list(range(len(seq_ids)))
                weight = float(len(seq_ids) if pooling == "cls" else len(pos))
                seqs.append(_Seq(i, seq_ids, [pos], [k], [weight]))

    acc = np.zeros((n_sel, len(texts), dim), dtype=np.float64)
    wsum = np.zeros(len(texts), dtype=np.float64)
    for s, pooled in _run_batches(encoder, seqs, layer_ids, batch_size, True, progress,
                                  "encode_sentences", run_stats):
        acc[:, s.item] += s.weights[0] * pooled[:, 0].astype(np.float64)
        wsum[s.item] += s.weights[0]
    for i in todo:
        out[:, i] = (acc[:, i] / wsum[i]).astype(np.float32)
        for name in SENT_ITEM_STATS:
            totals[name] += item_stats[i][name]
        if store is not None:
            store.put(keys[i], out[:, i], np.array([item_stats[i][n] for n in SENT_ITEM_STATS]))

    if normalize:
        norms = np.linalg.norm(out, axis=-1, keepdims=True)
        out = out / np.maximum(norms, 1e-12)
    result = out[0] if single else out
    if return_stats:
        return result, {"n_texts": len(texts), **totals, **run_stats}
    return result
