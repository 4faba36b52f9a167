"""``xlt transfer --source en,de,ru,... --matrix``: a transfer matrix in one command.

Each source language's training data trains one task model (probe or fine-tuned, as for
``xlt transfer``), which is scored zero-shot on every target; the result is a sources × targets
table (:mod:`xlt.evaluate.matrix`). Every source's data is read before the model loads, the model
is loaded once and shared, and with ``--cache-dir`` the probe features of the evaluation sets are
computed once for all sources. Each source's own report is kept under ``OUT/by-source/<lang>/``.
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from xlt.data.langs import same_language
from xlt.core.outputs import staged_folder
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.matrix import best_sources, write_matrix_report
from xlt.evaluate.report import write_report
from xlt.jobs import check_max_length
from xlt.jobs.transfer import (TransferConfig, check_encoder_spec, check_evaluation_sets, check_outputs, load_dataset_for,
                               source_configs, transfer_result)
from xlt.models.loading import load_encoder

__all__ = ["matrix_sources", "run_matrix", "score_ensembles"]

log = logging.getLogger(__name__)


def matrix_sources(config: TransferConfig) -> list[str]:
    """The source languages of a matrix config, in the order given, without repeats (``--source a,b``
    of a built-in task, or the languages of a user's ``--train LANG=FILE`` values)."""
    return list(source_configs(config))


def run_matrix(config: TransferConfig, command: list[str] | None = None) -> dict:
    """Train on each source in turn, score every target, and write the matrix.

    Args:
        config: a :class:`~xlt.jobs.transfer.TransferConfig` with ``matrix=True`` and a
            comma-separated ``source`` of a built-in task, or a user's ``train`` list of
            ``LANG=FILE`` values (at least two languages with training data); ``targets``/``eval``
            as for one run. The first source is the baseline of the "gain" columns.
        command: the command line, recorded in the report.

    Returns:
        the matrix report: ``sources``, ``targets``, ``scores`` (source → target → %, the
        source's own language included), ``source_dev`` (each model's source-dev score),
        ``source_average`` (each source's zero-shot average: every target but its own language),
        ``shared_targets`` and ``shared_average`` (the average over the targets that are no source's
        language, the same for every source; None where there are none), ``best_source``, per-source
        ``seconds``, ``config`` and ``manifest``.

    Raises:
        ConfigError: fewer than two sources, or options a matrix cannot take; UnknownLanguageError:
        a source without training data (said before the model loads); plus :func:`transfer_result`'s.
    """
    t0 = time.time()
    config.validate()
    if config.train is None:
        given = [x.strip() for x in str(config.source).split(",") if x.strip()]
        if len(given) != len(set(given)):
            from xlt.jobs import ConfigError

            raise ConfigError(f"--source names a language twice: {config.source}")
    check_outputs(config)  # the output rule, over every source's files
    check_encoder_spec(config.model)
    if config.mode == "finetune":
        check_max_length(config.model, config.max_length, default=TransferConfig.max_length)
    singles = {s: replace(c, matrix=False, ensemble=0, out=None, save=None, predictions=False)
               for s, c in source_configs(config).items()}
    sources = list(singles)
    datasets = {s: load_dataset_for(c) for s, c in singles.items()}  # every file read before the model loads
    for ds in datasets.values():
        check_evaluation_sets(ds)
    codes = {s: ds.source for s, ds in datasets.items()}
    if len(set(codes.values())) < len(codes):
        from xlt.jobs import ConfigError

        raise ConfigError(f"--source names a language twice: {config.source}")
    encoder = load_encoder(config.model, device="cpu" if config.mode == "finetune" else "auto")
    argv = command if command is not None else sys.argv
    reports: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    models: dict[str, object] = {}  # the chosen model of each source, kept for ensembles only
    for s in tqdm(sources, desc="sources", disable=not config.progress):
        t = time.time()
        res = transfer_result(singles[s], command=argv, dataset=datasets[s], encoder=encoder)
        reports[codes[s]] = res.report
        seconds[codes[s]] = round(time.time() - t, 1)
        if config.ensemble:
            models[codes[s]] = res.model
    order = [codes[s] for s in sources]
    targets = sorted(dict.fromkeys(t for r in reports.values() for t in r["scores"]))
    scores = {s: dict(reports[s]["scores"]) for s in order}
    first = reports[order[0]]
    # each source's zero-shot average leaves out its own language only; the shared average is over the
    # same targets for every source (those that are no source's language), where there are any
    own = {s: [t for t in targets if same_language(t, s)] for s in order}
    zero_shot = {s: [t for t in targets if t in scores[s] and t not in own[s]] for s in order}
    source_average = {s: (sum(scores[s][t] for t in zero_shot[s]) / len(zero_shot[s])) if zero_shot[s] else None
                      for s in order}
    shared = [t for t in targets if not any(same_language(t, s) for s in order) and all(t in scores[s] for s in order)]
    shared_average = {s: (sum(scores[s][t] for t in shared) / len(shared)) if shared else None for s in order}
    files = sorted({str(p) for ds in datasets.values() for p in ds.files()})
    cfg = {k: v for k, v in vars(config).items() if k != "progress"}
    report = {
        "command": argv, "command_line": shlex.join(argv), "task": first["task"], "kind": first["kind"],
        "model": config.model, "mode": config.mode, "metric": first["metric"], "metric_name": first["metric_name"],
        "sources": order, "targets": targets, "scores": scores,
        "scores_std": {s: dict(reports[s]["scores_std"]) for s in order},
        "source_dev": {s: reports[s]["dev_scores"] for s in order},
        "source_average": source_average, "n_zero_shot_targets": {s: len(zero_shot[s]) for s in order},
        "shared_targets": shared, "shared_average": shared_average,
        "best_source": best_sources(scores),
        "counts": {s: reports[s]["source_counts"] for s in order},
        "seconds": {"per_source": seconds, "total": round(time.time() - t0, 1)},
        "config": cfg,
        "manifest": build_manifest(cfg, [Path(f) for f in files], encoder.describe(), config.seeds),
    }
    if config.out:  # the finished matrix is written before any ensembling (which ranks, and may fail)
        with staged_folder(config.out) as folder:  # the whole folder appears at once
            write_matrix_report(folder, report)
            for s in order:
                write_report(folder / "by-source" / s, reports[s])
    if config.ensemble:
        t = time.time()
        try:
            report["ensembles"] = score_ensembles(report, models, datasets[sources[0]], encoder.tokenizer, config)
        except Exception:
            if config.out:
                log.warning("ensembling failed; the matrix without ensembles is in %s", Path(config.out) / "matrix.md")
            raise
        report["seconds"]["ensembles"] = round(time.time() - t, 1)
        if config.out:  # matrix.json, matrix.md and matrix.png again, with the ensembles, all at once
            write_matrix_report(config.out, report)
    return report


def score_ensembles(report: dict, models: dict, dataset, tokenizer, config: TransferConfig) -> dict:
    """Score every target that is no source's language with two ensembles of the source models.

    ``all``: every source, equal weights. ``top``: the ``config.ensemble`` sources that a LangRank-style
    ranker, trained on the other targets' columns of this matrix (leave one target out), ranks first
    for the target (:func:`xlt.jobs.rank.loto_rankings`); targets it cannot rank (not in URIEL) are
    listed and get no ``top`` score.

    Returns:
        ``{"k", "all": {target: %}, "top": {target: %}, "top_sources": {target: [sources]},
        "not_ranked": [targets], "average": {...}, "targets"}``: averages over the targets both
        ensembles scored, next to the first source, the best single source on average, and the
        oracle best source per target over those targets.
    """
    from xlt.core.metrics import score
    from xlt.jobs.rank import loto_rankings
    from xlt.transfer.ensemble import ensemble_proba, top_k_weights
    from xlt.transfer.model import decode_probas

    sources = report["sources"]
    k = min(config.ensemble, len(sources))
    targets = [t for t in report["targets"] if t not in sources and t in dataset.eval]
    # every column trains the ranker (a source's language too, scored by the other sources)
    rankings, not_ranked = loto_rankings(report, tokenizer, data_dir=config.data_dir, seed=config.seeds[0])
    not_ranked = [t for t in not_ranked if t in targets]
    order = [models[s] for s in sources]
    out: dict = {"k": k, "all": {}, "top": {}, "top_sources": {}, "not_ranked": not_ranked}
    for t in tqdm(targets, desc="ensembles", disable=not config.progress):
        examples = dataset.eval[t].examples
        gold = dataset.kind.gold(examples)
        weight_sets = {"all": [1.0] * len(sources)}
        if t in rankings:
            out["top_sources"][t] = rankings[t][:k]
            weight_sets["top"] = top_k_weights(rankings[t], sources, k)
        for name, weights in weight_sets.items():
            labels, probas = ensemble_proba(order, weights, examples, t)
            preds = decode_probas(dataset.kind, labels, probas, config.decoding)
            out[name][t] = score(report["metric"], gold, preds)
    both = [t for t in targets if t in out["top"]]
    if both:
        first = sources[0]
        singles = {s: sum(report["scores"][s][t] for t in both) / len(both) for s in sources}
        best_single = max(singles, key=singles.get)
        out["targets"] = both
        out["average"] = {
            f"first source ({first})": singles[first],
            f"best single source on average ({best_single})": singles[best_single],
            "ensemble of all sources": sum(out["all"][t] for t in both) / len(both),
            f"ensemble of the ranker's top {k}": sum(out["top"][t] for t in both) / len(both),
            "oracle single source per target": sum(max(report["scores"][s][t] for s in sources)
                                                   for t in both) / len(both)}
    return out

