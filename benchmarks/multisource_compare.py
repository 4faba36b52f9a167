"""Multi-source transfer vs English only vs the oracle single source, per target group.

Usage::

    python benchmarks/multisource_compare.py --matrix MATRIX_DIR --multi REPORT_DIR [--ranking RANK_DIR]

``MATRIX_DIR`` is an ``xlt transfer --source a,b,... --matrix`` folder, ``REPORT_DIR`` the report of
``xlt transfer --source a,b,...`` (the union of the same sources) with the same settings, and
``RANK_DIR`` optionally an ``xlt rank-sources --matrix MATRIX_DIR`` report (its leave-one-target-out
choice per target becomes a column). A matrix made with ``--ensemble K`` adds the two ensembles'
columns. Targets are grouped by URIEL's family vector
(Indo-European or not); sources' own languages are left out. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import mean

from xlt.data.langs import iso639_3
from xlt.transfer.ranking import _lang2vec, uriel_code


def indo_european(codes: list[str]) -> dict[str, bool | None]:
    """Code → whether URIEL puts the language in the Indo-European family (None: not in URIEL)."""
    l2v = _lang2vec()
    known = set(l2v.available_uriel_languages())
    iso = {c: uriel_code(iso639_3(c)) for c in codes}
    found = sorted({v for v in iso.values() if v in known})
    feats = l2v.get_features(found, "fam", header=True)
    col = feats["CODE"].index("F_Indo-European")
    return {c: (bool(feats[iso[c]][col]) if iso[c] in known else None) for c in codes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matrix", required=True)
    ap.add_argument("--multi", required=True)
    ap.add_argument("--ranking")
    args = ap.parse_args()
    mx = json.loads((Path(args.matrix) / "matrix.json").read_text(encoding="utf-8"))
    multi = json.loads((Path(args.multi) / "report.json").read_text(encoding="utf-8"))
    chosen = {}
    if args.ranking:
        rk = json.loads((Path(args.ranking) / "report.json").read_text(encoding="utf-8"))
        chosen = {t: row["ranker (LightGBM lambdarank)"]
                  for t, row in rk["matrices"][0]["evaluation"]["per_target"].items()}
    first = mx["sources"][0]
    targets = [t for t in mx["targets"] if t not in mx["sources"] and t in multi["scores"]]
    group = indo_european(targets)
    cols = {"English only": lambda t: mx["scores"][first][t],
            "multi-source (union)": lambda t: multi["scores"][t],
            "oracle single source": lambda t: mx["best_source"][t]["score"]}
    if chosen:
        cols["ranker's single source"] = lambda t: mx["scores"][chosen[t]][t] if t in chosen else None
    ens = mx.get("ensembles")
    if ens:  # a matrix made with --ensemble K
        cols["ensemble, all sources"] = lambda t: ens["all"].get(t)
        cols[f"ensemble, ranker's top {ens['k']}"] = lambda t: ens["top"].get(t)
    print("| targets | n | " + " | ".join(cols) + " |")
    print("|:---|---:|" + "---:|" * len(cols))
    for name, members in (("Indo-European", [t for t in targets if group[t]]),
                          ("other families", [t for t in targets if group[t] is False]),
                          ("not in URIEL", [t for t in targets if group[t] is None]),
                          ("all", targets)):
        if not members:
            continue
        vals = []
        for f in cols.values():
            xs = [f(t) for t in members if f(t) is not None]
            vals.append(f"{mean(xs):.2f}" if xs else "–")
        print(f"| {name} | {len(members)} | " + " | ".join(vals) + " |")


if __name__ == "__main__":
    main()
