"""Vocabulary extension and replacement: a tokenizer learnt on target text, embeddings from the old ones.

A language the multilingual vocabulary covers badly is cut into many short pieces. Learning a
new Unigram tokenizer on its text (Kudo 2018, through the ``tokenizers`` library, with the old
tokenizer's normaliser and pre-tokeniser) gives it pieces of its own; the new pieces then need
embeddings. Random ones throw away what the model knows; WECHSEL (Minixhofer et al. 2022) and
FOCUS (Dobler & de Melo 2023) initialise them from the old embeddings:

* a new piece that is also an old piece (the *overlap*) keeps its old embedding;
* any other new piece gets a combination of the overlapping pieces' embeddings, weighted by how
  similar the pieces are in an auxiliary embedding space learnt on the target text. FOCUS uses
  fastText vectors and sparsemax weights; here the auxiliary vectors are a truncated SVD of the
  pieces' positive PMI co-occurrence matrix in a ±``window`` context on the target text (Levy &
  Goldberg 2014 show PPMI-SVD and skip-gram embeddings to be close), and the weights are
  sparsemax (Martins & Astudillo 2016) of the cosine similarities to the overlapping pieces, as
  in FOCUS. A piece without co-occurrence data falls back to the mean of the old embeddings of the
  old tokenizer's pieces of its string (Gee et al. 2022, "Fast Vocabulary Transfer").

``mode='replace'`` uses the new tokenizer alone (the FOCUS/WECHSEL setting); ``mode='extend'``
appends the new pieces that the old vocabulary lacks to it (old pieces keep their ids and
embeddings; a new piece's Unigram score is its score in the new model shifted so that the two
models' medians agree). The random baseline draws new rows from a normal distribution with the old
matrix's mean and standard deviation.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import svds
from tokenizers import Tokenizer, models, trainers
from transformers import PreTrainedTokenizerFast

from xlt.models.loading import Encoder

__all__ = ["INITS", "MODES", "ExtendResult", "extend_vocabulary", "sparsemax", "train_unigram"]

MODES = ("extend", "replace")
INITS = ("focus", "random")


def sparsemax(z: np.ndarray) -> np.ndarray:
    """Sparsemax of a vector (Martins & Astudillo 2016): the Euclidean projection onto the simplex;
    a probability vector with exact zeros. ``z``: ``(n,)``; returns ``(n,)`` summing to 1."""
    z = np.asarray(z, dtype=np.float64)
    s = np.sort(z)[::-1]
    cs = np.cumsum(s)
    k = np.arange(1, len(z) + 1)
    support = 1 + k * s > cs
    kz = k[support][-1]
    tau = (cs[support][-1] - 1) / kz
    return np.maximum(z - tau, 0.0)


def train_unigram(tokenizer, texts: Sequence[str], vocab_size: int):
    """A Unigram tokenizer (``tokenizers`` backend) learnt on ``texts`` with ``tokenizer``'s normaliser,
    pre-tokeniser and decoder, its special tokens first (in the old id order).

    Raises:
        ValueError: the old tokenizer is not a SentencePiece-style (Metaspace) Unigram one.
    """
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if spec["model"].get("type") != "Unigram":
        raise ValueError(f"a new vocabulary is learnt for Unigram (SentencePiece) tokenizers; this one is "
                         f"{spec['model'].get('type')}")
    specials = [t["content"] for t in sorted(spec.get("added_tokens") or [], key=lambda t: t["id"])]
    new = Tokenizer(models.Unigram())
    backend = tokenizer.backend_tokenizer
    new.normalizer, new.pre_tokenizer, new.decoder = backend.normalizer, backend.pre_tokenizer, backend.decoder
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token=tokenizer.unk_token,
                                      show_progress=False)
    new.train_from_iterator(list(texts), trainer=trainer)
    return new


def _aux_vectors(ids: list[list[int]], n_vocab: int, dim: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """PPMI-SVD piece vectors ``(n_vocab, dim)`` from co-occurrence within ``window`` pieces, and which
    pieces have any co-occurrence (``(n_vocab,)`` bool)."""
    rows, cols = [], []
    for seq in ids:
        for i, a in enumerate(seq):
            for j in range(max(0, i - window), min(len(seq), i + window + 1)):
                if j != i:
                    rows.append(a)
                    cols.append(seq[j])
    m = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vocab, n_vocab)).tocsr()
    m.sum_duplicates()
    total = m.sum()
    row = np.asarray(m.sum(axis=1)).ravel()
    col = np.asarray(m.sum(axis=0)).ravel()
    m = m.tocoo()
    pmi = np.log(m.data * total / (row[m.row] * col[m.col]))
    keep = pmi > 0
    ppmi = coo_matrix((pmi[keep], (m.row[keep], m.col[keep])), shape=(n_vocab, n_vocab)).tocsr()
    k = max(2, min(dim, min(ppmi.shape) - 1))
    u, s, _ = svds(ppmi.astype(np.float64), k=k)
    vec = u * np.sqrt(s)
    return vec, row > 0


@dataclass
class ExtendResult:
    """What :func:`extend_vocabulary` did.

    Attributes:
        mode, init: as asked. vocab_before, vocab_after: sizes. overlap: new-tokenizer pieces found
            in the old vocabulary (copied). initialised: pieces initialised from the old embeddings by
            similarity (``focus``) or drawn at random (``random``). fallback: ``focus`` pieces without
            co-occurrence data, initialised from their old pieces' mean. tokens_per_word: target text's
            pieces per word, old and new tokenizer.
    """

    mode: str
    init: str
    vocab_before: int
    vocab_after: int
    overlap: int
    initialised: int
    fallback: int = 0
    tokens_per_word: dict = field(default_factory=dict)


def extend_vocabulary(encoder, texts: Sequence[str], *, vocab_size: int = 8000, mode: str = "extend",
                      init: str = "focus", aux_dim: int = 100, window: int = 5, seed: int = 0):
    """A copy of ``encoder`` with a vocabulary learnt on ``texts`` (a target language's sentences).

    Args:
        encoder: a loaded :class:`~xlt.models.loading.Encoder` with a Unigram tokenizer (unchanged).
        texts: target-language sentences the new tokenizer is learnt on.
        vocab_size: the new tokenizer's size (before merging with the old one in ``extend`` mode).
        mode: ``extend`` (old vocabulary + new pieces) or ``replace`` (the new tokenizer alone).
        init: ``focus`` (overlap copied, the rest from similar overlapping pieces) or ``random``.
        aux_dim, window: the auxiliary PPMI-SVD space. seed: the random draws.

    Returns:
        ``(new_encoder, ExtendResult)``.

    Raises:
        ValueError: an unknown mode or init, too few texts, or a tokenizer that is not Unigram.
    """
    if mode not in MODES or init not in INITS:
        raise ValueError(f"mode must be one of {MODES} and init one of {INITS}, got {mode!r}, {init!r}")
    if len(texts) < 10:
        raise ValueError(f"a vocabulary needs more text than {len(texts)} sentences")
    old_tok = encoder.tokenizer
    new_backend = train_unigram(old_tok, texts, vocab_size)
    new_spec = json.loads(new_backend.to_str())
    old_spec = json.loads(old_tok.backend_tokenizer.to_str())
    old_vocab = {p: i for i, (p, _) in enumerate(old_spec["model"]["vocab"])}
    if mode == "replace":
        merged = new_spec
    else:
        old_scores = np.array([s for _, s in old_spec["model"]["vocab"]][len(old_spec.get("added_tokens") or []):])
        new_items = [(p, s) for p, s in new_spec["model"]["vocab"] if p not in old_vocab]
        shift = float(np.median(old_scores)) - float(np.median([s for _, s in new_items])) if new_items else 0.0
        merged = copy.deepcopy(old_spec)
        merged["model"]["vocab"] = old_spec["model"]["vocab"] + [[p, s + shift] for p, s in new_items]
    pieces = [p for p, _ in merged["model"]["vocab"]]
    backend = Tokenizer.from_str(json.dumps(merged))
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=old_tok.model_max_length,
                                  **old_tok.special_tokens_map)
    old_emb = encoder.model.get_input_embeddings().weight.detach().cpu().numpy().astype(np.float64)
    n_new, dim = len(pieces), old_emb.shape[1]
    emb = np.zeros((n_new, dim))
    known = np.array([p in old_vocab for p in pieces])
    for i, p in enumerate(pieces):
        if known[i]:
            emb[i] = old_emb[old_vocab[p]]
    todo = np.flatnonzero(~known)
    rng = np.random.default_rng(seed)
    fallback = 0
    if init == "random":
        emb[todo] = rng.normal(old_emb.mean(), old_emb.std(), size=(len(todo), dim))
    elif len(todo):
        ids = tok(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        used = sorted({i for seq in ids for i in seq})  # the co-occurrence space: pieces the text uses
        compact = {old: new for new, old in enumerate(used)}
        vec, any_co = _aux_vectors([[compact[i] for i in seq] for seq in ids], len(used), aux_dim, window)
        aux = np.zeros((n_new, vec.shape[1]))
        seen = np.zeros(n_new, dtype=bool)
        aux[used], seen[used] = vec, any_co
        aux = aux / np.maximum(np.linalg.norm(aux, axis=1, keepdims=True), 1e-12)
        anchors = np.flatnonzero(known & seen)
        for i in todo:
            if seen[i] and len(anchors):
                w = sparsemax(aux[anchors] @ aux[i])
                emb[i] = w @ old_emb[anchors]
            else:  # no co-occurrence: the mean of the old pieces of the piece's string (FVT)
                sub = old_tok(pieces[i].replace("\u2581", " "), add_special_tokens=False)["input_ids"]
                emb[i] = old_emb[sub].mean(0) if sub else old_emb.mean(0)
                fallback += 1
    model = copy.deepcopy(encoder.model)
    new_layer = torch.nn.Embedding(n_new, dim)
    with torch.no_grad():
        new_layer.weight.copy_(torch.as_tensor(emb, dtype=new_layer.weight.dtype))
    model.set_input_embeddings(new_layer)
    model.config.vocab_size = n_new
    if tok.pad_token_id is not None:
        model.config.pad_token_id = tok.pad_token_id

    def per_word(t) -> float:
        words = sum(len(s.split()) for s in texts[:500]) or 1
        return sum(len(x) for x in t(list(texts[:500]), add_special_tokens=False, verbose=False)["input_ids"]) / words

    overlap = sum(p in old_vocab for p, _ in new_spec["model"]["vocab"])
    result = ExtendResult(mode, init, len(old_tok), n_new, overlap, len(todo) - fallback, fallback,
                          {"old": per_word(old_tok), "new": per_word(tok)})
    info = dict(encoder.info, vocabulary={"mode": mode, "init": init, "size": n_new})
    out = Encoder(model=model.eval(), tokenizer=tok, spec=f"{encoder.spec} ({mode}ed vocabulary)",
                  text_prefix=encoder.text_prefix, fingerprint=f"{encoder.fingerprint}:{mode}:{init}:{n_new}:{seed}",
                  info=info)
    return out, result
