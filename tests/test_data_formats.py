"""The format registry of xlt.data.formats on tiny hand-written files; values worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlt.data.formats import (
    FORMATS,
    FileLanguageError,
    Format,
    ReadOptions,
    detect_format,
    eval_files_in_dir,
    language_from_filename,
    parse_hf_spec,
    read_examples,
    register_format,
)
from xlt.data.readers import DataFormatError, PairExample, TaggedSentence, TextExample


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return p


def jsonl(*rows: dict) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


# --------------------------------------------------------------------------- ReadOptions / registry
def test_read_options_normalise_and_validate():
    assert ReadOptions(text_column="review").text_column == ("review",)
    assert ReadOptions(text_column=["premise", "hypothesis"]).text_column == ("premise", "hypothesis")
    for bad in (
        dict(text_column=("a", "b", "c")),
        dict(text_column=("a", "a")),
        dict(text_column=("",)),
        dict(label_column=""),
        dict(text_column="x", label_column="x"),
        dict(tag_column="2"),
        dict(tag_column=0, token_column=0),
        dict(conllu_field="feats"),
        dict(split=" "),
    ):
        with pytest.raises(ValueError):
            ReadOptions(**bad)


def test_registry_has_the_formats_and_rejects_duplicates(tmp_path):
    assert list(FORMATS) == ["conllu", "conll", "xtreme", "sib200", "csv", "tsv", "jsonl", "hf-disk", "hf-hub"]
    with pytest.raises(ValueError, match="already registered"):
        register_format(Format("csv", FORMATS["csv"].reader, (".csv",), "again"))

    def read_upper(path, options, limit):
        return FORMATS["conll"].reader(path, options, limit)

    try:
        register_format(Format("upper", read_upper, (".upper",), "test format"))
        p = write(tmp_path, "x.upper", "a O\n")
        assert detect_format(p) == "upper"
        assert read_examples(p)[0] == [TaggedSentence(["a"], ["O"])]
    finally:
        del FORMATS["upper"]


# --------------------------------------------------------------------------- CoNLL
def test_conll_spaces_and_docstart(tmp_path):
    p = write(
        tmp_path, "train.conll",
        "-DOCSTART- -X- -X- O\n\n"
        "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
        "Peter NNP B-NP B-PER   \n\n"
        "-DOCSTART- -X- -X- O\n\n"
        "Blackburn NNP B-NP B-LOC\n",
    )
    sents, stats = read_examples(p)
    assert sents == [
        TaggedSentence(["EU", "rejects"], ["B-ORG", "O"]),
        TaggedSentence(["Peter"], ["B-PER"]),
        TaggedSentence(["Blackburn"], ["B-LOC"]),
    ]
    assert stats.skipped["docstart"] == 2
    assert stats.n_skipped_empty == 0  # the blank line after -DOCSTART- is not an empty sentence
    assert stats.n_read == 3 and stats.n_lines == 10


def test_conll_2003_tag_column_and_empty_sentences(tmp_path):
    p = write(tmp_path, "d.txt", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\nGerman JJ B-NP B-MISC\n")
    chunks, _ = read_examples(p, options=ReadOptions(tag_column=2))
    assert [s.labels for s in chunks] == [["B-NP", "B-VP"], ["B-NP"]]
    pos, stats = read_examples(p, options=ReadOptions(tag_column=1))
    assert pos == [TaggedSentence(["EU", "rejects"], ["NNP", "VBZ"]), TaggedSentence(["German"], ["JJ"])]
    assert stats.skipped["empty_sentence"] == 1
    ner, _ = read_examples(p)  # default: last column
    assert [s.labels for s in ner] == [["B-ORG", "O"], ["B-MISC"]]
    with pytest.raises(DataFormatError) as info:
        read_examples(p, options=ReadOptions(tag_column=4))
    assert info.value.line == 1 and "found 4 column(s)" in str(info.value)


def test_conll_tabs_keep_inner_spaces(tmp_path):
    p = write(tmp_path, "t.bio", "New York\tB-LOC\t\nis\tO\n\n10 000\tO\n")
    sents, _ = read_examples(p, format="conll")
    assert sents == [TaggedSentence(["New York", "is"], ["B-LOC", "O"]), TaggedSentence(["10 000"], ["O"])]


def test_conll_mixed_separators_name_the_line(tmp_path):
    p = write(tmp_path, "m.conll", "a\tO\nb\tO\n\nc O\n")
    with pytest.raises(DataFormatError) as info:
        read_examples(p)
    assert info.value.line == 4 and info.value.path == p
    assert "mixed separators" in str(info.value)
    assert "line 1 separated the columns with tabs" in str(info.value)
    assert "line 4 used spaces" in str(info.value)
    q = write(tmp_path, "m2.conll", "a O\nb\tO\n")
    with pytest.raises(DataFormatError, match="line 2 used tabs") as info:
        read_examples(q)
    assert info.value.line == 2


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("a O\nb\n", 2, "found 1 column"),  # fewer columns than needed
        ("a X O\nb O\n", 2, "line 1 had 3"),  # inconsistent column count
        ("a\t\tO\nb\t\tO\n", 1, None),  # with tag_column=1 the tag is empty
    ],
)
def test_conll_malformed_lines(tmp_path, content, line, what):
    p = write(tmp_path, "bad.conll", content)
    options = ReadOptions(tag_column=1) if what is None else ReadOptions()
    with pytest.raises(DataFormatError) as info:
        read_examples(p, options=options)
    assert info.value.line == line
    assert str(info.value).startswith(f"{p}:{line}:")
    if what:
        assert what in str(info.value)
    else:
        assert "empty tag" in str(info.value)


def test_conll_limit(tmp_path):
    p = write(tmp_path, "l.conll", "a O\n\nb O\n\n-DOCSTART- O\n\nc O\nd O\n\ne O\n")
    sents, stats = read_examples(p, limit=3)
    assert [s.tokens for s in sents] == [["a"], ["b"], ["c", "d"]]
    assert stats.stopped_at_limit and stats.skipped["docstart"] == 1
    assert read_examples(p, limit=0)[0] == []
    assert len(read_examples(p, limit=10)[0]) == 4


# --------------------------------------------------------------------------- CSV / TSV tables
def test_csv_quoted_fields_and_custom_columns(tmp_path):
    p = write(
        tmp_path, "reviews.csv",
        'rid,body,stars\n'
        'r1,"Good, cheap, ""fast""",5\n'
        'r2,"two\nlines",1\n'
        'r3,plain,0\n',
    )
    opts = ReadOptions(text_column=("body",), label_column="stars", id_column="rid")
    exs, stats = read_examples(p, options=opts)
    assert exs == [
        TextExample("r1", 'Good, cheap, "fast"', "5"),
        TextExample("r2", "two\nlines", "1"),
        TextExample("r3", "plain", "0"),
    ]
    assert stats.n_read == 3 and stats.n_lines == 5


def test_csv_default_columns_row_ids_and_empty_text(tmp_path):
    p = write(tmp_path, "t.csv", "text,label\nhello,pos\n  ,neg\n\nbye,neg\n")
    exs, stats = read_examples(p)
    # ids are the data-row numbers (header not counted, blank line not a row)
    assert exs == [TextExample("1", "hello", "pos"), TextExample("3", "bye", "neg")]
    assert stats.skipped["empty_text"] == 1 and stats.skipped["blank_line"] == 1


def test_csv_unknown_column_lists_columns(tmp_path):
    p = write(tmp_path, "t.csv", "sentence,category,source\nhi,a,web\n")
    with pytest.raises(DataFormatError) as info:
        read_examples(p, options=ReadOptions(label_column="label"))
    assert info.value.line == 1
    assert "no column 'label'" in str(info.value)
    assert "columns are: sentence, category, source" in str(info.value)
    # without options the defaults find sentence/category
    assert read_examples(p)[0] == [TextExample("1", "hi", "a")]
    q = write(tmp_path, "u.csv", "body,stars\nhi,1\n")
    with pytest.raises(DataFormatError, match="no text column.*columns are: body, stars"):
        read_examples(q)


def test_csv_empty_label_and_wrong_field_count_name_the_line(tmp_path):
    p = write(tmp_path, "t.csv", 'text,label\n"a,b",x\n"multi\nline",y\nc,\n')
    with pytest.raises(DataFormatError) as info:
        read_examples(p)
    assert info.value.line == 5 and "empty label in column 'label'" in str(info.value)
    q = write(tmp_path, "u.csv", "text,label\na,x\nb,y,z\n")
    with pytest.raises(DataFormatError) as info:
        read_examples(q)
    assert info.value.line == 3 and "3 fields, but the header row has 2" in str(info.value)


def test_csv_pair_classification(tmp_path):
    p = write(
        tmp_path, "xnli.csv",
        "premise,hypothesis,label\n"
        '"He came, he saw.",He came.,entailment\n'
        "It rains.,,neutral\n"
        "Sun.,Moon.,contradiction\n",
    )
    exs, stats = read_examples(p)
    assert exs == [
        PairExample("1", "He came, he saw.", "He came.", "entailment"),
        PairExample("3", "Sun.", "Moon.", "contradiction"),
    ]
    assert stats.skipped["empty_text"] == 1
    q = write(tmp_path, "paws.csv", "id,sentence1,sentence2,label\n7,A b.,B a.,1\n")
    assert read_examples(q)[0] == [PairExample("7", "A b.", "B a.", "1")]
    r = write(tmp_path, "qnli.csv", "question,sentence,label\nWho?,Me.,0\n")
    assert read_examples(r)[0] == [PairExample("1", "Who?", "Me.", "0")]
    s = write(tmp_path, "amb.csv", "text,premise,hypothesis,label\na,b,c,0\n")
    with pytest.raises(DataFormatError, match="both a text column 'text' and a text pair"):
        read_examples(s)
    # naming two columns always gives pairs
    assert read_examples(s, options=ReadOptions(text_column=("text", "premise")))[0] == [
        PairExample("1", "a", "b", "0")
    ]


def test_tsv_table(tmp_path):
    p = write(tmp_path, "t.tsv", 'text\tlabel\n"a\tb"\tx\nc d\ty\n')
    assert detect_format(p) == "tsv"
    assert read_examples(p)[0] == [TextExample("1", "a\tb", "x"), TextExample("2", "c d", "y")]


# --------------------------------------------------------------------------- JSON lines
def test_jsonl_text_pair_and_token_rows(tmp_path):
    p = write(tmp_path, "t.jsonl", jsonl({"text": "Great", "label": 1}, {"text": "Bad", "label": 0}) + "\n")
    exs, stats = read_examples(p)
    assert exs == [TextExample("1", "Great", "1"), TextExample("2", "Bad", "0")]
    assert stats.skipped["blank_line"] == 1

    q = write(
        tmp_path, "x.jsonl",
        jsonl({"guid": "g1", "sentence1": "A", "sentence2": "B", "label": "yes"},
              {"guid": "g2", "sentence1": "C", "sentence2": "D", "label": "no"}),
    )
    assert read_examples(q)[0] == [PairExample("g1", "A", "B", "yes"), PairExample("g2", "C", "D", "no")]

    r = write(
        tmp_path, "ner.jsonl",
        jsonl({"tokens": ["Anna", " ", "lives"], "ner_tags": ["B-PER", "O", "O"], "label": "x"},
              {"tokens": [], "ner_tags": []},
              {"tokens": ["Oslo"], "ner_tags": ["B-LOC"], "label": "y"}),
    )
    sents, stats = read_examples(r)
    assert sents == [TaggedSentence(["Anna", "lives"], ["B-PER", "O"]), TaggedSentence(["Oslo"], ["B-LOC"])]
    assert stats.skipped["blank_token"] == 1 and stats.skipped["empty_sentence"] == 1


def test_jsonl_errors_name_the_line(tmp_path):
    p = write(tmp_path, "t.jsonl", jsonl({"words": ["a", "b"], "tags": ["O"]}))
    with pytest.raises(DataFormatError, match="2 tokens in 'words' but 1 tags in 'tags'") as info:
        read_examples(p)
    assert info.value.line == 1
    q = write(tmp_path, "u.jsonl", jsonl({"text": "a", "label": "x"}) + "{broken\n")
    with pytest.raises(DataFormatError, match="not valid JSON") as info:
        read_examples(q)
    assert info.value.line == 2
    r = write(tmp_path, "v.jsonl", jsonl({"text": "a", "label": "x"}, {"text": "b"}))
    with pytest.raises(DataFormatError, match="no column 'label' in this record") as info:
        read_examples(r)
    assert info.value.line == 2
    s = write(tmp_path, "w.jsonl", jsonl({"review": "a", "stars": 1}))
    with pytest.raises(DataFormatError, match="no column 'rating'.*columns are: review, stars") as info:
        read_examples(s, options=ReadOptions(label_column="rating"))
    assert info.value.line == 1


def test_json_list_file(tmp_path):
    p = write(tmp_path, "t.json", '[\n {"text": "a", "label": "x"},\n {"text": "b", "label": ""}\n]\n')
    with pytest.raises(DataFormatError, match="empty label") as info:
        read_examples(p)
    assert info.value.line == 3
    q = write(tmp_path, "u.json", '[{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]')
    assert read_examples(q, limit=1)[0] == [TextExample("1", "a", "x")]


# --------------------------------------------------------------------------- Hugging Face datasets
@pytest.fixture(scope="module")
def hf_folders(tmp_path_factory):
    datasets = pytest.importorskip("datasets")
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    root = tmp_path_factory.mktemp("hf")
    topic = Features({"text": Value("string"), "label": ClassLabel(names=["sport", "politics"])})
    train = Dataset.from_dict({"text": ["Goal!", "Vote."], "label": [0, 1]}, features=topic)
    test = Dataset.from_dict({"text": ["Match", "  ", "Law"], "label": [0, 1, 1]}, features=topic)
    DatasetDict({"train": train, "test": test}).save_to_disk(str(root / "topics"))
    ner = Features({
        "tokens": Sequence(Value("string")),
        "ner_tags": Sequence(ClassLabel(names=["O", "B-PER", "I-PER"])),
        "langs": Sequence(Value("string")),
    })
    Dataset.from_dict(
        {"tokens": [["Ada", "Lovelace", "wrote"]], "ner_tags": [[1, 2, 0]], "langs": [["en"] * 3]}, features=ner
    ).save_to_disk(str(root / "de"))
    return datasets, root


def test_hf_disk_dataset_dict_split_and_class_labels(hf_folders):
    _, root = hf_folders
    folder = root / "topics"
    assert detect_format(folder) == "hf-disk"
    exs, stats = read_examples(folder, options=ReadOptions(split="test"))
    assert exs == [TextExample("1", "Match", "sport"), TextExample("3", "Law", "politics")]
    assert stats.skipped["empty_text"] == 1 and stats.n_read == 2
    assert read_examples(f"{folder}@train")[0] == [
        TextExample("1", "Goal!", "sport"), TextExample("2", "Vote.", "politics")
    ]
    assert detect_format(f"{folder}@train") == "hf-disk"
    with pytest.raises(ValueError, match="splits test, train|splits train, test"):
        read_examples(folder)
    with pytest.raises(ValueError, match="no split 'dev'"):
        read_examples(folder, options=ReadOptions(split="dev"))
    assert read_examples(folder, options=ReadOptions(split="test"), limit=1)[0] == [
        TextExample("1", "Match", "sport")
    ]


def test_hf_disk_sequence_class_labels(hf_folders):
    _, root = hf_folders
    sents, _ = read_examples(root / "de")
    assert sents == [TaggedSentence(["Ada", "Lovelace", "wrote"], ["B-PER", "I-PER", "O"])]


def test_hf_hub_spec_and_offline_error(hf_folders, monkeypatch):
    datasets, root = hf_folders
    assert parse_hf_spec("hf:xnli:de@test") == ("xnli", "de", "test")
    assert parse_hf_spec("hf:org/data") == ("org/data", None, None)
    with pytest.raises(ValueError):
        parse_hf_spec("hf:@test")
    assert detect_format("hf:xnli:de@test") == "hf-hub"
    with pytest.raises(ValueError, match="could not load .*offline"):
        read_examples("hf:no-such-org/no-such-data:cfg@test")

    calls = []

    def fake_load(name, config, split=None):
        calls.append((name, config, split))
        return datasets.load_from_disk(str(root / "topics"))[split]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    exs, _ = read_examples("hf:org/topics:cfg@train")
    assert calls == [("org/topics", "cfg", "train")]
    assert exs == [TextExample("1", "Goal!", "sport"), TextExample("2", "Vote.", "politics")]


# --------------------------------------------------------------------------- detection / read_examples
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.conllu", "conllu"), ("a.conll", "conll"), ("a.txt", "conll"), ("a.bio", "conll"),
        ("a.iob", "conll"), ("a.iob2", "conll"), ("a.bioes", "conll"), ("a.ner", "conll"),
        ("a.CSV", "csv"), ("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"), ("a.json", "jsonl"),
    ],
)
def test_detect_by_extension(tmp_path, name, expected):
    assert detect_format(write(tmp_path, name, "x\n")) == expected


def test_detect_tsv_cases(tmp_path):
    assert detect_format(write(tmp_path, "s.tsv", "index_id\tcategory\ttext\n1\tsport\tGoal\n")) == "sib200"
    assert detect_format(write(tmp_path, "t.tsv", "sentence\tlabel\nhi\t1\n")) == "tsv"
    custom = write(tmp_path, "c.tsv", "body\tstars\nhi\t1\n")
    assert detect_format(custom, ReadOptions(text_column=("body",), label_column="stars")) == "tsv"
    assert detect_format(write(tmp_path, "x.tsv", "The\tDET\ncat\tNOUN\n\nIt\tPRON\n")) == "xtreme"
    assert detect_format(write(tmp_path, "k.tsv", "EU\tNNP\tB-ORG\n\nx\tNN\tO\n")) == "conll"
    assert detect_format(write(tmp_path, "d.tsv", "-DOCSTART-\tO\n\nEU\tB-ORG\n")) == "conll"
    # ... and each is read by its reader
    assert read_examples(tmp_path / "x.tsv")[0][0] == TaggedSentence(["The", "cat"], ["DET", "NOUN"])
    assert read_examples(tmp_path / "s.tsv")[0] == [TextExample("1", "Goal", "sport")]
    assert read_examples(tmp_path / "d.tsv")[0] == [TaggedSentence(["EU"], ["B-ORG"])]


def test_detect_and_read_errors(tmp_path):
    with pytest.raises(ValueError, match="pass --format with one of: conllu, conll, xtreme"):
        detect_format(write(tmp_path, "a.xlsx", "x"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        detect_format(tmp_path / "plain")
    with pytest.raises(ValueError, match="is a folder; format csv reads a file"):
        read_examples(tmp_path / "plain", format="csv")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_examples(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        read_examples(write(tmp_path, "a.csv", "text,label\n"), format="xml")
    with pytest.raises(ValueError):
        read_examples(tmp_path / "a.csv", limit=-1)
    # a file without examples is not an error here
    exs, stats = read_examples(tmp_path / "a.csv")
    assert exs == [] and stats.n_read == 0


def test_conllu_wrapper_uses_conllu_field(tmp_path):
    line = "1\tHunde\tHund\tNOUN\tNN\t_\t0\troot\t_\t_\n"
    p = write(tmp_path, "de.conllu", "# text = Hunde\n" + line + "\n")
    assert read_examples(p)[0] == [TaggedSentence(["Hunde"], ["NOUN"])]
    assert read_examples(p, options=ReadOptions(conllu_field="lemma"))[0] == [TaggedSentence(["Hunde"], ["Hund"])]


# --------------------------------------------------------------------------- languages of files
@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("test-de.tsv", "de"),
        ("dev-deu_Latn.conll", "deu_Latn"),
        ("de.csv", "de"),
        ("xnli.fr.test.jsonl", "fr"),
        ("sw_test.csv", "sw"),
        ("ner-test-sw.conll", "sw"),
        ("test-pt-BR.tsv", "pt-BR"),
        ("wikiann-tur-v2.jsonl", "tur"),
    ],
)
def test_language_from_filename(name, code):
    assert language_from_filename(name) == code


@pytest.mark.parametrize("name", ["test.tsv", "data.csv", "set.jsonl", "ner-pos.conll", "en-de.tsv", "per-cat.csv"])
def test_language_from_filename_fails(name):
    with pytest.raises(FileLanguageError) as info:
        language_from_filename(name)
    assert isinstance(info.value, ValueError)
    assert name in str(info.value) and "--eval LANG=" in str(info.value)
    assert info.value.candidates == (("en", "de") if name == "en-de.tsv" else ())


def test_eval_files_in_dir(tmp_path):
    d = tmp_path / "eval"
    write(d, "test-de.conll", "a O\n")
    write(d, "test-sw.conll", "a O\n")
    write(d, "README.md", "about\n")
    write(d, "labels.txt", "O\n")
    write(d, "notes.pdf", "x")
    write(d, ".hidden.conll", "a O\n")
    found = eval_files_in_dir(d)
    assert dict(found) == {"de": d / "test-de.conll", "sw": d / "test-sw.conll"}
    assert list(found) == ["de", "sw"]
    assert found.skipped == ["README.md", "labels.txt", "notes.pdf"]
    # with a format, only its extensions count
    assert dict(eval_files_in_dir(d, format="csv")) == {}

    write(d, "dev-deu_Latn.conll", "a O\n")
    with pytest.raises(FileLanguageError) as info:
        eval_files_in_dir(d)
    assert "dev-deu_Latn.conll (deu_Latn) and" in str(info.value) and "test-de.conll (de)" in str(info.value)

    write(d, "data.conll", "a O\n")
    (d / "dev-deu_Latn.conll").unlink()
    with pytest.raises(FileLanguageError, match="data.conll"):
        eval_files_in_dir(d)


def test_eval_files_in_dir_sib200_layout(tmp_path):
    d = tmp_path / "sib"
    header = "index_id\tcategory\ttext\n"
    for lang in ("deu_Latn", "zho_Hans", "zho_Hant"):
        write(d / lang, "train.tsv", header)
        write(d / lang, "test.tsv", header + "1\tsport\tx\n")
    (d / "empty").mkdir()
    found = eval_files_in_dir(d)
    assert dict(found) == {
        "deu_Latn": d / "deu_Latn" / "test.tsv",
        "zho_Hans": d / "zho_Hans" / "test.tsv",
        "zho_Hant": d / "zho_Hant" / "test.tsv",
    }
    assert found.skipped == ["empty/"]
    assert read_examples(found["zho_Hant"])[0] == [TextExample("1", "x", "sport")]
    write(d / "de", "test.tsv", header)
    with pytest.raises(FileLanguageError, match="same language"):
        eval_files_in_dir(d)


@pytest.mark.parametrize("name, lang", [
    ("pcm.tsv", "pcm"),                 # Nigerian Pidgin: ISO 639-3 only, no two-letter code
    ("fon-test.conll", "fon"),
    ("pcm/test.txt", "pcm"),            # MasakhaNER layout: the language is the folder
    ("swa/dev.conll", "swa"),
    ("es_ancora-ud-test.conllu", "es"),  # UD file names: treebank words are not codes
    ("en-pcm.tsv", "en"),               # a two-letter code beats a three-letter-only one
])
def test_language_from_filename_three_letter_codes_and_folders(name, lang):
    assert language_from_filename(name) == lang


@pytest.mark.parametrize("name", ["ner-test.conll", "new-set.csv", "raw/test.txt", "pcm-fon.tsv"])
def test_language_from_filename_file_words_are_not_languages(name):
    with pytest.raises(FileLanguageError):
        language_from_filename(name)
