"""Generic pytest fixtures shared by all test modules."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _hf_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test reach the Hugging Face Hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _onnx_exports_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX exports (``--backend onnx``) go to the session's temporary folder, never to the user's
    ``~/.cache/xlt/onnx`` (a test may still point ``XLT_ONNX_CACHE`` elsewhere)."""
    monkeypatch.setenv("XLT_ONNX_CACHE", str(tmp_path_factory.getbasetemp() / "onnx-cache"))


@pytest.fixture
def data_root() -> Path:
    """The real data folder (``../shared/data`` etc.); skips the test when there is none."""
    from xlt.data.paths import DatasetNotFoundError, resolve_data_dir

    try:
        return resolve_data_dir()
    except DatasetNotFoundError as exc:
        pytest.skip(f"no data folder: {str(exc).splitlines()[0]}")


@pytest.fixture(scope="module")
def single_torch_thread():
    """Run torch on one thread for the module (tiny models: threading only adds overhead)."""
    from fixtures import one_torch_thread

    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """``(encoder, model folder spec)`` of the tiny random BERT built by tests/helpers.py."""
    from helpers import make_tiny_encoder

    root = tmp_path_factory.mktemp("tiny")
    return make_tiny_encoder(root), str(root / "tiny-bert")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The learnable synthetic XTREME-layout data folder of tests/fixtures.py."""
    from fixtures import make_synthetic_data

    return make_synthetic_data(tmp_path_factory.mktemp("synthetic-data"))


@pytest.fixture
def no_model(monkeypatch):
    """Any model load fails the test (raises ``AssertionError: a model was loaded ...``): a bad input
    or output must be found before one."""
    import xlt.models.bundled as bundled
    import xlt.models.loading as loading

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the inputs and outputs were checked")

    monkeypatch.setattr(loading, "_load_hf", refuse)
    monkeypatch.setattr(bundled, "load_bundled", refuse)
