"""Fine-tuning alignment of a multilingual encoder on word-aligned sentence pairs.

Implements the alignment procedure of Cao, Kitaev & Klein 2020, "Multilingual Alignment of
Contextual Word Representations" (ICLR): the encoder ``f`` itself is fine-tuned so that the
contextual vector of a target-language word moves onto the vector of the English word it is
aligned to, while a regulariser keeps the English vectors where the original model ``f0`` put
them (so a task head trained on English vectors of ``f0`` still fits the aligned model).

For a batch of sentence pairs with word links ``(s, t)`` (source = English word ``s``, target
word ``t``; e.g. from :class:`xlt.align.words.WordAligner` argmax), the training objective is

* ``loss='l2'`` (Cao et al.): ``mean_links ||f(t) - f(s)||² + reg_weight *
  mean_source_words ||f(s) - f0(s)||²``. Cao et al. *sum* over links; the mean over the batch's
  links is used here so that the learning rate does not depend on the batch size.
* ``loss='contrastive'`` (an InfoNCE variant): for each link, ``f(t)`` must pick ``f(s)`` among
  the vectors of *all* source words of the batch (cosine similarity / ``temperature``,
  cross-entropy), and symmetrically ``f(s)`` must pick ``f(t)`` among all target words of the
  batch; the two cross-entropies are averaged. Other words linked to the same word (one-to-many
  links) are masked out of the negatives. The same regulariser is added.

Word vectors are exactly those :meth:`Encoder.encode_words <xlt.models.encoder.Encoder.encode_words>`
gives with ``pooling='first'`` and the same ``word_pieces`` setting (:mod:`xlt.models.words`): each sentence
is encoded *on its own*, with the words of ``encoder.text_prefix`` (E5's ``"query:"``) in front and
the tokenizer's special tokens around, and a word's vector is the hidden state of the piece that
stands for it (by default its first piece that is not a bare ``▁`` marker) at ``layer`` (``hidden_states[layer]``:
``-1`` = last layer, the default as in Cao et al.; ``0`` = embedding output). Sentences longer
than ``max_length`` tokens are truncated (as ``encode_words(long_inputs='truncate')``); links to
words that lost their first subword, or whose word produced no subword at all (such a word is
still fed as the unknown token, as ``encode_words`` does, but never trained on), are dropped and
counted.

Training: a deep copy of the model is trained (the given encoder is left unchanged and serves as
the frozen ``f0``); AdamW (no weight decay: the regulariser is what keeps the model close to the
original, and decay towards zero would move the English vectors too), linear warm-up over the
first ``warmup`` share of steps then linear decay to 0, gradient-norm clipping at 1.0, the word
embedding matrix frozen by default. **Dropout is off** during training (the copy stays in eval
mode; gradients flow as usual): with dropout the regulariser would compare noisy vectors with
clean ``f0`` vectors and never reach 0 for an unchanged model, and results are deterministic
for a given seed. Each epoch visits the pairs in a seeded random order; pairs are length-sorted
within chunks of :data:`SORT_CHUNK` batches (less padding) and the batches are then shuffled.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from xlt.core.io import write_json
from xlt.core.outputs import check_output_folder, staged_folder
from xlt.models.encoder import Encoder
from xlt.models.export import write_export_folder
from xlt.models.words import DEFAULT_WORD_PIECES

#: Alignment losses :func:`finetune_alignment` knows.
LOSSES = ("l2", "contrastive")
#: Maximum gradient norm (clipping).
GRAD_CLIP = 1.0
#: AdamW weight decay (none; see the module docs).
WEIGHT_DECAY = 0.0
#: Pairs are length-sorted within chunks of this many batches before batching.
SORT_CHUNK = 50
#: The method's reference, as written into ``xlt_alignment.json``.
PAPER = ("Cao, Kitaev & Klein 2020, Multilingual Alignment of Contextual Word Representations "
         "(ICLR)")


@dataclass
class AlignmentExample:
    """One word-aligned sentence pair for :func:`finetune_alignment` (Cao et al. 2020).

    Attributes:
        lang: target language code (used for counts and metadata only).
        source: the English (source-language) words, ``m`` strings.
        target: the target-language words, ``n`` strings.
        links: 0-based ``(source word, target word)`` pairs with ``0 <= s < m`` and
            ``0 <= t < n`` (e.g. from :class:`xlt.align.words.WordAligner` argmax); any
            iterable of pairs is accepted, duplicates count once.
    """

    lang: str
    source: list[str]
    target: list[str]
    links: set[tuple[int, int]] = field(default_factory=set)


@dataclass
class FinetuneAlignmentResult:
    """What :func:`finetune_alignment` returns.

    Attributes:
        encoder: the fine-tuned encoder, in eval mode on the input encoder's device: a deep
            copy of the input model (the input encoder is unchanged) sharing its tokenizer,
            with the same ``spec`` and ``text_prefix``, a new ``fingerprint``
            (``"<base fingerprint>+align-finetune:<hash of the trained weights>"``, so
            feature caches never mix it up with the base model) and
            ``info['alignment']`` describing the training (method, loss, languages,
            hyperparameters, base model spec/fingerprint).
        history: one dict per epoch: ``epoch``, ``steps`` (optimizer steps so far),
            ``loss``, ``align_loss``, ``reg_loss`` (means over the epoch's batches; ``loss =
            align_loss + reg_weight * reg_loss``), ``lr`` (at the epoch's last step) and
            ``seconds`` (since the start of training).
        stats: ``n_examples`` (pairs given), ``n_pairs_used``, ``n_pairs_skipped`` (no usable
            link), ``n_links`` (links given), ``n_links_used``, ``n_links_dropped`` (a word
            without subwords or truncated past ``max_length``), ``n_source_words`` (source
            words in the regulariser per epoch), ``n_truncated_sentences``, ``languages``
            (``{lang: pairs used}``), ``max_length`` (effective), ``epochs``, ``steps``,
            ``seconds``.
    """

    encoder: Encoder
    history: list[dict]
    stats: dict


@dataclass
class _Pair:
    """One tokenised pair: model inputs and first-subword positions (``-1`` = unusable word)."""

    index: int
    src_ids: list[int]
    tgt_ids: list[int]
    src_first: list[int]
    tgt_first: list[int]
    links: list[tuple[int, int]]  # usable links only


# --------------------------------------------------------------------------- checks
def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_words(words: Any, what: str, i: int) -> list[str]:
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise ValueError(  # noqa: TRY004 -- bad input values are ValueErrors throughout xlt
            f"example {i}: {what} must be a list of words, got {type(words).__name__}")
    out = list(words)
    for w in out:
        if not isinstance(w, str):
            raise ValueError(f"example {i}: {what} contains a non-string word {w!r}")  # noqa: TRY004
    return out


def _check_links(links: Iterable[Any], m: int, n: int, i: int) -> list[tuple[int, int]]:
    if isinstance(links, (str, bytes)) or not isinstance(links, Iterable):
        raise ValueError(  # noqa: TRY004
            f"example {i}: links must be an iterable of (source, target) pairs")
    out: set[tuple[int, int]] = set()
    for link in links:
        try:
            s, t = link
        except (TypeError, ValueError):
            raise ValueError(f"example {i}: link {link!r} is not a (source, target) pair") from None
        if (isinstance(s, bool) or isinstance(t, bool)
                or not isinstance(s, (int, np.integer)) or not isinstance(t, (int, np.integer))):
            raise ValueError(f"example {i}: link {link!r} has non-integer word indices")  # noqa: TRY004
        if not (0 <= s < m and 0 <= t < n):
            raise ValueError(f"example {i}: link {(int(s), int(t))} outside the sentence pair "
                             f"({m} source words, {n} target words; links are 0-based)")
        out.add((int(s), int(t)))
    return sorted(out)


# --------------------------------------------------------------------------- tokenisation
def _tokenize(encoder: Encoder, sentences: list[list[str]], max_len: int,
              word_pieces: str = DEFAULT_WORD_PIECES) -> tuple[list[tuple[list[int], list[int]]], int]:
    """Model inputs built exactly as :meth:`Encoder.encode_words <xlt.models.encoder.Encoder.encode_words>`
    builds them with ``long_inputs='truncate'`` (:meth:`Encoder.word_inputs
    <xlt.models.encoder.Encoder.word_inputs>`: the same word ↔ subword mapping, the text prefix; its
    cut at the limit keeps whole leading words and cuts the first word that does not fit, as
    ``encode_words`` does).

    Returns:
        ``(items, n_truncated)``: per sentence ``(token ids, position of the piece that stands
        for each word)`` where the position is ``-1`` for a word without subwords (fed as the
        unknown token, never trained on) or whose piece was cut off by truncation.
    """
    unk = getattr(encoder.tokenizer, "unk_token_id", None) is not None
    inputs = encoder.word_inputs(sentences, word_pieces=word_pieces, max_length=max_len, unk=unk)
    items = []
    for wi in inputs:
        fed_as_unk = set(wi.pieces.unk_words)
        items.append((wi.ids, [-1 if w in fed_as_unk else wi.first(w) for w in range(len(wi.positions))]))
    return items, sum(wi.truncated for wi in inputs)


# --------------------------------------------------------------------------- forward


@dataclass
class _Batch:
    """Index tensors of one batch (rows into the stacked ``[sources; targets]`` inputs)."""

    seqs: list[list[int]]
    src_rc: tuple[Any, Any]  # (row, col) of every usable source word
    tgt_rc: tuple[Any, Any]  # (row, col) of every usable target word
    link_src: Any  # (L,) index into the source words
    link_tgt: Any  # (L,) index into the target words


def _make_batch(pairs: list[_Pair], device: Any) -> _Batch:
    import torch  # lazy, here and below: xlt --help imports this module (through xlt.jobs); torch takes ~1 s

    b = len(pairs)
    src_r, src_c, tgt_r, tgt_c, ls, lt = [], [], [], [], [], []
    for r, p in enumerate(pairs):
        s_index: dict[int, int] = {}
        for w, pos in enumerate(p.src_first):
            if pos >= 0:
                s_index[w] = len(src_r)
                src_r.append(r)
                src_c.append(pos)
        t_index: dict[int, int] = {}
        for w, pos in enumerate(p.tgt_first):
            if pos >= 0:
                t_index[w] = len(tgt_r)
                tgt_r.append(b + r)
                tgt_c.append(pos)
        for s, t in p.links:
            ls.append(s_index[s])
            lt.append(t_index[t])

    def tens(x: list[int]):
        return torch.tensor(x, dtype=torch.long, device=device)

    return _Batch(seqs=[p.src_ids for p in pairs] + [p.tgt_ids for p in pairs],
                  src_rc=(tens(src_r), tens(src_c)), tgt_rc=(tens(tgt_r), tens(tgt_c)),
                  link_src=tens(ls), link_tgt=tens(lt))


def _info_nce(queries, keys, positive, other_pos, temperature: float):
    """Mean cross-entropy of picking ``keys[positive[l]]`` for ``queries[l]``.

    Logits are cosine similarities divided by ``temperature``.
    Shapes: ``queries (L, dim)``, ``keys (K, dim)``, ``positive (L,)``; ``other_pos`` is a
    boolean ``(L, K)`` mask of the *other* correct keys, left out of the softmax.
    """
    import torch.nn.functional as F  # lazy: see _make_batch

    logits = (F.normalize(queries, dim=-1) @ F.normalize(keys, dim=-1).T) / temperature
    return F.cross_entropy(logits.masked_fill(other_pos, float("-inf")), positive)


def _contrastive(src, tgt, batch: _Batch, temperature: float):
    """Symmetric InfoNCE over the batch's links (target → source words and source → target).

    ``src (S, dim)`` and ``tgt (T, dim)`` are all usable words of the batch.
    """
    import torch  # lazy: see _make_batch

    ls, lt = batch.link_src, batch.link_tgt
    arange = torch.arange(len(ls), device=src.device)
    # other_src[l, k]: source word k is also linked to link l's target word (k != ls[l]).
    rows, cols = (lt[:, None] == lt[None, :]).nonzero(as_tuple=True)
    other_src = torch.zeros((len(ls), src.shape[0]), dtype=torch.bool, device=src.device)
    other_src[rows, ls[cols]] = True
    other_src[arange, ls] = False
    rows, cols = (ls[:, None] == ls[None, :]).nonzero(as_tuple=True)
    other_tgt = torch.zeros((len(lt), tgt.shape[0]), dtype=torch.bool, device=src.device)
    other_tgt[rows, lt[cols]] = True
    other_tgt[arange, lt] = False
    t2s = _info_nce(tgt[lt], src, ls, other_src, temperature)
    s2t = _info_nce(src[ls], tgt, lt, other_tgt, temperature)
    return 0.5 * (t2s + s2t)


def _weights_digest(model: Any, names: set[str], base_fingerprint: str) -> str:
    """sha256 over the trained parameters ``names`` (the frozen ones are the base model's)."""
    h = hashlib.sha256(base_fingerprint.encode())
    for name, p in model.named_parameters():
        if name in names:
            h.update(name.encode())
            h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- training
@dataclass
class _Settings:
    """Validated training settings of :func:`finetune_alignment`."""

    loss: str
    layer: int
    reg_weight: float
    temperature: float
    epochs: int
    batch_size: int
    lr: float
    warmup: float
    max_len: int
    freeze_embeddings: bool
    seed: int
    word_pieces: str

    def hyperparameters(self) -> dict:
        """The ``hyperparameters`` entry of ``info['alignment']``."""
        return {"loss": self.loss, "layer": self.layer, "reg_weight": self.reg_weight,
                "temperature": self.temperature, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "warmup": self.warmup,
                "max_length": self.max_len, "freeze_embeddings": bool(self.freeze_embeddings),
                "seed": self.seed, "weight_decay": WEIGHT_DECAY, "grad_clip": GRAD_CLIP,
                "dropout": False, "word_pieces": self.word_pieces}


def _check_settings(encoder: Encoder, *, loss: str, layer: int | str, reg_weight: float,
                    temperature: float, epochs: int, batch_size: int, lr: float, warmup: float,
                    max_length: int, freeze_embeddings: bool, seed: int,
                    word_pieces: str) -> _Settings:
    """Check the hyperparameters and resolve ``layer`` (``max_len`` is still ``max_length``)."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    epochs = _check_int("epochs", epochs, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    max_length = _check_int("max_length", max_length, 1)
    seed = _check_int("seed", seed, 0)
    for name, value, ok, rule in (("lr", lr, lambda v: v > 0, "> 0"),
                                  ("reg_weight", reg_weight, lambda v: v >= 0, ">= 0"),
                                  ("temperature", temperature, lambda v: v > 0, "> 0"),
                                  ("warmup", warmup, lambda v: 0 <= v <= 1, "in 0..1")):
        if (isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer))
                or not math.isfinite(float(value)) or not ok(float(value))):
            raise ValueError(f"{name} must be a number {rule}, got {value!r}")
    lr, reg_weight = float(lr), float(reg_weight)
    temperature, warmup = float(temperature), float(warmup)
    if isinstance(layer, (list, tuple)) or layer == "all":
        raise ValueError(f"layer must be a single hidden-state index, got {layer!r}")
    layer_ids, _ = encoder.resolve_layers(layer)
    return _Settings(loss=loss, layer=layer_ids[0], reg_weight=reg_weight,
                     temperature=temperature, epochs=epochs, batch_size=batch_size, lr=lr,
                     warmup=warmup, max_len=max_length, freeze_embeddings=freeze_embeddings,
                     seed=seed, word_pieces=word_pieces)


def _effective_max_len(encoder: Encoder, max_length: int) -> int:
    """``max_length`` capped at the model's limit; raises if no word would fit."""
    tok = encoder.tokenizer
    lead, trail = encoder.special_tokens()
    max_len = min(max_length, encoder.max_length)
    prefix_ids = tok(encoder.text_prefix.split(), is_split_into_words=True,
                     add_special_tokens=False)["input_ids"] if encoder.text_prefix.split() else []
    if max_len <= len(lead) + len(trail) + len(prefix_ids):
        raise ValueError(f"max_length={max_len} leaves no room for words next to "
                         f"{len(lead) + len(trail)} special tokens and the "
                         f"{len(prefix_ids)}-token text prefix")
    return max_len


@dataclass
class _Prepared:
    """The tokenised training pairs with at least one usable link, and their counts."""

    pairs: list[_Pair]
    n_links: int
    n_used: int
    n_src_words: int
    n_truncated: int
    languages: dict[str, int]


def _read_examples(examples: list[Any]) -> tuple[list[list[str]], list[list[str]],
                                                 list[list[tuple[int, int]]], list[str]]:
    """Checked ``(sources, targets, links, langs)`` of the examples."""
    sources, targets, links, langs = [], [], [], []
    for i, ex in enumerate(examples):
        src = _check_words(getattr(ex, "source", None), "source", i)
        tgt = _check_words(getattr(ex, "target", None), "target", i)
        links.append(_check_links(getattr(ex, "links", None), len(src), len(tgt), i))
        sources.append(src)
        targets.append(tgt)
        langs.append(str(getattr(ex, "lang", "")))
    return sources, targets, links, langs


def _prepare_pairs(encoder: Encoder, examples: list[Any], max_len: int,
                   word_pieces: str) -> _Prepared:
    """Check and tokenise the examples, keep the pairs with a usable link; raises if none."""
    sources, targets, links, langs = _read_examples(examples)
    src_items, n_trunc_s = _tokenize(encoder, sources, max_len, word_pieces)
    tgt_items, n_trunc_t = _tokenize(encoder, targets, max_len, word_pieces)

    pairs: list[_Pair] = []
    n_links = n_used = n_src_words = 0
    languages: dict[str, int] = {}
    for i in range(len(examples)):
        (s_ids, s_first), (t_ids, t_first) = src_items[i], tgt_items[i]
        usable = [(s, t) for s, t in links[i] if s_first[s] >= 0 and t_first[t] >= 0]
        n_links += len(links[i])
        if not usable:
            continue
        n_used += len(usable)
        n_src_words += sum(p >= 0 for p in s_first)
        languages[langs[i]] = languages.get(langs[i], 0) + 1
        pairs.append(_Pair(i, s_ids, t_ids, s_first, t_first, usable))
    if not pairs:
        raise ValueError(f"no usable link in {len(examples)} examples ({n_links} links given; "
                         "links to words without subwords or truncated past max_length are "
                         "dropped)")
    return _Prepared(pairs=pairs, n_links=n_links, n_used=n_used, n_src_words=n_src_words,
                     n_truncated=n_trunc_s + n_trunc_t, languages=languages)


def _trainable_copy(encoder: Encoder, freeze_embeddings: bool) -> tuple[Any, Encoder, set[str], list[Any]]:
    """``(model, trainee, trained names, trained params)``: the deep copy set up for training."""
    model = copy.deepcopy(encoder.model)
    trainee = dataclasses.replace(encoder, model=model)  # the copy, run by the same Encoder methods
    for p in model.parameters():
        p.requires_grad_(True)
    if freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    model.eval()  # dropout off (see module docs); gradients still flow
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    params = [p for p in model.parameters() if p.requires_grad]
    return model, trainee, trained, params


def _length_sorted_batches(order: list[int], lengths: list[int], batch_size: int) -> list[list[int]]:
    """Batches of ``order``, length-sorted within chunks of :data:`SORT_CHUNK` batches."""
    batches: list[list[int]] = []
    span = SORT_CHUNK * batch_size
    for c in range(0, len(order), span):
        part = sorted(order[c:c + span], key=lambda i: -lengths[i])
        batches.extend(part[k:k + batch_size] for k in range(0, len(part), batch_size))
    return batches


@dataclass
class _Training:
    """The state of a training run: models, data, optimizer and the step count."""

    encoder: Encoder
    trainee: Encoder
    pairs: list[_Pair]
    settings: _Settings
    params: list[Any]
    opt: Any
    sched: Any
    device: Any
    steps: int = 0


def _train_step(tr: _Training, idx: list[int]) -> tuple[Any, Any, Any]:
    """One optimizer step on the pairs ``idx``; returns ``(total loss, align loss, reg loss)``."""
    import torch  # lazy: see _make_batch

    s = tr.settings
    batch = _make_batch([tr.pairs[i] for i in idx], tr.device)
    h = tr.trainee.hidden_states(batch.seqs, s.layer, grad=True)
    src = h[batch.src_rc]
    tgt = h[batch.tgt_rc]
    if s.loss == "l2":
        align = (tgt[batch.link_tgt] - src[batch.link_src]).pow(2).sum(-1).mean()
    else:
        align = _contrastive(src, tgt, batch, s.temperature)
    if s.reg_weight > 0:
        with torch.no_grad():
            src0 = tr.encoder.hidden_states(batch.seqs[:len(idx)], s.layer)[batch.src_rc]
        reg = (src - src0).pow(2).sum(-1).mean()
        total_loss = align + s.reg_weight * reg
    else:
        reg = torch.zeros((), device=align.device)
        total_loss = align
    total_loss.backward()
    torch.nn.utils.clip_grad_norm_(tr.params, GRAD_CLIP)
    tr.opt.step()
    tr.sched.step()
    tr.opt.zero_grad(set_to_none=True)
    tr.steps += 1
    return total_loss, align, reg


def _train_epoch(tr: _Training, batches: list[list[int]], epoch: int,
                 progress: bool) -> dict[str, float]:
    """Train on ``batches`` (one epoch) behind a progress bar; returns the summed losses."""
    sums = {"loss": 0.0, "align_loss": 0.0, "reg_loss": 0.0}
    bar = tqdm(batches, desc=f"align finetune {epoch}/{tr.settings.epochs}", disable=not progress,
               leave=False)
    for idx in bar:
        total_loss, align, reg = _train_step(tr, idx)
        sums["loss"] += float(total_loss.detach())
        sums["align_loss"] += float(align.detach())
        sums["reg_loss"] += float(reg.detach())
        bar.set_postfix(loss=f"{sums['loss'] / (bar.n + 1):.4f}")
    bar.close()
    return sums


def _train(encoder: Encoder, trainee: Encoder, params: list[Any], pairs: list[_Pair],
           settings: _Settings, progress: bool) -> tuple[list[dict], int, float]:
    """Run all epochs (the base model in eval mode meanwhile); ``(history, steps, start time)``."""
    import torch  # lazy: see _make_batch

    from xlt.models.optim import linear_warmup_decay  # lazy: it imports torch

    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=WEIGHT_DECAY)
    n_batches = math.ceil(len(pairs) / settings.batch_size)
    total = settings.epochs * n_batches
    sched = linear_warmup_decay(opt, total, settings.warmup)
    tr = _Training(encoder=encoder, trainee=trainee, pairs=pairs, settings=settings,
                   params=params, opt=opt, sched=sched, device=encoder.device)
    gen = torch.Generator().manual_seed(settings.seed)
    lengths = [max(len(p.src_ids), len(p.tgt_ids)) for p in pairs]
    history: list[dict] = []
    start = time.perf_counter()
    base = encoder.model
    base_was_training = base.training
    base.eval()
    try:
        for epoch in range(1, settings.epochs + 1):
            order = torch.randperm(len(pairs), generator=gen).tolist()
            batches = _length_sorted_batches(order, lengths, settings.batch_size)
            batches = [batches[k] for k in torch.randperm(len(batches), generator=gen).tolist()]
            sums = _train_epoch(tr, batches, epoch, progress)
            history.append({"epoch": epoch, "steps": tr.steps,
                            **{k: v / max(1, len(batches)) for k, v in sums.items()},
                            "lr": float(opt.param_groups[0]["lr"]),
                            "seconds": time.perf_counter() - start})
    finally:
        base.train(base_was_training)
    return history, tr.steps, start


def _aligned_encoder(encoder: Encoder, model: Any, digest: str, settings: _Settings,
                     languages: dict[str, int], stats: dict) -> Encoder:
    """The fine-tuned model as an :class:`Encoder` with its fingerprint and ``info['alignment']``."""
    alignment = {"method": "finetune", "paper": PAPER, "loss": settings.loss,
                 "languages": sorted(languages), "hyperparameters": settings.hyperparameters(),
                 "counts": {k: v for k, v in stats.items() if k != "seconds"},
                 "base_model": {"spec": encoder.spec, "fingerprint": encoder.fingerprint}}
    fingerprint = f"{encoder.fingerprint or encoder.spec}+align-finetune:{digest[:16]}"
    return Encoder(model=model, tokenizer=encoder.tokenizer, spec=encoder.spec,
                   text_prefix=encoder.text_prefix, fingerprint=fingerprint,
                   info={**encoder.info, "alignment": alignment})


def _stats(n_examples: int, prep: _Prepared, settings: _Settings, steps: int,
           seconds: float) -> dict:
    """The ``stats`` of :class:`FinetuneAlignmentResult`."""
    return {"n_examples": n_examples, "n_pairs_used": len(prep.pairs),
            "n_pairs_skipped": n_examples - len(prep.pairs), "n_links": prep.n_links,
            "n_links_used": prep.n_used, "n_links_dropped": prep.n_links - prep.n_used,
            "n_source_words": prep.n_src_words, "n_truncated_sentences": prep.n_truncated,
            "languages": dict(sorted(prep.languages.items())), "max_length": settings.max_len,
            "epochs": settings.epochs, "steps": steps, "seconds": seconds}


def finetune_alignment(
    encoder: Encoder,
    examples: Sequence[AlignmentExample],
    *,
    loss: str = "l2",
    layer: int | str = -1,
    reg_weight: float = 1.0,
    temperature: float = 0.1,
    epochs: int = 1,
    batch_size: int = 16,
    lr: float = 5e-5,
    warmup: float = 0.1,
    max_length: int = 128,
    freeze_embeddings: bool = True,
    seed: int = 0,
    progress: bool = True,
    word_pieces: str = DEFAULT_WORD_PIECES,
) -> FinetuneAlignmentResult:
    """Align ``encoder`` by fine-tuning it on word-aligned sentence pairs (Cao et al. 2020).

    See the module docs for the objective. Per step, the ``batch_size`` pairs' source and target
    sentences (each on its own, with the text prefix, from :meth:`Encoder.word_inputs
    <xlt.models.encoder.Encoder.word_inputs>`; ``2 * batch_size`` padded sequences ``(2B, T)``) go
    through the trainable copy (:meth:`Encoder.hidden_states
    <xlt.models.encoder.Encoder.hidden_states>` with ``grad=True``); word vectors ``(n_words,
    dim)`` are the first subwords' rows of ``hidden_states[layer]``; the original model (the input
    encoder, without gradients, eval mode) gives ``f0`` for the source words when ``reg_weight > 0``.

    Args:
        encoder: the model to align (left unchanged; its model also serves as the frozen
            ``f0``). Runs on ``encoder.device``.
        examples: the sentence pairs (:class:`AlignmentExample`).
        loss: ``'l2'`` (Cao et al.) or ``'contrastive'`` (InfoNCE).
        layer: hidden-state index trained and probed (``0`` = embeddings, ``1..L``, negative
            from the end, ``'last'``); default ``-1``, the last layer.
        reg_weight: weight of the source-vector regulariser (``>= 0``; 0 disables it).
        temperature: softmax temperature of the contrastive loss (``> 0``).
        epochs: passes over the pairs (``>= 1``).
        batch_size: sentence pairs per optimizer step (``>= 1``).
        lr: peak AdamW learning rate (``> 0``).
        warmup: share of steps (``0..1``) with a linearly rising learning rate; then linear
            decay to 0.
        max_length: tokens per sentence, special tokens and prefix included; longer sentences
            are truncated. Values above ``encoder.max_length`` are lowered to it.
        freeze_embeddings: keep the word-embedding matrix fixed (for XLM-R vocabularies most of
            the parameters, e.g. 250k x 384 in e5-small; training it costs time and memory).
        seed: seeds the data order.
        progress: tqdm progress bars (stderr).
        word_pieces: which subword piece gives a word its vector
            (:data:`xlt.models.words.WORD_PIECES`; the probes that will use the aligned model
            should read words the same way). ``mean`` settings train the first of the pieces.

    Returns:
        :class:`FinetuneAlignmentResult` (fine-tuned deep copy, per-epoch history, counts).

    Raises:
        ValueError: ``examples`` empty or malformed (words not lists of strings, a link outside
            its sentence pair), an unknown ``loss``, bad hyperparameters (``batch_size < 1``,
            ``epochs < 1``, ``lr <= 0``, ``reg_weight < 0``, ``temperature <= 0``, ``warmup``
            outside ``0..1``, ``max_length`` too small for the special tokens and the prefix),
            a ``layer`` outside the model, or no usable link at all.
    """
    settings = _check_settings(
        encoder, loss=loss, layer=layer, reg_weight=reg_weight, temperature=temperature,
        epochs=epochs, batch_size=batch_size, lr=lr, warmup=warmup, max_length=max_length,
        freeze_embeddings=freeze_embeddings, seed=seed, word_pieces=word_pieces)
    examples = list(examples)
    if not examples:
        raise ValueError("no examples to train on")
    settings.max_len = _effective_max_len(encoder, settings.max_len)
    prep = _prepare_pairs(encoder, examples, settings.max_len, word_pieces)

    model, trainee, trained, params = _trainable_copy(encoder, freeze_embeddings)
    history, steps, start = _train(encoder, trainee, params, prep.pairs, settings, progress)
    model.eval()
    for p in model.parameters():  # like a freshly loaded model (later fine-tuning may unfreeze)
        p.requires_grad_(True)
    digest = _weights_digest(model, trained, encoder.fingerprint or f"spec:{encoder.spec}")
    seconds = time.perf_counter() - start

    stats = _stats(len(examples), prep, settings, steps, seconds)
    aligned = _aligned_encoder(encoder, model, digest, settings, prep.languages, stats)
    return FinetuneAlignmentResult(encoder=aligned, history=history, stats=stats)


def save_aligned_encoder(result: FinetuneAlignmentResult, out_dir: str | Path, *,
                         meta: dict, overwrite: bool = False) -> Path:
    """Export the aligned encoder as a Hugging Face folder plus ``xlt_alignment.json``.

    The folder (written by :func:`xlt.models.export.export_model`) loads back with
    ``xlt.models.loading.load_encoder(str(out_dir))``, text prefix included (via
    ``xlt_export.json``). ``xlt_alignment.json`` records ``method`` (``"finetune"``),
    ``paper`` (Cao et al. 2020), ``loss``, ``languages``, ``hyperparameters``, ``counts``
    (:attr:`FinetuneAlignmentResult.stats`), ``history`` and ``base_model`` (spec and
    fingerprint of the model before alignment), then the keys of ``meta`` (which win on a
    clash), e.g. where the pairs and their links came from.

    Args:
        result: what :func:`finetune_alignment` returned.
        out_dir: destination folder, written beside and renamed into place.
        meta: extra JSON-able metadata (paths become strings, NaN becomes null).
        overwrite: replace a non-empty ``out_dir`` (whole).

    Returns:
        the folder path.

    Raises:
        ValueError: ``meta`` is not a dict.
        FileExistsError: ``out_dir`` is not empty and ``overwrite`` is off.
        OSError: the folder cannot be written.
    """
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict, got {type(meta).__name__}")  # noqa: TRY004
    # written whole beside the target and renamed into place, xlt_alignment.json included
    final = check_output_folder(out_dir, overwrite=overwrite, option="--out")
    with staged_folder(final) as out:
        write_export_folder(result.encoder, out)
        _write_alignment_record(result, out, meta)
    return final


def _write_alignment_record(result: FinetuneAlignmentResult, out: Path, meta: dict) -> None:
    info = dict(result.encoder.info.get("alignment", {}))
    record = {"method": "finetune", "paper": PAPER, "loss": info.get("loss"),
              "languages": info.get("languages", sorted(result.stats.get("languages", {}))),
              "hyperparameters": info.get("hyperparameters", {}), "counts": result.stats,
              "history": result.history, "base_model": info.get("base_model", {}),
              "fingerprint": result.encoder.fingerprint, **meta}
    write_json(Path(out) / "xlt_alignment.json", record)
