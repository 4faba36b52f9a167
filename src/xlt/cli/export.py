"""``xlt export-model SPEC DIR``: write a model spec as a standard Hugging Face folder.

Options are generated from :class:`xlt.jobs.export.ExportSettings`; ``SPEC`` and ``DIR`` are its
``model`` and ``out``.
"""

from __future__ import annotations

from xlt.cli._settings import add_settings_options, settings_from_args
from xlt.jobs import export as job
from xlt.jobs.parts_aligncmds import help_of


def add_parser(sub) -> None:
    p = sub.add_parser("export-model", help="write a model as a standard Hugging Face folder")
    p.add_argument("model", metavar="spec", nargs="?", help=help_of(job.ExportSettings, "model"))
    p.add_argument("out", metavar="dir", nargs="?", help=help_of(job.ExportSettings, "out"))
    add_settings_options(p, job.ExportSettings)


def run(args, argv) -> int:
    result = job.run(settings_from_args(job.ExportSettings, args), command=["xlt"] + argv)
    print(f"exported {result.model} to {result.out} (load with AutoModel/AutoTokenizer.from_pretrained)")
    return 0
