"""``xlt transfer``: train on the source language, evaluate zero-shot on the targets.

Options are generated from :class:`xlt.jobs.parts.TransferSettings`, which holds every default
and check; ``--config run.yaml`` gives any of its fields, and the command line wins. The job
(:mod:`xlt.jobs.transfer`, :mod:`xlt.jobs.matrix`) imports torch, so it is imported when the
command runs, not when ``xlt`` builds its parser.
"""

from __future__ import annotations

from pathlib import Path

from xlt.cli._settings import add_command, settings_from_args
from xlt.data.langs import language_name
from xlt.jobs.parts import TransferSettings

def add_parser(sub) -> None:
    add_command(sub, "transfer", TransferSettings,
                help="train on the source language, evaluate zero-shot on targets",
                description="Zero-shot cross-lingual transfer (XTREME protocol): train a task "
                            "model on the source language, score every target language, write "
                            "report.json, report.md and scores.png; optionally keep the model (--save) "
                            "for 'xlt predict'. Data: a built-in --task, or your own files (--train, "
                            "--dev, --eval) in CoNLL-U, CoNLL columns, XTREME tsv, CSV/TSV/JSONL or a "
                            "Hugging Face datasets folder, or both: --task udpos --eval de=FILE scores "
                            "the task's model on your file too (checked against the task's labels).")


def settings_from(args) -> TransferSettings:
    """The run's settings from parsed arguments (``--config`` file, then the options).

    Raises:
        ConfigError: a bad value or combination; UsageError: no ``--out``.
    """
    settings = settings_from_args(TransferSettings, args, out="the report folder")
    return settings


def run(args, argv: list[str]) -> int:
    settings = settings_from(args)
    if settings.matrix:
        from xlt.jobs import matrix  # torch: imported when the command runs (see the module docstring)

        print_matrix(matrix.run(settings, command=["xlt"] + argv).report, settings)
        return 0
    from xlt.jobs import transfer  # torch, as above

    result = transfer.run(settings, command=["xlt"] + argv)
    if transfer.is_main_process():  # accelerate launch: the main process prints
        print_result(result.report, settings)
    return 0


def print_result(report: dict, settings: TransferSettings) -> None:
    """The scores of one run as a table, with the seed ensemble, unseen labels and where the files are."""
    src = report["source"]
    rows = sorted(report["scores"].items(), key=lambda kv: -kv[1])
    print(f"\n{report['task']} {report['mode']} {report['metric_name']}, model {report['model']}, "
          f"source {src}, seeds {settings.seeds}")
    print(f"{'lang':<10} {'language':<28} {'score':>8} {'± std':>7} {'sents':>7}")
    for lang, val in rows:
        mark = " (source)" if lang == src else ""
        try:
            name = language_name(lang)
        except Exception:  # noqa: BLE001 - names are cosmetic here
            name = lang
        print(f"{lang:<10} {(name + mark)[:28]:<28} {val:8.2f} {report['scores_std'][lang]:7.2f} "
              f"{report['counts'][lang]['sentences']:7d}")
    print(f"{'average over ' + str(report['n_targets']) + ' targets':<39} {report['average']:8.2f} "
          f"{report['average_std']:7.2f}")
    if "seed_ensemble" in report:
        ens = report["seed_ensemble"]
        print(f"{'ensemble of the ' + str(len(ens['seeds'])) + ' seeds':<39} {ens['average']:8.2f} "
              f"(source {ens['scores'].get(src, float('nan')):.2f})")
    for lang, unseen in report.get("unseen_labels", {}).items():
        print(f"warning: {lang}: gold labels never seen in training, scored as they are: "
              + ", ".join(f"{k} ×{v}" for k, v in sorted(unseen.items())) + " (map them with --label-map)")
    if report.get("saved"):
        print(f"model: {report['saved']['path']} (seed {report['best_seed']}, best on source dev)")
    print(f"report: {Path(settings.out) / 'report.md'}")


def print_matrix(rep: dict, settings: TransferSettings) -> None:
    """Each source's average over the targets and source-dev score, the oracle gain, the file."""
    print(f"\n{rep['task']} {rep['mode']} {rep['metric_name']}: transfer matrix, model {rep['model']}")
    print(f"{'source':<8} {'avg over targets':>16} {'source dev':>10}")
    for s in rep["sources"]:
        dev = next(iter(rep["source_dev"][s].values()), float("nan"))
        avg = rep["source_average"][s]
        print(f"{s:<8} {'–' if avg is None else f'{avg:.2f}':>16} {dev:10.2f}")
    gains = [b["gain"] for b in rep["best_source"].values() if b["gain"] is not None]
    if gains:
        print(f"best source per target instead of {rep['sources'][0]}: {sum(gains) / len(gains):+.2f} on average "
              f"over {len(gains)} targets (oracle)")
    print(f"matrix: {Path(settings.out) / 'matrix.md'}")
