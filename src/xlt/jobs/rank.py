"""``xlt rank-sources``: rank source languages for a target, and evaluate the ranker.

Input: one or more transfer matrices (``xlt transfer --source a,b,... --matrix --out DIR``).
Each target column is one ranking query; the ranker (:class:`xlt.transfer.ranking.SourceRanker`)
learns from the other columns. ``evaluate`` scores it leave one target out (NDCG@3, top-1
accuracy, the score lost against the oracle best source) beside single-feature baselines; a
``target`` gets the ranked candidates with the features behind each.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xlt.data.dataset import from_files, load_task
from xlt.data.langs import (AmbiguousLanguageError, UnknownLanguageError, denote_same, iso639_3, match_language,
                            same_language)
from xlt.data.text import example_text as as_text
from xlt.data.text import texts_for
from xlt.core.io import write_json
from xlt.core.outputs import Output, OutputPlan, staged_folder
from xlt.data.paths import data_set_folders
from xlt.jobs.parts import TransferSettings
from xlt.jobs.settings import AT_LEAST_0, AT_LEAST_1, RunSettings, option
from xlt.models import loading
from xlt.models.loading import DEFAULT_MODEL
from xlt.transfer.ranking import (FEATURES, OPTIONAL_FEATURES, SHIPPED_FEATURES, SOURCE_PRIOR, LanguageProfile,
                                  RankingError,
                                  SourceRanker, dominant_script, in_uriel, ndcg_at, pair_features, piece_set,
                                  ranker_kind, relevance, shipped_ranker, uriel_distances)

__all__ = ["Analysis", "RankConfig", "RankResult", "RankSettings", "language_profiles", "language_texts", "loto_rankings",
           "matrix_config", "run",
           "rank_with_shipped", "ranking_features", "read_analysis", "read_matrix", "run_rank", "shipped_pair_features",
           "shipped_queries", "shipped_scores"]

log = logging.getLogger(__name__)

#: Baselines: name -> (feature, True when higher is better); "first source" is handled apart, and
#: a baseline whose feature a ranking lacks is left out.
BASELINES = {"nearest by URIEL syntax": ("uriel_syntactic", False),
             "nearest by URIEL (featural)": ("uriel_featural", False),
             "most subword overlap": ("subword_overlap", True),
             "nearest by mPLM-Sim": ("mplm_sim", True)}


@dataclass(kw_only=True)
class RankSettings(RunSettings):
    """Settings of ``xlt rank-sources`` (with :class:`~xlt.jobs.settings.RunSettings`: model, out,
    overwrite, data_dir).

    Attributes:
        matrices: matrix folders (or their ``matrix.json``) from ``xlt transfer --matrix``; none: rank
            ``target``'s candidates with the shipped ranker of ``task`` (:func:`rank_with_shipped`).
        target: rank the candidates for this language (None: only the evaluation; required without
            ``matrices``).
        candidates: source languages to rank (default: the matrix's sources; without a matrix, the
            sources of the shipped ranker's training matrices).
        text: language -> text file (one sentence per line) for the overlap and script features, in
            place of the built-in text (needed for a language no built-in set holds).
        model: whose tokenizer measures subword overlap (with ``matrices``). text_sentences: sentences
            per language for the overlap and script features. data_dir: data folder of the matrix's task.
        task: with matrices, use only the matrices of this task (their ``task`` field: ``udpos``, or a
            user data set's name; None = all); without, the shipped ranker's task kind (``pos``,
            ``ner``, ``classification``, or a built-in task name; None = ``general``).
        analysis: an ``xlt analyze`` report folder (or its ``report.json``) on parallel text of the
            matrix's languages: adds the mPLM-Sim and MEXA features and the "nearest by mPLM-Sim"
            baseline (None: without them).
        out: report folder. overwrite: replace a non-empty one. seed: the ranker's seed.

    Raises:
        RankingError: neither ``matrices`` nor ``target``, or ``analysis`` without ``matrices``;
        ConfigError: a value outside its constraint.
    """

    matrices: list[Path] = option(default_factory=list, flag="--matrix", nargs="+", metavar="DIR",
                                  help="matrix folder(s) or matrix.json file(s) written by `xlt transfer --matrix` "
                                       "(default: none, use the shipped ranker)")
    analysis: Path | None = option(None, metavar="DIR",
                                   help="an `xlt analyze` report on parallel text of the matrix's languages: adds "
                                        "mPLM-Sim and MEXA features and the 'nearest by mPLM-Sim' baseline (targets it "
                                        "lacks are left out)")
    task: str | None = option(None, help="without --matrix: the shipped ranker's task kind (pos, ner, classification, "
                                         "general; or udpos, panx, sib200; default general); with --matrix: use only "
                                         "the matrices of this task (udpos, panx, sib200, or your data set's name)")
    target: str | None = option(None, help="the language to rank sources for (any code: yo, yor, yor_Latn)")
    candidates: list[str] | None = option(None, help="comma-separated sources to rank (default: the matrix's sources; "
                                                     "without --matrix, the sources of the shipped ranker's training "
                                                     "matrices)")
    text: dict[str, Path] = option(default_factory=dict, metavar="LANG=FILE",
                                   help="text of a language (one sentence per line) for the overlap and script "
                                        "features, in place of the built-in text; needed for a language no built-in "
                                        "set holds; repeat it")
    model: str = option(DEFAULT_MODEL, help="with --matrix: tokenizer for the subword-overlap feature (the shipped "
                                            "rankers use the one they were trained with)")
    text_sentences: int = option(300, check=AT_LEAST_1, help="sentences per language for the overlap and script "
                                                             "features")
    seed: int = option(0, check=AT_LEAST_0, help="the ranker's seed")
    data_dir: Path | None = option(None, help="data folder of the matrix's task")
    out: Path | None = option(None, help="report folder (report.json, report.md) (required on the command line)")
    overwrite: bool = option(False, help="replace a non-empty --out")
    progress: bool = option(True, cli=False, help="progress bars (unused: ranking shows none)")

    def __post_init__(self) -> None:
        if isinstance(self.matrices, (str, Path)):
            self.matrices = [self.matrices]
        super().__post_init__()
        if not self.matrices and self.target is None:
            raise RankingError("give --target LANG to rank sources for it with the shipped ranker, or --matrix DIR "
                               "to learn from (and evaluate on) your own transfer matrices")
        if not self.matrices and self.analysis is not None:
            raise RankingError("--analysis adds features to a ranker learnt from --matrix; the shipped rankers "
                               "take none")

    def echo(self) -> dict:
        """The settings as reports record them (``config``): the order and forms reports have always had
        (paths as text, candidates comma-separated, texts as ``LANG=FILE``)."""
        def text(v):
            return None if v is None else str(v)

        return {"matrices": [str(m) for m in self.matrices], "analysis": text(self.analysis), "task": self.task,
                "target": self.target, "candidates": None if self.candidates is None else ",".join(self.candidates),
                "model": self.model, "text_sentences": self.text_sentences, "data_dir": text(self.data_dir),
                "out": text(self.out), "overwrite": self.overwrite, "seed": self.seed,
                "text": [f"{k}={v}" for k, v in self.text.items()]}


#: The settings' former name.
RankConfig = RankSettings


def read_matrix(path: str | Path) -> dict:
    """A ``matrix.json`` (or the folder holding it).

    Raises:
        FileNotFoundError: no such file; RankingError: not a transfer matrix.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "matrix.json"
    if not p.is_file():
        raise FileNotFoundError(f"--matrix {path}: no matrix.json (write one with `xlt transfer --matrix`)")
    try:
        rep = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RankingError(f"{p}: not a readable matrix.json ({exc})") from None
    if not isinstance(rep, dict) or not {"sources", "targets", "scores", "task"} <= set(rep):
        raise RankingError(f"{p}: not a transfer matrix (needs sources, targets, scores and task)")
    if len(rep["sources"]) < 2:
        raise RankingError(f"{p}: a matrix with a single source ({rep['sources'][0]}) has nothing to rank")
    rep["_path"] = str(p)
    return rep


@dataclass
class Analysis:
    """What source ranking takes from an ``xlt analyze`` report.

    Attributes:
        path: the report file. langs: its language codes. similarity: ``(L, L)`` mPLM-Sim matrix
        (mean cosine of parallel sentence vectors, one layer). mexa: language -> MEXA alignment with
        the pivot (percent; the pivot itself 100). pivot: the pivot language. layer: the layer.
    """

    path: str
    langs: list[str]
    similarity: np.ndarray
    mexa: dict[str, float]
    pivot: str
    layer: Any = None

    def match(self, code: str) -> str | None:
        """The analysis's code for a matrix language (None: not in the analysis)."""
        try:
            return match_language(code, self.langs)
        except (UnknownLanguageError, AmbiguousLanguageError):
            return None


def read_analysis(path: str | Path) -> Analysis:
    """An ``xlt analyze`` report (folder or ``report.json``) as an :class:`Analysis`.

    Raises:
        FileNotFoundError: no report; RankingError: not an alignment analysis (no similarity matrix).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    if not p.is_file():
        raise FileNotFoundError(f"--analysis {path}: no report.json (write one with `xlt analyze --out DIR`)")
    try:
        rep = json.loads(p.read_text(encoding="utf-8"))
        sim = rep["similarity"]
        langs = [str(l) for l in sim["langs"]]
        matrix = np.asarray(sim["matrix"], dtype=float)
        mexa = {str(k): float(v) for k, v in rep["scores"].items()}
        pivot = str(rep["source"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RankingError(f"{p}: not an `xlt analyze` report with a similarity matrix ({exc})") from None
    if matrix.shape != (len(langs), len(langs)) or not np.isfinite(matrix).all():
        raise RankingError(f"{p}: its similarity matrix is {matrix.shape} for {len(langs)} languages, or not finite")
    mexa.setdefault(pivot, 100.0)
    return Analysis(str(p), langs, matrix, mexa, pivot, sim.get("layer"))


def matrix_config(rep: dict, data_dir: str | None = None):
    """The :class:`~xlt.jobs.parts.TransferSettings` a matrix was made with (its data: a built-in
    task or the user's files), from ``matrix.json``; ``data_dir`` overrides the recorded folder."""
    names = {f.name for f in dataclasses.fields(TransferSettings)}
    values = {k: v for k, v in (rep.get("config") or {}).items() if k in names}
    values.setdefault("task", rep["task"] if rep.get("task") in ("udpos", "panx", "sib200") else None)
    if data_dir is not None:
        values["data_dir"] = data_dir
    return TransferSettings(**{**values, "progress": False})


def _texts(rep: dict, n: int, data_dir: str | None) -> dict[str, list[str]]:
    """Up to ``n`` sentences of text per language of a matrix, read from the data it was made with
    (a built-in task or the user's files): the evaluation sets, and each source's training file."""
    from xlt.jobs.transfer import load_dataset_for  # torch: this module is imported when `xlt` builds its parser

    # only the text matters here: labels (a --label-map, a --labels inventory) are left as they are
    cfg = dataclasses.replace(matrix_config(rep, data_dir), matrix=False, ensemble=0, train_limit=n, eval_limit=n, label_map=[],
                  labels=None)
    singles = list(cfg.source_settings().values())
    if len(singles) != len(rep["sources"]):
        raise RankingError(f"{rep['_path']}: its config names {len(singles)} sources, its table "
                           f"{len(rep['sources'])}; was it edited?")
    first = load_dataset_for(singles[0])
    out = {lang: [as_text(e) for e in split.examples] for lang, split in first.eval.items()}
    for code, c in zip(rep["sources"], singles):
        if code in out:
            continue
        if c.task:
            ds = load_task(c.task, c.source[0], targets=[], data_dir=c.data_dir, train_limit=n)
        else:
            ds = from_files(c.train[0].path, (), source=c.source[0], format=c.format, options=c.read_options(),
                            label_map=c.label_map, train_limit=n)
        out[code] = [as_text(e) for e in ds.train.examples]
    return out


def _profiles(rep: dict, tokenizer, cfg: RankSettings, analysis: Analysis | None) -> dict[str, LanguageProfile]:
    langs = list(dict.fromkeys(rep["sources"] + rep["targets"]))  # targets: those in URIEL
    texts = _texts(rep, cfg.text_sentences, cfg.data_dir)
    profiles = {}
    for lang in langs:
        t = texts.get(lang, [])
        size = rep.get("counts", {}).get(lang, {}).get("train", {}).get("sentences", 0)
        dev = rep.get("source_dev", {}).get(lang)
        code = analysis.match(lang) if analysis is not None else None
        profiles[lang] = LanguageProfile(code=lang, iso3=iso639_3(lang), pieces=piece_set(tokenizer, t) if t else set(),
                                         script=dominant_script(t), train_size=int(size),
                                         dev_score=float(np.mean(list(dev.values()))) if dev else None,
                                         mexa=analysis.mexa.get(code) if code is not None else None)
    return profiles


def _similarity(analysis: Analysis | None, langs: list[str]) -> dict[tuple[str, str], float] | None:
    """mPLM-Sim of every two matrix languages that the analysis has, keyed by matrix codes."""
    if analysis is None:
        return None
    index = {l: analysis.langs.index(c) for l in langs if (c := analysis.match(l)) is not None}
    return {(a, b): float(analysis.similarity[i, j]) for a, i in index.items() for b, j in index.items()}


def ranking_features(feats: dict) -> list[str]:
    """:data:`FEATURES` plus every optional feature that all the pairs have."""
    return list(FEATURES) + [f for f in OPTIONAL_FEATURES if feats and all(f in v for v in feats.values())]


def _queries(rep: dict, feats: dict, candidates: list[str]) -> dict[str, tuple[list[str], list[dict], dict]]:
    """target -> (candidate sources, their features, their scores) for targets scored by ≥ 2 of them."""
    out = {}
    for t in rep["targets"]:
        cands = [s for s in candidates if s != t and t in rep["scores"].get(s, {})]
        if len(cands) >= 2:
            out[t] = (cands, [feats[(s, t)] for s in cands], {s: rep["scores"][s][t] for s in cands})
    return out


def _training_groups(queries: dict, rels: dict[str, dict[str, int]], leave_out: str) -> list:
    """The ranker's training queries: every target's candidates' features and relevance labels,
    but ``leave_out``'s (the target being ranked is never seen)."""
    return [(feats, [rels[u][s] for s in cands]) for u, (cands, feats, _) in queries.items() if u != leave_out]


def _matrix_features(rep: dict, cands: list[str], tokenizer, config: RankSettings, analysis: Analysis | None):
    """``(feats, columns, queries)`` of one matrix: every (candidate, language) pair's features, the
    ranker's feature columns, and the ranking queries (:func:`_queries`)."""
    profiles = _profiles(rep, tokenizer, config, analysis)
    uriel = uriel_distances(p.iso3 for p in profiles.values())
    similarity = _similarity(analysis, list(profiles))
    pairs = [(s, t) for s in cands for t in rep["targets"] + rep["sources"] if s != t and t in profiles]
    if analysis is not None:  # a source of the matrix outside the candidates may lack analysis text
        pairs = [(s, t) for s, t in pairs if analysis.match(t) is not None]
    feats = {(s, t): pair_features(profiles[s], profiles[t], uriel, similarity) for s, t in pairs}
    columns = ranking_features(feats)
    return feats, columns, _queries(rep, feats, cands)


def loto_rankings(rep: dict, tokenizer, *, text_sentences: int = 300, data_dir: str | None = None,
                  seed: int = 0) -> tuple[dict[str, list[str]], list[str]]:
    """The ranker's order of a matrix's sources for each of its targets, leave one target out.

    Each target's ranking comes from a ranker trained on the other targets' columns only, so it
    uses nothing of the target but its text (zero-shot). ``rep`` is a matrix report
    (:func:`xlt.jobs.matrix.run_matrix`'s, or a ``matrix.json``).

    A matrix with fewer than three rankable targets cannot train a ranker per left-out target; its
    targets are then ranked by the shipped ranker of the matrix's task kind (``general`` for a user's
    data set), from URIEL and built-in text (:func:`rank_with_shipped`'s features).

    Returns:
        ``(rankings, left_out)``: target -> sources, best predicted first; and the targets that
        could not be ranked (not in URIEL, no text, or fewer than two other sources).

    Raises:
        RankingError: a source missing from URIEL.
    """
    rep = dict(rep, _path=rep.get("_path", "the matrix"))
    cands = list(rep["sources"])
    uriel_distances(iso639_3(l) for l in cands)  # names every source URIEL lacks
    rankable = [t for t in rep["targets"] if in_uriel(iso639_3(t))]
    cfg = RankSettings(matrices=[rep["_path"]], text_sentences=text_sentences, data_dir=data_dir, seed=seed)
    counts = [t for t in rankable if sum(1 for s in cands if s != t and t in rep["scores"].get(s, {})) >= 2]
    if len(counts) < 3:
        return _shipped_rankings(rep, cands, rankable, text_sentences, data_dir)
    feats, columns, queries = _matrix_features(dict(rep, targets=rankable), cands, tokenizer, cfg, None)
    rels = {u: relevance(q[2]) for u, q in queries.items()}
    out = {}
    for t, (pool, fs, _) in queries.items():
        ranker = SourceRanker(seed=seed, features=columns).fit(_training_groups(queries, rels, leave_out=t))
        pred = ranker.score(fs)
        out[t] = [pool[i] for i in np.argsort(-pred, kind="stable")]
    return out, [t for t in rep["targets"] if t not in out]


# ============================================================================ shipped rankers
def language_texts(langs: Sequence[str], *, text_files: Mapping[str, Path] | None = None,
                   data_dir: str | None = None, n: int = 300) -> dict:
    """The text behind each language's overlap and script features: its file where one is given,
    else the built-in text (:func:`xlt.data.text.builtin_text`: NTREX, then SIB-200/FLORES, UD-POS,
    PAN-X), ``n`` sentences each.

    Returns:
        language -> :class:`~xlt.data.text.LanguageText`.

    Raises:
        UnknownLanguageError: a language with no text file and no built-in text (the message says to
            give ``--text LANG=FILE``); FileNotFoundError / DataFormatError: a bad text file.
    """
    return texts_for(list(dict.fromkeys(langs)), files=dict(text_files or {}), data_dir=data_dir, limit=n)


def language_profiles(texts: Mapping, tokenizer) -> dict[str, LanguageProfile]:
    """What the shipped rankers' pair features need of each language, from its text alone.

    Args:
        texts: language -> :class:`~xlt.data.text.LanguageText` (:func:`language_texts`).
        tokenizer: whose pieces the subword overlap counts.

    Returns:
        language -> :class:`~xlt.transfer.ranking.LanguageProfile` (pieces, script; no size or dev score).
    """
    return {lang: LanguageProfile(code=lang, iso3=iso639_3(lang), pieces=piece_set(tokenizer, t.sentences),
                                  script=dominant_script(t.sentences)) for lang, t in texts.items()}


def shipped_scores(ranker: SourceRanker, prov: dict, sources: Sequence[str], target: str,
                   profiles: Mapping[str, LanguageProfile], uriel: Mapping) -> tuple[np.ndarray, dict[str, dict]]:
    """A shipped ranker's scores of ``sources`` for ``target``, and the features behind each.

    The pair features (:func:`shipped_pair_features`), plus the source prior where the ranker takes
    one (:data:`~xlt.transfer.ranking.SOURCE_PRIOR`: from its provenance; the median of the known
    sources for a source outside its training matrices).

    Returns:
        ``(scores (n_sources,), source -> features)``; higher is a better source.
    """
    feats = {s: shipped_pair_features(s, target, profiles, uriel) for s in sources}
    if SOURCE_PRIOR in ranker.features:
        prior = prov.get(SOURCE_PRIOR) or {}
        median = float(np.median(list(prior.values()))) if prior else 0.5
        for s in sources:
            feats[s][SOURCE_PRIOR] = float(prior.get(iso639_3(s), median))
    return ranker.score([feats[s] for s in sources]), feats


def shipped_pair_features(source: str, target: str, profiles: Mapping[str, LanguageProfile],
                          uriel: Mapping) -> dict[str, float]:
    """The :data:`~xlt.transfer.ranking.SHIPPED_FEATURES` of one (source, target) pair."""
    feats = pair_features(profiles[source], profiles[target], uriel)
    return {k: feats[k] for k in SHIPPED_FEATURES}


def shipped_queries(rep: dict, profiles: Mapping[str, LanguageProfile],
                    uriel: Mapping) -> dict[str, tuple[list[str], list[dict], dict]]:
    """A matrix's ranking queries over the shipped features: per target (with a profile) the sources
    that scored it, its own language left out, when there are at least two.

    Returns:
        target -> ``(sources, their features, their scores)``.
    """
    out = {}
    for t in rep["targets"]:
        if t not in profiles:
            continue
        cands = [s for s in rep["sources"]
                 if s in profiles and not same_language(s, t) and rep["scores"].get(s, {}).get(t) is not None]
        if len(cands) >= 2:
            out[t] = (cands, [shipped_pair_features(s, t, profiles, uriel) for s in cands],
                      {s: float(rep["scores"][s][t]) for s in cands})
    return out


def _text_files_for(given: Mapping[str, Path], langs: Sequence[str]) -> dict[str, Path]:
    """``--text LANG=FILE`` values keyed by the language of ``langs`` they name.

    Raises:
        RankingError: a language that is neither the target nor a candidate.
    """
    out = {}
    for lang, path in given.items():
        hit = next((l for l in langs if denote_same(l, lang)), None)
        if hit is None:
            raise RankingError(f"--text {lang}={path}: {lang} is neither --target nor one of the candidates "
                               f"({', '.join(langs[:-1])})")
        out[hit] = path
    return out


def rank_with_shipped(config: RankSettings, command: list[str] | None = None) -> dict:
    """Rank source languages for ``config.target`` with the shipped ranker of ``config.task``'s kind.

    No transfer matrix is needed: the ranker was trained on xlt's matrices (:func:`shipped_ranker`,
    whose provenance the report repeats), and the pair features come from URIEL and from text --
    ``config.text`` files or the built-in sets -- tokenised with the tokenizer the ranker was trained
    with. Everything is checked (URIEL coverage, text for every language) before the tokenizer loads.

    Returns:
        ``{"ranking": {"target", "task", "features", "ranked": [{"source", "ranker_score",
        "observed", "features", "text"}]}, "ranker", "matrices": [], "config", "seconds", ...}``;
        ``observed`` is the score of the source on the target in the ranker's training matrices,
        where it was measured (None otherwise), and ``observed_task`` the task it was measured on.

    Raises:
        RankingError: an unknown kind, fewer than two candidates, languages URIEL lacks (named), a
            ``--text`` for a language not ranked; UnknownLanguageError: a language without text.
    """
    t0 = time.time()
    ranker, prov = shipped_ranker(config.task or "general")
    target = config.target.strip()
    wanted = list(config.candidates) if config.candidates else list(prov["candidates"])
    cands = list(dict.fromkeys(c for c in wanted if not same_language(c, target)))
    if len(cands) < 2:
        raise RankingError(f"--candidates needs at least two source languages besides --target {target}; got "
                           f"{', '.join(wanted) or 'none'}")
    langs = cands + [target]
    uriel = uriel_distances(iso639_3(l) for l in langs)  # names every language URIEL lacks, before any text
    texts = language_texts(langs, text_files=_text_files_for(config.text, langs), data_dir=config.data_dir,
                           n=config.text_sentences)  # every text read before the tokenizer loads
    sources = {lang: dict(t.sources) for lang, t in texts.items()}
    profiles = language_profiles(texts, loading.load_tokenizer(prov["common"]["model"]))
    scores, feats = shipped_scores(ranker, prov, cands, target, profiles, uriel)
    observed = _observed(prov, target)
    order = [cands[i] for i in np.argsort(-scores, kind="stable")]
    argv = command if command is not None else sys.argv
    ranking = {"target": target, "task": prov["kind"], "features": list(ranker.features), "matrix": None,
               "ranked": [{"source": s, "ranker_score": float(scores[cands.index(s)]),
                           **dict(zip(("observed", "observed_task"),
                                      next((v for k, v in observed.items() if same_language(k, s)), (None, None)))),
                           "features": feats[s], "text": sources[s]} for s in order],
               "target_text": sources[target]}
    return {"command": argv, "command_line": shlex.join(argv), "analysis": None, "matrices": [],
            "ranking": ranking, "ranker": {k: v for k, v in prov.items() if k not in ("scores",)},
            "config": config.echo(), "seconds": round(time.time() - t0, 1)}


def _observed(prov: dict, target: str) -> dict[str, tuple[float, str]]:
    """Scores of sources on ``target`` measured in the shipped ranker's training matrices, with the
    task each was measured on (the first task that has the pair, in the ranker's task order)."""
    out: dict[str, tuple[float, str]] = {}
    for task, scores in (prov.get("scores") or {}).items():  # task -> source -> target -> score
        for s, row in scores.items():
            for t, v in row.items():
                if v is not None and same_language(t, target) and s not in out:
                    out[s] = (float(v), task)
    return out


def _shipped_rankings(rep: dict, cands: list[str], targets: list[str], n: int,
                      data_dir: str | None) -> tuple[dict[str, list[str]], list[str]]:
    """:func:`loto_rankings` for a matrix too small to learn from: the shipped ranker of its task's kind."""
    try:
        kind = ranker_kind(rep.get("task"))
    except RankingError:
        kind = "general"  # a user's data set
    ranker, prov = shipped_ranker(kind)
    log.warning("%s: too few targets to learn a ranker from (%d); the shipped %s ranker ranks its sources",
                rep["_path"], len(targets), kind)
    tokenizer = loading.load_tokenizer(prov["common"]["model"])
    profiles: dict[str, LanguageProfile] = {}  # each language's text read and tokenised once
    for lang in dict.fromkeys(cands + targets):
        try:
            profiles.update(language_profiles(language_texts([lang], data_dir=data_dir, n=n), tokenizer))
        except UnknownLanguageError:  # no built-in text: the targets it takes part in are left out
            pass
    uriel = uriel_distances(p.iso3 for p in profiles.values())
    out: dict[str, list[str]] = {}
    for t in targets:
        pool = [s for s in cands if not same_language(s, t)]
        if any(lang not in profiles for lang in pool + [t]):
            continue
        scores, _ = shipped_scores(ranker, prov, pool, t, profiles, uriel)
        out[t] = [pool[i] for i in np.argsort(-scores, kind="stable")]
    return out, [t for t in rep["targets"] if t not in out]


def evaluate_loto(queries: dict, first: str, seed: int = 0, features: list[str] | None = None) -> dict:
    """Leave-one-target-out evaluation of the ranker and the baselines.

    ``features``: the ranker's columns (default :data:`FEATURES`); baselines on features that the
    pairs lack are left out.

    Returns:
        method -> ``{"ndcg@3", "top1_accuracy", "mean_score_of_top1", "mean_loss_vs_oracle", "n_targets"}``
        plus ``"oracle"`` (mean best score) and per-target choices.
    """
    methods: dict[str, list[tuple[float, float, float, str]]] = {}
    per_target: dict[str, dict] = {}
    rels = {t: relevance(q[2]) for t, q in queries.items()}  # the labels of every query, once
    for t, (cands, feats, scores) in queries.items():
        rel = rels[t]
        best = max(scores.values())
        train = _training_groups(queries, rels, leave_out=t)
        rankings = {}
        ranker = SourceRanker(seed=seed, features=features or FEATURES).fit(train)
        pred = ranker.score(feats)
        rankings["ranker (LightGBM lambdarank)"] = [cands[i] for i in np.argsort(-pred, kind="stable")]
        if first in cands:
            rankings[f"always {first}"] = [first] + [c for c in cands if c != first]
        for name, (feat, higher) in BASELINES.items():
            if not all(feat in f for f in feats):
                continue
            vals = np.array([f[feat] for f in feats])
            order = np.argsort(-vals if higher else vals, kind="stable")
            rankings[name] = [cands[i] for i in order]
        per_target[t] = {"oracle": max(scores, key=scores.get), "oracle_score": best}
        for name, ranked in rankings.items():
            top = ranked[0]
            methods.setdefault(name, []).append((ndcg_at(ranked, rel, 3), float(scores[top] == best), scores[top], t))
            per_target[t][name] = top
    table = {name: {"ndcg@3": 100 * float(np.mean([r[0] for r in rows])),
                    "top1_accuracy": 100 * float(np.mean([r[1] for r in rows])),
                    "mean_score_of_top1": float(np.mean([r[2] for r in rows])),
                    "mean_loss_vs_oracle": float(np.mean([per_target[r[3]]["oracle_score"] - r[2] for r in rows])),
                    "n_targets": len(rows)} for name, rows in methods.items()}
    table["oracle"] = {"mean_score_of_top1": float(np.mean([p["oracle_score"] for p in per_target.values()])),
                       "n_targets": len(per_target)}
    return {"methods": table, "per_target": per_target}


def _read_matrices(config: RankSettings) -> tuple[list[dict], Analysis | None, dict[str, list[str]]]:
    """The matrices of ``config`` (of its task), checked before any text is read: ``(matrices, the
    analysis, matrix -> targets left out)``. Targets URIEL or the analysis lack are left out (logged).

    Raises:
        FileNotFoundError / RankingError: see :func:`run_rank`.
    """
    reps = [read_matrix(m) for m in config.matrices]
    if config.task is not None:
        tasks = sorted({r["task"] for r in reps})
        reps = [r for r in reps if r["task"] == config.task]
        if not reps:
            raise RankingError(f"--task {config.task}: no matrix of that task (the matrices are of {', '.join(tasks)})")
    analysis = read_analysis(config.analysis) if config.analysis else None
    if config.target is not None and not any(config.target in r["targets"] or config.target in r["sources"]
                                             for r in reps):
        raise RankingError(f"--target {config.target} is in none of the matrices "
                           f"(targets: {', '.join(sorted({t for r in reps for t in r['targets']}))})")
    skipped: dict[str, list[str]] = {}
    for r in reps:  # URIEL coverage first: a missing candidate is an error, a missing target is left out
        cands = _candidates(r, config.candidates)
        uriel_distances(iso639_3(l) for l in cands)  # names every candidate URIEL lacks
        if config.target is not None and config.target in r["targets"] + r["sources"] \
                and not in_uriel(iso639_3(config.target)):
            uriel_distances([iso639_3(config.target)])  # raises, naming it
        skipped[r["_path"]] = [t for t in r["targets"] if not in_uriel(iso639_3(t))]
        if skipped[r["_path"]]:
            log.warning("%s: %d of %d targets are not in URIEL and are left out of the evaluation: %s",
                        r["_path"], len(skipped[r["_path"]]), len(r["targets"]), ", ".join(skipped[r["_path"]]))
        r["targets"] = [t for t in r["targets"] if t not in skipped[r["_path"]]]
        in_matrix = config.target is not None and config.target in r["targets"] + r["sources"]
        _check_size(r, cands, config.target if in_matrix else None, evaluate=config.target is None)
        if analysis is not None:  # the same for the analysis: candidates must be in it, targets are left out
            lacking = [c for c in cands if analysis.match(c) is None]
            if lacking:
                raise RankingError(f"--analysis {analysis.path} has no text in {', '.join(lacking)} (of --candidates); "
                                   f"its languages: {', '.join(analysis.langs)}")
            if config.target is not None and config.target in r["targets"] and analysis.match(config.target) is None:
                raise RankingError(f"--analysis {analysis.path} has no text in --target {config.target}")
            out_of = [t for t in r["targets"] if analysis.match(t) is None]
            if out_of:
                log.warning("%s: %d targets are not in the analysis and are left out of the evaluation: %s",
                            r["_path"], len(out_of), ", ".join(out_of))
                skipped[r["_path"]] += out_of
                r["targets"] = [t for t in r["targets"] if t not in out_of]
    return reps, analysis, skipped


def run_rank(config: RankSettings, command: list[str] | None = None) -> dict:
    """Evaluate the ranker on each matrix (leave one target out) and rank sources for ``config.target``.

    Returns:
        ``{"matrices": [per matrix: task, sources, targets, evaluation], "ranking": {...} | None,
        "config", "seconds"}``.

    Without matrices, ranks ``config.target``'s candidates with the shipped ranker instead
    (:func:`rank_with_shipped`).

    Raises:
        FileNotFoundError / RankingError: a missing or malformed matrix, a single-source matrix,
            languages missing from URIEL (named), an unknown candidate or target, a matrix too small to
            train a ranker (the counts that fall short are named, before any text is read).
    """
    t0 = time.time()
    OutputPlan(inputs=[("--matrix", config.matrices), ("--analysis", config.analysis), ("--model", config.model),
                       ("--text", config.text), ("--data-dir", data_set_folders(config.data_dir))],
               outputs=[Output("--out", config.out)] if config.out else [], overwrite=config.overwrite).check()
    if not config.matrices:
        report = rank_with_shipped(config, command)
        _write_rank_report(config, report)
        return report
    reps, analysis, skipped = _read_matrices(config)
    tokenizer = loading.load_tokenizer(config.model)
    out_matrices, ranking = [], None
    for r in reps:
        cands = _candidates(r, config.candidates)
        feats, columns, queries = _matrix_features(r, cands, tokenizer, config, analysis)
        ev = evaluate_loto(queries, r["sources"][0], config.seed, columns) if len(queries) >= 3 else {
            "methods": {}, "per_target": {},
            "skipped": f"leave-one-target-out evaluation needs 3 targets scored by 2 or more candidate sources "
                       f"each; this matrix has {len(queries)}"}
        out_matrices.append({"matrix": r["_path"], "task": r["task"], "mode": r.get("mode"), "sources": cands,
                             "targets": list(queries), "targets_left_out": skipped[r["_path"]],
                             "features": columns, "evaluation": ev})
        t = config.target
        if t is not None and ranking is None and all((s, t) in feats for s in cands if s != t):
            pool = [s for s in cands if s != t]
            train = _training_groups(queries, {u: relevance(q[2]) for u, q in queries.items()}, leave_out=t)
            ranker = SourceRanker(seed=config.seed, features=columns).fit(train)
            scores = ranker.score([feats[(s, t)] for s in pool])
            order = [pool[i] for i in np.argsort(-scores, kind="stable")]
            ranking = {"target": t, "matrix": r["_path"], "task": r["task"], "features": columns,
                       "ranked": [{"source": s, "ranker_score": float(scores[pool.index(s)]),
                                   "observed": r["scores"].get(s, {}).get(t), "features": feats[(s, t)]}
                                  for s in order]}
    argv = command if command is not None else sys.argv
    report = {"command": argv, "command_line": shlex.join(argv),
              "analysis": None if analysis is None else {"path": analysis.path, "pivot": analysis.pivot,
                                                         "layer": analysis.layer, "languages": len(analysis.langs)},
              "matrices": out_matrices, "ranking": ranking,
              "config": config.echo(), "seconds": round(time.time() - t0, 1)}
    _write_rank_report(config, report)
    return report


@dataclass
class RankResult:
    """What :func:`run` found.

    Attributes:
        ranked: the candidate sources for ``target``, best first (empty: no target ranked).
        evaluations: per matrix, the leave-one-target-out evaluation (NDCG@3, top-1 accuracy, ... of
            every method; ``skipped`` where the matrix is too small).
        report: the report (``report.json``), see :func:`run_rank`.
        out: the report folder (None: nothing written).
    """

    ranked: list[str]
    evaluations: list[dict]
    report: dict
    out: Path | None = None


def run(settings: RankSettings, command: list[str] | None = None) -> RankResult:
    """Rank source languages for ``settings.target`` (with the shipped ranker, or learnt from
    ``settings.matrices`` and evaluated on them); see :func:`run_rank` for the report and errors."""
    report = run_rank(settings, command)
    ranking = report.get("ranking") or {}
    return RankResult(ranked=[r["source"] for r in ranking.get("ranked", [])],
                      evaluations=[m["evaluation"] for m in report["matrices"]], report=report, out=settings.out)


def _write_rank_report(config: RankSettings, report: dict) -> None:
    """``report.json`` and ``report.md`` into ``config.out``, as one folder (nothing without ``out``)."""
    if config.out:
        with staged_folder(config.out) as folder:
            write_json(folder / "report.json", report)
            (folder / "report.md").write_text(render_rank_markdown(report), encoding="utf-8")


def _check_size(rep: dict, cands: list[str], target: str | None, evaluate: bool = True) -> None:
    """Refuse a matrix too small for what is asked, before any text is read: a ranker learns from
    targets scored by at least two candidate sources (their own language left out); leave-one-target-out
    evaluation (required with ``evaluate``) needs three such targets, ranking ``target`` two besides it.

    Raises:
        RankingError: the message lists each target with its number of candidate sources.
    """
    counts = {t: sum(1 for s in cands if not same_language(s, t) and rep["scores"].get(s, {}).get(t) is not None)
              for t in rep["targets"]}
    usable = [t for t, n in counts.items() if n >= 2]
    shown = ", ".join(f"{t}: {n}" for t, n in counts.items()) or "none"
    if evaluate and len(usable) < 3:
        raise RankingError(f"{rep['_path']}: leave-one-target-out evaluation needs at least 3 targets scored by 2 or "
                           f"more candidate sources (their own language left out); it has {len(usable)} (sources per "
                           f"target: {shown}); add targets, or give --target to rank sources for one language")
    if target is not None:
        train = [t for t in usable if not same_language(t, target)]
        if len(train) < 2:
            raise RankingError(f"{rep['_path']}: ranking sources for {target} needs at least 2 other targets scored by "
                               f"2 or more candidate sources; it has {len(train)} (sources per target: {shown}); "
                               "add targets to the matrix, or leave out --matrix to use the shipped ranker")


def _candidates(rep: dict, spec: list[str] | None) -> list[str]:
    if not spec:
        return list(rep["sources"])
    wanted = list(spec)
    unknown = [c for c in wanted if c not in rep["sources"]]
    if unknown:
        raise RankingError(f"--candidates {', '.join(unknown)}: not a source of {rep['_path']} "
                           f"(its sources: {', '.join(rep['sources'])})")
    if len(wanted) < 2:
        raise RankingError("--candidates needs at least two source languages")
    return wanted


def render_rank_markdown(report: dict[str, Any]) -> str:
    """``report.md`` of ``xlt rank-sources``: the evaluation tables and the ranking."""
    lines = ["# Source-language ranking", ""]
    for m in report["matrices"]:
        ev = m["evaluation"]["methods"]
        if "skipped" in m["evaluation"]:
            lines += [f"## {m['task']} ({m['mode']})", "", f"Not evaluated: {m['evaluation']['skipped']}.", ""]
            continue
        lines += [f"## {m['task']} ({m['mode']}): leave one target out, {len(m['targets'])} targets, "
                  f"{len(m['sources'])} candidate sources", "",
                  "| method | NDCG@3 | top-1 accuracy | mean score of top-1 | loss vs oracle |",
                  "|:---|---:|---:|---:|---:|"]
        for name, row in ev.items():
            if name == "oracle":
                continue
            lines.append(f"| {name} | {row['ndcg@3']:.1f} | {row['top1_accuracy']:.1f} | "
                         f"{row['mean_score_of_top1']:.2f} | {row['mean_loss_vs_oracle']:.2f} |")
        lines.append(f"| oracle (best source per target) | – | 100.0 | {ev['oracle']['mean_score_of_top1']:.2f} | 0.00 |")
        lines.append("")
    if report.get("ranker"):
        lines += _shipped_ranker_markdown(report["ranker"])
    if report["ranking"]:
        r = report["ranking"]
        cols = r["features"]
        lines += [f"## Ranked sources for {r['target']} ({r['task']})", "",
                  "| rank | source | ranker score | observed | " + " | ".join(cols) + " |",
                  "|---:|:---|---:|---:|" + "---:|" * len(cols)]
        for i, row in enumerate(r["ranked"], 1):
            obs = "–" if row["observed"] is None else f"{row['observed']:.1f}" + (
                f" ({row['observed_task']})" if row.get("observed_task") else "")
            lines.append(f"| {i} | {row['source']} | {row['ranker_score']:.3f} | {obs} | "
                         + " | ".join(f"{row['features'][f]:.3f}" for f in cols) + " |")
        if report.get("ranker"):
            lines += ["", "Observed: the source's score on the target in the ranker's training matrices, where "
                          "it was measured. Text behind the overlap and script features: "
                      + "; ".join(f"{row['source']}: {', '.join(Path(k).name for k in row['text'])}"
                                  for row in r["ranked"])
                      + f"; {r['target']}: {', '.join(Path(k).name for k in r['target_text'])}."]
    return "\n".join(lines) + "\n"


def _shipped_ranker_markdown(ranker: dict) -> list[str]:
    """The shipped ranker's provenance and leave-one-target-out scores, for ``report.md``."""
    lines = [f"## The shipped ranker: {ranker['kind']}", "",
             f"LightGBM lambdarank over {', '.join(ranker['features'])}, trained "
             f"{ranker['common'].get('date', '?')} on the transfer matrices of "
             + ", ".join(f"{t} ({m['sources']} sources x {m['targets']} targets, {m['mode']})"
                         for t, m in ranker["matrices"].items())
             + f"; text: {ranker['common'].get('text', '?')}; tokenizer: {ranker['common'].get('model', '?')}.", ""]
    ev = ranker.get("evaluation") or {}
    if ev:
        lines += ["| evaluated on | targets | NDCG@3 ranker | NDCG@3 always English | top-1 ranker | top-1 always "
                  "English |", "|:---|---:|---:|---:|---:|---:|"]
        for name, row in ev.items():
            lines.append(f"| {name} | {row['n_targets']} | {row['ndcg@3']:.1f} | {row['english_ndcg@3']:.1f} | "
                         f"{row['top1_accuracy']:.1f} | {row['english_top1_accuracy']:.1f} |")
        lines.append("")
    return lines
