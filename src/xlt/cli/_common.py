"""What the command line shares: the parser class (one-line usage errors), :class:`UsageError`, the
layer check against a model's depth and a short list formatter. The options themselves are
generated from each command's settings (:mod:`xlt.cli._settings`)."""

from __future__ import annotations

import argparse
import re
import sys

from xlt.core.errors import XltError
from xlt.models.loading import model_num_layers

#: A negative number as an option value: ``-1``, ``-0.5``, ``-.5``, ``-1e-3``, ``-2E+4``.
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class UsageError(XltError, ValueError):
    """A command line that names an impossible combination of inputs or options."""


class XltArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``xlt: error: ...`` line (exit code 2).

    argparse prints the usage block and ``prog: error: ...``; xlt's contract for every mistake a
    user can fix is a single line, with ``--help`` for the rest.

    Negative numbers in scientific notation (``--lr -1e-3``) are values, as ``-0.5`` is: argparse's
    own pattern misses them and reads them as an unknown option ("expected one argument"), so the
    option's type check, which says what is wrong with the value, never ran. Subparsers made with
    ``add_subparsers`` are of this class too (argparse's default ``parser_class`` is the parent's).
    """

    def __init__(self, *args, **kwargs) -> None:  # noqa: D107 - as argparse.ArgumentParser
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message: str):  # noqa: D102 - argparse's hook

        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        hint = f" (xlt {command} --help)" if command else " (xlt --help)"
        print(f"xlt: error: {message}{hint}", file=sys.stderr)
        raise SystemExit(2)


def check_layers(model: str, **layers) -> None:
    """Check layer options against the model's number of layers, read without loading weights.

    Args:
        model: the model spec (``bundled:...``, a folder or a Hugging Face id).
        layers: option name (``align_layer``) → value (an int, ``'mix'``/``'last'``, a digit
            string, or None = not given).

    Raises:
        UsageError: a layer outside ``-(L+1) .. L`` for a model with ``L`` layers.
    """
    given = {k: v for k, v in layers.items() if v is not None and str(v).lstrip("-").isdigit()}
    if not given:
        return
    n = model_num_layers(model)
    if n is None:
        return
    for name, value in given.items():
        v = int(value)
        if not -(n + 1) <= v <= n:
            raise UsageError(f"--{name.replace('_', '-')} {v}: {model} has {n} layers (0 = embeddings, 1..{n}; "
                             f"negative numbers count from the top, down to {-(n + 1)})")


def first_few(numbers, total: int | None = None, shown: int = 5) -> str:
    """``3, 7, 12`` or, with more than ``shown`` numbers (or a larger ``total``), ``3, 7, 12, 15, 20 and 8 more``.

    Args:
        numbers: the numbers to show (line numbers, pair numbers), in order; only the first
            ``shown`` are printed.
        total: how many there are in all (default ``len(numbers)``; a list may hold only the first few).
        shown: how many to print.
    """
    numbers = list(numbers)
    total = len(numbers) if total is None else total
    text = ", ".join(str(n) for n in numbers[:shown])
    more = total - min(shown, len(numbers))
    return f"{text} and {more} more" if more > 0 else text
