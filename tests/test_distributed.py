"""``xlt embed --cluster``: shards as Dask tasks give the same bytes as one process (xlt.jobs.distributed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xlt.cli import main
from xlt.jobs import ConfigError
from xlt.jobs.distributed import parse_cluster

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_cluster_forms():
    assert parse_cluster("local:2") == ("local", 2)
    assert parse_cluster("tcp://10.0.0.5:8786") == ("address", "tcp://10.0.0.5:8786")
    for bad in ("local:0", "local", "10.0.0.5:8786", "ray://x"):
        with pytest.raises(ConfigError, match="local:N"):
            parse_cluster(bad)


def test_a_local_two_worker_cluster_writes_the_same_shards_as_one_process(tiny, tmp_path):
    pytest.importorskip("distributed")
    rng = np.random.default_rng(1)
    words = ["alpha", "beta", "gamma", "delta", "stone", "river", "light", "house", "tree", "blue"]
    inp = tmp_path / "in.txt"
    inp.write_text("".join(" ".join(rng.choice(words, size=int(rng.integers(1, 10)))) + "\n" for _ in range(40)))
    common = ["--model", tiny[1], "--shard-size", "9", "--batch-size", "4", "--no-progress"]
    assert main(["embed", str(inp), "--out", str(tmp_path / "one"), *common]) == 0
    assert main(["embed", str(inp), "--out", str(tmp_path / "two"), "--cluster", "local:2", *common]) == 0
    names = ["manifest.json", "texts.jsonl"] + [f"shard-0000{i}.npy" for i in range(5)]  # 40 rows: 9*4 + 4
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    report = json.loads((tmp_path / "two" / "report.json").read_text())
    assert report["cluster"] == {"cluster": "local:2", "workers": 2} and report["shards"]["made"] == 5
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(names + ["report.json"])


def test_a_bad_cluster_is_refused_before_the_model_loads(tmp_path, capsys, no_model):
    inp = tmp_path / "in.txt"
    inp.write_text("one\ntwo\n")
    assert main(["embed", str(inp), "--out", str(tmp_path / "o"), "--cluster", "ray://head:10001"]) == 2
    assert "expected local:N" in capsys.readouterr().err
