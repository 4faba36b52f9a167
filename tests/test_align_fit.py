"""``xlt align fit`` end to end: supervision (NTREX word links, dictionaries), fitting, the saved
maps used by ``xlt transfer --aligner``, and the errors a user gets for misuse.

The maps' own math is tested in tests/test_align_maps.py; here everything runs on the tiny random
encoder and a fake NTREX folder, so expectations come from the files written (identical text in
two "languages" gives identical vectors; dictionary counts follow from which words the text has).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import write_ntrex

from xlt.align import supervision as sup
from xlt.align.fit import expand_languages, method_paths, retrieval_at_1
from xlt.align.maps import AlignerError, CrossLingualAligner
from xlt.cli import main
from xlt.data.readers import DataFormatError
from xlt.jobs import align as job
from xlt.jobs.align import AlignEvalSettings, AlignFinetuneSettings, AlignFitSettings

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def run_align_fit(settings: AlignFitSettings) -> dict:
    """The report of ``xlt align fit`` run from the Python API."""
    return job.run_align_fit(settings).report


def run_align_eval(aligner: list, **settings) -> dict:
    """The report of ``xlt align eval`` run from the Python API."""
    return job.run_align_eval(AlignEvalSettings(aligner=aligner, **settings)).report

# English NTREX lines from the tiny vocabulary, no word repeated within a line. The last
# HELDOUT lines are held out; "query", "passage", "un", "cats" occur only there.
EN = [
    "the cat sat on a mat .",
    "a big dog is in the house",
    "it is happy and small",
    "the small cat run to a house",
    "a dog walk on the mat",
    "it sat in a big house .",
    "the happy dog is small",
    "query passage of un cats",
]
# "German": any words (split into letters by the tiny tokenizer); "katze", "hund", "haus" occur in
# the fitting lines, "anfrage" only in a held-out line.
DE = [
    "die katze sass auf einer matte .",
    "ein grosser hund ist im haus",
    "es ist froh und klein",
    "die kleine katze rennt zu einem haus",
    "ein hund geht auf der matte",
    "es sass in einem grossen haus .",
    "der frohe hund ist klein",
    "anfrage text von un katzen",
]
FR = [
    "le chat assis sur un tapis .",
    "un grand chien est dans la maison",
    "il est heureux et petit",
    "le petit chat court vers une maison",
    "un chien marche sur le tapis",
    "il assis dans une grande maison .",
    "le chien heureux est petit",
    "requete texte de un chats",
]
HELDOUT = 2

# Dictionary: what each line is, given the fitting lines (EN[:6], DE[:6]):
DICT_LINES = [
    "cat\tkatze",  # both words in the fitting text -> a pair
    "dog\thund",  # pair
    "house\thaus",  # pair
    "Cat\tKATZE",  # duplicate of line 1 once case-folded
    "",  # blank
    "big house\tgrosses haus",  # multi-word: skipped
    "zebra\tzebra",  # neither word in the text
    "query\tanfrage",  # both words only in held-out lines: unknown on both sides
    "small\twinzig",  # English word present, German word absent
]
DICT_PAIRS = 3
DICT_UNKNOWN_SOURCE = 2  # zebra, query
DICT_UNKNOWN_TARGET = 3  # zebra, anfrage, winzig




def write_dict(root, name, lines):
    path = root / "dict" / f"en-{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def words(lines):
    return [line.split() for line in lines]


@pytest.fixture(scope="module")
def root(tmp_path_factory, data):
    """A data folder: the synthetic udpos files, NTREX eng/deu/fra, and dict/en-german.txt."""
    r = tmp_path_factory.mktemp("align-root")
    shutil.copytree(data.root / "udpos", r / "udpos")
    write_ntrex(r, {"eng": EN, "deu": DE, "fra": FR})
    write_dict(r, "german", DICT_LINES)
    return r


@pytest.fixture(scope="module")
def fitted(root, tiny, tmp_path_factory):
    """``xlt align fit`` with two methods through the CLI: (exit code, output folder)."""
    _, spec = tiny
    out = tmp_path_factory.mktemp("maps")
    code = main(["align", "fit", "--method", "center,procrustes", "--langs", "de", "--model", spec,
                 "--data-dir", str(root), "--out", str(out / "maps.npz"), "--align-layer", "1",
                 "--heldout", str(HELDOUT), "--no-progress"])
    return code, out


@pytest.fixture(scope="module")
def layer1_fit(root, tiny, tmp_path_factory):
    """Maps for hidden state 1 only, written under a stem with a dot in it."""
    _, spec = tiny
    out = tmp_path_factory.mktemp("maps-l1") / "maps.layer1.npz"
    report = run_align_fit(AlignFitSettings(out=str(out), methods="center,procrustes", langs="de", model=spec,
                                          layers="1", align_layer=1, heldout=HELDOUT, data_dir=str(root),
                                          progress=False))
    return out, report


def transfer(root, spec, out, *extra):
    return main(["transfer", "--task", "udpos", "--model", spec, "--data-dir", str(root), "--out", str(out),
                 "--epochs", "2", "--no-progress", "--train-limit", "40", "--eval-limit", "10", *extra])


def read_report(folder):
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------- small pieces


def test_one_to_one_drops_words_with_several_links():
    # source word 0 is linked to target words 0 and 1: both links go; (2, 2) stays
    assert sup.one_to_one({(0, 0), (0, 1), (2, 2)}) == [(2, 2)]
    # a target word linked twice also disqualifies both links
    assert sup.one_to_one({(0, 3), (1, 3), (2, 0)}) == [(2, 0)]
    clean = {(2, 0), (0, 1), (1, 2), (3, 3)}
    assert sup.one_to_one(clean) == sorted(clean)
    assert sup.one_to_one(set()) == []


def test_read_dictionary_counts_and_entries(tmp_path):
    path = write_dict(tmp_path, "german", DICT_LINES)
    d = sup.read_dictionary(path)
    assert d.entries == [("cat", "katze"), ("dog", "hund"), ("house", "haus"), ("zebra", "zebra"),
                         ("query", "anfrage"), ("small", "winzig")]
    assert d.stats == {"n_lines": len(DICT_LINES), "n_entries": 6, "n_multiword": 1, "n_duplicates": 1,
                       "n_blank": 1}


def test_read_dictionary_names_file_and_line_of_a_bad_line(tmp_path):
    path = tmp_path / "en-german.txt"
    path.write_text("cat\tkatze\n\ndog hund\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        sup.read_dictionary(path)
    assert "en-german.txt" in str(err.value) and ":3" in str(err.value)
    path.write_text("cat\tkatze\tchat\n", encoding="utf-8")  # two tabs: not 'english<TAB>foreign'
    with pytest.raises(DataFormatError, match=":1"):
        sup.read_dictionary(path)


def test_find_dictionary(tmp_path):
    path = write_dict(tmp_path, "german", ["cat\tkatze"])
    assert sup.find_dictionary("de", tmp_path) == path.resolve()
    assert sup.find_dictionary("deu", tmp_path) == path.resolve()
    with pytest.raises(AlignerError, match="german") as err:
        sup.find_dictionary("fr", tmp_path)
    assert "fr" in str(err.value)
    bli = tmp_path / "bli" / "en-de" / "yacle.train.freq.5k.en-de.tsv"
    bli.parent.mkdir(parents=True)
    bli.write_text("cat\tkatze\n", encoding="utf-8")
    assert sup.find_dictionary("de", tmp_path, kind="bli") == bli.resolve()
    with pytest.raises(AlignerError, match="en-fr|fr"):
        sup.find_dictionary("fr", tmp_path, kind="bli")
    with pytest.raises(ValueError, match="kind"):
        sup.find_dictionary("de", tmp_path, kind="panlex")


def test_type_vectors_average_case_folded_occurrences():
    rng = np.random.default_rng(0)
    sents = [["Cat", "dog"], ["the", "cat", "Dog"], ["a"]]
    vecs = [rng.normal(size=(len(s), 2, 3)).astype(np.float16) for s in sents]
    types, counts = sup.type_vectors(vecs, sents)
    assert counts == {"cat": 2, "dog": 2, "the": 1, "a": 1}
    expect_cat = (vecs[0][0].astype(np.float32) + vecs[1][1].astype(np.float32)) / 2
    np.testing.assert_allclose(types["cat"], expect_cat, rtol=1e-6)
    np.testing.assert_allclose(types["the"], vecs[1][0].astype(np.float32))
    assert types["cat"].shape == (2, 3)
    only, only_counts = sup.type_vectors(vecs, sents, wanted={"dog"})
    assert set(only) == {"dog"} and only_counts == {"dog": 2}
    np.testing.assert_allclose(only["dog"], (vecs[0][1].astype(np.float32) + vecs[1][2].astype(np.float32)) / 2,
                               rtol=1e-6)


def test_retrieval_at_1_known_answers():
    src = np.eye(4)[:3] + 0.1  # three clearly different directions
    tgt = np.stack([3.0 * src[2], src[0]])  # target word 0 = source word 2 (scaled), 1 = source word 0
    assert retrieval_at_1(src, tgt, [(2, 0), (0, 1)]) == (2, 2)
    assert retrieval_at_1(src, tgt, [(1, 0), (0, 1)]) == (1, 2)  # word 0's nearest is 2, not 1
    assert retrieval_at_1(src, tgt, []) == (0, 0)
    # pool: two other sentences' words first, then this sentence's at offset 2
    others = np.stack([-src[0], np.array([0.0, 0.0, 0.0, 1.0])])
    pool = np.concatenate([others, src])
    assert retrieval_at_1(src, tgt, [(2, 0), (0, 1)], pool=pool, pool_offset=2) == (2, 2)
    # without the offset, the right rows would be 2 and 0 of the pool: both wrong
    assert retrieval_at_1(src, tgt, [(2, 0), (0, 1)], pool=pool, pool_offset=0) == (0, 2)
    # a pool word closer to the query than the right one takes the hit away
    query = src[2] + np.array([0.05, 0.0, 0.0, 0.0])  # still nearest to source word 2 in its sentence
    assert retrieval_at_1(src, query[None], [(2, 0)]) == (1, 1)
    pool2 = np.concatenate([query[None], src])  # another sentence has exactly the query's direction
    assert retrieval_at_1(src, query[None], [(2, 0)], pool=pool2, pool_offset=1) == (0, 1)


def test_method_paths():
    one = method_paths("out/maps.npz", ["procrustes"])
    assert {k: str(v) for k, v in one.items()} == {"procrustes": "out/maps.npz"}
    assert str(method_paths("out/maps", ["center"])["center"]) == "out/maps.npz"
    several = method_paths("out/maps.npz", ["center+norm", "linear"])
    assert {k: v.name for k, v in several.items()} == {"center+norm": "maps.center-norm.npz",
                                                       "linear": "maps.linear.npz"}


def test_expand_languages_task_names(tmp_path, data):
    shutil.copytree(data.root / "udpos", tmp_path / "udpos")
    write_ntrex(tmp_path, {"eng": EN, "deu": DE})
    assert expand_languages("udpos", tmp_path) == ("deu", {"udpos": ["fr"]})
    # a code given as well as through the task comes once
    assert expand_languages("udpos,de", tmp_path) == ("deu", {"udpos": ["fr"]})
    assert expand_languages("de,fr", tmp_path) == ("de,fr", {})  # codes stay as given
    assert expand_languages("all", tmp_path) == ("all", {})


# ------------------------------------------------------------------- supervision


def test_heldout_lines_are_kept_apart(root):
    fit = sup.read_ntrex_corpus("de", root, part="fit", heldout=HELDOUT)
    held = sup.read_ntrex_corpus("de", root, part="heldout", heldout=HELDOUT)
    assert fit.lines == list(range(1, len(EN) - HELDOUT + 1))
    assert held.lines == list(range(len(EN) - HELDOUT + 1, len(EN) + 1))
    assert not set(fit.lines) & set(held.lines) and sorted(fit.lines + held.lines) == list(range(1, len(EN) + 1))
    assert fit.source == words(EN[:-HELDOUT]) and fit.targets == {"deu": words(DE[:-HELDOUT])}
    assert held.source == words(EN[-HELDOUT:])
    assert sup.read_ntrex_corpus("de", root, part="fit", heldout=HELDOUT, max_sentences=2).lines == [1, 2]
    with pytest.raises(ValueError):
        sup.read_ntrex_corpus("de", root, heldout=len(EN))


def test_parallel_pairs_on_identical_text(tmp_path, tiny):
    from xlt.align.words import WordAligner

    encoder, _ = tiny
    write_ntrex(tmp_path, {"eng": EN, "deu": EN})  # "German" is a copy of English
    corpus = sup.read_ntrex_corpus("deu", tmp_path, part="fit", heldout=HELDOUT)
    aligner = WordAligner(encoder, layer=1)
    links, stats = sup.link_pairs(aligner, corpus.source, corpus.targets["deu"])
    # every word is its own (only) counterpart
    assert links == [[(i, i) for i in range(len(s))] for s in corpus.source]
    n_words = sum(len(s) for s in words(EN[:-HELDOUT]))
    assert stats["n_links_one_to_one"] == n_words and stats["n_sentence_pairs"] == len(EN) - HELDOUT

    (pairs,) = list(sup.parallel_pairs(encoder, corpus, aligner, layers="all", max_pairs=None, progress=False))
    assert pairs.lang == "deu" and pairs.layers == list(range(encoder.num_layers + 1))
    assert pairs.X.shape == (n_words, encoder.num_layers + 1, encoder.hidden_size)
    np.testing.assert_array_equal(pairs.X, pairs.Y)
    np.testing.assert_array_equal(pairs.x_mean, pairs.y_mean)
    # the pairs are the fitting lines' word vectors, in order (held-out words are not among them)
    eng, _ = sup.word_vectors(encoder, words(EN[:-HELDOUT]), "all", progress=False)
    np.testing.assert_array_equal(pairs.Y, np.concatenate(eng))
    assert pairs.stats["n_pairs"] == n_words and pairs.stats["n_target_words"] == n_words

    (sub,) = list(sup.parallel_pairs(encoder, corpus, aligner, layers=[1], max_pairs=5, progress=False))
    assert sub.X.shape == (5, 1, encoder.hidden_size)
    assert sub.stats["n_pairs"] == 5 and sub.stats["n_pairs_available"] == n_words
    np.testing.assert_array_equal(sub.X, sub.Y)


def test_dictionary_supervision_counts(root, tiny, tmp_path):
    _, spec = tiny
    out = tmp_path / "dict.npz"
    rep = run_align_fit(AlignFitSettings(out=str(out), methods="procrustes", supervision="dictionary", langs="de",
                                       model=spec, layers="0,1", heldout=HELDOUT, data_dir=str(root),
                                       progress=False))
    st = rep["supervision"]["deu"]
    assert st["n_multiword"] == 1 and st["n_duplicates"] == 1 and st["n_blank"] == 1 and st["n_entries"] == 6
    assert st["n_unknown_source"] == DICT_UNKNOWN_SOURCE
    assert st["n_unknown_target"] == DICT_UNKNOWN_TARGET
    assert st["n_pairs"] == DICT_PAIRS and st["text_sentences"] == len(EN) - HELDOUT
    assert rep["layers"] == [0, 1]
    al = CrossLingualAligner.load(out)
    assert al.languages == ["deu"] and al.supervision["deu"]["n_pairs"] == DICT_PAIRS
    assert al.info["supervision"] == "dictionary" and (tmp_path / "dict.report.json").is_file()


def test_dictionary_without_any_known_word_fails_and_writes_nothing(tiny, tmp_path):
    _, spec = tiny
    write_ntrex(tmp_path, {"eng": EN, "deu": DE})
    write_dict(tmp_path, "german", ["zebra\tzebra", "xylophone\tquux", "query\tanfrage"])
    out = tmp_path / "out" / "maps.npz"
    with pytest.raises(AlignerError, match="no supervision pairs"):
        run_align_fit(AlignFitSettings(out=str(out), supervision="dictionary", langs="de", model=spec, layers="1",
                                     heldout=HELDOUT, data_dir=str(tmp_path), progress=False))
    assert not out.exists() and not (tmp_path / "out" / "maps.report.json").exists()


def test_fit_report_follows_the_output_stem(layer1_fit):
    out, rep = layer1_fit
    folder = out.parent
    assert rep["layers"] == [1]
    assert {m: p for m, p in rep["files"].items()} == {"center": str(folder / "maps.layer1.center.npz"),
                                                      "procrustes": str(folder / "maps.layer1.procrustes.npz")}
    # the report sits next to the maps under the same stem (two fits into one folder keep their reports)
    assert (folder / "maps.layer1.report.json").is_file()
    assert sorted(p.name for p in folder.iterdir()) == ["maps.layer1.center.npz", "maps.layer1.procrustes.npz",
                                                        "maps.layer1.report.json"]


# ------------------------------------------------------------------- CLI and transfer


def test_cli_align_fit_then_transfer(fitted, root, tiny, tmp_path):
    code, folder = fitted
    assert code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["maps.center.npz", "maps.procrustes.npz",
                                                        "maps.report.json"]
    rep = json.loads((folder / "maps.report.json").read_text(encoding="utf-8"))
    assert rep["methods"] == ["center", "procrustes"] and list(rep["supervision"]) == ["deu"]
    assert rep["info"]["n_sentences"] == len(EN) - HELDOUT and rep["info"]["ntrex_lines"] == [1, len(EN) - HELDOUT]
    for method in ("center", "procrustes"):
        al = CrossLingualAligner.load(folder / f"maps.{method}.npz")
        assert al.method == method and al.languages == ["deu"]
        assert al.layers == list(range(tiny[0].num_layers + 1))
        assert al.supervision["deu"]["n_pairs"] == rep["supervision"]["deu"]["n_pairs"] > 0

    maps = folder / "maps.procrustes.npz"
    out = tmp_path / "transfer"
    assert transfer(root, tiny[1], out, "--targets", "de", "--aligner", str(maps)) == 0
    report = read_report(out)
    assert report["aligner"]["method"] == "procrustes" and report["aligner"]["file"] == str(maps)
    assert report["aligner"]["languages"] == ["deu"]
    assert set(report["scores"]) == {"en", "de"}
    assert "## Alignment" in (out / "report.md").read_text(encoding="utf-8")


def test_map_is_applied_to_targets_only(fitted, root, tiny, tmp_path):
    _, folder = fitted
    al = CrossLingualAligner.load(folder / "maps.procrustes.npz")
    dim = tiny[0].hidden_size
    for layer in al.layers:
        al.maps["deu"][layer].W = -np.eye(dim)
    flipped = al.save(tmp_path / "flipped.npz")
    assert transfer(root, tiny[1], tmp_path / "flipped", "--targets", "de", "--aligner", str(flipped)) == 0
    assert transfer(root, tiny[1], tmp_path / "plain", "--targets", "de") == 0
    a, b = read_report(tmp_path / "flipped"), read_report(tmp_path / "plain")
    assert "aligner" in a and "aligner" not in b
    assert a["scores"]["en"] == b["scores"]["en"]  # the source is never mapped by procrustes
    assert a["scores"]["de"] != b["scores"]["de"]  # German features were negated


def _error(capsys, code):
    assert code == 2
    err = capsys.readouterr().err
    assert "xlt: error:" in err
    return err


def test_transfer_refuses_maps_of_another_model(fitted, root, tiny, tmp_path, capsys):
    _, folder = fitted
    al = CrossLingualAligner.load(folder / "maps.procrustes.npz")
    al.model["fingerprint"] = "other"
    other = al.save(tmp_path / "other.npz")
    capsys.readouterr()
    err = _error(capsys, transfer(root, tiny[1], tmp_path / "out", "--targets", "de", "--aligner", str(other)))
    assert "model" in err and "fingerprint" in err
    assert not (tmp_path / "out" / "report.json").exists()


def test_transfer_refuses_maps_for_other_layers(layer1_fit, root, tiny, tmp_path, capsys):
    out, _ = layer1_fit
    maps = out.with_name("maps.layer1.procrustes.npz")
    capsys.readouterr()
    err = _error(capsys, transfer(root, tiny[1], tmp_path / "out", "--targets", "de", "--aligner", str(maps),
                                  "--layer", "mix"))
    assert "layer" in err and "[0, 2]" in err


def test_transfer_refuses_targets_without_a_map(fitted, root, tiny, tmp_path, capsys):
    _, folder = fitted
    capsys.readouterr()
    err = _error(capsys, transfer(root, tiny[1], tmp_path / "out", "--targets", "de,fr", "--aligner",
                                  str(folder / "maps.procrustes.npz")))
    assert "no map for fr" in err


def test_transfer_aligner_needs_probe_mode(fitted, root, tiny, tmp_path, capsys):
    _, folder = fitted
    capsys.readouterr()
    err = _error(capsys, transfer(root, tiny[1], tmp_path / "out", "--targets", "de", "--mode", "finetune",
                                  "--aligner", str(folder / "maps.procrustes.npz")))
    assert "probe" in err


def test_cli_dictionary_missing_for_a_language(root, tiny, tmp_path, capsys):
    capsys.readouterr()
    code = main(["align", "fit", "--supervision", "dictionary", "--langs", "fr", "--model", tiny[1],
                 "--data-dir", str(root), "--out", str(tmp_path / "maps.npz"), "--heldout", str(HELDOUT),
                 "--no-progress"])
    err = _error(capsys, code)
    assert "fr" in err and "german" in err
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------- xlt align eval

def test_align_eval_on_identical_text(tmp_path, tiny):
    """A copy of English retrieves every word perfectly before alignment, and a Procrustes map
    fitted on the copy (the identity, up to float error) keeps it perfect."""
    _, spec = tiny
    write_ntrex(tmp_path, {"eng": EN, "deu": EN})
    out = tmp_path / "maps.npz"
    run_align_fit(AlignFitSettings(out=str(out), methods="procrustes", langs="de", model=spec, align_layer=1,
                                 heldout=HELDOUT, data_dir=str(tmp_path), progress=False))
    rep = run_align_eval([str(out)], heldout=HELDOUT, align_layer=1, gold=False, data_dir=str(tmp_path),
                         out=str(tmp_path / "eval.json"), progress=False)
    n_words = sum(len(s) for s in words(EN[-HELDOUT:]))
    for name in ("before", str(out)):
        for layer, sc in rep["results"]["ntrex"][name]["deu"].items():
            assert sc["n_links"] == n_words  # held-out lines only
            assert sc["sentence"] == 100.0 and sc["all"] == 100.0, (name, layer)
    assert json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))["summary"]["ntrex"]["before"]
    # without aligners: the model's own vectors, at every layer; --langs then needed
    own = run_align_eval([], model=spec, langs="de", heldout=HELDOUT, align_layer=1, gold=False,
                         data_dir=str(tmp_path), progress=False)
    assert list(own["results"]["ntrex"]) == ["before"]
    assert len(own["results"]["ntrex"]["before"]["deu"]) == tiny[0].num_layers + 1
    with pytest.raises(AlignerError, match="--model and --langs"):
        run_align_eval([], model=spec, heldout=HELDOUT, data_dir=str(tmp_path), progress=False)


def test_word_retrieval_matches_the_per_sentence_reference():
    """The vectorised scorer agrees with retrieval_at_1 summed sentence by sentence."""
    from xlt.align.fit import word_retrieval

    rng = np.random.default_rng(0)
    eng = [rng.normal(size=(m, 2, 8)).astype(np.float16) for m in (5, 3, 7, 4)]
    tgt = [(e + 0.8 * rng.normal(size=e.shape)).astype(np.float16)[::-1] for e in eng]  # reversed order
    links = [[(i, len(e) - 1 - i) for i in range(len(e)) if i % 2 == 0] for e in eng]
    links[1] = []  # a sentence without links
    got = word_retrieval(eng, tgt, links, layers=[3, 7], chunk=3)
    pool_all = [np.concatenate([e[:, li].astype(np.float32) for e in eng]) for li in range(2)]
    offsets = np.cumsum([0] + [len(e) for e in eng])
    for li, k in enumerate((3, 7)):
        hs = ha = n = 0
        for s, ls in enumerate(links):
            e, t = eng[s][:, li].astype(np.float32), tgt[s][:, li].astype(np.float32)
            h, c = retrieval_at_1(e, t, ls)
            hs, n = hs + h, n + c
            ha += retrieval_at_1(e, t, ls, pool=pool_all[li], pool_offset=int(offsets[s]))[0]
        assert got[k]["n_links"] == n
        assert got[k]["sentence"] == pytest.approx(100 * hs / n) and got[k]["all"] == pytest.approx(100 * ha / n)
    assert 0 < got[3]["all"] < 100  # the noise makes some, not all, retrievals fail


# ------------------------------------------------------------------- a user's parallel text and dictionary


def same_arrays(a, b):
    """Every map array of two aligner files, compared exactly (language order is the file's)."""
    with np.load(a) as za, np.load(b) as zb:
        keys = sorted(k for k in za.files if k != "__header__")
        assert keys == sorted(k for k in zb.files if k != "__header__") and keys
        for k in keys:
            np.testing.assert_array_equal(za[k], zb[k], err_msg=k)
    return keys


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    """The fake NTREX text as a user's folder: en.txt, de.txt, fr.txt and a README."""
    folder = tmp_path_factory.mktemp("user-corpus")
    for name, lines in (("en", EN), ("de", DE), ("fr", FR)):
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "README").write_text("my corpus\n", encoding="utf-8")
    return folder


def test_user_folder_gives_the_ntrex_maps(root, user_folder, tiny, tmp_path):
    _, spec = tiny
    common = dict(methods="procrustes", model=spec, align_layer=1, heldout=HELDOUT, data_dir=str(root),
                  progress=False)
    a = run_align_fit(AlignFitSettings(out=str(tmp_path / "ntrex.npz"), langs="de,fr", **common))
    b = run_align_fit(AlignFitSettings(out=str(tmp_path / "user.npz"), parallel=str(user_folder), **common))
    keys = same_arrays(tmp_path / "ntrex.npz", tmp_path / "user.npz")
    assert len(keys) == 2 * (tiny[0].num_layers + 1)  # one W per language and layer
    assert list(a["supervision"]) == ["deu", "fra"] and list(b["supervision"]) == ["de", "fr"]
    assert [s["n_pairs"] for s in a["supervision"].values()] == [s["n_pairs"] for s in b["supervision"].values()]
    assert b["info"]["parallel"] == str(user_folder) and b["info"]["ntrex_lines"] == [1, len(EN) - HELDOUT]
    # the same text as two files (English + German) gives the German map again
    two = [str(user_folder / "en.txt"), str(user_folder / "de.txt")]
    run_align_fit(AlignFitSettings(out=str(tmp_path / "pair.npz"), parallel=two, **common))
    de_only = run_align_fit(AlignFitSettings(out=str(tmp_path / "de.npz"), langs="de", **common))
    assert list(de_only["supervision"]) == ["deu"]
    same_arrays(tmp_path / "de.npz", tmp_path / "pair.npz")


def test_user_dictionary_file(root, user_folder, tiny, tmp_path, capsys):
    """A MUSE-style 'english foreign' file gives the entries of dict/en-german.txt (less its
    multi-word line), so the same pairs and the same map."""
    _, spec = tiny
    muse = tmp_path / "my-de.dict"
    muse.write_text("\n".join(line.replace("\t", " ") for line in DICT_LINES if " " not in line) + "\n",
                    encoding="utf-8")
    d = sup.read_dictionary(muse)
    assert d.format == "space" and d.stats == {"n_lines": len(DICT_LINES) - 1, "n_entries": 6, "n_multiword": 0,
                                               "n_duplicates": 1, "n_blank": 1}
    common = dict(methods="procrustes", supervision="dictionary", model=spec, layers="0,1", heldout=HELDOUT,
                  data_dir=str(root), progress=False)
    ref = run_align_fit(AlignFitSettings(out=str(tmp_path / "wikt.npz"), langs="de", **common))
    out = tmp_path / "mine.npz"
    assert main(["align", "fit", "--dictionary", str(muse), "--langs", "de", "--parallel", str(user_folder),
                 "--model", spec, "--layers", "0,1", "--heldout", str(HELDOUT), "--out", str(out),
                 "--no-progress"]) == 0
    assert "de" in capsys.readouterr().out
    rep = json.loads((tmp_path / "mine.report.json").read_text(encoding="utf-8"))
    st = rep["supervision"]["de"]
    assert rep["config"]["supervision"] == "dictionary" and st["file"] == str(muse)
    assert st["n_pairs"] == DICT_PAIRS == ref["supervision"]["deu"]["n_pairs"]
    assert st["n_unknown_source"] == DICT_UNKNOWN_SOURCE and st["n_unknown_target"] == DICT_UNKNOWN_TARGET
    same_arrays(tmp_path / "wikt.npz", out)


def test_align_eval_and_finetune_on_a_user_pair_file(tiny, tmp_path):
    """eval on held-out lines of a '|||' file: English copied to German, so 100 % before and after."""
    _, spec = tiny
    pair = tmp_path / "copy.en-de.txt"
    pair.write_text("\n".join(f"{s} ||| {s}" for s in EN) + "\n", encoding="utf-8")
    out = tmp_path / "maps.npz"
    run_align_fit(AlignFitSettings(out=str(out), methods="procrustes", langs="de", model=spec, align_layer=1,
                                 heldout=HELDOUT, parallel=str(pair), progress=False))
    rep = run_align_eval([str(out)], heldout=HELDOUT, align_layer=1, gold=False, parallel=str(pair), progress=False)
    assert rep["heldout_set"] == "parallel" and "ntrex" not in rep["results"]
    assert rep["heldout_lines"] == [len(EN) - HELDOUT + 1, len(EN)]
    n_words = sum(len(s) for s in words(EN[-HELDOUT:]))
    for name in ("before", str(out)):
        for sc in rep["results"]["parallel"][name]["de"].values():
            assert sc["n_links"] == n_words and sc["sentence"] == 100.0 and sc["all"] == 100.0
    ft = job.run_align_finetune(AlignFinetuneSettings(out=str(tmp_path / "ft"), langs="de", model=spec, align_layer=1,
                                                      heldout=HELDOUT, max_sentences=4, parallel=str(pair),
                                                      progress=False)).report
    n_fit_words = sum(len(s) for s in words(EN[:4]))
    assert ft["parallel"] == str(pair) and ft["links"]["de"]["n_links_one_to_one"] == n_fit_words
