"""``xlt align fit``, ``eval`` and ``finetune`` as jobs: settings -> parallel text -> model -> maps or encoder
-> report.

``fit`` builds supervision pairs (:mod:`xlt.align.supervision`) for every target language and
fits one :class:`~xlt.align.maps.CrossLingualAligner` per method from the same pairs (the
encoder passes are shared), writing ``FILE`` (one method) or ``FILE``'s stem plus
``.<method>.npz`` (several), and a ``.report.json`` with the pair counts, fit errors and
timings. The maps are those of Schuster et al. 2019 (Procrustes, Smith et al. 2017), Libovický
et al. 2020 (centering) and Wang et al. 2019 (linear).

``eval`` is the word-level retrieval diagnostic (:func:`xlt.align.fit.word_retrieval`): each
target word with a link asks for its nearest English word by cosine, (a) among the words of its
own sentence pair and (b) among all English words of the evaluation set; precision@1 before and
after each aligner, per language and layer, on held-out lines of the parallel corpus and on the
human gold alignments of ``wordalign`` (fr, ro, ja, zh).

``finetune`` fine-tunes the encoder itself (Cao, Kitaev & Klein 2020, "Multilingual Alignment of
Contextual Word Representations"; :mod:`xlt.align.finetune`) and saves it as a model folder.

The computation (corpora, supervision, maps, retrieval) lives in :mod:`xlt.align`; this module
only runs it and writes the reports. :func:`run` runs any of the three by the type of its settings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from xlt.align import supervision as sup
from xlt.align.finetune import AlignmentExample, finetune_alignment, save_aligned_encoder
from xlt.align.fit import (
    check_user_dictionary,
    fit_corpus,
    method_paths,
    open_source,
    parse_layers,
    word_aligner,
    word_retrieval,
)
from xlt.align.maps import METHODS, AlignerError, CrossLingualAligner, parse_method
from xlt.align.words import DTYPES
from xlt.core.outputs import Output, OutputPlan
from xlt.data.langs import same_language
from xlt.data.paths import data_set_folders
from xlt.evaluate.manifest import build_manifest, to_jsonable
from xlt.evaluate.report import write_json
from xlt.jobs import ConfigError, check_layer_list
from xlt.jobs.parts_aligncmds import report_config, same_field
from xlt.jobs.settings import AT_LEAST_0, AT_LEAST_1, POSITIVE, RunSettings, Settings, option
from xlt.models import loading  # loading.load_encoder is looked up at call time (tests replace it)
from xlt.models.cache import FeatureCache
from xlt.models.features import resolve_layers
from xlt.models.words import DEFAULT_WORD_PIECES, WORD_PIECES

__all__ = ["AlignEvalResult", "AlignEvalSettings", "AlignFinetuneResult", "AlignFinetuneSettings", "AlignFitResult",
           "AlignFitSettings", "ParallelSettings", "WordLinkSettings", "run", "run_align_eval", "run_align_finetune",
           "run_align_fit"]

_WORD_PIECES = tuple(WORD_PIECES)
PARALLEL_HELP = ("parallel text with an English side: ntrex (default); a folder of line-aligned files named by "
                 "language (en.txt, de.txt, ... or newstest2019-ref.deu.txt); one 'src ||| tgt' or 'src<TAB>tgt' "
                 "file; or two line-aligned files SRC_FILE TGT_FILE")


# --------------------------------------------------------------------------- shared parts


@dataclass(kw_only=True)
class ParallelSettings(Settings):
    """Parallel text.

    The corpus with an English side that ``align`` commands read, and its held-out lines.

    Attributes:
        parallel: ``["ntrex"]`` or a user's corpus: one folder or file, or two line-aligned files
            (see :func:`xlt.data.parallel.open_parallel`); :attr:`parallel_source` is the form the
            library takes.
        src_lang, tgt_lang: languages of a user's pair whose file names do not give them.
        heldout: the corpus's final lines kept apart for ``xlt align eval`` (fit, finetune) or
            scored by it (eval): give all commands the same number.

    Raises:
        ConfigError: more than two paths in ``parallel``; any field's own check.
    """

    parallel: list[str] = option(default_factory=lambda: ["ntrex"], nargs="+", metavar="ntrex|DIR|FILE",
                                 help=PARALLEL_HELP)
    src_lang: str | None = option(None, help="language of the first file / left side of a --parallel pair")
    tgt_lang: str | None = option(None, help="language of the second file / right side of a --parallel pair")
    heldout: int = option(200, help="final parallel lines kept apart for 'xlt align eval'", check=AT_LEAST_0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.parallel) > 2:
            raise ConfigError(f"--parallel takes ntrex, one folder or file, or two line-aligned files; "
                              f"got {len(self.parallel)} paths")

    @property
    def parallel_source(self) -> str | list[str]:
        """``parallel`` as :func:`xlt.align.fit.open_source` takes it (and reports echo it): ``"ntrex"``,
        one path, or a list of two."""
        return self.parallel[0] if len(self.parallel) == 1 else list(self.parallel)


@dataclass(kw_only=True)
class WordLinkSettings(ParallelSettings):
    """Parallel text and its word links.

    What ``fit`` and ``finetune`` learn from: the target languages' fitting lines and their
    one-to-one argmax links (SimAlign, Jalili Sabet et al. 2020).

    Attributes:
        langs: target codes, task names (``udpos``, ``panx``: their targets with parallel text) or ``all``.
        max_sentences: parallel lines used (None: all but the held-out ones).
        align_layer, align_dtype: the word aligner's layer and precision.
        word_pieces: which subword pieces give a word its vector and are its alignment units
            (:data:`xlt.models.words.WORD_PIECES`); a probe must read words the same way to use the result.
        seed: the seed of sampling and training.
    """

    langs: list[str] = option(default_factory=lambda: ["all"],
                              help="target languages (codes), task names (udpos, panx: their targets with parallel "
                                   "text) or all; with --dictionary FILE, the one language of the file")
    max_sentences: int | None = option(None, help="parallel lines used (default: all but --heldout)", check=AT_LEAST_1)
    align_layer: int = option(8, help="word aligner layer")
    align_dtype: Literal[DTYPES] = option("float32", help="word aligner precision")
    word_pieces: Literal[_WORD_PIECES] = option(DEFAULT_WORD_PIECES,
                                                help="which subword pieces give a word its vector (as 'xlt "
                                                     "transfer --word-pieces')")
    seed: int = option(0, help="seed", check=AT_LEAST_0)


def _fit_corpus(settings: AlignFitSettings | AlignFinetuneSettings):
    """``(fitting corpus, {task: targets without parallel text})`` (:func:`xlt.align.fit.fit_corpus`)."""
    return fit_corpus(settings.parallel_source, ",".join(settings.langs), src_lang=settings.src_lang,
                      tgt_lang=settings.tgt_lang, data_dir=settings.data_dir, heldout=settings.heldout,
                      max_sentences=settings.max_sentences)


def _required_out(settings) -> None:
    if settings.out is None:
        raise ConfigError("the following settings are required: --out")


# --------------------------------------------------------------------------- fit


@dataclass(kw_only=True)
class AlignFitSettings(RunSettings, WordLinkSettings):
    """Settings of ``xlt align fit`` (with :class:`WordLinkSettings`, :class:`ParallelSettings` and
    :class:`~xlt.jobs.settings.RunSettings`).

    Attributes:
        out: the map file (``.npz``; required); with several methods, the stem of one file per method.
        methods: :data:`~xlt.align.maps.METHODS` (``--method``), fitted from one encoder pass.
        supervision: ``parallel`` (word-aligned parallel text) or ``dictionary``; None (the default):
            ``dictionary`` when ``dictionary`` is given, else ``parallel`` (resolved at construction).
        layers: ``["all"]`` (embeddings and every layer) or hidden-state indices.
        dictionary: ``wiktionary`` (``dict/``, the default), ``bli`` (``bli/``, 5k training sets) or a
            user's dictionary file (``english<TAB>foreign`` or ``english foreign``) for the one
            language of ``langs``.
        max_pairs: per-language cap on supervision pairs (seeded subsample; 0 or None: no cap).
        cache_dir: an on-disk feature cache folder.

    Raises:
        ConfigError: no ``out``; an unknown method; ``dictionary`` with ``supervision="parallel"``;
        a layer that is not ``all``, ``last`` or a number; any field's own check.
    """

    out: Path | None = same_field(RunSettings, "out", help="map file (.npz); with several methods, "
                                                           "<stem>.<method>.npz each (required)")
    methods: list[str] = option(default_factory=lambda: ["procrustes"], flag="--method", metavar="METHOD",
                                help=f"one or several (comma-separated) of: {', '.join(METHODS)}; several share "
                                     "one encoder pass")
    supervision: Literal["parallel", "dictionary"] | None = option(
        None, help="parallel (default) or dictionary (the default when --dictionary is given)")
    layers: list[str] = option(default_factory=lambda: ["all"],
                               help="all (embeddings and every layer) or comma-separated indices")
    dictionary: str | None = option(None, metavar="wiktionary|bli|FILE",
                                    help="dictionary supervision (default wiktionary): wiktionary "
                                         "(dict/en-<language>.txt), bli (bli/en-xx 5k training sets), or your file "
                                         "of 'english<TAB>foreign' or 'english foreign' lines for the one language "
                                         "of --langs; implies --supervision dictionary")
    max_pairs: int | None = option(50000, help="per-language cap on pairs (0 = no cap)", check=AT_LEAST_0)
    cache_dir: Path | None = option(None, help="on-disk feature cache folder")

    def __post_init__(self) -> None:
        super().__post_init__()
        _required_out(self)
        try:
            canonical = [parse_method(m) for m in self.methods]
        except AlignerError as exc:
            raise ConfigError(str(exc)) from None
        if not canonical:
            raise ConfigError(f"no method given; choose from {', '.join(METHODS)}")
        if self.dictionary and self.supervision == "parallel":
            raise ConfigError("--dictionary is for --supervision dictionary; leave out one of them")
        if self.supervision is None:
            self.supervision = "dictionary" if self.dictionary else "parallel"
        if self.max_pairs == 0:
            self.max_pairs = None
        if len(self.layers) > 1 and {"all", "last"} & set(self.layers) or not all(
                l in ("all", "last") or l.lstrip("-").isdigit() for l in self.layers):
            raise ConfigError(f"--layers {','.join(self.layers)}: expected 'all', 'last' or comma-separated layer "
                              "numbers")

    @property
    def method_names(self) -> list[str]:
        """``methods`` in their canonical spelling (``'center + procrustes'`` -> ``'center+procrustes'``)."""
        return [parse_method(m) for m in self.methods]

    @property
    def dictionary_kind(self) -> str:
        """``dictionary``, or ``wiktionary`` when none is given."""
        return self.dictionary or "wiktionary"


@dataclass
class AlignFitResult:
    """What :func:`run_align_fit` wrote.

    Attributes:
        files: method -> the map file.
        supervision: language -> supervision counts (``n_pairs``, ...).
        fit_error: method -> language -> layer -> the map's fit error.
        layers: the hidden-state indices mapped.
        seconds: ``supervision``, ``fit`` and ``total``.
        report: the report (as written to ``<stem>.report.json``). report_path: that file.
    """

    files: dict[str, Path]
    supervision: dict[str, dict]
    fit_error: dict[str, dict]
    layers: list[int]
    seconds: dict[str, float]
    report: dict[str, Any]
    report_path: Path


_FIT_KEYS = ("out", "overwrite", "methods", "supervision", "langs", "model", "layers", "dictionary", "align_layer",
             "align_dtype", "max_sentences", "heldout", "max_pairs", "seed", "data_dir", "cache_dir", "parallel",
             "src_lang", "tgt_lang", "word_pieces")


def _fit_report_path(out: Path) -> Path:
    """``<stem>.report.json`` beside the maps (their stem, as :func:`xlt.align.fit.method_paths`, dots and all)."""
    return out.with_name((out.name[:-4] if out.name.endswith(".npz") else out.name) + ".report.json")


def _fit_inputs(settings: AlignFitSettings):
    """Every input of a fit, read and checked before the model loads, and the output rule.

    Returns:
        ``(corpus, tasks' targets without parallel text, dictionary files, dictionaries)``.
    """
    check_user_dictionary(settings.supervision, settings.dictionary_kind, ",".join(settings.langs))
    check_layer_list(settings.model, ",".join(settings.layers))
    corpus, no_text = _fit_corpus(settings)
    dict_files, dictionaries = {}, {}
    if settings.supervision == "dictionary":
        dict_files = sup.dictionary_files(settings.dictionary_kind, list(corpus.targets), settings.data_dir)
        # read now, so that a malformed line fails before any encoding
        dictionaries = {lang: sup.read_dictionary(p) for lang, p in dict_files.items()}
    outputs = [Output("--out", path, "file") for path in method_paths(settings.out, settings.method_names).values()]
    outputs.append(Output("--out (report)", _fit_report_path(settings.out), "file"))
    if settings.cache_dir:
        outputs.append(Output("--cache-dir", settings.cache_dir, "store"))
    OutputPlan(inputs=[("--parallel", list(corpus.files.values()) + list(dict_files.values())),
                       ("--model", settings.model), ("--data-dir", data_set_folders(settings.data_dir))],
               outputs=outputs, overwrite=settings.overwrite).check()
    return corpus, no_text, dict_files, dictionaries


def _supervision(settings: AlignFitSettings, encoder, corpus, dictionaries: dict, layer_ids: list[int]):
    """``(stream of per-language supervision pairs, info recorded in the maps)``."""
    cache = FeatureCache(settings.cache_dir) if settings.cache_dir else None
    lines = [corpus.lines[0], corpus.lines[-1]] if corpus.lines else []  # first and last line used
    info = {"supervision": settings.supervision, "langs_requested": ",".join(settings.langs), "parallel": corpus.name,
            "lines": lines, "ntrex_lines": list(lines),  # the same, older name
            "n_sentences": len(corpus.source), "word_pieces": settings.word_pieces}
    common = dict(layers=layer_ids, max_pairs=settings.max_pairs, seed=settings.seed, cache=cache,
                  progress=settings.progress, word_pieces=settings.word_pieces)
    if settings.supervision == "parallel":
        aligner = word_aligner(encoder, settings.align_layer, settings.align_dtype, settings.progress,
                               settings.word_pieces)
        info["word_aligner"] = {k: v for k, v in aligner.describe().items() if k != "model"}
        return sup.parallel_pairs(encoder, corpus, aligner, **common), info
    info["dictionary"] = settings.dictionary_kind
    info["monolingual_text"] = f"{corpus.name} fitting lines of each language, used as independent monolingual text"
    return sup.dictionary_pairs(encoder, dictionaries, corpus.source, corpus.targets, **common), info


def _fit_all(stream, aligners: dict[str, CrossLingualAligner], n_langs: int, progress: bool):
    """Fit every aligner on each language's pairs as the stream yields them.

    Returns:
        ``(supervision counts per language, seconds building supervision, seconds fitting)``.
    """
    t_sup = t_fit = 0.0
    ts = time.time()
    counts: dict[str, dict] = {}
    for pairs in tqdm(stream, total=n_langs, desc="languages", disable=not progress):
        tf = time.time()
        t_sup += tf - ts
        by_layer, x_mean, y_mean = pairs.by_layer()
        for al in aligners.values():
            al.fit_language(pairs.lang, by_layer, x_mean=x_mean, y_mean=y_mean, supervision=pairs.stats)
        counts[pairs.lang] = pairs.stats
        del by_layer, pairs
        ts = time.time()
        t_fit += ts - tf
    return counts, t_sup, t_fit


def run_align_fit(settings: AlignFitSettings, command: list[str] | None = None) -> AlignFitResult:
    """Fit maps for every target language with every method, save them, and report.

    Returns:
        an :class:`AlignFitResult`; its report (also written next to the first output file as
        ``<stem>.report.json``): ``files`` per method, ``supervision`` counts per language,
        ``fit_error`` per method, language and layer, ``seconds`` (``supervision``, ``fit`` and
        ``total``), ``config``, ``manifest``.

    Raises:
        AlignerError: a language without supervision pairs or without a dictionary;
        UnknownLanguageError: a language without parallel text, a corpus without English;
        FileLanguageError: a user file whose name gives no language; DataFormatError: malformed
        input (file and line named); DatasetError: a user dictionary with other than one language,
        ``heldout`` too large; ConfigError: a layer outside the model. All before the model is loaded.
    """
    import torch  # lazy: heavy import

    t0 = time.time()
    torch.manual_seed(settings.seed)
    methods = settings.method_names
    corpus, no_text, dict_files, dictionaries = _fit_inputs(settings)
    encoder = loading.load_encoder(settings.model, device="auto", **settings.encoder_options())
    layer_ids, _ = resolve_layers(parse_layers(",".join(settings.layers)), encoder.num_layers)
    stream, info = _supervision(settings, encoder, corpus, dictionaries, layer_ids)
    model_info = encoder.describe()
    aligners = {m: CrossLingualAligner(m, "eng", layer_ids, model_info, info=dict(info)) for m in methods}
    counts, t_sup, t_fit = _fit_all(stream, aligners, len(corpus.targets), settings.progress)
    paths = method_paths(settings.out, methods)
    files = {m: str(aligners[m].save(paths[m])) for m in methods}
    fit_error = {m: {lang: {str(k): mp.fit_error for k, mp in by.items()} for lang, by in al.maps.items()}
                 for m, al in aligners.items()}
    data_files = list(dict.fromkeys(list(corpus.files.values()) + list(dict_files.values())))
    cfg = {**report_config(settings, _FIT_KEYS, joined=("methods", "langs", "layers")),
           "dictionary": settings.dictionary_kind, "parallel": settings.parallel_source}
    seconds = {"supervision": round(t_sup, 1), "fit": round(t_fit, 1), "total": round(time.time() - t0, 1)}
    report = {
        "command": command, "files": files, "methods": methods, "supervision": counts,
        "languages_without_ntrex": no_text, "languages_without_parallel_text": no_text, "layers": layer_ids,
        "fit_error": fit_error, "seconds": seconds, "n_languages": len(counts), "info": info, "config": cfg,
        "manifest": build_manifest(cfg, data_files, model_info, [settings.seed]),
    }
    report_path = _fit_report_path(settings.out)
    write_json(report_path, to_jsonable(report))
    return AlignFitResult(files={m: Path(f) for m, f in files.items()}, supervision=counts, fit_error=fit_error,
                          layers=layer_ids, seconds=seconds, report=report, report_path=report_path)


# --------------------------------------------------------------------------- eval


@dataclass(kw_only=True)
class AlignEvalSettings(RunSettings, ParallelSettings):
    """Settings of ``xlt align eval`` (with :class:`ParallelSettings` and :class:`~xlt.jobs.settings.RunSettings`).

    Attributes:
        aligner: saved aligners (all for the same model and layers); empty: score ``model``'s own
            vectors (e.g. a fine-tuning-aligned encoder) at every layer (``langs`` then required).
        langs: target codes (default: the languages of the first aligner).
        model: the model spec (default: the first aligner's).
        parallel: give the corpus the maps were fitted on (and the same ``heldout``), so that the
            held-out lines are unseen.
        align_layer: the word aligner's layer for the held-out evaluation links.
        gold: also score on the human-aligned ``wordalign`` sets (fr, ro, ja, zh) of languages every
            aligner covers (sure one-to-one links; not circular).
        word_pieces: how words get their vectors (default: the aligners' setting, which must agree;
            without aligners the default setting).
        out: a JSON report file (None: not written).
    """

    aligner: list[Path] = option(default_factory=list, nargs="*", metavar="FILE",
                                 help="map file(s) from 'xlt align fit' (none: score --model's own vectors, e.g. a "
                                      "fine-tuning-aligned encoder; --langs is then required)")
    langs: list[str] = option(default_factory=list, help="target languages (default: the first map file's)")
    model: str | None = option(None, help="model spec (default: the one the maps were fitted on)")
    align_layer: int = option(8, help="word aligner layer")
    gold: bool = option(True, help="score on the human-aligned wordalign sets too",
                        negative_help="skip the human-aligned wordalign sets")
    word_pieces: Literal[_WORD_PIECES] | None = option(None, help="how words get their vectors (default: the maps' "
                                                                  "setting)")
    out: Path | None = same_field(RunSettings, "out", help="JSON report")
    overwrite: bool = same_field(RunSettings, "overwrite", help="replace an existing --out file")


@dataclass
class AlignEvalResult:
    """What :func:`run_align_eval` measured.

    Attributes:
        results: ``{"ntrex"|"parallel": {"before"|<aligner file>: {lang: {layer: {"sentence", "all"}}}},
            "gold": {...}}``: word retrieval P@1 (%) within the sentence pair and among all English words.
        summary: the same averaged over languages: ``{set: {name: {layer: {"sentence", "all"}}}}``.
        report: the report (written to ``out`` when set).
    """

    results: dict[str, dict]
    summary: dict[str, dict]
    report: dict[str, Any]


def _retrieval_table(encoder, corpus, links_of, aligners: dict, layers: list[int], word_pieces: str,
                     progress: bool) -> dict:
    """Word retrieval P@1 per language and layer, before and after each aligner (``links_of(lang,
    sentences)``: the links scored)."""
    table: dict[str, dict] = {"before": {}, **{f: {} for f in aligners}}
    eng, _ = sup.word_vectors(encoder, corpus.source, layers, progress=progress, word_pieces=word_pieces)
    for lang, sents in tqdm(corpus.targets.items(), desc="languages", disable=not progress):
        links = links_of(lang, sents)
        tgt, _ = sup.word_vectors(encoder, sents, layers, progress=progress, word_pieces=word_pieces)
        table["before"][lang] = word_retrieval(eng, tgt, links, layers)
        for f, al in aligners.items():
            table[f][lang] = word_retrieval(eng, tgt, links, layers, transform=al, lang=lang)
    return table


def _gold_tables(score, targets, data_dir) -> dict:
    """The retrieval tables on the human-aligned sets of the languages among ``targets``."""
    gold: dict[str, dict] = {}
    for code, _ in sup.GOLD_SETS.values():
        key = next((l for l in targets if same_language(l, code)), None)
        if key is None:
            continue
        gcorp, glinks = sup.gold_corpus(key, data_dir)
        for name, t in score(gcorp, lambda lang, sents, gl=glinks: gl).items():
            gold.setdefault(name, {}).update(t)
    return gold


def run_align_eval(settings: AlignEvalSettings, command: list[str] | None = None) -> AlignEvalResult:
    """Word retrieval before and after each aligner: held-out parallel lines, and human gold links.

    Returns:
        an :class:`AlignEvalResult`; its report: ``{"results": {"ntrex": {"before": {lang: {layer:
        scores}}, "<file>": {...}}, "gold": {...}}, "summary": {"ntrex"|"gold": {name: {layer: mean
        scores}}}, ...}``; the held-out set's key is ``ntrex`` for NTREX and ``parallel`` for a user's
        corpus (``heldout_set`` says which).

    Raises:
        AlignerError: aligners for different models, a language one of them lacks, no aligner without
        ``model`` and ``langs``. UnknownLanguageError, FileLanguageError, DataFormatError, DatasetError:
        as :func:`run_align_fit`, before the model is loaded. OutputError, FileExistsError: ``out``
        breaks the output rule (:class:`~xlt.core.outputs.OutputPlan`).
    """
    t0 = time.time()
    OutputPlan(inputs=[("--aligner", [str(f) for f in settings.aligner]), ("--parallel", settings.parallel_source),
                       ("--model", settings.model), ("--data-dir", data_set_folders(settings.data_dir))],
               outputs=[Output("--out", settings.out, "file")], overwrite=settings.overwrite).check()
    aligners = {str(f): CrossLingualAligner.load(f) for f in settings.aligner}
    first = next(iter(aligners.values()), None)
    if first is None and not (settings.model and settings.langs):
        raise AlignerError("without aligner files, give --model and --langs (scores the model's own vectors)")
    source, _ = open_source(settings.parallel_source, settings.src_lang, settings.tgt_lang, settings.data_dir)
    corpus = sup.read_parallel_corpus(source, ",".join(settings.langs) or ",".join(first.languages), settings.data_dir,
                                      part="heldout", heldout=settings.heldout)
    set_key = "ntrex" if corpus.name == "NTREX" else "parallel"
    encoder = loading.load_encoder(settings.model or first.model["spec"], device="auto", **settings.encoder_options())
    layers = first.layers if first else resolve_layers("all", encoder.num_layers)[0]
    word_pieces = settings.word_pieces or (first.word_pieces if first else DEFAULT_WORD_PIECES)
    for al in aligners.values():
        al.check(encoder.describe(), layers, list(corpus.targets), word_pieces=word_pieces)
    wa = word_aligner(encoder, settings.align_layer, "float32", settings.progress, word_pieces)

    def score(corp, links_of) -> dict:
        return _retrieval_table(encoder, corp, links_of, aligners, layers, word_pieces, settings.progress)

    results = {set_key: score(corpus, lambda lang, sents: sup.link_pairs(wa, corpus.source, sents)[0])}
    if settings.gold:
        gold = _gold_tables(score, corpus.targets, settings.data_dir)
        if gold:
            results["gold"] = gold
    summary = {src: {name: _layer_means(t, layers) for name, t in tables.items()} for src, tables in results.items()}
    report = {"command": command, "aligners": {f: al.describe() for f, al in aligners.items()},
              "parallel": corpus.name, "heldout_set": set_key,
              "heldout_lines": corpus.lines[:1] + corpus.lines[-1:], "align_layer": settings.align_layer,
              "results": results, "summary": summary, "seconds": round(time.time() - t0, 1)}
    if set_key == "ntrex":
        report["ntrex_heldout_lines"] = report["heldout_lines"]
    if settings.out:
        write_json(settings.out, report)
    return AlignEvalResult(results=results, summary=summary, report=report)


def _layer_means(table: dict, layers: list[int]) -> dict:
    """Per layer, the scores averaged over the languages of ``table`` (``{lang: {layer: scores}}``)."""
    return {k: {m: float(np.mean([table[l][k][m] for l in table])) for m in ("sentence", "all")} for k in layers}


# --------------------------------------------------------------------------- finetune


@dataclass(kw_only=True)
class AlignFinetuneSettings(RunSettings, WordLinkSettings):
    """Settings of ``xlt align finetune`` (Cao et al. 2020; with :class:`WordLinkSettings`,
    :class:`ParallelSettings` and :class:`~xlt.jobs.settings.RunSettings`).

    Attributes:
        out: the output model folder (loadable by ``xlt transfer --model``; required).
        loss: ``l2`` or ``contrastive``. reg_weight: weight of the source-vector regulariser.
        layer: hidden state aligned (-1 = last, as Cao et al.).
        epochs, batch_size, lr: optimisation.

    Raises:
        ConfigError: no ``out``; any field's own check.
    """

    updates_encoder = True  # trains the encoder: no --backend onnx / --int8 (RunSettings.updates_encoder)
    out: Path | None = same_field(RunSettings, "out", help="output model folder (for 'xlt transfer --model') "
                                                           "(required)")
    loss: Literal["l2", "contrastive"] = option("l2", help="the alignment loss")
    reg_weight: float = option(1.0, help="weight of the English-vector regulariser", check=AT_LEAST_0)
    layer: int = option(-1, help="hidden state to align (-1 = last, as Cao et al.)")
    epochs: int = option(1, help="passes over the links", check=AT_LEAST_1)
    batch_size: int = option(16, help="sentence pairs per step", check=AT_LEAST_1)
    lr: float = option(5e-5, help="learning rate", check=POSITIVE)

    def __post_init__(self) -> None:
        super().__post_init__()
        _required_out(self)


@dataclass
class AlignFinetuneResult:
    """What :func:`run_align_finetune` wrote.

    Attributes:
        out: the model folder. links: language -> link counts. history: the training history.
        stats: training statistics (``n_links_used``, ...). report: the report (also
        ``<out>/alignment_report.json``).
    """

    out: Path
    links: dict[str, dict]
    history: list
    stats: dict[str, Any]
    report: dict[str, Any]


_FINETUNE_KEYS = ("out", "overwrite", "langs", "model", "loss", "reg_weight", "layer", "align_layer", "align_dtype",
                  "max_sentences", "heldout", "epochs", "batch_size", "lr", "seed", "data_dir", "parallel", "src_lang",
                  "tgt_lang", "word_pieces")


def _link_examples(settings: AlignFinetuneSettings, encoder, corpus) -> tuple[list[AlignmentExample], dict]:
    """One :class:`~xlt.align.finetune.AlignmentExample` per sentence pair with links, and the link
    counts per language.

    Raises:
        AlignerError: a language without any one-to-one link.
    """
    wa = word_aligner(encoder, settings.align_layer, settings.align_dtype, settings.progress, settings.word_pieces)
    examples, counts = [], {}
    for lang, sents in tqdm(corpus.targets.items(), desc="word alignment", disable=not settings.progress):
        links, stats = sup.link_pairs(wa, corpus.source, sents)
        if not any(links):
            raise AlignerError(f"{lang}: no one-to-one links in {len(sents)} {corpus.name} sentence pairs; "
                               "no supervision")
        counts[lang] = stats
        examples += [AlignmentExample(lang=lang, source=s, target=t, links=set(l))
                     for s, t, l in zip(corpus.source, sents, links) if l]
    return examples, counts


def run_align_finetune(settings: AlignFinetuneSettings, command: list[str] | None = None) -> AlignFinetuneResult:
    """Fine-tune the encoder so that word-aligned words of parallel text get close vectors, and save it.

    The links are the one-to-one argmax links of :func:`xlt.align.supervision.link_pairs`
    (the same supervision as ``xlt align fit --supervision parallel``).

    Returns:
        an :class:`AlignFinetuneResult`; its report (also written as ``<out>/alignment_report.json``):
        link counts per language, training history, seconds, config and manifest.

    Raises:
        AlignerError: a language without links; UnknownLanguageError: a language without parallel
        text; FileLanguageError, DataFormatError, DatasetError: a bad user corpus (all input errors
        before the model loads).
    """
    import torch  # lazy: heavy import

    t0 = time.time()
    torch.manual_seed(settings.seed)
    corpus, no_text = _fit_corpus(settings)
    OutputPlan(inputs=[("--parallel", list(corpus.files.values())), ("--model", settings.model),
                       ("--data-dir", data_set_folders(settings.data_dir))],
               outputs=[Output("--out", settings.out)], overwrite=settings.overwrite).check()
    encoder = loading.load_encoder(settings.model, device="auto")
    examples, counts = _link_examples(settings, encoder, corpus)
    t_align = time.time() - t0
    res = finetune_alignment(encoder, examples, loss=settings.loss, layer=settings.layer,
                             reg_weight=settings.reg_weight, epochs=settings.epochs, batch_size=settings.batch_size,
                             lr=settings.lr, seed=settings.seed, progress=settings.progress,
                             word_pieces=settings.word_pieces)
    cfg = {**report_config(settings, _FINETUNE_KEYS, joined=("langs",)), "parallel": settings.parallel_source}
    meta = {"method": "finetune", "paper": "Cao, Kitaev & Klein 2020", "loss": settings.loss,
            "languages": list(corpus.targets), "base_model": encoder.describe(), "config": cfg,
            "parallel": corpus.name, "links": {l: c["n_links_one_to_one"] for l, c in counts.items()},
            "stats": res.stats}
    out = save_aligned_encoder(res, settings.out, meta=to_jsonable(meta), overwrite=settings.overwrite)
    report = {"command": command, "out": str(out), "links": counts, "languages_without_ntrex": no_text,
              "languages_without_parallel_text": no_text, "parallel": corpus.name,
              "history": res.history, "stats": res.stats,
              "seconds": {"word_alignment": round(t_align, 1), "total": round(time.time() - t0, 1)},
              "config": cfg, "manifest": build_manifest(cfg, list(dict.fromkeys(corpus.files.values())),
                                                        encoder.describe(), [settings.seed])}
    write_json(Path(out) / "alignment_report.json", to_jsonable(report))
    return AlignFinetuneResult(out=Path(out), links=counts, history=res.history, stats=res.stats, report=report)


def run(settings: AlignFitSettings | AlignEvalSettings | AlignFinetuneSettings,
        command: list[str] | None = None) -> AlignFitResult | AlignEvalResult | AlignFinetuneResult:
    """:func:`run_align_fit`, :func:`run_align_eval` or :func:`run_align_finetune`, by the settings' type."""
    if isinstance(settings, AlignEvalSettings):
        return run_align_eval(settings, command)
    if isinstance(settings, AlignFinetuneSettings):
        return run_align_finetune(settings, command)
    return run_align_fit(settings, command)
