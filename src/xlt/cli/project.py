"""``xlt project``: BIO label projection through word alignments, and silver data.

Options are generated from :class:`xlt.jobs.project.ProjectCommand` (the file mode's
:class:`~xlt.jobs.project.ProjectSettings` and the silver mode's
:class:`~xlt.jobs.silver.SilverSettings`), which hold every default and check. ``--config
run.yaml`` gives the fields of the silver mode; the command line wins.
"""

from __future__ import annotations

from pathlib import Path

from xlt.cli._common import UsageError
from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import project as job
from xlt.jobs import silver
from xlt.jobs.settings import flag_of

def add_parser(sub) -> None:
    add_command(sub, "project", job.ProjectCommand,
                help="project BIO spans onto translations through word alignments",
                description="Label projection: each BIO span of the source sentence goes to the "
                            "contiguous target range from the first to the last target word linked "
                            "to it (Yarowsky et al. 2001); spans with no link are unprojectable, "
                            "overlapping projections are resolved in favour of the span with more "
                            "links. Writes the target side as XTREME token<TAB>TAG lines plus a JSON "
                            "statistics file. With --silver ntrex instead of the file options: the "
                            "whole silver-data pipeline (tag NTREX English with an English PAN-X "
                            "probe, align, project, train on the projected data) and its PAN-X dev "
                            "F1 next to zero-shot transfer, as a report folder.")


def _given(args, names) -> list[str]:
    """The options of ``names`` given on the command line, as typed (``--src-tags``)."""
    fields = job.ProjectCommand.__dataclass_fields__
    return [flag_of(fields[n]) for n in names if getattr(args, n, None) not in (None, False)]


def run(args, argv) -> int:
    if args.config and not args.parallel:  # before the file is read: its keys are the silver mode's
        raise UsageError("--config only apply with --silver")
    options = settings_from_args(job.ProjectCommand, args)  # every value checked, in either mode
    command = ["xlt"] + argv
    if options.parallel:
        given = _given(args, job.FILE_OPTIONS)
        if given:
            raise UsageError(f"--silver builds its own inputs; it cannot be combined with {', '.join(given)}")
        settings = options.silver_settings()
        if settings.out is None:
            raise UsageError("--out is required (the report folder)")
        print_silver(silver.run(settings, command=command).report, settings)
        return 0
    given = _given(args, job.SILVER_OPTIONS)
    if given:
        raise UsageError(f"{', '.join(given)} only apply with --silver")
    try:
        settings = options.file_settings()
    except job.ConfigError as exc:  # a missing input: a usage error, as before
        raise UsageError(str(exc)) from None
    print_projection(job.run(settings, command=command).report)
    return 0


def print_silver(rep: dict, settings) -> None:
    """Zero-shot against silver F1 per language, with the silver sentences and projected spans."""
    first = str(settings.seeds[0])
    print(f"\nPAN-X {rep['metric_name']}, model {rep['model']}, silver data from {settings.parallel} "
          f"({settings.align_method}, layer {settings.align_layer}), seeds {settings.seeds}")
    print(f"{'lang':<6} {'zero-shot':>9} {'silver':>8} {'delta':>7} {'silver sents':>12} {'spans proj.':>12}")
    for lang, val in rep["scores"].items():
        zs = rep["zero_shot_scores"][lang]
        s = rep["counts"][lang]["silver"][first]
        print(f"{lang:<6} {zs:9.2f} {val:8.2f} {val - zs:+7.2f} {s['kept']:12d} "
              f"{s['spans']['projected']:5d}/{s['spans']['n_spans']:<6d}")
    print(f"{'avg':<6} {rep['zero_shot_average']:9.2f} {rep['average']:8.2f} "
          f"{rep['average'] - rep['zero_shot_average']:+7.2f}")
    print(f"report: {Path(settings.out) / 'report.md'} (silver data: {Path(settings.out) / 'silver'})")


def print_projection(rep: dict) -> None:
    """Span and sentence counts of a file-mode projection."""
    s, sp = rep["sentences"], rep["spans"]
    pct = f" ({sp['projected_pct']:.1f}%)" if sp["projected_pct"] is not None else ""
    print(f"spans: {sp['n_spans']} source, {sp['projected']} projected{pct}, {sp['unprojectable']} unprojectable, "
          f"{sp['conflicts']} conflicts, {sp['too_gappy']} too gappy")
    for label, c in sp["per_label"].items():
        print(f"  {label:<8} {c['spans']:6d} source {c['projected']:6d} projected {c['unprojectable']:6d} "
              f"unprojectable {c['conflicts']:5d} conflicts {c['too_gappy']:5d} too gappy")
    print(f"sentences: {s['read']} read, {s['written']} written; {s['empty_target']} with an empty target, "
          f"{s['dropped_partial']} dropped as partial, {s['dropped_no_entity']} dropped without entities")
    if s["src_word_mismatch"]:
        print(f"warning: {s['src_word_mismatch']} pairs-file source sides differ from the tsv words "
              "(same counts); check that the files are in the same order")
    print(f"output: {rep['outputs']['tsv']} (stats: {rep['outputs']['stats']})")
