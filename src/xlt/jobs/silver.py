"""Silver training data by label projection, and its PAN-X score next to zero-shot transfer.

``xlt project --silver ntrex`` (:func:`run_silver`) runs the whole *translate-train by
projection* baseline (Yarowsky, Ngai & Wicentowski 2001; for NER e.g. Mayhew, Tsai & Roth 2017)
with one frozen encoder:

a. an English NER probe is trained on the PAN-X English training set (the first ``train_limit``
   sentences), its epoch chosen on English dev, exactly as ``xlt transfer --task panx --mode
   probe`` does (same features, head and optimiser settings);
b. *zero-shot*: that probe is scored on each target language's PAN-X dev set (the first
   ``eval_limit`` sentences) - the "zero-shot F1" column, measured here with the same features
   and probe so the two columns differ only in the training data;
c. the English side of NTREX-128 (Federmann et al. 2022; 1,997 news sentences translated into
   every target language) is split into words with :func:`xlt.data.wordalign.simple_tokenize`
   and tagged by the English probe;
d. per target language, the NTREX translations are split the same way (every Han/kana character
   is a word, as in PAN-X zh/ja), English words are aligned to target words with
   :class:`xlt.align.words.WordAligner` (one aligner and one method for every language), the
   English spans are projected with :func:`xlt.align.projection.project_corpus`, sentences where
   a span was lost are dropped (``drop_partial``, counted) and the rest is written to
   ``out/silver/<lang>.tsv`` (XTREME ``token<TAB>tag``);
e. a new probe (same settings) is trained on the silver sentences. There is no gold target data
   to choose the epoch on (that would no longer be zero-resource), so a seeded 10 %
   (``silver_dev_fraction``) of the silver sentences is held out as a *silver* dev set and the
   epoch with the best span F1 against the projected tags there is kept;
f. that probe is scored on the same PAN-X dev subset as in (b).

Alignment method: ``itermax`` by default. ``argmax`` (SimAlign's intersection of both
directions' best match) is the higher-precision choice but leaves more words unlinked; a
projected span only needs one of its words linked, and a span with no link at all is
*unprojectable*, which under ``drop_partial`` throws the whole sentence away. itermax adds one
more argmax round among still-unaligned words (SimAlign reports it with the best or near-best F1
of its three methods), which mostly buys recall: more spans and more sentences survive, at the
price of some wrong links that stretch a range (``max_gap`` can cap that). Pass
``align_method='argmax'`` to favour precision.

Seeds: with several seeds the whole chain is repeated per seed (English probe, its NTREX tags,
the silver data, the silver dev split and the silver probe), so the ± of both columns covers the
same sources of variance; alignments and features are computed once. The silver file of the
first seed is ``out/silver/<lang>.tsv``, those of further seeds ``out/silver/seed<S>/<lang>.tsv``.
"""

from __future__ import annotations

import logging
import random
import shlex
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from xlt.data import tasks as task_registry
from xlt.evaluate.manifest import build_manifest
from xlt.core.metrics import mean_std, score
from xlt.evaluate.report import write_report
from xlt.core.outputs import Output, OutputPlan
from xlt.data.paths import data_set_folders
from xlt.models.loading import DEFAULT_MODEL, load_encoder
from xlt.models.words import DEFAULT_WORD_PIECES, check_word_pieces

if TYPE_CHECKING:  # torch and the trainers load when a run starts, not when `xlt` builds its parser
    import torch

log = logging.getLogger(__name__)

#: Parallel corpora ``run_silver`` can build silver data from.
PARALLEL = ("ntrex",)
#: Languages of the issue's acceptance run.
DEFAULT_LANGS = "de,fr,es,ru,zh"



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

@dataclass
class SilverConfig:
    """Settings of one silver-data run (every field is echoed in the report).

    Attributes:
        langs: comma-separated target languages (any code form: ``de``, ``deu``); each must
            have a PAN-X dev set and an NTREX translation. ``zh`` takes NTREX ``zho-CN``
            (simplified); ``zho-TW`` selects the traditional-script translation (PAN-X zh mixes
            both scripts).
        model: model spec (``bundled:e5-small``, a Hugging Face id or folder); one encoder gives
            the probe features and the alignments.
        parallel: the parallel corpus (``ntrex``).
        align_method: ``itermax`` (default; see the module docstring), ``argmax``, ``match`` or
            ``softmax`` (:class:`xlt.align.words.WordAligner`).
        align_layer: hidden state the alignment vectors come from (default 8, as SimAlign).
        train_limit: first N sentences of the PAN-X English training set (default 5000, as
            the zero-shot PAN-X probe runs); ``None`` = all.
        eval_limit: first N sentences of the English dev set and of each target's PAN-X dev set
            (default 1000); ``None`` = all.
        layer, head, epochs, batch_size, lr: probe settings as ``xlt transfer --mode probe``
            (``None`` = the token-task default: 10 epochs, batch 256, lr 1e-3).
        word_pieces: which subword pieces stand for a word, in the probe features and as the
            word aligner's units (:data:`xlt.models.words.WORD_PIECES`).
        seeds: one run of the whole chain per seed (see the module docstring).
        silver_dev_fraction: share of the silver sentences held out to choose the silver probe's
            epoch (at least one sentence).
        drop_partial: leave out NTREX sentences where some English span was not projected
            (they would teach the model that a real entity is ``O``). Default ``True``.
        keep_empty: keep sentences without any English entity as all-``O`` data. Default ``True``.
        max_gap: see :func:`xlt.align.projection.project_spans` (``None``: no limit).
        data_dir: data folder (else resolved as in :func:`xlt.data.paths.resolve_data_dir`).
        cache_dir: on-disk feature cache (None = off).
        out: report folder (``report.json``, ``report.md``, ``scores.png``, ``silver/``); None =
            no files.
        progress: tqdm bars.
    """

    langs: str = DEFAULT_LANGS
    model: str = DEFAULT_MODEL
    parallel: str = "ntrex"
    align_method: str = "itermax"
    align_layer: int = 8
    train_limit: int | None = 5000
    eval_limit: int | None = 1000
    layer: str = "mix"
    head: str = "linear"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    word_pieces: str = DEFAULT_WORD_PIECES
    seeds: list[int] = field(default_factory=lambda: [0])
    silver_dev_fraction: float = 0.1
    drop_partial: bool = True
    keep_empty: bool = True
    max_gap: int | None = None
    data_dir: str | None = None
    cache_dir: str | None = None
    out: str | None = None
    overwrite: bool = False
    progress: bool = True

    def resolved(self) -> dict:
        """Config with the probe defaults for token tasks filled in (see ``DEFAULTS``)."""
        from xlt.transfer.training import with_defaults

        return with_defaults(asdict(self), "probe", "token")


@dataclass
class _Target:
    """One target language: its PAN-X code, NTREX file and PAN-X dev data."""

    lang: str
    ntrex: str
    ntrex_path: Path
    eval_data: object


def _check(config: SilverConfig) -> None:
    from xlt.align.words import METHODS

    if config.parallel not in PARALLEL:
        raise ValueError(f"parallel corpus must be one of {PARALLEL}, got {config.parallel!r}")
    if config.align_method not in METHODS:
        raise ValueError(f"align_method must be one of {METHODS}, got {config.align_method!r}")
    if not config.seeds:
        raise ValueError("at least one seed is needed")
    check_word_pieces(config.word_pieces)
    if not 0.0 < config.silver_dev_fraction < 1.0:
        raise ValueError(f"silver_dev_fraction must be between 0 and 1, got {config.silver_dev_fraction}")
    if config.max_gap is not None and config.max_gap < 0:
        raise ValueError(f"max_gap must be None or >= 0, got {config.max_gap}")
    for name in ("train_limit", "eval_limit"):
        v = getattr(config, name)
        if v is not None and v < 1:
            raise ValueError(f"{name} must be None or >= 1, got {v}")


def _targets(config: SilverConfig) -> list[_Target]:
    """Resolve the languages against PAN-X and NTREX and read every PAN-X dev subset."""
    from xlt.data.parallel import select_ntrex

    codes = [c.strip() for c in config.langs.split(",") if c.strip()]
    if not codes:
        raise ValueError("no target language given")
    avail = task_registry.available_languages("panx", config.data_dir)
    out: dict[str, _Target] = {}
    for code in codes:
        lang = task_registry.match_task_language("panx", code, config.data_dir)
        if lang == "en":
            raise ValueError("English is the source language; give target languages only")
        (ntrex, path), = select_ntrex(code, config.data_dir, include_source=False).items()
        if lang not in out:
            out[lang] = _Target(lang, ntrex, path, _load("panx", lang, avail[lang], config.eval_limit))
    return list(out.values())


def _rows(lengths: list[int]) -> np.ndarray:
    """Start row of every sentence in a feature stack (plus the end)."""
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])


def _gather(X: torch.Tensor, starts: np.ndarray, sentences: list[int]) -> torch.Tensor:
    """The feature rows of the given sentences (indices into ``starts``), in that order."""
    import torch

    idx = [torch.arange(int(starts[k]), int(starts[k + 1])) for k in sentences]
    return X[torch.cat(idx)] if idx else X[:0]


def _split_dev(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded ``(train, dev)`` positions of ``n`` silver sentences; dev = ``round(fraction * n)``,
    at least 1 (and at least 1 left for training). Both lists are in corpus order."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_dev = min(max(1, round(fraction * n)), n - 1)
    return sorted(order[n_dev:]), sorted(order[:n_dev])


def _evaluate(head, X: torch.Tensor, data, labels: list[str]) -> float:
    from xlt.transfer.probe import predict
    from xlt.transfer.training import decode_tags

    gold = [list(e.labels) for e in data.examples]
    return score("f1", gold, decode_tags(predict(head, X), [len(e.tokens) for e in data.examples], labels))


def _silver_path(out: Path, lang: str, seed: int, first: bool) -> Path:
    return out / "silver" / f"{lang}.tsv" if first else out / "silver" / f"seed{seed}" / f"{lang}.tsv"


def _fmt(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.2f}"


def _markdown(report: dict, langs: list[str], seeds: list[int]) -> list[str]:
    zs, sv = report["zero_shot_scores"], report["scores"]
    first = str(seeds[0])
    note = f" (silver data of seed {first})" if len(seeds) > 1 else ""
    rows = ["## Silver data vs zero-shot", "",
            f"English probe trained on {report['source_counts']['train']['sentences']} PAN-X English sentences "
            f"(F1 {_fmt(report['source_scores']['dev'])} on {report['source_counts']['dev']['sentences']} English "
            "dev sentences); "
            f"silver data: NTREX English tagged by it, aligned with {report['config']['align_method']} "
            f"(layer {report['config']['align_layer']}) and projected. Both columns: entity F1 (%) on the same "
            f"PAN-X dev sentences{', mean over seeds' if len(seeds) > 1 else ''}.", "",
            f"| language | zero-shot F1 | silver F1 | Δ | silver sentences{note} | projected spans{note} |",
            "|:---|---:|---:|---:|---:|---:|"]
    for lang in langs:
        s = report["counts"][lang]["silver"][first]
        d = sv[lang] - zs[lang] if np.isfinite(sv[lang]) else float("nan")
        delta = "–" if not np.isfinite(d) else f"{d:+.2f}"
        rows.append(f"| {lang} | {_fmt(zs[lang])} | {_fmt(sv[lang])} | {delta} | {s['kept']} | "
                    f"{s['spans']['projected']} / {s['spans']['n_spans']} |")
    rows.append(f"| **average** | {_fmt(report['zero_shot_average'])} | {_fmt(report['average'])} | "
                f"{_fmt(report['average'] - report['zero_shot_average'])} | | |")
    spans = ["## Projection", "",
             "| language | NTREX pairs | dropped partial | dropped no-entity | kept | spans | projected | "
             "unprojectable | conflicts | too gappy | silver entities (PER/ORG/LOC) |",
             "|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|"]
    for lang in langs:
        c = report["counts"][lang]
        s = c["silver"][first]
        sp = s["spans"]
        ents = "/".join(str(s["entities"].get(t, 0)) for t in ("PER", "ORG", "LOC"))
        spans.append(f"| {lang} ({c['ntrex']['code']}) | {c['ntrex']['pairs']} | {s['dropped_partial']} | "
                     f"{s['dropped_no_entity']} | {s['kept']} | {sp['n_spans']} | {sp['projected']} | "
                     f"{sp['unprojectable']} | {sp['conflicts']} | {sp['too_gappy']} | {ents} |")
    return ["\n".join(rows), "\n".join(spans)]


def run_silver(config: SilverConfig, command: list[str] | None = None) -> dict:
    """Build projected silver NER data from NTREX and score it against zero-shot transfer on PAN-X.

    See the module docstring for the steps. Every input (PAN-X, NTREX) is read and checked before
    the model is loaded.

    Returns:
        the report dict (written with :func:`xlt.evaluate.report.write_report` when
        ``config.out`` is set): ``scores`` = silver F1 per target (mean over seeds, %),
        ``zero_shot_scores`` the English probe's F1 on the same dev sentences, ``average`` /
        ``zero_shot_average`` over targets, ``source_scores`` (the English probe on English dev),
        ``per_seed`` and ``zero_shot_per_seed``; ``counts[lang]``: the PAN-X dev subset
        (``sentences``, ``tokens``, ...), ``ntrex`` (``lines``, ``english``, ``pairs`` =
        sentences with a non-empty English and target side, ``empty_target``, ``code``) and
        ``silver[seed]`` (``projected`` = pairs projected, ``kept``, ``dropped_partial``,
        ``dropped_no_entity``, ``train``/``dev`` = the silver split, ``spans`` =
        :meth:`~xlt.align.projection.ProjectionStats.to_dict`, ``entities`` = spans per label in
        the kept sentences, ``source_entities`` = English spans per label, ``tsv``); ``alignment``
        per language; ``seconds``; ``config``; ``manifest``; ``extra_markdown`` (the comparison
        table and the projection counts).

    Raises:
        ValueError: bad settings, English among the targets; UnknownLanguageError: a language
        missing from PAN-X or NTREX; DatasetNotFoundError: no panx/ntrex folder; DataFormatError:
        a malformed PAN-X line or NTREX files of different lengths.
    """
    from xlt.align.projection import bio_spans, project_corpus, write_xtreme_tsv
    from xlt.align.words import WordAligner
    from xlt.data.parallel import NTREX_SOURCE, read_multiparallel, select_ntrex
    from xlt.data.wordalign import simple_tokenize
    import torch

    from xlt.models.cache import FeatureCache
    from xlt.transfer.model import probe_layers, tag_features
    from xlt.transfer.probe import predict
    from xlt.transfer.training import decode_tags, train_tagger

    t0 = time.time()
    _check(config)
    cfg = config.resolved()
    seeds = list(config.seeds)
    torch.manual_seed(seeds[0])
    np.random.seed(seeds[0])
    labels = list(task_registry.PANX_TAGS)
    probe_kw = dict(metric="f1", head=cfg["head"], epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                    lr=cfg["lr"], progress=config.progress)
    seconds: dict = {}

    # ---- read everything first (a malformed file fails before the model is loaded)
    src_files = task_registry.source_files("panx", "en", config.data_dir)
    train = _load("panx", src_files["lang"], src_files["train"], config.train_limit)
    dev = _load("panx", src_files["lang"], src_files.get("dev") or src_files["train"], config.eval_limit)
    task_registry.label_list("panx", train.examples + dev.examples)  # BIO over PAN-X labels only
    targets = _targets(config)
    eng_path = select_ntrex("en", config.data_dir)[NTREX_SOURCE]
    eng_text = read_multiparallel({NTREX_SOURCE: eng_path})
    eng_tokens = [simple_tokenize(t) for t in eng_text.texts[NTREX_SOURCE]]
    eng_row = {line: i for i, line in enumerate(eng_text.lines)}
    n_english = sum(1 for w in eng_tokens if w)  # English sentences with at least one word
    pairs_of: dict[str, tuple[list[int], list[list[str]], int]] = {}
    for tg in targets:
        mp = read_multiparallel({NTREX_SOURCE: eng_path, tg.ntrex: tg.ntrex_path})
        src_idx, tgt_tok = [], []
        for line, text in zip(mp.lines, mp.texts[tg.ntrex]):
            words = simple_tokenize(text)
            i = eng_row[line]
            if words and eng_tokens[i]:
                src_idx.append(i)
                tgt_tok.append(words)
        pairs_of[tg.lang] = (src_idx, tgt_tok, mp.n_lines)
    for tg in targets:
        if not tg.eval_data.examples:
            raise ValueError(f"{tg.lang}: no sentences in {tg.eval_data.path}")

    outputs = [Output("--out", Path(config.out))] if config.out else []
    if config.cache_dir:
        outputs.append(Output("--cache-dir", Path(config.cache_dir), "store"))
    OutputPlan(inputs=[("--parallel", config.parallel), ("--model", config.model),
                       ("--data-dir", data_set_folders(config.data_dir))],
               outputs=outputs, overwrite=config.overwrite).check()
    encoder = load_encoder(config.model, device="auto")
    layers = probe_layers(cfg["layer"])
    # built now so that a layer outside the model fails before any training
    aligner = WordAligner(encoder, layer=config.align_layer, methods=(config.align_method,),
                          progress=config.progress, word_pieces=config.word_pieces)
    cache = FeatureCache(config.cache_dir) if config.cache_dir else None

    def features(sentences: list[list[str]]) -> tuple[torch.Tensor, int]:
        return tag_features(encoder, sentences, layers, progress=config.progress, cache=cache,
                            word_pieces=config.word_pieces)

    # ---- a. English probe, epoch chosen on English dev
    t = time.time()
    X, _ = features([e.tokens for e in train.examples])
    X_dev, _ = features([e.tokens for e in dev.examples])
    en_heads, histories, source_per_seed = {}, {}, {}
    for s in seeds:
        res = train_tagger(X, [list(e.labels) for e in train.examples], X_dev, [list(e.labels) for e in dev.examples],
                           labels, seed=s, **probe_kw)
        en_heads[s] = res.head
        histories[s] = {"english": res.history}
        source_per_seed[s] = _evaluate(res.head, X_dev, dev, labels)
    del X, X_dev
    seconds["english_probe"] = round(time.time() - t, 1)

    # ---- b. zero-shot on every target's PAN-X dev subset (features kept for step f)
    t = time.time()
    eval_X: dict[str, torch.Tensor] = {}
    counts: dict[str, dict] = {}
    zero_per_seed: dict[int, dict[str, float]] = {s: {} for s in seeds}
    for tg in tqdm(targets, desc="zero-shot", disable=not config.progress):
        eval_X[tg.lang], truncated = features([e.tokens for e in tg.eval_data.examples])
        counts[tg.lang] = _counts(task_registry.get_task("panx"), tg.eval_data, truncated)
        for s in seeds:
            zero_per_seed[s][tg.lang] = _evaluate(en_heads[s], eval_X[tg.lang], tg.eval_data, labels)
    seconds["zero_shot_eval"] = round(time.time() - t, 1)

    # ---- c. tag the English side of NTREX
    t = time.time()
    X_eng, _ = features(eng_tokens)
    eng_lengths = [len(w) for w in eng_tokens]
    eng_tags = {s: decode_tags(predict(en_heads[s], X_eng), eng_lengths, labels) for s in seeds}
    del X_eng
    seconds["tag_ntrex"] = round(time.time() - t, 1)

    # ---- d-f. per target: align, project, write, train on silver, evaluate
    out = Path(config.out) if config.out else None
    silver_per_seed: dict[int, dict[str, float]] = {s: {} for s in seeds}
    alignment: dict[str, dict] = {}
    seconds["languages"] = {}
    for tg in tqdm(targets, desc="silver", disable=not config.progress):
        lang = tg.lang
        timing: dict[str, float] = {}
        src_idx, tgt_tok, n_lines = pairs_of[lang]
        counts[lang]["ntrex"] = {"code": tg.ntrex, "file": str(tg.ntrex_path), "lines": n_lines,
                                 "english": n_english, "pairs": len(src_idx),
                                 "empty_target": n_english - len(src_idx)}
        counts[lang]["silver"] = {}
        t = time.time()
        links = aligner.align([(eng_tokens[i], w) for i, w in zip(src_idx, tgt_tok)], config.align_method)
        timing["align"] = round(time.time() - t, 1)
        alignment[lang] = {"links": sum(len(l) for l in links), "pairs": len(links),
                           "pairs_without_links": sum(1 for l in links if not l),
                           "encode_seconds": round(aligner.stats["seconds"]["encode"], 1),
                           "truncated_pairs": int(aligner.stats.get("n_truncated_pairs", 0))}
        if alignment[lang]["truncated_pairs"]:
            log.warning("%s: %d of %d NTREX sentence pairs are longer than the model takes and were cut before word "
                        "alignment (pairs %s); words past the cut get no projected label", lang,
                        alignment[lang]["truncated_pairs"], len(links),
                        ", ".join(str(i) for i in aligner.stats.get("truncated_pairs", [])[:5]))

        t = time.time()
        kept_of: dict[int, tuple[list[int], list[list[str]]]] = {}
        for n_seed, s in enumerate(seeds):
            src_tags = [eng_tags[s][i] for i in src_idx]
            tgt_tags, stats = project_corpus(src_tags, tgt_tok, links, max_gap=config.max_gap)
            partial, no_entity = set(stats.partial_sentences), set(stats.no_entity_sentences)
            keep = [k for k in range(len(tgt_tok))
                    if not (config.drop_partial and k in partial) and (config.keep_empty or k not in no_entity)]
            entities = Counter(lab for k in keep for _, _, lab in bio_spans(tgt_tags[k]))
            source_entities = Counter(lab for tags in src_tags for _, _, lab in bio_spans(tags))
            info = {"projected": len(tgt_tok), "kept": len(keep),
                    "dropped_partial": len(partial) if config.drop_partial else 0,
                    # a sentence without English spans can never be partial
                    "dropped_no_entity": 0 if config.keep_empty else len(no_entity),
                    "partial": len(partial), "no_entity": len(no_entity),
                    "spans": stats.to_dict(), "entities": dict(sorted(entities.items())),
                    "source_entities": dict(sorted(source_entities.items())), "tsv": None}
            if out is not None:
                path = _silver_path(out, lang, s, n_seed == 0)
                written = write_xtreme_tsv(path, [(tgt_tok[k], tgt_tags[k]) for k in keep])
                info["tsv"] = str(path)
                info["written"] = written["sentences"]
            counts[lang]["silver"][str(s)] = info
            kept_of[s] = (keep, tgt_tags)
        timing["project"] = round(time.time() - t, 1)

        # features once for every sentence some seed kept
        t = time.time()
        union = sorted({k for keep, _ in kept_of.values() for k in keep})
        pos = {k: p for p, k in enumerate(union)}
        X_silver = features([tgt_tok[k] for k in union])[0] if union else None
        starts = _rows([len(tgt_tok[k]) for k in union])
        timing["features"] = round(time.time() - t, 1)

        t = time.time()
        for s in seeds:
            keep, tgt_tags = kept_of[s]
            info = counts[lang]["silver"][str(s)]
            if len(keep) < 2:
                log.warning("%s: %d silver sentence(s) for seed %d: too few to train and select on, no silver score",
                            lang, len(keep), s)
                info.update(train=0, dev=0)
                silver_per_seed[s][lang] = float("nan")
                continue
            tr, dv = _split_dev(len(keep), config.silver_dev_fraction, s)
            info.update(train=len(tr), dev=len(dv))
            tr_sent, dv_sent = [keep[p] for p in tr], [keep[p] for p in dv]
            res = train_tagger(_gather(X_silver, starts, [pos[k] for k in tr_sent]), [tgt_tags[k] for k in tr_sent],
                               _gather(X_silver, starts, [pos[k] for k in dv_sent]), [tgt_tags[k] for k in dv_sent],
                               labels, seed=s, **probe_kw)
            histories[s][lang] = res.history
            silver_per_seed[s][lang] = _evaluate(res.head, eval_X[lang], tg.eval_data, labels)
        del X_silver
        eval_X.pop(lang)
        timing["train_eval"] = round(time.time() - t, 1)
        seconds["languages"][lang] = timing

    # ---- report
    langs = [tg.lang for tg in targets]

    def nan_mean_std(values: list[float]) -> tuple[float, float]:
        # a language without a silver score (NaN, logged above) makes its mean and the average NaN
        return mean_std(values) if all(np.isfinite(values)) else (float("nan"), float("nan"))

    def aggregate(per_seed: dict[int, dict[str, float]]):
        sc, sd = {}, {}
        for lang in langs:
            sc[lang], sd[lang] = nan_mean_std([per_seed[s][lang] for s in seeds])
        seed_avgs = [float(np.mean([per_seed[s][l] for l in langs])) for s in seeds]
        avg, avg_sd = nan_mean_std(seed_avgs)
        return sc, sd, avg, avg_sd

    scores, scores_std, average, average_std = aggregate(silver_per_seed)
    zs, zs_std, zs_avg, zs_avg_std = aggregate(zero_per_seed)
    src_mean, src_std = mean_std([source_per_seed[s] for s in seeds])
    seconds["total"] = round(time.time() - t0, 1)
    cfg_out = {k: v for k, v in cfg.items() if k != "progress"}
    cfg_out["aligner"] = {k: v for k, v in aligner.describe().items() if k != "model"}
    data_files = ([train.path, dev.path, eng_path] + [tg.ntrex_path for tg in targets]
                  + [tg.eval_data.path for tg in targets])
    report = {
        "command": command if command is not None else [Path(sys.argv[0]).name] + sys.argv[1:],
        "command_line": shlex.join(command if command is not None else sys.argv),
        "task": "panx",
        "model": config.model,
        "mode": f"silver ({config.parallel}, {config.align_method})",
        "source": src_files["lang"],
        "metric": "f1",
        "metric_name": "entity F1 (%)",
        "scores": scores,
        "scores_std": scores_std,
        "per_seed": {str(s): v for s, v in silver_per_seed.items()},
        "average": average,
        "average_std": average_std,
        "n_targets": len(langs),
        "zero_shot_scores": zs,
        "zero_shot_scores_std": zs_std,
        "zero_shot_per_seed": {str(s): v for s, v in zero_per_seed.items()},
        "zero_shot_average": zs_avg,
        "zero_shot_average_std": zs_avg_std,
        "source_scores": {"dev": src_mean, "dev_std": src_std,
                          "per_seed": {str(s): v for s, v in source_per_seed.items()}},
        "counts": counts,
        "source_counts": {"train": _counts(task_registry.get_task("panx"), train, 0),
                          "dev": _counts(task_registry.get_task("panx"), dev, 0),
                          "ntrex_english": {"lines": eng_text.n_lines, "sentences": len(eng_tokens),
                                            "empty": eng_text.n_skipped_empty,
                                            "no_words": len(eng_tokens) - n_english,
                                            "words": int(sum(len(w) for w in eng_tokens))}},
        "alignment": alignment,
        "labels": labels,
        "training": {str(s): h for s, h in histories.items()},
        "seconds": seconds,
        "config": cfg_out,
        "manifest": build_manifest(cfg_out, data_files, encoder.describe(), seeds),
    }
    report["extra_markdown"] = _markdown(report, langs, seeds)
    if out is not None:
        write_report(out, report)
    return report


__all__ = ["DEFAULT_LANGS", "PARALLEL", "SilverConfig", "run_silver"]
