"""Supervision for cross-lingual maps: pairs of (target, source) word vectors per language.

Two builders, both giving, per target language, a :class:`LanguagePairs` with vectors at every
requested layer, extracted exactly as ``xlt transfer --mode probe`` extracts its features
(:meth:`Encoder.encode_words <xlt.models.encoder.Encoder.encode_words>`, the same ``word_pieces``
setting -- by default a word's first piece that is not a bare ``▁`` marker -- and the model's text
prefix), so a map fitted on
them applies to the probe's features (the setting is recorded in the aligner's ``info``):

* :func:`parallel_pairs`: parallel text (NTREX-128 or a user's corpus read by
  :func:`read_parallel_corpus`: English and the target language, line by line), split into
  words with :func:`xlt.data.wordalign.simple_tokenize`, aligned with xlt's
  :class:`~xlt.align.words.WordAligner` (SimAlign argmax: the intersection of both directions'
  best matches). Only one-to-one links are kept (a word linked to exactly one word, both ways),
  as confident anchors; each gives one pair of contextual vectors (Schuster et al. 2019; Wang et
  al. 2019; Kulshreshtha et al. 2020).
* :func:`dictionary_pairs`: a bilingual dictionary (``english<TAB>foreign`` or ``english
  foreign`` per line, :func:`xlt.data.dictionaries.read_dictionary`) and
  monolingual text of each language; a word's vector is the mean of its contextual vectors over
  its occurrences in the text (case-folded; Schuster et al. 2019's "anchors"); each dictionary
  entry whose two words both occur gives one pair. Multi-word entries are skipped; entries with
  a word that never occurs in the text are counted as unknown.

Each builder also gives the token means of both languages' text (every word, aligned or not),
which the centring maps use.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xlt.align.maps import AlignerError
from xlt.data.dataset import DatasetError
from xlt.data.dictionaries import Dictionary, read_dictionary
from xlt.data.langs import iso639_3, language_name
from xlt.data.parallel import ParallelSource, open_parallel
from xlt.data.paths import dataset_dir
from xlt.data.readers import check_not_folder
from xlt.data.wordalign import read_pairs, read_pharaoh, simple_tokenize
from xlt.models.encoder import Encoder
from xlt.models.words import DEFAULT_WORD_PIECES

log = logging.getLogger(__name__)

#: Dictionary files under ``<data>/dict``: ``en-<english name>.txt``.
WIKTIONARY_PATTERN = "en-{name}.txt"
#: BLI training dictionaries under ``<data>/bli/en-xx`` (Glavaš et al. 2019).
BLI_PATTERN = "yacle.train.freq.5k.en-{code}.tsv"


@dataclass
class LanguagePairs:
    """Supervision of one target language.

    Attributes:
        lang: the target language's code.
        X: ``(n_pairs, n_layers, dim)`` float16 target-language vectors.
        Y: ``(n_pairs, n_layers, dim)`` float16 source (English) vectors they are aligned to.
        x_mean, y_mean: ``(n_layers, dim)`` float64 token means of the target / source text.
        layers: the hidden-state index of each layer slot.
        stats: counts (sentences, links, kept links, dictionary coverage, ...).
    """

    lang: str
    X: np.ndarray
    Y: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray
    layers: list[int]
    stats: dict = field(default_factory=dict)

    def by_layer(self) -> tuple[dict, dict, dict]:
        """``({layer: (X, Y)}, {layer: x_mean}, {layer: y_mean})`` as :meth:`CrossLingualAligner.fit_language` takes them."""
        pairs = {k: (self.X[:, i].astype(np.float32), self.Y[:, i].astype(np.float32))
                 for i, k in enumerate(self.layers)}
        return (pairs, {k: self.x_mean[i] for i, k in enumerate(self.layers)},
                {k: self.y_mean[i] for i, k in enumerate(self.layers)})


def word_vectors(encoder: Encoder, sentences: Sequence[Sequence[str]], layers: Any = "all", *, cache=None,
                 progress: bool = True, word_pieces: str = DEFAULT_WORD_PIECES
                 ) -> tuple[list[np.ndarray], list[int]]:
    """Probe-style word vectors per sentence: ``(n_words, n_layers, dim)`` float16 each.

    Args:
        encoder: the model. sentences: word lists. layers: as :meth:`Encoder.encode_words
            <xlt.models.encoder.Encoder.encode_words>` takes them.
        cache: a :class:`~xlt.models.cache.FeatureCache` or None.
        word_pieces: which subword pieces give a word its vector, as for the probe
            (:data:`xlt.models.words.WORD_PIECES`).

    Returns:
        ``(vectors, layers)``: one array per sentence and the resolved hidden-state indices.
    """
    out: list[np.ndarray] = []
    resolved: list[int] = []
    chunk = 1000  # bounds the float32 copy encode_words returns
    for start in range(0, len(sentences), chunk):
        wf = encoder.encode_words(sentences[start:start + chunk], layers=layers, word_pieces=word_pieces,
                                  progress=progress, cache=cache)
        resolved = list(wf.layers)
        for v in wf.vectors:
            v = v[None] if wf.single_layer else v
            out.append(np.ascontiguousarray(v.transpose(1, 0, 2), dtype=np.float16))
    if not sentences:
        resolved = encoder.resolve_layers(layers)[0]
    return out, resolved


def token_mean(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """Mean over every word of every sentence: ``(n_layers, dim)`` float64.

    Raises:
        AlignerError: no words at all.
    """
    total, n = None, 0
    for v in vectors:
        if len(v):
            s = v.astype(np.float64).sum(0)
            total = s if total is None else total + s
            n += len(v)
    if total is None:
        raise AlignerError("no words to estimate a language mean from")
    return total / n


def one_to_one(links: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """The links whose source word and target word each take part in exactly one link."""
    cs = Counter(i for i, _ in links)
    ct = Counter(j for _, j in links)
    return sorted((i, j) for i, j in links if cs[i] == 1 and ct[j] == 1)


def _subsample(n: int, max_pairs: int | None, seed: int) -> np.ndarray:
    if max_pairs is None or n <= max_pairs:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_pairs, replace=False))


# ============================================================================ parallel
@dataclass
class ParallelCorpus:
    """Word-split parallel text: English sentences and, per target language, its sentences.

    Attributes:
        source: English word lists (the fitting lines).
        targets: ``{lang: word lists}``, line-aligned with ``source``.
        lines: the 1-based line numbers used (the same for every language).
        files: ``{lang: path}`` (English included, under its key ``pivot``).
        name: the corpus as messages name it (``NTREX`` or the user's path).
        pivot: the key of the English side in ``files`` (``eng`` for NTREX, ``en`` for ``en.txt``).
    """

    source: list[list[str]]
    targets: dict[str, list[list[str]]]
    lines: list[int]
    files: dict[str, Path]
    name: str = "NTREX"
    pivot: str = "eng"


#: The language parallel supervision aligns every other language to (the maps' source side).
PIVOT = "en"


def read_parallel_corpus(parallel: Any, langs: str, data_dir: str | Path | None = None, *, part: str = "fit",
                         heldout: int = 200, max_sentences: int | None = None, src_lang: str | None = None,
                         tgt_lang: str | None = None) -> ParallelCorpus:
    """English and target sentences of a parallel corpus, split into words, for fitting or for diagnostics.

    The corpus is read by :func:`xlt.data.parallel.open_parallel` (NTREX-128, two line-aligned
    files, a ``|||`` or tab-separated file, a folder of files named by language), so the same
    text gives the same sentences whichever way it is given; its English side is the pivot.
    The last ``heldout`` lines (after dropping lines empty in a selected language) are kept
    apart: ``part='fit'`` gives the lines before them (at most ``max_sentences``),
    ``part='heldout'`` the held-out lines.

    Args:
        parallel: ``"ntrex"``, a path, a list of one or two paths, or a
            :class:`~xlt.data.parallel.ParallelSource`.
        langs: comma-separated target codes (any form: ``de``, ``deu``, ``zh``) or ``all``.
        data_dir: the data folder (for NTREX). part: ``fit`` or ``heldout``.
        heldout: number of final lines reserved for diagnostics. max_sentences: cap on ``fit`` lines.
        src_lang, tgt_lang: languages of a user's pair whose file names do not say them.

    Raises:
        UnknownLanguageError: a language the corpus does not have, or no English side;
        FileLanguageError: a file whose language its name does not give; DataFormatError: files
        of different lengths, malformed or undecodable lines; DatasetError: ``heldout`` not below
        the number of lines, or a bad input combination; ValueError: a bad ``part``.
    """
    if part not in ("fit", "heldout"):
        raise ValueError(f"part must be 'fit' or 'heldout', got {part!r}")
    source = (parallel if isinstance(parallel, ParallelSource)
              else open_parallel(parallel, src_lang=src_lang, tgt_lang=tgt_lang, data_dir=data_dir))
    chosen = source.select(langs, pivot=PIVOT)
    mp = chosen.read()
    pivot = chosen.pivot
    n = len(mp.texts[pivot])
    if not 0 <= heldout < n:
        raise DatasetError(f"heldout={heldout} must be in [0, {n}) for the {n} usable lines of {source.name}; "
                         "lower --heldout")
    idx = list(range(n - heldout)) if part == "fit" else list(range(n - heldout, n))
    if part == "fit" and max_sentences is not None:
        idx = idx[:max(1, int(max_sentences))]
    tok = {lang: [simple_tokenize(mp.texts[lang][i]) for i in idx] for lang in chosen.files}
    return ParallelCorpus(source=tok[pivot], targets={k: v for k, v in tok.items() if k != pivot},
                          lines=[mp.lines[i] for i in idx], files=dict(chosen.files), name=source.name,
                          pivot=pivot)


def read_ntrex_corpus(langs: str, data_dir: str | Path | None = None, *, part: str = "fit",
                      heldout: int = 200, max_sentences: int | None = None) -> ParallelCorpus:
    """NTREX-128 English and target sentences: :func:`read_parallel_corpus` with ``"ntrex"``.

    Raises:
        as :func:`read_parallel_corpus` (DatasetNotFoundError: no NTREX folder).
    """
    return read_parallel_corpus("ntrex", langs, data_dir, part=part, heldout=heldout,
                                max_sentences=max_sentences)


def link_pairs(aligner, source: list[list[str]], target: list[list[str]]) -> tuple[list[list[tuple[int, int]]], dict]:
    """Confident (one-to-one argmax) word links of each sentence pair, and counts.

    Args:
        aligner: a :class:`~xlt.align.words.WordAligner`.
        source, target: line-aligned word lists.

    Returns:
        ``(links, stats)``: per pair, sorted 0-based ``(source word, target word)`` links;
        ``stats`` has ``n_sentence_pairs``, ``n_empty`` (a side without words), ``n_links``
        (argmax links) and ``n_links_one_to_one`` (kept).
    """
    method = aligner.methods[0]
    raw = aligner.align(list(zip(source, target)), method=method)
    kept = [one_to_one(l) for l in raw]
    stats = {"n_sentence_pairs": len(source), "n_empty": sum(1 for s, t in zip(source, target) if not s or not t),
             "n_links": sum(len(l) for l in raw), "n_links_one_to_one": sum(len(l) for l in kept),
             "link_method": method, "align_layer": aligner.layer}
    return kept, stats


def parallel_pairs(encoder, corpus: ParallelCorpus, aligner, *, layers: Any = "all", max_pairs: int | None = 50000,
                   seed: int = 0, cache=None, progress: bool = True,
                   word_pieces: str = DEFAULT_WORD_PIECES) -> Iterator[LanguagePairs]:
    """Pairs of contextual vectors from word-aligned parallel text, one language at a time.

    English vectors are extracted once; each target language is aligned, encoded, turned into
    pairs and yielded before the next is read, so memory holds one language's vectors.

    Args:
        encoder: the model the maps are for.
        corpus: from :func:`read_parallel_corpus` (or any :class:`ParallelCorpus`).
        aligner: a :class:`~xlt.align.words.WordAligner` (its first method gives the links).
        layers: the layers to extract (``'all'`` = embeddings and every layer).
        max_pairs: random subsample of at most this many pairs per language (seeded; None = all).
        seed: subsampling seed. cache: feature cache. progress: tqdm bars.
        word_pieces: which subword pieces give a word its vector (:func:`word_vectors`).

    Yields:
        :class:`LanguagePairs` per target language, in corpus order.

    Raises:
        AlignerError: a language with no usable link (never fitted as the identity).
    """
    eng, resolved = word_vectors(encoder, corpus.source, layers, cache=cache, progress=progress,
                                 word_pieces=word_pieces)
    y_mean = token_mean(eng)
    for lang, sents in corpus.targets.items():
        links, stats = link_pairs(aligner, corpus.source, sents)
        tgt, _ = word_vectors(encoder, sents, layers, cache=cache, progress=progress, word_pieces=word_pieces)
        rows = [(s, i, j) for s, ls in enumerate(links) for i, j in ls]
        if not rows:
            raise AlignerError(f"{lang}: the word aligner found no one-to-one links in {len(sents)} "
                               f"sentence pairs ({corpus.files.get(lang)}); no supervision pairs")
        keep = _subsample(len(rows), max_pairs, seed)
        X = np.stack([tgt[rows[r][0]][rows[r][2]] for r in keep])
        Y = np.stack([eng[rows[r][0]][rows[r][1]] for r in keep])
        stats.update(n_pairs=len(keep), n_pairs_available=len(rows), source="parallel",
                     file=str(corpus.files.get(lang)), n_target_words=sum(len(s) for s in sents))
        yield LanguagePairs(lang=lang, X=X, Y=Y, x_mean=token_mean(tgt), y_mean=y_mean, layers=resolved,
                            stats=stats)


# ========================================================================== dictionary
# Dictionary and read_dictionary live in xlt.data.dictionaries (one reader for dict/, bli/ and a
# user's file); they are re-exported here.


def find_dictionary(lang: str, data_dir: str | Path | None = None, kind: str = "wiktionary") -> Path:
    """The English–``lang`` dictionary file of the data folder.

    Args:
        lang: target language code (any form). kind: ``wiktionary`` (``dict/en-<name>.txt``,
            15 languages) or ``bli`` (``bli/en-xx/yacle.train.freq.5k.en-xx.tsv``, 7 languages).

    Raises:
        AlignerError: no dictionary for that language (the message lists those there are);
        ValueError: unknown ``kind``.
    """
    if kind == "wiktionary":
        root = dataset_dir("dict", data_dir)
        name = language_name(iso639_3(lang)).split(" (")[0].lower()  # arb -> ara -> "arabic"
        path = root / WIKTIONARY_PATTERN.format(name=name)
        have = sorted(p.name[3:-4] for p in root.glob("en-*.txt"))
    elif kind == "bli":
        root = dataset_dir("bli", data_dir)
        have = sorted(p.name[3:] for p in root.glob("en-*"))
        code = next((c for c in have if iso639_3(c) == iso639_3(lang)), None)
        path = root / f"en-{code}" / BLI_PATTERN.format(code=code) if code else root / "missing"
    else:
        raise ValueError(f"dictionary kind must be 'wiktionary' or 'bli', got {kind!r}")
    if not path.is_file():
        raise AlignerError(f"no English-{lang} {kind} dictionary in {root} (there are: {', '.join(have)}); "
                           f"no supervision pairs for {lang}")
    return path


#: Dictionaries of the data folder :func:`dictionary_files` knows by name; anything else is a file.
DICTIONARY_KINDS = ("wiktionary", "bli")


def dictionary_files(dictionary: str, langs: Sequence[str], data_dir: str | Path | None = None) -> dict[str, Path]:
    """The dictionary file of each target language: the data folder's, or a user's for one language.

    Args:
        dictionary: ``wiktionary`` or ``bli`` (:func:`find_dictionary` for every language), or
            the path of a user's ``english<TAB>foreign`` / ``english foreign`` file
            (:func:`xlt.data.dictionaries.read_dictionary`), which serves exactly one language.
        langs: the target languages. data_dir: the data folder.

    Returns:
        ``{lang: path}``.

    Raises:
        AlignerError: no data-folder dictionary for a language; FileNotFoundError: no such
            user file; IsADirectoryError: a folder given as the user file; DatasetError: a user file
            with no or several target languages.
    """
    if dictionary in DICTIONARY_KINDS:
        return {lang: find_dictionary(lang, data_dir, dictionary) for lang in langs}
    path = Path(dictionary)
    check_not_folder(path, "a dictionary file (--dictionary takes wiktionary, bli or a file)")
    if not path.is_file():
        raise FileNotFoundError(f"no such dictionary file: {path} (--dictionary takes wiktionary, bli or a file)")
    if len(langs) != 1:
        raise DatasetError(f"the dictionary {path} is for one language: give exactly one target language with "
                         f"--langs (got {', '.join(langs) or 'none'})")
    return {langs[0]: path}


def type_vectors(vectors: Sequence[np.ndarray], sentences: Sequence[Sequence[str]],
                 wanted: set[str] | None = None) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Mean contextual vector of every (case-folded) word type over its occurrences.

    Args:
        vectors: per sentence ``(n_words, n_layers, dim)``. sentences: the words.
        wanted: only these types (None = all).

    Returns:
        ``({type: (n_layers, dim) float32}, {type: n_occurrences})``.
    """
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for v, words in zip(vectors, sentences):
        for w, vec in zip(words, v):
            t = w.casefold()
            if wanted is not None and t not in wanted:
                continue
            if t in sums:
                sums[t] += vec.astype(np.float32)
                counts[t] += 1
            else:
                sums[t] = vec.astype(np.float32)
                counts[t] = 1
    return {t: s / counts[t] for t, s in sums.items()}, counts


def dictionary_pairs(encoder, dictionaries: dict[str, Dictionary | Path], source_text: list[list[str]],
                     target_text: dict[str, list[list[str]]], *, layers: Any = "all", max_pairs: int | None = 50000,
                     seed: int = 0, cache=None, progress: bool = True,
                     word_pieces: str = DEFAULT_WORD_PIECES) -> Iterator[LanguagePairs]:
    """Pairs of type-averaged contextual vectors for dictionary entries, one language at a time.

    Args:
        encoder: the model the maps are for.
        dictionaries: ``{lang: dictionary}``: a :class:`Dictionary` already read, or its file.
        source_text: English word lists (monolingual text the English vectors are averaged over).
        target_text: ``{lang: word lists}`` of each target language.
        layers, max_pairs, seed, cache, progress, word_pieces: as :func:`parallel_pairs`.

    Yields:
        :class:`LanguagePairs`; ``stats`` has the dictionary's counts plus ``n_unknown_source``,
        ``n_unknown_target`` (entries with a word absent from that side's text),
        ``n_pairs`` and ``text_sentences``.

    Raises:
        AlignerError: a language whose dictionary has no entry with both words in the text.
        DataFormatError: a malformed dictionary line (file and line named).
    """
    dicts = {lang: d if isinstance(d, Dictionary) else read_dictionary(d)  # fail before encoding
             for lang, d in dictionaries.items()}
    eng, resolved = word_vectors(encoder, source_text, layers, cache=cache, progress=progress,
                                 word_pieces=word_pieces)
    y_mean = token_mean(eng)
    wanted_e = {e for d in dicts.values() for e, _ in d.entries}
    eng_types, _ = type_vectors(eng, source_text, wanted_e)
    del eng
    for lang, d in dicts.items():
        sents = target_text[lang]
        tgt, _ = word_vectors(encoder, sents, layers, cache=cache, progress=progress, word_pieces=word_pieces)
        tgt_types, _ = type_vectors(tgt, sents, {f for _, f in d.entries})
        unk_e = sum(1 for e, _ in d.entries if e not in eng_types)
        unk_f = sum(1 for _, f in d.entries if f not in tgt_types)
        found = [(e, f) for e, f in d.entries if e in eng_types and f in tgt_types]
        if not found:
            raise AlignerError(f"{lang}: none of the {len(d.entries)} single-word entries of {d.path} has both "
                               f"words in the text ({len(source_text)} English, {len(sents)} {lang} sentences; "
                               f"{unk_e} English and {unk_f} {lang} words unknown); no supervision pairs")
        keep = _subsample(len(found), max_pairs, seed)
        X = np.stack([tgt_types[found[r][1]] for r in keep]).astype(np.float16)
        Y = np.stack([eng_types[found[r][0]] for r in keep]).astype(np.float16)
        stats = dict(d.stats, n_unknown_source=unk_e, n_unknown_target=unk_f, n_pairs=len(keep),
                     n_pairs_available=len(found), source="dictionary", file=str(d.path),
                     text_sentences=len(sents))
        log.info("%s: %d dictionary pairs (%d entries, %d/%d words unknown)", lang, len(keep),
                 len(d.entries), unk_e, unk_f)
        yield LanguagePairs(lang=lang, X=X, Y=Y, x_mean=token_mean(tgt), y_mean=y_mean, layers=resolved,
                            stats=stats)


# ====================================================================== gold alignments
#: The gold word-alignment sets of ``<data>/wordalign`` (awesome-align's copies): file stem → the
#: target language, and whether English is the file's source side.
GOLD_SETS = {"enfr": ("fra", True), "roen": ("ron", False), "jaen": ("jpn", False), "zhen": ("zho", False)}


def gold_corpus(lang: str, data_dir: str | Path | None = None) -> tuple[ParallelCorpus, list[list[tuple[int, int]]]]:
    """A human-aligned gold set as English/target word lists and its sure one-to-one links.

    The sets are pre-tokenised (``source ||| target`` lines, 1-based ``i-j`` / ``ipj`` links);
    for the ``xx-en`` sets the sides are swapped so that English is the source. Possible links
    are dropped, and so are sure links that are not one-to-one.

    Raises:
        AlignerError: no gold set for ``lang`` (the message lists those there are);
        DataFormatError: malformed lines.
    """
    root = dataset_dir("wordalign", data_dir)
    stem = next((k for k, (code, _) in GOLD_SETS.items() if code == iso639_3(lang)), None)
    if stem is None:
        raise AlignerError(f"no gold word alignments for {lang} in {root} "
                           f"(there are: {', '.join(c for c, _ in GOLD_SETS.values())})")
    eng_first = GOLD_SETS[stem][1]
    pairs = read_pairs(root / f"{stem}.src-tgt")
    gold = read_pharaoh(root / f"{stem}.gold", one_based=True, lengths=pairs.lengths)
    src, tgt = (pairs.src, pairs.tgt) if eng_first else (pairs.tgt, pairs.src)
    links = [one_to_one({(i, j) if eng_first else (j, i) for i, j in s}) for s in gold.sure]
    corpus = ParallelCorpus(source=[list(w) for w in src], targets={lang: [list(w) for w in tgt]},
                            lines=list(range(1, len(src) + 1)),
                            files={"eng": root / f"{stem}.src-tgt", lang: root / f"{stem}.gold"})
    return corpus, links
