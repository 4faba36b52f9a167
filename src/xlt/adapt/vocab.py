"""Vocabulary trimming: keep the subword pieces that the languages a user serves actually use.

A multilingual encoder's embedding matrix is most of its size (multilingual-e5-small: 96M of its
118M parameters are the 250k-piece matrix), and one user's languages use a small part of it.
Trimming (Abdaoui et al. 2020, "Load What You Need: Smaller Versions of Multilingual BERT";
Ushio et al. 2023, "An Efficient Multilingual Language Model Compression through Vocabulary
Trimming") keeps the pieces that the given languages' text uses, plus the special tokens and any
piece above a frequency floor, and re-indexes the tokenizer and the embedding rows.

For a Unigram (SentencePiece) tokenizer the segmentation of any text whose pieces are all kept is
unchanged: the best segmentation under the full vocabulary is still available and no new one is
added. The same holds for WordPiece's greedy longest match (a removed piece was never the longest
match in that text). So on the text the vocabulary was trimmed with, the trimmed model computes
exactly what the full one did (:func:`trim_vocabulary` checks it). Other text of those languages
can meet a piece that was dropped; text of other languages will: its characters may become
``<unk>`` (:func:`unknown_rate` measures it).

Trimming that keeps a script (``keep="script"``, :func:`script_piece_ids`) keeps instead every
piece made only of letters of the languages' scripts and of characters that belong to no one
language (digits, punctuation, symbols, marks, spaces, format characters), whatever text was seen;
then *every* text in those scripts segments exactly as with the full vocabulary, not only the text
trimmed with (the argument, and the few compatibility characters such as № that the normaliser
rewrites into another script's letters, are in :func:`script_piece_ids`). It costs more rows: for the bundled
model, Latin script keeps 46% of the pieces, Cyrillic 15%. Text in any script quotes names, units and
addresses in the basic Latin letters A-Z and a-z (14% of Russian and Ukrainian news sentences do), so
a script trim keeps those too (:data:`BASIC_LATIN`; ``basic_latin=False`` leaves them out): Cyrillic
with them keeps 47% of the pieces. ``keep="both"`` takes the union.

BPE tokenizers are not trimmed (dropping pieces breaks the merge list).
"""

from __future__ import annotations

import copy
import hashlib
import json
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import regex
import torch
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from xlt.core.errors import XltError
from xlt.data.langs import denote_same, likely_script
from xlt.models.encoder import Encoder

__all__ = ["BASIC_LATIN", "KEEP_MODES", "MIN_SENTENCES", "SCRIPT_PARTS", "ScriptCharacters", "TrimResult", "VocabularyError",
           "language_scripts", "normalized", "outside_trimmed", "piece_counts", "script_piece_ids",
           "trim_vocabulary", "unknown_rate"]

#: The least text per language that trimming accepts: a vocabulary trimmed with less drops pieces
#: of everyday words of that language.
MIN_SENTENCES = 200

#: What a trim keeps: the pieces of the languages' text, every piece of their scripts, or both.
KEEP_MODES = ("text", "script", "both")

#: The letters a script trim keeps whatever the scripts (unless ``basic_latin=False``): the 52
#: basic Latin letters (ISO 646 / ASCII), which text in every script uses for names, units, codes
#: and addresses (``iPhone``, ``km``, ``XIV``; and Ukrainian typed with Latin ``i`` for ``і``).
#: Latin letters with diacritics are not among them: a Cyrillic trim keeps ``Muller``, not ``Müller``.
BASIC_LATIN = string.ascii_letters

#: ISO 15924 codes that CLDR gives as a language's likely script but that name several Unicode
#: scripts (or a variant of one): Japanese is written in Han, Hiragana and Katakana, Korean in
#: Hangul and Han, Chinese (Simplified or Traditional) in Han.
SCRIPT_PARTS = {"Jpan": ("Hani", "Hira", "Kana"), "Kore": ("Hang", "Hani"), "Hans": ("Hani",), "Hant": ("Hani",),
                "Hanb": ("Hani", "Bopo"), "Hrkt": ("Hira", "Kana")}

#: The characters a script trim keeps whatever the scripts: digits and other numbers, punctuation,
#: symbols (SentencePiece's word mark U+2581 is one), combining marks, spaces, format and control
#: characters (Unicode general categories N, P, S, M, Z, Cf, Cc). Private-use, surrogate and
#: unassigned code points are not among them.
_NON_LETTERS = r"\p{N}\p{P}\p{S}\p{M}\p{Z}\p{Cf}\p{Cc}"


class VocabularyError(XltError, ValueError):
    """A vocabulary that cannot be changed as asked: a tokenizer kind that cannot be trimmed, too little text,
    a language without a known script."""


def language_scripts(langs: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The Unicode scripts each language is written in, for a script trim.

    A language's script is the one its code states (``sr-Latn``), else its CLDR likely script
    (langcodes: ``de`` -> Latn, ``ru`` -> Cyrl, ``zh`` -> Hans); a code that names several Unicode
    scripts is split (:data:`SCRIPT_PARTS`: ``ja`` -> Hani, Hira, Kana; ``ko`` -> Hang, Hani).

    Args:
        langs: language codes (any form :mod:`xlt.data.langs` reads).

    Returns:
        language -> ISO 15924 codes of Unicode scripts (the Script property's short names), in the
        order of ``langs``.

    Raises:
        UnknownLanguageError: a code that names no language.
        VocabularyError: a language without a known script, or whose script Unicode does not define.
    """
    out: dict[str, tuple[str, ...]] = {}
    for lang in langs:
        code = likely_script(lang)
        if not code:
            raise VocabularyError(f"{lang}: no script is known for this language; name it in the code "
                                  f"(e.g. {lang}-Latn) or trim with --keep text")
        parts = SCRIPT_PARTS.get(code, (code,))
        for part in parts:
            try:
                regex.compile(r"\p{sc=%s}" % part)
            except regex.error:
                raise VocabularyError(f"{lang}: its script {code} is not a Unicode script that trimming can keep; "
                                      "trim with --keep text") from None
        out[lang] = parts
    return out


@dataclass(frozen=True)
class ScriptCharacters:
    """The characters a script trim keeps pieces of: letters of ``scripts`` (by the Unicode Script
    property; letters of no one script, Common or Inherited, such as U+02BC ʼ or U+30FC ー, count as
    in every script), every character of the non-letter categories (:data:`_NON_LETTERS`), and the
    characters of ``extra`` (the model's text prefix, which is put before every text).

    A letter's script is its Unicode Script property (read with ``regex``, which ``transformers``
    requires), not the first word of its character name: names leave out letters that belong to a
    script without naming it (U+02BC MODIFIER LETTER APOSTROPHE, Ukrainian's apostrophe; FULLWIDTH
    LATIN ...; KATAKANA-HIRAGANA PROLONGED SOUND MARK) and need a hand table for the rest (CJK for
    Han, ORIYA for Odia); the property needs neither.

    Attributes:
        scripts: ISO 15924 codes of Unicode scripts (``("Latn",)``, ``("Hani", "Hira", "Kana")``).
        extra: more characters to allow.
    """

    scripts: tuple[str, ...]
    extra: str = ""

    @property
    def _pattern(self):
        return _script_pattern(tuple(self.scripts), self.extra)

    def allows(self, text: str) -> bool:
        """Whether every character of ``text`` (a piece, or normalised text) is one of these."""
        return self._pattern.fullmatch(text) is not None

    def outside(self, text: str) -> str:
        """The characters of ``text`` that are not among these, each once, in order of appearance."""
        return "".join(dict.fromkeys(c for c in text if self._pattern.fullmatch(c) is None))


_PATTERNS: dict = {}


def _script_pattern(scripts: tuple[str, ...], extra: str):
    key = (scripts, extra)
    if key not in _PATTERNS:
        letters = "".join(r"\p{sc=%s}" % s for s in (*scripts, "Zyyy", "Zinh"))
        more = f"|[{regex.escape(extra)}]" if extra else ""
        _PATTERNS[key] = regex.compile(rf"(?:[{_NON_LETTERS}]|(?=\p{{L}})[{letters}]{more})*")
    return _PATTERNS[key]


def _all_ids(tokenizer, texts: Sequence[str], prefix: str) -> list[list[int]]:
    enc = tokenizer([prefix + t for t in texts], add_special_tokens=True, verbose=False)
    return enc["input_ids"]


def piece_counts(tokenizer, texts: Sequence[str], prefix: str = "") -> Counter:
    """How often each piece id occurs when ``tokenizer`` encodes ``prefix + text`` for every text."""
    c: Counter = Counter()
    for ids in _all_ids(tokenizer, texts, prefix):
        c.update(ids)
    return c


def unknown_rate(tokenizer, texts: Sequence[str], prefix: str = "") -> float:
    """The share (percent) of a text's tokens that ``tokenizer`` maps to its unknown piece (0 without one)."""
    unk = tokenizer.unk_token_id
    ids = [i for row in _all_ids(tokenizer, texts, prefix) for i in row]
    if unk is None or not ids:
        return 0.0
    return 100.0 * sum(i == unk for i in ids) / len(ids)


@dataclass
class TrimResult:
    """What :func:`trim_vocabulary` did.

    Attributes:
        kept_ids: old piece ids kept, ascending (new id ``k`` is old id ``kept_ids[k]``).
        vocab_before, vocab_after: tokenizer vocabulary sizes. rows_before: embedding rows before.
        parameters_before, parameters_after: model parameters.
        per_language: language -> ``{"sentences", "tokens", "pieces"}`` (distinct pieces its text
            uses; text and both) and ``"scripts"`` (its Unicode scripts; script and both).
        min_count: the frequency floor used.
        keep: ``text``, ``script`` or ``both`` (:data:`KEEP_MODES`).
        scripts: the Unicode scripts kept (script and both; empty for text).
        sizes: the size of each part kept and of the result: ``{"text"|"script"|"kept": {"pieces",
            "parameters", "share"}}`` (``share``: parameters as a fraction of ``parameters_before``;
            a part's parameters are those of a model with only its rows (and the special tokens), as
            only the embedding matrix changes). ``text``/``script`` are there only when kept.
        basic_latin: whether the script part kept the :data:`BASIC_LATIN` letters too.
    """

    kept_ids: list[int]
    vocab_before: int
    vocab_after: int
    rows_before: int
    parameters_before: int
    parameters_after: int
    per_language: dict[str, dict] = field(default_factory=dict)
    min_count: int = 1
    keep: str = "text"
    scripts: list[str] = field(default_factory=list)
    sizes: dict[str, dict] = field(default_factory=dict)
    basic_latin: bool = False

    def describe(self) -> dict:
        """A JSON-able summary (without the id list)."""
        return {"keep": self.keep, "scripts": self.scripts, "basic_latin": self.basic_latin, "vocab_before": self.vocab_before,
                "vocab_after": self.vocab_after, "rows_before": self.rows_before,
                "parameters_before": self.parameters_before, "parameters_after": self.parameters_after,
                "share_of_parameters": round(self.parameters_after / self.parameters_before, 4)
                if self.parameters_before else None,
                "sizes": self.sizes, "min_count": self.min_count, "per_language": self.per_language}


def _model_pieces(tokenizer) -> tuple[str, list[str | None]]:
    """``(kind, pieces)``: the tokenizer model's kind and its pieces by id (``None`` for an id the
    model does not hold).

    Raises:
        VocabularyError: not a Unigram or WordPiece tokenizer.
    """
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    kind = model.get("type")
    if kind == "Unigram":
        return kind, [p for p, _ in model["vocab"]]
    if kind == "WordPiece":
        pieces: list[str | None] = [None] * (max(model["vocab"].values(), default=-1) + 1)
        for p, i in model["vocab"].items():
            pieces[i] = p
        return kind, pieces
    raise VocabularyError(f"the model's tokenizer is {kind or 'of an unknown kind'}; only Unigram (SentencePiece) "
                          "and WordPiece vocabularies can be trimmed (dropping BPE pieces breaks its merges)")


def normalized(tokenizer, text: str) -> str:
    """``text`` as the tokenizer's normaliser passes it to its pre-tokenizer and model (unchanged
    without a normaliser): the characters its pieces are matched against."""
    norm = tokenizer.backend_tokenizer.normalizer
    return norm.normalize_str(text) if norm is not None else text


def script_piece_ids(tokenizer, scripts: Sequence[str], prefix: str = "",
                     basic_latin: bool = True) -> tuple[list[int], ScriptCharacters]:
    """The pieces of a script trim: every piece made only of :class:`ScriptCharacters` of ``scripts``
    (and of :data:`BASIC_LATIN`, unless ``basic_latin`` is false).

    Why every text in those scripts then segments exactly as before: a Unigram (SentencePiece)
    tokenizer splits the normalised text into words and picks, per word, the highest-scoring
    segmentation into pieces that match the word's characters; WordPiece takes the longest piece
    that matches at each position. Either way a text's segmentation only ever uses pieces made of
    the text's own (normalised) characters, plus the fixed marks the tokenizer adds (U+2581 ▁,
    ``##``), which are symbols and punctuation. If every such piece is kept with its score, every
    segmentation the full vocabulary offers that text is still offered, no new one is, and the
    unknown-character penalty is unchanged (:func:`trim_vocabulary` keeps the lowest-scoring piece
    it derives from), so the best one is the same piece for piece; only ids are renumbered and
    the kept embedding rows are copied, so the model computes the same vectors.

    "In those scripts" is judged on the normalised text (:func:`normalized`): a compatibility
    character that the normaliser rewrites into letters of another script (№ -> "No", ™ -> "TM",
    ㎏ -> "kg" under the bundled model's NFKC-style map) takes the text outside; :meth:`ScriptCharacters.outside`
    on the normalised text names such characters.

    Args:
        tokenizer: a fast Unigram or WordPiece tokenizer.
        scripts: ISO 15924 codes of Unicode scripts (:func:`language_scripts`' values).
        prefix: the encoder's text prefix; its characters are allowed too (it is put before every text).
        basic_latin: allow the letters A-Z and a-z too, so that Latin-lettered names, units and
            addresses in text of other scripts also segment exactly (for Latin scripts: no change).

    Returns:
        ``(ids, characters)``: ascending ids of the pieces to keep (a special token only where its
        characters qualify, ``<s>`` for Latin; :func:`trim_vocabulary` keeps them all anyway), and
        the :class:`ScriptCharacters` they were chosen by.

    Raises:
        VocabularyError: a BPE (or other) tokenizer.
    """
    extra = normalized(tokenizer, prefix) + (BASIC_LATIN if basic_latin else "")
    chars = ScriptCharacters(tuple(dict.fromkeys(scripts)), "".join(dict.fromkeys(extra)))
    _, pieces = _model_pieces(tokenizer)
    return [i for i, p in enumerate(pieces) if p is not None and chars.allows(p)], chars


def _min_score_id(tokenizer) -> int | None:
    """A Unigram model's lowest-scoring piece (``tokenizers`` scores an unknown character as that
    score minus 10, so it must stay for segmentations with unknown characters to stay the same)."""
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    if model.get("type") != "Unigram" or not model["vocab"]:
        return None
    return int(np.argmin([s for _, s in model["vocab"]]))


def _remap_post_processor(node, new_id: Mapping[int, int]):
    """The tokenizer's post-processor (template, RoBERTa or BERT style, or a sequence of them)
    with every special-token id renumbered."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "ids" and isinstance(v, list):
                out[k] = [new_id[int(i)] for i in v]
            elif k in ("sep", "cls") and isinstance(v, list) and len(v) == 2 and isinstance(v[1], int):
                out[k] = [v[0], new_id[v[1]]]
            else:
                out[k] = _remap_post_processor(v, new_id)
        return out
    if isinstance(node, list):
        return [_remap_post_processor(v, new_id) for v in node]
    return node


def _trimmed_tokenizer(tokenizer, kept: list[int]):
    """A fast tokenizer with only the ``kept`` piece ids, renumbered in order.

    Raises:
        VocabularyError: not a Unigram or WordPiece tokenizer.
    """
    _model_pieces(tokenizer)  # refuses BPE and other kinds
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec["model"]
    new_id = {old: new for new, old in enumerate(kept)}
    kind = model.get("type")
    if kind == "Unigram":
        vocab = model["vocab"]
        model["vocab"] = [vocab[i] for i in kept]
        if model.get("unk_id") is not None:
            model["unk_id"] = new_id[model["unk_id"]]
    else:
        by_id = {i: p for p, i in model["vocab"].items()}
        model["vocab"] = {by_id[old]: new for new, old in enumerate(kept)}
    for tok in spec.get("added_tokens") or []:
        tok["id"] = new_id[tok["id"]]
    if spec.get("post_processor"):
        spec["post_processor"] = _remap_post_processor(spec["post_processor"], new_id)
    backend = Tokenizer.from_str(json.dumps(spec))
    return PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=tokenizer.model_max_length,
                                   **tokenizer.special_tokens_map)


def _check_trim_args(keep: str, texts: dict, languages: list[str], min_count: int, min_sentences: int) -> None:
    """Raise VocabularyError when :func:`trim_vocabulary` cannot trim with these arguments."""
    if keep in ("text", "both") and not texts:
        raise VocabularyError(f"trimming with keep={keep!r} needs the text of at least one language")
    if not languages:
        raise VocabularyError("trimming needs at least one language")
    if keep in ("text", "both"):
        short = {l: len(t) for l, t in texts.items() if len(t) < min_sentences}
        if short:
            raise VocabularyError("too little text to trim the vocabulary for: " + ", ".join(
                f"{l} ({n} sentences)" for l, n in short.items()) + f"; give at least {min_sentences} sentences "
                "per language (a text file with one sentence per line: --text LANG=FILE)")
        if min_count < 1:
            raise VocabularyError(f"min_count must be >= 1, got {min_count}")


def _text_piece_ids(tok, texts: dict, prefix: str, min_count: int, per_language: dict[str, dict]) -> set[int]:
    """The ids the texts use at least ``min_count`` times; per-language counts go to ``per_language``."""
    counts: Counter = Counter()
    for lang, t in texts.items():
        c = piece_counts(tok, list(t), prefix)
        counts.update(c)
        per_language[lang] = {"sentences": len(t), "tokens": int(sum(c.values())), "pieces": len(c)}
    return {i for i, n in counts.items() if n >= min_count}


def _always_kept(tok) -> set[int]:
    """The special and added tokens, and for Unigram the lowest-scoring piece."""
    special = set(tok.all_special_ids) | {t.get("id") for t in json.loads(tok.backend_tokenizer.to_str()).get(
        "added_tokens") or []}
    always = {i for i in special if i is not None}
    if (low := _min_score_id(tok)) is not None:
        always.add(low)
    return always


def _trimmed_model(model, tok, kept: list[int]):
    """A copy of ``model`` with only the embedding rows ``kept`` and its config's token ids renumbered."""
    trimmed = copy.deepcopy(model)
    old = model.get_input_embeddings()
    emb = torch.nn.Embedding(len(kept), old.weight.shape[1], padding_idx=None)
    with torch.no_grad():
        emb.weight.copy_(old.weight[torch.as_tensor(kept)])
    trimmed.set_input_embeddings(emb)
    trimmed.config.vocab_size = len(kept)
    pad = tok.pad_token_id
    if pad is not None and getattr(trimmed.config, "pad_token_id", None) is not None:
        trimmed.config.pad_token_id = kept.index(pad)
    for name in ("bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id"):
        v = getattr(trimmed.config, name, None)
        if isinstance(v, int) and v in set(kept):
            setattr(trimmed.config, name, kept.index(v))
    return trimmed


def _check_segmentation(tok, new_tok, kept: list[int], texts: dict, prefix: str) -> None:
    """Require every text to be segmented into the same pieces by the trimmed tokenizer."""
    new_of = {o: n for n, o in enumerate(kept)}
    for lang, t in texts.items():
        before = _all_ids(tok, list(t), prefix)
        after = _all_ids(new_tok, list(t), prefix)
        for k, (a, b) in enumerate(zip(before, after)):
            if [new_of.get(i, -1) for i in a] != list(b):
                raise VocabularyError(f"{lang}: sentence {k + 1} is segmented differently after trimming "
                                      f"({t[k][:60]!r}); this tokenizer's pieces do not trim cleanly")


def _trim_sizes(keep: str, model, trimmed, text_ids: set[int], script_ids: set[int], always: set[int],
                kept: list[int]) -> tuple[dict, int, int, int]:
    """``(sizes, rows, n_before, n_after)``: the sizes of :class:`TrimResult` and the counts they use."""
    n_before = sum(p.numel() for p in model.parameters())
    n_after = sum(p.numel() for p in trimmed.parameters())
    old = model.get_input_embeddings()
    rows, dim = int(old.weight.shape[0]), int(old.weight.shape[1])

    def size(n_pieces: int, parameters: int | None = None) -> dict:
        parameters = n_before - (rows - n_pieces) * dim if parameters is None else parameters
        return {"pieces": n_pieces, "parameters": parameters, "share": round(parameters / n_before, 4)}

    sizes = {}
    if keep in ("text", "both"):
        sizes["text"] = size(len(text_ids | always))
    if keep in ("script", "both"):
        sizes["script"] = size(len(script_ids | always))
    sizes["kept"] = size(len(kept), n_after)
    return sizes, rows, n_before, n_after


def trim_vocabulary(encoder, texts: Mapping[str, Sequence[str]] | None = None, *, keep: str = "text",
                    langs: Sequence[str] | None = None, min_count: int = 1, min_sentences: int = MIN_SENTENCES,
                    check: bool = True, basic_latin: bool = True):
    """A copy of ``encoder`` whose vocabulary keeps only the pieces its users' languages need.

    Vocabulary trimming (Abdaoui et al. 2020; Ushio et al. 2023): ``keep="text"`` keeps the pieces
    ``texts`` use (exact on that text); ``keep="script"`` keeps every piece made of the languages'
    scripts, digits, punctuation, symbols and marks (:func:`script_piece_ids`: exact on every text
    in those scripts; no text needed); ``keep="both"`` keeps the union (exact on both). The special
    tokens and, for Unigram, the lowest-scoring piece (it sets the unknown-character penalty) are
    always kept.

    Args:
        encoder: a loaded :class:`~xlt.models.loading.Encoder` (left unchanged).
        texts: language -> sentences, needed by ``text`` and ``both`` (``script`` reads none);
            every language's text is encoded as the encoder encodes input (its text prefix included).
        keep: ``"text"``, ``"script"`` or ``"both"``.
        langs: the languages (for their scripts); default: the keys of ``texts``.
        min_count: keep a text piece that occurs at least this often in all the text together (1 =
            every piece seen; larger drops rare pieces: smaller, but then the text's own rare words change).
        min_sentences: the least text per language (see :data:`MIN_SENTENCES`; ``text`` and ``both``).
        check: re-encode every text with the trimmed tokenizer and require the same pieces.
        basic_latin: with ``script`` and ``both``, keep the pieces of :data:`BASIC_LATIN` letters
            too (mixed with the scripts' letters), so Latin-lettered names and units in the
            languages' text stay exact; false: the scripts alone (smaller; for Latin scripts the same).

    Returns:
        ``(trimmed_encoder, TrimResult)``: the new encoder's model has ``len(kept)`` embedding rows
        (rows of the kept ids, in order); its ``info`` records ``trimmed_for`` (the languages),
        ``trimmed_keep`` and ``trimmed_scripts``.

    Raises:
        VocabularyError: an unknown ``keep``, no languages, a language with fewer than
            ``min_sentences`` sentences (names it and the count), a language without a known script
            (script, both), a tokenizer that cannot be trimmed, or (``check``) a text the trimmed
            tokenizer segments differently.
        UnknownLanguageError: a code that names no language (script, both).
    """
    if keep not in KEEP_MODES:
        raise VocabularyError(f"keep must be one of {', '.join(KEEP_MODES)}, got {keep!r}")
    texts = dict(texts or {})
    languages = list(dict.fromkeys(langs if langs is not None else texts))
    _check_trim_args(keep, texts, languages, min_count, min_sentences)
    by_language = language_scripts(languages) if keep != "text" else {}
    scripts = list(dict.fromkeys(s for parts in by_language.values() for s in parts))
    tok, model = encoder.tokenizer, encoder.model
    _model_pieces(tok)  # a BPE tokenizer is refused before any text is encoded
    per_language: dict[str, dict] = {}
    text_ids: set[int] = set()
    if keep in ("text", "both"):
        text_ids = _text_piece_ids(tok, texts, encoder.text_prefix, min_count, per_language)
    script_ids: set[int] = set()
    if keep in ("script", "both"):
        script_ids = set(script_piece_ids(tok, scripts, encoder.text_prefix, basic_latin)[0])
        for lang, parts in by_language.items():
            per_language.setdefault(lang, {})["scripts"] = list(parts)
    always = _always_kept(tok)
    kept = sorted(text_ids | script_ids | always)
    new_tok = _trimmed_tokenizer(tok, kept)
    trimmed = _trimmed_model(model, tok, kept)
    if check and keep in ("text", "both"):
        _check_segmentation(tok, new_tok, kept, texts, encoder.text_prefix)
    sizes, rows, n_before, n_after = _trim_sizes(keep, model, trimmed, text_ids, script_ids, always, kept)
    info = dict(encoder.info, trimmed_for=sorted(languages), vocab_before=len(tok), vocab_after=len(kept),
                trimmed_keep=keep, trimmed_scripts=scripts,
                trimmed_basic_latin=basic_latin and keep != "text")
    mode = "" if keep == "text" else f"; keep {keep}"
    out = Encoder(model=trimmed.eval(), tokenizer=new_tok,
                  spec=f"{encoder.spec} (trimmed: {', '.join(sorted(languages))}{mode})",
                  text_prefix=encoder.text_prefix, fingerprint=f"{encoder.fingerprint}:trim:{_digest(kept)}",
                  info=info)
    return out, TrimResult(kept, len(tok), len(kept), rows, n_before, n_after, per_language, min_count, keep,
                           scripts, sizes, basic_latin and keep != "text")


def _digest(ids: Sequence[int]) -> str:
    return hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()[:12]


def outside_trimmed(encoder, texts: Mapping[str, Sequence[str]], sample: int = 200) -> dict[str, float]:
    """For an encoder whose vocabulary was trimmed (``info["trimmed_for"]``), the languages of
    ``texts`` outside that set and the share (percent) of their tokens that become ``<unk>``
    (on up to ``sample`` sentences each). An untrimmed encoder gives ``{}``. After a script trim
    (``info["trimmed_scripts"]``), a language written in the kept scripts is not outside: its text
    segments as with the full vocabulary."""
    kept = encoder.info.get("trimmed_for") or []
    if not kept:
        return {}
    scripts = set(encoder.info.get("trimmed_scripts") or ())

    def in_kept_scripts(lang: str) -> bool:
        if not scripts or encoder.info.get("trimmed_keep") not in ("script", "both"):
            return False
        try:
            return set(language_scripts([lang])[lang]) <= scripts
        except (VocabularyError, ValueError):
            return False

    return {lang: unknown_rate(encoder.tokenizer, list(t)[:sample], encoder.text_prefix)
            for lang, t in texts.items() if not any(denote_same(k, lang) for k in kept) and not in_kept_scripts(lang)}

