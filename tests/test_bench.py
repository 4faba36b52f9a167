"""Tests for xlt.jobs.bench (xlt bench) on the tiny encoder (structure and agreement, no timing asserts)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import make_tiny_encoder

from xlt.jobs.bench import bench_extract, format_bench, naive_encode_words


@pytest.fixture(scope="module")
def enc(tmp_path_factory):
    return make_tiny_encoder(tmp_path_factory.mktemp("tiny-bench"))


SENTS = [
    ["The", "cats", "running", "zebra"],
    ["dog"],
    ["a", "\x07", "big", "house"],  # a word without subwords: not comparable (see bench)
    ["walked", "on", "the", "mat", "quietly"],
    ["dog", "cats"] * 30,  # longer than the model limit: windowed vs truncated
]


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_bench_structure_and_agreement(enc, pooling):
    res = bench_extract(enc, SENTS, batch_size=2, repeats=2, pooling=pooling)
    for key in ("device", "model", "n_sentences", "n_words", "n_subwords", "memory_method",
                "xlt", "naive", "speedup", "max_abs_diff", "n_compared_words",
                "n_compared_sentences", "xlt_stats", "batch_size", "repeats"):
        assert key in res
    assert res["device"] == "cpu" and res["n_sentences"] == 5
    assert res["n_words"] == sum(len(s) for s in SENTS)
    for side in ("xlt", "naive"):
        r = res[side]
        assert set(r) >= {"seconds", "all_seconds", "tokens_per_s", "sentences_per_s",
                          "peak_memory_mb"}
        assert len(r["all_seconds"]) == 2 and r["seconds"] == min(r["all_seconds"])
        assert r["seconds"] > 0 and r["tokens_per_s"] > 0 and r["peak_memory_mb"] >= 0
    assert res["speedup"] > 0
    assert res["n_compared_sentences"] == 3
    assert res["n_compared_words"] == 4 + 1 + 5
    assert res["max_abs_diff"] < 1e-4
    assert "RSS" in res["memory_method"] or "ru_maxrss" in res["memory_method"]
    table = format_bench(res)
    assert table.startswith("| method |") and "speed-up" in table and "naive" in table
    assert len([ln for ln in table.splitlines() if ln.startswith("|")]) == 4


def test_bench_accepts_texts_and_prefix(enc):
    e5 = dataclasses.replace(enc, text_prefix="query: ")
    res = bench_extract(e5, ["the cats sat", "a big dog"], batch_size=8, warmup=False)
    assert res["n_words"] == 6 and res["max_abs_diff"] < 1e-4
    with pytest.raises(ValueError):
        bench_extract(enc, [], repeats=1)
    with pytest.raises(ValueError):
        bench_extract(enc, SENTS, repeats=0)


def test_naive_marks_missing_words(enc):
    out = naive_encode_words(enc, [["a", "\x07", "dog"]])
    assert out[0].shape == (3, 32)
    assert np.isnan(out[0][1]).all() and not np.isnan(out[0][[0, 2]]).any()


def test_bench_finetune_trains_both_ways_on_the_same_data(enc):
    """xlt's loop and the plain Trainer learn the same word -> tag mapping from the same start."""
    import random

    from fixtures import upos_sentences

    from xlt.jobs.bench import bench_finetune, format_bench_finetune

    sents = upos_sentences(48, random.Random(0))
    words, tags = [[w for w, _ in s] for s in sents], [[t for _, t in s] for s in sents]
    res = bench_finetune(enc, words[:40], tags[:40], words[40:], tags[40:], epochs=3, batch_size=8, lr=3e-3,
                         max_length=32)
    runs = res["runs"]
    assert set(runs) == {"xlt", "transformers.Trainer"}
    for r in runs.values():
        # embeddings are frozen and the tiny model is random: well above the 1/17 of guessing
        assert r["dev_accuracy"] > 30 and r["sentences_per_s"] == pytest.approx(40 * 3 / r["seconds"], rel=0.1)  # both rounded
    assert res["speedup"]["transformers.Trainer"] == 1.0
    assert res["speedup"]["xlt"] == pytest.approx(runs["xlt"]["sentences_per_s"] / runs["transformers.Trainer"]["sentences_per_s"], abs=0.01)
    assert "transformers.Trainer" in format_bench_finetune(res)


def test_bench_finetune_command_passes_its_seed(tmp_path, data, tiny):
    """`xlt bench finetune --seed N` trains with seed N (recorded in the result), repeatably."""
    import json

    from xlt.cli import main

    _, spec = tiny

    def run(seed, name):
        out = tmp_path / name
        assert main(["bench", "finetune", "--model", spec, "--data-dir", str(data.root), "--n", "30", "--dev-n", "10",
                     "--batch-size", "8", "--lr", "3e-3", "--no-trainer", "--seed", str(seed), "--out", str(out)]) == 0
        return json.loads(out.read_text(encoding="utf-8"))

    a, again = run(3, "a.json"), run(3, "b.json")
    assert a["settings"]["seed"] == 3
    assert a["runs"]["xlt"]["dev_accuracy"] == again["runs"]["xlt"]["dev_accuracy"]


def test_bench_settings_and_dispatch():
    from xlt.jobs import ConfigError
    from xlt.jobs.bench import BenchFinetuneSettings, BenchMineSettings, run

    assert BenchMineSettings(sizes="20,40", indexes="flat").sizes == [20, 40]
    assert BenchMineSettings(sizes=["20,40", "60"]).sizes == [20, 40, 60]  # as the command line gives them
    with pytest.raises(ConfigError, match=r"--variants: unknown \['nope'\]; choose from xlt, grouped"):
        BenchFinetuneSettings(variants="xlt,nope")
    with pytest.raises(ConfigError, match="--sizes 0: expected a whole number >= 1"):
        BenchMineSettings(sizes=[0])
    assert BenchFinetuneSettings(variants=["micro8", "xlt"]).trainer is True
    with pytest.raises(TypeError, match="not the settings of an xlt bench subcommand"):
        run(object())
