"""One process of a data-parallel ``xlt transfer`` run, for tests/test_distributed.py.

Started by ``accelerate launch --multi_gpu --num_processes N tests/distributed_driver.py CONFIG.json
RECORD_DIR`` (on a machine without a GPU the processes train on the CPU, gloo backend). It runs
:func:`xlt.jobs.transfer.transfer_result` with the :class:`~xlt.jobs.transfer.TransferConfig`
fields in CONFIG.json and writes ``RECORD_DIR/rank-<i>.json``: the process count, the training
history, selection and dev score of every seed, the scores, a hash of every seed's final weights,
and how many reports this process wrote.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path


def weights_hash(model) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main(config_path: str, record_dir: str) -> None:
    import torch

    torch.set_num_threads(1)
    import xlt.jobs.transfer as job
    from xlt.transfer.finetune import distributed_state

    written = []
    write_report = job.write_report

    def counting(*args, **kwargs):
        # the report is written into a staging folder beside --out and renamed into place: record the
        # folder it is published as
        folder = Path(args[0])
        written.append(str(folder.with_name(folder.name.split(".tmp-")[0].lstrip("."))))
        return write_report(*args, **kwargs)

    job.write_report = counting
    config = job.TransferConfig(**json.loads(Path(config_path).read_text(encoding="utf-8")))
    res = job.transfer_result(config, command=["distributed_driver"])
    state = distributed_state()
    record = {
        "rank": state.process_index, "num_processes": state.num_processes, "device": str(state.device),
        "backend": state.backend, "reports_written": written, "report": res.report,
        "weights": {str(s): weights_hash(m.model) for s, m in res.models.items()},
    }
    Path(record_dir).mkdir(parents=True, exist_ok=True)
    (Path(record_dir) / f"rank-{state.process_index}.json").write_text(json.dumps(record, indent=1, default=str),
                                                                       encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
