"""``xlt analyze``: layer-wise cross-lingual alignment of an encoder on multi-parallel text.

Every language of a multi-parallel set (NTREX-128, Federmann et al. 2022: the same 1,997 news
sentences in 128 languages and English; or a user's corpus: a folder of files named by language,
two line-aligned files, a ``|||`` or tab-separated file, read by
:func:`xlt.data.parallel.open_parallel`) is encoded once, mean-pooled at every layer. Against
the pivot language (English unless ``pivot`` says otherwise; "eng" below), per layer:

* retrieval accuracy xx→eng and eng→xx (cosine nearest neighbour; gold = the translation);
* MEXA alignment with the pivot (Kargaran et al. 2024; :func:`~xlt.evaluate.alignment.mexa_score`);
* language identification accuracy of a linear classifier before and after per-language
  mean-centering (Libovický et al. 2020; lower = more language-neutral);

and at the reported layer the mPLM-Sim language similarity matrix (Lin et al. 2023) with a
ranking of source languages for each target. :func:`correlate` then relates a language's
alignment score to its zero-shot score in an ``xlt transfer`` report (Pearson and Spearman,
per layer too). All scores are percent.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from xlt.data.langs import AmbiguousLanguageError, UnknownLanguageError, match_language, same_language
from xlt.data.dataset import DatasetError
from xlt.data.langs import language_name
from xlt.data.parallel import open_parallel
from xlt.data.paths import DatasetNotFoundError
from xlt.data.readers import DataFormatError
from xlt.evaluate.alignment import (
    language_identification_accuracy,
    language_similarity,
    mexa_score,
    rank_sources,
)
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import _fmt, _md, _name_resolver, write_json
from xlt.core.outputs import Output, OutputPlan, write_together
from xlt.data.paths import data_set_folders
from xlt.models import loading
from xlt.models.loading import DEFAULT_MODEL
from xlt.retrieval.scoring import cosine_scores, retrieval_accuracy

__all__ = ["AnalyzeConfig", "TooFewLanguagesError", "METRIC_KEYS", "run_analyze", "write_analysis",
           "render_analysis_markdown", "match_languages", "correlate", "write_correlation",
           "render_correlation_markdown"]

METRIC_KEYS = {"mexa": "mexa", "retrieval": "retrieval_xx_to_eng"}
"""``correlate`` metric name → per-layer table of the alignment report it reads."""

_FLOAT16_ABOVE = 2 * 1024**3  # store vectors as float16 when float32 would take more bytes


class TooFewLanguagesError(DatasetError):
    """Too few languages to analyse or correlate (a user error: the CLI prints it).

    A :class:`~xlt.data.dataset.DatasetError` (so an :class:`~xlt.core.errors.XltError` and a ``ValueError``).
    """

    def __init__(self, message: str, available: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.available = list(available)


@dataclass
class AnalyzeConfig:
    """Settings of one ``xlt analyze`` run.

    Attributes:
        parallel: the multi-parallel set: ``ntrex`` (NTREX-128), or a user's corpus - a folder
            of files named by language, a ``|||``/tab-separated file, or a list of two
            line-aligned files (see :func:`xlt.data.parallel.open_parallel`).
        langs: ``all`` or a comma-separated list of codes (``de,zh,ar`` or ``deu,zho-CN``);
            the pivot is always added.
        pivot: the language every other one is scored against (default ``en``).
        src_lang, tgt_lang: languages of a user's pair whose file names do not give them.
        model: model spec. pooling: ``mean`` (E5 / mPLM-Sim / MEXA encoders), ``mean_nospecial``
            or ``cls``.
        layers: ``all`` or comma-separated hidden-state indices (0 = embeddings).
        layer: the layer behind ``scores`` and the similarity matrix: ``best`` (default: the
            layer with the highest MEXA averaged over languages, ties to the lower layer),
            ``mean`` (scores and similarity averaged over layers, MEXA's "mean over layers"),
            or a layer index.
        batch_size: sentences per forward pass. limit: keep the first N multi-parallel
            sentences (after dropping lines empty in any language).
        targets: comma-separated languages to rank source languages for (default: all).
        top: ranked sources shown per target in report.md.
        lid_sentences: sentences per language for the language-identification probe (a seeded
            random subset; None = all). test_fraction: their share held out for testing.
        seed: seed of the subset, the split and the classifier.
        data_dir: data folder. out: report folder. progress: progress bar over languages.
    """

    parallel: str = "ntrex"
    langs: str = "all"
    model: str = DEFAULT_MODEL
    pooling: str = "mean"
    layers: str = "all"
    layer: str = "best"
    batch_size: int = 64
    limit: int | None = None
    targets: str | None = None
    top: int = 5
    lid_sentences: int | None = 1000
    test_fraction: float = 0.3
    seed: int = 0
    data_dir: str | None = None
    out: str | None = None
    overwrite: bool = False
    progress: bool = True
    pivot: str = "en"
    src_lang: str | None = None
    tgt_lang: str | None = None


def _layer_spec(text: str) -> str | list[int]:
    if text.strip() == "all":
        return "all"
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"layers must be 'all' or comma-separated integers, got {text!r}") from None


def _pick_layer(choice: str, layer_ids: list[int], mean_mexa: list[float], num_layers: int) -> int | str:
    """``best`` → the layer id with the highest mean MEXA; ``mean``; or a layer id in ``layer_ids``."""
    if choice == "best":
        return layer_ids[int(np.argmax(mean_mexa))]
    if choice == "mean":
        return "mean"
    from xlt.models.features import resolve_layers

    lid = resolve_layers(int(choice), num_layers)[0][0]
    if lid not in layer_ids:
        raise ValueError(f"layer {choice} was not analysed (layers: {layer_ids})")
    return lid


def _at(values: Sequence[float], layers: Sequence[int], layer: int | str) -> float:
    """A per-layer list's value at ``layer`` (a layer id or ``mean``)."""
    return float(np.mean(values)) if layer == "mean" else float(values[list(layers).index(layer)])


def run_analyze(config: AnalyzeConfig, command: list[str] | None = None) -> dict:
    """Alignment analysis of ``config.model`` on a multi-parallel set; writes the report if ``config.out``.

    Returns:
        the report dict: ``source`` (the pivot's key), ``parallel_name`` (``NTREX`` or the
        user's path), ``scores`` (language → MEXA with the pivot at ``layer``, %),
        ``average``, ``layers`` (hidden-state ids), ``per_layer`` (``mexa``,
        ``retrieval_xx_to_eng``, ``retrieval_eng_to_xx``: language → one value per layer),
        ``per_layer_average`` (one row per layer: those means and ``lid_accuracy`` /
        ``lid_accuracy_centered``), ``best_layer``, ``language_id``, ``similarity``
        (``langs`` and ``matrix`` at ``layer``), ``source_ranking``, counts, seconds, config
        and manifest.

    Raises:
        ValueError: bad ``layers``, ``layer``, ``limit`` or ``pooling``.
        UnknownLanguageError: an unknown code, or a pivot the corpus does not have;
            TooFewLanguagesError: no language besides the pivot. DatasetNotFoundError: no NTREX
            folder. FileNotFoundError: no such user path. FileLanguageError: a user file whose
            name gives no language. DataFormatError: files of different lengths (names both),
            a malformed ``|||``/tab line (file and line), or fewer than 2 usable lines.
            DatasetError: a bad combination of inputs. All raised before the model is loaded.
            ModelLoadError: the model cannot be loaded.
    """
    if config.limit is not None and config.limit < 2:
        raise ValueError(f"limit must be at least 2 sentences, got {config.limit}")
    layer_spec = _layer_spec(config.layers)
    if config.layer not in ("best", "mean") and not str(config.layer).lstrip("-").isdigit():
        raise ValueError(f"layer must be 'best', 'mean' or a layer number, got {config.layer!r}")
    t0 = time.time()
    corpus = open_parallel(config.parallel, src_lang=config.src_lang, tgt_lang=config.tgt_lang,
                           data_dir=config.data_dir)
    chosen = corpus.select(config.langs, pivot=config.pivot)
    files, pivot = chosen.files, chosen.pivot
    if len(files) < 2:
        raise TooFewLanguagesError(f"xlt analyze needs at least one language besides {language_name(pivot)} "
                                   f"({pivot}), got {list(files)}", corpus.languages)
    data = chosen.read()
    texts = {lang: t[: config.limit] if config.limit else t for lang, t in data.texts.items()}
    n = len(texts[pivot])
    if n < 2:
        raise DataFormatError(files[pivot], 1, f"only {n} line(s) are non-empty in every selected "
                              "language; the analysis needs at least 2")
    from xlt.models.features import encode_sentences, resolve_layers

    OutputPlan(inputs=[("--parallel", config.parallel), ("--model", config.model),
                       ("--data-dir", data_set_folders(config.data_dir))],
               outputs=[Output("--out", Path(config.out))] if config.out else [], overwrite=config.overwrite).check()
    encoder = loading.load_encoder(config.model, device="auto")  # looked up now: tests replace it
    layer_ids, _ = resolve_layers(layer_spec, encoder.num_layers)
    if config.layer not in ("best", "mean"):
        _pick_layer(config.layer, layer_ids, [0.0] * len(layer_ids), encoder.num_layers)  # fail before encoding
    big = len(files) * n * len(layer_ids) * encoder.hidden_size * 4 > _FLOAT16_ABOVE
    store = np.float16 if big else np.float32
    langs = list(files)
    targets = [lang for lang in langs if lang != pivot]

    vectors: dict[str, np.ndarray] = {}  # lang → (n_layers, n, dim)
    per_layer: dict[str, dict[str, list[float]]] = {"mexa": {}, "retrieval_xx_to_eng": {},
                                                    "retrieval_eng_to_xx": {}}
    enc_counts: dict[str, dict[str, int]] = {}
    eng = None
    t_enc = time.time()
    for lang in tqdm(langs, desc="languages", disable=not config.progress):
        vec, stats = encode_sentences(encoder, texts[lang], layers=layer_ids, pooling=config.pooling,
                                      batch_size=config.batch_size, progress=False, return_stats=True)
        enc_counts[lang] = {"subwords": stats["n_subwords"], "windowed": stats["n_windowed"],
                            "truncated": stats["n_truncated"]}
        if lang == pivot:
            eng = vec
        else:
            for key in per_layer:
                per_layer[key][lang] = []
            for k in range(len(layer_ids)):
                sims = cosine_scores(vec[k], eng[k])  # rows: xx sentences, columns: English
                per_layer["retrieval_xx_to_eng"][lang].append(100.0 * retrieval_accuracy(sims))
                per_layer["retrieval_eng_to_xx"][lang].append(100.0 * retrieval_accuracy(sims.T))
                per_layer["mexa"][lang].append(100.0 * mexa_score(sims))
        vectors[lang] = vec.astype(store, copy=False)
    t_enc = time.time() - t_enc

    means = {key: [float(np.mean([table[lang][k] for lang in targets])) for k in range(len(layer_ids))]
             for key, table in per_layer.items()}
    layer = _pick_layer(config.layer, layer_ids, means["mexa"], encoder.num_layers)

    t_lid = time.time()
    rng = np.random.default_rng(config.seed)
    lid_rows = (np.sort(rng.choice(n, config.lid_sentences, replace=False))
                if config.lid_sentences and n > config.lid_sentences else np.arange(n))
    lid, lid_centered = [], []
    for k in tqdm(range(len(layer_ids)), desc="language id", disable=not config.progress):
        by_lang = {lang: vectors[lang][k, lid_rows].astype(np.float32) for lang in langs}
        lid.append(100.0 * language_identification_accuracy(by_lang, center=False, seed=config.seed,
                                                            test_fraction=config.test_fraction))
        lid_centered.append(100.0 * language_identification_accuracy(by_lang, center=True, seed=config.seed,
                                                                     test_fraction=config.test_fraction))
    t_lid = time.time() - t_lid

    sim_layers = range(len(layer_ids)) if layer == "mean" else [layer_ids.index(layer)]
    similarity = np.mean([language_similarity({lang: vectors[lang][k].astype(np.float32) for lang in langs})
                          for k in sim_layers], axis=0)
    rank_for = ([match_language(c.strip(), langs, context=f"{corpus.name} languages in this analysis")
                 for c in config.targets.split(",") if c.strip()] if config.targets else langs)
    ranking = {t: rank_sources(similarity, langs, t) for t in rank_for}

    per_layer_average = [
        {"layer": lid_, "mexa": means["mexa"][k], "retrieval_xx_to_eng": means["retrieval_xx_to_eng"][k],
         "retrieval_eng_to_xx": means["retrieval_eng_to_xx"][k], "lid_accuracy": lid[k],
         "lid_accuracy_centered": lid_centered[k]}
        for k, lid_ in enumerate(layer_ids)]
    scores = {lang: _at(per_layer["mexa"][lang], layer_ids, layer) for lang in targets}
    cfg = {k: v for k, v in asdict(config).items() if k != "progress"}
    model_info = encoder.describe()
    argv = command if command is not None else sys.argv
    n_lid_test = min(max(1, round(len(lid_rows) * config.test_fraction)), len(lid_rows) - 2)
    report = {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "alignment",
        "parallel": config.parallel,
        "parallel_name": corpus.name,
        "model": config.model,
        "mode": f"alignment analysis ({config.pooling} pooling)",
        "source": pivot,
        "metric": "mexa",
        "metric_name": f"MEXA alignment with {language_name(pivot)} (%) at layer {layer}",
        "layer": layer,
        "scores": scores,
        "average": float(np.mean(list(scores.values()))),
        "n_targets": len(targets),
        "layers": layer_ids,
        "per_layer": per_layer,
        "per_layer_average": per_layer_average,
        "best_layer": {key: layer_ids[int(np.argmax(means[key]))] for key in per_layer}
                      | {"lid_accuracy_centered": layer_ids[int(np.argmin(lid_centered))]},
        "language_id": {"classifier": "logistic regression on standardised features",
                        "languages": len(langs), "chance": 100.0 / len(langs),
                        "sentences_per_language": len(lid_rows), "test_sentences_per_language": n_lid_test,
                        "seed": config.seed},
        "similarity": {"layer": layer, "measure": "mean cosine of parallel sentence vectors (mPLM-Sim)",
                       "langs": langs, "matrix": similarity.tolist()},
        "source_ranking": {t: [[c, s] for c, s in r] for t, r in ranking.items()},
        "counts": {"lines": data.n_lines, "sentences": n, "skipped_empty": data.n_skipped_empty,
                   "skipped_lines": data.skipped_lines, "languages": len(langs),
                   "ignored_files": [str(f) for f in corpus.ignored],
                   "vector_dtype": np.dtype(store).name, "per_language": enc_counts},
        "seconds": {"encode_and_score": round(t_enc, 1), "language_id": round(t_lid, 1),
                    "total": round(time.time() - t0, 1)},
        "config": cfg,
        "manifest": build_manifest(cfg, chosen.paths, model_info, [config.seed]),
    }
    if config.out:
        write_analysis(config.out, report)
    return report


# --------------------------------------------------------------------------- report files


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def heatmap(path: Path, values: np.ndarray, rows: list[str], cols: list[str], title: str, label: str,
            vmin: float | None = None, vmax: float | None = None, digits: int = 0, xlabel: str = "") -> None:
    """Write a ``(len(rows), len(cols))`` matrix as a PNG heat map (cells annotated up to 400 cells).

    Args:
        path: output file. values: ``(n_rows, n_cols)`` floats (NaN = no value). rows, cols: tick
            labels. title, label: plot title and colour-bar label. vmin, vmax: colour range.
        digits: decimals of the cell annotations. xlabel: x-axis label.
    """
    n_r, n_c = values.shape
    fs = 8 if max(n_r, n_c) <= 30 else 5
    fig = _figure(max(5.0, 0.35 * n_c + 2.5), max(3.5, 0.25 * n_r + 1.5))
    ax = fig.add_subplot()
    im = ax.imshow(values, aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(n_c), labels=cols, fontsize=fs, rotation=90 if n_c > 15 else 0)
    ax.set_yticks(range(n_r), labels=rows, fontsize=fs)
    if n_r * n_c <= 400:
        mid = (np.nanmax(values) + np.nanmin(values)) / 2
        for i in range(n_r):
            for j in range(n_c):
                ax.text(j, i, f"{values[i, j]:.{digits}f}", ha="center",
                        va="center", fontsize=fs - 1, color="black" if values[i, j] > mid else "white")
    fig.colorbar(im, ax=ax, label=label)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
    fig.savefig(path, format="png")


def _plot_layers(report: Mapping[str, Any], path: Path) -> None:
    fig = _figure(7.0, 4.0)
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
        report: a dict returned by :func:`run_analyze`.
        language_name: code → name (default :func:`xlt.data.langs.language_name`, falling back
            to the code).

    Returns:
        Markdown text ending with a newline.
    """
    name = _name_resolver(language_name)
    layers, layer = report["layers"], report["layer"]
    c = report["counts"]
    lid = report["language_id"]
    out = [f"# Alignment analysis · {report['model']} · {_set_name(report)}", "", "Command:", "", "```text",
           report["command_line"], "```", "",
           f"- {c['languages'] - 1} languages against {_pivot_name(report)} ({report['source']}), "
           f"{c['sentences']} multi-parallel sentences "
           f"({c['skipped_empty']} of {c['lines']} lines skipped because they are empty in some language)",
           f"- Reported layer: **{layer}** (`--layer {report['config']['layer']}`); mean MEXA there "
           f"**{_fmt(report['average'])}** %",
           f"- Best layer by mean MEXA: {report['best_layer']['mexa']}, by retrieval xx→{report['source']}: "
           f"{report['best_layer']['retrieval_xx_to_eng']}, most language-neutral after centring: "
           f"{report['best_layer']['lid_accuracy_centered']}",
           "", "## Per layer (means over languages, %)", "",
           "MEXA: share of sentences whose translation is closer (cosine) than every other sentence, "
           "both ways (Kargaran et al. 2024). Language ID: accuracy of a linear classifier predicting "
           f"the language of held-out sentences (chance {_fmt(lid['chance'])} %), before and after "
           "subtracting each language's mean vector (Libovický et al. 2020); lower = more neutral.", "",
           f"| layer | MEXA | retrieval xx→{report['source']} | retrieval {report['source']}→xx | language ID "
           "| language ID, centred |",
           "|---:|---:|---:|---:|---:|---:|"]
    for r in report["per_layer_average"]:
        out.append(f"| {r['layer']} | {_fmt(r['mexa'])} | {_fmt(r['retrieval_xx_to_eng'])} | "
                   f"{_fmt(r['retrieval_eng_to_xx'])} | {_fmt(r['lid_accuracy'])} | "
                   f"{_fmt(r['lid_accuracy_centered'])} |")
    pl = report["per_layer"]
    order = sorted(report["scores"], key=lambda lang: (-report["scores"][lang], lang))
    out += ["", f"## Per language at layer {layer} (%)", "",
            f"| code | language | MEXA | retrieval xx→{report['source']} | retrieval {report['source']}→xx |",
            "|:---|:---|---:|---:|---:|"]
    for lang in order:
        out.append(f"| {_md(lang)} | {_md(name(lang))} | {_fmt(report['scores'][lang])} | "
                   f"{_fmt(_at(pl['retrieval_xx_to_eng'][lang], layers, layer))} | "
                   f"{_fmt(_at(pl['retrieval_eng_to_xx'][lang], layers, layer))} |")
    out += ["", f"## MEXA with {_md(report['source'])} per language and layer (%)", "",
            "| code | " + " | ".join(str(x) for x in layers) + " |", "|:---|" + "---:|" * len(layers)]
    for lang in order:
        out.append(f"| {_md(lang)} | " + " | ".join(f"{v:.1f}" for v in pl["mexa"][lang]) + " |")
    sim = report["similarity"]
    slangs = sim["langs"]
    out += ["", f"## Language similarity (mPLM-Sim, layer {sim['layer']})", "",
            "Mean cosine between the vectors of the same sentence in two languages (Lin et al. 2023)."]
    if len(slangs) <= 30:
        out += ["", "| | " + " | ".join(_md(x) for x in slangs) + " |", "|:---|" + "---:|" * len(slangs)]
        for lang, row in zip(slangs, sim["matrix"]):
            out.append(f"| **{_md(lang)}** | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    else:
        out += ["", "(matrix in report.json and similarity.png)"]
    top = int(report["config"].get("top") or 5)
    out += ["", f"## Most similar source languages (top {top})", "",
            "| target | " + " | ".join(f"#{i}" for i in range(1, top + 1)) + " |", "|:---|" + ":---|" * top]
    for target, ranked in report["source_ranking"].items():
        cells = [f"{_md(c)} {s:.3f}" for c, s in ranked[:top]] + [""] * max(0, top - len(ranked))
        out.append(f"| **{_md(target)}** ({_md(name(target))}) | " + " | ".join(cells) + " |")
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
        out_dir: folder (created if needed). report: a dict from :func:`run_analyze`.

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


def _read_report(path: str | Path, what: str) -> tuple[Path, dict]:
    p = Path(path)
    if p.suffix != ".json":
        p = p / "report.json"
    if not p.is_file():
        raise DatasetNotFoundError(f"no {what} report at {p} (give the --out folder of the run)", [p])
    try:
        report = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(p, exc.lineno, f"not valid JSON (truncated or corrupted?): {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(p, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start}): not a report") from None
    if not isinstance(report, dict) or not isinstance(report.get("scores"), dict) or not report["scores"]:
        raise DataFormatError(p, 1, f"not an xlt {what} report: no 'scores' {{language: score}} table")
    return p, report


def _key(code: str) -> str:
    return code.strip().replace("_", "-").lower()


def _same(a: str, b: str) -> bool:
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
        cands = exact or [a for a in avail if _same(a, t)]
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


def _correlation(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """Pearson and Spearman (scipy) with p-values; NaN when either side is constant."""
    from scipy.stats import pearsonr, spearmanr

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        nan = float("nan")
        return {"pearson_r": nan, "pearson_p": nan, "spearman_rho": nan, "spearman_p": nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, s = pearsonr(x, y), spearmanr(x, y)
    return {"pearson_r": float(p[0]), "pearson_p": float(p[1]),
            "spearman_rho": float(s[0]), "spearman_p": float(s[1])}


def _best(rows: list[dict], key: str) -> int | None:
    ok = [r for r in rows if math.isfinite(r[key])]
    return max(ok, key=lambda r: r[key])["layer"] if ok else None


def correlate(alignment_dir: str | Path, transfer_dir: str | Path, metric: str = "mexa",
              layer: int | str | None = None, out: str | Path | None = None,
              command: list[str] | None = None, overwrite: bool = False) -> dict:
    """Correlation between a language's alignment score and its zero-shot transfer score.

    Reads ``report.json`` of an ``xlt analyze`` run and of an ``xlt transfer`` run (its
    source language is left out), pairs the languages (:func:`match_languages`) and computes
    Pearson's r and Spearman's rho with two-sided p-values (scipy.stats) at ``layer``, and
    again at every analysed layer to show which layer's alignment predicts transfer best.

    Args:
        alignment_dir, transfer_dir: the run folders (or their ``report.json`` files).
        metric: ``mexa`` or ``retrieval`` (xx→eng accuracy); see :data:`METRIC_KEYS`.
        layer: a layer id, ``mean`` (average over layers), or None for the alignment
            report's own ``layer``.
        out: folder for ``report.json``, ``report.md`` and ``correlation.png`` (optional).
        command: argv recorded in the report (default ``sys.argv``).
        overwrite: write into a non-empty ``out`` (never an input's folder).

    Returns:
        ``{"n", "pearson": {"r", "p"}, "spearman": {"rho", "p"}, "table": [{"transfer_lang",
        "alignment_lang", "alignment", "transfer"}], "per_layer", "best_layer", "choices",
        "unmatched_transfer", "unmatched_alignment", ...}``.

    Raises:
        ValueError: unknown metric or a layer that was not analysed.
        DatasetNotFoundError: a report is missing. DataFormatError: a report is not valid JSON
            or lacks the needed tables. TooFewLanguagesError: fewer than 3 languages pair up.
    """
    if metric not in METRIC_KEYS:
        raise ValueError(f"metric must be one of {', '.join(METRIC_KEYS)}, got {metric!r}")
    OutputPlan(inputs=[("--alignment", alignment_dir), ("--transfer", transfer_dir)],
               outputs=[Output("--out", Path(out))] if out else [], overwrite=overwrite).check()
    a_path, a_rep = _read_report(alignment_dir, "analyze")
    t_path, t_rep = _read_report(transfer_dir, "transfer")
    table = (a_rep.get("per_layer") or {}).get(METRIC_KEYS[metric])
    layers = a_rep.get("layers")
    if not isinstance(table, dict) or not isinstance(layers, list):
        raise DataFormatError(a_path, 1, f"not an xlt analyze report: no per-layer {METRIC_KEYS[metric]!r} table")
    layer = a_rep.get("layer") if layer is None else layer
    if layer is None:
        raise DataFormatError(a_path, 1, "not an xlt analyze report: no 'layer'")
    if layer != "mean":
        layer = int(layer)
        if layer not in layers:
            raise ValueError(f"layer {layer} was not analysed (layers: {layers})")
    source = t_rep.get("source")
    t_scores = {k: float(v) for k, v in t_rep["scores"].items()
                if v is not None and k != source and not (source and _same(k, source))}
    m = match_languages(t_scores, table)
    pairs = m["pairs"]
    if len(pairs) < 3:
        raise TooFewLanguagesError(
            f"only {len(pairs)} language(s) of {t_path} match one of {a_path} "
            f"({', '.join(f'{t}={a}' for t, a in pairs.items()) or 'none'}); correlation needs at least 3. "
            f"Transfer languages: {', '.join(t_scores) or 'none'}; alignment languages: {', '.join(table)}",
            list(table))
    rows = [{"transfer_lang": t, "alignment_lang": a, "alignment": _at(table[a], layers, layer),
             "transfer": t_scores[t]} for t, a in pairs.items()]
    rows.sort(key=lambda r: (-r["alignment"], r["transfer_lang"]))
    xs, ys = [r["alignment"] for r in rows], [r["transfer"] for r in rows]
    c = _correlation(xs, ys)
    per_layer = [{"layer": lay, **_correlation([table[r["alignment_lang"]][k] for r in rows], ys)}
                 for k, lay in enumerate(layers)]
    argv = command if command is not None else sys.argv
    metric_name = {"mexa": "MEXA (%)", "retrieval": "retrieval xx→eng (%)"}[metric]
    report = {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "correlate",
        "alignment_report": a_path,
        "transfer_report": t_path,
        "alignment_model": a_rep.get("model"),
        "transfer_model": t_rep.get("model"),
        "transfer_task": t_rep.get("task"),
        "transfer_mode": t_rep.get("mode"),
        "transfer_metric": t_rep.get("metric"),
        "transfer_source": source,
        "metric": metric,
        "metric_name": metric_name,
        "layer": layer,
        "n": len(rows),
        "pearson": {"r": c["pearson_r"], "p": c["pearson_p"]},
        "spearman": {"rho": c["spearman_rho"], "p": c["spearman_p"]},
        "table": rows,
        "per_layer": per_layer,
        "best_layer": {"pearson": _best(per_layer, "pearson_r"), "spearman": _best(per_layer, "spearman_rho")},
        "choices": m["choices"],
        "unmatched_transfer": m["unmatched_transfer"],
        "unmatched_alignment": m["unmatched_alignment"],
    }
    if out:
        write_correlation(out, report)
    return report


def _plot_correlation(report: Mapping[str, Any], path: Path) -> None:
    fig = _figure(6.0, 4.5)
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
    ax.set_title(f"n={report['n']} · Pearson r={_fmt(report['pearson']['r'], 3)} · "
                 f"Spearman ρ={_fmt(report['spearman']['rho'], 3)}", fontsize=9)
    fig.savefig(path, format="png")


def _p(p: Any) -> str:
    """A p-value with two significant digits; ``n/a`` when undefined."""
    return f"{float(p):.2g}" if p is not None and math.isfinite(float(p)) else "n/a"


def render_correlation_markdown(report: Mapping[str, Any]) -> str:
    """The ``report.md`` text of a :func:`correlate` report."""
    name = _name_resolver(None)
    out = [f"# Alignment vs zero-shot transfer · {report['metric_name']} vs {report['transfer_task']} "
           f"{report['transfer_metric']}", "", "```text", report["command_line"], "```", "",
           f"- Alignment report: `{report['alignment_report']}` (model {report['alignment_model']}), "
           f"layer {report['layer']}",
           f"- Transfer report: `{report['transfer_report']}` (model {report['transfer_model']}, "
           f"{report['transfer_mode']}, source {report['transfer_source']} excluded)",
           f"- n = {report['n']} languages: Pearson r = **{_fmt(report['pearson']['r'], 3)}** "
           f"(p = {_p(report['pearson']['p'])}), Spearman ρ = **{_fmt(report['spearman']['rho'], 3)}** "
           f"(p = {_p(report['spearman']['p'])})",
           f"- Best layer: by Pearson {report['best_layer']['pearson']}, by Spearman "
           f"{report['best_layer']['spearman']}", "",
           "## Per layer", "", "| layer | Pearson r | p | Spearman ρ | p |", "|---:|---:|---:|---:|---:|"]
    for r in report["per_layer"]:
        out.append(f"| {r['layer']} | {_fmt(r['pearson_r'], 3)} | {_p(r['pearson_p'])} | "
                   f"{_fmt(r['spearman_rho'], 3)} | {_p(r['spearman_p'])} |")
    out += ["", "## Languages", "", f"| transfer | alignment | language | {report['metric_name']} | transfer (%) |",
            "|:---|:---|:---|---:|---:|"]
    for r in report["table"]:
        out.append(f"| {_md(r['transfer_lang'])} | {_md(r['alignment_lang'])} | {_md(name(r['transfer_lang']))} | "
                   f"{_fmt(r['alignment'])} | {_fmt(r['transfer'])} |")
    out.append("")
    for t, ch in report["choices"].items():
        out.append(f"- {t}: {ch['chosen']} chosen among {', '.join(ch['candidates'])}")
    out += [f"- Unmatched transfer languages: {', '.join(report['unmatched_transfer']) or 'none'}",
            f"- Unmatched alignment languages: {', '.join(report['unmatched_alignment']) or 'none'}", ""]
    return "\n".join(out)


def write_correlation(out_dir: str | Path, report: Mapping[str, Any]) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``correlation.png`` (scatter) for :func:`correlate`.

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
