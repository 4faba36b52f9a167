"""``xlt mine`` as a job: mine translation pairs from two text files, and evaluate mining on NTREX.

:func:`run_mine` reads two files of sentences (one per line), embeds both sides in chunks,
mines pairs with margin scores over FAISS nearest neighbours (Artetxe & Schwenk 2019,
"Margin-based Parallel Corpus Mining with Multilingual Sentence Embeddings";
:mod:`xlt.retrieval.mining`) and writes ``score<TAB>src<TAB>tgt`` lines, best first, plus a JSON
report (counts, timings, manifest) beside them.

:func:`run_mine_eval` measures mining on BUCC-style tasks built from NTREX-128 (see
:mod:`xlt.retrieval.bucc`, whose :func:`~xlt.retrieval.bucc.evaluate_language` does the
computation per language): per language, the corpus lines are split in two halves; on each half
a task hides 20% true English–target pairs among non-parallel sentences. The score threshold of
every (margin, strategy) is chosen on the first half (the BUCC "training" split) and precision,
recall and F1 are measured on the second.

:func:`run` runs either, by the type of its settings.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from xlt.core.io import atomic_write
from xlt.core.outputs import Output, OutputPlan
from xlt.data import tasks
from xlt.data.langs import iso639_3
from xlt.data.parallel import NTREX_SOURCE, read_multiparallel, select_ntrex
from xlt.data.paths import data_set_folders
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import write_json, write_report
from xlt.jobs import ConfigError
from xlt.jobs.parts_aligncmds import FileRunSettings, report_config, same_field
from xlt.jobs.settings import AT_LEAST_0, AT_LEAST_1, FRACTION, EncodingSettings, Interval, RunSettings, option
from xlt.models import loading  # loading.load_encoder is looked up at call time (tests replace it)
from xlt.models.features import parse_layer
from xlt.models.shards import MANIFEST, ShardedEmbeddings, embedding_differences
from xlt.retrieval.ann import peak_rss_mib
from xlt.retrieval.bucc import evaluate_language
from xlt.retrieval.mining import (DEFAULT_APPROX_ABOVE, DEFAULT_CHUNK_SIZE, INDEX_KINDS, MARGINS, STRATEGIES,
                                  embed_to_array, read_sentences, score_candidates, select_pairs, unique_sentences)

__all__ = ["MineEvalResult", "MineEvalSettings", "MineOptions", "MineResult", "MineSettings", "panx_distractors",
           "run", "run_mine", "run_mine_eval"]


@dataclass(kw_only=True)
class MiningSettings(EncodingSettings):
    """Mining options.

    Those of both modes of ``xlt mine``, with the encoding ones (layer, pooling, batch size).

    Attributes:
        k: neighbourhood size of the margin scores.
        index: FAISS index kind (:mod:`xlt.retrieval.ann`): ``auto`` = exact flat up to
            ``approx_above`` vectors per side, IVF above; ``flat``, ``ivf``, ``ivfpq``
            (``OPQ{m},IVF{nlist},PQ{m}``), ``hnsw`` (``HNSW32``).
        approx_above: ``index="auto"`` switches to IVF above this many vectors per side.
        nprobe, nlist, pq_m: IVF settings (None: ``nlist / 32`` lists scanned, at least 16; about
            ``4*sqrt(n)`` lists; ``dim/8`` bytes per vector). ef_search: HNSW search breadth (None:
            ``max(128, 2 * rerank)``). rerank: approximate candidates re-ranked exactly per query
            (None: ``4 * k`` for ivfpq, ``k`` otherwise). train_size: IVF training sample (None:
            ``40 * nlist``).
        target_recall: raise nprobe/efSearch by doubling (then bisecting) until recall@k on a
            held-out query sample reaches this (None: keep them). check_recall: queries on which
            recall@k against exact search is measured in every run (0: off).
        seed: seed of the IVF training sample, the recall samples and of task building.
    """

    k: int = option(4, help="neighbours for the margin", check=AT_LEAST_1)
    index: Literal[INDEX_KINDS] = option("auto", help="FAISS index: auto = exact flat up to --approx-above "
                                                      "vectors per side, IVF above; ivf, ivfpq (OPQ+IVF+PQ), hnsw")
    approx_above: int = option(DEFAULT_APPROX_ABOVE, help="--index auto: IVF above this many vectors per side",
                               check=AT_LEAST_0)
    nprobe: int | None = option(None, help="IVF lists visited per query (default nlist/32, at least 16)",
                                check=AT_LEAST_1)
    nlist: int | None = option(None, help="IVF lists (default about 4*sqrt(n))", check=AT_LEAST_1)
    pq_m: int | None = option(None, help="ivfpq: bytes per vector (default dim/8)", check=AT_LEAST_1)
    ef_search: int | None = option(None, help="hnsw: candidates explored per query (default max(128, 2*rerank))",
                                   check=AT_LEAST_1)
    rerank: int | None = option(None, help="approximate candidates per query re-ranked exactly "
                                           "(default 4*k for ivfpq, k otherwise)", check=AT_LEAST_1)
    train_size: int | None = option(None, help="IVF training sample size (default 40*nlist)", check=AT_LEAST_1)
    target_recall: float | None = option(None, help="tune nprobe/efSearch until recall@k on a query sample "
                                                    "reaches this (0-1]", check=Interval(0, 1, closed="right"))
    check_recall: int = option(1000, help="queries on which recall@k against exact search is measured "
                                          "and reported (0 = off)", check=AT_LEAST_0)
    seed: int = option(0, help="seed (IVF training sample, recall samples, tasks)", check=AT_LEAST_0)

    def knn_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`xlt.retrieval.mining.knn_search` these settings give
        (without ``index`` and ``seed``)."""
        return {name: getattr(self, name) for name in _KNN_KEYS}


_KNN_KEYS = ("approx_above", "nprobe", "nlist", "pq_m", "ef_search", "rerank", "train_size", "target_recall",
             "check_recall")


@dataclass(kw_only=True)
class MineSettings(FileRunSettings, MiningSettings):
    """Mining two files.

    The settings of ``xlt mine SRC TGT`` (with :class:`MiningSettings` and
    :class:`~xlt.jobs.parts_aligncmds.FileRunSettings`: model, out, overwrite, progress).

    Attributes:
        src, tgt: input files, one sentence per line (the command line's ``SRC`` and ``TGT``).
        src_embeddings, tgt_embeddings: instead of ``src``/``tgt``, a folder made by ``xlt embed``
            (:class:`xlt.models.shards.ShardedEmbeddings`, unit vectors, hashes verified before use):
            its vectors are searched shard by shard and its texts written with the pairs.
        out: the output TSV (required); the report is ``<stem>.report.json`` beside it.
        margin: ``ratio``, ``distance`` or ``absolute`` (plain cosine). strategy: forward,
            backward, intersection or max. threshold: keep pairs scoring at least this (None: all).
        chunk_size: sentences per embedding/search chunk. memmap_above: sides longer than this
            are embedded into disk memmaps under ``work_dir`` (default: a temporary folder).
    """

    src: Path | None = option(None, cli=False, help="source sentences, one per line")
    tgt: Path | None = option(None, cli=False, help="target sentences, one per line")
    out: Path | None = same_field(FileRunSettings, "out",
                                  help="output TSV (or the report folder with --eval) (required)")
    src_embeddings: Path | None = option(None, help="source side as an xlt embed folder (instead of SRC)")
    tgt_embeddings: Path | None = option(None, help="target side as an xlt embed folder (instead of TGT)")
    margin: Literal[MARGINS] = option("ratio", help="ratio / distance margin, or absolute (plain cosine)")
    strategy: Literal[STRATEGIES] = option("max", help="which pairs to keep")
    threshold: float | None = option(None, help="keep pairs scoring at least this (default: all)", check=Interval())
    chunk_size: int = option(DEFAULT_CHUNK_SIZE, help="sentences per embedding/search chunk", check=AT_LEAST_1)
    memmap_above: int = option(200_000, help="embed sides longer than this into disk memmaps", check=AT_LEAST_0)
    work_dir: Path | None = option(None, help="folder for on-disk embedding memmaps of large inputs (default: temp)")


@dataclass(kw_only=True)
class MineEvalSettings(RunSettings, MiningSettings):
    """Mining evaluation on NTREX.

    The settings of ``xlt mine --eval ntrex`` (with :class:`MiningSettings` and
    :class:`~xlt.jobs.settings.RunSettings`: model, out, overwrite, progress, data_dir).

    Attributes:
        langs: target languages (mined against English).
        margins, strategies: the margins and strategies to compare (default: all).
        parallel_fraction: share of true pairs in each task.
        report_margin, report_strategy: the method whose F1 is the report's headline score (one of
            ``margins`` / ``strategies``).
        distractors: extra non-parallel sentences per pile, taken from each language's PAN-X
            (Wikipedia) file (``dev-en.tsv`` for English), as BUCC hides pairs in large comparable
            corpora; 0 = only NTREX's own non-parallel lines. distractor_min_words: skip PAN-X
            sentences shorter than this (short fragments such as place names are often identical
            across languages, i.e. accidental translations).
        out: the report folder (None: not written; an existing non-empty one is replaced only with
            ``overwrite``).

    Raises:
        ConfigError: no margin or strategy, a report margin/strategy outside them; any field's own check.
    """

    langs: list[str] = option(default_factory=lambda: ["deu", "fra", "rus", "zho-CN", "swa"],
                              help="--eval: target languages vs English")
    margins: list[Literal[MARGINS]] = option(default_factory=lambda: list(MARGINS), cli=False,
                                             help="margins to compare")
    strategies: list[Literal[STRATEGIES]] = option(default_factory=lambda: list(STRATEGIES), cli=False,
                                                   help="strategies to compare")
    parallel_fraction: float = option(0.2, cli=False, help="share of true pairs in each task", check=FRACTION)
    report_margin: Literal[MARGINS] = option("ratio", cli=False, help="the headline score's margin")
    report_strategy: Literal[STRATEGIES] = option("max", cli=False, help="the headline score's strategy")
    distractors: int = option(0, help="--eval: extra non-parallel PAN-X sentences per side and language",
                              check=AT_LEAST_0)
    distractor_min_words: int = option(0, help="--eval: skip PAN-X distractors shorter than this many tokens",
                                       check=AT_LEAST_0)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, chosen, among in (("margin", self.report_margin, self.margins),
                                    ("strategy", self.report_strategy, self.strategies)):
            if not among:
                raise ConfigError(f"no {name} given")
            if chosen not in among:
                raise ConfigError(f"report_{name} {chosen} is not among the {name}s compared ({', '.join(among)})")


@dataclass(kw_only=True)
class MineOptions(MineSettings, MineEvalSettings):
    """The command line of ``xlt mine``: every setting of both modes (:class:`MineSettings`,
    :class:`MineEvalSettings`), ``eval`` choosing the mode. Its options are checked together, the
    run takes the mode's own settings class.

    Attributes:
        eval: ``ntrex``: evaluate mining (:class:`MineEvalSettings`); None: mine SRC and TGT.
    """

    eval: Literal["ntrex"] | None = option(None, help="evaluate mining on tasks built from this corpus")

    def mode_settings(self) -> MineSettings | MineEvalSettings:
        """The settings of the mode ``eval`` chooses: the fields of that class, with these values."""
        cls = MineEvalSettings if self.eval else MineSettings
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in vars(self).items() if k in names})


# --------------------------------------------------------------------------- mining two files


@dataclass
class MineResult:
    """What :func:`run_mine` wrote.

    Attributes:
        n_pairs: pairs written. out: the TSV. report_path: its ``.report.json``.
        counts: ``{"src"|"tgt": {"lines", "kept", "skipped_empty", "skipped_duplicate"}}``.
        seconds: per stage (``embed_src``, ``embed_tgt``, ``search_and_select``, ``total``).
        report: the report (as written).
    """

    n_pairs: int
    out: Path
    report_path: Path
    counts: dict[str, dict]
    seconds: dict[str, float]
    report: dict[str, Any]


_MINE_KEYS = ("src", "tgt", "src_embeddings", "tgt_embeddings", "out", "model", "margin", "strategy", "k", "threshold",
              "index", *_KNN_KEYS, "chunk_size", "memmap_above", "work_dir", "layer", "pooling", "batch_size", "seed",
              "overwrite")


@dataclass
class _Side:
    """One side of a mining run: sentences from a file (embedded by the run) or an ``xlt embed`` folder."""

    name: str
    texts: list[str]
    counts: dict[str, Any]
    data_file: str
    text: Any = None  # MonolingualText of a file side
    shards: Any = None  # ShardedEmbeddings of a folder side


def _open_side(settings: MineSettings, name: str) -> _Side:
    """Read side ``name`` (``src``/``tgt``): the file's sentences, or the folder's manifest, hashes
    and texts (:meth:`ShardedEmbeddings.open <xlt.models.shards.ShardedEmbeddings.open>`, verified).

    Raises:
        ConfigError: both or neither of the file and the folder; vectors that are not unit length.
        ShardError: a bad folder. FileNotFoundError, DataFormatError: an unreadable file.
    """
    path, folder = getattr(settings, name), getattr(settings, f"{name}_embeddings")
    if path and folder:
        raise ConfigError(f"give either {name.upper()} or --{name}-embeddings, not both")
    if folder:
        emb = ShardedEmbeddings.open(folder, verify=True)
        if not emb.unit:
            raise ConfigError(f"--{name}-embeddings {folder}: the vectors are not unit length (manifest normalisation "
                              f"{emb.manifest.get('normalisation')!r}); mining compares cosines, embed with unit "
                              "normalisation")
        return _Side(name, emb.texts(), {"rows": emb.n_rows, "shards": emb.n_shards, "dim": emb.dim,
                                         "model": emb.manifest.get("model")},
                     str(Path(folder) / MANIFEST), shards=emb)
    text = read_sentences(path)
    return _Side(name, text.sentences, text.counts(), str(path), text=text)


def run_mine(settings: MineSettings, command: list[str] | None = None) -> MineResult:
    """Mine ``settings.src`` × ``settings.tgt``; write the pairs and ``<out stem>.report.json``.

    Either side can be an ``xlt embed`` folder (``src_embeddings``/``tgt_embeddings``) instead of a
    file: its shards are verified and then searched out of core, shard by shard (the index is
    filled from one side's shards, the other side's shards are the queries; see
    :func:`xlt.retrieval.mining.knn_search`); with both sides as folders no model is loaded.

    Returns:
        a :class:`MineResult`; its report: counts per side (lines, kept, skipped empty/duplicate;
        rows and shards of a folder), number of pairs, score range, ``index`` (per direction: kind,
        FAISS spec, nlist, nprobe or ef_search, training sample size, build and search seconds,
        recall@k against exact search on a sample, and the peak resident memory), seconds and
        sentences/s per stage, config, manifest.

    Raises:
        ConfigError: no SRC/TGT file or folder, or both for one side; no ``out``; the two folders'
        vectors of different dims; a folder's vectors not unit length. ShardError: a bad
        embeddings folder (missing file, hash mismatch). FileNotFoundError, DataFormatError:
        unreadable or empty input. OutputError: ``out`` is an input; FileExistsError: ``out``
        exists and ``overwrite`` is off (all checked before the model loads).
    """
    if not ((settings.src or settings.src_embeddings) and (settings.tgt or settings.tgt_embeddings)):
        raise ConfigError("give SRC and TGT files or --src-embeddings/--tgt-embeddings folders (or --eval ntrex)")
    if settings.out is None:
        raise ConfigError("--out is required (the output TSV)")
    t0 = time.perf_counter()
    sides = [_open_side(settings, "src"), _open_side(settings, "tgt")]
    folders = [s for s in sides if s.shards is not None]
    if len(folders) == 2 and folders[0].shards.dim != folders[1].shards.dim:
        raise ConfigError(f"--src-embeddings {settings.src_embeddings} holds {folders[0].shards.dim}-dim vectors but "
                          f"--tgt-embeddings {settings.tgt_embeddings} holds {folders[1].shards.dim}-dim ones: embed "
                          "both sides with the same model")
    if len(folders) == 2 and (diff := embedding_differences(folders[0].shards.manifest, folders[1].shards.manifest)):
        raise ConfigError(f"--src-embeddings {settings.src_embeddings} and --tgt-embeddings {settings.tgt_embeddings} "
                          f"were embedded differently ({', '.join(diff)}): embed both sides with the same settings")
    OutputPlan(inputs=[(f"--{s.name}-embeddings" if s.shards is not None else s.name,
                        getattr(settings, f"{s.name}_embeddings") or getattr(settings, s.name)) for s in sides]
               + [("--model", settings.model)],
               outputs=[Output("--out", settings.out, "file")]
               + ([Output("--work-dir", settings.work_dir, "store")] if settings.work_dir else []),
               overwrite=settings.overwrite).check()
    encoder = (loading.load_encoder(settings.model, device="auto", **settings.encoder_options()) if len(folders) < 2
               else None)
    if encoder is not None and folders and folders[0].shards.dim != encoder.hidden_size:
        f = folders[0]
        raise ConfigError(f"--{f.name}-embeddings {getattr(settings, f.name + '_embeddings')} holds "
                          f"{f.shards.dim}-dim vectors but --model {settings.model} makes {encoder.hidden_size}-dim ones")
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=settings.work_dir, prefix="xlt-mine-") as tmp:
        emb = [s.shards if s.shards is not None
               else _embed_side(encoder, s.text, settings, Path(tmp) / f"{s.name}.npy", seconds, s.name)
               for s in sides]
        t = time.perf_counter()
        cands = score_candidates(emb[0], emb[1], k=settings.k, margin=settings.margin, index=settings.index,
                                 chunk_size=settings.chunk_size, progress=settings.progress, seed=settings.seed,
                                 **settings.knn_options())
        pairs = select_pairs(cands, settings.strategy, settings.threshold)
        seconds["search_and_select"] = round(time.perf_counter() - t, 3)
        del emb
    out = Path(settings.out)
    _write_pairs(out, pairs, sides[0].texts, sides[1].texts)
    seconds["total"] = round(time.perf_counter() - t0, 3)
    model_info = encoder.describe() if encoder is not None else {
        "name": folders[0].shards.manifest.get("model"), "fingerprint": folders[0].shards.manifest.get("model_fingerprint"),
        "from": "the embeddings manifest"}
    report = _mine_report(settings, command, sides, pairs, cands.info, seconds, model_info)
    rep_path = out.with_name(out.stem + ".report.json")
    write_json(rep_path, report)
    return MineResult(n_pairs=len(pairs), out=out, report_path=rep_path, counts=report["counts"], seconds=seconds,
                      report=report)


def _embed_side(encoder, side, settings: MineSettings, memmap: Path, seconds: dict, name: str) -> np.ndarray:
    """One side's unit-length embeddings (in a disk memmap when longer than ``memmap_above``); its
    seconds go to ``seconds["embed_<name>"]``."""
    t = time.perf_counter()
    emb = embed_to_array(encoder, side.sentences, chunk_size=settings.chunk_size,
                         memmap_path=memmap if len(side.sentences) > settings.memmap_above else None,
                         batch_size=settings.batch_size, layer=parse_layer(settings.layer), pooling=settings.pooling,
                         progress=settings.progress)
    seconds[f"embed_{name}"] = round(time.perf_counter() - t, 3)
    return emb


def _write_pairs(out: Path, pairs, src: list[str], tgt: list[str]) -> None:
    """``score<TAB>src<TAB>tgt`` lines, best first, written atomically (all or nothing)."""
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8") as f:
            for s, i, j in zip(pairs.scores, pairs.src, pairs.tgt):
                f.write(f"{s:.6f}\t{src[i]}\t{tgt[j]}\n")

    atomic_write(out, write)


def _mine_report(settings: MineSettings, command, sides: list[_Side], pairs, index_info: dict, seconds: dict,
                 model_info: dict) -> dict[str, Any]:
    """The report of :func:`run_mine` (``<out stem>.report.json``)."""
    n_emb = sum(len(s.texts) for s in sides)
    cfg = report_config(settings, _MINE_KEYS)
    argv = command if command is not None else sys.argv
    embed_seconds = sum(v for k, v in seconds.items() if k.startswith("embed_"))
    speeds = {"search": round(n_emb / max(seconds["search_and_select"], 1e-9), 1)}
    if embed_seconds:
        n_embedded = sum(len(s.texts) for s in sides if s.shards is None)
        speeds = {"embedding": round(n_embedded / max(embed_seconds, 1e-9), 1), **speeds}
    return {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "mine",
        "model": model_info.get("name", settings.model) if all(s.shards is not None for s in sides) else settings.model,
        "counts": {s.name: s.counts for s in sides},
        "n_pairs": len(pairs),
        "score_range": [float(pairs.scores.min()), float(pairs.scores.max())] if len(pairs) else None,
        "index": {**index_info, "peak_rss_mib": peak_rss_mib()},
        "seconds": seconds,
        "sentences_per_second": speeds,
        "output": str(settings.out),
        "config": cfg,
        "manifest": build_manifest(cfg, [s.data_file for s in sides], model_info, [settings.seed]),
    }


# --------------------------------------------------------------------------- NTREX evaluation


@dataclass
class MineEvalResult:
    """What :func:`run_mine_eval` measured.

    Attributes:
        scores: language -> test F1 (%) of ``report_margin/report_strategy``.
        average: their mean (%).
        method_average_f1: ``"margin/strategy"`` -> F1 (%) averaged over the languages.
        methods: language -> ``"margin/strategy"`` -> threshold, P, R, F1, oracle F1.
        report: the full report (written with :func:`xlt.evaluate.report.write_report` when ``out`` is set).
        out: the report folder (None: not written).
    """

    scores: dict[str, float]
    average: float
    method_average_f1: dict[str, float]
    methods: dict[str, dict]
    report: dict[str, Any]
    out: Path | None = None


_EVAL_KEYS = ("langs", "model", "margins", "strategies", "k", "parallel_fraction", "report_margin", "report_strategy",
              "index", *_KNN_KEYS, "layer", "pooling", "batch_size", "distractors", "distractor_min_words", "seed", "data_dir",
              "out", "overwrite")


def panx_distractors(lang: str, n: int, min_words: int = 0, data_dir: str | Path | None = None,
                     seed: int = 0) -> tuple[list[str], dict[str, Any]]:
    """Up to ``n`` unique PAN-X sentences (tokens joined by spaces; no spaces for zh/ja) of ``lang``.

    Sentences are drawn in a seeded random order from the language's PAN-X evaluation file
    (``dev-en.tsv`` for English), skipping those with fewer than ``min_words`` tokens.

    Returns:
        ``(sentences, info)`` with the file, its sentence count and how many were kept.

    Raises:
        UnknownLanguageError: PAN-X has no such language. DatasetNotFoundError: no PAN-X folder.
    """
    avail = tasks.available_languages("panx", data_dir)
    code = tasks.match_task_language("panx", lang, data_dir)
    path = avail[code]
    if code == "en" and not path.name.startswith("dev"):
        path = path.with_name("dev-en.tsv")
    examples, _ = tasks.load_split("panx", path)
    joiner = "" if iso639_3(code) in {"zho", "jpn"} else " "
    order = np.random.default_rng(seed).permutation(len(examples))
    texts = [joiner.join(examples[i].tokens) for i in order if len(examples[i].tokens) >= min_words]
    kept = unique_sentences(texts).sentences[:n]
    return kept, {"file": str(path), "sentences_in_file": len(examples), "used": len(kept)}


class _Embedder:
    """Embeds texts with one run's settings, counting sentences and seconds, and adds each language's
    PAN-X distractors when asked (:func:`panx_distractors`)."""

    def __init__(self, encoder, settings: MineEvalSettings) -> None:
        self.encoder, self.settings = encoder, settings
        self.n, self.seconds = 0, 0.0
        self.distractors: dict[str, Any] = {}
        self.files: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        s, t = self.settings, time.perf_counter()
        emb = embed_to_array(self.encoder, texts, batch_size=s.batch_size, layer=parse_layer(s.layer),
                             pooling=s.pooling, progress=False)
        self.n, self.seconds = self.n + len(texts), self.seconds + time.perf_counter() - t
        return emb

    def extra(self, lang: str, panx_lang: str) -> np.ndarray | None:
        """The embedded distractors of ``lang`` (None without distractors)."""
        s = self.settings
        if not s.distractors:
            return None
        texts, self.distractors[lang] = panx_distractors(panx_lang, s.distractors, s.distractor_min_words,
                                                         s.data_dir, s.seed)
        self.files.append(self.distractors[lang]["file"])
        return self(texts)


def run_mine_eval(settings: MineEvalSettings, command: list[str] | None = None) -> MineEvalResult:
    """BUCC-style mining evaluation on NTREX for each language against English.

    Returns:
        a :class:`MineEvalResult`; its report is in the ``xlt transfer`` layout (``scores`` = test F1
        of ``report_margin/report_strategy`` per language, in percent) with ``methods``: language →
        margin/strategy → threshold, P, R, F1, oracle F1; written with
        :func:`xlt.evaluate.report.write_report` when ``settings.out`` is set.

    Raises:
        UnknownLanguageError: a language not in NTREX; DatasetNotFoundError: no NTREX folder;
        DataFormatError: files of different lengths; ConfigError: no target language.
    """
    OutputPlan(inputs=[("--model", settings.model), ("--data-dir", data_set_folders(settings.data_dir))],
               outputs=[Output("--out", settings.out)] if settings.out else [], overwrite=settings.overwrite).check()
    t0 = time.perf_counter()
    files = select_ntrex(",".join(settings.langs), settings.data_dir)
    if len(files) < 2:
        raise ConfigError("give at least one target language with --langs")
    corpus = read_multiparallel(files)
    embed = _Embedder(loading.load_encoder(settings.model, device="auto", **settings.encoder_options()), settings)
    x_all, x_extra = embed(corpus.texts[NTREX_SOURCE]), embed.extra(NTREX_SOURCE, "en")
    per_lang = {}
    for lang in tqdm([l for l in files if l != NTREX_SOURCE], desc="languages", disable=not settings.progress):
        y_all, y_extra = embed(corpus.texts[lang]), embed.extra(lang, lang)
        per_lang[lang] = evaluate_language(x_all, y_all, corpus.texts[NTREX_SOURCE], corpus.texts[lang],
                                           margins=settings.margins, strategies=settings.strategies, k=settings.k,
                                           parallel_fraction=settings.parallel_fraction, seed=settings.seed,
                                           index=settings.index, x_extra=x_extra, y_extra=y_extra,
                                           knn_options=settings.knn_options())
    report = _mine_eval_report(settings, command, per_lang, corpus.n_skipped_empty, embed, time.perf_counter() - t0,
                               list(files.values()))
    if settings.out:
        write_report(settings.out, report)
    return MineEvalResult(scores=report["scores"], average=report["average"],
                          method_average_f1=report["method_average_f1"], methods=report["methods"], report=report,
                          out=settings.out)


def _mine_eval_report(settings: MineEvalSettings, command, per_lang: dict, n_skipped_empty: int, embed: _Embedder,
                      seconds: float, files: list) -> dict[str, Any]:
    """The report of :func:`run_mine_eval` (``xlt transfer``'s layout, with the per-method tables)."""
    head = f"{settings.report_margin}/{settings.report_strategy}"
    scores = {l: r["methods"][head]["f1"] for l, r in per_lang.items()}
    counts = {l: {"sentences": r["tasks"]["test"]["tgt"], "skipped_empty": n_skipped_empty,
                  "gold_pairs_test": r["tasks"]["test"]["gold"]} for l, r in per_lang.items()}
    cfg = report_config(settings, _EVAL_KEYS, joined=("langs", "margins", "strategies"))
    argv = command if command is not None else sys.argv
    method_avgs = {m: float(np.mean([per_lang[l]["methods"][m]["f1"] for l in per_lang]))
                   for m in next(iter(per_lang.values()))["methods"]}
    return {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "ntrex-mining",
        "model": settings.model,
        "mode": f"mining ({settings.report_margin} margin, {settings.report_strategy})",
        "source": NTREX_SOURCE,
        "metric": "f1",
        "metric_name": "mining F1 (%) vs English, threshold from the dev half",
        "scores": scores,
        "average": float(np.mean(list(scores.values()))),
        "n_targets": len(scores),
        "methods": {l: r["methods"] for l, r in per_lang.items()},
        "method_average_f1": method_avgs,
        "tasks": {l: r["tasks"] for l, r in per_lang.items()},
        "index": {**{l: r["index"] for l, r in per_lang.items()}, "peak_rss_mib": peak_rss_mib()},
        "distractors": embed.distractors,
        "counts": counts,
        "seconds": {"total": round(seconds, 1), "embedding": round(embed.seconds, 1)},
        "sentences_per_second": {"embedding": round(embed.n / max(embed.seconds, 1e-9), 1)},
        "config": cfg,
        "extra_markdown": [
            _methods_markdown(per_lang, "f1", "Test F1 (%) per margin and strategy (threshold from the dev half)"),
            _methods_markdown(per_lang, "oracle_f1", "Oracle test F1 (%) (best threshold on the test half itself)"),
        ],
        "manifest": build_manifest(cfg, files + embed.files, embed.encoder.describe(), [settings.seed]),
    }


def _methods_markdown(per_lang: dict[str, dict[str, Any]], key: str, title: str) -> str:
    langs = list(per_lang)
    methods = list(next(iter(per_lang.values()))["methods"])
    head = f"## {title}\n\n| margin/strategy | " + " | ".join(langs) + " | average |\n|---|" + "---:|" * (len(langs) + 1)
    rows = []
    for m in methods:
        vals = [per_lang[l]["methods"][m][key] for l in langs]
        rows.append(f"| {m} | " + " | ".join(f"{v:.1f}" for v in vals) + f" | {np.mean(vals):.1f} |")
    return "\n".join([head, *rows])


def run(settings: MineSettings | MineEvalSettings, command: list[str] | None = None) -> MineResult | MineEvalResult:
    """:func:`run_mine_eval` for :class:`MineEvalSettings`, :func:`run_mine` for :class:`MineSettings`
    (a :class:`MineOptions`: by its ``eval``)."""
    if isinstance(settings, MineOptions):
        settings = settings.mode_settings()
    if isinstance(settings, MineEvalSettings):
        return run_mine_eval(settings, command)
    return run_mine(settings, command)
