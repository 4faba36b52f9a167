"""``xlt wordalign`` as a job: read sentence pairs, align them, write Pharaoh links, score, report;
``xlt wordalign eval`` as a job: score Pharaoh files against a gold one.

The extraction itself (SimAlign argmax/itermax/match, Jalili Sabet et al. 2020; awesome-align's
softmax, Dou & Neubig 2021) is :class:`xlt.align.words.WordAligner`; the scores (AER, Och & Ney
2003; precision, recall, F1) are :func:`xlt.evaluate.wordalign.alignment_scores`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from xlt.align.words import DEFAULT_LAYER, DTYPES, LEVELS, SOFTMAX_THRESHOLD, WordAligner, method_output_path
from xlt.align.words import parse_methods
from xlt.core.io import write_json as write_plain_json
from xlt.core.outputs import Output, OutputPlan
from xlt.data.wordalign import WORD_TOKENIZERS, read_pairs, read_pharaoh, write_pharaoh
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import write_json
from xlt.evaluate.wordalign import alignment_scores, evaluate_alignment_files
from xlt.jobs import ConfigError, check_layer_list
from xlt.jobs.parts_aligncmds import FileRunSettings, same_field
from xlt.jobs.settings import AT_LEAST_0, AT_LEAST_1, FRACTION, Settings, option
from xlt.models import loading
from xlt.models.words import DEFAULT_WORD_PIECES, WORD_PIECES

__all__ = ["WordalignEvalResult", "WordalignEvalSettings", "WordalignResult", "WordalignSettings", "run", "run_eval"]

_TOKENIZERS = tuple(sorted(WORD_TOKENIZERS))
_WORD_PIECES = tuple(WORD_PIECES)


@dataclass(kw_only=True)
class WordalignSettings(FileRunSettings):
    """Settings of ``xlt wordalign`` (with :class:`~xlt.jobs.parts_aligncmds.FileRunSettings`: model,
    out, overwrite, progress).

    Attributes:
        pairs: the sentence-pair file, one ``source ||| target`` pair per line (required).
        out: the output Pharaoh file (required); with several methods, see
            :func:`xlt.align.words.method_output_path`.
        methods: methods run from one encoder pass (``--method``: ``all`` or a list of
            :data:`xlt.align.words.METHODS`); canonical and without repeats after construction.
        layer: hidden-state index (0 = embeddings; default 8, as SimAlign).
        tokenizer: word tokeniser of the pairs (``space``: pre-tokenised; ``simple``: raw text).
        level, word_pieces, distortion, threshold, use_prefix, batch_size, dtype: the
            :class:`~xlt.align.words.WordAligner`'s settings (``threshold`` is its ``softmax_threshold``).
        gold, one_based: a gold Pharaoh file to score every method against, and whether it is 1-based.
        report: a JSON file for the result.

    Raises:
        ConfigError: no ``pairs`` or ``out``; an unknown method (the known ones are listed); any
        field's own check.
    """

    pairs: Path | None = option(None, help="input file: one 'source ||| target' pair per line (required)")
    out: Path | None = same_field(FileRunSettings, "out", help="output Pharaoh file; with several methods {method} "
                                  "in it is replaced, else the method goes before the suffix (required)")
    methods: list[str] = option(default_factory=lambda: ["argmax"], flag="--method", metavar="METHOD",
                                help="argmax, itermax, match, softmax, a comma-separated list or 'all' "
                                     "(one encoder pass)")
    layer: int = option(DEFAULT_LAYER, help="hidden state index (0 = embeddings; the default is SimAlign's)")
    tokenizer: Literal[_TOKENIZERS] = option("space", help="word tokeniser: space (pre-tokenised input) or "
                                                           "simple (raw text: punctuation split off)")
    level: Literal[LEVELS] = option("subword", help="similarities between subwords (SimAlign bpe) or mean-pooled "
                                                    "words")
    word_pieces: Literal[_WORD_PIECES] = option(
        DEFAULT_WORD_PIECES, help="which subword pieces are a word's units: first/mean (auto: every piece but a "
                                  "bare SentencePiece '▁' marker), xtreme/mean_all (every piece, as SimAlign), "
                                  "no_marker, text")
    distortion: float = option(0.0, help="SimAlign distortion ratio (0 = off)", check=AT_LEAST_0)
    threshold: float = option(SOFTMAX_THRESHOLD, help="softmax method threshold", check=FRACTION)
    use_prefix: bool = option(False, help="put the model's text prefix (E5: 'query: ') before each sentence "
                                          "(default: raw words)")
    batch_size: int = option(32, help="sentences per forward pass", check=AT_LEAST_1)
    dtype: Literal[DTYPES] = option("float32", help="encoder precision (bfloat16: much faster on CPUs with "
                                                    "AMX/AVX512-BF16)")
    gold: Path | None = option(None, help="gold Pharaoh file: print AER, precision, recall and F1 per method")
    one_based: bool = option(False, help="the --gold file is 1-based")
    report: Path | None = option(None, help="write the result (scores, counts, timings, config) as JSON here")

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            self.methods = list(parse_methods(self.methods))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        missing = [flag for flag, v in (("--pairs", self.pairs), ("--out", self.out)) if v is None]
        if missing:
            raise ConfigError(f"the following arguments are required: {', '.join(missing)}")


@dataclass
class WordalignResult:
    """What :func:`run` wrote and measured.

    Attributes:
        outputs: method -> the Pharaoh file written.
        scores: method -> AER, precision, recall, F1 (%) and counts (empty without ``gold``).
        counts: ``lines``, ``aligned``, ``skipped_empty``, ``skipped_lines`` of the pairs file.
        stats: the aligner's counts (cut pairs, words without subwords, ...).
        report: the full result (written to ``report`` when set).
    """

    outputs: dict[str, Path]
    scores: dict[str, dict]
    counts: dict[str, Any]
    stats: dict[str, Any]
    report: dict[str, Any]


def _check_inputs_and_outputs(settings: WordalignSettings) -> None:
    """The layer against the model (read without loading it) and the output rule, before any file is read.

    Raises:
        ConfigError: a layer the model does not have. OutputError, FileExistsError, IsADirectoryError:
        see :class:`~xlt.core.outputs.OutputPlan`.
    """
    check_layer_list(settings.model, str(settings.layer), "--layer")
    n = len(settings.methods)
    outputs = [Output("--out", method_output_path(settings.out, m, n), "file") for m in settings.methods]
    if settings.report is not None:
        outputs.append(Output("--report", settings.report, "file"))
    OutputPlan(inputs=[("--pairs", settings.pairs), ("--gold", settings.gold), ("--model", settings.model)],
               outputs=outputs, overwrite=settings.overwrite).check()


def _aligner(settings: WordalignSettings) -> WordAligner:
    encoder = settings.model
    if settings.encoder_options() != {"backend": "torch", "int8": False}:
        if settings.dtype != "float32":
            raise ConfigError(f"--dtype {settings.dtype} is for the torch fp32 encoder; leave it out with "
                              "--backend onnx / --int8")
        encoder = loading.load_encoder(settings.model, device="auto", **settings.encoder_options())
    return WordAligner(encoder, layer=settings.layer, methods=settings.methods, batch_size=settings.batch_size,
                       level=settings.level, distortion=settings.distortion, softmax_threshold=settings.threshold,
                       use_prefix=settings.use_prefix, dtype=settings.dtype, word_pieces=settings.word_pieces,
                       progress=settings.progress)


def run(settings: WordalignSettings, command: list[str] | None = None) -> WordalignResult:
    """Align ``settings.pairs``, write Pharaoh links per method (one line per input line, 0-based ``i-j``,
    an empty line for a skipped pair), score them against ``gold`` if given, write ``report`` if given.

    Returns:
        a :class:`WordalignResult`; its report dict has ``pairs``, ``outputs`` (method → path), ``scores``
        (method → AER/P/R/F1 %, if gold), ``counts``, ``stats``, ``seconds``, ``pairs_per_second``,
        ``config`` and (with ``report``) ``manifest``.

    Raises:
        ConfigError: a layer outside the model (before it loads).
        DataFormatError: a malformed pairs or gold line (file and line in the message), or a gold link
            outside its sentence pair.
        OutputError: an output is one of the inputs; FileExistsError: an output exists and
            ``overwrite`` is off; IsADirectoryError: an output is a folder.
    """
    _check_inputs_and_outputs(settings)
    data = read_pairs(settings.pairs, tokenizer=settings.tokenizer)
    gold = (read_pharaoh(settings.gold, one_based=settings.one_based, lengths=data.lengths)
            if settings.gold is not None else None)
    aligner = _aligner(settings)
    links = aligner.align_all(data.pairs)
    n = len(settings.methods)
    outputs = {m: write_pharaoh(method_output_path(settings.out, m, n), links[m]) for m in settings.methods}
    scores = ({m: alignment_scores(links[m], gold.sure, gold.possible) for m in settings.methods}
              if gold is not None else {})
    report = _report(settings, command, data, aligner, outputs, scores)
    if settings.report is not None:
        write_json(settings.report, report)
    return WordalignResult(outputs={m: Path(p) for m, p in outputs.items()}, scores=scores, counts=report["counts"],
                           stats=report["stats"], report=report)


def _report(settings: WordalignSettings, command: list[str] | None, data, aligner: WordAligner,
            outputs: dict, scores: dict) -> dict[str, Any]:
    """The result dict of :func:`run` (the ``--report`` file's content)."""
    stats = aligner.stats
    secs = stats["seconds"]
    n_aligned = data.n_lines - data.n_skipped_empty
    config = {"pairs": str(settings.pairs), "out": str(settings.out), "tokenizer": settings.tokenizer,
              "gold": None if settings.gold is None else str(settings.gold), "one_based": settings.one_based,
              **aligner.describe()}
    argv = command if command is not None else []
    report = {
        "command": argv, "command_line": shlex.join(argv) if argv else "",
        "task": "wordalign", "pairs": str(settings.pairs), "methods": list(settings.methods),
        "outputs": {m: str(p) for m, p in outputs.items()}, "scores": scores,
        "counts": {"lines": data.n_lines, "aligned": n_aligned, "skipped_empty": data.n_skipped_empty,
                   "skipped_lines": data.skipped_lines},
        "stats": {k: v for k, v in stats.items() if k != "seconds"},
        "seconds": secs,
        "pairs_per_second": n_aligned / secs["total"] if secs["total"] > 0 else float("nan"),
        "config": config,
    }
    if settings.report is not None:
        files = [settings.pairs] + ([settings.gold] if settings.gold is not None else [])
        model_info = config.pop("model")
        report["manifest"] = build_manifest(config, files, model_info, None)
        config["model"] = model_info
    return report


# --------------------------------------------------------------------------- xlt wordalign eval


@dataclass(kw_only=True)
class WordalignEvalSettings(Settings):
    """Settings of ``xlt wordalign eval``.

    Attributes:
        gold: the gold Pharaoh file (``i-j`` sure, ``ipj`` possible links; required).
        pred: the predicted Pharaoh files (at least one).
        one_based, pred_one_based: the gold / predicted files count words from 1.
        pairs: a ``source ||| target`` file: every link must lie inside its sentence pair.
        tokenizer: the word tokeniser of ``pairs``.
        report: a JSON file for the scores. overwrite: replace an existing ``report``.

    Raises:
        ConfigError: no ``gold`` or no ``pred``.
    """

    gold: Path | None = option(None, metavar="FILE", help="gold Pharaoh file (required)")
    pred: list[Path] = option(default_factory=list, nargs="+", metavar="FILE",
                              help="predicted Pharaoh file(s), 0-based (required)")
    one_based: bool = option(False, help="the gold file is 1-based")
    pred_one_based: bool = option(False, help="the predicted files are 1-based")
    pairs: Path | None = option(None, metavar="FILE",
                                help="'source ||| target' file: check that every link lies inside its sentence pair")
    tokenizer: Literal[_TOKENIZERS] = option("space", help="word tokeniser of --pairs")
    report: Path | None = option(None, metavar="FILE", help="write the scores as JSON here")
    overwrite: bool = option(False, help="replace an existing --report file")

    def __post_init__(self) -> None:
        super().__post_init__()
        missing = [flag for flag, v in (("--gold", self.gold), ("--pred", self.pred)) if not v]
        if missing:
            raise ConfigError(f"the following arguments are required: {', '.join(missing)}")


@dataclass
class WordalignEvalResult:
    """What :func:`run_eval` measured.

    Attributes:
        rows: ``(file name, scores)`` per predicted file, in order; scores: AER, precision, recall,
            F1 (%), counts, paths (:func:`xlt.evaluate.wordalign.evaluate_alignment_files`).
        report: ``{"command", "scores"}`` (scores by file name; written to ``report`` when set).
    """

    rows: list[tuple[str, dict]]
    report: dict[str, Any]


def run_eval(settings: WordalignEvalSettings, command: list[str] | None = None) -> WordalignEvalResult:
    """Score each predicted Pharaoh file against the gold file (AER, Och & Ney 2003; P, R, F1 in %).

    Raises:
        DataFormatError: a malformed link, a link outside its sentence pair, files of different line
            counts (file and line named). OutputError, FileExistsError: ``report`` breaks the output rule.
    """
    OutputPlan(inputs=[("--gold", settings.gold), ("--pred", settings.pred), ("--pairs", settings.pairs)],
               outputs=[Output("--report", settings.report, "file")], overwrite=settings.overwrite).check()
    rows = [(Path(f).name, evaluate_alignment_files(f, settings.gold, one_based=settings.one_based,
                                                    pred_one_based=settings.pred_one_based, pairs=settings.pairs,
                                                    tokenizer=settings.tokenizer))
            for f in settings.pred]
    report = {"command": command if command is not None else [], "scores": dict(rows)}
    if settings.report is not None:
        write_plain_json(settings.report, report)
    return WordalignEvalResult(rows=rows, report=report)
