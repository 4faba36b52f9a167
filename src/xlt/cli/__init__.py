"""The ``xlt`` command line: one entry point, one module per command.

Each command module has ``add_parser(subparsers)`` and ``run(args, argv) -> int``. The library
layers below (``xlt.data`` ... ``xlt.evaluate``) never import from here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from xlt.cli._common import seeds_arg as _seeds  # noqa: F401  (kept for callers of the old module)

# command name -> module under xlt.cli, in the order ``xlt --help`` lists them
COMMANDS: dict[str, str] = {
    "transfer": "transfer",
    "predict": "predict",
    "retrieve": "retrieve",
    "mine": "mine",
    "analyze": "analyze",
    "export-model": "export",
    "bench": "bench",
    "wordalign": "wordalign",
    "project": "project",
    "align": "align",
}


def _module(command: str):
    return importlib.import_module(f"xlt.cli.{COMMANDS[command]}")


def build_parser() -> argparse.ArgumentParser:
    """The ``xlt`` argument parser with all subcommands."""
    parser = argparse.ArgumentParser(prog="xlt", description="zero-shot cross-lingual transfer toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        _module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xlt`` console script. Returns the process exit code.

    Errors users can fix (bad data lines, unknown languages, missing data or models) are
    printed as one ``xlt: error: ...`` line with exit code 2, without a traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from xlt.errors import USER_ERRORS

    if getattr(args, "no_progress", False):
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

    try:
        return _module(args.command).run(args, argv)
    except USER_ERRORS as exc:
        if args.verbose:
            raise
        print(f"xlt: error: {exc}", file=sys.stderr)
        return 2
