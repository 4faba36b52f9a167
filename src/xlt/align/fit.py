"""The computation behind ``xlt align fit``, ``eval`` and ``finetune``: supervision corpora, map files, word retrieval.

The runs themselves (config, report, manifest) are jobs: :mod:`xlt.jobs.align`.

``fit`` builds supervision pairs (:mod:`xlt.align.supervision`) for every target language and
fits one :class:`~xlt.align.maps.CrossLingualAligner` per method from the same pairs (the
encoder passes are shared), writing ``FILE`` (one method) or ``FILE``'s stem plus
``.<method>.npz`` (several), and a ``.report.json`` with the pair counts, fit errors and
timings.

``eval`` is the word-level retrieval diagnostic: each target word with a link asks for its
nearest English word by cosine, (a) among the words of its own sentence pair and (b) among all
English words of the evaluation set; precision@1 before and after each aligner, per language
and layer. Two evaluation sets: held-out lines of the parallel corpus (never used for fitting)
with the word aligner's one-to-one argmax links (computed from prefix-free subword vectors at
the aligner's layer, not from the probe's features, so not trivially 100% before alignment),
and the human gold alignments of ``wordalign`` (fr, ro, ja, zh; sure one-to-one links).

The parallel corpus (``parallel``) is NTREX-128 by default or a user's own: two line-aligned
files, a ``src ||| tgt`` or ``src<TAB>tgt`` file, or a folder of files named by language, all
read by :func:`xlt.data.parallel.open_parallel`; it must have an English side. Dictionary
supervision takes the data folder's ``dict/`` or ``bli/`` files or a user's dictionary file
(:func:`xlt.data.dictionaries.read_dictionary`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xlt.align import supervision as sup
from xlt.align.maps import AlignerError
from xlt.align.supervision import PIVOT
from xlt.align.words import WordAligner
from xlt.data import tasks as task_registry
from xlt.data.dataset import DatasetError
from xlt.data.langs import UnknownLanguageError, describe_codes, iso639_3, match_language
from xlt.data.parallel import NTREX_SOURCE, ntrex_languages, open_parallel
from xlt.data.readers import check_not_folder
from xlt.models.words import DEFAULT_WORD_PIECES

SUPERVISION = ("parallel", "dictionary")


def method_paths(out: str | Path, methods: list[str]) -> dict[str, Path]:
    """Output file per method: ``out`` itself for one method, ``<stem>.<method>.npz`` for several."""
    out = Path(out)
    stem = out.name[:-4] if out.name.endswith(".npz") else out.name
    if len(methods) == 1:
        return {methods[0]: out.with_name(stem + ".npz")}
    return {m: out.with_name(f"{stem}.{m.replace('+', '-')}.npz") for m in methods}


def expand_languages(spec: str, data_dir: str | Path | None = None,
                     available: list[str] | None = None) -> tuple[str, dict[str, list[str]]]:
    """Turn task names in a language list into their targets that have parallel text.

    ``udpos`` stands for every UD-POS target language with parallel text (and likewise for any
    task name); other items are language codes, kept as they are.

    Args:
        spec: ``all`` or comma-separated codes and task names.
        data_dir: the data folder (the tasks' languages; NTREX when ``available`` is None).
        available: the languages of the parallel corpus, English left out (None = NTREX's).

    Returns:
        ``(comma-separated codes, {task: [its targets without parallel text]})``.
    """
    if spec.strip().lower() == "all":
        return "all", {}
    have = (list(available) if available is not None
             else [k for k in ntrex_languages(data_dir) if k != NTREX_SOURCE])
    out: list[str] = []
    missing: dict[str, list[str]] = {}
    for item in (c.strip() for c in spec.split(",") if c.strip()):
        if item.lower() in task_registry.TASKS:
            for lang in task_registry.available_languages(item.lower(), data_dir):
                if iso639_3(lang) == "eng":
                    continue
                try:
                    out.append(match_language(lang, have))
                except UnknownLanguageError:
                    missing.setdefault(item.lower(), []).append(lang)
        else:
            out.append(item)
    first: dict[str, str] = {}  # one code per language, the first given
    for code in out:
        first.setdefault(iso639_3(code), code)
    return ",".join(first.values()), missing


def open_source(parallel: Any, src_lang: str | None = None, tgt_lang: str | None = None,
                data_dir: str | Path | None = None):
    """The parallel corpus of an ``xlt align`` command and the key of its English side.

    Returns:
        ``(ParallelSource, English key)`` (``eng`` for NTREX, ``en`` for ``en.txt``).

    Raises:
        UnknownLanguageError: the corpus has no English side (the message lists its languages);
        and whatever :func:`xlt.data.parallel.open_parallel` raises.
    """
    source = open_parallel(parallel, src_lang=src_lang, tgt_lang=tgt_lang, data_dir=data_dir)
    try:
        return source, match_language(PIVOT, source.languages)
    except UnknownLanguageError as exc:
        raise UnknownLanguageError(PIVOT, f"{source.name} has no English side (it has "
                                          f"{describe_codes(source.languages)}); xlt align maps every "
                                          "language into English, so the corpus needs English text",
                                   source.languages) from exc


def fit_corpus(parallel: Any, langs: str, *, src_lang: str | None = None, tgt_lang: str | None = None,
               data_dir: str | Path | None = None, heldout: int = 200, max_sentences: int | None = None):
    """The fitting lines of ``langs`` (task names expanded) and the task targets without parallel text.

    Args:
        parallel: ``ntrex`` or a user's corpus (see :func:`open_source`).
        langs: target codes, task names or ``all`` (see :func:`expand_languages`).
        heldout: final lines kept apart (never returned here). max_sentences: cap on the lines.

    Returns:
        ``(ParallelCorpus, {task: [its targets without parallel text]})``.

    Raises:
        AlignerError: no language left; UnknownLanguageError: a code without parallel text.
    """
    source, pivot = open_source(parallel, src_lang, tgt_lang, data_dir)
    codes, no_text = expand_languages(langs, data_dir, available=[k for k in source.languages if k != pivot])
    if not codes:
        raise AlignerError(f"no target language with parallel text ({source.name}) in {langs!r}")
    corpus = sup.read_parallel_corpus(source, codes, data_dir, part="fit", heldout=heldout,
                                      max_sentences=max_sentences)
    return corpus, no_text


def check_user_dictionary(supervision: str, dictionary: str, langs: str) -> None:
    """Fail early (before any text is read) on a user dictionary without exactly one language.

    Nothing to check unless ``supervision`` is ``dictionary`` and ``dictionary`` is a file (not
    one of :data:`xlt.align.supervision.DICTIONARY_KINDS`).

    Raises:
        FileNotFoundError: no such file; IsADirectoryError: ``dictionary`` is a folder; DatasetError:
            ``langs`` is not one language code.
    """
    if supervision != "dictionary" or dictionary in sup.DICTIONARY_KINDS:
        return
    check_not_folder(dictionary, "a dictionary file (--dictionary takes wiktionary, bli or a file)")
    if not Path(dictionary).is_file():
        raise FileNotFoundError(f"no such dictionary file: {dictionary} "
                                "(--dictionary takes wiktionary, bli or a file)")
    codes = [c.strip() for c in langs.split(",") if c.strip()]
    if len(codes) != 1 or codes[0].lower() == "all" or codes[0].lower() in task_registry.TASKS:
        raise DatasetError(f"the dictionary {dictionary} is for one language: give it with --langs "
                           f"(one language code, got {langs!r})")


def word_aligner(encoder, layer: int, dtype: str = "float32", progress: bool = True,
                 word_pieces: str = DEFAULT_WORD_PIECES):
    """The argmax :class:`~xlt.align.words.WordAligner` that supervision links come from
    (``word_pieces``: which subword pieces are a word's units, :mod:`xlt.models.words`).

    Raises:
        AlignerError: a layer outside the model or an unknown dtype (a user error, not a bug).
    """
    try:
        return WordAligner(encoder, layer=layer, methods=("argmax",), dtype=dtype, progress=progress,
                           word_pieces=word_pieces)
    except ValueError as exc:
        raise AlignerError(f"word aligner (--align-layer {layer}, --align-dtype {dtype}): {exc}") from None


def parse_layers(text: str | int | list) -> Any:
    """``'all'`` stays; ``'8'`` → 8; ``'0,4,8'`` → ``[0, 4, 8]``."""
    if isinstance(text, (int, list)):
        return text
    t = str(text).strip().lower()
    if t in ("all", "last"):
        return t
    parts = [int(p) for p in t.split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else parts


# ============================================================================ diagnostics
def retrieval_at_1(src: np.ndarray, tgt: np.ndarray, links: list[tuple[int, int]],
                   pool: np.ndarray | None = None, pool_offset: int = 0) -> tuple[int, int]:
    """Word retrieval hits: for each link ``(i, j)``, is ``src[i]`` the nearest (cosine) of ``tgt[j]``?

    Args:
        src: ``(m, dim)`` source words of the sentence. tgt: ``(n, dim)`` target words.
        links: 0-based ``(source word, target word)`` pairs.
        pool: optional ``(N, dim)`` candidate set replacing ``src`` (e.g. every source word of a
            corpus); then the right answer is row ``pool_offset + i``.

    Returns:
        ``(hits, n_links)``.
    """
    if not links:
        return 0, 0
    cand = src if pool is None else pool
    off = 0 if pool is None else pool_offset
    c = cand / np.maximum(np.linalg.norm(cand, axis=1, keepdims=True), 1e-8)
    j = np.array([b for _, b in links])
    i = np.array([a for a, _ in links]) + off
    q = tgt[j] / np.maximum(np.linalg.norm(tgt[j], axis=1, keepdims=True), 1e-8)
    best = (q @ c.T).argmax(1)
    return int((best == i).sum()), len(links)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def word_retrieval(eng: list[np.ndarray], tgt: list[np.ndarray], links: list[list[tuple[int, int]]],
                   layers: list[int], transform=None, lang: str | None = None,
                   chunk: int = 4096) -> dict[int, dict[str, float]]:
    """Word retrieval precision@1 (%) per layer, within each sentence pair and among all source words.

    Vectorised: per layer, every linked target word is one query row against the stacked
    source words (one matrix product per chunk of queries); the within-sentence score masks the
    other sentences' words. Equivalent to :func:`retrieval_at_1` summed over sentences.

    Args:
        eng, tgt: per sentence ``(n_words, n_layers, dim)`` source / target vectors.
        links: per sentence pair, the gold links.
        layers: hidden-state index of each layer slot.
        transform: a :class:`~xlt.align.maps.CrossLingualAligner` applied first (None = raw vectors).
        lang: the target language (for ``transform``).
        chunk: queries per matrix product (bounds memory: ``chunk x n_source_words`` floats).

    Returns:
        ``{layer: {"sentence": P@1, "all": P@1, "n_links": n}}`` (NaN scores without links).
    """
    offsets = np.cumsum([0] + [len(e) for e in eng])
    t_offsets = np.cumsum([0] + [len(t) for t in tgt])
    rows = [(s, i, j) for s, ls in enumerate(links) for i, j in ls]
    n = len(rows)
    gold = np.array([offsets[s] + i for s, i, _ in rows], dtype=np.int64)
    q_index = np.array([t_offsets[s] + j for s, _, j in rows], dtype=np.int64)
    q_sent = np.array([s for s, _, _ in rows], dtype=np.int64)
    col_sent = np.repeat(np.arange(len(eng)), [len(e) for e in eng])
    E_all = np.concatenate([e for e in eng if len(e)]) if n else None
    T_all = np.concatenate([t for t in tgt if len(t)]) if n else None
    out: dict[int, dict[str, float]] = {}
    for li, k in enumerate(layers):
        if not n:
            out[k] = {"sentence": float("nan"), "all": float("nan"), "n_links": 0}
            continue
        E = E_all[:, li].astype(np.float32)
        Q = T_all[q_index, li].astype(np.float32)
        if transform is not None:
            E = transform.transform(E, "eng", k)
            Q = transform.transform(Q, lang, k)
        P = _unit_rows(E)
        Q = _unit_rows(Q)
        hit_all = hit_sent = 0
        for c in range(0, n, chunk):
            S = Q[c:c + chunk] @ P.T
            g = gold[c:c + chunk]
            hit_all += int((S.argmax(1) == g).sum())
            S[col_sent[None, :] != q_sent[c:c + chunk, None]] = -np.inf
            hit_sent += int((S.argmax(1) == g).sum())
        out[k] = {"sentence": 100.0 * hit_sent / n, "all": 100.0 * hit_all / n, "n_links": n}
    return out


