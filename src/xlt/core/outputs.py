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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlt.core.errors import XltError

__all__ = ["Output", "OutputError", "OutputPlan", "check_output_file", "check_output_folder", "commit_files",
           "input_paths", "path_identity", "path_relation", "signals_deferred", "staged_folder", "staged_folders",
           "write_together"]


class OutputError(XltError, ValueError):
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
    _refuse_inputs(option, p, inputs)
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
    _refuse_inputs(option, p, inputs)
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


class _Stage:
    """One folder being built for :func:`staged_folders`: where it is built and how it is published.

    A folder is built in a hidden sibling and swapped in with two renames. A mount point (a mounted
    volume given as ``--out``) cannot be renamed, so its new content is built inside it and its
    entries are moved one by one. Every rename is journalled so that a failed publication can be
    undone.
    """

    def __init__(self, final: Path, keep: Iterable[str], tag: str) -> None:
        self.final = final
        self.keep = tuple(keep)
        self.in_place = final.is_dir() and os.path.ismount(final)
        if self.in_place:
            self.tmp, self.old = final / f".xlt-new-{tag}", final / f".xlt-old-{tag}"
        else:
            self.tmp, self.old = final.with_name(f".{final.name}.tmp-{tag}"), final.with_name(f".{final.name}.old-{tag}")
        self.journal: list[tuple[Path, Path]] = []

    def _move(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)
        self.journal.append((src, dst))

    def publish(self) -> None:
        """Put the built folder in place of ``final`` (its ``keep`` entries carried over)."""
        if self.in_place:
            self.old.mkdir()
            new_names = {e.name for e in self.tmp.iterdir()}
            for e in sorted(self.final.iterdir()):
                if e.name in (self.tmp.name, self.old.name) or (e.name in self.keep and e.name not in new_names):
                    continue
                self._move(e, self.old / e.name)
            for e in sorted(self.tmp.iterdir()):
                self._move(e, self.final / e.name)
            return
        for name in self.keep:
            if (self.final / name).exists() and not (self.tmp / name).exists():
                self._move(self.final / name, self.tmp / name)
        if self.final.exists():
            self._move(self.final, self.old)
        self._move(self.tmp, self.final)

    def undo(self) -> None:
        """Reverse the renames made so far (a later folder of the same publication failed)."""
        while self.journal:
            src, dst = self.journal.pop()
            os.replace(dst, src)

    def clean(self) -> None:
        """Remove what is left of the old folder (and an empty building folder)."""
        shutil.rmtree(self.old, ignore_errors=True)
        if self.in_place:
            shutil.rmtree(self.tmp, ignore_errors=True)


@contextmanager
def staged_folders(paths: Iterable[str | os.PathLike], *,
                   keep: Iterable[Iterable[str]] | None = None) -> Iterator[list[Path]]:
    """Build several folders (a report and the model it describes) and publish them together.

    Whatever the block writes into the yielded folders appears at their final paths in one step
    with signals held back (:func:`signals_deferred`): an interrupt leaves every folder as it was
    or every folder new, never a new report beside an old model. An existing folder is replaced
    whole (its entries named in ``keep``, e.g. ``checkpoints``, carried into the new one). A folder
    that is a mount point is filled in place, entry by entry (a mount point cannot be renamed).
    If the block raises, the building folders are removed and nothing changes. If publishing
    fails, the renames already made are undone and the finished folders are kept where they were
    built (the error names them): results are never lost to a rename. Check the outputs first
    (:class:`OutputPlan`).

    Args:
        paths: the final folders.
        keep: per folder, entry names to carry over (default: none).

    Yields:
        the building folders, in the order of ``paths``.

    Raises:
        NotADirectoryError: a path is a file.
        OutputError: the finished folders could not be moved into place (the message says where
            they are).
    """
    finals = [Path(p) for p in paths]
    keeps = list(keep) if keep is not None else [()] * len(finals)
    for p in finals:
        if p.exists() and not p.is_dir():
            raise NotADirectoryError(f"{p} is a file, not a folder")
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stages = []
    try:
        for p, k in zip(finals, keeps):
            p.parent.mkdir(parents=True, exist_ok=True)
            stage = _Stage(p, k, tag)
            stage.tmp.mkdir()
            stages.append(stage)
        yield [s.tmp for s in stages]
    except BaseException:
        for s in stages:
            shutil.rmtree(s.tmp, ignore_errors=True)
        raise
    done: list[_Stage] = []
    published = False
    try:
        with signals_deferred():
            try:
                for s in stages:
                    done.append(s)
                    s.publish()
                published = True
            except OSError as exc:
                for s in reversed(done):
                    s.undo()
                where = ", ".join(str(s.tmp) for s in stages)
                raise OutputError(f"could not move the finished output into {done[-1].final} ({exc}); nothing was "
                                  f"replaced, and the complete results are kept in {where}") from exc
    finally:  # also when an interrupt held back during the renames is delivered
        for s in stages:
            if published:
                s.clean()
            elif s.old.is_dir() and not any(s.old.iterdir()):
                s.old.rmdir()


@contextmanager
def staged_folder(path: str | os.PathLike, *, keep: Iterable[str] = ()) -> Iterator[Path]:
    """Build a folder beside ``path`` and rename it into place when the block ends without error.

    Whatever the block writes into the yielded folder appears at ``path`` at once: an existing
    ``path`` is replaced whole (its entries named in ``keep``, e.g. ``checkpoints``, are moved into
    the new folder first). If the block raises (or is interrupted), the staging folder is removed
    and ``path`` is left as it was. One folder of :func:`staged_folders` (which see for mount
    points and failed renames). Check the output first with :class:`OutputPlan`.

    Yields:
        the staging folder (a hidden sibling of ``path``, or inside it for a mount point).

    Raises:
        NotADirectoryError: ``path`` is a file.
        OutputError: the finished folder could not be moved into place (it is kept; the message
            says where).
    """
    with staged_folders([path], keep=[keep]) as (tmp,):
        yield tmp

# --------------------------------------------------------------------------- the output plan
# A path's identity: the (device, inode) pairs of its real path's existing folders from the root
# down, then the names of the parts that do not exist yet (case-folded where the folder that holds
# them ignores case). Two spellings of one place (``./x``, ``a/../x``, a symlink, ``X`` on a
# case-insensitive file system, a bind mount) get the same identity; a prefix is a containing folder.
_Node = tuple


def _case_insensitive(folder: Path) -> bool:
    """Whether names inside the existing ``folder`` ignore case (probed with an entry of it, or with
    the folder's own name; False when neither has a cased letter)."""
    def same_swapped(p: Path) -> bool | None:
        swapped = p.name.swapcase()
        if swapped == p.name:
            return None
        try:
            return os.path.samefile(p, p.with_name(swapped))
        except OSError:
            return False

    try:
        with os.scandir(folder) as entries:
            for i, entry in enumerate(entries):
                found = same_swapped(Path(entry.path))
                if found is not None:
                    return found
                if i > 50:
                    break
    except OSError:
        pass
    return bool(same_swapped(folder)) if folder.parent != folder else False


def path_identity(path: str | os.PathLike) -> tuple[_Node, ...]:
    """The identity of ``path`` on this machine, for comparing outputs with inputs and each other.

    Args:
        path: any spelling of a file or folder, existing or not (relative paths are taken from
            the working directory).

    Returns:
        ``((dev, ino), ..., ('name', part), ...)``: one ``(st_dev, st_ino)`` pair per existing folder
        (and the path itself, if it exists) of its real path, root first, then the names of the
        parts that do not exist yet. ``a`` lies inside ``b`` exactly when ``path_identity(b)`` is a
        prefix of ``path_identity(a)``.
    """
    real = Path(os.path.realpath(os.path.abspath(os.fspath(path))))
    tail: list[str] = []
    existing = real
    while True:
        try:
            os.stat(existing)
            break
        except OSError:
            if existing.parent == existing:
                break
            tail.append(existing.name)
            existing = existing.parent
    nodes: list[_Node] = []
    for p in reversed([existing, *existing.parents]):
        try:
            st = os.stat(p)
            nodes.append((st.st_dev, st.st_ino))
        except OSError:  # unreadable on the way up: fall back on the name
            nodes.append(("name", str(p)))
    if tail:
        fold = _case_insensitive(existing)
        nodes += [("name", n.casefold() if fold else n) for n in reversed(tail)]
    return tuple(nodes)


def path_relation(a: str | os.PathLike, b: str | os.PathLike) -> str | None:
    """How the places ``a`` and ``b`` relate: ``'same'``, ``'inside'`` (``a`` lies inside the folder
    ``b``), ``'contains'`` (``a`` is a folder holding ``b``) or None (apart). Symlinks, ``.``/``..``,
    hard links to one file and case variants on case-insensitive file systems are seen through."""
    return _relation(a, path_identity(a), b, path_identity(b))


def _relation(a: str | os.PathLike, ia: tuple, b: str | os.PathLike, ib: tuple) -> str | None:
    """:func:`path_relation` of two paths whose identities (:func:`path_identity`) are known."""
    if ia == ib or _same_file(Path(a), Path(b)):
        return "same"
    if len(ia) > len(ib) and ia[:len(ib)] == ib:
        return "inside"
    if len(ib) > len(ia) and ib[:len(ia)] == ia:
        return "contains"
    return None


def _input_conflict(option: str, out: str | os.PathLike, source: str | None, inp: Path, rel: str | None) -> str | None:
    """The message for an output ``out`` (of ``option``) standing in relation ``rel`` to an input
    ``inp`` (of the option ``source``, if known); None when they are apart."""
    what = f"{source} {inp}" if source else str(inp)
    if rel == "same":
        return f"{option} {out} is also an input ({what}); xlt never writes over its inputs, even with --overwrite"
    if rel == "contains":
        return f"{option} {out} contains the input {what}; replacing the folder would delete it"
    if rel == "inside":
        return f"{option} {out} lies inside the input {what}; xlt writes nothing into its inputs"
    return None


def _refuse_inputs(option: str, path: Path, inputs: Iterable[str | os.PathLike]) -> None:
    """Raise :class:`OutputError` when the output ``path`` equals, contains or lies inside an input."""
    for i in input_paths(list(inputs)):
        message = _input_conflict(option, path, None, i, path_relation(path, i))
        if message:
            raise OutputError(message)


def input_paths(value: Any) -> list[Path]:
    """The existing files and folders named by an input setting, for the output plan.

    ``value`` may be a path, a string, ``LANG=PATH`` (the part after ``=`` unless the whole string
    names a file), a list or tuple of these, or a dict (its values). Strings that name nothing on
    disk (``bundled:e5-small``, a Hugging Face id, ``ntrex``, ``hf:NAME``) are left out: a run
    cannot harm what is not there.
    """
    if value is None:
        return []
    if isinstance(value, dict):
        return [p for v in value.values() for p in input_paths(v)]
    if isinstance(value, (list, tuple, set)):
        return [p for v in value for p in input_paths(v)]
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if text in ("", "-"):
        return []
    candidates = [text]
    if "=" in text and not os.path.lexists(text):
        candidates.append(text.split("=", 1)[1])
    return [Path(c) for c in candidates if os.path.lexists(c)][:1]


@dataclass(frozen=True)
class Output:
    """One output of a run, as declared in its :class:`OutputPlan`.

    Attributes:
        option: the option that names it (``--out``), for messages.
        path: where it goes (None or ``""``: not asked for; ``-``: standard output).
        kind: ``'file'``; ``'folder'`` (written whole: an existing non-empty one is replaced only
            with ``overwrite``); or ``'store'`` (a folder the run adds to and reads back: a feature
            cache, checkpoints, a work folder; kept as it is).
        allow: entries a ``'folder'`` may already hold without ``overwrite`` (``checkpoints``).
        overwrite: this output's own ``--overwrite`` (None: the plan's).
    """

    option: str
    path: str | os.PathLike | None
    kind: str = "folder"
    allow: tuple[str, ...] = ()
    overwrite: bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("file", "folder", "store"):
            raise ValueError(f"Output.kind must be 'file', 'folder' or 'store', got {self.kind!r}")


@dataclass
class OutputPlan:
    """Every input and output of one run, checked together before any work (xlt's output rule).

    The rule: no output may equal, contain or lie inside an input, and no two outputs may equal or
    contain each other, whatever ``overwrite`` says and however the paths are spelled (symlinks,
    ``./``, ``..``, case variants on case-insensitive file systems: :func:`path_relation`). Then
    each output gets its own checks (:func:`check_output_file`, :func:`check_output_folder`).

    Attributes:
        inputs: ``(option, value)`` pairs; a value is anything :func:`input_paths` reads (a path,
            ``LANG=PATH``, a list or dict of them, a model id that names no folder).
        outputs: the run's :class:`Output` values (``None`` paths are left out).
        overwrite: the run's ``--overwrite``.

    Example::

        OutputPlan(inputs=[("--model", "models/enc"), ("--train", ["en=train.conll"])],
                   outputs=[Output("--out", Path("runs/r")), Output("--save", Path("models/ner"))],
                   overwrite=False).check()
    """

    inputs: list[tuple[str, Any]] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    overwrite: bool = False

    def conflicts(self) -> list[str]:
        """Every way the plan breaks the output rule, as messages (empty: none)."""
        found: list[str] = []
        outs = [o for o in self.outputs if o.path and str(o.path) != "-"]
        ins = [(opt, p) for opt, value in self.inputs for p in input_paths(value)]
        out_ids = [path_identity(o.path) for o in outs]  # each path's identity once, not once per pair
        in_ids = [path_identity(p) for _, p in ins]
        for o, io in zip(outs, out_ids):
            for (opt, p), ip in zip(ins, in_ids):
                message = _input_conflict(o.option, o.path, opt, p, _relation(o.path, io, p, ip))
                if message:
                    found.append(message)
        for i, (a, ia) in enumerate(zip(outs, out_ids)):
            for b, ib in zip(outs[i + 1:], out_ids[i + 1:]):
                rel = _relation(a.path, ia, b.path, ib)
                if rel == "same":
                    found.append(f"{a.option} {a.path} and {b.option} {b.path} are the same place; give each "
                                 "output its own")
                elif rel in ("contains", "inside"):
                    outer, inner = (a, b) if rel == "contains" else (b, a)
                    found.append(f"{outer.option} {outer.path} contains {inner.option} {inner.path}; writing one "
                                 "would replace or mix with the other: give them separate places")
        return found

    def check(self) -> None:
        """Refuse a plan that breaks the output rule, then check each output, before any work.

        Raises:
            OutputError: an output equals, contains or lies inside an input, or two outputs equal
                or contain each other (the message names both paths); an output whose folder is
                not writable.
            FileExistsError: an existing file or non-empty folder without ``overwrite``.
            IsADirectoryError: a folder where an output file is asked for.
            NotADirectoryError: a file where an output folder (or a folder on the way) is asked for.
        """
        found = self.conflicts()
        if found:
            raise OutputError(found[0])
        for o in self.outputs:
            if not o.path or str(o.path) == "-":
                continue
            overwrite = self.overwrite if o.overwrite is None else o.overwrite
            if o.kind == "file":
                check_output_file(o.path, overwrite=overwrite, option=o.option)
            elif o.kind == "folder":
                check_output_folder(o.path, overwrite=overwrite, option=o.option, allow=o.allow)
            else:
                p = Path(o.path)
                if p.exists() and not p.is_dir():
                    raise NotADirectoryError(f"{o.option} {p} is a file, not a folder")
                _check_parent(p, o.option)
