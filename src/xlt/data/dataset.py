"""A task data set as a value: source training (and dev) data, evaluation sets per language, labels.

A :class:`TaskDataset` is resolved once - from a built-in name (:func:`load_task`), from a
user's files in any supported format (:func:`from_files`) or from examples in memory
(:func:`from_examples`) - and handed to the transfer code, which never looks a task up by name
again.

Labels come from the training data (any BIO entity types, any class names) unless the data
set fixes its inventory (the built-in UD-POS and PAN-X tag sets). A label map
(``{"DATE": "O"}``, parsed from ``--label-map DATE=O``) renames labels in every split, by full
label or, for BIO tags, by entity type. Evaluation labels never seen in training are counted
per language (:attr:`Split.unseen`) and reported, never scored silently.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xlt.core.errors import XltError
from xlt.data import formats as fmt
from xlt.data import tasks as registry
from xlt.data.formats import FileLanguageError, language_from_filename
from xlt.data.kinds import TOKEN, TaskKind, get_kind, kind_of
from xlt.data.langs import UnknownLanguageError, denote_same, resolve_language, same_language
from xlt.data.readers import DataFormatError, ReadStats

log = logging.getLogger(__name__)

METRICS = ("accuracy", "f1")
_BIO = re.compile(r"^[BIES]-\S+$")
_INTEGER = re.compile(r"-?\d+")
#: The tag names of WikiANN / PAN-X in the order of their ``ner_tags`` ids, for hints on integer tags.
_EXAMPLE_TAG_NAMES = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")


class DatasetError(XltError, ValueError):
    """A data set that cannot be used as given (no training examples, bad label map, ...)."""


@dataclass
class Split:
    """The examples of one language in one role (training, dev or evaluation).

    Attributes:
        lang: language code as the data set spells it (``de``, ``deu_Latn``).
        examples: :class:`~xlt.data.readers.TaggedSentence`, ``TextExample`` or ``PairExample``
            values, all of one kind.
        path: the file read (``None`` for examples given in memory).
        stats: what the reader did (lines, skipped and noted things); ``None`` in memory.
        unseen: gold labels that are not in the data set's label inventory -> count of words
            (token tasks) or examples carrying them; filled by :class:`TaskDataset`.
        note: where the split came from when it is not a whole file (e.g. ``"10% of train held
            out"``).
    """

    lang: str
    examples: list
    path: Path | None = None
    stats: ReadStats | None = None
    unseen: Counter = field(default_factory=Counter)
    note: str | None = None

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def n_skipped_empty(self) -> int:
        """Empty sentences/texts the reader skipped."""
        return int(self.stats.n_skipped_empty) if self.stats is not None else 0

    def counts(self, kind: TaskKind) -> dict:
        """``{"sentences", "tokens", "skipped_empty", "skipped", "unseen_labels", "note"}`` for reports
        (the last three only when there is something to say: ``note`` says where a split came from,
        e.g. ``"your file de.conllu"`` for a user's set added to a built-in task)."""
        out = {"sentences": len(self.examples), "tokens": kind.n_tokens(self.examples),
               "skipped_empty": self.n_skipped_empty}
        if self.stats is not None and +self.stats.skipped:
            out["skipped"] = dict(sorted(self.stats.skipped.items()))
        if self.unseen:
            out["unseen_labels"] = dict(sorted(self.unseen.items()))
        if self.note:
            out["note"] = self.note
        return out


def is_bio(labels: Iterable[str]) -> bool:
    """Whether every label is ``O`` or a ``B-``/``I-``/``E-``/``S-`` tag with a type (and one is)."""
    labels = set(labels)
    return bool(labels - {"O"}) and all(l == "O" or _BIO.match(l) for l in labels)


def _natural_key(label: str):
    return (0, int(label), "") if re.fullmatch(r"-?\d+", label) else (1, 0, label)


def order_labels(labels: Iterable[str]) -> list[str]:
    """A stable label order: BIO sets as ``O``, then per entity type (sorted) ``B-``, ``I-``,
    ``E-``, ``S-``; other sets sorted, integers numerically (``2`` before ``10``)."""
    labels = set(labels)
    if is_bio(labels):
        prefix_rank = {"B": 0, "I": 1, "E": 2, "S": 3}
        tags = sorted((l for l in labels if l != "O"), key=lambda l: (l[2:], prefix_rank[l[0]]))
        return (["O"] if "O" in labels else []) + tags
    return sorted(labels, key=_natural_key)


def parse_label_map(items: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``["DATE=O", "B-MISC=B-ORG"]`` (or a comma-separated string, or a mapping) -> dict.

    Raises:
        DatasetError: an item without ``=``, or an empty side.
    """
    if items is None:
        return {}
    if isinstance(items, Mapping):
        pairs = list(items.items())
    else:
        if isinstance(items, str):
            items = [items]
        pairs = []
        for item in items:
            for part in str(item).split(","):
                part = part.strip()
                if not part:
                    continue
                if "=" not in part:
                    raise DatasetError(f"--label-map: expected FROM=TO (e.g. DATE=O), got {part!r}")
                a, b = (s.strip() for s in part.split("=", 1))
                pairs.append((a, b))
    out = {}
    for a, b in pairs:
        if not a or not b:
            raise DatasetError(f"--label-map: empty label in {a!r}={b!r}")
        out[str(a)] = str(b)
    return out


def label_mapper(label_map: Mapping[str, str]) -> Callable[[str], str]:
    """A function applying ``label_map`` to one label.

    A key matches a whole label (``B-DATE``) or, for a ``B-``/``I-``/``E-``/``S-`` tag, its entity
    type (``DATE``): ``DATE=O`` turns ``B-DATE`` and ``I-DATE`` into ``O``, ``DATE=MISC`` turns
    them into ``B-MISC`` and ``I-MISC``. Whole-label keys win over type keys.
    """
    table = dict(label_map)

    def apply(label: str) -> str:
        if label in table:
            return table[label]
        if _BIO.match(label) and label[2:] in table:
            new = table[label[2:]]
            return "O" if new == "O" else f"{label[:2]}{new}"
        return label

    return apply


@dataclass
class TaskDataset:
    """A zero-shot transfer data set, resolved once and handed on.

    Attributes:
        name: ``udpos``/``panx``/``sib200`` for the built-in sets, else a name for reports (the
            training file's stem by default).
        kind: the task kind (:data:`xlt.data.kinds.TOKEN`, ``SEQUENCE`` or ``PAIR``).
        metric: ``accuracy`` (token or example accuracy) or ``f1`` (entity-level span F1,
            seqeval; for BIO tags).
        source: the source language code.
        train: the source training split.
        dev: the source dev split used for model selection (never a target language).
        eval: evaluation splits by language, the source's own evaluation set first if present.
        labels: the label inventory; a label's index is its class id.
        label_map: the renaming applied to every split (see :func:`label_mapper`).
        origin: how the data set was built (echoed in reports).
    """

    name: str
    kind: TaskKind
    metric: str
    source: str
    train: Split
    dev: Split
    eval: dict[str, Split]
    labels: list[str]
    label_map: dict[str, str] = field(default_factory=dict)
    origin: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = get_kind(self.kind)
        if self.metric not in METRICS:
            raise DatasetError(f"metric must be one of {METRICS}, got {self.metric!r}")
        if self.metric == "f1" and self.kind is not TOKEN:
            raise DatasetError(f"{self.name}: --metric f1 is entity-level span F1 over BIO tags of a token task; "
                               f"this is a {self.kind.name} task (one label per example): use --metric accuracy")
        if not self.train.examples:
            where = f" in {self.train.path}" if self.train.path else ""
            raise DatasetError(f"{self.name}: no training examples{where}")
        for role, split in [("train", self.train), ("dev", self.dev), *self.eval.items()]:
            self.kind.check(split.examples, where=f"{self.name} {role}: ")
        if not self.labels:
            raise DatasetError(f"{self.name}: no labels in the training data")
        self._count_unseen()

    # ------------------------------------------------------------------ views
    @property
    def targets(self) -> list[str]:
        """Evaluation languages other than the source, in order."""
        return [l for l in self.eval if l != self.source]

    def splits(self) -> list[tuple[str, Split]]:
        """``(role, split)`` for train, dev and every evaluation set."""
        return [("train", self.train), ("dev", self.dev)] + [(f"eval:{l}", s) for l, s in self.eval.items()]

    def files(self) -> list[Path]:
        """Every file the data set was read from (for manifests), without repeats."""
        seen: dict[Path, None] = {}
        for f in self.origin.get("multi_source", {}).get("files", []):  # the sources' own files
            seen.setdefault(Path(f), None)
        for _, s in self.splits():
            if s.path is not None:
                seen.setdefault(Path(s.path), None)
        for f in self.origin.get("user_files", {}).get("files", []):  # a user's files added to a task
            seen.setdefault(Path(f), None)
        return list(seen)

    def unseen_labels(self) -> dict[str, dict[str, int]]:
        """Per evaluation language (and ``dev``), labels not in :attr:`labels` and their counts."""
        out = {l: dict(s.unseen) for l, s in self.eval.items() if s.unseen}
        if self.dev.unseen:
            out = {"dev": dict(self.dev.unseen), **out}
        return out

    def describe(self) -> dict:
        """A JSON-able summary: name, kind, metric, source, labels, label map, origin, counts."""
        return {"name": self.name, "kind": self.kind.name, "metric": self.metric, "source": self.source,
                "labels": list(self.labels), "label_map": dict(self.label_map), "origin": dict(self.origin),
                "train": self.train.counts(self.kind), "dev": dict(self.dev.counts(self.kind), note=self.dev.note),
                "eval": {l: s.counts(self.kind) for l, s in self.eval.items()}}

    def _count_unseen(self) -> None:
        known = set(self.labels)
        for _, split in self.splits()[1:]:
            split.unseen = Counter()
            for ex in split.examples:
                for lab in self.kind.labels_of(ex):
                    if lab not in known:
                        split.unseen[lab] += 1


# ---------------------------------------------------------------------- builders
def _apply_label_map(kind: TaskKind, split: Split, mapper: Callable[[str], str] | None) -> Split:
    if mapper is None:
        return split
    split.examples = [kind.relabel(e, mapper) for e in split.examples]
    return split


def _check_map_used(label_map: Mapping[str, str], splits: Sequence[Split], kind: TaskKind) -> None:
    seen: set[str] = set()
    for s in splits:
        for e in s.examples:
            seen.update(kind.labels_of(e))
    types = {l[2:] for l in seen if _BIO.match(l)}
    unused = [k for k in label_map if k not in seen and k not in types]
    if unused:
        raise DatasetError(f"--label-map: no label or entity type {', '.join(map(repr, unused))} in the data "
                           f"(labels seen: {', '.join(order_labels(seen))})")


def integer_tags(labels: Iterable[str]) -> list[str]:
    """The labels, in numeric order, when every one is an integer (``0``, ``1``, ``-1``); else ``[]``.

    Token files that store tag ids instead of tag names (a Hugging Face ``ner_tags`` column exported
    to CSV/CoNLL without its ``ClassLabel`` names) look like this.
    """
    labels = set(labels)
    if not labels or not all(_INTEGER.fullmatch(l) for l in labels):
        return []
    return sorted(labels, key=int)


def integer_tag_hint(tags: Sequence[str]) -> str:
    """A ``--label-map`` that names integer tags, as an example: ``--label-map 0=O,1=B-PER,2=I-PER,...``
    (the first tags given the WikiANN / PAN-X names in id order), with where the real names come from.

    Args:
        tags: integer tags in numeric order (:func:`integer_tags`).

    Returns:
        A phrase for messages.
    """
    shown = ",".join(f"{t}={n}" for t, n in zip(tags, _EXAMPLE_TAG_NAMES[:3]))
    more = ",..." if len(tags) > 3 else ""
    return (f"--label-map {shown}{more} (each id's name in the order of the data set's tag names, e.g. its "
            f"ClassLabel names; WikiANN/PAN-X: {', '.join(_EXAMPLE_TAG_NAMES)})")


def _check_inventory(labels: Sequence[str] | str, name: str) -> list[str]:
    """A fixed label inventory (``--labels``; a comma-separated string, as a config file may give it,
    is split) as a list, each label once.

    Raises:
        DatasetError: a label listed more than once (named, with its count), or an empty one.
    """
    if isinstance(labels, str):
        labels = [l.strip() for l in labels.split(",") if l.strip()]
    labels = [str(l) for l in labels]
    if any(not l.strip() for l in labels):
        raise DatasetError(f"{name}: --labels holds an empty label: {labels}")
    counts = Counter(labels)
    twice = [f"{l!r} ({counts[l]} times)" for l in dict.fromkeys(labels) if counts[l] > 1]
    if twice:
        raise DatasetError(f"{name}: --labels lists {', '.join(twice)}; each label once, since a label's "
                           f"position is its class id (got {','.join(labels)})")
    return labels


def default_metric(kind: TaskKind, labels: Iterable[str]) -> str:
    """``f1`` (span F1) for token tasks with BIO tags, else ``accuracy``."""
    return "f1" if kind is TOKEN and is_bio(labels) else "accuracy"


def hold_out_dev(train: Split, fraction: float = 0.1, seed: int = 0, max_examples: int = 1000) -> tuple[Split, Split]:
    """Split a seeded random share of ``train`` off as the dev set (for data with no dev file).

    Returns:
        ``(train_rest, dev)``; dev has ``ceil``-free ``int(fraction * n)`` examples, at least 1
        and at most ``max_examples``.

    Raises:
        DatasetError: fewer than 2 training examples, or ``fraction`` outside (0, 1).
    """
    n = len(train.examples)
    if not 0.0 < fraction < 1.0:
        raise DatasetError(f"dev fraction must be in (0, 1), got {fraction}")
    if n < 2:
        raise DatasetError(f"cannot hold out a dev set from {n} training example(s); give --dev")
    k = min(max_examples, max(1, int(fraction * n)))
    order = list(range(n))
    random.Random(seed).shuffle(order)
    dev_idx = set(order[:k])
    dev = Split(train.lang, [e for i, e in enumerate(train.examples) if i in dev_idx], train.path, train.stats,
                note=f"{k} of {n} training examples held out (seed {seed}), no dev file given")
    rest = Split(train.lang, [e for i, e in enumerate(train.examples) if i not in dev_idx], train.path, train.stats,
                 note=f"{n - k} of {n} examples ({k} held out as dev)")
    return rest, dev


def from_examples(
    train: Sequence,
    eval: Mapping[str, Sequence] | None = None,
    *,
    dev: Sequence | None = None,
    source: str = "en",
    name: str = "custom",
    metric: str | None = None,
    labels: Sequence[str] | None = None,
    label_map: Mapping[str, str] | Iterable[str] | None = None,
    dev_fraction: float = 0.1,
    seed: int = 0,
    origin: dict | None = None,
    paths: Mapping[str, Path | None] | None = None,
    stats: Mapping[str, ReadStats | None] | None = None,
) -> TaskDataset:
    """Build a :class:`TaskDataset` from examples in memory (every other builder ends here).

    Args:
        train: source training examples (all of one kind: ``TaggedSentence``, ``TextExample``
            or ``PairExample``); the kind is taken from them.
        eval: ``{language: examples}`` evaluation sets.
        dev: source dev examples; ``None`` holds out ``dev_fraction`` of ``train`` (seeded).
        source: the source language code.
        name: the data set's name in reports.
        metric: ``accuracy`` or ``f1``; default :func:`default_metric`.
        labels: a fixed label inventory (training labels outside it are an error; each label
            once); default: the labels of ``train`` in :func:`order_labels` order.
        label_map: renaming applied to every split first (see :func:`label_mapper`).
        paths, stats: per role (``train``, ``dev``, ``eval:<lang>``) the file and reader statistics.

    A token task whose tags are all integers (tag ids without their names) is logged as a warning
    with a ``--label-map`` hint (:func:`integer_tag_hint`); with ``metric="f1"`` it is an error, since
    span F1 finds no entity in integer tags.

    Raises:
        DatasetError: no training examples, a label map naming no label, training labels outside
            a fixed inventory, a label listed twice in ``labels``, a bad metric (``f1`` for a
            classification task, or for integer tags).
        TypeError: examples of mixed kinds.
    """
    if labels is not None:
        labels = _check_inventory(labels, name)
    train = list(train)
    if not train:
        raise DatasetError(f"{name}: no training examples")
    kind = kind_of(train[0])
    paths, stats = dict(paths or {}), dict(stats or {})
    lmap = parse_label_map(label_map)
    mapper = label_mapper(lmap) if lmap else None

    def split(role: str, lang: str, examples: Sequence) -> Split:
        return Split(lang, list(examples), paths.get(role), stats.get(role))

    tr = split("train", source, train)
    dv = split("dev", source, dev) if dev is not None else None
    ev = {lang: split(f"eval:{lang}", lang, exs) for lang, exs in (eval or {}).items()}
    for role, s in [("train", tr), ("dev", dv), *((f"eval:{l}", x) for l, x in ev.items())]:
        if s is not None:
            kind.check(s.examples, where=f"{name} {role}: ")
    if lmap:  # check the map against the labels as given, then apply it
        _check_map_used(lmap, [s for s in (tr, dv, *ev.values()) if s is not None], kind)
        for s in (tr, dv, *ev.values()):
            if s is not None:
                _apply_label_map(kind, s, mapper)
    if dv is None:
        tr, dv = hold_out_dev(tr, dev_fraction, seed)
    seen = {l for e in tr.examples for l in kind.labels_of(e)}
    if labels is not None:
        extra = seen.difference(labels)
        if extra:
            raise DatasetError(f"{name}: training labels outside the fixed inventory: {sorted(extra)} "
                               f"(expected {list(labels)})")
        inventory = list(labels)
    else:
        inventory = order_labels(seen)
    tags = integer_tags(inventory) if kind is TOKEN else []
    if tags:  # the hint names the tags of every split, so that one map covers them all
        tags = integer_tags(l for s in (tr, dv, *ev.values()) for e in s.examples for l in kind.labels_of(e)) or tags
    if tags and metric == "f1":
        raise DatasetError(f"{name}: --metric f1 scores entity spans of BIO tags (O, B-PER, I-PER, ...), but every "
                           f"tag is an integer ({', '.join(tags)}): name them with {integer_tag_hint(tags)}, or "
                           f"score them as classes with --metric accuracy")
    if tags:
        log.warning("%s: every tag is an integer (%s); if they are ids of named tags, name them with %s so that "
                    "NER is scored by entity F1 - as they are, they are classes scored by token accuracy",
                    name, ", ".join(tags), integer_tag_hint(tags))
    return TaskDataset(name=name, kind=kind, metric=metric or default_metric(kind, inventory), source=source,
                       train=tr, dev=dv, eval=ev, labels=inventory, label_map=lmap, origin=dict(origin or {}))


def load_task(
    task: str,
    source: str | None = None,
    targets: str | Sequence[str] = "all",
    *,
    data_dir: str | Path | None = None,
    train_limit: int | None = None,
    eval_limit: int | None = None,
    label_map: Mapping[str, str] | Iterable[str] | None = None,
) -> TaskDataset:
    """A built-in benchmark task (``udpos``, ``panx``, ``sib200``) as a :class:`TaskDataset`.

    The source's training file is the training split, its dev file the dev split (the training
    file where there is none), and the evaluation sets are the selected targets' plus the
    source's own (in-language score, left out of the target average).

    Args:
        task: registry name (:data:`xlt.data.tasks.TASKS`).
        source: any code of the source language (default: the task's usual source).
        targets: ``'all'`` or codes (see :func:`xlt.data.tasks.select_targets`).
        data_dir: data folder (default :func:`xlt.data.paths.resolve_data_dir` order).
        train_limit, eval_limit: keep the first N training / dev and evaluation examples.
        label_map: as :func:`from_examples`.

    Raises:
        ValueError: unknown task; UnknownLanguageError: a language not in the data;
        DatasetNotFoundError: the data folder lacks the task; DataFormatError: a malformed line.
    """
    spec = registry.get_task(task)
    src = registry.source_files(spec, source or spec.default_source, data_dir)
    code = src["lang"]
    train, train_stats = registry.load_split(spec, src["train"], limit=train_limit)
    dev_path = src.get("dev") or src["train"]
    dev, dev_stats = registry.load_split(spec, dev_path, limit=eval_limit)
    chosen = registry.select_targets(spec, targets, source or spec.default_source, data_dir)
    available = registry.available_languages(spec, data_dir)
    eval_files = dict(chosen)
    if code in available:
        eval_files = {code: available[code], **eval_files}
    evals, paths, stats = {}, {"train": src["train"], "dev": dev_path}, {"train": train_stats, "dev": dev_stats}
    for lang, path in eval_files.items():
        evals[lang], stats[f"eval:{lang}"] = registry.load_split(spec, path, limit=eval_limit)
        paths[f"eval:{lang}"] = path
    fixed = list(spec.labels) if spec.labels is not None else registry.label_list(spec, train, split_path=src["train"])
    metric = "f1" if spec.metric == "f1" else "accuracy"
    return from_examples(train, evals, dev=dev, source=code, name=spec.name, metric=metric, labels=fixed,
                         label_map=label_map, paths=paths, stats=stats,
                         origin={"builtin": spec.name, "data_dir": str(data_dir) if data_dir else None})


def multi_source(datasets: Sequence[TaskDataset], temperature: float = 1.0, seed: int = 0) -> TaskDataset:
    """One data set whose training split is the union of several source languages' (multi-source transfer).

    Languages are mixed by temperature sampling (Arivazhagan et al. 2019; Conneau et al. 2020,
    XLM-R): language ``l`` with ``n_l`` training examples is drawn with probability
    ``p_l ∝ (n_l / N) ** (1 / temperature)``, for as many draws as there are examples in all
    (``N``). ``temperature=1`` keeps the natural proportions (each example once, in a seeded
    shuffle); larger values give small languages more weight (drawn with replacement); each
    language's count is in :attr:`TaskDataset.origin`. The dev split is the union of the sources'
    dev splits (model selection on the source languages only); the evaluation sets are the first
    data set's, without the source languages.

    Args:
        datasets: single-source data sets of one task (same kind, metric and labels).
        temperature: > 0.
        seed: the sampling seed.

    The label inventory is the union of the sources' (the first's order when they agree).

    Raises:
        DatasetError: fewer than two data sets, different task kinds or metrics, a bad temperature.
    """
    if len(datasets) < 2:
        raise DatasetError("multi-source training needs at least two source languages")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise DatasetError(f"--sampling-temperature must be a number > 0, got {temperature!r}")
    first = datasets[0]
    for ds in datasets[1:]:
        if ds.kind is not first.kind or ds.metric != first.metric:
            raise DatasetError(f"{ds.source} and {first.source}: different task kinds or metrics; multi-source "
                               "training needs one task")
    # every source's labels (a user's sources may each lack a rare one); the first's order when equal
    same_labels = all(set(ds.labels) == set(first.labels) for ds in datasets)
    labels = list(first.labels) if same_labels else order_labels({l for ds in datasets for l in ds.labels})
    sizes = {ds.source: len(ds.train.examples) for ds in datasets}
    total = sum(sizes.values())
    weights = {l: (n / total) ** (1.0 / temperature) for l, n in sizes.items()}
    z = sum(weights.values())
    probs = {l: w / z for l, w in weights.items()}
    rng = random.Random(seed)
    if temperature == 1:
        drawn = {l: list(ds.train.examples) for l, ds in zip(sizes, datasets)}
    else:
        counts = dict.fromkeys(sizes, 0)
        for l in rng.choices(list(probs), weights=list(probs.values()), k=total):
            counts[l] += 1
        drawn = {}
        for l, ds in zip(sizes, datasets):
            ex = ds.train.examples
            k = counts[l]
            # every example once as far as the draw allows, then with replacement
            drawn[l] = rng.sample(ex, min(k, len(ex))) + [rng.choice(ex) for _ in range(max(0, k - len(ex)))]
    union = [e for l in sizes for e in drawn[l]]
    rng.shuffle(union)
    name = "+".join(sizes)
    dev = [e for ds in datasets for e in ds.dev.examples]
    sources = set(sizes)
    evals = {l: sp for l, sp in first.eval.items() if l not in sources}
    return TaskDataset(
        name=first.name, kind=first.kind, metric=first.metric, source=name,
        train=Split(lang=name, examples=union, note=f"union of {', '.join(sizes)} (temperature {temperature:g}): "
                    + ", ".join(f"{l} {len(drawn[l])}" for l in sizes)),
        dev=Split(lang=name, examples=dev, note="union of the sources' dev sets"),
        eval=evals, labels=labels, label_map=dict(first.label_map),
        origin={"multi_source": {"sources": list(sizes), "train_sizes": sizes, "temperature": temperature,
                                 "probabilities": probs, "drawn": {l: len(v) for l, v in drawn.items()},
                                 "files": list(dict.fromkeys(str(sp.path) for ds in datasets for sp in (ds.train, ds.dev)
                                                             if sp.path is not None))},
                **{k: v for k, v in first.origin.items() if k != "source"}},
    )


def parse_eval_args(items: Iterable[str | Path]) -> list[tuple[str | None, Path]]:
    """``--eval`` (and ``--train``/``--dev``) values -> ``(language or None, path)``: ``LANG=FILE`` or
    a file/folder alone.

    A value whose part before the first ``=`` contains a path separator or names an existing
    path is taken as a path (so ``a=b.tsv`` files still work when they exist). ``LANG`` is a
    language code, kept as written, or a language name, turned into its code
    (:func:`xlt.data.langs.resolve_language`: ``German=test.tsv`` -> ``('de', test.tsv)``).

    Raises:
        UnknownLanguageError: a ``LANG`` that is neither a known code nor a language name; the
            message names the value and suggests the nearest known codes.
    """
    out = []
    for item in items:
        text = str(item)
        if "=" in text and not Path(text).exists():
            lang, path = text.split("=", 1)
            if lang and "/" not in lang and "\\" not in lang:
                out.append((resolve_language(lang, context=text), Path(path)))
                continue
        out.append((None, Path(text)))
    return out


def from_files(
    train: str | Path,
    eval: Iterable[str | Path] | Mapping[str, str | Path] = (),
    *,
    dev: str | Path | None = None,
    source: str = "en",
    format: str | None = None,
    options: Any = None,
    name: str | None = None,
    metric: str | None = None,
    label_map: Mapping[str, str] | Iterable[str] | None = None,
    labels: Sequence[str] | None = None,
    train_limit: int | None = None,
    eval_limit: int | None = None,
    dev_fraction: float = 0.1,
    seed: int = 0,
) -> TaskDataset:
    """A user's labelled files as a :class:`TaskDataset` (the formats of :mod:`xlt.data.formats`).

    Args:
        train: source training file (or ``save_to_disk`` folder, or ``hf:`` spec).
        eval: ``LANG=FILE`` strings, files/folders whose language is read from the name
            (``test-de.conll``, ``de.csv``; a folder gives every data file in it), or a
            ``{lang: path}`` mapping; ``LANG`` is a code or a language name (``German``), see
            :func:`parse_eval_args`.
        dev: source dev file; ``None`` holds out ``dev_fraction`` of the training data.
        source: source language code.
        format: a format name for every file (default: detected per file).
        options: :class:`xlt.data.formats.ReadOptions` (columns, tag column, split).
        name: name in reports (default: the training file's stem).
        metric, label_map, labels, dev_fraction, seed: as :func:`from_examples` (``labels`` fixes
            the label inventory and its order, e.g. to match a published label order).
        train_limit, eval_limit: keep the first N training / dev and evaluation examples.

    Raises:
        DataFormatError: a malformed line, unknown column, ... (names file and line);
        FileNotFoundError: a missing file; DatasetError: no training examples, kinds that differ
            between files, an evaluation language given twice, a label map naming no label, a folder
            where a file is expected (says so), and the errors of :func:`from_examples`;
        UnknownLanguageError: an evaluation ``LANG`` that is no known code or language name.
    """
    opts = options if options is not None else fmt.ReadOptions()
    train_path = Path(str(train))
    if labels is not None:  # a bad inventory fails before any file is read
        labels = _check_inventory(labels, name or _stem(train_path))
    paths: dict[str, Path | None] = {}
    stats: dict[str, ReadStats | None] = {}

    def read(role: str, path: Path, limit: int | None) -> list:
        examples, stats[role], paths[role] = _read_user_file(path, format, opts, limit)
        return examples

    eval_files = _eval_files(eval, format)
    # read everything before any model is loaded, so a bad line fails at once
    train_ex = read("train", train_path, train_limit)
    dev_ex = read("dev", Path(str(dev)), eval_limit) if dev is not None else None
    evals = {lang: read(f"eval:{lang}", p, eval_limit) for lang, p in eval_files.items()}
    if not train_ex:
        raise DataFormatError(train_path, stats["train"].n_lines if stats.get("train") else 0,
                              "no training examples in the file")
    kind = kind_of(train_ex[0])
    for role, exs in [("dev", dev_ex or []), *((f"eval:{l}", e) for l, e in evals.items())]:
        if exs and kind_of(exs[0]) is not kind:
            raise DatasetError(f"{paths[role]}: {kind_of(exs[0]).name} examples, but the training file "
                               f"{train_path} holds {kind.name} examples; check --format and the columns")
    # the source's code as the evaluation files spell it, when one of them is the source
    src = source
    for lang in evals:
        try:
            if same_language(lang, source):
                src = lang
                break
        except UnknownLanguageError:
            continue
    origin = {"train": str(train_path), "dev": str(dev) if dev is not None else None,
              "eval": {l: str(p) for l, p in eval_files.items()}, "format": format,
              "options": {k: v for k, v in asdict(opts).items() if v is not None}}
    return from_examples(train_ex, evals, dev=dev_ex, source=src, name=name or _stem(train_path), metric=metric,
                         labels=labels,
                         label_map=label_map, dev_fraction=dev_fraction, seed=seed, origin=origin, paths=paths,
                         stats=stats)


def _read_user_file(path: Path, format: str | None, options: Any, limit: int | None) -> tuple[list, ReadStats, Path | None]:
    """Read one of a user's data files in its format: ``(examples, stats, the file behind it)``.

    Raises:
        DataFormatError, FileNotFoundError, FileLanguageError: as :func:`xlt.data.formats.read_examples`;
        DatasetError: any other ``ValueError`` of the reader (an unknown extension, options that do
        not fit the file, a folder where a file is expected), the message starting with the path.
    """
    try:
        examples, st = fmt.read_examples(path, format=format, options=options, limit=limit)
    except (DataFormatError, FileNotFoundError, fmt.FileLanguageError):
        raise
    except ValueError as exc:  # an unknown extension, options that do not fit the file, ...
        message = str(exc)  # most messages name the path already: "PATH is a folder, ..."
        raise DatasetError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    return examples, st, _data_path(path)


def _eval_files(eval: Iterable[str | Path] | Mapping[str, str | Path], format: str | None) -> dict[str, Path]:
    """``--eval`` values (``LANG=FILE``, files named by language, folders) or a ``{lang: path}``
    mapping -> ``{language code: file}``, in the order given (a folder's files in name order).

    Raises:
        DatasetError: a folder with no data file, a language given twice; UnknownLanguageError: a
        ``LANG`` that is no known code or language name; FileLanguageError: a file name without a
        language.
    """
    if isinstance(eval, Mapping):
        items = [(resolve_language(str(l), context=f"{l}={p}"), p) for l, p in eval.items()]
    else:
        items = parse_eval_args(eval)
    out: dict[str, Path] = {}
    for lang, path in items:
        path = Path(path)
        if lang is None and path.is_dir() and not fmt.is_datasets_folder(path):
            found = fmt.eval_files_in_dir(path, format=format)
            if not found:
                skipped = f" (skipped: {', '.join(found.skipped)})" if getattr(found, "skipped", None) else ""
                raise DatasetError(f"--eval {path}: the folder holds no data file{skipped}")
            pairs = list(found.items())
        else:
            pairs = [(lang if lang is not None else fmt.language_from_filename(path), path)]
        for code, p in pairs:
            if code in out:
                raise DatasetError(f"evaluation language {code!r} given twice: {out[code]} and {p}")
            out[code] = Path(p)
    return out


#: What one example of each task kind carries, for messages.
_KIND_WORDS = {"token": "one label per word", "sequence": "one label per text", "pair": "one label per text pair"}


@dataclass
class _UserFiles:
    """The user's files read so far, each with the option it was given as (``--train FILE``)."""

    format: str | None
    options: Any
    read: list[tuple[str, Split]] = field(default_factory=list)

    def add(self, option: str, lang: str, path: Path, limit: int | None) -> Split:
        """Read one file into a :class:`Split` and remember it."""
        examples, st, data_path = _read_user_file(path, self.format, self.options, limit)
        split = Split(lang, examples, data_path, st)
        self.read.append((option, split))
        return split


def _check_extendable(ds: TaskDataset, lmap: Mapping[str, str], train: Any, dev: Any) -> list[str]:
    """The data set's source languages; raises if ``ds`` cannot take the files as given."""
    if lmap and ds.label_map:
        raise DatasetError(f"{ds.name}: the data set already carries a label map ({ds.label_map}); load it without "
                           "one and give the map here, so that it is checked against your files too")
    sources = list(ds.origin.get("multi_source", {}).get("sources") or [ds.source])
    if (train or dev is not None) and len(sources) > 1:
        raise DatasetError(f"--train and --dev add to one source language's data; this {ds.name} run trains on "
                           f"several ({', '.join(sources)}): give one --source")
    return sources


def _source_file(ds: TaskDataset, option: str, value: str | Path,
                 same: Callable[[str, str], bool]) -> Path:
    """The path of a ``--train``/``--dev`` value; its ``LANG=``, if any, must be the source."""
    ((lang, path),) = parse_eval_args([value])
    if lang is not None and not same(lang, ds.source):
        raise DatasetError(f"{option} {value}: --task {ds.name} trains on {ds.source} (--source), so your "
                           f"{option[2:]} files must be {ds.source} too, not {lang} (for other source "
                           f"languages, give every source's files: --train LANG=FILE without --task)")
    return path


def _check_user_kinds(ds: TaskDataset, user: list[tuple[str, Split]]) -> None:
    """Every file holds examples of the task's kind, and no training/dev file is empty."""
    for option, split in user:
        if split.examples and kind_of(split.examples[0]) is not ds.kind:
            got = kind_of(split.examples[0]).name
            raise DatasetError(f"{option}: {got} examples ({_KIND_WORDS.get(got, got)}), but --task {ds.name} is a "
                               f"{ds.kind.name} task ({_KIND_WORDS.get(ds.kind.name, ds.kind.name)}); check the "
                               f"file, --format and the columns")
    for option, split in user:
        if not split.examples and option.split()[0] in ("--train", "--dev"):
            skipped = f" ({split.n_skipped_empty} empty sentences skipped)" if split.n_skipped_empty else ""
            raise DatasetError(f"{option}: no examples in the file{skipped}; it would add nothing")


def _relabel(ds: TaskDataset, lmap: Mapping[str, str], user: list[tuple[str, Split]]) -> list[Split]:
    """Copies of the task's train, dev and eval splits with ``lmap`` applied (to the files too)."""
    base = [dataclasses.replace(s, unseen=Counter()) for s in (ds.train, ds.dev, *ds.eval.values())]  # ds unchanged
    if lmap:
        _check_map_used(lmap, base + [s for _, s in user], ds.kind)
        mapper = label_mapper(lmap)
        base = [dataclasses.replace(s, examples=[ds.kind.relabel(e, mapper) for e in s.examples]) for s in base]
        for _, s in user:
            _apply_label_map(ds.kind, s, mapper)
        extra = {l for e in base[0].examples for l in ds.kind.labels_of(e)}.difference(ds.labels)
        if extra:
            raise DatasetError(f"{ds.name}: --label-map turns training labels into ones outside the task's "
                               f"inventory: {sorted(extra)} (expected {list(ds.labels)})")
    return base


def _check_user_labels(ds: TaskDataset, lmap: Mapping[str, str], user: list[tuple[str, Split]]) -> None:
    """Every label of the files (after the label map) is in the task's inventory."""
    known = set(ds.labels)
    after = " after --label-map" if lmap else ""
    for option, split in user:
        unknown = Counter(l for e in split.examples for l in ds.kind.labels_of(e) if l not in known)
        if unknown:
            listed = ", ".join(f"{l} ×{n}" for l, n in sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0])))
            first = sorted(unknown, key=lambda l: (-unknown[l], l))[0]
            raise DatasetError(f"{option}: label(s) not in the inventory of --task {ds.name}{after}: {listed} "
                               f"({ds.name} labels: {', '.join(ds.labels)}); rename them with --label-map "
                               f"{first}=LABEL, or check --format and --tag-column/--label-column")


@dataclass
class _EvalSets:
    """The evaluation sets after adding the user's: all of them, the added ones, the replaced ones."""

    merged: dict[str, Split]
    added: dict[str, Split]
    replaced: dict[str, str | None]


def _merge_eval(ds: TaskDataset, sources: list[str], builtin_eval: dict[str, Split],
                evals: dict[str, Split], same: Callable[[str, str], bool]) -> _EvalSets:
    """Add the user's eval sets: a source-language file replaces the in-language set, a target's fails."""
    replaced: dict[str, str | None] = {}
    added: dict[str, Split] = {}
    for lang, split in evals.items():
        src = next((s for s in sources if same(lang, s)), None)
        if src is not None and len(sources) > 1:
            raise DatasetError(f"--eval {lang}={split.path}: {lang} is a training source of this multi-source run, "
                               f"which scores no source language")
        key = src if src is not None else lang
        other = next((k for k in builtin_eval if k != ds.source and same(k, lang)), None)
        if other is not None:
            raise DatasetError(f"--eval {lang}={split.path}: {other} is also a target of --task {ds.name} "
                               f"({builtin_eval[other].path}), chosen by --targets; one score per language: leave "
                               f"{other} out of --targets (without --targets, --task with --eval scores only the "
                               f"source and your files)")
        if key in added:
            raise DatasetError(f"evaluation language {key} given twice: {added[key].path} and {split.path}")
        note = f"your file {split.path}"
        if key != lang:
            note += f" (given as {lang})"
        if key in builtin_eval:
            old = builtin_eval.pop(key)
            replaced[key] = str(old.path) if old.path is not None else None
            note += f", in place of the task's {Path(old.path).name if old.path else 'set'}"
        added[key] = dataclasses.replace(split, lang=key, note=note)
    merged_eval = dict(builtin_eval)
    for key, split in added.items():  # the source's set first, as in load_task
        merged_eval = {key: split, **merged_eval} if key == ds.source else {**merged_eval, key: split}
    return _EvalSets(merged=merged_eval, added=added, replaced=replaced)


def _extended_train(train_split: Split, trains: list[Split]) -> Split:
    """The task's training split with the user's training files appended (unchanged if none)."""
    if not trains:
        return train_split
    examples = list(train_split.examples) + [e for s in trains for e in s.examples]
    what = Path(train_split.path).name if train_split.path is not None else "the task's training data"
    note = (f"{what} ({len(train_split)}) + " + " + ".join(f"your file {s.path} ({len(s)})" for s in trains))
    return dataclasses.replace(train_split, examples=examples, note=note)


def _user_files_record(ds: TaskDataset, trains: list[Split], dv: Split | None, evals: _EvalSets,
                       format: str | None, opts: Any, user: list[tuple[str, Split]]) -> dict:
    """``origin["user_files"]``: every file the user added and what it replaced."""
    files = [str(s.path) for _, s in user if s.path is not None]
    return {"train": [{"file": str(s.path) if s.path else None, "sentences": len(s)} for s in trains],
            "dev": {"file": str(dv.path) if dv.path else None, "sentences": len(dv),
                    "replaces": str(ds.dev.path) if ds.dev.path else None} if dv is not None else None,
            "eval": {k: str(s.path) if s.path else None for k, s in evals.added.items()},
            "replaced": evals.replaced, "format": format,
            "options": {k: v for k, v in asdict(opts).items() if v is not None},
            "files": list(dict.fromkeys(files))}


def extend_with_files(
    ds: TaskDataset,
    *,
    train: Iterable[str | Path] = (),
    dev: str | Path | None = None,
    eval: Iterable[str | Path] | Mapping[str, str | Path] = (),
    format: str | None = None,
    options: Any = None,
    label_map: Mapping[str, str] | Iterable[str] | None = None,
    train_limit: int | None = None,
    eval_limit: int | None = None,
) -> TaskDataset:
    """A built-in task's data set (:func:`load_task`) with a user's files added: more training
    data, another dev set, more evaluation sets (``xlt transfer --task udpos --eval de=FILE``).

    Every file is read in its own format (as :func:`from_files` reads it) and checked against the
    task before anything else happens: its examples must be of the task's kind (a CoNLL file is no
    SIB-200 set) and every label, after ``label_map``, must be in the task's label inventory
    (:attr:`TaskDataset.labels`) - the model's head has one output per label of that inventory.

    How the files combine with the task's own data:

    * ``train``: appended to the source's training split (``train_limit`` applies to each file
      on its own); the split's note and ``origin["user_files"]`` give the count of each file.
    * ``dev``: replaces the source's dev split (model selection on the user's set).
    * ``eval``: added as evaluation sets under their languages. A file of the source language
      takes the place of the task's in-language set (scored for reference, left out of the target
      average), under the source's key; a file of a language the data set already evaluates as a
      target is an error, since one language has one score. Each added split's ``note`` (in the
      report's counts) names its file.

    Args:
        ds: a single-source built-in data set loaded *without* a label map when ``label_map`` is
            given: the map is applied here to its splits and the files alike, and checked against
            the labels of both (a key may name a label only the user's files have).
        train: ``FILE`` or ``LANG=FILE`` values; ``LANG`` must be the source language.
        dev: ``FILE`` or ``LANG=FILE`` (the source language); ``None`` keeps the task's dev set.
        eval: as :func:`from_files` (``LANG=FILE``, files named by language, folders, a mapping).
        format, options: how to read the files (:func:`xlt.data.formats.read_examples`).
        label_map: as :func:`from_examples`.
        train_limit, eval_limit: keep the first N examples of each training / dev and evaluation file.

    Returns:
        A new :class:`TaskDataset` (``ds`` is not changed) whose ``origin["user_files"]`` records
        every file: ``train`` (file, sentences), ``dev``, ``eval`` (language -> file), ``replaced``
        (language -> the task's file a user's source-language file took the place of), ``files``.

    Raises:
        DatasetError: a file of another kind than the task's, labels outside the task's inventory
            (names the file, the labels and their counts, and suggests ``--label-map``), an empty
            training or dev file, a training or dev file of another language than the source, a
            multi-source data set given training or dev files, an evaluation language the data
            set already has as a target (or given twice), a label map naming no label, ``ds``
            carrying a label map as well as ``label_map``;
        UnknownLanguageError: a ``LANG`` that is no known code or language name;
        DataFormatError, FileNotFoundError, FileLanguageError: as :func:`from_files`.
    """
    opts = options if options is not None else fmt.ReadOptions()
    lmap = parse_label_map(label_map)
    sources = _check_extendable(ds, lmap, train, dev)
    # read every file first: a bad line fails before anything else is looked at
    reader = _UserFiles(format, opts)
    trains = [reader.add(f"--train {v}", ds.source, _source_file(ds, "--train", v, denote_same), train_limit)
              for v in train]
    dv = (reader.add(f"--dev {dev}", ds.source, _source_file(ds, "--dev", dev, denote_same), eval_limit)
          if dev is not None else None)
    evals = {lang: reader.add(f"--eval {lang}={p}", lang, p, eval_limit) for lang, p in _eval_files(eval, format).items()}
    user = reader.read
    _check_user_kinds(ds, user)
    # the label map: checked against the task's labels and the files' together, applied to both
    train_split, dev_split, *eval_splits = _relabel(ds, lmap, user)
    _check_user_labels(ds, lmap, user)
    eval_sets = _merge_eval(ds, sources, dict(zip(ds.eval, eval_splits)), evals, denote_same)
    train_split = _extended_train(train_split, trains)
    if dv is not None:
        old = Path(dev_split.path).name if dev_split.path is not None else "dev set"
        dev_split = dataclasses.replace(dv, note=f"your file {dv.path}, in place of the task's {old}")
    user_files = _user_files_record(ds, trains, dv, eval_sets, format, opts, user)
    return TaskDataset(name=ds.name, kind=ds.kind, metric=ds.metric, source=ds.source, train=train_split,
                       dev=dev_split, eval=eval_sets.merged, labels=list(ds.labels), label_map=lmap or dict(ds.label_map),
                       origin={**ds.origin, "user_files": user_files})


def _data_path(path: Path) -> Path | None:
    """The file or folder behind a data argument: ``FOLDER@split`` -> ``FOLDER``; ``hf:`` specs -> None."""
    text = str(path)
    if text.startswith("hf:"):
        return None
    if not path.exists() and "@" in path.name:
        return path.with_name(path.name.rsplit("@", 1)[0])
    return path


def _stem(path: Path) -> str:
    """A data set's name from its training file: the file name without data extensions; for a file
    named only by its split in a language folder (MasakhaNER's ``hau/train.txt``), the folder above."""
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".csv", ".tsv", ".conllu", ".conll", ".txt"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.lower() in ("train", "training") and path.parent.parent.name:
        try:
            language_from_filename(path)  # the language comes from the folder: name the set by its parent
            return path.parent.parent.name
        except FileLanguageError:
            pass
    return name or "custom"


__all__ = ["DatasetError", "METRICS", "Split", "TaskDataset", "default_metric", "extend_with_files", "from_examples",
           "from_files",
           "multi_source",
           "hold_out_dev", "integer_tag_hint", "integer_tags", "is_bio", "label_mapper", "load_task", "order_labels",
           "parse_eval_args",
           "parse_label_map"]
