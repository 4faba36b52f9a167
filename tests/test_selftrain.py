"""Self-training and distillation on unlabelled target text (issue 29): xlt.data.unlabeled,
xlt.transfer.selftrain, xlt transfer --self-train / --distill-from.

The synthetic self-training task is built so that the expected result has a reason: the source
separates its two classes along feature x only (feature y is label-free noise there), so a
source-trained teacher ignores y; the target's classes are shifted towards each other along x
(the teacher errs near x = 0) but lie in two tight clusters at y = +1 and y = -1. The teacher's
confident predictions (far from x = 0) are nearly all right, and they show that y separates
the target classes; a student trained on them learns y and gets the points near x = 0 right.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from fixtures import PANX_OF, make_synthetic_data, panx_sentences, write_token_file

from xlt.cli import main
from xlt.data.readers import TaggedSentence, TextExample
from xlt.data.unlabeled import UnlabeledError, UnlabeledText, builtin_unlabeled, read_unlabeled
from xlt.jobs import ConfigError
from xlt.jobs.parts import TransferSettings
from xlt.transfer.probe import predict, predict_logits, train_probe
from xlt.transfer.selftrain import (DistillationProbeTrainer, FeatureRows, SelfTraining, UnlabeledFeatures,
                                    pseudo_label, pseudo_targets, sample_per_language, select_confident)

pytestmark = pytest.mark.usefixtures("single_torch_thread")


# --------------------------------------------------------------------------- by hand


def test_pseudo_label_hard_soft_and_confidence_by_hand():
    labels = ["O", "B-PER", "I-PER"]
    p = [np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6]], dtype=np.float32),
         np.zeros((0, 3), dtype=np.float32)]
    hard = pseudo_label(p, labels, token=True)
    # decoded O B-PER I-PER (well-formed): confidence = the least sure word's probability of its label
    assert hard.confidence[0] == pytest.approx(0.6)
    assert hard.confidence[1] == 0.0  # an empty sentence is never confident
    np.testing.assert_array_equal(hard.targets[0], np.eye(3)[[0, 1, 2]])
    soft = pseudo_label(p, labels, token=True, soft=True)
    np.testing.assert_allclose(soft.targets[0], p[0])
    assert soft.confidence[0] == pytest.approx(0.6)
    # BIO decoding repairs an ill-formed argmax (O I-PER): the Viterbi path is O B-PER, whose
    # second word's probability of B-PER (0.45) is the confidence
    q = [np.array([[0.8, 0.1, 0.1], [0.05, 0.45, 0.5]], dtype=np.float32)]
    bio = pseudo_label(q, labels, token=True)
    np.testing.assert_array_equal(bio.targets[0].argmax(-1), [0, 1])
    assert bio.confidence[0] == pytest.approx(0.45)
    argmax = pseudo_label(q, labels, token=True, decoding="argmax")
    np.testing.assert_array_equal(argmax.targets[0].argmax(-1), [0, 2])
    # text classification: the top probability
    text = pseudo_label([np.array([0.3, 0.7]), np.array([0.55, 0.45])], ["a", "b"], token=False)
    np.testing.assert_allclose(text.confidence, [0.7, 0.55])
    np.testing.assert_array_equal(np.stack(text.targets), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="columns"):
        pseudo_label([np.array([0.5, 0.5])], ["a", "b", "c"], token=False)


def test_select_confident_by_hand():
    conf = np.array([0.95, 0.5, 0.9, 0.89, 1.0])
    np.testing.assert_array_equal(select_confident(conf, 0.9), [0, 2, 4])  # >= the threshold
    np.testing.assert_array_equal(select_confident(conf, 0.0), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(select_confident(conf, 1.0), [4])
    with pytest.raises(ValueError):
        select_confident(conf, 1.5)


def test_sample_per_language_by_hand():
    selected = {"de": np.arange(0, 100, 2), "sw": np.array([3, 7]), "yo": np.array([], dtype=np.int64)}
    out = sample_per_language(selected, 10, seed=1)
    assert len(out["de"]) == 10 and len(out["sw"]) == 2 and len(out["yo"]) == 0  # capped, small ones whole
    assert set(out["de"]) <= set(selected["de"]) and list(out["de"]) == sorted(out["de"])
    assert len(set(out["de"])) == 10  # without replacement
    np.testing.assert_array_equal(out["sw"], [3, 7])
    again = sample_per_language(selected, 10, seed=1)
    np.testing.assert_array_equal(out["de"], again["de"])  # the same draw for the same seed
    other = sample_per_language(selected, 10, seed=2)
    assert list(other["de"]) != list(out["de"])
    assert sample_per_language(selected, None)["de"].tolist() == selected["de"].tolist()
    with pytest.raises(ValueError):
        sample_per_language(selected, 0)


def test_pseudo_targets_threshold_and_cap_by_hand():
    labels = ["a", "b"]
    X = torch.arange(5, dtype=torch.float32)[:, None]
    feats = {"de": UnlabeledFeatures("de", [TextExample(str(i), "t", "") for i in range(5)], X, np.arange(6))}
    probas = {"de": [np.array([0.95, 0.05]), np.array([0.6, 0.4]), np.array([0.1, 0.9]), np.array([0.5, 0.5]),
                     np.array([0.02, 0.98])]}
    parts, Yp, counts = pseudo_targets(probas, feats, labels, SelfTraining(threshold=0.9), token=False)
    Xp = FeatureRows(parts)
    assert len(Xp) == 3 and Xp[torch.arange(3)][:, 0].tolist() == [0.0, 2.0, 4.0]
    assert Yp.tolist() == [[1, 0], [0, 1], [0, 1]]
    assert counts["de"] == {"unlabeled": 5, "confident": 3, "used": 3, "rows": 3,
                            "mean_confidence": pytest.approx((0.95 + 0.6 + 0.9 + 0.5 + 0.98) / 5)}
    _, Yc, counts = pseudo_targets(probas, feats, labels, SelfTraining(threshold=0.9, per_language=2), token=False)
    assert counts["de"]["confident"] == 3 and counts["de"]["used"] == 2 and len(Yc) == 2
    _, Ys, _ = pseudo_targets(probas, feats, labels, SelfTraining(threshold=0.0, labels="soft"), token=False)
    np.testing.assert_allclose(Ys.numpy(), np.stack(probas["de"]), rtol=1e-6)


def test_feature_rows_index_like_one_tensor():
    a, b = torch.arange(12.0).reshape(6, 2), torch.arange(100.0, 120.0).reshape(10, 2)
    rows = FeatureRows([(a, None), (b, np.array([7, 2, 9]))])
    whole = torch.cat([a, b[[7, 2, 9]]])
    assert len(rows) == 9 and rows.shape == (9, 2) and rows.ndim == 2
    idx = torch.tensor([8, 0, 6, 5, 7, 6])
    assert torch.equal(rows[idx], whole[idx])
    with pytest.raises(ValueError):
        FeatureRows([(a, None), (torch.zeros(3, 5), None)])


def test_self_training_config_is_checked():
    for bad in (dict(rounds=0), dict(rounds=-1), dict(threshold=1.5), dict(labels="x"), dict(per_language=0),
                dict(teacher="x")):
        with pytest.raises(ValueError):
            SelfTraining(**bad)


# --------------------------------------------------------------------------- the issue's tests


def _clusters(rng, n, centre_x, spread_x, y, y_noise):
    x = rng.normal(centre_x, spread_x, n)
    return np.stack([x, rng.normal(y, y_noise, n)], axis=1).astype(np.float32)


def test_self_trained_student_beats_its_teacher_on_a_shifted_target():
    rng = np.random.default_rng(0)
    # source: classes apart along x; y is label-free noise
    src = np.concatenate([_clusters(rng, 200, -1.5, 0.3, 0.0, 0.5), _clusters(rng, 200, 1.5, 0.3, 0.0, 0.5)])
    y_src = torch.tensor([0] * 200 + [1] * 200)
    # target: shifted towards each other along x (overlapping x = 0) but apart along y
    tgt = np.concatenate([_clusters(rng, 300, -0.5, 0.5, 1.0, 0.1), _clusters(rng, 300, 0.5, 0.5, -1.0, 0.1)])
    y_tgt = np.array([0] * 300 + [1] * 300)
    X_src, X_tgt = torch.from_numpy(src), torch.from_numpy(tgt)
    dev_X, dev_y = X_src[::4], y_src[::4].numpy()  # selection on source data only

    def dev_score(head):  # source dev log-likelihood (accuracy is 100 from the first epoch on)
        z = predict_logits(head, dev_X)
        z = z - z.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        return float(logp[np.arange(len(dev_y)), dev_y].mean())

    kw = dict(epochs=30, batch_size=32, lr=5e-2, seed=0, progress=False)
    teacher = train_probe(X_src, y_src, 2, dev_score, **kw).head
    teacher_acc = 100.0 * float((predict(teacher, X_tgt) == y_tgt).mean())

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    examples = [TextExample(str(i), "t", "") for i in range(len(tgt))]
    feats = {"xx": UnlabeledFeatures("xx", examples, X_tgt, np.arange(len(tgt) + 1))}
    probas = {"xx": list(softmax(predict_logits(teacher, X_tgt)))}
    parts, Yp, counts = pseudo_targets(probas, feats, ["0", "1"], SelfTraining(threshold=0.9), token=False)
    # the confident pseudo-labels are (nearly) all right: the threshold keeps points far from x = 0
    kept = select_confident(np.array([p.max() for p in probas["xx"]]), 0.9)
    assert 0 < len(kept) < len(tgt)
    assert (np.array([p.argmax() for p in probas["xx"]])[kept] == y_tgt[kept]).mean() >= 0.93
    X = FeatureRows([(X_src, None)] + parts)  # the student's rows, as the trainer gives them
    Y = torch.cat([torch.nn.functional.one_hot(y_src, 2).float(), Yp])
    student = train_probe(X, Y, 2, dev_score, **kw).head
    student_acc = 100.0 * float((predict(student, X_tgt) == y_tgt).mean())
    assert teacher_acc < 90.0  # the shift costs the teacher the points near x = 0
    assert student_acc >= teacher_acc + 5.0, (teacher_acc, student_acc)
    assert (predict(student, X_src) == y_src.numpy()).mean() >= 0.98  # and the source is kept


def test_noisy_student_probe_drops_features_and_still_learns():
    """Feature dropout (the noisy student's noise) changes what the probe learns - so it is applied
    - and a linearly separable task is still learned through it; p >= 1 is refused."""
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(size=(400, 16)).astype(np.float32))
    y = torch.from_numpy((X[:, 0] + X[:, 1] > 0).numpy().astype(np.int64))
    def accuracy(head) -> float:
        return float((predict(head, X) == y.numpy()).mean())

    plain = train_probe(X, y, 2, accuracy, epochs=40, lr=3e-2, progress=False, seed=0)
    noisy = train_probe(X, y, 2, accuracy, epochs=40, lr=3e-2, progress=False, seed=0, input_dropout=0.3)
    again = train_probe(X, y, 2, accuracy, epochs=40, lr=3e-2, progress=False, seed=0, input_dropout=0.3)
    w = [dict(r.head.state_dict()) for r in (plain, noisy, again)]
    assert not all(torch.equal(w[0][k], w[1][k]) for k in w[0])
    assert all(torch.equal(w[1][k], w[2][k]) for k in w[1])  # the masks follow the seed
    assert accuracy(noisy.head) >= 0.95
    with pytest.raises(ValueError, match="input_dropout"):
        train_probe(X, y, 2, lambda h: 0.0, epochs=1, progress=False, input_dropout=1.0)
    with pytest.raises(ValueError, match="noise"):
        SelfTraining(noise=1.0)


@pytest.fixture(scope="module")
def panx_trainers(tiny, data):
    """Two seeds' probes on the synthetic PAN-X data (the teachers of the distillation test)."""
    from xlt.data.dataset import load_task
    from xlt.transfer.training import ProbeTrainer, ProbeTraining

    encoder, _ = tiny
    ds = load_task("panx", "en", "de", data_dir=data.root)
    training = ProbeTraining.for_kind("token", epochs=15, lr=1e-2, progress=False)
    trainer = ProbeTrainer(encoder, ds, training)
    trainer.train([0, 1])
    return encoder, ds, training, trainer


def _assert_near_the_teachers_mean(student, teachers, english, german) -> None:
    """The student's probabilities on the text it learned from are the teachers' mean, within a
    mean absolute difference of 0.03 (and 0.35 at most)."""
    from xlt.transfer.ensemble import mean_proba

    for examples, lang in ((english, "en"), (german, "de")):
        mean = np.concatenate(mean_proba([t.predict_proba(examples, lang) for t in teachers]))
        got = np.concatenate(student.predict_proba(examples, lang))
        assert np.abs(got - mean).mean() < 0.03, np.abs(got - mean).mean()
        assert np.abs(got - mean).max() < 0.35


def test_distillation_from_two_models_reproduces_their_mean(panx_trainers):
    encoder, ds, _, trainer = panx_trainers
    from xlt.transfer.training import ProbeTraining

    teachers = [trainer.models[0], trainer.models[1]]
    text = UnlabeledText("de", ds.eval["de"].examples, "dev-de (test)")
    student_training = ProbeTraining.for_kind("token", epochs=60, lr=2e-2, progress=False)
    distil = DistillationProbeTrainer(encoder, ds, student_training, teachers, {"de": text},
                                      SelfTraining(threshold=0.0, labels="soft"))
    distil.train([0])
    _assert_near_the_teachers_mean(distil.models[0], teachers, ds.train.examples, text.examples)
    assert distil.rounds[0]["languages"]["de"]["used"] == len(text.examples)
    with pytest.raises(ValueError, match="labels"):
        other = type(teachers[0])(encoder, teachers[0].head, "token", list(reversed(ds.labels)))
        DistillationProbeTrainer(encoder, ds, student_training, [other], {"de": text}, SelfTraining())


def test_finetuned_distillation_from_two_models_reproduces_their_mean(panx_trainers):
    """A fine-tuned student of two probe teachers: its probabilities on the text it was trained
    on come close to the teachers' mean (the soft targets it learned); the source's gold labels
    are not trained on."""
    from xlt.transfer.selftrain import DistillationFinetuneTrainer
    from xlt.transfer.training import FinetuneTraining

    encoder, ds, _, trainer = panx_trainers
    teachers = [trainer.models[0], trainer.models[1]]
    text = UnlabeledText("de", ds.eval["de"].examples, "dev-de (test)")
    # the tiny model's embeddings are random, so they are trained here (real models' are not)
    training = FinetuneTraining.for_kind("token", epochs=12, batch_size=8, lr=2e-3, freeze_embeddings=False,
                                         progress=False)
    distil = DistillationFinetuneTrainer(encoder, ds, training, teachers, {"de": text},
                                         SelfTraining(threshold=0.0, labels="soft"))
    distil.train([0])
    student = distil.models[0]
    _assert_near_the_teachers_mean(student, teachers, ds.train.examples, text.examples)  # measured 0.021
    assert distil.rounds[0]["rows"]["pseudo"] == len(ds.train.examples) + len(text.examples)
    assert student.meta["distilled_from"] == 2 and distil.soft_targets is None and distil.ds is ds
    with pytest.raises(ValueError, match="labels"):
        other = type(teachers[0])(encoder, teachers[0].head, "token", list(reversed(ds.labels)))
        DistillationFinetuneTrainer(encoder, ds, training, [other], {"de": text}, SelfTraining())


# --------------------------------------------------------------------------- unlabelled text


def test_read_unlabeled_raw_text_data_file_and_folder(tmp_path):
    raw = tmp_path / "sw.txt"
    raw.write_text("Amina alienda Nairobi jana.\n\n  Habari za asubuhi  \n", encoding="utf-8")
    text = read_unlabeled(raw, "sw", "token")
    assert [e.tokens for e in text.examples] == [["Amina", "alienda", "Nairobi", "jana", "."],
                                                 ["Habari", "za", "asubuhi"]]
    assert all(set(e.labels) == {"O"} for e in text.examples) and text.n_lines == 3
    seq = read_unlabeled(raw, "sw", "sequence")
    assert [e.text for e in seq.examples] == ["Amina alienda Nairobi jana.", "Habari za asubuhi"]
    tagged = tmp_path / "folder" / "de.tsv"
    write_token_file(tagged, [[("Anna", "B-PER"), ("lebt", "O")], [("in", "O"), ("Wien", "B-LOC")]])
    (tmp_path / "folder" / "more.txt").write_text("noch ein Satz\n", encoding="utf-8")
    folder = read_unlabeled(tmp_path / "folder", "de", "token")
    assert [e.tokens for e in folder.examples] == [["Anna", "lebt"], ["in", "Wien"], ["noch", "ein", "Satz"]]
    assert all(set(e.labels) == {"O"} for e in folder.examples)  # the file's labels are never kept
    assert len(read_unlabeled(tmp_path / "folder", "de", "token", limit=2).examples) == 2
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(UnlabeledError, match="no text"):
        read_unlabeled(tmp_path / "empty.txt", "de", "token")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(ValueError, match=r"bad.txt:2"):
        read_unlabeled(bad, "de", "token")


def test_builtin_unlabeled_leaves_out_the_evaluation_sentences(tmp_path):
    import random

    data = make_synthetic_data(tmp_path / "data")
    dev = data.token_files["panx/dev-de.tsv"]
    own = panx_sentences(20, random.Random(5))
    # German training text that repeats five of the evaluation sentences
    write_token_file(data.path("panx/train-de.tsv"), own[:10] + dev[:5] + own[10:])
    evaluation = {"de": [TaggedSentence([w for w, _ in s], [t for _, t in s]) for s in dev]}
    got = builtin_unlabeled("panx", ["de"], evaluation, data_dir=data.root)["de"]
    dev_texts = {tuple(w for w, _ in s) for s in dev}
    assert got.n_excluded == len({tuple(w for w, _ in s) for s in dev[:5]}) > 0
    assert not any(tuple(e.tokens) in dev_texts for e in got.examples)
    assert len(got.examples) == 25 - got.n_excluded and not got.transductive
    assert all(set(e.labels) == {"O"} for e in got.examples)
    assert "train-de.tsv" in got.origin
    # only with transductive=True are the evaluation sentences the text (labels removed)
    trans = builtin_unlabeled("panx", ["de"], evaluation, data_dir=data.root, transductive=True)["de"]
    assert trans.transductive and [tuple(e.tokens) for e in trans.examples] == [tuple(w for w, _ in s) for s in dev]
    assert all(set(e.labels) == {"O"} for e in trans.examples)
    # a language without training text gives none
    assert builtin_unlabeled("panx", ["fr"], {"fr": []}, data_dir=data.root) == {}


def test_transductive_is_reported_and_needs_builtin(tiny, data, tmp_path):
    _, spec = tiny
    with pytest.raises(ConfigError, match="--unlabeled builtin"):
        TransferSettings(task="panx", self_train=1, unlabeled=["de=x.txt"], transductive=True)
    from xlt.jobs.transfer import run

    s = TransferSettings(task="panx", data_dir=data.root, model=spec, epochs=2, self_train=1, unlabeled=["builtin"],
                         transductive=True, pseudo_threshold=0.0, progress=False, out=tmp_path / "out")
    report = run(s, command=["xlt", "transfer"]).report
    st = report["self_training"]
    assert st["transductive"] is True and st["unlabeled"]["de"]["transductive"] is True
    assert st["unlabeled"]["de"]["examples"] == len(data.token_files["panx/dev-de.tsv"])
    assert "**transductive**" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert st["selection"].startswith("source dev set only")


# --------------------------------------------------------------------------- settings and command line


@pytest.mark.parametrize("kwargs, words", [
    (dict(self_train=1, unlabeled=["de=x.txt"], pseudo_threshold=1.5), "--pseudo-threshold 1.5"),
    (dict(self_train=0, unlabeled=["de=x.txt"]), "--self-train 0"),
    (dict(self_train=-2, unlabeled=["de=x.txt"]), "--self-train -2"),
    (dict(self_train=1), "--unlabeled"),
    (dict(self_train=1, unlabeled=["x.txt"]), "LANG=FILE"),
    (dict(pseudo_threshold=0.5), "--self-train"),
    (dict(self_train=1, unlabeled=["de=x.txt"], distill_from=["m"]), "one"),
    (dict(self_train=1, unlabeled=["de=x.txt"], pseudo_per_language=0), "--pseudo-per-language 0"),
    (dict(self_train=1, unlabeled=["de=x.txt"], student_noise=1.0), "--student-noise 1.0"),
    (dict(self_train=1, unlabeled=["de=x.txt"], student_noise=0.2, mode="finetune"), "encoder's own dropout"),
    (dict(student_noise=0.2), "--self-train"),
])
def test_bad_settings_fail_at_construction(kwargs, words):
    with pytest.raises(ConfigError) as exc:
        TransferSettings(task="panx", **kwargs)
    assert words in str(exc.value)


def _cli(args, capsys):
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("extra, words", [
    (["--self-train", "1", "--pseudo-threshold", "1.5"], ["--pseudo-threshold 1.5"]),
    (["--self-train", "0"], ["--self-train 0"]),
    (["--self-train", "-1"], ["--self-train -1"]),
    (["--self-train", "1", "--bad-bytes"], ["bad.txt:2", "UTF-8"]),
])
def test_bad_input_is_one_error_line_before_the_model_loads(extra, words, tiny, data, tmp_path, no_model, capsys):
    _, spec = tiny
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"a good line\na bad \xff byte\n")
    good = tmp_path / "good.txt"
    good.write_text("a good line\n", encoding="utf-8")
    unlabeled = ["--unlabeled", f"de={bad if '--bad-bytes' in extra else good}"]
    args = ["transfer", "--task", "panx", "--data-dir", str(data.root), "--model", spec, "--out",
            str(tmp_path / "out"), *unlabeled, *[e for e in extra if e != "--bad-bytes"]]
    code, err = _cli(args, capsys)
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.startswith("xlt: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_cli_self_train_end_to_end_and_predict(tiny, data, tmp_path, capsys):
    _, spec = tiny
    text = tmp_path / "de.txt"
    text.write_text("the happy walk sat on the mat .\na big house is in the mat .\nthe cat sat .\n", encoding="utf-8")
    out, model = tmp_path / "out", tmp_path / "model"
    code = main(["transfer", "--task", "panx", "--data-dir", str(data.root), "--model", spec, "--epochs", "3",
                 "--self-train", "1", "--unlabeled", f"de={text}", "--pseudo-threshold", "0.0", "--out", str(out),
                 "--save", str(model), "--no-progress"])
    assert code == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    st = report["self_training"]
    assert st["unlabeled"]["de"]["examples"] == 3 and st["transductive"] is False
    assert [r["round"] for r in st["rounds"]] == [1]
    assert st["rounds"][0]["languages"]["de"]["used"] == 3  # threshold 0: every sentence
    assert report["config"]["self_train"] == 1 and report["config"]["unlabeled"] == [f"de={text}"]
    assert str(text) in {row["path"] for row in report["manifest"]["data_files"]}  # hashed with the data
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "Learning from unlabelled target text" in md and "Cost per round" in md
    cost = st["round_costs"]
    assert [c["round"] for c in cost] == [1] and cost[0]["seconds"] >= 0 and cost[0]["peak_memory_mib"] > 10
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--input", str(text), "--lang", "de", "--out", "-"]) == 0
    rows = [json.loads(l) for l in capsys.readouterr().out.splitlines() if l.startswith("{")]
    assert len(rows) == 3 and rows[0]["tokens"][:2] == ["the", "happy"]
    assert all(set(r["labels"]) <= set(PANX_OF.values()) for r in rows)


def _sib_self_train(data, spec, tmp_path, *extra) -> dict:
    """``xlt transfer`` on the synthetic SIB-200 with three German lines of unlabelled text; the report."""
    text = tmp_path / "deu.txt"
    text.write_text("the happy cat is a dog .\nrun and walk big .\nhouse in to of the .\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["transfer", "--task", "sib200", "--source", "eng_Latn", "--targets", "deu_Latn", "--data-dir",
                 str(data.root), "--model", spec, "--unlabeled", f"deu_Latn={text}", *extra, "--out", str(out),
                 "--no-progress"]) == 0
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_text_classification_self_train_cli(tiny, data, tmp_path):
    st = _sib_self_train(data, tiny[1], tmp_path, "--epochs", "3", "--self-train", "2", "--pseudo-labels",
                         "soft")["self_training"]
    assert [r["round"] for r in st["rounds"]] == [1, 2]
    assert st["rounds"][0]["languages"]["deu_Latn"]["used"] == 3  # soft labels: threshold 0 by default
    assert st["config"]["pseudo_threshold"] == 0.0


def test_pair_classification_self_training_trainer(tiny):
    from xlt.data.dataset import from_examples
    from xlt.data.readers import PairExample
    from xlt.transfer.selftrain import SelfTrainingProbeTrainer
    from xlt.transfer.training import ProbeTraining

    encoder, _ = tiny
    pairs = [("the cat sat", "the cat sat", "same"), ("a big house", "the dog run", "different"),
             ("happy walk", "happy walk", "same"), ("on the mat", "big house is", "different")] * 4
    train = [PairExample(str(i), a, b, l) for i, (a, b, l) in enumerate(pairs)]
    ds = from_examples(train, {"de": train[:4]}, dev=train[:8])
    unl = UnlabeledText("de", [PairExample("u1", "the cat", "the cat", ""),
                         PairExample("u2", "big house", "a dog", "")], "mem")
    trainer = SelfTrainingProbeTrainer(encoder, ds, ProbeTraining.for_kind("pair", epochs=3, progress=False),
                                       {"de": unl}, SelfTraining(threshold=0.0))
    trainer.train([0])
    assert trainer.rounds[0]["languages"]["de"]["used"] == 2
    assert trainer.models[0].meta["self_training_round"] == 1
    assert len(trainer.models[0].predict([("the cat", "the cat")])) == 1


def test_finetuned_students_train_on_source_gold_plus_the_teachers_decoded_labels(tiny, data, monkeypatch):
    """Fine-tune mode: the student's training set is the source's gold sentences followed by the
    unlabelled sentences with the teacher's own decoded predictions as labels (so the expected
    labels come from the teacher model itself, predicted before the student exists)."""
    from xlt.data.dataset import load_task
    from xlt.transfer.selftrain import SelfTrainingFinetuneTrainer, with_labels
    from xlt.transfer.training import FinetuneTrainer, FinetuneTraining

    encoder, _ = tiny
    ds = load_task("panx", "en", "de", data_dir=data.root)
    unl = UnlabeledText("de", [TaggedSentence(["the", "cat", "sat"], ["O"] * 3),
                               TaggedSentence(["a", "big", "house", "."], ["O"] * 4)], "mem")
    training = FinetuneTraining.for_kind("token", epochs=1, batch_size=8, progress=False)
    trainer = SelfTrainingFinetuneTrainer(encoder, ds, training, {"de": unl}, SelfTraining(threshold=0.0))
    seen, teacher_labels = [], []
    original = FinetuneTrainer.train

    def spy(self, seeds):
        if self.models:  # the student's call: the teacher is still self.models[seed]
            teacher_labels.append(self.models[seeds[0]].predict([e.tokens for e in unl.examples], "de"))
        seen.append(list(self.ds.train.examples))
        return original(self, seeds)

    monkeypatch.setattr(FinetuneTrainer, "train", spy)
    trainer.train([0])
    assert len(seen) == 2 and seen[0] == list(ds.train.examples)
    assert seen[1][:len(ds.train.examples)] == list(ds.train.examples)
    assert [e.labels for e in seen[1][len(ds.train.examples):]] == teacher_labels[0]
    assert trainer.rounds[0]["rows"] == {"source": len(ds.train.examples), "pseudo": 2}
    assert trainer.models[0].meta["self_training_round"] == 1 and trainer.ds is ds
    with pytest.raises(ValueError, match="labels for a sentence of 3 words"):
        with_labels(ds.kind, unl.examples[0], ["O"])
    # a threshold no sentence reaches: no second fine-tuning, the teacher is kept and the round says so
    seen.clear()
    strict = SelfTrainingFinetuneTrainer(encoder, ds, training, {"de": unl}, SelfTraining(threshold=1.0))
    strict.train([0])
    assert len(seen) == 1 and strict.rounds[0]["skipped"] is True and strict.rounds[0]["rows"]["pseudo"] == 0
    assert strict.rounds[0]["student_dev"] == strict.rounds[0]["teacher_dev"]


def test_finetuned_students_learn_the_teachers_probabilities_with_soft_labels(tiny, data, monkeypatch):
    """Soft labels in fine-tune mode: the student's targets are the source's gold labels (None: no
    soft target) followed by the teacher's own probabilities of the unlabelled sentences,
    predicted before the student exists; the trainer's data and targets are restored after."""
    from xlt.data.dataset import load_task
    from xlt.transfer.selftrain import SelfTrainingFinetuneTrainer
    from xlt.transfer.training import FinetuneTrainer, FinetuneTraining

    encoder, _ = tiny
    ds = load_task("panx", "en", "de", data_dir=data.root)
    unl = UnlabeledText("de", [TaggedSentence(["the", "cat", "sat"], ["O"] * 3),
                               TaggedSentence(["a", "big", "house", "."], ["O"] * 4)], "mem")
    training = FinetuneTraining.for_kind("token", epochs=1, batch_size=8, progress=False)
    trainer = SelfTrainingFinetuneTrainer(encoder, ds, training, {"de": unl}, SelfTraining(labels="soft",
                                                                                         threshold=0.0))
    targets, teacher = [], []
    original = FinetuneTrainer.train

    def spy(self, seeds):
        if self.models:
            teacher.append(self.models[seeds[0]].predict_proba([e.tokens for e in unl.examples], "de"))
        targets.append(self.soft_targets)
        return original(self, seeds)

    monkeypatch.setattr(FinetuneTrainer, "train", spy)
    trainer.train([0])
    n = len(ds.train.examples)
    assert targets[0] is None and targets[1][:n] == [None] * n
    assert len(targets[1]) == n + 2
    for got, want in zip(targets[1][n:], teacher[0]):
        assert got.shape == want.shape and np.allclose(got, want, atol=1e-6)
    assert trainer.soft_targets is None and trainer.ds is ds


def test_cli_self_train_in_finetune_mode(tiny, data, tmp_path):
    report = _sib_self_train(data, tiny[1], tmp_path, "--mode", "finetune", "--epochs", "1", "--self-train", "1",
                             "--pseudo-threshold", "0", "--save", str(tmp_path / "m"))
    st = report["self_training"]
    assert [r["round"] for r in st["rounds"]] == [1] and st["rounds"][0]["languages"]["deu_Latn"]["used"] == 3
    assert report["config"]["mode"] == "finetune"
    assert (tmp_path / "m" / "xlt_task.json").is_file()
