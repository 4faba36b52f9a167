"""Transfer matrices: zero-shot scores of every source language (rows) on every target (columns).

A matrix is what source-language selection learns from (LangRank, Lin et al. 2019: "Choosing
Transfer Languages for Cross-Lingual Learning"; MasakhaNER 2.0, Adelani et al. 2022, where the
best source beats English by 14 F1 on average over 20 African languages). This module renders
one: ``matrix.json`` (the scores, the best source per target and what it gains over the first
source), ``matrix.md`` (the table) and ``matrix.png`` (a heat map), written together.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xlt.core.io import write_json
from xlt.core.outputs import write_together
from xlt.evaluate.plots import heatmap

__all__ = ["MAX_COLUMNS", "best_sources", "render_matrix_markdown", "write_matrix_report"]

#: Up to this many targets the table has one column per target; above it, one row per target.
MAX_COLUMNS = 20


def best_sources(scores: Mapping[str, Mapping[str, float]], exclude_self: bool = True) -> dict[str, dict]:
    """The best source per target.

    Args:
        scores: source → target → score (percent).
        exclude_self: a source is not a candidate for its own language (that is not transfer).

    Returns:
        target → ``{"source", "score", "first", "first_score", "gain"}``: the best source and its
        score, the first source in ``scores`` (the baseline, e.g. English) with its score and the
        gain of the best over it. Targets no source scores are left out.
    """
    sources = list(scores)
    targets = list(dict.fromkeys(t for s in sources for t in scores[s]))
    out: dict[str, dict] = {}
    base = sources[0] if sources else None
    for t in targets:
        cands = [(scores[s][t], s) for s in sources if t in scores[s] and not (exclude_self and s == t)
                 and not math.isnan(scores[s][t])]
        if not cands:
            continue
        best_score, best = max(cands, key=lambda c: (c[0], -sources.index(c[1])))
        first = scores[base].get(t) if base is not None and base != t else None
        out[t] = {"source": best, "score": best_score, "first": base if first is not None else None,
                  "first_score": first, "gain": None if first is None else best_score - first}
    return out


def render_matrix_markdown(report: Mapping[str, Any]) -> str:
    """``matrix.md``: the sources × targets table, each target's best source, and the averages."""
    sources, targets = report["sources"], report["targets"]
    scores = report["scores"]
    lines = [f"# Transfer matrix: {report['task']} ({report['mode']}, {report['metric_name']})", "",
             f"Model `{report['model']}`; each cell is a target language's score (zero-shot) under the model "
             f"trained on a source language (a source's own language is in brackets: that is not transfer). "
             f"Command: `{report.get('command_line', '')}`", ""]
    def cell(s: str, t: str) -> str:
        v = scores[s].get(t)
        return "–" if v is None else (f"({v:.1f})" if t == s else f"{v:.1f}")

    n_shared = len(report.get("shared_targets", []))
    shared = report.get("shared_average") or {}
    columns = ["zero-shot average"] + ([f"average ({n_shared} shared)"] if n_shared and shared else [])

    def averages(s: str) -> list[str]:
        values = [report["source_average"].get(s)] + ([shared.get(s)] if len(columns) > 1 else [])
        return ["–" if v is None else f"{v:.2f}" for v in values]

    if len(targets) <= MAX_COLUMNS:  # sources as rows
        lines.append("| source \\ target | " + " | ".join(targets) + " | " + " | ".join(columns) + " |")
        lines.append("|:---|" + "---:|" * (len(targets) + len(columns)))
        for s in sources:
            lines.append(f"| {s} | " + " | ".join(cell(s, t) for t in targets) + " | " + " | ".join(averages(s)) + " |")
    else:  # many targets: one row per target, so the table stays readable
        lines.append("| target \\ source | " + " | ".join(sources) + " |")
        lines.append("|:---|" + "---:|" * len(sources))
        for t in targets:
            lines.append(f"| {t} | " + " | ".join(cell(s, t) for s in sources) + " |")
        for i, name in enumerate(columns):
            lines.append(f"| **{name}** | " + " | ".join(f"**{averages(s)[i]}**" for s in sources) + " |")
    lines += ["", "The zero-shot average of a source is over every target but its own language"
              + (f"; the shared average over the {n_shared} targets that are no source's language." if len(columns) > 1
                 else ".")]
    lines += ["", "## Best source per target", "",
              f"| target | best source | score | {sources[0]} | gain |", "|:---|:---|---:|---:|---:|"]
    for t, b in report["best_source"].items():
        first = "–" if b["first_score"] is None else f"{b['first_score']:.1f}"
        gain = "–" if b["gain"] is None else f"{b['gain']:+.1f}"
        lines.append(f"| {t} | {b['source']} | {b['score']:.1f} | {first} | {gain} |")
    gains = [b["gain"] for b in report["best_source"].values() if b["gain"] is not None]
    if gains:
        lines += ["", f"Choosing each target's best source instead of {sources[0]}: {np.mean(gains):+.2f} on "
                      f"average over {len(gains)} targets (the oracle; a ranker has to find it without labels)."]
    ens = report.get("ensembles")
    if ens and ens.get("average"):
        lines += ["", f"## Ensembles of the source models ({len(ens['targets'])} targets)", "",
                  "| predictor | average |", "|:---|---:|"]
        lines += [f"| {name} | {value:.2f} |" for name, value in ens["average"].items()]
        if ens.get("not_ranked"):
            lines += ["", f"Not ranked (no URIEL data, so no top-{ens['k']} ensemble): {', '.join(ens['not_ranked'])}"]
    return "\n".join(lines) + "\n"


def write_matrix_report(out_dir: str | os.PathLike, report: Mapping[str, Any]) -> dict[str, Path]:
    """Write ``matrix.json``, ``matrix.md`` and ``matrix.png`` into ``out_dir``, all at once.

    Args:
        out_dir: the folder (created if needed).
        report: keys ``task``, ``mode``, ``metric_name``, ``model``, ``sources``, ``targets``,
            ``scores`` (source → target → %), ``source_average``, ``best_source``.

    Returns:
        ``{"json", "markdown", "png"}`` → paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "matrix.json", "markdown": out / "matrix.md", "png": out / "matrix.png"}
    sources, targets = report["sources"], report["targets"]
    values = np.array([[report["scores"][s].get(t, np.nan) if s != t else np.nan for t in targets]
                       for s in sources], dtype=float)
    md = render_matrix_markdown(report)
    write_together({
        paths["json"]: lambda p: write_json(p, report),
        paths["markdown"]: lambda p: p.write_text(md, encoding="utf-8"),
        paths["png"]: lambda p: heatmap(p, values, sources, targets,
                                        f"{report['task']} transfer matrix · {report['model']}",
                                        report["metric_name"], 0, 100, xlabel="target language"),
    })
    return paths
