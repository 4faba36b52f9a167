"""Built-in tasks given as a user's files give the same scores as the built-in path.

Converts two built-in sets to the formats users bring, runs ``xlt transfer`` on both forms
with the same settings, and prints the scores side by side:

* SIB-200 -> CSV with custom column names (``sentence``, ``topic``), quoted fields;
* PAN-X -> space-separated CoNLL with ``-DOCSTART-`` lines, where one evaluation file gets an
  extra entity type (``DATE``: every token made only of 4 digits that was tagged ``O``) that
  ``--label-map DATE=O`` maps back.

Usage::

    python benchmarks/user_formats.py --work runs/user-formats --out runs/user-formats.json
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from pathlib import Path

from xlt.cli import main as xlt_main
from xlt.data.paths import dataset_dir
from xlt.data.readers import read_sib200, read_xtreme_tsv

SIB_LANGS = ["deu_Latn", "fra_Latn", "jpn_Jpan", "zho_Hans", "swh_Latn"]
PANX_LANGS = ["de", "fr", "ja", "zh", "sw"]
YEAR = re.compile(r"^\d{4}$")


def write_sib_csv(src: Path, dst: Path) -> None:
    examples, _ = read_sib200(src)
    with dst.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        w.writerow(["row_id", "sentence", "topic"])
        for e in examples:
            w.writerow([e.id, e.text, e.label])


def write_conll(src: Path, dst: Path, add_date: bool = False) -> int:
    sents, _ = read_xtreme_tsv(src)
    n_date = 0
    lines = ["-DOCSTART- -X- O", ""]
    for s in sents:
        for tok, lab in zip(s.tokens, s.labels):
            if add_date and lab == "O" and YEAR.match(tok):
                lab, n_date = "B-DATE", n_date + 1
            lines.append(f"{tok.replace(' ', '_')} {lab}")
        lines.append("")
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return n_date


def run(argv: list[str], out: Path) -> dict:
    t0 = time.time()
    assert xlt_main(argv + ["--out", str(out), "--no-progress"]) == 0
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return {"scores": rep["scores"], "average": rep["average"], "unseen": rep.get("unseen_labels", {}),
            "seconds": round(time.time() - t0, 1), "command": " ".join(["xlt"] + argv + ["--out", str(out)])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="runs/user-formats")
    ap.add_argument("--out", default="runs/user-formats.json")
    ap.add_argument("--panx-train-limit", type=int, default=2000)
    ap.add_argument("--panx-eval-limit", type=int, default=300)
    args = ap.parse_args()
    work = Path(args.work)
    result = {}

    # SIB-200: built-in vs CSV
    sib = dataset_dir("sib200")
    d = work / "sib200-csv"
    (d / "eval").mkdir(parents=True, exist_ok=True)
    write_sib_csv(sib / "eng_Latn" / "train.tsv", d / "train.csv")
    write_sib_csv(sib / "eng_Latn" / "dev.tsv", d / "dev.csv")
    for lang in SIB_LANGS:
        write_sib_csv(sib / lang / "test.tsv", d / "eval" / f"{lang}.csv")
    common = ["--mode", "probe", "--seeds", "1"]
    result["sib200_builtin"] = run(["transfer", "--task", "sib200", "--targets", ",".join(SIB_LANGS)] + common,
                                   work / "sib200-builtin")
    result["sib200_csv"] = run(["transfer", "--train", str(d / "train.csv"), "--dev", str(d / "dev.csv"), "--eval",
                                str(d / "eval"), "--text-column", "sentence", "--label-column", "topic",
                                "--source", "eng_Latn"] + common, work / "sib200-user")

    # PAN-X: built-in vs space-separated CoNLL with an extra DATE type in one file
    panx = dataset_dir("panx")
    d = work / "panx-conll"
    (d / "eval").mkdir(parents=True, exist_ok=True)
    write_conll(panx / "train-en.tsv", d / "train.conll")
    write_conll(panx / "dev-en.tsv", d / "dev.conll")
    n_date = {lang: write_conll(panx / f"dev-{lang}.tsv", d / "eval" / f"test-{lang}.conll", add_date=lang == "de")
              for lang in PANX_LANGS}
    limits = ["--train-limit", str(args.panx_train_limit), "--eval-limit", str(args.panx_eval_limit)]
    result["panx_builtin"] = run(["transfer", "--task", "panx", "--targets", ",".join(PANX_LANGS)] + common + limits,
                                 work / "panx-builtin")
    user = ["transfer", "--train", str(d / "train.conll"), "--dev", str(d / "dev.conll"), "--eval", str(d / "eval")]
    result["panx_conll_unmapped"] = run(user + common + limits, work / "panx-user-unmapped")
    result["panx_conll_mapped"] = run(user + ["--label-map", "DATE=O"] + common + limits, work / "panx-user-mapped")
    # the built-in task fixes XTREME's label order, which decides which head row each class gets
    result["panx_conll_mapped_xtreme_order"] = run(
        user + ["--label-map", "DATE=O", "--labels", "O,B-PER,I-PER,B-ORG,I-ORG,B-LOC,I-LOC"] + common + limits,
        work / "panx-user-mapped-ordered")
    result["panx_date_tokens"] = n_date
    for a, b in [("sib200_builtin", "sib200_csv"), ("panx_builtin", "panx_conll_mapped"),
                 ("panx_builtin", "panx_conll_mapped_xtreme_order")]:
        ra, rb = result[a], result[b]
        diffs = {}
        for la, v in ra["scores"].items():
            lb = next((l for l in rb["scores"] if l.split("_")[0] == la.split("_")[0] or l == la), None)
            diffs[la] = None if lb is None else round(rb["scores"][lb] - v, 6)
        result[f"{a}_vs_{b}"] = {"max_abs_diff": max(abs(x) for x in diffs.values() if x is not None), "diffs": diffs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for k, v in result.items():
        if isinstance(v, dict) and "average" in v:
            print(f"{k:<24} avg {v['average']:.2f}  " + "  ".join(f"{l} {s:.2f}" for l, s in v["scores"].items())
                  + (f"  unseen {v['unseen']}" if v["unseen"] else ""))
        elif k.endswith("diff") or "_vs_" in k:
            print(f"{k}: max |diff| {v['max_abs_diff']}")


if __name__ == "__main__":
    main()
