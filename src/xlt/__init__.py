"""xlt: zero-shot cross-lingual transfer with multilingual encoders.

The public API, in a few lines::

    import xlt

    ds = xlt.read_dataset("train.conll", eval=["de=test-de.conll", "sw=test-sw.conll"])
    # or: ds = xlt.load_task("panx", targets="de,sw")  /  xlt.from_examples(train, eval=...)
    result = xlt.zero_shot_transfer(ds, model="bundled:e5-small", mode="probe")
    print(result.report["scores"], result.report["average"])
    result.model.save_pretrained("my-ner")
    model = xlt.TaskModel.from_pretrained("my-ner")
    model.predict(["Amina alienda Nairobi jana ."], lang="sw")

Names are imported lazily, so ``import xlt`` stays cheap (no torch until a model is used).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # data sets as values
    "TaskDataset": "xlt.data.dataset",
    "Split": "xlt.data.dataset",
    "load_task": "xlt.data.dataset",
    "from_examples": "xlt.data.dataset",
    "read_dataset": ("xlt.data.dataset", "from_files"),
    "ReadOptions": "xlt.data.formats",
    "read_examples": "xlt.data.formats",
    "FORMATS": "xlt.data.formats",
    "TaggedSentence": "xlt.data.readers",
    "TextExample": "xlt.data.readers",
    "PairExample": "xlt.data.readers",
    "TOKEN": "xlt.data.kinds",
    "SEQUENCE": "xlt.data.kinds",
    "PAIR": "xlt.data.kinds",
    "split_words": "xlt.data.segment",
    # models
    "load_encoder": "xlt.models.loading",
    "Encoder": "xlt.models.loading",
    "TaskModel": "xlt.transfer.model",
    "ProbeModel": "xlt.transfer.model",
    "FinetunedModel": "xlt.transfer.model",
    # transfer
    "zero_shot_transfer": "xlt.jobs.transfer",
    "TransferConfig": "xlt.jobs.transfer",
    "TransferResult": "xlt.jobs.transfer",
    # alignment
    "CrossLingualAligner": "xlt.align.maps",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'xlt' has no attribute {name!r}")
    module, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
