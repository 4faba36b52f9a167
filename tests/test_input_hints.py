"""Inputs that used to fail with an unclear message (or not at all) and now say what is wrong.

* CSV/TSV fields longer than the :mod:`csv` module's default limit (131072 characters) are read;
* a folder where a file is expected says "is a folder", never "does not exist";
* ``--eval LANG=FILE``: an unknown code suggests the nearest known ones, a language name
  (``German``) is read as its code;
* integer tags (tag ids without names) get a ``--label-map 0=O,1=B-PER,...`` hint: a warning, and
  an error with ``--metric f1``, which finds no entity in them;
* ``--labels`` with a label listed twice is refused, naming it;
* ``--lr -1e-3`` reaches the option's type check instead of "expected one argument".

Command-line cases run ``xlt.cli.main`` in-process with the model loaders replaced by one that
fails the test: every mistake must be found before a model loads.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

import pytest

from xlt.cli import build_parser, main
from xlt.cli._common import XltArgumentParser
from xlt.data.dataset import DatasetError, from_files
from xlt.data.formats import read_examples
from xlt.data.langs import UnknownLanguageError, language_name, resolve_language

#: Python's default ``csv.field_size_limit()`` (documented: 128 KiB = 131072 characters).
CSV_DEFAULT_LIMIT = 131072

# token<TAB>tag files: every word is in the tiny test model's vocabulary
TRAIN = "the\tDET\ncat\tNOUN\nsat\tVERB\n\na\tDET\ndog\tNOUN\nsat\tVERB\n\nthe\tDET\nmat\tNOUN\n\n"
TEST = "a\tDET\ncat\tNOUN\n\nthe\tDET\ndog\tNOUN\nsat\tVERB\n\n"
# the same kind of file with tag ids instead of names (0 = O, 1 = B-PER, 2 = I-PER as in WikiANN)
INT_TRAIN = "happy\t1\nwalk\t2\nsat\t0\n\nthe\t0\ncat\t0\n\nhappy\t1\nsat\t0\n\nbig\t1\nhouse\t2\n\n"
INT_TEST = "happy\t1\nwalk\t2\n\nthe\t0\nmat\t0\n\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path




@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """A POS training file, a German test file, integer-tag files and an empty folder."""
    folder = tmp_path / "a-folder"
    folder.mkdir()
    return {"train": write(tmp_path / "train-en.tsv", TRAIN), "test": write(tmp_path / "test-de.tsv", TEST),
            "int_train": write(tmp_path / "ids-en.tsv", INT_TRAIN), "int_test": write(tmp_path / "ids-de.tsv", INT_TEST),
            "folder": folder, "out": tmp_path / "out"}


def one_error(argv: list[str], capsys) -> str:
    """Run the command line; expect exit code 2 and exactly one ``xlt: error:`` line (returned)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # refused by the argument parser
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("xlt: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def transfer(files, *extra) -> list[str]:
    return ["transfer", "--out", str(files["out"]), "--no-progress", *extra]


# ================================================================ 1. long CSV/TSV fields
@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_a_field_longer_than_the_csv_default_limit_is_read(tmp_path, suffix, sep):
    long_text = "word " * 40_000  # 200,000 characters, over the csv module's default 131,072
    assert len(long_text) == 200_000 > CSV_DEFAULT_LIMIT
    path = write(tmp_path / f"long{suffix}", f"text{sep}label\n\"{long_text}\"{sep}news\nshort one{sep}sport\n")
    previous = csv.field_size_limit(CSV_DEFAULT_LIMIT)  # as a fresh interpreter has it
    try:
        with path.open(encoding="utf-8", newline="") as fh:  # the plain csv module fails on this file
            with pytest.raises(csv.Error, match="field larger than field limit"):
                list(csv.reader(fh, delimiter=sep))
        examples, stats = read_examples(path)
    finally:
        csv.field_size_limit(previous)
    assert [(e.text, e.label) for e in examples] == [(long_text.strip(), "news"), ("short one", "sport")]
    assert stats.n_read == 2


# ================================================================ 2. a folder where a file is expected
@pytest.mark.parametrize("case", ["--dev", "--eval de=", "--train"])
def test_transfer_names_a_folder_given_as_a_data_file(files, case, no_model, capsys):
    folder = str(files["folder"])
    data = {"--dev": ["--train", str(files["train"]), "--eval", str(files["test"]), "--dev", folder],
            "--eval de=": ["--train", str(files["train"]), "--eval", f"de={folder}"],
            "--train": ["--train", folder, "--eval", str(files["test"])]}[case]
    line = one_error(transfer(files, *data), capsys)
    assert f"{folder} is a folder, not a data file" in line
    assert line.count(folder) == 1  # the path once, not "PATH: PATH is a folder"
    assert "does not exist" not in line and "no such" not in line


def _data_readers():
    """(what the message says was expected, reader called on a folder) for every reader of a user file."""
    from xlt.align.fit import check_user_dictionary
    from xlt.align.projection import read_token_lines
    from xlt.align.supervision import dictionary_files
    from xlt.data.dictionaries import read_dictionary
    from xlt.data.parallel import read_parallel
    from xlt.data.readers import read_conllu, read_lines, read_sib200, read_xtreme_tsv
    from xlt.data.text import read_text_file
    from xlt.data.wordalign import read_pairs, read_pharaoh

    return {
        "read_lines": ("a file", read_lines),
        "read_xtreme_tsv": ("a file", read_xtreme_tsv),
        "read_conllu": ("a file", read_conllu),
        "read_sib200": ("a file", read_sib200),
        "read_dictionary": ("a file", read_dictionary),
        "read_parallel": ("a file", lambda p: read_parallel(p, p)),
        "read_pairs": ("a sentence-pair file", read_pairs),
        "read_pharaoh": ("an alignment file", read_pharaoh),
        "read_text_file": ("a text file", lambda p: read_text_file(p, "de")),
        "read_token_lines": ("a target file", read_token_lines),
        "dictionary_files": ("a dictionary file", lambda p: dictionary_files(str(p), ["de"])),
        "check_user_dictionary": ("a dictionary file", lambda p: check_user_dictionary("dictionary", str(p), "de")),
    }


@pytest.mark.parametrize("reader", sorted(_data_readers()))
def test_every_reader_of_a_user_file_names_a_folder(tmp_path, reader):
    what, read = _data_readers()[reader]
    folder = tmp_path / "some-folder"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        read(folder)
    assert str(info.value).startswith(f"{folder} is a folder, not {what}")


def test_a_missing_file_still_says_it_does_not_exist(tmp_path):
    from xlt.data.wordalign import read_pairs

    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_pairs(tmp_path / "nothing.txt")


def test_wordalign_and_project_name_a_folder(files, tmp_path, no_model, capsys):
    folder = str(files["folder"])
    line = one_error(["wordalign", "--pairs", folder, "--out", str(tmp_path / "links.txt")], capsys)
    assert line == f"xlt: error: {folder} is a folder, not a sentence-pair file"
    pairs = write(tmp_path / "pairs.txt", "the cat ||| die Katze\n")
    links = write(tmp_path / "links.txt", "0-0 1-1\n")
    line = one_error(["project", "--src-tags", folder, "--tgt", str(pairs), "--align", str(links),
                      "--out", str(tmp_path / "out.tsv")], capsys)
    assert line == f"xlt: error: {folder} is a folder, not a file"


# ================================================================ 3. languages of --eval LANG=FILE
@pytest.mark.parametrize("typed, nearest", [("qqq", None), ("Gernan", "de (German)"), ("deu_Latm", "deu_Latn (German)")])
def test_an_unknown_eval_language_is_refused_with_the_nearest_codes(files, typed, nearest, no_model, capsys):
    line = one_error(transfer(files, "--train", str(files["train"]), "--eval", f"{typed}={files['test']}"), capsys)
    assert f"'{typed}' is not a known language code or language name" in line
    assert f"{typed}={files['test']}" in line  # the value as given, so the user finds it
    assert "nearest known: " in line
    if nearest:  # German is the language one letter away; deu_Latn the FLORES code with a real script
        assert nearest in line.split("nearest known: ")[1]


def test_unknown_language_error_carries_the_suggestions():
    with pytest.raises(UnknownLanguageError) as info:
        resolve_language("englsh")
    assert info.value.suggestions[0] == "en"  # English, one letter left out
    assert resolve_language("deu_Latn") == "deu_Latn"  # a code is kept as written
    assert resolve_language(" fr ") == "fr"


@pytest.mark.parametrize("typed, code, name", [("German", "de", "German"), ("indonesian", "id", "Indonesian"),
                                                ("Deutsch", "de", "German")])
def test_a_language_name_in_eval_is_read_as_its_code(files, typed, code, name):
    # ISO 639-1: German is de, Indonesian id; langcodes also knows names in the language itself
    ds = from_files(files["train"], [f"{typed}={files['test']}"], source="en")
    assert list(ds.eval) == [code]
    assert language_name(code) == name
    assert ds.eval[code].path == files["test"]


def test_a_language_and_its_name_are_one_language(files):
    with pytest.raises(DatasetError, match="'de' given twice"):
        from_files(files["train"], [f"de={files['test']}", f"German={files['test']}"], source="en")


def test_the_report_shows_the_code_and_name_of_a_language_given_by_name(files, tiny, capsys):
    _, spec = tiny
    code = main(transfer(files, "--train", str(files["train"]), "--eval", f"German={files['test']}",
                         "--model", spec, "--epochs", "1", "--batch-size", "8"))
    assert code == 0, capsys.readouterr().err
    report = json.loads((files["out"] / "report.json").read_text(encoding="utf-8"))
    assert set(report["scores"]) == {"de"}
    md = (files["out"] / "report.md").read_text(encoding="utf-8")
    assert "| 1 | de | German |" in md  # rank, code, name in the scores table


# ================================================================ 4. integer tags
def test_integer_tags_warn_with_a_label_map_hint(files, caplog):
    with caplog.at_level(logging.WARNING, logger="xlt.data.dataset"):
        ds = from_files(files["int_train"], [f"de={files['int_test']}"], source="en")
    assert ds.metric == "accuracy"  # not BIO: scored as classes
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    (hint,) = [w for w in warnings if "every tag is an integer" in w]
    assert "(0, 1, 2)" in hint and "--label-map 0=O,1=B-PER,2=I-PER" in hint


def test_named_tags_do_not_warn(files, caplog):
    with caplog.at_level(logging.WARNING, logger="xlt.data.dataset"):
        from_files(files["train"], [f"de={files['test']}"], source="en")
    assert not [r for r in caplog.records if "integer" in r.getMessage()]


def test_the_label_map_the_hint_suggests_makes_bio_tags_scored_by_f1(files, caplog):
    with caplog.at_level(logging.WARNING, logger="xlt.data.dataset"):
        ds = from_files(files["int_train"], [f"de={files['int_test']}"], source="en",
                        label_map=["0=O,1=B-PER,2=I-PER"])
    assert ds.labels == ["O", "B-PER", "I-PER"]
    assert ds.metric == "f1"
    assert ds.eval["de"].examples[0].labels == ["B-PER", "I-PER"]  # happy walk: 1 2
    assert not [r for r in caplog.records if "integer" in r.getMessage()]


def test_f1_on_integer_tags_is_an_error_with_the_hint(files, no_model, capsys):
    # span F1 finds no entity in tags without B-/I- prefixes: the score would be 0 whatever the model did
    line = one_error(transfer(files, "--train", str(files["int_train"]), "--eval", f"de={files['int_test']}",
                              "--metric", "f1"), capsys)
    assert "every tag is an integer (0, 1, 2)" in line
    assert "--label-map 0=O,1=B-PER,2=I-PER" in line and "--metric accuracy" in line


def test_f1_on_a_classification_file_is_an_error(tmp_path, files, no_model, capsys):
    # it used to train, then fail with a TypeError traceback in the span F1 scorer
    train = write(tmp_path / "reviews-en.csv", "text,label\ngood film,1\nbad film,0\nfine,1\nawful,0\n")
    test = write(tmp_path / "reviews-de.csv", "text,label\ngut,1\nschlecht,0\n")
    line = one_error(transfer(files, "--train", str(train), "--eval", f"de={test}", "--metric", "f1"), capsys)
    assert "sequence task" in line and "use --metric accuracy" in line


# ================================================================ 5. --labels
def test_a_label_listed_twice_is_refused_before_any_model_loads(files, no_model, capsys):
    line = one_error(transfer(files, "--train", str(files["train"]), "--eval", str(files["test"]),
                              "--labels", "DET,NOUN,DET,VERB"), capsys)
    assert "'DET' (2 times)" in line
    assert "NOUN" not in line.split("(got")[0]  # only the duplicate is named as one


def test_a_valid_label_inventory_is_kept_in_its_order(files):
    ds = from_files(files["train"], [str(files["test"])], labels=["VERB", "NOUN", "DET"])
    assert ds.labels == ["VERB", "NOUN", "DET"]  # the given order, not the sorted default
    with pytest.raises(DatasetError, match=r"'O' \(3 times\)"):
        from_files(files["train"], [str(files["test"])], labels=["O", "O", "B-PER", "O"])


# ================================================================ 6. negative numbers in scientific notation
@pytest.mark.parametrize("value", ["-1e-3", "-.5", "-2E+4", "-1"])
def test_a_negative_learning_rate_reaches_the_type_check(files, value, no_model, capsys):
    line = one_error(transfer(files, "--train", str(files["train"]), "--eval", str(files["test"]),
                              "--lr", value), capsys)
    # the value reaches the check (argparse does not take it for an option) and is quoted as typed
    assert line == f"xlt: error: --lr {value}: expected a finite number > 0"


def test_nested_subcommands_read_negative_numbers_too(tmp_path, no_model, capsys):
    line = one_error(["align", "finetune", "--lr", "-1e-3", "--out", str(tmp_path / "m")], capsys)
    assert line == "xlt: error: --lr -1e-3: expected a finite number > 0"
    args = build_parser().parse_args(["mine", "--threshold", "-2.5e-1"])  # a finite number, negative allowed
    from xlt.cli._settings import settings_from_args
    from xlt.jobs.mine import MineOptions

    assert args.threshold == "-2.5e-1" and settings_from_args(MineOptions, args).threshold == -0.25


def test_every_parser_of_the_command_line_is_an_xlt_parser():
    def walk(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in dict.fromkeys(action.choices.values()):
                    yield from walk(sub)

    parsers = list(walk(build_parser()))
    assert len(parsers) > 12  # xlt, its 12 commands and their subcommands
    assert all(isinstance(p, XltArgumentParser) for p in parsers)
