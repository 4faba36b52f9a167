"""``xlt transfer --source en,de,ru,... --matrix``: a transfer matrix in one command.

Each source language's training data trains one task model (probe or fine-tuned, as for
``xlt transfer``), which is scored zero-shot on every target; the result is a sources × targets
table (:mod:`xlt.evaluate.matrix`). Every source's data is read before the model loads, the model
is loaded once and shared, and with ``--cache-dir`` the probe features of the evaluation sets are
computed once for all sources. Each source's own report is kept under ``OUT/by-source/<lang>/``.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from xlt.data.outputs import check_output_folder, staged_folder
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.matrix import best_sources, write_matrix_report
from xlt.evaluate.report import write_report
from xlt.jobs.transfer import TransferConfig, load_dataset_for, source_configs, transfer_result
from xlt.models.loading import load_encoder

__all__ = ["matrix_sources", "run_matrix"]


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
        ``source_average`` (mean over targets other than the source), ``best_source``, per-source
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
    if config.out:
        check_output_folder(config.out, overwrite=config.overwrite)
    singles = {s: replace(c, matrix=False, out=None, save=None, predictions=False)
               for s, c in source_configs(config).items()}
    sources = list(singles)
    datasets = {s: load_dataset_for(c) for s, c in singles.items()}  # every file read before the model loads
    codes = {s: ds.source for s, ds in datasets.items()}
    if len(set(codes.values())) < len(codes):
        from xlt.jobs import ConfigError

        raise ConfigError(f"--source names a language twice: {config.source}")
    encoder = load_encoder(config.model, device="cpu" if config.mode == "finetune" else "auto")
    argv = command if command is not None else sys.argv
    reports: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    for s in tqdm(sources, desc="sources", disable=not config.progress):
        t = time.time()
        res = transfer_result(singles[s], command=argv, dataset=datasets[s], encoder=encoder)
        reports[codes[s]] = res.report
        seconds[codes[s]] = round(time.time() - t, 1)
    order = [codes[s] for s in sources]
    targets = sorted(dict.fromkeys(t for r in reports.values() for t in r["scores"]))
    scores = {s: dict(reports[s]["scores"]) for s in order}
    first = reports[order[0]]
    # averages over the same targets for every source: those that are no source's own language
    shared = [t for t in targets if t not in order and all(t in scores[s] for s in order)]
    source_average = {s: (sum(scores[s][t] for t in shared) / len(shared)) if shared else None for s in order}
    files = sorted({str(p) for ds in datasets.values() for p in ds.files()})
    cfg = {k: v for k, v in vars(config).items() if k != "progress"}
    report = {
        "command": argv, "command_line": shlex.join(argv), "task": first["task"], "kind": first["kind"],
        "model": config.model, "mode": config.mode, "metric": first["metric"], "metric_name": first["metric_name"],
        "sources": order, "targets": targets, "scores": scores,
        "scores_std": {s: dict(reports[s]["scores_std"]) for s in order},
        "source_dev": {s: reports[s]["dev_scores"] for s in order},
        "source_average": source_average, "shared_targets": shared,
        "best_source": best_sources(scores),
        "counts": {s: reports[s]["source_counts"] for s in order},
        "seconds": {"per_source": seconds, "total": round(time.time() - t0, 1)},
        "config": cfg,
        "manifest": build_manifest(cfg, [Path(f) for f in files], encoder.describe(), config.seeds),
    }
    if config.out:
        with staged_folder(config.out) as folder:  # the whole folder appears at once
            write_matrix_report(folder, report)
            for s in order:
                write_report(folder / "by-source" / s, reports[s])
    return report
