"""Data-parallel and resumable fine-tuning (issue 11) on the tiny test encoder and synthetic data.

* Two CPU processes (``accelerate launch --multi_gpu --num_processes 2``, gloo backend, started
  as a subprocess with a time limit, so a hang fails the test instead of stalling the suite) run
  ``tests/distributed_driver.py``; both must end with the same dev scores, selection and weights
  as each other, the same dev score as one process (within 0.5 points), one report and one saved
  model that loads. The two processes run their shares of each batch as micro-batches (gradients
  synced once per step), the one process each batch in one pass: the update must be the same.
* An interrupted fine-tuning run (an exception injected after the first checkpoint) resumed with
  ``resume=True`` must end with exactly the scores, history and weights of an uninterrupted run;
  a resume with other settings is refused.
"""

from __future__ import annotations

import dataclasses

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from xlt.jobs.transfer import TransferConfig, transfer_result
from xlt.transfer.checkpoint import CHECKPOINT_FILE, CheckpointError, load_checkpoint

pytestmark = pytest.mark.usefixtures("single_torch_thread")

HERE = Path(__file__).resolve().parent
LAUNCH_TIMEOUT_S = 150  # the launch takes ~15 s on 2 busy vCPUs; a hang must not stall the suite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weights_hash(model) -> str:
    sys.path.insert(0, str(HERE))
    from distributed_driver import weights_hash

    return weights_hash(model)


def _ft_config(spec, data, **kw) -> dict:
    base = dict(task="udpos", targets="de", model=spec, data_dir=str(data.root), mode="finetune", epochs=4,
                lr=3e-3, batch_size=8, max_length=32, train_limit=41, seeds=[0], progress=False)
    base.update(kw)
    return base


def _launch(config: dict, record_dir: Path, tmp_path: Path, n: int = 2) -> str:
    """Run tests/distributed_driver.py in ``n`` CPU processes; returns the output; fails on error or timeout."""
    cfg_file = tmp_path / "config.json"
    cfg_file.write_text(json.dumps(config), encoding="utf-8")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_ip", "127.0.0.1", "--main_process_port", str(_free_port()),
           str(HERE / "distributed_driver.py"), str(cfg_file), str(record_dir)]
    # no GPU even where there is one: the processes must train on the CPU (gloo)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GLOO_SOCKET_IFNAME="lo")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=LAUNCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"the {n}-process launch did not finish in {LAUNCH_TIMEOUT_S} s:\n{out[-4000:]}")
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope="module")
def two_processes(tiny, data, tmp_path_factory):
    """The records of a 2-process fine-tuning run (report, saved model, checkpoints)."""
    if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
        pytest.skip("torch.distributed with gloo is not available")
    _, spec = tiny
    root = tmp_path_factory.mktemp("dp")
    # micro-batches of 3: each process accumulates 1-2 parts per step and syncs gradients once
    config = _ft_config(spec, data, out=str(root / "out"), save=str(root / "model"),
                        checkpoint_dir=str(root / "ckpt"), micro_batch_size=3)
    _launch(config, root / "records", root)
    records = [json.loads((root / "records" / f"rank-{r}.json").read_text(encoding="utf-8")) for r in (0, 1)]
    return config, records, root


def test_two_processes_train_data_parallel_like_one(two_processes, tiny, data):
    config, (r0, r1), root = two_processes
    # a real 2-process group on the CPU, not two unrelated 1-process runs
    assert [r0["rank"], r1["rank"]] == [0, 1]
    assert r0["num_processes"] == r1["num_processes"] == 2 and r0["backend"] == "gloo"
    # every process computed the same dev scores and selection and ends with the same weights
    h0, h1 = r0["report"]["training"]["0"], r1["report"]["training"]["0"]
    assert [h["dev"] for h in h0] == [h["dev"] for h in h1]
    assert all(h["dev"] == h["dev"] for h in h0)  # no NaN on any process
    assert r0["report"]["selection"] == r1["report"]["selection"]
    assert "best source-dev epoch" in r0["report"]["selection"]["0"]
    assert r0["weights"] == r1["weights"]
    assert r0["report"]["scores"] == r1["report"]["scores"]  # sharded evaluation, gathered on both
    # only the main process wrote the report
    assert r0["reports_written"] == [config["out"]] and r1["reports_written"] == []
    on_disk = json.loads((Path(config["out"]) / "report.json").read_text(encoding="utf-8"))
    assert on_disk["scores"] == pytest.approx(r0["report"]["scores"])

    # one process, whole batches in one pass: same dev score (the same global batches, loss scaling
    # and schedule; only float rounding differs), same losses
    one = transfer_result(TransferConfig(**dict(config, out=None, save=None, checkpoint_dir=None,
                                                micro_batch_size=0)))
    h = one.report["training"]["0"]
    assert abs(one.report["dev_scores"]["0"] - r0["report"]["dev_scores"]["0"]) <= 0.5
    assert [x["loss"] for x in h0] == pytest.approx([x["loss"] for x in h], rel=1e-4)
    for lang, val in one.report["scores"].items():
        assert abs(val - r0["report"]["scores"][lang]) <= 0.5


def test_two_processes_save_one_model_and_one_checkpoint(two_processes):
    from xlt.transfer.model import TaskModel

    config, (r0, _), root = two_processes
    model = TaskModel.from_pretrained(config["save"])
    assert _weights_hash(model.model) == r0["weights"]["0"]  # the selected weights, saved once
    assert model.predict([["the", "cat", "sat", "."]])[0][0] in model.labels
    ck = load_checkpoint(Path(config["checkpoint_dir"]) / "seed-0" / CHECKPOINT_FILE)
    assert ck["num_processes"] == 2 and len(ck["rng"]) == 2 and ck["epoch"] == config["epochs"]
    assert not list((Path(config["checkpoint_dir"]) / "seed-0").glob(".*tmp"))  # no temporary left
    # a 2-process checkpoint is not resumed by one process
    with pytest.raises(CheckpointError, match="2 process"):
        load_checkpoint(Path(config["checkpoint_dir"]) / "seed-0" / CHECKPOINT_FILE, num_processes=1)


# ============================================================================ resume
class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def dropout_spec(tmp_path_factory):
    """The tiny encoder with dropout 0.1, so that an exact resume needs the RNG states too."""
    from helpers import make_tiny_encoder

    root = tmp_path_factory.mktemp("tiny-dropout")
    make_tiny_encoder(root)
    cfg_file = root / "tiny-bert" / "config.json"
    cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    cfg["hidden_dropout_prob"] = 0.1
    cfg_file.write_text(json.dumps(cfg), encoding="utf-8")
    return str(root / "tiny-bert")


def _interrupt_after(monkeypatch, n_saves: int) -> list:
    import xlt.transfer.finetune as ft

    saved = []
    original = ft.save_checkpoint

    def save_then_stop(path, payload):
        original(path, payload)
        saved.append((Path(path).parent.name, payload["epoch"]))
        if len(saved) == n_saves:
            raise Interrupted

    monkeypatch.setattr(ft, "save_checkpoint", save_then_stop)
    return saved


def test_interrupted_run_resumes_to_the_same_result(dropout_spec, data, tmp_path, monkeypatch):
    kw = _ft_config(dropout_spec, data, epochs=3, seeds=[0, 1], train_limit=24)
    full = transfer_result(TransferConfig(**kw))

    ckpt = tmp_path / "ckpt"
    with monkeypatch.context() as m:
        saved = _interrupt_after(m, 4)  # seed 0 done (3 epochs), seed 1 stopped after epoch 1
        with pytest.raises(Interrupted):
            transfer_result(TransferConfig(**kw, checkpoint_dir=str(ckpt)))
    assert saved == [("seed-0", 1), ("seed-0", 2), ("seed-0", 3), ("seed-1", 1)]
    assert load_checkpoint(ckpt / "seed-1" / CHECKPOINT_FILE)["epoch"] == 1

    # without --resume the checkpoints are not overwritten
    with pytest.raises(FileExistsError, match="--resume"):
        transfer_result(TransferConfig(**kw, checkpoint_dir=str(ckpt)))

    resumed = transfer_result(TransferConfig(**kw, checkpoint_dir=str(ckpt), resume=True))
    for field in ("scores", "per_seed", "dev_scores", "training", "selection", "average"):
        assert resumed.report[field] == full.report[field], field
    for s in (0, 1):
        assert _weights_hash(resumed.models[s].model) == _weights_hash(full.models[s].model)
    assert resumed.report["config"]["checkpoint_dir"] == str(ckpt)


def test_epoch_end_hook_per_seed_and_after_resume(tiny, data, tmp_path, monkeypatch):
    """FinetuneTrainer's hook gets (seed, epoch) for every epoch that runs; a resumed run calls it
    only for the epochs after the checkpoint, and its last call has the weights of the last epoch."""
    from xlt.jobs.parts import finetune_training
    from xlt.jobs.transfer import load_dataset_for
    from xlt.models.loading import load_encoder
    from xlt.transfer.training import FinetuneTrainer

    _, spec = tiny
    config = TransferConfig(**_ft_config(spec, data, epochs=3, seeds=[0, 1], train_limit=16))
    ds = load_dataset_for(config)
    encoder = load_encoder(spec, device="cpu")
    training = finetune_training(config, ds.kind.name, checkpoint_dir=str(tmp_path / "ckpt"))
    calls, last = [], {}

    def hook(seed, epoch, record, model):
        calls.append((seed, epoch, record["epoch"]))
        last[seed] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    with monkeypatch.context() as m:
        _interrupt_after(m, 4)  # seed 0 done, seed 1 stopped after its epoch 1
        with pytest.raises(Interrupted):
            FinetuneTrainer(encoder, ds, training, on_epoch_end=hook).train([0, 1])
    assert calls == [(0, 1, 1), (0, 2, 2), (0, 3, 3), (1, 1, 1)]
    calls.clear()
    resumed = FinetuneTrainer(encoder, ds, dataclasses.replace(training, resume=True), on_epoch_end=hook)
    resumed.train([0, 1])
    assert calls == [(1, 2, 2), (1, 3, 3)]  # seed 0's run is complete: it only reloads
    final = load_checkpoint(tmp_path / "ckpt" / "seed-1" / CHECKPOINT_FILE)["model"]
    assert all(torch.equal(last[1][k].cpu(), final[k]) for k in final)


def test_resume_with_other_settings_is_refused(tiny, data, tmp_path, monkeypatch, capsys):
    from xlt.cli import main

    _, spec = tiny
    kw = _ft_config(spec, data, epochs=2, train_limit=16, out=str(tmp_path / "out"))
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        with pytest.raises(Interrupted):
            transfer_result(TransferConfig(**kw, resume=True))  # --resume without a checkpoint: starts afresh
    ckpt = tmp_path / "out" / "checkpoints"  # the default folder with --resume
    assert (ckpt / "seed-0" / CHECKPOINT_FILE).is_file()

    with pytest.raises(CheckpointError, match=r"lr: 0\.003 in the checkpoint, 0\.001 now"):
        transfer_result(TransferConfig(**dict(kw, lr=1e-3), resume=True))
    with pytest.raises(CheckpointError, match="train"):  # other training data
        transfer_result(TransferConfig(**dict(kw, train_limit=12), resume=True))

    # the command line: one clear error line, exit code 2
    argv = ["transfer", "--task", "udpos", "--targets", "de", "--model", spec, "--data-dir", str(data.root),
            "--mode", "finetune", "--epochs", "2", "--lr", "0.001", "--batch-size", "8", "--max-length", "32",
            "--train-limit", "16", "--no-progress", "--out", str(tmp_path / "out"), "--resume"]
    assert main(argv) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("xlt: error: ")]
    assert len(errors) == 1 and "lr: 0.003 in the checkpoint, 0.001 now" in errors[0]
    # the same command with the original settings resumes and finishes
    assert main([a if a != "0.001" else "0.003" for a in argv]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert [h["epoch"] for h in report["training"]["0"]] == [1, 2] and report["config"]["resume"] is True
    assert load_checkpoint(ckpt / "seed-0" / CHECKPOINT_FILE)["epoch"] == 2


def test_checkpoint_options_need_finetune(tiny, data, tmp_path):
    _, spec = tiny
    with pytest.raises(CheckpointError, match="--mode finetune"):
        transfer_result(TransferConfig(task="udpos", model=spec, data_dir=str(data.root), mode="probe",
                                       resume=True, out=str(tmp_path / "out"), progress=False))
    with pytest.raises(CheckpointError, match="--checkpoint-dir or --out"):
        transfer_result(TransferConfig(**_ft_config(spec, data), resume=True))
