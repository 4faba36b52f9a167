"""Tests for xlt.data.dataset: label order, label maps, TaskDataset built from examples, files and
the built-in tasks.

Every expected value is worked out by hand from the small inputs written in each test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xlt.data.dataset import (
    DatasetError,
    Split,
    TaskDataset,
    from_examples,
    from_files,
    hold_out_dev,
    is_bio,
    label_mapper,
    load_task,
    order_labels,
    parse_eval_args,
    parse_label_map,
)
from xlt.data.formats import FileLanguageError, ReadOptions
from xlt.data.kinds import PAIR, SEQUENCE, TOKEN
from xlt.data.readers import DataFormatError, PairExample, TaggedSentence, TextExample

T = TaggedSentence

LABEL_MAP_BUG = (
    "dataset.py from_examples checks the label map (_check_map_used) on the splits AFTER the map was "
    "applied, so a map that renames a label (DATE=O, DATE=MISC) always raises 'no label or entity type'"
)
MIXED_KINDS_BUG = (
    "dataset.py from_examples collects training labels with kind.labels_of() before TaskDataset checks "
    "the example types, so mixed training kinds raise AttributeError instead of TypeError"
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ====================================================================== order_labels / is_bio
def test_order_labels_bio_groups_by_type():
    labels = {"I-PER", "B-ORG", "O", "B-PER", "I-DATE", "I-ORG", "B-DATE"}
    assert order_labels(labels) == ["O", "B-DATE", "I-DATE", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def test_order_labels_bioes_prefixes_in_b_i_e_s_order():
    labels = ["S-LOC", "E-LOC", "O", "I-LOC", "B-LOC", "S-AGE"]
    assert order_labels(labels) == ["O", "S-AGE", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]


def test_order_labels_bio_without_o():
    assert order_labels(["I-X", "B-X"]) == ["B-X", "I-X"]


def test_order_labels_numbers_numerically_and_words_sorted():
    assert order_labels(["10", "2", "1"]) == ["1", "2", "10"]
    assert order_labels(["-1", "3", "0"]) == ["-1", "0", "3"]
    assert order_labels(["VERB", "ADJ", "NOUN"]) == ["ADJ", "NOUN", "VERB"]
    # numbers first, then the rest alphabetically
    assert order_labels(["neg", "10", "2", "pos"]) == ["2", "10", "neg", "pos"]
    # duplicates collapse
    assert order_labels(["b", "a", "b"]) == ["a", "b"]


@pytest.mark.parametrize(
    "labels, expected",
    [
        (["O", "B-PER", "I-PER"], True),
        (["B-PER", "I-PER"], True),
        (["O", "S-LOC", "E-LOC"], True),
        (["O"], False),  # no entity tag at all
        ([], False),
        (["NOUN", "VERB"], False),
        (["O", "B-PER", "NOUN"], False),  # one non-BIO label is enough
        (["O", "B-"], False),  # a prefix without a type
        (["O", "X-PER"], False),
        (["positive", "negative"], False),
    ],
)
def test_is_bio(labels, expected):
    assert is_bio(labels) is expected


# ========================================================================= parse_label_map
def test_parse_label_map_forms():
    assert parse_label_map("DATE=O") == {"DATE": "O"}
    assert parse_label_map("A=B,C=D") == {"A": "B", "C": "D"}
    assert parse_label_map(["DATE=O", "B-MISC=B-ORG"]) == {"DATE": "O", "B-MISC": "B-ORG"}
    assert parse_label_map(["A=B,C=D", "E=F"]) == {"A": "B", "C": "D", "E": "F"}
    assert parse_label_map({"DATE": "O"}) == {"DATE": "O"}
    assert parse_label_map(" DATE = O , ") == {"DATE": "O"}  # spaces and a trailing comma
    assert parse_label_map(None) == {}
    assert parse_label_map([]) == {}


@pytest.mark.parametrize("bad", ["DATE", "=O", "DATE=", ["A=B", "C"], {"": "O"}, {"DATE": ""}])
def test_parse_label_map_errors(bad):
    with pytest.raises(DatasetError):
        parse_label_map(bad)


def test_parse_label_map_error_names_the_item():
    with pytest.raises(DatasetError, match="'DATE'"):
        parse_label_map("DATE")


# ============================================================================ label_mapper
def test_label_mapper_type_to_o():
    f = label_mapper({"DATE": "O"})
    assert [f(l) for l in ["B-DATE", "I-DATE", "E-DATE", "S-DATE"]] == ["O", "O", "O", "O"]


def test_label_mapper_type_to_type_keeps_prefix():
    f = label_mapper({"DATE": "MISC"})
    assert f("B-DATE") == "B-MISC"
    assert f("I-DATE") == "I-MISC"


def test_label_mapper_whole_label_beats_type():
    f = label_mapper({"DATE": "O", "B-DATE": "B-TIME"})
    assert f("B-DATE") == "B-TIME"
    assert f("I-DATE") == "O"


def test_label_mapper_unrelated_labels_unchanged():
    f = label_mapper({"DATE": "O", "NOUN": "PROPN"})
    assert f("B-PER") == "B-PER"
    assert f("O") == "O"
    assert f("B-DATES") == "B-DATES"  # the type must match exactly
    assert f("NOUN") == "PROPN"  # a whole label of a non-BIO set
    assert f("VERB") == "VERB"


# ============================================================================ hold_out_dev
def _numbered(n: int) -> list[TaggedSentence]:
    return [T([f"w{i}"], ["O" if i % 2 else "B-PER"]) for i in range(n)]


def test_hold_out_dev_sizes():
    for n, fraction, k in [(20, 0.1, 2), (20, 0.05, 1), (20, 0.01, 1), (10, 0.5, 5), (2, 0.1, 1)]:
        rest, dev = hold_out_dev(Split("en", _numbered(n)), fraction, seed=0)
        assert (len(rest), len(dev)) == (n - k, k), (n, fraction)
    rest, dev = hold_out_dev(Split("en", _numbered(30)), 0.5, seed=0, max_examples=4)
    assert (len(rest), len(dev)) == (26, 4)


def test_hold_out_dev_errors():
    with pytest.raises(DatasetError):
        hold_out_dev(Split("en", _numbered(1)), 0.1)
    for fraction in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(DatasetError):
            hold_out_dev(Split("en", _numbered(10)), fraction)


# ============================================================================ from_examples
def test_from_examples_labels_from_train_in_bio_order():
    train = [T(["a", "b"], ["B-PER", "O"]), T(["c", "d", "e"], ["B-ORG", "I-ORG", "I-ORG"])]
    dev = [T(["a"], ["B-PER"])]
    ds = from_examples(train, {"de": [T(["x"], ["O"])]}, dev=dev)
    assert ds.labels == ["O", "B-ORG", "I-ORG", "B-PER"]
    assert ds.kind is TOKEN and ds.metric == "f1" and ds.source == "en"
    assert list(ds.eval) == ["de"] and ds.targets == ["de"]
    assert ds.train.examples == train and ds.dev.examples == dev
    assert ds.unseen_labels() == {}


def test_from_examples_holds_out_dev_seeded_and_disjoint():
    train = _numbered(20)
    ds = from_examples(train, dev_fraction=0.1, seed=3)
    assert len(ds.dev) == 2 and len(ds.train) == 18
    dev_tokens = [e.tokens[0] for e in ds.dev.examples]
    train_tokens = [e.tokens[0] for e in ds.train.examples]
    assert not set(dev_tokens) & set(train_tokens)
    assert sorted(dev_tokens + train_tokens, key=lambda w: int(w[1:])) == [f"w{i}" for i in range(20)]
    # the rest keeps the file order
    assert train_tokens == sorted(train_tokens, key=lambda w: int(w[1:]))
    assert ds.dev.lang == ds.train.lang == "en"
    assert "held out" in ds.dev.note
    # deterministic for a seed ...
    again = from_examples(_numbered(20), dev_fraction=0.1, seed=3)
    assert [e.tokens[0] for e in again.dev.examples] == dev_tokens
    # ... and the seed matters (190 possible pairs; 6 seeds giving one and the same pair would be a bug)
    picks = {tuple(e.tokens[0] for e in from_examples(_numbered(20), seed=s).dev.examples) for s in range(6)}
    assert len(picks) > 1


def _ner_train():
    return [T(["Anna", "lives", "here"], ["B-PER", "O", "O"]), T(["Bob", "Smith", "ran"], ["B-PER", "I-PER", "O"])]


def _dated_eval():
    # 2 B-DATE words and 3 I-DATE words in German, 1 B-MISC in Swahili, French clean
    return {
        "de": [T(["am", "1.", "Mai", "2020", "kam", "Anna"], ["O", "B-DATE", "I-DATE", "I-DATE", "O", "B-PER"]),
               T(["heute", "morgen"], ["B-DATE", "I-DATE"])],
        "fr": [T(["Anna", "vient"], ["B-PER", "O"])],
        "sw": [T(["Kiswahili", "ni"], ["B-MISC", "O"])],
    }


def test_from_examples_counts_unseen_eval_labels_per_language():
    ds = from_examples(_ner_train(), _dated_eval(), dev=[T(["Anna"], ["B-PER"])])
    assert ds.labels == ["O", "B-PER", "I-PER"]
    assert ds.eval["de"].unseen == {"B-DATE": 2, "I-DATE": 3}
    assert ds.eval["sw"].unseen == {"B-MISC": 1}
    assert not ds.eval["fr"].unseen
    assert ds.unseen_labels() == {"de": {"B-DATE": 2, "I-DATE": 3}, "sw": {"B-MISC": 1}}
    assert list(ds.unseen_labels()) == ["de", "sw"]  # in evaluation order, clean languages left out
    described = ds.describe()
    assert described["eval"]["de"]["unseen_labels"] == {"B-DATE": 2, "I-DATE": 3}
    assert described["eval"]["de"]["sentences"] == 2 and described["eval"]["de"]["tokens"] == 8
    assert "unseen_labels" not in described["eval"]["fr"]


def test_from_examples_unseen_dev_labels_come_first():
    dev = [T(["Paris"], ["B-LOC"]), T(["Lyon", "Nord"], ["B-LOC", "I-LOC"])]
    ds = from_examples(_ner_train(), {"fr": [T(["x"], ["B-ORG"])]}, dev=dev)
    assert ds.dev.unseen == {"B-LOC": 2, "I-LOC": 1}
    assert list(ds.unseen_labels().items()) == [("dev", {"B-LOC": 2, "I-LOC": 1}), ("fr", {"B-ORG": 1})]



def test_from_examples_label_map_applies_to_every_split():
    train = _ner_train() + [T(["May", "1"], ["B-DATE", "I-DATE"])]
    dev = [T(["June"], ["B-DATE"])]
    ds = from_examples(train, _dated_eval(), dev=dev, label_map="DATE=O")
    assert ds.label_map == {"DATE": "O"}
    assert ds.labels == ["O", "B-PER", "I-PER"]
    assert ds.unseen_labels() == {"sw": {"B-MISC": 1}}
    assert ds.train.examples[2].labels == ["O", "O"]
    assert ds.dev.examples[0].labels == ["O"]
    assert ds.eval["de"].examples[0].labels == ["O", "O", "O", "O", "O", "B-PER"]
    assert ds.eval["de"].examples[1].labels == ["O", "O"]



def test_from_examples_label_map_to_another_type():
    ds = from_examples(_ner_train(), _dated_eval(), dev=[T(["Anna"], ["B-PER"])], label_map=["DATE=PER", "MISC=O"])
    # the dates become persons (known), so nothing is unseen any more
    assert ds.unseen_labels() == {}
    assert ds.eval["de"].examples[0].labels == ["O", "B-PER", "I-PER", "I-PER", "O", "B-PER"]
    assert ds.eval["sw"].examples[0].labels == ["O", "O"]


def test_from_examples_label_map_naming_nothing_raises():
    with pytest.raises(DatasetError, match="'TIME'"):
        from_examples(_ner_train(), _dated_eval(), dev=[T(["Anna"], ["B-PER"])], label_map="TIME=O")


def test_from_examples_fixed_inventory():
    fixed = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    ds = from_examples(_ner_train(), dev=[T(["Anna"], ["B-PER"])], labels=fixed)
    assert ds.labels == fixed  # kept as given, even labels training never uses
    with pytest.raises(DatasetError, match="B-ORG"):
        from_examples(_ner_train() + [T(["UN"], ["B-ORG"])], dev=[T(["Anna"], ["B-PER"])], labels=fixed)


def test_from_examples_mixed_kinds_in_eval_raise_type_error():
    with pytest.raises(TypeError):
        from_examples(_ner_train(), {"de": [TextExample("1", "ein Text", "pos")]}, dev=[T(["a"], ["O"])])



def test_from_examples_mixed_kinds_in_train_raise_type_error():
    train = _ner_train() + [TextExample("1", "a text", "pos")]
    with pytest.raises(TypeError):
        from_examples(train, dev=[T(["a"], ["O"])])


def test_from_examples_no_training_examples():
    with pytest.raises(DatasetError):
        from_examples([], {"de": [T(["a"], ["O"])]})


@pytest.mark.parametrize(
    "train, kind, metric",
    [
        (_ner_train(), TOKEN, "f1"),
        ([T(["the", "cat"], ["DET", "NOUN"]), T(["it", "ran"], ["PRON", "VERB"])], TOKEN, "accuracy"),
        ([TextExample("1", "good", "pos"), TextExample("2", "bad", "neg")], SEQUENCE, "accuracy"),
        ([PairExample("1", "A man runs.", "A person moves.", "entailment"),
          PairExample("2", "A man runs.", "Nobody moves.", "contradiction")], PAIR, "accuracy"),
    ],
)
def test_from_examples_kind_and_default_metric(train, kind, metric):
    ds = from_examples(train, dev=train[:1])
    assert ds.kind is kind
    assert ds.metric == metric


def test_from_examples_pair_labels_and_explicit_metric():
    train = [PairExample("1", "A", "B", "entailment"), PairExample("2", "A", "C", "contradiction"),
             PairExample("3", "A", "D", "neutral")]
    ds = from_examples(train, {"de": [PairExample("1", "x", "y", "neutral")]}, dev=train[:1], source="en")
    assert ds.kind is PAIR
    assert ds.labels == ["contradiction", "entailment", "neutral"]
    # f1 is span F1 over BIO tags of a token task: for a pair task it could only fail after training
    with pytest.raises(DatasetError, match="--metric accuracy"):
        from_examples(train, dev=train[:1], metric="f1")
    assert from_examples(train, dev=train[:1], metric="accuracy").metric == "accuracy"
    with pytest.raises(DatasetError):
        from_examples(train, dev=train[:1], metric="bleu")


# ==================================================================== parse_eval_args
def test_parse_eval_args(tmp_path):
    odd = write(tmp_path / "a=b.tsv", "x\n")
    got = parse_eval_args(["de=test.conll", "test-fr.conll", str(odd), f"{tmp_path}/x=y.conll"])
    assert got == [("de", Path("test.conll")), (None, Path("test-fr.conll")), (None, odd),
                   (None, Path(f"{tmp_path}/x=y.conll"))]


# ============================================================================== from_files
CONLL_TRAIN = """-DOCSTART- -X- -X- O

Anna NNP B-NP B-PER
lives VBZ B-VP O
in IN B-PP O
Berlin NNP B-NP B-LOC

Bob NNP B-NP B-PER
Smith NNP I-NP I-PER
works VBZ B-VP O
for IN B-PP O
Acme NNP B-NP B-ORG
Corp NNP I-NP I-ORG
. . O O

-DOCSTART- -X- -X- O

Eve NNP B-NP B-PER
sleeps VBZ B-VP O
"""

CONLL_DE = """Anna NNP B-NP B-PER
wohnt VBZ B-VP O
in IN B-PP O
Berlin NNP B-NP B-LOC

seit IN B-PP O
Mai NNP B-NP B-DATE
2020 CD I-NP I-DATE
"""

CONLL_SW = """Anna NNP B-NP B-PER
anaishi VBZ B-VP O
Nairobi NNP B-NP B-LOC
"""


def test_from_files_conll_with_lang_equals_file(tmp_path):
    train = write(tmp_path / "ner-train.conll", CONLL_TRAIN)
    de = write(tmp_path / "german.conll", CONLL_DE)
    # 3 sentences (two -DOCSTART- lines skipped); int(0.34 * 3) = 1 held out
    held = from_files(train, [f"de={de}"], dev_fraction=0.34, seed=0)
    assert len(held.train) == 2 and len(held.dev) == 1
    assert sorted(s.tokens[0] for s in held.train.examples + held.dev.examples) == ["Anna", "Bob", "Eve"]

    ds = from_files(train, [f"de={de}"], dev=train)
    assert ds.name == "ner-train"
    assert ds.kind is TOKEN and ds.metric == "f1"
    assert [s.tokens for s in ds.train.examples] == [
        ["Anna", "lives", "in", "Berlin"],
        ["Bob", "Smith", "works", "for", "Acme", "Corp", "."],
        ["Eve", "sleeps"],
    ]
    # the tag is the last column
    assert ds.train.examples[1].labels == ["B-PER", "I-PER", "O", "O", "B-ORG", "I-ORG", "O"]
    assert ds.train.stats.skipped["docstart"] == 2
    assert ds.labels == ["O", "B-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert list(ds.eval) == ["de"] and ds.source == "en"
    assert ds.eval["de"].path == de
    assert [s.tokens for s in ds.eval["de"].examples] == [["Anna", "wohnt", "in", "Berlin"],
                                                          ["seit", "Mai", "2020"]]
    assert ds.eval["de"].unseen == {"B-DATE": 1, "I-DATE": 1}
    assert ds.files() == [train, de]  # train and dev are one file
    assert ds.origin["eval"] == {"de": str(de)}


def test_from_files_eval_folder_languages_from_names(tmp_path):
    train = write(tmp_path / "train.conll", CONLL_TRAIN)
    folder = tmp_path / "eval"
    write(folder / "test-sw.conll", CONLL_SW)
    write(folder / "test-de.conll", CONLL_DE)
    write(folder / "README.md", "about these files\n")
    ds = from_files(train, [str(folder)], dev=train)
    assert list(ds.eval) == ["de", "sw"]  # in name order
    assert ds.eval["de"].path == folder / "test-de.conll"
    assert ds.eval["sw"].path == folder / "test-sw.conll"
    assert len(ds.eval["sw"]) == 1 and ds.eval["sw"].examples[0].labels == ["B-PER", "O", "B-LOC"]
    assert ds.unseen_labels() == {"de": {"B-DATE": 1, "I-DATE": 1}}
    assert ds.labels == ["O", "B-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert len(ds.train) == 3 and len(ds.dev) == 3 and ds.dev.note is None


def test_from_files_source_code_spelled_as_in_eval_files(tmp_path):
    train = write(tmp_path / "train.conll", CONLL_TRAIN)
    folder = tmp_path / "eval"
    write(folder / "test-eng.conll", CONLL_SW)
    write(folder / "test-deu.conll", CONLL_DE)
    ds = from_files(train, [str(folder)], dev=train, source="en")
    assert list(ds.eval) == ["deu", "eng"]
    assert ds.source == "eng"
    assert ds.targets == ["deu"]
    ds = from_files(train, {"en_Latn": folder / "test-eng.conll"}, dev=train, source="eng")
    assert ds.source == "en_Latn"


def test_from_files_csv_with_quoted_commas_and_custom_columns(tmp_path):
    train = write(tmp_path / "reviews-en.csv",
                  'id,review,stars\n'
                  '1,"Great film, really great",5\n'
                  '2,"Bad, boring, long",1\n'
                  '3,"He said ""fine"", I agree",3\n'
                  '4,Fine,3\n')
    dev = write(tmp_path / "dev.csv", 'id,review,stars\n7,"ok, ok",3\n')
    de = write(tmp_path / "de.csv", 'id,review,stars\n10,"Toll, wirklich",5\n11,Schlecht,1\n12,"Na ja",2\n')
    opts = ReadOptions(text_column=("review",), label_column="stars")
    ds = from_files(train, [f"de={de}"], dev=dev, options=opts)
    assert ds.kind is SEQUENCE and ds.metric == "accuracy"
    assert ds.labels == ["1", "3", "5"]
    assert [(e.id, e.text, e.label) for e in ds.train.examples] == [
        ("1", "Great film, really great", "5"),
        ("2", "Bad, boring, long", "1"),
        ("3", 'He said "fine", I agree', "3"),
        ("4", "Fine", "3"),
    ]
    assert [e.text for e in ds.eval["de"].examples] == ["Toll, wirklich", "Schlecht", "Na ja"]
    assert ds.unseen_labels() == {"de": {"2": 1}}  # one example, counted once
    assert ds.describe()["eval"]["de"]["tokens"] is None
    assert ds.origin["options"]["label_column"] == "stars"


def test_from_files_csv_unknown_column_lists_columns(tmp_path):
    train = write(tmp_path / "train.csv", "id,review,stars\n1,good,5\n2,bad,1\n")
    with pytest.raises(DataFormatError) as info:
        from_files(train, [f"de={train}"], options=ReadOptions(text_column=("text",), label_column="stars"))
    assert info.value.path == train and info.value.line == 1
    assert "id, review, stars" in str(info.value)


def test_from_files_jsonl_pairs(tmp_path):
    rows = [
        '{"premise": "A man plays.", "hypothesis": "A person plays.", "label": "entailment"}',
        '{"premise": "A man plays.", "hypothesis": "Nobody plays.", "label": "contradiction"}',
        '{"premise": "A man plays.", "hypothesis": "He is happy.", "label": "neutral"}',
    ]
    train = write(tmp_path / "xnli-train.jsonl", "\n".join(rows) + "\n")
    fr = write(tmp_path / "xnli.fr.test.jsonl",
               '{"premise": "Un homme joue.", "hypothesis": "Personne ne joue.", "label": "contradiction"}\n')
    ds = from_files(train, [str(fr)], dev=train)
    assert ds.kind is PAIR and ds.metric == "accuracy"
    assert ds.labels == ["contradiction", "entailment", "neutral"]
    assert list(ds.eval) == ["fr"]
    (ex,) = ds.eval["fr"].examples
    assert (ex.id, ex.text, ex.text_pair, ex.label) == ("1", "Un homme joue.", "Personne ne joue.", "contradiction")
    assert ds.train.examples[1] == PairExample("2", "A man plays.", "Nobody plays.", "contradiction")
    assert ds.name == "xnli-train"


def test_from_files_language_given_twice(tmp_path):
    train = write(tmp_path / "train.conll", CONLL_TRAIN)
    a = write(tmp_path / "a.conll", CONLL_DE)
    b = write(tmp_path / "b.conll", CONLL_DE)
    with pytest.raises(DatasetError, match="'de'"):
        from_files(train, [f"de={a}", f"de={b}"], dev=train)
    folder = tmp_path / "eval"
    write(folder / "test-de.conll", CONLL_DE)
    with pytest.raises(DatasetError, match="'de'"):
        from_files(train, [f"de={a}", str(folder)], dev=train)


def test_from_files_folder_file_without_language(tmp_path):
    train = write(tmp_path / "train.conll", CONLL_TRAIN)
    folder = tmp_path / "eval"
    write(folder / "test-de.conll", CONLL_DE)
    bad = write(folder / "extra.conll", CONLL_SW)
    with pytest.raises(FileLanguageError) as info:
        from_files(train, [str(folder)], dev=train)
    assert str(bad) in str(info.value)
    assert info.value.path == bad


def test_from_files_eval_file_without_language(tmp_path):
    train = write(tmp_path / "train.conll", CONLL_TRAIN)
    bad = write(tmp_path / "holdout.conll", CONLL_SW)
    with pytest.raises(FileLanguageError, match="holdout.conll"):
        from_files(train, [str(bad)], dev=train)


def test_from_files_kinds_differ(tmp_path):
    train = write(tmp_path / "train.conll", CONLL_TRAIN)
    de = write(tmp_path / "de.csv", "text,label\nein Text,pos\n")
    with pytest.raises(DatasetError) as info:
        from_files(train, [str(de)], dev=train)
    assert str(de) in str(info.value)


def test_from_files_limits_and_malformed_line(tmp_path):
    train = write(tmp_path / "train.conll", CONLL_TRAIN)
    de = write(tmp_path / "de.conll", CONLL_DE)
    ds = from_files(train, [f"de={de}"], dev=train, train_limit=2, eval_limit=1)
    assert len(ds.train) == 2 and len(ds.dev) == 1 and len(ds.eval["de"]) == 1
    bad = write(tmp_path / "bad.conll", "Anna\tB-PER\nlives O\n")
    with pytest.raises(DataFormatError) as info:
        from_files(train, [f"de={bad}"], dev=train)
    assert (info.value.path, info.value.line) == (bad, 2)


# ============================================================================= load_task
def test_load_task_synthetic(data):
    ds = load_task("udpos", "en", "de", data_dir=data.root, train_limit=7, eval_limit=4)
    assert isinstance(ds, TaskDataset)
    assert list(ds.eval) == ["en", "de"]
    assert ds.source == "en" and ds.metric == "accuracy" and ds.kind is TOKEN
    assert len(ds.train) == 7 and len(ds.dev) == 4
    assert ds.dev.path == data.path("udpos/dev-en.tsv")
    assert [len(s) for s in ds.eval.values()] == [4, 4]
    first = data.token_files["udpos/train-en.tsv"][0]
    assert ds.train.examples[0] == T([w for w, _ in first], [t for _, t in first])


@pytest.mark.integration
def test_load_task_real_udpos(data_root):
    if not (data_root / "udpos").is_dir():
        pytest.skip(f"udpos not in {data_root}")
    ds = load_task("udpos", targets="de,fr", data_dir=data_root, train_limit=5, eval_limit=3)
    assert ds.name == "udpos" and ds.source == "en" and ds.metric == "accuracy"
    assert list(ds.eval) == ["en", "de", "fr"]
    assert len(ds.train) == 5 and len(ds.dev) == 3
    assert all(len(s) == 3 for s in ds.eval.values())
    assert ds.labels == ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART",
                         "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"]
    assert ds.unseen_labels() == {}


def test_integer_tags_are_named_with_a_label_map():
    """JSONL exports of `ner_tags` carry integers; --label-map 0=O,1=B-PER,2=I-PER names them,
    which also makes the metric span F1 (the names are BIO)."""
    from xlt.data.readers import TaggedSentence as T

    train = [T(["Ada", "Lovelace", "wrote"], ["1", "2", "0"])] * 4
    ds = from_examples(train, {"de": [T(["Ada", "schrieb"], ["1", "0"])]}, label_map="0=O,1=B-PER,2=I-PER")
    assert ds.labels == ["O", "B-PER", "I-PER"] and ds.metric == "f1"
    assert ds.eval["de"].examples[0].labels == ["B-PER", "O"]
