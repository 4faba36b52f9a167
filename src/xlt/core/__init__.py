"""xlt.core: the ground floor every layer stands on; it imports no other xlt package.

* :mod:`xlt.core.errors`: :class:`~xlt.core.errors.XltError`, the base class each layer's errors
  subclass, and :data:`~xlt.core.errors.USER_ERRORS`, what the command line prints as one line;
* :mod:`xlt.core.io`: atomic writes (temporary file, fsync, rename), JSON/JSONL/text files,
  :func:`~xlt.core.io.to_jsonable`;
* :mod:`xlt.core.arrays`: ``.npz`` reading with checks (:func:`~xlt.core.arrays.read_npz`);
* :mod:`xlt.core.metrics`: token accuracy, span F1 (seqeval), accuracy, mean ± std, in percent;
* :mod:`xlt.core.outputs`: the output rule (:class:`~xlt.core.outputs.OutputPlan`): no output may
  equal, contain or lie inside an input or another output, and results are published atomically.
"""
