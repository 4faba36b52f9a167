"""``xlt align fit`` and ``xlt align eval``: fit cross-lingual maps, and measure what they change.

``fit`` builds supervision pairs (:mod:`xlt.align.supervision`) for every target language and
fits one :class:`~xlt.align.maps.CrossLingualAligner` per method from the same pairs (the
encoder passes are shared), writing ``FILE`` (one method) or ``FILE``'s stem plus
``.<method>.npz`` (several), and a ``.report.json`` with the pair counts, fit errors and
timings.

``eval`` is the word-level retrieval diagnostic: each target word with a link asks for its
nearest English word by cosine, (a) among the words of its own sentence pair and (b) among all
English words of the evaluation set; precision@1 before and after each aligner, per language
and layer. Two evaluation sets: held-out lines of the parallel corpus (never used for fitting)
with the word aligner's one-to-one argmax links (computed from prefix-free subword vectors at
the aligner's layer, not from the probe's features, so not trivially 100% before alignment),
and the human gold alignments of ``wordalign`` (fr, ro, ja, zh; sure one-to-one links).

The parallel corpus (``parallel``) is NTREX-128 by default or a user's own: two line-aligned
files, a ``src ||| tgt`` or ``src<TAB>tgt`` file, or a folder of files named by language, all
read by :func:`xlt.data.parallel.open_parallel`; it must have an English side. Dictionary
supervision takes the data folder's ``dict/`` or ``bli/`` files or a user's dictionary file
(:func:`xlt.data.dictionaries.read_dictionary`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from xlt.align.maps import METHODS, AlignerError, CrossLingualAligner, parse_method
from xlt.models.loading import DEFAULT_MODEL

log = logging.getLogger(__name__)

SUPERVISION = ("parallel", "dictionary")


def method_paths(out: str | Path, methods: list[str]) -> dict[str, Path]:
    """Output file per method: ``out`` itself for one method, ``<stem>.<method>.npz`` for several."""
    out = Path(out)
    stem = out.name[:-4] if out.name.endswith(".npz") else out.name
    if len(methods) == 1:
        return {methods[0]: out.with_name(stem + ".npz")}
    return {m: out.with_name(f"{stem}.{m.replace('+', '-')}.npz") for m in methods}


def expand_languages(spec: str, data_dir: str | Path | None = None,
                     available: list[str] | None = None) -> tuple[str, dict[str, list[str]]]:
    """Turn task names in a language list into their targets that have parallel text.

    ``udpos`` stands for every UD-POS target language with parallel text (and likewise for any
    task name); other items are language codes, kept as they are.

    Args:
        spec: ``all`` or comma-separated codes and task names.
        data_dir: the data folder (the tasks' languages; NTREX when ``available`` is None).
        available: the languages of the parallel corpus, English left out (None = NTREX's).

    Returns:
        ``(comma-separated codes, {task: [its targets without parallel text]})``.
    """
    from xlt.data import tasks as task_registry
    from xlt.data.langs import UnknownLanguageError, iso639_3, match_language
    from xlt.data.parallel import NTREX_SOURCE, ntrex_languages

    if spec.strip().lower() == "all":
        return "all", {}
    have = (list(available) if available is not None
             else [k for k in ntrex_languages(data_dir) if k != NTREX_SOURCE])
    out: list[str] = []
    missing: dict[str, list[str]] = {}
    for item in (c.strip() for c in spec.split(",") if c.strip()):
        if item.lower() in task_registry.TASKS:
            for lang in task_registry.available_languages(item.lower(), data_dir):
                if iso639_3(lang) == "eng":
                    continue
                try:
                    out.append(match_language(lang, have))
                except UnknownLanguageError:
                    missing.setdefault(item.lower(), []).append(lang)
        else:
            out.append(item)
    first: dict[str, str] = {}  # one code per language, the first given
    for code in out:
        first.setdefault(iso639_3(code), code)
    return ",".join(first.values()), missing


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
    """

    out: str
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


def open_source(parallel: Any, src_lang: str | None = None, tgt_lang: str | None = None,
                data_dir: str | Path | None = None):
    """The parallel corpus of an ``xlt align`` command and the key of its English side.

    Returns:
        ``(ParallelSource, English key)`` (``eng`` for NTREX, ``en`` for ``en.txt``).

    Raises:
        UnknownLanguageError: the corpus has no English side (the message lists its languages);
        and whatever :func:`xlt.data.parallel.open_parallel` raises.
    """
    from xlt.align.supervision import PIVOT
    from xlt.data.langs import UnknownLanguageError, describe_codes, match_language
    from xlt.data.parallel import open_parallel

    source = open_parallel(parallel, src_lang=src_lang, tgt_lang=tgt_lang, data_dir=data_dir)
    try:
        return source, match_language(PIVOT, source.languages)
    except UnknownLanguageError as exc:
        raise UnknownLanguageError(PIVOT, f"{source.name} has no English side (it has "
                                          f"{describe_codes(source.languages)}); xlt align maps every "
                                          "language into English, so the corpus needs English text",
                                   source.languages) from exc


def _fit_corpus(config):
    """The fitting lines of ``config.langs`` (task names expanded) and the task targets without parallel text.

    Raises:
        AlignerError: no language left; UnknownLanguageError: a code without parallel text.
    """
    from xlt.align import supervision as sup

    source, pivot = open_source(config.parallel, config.src_lang, config.tgt_lang, config.data_dir)
    langs, no_text = expand_languages(config.langs, config.data_dir,
                                      available=[k for k in source.languages if k != pivot])
    if not langs:
        raise AlignerError(f"no target language with parallel text ({source.name}) in {config.langs!r}")
    corpus = sup.read_parallel_corpus(source, langs, config.data_dir, part="fit", heldout=config.heldout,
                                      max_sentences=config.max_sentences)
    return corpus, no_text


def _check_user_dictionary(config) -> None:
    """Fail early (before any text is read) on a user dictionary without exactly one language.

    Raises:
        FileNotFoundError: no such file; DatasetError: ``--langs`` is not one language code.
    """
    from xlt.align import supervision as sup
    from xlt.data import tasks as task_registry
    from xlt.data.dataset import DatasetError

    if config.supervision != "dictionary" or config.dictionary in sup.DICTIONARY_KINDS:
        return
    if not Path(config.dictionary).is_file():
        raise FileNotFoundError(f"no such dictionary file: {config.dictionary} "
                                "(--dictionary takes wiktionary, bli or a file)")
    codes = [c.strip() for c in config.langs.split(",") if c.strip()]
    if len(codes) != 1 or codes[0].lower() == "all" or codes[0].lower() in task_registry.TASKS:
        raise DatasetError(f"the dictionary {config.dictionary} is for one language: give it with --langs "
                         f"(one language code, got {config.langs!r})")


def _word_aligner(encoder, layer: int, dtype: str, progress: bool):
    """The argmax :class:`~xlt.align.words.WordAligner` that supervision links come from.

    Raises:
        AlignerError: a layer outside the model or an unknown dtype (a user error, not a bug).
    """
    from xlt.align.words import WordAligner

    try:
        return WordAligner(encoder, layer=layer, methods=("argmax",), dtype=dtype, progress=progress)
    except ValueError as exc:
        raise AlignerError(f"word aligner (--align-layer {layer}, --align-dtype {dtype}): {exc}") from None


def parse_layers(text: str | int | list) -> Any:
    """``'all'`` stays; ``'8'`` → 8; ``'0,4,8'`` → ``[0, 4, 8]``."""
    if isinstance(text, (int, list)):
        return text
    t = str(text).strip().lower()
    if t in ("all", "last"):
        return t
    parts = [int(p) for p in t.split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else parts


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

    from xlt.align import supervision as sup
    from xlt.evaluate.manifest import build_manifest, to_jsonable
    from xlt.evaluate.report import write_json
    from xlt.models.cache import FeatureCache
    from xlt.models.loading import load_encoder

    t0 = time.time()
    methods = [parse_method(m) for m in config.methods.split(",") if m.strip()]
    if not methods:
        raise AlignerError(f"no method given; choose from {', '.join(METHODS)}")
    if config.supervision not in SUPERVISION:
        raise AlignerError(f"supervision must be one of {SUPERVISION}, got {config.supervision!r}")
    torch.manual_seed(config.seed)
    _check_user_dictionary(config)
    corpus, no_text = _fit_corpus(config)
    dict_files, dictionaries = {}, {}
    if config.supervision == "dictionary":
        dict_files = sup.dictionary_files(config.dictionary, list(corpus.targets), config.data_dir)
        # read now, so that a malformed line fails before any encoding
        dictionaries = {lang: sup.read_dictionary(p) for lang, p in dict_files.items()}
    encoder = load_encoder(config.model, device="auto")
    cache = FeatureCache(config.cache_dir) if config.cache_dir else None
    layers_spec = parse_layers(config.layers)
    from xlt.models.features import resolve_layers

    layer_ids, _ = resolve_layers(layers_spec, encoder.num_layers)
    info = {"supervision": config.supervision, "langs_requested": config.langs, "parallel": corpus.name,
            "lines": [corpus.lines[0], corpus.lines[-1]] if corpus.lines else [],  # first and last line used
            "ntrex_lines": [corpus.lines[0], corpus.lines[-1]] if corpus.lines else [],  # the same, older name
            "n_sentences": len(corpus.source)}
    if config.supervision == "parallel":
        aligner = _word_aligner(encoder, config.align_layer, config.align_dtype, config.progress)
        info["word_aligner"] = {k: v for k, v in aligner.describe().items() if k != "model"}
        stream = sup.parallel_pairs(encoder, corpus, aligner, layers=layer_ids, max_pairs=config.max_pairs,
                                    seed=config.seed, cache=cache, progress=config.progress)
    else:
        info["dictionary"] = config.dictionary
        info["monolingual_text"] = (f"{corpus.name} fitting lines of each language, used as independent "
                                    "monolingual text")
        stream = sup.dictionary_pairs(encoder, dictionaries, corpus.source, corpus.targets, layers=layer_ids,
                                      max_pairs=config.max_pairs, seed=config.seed, cache=cache,
                                      progress=config.progress)
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


# ============================================================================ diagnostics
def retrieval_at_1(src: np.ndarray, tgt: np.ndarray, links: list[tuple[int, int]],
                   pool: np.ndarray | None = None, pool_offset: int = 0) -> tuple[int, int]:
    """Word retrieval hits: for each link ``(i, j)``, is ``src[i]`` the nearest (cosine) of ``tgt[j]``?

    Args:
        src: ``(m, dim)`` source words of the sentence. tgt: ``(n, dim)`` target words.
        links: 0-based ``(source word, target word)`` pairs.
        pool: optional ``(N, dim)`` candidate set replacing ``src`` (e.g. every source word of a
            corpus); then the right answer is row ``pool_offset + i``.

    Returns:
        ``(hits, n_links)``.
    """
    if not links:
        return 0, 0
    cand = src if pool is None else pool
    off = 0 if pool is None else pool_offset
    c = cand / np.maximum(np.linalg.norm(cand, axis=1, keepdims=True), 1e-8)
    j = np.array([b for _, b in links])
    i = np.array([a for a, _ in links]) + off
    q = tgt[j] / np.maximum(np.linalg.norm(tgt[j], axis=1, keepdims=True), 1e-8)
    best = (q @ c.T).argmax(1)
    return int((best == i).sum()), len(links)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def word_retrieval(eng: list[np.ndarray], tgt: list[np.ndarray], links: list[list[tuple[int, int]]],
                   layers: list[int], transform=None, lang: str | None = None,
                   chunk: int = 4096) -> dict[int, dict[str, float]]:
    """Word retrieval precision@1 (%) per layer, within each sentence pair and among all source words.

    Vectorised: per layer, every linked target word is one query row against the stacked
    source words (one matrix product per chunk of queries); the within-sentence score masks the
    other sentences' words. Equivalent to :func:`retrieval_at_1` summed over sentences.

    Args:
        eng, tgt: per sentence ``(n_words, n_layers, dim)`` source / target vectors.
        links: per sentence pair, the gold links.
        layers: hidden-state index of each layer slot.
        transform: a :class:`~xlt.align.maps.CrossLingualAligner` applied first (None = raw vectors).
        lang: the target language (for ``transform``).
        chunk: queries per matrix product (bounds memory: ``chunk x n_source_words`` floats).

    Returns:
        ``{layer: {"sentence": P@1, "all": P@1, "n_links": n}}`` (NaN scores without links).
    """
    offsets = np.cumsum([0] + [len(e) for e in eng])
    t_offsets = np.cumsum([0] + [len(t) for t in tgt])
    rows = [(s, i, j) for s, ls in enumerate(links) for i, j in ls]
    n = len(rows)
    gold = np.array([offsets[s] + i for s, i, _ in rows], dtype=np.int64)
    q_index = np.array([t_offsets[s] + j for s, _, j in rows], dtype=np.int64)
    q_sent = np.array([s for s, _, _ in rows], dtype=np.int64)
    col_sent = np.repeat(np.arange(len(eng)), [len(e) for e in eng])
    E_all = np.concatenate([e for e in eng if len(e)]) if n else None
    T_all = np.concatenate([t for t in tgt if len(t)]) if n else None
    out: dict[int, dict[str, float]] = {}
    for li, k in enumerate(layers):
        if not n:
            out[k] = {"sentence": float("nan"), "all": float("nan"), "n_links": 0}
            continue
        E = E_all[:, li].astype(np.float32)
        Q = T_all[q_index, li].astype(np.float32)
        if transform is not None:
            E = transform.transform(E, "eng", k)
            Q = transform.transform(Q, lang, k)
        P = _unit_rows(E)
        Q = _unit_rows(Q)
        hit_all = hit_sent = 0
        for c in range(0, n, chunk):
            S = Q[c:c + chunk] @ P.T
            g = gold[c:c + chunk]
            hit_all += int((S.argmax(1) == g).sum())
            S[col_sent[None, :] != q_sent[c:c + chunk, None]] = -np.inf
            hit_sent += int((S.argmax(1) == g).sum())
        out[k] = {"sentence": 100.0 * hit_sent / n, "all": 100.0 * hit_all / n, "n_links": n}
    return out


def run_align_eval(aligner_files: list[str], *, model: str | None = None, langs: str | None = None,
                   heldout: int = 200, align_layer: int = 8, gold: bool = True, data_dir: str | None = None,
                   out: str | None = None, progress: bool = True, command: list[str] | None = None,
                   parallel: Any = "ntrex", src_lang: str | None = None, tgt_lang: str | None = None) -> dict:
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

    Returns:
        ``{"results": {"ntrex": {"before": {lang: {layer: scores}}, "<file>": {...}}, "gold":
        {...}}, "summary": {"ntrex"|"gold": {name: {layer: mean scores}}}, ...}``; the held-out
        set's key is ``ntrex`` for NTREX and ``parallel`` for a user's corpus
        (``heldout_set`` says which).

    Raises:
        AlignerError: aligners for different models, or a language one of them lacks.
        UnknownLanguageError, FileLanguageError, DataFormatError, DatasetError: as
        :func:`run_align_fit`, before the model is loaded.
    """
    from xlt.align import supervision as sup
    from xlt.evaluate.report import write_json
    from xlt.models.loading import load_encoder

    from xlt.models.features import resolve_layers

    t0 = time.time()
    aligners = {str(f): CrossLingualAligner.load(f) for f in aligner_files}
    first = next(iter(aligners.values()), None)
    if first is None and not (model and langs):
        raise AlignerError("without aligner files, give --model and --langs (scores the model's own vectors)")
    target_langs = langs or ",".join(first.languages)
    source, _ = open_source(parallel, src_lang, tgt_lang, data_dir)
    corpus = sup.read_parallel_corpus(source, target_langs, data_dir, part="heldout", heldout=heldout)
    set_key = "ntrex" if corpus.name == "NTREX" else "parallel"
    encoder = load_encoder(model or first.model["spec"], device="auto")
    layers = first.layers if first else resolve_layers("all", encoder.num_layers)[0]
    for al in aligners.values():
        al.check(encoder.describe(), layers, list(corpus.targets))
    wa = _word_aligner(encoder, align_layer, "float32", progress)

    def score_all(corp, links_of) -> dict:
        table: dict[str, dict] = {"before": {}, **{f: {} for f in aligners}}
        eng, _ = sup.word_vectors(encoder, corp.source, layers, progress=progress)
        for lang, sents in tqdm(corp.targets.items(), desc="languages", disable=not progress):
            links = links_of(lang, sents)
            tgt, _ = sup.word_vectors(encoder, sents, layers, progress=progress)
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


# ============================================================================ fine-tuning
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
    """

    out: str
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

    from xlt.align import supervision as sup
    from xlt.align.finetune import AlignmentExample, finetune_alignment, save_aligned_encoder
    from xlt.evaluate.manifest import build_manifest, to_jsonable
    from xlt.evaluate.report import write_json
    from xlt.models.loading import load_encoder

    t0 = time.time()
    torch.manual_seed(config.seed)
    corpus, no_text = _fit_corpus(config)
    encoder = load_encoder(config.model, device="auto")
    wa = _word_aligner(encoder, config.align_layer, config.align_dtype, config.progress)
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
                             progress=config.progress)
    cfg = {k: v for k, v in asdict(config).items() if k != "progress"}
    meta = {"method": "finetune", "paper": "Cao, Kitaev & Klein 2020", "loss": config.loss,
            "languages": list(corpus.targets), "base_model": encoder.describe(), "config": cfg,
            "parallel": corpus.name,
            "links": {l: c["n_links_one_to_one"] for l, c in counts.items()}, "stats": res.stats}
    out = save_aligned_encoder(res, config.out, meta=to_jsonable(meta))
    report = {"command": command, "out": str(out), "links": counts, "languages_without_ntrex": no_text,
              "languages_without_parallel_text": no_text, "parallel": corpus.name,
              "history": res.history, "stats": res.stats,
              "seconds": {"word_alignment": round(t_align, 1), "total": round(time.time() - t0, 1)},
              "config": cfg, "manifest": build_manifest(cfg, list(dict.fromkeys(corpus.files.values())),
                                                        encoder.describe(),
                                                        [config.seed])}
    write_json(Path(out) / "alignment_report.json", to_jsonable(report))
    return report
