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
from xlt.data.outputs import check_output_folder, staged_folder
from xlt.models.loading import DEFAULT_MODEL
from xlt.models.words import join_words
from xlt.transfer.ranking import (FEATURES, LanguageProfile, RankingError, SourceRanker, dominant_script,
                                  in_uriel, ndcg_at, pair_features, piece_set, relevance, uriel_distances)

__all__ = ["RankConfig", "matrix_config", "read_matrix", "run_rank"]

log = logging.getLogger(__name__)

#: Baselines: name -> (feature, True when higher is better); "first source" is handled apart.
BASELINES = {"nearest by URIEL syntax": ("uriel_syntactic", False),
             "nearest by URIEL (featural)": ("uriel_featural", False),
             "most subword overlap": ("subword_overlap", True)}


@dataclass
class RankConfig:
    """Settings of ``xlt rank-sources``.

    Attributes:
        matrices: matrix folders (or their ``matrix.json``) from ``xlt transfer --matrix``.
        target: rank the candidates for this language (None: only the evaluation).
        candidates: comma-separated source languages to rank (default: the matrix's sources).
        model: whose tokenizer measures subword overlap. text_sentences: sentences per language
            for the overlap and script features. data_dir: data folder of the matrix's task.
        out: report folder. overwrite: replace a non-empty one. seed: the ranker's seed.
    """

    matrices: list[str]
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
    from xlt.jobs.transfer import load_dataset_for, read_options, source_configs

    def as_text(e) -> str:
        if hasattr(e, "tokens"):
            return join_words(e.tokens)[0]
        return f"{e.text} {e.text_pair}" if hasattr(e, "text_pair") else e.text

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


def _profiles(rep: dict, tokenizer, cfg: RankConfig) -> dict[str, LanguageProfile]:
    langs = list(dict.fromkeys(rep["sources"] + rep["targets"]))  # targets: those in URIEL
    texts = _texts(rep, cfg.text_sentences, cfg.data_dir)
    profiles = {}
    for lang in langs:
        t = texts.get(lang, [])
        size = rep.get("counts", {}).get(lang, {}).get("train", {}).get("sentences", 0)
        profiles[lang] = LanguageProfile(code=lang, iso3=iso639_3(lang), pieces=piece_set(tokenizer, t) if t else set(),
                                         script=dominant_script(t), train_size=int(size))
    return profiles


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


def evaluate_loto(queries: dict, first: str, seed: int = 0) -> dict:
    """Leave-one-target-out evaluation of the ranker and the baselines.

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
        ranker = SourceRanker(seed=seed).fit(train)
        pred = ranker.score(feats)
        rankings["ranker (LightGBM lambdarank)"] = [cands[i] for i in np.argsort(-pred, kind="stable")]
        if first in cands:
            rankings[f"always {first}"] = [first] + [c for c in cands if c != first]
        for name, (feat, higher) in BASELINES.items():
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
    if config.out:
        check_output_folder(config.out, overwrite=config.overwrite)
    reps = [read_matrix(m) for m in config.matrices]
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
    tokenizer = load_encoder(config.model).tokenizer
    out_matrices, ranking = [], None
    for r in reps:
        cands = _candidates(r, config.candidates)
        profiles = _profiles(r, tokenizer, config)
        uriel = uriel_distances(p.iso3 for p in profiles.values())
        feats = {(s, t): pair_features(profiles[s], profiles[t], uriel)
                 for s in cands for t in r["targets"] + r["sources"] if s != t and t in profiles}
        queries = _queries(r, feats, cands)
        ev = evaluate_loto(queries, r["sources"][0], config.seed)
        out_matrices.append({"matrix": r["_path"], "task": r["task"], "mode": r.get("mode"), "sources": cands,
                             "targets": list(queries), "targets_not_in_uriel": skipped[r["_path"]],
                             "evaluation": ev})
        if config.target is not None and ranking is None and config.target in profiles:
            t = config.target
            pool = [s for s in cands if s != t]
            train = _training_groups(queries, {u: relevance(q[2]) for u, q in queries.items()}, leave_out=t)
            ranker = SourceRanker(seed=config.seed).fit(train)
            scores = ranker.score([feats[(s, t)] for s in pool])
            order = [pool[i] for i in np.argsort(-scores, kind="stable")]
            ranking = {"target": t, "matrix": r["_path"], "task": r["task"],
                       "ranked": [{"source": s, "ranker_score": float(scores[pool.index(s)]),
                                   "observed": r["scores"].get(s, {}).get(t), "features": feats[(s, t)]}
                                  for s in order]}
    argv = command if command is not None else sys.argv
    report = {"command": argv, "command_line": shlex.join(argv), "features": list(FEATURES),
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
        lines += [f"## Ranked sources for {r['target']} ({r['task']})", "",
                  "| rank | source | ranker score | observed | " + " | ".join(FEATURES) + " |",
                  "|---:|:---|---:|---:|" + "---:|" * len(FEATURES)]
        for i, row in enumerate(r["ranked"], 1):
            obs = "–" if row["observed"] is None else f"{row['observed']:.1f}"
            lines.append(f"| {i} | {row['source']} | {row['ranker_score']:.3f} | {obs} | "
                         + " | ".join(f"{row['features'][f]:.3f}" for f in FEATURES) + " |")
    return "\n".join(lines) + "\n"
