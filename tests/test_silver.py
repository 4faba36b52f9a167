"""The silver-data pipeline (``xlt.jobs.silver``, ``xlt project --silver ntrex``) end to end on
the tiny encoder, the synthetic PAN-X files of tests/fixtures.py and a hand-written 8-line NTREX
(plus 40 generated lines).

The English probe learns the synthetic PAN-X mapping (``happy walk`` = PER, ``big house`` = ORG,
``mat`` = LOC), so the NTREX English lines built from the same words get entities to project.
The checks are structural and derived from the input files: the silver tsv holds exactly the
tokenised target lines that were kept, in order; every tag is valid IOB2 over the PAN-X labels;
sentence and span counts add up; both F1 columns are in the report.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from collections import Counter

import pytest
from fixtures import panx_sentences

from xlt.align.projection import bio_spans
from xlt.cli import main
from xlt.data.readers import read_xtreme_tsv
from xlt.data.tasks import PANX_TAGS
from xlt.data.wordalign import simple_tokenize
from xlt.cli._common import UsageError
from xlt.jobs.silver import SilverConfig, run_silver

pytestmark = pytest.mark.usefixtures("single_torch_thread")

ENG = [
    "The happy walk sat on the mat.",
    "A big house is in the cat.",
    "",  # empty English line: dropped from every language
    "The dog sat on a mat, and the cat sat.",
    "Happy walk and big house.",
    "the cat is on the mat.",
    "The dog is happy walk.",
    "a cat and a dog.",
]
TGT = {
    "deu": [
        "the happy walk sat on the mat .",
        "a big house is in the cat.",
        "whatever",
        "the dog sat on a mat, and the cat sat!",
        "",  # empty target: skipped and counted
        "the cat is on the mat!",
        "the dog is happy walk.",
        "a cat and a dog.",
    ],
    "fra": [
        "happy walk 在 the mat.",  # a Han character is a word of its own
        "big house 是 in the cat.",
        "x",
        "\u200b",  # only an invisible character: no words, counts as an empty target
        "happy walk and big house.",
        "the cat, on the mat.",
        "dog is happy walk.",
        "a cat and a dog",
    ],
}
# 40 more lines translated word for word: enough silver data for the silver probe to learn the
# mapping, so a misaligned feature/tag pairing would show up as a low silver F1
_EXTRA = [" ".join(w for w, _ in s) for s in panx_sentences(40, random.Random(5))]
ENG += _EXTRA
for _code in TGT:
    TGT[_code] += _EXTRA


@pytest.fixture(scope="module")
def silver_root(data, tmp_path_factory):
    """The synthetic data folder's PAN-X files (plus dev-fr, a copy of dev-de) and the tiny NTREX."""
    root = tmp_path_factory.mktemp("silver-data")
    shutil.copytree(data.root / "panx", root / "panx")
    shutil.copy(root / "panx" / "dev-de.tsv", root / "panx" / "dev-fr.tsv")
    nt = root / "ntrex"
    nt.mkdir()
    (nt / "newstest2019-src.eng.txt").write_text("\n".join(ENG) + "\n", encoding="utf-8")
    for code, lines in TGT.items():
        (nt / f"newstest2019-ref.{code}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def expected_pairs(code: str) -> list[list[str]]:
    """Tokenised target lines whose English and target sides both have words, in line order."""
    return [simple_tokenize(t) for e, t in zip(ENG, TGT[code]) if simple_tokenize(e) and simple_tokenize(t)]


def is_subsequence(items, seq) -> bool:
    it = iter(seq)
    return all(any(x == y for y in it) for x in items)


def check_iob2(tags) -> None:
    prev = "O"
    for t in tags:
        assert t in PANX_TAGS
        if t.startswith("I-"):
            assert prev in (f"B-{t[2:]}", f"I-{t[2:]}"), tags
        prev = t


def test_cli_silver_end_to_end(tiny, silver_root, tmp_path, capsys):
    _, spec = tiny
    out = tmp_path / "run"
    argv = ["project", "--silver", "ntrex", "--langs", "de,fra", "--model", spec, "--data-dir", str(silver_root),
            "--align-layer", "2", "--train-limit", "80", "--eval-limit", "20", "--epochs", "30", "--lr", "1e-2",
            "--batch-size", "32", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "zero-shot" in printed and "silver" in printed
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["command"] == ["xlt"] + argv
    assert rep["config"]["align_method"] == "itermax" and rep["config"]["align_layer"] == 2
    assert rep["config"]["epochs"] == 30 and rep["config"]["layer"] == "mix" and rep["config"]["head"] == "linear"
    assert set(rep["scores"]) == set(rep["zero_shot_scores"]) == {"de", "fr"}
    for lang in ("de", "fr"):
        for col in ("scores", "zero_shot_scores"):
            assert 0.0 <= rep[col][lang] <= 100.0
    assert rep["source_scores"]["dev"] >= 80.0  # the English probe learned the synthetic mapping
    assert rep["scores"]["de"] >= 60.0  # ... and so did the probe trained on German silver data
    assert rep["source_counts"]["train"]["sentences"] == 80
    assert rep["source_counts"]["ntrex_english"] == {"lines": 48, "sentences": 47, "empty": 1, "no_words": 0,
                                                    "words": sum(len(simple_tokenize(e)) for e in ENG)}

    for lang, code in (("de", "deu"), ("fr", "fra")):
        c = rep["counts"][lang]
        assert c["sentences"] == 20  # the PAN-X dev subset both columns are scored on
        pairs = expected_pairs(code)
        assert c["ntrex"]["code"] == code and c["ntrex"]["lines"] == 48 and c["ntrex"]["english"] == 47
        assert c["ntrex"]["pairs"] == len(pairs) and c["ntrex"]["empty_target"] == 47 - len(pairs) == 1
        s = c["silver"]["0"]
        # every pair with a non-empty target is projected, then kept or dropped as partial
        assert s["projected"] == len(pairs)
        assert s["kept"] + s["dropped_partial"] + s["dropped_no_entity"] == len(pairs)
        assert s["dropped_no_entity"] == 0  # keep_empty by default
        assert s["dropped_partial"] == s["partial"]
        sp = s["spans"]
        assert sp["n_spans"] > 0  # the English probe found entities in NTREX
        assert sp["n_spans"] == sum(s["source_entities"].values())
        assert sp["projected"] + sp["unprojectable"] + sp["too_gappy"] + sp["conflicts"] == sp["n_spans"]
        assert sp["n_sentences"] == len(pairs)
        assert s["train"] + s["dev"] == s["kept"] and s["dev"] == max(1, round(0.1 * s["kept"]))

        path = out / "silver" / f"{lang}.tsv"
        assert s["tsv"] == str(path)
        sents, _ = read_xtreme_tsv(path)
        assert len(sents) == s["kept"] == s["written"]
        # the silver tokens are the tokenised target lines that were kept, in order
        assert is_subsequence([x.tokens for x in sents], pairs)
        for x in sents:
            check_iob2(x.labels)
        assert dict(Counter(lab for x in sents for _, _, lab in bio_spans(x.labels))) == s["entities"]
        assert sum(s["entities"].values()) <= sp["projected"]  # dropped sentences take their spans along
        assert rep["alignment"][lang]["pairs"] == len(pairs)

    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| language | zero-shot F1 | silver F1 | Δ | silver sentences | projected spans |" in md
    for lang in ("de", "fr"):
        row = next(l for l in md.splitlines() if l.startswith(f"| {lang} |"))
        assert f"{rep['zero_shot_scores'][lang]:.2f}" in row and f"{rep['scores'][lang]:.2f}" in row
    assert (out / "scores.png").is_file()


def test_run_silver_two_seeds_keep_partial(tiny, silver_root):
    _, spec = tiny
    cfg = SilverConfig(langs="de", model=spec, data_dir=str(silver_root), align_layer=2, align_method="argmax",
                       train_limit=40, eval_limit=10, epochs=3, lr=1e-2, batch_size=32, seeds=[0, 1],
                       drop_partial=False,
                       keep_empty=False, progress=False, out=None)
    rep = run_silver(cfg)
    pairs = expected_pairs("deu")
    assert set(rep["per_seed"]) == set(rep["zero_shot_per_seed"]) == {"0", "1"}
    vals = [rep["per_seed"][s]["de"] for s in ("0", "1")]
    assert rep["scores"]["de"] == pytest.approx(sum(vals) / 2)
    assert math.isfinite(rep["scores_std"]["de"]) and math.isfinite(rep["zero_shot_scores_std"]["de"])
    for seed in ("0", "1"):
        s = rep["counts"]["de"]["silver"][seed]
        # nothing dropped as partial; sentences without an English entity are dropped
        assert s["dropped_partial"] == 0
        assert s["dropped_no_entity"] == s["no_entity"]
        assert s["kept"] + s["dropped_no_entity"] == len(pairs)
        assert s["tsv"] is None  # out=None writes nothing
        assert len(rep["training"][seed]["english"]) == 3


def test_silver_errors(tiny, silver_root, tmp_path, capsys):
    _, spec = tiny
    base = ["project", "--out", str(tmp_path / "o")]
    # mixing the two modes
    assert main(base + ["--silver", "ntrex", "--src-tags", "a.tsv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xlt: error:") and "--src-tags" in err and "--silver" in err
    assert main(base + ["--silver", "ntrex", "--tokenizer", "space", "--one-based"]) == 2
    err = capsys.readouterr().err
    assert "--tokenizer" in err and "--one-based" in err
    assert main(base + ["--src-tags", "a.tsv", "--tgt", "b", "--align", "c", "--langs", "de"]) == 2
    assert "--langs only apply with --silver" in capsys.readouterr().err
    assert main(base + ["--tgt", "b"]) == 2
    assert "--src-tags, --align" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(UsageError, match="--src-tags"):
        main(["-v"] + base + ["--silver", "ntrex", "--src-tags", "a.tsv"])
    # languages: English is the source, and a language must have PAN-X dev data and NTREX text
    with pytest.raises(ValueError, match="English"):
        run_silver(SilverConfig(langs="de,en", model=spec, data_dir=str(silver_root), progress=False))
    from xlt.data.langs import UnknownLanguageError

    with pytest.raises(UnknownLanguageError):
        run_silver(SilverConfig(langs="ja", model=spec, data_dir=str(silver_root), progress=False))
    with pytest.raises(ValueError, match="align-method"):
        run_silver(SilverConfig(langs="de", align_method="best", data_dir=str(silver_root)))
    # an alignment layer the model does not have fails before any training
    with pytest.raises(ValueError, match="layer"):
        run_silver(SilverConfig(langs="de", model=spec, align_layer=9, data_dir=str(silver_root), progress=False))


# report.py's plot has no finite score to show here
@pytest.mark.filterwarnings("ignore:Attempting to set identical low and high ylims")
def test_too_little_silver_data_gives_no_score(tiny, silver_root, tmp_path):
    _, spec = tiny
    root = tmp_path / "data"
    shutil.copytree(silver_root / "panx", root / "panx")
    (root / "ntrex").mkdir()
    (root / "ntrex" / "newstest2019-src.eng.txt").write_text("The happy walk sat.\nthe cat.\n", encoding="utf-8")
    (root / "ntrex" / "newstest2019-ref.deu.txt").write_text("the happy walk sat.\n\n", encoding="utf-8")
    rep = run_silver(SilverConfig(langs="de", model=spec, data_dir=str(root), align_layer=2, train_limit=20,
                                  eval_limit=5, epochs=2, progress=False, out=str(tmp_path / "out")))
    s = rep["counts"]["de"]["silver"]["0"]
    assert s["kept"] <= 1 and s["train"] == s["dev"] == 0
    assert math.isnan(rep["scores"]["de"]) and math.isnan(rep["average"])
    assert math.isfinite(rep["zero_shot_scores"]["de"])  # the zero-shot column is still there
    on_disk = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert on_disk["scores"]["de"] is None
    row = next(l for l in (tmp_path / "out" / "report.md").read_text(encoding="utf-8").splitlines()
               if l.startswith("| de |"))
    assert "| – | – |" in row
