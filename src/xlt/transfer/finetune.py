"""Full fine-tuning of the encoder on the source language, through Hugging Face Accelerate.

Token tasks (UPOS, NER) classify one subword piece of every word (by default its first piece that is not
a bare SentencePiece ``▁`` marker; ``word_pieces='xtreme'``: the first piece, as XTREME; see
:func:`encode_token_examples`); sequence tasks (SIB-200)
classify the attention-masked mean of the last layer, as in XTREME (Hu et al. 2020). The
optimiser is AdamW with linear warm-up then linear decay. Model selection uses source-language
dev data only, or, with ``ckpt_avg``, the weights are averaged over the last epochs' end
points instead ("Free Lunch", Schmidt et al. 2023). Because the loop goes through
``accelerate.Accelerator``, ``accelerate launch --multi_gpu --num_processes N -m xlt.cli transfer
...`` spreads it over N GPUs (N CPU processes, gloo, on a machine without one), data-parallel with
the result of one process (see :func:`finetune`); on a plain machine it runs on the CPU.
Checkpoints every epoch and exact resumption: :mod:`xlt.transfer.checkpoint`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import broadcast, gather_object, set_seed
from torch import nn
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

from xlt.adapt.peft import apply_peft, count_parameters, finish_peft, load_language_adapter
from xlt.data.kinds import PAIR, TOKEN
from xlt.models.loading import Encoder
from xlt.models.modeling_xlt import XltMeanPoolingForSequenceClassification
from xlt.models.optim import linear_warmup_decay
from xlt.models.words import DEFAULT_WORD_PIECES, map_words
from xlt.transfer.checkpoint import (  # noqa: F401  (CheckpointError, data_digest: re-exported)
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    CheckpointError,
    data_digest,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)

IGNORE = -100


POOLINGS = ("mean", "cls")


def build_classifier(encoder: Encoder, labels: Sequence[str], token_task: bool, pooling: str = "mean") -> nn.Module:
    """A Hugging Face task model on top of a copy of ``encoder``'s weights.

    * token tasks: ``AutoModelForTokenClassification`` (encoder, dropout, linear layer over every
      subword; trained on first subwords);
    * sequence/pair tasks with ``pooling='mean'``: :class:`xlt.models.modeling_xlt.
      XltMeanPoolingForSequenceClassification` (attention-masked mean of the last layer, as
      XTREME); with ``pooling='cls'``: the architecture's own ``AutoModelForSequenceClassification``
      head on the first token.

    The encoder weights are copied in; the classifier is initialised like ``nn.Linear``'s
    default (drawn from the global torch generator, so a seed set before the call fixes it).
    ``config.id2label``/``label2id`` carry the label names.

    Args:
        encoder: the loaded encoder (left unchanged).
        labels: label names; ``num_labels = len(labels)``.
        token_task: token vs sequence classification.
        pooling: ``mean`` or ``cls`` (sequence tasks only).

    Returns:
        the task model in train mode. Call it as ``model(input_ids=..., attention_mask=...)
        .logits``: ``(batch, seq, n_labels)`` for tokens, ``(batch, n_labels)`` otherwise.

    Raises:
        ValueError: an unknown pooling.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    config = copy.deepcopy(encoder.model.config)
    config.num_labels = len(labels)
    config.id2label = {i: str(l) for i, l in enumerate(labels)}
    config.label2id = {str(l): i for i, l in enumerate(labels)}
    with torch.random.fork_rng():  # the random init of the copied encoder must not shift the seed
        if token_task:
            model = AutoModelForTokenClassification.from_config(config)
        elif pooling == "mean":
            model = XltMeanPoolingForSequenceClassification(config)
        else:
            model = AutoModelForSequenceClassification.from_config(config)
        missing, unexpected = model.base_model.load_state_dict(encoder.model.state_dict(), strict=False)
    bad = [k for k in missing if "pooler" not in k] + [k for k in unexpected if "pooler" not in k]
    if bad:
        raise ValueError(f"encoder weights do not fit the task model: {bad[:5]}")
    head = model.classifier if isinstance(model.classifier, nn.Linear) else model.classifier.out_proj
    head.reset_parameters()
    model.train()
    return model


def is_token_model(model: nn.Module) -> bool:
    """Whether a task model classifies tokens (its architecture is ``*ForTokenClassification``; a
    ``peft`` wrapper is looked through)."""
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return any(a.endswith("ForTokenClassification") for a in (getattr(model.config, "architectures", None) or [])) \
        or type(model).__name__.endswith("ForTokenClassification")


@dataclass
class Encoded:
    """Tokenised examples.

    Attributes:
        input_ids: one list of token ids per example.
        labels: per example, token-level label ids (``-100`` where unlabelled) for token tasks,
            or one label id for sequence tasks.
        first_subword: token tasks only, per example the position of each word's first
            subword (``-1`` for words cut off by truncation).
        n_truncated: examples that did not fit into ``max_length``.
        truncated: their indices, in input order.
        soft: training only, soft targets (distillation, Hinton et al. 2015): per example None
            (learn ``labels``) or the probabilities to learn, ``(len(input_ids[i]), n_labels)``
            for token tasks (rows at the labelled positions; the other rows are not used) or
            ``(n_labels,)``; None: every example learns its labels. Built by
            :func:`with_soft_targets`.
    """

    input_ids: list[list[int]]
    labels: list
    first_subword: list[list[int]] = field(default_factory=list)
    n_truncated: int = 0
    truncated: list[int] = field(default_factory=list)
    soft: list[np.ndarray | None] | None = None


def with_soft_targets(data: Encoded, targets: Sequence[np.ndarray | None], token_task: bool) -> Encoded:
    """``data`` with soft targets: each example learns a probability distribution per word (token
    tasks) or per example in place of its label (cross-entropy against the distribution, which
    differs from the KL divergence to it by the target's entropy, a constant: the distillation
    loss of Hinton et al. 2015 at temperature 1). A word's distribution goes to the piece that
    carries its label (``first_subword``); a word cut off by truncation loses it, as its label.

    Args:
        data: encoded training examples (their ``labels`` are kept: they count the labelled
            positions that divide a batch's loss).
        targets: per example None (learn the label) or probabilities: ``(n_words, n_labels)``
            (token tasks) or ``(n_labels,)``.
        token_task: token vs sequence classification.

    Returns:
        A copy of ``data`` with :attr:`Encoded.soft` set (the lists of ids and labels shared).

    Raises:
        ValueError: another number of targets than examples, a token target with another number
            of rows than the example has words, or targets of different widths.
    """
    if len(targets) != len(data.input_ids):
        raise ValueError(f"{len(targets)} soft targets for {len(data.input_ids)} examples")
    widths = {np.shape(t)[-1] for t in targets if t is not None}
    if len(widths) > 1:
        raise ValueError(f"soft targets of different widths: {sorted(widths)}")
    soft: list[np.ndarray | None] = []
    for i, t in enumerate(targets):
        if t is None:
            soft.append(None)
            continue
        t = np.asarray(t, dtype=np.float32)
        if not token_task:
            soft.append(t.reshape(-1))
            continue
        firsts = data.first_subword[i]
        if t.ndim != 2 or len(t) != len(firsts):
            raise ValueError(f"example {i}: soft targets of shape {t.shape} for a sentence of {len(firsts)} words")
        rows = np.zeros((len(data.input_ids[i]), t.shape[1]), dtype=np.float32)
        placed = set()
        for w, pos in enumerate(firsts):
            if pos >= 0 and pos not in placed:  # a shared piece keeps the first word's target, as its label
                rows[pos] = t[w]
                placed.add(pos)
        soft.append(rows)
    return dataclasses.replace(data, soft=soft)


def encode_token_examples(encoder: Encoder, sentences: Sequence[Sequence[str]],
                          labels: Sequence[Sequence[int]] | None, max_length: int,
                          word_pieces: str = DEFAULT_WORD_PIECES) -> Encoded:
    """Tokenise pre-split sentences, labelling one subword piece of each word.

    Which piece carries a word's label (and gives its prediction) is ``word_pieces``'
    (:func:`xlt.models.words.map_words`): by default the word's first piece that is not a bare
    SentencePiece ``▁`` marker; ``xtreme``: the first piece, marker included (XTREME); the mean
    settings label the first of the pieces they average. The input is the same for every
    setting but ``no_marker`` and ``text``. The encoder's ``text_prefix`` (e.g. ``query:``) is
    prepended as extra words that carry no label. Words whose labelled piece lies past
    ``max_length`` tokens get ``first_subword = -1``, and the cut sentences are counted; a word
    without any piece (e.g. an invisible PAN-X token) gets ``-1`` too and is not fed to the model.

    Args:
        sentences: words per sentence. labels: label ids per word (or None at test time).
        max_length: longest input in tokens, specials included.
        word_pieces: a setting of :data:`xlt.models.words.WORD_PIECES`.
    """
    tok = encoder.tokenizer
    lead, trail = encoder.special_tokens()
    room = max(0, max_length - len(lead) - len(trail))
    mapped = map_words(tok, [list(s) for s in sentences], word_pieces, encoder.text_prefix.split(), unk=False)
    out = Encoded(input_ids=[], labels=[], first_subword=[])
    for i, wp in enumerate(mapped):
        body = wp.prefix + wp.ids
        cut = len(body) > room
        body = body[:room]
        ids = lead + body + trail
        base = len(lead) + len(wp.prefix)
        firsts = []
        for w in range(len(wp.pieces)):
            q = wp.first(w)
            firsts.append(base + q if q >= 0 and base + q < len(lead) + len(body) else -1)
        lab = [IGNORE] * len(ids)
        if labels is not None:
            for w, pos in enumerate(firsts):
                if pos >= 0 and lab[pos] == IGNORE:  # a shared piece (``text``) keeps the first word's label
                    lab[pos] = int(labels[i][w])
        if cut:
            out.n_truncated += 1
            out.truncated.append(i)
        out.input_ids.append(ids)
        out.labels.append(lab)
        out.first_subword.append(firsts)
    return out


def encode_sequence_examples(encoder: Encoder, texts: Sequence[str], labels: Sequence[int] | None,
                             max_length: int) -> Encoded:
    """Tokenise texts (with the encoder's prefix) for sequence classification."""
    tok = encoder.tokenizer
    full = tok([encoder.text_prefix + t for t in texts], truncation=False, add_special_tokens=True)
    ids = [x[:max_length - 1] + [x[-1]] if len(x) > max_length else x for x in full["input_ids"]]
    cut = [i for i, x in enumerate(full["input_ids"]) if len(x) > max_length]
    return Encoded(input_ids=ids, labels=list(labels) if labels is not None else [0] * len(ids),
                   n_truncated=len(cut), truncated=cut)


def encode_pair_examples(encoder: Encoder, pairs: Sequence[tuple[str, str]], labels: Sequence[int] | None,
                         max_length: int) -> Encoded:
    """Tokenise text pairs (NLI, paraphrase) as one input: ``<s> prefix+first </s></s> second </s>``.

    The encoder's prefix goes before the first text only. Pairs longer than ``max_length`` tokens
    are cut from the longer side first (``longest_first``) and counted in ``n_truncated``.

    Args:
        pairs: ``(text, text_pair)`` tuples. labels: one label id per pair (or None).
        max_length: longest input in tokens, specials included.
    """
    tok = encoder.tokenizer
    firsts = [encoder.text_prefix + a for a, _ in pairs]
    seconds = [b for _, b in pairs]
    full = tok(firsts, seconds, truncation=False, add_special_tokens=True)["input_ids"]
    cut = tok(firsts, seconds, truncation="longest_first", max_length=max_length, add_special_tokens=True)["input_ids"]
    long = [i for i, x in enumerate(full) if len(x) > max_length]
    return Encoded(input_ids=list(cut), labels=list(labels) if labels is not None else [0] * len(cut),
                   n_truncated=len(long), truncated=long)


def encode_examples(encoder: Encoder, kind, examples: Sequence, label_ids: Sequence | None, max_length: int,
                    word_pieces: str = DEFAULT_WORD_PIECES) -> Encoded:
    """Tokenise examples of a task kind: words (:func:`encode_token_examples`), texts
    (:func:`encode_sequence_examples`) or text pairs (:func:`encode_pair_examples`).

    Args:
        kind: a :class:`xlt.data.kinds.TaskKind`. label_ids: per example the label id(s), or None.
        word_pieces: token tasks: which piece carries a word's label (:mod:`xlt.models.words`).
    """
    if kind is TOKEN:
        return encode_token_examples(encoder, [list(e.tokens) for e in examples], label_ids, max_length,
                                     word_pieces)
    if kind is PAIR:
        return encode_pair_examples(encoder, [(e.text, e.text_pair) for e in examples], label_ids, max_length)
    return encode_sequence_examples(encoder, [e.text for e in examples], label_ids, max_length)


def _collate(pad_id: int, token_task: bool):
    """``items -> batch``: items are ``(ids, labels)`` or ``(ids, labels, soft)`` (``soft`` None or
    :attr:`Encoded.soft`'s array). With any soft item the batch has ``soft``: ``(b, n, n_labels)``
    (token tasks) or ``(b, n_labels)``, zero where a hard label is learned; a soft item's labels
    are then ignored (``IGNORE``) where its distribution is learned."""
    def collate(items):
        n = max(len(it[0]) for it in items)
        input_ids = torch.full((len(items), n), pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), n), dtype=torch.long)
        labels = (torch.full((len(items), n), IGNORE, dtype=torch.long) if token_task
                  else torch.zeros(len(items), dtype=torch.long))
        softs = [it[2] if len(it) > 2 else None for it in items]
        width = next((s.shape[-1] for s in softs if s is not None), None)
        soft = None if width is None else torch.zeros(((len(items), n) if token_task else (len(items),)) + (width,))
        for r, it in enumerate(items):
            ids, lab = it[0], it[1]
            input_ids[r, :len(ids)] = torch.tensor(ids)
            mask[r, :len(ids)] = 1
            if token_task:
                labels[r, :len(lab)] = torch.tensor(lab)
            else:
                labels[r] = int(lab)
            if softs[r] is not None:
                target = torch.from_numpy(softs[r])
                if token_task:
                    soft[r, :len(target)] = target
                    labels[r, :len(lab)][labels[r, :len(lab)] != IGNORE] = IGNORE
                else:
                    soft[r] = target
                    labels[r] = IGNORE
        batch = {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
        if soft is not None:
            batch["soft"] = soft
        return batch
    return collate


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first) to minimise padding."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


@torch.inference_mode()
def predict_logits(model: nn.Module, data: Encoded, pad_id: int, batch_size: int = 64,
                   progress: bool = False, desc: str = "predict") -> list[np.ndarray]:
    """Logits per example, in input order: ``(seq_len, n_labels)`` (token) or ``(n_labels,)``."""
    token_task = is_token_model(model)
    collate = _collate(pad_id, token_task)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: list = [None] * len(data.input_ids)
    batches = length_batches([len(x) for x in data.input_ids], batch_size)
    for idx in tqdm(batches, desc=desc, disable=not progress, leave=False):
        b = collate([(data.input_ids[i], data.labels[i]) for i in idx])
        logits = model(input_ids=b["input_ids"].to(device),
                       attention_mask=b["attention_mask"].to(device)).logits.float().cpu().numpy()
        for r, i in enumerate(idx):
            out[i] = logits[r, :len(data.input_ids[i])] if token_task else logits[r]
    model.train(was_training)
    return out


def word_predictions(logits: list[np.ndarray], data: Encoded, fallback: int) -> list[list[int]]:
    """Per-word label ids from first-subword logits; truncated words get ``fallback``."""
    return [[int(lg[p].argmax()) if p >= 0 else fallback for p in firsts]
            for lg, firsts in zip(logits, data.first_subword)]


@dataclass
class FinetuneResult:
    """Fine-tuned model (eval mode, on the training device) and training history (per epoch loss and dev score).

    ``epoch`` is the selected epoch (``None`` when the weights are an average over epochs);
    ``parameters`` the trained parameter counts (:func:`xlt.adapt.peft.count_parameters`).
    """

    model: nn.Module
    history: list[dict]
    selected: str
    epoch: int | None = None
    parameters: dict = field(default_factory=dict)


# ------------------------------------------------------------------ processes and checkpoints
def length_grouped_batches(lengths: Sequence[int], batch_size: int, gen: torch.Generator,
                           mega: int = 50) -> list[list[int]]:
    """Shuffled batches of similar-length examples (less padding, the same examples per epoch).

    The examples are shuffled, cut into groups of ``mega * batch_size``, each group is sorted by
    length and cut into batches, and the batch order is shuffled again: the grouping of
    Hugging Face's ``group_by_length``. Deterministic given ``gen``'s state.

    Returns:
        index lists, every example exactly once.
    """
    n = len(lengths)
    perm = torch.randperm(n, generator=gen).tolist()
    size = max(1, mega * batch_size)
    batches = []
    for start in range(0, n, size):
        group = sorted(perm[start:start + size], key=lambda i: -lengths[i])
        batches += [group[k:k + batch_size] for k in range(0, len(group), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


def length_sorted_chunks(indices: Sequence[int], lengths: Sequence[int], size: int) -> list[list[int]]:
    """One batch cut into chunks of at most ``size`` examples of similar length (longest first).

    The examples are sorted by ``lengths`` (stable, so ties keep their order) and cut in order;
    padding each chunk to its own longest example computes far less padding than padding the
    whole batch to its longest: on 4,000 English UD sentences in random batches of 32 (mean 26.5
    pieces), 2.8 padded positions per real one for whole batches, 1.36 for chunks of 8.

    Args:
        indices: the batch's example indices.
        lengths: ``(n_examples,)`` lengths in pieces, indexed by example.
        size: at most this many examples per chunk (>= 1).

    Returns:
        lists of indices; every index of ``indices`` exactly once.
    """
    ordered = sorted(indices, key=lambda i: -lengths[i])
    return [ordered[k:k + size] for k in range(0, len(ordered), size)]


#: micro-batch size on a CPU when none is given: on 4,000 English UD sentences (batch 32), 8 trains
#: at 1.67x a plain Trainer's speed and 4 at 1.48x (twice the passes; docs/benchmarks.md, issue 11)
CPU_MICRO_BATCH_SIZE = 8


def resolve_micro_batch_size(value: int | None) -> int:
    """The micro-batch size to use: ``value``, or for ``None`` the device's default.

    On a CPU the cost of a pass grows with the padded tokens, so :data:`CPU_MICRO_BATCH_SIZE`;
    on a GPU (or other accelerator) a batch of 32 short sentences costs about one kernel launch
    per operation whatever its padding, so whole batches (0). Either gives the same update.
    """
    if value is not None:
        return int(value)
    return 0 if _has_accelerator() else CPU_MICRO_BATCH_SIZE


def _has_accelerator() -> bool:
    """Whether torch sees a device that ``torch.distributed`` can use (CUDA, XPU, ...; not MPS)."""
    current = getattr(getattr(torch, "accelerator", None), "current_accelerator", None)
    if current is None:
        return torch.cuda.is_available()
    device = current()
    return device is not None and device.type != "mps"


def distributed_state():
    """accelerate's :class:`~accelerate.PartialState` (process index, count, device), set up once.

    A multi-process launch (``accelerate launch --multi_gpu --num_processes N``, ``torchrun
    --nproc_per_node N``) on a machine without a GPU runs data-parallel on the CPU (gloo backend),
    as with ``ACCELERATE_USE_CPU=1``, instead of as N unrelated one-process runs.

    Raises:
        RuntimeError: the launch started several processes but accelerate was already set up
            for one (something called ``PartialState()`` first).
    """
    world = int(os.environ.get("WORLD_SIZE") or 1)
    if not PartialState._shared_state:
        PartialState(cpu=world > 1 and not _has_accelerator())
    state = PartialState()
    if world > 1 and state.num_processes != world:
        raise RuntimeError(f"launched as {world} processes, but accelerate sees {state.num_processes}; set "
                           "ACCELERATE_USE_CPU=1 to train data-parallel on the CPU")
    return state


def main_process_value(fn: Callable[[], float]) -> float:
    """``fn()`` computed on the main process only and sent to every process.

    With one process this is just ``float(fn())``. An exception in ``fn`` on the main process is
    raised on every process (a ``RuntimeError`` on the others), so no process waits forever.
    """
    state = distributed_state()
    if state.num_processes == 1:
        return float(fn())

    value, error = 0.0, None
    if state.is_main_process:
        try:
            value = float(fn())
        except Exception as exc:  # noqa: BLE001 - re-raised below, after the others are told
            error = exc
    msg = broadcast(torch.tensor([value, float(error is not None)], dtype=torch.float64, device=state.device))
    if error is not None:
        raise error
    if msg[1].item():
        raise RuntimeError("the main process failed while computing a value for every process (see its error)")
    return float(msg[0].item())


def _cpu_state(model: nn.Module) -> dict:
    """A CPU copy of the weights, floating-point tensors as float32 (exact for fp32/bf16/fp16)."""
    return {k: (v.detach().float() if v.is_floating_point() else v.detach()).cpu().clone()
            for k, v in model.state_dict().items()}


def finetune(
    encoder: Encoder,
    train: Encoded,
    n_labels: int | Sequence[str],
    token_task: bool,
    dev_score: Callable[[nn.Module], float],
    *,
    epochs: int = 3,
    batch_size: int = 32,
    lr: float = 5e-5,
    weight_decay: float = 0.01,
    warmup: float = 0.1,
    ckpt_avg: int = 0,
    freeze_embeddings: bool = True,
    pooling: str = "mean",
    seed: int = 0,
    data_seed: int | None = None,
    progress: bool = True,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    run_key: dict | None = None,
    group_by_length: bool = False,
    bf16: bool = False,
    micro_batch_size: int | None = None,
    peft=None,
    language_state: dict | None = None,
    on_epoch_end: Callable[[int, dict, nn.Module], None] | None = None,
    epoch_data: Callable[[int], Encoded] | None = None,
) -> FinetuneResult:
    """Fine-tune ``encoder`` with a task head on source-language data.

    Data parallel (``accelerate launch``, N processes): ``batch_size`` is the global batch; every
    process takes every N-th example of each batch, so a step, the number of steps per epoch and
    the learning-rate schedule are those of one process. The loss is the sum over this process's
    labelled tokens (or examples) divided by the whole batch's count, times N, because DDP averages
    the gradients: the update is the one-process update. ``dev_score`` runs on the main process
    only and its value is sent to all, so every process keeps the same epoch and ends with the
    same weights.

    Args:
        encoder: its model is deep-copied, so the caller's encoder stays frozen/unchanged.
        train: encoded training data (:func:`encode_token_examples` / :func:`encode_sequence_examples`);
            with :attr:`Encoded.soft` (:func:`with_soft_targets`) the soft examples learn their
            distributions (distillation) and the others their labels, in one loss.
        n_labels: the label names (or their number); they become ``config.id2label``.
        token_task: token vs sequence classification.
        dev_score: scores a model on source-language dev data (percent, higher is better); called on
            the main process only.
        epochs, batch_size, lr, weight_decay: AdamW settings; ``warmup`` = share of steps
            with linearly rising learning rate, then linear decay to 0.
        ckpt_avg: if >= 2, return the average of the weights at the end of the last
            ``ckpt_avg`` epochs (Schmidt et al. 2023) instead of the best dev epoch.
        freeze_embeddings: keep the word-embedding matrix fixed. For XLM-R-vocabulary models
            it holds most of the parameters (96M of 117M in e5-small), so training it makes
            every AdamW step several times slower on a CPU, and only source-language rows
            would move, away from the untouched target-language rows.
        pooling: sequence tasks: ``mean`` (default) or ``cls`` (see :func:`build_classifier`).
        seed: seeds the head's initialisation, dropout and (unless ``data_seed`` is set) the
            data order.
        data_seed: seeds the data order alone (None: ``seed``). Runs with one ``seed`` and other
            ``data_seed`` values start from the same weights, head included, and see the data in
            other orders: the runs that a model soup averages (Wortsman et al. 2022, "Model
            soups", ICML).
        checkpoint_dir: write ``checkpoint.pt`` here at the end of every epoch (atomically, by the
            main process): weights, optimiser, schedule, data order and RNG states of every
            process, history, best/averaged weights so far, and ``run_key``.
        resume: continue from ``checkpoint_dir``'s checkpoint (none there: start afresh); the
            result is the one of an uninterrupted run.
        run_key: what else the result depends on (dev data, metric, ...), for the checkpoint check.
        group_by_length: batches of similar-length examples (:func:`length_grouped_batches`),
            so less padding is computed; off = uniformly shuffled batches.
        micro_batch_size: run each batch as micro-batches of at most this many examples of
            similar length (:func:`length_sorted_chunks`), accumulating their gradients before the
            one optimiser step: the examples, the loss and so the update are the whole batch's,
            but padding is computed only up to the longest example of each micro-batch. None or
            0: the batch in one pass (:func:`resolve_micro_batch_size` picks per device). Unlike
            ``group_by_length`` it leaves the batches as they are.
        bf16: run forward and backward under bfloat16 autocast (weights and optimiser stay
            float32); pays on CPUs with AVX512-BF16/AMX and on GPUs.
        peft: a :class:`xlt.adapt.peft.PeftSettings`: train only LoRA updates, biases (BitFit) or
            bottleneck adapters, plus the head (None: every parameter but frozen embeddings). LoRA
            updates are merged into the returned model.
        language_state: with ``peft`` adapters that have a language part (MAD-X): the source
            language adapter's weights (:func:`xlt.adapt.peft.language_adapter_state`), loaded
            before training and kept frozen.
        on_epoch_end: called as ``on_epoch_end(epoch, record, model)`` at the end of every epoch
            (1-based), on the main process only, after ``dev_score`` and before the epoch's
            checkpoint is written: ``record`` is the epoch's history entry (``epoch``, ``loss``,
            ``dev``) and ``model`` the model being trained, with this epoch's weights (e.g. to keep
            every epoch's weights, or to log). It must not change the model. With ``resume`` it is
            called for the epochs that run after the checkpoint; an epoch interrupted after the
            call and before its checkpoint runs again, so the call may repeat for that epoch.
        epoch_data: the training data of each epoch, ``epoch_data(epoch)`` (1-based), in place of
            ``train`` (code-switched fine-tuning, CoSDA-ML: Qin et al. 2020, re-draws every
            epoch): as many examples as ``train`` (the data order is drawn over their indices),
            and a function of ``epoch`` alone, so a resumed run trains on what an uninterrupted
            one did. ``train`` still keys the checkpoints. None: ``train`` every epoch.

    Returns:
        :class:`FinetuneResult`; ``selected`` says which weights were kept.

    Raises:
        ValueError: a negative ``micro_batch_size`` (before any model is built).
        CheckpointError: a checkpoint is there but ``resume`` is off, or it belongs to another run.
    """
    if micro_batch_size is not None and micro_batch_size < 0:
        raise ValueError(f"micro_batch_size must be >= 0 (0: whole batches), not {micro_batch_size}")
    state = distributed_state()
    set_seed(seed)
    accelerator = Accelerator()
    labels = [str(i) for i in range(n_labels)] if isinstance(n_labels, int) else [str(l) for l in n_labels]
    model, parameters = _task_model(encoder, labels, token_task, pooling, freeze_embeddings, peft, language_state)
    n_items = len(train.input_ids)
    gen = torch.Generator().manual_seed(seed if data_seed is None else data_seed)
    # the same global batches on every process (same seed); each takes its share of a batch
    order = torch.utils.data.DataLoader(range(n_items), batch_size=batch_size, shuffle=True, generator=gen)
    opt, sched, trainable = _optimizer(model, lr, weight_decay, warmup,
                                       max(1, epochs * math.ceil(n_items / batch_size)))
    model, opt = accelerator.prepare(model, opt)
    loop = _Loop(accelerator=accelerator, state=state, model=model, unwrapped=accelerator.unwrap_model(model), opt=opt,
                 sched=sched, trainable=trainable, gen=gen, order=order, train=train, token_task=token_task,
                 n_labels=len(labels), pad_id=encoder.tokenizer.pad_token_id, epochs=epochs, batch_size=batch_size,
                 ckpt_avg=ckpt_avg, group_by_length=group_by_length, bf16=bf16, micro_batch_size=micro_batch_size,
                 progress=progress)
    run = _RunState()
    if checkpoint_dir is not None:
        loop.ckpt = Path(checkpoint_dir) / CHECKPOINT_FILE
        loop.key = dict(run_key or {}, encoder=encoder.spec, encoder_fingerprint=encoder.fingerprint, labels=labels,
                        token_task=token_task, pooling=pooling, freeze_embeddings=freeze_embeddings, epochs=epochs,
                        batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup=warmup, ckpt_avg=ckpt_avg,
                        seed=seed, train=data_digest(train.input_ids, train.labels), group_by_length=group_by_length,
                        bf16=bf16, peft=None if peft is None else dataclasses.asdict(peft))
        # only when set, so checkpoints written before these options still resume
        if micro_batch_size:
            loop.key["micro_batch_size"] = micro_batch_size
        if data_seed is not None:
            loop.key["data_seed"] = data_seed
        if train.soft is not None:
            loop.key["soft"] = _soft_digest(train.soft)
        if loop.ckpt.exists():
            if not resume:
                raise CheckpointError(f"{loop.ckpt} is a checkpoint of an earlier run; resume it (--resume) or give "
                                      "another --checkpoint-dir")
            _resume(loop, run)
    for epoch in range(run.done + 1, epochs + 1):
        if epoch_data is not None:
            loop.use_train(epoch_data(epoch))
        running, steps = _train_epoch(loop, epoch)
        _end_epoch(loop, run, epoch, running, steps, dev_score, on_epoch_end)
    return _finish(loop, run, parameters)


def _soft_digest(soft: Sequence[np.ndarray | None]) -> str:
    """A short hash of :attr:`Encoded.soft` (float32 bytes; ``-`` for a hard example), for the checkpoint key."""
    h = hashlib.sha256()
    for t in soft:
        h.update(b"-" if t is None else np.ascontiguousarray(t, dtype=np.float32).tobytes() + b"|")
    return h.hexdigest()[:16]


def _task_model(encoder: Encoder, labels: list[str], token_task: bool, pooling: str, freeze_embeddings: bool, peft,
                language_state: dict | None) -> tuple[nn.Module, dict]:
    """The classifier to train (:func:`build_classifier`), its embeddings frozen and PEFT applied as asked,
    and its trained-parameter counts."""
    model = build_classifier(encoder, labels, token_task, pooling)
    if freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if peft is not None:
        model = apply_peft(model, peft)
        if language_state is not None:
            load_language_adapter(model, language_state)
    return model, count_parameters(model)


def _optimizer(model: nn.Module, lr: float, weight_decay: float, warmup: float, total_steps: int):
    """AdamW over the trainable parameters (no decay for biases and norms) and its linear warm-up and
    decay schedule: ``(optimiser, schedule, [(name, parameter)] trained)``. The schedule is not
    prepared by accelerate, whose wrapper would step N times per step."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm", "norm.weight")
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in trainable if not any(k in n for k in no_decay)], "weight_decay": weight_decay},
        {"params": [p for n, p in trainable if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=lr)
    return opt, linear_warmup_decay(opt, total_steps, warmup), trainable


@dataclass
class _Loop:
    """What every epoch of :func:`finetune` uses: the prepared model and optimiser, the data and its
    order, and the settings that shape a step."""

    accelerator: Any
    state: Any
    model: nn.Module
    unwrapped: nn.Module
    opt: Any
    sched: Any
    trainable: list
    gen: torch.Generator
    order: Any
    train: Encoded
    token_task: bool
    n_labels: int
    pad_id: int
    epochs: int
    batch_size: int
    ckpt_avg: int
    group_by_length: bool
    bf16: bool
    micro_batch_size: int | None
    progress: bool
    ckpt: Path | None = None
    key: dict | None = None

    def __post_init__(self) -> None:
        self.use_train(self.train)
        self.collate = _collate(self.pad_id, self.token_task)
        self.loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE, reduction="sum")

    def use_train(self, train: Encoded) -> None:
        """Train on ``train`` from now on (an epoch's own data, ``finetune(epoch_data=...)``).

        Raises:
            ValueError: another number of examples than the data order was drawn over.
        """
        if len(train.input_ids) != len(self.train.input_ids):
            raise ValueError(f"an epoch's training data must keep its {len(self.train.input_ids)} examples, "
                             f"got {len(train.input_ids)}")
        self.train = train
        # what the loss of a batch is divided by: its labelled tokens (token tasks) or examples
        self.counts = ([sum(int(l) != IGNORE for l in lab) for lab in train.labels] if self.token_task
                       else [1] * len(train.input_ids))
        self.lengths = [len(x) for x in train.input_ids]


@dataclass
class _RunState:
    """What a fine-tuning run carries from epoch to epoch (and in its checkpoint)."""

    history: list = field(default_factory=list)
    best: float = -float("inf")
    best_epoch: int | None = None
    best_state: dict | None = None
    avg_state: dict | None = None
    n_avg: int = 0
    done: int = 0


def _resume(loop: _Loop, run: _RunState) -> None:
    """Load the checkpoint of ``loop.ckpt`` into the model, optimiser, schedule, data order, RNG and ``run``.

    Raises:
        CheckpointError: a checkpoint of another run (:func:`xlt.transfer.checkpoint.load_checkpoint`).
    """
    ck = load_checkpoint(loop.ckpt, loop.key, loop.state.num_processes)
    loop.unwrapped.load_state_dict(ck["model"])
    loop.opt.load_state_dict(ck["optimizer"])
    loop.sched.load_state_dict(ck["scheduler"])
    loop.gen.set_state(ck["order"])
    if ck.get("scaler") is not None and loop.accelerator.scaler is not None:  # fp16 loss scaling
        loop.accelerator.scaler.load_state_dict(ck["scaler"])
    set_rng_state(ck["rng"][loop.state.process_index])
    run.done, run.history = ck["epoch"], ck["history"]
    run.best, run.best_epoch, run.best_state = ck["best"], ck["best_epoch"], ck["best_state"]
    run.avg_state, run.n_avg = ck["avg_state"], ck["n_avg"]


def _train_epoch(loop: _Loop, epoch: int) -> tuple[float, int]:
    """One pass over the training data: ``(summed mean batch losses, steps)``."""
    acc, model, train = loop.accelerator, loop.model, loop.train
    n_proc, rank = loop.state.num_processes, loop.state.process_index
    model.train()
    running, steps = 0.0, 0
    # drawn before tqdm, which would start (and so draw a seed for) a second iterator of ``order``
    if loop.group_by_length:
        batches = length_grouped_batches(loop.lengths, loop.batch_size, loop.gen)
    else:
        batches = [b.tolist() for b in loop.order]
    bar = tqdm(batches, desc=f"finetune epoch {epoch}/{loop.epochs}",
               disable=not loop.progress or not loop.state.is_main_process, leave=False)
    for idx in bar:
        mine, weight, denom = idx[rank::n_proc], n_proc, max(1, sum(loop.counts[i] for i in idx))
        if not mine:  # a last batch smaller than N: a zero-weight example keeps this process in the step
            mine, weight = idx[:1], 0
        parts = length_sorted_chunks(mine, loop.lengths, loop.micro_batch_size) if loop.micro_batch_size else [mine]
        for j, part in enumerate(parts):
            batch = loop.collate([(train.input_ids[i], train.labels[i]) if train.soft is None
                                  else (train.input_ids[i], train.labels[i], train.soft[i]) for i in part])
            batch = {k: v.to(acc.device) for k, v in batch.items()}
            # one gradient all-reduce per step: data-parallel processes sync on their last part only
            with acc.no_sync(model) if j < len(parts) - 1 else contextlib.nullcontext():
                with torch.autocast(device_type=acc.device.type, dtype=torch.bfloat16, enabled=loop.bf16):
                    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
                logits = logits.float()
                # (sum * N) / count, in this order: with one process exactly the mean loss
                loss = loop.loss_fn(logits.reshape(-1, loop.n_labels), batch["labels"].reshape(-1))
                if "soft" in batch:  # cross-entropy against the soft targets (zero rows add nothing)
                    loss = loss - (batch["soft"] * torch.log_softmax(logits, dim=-1)).sum()
                loss = loss * weight / denom
                acc.backward(loss)
            running += float(loss.detach()) / n_proc  # this process's share of the batch's mean loss
        acc.clip_grad_norm_([p for _, p in loop.trainable], 1.0)
        loop.opt.step()
        if not acc.optimizer_step_was_skipped:
            loop.sched.step()
        loop.opt.zero_grad(set_to_none=True)
        steps += 1
        if steps % 20 == 0:
            bar.set_postfix(loss=f"{running * n_proc / steps:.3f}")
    if n_proc > 1:
        running = float(acc.reduce(torch.tensor(running, dtype=torch.float64, device=acc.device), reduction="sum"))
    return running, steps


def _end_epoch(loop: _Loop, run: _RunState, epoch: int, running: float, steps: int,
               dev_score: Callable[[nn.Module], float], on_epoch_end) -> None:
    """Score the epoch on dev, record it, keep the best (or averaged) weights, write the checkpoint."""
    dev = main_process_value(lambda: dev_score(loop.unwrapped))
    run.history.append({"epoch": epoch, "loss": running / max(1, steps), "dev": dev})
    if on_epoch_end is not None and loop.state.is_main_process:
        on_epoch_end(epoch, dict(run.history[-1]), loop.unwrapped)
    current = _cpu_state(loop.unwrapped)
    if loop.ckpt_avg >= 2 and epoch > loop.epochs - loop.ckpt_avg:
        if run.avg_state is None:
            run.avg_state = {k: v.clone() for k, v in current.items()}
        else:
            for k in run.avg_state:
                run.avg_state[k] += current[k]
        run.n_avg += 1
    comparable = dev if math.isfinite(dev) else -float("inf")  # a NaN dev score never wins
    if run.best_state is None or comparable > run.best:
        run.best, run.best_epoch, run.best_state = comparable, epoch, current
    if loop.ckpt is not None:
        acc = loop.accelerator
        rngs = gather_object([rng_state()])
        if loop.state.is_main_process:
            save_checkpoint(loop.ckpt, {
                "format": CHECKPOINT_FORMAT, "key": loop.key, "num_processes": loop.state.num_processes,
                "epoch": epoch, "history": run.history, "model": current, "optimizer": loop.opt.state_dict(),
                "scheduler": loop.sched.state_dict(), "order": loop.gen.get_state(), "rng": rngs,
                "scaler": acc.scaler.state_dict() if acc.scaler is not None else None,
                "best": run.best, "best_epoch": run.best_epoch, "best_state": run.best_state,
                "avg_state": run.avg_state, "n_avg": run.n_avg})
        acc.wait_for_everyone()


def _finish(loop: _Loop, run: _RunState, parameters: dict) -> FinetuneResult:
    """The kept weights (the average of the last epochs, or the best dev epoch's), PEFT merged, in eval mode."""
    unwrapped = loop.unwrapped
    if loop.ckpt_avg >= 2 and run.n_avg:
        unwrapped.load_state_dict({k: v / run.n_avg for k, v in run.avg_state.items()})
        selected, chosen = f"average of the last {run.n_avg} epochs", None
    else:
        unwrapped.load_state_dict(run.best_state)
        selected, chosen = f"best source-dev epoch ({run.best_epoch})", run.best_epoch
    unwrapped = finish_peft(unwrapped)
    unwrapped.eval()
    return FinetuneResult(model=unwrapped, history=run.history, selected=selected, epoch=chosen, parameters=parameters)
