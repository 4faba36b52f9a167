"""Training task models on a :class:`~xlt.data.dataset.TaskDataset`: probes and fine-tuning.

:class:`ProbeTrainer` extracts frozen features once and trains one head per seed;
:class:`FinetuneTrainer` fine-tunes one model per seed. Both select on the source language's dev
set only (zero-shot) and give :class:`~xlt.transfer.model.TaskModel` values.
:func:`fit_task_model` is the one-call form behind :meth:`TaskModel.fit`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from xlt.data.dataset import Split, TaskDataset
from xlt.data.kinds import TOKEN
from xlt.core.metrics import score
from xlt.models.loading import Encoder
from xlt.models.words import DEFAULT_WORD_PIECES
from xlt.transfer.decoding import DEFAULT_DECODING, check_decoding
from xlt.transfer.model import FinetunedModel, ProbeModel, TaskModel

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
        metric: selection metric (:func:`xlt.core.metrics.score`; ``f1`` = span F1).

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

def label_ids(ds: TaskDataset, examples: list) -> list:
    index = {l: i for i, l in enumerate(ds.labels)}
    if ds.kind is TOKEN:
        return [[index[l] for l in e.labels] for e in examples]
    return [index[e.label] for e in examples]


class _SeedTrainer:
    """What both trainers share: one model per seed in ``models``, scored through ``evaluate_proba``."""

    models: dict[int, TaskModel]

    def evaluate_proba(self, split: Split) -> tuple[dict[int, list], int]:
        raise NotImplementedError

    def decode(self, probas: dict[int, list]) -> dict[int, list]:
        """Seed -> probabilities (as :meth:`evaluate_proba` gives them) to seed -> predicted labels."""
        return {s: self.models[s].decode(p) for s, p in probas.items()}

    def evaluate(self, split: Split) -> tuple[dict[int, list], int]:
        """Predicted labels of every seed's model for ``split``, and the number of truncated inputs."""
        probas, truncated = self.evaluate_proba(split)
        return self.decode(probas), truncated


class ProbeTrainer(_SeedTrainer):
    """Frozen features + one head per seed; features are extracted once for all seeds.

    Args:
        encoder: the frozen encoder. ds: the data set. cfg: settings with ``layer``, ``head``,
            ``epochs``, ``batch_size``, ``lr``, ``progress`` and optionally ``cache_dir``,
            ``aligner`` (the aligner's file, copied into saved models) and ``word_pieces``
            (:mod:`xlt.models.words`; default :data:`~xlt.models.words.DEFAULT_WORD_PIECES`).
        aligner: a loaded :class:`~xlt.align.maps.CrossLingualAligner` or None.

    After :meth:`train`: ``models``, ``histories`` and ``dev_scores`` (best source-dev score,
    percent) per seed.
    """

    def __init__(self, encoder: Encoder, ds: TaskDataset, cfg: dict, aligner=None):
        from xlt.models.cache import FeatureCache

        self.ds, self.cfg = ds, cfg
        cache = FeatureCache(cfg["cache_dir"]) if cfg.get("cache_dir") else None
        # a head-less model that extracts (and maps) features for every seed's model
        self.base = ProbeModel(encoder, None, ds.kind, ds.labels, layer=cfg["layer"], metric=ds.metric,
                               aligner=aligner, aligner_path=cfg.get("aligner"), cache=cache,
                               meta={"task": ds.name, "source": ds.source},
                               word_pieces=cfg.get("word_pieces") or DEFAULT_WORD_PIECES,
                               decoding=cfg.get("decoding") or DEFAULT_DECODING)
        self.models: dict[int, ProbeModel] = {}
        self.histories: dict[int, list] = {}
        self.dev_scores: dict[int, float] = {}

    def _model(self, head, seed: int) -> ProbeModel:
        b = self.base
        return ProbeModel(b.encoder, head, b.kind, b.labels, layer=b.layer, metric=b.metric, aligner=b.aligner,
                          aligner_path=b.aligner_path, cache=b.cache, meta=dict(b.meta, seed=seed),
                          word_pieces=b.word_pieces, decoding=b.decoding)

    def features(self, split: Split):
        return self.base.features(split.examples, split.lang, progress=self.cfg["progress"])

    def train(self, seeds: list[int]) -> None:
        """Train one head per seed on the source training split, selecting on source dev."""
        from xlt.transfer.probe import train_probe

        ds = self.ds
        X, _ = self.features(ds.train)
        y = torch.tensor([i for ids in label_ids(ds, ds.train.examples) for i in (ids if ds.kind is TOKEN else [ids])],
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

    def evaluate_proba(self, split: Split) -> tuple[dict[int, list], int]:
        """Label probabilities of every seed's model for ``split`` (per example ``(n_words, n_labels)``
        for token tasks, else ``(n_labels,)``), and the number of truncated inputs."""
        X, truncated = self.features(split)
        return {s: m.proba_from_features(X, split.examples) for s, m in self.models.items()}, truncated


class FinetuneTrainer(_SeedTrainer):
    """One fine-tuned model per seed (see :func:`xlt.transfer.finetune.finetune`).

    Args:
        encoder: the starting encoder (left unchanged). ds: the data set. cfg: settings with
            ``epochs``, ``batch_size``, ``lr``, ``ckpt_avg``, ``freeze_embeddings``, ``pooling``,
            ``max_length``, ``progress`` and optionally ``word_pieces`` (which subword piece
            carries a word's label, :mod:`xlt.models.words`), ``decoding`` (how word probabilities
            become tags, in dev selection and evaluation: :mod:`xlt.transfer.decoding`),
            ``checkpoint_dir`` (a checkpoint per seed in ``seed-N/``), ``resume``, ``peft``
            (``lora``, ``bitfit`` or ``adapter``: see :mod:`xlt.adapt.peft`) with ``lora_r`` and
            ``adapter_size``, ``data_seed`` (one data order for every seed; see
            :func:`xlt.transfer.finetune.finetune`).
        language_adapters: MAD-X: language -> ``(weights, meta)`` of its language adapter
            (:func:`xlt.adapt.peft.read_language_adapter`); with ``peft='adapter'`` the source's is
            under the task adapter in training and each evaluated language's in evaluation (the
            source's where a language has none; listed in ``missing_adapters``).

    After :meth:`train`: ``models``, ``histories``, ``selected``, ``dev_scores`` and ``parameters``
    (trainable/total counts) per seed.

    Under ``accelerate launch`` (N processes) training is data-parallel (see
    :func:`xlt.transfer.finetune.finetune`) and every process ends with the same models and dev
    scores; :meth:`evaluate` is sharded: each process predicts every N-th example and the
    predictions are gathered, so every process returns all of them.
    """

    def __init__(self, encoder: Encoder, ds: TaskDataset, cfg: dict, language_adapters: dict | None = None,
                 on_epoch_end: Callable[[int, int, dict, Any], None] | None = None):
        from xlt.models.words import check_word_pieces

        self.encoder, self.ds, self.cfg = encoder, ds, cfg
        self.on_epoch_end = on_epoch_end
        self.language_adapters = dict(language_adapters or {})
        self.word_pieces = check_word_pieces(cfg.get("word_pieces") or DEFAULT_WORD_PIECES)
        self.decoding = check_decoding(cfg.get("decoding") or DEFAULT_DECODING)
        self.models: dict[int, FinetunedModel] = {}
        self.histories: dict[int, list] = {}
        self.selected: dict[int, str] = {}
        self.dev_scores: dict[int, float] = {}
        self.parameters: dict[int, dict] = {}
        self.missing_adapters: set[str] = set()
        self.peft = None
        if cfg.get("peft"):
            from xlt.adapt.peft import PeftSettings

            size = next((int(meta["size"]) for _, meta in self.language_adapters.values()), None)
            self.peft = PeftSettings(cfg["peft"], r=int(cfg.get("lora_r") or 8),
                                     alpha=2 * int(cfg.get("lora_r") or 8),
                                     bottleneck=int(cfg.get("adapter_size") or 48), language_bottleneck=size)

    def _wrap(self, model, seed: int) -> FinetunedModel:
        e = self.encoder
        return FinetunedModel(model, e.tokenizer, self.ds.kind, self.ds.labels, text_prefix=e.text_prefix,
                              metric=self.ds.metric, spec=e.spec, fingerprint=e.fingerprint,
                              meta={"task": self.ds.name, "source": self.ds.source, "seed": seed},
                              word_pieces=self.word_pieces, decoding=self.decoding)

    def train(self, seeds: list[int]) -> None:
        """Fine-tune one model per seed on the source training split, selecting on source dev."""
        from xlt.transfer.finetune import encode_examples, finetune

        ds = self.ds
        # never past the model's positions (a longer setting is refused up front; the default is capped)
        enc_train = encode_examples(self.encoder, ds.kind, ds.train.examples, label_ids(ds, ds.train.examples),
                                    min(self.cfg["max_length"], self.encoder.max_length), word_pieces=self.word_pieces)
        enc_dev = encode_examples(self.encoder, ds.kind, ds.dev.examples, None, self.encoder.max_length,
                                  word_pieces=self.word_pieces)
        dev_gold = ds.kind.gold(ds.dev.examples)

        def dev_score(model) -> float:
            m = self._wrap(model, -1)
            return score(ds.metric, dev_gold, m.decode(m.proba_from_encoded(enc_dev, progress=self.cfg["progress"],
                                                                            desc=f"predict {ds.source} dev")))

        from pathlib import Path

        from xlt.transfer.finetune import data_digest, main_process_value, resolve_micro_batch_size

        ckpt_root = self.cfg.get("checkpoint_dir")
        # the selection depends on the dev data, metric and decoding too
        run_key = {"task": ds.name, "source": ds.source, "metric": ds.metric, "decoding": self.decoding,
                   "dev": data_digest(enc_dev.input_ids, [str(g) for g in dev_gold])} if ckpt_root else None
        for seed in seeds:
            res = finetune(self.encoder, enc_train, ds.labels, ds.kind is TOKEN, dev_score,
                           epochs=self.cfg["epochs"], batch_size=self.cfg["batch_size"], lr=self.cfg["lr"],
                           ckpt_avg=self.cfg["ckpt_avg"], freeze_embeddings=self.cfg["freeze_embeddings"],
                           pooling=self.cfg["pooling"], seed=seed, data_seed=self.cfg.get("data_seed"),
                           progress=self.cfg["progress"],
                           group_by_length=self.cfg.get("group_by_length", False), bf16=self.cfg.get("bf16", False),
                           micro_batch_size=resolve_micro_batch_size(self.cfg.get("micro_batch_size")),
                           checkpoint_dir=Path(ckpt_root) / f"seed-{seed}" if ckpt_root else None,
                           resume=bool(self.cfg.get("resume")), run_key=run_key, peft=self.peft,
                           language_state=self._language_state(ds.source),
                           on_epoch_end=(None if self.on_epoch_end is None
                                         else functools.partial(self.on_epoch_end, seed)))
            self.models[seed] = self._wrap(res.model, seed)
            self.parameters[seed] = res.parameters
            self.histories[seed] = res.history
            self.selected[seed] = res.selected
            dev = [h["dev"] for h in res.history if np.isfinite(h["dev"])]
            self.dev_scores[seed] = (main_process_value(lambda: dev_score(res.model)) if self.cfg["ckpt_avg"] >= 2
                                     else (max(dev) if dev else float("nan")))

    def evaluate_proba(self, split: Split) -> tuple[dict[int, list], int]:
        """Label probabilities of every seed's model for ``split`` (per example ``(n_words, n_labels)``
        for token tasks, else ``(n_labels,)``), and the number of truncated inputs."""
        from xlt.transfer.finetune import encode_examples

        enc = encode_examples(self.encoder, self.ds.kind, split.examples, None, self.encoder.max_length,
                              word_pieces=self.word_pieces)
        state = self._language_state(split.lang)
        if state is None:
            return {s: self._proba(m, enc, f"predict {split.lang}") for s, m in self.models.items()}, enc.n_truncated
        from xlt.adapt.peft import load_language_adapter

        for m in self.models.values():  # MAD-X: the evaluated language's adapter in place of the source's
            load_language_adapter(m.model, state)
        try:
            return {s: self._proba(m, enc, f"predict {split.lang}") for s, m in self.models.items()}, enc.n_truncated
        finally:  # the models leave as trained (with the source's adapter): they may be saved after this
            for m in self.models.values():
                load_language_adapter(m.model, self._language_state(self.ds.source))

    def _language_state(self, lang: str) -> dict | None:
        """The language adapter weights for ``lang`` (None without MAD-X adapters); a language without
        its own adapter gets the source's (see :attr:`missing_adapters`)."""
        if not self.language_adapters:
            return None
        from xlt.data.langs import denote_same as same


        for code, (state, _) in self.language_adapters.items():
            if same(code, lang):
                return state
        self.missing_adapters.add(lang)
        return self._language_state(self.ds.source)

    def _proba(self, model: FinetunedModel, enc, desc: str) -> list:
        """``model``'s probabilities for ``enc``; with N processes each predicts every N-th example."""
        from xlt.transfer.finetune import Encoded, distributed_state

        state = distributed_state()
        if state.num_processes == 1:
            return model.proba_from_encoded(enc, progress=self.cfg["progress"], desc=desc)
        from accelerate.utils import gather_object

        mine = list(range(state.process_index, len(enc.input_ids), state.num_processes))
        part = Encoded(input_ids=[enc.input_ids[i] for i in mine], labels=[enc.labels[i] for i in mine],
                       first_subword=[enc.first_subword[i] for i in mine] if enc.first_subword else [])
        proba = model.proba_from_encoded(part, progress=self.cfg["progress"] and state.is_main_process, desc=desc)
        out: list = [None] * len(enc.input_ids)
        for idx, probs in gather_object([(mine, proba)]):
            for i, p in zip(idx, probs):
                out[i] = p
        return out


def fit_task_model(dataset: TaskDataset, encoder: Encoder | str = "bundled:e5-small", *, mode: str = "probe",
                   seed: int = 0, aligner=None, **settings) -> TaskModel:
    """Train one task model on ``dataset``'s source data (model selection on its dev split).

    Args:
        dataset: the data set (only ``train`` and ``dev`` are used).
        encoder: an :class:`~xlt.models.loading.Encoder` or a model spec to load.
        mode: ``probe`` or ``finetune``.
        seed: the training seed.
        aligner: probe mode: a :class:`~xlt.align.maps.CrossLingualAligner`.
        settings: ``layer``, ``head``, ``pooling``, ``word_pieces``, ``decoding``, ``epochs``, ``batch_size``,
            ``lr``, ``ckpt_avg``, ``freeze_embeddings``, ``max_length``, ``cache_dir``, ``progress``;
            unset ones take the defaults of the mode and task kind (:data:`DEFAULTS`).

    Returns:
        the trained :class:`~xlt.transfer.model.TaskModel`.

    Raises:
        ValueError: an unknown mode or setting.
    """
    from xlt.models.loading import load_encoder

    base = {"layer": "mix", "head": "linear", "pooling": "mean", "group_by_length": False, "bf16": False,
            "micro_batch_size": None,
            "epochs": None, "batch_size": None, "lr": None,
            "ckpt_avg": 0, "freeze_embeddings": True, "max_length": 128, "cache_dir": None, "aligner": None,
            "progress": False, "word_pieces": DEFAULT_WORD_PIECES, "decoding": DEFAULT_DECODING}
    unknown = set(settings) - set(base)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(base)}")
    if mode not in ("probe", "finetune"):
        raise ValueError(f"mode must be 'probe' or 'finetune', got {mode!r}")
    cfg = with_defaults({**base, **settings}, mode, dataset.kind.name)
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    trainer = ProbeTrainer(enc, dataset, cfg, aligner) if mode == "probe" else FinetuneTrainer(enc, dataset, cfg)
    trainer.train([seed])
    return trainer.models[seed]


__all__ = ["DEFAULTS", "FinetuneTrainer", "ProbeTrainer", "decode_tags", "fit_task_model", "label_ids",
           "train_tagger", "with_defaults"]
