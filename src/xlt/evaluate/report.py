"""Report writer shared by the transfer and retrieval subcommands.

A *report* is a plain dict (see :data:`REPORT_KEYS`)::

    {
      "command": "xlt transfer --task ner ...",   # str (or list of argv)
      "task": "ner", "model": "xlm-roberta-base", "mode": "zero-shot",
      "source": "en", "metric": "f1",
      "scores": {"en": 84.1, "de": 77.0, ...},      # percent, source included
      "scores_std": {"en": 0.3, ...},               # optional, std over seeds
      "per_seed": {"1": {"en": 84.0, ...}, ...},    # optional
      "average": 63.3, "average_std": 0.4,          # over targets (source excluded)
      "counts": {"de": {"sentences": 1000, "tokens": 20000,
                        "skipped_empty": 0, "truncated": 3}, ...},
      "config": {...}, "manifest": {...},           # manifest: build_manifest()
    }

:func:`write_report` writes ``report.json``, ``report.md`` and ``scores.png``.
Averages follow XTREME (Hu et al., 2020): the mean over *target* languages,
the source (training) language excluded. matplotlib is imported lazily and
only through its object-oriented API (``Figure`` + ``FigureCanvasAgg``), so
no global backend is touched; torch is never imported.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from xlt.core.io import to_jsonable, write_json, write_jsonl, write_text  # noqa: F401 (re-exported)
from xlt.core.metrics import mean_std
from xlt.core.outputs import write_together

__all__ = [
    "REPORT_KEYS",
    "REQUIRED_KEYS",
    "summarize_scores",
    "aggregate_seeds",
    "render_markdown",
    "plot_scores",
    "write_report",
    "write_json",
    "write_jsonl",
    "write_text",
]

#: Keys that :func:`write_report` requires in a report.
REQUIRED_KEYS: tuple[str, ...] = ("command", "task", "model", "mode", "source", "metric", "scores")

#: All keys :func:`write_report` understands (others are kept in the JSON only).
REPORT_KEYS: tuple[str, ...] = REQUIRED_KEYS + (
    "scores_std",
    "per_seed",
    "average",
    "average_std",
    "counts",
    "config",
    "manifest",
    "extra_markdown",
)

_SOURCE_COLOR = "#d62728"
_TARGET_COLOR = "#1f77b4"


# ---------------------------------------------------------------------------
# aggregation


def _finite(x: Any) -> bool:
    """True if ``x`` is a real finite number."""
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def summarize_scores(scores: Mapping[str, float], source: str) -> dict[str, Any]:
    """Average score over target languages, excluding the source language.

    Args:
        scores: ``{language code: score}`` (percent); may or may not contain
            ``source``.
        source: the source (training) language code, excluded from the mean.

    Returns:
        ``{"average": float | None, "n_targets": int}``: the arithmetic mean
        over all languages except ``source`` (percent), or None if there is
        no target language, and the number of target languages averaged.

    Raises:
        ValueError: if a target score is not a finite number.
    """
    targets = {k: v for k, v in scores.items() if k != source}
    bad = [k for k, v in targets.items() if not _finite(v)]
    if bad:
        raise ValueError(f"summarize_scores: non-finite scores for {bad}")
    if not targets:
        return {"average": None, "n_targets": 0}
    return {
        "average": math.fsum(float(v) for v in targets.values()) / len(targets),
        "n_targets": len(targets),
    }


def aggregate_seeds(
    per_seed: Mapping[Any, Mapping[str, float]], source: str
) -> dict[str, Any]:
    """Aggregate per-seed scores into mean/std per language and for the average.

    Args:
        per_seed: ``{seed: {language code: score}}`` (percent); every seed
            must cover the same set of languages.
        source: source language code (excluded from the target average).

    Returns:
        ``{"scores": {lang: mean}, "scores_std": {lang: std},
        "average": float | None, "average_std": float | None,
        "n_targets": int}``. Stds are sample stds over seeds (ddof=1, 0.0 for
        one seed; see :func:`xlt.core.metrics.mean_std`). ``average`` is
        the mean over seeds of each seed's target average (equal to the
        target average of ``scores``); ``average_std`` is the sample std of
        those per-seed averages. Both are None without target languages.

    Raises:
        ValueError: if ``per_seed`` is empty, seeds cover different
            languages, or a score is not finite.
    """
    if not per_seed:
        raise ValueError("aggregate_seeds: no seeds")
    seeds = list(per_seed)
    langs = list(per_seed[seeds[0]])
    for s in seeds[1:]:
        if set(per_seed[s]) != set(langs):
            raise ValueError(
                f"aggregate_seeds: seed {s!r} covers {sorted(per_seed[s])}, "
                f"seed {seeds[0]!r} covers {sorted(langs)}"
            )
    scores: dict[str, float] = {}
    scores_std: dict[str, float] = {}
    for lang in langs:
        m, sd = mean_std(per_seed[s][lang] for s in seeds)
        scores[lang] = m
        scores_std[lang] = sd
    seed_avgs = [summarize_scores(per_seed[s], source)["average"] for s in seeds]
    n_targets = summarize_scores(scores, source)["n_targets"]
    if n_targets == 0:
        avg, avg_std = None, None
    else:
        avg, avg_std = mean_std(a for a in seed_avgs if a is not None)
    return {
        "scores": scores,
        "scores_std": scores_std,
        "average": avg,
        "average_std": avg_std,
        "n_targets": n_targets,
    }


# ---------------------------------------------------------------------------
# helpers


def name_resolver(language_name: Callable[[str], str] | None) -> Callable[[str], str]:
    """Return a never-failing, caching code -> name function.

    With ``language_name=None``, ``xlt.data.langs.language_name`` is used if
    it can be imported; any error (import or lookup) falls back to the code.
    """
    fn: Callable[[str], Any] | None = language_name
    if fn is None:
        try:
            from xlt.data.langs import language_name as fn  # type: ignore[no-redef]
        except Exception:
            fn = None
    cache: dict[str, str] = {}

    def resolve(code: str) -> str:
        if code in cache:
            return cache[code]
        name = code
        if fn is not None:
            try:
                r = fn(code)
                if r:
                    name = str(r)
            except Exception:
                name = code
        cache[code] = name
        return name

    return resolve


def md_escape(text: Any) -> str:
    """Make ``text`` safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def format_number(x: Any, digits: int = 2) -> str:
    """Format a score; "n/a" for missing/non-finite values."""
    return f"{float(x):.{digits}f}" if _finite(x) else "n/a"


def _fmt_score(x: Any, sd: Any) -> str:
    """``"81.23 ± 0.45"`` when ``sd`` is a finite number, else ``"81.23"``."""
    s = format_number(x)
    if s != "n/a" and _finite(sd):
        s += f" ± {float(sd):.2f}"
    return s


def _model_name(model: Any) -> str:
    """Display name of the report's ``model`` field (str or dict)."""
    if isinstance(model, Mapping):
        for key in ("name", "id", "path"):
            if model.get(key):
                return str(model[key])
    return str(model)


def _command_str(command: Any) -> str:
    """The command line as one string (argv lists are shell-quoted)."""
    if isinstance(command, (list, tuple)):
        return shlex.join(str(c) for c in command)
    return str(command)


def _sorted_langs(scores: Mapping[str, Any]) -> list[str]:
    """Codes by score descending (missing scores last), ties by code."""
    return sorted(
        scores,
        key=lambda c: (0, -float(scores[c]), c) if _finite(scores[c]) else (1, 0.0, c),
    )


def _check_report(report: Mapping[str, Any]) -> None:
    """Raise ValueError for a report lacking required keys or scores."""
    missing = [k for k in REQUIRED_KEYS if k not in report]
    if missing:
        raise ValueError(f"report is missing keys {missing}")
    if not isinstance(report["scores"], Mapping) or not report["scores"]:
        raise ValueError("report['scores'] must be a non-empty {lang: score} dict")


def _average(report: Mapping[str, Any]) -> tuple[Any, Any, int]:
    """(average, average_std, n_targets) from the report, computed if absent."""
    summary = summarize_scores(
        {k: v for k, v in report["scores"].items() if _finite(v)}, report["source"]
    )
    avg = report.get("average")
    if avg is None:
        avg = summary["average"]
    return avg, report.get("average_std"), summary["n_targets"]


def _seeds(report: Mapping[str, Any]) -> list[Any]:
    """Seeds from the manifest, else the per-seed table, else the config."""
    manifest = report.get("manifest") or {}
    if manifest.get("seeds"):
        return list(manifest["seeds"])
    if report.get("per_seed"):
        return list(report["per_seed"])
    config = report.get("config") or {}
    for key in ("seeds", "seed"):
        if config.get(key) is not None:
            v = config[key]
            return list(v) if isinstance(v, (list, tuple)) else [v]
    return []


# ---------------------------------------------------------------------------
# markdown


def _count(counts: Mapping[str, Mapping[str, Any]], lang: str, key: str) -> str:
    """A count cell: ``counts[lang][key]``, or ``–`` when it is not recorded."""
    v = counts.get(lang, {}).get(key)
    return str(v) if v is not None else "–"


def _summary_lines(report: Mapping[str, Any], name: Callable[[str], str], avg: Any,
                   avg_std: Any, n_targets: int, seeds: list[Any]) -> list[str]:
    """The bullet list under the command: source score, target average, seeds."""
    scores: Mapping[str, Any] = report["scores"]
    stds: Mapping[str, Any] = report.get("scores_std") or {}
    source: str = report["source"]
    metric: str = str(report["metric"])
    lines: list[str] = []
    if source in scores:
        lines.append(
            f"- Source language: **{source}** ({name(source)}): "
            f"{_fmt_score(scores[source], stds.get(source))} (excluded from the average)"
        )
    else:
        lines.append(f"- Source language: **{source}** ({name(source)}): not evaluated")
    lines.append(
        f"- Target average over {n_targets} language{'s' if n_targets != 1 else ''}: "
        f"**{_fmt_score(avg, avg_std)}** {metric} (%)"
    )
    if seeds:
        lines.append(f"- Seeds: {', '.join(str(s) for s in seeds)}"
                     + (" (± = sample std over seeds)" if stds or _finite(avg_std) else ""))
    lines.append("")
    return lines


def _scores_table(report: Mapping[str, Any], name: Callable[[str], str], targets: list[str],
                  avg: Any, avg_std: Any, n_targets: int) -> list[str]:
    """The ``## Scores`` section: source row, ranked targets, target-average row."""
    scores: Mapping[str, Any] = report["scores"]
    stds: Mapping[str, Any] = report.get("scores_std") or {}
    counts: Mapping[str, Mapping[str, Any]] = report.get("counts") or {}
    source: str = report["source"]
    metric: str = str(report["metric"])
    lines = [
        "## Scores",
        "",
        f"| rank | code | language | {md_escape(metric)} (%) | sentences | tokens |",
        "|---:|:---|:---|---:|---:|---:|",
    ]
    if source in scores:
        lines.append(
            f"| source | **{md_escape(source)}** (source) | {md_escape(name(source))} | "
            f"{_fmt_score(scores[source], stds.get(source))} | "
            f"{_count(counts, source, 'sentences')} | {_count(counts, source, 'tokens')} |"
        )
    for rank, code in enumerate(targets, start=1):
        lines.append(
            f"| {rank} | {md_escape(code)} | {md_escape(name(code))} | "
            f"{_fmt_score(scores[code], stds.get(code))} | "
            f"{_count(counts, code, 'sentences')} | {_count(counts, code, 'tokens')} |"
        )
    lines.append(
        f"| | | **target average (n={n_targets})** | **{_fmt_score(avg, avg_std)}** | | |"
    )
    lines.append("")
    return lines


def _flagged_table(report: Mapping[str, Any], name: Callable[[str], str],
                   targets: list[str]) -> list[str]:
    """The ``## Skipped and truncated`` section, or nothing when all those counts are zero."""
    scores: Mapping[str, Any] = report["scores"]
    counts: Mapping[str, Mapping[str, Any]] = report.get("counts") or {}
    source: str = report["source"]
    order = ([source] if source in scores else []) + targets
    order += [c for c in counts if c not in scores]
    flagged = [
        c for c in order
        if c in counts and (counts[c].get("skipped_empty") or counts[c].get("truncated"))
    ]
    if not flagged:
        return []
    lines = [
        "## Skipped and truncated",
        "",
        "| code | language | skipped (empty) | truncated | sentences |",
        "|:---|:---|---:|---:|---:|",
    ]
    for c in flagged:
        lines.append(
            f"| {md_escape(c)} | {md_escape(name(c))} | {counts[c].get('skipped_empty', 0) or 0} | "
            f"{counts[c].get('truncated', 0) or 0} | {_count(counts, c, 'sentences')} |"
        )
    lines.append("")
    return lines


def _manifest_lines(manifest: Mapping[str, Any], seeds: list[Any]) -> list[str]:
    """The ``## Manifest`` section: versions, time, seeds, machine, packages, data files."""
    lines = ["## Manifest", ""]
    if not manifest:
        return lines + ["(no manifest recorded)", ""]
    git = manifest.get("git") or {}
    ver = f"xlt {manifest.get('xlt_version', '?')}"
    if git.get("commit"):
        ver += f", git {str(git['commit'])[:12]}" + (" (dirty)" if git.get("dirty") else "")
    lines.append(f"- {ver}; Python {manifest.get('python', '?')}; {manifest.get('platform', '?')}")
    if manifest.get("timestamp_utc"):
        lines.append(f"- Time (UTC): {manifest['timestamp_utc']}")
    lines.append(f"- Seeds: {', '.join(str(s) for s in seeds) if seeds else '–'}")
    machine = manifest.get("machine") or {}
    if machine:
        lines.append(
            f"- Machine: {machine.get('cpu_count', '?')} CPUs, "
            f"torch threads {machine.get('torch_threads') or '–'}, "
            f"CUDA {machine.get('cuda_device') or 'none'}"
        )
    packages = manifest.get("packages") or {}
    if packages:
        lines.append(
            "- Packages: " + ", ".join(f"{k} {v}" for k, v in packages.items())
        )
    files = manifest.get("data_files") or []
    if files:
        lines += ["", "| data file | bytes | sha256 |", "|:---|---:|:---|"]
        for f in files:
            lines.append(
                f"| {md_escape(f.get('path', '?'))} | {f.get('bytes', '?')} | "
                f"`{str(f.get('sha256', ''))[:12]}` |"
            )
    lines.append("")
    return lines


def render_markdown(
    report: Mapping[str, Any], language_name: Callable[[str], str] | None = None
) -> str:
    """Render a report as Markdown (the content of ``report.md``).

    Layout: a title with task/model/mode/metric; the command line in a code
    block; a summary (source score, target average, seeds); a scores table
    with columns ``rank | code | language | <metric> (%) | sentences |
    tokens`` where the source row comes first with rank ``source`` and a
    bold code, followed by target languages ranked by score (descending,
    ties by code) and a final bold target-average row; a table of skipped
    (empty) / truncated sentences if any count is non-zero; the report's
    ``extra_markdown`` sections (a list of Markdown strings), if any; and a manifest
    section (xlt version/git commit, seeds, machine, package versions, data
    files with 12-character SHA-256 prefixes).

    Args:
        report: a report dict (see module docstring / :data:`REPORT_KEYS`).
        language_name: code -> name callable; default
            ``xlt.data.langs.language_name`` if importable, else the code.

    Returns:
        The Markdown text (ends with a newline).

    Raises:
        ValueError: if required keys are missing or ``scores`` is empty.
    """
    _check_report(report)
    name = name_resolver(language_name)
    metric: str = str(report["metric"])
    avg, avg_std, n_targets = _average(report)
    seeds = _seeds(report)

    lines = [f"# {report['task']} · {_model_name(report['model'])} · {report['mode']} · {metric}"]
    lines += ["", "Command:", "", "```text", _command_str(report["command"]), "```", ""]
    lines += _summary_lines(report, name, avg, avg_std, n_targets, seeds)
    targets = [c for c in _sorted_langs(report["scores"]) if c != report["source"]]
    lines += _scores_table(report, name, targets, avg, avg_std, n_targets)
    lines += _flagged_table(report, name, targets)
    # job-specific sections (e.g. a method comparison), already in Markdown
    for section in report.get("extra_markdown") or []:
        lines += [str(section).rstrip(), ""]
    lines += _manifest_lines(report.get("manifest") or {}, seeds)
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# plot


def plot_scores(
    report: Mapping[str, Any],
    path: str | os.PathLike[str],
    language_name: Callable[[str], str] | None = None,
    dpi: int = 100,
) -> Path:
    """Horizontal bar chart of per-language scores, sorted descending.

    The source language's bar is coloured differently (red vs blue), a
    dashed vertical line marks the target average, and error bars show
    ``scores_std`` when present. The figure height grows linearly with the
    number of languages and the font shrinks, so 200+ languages stay
    readable. Uses ``matplotlib.figure.Figure`` with ``FigureCanvasAgg``
    (no pyplot, no global backend change).

    Args:
        report: a report dict (see :data:`REPORT_KEYS`).
        path: output PNG path (parent folders must exist).
        language_name: code -> name callable (see :func:`render_markdown`).
        dpi: resolution in dots per inch.

    Returns:
        ``Path(path)``.

    Raises:
        ValueError: if required keys are missing or ``scores`` is empty.
    """
    _check_report(report)
    from matplotlib.backends.backend_agg import (
        FigureCanvasAgg,  # lazy: keeps `xlt --help` free of heavy imports (tests/test_layers.py)
    )
    from matplotlib.figure import Figure  # lazy: keeps `xlt --help` free of heavy imports (tests/test_layers.py)
    from matplotlib.lines import Line2D  # lazy: keeps `xlt --help` free of heavy imports (tests/test_layers.py)
    from matplotlib.patches import Patch  # lazy: keeps `xlt --help` free of heavy imports (tests/test_layers.py)

    name = name_resolver(language_name)
    scores: Mapping[str, Any] = report["scores"]
    stds: Mapping[str, Any] = report.get("scores_std") or {}
    source: str = report["source"]
    metric = str(report["metric"])
    avg, _, n_targets = _average(report)

    langs = [c for c in _sorted_langs(scores) if _finite(scores[c])]
    n = len(langs)
    values = [float(scores[c]) for c in langs]
    errs = [float(stds[c]) if _finite(stds.get(c)) else 0.0 for c in langs]
    colors = [_SOURCE_COLOR if c == source else _TARGET_COLOR for c in langs]

    def label(c: str) -> str:
        nm = name(c)
        if nm == c:
            return c
        nm = nm if len(nm) <= 22 else nm[:21] + "…"
        return f"{nm} ({c})"

    fontsize = 9.0 if n <= 30 else 7.0 if n <= 80 else 5.5
    height = max(3.0, 0.17 * n + 1.6) if n <= 80 else 0.12 * n + 1.6
    fig = Figure(figsize=(8.0, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = list(range(n))
    ax.barh(
        ys,
        values,
        xerr=errs if any(errs) else None,
        color=colors,
        height=0.75,
        error_kw={"elinewidth": 0.6, "capsize": 1.5, "ecolor": "0.25"},
    )
    ax.set_yticks(ys, labels=[label(c) for c in langs], fontsize=fontsize)
    ax.set_ylim(n - 0.5, -0.5)  # best at the top
    top = max([100.0] + [v + e for v, e in zip(values, errs)])
    ax.set_xlim(0.0, top * 1.02 if top > 100.0 else 100.0)
    ax.set_xlabel(f"{metric} (%)", fontsize=fontsize + 1)
    ax.tick_params(axis="x", labelsize=fontsize)
    if n > 40:  # long charts: x ticks at the top too
        ax.tick_params(axis="x", top=True, labeltop=True)
    ax.grid(axis="x", alpha=0.3, linewidth=0.5)
    ax.set_axisbelow(True)
    if n <= 60:
        for y, v in zip(ys, values):
            ax.text(v + 0.5, y, f"{v:.1f}", va="center", fontsize=fontsize - 1)

    handles = [Patch(color=_SOURCE_COLOR, label=f"source ({source})"),
               Patch(color=_TARGET_COLOR, label="target")]
    if _finite(avg):
        ax.axvline(float(avg), linestyle="--", color="black", linewidth=1.0)
        handles.append(
            Line2D([], [], linestyle="--", color="black",
                   label=f"target average {float(avg):.1f} (n={n_targets})")
        )
    # Outside the axes (below the x label) so it never hides a bar.
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
               fontsize=fontsize, frameon=False)
    ax.set_title(
        f"{report['task']} · {_model_name(report['model'])} · {report['mode']} · {metric}",
        fontsize=fontsize + 2,
    )
    out = Path(path)
    fig.savefig(out, format="png")
    return out


# ---------------------------------------------------------------------------
# writer


def write_report(
    out_dir: str | os.PathLike[str],
    report: Mapping[str, Any],
    language_name: Callable[[str], str] | None = None,
) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``scores.png`` into ``out_dir``.

    * ``report.json``: the report, pretty-printed (indent 2), UTF-8 (no
      ASCII escaping), key order kept; values pass through
      :func:`xlt.core.io.to_jsonable` (paths -> str, numpy
      scalars -> Python numbers, dict keys -> str so integer seeds become
      ``"13"``, NaN/inf -> null). If ``average`` is absent it is filled in
      with :func:`summarize_scores`.
    * ``report.md``: see :func:`render_markdown`.
    * ``scores.png``: see :func:`plot_scores`.

    Files are written atomically (temporary file + rename).

    Args:
        out_dir: output folder (created if needed).
        report: the report dict; required keys :data:`REQUIRED_KEYS`,
            optional keys as in :data:`REPORT_KEYS`. Scores are percent.
        language_name: code -> name callable; default
            ``xlt.data.langs.language_name`` if importable (errors fall back
            to the code itself).

    Returns:
        ``{"json": Path, "markdown": Path, "png": Path}``.

    Raises:
        ValueError: if required keys are missing or ``scores`` is empty.
    """
    _check_report(report)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = dict(report)
    if data.get("average") is None:
        data["average"] = _average(report)[0]

    paths = {"json": out / "report.json", "markdown": out / "report.md", "png": out / "scores.png"}
    # all three are written to temporary names first and renamed together (interrupts held back),
    # so the folder never shows a new report.json beside an old report.md
    text = json.dumps(to_jsonable(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_together({
        paths["json"]: lambda p: p.write_text(text, encoding="utf-8"),
        paths["markdown"]: lambda p: p.write_text(render_markdown(data, language_name), encoding="utf-8"),
        paths["png"]: lambda p: plot_scores(data, p, language_name),
    })
    return paths
