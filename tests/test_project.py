"""Label projection (``xlt.align.projection``, ``xlt project``): hand-worked examples of the rule
(contiguous min..max range, unprojectable spans, conflicts, gaps, I- without B-), corpus-level
validation, the tsv writer and a CLI round trip with its error cases."""

from __future__ import annotations

import json

import pytest

from xlt.align.projection import (
    CONFLICT,
    PROJECTED,
    TOO_GAPPY,
    UNPROJECTABLE,
    BioTagError,
    bio_spans,
    project_corpus,
    project_files,
    project_spans,
    spans_to_bio,
    write_xtreme_tsv,
)
from xlt.cli import main
from xlt.data.readers import read_xtreme_tsv


# --------------------------------------------------------------------------- bio_spans
def test_bio_spans_basic_and_end_exclusive():
    assert bio_spans(["B-PER", "I-PER", "O", "B-LOC"]) == [(0, 2, "PER"), (3, 4, "LOC")]
    assert bio_spans(["O", "O"]) == []
    assert bio_spans([]) == []
    # adjacent spans of one type stay apart (the second B- starts a new one)
    assert bio_spans(["B-PER", "B-PER", "I-PER"]) == [(0, 1, "PER"), (1, 3, "PER")]


def test_bio_spans_i_without_b_starts_a_span():
    tags = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG", "I-ORG"]
    # I-PER at 0 starts a span; I-LOC after O starts one; B-LOC breaks it; I-ORG after LOC starts one
    assert bio_spans(tags) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "LOC"), (5, 7, "ORG")]


def test_bio_spans_agree_with_seqeval():
    seqeval = pytest.importorskip("seqeval.metrics.sequence_labeling")
    cases = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"],
             ["B-PER", "I-LOC", "I-LOC", "O", "B-ORG"],
             ["O", "B-MISC", "I-MISC", "B-MISC", "I-PER"]]
    for tags in cases:
        ours = [(lab, a, b - 1) for a, b, lab in bio_spans(tags)]
        assert ours == seqeval.get_entities(list(tags)), tags


@pytest.mark.parametrize("bad,index", [(["O", "E-PER"], 1), (["PER"], 0), (["B-"], 0), (["O", "O", "B-A B"], 2)])
def test_bio_spans_rejects_non_bio(bad, index):
    with pytest.raises(BioTagError) as info:
        bio_spans(bad)
    assert info.value.index == index


def test_spans_to_bio_and_overlap_error():
    assert spans_to_bio(5, [(3, 5, "LOC"), (0, 1, "PER")]) == ["B-PER", "O", "O", "B-LOC", "I-LOC"]
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_bio(4, [(0, 2, "A"), (1, 3, "B")])


# --------------------------------------------------------------------------- project_spans
def test_two_word_span_aligned_to_3_and_5_becomes_3_to_5():
    # source "Angela Merkel spoke": Angela -> 3, Merkel -> 5, spoke -> 0; target word 4 unlinked
    tags, stats = project_spans(["B-PER", "I-PER", "O"], 7, {(0, 3), (1, 5), (2, 0)})
    assert tags == ["O", "O", "O", "B-PER", "I-PER", "I-PER", "O"]
    assert (stats.n_spans, stats.projected, stats.unprojectable, stats.conflicts) == (1, 1, 0, 0)
    (d,) = stats.spans
    assert (d.tgt_start, d.tgt_end, d.n_links, d.gap, d.status) == (3, 6, 2, 1, PROJECTED)
    assert stats.gappy == 1


def test_max_gap_drops_a_stretched_span():
    links = {(0, 3), (1, 5), (2, 0)}  # the range 3..5 holds one unlinked word (4)
    tags, stats = project_spans(["B-PER", "I-PER", "O"], 7, links, max_gap=0)
    assert tags == ["O"] * 7
    assert (stats.projected, stats.too_gappy, stats.spans[0].status) == (0, 1, TOO_GAPPY)
    assert stats.per_label["PER"]["too_gappy"] == 1
    tags1, stats1 = project_spans(["B-PER", "I-PER", "O"], 7, links, max_gap=1)
    assert tags1[3:6] == ["B-PER", "I-PER", "I-PER"] and stats1.too_gappy == 0


def test_reordered_and_crossing_links():
    # "New York City is big" -> "ciudad de Nueva York es grande": New->Nueva(2), York->York(3),
    # City->ciudad(0): links cross, the range is 0..3 and includes the unlinked "de"
    src = ["B-LOC", "I-LOC", "I-LOC", "O", "O"]
    tags, stats = project_spans(src, 6, {(0, 2), (1, 3), (2, 0), (3, 4), (4, 5)})
    assert tags == ["B-LOC", "I-LOC", "I-LOC", "I-LOC", "O", "O"]
    assert stats.spans[0].gap == 1
    # "Anna visited Paris" -> "Paris besuchte Anna": the two spans swap places
    tags, stats = project_spans(["B-PER", "O", "B-LOC"], 3, [(0, 2), (1, 1), (2, 0)])
    assert tags == ["B-LOC", "O", "B-PER"]
    assert stats.projected == 2


def test_i_without_b_is_projected_as_a_span():
    tags, _ = project_spans(["O", "I-ORG", "I-ORG"], 3, {(1, 1), (2, 2)})
    assert tags == ["O", "B-ORG", "I-ORG"]


def test_span_without_links_is_unprojectable():
    # ORG (word 0) has no link; PER (word 2) goes to target word 0
    tags, stats = project_spans(["B-ORG", "O", "B-PER"], 3, {(1, 1), (2, 0)})
    assert tags == ["B-PER", "O", "O"]
    assert (stats.n_spans, stats.projected, stats.unprojectable, stats.lost) == (2, 1, 1, 1)
    assert stats.per_label["ORG"]["unprojectable"] == 1 and stats.per_label["ORG"]["projected"] == 0
    assert stats.per_label["PER"]["projected"] == 1
    assert stats.spans[0].status == UNPROJECTABLE and stats.spans[0].tgt_start is None


def test_conflict_more_links_wins():
    # ORG = source 0..1, links 0-1 1-2 (2 links, range 1..2); PER = source 3, link 3-2 (1 link, range 2..2)
    tags, stats = project_spans(["B-ORG", "I-ORG", "O", "B-PER"], 4, {(0, 1), (1, 2), (3, 2)})
    assert tags == ["O", "B-ORG", "I-ORG", "O"]
    assert (stats.projected, stats.conflicts) == (1, 1)
    assert stats.per_label["PER"]["conflicts"] == 1
    assert [d.status for d in stats.spans] == [PROJECTED, CONFLICT]


def test_conflict_more_links_wins_even_when_later_and_shorter():
    # ORG = source 0..1 with 1 link (1-1); PER = source 3 with 2 links (3-1, 3-2): PER wins
    tags, stats = project_spans(["B-ORG", "I-ORG", "O", "B-PER"], 3, {(1, 1), (3, 1), (3, 2)})
    assert tags == ["O", "B-PER", "I-PER"]
    assert stats.per_label["ORG"]["conflicts"] == 1


def test_conflict_ties_longer_source_span_then_earlier():
    # one link each onto target word 1: the 2-word ORG (source 2..3) beats the earlier 1-word PER
    tags, stats = project_spans(["B-PER", "O", "B-ORG", "I-ORG"], 3, {(0, 1), (3, 1)})
    assert tags == ["O", "B-ORG", "O"] and stats.conflicts == 1
    assert stats.per_label["PER"]["conflicts"] == 1
    # one link each, both one word long: the earlier source span (LOC at 2) beats PER at 4
    tags, stats = project_spans(["O", "O", "B-LOC", "O", "B-PER"], 2, {(4, 0), (2, 0)})
    assert tags == ["B-LOC", "O"] and stats.per_label["PER"]["conflicts"] == 1


def test_identical_ranges_from_adjacent_spans_conflict():
    tags, stats = project_spans(["B-PER", "B-PER"], 1, {(0, 0), (1, 0)})
    assert tags == ["B-PER"] and (stats.projected, stats.conflicts) == (1, 1)


def test_project_spans_link_outside_raises():
    with pytest.raises(ValueError, match="outside"):
        project_spans(["B-PER", "O"], 2, {(0, 2)})
    with pytest.raises(ValueError, match="outside"):
        project_spans(["B-PER", "O"], 2, {(2, 0)})
    with pytest.raises(ValueError, match="max_gap"):
        project_spans(["O"], 1, set(), max_gap=-1)


# --------------------------------------------------------------------------- project_corpus
def test_project_corpus_aggregates_and_records_sentences():
    src = [["B-PER", "O"], ["O", "O"], ["B-LOC", "B-ORG"]]
    tgt = [["x", "y"], ["a", "b", "c"], ["p", "q"]]
    links = [{(0, 1), (1, 0)}, {(0, 0)}, {(0, 0)}]  # ORG in sentence 2 has no link
    tags, stats = project_corpus(src, tgt, links)
    assert tags == [["O", "B-PER"], ["O", "O", "O"], ["B-LOC", "O"]]
    assert (stats.n_sentences, stats.n_spans, stats.projected, stats.unprojectable) == (3, 3, 2, 1)
    assert stats.partial_sentences == [2] and stats.no_entity_sentences == [1]
    assert stats.spans == []  # corpus stats keep counts only
    d = stats.to_dict()
    assert d["per_label"]["ORG"] == {"spans": 1, "projected": 0, "unprojectable": 1, "too_gappy": 0, "conflicts": 0}
    assert d["projected_pct"] == pytest.approx(66.67)


def test_project_corpus_validation_names_the_pair():
    with pytest.raises(ValueError, match="sentence pair 1: link 0-3"):
        project_corpus([["O"], ["B-PER"]], [["a"], ["b", "c"]], [set(), {(0, 3)}])
    with pytest.raises(ValueError, match="one entry per sentence pair"):
        project_corpus([["O"], ["O"]], [["a"]], [set(), set()])
    with pytest.raises(BioTagError) as info:
        project_corpus([["O"], ["O", "X-Y"]], [["a"], ["b"]], [set(), set()])
    assert (info.value.sentence, info.value.index) == (1, 1)


# --------------------------------------------------------------------------- writer
def test_write_xtreme_tsv_round_trip_and_blank_tokens(tmp_path):
    out = tmp_path / "o.tsv"
    counts = write_xtreme_tsv(out, [(["\u3000", "York", "x"], ["B-LOC", "I-LOC", "O"]),
                                    (["\u3000"], ["O"]),
                                    (["a", "b"], ["O", "B-PER"])])
    assert counts == {"sentences": 2, "tokens": 4, "blank_tokens_dropped": 2, "empty_sentences_dropped": 1}
    sents, stats = read_xtreme_tsv(out)
    # the blank B-LOC word is gone, so York starts the span
    assert [(s.tokens, s.labels) for s in sents] == [(["York", "x"], ["B-LOC", "O"]), (["a", "b"], ["O", "B-PER"])]
    assert stats.skipped["empty_sentence"] == 0


# --------------------------------------------------------------------------- CLI
SRC_TSV = ("John\tB-PER\nlives\tO\nin\tO\nNew\tB-LOC\nYork\tI-LOC\n\n"
           "Hello\tO\nworld\tO\n\n"
           "Mary\tB-PER\nmet\tO\nBob\tB-PER\n")
TGT = "In New York wohnt John\nHallo Welt\nMary traf Bob\n"
# John->4 lives->3 in->0 New->1 York->2 | Hello->0 world->1 | Mary->0 met->1 (Bob unlinked)
ALIGN0 = "0-4 1-3 2-0 3-1 4-2\n0-0 1-1\n0-0 1-1\n"


@pytest.fixture
def files(tmp_path):
    src = tmp_path / "src.tsv"
    src.write_text(SRC_TSV, encoding="utf-8")
    tgt = tmp_path / "tgt.txt"
    tgt.write_text(TGT, encoding="utf-8")
    al = tmp_path / "align.txt"
    al.write_text(ALIGN0, encoding="utf-8")
    return tmp_path, src, tgt, al


def read_back(path):
    sents, _ = read_xtreme_tsv(path)
    return [(s.tokens, s.labels) for s in sents]


def test_cli_round_trip_drops_partial_by_default(files, capsys):
    d, src, tgt, al = files
    out = d / "out" / "silver.tsv"
    assert main(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al), "--out", str(out)]) == 0
    assert read_back(out) == [(["In", "New", "York", "wohnt", "John"], ["O", "B-LOC", "I-LOC", "O", "B-PER"]),
                              (["Hallo", "Welt"], ["O", "O"])]
    rep = json.loads((d / "out" / "silver.stats.json").read_text())
    assert rep["sentences"]["read"] == 3 and rep["sentences"]["written"] == 2
    assert rep["sentences"]["dropped_partial"] == 1 and rep["sentences"]["no_entity"] == 1
    assert (rep["spans"]["n_spans"], rep["spans"]["projected"], rep["spans"]["unprojectable"]) == (4, 3, 1)
    assert rep["written_spans"] == {"LOC": 1, "PER": 1}
    assert rep["inputs"]["tgt_format"] == "text"
    printed = capsys.readouterr().out
    assert "4 source, 3 projected" in printed and "1 dropped as partial" in printed


def test_cli_keep_partial_drop_empty_and_one_based(files):
    d, src, tgt, al = files
    al1 = d / "align1.txt"
    al1.write_text("1-5 2-4 3-1 4-2 5-3\n1-1 2-2\n1-1 2-2\n", encoding="utf-8")
    out = d / "o.tsv"
    assert main(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al1), "--one-based",
                 "--no-drop-partial", "--no-keep-empty", "--out", str(out), "--stats", str(d / "s.json")]) == 0
    # Hallo Welt (no entity) dropped; Mary traf Bob kept with only the projected PER (Bob unlinked)
    assert read_back(out) == [(["In", "New", "York", "wohnt", "John"], ["O", "B-LOC", "I-LOC", "O", "B-PER"]),
                              (["Mary", "traf", "Bob"], ["B-PER", "O", "O"])]
    rep = json.loads((d / "s.json").read_text())
    assert rep["sentences"]["dropped_no_entity"] == 1 and rep["sentences"]["dropped_partial"] == 0


def test_cli_pairs_file_and_empty_target(files):
    d, src, _, _ = files
    pairs = d / "pairs.txt"
    pairs.write_text("John lives in New York ||| In New York wohnt John\n"
                     "Hello world ||| Hallo Welt\n"
                     "Mary met Bob ||| \n", encoding="utf-8")  # empty target side
    al = d / "al.txt"
    al.write_text("0-4 1-3 2-0 3-1 4-2\n0-0 1-1\n\n", encoding="utf-8")
    rep = project_files(src, pairs, al, d / "p.tsv")
    assert rep["inputs"]["tgt_format"] == "pairs"
    assert rep["sentences"]["empty_target"] == 1 and rep["sentences"]["written"] == 2
    assert rep["spans"]["n_spans"] == 2  # the two spans of the empty-target sentence are not counted
    assert read_back(d / "p.tsv")[0][1] == ["O", "B-LOC", "I-LOC", "O", "B-PER"]


def run_error(args, capsys) -> str:
    assert main(args) == 2
    return capsys.readouterr().err


def test_cli_bad_tag_names_the_tsv_line(files, capsys):
    d, src, tgt, al = files
    src.write_text(SRC_TSV.replace("Bob\tB-PER", "Bob\tS-PER"), encoding="utf-8")
    err = run_error(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al),
                     "--out", str(d / "o.tsv")], capsys)
    assert err.startswith("xlt: error:") and f"{src}:12:" in err and "S-PER" in err
    # a malformed tsv line (no tab) is reported by the reader with its line
    src.write_text("John B-PER\n", encoding="utf-8")
    err = run_error(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al),
                     "--out", str(d / "o.tsv")], capsys)
    assert f"{src}:1:" in err


def test_cli_sentence_count_mismatch_names_the_file(files, capsys):
    d, src, tgt, al = files
    tgt.write_text("In New York wohnt John\nHallo Welt\n", encoding="utf-8")
    err = run_error(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al),
                     "--out", str(d / "o.tsv")], capsys)
    assert f"{tgt}:3:" in err and "2 lines" in err and "3 sentences" in err
    tgt.write_text(TGT, encoding="utf-8")
    al.write_text(ALIGN0 + "0-0\n", encoding="utf-8")
    err = run_error(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al),
                     "--out", str(d / "o.tsv")], capsys)
    assert f"{al}:4:" in err and "more lines" in err


def test_cli_link_outside_sentence_names_align_line(files, capsys):
    d, src, tgt, al = files
    al.write_text("0-4 1-3 2-0 3-1 4-2\n0-0 1-2\n0-0 1-1\n", encoding="utf-8")  # 'Hallo Welt' has no word 2
    err = run_error(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al),
                     "--out", str(d / "o.tsv")], capsys)
    assert f"{al}:2:" in err and "1-2" in err
    assert not (d / "o.tsv").exists()


def test_cli_pairs_source_length_mismatch_and_out_clash(files, capsys):
    d, src, _, al = files
    pairs = d / "pairs.txt"
    pairs.write_text("John lives in New York ||| In New York wohnt John\n"
                     "Hello big world ||| Hallo Welt\nMary met Bob ||| Mary traf Bob\n", encoding="utf-8")
    err = run_error(["project", "--src-tags", str(src), "--tgt", str(pairs), "--align", str(al),
                     "--out", str(d / "o.tsv")], capsys)
    assert f"{pairs}:2:" in err and "3 words" in err and "2 tokens" in err
    err = run_error(["project", "--src-tags", str(src), "--tgt", str(pairs), "--align", str(al),
                     "--out", str(src)], capsys)
    assert "is also an input" in err and "never writes over its inputs" in err
    # refused by the settings (ProjectSettings, as in Python): one line, exit 2
    assert main(["project", "--src-tags", str(src), "--tgt", str(pairs), "--align", str(al),
                 "--out", str(d / "o.tsv"), "--max-gap", "-1"]) == 2
    assert "--max-gap -1: expected a whole number >= 0" in capsys.readouterr().err


def test_auto_text_format_refuses_a_late_separator(files, capsys):
    d, src, tgt, al = files
    tgt.write_text("In New York wohnt John\nHello world ||| Hallo Welt\nMary traf Bob\n", encoding="utf-8")
    err = run_error(["project", "--src-tags", str(src), "--tgt", str(tgt), "--align", str(al),
                     "--out", str(d / "o.tsv")], capsys)
    assert f"{tgt}:2:" in err and "--tgt-format" in err
