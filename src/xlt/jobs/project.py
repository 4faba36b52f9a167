"""``xlt project`` as a job: BIO label projection through word alignments (Yarowsky, Ngai &
Wicentowski 2001, "Inducing Multilingual Text Analysis Tools via Robust Projection across Aligned
Corpora").

File mode (:class:`ProjectSettings`, :func:`run`): each BIO span of a tagged source sentence goes
to the contiguous target range from the first to the last target word linked to it; spans with no
link are unprojectable, overlapping projections are resolved in favour of the span with more
links (:func:`xlt.align.projection.project_files`). The target side is written as XTREME
``token<TAB>TAG`` lines plus a JSON statistics file.

The silver-data mode (``--silver ntrex``) is :mod:`xlt.jobs.silver`; :class:`ProjectCommand`
holds the options of both modes, as the command line offers them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

from xlt.align.projection import project_files
from xlt.core.outputs import Output, OutputPlan
from xlt.data.wordalign import WORD_TOKENIZERS
from xlt.jobs import ConfigError
from xlt.jobs.parts import ProjectionSettings
from xlt.jobs.settings import Settings, option
from xlt.jobs.silver import SilverSettings

__all__ = ["FILE_OPTIONS", "FilePart", "ProjectCommand", "SILVER_OPTIONS", "ProjectSettings", "ProjectionResult", "run"]

TOKENIZER_NAMES = tuple(sorted(WORD_TOKENIZERS))


@dataclass(kw_only=True)
class FilePart(Settings):
    """File mode: a tagged source file, its translations and their word alignments.

    Attributes:
        src_tags: source sentences, XTREME ``token<TAB>TAG`` lines (BIO), a blank line between
            sentences.
        tgt: target sentences: tokenised text (one per line) or a ``source ||| target`` file.
        align: Pharaoh links (``i-j``), one line per sentence pair, 0-based unless ``one_based``.
        stats: the statistics file (default: ``out`` with ``.stats.json``).
        one_based: the ``align`` file counts words from 1.
        tgt_format: ``auto`` (a pairs file when the first line contains ``|||``), ``text``, ``pairs``.
        tokenizer: word tokeniser of ``tgt``: the one the alignments were made with.
        use_possible: also use ``ipj`` possible links (default: sure links only).
    """

    src_tags: Path | None = option(None, metavar="FILE.tsv",
                                   help="source sentences, XTREME 'token<TAB>TAG' lines (BIO), blank line between "
                                        "sentences")
    tgt: Path | None = option(None, metavar="FILE",
                              help="target sentences: tokenised text (one per line) or a 'source ||| target' file")
    align: Path | None = option(None, metavar="FILE",
                                help="Pharaoh links (i-j), one line per sentence pair, 0-based unless --one-based")
    stats: Path | None = option(None, metavar="FILE.json", help="statistics file (default: --out with .stats.json)")
    one_based: bool = option(False, help="the --align file counts words from 1")
    tgt_format: Literal["auto", "text", "pairs"] = option("auto", help="auto: a pairs file when the first line "
                                                                       "contains '|||'")
    tokenizer: Literal[TOKENIZER_NAMES] = option("space", help="word tokeniser of --tgt; use the one the alignments "
                                                               "were made with")
    use_possible: bool = option(False, help="also use 'ipj' possible links (default: sure only)")


#: The inputs of the file mode.
FILE_INPUTS = ("src_tags", "tgt", "align")
#: The options of the file mode alone.
FILE_OPTIONS = tuple(f.name for f in fields(FilePart))
#: The options of the silver-data mode alone (``--no-progress`` and the projection options go with both).
SILVER_OPTIONS = tuple(n for n in SilverSettings.__dataclass_fields__
                       if n not in ProjectionSettings.__dataclass_fields__ and n not in ("out", "overwrite", "progress",
                                                                                         "parallel"))


@dataclass(kw_only=True)
class ProjectSettings(FilePart, ProjectionSettings):
    """Settings of one file-mode projection (:class:`FilePart` and
    :class:`~xlt.jobs.parts.ProjectionSettings`), and:

    Attributes:
        out: the tagged target side (XTREME tsv).
        overwrite: replace an existing ``out`` (never an input).

    Raises:
        ConfigError: an input or ``out`` missing, or a value outside its constraint.
    """

    out: Path | None = option(None, metavar="FILE.tsv", help="the tagged target side (required)")
    overwrite: bool = option(False, help="replace an existing --out (never an input)")

    def __post_init__(self) -> None:
        super().__post_init__()
        missing = ["--" + n.replace("_", "-") for n in FILE_INPUTS if getattr(self, n) is None]
        if missing:
            raise ConfigError(f"give {', '.join(missing)} (or --silver ntrex to build silver data)")
        if self.out is None:
            raise ConfigError("--out is required (the tagged target file)")


@dataclass(kw_only=True)
class ProjectCommand(SilverSettings, FilePart):
    """The options of ``xlt project``, both modes: :class:`FilePart` and
    :class:`~xlt.jobs.silver.SilverSettings` (``parallel``, ``--silver``, chooses the silver-data
    mode). :meth:`file_settings` and :meth:`silver_settings` give each mode's own settings."""

    parallel: Literal["ntrex"] | None = option(None, flag="--silver",
                                               help="build silver NER data from this parallel corpus, train on it and "
                                                    "compare with zero-shot (not with the file options)")
    out: Path | None = option(None, metavar="FILE.tsv|DIR",
                              help="output: the tagged target side (with --silver: the report folder) (required)")
    overwrite: bool = option(False, help="replace an existing --out (file, or report folder with --silver; never an "
                                         "input)")

    def _values(self, cls) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(cls)}

    def file_settings(self) -> ProjectSettings:
        """The file-mode settings (the silver options are left out).

        Raises:
            ConfigError: an input or ``out`` missing."""
        return ProjectSettings(**self._values(ProjectSettings))

    def silver_settings(self) -> SilverSettings:
        """The silver-data settings (the file options are left out)."""
        return SilverSettings(**self._values(SilverSettings))


@dataclass
class ProjectionResult:
    """What :func:`run` projected.

    Attributes:
        sentences: ``read``, ``written``, ``empty_target``, ``dropped_partial``, ``dropped_no_entity``, ...
        spans: :meth:`~xlt.align.projection.ProjectionStats.to_dict` over the projected pairs.
        report: the statistics (written to ``stats``).
        out: the tagged target file.
    """

    sentences: dict
    spans: dict
    report: dict
    out: Path


def run(settings: ProjectSettings, command: list[str] | None = None) -> ProjectionResult:
    """Project the BIO spans of ``src_tags`` onto ``tgt`` through the ``align`` links; write the target
    side to ``out`` and the statistics to ``stats``.

    Raises:
        OutputError / FileExistsError: an output that is an input, or exists without ``overwrite``;
        DataFormatError: a malformed line, a tag that is not BIO, different sentence counts, a link
            outside its pair (:func:`xlt.align.projection.project_files`).
    """
    s = settings
    OutputPlan(inputs=[("--" + n.replace("_", "-"), getattr(s, n)) for n in FILE_INPUTS],
               outputs=[Output("--out", s.out, "file"), Output("--stats", s.stats, "file")],
               overwrite=s.overwrite).check()
    rep = project_files(s.src_tags, s.tgt, s.align, s.out, stats_path=s.stats, command=command,
                        one_based=s.one_based, tgt_format=s.tgt_format, tokenizer=s.tokenizer, max_gap=s.max_gap,
                        use_possible=s.use_possible, drop_partial=s.drop_partial, keep_empty=s.keep_empty)
    return ProjectionResult(sentences=rep["sentences"], spans=rep["spans"], report=rep, out=Path(s.out))
