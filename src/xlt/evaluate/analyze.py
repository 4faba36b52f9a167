"""Measures and report files of ``xlt analyze`` (the run itself is :mod:`xlt.jobs.analyze`).

An ``xlt analyze`` report scores every language of a multi-parallel set against a pivot language,
per layer: retrieval accuracy both ways, MEXA alignment (Kargaran et al. 2024;
:func:`~xlt.evaluate.alignment.mexa_score`) and language-identification accuracy before and after
mean-centering (Libovický et al. 2020), with an mPLM-Sim language similarity matrix (Lin et al.
2023). This module renders such a report (``report.md``, ``layers.png``, ``mexa_layers.png``,
``similarity.png``: :func:`write_analysis`), pairs the languages of an alignment report with those
of a transfer report (:func:`match_languages`), computes the correlations of ``xlt analyze
correlate`` (:func:`correlation`, Pearson and Spearman) and renders them (:func:`write_correlation`).
All scores are percent.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xlt.core.outputs import write_together
from xlt.data.dataset import DatasetError
from xlt.data.langs import AmbiguousLanguageError, UnknownLanguageError, language_name, match_language, same_language
from xlt.evaluate.plots import heatmap, new_figure
from xlt.evaluate.report import format_number, md_escape, name_resolver, write_json

__all__ = ["METRIC_KEYS", "TooFewLanguagesError", "best_layer", "correlation", "heatmap", "is_same_language",
           "match_languages", "render_analysis_markdown", "render_correlation_markdown", "value_at_layer",
           "write_analysis", "write_correlation"]

METRIC_KEYS = {"mexa": "mexa", "retrieval": "retrieval_xx_to_eng"}
"""``correlate`` metric name → per-layer table of the alignment report it reads."""


class TooFewLanguagesError(DatasetError):
    """Too few languages to analyse or correlate (a user error: the CLI prints it).

    A :class:`~xlt.data.dataset.DatasetError` (so an :class:`~xlt.core.errors.XltError` and a ``ValueError``).
    """

    def __init__(self, message: str, available: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.available = list(available)


def value_at_layer(values: Sequence[float], layers: Sequence[int], layer: int | str) -> float:
    """A per-layer list's value at ``layer`` (a layer id in ``layers``, or ``mean``: the mean over layers).

    Raises:
        ValueError: ``layer`` is not in ``layers``.
    """
    return float(np.mean(values)) if layer == "mean" else float(values[list(layers).index(layer)])


# --------------------------------------------------------------------------- report files


def _plot_layers(report: Mapping[str, Any], path: Path) -> None:
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    rows = report["per_layer_average"]
    xs = [r["layer"] for r in rows]
    for key, label, style in (("mexa", "MEXA", "-o"), ("retrieval_xx_to_eng", "retrieval xx→eng", "-s"),
                              ("retrieval_eng_to_xx", "retrieval eng→xx", "-^"),
                              ("lid_accuracy", "language ID", "--o"),
                              ("lid_accuracy_centered", "language ID, centred", "--s")):
        ax.plot(xs, [r[key] for r in rows], style, label=label, markersize=4)
    ax.axhline(report["language_id"]["chance"], color="0.5", linewidth=0.8, linestyle=":",
               label="language ID chance")
    ax.set_xticks(xs)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("% (mean over languages)")
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)
    fig.legend(fontsize=7, loc="outside right center")
    ax.set_title(f"{report['model']} · {_set_name(report)} · {report['counts']['languages'] - 1} languages "
                 f"↔ {report['source']}", fontsize=9)
    fig.savefig(path, format="png")


def _set_name(report: Mapping[str, Any]) -> str:
    """The multi-parallel set of a report, as titles name it (``NTREX`` or the file/folder name)."""
    given = report.get("parallel") or "ntrex"
    given = [given] if isinstance(given, str) else list(given)
    if len(given) == 1 and str(given[0]).strip().lower() == "ntrex":
        return "NTREX"
    return " ".join(Path(str(p)).name for p in given)


def _pivot_name(report: Mapping[str, Any]) -> str:
    try:
        return language_name(report["source"])
    except (UnknownLanguageError, KeyError):
        return str(report.get("source", "English"))


def render_analysis_markdown(report: Mapping[str, Any], language_name: Callable[[str], str] | None = None) -> str:
    """The ``report.md`` text of an ``xlt analyze`` report (tables per layer, language, ranking).

    Args:
        report: the report of :func:`xlt.jobs.analyze.run`.
        language_name: code → name (default :func:`xlt.data.langs.language_name`, falling back
            to the code).

    Returns:
        Markdown text ending with a newline.
    """
    name = name_resolver(language_name)
    layers, layer = report["layers"], report["layer"]
    c = report["counts"]
    lid = report["language_id"]
    out = [f"# Alignment analysis · {report['model']} · {_set_name(report)}", "", "Command:", "", "```text",
           report["command_line"], "```", "",
           f"- {c['languages'] - 1} languages against {_pivot_name(report)} ({report['source']}), "
           f"{c['sentences']} multi-parallel sentences "
           f"({c['skipped_empty']} of {c['lines']} lines skipped because they are empty in some language)",
           f"- Reported layer: **{layer}** (`--layer {report['config']['layer']}`); mean MEXA there "
           f"**{format_number(report['average'])}** %",
           f"- Best layer by mean MEXA: {report['best_layer']['mexa']}, by retrieval xx→{report['source']}: "
           f"{report['best_layer']['retrieval_xx_to_eng']}, most language-neutral after centring: "
           f"{report['best_layer']['lid_accuracy_centered']}",
           "", "## Per layer (means over languages, %)", "",
           "MEXA: share of sentences whose translation is closer (cosine) than every other sentence, "
           "both ways (Kargaran et al. 2024). Language ID: accuracy of a linear classifier predicting "
           f"the language of held-out sentences (chance {format_number(lid['chance'])} %), before and after "
           "subtracting each language's mean vector (Libovický et al. 2020); lower = more neutral.", "",
           f"| layer | MEXA | retrieval xx→{report['source']} | retrieval {report['source']}→xx | language ID "
           "| language ID, centred |",
           "|---:|---:|---:|---:|---:|---:|"]
    for r in report["per_layer_average"]:
        out.append(f"| {r['layer']} | {format_number(r['mexa'])} | {format_number(r['retrieval_xx_to_eng'])} | "
                   f"{format_number(r['retrieval_eng_to_xx'])} | {format_number(r['lid_accuracy'])} | "
                   f"{format_number(r['lid_accuracy_centered'])} |")
    pl = report["per_layer"]
    order = sorted(report["scores"], key=lambda lang: (-report["scores"][lang], lang))
    out += ["", f"## Per language at layer {layer} (%)", "",
            f"| code | language | MEXA | retrieval xx→{report['source']} | retrieval {report['source']}→xx |",
            "|:---|:---|---:|---:|---:|"]
    for lang in order:
        out.append(f"| {md_escape(lang)} | {md_escape(name(lang))} | {format_number(report['scores'][lang])} | "
                   f"{format_number(value_at_layer(pl['retrieval_xx_to_eng'][lang], layers, layer))} | "
                   f"{format_number(value_at_layer(pl['retrieval_eng_to_xx'][lang], layers, layer))} |")
    out += ["", f"## MEXA with {md_escape(report['source'])} per language and layer (%)", "",
            "| code | " + " | ".join(str(x) for x in layers) + " |", "|:---|" + "---:|" * len(layers)]
    for lang in order:
        out.append(f"| {md_escape(lang)} | " + " | ".join(f"{v:.1f}" for v in pl["mexa"][lang]) + " |")
    sim = report["similarity"]
    slangs = sim["langs"]
    out += ["", f"## Language similarity (mPLM-Sim, layer {sim['layer']})", "",
            "Mean cosine between the vectors of the same sentence in two languages (Lin et al. 2023)."]
    if len(slangs) <= 30:
        out += ["", "| | " + " | ".join(md_escape(x) for x in slangs) + " |", "|:---|" + "---:|" * len(slangs)]
        for lang, row in zip(slangs, sim["matrix"]):
            out.append(f"| **{md_escape(lang)}** | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    else:
        out += ["", "(matrix in report.json and similarity.png)"]
    top = int(report["config"].get("top") or 5)
    out += ["", f"## Most similar source languages (top {top})", "",
            "| target | " + " | ".join(f"#{i}" for i in range(1, top + 1)) + " |", "|:---|" + ":---|" * top]
    for target, ranked in report["source_ranking"].items():
        cells = [f"{md_escape(c)} {s:.3f}" for c, s in ranked[:top]] + [""] * max(0, top - len(ranked))
        out.append(f"| **{md_escape(target)}** ({md_escape(name(target))}) | " + " | ".join(cells) + " |")
    m = report.get("manifest") or {}
    git = m.get("git") or {}
    out += ["", "## Manifest", "",
            f"- xlt {m.get('xlt_version', '?')}" + (f", git {str(git['commit'])[:12]}" if git.get("commit") else "")
            + f"; seed {report['config']['seed']}; vectors stored as {c['vector_dtype']}; "
            f"{report['seconds']['total']} s", ""]
    return "\n".join(out)


def write_analysis(out_dir: str | Path, report: Mapping[str, Any]) -> dict[str, Path]:
    """Write ``report.json``, ``report.md``, ``layers.png``, ``mexa_layers.png`` and ``similarity.png``.

    Plots: mean MEXA, retrieval and language-ID accuracy per layer (line plot); MEXA per
    language × layer (heatmap); the similarity matrix (heatmap). Files are written atomically.

    Args:
        out_dir: folder (created if needed). report: the report of :func:`xlt.jobs.analyze.run`.

    Returns:
        ``{"json", "markdown", "layers_png", "mexa_png", "similarity_png"}`` → paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "layers_png": out / "layers.png",
             "mexa_png": out / "mexa_layers.png", "similarity_png": out / "similarity.png"}
    md = render_analysis_markdown(report)
    order = sorted(report["scores"], key=lambda lang: (-report["scores"][lang], lang))
    mexa = np.array([report["per_layer"]["mexa"][lang] for lang in order])
    sim = report["similarity"]
    write_together({  # all five appear at once (an interrupt leaves the old set)
        paths["json"]: lambda p: write_json(p, report),
        paths["markdown"]: lambda p: p.write_text(md, encoding="utf-8"),
        paths["layers_png"]: lambda p: _plot_layers(report, p),
        paths["mexa_png"]: lambda p: heatmap(
            p, mexa, order, [str(x) for x in report["layers"]],
            f"MEXA with {_pivot_name(report)} (%) · {report['model']}", "MEXA (%)", 0, 100,
            xlabel="layer (0 = embeddings)"),
        paths["similarity_png"]: lambda p: heatmap(
            p, np.array(sim["matrix"]), sim["langs"], sim["langs"],
            f"mPLM-Sim similarity, layer {sim['layer']} · {report['model']}", "mean cosine", digits=3),
    })
    return paths


# --------------------------------------------------------------------------- correlate


def _key(code: str) -> str:
    return code.strip().replace("_", "-").lower()


def is_same_language(a: str, b: str) -> bool:
    """Whether two codes denote one language (:func:`xlt.data.langs.same_language`); False when either
    code is unknown."""
    try:
        return same_language(a, b)
    except UnknownLanguageError:
        return False


def match_languages(transfer_langs: Iterable[str], alignment_langs: Iterable[str]) -> dict[str, Any]:
    """Pair each transfer-report language with an alignment-report language.

    Codes are compared through :mod:`xlt.data.langs` (``ar`` ↔ ``arb``, ``zh`` ↔ ``zho-CN``,
    ``tl`` ↔ ``fil``); an exact code match wins. When several alignment codes denote the
    language (``zho-CN``/``zho-TW``, ``por``/``por-BR``) :func:`~xlt.data.langs.match_language`
    narrows them by likely script and region (``zh`` → ``zho-CN``, ``pt`` → ``por``); if that
    still leaves several, the alphabetically first is taken. Every such choice is recorded.

    Args:
        transfer_langs: codes of the transfer report (source already removed).
        alignment_langs: codes of the alignment report.

    Returns:
        ``{"pairs": {transfer: alignment}, "choices": {transfer: {"chosen", "candidates"}},
        "unmatched_transfer": [...], "unmatched_alignment": [...]}``.
    """
    avail = list(dict.fromkeys(alignment_langs))
    pairs: dict[str, str] = {}
    choices: dict[str, dict[str, Any]] = {}
    unmatched = []
    for t in transfer_langs:
        exact = [a for a in avail if _key(a) == _key(t)]
        cands = exact or [a for a in avail if is_same_language(a, t)]
        if not cands:
            unmatched.append(t)
            continue
        if len(cands) == 1:
            pairs[t] = cands[0]
            continue
        try:
            pairs[t] = match_language(t, cands)
        except AmbiguousLanguageError as exc:
            pairs[t] = sorted(exc.candidates)[0]
        choices[t] = {"chosen": pairs[t], "candidates": cands}
    used = set(pairs.values())
    return {"pairs": pairs, "choices": choices, "unmatched_transfer": unmatched,
            "unmatched_alignment": [a for a in avail if a not in used]}


def correlation(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """Pearson's r and Spearman's rho (scipy.stats) of two equally long score lists, with two-sided
    p-values: ``{"pearson_r", "pearson_p", "spearman_rho", "spearman_p"}``; all NaN when either side
    is constant (no correlation is defined)."""
    from scipy.stats import pearsonr, spearmanr  # lazy: heavy import

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        nan = float("nan")
        return {"pearson_r": nan, "pearson_p": nan, "spearman_rho": nan, "spearman_p": nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, s = pearsonr(x, y), spearmanr(x, y)
    return {"pearson_r": float(p[0]), "pearson_p": float(p[1]),
            "spearman_rho": float(s[0]), "spearman_p": float(s[1])}


def best_layer(rows: list[dict], key: str) -> int | None:
    """The ``layer`` of the row with the highest finite ``key`` (a correlation per layer); None if none is finite."""
    ok = [r for r in rows if math.isfinite(r[key])]
    return max(ok, key=lambda r: r[key])["layer"] if ok else None


def _plot_correlation(report: Mapping[str, Any], path: Path) -> None:
    fig = new_figure(6.0, 4.5)
    ax = fig.add_subplot()
    xs = [r["alignment"] for r in report["table"]]
    ys = [r["transfer"] for r in report["table"]]
    ax.scatter(xs, ys, s=18)
    for r in report["table"]:
        ax.annotate(r["transfer_lang"], (r["alignment"], r["transfer"]), fontsize=7,
                    xytext=(3, 2), textcoords="offset points")
    if len(set(xs)) > 1:
        slope, icpt = np.polyfit(xs, ys, 1)
        grid = np.linspace(min(xs), max(xs), 2)
        ax.plot(grid, slope * grid + icpt, color="0.4", linewidth=0.8, linestyle="--")
    ax.set_xlabel(f"{report['metric_name']} with English, layer {report['layer']}")
    ax.set_ylabel(f"zero-shot {report['transfer_task']} {report['transfer_metric']} (%)")
    ax.grid(alpha=0.3)
    ax.set_title(f"n={report['n']} · Pearson r={format_number(report['pearson']['r'], 3)} · "
                 f"Spearman ρ={format_number(report['spearman']['rho'], 3)}", fontsize=9)
    fig.savefig(path, format="png")


def _p(p: Any) -> str:
    """A p-value with two significant digits; ``n/a`` when undefined."""
    return f"{float(p):.2g}" if p is not None and math.isfinite(float(p)) else "n/a"


def render_correlation_markdown(report: Mapping[str, Any]) -> str:
    """The ``report.md`` text of an ``xlt analyze correlate`` report (:func:`xlt.jobs.analyze.run_correlate`)."""
    name = name_resolver(None)
    out = [f"# Alignment vs zero-shot transfer · {report['metric_name']} vs {report['transfer_task']} "
           f"{report['transfer_metric']}", "", "```text", report["command_line"], "```", "",
           f"- Alignment report: `{report['alignment_report']}` (model {report['alignment_model']}), "
           f"layer {report['layer']}",
           f"- Transfer report: `{report['transfer_report']}` (model {report['transfer_model']}, "
           f"{report['transfer_mode']}, source {report['transfer_source']} excluded)",
           f"- n = {report['n']} languages: Pearson r = **{format_number(report['pearson']['r'], 3)}** "
           f"(p = {_p(report['pearson']['p'])}), Spearman ρ = **{format_number(report['spearman']['rho'], 3)}** "
           f"(p = {_p(report['spearman']['p'])})",
           f"- Best layer: by Pearson {report['best_layer']['pearson']}, by Spearman "
           f"{report['best_layer']['spearman']}", "",
           "## Per layer", "", "| layer | Pearson r | p | Spearman ρ | p |", "|---:|---:|---:|---:|---:|"]
    for r in report["per_layer"]:
        out.append(f"| {r['layer']} | {format_number(r['pearson_r'], 3)} | {_p(r['pearson_p'])} | "
                   f"{format_number(r['spearman_rho'], 3)} | {_p(r['spearman_p'])} |")
    out += ["", "## Languages", "", f"| transfer | alignment | language | {report['metric_name']} | transfer (%) |",
            "|:---|:---|:---|---:|---:|"]
    for r in report["table"]:
        out.append(f"| {md_escape(r['transfer_lang'])} | {md_escape(r['alignment_lang'])} | {md_escape(name(r['transfer_lang']))} | "
                   f"{format_number(r['alignment'])} | {format_number(r['transfer'])} |")
    out.append("")
    for t, ch in report["choices"].items():
        out.append(f"- {t}: {ch['chosen']} chosen among {', '.join(ch['candidates'])}")
    out += [f"- Unmatched transfer languages: {', '.join(report['unmatched_transfer']) or 'none'}",
            f"- Unmatched alignment languages: {', '.join(report['unmatched_alignment']) or 'none'}", ""]
    return "\n".join(out)


def write_correlation(out_dir: str | Path, report: Mapping[str, Any]) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``correlation.png`` (scatter) of an ``xlt analyze correlate`` report.

    Returns:
        ``{"json", "markdown", "png"}`` → paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "png": out / "correlation.png"}
    md = render_correlation_markdown(report)
    write_together({paths["json"]: lambda p: write_json(p, report),
                    paths["markdown"]: lambda p: p.write_text(md, encoding="utf-8"),
                    paths["png"]: lambda p: _plot_correlation(report, p)})
    return paths
