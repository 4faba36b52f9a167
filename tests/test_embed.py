"""``xlt embed``: sharded embeddings on disk, resumable, hash-checked (xlt.jobs.embed, xlt.models.shards,
xlt.data.corpus)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from xlt.cli import main
from xlt.data.corpus import read_corpus
from xlt.data.readers import DataFormatError
from xlt.jobs import ConfigError
from xlt.jobs import distributed
from xlt.models.shards import ShardError, ShardedEmbeddings

pytestmark = pytest.mark.usefixtures("single_torch_thread")

WORDS = ["hello", "world", "the", "cat", "sat", "on", "a", "mat", "dog", "runs", "far", "away", "big", "red"]


def _corpus(tmp_path, n=30, name="corpus.txt"):
    """``n`` made-up sentences, one per line, with two empty lines among them (skipped and counted)."""
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 9)))) for _ in range(n)]
    lines[3:3] = ["", "   "]
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, [l for l in lines if l.strip()]


def _embed(inp, out, spec, *extra):
    return main(["embed", str(inp), "--out", str(out), "--model", spec, "--shard-size", "7", "--batch-size", "4",
                 "--no-progress", *extra])


def _files(folder):
    """Every file the run must reproduce byte for byte (report.json holds times and is left out)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "report.json"}


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    """One uninterrupted run: (input, texts, folder)."""
    tmp = tmp_path_factory.mktemp("embed-ref")
    inp, texts = _corpus(tmp)
    assert _embed(inp, tmp / "ref", tiny[1]) == 0
    return inp, texts, tmp / "ref"


def test_vectors_are_those_of_encode_sentences_and_texts_are_in_row_order(tiny, reference):
    encoder, _ = tiny
    _, texts, folder = reference
    emb = ShardedEmbeddings.open(folder)
    # 30 sentences in shards of 7: 7+7+7+7+2
    assert (emb.n_rows, emb.n_shards, emb.dim) == (30, 5, encoder.hidden_size)
    assert emb.texts() == texts
    for i, (start, block) in enumerate(emb.blocks()):
        assert start == 7 * i
        # each shard is one encode_sentences call on its texts (same batch size): the same floats
        want = encoder.encode_sentences(texts[start:start + 7], normalize=True, batch_size=4, progress=False)
        np.testing.assert_array_equal(block, want)
    np.testing.assert_allclose(np.linalg.norm(emb.to_array(), axis=1), 1.0, atol=1e-6)
    m = emb.manifest
    assert (m["normalisation"], m["pooling"], m["layer"], m["dtype"]) == ("unit", "mean", "last", "float32")
    # the two blank lines are skipped and counted, in the manifest and the report
    assert m["counts"]["skipped_empty"] == 2 and m["counts"]["rows"] == 32
    report = json.loads((folder / "report.json").read_text())
    assert report["shards"]["made"] == 5 and report["counts"]["kept"] == 30
    assert report["tokens"]["texts"] == 30 and report["tokens"]["subword"] > 0


def test_interrupted_run_resumes_to_byte_identical_shards(tiny, reference, tmp_path, monkeypatch):
    inp, _, ref = reference
    real, calls = distributed.encode_shard, []

    def interrupted(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(distributed, "encode_shard", interrupted)
    assert _embed(inp, tmp_path / "out", tiny[1]) == 130
    partial = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["file"] for s in partial["shards"]] == ["shard-00000.npy", "shard-00001.npy"]
    assert partial["complete"] is False
    with pytest.raises(ShardError, match="unfinished"):
        ShardedEmbeddings.open(tmp_path / "out")
    monkeypatch.setattr(distributed, "encode_shard", real)
    assert _embed(inp, tmp_path / "out", tiny[1]) == 0
    assert _files(tmp_path / "out") == _files(ref)
    shards = json.loads((tmp_path / "out" / "report.json").read_text())["shards"]
    assert (shards["made"], shards["resumed"]) == (3, 2)


def test_a_corrupt_shard_is_found_by_its_hash_and_made_again(tiny, reference, tmp_path):
    inp, _, ref = reference
    folder = tmp_path / "copy"
    shutil.copytree(ref, folder)
    shard = folder / "shard-00001.npy"
    data = bytearray(shard.read_bytes())
    data[-3] ^= 0xFF  # one float's byte: still a loadable .npy of the right shape
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="shard-00001.npy"):
        ShardedEmbeddings.open(folder)
    ShardedEmbeddings.open(folder, verify=False)  # only the files' presence: the caller's choice
    assert _embed(inp, folder, tiny[1]) == 0
    assert _files(folder) == _files(ref)
    shards = json.loads((folder / "report.json").read_text())["shards"]
    assert (shards["made"], shards["resumed"], shards["remade_files"]) == (1, 4, ["shard-00001.npy"])
    ShardedEmbeddings.open(folder)


def test_a_missing_shard_file_is_an_error_naming_it(reference, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(reference[2], folder)
    (folder / "shard-00004.npy").unlink()
    with pytest.raises(ShardError, match="shard-00004.npy: missing"):
        ShardedEmbeddings.open(folder)


def test_other_settings_inputs_or_folders_are_refused_before_the_model_loads(reference, tmp_path, capsys, no_model):
    inp, _, ref = reference
    folder = tmp_path / "copy"
    shutil.copytree(ref, folder)
    before = _files(folder)
    assert _embed(inp, folder, "bundled:e5-small") == 2
    assert "other settings (model" in capsys.readouterr().err
    assert main(["embed", str(inp), "--out", str(folder), "--model", _model_of(ref), "--shard-size", "7",
                 "--batch-size", "4", "--pooling", "cls", "--no-progress"]) == 2
    assert "pooling 'mean' -> 'cls'" in capsys.readouterr().err
    changed = tmp_path / "changed.txt"
    changed.write_text(inp.read_text() + "one more line\n")
    assert _embed(changed, folder, _model_of(ref)) == 2
    assert "other inputs" in capsys.readouterr().err
    assert _files(folder) == before
    # outputs never meet inputs: the input file itself, or its folder
    assert _embed(inp, inp, _model_of(ref)) == 2
    assert _embed(inp, inp.parent, _model_of(ref)) == 2
    err = capsys.readouterr().err
    assert err.count("xlt: error:") == 2 and str(inp) in err
    # a non-empty folder xlt embed did not make
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    assert _embed(inp, tmp_path / "other", _model_of(ref)) == 2
    assert "did not make" in capsys.readouterr().err


def _model_of(folder):
    return json.loads((folder / "manifest.json").read_text())["model"]


def test_bad_input_lines_are_one_error_naming_file_and_line_before_the_model(tmp_path, capsys, no_model):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": broken\n', encoding="utf-8")
    assert main(["embed", str(bad), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xlt: error:") and f"{bad}:2:" in err and "\n" not in err
    csv = tmp_path / "a.csv"
    csv.write_text("id,sentence\n1,hello\n", encoding="utf-8")
    assert main(["embed", str(csv), "--column", "body", "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "no column 'body' (columns: id, sentence)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_corpus_formats_give_the_same_texts(tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = ["first one", "", "second, with a comma", "third"]
    (tmp_path / "a.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"id": i, "s": t}) + "\n" for i, t in enumerate(rows)))
    (tmp_path / "a.csv").write_text('id,s\n0,first one\n1,\n2,"second, with a comma"\n3,third\n')
    (tmp_path / "a.tsv").write_text("id\ts\n0\tfirst one\n1\t\n2\tsecond, with a comma\n3\tthird\n")
    pq.write_table(pa.table({"s": rows[:1] + [None] + rows[2:]}), tmp_path / "a.parquet")
    datasets.Dataset.from_dict({"s": rows}).save_to_disk(str(tmp_path / "hf"))
    want = ["first one", "second, with a comma", "third"]
    for name in ("a.txt", "a.jsonl", "a.csv", "a.tsv", "a.parquet", "hf"):
        c = read_corpus([tmp_path / name], column="s")
        assert c.texts == want, name
        assert c.counts() == {"rows": 4, "kept": 3, "skipped_empty": 1, "skipped_duplicate": 0}, name
    both = read_corpus([tmp_path / "a.txt", tmp_path / "a.csv"], column="s", dedup=True)
    assert both.texts == want and both.counts()["skipped_duplicate"] == 3
    with pytest.raises(DataFormatError, match="a.parquet:1: no column 'text'"):
        read_corpus([tmp_path / "a.parquet"], column="text")


def test_prefix_and_float16(tiny, reference, tmp_path):
    encoder, spec = tiny
    inp, texts, _ = reference
    assert _embed(inp, tmp_path / "h", spec, "--dtype", "float16", "--prefix", "passage: ") == 0
    emb = ShardedEmbeddings.open(tmp_path / "h")
    assert emb.manifest["text_prefix"] == "passage: " and emb.manifest["dtype"] == "float16"
    first = emb.shard(0)
    assert first.dtype == np.float32 and np.load(tmp_path / "h" / "shard-00000.npy").dtype == np.float16
    old = encoder.text_prefix
    encoder.text_prefix = "passage: "
    try:
        want = encoder.encode_sentences(texts[:7], normalize=True, batch_size=4, progress=False)
    finally:
        encoder.text_prefix = old
    np.testing.assert_array_equal(first, want.astype(np.float16).astype(np.float32))


def test_retrieve_scores_embeddings_folders_without_loading_a_model(tiny, tmp_path, monkeypatch):
    import xlt.models.loading as loading
    from xlt.jobs.retrieve import RetrieveSettings, run as retrieve

    _, spec = tiny
    rng = np.random.default_rng(3)
    src = [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 8)))) for _ in range(25)]
    other = [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 8)))) for _ in src]
    tgt = [s if i % 3 else other[i] for i, s in enumerate(src)]  # a third of the pairs are not translations
    (tmp_path / "p.de").write_text("\n".join(src) + "\n")
    (tmp_path / "p.en").write_text("\n".join(tgt) + "\n")
    (tmp_path / "gap.de").write_text("\n".join(src[:5] + [""] + src[5:24]) + "\n")  # 25 lines, one empty
    for name in ("p.de", "p.en", "gap.de"):
        assert _embed(tmp_path / name, tmp_path / f"emb-{name}", spec) == 0
    on_text = retrieve(RetrieveSettings(pairs=[tmp_path / "p.de", tmp_path / "p.en"], model=spec, batch_size=4,
                                        method="csls", k=3, progress=False))

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(loading, "load_encoder", refuse)
    on_folders = retrieve(RetrieveSettings(pairs=[tmp_path / "emb-p.de", tmp_path / "emb-p.en"], method="csls", k=3,
                                           src_lang="de", tgt_lang="en", progress=False))
    # the same vectors up to float rounding (one encode call per side vs shards of 7): the same accuracies
    assert on_folders.scores == on_text.scores and on_folders.scores_reverse == on_text.scores_reverse
    assert 0 < on_text.scores["de"] < 100  # not a trivial all-right or all-wrong case
    assert on_folders.report["model"] == spec
    # a folder whose rows lost their line alignment (an empty line was skipped) is refused
    with pytest.raises(ConfigError, match="skipped 1 empty"):
        retrieve(RetrieveSettings(pairs=[tmp_path / "emb-gap.de", tmp_path / "emb-p.en"], progress=False))
