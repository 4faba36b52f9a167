"""xlt.jobs: the runs behind the commands: configuration -> data -> model -> compute -> report.

Jobs sit above every library layer (data -> models -> align/adapt -> transfer/retrieval ->
evaluate) and may use all of them; no library layer imports from here. Each command module in
:mod:`xlt.cli` parses options into a job's config dataclass and calls its ``run_*`` function.

* :mod:`xlt.jobs.transfer` - ``xlt transfer`` (:class:`~xlt.jobs.transfer.TransferConfig`);
* :mod:`xlt.jobs.silver` - ``xlt project --silver`` (:class:`~xlt.jobs.silver.SilverConfig`);
* :mod:`xlt.jobs.retrieve` - ``xlt retrieve`` (:class:`~xlt.jobs.retrieve.RetrievalConfig`);
* :mod:`xlt.jobs.mine` - ``xlt mine`` (:class:`~xlt.jobs.mine.MineConfig`,
  :class:`~xlt.jobs.mine.MineEvalConfig`);
* :mod:`xlt.jobs.align` - ``xlt align fit|eval|finetune`` (:class:`~xlt.jobs.align.AlignFitConfig`,
  :class:`~xlt.jobs.align.AlignFinetuneConfig`);
* :mod:`xlt.jobs.wordalign` - ``xlt wordalign``.

The command modules read the config dataclasses' defaults for their help texts when ``xlt``
builds its parser, so the job modules other than transfer import torch inside their ``run_*``
functions, not at module level.
"""


class ConfigError(ValueError):
    """A job setting that cannot work (a count below 1, an unknown choice, a rate that is not a
    positive number); raised before any data or model is loaded."""
