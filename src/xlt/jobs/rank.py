"""``xlt rank-sources``: rank source languages for a target, and evaluate the ranker.

Input: one or more transfer matrices (``xlt transfer --source a,b,... --matrix --out DIR``).
Each target column is one ranking query; the ranker (:class:`xlt.transfer.ranking.SourceRanker`)
learns from the other columns. ``evaluate`` scores it leave one target out (NDCG@3, top-1
accuracy, the score lost against the oracle best source) beside single-feature baselines; a
``target`` gets the ranked candidates with the features behind each.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xlt.data.dataset import load_task
from xlt.data.langs import iso639_3
from xlt.data.jsonable import write_json
from xlt.data.outputs import Output, OutputPlan, staged_folder
from xlt.data.paths import data_set_folders
from xlt.models.loading import DEFAULT_MODEL
from xlt.transfer.ranking import (FEATURES, OPTIONAL_FEATURES, LanguageProfile, RankingError, SourceRanker,
                                  dominant_script,
                                  in_uriel, ndcg_at, pair_features, piece_set, relevance, uriel_distances)

__all__ = ["Analysis", "RankConfig", "loto_rankings", "matrix_config", "read_analysis", "read_matrix", "ranking_features",
           "run_rank"]

log = logging.getLogger(__name__)

#: Baselines: name -> (feature, True when higher is better); "first source" is handled apart, and
#: a baseline whose feature a ranking lacks is left out.
BASELINES = {"nearest by URIEL syntax": ("uriel_syntactic", False),
             "nearest by URIEL (featural)": ("uriel_featural", False),
             "most subword overlap": ("subword_overlap", True),
             "nearest by mPLM-Sim": ("mplm_sim", True)}


@dataclass
class RankConfig:
    """Settings of ``xlt rank-sources``.

    Attributes:
        matrices: matrix folders (or their ``matrix.json``) from ``xlt transfer --matrix``.
        target: rank the candidates for this language (None: only the evaluation).
        candidates: comma-separated source languages to rank (default: the matrix's sources).
        model: whose tokenizer measures subword overlap. text_sentences: sentences per language
            for the overlap and script features. data_dir: data folder of the matrix's task.
        task: use only the matrices of this task (their ``task`` field: ``udpos``, or a user data
            set's name); None = all.
        analysis: an ``xlt analyze`` report folder (or its ``report.json``) on parallel text of the
            matrix's languages: adds the mPLM-Sim and MEXA features and the "nearest by mPLM-Sim"
            baseline (None: without them).
        out: report folder. overwrite: replace a non-empty one. seed: the ranker's seed.
    """

    matrices: list[str]
    analysis: str | None = None
    task: str | None = None
    target: str | None = None
    candidates: str | None = None
    model: str = DEFAULT_MODEL
    text_sentences: int = 300
    data_dir: str | None = None
    out: str | None = None
    overwrite: bool = False
    seed: int = 0


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
        from xlt.data.langs import AmbiguousLanguageError, UnknownLanguageError, match_language

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
    """The :class:`~xlt.jobs.transfer.TransferConfig` a matrix was made with (its data: a built-in
    task or the user's files), from ``matrix.json``; ``data_dir`` overrides the recorded folder."""
    import dataclasses

    from xlt.jobs.transfer import TransferConfig

    names = {f.name for f in dataclasses.fields(TransferConfig)}
    values = {k: v for k, v in (rep.get("config") or {}).items() if k in names}
    values.setdefault("task", rep["task"] if rep.get("task") in ("udpos", "panx", "sib200") else None)
    if data_dir is not None:
        values["data_dir"] = data_dir
    return TransferConfig(**{**values, "progress": False})


def _texts(rep: dict, n: int, data_dir: str | None) -> dict[str, list[str]]:
    """Up to ``n`` sentences of text per language of a matrix, read from the data it was made with
    (a built-in task or the user's files): the evaluation sets, and each source's training file."""
    from dataclasses import replace

    from xlt.data.dataset import from_files
    from xlt.data.text import example_text as as_text
    from xlt.jobs.transfer import load_dataset_for, read_options, source_configs

    cfg = replace(matrix_config(rep, data_dir), matrix=False, train_limit=n, eval_limit=n)
    singles = list(source_configs(cfg).values())
    if len(singles) != len(rep["sources"]):
        raise RankingError(f"{rep['_path']}: its config names {len(singles)} sources, its table "
                           f"{len(rep['sources'])}; was it edited?")
    first = load_dataset_for(singles[0])
    out = {lang: [as_text(e) for e in split.examples] for lang, split in first.eval.items()}
    for code, c in zip(rep["sources"], singles):
        if code in out:
            continue
        if c.task:
            ds = load_task(c.task, c.source, targets=[], data_dir=c.data_dir, train_limit=n)
        else:
            ds = from_files(c.train, (), source=c.source, format=c.format, options=read_options(c),
                            label_map=c.label_map, train_limit=n)
        out[code] = [as_text(e) for e in ds.train.examples]
    return out


def _profiles(rep: dict, tokenizer, cfg: RankConfig, analysis: Analysis | None) -> dict[str, LanguageProfile]:
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


def _matrix_features(rep: dict, cands: list[str], tokenizer, config: RankConfig, analysis: Analysis | None):
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

    Returns:
        ``(rankings, left_out)``: target -> sources, best predicted first; and the targets that
        could not be ranked (not in URIEL, or fewer than two other sources).

    Raises:
        RankingError: a source missing from URIEL, fewer than two rankable targets.
    """
    rep = dict(rep, _path=rep.get("_path", "the matrix"))
    cands = list(rep["sources"])
    uriel_distances(iso639_3(l) for l in cands)  # names every source URIEL lacks
    rankable = [t for t in rep["targets"] if in_uriel(iso639_3(t))]
    cfg = RankConfig(matrices=[], text_sentences=text_sentences, data_dir=data_dir, seed=seed)
    feats, columns, queries = _matrix_features(dict(rep, targets=rankable), cands, tokenizer, cfg, None)
    rels = {u: relevance(q[2]) for u, q in queries.items()}
    out = {}
    for t, (pool, fs, _) in queries.items():
        ranker = SourceRanker(seed=seed, features=columns).fit(_training_groups(queries, rels, leave_out=t))
        pred = ranker.score(fs)
        out[t] = [pool[i] for i in np.argsort(-pred, kind="stable")]
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


def run_rank(config: RankConfig, command: list[str] | None = None) -> dict:
    """Evaluate the ranker on each matrix (leave one target out) and rank sources for ``config.target``.

    Returns:
        ``{"matrices": [per matrix: task, sources, targets, evaluation], "ranking": {...} | None,
        "config", "seconds"}``.

    Raises:
        FileNotFoundError / RankingError: a missing or malformed matrix, a single-source matrix,
        languages missing from URIEL (named), an unknown candidate or target.
    """
    from xlt.models.loading import load_encoder

    t0 = time.time()
    OutputPlan(inputs=[("--matrix", config.matrices), ("--analysis", config.analysis), ("--model", config.model),
                       ("--data-dir", data_set_folders(config.data_dir))],
               outputs=[Output("--out", config.out)] if config.out else [], overwrite=config.overwrite).check()
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
    tokenizer = load_encoder(config.model).tokenizer
    out_matrices, ranking = [], None
    for r in reps:
        cands = _candidates(r, config.candidates)
        feats, columns, queries = _matrix_features(r, cands, tokenizer, config, analysis)
        ev = evaluate_loto(queries, r["sources"][0], config.seed, columns)
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
              "config": {k: v for k, v in vars(config).items()}, "seconds": round(time.time() - t0, 1)}
    if config.out:
        with staged_folder(config.out) as folder:
            write_json(folder / "report.json", report)
            (folder / "report.md").write_text(render_rank_markdown(report), encoding="utf-8")
    return report


def _candidates(rep: dict, spec: str | None) -> list[str]:
    if not spec:
        return list(rep["sources"])
    wanted = [c.strip() for c in spec.split(",") if c.strip()]
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
    if report["ranking"]:
        r = report["ranking"]
        cols = r["features"]
        lines += [f"## Ranked sources for {r['target']} ({r['task']})", "",
                  "| rank | source | ranker score | observed | " + " | ".join(cols) + " |",
                  "|---:|:---|---:|---:|" + "---:|" * len(cols)]
        for i, row in enumerate(r["ranked"], 1):
            obs = "–" if row["observed"] is None else f"{row['observed']:.1f}"
            lines.append(f"| {i} | {row['source']} | {row['ranker_score']:.3f} | {obs} | "
                         + " | ".join(f"{row['features'][f]:.3f}" for f in cols) + " |")
    return "\n".join(lines) + "\n"
