"""Every array xlt loads from disk is checked: a damaged file is a clear error that names the file
(or, for the feature cache, a logged miss that is recomputed), never a traceback and never a
silently wrong result. Covers aligner maps, feature cache entries, saved task models and encoder
folders, plus the fit side of aligners (too few pairs, non-finite fits)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile

import numpy as np
import pytest
import torch

from xlt.align.maps import AffineMap, AlignerError, CrossLingualAligner
from xlt.core.arrays import ArrayFileError, check_array, read_npz
from xlt.core.errors import USER_ERRORS
from xlt.models.cache import FeatureCache
from xlt.models.loading import ModelLoadError, load_encoder
from xlt.transfer.model import MODEL_FILE, FinetunedModel, ProbeModel, TaskModel, TaskModelError

pytestmark = pytest.mark.usefixtures("single_torch_thread")

DIM = 16
MODEL = {"spec": "tiny", "fingerprint": "abc123", "hidden_size": DIM}
LAYERS = (0, 8)


# ----------------------------------------------------------------------------- helpers
def _aligner(method="center+procrustes"):
    rng = np.random.default_rng(0)
    al = CrossLingualAligner(method, "eng", list(LAYERS), MODEL)
    for lang in ("deu", "fra"):
        al.fit_language(lang, {k: (rng.normal(size=(40, DIM)), rng.normal(size=(40, DIM))) for k in LAYERS})
    return al


@pytest.fixture
def maps(tmp_path):
    return _aligner().save(tmp_path / "maps.npz")


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(path, arrays):
    os.unlink(path)
    np.savez(path, **arrays)


def _header(arrays):
    return json.loads(arrays["__header__"].tobytes().decode())


def _set_header(arrays, header):
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def _load_error(path, match):
    with pytest.raises(AlignerError) as info:
        CrossLingualAligner.load(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    assert "allow_pickle" not in msg and "Traceback" not in msg
    assert match in msg, msg
    return msg


# ------------------------------------------------------------------------ aligner files
def test_a_valid_file_still_loads_and_maps_alike(maps):
    back = CrossLingualAligner.load(maps)
    X = np.random.default_rng(1).normal(size=(4, DIM))
    np.testing.assert_allclose(back.transform(X, "de", 8), _aligner().transform(X, "de", 8), atol=1e-5)


def test_truncated_map_file(maps):
    _truncate(maps)
    _load_error(maps, "not a readable .npz file (truncated or corrupted)")


@pytest.mark.parametrize("content", [os.urandom(4096), b"", b"PK\x03\x04" + os.urandom(500),
                                     b"\x93NUMPY" + os.urandom(200)], ids=["random", "empty", "zip-magic", "npy"])
def test_random_or_empty_bytes(tmp_path, content):
    p = tmp_path / "maps.npz"
    p.write_bytes(content)
    _load_error(p, "not a readable .npz file")


def test_flipped_byte_inside_an_array(maps):
    data = bytearray(maps.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside an array's data: the member's CRC no longer matches
    maps.write_bytes(bytes(data))
    _load_error(maps, "not a readable .npz file")


def test_zip_without_the_expected_members(tmp_path):
    p = tmp_path / "maps.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("readme.txt", "hello")
    _load_error(p, "readme.txt")
    p.unlink()
    np.savez(p, x=np.zeros(3))
    _load_error(p, "not an xlt aligner file")


def test_object_arrays_give_no_allow_pickle_hint(maps):
    arrays = _arrays(maps)
    arrays["0/0/W"] = np.array([{"evil": 1}], dtype=object)
    os.unlink(maps)
    np.savez(maps, **arrays)  # savez pickles the object array
    _load_error(maps, "Python objects")


def test_all_nan_map(maps):
    arrays = _arrays(maps)
    arrays["0/8/W"] = np.full((DIM, DIM), np.nan, dtype=np.float32)
    _rewrite(maps, arrays)
    _load_error(maps, f"map for 'deu' layer 8: W has {DIM * DIM} NaN values")


def test_one_inf_value(maps):
    arrays = _arrays(maps)
    arrays["1/0/a"][3] = np.inf
    _rewrite(maps, arrays)
    _load_error(maps, "map for 'fra' layer 0: a has 1 inf value")


@pytest.mark.parametrize("name,bad", [("0/0/W", np.zeros((DIM, DIM - 1), np.float32)),
                                      ("0/0/b", np.zeros((DIM, 1), np.float32)),
                                      ("1/8/a", np.zeros(DIM + 2, np.float32))])
def test_wrong_shapes(maps, name, bad):
    arrays = _arrays(maps)
    arrays[name] = bad
    _rewrite(maps, arrays)
    _load_error(maps, "has shape")


def test_wrong_dtype(maps):
    arrays = _arrays(maps)
    arrays["0/0/W"] = np.zeros((DIM, DIM), dtype=np.int32)
    _rewrite(maps, arrays)
    _load_error(maps, "dtype int32")


def test_a_missing_array(maps):
    arrays = _arrays(maps)
    del arrays["1/8/W"]
    _rewrite(maps, arrays)
    _load_error(maps, "map for 'fra' layer 8 has no W")


def test_dims_must_match_the_header(maps):
    arrays = _arrays(maps)
    header = _header(arrays)
    header["model"]["hidden_size"] = DIM * 2
    _set_header(arrays, header)
    _rewrite(maps, arrays)
    _load_error(maps, "expected (32, 32)")


def test_header_inconsistencies(tmp_path, maps):
    base = _arrays(maps)

    def broken(change, match):
        arrays = dict(base)
        header = _header(arrays)
        change(header)
        _set_header(arrays, header)
        p = tmp_path / f"b{len(list(tmp_path.iterdir()))}.npz"
        np.savez(p, **arrays)
        _load_error(p, match)

    broken(lambda h: h["maps"]["deu"].pop("8"), "cover layers [0]")
    broken(lambda h: h["maps"]["deu"]["0"].update(arrays=["W"]), "lists arrays")
    broken(lambda h: h["maps"]["deu"]["0"].update(method="linear"), "'linear' map")
    broken(lambda h: h["maps"]["deu"]["0"].update(scale=float("nan")), "scale")
    broken(lambda h: h.update(languages=["deu"]), "languages")
    broken(lambda h: h.pop("layers"), "'layers'")
    broken(lambda h: h["maps"]["fra"]["8"].pop("n_pairs"), "incomplete or malformed")
    arrays = dict(base)
    arrays["__header__"] = arrays["__header__"][:40]
    p = tmp_path / "cut-header.npz"
    np.savez(p, **arrays)
    _load_error(p, "header is not valid JSON")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        CrossLingualAligner.load(tmp_path / "missing.npz")
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="dir.npz"):
        CrossLingualAligner.load(tmp_path / "dir.npz")


def test_aligner_errors_are_user_errors():
    assert issubclass(AlignerError, USER_ERRORS) and issubclass(TaskModelError, USER_ERRORS)


# ---------------------------------------------------------------------------- fitting
def test_too_few_pairs_warn_once_per_language(caplog):
    rng = np.random.default_rng(2)
    al = CrossLingualAligner("procrustes", "eng", list(LAYERS), MODEL)
    with caplog.at_level(logging.WARNING, logger="xlt.align.maps"):
        al.fit_language("deu", {k: (rng.normal(size=(5, DIM)), rng.normal(size=(5, DIM))) for k in LAYERS})
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(msgs) == 1, msgs
    assert "deu" in msgs[0] and "5 supervision pair" in msgs[0] and f"dimension {DIM} needs at least {DIM}" in msgs[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xlt.align.maps"):
        AffineMap("linear").fit(rng.normal(size=(8, DIM)), rng.normal(size=(8, DIM)))
        al.fit_language("fra", {k: (rng.normal(size=(40, DIM)), rng.normal(size=(40, DIM))) for k in LAYERS})
        AffineMap("center").fit(rng.normal(size=(3, DIM)), rng.normal(size=(3, DIM)))  # means only: no warning
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(msgs) == 1 and "linear" in msgs[0] and f"needs at least {DIM + 1}" in msgs[0], msgs


@pytest.mark.parametrize("method", ["procrustes", "linear", "center+norm", "center+procrustes"])
def test_a_fit_that_overflows_raises_and_keeps_no_map(method):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, DIM)) * 1e25  # finite in float32, but X^T Y / norms overflow
    al = CrossLingualAligner(method, "eng", [0], MODEL)
    with pytest.raises(AlignerError, match="deu, layer 0"):
        al.fit_language("deu", {0: (X, X)})
    assert al.languages == []
    m = AffineMap(method)
    with pytest.raises(AlignerError):
        m.fit(X, X)
    assert m.W is None and m.a is None and m.n_pairs == 0


def test_non_finite_means_are_refused():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, DIM))
    with pytest.raises(AlignerError, match="x_mean"):
        AffineMap("center").fit(X, X, x_mean=np.full(DIM, np.nan))


def test_save_refuses_non_finite_maps_and_keeps_the_old_file(maps):
    before = maps.read_bytes()
    al = _aligner()
    al.maps["fra"][8].W[2, 2] = np.nan
    with pytest.raises(AlignerError, match=r"not writing .*maps.npz.*'fra' layer 8.*W has 1 NaN value"):
        al.save(maps)
    assert maps.read_bytes() == before
    al.maps["fra"][8].W[2, 2] = 1e300  # float32 overflow on saving
    with pytest.raises(AlignerError, match="inf"):
        al.save(maps)
    assert maps.read_bytes() == before and not list(maps.parent.glob("*.tmp*"))


# ----------------------------------------------------------------------- feature cache
@pytest.fixture
def cache_entry(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    key = FeatureCache.make_keys({"fn": "test"}, ["x"])[0]
    cache.put(key, np.ones((2, 3, DIM), dtype=np.float32), np.array([1, 2, 3]))
    return cache, key


def _cache_bad(cache, key, caplog, match, **kw):
    misses = cache.misses
    with caplog.at_level(logging.WARNING, logger="xlt.models.cache"):
        assert cache.get(key, **kw) is None
    assert cache.misses == misses + 1
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert msgs and str(cache.path(key)) in msgs[-1] and match in msgs[-1], msgs
    assert "allow_pickle" not in msgs[-1]
    caplog.clear()


def test_valid_cache_entry_is_served(cache_entry):
    cache, key = cache_entry
    v, s = cache.get(key, shape=(2, None, DIM), n_stats=3)
    assert v.shape == (2, 3, DIM) and s.tolist() == [1, 2, 3] and cache.hits == 1


def test_truncated_or_random_cache_entries_are_misses(cache_entry, caplog):
    cache, key = cache_entry
    _truncate(cache.path(key))
    _cache_bad(cache, key, caplog, "not a readable .npz file")
    cache.path(key).write_bytes(os.urandom(300))
    _cache_bad(cache, key, caplog, "not a readable .npz file")
    cache.put(key, np.zeros((2, 3, DIM), np.float32))  # recomputed entries are served again
    assert cache.get(key) is not None


@pytest.mark.parametrize("v,s,kw,match", [
    (np.full((2, 3, DIM), np.nan, np.float32), np.array([1, 2, 3]), {}, f"{2 * 3 * DIM} NaN values"),
    (np.ones((2, 3, DIM), np.float32), np.array([1, 2, 3]), {"shape": (2, 4, DIM)}, "has shape (2, 3, 16)"),
    (np.ones((2, 3, DIM), np.int64), np.array([1, 2, 3]), {}, "dtype int64"),
    (np.ones((2, 3, DIM), np.float16), np.array([1.5]), {}, "expected integers"),
    (np.ones((2, 3, DIM), np.float16), np.array([1, 2]), {"n_stats": 3}, "expected (3,)"),
], ids=["nan", "shape", "int-features", "float-stats", "stats-length"])
def test_bad_cache_arrays_are_misses(cache_entry, caplog, v, s, kw, match):
    cache, key = cache_entry
    p = cache.path(key)
    p.unlink()
    np.savez(p, v=v, s=s)
    _cache_bad(cache, key, caplog, match, **kw)


def test_cache_entry_with_inf_missing_member_or_objects(cache_entry, caplog):
    cache, key = cache_entry
    p = cache.path(key)
    v = np.ones((2, 3, DIM), np.float32)
    v[1, 2, 3] = -np.inf
    p.unlink()
    np.savez(p, v=v, s=np.zeros(0, np.int64))
    _cache_bad(cache, key, caplog, "1 inf value")
    p.unlink()
    np.savez(p, v=np.ones(3, np.float32))
    _cache_bad(cache, key, caplog, "no array 's'")
    p.unlink()
    np.savez(p, v=np.array([None, 1], dtype=object), s=np.zeros(0, np.int64))
    _cache_bad(cache, key, caplog, "Python objects")
    assert cache.bad == 3


def test_encode_words_recomputes_a_poisoned_cache(tiny, tmp_path, caplog):
    from xlt.models.features import encode_words

    enc, _ = tiny
    cache = FeatureCache(tmp_path / "feats")
    sents = [["the", "cat", "sat"], ["a", "dog"]]
    first = encode_words(enc, sents, layers="all", progress=False, cache=cache)
    for f in cache.folder.glob("*/*.npz"):
        arrays = _arrays(f)
        arrays["v"][:] = np.nan
        f.unlink()
        np.savez(f, **arrays)
    with caplog.at_level(logging.WARNING, logger="xlt.models.cache"):
        again = encode_words(enc, sents, layers="all", progress=False, cache=cache)
    assert again.stats["n_cache_hits"] == 0
    for a, b in zip(first.vectors, again.vectors):
        np.testing.assert_allclose(a, b, atol=1e-6)
        assert np.isfinite(b).all()
    assert sum("feature cache entry" in r.getMessage() for r in caplog.records) == 2
    third = encode_words(enc, sents, layers="all", progress=False, cache=cache)  # rewritten, served again
    assert third.stats["n_cache_hits"] == 2


# ------------------------------------------------------------------------ task models
@pytest.fixture(scope="module")
def probe_folder(tiny, tmp_path_factory):
    from xlt.transfer.heads import ProbeHead

    enc, _ = tiny
    torch.manual_seed(0)
    head = ProbeHead(enc.hidden_size, 3, hidden=0, n_layers=enc.num_layers + 1, dropout=0.0)
    root = tmp_path_factory.mktemp("probe")
    maps = root / "maps.npz"
    al = CrossLingualAligner("procrustes", "eng", list(range(enc.num_layers + 1)), enc.describe())
    rng = np.random.default_rng(5)
    al.fit_language("deu", {k: (rng.normal(size=(40, enc.hidden_size)), rng.normal(size=(40, enc.hidden_size)))
                            for k in al.layers})
    al.save(maps)
    model = ProbeModel(enc, head, "sequence", ["a", "b", "c"], layer="mix", aligner=al, aligner_path=str(maps))
    return model.save_pretrained(root / "model")


@pytest.fixture
def probe(probe_folder, tmp_path):
    out = tmp_path / "model"
    shutil.copytree(probe_folder, out)
    return out


def _model_error(folder, match, file=None, error=TaskModelError):
    with pytest.raises(error) as info:
        TaskModel.from_pretrained(folder)
    msg = str(info.value)
    assert str(folder / file if file else folder) in msg, msg
    assert match in msg, msg
    return msg


def test_valid_probe_folder_loads(probe):
    model = TaskModel.from_pretrained(probe)
    assert isinstance(model, ProbeModel) and model.aligner is not None
    assert model.predict(["the cat sat"], "de")[0] in ("a", "b", "c")


def test_truncated_head(probe):
    _truncate(probe / "head.safetensors")
    _model_error(probe, "not a readable safetensors file", "head.safetensors")


def test_random_bytes_head_and_missing_head(probe):
    (probe / "head.safetensors").write_bytes(os.urandom(2000))
    _model_error(probe, "not a readable safetensors file", "head.safetensors")
    (probe / "head.safetensors").unlink()
    _model_error(probe, "holds no head.safetensors")


def _rewrite_head(folder, change):
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "head.safetensors"))
    change(tensors)
    save_file(tensors, str(folder / "head.safetensors"))


def test_nan_head_weights(probe):
    _rewrite_head(probe, lambda t: t["net.1.weight"].fill_(float("nan")))
    n = 3 * 32
    _model_error(probe, f"tensor 'net.1.weight' has {n} NaN values", "head.safetensors")


def test_inf_head_weight(probe):
    _rewrite_head(probe, lambda t: t["mix.gamma"].fill_(float("inf")))
    _model_error(probe, "tensor 'mix.gamma' has 1 inf value", "head.safetensors")


def test_wrong_head_shapes_dtypes_or_tensors(probe):
    _rewrite_head(probe, lambda t: t.update({"net.1.weight": torch.zeros(3, 7)}))
    _model_error(probe, "has shape (3, 7)", "head.safetensors")
    _rewrite_head(probe, lambda t: t.update({"net.1.weight": torch.zeros(3, 32, dtype=torch.int32)}))
    _model_error(probe, "dtype torch.int32", "head.safetensors")
    _rewrite_head(probe, lambda t: t.pop("net.1.weight"))
    _model_error(probe, "missing net.1.weight", "head.safetensors")


def test_broken_task_json(probe):
    f = probe / MODEL_FILE
    text = f.read_text()
    f.write_text(text[:len(text) // 2])
    _model_error(probe, "not valid JSON", MODEL_FILE)
    f.write_text("[1, 2, 3]")
    _model_error(probe, "not an xlt-task-model", MODEL_FILE)
    meta = json.loads(text)
    meta["head"] = {"dim": "x"}
    f.write_text(json.dumps(meta))
    _model_error(probe, "no usable head description", MODEL_FILE)
    meta["head"] = "oops"
    f.write_text(json.dumps(meta))
    _model_error(probe, "'head' is not a table", MODEL_FILE)


def test_damaged_aligner_in_probe_folder(probe):
    _truncate(probe / "aligner.npz")
    _model_error(probe, "not a readable .npz file", "aligner.npz")
    (probe / "aligner.npz").unlink()
    _model_error(probe, "does not exist", "aligner.npz")


def test_finetuned_folder_with_nan_or_truncated_weights(tiny, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    _, spec = tiny
    model = AutoModelForSequenceClassification.from_pretrained(spec, num_labels=2)
    tok = AutoTokenizer.from_pretrained(spec)
    folder = FinetunedModel(model, tok, "sequence", ["x", "y"], spec=spec).save_pretrained(tmp_path / "ft")
    assert isinstance(TaskModel.from_pretrained(folder), FinetunedModel)
    from safetensors.torch import load_file, save_file

    f = folder / "model.safetensors"
    tensors = load_file(str(f))
    name = next(k for k in tensors if k.endswith("classifier.weight"))
    tensors[name][0, 0] = float("nan")
    save_file(tensors, str(f), metadata={"format": "pt"})
    _model_error(folder, "1 NaN value")
    _truncate(f)
    _model_error(folder, "truncated or corrupted")


def test_encoder_folder_with_damaged_files(tiny, tmp_path):
    _, spec = tiny
    folder = tmp_path / "enc"
    shutil.copytree(spec, folder)
    (folder / "xlt_export.json").write_text('{"text_prefix": ')
    with pytest.raises(ModelLoadError, match=r"xlt_export\.json: not valid JSON"):
        load_encoder(str(folder))
    (folder / "xlt_export.json").unlink()
    _truncate(folder / "model.safetensors")
    with pytest.raises(ModelLoadError, match="truncated or corrupted"):
        load_encoder(str(folder))


# ----------------------------------------------------------------------- the helpers
def test_read_npz_and_check_array(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, x=np.arange(3.0))
    assert read_npz(p, required=["x"])["x"].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ArrayFileError, match="no array 'y'"):
        read_npz(p, required=["y"])
    with pytest.raises(ArrayFileError, match=r"2 NaN and 1 inf values"):
        check_array(np.array([np.nan, np.nan, np.inf]), "x")
    with pytest.raises(ArrayFileError, match=r"expected \(\*, 2\)"):
        check_array(np.zeros((2, 3)), "x", shape=(None, 2))
