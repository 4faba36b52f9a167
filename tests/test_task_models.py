"""Saved task models: ``xlt transfer --save`` then ``xlt predict`` reproduce the run's own predictions;
fine-tuned folders load in ``transformers.pipeline``; sentence-pair classification learns from both texts."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from fixtures import panx_sentences, sib_examples, upos_sentences, write_token_file

import xlt
from xlt.cli import main
from xlt.data.kinds import PAIR, SEQUENCE, TOKEN
from xlt.data.readers import PairExample, TextExample
from xlt.transfer.model import TaskModel, TaskModelError
from xlt.transfer.training import fit_task_model

pytestmark = pytest.mark.usefixtures("single_torch_thread")

LANGS = ["de", "fr", "es", "sw", "ja"]


def _write_user_ner(root, rng):
    """A PAN-X-like CoNLL set: train + five evaluation files named by language."""
    write_token_file(root / "train.tsv", panx_sentences(60, rng))
    for lang in LANGS:
        write_token_file(root / "eval" / f"test-{lang}.tsv", panx_sentences(12, rng))


def _read_jsonl(path):
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("mode", ["probe", "finetune"])
def test_save_then_predict_reproduces_evaluation_predictions(tiny, tmp_path, mode, capsys):
    _, spec = tiny
    rng = random.Random(3)
    (tmp_path / "eval").mkdir()
    _write_user_ner(tmp_path, rng)
    args = ["transfer", "--train", str(tmp_path / "train.tsv"), "--eval", str(tmp_path / "eval"),
            "--model", spec, "--mode", mode, "--epochs", "3", "--lr", "1e-2" if mode == "probe" else "3e-3",
            "--batch-size", "16", "--seeds", "0,1", "--out", str(tmp_path / "out"), "--save", str(tmp_path / "model"),
            "--predictions", "--no-progress"]
    assert main(args) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert set(report["scores"]) == set(LANGS) and report["metric"] == "f1"
    best = report["best_seed"]
    assert report["dev_scores"][str(best)] == max(report["dev_scores"].values())
    meta = json.loads((tmp_path / "model" / "xlt_task.json").read_text())
    assert meta["mode"] == mode and meta["meta"]["seed"] == best and meta["kind"] == "token"
    for lang in LANGS:
        out = tmp_path / f"pred-{lang}.jsonl"
        assert main(["predict", "--model", str(tmp_path / "model"), "--input",
                     str(tmp_path / "eval" / f"test-{lang}.tsv"), "--out", str(out), "--no-progress"]) == 0
        got = _read_jsonl(out)
        want = _read_jsonl(tmp_path / "out" / "predictions" / f"{lang}.jsonl")
        assert [g["tokens"] for g in got] == [w["tokens"] for w in want]
        assert [g["labels"] for g in got] == [w["pred"] for w in want]
    # the saved model scores what the report says for the best seed
    model = TaskModel.from_pretrained(tmp_path / "model")
    ds = xlt.read_dataset(tmp_path / "train.tsv", eval=[str(tmp_path / "eval")])
    assert model.score(ds.eval["de"].examples, "de") == pytest.approx(report["per_seed"][str(best)]["de"])
    # neither the existing report folder nor the model folder is replaced without --overwrite
    capsys.readouterr()
    assert main(args) == 2
    assert "--out" in capsys.readouterr().err
    other_out = [a if a != str(tmp_path / "out") else str(tmp_path / "out2") for a in args]
    assert main(other_out) == 2
    assert "--save" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["probe", "finetune"])
def test_seed_ensemble_saved_and_predicted(tiny, tmp_path, mode, capsys):
    """``xlt transfer --seed-ensemble --save-which all`` then ``xlt predict`` with every seed's folder:
    the ensemble's predictions score what the run reported for its seed ensemble (two code paths:
    the trainer's pooled probabilities, and the saved models pooled by ensemble_proba)."""
    from xlt.core.metrics import score

    _, spec = tiny
    rng = random.Random(11)
    (tmp_path / "eval").mkdir()
    _write_user_ner(tmp_path, rng)
    assert main(["transfer", "--train", str(tmp_path / "train.tsv"), "--eval", str(tmp_path / "eval"),
                 "--model", spec, "--mode", mode, "--epochs", "3", "--lr", "1e-2" if mode == "probe" else "3e-3",
                 "--batch-size", "16", "--seeds", "0,1", "--seed-ensemble", "--out", str(tmp_path / "out"),
                 "--save", str(tmp_path / "m"), "--save-which", "all", "--no-progress"]) == 0
    assert "ensemble of the 2 seeds" in capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    ens = report["seed_ensemble"]["scores"]
    ds = xlt.read_dataset(tmp_path / "train.tsv", eval=[str(tmp_path / "eval")])
    members = [str(tmp_path / "m" / f"seed-{s}") for s in (0, 1)]
    for lang in ("de", "ja"):
        out = tmp_path / f"ens-{lang}.jsonl"
        argv = ["predict", "--input", str(tmp_path / "eval" / f"test-{lang}.tsv"), "--out", str(out), "--no-progress"]
        assert main(argv[:1] + ["--model", members[0], "--model", members[1]] + argv[1:]) == 0
        assert "an ensemble of 2 models" in capsys.readouterr().err
        pred = [r["labels"] for r in _read_jsonl(out)]
        assert score("f1", ds.kind.gold(ds.eval[lang].examples), pred) == pytest.approx(ens[lang])
        # each member alone scores its own seed's figure
        for s, m in zip((0, 1), members):
            one = tmp_path / f"one-{s}-{lang}.jsonl"
            assert main(["predict", "--model", m] + argv[1:3] + ["--out", str(one), "--no-progress"]) == 0
            pred = [r["labels"] for r in _read_jsonl(one)]
            assert score("f1", ds.kind.gold(ds.eval[lang].examples), pred) == pytest.approx(
                report["per_seed"][str(s)][lang])
    # members of different task kinds are refused before any model loads
    import shutil

    shutil.copytree(members[1], tmp_path / "other")
    meta = json.loads((tmp_path / "other" / "xlt_task.json").read_text())
    (tmp_path / "other" / "xlt_task.json").write_text(json.dumps(dict(meta, kind="sequence")))
    assert main(["predict", "--model", members[0], "--model", str(tmp_path / "other"), "--input",
                 str(tmp_path / "eval" / "test-de.tsv"), "--out", "-"]) == 2
    assert "one task kind" in capsys.readouterr().err


def test_finetuned_folder_loads_in_transformers_pipeline(tiny, tmp_path):
    from transformers import pipeline

    _, spec = tiny
    rng = random.Random(5)
    train = [TextExample(i, t, l) for i, l, t in sib_examples(40, rng, 0)]
    test = [TextExample(i, t, l) for i, l, t in sib_examples(10, rng, 100)]
    ds = xlt.from_examples(train, {"de": test}, dev=test[:5])
    res = xlt.zero_shot_transfer(ds, model=spec, mode="finetune", epochs=2, lr=3e-3, batch_size=8,
                                 progress=False, save=str(tmp_path / "cls"))
    model = res.model
    assert (tmp_path / "cls" / "modeling_xlt.py").is_file()  # mean pooling: the folder carries its head
    clf = pipeline("text-classification", model=str(tmp_path / "cls"), trust_remote_code=True, top_k=None)
    texts = [e.text for e in test]
    ours = model.predict_proba(texts)
    for text, p, out in zip(texts, ours, clf(texts)):
        theirs = {d["label"]: d["score"] for d in out}
        assert set(theirs) == set(model.labels)  # id2label names, not LABEL_0
        np.testing.assert_allclose([theirs[l] for l in model.labels], p, atol=1e-5)
    # token classification: a plain AutoModelForTokenClassification folder, no remote code
    sents = upos_sentences(40, rng)
    from xlt.data.readers import TaggedSentence

    tagged = [TaggedSentence([w for w, _ in s], [t for _, t in s]) for s in sents]
    ds = xlt.from_examples(tagged[:30], {"de": tagged[30:]}, dev=tagged[30:])
    res = xlt.zero_shot_transfer(ds, model=spec, mode="finetune", epochs=2, lr=3e-3, batch_size=8,
                                 progress=False, save=str(tmp_path / "tok"))
    assert not (tmp_path / "tok" / "modeling_xlt.py").exists()
    cfg = json.loads((tmp_path / "tok" / "config.json").read_text())
    assert cfg["architectures"] == ["BertForTokenClassification"] and set(cfg["id2label"].values()) == set(ds.labels)
    tagger = pipeline("token-classification", model=str(tmp_path / "tok"), ignore_labels=[])
    words = tagged[30].tokens
    ours = res.model.predict([words])[0]
    # first subword per word, as xlt tags (WordPiece marks continuation pieces with ##)
    theirs = [d["entity"] for d in tagger(" ".join(words)) if not d["word"].startswith("##")]
    assert theirs == ours


def _pair_examples(n, rng, start):
    """Pairs whose label is the topic of the SECOND text: a model must read text_pair."""
    a = sib_examples(n, rng, start)
    b = sib_examples(n, rng, start + 500)
    rng.shuffle(b)
    return [PairExample(str(start + i), ta, tb, lb) for i, ((_, _, ta), (_, lb, tb)) in enumerate(zip(a, b))]


@pytest.mark.parametrize("mode", ["probe", "finetune"])
def test_pair_classification_learns_from_the_second_text(tiny, tmp_path, mode):
    _, spec = tiny
    rng = random.Random(11)
    train, dev, test = _pair_examples(120, rng, 0), _pair_examples(30, rng, 1000), _pair_examples(35, rng, 2000)
    ds = xlt.from_examples(train, {"de": test}, dev=dev)
    assert ds.kind is PAIR
    settings = dict(epochs=40, lr=1e-2, batch_size=16) if mode == "probe" else dict(epochs=6, lr=3e-3, batch_size=8)
    res = xlt.zero_shot_transfer(ds, model=spec, mode=mode, progress=False, save=str(tmp_path / "m"), **settings)
    chance = 100.0 / len(ds.labels)
    assert res.report["scores"]["de"] > chance + 30
    # the label of (a, b) follows b: swapping the texts changes the predicted topics
    loaded = TaskModel.from_pretrained(tmp_path / "m")
    pairs = [(e.text, e.text_pair) for e in test]
    assert loaded.predict(pairs) == res.model.predict(pairs)
    swapped = loaded.predict([(b, a) for a, b in pairs])
    assert sum(x != y for x, y in zip(swapped, loaded.predict(pairs))) > len(pairs) // 3
    with pytest.raises(ValueError, match="two texts"):
        loaded.predict(["only one text"])


def test_probe_model_round_trip_and_errors(tiny, tmp_path):
    enc, spec = tiny
    rng = random.Random(2)
    train = [TextExample(i, t, l) for i, l, t in sib_examples(40, rng, 0)]
    ds = xlt.from_examples(train, {"fr": train[:8]})
    assert ds.kind is SEQUENCE and len(ds.dev) == 4 and len(ds.train) == 36  # 10% held out
    res = xlt.zero_shot_transfer(ds, model=spec, epochs=5, progress=False)
    m = res.model
    m.save_pretrained(tmp_path / "p")
    back = TaskModel.from_pretrained(tmp_path / "p")
    texts = [e.text for e in train[:8]]
    np.testing.assert_allclose(np.stack(back.predict_proba(texts)), np.stack(m.predict_proba(texts)), atol=1e-6)
    with pytest.raises(FileExistsError):
        m.save_pretrained(tmp_path / "p")
    m.save_pretrained(tmp_path / "p", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["head.safetensors", "xlt_task.json"]
    with pytest.raises(TaskModelError, match="xlt_task.json"):
        TaskModel.from_pretrained(tmp_path)
    (tmp_path / "p" / "head.safetensors").write_bytes(b"broken")
    with pytest.raises(TaskModelError, match="head.safetensors"):
        TaskModel.from_pretrained(tmp_path / "p")


def test_predict_cli_raw_text_and_bad_input(tiny, tmp_path, capsys, monkeypatch):
    _, spec = tiny
    rng = random.Random(4)
    (tmp_path / "eval").mkdir()
    _write_user_ner(tmp_path, rng)
    assert main(["transfer", "--train", str(tmp_path / "train.tsv"), "--eval", f"de={tmp_path / 'eval' / 'test-de.tsv'}",
                 "--model", spec, "--epochs", "2", "--out", str(tmp_path / "out"), "--save", str(tmp_path / "m"),
                 "--no-progress"]) == 0
    (tmp_path / "in.txt").write_text("the big house is happy.\n\na dog sat\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "m"), "--input", str(tmp_path / "in.txt"), "--out", "-",
                 "--format", "conll", "--no-progress"]) == 0
    out = capsys.readouterr().out
    # the empty input line is an empty sentence: one more blank line between the two sentences
    blocks = out.split("\n\n\n")
    assert [l.split("\t")[0] for l in blocks[0].splitlines()] == ["the", "big", "house", "is", "happy", "."]
    assert [l.split("\t")[0] for l in blocks[1].strip().splitlines()] == ["a", "dog", "sat"]
    # bad input is found before the model loads
    import xlt.transfer.model as model_module

    monkeypatch.setattr(model_module.TaskModel, "from_pretrained", classmethod(lambda *a, **k: 1 / 0))
    (tmp_path / "bad.jsonl").write_text('{"tokens": ["a"]}\nnot json\n', encoding="utf-8")
    assert main(["predict", "--model", str(tmp_path / "m"), "--input", str(tmp_path / "bad.jsonl"), "--out", "-"]) == 2
    assert f"{tmp_path / 'bad.jsonl'}:2: not JSON" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path / "m"), "--input", str(tmp_path / "in.txt"),
                 "--out", str(tmp_path / "in.txt")]) == 2
    assert "is also an input" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path), "--input", str(tmp_path / "in.txt"), "--out", "-"]) == 2
    assert "xlt_task.json" in capsys.readouterr().err
    assert TOKEN.name == "token"


def test_transfer_from_a_save_to_disk_folder_and_jsonl_pairs(tiny, tmp_path):
    """A `datasets` folder (ClassLabel names) as training data and JSONL pair files as evaluation sets."""
    datasets = pytest.importorskip("datasets")
    _, spec = tiny
    rng = random.Random(8)
    train = _pair_examples(60, rng, 0)
    topics = sorted({e.label for e in train})
    feats = datasets.Features({"premise": datasets.Value("string"), "hypothesis": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=topics)})
    dd = datasets.DatasetDict({
        split: datasets.Dataset.from_dict({"premise": [e.text for e in exs], "hypothesis": [e.text_pair for e in exs],
                                           "label": [topics.index(e.label) for e in exs]}, features=feats)
        for split, exs in [("train", train), ("validation", _pair_examples(20, rng, 500))]})
    dd.save_to_disk(str(tmp_path / "nli"))
    test = _pair_examples(10, rng, 900)
    (tmp_path / "xnli.sw.test.jsonl").write_text("".join(
        json.dumps({"premise": e.text, "hypothesis": e.text_pair, "label": e.label}) + "\n" for e in test),
        encoding="utf-8")
    assert main(["transfer", "--train", f"{tmp_path / 'nli'}@train", "--dev", f"{tmp_path / 'nli'}@validation",
                 "--eval", str(tmp_path / "xnli.sw.test.jsonl"), "--model", spec, "--epochs", "3",
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["kind"] == "pair" and set(report["scores"]) == {"sw"}
    # class names come from the ClassLabel feature, not its integer ids
    assert report["labels"] == topics and report["counts"]["sw"]["sentences"] == 10
    assert report["source_counts"]["dev"]["sentences"] == 20


def test_task_model_fit_predict_score(tiny):
    """The estimator-style API: fit on a data set, score, predict."""
    enc, _ = tiny
    rng = random.Random(9)
    train = [TextExample(i, t, l) for i, l, t in sib_examples(60, rng, 0)]
    test = [TextExample(i, t, l) for i, l, t in sib_examples(20, rng, 100)]
    ds = xlt.from_examples(train, {"de": test})
    model = fit_task_model(ds, enc, mode="probe", epochs=60, lr=1e-2, batch_size=16)
    chance = 100.0 / len(ds.labels)
    assert model.score(test) > chance + 30
    assert model.predict([test[0].text]) == [model.labels[int(np.argmax(model.predict_proba([test[0].text])[0]))]]
    with pytest.raises(ValueError, match="unknown settings"):
        fit_task_model(ds, enc, epochz=3)


def test_labels_option_fixes_the_inventory_order(tiny, tmp_path, capsys):
    _, spec = tiny
    rng = random.Random(12)
    (tmp_path / "eval").mkdir()
    _write_user_ner(tmp_path, rng)
    order = "O,B-PER,I-PER,B-ORG,I-ORG,B-LOC,I-LOC"
    base = ["transfer", "--train", str(tmp_path / "train.tsv"), "--eval", str(tmp_path / "eval" / "test-de.tsv"),
            "--model", spec, "--epochs", "1", "--no-progress"]
    assert main(base + ["--labels", order, "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "report.json").read_text())["labels"] == order.split(",")
    # default order: O, then per type (sorted) B- before I-
    assert main(base + ["--out", str(tmp_path / "b")]) == 0
    labels = json.loads((tmp_path / "b" / "report.json").read_text())["labels"]
    assert labels[0] == "O" and labels != order.split(",")
    types = [l[2:] for l in labels[1:]]
    assert types == sorted(types)  # grouped by entity type, types in alphabetical order
    capsys.readouterr()
    assert main(base + ["--labels", "O,B-PER,I-PER", "--out", str(tmp_path / "c")]) == 2
    assert "outside the fixed inventory" in capsys.readouterr().err


def test_predict_cli_csv_input_keeps_other_columns(tiny, tmp_path, capsys):
    _, spec = tiny
    rng = random.Random(6)
    train = [TextExample(i, t, l) for i, l, t in sib_examples(40, rng, 0)]
    ds = xlt.from_examples(train, {"de": train[:5]})
    xlt.zero_shot_transfer(ds, model=spec, epochs=3, progress=False, save=str(tmp_path / "m"))
    (tmp_path / "in.csv").write_text('id,comment,gold\n7,"happy cats, a dog .",health\n8,,x\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "m"), "--input", str(tmp_path / "in.csv"),
                 "--text-column", "comment", "--out", "-", "--no-progress"]) == 0
    rows = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert rows[0]["id"] == "7" and rows[0]["gold"] == "health" and rows[0]["text"] == "happy cats, a dog ."
    assert rows[0]["label"] in ds.labels and abs(sum(rows[0]["scores"].values()) - 1) < 1e-4
    assert rows[1]["label"] is None and rows[1]["id"] == "8"  # an empty text keeps its row
    assert main(["predict", "--model", str(tmp_path / "m"), "--input", str(tmp_path / "in.csv"), "--out", "-"]) == 2
    assert "text column" in capsys.readouterr().err  # no known text column and no --text-column


def _iob2_well_formed(tags: list[str]) -> bool:
    prev = "O"
    for t in tags:
        if t.startswith("I-") and prev[2:] != t[2:]:
            return False
        prev = t
    return True


def test_decoding_saved_with_the_model_and_chosen_in_predict(tiny, tmp_path, capsys):
    """``--decoding argmax`` is saved with the model and used by ``xlt predict``; ``--decoding bio``
    there gives well-formed BIO sequences, the argmax ones wherever those already are."""
    _, spec = tiny
    rng = random.Random(5)
    (tmp_path / "eval").mkdir()
    _write_user_ner(tmp_path, rng)
    assert main(["transfer", "--train", str(tmp_path / "train.tsv"),
                 "--eval", f"de={tmp_path / 'eval' / 'test-de.tsv'}",
                 "--model", spec, "--mode", "finetune", "--epochs", "3", "--lr", "3e-3", "--batch-size", "16",
                 "--decoding", "argmax", "--save", str(tmp_path / "m"), "--out", str(tmp_path / "out"),
                 "--no-progress"]) == 0
    assert json.loads((tmp_path / "m" / "xlt_task.json").read_text())["decoding"] == "argmax"
    model = TaskModel.from_pretrained(tmp_path / "m")
    assert model.decoding == "argmax"
    # push the inside tags up until argmax emits stray ones, so the two decodings must differ
    import torch

    with torch.no_grad():
        for k, name in enumerate(model.labels):
            if name.startswith("I-"):
                model.model.classifier.bias[k] += 2.0
    model.save_pretrained(tmp_path / "m", overwrite=True)
    ds = xlt.read_dataset(tmp_path / "train.tsv", eval=[str(tmp_path / "eval")])
    examples = ds.eval["de"].examples + ds.eval["fr"].examples
    argmax = [[model.labels[i] for i in p.argmax(-1)] for p in model.predict_proba(examples)]
    src = tmp_path / "in.tsv"
    write_token_file(src, [list(zip(e.tokens, e.labels)) for e in examples])
    outs = {}
    for flag in ([], ["--decoding", "bio"]):
        out = tmp_path / f"pred{len(flag)}.jsonl"
        assert main(["predict", "--model", str(tmp_path / "m"), "--input", str(src), "--out", str(out),
                     "--no-progress", *flag]) == 0
        outs[tuple(flag)] = [r["labels"] for r in _read_jsonl(out)]
    assert outs[()] == argmax  # the saved setting
    bio = outs[("--decoding", "bio")]
    assert all(_iob2_well_formed(t) for t in bio)
    assert all(b == a for a, b in zip(argmax, bio) if _iob2_well_formed(a))
    assert any(not _iob2_well_formed(a) for a in argmax)  # the comparison is not empty
    model.decoding = "bio"
    assert model.predict(examples) == bio
