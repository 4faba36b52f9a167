"""Shared test helpers: a tiny random encoder loaded through the real Hugging Face path.

``make_tiny_encoder(tmp_path)`` builds a 2-layer, 32-dim ``BertModel`` (seeded, random
weights) and a WordPiece fast tokenizer built in-process with the ``tokenizers`` library,
saves both with ``save_pretrained`` into a folder under ``tmp_path`` and reloads them with
:func:`xlt.models.loading.load_encoder`, so tests exercise the same loading code as real
models. The vocabulary is small on purpose: many words split into several subwords
(``"cats"`` -> ``cat ##s``, ``"running"`` -> ``run ##n ##ing``, ``"zebra"`` -> ``z ##e ##b
##r ##a``) so subword -> word pooling is exercised. The normaliser lowercases and removes
control characters, so a word like ``"\\x07"`` or ``"\\u200b"`` produces zero subwords.
"""

from __future__ import annotations

import string
from pathlib import Path

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [
    "the", "a", "cat", "dog", "sat", "on", "mat", "run", "walk", "house", "big", "small",
    "happy", "un", "query", "passage", "and", "is", "in", "of", "to", "it",
]
SUFFIXES = ["##s", "##ing", "##ed", "##er", "##ly", "##ness"]
PUNCT = list(".,:;!?'\"()-")


def tiny_vocab() -> list[str]:
    """The tiny WordPiece vocabulary (specials first, ``[PAD]`` = id 0)."""
    letters = list(string.ascii_lowercase) + list(string.digits)
    vocab = SPECIALS + WORDS + SUFFIXES + PUNCT + letters + ["##" + c for c in letters]
    seen: set[str] = set()
    out = []
    for v in vocab:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def make_tiny_tokenizer(max_length: int = 64):
    """A ``PreTrainedTokenizerFast`` (BERT-style WordPiece) over :func:`tiny_vocab`."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(tiny_vocab())}
    tok = Tokenizer(WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=max_length,
    )


def make_tiny_encoder(tmp_path, *, text_prefix: str = "", max_length: int = 64,
                      num_layers: int = 2, hidden_size: int = 32, seed: int = 0):
    """Build, save and reload a tiny random BERT encoder.

    Args:
        tmp_path: a folder (pytest's ``tmp_path``); the model is saved to ``tmp_path/"tiny-bert"``.
        text_prefix: set as the encoder's ``text_prefix`` after loading (e.g. ``"query: "``
            to imitate E5 models).
        max_length: ``max_position_embeddings`` of the model and ``model_max_length`` of the
            tokenizer, i.e. ``Encoder.max_length`` (tokens, specials included).
        num_layers: transformer layers (hidden states are ``num_layers + 1``).
        hidden_size: vector width (2 attention heads, intermediate size ``2 * hidden_size``).
        seed: torch seed for the random weights.

    Returns:
        An :class:`xlt.models.loading.Encoder` on CPU in eval mode.
    """
    import torch
    from transformers import BertConfig, BertModel

    from xlt.models.loading import load_encoder

    folder = Path(tmp_path) / "tiny-bert"
    if not (folder / "config.json").exists():
        tokenizer = make_tiny_tokenizer(max_length)
        config = BertConfig(
            vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=num_layers,
            num_attention_heads=2, intermediate_size=2 * hidden_size,
            max_position_embeddings=max_length, pad_token_id=0,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        )
        torch.manual_seed(seed)
        model = BertModel(config)
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    enc = load_encoder(str(folder))
    enc.text_prefix = text_prefix
    return enc


def write_ntrex(root, sides: dict[str, list[str]]) -> Path:
    """Write a fake NTREX-128 folder under ``root``: ``{"eng": lines, "deu": lines, ...}`` (English
    as the ``src`` file, others as ``ref`` files); returns ``root``."""
    root = Path(root)
    folder = root / "ntrex"
    folder.mkdir(parents=True, exist_ok=True)
    for lang, lines in sides.items():
        name = "newstest2019-src.eng.txt" if lang == "eng" else f"newstest2019-ref.{lang}.txt"
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
