"""``xlt transfer``: train on the source language, evaluate zero-shot on every target language.

The protocol is XTREME's (Hu et al. 2020, "XTREME: A Massively Multilingual Multi-task
Benchmark for Evaluating Cross-lingual Generalization"): the task model sees labelled data of
the source language only; model selection uses the source language's dev set only; every
target language is scored on its own evaluation set and the report gives the average over
targets (source excluded).
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from xlt.data import tasks as task_registry
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.metrics import mean_std, score
from xlt.evaluate.report import write_report
from xlt.models.loading import DEFAULT_MODEL, Encoder, load_encoder

log = logging.getLogger(__name__)

# Defaults per (mode, task kind). Token tasks have ~10^5 training words, sequence tasks
# (SIB-200: 701 texts) a few hundred examples, so the latter need more, smaller steps.
DEFAULTS = {
    ("probe", "token"): {"epochs": 10, "batch_size": 256, "lr": 1e-3},
    ("probe", "sequence"): {"epochs": 100, "batch_size": 32, "lr": 1e-3},
    ("finetune", "token"): {"epochs": 3, "batch_size": 32, "lr": 5e-5},
    ("finetune", "sequence"): {"epochs": 10, "batch_size": 32, "lr": 5e-5},
}
FEATURE_CHUNK = 2000  # sentences per feature-extraction call in probe mode (bounds float32 memory)


@dataclass
class TransferConfig:
    """Settings of one ``xlt transfer`` run (every field is echoed in the report).

    Attributes:
        task: ``udpos``, ``panx`` or ``sib200``.
        source: source language code (any form: ``en``, ``eng``, ``eng_Latn``).
        targets: ``all`` or a comma-separated list of language codes.
        model: model spec (``bundled:e5-small``, a Hugging Face id or folder).
        mode: ``probe`` (frozen encoder + head) or ``finetune`` (full fine-tuning).
        layer: probe features: ``mix`` (learned scalar mix of all layers), ``last``, or an
            int (0 = embeddings, 1..L = layers, negative counts from the top).
        head: probe head: ``linear`` or ``mlp``.
        epochs, batch_size, lr: ``None`` = the default for the mode and task kind (probe:
            10/256/1e-3 for tagging, 100/32/1e-3 for classification; finetune: 3/32/5e-5 for
            tagging, 10/32/5e-5 for classification).
        seeds: one run per seed; scores are mean ± sample std over seeds.
        train_limit, eval_limit: keep the first N sentences of training / each evaluation
            (and source dev) set, for quick runs.
        ckpt_avg: fine-tuning: average the last N epochs' weights (Schmidt et al. 2023).
        freeze_embeddings: fine-tuning: keep the word-embedding matrix fixed (see
            :func:`xlt.transfer.finetune.finetune`).
        max_length: fine-tuning training length in tokens (XTREME uses 128).
        data_dir: data folder (else resolved as in :func:`xlt.data.paths.resolve_data_dir`).
        cache_dir: on-disk feature cache for probe mode (None = off).
        out: report folder (``report.json``, ``report.md``, ``scores.png``); None = no files.
        aligner: probe mode: a saved :class:`~xlt.align.maps.CrossLingualAligner` (``xlt align
            fit``); every language's features are mapped into the source space before the head
            (training and evaluation alike; the source gets the method's own transform).
    """

    task: str
    source: str = "en"
    targets: str = "all"
    model: str = DEFAULT_MODEL
    mode: str = "probe"
    layer: str = "mix"
    head: str = "linear"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    train_limit: int | None = None
    eval_limit: int | None = None
    ckpt_avg: int = 0
    freeze_embeddings: bool = True
    max_length: int = 128
    data_dir: str | None = None
    cache_dir: str | None = None
    out: str | None = None
    aligner: str | None = None
    progress: bool = True

    def resolved(self) -> dict:
        """Config with the defaults of the mode and task kind filled in (see ``DEFAULTS``)."""
        return with_defaults(asdict(self), self.mode, task_registry.get_task(self.task).kind)


def with_defaults(settings: dict, mode: str, kind: str) -> dict:
    """``settings`` with every ``None`` among ``DEFAULTS[(mode, kind)]``'s keys replaced by the default.

    Raises:
        KeyError: no defaults for ``(mode, kind)``.
    """
    out = dict(settings)
    for k, v in DEFAULTS[(mode, kind)].items():
        if out.get(k) is None:
            out[k] = v
    return out


@dataclass
class LanguageData:
    """Evaluation (or training) examples of one language and what reading them skipped."""

    lang: str
    path: Path
    examples: list
    stats: object


def _load(task: str, lang: str, path: Path, limit: int | None) -> LanguageData:
    examples, stats = task_registry.load_split(task, path, limit=limit)
    return LanguageData(lang=lang, path=Path(path), examples=examples, stats=stats)


def _gold(spec, examples) -> list:
    if spec.kind == "token":
        return [list(e.labels) for e in examples]
    return [e.label for e in examples]


def _counts(spec, data: LanguageData, truncated: int) -> dict:
    # sequence tasks have raw text, so no token count is given (the report shows "–")
    tokens = sum(len(e.tokens) for e in data.examples) if spec.kind == "token" else None
    return {"sentences": len(data.examples), "tokens": tokens,
            "skipped_empty": int(getattr(data.stats, "n_skipped_empty", 0)), "truncated": int(truncated)}


# ----------------------------------------------------------------------------- probe
def probe_layers(layer: str | int) -> str | int:
    """The ``layers`` argument of :func:`xlt.models.features.encode_words` for a probe's ``layer``
    setting: ``'mix'`` → ``'all'`` (every hidden state, for a learned scalar mix), ``'last'`` as is,
    else the layer number."""
    return "all" if layer == "mix" else ("last" if layer == "last" else int(layer))


def tag_features(encoder: Encoder, sentences: list[list[str]], layers: str | int = "all", *,
                 progress: bool = True, cache=None) -> tuple[torch.Tensor, int]:
    """Probe input for pre-tokenised sentences: one float16 row per word (first subword's vector).

    Extracts in chunks of :data:`FEATURE_CHUNK` sentences and keeps only the float16 stack (a
    13-layer float32 copy of a 20k-sentence training set would need ~7 GB on top).

    Args:
        encoder: the model (see :func:`xlt.models.loading.load_encoder`).
        sentences: word lists; rows come out in order, sentence after sentence.
        layers: as :func:`probe_layers` returns (``'all'`` gives ``(n_words, n_layers, dim)``).
        progress: tqdm bars.
        cache: a :class:`~xlt.models.cache.FeatureCache` (or None).

    Returns:
        ``(X, truncated)``: ``(sum of sentence lengths, [n_layers,] dim)`` float16 and the number
        of sentences that were truncated.

    Raises:
        ValueError: no sentences.
    """
    from xlt.models.features import encode_words
    from xlt.transfer.probe import stack_token_features

    if not sentences:
        raise ValueError("no sentences to extract features from")
    parts, truncated = [], 0
    for start in range(0, len(sentences), FEATURE_CHUNK):
        wf = encode_words(encoder, sentences[start:start + FEATURE_CHUNK], layers=layers,
                          pooling="first", progress=progress, cache=cache)
        parts.append(stack_token_features(list(wf.vectors)))
        truncated += int(wf.stats.get("n_truncated", 0))
        del wf
    X = torch.cat(parts) if len(parts) > 1 else parts[0]
    return X, truncated


def decode_tags(pred: np.ndarray, lengths: list[int], labels: list[str]) -> list[list[str]]:
    """Split flat predicted label ids (one per word) back into per-sentence tag lists."""
    names = [labels[i] for i in pred]
    out, k = [], 0
    for n in lengths:
        out.append(names[k:k + n])
        k += n
    return out


def train_tagger(X: torch.Tensor, tags: list[list[str]], X_dev: torch.Tensor, dev_tags: list[list[str]],
                 labels: list[str], *, metric: str = "f1", head: str = "linear", epochs: int = 10,
                 batch_size: int = 256, lr: float = 1e-3, seed: int = 0, progress: bool = True):
    """Train a token-tagging probe on word features and keep the epoch with the best dev score.

    The same training as ``xlt transfer --mode probe`` for a token task
    (:func:`xlt.transfer.probe.train_probe`; ``head='mlp'`` = 256 hidden units).

    Args:
        X, tags: training features (:func:`tag_features`) and the tags of the same sentences.
        X_dev, dev_tags: the selection set's features and tags.
        labels: the label inventory (a label's index is its class id).
        metric: selection metric (:func:`xlt.evaluate.metrics.score`; ``f1`` = span F1).

    Returns:
        :class:`xlt.transfer.probe.ProbeResult`.

    Raises:
        KeyError: a tag outside ``labels``; ValueError: feature rows and tags disagree.
    """
    from xlt.transfer.probe import predict, train_probe

    index = {l: i for i, l in enumerate(labels)}
    y = torch.tensor([index[t] for s in tags for t in s], dtype=torch.long)
    dev_lengths = [len(s) for s in dev_tags]

    def dev_score(h) -> float:
        return score(metric, dev_tags, decode_tags(predict(h, X_dev), dev_lengths, labels))

    return train_probe(X, y, len(labels), dev_score, hidden=256 if head == "mlp" else 0, epochs=epochs,
                       batch_size=batch_size, lr=lr, seed=seed, progress=progress)


class _ProbeRunner:
    """Frozen features + one head per seed. Features are extracted once for all seeds."""

    def __init__(self, encoder: Encoder, spec, cfg: dict, labels: list[str]):
        from xlt.models.cache import FeatureCache

        self.encoder, self.spec, self.cfg, self.labels = encoder, spec, cfg, labels
        layer = cfg["layer"]
        self.layers = probe_layers(layer)
        self.cache = FeatureCache(cfg["cache_dir"]) if cfg.get("cache_dir") else None
        self.heads: dict[int, object] = {}
        self.histories: dict[int, list] = {}
        self.aligner = None
        self.layer_ids: list[int] = []

    def set_aligner(self, aligner, languages: list[str]) -> None:
        """Map every language's features with ``aligner`` (checked against the model, layers and languages).

        Raises:
            AlignerError: another model, missing layers or languages without a map.
        """
        from xlt.models.features import resolve_layers

        self.layer_ids = resolve_layers(self.layers, self.encoder.num_layers)[0]
        aligner.check(self.encoder.describe(), self.layer_ids, languages)
        self.aligner = aligner

    def features(self, data: LanguageData):
        X, truncated = self._raw_features(data)
        if self.aligner is not None:
            X = self.aligner.transform_features(X, data.lang, self.layer_ids)
        return X, truncated

    def _raw_features(self, data: LanguageData):
        from xlt.models.features import encode_sentences
        from xlt.transfer.probe import sentence_feature_tensor

        if self.spec.kind == "token":
            X, truncated = tag_features(self.encoder, [e.tokens for e in data.examples], self.layers,
                                        progress=self.cfg["progress"], cache=self.cache)
        else:
            arr = encode_sentences(self.encoder, [e.text for e in data.examples], layers=self.layers,
                                   pooling="mean", progress=self.cfg["progress"], cache=self.cache)
            X = sentence_feature_tensor(arr)
            truncated = 0
        return X, truncated

    def _decode(self, pred: np.ndarray, data: LanguageData) -> list:
        if self.spec.kind != "token":
            return [self.labels[i] for i in pred]
        return decode_tags(pred, [len(e.tokens) for e in data.examples], self.labels)

    def train(self, train: LanguageData, dev: LanguageData, seeds: list[int]) -> None:
        from xlt.transfer.probe import predict, train_probe

        index = {l: i for i, l in enumerate(self.labels)}
        X, _ = self.features(train)
        gold_flat = [l for g in _gold(self.spec, train.examples) for l in (g if self.spec.kind == "token" else [g])]
        y = torch.tensor([index[l] for l in gold_flat], dtype=torch.long)
        Xd, _ = self.features(dev)
        dev_gold = _gold(self.spec, dev.examples)
        metric = self.spec.metric

        def dev_score(head) -> float:
            return score(metric, dev_gold, self._decode(predict(head, Xd), dev))

        for seed in seeds:
            res = train_probe(X, y, len(self.labels), dev_score, hidden=256 if self.cfg["head"] == "mlp" else 0,
                              epochs=self.cfg["epochs"], batch_size=self.cfg["batch_size"], lr=self.cfg["lr"],
                              seed=seed, progress=self.cfg["progress"])
            self.heads[seed] = res.head
            self.histories[seed] = res.history
            if res.head.mix is not None:
                self.histories[seed].append({"layer_weights": res.head.mix.layer_weights()})

    def evaluate(self, data: LanguageData) -> tuple[dict[int, float], int]:
        from xlt.transfer.probe import predict

        X, truncated = self.features(data)
        gold = _gold(self.spec, data.examples)
        return {s: score(self.spec.metric, gold, self._decode(predict(h, X), data))
                for s, h in self.heads.items()}, truncated


# -------------------------------------------------------------------------- finetune
class _FinetuneRunner:
    """One fine-tuned model per seed; every model is evaluated on every language."""

    def __init__(self, encoder: Encoder, spec, cfg: dict, labels: list[str]):
        self.encoder, self.spec, self.cfg, self.labels = encoder, spec, cfg, labels
        self.models: dict[int, object] = {}
        self.histories: dict[int, list] = {}
        self.selected: dict[int, str] = {}

    def _encode(self, data: LanguageData, max_length: int, with_labels: bool):
        from xlt.transfer.finetune import encode_sequence_examples, encode_token_examples

        index = {l: i for i, l in enumerate(self.labels)}
        if self.spec.kind == "token":
            labels = [[index[l] for l in e.labels] for e in data.examples] if with_labels else None
            return encode_token_examples(self.encoder, [e.tokens for e in data.examples], labels, max_length)
        labels = [index[e.label] for e in data.examples] if with_labels else None
        return encode_sequence_examples(self.encoder, [e.text for e in data.examples], labels, max_length)

    def _predict(self, model, data: LanguageData, enc) -> list:
        from xlt.transfer.finetune import predict_logits, word_predictions

        logits = predict_logits(model, enc, self.encoder.tokenizer.pad_token_id,
                                progress=self.cfg["progress"], desc=f"predict {data.lang}")
        if self.spec.kind == "token":
            fallback = self.labels.index("O") if "O" in self.labels else 0
            ids = word_predictions(logits, enc, fallback)
            return [[self.labels[i] for i in s] for s in ids]
        return [self.labels[int(lg.argmax())] for lg in logits]

    def train(self, train: LanguageData, dev: LanguageData, seeds: list[int]) -> None:
        from xlt.transfer.finetune import finetune

        enc_train = self._encode(train, self.cfg["max_length"], True)
        enc_dev = self._encode(dev, self.encoder.max_length, False)
        dev_gold = _gold(self.spec, dev.examples)

        def dev_score(model) -> float:
            return score(self.spec.metric, dev_gold, self._predict(model, dev, enc_dev))

        for seed in seeds:
            res = finetune(self.encoder, enc_train, len(self.labels), self.spec.kind == "token", dev_score,
                           epochs=self.cfg["epochs"], batch_size=self.cfg["batch_size"], lr=self.cfg["lr"],
                           ckpt_avg=self.cfg["ckpt_avg"], freeze_embeddings=self.cfg["freeze_embeddings"],
                           seed=seed, progress=self.cfg["progress"])
            self.models[seed] = res.model
            self.histories[seed] = res.history
            self.selected[seed] = res.selected

    def evaluate(self, data: LanguageData) -> tuple[dict[int, float], int]:
        enc = self._encode(data, self.encoder.max_length, False)
        gold = _gold(self.spec, data.examples)
        return {s: score(self.spec.metric, gold, self._predict(m, data, enc))
                for s, m in self.models.items()}, enc.n_truncated


# ------------------------------------------------------------------------------- run
def _is_main_process() -> bool:
    """False on the non-main ranks of an ``accelerate launch`` run (they write no report)."""
    from accelerate import PartialState

    return PartialState().is_main_process


def run_transfer(config: TransferConfig, command: list[str] | None = None) -> dict:
    """Run one zero-shot transfer experiment and (if ``config.out``) write its report.

    Returns:
        the report dict (see :func:`xlt.evaluate.report.write_report` for the fields):
        scores per language (mean over seeds, percent), per-seed scores, the target average,
        counts, config and manifest.

    Raises:
        ValueError: unknown task or mode; UnknownLanguageError: a language not in the data;
        DatasetNotFoundError: the data folder lacks the task's data; DataFormatError: a
        malformed line (the message names file and line).
    """
    t0 = time.time()
    if config.mode not in {"probe", "finetune"}:
        raise ValueError(f"mode must be 'probe' or 'finetune', got {config.mode!r}")
    aligner = None
    if config.aligner:
        from xlt.align.maps import AlignerError, CrossLingualAligner

        if config.mode != "probe":
            raise AlignerError("--aligner maps frozen features, so it needs --mode probe; for fine-tuning, "
                               "give a fine-tuning-aligned encoder (`xlt align finetune`) as --model")
        aligner = CrossLingualAligner.load(config.aligner)
    cfg = config.resolved()
    spec = task_registry.get_task(config.task)
    torch.manual_seed(config.seeds[0])
    np.random.seed(config.seeds[0])

    src_files = task_registry.source_files(config.task, config.source, config.data_dir)
    source_code = src_files["lang"]
    train = _load(config.task, source_code, src_files["train"], config.train_limit)
    dev_path = src_files.get("dev") or src_files["train"]
    dev = _load(config.task, source_code, dev_path, config.eval_limit)
    targets = task_registry.select_targets(config.task, config.targets, config.source, config.data_dir)
    available = task_registry.available_languages(config.task, config.data_dir)
    eval_files = dict(targets)
    if source_code in available:
        eval_files = {source_code: available[source_code], **eval_files}
    labels = task_registry.label_list(config.task, train.examples, split_path=train.path)
    # Read every evaluation set before training, so a malformed line fails the run at once.
    eval_data = {lang: _load(config.task, lang, path, config.eval_limit)
                 for lang, path in tqdm(eval_files.items(), desc="reading evaluation sets",
                                        disable=not config.progress, leave=False)}

    encoder = load_encoder(config.model, device="auto")
    runner = (_ProbeRunner if config.mode == "probe" else _FinetuneRunner)(encoder, spec, cfg, labels)
    if aligner is not None:
        runner.set_aligner(aligner, list(eval_files) + [source_code])
    runner.train(train, dev, config.seeds)
    t_train = time.time() - t0

    per_seed: dict[int, dict[str, float]] = {s: {} for s in config.seeds}
    counts: dict[str, dict] = {}
    for lang, data in tqdm(eval_data.items(), desc="languages", disable=not config.progress):
        if not data.examples:
            log.warning("%s: no examples in %s, skipped", lang, data.path)
            counts[lang] = _counts(spec, data, 0)
            continue
        seed_scores, truncated = runner.evaluate(data)
        for s, v in seed_scores.items():
            per_seed[s][lang] = v
        counts[lang] = _counts(spec, data, truncated)

    langs = list(per_seed[config.seeds[0]])
    scores, scores_std = {}, {}
    for lang in langs:
        scores[lang], scores_std[lang] = mean_std([per_seed[s][lang] for s in config.seeds])
    target_langs = [l for l in langs if l != source_code]
    seed_avgs = [float(np.mean([per_seed[s][l] for l in target_langs])) for s in config.seeds] if target_langs else []
    average, average_std = mean_std(seed_avgs) if seed_avgs else (float("nan"), float("nan"))

    data_files = [train.path, dev.path] + [Path(p) for p in eval_files.values()]
    if aligner is not None:
        data_files.append(Path(config.aligner))
    model_info = encoder.describe()
    cfg_out = {k: v for k, v in cfg.items() if k != "progress"}
    report = {
        "command": command if command is not None else [Path(sys.argv[0]).name] + sys.argv[1:],
        "command_line": shlex.join(command if command is not None else sys.argv),
        "task": config.task,
        "model": config.model,
        "mode": config.mode,
        "source": source_code,
        "metric": "accuracy" if spec.metric == "accuracy" else "f1",
        "metric_name": {"accuracy": "accuracy (%)", "f1": "entity F1 (%)"}.get(spec.metric, spec.metric),
        "scores": scores,
        "scores_std": scores_std,
        "per_seed": {str(s): v for s, v in per_seed.items()},
        "average": average,
        "average_std": average_std,
        "n_targets": len(target_langs),
        "counts": counts,
        "source_counts": {"train": _counts(spec, train, 0), "dev": _counts(spec, dev, 0)},
        "labels": labels,
        "training": {str(s): runner.histories.get(s) for s in config.seeds},
        "seconds": {"train": round(t_train, 1), "total": round(time.time() - t0, 1)},
        "config": cfg_out,
        "manifest": build_manifest(cfg_out, data_files, model_info, config.seeds),
    }
    if aligner is not None:
        report["aligner"] = dict(aligner.describe(), file=str(config.aligner))
        kind = aligner.info.get("supervision", "?")
        report["extra_markdown"] = [
            f"## Alignment\n\nFeatures of every language were mapped with `{config.aligner}`: "
            f"{aligner.method} maps ({kind} supervision) into the {aligner.source} space, layers "
            f"{aligner.layers[0]}..{aligner.layers[-1]}; pairs per language: "
            + ", ".join(f"{l} {n}" for l, n in report["aligner"]["supervision"].items()) + "."]
    if config.mode == "finetune":
        report["selection"] = {str(s): v for s, v in runner.selected.items()}
    if config.out and _is_main_process():
        write_report(config.out, report)
    return report
