"""xlt.evaluate: metrics, reports and run manifests.

All scores are in percent (0-100), as in XTREME (Hu et al., 2020).
Importing this package does not import torch or matplotlib.

* :mod:`xlt.core.metrics` - token accuracy, span F1 (seqeval), accuracy,
  mean/std, metric dispatch.
* :mod:`xlt.evaluate.report` - report.json / report.md / scores.png writer.
* :mod:`xlt.evaluate.manifest` - run manifests (versions, data hashes, git).
* :mod:`xlt.evaluate.alignment` - MEXA, language identification, mPLM-Sim similarity.
* :mod:`xlt.evaluate.analyze` - the report files of ``xlt analyze`` / ``analyze correlate`` and
  their language pairing and correlations (the runs: :mod:`xlt.jobs.analyze`).
* :mod:`xlt.evaluate.matrix` - transfer matrix tables and heat maps.
* :mod:`xlt.evaluate.plots` - heat maps and figures (matplotlib imported when drawing).
"""

from xlt.evaluate.manifest import (
    DEFAULT_PACKAGES,
    build_manifest,
    file_sha256,
    git_info,
    machine_info,
    package_versions,
    to_jsonable,
)
from xlt.core.metrics import (
    METRICS,
    SCHEMES,
    accuracy,
    mean_std,
    score,
    span_f1,
    token_accuracy,
)
from xlt.evaluate.report import (
    REPORT_KEYS,
    REQUIRED_KEYS,
    aggregate_seeds,
    plot_scores,
    render_markdown,
    summarize_scores,
    write_report,
)

__all__ = [
    "DEFAULT_PACKAGES",
    "METRICS",
    "REPORT_KEYS",
    "REQUIRED_KEYS",
    "SCHEMES",
    "accuracy",
    "aggregate_seeds",
    "build_manifest",
    "file_sha256",
    "git_info",
    "machine_info",
    "mean_std",
    "package_versions",
    "plot_scores",
    "render_markdown",
    "score",
    "span_f1",
    "summarize_scores",
    "to_jsonable",
    "token_accuracy",
    "write_report",
]
