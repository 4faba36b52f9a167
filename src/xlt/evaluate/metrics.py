"""Evaluation metrics (percent): token accuracy, span F1 (seqeval), accuracy, mean ± std over seeds.

The functions live in :mod:`xlt.data.metrics`, beside the task data sets that name their metric,
so that the training code below this layer (model selection on source dev) can use them without
importing upwards; this module is their public home in the evaluation layer.
"""

from xlt.data.metrics import METRICS, SCHEMES, accuracy, mean_std, score, span_f1, token_accuracy

__all__ = ["METRICS", "SCHEMES", "accuracy", "mean_std", "score", "span_f1", "token_accuracy"]
