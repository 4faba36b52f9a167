"""xlt.jobs: one module per command, each ``settings -> run(settings) -> typed result``.

Jobs sit above every library layer (core -> data -> models -> align/adapt/lexicon ->
transfer/retrieval -> evaluate) and may use all of them; no library layer imports from here. Each
job declares a typed settings dataclass (:mod:`xlt.jobs.settings`: defaults, help and checks
declared once beside each field, checked at construction) and a ``run`` function returning a
typed result; :mod:`xlt.cli` generates each command's options from the settings.

* :mod:`xlt.jobs.transfer`, :mod:`xlt.jobs.matrix` - ``xlt transfer`` (:class:`~xlt.jobs.parts.TransferSettings`);
* :mod:`xlt.jobs.silver`, :mod:`xlt.jobs.project` - ``xlt project`` (:class:`~xlt.jobs.project.ProjectSettings`);
* :mod:`xlt.jobs.rank` - ``xlt rank-sources`` (:class:`~xlt.jobs.rank.RankSettings`);
* :mod:`xlt.jobs.predict` - ``xlt predict`` (:class:`~xlt.jobs.predict.PredictSettings`);
* :mod:`xlt.jobs.retrieve` - ``xlt retrieve`` (:class:`~xlt.jobs.retrieve.RetrieveSettings`);
* :mod:`xlt.jobs.mine` - ``xlt mine`` (:class:`~xlt.jobs.mine.MineSettings`, :class:`~xlt.jobs.mine.MineEvalSettings`);
* :mod:`xlt.jobs.align` - ``xlt align fit|eval|finetune`` (:class:`~xlt.jobs.align.AlignFitSettings`,
  :class:`~xlt.jobs.align.AlignEvalSettings`, :class:`~xlt.jobs.align.AlignFinetuneSettings`);
* :mod:`xlt.jobs.wordalign` - ``xlt wordalign``;
* :mod:`xlt.jobs.adapt` - ``xlt adapt trim|mlm|extend|translit``;
* :mod:`xlt.jobs.analyze` - ``xlt analyze`` and ``analyze correlate``;
* :mod:`xlt.jobs.bench` - ``xlt bench extract|finetune|mine``;
* :mod:`xlt.jobs.bli` - ``xlt bli eval``;
* :mod:`xlt.jobs.export` - ``xlt export-model``.

Building the parser imports every job module, so torch and transformers are imported inside the
functions that run models, not at module level (``xlt --help`` stays fast).
"""

from xlt.align.fit import parse_layers
from xlt.core.errors import XltError
from xlt.models.features import resolve_layers
from xlt.models.loading import model_max_length, model_num_layers


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
