"""``xlt bli eval``: bilingual lexicon induction with static word vectors, scored on a test dictionary.

Steps (:func:`run`): the seed and test dictionaries (XLING's ``yacle.*`` files of the data folder
by default, Glavaš et al. 2019, or the user's ``word<TAB>word``/MUSE files); a vocabulary per
language (the most frequent words of the language's text, plus every dictionary word: the
*search space*, reported); word vectors for it (the user's ``.vec``/``.bin``/``.npz`` files, or
type-level vectors from the encoder, :func:`xlt.lexicon.vectors.encoder_word_vectors`); VecMap's
normalisation; an orthogonal map (Procrustes on the seed pairs, MUSE refinement, or VecMap's
unsupervised initialisation and self-learning, which use no seed pairs); P@1/5/10 and MAP by
cosine and CSLS.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from xlt.core.outputs import Output, OutputPlan
from xlt.data.dictionaries import read_dictionary
from xlt.data.paths import data_set_folders, dataset_dir
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import write_report
from xlt.jobs import ConfigError
from xlt.jobs.settings import AT_LEAST_1, RunSettings, option
from xlt.lexicon.induction import BliScores, evaluate_bli
from xlt.lexicon.mapping import (identical_seed, normalize_embeddings, procrustes, refine, self_learning,
                                 unsupervised_seed)
from xlt.lexicon.vectors import WordVectors, encoder_word_vectors, read_word_vectors

__all__ = ["BliResult", "BliSettings", "run"]

MAPPINGS = ("procrustes", "refine", "unsupervised", "identical")


@dataclass(kw_only=True)
class BliSettings(RunSettings):
    """Settings of ``xlt bli eval`` (with :class:`~xlt.jobs.settings.RunSettings`).

    Attributes:
        src, tgt: the two languages (ISO 639 codes as the dictionaries' folder names: ``en``, ``de``).
        train: the seed dictionary (default: XLING's 5k training set of the pair).
        test: the test dictionary (default: XLING's 2k test set of the pair).
        seed_size: XLING training set to use by default: 500, 1000, 3000 or 5000 pairs.
        vectors: ``LANG=FILE`` word-vector files; languages without one take the encoder's.
        vocab_size: the most frequent words of each language's text kept in the search space
            (every dictionary word is added).
        text: ``LANG=FILE`` text (one sentence per line) that the vocabulary is counted from;
            default: the data folder's text of the language.
        mapping: ``procrustes`` (seed pairs), ``refine`` (Procrustes then MUSE refinement),
            ``unsupervised`` (VecMap: no seed pairs), ``identical`` (seed: identically spelt words,
            then self-learning).
        refine_iterations: MUSE refinement rounds. k: CSLS neighbourhood.
        layers: encoder vectors: ``["last"]``, a layer number, or several (concatenated). prefix: put the encoder's text prefix
            before each word.

    Raises:
        ConfigError: the same language twice, a bad ``seed_size``, any field's own check.
    """

    src: str = option(help="source language (as in the dictionaries: en, de, ...)")
    tgt: str = option(help="target language")
    train: Path | None = option(None, help="seed dictionary (word<TAB>word or 'word word'; default XLING's of the pair)")
    test: Path | None = option(None, help="test dictionary (default XLING's 2k test set of the pair)")
    seed_size: int = option(5000, help="XLING seed dictionary size when --train is not given: 500, 1000, 3000 or 5000")
    vectors: dict[str, Path] = option(default_factory=dict, metavar="LANG=FILE",
                                      help="word vectors of a language (.vec, .txt, .bin, .npz); default: the encoder's")
    vocab_size: int = option(20000, help="most frequent words of each language in the search space", check=AT_LEAST_1)
    text: dict[str, Path] = option(default_factory=dict, metavar="LANG=FILE",
                                   help="text to count each language's vocabulary from (default: the data folder's)")
    mapping: Literal[MAPPINGS] = option("procrustes", help="how the map is found")
    refine_iterations: int = option(5, help="MUSE refinement rounds (--mapping refine)", check=AT_LEAST_1)
    k: int = option(10, help="CSLS neighbourhood", check=AT_LEAST_1)
    layers: list[str] = option(default_factory=lambda: ["last"], metavar="LAYERS",
                               help="encoder vectors: last, a layer number, or several (8,12: each scaled to unit "
                                    "length and concatenated)")
    prefix: bool = option(False, help="put the encoder's text prefix (query:) before each word")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.src == self.tgt:
            raise ConfigError(f"--src and --tgt are both {self.src}")
        for layer in self.layers:
            if layer != "last" and not layer.lstrip("-").isdigit():
                raise ConfigError(f"--layers {layer}: expected last or a layer number")
        if self.seed_size not in (500, 1000, 3000, 5000):
            raise ConfigError(f"--seed-size {self.seed_size}: expected one of 500, 1000, 3000, 5000 (XLING's sets)")


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


def _xling(src: str, tgt: str, kind: str, data_dir) -> tuple[Path, bool]:
    """XLING's file of the pair and whether its columns are (tgt, src)."""
    root = dataset_dir("bli", data_dir)
    for a, b, swapped in ((src, tgt, False), (tgt, src, True)):
        path = root / f"{a}-{b}" / f"yacle.{kind}.{a}-{b}.tsv"
        if path.is_file():
            return path, swapped
    raise ConfigError(f"no XLING {kind} dictionary for {src}-{tgt} in {root}; give --train/--test files")


def _dictionaries(cfg: BliSettings) -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict]:
    """Seed and test pairs ``(src word, tgt word)`` and where they came from."""
    size = {500: "500", 1000: "1k", 3000: "3k", 5000: "5k"}[cfg.seed_size]
    out, where = [], {}
    for name, given, kind in (("train", cfg.train, f"train.freq.{size}"), ("test", cfg.test, "test.freq.2k")):
        path, swapped = (given, False) if given else _xling(cfg.src, cfg.tgt, kind, cfg.data_dir)
        d = read_dictionary(path)
        out.append([(b, a) for a, b in d.entries] if swapped else list(d.entries))
        where[name] = {"path": str(path), **d.stats}
    return out[0], out[1], where


def _vocabulary(lang: str, cfg: BliSettings, must: list[str]) -> list[str]:
    """The ``vocab_size`` most frequent lower-cased alphabetic words of the language's text, then
    every word of ``must`` not among them."""
    import warnings

    from xlt.data.segment import SegmenterWarning, split_words
    from xlt.data.text import texts_for

    text = texts_for([lang], {lang: cfg.text[lang]} if lang in cfg.text else None, cfg.data_dir)[lang]
    with warnings.catch_warnings():  # a stray Japanese or Khmer word in English text: its split does not matter here
        warnings.simplefilter("ignore", SegmenterWarning)
        counts = Counter(w.casefold() for s in text.sentences for w in split_words(s, lang) if w.isalpha())
    vocab = [w for w, _ in counts.most_common(cfg.vocab_size)]
    seen = set(vocab)
    return vocab + [w for w in dict.fromkeys(must) if w not in seen]


def _vectors(lang: str, words: list[str], cfg: BliSettings, encoder_cache: dict) -> WordVectors:
    if lang in cfg.vectors:
        wv = read_word_vectors(cfg.vectors[lang])
        return wv
    if "encoder" not in encoder_cache:
        from xlt.models import loading

        encoder_cache["encoder"] = loading.load_encoder(cfg.model)
    layers = ["last" if l == "last" else int(l) for l in cfg.layers]
    return encoder_word_vectors(encoder_cache["encoder"], words, layers=layers[0] if len(layers) == 1 else layers,
                                combine="concat", prefix=cfg.prefix, progress=cfg.progress)


def _map(x: np.ndarray, y: np.ndarray, seed: np.ndarray, cfg: BliSettings, xw: WordVectors, yw: WordVectors):
    if cfg.mapping == "procrustes":
        return procrustes(x, y, seed), [{"iteration": 0, "pairs": int(len(seed))}]
    if cfg.mapping == "refine":
        r = refine(x, y, seed, iterations=cfg.refine_iterations, k=cfg.k)
        return r.W, r.history
    start = unsupervised_seed(x, y) if cfg.mapping == "unsupervised" else identical_seed(xw.words, yw.words)
    if len(start) == 0:
        raise ConfigError("no identically spelt word in the two vocabularies: use --mapping unsupervised or a seed")
    r = self_learning(x, y, start, k=cfg.k, rng=0)
    return r.W, r.history[-5:]


def run(cfg: BliSettings, command: list[str] | None = None) -> BliResult:
    """Induce and score a bilingual lexicon (see the module docstring).

    Raises:
        ConfigError: no XLING dictionary for the pair and no file given; MappingError: no seed
        pair in both vocabularies (Procrustes), no test pair left; DataFormatError,
        FileNotFoundError, WordVectorError: bad input files (all before the model loads where
        they are files).
    """
    t0 = time.time()
    train, test, sources = _dictionaries(cfg)
    OutputPlan(inputs=[("--train", cfg.train), ("--test", cfg.test), ("--vectors", [str(p) for p in cfg.vectors.values()]),
                       ("--text", [str(p) for p in cfg.text.values()]), ("--model", cfg.model),
                       ("--data-dir", data_set_folders(cfg.data_dir))],
               outputs=[Output("--out", Path(cfg.out))] if cfg.out else [], overwrite=cfg.overwrite).check()
    cache: dict = {}
    spaces = {}
    for lang, side in ((cfg.src, 0), (cfg.tgt, 1)):
        words = None if lang in cfg.vectors else _vocabulary(lang, cfg, [p[side] for p in train + test])
        spaces[lang] = _vectors(lang, words, cfg, cache)
    xw, yw = spaces[cfg.src], spaces[cfg.tgt]
    x, y = normalize_embeddings(xw.vectors), normalize_embeddings(yw.vectors)
    xi, yi = xw.index(), yw.index()
    seed = np.asarray([(xi[a], yi[b]) for a, b in train if a in xi and b in yi], dtype=np.int64).reshape(-1, 2)
    if cfg.mapping in ("procrustes", "refine") and len(seed) == 0:
        raise ConfigError(f"no seed pair has both words in the vocabularies ({len(train)} pairs read)")
    w, history = _map(x, y, seed, cfg, xw, yw)
    scores = {m: evaluate_bli(x @ w, y, test, xw.words, yw.words, method=m, k=cfg.k) for m in ("cosine", "csls")}
    argv = command if command is not None else sys.argv
    settings = cfg.to_dict()
    table = ["| retrieval | P@1 | P@5 | P@10 | MAP | queries | search space | skipped (no source / no target) |",
             "|:---|---:|---:|---:|---:|---:|---:|---:|"]
    table += [f"| {m} | {s.p_at_1:.2f} | {s.p_at_5:.2f} | {s.p_at_10:.2f} | {s.map:.2f} | {s.n_queries} | "
              f"{s.search_space:,} | {s.skipped_source} / {s.skipped_target} |" for m, s in scores.items()]
    report = {"command": argv, "command_line": shlex.join(argv), "task": "bli", "src": cfg.src, "tgt": cfg.tgt,
              "model": cfg.model, "mode": f"bli ({cfg.mapping})", "mapping": cfg.mapping, "metric": "accuracy",
              "metric_name": "P@1 (CSLS, %)", "source": cfg.src, "scores": {cfg.tgt: scores["csls"].p_at_1},
              "bli": {m: s.describe() for m, s in scores.items()},
              "extra_markdown": [f"## {cfg.src} → {cfg.tgt} lexicon induction\n\n" + "\n".join(table)],
              "search_space": {cfg.src: len(xw.words), cfg.tgt: len(yw.words)}, "seed_pairs": int(len(seed)),
              "vectors": {cfg.src: xw.source, cfg.tgt: yw.source}, "dictionaries": sources, "history": history,
              "seconds": {"total": round(time.time() - t0, 1)}, "config": settings,
              "manifest": build_manifest(settings, [p["path"] for p in sources.values()] + [str(p) for p in cfg.vectors.values()],
                                         cache["encoder"].describe() if "encoder" in cache else {"vectors": "files"}, None)}
    if cfg.out:
        write_report(cfg.out, report)
    return BliResult(scores=scores, search_space=len(yw.words), seed_pairs=int(len(seed)), report=report, out=cfg.out)
