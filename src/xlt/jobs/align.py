"""``xlt align fit``, ``eval`` and ``finetune`` as jobs: config -> parallel text -> model -> maps or encoder -> report.

``fit`` builds supervision pairs (:mod:`xlt.align.supervision`) for every target language and
fits one :class:`~xlt.align.maps.CrossLingualAligner` per method from the same pairs (the
encoder passes are shared), writing ``FILE`` (one method) or ``FILE``'s stem plus
``.<method>.npz`` (several), and a ``.report.json`` with the pair counts, fit errors and
timings.

``eval`` is the word-level retrieval diagnostic (:func:`xlt.align.fit.word_retrieval`): each
target word with a link asks for its nearest English word by cosine, (a) among the words of its
own sentence pair and (b) among all English words of the evaluation set; precision@1 before and
after each aligner, per language and layer, on held-out lines of the parallel corpus and on the
human gold alignments of ``wordalign`` (fr, ro, ja, zh).

``finetune`` fine-tunes the encoder itself (Cao et al. 2020, :mod:`xlt.align.finetune`) and saves
it as a model folder.

The computation (corpora, supervision, maps, retrieval) lives in :mod:`xlt.align`; this module
only runs it and writes the reports.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from xlt.align import supervision as sup
from xlt.align.finetune import AlignmentExample, finetune_alignment, save_aligned_encoder
from xlt.align.fit import (SUPERVISION, check_user_dictionary, fit_corpus, method_paths, open_source,
                           parse_layers, word_aligner, word_retrieval)
from xlt.align.maps import METHODS, AlignerError, CrossLingualAligner, parse_method
from xlt.evaluate.manifest import build_manifest, to_jsonable
from xlt.evaluate.report import write_json
from xlt.core.outputs import Output, OutputPlan
from xlt.data.paths import data_set_folders
from xlt.jobs import check_layer_list
from xlt.models.cache import FeatureCache
from xlt.models.features import resolve_layers
from xlt.models import loading  # loading.load_encoder is looked up at call time (tests replace it)
from xlt.models.loading import DEFAULT_MODEL
from xlt.models.words import DEFAULT_WORD_PIECES, check_word_pieces


def _check_word_pieces(word_pieces: str) -> None:
    try:
        check_word_pieces(word_pieces)
    except ValueError as exc:
        raise AlignerError(str(exc)) from None


@dataclass
class AlignFitConfig:
    """Settings of ``xlt align fit`` (echoed in its report).

    Attributes:
        out: output file (``.npz``); with several methods, the stem of one file per method.
        methods: comma-separated :data:`~xlt.align.maps.METHODS`.
        supervision: ``parallel`` (word-aligned parallel text) or ``dictionary``.
        langs: comma-separated target codes, task names (their targets with parallel text) or ``all``.
        model: model spec. layers: ``all`` or comma-separated hidden-state indices.
        dictionary: ``wiktionary`` (``dict/``), ``bli`` (``bli/``, 5k training sets) or the path
            of a user's dictionary file (``english<TAB>foreign`` or ``english foreign``) for the
            one language of ``langs``.
        align_layer, align_dtype: the word aligner's layer and precision (parallel supervision).
        max_sentences: parallel lines used for fitting (None = all but the held-out ones).
        heldout: final parallel lines kept for ``xlt align eval``.
        max_pairs: per-language cap on supervision pairs (seeded subsample).
        parallel: ``ntrex`` or a user's corpus (a path or a list of one or two paths; see
            :func:`xlt.data.parallel.open_parallel`): the parallel supervision, and the
            monolingual text of dictionary supervision. It needs an English side.
        src_lang, tgt_lang: languages of a user's pair whose file names do not give them.
        word_pieces: which subword pieces give a word its vector and are its word-alignment units
            (:data:`xlt.models.words.WORD_PIECES`); recorded in the maps, and a probe must read
            words the same way (``xlt transfer --word-pieces``) to apply them.
    """

    out: str
    overwrite: bool = False
    methods: str = "procrustes"
    supervision: str = "parallel"
    langs: str = "all"
    model: str = DEFAULT_MODEL
    layers: str = "all"
    dictionary: str = "wiktionary"
    align_layer: int = 8
    align_dtype: str = "float32"
    max_sentences: int | None = None
    heldout: int = 200
    max_pairs: int | None = 50000
    seed: int = 0
    data_dir: str | None = None
    cache_dir: str | None = None
    progress: bool = True
    parallel: str | list[str] = "ntrex"
    src_lang: str | None = None
    tgt_lang: str | None = None
    word_pieces: str = DEFAULT_WORD_PIECES


def _fit_corpus(config):
    """:func:`xlt.align.fit.fit_corpus` with a config's settings."""
    return fit_corpus(config.parallel, config.langs, src_lang=config.src_lang, tgt_lang=config.tgt_lang,
                      data_dir=config.data_dir, heldout=config.heldout, max_sentences=config.max_sentences)


def _check_fit_outputs(config: AlignFitConfig, methods: list[str], inputs: list) -> None:
    """The output rule for the map files and their report (:class:`~xlt.core.outputs.OutputPlan`):
    none may equal or lie inside an input (the corpus, dictionaries, the model or data folder, the
    feature cache), none may be there already unless ``overwrite``."""
    out = Path(config.out)
    stem = out.name[:-4] if out.name.endswith(".npz") else out.name
    outputs = [Output("--out", path, "file") for path in method_paths(config.out, methods).values()]
    outputs.append(Output("--out (report)", out.with_name(stem + ".report.json"), "file"))
    if config.cache_dir:
        outputs.append(Output("--cache-dir", Path(config.cache_dir), "store"))
    OutputPlan(inputs=[("--parallel", inputs), ("--model", config.model),
                       ("--data-dir", data_set_folders(config.data_dir))],
               outputs=outputs, overwrite=config.overwrite).check()


def run_align_fit(config: AlignFitConfig, command: list[str] | None = None) -> dict:
    """Fit maps for every target language with every method, save them, and report.

    Returns:
        the report (also written next to the first output file as ``<stem>.report.json``):
        ``files`` per method, ``supervision`` counts per language, ``fit_error`` per method,
        language and layer, ``seconds`` (``supervision``, ``fit`` and ``total``), ``config``,
        ``manifest``.

    Raises:
        AlignerError: unknown method or supervision, a language without supervision pairs or
        without a dictionary; UnknownLanguageError: a language without parallel text, a corpus
        without English; FileLanguageError: a user file whose name gives no language;
        DataFormatError: malformed input (file and line named); DatasetError: a user dictionary
        with other than one language, ``heldout`` too large. All before the model is loaded.
    """
    import torch

    t0 = time.time()
    methods = [parse_method(m) for m in config.methods.split(",") if m.strip()]
    if not methods:
        raise AlignerError(f"no method given; choose from {', '.join(METHODS)}")
    if config.supervision not in SUPERVISION:
        raise AlignerError(f"supervision must be one of {SUPERVISION}, got {config.supervision!r}")
    torch.manual_seed(config.seed)
    _check_word_pieces(config.word_pieces)
    check_user_dictionary(config.supervision, config.dictionary, config.langs)
    check_layer_list(config.model, config.layers)
    corpus, no_text = _fit_corpus(config)
    dict_files, dictionaries = {}, {}
    if config.supervision == "dictionary":
        dict_files = sup.dictionary_files(config.dictionary, list(corpus.targets), config.data_dir)
        # read now, so that a malformed line fails before any encoding
        dictionaries = {lang: sup.read_dictionary(p) for lang, p in dict_files.items()}
    _check_fit_outputs(config, methods, list(corpus.files.values()) + list(dict_files.values()))
    encoder = loading.load_encoder(config.model, device="auto")
    cache = FeatureCache(config.cache_dir) if config.cache_dir else None
    layers_spec = parse_layers(config.layers)
    layer_ids, _ = resolve_layers(layers_spec, encoder.num_layers)
    info = {"supervision": config.supervision, "langs_requested": config.langs, "parallel": corpus.name,
            "lines": [corpus.lines[0], corpus.lines[-1]] if corpus.lines else [],  # first and last line used
            "ntrex_lines": [corpus.lines[0], corpus.lines[-1]] if corpus.lines else [],  # the same, older name
            "n_sentences": len(corpus.source), "word_pieces": config.word_pieces}
    if config.supervision == "parallel":
        aligner = word_aligner(encoder, config.align_layer, config.align_dtype, config.progress, config.word_pieces)
        info["word_aligner"] = {k: v for k, v in aligner.describe().items() if k != "model"}
        stream = sup.parallel_pairs(encoder, corpus, aligner, layers=layer_ids, max_pairs=config.max_pairs,
                                    seed=config.seed, cache=cache, progress=config.progress,
                                    word_pieces=config.word_pieces)
    else:
        info["dictionary"] = config.dictionary
        info["monolingual_text"] = (f"{corpus.name} fitting lines of each language, used as independent "
                                    "monolingual text")
        stream = sup.dictionary_pairs(encoder, dictionaries, corpus.source, corpus.targets, layers=layer_ids,
                                      max_pairs=config.max_pairs, seed=config.seed, cache=cache,
                                      progress=config.progress, word_pieces=config.word_pieces)
    model_info = encoder.describe()
    aligners = {m: CrossLingualAligner(m, "eng", layer_ids, model_info, info=dict(info)) for m in methods}
    t_sup = t_fit = 0.0
    ts = time.time()
    counts: dict[str, dict] = {}
    for pairs in tqdm(stream, total=len(corpus.targets), desc="languages", disable=not config.progress):
        tf = time.time()
        t_sup += tf - ts
        by_layer, x_mean, y_mean = pairs.by_layer()
        for al in aligners.values():
            al.fit_language(pairs.lang, by_layer, x_mean=x_mean, y_mean=y_mean, supervision=pairs.stats)
        counts[pairs.lang] = pairs.stats
        del by_layer, pairs
        ts = time.time()
        t_fit += ts - tf
    paths = method_paths(config.out, methods)
    files = {m: str(aligners[m].save(paths[m])) for m in methods}
    fit_error = {m: {lang: {str(k): mp.fit_error for k, mp in by.items()} for lang, by in al.maps.items()}
                 for m, al in aligners.items()}
    data_files = list(dict.fromkeys(list(corpus.files.values()) + list(dict_files.values())))
    cfg = {k: v for k, v in asdict(config).items() if k != "progress"}
    report = {
        "command": command, "files": files, "methods": methods, "supervision": counts,
        "languages_without_ntrex": no_text, "languages_without_parallel_text": no_text, "layers": layer_ids,
        "fit_error": fit_error,
        "seconds": {"supervision": round(t_sup, 1), "fit": round(t_fit, 1), "total": round(time.time() - t0, 1)},
        "n_languages": len(counts), "info": info, "config": cfg,
        "manifest": build_manifest(cfg, data_files, model_info, [config.seed]),
    }
    out = Path(config.out)  # the report's stem is the maps' stem (as in method_paths), dots and all
    stem = out.name[:-4] if out.name.endswith(".npz") else out.name
    write_json(out.with_name(stem + ".report.json"), to_jsonable(report))
    return report


def run_align_eval(aligner_files: list[str], *, model: str | None = None, langs: str | None = None,
                   heldout: int = 200, align_layer: int = 8, gold: bool = True, data_dir: str | None = None,
                   out: str | None = None, progress: bool = True, command: list[str] | None = None,
                   parallel: Any = "ntrex", src_lang: str | None = None, tgt_lang: str | None = None,
                   word_pieces: str | None = None, overwrite: bool = False) -> dict:
    """Word retrieval before and after each aligner: held-out parallel lines, and human gold links.

    Args:
        aligner_files: saved aligners (all for the same model and layers); may be empty, to
            score a model's own vectors (e.g. a fine-tuning-aligned encoder) at every layer.
        model: the model spec (default: the first aligner's; required without aligners).
        langs: target codes (default: the languages of the first aligner).
        heldout: the number of final parallel lines (must match what ``fit`` kept apart).
        align_layer: the word aligner's layer for the held-out evaluation links.
        gold: also score on the human-aligned ``wordalign`` sets (fr, ro, ja, zh) of languages
            every aligner covers (sure one-to-one links; not circular).
        out: JSON report path (None = not written).
        parallel: ``ntrex`` or a user's corpus with an English side (as :class:`AlignFitConfig`);
            give the one the maps were fitted on, so that the held-out lines are unseen.
        src_lang, tgt_lang: languages of a user's pair whose file names do not give them.
        word_pieces: how words get their vectors (:data:`xlt.models.words.WORD_PIECES`); default:
            the aligners' setting (they must agree), without aligners the default setting.
        overwrite: replace an existing ``out`` file (never an input).

    Returns:
        ``{"results": {"ntrex": {"before": {lang: {layer: scores}}, "<file>": {...}}, "gold":
        {...}}, "summary": {"ntrex"|"gold": {name: {layer: mean scores}}}, ...}``; the held-out
        set's key is ``ntrex`` for NTREX and ``parallel`` for a user's corpus
        (``heldout_set`` says which).

    Raises:
        AlignerError: aligners for different models, or a language one of them lacks.
        UnknownLanguageError, FileLanguageError, DataFormatError, DatasetError: as
        :func:`run_align_fit`, before the model is loaded.
        OutputError, FileExistsError: ``out`` breaks the output rule (:class:`~xlt.core.outputs.OutputPlan`).
    """
    t0 = time.time()
    OutputPlan(inputs=[("--aligner", list(aligner_files)), ("--parallel", parallel), ("--model", model),
                       ("--data-dir", data_set_folders(data_dir))],
               outputs=[Output("--out", out, "file")], overwrite=overwrite).check()
    aligners = {str(f): CrossLingualAligner.load(f) for f in aligner_files}
    first = next(iter(aligners.values()), None)
    if first is None and not (model and langs):
        raise AlignerError("without aligner files, give --model and --langs (scores the model's own vectors)")
    target_langs = langs or ",".join(first.languages)
    source, _ = open_source(parallel, src_lang, tgt_lang, data_dir)
    corpus = sup.read_parallel_corpus(source, target_langs, data_dir, part="heldout", heldout=heldout)
    set_key = "ntrex" if corpus.name == "NTREX" else "parallel"
    encoder = loading.load_encoder(model or first.model["spec"], device="auto")
    layers = first.layers if first else resolve_layers("all", encoder.num_layers)[0]
    if word_pieces is None:
        word_pieces = first.word_pieces if first else DEFAULT_WORD_PIECES
    _check_word_pieces(word_pieces)
    for al in aligners.values():
        al.check(encoder.describe(), layers, list(corpus.targets), word_pieces=word_pieces)
    wa = word_aligner(encoder, align_layer, "float32", progress, word_pieces)

    def score_all(corp, links_of) -> dict:
        table: dict[str, dict] = {"before": {}, **{f: {} for f in aligners}}
        eng, _ = sup.word_vectors(encoder, corp.source, layers, progress=progress, word_pieces=word_pieces)
        for lang, sents in tqdm(corp.targets.items(), desc="languages", disable=not progress):
            links = links_of(lang, sents)
            tgt, _ = sup.word_vectors(encoder, sents, layers, progress=progress, word_pieces=word_pieces)
            table["before"][lang] = word_retrieval(eng, tgt, links, layers)
            for f, al in aligners.items():
                table[f][lang] = word_retrieval(eng, tgt, links, layers, transform=al, lang=lang)
        return table

    results = {set_key: score_all(corpus, lambda lang, sents: sup.link_pairs(wa, corpus.source, sents)[0])}
    if gold:
        from xlt.data.langs import same_language

        for code, _ in sup.GOLD_SETS.values():
            key = next((l for l in corpus.targets if same_language(l, code)), None)
            if key is None:
                continue
            gcorp, glinks = sup.gold_corpus(key, data_dir)
            res = score_all(gcorp, lambda lang, sents, gl=glinks: gl)
            for name, t in res.items():
                results.setdefault("gold", {}).setdefault(name, {}).update(t)

    def avg(table: dict) -> dict:
        return {k: {m: float(np.mean([table[l][k][m] for l in table])) for m in ("sentence", "all")}
                for k in layers}

    report = {"command": command, "aligners": {f: al.describe() for f, al in aligners.items()},
              "parallel": corpus.name, "heldout_set": set_key,
              "heldout_lines": corpus.lines[:1] + corpus.lines[-1:], "align_layer": align_layer,
              "results": results,
              "summary": {src: {name: avg(t) for name, t in tables.items()} for src, tables in results.items()},
              "seconds": round(time.time() - t0, 1)}
    if set_key == "ntrex":
        report["ntrex_heldout_lines"] = report["heldout_lines"]
    if out:
        write_json(out, report)
    return report


@dataclass
class AlignFinetuneConfig:
    """Settings of ``xlt align finetune`` (Cao et al. 2020; echoed in its report).

    Attributes:
        out: output model folder (loadable by ``xlt transfer --model``).
        langs: target codes or task names, as for :class:`AlignFitConfig`.
        loss: ``l2`` or ``contrastive``. reg_weight: weight of the source-vector regulariser.
        layer: hidden state aligned (-1 = last, as Cao et al.).
        max_sentences: parallel lines per language (None = all but the held-out ones).
        epochs, batch_size, lr: optimisation.
        parallel, src_lang, tgt_lang: the parallel corpus, as for :class:`AlignFitConfig`.
        word_pieces: which subword piece gives a word its trained vector (and its alignment
            units), as for :class:`AlignFitConfig`.
    """

    out: str
    overwrite: bool = False
    langs: str = "all"
    model: str = DEFAULT_MODEL
    loss: str = "l2"
    reg_weight: float = 1.0
    layer: int = -1
    align_layer: int = 8
    align_dtype: str = "float32"
    max_sentences: int | None = None
    heldout: int = 200
    epochs: int = 1
    batch_size: int = 16
    lr: float = 5e-5
    seed: int = 0
    data_dir: str | None = None
    progress: bool = True
    parallel: str | list[str] = "ntrex"
    src_lang: str | None = None
    tgt_lang: str | None = None
    word_pieces: str = DEFAULT_WORD_PIECES


def run_align_finetune(config: AlignFinetuneConfig, command: list[str] | None = None) -> dict:
    """Fine-tune the encoder so that word-aligned words of parallel text get close vectors, and save it.

    The links are the one-to-one argmax links of :func:`xlt.align.supervision.link_pairs`
    (the same supervision as ``xlt align fit --supervision parallel``).

    Returns:
        the report (also written as ``<out>/alignment_report.json``): link counts per language,
        training history, seconds, config and manifest.

    Raises:
        AlignerError: a language without links; ValueError: bad hyperparameters;
        UnknownLanguageError: a language without parallel text; FileLanguageError,
        DataFormatError, DatasetError: a bad user corpus (all input errors before the model loads).
    """
    import torch

    t0 = time.time()
    torch.manual_seed(config.seed)
    _check_word_pieces(config.word_pieces)
    corpus, no_text = _fit_corpus(config)
    OutputPlan(inputs=[("--parallel", list(corpus.files.values())), ("--model", config.model),
                       ("--data-dir", data_set_folders(config.data_dir))],
               outputs=[Output("--out", Path(config.out))], overwrite=config.overwrite).check()
    encoder = loading.load_encoder(config.model, device="auto")
    wa = word_aligner(encoder, config.align_layer, config.align_dtype, config.progress, config.word_pieces)
    examples, counts = [], {}
    for lang, sents in tqdm(corpus.targets.items(), desc="word alignment", disable=not config.progress):
        links, stats = sup.link_pairs(wa, corpus.source, sents)
        if not any(links):
            raise AlignerError(f"{lang}: no one-to-one links in {len(sents)} {corpus.name} sentence pairs; "
                               "no supervision")
        counts[lang] = stats
        examples += [AlignmentExample(lang=lang, source=s, target=t, links=set(l))
                     for s, t, l in zip(corpus.source, sents, links) if l]
    del wa
    t_align = time.time() - t0
    res = finetune_alignment(encoder, examples, loss=config.loss, layer=config.layer, reg_weight=config.reg_weight,
                             epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
                             progress=config.progress, word_pieces=config.word_pieces)
    cfg = {k: v for k, v in asdict(config).items() if k != "progress"}
    meta = {"method": "finetune", "paper": "Cao, Kitaev & Klein 2020", "loss": config.loss,
            "languages": list(corpus.targets), "base_model": encoder.describe(), "config": cfg,
            "parallel": corpus.name,
            "links": {l: c["n_links_one_to_one"] for l, c in counts.items()}, "stats": res.stats}
    out = save_aligned_encoder(res, config.out, meta=to_jsonable(meta), overwrite=config.overwrite)
    report = {"command": command, "out": str(out), "links": counts, "languages_without_ntrex": no_text,
              "languages_without_parallel_text": no_text, "parallel": corpus.name,
              "history": res.history, "stats": res.stats,
              "seconds": {"word_alignment": round(t_align, 1), "total": round(time.time() - t0, 1)},
              "config": cfg, "manifest": build_manifest(cfg, list(dict.fromkeys(corpus.files.values())),
                                                        encoder.describe(),
                                                        [config.seed])}
    write_json(Path(out) / "alignment_report.json", to_jsonable(report))
    return report


__all__ = ["AlignFinetuneConfig", "AlignFitConfig", "run_align_eval", "run_align_finetune", "run_align_fit"]
