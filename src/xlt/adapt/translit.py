"""Transliteration: romanised text as a second view of a non-Latin-script language.

A language written in its own script shares few subword pieces with the Latin-script languages a
task model is usually trained on. ``uroman`` (Hermjakob et al. 2018, "Out-of-the-box Universal
Romanization Tool uroman") writes any script in Latin letters. :func:`romanize_words` romanises a
sentence word by word, so word ``i`` of the original and of the romanisation are the same word:
the pair is word-aligned by construction. TransliCo (Liu et al. 2024, "TransliCo: A Contrastive
Learning Framework to Address the Script Barrier in Multilingual Pretrained Language Models")
fine-tunes the encoder so that a sentence and its transliteration get close representations;
:func:`transliteration_pairs` turns text into such pairs for :func:`xlt.align.finetune.finetune_alignment`
(a contrastive or L2 loss on the aligned words: the original-script word's vector moves to the
romanised word's, which the regulariser keeps where it was).
"""

from __future__ import annotations

import dataclasses
import functools
import unicodedata
from collections.abc import Sequence

from xlt.align.finetune import AlignmentExample
from xlt.core.errors import XltError
from xlt.data.langs import UnknownLanguageError, iso639_3
from xlt.data.segment import split_words
from xlt.data.text import example_text

__all__ = ["TransliterationError", "is_non_latin", "non_latin_share", "romanize", "romanize_examples", "romanize_words",
           "transliteration_pairs"]


class TransliterationError(XltError, ValueError):
    """Text that cannot be transliterated as asked (uroman missing, no non-Latin text)."""


@functools.lru_cache(maxsize=1)
def _uroman():
    try:
        import uroman  # optional dependency: only --romanize needs it
    except ImportError:
        raise TransliterationError("transliteration needs the uroman package: pip install uroman") from None
    return uroman.Uroman()


def _lcode(lang: str | None) -> str | None:
    if lang is None:
        return None
    try:
        return iso639_3(lang)
    except UnknownLanguageError:
        return None


def romanize(texts: Sequence[str], lang: str | None = None) -> list[str]:
    """uroman romanisations of ``texts`` (``lang``: any code; it selects uroman's language rules)."""
    u, code = _uroman(), _lcode(lang)
    return [u.romanize_string(t, lcode=code) for t in texts]


def romanize_words(words: Sequence[str], lang: str | None = None) -> list[str]:
    """Each word romanised on its own (same length as ``words``; a word uroman leaves empty keeps its
    original form, so no word disappears)."""
    u, code = _uroman(), _lcode(lang)
    out = []
    for w in words:
        r = u.romanize_string(w, lcode=code).strip()
        out.append(r.replace(" ", "") or w)
    return out


def non_latin_share(text: str) -> float:
    """The share of ``text``'s letters (``str.isalpha``) that are not Latin script, in [0, 1]; 0 for
    text without letters."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(not unicodedata.name(ch, "").startswith("LATIN") for ch in letters) / len(letters)


def transliteration_pairs(texts: Sequence[str], lang: str, *, min_non_latin: float = 0.5):
    """Word-aligned (romanised, original) pairs of a language's sentences.

    Each sentence is split into words (:func:`xlt.data.segment.split_words`, which segments Thai,
    Chinese, Japanese, Khmer, ... where a segmenter is installed), and each word is romanised on
    its own; word ``i`` links to word ``i``. The romanisation is the pair's *source* side (kept near
    the original model by the regulariser of :func:`~xlt.align.finetune.finetune_alignment`), the
    original script its *target* side (moved). Sentences that are mostly Latin script already
    (below ``min_non_latin`` of their letters non-Latin), or whose romanisation equals them, are
    left out.

    Returns:
        ``(examples, skipped)``: :class:`xlt.align.finetune.AlignmentExample` values and the
        number of sentences left out.

    Raises:
        TransliterationError: uroman is not installed, or no sentence is in a non-Latin script.
    """
    out, skipped = [], 0
    for t in texts:
        words = split_words(t, lang)
        if not words or non_latin_share(t) < min_non_latin:
            skipped += 1
            continue
        roman = romanize_words(words, lang)
        if roman == words:
            skipped += 1
            continue
        out.append(AlignmentExample(lang=lang, source=roman, target=list(words),
                                    links={(i, i) for i in range(len(words))}))
    if not out:
        raise TransliterationError(f"{lang}: no sentence in a non-Latin script to transliterate "
                                   f"({skipped} left out); transliteration is for languages such as th, ur, am")
    return out, skipped


def is_non_latin(examples: Sequence, min_non_latin: float = 0.5) -> bool:
    """Whether the letters of ``examples`` (tagged sentences, texts or text pairs, all of one kind)
    are mostly (at least ``min_non_latin``) in scripts other than Latin."""
    return non_latin_share(" ".join(example_text(ex) for ex in examples)) >= min_non_latin


def romanize_examples(examples: Sequence, lang: str | None = None) -> list:
    """The examples with their text romanised by uroman (the "extra view" of TransliCo, Liu et al.
    2024): a tagged sentence word by word (:func:`romanize_words`, so its labels still fit), a text
    or both texts of a pair whole. Labels and ids are unchanged; the inputs are not modified.

    Raises:
        TransliterationError: uroman is not installed.
    """
    out = []
    for ex in examples:
        if hasattr(ex, "tokens"):
            out.append(dataclasses.replace(ex, tokens=romanize_words(ex.tokens, lang), labels=list(ex.labels)))
        elif hasattr(ex, "text_pair"):
            a, b = romanize([ex.text, ex.text_pair], lang)
            out.append(dataclasses.replace(ex, text=a.strip() or ex.text, text_pair=b.strip() or ex.text_pair))
        else:
            out.append(dataclasses.replace(ex, text=romanize([ex.text], lang)[0].strip() or ex.text))
    return out
