"""``xlt predict`` as a job: apply saved task models (``xlt transfer --save``) to new text in any language.

The input is read by :func:`xlt.data.formats.read_inputs` (formats ``text``, ``tokens``, ``conll``,
``jsonl``, ``csv``, ``tsv``; see :mod:`xlt.data.formats.inputs`) before any model loads. Several
``model`` folders (e.g. the ``seed-N/`` folders of ``xlt transfer --seeds 3 --save-which all``)
predict as one ensemble: the mean of the models' label probabilities
(:func:`xlt.transfer.ensemble.ensemble_proba`; what ``xlt transfer --seed-ensemble`` scores). They
must be models of one task kind. Token models decode word probabilities into tags with
``decoding`` (default: the model's saved setting; ``bio``: Viterbi under the BIO constraints).

Output, by ``format``: ``jsonl`` (the input plus ``labels`` and the probability of each chosen
label, or ``label``, its probability ``score`` and every label's probability ``scores``; the other
columns of csv/tsv rows are carried along) or ``conll`` (``word<TAB>label`` lines and a blank
line per sentence; ``label<TAB>text`` lines for classification).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tqdm.auto import tqdm

from xlt.adapt.translit import romanize, romanize_examples
from xlt.core.outputs import Output, OutputPlan
from xlt.data.formats import INPUT_FORMATS, Inputs, input_format, read_inputs
from xlt.data.kinds import PAIR, TOKEN, TaskKind, get_kind
from xlt.evaluate.report import write_text
from xlt.jobs import ConfigError
from xlt.jobs.settings import AT_LEAST_1, Settings, option
from xlt.transfer.decoding import DECODINGS
from xlt.transfer.ensemble import ensemble_labels, ensemble_proba

__all__ = ["OUTPUT_FORMATS", "PredictResult", "PredictSettings", "check_models", "format_rows", "predict_rows",
           "prediction_rows", "run"]

#: The ``--format`` choices: what the output file holds.
OUTPUT_FORMATS = ("jsonl", "conll")
STDOUT = "-"


@dataclass(kw_only=True)
class PredictSettings(Settings):
    """Settings of one ``xlt predict`` run.

    Attributes:
        model: task model folders written by ``xlt transfer --save``; several: an ensemble.
        input: the input file, or ``-`` for standard input.
        out: the output file, or ``-`` (standard output: :func:`run` returns the text, the command
            prints it); None (Python API): nothing written.
        lang: the input's language (word splitting of CJK/Thai text; aligner maps; romanisation).
        input_format: ``auto`` (from the extension) or one of :data:`~xlt.data.formats.INPUT_FORMATS`.
        text_column: csv/tsv input: the text column(s) (two for pair models).
        format: the output format (:data:`OUTPUT_FORMATS`).
        romanize: predict from the uroman romanisation of the input (the output keeps the words).
        language_adapter: a MAD-X language adapter folder for a model trained with language adapters.
        decoding: token models: ``bio`` or ``argmax`` (None: the model's saved setting).
        batch: inputs per batch (bounds memory).
        overwrite: replace an existing ``out`` file. progress: show a progress bar.

    Raises:
        ConfigError: ``model`` or ``input`` missing; ``text_column`` with an input that is no
        table; any field's own check.
    """

    model: list[str] = option(default_factory=list, metavar="DIR",
                              help="folder written by 'xlt transfer --save'; repeated: an ensemble (mean of the "
                                   "models' label probabilities), e.g. the seed-N folders of --save-which all")
    input: str | None = option(None, metavar="FILE", help="input file, or - for standard input")
    out: str | None = option(None, metavar="FILE", help="output file, or - for standard output")
    lang: str | None = option(None, help="language of the input (word splitting of CJK/Thai text; aligner maps)")
    input_format: Literal[INPUT_FORMATS] = option(
        "auto", help="auto: jsonl for .jsonl, csv for .csv, conll for .conll/.conllu/.tsv, else text "
                     "(tsv: a table with a header)")
    text_column: list[str] = option(default_factory=list,
                                    help="csv/tsv input: the text column(s), e.g. review or premise,hypothesis")
    format: Literal[OUTPUT_FORMATS] = option("jsonl", help="output format")
    romanize: bool = option(False, help="predict from the uroman romanisation of the input (for a model trained or "
                                        "aligned on Latin script: 'xlt transfer --romanize', 'xlt adapt translit'); "
                                        "the output keeps the original words")
    language_adapter: Path | None = option(None, metavar="DIR",
                                           help="a model trained with MAD-X language adapters ('xlt transfer "
                                                "--language-adapters'): the input language's adapter ('xlt adapt mlm "
                                                "--language-adapter') in place of the source's")
    decoding: Literal[DECODINGS] | None = option(None, help="token tasks: how word probabilities become tags "
                                                            "(default: the model's saved setting; bio: Viterbi under "
                                                            "the BIO constraints, for BIO labels; argmax: each word's "
                                                            "most probable label)")
    batch: int = option(1000, help="inputs per batch (bounds memory)", check=AT_LEAST_1)
    overwrite: bool = option(False, help="replace an existing --out file")
    progress: bool = option(True, help="show a progress bar", negative_help="no progress bar")

    def __post_init__(self) -> None:
        super().__post_init__()
        missing = [flag for flag, value in (("--model", self.model), ("--input", self.input)) if not value]
        if missing:
            raise ConfigError(f"the following settings are required: {', '.join(missing)}")
        if self.text_column and input_format(self.input, self.input_format) not in ("csv", "tsv"):
            raise ConfigError("--text-column is for csv/tsv input")


@dataclass
class PredictResult:
    """What :func:`run` predicted.

    Attributes:
        rows: one output row per input (the JSONL records; an empty input gets an empty row).
        text: the output file's text (``format``).
        labels: the label inventory (the ensemble's union, first model's order first).
        kind: the task kind (``token``, ``sequence``, ``pair``).
        mode: the first model's mode (``probe``, ``finetune``).
        models: the model folders used (a folder given twice counts once).
        n_inputs: non-empty inputs predicted. n_empty: empty inputs kept as empty rows.
        n_words: words tagged (token models; else None).
        unit: what one input is (``line``, ``sentence``, ``row``).
        truncated: 0-based indices of inputs longer than a model takes (cut).
        warnings: messages about the input (e.g. nothing to predict), for the command to show.
        seconds: time spent predicting and writing.
        out: the output file (None: not written; ``-``: left to the caller).
    """

    rows: list[dict]
    text: str
    labels: list[str]
    kind: str
    mode: str
    models: list[str]
    n_inputs: int
    n_empty: int
    n_words: int | None
    unit: str
    truncated: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    out: str | None = None


def check_models(settings: PredictSettings) -> tuple[list[str], list[dict], TaskKind]:
    """Check the input path, the outputs and the model folders before anything loads.

    Returns:
        ``(paths, metas, kind)``: the model folders (duplicates dropped), their ``xlt_task.json``
        contents and the task kind they share.

    Raises:
        FileNotFoundError / IsADirectoryError: a missing ``input`` or a folder. OutputError: an
        output that is an input or exists without ``overwrite``. TaskModelError: a folder that
        holds no task model. ConfigError: models of different task kinds.
    """
    from xlt.transfer.model import read_meta  # lazy: heavy import

    if settings.input != "-":
        src = Path(settings.input)
        if not src.exists():
            raise FileNotFoundError(f"--input {src} does not exist")
        if src.is_dir():
            raise IsADirectoryError(f"--input {src} is a folder; give a file (or - for standard input)")
    adapter = str(settings.language_adapter) if settings.language_adapter else None
    OutputPlan(inputs=[("--input", settings.input), ("--model", settings.model), ("--language-adapter", adapter)],
               outputs=[Output("--out", settings.out, "file")] if settings.out else [],
               overwrite=settings.overwrite).check()
    paths = list(dict.fromkeys(settings.model))  # a folder given twice is one member, not a double weight
    metas = [read_meta(Path(m)) for m in paths]  # a wrong folder fails before anything loads
    kind = metas[0]["kind"]
    other = [m for m, mt in zip(paths, metas) if mt["kind"] != kind]
    if other:
        raise ConfigError(f"--model: an ensemble needs models of one task kind; {paths[0]} is a {kind} "
                          f"model, {other[0]} a {metas[paths.index(other[0])]['kind']} one")
    return paths, metas, get_kind(kind)


def _empty_input_warning(settings: PredictSettings, inputs: Inputs, kind: TaskKind) -> list[str]:
    """The warning for an input with nothing to predict (said, not left to an empty output file)."""
    items = inputs.items
    if not all(x is None for x in items):
        return []
    name = "standard input" if settings.input == "-" else f"--input {settings.input}"
    found = (f", only {len(items)} empty {inputs.unit}{'s' if len(items) > 1 else ''}: the output is {len(items)} "
             "empty predictions" if items else ": the output is empty")
    return [f"{name} has no {'sentences' if kind is TOKEN else 'texts'}{found}"]


def _load_models(settings: PredictSettings, paths: list[str], metas: list[dict]) -> list:
    """The task models, with the input language's MAD-X adapter when one is given (checked against
    every model first); uroman is checked before anything loads when ``romanize``.

    Raises:
        TranslitError: ``romanize`` without uroman. ConfigError: a language adapter for models
        trained without language adapters, or of another size. TaskModelError, ModelLoadError.
    """
    from xlt.transfer.model import TaskModel  # lazy: heavy import

    if settings.romanize:
        romanize([])  # uroman missing: the error comes before the model loads
    lang_adapter = None
    if settings.language_adapter:
        from xlt.adapt.peft import read_language_adapter  # torch: only when asked for

        lang_adapter, lmeta = read_language_adapter(str(settings.language_adapter))
        for path, mt in zip(paths, metas):
            size = (mt.get("adapters") or {}).get("language")
            if size is None:
                raise ConfigError(f"--language-adapter: {path} was trained without language adapters")
            if int(lmeta["size"]) != int(size):
                raise ConfigError(f"--language-adapter {settings.language_adapter} has size {lmeta['size']}, the "
                                  f"language adapters of {path} {size}")
    models = [TaskModel.from_pretrained(m, device="auto") for m in paths]
    if lang_adapter is not None:
        from xlt.adapt.peft import load_language_adapter  # lazy: heavy import

        for model in models:
            load_language_adapter(model.model, lang_adapter)
    return models


def prediction_rows(kind: TaskKind, labels: list[str], inputs: list, preds: list, probas: list) -> list[dict]:
    """JSONL records of predictions: token models ``{"tokens", "labels", "scores"}`` (a word's
    score is its chosen label's probability: Viterbi decoding may choose another label than the
    most probable one); classifiers ``{"text"[, "text_pair"], "label", "score", "scores"}``
    (``scores``: every label's probability). Probabilities are rounded to 6 decimals."""
    rows = []
    index = {l: k for k, l in enumerate(labels)}
    for x, lab, p in zip(inputs, preds, probas):
        if kind is TOKEN:
            rows.append({"tokens": x, "labels": lab,
                         "scores": [round(float(r[index[l]]), 6) for r, l in zip(p, lab)]})
        else:
            row = {"text": x[0], "text_pair": x[1]} if kind is PAIR else {"text": x}
            rows.append(dict(row, label=lab, score=round(float(p.max()), 6),
                             scores={l: round(float(v), 6) for l, v in zip(labels, p)}))
    return rows


def _empty_row(kind: TaskKind) -> dict:
    return {"tokens": [], "labels": [], "scores": []} if kind is TOKEN else {"text": "", "label": None}


def predict_rows(models: list, kind: TaskKind, labels: list[str], items: list, settings: PredictSettings,
                 decoding: str) -> tuple[list[dict], list[int]]:
    """Predict every non-empty input in batches of ``settings.batch``.

    Args:
        models: loaded task models of ``kind`` (several: their probabilities are averaged).
        labels: the label inventory of the ensemble. items: the inputs (``None``: empty).
        decoding: how token models turn word probabilities into tags.

    Returns:
        ``(rows, truncated)``: one row per input (:func:`prediction_rows`; empty inputs get an
        empty row) and the 0-based indices of inputs a model had to cut.
    """
    from xlt.transfer.model import as_examples, decode_probas  # lazy: heavy import

    todo = [(i, x) for i, x in enumerate(items) if x is not None]
    results: list = [None] * len(items)
    cut: list[int] = []
    bar = tqdm(total=len(todo), desc="predict", unit="input", disable=not settings.progress)
    for start in range(0, len(todo), settings.batch):
        chunk = todo[start:start + settings.batch]
        xs = [x for _, x in chunk]
        examples, _ = as_examples(kind, xs, settings.lang)  # raw text split into words once, here
        if settings.romanize:
            seen = romanize_examples(examples, settings.lang)
        else:
            seen = examples
        for model in models:
            model.stats = {}
        if len(models) == 1:
            probas = models[0].predict_proba(seen, settings.lang)
        else:
            probas = ensemble_proba(models, [1.0] * len(models), seen, settings.lang)[1]
        shown = [list(e.tokens) for e in examples] if kind is TOKEN else xs
        preds = decode_probas(kind, labels, probas, decoding)
        cut.extend(chunk[j][0] for j in sorted({j for m in models for j in m.stats.get("truncated", [])}))
        for (i, _), row in zip(chunk, prediction_rows(kind, labels, shown, preds, probas)):
            results[i] = row
        bar.update(len(chunk))
    bar.close()
    return [r if r is not None else _empty_row(kind) for r in results], cut


def format_rows(rows: list[dict], fmt: str, kind: TaskKind) -> str:
    """The output text of ``rows`` in ``fmt``: JSON lines, or CoNLL (``word<TAB>label`` lines and a
    blank line per sentence; ``label<TAB>text`` lines for classifiers)."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if kind is TOKEN:
        return "".join("".join(f"{w}\t{l}\n" for w, l in zip(r["tokens"], r["labels"])) + "\n" for r in rows)
    return "".join(f"{r['label'] or ''}\t{r['text']}\n" for r in rows)


def run(settings: PredictSettings, command: list[str] | None = None) -> PredictResult:
    """Predict labels for every input of ``settings.input`` with the saved task model(s).

    Inputs, outputs and model folders are checked, and every input is read, before any model
    loads. The output file is written atomically (``out`` a path); with ``out`` ``-`` the text is
    only returned (:attr:`PredictResult.text`).

    Args:
        settings: the run's settings.
        command: unused (predict writes no report); kept for the jobs' common signature.

    Returns:
        a :class:`PredictResult`.

    Raises:
        FileNotFoundError, IsADirectoryError: a missing or folder ``input``. OutputError: an
        output that is an input or exists. TaskModelError: a folder without a task model.
        ConfigError: models of several kinds, a language adapter that does not fit. DataFormatError:
        a malformed input line (names file and line). TranslitError: ``romanize`` without uroman.
    """
    paths, metas, kind = check_models(settings)
    inputs = read_inputs(settings.input, settings.input_format, kind, settings.text_column)
    notes = _empty_input_warning(settings, inputs, kind)
    models = _load_models(settings, paths, metas)

    labels = ensemble_labels(models)
    t0 = time.time()
    rows, cut = predict_rows(models, kind, labels, inputs.items, settings, settings.decoding or models[0].decoding)
    if inputs.extra is not None:  # carry ids, gold labels, ... of table rows along
        rows = [dict(e, **r) for r, e in zip(rows, inputs.extra)]
    text = format_rows(rows, settings.format, kind)
    if settings.out and settings.out != STDOUT:
        write_text(Path(settings.out), text)
    n_empty = sum(x is None for x in inputs.items)
    return PredictResult(rows=rows, text=text, labels=labels, kind=kind.name, mode=metas[0]["mode"], models=paths,
                         n_inputs=len(inputs.items) - n_empty, n_empty=n_empty,
                         n_words=sum(len(r["tokens"]) for r in rows) if kind is TOKEN else None, unit=inputs.unit,
                         truncated=cut, warnings=notes, seconds=time.time() - t0, out=settings.out)
