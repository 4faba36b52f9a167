"""Feature extraction as free functions, kept for the code that calls them that way.

Feature extraction is behaviour of the encoder: :meth:`xlt.models.encoder.Encoder.encode_words`
(one vector per input word), :meth:`~xlt.models.encoder.Encoder.encode_sentences` (one vector
per text) and :meth:`~xlt.models.encoder.Encoder.hidden_states` (raw per-layer states), with
layer specs read by :func:`xlt.models.encoder.resolve_layers`; see :mod:`xlt.models.encoder`
for the pooling, windowing and layer conventions. The functions here pass their arguments on
unchanged, so ``encode_words(encoder, sentences, ...)`` gives exactly (bit for bit) what
``encoder.encode_words(sentences, ...)`` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from xlt.models.encoder import (
    SENT_ITEM_STATS,
    WINDOW_OVERLAP,
    WORD_ITEM_STATS,
    Encoder,
    LayerSpec,
    LongInputs,
    SentencePooling,
    WordFeatures,
    WordPooling,
    parse_layer,
    resolve_layers,
    special_tokens,
)


def encode_words(encoder: Encoder, sentences: Sequence[Sequence[str]], *args: Any, **kwargs: Any) -> WordFeatures:
    """Word vectors of pre-split sentences: ``encoder.encode_words(sentences, ...)``.

    Takes the arguments, returns the :class:`WordFeatures` (per sentence a float32 ``(n_words,
    dim)`` array, or ``(n_layers_selected, n_words, dim)``) and raises the errors of
    :meth:`xlt.models.encoder.Encoder.encode_words`.
    """
    return encoder.encode_words(sentences, *args, **kwargs)


def encode_sentences(encoder: Encoder, texts: Sequence[str], *args: Any,
                     **kwargs: Any) -> np.ndarray | tuple[np.ndarray, dict[str, int]]:
    """One vector per text: ``encoder.encode_sentences(texts, ...)``.

    Takes the arguments, returns the float32 ``(n_texts, dim)`` array (or
    ``(n_layers_selected, n_texts, dim)``; with ``return_stats=True`` also the counters) and raises
    the errors of :meth:`xlt.models.encoder.Encoder.encode_sentences`.
    """
    return encoder.encode_sentences(texts, *args, **kwargs)


__all__ = ["Encoder", "LayerSpec", "LongInputs", "SENT_ITEM_STATS", "SentencePooling", "WINDOW_OVERLAP",
           "WORD_ITEM_STATS", "WordFeatures", "WordPooling", "encode_sentences", "encode_words", "parse_layer",
           "resolve_layers", "special_tokens"]
