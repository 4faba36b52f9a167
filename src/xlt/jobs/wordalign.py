"""``xlt wordalign`` as a job: read sentence pairs, align them, write Pharaoh links, score, report.

The extraction itself (SimAlign argmax/itermax/match, awesome-align softmax) is
:class:`xlt.align.words.WordAligner`; the scores (AER, precision, recall, F1) are
:func:`xlt.evaluate.wordalign.alignment_scores`.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xlt.align.words import DEFAULT_LAYER, WordAligner, method_output_path, parse_methods
from xlt.core.outputs import Output, OutputPlan
from xlt.data.wordalign import read_pairs, read_pharaoh, write_pharaoh
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import write_json
from xlt.evaluate.wordalign import alignment_scores
from xlt.models.loading import DEFAULT_MODEL, Encoder


def run_wordalign(pairs: str | Path, out: str | Path, model: Encoder | str | None = None,
                  methods: str | Iterable[str] = "argmax", layer: int | str = DEFAULT_LAYER,
                  tokenizer: str = "space", gold: str | Path | None = None, one_based: bool = False,
                  report: str | Path | None = None, command: list[str] | None = None,
                  overwrite: bool = False, **aligner_options: Any) -> dict[str, Any]:
    """Align a ``source ||| target`` file, write Pharaoh links per method, optionally score them.

    Args:
        pairs: the sentence-pair file (see :func:`xlt.data.wordalign.read_pairs`).
        out: output file (several methods: see :func:`xlt.align.words.method_output_path`); one line per input
            line, 0-based ``i-j`` links, an empty line for a skipped pair.
        model: an :class:`~xlt.models.loading.Encoder` or a model spec (default ``bundled:e5-small``).
        methods: methods to run from one encoder pass (``'all'``, ``'argmax,match'``, a list).
        layer: hidden-state index (default 8).
        tokenizer: ``'space'`` (pre-tokenised) or ``'simple'`` word tokeniser for the pairs.
        gold: optional gold Pharaoh file to score every method against (AER, P, R, F1).
        one_based: the gold file is 1-based.
        report: optional JSON file for the result dict.
        command: the command line, recorded in the report.
        overwrite: replace existing output files (never an input: checked before the model loads).
        **aligner_options: further :class:`~xlt.align.words.WordAligner` arguments (``batch_size``, ``level``,
            ``distortion``, ``softmax_threshold``, ``use_prefix``, ``device``, ``progress`` ...).

    Returns:
        ``{'pairs', 'outputs' (method → path), 'scores' (method → AER/P/R/F1 %, if gold),
        'counts', 'stats', 'seconds', 'pairs_per_second', 'config', 'manifest'}``.

    Raises:
        DataFormatError: a malformed pairs or gold line (file and line in the message), or a
            gold link outside its sentence pair.
        ValueError: unknown methods, a layer outside the model, bad options.
        OutputError: an output is one of the inputs; FileExistsError: an output exists and
            ``overwrite`` is off; IsADirectoryError: an output is a folder.
    """
    method_list = parse_methods(methods)
    outputs = [Output("--out", Path(method_output_path(out, m, len(method_list))), "file") for m in method_list]
    if report is not None:
        outputs.append(Output("--report", Path(report), "file"))
    OutputPlan(inputs=[("--pairs", pairs), ("--gold", gold), ("--model", model if isinstance(model, str) else None)],
               outputs=outputs, overwrite=overwrite).check()
    data = read_pairs(pairs, tokenizer=tokenizer)
    gold_links = read_pharaoh(gold, one_based=one_based, lengths=data.lengths) if gold is not None else None
    aligner = WordAligner(model if model is not None else DEFAULT_MODEL, layer=layer, methods=method_list,
                          **aligner_options)
    links = aligner.align_all(data.pairs)
    outputs = {}
    for m in method_list:
        outputs[m] = str(write_pharaoh(method_output_path(out, m, len(method_list)), links[m]))
    scores = {}
    if gold_links is not None:
        for m in method_list:
            scores[m] = alignment_scores(links[m], gold_links.sure, gold_links.possible)
    stats = aligner.stats
    secs = stats["seconds"]
    n_aligned = data.n_lines - data.n_skipped_empty
    config = {"pairs": str(pairs), "out": str(out), "tokenizer": tokenizer,
              "gold": None if gold is None else str(gold), "one_based": one_based, **aligner.describe()}
    argv = command if command is not None else []
    result = {
        "command": argv, "command_line": shlex.join(argv) if argv else "",
        "task": "wordalign", "pairs": str(pairs), "methods": list(method_list), "outputs": outputs,
        "scores": scores,
        "counts": {"lines": data.n_lines, "aligned": n_aligned, "skipped_empty": data.n_skipped_empty,
                   "skipped_lines": data.skipped_lines},
        "stats": {k: v for k, v in stats.items() if k != "seconds"},
        "seconds": secs,
        "pairs_per_second": n_aligned / secs["total"] if secs["total"] > 0 else float("nan"),
        "config": config,
    }
    if report is not None:
        files = [pairs] + ([gold] if gold is not None else [])
        model_info = config.pop("model")
        result["manifest"] = build_manifest(config, files, model_info, None)
        config["model"] = model_info
        write_json(report, result)
    return result


__all__ = ["run_wordalign"]
