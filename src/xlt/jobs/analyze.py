"""``xlt analyze`` and ``xlt analyze correlate`` as jobs: layer-wise cross-lingual alignment of an
encoder on multi-parallel text, and its correlation with zero-shot transfer.

Every language of a multi-parallel set (NTREX-128, Federmann et al. 2022: the same 1,997 news
sentences in 128 languages and English; or a user's corpus: a folder of files named by language,
two line-aligned files, a ``|||`` or tab-separated file, read by
:func:`xlt.data.parallel.open_parallel`) is encoded once, pooled at every layer. Against the pivot
language (English unless ``pivot`` says otherwise; "eng" below), per layer:

* retrieval accuracy xx→eng and eng→xx (cosine nearest neighbour; gold = the translation);
* MEXA alignment with the pivot (Kargaran et al. 2024; :func:`~xlt.evaluate.alignment.mexa_score`);
* language identification accuracy of a linear classifier before and after per-language
  mean-centering (Libovický et al. 2020; lower = more language-neutral);

and at the reported layer the mPLM-Sim language similarity matrix (Lin et al. 2023) with a
ranking of source languages for each target (:func:`run`). :func:`run_correlate` relates a
language's alignment score to its zero-shot score in an ``xlt transfer`` report (Pearson and
Spearman, per layer too). All scores are percent. The report files are rendered by
:mod:`xlt.evaluate.analyze`.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from xlt.core.outputs import Output, OutputPlan
from xlt.data.dataset import parse_eval_args
from xlt.data.langs import language_name, match_language
from xlt.data.parallel import MultiParallel, ParallelSource, open_parallel
from xlt.data.paths import DatasetNotFoundError, data_set_folders
from xlt.data.readers import DataFormatError
from xlt.evaluate.alignment import language_identification_accuracy, language_similarity, mexa_score, rank_sources
from xlt.evaluate.analyze import (
    METRIC_KEYS,
    TooFewLanguagesError,
    best_layer,
    correlation,
    is_same_language,
    match_languages,
    value_at_layer,
    write_analysis,
    write_correlation,
)
from xlt.evaluate.manifest import build_manifest
from xlt.jobs import ConfigError
from xlt.jobs.settings import AT_LEAST_0, AT_LEAST_1, FRACTION, Interval, RunSettings, Settings, option
from xlt.models import loading
from xlt.models.features import resolve_layers
from xlt.models.shards import ShardedEmbeddings, embedding_differences
from xlt.retrieval.scoring import cosine_scores, retrieval_accuracy

__all__ = ["AnalyzeResult", "AnalyzeSettings", "CorrelateSettings", "CorrelationResult", "LanguageFolder", "run",
           "run_correlate"]

#: The alignment scores ``xlt analyze correlate`` can correlate (keys of :data:`~xlt.evaluate.analyze.METRIC_KEYS`).
CORRELATE_METRICS = tuple(METRIC_KEYS)
_FLOAT16_ABOVE = 2 * 1024**3  # store vectors as float16 when float32 would take more bytes
#: The report's ``config`` keys, in the order reports have always listed them.
_CONFIG_ORDER = ("parallel", "langs", "model", "pooling", "layers", "layer", "batch_size", "limit", "targets", "top",
                 "lid_sentences", "test_fraction", "seed", "data_dir", "out", "overwrite", "pivot", "src_lang",
                 "tgt_lang")


# --------------------------------------------------------------------------- settings


@dataclass(kw_only=True)
class AnalyzeSettings(RunSettings):
    """Settings of one ``xlt analyze`` run (with :class:`~xlt.jobs.settings.RunSettings`: model, out,
    overwrite, progress, data_dir).

    Attributes:
        parallel: the multi-parallel set: ``["ntrex"]`` (NTREX-128), or a user's corpus - a folder
            of files named by language, a ``|||``/tab-separated file, or two line-aligned files
            (see :func:`xlt.data.parallel.open_parallel`).
        pivot: the language every other one is scored against (default ``en``).
        src_lang, tgt_lang: languages of a user's pair whose file names do not give them.
        langs: ``["all"]`` or codes (``de``, ``zh`` or ``deu``, ``zho-CN``); the pivot is always added.
        layer: the layer behind ``scores`` and the similarity matrix: ``best`` (the layer with the
            highest MEXA averaged over languages, ties to the lower layer), ``mean`` (scores and
            similarity averaged over layers, MEXA's "mean over layers"), or a layer index.
        layers: ``["all"]`` or hidden-state indices (0 = embeddings).
        pooling: ``mean`` (E5 / mPLM-Sim / MEXA encoders), ``mean_nospecial`` or ``cls``.
        limit: keep the first N multi-parallel sentences (after dropping lines empty in any
            language); at least 2.
        batch_size: sentences per forward pass.
        targets: languages to rank source languages for (empty: all).
        top: ranked sources shown per target in report.md.
        lid_sentences: sentences per language for the language-identification probe (a seeded
            random subset; 0 or None = all). test_fraction: their share held out for testing.
        seed: seed of the subset, the split and the classifier.
        embeddings: ``LANG=DIR`` values (:class:`LanguageFolder` after construction): ``xlt embed``
            folders, one per language and line-aligned, analysed instead of encoding ``parallel``
            (their one layer; no model is loaded). ``parallel``, ``layers``, ``pooling``,
            ``src_lang`` and ``tgt_lang`` are then refused.

    Raises:
        ConfigError: more than two ``parallel`` paths, ``layers`` that are not ``all`` or numbers,
        a ``layer`` that is not ``best``, ``mean`` or a number; any field's own check.
    """

    parallel: list[str] = option(default_factory=lambda: ["ntrex"], nargs="+", metavar="ntrex|DIR|FILE",
                                 help="multi-parallel set: ntrex; a folder of line-aligned files named by language "
                                      "(en.txt, de.txt, ... or newstest2019-ref.deu.txt); one 'src ||| tgt' or "
                                      "'src<TAB>tgt' file; or two line-aligned files SRC_FILE TGT_FILE")
    pivot: str = option("en", help="language the others are scored against")
    src_lang: str | None = option(None, help="language of the first file / left side of a --parallel pair")
    tgt_lang: str | None = option(None, help="language of the second file / right side of a --parallel pair")
    langs: list[str] = option(default_factory=lambda: ["all"],
                              help="'all' or a comma-separated list (de,zh or deu,zho-CN)")
    layer: str = option("best", help="layer behind the scores and similarity matrix: best (highest mean MEXA), "
                                     "mean, or a number")
    layers: list[str] = option(default_factory=lambda: ["all"], help="layers to analyse: all or a list like 0,6,12")
    pooling: Literal["mean", "mean_nospecial", "cls"] = option("mean", help="pooling over word pieces")
    limit: int | None = option(None, check=Interval(2), help="use the first N multi-parallel sentences (N >= 2)")
    batch_size: int = option(64, check=AT_LEAST_1, help="sentences per forward pass")
    targets: list[str] = option(default_factory=list, help="languages to rank source languages for (default: all)")
    top: int = option(5, check=AT_LEAST_1, help="ranked sources shown per target in report.md")
    lid_sentences: int | None = option(1000, check=AT_LEAST_0,
                                       help="sentences per language for the language-ID probe (0 = all)")
    test_fraction: float = option(0.3, check=FRACTION, help="share of the language-ID sentences held out for testing")
    seed: int = option(0, check=AT_LEAST_0, help="seed of the language-ID subset, split and classifier")
    embeddings: list[str] = option(
        default_factory=list, nargs="+", metavar="LANG=DIR",
        help="analyse xlt embed folders instead of encoding --parallel: one per language, line-aligned (row i of "
             "each translates row i of the others); the folders' layer and pooling are analysed")

    def __post_init__(self) -> None:
        if isinstance(self.layer, int) and not isinstance(self.layer, bool):
            self.layer = str(self.layer)  # a layer number given as a number
        super().__post_init__()
        self.embeddings = [LanguageFolder.parse(v) for v in self.embeddings]
        if self.embeddings:
            given = [flag for flag, on in (("--parallel", self.parallel != ["ntrex"]), ("--layers", self.layers != ["all"]),
                                           ("--pooling", self.pooling != "mean"), ("--src-lang", bool(self.src_lang)),
                                           ("--tgt-lang", bool(self.tgt_lang))) if on]
            if given:
                raise ConfigError(f"{given[0]} is a setting of encoding text; with --embeddings the folders were "
                                  "encoded already (by xlt embed, one layer and pooling each): leave it out")
            if len(self.embeddings) < 2:
                raise ConfigError("--embeddings: give at least two LANG=DIR folders (the pivot and one more language)")
        if len(self.parallel) > 2:
            raise ConfigError(f"--parallel takes ntrex, one folder or file, or two line-aligned files; "
                              f"got {len(self.parallel)} paths")
        if self.layers != ["all"] and not all(x.lstrip("-").isdigit() for x in self.layers):
            raise ConfigError(f"--layers {','.join(self.layers)}: expected all or comma-separated layer numbers")
        if self.layer not in ("best", "mean") and not self.layer.lstrip("-").isdigit():
            raise ConfigError(f"--layer {self.layer}: expected best, mean or a layer number")
        if self.lid_sentences == 0:
            self.lid_sentences = None  # 0 = every sentence

    def parallel_spec(self) -> str | list[str]:
        """``parallel`` as :func:`~xlt.data.parallel.open_parallel` and the report take it: one path
        (or ``ntrex``) as a string, two as a list."""
        return self.parallel[0] if len(self.parallel) == 1 else list(self.parallel)

    def layer_spec(self) -> str | list[int]:
        """``layers`` for :func:`xlt.models.features.resolve_layers`: ``"all"`` or layer numbers."""
        return "all" if self.layers == ["all"] else [int(x) for x in self.layers]

    def report_config(self) -> dict[str, Any]:
        """The report's ``config``: every setting but ``progress``, lists as the comma-separated text
        they were given as (the form reports have always had)."""
        d = self.to_dict()
        d.update(parallel=self.parallel_spec(), langs=",".join(self.langs), layers=",".join(self.layers),
                 targets=",".join(self.targets) or None)
        out = {k: d[k] for k in _CONFIG_ORDER}
        if self.embeddings:  # only then, so that other reports stay as they were
            out.update(parallel=None, model=None, embeddings=[str(f) for f in self.embeddings])
        return out


@dataclass(frozen=True)
class LanguageFolder:
    """One ``--embeddings`` value: ``LANG=DIR``, an ``xlt embed`` folder of one language.

    Attributes:
        lang: the language code (a name is turned into its code). path: the folder. text: the value as given.
    """

    lang: str
    path: Path
    text: str

    @classmethod
    def parse(cls, value: Any) -> LanguageFolder:
        """``"LANG=DIR"`` as a :class:`LanguageFolder`.

        Raises:
            ConfigError: a value without ``LANG=``. UnknownLanguageError: an unknown ``LANG``.
        """
        if isinstance(value, LanguageFolder):
            return value
        text = str(value).strip()
        ((lang, path),) = parse_eval_args([text])
        if lang is None:
            raise ConfigError(f"--embeddings {text}: give each folder's language, LANG=DIR (e.g. de=emb/de)")
        return cls(lang, Path(path), text)

    def __str__(self) -> str:
        return self.text


@dataclass
class AnalyzeResult:
    """What :func:`run` measured.

    Attributes:
        scores: language -> MEXA with the pivot at ``layer`` (%).
        average: their mean (%).
        layer: the reported layer (a hidden-state id, or ``mean``).
        layers: the analysed hidden-state ids.
        best_layer: measure -> the layer where its mean is best (``lid_accuracy_centered``: lowest).
        per_layer_average: one row per layer: mean MEXA, retrieval both ways, language-ID accuracy
            before and after centring (%).
        report: the full report (written to ``out`` as report.json, report.md and three plots).
        out: the report folder (None: not written).
    """

    scores: dict[str, float]
    average: float
    layer: int | str
    layers: list[int]
    best_layer: dict[str, int]
    per_layer_average: list[dict]
    report: dict
    out: Path | None = None


# --------------------------------------------------------------------------- xlt analyze: steps


@dataclass
class _Corpus:
    """The multi-parallel text of one run: ``texts[lang][i]`` translate each other."""

    source: ParallelSource  # the opened corpus (name, ignored files)
    chosen: ParallelSource  # the selected languages, pivot first
    data: MultiParallel
    texts: dict[str, list[str]]
    pivot: str
    n: int


def _read_corpus(settings: AnalyzeSettings) -> _Corpus:
    """Open, select and read the multi-parallel set (before any model loads).

    Raises:
        TooFewLanguagesError: no language besides the pivot. DataFormatError: fewer than 2
        sentences non-empty in every language; as :meth:`ParallelSource.read`. UnknownLanguageError,
        DatasetNotFoundError, FileNotFoundError, FileLanguageError: as :func:`open_parallel`.
    """
    corpus = open_parallel(settings.parallel_spec(), src_lang=settings.src_lang, tgt_lang=settings.tgt_lang,
                           data_dir=settings.data_dir)
    chosen = corpus.select(",".join(settings.langs), pivot=settings.pivot)
    files, pivot = chosen.files, chosen.pivot
    if len(files) < 2:
        raise TooFewLanguagesError(f"xlt analyze needs at least one language besides {language_name(pivot)} "
                                   f"({pivot}), got {list(files)}", corpus.languages)
    data = chosen.read()
    texts = {lang: t[: settings.limit] if settings.limit else t for lang, t in data.texts.items()}
    n = len(texts[pivot])
    if n < 2:
        raise DataFormatError(files[pivot], 1, f"only {n} line(s) are non-empty in every selected "
                              "language; the analysis needs at least 2")
    return _Corpus(corpus, chosen, data, texts, pivot, n)


def _pick_layer(choice: str, layer_ids: list[int], mean_mexa: list[float], num_layers: int) -> int | str:
    """``best`` → the layer id with the highest mean MEXA; ``mean``; or a layer id in ``layer_ids``.

    Raises:
        ConfigError: a layer number that was not analysed.
    """
    if choice == "best":
        return layer_ids[int(np.argmax(mean_mexa))]
    if choice == "mean":
        return "mean"

    lid = resolve_layers(int(choice), num_layers)[0][0]
    if lid not in layer_ids:
        raise ConfigError(f"--layer {choice}: that layer was not analysed (layers: {layer_ids})")
    return lid


def _encode_and_score(encoder, corpus: _Corpus, layer_ids: list[int], settings: AnalyzeSettings):
    """Encode every language once at every layer and score it against the pivot.

    Returns:
        ``(vectors, per_layer, counts, seconds)``: language → ``(n_layers, n, dim)`` vectors (float16
        when float32 would pass 2 GiB); ``{"mexa", "retrieval_xx_to_eng", "retrieval_eng_to_xx"}`` →
        language → one score per layer (%); language → subword/window/truncation counts.
    """
    langs = list(corpus.chosen.files)
    big = len(langs) * corpus.n * len(layer_ids) * encoder.hidden_size * 4 > _FLOAT16_ABOVE
    store = np.float16 if big else np.float32
    vectors: dict[str, np.ndarray] = {}  # lang → (n_layers, n, dim)
    per_layer: dict[str, dict[str, list[float]]] = {"mexa": {}, "retrieval_xx_to_eng": {},
                                                    "retrieval_eng_to_xx": {}}
    counts: dict[str, dict[str, int]] = {}
    eng = None
    t0 = time.time()
    for lang in tqdm(langs, desc="languages", disable=not settings.progress):
        vec, stats = encoder.encode_sentences(corpus.texts[lang], layers=layer_ids, pooling=settings.pooling,
                                      batch_size=settings.batch_size, progress=False, return_stats=True)
        counts[lang] = {"subwords": stats["n_subwords"], "windowed": stats["n_windowed"],
                        "truncated": stats["n_truncated"]}
        if lang == corpus.pivot:
            eng = vec
        else:
            _score_against_pivot(lang, vec, eng, per_layer)
        vectors[lang] = vec.astype(store, copy=False)
    return vectors, per_layer, counts, time.time() - t0


def _score_against_pivot(lang: str, vec: np.ndarray, pivot: np.ndarray, per_layer: dict) -> None:
    """Add ``lang``'s retrieval accuracy both ways and MEXA with the pivot, one value per layer, to
    ``per_layer`` (``vec``, ``pivot``: ``(n_layers, n, dim)``, row i of one translating row i of the other)."""
    for key in per_layer:
        per_layer[key][lang] = []
    for k in range(len(vec)):
        sims = cosine_scores(vec[k], pivot[k])  # rows: xx sentences, columns: the pivot's
        per_layer["retrieval_xx_to_eng"][lang].append(100.0 * retrieval_accuracy(sims))
        per_layer["retrieval_eng_to_xx"][lang].append(100.0 * retrieval_accuracy(sims.T))
        per_layer["mexa"][lang].append(100.0 * mexa_score(sims))


def _language_id(vectors: dict[str, np.ndarray], n: int, settings: AnalyzeSettings):
    """Language-identification accuracy (%) per layer before and after mean-centering.

    Returns:
        ``(lid, lid_centered, rows, seconds)``; ``rows`` are the sentence indices probed (a seeded
        subset of ``lid_sentences``, or all).
    """
    t0 = time.time()
    rng = np.random.default_rng(settings.seed)
    rows = (np.sort(rng.choice(n, settings.lid_sentences, replace=False))
            if settings.lid_sentences and n > settings.lid_sentences else np.arange(n))
    n_layers = next(iter(vectors.values())).shape[0]
    lid, lid_centered = [], []
    for k in tqdm(range(n_layers), desc="language id", disable=not settings.progress):
        by_lang = {lang: v[k, rows].astype(np.float32) for lang, v in vectors.items()}
        lid.append(100.0 * language_identification_accuracy(by_lang, center=False, seed=settings.seed,
                                                            test_fraction=settings.test_fraction))
        lid_centered.append(100.0 * language_identification_accuracy(by_lang, center=True, seed=settings.seed,
                                                                     test_fraction=settings.test_fraction))
    return lid, lid_centered, rows, time.time() - t0


def _similarity(vectors: dict[str, np.ndarray], layer: int | str, layer_ids: list[int]) -> np.ndarray:
    """The mPLM-Sim language similarity matrix at ``layer`` (or averaged over layers: ``mean``)."""
    sim_layers = range(len(layer_ids)) if layer == "mean" else [layer_ids.index(layer)]
    return np.mean([language_similarity({lang: v[k].astype(np.float32) for lang, v in vectors.items()})
                    for k in sim_layers], axis=0)


@dataclass
class _Origin:
    """Where a run's vectors came from, as its report states it.

    Attributes:
        langs: the languages, pivot first. pivot: the pivot's key.
        name: ``parallel_name`` (``NTREX``, the user's path, or ``embeddings``).
        parallel: the report's ``parallel`` value. model: the report's ``model``.
        counts: ``lines``, ``skipped_empty``, ``skipped_lines``, ``ignored_files``.
        files: the input files the manifest hashes.
    """

    langs: list[str]
    pivot: str
    name: str
    parallel: str | list[str]
    model: str | None
    counts: dict[str, Any]
    files: list[Path]


def _corpus_origin(settings: AnalyzeSettings, corpus: _Corpus) -> _Origin:
    """The :class:`_Origin` of vectors encoded from ``corpus``."""
    data = corpus.data
    return _Origin(list(corpus.chosen.files), corpus.pivot, corpus.source.name, settings.parallel_spec(),
                   settings.model, {"lines": data.n_lines, "skipped_empty": data.n_skipped_empty,
                                    "skipped_lines": data.skipped_lines,
                                    "ignored_files": [str(f) for f in corpus.source.ignored]},
                   corpus.chosen.paths)


def _report(settings: AnalyzeSettings, origin: _Origin, n: int, layer_ids: list[int], layer: int | str,
            scored: tuple, lid: tuple, similarity: np.ndarray, model_info: dict, command: list[str] | None,
            t0: float) -> dict:
    """The report dict (keys and values as ``xlt analyze`` has always written them)."""
    vectors, per_layer, enc_counts, t_enc = scored
    lid_acc, lid_centered, lid_rows, t_lid = lid
    langs = origin.langs
    targets = [lang for lang in langs if lang != origin.pivot]
    means = {key: [float(np.mean([table[lang][k] for lang in targets])) for k in range(len(layer_ids))]
             for key, table in per_layer.items()}
    rank_for = ([match_language(c, langs, context=f"{origin.name} languages in this analysis")
                 for c in settings.targets] if settings.targets else langs)
    ranking = {t: rank_sources(similarity, langs, t) for t in rank_for}
    per_layer_average = [
        {"layer": lid_, "mexa": means["mexa"][k], "retrieval_xx_to_eng": means["retrieval_xx_to_eng"][k],
         "retrieval_eng_to_xx": means["retrieval_eng_to_xx"][k], "lid_accuracy": lid_acc[k],
         "lid_accuracy_centered": lid_centered[k]}
        for k, lid_ in enumerate(layer_ids)]
    scores = {lang: value_at_layer(per_layer["mexa"][lang], layer_ids, layer) for lang in targets}
    cfg = settings.report_config()
    argv = command if command is not None else sys.argv
    n_lid_test = min(max(1, round(len(lid_rows) * settings.test_fraction)), len(lid_rows) - 2)
    store = next(iter(vectors.values())).dtype
    oc = origin.counts
    return {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "alignment",
        "parallel": origin.parallel,
        "parallel_name": origin.name,
        "model": origin.model,
        "mode": f"alignment analysis ({model_info.get('pooling', settings.pooling)} pooling)",
        "source": origin.pivot,
        "metric": "mexa",
        "metric_name": f"MEXA alignment with {language_name(origin.pivot)} (%) at layer {layer}",
        "layer": layer,
        "scores": scores,
        "average": float(np.mean(list(scores.values()))),
        "n_targets": len(targets),
        "layers": layer_ids,
        "per_layer": per_layer,
        "per_layer_average": per_layer_average,
        "best_layer": {key: layer_ids[int(np.argmax(means[key]))] for key in per_layer}
                      | {"lid_accuracy_centered": layer_ids[int(np.argmin(lid_centered))]},
        "language_id": {"classifier": "logistic regression on standardised features",
                        "languages": len(langs), "chance": 100.0 / len(langs),
                        "sentences_per_language": len(lid_rows), "test_sentences_per_language": n_lid_test,
                        "seed": settings.seed},
        "similarity": {"layer": layer, "measure": "mean cosine of parallel sentence vectors (mPLM-Sim)",
                       "langs": langs, "matrix": similarity.tolist()},
        "source_ranking": {t: [[c, s] for c, s in r] for t, r in ranking.items()},
        "counts": {"lines": oc["lines"], "sentences": n, "skipped_empty": oc["skipped_empty"],
                   "skipped_lines": oc["skipped_lines"], "languages": len(langs),
                   "ignored_files": oc["ignored_files"],
                   "vector_dtype": np.dtype(store).name, "per_language": enc_counts},
        "seconds": {"encode_and_score": round(t_enc, 1), "language_id": round(t_lid, 1),
                    "total": round(time.time() - t0, 1)},
        "config": cfg,
        "manifest": build_manifest(cfg, origin.files, model_info, [settings.seed]),
    }


def run(settings: AnalyzeSettings, command: list[str] | None = None) -> AnalyzeResult:
    """Alignment analysis of ``settings.model`` on a multi-parallel set; writes the report if ``settings.out``.

    With ``settings.embeddings`` the vectors are read from those ``xlt embed`` folders (one layer,
    no model loaded; their folders, model and layer go to the report and its manifest).

    Returns:
        an :class:`AnalyzeResult`; its report dict has ``source`` (the pivot's key),
        ``parallel_name`` (``NTREX`` or the user's path), ``scores`` (language → MEXA with the
        pivot at ``layer``, %), ``average``, ``layers`` (hidden-state ids), ``per_layer``
        (``mexa``, ``retrieval_xx_to_eng``, ``retrieval_eng_to_xx``: language → one value per
        layer), ``per_layer_average`` (one row per layer: those means and ``lid_accuracy`` /
        ``lid_accuracy_centered``), ``best_layer``, ``language_id``, ``similarity`` (``langs`` and
        ``matrix`` at ``layer``), ``source_ranking``, counts, seconds, config and manifest.

    Raises:
        UnknownLanguageError: an unknown code, or a pivot the corpus does not have;
            TooFewLanguagesError: no language besides the pivot. DatasetNotFoundError: no NTREX
            folder. FileNotFoundError: no such user path. FileLanguageError: a user file whose
            name gives no language. DataFormatError: files of different lengths (names both),
            a malformed ``|||``/tab line (file and line), or fewer than 2 usable lines.
            DatasetError: a bad combination of inputs. OutputError: an output that is an input or
            not empty. All raised before the model is loaded. ConfigError: a ``layer`` that was
            not analysed. ModelLoadError: the model cannot be loaded. ShardError: an
            ``embeddings`` folder that is not one, or a corrupt shard.
    """
    t0 = time.time()
    if settings.embeddings:
        return _run_on_embeddings(settings, command, t0)
    corpus = _read_corpus(settings)

    OutputPlan(inputs=[("--parallel", settings.parallel_spec()), ("--model", settings.model),
                       ("--data-dir", data_set_folders(settings.data_dir))],
               outputs=[Output("--out", Path(settings.out))] if settings.out else [],
               overwrite=settings.overwrite).check()
    # looked up now: tests replace it
    encoder = loading.load_encoder(settings.model, device="auto", **settings.encoder_options())
    layer_ids, _ = resolve_layers(settings.layer_spec(), encoder.num_layers)
    if settings.layer not in ("best", "mean"):
        _pick_layer(settings.layer, layer_ids, [0.0] * len(layer_ids), encoder.num_layers)  # fail before encoding
    scored = _encode_and_score(encoder, corpus, layer_ids, settings)
    targets = [lang for lang in corpus.chosen.files if lang != corpus.pivot]
    mean_mexa = [float(np.mean([scored[1]["mexa"][lang][k] for lang in targets])) for k in range(len(layer_ids))]
    layer = _pick_layer(settings.layer, layer_ids, mean_mexa, encoder.num_layers)
    lid = _language_id(scored[0], corpus.n, settings)
    similarity = _similarity(scored[0], layer, layer_ids)
    report = _report(settings, _corpus_origin(settings, corpus), corpus.n, layer_ids, layer, scored, lid, similarity,
                     encoder.describe(), command, t0)
    return _finish(settings, report, layer, layer_ids)


def _open_embeddings(settings: AnalyzeSettings) -> tuple[dict[str, ShardedEmbeddings], str]:
    """The ``--embeddings`` folders of the chosen languages (pivot first), checked to hold one space
    and line-aligned rows; and the pivot's key.

    Raises:
        ConfigError: a language given twice; folders embedded differently, with skipped lines, or of
        different row counts. UnknownLanguageError: a ``langs`` code or pivot not among them.
        TooFewLanguagesError: no language besides the pivot. ShardError: not an embeddings folder,
        or a shard whose hash does not match.
    """
    given: dict[str, Path] = {}
    for f in settings.embeddings:
        if any(is_same_language(f.lang, l) for l in given):
            raise ConfigError(f"--embeddings: {f.lang} is given twice")
        given[f.lang] = f.path
    context = "the --embeddings languages"
    pivot = match_language(settings.pivot, list(given), context=context)
    chosen = list(given) if settings.langs == ["all"] else \
        [match_language(c, list(given), context=context) for c in ",".join(settings.langs).split(",") if c]
    langs = [pivot] + [l for l in dict.fromkeys(chosen) if l != pivot]
    if len(langs) < 2:
        raise TooFewLanguagesError(f"xlt analyze needs at least one language besides {language_name(pivot)} "
                                   f"({pivot}), got {langs}", list(given))
    folders = {l: ShardedEmbeddings.open(given[l]) for l in langs}
    first = folders[pivot]
    for lang, e in folders.items():
        diff = embedding_differences(first.manifest, e.manifest)
        if diff:
            raise ConfigError(f"--embeddings {given[pivot]} and {given[lang]} were embedded differently "
                              f"({', '.join(diff)})")
        if e.line_aligned_problem:
            raise ConfigError(f"--embeddings {given[lang]}: {e.line_aligned_problem}")
        if e.n_rows != first.n_rows:
            raise ConfigError(f"--embeddings: {given[pivot]} has {first.n_rows} rows, {given[lang]} {e.n_rows}; "
                              "line-aligned languages have as many")
    return folders, pivot


def _run_on_embeddings(settings: AnalyzeSettings, command: list[str] | None, t0: float) -> AnalyzeResult:
    """:func:`run` on ``xlt embed`` folders: no model is loaded; the one layer is the folders'.

    Raises:
        as :func:`_open_embeddings`; DataFormatError: fewer than 2 rows; ConfigError: a ``layer``
        number other than the folders' layer; OutputError: an output that is an input or not empty.
    """
    OutputPlan(inputs=[("--embeddings", [str(f.path) for f in settings.embeddings])],
               outputs=[Output("--out", Path(settings.out))] if settings.out else [],
               overwrite=settings.overwrite).check()
    folders, pivot = _open_embeddings(settings)
    m = folders[pivot].manifest
    n = min(settings.limit, folders[pivot].n_rows) if settings.limit else folders[pivot].n_rows
    if n < 2:
        raise DataFormatError(folders[pivot].folder, 1, f"only {n} row(s); the analysis needs at least 2")
    layer_id = m.get("layer", "last")  # a hidden-state number, or "last" (as xlt embed was told)
    layer_id = int(layer_id) if str(layer_id).lstrip("-").isdigit() else str(layer_id)
    if settings.layer not in ("best", "mean") and str(settings.layer) != str(layer_id):
        raise ConfigError(f"--layer {settings.layer}: the --embeddings folders hold layer {layer_id} only")
    t_enc = time.time()
    vectors = {l: e.to_array()[None, :n].astype(np.float32, copy=False) for l, e in folders.items()}
    per_layer: dict[str, dict[str, list[float]]] = {"mexa": {}, "retrieval_xx_to_eng": {}, "retrieval_eng_to_xx": {}}
    for lang, vec in vectors.items():
        if lang != pivot:
            _score_against_pivot(lang, vec, vectors[pivot], per_layer)
    counts = {l: {"rows": e.n_rows} for l, e in folders.items()}
    scored = (vectors, per_layer, counts, time.time() - t_enc)
    layer = layer_id if settings.layer != "mean" else "mean"
    lid = _language_id(vectors, n, settings)
    similarity = _similarity(vectors, layer, [layer_id])
    files = [f for e in folders.values() for f in sorted(e.folder.iterdir()) if f.name != "report.json"]
    origin = _Origin(list(folders), pivot, "embeddings", {l: str(e.folder) for l, e in folders.items()},
                     m.get("model"), {"lines": n, "skipped_empty": 0, "skipped_lines": [], "ignored_files": []}, files)
    model_info = {"spec": m.get("model"), "fingerprint": m.get("model_fingerprint"),
                  "text_prefix": m.get("text_prefix"), "layer": layer_id, "pooling": m.get("pooling"),
                  "embeddings": {l: str(e.folder) for l, e in folders.items()}}
    report = _report(settings, origin, n, [layer_id], layer, scored, lid, similarity, model_info, command, t0)
    return _finish(settings, report, layer, [layer_id])


def _finish(settings: AnalyzeSettings, report: dict, layer: int | str, layer_ids: list[int]) -> AnalyzeResult:
    """Write the report (with ``settings.out``) and return the run's result."""
    if settings.out:
        write_analysis(settings.out, report)
    return AnalyzeResult(scores=report["scores"], average=report["average"], layer=layer, layers=layer_ids,
                         best_layer=report["best_layer"], per_layer_average=report["per_layer_average"],
                         report=report, out=settings.out)


# --------------------------------------------------------------------------- xlt analyze correlate


@dataclass(kw_only=True)
class CorrelateSettings(Settings):
    """Settings of ``xlt analyze correlate``.

    Attributes:
        alignment: the folder (or report.json) of an ``xlt analyze`` run.
        transfer: the folder (or report.json) of an ``xlt transfer`` run (its source language is
            left out).
        metric: ``mexa`` or ``retrieval`` (xx→eng accuracy); see :data:`xlt.evaluate.analyze.METRIC_KEYS`.
        alignment_layer: the alignment report's layer to correlate: a layer id, ``mean`` (average
            over layers), or None for the report's own ``layer`` (option ``--layer``).
        out: folder for report.json, report.md and correlation.png (None: not written).
        overwrite: write into a non-empty ``out`` (never an input's folder).

    Raises:
        ConfigError: an ``alignment_layer`` that is neither a number nor ``mean``; a missing
        ``alignment`` or ``transfer``.
    """

    alignment: Path = option(help="folder (or report.json) of an xlt analyze run")
    transfer: Path = option(help="folder (or report.json) of an xlt transfer run")
    metric: Literal[CORRELATE_METRICS] = option("mexa", help="alignment score to correlate")
    alignment_layer: str | None = option(None, flag="--layer", metavar="LAYER",
                                         help="a layer number or mean (default: the layer of the alignment report)")
    out: Path | None = option(None, metavar="DIR", help="folder for report.json, report.md and correlation.png")
    overwrite: bool = option(False, help="replace a non-empty --out folder (whole)")

    def __post_init__(self) -> None:
        if isinstance(self.alignment_layer, int) and not isinstance(self.alignment_layer, bool):
            self.alignment_layer = str(self.alignment_layer)  # a layer number given as a number
        super().__post_init__()
        layer = self.alignment_layer
        if layer is not None and layer != "mean" and not layer.lstrip("-").isdigit():
            raise ConfigError(f"--layer {layer}: expected a layer number or mean")


@dataclass
class CorrelationResult:
    """What :func:`run_correlate` found.

    Attributes:
        n: languages paired.
        pearson: ``{"r", "p"}``; spearman: ``{"rho", "p"}`` (NaN when a side is constant).
        layer: the layer correlated (an id or ``mean``).
        best_layer: ``{"pearson", "spearman"}`` → the analysed layer whose alignment correlates best.
        table: one row per language: ``transfer_lang``, ``alignment_lang``, ``alignment``, ``transfer``.
        report: the full report. out: its folder (None: not written).
    """

    n: int
    pearson: dict[str, float]
    spearman: dict[str, float]
    layer: int | str
    best_layer: dict[str, int | None]
    table: list[dict]
    report: dict
    out: Path | None = None


def _read_report(path: str | Path, what: str) -> tuple[Path, dict]:
    """The report.json of a run folder (or the file itself).

    Raises:
        DatasetNotFoundError: no such report. DataFormatError: not JSON, not UTF-8, no ``scores`` table.
    """
    p = Path(path)
    if p.suffix != ".json":
        p = p / "report.json"
    if not p.is_file():
        raise DatasetNotFoundError(f"no {what} report at {p} (give the --out folder of the run)", [p])
    try:
        report = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(p, exc.lineno, f"not valid JSON (truncated or corrupted?): {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(p, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start}): not a report") from None
    if not isinstance(report, dict) or not isinstance(report.get("scores"), dict) or not report["scores"]:
        raise DataFormatError(p, 1, f"not an xlt {what} report: no 'scores' {{language: score}} table")
    return p, report


def _alignment_table(settings: CorrelateSettings, a_path: Path, a_rep: dict) -> tuple[dict, list, int | str]:
    """The alignment report's per-layer table of ``metric``, its layers and the layer to correlate.

    Raises:
        DataFormatError: no such table or no ``layer``. ConfigError: a layer that was not analysed.
    """
    table = (a_rep.get("per_layer") or {}).get(METRIC_KEYS[settings.metric])
    layers = a_rep.get("layers")
    if not isinstance(table, dict) or not isinstance(layers, list):
        raise DataFormatError(a_path, 1, f"not an xlt analyze report: no per-layer "
                                         f"{METRIC_KEYS[settings.metric]!r} table")
    layer = a_rep.get("layer") if settings.alignment_layer is None else settings.alignment_layer
    if layer is None:
        raise DataFormatError(a_path, 1, "not an xlt analyze report: no 'layer'")
    if layer != "mean":
        layer = int(layer)
        if layer not in layers:
            raise ConfigError(f"layer {layer} was not analysed (layers: {layers})")
    return table, layers, layer


def run_correlate(settings: CorrelateSettings, command: list[str] | None = None) -> CorrelationResult:
    """Correlation between a language's alignment score and its zero-shot transfer score.

    Reads ``report.json`` of an ``xlt analyze`` run and of an ``xlt transfer`` run (its source
    language is left out), pairs the languages (:func:`xlt.evaluate.analyze.match_languages`) and
    computes Pearson's r and Spearman's rho with two-sided p-values (scipy.stats) at the layer, and
    again at every analysed layer to show which layer's alignment predicts transfer best.

    Returns:
        a :class:`CorrelationResult`; its report has ``n``, ``pearson`` ``{"r", "p"}``, ``spearman``
        ``{"rho", "p"}``, ``table``, ``per_layer``, ``best_layer``, ``choices``,
        ``unmatched_transfer``, ``unmatched_alignment``, ... .

    Raises:
        ConfigError: a layer that was not analysed. OutputError: ``out`` is an input or not empty.
        DatasetNotFoundError: a report is missing. DataFormatError: a report is not valid JSON or
        lacks the needed tables. TooFewLanguagesError: fewer than 3 languages pair up.
    """
    OutputPlan(inputs=[("--alignment", settings.alignment), ("--transfer", settings.transfer)],
               outputs=[Output("--out", Path(settings.out))] if settings.out else [],
               overwrite=settings.overwrite).check()
    a_path, a_rep = _read_report(settings.alignment, "analyze")
    t_path, t_rep = _read_report(settings.transfer, "transfer")
    table, layers, layer = _alignment_table(settings, a_path, a_rep)
    source = t_rep.get("source")
    t_scores = {k: float(v) for k, v in t_rep["scores"].items()
                if v is not None and k != source and not (source and is_same_language(k, source))}
    m = match_languages(t_scores, table)
    pairs = m["pairs"]
    if len(pairs) < 3:
        raise TooFewLanguagesError(
            f"only {len(pairs)} language(s) of {t_path} match one of {a_path} "
            f"({', '.join(f'{t}={a}' for t, a in pairs.items()) or 'none'}); correlation needs at least 3. "
            f"Transfer languages: {', '.join(t_scores) or 'none'}; alignment languages: {', '.join(table)}",
            list(table))
    rows = [{"transfer_lang": t, "alignment_lang": a, "alignment": value_at_layer(table[a], layers, layer),
             "transfer": t_scores[t]} for t, a in pairs.items()]
    rows.sort(key=lambda r: (-r["alignment"], r["transfer_lang"]))
    ys = [r["transfer"] for r in rows]
    c = correlation([r["alignment"] for r in rows], ys)
    per_layer = [{"layer": lay, **correlation([table[r["alignment_lang"]][k] for r in rows], ys)}
                 for k, lay in enumerate(layers)]
    argv = command if command is not None else sys.argv
    report = {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "correlate",
        "alignment_report": a_path,
        "transfer_report": t_path,
        "alignment_model": a_rep.get("model"),
        "transfer_model": t_rep.get("model"),
        "transfer_task": t_rep.get("task"),
        "transfer_mode": t_rep.get("mode"),
        "transfer_metric": t_rep.get("metric"),
        "transfer_source": source,
        "metric": settings.metric,
        "metric_name": {"mexa": "MEXA (%)", "retrieval": "retrieval xx→eng (%)"}[settings.metric],
        "layer": layer,
        "n": len(rows),
        "pearson": {"r": c["pearson_r"], "p": c["pearson_p"]},
        "spearman": {"rho": c["spearman_rho"], "p": c["spearman_p"]},
        "table": rows,
        "per_layer": per_layer,
        "best_layer": {"pearson": best_layer(per_layer, "pearson_r"), "spearman": best_layer(per_layer, "spearman_rho")},
        "choices": m["choices"],
        "unmatched_transfer": m["unmatched_transfer"],
        "unmatched_alignment": m["unmatched_alignment"],
    }
    if settings.out:
        write_correlation(settings.out, report)
    return CorrelationResult(n=len(rows), pearson=report["pearson"], spearman=report["spearman"], layer=layer,
                             best_layer=report["best_layer"], table=rows, report=report, out=settings.out)
