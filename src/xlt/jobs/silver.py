"""Silver training data by label projection, and its PAN-X score next to zero-shot transfer.

``xlt project --silver ntrex`` (:func:`run`, settings :class:`SilverSettings`) runs the whole *translate-train by
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from tqdm.auto import tqdm

from xlt.align.projection import bio_spans, project_corpus, write_xtreme_tsv
from xlt.align.words import METHODS, WordAligner
from xlt.core.metrics import mean_std, score
from xlt.core.outputs import Output, OutputPlan
from xlt.data import tasks as task_registry
from xlt.data.parallel import NTREX_SOURCE, read_multiparallel, select_ntrex
from xlt.data.paths import data_set_folders
from xlt.data.wordalign import simple_tokenize
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import write_report
from xlt.jobs import ConfigError
from xlt.jobs.parts import ProbeSettings, ProjectionSettings, probe_training
from xlt.jobs.settings import AT_LEAST_1, FRACTION, RunSettings, option
from xlt.models.cache import FeatureCache
from xlt.models.loading import load_encoder

# torch and the trainers (xlt.transfer.*) are imported inside the steps that use them: `xlt` imports this
# module to build its parser, and torch alone takes about a second to import
if TYPE_CHECKING:
    import torch

    from xlt.transfer.training_settings import ProbeTraining

log = logging.getLogger(__name__)

#: Parallel corpora :func:`run` can build silver data from.
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


@dataclass(kw_only=True)
class SilverPart(ProjectionSettings):
    """Silver-data mode (--silver): the parallel corpus, the alignment and the data sizes.

    Attributes:
        parallel: the parallel corpus (``ntrex``): option ``--silver``.
        langs: target languages (any code form: ``de``, ``deu``); each must have a PAN-X dev set and
            an NTREX translation. ``zh`` takes NTREX ``zho-CN`` (simplified); ``zho-TW`` selects the
            traditional-script translation (PAN-X zh mixes both scripts).
        align_method: ``itermax`` (default; see the module docstring), ``argmax``, ``match`` or
            ``softmax`` (:class:`xlt.align.words.WordAligner`).
        align_layer: hidden state the alignment vectors come from (default 8, as SimAlign).
        train_limit: first N sentences of the PAN-X English training set (as the zero-shot PAN-X probe
            runs); None = all.
        eval_limit: first N sentences of the English dev set and of each target's PAN-X dev set;
            None = all.
        silver_dev_fraction: share of the silver sentences held out to choose the silver probe's
            epoch (at least one sentence); a config-file setting.
    """

    parallel: Literal["ntrex"] = option("ntrex", flag="--silver",
                                        help="build silver NER data from this parallel corpus, train on it and "
                                             "compare with zero-shot")
    langs: list[str] = option(default_factory=lambda: DEFAULT_LANGS.split(","),
                              help="target languages (zho-TW for traditional Chinese)")
    align_method: Literal[METHODS] = option("itermax", help="word alignment method (itermax: more links, fewer "
                                                            "unprojectable spans; argmax is the higher-precision "
                                                            "choice)")
    align_layer: int = option(8, help="hidden state for alignment")
    train_limit: int | None = option(5000, check=AT_LEAST_1, help="first N PAN-X English training sentences")
    eval_limit: int | None = option(1000, check=AT_LEAST_1, help="first N sentences of each PAN-X dev set")
    silver_dev_fraction: float = option(0.1, check=FRACTION, cli=False,
                                        help="share of the silver sentences held out to choose the silver probe's "
                                             "epoch")


@dataclass(kw_only=True)
class SilverSettings(RunSettings, ProbeSettings, SilverPart):
    """Settings of one silver-data run (``xlt project --silver ntrex``): the parts
    :class:`~xlt.jobs.settings.RunSettings` (model: one encoder gives the probe features and the
    alignments; out: the report folder with ``silver/``), :class:`~xlt.jobs.parts.ProbeSettings` (as
    ``xlt transfer --mode probe``; epochs, batch size and learning rate default to the token-task
    probe's: 10, 256, 1e-3; ``word_pieces`` also sets the word aligner's units; seeds: one run of the
    whole chain per seed), :class:`~xlt.jobs.parts.ProjectionSettings` and :class:`SilverPart`.

    Raises:
        ConfigError: a value outside its constraint, or no target language, at construction.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.langs:
            raise ConfigError("--langs: no target language given")

    def echo(self) -> dict:
        """The settings as reports record them (``config``, before the resolved probe settings): the
        fields in the order reports have always listed them, languages comma-separated, paths as text."""
        keys = ("langs", "model", "parallel", "align_method", "align_layer", "train_limit", "eval_limit", "layer",
                "head", "epochs", "batch_size", "lr", "word_pieces", "seeds", "silver_dev_fraction", "drop_partial",
                "keep_empty", "max_gap", "data_dir", "cache_dir", "out", "overwrite")
        special = {"langs": ",".join(self.langs),
                   **{k: None if getattr(self, k) is None else str(getattr(self, k))
                      for k in ("data_dir", "cache_dir", "out")}}
        return {k: special[k] if k in special else getattr(self, k) for k in keys}


#: The settings' former name.
SilverConfig = SilverSettings


@dataclass
class _Target:
    """One target language: its PAN-X code, NTREX file and PAN-X dev data."""

    lang: str
    ntrex: str
    ntrex_path: Path
    eval_data: object


def _rows(lengths: list[int]) -> np.ndarray:
    """Start row of every sentence in a feature stack (plus the end)."""
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])


def _gather(X: torch.Tensor, starts: np.ndarray, sentences: list[int]) -> torch.Tensor:
    """The feature rows of the given sentences (indices into ``starts``), in that order."""
    import torch  # lazy: heavy import

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
    from xlt.transfer.probe import predict  # lazy: heavy import
    from xlt.transfer.training import decode_tags  # lazy: heavy import

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


def _targets(settings: SilverSettings) -> list[_Target]:
    """Resolve the languages against PAN-X and NTREX and read every PAN-X dev subset."""
    avail = task_registry.available_languages("panx", settings.data_dir)
    out: dict[str, _Target] = {}
    for code in settings.langs:
        lang = task_registry.match_task_language("panx", code, settings.data_dir)
        if lang == "en":
            raise ValueError("English is the source language; give target languages only")
        (ntrex, path), = select_ntrex(code, settings.data_dir, include_source=False).items()
        if lang not in out:
            out[lang] = _Target(lang, ntrex, path, _load("panx", lang, avail[lang], settings.eval_limit))
    return list(out.values())


@dataclass
class SilverInputs:
    """Everything a silver run reads, read (and checked) before the model loads.

    Attributes:
        source: the PAN-X English files (``lang``, ``train``, ``dev``).
        train, dev: the English training and dev subsets.
        targets: each target's PAN-X dev subset and NTREX file.
        eng_path: NTREX's English file. eng_text: its lines. eng_tokens: each line's words.
        n_english: English lines with at least one word.
        pairs: language -> ``(English line of each pair, target words of each pair, NTREX lines)``:
            the pairs with words on both sides.
    """

    source: dict
    train: LanguageData
    dev: LanguageData
    targets: list[_Target]
    eng_path: Path
    eng_text: object
    eng_tokens: list[list[str]]
    n_english: int
    pairs: dict[str, tuple[list[int], list[list[str]], int]]


def read_inputs(settings: SilverSettings) -> SilverInputs:
    """Read PAN-X English, every target's PAN-X dev subset and NTREX (English and each target), so
    that a malformed file fails before the model is loaded.

    Raises:
        ValueError: English among the targets, a target without dev sentences; UnknownLanguageError:
            a language missing from PAN-X or NTREX; DatasetNotFoundError, DataFormatError.
    """
    src_files = task_registry.source_files("panx", "en", settings.data_dir)
    train = _load("panx", src_files["lang"], src_files["train"], settings.train_limit)
    dev = _load("panx", src_files["lang"], src_files.get("dev") or src_files["train"], settings.eval_limit)
    task_registry.label_list("panx", train.examples + dev.examples)  # BIO over PAN-X labels only
    targets = _targets(settings)
    eng_path = select_ntrex("en", settings.data_dir)[NTREX_SOURCE]
    eng_text = read_multiparallel({NTREX_SOURCE: eng_path})
    eng_tokens = [simple_tokenize(t) for t in eng_text.texts[NTREX_SOURCE]]
    eng_row = {line: i for i, line in enumerate(eng_text.lines)}
    pairs: dict[str, tuple[list[int], list[list[str]], int]] = {}
    for tg in targets:
        mp = read_multiparallel({NTREX_SOURCE: eng_path, tg.ntrex: tg.ntrex_path})
        src_idx, tgt_tok = [], []
        for line, text in zip(mp.lines, mp.texts[tg.ntrex]):
            words = simple_tokenize(text)
            i = eng_row[line]
            if words and eng_tokens[i]:
                src_idx.append(i)
                tgt_tok.append(words)
        pairs[tg.lang] = (src_idx, tgt_tok, mp.n_lines)
    for tg in targets:
        if not tg.eval_data.examples:
            raise ValueError(f"{tg.lang}: no sentences in {tg.eval_data.path}")
    return SilverInputs(src_files, train, dev, targets, eng_path, eng_text, eng_tokens,
                        sum(1 for w in eng_tokens if w), pairs)


def _check_outputs(settings: SilverSettings) -> None:
    outputs = [Output("--out", Path(settings.out))] if settings.out else []
    if settings.cache_dir:
        outputs.append(Output("--cache-dir", Path(settings.cache_dir), "store"))
    OutputPlan(inputs=[("--parallel", settings.parallel), ("--model", settings.model),
                       ("--data-dir", data_set_folders(settings.data_dir))],
               outputs=outputs, overwrite=settings.overwrite).check()


@dataclass
class _Run:
    """What the steps of a silver run share: settings, inputs, the probe's training, the feature
    function, the PAN-X labels, and what the steps measure (filled in step by step)."""

    settings: SilverSettings
    inputs: SilverInputs
    training: ProbeTraining
    features: object
    labels: list[str]
    seconds: dict = field(default_factory=dict)
    en_heads: dict = field(default_factory=dict)
    histories: dict = field(default_factory=dict)
    source_per_seed: dict = field(default_factory=dict)
    zero_per_seed: dict = field(default_factory=dict)
    silver_per_seed: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    eval_X: dict = field(default_factory=dict)
    eng_tags: dict = field(default_factory=dict)
    alignment: dict = field(default_factory=dict)


def _english_probe(r: _Run) -> None:
    """Step a: one English probe per seed, its epoch chosen on English dev."""
    from xlt.transfer.training import train_tagger  # lazy: heavy import

    t = time.time()
    train, dev = r.inputs.train, r.inputs.dev
    X, _ = r.features([e.tokens for e in train.examples])
    X_dev, _ = r.features([e.tokens for e in dev.examples])
    for s in r.settings.seeds:
        res = train_tagger(X, [list(e.labels) for e in train.examples], X_dev, [list(e.labels) for e in dev.examples],
                           r.labels, r.training, seed=s)
        r.en_heads[s] = res.head
        r.histories[s] = {"english": res.history}
        r.source_per_seed[s] = _evaluate(res.head, X_dev, dev, r.labels)
    r.seconds["english_probe"] = round(time.time() - t, 1)


def _zero_shot(r: _Run) -> None:
    """Step b: the English probes on every target's PAN-X dev subset (features kept for step f)."""
    t = time.time()
    r.zero_per_seed = {s: {} for s in r.settings.seeds}
    for tg in tqdm(r.inputs.targets, desc="zero-shot", disable=not r.settings.progress):
        r.eval_X[tg.lang], truncated = r.features([e.tokens for e in tg.eval_data.examples])
        r.counts[tg.lang] = _counts(task_registry.get_task("panx"), tg.eval_data, truncated)
        for s in r.settings.seeds:
            r.zero_per_seed[s][tg.lang] = _evaluate(r.en_heads[s], r.eval_X[tg.lang], tg.eval_data, r.labels)
    r.seconds["zero_shot_eval"] = round(time.time() - t, 1)


def _tag_ntrex(r: _Run) -> None:
    """Step c: the English side of NTREX tagged by each seed's English probe."""
    from xlt.transfer.probe import predict  # lazy: heavy import
    from xlt.transfer.training import decode_tags  # lazy: heavy import

    t = time.time()
    tokens = r.inputs.eng_tokens
    X_eng, _ = r.features(tokens)
    lengths = [len(w) for w in tokens]
    r.eng_tags = {s: decode_tags(predict(r.en_heads[s], X_eng), lengths, r.labels) for s in r.settings.seeds}
    del X_eng
    r.seconds["tag_ntrex"] = round(time.time() - t, 1)


def _align(r: _Run, aligner, tg: _Target) -> list:
    """Step d (first half): NTREX English words aligned to the target's words; counts into the run."""
    src_idx, tgt_tok, n_lines = r.inputs.pairs[tg.lang]
    eng_tokens, n_english = r.inputs.eng_tokens, r.inputs.n_english
    r.counts[tg.lang]["ntrex"] = {"code": tg.ntrex, "file": str(tg.ntrex_path), "lines": n_lines,
                                  "english": n_english, "pairs": len(src_idx), "empty_target": n_english - len(src_idx)}
    r.counts[tg.lang]["silver"] = {}
    links = aligner.align([(eng_tokens[i], w) for i, w in zip(src_idx, tgt_tok)], r.settings.align_method)
    info = {"links": sum(len(l) for l in links), "pairs": len(links),
            "pairs_without_links": sum(1 for l in links if not l),
            "encode_seconds": round(aligner.stats["seconds"]["encode"], 1),
            "truncated_pairs": int(aligner.stats.get("n_truncated_pairs", 0))}
    r.alignment[tg.lang] = info
    if info["truncated_pairs"]:
        log.warning("%s: %d of %d NTREX sentence pairs are longer than the model takes and were cut before word "
                    "alignment (pairs %s); words past the cut get no projected label", tg.lang,
                    info["truncated_pairs"], len(links),
                    ", ".join(str(i) for i in aligner.stats.get("truncated_pairs", [])[:5]))
    return links


def _project(r: _Run, tg: _Target, links: list) -> dict[int, tuple[list[int], list[list[str]]]]:
    """Step d (second half): each seed's English tags projected onto the target, filtered, written to
    ``out/silver``; returns seed -> ``(kept sentences, projected tags)``."""
    s_ = r.settings
    src_idx, tgt_tok, _ = r.inputs.pairs[tg.lang]
    out = Path(s_.out) if s_.out else None
    kept_of: dict[int, tuple[list[int], list[list[str]]]] = {}
    for n_seed, s in enumerate(s_.seeds):
        src_tags = [r.eng_tags[s][i] for i in src_idx]
        tgt_tags, stats = project_corpus(src_tags, tgt_tok, links, max_gap=s_.max_gap)
        partial, no_entity = set(stats.partial_sentences), set(stats.no_entity_sentences)
        keep = [k for k in range(len(tgt_tok))
                if not (s_.drop_partial and k in partial) and (s_.keep_empty or k not in no_entity)]
        entities = Counter(lab for k in keep for _, _, lab in bio_spans(tgt_tags[k]))
        source_entities = Counter(lab for tags in src_tags for _, _, lab in bio_spans(tags))
        info = {"projected": len(tgt_tok), "kept": len(keep),
                "dropped_partial": len(partial) if s_.drop_partial else 0,
                # a sentence without English spans can never be partial
                "dropped_no_entity": 0 if s_.keep_empty else len(no_entity),
                "partial": len(partial), "no_entity": len(no_entity),
                "spans": stats.to_dict(), "entities": dict(sorted(entities.items())),
                "source_entities": dict(sorted(source_entities.items())), "tsv": None}
        if out is not None:
            path = _silver_path(out, tg.lang, s, n_seed == 0)
            written = write_xtreme_tsv(path, [(tgt_tok[k], tgt_tags[k]) for k in keep])
            info["tsv"] = str(path)
            info["written"] = written["sentences"]
        r.counts[tg.lang]["silver"][str(s)] = info
        kept_of[s] = (keep, tgt_tags)
    return kept_of


def _train_on_silver(r: _Run, tg: _Target, kept_of: dict, timing: dict) -> None:
    """Steps e-f: a probe per seed on its silver sentences (epoch chosen on a silver dev split), scored
    on the target's PAN-X dev subset."""
    from xlt.transfer.training import train_tagger  # lazy: heavy import

    lang, tgt_tok = tg.lang, r.inputs.pairs[tg.lang][1]
    # features once for every sentence some seed kept
    t = time.time()
    union = sorted({k for keep, _ in kept_of.values() for k in keep})
    pos = {k: p for p, k in enumerate(union)}
    X_silver = r.features([tgt_tok[k] for k in union])[0] if union else None
    starts = _rows([len(tgt_tok[k]) for k in union])
    timing["features"] = round(time.time() - t, 1)
    t = time.time()
    for s in r.settings.seeds:
        keep, tgt_tags = kept_of[s]
        info = r.counts[lang]["silver"][str(s)]
        if len(keep) < 2:
            log.warning("%s: %d silver sentence(s) for seed %d: too few to train and select on, no silver score",
                        lang, len(keep), s)
            info.update(train=0, dev=0)
            r.silver_per_seed[s][lang] = float("nan")
            continue
        tr, dv = _split_dev(len(keep), r.settings.silver_dev_fraction, s)
        info.update(train=len(tr), dev=len(dv))
        tr_sent, dv_sent = [keep[p] for p in tr], [keep[p] for p in dv]
        res = train_tagger(_gather(X_silver, starts, [pos[k] for k in tr_sent]), [tgt_tags[k] for k in tr_sent],
                           _gather(X_silver, starts, [pos[k] for k in dv_sent]), [tgt_tags[k] for k in dv_sent],
                           r.labels, r.training, seed=s)
        r.histories[s][lang] = res.history
        r.silver_per_seed[s][lang] = _evaluate(res.head, r.eval_X[lang], tg.eval_data, r.labels)
    del X_silver
    r.eval_X.pop(lang)
    timing["train_eval"] = round(time.time() - t, 1)


def _silver_languages(r: _Run, aligner) -> None:
    """Steps d-f for every target: align, project, write, train on silver, evaluate."""
    r.silver_per_seed = {s: {} for s in r.settings.seeds}
    r.seconds["languages"] = {}
    for tg in tqdm(r.inputs.targets, desc="silver", disable=not r.settings.progress):
        timing: dict[str, float] = {}
        t = time.time()
        links = _align(r, aligner, tg)
        timing["align"] = round(time.time() - t, 1)
        t = time.time()
        kept_of = _project(r, tg, links)
        timing["project"] = round(time.time() - t, 1)
        _train_on_silver(r, tg, kept_of, timing)
        r.seconds["languages"][tg.lang] = timing


def _aggregate(per_seed: dict[int, dict[str, float]], langs: list[str], seeds: list[int]):
    """``(scores, stds, average, average std)`` over seeds; a language without a silver score (NaN,
    logged) makes its mean and the average NaN."""
    def nan_mean_std(values: list[float]) -> tuple[float, float]:
        return mean_std(values) if all(np.isfinite(values)) else (float("nan"), float("nan"))

    sc, sd = {}, {}
    for lang in langs:
        sc[lang], sd[lang] = nan_mean_std([per_seed[s][lang] for s in seeds])
    seed_avgs = [float(np.mean([per_seed[s][l] for l in langs])) for s in seeds]
    avg, avg_sd = nan_mean_std(seed_avgs)
    return sc, sd, avg, avg_sd


def _report(r: _Run, cfg: dict, model_info: dict, command: list[str] | None) -> dict:
    """The report of a silver run (see :func:`run`)."""
    inputs, seeds = r.inputs, r.settings.seeds
    langs = [tg.lang for tg in inputs.targets]
    scores, scores_std, average, average_std = _aggregate(r.silver_per_seed, langs, seeds)
    zs, zs_std, zs_avg, zs_avg_std = _aggregate(r.zero_per_seed, langs, seeds)
    src_mean, src_std = mean_std([r.source_per_seed[s] for s in seeds])
    data_files = ([inputs.train.path, inputs.dev.path, inputs.eng_path] + [tg.ntrex_path for tg in inputs.targets]
                  + [tg.eval_data.path for tg in inputs.targets])
    panx = task_registry.get_task("panx")
    report = {
        "command": command if command is not None else [Path(sys.argv[0]).name] + sys.argv[1:],
        "command_line": shlex.join(command if command is not None else sys.argv),
        "task": "panx", "model": r.settings.model, "mode": f"silver ({r.settings.parallel}, {r.settings.align_method})",
        "source": inputs.source["lang"], "metric": "f1", "metric_name": "entity F1 (%)",
        "scores": scores, "scores_std": scores_std, "per_seed": {str(s): v for s, v in r.silver_per_seed.items()},
        "average": average, "average_std": average_std, "n_targets": len(langs),
        "zero_shot_scores": zs, "zero_shot_scores_std": zs_std,
        "zero_shot_per_seed": {str(s): v for s, v in r.zero_per_seed.items()},
        "zero_shot_average": zs_avg, "zero_shot_average_std": zs_avg_std,
        "source_scores": {"dev": src_mean, "dev_std": src_std,
                          "per_seed": {str(s): v for s, v in r.source_per_seed.items()}},
        "counts": r.counts,
        "source_counts": {"train": _counts(panx, inputs.train, 0), "dev": _counts(panx, inputs.dev, 0),
                          "ntrex_english": {"lines": inputs.eng_text.n_lines, "sentences": len(inputs.eng_tokens),
                                            "empty": inputs.eng_text.n_skipped_empty,
                                            "no_words": len(inputs.eng_tokens) - inputs.n_english,
                                            "words": int(sum(len(w) for w in inputs.eng_tokens))}},
        "alignment": r.alignment, "labels": r.labels,
        "training": {str(s): h for s, h in r.histories.items()},
        "seconds": r.seconds, "config": cfg,
        "manifest": build_manifest(cfg, data_files, model_info, seeds),
    }
    report["extra_markdown"] = _markdown(report, langs, seeds)
    return report


@dataclass
class SilverResult:
    """What :func:`run` measured.

    Attributes:
        scores: target -> silver F1 (%, mean over seeds; NaN: too little silver data).
        zero_shot_scores: target -> the English probe's F1 on the same dev sentences (%).
        average, zero_shot_average: means over the targets (%).
        report: the full report (``report.json`` when ``out`` is set), see :func:`run`.
        out: the report folder (None: nothing written).
    """

    scores: dict[str, float]
    zero_shot_scores: dict[str, float]
    average: float
    zero_shot_average: float
    report: dict
    out: Path | None = None


def run(settings: SilverSettings, command: list[str] | None = None) -> SilverResult:
    """Build projected silver NER data from NTREX and score it against zero-shot transfer on PAN-X.

    See the module docstring for the steps. Every input (PAN-X, NTREX) is read and checked before
    the model is loaded.

    Returns:
        :class:`SilverResult`; its report (written with :func:`xlt.evaluate.report.write_report`
        when ``settings.out`` is set) has ``scores`` = silver F1 per target (mean over seeds, %),
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
        ValueError: English among the targets; UnknownLanguageError: a language missing from PAN-X
            or NTREX; DatasetNotFoundError: no panx/ntrex folder; DataFormatError: a malformed PAN-X
            line or NTREX files of different lengths; ValueError: an alignment layer the model lacks.
    """
    import torch  # lazy: heavy import

    from xlt.transfer.model import probe_layers, tag_features  # lazy: heavy import

    t0 = time.time()
    s = settings
    training = probe_training(s, "token")
    torch.manual_seed(s.seeds[0])
    np.random.seed(s.seeds[0])
    inputs = read_inputs(s)  # a malformed file fails before the model is loaded
    _check_outputs(s)
    encoder = load_encoder(s.model, device="auto", **s.encoder_options())
    layers = probe_layers(training.layer)
    # built now so that a layer outside the model fails before any training
    aligner = WordAligner(encoder, layer=s.align_layer, methods=(s.align_method,), progress=s.progress,
                          word_pieces=s.word_pieces)
    cache = FeatureCache(s.cache_dir) if s.cache_dir else None

    def features(sentences: list[list[str]]) -> tuple[torch.Tensor, int]:
        return tag_features(encoder, sentences, layers, progress=s.progress, cache=cache, word_pieces=s.word_pieces)

    r = _Run(s, inputs, training, features, list(task_registry.PANX_TAGS))
    _english_probe(r)
    _zero_shot(r)
    _tag_ntrex(r)
    _silver_languages(r, aligner)
    r.seconds["total"] = round(time.time() - t0, 1)
    cfg = dict(s.echo(), epochs=training.epochs, batch_size=training.batch_size, lr=training.lr)
    cfg["aligner"] = {k: v for k, v in aligner.describe().items() if k != "model"}
    report = _report(r, cfg, encoder.describe(), command)
    if s.out:
        write_report(s.out, report)
    return SilverResult(scores=report["scores"], zero_shot_scores=report["zero_shot_scores"],
                        average=report["average"], zero_shot_average=report["zero_shot_average"], report=report,
                        out=s.out)


def run_silver(settings: SilverSettings, command: list[str] | None = None) -> dict:
    """:func:`run`, returning the report dict."""
    return run(settings, command).report


__all__ = ["DEFAULT_LANGS", "PARALLEL", "SilverConfig", "SilverInputs", "SilverPart", "SilverResult", "SilverSettings",
           "read_inputs", "run", "run_silver"]
