"""Task registry on a synthetic data folder, plus integration checks on the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlt.data.langs import AmbiguousLanguageError, UnknownLanguageError
from xlt.data.paths import DatasetNotFoundError
from xlt.data.readers import TaggedSentence, TextExample
from xlt.data.tasks import (
    TASKS,
    available_languages,
    get_task,
    label_list,
    load_split,
    match_task_language,
    select_targets,
    source_files,
)

TOKEN_FILE = "Das\tDET\nHaus\tNOUN\n\n"
NER_FILE = "Anton\tB-PER\nin\tO\nBonn\tB-LOC\n\n"
SIB_FILE = "index_id\tcategory\ttext\n1\tsports\tA goal.\n2\ttravel\tA trip.\n"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    ud = root / "udpos"
    ud.mkdir(parents=True)
    for name in ["train-en", "dev-en", "test-en", "test-fr", "dev-de", "test-ja"]:
        (ud / f"{name}.tsv").write_text(TOKEN_FILE, encoding="utf-8")
    (ud / "README.txt").write_text("not a split", encoding="utf-8")
    px = root / "panx"
    px.mkdir()
    for name in ["train-en", "dev-en", "dev-de", "test-de"]:
        (px / f"{name}.tsv").write_text(NER_FILE, encoding="utf-8")
    sib = root / "sib200"
    for lang, splits in {
        "eng_Latn": ["train", "dev", "test"],
        "deu_Latn": ["train", "test"],
        "zho_Hans": ["test"],
        "zho_Hant": ["test"],
    }.items():
        (sib / lang).mkdir(parents=True)
        for s in splits:
            (sib / lang / f"{s}.tsv").write_text(SIB_FILE, encoding="utf-8")
        (sib / lang / "labels.txt").write_text("travel\nsports\nhealth\n", encoding="utf-8")
    (sib / "annotated").mkdir()
    (sib / "annotated" / "nqo_Nkoo.zip").write_bytes(b"PK")
    return root


def test_registry_specs():
    assert set(TASKS) == {"udpos", "panx", "sib200"}
    ud, px, sib = get_task("udpos"), get_task("PANX"), get_task("sib200")
    assert (ud.kind, ud.metric, ud.label_scheme) == ("token", "accuracy", "upos")
    assert ud.dataset == "udpos"
    assert (px.kind, px.metric, px.label_scheme) == ("token", "f1", "bio")
    assert (sib.kind, sib.metric, sib.label_scheme) == ("sequence", "accuracy", "class")
    assert get_task(ud) is ud
    with pytest.raises(ValueError, match="udpos"):
        get_task("xnli")


def test_available_languages(data):
    ud = data / "udpos"
    assert available_languages("udpos", data) == {
        "de": ud / "dev-de.tsv",  # no test file: dev is the evaluation set
        "en": ud / "test-en.tsv",  # test preferred over dev
        "fr": ud / "test-fr.tsv",
        "ja": ud / "test-ja.tsv",
    }
    px = data / "panx"
    assert available_languages("panx", data) == {"de": px / "dev-de.tsv", "en": px / "dev-en.tsv"}
    sib = data / "sib200"
    assert available_languages("sib200", data) == {
        "deu_Latn": sib / "deu_Latn" / "test.tsv",
        "eng_Latn": sib / "eng_Latn" / "test.tsv",
        "zho_Hans": sib / "zho_Hans" / "test.tsv",
        "zho_Hant": sib / "zho_Hant" / "test.tsv",
    }


def test_missing_dataset_folder(tmp_path):
    (tmp_path / "udpos").mkdir()
    with pytest.raises(DatasetNotFoundError, match="sib-200"):
        available_languages("sib200", tmp_path)


def test_source_files(data):
    s = source_files("udpos", "eng", data)
    assert s == {"lang": "en", "train": data / "udpos" / "train-en.tsv",
                 "dev": data / "udpos" / "dev-en.tsv"}
    s = source_files("sib200", "en", data)
    assert s["lang"] == "eng_Latn"
    assert s["dev"] == data / "sib200" / "eng_Latn" / "dev.tsv"
    s = source_files("sib200", "de", data)
    assert (s["lang"], s["dev"]) == ("deu_Latn", None)
    assert source_files("panx", "en", data)["dev"] == data / "panx" / "dev-en.tsv"


def test_source_without_training_data_lists_those_with(data):
    with pytest.raises(UnknownLanguageError) as info:
        source_files("udpos", "de", data)
    msg = str(info.value)
    assert "en (English)" in msg
    assert "training" in msg
    assert "fr (" not in msg  # only languages that do have training data are listed


def test_select_targets_all_excludes_source(data):
    assert list(select_targets("udpos", "all", "en", data)) == ["de", "fr", "ja"]
    # the source is given in another notation than the data set uses
    assert list(select_targets("sib200", "ALL", "en", data)) == ["deu_Latn", "zho_Hans", "zho_Hant"]
    # a source that is not an evaluation language excludes nothing
    assert list(select_targets("panx", "all", "fr", data)) == ["de", "en"]


def test_select_targets_list(data):
    got = select_targets("udpos", "de, fra,jpn_Jpan", "en", data)
    assert got == {
        "de": data / "udpos" / "dev-de.tsv",
        "fr": data / "udpos" / "test-fr.tsv",
        "ja": data / "udpos" / "test-ja.tsv",
    }
    assert list(select_targets("sib200", "zh,zho_Hant,de,deu", "en", data)) == [
        "zho_Hans",
        "zho_Hant",
        "deu_Latn",
    ]
    assert list(select_targets("udpos", ["en", "fr"], "en", data)) == ["en", "fr"]


def test_select_targets_errors(data):
    with pytest.raises(UnknownLanguageError) as info:
        select_targets("udpos", "de,ko", "en", data)
    assert "de (German)" in str(info.value) and "ja (Japanese)" in str(info.value)
    with pytest.raises(ValueError):
        select_targets("udpos", " , ", "en", data)


def test_select_targets_ambiguous_source(tmp_path):
    sib = tmp_path / "sib200"
    for lang in ["por_Latn-BR", "por_Latn-PT", "deu_Latn"]:
        (sib / lang).mkdir(parents=True)
        (sib / lang / "test.tsv").write_text(SIB_FILE, encoding="utf-8")
    with pytest.raises(AmbiguousLanguageError):
        select_targets("sib200", "all", "pt", tmp_path)


def test_match_task_language(data):
    assert match_task_language("sib200", "zh-TW", data) == "zho_Hant"
    assert match_task_language("udpos", "deu_Latn", data) == "de"


def test_load_split_dispatch(data, tmp_path):
    ex, stats = load_split("udpos", data / "udpos" / "dev-de.tsv")
    assert ex == [TaggedSentence(["Das", "Haus"], ["DET", "NOUN"])]
    assert stats.n_read == 1
    ex, _ = load_split("sib200", data / "sib200" / "eng_Latn" / "test.tsv", limit=1)
    assert ex == [TextExample("1", "A goal.", "sports")]
    conllu = tmp_path / "x.conllu"
    conllu.write_text("1\tHaus\tHaus\tNOUN\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    ex, _ = load_split("udpos", conllu)
    assert ex == [TaggedSentence(["Haus"], ["NOUN"])]
    with pytest.raises(ValueError):
        load_split("panx", conllu)


def test_label_lists():
    ud = label_list("udpos", [TaggedSentence(["a"], ["NOUN"])])
    assert len(ud) == 17
    assert ud[:4] == ["ADJ", "ADP", "ADV", "AUX"]
    assert ud[7] == "NOUN" and ud[-1] == "X"
    assert label_list("panx", []) == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    with pytest.raises(ValueError, match="B-MISC"):
        label_list("panx", [TaggedSentence(["a", "b"], ["B-MISC", "O"])])


def test_sib200_label_list(data):
    ex = [TextExample("1", "x", "sports"), TextExample("2", "y", "travel")]
    split = data / "sib200" / "eng_Latn" / "test.tsv"
    # labels.txt adds "health"; sorted, whatever the order in labels.txt
    assert label_list("sib200", ex, split) == ["health", "sports", "travel"]
    assert label_list("sib200", ex) == ["sports", "travel"]
    with pytest.raises(ValueError):
        label_list("sib200", [])


# ------------------------------------------------------------------ real data (integration)
def _need(root: Path, name: str) -> None:
    if not (root / name).is_dir():
        pytest.skip(f"{name} not in {root}")


@pytest.mark.integration
def test_real_udpos(data_root):
    _need(data_root, "udpos")
    avail = available_languages("udpos", data_root)
    assert len(avail) == 38  # 37 test-XX files (en among them) + German from dev-de
    assert avail["de"].name == "dev-de.tsv"
    assert avail["fr"].name == "test-fr.tsv"
    assert len(select_targets("udpos", "all", "en", data_root)) == 37
    src = source_files("udpos", "en", data_root)
    assert (src["train"].name, src["dev"].name) == ("train-en.tsv", "dev-en.tsv")
    sents, stats = load_split("udpos", avail["de"], limit=1)
    assert sents[0].tokens[:5] == ["Manasse", "ist", "ein", "einzigartiger", "Parfümeur"]
    assert sents[0].labels[:3] == ["PROPN", "AUX", "DET"]
    assert stats.stopped_at_limit


@pytest.mark.integration
def test_real_panx(data_root):
    _need(data_root, "panx")
    avail = available_languages("panx", data_root)
    assert len(avail) >= 47 and all(p.name.startswith("dev-") for p in avail.values())
    assert len(select_targets("panx", "all", "en", data_root)) == len(avail) - 1
    sents, _ = load_split("panx", avail["de"], limit=1)
    assert sents[0] == TaggedSentence(
        ["Anton", "Wilhelm", "von", "Zuccalmaglio", "."], ["B-PER", "I-PER", "I-PER", "I-PER", "O"]
    )


@pytest.mark.integration
def test_real_sib200(data_root):
    _need(data_root, "sib200")
    avail = available_languages("sib200", data_root)
    assert len(avail) == 205
    assert "annotated" not in avail
    got = select_targets("sib200", "de,fra,jpn_Jpan,fa,zh", "en", data_root)
    assert list(got) == ["deu_Latn", "fra_Latn", "jpn_Jpan", "pes_Arab", "zho_Hans"]
    assert source_files("sib200", "en", data_root)["lang"] == "eng_Latn"
    ex, stats = load_split("sib200", avail["eng_Latn"])
    assert len(ex) == 204 and stats.n_skipped_empty == 0
    assert len(label_list("sib200", ex, avail["eng_Latn"])) == 7
    # ace_Arab/test.tsv line 30: a CSV-quoted text ("...""..."""); the quotes are undone
    ace = {e.id: e for e in load_split("sib200", avail["ace_Arab"])[0]}
    assert not ace["61"].text.startswith('"')
    assert '""' not in ace["61"].text and ace["61"].text.endswith('."')


def test_data_package_imports_no_torch_or_transformers():
    import subprocess
    import sys

    code = (
        "import sys, xlt.data, xlt.data.tasks; "
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; "
        "sys.exit(f'imported {bad}' if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr + res.stdout
