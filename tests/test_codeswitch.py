"""Code-switched training (CoSDA-ML, Qin et al. 2020): :mod:`xlt.data.codeswitch` and ``xlt transfer
--code-switch``.

Hand-worked cases: with ratio 1 every dictionary word is replaced, so the result does not depend on
the generator; with one translation and one language per word the output is fixed, and the B-/I-
continuation of multi-word translations is checked word by word. Then the options' checks, the
dictionary files (user files, MUSE, scored ``xlt bli induce`` output, ``builtin``), and end-to-end
runs on the tiny encoder and synthetic data (tests/fixtures.py).
"""

from __future__ import annotations

import json
import math
import random

import pytest

from xlt.cli import main
from xlt.data.codeswitch import (
    CodeSwitchDictionary,
    CodeSwitchError,
    CodeSwitcher,
    continuation_label,
    epoch_rng,
    load_code_switch_dictionaries,
    source_coverage,
)
from xlt.data.readers import DataFormatError, PairExample, TaggedSentence, TextExample
from xlt.jobs import ConfigError
from xlt.jobs.parts import TransferSettings
from xlt.jobs.transfer import TransferConfig, run_transfer

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def table(lang: str, pairs: dict[str, tuple[str, ...]]) -> CodeSwitchDictionary:
    return CodeSwitchDictionary(lang=lang, path=None, table=pairs, stats={"n_words": len(pairs)})


DE = table("de", {"john": ("johann",), "smith": ("schmidt meister",), "lives": ("lebt",), "in": ("in",),
                  "city": ("stadt",)})
NER = TaggedSentence(["John", "Smith", "lives", "in", "New", "York", "city"],
                     ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "I-LOC"])


# --------------------------------------------------------------------------- the transformation


def test_ratio_one_replaces_every_dictionary_word_with_bio_continuation():
    switched, counts = CodeSwitcher([DE], 1.0).switch_examples([NER], random.Random(0))
    # John -> Johann (B-PER); Smith -> "Schmidt meister": I-PER I-PER; New, York not in the dictionary
    assert switched[0].tokens == ["Johann", "Schmidt", "meister", "lebt", "in", "New", "York", "stadt"]
    assert switched[0].labels == ["B-PER", "I-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "I-LOC"]
    assert counts.as_dict() == {"words": 7, "in_dictionary": 5, "replaced": 5, "examples_switched": 1,
                                "by_lang": {"de": 5}}


def test_only_labels_keeps_entity_words_and_the_other_draws():
    """only_labels={"O"} at ratio 1: John, Smith and city (entity words) keep their spelling; lives
    and in (O) are replaced. At ratio 0.5 with one seed, the O words' draws are the same as when the
    entity words are not in the dictionary at all (they draw nothing)."""
    switched, counts = CodeSwitcher([DE], 1.0, {"O"}).switch_examples([NER], random.Random(0))
    assert switched[0].tokens == ["John", "Smith", "lebt", "in", "New", "York", "city"]
    assert switched[0].labels == NER.labels and counts.replaced == 2
    o_only = table("de", {"lives": ("lebt",), "in": ("in",)})
    for seed in range(20):
        a = CodeSwitcher([DE], 0.5, ["O"]).switch_examples([NER], random.Random(seed))[0][0]
        b = CodeSwitcher([o_only], 0.5).switch_examples([NER], random.Random(seed))[0][0]
        assert a.tokens == b.tokens
    with pytest.raises(ValueError, match="only_labels"):
        CodeSwitcher([DE], 0.5, [])


def test_multi_word_translation_of_b_and_o_words():
    d = table("de", {"paris": ("la ville lumière",), "the": ("der die",)})
    s = TaggedSentence(["the", "Paris"], ["O", "B-LOC"])
    (out,), _ = CodeSwitcher([d], 1.0).switch_examples([s], random.Random(3))
    assert out.tokens == ["der", "die", "La", "ville", "lumière"]  # capitalised like the word it replaces
    assert out.labels == ["O", "O", "B-LOC", "I-LOC", "I-LOC"]
    # UPOS (no BIO): the label repeated
    (pos,), _ = CodeSwitcher([d], 1.0).switch_examples([TaggedSentence(["the"], ["DET"])], random.Random(0))
    assert pos.labels == ["DET", "DET"]
    assert [continuation_label(x) for x in ("B-PER", "I-ORG", "O", "NOUN", "S-LOC")] == \
        ["I-PER", "I-ORG", "O", "NOUN", "I-LOC"]


def test_fixed_rng_gives_the_hand_worked_sentence():
    # ratio 0.5: a dictionary word is replaced when rng.random() < 0.5 (one language and one
    # translation each, so each dictionary word draws one number; New, York draw nothing).
    # random.Random(7) draws 0.32 (John: replaced), 0.15 (Smith: replaced), 0.65 (lives: kept),
    # 0.07 (in: replaced, by "in"), 0.54 (city: kept)
    ref = random.Random(7)
    assert [round(ref.random(), 2) for _ in range(5)] == [0.32, 0.15, 0.65, 0.07, 0.54]
    (out,), counts = CodeSwitcher([DE], 0.5).switch_examples([NER], random.Random(7))
    assert out.tokens == ["Johann", "Schmidt", "meister", "lives", "in", "New", "York", "city"]
    assert out.labels == ["B-PER", "I-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "I-LOC"]
    assert counts.replaced == 3 and counts.in_dictionary == 5


def test_ratio_zero_leaves_the_data_unchanged():
    examples = [NER, TextExample("1", "John lives in the city.", "travel"), PairExample("2", "John", "Smith", "x")]
    out, counts = CodeSwitcher([DE], 0.0).switch_examples(examples, random.Random(0))
    assert out == examples and all(a is b for a, b in zip(out, examples))
    assert counts.replaced == 0 and counts.in_dictionary == 5 + 4 + 2


def test_languages_are_drawn_per_word():
    fr = table("fr", {"john": ("jean",), "lives": ("vit",)})
    cs = CodeSwitcher([DE, fr], 1.0)
    seen = set()
    for seed in range(20):
        (out,), counts = cs.switch_examples([NER], random.Random(seed))
        seen.add(out.tokens[0])
        assert sum(counts.by_lang.values()) == 5
    assert seen == {"Johann", "Jean"}


def test_redrawn_per_epoch_and_reproducible():
    sents = [NER] * 20
    cs = CodeSwitcher([DE], 0.5)
    one, _ = cs.switch_examples(sents, epoch_rng(0, 1))
    two, _ = cs.switch_examples(sents, epoch_rng(0, 2))
    again, _ = cs.switch_examples(sents, epoch_rng(0, 1))
    assert one != two and one == again
    assert cs.switch_examples(sents, epoch_rng(1, 1))[0] != one  # another seed, another draw


def test_text_and_pair_examples_are_switched_in_every_text():
    cs = CodeSwitcher([DE], 1.0)
    out, counts = cs.switch_examples([TextExample("1", "John lives, in (the) city.", "travel"),
                                      PairExample("2", "Smith lives.", "JOHN!", "entailment")], random.Random(0))
    assert out[0] == TextExample("1", "Johann lebt, in (the) stadt.", "travel")  # punctuation stays
    assert out[1] == PairExample("2", "Schmidt meister lebt.", "JOHANN!", "entailment")
    assert counts.replaced == 7 and counts.examples_switched == 2


def test_ratio_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        CodeSwitcher([DE], 1.5)


def test_source_coverage():
    fr = table("fr", {"zebra": ("zèbre",)})
    assert source_coverage([DE, fr], [NER, TextExample("1", "City!", "x")]) == {"de": 5, "fr": 0}


# --------------------------------------------------------------------------- dictionaries


def test_dictionary_files_tab_muse_and_scored(tmp_path):
    tab = tmp_path / "en-de.txt"
    tab.write_text("cat\tKatze\nfree of charge\tumsonst\nfree\tkostenlos erhältlich\n", encoding="utf-8")
    muse = tmp_path / "muse.txt"
    muse.write_text("cat chat\ndog chien\n", encoding="utf-8")
    scored = tmp_path / "induced.tsv"
    scored.write_text("cat\tgato\t0.9\ndog\tperro\t0.2\n", encoding="utf-8")
    ds = load_code_switch_dictionaries([str(tab), f"fr={muse}", f"es={scored}"], min_score=0.5)
    assert [d.lang for d in ds] == ["de", "fr", "es"]
    assert ds[0].table == {"cat": ("katze",), "free": ("kostenlos erhältlich",)}  # multi-word English skipped
    assert ds[0].stats["n_multiword"] == 1
    assert ds[1].table == {"cat": ("chat",), "dog": ("chien",)}
    assert ds[2].table == {"cat": ("gato",)} and ds[2].stats["n_below_score"] == 1
    # --cs-langs filters the user's files too (codes or names), and names a language with none
    only = load_code_switch_dictionaries([str(tab), f"fr={muse}", f"es={scored}"], ["french", "es"])
    assert [d.lang for d in only] == ["fr", "es"]
    with pytest.raises(CodeSwitchError, match="--cs-langs it: no --code-switch dictionary of that language"):
        load_code_switch_dictionaries([str(tab), f"fr={muse}"], ["de", "it"])


def test_dictionary_bad_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("cat\tKatze\ndog\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        load_code_switch_dictionaries([str(bad)])
    assert err.value.path == bad and err.value.line == 2
    bad.write_text("cat\tKatze\tnot-a-number\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=":1: .*number"):
        load_code_switch_dictionaries([str(bad)])


def test_builtin_and_language_values(data_root):
    by_lang = load_code_switch_dictionaries(["builtin"], ["de", "sw"], data_dir=data_root)
    assert [d.lang for d in by_lang] == ["de", "sw"]
    assert by_lang[0].path.name == "en-german.txt" and by_lang[0].size > 1000
    assert [d.path.name for d in load_code_switch_dictionaries(["german"], data_dir=data_root)] == ["en-german.txt"]
    assert len(load_code_switch_dictionaries(["builtin"], data_dir=data_root)) == 15
    with pytest.raises(CodeSwitchError, match="no English-xh dictionary"):
        load_code_switch_dictionaries(["builtin"], ["xh"], data_dir=data_root)
    with pytest.raises(CodeSwitchError, match="no such file"):
        load_code_switch_dictionaries(["missing.txt"], data_dir=data_root)


# --------------------------------------------------------------------------- settings and the command line


def test_settings_check_the_ratio_at_construction():
    with pytest.raises(ConfigError, match="--cs-ratio 1.5: expected a number between 0 and 1"):
        TransferSettings(task="panx", code_switch=["builtin"], cs_ratio=1.5)
    with pytest.raises(ConfigError, match="--cs-ratio .*add --code-switch"):
        TransferSettings(task="panx", cs_ratio=0.3)
    with pytest.raises(ConfigError, match="--cs-copies"):
        TransferSettings(task="panx", code_switch=["de"], cs_copies=2, mode="finetune")
    with pytest.raises(ConfigError, match="--cs-only-labels .*add --code-switch"):
        TransferSettings(task="panx", cs_only_labels=["O"])
    s = TransferSettings(task="panx", code_switch=["builtin"])
    assert s.code_switch_ratio == 0.5 and s.echo()["code_switch"] == ["builtin"]
    assert "cs_only_labels" not in s.echo()
    assert TransferSettings(task="panx", code_switch=["builtin"], cs_only_labels=["O"]).echo()["cs_only_labels"] == "O"
    assert "code_switch" not in TransferSettings(task="panx").echo()  # reports without it are unchanged


def test_cli_ratio_out_of_range_exits_2_before_any_model_loads(tmp_path, no_model, capsys):
    with pytest.raises(SystemExit) as exc:
        code = main(["transfer", "--task", "panx", "--code-switch", "builtin", "--cs-ratio", "1.5",
                     "--out", str(tmp_path / "r")])
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("xlt: error: ")]
    assert len(lines) == 1 and "--cs-ratio 1.5" in lines[0] and "Traceback" not in err
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- end to end


def tiny_dictionary(tmp_path):
    """English words of the synthetic data -> other words of the tiny vocabulary ("big" -> two words)."""
    path = tmp_path / "en-xx.txt"
    path.write_text("cat\tdog\ndog\tcat\nhappy\tsmall\nbig\tsmall big\nthe\ta\nzzz\tqqq\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("task", ["panx", "sib200"])
def test_transfer_finetune_with_code_switch(tiny, data, tmp_path, task):
    _, spec = tiny
    dic = tiny_dictionary(tmp_path)
    out = tmp_path / "ft"
    kw = dict(task=task, model=spec, data_dir=str(data.root), mode="finetune", epochs=2, lr=3e-3, batch_size=8,
              max_length=32, train_limit=40, seeds=[0, 1], progress=False)
    base = run_transfer(TransferConfig(**kw))
    report = run_transfer(TransferConfig(**kw, code_switch=[f"xx={dic}"], cs_ratio=0.8, out=str(out)))
    cs = report["code_switch"]
    assert cs["ratio"] == 0.8 and cs["dictionaries"][0]["entries"] == 6
    assert cs["dictionaries"][0]["in_training_data"] >= 3
    for seed in ("0", "1"):
        epochs = cs["per_seed"][seed]
        assert [r["epoch"] for r in epochs] == [1, 2] and all(r["replaced"] > 0 for r in epochs)
    assert cs["per_seed"]["0"] != cs["per_seed"]["1"]
    assert report["manifest"]["code_switch"]["dictionary_sizes"] == {"xx": 6}
    assert any(str(dic) == f["path"] for f in report["manifest"]["data_files"]) or \
        str(dic) in json.dumps(report["manifest"])
    assert report["config"]["code_switch"] == [f"xx={dic}"]
    assert "Code-switched training (CoSDA-ML)" in (out / "report.md").read_text(encoding="utf-8")
    # the same data and budget, only the training words differ
    assert report["source_counts"] == base["source_counts"]
    assert [h["loss"] for h in report["training"]["0"]] != [h["loss"] for h in base["training"]["0"]]
    assert "code_switch" not in base and "code_switch" not in base["config"]


def test_only_labels_checked_against_the_task_before_any_model_loads(data, tmp_path, no_model, capsys):
    dic = tiny_dictionary(tmp_path)
    base = ["transfer", "--data-dir", str(data.root), "--code-switch", f"xx={dic}", "--out", str(tmp_path / "r")]
    assert main(base + ["--task", "sib200", "--cs-only-labels", "O"]) == 2
    assert "applies to tagging tasks" in capsys.readouterr().err
    assert main(base + ["--task", "panx", "--cs-only-labels", "O,B-FOO"]) == 2
    err = capsys.readouterr().err
    assert "B-FOO not among panx's labels" in err and "xlt: error:" in err
    assert not (tmp_path / "r").exists()


def test_only_o_switches_no_entity_word_in_training(tiny, data, tmp_path):
    _, spec = tiny
    dic = tiny_dictionary(tmp_path)
    kw = dict(task="panx", model=spec, data_dir=str(data.root), mode="finetune", epochs=1, lr=3e-3, batch_size=8,
              max_length=32, train_limit=24, seeds=[0], progress=False, code_switch=[f"xx={dic}"], cs_ratio=1.0)
    every = run_transfer(TransferConfig(**kw))["code_switch"]["per_seed"]["0"][0]["replaced"]
    only_o = run_transfer(TransferConfig(**kw, cs_only_labels=["O"]))
    assert only_o["config"]["cs_only_labels"] == "O"
    o_words = sum(1 for e in only_o_train(data) for t, lab in zip(e.tokens, e.labels)
                  if lab == "O" and t.casefold() in {"cat", "dog", "happy", "big", "the", "zzz"})
    assert only_o["code_switch"]["per_seed"]["0"][0]["replaced"] == o_words <= every


def only_o_train(data):
    """The first 24 English PAN-X training sentences of the synthetic data (as train_limit=24 reads them)."""
    from xlt.data.dataset import load_task
    return load_task("panx", data_dir=str(data.root), train_limit=24).train.examples


def test_ratio_zero_trains_exactly_as_without(tiny, data, tmp_path):
    _, spec = tiny
    kw = dict(task="panx", model=spec, data_dir=str(data.root), mode="finetune", epochs=2, lr=3e-3, batch_size=8,
              max_length=32, train_limit=24, seeds=[0], progress=False)
    base = run_transfer(TransferConfig(**kw))
    zero = run_transfer(TransferConfig(**kw, code_switch=[str(tiny_dictionary(tmp_path))], cs_ratio=0.0))
    assert zero["training"] == base["training"] and zero["scores"] == base["scores"]
    assert [r["replaced"] for r in zero["code_switch"]["per_seed"]["0"]] == [0, 0]


def test_transfer_probe_with_code_switch_and_saved_model_predicts(tiny, data, tmp_path):
    from xlt.transfer.model import TaskModel

    _, spec = tiny
    dic = tiny_dictionary(tmp_path)
    report = run_transfer(TransferConfig(task="panx", model=spec, data_dir=str(data.root), mode="probe", epochs=3,
                                         lr=1e-2, progress=False, code_switch=[str(dic)], cs_ratio=1.0, cs_copies=2,
                                         save=str(tmp_path / "model"), out=str(tmp_path / "out")))
    copies = report["code_switch"]["per_seed"]["0"]
    assert [r["copy"] for r in copies] == [1, 2] and copies[0]["replaced"] == copies[1]["replaced"] > 0
    model = TaskModel.from_pretrained(tmp_path / "model")
    assert len(model.predict([["the", "cat", "sat"]], lang="de")[0]) == 3


def test_transfer_lora_with_code_switch_cli(tiny, data, tmp_path):
    _, spec = tiny
    dic = tiny_dictionary(tmp_path)
    out = tmp_path / "lora"
    code = main(["transfer", "--task", "panx", "--model", spec, "--data-dir", str(data.root), "--mode", "finetune",
                 "--peft", "lora", "--epochs", "1", "--lr", "3e-3", "--batch-size", "8", "--max-length", "32",
                 "--train-limit", "24", "--no-progress", "--code-switch", str(dic), "--cs-ratio", "1",
                 "--save", str(tmp_path / "m"), "--out", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["code_switch"]["per_seed"]["0"][0]["replaced"] > 0
    assert report["parameters"]["method"] == "lora"


def test_dictionary_with_no_training_word_warns(tiny, data, tmp_path, caplog):
    _, spec = tiny
    dic = tmp_path / "en-yy.txt"
    dic.write_text("zebra\tzèbre\n", encoding="utf-8")
    report = run_transfer(TransferConfig(task="panx", model=spec, data_dir=str(data.root), mode="probe", epochs=1,
                                         progress=False, code_switch=[str(dic)]))
    assert report["code_switch"]["dictionaries"][0]["in_training_data"] == 0
    assert any("none of the 1 source words" in r.getMessage() for r in caplog.records)
    assert math.isfinite(report["average"])
