"""What a reader is told about a file: :class:`ReadOptions` (which columns hold what) and the
default column names of tables (csv, tsv, jsonl, Hugging Face data), in order of preference.

See :mod:`xlt.data.formats` for how the defaults are used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from xlt.data.readers import CONLLU_LABEL_FIELDS

__all__ = ["ID_COLUMNS", "LABEL_COLUMNS", "PAIR_COLUMNS", "TEXT_COLUMNS", "TOKEN_COLUMNS", "ReadOptions"]

#: Default column names of tables, in order of preference.
TEXT_COLUMNS: tuple[str, ...] = ("text", "sentence", "content", "review", "document")
PAIR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("premise", "hypothesis"),
    ("sentence1", "sentence2"),
    ("text", "text_pair"),
    ("question", "sentence"),
    ("question1", "question2"),
)
TOKEN_COLUMNS: tuple[str, ...] = ("tokens", "words")
LABEL_COLUMNS: tuple[str, ...] = (
    "label", "labels", "category", "class", "ner_tags", "tags", "pos_tags", "upos",
)
ID_COLUMNS: tuple[str, ...] = ("id", "index_id", "guid")


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class ReadOptions:
    """How to read a file: which columns hold what.

    Attributes:
        text_column: for tables: one name (text classification), two names
            (``("premise", "hypothesis")``, pair classification), or the column of token lists
            (token classification). A single string is accepted and made a 1-tuple.
            ``None``: the default names (see the module docstring).
        label_column: for tables: the class label column, or the tag-list column.
        tag_column: CoNLL: 0-based column index of the tag; negative counts from the end
            (``-1``, the default, is the last column).
        token_column: CoNLL: 0-based column index of the token (negative counts from the end).
        conllu_field: CoNLL-U: the field used as label (``upos``, ``xpos``, ``lemma``,
            ``deprel``).
        split: the split of a Hugging Face ``DatasetDict`` (``train``, ``test``, ...).
        id_column: for tables: the column of example ids.

    Raises:
        ValueError: on construction, for an empty or repeated column name, more than two text
            columns, a non-integer column index, token and tag columns that are the same index,
            or an unknown ``conllu_field``.
    """

    text_column: tuple[str, ...] | None = None
    label_column: str | None = None
    tag_column: int = -1
    token_column: int = 0
    conllu_field: str = "upos"
    split: str | None = None
    id_column: str | None = None

    def __post_init__(self) -> None:
        text = self.text_column
        if text is not None:
            if isinstance(text, str):
                text = (text,)
            elif isinstance(text, Iterable):
                text = tuple(text)
            else:
                raise ValueError(f"text_column must be a name or names, got {text!r}")
            if not 1 <= len(text) <= 2:
                raise ValueError(
                    f"text_column takes one name (text) or two (text pair), got {len(text)}: {text!r}"
                )
            for name in text:
                _check_name("text_column", name)
            if len(set(text)) != len(text):
                raise ValueError(f"text_column names the same column twice: {text!r}")
            object.__setattr__(self, "text_column", text)
        for attr in ("label_column", "split", "id_column"):
            value = getattr(self, attr)
            if value is not None:
                _check_name(attr, value)
        if self.label_column is not None and self.text_column and self.label_column in self.text_column:
            raise ValueError(f"label_column {self.label_column!r} is also a text column")
        for attr in ("tag_column", "token_column"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{attr} must be an int column index, got {value!r}")
        if self.tag_column == self.token_column:
            raise ValueError(f"tag_column and token_column are both {self.tag_column}")
        if self.conllu_field not in CONLLU_LABEL_FIELDS:
            raise ValueError(
                f"conllu_field must be one of {sorted(CONLLU_LABEL_FIELDS)}, got {self.conllu_field!r}"
            )


def _check_name(attr: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attr} must be a non-empty string, got {value!r}")
