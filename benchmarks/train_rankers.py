"""Train the source rankers xlt ships (``xlt rank-sources --target LANG --task KIND``) and evaluate them.

Input: the probe transfer matrices of the built-in tasks (``xlt transfer --matrix``; the commands
are in docs/benchmarks.md, "Shipped source rankers"). Every matrix language gets a profile from the
built-in text (:func:`xlt.jobs.rank.language_profiles`: 300 sentences, the bundled tokenizer), so
the features are those ``rank-sources`` computes for any language without a matrix
(:data:`xlt.transfer.ranking.SHIPPED_FEATURES`: URIEL distances, subword overlap, same script).

For each kind (``pos`` <- UD-POS, ``ner`` <- PAN-X, ``classification`` <- SIB-200, ``general`` <-
all three) the script

* evaluates the ranker leave one target out (NDCG@3, top-1 accuracy, the score of the top choice)
  beside "always English";
* evaluates it on a task it was not trained on (for each single task: trained on the other two);
* fits it on every target and writes ``<kind>.txt`` (LightGBM's text model) and ``rankers.json``
  (features, matrices, candidates, evaluation, the matrices' scores, date, versions).

Usage::

    python benchmarks/train_rankers.py --matrix udpos=runs/matrices/udpos --matrix panx=runs/matrices/panx \\
        --matrix sib200=runs/matrices/sib200 --out src/xlt/transfer/rankers
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

import numpy as np

from xlt.core.io import write_json
from xlt.data.langs import iso639_3
from xlt.jobs.rank import language_profiles, language_texts, read_matrix, shipped_queries
from xlt.models.loading import DEFAULT_MODEL, load_tokenizer
from xlt.transfer.ranking import (RANKER_KINDS, SHIPPED_FEATURES, SOURCE_PRIOR, SourceRanker, in_uriel, ndcg_at,
                                  relevance, uriel_distances)

ENGLISH = "eng"
N_SENTENCES = 300


def task_queries(matrices: dict[str, dict], data_dir: str | None) -> dict[str, dict[str, tuple]]:
    """task -> ``{target: (sources, features, scores)}``, the sources as ISO 639-3 codes (so that one
    language is one candidate across tasks, and "always English" is ``eng`` everywhere)."""
    langs = sorted({l for rep in matrices.values() for l in rep["sources"] + rep["targets"]
                    if in_uriel(iso639_3(l))})
    tokenizer = load_tokenizer(DEFAULT_MODEL)
    profiles, missing = {}, []
    for lang in langs:
        try:
            profiles.update(language_profiles(language_texts([lang], data_dir=data_dir, n=N_SENTENCES), tokenizer))
        except ValueError:  # no built-in text in this language
            missing.append(lang)
    if missing:
        print(f"no built-in text (left out): {', '.join(missing)}")
    uriel = uriel_distances(p.iso3 for p in profiles.values())
    out = {}
    for task, rep in matrices.items():
        queries = shipped_queries(rep, profiles, uriel)
        out[task] = {t: ([iso639_3(s) for s in cands], feats, {iso639_3(s): v for s, v in scores.items()})
                     for t, (cands, feats, scores) in queries.items()}
    return out


def _language(key: str) -> str:
    """The target language of a ``TASK:TARGET`` query key, as an ISO 639-3 code."""
    return iso639_3(key.split(":", 1)[1])


def source_prior(queries: dict[str, tuple], exclude: str | None = None) -> dict[str, float]:
    """Each source's mean rank percentile over the queries (1 = the best source of a target, 0 = the
    worst), the columns of the language ``exclude`` left out (the target being ranked)."""
    acc: dict[str, list[float]] = defaultdict(list)
    for key, (cands, _, scores) in queries.items():
        if exclude is not None and _language(key) == exclude:
            continue
        order = sorted(cands, key=lambda c: -scores[c])
        for i, c in enumerate(order):
            acc[c].append(1.0 - i / (len(order) - 1))
    return {c: float(np.mean(v)) for c, v in acc.items()}


def with_prior(queries: dict[str, tuple], prior: dict[str, float] | None) -> dict[str, tuple]:
    """The queries with a ``source_prior`` feature; a source the prior does not know gets the median
    of the known ones (as ``xlt rank-sources`` gives a candidate outside the training matrices)."""
    if prior is None:
        return queries
    median = float(np.median(list(prior.values())))
    return {k: (cands, [dict(f, **{SOURCE_PRIOR: prior.get(c, median)}) for c, f in zip(cands, feats)], scores)
            for k, (cands, feats, scores) in queries.items()}


def _choices(ranker: SourceRanker, query: tuple) -> tuple[list[str], list[str]]:
    cands, feats, scores = query
    pred = ranker.score(feats)
    ranked = [cands[i] for i in np.argsort(-pred, kind="stable")]
    english = [ENGLISH] + [c for c in cands if c != ENGLISH] if ENGLISH in cands else list(cands)
    return ranked, english


def _fit(queries: list[tuple], seed: int = 0, features: tuple[str, ...] = SHIPPED_FEATURES) -> SourceRanker:
    rels = [relevance(scores) for _, _, scores in queries]  # once per query, not once per candidate
    groups = [(feats, [rel[c] for c in cands]) for (cands, feats, _), rel in zip(queries, rels)]
    return SourceRanker(seed=seed, features=features).fit(groups)


def _summary(rows: list[tuple[list[str], list[str], dict]]) -> dict:
    """NDCG@3, top-1 accuracy (%) and the mean score of the top choice, ranker vs always English."""
    def stats(which: int) -> tuple[float, float, float]:
        nd, top, sc = [], [], []
        for r in rows:
            ranked, scores = r[which], r[2]
            rel = relevance(scores)
            nd.append(ndcg_at(ranked, rel, 3))
            top.append(float(scores[ranked[0]] == max(scores.values())))
            sc.append(scores[ranked[0]])
        return 100 * float(np.mean(nd)), 100 * float(np.mean(top)), float(np.mean(sc))

    (nd, top, sc), (e_nd, e_top, e_sc) = stats(0), stats(1)
    return {"n_targets": len(rows), "ndcg@3": nd, "top1_accuracy": top, "mean_score_of_top1": sc,
            "english_ndcg@3": e_nd, "english_top1_accuracy": e_top, "english_mean_score": e_sc,
            "oracle_mean_score": float(np.mean([max(r[2].values()) for r in rows]))}


def leave_one_target_out(queries: dict[str, tuple], seed: int = 0, prior: bool = False) -> dict:
    """Each target ranked by a ranker fitted on the other targets only: every column of the target's
    language is left out (``TASK:TARGET`` keys: its columns in the other tasks too), of the training
    queries and of the source prior alike."""
    features = SHIPPED_FEATURES + ((SOURCE_PRIOR,) if prior else ())
    rows = []
    for key, query in queries.items():
        lang = _language(key)
        p = source_prior(queries, exclude=lang) if prior else None
        train = with_prior({k: q for k, q in queries.items() if _language(k) != lang}, p)
        ranker = _fit(list(train.values()), seed, features)
        rows.append((*_choices(ranker, with_prior({key: query}, p)[key]), query[2], key.split(":", 1)[0]))
    out = _summary(rows)
    tasks = sorted({r[3] for r in rows})
    if len(tasks) > 1:  # a ranker over several tasks: how it does on each
        out["per_task"] = {t: _summary([r for r in rows if r[3] == t]) for t in tasks}
    return out


def unseen_task(train: dict[str, tuple], test: dict[str, tuple], seed: int = 0, prior: bool = False) -> dict:
    """Every target of ``test`` ranked by a ranker fitted on ``train`` (another task) alone (and the
    source prior from ``train`` alone)."""
    features = SHIPPED_FEATURES + ((SOURCE_PRIOR,) if prior else ())
    p = source_prior(train) if prior else None
    ranker = _fit(list(with_prior(train, p).values()), seed, features)
    return _summary([(*_choices(ranker, q), q[2]) for q in with_prior(test, p).values()])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--matrix", action="append", required=True, metavar="TASK=DIR")
    ap.add_argument("--data-dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prior", action="store_true",
                    help="add the source prior feature (each source's mean rank percentile in the training "
                         "matrices; NaN for a source they lack)")
    ap.add_argument("--queries-cache", help="JSON file keeping the matrices' queries (features take minutes)")
    ap.add_argument("--out", required=True, help="folder for <kind>.txt and rankers.json")
    args = ap.parse_args()
    reps = {}
    for item in args.matrix:
        task, _, path = item.partition("=")
        reps[task] = read_matrix(path)
    cache = Path(args.queries_cache) if args.queries_cache else None
    cached = json.loads(cache.read_text(encoding="utf-8")) if cache is not None and cache.is_file() else {}
    per_task = {t: {k: tuple(v) for k, v in cached[t].items()} for t in reps if t in cached}
    missing = {t: rep for t, rep in reps.items() if t not in per_task}
    if missing:
        per_task.update(task_queries(missing, args.data_dir))
        if cache is not None:
            write_json(cache, {**cached, **{t: per_task[t] for t in missing}})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    entries = {}
    for kind, tasks in RANKER_KINDS.items():
        tasks = [t for t in tasks if t in per_task]
        if not tasks:
            continue
        queries = {f"{t}:{target}": q for t in tasks for target, q in per_task[t].items()}
        evaluation = {"leave one target out": leave_one_target_out(queries, args.seed, args.prior)}
        if kind != "general":  # the same kind of ranker trained on the other tasks only
            others = [t for t in per_task if t not in tasks]
            if others:
                train = {f"{t}:{target}": q for t in others for target, q in per_task[t].items()}
                evaluation[f"unseen task: trained on {' + '.join(others)} only"] = unseen_task(
                    train, {k: q for k, q in queries.items()}, args.seed, args.prior)
        prior = source_prior(queries) if args.prior else None
        features = SHIPPED_FEATURES + ((SOURCE_PRIOR,) if args.prior else ())
        ranker = _fit(list(with_prior(queries, prior).values()), args.seed, features)
        (out / f"{kind}.txt").write_text(ranker.to_string(), encoding="utf-8")
        candidates = list(dict.fromkeys(s for t in tasks for s in reps[t]["sources"]))
        entries[kind] = {
            "file": f"{kind}.txt", "features": list(features), "params": ranker.params,
            **({SOURCE_PRIOR: prior} if prior is not None else {}),
            "matrices": {t: {"sources": len(reps[t]["sources"]), "targets": len(reps[t]["targets"]),
                             "queries": len(per_task[t]), "mode": reps[t].get("mode"),
                             "command": reps[t].get("command_line")} for t in tasks},
            "candidates": candidates, "evaluation": evaluation,
            "scores": {t: reps[t]["scores"] for t in tasks}}
        for task, row in evaluation["leave one target out"].pop("per_task", {}).items():
            evaluation[f"leave one target out, {task} targets"] = row
        for name, row in evaluation.items():
            print(f"{kind:<15} {name:<48} n={row['n_targets']:3d}  NDCG@3 {row['ndcg@3']:5.1f} "
                  f"(English {row['english_ndcg@3']:5.1f})  top-1 {row['top1_accuracy']:5.1f} "
                  f"(English {row['english_top1_accuracy']:5.1f})  score {row['mean_score_of_top1']:6.2f} "
                  f"(English {row['english_mean_score']:6.2f}, oracle {row['oracle_mean_score']:6.2f})")
    write_json(out / "rankers.json", {
        "date": datetime.date.today().isoformat(), "model": DEFAULT_MODEL, "text_sentences": N_SENTENCES,
        "text": f"built-in text, {N_SENTENCES} sentences per language: NTREX-128, then SIB-200 (FLORES-200), "
                "UD-POS, PAN-X", "seed": args.seed,
        "versions": {p: version(p) for p in ("xlt", "lightgbm", "lang2vec")},
        "relevance": "graded by rank: the best source 10, the next 9, ... (xlt.transfer.ranking.relevance)",
        "rankers": entries})
    print(f"rankers: {out}")


if __name__ == "__main__":
    main()
