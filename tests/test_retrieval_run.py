"""``xlt retrieve`` on a synthetic Tatoeba folder with the tiny encoder."""

from __future__ import annotations

import json

import pytest

from xlt.cli import main
from xlt.data.langs import UnknownLanguageError
from xlt.data.parallel import read_parallel, select_tatoeba
from xlt.data.readers import DataFormatError
from xlt.jobs.retrieve import RetrieveSettings, run as run_retrieval_job


def run_retrieval(settings):
    return run_retrieval_job(settings).report

pytestmark = pytest.mark.usefixtures("single_torch_thread")

# distinct sentences spelled with the tiny vocabulary's letters (every one tokenises differently)
SENTENCES = [f"zebra {a} {b} said {c}" for a, b, c in
             zip("abcdefghij", "klmnopqrst", "0123456789")]


def write_tatoeba(root, lang, xx, eng):
    folder = root / "tatoeba"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"tatoeba.{lang}-eng.{lang}").write_text("\n".join(xx) + "\n", encoding="utf-8")
    (folder / f"tatoeba.{lang}-eng.eng").write_text("\n".join(eng) + "\n", encoding="utf-8")
    return folder


def test_identical_sides_are_retrieved_perfectly(tiny, tmp_path):
    """Identical texts get identical vectors (cosine 1), distinct ones do not: 100 % both ways."""
    _, spec = tiny
    write_tatoeba(tmp_path, "deu", SENTENCES, SENTENCES)
    for method in ("cosine", "csls", "margin-ratio", "margin-distance"):
        report = run_retrieval(RetrieveSettings(langs="de", model=spec, method=method, data_dir=str(tmp_path),
                                               progress=False))
        assert report["scores"] == {"deu": 100.0}, method
        assert report["scores_eng_to_xx"] == {"deu": 100.0}
        assert report["xsim_error"]["deu"] == {"xx_to_eng": 0.0, "eng_to_xx": 0.0}


def test_shuffled_target_side_scores_by_position(tiny, tmp_path):
    """Line i of eng is the translation; swapping two eng lines makes exactly 2 of 10 wrong."""
    _, spec = tiny
    eng = list(SENTENCES)
    eng[0], eng[1] = eng[1], eng[0]
    write_tatoeba(tmp_path, "fra", SENTENCES, eng)
    report = run_retrieval(RetrieveSettings(langs="fra", model=spec, data_dir=str(tmp_path), progress=False))
    assert report["scores"]["fra"] == pytest.approx(80.0)
    assert report["xsim_error"]["fra"]["xx_to_eng"] == pytest.approx(20.0)


def test_empty_pairs_are_skipped_and_counted(tmp_path):
    folder = write_tatoeba(tmp_path, "ita", ["uno", "", "tre"], ["one", "two", " "])
    pt = read_parallel(folder / "tatoeba.ita-eng.ita", folder / "tatoeba.ita-eng.eng")
    assert pt.src == ["uno"] and pt.tgt == ["one"]
    assert pt.n_skipped_empty == 2 and pt.skipped_lines == [2, 3]


def test_different_lengths_name_both_files(tmp_path):
    folder = write_tatoeba(tmp_path, "spa", ["uno", "dos", "tres"], ["one", "two"])
    with pytest.raises(DataFormatError) as info:
        read_parallel(folder / "tatoeba.spa-eng.spa", folder / "tatoeba.spa-eng.eng")
    msg = str(info.value)
    assert "tatoeba.spa-eng.spa has 3 lines" in msg and "tatoeba.spa-eng.eng has 2" in msg
    assert info.value.line == 3


def test_language_selection(tmp_path):
    write_tatoeba(tmp_path, "deu", ["a"], ["a"])
    write_tatoeba(tmp_path, "cmn", ["b"], ["b"])
    assert list(select_tatoeba("all", tmp_path)) == ["cmn", "deu"]
    assert list(select_tatoeba("de,zh", tmp_path)) == ["deu", "cmn"]
    with pytest.raises(UnknownLanguageError, match="deu"):
        select_tatoeba("fi", tmp_path)


def test_cli_retrieve(tiny, tmp_path, capsys):
    _, spec = tiny
    write_tatoeba(tmp_path, "deu", SENTENCES, SENTENCES)
    out = tmp_path / "report"
    code = main(["retrieve", "--langs", "deu", "--model", spec, "--method", "csls", "--data-dir", str(tmp_path),
                 "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "deu" in printed and "100.00" in printed
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["config"]["method"] == "csls" and report["counts"]["deu"]["sentences"] == 10
    assert (out / "report.md").is_file() and (out / "scores.png").is_file()
    # a bad method never reaches the model
    with pytest.raises(SystemExit):
        main(["retrieve", "--method", "dot", "--out", str(out)])


# --------------------------------------------------------------------------- --pairs: a user's own pairs


def user_pairs(tmp_path):
    """The swapped-lines case as a user's files: 10 pairs, lines 1 and 2 of the English side swapped,
    plus an 11th line whose German side is empty (skipped and counted). Expected: 8 of 10 right
    both ways (80 %), as on Tatoeba."""
    eng = list(SENTENCES)
    eng[0], eng[1] = eng[1], eng[0]
    de, en = SENTENCES + [""], eng + ["zebra z"]
    (tmp_path / "corpus.de").write_text("\n".join(de) + "\n", encoding="utf-8")
    (tmp_path / "corpus.en").write_text("\n".join(en) + "\n", encoding="utf-8")
    (tmp_path / "x.de-en.txt").write_text("\n".join(f"{a} ||| {b}" for a, b in zip(de, en)) + "\n", encoding="utf-8")
    (tmp_path / "pairs.tsv").write_text("\n".join(["de\ten"] + [f"{a}\t{b}" for a, b in zip(de, en)]) + "\n",
                                        encoding="utf-8")
    return [str(tmp_path / "corpus.de"), str(tmp_path / "corpus.en")]


def test_user_pairs_score_like_tatoeba(tiny, tmp_path):
    _, spec = tiny
    files = user_pairs(tmp_path)
    shapes = ((files, 11), ([str(tmp_path / "x.de-en.txt")], 11), ([str(tmp_path / "pairs.tsv")], 12))
    for pairs, skipped_line in shapes:  # two files, '|||', TSV (line 1 is the header 'de<TAB>en')
        report = run_retrieval(RetrieveSettings(pairs=pairs, model=spec, progress=False))
        assert report["scores"] == {"de": pytest.approx(80.0)}, pairs
        assert report["scores_eng_to_xx"] == {"de": pytest.approx(80.0)}
        assert report["xsim_error"]["de"] == {"xx_to_eng": pytest.approx(20.0), "eng_to_xx": pytest.approx(20.0)}
        assert report["source"] == "en" and report["dataset"] == "pairs"
        assert report["directions"] == {"forward": "de→en", "reverse": "en→de"}
        assert report["counts"]["de"] == {"sentences": 10, "skipped_empty": 1, "lines": 11,
                                          "skipped_lines": [skipped_line]}
    # languages from options when the names say nothing; swapping the files swaps the report's sides
    (tmp_path / "a.txt").write_text((tmp_path / "corpus.en").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "b.txt").write_text((tmp_path / "corpus.de").read_text(encoding="utf-8"), encoding="utf-8")
    report = run_retrieval(RetrieveSettings(pairs=[str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], src_lang="eng",
                                           tgt_lang="deu", model=spec, progress=False))
    assert report["scores"] == {"eng": pytest.approx(80.0)} and report["source"] == "deu"


def test_cli_retrieve_pairs(tiny, tmp_path, capsys):
    _, spec = tiny
    files = user_pairs(tmp_path)
    out = tmp_path / "report"
    assert main(["retrieve", "--pairs", *files, "--model", spec, "--method", "csls", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "de->en" in printed and "en->de" in printed and "80.00" in printed
    assert "1 of 11 lines skipped" in printed
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["task"] == "pairs" and report["config"]["pairs"] == files and report["scores"]["de"] == 80.0
    assert (out / "report.md").is_file() and (out / "scores.png").is_file()
