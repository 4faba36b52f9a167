"""Warnings a user would otherwise miss: sentences cut at the model's length limit (``xlt wordalign``,
``xlt predict``), inputs with no sentences (``xlt project``, ``xlt predict``) and a links file that
looks 1-based but is read as 0-based."""

from __future__ import annotations

import json
import logging
import random

import pytest
from fixtures import panx_sentences

import xlt
from xlt.align.projection import project_files
from xlt.align.words import encode_subwords
from xlt.cli import main
from xlt.cli._common import first_few
from xlt.data.readers import DataFormatError, TaggedSentence
from xlt.data.wordalign import read_pairs, read_pharaoh

pytestmark = pytest.mark.usefixtures("single_torch_thread")

# The tiny model takes 64 tokens, [CLS] and [SEP] included; "the" and "cat" are one token each
# in its vocabulary (tests/helpers.py), so 70 of them fill the 62 places and lose 8 words.
LONG = " ".join(["the"] * 70)


def warning_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("warning: ")]


def test_first_few():
    assert first_few([3, 7, 12]) == "3, 7, 12"
    assert first_few(range(1, 9)) == "1, 2, 3, 4, 5 and 3 more"
    assert first_few([4, 9], total=10, shown=5) == "4, 9 and 8 more"  # only the first few were kept


# --------------------------------------------------------------------------- cut sentences
def test_encode_subwords_lists_every_cut_copy(tiny):
    enc, _ = tiny
    sv = encode_subwords(enc, [LONG.split(), ["a", "cat"], LONG.split()], layer=1)
    # the long sentence is encoded once but given twice: both copies are cut, 8 words lost each
    assert sv.truncated == [0, 2]
    assert sv.stats["n_truncated"] == 2 and sv.stats["n_truncated_words"] == 16
    assert [len(w) for w in sv.word_ids] == [62, 2, 62]


def test_wordalign_warns_about_cut_pairs_with_their_lines(tiny, tmp_path, capsys):
    _, spec = tiny
    pairs = tmp_path / "pairs.txt"
    # line 2 has an empty side (skipped, but keeps its place); line 3 is too long on its source side
    pairs.write_text(f"the cat ||| a cat\n ||| a\n{LONG} ||| the cat\nthe dog ||| a dog\n", encoding="utf-8")
    report = tmp_path / "report.json"
    assert main(["wordalign", "--pairs", str(pairs), "--model", spec, "--layer", "1", "--out",
                 str(tmp_path / "out.txt"), "--report", str(report), "--no-progress"]) == 0
    warned = warning_lines(capsys.readouterr().err)
    assert len(warned) == 1
    assert "1 of 3 sentence pairs are longer than the model takes (64 tokens)" in warned[0]
    assert "8 words past the cut have no links" in warned[0] and warned[0].endswith("(line 3)")
    stats = json.loads(report.read_text(encoding="utf-8"))["stats"]
    assert stats["n_truncated_pairs"] == 1 and stats["truncated_pairs"] == [2]  # pair 2 = line 3
    assert stats["n_truncated"] == 1 and stats["n_truncated_words"] == 8
    # the 8 cut words (62..69) have no links
    links = read_pharaoh(tmp_path / "out.txt", lengths=read_pairs(pairs).lengths)
    assert links.sure[2] and max(i for i, _ in links.sure[2]) < 62

    # nothing cut: no warning
    pairs.write_text("the cat ||| a cat\n", encoding="utf-8")
    assert main(["wordalign", "--pairs", str(pairs), "--model", spec, "--layer", "1", "--out",
                 str(tmp_path / "out.txt"), "--overwrite", "--no-progress"]) == 0
    assert warning_lines(capsys.readouterr().err) == []


@pytest.fixture(scope="module")
def saved_models(tiny, tmp_path_factory):
    """A fine-tuned and a probe PAN-X-like tagger of the tiny model, saved: ``{mode: folder}``."""
    _, spec = tiny
    root = tmp_path_factory.mktemp("models")
    rng = random.Random(7)
    sents = [TaggedSentence([w for w, _ in s], [t for _, t in s]) for s in panx_sentences(40, rng)]
    ds = xlt.from_examples(sents[:30], {"de": sents[30:]}, dev=sents[30:])
    out = {}
    for mode in ("finetune", "probe"):
        xlt.zero_shot_transfer(ds, model=spec, mode=mode, epochs=1, lr=3e-3, batch_size=8, progress=False,
                               save=str(root / mode))
        out[mode] = root / mode
    return out


def test_predict_warns_about_cut_inputs_with_their_lines(saved_models, tmp_path, capsys):
    long = " ".join(["cat"] * 100)  # 100 one-token words: 38 past the cut
    src = tmp_path / "in.txt"
    src.write_text(f"a cat sat\n\n{long}\nthe dog\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(saved_models["finetune"]), "--input", str(src), "--out", str(out),
                 "--no-progress"]) == 0
    warned = warning_lines(capsys.readouterr().err)
    assert len(warned) == 1
    assert "1 of 3 inputs are longer than the model takes and were cut" in warned[0]
    assert "words past the cut get the label O" in warned[0] and warned[0].endswith("(line 3)")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4 and len(rows[2]["labels"]) == 100
    assert set(rows[2]["labels"][62:]) == {"O"} and set(rows[2]["scores"][62:]) == {1.0}
    # a probe encodes long inputs in overlapping windows: nothing is cut, nothing to warn about
    assert main(["predict", "--model", str(saved_models["probe"]), "--input", str(src), "--out", str(out),
                 "--overwrite", "--no-progress"]) == 0
    assert warning_lines(capsys.readouterr().err) == []


# --------------------------------------------------------------------------- empty inputs
def test_predict_warns_when_the_input_has_no_sentences(saved_models, tmp_path, capsys):
    model = str(saved_models["finetune"])
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", model, "--input", str(empty), "--out", str(out), "--no-progress"]) == 0
    assert warning_lines(capsys.readouterr().err) == [f"warning: --input {empty} has no sentences: the output is empty"]
    assert out.read_text(encoding="utf-8") == ""
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n", encoding="utf-8")
    assert main(["predict", "--model", model, "--input", str(blank), "--out", str(out), "--overwrite",
                 "--no-progress"]) == 0
    assert warning_lines(capsys.readouterr().err) == [
        f"warning: --input {blank} has no sentences, only 2 empty lines: the output is 2 empty predictions"]
    assert [json.loads(line)["tokens"] for line in out.read_text(encoding="utf-8").splitlines()] == [[], []]
    # one real sentence among blank lines: no warning
    blank.write_text("\na cat\n", encoding="utf-8")
    assert main(["predict", "--model", model, "--input", str(blank), "--out", str(out), "--overwrite",
                 "--no-progress"]) == 0
    assert warning_lines(capsys.readouterr().err) == []


SRC_TSV = "John\tB-PER\nlives\tO\n\nHello\tO\nworld\tO\n"


def test_project_warns_when_nothing_is_written(tmp_path, caplog):
    empty = tmp_path / "empty"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "o.tsv"
    with caplog.at_level(logging.WARNING, logger="xlt.align.projection"):
        assert main(["project", "--src-tags", str(empty), "--tgt", str(empty), "--align", str(empty),
                     "--out", str(out)]) == 0
    assert f"{empty} has no sentences: nothing to project, the output {out} is empty" in caplog.text
    rep = json.loads((tmp_path / "o.stats.json").read_text(encoding="utf-8"))
    assert rep["sentences"]["read"] == 0 and len(rep["warnings"]) == 1
    assert out.read_text(encoding="utf-8") == ""

    # two sentences, both with an empty target: every sentence skipped
    src = tmp_path / "src.tsv"
    src.write_text(SRC_TSV, encoding="utf-8")
    blank = tmp_path / "blank"
    blank.write_text("\n\n", encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xlt.align.projection"):
        assert main(["project", "--src-tags", str(src), "--tgt", str(blank), "--align", str(blank),
                     "--out", str(out), "--overwrite"]) == 0
    assert "no sentence was written: all 2 sentences" in caplog.text and "(2 with an empty target)" in caplog.text
    assert json.loads((tmp_path / "o.stats.json").read_text(encoding="utf-8"))["sentences"]["empty_target"] == 2

    # sentences written: no warning, an empty list in the statistics
    tgt = tmp_path / "tgt.txt"
    tgt.write_text("John lebt\nHallo Welt\n", encoding="utf-8")
    al = tmp_path / "al.txt"
    al.write_text("0-0 1-1\n0-0 1-1\n", encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xlt.align.projection"):
        rep = project_files(src, tgt, al, out)
    assert caplog.text == "" and rep["warnings"] == [] and rep["sentences"]["written"] == 2


def test_project_warns_when_filters_drop_every_sentence(tmp_path, caplog):
    src = tmp_path / "src.tsv"
    src.write_text("Hello\tO\nworld\tO\n", encoding="utf-8")
    tgt = tmp_path / "tgt.txt"
    tgt.write_text("Hallo Welt\n", encoding="utf-8")
    al = tmp_path / "al.txt"
    al.write_text("0-0 1-1\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="xlt.align.projection"):
        rep = project_files(src, tgt, al, tmp_path / "o.tsv", keep_empty=False)
    assert rep["sentences"]["dropped_no_entity"] == 1 and len(rep["warnings"]) == 1
    assert "1 dropped without entities (--keep-empty keeps them)" in caplog.text


# --------------------------------------------------------------------------- 1-based links read as 0-based
def test_few_one_based_links_with_short_sentences_warn(tmp_path, caplog):
    f = tmp_path / "links"
    # pairs of 3 words linked 1-based without the last word, so every link also fits 0-based
    f.write_text("1-1 2-2\n1-2\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="xlt.data.wordalign"):
        read_pharaoh(f, lengths=[(3, 3), (3, 3)])
    assert f"links file {f}: no index 0 in 3 links; if it counts words from 1, add --one-based" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xlt.data.wordalign"):
        read_pharaoh(f, lengths=[(3, 3), (3, 3)], one_based=True)  # read as it is meant
        read_pharaoh(f)  # no lengths: too few links to tell
        read_pharaoh(f, lengths=[(3, 30), (3, 3)])  # a long sentence: a missing first-word link is plausible
        f.write_text("0-0 2-2\n1-2\n", encoding="utf-8")
        read_pharaoh(f, lengths=[(3, 3), (3, 3)])  # an index 0: 0-based
    assert caplog.text == ""


def test_link_at_the_sentence_length_carries_the_one_based_hint(tmp_path):
    f = tmp_path / "links"
    f.write_text("1-1 3-3\n", encoding="utf-8")  # 1-based: word 3 of 3
    with pytest.raises(DataFormatError) as info:
        read_pharaoh(f, lengths=[(3, 3)])
    assert "outside the sentence pair" in str(info.value)
    assert str(info.value).endswith("(0-based indices; if the file counts words from 1, add --one-based)")
    f.write_text("0-0 3-3\n", encoding="utf-8")  # index 0: a 0-based file with a bad link, no hint
    with pytest.raises(DataFormatError) as info:
        read_pharaoh(f, lengths=[(3, 3)])
    assert str(info.value).endswith("(0-based indices)")


def test_commands_warn_about_one_based_links(tmp_path, capsys, caplog):
    src = tmp_path / "src.tsv"
    src.write_text(SRC_TSV, encoding="utf-8")
    tgt = tmp_path / "tgt.txt"
    tgt.write_text("John lebt hier\nHallo Welt\n", encoding="utf-8")
    al = tmp_path / "al.txt"
    al.write_text("1-1\n1-1\n", encoding="utf-8")  # 1-based; fits 0-based too (shifted by one word)
    with caplog.at_level(logging.WARNING, logger="xlt.data.wordalign"):
        assert main(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al),
                     "--out", str(tmp_path / "o.tsv")]) == 0
    assert f"links file {al}: no index 0 in 2 links; if it counts words from 1, add --one-based" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xlt.data.wordalign"):
        assert main(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al), "--one-based",
                     "--out", str(tmp_path / "o.tsv"), "--overwrite"]) == 0
    assert caplog.text == ""
    # a link to the last word: an error, with the hint
    al.write_text("1-1 2-2\n1-1\n", encoding="utf-8")
    assert main(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al),
                 "--out", str(tmp_path / "o.tsv"), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert f"{al}:1: link '2-2'" in err and "if the file counts words from 1, add --one-based" in err
    # xlt wordalign eval names the option of the file it read
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("John lives ||| John lebt hier\nHello world ||| Hallo Welt\n", encoding="utf-8")
    zero = tmp_path / "zero.txt"
    zero.write_text("0-0 1-1\n0-0 1-1\n", encoding="utf-8")
    assert main(["wordalign", "eval", "--gold", str(zero), "--pred", str(al), "--pairs", str(pairs)]) == 2
    assert "if the file counts words from 1, add --pred-one-based" in capsys.readouterr().err
