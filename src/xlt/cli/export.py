"""``xlt export-model SPEC DIR``: write a model spec as a standard Hugging Face folder.

Options are generated from :class:`xlt.jobs.export.ExportSettings`; ``SPEC`` and ``DIR`` are its
``model`` and ``out``.
"""

from __future__ import annotations

from xlt.cli._settings import add_command, settings_from_args
from xlt.jobs import export as job
from xlt.jobs.parts_aligncmds import help_of


def add_parser(sub) -> None:
    p = add_command(sub, "export-model", job.ExportSettings, help="write a model as a standard Hugging Face folder")
    p.add_argument("model", metavar="spec", nargs="?", help=help_of(job.ExportSettings, "model"))
    p.add_argument("out", metavar="dir", nargs="?", help=help_of(job.ExportSettings, "out"))


def run(args, argv) -> int:
    result = job.run(settings_from_args(job.ExportSettings, args), command=["xlt"] + argv)
    print(f"exported {result.model} to {result.out} (load with AutoModel/AutoTokenizer.from_pretrained)")
    return 0
