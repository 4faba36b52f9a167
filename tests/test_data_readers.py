"""Readers on tiny hand-written files; expected values are worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlt.data.readers import (
    DataFormatError,
    TaggedSentence,
    TextExample,
    read_conllu,
    read_sib200,
    read_xtreme_tsv,
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, str):
        p.write_bytes(content.encode("utf-8"))
    else:
        p.write_bytes(content)
    return p


# --------------------------------------------------------------------------- XTREME tsv
def test_xtreme_two_sentences_last_without_blank_line(tmp_path):
    p = write(tmp_path, "t.tsv", "The\tDET\ncat\tNOUN\n\nIt\tPRON\n")
    sents, stats = read_xtreme_tsv(p)
    assert sents == [
        TaggedSentence(["The", "cat"], ["DET", "NOUN"]),
        TaggedSentence(["It"], ["PRON"]),
    ]
    assert stats.n_read == 2
    assert stats.n_skipped_empty == 0
    assert stats.n_lines == 4
    assert stats.path == p


def test_xtreme_crlf_bom_trailing_whitespace_and_inner_space(tmp_path):
    raw = b"\xef\xbb\xbfHallo\tINTJ  \r\n10 000\tNUM\t\r\n\r\nzwei \tNUM\r\n"
    sents, _ = read_xtreme_tsv(write(tmp_path, "t.tsv", raw))
    assert [s.tokens for s in sents] == [["Hallo", "10 000"], ["zwei"]]
    assert [s.labels for s in sents] == [["INTJ", "NUM"], ["NUM"]]


def test_xtreme_empty_sentences_are_counted(tmp_path):
    # line 1 blank (empty #1), a, blank closes [a], blank (empty #2), blank (empty #3), b, blank
    p = write(tmp_path, "t.tsv", "\na\tX\n\n\n\nb\tY\n\n")
    sents, stats = read_xtreme_tsv(p)
    assert [s.tokens for s in sents] == [["a"], ["b"]]
    assert stats.n_skipped_empty == 3
    assert stats.skipped["empty_sentence"] == 3


def test_xtreme_blank_tokens_are_skipped_and_counted(tmp_path):
    # sentence 1 keeps "x"; sentence 2 has only a blank token, so it is an empty sentence
    p = write(tmp_path, "t.tsv", "\tO\nx\tO\n\n  \tB-PER\n\ny\tO\n")
    sents, stats = read_xtreme_tsv(p)
    assert [s.tokens for s in sents] == [["x"], ["y"]]
    assert stats.skipped["blank_token"] == 2
    assert stats.n_skipped_empty == 1


def test_xtreme_invisible_tokens_are_kept_and_noted(tmp_path):
    p = write(tmp_path, "t.tsv", "\u200b\tO\nBerlin\tB-LOC\n\ufeff\tO\n\u200b\u200bem\tO\n")
    sents, stats = read_xtreme_tsv(p)
    assert sents[0].tokens == ["\u200b", "Berlin", "\ufeff", "\u200b\u200bem"]
    assert stats.notes["invisible_token"] == 2  # "\u200b\u200bem" has visible letters


@pytest.mark.parametrize(
    "bad_line",
    ["no_tab_here", "two words", "a\tB-PER\textra", "a\tB PER"],
)
def test_xtreme_malformed_line_names_file_and_line(tmp_path, bad_line):
    p = write(tmp_path, "bad.tsv", f"ok\tO\n\nfine\tO\n{bad_line}\nmore\tO\n")
    with pytest.raises(DataFormatError) as info:
        read_xtreme_tsv(p)
    err = info.value
    assert err.line == 4
    assert err.path == p
    assert str(err).startswith(f"{p}:4:")
    assert isinstance(err, ValueError)


def test_xtreme_invalid_utf8_names_line(tmp_path):
    p = write(tmp_path, "bad.tsv", b"a\tX\n\xff\xfe\tY\n")
    with pytest.raises(DataFormatError) as info:
        read_xtreme_tsv(p)
    assert info.value.line == 2


def test_xtreme_limit(tmp_path):
    p = write(tmp_path, "t.tsv", "a\tX\n\n\n\nb\tX\n\nc\tX\n\nd\tX\n")
    sents, stats = read_xtreme_tsv(p, limit=2)
    assert [s.tokens for s in sents] == [["a"], ["b"]]
    assert stats.n_read == 2 and stats.stopped_at_limit
    assert stats.n_skipped_empty == 2  # the two empty ones before "b" were passed over
    assert read_xtreme_tsv(p, limit=0)[0] == []
    all_sents, all_stats = read_xtreme_tsv(p, limit=10)
    assert len(all_sents) == 4 and not all_stats.stopped_at_limit
    with pytest.raises(ValueError):
        read_xtreme_tsv(p, limit=-1)


def test_xtreme_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_xtreme_tsv(tmp_path / "nope.tsv")


def test_tagged_sentence_length_mismatch():
    with pytest.raises(ValueError):
        TaggedSentence(["a", "b"], ["X"])
    assert len(TaggedSentence(["a", "b"], ["X", "Y"])) == 2


# --------------------------------------------------------------------------- CoNLL-U
CONLLU = (
    "# sent_id = empty\n"  # line 1: a block with no word at all
    "\n"  # line 2
    "# sent_id = 1\n"  # 3
    "# text = del mundo\n"  # 4
    "1-2\tdel\t_\t_\t_\t_\t_\t_\t_\t_\n"  # 5 multiword range
    "1\tde\tde\tADP\t_\t_\t3\tcase\t_\t_\n"  # 6
    "2\tel\tel\tDET\t_\t_\t3\tdet\t_\t_\n"  # 7
    "3\tmundo\tmundo\tNOUN\t_\t_\t0\troot\t_\t_\n"  # 8
    "3.1\testá\testar\tVERB\t_\t_\t_\t_\t0:root\t_\n"  # 9 empty node
    "\n"  # 10
    "\n"  # 11 extra blank line
    "# sent_id = 2\n"  # 12
    "1\tHola\thola\tINTJ\t_\t_\t0\troot\t_\t_\n"  # 13
)


def test_conllu_skips_ranges_and_empty_nodes(tmp_path):
    sents, stats = read_conllu(write(tmp_path, "x.conllu", CONLLU))
    assert sents == [
        TaggedSentence(["de", "el", "mundo"], ["ADP", "DET", "NOUN"]),
        TaggedSentence(["Hola"], ["INTJ"]),
    ]
    assert stats.skipped["multiword_token"] == 1
    assert stats.skipped["empty_node"] == 1
    assert stats.skipped["blank_line"] == 1
    assert stats.n_skipped_empty == 1  # the comment-only block
    assert stats.n_read == 2


def test_conllu_other_label_field_and_limit(tmp_path):
    p = write(tmp_path, "x.conllu", CONLLU)
    sents, stats = read_conllu(p, label_field="deprel", limit=1)
    assert sents == [TaggedSentence(["de", "el", "mundo"], ["case", "det", "root"])]
    assert stats.stopped_at_limit
    with pytest.raises(ValueError):
        read_conllu(p, label_field="feats")


def test_conllu_missing_label_names_line(tmp_path):
    p = write(tmp_path, "x.conllu", CONLLU)
    with pytest.raises(DataFormatError) as info:
        read_conllu(p, label_field="xpos")  # all xpos are "_"; first word is on line 6
    assert info.value.line == 6
    assert str(info.value).startswith(f"{p}:6:")


def test_conllu_wrong_column_count_names_line(tmp_path):
    text = CONLLU.replace("2\tel\tel\tDET\t_\t_\t3\tdet\t_\t_\n", "2\tel\tel\tDET\t_\t_\t3\tdet\n")
    p = write(tmp_path, "x.conllu", text)
    with pytest.raises(DataFormatError) as info:
        read_conllu(p)
    assert info.value.line == 7


def test_conllu_bad_id_names_line(tmp_path):
    text = CONLLU.replace("1\tHola", "x\tHola")
    with pytest.raises(DataFormatError) as info:
        read_conllu(write(tmp_path, "x.conllu", text))
    assert info.value.line == 13


# --------------------------------------------------------------------------- SIB-200
SIB = (
    "index_id\tcategory\ttext\n"  # 1
    '1\tsports\t"He said ""hi""."\n'  # 2 CSV-quoted
    '2\ttravel\t"Quoted" start, not CSV\n'  # 3 kept verbatim
    "3\thealth\tA\tB  \n"  # 4 tab inside the text
    "4\thealth\t   \n"  # 5 empty text
    '5\thealth\t""\n'  # 6 empty after unquoting
    "\n"  # 7 blank line
    '6\tsports\t"unbalanced start\n'  # 8 a csv parser would swallow the next line
    "7\tsports\tnext line\n"  # 9
)


def test_sib200_reads_unquotes_and_counts(tmp_path):
    examples, stats = read_sib200(write(tmp_path, "test.tsv", SIB))
    assert examples == [
        TextExample("1", 'He said "hi".', "sports"),
        TextExample("2", '"Quoted" start, not CSV', "travel"),
        TextExample("3", "A\tB", "health"),
        TextExample("6", '"unbalanced start', "sports"),
        TextExample("7", "next line", "sports"),
    ]
    assert stats.n_skipped_empty == 2
    assert stats.skipped["empty_text"] == 2
    assert stats.skipped["blank_line"] == 1
    assert stats.notes["unquoted_text"] == 2  # lines 2 and 6
    assert stats.n_read == 5


def test_sib200_unquote_off_and_crlf(tmp_path):
    p = write(tmp_path, "t.tsv", 'index_id\tcategory\ttext\r\n1\tsports\t"a ""b"""\r\n')
    assert read_sib200(p, unquote=False)[0] == [TextExample("1", '"a ""b"""', "sports")]
    assert read_sib200(p)[0] == [TextExample("1", 'a "b"', "sports")]


def test_sib200_limit(tmp_path):
    examples, stats = read_sib200(write(tmp_path, "test.tsv", SIB), limit=3)
    assert [e.id for e in examples] == ["1", "2", "3"]
    assert stats.stopped_at_limit


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("1\tsports\ttext\n", 1),  # no header
        ("", 1),  # empty file
        ("index_id\tcategory\ttext\n1\tsports\tok\n2\tsports\n", 3),  # 2 fields
        ("index_id\tcategory\ttext\n1\tsports\tok\n\ttravel\tno id\n", 3),
        ("index_id\tcategory\ttext\n1\t \tno category\n", 2),
    ],
)
def test_sib200_malformed(tmp_path, content, line):
    p = write(tmp_path, "test.tsv", content)
    with pytest.raises(DataFormatError) as info:
        read_sib200(p)
    assert info.value.line == line
    assert str(info.value).startswith(f"{p}:{line}:")


def test_stats_summary_mentions_counts(tmp_path):
    _, stats = read_sib200(write(tmp_path, "test.tsv", SIB))
    summary = stats.summary()
    assert summary.startswith("test.tsv: 5 read")
    assert "empty_text=2" in summary
