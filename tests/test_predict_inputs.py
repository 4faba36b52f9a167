"""``xlt predict``'s inputs (xlt.data.formats.inputs) and its job (xlt.jobs.predict) through the Python API."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from fixtures import sib_examples

from xlt.cli import main
from xlt.data.formats import conll_words, input_format, read_inputs
from xlt.data.kinds import PAIR, SEQUENCE, TOKEN
from xlt.data.readers import DataFormatError, TextExample
from xlt.jobs import ConfigError
from xlt.jobs.predict import PredictSettings, format_rows, run

CONLLU = ("# sent_id = 1\n1\tthe\tthe\tDET\t_\t_\t2\tdet\t_\t_\n1-2\tdogs\t_\t_\t_\t_\t_\t_\t_\t_\n"
          "2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n2.1\tx\t_\t_\t_\t_\t_\t_\t_\t_\n\n"
          "1\tAnna\tAnna\tPROPN\t_\t_\t0\troot\t_\t_\n")


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_conll_words_reads_the_word_column_only():
    assert conll_words(CONLLU.splitlines()) == [["the", "dog"], ["Anna"]]
    lines = ["-DOCSTART- -X- -X- O", "", "EU NNP B-NP B-ORG", "rejects VBZ B-VP O", "", "", "Anna\tB-PER"]
    assert conll_words(lines) == [["EU", "rejects"], ["Anna"]]
    assert conll_words([]) == []


def test_input_format_by_extension():
    assert [input_format(p) for p in ("a.jsonl", "a.NDJSON", "a.conllu", "a.tsv", "a.csv", "a.txt", "-")] == \
        ["jsonl", "jsonl", "conll", "conll", "csv", "text", "text"]
    assert input_format("a.csv", "tsv") == "tsv"


def test_read_inputs_line_formats_keep_empty_lines(tmp_path):
    txt = write(tmp_path, "in.txt", "the big house\n\nAnna lives\n")
    got = read_inputs(txt, "auto", TOKEN)
    assert (got.items, got.extra, got.format, got.unit) == (["the big house", None, "Anna lives"], None, "text", "line")
    assert read_inputs(txt, "tokens", TOKEN).items == [["the", "big", "house"], None, ["Anna", "lives"]]
    pairs = write(tmp_path, "pairs.txt", "a b\tc\n\n")
    assert read_inputs(pairs, "text", PAIR).items == [("a b", "c"), None]
    with pytest.raises(DataFormatError, match=r"in.txt:1: a pair model needs 'text<TAB>text_pair' lines"):
        read_inputs(txt, "text", PAIR)
    conll = write(tmp_path, "x.conllu", CONLLU)
    assert read_inputs(conll, "auto", TOKEN).unit == "sentence"
    with pytest.raises(DataFormatError, match="CoNLL input holds words, but the model is a sequence classifier"):
        read_inputs(conll, "auto", SEQUENCE)
    with pytest.raises(DataFormatError, match="is a folder"):
        read_inputs(tmp_path, "text", TOKEN)


def test_read_inputs_jsonl_and_tables(tmp_path):
    js = write(tmp_path, "in.jsonl", '{"tokens": ["Anna", 7]}\n\n{"text": "a dog"}\n')
    assert read_inputs(js, "auto", TOKEN).items == [["Anna", "7"], None, "a dog"]
    with pytest.raises(DataFormatError, match="in.jsonl:1: expected a 'text' string$"):
        read_inputs(js, "auto", SEQUENCE)
    bad = write(tmp_path, "bad.jsonl", '{"text": "x"}\nnot json\n')
    with pytest.raises(DataFormatError, match="bad.jsonl:2: not JSON"):
        read_inputs(bad, "auto", SEQUENCE)
    csv = write(tmp_path, "in.csv", 'id,premise,hypothesis\n1,"a, b",c\n2,,\n')
    got = read_inputs(csv, "auto", PAIR)
    assert got.items == [("a, b", "c"), None] and got.extra == [{"id": "1"}, {"id": "2"}] and got.unit == "row"
    with pytest.raises(DataFormatError, match="needs 1 text column"):
        read_inputs(csv, "auto", SEQUENCE)
    assert read_inputs(csv, "auto", SEQUENCE, ["premise"]).items == ["a, b", None]
    tsv = write(tmp_path, "t.tab", "sentence\tgold\nhello there\tx\n")
    assert read_inputs(tsv, "tsv", SEQUENCE).items == ["hello there"]


def test_predict_settings_checks():
    with pytest.raises(ConfigError, match="required: --model, --input"):
        PredictSettings()
    with pytest.raises(ConfigError, match="--text-column is for csv/tsv input"):
        PredictSettings(model=["m"], input="in.txt", text_column="review")
    with pytest.raises(ConfigError, match="--batch 0: expected a whole number >= 1"):
        PredictSettings(model=["m"], input="in.txt", batch=0)
    s = PredictSettings(model=["m"], input="in.csv", text_column="premise,hypothesis", decoding="argmax")
    assert s.text_column == ["premise", "hypothesis"] and s.out is None and s.format == "jsonl"
    with pytest.raises(ConfigError, match="--decoding viterbi: expected one of bio, argmax"):
        PredictSettings(model=["m"], input="in.txt", decoding="viterbi")


@pytest.mark.usefixtures("single_torch_thread")
def test_python_api_gives_the_command_lines_output(tiny, tmp_path, capsys):
    import xlt

    _, spec = tiny
    rng = random.Random(6)
    train = [TextExample(i, t, l) for i, l, t in sib_examples(40, rng, 0)]
    ds = xlt.from_examples(train, {"de": train[:5]})
    xlt.zero_shot_transfer(ds, model=spec, epochs=3, progress=False, save=str(tmp_path / "m"))
    src = write(tmp_path, "in.csv", 'id,text\n1,"happy cats, a dog ."\n2,\n')
    result = run(PredictSettings(model=[str(tmp_path / "m")], input=str(src), progress=False))
    assert result.kind == "sequence" and (result.n_inputs, result.n_empty, result.n_words) == (1, 1, None)
    assert result.rows[0]["id"] == "1" and result.rows[0]["label"] in ds.labels and result.rows[1]["label"] is None
    assert result.out is None and not (tmp_path / "out.jsonl").exists()
    assert main(["predict", "--model", str(tmp_path / "m"), "--input", str(src), "--out", str(tmp_path / "out.jsonl"),
                 "--no-progress"]) == 0
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == result.text
    assert [json.loads(line) for line in result.text.splitlines()] == result.rows
    assert format_rows(result.rows, "conll", SEQUENCE).splitlines()[1] == "\t"
    assert "xlt predict: 1 inputs with" in capsys.readouterr().err
