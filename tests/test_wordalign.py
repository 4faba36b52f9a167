"""Word alignment: readers, AER, the extraction methods on hand-built matrices, the aligner
with the tiny encoder, ``xlt wordalign`` and (when installed) a comparison with SimAlign."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from xlt.align.words import (
    WordAligner,
    apply_distortion,
    argmax_links,
    distortion_prior,
    encode_subwords,
    itermax_links,
    match_links,
    mean_pool_words,
    method_output_path,
    parse_methods,
    similarity_matrix,
    softmax_links,
    word_links,
)
from xlt.cli import main
from xlt.data.readers import DataFormatError
from xlt.data.wordalign import format_pharaoh, read_pairs, read_pharaoh, simple_tokenize, write_pharaoh
from xlt.evaluate.wordalign import alignment_error_rate, alignment_scores, evaluate_alignment_files

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def links_of(mat) -> set[tuple[int, int]]:
    i, j = np.nonzero(np.asarray(mat))
    return set(zip(i.tolist(), j.tolist()))


def error_lines(err: str) -> list[str]:
    return [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("xlt: error: ")]


# --------------------------------------------------------------------------- AER by hand
def test_aer_precision_recall_f1_by_hand():
    # S = {0-0, 1-1}; P = S + {1-2}; A = {0-0, 1-2, 2-2}
    # |A∩S| = 1, |A∩P| = 2, |A| = 3, |S| = 2
    # AER = 1 - (1 + 2) / (3 + 2) = 0.4; P = 2/3; R = 1/2; F1 = 2·(2/3)(1/2)/(2/3 + 1/2) = 4/7
    pred, sure, possible = [{(0, 0), (1, 2), (2, 2)}], [{(0, 0), (1, 1)}], [{(1, 2)}]
    s = alignment_scores(pred, sure, possible)
    assert s["aer"] == pytest.approx(40.0)
    assert s["precision"] == pytest.approx(200 / 3)
    assert s["recall"] == pytest.approx(50.0)
    assert s["f1"] == pytest.approx(400 / 7)
    assert s["counts"] == {"pairs": 1, "pred": 3, "sure": 2, "possible": 3, "pred_and_sure": 1,
                           "pred_and_possible": 2}
    assert alignment_error_rate(pred, sure, possible) == pytest.approx(40.0)


def test_aer_sums_over_the_corpus_and_edge_cases():
    # pair 1: perfect (A = S = {0-0}); pair 2: A = {0-1, 1-0} against S = {0-0, 1-1, 2-2}, no overlap.
    # Corpus: |A| = 3, |S| = 4, |A∩S| = |A∩P| = 1 -> AER = 1 - 2/7 (the mean of per-pair AERs would be 0.5).
    pred = [{(0, 0)}, {(0, 1), (1, 0)}]
    sure = [{(0, 0)}, {(0, 0), (1, 1), (2, 2)}]
    assert alignment_error_rate(pred, sure) == pytest.approx(100 * (1 - 2 / 7))
    # without possible links AER = 100 - F1
    s = alignment_scores(pred, sure)
    assert s["aer"] == pytest.approx(100 - s["f1"])
    # sure links count as possible even when not listed there (S ⊆ P)
    assert alignment_scores([{(0, 0)}], [{(0, 0)}], [set()])["aer"] == 0.0
    assert alignment_scores([set()], [set()])["aer"] == 0.0
    assert alignment_scores([set()], [{(0, 0)}])["precision"] == 0.0
    with pytest.raises(ValueError, match="one per sentence pair"):
        alignment_scores([set()], [set(), set()])


# --------------------------------------------------------------------------- methods by hand
def test_argmax_is_the_intersection_of_both_directions():
    sim = np.array([[0.9, 0.1, 0.2],
                    [0.8, 0.3, 0.1]])
    # rows: 0 -> 0, 1 -> 0; columns: 0 -> 0, 1 -> 1, 2 -> 0; both agree only on 0-0
    assert links_of(argmax_links(sim)) == {(0, 0)}
    # ties go to the lowest index (numpy.argmax), in both directions
    assert links_of(argmax_links(np.ones((2, 2)))) == {(0, 0)}
    out = argmax_links(torch.tensor(sim))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.bool


def test_itermax_adds_links_for_unaligned_words():
    sim = np.array([[0.90, 0.80, 0.10],
                    [0.85, 0.20, 0.10],
                    [0.10, 0.10, 0.30]])
    # argmax: {0-0, 2-2}. Free: row 1, column 1. Re-weighted matrix (1 where both free, 0.9
    # where one is free, 0 where both are aligned):
    #   [[0,     0.72,  0   ],
    #    [0.765, 0.20,  0.09],
    #    [0,     0.09,  0   ]]
    # rows -> 1, 0, 1; columns -> 1, 0, 1: new links 0-1 and 1-0.
    assert links_of(argmax_links(sim)) == {(0, 0), (2, 2)}
    assert links_of(itermax_links(sim)) == {(0, 0), (2, 2), (0, 1), (1, 0)}
    # max_count=1 is plain argmax
    assert links_of(itermax_links(sim, max_count=1)) == {(0, 0), (2, 2)}
    # min(m, n) <= 2: plain argmax, whatever is left unaligned
    two = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert links_of(itermax_links(two)) == links_of(argmax_links(two)) == {(0, 0)}
    # every row already aligned: nothing is added although column 3 is free (without that rule
    # the second round would link 0-3: every row's best re-weighted cell is 0.9 * 0.5 in column 3)
    diag = np.array([[0.9, 0.1, 0.1, 0.5],
                     [0.1, 0.9, 0.1, 0.5],
                     [0.1, 0.1, 0.9, 0.5]])
    assert links_of(itermax_links(diag)) == links_of(argmax_links(diag)) == {(0, 0), (1, 1), (2, 2)}


def test_match_maximises_the_total_similarity():
    sim = np.array([[0.9, 0.8],
                    [0.85, 0.1]])
    # argmax links only 0-0; the matching {0-1, 1-0} (1.65) beats {0-0, 1-1} (1.0)
    assert links_of(match_links(sim)) == {(0, 1), (1, 0)}
    wide = np.array([[0.1, 0.9, 0.2],
                     [0.3, 0.8, 0.7]])
    # min(m, n) = 2 links: 0-1 + 1-2 = 1.6 is the best
    assert links_of(match_links(wide)) == {(0, 1), (1, 2)}
    assert links_of(match_links(wide.T)) == {(1, 0), (2, 1)}


def test_softmax_keeps_links_probable_in_both_directions():
    dots = np.array([[5.0, 0.0],
                     [0.0, 0.0]])
    # rows: [0.9933, 0.0067], [0.5, 0.5]; columns: [0.9933, 0.0067], [0.5, 0.5]
    assert links_of(softmax_links(dots, threshold=0.01)) == {(0, 0), (1, 1)}
    assert links_of(softmax_links(dots, threshold=0.001)) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    # default threshold 0.001: exp(-10) ≈ 4.5e-5 is below it
    assert links_of(softmax_links(dots * 2)) == {(0, 0), (1, 1)}


def test_distortion_prior():
    prior = distortion_prior(3, 3, 0.5)
    # 1 - 0.5 * (j/2 - i/2)^2
    assert prior[0, 0] == prior[2, 2] == 1.0
    assert prior[0, 2] == pytest.approx(0.5) and prior[1, 0] == pytest.approx(0.875)
    sim = np.full((3, 3), 0.8)
    assert np.allclose(apply_distortion(sim, 0.5), 0.8 * prior)
    assert np.array_equal(apply_distortion(sim, 0.0), sim)
    assert np.array_equal(apply_distortion(np.full((1, 3), 0.8), 0.5), np.full((1, 3), 0.8))


def test_similarity_is_shifted_cosine():
    x = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], dtype=np.float32)
    y = np.array([[3.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    assert np.allclose(similarity_matrix(x, y), [[1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])


def test_batched_matrices_match_one_by_one():
    rng = np.random.default_rng(0)
    sizes = [(5, 7), (3, 2), (8, 8), (1, 4)]
    batch = np.full((len(sizes), 8, 8), 5.0, dtype=np.float32)  # large padding must never win or link
    mats = []
    for b, (m, n) in enumerate(sizes):
        mats.append(rng.random((m, n)).astype(np.float32))
        batch[b, :m, :n] = mats[b]
    ms, ns = [s[0] for s in sizes], [s[1] for s in sizes]
    for fn in (argmax_links, itermax_links, match_links, softmax_links):
        out = fn(batch, src_lens=ms, tgt_lens=ns)
        assert out.shape == batch.shape
        for b, (m, n) in enumerate(sizes):
            assert not out[b, m:, :].any() and not out[b, :, n:].any()
            assert np.array_equal(out[b, :m, :n], fn(mats[b])), fn.__name__
    d = apply_distortion(batch, 0.3, src_lens=ms, tgt_lens=ns)
    for b, (m, n) in enumerate(sizes):
        assert np.allclose(d[b, :m, :n], apply_distortion(mats[b], 0.3))


def test_subword_to_word_aggregation():
    sub = np.zeros((3, 3), dtype=bool)
    sub[0, 1] = sub[1, 2] = sub[2, 0] = True
    # source subwords belong to words [0, 0, 1], target subwords to [0, 1, 1]:
    # 0-1 -> (0, 1), 1-2 -> (0, 1), 2-0 -> (1, 0)
    assert word_links(sub, [0, 0, 1], [0, 1, 1]) == {(0, 1), (1, 0)}
    with pytest.raises(ValueError, match="shape"):
        word_links(sub, [0, 1], [0, 1, 1])
    vecs, words = mean_pool_words(np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]], dtype=np.float32), [0, 0, 2])
    assert np.allclose(vecs, [[2.0, 0.0], [0.0, 2.0]]) and words.tolist() == [0, 2]


def test_parse_methods():
    assert parse_methods("all") == ("argmax", "itermax", "match", "softmax")
    assert parse_methods("match, argmax,match") == ("match", "argmax")
    with pytest.raises(ValueError, match="unknown alignment method 'inter'"):
        parse_methods("inter")


# --------------------------------------------------------------------------- files
def test_read_pairs_tokenisers_and_skips(tmp_path):
    f = tmp_path / "pairs.txt"
    f.write_text("the cat ||| le chat\n ||| vide\n\nHello, world! ||| 你好世界\n", encoding="utf-8")
    data = read_pairs(f)
    assert data.src == [["the", "cat"], [], [], ["Hello,", "world!"]]
    assert data.tgt[0] == ["le", "chat"] and data.tgt[3] == ["你好世界"]
    assert data.skipped_lines == [2, 3] and data.n_skipped_empty == 2 and data.n_lines == 4
    assert data.lengths == [(2, 2), (0, 0), (0, 0), (2, 1)]
    raw = read_pairs(f, tokenizer="simple")
    assert raw.src[3] == ["Hello", ",", "world", "!"] and raw.tgt[3] == ["你", "好", "世", "界"]
    # numbers stay whole since simple_tokenize learnt them (it used to give "3", ".", "5")
    assert simple_tokenize("It's 3.5 km.") == ["It", "'", "s", "3.5", "km", "."]
    assert simple_tokenize("1,000 at 10:30, 3. 5") == ["1,000", "at", "10:30", ",", "3", ".", "5"]
    with pytest.raises(ValueError, match="unknown word tokenizer"):
        read_pairs(f, tokenizer="moses")


@pytest.mark.parametrize("line", ["the cat le chat", "a ||| b ||| c"])
def test_read_pairs_bad_separator_names_the_line(tmp_path, line):
    f = tmp_path / "pairs.txt"
    f.write_text(f"a ||| b\nc ||| d\n{line}\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        read_pairs(f)
    assert info.value.line == 3 and str(info.value).startswith(f"{f}:3:") and "|||" in str(info.value)


def test_read_pharaoh_possible_links_and_one_based(tmp_path):
    f = tmp_path / "gold"
    f.write_text("1-1 2p3\n\n3-2 1p1 1-1\n", encoding="utf-8")
    g = read_pharaoh(f, one_based=True)
    assert g.sure == [{(0, 0)}, set(), {(2, 1), (0, 0)}]
    assert g.possible == [{(0, 0), (1, 2)}, set(), {(2, 1), (0, 0)}]  # a link both sure and possible is sure
    assert g.n_sure == 3 and g.n_possible_only == 1
    z = read_pharaoh(f)  # the same text read as 0-based
    assert z.sure[0] == {(1, 1)}
    g2 = read_pharaoh(f, one_based=True, lengths=[(2, 3), (0, 0), (3, 2)])
    assert g2.sure == g.sure


def test_read_pharaoh_errors_name_the_line(tmp_path):
    f = tmp_path / "gold"
    f.write_text("1-1\n0-1 2-2\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r":2: link '0-1' has index 0"):
        read_pharaoh(f, one_based=True)
    f.write_text("0-0\n1:2\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r":2: bad link '1:2'"):
        read_pharaoh(f)
    f.write_text("1-1\n1-1 3-1\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        read_pharaoh(f, one_based=True, lengths=[(1, 1), (2, 2)])
    assert info.value.line == 2 and "'3-1' is outside the sentence pair: source has 2 words" in str(info.value)
    with pytest.raises(DataFormatError, match=r":3: .*2 lines but there are 3 sentence pairs"):
        read_pharaoh(f, one_based=True, lengths=[(1, 1), (3, 2), (1, 1)])
    with pytest.raises(DataFormatError, match=r":2: .*more lines than the 1 sentence pairs"):
        read_pharaoh(f, one_based=True, lengths=[(1, 1)])


def test_write_pharaoh_round_trip(tmp_path):
    out = write_pharaoh(tmp_path / "sub" / "a.txt", [{(1, 0), (0, 0)}, set(), {(2, 3)}],
                        possible=[{(0, 1)}, set(), set()])
    assert out.read_text(encoding="utf-8") == "0-0 1-0 0p1\n\n2-3\n"
    back = read_pharaoh(out)
    assert back.sure == [{(0, 0), (1, 0)}, set(), {(2, 3)}]
    assert format_pharaoh([(0, 0)], one_based=True) == "1-1"


def test_evaluate_files_checks_lines(tmp_path):
    pairs = tmp_path / "p.txt"
    pairs.write_text("a b ||| x y\nc ||| z\n", encoding="utf-8")
    gold = tmp_path / "g"
    gold.write_text("1-1 2p2\n1-1\n", encoding="utf-8")
    pred = tmp_path / "pred"
    pred.write_text("0-0 1-1\n\n", encoding="utf-8")
    # A = {0-0, 1-1 | -}, S = {0-0 | 0-0}, P adds 1-1: AER = 1 - (1 + 2) / (2 + 2) = 25 %
    s = evaluate_alignment_files(pred, gold, one_based=True, pairs=pairs)
    assert s["aer"] == pytest.approx(25.0) and s["precision"] == 100.0 and s["recall"] == 50.0
    pred.write_text("0-0\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="1 lines but there are 2 sentence pairs"):
        evaluate_alignment_files(pred, gold, one_based=True, pairs=pairs)
    with pytest.raises(DataFormatError, match="1 lines but g has 2"):
        evaluate_alignment_files(pred, gold, one_based=True)


def test_method_output_path():
    assert str(method_output_path("r/a.txt", "match", 1)) == "r/a.txt"
    assert str(method_output_path("r/a.txt", "match", 2)) == "r/a.match.txt"
    assert str(method_output_path("r/a", "match", 2)) == "r/a.match"
    assert str(method_output_path("r/{method}/a.txt", "argmax", 1)) == "r/argmax/a.txt"


# --------------------------------------------------------------------------- with the tiny encoder
PAIRS = [
    ("the cat sat on the mat".split(), "the dog is in the house".split()),
    ("cats running".split(), "a zebra and a cat".split()),
    ("zebra".split(), "zebra".split()),
    ("big small happy dog".split(), "dog happy".split()),
]


def test_early_exit_gives_the_same_hidden_states(tiny):
    enc, _ = tiny
    sents = [p[0] for p in PAIRS] + [p[1] for p in PAIRS]
    for layer in (0, 1, 2):
        fast = encode_subwords(enc, sents, layer=layer, batch_size=3, early_exit=True)
        full = encode_subwords(enc, sents, layer=layer, batch_size=3, early_exit=False)
        for a, b in zip(fast.vectors, full.vectors):
            assert torch.allclose(a, b, atol=1e-6)
    # "cats" = cat ##s, "running" = run ##n ##ing
    assert fast.word_ids[1].tolist() == [0, 0, 1, 1, 1]
    assert fast.stats["n_unique"] == len(sents) - 1  # "zebra" occurs twice, encoded once


def test_identical_sentences_align_on_the_diagonal(tiny):
    enc, _ = tiny
    sents = [p[0] for p in PAIRS]
    aligner = WordAligner(enc, layer=1, methods="argmax,itermax,match")
    res = aligner.align_all([(s, s) for s in sents])
    for m in ("argmax", "itermax", "match"):
        for s, links in zip(sents, res[m]):
            assert links == {(i, i) for i in range(len(s))}, m
    assert aligner.stats["n_pairs"] == 4 and aligner.stats["n_unique"] == 4


def test_bfloat16_aligner_leaves_the_encoder_alone(tiny):
    """A bfloat16 copy of the model still puts identical sentences on the diagonal (their
    vectors are identical whatever the precision), and the caller's encoder stays float32."""
    enc, _ = tiny
    sents = [p[0] for p in PAIRS]
    aligner = WordAligner(enc, layer=1, methods="argmax", dtype="bfloat16")
    assert next(aligner.encoder.model.parameters()).dtype == torch.bfloat16
    assert next(enc.model.parameters()).dtype == torch.float32
    res = aligner.align([(s, s) for s in sents])
    assert res == [{(i, i) for i in range(len(s))} for s in sents]
    with pytest.raises(ValueError, match="dtype"):
        WordAligner(enc, dtype="float16")


def test_aligner_batch_size_and_methods_from_one_pass(tiny):
    enc, _ = tiny
    pairs = PAIRS + [([], ["a"]), ("the cat", "le chat")]  # an empty side; strings are split
    a = WordAligner(enc, layer=2, methods="all", batch_size=1).align_all(pairs)
    b = WordAligner(enc, layer=2, methods="all", batch_size=16).align_all(pairs)
    assert a == b
    for m, per_pair in a.items():
        assert len(per_pair) == len(pairs) and per_pair[4] == set()
        for (src, tgt), links in zip([_split(p) for p in pairs], per_pair):
            assert all(0 <= i < len(src) and 0 <= j < len(tgt) for i, j in links), m
    # match gives min(#subwords) links before aggregation: at least one word link per pair
    assert all(a["match"][k] for k in (0, 1, 2, 3, 5))
    one = WordAligner(enc, layer=2, methods="all").align(pairs, method="itermax")
    assert one == a["itermax"]
    words = WordAligner(enc, layer=2, methods="all", level="word").align_all(pairs)
    assert words["argmax"][2] == {(0, 0)}
    with pytest.raises(ValueError, match="out of range"):
        WordAligner(enc, layer=5)


def _split(p):
    return tuple(s.split() if isinstance(s, str) else list(s) for s in p)


def test_word_level_matches_manual_pipeline(tiny):
    """The aligner's subword pipeline equals the matrix functions applied by hand."""
    enc, _ = tiny
    src, tgt = PAIRS[1]
    sv = encode_subwords(enc, [src, tgt], layer=1)
    sim = similarity_matrix(sv.vectors[0].numpy(), sv.vectors[1].numpy())
    dots = sv.vectors[0].numpy() @ sv.vectors[1].numpy().T
    expected = {
        "argmax": word_links(argmax_links(sim), sv.word_ids[0], sv.word_ids[1]),
        "itermax": word_links(itermax_links(sim), sv.word_ids[0], sv.word_ids[1]),
        "match": word_links(match_links(sim), sv.word_ids[0], sv.word_ids[1]),
        "softmax": word_links(softmax_links(dots), sv.word_ids[0], sv.word_ids[1]),
    }
    got = WordAligner(enc, layer=1, methods="all").align_all([(src, tgt)])
    assert {m: v[0] for m, v in got.items()} == expected


# --------------------------------------------------------------------------- CLI
def test_cli_wordalign_and_eval(tiny, tmp_path, capsys):
    _, spec = tiny
    pairs = tmp_path / "pairs.txt"
    lines = [" ".join(s) + " ||| " + " ".join(t) for s, t in PAIRS]
    lines.insert(2, "orphan ||| ")
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    gold = tmp_path / "gold"
    gold.write_text("1-1 2p2\n1-4\n\n1-1\n4-1 3p2\n", encoding="utf-8")
    out = tmp_path / "out" / "pred.txt"
    report = tmp_path / "report.json"
    code = main(["wordalign", "--pairs", str(pairs), "--model", spec, "--method", "argmax,match",
                 "--layer", "1", "--out", str(out), "--gold", str(gold), "--one-based",
                 "--report", str(report), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "4 sentence pairs aligned (1 lines with an empty side skipped)" in printed and "AER" in printed
    lengths = read_pairs(pairs).lengths
    for m in ("argmax", "match"):
        text = (tmp_path / "out" / f"pred.{m}.txt").read_text(encoding="utf-8")
        assert text.count("\n") == 5 and text.splitlines()[2] == ""
        read_pharaoh(tmp_path / "out" / f"pred.{m}.txt", lengths=lengths)  # every link in range
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert set(rep["scores"]) == {"argmax", "match"} and rep["counts"]["skipped_lines"] == [3]
    assert rep["config"]["layer"] == 1 and rep["config"]["use_prefix"] is False and "manifest" in rep
    for m in ("argmax", "match"):
        assert 0 <= rep["scores"][m]["aer"] <= 100

    code = main(["wordalign", "eval", "--gold", str(gold), "--one-based", "--pairs", str(pairs),
                 "--pred", str(tmp_path / "out" / "pred.argmax.txt"), str(tmp_path / "out" / "pred.match.txt")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "pred.argmax.txt" in printed and "pred.match.txt" in printed
    assert f"{rep['scores']['argmax']['aer']:6.2f}" in printed


def test_cli_wordalign_bad_input(tiny, tmp_path, capsys):
    _, spec = tiny
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("a ||| b\nno separator here\n", encoding="utf-8")
    code = main(["wordalign", "--pairs", str(pairs), "--model", spec, "--layer", "1", "--out",
                 str(tmp_path / "o.txt"), "--no-progress"])
    assert code == 2
    err = error_lines(capsys.readouterr().err)
    assert err and f"{pairs}:2:" in err[0] and "|||" in err[0]
    pairs.write_text("a ||| b\n", encoding="utf-8")
    gold = tmp_path / "gold"
    gold.write_text("1-2\n", encoding="utf-8")
    code = main(["wordalign", "eval", "--gold", str(gold), "--one-based", "--pairs", str(pairs),
                 "--pred", str(gold)])
    assert code == 2
    err = error_lines(capsys.readouterr().err)
    assert err and f"{gold}:1:" in err[0] and "outside the sentence pair" in err[0]
    assert main(["wordalign", "--pairs", str(pairs), "--model", spec, "--method", "inter", "--layer", "1",
                 "--out", str(tmp_path / "o.txt")]) == 2
    assert "unknown alignment method" in capsys.readouterr().err
    # the default layer (8) does not exist in a 2-layer model: said before the model loads
    assert main(["wordalign", "--pairs", str(pairs), "--model", spec, "--out", str(tmp_path / "o.txt")]) == 2
    assert "--layer 8" in capsys.readouterr().err
    assert main(["wordalign", "--pairs", str(pairs)]) == 2  # --out missing
    assert error_lines(capsys.readouterr().err) == ["xlt: error: the following arguments are required: --out"]


# --------------------------------------------------------------------------- SimAlign, when installed
def test_matrix_methods_agree_with_simalign():
    simalign = pytest.importorskip("simalign")
    pytest.importorskip("networkx")
    sa = simalign.SentenceAligner
    rng = np.random.default_rng(1)
    for t in range(150):
        m, n = (int(x) for x in rng.integers(1, 20, 2))
        x = rng.normal(size=(m, 8)).astype(np.float32)
        y = rng.normal(size=(n, 8)).astype(np.float32)
        ref = sa.get_similarity(x, y)
        assert np.allclose(similarity_matrix(x, y), ref, atol=1e-6)
        if t % 2:
            assert np.allclose(apply_distortion(ref, 0.5), sa.apply_distortion(ref, 0.5))
            ref = sa.apply_distortion(ref, 0.5)
        fwd, rev = sa.get_alignment_matrix(ref)
        assert np.array_equal(argmax_links(ref), fwd * rev > 0)
        assert np.array_equal(itermax_links(ref), sa.iter_max(ref) > 0)
        assert np.array_equal(match_links(ref), sa.get_max_weight_match(ref) > 0)


@pytest.mark.parametrize("level,distortion", [("subword", 0.0), ("subword", 0.5), ("word", 0.0)])
def test_aligner_agrees_with_simalign_end_to_end(tiny, level, distortion):
    """The whole pipeline (tokenisation, layer, matrices, aggregation) gives SimAlign's links."""
    simalign = pytest.importorskip("simalign")
    pytest.importorskip("networkx")
    enc, spec = tiny
    token_type = {"subword": "bpe", "word": "word"}[level]
    ref = simalign.SentenceAligner(model=spec, token_type=token_type, distortion=distortion,
                                   matching_methods="mai", layer=1)
    ours = WordAligner(enc, layer=1, methods="argmax,itermax,match", level=level,
                       distortion=distortion).align_all(PAIRS)
    names = {"argmax": "inter", "itermax": "itermax", "match": "mwmf"}
    for k, (src, tgt) in enumerate(PAIRS):
        theirs = ref.get_word_aligns(src, tgt)
        for m, name in names.items():
            assert ours[m][k] == set(theirs[name]), (m, src, tgt)
