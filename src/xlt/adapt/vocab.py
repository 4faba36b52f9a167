"""Vocabulary trimming: keep the subword pieces that the languages a user serves actually use.

A multilingual encoder's embedding matrix is most of its size (multilingual-e5-small: 96M of its
118M parameters are the 250k-piece matrix), and one user's languages use a small part of it.
Trimming (Abdaoui et al. 2020, "Load What You Need: Smaller Versions of Multilingual BERT";
Ushio et al. 2023, "An Efficient Multilingual Language Model Compression through Vocabulary
Trimming") keeps the pieces that the given languages' text uses, plus the special tokens and any
piece above a frequency floor, and re-indexes the tokenizer and the embedding rows.

For a Unigram (SentencePiece) tokenizer the segmentation of any text whose pieces are all kept is
unchanged: the best segmentation under the full vocabulary is still available and no new one is
added. The same holds for WordPiece's greedy longest match (a removed piece was never the longest
match in that text). So on the text the vocabulary was trimmed with, the trimmed model computes
exactly what the full one did (:func:`trim_vocabulary` checks it). Other text of those languages
can meet a piece that was dropped; text of other languages will: its characters may become
``<unk>`` (:func:`unknown_rate` measures it).

BPE tokenizers are not trimmed (dropping pieces breaks the merge list).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["MIN_SENTENCES", "TrimResult", "VocabularyError", "outside_trimmed", "piece_counts", "trim_vocabulary",
           "unknown_rate"]

#: The least text per language that trimming accepts: a vocabulary trimmed with less drops pieces
#: of everyday words of that language.
MIN_SENTENCES = 200


class VocabularyError(ValueError):
    """A vocabulary that cannot be changed as asked: a tokenizer kind that cannot be trimmed, too little text."""


def _all_ids(tokenizer, texts: Sequence[str], prefix: str) -> list[list[int]]:
    enc = tokenizer([prefix + t for t in texts], add_special_tokens=True, verbose=False)
    return enc["input_ids"]


def piece_counts(tokenizer, texts: Sequence[str], prefix: str = "") -> Counter:
    """How often each piece id occurs when ``tokenizer`` encodes ``prefix + text`` for every text."""
    c: Counter = Counter()
    for ids in _all_ids(tokenizer, texts, prefix):
        c.update(ids)
    return c


def unknown_rate(tokenizer, texts: Sequence[str], prefix: str = "") -> float:
    """The share (percent) of a text's tokens that ``tokenizer`` maps to its unknown piece (0 without one)."""
    unk = tokenizer.unk_token_id
    ids = [i for row in _all_ids(tokenizer, texts, prefix) for i in row]
    if unk is None or not ids:
        return 0.0
    return 100.0 * sum(i == unk for i in ids) / len(ids)


@dataclass
class TrimResult:
    """What :func:`trim_vocabulary` did.

    Attributes:
        kept_ids: old piece ids kept, ascending (new id ``k`` is old id ``kept_ids[k]``).
        vocab_before, vocab_after: tokenizer vocabulary sizes. rows_before: embedding rows before.
        parameters_before, parameters_after: model parameters.
        per_language: language -> ``{"sentences", "tokens", "pieces"}`` (distinct pieces it uses).
        min_count: the frequency floor used.
    """

    kept_ids: list[int]
    vocab_before: int
    vocab_after: int
    rows_before: int
    parameters_before: int
    parameters_after: int
    per_language: dict[str, dict] = field(default_factory=dict)
    min_count: int = 1

    def describe(self) -> dict:
        """A JSON-able summary (without the id list)."""
        return {"vocab_before": self.vocab_before, "vocab_after": self.vocab_after,
                "rows_before": self.rows_before, "parameters_before": self.parameters_before,
                "parameters_after": self.parameters_after, "min_count": self.min_count,
                "per_language": self.per_language}


def _remap_post_processor(node, new_id: Mapping[int, int]):
    """The tokenizer's post-processor (template, RoBERTa or BERT style, or a sequence of them)
    with every special-token id renumbered."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "ids" and isinstance(v, list):
                out[k] = [new_id[int(i)] for i in v]
            elif k in ("sep", "cls") and isinstance(v, list) and len(v) == 2 and isinstance(v[1], int):
                out[k] = [v[0], new_id[v[1]]]
            else:
                out[k] = _remap_post_processor(v, new_id)
        return out
    if isinstance(node, list):
        return [_remap_post_processor(v, new_id) for v in node]
    return node


def _trimmed_tokenizer(tokenizer, kept: list[int]):
    """A fast tokenizer with only the ``kept`` piece ids, renumbered in order.

    Raises:
        VocabularyError: not a Unigram or WordPiece tokenizer.
    """
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec["model"]
    new_id = {old: new for new, old in enumerate(kept)}
    kind = model.get("type")
    if kind == "Unigram":
        vocab = model["vocab"]
        model["vocab"] = [vocab[i] for i in kept]
        if model.get("unk_id") is not None:
            model["unk_id"] = new_id[model["unk_id"]]
    elif kind == "WordPiece":
        by_id = {i: p for p, i in model["vocab"].items()}
        model["vocab"] = {by_id[old]: new for new, old in enumerate(kept)}
    else:
        raise VocabularyError(f"the model's tokenizer is {kind or 'of an unknown kind'}; only Unigram (SentencePiece) "
                              "and WordPiece vocabularies can be trimmed (dropping BPE pieces breaks its merges)")
    for tok in spec.get("added_tokens") or []:
        tok["id"] = new_id[tok["id"]]
    if spec.get("post_processor"):
        spec["post_processor"] = _remap_post_processor(spec["post_processor"], new_id)
    backend = Tokenizer.from_str(json.dumps(spec))
    return PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=tokenizer.model_max_length,
                                   **tokenizer.special_tokens_map)


def trim_vocabulary(encoder, texts: Mapping[str, Sequence[str]], *, min_count: int = 1,
                    min_sentences: int = MIN_SENTENCES, check: bool = True):
    """A copy of ``encoder`` whose vocabulary keeps only the pieces ``texts`` use.

    Args:
        encoder: a loaded :class:`~xlt.models.loading.Encoder` (left unchanged).
        texts: language -> sentences; every language's text is encoded as the encoder encodes input
            (its text prefix included).
        min_count: keep a piece that occurs at least this often in all the text together (1 = every
            piece seen; larger drops rare pieces: smaller, but then the text's own rare words change).
        min_sentences: the least text per language (see :data:`MIN_SENTENCES`).
        check: re-encode every text with the trimmed tokenizer and require the same pieces.

    Returns:
        ``(trimmed_encoder, TrimResult)``: the new encoder's model has ``len(kept)`` embedding rows
        (rows of the kept ids, in order); the special tokens are always kept.

    Raises:
        VocabularyError: no languages, a language with fewer than ``min_sentences`` sentences
        (names it and the count), a tokenizer that cannot be trimmed, or (``check``) a text the
        trimmed tokenizer segments differently.
    """
    from xlt.models.loading import Encoder

    if not texts:
        raise VocabularyError("trimming needs the text of at least one language")
    short = {l: len(t) for l, t in texts.items() if len(t) < min_sentences}
    if short:
        raise VocabularyError("too little text to trim the vocabulary for: " + ", ".join(
            f"{l} ({n} sentences)" for l, n in short.items()) + f"; give at least {min_sentences} sentences per "
            "language (a text file with one sentence per line: --text LANG=FILE)")
    if min_count < 1:
        raise VocabularyError(f"min_count must be >= 1, got {min_count}")
    tok, model = encoder.tokenizer, encoder.model
    counts: Counter = Counter()
    per_language = {}
    for lang, t in texts.items():
        c = piece_counts(tok, list(t), encoder.text_prefix)
        counts.update(c)
        per_language[lang] = {"sentences": len(t), "tokens": int(sum(c.values())), "pieces": len(c)}
    special = set(tok.all_special_ids) | {t.get("id") for t in json.loads(tok.backend_tokenizer.to_str()).get(
        "added_tokens") or []}
    kept = sorted({i for i, n in counts.items() if n >= min_count} | {i for i in special if i is not None})
    new_tok = _trimmed_tokenizer(tok, kept)
    trimmed = copy.deepcopy(model)
    old = model.get_input_embeddings()
    emb = torch.nn.Embedding(len(kept), old.weight.shape[1], padding_idx=None)
    with torch.no_grad():
        emb.weight.copy_(old.weight[torch.as_tensor(kept)])
    trimmed.set_input_embeddings(emb)
    trimmed.config.vocab_size = len(kept)
    pad = tok.pad_token_id
    if pad is not None and getattr(trimmed.config, "pad_token_id", None) is not None:
        trimmed.config.pad_token_id = kept.index(pad)
    for name in ("bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id"):
        v = getattr(trimmed.config, name, None)
        if isinstance(v, int) and v in set(kept):
            setattr(trimmed.config, name, kept.index(v))
    if check:
        new_of = {o: n for n, o in enumerate(kept)}
        for lang, t in texts.items():
            before = _all_ids(tok, list(t), encoder.text_prefix)
            after = _all_ids(new_tok, list(t), encoder.text_prefix)
            for k, (a, b) in enumerate(zip(before, after)):
                if [new_of.get(i, -1) for i in a] != list(b):
                    raise VocabularyError(f"{lang}: sentence {k + 1} is segmented differently after trimming "
                                          f"({t[k][:60]!r}); this tokenizer's pieces do not trim cleanly")
    n_before = sum(p.numel() for p in model.parameters())
    n_after = sum(p.numel() for p in trimmed.parameters())
    info = dict(encoder.info, trimmed_for=sorted(texts), vocab_before=len(tok), vocab_after=len(kept))
    out = Encoder(model=trimmed.eval(), tokenizer=new_tok, spec=f"{encoder.spec} (trimmed: {', '.join(sorted(texts))})",
                  text_prefix=encoder.text_prefix, fingerprint=f"{encoder.fingerprint}:trim:{_digest(kept)}",
                  info=info)
    return out, TrimResult(kept, len(tok), len(kept), int(old.weight.shape[0]), n_before, n_after, per_language,
                           min_count)


def _digest(ids: Sequence[int]) -> str:
    import hashlib

    return hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()[:12]


def outside_trimmed(encoder, texts: Mapping[str, Sequence[str]], sample: int = 200) -> dict[str, float]:
    """For an encoder whose vocabulary was trimmed (``info["trimmed_for"]``), the languages of
    ``texts`` outside that set and the share (percent) of their tokens that become ``<unk>``
    (on up to ``sample`` sentences each). An untrimmed encoder gives ``{}``."""
    from xlt.data.langs import denote_same

    kept = encoder.info.get("trimmed_for") or []
    if not kept:
        return {}

    return {lang: unknown_rate(encoder.tokenizer, list(t)[:sample], encoder.text_prefix)
            for lang, t in texts.items() if not any(denote_same(k, lang) for k in kept)}

