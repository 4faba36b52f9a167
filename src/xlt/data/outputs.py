"""Where a run may write: output checks made before any work, and folders published whole.

xlt's rules for outputs (every command follows them):

* an input is never written over (:func:`check_output_file` compares real paths, so a link or
  ``./x`` vs ``x`` is caught too);
* an existing non-empty output (report folder, model folder, pairs or links file) is replaced
  only when the user says so (``--overwrite``), and then whole;
* the checks run before the model loads, so a mistake costs seconds, not a finished run;
* a folder of several files (a report: ``report.json`` + ``report.md`` + ``scores.png`` +
  predictions) is built in a hidden sibling and renamed into place (:func:`staged_folder`), so an
  interrupt leaves either the old complete folder or the new complete one, never a mix.

Standard library only (data layer).
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["OutputError", "check_output_file", "check_output_folder", "commit_files", "signals_deferred",
           "staged_folder", "write_together"]


class OutputError(ValueError):
    """An output that would destroy an input, or that cannot be written where it is asked for."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_parent(path: Path, option: str) -> None:
    """The nearest existing ancestor of ``path`` is a writable folder (missing ones get created)."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{option} {path}: {parent} is a file, so nothing can be written below it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: the folder {parent} is not writable")


def check_output_file(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = (),
                      overwrite: bool = False, option: str = "--out") -> Path:
    """Check that a run may write the file ``path``, before it does any work.

    Args:
        path: the output file (``-`` = standard output: always allowed).
        inputs: the run's input files; the output may be none of them, even with ``overwrite``.
        overwrite: an existing file may be replaced.
        option: the option's name, for messages.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OutputError: the output is one of the inputs, or its folder is not writable.
        IsADirectoryError: ``path`` is a folder.
        FileExistsError: ``path`` exists and ``overwrite`` is off.
        NotADirectoryError: a file stands where a folder on the way should be.
    """
    p = Path(path)
    if str(path) == "-":
        return p
    for i in inputs:
        if i is not None and str(i) != "-" and (_same_file(p, Path(i)) or p.resolve() == Path(i).resolve()):
            raise OutputError(f"{option} {p} is also an input ({i}); xlt never writes over its inputs")
    if p.is_dir():
        raise IsADirectoryError(f"{option} {p} is a folder; give a file name")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{option} {p} exists; choose another name or add --overwrite to replace it")
    _check_parent(p, option)
    return p


def check_output_folder(path: str | os.PathLike, *, overwrite: bool = False, option: str = "--out",
                        allow: Iterable[str] = (), inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Check that a run may write (or replace) the folder ``path``, before it does any work.

    Args:
        path: the output folder.
        overwrite: a non-empty folder may be replaced (whole).
        option: the option's name, for messages.
        allow: names that may already be in the folder without ``overwrite`` (``checkpoints`` of
            a run being resumed).
        inputs: the run's input files and folders: none may lie inside ``path`` (replacing it would
            delete them).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        NotADirectoryError: ``path`` (or a folder on the way) is a file.
        FileExistsError: ``path`` holds other entries and ``overwrite`` is off.
        OutputError: an input lies inside ``path``, or its folder is not writable.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(f"{option} {p} is a file, not a folder")
    root = p.resolve()
    for i in inputs:
        if i is None or str(i) == "-":
            continue
        ri = Path(i).resolve()
        if ri == root or root in ri.parents:
            raise OutputError(f"{option} {p} contains the input {i}; replacing the folder would delete it")
    if p.is_dir():
        extra = sorted(e.name for e in p.iterdir() if e.name not in set(allow))
        if extra and not overwrite:
            shown = ", ".join(extra[:4]) + (", ..." if len(extra) > 4 else "")
            raise FileExistsError(f"{option} {p} is not empty ({shown}); choose another folder or add --overwrite "
                                  "to replace it")
    _check_parent(p, option)
    return p


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the few renames that publish an output.

    The Python handlers are swapped for ones that only note the signal; when the block ends the
    old handlers come back and a noted signal is handed to its old handler then (Ctrl-C raises
    ``KeyboardInterrupt`` after the renames). So an interrupt lands before or after the renames,
    never between two of them. Outside the main thread (where Python cannot set handlers) the
    block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple[int, object]] = []
    held = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, lambda signum, frame: caught.append((signum, frame))) for s in held}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if caught:
            signum, frame = caught[0]
            handler = old[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL and signum == signal.SIGINT:
                raise KeyboardInterrupt
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


def commit_files(renames: Iterable[tuple[str | os.PathLike, str | os.PathLike]]) -> None:
    """Rename finished temporary files onto their final names as one step (signals held back).

    Args:
        renames: ``(temporary file, final path)`` pairs; each final path is replaced.
    """
    with signals_deferred():
        for tmp, final in renames:
            os.replace(tmp, final)


def write_together(writers: dict[str | os.PathLike, Callable[[Path], Any]]) -> list[Path]:
    """Write several files of one result so that they appear together (a report's JSON, Markdown
    and plots): each is written to a temporary name beside it, then all are renamed at once
    (:func:`commit_files`). An error or interrupt before the renames leaves the old files.

    Args:
        writers: final path → function that writes the file to the path it is given (which keeps
            the final suffix, so ``savefig`` picks the format).

    Returns:
        the final paths, in order.
    """
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    finals = [Path(p) for p in writers]
    staged = [p.with_name(f".{p.stem}.{tag}.tmp{p.suffix}") for p in finals]
    try:
        for tmp, write in zip(staged, writers.values()):
            tmp.parent.mkdir(parents=True, exist_ok=True)
            write(tmp)
        commit_files(zip(staged, finals))
    finally:
        for tmp in staged:
            tmp.unlink(missing_ok=True)
    return finals


@contextmanager
def staged_folder(path: str | os.PathLike, *, keep: Iterable[str] = ()) -> Iterator[Path]:
    """Build a folder beside ``path`` and rename it into place when the block ends without error.

    Whatever the block writes into the yielded folder appears at ``path`` at once: an existing
    ``path`` is replaced whole (its entries named in ``keep``, e.g. ``checkpoints``, are moved into
    the new folder first). If the block raises (or is interrupted), the staging folder is removed
    and ``path`` is left as it was. Check the output first with :func:`check_output_folder`.

    Yields:
        the staging folder (a hidden sibling of ``path``).

    Raises:
        NotADirectoryError: ``path`` is a file.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(f"{p} is a file, not a folder")
    p.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = p.with_name(f".{p.name}.tmp-{tag}")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = p.with_name(f".{p.name}.old-{tag}")
    try:
        with signals_deferred():
            for name in keep:
                if (p / name).exists() and not (tmp / name).exists():
                    os.replace(p / name, tmp / name)
            if p.exists():
                os.replace(p, old)
                try:
                    os.replace(tmp, p)
                except OSError:
                    os.replace(old, p)  # put the old folder back
                    raise
            else:
                os.replace(tmp, p)
    finally:  # also when an interrupt held back during the renames is delivered
        shutil.rmtree(old, ignore_errors=True)
        if tmp.exists():  # the swap failed: kept entries go back to the old folder before cleaning up
            for name in keep:
                if (tmp / name).exists() and p.is_dir() and not (p / name).exists():
                    os.replace(tmp / name, p / name)
            shutil.rmtree(tmp, ignore_errors=True)
