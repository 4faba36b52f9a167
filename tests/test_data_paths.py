"""Data-folder resolution order, with temporary folders and a patched environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlt.data import paths
from xlt.data.paths import DatasetNotFoundError, dataset_dir, resolve_data_dir


def make_data(root: Path, *datasets: str) -> Path:
    for name in datasets:
        (root / name).mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $XLT_DATA, cwd and package folder in empty places, cache under tmp_path."""
    monkeypatch.delenv("XLT_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    nowhere = tmp_path / "nowhere" / "deep"
    nowhere.mkdir(parents=True)
    monkeypatch.chdir(nowhere)
    pkg = tmp_path / "site" / "xlt" / "data"
    pkg.mkdir(parents=True)
    monkeypatch.setattr(paths, "_PACKAGE_DIR", pkg)
    return tmp_path


def test_explicit_argument_beats_env(isolated, monkeypatch):
    a = make_data(isolated / "a", "udpos")
    b = make_data(isolated / "b")  # explicit folders need no known data set inside
    monkeypatch.setenv("XLT_DATA", str(a))
    assert resolve_data_dir(b) == b.resolve()
    assert resolve_data_dir(str(b)) == b.resolve()
    assert resolve_data_dir() == a.resolve()


def test_env_beats_discovered_shared(isolated, monkeypatch):
    make_data(isolated / "nowhere" / "shared" / "data", "udpos")
    env = make_data(isolated / "env", "panx")
    monkeypatch.setenv("XLT_DATA", str(env))
    assert resolve_data_dir() == env.resolve()


def test_missing_explicit_or_env_is_an_error_not_a_fallback(isolated, monkeypatch):
    make_data(isolated / "cache" / "xlt" / "data", "udpos")  # would be found otherwise
    missing = isolated / "missing"
    with pytest.raises(DatasetNotFoundError) as info:
        resolve_data_dir(missing)
    assert str(missing) in str(info.value)
    monkeypatch.setenv("XLT_DATA", str(missing))
    with pytest.raises(DatasetNotFoundError) as info:
        resolve_data_dir()
    assert "$XLT_DATA" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_walks_up_from_cwd_to_a_sibling_shared(isolated, monkeypatch):
    shared = make_data(isolated / "work" / "shared" / "data", "sib200")
    sub = isolated / "work" / "main" / "src"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert resolve_data_dir() == shared.resolve()


def test_cwd_beats_package_location(isolated, monkeypatch):
    from_cwd = make_data(isolated / "one" / "shared" / "data", "udpos")
    make_data(isolated / "two" / "shared" / "data", "udpos")
    (isolated / "one" / "main").mkdir()
    monkeypatch.chdir(isolated / "one" / "main")
    pkg = isolated / "two" / "clone" / "src" / "xlt" / "data"
    pkg.mkdir(parents=True)
    monkeypatch.setattr(paths, "_PACKAGE_DIR", pkg)
    assert resolve_data_dir() == from_cwd.resolve()


def test_walks_up_from_package_location(isolated, monkeypatch):
    shared = make_data(isolated / "elsewhere" / "shared" / "data", "panx")
    pkg = isolated / "elsewhere" / "clone" / "src" / "xlt" / "data"
    pkg.mkdir(parents=True)
    monkeypatch.setattr(paths, "_PACKAGE_DIR", pkg)
    assert resolve_data_dir() == shared.resolve()


def test_shared_without_known_dataset_is_ignored_and_cache_used(isolated):
    make_data(isolated / "nowhere" / "shared" / "data", "something_else")
    cache = make_data(isolated / "cache" / "xlt" / "data", "udpos")
    assert resolve_data_dir() == cache.resolve()


def test_cache_defaults_to_home(isolated, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(isolated / "home"))
    cache = make_data(isolated / "home" / ".cache" / "xlt" / "data", "panx")
    assert resolve_data_dir() == cache.resolve()


def test_nothing_found_lists_every_place(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        resolve_data_dir()
    msg = str(info.value)
    expected = [
        isolated / "nowhere" / "deep" / "shared" / "data",
        isolated / "nowhere" / "shared" / "data",
        isolated / "site" / "xlt" / "data" / "shared" / "data",
        isolated / "cache" / "xlt" / "data",
    ]
    for p in expected:
        assert str(p.resolve()) in msg
        assert p.resolve() in info.value.searched
    assert "XLT_DATA" in msg


def test_dataset_dir_found_and_missing(isolated):
    root = make_data(isolated / "nowhere" / "shared" / "data", "udpos")
    assert dataset_dir("udpos") == (root / "udpos").resolve()
    assert dataset_dir("udpos", root) == (root / "udpos").resolve()
    with pytest.raises(DatasetNotFoundError) as info:
        dataset_dir("sib200", root)
    msg = str(info.value)
    assert str(root / "sib200") in msg
    assert "github.com/dadelani/sib-200" in msg
    assert info.value.dataset == "sib200"
    with pytest.raises(DatasetNotFoundError) as info:
        dataset_dir("panx")
    assert "github.com/google-research/xtreme" in str(info.value)
    assert str((isolated / "cache" / "xlt" / "data" / "panx").resolve()) in str(info.value)


def test_dataset_dir_searches_candidates_in_order(isolated):
    make_data(isolated / "nowhere" / "shared" / "data", "udpos")
    cache = make_data(isolated / "cache" / "xlt" / "data", "sib200", "udpos")
    assert dataset_dir("sib200") == (cache / "sib200").resolve()
    assert dataset_dir("udpos") == (isolated / "nowhere" / "shared" / "data" / "udpos").resolve()


def test_every_named_dataset_has_a_source():
    for name in ("udpos", "panx", "sib200", "tatoeba", "ntrex"):
        assert paths.DATASET_SOURCES[name].strip()
    assert "LASER" in paths.DATASET_SOURCES["tatoeba"]
    assert "NTREX" in paths.DATASET_SOURCES["ntrex"]
