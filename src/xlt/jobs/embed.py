"""``xlt embed`` as a job: a text corpus → sharded sentence embeddings on disk, resumable shard by shard.

:func:`run` reads the inputs (:func:`xlt.data.corpus.read_corpus`: text, JSONL, CSV/TSV, Parquet,
saved Hugging Face datasets), cuts the texts into shards of ``shard_size`` rows, embeds each shard
with :meth:`Encoder.encode_sentences <xlt.models.encoder.Encoder.encode_sentences>`
(:func:`xlt.jobs.distributed.encode_shard`) and writes an embeddings folder
(:mod:`xlt.models.shards`: ``shard-NNNNN.npy`` files, ``texts.jsonl``, ``manifest.json``) plus
``report.json`` (rows, shards, tokens, tokens/s, seconds, skipped lines, run manifest).

Resuming: the manifest is rewritten after every shard, listing the finished ones with their
SHA-256. A rerun into the same folder checks that it was made from the same inputs (their
contents' SHA-256), model and settings (else a ``ConfigError``, before the model loads), checks
every listed shard's hash, keeps the good shards and makes the missing or corrupt ones again;
the final shards and manifest are byte-identical to those of an uninterrupted run (the manifest
holds no time stamps; they are in ``report.json``). ``overwrite`` starts the folder afresh.

With ``cluster`` the shards are Dask tasks (:class:`xlt.jobs.distributed.ClusterRunner`; the model is loaded on the workers only): the
same shards and manifest, made by several worker processes or machines.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tqdm.auto import tqdm

from xlt.core.outputs import Output, OutputPlan
from xlt.data.corpus import input_fingerprint, read_corpus
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import write_json
from xlt.jobs import ConfigError
from xlt.jobs.distributed import ShardSpec, check_cluster, parse_cluster, runner
from xlt.jobs.parts_aligncmds import FileRunSettings, same_field
from xlt.jobs.settings import AT_LEAST_1, EncodingSettings, option
from xlt.models.shards import (FORMAT, MANIFEST, TEXTS, VERSION, ShardError, ShardInfo, file_sha256, read_manifest,
                               shard_name, write_manifest, write_texts)

__all__ = ["EmbedResult", "EmbedSettings", "run"]

#: The manifest keys a resumed run must share with the folder's (besides the inputs and the model's fingerprint).
IDENTITY_KEYS = ("model", "backend", "int8", "text_prefix_option", "layer", "pooling", "batch_size", "normalisation", "dtype",
                 "shard_size", "column", "dedup")


@dataclass(kw_only=True)
class EmbedSettings(FileRunSettings, EncodingSettings):
    """Settings of ``xlt embed`` (with :class:`~xlt.jobs.parts_aligncmds.FileRunSettings`: model, backend,
    int8, out, overwrite, progress; and :class:`~xlt.jobs.settings.EncodingSettings`: layer, pooling, batch size).

    Attributes:
        inputs: the corpus files (the command line's ``INPUT...``; required): text, JSONL, CSV,
            TSV, Parquet or a saved Hugging Face dataset folder (:mod:`xlt.data.corpus`).
        out: the embeddings folder (required). An existing one made by ``xlt embed`` with the same
            inputs and settings is resumed; ``overwrite`` starts it afresh.
        column: the text column of JSONL/CSV/TSV/Parquet/dataset inputs (default ``text``).
        shard_size: rows per shard. prefix: text put before every input (E5: ``query: `` or
            ``passage: ``; None: the model's own). dtype: of the stored vectors.
        normalize: L2-normalise every vector (``normalisation: unit``; what mining and cosine
            retrieval expect). dedup: skip texts seen before (counted).
        cluster: ``local:N`` (N Dask worker processes here) or a Dask scheduler address
            (``tcp://HOST:8786``); None: this process.
    """

    inputs: list[Path] = option(default_factory=list, cli=False, help="corpus files (text, JSONL, CSV, TSV, "
                                                                      "Parquet, saved HF dataset folders)")
    out: Path | None = same_field(FileRunSettings, "out", help="the embeddings folder (required; an unfinished "
                                                               "one is resumed)")
    column: str | None = option(None, help="text column of JSONL/CSV/TSV/Parquet/dataset inputs (default: text)")
    shard_size: int = option(100_000, help="rows per shard", check=AT_LEAST_1)
    prefix: str | None = option(None, help="text prefix of every input (E5: 'query: ' or 'passage: '; default: "
                                           "the model's own)")
    dtype: Literal["float32", "float16"] = option("float32", help="stored vector type")
    normalize: bool = option(True, help="L2-normalise every vector (unit length)",
                             negative_help="store vectors as pooled (no normalisation)")
    dedup: bool = option(False, help="skip texts seen before (counted in the report)")
    cluster: str | None = option(None, help="run shards as Dask tasks: local:N (N worker processes) or a "
                                            "scheduler address tcp://HOST:8786")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cluster is not None:
            parse_cluster(self.cluster)


@dataclass
class EmbedResult:
    """What :func:`run` wrote.

    Attributes:
        out: the embeddings folder. n_rows: vectors. n_shards: shards. n_made: shards embedded by
        this run (the others were resumed). report: ``report.json`` as written.
    """

    out: Path
    n_rows: int
    n_shards: int
    n_made: int
    report: dict[str, Any]


def _identity(settings: EmbedSettings) -> dict[str, Any]:
    return {"model": settings.model, **settings.encoder_options(), "text_prefix_option": settings.prefix, "layer": settings.layer,
            "pooling": settings.pooling, "batch_size": settings.batch_size,
            "normalisation": "unit" if settings.normalize else "none", "dtype": settings.dtype,
            "shard_size": settings.shard_size, "column": settings.column, "dedup": settings.dedup}


def _resumable(out: Path, settings: EmbedSettings, inputs: list[dict]) -> dict[str, Any] | None:
    """The folder's manifest when ``out`` holds a run to resume (checked against this one), None when
    ``out`` is absent or empty.

    Raises:
        FileExistsError: a non-empty folder that is no embeddings folder (without ``overwrite``).
        ConfigError: one made with other settings or inputs (names what differs).
    """
    if not out.exists() or not any(out.iterdir()):
        return None
    if not (out / MANIFEST).is_file():
        raise FileExistsError(f"--out {out} is a non-empty folder that xlt embed did not make; give an empty or new "
                              "folder, or --overwrite to replace it")
    try:
        m = read_manifest(out)
    except ShardError as exc:
        raise ConfigError(f"cannot resume --out {out}: {exc}; --overwrite starts afresh") from None
    old = m.get("settings", {})
    new = _identity(settings)
    diff = [k for k in IDENTITY_KEYS if old.get(k) != new[k]]
    if diff:
        shown = ", ".join(f"{k} {old.get(k)!r} -> {new[k]!r}" for k in diff)
        raise ConfigError(f"--out {out} was made with other settings ({shown}); use the same settings to resume it, "
                          "another folder, or --overwrite")
    old_in = [(i.get("bytes"), i.get("sha256")) for i in m.get("inputs", [])]
    if old_in != [(i["bytes"], i["sha256"]) for i in inputs]:
        raise ConfigError(f"--out {out} was made from other inputs (their contents differ: "
                          f"{', '.join(i.get('path', '?') for i in m.get('inputs', []))}); resume it with the same "
                          "inputs, use another folder, or --overwrite")
    return m


def _good_shards(out: Path, m: dict[str, Any], n_shards: int) -> tuple[dict[int, ShardInfo], list[str]]:
    """The listed shards whose file exists and whose SHA-256 matches, by index; and the names of
    the listed ones that did not (missing or corrupt: made again)."""
    good: dict[int, ShardInfo] = {}
    bad: list[str] = []
    names = {shard_name(i): i for i in range(n_shards)}
    for s in m["shards"]:
        i = names.get(s["file"])
        path = out / s["file"]
        if i is not None and path.is_file() and file_sha256(path) == s["sha256"]:
            good[i] = ShardInfo(**s)
        else:
            bad.append(s["file"])
    return good, bad


def run(settings: EmbedSettings, command: list[str] | None = None) -> EmbedResult:
    """Embed ``settings.inputs`` into the folder ``settings.out`` (see the module docstring).

    Returns:
        an :class:`EmbedResult`; ``report.json`` in the folder holds: counts per input (rows,
        kept, skipped empty/duplicate), rows, shards (made by this run / resumed / re-made after a
        hash mismatch), tokens (prefix and text subword tokens, specials excluded, of the shards this
        run made), tokens/s and sentences/s of embedding, seconds, config, run manifest.

    Raises:
        ConfigError: no inputs or ``out``; a folder made with other settings or inputs; a bad
            ``cluster`` or no Dask.
        FileNotFoundError: a missing input. DataFormatError: a bad input (file and line named).
        OutputError: ``out`` is, holds or lies inside an input.
        FileExistsError: ``out`` is a non-empty folder not made by ``xlt embed`` (without
            ``overwrite``). All of these before the model loads.
    """
    if not settings.inputs:
        raise ConfigError("give the corpus file(s) to embed")
    if settings.out is None:
        raise ConfigError("--out is required (the embeddings folder)")
    t0 = time.perf_counter()
    out = Path(settings.out)
    OutputPlan(inputs=[("INPUT", list(settings.inputs)), ("--model", settings.model)],
               outputs=[Output("--out", out, "store")], overwrite=settings.overwrite).check()
    if settings.cluster:
        check_cluster(settings.cluster)
    corpus = read_corpus(settings.inputs, column=settings.column, dedup=settings.dedup)
    inputs = input_fingerprint(settings.inputs)
    if settings.overwrite and out.exists():
        shutil.rmtree(out)
    old = _resumable(out, settings, inputs)
    n_shards = -(-len(corpus.texts) // settings.shard_size)
    good, bad = _good_shards(out, old, n_shards) if old else ({}, [])
    out.mkdir(parents=True, exist_ok=True)

    spec = ShardSpec(model=settings.model, prefix=settings.prefix, layer=settings.layer, pooling=settings.pooling,
                     batch_size=settings.batch_size, normalize=settings.normalize, dtype=settings.dtype,
                     **settings.encoder_options())
    with runner(spec, settings.cluster) as work:
        model = work.describe()
        made = _make(work, model, settings, out, old, corpus, inputs, n_shards, good)
    report = _report(settings, command, made["manifest"], corpus, made["stats"], made["seconds"],
                     time.perf_counter() - t0, n_shards, len(made["todo"]), len(good), bad, model, work.info)
    write_json(out / "report.json", report)
    return EmbedResult(out=out, n_rows=len(corpus.texts), n_shards=n_shards, n_made=len(made["todo"]), report=report)


def _make(work, model: dict, settings: EmbedSettings, out: Path, old: dict | None, corpus, inputs: list[dict],
          n_shards: int, good: dict[int, ShardInfo]) -> dict[str, Any]:
    """Write the texts and the missing shards with the runner ``work``, the manifest after each shard.

    Returns:
        ``{"manifest", "stats", "seconds", "todo"}``: the final manifest, summed encoder counters,
        seconds of embedding, the shard indices made.

    Raises:
        ConfigError: the folder was made with other model weights (fingerprint).
    """
    texts = corpus.texts
    if old and old.get("model_fingerprint") != model["fingerprint"]:
        raise ConfigError(f"--out {out} was made with other model weights (fingerprint {old.get('model_fingerprint')}"
                          f", now {model['fingerprint']}); use another folder or --overwrite")
    texts_entry = {"file": TEXTS, "rows": len(texts)}
    if not (old and old["texts"].get("sha256") and (out / TEXTS).is_file()
            and file_sha256(out / TEXTS) == old["texts"]["sha256"]):
        texts_entry = write_texts(out / TEXTS, texts)
    else:
        texts_entry = dict(old["texts"])
    manifest: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "model": settings.model, "model_fingerprint": model["fingerprint"],
        "text_prefix": model["text_prefix"], "pooling": settings.pooling, "layer": settings.layer,
        "normalisation": "unit" if settings.normalize else "none", "dim": model["hidden_size"],
        "dtype": settings.dtype, "shard_size": settings.shard_size, "n_rows": len(texts), "texts": texts_entry,
        "inputs": inputs, "counts": {"files": corpus.files, **corpus.counts()}, "settings": _identity(settings),
        "complete": False, "shards": [],
    }
    done = dict(good)

    def save() -> None:  # the finished shards in shard order, atomically
        manifest["shards"] = [done[j].to_dict() for j in sorted(done)]
        manifest["complete"] = len(done) == n_shards
        write_manifest(out, manifest)

    save()
    todo = [i for i in range(n_shards) if i not in done]
    stats = {"n_subwords": 0, "n_model_tokens": 0, "n_texts": 0}
    t_embed = time.perf_counter()
    bar = tqdm(total=sum(min(settings.shard_size, len(texts) - i * settings.shard_size) for i in todo),
               desc="embedding", unit="sent", disable=not settings.progress)

    def finished(i: int, info: ShardInfo, st: dict) -> None:
        for k in stats:
            stats[k] += int(st.get(k, 0))
        done[i] = info
        save()
        bar.update(info.rows)
        bar.set_postfix(tok_s=f"{stats['n_subwords'] / max(time.perf_counter() - t_embed, 1e-9):,.0f}")

    with bar:
        if todo:
            work.run([(i, texts[i * settings.shard_size:(i + 1) * settings.shard_size], out / shard_name(i))
                      for i in todo], finished)
    return {"manifest": manifest, "stats": stats, "seconds": time.perf_counter() - t_embed, "todo": todo}


def _report(settings: EmbedSettings, command, manifest, corpus, stats, embed_s: float, total_s: float, n_shards: int,
            n_made: int, n_resumed: int, bad: list[str], model: dict, cluster_info) -> dict[str, Any]:
    argv = command if command is not None else sys.argv
    cfg = {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v)
           for k, v in settings.to_dict().items()}
    return {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "embed",
        "model": settings.model,
        "out": str(settings.out),
        "rows": manifest["n_rows"],
        "dim": manifest["dim"],
        "shards": {"total": n_shards, "made": n_made, "resumed": n_resumed, "remade_after_hash_mismatch": len(bad),
                   "remade_files": bad},
        "counts": manifest["counts"],
        "tokens": {"subword": stats["n_subwords"], "model": stats["n_model_tokens"], "texts": stats["n_texts"]},
        "seconds": {"embedding": round(embed_s, 3), "total": round(total_s, 3)},
        "tokens_per_second": round(stats["n_subwords"] / embed_s, 1) if embed_s > 0 and n_made else None,
        "sentences_per_second": round(stats["n_texts"] / embed_s, 1) if embed_s > 0 and n_made else None,
        "cluster": cluster_info,
        "config": cfg,
        "manifest": build_manifest(cfg, list(settings.inputs), model),
    }
