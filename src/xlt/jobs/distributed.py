"""Embedding shards in one process or as Dask tasks on a cluster (``xlt embed --cluster``).

One shard is the unit of work everywhere: :func:`encode_shard` embeds a shard's texts with
:meth:`Encoder.encode_sentences <xlt.models.encoder.Encoder.encode_sentences>` and writes its
``.npy`` file atomically (:func:`xlt.models.shards.write_shard`). The single-process path of
:mod:`xlt.jobs.embed` calls it in a loop; :func:`run_on_cluster` submits one Dask task per shard
(Dask ``distributed``: Rocklin 2015, "Dask: Parallel Computation with Blocked algorithms and Task
Scheduling"), each running the same function on a worker that loads the model once
(:func:`worker_encoder`: a per-process cache) and writes its shard file itself, while the client
collects the shard hashes and writes the manifest. So both paths give the same bytes, given the
same torch build and thread count per process (Dask's nanny starts workers with
``OMP_NUM_THREADS=1``; the tests compare them with one torch thread).

Clusters (:func:`parse_cluster`): ``local:N`` starts a ``distributed.LocalCluster`` of ``N`` worker
processes with one thread each, for one machine; ``tcp://HOST:PORT`` (or ``tls://``) joins a running
scheduler (``dask scheduler`` plus ``dask worker`` processes, or ``dask-jobqueue`` on Slurm/PBS),
whose workers must see the output folder at the same path (a shared file system) and have xlt and
the model installed. Dask is an optional dependency (``pip install 'xlt[distributed]'``), imported only here.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xlt.jobs import ConfigError
from xlt.models import loading  # loading.load_encoder is looked up at call time (tests replace it)
from xlt.models.features import parse_layer
from xlt.models.shards import ShardInfo, write_shard

__all__ = ["ShardSpec", "check_cluster", "encode_shard", "load_shard_encoder", "parse_cluster", "run_on_cluster",
           "worker_encoder"]

_CLUSTER = re.compile(r"^(local:(?P<n>[1-9][0-9]{0,3})|(?P<addr>(tcp|tls|inproc|ucx)://\S+))$")


@dataclass(frozen=True)
class ShardSpec:
    """How every shard of a run is embedded (sent to the workers with each task).

    Attributes:
        model: the model spec (:func:`xlt.models.loading.load_encoder`). prefix: the text prefix
            (None: the model's own). layer: ``last`` or a layer number. pooling: ``mean``/``cls``.
        batch_size: texts per forward pass. normalize: L2-normalise every row. dtype: of the shard
            files (``float32``/``float16``). device: torch device (``auto``: CUDA when available).
    """

    model: str
    prefix: str | None
    layer: str
    pooling: str
    batch_size: int
    normalize: bool
    dtype: str
    device: str = "auto"


def parse_cluster(cluster: str) -> tuple[str, int | str]:
    """``"local:2"`` → ``("local", 2)``; ``"tcp://host:8786"`` → ``("address", "tcp://host:8786")``.

    Raises:
        ConfigError: anything else (the message gives both forms).
    """
    m = _CLUSTER.match(cluster.strip())
    if not m:
        raise ConfigError(f"--cluster {cluster}: expected local:N (N worker processes on this machine) or the "
                          "address of a Dask scheduler (tcp://HOST:8786)")
    return ("local", int(m["n"])) if m["n"] else ("address", m["addr"])


def check_cluster(cluster: str) -> None:
    """Check ``cluster``'s form and that Dask's ``distributed`` is installed (before a model loads).

    Raises:
        ConfigError: a bad form, or no ``distributed`` package (says which extra to install).
    """
    parse_cluster(cluster)
    try:
        import distributed  # noqa: F401  # optional dependency
    except ImportError:
        raise ConfigError("--cluster needs Dask: pip install 'xlt[distributed]' (dask[distributed])") from None


_ENCODERS: dict[tuple, Any] = {}


def load_shard_encoder(spec: ShardSpec):
    """The encoder of ``spec`` (:func:`xlt.models.loading.load_encoder`), with ``spec.prefix`` as its
    text prefix when given.

    Raises:
        ModelLoadError: the model does not load.
    """
    enc = loading.load_encoder(spec.model, device=spec.device)
    if spec.prefix is not None:
        enc.text_prefix = spec.prefix
    return enc


def worker_encoder(spec: ShardSpec):
    """:func:`load_shard_encoder`, loaded once per process and kept (so each Dask worker loads the model
    on its first task only; a task with another spec replaces it)."""
    key = (spec.model, spec.prefix, spec.device)
    if key not in _ENCODERS:
        _ENCODERS.clear()
        _ENCODERS[key] = load_shard_encoder(spec)
    return _ENCODERS[key]


def encode_shard(encoder, texts: Sequence[str], spec: ShardSpec, path: str | Path) -> tuple[ShardInfo, dict[str, int]]:
    """Embed one shard's texts and write them to ``path`` (atomically).

    Vectors are :meth:`Encoder.encode_sentences <xlt.models.encoder.Encoder.encode_sentences>`'s
    ``(len(texts), dim)`` float32 with ``spec``'s layer, pooling, batch size and normalisation,
    stored as ``spec.dtype``.

    Returns:
        ``(ShardInfo, stats)``: the file's entry for the manifest, and ``encode_sentences``' counters
        (``n_subwords``: prefix and text tokens, specials excluded; ``n_model_tokens``; ...).
    """
    vectors, stats = encoder.encode_sentences(list(texts), layers=parse_layer(spec.layer), pooling=spec.pooling,
                                              batch_size=spec.batch_size, normalize=spec.normalize, progress=False,
                                              return_stats=True)
    return write_shard(path, vectors, spec.dtype), stats


def _task(spec_fields: dict, texts: list[str], path: str, index: int) -> tuple[int, dict, dict]:
    """A Dask task: embed shard ``index`` on this worker (the model cached per worker process)."""
    spec = ShardSpec(**spec_fields)
    t = time.perf_counter()
    info, stats = encode_shard(worker_encoder(spec), texts, spec, path)
    return index, info.to_dict(), {**stats, "seconds": time.perf_counter() - t}


def run_on_cluster(cluster: str, spec: ShardSpec, shards: Sequence[tuple[int, list[str], Path]],
                   on_done: Callable[[int, ShardInfo, dict], None]) -> dict[str, Any]:
    """Embed ``shards`` as Dask tasks, one per shard, and call ``on_done(index, info, stats)`` in the
    client as each finishes (in completion order; the caller keeps the manifest in shard order).

    Args:
        cluster: ``local:N`` or a scheduler address (:func:`parse_cluster`).
        spec: how to embed. shards: ``(index, texts, output path)`` per shard to make.
        on_done: called in this process for each finished shard.

    Returns:
        ``{"cluster", "workers"}``: what ran the tasks.

    Raises:
        ConfigError: a bad ``cluster`` or no Dask. OSError: the scheduler cannot be reached.
        Exception: any error a task raised (re-raised here; shards finished before it stay written).
    """
    check_cluster(cluster)
    from distributed import Client, LocalCluster, as_completed  # optional dependency

    kind, value = parse_cluster(cluster)
    quiet = logging.getLogger("distributed")  # Dask logs start/stop at INFO; xlt shows warnings only
    level = quiet.level
    quiet.setLevel(max(level, logging.WARNING))
    local = LocalCluster(n_workers=value, threads_per_worker=1, processes=True, dashboard_address=None) \
        if kind == "local" else None
    try:
        with Client(local if local is not None else value) as client:
            workers = len(client.scheduler_info().get("workers", {}))
            run = uuid.uuid4().hex[:8]
            fields = asdict(spec)
            futures = [client.submit(_task, fields, list(texts), str(path), i, key=f"xlt-embed-{run}-{i:05d}",
                                     pure=False, retries=1)
                       for i, texts, path in shards]
            try:
                for fut in as_completed(futures):
                    index, info, stats = fut.result()
                    on_done(index, ShardInfo(**info), stats)
            finally:
                for fut in futures:
                    fut.cancel()
    finally:
        if local is not None:
            local.close()
        quiet.setLevel(level)
    return {"cluster": cluster, "workers": workers}
