"""The ``xlt`` command line: one entry point, one module per command.

Each command module has ``add_parser(subparsers)`` and ``run(args, argv) -> int``. The library
layers below (``xlt.data`` ... ``xlt.evaluate``) never import from here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading

from xlt.cli._common import XltArgumentParser, check_layers
from xlt.core.errors import USER_ERRORS
from xlt.core.outputs import OutputError, path_relation
from xlt.models.loading import DEFAULT_MODEL

# command name -> module under xlt.cli, in the order ``xlt --help`` lists them
COMMANDS: dict[str, str] = {
    "transfer": "transfer",
    "predict": "predict",
    "retrieve": "retrieve",
    "embed": "embed",
    "mine": "mine",
    "analyze": "analyze",
    "export-model": "export",
    "bench": "bench",
    "wordalign": "wordalign",
    "project": "project",
    "align": "align",
    "rank-sources": "rank",
    "adapt": "adapt",
    "bli": "bli",
}


def _module(command: str):
    return importlib.import_module(f"xlt.cli.{COMMANDS[command]}")


def build_parser() -> argparse.ArgumentParser:
    """The ``xlt`` argument parser with all subcommands."""
    parser = XltArgumentParser(prog="xlt", description="zero-shot cross-lingual transfer toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        _module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xlt`` console script. Returns the process exit code.

    Errors users can fix (bad data lines, unknown languages, missing data or models, impossible
    options) are printed as one ``xlt: error: ...`` line with exit code 2, without a traceback.
    An interrupt (Ctrl-C, SIGINT or SIGTERM) ends with one line and exit code 130.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")

    if getattr(args, "no_progress", False) or getattr(args, "progress", None) is False:
        from transformers.utils import logging as hf_logging  # lazy: heavy import

        hf_logging.disable_progress_bar()

    # SIGTERM ends a run like Ctrl-C (handlers can only be set in the main thread)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        _check_config_file(args)
        _check_layer_options(args)
        return _module(args.command).run(args, argv)
    except USER_ERRORS as exc:
        if args.verbose:
            raise
        message = str(exc).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")  # always one line
        print(f"xlt: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.verbose:
            raise
        # outputs are written atomically: what was complete before is still there, nothing half-written
        print("xlt: interrupted (outputs already in place are complete; unfinished ones were not written)",
              file=sys.stderr)
        return 130
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


# the options that name a command's outputs (argparse names), for the --config check below
_OUTPUT_OPTIONS = ("out", "save", "report", "stats", "corr_out", "eval_report", "dir", "checkpoint_dir", "cache_dir",
                   "work_dir")


def _check_config_file(args) -> None:
    """The ``--config`` file is an input of every command that takes one: no output may be it or hold it
    (each job's own output plan covers its other inputs)."""
    config = getattr(args, "config", None)
    if not config:
        return

    for name in _OUTPUT_OPTIONS:
        value = getattr(args, name, None)
        if not isinstance(value, str) or value in ("", "-"):
            continue
        relation = path_relation(value, config)
        if relation in ("same", "contains"):
            raise OutputError(f"--{name.replace('_', '-')} {value} {'is' if relation == 'same' else 'contains'} the "
                              f"--config file {config}; xlt never writes over its inputs")


def _check_layer_options(args) -> None:
    """``--layer`` / ``--align-layer`` numbers against the model's layer count, before it loads."""
    layers = {name: getattr(args, name, None) for name in ("layer", "align_layer")}
    if any(v is not None for v in layers.values()) and hasattr(args, "model"):
        check_layers(args.model or DEFAULT_MODEL, **layers)


def _terminate(signum, frame):
    raise KeyboardInterrupt
