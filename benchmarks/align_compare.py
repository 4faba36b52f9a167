"""Comparison table of alignment methods inside ``xlt transfer`` (issue 5).

Reads the ``report.json`` of transfer runs that differ only in ``--aligner`` (or ``--model`` for
fine-tuning alignment) and writes a Markdown table in the spirit of Kulshreshtha et al. (2020):
one row per method; the average over all targets and over the distant ones
(:func:`xlt.data.langs.is_distant`), each with its difference to the run without alignment on
the same languages and seeds (paired per seed: mean ± sample std over seeds), then one column
per language.

Usage::

    python benchmarks/align_compare.py --runs runs/align5 --task udpos --out runs/align5/udpos-table.md

where ``runs/align5/<task>-none`` is the run without alignment and every other
``<task>-<name>`` folder with a ``report.json`` is a row (labels: ``ROWS`` below).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from xlt.data.langs import is_distant

ROWS = {
    "none": "no alignment",
    "par-center": "centering",
    "par-center-norm": "centering + normalisation",
    "par-procrustes": "Procrustes (parallel)",
    "par-center-procrustes": "centering + Procrustes (parallel)",
    "par-center-norm-procrustes": "normalised Procrustes (parallel)",
    "par-linear": "linear (parallel)",
    "dict-procrustes": "Procrustes (dictionary, 500 lines of text)",
    "dict-center-norm-procrustes": "normalised Procrustes (dictionary, 500 lines)",
    "dictall-procrustes": "Procrustes (dictionary, 1,797 lines of text)",
    "dictall-linear": "linear (dictionary, 1,797 lines)",
    "ft-l2": "fine-tuning alignment, L2 (parallel)",
    "ft-contrastive": "fine-tuning alignment, contrastive (parallel)",
}


def _load(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


def _seed_avgs(rep: dict, langs: list[str]) -> np.ndarray:
    return np.array([np.mean([rep["per_seed"][s][l] for l in langs]) for s in sorted(rep["per_seed"])])


def format_number(vals: np.ndarray) -> str:
    return f"{vals.mean():.1f} ± {vals.std(ddof=1):.1f}" if len(vals) > 1 else f"{vals.mean():.1f}"


def compare(runs: Path, task: str) -> tuple[str, dict]:
    """Markdown table and a dict of the figures for every ``<task>-*`` run under ``runs``."""
    base = _load(runs / f"{task}-none")
    source = base["source"]
    found = {}
    for key in ROWS:
        f = runs / f"{task}-{key}"
        if (f / "report.json").is_file():
            found[key] = _load(f)
    all_langs = [l for l in base["scores"] if l != source]
    lines = [f"### {task} ({base['metric_name']}, {len(base['per_seed'])} seeds, bundled e5-small probe)", "",
             f"| method | {source} (source) | langs | avg | Δ avg | distant avg | Δ distant | close avg | Δ close |",
             "|---|---|---|---|---|---|---|---|---|"]
    figures: dict[str, dict] = {}
    for key, rep in found.items():
        langs = [l for l in rep["scores"] if l != source]
        dist = [l for l in langs if is_distant(l)]
        close = [l for l in langs if not is_distant(l)]
        seeds = sorted(set(rep["per_seed"]) & set(base["per_seed"]))
        rep_s = {"per_seed": {s: rep["per_seed"][s] for s in seeds}}
        base_s = {"per_seed": {s: base["per_seed"][s] for s in seeds}}
        src = f"{rep['scores'][source]:.1f}" if source in rep["scores"] else "–"
        row, fig = [ROWS[key], src, str(len(langs))], {"n_langs": len(langs), "source": rep["scores"].get(source)}
        for name, group in (("all", langs), ("distant", dist), ("close", close)):
            if not group:
                row += ["–", "–"]
                continue
            a, b = _seed_avgs(rep_s, group), _seed_avgs(base_s, group)
            row += [format_number(a), "" if key == "none" else f"{(a - b).mean():+.1f} ± {(a - b).std(ddof=1):.1f}"]
            fig[name] = {"avg": float(a.mean()), "delta": float((a - b).mean()), "n": len(group)}
        lines.append("| " + " | ".join(row) + " |")
        figures[key] = fig
    lines += ["", "Per language (mean over seeds):", "",
              "| method | " + " | ".join(f"{l}{'*' if is_distant(l) else ''}" for l in all_langs) + " |",
              "|---|" + "---|" * len(all_langs)]
    for key, rep in found.items():
        lines.append(f"| {ROWS[key]} | " + " | ".join(f"{rep['scores'][l]:.1f}" if l in rep["scores"] else "–"
                                                        for l in all_langs) + " |")
    lines += ["", "\\* distant: not Indo-European, or not in the Latin script (xlt.data.langs.is_distant). "
              "Δ = paired difference to no alignment on the same languages and seeds."]
    return "\n".join(lines) + "\n", figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", required=True, type=Path)
    ap.add_argument("--task", required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    table, figures = compare(args.runs, args.task)
    print(table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
