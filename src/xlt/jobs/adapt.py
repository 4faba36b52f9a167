"""``xlt adapt ...`` as jobs: adapt an encoder to the languages a user serves; each writes a model folder
that ``xlt transfer --model`` and ``xlt predict`` load.

``trim``: :func:`run_trim` keeps the vocabulary pieces of the given languages' text
(:func:`xlt.adapt.vocab.trim_vocabulary`) and writes the smaller model with its report.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xlt.data.jsonable import write_json
from xlt.data.outputs import check_output_folder, staged_folder

__all__ = ["TrimConfig", "run_trim"]


@dataclass
class TrimConfig:
    """Settings of ``xlt adapt trim``.

    Attributes:
        langs: comma-separated languages to keep the vocabulary of.
        text: ``LANG=FILE`` text files (one sentence per line) for any of them; the others take the
            text the data folder holds in them (:func:`xlt.data.text.builtin_text`).
        model: the model to trim. min_count: frequency floor (keep pieces seen at least this often).
        min_sentences: least text per language. data_dir: data folder.
        out: the trimmed model's folder. overwrite: replace a non-empty one.
    """

    langs: str
    out: str
    text: list[str] = field(default_factory=list)
    model: str = "bundled:e5-small"
    min_count: int = 1
    min_sentences: int = 200
    data_dir: str | None = None
    overwrite: bool = False


def run_trim(config: TrimConfig, command: list[str] | None = None) -> dict:
    """Trim ``config.model``'s vocabulary to ``config.langs`` and write the model folder.

    Every text is read before the model loads. The folder holds the model, its tokenizer,
    ``xlt_export.json`` (text prefix; the languages it was trimmed for, so that runs on other
    languages warn) and ``trim_report.json``.

    Returns:
        the report: sizes before/after, per-language text and piece counts, seconds, command.

    Raises:
        UnknownLanguageError: a language the data folder holds no text in and no --text names;
        VocabularyError: too little text, a tokenizer that cannot be trimmed; FileNotFoundError,
        DataFormatError: a bad text file; FileExistsError: ``out`` is not empty (no --overwrite).
    """
    from xlt.adapt.vocab import VocabularyError, trim_vocabulary
    from xlt.data.langs import iso639_3
    from xlt.data.text import parse_text_args, texts_for
    from xlt.models.export import write_export_folder
    from xlt.models.loading import load_encoder

    t0 = time.time()
    langs = list(dict.fromkeys(l.strip() for l in config.langs.split(",") if l.strip()))
    if not langs:
        raise VocabularyError("--langs needs at least one language")
    for l in langs:
        iso639_3(l)  # an unknown code is named here
    try:
        files = parse_text_args(config.text)
    except ValueError as exc:
        raise VocabularyError(str(exc)) from None
    extra = [l for l in files if l not in langs]
    if extra:
        raise VocabularyError(f"--text {', '.join(extra)}: not among --langs ({', '.join(langs)})")
    final = check_output_folder(config.out, overwrite=config.overwrite, option="--out",
                                inputs=[str(p) for p in files.values()])
    texts = texts_for(langs, files, config.data_dir)
    short = {l: len(t.sentences) for l, t in texts.items() if len(t.sentences) < config.min_sentences}
    if short:
        raise VocabularyError("too little text to trim the vocabulary for: " + ", ".join(
            f"{l} ({n} sentences)" for l, n in short.items()) + f"; give at least {config.min_sentences} sentences "
            "per language (a text file, one sentence per line: --text LANG=FILE)")
    t_load = time.time()
    encoder = load_encoder(config.model)
    t_load = time.time() - t_load
    t_trim = time.time()
    trimmed, result = trim_vocabulary(encoder, {l: t.sentences for l, t in texts.items()},
                                      min_count=config.min_count, min_sentences=config.min_sentences)
    t_trim = time.time() - t_trim
    argv = command if command is not None else sys.argv
    report = {"command": argv, "command_line": shlex.join(argv), "model": config.model, "langs": langs,
              "text": {l: {"sentences": len(t.sentences), "words": t.n_words, "sources": t.sources,
                           "skipped_empty": t.skipped_empty} for l, t in texts.items()},
              **result.describe(), "config": asdict(config),
              "seconds": {"load": round(t_load, 2), "trim": round(t_trim, 1), "total": round(time.time() - t0, 1)}}
    with staged_folder(final) as folder:
        write_export_folder(trimmed, folder)
        write_json(folder / "trim_report.json", report)
    report["out"] = str(final)
    return report
