"""Per-language zero-shot scores of xlt reports next to published figures, as a Markdown table.

Usage::

    python benchmarks/compare_published.py --published benchmarks/published/xlmv_table10_panx.json \
        --report first=REPORT.json --report auto=REPORT2.json [--override auto=first]

``--report NAME=FILE`` adds a column per xlt report (``report.json`` of ``xlt transfer``);
``--override NAME=BASE`` fills the languages a report lacks from report ``BASE`` (a run that
re-evaluated only some targets with the same trained model). ``NAME=FILE@VARIANT`` takes one variant
of a ``benchmarks/ckpt_avg_compare.py eval`` output instead, ``NAME=FILE@VARIANT/MEMBER`` one member
(``run0``, ``run1``, ..., ``ensemble``) of its ``--ensemble`` output. The table ends with the averages
over the targets every column has (the shared languages) and, per report, over all its targets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import mean


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--published", required=True)
    ap.add_argument("--report", action="append", default=[], metavar="NAME=FILE")
    ap.add_argument("--override", action="append", default=[], metavar="NAME=BASE")
    args = ap.parse_args()
    pub = json.loads(Path(args.published).read_text(encoding="utf-8"))
    published = {row: pub[row] for row in pub["rows"]}
    reports: dict[str, dict] = {}
    sources: dict[str, str] = {}
    for spec in args.report:
        name, path = spec.split("=", 1)
        path, _, variant = path.partition("@")
        rep = json.loads(Path(path).read_text(encoding="utf-8"))
        if variant:  # ckpt_avg_compare.py: {"train": {"source": ...}, "variants": {name: {"scores": ...}}}
            variant, _, member = variant.partition("/")
            picked = rep["variants"][variant]
            rep = dict(picked[member] if member else picked, source=rep["train"]["source"])
        reports[name] = {l: v for l, v in rep["scores"].items() if l != rep["source"]}
        sources[name] = rep["source"]
    for spec in args.override:
        name, base = spec.split("=", 1)
        reports[name] = {**reports[base], **reports[name]}
    langs = sorted(set().union(*(set(r) for r in reports.values())))
    cols = list(reports) + list(published)
    print("| lang | " + " | ".join(cols) + " |")
    print("|:---|" + "---:|" * len(cols))
    for l in langs:
        cells = [reports[c].get(l) if c in reports else published[c].get(l) for c in cols]
        print(f"| {l} | " + " | ".join("–" if v is None else f"{v:.1f}" for v in cells) + " |")
    shared = [l for l in langs if all((reports[c] if c in reports else published[c]).get(l) is not None
                                      for c in cols)]
    avgs = [mean((reports[c] if c in reports else published[c])[l] for l in shared) for c in cols]
    print(f"| **average, {len(shared)} shared targets** | " + " | ".join(f"**{v:.2f}**" for v in avgs) + " |")
    print()
    for c in cols:
        table = reports.get(c) or published[c]
        print(f"- {c}: {len(table)} languages, average {mean(table.values()):.2f}")


if __name__ == "__main__":
    main()
