"""Full fine-tuning of the encoder on the source language, through Hugging Face Accelerate.

Token tasks (UPOS, NER) classify the first subword of every word; sequence tasks (SIB-200)
classify the attention-masked mean of the last layer, as in XTREME (Hu et al. 2020). The
optimiser is AdamW with linear warm-up then linear decay. Model selection uses source-language
dev data only, or, with ``ckpt_avg``, the weights are averaged over the last epochs' end
points instead ("Free Lunch", Schmidt et al. 2023). Because the loop goes through
``accelerate.Accelerator``, ``accelerate launch -m xlt.cli transfer ...`` spreads it over
several GPUs; on a plain machine it runs on the CPU.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from xlt.models.loading import Encoder
from xlt.models.optim import linear_warmup_decay

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
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

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
            from xlt.models.modeling_xlt import XltMeanPoolingForSequenceClassification

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
    """Whether a task model classifies tokens (its architecture is ``*ForTokenClassification``)."""
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
    """

    input_ids: list[list[int]]
    labels: list
    first_subword: list[list[int]] = field(default_factory=list)
    n_truncated: int = 0


def encode_token_examples(encoder: Encoder, sentences: Sequence[Sequence[str]],
                          labels: Sequence[Sequence[int]] | None, max_length: int) -> Encoded:
    """Tokenise pre-split sentences, labelling the first subword of each word.

    The encoder's ``text_prefix`` (e.g. ``query:``) is prepended as extra words that carry no
    label. Words past ``max_length`` tokens get ``first_subword = -1`` and are counted.

    Args:
        sentences: words per sentence. labels: label ids per word (or None at test time).
        max_length: longest input in tokens, specials included.
    """
    prefix = encoder.text_prefix.split()
    n_pre = len(prefix)
    tok = encoder.tokenizer
    batch = tok([prefix + list(s) for s in sentences], is_split_into_words=True, truncation=True,
                max_length=max_length, add_special_tokens=True)
    out = Encoded(input_ids=[], labels=[], first_subword=[])
    for i, words in enumerate(sentences):
        ids = batch["input_ids"][i]
        firsts = [-1] * len(words)
        for pos, w in enumerate(batch.word_ids(i)):
            if w is not None and w >= n_pre and firsts[w - n_pre] == -1:
                firsts[w - n_pre] = pos
        lab = [IGNORE] * len(ids)
        if labels is not None:
            for w, pos in enumerate(firsts):
                if pos >= 0:
                    lab[pos] = int(labels[i][w])
        # Truncated = the tokenizer cut tokens off (non-empty overflow). A last word without
        # any subword (e.g. an invisible PAN-X token) is not a sign of truncation.
        encoding = batch.encodings[i] if batch.encodings else None
        if encoding is not None:
            cut = bool(encoding.overflowing)
        else:
            cut = bool(words) and firsts[-1] == -1
        if cut:
            out.n_truncated += 1
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
    n_trunc = sum(len(x) > max_length for x in full["input_ids"])
    return Encoded(input_ids=ids, labels=list(labels) if labels is not None else [0] * len(ids),
                   n_truncated=n_trunc)


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
    return Encoded(input_ids=list(cut), labels=list(labels) if labels is not None else [0] * len(cut),
                   n_truncated=sum(len(x) > max_length for x in full))


def encode_examples(encoder: Encoder, kind, examples: Sequence, label_ids: Sequence | None, max_length: int) -> Encoded:
    """Tokenise examples of a task kind: words (:func:`encode_token_examples`), texts
    (:func:`encode_sequence_examples`) or text pairs (:func:`encode_pair_examples`).

    Args:
        kind: a :class:`xlt.data.kinds.TaskKind`. label_ids: per example the label id(s), or None.
    """
    from xlt.data.kinds import PAIR, TOKEN

    if kind is TOKEN:
        return encode_token_examples(encoder, [list(e.tokens) for e in examples], label_ids, max_length)
    if kind is PAIR:
        return encode_pair_examples(encoder, [(e.text, e.text_pair) for e in examples], label_ids, max_length)
    return encode_sequence_examples(encoder, [e.text for e in examples], label_ids, max_length)


def _collate(pad_id: int, token_task: bool):
    def collate(items):
        n = max(len(ids) for ids, _ in items)
        input_ids = torch.full((len(items), n), pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), n), dtype=torch.long)
        labels = torch.full((len(items), n), IGNORE, dtype=torch.long) if token_task else torch.zeros(len(items), dtype=torch.long)
        for r, (ids, lab) in enumerate(items):
            input_ids[r, :len(ids)] = torch.tensor(ids)
            mask[r, :len(ids)] = 1
            if token_task:
                labels[r, :len(lab)] = torch.tensor(lab)
            else:
                labels[r] = int(lab)
        return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
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
    """Fine-tuned model (eval mode, on the training device) and training history (per epoch loss and dev score)."""

    model: nn.Module
    history: list[dict]
    selected: str


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
    progress: bool = True,
) -> FinetuneResult:
    """Fine-tune ``encoder`` with a task head on source-language data.

    Args:
        encoder: its model is deep-copied, so the caller's encoder stays frozen/unchanged.
        train: encoded training data (:func:`encode_token_examples` / :func:`encode_sequence_examples`).
        n_labels: the label names (or their number); they become ``config.id2label``.
        token_task: token vs sequence classification.
        dev_score: scores a model on source-language dev data (percent, higher is better).
        epochs, batch_size, lr, weight_decay: AdamW settings; ``warmup`` = share of steps
            with linearly rising learning rate, then linear decay to 0.
        ckpt_avg: if >= 2, return the average of the weights at the end of the last
            ``ckpt_avg`` epochs (Schmidt et al. 2023) instead of the best dev epoch.
        freeze_embeddings: keep the word-embedding matrix fixed. For XLM-R-vocabulary models
            it holds most of the parameters (96M of 117M in e5-small), so training it makes
            every AdamW step several times slower on a CPU, and only source-language rows
            would move, away from the untouched target-language rows.
        pooling: sequence tasks: ``mean`` (default) or ``cls`` (see :func:`build_classifier`).
        seed: seeds init, dropout and data order.

    Returns:
        :class:`FinetuneResult`; ``selected`` says which weights were kept.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    set_seed(seed)
    accelerator = Accelerator()
    labels = [str(i) for i in range(n_labels)] if isinstance(n_labels, int) else [str(l) for l in n_labels]
    n_labels = len(labels)
    model = build_classifier(encoder, labels, token_task, pooling)
    if freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    pad_id = encoder.tokenizer.pad_token_id
    items = list(zip(train.input_ids, train.labels))
    gen = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(items, batch_size=batch_size, shuffle=True, generator=gen,
                                         collate_fn=_collate(pad_id, token_task))
    no_decay = ("bias", "LayerNorm.weight", "layer_norm", "norm.weight")
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in trainable if not any(k in n for k in no_decay)], "weight_decay": weight_decay},
        {"params": [p for n, p in trainable if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=lr)
    total = max(1, epochs * math.ceil(len(items) / batch_size / accelerator.num_processes))
    sched = linear_warmup_decay(opt, total, warmup)
    model, opt, loader, sched = accelerator.prepare(model, opt, loader, sched)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    history, best, best_state, avg_state, n_avg = [], -float("inf"), None, None, 0
    for epoch in range(1, epochs + 1):
        model.train()
        running, steps = 0.0, 0
        bar = tqdm(loader, desc=f"finetune epoch {epoch}/{epochs}", disable=not progress or not accelerator.is_main_process, leave=False)
        for batch in bar:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            loss = loss_fn(logits.reshape(-1, n_labels), batch["labels"].reshape(-1))
            accelerator.backward(loss)
            accelerator.clip_grad_norm_([p for _, p in trainable], 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            running += float(loss.detach())
            steps += 1
            if steps % 20 == 0:
                bar.set_postfix(loss=f"{running / steps:.3f}")
        accelerator.wait_for_everyone()
        unwrapped = accelerator.unwrap_model(model)
        dev = float(dev_score(unwrapped)) if accelerator.is_main_process else float("nan")
        history.append({"epoch": epoch, "loss": running / max(1, steps), "dev": dev})
        state = {k: v.detach().float().cpu().clone() for k, v in unwrapped.state_dict().items()}
        if ckpt_avg >= 2 and epoch > epochs - ckpt_avg:
            if avg_state is None:
                avg_state = state
            else:
                for k in avg_state:
                    avg_state[k] += state[k]
            n_avg += 1
        if dev > best:
            best, best_state = dev, state
    final = accelerator.unwrap_model(model)
    if ckpt_avg >= 2 and n_avg:
        final.load_state_dict({k: v / n_avg for k, v in avg_state.items()})
        selected = f"average of the last {n_avg} epochs"
    else:
        final.load_state_dict(best_state)
        selected = f"best source-dev epoch ({max(history, key=lambda h: h['dev'])['epoch']})"
    final.eval()
    return FinetuneResult(model=final, history=history, selected=selected)
