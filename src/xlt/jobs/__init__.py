"""xlt.jobs: the runs behind the commands: configuration -> data -> model -> compute -> report.

Jobs sit above every library layer (data -> models -> align/adapt -> transfer/retrieval ->
evaluate) and may use all of them; no library layer imports from here. Each command module in
:mod:`xlt.cli` parses options into a job's config dataclass and calls its ``run_*`` function.

* :mod:`xlt.jobs.transfer` - ``xlt transfer`` (:class:`~xlt.jobs.transfer.TransferConfig`);
* :mod:`xlt.jobs.silver` - ``xlt project --silver`` (:class:`~xlt.jobs.silver.SilverConfig`);
* :mod:`xlt.jobs.retrieve` - ``xlt retrieve`` (:class:`~xlt.jobs.retrieve.RetrieveSettings`);
* :mod:`xlt.jobs.mine` - ``xlt mine`` (:class:`~xlt.jobs.mine.MineConfig`,
  :class:`~xlt.jobs.mine.MineEvalConfig`);
* :mod:`xlt.jobs.align` - ``xlt align fit|eval|finetune`` (:class:`~xlt.jobs.align.AlignFitConfig`,
  :class:`~xlt.jobs.align.AlignFinetuneConfig`);
* :mod:`xlt.jobs.wordalign` - ``xlt wordalign``.

The command modules read the config dataclasses' defaults for their help texts when ``xlt``
builds its parser, so the job modules other than transfer import torch inside their ``run_*``
functions, not at module level.
"""

from xlt.core.errors import XltError



class ConfigError(XltError, ValueError):
    """A job setting that cannot work (a count below 1, an unknown choice, a rate that is not a
    positive number); raised before any data or model is loaded."""


def check_max_length(model: str, max_length: int | None, option: str = "--max-length", default: int | None = None) -> None:
    """Refuse a training length the model's position embeddings cannot hold, before it loads.

    Args:
        model: the model spec (read without loading weights: :func:`xlt.models.loading.model_max_length`).
        max_length: the asked length in tokens, special tokens included (None: not set).
        option: the option's name, for the message.
        default: the setting's default: a model with fewer positions caps it (training never goes
            past the model's length) instead of refusing it.

    Raises:
        ConfigError: ``max_length`` is above the model's limit (a long sentence would fail in the
            middle of training otherwise).
    """
    from xlt.models.loading import model_max_length

    if max_length is None or max_length == default:
        return
    limit = model_max_length(model)
    if limit is not None and max_length > limit:
        raise ConfigError(f"{option} {max_length}: {model} takes at most {limit} tokens (its position embeddings); "
                          f"give {option} {limit} or less")


def check_layer_list(model: str, layers, option: str = "--layers") -> None:
    """Check a layer list (``'all'``, ``'last'``, ``'8'``, ``'0,4,8'``) against the model's layer count,
    read without loading weights.

    Raises:
        ConfigError: a layer outside ``-(L+1)..L`` for a model of ``L`` layers, or not a number.
    """
    from xlt.align.fit import parse_layers
    from xlt.models.features import resolve_layers
    from xlt.models.loading import model_num_layers

    try:
        spec = parse_layers(layers)
    except ValueError:
        raise ConfigError(f"{option} {layers}: expected 'all', 'last' or comma-separated layer numbers") from None
    n = model_num_layers(model)
    if n is None:
        return
    try:
        resolve_layers(spec, n)
    except ValueError as exc:
        raise ConfigError(f"{option} {layers}: {model} has {n} layers ({exc})") from None
