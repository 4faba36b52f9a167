"""Bad inputs and mishaps, command by command: each ends in one clear error and destroys nothing.

Every case runs the real command line (``xlt.cli.main``) on files built here, with the model
loaders replaced by one that fails the test: a mistake must be found before any model loads.
For every case the test checks that

* the exit code is 2 (returned, or raised by the argument parser);
* stderr holds exactly one ``xlt: error: ...`` line and no traceback, and that line says what is
  wrong (the expected words) and, for a file's content, names the file;
* no file that existed before the run changed (inputs and earlier outputs are never written over).

docs/benchmarks.md ("Reliability") counts these cases per command.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from xlt.cli import main

# --------------------------------------------------------------------------- files
TRAIN = "The\tDET\ncat\tNOUN\nsat\tVERB\n\nA\tDET\ndog\tNOUN\n\n"
CONLL_BAD = "The\tDET\ncat\n\n"  # a line without a label
PAIRS = "the cat ||| die Katze\na dog ||| ein Hund\n"


def _files(root: Path) -> dict[str, Path]:
    """The inputs every case may use (names are what the cases refer to as {name})."""
    f = {
        "train": root / "train-en.tsv", "dev": root / "dev-en.tsv", "test_de": root / "eval" / "test-de.tsv",
        "bad_conll": root / "bad-en.conll", "latin1": root / "latin1-en.tsv", "pairs": root / "pairs.txt",
        "src": root / "src.txt", "tgt": root / "tgt.txt", "tags": root / "tags.tsv", "links": root / "links.txt",
        "text": root / "input.txt", "bad_jsonl": root / "input.jsonl", "folder": root / "a-folder",
        "nonempty": root / "old-run", "old_out": root / "old-out.tsv", "old_map": root / "old-map.npz",
        "map_trunc": root / "maps-trunc.npz",
        "map_rand": root / "maps-rand.npz", "yaml_bad_key": root / "bad-key.yaml", "yaml_bad_type": root / "bad-type.yaml",
        "de_file": root / "de.txt", "en_file": root / "en.txt", "short_pairs": root / "short.txt",
        "unlabeled": root / "eval2" / "test.tsv", "matrix_one": root / "mx-one" / "matrix.json",
        "matrix_two": root / "mx-two" / "matrix.json", "empty_eval": root / "eval3" / "test-de.tsv",
    }
    for p in f.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    f["train"].write_text(TRAIN, encoding="utf-8")
    f["dev"].write_text(TRAIN, encoding="utf-8")
    f["test_de"].write_text(TRAIN.replace("The", "Die").replace("cat", "Katze"), encoding="utf-8")
    f["bad_conll"].write_text(CONLL_BAD, encoding="utf-8")
    f["latin1"].write_bytes("Caf\xe9\tNOUN\n\n".encode("latin-1"))
    f["pairs"].write_text(PAIRS, encoding="utf-8")
    f["src"].write_text("the cat\na dog\n", encoding="utf-8")
    f["tgt"].write_text("die Katze\nein Hund\n", encoding="utf-8")
    f["tags"].write_text("the\tO\ncat\tB-PER\n\na\tO\ndog\tB-LOC\n\n", encoding="utf-8")
    f["links"].write_text("0-0 1-1\n0-0 9-9\n", encoding="utf-8")  # 9-9 is outside pair 2
    f["text"].write_text("the cat sat\n", encoding="utf-8")
    f["bad_jsonl"].write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")
    f["folder"].mkdir(exist_ok=True)
    f["nonempty"].mkdir(exist_ok=True)
    (f["nonempty"] / "report.json").write_text("{}\n", encoding="utf-8")
    f["old_out"].write_text("an earlier result\n", encoding="utf-8")
    f["old_map"].write_bytes(b"an earlier map")
    f["map_rand"].write_bytes(np.random.default_rng(0).bytes(300))
    f["map_trunc"].write_bytes(b"PK\x03\x04" + bytes(40))
    f["yaml_bad_key"].write_text("epochz: 3\n", encoding="utf-8")
    f["yaml_bad_type"].write_text("epochs: many\n", encoding="utf-8")
    f["de_file"].write_text("die Katze\n", encoding="utf-8")
    f["en_file"].write_text("the cat\nthe dog\n", encoding="utf-8")
    f["short_pairs"].write_text("the cat ||| die Katze\nno separator here\n", encoding="utf-8")
    f["unlabeled"].write_text(TRAIN, encoding="utf-8")
    f["empty_eval"].write_text("\n\n", encoding="utf-8")
    f["matrix_one"].write_text('{"task": "udpos", "sources": ["en"], "targets": ["de"], "scores": {"en": {"de": 80}}}',
                               encoding="utf-8")
    f["matrix_two"].write_text('{"task": "udpos", "sources": ["en", "de"], "targets": ["fr"], '
                               '"scores": {"en": {"fr": 70}, "de": {"fr": 60}}}', encoding="utf-8")
    return f


# --------------------------------------------------------------------------- cases
# (command, argv with {name} placeholders, words the error line must contain)
T = ["transfer", "--train", "{train}", "--dev", "{dev}", "--eval", "de={test_de}", "--source", "en"]
CASES: list[tuple[str, list[str], list[str]]] = [
    # transfer
    ("transfer", ["transfer", "--train", "{root}/missing.tsv", "--eval", "de={test_de}", "--out", "{root}/r"],
     ["missing.tsv"]),
    ("transfer", ["transfer", "--train", "{folder}", "--eval", "de={test_de}", "--out", "{root}/r"], ["a-folder"]),
    ("transfer", T + ["--out", "{root}/r", "--epochs", "0"], ["--epochs"]),
    ("transfer", T + ["--out", "{root}/r", "--lr", "nan"], ["--lr"]),
    ("transfer", T + ["--out", "{root}/r", "--batch-size", "-1"], ["--batch-size"]),
    ("transfer", T + ["--out", "{root}/r", "--mode", "finetune", "--micro-batch-size", "-2"], ["--micro-batch-size"]),
    ("transfer", T + ["--out", "{root}/r", "--train-limit", "0"], ["--train-limit"]),
    ("transfer", T + ["--out", "{root}/r", "--eval-limit", "-5"], ["--eval-limit"]),
    ("transfer", T + ["--out", "{root}/r", "--dev-fraction", "1.5"], ["--dev-fraction"]),
    ("transfer", T + ["--out", "{root}/r", "--seeds", "0,-1"], ["--seeds"]),
    ("transfer", T + ["--out", "{root}/r", "--layer", "99", "--model", "{tiny}"], ["--layer 99", "2 layers"]),
    ("transfer", T + ["--out", "{old_out}"], ["is a file"]),
    ("transfer", T + ["--out", "{nonempty}"], ["not empty", "--overwrite"]),
    ("transfer", T + ["--out", "{root}", "--overwrite"], ["contains the input"]),
    ("transfer", T + ["--out", "{root}/r", "--save", "{old_out}"], ["is a file"]),
    ("transfer", ["transfer", "--train", "{bad_conll}", "--eval", "de={test_de}", "--out", "{root}/r"],
     ["bad-en.conll:2"]),
    ("transfer", ["transfer", "--train", "{latin1}", "--eval", "de={test_de}", "--out", "{root}/r"],
     ["latin1-en.tsv:1", "UTF-8"]),
    ("transfer", ["transfer", "--train", "{train}", "--eval", "{unlabeled}", "--out", "{root}/r"], ["language"]),
    ("transfer", T + ["--out", "{root}/r", "--config", "{yaml_bad_key}"], ["epochz"]),
    ("transfer", T + ["--out", "{root}/r", "--config", "{yaml_bad_type}"], ["--epochs", "expected a whole number"]),
    ("transfer", T + ["--out", "{root}/r", "--mode", "probe", "--resume"], ["--mode finetune"]),
    ("transfer", T + ["--out", "{root}/r", "--peft", "lora"], ["--peft", "--mode finetune"]),
    ("transfer", T + ["--out", "{root}/r", "--mode", "finetune", "--peft", "adapter", "--language-adapters",
                      "en={folder}"], ["no language adapter", "--language-adapter"]),
    ("transfer", T + ["--out", "{root}/r", "--ensemble", "2"], ["--ensemble", "--matrix"]),
    ("transfer", T + ["--out", "{root}/r", "--seed-ensemble"], ["--seed-ensemble", "--seeds 2"]),
    ("transfer", ["transfer", "--train", "en={train}", "--train", "eng={dev}", "--eval", "de={test_de}",
                  "--out", "{root}/r"], ["given twice"]),
    ("transfer", ["transfer", "--train", "{train}", "--eval", "de={empty_eval}", "--out", "{root}/r"],
     ["no evaluation set holds an example", "test-de.tsv"]),
    ("transfer", T + ["--out", "{root}/r", "--mode", "finetune", "--max-length", "100000", "--model", "{tiny}"],
     ["--max-length 100000", "at most 64 tokens"]),
    ("transfer", ["transfer", "--task", "sib200", "--metric", "f1", "--targets", "deu_Latn", "--train-limit", "5",
                  "--eval-limit", "5", "--out", "{root}/r"], ["--metric f1", "use --metric accuracy"]),
    ("transfer", T + ["--out", "{root}/r", "--save", "{root}/r"], ["same place"]),
    ("transfer", T + ["--out", "{root}/r", "--save", "{root}/r/model", "--overwrite"], ["contains --save"]),
    ("transfer", ["transfer", "--task", "udpos", "--targets", "xx-nonsense", "--out", "{root}/r",
                  "--data-dir", "{root}/no-data"], ["no-data"]),
    # predict
    ("predict", ["predict", "--model", "{root}/no-model", "--input", "{text}", "--out", "{root}/o.jsonl"],
     ["no-model"]),
    ("predict", ["predict", "--model", "{folder}", "--input", "{root}/none.txt", "--out", "{root}/o.jsonl"],
     ["none.txt"]),
    ("predict", ["predict", "--model", "{folder}", "--input", "{text}", "--out", "{text}", "--overwrite"],
     ["input"]),
    ("predict", ["predict", "--model", "{folder}", "--input", "{text}", "--out", "{old_out}"], ["--overwrite"]),
    ("predict", ["predict", "--model", "{folder}", "--input", "{text}", "--out", "{root}/o.jsonl", "--batch", "0"],
     ["--batch"]),
    # retrieve
    ("retrieve", ["retrieve", "--pairs", "{root}/none.txt", "--out", "{root}/r"], ["none.txt"]),
    ("retrieve", ["retrieve", "--pairs", "{pairs}", "--src-lang", "en", "--tgt-lang", "de", "--k", "0",
                  "--out", "{root}/r"], ["--k"]),
    ("retrieve", ["retrieve", "--pairs", "{pairs}", "--batch-size", "0", "--out", "{root}/r"], ["--batch-size"]),
    ("retrieve", ["retrieve", "--pairs", "{pairs}", "--src-lang", "en", "--tgt-lang", "de", "--out", "{nonempty}"],
     ["not empty"]),
    ("retrieve", ["retrieve", "--pairs", "{en_file}", "{de_file}", "--out", "{root}/r"], ["lines"]),
    ("retrieve", ["retrieve", "--pairs", "{short_pairs}", "--src-lang", "en", "--tgt-lang", "de",
                  "--out", "{root}/r"], ["short.txt:2"]),
    ("retrieve", ["retrieve", "--pairs", "{pairs}", "--layer", "99", "--model", "{tiny}", "--out", "{root}/r"],
     ["2 layers"]),
    # mine
    ("mine", ["mine", "{src}", "{tgt}", "--out", "{root}/p.tsv", "--k", "0"], ["--k"]),
    ("mine", ["mine", "{src}", "{tgt}", "--out", "{root}/p.tsv", "--threshold", "nan"], ["--threshold"]),
    ("mine", ["mine", "{root}/none.txt", "{tgt}", "--out", "{root}/p.tsv"], ["none.txt"]),
    ("mine", ["mine", "{src}", "{folder}", "--out", "{root}/p.tsv"], ["a-folder"]),
    ("mine", ["mine", "{src}", "{tgt}", "--out", "{src}", "--overwrite"], ["also an input"]),
    ("mine", ["mine", "{src}", "{tgt}", "--out", "{old_out}"], ["--overwrite"]),
    ("mine", ["mine", "{src}", "{tgt}", "--out", "{folder}", "--overwrite"], ["folder"]),
    ("mine", ["mine", "{src}", "{tgt}", "--out", "{root}/p.tsv", "--nprobe", "0"], ["--nprobe"]),
    # analyze
    ("analyze", ["analyze", "--parallel", "{root}/none", "--out", "{root}/r"], ["none"]),
    ("analyze", ["analyze", "--parallel", "{pairs}", "--batch-size", "0", "--out", "{root}/r"], ["--batch-size"]),
    ("analyze", ["analyze", "--parallel", "{pairs}", "--limit", "0", "--out", "{root}/r"], ["--limit"]),
    ("analyze", ["analyze", "--parallel", "{pairs}", "--src-lang", "en", "--tgt-lang", "de", "--out", "{nonempty}"],
     ["not empty"]),
    # align
    ("align fit", ["align", "fit", "--parallel", "{pairs}", "--src-lang", "en", "--tgt-lang", "de",
                   "--max-sentences", "0", "--out", "{root}/m.npz"], ["--max-sentences"]),
    ("align fit", ["align", "fit", "--parallel", "{pairs}", "--src-lang", "en", "--tgt-lang", "de",
                   "--heldout", "-1", "--out", "{root}/m.npz"], ["--heldout"]),
    ("align fit", ["align", "fit", "--parallel", "{root}/none.txt", "--out", "{root}/m.npz"], ["none.txt"]),
    ("align fit", ["align", "fit", "--parallel", "{pairs}", "--src-lang", "en", "--tgt-lang", "de", "--heldout", "0",
                   "--out", "{old_map}"], ["--overwrite"]),
    ("align fit", ["align", "fit", "--parallel", "{pairs}", "--src-lang", "en", "--tgt-lang", "de",
                   "--align-layer", "99", "--model", "{tiny}", "--out", "{root}/m.npz"], ["2 layers"]),
    ("align fit", ["align", "fit", "--parallel", "{pairs}", "--src-lang", "en", "--tgt-lang", "de",
                   "--layers", "0,99", "--model", "{tiny}", "--out", "{root}/m.npz"], ["--layers 0,99", "2 layers"]),
    ("align finetune", ["align", "finetune", "--parallel", "{pairs}", "--epochs", "0", "--out", "{root}/f"],
     ["--epochs"]),
    ("align finetune", ["align", "finetune", "--parallel", "{pairs}", "--lr", "0", "--out", "{root}/f"], ["--lr"]),
    ("align finetune", ["align", "finetune", "--parallel", "{pairs}", "--reg-weight", "-1", "--out", "{root}/f"],
     ["--reg-weight"]),
    ("align finetune", ["align", "finetune", "--parallel", "{pairs}", "--src-lang", "en", "--tgt-lang", "de",
                        "--heldout", "0", "--out", "{nonempty}"], ["not empty"]),
    ("align eval", ["align", "eval", "--aligner", "{map_trunc}", "--parallel", "{pairs}"], ["maps-trunc.npz"]),
    ("align eval", ["align", "eval", "--aligner", "{map_rand}", "--parallel", "{pairs}"], ["maps-rand.npz"]),
    ("align eval", ["align", "eval", "--aligner", "{root}/none.npz", "--parallel", "{pairs}"], ["none.npz"]),
    # wordalign
    ("wordalign", ["wordalign", "--pairs", "{root}/none.txt", "--out", "{root}/a.txt", "--layer", "1"],
     ["none.txt"]),
    ("wordalign", ["wordalign", "--pairs", "{pairs}", "--out", "{pairs}", "--overwrite", "--layer", "1"],
     ["also an input"]),
    ("wordalign", ["wordalign", "--pairs", "{pairs}", "--out", "{old_out}", "--layer", "1"], ["--overwrite"]),
    ("wordalign", ["wordalign", "--pairs", "{pairs}", "--out", "{root}/a.txt", "--threshold", "1.5"],
     ["--threshold"]),
    ("wordalign", ["wordalign", "--pairs", "{pairs}", "--out", "{root}/a.txt", "--layer", "99", "--model", "{tiny}"],
     ["2 layers"]),
    ("wordalign", ["wordalign", "--pairs", "{short_pairs}", "--out", "{root}/a.txt", "--layer", "1"],
     ["short.txt:2"]),
    ("wordalign", ["wordalign", "--pairs", "{pairs}", "--out", "{root}/a.txt", "--layer", "1", "--gold", "{links}"],
     ["links.txt:2"]),
    ("wordalign", ["wordalign", "--pairs", "{pairs}", "--out", "{root}/a.txt", "--batch-size", "0"],
     ["--batch-size"]),
    # project
    ("project", ["project", "--src-tags", "{tags}", "--tgt", "{pairs}", "--align", "{links}", "--out", "{tags}",
                 "--overwrite"], ["also an input"]),
    ("project", ["project", "--src-tags", "{tags}", "--tgt", "{pairs}", "--align", "{links}", "--out", "{old_out}"],
     ["--overwrite"]),
    ("project", ["project", "--src-tags", "{tags}", "--tgt", "{pairs}", "--align", "{root}/none.txt",
                 "--out", "{root}/o.tsv"], ["none.txt"]),
    ("project", ["project", "--src-tags", "{tags}", "--tgt", "{pairs}", "--align", "{links}",
                 "--out", "{root}/o.tsv"], ["links.txt:2"]),
    ("project", ["project", "--src-tags", "{tags}", "--tgt", "{pairs}", "--align", "{links}", "--max-gap", "-1",
                 "--out", "{root}/o.tsv"], ["--max-gap"]),
    # adapt (trim, mlm, translit)
    ("adapt", ["adapt", "trim", "--langs", "en", "--text", "en={en_file}", "--out", "{root}/m"],
     ["too little text", "en (2 sentences)", "at least 200"]),
    ("adapt", ["adapt", "trim", "--langs", "en,qqq-nonsense", "--out", "{root}/m"], ["qqq-nonsense"]),
    ("adapt", ["adapt", "trim", "--langs", "en", "--text", "de={de_file}", "--out", "{root}/m"], ["not among --langs"]),
    ("adapt", ["adapt", "trim", "--langs", "en", "--text", "en={latin1}", "--out", "{root}/m"], ["UTF-8"]),
    ("adapt", ["adapt", "mlm", "--langs", "en", "--text", "en={en_file}", "--out", "{root}/m"], ["at least 200"]),
    ("adapt", ["adapt", "mlm", "--langs", "en", "--text", "en={en_file}", "--min-sentences", "1",
               "--out", "{nonempty}"], ["not empty"]),
    ("adapt", ["adapt", "mlm", "--langs", "en", "--text", "en={en_file}", "--steps", "0", "--out", "{root}/m"],
     ["--steps"]),
    ("adapt", ["adapt", "extend", "--langs", "en", "--text", "en={en_file}", "--vocab-size", "5", "--out", "{root}/m"],
     ["--vocab-size 5", ">= 10"]),
    ("adapt", ["adapt", "translit", "--langs", "en", "--text", "en={en_file}", "--min-sentences", "1",
               "--out", "{root}/m"], ["no sentence in a non-Latin script"]),
    # rank-sources
    ("rank-sources", ["rank-sources", "--matrix", "{matrix_one}", "--out", "{root}/r"], ["single source"]),
    ("rank-sources", ["rank-sources", "--matrix", "{root}/none", "--out", "{root}/r"], ["no matrix.json"]),
    ("rank-sources", ["rank-sources", "--matrix", "{matrix_two}", "--candidates", "en,sw", "--out", "{root}/r"],
     ["sw"]),
    ("rank-sources", ["rank-sources", "--matrix", "{matrix_two}", "--target", "yo", "--out", "{root}/r"],
     ["--target yo"]),
    ("rank-sources", ["rank-sources", "--matrix", "{bad_jsonl}", "--out", "{root}/r"], ["not a readable"]),
    ("rank-sources", ["rank-sources", "--matrix", "{matrix_two}", "--out", "{nonempty}"], ["not empty"]),
    ("rank-sources", ["rank-sources", "--matrix", "{root}/mx-two", "--out", "{root}/mx-two", "--overwrite"],
     ["also an input"]),
    # export-model, bench
    ("export-model", ["export-model", "bundled:e5-small", "{nonempty}"], ["not empty"]),
    ("export-model", ["export-model", "bundled:e5-small", "{old_out}"], ["is a file"]),
    ("bench", ["bench", "finetune", "--n", "0"], ["--n"]),
    ("bench", ["bench", "extract", "--out", "{folder}"], ["folder"]),
    ("bench", ["bench", "mine", "--sizes", "10", "--out", "{old_out}"], ["--overwrite"]),
    # bli: a word-vector file without its "count dim" header; the report over an input; a bad k
    ("bli", ["bli", "eval", "--src", "en", "--tgt", "de", "--vectors", "en={text}", "--vectors", "de={text}",
             "--train", "{tags}", "--test", "{tags}", "--out", "{root}/b"], ["input.txt:1", "count dim"]),
    ("bli", ["bli", "eval", "--src", "en", "--tgt", "de", "--train", "{tags}", "--test", "{tags}", "--out", "{tags}",
             "--overwrite"], ["--out", "input"]),
    ("bli", ["bli", "eval", "--src", "en", "--tgt", "de", "--k", "0", "--out", "{root}/b"], ["--k 0"]),
    # embed: a JSONL line that is no JSON, a missing input, the output over its input, a folder it did not
    # make, a shard size of 0, a cluster of another kind
    ("embed", ["embed", "{bad_jsonl}", "--out", "{root}/e"], ["input.jsonl:2", "not a JSON object"]),
    ("embed", ["embed", "{root}/none.txt", "--out", "{root}/e"], ["none.txt"]),
    ("embed", ["embed", "{text}", "--out", "{text}", "--overwrite"], ["--out", "input"]),
    ("embed", ["embed", "{text}", "--out", "{nonempty}"], ["old-run", "did not make"]),
    ("embed", ["embed", "{text}", "--out", "{root}/e", "--shard-size", "0"], ["--shard-size 0"]),
    ("embed", ["embed", "{text}", "--out", "{root}/e", "--cluster", "ray://head:10001"], ["--cluster", "local:N"]),
]


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}




@pytest.mark.parametrize("command, argv, words", CASES, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_bad_input_is_one_clear_error_and_destroys_nothing(command, argv, words, tmp_path, tiny, no_model, capsys):
    _, tiny_spec = tiny
    files = _files(tmp_path)
    values = {k: str(v) for k, v in files.items()} | {"root": str(tmp_path), "tiny": tiny_spec}
    args = [a.format(**values) for a in argv]
    before = _snapshot(tmp_path)
    try:
        code = main(args)
    except SystemExit as exc:  # refused by the argument parser
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, f"{args}: exit {code}\n{err}"
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("xlt: error: ")]
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], f"{w!r} not in {lines[0]!r}"
    assert _snapshot(tmp_path) == before  # nothing written over, nothing half-written


def test_every_command_is_covered():
    from xlt.cli import COMMANDS

    covered = {c.split()[0] for c, _, _ in CASES}
    assert covered == set(COMMANDS), set(COMMANDS) - covered



# code-switched training (xlt transfer --code-switch): a ratio outside [0, 1], a dictionary with a bad line
# (pairs.txt: "the cat ||| die Katze" is no 'english foreign' pair), a dictionary that is no file; run as
# the cases above (added after them, so in a test of their own)
CODE_SWITCH_CASES: list[tuple[str, list[str], list[str]]] = [
    ("transfer", T + ["--out", "{root}/r", "--code-switch", "{tags}", "--cs-ratio", "1.5"], ["--cs-ratio 1.5"]),
    ("transfer", T + ["--out", "{root}/r", "--code-switch", "{pairs}"], ["pairs.txt:1"]),
    ("transfer", T + ["--out", "{root}/r", "--code-switch", "{root}/missing-dict.txt"],
     ["--code-switch", "missing-dict.txt"]),
]


@pytest.mark.parametrize("command, argv, words", CODE_SWITCH_CASES,
                         ids=[f"codeswitch-{i}" for i in range(len(CODE_SWITCH_CASES))])
def test_code_switch_bad_input_is_one_clear_error(command, argv, words, tmp_path, tiny, no_model, capsys):
    test_bad_input_is_one_clear_error_and_destroys_nothing(command, argv, words, tmp_path, tiny, no_model, capsys)
