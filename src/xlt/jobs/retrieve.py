"""``xlt retrieve`` as a job: bitext retrieval accuracy on Tatoeba or a user's pairs, per language and direction.

For each language, both sides of the Tatoeba test set (Artetxe & Schwenk 2019, "Massively
Multilingual Sentence Embeddings for Zero-Shot Cross-Lingual Transfer and Beyond") are
embedded; each sentence retrieves its nearest neighbour on the other side (cosine, CSLS or a
margin score, see :mod:`xlt.retrieval.scoring`), and accuracy is the share retrieved
correctly. The xsim error rate is 100 − accuracy (LASER's xsim).

A user's sentence pairs (``pairs``: two line-aligned files, a ``src ||| tgt`` file or a
``src<TAB>tgt`` file, read by :func:`xlt.data.parallel.open_parallel`) are scored the same
way, as one language pair: the first file (left side) plays Tatoeba's ``xx``, the second
(right side) its English, so the report keeps Tatoeba's keys (``scores`` = src→tgt,
``scores_eng_to_xx`` = tgt→src, ``source`` = the tgt language).

``pairs`` may also be two embeddings folders written by ``xlt embed`` (:mod:`xlt.models.shards`)
from line-aligned files: their vectors are used as they are (no model is loaded; the model,
layer, pooling and prefix are those of the folders, which must agree), so a large corpus is
embedded once and scored many times.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tqdm.auto import tqdm

from xlt.core.outputs import Output, OutputPlan
from xlt.data.parallel import open_parallel, read_parallel, select_tatoeba
from xlt.data.paths import data_set_folders
from xlt.data.readers import DataFormatError
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import write_report
from xlt.jobs import ConfigError
from xlt.jobs.settings import AT_LEAST_1, EncodingSettings, RunSettings, option
from xlt.models import loading
from xlt.models.features import parse_layer
from xlt.models.shards import ShardedEmbeddings, embedding_differences, is_embeddings_folder
from xlt.retrieval.scoring import METHODS, retrieval_accuracy, score_matrix


@dataclass(kw_only=True)
class RetrieveSettings(RunSettings, EncodingSettings):
    """Settings of one ``xlt retrieve`` run (with :class:`~xlt.jobs.settings.RunSettings` and
    :class:`~xlt.jobs.settings.EncodingSettings`: model, out, overwrite, progress, data_dir, layer,
    pooling, batch_size).

    Attributes:
        langs: Tatoeba languages: ``["all"]`` (default) or codes.
        method: the similarity score (:data:`xlt.retrieval.scoring.METHODS`).
        k: neighbourhood size for CSLS/margin (None: the method's default, 10 / 4).
        pairs: a user's sentence pairs instead of Tatoeba: one path (``|||`` or tab-separated
            file) or two (line-aligned files); empty: Tatoeba.
        src_lang, tgt_lang: languages of ``pairs`` (default: from the file names or a TSV header).
        dataset: the test set when no ``pairs`` are given (only ``tatoeba``).

    Raises:
        ConfigError: ``pairs`` with ``langs``, ``dataset``, more than two files; ``src_lang`` or
        ``tgt_lang`` without ``pairs``; any field's own check.
    """

    langs: list[str] = option(default_factory=lambda: ["all"], help="Tatoeba: all or a comma-separated list of "
                                                                   "languages")
    method: Literal[METHODS] = option("cosine", help="similarity score")
    k: int | None = option(None, help="neighbours for csls (default 10) and margins (default 4)", check=AT_LEAST_1)
    pairs: list[Path] = option(default_factory=list, nargs="+", metavar="FILE",
                               help="your sentence pairs instead of Tatoeba: SRC_FILE TGT_FILE (line-aligned), or "
                                    "one 'src ||| tgt' or 'src<TAB>tgt' file; languages from the file names "
                                    "(corpus.de, x.en-de.tsv), a TSV header or --src-lang/--tgt-lang; or two xlt embed folders "
                                    "of line-aligned files (their vectors are used, no model is loaded)")
    src_lang: str | None = option(None, help="language of the first file / left side of --pairs")
    tgt_lang: str | None = option(None, help="language of the second file / right side of --pairs")
    dataset: Literal["tatoeba"] | None = option(None, help="test set (tatoeba; not with --pairs)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pairs:
            if self.dataset:
                raise ConfigError("--pairs replaces --dataset; give one of them")
            if self.langs != ["all"]:
                raise ConfigError("--langs selects Tatoeba languages; with --pairs the languages come from the file "
                                  "names or --src-lang/--tgt-lang")
            if len(self.pairs) > 2:
                raise ConfigError(f"--pairs takes one file ('src ||| tgt' or 'src<TAB>tgt') or two line-aligned "
                                  f"files, got {len(self.pairs)}")
        elif self.src_lang or self.tgt_lang:
            raise ConfigError("--src-lang/--tgt-lang name the languages of --pairs files")


@dataclass
class RetrievalResult:
    """What :func:`run` measured.

    Attributes:
        scores: language -> xx→eng retrieval accuracy (%) (with ``pairs``: src→tgt).
        scores_reverse: language -> eng→xx accuracy (%) (tgt→src).
        average, average_reverse: means over the languages (%).
        directions: ``{"forward": "xx→eng", "reverse": "eng→xx"}`` (the languages, with ``pairs``).
        counts: language -> ``{"sentences", "skipped_empty", ...}``.
        report: the full report (written as ``report.json`` when ``out`` is set).
        out: the report folder (None: not written).
    """

    scores: dict[str, float]
    scores_reverse: dict[str, float]
    average: float
    average_reverse: float
    directions: dict[str, str]
    counts: dict[str, dict]
    report: dict
    out: Path | None = None


def _mean(scores: dict[str, float]) -> float:
    return sum(scores.values()) / len(scores) if scores else float("nan")


def run(config: RetrieveSettings, command: list[str] | None = None) -> RetrievalResult:
    """Tatoeba (or user-pair) retrieval for the selected languages; writes the report if ``config.out``.

    Returns:
        a :class:`RetrievalResult`; its report dict has: ``scores`` = xx→eng accuracy (%), ``scores_eng_to_xx``,
        ``xsim_error`` per language and direction (%), ``average`` over languages (xx→eng),
        ``average_eng_to_xx``, ``directions`` (``{"forward": "deu→eng", "reverse": ...}``),
        ``dataset`` (``tatoeba`` or ``pairs``), counts, config and manifest. With ``pairs``,
        ``xx`` is the first file's language and ``eng`` the second's.

    Raises:
        ValueError: unknown method; UnknownLanguageError: unknown language code;
        DataFormatError: a file pair with different line counts, a malformed ``|||``/tab line,
        pairs with no non-empty pair; FileLanguageError: a file whose language its name does
        not give; FileNotFoundError: no such file; DatasetError: bad input paths (see
        :func:`xlt.data.parallel.open_parallel`).
        All before the model is loaded.
    """
    t0 = time.time()
    if len(config.pairs) == 2 and any(is_embeddings_folder(p) for p in config.pairs):
        return _run_on_embeddings(config, command, t0)
    if config.pairs:
        pt = open_parallel([str(p) for p in config.pairs], src_lang=config.src_lang, tgt_lang=config.tgt_lang).read_pair()
        if not pt.src:
            raise DataFormatError(pt.path_src, 1, f"no sentence pair with two non-empty sides "
                                                  f"({pt.n_skipped_empty} of {pt.n_lines} lines skipped)")
        src_lang, tgt_lang = pt.src_lang, pt.tgt_lang
        files = {src_lang: (pt.path_src, pt.path_tgt)}
        data = {src_lang: pt}
    else:
        src_lang, tgt_lang = None, "eng"
        files = select_tatoeba(",".join(config.langs), config.data_dir)
        data = {lang: read_parallel(*paths) for lang, paths in files.items()}  # check all before encoding

    OutputPlan(inputs=[("--pairs", [str(p) for p in config.pairs]), ("--model", config.model),
                       ("--data-dir", data_set_folders(config.data_dir))],
               outputs=[Output("--out", Path(config.out))] if config.out else [], overwrite=config.overwrite).check()
    # looked up now: tests replace it
    encoder = loading.load_encoder(config.model, device="auto", **config.encoder_options())
    layer = parse_layer(config.layer)
    xx2en, en2xx, xsim, counts = {}, {}, {}, {}
    for lang, pt in tqdm(data.items(), desc="languages", disable=not config.progress):
        if not pt.src:
            counts[lang] = {"sentences": 0, "skipped_empty": pt.n_skipped_empty}
            continue
        emb = [encoder.encode_sentences(side, layers=layer, pooling=config.pooling, normalize=True,
                                batch_size=config.batch_size, progress=False) for side in (pt.src, pt.tgt)]
        _score(lang, emb[0], emb[1], config, xx2en, en2xx, xsim)
        counts[lang] = {"sentences": len(pt.src), "skipped_empty": pt.n_skipped_empty}
        if config.pairs:
            counts[lang].update(lines=pt.n_lines, skipped_lines=pt.skipped_lines)
    data_files = list(dict.fromkeys(p for pair in files.values() for p in pair))
    return _finish(config, command, t0, src_lang, tgt_lang, xx2en, en2xx, xsim, counts, encoder.describe(), data_files)


def _score(lang: str, x, y, config: RetrieveSettings, xx2en: dict, en2xx: dict, xsim: dict) -> None:
    """Both directions' accuracy of unit vectors ``x`` ``(n, dim)`` against ``y`` ``(n, dim)`` (row i ↔ row i)."""
    # Cosine, CSLS and both margins are symmetric in their two arguments, so the
    # eng→xx matrix is the transpose of the xx→eng one: no second k-NN pass.
    forward = score_matrix(x, y, method=config.method, k=config.k)
    xx2en[lang] = 100.0 * retrieval_accuracy(forward)
    en2xx[lang] = 100.0 * retrieval_accuracy(forward.T)
    xsim[lang] = {"xx_to_eng": 100.0 - xx2en[lang], "eng_to_xx": 100.0 - en2xx[lang]}


def _run_on_embeddings(config: RetrieveSettings, command, t0: float) -> RetrievalResult:
    """:func:`run` on two ``xlt embed`` folders (``config.pairs``): no model is loaded.

    Raises:
        ShardError: a folder that is not (or not wholly) an embeddings folder, a corrupt shard.
        ConfigError: a plain file beside a folder; folders of different models or settings, not
        unit-normalised, or of different row counts or with skipped lines (rows would not be aligned).
    """
    for p in config.pairs:
        if not Path(p).is_dir():
            raise ConfigError(f"--pairs {p}: give two embeddings folders (xlt embed), or two text files, not one of "
                              "each")
    OutputPlan(inputs=[("--pairs", [str(p) for p in config.pairs])],
               outputs=[Output("--out", Path(config.out))] if config.out else [], overwrite=config.overwrite).check()
    src, tgt = (ShardedEmbeddings.open(p) for p in config.pairs)
    diff = embedding_differences(src.manifest, tgt.manifest)
    if diff:
        raise ConfigError(f"--pairs {config.pairs[0]} and {config.pairs[1]} were embedded differently "
                          f"({', '.join(diff)})")
    for e in (src, tgt):
        if not e.unit:
            raise ConfigError(f"--pairs {e.folder}: vectors are not unit length (xlt embed --no-normalize); "
                              "retrieval needs unit vectors")
        if e.line_aligned_problem:
            raise ConfigError(f"--pairs {e.folder}: {e.line_aligned_problem}")
    if src.n_rows != tgt.n_rows:
        raise ConfigError(f"--pairs: {src.folder} has {src.n_rows} rows, {tgt.folder} {tgt.n_rows}; line-aligned "
                          "sides have as many")
    src_lang, tgt_lang = config.src_lang or "src", config.tgt_lang or "tgt"
    xx2en, en2xx, xsim = {}, {}, {}
    _score(src_lang, src.to_array(), tgt.to_array(), config, xx2en, en2xx, xsim)
    counts = {src_lang: {"sentences": src.n_rows, "skipped_empty": 0, "lines": src.n_rows, "skipped_lines": []}}
    m = src.manifest
    model_info = {"spec": m.get("model"), "fingerprint": m.get("model_fingerprint"), "text_prefix": m.get("text_prefix"),
                  "embeddings": [str(p) for p in config.pairs], "layer": m.get("layer"), "pooling": m.get("pooling")}
    files = [f for e in (src, tgt) for f in sorted(e.folder.iterdir()) if f.name != "report.json"]
    return _finish(config, command, t0, src_lang, tgt_lang, xx2en, en2xx, xsim, counts, model_info, files,
                   model=m.get("model"))


def _finish(config: RetrieveSettings, command, t0: float, src_lang, tgt_lang, xx2en, en2xx, xsim, counts,
            model_info: dict, data_files: list, model: str | None = None) -> RetrievalResult:
    """The report of a run (written when ``config.out`` is set) and its :class:`RetrievalResult`."""
    cfg = {k: v for k, v in config.to_dict().items() if k != "progress"}
    argv = command if command is not None else sys.argv
    report = {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "pairs" if config.pairs else "tatoeba",
        "dataset": "pairs" if config.pairs else "tatoeba",
        "model": model or config.model,
        "mode": f"retrieval ({config.method})",
        "source": tgt_lang,
        "metric": "accuracy",
        "metric_name": (f"{src_lang}→{tgt_lang} retrieval accuracy (%)" if config.pairs
                        else "xx→eng retrieval accuracy (%)"),
        "directions": ({"forward": f"{src_lang}→{tgt_lang}", "reverse": f"{tgt_lang}→{src_lang}"} if config.pairs
                       else {"forward": "xx→eng", "reverse": "eng→xx"}),
        "scores": xx2en,
        "scores_eng_to_xx": en2xx,
        "xsim_error": xsim,
        "average": _mean(xx2en),
        "average_eng_to_xx": _mean(en2xx),
        "n_targets": len(xx2en),
        "counts": counts,
        "seconds": {"total": round(time.time() - t0, 1)},
        "config": cfg,
        "manifest": build_manifest(cfg, data_files, model_info, None),
    }
    if config.out:
        write_report(config.out, report)
    return RetrievalResult(scores=xx2en, scores_reverse=en2xx, average=report["average"],
                           average_reverse=report["average_eng_to_xx"], directions=report["directions"],
                           counts=counts, report=report, out=config.out)
