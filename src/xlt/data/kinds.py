"""Task kinds: what one example of a task looks like and how its labels are read.

Three kinds cover the tasks of XTREME-style zero-shot transfer:

==========  =====================  ==========================================  ==============
kind        example type           labels                                      usual metric
==========  =====================  ==========================================  ==============
token       :class:`TaggedSentence` one per word (UPOS, BIO entity tags)        accuracy / F1
sequence    :class:`TextExample`    one per text (topic, sentiment)             accuracy
pair        :class:`PairExample`    one per text pair (NLI, paraphrase)         accuracy
==========  =====================  ==========================================  ==============

Code that must treat the kinds differently asks the kind object (``kind.gold(examples)``,
``kind.relabel(example, f)``) instead of branching on strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from xlt.data.readers import PairExample, TaggedSentence, TextExample

Example = TaggedSentence | TextExample | PairExample


class TaskKind:
    """Base class of the task kinds (use the instances :data:`TOKEN`, :data:`SEQUENCE`, :data:`PAIR`).

    Attributes:
        name: ``'token'``, ``'sequence'`` or ``'pair'``.
        example_type: the example class of the kind.
        default_metric: the metric used when a data set names none (``'accuracy'``).
    """

    name: str = ""
    example_type: type = object
    default_metric: str = "accuracy"

    def labels_of(self, example: Any) -> list[str]:
        """The labels one example carries (one per word for token tasks, else one)."""
        return [example.label]

    def gold(self, examples: Sequence[Any]) -> list:
        """Gold labels in the form :func:`xlt.core.metrics.score` takes: ``list[list[str]]``
        (one list per sentence) for token tasks, ``list[str]`` otherwise."""
        return [e.label for e in examples]

    def relabel(self, example: Any, mapping: Callable[[str], str]) -> Any:
        """A copy of ``example`` with every label passed through ``mapping``."""
        return replace(example, label=mapping(example.label))

    def n_tokens(self, examples: Sequence[Any]) -> int | None:
        """Words in ``examples`` for token tasks; ``None`` for raw-text kinds."""
        return None

    def check(self, examples: Iterable[Any], where: str = "") -> None:
        """Raise ``TypeError`` if an example is not of this kind's type."""
        for e in examples:
            if not isinstance(e, self.example_type):
                raise TypeError(f"{where}{self.name} task needs {self.example_type.__name__} examples, "
                                f"got {type(e).__name__}")

    def __repr__(self) -> str:
        return f"TaskKind({self.name!r})"

    def __reduce__(self):  # instances are singletons: pickle/copy by name
        return (get_kind, (self.name,))


class TokenKind(TaskKind):
    """One label per word (POS tagging, NER)."""

    name = "token"
    example_type = TaggedSentence

    def labels_of(self, example: TaggedSentence) -> list[str]:
        return list(example.labels)

    def gold(self, examples: Sequence[TaggedSentence]) -> list[list[str]]:
        return [list(e.labels) for e in examples]

    def relabel(self, example: TaggedSentence, mapping: Callable[[str], str]) -> TaggedSentence:
        return TaggedSentence(list(example.tokens), [mapping(l) for l in example.labels])

    def n_tokens(self, examples: Sequence[TaggedSentence]) -> int:
        return sum(len(e.tokens) for e in examples)


class SequenceKind(TaskKind):
    """One label per text (topic, sentiment classification)."""

    name = "sequence"
    example_type = TextExample


class PairKind(TaskKind):
    """One label per pair of texts (natural language inference, paraphrase identification)."""

    name = "pair"
    example_type = PairExample


TOKEN = TokenKind()
SEQUENCE = SequenceKind()
PAIR = PairKind()
KINDS: dict[str, TaskKind] = {k.name: k for k in (TOKEN, SEQUENCE, PAIR)}


def get_kind(kind: str | TaskKind) -> TaskKind:
    """The kind object for a name (``'token'``, ``'sequence'``, ``'pair'``) or a kind.

    Raises:
        ValueError: unknown name.
    """
    if isinstance(kind, TaskKind):
        return kind
    try:
        return KINDS[str(kind).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown task kind {kind!r}; known: {', '.join(KINDS)}") from None


def kind_of(example: Any) -> TaskKind:
    """The kind whose example type ``example`` is.

    Raises:
        TypeError: not an example type of any kind.
    """
    for k in KINDS.values():
        if isinstance(example, k.example_type):
            return k
    raise TypeError(f"not a task example: {type(example).__name__}")


__all__ = ["KINDS", "PAIR", "SEQUENCE", "TOKEN", "Example", "PairKind", "SequenceKind", "TaskKind", "TokenKind",
           "get_kind", "kind_of"]
