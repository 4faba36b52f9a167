"""Embedding shards in one process or as Dask tasks on a cluster (``xlt embed --cluster``).

One shard is the unit of work everywhere: :func:`encode_shard` embeds a shard's texts with
:meth:`Encoder.encode_sentences <xlt.models.encoder.Encoder.encode_sentences>` and writes its
``.npy`` file atomically (:func:`xlt.models.shards.write_shard`). The single-process path of
:mod:`xlt.jobs.embed` calls it in a loop (:class:`LocalRunner`); :class:`ClusterRunner` submits one Dask task per shard
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

__all__ = ["ClusterRunner", "LocalRunner", "ShardSpec", "check_cluster", "encode_shard", "load_shard_encoder",
           "parse_cluster", "runner", "worker_encoder"]

_CLUSTER = re.compile(r"^(local:(?P<n>[1-9][0-9]{0,3})|(?P<addr>(tcp|tls|inproc|ucx)://\S+))$")


@dataclass(frozen=True)
class ShardSpec:
    """How every shard of a run is embedded (sent to the workers with each task).

    Attributes:
        model: the model spec (:func:`xlt.models.loading.load_encoder`). prefix: the text prefix
            (None: the model's own). layer: ``last`` or a layer number. pooling: ``mean``/``cls``.
        batch_size: texts per forward pass. normalize: L2-normalise every row. dtype: of the shard
            files (``float32``/``float16``). device: torch device (``auto``: CUDA when available).
        backend, int8: how the encoder runs (:func:`xlt.models.loading.load_encoder`: ``torch`` or
            ``onnx``; int8 dynamic quantisation).
    """

    model: str
    prefix: str | None
    layer: str
    pooling: str
    batch_size: int
    normalize: bool
    dtype: str
    device: str = "auto"
    backend: str = "torch"
    int8: bool = False


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
    enc = loading.load_encoder(spec.model, device=spec.device, backend=spec.backend, int8=spec.int8)
    if spec.prefix is not None:
        enc.text_prefix = spec.prefix
    return enc


def worker_encoder(spec: ShardSpec):
    """:func:`load_shard_encoder`, loaded once per process and kept (so each Dask worker loads the model
    on its first task only; a task with another spec replaces it)."""
    key = (spec.model, spec.prefix, spec.device, spec.backend, spec.int8)
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


def _describe(spec_fields: dict) -> dict:
    """A Dask task: the model's :meth:`~xlt.models.encoder.Encoder.describe` on this worker (loading it)."""
    return worker_encoder(ShardSpec(**spec_fields)).describe()


class LocalRunner:
    """Embeds shards in this process, one after the other (the path without ``--cluster``).

    Attributes:
        spec: how to embed. encoder: the loaded encoder. info: ``None`` (no cluster).
    """

    def __init__(self, spec: ShardSpec) -> None:
        self.spec = spec
        self.encoder = load_shard_encoder(spec)
        self.info = None

    def describe(self) -> dict[str, Any]:
        """The model's :meth:`~xlt.models.encoder.Encoder.describe` (spec, fingerprint, hidden_size, text_prefix, ...)."""
        return self.encoder.describe()

    def run(self, shards: Sequence[tuple[int, list[str], Path]], on_done: Callable[[int, ShardInfo, dict], None]) -> None:
        """Make each ``(index, texts, path)`` shard with :func:`encode_shard`; ``on_done(index, info, stats)`` after each."""
        for i, texts, path in shards:
            info, stats = encode_shard(self.encoder, texts, self.spec, path)
            on_done(i, info, stats)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> "LocalRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ClusterRunner(LocalRunner):
    """Embeds shards as Dask tasks, one per shard, on ``local:N`` worker processes or the workers of a
    running scheduler (:func:`parse_cluster`). The model is loaded on the workers only (each once,
    :func:`worker_encoder`), never in this process; workers write the shard files themselves.

    Attributes:
        spec: how to embed. cluster: as given. info: ``{"cluster", "workers"}``.

    Raises:
        ConfigError: a bad ``cluster`` or no Dask. OSError: the scheduler cannot be reached.
    """

    def __init__(self, spec: ShardSpec, cluster: str) -> None:
        check_cluster(cluster)
        from distributed import Client, LocalCluster  # optional dependency

        self.spec, self.cluster = spec, cluster
        kind, value = parse_cluster(cluster)
        self._log = logging.getLogger("distributed")  # Dask logs start/stop at INFO; xlt shows warnings only
        self._level = self._log.level
        self._log.setLevel(max(self._level, logging.WARNING))
        self._local = self._client = None
        try:
            if kind == "local":
                self._local = LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
            self._client = Client(self._local if self._local is not None else value)
        except BaseException:
            self.close()
            raise
        self.info = {"cluster": cluster, "workers": len(self._client.scheduler_info().get("workers", {}))}
        self._run = uuid.uuid4().hex[:8]

    def describe(self) -> dict[str, Any]:
        """The model's :meth:`~xlt.models.encoder.Encoder.describe`, from a worker (which loads the model)."""
        return self._client.submit(_describe, asdict(self.spec), key=f"xlt-describe-{self._run}", pure=False).result()

    def run(self, shards: Sequence[tuple[int, list[str], Path]], on_done: Callable[[int, ShardInfo, dict], None]) -> None:
        """Submit one task per ``(index, texts, path)`` shard; ``on_done(index, info, stats)`` in this process
        as each finishes (in completion order).

        Raises:
            Exception: any error a task raised (re-raised here; shards finished before it stay written).
        """
        from distributed import as_completed  # optional dependency

        fields = asdict(self.spec)
        futures = [self._client.submit(_task, fields, list(texts), str(path), i, key=f"xlt-embed-{self._run}-{i:05d}",
                                       pure=False, retries=1)
                   for i, texts, path in shards]
        try:
            for fut in as_completed(futures):
                index, info, stats = fut.result()
                on_done(index, ShardInfo(**info), stats)
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        """Close the client and a local cluster."""
        try:
            if self._client is not None:
                self._client.close()
            if self._local is not None:
                self._local.close()
        finally:
            self._client = self._local = None
            self._log.setLevel(self._level)


def runner(spec: ShardSpec, cluster: str | None = None) -> LocalRunner:
    """A :class:`ClusterRunner` for ``cluster``, else a :class:`LocalRunner` (use as a context manager).

    Raises:
        ConfigError: a bad ``cluster`` or no Dask. ModelLoadError: the model does not load (here, or
            on a worker).
    """
    return ClusterRunner(spec, cluster) if cluster else LocalRunner(spec)
