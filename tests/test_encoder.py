"""Tests for xlt.models.encoder.Encoder's methods on a tiny random BERT, against values computed
here by hand from the model's own forward pass (not through xlt's batching and pooling)."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import make_tiny_encoder

import xlt.models.bundled as bundled
import xlt.models.loading as loading
from xlt.models import features
from xlt.models.encoder import Encoder, ModelLoadError, WordInput, as_word_lists, special_tokens

pytestmark = pytest.mark.usefixtures("single_torch_thread")

SRC = Path(__file__).resolve().parents[1] / "src" / "xlt"
TEXTS = ["The cat sat on the mat.", "dogs", "A big happy house and a small dog is running", "", "zebra"]


@pytest.fixture(scope="module")
def enc(tmp_path_factory):
    """The tiny BERT with an E5-style ``"query: "`` prefix."""
    return make_tiny_encoder(tmp_path_factory.mktemp("encoder"), text_prefix="query: ")


def forward(enc, ids: list[int]) -> tuple[np.ndarray, ...]:
    """All hidden states of one unpadded input, straight from the model: tuple of float64 (T, D)."""
    with torch.no_grad():
        out = enc.model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                        output_hidden_states=True)
    return tuple(h[0].double().numpy() for h in out.hidden_states)


# --------------------------------------------------------------------------- encode_sentences
def test_encode_sentences_is_the_masked_mean_of_the_last_hidden_state(enc):
    """E5's average_pool: one padded batch through the model, the last hidden state summed under the
    attention mask and divided by the mask's sum; "query: " prefix and [CLS]/[SEP] included."""
    batch = enc.tokenizer(["query: " + t for t in TEXTS], padding=True, return_tensors="pt")
    with torch.no_grad():
        last = enc.model(**batch).last_hidden_state.double().numpy()
    mask = batch["attention_mask"].numpy()[:, :, None].astype(np.float64)
    want = (last * mask).sum(1) / mask.sum(1)
    got = enc.encode_sentences(TEXTS, progress=False)
    assert got.shape == (len(TEXTS), enc.hidden_size) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_encode_sentences_cls_and_layers(enc):
    ids = enc.tokenizer("query: dogs")["input_ids"]
    hs = forward(enc, ids)
    cls = enc.encode_sentences(["dogs"], pooling="cls", layers="all", progress=False)
    assert cls.shape == (enc.num_layers + 1, 1, enc.hidden_size)
    for k in range(enc.num_layers + 1):
        np.testing.assert_allclose(cls[k, 0], hs[k][0], atol=1e-5)
    nospecial = enc.encode_sentences(["dogs"], pooling="mean_nospecial", layers=1, progress=False)
    np.testing.assert_allclose(nospecial[0], hs[1][1:-1].mean(0), atol=1e-5)


# --------------------------------------------------------------------------- encode_words
def test_encode_words_of_a_one_piece_word_is_that_pieces_hidden_state(enc):
    """"dog" is one piece of the tiny vocabulary: its vector is that piece's row, at every layer."""
    tok = enc.tokenizer
    words = ["the", "cats", "dog", "running"]
    ids = tok.convert_tokens_to_ids(["[CLS]", "query", ":", "the", "cat", "##s", "dog", "run", "##n", "##ing",
                                     "[SEP]"])
    hs = forward(enc, ids)
    wf = enc.encode_words([words], layers="all", progress=False)
    assert wf.vectors[0].shape == (enc.num_layers + 1, len(words), enc.hidden_size)
    for k in range(enc.num_layers + 1):
        np.testing.assert_allclose(wf.vectors[0][k, 2], hs[k][6], atol=1e-5)  # "dog"
        np.testing.assert_allclose(wf.vectors[0][k, 0], hs[k][3], atol=1e-5)  # "the"
        np.testing.assert_allclose(wf.vectors[0][k, 1], hs[k][4], atol=1e-5)  # "cats": its first piece
    mean = enc.encode_words([words], layers=-1, pooling="mean", progress=False).vectors[0]
    np.testing.assert_allclose(mean[3], hs[-1][7:10].mean(0), atol=1e-5)  # run ##n ##ing
    np.testing.assert_allclose(mean[2], hs[-1][6], atol=1e-5)


def test_free_functions_are_the_methods_bit_for_bit(enc):
    sents = [["the", "cats", "sat"], [], ["a", "\u200b", "zebra"] * 9]
    a = features.encode_words(enc, sents, layers=[0, -1], max_length=16, progress=False)
    b = enc.encode_words(sents, layers=[0, -1], max_length=16, progress=False)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a.vectors, b.vectors, strict=True))
    assert a.stats == b.stats
    x, sx = features.encode_sentences(enc, TEXTS, layers="all", normalize=True, return_stats=True, progress=False)
    y, sy = enc.encode_sentences(TEXTS, layers="all", normalize=True, return_stats=True, progress=False)
    assert x.tobytes() == y.tobytes() and sx == sy


# --------------------------------------------------------------------------- word_inputs / hidden_states
def test_word_inputs_map_words_to_positions(enc):
    tok = enc.tokenizer
    wi = enc.word_inputs([["the", "cats", "\u200b", "dog"]], unk=False)[0]
    assert isinstance(wi, WordInput) and not wi.truncated
    assert tok.convert_ids_to_tokens(wi.ids) == ["[CLS]", "query", ":", "the", "cat", "##s", "dog", "[SEP]"]
    assert wi.positions == [[3], [4, 5], [], [6]]
    assert [wi.first(w) for w in range(4)] == [3, 4, -1, 6]
    bare = enc.word_inputs([["the", "cats"]], prefix=False)[0]
    assert tok.convert_ids_to_tokens(bare.ids) == ["[CLS]", "the", "cat", "##s", "[SEP]"]
    assert bare.positions == [[1], [2, 3]]
    cut = enc.word_inputs([["the", "cats", "dog"]], max_length=7)[0]  # room for 7 - 2 - 2 = 3 pieces
    assert cut.truncated and len(cut.ids) == 7 and cut.positions == [[3], [4, 5], []]
    unk = enc.word_inputs([["\u200b"]])[0]
    assert unk.pieces.unk_words == [0] and unk.positions == [[3]]
    with pytest.raises(ValueError, match="exceeds the model limit"):
        enc.word_inputs([["a"]], max_length=enc.max_length + 1)
    with pytest.raises(ValueError, match="no room for words"):
        enc.word_inputs([["a"]], max_length=4)  # 2 specials + the 2-token prefix
    with pytest.raises(ValueError, match="list of words"):
        enc.word_inputs(["the cat"])
    assert as_word_lists([("a", "b")]) == [["a", "b"]]


def test_hidden_states_shapes_padding_and_layers(enc):
    short = enc.tokenizer("dog")["input_ids"]
    long = enc.tokenizer("the big cat sat on the mat")["input_ids"]
    all_h = enc.hidden_states([short, long], "all")
    assert all_h.shape == (enc.num_layers + 1, 2, len(long), enc.hidden_size) and all_h.dtype == torch.float32
    assert not all_h.requires_grad
    for k in range(enc.num_layers + 1):
        np.testing.assert_allclose(all_h[k, 0, :len(short)].numpy(), forward(enc, short)[k], atol=1e-5)
        np.testing.assert_allclose(all_h[k, 1].numpy(), forward(enc, long)[k], atol=1e-5)
    one = enc.hidden_states([short, long], -1)
    assert one.shape == (2, len(long), enc.hidden_size)
    assert torch.equal(one, all_h[-1])
    for layer in range(enc.num_layers + 1):  # stopping the pass early changes nothing
        assert torch.equal(enc.hidden_states([short, long], layer, early_exit=True), all_h[layer])
    with pytest.raises(ValueError, match="at least one input"):
        enc.hidden_states([])
    with pytest.raises(ValueError, match="out of range"):
        enc.hidden_states([short], 7)


def test_hidden_states_with_gradients(enc):
    model = type(enc.model).from_pretrained(enc.info["source"])  # a copy to train
    trainee = dataclasses.replace(enc, model=model)
    ids = enc.tokenizer("the cat")["input_ids"]
    h = trainee.hidden_states([ids], -1, grad=True)
    assert h.requires_grad
    h.pow(2).sum().backward()
    assert model.encoder.layer[-1].output.dense.weight.grad is not None
    assert torch.equal(h.detach(), enc.hidden_states([ids], -1))


def test_special_tokens_and_describe(enc):
    cls, sep = enc.tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    assert enc.special_tokens() == special_tokens(enc.tokenizer) == ([cls], [sep])
    assert enc.pad_id == 0
    assert enc.resolve_layers("last") == ([enc.num_layers], True)
    assert enc.describe()["text_prefix"] == "query: "


# --------------------------------------------------------------------------- modules
def test_loading_and_bundled_share_the_encoder_module_without_a_circle():
    assert loading.Encoder is Encoder and bundled.Encoder is Encoder
    assert loading.ModelLoadError is ModelLoadError and issubclass(bundled.BundledFormatError, ModelLoadError)
    tree = ast.parse((SRC / "models" / "bundled.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "xlt.models.loading" not in imported


def test_importing_loading_stays_light():
    code = ("import sys, xlt.models.loading, xlt.models.features; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


#: The encoder, its loaders, and the code that runs it: word alignment, alignment fine-tuning, maps, retrieval, probes.
ENCODER_USERS = [*(SRC / "models").glob("*.py"), *(SRC / "retrieval").glob("*.py"),
                 *(SRC / "align" / f for f in ("__init__.py", "words.py", "finetune.py", "supervision.py", "maps.py")),
                 SRC / "transfer" / "probe.py", SRC / "transfer" / "heads.py"]


def test_no_private_names_imported_across_packages():
    bad = []
    for path in ENCODER_USERS:
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("xlt.")
                    and node.module.split(".")[1] != rel.split("/")[0]
                    and any(a.name.startswith("_") for a in node.names)):
                bad.append(f"{rel}:{node.lineno}: from {node.module} import {', '.join(a.name for a in node.names)}")
    assert not bad, "private names imported across packages:\n" + "\n".join(bad)
