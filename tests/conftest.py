"""Generic pytest fixtures shared by all test modules."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _hf_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test reach the Hugging Face Hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def data_root() -> Path:
    """The real data folder (``../shared/data`` etc.); skips the test when there is none."""
    from xlt.data.paths import DatasetNotFoundError, resolve_data_dir

    try:
        return resolve_data_dir()
    except DatasetNotFoundError as exc:
        pytest.skip(f"no data folder: {str(exc).splitlines()[0]}")
