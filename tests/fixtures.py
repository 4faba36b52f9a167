"""A tiny synthetic data folder in XTREME layout, learnable with the tiny test encoder.

``make_synthetic_data(root)`` writes::

    root/udpos/train-en.tsv dev-en.tsv test-en.tsv test-de.tsv test-fr.tsv
    root/panx/train-en.tsv dev-en.tsv dev-de.tsv
    root/sib200/eng_Latn/{train,dev,test}.tsv labels.txt
    root/sib200/deu_Latn/test.tsv

Every word comes from the tiny WordPiece vocabulary of :func:`helpers.tiny_vocab` (plus a few
words that split into several subwords, e.g. ``cats`` -> ``cat ##s``), and labels are a
deterministic function of the word (:data:`UPOS_OF`, :data:`PANX_OF`) or of the topic word set
(:data:`SIB_WORDS`). So a probe on the tiny random encoder can reach high source accuracy, far
above the majority-class baseline, and a broken training loop shows up as a low score.

The target languages are real ISO codes with fake content:

* ``udpos/test-de.tsv``: the English tag mapping, plus one empty sentence (two blank lines in a
  row) that the reader must skip and count;
* ``udpos/test-fr.tsv``: NOUN and VERB labels swapped, so a model that learned the English
  mapping scores well below 100 there (about the share of other tokens);
* ``panx/dev-de.tsv``: the English mapping;
* ``sib200/deu_Latn/test.tsv``: the English topics, plus one example with an empty text.

Everything is generated from a fixed seed, so the files are the same on every run. The returned
:class:`SyntheticData` holds what was written, for tests to derive expectations from.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# word -> UPOS tag; "cats" (cat ##s) and "running" (run ##n ##ing) are multi-subword words
# whose first subword is itself a word with the same tag.
UPOS_OF: dict[str, str] = {
    "the": "DET", "a": "DET",
    "cat": "NOUN", "dog": "NOUN", "mat": "NOUN", "house": "NOUN", "cats": "NOUN",
    "sat": "VERB", "run": "VERB", "walk": "VERB", "running": "VERB",
    "on": "ADP", "in": "ADP", "of": "ADP", "to": "ADP",
    "big": "ADJ", "small": "ADJ", "happy": "ADJ",
    "and": "CCONJ", "is": "AUX", "it": "PRON", ".": "PUNCT",
}  # fmt: skip

# word -> BIO tag: "happy walk" is a person, "big house" an organisation, "mat" a location.
PANX_OF: dict[str, str] = {
    "happy": "B-PER", "walk": "I-PER", "big": "B-ORG", "house": "I-ORG", "mat": "B-LOC",
    "the": "O", "a": "O", "cat": "O", "dog": "O", "sat": "O", "on": "O", "in": "O", "is": "O",
    "and": "O", "to": "O", ".": "O",
}  # fmt: skip
PANX_ENTITIES = [["happy", "walk"], ["big", "house"], ["mat"]]
PANX_FILLER = ["the", "a", "cat", "dog", "sat", "on", "in", "is", "and", "to"]

# SIB-200 topics used in the data (labels.txt lists all seven upstream ones).
SIB_WORDS: dict[str, list[str]] = {
    "sports": ["run", "walk", "running", "big"],
    "travel": ["house", "on", "in", "to", "of"],
    "health": ["happy", "cat", "dog", "cats"],
}
SIB_FILLER = ["the", "a", "and", "is"]
SIB_ALL_LABELS = ["entertainment", "geography", "health", "politics", "science/technology",
                  "sports", "travel"]

_POS = {tag: [w for w, t in UPOS_OF.items() if t == tag] for tag in set(UPOS_OF.values())}
_PATTERNS = [
    ["DET", "ADJ", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"],
    ["DET", "NOUN", "VERB", "ADP", "DET", "ADJ", "NOUN", "PUNCT"],
    ["PRON", "AUX", "ADJ", "CCONJ", "ADJ", "PUNCT"],
    ["DET", "NOUN", "CCONJ", "DET", "NOUN", "VERB", "PUNCT"],
    ["PRON", "VERB", "ADP", "DET", "NOUN", "PUNCT"],
]

Sentence = list[tuple[str, str]]  # (word, label) pairs


@dataclass
class SyntheticData:
    """What :func:`make_synthetic_data` wrote.

    Attributes:
        root: the data folder (pass it as ``data_dir`` / ``--data-dir``).
        token_files: relative path (``udpos/test-de.tsv``) -> the non-empty sentences written,
            as ``(word, label)`` pairs.
        text_files: relative path (``sib200/eng_Latn/test.tsv``) -> ``(id, label, text)`` of
            the non-empty examples written.
        empty: relative path -> number of empty sentences / empty texts written into it.
    """

    root: Path
    token_files: dict[str, list[Sentence]] = field(default_factory=dict)
    text_files: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    empty: dict[str, int] = field(default_factory=dict)

    def path(self, rel: str) -> Path:
        return self.root / rel


def upos_sentences(n: int, rng: random.Random) -> list[Sentence]:
    out = []
    for _ in range(n):
        pattern = rng.choice(_PATTERNS)
        out.append([(w, UPOS_OF[w]) for w in (rng.choice(_POS[t]) for t in pattern)])
    return out


def panx_sentences(n: int, rng: random.Random) -> list[Sentence]:
    out = []
    for _ in range(n):
        segments = [[rng.choice(PANX_FILLER)] for _ in range(rng.randint(3, 6))]
        for _ in range(rng.randint(1, 2)):  # entities go between words, never inside another
            segments.insert(rng.randint(0, len(segments)), rng.choice(PANX_ENTITIES))
        words = [w for seg in segments for w in seg] + ["."]
        out.append([(w, PANX_OF[w]) for w in words])
    return out


def sib_examples(n: int, rng: random.Random, start_id: int) -> list[tuple[str, str, str]]:
    topics = sorted(SIB_WORDS)
    out = []
    for i in range(n):
        label = topics[i % len(topics)]
        words = [rng.choice(SIB_WORDS[label]) for _ in range(rng.randint(4, 7))]
        words += [rng.choice(SIB_FILLER) for _ in range(rng.randint(1, 2))]
        rng.shuffle(words)
        out.append((str(start_id + i), label, " ".join(words) + " ."))
    return out


def write_token_file(path: Path, sentences: list[Sentence], empty_after: int | None = None) -> None:
    """XTREME ``word<TAB>label`` file; ``empty_after=k`` adds an empty sentence after the k-th."""
    lines: list[str] = []
    for k, sent in enumerate(sentences):
        lines += [f"{w}\t{t}" for w, t in sent] + [""]
        if empty_after is not None and k == empty_after:
            lines.append("")  # a second blank line in a row: an empty sentence
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_sib_file(path: Path, examples: list[tuple[str, str, str]],
                   empty_text_id: str | None = None) -> None:
    lines = ["index_id\tcategory\ttext"] + [f"{i}\t{c}\t{t}" for i, c, t in examples]
    if empty_text_id is not None:
        lines.insert(2, f"{empty_text_id}\thealth\t   ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_synthetic_data(root: str | Path, seed: int = 0, n_train: int = 80,
                        n_eval: int = 30) -> SyntheticData:
    """Write the synthetic data folder under ``root`` (see the module docstring)."""
    rng = random.Random(seed)
    data = SyntheticData(root=Path(root))

    def token(rel: str, sents: list[Sentence], empty_after: int | None = None) -> None:
        write_token_file(data.path(rel), sents, empty_after)
        data.token_files[rel] = sents
        data.empty[rel] = 0 if empty_after is None else 1

    token("udpos/train-en.tsv", upos_sentences(n_train, rng))
    token("udpos/dev-en.tsv", upos_sentences(n_eval, rng))
    token("udpos/test-en.tsv", upos_sentences(n_eval, rng))
    token("udpos/test-de.tsv", upos_sentences(n_eval, rng), empty_after=4)
    swap = {"NOUN": "VERB", "VERB": "NOUN"}
    token("udpos/test-fr.tsv",
          [[(w, swap.get(t, t)) for w, t in s] for s in upos_sentences(n_eval, rng)])

    token("panx/train-en.tsv", panx_sentences(n_train, rng))
    token("panx/dev-en.tsv", panx_sentences(n_eval, rng))
    token("panx/dev-de.tsv", panx_sentences(n_eval, rng))

    def sib(rel: str, examples: list[tuple[str, str, str]], empty_id: str | None = None) -> None:
        write_sib_file(data.path(rel), examples, empty_id)
        data.text_files[rel] = examples
        data.empty[rel] = 0 if empty_id is None else 1

    sib("sib200/eng_Latn/train.tsv", sib_examples(n_train, rng, 0))
    sib("sib200/eng_Latn/dev.tsv", sib_examples(n_eval, rng, 1000))
    sib("sib200/eng_Latn/test.tsv", sib_examples(n_eval, rng, 2000))
    sib("sib200/deu_Latn/test.tsv", sib_examples(n_eval, rng, 2000), empty_id="9999")
    (data.root / "sib200" / "eng_Latn" / "labels.txt").write_text("\n".join(SIB_ALL_LABELS) + "\n",
                                                     encoding="utf-8")
    return data


@contextmanager
def one_torch_thread():
    """Run torch single-threaded inside the block, then restore the thread count.

    The tests use tiny tensors, for which intra-op threading is pure overhead; on a busy
    2-core machine a second thread spinning for a core turns a 0.1 ms step into 20+ ms.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def interrupt_after_write(monkeypatch) -> dict:
    """Count a run's file writes (``Path.write_text``, ``os.replace``, ``Figure.savefig``) and send a
    real SIGINT right after write number ``calls["stop"]`` (None: never).

    Returns:
        the counter, ``{"n": writes so far, "stop": write to interrupt after}``; set both between runs.
    """
    import os
    import signal

    import matplotlib.figure

    real = {"write_text": Path.write_text, "replace": os.replace, "savefig": matplotlib.figure.Figure.savefig}
    calls = {"n": 0, "stop": None}

    def counting(name):
        def wrapper(*args, **kwargs):
            result = real[name](*args, **kwargs)
            calls["n"] += 1
            if calls["stop"] is not None and calls["n"] == calls["stop"]:
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, right after this write
            return result
        return wrapper

    monkeypatch.setattr(Path, "write_text", counting("write_text"))
    monkeypatch.setattr(os, "replace", counting("replace"))
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", counting("savefig"))
    return calls
