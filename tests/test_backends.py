"""Tests for the inference backends (xlt.models.backends): ONNX Runtime and int8 against torch fp32.

The reference of every comparison is the torch fp32 path of the same tiny random BERT (tests/helpers.py),
which tests/test_encoder.py checks against hand-computed values. The ONNX tests are skipped when
onnxruntime is not installed (the ``onnx`` extra).
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from xlt.jobs import ConfigError
from xlt.models import backends
from xlt.models.cache import FeatureCache
from xlt.models.loading import load_encoder

HAS_ONNX = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason="onnxruntime/onnx not installed (pip install 'xlt[onnx]')")

TEXTS = ["the dog runs", "a cat sat on the mat", "dogs and cats play in the garden today", "x"]
WORDS = [t.split() for t in TEXTS] + [[]]


@pytest.fixture(scope="module")
def spec(tiny):
    return tiny[1]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-exports")


def _load(spec, export_dir, backend="torch", int8=False):
    enc = load_encoder(spec, backend=backend, int8=int8, export_dir=export_dir)
    enc.text_prefix = "query: "  # as E5: the prefix's pieces are run and pooled, its words dropped
    return enc


@pytest.fixture(scope="module")
def reference(spec, export_dir, single_torch_thread):
    """torch fp32 sentence and word vectors of every layer."""
    enc = _load(spec, export_dir)
    return (enc.encode_sentences(TEXTS, layers="all", progress=False),
            enc.encode_words(WORDS, layers="all", progress=False).stacked())


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@needs_onnx
def test_onnx_fp32_vectors_equal_torch(spec, export_dir, reference):
    """The same network in float32 arithmetic: only operation order differs, so every layer's sentence and
    word vectors agree within 1e-4 (float32 rounding over two layers is ~1e-6)."""
    enc = _load(spec, export_dir, "onnx")
    sent = enc.encode_sentences(TEXTS, layers="all", progress=False)
    words = enc.encode_words(WORDS, layers="all", progress=False).stacked()
    assert sent.shape == reference[0].shape == (3, len(TEXTS), 32)
    assert words.shape == reference[1].shape
    np.testing.assert_allclose(sent, reference[0], atol=1e-4, rtol=0)
    np.testing.assert_allclose(words, reference[1], atol=1e-4, rtol=0)
    # a single layer and the cls pooling go through the same path
    np.testing.assert_allclose(enc.encode_sentences(TEXTS, layers=1, pooling="cls", progress=False),
                               reference_single(spec, export_dir), atol=1e-4, rtol=0)


def reference_single(spec, export_dir):
    return _load(spec, export_dir).encode_sentences(TEXTS, layers=1, pooling="cls", progress=False)


@needs_onnx
def test_onnx_hidden_states_match_early_exit(spec, export_dir):
    """``hidden_states(early_exit=True)`` (the torch path stops at the layer by a hook) and the ONNX graph
    (every layer an output) give the same layer-1 states; ONNX refuses gradients."""
    ids = [[2, 5, 6, 3], [2, 7, 3]]
    torch_h = _load(spec, export_dir).hidden_states(ids, 1, early_exit=True)
    enc = _load(spec, export_dir, "onnx")
    onnx_h = enc.hidden_states(ids, 1, early_exit=True)
    assert tuple(onnx_h.shape) == (2, 4, 32)
    np.testing.assert_allclose(onnx_h.numpy()[0], torch_h.numpy()[0], atol=1e-4)
    np.testing.assert_allclose(onnx_h.numpy()[1, :3], torch_h.numpy()[1, :3], atol=1e-4)  # row 1 has 3 real tokens
    with pytest.raises(ValueError, match="inference only"):
        enc.hidden_states(ids, 1, grad=True)


@pytest.mark.parametrize("backend", ["torch", pytest.param("onnx", marks=needs_onnx)])
def test_int8_vectors_close_to_fp32(spec, export_dir, reference, backend):
    """int8 weights (one scale per output channel, 127 steps) and int8 activations (255 steps per batch):
    each product carries a relative rounding error of about 1/256, which over this two-layer model keeps
    every vector within cosine 0.99 of the fp32 one (on the real e5-small we measured mean cosines of
    0.997 for onnx-int8 and 0.988 for torch-int8 over 300 UD-POS sentences: docs/results/speed.md).
    The vectors must also differ from fp32 ones: the layers were really quantised."""
    enc = _load(spec, export_dir, backend, int8=True)
    assert enc.backend_name == f"{backend}-int8"
    sent = enc.encode_sentences(TEXTS, layers="all", progress=False)
    words = enc.encode_words(WORDS, layers="all", progress=False).stacked()
    # layer 0 (embeddings) is not quantised in either backend: identical up to float rounding
    np.testing.assert_allclose(sent[0], reference[0][0], atol=1e-5)
    for got, ref in ((sent[1:], reference[0][1:]), (words[1:], reference[1][1:])):
        assert _cosines(got, ref).min() >= 0.99
        assert np.abs(got - ref).max() > 1e-5


@needs_onnx
def test_export_is_cached_and_reused(spec, tmp_path):
    """The second load of a model reuses its export (no new export, the file untouched); int8 and fp32
    exports are kept apart, each folder complete with its export.json."""
    before = backends.export_count
    first = load_encoder(spec, backend="onnx", export_dir=tmp_path)
    assert backends.export_count == before + 1
    path = first.runtime.path
    mtime = os.stat(path).st_mtime_ns
    again = load_encoder(spec, backend="onnx", export_dir=tmp_path)
    assert backends.export_count == before + 1
    assert again.runtime.path == path and os.stat(path).st_mtime_ns == mtime
    load_encoder(spec, backend="onnx", int8=True, export_dir=tmp_path)
    assert backends.export_count == before + 2
    folders = sorted(p for p in tmp_path.iterdir())
    assert len(folders) == 2  # no temporary folder left behind
    assert all((f / "export.json").is_file() for f in folders)
    assert {f.name for f in folders} == {backends.export_key(first.fingerprint, False),
                                         backends.export_key(first.fingerprint, True)}


def test_feature_cache_keys_differ_by_backend(spec, export_dir, tmp_path):
    """Vectors of each backend are cached under their own keys; torch fp32 keeps the keys of earlier
    versions (model + dtype only), so existing caches stay valid."""
    cache = FeatureCache(tmp_path / "features")
    kinds = [("torch", False), ("torch", True)] + ([("onnx", False), ("onnx", True)] if HAS_ONNX else [])
    for backend, int8 in kinds:
        _load(spec, export_dir, backend, int8).encode_sentences(TEXTS[:2], cache=cache, progress=False)
    assert len(cache) == 2 * len(kinds)
    plain = _load(spec, export_dir)
    legacy = {"model": plain.fingerprint, "dtype": "torch.float32"}
    assert plain._identity() == legacy
    q = _load(spec, export_dir, "torch", True)
    assert q._identity() == {**legacy, "backend": "torch-int8"}
    _, stats = q.encode_sentences(TEXTS[:2], cache=cache, progress=False, return_stats=True)
    assert stats["n_cache_hits"] == 2  # its own entries, found again


def test_settings_refuse_training_and_missing_onnxruntime(monkeypatch):
    """--backend onnx / --int8 are refused where the encoder is trained, and --backend onnx without
    onnxruntime names the extra to install; both before any model loads (settings construction)."""
    from xlt.jobs.parts import TransferSettings
    from xlt.jobs.retrieve import RetrieveSettings

    assert TransferSettings(task="udpos", int8=True).encoder_options() == {"backend": "torch", "int8": True}
    with pytest.raises(ConfigError, match="trains the encoder"):
        TransferSettings(task="udpos", mode="finetune", int8=True)
    with pytest.raises(ConfigError, match="trains the encoder"):
        TransferSettings(task="udpos", mode="finetune", backend="onnx")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(ConfigError, match=r"xlt\[onnx\]"):
        RetrieveSettings(backend="onnx")
    with pytest.raises(backends.BackendError, match=r"xlt\[onnx\]"):
        load_encoder("bundled:no-such-model", backend="onnx")  # refused before the (failing) load
    assert RetrieveSettings(int8=True).int8 is True  # torch int8 needs no extra


def test_cli_error_for_missing_onnxruntime(monkeypatch, capsys):
    """The command line prints one ``xlt: error:`` line and exits 2."""
    from xlt.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert main(["retrieve", "--backend", "onnx", "--langs", "de"]) == 2
    err = capsys.readouterr().err
    assert "xlt: error:" in err and "xlt[onnx]" in err


def test_flops_per_token_hand_worked():
    """2 layers, d = 32, ff = 64, T = 10: linear 2*2*(4*32*32 + 2*32*64) = 32768; attention 2*2*(2*10*32) = 2560."""
    from types import SimpleNamespace

    from xlt.jobs.bench_inference import flops_per_token

    got = flops_per_token(SimpleNamespace(num_hidden_layers=2, hidden_size=32, intermediate_size=64), 10)
    assert got == {"linear": 32768.0, "attention": 2560.0, "total": 35328.0}


def test_bench_inference_side_by_side(spec, export_dir, single_torch_thread):
    """Every backend is timed on the same inputs; the baseline's speed-up is 1 and its cosine to itself 1;
    the token counts are those of the inputs (the same for every backend: same tokenisation)."""
    from xlt.jobs.bench_inference import bench_inference

    encs = {"torch": _load(spec, export_dir), "torch-int8": _load(spec, export_dir, "torch", True)}
    got = bench_inference(encs, TEXTS, WORDS[:4], batch_size=2, repeats=1)
    assert got["speedup"]["torch"] == {"sentences": 1.0, "words": 1.0}
    assert got["runs"]["torch"]["sentences"]["cos_min"] == pytest.approx(1.0, abs=1e-6)
    for part in ("sentences", "words"):
        assert got["runs"]["torch"][part]["tokens"] == got["runs"]["torch-int8"][part]["tokens"] > 0
    assert 0.9 < got["runs"]["torch-int8"]["words"]["cos_min"] < 1.0 - 1e-7
