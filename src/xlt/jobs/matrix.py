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
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from xlt.core.metrics import score
from xlt.core.outputs import staged_folder
from xlt.data.dataset import TaskDataset
from xlt.data.langs import same_language
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.matrix import best_sources, write_matrix_report
from xlt.evaluate.report import write_report
from xlt.jobs import ConfigError, check_max_length
from xlt.jobs.parts import TransferSettings
from xlt.jobs.rank import loto_rankings
from xlt.jobs.transfer import check_encoder_spec, check_evaluation_sets, check_outputs, load_dataset_for
from xlt.jobs.transfer import run as run_transfer
from xlt.models.loading import load_encoder
from xlt.transfer.ensemble import ensemble_proba, top_k_weights
from xlt.transfer.model import decode_probas
from xlt.transfer.training_settings import FinetuneTraining

__all__ = ["MatrixResult", "matrix_report", "matrix_sources", "run", "run_matrix", "score_ensembles"]

log = logging.getLogger(__name__)


def matrix_sources(settings: TransferSettings) -> list[str]:
    """The source languages of a matrix, in the order given, without repeats (``--source a,b`` of a
    built-in task, or the languages of a user's ``--train LANG=FILE`` values)."""
    return list(settings.source_settings())


@dataclass
class MatrixResult:
    """What :func:`run` gives back.

    Attributes:
        sources: the source languages (codes as the data spell them), in the order given.
        targets: every scored language, sorted.
        scores: source -> target -> score (%; the source's own language included).
        source_average: source -> its zero-shot average (every target but its own language; None: none).
        shared_average: source -> average over the targets that are no source's language (None: none).
        ensembles: with ``ensemble``: :func:`score_ensembles`'s result (None: off).
        report: the matrix report (``matrix.json``), see :func:`run`.
        out: the report folder (None: nothing written).
    """

    sources: list[str]
    targets: list[str]
    scores: dict[str, dict[str, float]]
    source_average: dict[str, float | None]
    shared_average: dict[str, float | None]
    report: dict
    ensembles: dict | None = None
    out: Path | None = None


def _read_sources(settings: TransferSettings) -> tuple[dict[str, TransferSettings], dict[str, TaskDataset]]:
    """Check the settings and outputs, then read every source's data (before the model loads):
    single-run settings and data set per source, keyed by the source as given.

    Raises:
        ConfigError: a language given twice; plus the errors of :func:`xlt.jobs.transfer.prepare`.
    """
    check_outputs(settings)  # the output rule, over every source's files
    check_encoder_spec(settings.model)
    if settings.mode == "finetune":
        check_max_length(settings.model, settings.max_length, default=FinetuneTraining.max_length)
    singles = settings.source_settings()
    datasets = {s: load_dataset_for(c) for s, c in singles.items()}  # every file read before the model loads
    for ds in datasets.values():
        check_evaluation_sets(ds)
    codes = [ds.source for ds in datasets.values()]
    if len(set(codes)) < len(codes):
        raise ConfigError(f"--source names a language twice: {','.join(settings.source)}")
    return singles, datasets


def matrix_report(settings: TransferSettings, reports: dict[str, dict], seconds: dict, files: list[str],
                  encoder, command: list[str]) -> dict:
    """The matrix report from each source's transfer report (keyed by source code, in order): the
    sources × targets table, each source's dev score and zero-shot average, the shared average,
    the best source per target, counts, timings, config and manifest (see :func:`run`)."""
    order = list(reports)
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
    cfg = settings.echo()
    return {
        "command": command, "command_line": shlex.join(command), "task": first["task"], "kind": first["kind"],
        "model": settings.model, "mode": settings.mode, "metric": first["metric"], "metric_name": first["metric_name"],
        "sources": order, "targets": targets, "scores": scores,
        "scores_std": {s: dict(reports[s]["scores_std"]) for s in order},
        "source_dev": {s: reports[s]["dev_scores"] for s in order},
        "source_average": source_average, "n_zero_shot_targets": {s: len(zero_shot[s]) for s in order},
        "shared_targets": shared, "shared_average": shared_average,
        "best_source": best_sources(scores),
        "counts": {s: reports[s]["source_counts"] for s in order},
        "seconds": seconds,
        "config": cfg,
        "manifest": build_manifest(cfg, [Path(f) for f in files], encoder.describe(), settings.seeds),
    }


def run(settings: TransferSettings, command: list[str] | None = None) -> MatrixResult:
    """Train on each source in turn, score every target, and write the matrix.

    Args:
        settings: :class:`~xlt.jobs.parts.TransferSettings` with ``matrix=True`` and several ``source``
            languages of a built-in task, or a user's ``train`` files, ``LANG=FILE`` (at least two
            languages with training data); ``targets``/``eval`` as for one run. The first source is
            the baseline of the "gain" columns.
        command: the command line, recorded in the report.

    Returns:
        :class:`MatrixResult`; its report has ``sources``, ``targets``, ``scores`` (source → target →
        %, the source's own language included), ``source_dev`` (each model's source-dev score),
        ``source_average`` (each source's zero-shot average: every target but its own language),
        ``shared_targets`` and ``shared_average`` (the average over the targets that are no source's
        language, the same for every source; None where there are none), ``best_source``, per-source
        ``seconds``, ``config`` and ``manifest``.

    Raises:
        ConfigError: options a matrix cannot take (at construction of the settings), a language given
            twice; UnknownLanguageError: a source without training data (said before the model loads);
            plus :func:`xlt.jobs.transfer.run`'s.
    """
    t0 = time.time()
    singles, datasets = _read_sources(settings)
    encoder = load_encoder(settings.model, device="cpu" if settings.mode == "finetune" else "auto",
                           **settings.encoder_options())
    argv = command if command is not None else sys.argv
    reports: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    models: dict[str, object] = {}  # the chosen model of each source, kept for ensembles only
    for s in tqdm(list(singles), desc="sources", disable=not settings.progress):
        t = time.time()
        res = run_transfer(singles[s], command=argv, dataset=datasets[s], encoder=encoder)
        code = datasets[s].source
        reports[code] = res.report
        seconds[code] = round(time.time() - t, 1)
        if settings.ensemble:
            models[code] = res.model
    files = sorted({str(p) for ds in datasets.values() for p in ds.files()})
    report = matrix_report(settings, reports, {"per_source": seconds, "total": round(time.time() - t0, 1)}, files,
                           encoder, argv)
    if settings.out:  # the finished matrix is written before any ensembling (which ranks, and may fail)
        with staged_folder(settings.out) as folder:  # the whole folder appears at once
            write_matrix_report(folder, report)
            for s in report["sources"]:
                write_report(folder / "by-source" / s, reports[s])
    if settings.ensemble:
        _add_ensembles(settings, report, models, next(iter(datasets.values())), encoder)
    return MatrixResult(sources=report["sources"], targets=report["targets"], scores=report["scores"],
                        source_average=report["source_average"], shared_average=report["shared_average"],
                        report=report, ensembles=report.get("ensembles"), out=settings.out)


def _add_ensembles(settings: TransferSettings, report: dict, models: dict, dataset: TaskDataset, encoder) -> None:
    """Score the ensembles into ``report`` and write the matrix again with them."""
    t = time.time()
    try:
        report["ensembles"] = score_ensembles(report, models, dataset, encoder.tokenizer, settings)
    except Exception:
        if settings.out:
            log.warning("ensembling failed; the matrix without ensembles is in %s", Path(settings.out) / "matrix.md")
        raise
    report["seconds"]["ensembles"] = round(time.time() - t, 1)
    if settings.out:  # matrix.json, matrix.md and matrix.png again, with the ensembles, all at once
        write_matrix_report(settings.out, report)


def run_matrix(settings: TransferSettings, command: list[str] | None = None) -> dict:
    """:func:`run`, returning the matrix report dict."""
    return run(settings, command).report


def score_ensembles(report: dict, models: dict, dataset, tokenizer, config: TransferSettings) -> dict:
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

