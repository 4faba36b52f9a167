"""Put the scores of several ``xlt transfer`` reports side by side as one Markdown table.

Usage::

    .venv/bin/python benchmarks/compare_reports.py runs/udpos-probe runs/udpos-finetune

Rows are languages (sorted by the first report's score, source first), columns the reports;
the last rows give the target average (± std over seeds), the number of targets, the
training/evaluation limits and the run time of each report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def load(folder: str) -> dict:
    """Read ``folder/report.json`` (or the file itself if a .json path is given)."""
    path = Path(folder)
    path = path if path.suffix == ".json" else path / "report.json"
    return json.loads(path.read_text(encoding="utf-8"))


def fmt(x, sd=None) -> str:
    if x is None:
        return "–"
    return f"{x:.1f}" if not sd else f"{x:.1f} ± {sd:.1f}"


def table(reports: list[dict], names: list[str]) -> str:
    """The Markdown comparison table."""
    from xlt.data.langs import language_name

    first = reports[0]
    src = first["source"]
    langs = sorted(first["scores"], key=lambda l: (l != src, -first["scores"][l]))
    for r in reports[1:]:
        langs += [l for l in r["scores"] if l not in langs]
    head = "| code | language | " + " | ".join(names) + " |"
    lines = [head, "|:--|:--|" + "--:|" * len(names)]
    for lang in langs:
        try:
            name = language_name(lang)
        except Exception:  # noqa: BLE001 - cosmetic
            name = lang
        if lang == src:
            name += " (source)"
        cells = [fmt(r["scores"].get(lang)) for r in reports]
        lines.append(f"| {lang} | {name} | " + " | ".join(cells) + " |")
    lines.append("| | **target average** | " + " | ".join(
        f"**{fmt(r['average'], r.get('average_std'))}**" for r in reports) + " |")
    lines.append("| | targets | " + " | ".join(str(r["n_targets"]) for r in reports) + " |")
    lines.append("| | train / eval limit | " + " | ".join(
        f"{r['config'].get('train_limit') or 'all'} / {r['config'].get('eval_limit') or 'all'}" for r in reports) + " |")
    lines.append("| | seeds | " + " | ".join(str(len(r["config"]["seeds"])) for r in reports) + " |")
    lines.append("| | minutes | " + " | ".join(f"{r['seconds']['total'] / 60:.1f}" for r in reports) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reports", nargs="+", help="report folders (or report.json files)")
    p.add_argument("--names", help="comma-separated column names (default: folder names)")
    args = p.parse_args(argv)
    reports = [load(f) for f in args.reports]
    names = args.names.split(",") if args.names else [Path(f).name for f in args.reports]
    print(table(reports, names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
