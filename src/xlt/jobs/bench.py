"""``xlt bench``: speed benchmarks, each run side by side with the alternative, as jobs.

* ``xlt bench extract`` (:func:`run_extract`, :func:`bench_extract`): on the same encoder and the
  same sentences, (a) :meth:`xlt.models.encoder.Encoder.encode_words` (length-sorted batches, one forward
  pass per batch) against (b) the loop a typical research script uses: one sentence at a time
  through the Hugging Face tokenizer (``is_split_into_words=True``, truncated to the model limit)
  and model, then word pooling in Python via ``word_ids()``; reports wall time, throughput, peak
  memory, the speed-up, and how far apart the two sets of word vectors are
  (:func:`format_bench` renders it as a Markdown table).
* ``xlt bench finetune`` (:func:`run_finetune`, :func:`bench_finetune`): xlt's fine-tuning loop
  (and its variants: length-grouped batches, micro-batches, bf16) against a plain
  ``transformers.Trainer`` on the same model, data and settings; time, throughput, peak memory and
  dev accuracy.
* ``xlt bench mine`` (:func:`run_mine`, :func:`bench_mine`): bitext mining time (embedding, then
  FAISS k-NN search and margin selection; Artetxe & Schwenk 2019) as the input grows.

Each subcommand has its settings class (:class:`BenchExtractSettings`,
:class:`BenchFinetuneSettings`, :class:`BenchMineSettings`, sharing :class:`BenchSettings`) and
returns a typed result holding the JSON result written to ``out``.
"""
from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from xlt.core.io import write_json
from xlt.core.memory import PeakMemory, max_rss_bytes
from xlt.core.metrics import score
from xlt.core.outputs import Output, OutputPlan
from xlt.data import tasks
from xlt.data.paths import data_set_folders
from xlt.data.readers import DataFormatError
from xlt.jobs import ConfigError
from xlt.jobs.mine import panx_distractors
from xlt.jobs.settings import AT_LEAST_1, POSITIVE, Settings, option
from xlt.models import loading
from xlt.models.loading import DEFAULT_MODEL
from xlt.models.words import DEFAULT_WORD_PIECES, marker_ids, piece_rule
from xlt.retrieval.mining import embed_to_array, mine

if TYPE_CHECKING:  # pragma: no cover
    from xlt.models.loading import Encoder

__all__ = ["AGREE_ATOL", "FINETUNE_VARIANTS", "BenchExtractSettings", "BenchFinetuneSettings", "BenchMineSettings",
           "BenchSettings", "ExtractBenchResult", "FinetuneBenchResult", "MineBenchResult", "bench_extract",
           "bench_finetune", "bench_mine", "format_bench", "format_bench_finetune", "format_bench_mine",
           "naive_encode_words", "run", "run_extract", "run_finetune", "run_mine", "synthetic_sentences"]

_MiB = 1024.0 * 1024.0


def _sync(device: Any) -> None:
    if getattr(device, "type", str(device)) == "cuda":
        import torch  # lazy: heavy import

        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- naive path
def naive_encode_words(encoder: Encoder, sentences: Sequence[Sequence[str]],
                       pooling: str = "first", word_pieces: str = DEFAULT_WORD_PIECES) -> list[np.ndarray]:
    """The per-sentence loop of a typical research script (the benchmark baseline).

    Each sentence (with ``encoder.text_prefix`` words in front) goes alone through the
    tokenizer (``is_split_into_words=True``, truncated to ``encoder.max_length``) and the
    model; the last hidden state is pooled per word via ``word_ids()``.

    Args:
        encoder: the model and fast tokenizer.
        sentences: lists of words.
        pooling: ``'first'`` subword or ``'mean'`` of subwords.
        word_pieces: ``first``/``mean`` (default: a bare SentencePiece ``▁`` piece is not pooled
            when the word has other pieces) or ``xtreme``/``mean_all`` (every piece, as XTREME);
            only the pieces matter here, ``pooling`` chooses first or mean.

    Returns:
        One float32 array ``(n_words_i, dim)`` per sentence. Words that got no subword (empty
        or dropped by normalisation, or cut by truncation) are rows of NaN.
    """
    import torch  # lazy: heavy import


    rule = piece_rule(word_pieces)
    if rule.markers not in ("keep", "skip") or rule.text:
        raise ValueError(f"the naive loop does not implement word_pieces={word_pieces!r}")
    tok, model, device = encoder.tokenizer, encoder.model, encoder.device
    markers = marker_ids(tok) if rule.markers == "skip" else frozenset()
    prefix = encoder.text_prefix.split()
    n_pre = len(prefix)
    out = []
    with torch.no_grad():
        for words in sentences:
            inputs = tok(prefix + list(words), is_split_into_words=True, return_tensors="pt",
                         truncation=True, max_length=encoder.max_length)
            word_ids = inputs.word_ids(0)
            hidden = model(**{k: v.to(device) for k, v in inputs.items()}).last_hidden_state[0]
            hidden = hidden.float().cpu().numpy()
            vecs = np.full((len(words), hidden.shape[-1]), np.nan, dtype=np.float32)
            groups: dict[int, list[int]] = {}
            for t, w in enumerate(word_ids):
                if w is not None and w >= n_pre:
                    groups.setdefault(w - n_pre, []).append(t)
            ids = inputs["input_ids"][0].tolist()
            for w, pos in groups.items():
                pos = [t for t in pos if ids[t] not in markers] or pos
                vecs[w] = hidden[pos[0]] if pooling == "first" else hidden[pos].mean(0)
            out.append(vecs)
    return out


# --------------------------------------------------------------------------- benchmark
def _as_sentences(data: Sequence[Sequence[str]] | Sequence[str]) -> list[list[str]]:
    out = []
    for i, s in enumerate(data):
        if isinstance(s, str):
            out.append(s.split())
        elif isinstance(s, Sequence):
            out.append([str(w) for w in s])
        else:
            raise ValueError(f"item {i} is neither a text nor a list of words")
    return out


def _timed(fn: Callable[[], Any], device: Any) -> tuple[Any, float, int]:
    with PeakMemory(device) as mem:
        _sync(device)
        t0 = time.perf_counter()
        result = fn()
        _sync(device)
        seconds = time.perf_counter() - t0
    return result, seconds, mem.peak_bytes


def bench_extract(encoder: Encoder, sentences: Sequence[Sequence[str]] | Sequence[str],
                  batch_size: int = 32, repeats: int = 1, pooling: str = "first",
                  warmup: bool = True, word_pieces: str = DEFAULT_WORD_PIECES) -> dict[str, Any]:
    """Time xlt's batched word-feature extraction against a naive per-sentence loop.

    Both paths use the same encoder, sentences, pooling and the last layer. Timings are the
    best (minimum) of ``repeats`` runs; each path is warmed up first on a few sentences so
    one-time costs (lazy initialisation, CUDA context, kernel selection) are not timed.

    Args:
        encoder: the model and fast tokenizer.
        sentences: lists of words, or raw texts (split on whitespace).
        batch_size: batch size of the xlt path.
        repeats: timed runs per path (>= 1).
        pooling: ``'first'`` or ``'mean'`` subword pooling, used by both paths.
        warmup: run both paths on up to 4 sentences before timing.
        word_pieces: which pieces are pooled, in both paths (:func:`naive_encode_words`).

    Returns:
        A dict with ``device``, ``model``, ``n_sentences``, ``n_words``, ``n_subwords``
        (subword tokens of the input words, prefix and specials excluded -- the numerator of
        both ``tokens_per_s``), ``batch_size``, ``repeats``, ``pooling``,
        ``memory_method`` (how memory was measured), ``xlt`` and ``naive`` (each
        ``{"seconds", "all_seconds", "tokens_per_s", "sentences_per_s", "peak_memory_mb"}``;
        seconds are wall-clock, memory in MiB of peak growth during the run),
        ``speedup`` (naive seconds / xlt seconds), ``max_abs_diff`` (largest absolute
        difference between the two paths' word vectors), ``n_compared_sentences`` and
        ``n_compared_words`` (sentences longer than the model limit, which the naive loop
        truncates, and sentences with words that have no subwords, which the naive loop
        drops while xlt encodes them as the unknown token, are left out of the comparison),
        and ``xlt_stats`` (the stats of :meth:`~xlt.models.encoder.Encoder.encode_words`).

    Raises:
        ValueError: ``repeats`` < 1, an empty ``sentences``, or bad items.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    sents = _as_sentences(sentences)
    if not sents:
        raise ValueError("no sentences to benchmark")
    device = encoder.device

    def run_xlt(s: list[list[str]]) -> Any:
        return encoder.encode_words(s, layers="last", pooling=pooling,  # type: ignore[arg-type]
                            batch_size=batch_size, progress=False, cache=None, word_pieces=word_pieces)

    def run_naive(s: list[list[str]]) -> list[np.ndarray]:
        return naive_encode_words(encoder, s, pooling=pooling, word_pieces=word_pieces)

    if warmup:
        run_xlt(sents[:4])
        run_naive(sents[:4])

    xlt_times, naive_times, xlt_mem, naive_mem = [], [], 0, 0
    feats: Any = None
    naive: list[np.ndarray] = []
    for _ in range(repeats):
        naive, sec, mem = _timed(lambda: run_naive(sents), device)
        naive_times.append(sec)
        naive_mem = max(naive_mem, mem)
        feats, sec, mem = _timed(lambda: run_xlt(sents), device)
        xlt_times.append(sec)
        xlt_mem = max(xlt_mem, mem)

    max_diff, n_words_cmp, n_sent_cmp = _compare_with_naive(encoder, sents, feats.vectors, naive)
    n_sub = int(feats.stats["n_subwords"])
    xs = _speed_summary(xlt_times, xlt_mem, n_sub, len(sents))
    ns = _speed_summary(naive_times, naive_mem, n_sub, len(sents))
    return {
        "device": str(device),
        "model": encoder.spec,
        "n_sentences": len(sents),
        "n_words": int(feats.stats["n_words"]),
        "n_subwords": n_sub,
        "batch_size": batch_size,
        "repeats": repeats,
        "pooling": pooling,
        "memory_method": PeakMemory.method(device),
        "xlt": xs,
        "naive": ns,
        "speedup": ns["seconds"] / xs["seconds"] if xs["seconds"] > 0 else float("inf"),
        "max_abs_diff": max_diff,
        "vectors_agree": bool(max_diff <= AGREE_ATOL),
        "n_compared_sentences": n_sent_cmp,
        "n_compared_words": n_words_cmp,
        "xlt_stats": dict(feats.stats),
    }


def _compare_with_naive(encoder: Encoder, sents: list[list[str]], vectors: Sequence[np.ndarray],
                        naive: Sequence[np.ndarray]) -> tuple[float, int, int]:
    """``(max |xlt - naive|, words compared, sentences compared)`` over the sentences the naive
    loop saw whole."""
    prefix = encoder.text_prefix.split()
    lengths = [len(ids) for ids in encoder.tokenizer(
        [prefix + s for s in sents], is_split_into_words=True, verbose=False)["input_ids"]]
    max_diff, n_words_cmp, n_sent_cmp = 0.0, 0, 0
    for a, b, n in zip(vectors, naive, lengths):
        # Skip sentences the naive loop truncated, and those with subword-less words (xlt
        # encodes such a word as the unknown token, which changes its neighbours' context).
        if n > encoder.max_length or np.isnan(b).any():
            continue
        n_sent_cmp += 1
        n_words_cmp += len(a)
        if len(a):
            max_diff = max(max_diff, float(np.abs(a - b).max()))
    return max_diff, n_words_cmp, n_sent_cmp


def _speed_summary(times: list[float], mem: int, n_subwords: int, n_sentences: int) -> dict[str, Any]:
    """The best of ``times`` (seconds), the throughput it gives and the peak memory growth (MiB)."""
    best = min(times)
    return {"seconds": best, "all_seconds": times,
            "tokens_per_s": n_subwords / best if best > 0 else float("inf"),
            "sentences_per_s": n_sentences / best if best > 0 else float("inf"),
            "peak_memory_mb": mem / _MiB}

AGREE_ATOL = 1e-4  # both paths run the same fp32 model; only padding/batching order differs


def format_bench(result: dict[str, Any]) -> str:
    """Render a :func:`bench_extract` result as a Markdown table plus a few summary lines.

    Args:
        result: the dict returned by :func:`bench_extract`.

    Returns:
        Markdown text (no trailing newline).
    """
    rows = [
        ("xlt `encode_words` (length-sorted batches of "
         f"{result['batch_size']})", result["xlt"]),
        ("naive loop (1 sentence per forward pass)", result["naive"]),
    ]
    lines = [
        "| method | seconds | subword tokens/s | sentences/s | peak memory (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(f"| {name} | {r['seconds']:.3f} | {r['tokens_per_s']:,.0f} | "
                     f"{r['sentences_per_s']:,.1f} | {r['peak_memory_mb']:.1f} |")
    lines += [
        "",
        f"- speed-up (naive / xlt): **{result['speedup']:.2f}x**",
        f"- max |xlt - naive| over {result['n_compared_words']} words in "
        f"{result['n_compared_sentences']} sentences: {result['max_abs_diff']:.2e}",
        f"- {result['n_sentences']} sentences, {result['n_words']} words, "
        f"{result['n_subwords']} subword tokens; model `{result['model']}` on "
        f"`{result['device']}`; pooling `{result['pooling']}`; best of {result['repeats']}",
        f"- memory: {result['memory_method']}",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- mining
def synthetic_sentences(words: Sequence[str], n: int, seed: int = 0, min_len: int = 6,
                        max_len: int = 20) -> list[str]:
    """``n`` distinct pseudo-sentences of ``min_len``–``max_len`` words drawn from ``words``.

    For speed benchmarks only (the words are real, the order random).

    Raises:
        ValueError: ``words`` is empty or the lengths are inconsistent.
    """
    if not words:
        raise ValueError("need at least one word to build sentences from")
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    rng = np.random.default_rng(seed)
    vocab = np.asarray(list(words), dtype=object)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        s = " ".join(vocab[rng.integers(0, len(vocab), size=int(rng.integers(min_len, max_len + 1)))])
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def bench_mine(encoder: Encoder, src: Sequence[str], tgt: Sequence[str], sizes: Sequence[int],
               indexes: Sequence[str] = ("flat", "ivf"), *, k: int = 4, batch_size: int = 64,
               progress: bool = True) -> dict[str, Any]:
    """Time margin mining as the input grows: embedding, then k-NN search + pair selection.

    For each size ``n`` the first ``n`` sentences of ``src`` and ``tgt`` are embedded once
    (timed: sentences/s over both sides), then mined with each FAISS index kind (ratio
    margin, ``max`` strategy; timed: sentences/s over both sides). For approximate
    indexes, ``recall_at_1`` is the share of forward nearest neighbours equal to the exact
    (flat) ones when a flat run is included.

    Args:
        src, tgt: at least ``max(sizes)`` sentences each.
        sizes: sentences per side, e.g. ``(1000, 10000, 100000)``.
        indexes: FAISS kinds to time (see :data:`xlt.retrieval.mining.INDEX_KINDS`).

    Returns:
        ``{"runs": [{"n", "embed_seconds", "embed_sentences_per_s", "search": {kind: {...}}}],
        "max_rss_mib", "threads"}``.

    Raises:
        ValueError: fewer sentences than the largest size.
    """
    import faiss  # lazy: heavy import
    import torch  # lazy: heavy import


    if max(sizes) > min(len(src), len(tgt)):
        raise ValueError(f"need {max(sizes)} sentences per side, got {len(src)} and {len(tgt)}")
    runs = []
    for n in sizes:
        t0 = time.perf_counter()
        x = embed_to_array(encoder, src[:n], batch_size=batch_size, progress=progress)
        y = embed_to_array(encoder, tgt[:n], batch_size=batch_size, progress=progress)
        embed_s = time.perf_counter() - t0
        row: dict[str, Any] = {"n": n, "embed_seconds": round(embed_s, 2),
                               "embed_sentences_per_s": round(2 * n / embed_s, 1), "search": {}}
        first: dict[str, np.ndarray] = {}
        for kind in indexes:
            t0 = time.perf_counter()
            pairs = mine(x, y, k=k, margin="ratio", strategy="forward", index=kind, approx_above=0)
            s = time.perf_counter() - t0
            first[kind] = pairs.tgt[np.argsort(pairs.src)]
            info = pairs.info["forward_index"]
            row["search"][kind] = {"seconds": round(s, 2), "sentences_per_s": round(2 * n / s, 1),
                                   "index": {k_: v for k_, v in info.items() if k_ != "seconds"}}
        if "flat" in first:
            for kind in first:
                if kind != "flat":
                    row["search"][kind]["recall_at_1"] = float(np.mean(first[kind] == first["flat"]))
        runs.append(row)
        if progress:
            print(f"n={n}: embed {row['embed_sentences_per_s']} sent/s; "
                  + ", ".join(f"{kd} {v['seconds']} s" for kd, v in row["search"].items()), file=sys.stderr)
    return {"runs": runs, "max_rss_mib": round(max_rss_bytes() / _MiB, 1),
            "threads": {"torch": torch.get_num_threads(), "faiss": faiss.omp_get_max_threads()}}


def format_bench_mine(result: dict[str, Any]) -> str:
    """Markdown table of :func:`bench_mine`'s result."""
    kinds = list(result["runs"][0]["search"])
    head = ("| sentences per side | embedding (sent/s) | embedding (s) | "
            + " | ".join(f"{k} search+select (s) | {k} (sent/s)" for k in kinds) + " |")
    lines = [head, "|" + "---:|" * (3 + 2 * len(kinds))]
    for r in result["runs"]:
        cells = [f"{r['n']:,}", f"{r['embed_sentences_per_s']:.0f}", f"{r['embed_seconds']:.1f}"]
        for k in kinds:
            v = r["search"][k]
            rec = f" (recall@1 {v['recall_at_1']:.3f})" if "recall_at_1" in v else ""
            cells += [f"{v['seconds']:.2f}{rec}", f"{v['sentences_per_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- fine-tuning
def _hf_trainer_finetune(encoder: Encoder, train, labels: Sequence[str], *, epochs: int, batch_size: int,
                         lr: float, seed: int, freeze_embeddings: bool, work_dir: str):
    """The same fine-tuning as :func:`xlt.transfer.finetune.finetune` done by a plain
    ``transformers.Trainer``: same model class and initial weights, AdamW with weight decay 0.01
    off biases and norms, linear warm-up over 10% of the steps then linear decay, gradient
    clipping at 1.0, the same tokenised examples; padding by ``DataCollatorForTokenClassification``."""
    import torch  # lazy: heavy import
    from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments  # lazy: heavy import

    from xlt.transfer.finetune import build_classifier  # lazy: heavy import

    torch.manual_seed(seed)
    model = build_classifier(encoder, labels, token_task=True)
    if freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    rows = [{"input_ids": ids, "attention_mask": [1] * len(ids), "labels": lab}
            for ids, lab in zip(train.input_ids, train.labels)]
    args = TrainingArguments(output_dir=work_dir, per_device_train_batch_size=batch_size, num_train_epochs=epochs,
                             learning_rate=lr, weight_decay=0.01, warmup_steps=0.1, lr_scheduler_type="linear",
                             max_grad_norm=1.0, logging_strategy="no", save_strategy="no", eval_strategy="no",
                             report_to=[], seed=seed, use_cpu=encoder.device.type == "cpu",
                             dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=rows,
                      data_collator=DataCollatorForTokenClassification(encoder.tokenizer))
    trainer.train()
    model.eval()
    return model


def bench_finetune(encoder: Encoder, train_sentences: Sequence[Sequence[str]], train_tags: Sequence[Sequence[str]],
                   dev_sentences: Sequence[Sequence[str]], dev_tags: Sequence[Sequence[str]], *,
                   epochs: int = 1, batch_size: int = 32, lr: float = 5e-5, max_length: int = 128, seed: int = 0,
                   variants: dict[str, dict] | None = None, trainer: bool = True) -> dict[str, Any]:
    """Time xlt's fine-tuning against a plain Hugging Face ``Trainer`` on the same model, data and settings.

    Every run starts from the same encoder weights, trains a token classifier on the same
    tokenised sentences (first subword per word labelled) for ``epochs`` epochs, then scores
    token accuracy on the same dev sentences. Times cover training only (no evaluation).

    Args:
        encoder: the model (left unchanged).
        train_sentences, train_tags: words and tags (every tag in the union of train/dev tags).
        dev_sentences, dev_tags: the dev set for the accuracy check.
        epochs, batch_size, lr, max_length, seed: the shared settings (embeddings frozen).
        variants: name -> extra keyword arguments of :func:`xlt.transfer.finetune.finetune`
            (e.g. ``{"xlt": {}, "xlt bf16": {"bf16": True}}``); default ``{"xlt": {}}``.
        trainer: also run the ``Trainer`` baseline.

    Returns:
        ``{"runs": {name: {"seconds", "sentences_per_s", "peak_rss_mib", "dev_accuracy"}},
        "speedup": {name: sentences/s over the Trainer's}, "settings": {...}}``.
    """
    from xlt.transfer.finetune import (  # lazy: heavy import
        encode_token_examples, finetune, predict_logits, word_predictions)

    labels = sorted({t for s in list(train_tags) + list(dev_tags) for t in s})
    index = {l: i for i, l in enumerate(labels)}
    train = encode_token_examples(encoder, [list(s) for s in train_sentences],
                                  [[index[t] for t in s] for s in train_tags], max_length)
    dev = encode_token_examples(encoder, [list(s) for s in dev_sentences], None, encoder.max_length)
    pad = encoder.tokenizer.pad_token_id

    def accuracy(model) -> float:
        pred = word_predictions(predict_logits(model, dev, pad), dev, index.get("O", 0))
        return score("accuracy", [list(s) for s in dev_tags], [[labels[i] for i in s] for s in pred])

    runs: dict[str, dict] = {}

    def record(name: str, fn: Callable[[], Any]) -> None:
        with PeakMemory(encoder.device) as mem:
            t0 = time.perf_counter()
            model = fn()
            seconds = time.perf_counter() - t0
        runs[name] = {"seconds": round(seconds, 2),
                      "sentences_per_s": round(len(train_sentences) * epochs / seconds, 2),
                      "peak_rss_mib": round(mem.peak_bytes / _MiB, 1), "dev_accuracy": round(accuracy(model), 2)}

    shared = dict(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, freeze_embeddings=True)
    for name, extra in (variants or {"xlt": {}}).items():
        record(name, lambda extra=extra: finetune(encoder, train, labels, True, lambda m: 0.0, progress=False,
                                                  **shared, **extra).model)
    if trainer:
        with tempfile.TemporaryDirectory() as tmp:
            record("transformers.Trainer", lambda: _hf_trainer_finetune(encoder, train, labels, work_dir=tmp, **shared))
    base = runs.get("transformers.Trainer", {}).get("sentences_per_s")
    return {"runs": runs,
            "speedup": {k: round(v["sentences_per_s"] / base, 2) for k, v in runs.items()} if base else {},
            "settings": {"train_sentences": len(train_sentences), "dev_sentences": len(dev_sentences),
                         "labels": len(labels), "max_length": max_length, **shared},
            "memory": PeakMemory.method(encoder.device)}


def format_bench_finetune(result: dict[str, Any]) -> str:
    """A table of :func:`bench_finetune`'s runs."""
    lines = [f"{'run':<28} {'seconds':>8} {'sent/s':>8} {'speed-up':>8} {'peak MiB':>9} {'dev acc':>8}"]
    for name, r in result["runs"].items():
        lines.append(f"{name:<28} {r['seconds']:8.1f} {r['sentences_per_s']:8.2f} "
                     f"{result['speedup'].get(name, float('nan')):8.2f} {r['peak_rss_mib']:9.1f} {r['dev_accuracy']:8.2f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- settings

#: xlt fine-tuning variants ``xlt bench finetune --variants`` can time (extra ``finetune()`` arguments);
#: ``xlt`` (uniformly shuffled batches, as the Trainer) needs none.
FINETUNE_VARIANTS: dict[str, dict] = {
    "grouped": {"group_by_length": True},
    "bf16": {"bf16": True},
    "grouped+bf16": {"group_by_length": True, "bf16": True},
    "micro4": {"micro_batch_size": 4},
    "micro8": {"micro_batch_size": 8},
    "micro8+bf16": {"micro_batch_size": 8, "bf16": True},
}


@dataclass(kw_only=True)
class BenchSettings(Settings):
    """Model, data and output options of every bench subcommand.

    Attributes:
        model: the encoder: ``bundled:e5-small`` (default), a Hugging Face id or a local folder.
        data_dir: the data folder of the built-in sets (default: ``$XLT_DATA``, ``../shared/data``,
            ``~/.cache/xlt/data``).
        out: the JSON file the result is written to (None: printed only).
        overwrite: replace an existing ``out`` file.
    """

    model: str = option(DEFAULT_MODEL, help="the encoder: bundled:e5-small, a Hugging Face id or a local folder")
    data_dir: Path | None = option(None, help="data folder (default: $XLT_DATA, ../shared/data, ~/.cache/xlt/data)")
    out: Path | None = option(None, metavar="FILE.json", help="write the result as JSON here")
    overwrite: bool = option(False, help="replace an existing --out file")


@dataclass(kw_only=True)
class BenchExtractSettings(BenchSettings):
    """Settings of ``xlt bench extract`` (with :class:`BenchSettings`).

    Attributes:
        file: an XTREME tsv file to take sentences from (default: the evaluation file of
            ``task``/``lang``).
        task: the built-in task whose file is used. lang: its language.
        n: sentences (the first ``n``). batch_size: batch size of xlt's path.
    """

    file: Path | None = option(None, help="XTREME tsv file to take sentences from (default: the evaluation file of "
                                          "--task/--lang)")
    task: Literal["udpos", "panx", "sib200"] = option("udpos", help="task whose evaluation file is used")
    lang: str = option("en", help="language of the evaluation file to use")
    n: int = option(500, check=AT_LEAST_1, help="number of sentences")
    batch_size: int = option(32, check=AT_LEAST_1, help="batch size of xlt's path")


@dataclass(kw_only=True)
class BenchFinetuneSettings(BenchSettings):
    """Settings of ``xlt bench finetune`` (with :class:`BenchSettings`).

    Attributes:
        task: token task whose English data is used. n: training sentences (the first ``n`` of
            train-en). dev_n: dev sentences for the accuracy check.
        epochs, batch_size, lr, max_length, seed: the shared training settings (embeddings frozen).
        variants: xlt variants to time: ``xlt`` and names of :data:`FINETUNE_VARIANTS`.
        trainer: also time the ``transformers.Trainer`` baseline.

    Raises:
        ConfigError: an unknown variant, or none.
    """

    task: Literal["udpos", "panx"] = option("udpos", help="token task whose English data is used")
    n: int = option(1000, check=AT_LEAST_1, help="training sentences (the first N of train-en)")
    dev_n: int = option(500, check=AT_LEAST_1, help="dev sentences for the accuracy check")
    epochs: int = option(1, check=AT_LEAST_1, help="training epochs")
    batch_size: int = option(32, check=AT_LEAST_1, help="training batch size")
    lr: float = option(5e-5, check=POSITIVE, help="learning rate")
    max_length: int = option(128, check=AT_LEAST_1, help="training length in tokens")
    seed: int = option(0, help="seed of the head's initialisation and the batch order")
    variants: list[str] = option(default_factory=lambda: ["xlt"],
                                 help="comma-separated xlt variants to time: xlt (uniformly shuffled batches, as the "
                                      "Trainer), plus any of " + ", ".join(FINETUNE_VARIANTS) + " (microN: "
                                      "length-sorted micro-batches of N, 'xlt transfer''s default on a CPU is micro8)")
    trainer: bool = option(True, help="time the transformers.Trainer baseline",
                           negative_help="skip the transformers.Trainer baseline")

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = [v for v in self.variants if v != "xlt" and v not in FINETUNE_VARIANTS]
        if unknown or not self.variants:
            raise ConfigError(f"--variants: unknown {unknown}; choose from xlt, {', '.join(FINETUNE_VARIANTS)}")


@dataclass(kw_only=True)
class BenchMineSettings(BenchSettings):
    """Settings of ``xlt bench mine`` (with :class:`BenchSettings`).

    Attributes:
        sizes: sentences per side, one run each. lang: the target language (its PAN-X sentences;
            English is the source). indexes: FAISS index kinds to time
            (:data:`xlt.retrieval.mining.INDEX_KINDS`). batch_size: sentences per forward pass.
    """

    sizes: list[int] = option(default_factory=lambda: [1000, 10000, 100000], check=AT_LEAST_1,
                              help="sentences per side, comma-separated")
    lang: str = option("de", help="target language (its PAN-X sentences; English is the source)")
    indexes: list[str] = option(default_factory=lambda: ["flat", "ivf"], help="FAISS index kinds to time")
    batch_size: int = option(64, check=AT_LEAST_1, help="sentences per forward pass")

    def __post_init__(self) -> None:
        # the command line gives ["1000,10000"]: xlt.jobs.settings splits lists of text at commas, not lists of
        # numbers, so the parts are split here first
        if isinstance(self.sizes, (list, tuple)):
            self.sizes = [p for v in self.sizes for p in (v.split(",") if isinstance(v, str) else [v])
                          if not (isinstance(p, str) and not p.strip())]
        super().__post_init__()


# --------------------------------------------------------------------------- results


@dataclass
class ExtractBenchResult:
    """What :func:`run_extract` measured.

    Attributes:
        speedup: naive seconds / xlt seconds. max_abs_diff: largest difference between the two
            paths' word vectors. vectors_agree: ``max_abs_diff`` within :data:`AGREE_ATOL`.
        result: the whole result (:func:`bench_extract`'s dict plus ``input``; written to ``out``).
        table: the Markdown table (:func:`format_bench`). out: the JSON file (None: not written).
    """

    speedup: float
    max_abs_diff: float
    vectors_agree: bool
    result: dict
    table: str
    out: Path | None = None


@dataclass
class FinetuneBenchResult:
    """What :func:`run_finetune` measured.

    Attributes:
        runs: run name -> ``{"seconds", "sentences_per_s", "peak_rss_mib", "dev_accuracy"}``.
        speedup: run name -> sentences/s over the Trainer's (empty without the Trainer).
        result: the whole result (written to ``out``). table: :func:`format_bench_finetune`'s text.
        out: the JSON file (None: not written).
    """

    runs: dict[str, dict]
    speedup: dict[str, float]
    result: dict
    table: str
    out: Path | None = None


@dataclass
class MineBenchResult:
    """What :func:`run_mine` measured.

    Attributes:
        runs: one row per size: ``{"n", "embed_seconds", "embed_sentences_per_s", "search"}``.
        result: the whole result (written to ``out``). table: :func:`format_bench_mine`'s table.
        out: the JSON file (None: not written).
    """

    runs: list[dict]
    result: dict
    table: str
    out: Path | None = None


# --------------------------------------------------------------------------- jobs


def _check_outputs(settings: BenchSettings, file: Path | None = None) -> None:
    """The output rule before any work: ``out`` may not be an input (model, file, data folder).

    Raises:
        OutputError: it is one, or exists without ``overwrite``.
    """
    inputs = [("--model", settings.model), ("--file", str(file) if file else None),
              ("--data-dir", data_set_folders(settings.data_dir))]
    OutputPlan(inputs=inputs, outputs=[Output("--out", settings.out, "file")], overwrite=settings.overwrite).check()


def _write(settings: BenchSettings, result: dict) -> None:
    if settings.out:
        write_json(settings.out, result)


def run_extract(settings: BenchExtractSettings, command: list[str] | None = None) -> ExtractBenchResult:
    """``xlt bench extract``: :func:`bench_extract` on the first ``n`` sentences of ``file`` (or of the
    evaluation file of ``task``/``lang``); writes the result to ``out``.

    Raises:
        OutputError: ``out`` is an input. DataFormatError: a file without sentences or malformed.
        UnknownLanguageError / DatasetNotFoundError: no such task language or data folder.
        ModelLoadError: the model cannot be loaded.
    """
    _check_outputs(settings, settings.file)
    if settings.file:
        path = Path(settings.file)
    else:
        path = tasks.available_languages(settings.task, settings.data_dir)[
            tasks.match_task_language(settings.task, settings.lang, settings.data_dir)]
    examples, _ = tasks.load_split(settings.task, path, limit=settings.n)
    if not examples:
        raise DataFormatError(path, 1, "no sentences to benchmark")
    sentences = [e.tokens for e in examples] if hasattr(examples[0], "tokens") else [e.text.split() for e in examples]
    result = bench_extract(loading.load_encoder(settings.model), sentences, batch_size=settings.batch_size)
    result["input"] = {"file": str(path), "sentences": len(sentences), "model": settings.model}
    _write(settings, result)
    return ExtractBenchResult(speedup=result["speedup"], max_abs_diff=result["max_abs_diff"],
                              vectors_agree=result["vectors_agree"], result=result, table=format_bench(result),
                              out=settings.out)


def run_finetune(settings: BenchFinetuneSettings, command: list[str] | None = None) -> FinetuneBenchResult:
    """``xlt bench finetune``: :func:`bench_finetune` on the first ``n`` English training sentences of
    ``task`` (dev: the first ``dev_n`` of its dev file); writes the result to ``out``.

    Raises:
        OutputError: ``out`` is an input. DatasetNotFoundError: no data. ModelLoadError.
    """
    _check_outputs(settings)
    files = tasks.source_files(settings.task, "en", settings.data_dir)
    train, _ = tasks.load_split(settings.task, files["train"], limit=settings.n)
    dev, _ = tasks.load_split(settings.task, files["dev"] or files["train"], limit=settings.dev_n)
    enc = loading.load_encoder(settings.model)
    result = bench_finetune(enc, [e.tokens for e in train], [e.labels for e in train], [e.tokens for e in dev],
                            [e.labels for e in dev], epochs=settings.epochs, batch_size=settings.batch_size,
                            lr=settings.lr, max_length=settings.max_length, seed=settings.seed,
                            variants={v: FINETUNE_VARIANTS.get(v, {}) for v in settings.variants},
                            trainer=settings.trainer)
    result["input"] = {"task": settings.task, "train": str(files["train"]), "dev": str(files["dev"]),
                       "model": settings.model}
    _write(settings, result)
    return FinetuneBenchResult(runs=result["runs"], speedup=result["speedup"], result=result,
                               table=format_bench_finetune(result), out=settings.out)


def _mining_sentences(settings: BenchMineSettings) -> tuple[list[list[str]], dict[str, dict]]:
    """``max(sizes)`` unique PAN-X sentences of English and of ``lang`` (seeded order), topped up
    with :func:`synthetic_sentences` from their words when a side has fewer; and where they came from."""
    n = max(settings.sizes)
    sides, sources = [], {}
    for lang in ("en", settings.lang):
        real, info = panx_distractors(lang, n, 0, settings.data_dir)  # unique PAN-X sentences, seeded order
        words = sorted({w for sent in real for w in sent.split()})
        extra = synthetic_sentences(words, n - len(real) + len(real) // 10, seed=1) if len(real) < n else []
        seen = set(real)
        sides.append((real + [e for e in extra if e not in seen])[:n])
        sources[lang] = {**info, "real": min(len(real), n), "synthetic": max(0, n - len(real))}
    return sides, sources


def run_mine(settings: BenchMineSettings, command: list[str] | None = None) -> MineBenchResult:
    """``xlt bench mine``: :func:`bench_mine` on English against ``lang`` at every size; writes the
    result to ``out``.

    Raises:
        OutputError: ``out`` is an input. DatasetNotFoundError: no PAN-X data. ModelLoadError.
    """
    _check_outputs(settings)
    sides, sources = _mining_sentences(settings)
    result = bench_mine(loading.load_encoder(settings.model), sides[0], sides[1], settings.sizes, settings.indexes,
                        batch_size=settings.batch_size)
    result["input"] = {"model": settings.model, "sentences": sources}
    _write(settings, result)
    return MineBenchResult(runs=result["runs"], result=result, table=format_bench_mine(result), out=settings.out)


def run(settings: BenchSettings, command: list[str] | None = None):
    """The benchmark ``settings`` describe: :func:`run_extract`, :func:`run_finetune` or :func:`run_mine`.

    Raises:
        TypeError: settings of no bench subcommand.
    """
    for cls, job in ((BenchExtractSettings, run_extract), (BenchFinetuneSettings, run_finetune),
                     (BenchMineSettings, run_mine)):
        if isinstance(settings, cls):
            return job(settings, command)
    raise TypeError(f"not the settings of an xlt bench subcommand: {type(settings).__name__}")
