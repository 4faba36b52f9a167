"""Word alignment from a multilingual encoder's contextual vectors, without parallel training.

Two families of extraction methods work on a similarity matrix between the units (subwords
by default) of a source sentence (``m`` units, rows) and a target sentence (``n`` units,
columns):

* SimAlign (Jalili Sabet, Dufter, Yvon & Schütze 2020, "SimAlign: High Quality Word Alignments
  without Parallel Training Data using Static and Contextualized Embeddings"), on
  ``sim = (cos + 1) / 2`` of the unit vectors:

  - ``argmax``: link ``(i, j)`` when ``j`` is the most similar target of ``i`` *and* ``i`` the
    most similar source of ``j`` (the intersection of both directions' argmax; SimAlign's
    "inter"/``a``);
  - ``itermax``: argmax, then ``max_count - 1`` more rounds (SimAlign: 2 - 1 = one round) that
    repeat argmax on ``sim * mask`` where a cell whose row and column are both unaligned keeps
    weight 1, a cell with exactly one of them unaligned gets ``alpha_ratio`` (0.9), and a cell
    whose row and column are both aligned gets 0 and can never be linked; new links are added.
    A pair with ``min(m, n) <= 2`` keeps plain argmax, and a round where every row or every
    column is already aligned adds nothing (SimAlign's ``i``);
  - ``match``: a maximum-weight bipartite matching (``min(m, n)`` links maximising the summed
    similarity; SimAlign's "mwmf"/``m``, there computed with networkx on the same weights, here
    with :func:`scipy.optimize.linear_sum_assignment`).

  Optional distortion prior (SimAlign's ``distortion``): ``sim[i, j] *= 1 - ratio *
  (j / (n - 1) - i / (m - 1)) ** 2`` (skipped when ``m < 2`` or ``n < 2``), before extraction.

* awesome-align's extraction (Dou & Neubig 2021, "Word Alignment by Fine-tuning Embeddings on
  Parallel Corpora"), here on the pre-trained encoder: ``softmax``: with ``S = X Yᵀ`` the dot
  products of the raw unit vectors, link ``(i, j)`` when both ``softmax_over_j(S)[i, j]`` and
  ``softmax_over_i(S)[i, j]`` exceed the threshold (default 0.001). The distortion prior is not
  applied to it.

Units: with ``level='subword'`` (the default, SimAlign's ``token_type='bpe'`` and
awesome-align's only mode), the matrix is over subwords and a word pair is linked when any of
their subwords are linked; with ``level='word'`` (SimAlign's ``'word'``) each word's vector is
the mean of its subword vectors and the matrix is over words.

Vectors come from one hidden layer (``layer``: ``0`` = embedding output, ``1..L`` the
transformer layers, as in ``hidden_states[layer]``; SimAlign's and awesome-align's ``layer`` /
``align_layer`` index ``hidden_states`` the same way, default 8). Each sentence is encoded on its
own (its special tokens around it, no text prefix: SimAlign and awesome-align feed raw words, and
an E5 ``"query: "`` prefix would add context that neither of them sees), once per distinct
sentence, in length-sorted batches; the pass stops at the requested layer for BERT/RoBERTa-style
encoders. Similarity matrices are computed batched (padded, ``(B, M, N)``) on the encoder's
device; only ``match`` moves its matrices to the CPU (for the assignment solver).

Matrix-level functions (:func:`similarity_matrix`, :func:`apply_distortion`,
:func:`argmax_links`, :func:`itermax_links`, :func:`match_links`, :func:`softmax_links`) accept a
2-D ``(m, n)`` numpy array or torch tensor, or a padded batch ``(B, M, N)`` with per-item
``src_lens``/``tgt_lens``; they return boolean link matrices of the same shape and kind (numpy
in, numpy out; torch in, torch out on the same device). Padding cells are never linked.

Links are 0-based ``(source word, target word)`` tuples, as written in Pharaoh files.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from xlt.data.wordalign import space_tokenize
from xlt.models.encoder import Encoder, as_word_lists
from xlt.models.loading import load_encoder
from xlt.models.words import DEFAULT_WORD_PIECES, check_word_pieces

Link = tuple[int, int]

#: Extraction methods, in the order reports list them.
METHODS = ("argmax", "itermax", "match", "softmax")
#: Encoder precisions :class:`WordAligner` can run in.
DTYPES = ("float32", "bfloat16")
#: Similarity units: subwords (SimAlign ``bpe``, awesome-align) or mean-pooled words.
LEVELS = ("subword", "word")
#: SimAlign's and awesome-align's default layer (``hidden_states[8]``).
DEFAULT_LAYER = 8
#: awesome-align's default softmax threshold.
SOFTMAX_THRESHOLD = 1e-3
#: SimAlign's itermax defaults.
ITERMAX_MAX_COUNT = 2
ITERMAX_ALPHA = 0.9
#: Cells (pairs x rows x columns) per batch of similarity matrices.
MATRIX_BUDGET = 1 << 22
#: Pair indices of cut pairs :attr:`WordAligner.stats` lists (``truncated_pairs``); the count is always whole.
TRUNCATED_LISTED = 100


# =========================================================================== matrix level
def _torch():
    import torch  # lazy: xlt --help imports this module (through xlt.jobs), and torch takes about a second

    return torch


def _prepare(x: Any, src_lens: Any = None, tgt_lens: Any = None):
    """``(tensor (B, M, N), valid (B, M, N) bool, m (B,), n (B,), was_2d, was_numpy)``."""
    torch = _torch()
    was_numpy = not isinstance(x, torch.Tensor)
    t = torch.as_tensor(np.asarray(x)) if was_numpy else x
    if not t.is_floating_point():
        t = t.double()
    was_2d = t.dim() == 2
    if was_2d:
        t = t.unsqueeze(0)
    if t.dim() != 3:
        raise ValueError(f"expected an (m, n) matrix or a (batch, M, N) stack, got shape {tuple(t.shape)}")
    b, mm, nn = t.shape
    dev = t.device

    def lens(v, full):
        if v is None:
            return torch.full((b,), full, dtype=torch.long, device=dev)
        out = torch.as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v,
                              dtype=torch.long).reshape(-1).to(dev)
        if out.numel() != b:
            raise ValueError(f"{out.numel()} lengths for a batch of {b} matrices")
        if (out < 0).any() or (out > full).any():
            raise ValueError(f"lengths must lie in 0..{full}")
        return out

    m, n = lens(src_lens, mm), lens(tgt_lens, nn)
    return t, _valid_mask(m, n, mm, nn), m, n, was_2d, was_numpy


def _valid_mask(m, n, mm: int, nn: int):
    """``(B, mm, nn)`` bool: True inside each item's real ``m[b] x n[b]`` block."""
    torch = _torch()
    rows = torch.arange(mm, device=m.device)[None, :] < m[:, None]
    cols = torch.arange(nn, device=n.device)[None, :] < n[:, None]
    return rows[:, :, None] & cols[:, None, :]


def _finish(links, was_2d: bool, was_numpy: bool):
    if was_2d:
        links = links[0]
    return links.cpu().numpy() if was_numpy else links


def _onehot_argmax(scores, dim: int):
    """Boolean tensor with True at the first maximum along ``dim`` (numpy/torch tie rule)."""
    torch = _torch()
    out = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)
    return out.scatter_(dim, scores.argmax(dim=dim, keepdim=True), True)


def _argmax_t(sim, valid):
    s = sim.masked_fill(~valid, float("-inf"))
    return _onehot_argmax(s, 2) & _onehot_argmax(s, 1) & valid


def _itermax_t(sim, valid, m, n, max_count: int, alpha: float):
    torch = _torch()
    inter = _argmax_t(sim, valid)
    row_valid, col_valid = valid.any(2), valid.any(1)
    enabled = torch.minimum(m, n) > 2
    work = sim if sim.device.type == "mps" else sim.double()  # SimAlign multiplies in float64
    for _ in range(max_count - 1):
        free_row = ~inter.any(2) & row_valid  # (B, M): source units without a link
        free_col = ~inter.any(1) & col_valid  # (B, N)
        active = enabled & free_row.any(1) & free_col.any(1)
        if not bool(active.any()):
            break
        fr = free_row.to(work.dtype)[:, :, None]
        fc = free_col.to(work.dtype)[:, None, :]
        weight = (alpha * fr + alpha * fc).clamp(0.0, 1.0)
        either_free = free_row[:, :, None] | free_col[:, None, :]
        new = _argmax_t(work * weight, valid) & either_free & active[:, None, None]
        if not bool(new.any()):
            break  # nothing changed, so no later round could change anything either
        inter = inter | new
    return inter


def _match_t(sim, m, n):
    from scipy.optimize import linear_sum_assignment  # lazy: about a second to import, for one method only

    torch = _torch()
    arr = sim.detach().to("cpu", torch.float64).numpy()
    out = np.zeros(arr.shape, dtype=bool)
    for b, (mb, nb) in enumerate(zip(m.tolist(), n.tolist())):
        if mb == 0 or nb == 0:
            continue
        s = arr[b, :mb, :nb]
        r, c = linear_sum_assignment(s, maximize=True)
        keep = s[r, c] != 0  # an exact zero is no edge in SimAlign's sparse bipartite graph
        out[b, r[keep], c[keep]] = True
    return torch.from_numpy(out).to(sim.device)


def _softmax_t(scores, valid, threshold: float):
    torch = _torch()
    s = scores.masked_fill(~valid, float("-inf"))
    p_tgt = torch.softmax(s, dim=2)  # each source unit's distribution over target units
    p_src = torch.softmax(s, dim=1)  # each target unit's distribution over source units
    return (p_tgt > threshold) & (p_src > threshold) & valid  # NaN rows of padding compare False


def _distortion_t(sim, m, n, ratio: float):
    torch = _torch()
    if ratio == 0.0:
        return sim
    dt = sim.dtype if sim.device.type == "mps" else torch.float64
    _, mm, nn = sim.shape
    i = torch.arange(mm, device=sim.device, dtype=dt)[None, :, None] / (m - 1).clamp(min=1).to(dt)[:, None, None]
    j = torch.arange(nn, device=sim.device, dtype=dt)[None, None, :] / (n - 1).clamp(min=1).to(dt)[:, None, None]
    prior = 1.0 - ratio * (j - i) ** 2
    small = ((m < 2) | (n < 2))[:, None, None]
    prior = torch.where(small, torch.ones_like(prior), prior)
    return sim.to(dt) * prior


def similarity_matrix(src: Any, tgt: Any) -> Any:
    """SimAlign's similarity ``(cos(x_i, y_j) + 1) / 2`` in ``[0, 1]``.

    Args:
        src: ``(m, d)`` or ``(B, M, d)`` vectors (numpy or torch). tgt: ``(n, d)`` or ``(B, N, d)``.
            All-zero vectors (padding) get cosine 0, as scikit-learn's ``cosine_similarity``.

    Returns:
        ``(m, n)`` or ``(B, M, N)``, numpy if ``src`` was numpy, else torch on ``src``'s device.
    """
    torch = _torch()
    was_numpy = not isinstance(src, torch.Tensor)
    x = torch.as_tensor(np.asarray(src)) if was_numpy else src
    y = torch.as_tensor(np.asarray(tgt)) if not isinstance(tgt, torch.Tensor) else tgt
    y = y.to(x.device)
    xn = torch.nn.functional.normalize(x, dim=-1)
    yn = torch.nn.functional.normalize(y, dim=-1)
    sim = (torch.matmul(xn, yn.transpose(-1, -2)) + 1.0) / 2.0
    return sim.cpu().numpy() if was_numpy else sim


def distortion_prior(m: int, n: int, ratio: float) -> np.ndarray:
    """SimAlign's distortion mask ``1 - ratio * (j/(n-1) - i/(m-1))**2``, float64 ``(m, n)``.

    All ones when ``ratio == 0``, ``m < 2`` or ``n < 2``.
    """
    if ratio == 0.0 or m < 2 or n < 2:
        return np.ones((m, n))
    i = np.arange(m)[:, None] / float(m - 1)
    j = np.arange(n)[None, :] / float(n - 1)
    return 1.0 - ratio * (j - i) ** 2


def apply_distortion(sim: Any, ratio: float, src_lens: Any = None, tgt_lens: Any = None) -> Any:
    """``sim`` times SimAlign's distortion prior (per item, from its own lengths), in float64.

    ``ratio = 0`` returns ``sim`` unchanged. Shapes as in the module docstring.
    """
    t, valid, m, n, was_2d, was_numpy = _prepare(sim, src_lens, tgt_lens)
    out = _distortion_t(t, m, n, float(ratio)).masked_fill(~valid, 0.0)
    if was_2d:
        out = out[0]
    return out.cpu().numpy() if was_numpy else out


def argmax_links(sim: Any, src_lens: Any = None, tgt_lens: Any = None) -> Any:
    """SimAlign's ``argmax`` (intersection of row-wise and column-wise argmax).

    Args:
        sim: ``(m, n)`` or padded ``(B, M, N)`` similarities (numpy or torch).
        src_lens, tgt_lens: real sizes per batch item (default: the full ``M``/``N``).

    Returns:
        boolean links, same shape and kind as ``sim``. Ties go to the lowest index, as
        ``numpy.argmax``.
    """
    t, valid, _, _, was_2d, was_numpy = _prepare(sim, src_lens, tgt_lens)
    return _finish(_argmax_t(t, valid), was_2d, was_numpy)


def itermax_links(sim: Any, max_count: int = ITERMAX_MAX_COUNT, alpha_ratio: float = ITERMAX_ALPHA,
                  src_lens: Any = None, tgt_lens: Any = None) -> Any:
    """SimAlign's ``itermax`` (see the module docstring): argmax, then up to ``max_count - 1``
    rounds of argmax on the re-weighted matrix, adding the new links.

    Returns:
        boolean links, same shape and kind as ``sim``.
    """
    if int(max_count) < 1:
        raise ValueError(f"max_count must be >= 1, got {max_count}")
    t, valid, m, n, was_2d, was_numpy = _prepare(sim, src_lens, tgt_lens)
    return _finish(_itermax_t(t, valid, m, n, int(max_count), float(alpha_ratio)), was_2d, was_numpy)


def match_links(sim: Any, src_lens: Any = None, tgt_lens: Any = None) -> Any:
    """SimAlign's ``match``: maximum-weight matching of rows to columns (``min(m, n)`` links).

    Computed on the CPU with the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``,
    maximising); on a complete bipartite graph this is networkx's maximum-cardinality
    maximum-weight matching that SimAlign uses. Cells with similarity exactly 0 are not edges
    in SimAlign's graph and are never linked.

    Returns:
        boolean links, same shape and kind as ``sim``.
    """
    t, _, m, n, was_2d, was_numpy = _prepare(sim, src_lens, tgt_lens)
    return _finish(_match_t(t, m, n), was_2d, was_numpy)


def softmax_links(scores: Any, threshold: float = SOFTMAX_THRESHOLD, src_lens: Any = None,
                  tgt_lens: Any = None) -> Any:
    """awesome-align's extraction: softmax over target units (each row) and over source units
    (each column) of the dot-product ``scores``; link where both exceed ``threshold``.

    Returns:
        boolean links, same shape and kind as ``scores``.
    """
    t, valid, _, _, was_2d, was_numpy = _prepare(scores, src_lens, tgt_lens)
    return _finish(_softmax_t(t, valid, float(threshold)), was_2d, was_numpy)


def word_links(unit_links: Any, src_word_ids: Sequence[int], tgt_word_ids: Sequence[int]) -> set[Link]:
    """Subword (unit) links → word links: ``(w_src[i], w_tgt[j])`` for every linked ``(i, j)``.

    Args:
        unit_links: boolean ``(m, n)`` (numpy or torch).
        src_word_ids: the word index of each of the ``m`` source units; tgt_word_ids likewise.

    Returns:
        the set of 0-based word links (a word pair is linked if any of their units are).
    """
    arr = unit_links.cpu().numpy() if hasattr(unit_links, "cpu") else np.asarray(unit_links)
    ws, wt = np.asarray(src_word_ids), np.asarray(tgt_word_ids)
    if arr.shape != (len(ws), len(wt)):
        raise ValueError(f"links of shape {arr.shape} for {len(ws)} source and {len(wt)} target units")
    i, j = np.nonzero(arr)
    return set(zip(ws[i].tolist(), wt[j].tolist()))


def mean_pool_words(vectors: Any, word_ids: Sequence[int]) -> tuple[Any, np.ndarray]:
    """Average subword vectors per word (SimAlign's ``token_type='word'``).

    Args:
        vectors: ``(n_sub, d)`` (numpy or torch). word_ids: the word of each subword.

    Returns:
        ``(word_vectors, words)``: ``(k, d)`` means for the ``k`` distinct words that have
        subwords, in word order, and their word indices ``(k,)``.
    """
    torch = _torch()
    was_numpy = not isinstance(vectors, torch.Tensor)
    v = torch.as_tensor(np.asarray(vectors)) if was_numpy else vectors
    wid = np.asarray(word_ids, dtype=np.int64)
    words, inverse, counts = np.unique(wid, return_inverse=True, return_counts=True)
    pool = np.zeros((len(words), len(wid)), dtype=np.float32)
    pool[inverse, np.arange(len(wid))] = 1.0 / counts[inverse]
    out = torch.as_tensor(pool, device=v.device, dtype=v.dtype) @ v  # matmul: deterministic on CUDA
    return (out.cpu().numpy() if was_numpy else out), words


# =========================================================================== encoding
@dataclass
class SubwordVectors:
    """One hidden layer's subword vectors per sentence, from :func:`encode_subwords`.

    Attributes:
        vectors: per input sentence, a float32 torch tensor ``(n_sub, dim)`` on the encoder's
            device (the units: the pieces that stand for each word, in order, without special
            tokens, prefix or -- by default -- bare ``▁`` markers); identical input sentences
            share one tensor.
        word_ids: per sentence, int64 ``(n_sub,)``: the word index of each unit.
        n_words: per sentence, the number of input words.
        layer: the hidden-state index used (``0`` = embeddings).
        stats: ``n_sentences``, ``n_unique`` (sentences encoded), ``n_words``, ``n_subwords``,
            ``n_words_without_subwords`` (words the tokenizer turns into nothing: never aligned),
            ``n_truncated`` (input sentences cut at the model's length limit, repeated ones
            counted each time) and ``n_truncated_words`` (words lost entirely by that cut:
            never aligned), ``n_batches``, ``n_model_tokens``, ``n_padding_tokens``.
        truncated: indices (in input order) of the sentences that were cut.
    """

    vectors: list
    word_ids: list[np.ndarray]
    n_words: list[int]
    layer: int
    stats: dict[str, int] = field(default_factory=dict)
    truncated: list[int] = field(default_factory=list)


def encode_subwords(encoder: Encoder, sentences: Sequence[Sequence[str]], layer: int | str = DEFAULT_LAYER,
                    batch_size: int = 32, max_length: int | None = None, use_prefix: bool = False,
                    early_exit: bool = True, progress: bool = False,
                    word_pieces: str = DEFAULT_WORD_PIECES) -> SubwordVectors:
    """Subword vectors of one layer for pre-tokenised sentences, one encoder pass per distinct sentence.

    Each sentence is tokenised word by word and wrapped in the model's special tokens
    (:meth:`Encoder.word_inputs <xlt.models.encoder.Encoder.word_inputs>`), and run alone (no
    sentence pairs) through :meth:`Encoder.hidden_states <xlt.models.encoder.Encoder.hidden_states>`;
    sentences are sorted by length, longest first, into batches of ``batch_size``. The units
    returned for a word are the pieces that stand for it under ``word_pieces``: by default every
    piece but a bare SentencePiece ``▁`` marker (which would otherwise be a near-identical unit in
    front of most Japanese, Chinese and Thai words); ``'xtreme'``/``'mean_all'`` keep every piece,
    as SimAlign and awesome-align do. A sentence longer than ``max_length`` tokens (default: the
    model limit) is truncated, as SimAlign's tokenizer call does (counted in the stats, listed in
    ``truncated``).

    Args:
        encoder: the model and fast tokenizer.
        sentences: lists of words.
        layer: hidden-state index (``0`` = embeddings, negative from the end, or ``'last'``).
        batch_size: sentences per forward pass.
        max_length: input limit in tokens, special tokens included.
        use_prefix: put ``encoder.text_prefix`` (E5's ``"query: "``) before each sentence
            (its vectors are not returned). Off by default: SimAlign feeds raw words.
        early_exit: stop the forward pass at ``layer`` where the model allows it.
        progress: tqdm bar over batches.
        word_pieces: a setting of :data:`xlt.models.words.WORD_PIECES` (only which pieces are
            units and, for ``no_marker``/``text``, the input matter here).

    Returns:
        :class:`SubwordVectors`, in input order.

    Raises:
        ValueError: a layer outside the model, a list of layers, a non-positive batch size, or a
            ``max_length`` leaving no room for words.
    """
    torch = _torch()
    if isinstance(layer, (list, tuple)):
        raise ValueError("encode_subwords takes a single layer")
    (layer_id,), _ = encoder.resolve_layers(layer)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    sents = as_word_lists(sentences)
    index: dict[tuple[str, ...], int] = {}
    owner = []
    for s in sents:
        owner.append(index.setdefault(tuple(s), len(index)))
    uniq = list(index)
    copies = np.bincount(np.asarray(owner, dtype=np.int64), minlength=len(uniq)).tolist()
    stats = {"n_sentences": len(sents), "n_unique": len(uniq), "n_words": sum(len(s) for s in sents),
             "n_subwords": 0, "n_words_without_subwords": 0, "n_truncated": 0, "n_truncated_words": 0,
             "n_batches": 0, "n_model_tokens": 0, "n_padding_tokens": 0}

    seq_ids: list[list[int]] = [[] for _ in uniq]
    unit_pos: list[list[int]] = [[] for _ in uniq]  # model-input positions of each sentence's units
    wids: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in uniq]
    cut: set[int] = set()  # distinct sentences cut at max_length
    todo = [u for u, s in enumerate(uniq) if s]
    inputs = encoder.word_inputs([list(uniq[u]) for u in todo], word_pieces=word_pieces, prefix=use_prefix,
                                 max_length=max_length, unk=False)
    for u, wi in zip(todo, inputs):
        had = sum(1 for q in wi.pieces.pooled if q)
        kept = sum(1 for q in wi.positions if q)
        if wi.truncated:
            cut.add(u)
            stats["n_truncated"] += copies[u]
            stats["n_truncated_words"] += (had - kept) * copies[u]
        stats["n_words_without_subwords"] += (len(uniq[u]) - had) * copies[u]
        seq_ids[u] = wi.ids
        unit_pos[u] = [p for ps in wi.positions for p in ps]
        wids[u] = np.asarray([w for w, ps in enumerate(wi.positions) for _ in ps], dtype=np.int64)
        stats["n_subwords"] += len(unit_pos[u]) * copies[u]

    dim = encoder.hidden_size
    device = encoder.device
    vecs: list[Any] = [torch.zeros((0, dim), dtype=torch.float32, device=device) for _ in uniq]
    run = [u for u in todo if len(wids[u])]
    order = sorted(run, key=lambda u: (-len(seq_ids[u]), u))
    bar = tqdm(total=len(order), desc="encode", unit="sent", disable=not progress, leave=False)
    try:
        for b in range(0, len(order), batch_size):
            batch = order[b:b + batch_size]
            t_max = len(seq_ids[batch[0]])
            for u in batch:
                stats["n_model_tokens"] += len(seq_ids[u])
                stats["n_padding_tokens"] += t_max - len(seq_ids[u])
            h = encoder.hidden_states([seq_ids[u] for u in batch], layer_id, early_exit=early_exit)
            for r, u in enumerate(batch):
                vecs[u] = h[r, torch.as_tensor(unit_pos[u], dtype=torch.long, device=h.device)]
            stats["n_batches"] += 1
            bar.update(len(batch))
    finally:
        bar.close()
    return SubwordVectors(vectors=[vecs[o] for o in owner], word_ids=[wids[o] for o in owner],
                          n_words=[len(s) for s in sents], layer=layer_id, stats=stats,
                          truncated=[i for i, o in enumerate(owner) if o in cut])


# =========================================================================== aligner
def _as_pair(p: Any, k: int) -> tuple[list[str], list[str]]:
    try:
        src, tgt = p
    except (TypeError, ValueError):
        raise ValueError(f"pair {k} must be (source, target), got {p!r}") from None
    out = []
    for side in (src, tgt):
        words = space_tokenize(side) if isinstance(side, str) else list(side)
        if not all(isinstance(w, str) for w in words):
            raise ValueError(f"pair {k}: words must be strings, got {side!r}")
        out.append(words)
    return out[0], out[1]


def parse_methods(methods: str | Iterable[str]) -> tuple[str, ...]:
    """``'all'``, ``'argmax,match'`` or a list → a tuple of known methods (order kept, no repeats).

    Raises:
        ValueError: an unknown method name (the message lists the known ones).
    """
    items = methods.split(",") if isinstance(methods, str) else list(methods)
    out: list[str] = []
    for m in (x.strip() for x in items):
        if not m:
            continue
        names = METHODS if m == "all" else (m,)
        for name in names:
            if name not in METHODS:
                raise ValueError(f"unknown alignment method {name!r}; choose from {', '.join(METHODS)} or 'all'")
            if name not in out:
                out.append(name)
    if not out:
        raise ValueError(f"no alignment method given; choose from {', '.join(METHODS)} or 'all'")
    return tuple(out)


class WordAligner:
    """Align the words of sentence pairs with a multilingual encoder (SimAlign / awesome-align).

    Args:
        encoder: an :class:`~xlt.models.loading.Encoder` or a model spec to load
            (``bundled:e5-small``, a Hugging Face folder or id).
        layer: hidden-state index the vectors come from (``hidden_states[layer]``, ``0`` =
            embeddings; default 8, SimAlign's and awesome-align's default).
        methods: methods :meth:`align_all` computes (all from the same encoder pass):
            any of :data:`METHODS`, ``'all'``, or a comma-separated string.
        batch_size: sentences per forward pass.
        level: ``'subword'`` (default; SimAlign ``bpe``) or ``'word'`` (mean-pooled words).
        distortion: SimAlign's distortion ratio (0 = off) for argmax/itermax/match.
        softmax_threshold: awesome-align's threshold for ``softmax``.
        itermax_max_count, itermax_alpha: SimAlign's itermax settings (2 and 0.9).
        use_prefix: feed ``encoder.text_prefix`` before each sentence (off: see module docs).
        max_length: model input limit in tokens (default: the model's).
        device: where to load a model given as a spec (default: CUDA when available); an
            :class:`Encoder` stays where it is.
        chunk_pairs: sentence pairs encoded and aligned at a time (bounds memory).
        word_pieces: which subword pieces are a word's units (:data:`xlt.models.words.WORD_PIECES`;
            default: all but bare SentencePiece ``▁`` markers; ``'xtreme'``: every piece, as
            SimAlign and awesome-align).
        dtype: ``'float32'`` (default) or ``'bfloat16'``: run the encoder in bfloat16 (a copy of
            the model; the given :class:`Encoder` is left as it is). On CPUs with AMX or
            AVX512-BF16 this is several times faster; the vectors differ slightly, so alignments
            can differ in a few links. Similarities are always computed in float32.
        progress: tqdm bars.

    After :meth:`align_all` (or :meth:`align`), :attr:`stats` holds counts and timings of the
    call: ``n_pairs``, ``n_empty`` (pairs with an empty side, or whose words all lost their
    subwords: no links), the encoding counters of :class:`SubwordVectors` (``n_truncated``:
    sentences cut at the model's length limit, ``n_truncated_words``: words lost by that cut,
    never linked), ``n_truncated_pairs`` (pairs with a side cut), ``truncated_pairs`` (the
    0-based indices of the first :data:`TRUNCATED_LISTED` of them), ``max_length`` (the limit in
    tokens, special tokens included) and ``seconds`` (``encode``, ``align``, ``total``).
    """

    def __init__(self, encoder: Encoder | str, layer: int | str = DEFAULT_LAYER,
                 methods: str | Iterable[str] = ("argmax",), batch_size: int = 32, level: str = "subword",
                 distortion: float = 0.0, softmax_threshold: float = SOFTMAX_THRESHOLD,
                 itermax_max_count: int = ITERMAX_MAX_COUNT, itermax_alpha: float = ITERMAX_ALPHA,
                 use_prefix: bool = False, max_length: int | None = None, device: str | None = None,
                 chunk_pairs: int = 4096, dtype: str = "float32", progress: bool = False,
                 word_pieces: str = DEFAULT_WORD_PIECES) -> None:
        self.word_pieces = check_word_pieces(word_pieces)
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        if isinstance(encoder, str):
            encoder = load_encoder(encoder, device=device or "auto")
        if dtype != "float32":
            torch = _torch()
            encoder = dataclasses.replace(encoder, model=copy.deepcopy(encoder.model).to(getattr(torch, dtype)))
        self.dtype = dtype
        self.encoder = encoder
        (self.layer,), _ = encoder.resolve_layers(layer)
        self.methods = parse_methods(methods)
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        if not 0.0 < float(softmax_threshold) < 1.0:
            raise ValueError(f"softmax_threshold must be in (0, 1), got {softmax_threshold}")
        if float(distortion) < 0:
            raise ValueError(f"distortion must be >= 0, got {distortion}")
        if int(itermax_max_count) < 1:
            raise ValueError(f"itermax_max_count must be >= 1, got {itermax_max_count}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = batch_size
        self.level = level
        self.distortion = float(distortion)
        self.softmax_threshold = float(softmax_threshold)
        self.itermax_max_count = int(itermax_max_count)
        self.itermax_alpha = float(itermax_alpha)
        self.use_prefix = bool(use_prefix)
        self.max_length = max_length
        self.chunk_pairs = max(1, int(chunk_pairs))
        self.progress = progress
        self.stats: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        """The settings a report records (model description included)."""
        return {"model": self.encoder.describe(), "layer": self.layer, "methods": list(self.methods),
                "level": self.level, "distortion": self.distortion,
                "softmax_threshold": self.softmax_threshold,
                "itermax": {"max_count": self.itermax_max_count, "alpha_ratio": self.itermax_alpha},
                "use_prefix": self.use_prefix, "batch_size": self.batch_size, "dtype": self.dtype,
                "word_pieces": self.word_pieces,
                "similarity": "(cos + 1) / 2 for argmax/itermax/match; dot product for softmax"}

    def align(self, pairs: Sequence[Any], method: str | None = None) -> list[set[Link]]:
        """Links of one method (default: the first configured) per pair; see :meth:`align_all`."""
        method = method or self.methods[0]
        return self.align_all(pairs, methods=(method,))[method]

    def align_all(self, pairs: Sequence[Any], methods: str | Iterable[str] | None = None
                  ) -> dict[str, list[set[Link]]]:
        """Align every pair with every method from one encoder pass per distinct sentence.

        Args:
            pairs: ``(source, target)`` per pair, each a list of words or a string split on
                ASCII spaces. A pair with an empty side gets no links.
            methods: the methods to compute (default: the aligner's ``methods``).

        Returns:
            ``{method: [links of pair 0, links of pair 1, ...]}``, links as 0-based
            ``(source word, target word)`` tuples.
        """
        t0 = time.perf_counter()
        methods = self.methods if methods is None else parse_methods(methods)
        items = [_as_pair(p, k) for k, p in enumerate(pairs)]
        results: dict[str, list[set[Link]]] = {m: [set() for _ in items] for m in methods}
        live = [k for k, (s, t) in enumerate(items) if s and t]
        stats: dict[str, Any] = {"n_pairs": len(items), "n_empty": len(items) - len(live)}
        cut_pairs: list[int] = []
        t_enc = t_align = 0.0
        for c in range(0, len(live), self.chunk_pairs):
            part = live[c:c + self.chunk_pairs]
            ta = time.perf_counter()
            enc = encode_subwords(self.encoder, [w for k in part for w in items[k]], layer=self.layer,
                                  batch_size=self.batch_size, max_length=self.max_length,
                                  use_prefix=self.use_prefix, progress=self.progress,
                                  word_pieces=self.word_pieces)
            for key, v in enc.stats.items():
                stats[key] = stats.get(key, 0) + v
            cut_pairs.extend(sorted({part[x // 2] for x in enc.truncated}))  # sentence 2x / 2x + 1: pair x
            vecs, wids = enc.vectors, enc.word_ids
            if self.level == "word":
                pooled = [mean_pool_words(v, w) if len(w) else (v, w) for v, w in zip(vecs, wids)]
                vecs, wids = [p[0] for p in pooled], [np.asarray(p[1], dtype=np.int64) for p in pooled]
            tb = time.perf_counter()
            units = [(vecs[2 * x], wids[2 * x], vecs[2 * x + 1], wids[2 * x + 1]) for x in range(len(part))]
            stats["n_empty"] += self._align_units(part, units, methods, results)
            t_enc += tb - ta
            t_align += time.perf_counter() - tb
        stats["n_truncated_pairs"] = len(cut_pairs)
        stats["truncated_pairs"] = cut_pairs[:TRUNCATED_LISTED]
        stats["max_length"] = self.max_length or self.encoder.max_length
        stats["seconds"] = {"encode": t_enc, "align": t_align, "total": time.perf_counter() - t0}
        self.stats = stats
        return results

    def _align_units(self, part: list[int], units: list[tuple], methods: Sequence[str],
                     results: dict[str, list[set[Link]]]) -> int:
        """Align pairs given their unit vectors and unit→word maps; returns pairs without units."""
        torch = _torch()
        pad_sequence = torch.nn.utils.rnn.pad_sequence
        order = [x for x in range(len(part)) if len(units[x][1]) and len(units[x][3])]
        n_empty = len(part) - len(order)
        order.sort(key=lambda x: -(len(units[x][1]) * len(units[x][3])))
        device = self.encoder.device
        need_sim = any(m in ("argmax", "itermax", "match") for m in methods)
        b = 0
        while b < len(order):
            mm = nn = 0
            e = b
            while e < len(order):
                mm2, nn2 = max(mm, len(units[order[e]][1])), max(nn, len(units[order[e]][3]))
                if e > b and (e - b + 1) * mm2 * nn2 > MATRIX_BUDGET:
                    break
                mm, nn, e = mm2, nn2, e + 1
            batch = order[b:e]
            b = e
            src = pad_sequence([units[x][0] for x in batch], batch_first=True)
            tgt = pad_sequence([units[x][2] for x in batch], batch_first=True)
            ws = pad_sequence([torch.as_tensor(units[x][1]) for x in batch], batch_first=True,
                              padding_value=-1).to(device)
            wt = pad_sequence([torch.as_tensor(units[x][3]) for x in batch], batch_first=True,
                              padding_value=-1).to(device)
            m = torch.tensor([len(units[x][1]) for x in batch], device=device)
            n = torch.tensor([len(units[x][3]) for x in batch], device=device)
            valid = _valid_mask(m, n, src.shape[1], tgt.shape[1])
            with torch.inference_mode():
                sim = None
                if need_sim:
                    sim = similarity_matrix(src, tgt)
                    sim = _distortion_t(sim, m, n, self.distortion)
                for method in methods:
                    if method == "argmax":
                        links = _argmax_t(sim, valid)
                    elif method == "itermax":
                        links = _itermax_t(sim, valid, m, n, self.itermax_max_count, self.itermax_alpha)
                    elif method == "match":
                        links = _match_t(sim, m, n)
                    else:
                        dots = torch.matmul(src, tgt.transpose(1, 2))
                        links = _softmax_t(dots, valid, self.softmax_threshold)
                    self._collect(links, ws, wt, [part[x] for x in batch], results[method])
        return n_empty

    @staticmethod
    def _collect(links, ws, wt, pair_ids: list[int], out: list[set[Link]]) -> None:
        torch = _torch()
        nz = links.nonzero()
        if nz.numel() == 0:
            return
        bb = nz[:, 0]
        trip = torch.stack([bb, ws[bb, nz[:, 1]], wt[bb, nz[:, 2]]], 1).cpu().numpy()
        for k, i, j in np.unique(trip, axis=0).tolist():
            out[pair_ids[k]].add((i, j))


# =========================================================================== files
def method_output_path(out: str | Path, method: str, n_methods: int) -> Path:
    """Where ``xlt wordalign`` writes one method's links.

    One method: ``out`` itself. Several: ``{method}`` in ``out`` is replaced by the method name,
    else the name goes before the suffix (``runs/enfr.txt`` → ``runs/enfr.argmax.txt``; no suffix:
    ``runs/enfr`` → ``runs/enfr.argmax``).
    """
    text = str(out)
    if "{method}" in text:
        return Path(text.replace("{method}", method))
    p = Path(text)
    if n_methods == 1:
        return p
    return p.with_name(f"{p.stem}.{method}{p.suffix}") if p.suffix else p.with_name(f"{p.name}.{method}")
