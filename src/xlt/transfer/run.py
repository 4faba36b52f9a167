"""``xlt transfer``: train on the source language, evaluate zero-shot on every target language.

The protocol is XTREME's (Hu et al. 2020, "XTREME: A Massively Multilingual Multi-task
Benchmark for Evaluating Cross-lingual Generalization"): the task model sees labelled data of
the source language only; model selection uses the source language's dev set only; every
target language is scored on its own evaluation set and the report gives the average over
targets (source excluded).

The data come as one :class:`xlt.data.dataset.TaskDataset` (a built-in task or a user's files),
resolved once before the model loads; the trained models are :class:`xlt.transfer.model.TaskModel`
values that can be kept (``save``) and applied to new text (``xlt predict``).
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
from xlt.data.dataset import Split, TaskDataset, from_files, load_task
from xlt.data.kinds import TOKEN
from xlt.evaluate.manifest import build_manifest, to_jsonable
from xlt.evaluate.metrics import mean_std, score
from xlt.evaluate.report import write_report
from xlt.models.loading import DEFAULT_MODEL, Encoder, load_encoder
from xlt.transfer.model import FEATURE_CHUNK, FinetunedModel, ProbeModel, TaskModel, probe_layers, tag_features

log = logging.getLogger(__name__)

# Defaults per (mode, task kind). Token tasks have ~10^5 training words, sequence tasks
# (SIB-200: 701 texts) a few hundred examples, so the latter need more, smaller steps.
DEFAULTS = {
    ("probe", "token"): {"epochs": 10, "batch_size": 256, "lr": 1e-3},
    ("probe", "sequence"): {"epochs": 100, "batch_size": 32, "lr": 1e-3},
    ("probe", "pair"): {"epochs": 100, "batch_size": 32, "lr": 1e-3},
    ("finetune", "token"): {"epochs": 3, "batch_size": 32, "lr": 5e-5},
    ("finetune", "sequence"): {"epochs": 10, "batch_size": 32, "lr": 5e-5},
    ("finetune", "pair"): {"epochs": 3, "batch_size": 32, "lr": 2e-5},
}
SAVE_WHICH = ("best", "all")


@dataclass
class TransferConfig:
    """Settings of one ``xlt transfer`` run (every field is echoed in the report).

    Data (either a built-in ``task`` or a user's ``train`` file):
        task: ``udpos``, ``panx`` or ``sib200``.
        train, dev: the user's source training / dev file (any format of
            :mod:`xlt.data.formats`); without ``dev`` a seeded ``dev_fraction`` of the training
            data is held out for model selection.
        eval: evaluation sets: ``LANG=FILE`` strings, or files/folders whose language is read
            from the file name.
        format: the format of the user's files (default: detected per file).
        text_column, label_column, tag_column: columns of table files (``premise,hypothesis``
            for pairs) and of CoNLL column files (0-based, -1 = last).
        metric: ``accuracy`` or ``f1``; default: span F1 for BIO tags, else accuracy.
        label_map: ``["DATE=O", ...]``: rename labels (or BIO entity types) in every split.
        source: source language code (any form: ``en``, ``eng``, ``eng_Latn``).
        targets: built-in tasks: ``all`` or a comma-separated list of language codes.
    Model and training:
        model: model spec (``bundled:e5-small``, a Hugging Face id or folder).
        mode: ``probe`` (frozen encoder + head) or ``finetune`` (full fine-tuning).
        layer: probe features: ``mix`` (learned scalar mix of all layers), ``last``, or an
            int (0 = embeddings, 1..L = layers, negative counts from the top).
        head: probe head: ``linear`` or ``mlp``.
        pooling: fine-tuned sequence/pair classifiers: ``mean`` (XTREME) or ``cls``.
        epochs, batch_size, lr: ``None`` = the default for the mode and task kind (``DEFAULTS``).
        seeds: one run per seed; scores are mean ± sample std over seeds.
        train_limit, eval_limit: keep the first N sentences of training / each evaluation
            (and source dev) set, for quick runs.
        ckpt_avg: fine-tuning: average the last N epochs' weights (Schmidt et al. 2023).
        freeze_embeddings: fine-tuning: keep the word-embedding matrix fixed.
        max_length: fine-tuning training length in tokens (XTREME uses 128).
        aligner: probe mode: a saved :class:`~xlt.align.maps.CrossLingualAligner`.
    Outputs:
        out: report folder (``report.json``, ``report.md``, ``scores.png``); None = no files.
        save: folder for the task model(s): the seed with the best source-dev score
            (``save_which='best'``) or every seed under ``seed-N/`` (``'all'``).
        overwrite: replace an existing non-empty ``save`` folder.
        predictions: also write the selected model's predictions per language under
            ``out/predictions/<lang>.jsonl``.
        data_dir, cache_dir: data folder and probe feature cache (None = off).
    """

    task: str | None = None
    train: str | None = None
    dev: str | None = None
    eval: list[str] = field(default_factory=list)
    format: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    tag_column: int | None = None
    metric: str | None = None
    label_map: list[str] = field(default_factory=list)
    dev_fraction: float = 0.1
    source: str = "en"
    targets: str = "all"
    model: str = DEFAULT_MODEL
    mode: str = "probe"
    layer: str = "mix"
    head: str = "linear"
    pooling: str = "mean"
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
    save: str | None = None
    save_which: str = "best"
    overwrite: bool = False
    predictions: bool = False
    aligner: str | None = None
    progress: bool = True

    def resolved(self, kind: str | None = None) -> dict:
        """Config with the defaults of the mode and task kind filled in (see ``DEFAULTS``)."""
        if kind is None:
            kind = task_registry.get_task(self.task).kind
        return with_defaults(asdict(self), self.mode, kind)


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


def read_options(config: TransferConfig):
    """The :class:`xlt.data.formats.ReadOptions` a config's column settings give."""
    from xlt.data.formats import ReadOptions

    kw = {}
    if config.text_column:
        kw["text_column"] = tuple(c.strip() for c in config.text_column.split(",") if c.strip())
    if config.label_column:
        kw["label_column"] = config.label_column
    if config.tag_column is not None:
        kw["tag_column"] = int(config.tag_column)
    try:
        return ReadOptions(**kw)
    except ValueError as exc:
        from xlt.data.dataset import DatasetError

        raise DatasetError(str(exc)) from None


def load_dataset_for(config: TransferConfig) -> TaskDataset:
    """Resolve a config's data (built-in task or user files) into one :class:`TaskDataset`.

    Every file is read here, before any model loads, so bad data fails at once.

    Raises:
        UsageError-like ``ValueError``: neither or both of ``task`` and ``train``; plus the errors
        of :func:`xlt.data.dataset.load_task` / :func:`~xlt.data.dataset.from_files`.
    """
    from xlt.data.dataset import DatasetError

    if bool(config.task) == bool(config.train):
        raise DatasetError("give either --task (udpos, panx, sib200) or --train FILE with --eval")
    if config.task:
        user_only = [n for n in ("dev", "format", "text_column", "label_column", "tag_column")
                     if getattr(config, n) is not None] + (["eval"] if config.eval else [])
        if user_only:
            raise DatasetError(f"--{user_only[0].replace('_', '-')} describes user files; it does not go with "
                               f"--task {config.task}")
        ds = load_task(config.task, config.source, config.targets, data_dir=config.data_dir,
                       train_limit=config.train_limit, eval_limit=config.eval_limit, label_map=config.label_map)
        if config.metric and config.metric != ds.metric:
            ds.metric = config.metric
        return ds
    if not config.eval:
        raise DatasetError("--train needs at least one --eval LANG=FILE (or --eval DIR) to transfer to")
    return from_files(config.train, config.eval, dev=config.dev, source=config.source, format=config.format,
                      options=read_options(config), metric=config.metric, label_map=config.label_map,
                      train_limit=config.train_limit, eval_limit=config.eval_limit,
                      dev_fraction=config.dev_fraction, seed=config.seeds[0])


# ------------------------------------------------------------------ kept for silver.py
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


def _counts(spec, data, truncated: int) -> dict:
    # sequence tasks have raw text, so no token count is given (the report shows "–")
    tokens = sum(len(e.tokens) for e in data.examples) if spec.kind == "token" else None
    return {"sentences": len(data.examples), "tokens": tokens,
            "skipped_empty": int(getattr(data.stats, "n_skipped_empty", 0)), "truncated": int(truncated)}


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



# ----------------------------------------------------------------------------- training
def _label_ids(ds: TaskDataset, examples: list) -> list:
    index = {l: i for i, l in enumerate(ds.labels)}
    if ds.kind is TOKEN:
        return [[index[l] for l in e.labels] for e in examples]
    return [index[e.label] for e in examples]


class _ProbeTrainer:
    """Frozen features + one head per seed. Features are extracted once for all seeds."""

    def __init__(self, encoder: Encoder, ds: TaskDataset, cfg: dict, aligner=None):
        from xlt.models.cache import FeatureCache

        self.ds, self.cfg = ds, cfg
        cache = FeatureCache(cfg["cache_dir"]) if cfg.get("cache_dir") else None
        # a head-less model that extracts (and maps) features for every seed's model
        self.base = ProbeModel(encoder, None, ds.kind, ds.labels, layer=cfg["layer"], metric=ds.metric,
                               aligner=aligner, aligner_path=cfg.get("aligner"), cache=cache,
                               meta={"task": ds.name, "source": ds.source})
        self.models: dict[int, ProbeModel] = {}
        self.histories: dict[int, list] = {}
        self.dev_scores: dict[int, float] = {}

    def _model(self, head, seed: int) -> ProbeModel:
        b = self.base
        return ProbeModel(b.encoder, head, b.kind, b.labels, layer=b.layer, metric=b.metric, aligner=b.aligner,
                          aligner_path=b.aligner_path, cache=b.cache, meta=dict(b.meta, seed=seed))

    def features(self, split: Split):
        return self.base.features(split.examples, split.lang, progress=self.cfg["progress"])

    def train(self, seeds: list[int]) -> None:
        from xlt.transfer.probe import train_probe

        ds = self.ds
        X, _ = self.features(ds.train)
        y = torch.tensor([i for ids in _label_ids(ds, ds.train.examples) for i in (ids if ds.kind is TOKEN else [ids])],
                         dtype=torch.long)
        Xd, _ = self.features(ds.dev)
        dev_gold = ds.kind.gold(ds.dev.examples)

        def dev_score(head) -> float:
            m = self._model(head, -1)
            return score(ds.metric, dev_gold, m.decode(m.proba_from_features(Xd, ds.dev.examples)))

        for seed in seeds:
            res = train_probe(X, y, len(ds.labels), dev_score, hidden=256 if self.cfg["head"] == "mlp" else 0,
                              epochs=self.cfg["epochs"], batch_size=self.cfg["batch_size"], lr=self.cfg["lr"],
                              seed=seed, progress=self.cfg["progress"])
            self.models[seed] = self._model(res.head, seed)
            self.histories[seed] = res.history
            self.dev_scores[seed] = max(h["dev"] for h in res.history)
            if res.head.mix is not None:
                self.histories[seed].append({"layer_weights": res.head.mix.layer_weights()})

    def evaluate(self, split: Split) -> tuple[dict[int, list], int]:
        X, truncated = self.features(split)
        return {s: m.decode(m.proba_from_features(X, split.examples)) for s, m in self.models.items()}, truncated


class _FinetuneTrainer:
    """One fine-tuned model per seed; every model is evaluated on every language."""

    def __init__(self, encoder: Encoder, ds: TaskDataset, cfg: dict):
        self.encoder, self.ds, self.cfg = encoder, ds, cfg
        self.models: dict[int, FinetunedModel] = {}
        self.histories: dict[int, list] = {}
        self.selected: dict[int, str] = {}
        self.dev_scores: dict[int, float] = {}

    def _wrap(self, model, seed: int) -> FinetunedModel:
        e = self.encoder
        return FinetunedModel(model, e.tokenizer, self.ds.kind, self.ds.labels, text_prefix=e.text_prefix,
                              metric=self.ds.metric, spec=e.spec, fingerprint=e.fingerprint,
                              meta={"task": self.ds.name, "source": self.ds.source, "seed": seed})

    def train(self, seeds: list[int]) -> None:
        from xlt.transfer.finetune import encode_examples, finetune

        ds = self.ds
        enc_train = encode_examples(self.encoder, ds.kind, ds.train.examples, _label_ids(ds, ds.train.examples),
                                    self.cfg["max_length"])
        enc_dev = encode_examples(self.encoder, ds.kind, ds.dev.examples, None, self.encoder.max_length)
        dev_gold = ds.kind.gold(ds.dev.examples)

        def dev_score(model) -> float:
            m = self._wrap(model, -1)
            return score(ds.metric, dev_gold, m.decode(m.proba_from_encoded(enc_dev, progress=self.cfg["progress"],
                                                                            desc=f"predict {ds.source} dev")))

        for seed in seeds:
            res = finetune(self.encoder, enc_train, ds.labels, ds.kind is TOKEN, dev_score,
                           epochs=self.cfg["epochs"], batch_size=self.cfg["batch_size"], lr=self.cfg["lr"],
                           ckpt_avg=self.cfg["ckpt_avg"], freeze_embeddings=self.cfg["freeze_embeddings"],
                           pooling=self.cfg["pooling"], seed=seed, progress=self.cfg["progress"])
            self.models[seed] = self._wrap(res.model, seed)
            self.histories[seed] = res.history
            self.selected[seed] = res.selected
            dev = [h["dev"] for h in res.history if np.isfinite(h["dev"])]
            self.dev_scores[seed] = dev_score(res.model) if self.cfg["ckpt_avg"] >= 2 else (max(dev) if dev else float("nan"))

    def evaluate(self, split: Split) -> tuple[dict[int, list], int]:
        from xlt.transfer.finetune import encode_examples

        enc = encode_examples(self.encoder, self.ds.kind, split.examples, None, self.encoder.max_length)
        return {s: m.decode(m.proba_from_encoded(enc, progress=self.cfg["progress"], desc=f"predict {split.lang}"))
                for s, m in self.models.items()}, enc.n_truncated


# ------------------------------------------------------------------------------- run
def _is_main_process() -> bool:
    """False on the non-main ranks of an ``accelerate launch`` run (they write no report)."""
    from accelerate import PartialState

    return PartialState().is_main_process


@dataclass
class TransferResult:
    """What :func:`run_transfer` gives back.

    Attributes:
        report: the report dict (scores per language, averages, counts, config, manifest).
        models: the trained task model of every seed.
        best_seed: the seed whose model scored best on source dev (ties: the first).
        dataset: the data set the run used.
    """

    report: dict
    models: dict[int, TaskModel]
    best_seed: int
    dataset: TaskDataset

    @property
    def model(self) -> TaskModel:
        """The model chosen on source dev (:attr:`best_seed`)."""
        return self.models[self.best_seed]


def check_outputs(config: TransferConfig) -> None:
    """Refuse outputs that would destroy something, before any work starts.

    Raises:
        FileExistsError: ``save`` is a non-empty folder and ``overwrite`` is off.
        NotADirectoryError: ``save`` or ``out`` is a file.
        ValueError: an unknown ``save_which``.
    """
    if config.save_which not in SAVE_WHICH:
        raise ValueError(f"save_which must be one of {SAVE_WHICH}, got {config.save_which!r}")
    for name in ("out", "save"):
        p = getattr(config, name)
        if p and Path(p).exists() and not Path(p).is_dir():
            raise NotADirectoryError(f"--{name} {p} is a file, not a folder")
    if config.save and Path(config.save).is_dir() and any(Path(config.save).iterdir()) and not config.overwrite:
        raise FileExistsError(f"--save {config.save} is not empty; choose another folder or add --overwrite")


def _write_predictions(folder: Path, ds: TaskDataset, preds: dict[str, list]) -> None:
    from xlt.evaluate.report import write_jsonl

    for lang, labels in preds.items():
        split = ds.eval[lang]
        rows = []
        for e, p in zip(split.examples, labels):
            row = {"tokens": e.tokens, "gold": e.labels, "pred": p} if ds.kind is TOKEN else \
                  {"id": e.id, "text": e.text, **({"text_pair": e.text_pair} if hasattr(e, "text_pair") else {}),
                   "gold": e.label, "pred": p}
            rows.append(row)
        write_jsonl(folder / f"{lang}.jsonl", rows)


def run_transfer(config: TransferConfig, command: list[str] | None = None,
                 dataset: TaskDataset | None = None) -> dict:
    """Run one zero-shot transfer experiment and (if ``config.out``) write its report.

    Returns:
        the report dict (see :func:`xlt.evaluate.report.write_report` for the fields); the
        models are in :func:`transfer`'s :class:`TransferResult`.

    Raises:
        ValueError: unknown task or mode; UnknownLanguageError: a language not in the data;
        DatasetNotFoundError: the data folder lacks the task's data; DataFormatError: a
        malformed line (the message names file and line); FileExistsError: ``save`` exists.
    """
    return transfer_result(config, command, dataset).report


def transfer_result(config: TransferConfig, command: list[str] | None = None,
                    dataset: TaskDataset | None = None) -> TransferResult:
    """:func:`run_transfer` returning the models too (:class:`TransferResult`)."""
    t0 = time.time()
    if config.mode not in {"probe", "finetune"}:
        raise ValueError(f"mode must be 'probe' or 'finetune', got {config.mode!r}")
    check_outputs(config)
    aligner = None
    if config.aligner:
        from xlt.align.maps import AlignerError, CrossLingualAligner

        if config.mode != "probe":
            raise AlignerError("--aligner maps frozen features, so it needs --mode probe; for fine-tuning, "
                               "give a fine-tuning-aligned encoder (`xlt align finetune`) as --model")
        aligner = CrossLingualAligner.load(config.aligner)
    # every data file is read before the model loads
    ds = dataset if dataset is not None else load_dataset_for(config)
    cfg = config.resolved(ds.kind.name)
    cfg_out = {k: v for k, v in cfg.items() if k != "progress"}
    # hash the data files now, as they were read (and so a vanished file fails before training)
    data_files = ds.files() + ([Path(config.aligner)] if aligner is not None else [])
    manifest = build_manifest(cfg_out, data_files, {"spec": config.model}, config.seeds)
    torch.manual_seed(config.seeds[0])
    np.random.seed(config.seeds[0])
    for lang, unseen in ds.unseen_labels().items():
        log.warning("%s: %d gold label(s) never seen in training: %s (map them with --label-map, e.g. %s=O)",
                    lang, sum(unseen.values()), ", ".join(f"{k}×{v}" for k, v in sorted(unseen.items())),
                    next(iter(sorted(unseen))))

    encoder = load_encoder(config.model, device="auto")
    trainer = _ProbeTrainer(encoder, ds, cfg, aligner) if config.mode == "probe" else _FinetuneTrainer(encoder, ds, cfg)
    if aligner is not None:
        aligner.check(encoder.describe(), trainer.base.layer_ids, list(ds.eval) + [ds.source])
    trainer.train(config.seeds)
    t_train = time.time() - t0
    best_seed = max(config.seeds, key=lambda s: (trainer.dev_scores.get(s, float("-inf")), -config.seeds.index(s)))
    saved = _save_models(config, trainer.models, best_seed) if config.save and _is_main_process() else {}

    per_seed: dict[int, dict[str, float]] = {s: {} for s in config.seeds}
    counts: dict[str, dict] = {}
    best_preds: dict[str, list] = {}
    for lang, split in tqdm(ds.eval.items(), desc="languages", disable=not config.progress):
        c = split.counts(ds.kind)
        if not split.examples:
            log.warning("%s: no examples in %s, skipped", lang, split.path)
            counts[lang] = dict(c, truncated=0)
            continue
        preds, truncated = trainer.evaluate(split)
        gold = ds.kind.gold(split.examples)
        for s, p in preds.items():
            per_seed[s][lang] = score(ds.metric, gold, p)
        best_preds[lang] = preds[best_seed]
        counts[lang] = dict(c, truncated=int(truncated))

    langs = list(per_seed[config.seeds[0]])
    scores, scores_std = {}, {}
    for lang in langs:
        scores[lang], scores_std[lang] = mean_std([per_seed[s][lang] for s in config.seeds])
    target_langs = [l for l in langs if l != ds.source]
    seed_avgs = [float(np.mean([per_seed[s][l] for l in target_langs])) for s in config.seeds] if target_langs else []
    average, average_std = mean_std(seed_avgs) if seed_avgs else (float("nan"), float("nan"))

    manifest["model"] = to_jsonable(encoder.describe())
    described = ds.describe()
    report = {
        "command": command if command is not None else [Path(sys.argv[0]).name] + sys.argv[1:],
        "command_line": shlex.join(command if command is not None else sys.argv),
        "task": ds.name,
        "kind": ds.kind.name,
        "model": config.model,
        "mode": config.mode,
        "source": ds.source,
        "metric": ds.metric,
        "metric_name": {"accuracy": "accuracy (%)", "f1": "entity F1 (%)"}.get(ds.metric, ds.metric),
        "scores": scores,
        "scores_std": scores_std,
        "per_seed": {str(s): v for s, v in per_seed.items()},
        "average": average,
        "average_std": average_std,
        "n_targets": len(target_langs),
        "counts": counts,
        "source_counts": {"train": dict(ds.train.counts(ds.kind), truncated=0, note=ds.train.note),
                          "dev": dict(ds.dev.counts(ds.kind), truncated=0, note=ds.dev.note)},
        "labels": list(ds.labels),
        "label_map": dict(ds.label_map),
        "unseen_labels": ds.unseen_labels(),
        "dataset": {k: described[k] for k in ("name", "kind", "metric", "origin")},
        "dev_scores": {str(s): v for s, v in trainer.dev_scores.items()},
        "best_seed": best_seed,
        "saved": saved,
        "training": {str(s): trainer.histories.get(s) for s in config.seeds},
        "seconds": {"train": round(t_train, 1), "total": round(time.time() - t0, 1)},
        "config": cfg_out,
        "manifest": manifest,
    }
    extra = []
    if report["unseen_labels"]:
        extra.append("## Labels never seen in training\n\nScored as they are (a model cannot predict them); "
                     "map them with `--label-map LABEL=O`.\n\n" + "\n".join(
                         f"- {lang}: " + ", ".join(f"{k} ×{v}" for k, v in sorted(u.items()))
                         for lang, u in report["unseen_labels"].items()))
    if aligner is not None:
        report["aligner"] = dict(aligner.describe(), file=str(config.aligner))
        kind = aligner.info.get("supervision", "?")
        extra.append(
            f"## Alignment\n\nFeatures of every language were mapped with `{config.aligner}`: "
            f"{aligner.method} maps ({kind} supervision) into the {aligner.source} space, layers "
            f"{aligner.layers[0]}..{aligner.layers[-1]}; pairs per language: "
            + ", ".join(f"{l} {n}" for l, n in report["aligner"]["supervision"].items()) + ".")
    if extra:
        report["extra_markdown"] = extra
    if config.mode == "finetune":
        report["selection"] = {str(s): v for s, v in trainer.selected.items()}
    if config.out and _is_main_process():
        write_report(config.out, report)
        if config.predictions:
            _write_predictions(Path(config.out) / "predictions", ds, best_preds)
    return TransferResult(report=report, models=dict(trainer.models), best_seed=best_seed, dataset=ds)


def _save_models(config: TransferConfig, models: dict[int, TaskModel], best_seed: int) -> dict:
    root = Path(config.save)
    if config.save_which == "best":
        models[best_seed].save_pretrained(root, overwrite=config.overwrite)
        return {"path": str(root), "seeds": [best_seed], "which": "best"}
    import shutil
    import tempfile

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    for s, m in models.items():
        m.save_pretrained(tmp / f"seed-{s}")
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    return {"path": str(root), "seeds": list(models), "which": "all", "best_seed": best_seed}


def zero_shot_transfer(dataset: TaskDataset, *, out: str | None = None, **settings) -> TransferResult:
    """Train on ``dataset``'s source language and evaluate on every evaluation language (Python API).

    Example::

        import xlt
        ds = xlt.read_dataset("train.conll", eval=["de=test-de.conll", "sw=test-sw.conll"])
        result = xlt.zero_shot_transfer(ds, mode="probe", epochs=5)
        print(result.report["scores"])          # {"en": ..., "de": ..., "sw": ...}
        result.model.save_pretrained("my-ner")  # or xlt.TaskModel.from_pretrained("my-ner")
        result.model.predict(["Amina alienda Nairobi jana ."], lang="sw")

    Args:
        dataset: a :class:`~xlt.data.dataset.TaskDataset` (:func:`xlt.load_task`,
            :func:`xlt.read_dataset`, :func:`xlt.from_examples`).
        out: report folder (``None``: no files).
        settings: any other :class:`TransferConfig` field (``model``, ``mode``, ``layer``,
            ``epochs``, ``seeds``, ``save``, ...).

    Returns:
        :class:`TransferResult` (report, the model of every seed, the best seed).

    Raises:
        TypeError: an unknown setting; plus the errors of :func:`run_transfer`.
    """
    config = TransferConfig(task=None, out=out, **settings)
    return transfer_result(config, command=["python", "xlt.zero_shot_transfer"], dataset=dataset)
