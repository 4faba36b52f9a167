"""Training task models on a :class:`~xlt.data.dataset.TaskDataset`: probes and fine-tuning.

:class:`ProbeTrainer` extracts frozen features once and trains one head per seed;
:class:`FinetuneTrainer` fine-tunes one model per seed. Both take their settings typed and
resolved (:class:`~xlt.transfer.training_settings.ProbeTraining`,
:class:`~xlt.transfer.training_settings.FinetuneTraining`), select on the source language's dev
set only (zero-shot) and give :class:`~xlt.transfer.model.TaskModel` values.
:func:`fit_task_model` is the one-call form (one seed, settings as keywords).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather_object

from xlt.adapt.peft import PeftSettings, load_language_adapter
from xlt.core.metrics import score
from xlt.data.codeswitch import CodeSwitcher, epoch_rng
from xlt.data.dataset import Split, TaskDataset
from xlt.data.kinds import TOKEN
from xlt.data.langs import denote_same as same
from xlt.models.cache import FeatureCache
from xlt.models.loading import Encoder, load_encoder
from xlt.models.words import check_word_pieces
from xlt.transfer.decoding import check_decoding
from xlt.transfer.finetune import (
    Encoded,
    data_digest,
    distributed_state,
    encode_examples,
    finetune,
    main_process_value,
    resolve_micro_batch_size,
    with_soft_targets,
)
from xlt.transfer.model import FinetunedModel, ProbeModel, TaskModel
from xlt.transfer.probe import predict, train_probe
from xlt.transfer.training_settings import (  # noqa: F401  (DEFAULTS: re-exported)
    DEFAULTS,
    FinetuneTraining,
    ProbeTraining,
)


def decode_tags(pred: np.ndarray, lengths: list[int], labels: list[str]) -> list[list[str]]:
    """Split flat predicted label ids (one per word) back into per-sentence tag lists."""
    names = [labels[i] for i in pred]
    out, k = [], 0
    for n in lengths:
        out.append(names[k:k + n])
        k += n
    return out


def train_tagger(X: torch.Tensor, tags: list[list[str]], X_dev: torch.Tensor, dev_tags: list[list[str]],
                 labels: list[str], training: ProbeTraining, *, metric: str = "f1", seed: int = 0):
    """Train a token-tagging probe on word features and keep the epoch with the best dev score.

    The same training as ``xlt transfer --mode probe`` for a token task
    (:func:`xlt.transfer.probe.train_probe`; ``head='mlp'`` = 256 hidden units).

    Args:
        X, tags: training features (:func:`xlt.transfer.model.tag_features`) and the tags of the
            same sentences.
        X_dev, dev_tags: the selection set's features and tags.
        labels: the label inventory (a label's index is its class id).
        training: head, epochs, batch size, learning rate and progress bars (its feature settings
            are the caller's: the features are given).
        metric: selection metric (:func:`xlt.core.metrics.score`; ``f1`` = span F1).
        seed: the head's initialisation and data order.

    Returns:
        :class:`xlt.transfer.probe.ProbeResult`.

    Raises:
        KeyError: a tag outside ``labels``; ValueError: feature rows and tags disagree.
    """
    index = {l: i for i, l in enumerate(labels)}
    y = torch.tensor([index[t] for s in tags for t in s], dtype=torch.long)
    dev_lengths = [len(s) for s in dev_tags]

    def dev_score(h) -> float:
        return score(metric, dev_tags, decode_tags(predict(h, X_dev), dev_lengths, labels))

    return train_probe(X, y, len(labels), dev_score, hidden=training.hidden, epochs=training.epochs,
                       batch_size=training.batch_size, lr=training.lr, seed=seed, progress=training.progress)


def label_ids(ds: TaskDataset, examples: list) -> list:
    """Class ids of ``examples``' gold labels in ``ds.labels`` (per word for token tasks)."""
    index = {l: i for i, l in enumerate(ds.labels)}
    if ds.kind is TOKEN:
        return [[index[l] for l in e.labels] for e in examples]
    return [index[e.label] for e in examples]


@dataclasses.dataclass
class SourceFeatures:
    """The source data a :class:`ProbeTrainer` trained its heads on, as features.

    Attributes:
        X: training features ``(n_rows, [n_layers,] dim)`` float16 (one row per word or example).
        y: their gold label ids ``(n_rows,)`` int64.
        X_dev: the source dev set's features ``(n_dev_rows, [n_layers,] dim)``.
        examples: the training examples (code-switched copies included), in row order.
    """

    X: torch.Tensor
    y: torch.Tensor
    X_dev: torch.Tensor
    examples: list


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
        encoder: the frozen encoder. ds: the data set.
        training: the probe's settings, resolved (:class:`ProbeTraining`: layer, head, epochs,
            batch size, learning rate, word pieces, decoding, feature cache, aligner file).
        aligner: a loaded :class:`~xlt.align.maps.CrossLingualAligner` or None.
        code_switch: code-switched training (CoSDA-ML, Qin et al. 2020; :mod:`xlt.data.codeswitch`):
            the probe trains on the frozen features of ``cs_copies`` switched copies of the
            training set (drawn once, with the first seed: features are extracted once for all
            seeds) instead of the training set. None: off.
        cs_copies: how many switched copies (>= 1).

    After :meth:`train`: ``models``, ``histories`` and ``dev_scores`` (best source-dev score,
    percent) per seed, and ``source_features`` (:class:`SourceFeatures`, what the heads were
    trained and selected on, for methods that train more heads on it: :mod:`xlt.transfer.selftrain`);
    with ``code_switch``, ``code_switch_counts``: seed -> one
    :meth:`~xlt.data.codeswitch.SwitchCounts.as_dict` per copy (with its ``copy`` number).
    """

    def __init__(self, encoder: Encoder, ds: TaskDataset, training: ProbeTraining, aligner=None,
                 code_switch: CodeSwitcher | None = None, cs_copies: int = 1):
        self.ds, self.training = ds, training
        self.code_switch, self.cs_copies = code_switch, max(1, int(cs_copies))
        self.code_switch_counts: dict[int, list[dict]] = {}
        cache = FeatureCache(training.cache_dir) if training.cache_dir else None
        # a head-less model that extracts (and maps) features for every seed's model
        self.base = ProbeModel(encoder, None, ds.kind, ds.labels, layer=training.layer, metric=ds.metric,
                               aligner=aligner, aligner_path=training.aligner_path, cache=cache,
                               meta={"task": ds.name, "source": ds.source},
                               word_pieces=training.word_pieces, decoding=training.decoding)
        self.models: dict[int, ProbeModel] = {}
        self.histories: dict[int, list] = {}
        self.dev_scores: dict[int, float] = {}
        self.source_features: SourceFeatures | None = None

    def _model(self, head, seed: int) -> ProbeModel:
        b = self.base
        return ProbeModel(b.encoder, head, b.kind, b.labels, layer=b.layer, metric=b.metric, aligner=b.aligner,
                          aligner_path=b.aligner_path, cache=b.cache, meta=dict(b.meta, seed=seed),
                          word_pieces=b.word_pieces, decoding=b.decoding)

    def features(self, split: Split):
        """``(features, truncated inputs)`` of ``split`` (:meth:`ProbeModel.features`)."""
        return self.base.features(split.examples, split.lang, progress=self.training.progress)

    def train(self, seeds: list[int]) -> None:
        """Train one head per seed on the source training split, selecting on source dev."""
        ds, t = self.ds, self.training
        train, copies = ds.train, []
        if self.code_switch is not None:
            examples = []
            for k in range(self.cs_copies):
                switched, counts = self.code_switch.switch_examples(ds.train.examples, epoch_rng(seeds[0], 0, k))
                examples.extend(switched)
                copies.append(dict(counts.as_dict(), copy=k + 1))
            train = dataclasses.replace(ds.train, examples=examples)
        X, _ = self.features(train)
        y = torch.tensor([i for ids in label_ids(ds, train.examples) for i in (ids if ds.kind is TOKEN else [ids])],
                         dtype=torch.long)
        Xd, _ = self.features(ds.dev)
        dev_gold = ds.kind.gold(ds.dev.examples)
        self.source_features = SourceFeatures(X, y, Xd, train.examples)

        def dev_score(head) -> float:
            m = self._model(head, -1)
            return score(ds.metric, dev_gold, m.decode(m.proba_from_features(Xd, ds.dev.examples)))

        for seed in seeds:
            res = train_probe(X, y, len(ds.labels), dev_score, hidden=t.hidden, epochs=t.epochs,
                              batch_size=t.batch_size, lr=t.lr, seed=seed, progress=t.progress)
            self.models[seed] = self._model(res.head, seed)
            self.histories[seed] = res.history
            self.dev_scores[seed] = max(h["dev"] for h in res.history)
            if copies:
                self.code_switch_counts[seed] = copies
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
        encoder: the starting encoder (left unchanged). ds: the data set.
        training: the fine-tuning settings, resolved (:class:`FinetuneTraining`: schedule, pooling,
            training length, checkpoint averaging, frozen embeddings, word pieces, decoding,
            checkpoints, PEFT, data seed). A mapping of those fields is converted once (the form
            of earlier versions, kept for scripts).
        language_adapters: MAD-X: language -> ``(weights, meta)`` of its language adapter
            (:func:`xlt.adapt.peft.read_language_adapter`); with ``peft='adapter'`` the source's is
            under the task adapter in training and each evaluated language's in evaluation (the
            source's where a language has none; listed in ``missing_adapters``).
        on_epoch_end: called as ``on_epoch_end(seed, epoch, record, model)`` after every epoch
            (see :func:`xlt.transfer.finetune.finetune`).
        code_switch: code-switched fine-tuning (CoSDA-ML, Qin et al. 2020;
            :mod:`xlt.data.codeswitch`): every epoch trains on the training set switched anew
            (:func:`xlt.data.codeswitch.epoch_rng` of the seed and epoch). None: off.

    ``soft_targets`` (None, or set before :meth:`train`): per training example None (learn its
    label) or the distribution to learn, ``(n_words, n_labels)`` (token tasks) or ``(n_labels,)``
    (:func:`xlt.transfer.finetune.with_soft_targets`; distillation). With code-switching only the
    examples without one are switched.

    After :meth:`train`: ``models``, ``histories``, ``selected``, ``dev_scores`` and ``parameters``
    (trainable/total counts) per seed; with ``code_switch``, ``code_switch_counts``: seed -> one
    :meth:`~xlt.data.codeswitch.SwitchCounts.as_dict` per epoch trained (with its ``epoch``).

    Under ``accelerate launch`` (N processes) training is data-parallel (see
    :func:`xlt.transfer.finetune.finetune`) and every process ends with the same models and dev
    scores; :meth:`evaluate` is sharded: each process predicts every N-th example and the
    predictions are gathered, so every process returns all of them.
    """

    def __init__(self, encoder: Encoder, ds: TaskDataset, training: FinetuneTraining,
                 language_adapters: dict | None = None,
                 on_epoch_end: Callable[[int, int, dict, Any], None] | None = None,
                 code_switch: CodeSwitcher | None = None):
        self.encoder, self.ds, self.training = encoder, ds, training
        self.code_switch = code_switch
        self.code_switch_counts: dict[int, list[dict]] = {}
        self.on_epoch_end = on_epoch_end
        self.language_adapters = dict(language_adapters or {})
        self.word_pieces = check_word_pieces(training.word_pieces)
        self.decoding = check_decoding(training.decoding)
        self.models: dict[int, FinetunedModel] = {}
        self.histories: dict[int, list] = {}
        self.selected: dict[int, str] = {}
        self.dev_scores: dict[int, float] = {}
        self.parameters: dict[int, dict] = {}
        self.missing_adapters: set[str] = set()
        self.soft_targets: list[np.ndarray | None] | None = None
        self.peft = None
        if training.peft:
            size = next((int(meta["size"]) for _, meta in self.language_adapters.values()), None)
            self.peft = PeftSettings(training.peft, r=training.lora_r, alpha=2 * training.lora_r,
                                     bottleneck=training.adapter_size, language_bottleneck=size)

    def _wrap(self, model, seed: int) -> FinetunedModel:
        e = self.encoder
        return FinetunedModel(model, e.tokenizer, self.ds.kind, self.ds.labels, text_prefix=e.text_prefix,
                              metric=self.ds.metric, spec=e.spec, fingerprint=e.fingerprint,
                              meta={"task": self.ds.name, "source": self.ds.source, "seed": seed},
                              word_pieces=self.word_pieces, decoding=self.decoding)

    def train(self, seeds: list[int]) -> None:
        """Fine-tune one model per seed on the source training split, selecting on source dev."""
        ds, t = self.ds, self.training
        enc_train = self._encode_train(ds.train.examples)
        enc_dev = encode_examples(self.encoder, ds.kind, ds.dev.examples, None, self.encoder.max_length,
                                  word_pieces=self.word_pieces)
        dev_gold = ds.kind.gold(ds.dev.examples)

        def dev_score(model) -> float:
            m = self._wrap(model, -1)
            return score(ds.metric, dev_gold, m.decode(m.proba_from_encoded(enc_dev, progress=t.progress,
                                                                            desc=f"predict {ds.source} dev")))

        # the selection depends on the dev data, metric and decoding too
        run_key = {"task": ds.name, "source": ds.source, "metric": ds.metric, "decoding": self.decoding,
                   "dev": data_digest(enc_dev.input_ids, [str(g) for g in dev_gold])} if t.checkpoint_dir else None
        if run_key is not None and self.code_switch is not None:
            run_key["code_switch"] = {"ratio": self.code_switch.ratio,
                                      "dictionaries": [[d.lang, str(d.path), d.size] for d in self.code_switch.dictionaries]}
        for seed in seeds:
            res = finetune(self.encoder, enc_train, ds.labels, ds.kind is TOKEN, dev_score,
                           epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, ckpt_avg=t.ckpt_avg,
                           freeze_embeddings=t.freeze_embeddings, pooling=t.pooling, seed=seed,
                           data_seed=t.data_seed, progress=t.progress, group_by_length=t.group_by_length,
                           bf16=t.bf16, micro_batch_size=resolve_micro_batch_size(t.micro_batch_size),
                           checkpoint_dir=Path(t.checkpoint_dir) / f"seed-{seed}" if t.checkpoint_dir else None,
                           resume=t.resume, run_key=run_key, peft=self.peft,
                           language_state=self._language_state(ds.source),
                           on_epoch_end=(None if self.on_epoch_end is None
                                         else functools.partial(self.on_epoch_end, seed)),
                           epoch_data=None if self.code_switch is None else self._switched_data(seed))
            self.models[seed] = self._wrap(res.model, seed)
            self.parameters[seed] = res.parameters
            self.histories[seed] = res.history
            self.selected[seed] = res.selected
            dev = [h["dev"] for h in res.history if np.isfinite(h["dev"])]
            self.dev_scores[seed] = (main_process_value(lambda: dev_score(res.model)) if t.ckpt_avg >= 2
                                     else (max(dev) if dev else float("nan")))

    def _switched_data(self, seed: int) -> Callable[[int], Encoded]:
        """``epoch -> Encoded``: the training set switched with the seed's and epoch's generator, encoded
        as the unswitched one is; each epoch's counts go to :attr:`code_switch_counts`."""
        ds, t = self.ds, self.training
        counts = self.code_switch_counts.setdefault(seed, [])

        soft = self.soft_targets
        hard = [i for i in range(len(ds.train.examples)) if soft is None or soft[i] is None]

        def data(epoch: int) -> Encoded:
            switched, c = self.code_switch.switch_examples([ds.train.examples[i] for i in hard],
                                                           epoch_rng(seed, epoch))
            counts[:] = [r for r in counts if r["epoch"] != epoch] + [dict(c.as_dict(), epoch=epoch)]
            examples = list(ds.train.examples)
            for i, e in zip(hard, switched):
                examples[i] = e
            return self._encode_train(examples)
        return data

    def _encode_train(self, examples: list) -> Encoded:
        """Training examples encoded, with :attr:`soft_targets`; never past the model's positions (a
        longer setting is refused up front; the default is capped)."""
        ds, t = self.ds, self.training
        enc = encode_examples(self.encoder, ds.kind, examples, label_ids(ds, examples),
                              min(t.max_length, self.encoder.max_length), word_pieces=self.word_pieces)
        return enc if self.soft_targets is None else with_soft_targets(enc, self.soft_targets, ds.kind is TOKEN)

    def evaluate_proba(self, split: Split) -> tuple[dict[int, list], int]:
        """Label probabilities of every seed's model for ``split`` (per example ``(n_words, n_labels)``
        for token tasks, else ``(n_labels,)``), and the number of truncated inputs."""
        enc = encode_examples(self.encoder, self.ds.kind, split.examples, None, self.encoder.max_length,
                              word_pieces=self.word_pieces)
        state = self._language_state(split.lang)
        if state is None:
            return {s: self._proba(m, enc, f"predict {split.lang}") for s, m in self.models.items()}, enc.n_truncated
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
        for code, (state, _) in self.language_adapters.items():
            if same(code, lang):
                return state
        self.missing_adapters.add(lang)
        return self._language_state(self.ds.source)

    def _proba(self, model: FinetunedModel, enc, desc: str) -> list:
        """``model``'s probabilities for ``enc``; with N processes each predicts every N-th example."""
        state = distributed_state()
        progress = self.training.progress
        if state.num_processes == 1:
            return model.proba_from_encoded(enc, progress=progress, desc=desc)

        mine = list(range(state.process_index, len(enc.input_ids), state.num_processes))
        part = Encoded(input_ids=[enc.input_ids[i] for i in mine], labels=[enc.labels[i] for i in mine],
                       first_subword=[enc.first_subword[i] for i in mine] if enc.first_subword else [])
        proba = model.proba_from_encoded(part, progress=progress and state.is_main_process, desc=desc)
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
        settings: fields of :class:`ProbeTraining` or :class:`FinetuneTraining` (``layer``, ``head``,
            ``pooling``, ``word_pieces``, ``decoding``, ``epochs``, ``batch_size``, ``lr``,
            ``ckpt_avg``, ``freeze_embeddings``, ``max_length``, ``cache_dir``, ``progress``, ...;
            a field of the other mode is ignored); unset ones take the defaults of the mode and
            task kind (:data:`DEFAULTS`); progress bars are off unless ``progress=True``.

    Returns:
        the trained :class:`~xlt.transfer.model.TaskModel`.

    Raises:
        ValueError: an unknown mode or setting.
    """
    probe_fields = {f.name for f in dataclasses.fields(ProbeTraining)}
    finetune_fields = {f.name for f in dataclasses.fields(FinetuneTraining)}
    unknown = set(settings) - probe_fields - finetune_fields
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(probe_fields | finetune_fields)}")
    if mode not in ("probe", "finetune"):
        raise ValueError(f"mode must be 'probe' or 'finetune', got {mode!r}")
    settings.setdefault("progress", False)
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    kind = dataset.kind.name
    if mode == "probe":
        trainer = ProbeTrainer(enc, dataset, ProbeTraining.for_kind(
            kind, **{k: v for k, v in settings.items() if k in probe_fields}), aligner)
    else:
        trainer = FinetuneTrainer(enc, dataset, FinetuneTraining.for_kind(
            kind, **{k: v for k, v in settings.items() if k in finetune_fields}))
    trainer.train([seed])
    return trainer.models[seed]


__all__ = ["DEFAULTS", "FinetuneTrainer", "FinetuneTraining", "ProbeTrainer", "ProbeTraining", "SourceFeatures",
           "decode_tags",
           "fit_task_model", "label_ids", "train_tagger"]
