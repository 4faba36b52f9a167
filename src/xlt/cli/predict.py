"""``xlt predict``: tag or classify new text with task models saved by ``xlt transfer --save``.

Options are generated from :class:`xlt.jobs.predict.PredictSettings`, which holds every default and
check (``--config run.yaml`` gives any of its fields; the command line wins). Input formats are
described in :mod:`xlt.data.formats.inputs`, output formats in :mod:`xlt.jobs.predict`. The output
file is written atomically; an existing ``--out`` is replaced only with ``--overwrite``; the input
is never overwritten.
"""

from __future__ import annotations

import sys

from xlt.cli._common import UsageError, first_few
from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import predict as job


def add_parser(sub) -> None:
    add_command(sub, "predict", job.PredictSettings,
                help="tag or classify new text with a model saved by 'xlt transfer --save'",
                description="Apply a saved task model (xlt transfer --save) to new text in any language. "
                            "Input: raw text lines (any script), pre-tokenised lines, CoNLL, JSONL or a "
                            "CSV/TSV table; output JSONL with per-label probabilities, or CoNLL.")



def run(args, argv) -> int:
    cfg = settings_from_args(job.PredictSettings, args)
    if cfg.out is None:  # the Python API may leave it out (the rows are returned); the command writes them
        raise UsageError("the following settings are required: --out (a file, or - for standard output)")
    result = job.run(cfg, command=["xlt"] + argv)
    for message in result.warnings:
        print(f"warning: {message}", file=sys.stderr)
    if cfg.out == job.STDOUT:
        sys.stdout.write(result.text)
    token = result.kind == "token"
    if result.truncated:
        labels = result.labels
        effect = (f"words past the cut get the label {labels[0] if 'O' not in labels else 'O'}" if token
                  else "only the part that fits was classified")
        n_cut = len(result.truncated)
        print(f"warning: {n_cut} of {result.n_inputs} inputs are longer than the model takes and were cut: {effect} "
              f"({result.unit}{'s' if n_cut > 1 else ''} {first_few([i + 1 for i in result.truncated])})",
              file=sys.stderr)
    what = f"{result.n_inputs} inputs" + (f" ({result.n_words} words)" if token else "")
    models = result.models
    used = models[0] if len(models) == 1 else f"an ensemble of {len(models)} models ({', '.join(models)})"
    print(f"xlt predict: {what} with {used} ({result.mode}, {result.kind}) in {result.seconds:.1f} s"
          + (f"; {result.n_empty} empty lines kept as empty predictions" if result.n_empty else "")
          + ("" if cfg.out == job.STDOUT else f" -> {cfg.out}"), file=sys.stderr)
    return 0
