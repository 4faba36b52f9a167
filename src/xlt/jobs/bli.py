"""``xlt bli eval|fit|induce``: bilingual lexicon induction with static word vectors.

Steps shared by the three commands (:func:`build_spaces`): the seed dictionary (XLING's
``yacle.*`` files of the data folder by default, Glavaš et al. 2019, or the user's
``word<TAB>word``/MUSE files); a vocabulary per language (:func:`vocabulary`: the most frequent
words of the language's text, plus every dictionary word: the *search space*, reported); word
vectors for it (the user's ``.vec``/``.bin``/``.npz`` files, or type-level vectors from the
encoder: :func:`xlt.lexicon.vectors.encoder_layer_vectors`, every layer encoded once and cached
with ``--cache-dir``, then the chosen layers averaged, optionally with in-context vectors,
Vulić et al. 2020's AOC); VecMap's normalisation; a map (orthogonal: Procrustes on the seed
pairs, MUSE refinement, VecMap's unsupervised initialisation or identical strings followed by
self-learning, or ``none`` for spaces that are shared already, as a multilingual encoder's), or a
general linear map tuned contrastively from Procrustes (``contrastive``, after ContrastiveBLI's
stage C1, Li et al. 2022); ``--self-learning N`` adds the N most confident mutual nearest
neighbours to the seed pairs and fits the map again (C1's augmentation round).

* ``eval`` (:func:`run`): P@1/5/10 and MAP by cosine and CSLS on a test dictionary;
* ``fit`` (:func:`run_fit`): saves the mapped spaces (``SRC.npz``/``.vec``, ``TGT.npz``/``.vec``)
  and the map (``map.npy``) in a folder that ``eval --fitted`` and ``induce --fitted`` reuse;
* ``induce`` (:func:`run_induce`): a dictionary file ``word<TAB>word<TAB>score``
  (:func:`xlt.lexicon.induction.induce_dictionary`), with a score threshold and mutual nearest
  neighbours, for a pair with or without a dictionary.

``eval`` and ``induce`` take ``--rerank N``: each word's N best candidates are re-ranked by a scorer
trained on the seed dictionary with held-out folds (:mod:`xlt.lexicon.rerank`, after BLICEr, Li et
al. 2022), which also sees the encoder's single layers and in-context vectors (``--rerank-layers``).
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from xlt.core.io import write_json
from xlt.core.outputs import Output, OutputPlan, staged_folder, write_together
from xlt.data.dictionaries import read_dictionary
from xlt.data.paths import data_set_folders, dataset_dir
from xlt.data.segment import SegmenterWarning, split_words
from xlt.data.text import texts_for
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import write_report
from xlt.jobs import ConfigError
from xlt.jobs.settings import AT_LEAST_0, AT_LEAST_1, POSITIVE, RunSettings, option
from xlt.lexicon.induction import BliScores, evaluate_bli, induce_dictionary, self_learning_pairs
from xlt.lexicon.contrastive import contrastive_map
from xlt.lexicon.mapping import (MappingError, identical_seed, map_source, normalize_embeddings, procrustes, refine,
                                 self_learning, unsupervised_seed)
from xlt.lexicon.rerank import Reranker, candidate_features, evaluate_reranked, fit_reranker
from xlt.lexicon.vectors import WordVectors, combine_layers, encoder_layer_vectors, read_word_vectors
from xlt.models.loading import load_encoder

__all__ = ["BliFitResult", "BliFitSettings", "BliInduceResult", "BliInduceSettings", "BliRerankSettings", "BliResult",
           "BliSettings", "BliSpaceSettings", "Spaces", "build_spaces", "fit_spaces_reranker", "layer_positions",
           "map_fitter", "read_fitted", "read_pairs", "run", "run_fit",
           "run_induce", "view_layers", "vocabulary", "word_space"]

MAPPINGS = ("procrustes", "refine", "contrastive", "unsupervised", "identical", "none")
SUPERVISED = ("procrustes", "refine", "contrastive")
#: The maps fitted on the seed pairs alone (:func:`map_fitter`), which ``--self-learning`` refits.
SEED_FITTED = ("procrustes", "contrastive")


def view_layers(n_layers: int) -> list[int]:
    """The re-ranker's default views: four layers spread over the upper two thirds of a model of
    ``n_layers`` transformer layers, ``round(n_layers * k / 6)`` for k = 2..5 (4, 6, 8, 10 of 12;
    3, 4, 5, 7 of 8), without repeats."""
    return list(dict.fromkeys(max(1, round(n_layers * k / 6)) for k in range(2, 6)))


def layer_positions(layers: Sequence[str], n_layers: int, option_name: str = "--layers") -> list[int]:
    """Positions in an all-layers stack (``0`` = embeddings .. ``n_layers - 1`` = last) of
    ``--layers`` values: ``last``, a number (negative from the end) or a range ``A-B`` (both ends
    included; ``A-last``: up to the last layer, whatever the model's depth). ``option_name``
    names the option in messages.

    Raises:
        ConfigError: a value of none of these forms, or outside the stack.
    """
    out: list[int] = []
    for value in layers:
        value = str(value).strip()
        if value == "last":
            out.append(n_layers - 1)
            continue
        a, sep, b = value.lstrip("-").partition("-")
        try:
            if sep:
                lo, hi = int(value[:len(value) - len(b) - 1]), (n_layers - 1 if b == "last" else int(b))
                items = list(range(lo, hi + 1))
                if not items:
                    raise ValueError
            else:
                items = [int(value)]
        except ValueError:
            raise ConfigError(f"{option_name} {value}: expected last, a layer number or a range such as 4-8") from None
        for i in items:
            if not -n_layers <= i < n_layers:
                raise ConfigError(f"{option_name} {value}: the model has layers 0..{n_layers - 1} (0 = embeddings)")
            out.append(i % n_layers)
    return out


@dataclass(kw_only=True)
class BliSpaceSettings(RunSettings):
    """What ``xlt bli eval``, ``fit`` and ``induce`` share: the two word spaces and the map between them.

    Attributes:
        src, tgt: the two languages (ISO 639 codes as the dictionaries' folder names: ``en``, ``de``).
        train: the seed dictionary (default: XLING's training set of the pair, ``seed_size`` pairs).
        seed_size: XLING training set to use by default: 500, 1000, 3000 or 5000 pairs.
        vectors: ``LANG=FILE`` word-vector files; languages without one take the encoder's.
        vocab_size: the most frequent words of each language's text kept in the search space
            (every dictionary word is added).
        text: ``LANG=FILE`` text (one sentence per line) that the vocabulary is counted from, and
            the contexts are taken from; default: the data folder's text of the language.
        mapping: ``procrustes`` (seed pairs), ``refine`` (Procrustes then MUSE refinement),
            ``contrastive`` (Procrustes, then tuned on the seed pairs with a contrastive objective:
            :func:`xlt.lexicon.contrastive.contrastive_map`, after ContrastiveBLI's C1),
            ``unsupervised`` (VecMap: no seed pairs), ``identical`` (seed: identically spelt words,
            then self-learning), ``none`` (the spaces are shared already: a multilingual encoder's).
        refine_iterations: MUSE refinement rounds. k: CSLS neighbourhood.
        contrastive_epochs: passes over the seed pairs of ``contrastive``.
        temperature: the softmax temperature of ``contrastive``.
        self_learning: with ``procrustes`` or ``contrastive``: after the first fit, add up to this
            many confident induced pairs (mutual CSLS nearest neighbours among the ``vocab_size``
            most frequent words of each side, source words not in the seed dictionary;
            :func:`xlt.lexicon.induction.self_learning_pairs`) and fit again (0: off).
        layers: encoder layers (``last``, numbers, ranges ``A-B``), combined by ``combine``.
        combine: ``mean`` (averaged) or ``concat`` (each unit length, concatenated).
        contexts: AOC vectors: each word's in-context vectors averaged over up to this many
            occurrences in the language's text (0: each word encoded alone).
        mix: with ``contexts``: ``contexts`` (the in-context vector alone) or ``average`` (the
            mean of the unit isolated and unit in-context vectors).
        prefix: put the encoder's text prefix (``query:``) before each word.
        cache_dir: a folder caching each language's encoded vocabulary (every layer), so a second
            run with other layers or another pair encodes nothing.

    Raises:
        ConfigError: the same language twice, a bad ``seed_size`` or ``layers``, any field's own check.
    """

    src: str = option(help="source language (as in the dictionaries: en, de, ...)")
    tgt: str = option(help="target language")
    train: Path | None = option(None, help="seed dictionary (word<TAB>word or 'word word'; default XLING's of the pair)")
    seed_size: int = option(5000, help="XLING seed dictionary size when --train is not given: 500, 1000, 3000 or 5000")
    vectors: dict[str, Path] = option(default_factory=dict, metavar="LANG=FILE",
                                      help="word vectors of a language (.vec, .txt, .bin, .npz); default: the encoder's")
    vocab_size: int = option(20000, help="most frequent words of each language in the search space", check=AT_LEAST_1)
    text: dict[str, Path] = option(default_factory=dict, metavar="LANG=FILE",
                                   help="text to count each language's vocabulary (and take contexts) from "
                                        "(default: the data folder's)")
    mapping: Literal[MAPPINGS] = option("procrustes", help="how the map is found")
    refine_iterations: int = option(5, help="MUSE refinement rounds (--mapping refine)", check=AT_LEAST_1)
    contrastive_epochs: int = option(5, help="passes over the seed pairs (--mapping contrastive)", check=AT_LEAST_1)
    temperature: float = option(0.02, help="softmax temperature of the contrastive objective (--mapping contrastive)",
                                check=POSITIVE)
    self_learning: int = option(0, help="add up to N confident induced pairs (mutual CSLS neighbours among the "
                                        "--vocab-size most frequent words) to the seed pairs and fit the map again "
                                        "(--mapping procrustes or contrastive; 0: off)", check=AT_LEAST_0)
    k: int = option(10, help="CSLS neighbourhood", check=AT_LEAST_1)
    layers: list[str] = option(default_factory=lambda: ["last"], metavar="LAYERS",
                               help="encoder layers: last, numbers or ranges (4-8, 2-last), combined by --combine")
    combine: Literal["mean", "concat"] = option("mean", help="several layers: averaged, or each unit length and "
                                                             "concatenated")
    contexts: int = option(0, help="AOC: average each word over up to N of its occurrences in the language's text "
                                   "(0: each word alone)", check=AT_LEAST_0)
    mix: Literal["contexts", "average"] = option("average", help="with --contexts: the in-context vector alone, or its "
                                                                 "average with the isolated one")
    prefix: bool = option(False, help="put the encoder's text prefix (query:) before each word")
    cache_dir: Path | None = option(None, help="folder caching each language's encoded vocabulary (all layers)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.src == self.tgt:
            raise ConfigError(f"--src and --tgt are both {self.src}")
        layer_positions(self.layers, 1000)  # the form; the range is checked against the model
        if self.seed_size not in (500, 1000, 3000, 5000):
            raise ConfigError(f"--seed-size {self.seed_size}: expected one of 500, 1000, 3000, 5000 (XLING's sets)")
        if self.self_learning and self.mapping not in SEED_FITTED:
            raise ConfigError(f"--self-learning refits a map fitted on the seed pairs: use it with --mapping "
                              f"procrustes or contrastive, not {self.mapping}")


@dataclass(kw_only=True)
class BliRerankSettings(BliSpaceSettings):
    """The second stage that ``eval`` and ``induce`` share: re-ranking each word's candidates with a
    scorer trained on the seed dictionary (:mod:`xlt.lexicon.rerank`, after BLICEr, Li et al. 2022).

    Attributes:
        rerank: candidates per word re-ranked (0: off).
        rerank_layers: encoder layers whose isolated vectors give the scorer one cosine each (its
            "views"; with ``contexts``, the in-context vector is one more); ignored for vector files.
            None: :func:`view_layers` of the model's depth (4, 6, 8, 10 of a 12-layer model).
        fitted: a folder written by ``xlt bli fit`` (its mapped spaces are used as they are; not with
            ``rerank``, which refits the map on parts of the seed dictionary).

    Raises:
        ConfigError: ``rerank`` with ``fitted``; bad ``rerank_layers``.
    """

    rerank: int = option(0, help="re-rank each word's N best candidates with a scorer trained on the seed dictionary "
                                 "(BLICEr-style; 0: off)", check=AT_LEAST_0)
    rerank_layers: list[str] | None = option(None, metavar="LAYERS",
                                             help="encoder layers whose cosines the re-ranker also sees (default: "
                                                  "four spread over the upper two thirds: 4,6,8,10 of 12)")
    fitted: Path | None = option(None, help="a folder written by 'xlt bli fit': use its mapped spaces")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rerank_layers is not None:
            layer_positions(self.rerank_layers, 1000, "--rerank-layers")
        if self.rerank and self.fitted:
            raise ConfigError("--rerank refits the map on parts of the seed dictionary: it needs the vectors, "
                              "not --fitted")


@dataclass(kw_only=True)
class BliSettings(BliRerankSettings):
    """Settings of ``xlt bli eval`` (with :class:`BliSpaceSettings` and :class:`BliRerankSettings`).

    Attributes:
        test: the test dictionary (default: XLING's 2k test set of the pair).
    """

    test: Path | None = option(None, help="test dictionary (default XLING's 2k test set of the pair)")


@dataclass(kw_only=True)
class BliFitSettings(BliSpaceSettings):
    """Settings of ``xlt bli fit`` (with :class:`BliSpaceSettings`).

    Attributes:
        format: the mapped spaces' files: ``npz`` (compact, exact) or ``vec`` (word2vec text,
            readable by gensim, fastText, MUSE, VecMap).
        test: a test dictionary whose words join the vocabularies (as ``eval`` does), so that
            ``eval --fitted`` scores every pair of it; default XLING's 2k test set of the pair when
            the data folder has one.
    """

    format: Literal["npz", "vec"] = option("npz", help="file format of the mapped spaces")
    test: Path | None = option(None, help="test dictionary whose words join the vocabularies, so that 'eval --fitted' "
                                          "scores all of it (default XLING's 2k test set of the pair, if any)")


@dataclass(kw_only=True)
class BliInduceSettings(BliRerankSettings):
    """Settings of ``xlt bli induce`` (with :class:`BliSpaceSettings` and :class:`BliRerankSettings`).

    Attributes:
        out: the dictionary file to write, ``source<TAB>target<TAB>score`` per line.
        words: a file of source words to translate (one per line); default: the source vocabulary's
            first ``limit`` words (the most frequent).
        limit: source words translated when ``words`` is not given.
        retrieval: ``csls`` or ``cosine``. top: candidates per word.
        min_score: keep candidates scored at least this (cosine: -1..1; CSLS: -2..2; with
            ``rerank``, the re-ranker's probability of a correct translation, 0..1).
        mutual: keep a pair only when each word is the other's best (mutual nearest neighbours).
        skip_identical: never propose the source word itself
            (:func:`~xlt.lexicon.induction.induce_dictionary`).
    """

    out: Path | None = option(None, help="dictionary file to write: source<TAB>target<TAB>score")
    words: Path | None = option(None, help="source words to translate, one per line (default: the --limit most "
                                           "frequent of the source vocabulary)")
    limit: int = option(5000, help="source words translated when --words is not given", check=AT_LEAST_1)
    retrieval: Literal["csls", "cosine"] = option("csls", help="how candidates are scored")
    top: int = option(1, help="candidates per source word", check=AT_LEAST_1)
    min_score: float | None = option(None, help="keep candidates scored at least this (cosine -1..1, CSLS -2..2, "
                                                "--rerank: probability 0..1)")
    mutual: bool = option(False, help="keep only mutual nearest neighbours")
    skip_identical: bool = option(False, help="never propose a target word spelt as the source word")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rerank and self.mutual:
            raise ConfigError("--mutual and --rerank: mutual nearest neighbours are a first-stage filter; use "
                              "--min-score on the re-ranker's probability instead")
        if self.min_score is not None:
            low, high = (0.0, 1.0) if self.rerank else (-1.0, 1.0) if self.retrieval == "cosine" else (-2.0, 2.0)
            if not low <= self.min_score <= high:
                what = "the re-ranker's probabilities" if self.rerank else f"{self.retrieval} scores"
                raise ConfigError(f"--min-score {self.min_score}: {what} lie between {low:g} and {high:g}")


@dataclass
class Spaces:
    """Two word spaces lined up by a map (what :func:`build_spaces` returns).

    Attributes:
        src, tgt: the words and their normalised vectors (``src.vectors @ W`` lies in ``tgt``'s space).
        W: the map, ``(dim, dim)``. seed_pairs: seed pairs in both vocabularies. history: the map's
        fitting rounds. sources: where the dictionaries came from. encoder: the encoder's
        description (None: vector files only). seconds: time per step.
        seed: the seed pairs' rows ``(seed_pairs, 2)``. views: the re-ranker's further shared
        spaces, ``(source, target)`` unit-row matrices (:data:`xlt.lexicon.rerank.View`).
    """

    src: WordVectors
    tgt: WordVectors
    W: np.ndarray
    seed_pairs: int = 0
    seed: np.ndarray | None = None
    views: list = field(default_factory=list)
    history: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)
    encoder: dict | None = None
    seconds: dict = field(default_factory=dict)

    def mapped_source(self) -> np.ndarray:
        """``src.vectors @ W`` with unit rows, ``(n_src, dim)`` (:func:`~xlt.lexicon.mapping.map_source`)."""
        return map_source(self.src.vectors, self.W)


def _xling(src: str, tgt: str, kind: str, data_dir) -> tuple[Path, bool]:
    """XLING's file of the pair and whether its columns are (tgt, src)."""
    root = dataset_dir("bli", data_dir)
    for a, b, swapped in ((src, tgt, False), (tgt, src, True)):
        path = root / f"{a}-{b}" / f"yacle.{kind}.{a}-{b}.tsv"
        if path.is_file():
            return path, swapped
    raise ConfigError(f"no XLING {kind} dictionary for {src}-{tgt} in {root}; give --train/--test files")


def read_pairs(cfg: BliSpaceSettings, given: Path | None, kind: str, required: bool):
    """A dictionary's ``(src word, tgt word)`` pairs and where it came from.

    Args:
        cfg: the settings (languages, data folder). given: the user's file (None: XLING's).
        kind: XLING's file kind, ``test.freq.2k`` or ``train.freq.5k`` (``1k``, ``3k``, ``500``).
        required: raise when XLING has no such file for the pair (else ``(None, {})``).

    Raises:
        ConfigError: no XLING file for the pair and ``required``. DataFormatError: a bad file.
    """
    try:
        path, swapped = (given, False) if given else _xling(cfg.src, cfg.tgt, kind, cfg.data_dir)
    except ConfigError:
        if required:
            raise
        return None, {}
    d = read_dictionary(path)
    return ([(b, a) for a, b in d.entries] if swapped else list(d.entries)), {"path": str(path), **d.stats}


def vocabulary(lang: str, size: int, must: Sequence[str] = (), text: Path | None = None, data_dir=None,
               state: dict | None = None) -> list[str]:
    """A language's BLI vocabulary (the search space): its ``size`` most frequent case-folded
    alphabetic words, counted in ``text`` (one sentence per line) or the data folder's text of the
    language (:func:`xlt.data.text.texts_for`), most frequent first, then every word of ``must``
    (the dictionaries' words) not among them, in order. ``state``: a run's dict that keeps the
    split text for the AOC contexts (:func:`word_space`), so the text is read once.

    Raises:
        UnknownLanguageError: no text of the language and no ``text`` file. FileNotFoundError /
        DataFormatError: a bad ``text`` file.
    """
    sentences = _sentences(lang, text, data_dir, state)
    counts = Counter(w.casefold() for s in sentences for w in s if w.isalpha())
    vocab = [w for w, _ in counts.most_common(size)]
    seen = set(vocab)
    return vocab + [w for w in dict.fromkeys(must) if w not in seen]


def _sentences(lang: str, text: Path | None, data_dir, state: dict | None = None) -> list[list[str]]:
    """The language's text split into words (kept in ``state["sentences"]`` when a state is given)."""
    kept = state.setdefault("sentences", {}) if state is not None else {}
    if lang not in kept:
        lines = texts_for([lang], {lang: text} if text else None, data_dir)[lang].sentences
        with warnings.catch_warnings():  # a stray Japanese or Khmer word in English text: its split does not matter
            warnings.simplefilter("ignore", SegmenterWarning)
            kept[lang] = [split_words(s, lang) for s in lines]
    return kept[lang]


def _stack(lang: str, words: list[str], cfg: BliSpaceSettings, state: dict, contexts: int) -> tuple[np.ndarray, np.ndarray | None]:
    """All-layer vectors of ``words`` (isolated, or AOC over ``contexts`` occurrences), from the
    cache folder when it holds them; ``(stack, counts)``. Values are rounded to float16 (as cached)
    either way."""
    mode = f"ctx{contexts}" if contexts else "iso"
    opts = cfg.encoder_options()  # int8/onnx vectors are cached apart; plain torch keeps its old keys
    model_id = cfg.model + ("" if opts == {"backend": "torch", "int8": False} else f"|{opts['backend']}|int8={opts['int8']}")
    key = hashlib.sha1("\n".join([model_id, lang, mode, str(cfg.prefix), str(cfg.text.get(lang, "")), *words])
                       .encode("utf-8")).hexdigest()[:16]
    path = Path(cfg.cache_dir) / f"{lang}-{mode}-{key}.npz" if cfg.cache_dir else None
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return z["stack"].astype(np.float32), (z["counts"] if "counts" in z else None)
    if "encoder" not in state:
        state["encoder"] = load_encoder(cfg.model, **cfg.encoder_options())
    sents = None
    if contexts:
        sents = [s[:200] for s in _sentences(lang, cfg.text.get(lang), cfg.data_dir, state) if s]
    stack, stats = encoder_layer_vectors(state["encoder"], words, contexts=sents, max_occurrences=max(contexts, 1),
                                         fold_case=True, layers="all", prefix=cfg.prefix, progress=cfg.progress)
    counts = stats.get("counts")
    stack = stack.astype(np.float16)  # as cached, so that a run gives the same figures with or without the cache
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"stack": stack, **({"counts": counts} if counts is not None else {})}
        write_together({path: lambda tmp: np.savez(tmp, **arrays)})
    return stack.astype(np.float32), counts


def word_space(lang: str, words: list[str] | None, cfg: BliSpaceSettings, state: dict) -> WordVectors:
    """A language's word vectors, unnormalised: its ``--vectors`` file, or the encoder's for
    ``words`` (:class:`BliSpaceSettings`: ``layers`` combined by ``combine``; with ``contexts``,
    the AOC vector alone or averaged with the isolated one, each unit length, for words that occur
    in the text; the others keep their isolated vector).

    Args:
        lang: the language. words: its vocabulary (None with a vector file).
        cfg: the settings. state: a dict that keeps the loaded encoder between calls.

    Returns:
        :class:`~xlt.lexicon.vectors.WordVectors` ``(n_words, dim)`` (``concat``: times the layers).

    Raises:
        ConfigError: layers outside the model. WordVectorError, FileNotFoundError: a bad file.
    """
    if lang in cfg.vectors:
        return read_word_vectors(cfg.vectors[lang])
    iso, _ = _stack(lang, words, cfg, state, 0)
    sel = layer_positions(cfg.layers, len(iso))
    vectors = combine_layers(iso, sel, cfg.combine)
    stats = {"words": len(words), "layers": sel, "combine": cfg.combine, "mode": "isolated"}
    views = state.setdefault("views", {}).setdefault(lang, [])
    if getattr(cfg, "rerank", 0):  # the re-ranker's views: single layers, and the in-context vector below
        chosen = (view_layers(len(iso) - 1) if cfg.rerank_layers is None
                  else layer_positions(cfg.rerank_layers, len(iso), "--rerank-layers"))
        views += [normalize_embeddings(iso[i]) for i in chosen]
    if cfg.contexts:
        ctx, counts = _stack(lang, words, cfg, state, cfg.contexts)
        has = counts > 0
        cv = combine_layers(ctx, sel, cfg.combine)
        if getattr(cfg, "rerank", 0):
            views.append(normalize_embeddings(np.where(has[:, None], cv, vectors)))
        if has.any():
            unit = ("unit",)
            vectors[has] = cv[has] if cfg.mix == "contexts" else (normalize_embeddings(vectors[has], unit)
                                                                  + normalize_embeddings(cv[has], unit)) / 2
        stats.update(mode=f"contexts ({cfg.mix})", with_context=int(has.sum()), occurrences=int(counts.sum()))
    source = f"{cfg.model} ({stats['mode']}, layers {','.join(cfg.layers)} {cfg.combine})"
    return WordVectors(list(words), vectors, source=source, stats=stats)


def read_fitted(folder: str | Path) -> Spaces:
    """The spaces a ``xlt bli fit`` run saved (``fit.json``, the two vector files, ``map.npy``).

    The source file holds the *mapped* source vectors, so :attr:`Spaces.W` is the identity here
    (the fitted map itself is in ``map.npy``).

    Raises:
        FileNotFoundError: not such a folder. WordVectorError: a damaged vector file.
        ConfigError: a ``fit.json`` that does not describe its files.
    """
    folder = Path(folder)
    meta_path = folder / "fit.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder}: no fit.json; give a folder written by 'xlt bli fit'")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    try:
        src, tgt = (read_word_vectors(folder / meta["files"][side]) for side in ("src", "tgt"))
    except KeyError:
        raise ConfigError(f"{meta_path}: expected files.src and files.tgt") from None
    return Spaces(src=src, tgt=tgt, W=np.eye(src.dim, dtype=np.float32), seed_pairs=meta.get("seed_pairs", 0),
                  history=meta.get("history", []), sources=meta.get("dictionaries", {}))


def build_spaces(cfg: BliSpaceSettings, extra_words: dict[str, list[str]] | None = None,
                 train: list[tuple[str, str]] | None = None) -> Spaces:
    """Read or encode both languages' vectors, normalise them and fit the map (module docstring).

    Args:
        cfg: the settings. extra_words: per language, words the vocabulary must hold (a test
            dictionary's). train: the seed pairs (default: read as ``cfg`` says; none is needed
            for ``unsupervised``, ``identical`` and ``none``).

    Raises:
        ConfigError: no seed dictionary for a mapping that needs one, no seed pair in both
            vocabularies. WordVectorError, DataFormatError, FileNotFoundError: bad inputs.
    """
    t0 = time.time()
    sources: dict = {}
    if train is None:
        needs = cfg.mapping in SUPERVISED
        train, where = read_pairs(cfg, cfg.train, f"train.freq.{_SIZE[cfg.seed_size]}", needs)
        train = train or []
        if where:
            sources["train"] = where
    state: dict = {}
    spaces = {}
    for lang, side in ((cfg.src, 0), (cfg.tgt, 1)):
        words = None
        if lang not in cfg.vectors:
            words = vocabulary(lang, cfg.vocab_size, [p[side] for p in train] + (extra_words or {}).get(lang, []),
                               cfg.text.get(lang), cfg.data_dir, state)
        spaces[lang] = word_space(lang, words, cfg, state)
    t_vec = time.time()
    xw, yw = spaces[cfg.src], spaces[cfg.tgt]
    if xw.dim != yw.dim:
        raise ConfigError(f"the {cfg.src} vectors have {xw.dim} dimensions and the {cfg.tgt} vectors {yw.dim}")
    x, y = normalize_embeddings(xw.vectors), normalize_embeddings(yw.vectors)
    xi, yi = xw.index(), yw.index()
    seed = np.asarray([(xi[a], yi[b]) for a, b in train if a in xi and b in yi], dtype=np.int64).reshape(-1, 2)
    if cfg.mapping in SUPERVISED and len(seed) == 0:
        raise ConfigError(f"no seed pair has both words in the vocabularies ({len(train)} pairs read)")
    if cfg.mapping in SEED_FITTED:
        w, history = map_fitter(cfg)(x, y, seed)
    elif cfg.mapping == "refine":
        r = refine(x, y, seed, iterations=cfg.refine_iterations, k=cfg.k)
        w, history = r.W, r.history
    elif cfg.mapping == "none":
        w, history = np.eye(x.shape[1], dtype=np.float32), []
    else:
        start = unsupervised_seed(x, y) if cfg.mapping == "unsupervised" else identical_seed(xw.words, yw.words)
        if len(start) == 0:
            raise ConfigError("no identically spelt word in the two vocabularies: use --mapping unsupervised or a seed")
        r = self_learning(x, y, start, k=cfg.k, rng=0)
        w, history = r.W, r.history[-5:]
    src = WordVectors(xw.words, x, source=xw.source, stats=xw.stats)
    tgt = WordVectors(yw.words, y, source=yw.source, stats=yw.stats)
    enc = state["encoder"].describe() if "encoder" in state else None
    views = state.get("views", {})
    return Spaces(src=src, tgt=tgt, W=w, seed_pairs=int(len(seed)), seed=seed, history=history, sources=sources,
                  encoder=enc, views=list(zip(views.get(cfg.src, []), views.get(cfg.tgt, []))),
                  seconds={"vectors": round(t_vec - t0, 1), "map": round(time.time() - t_vec, 1)})


def map_fitter(cfg: BliSpaceSettings):
    """``fit(x, y, pairs) -> (W, history)`` for the maps fitted on seed pairs alone: ``procrustes``, or
    Procrustes then :func:`~xlt.lexicon.contrastive.contrastive_map` with ``cfg``'s epochs and
    temperature (seed 0); with ``cfg.self_learning``, a second fit on the pairs plus the confident
    induced ones (:func:`~xlt.lexicon.induction.self_learning_pairs`). ``x``, ``y`` are normalised
    spaces ``(n, dim)``, ``pairs`` ``(n_pairs, 2)`` rows; ``W`` is ``(dim, dim)``; ``history`` lists
    each fit (``pairs``, ``added``, and the contrastive epochs' losses)."""
    def once(x, y, pairs, round_: int, added: int) -> tuple[np.ndarray, list[dict]]:
        step = {"iteration": round_, "pairs": int(len(pairs)), **({"added": added} if round_ else {})}
        if cfg.mapping == "procrustes":
            return procrustes(x, y, pairs), [step]
        c = contrastive_map(x, y, pairs, epochs=cfg.contrastive_epochs, temperature=cfg.temperature, seed=0)
        return c.W, [step] + c.history

    def fit(x, y, pairs) -> tuple[np.ndarray, list[dict]]:
        w, history = once(x, y, pairs, 0, 0)
        if cfg.self_learning:
            more, added = self_learning_pairs(map_source(x, w), y, pairs, cfg.self_learning, limit=cfg.vocab_size,
                                              k=cfg.k)
            w, again = once(x, y, more, 1, added)
            history += again
        return w, history
    return fit


def fit_spaces_reranker(cfg: BliRerankSettings, spaces: Spaces) -> Reranker:
    """The second stage of ``eval``/``induce --rerank``: a scorer trained on the seed pairs with
    held-out folds (:func:`xlt.lexicon.rerank.fit_reranker`). With a map fitted on the seed pairs
    (``procrustes``, ``refine``) each fold's map is plain Procrustes on the other folds (``contrastive``:
    Procrustes and contrastive tuning on the other folds; with ``self_learning``, each fold's map
    self-learns from its own first fit, as :func:`map_fitter`); a map found
    without them (``unsupervised``, ``identical``, ``none``) serves every fold as it is.

    Raises:
        ConfigError: no seed dictionary, or too few seed pairs for the folds.
    """
    if spaces.seed is None or len(spaces.seed) == 0:
        raise ConfigError("--rerank trains on the seed dictionary: give --train (none was found for the pair)")
    refit = cfg.mapping in SUPERVISED
    fit_map = procrustes if refit else None
    if cfg.mapping in SEED_FITTED:
        fitter = map_fitter(cfg)
        fit_map = lambda x, y, pairs: fitter(x, y, pairs)[0]  # noqa: E731
    try:
        return fit_reranker(spaces.src.vectors, spaces.tgt.vectors, spaces.seed, spaces.src.words, spaces.tgt.words,
                            fit_map=fit_map, W=None if refit else spaces.W, top=cfg.rerank,
                            k=cfg.k, views=spaces.views, random_state=0)
    except MappingError as e:
        raise ConfigError(f"--rerank: {e}") from None


_SIZE = {500: "500", 1000: "1k", 3000: "3k", 5000: "5k"}


def _inputs(cfg: BliSpaceSettings) -> list[tuple[str, object]]:
    return [("--train", cfg.train), ("--vectors", [str(p) for p in cfg.vectors.values()]),
            ("--text", [str(p) for p in cfg.text.values()]), ("--model", cfg.model),
            ("--data-dir", data_set_folders(cfg.data_dir))]


@dataclass
class BliResult:
    """What :func:`run` measured.

    Attributes:
        scores: ``{"cosine": BliScores, "csls": BliScores}`` (percent).
        search_space: target words ranked per query. seed_pairs: seed pairs in both vocabularies.
        report: the report dict (``report.json``). out: the report folder (None: not written).
    """

    scores: dict[str, BliScores]
    search_space: int
    seed_pairs: int
    report: dict
    out: Path | None = None


def run(cfg: BliSettings, command: list[str] | None = None) -> BliResult:
    """``xlt bli eval``: induce and score a bilingual lexicon (see the module docstring).

    Raises:
        ConfigError: no XLING dictionary for the pair and no file given; MappingError: no test
            pair left; DataFormatError, FileNotFoundError, WordVectorError: bad input files;
        OutputError: an output over an input (all before the model loads).
    """
    t0 = time.time()
    test, test_where = read_pairs(cfg, cfg.test, "test.freq.2k", True)
    OutputPlan(inputs=_inputs(cfg) + [("--test", cfg.test), ("--fitted", cfg.fitted)],
               outputs=[Output("--out", Path(cfg.out))] if cfg.out else [], overwrite=cfg.overwrite).check()
    if cfg.fitted:
        spaces = read_fitted(cfg.fitted)
    else:
        spaces = build_spaces(cfg, {cfg.src: [a for a, _ in test], cfg.tgt: [b for _, b in test]})
    spaces.sources["test"] = test_where
    xw, yw = spaces.src, spaces.tgt
    mapped = spaces.mapped_source()
    scores = {m: evaluate_bli(mapped, yw.vectors, test, xw.words, yw.words, method=m, k=cfg.k)
              for m in ("cosine", "csls")}
    rerank_stats = None
    if cfg.rerank:
        t_rr = time.time()
        reranker = fit_spaces_reranker(cfg, spaces)
        scores["csls+rerank"] = evaluate_reranked(mapped, yw.vectors, test, xw.words, yw.words, reranker,
                                                  top=cfg.rerank, k=cfg.k, views=spaces.views)
        rerank_stats = {**reranker.stats, "views": len(spaces.views), "seconds": round(time.time() - t_rr, 1)}
    best = "csls+rerank" if cfg.rerank else "csls"
    argv = command if command is not None else sys.argv
    settings = cfg.to_dict()
    table = ["| retrieval | P@1 | P@5 | P@10 | MAP | queries | search space | skipped (no source / no target) |",
             "|:---|---:|---:|---:|---:|---:|---:|---:|"]
    table += [f"| {m} | {s.p_at_1:.2f} | {s.p_at_5:.2f} | {s.p_at_10:.2f} | {s.map:.2f} | {s.n_queries} | "
              f"{s.search_space:,} | {s.skipped_source} / {s.skipped_target} |" for m, s in scores.items()]
    report = {"command": argv, "command_line": shlex.join(argv), "task": "bli", "src": cfg.src, "tgt": cfg.tgt,
              "model": cfg.model, "mode": f"bli ({cfg.mapping})", "mapping": cfg.mapping, "metric": "accuracy",
              "metric_name": "P@1 (CSLS, re-ranked, %)" if cfg.rerank else "P@1 (CSLS, %)", "source": cfg.src,
              "scores": {cfg.tgt: scores[best].p_at_1}, "bli": {m: s.describe() for m, s in scores.items()},
              **({"rerank": rerank_stats} if rerank_stats else {}),
              "extra_markdown": [f"## {cfg.src} → {cfg.tgt} lexicon induction\n\n" + "\n".join(table)],
              "search_space": {cfg.src: len(xw.words), cfg.tgt: len(yw.words)}, "seed_pairs": spaces.seed_pairs,
              "vectors": {cfg.src: xw.source, cfg.tgt: yw.source}, "dictionaries": spaces.sources,
              "history": spaces.history, "seconds": {**spaces.seconds, "total": round(time.time() - t0, 1)},
              "config": settings,
              "manifest": build_manifest(settings, [p["path"] for p in spaces.sources.values() if p]
                                         + [str(p) for p in cfg.vectors.values()],
                                         spaces.encoder or {"vectors": "files"}, None)}
    if cfg.out:
        write_report(cfg.out, report)
    return BliResult(scores=scores, search_space=len(yw.words), seed_pairs=spaces.seed_pairs, report=report,
                     out=cfg.out)


@dataclass
class BliFitResult:
    """What :func:`run_fit` wrote.

    Attributes:
        out: the folder. files: ``{"src", "tgt", "map", "report"}`` paths. seed_pairs: seed pairs
        used. search_space: ``{lang: words}``. report: ``fit.json``'s content.
    """

    out: Path
    files: dict[str, Path]
    seed_pairs: int
    search_space: dict[str, int]
    report: dict


def run_fit(cfg: BliFitSettings, command: list[str] | None = None) -> BliFitResult:
    """``xlt bli fit``: fit the map and save the mapped spaces and the map in ``cfg.out``.

    Files: ``SRC.npz``/``.vec`` (the normalised source vectors times the map), ``TGT.npz``/``.vec``
    (the normalised target vectors), ``map.npy`` (``W``, ``(dim, dim)``), ``fit.json`` (settings,
    seed pairs, search spaces); the folder appears whole or not at all.

    Raises:
        ConfigError: no ``--out``, or as :func:`build_spaces`. OutputError: an output over an input.
    """
    if not cfg.out:
        raise ConfigError("--out is required (the folder of the mapped spaces)")
    t0 = time.time()
    test, test_where = read_pairs(cfg, cfg.test, "test.freq.2k", cfg.test is not None)
    OutputPlan(inputs=_inputs(cfg) + [("--test", cfg.test)], outputs=[Output("--out", Path(cfg.out))],
               overwrite=cfg.overwrite).check()
    extra = {cfg.src: [a for a, _ in test], cfg.tgt: [b for _, b in test]} if test else None
    spaces = build_spaces(cfg, extra)
    if test_where:
        spaces.sources["test (vocabulary)"] = test_where
    argv = command if command is not None else sys.argv
    names = {"src": f"{cfg.src}.{cfg.format}", "tgt": f"{cfg.tgt}.{cfg.format}", "map": "map.npy",
             "report": "fit.json"}
    report = {"command_line": shlex.join(argv), "src": cfg.src, "tgt": cfg.tgt, "mapping": cfg.mapping,
              "files": {k: v for k, v in names.items() if k != "report"}, "seed_pairs": spaces.seed_pairs,
              "search_space": {cfg.src: len(spaces.src.words), cfg.tgt: len(spaces.tgt.words)},
              "vectors": {cfg.src: spaces.src.source, cfg.tgt: spaces.tgt.source}, "dictionaries": spaces.sources,
              "history": spaces.history, "seconds": {**spaces.seconds, "total": round(time.time() - t0, 1)},
              "config": cfg.to_dict()}
    with staged_folder(cfg.out) as tmp:
        WordVectors(spaces.src.words, spaces.mapped_source(), source=f"{spaces.src.source} mapped").save(tmp / names["src"])
        spaces.tgt.save(tmp / names["tgt"])
        np.save(tmp / names["map"], spaces.W)
        write_json(tmp / names["report"], report)
    out = Path(cfg.out)
    return BliFitResult(out=out, files={k: out / v for k, v in names.items()}, seed_pairs=spaces.seed_pairs,
                        search_space=report["search_space"], report=report)


@dataclass
class BliInduceResult:
    """What :func:`run_induce` wrote.

    Attributes:
        out: the dictionary file. pairs: ``(source, target, score)`` triples written.
        n_words: source words translated. search_space: target words. seed_pairs: seed pairs of the map.
    """

    out: Path | None
    pairs: list[tuple[str, str, float]]
    n_words: int
    search_space: int
    seed_pairs: int


def run_induce(cfg: BliInduceSettings, command: list[str] | None = None) -> BliInduceResult:
    """``xlt bli induce``: a scored dictionary from mapped spaces (module docstring).

    Raises:
        ConfigError: no ``--out``; none of the ``--words`` in the source vocabulary; as
            :func:`build_spaces`. OutputError: the output is an input. FileExistsError: it exists
            without ``--overwrite``.
    """
    if not cfg.out:
        raise ConfigError("--out is required (the dictionary file to write)")
    OutputPlan(inputs=_inputs(cfg) + [("--fitted", cfg.fitted), ("--words", cfg.words)],
               outputs=[Output("--out", Path(cfg.out), kind="file")], overwrite=cfg.overwrite).check()
    asked = None
    if cfg.words:
        asked = [w.strip() for w in Path(cfg.words).read_text(encoding="utf-8").splitlines() if w.strip()]
    if cfg.fitted:
        spaces = read_fitted(cfg.fitted)
    else:
        spaces = build_spaces(cfg, {cfg.src: asked} if asked else None)
    index = spaces.src.index()
    if asked is not None:
        rows = [index[w] for w in dict.fromkeys(asked) if w in index]
        if not rows:
            raise ConfigError(f"--words {cfg.words}: none of its {len(asked)} words is in the source vocabulary")
    else:
        rows = list(range(min(cfg.limit, len(spaces.src.words))))
    if cfg.rerank:
        pairs = _reranked_dictionary(cfg, spaces, rows)
    else:
        pairs = induce_dictionary(spaces.mapped_source(), spaces.tgt.vectors, spaces.src.words, spaces.tgt.words,
                                  rows=rows, method=cfg.retrieval, k=cfg.k, top=cfg.top, min_score=cfg.min_score,
                                  mutual=cfg.mutual, skip_identical=cfg.skip_identical)
    text = "".join(f"{a}\t{b}\t{s:.4f}\n" for a, b, s in pairs)
    write_together({Path(cfg.out): lambda tmp: tmp.write_text(text, encoding="utf-8")})
    return BliInduceResult(out=Path(cfg.out), pairs=pairs, n_words=len(rows), search_space=len(spaces.tgt.words),
                           seed_pairs=spaces.seed_pairs)


def _reranked_dictionary(cfg: BliInduceSettings, spaces: Spaces, rows: list[int]) -> list[tuple[str, str, float]]:
    """``induce --rerank``: each word's ``top`` best re-ranked candidates, scored by the re-ranker's
    probability of a correct translation (``--min-score`` thresholds it)."""
    reranker = fit_spaces_reranker(cfg, spaces)
    src, tgt = spaces.src.words, spaces.tgt.words
    cands = candidate_features(spaces.mapped_source(), spaces.tgt.vectors, src, tgt, rows,
                               top=max(cfg.rerank, cfg.top), method=cfg.retrieval, k=cfg.k, views=spaces.views)
    order, prob = reranker.rerank(cands)
    out = []
    for row, cs, ps in zip(cands.rows, order, prob):
        kept = [(j, p) for j, p in zip(cs, ps) if not (cfg.skip_identical and tgt[j] == src[row])]
        out += [(src[row], tgt[j], float(p)) for j, p in kept[:cfg.top]
                if cfg.min_score is None or p >= cfg.min_score]
    return out
