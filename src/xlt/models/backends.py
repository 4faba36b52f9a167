"""Inference backends of an :class:`~xlt.models.encoder.Encoder`: torch (fp32 or int8) and ONNX Runtime.

:func:`xlt.models.loading.load_encoder` takes ``backend`` and ``int8``:

* ``backend='torch', int8=False`` (default): the ``transformers`` model as loaded.
* ``backend='torch', int8=True``: PyTorch dynamic quantisation
  (``torch.ao.quantization.quantize_dynamic`` with ``per_channel_dynamic_qconfig``; Jacob et al.
  2018's affine int8 scheme): every ``nn.Linear`` gets int8 weights (one scale per output channel)
  and quantises its input on the fly per batch (to 8 bits on CPUs with VNNI, else to 7 bits as torch
  does by default: :func:`has_vnni`); embeddings, LayerNorm, softmax and GELU stay fp32. The model keeps its modules, so
  forward hooks (the early exit at a chosen layer) work as before. :func:`best_quantized_engine`
  picks the quantised kernel library this CPU supports (``x86`` > ``fbgemm`` > ``onednn`` >
  ``qnnpack``).
* ``backend='onnx'``: the model exported to ONNX (``torch.onnx.export``, TorchScript exporter,
  every hidden state an output) and run by ONNX Runtime's CPU provider with all graph
  optimisations (attention, LayerNorm and GELU fusion); with ``int8`` the exported graph is
  quantised by ``onnxruntime.quantization.quantize_dynamic`` (int8 weights of every ``MatMul``,
  per channel; activations quantised per batch at run time). ONNX Runtime uses as many threads
  as torch (``torch.get_num_threads()``). The export runs once per model: it is kept in the export
  cache (:func:`default_export_dir`), one folder per model fingerprint, int8, opset and
  format version, written atomically (a temporary folder renamed into place), so concurrent
  runs never see half an export.

The tokenisation, the text prefix, pooling and layer choice are the Encoder's own in every backend
(:meth:`Encoder.hidden_states` is the only place that runs the network), so vectors differ only by
the arithmetic: ONNX fp32 agrees with torch fp32 to about 1e-5, int8 vectors keep a cosine of
about 0.99 with fp32 ones. The feature cache keys include the backend (``Encoder._identity``), so
int8 vectors never mix with fp32 ones.

The ONNX backend computes inference only: no gradients, so no fine-tuning (the commands that
train refuse it, :mod:`xlt.jobs.settings`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from xlt.core.errors import XltError

__all__ = ["BACKENDS", "EXPORT_FORMAT_VERSION", "ONNX_EXTRA", "ONNX_OPSET", "BackendError", "OnnxRunner",
           "backend_name", "best_quantized_engine", "check_backend", "default_export_dir", "export_key", "has_vnni",
           "onnx_runner", "quantize_torch"]

log = logging.getLogger(__name__)

#: The inference backends :func:`xlt.models.loading.load_encoder` knows.
BACKENDS = ("torch", "onnx")
#: The ONNX opset the export targets (ONNX Runtime >= 1.17 runs it; LayerNormalization is an op from 17).
ONNX_OPSET = 17
#: Bumped when the exported graph changes (inputs, outputs, quantisation settings): old exports are then not reused.
EXPORT_FORMAT_VERSION = 1
#: What to install for ``backend='onnx'``.
ONNX_EXTRA = "pip install 'xlt[onnx]' (onnxruntime and onnx)"
#: Quantised kernel libraries in order of preference (``x86`` combines fbgemm and oneDNN in torch >= 2.0).
ENGINE_PREFERENCE = ("x86", "fbgemm", "onednn", "qnnpack")

#: Exports made by this process (a counter the tests read: a reused export does not add one).
export_count = 0


class BackendError(XltError, ValueError):
    """An inference backend that cannot run here (not installed, not for training, unknown)."""


def backend_name(backend: str, int8: bool) -> str:
    """``'torch'``, ``'torch-int8'``, ``'onnx'`` or ``'onnx-int8'``: the backend as reports and cache keys name it."""
    return backend + ("-int8" if int8 else "")


def check_backend(backend: str, int8: bool = False) -> None:
    """Check that ``backend`` can run here, without importing it (before any model loads).

    Raises:
        BackendError: an unknown backend, or ``'onnx'`` without ``onnxruntime`` and ``onnx``
            installed (the message names the extra to install).
    """
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend == "onnx":
        missing = [m for m in ("onnxruntime", "onnx") if importlib.util.find_spec(m) is None]
        if missing:
            raise BackendError(f"--backend onnx needs {' and '.join(missing)}, which is not installed: {ONNX_EXTRA}")


# --------------------------------------------------------------------------- torch int8
def best_quantized_engine() -> str:
    """The quantised kernel library torch uses for int8 on this CPU: the first of
    :data:`ENGINE_PREFERENCE` in ``torch.backends.quantized.supported_engines``.

    Raises:
        BackendError: torch was built without any of them.
    """
    import torch  # lazy: heavy import

    supported = list(torch.backends.quantized.supported_engines)
    for name in ENGINE_PREFERENCE:
        if name in supported:
            return name
    raise BackendError(f"this torch build has no int8 kernels for the CPU (engines: {supported})")


def quantize_torch(model: Any) -> Any:
    """A dynamically quantised copy of ``model``: ``nn.Linear`` layers with int8 weights (one scale per
    output channel: ``per_channel_dynamic_qconfig``) and inputs quantised per batch
    (``torch.ao.quantization.quantize_dynamic``, ``dtype=torch.qint8``); sets
    ``torch.backends.quantized.engine`` to :func:`best_quantized_engine`.

    Args:
        model: a float32 ``torch.nn.Module`` on the CPU, in eval mode.

    Returns:
        the quantised module (a copy; ``model`` is unchanged), in eval mode. Its outputs have the
        float32 dtype and the shapes of ``model``'s.

    Raises:
        BackendError: no int8 engine, or a model on another device than the CPU.
    """
    import torch  # lazy: heavy import
    from torch.ao.quantization import quantize_dynamic  # lazy: heavy import

    dev = next(model.parameters()).device
    if dev.type != "cpu":
        raise BackendError(f"--int8 with the torch backend runs on the CPU only (the model is on {dev})")
    from torch.ao.quantization import per_channel_dynamic_qconfig  # lazy: heavy import

    torch.backends.quantized.engine = best_quantized_engine()
    mapping = {torch.nn.Linear: _full_range_linear()} if has_vnni() else None
    with warnings_quiet():  # torch >= 2.10 warns that torch.ao quantisation moves to torchao
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8,
                                mapping=mapping).eval()


def has_vnni() -> bool:
    """True when the CPU has AVX512-VNNI or AVX-VNNI (read from ``/proc/cpuinfo``; False where it cannot be read).

    Without VNNI, x86 int8 kernels add pairs of u8 x s8 products in int16 (``vpmaddubsw``), which
    saturates with 8-bit activations; so torch quantises activations to 7 bits (``reduce_range``). VNNI's
    ``vpdpbusd`` sums in int32, so all 8 bits are safe there.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_vnni", "avx_vnni"})
    except OSError:
        pass
    return False


@functools.lru_cache(maxsize=1)
def _full_range_linear():
    """A dynamically quantised ``Linear`` whose activations use all 8 bits (``reduce_range=False``).

    ``torch.ao.nn.quantized.dynamic.Linear`` always calls ``quantized::linear_dynamic`` with
    ``reduce_range=True`` (7-bit activations, for CPUs without VNNI: :func:`has_vnni`); on e5-small
    that halves the activation resolution and cost a mean cosine to fp32 of 0.988 instead of 0.9965
    (300 UD-POS sentences, docs/results/speed.md).
    """
    import torch  # lazy: heavy import
    from torch.ao.nn.quantized.dynamic import Linear  # lazy: heavy import

    class FullRangeDynamicLinear(Linear):
        """:class:`torch.ao.nn.quantized.dynamic.Linear` with 8-bit activations (CPUs with VNNI)."""

        def forward(self, x):
            if self._packed_params.dtype != torch.qint8:
                return super().forward(x)
            y = torch.ops.quantized.linear_dynamic(x, self._packed_params._packed_params, reduce_range=False)
            return y.to(x.dtype)

        def _get_name(self):
            return "FullRangeDynamicQuantizedLinear"

    return FullRangeDynamicLinear


# --------------------------------------------------------------------------- ONNX export
def default_export_dir() -> Path:
    """The ONNX export cache: ``$XLT_ONNX_CACHE``, else ``$XDG_CACHE_HOME/xlt/onnx`` (default ``~/.cache/xlt/onnx``)."""
    if os.environ.get("XLT_ONNX_CACHE"):
        return Path(os.environ["XLT_ONNX_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xlt" / "onnx"


def export_key(fingerprint: str, int8: bool) -> str | None:
    """The export cache's folder name for a model: a digest of its fingerprint, ``int8``, the opset,
    :data:`EXPORT_FORMAT_VERSION` and (int8) whether activations use 7 bits (no VNNI: :func:`has_vnni`); None when the fingerprint does not pin the weights (empty, or a
    Hub model of unknown revision): such a model is exported afresh each time."""
    if not fingerprint or fingerprint.endswith("@unknown-revision"):
        return None
    blob = json.dumps({"model": fingerprint, "int8": bool(int8), "opset": ONNX_OPSET,
                       "format": EXPORT_FORMAT_VERSION, "reduce_range": bool(int8) and not has_vnni()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _wrapper(model: Any, with_types: bool):
    """A module whose forward returns every hidden state as its own output (``hidden_0..hidden_L``)."""
    import torch  # lazy: heavy import

    class AllStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kwargs = {"token_type_ids": token_type_ids} if with_types else {}
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True,
                             return_dict=True, **kwargs)
            return tuple(out.hidden_states)

    return AllStates().eval()


def _export_fp32(model: Any, with_types: bool, path: Path) -> None:
    """``model`` as ONNX at ``path``: inputs ``input_ids``, ``attention_mask`` (and ``token_type_ids``),
    int64 ``(batch, seq)``; outputs ``hidden_0..hidden_L`` float32 ``(batch, seq, dim)``."""
    import torch  # lazy: heavy import

    global export_count
    n_out = int(model.config.num_hidden_layers) + 1
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    args = (ids, mask, torch.zeros_like(ids)) if with_types else (ids, mask)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if with_types else [])
    outs = [f"hidden_{i}" for i in range(n_out)]
    axes = {n: {0: "batch", 1: "seq"} for n in names + outs}
    with torch.inference_mode(False), torch.no_grad(), warnings_quiet():
        torch.onnx.export(_wrapper(model, with_types), args, str(path), input_names=names, output_names=outs,
                          dynamic_axes=axes, opset_version=ONNX_OPSET, do_constant_folding=True, dynamo=False)
    export_count += 1


@contextlib.contextmanager
def warnings_quiet():
    """Silence the exporter's tracer warnings (Python branches on shapes that it records as constants)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _quantize_onnx(src: Path, dst: Path) -> None:
    """``src`` with int8 ``MatMul`` weights (per output channel) at ``dst``
    (``onnxruntime.quantization.quantize_dynamic``); 7-bit weights (``reduce_range``) on CPUs without VNNI,
    where u8 x s8 products summed in int16 could saturate (ONNX Runtime's quantisation guide)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # optional dependency

    import onnx  # optional dependency

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, reduce_range=not has_vnni(),
                     op_types_to_quantize=["MatMul"],
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # fused ops have no shape inference


def _build(model: Any, with_types: bool, int8: bool, folder: Path) -> Path:
    """Export (and quantise) into ``folder``; the path of the model file to run."""
    fp32 = folder / "model.onnx"
    _export_fp32(model, with_types, fp32)
    if not int8:
        return fp32
    q = folder / "model-int8.onnx"
    _quantize_onnx(fp32, q)
    fp32.unlink()
    return q


def _cached_export(model: Any, with_types: bool, int8: bool, fingerprint: str, root: Path) -> Path:
    """The exported model file of ``model`` (``int8`` or not), from the cache under ``root`` or made now."""
    key = export_key(fingerprint, int8)
    name = "model-int8.onnx" if int8 else "model.onnx"
    if key is None:  # no stable identity: a private export, removed with the process's temp dir
        tmp = Path(tempfile.mkdtemp(prefix="xlt-onnx-"))
        return _build(model, with_types, int8, tmp)
    final = root / key
    if (final / name).is_file() and (final / "export.json").is_file():
        return final / name
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}-"))
    try:
        _build(model, with_types, int8, tmp)
        (tmp / "export.json").write_text(json.dumps(
            {"fingerprint": fingerprint, "int8": int8, "opset": ONNX_OPSET, "format": EXPORT_FORMAT_VERSION,
             "file": name}, indent=1), encoding="utf-8")
        try:
            os.replace(tmp, final)
        except OSError:  # another process put its export there first: use that one
            if not (final / name).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final / name


class OnnxRunner:
    """An ONNX Runtime session over an exported encoder (see the module docs).

    Args:
        path: the ``.onnx`` file (outputs ``hidden_0..hidden_L``).
        threads: intra-op threads (default: ``torch.get_num_threads()``).

    Attributes:
        path: the model file. threads: intra-op threads. input_names: the graph's inputs.
    """

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort  # optional dependency

        if threads is None:
            import torch  # lazy: heavy import

            threads = torch.get_num_threads()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.path = Path(path)
        self.threads = int(threads)
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray, layers: list[int]) -> list[np.ndarray]:
        """Hidden states ``layers`` of one padded batch.

        Args:
            input_ids, attention_mask: int64 ``(batch, seq)``.
            layers: hidden-state indices (``0`` = embeddings).

        Returns:
            one float32 ``(batch, seq, dim)`` array per entry of ``layers``, in order.
        """
        feed = {"input_ids": input_ids.astype(np.int64, copy=False),
                "attention_mask": attention_mask.astype(np.int64, copy=False)}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        uniq = sorted(set(layers))
        got = dict(zip(uniq, self.session.run([f"hidden_{i}" for i in uniq], feed)))
        return [got[i] for i in layers]


def onnx_runner(model: Any, fingerprint: str, int8: bool = False, export_dir: str | os.PathLike | None = None,
                threads: int | None = None) -> OnnxRunner:
    """An :class:`OnnxRunner` for a ``transformers`` encoder, exported once and cached.

    Args:
        model: the float32 torch encoder (eval mode, CPU).
        fingerprint: :attr:`Encoder.fingerprint` (the export cache key; see :func:`export_key`).
        int8: quantise the exported graph (int8 ``MatMul`` weights, per channel).
        export_dir: the export cache (default :func:`default_export_dir`).
        threads: ONNX Runtime intra-op threads (default ``torch.get_num_threads()``).

    Raises:
        BackendError: onnxruntime/onnx not installed.
    """
    check_backend("onnx", int8)
    root = Path(export_dir).expanduser() if export_dir is not None else default_export_dir()
    with_types = "token_type_ids" in _forward_inputs(model)
    path = _cached_export(model, with_types, int8, fingerprint, root)
    return OnnxRunner(path, threads)


def _forward_inputs(model: Any) -> set[str]:
    """The argument names of ``model.forward``."""
    import inspect

    return set(inspect.signature(model.forward).parameters)
