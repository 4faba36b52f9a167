"""``xlt predict``: apply a saved task model (``xlt transfer --save``) to new text in any language.

Input (``--input FILE`` or ``-`` for standard input), by ``--input-format`` (default: from the
file extension, ``text`` for standard input):

* ``text``: one input per line: raw text (token tasks split it into words with
  :func:`xlt.data.segment.split_words`, using ``--lang`` for scripts without spaces), or for
  pair tasks ``text<TAB>text_pair``. An empty line gives an empty prediction, so output line i
  always belongs to input line i.
* ``tokens``: pre-tokenised sentences, one per line, words separated by spaces.
* ``conll``: one word per line (first column; other columns such as gold tags are ignored), a
  blank line between sentences (``.conll``, ``.conllu`` word lines, XTREME ``.tsv``).
* ``jsonl``: one object per line with ``tokens`` (a word list) or ``text`` (and ``text_pair``).
* ``csv``/``tsv``: a table with a header; ``--text-column`` names the text column (two for pair
  models, ``premise,hypothesis``); default: the first of ``text, sentence, content, review,
  document`` (pairs: ``premise,hypothesis``, ``sentence1,sentence2``, ...) that the header has.
  Other columns (ids, gold labels) are carried into the JSONL output.

Several ``--model`` folders (e.g. the ``seed-N/`` folders of ``xlt transfer --seeds 3 --save-which
all``) predict as one ensemble: the mean of the models' label probabilities
(:func:`xlt.transfer.ensemble.ensemble_proba`; what ``xlt transfer --seed-ensemble`` scores). They
must be models of one task kind.

Output (``--out FILE`` or ``-``), by ``--format``: ``jsonl`` (default; the input plus ``labels``
and the probability of each chosen label, or ``label`` and every label's probability) or
``conll`` (``word<TAB>label`` lines and a blank line per sentence; ``label<TAB>text`` lines for
classification). Files are written atomically; an existing ``--out`` is replaced only with
``--overwrite``; the input is never overwritten.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from xlt.cli._common import count_arg

INPUT_FORMATS = ("auto", "text", "tokens", "conll", "jsonl", "csv", "tsv")
#: What input i is, by input format (warnings number inputs from 1 in these units).
_INPUT_UNITS = {"conll": "sentence", "csv": "row", "tsv": "row"}
_BY_EXT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".conll": "conll", ".conllu": "conll", ".tsv": "conll",
           ".iob": "conll", ".bio": "conll", ".csv": "csv"}


def add_parser(sub) -> None:
    from xlt.transfer.decoding import DECODINGS

    p = sub.add_parser("predict", help="tag or classify new text with a model saved by 'xlt transfer --save'",
                       description=__doc__.split("\n\n", 1)[0] + " Input: raw text lines (any script), "
                                   "pre-tokenised lines, CoNLL or JSONL; output JSONL with per-label "
                                   "probabilities, or CoNLL.")
    p.add_argument("--model", required=True, action="append",
                   help="folder written by 'xlt transfer --save'; repeated: an ensemble (mean of the models' "
                        "label probabilities), e.g. the seed-N folders of --save-which all")
    p.add_argument("--input", required=True, help="input file, or - for standard input")
    p.add_argument("--out", required=True, help="output file, or - for standard output")
    p.add_argument("--lang", help="language of the input (word splitting of CJK/Thai text; aligner maps)")
    p.add_argument("--input-format", choices=INPUT_FORMATS, default="auto",
                   help="auto: jsonl for .jsonl, csv for .csv, conll for .conll/.conllu/.tsv, else text "
                        "(tsv: a table with a header)")
    p.add_argument("--text-column", help="csv/tsv input: the text column(s), e.g. review or premise,hypothesis")
    p.add_argument("--format", choices=["jsonl", "conll"], default="jsonl", help="output format")
    p.add_argument("--romanize", action="store_true",
                   help="predict from the uroman romanisation of the input (for a model trained or aligned on "
                        "Latin script: 'xlt transfer --romanize', 'xlt adapt translit'); the output keeps the "
                        "original words")
    p.add_argument("--language-adapter", metavar="DIR",
                   help="a model trained with MAD-X language adapters ('xlt transfer --language-adapters'): the "
                        "input language's adapter ('xlt adapt mlm --language-adapter') in place of the source's")
    p.add_argument("--decoding", choices=list(DECODINGS),
                   help="token tasks: how word probabilities become tags (default: the model's saved setting; "
                        "bio: Viterbi under the BIO constraints, for BIO labels; argmax: each word's most "
                        "probable label)")
    p.add_argument("--batch", type=count_arg, default=1000, help="inputs per batch (bounds memory)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--no-progress", action="store_true")


def _input_format(args) -> str:
    if args.input_format != "auto":
        return args.input_format
    return "text" if args.input == "-" else _BY_EXT.get(Path(args.input).suffix.lower(), "text")


def _read_table(path: str, fmt: str, kind, text_column: str | None) -> tuple[list, list[dict]]:
    """Inputs and the other columns of each row of a csv/tsv table (see the module docstring)."""
    import csv
    import io

    from xlt.data.formats import PAIR_COLUMNS, TEXT_COLUMNS
    from xlt.data.kinds import PAIR
    from xlt.data.readers import DataFormatError, read_lines

    name = Path("<stdin>" if path == "-" else path)
    text = sys.stdin.read() if path == "-" else "\n".join(read_lines(Path(path)))
    reader = csv.DictReader(io.StringIO(text), delimiter="," if fmt == "csv" else "\t")
    header = reader.fieldnames or []
    if not header:
        raise DataFormatError(name, 1, "empty table: expected a header row")
    if text_column:
        cols = [c.strip() for c in text_column.split(",") if c.strip()]
    elif kind is PAIR:
        cols = list(next((p for p in PAIR_COLUMNS if set(p) <= set(header)), ()))
    else:
        cols = [next((c for c in TEXT_COLUMNS if c in header), "")]
    want = 2 if kind is PAIR else 1
    if len(cols) != want or any(c not in header for c in cols):
        raise DataFormatError(name, 1, f"the {kind.name} model needs {want} text column(s) (--text-column); "
                                       f"found {cols or 'none'} in the header columns: {', '.join(header)}")
    inputs, extra = [], []
    for row in reader:
        if None in row:
            raise DataFormatError(name, reader.line_num, "more fields than the header has")
        values = [(row.get(c) or "").strip() for c in cols]
        if not any(values):
            inputs.append(None)
        elif kind is PAIR:
            inputs.append((values[0], values[1]))
        else:
            inputs.append(values[0])  # raw text; token models split it into words
        extra.append({k: v for k, v in row.items() if k not in cols})
    return inputs, extra


def read_inputs(path: str, fmt: str, kind) -> list:
    """Read every input up front (so bad lines fail before the model loads).

    Returns:
        a list of inputs for :meth:`xlt.transfer.model.TaskModel.predict`: strings, word lists or
        ``(text, text_pair)`` tuples; ``None`` for an empty line (kept for line alignment).

    Raises:
        DataFormatError: a line that is not JSON, an object without ``tokens``/``text``, a pair
            line without a tab (names file and line); FileNotFoundError.
    """
    from xlt.data.kinds import PAIR, TOKEN
    from xlt.data.readers import DataFormatError

    name = "<stdin>" if path == "-" else path
    if path == "-":
        lines = sys.stdin.read().splitlines()
    else:
        p = Path(path)
        if p.is_dir():
            raise DataFormatError(p, 0, "is a folder; --input needs a file (or - for standard input)")
        from xlt.data.readers import read_lines

        lines = read_lines(p)
    out: list = []
    if fmt == "conll":
        words: list[str] = []
        for i, line in enumerate(lines, 1):
            if not line.strip():
                if words:
                    out.append(words)
                    words = []
                continue
            if line.startswith("#") or line.startswith("-DOCSTART-"):
                continue
            cols = line.split("\t") if "\t" in line else line.split()
            if "\t" in line and cols[0].replace("-", "").replace(".", "").isdigit() and len(cols) == 10:
                if not cols[0].isdigit():  # CoNLL-U multiword ranges / empty nodes
                    continue
                words.append(cols[1])
            else:
                words.append(cols[0].strip())
        if words:
            out.append(words)
        if kind is not TOKEN:
            raise DataFormatError(Path(name), 1, f"CoNLL input holds words, but the model is a {kind.name} classifier")
        return out
    for i, line in enumerate(lines, 1):
        if fmt == "jsonl":
            if not line.strip():
                out.append(None)
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(Path(name), i, f"not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise DataFormatError(Path(name), i, "expected a JSON object")
            if kind is TOKEN and isinstance(obj.get("tokens"), list):
                out.append([str(w) for w in obj["tokens"]])
            elif isinstance(obj.get("text"), str):
                if kind is PAIR:
                    if not isinstance(obj.get("text_pair"), str):
                        raise DataFormatError(Path(name), i, "a pair model needs 'text' and 'text_pair'")
                    out.append((obj["text"], obj["text_pair"]))
                else:
                    out.append(obj["text"])
            else:
                raise DataFormatError(Path(name), i, "expected a 'text' string" +
                                      (" or a 'tokens' list" if kind is TOKEN else ""))
            continue
        if not line.strip():
            out.append(None)
        elif kind is PAIR:
            if "\t" not in line:
                raise DataFormatError(Path(name), i, "a pair model needs 'text<TAB>text_pair' lines")
            a, b = line.split("\t", 1)
            out.append((a, b))
        elif fmt == "tokens":
            out.append(line.split())
        else:
            out.append(line)
    return out


def _rows(kind, labels: list[str], inputs: list, preds: list, probas: list) -> list[dict]:
    from xlt.data.kinds import PAIR, TOKEN

    rows = []
    # a word's score is its chosen label's probability (Viterbi decoding may choose another label
    # than the most probable one)
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


def _empty_row(kind) -> dict:
    from xlt.data.kinds import TOKEN

    return {"tokens": [], "labels": [], "scores": []} if kind is TOKEN else {"text": "", "label": None}


def _format(rows: list[dict], fmt: str, kind) -> str:
    from xlt.data.kinds import TOKEN

    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if kind is TOKEN:
        return "".join("".join(f"{w}\t{l}\n" for w, l in zip(r["tokens"], r["labels"])) + "\n" for r in rows)
    return "".join(f"{r['label'] or ''}\t{r['text']}\n" for r in rows)


def run(args, argv) -> int:
    from tqdm.auto import tqdm

    from xlt.data.kinds import TOKEN, get_kind
    from xlt.cli._common import UsageError
    from xlt.transfer.ensemble import ensemble_labels, ensemble_proba
    from xlt.transfer.model import TaskModel, as_examples, decode_probas, read_meta

    from xlt.core.outputs import Output, OutputPlan

    if args.input != "-":
        src = Path(args.input)
        if not src.exists():
            raise FileNotFoundError(f"--input {src} does not exist")
        if src.is_dir():
            raise IsADirectoryError(f"--input {src} is a folder; give a file (or - for standard input)")
    OutputPlan(inputs=[("--input", args.input), ("--model", args.model), ("--language-adapter", args.language_adapter)],
               outputs=[Output("--out", args.out, "file")], overwrite=args.overwrite).check()
    paths = list(dict.fromkeys(args.model))  # a folder given twice is one member, not a double weight
    metas = [read_meta(Path(m)) for m in paths]  # a wrong folder fails before anything loads
    meta = metas[0]
    kind = get_kind(meta["kind"])
    other = [m for m, mt in zip(paths, metas) if mt["kind"] != meta["kind"]]
    if other:
        raise UsageError(f"--model: an ensemble needs models of one task kind; {paths[0]} is a {meta['kind']} "
                         f"model, {other[0]} a {metas[paths.index(other[0])]['kind']} one")
    fmt_in = _input_format(args)
    extra: list[dict] | None = None
    if fmt_in in ("csv", "tsv"):
        inputs, extra = _read_table(args.input, fmt_in, kind, args.text_column)
    else:
        if args.text_column:
            raise UsageError("--text-column is for csv/tsv input")
        inputs = read_inputs(args.input, fmt_in, kind)
    unit = _INPUT_UNITS.get(fmt_in, "line")
    if all(x is None for x in inputs):  # nothing to predict: said, not left to an empty output file
        name = "standard input" if args.input == "-" else f"--input {args.input}"
        found = (f", only {len(inputs)} empty {unit}{'s' if len(inputs) > 1 else ''}: the output is {len(inputs)} "
                 "empty predictions" if inputs else ": the output is empty")
        print(f"warning: {name} has no {'sentences' if kind is TOKEN else 'texts'}{found}", file=sys.stderr)
    if args.romanize:
        from xlt.adapt.translit import romanize, romanize_examples

        romanize([])  # uroman missing: the error comes before the model loads
    lang_adapter = None
    if args.language_adapter:
        from xlt.adapt.peft import read_language_adapter

        lang_adapter, lmeta = read_language_adapter(args.language_adapter)
        for path, mt in zip(paths, metas):
            size = (mt.get("adapters") or {}).get("language")
            if size is None:
                raise UsageError(f"--language-adapter: {path} was trained without language adapters")
            if int(lmeta["size"]) != int(size):
                raise UsageError(f"--language-adapter {args.language_adapter} has size {lmeta['size']}, the "
                                 f"language adapters of {path} {size}")
    models = [TaskModel.from_pretrained(m, device="auto") for m in paths]
    if lang_adapter is not None:
        from xlt.adapt.peft import load_language_adapter

        for model in models:
            load_language_adapter(model.model, lang_adapter)
    labels = ensemble_labels(models)
    decoding = args.decoding or models[0].decoding
    t0 = time.time()
    rows: list[dict] = []
    todo = [(i, x) for i, x in enumerate(inputs) if x is not None]
    results: list = [None] * len(inputs)
    cut: list[int] = []  # indices of inputs cut at a model's length limit
    bar = tqdm(total=len(todo), desc="predict", unit="input", disable=args.no_progress, file=sys.stderr)
    for start in range(0, len(todo), args.batch):
        chunk = todo[start:start + args.batch]
        xs = [x for _, x in chunk]
        examples, _ = as_examples(kind, xs, args.lang)  # raw text split into words once, here
        seen = romanize_examples(examples, args.lang) if args.romanize else examples
        for model in models:
            model.stats = {}
        if len(models) == 1:
            probas = models[0].predict_proba(seen, args.lang)
        else:
            probas = ensemble_proba(models, [1.0] * len(models), seen, args.lang)[1]
        shown = [list(e.tokens) for e in examples] if kind is TOKEN else xs
        preds = decode_probas(kind, labels, probas, decoding)
        cut.extend(chunk[j][0] for j in sorted({j for m in models for j in m.stats.get("truncated", [])}))
        for (i, _), row in zip(chunk, _rows(kind, labels, shown, preds, probas)):
            results[i] = row
        bar.update(len(chunk))
    bar.close()
    rows = [r if r is not None else _empty_row(kind) for r in results]
    if extra is not None:  # carry ids, gold labels, ... of table rows along
        rows = [dict(e, **r) for r, e in zip(rows, extra)]
    text = _format(rows, args.format, kind)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        from xlt.evaluate.report import write_text

        write_text(Path(args.out), text)
    n_empty = sum(x is None for x in inputs)
    n_words = sum(len(r["tokens"]) for r in rows) if kind is TOKEN else None
    what = f"{len(todo)} inputs" + (f" ({n_words} words)" if n_words is not None else "")
    used = paths[0] if len(paths) == 1 else f"an ensemble of {len(paths)} models ({', '.join(paths)})"
    if cut:
        from xlt.cli._common import first_few

        effect = (f"words past the cut get the label {labels[0] if 'O' not in labels else 'O'}" if kind is TOKEN
                  else "only the part that fits was classified")
        print(f"warning: {len(cut)} of {len(todo)} inputs are longer than the model takes and were cut: {effect} "
              f"({unit}{'s' if len(cut) > 1 else ''} {first_few([i + 1 for i in cut])})", file=sys.stderr)
    print(f"xlt predict: {what} with {used} ({meta['mode']}, {kind.name}) in {time.time() - t0:.1f} s"
          + (f"; {n_empty} empty lines kept as empty predictions" if n_empty else "")
          + ("" if args.out == "-" else f" -> {args.out}"), file=sys.stderr)
    return 0
