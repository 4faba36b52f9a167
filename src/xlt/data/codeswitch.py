"""Code-switched training data: CoSDA-ML (Qin et al. 2020).

Qin, Ni, Zhang and Che (2020), "CoSDA-ML: Multi-Lingual Code-Switching Data Augmentation for
Zero-Shot Cross-Lingual NLP", IJCAI 2020: while fine-tuning on the source language, words of
each training sentence are replaced by their dictionary translations in randomly chosen target
languages, and the replacement is drawn anew for every batch (here: every epoch), so the model
learns to give a word and its translations the same representation.

This module is the data transformation alone (no torch): examples + dictionaries + a random
generator -> switched examples and counts. What it does, word by word:

* each word (a token of a tagged sentence; a whitespace-separated word of a text, its leading
  and trailing punctuation kept in place) is looked up case-folded; a word that some dictionary
  holds is chosen with probability ``ratio``;
* a chosen word takes one of the languages whose dictionary holds it (uniformly), then one of
  that language's translations (uniformly); a capitalised word gets a capitalised translation
  (``Paris`` -> ``París``), an all-capitals word an all-capitals one;
* tagged sentences keep each replaced word's label (``only_labels``: only words with those labels,
  e.g. ``O``, are replaced); a translation of several words
  (``free`` -> ``kostenlos erhältlich``) becomes several tokens, the first with the word's label
  and the others with its continuation: ``B-X`` -> ``B-X I-X``, ``I-X`` -> ``I-X I-X``,
  ``O`` -> ``O O``, any other label (a UPOS tag) repeated;
* text and text-pair examples (SIB-200, NLI) are switched in every text; their label stays.

``ratio=0`` returns the examples unchanged (equal, not copied objects); ``ratio=1`` replaces
every word found in some dictionary.

Dictionaries (:func:`load_code_switch_dictionaries`) come from ``--code-switch`` values:
``builtin`` (the data folder's Wiktionary ``dict/en-<language>.txt`` of every ``--cs-langs``
language, default all of them), a language code or name with a file there (``de``, ``german``),
or a file of the user's (``FILE`` or ``LANG=FILE``): ``word<TAB>word``, MUSE ``word word``, or
``xlt bli induce``'s ``word<TAB>word<TAB>score`` (scores below ``min_score`` dropped); see
:func:`xlt.data.dictionaries.read_dictionary`.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from xlt.core.errors import XltError
from xlt.data.dictionaries import read_dictionary
from xlt.data.langs import UnknownLanguageError, iso639_3, resolve_language
from xlt.data.paths import dataset_dir
from xlt.data.readers import PairExample, TaggedSentence, TextExample

__all__ = ["BUILTIN", "CodeSwitchDictionary", "CodeSwitchError", "CodeSwitcher", "SwitchCounts", "builtin_languages",
           "continuation_label", "epoch_rng", "load_code_switch_dictionaries", "source_coverage"]

#: The ``--code-switch`` value that takes the data folder's Wiktionary dictionaries.
BUILTIN = "builtin"

# a text word: leading punctuation, the word, trailing punctuation
_WORD = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE)


class CodeSwitchError(XltError, ValueError):
    """A ``--code-switch`` value that names no dictionary (no such file, no ``dict/`` file for a
    language), or ``--cs-langs`` naming a language without one."""


@dataclass
class CodeSwitchDictionary:
    """One language's dictionary, ready for lookups.

    Attributes:
        lang: the language as given (``de``, a file's language, or the file's stem when unknown).
        path: the file read.
        table: case-folded English word -> its translations (in file order; a translation may
            hold several words separated by one space).
        stats: :attr:`xlt.data.dictionaries.Dictionary.stats` of the file, plus ``n_words``
            (distinct English words).
    """

    lang: str
    path: Path
    table: dict[str, tuple[str, ...]]
    stats: dict

    @property
    def size(self) -> int:
        """Entries (English word, translation) in :attr:`table`."""
        return sum(len(v) for v in self.table.values())


@dataclass
class SwitchCounts:
    """What one pass of :meth:`CodeSwitcher.switch_examples` did.

    Attributes:
        words: words looked at (tokens of tagged sentences, whitespace words of texts).
        in_dictionary: of those, words some dictionary holds.
        replaced: words replaced.
        by_lang: language -> words replaced with its dictionary.
        examples_switched: examples with at least one replaced word.
    """

    words: int = 0
    in_dictionary: int = 0
    replaced: int = 0
    by_lang: Counter = field(default_factory=Counter)
    examples_switched: int = 0

    def as_dict(self) -> dict:
        """The counts as a JSON-able dict (``by_lang`` sorted by language)."""
        return {"words": self.words, "in_dictionary": self.in_dictionary, "replaced": self.replaced,
                "examples_switched": self.examples_switched, "by_lang": dict(sorted(self.by_lang.items()))}


def epoch_rng(seed: int, epoch: int, copy: int = 0) -> random.Random:
    """The generator of one epoch's switch (``copy``: probe mode's n-th switched copy): a function
    of its arguments alone, so a resumed run draws what an uninterrupted one drew."""
    return random.Random(f"cosda-ml/{seed}/{epoch}/{copy}")


def continuation_label(label: str) -> str:
    """The label of the second and later words of a multi-word translation: ``B-X`` and ``I-X``
    -> ``I-X`` (BIO; also ``E-``/``S-`` of BIOES -> ``I-``), anything else (``O``, a UPOS tag)
    unchanged."""
    if len(label) > 2 and label[1] == "-" and label[0] in "BIES":
        return "I-" + label[2:]
    return label


def _cased(word: str, translation: str) -> str:
    """``translation`` cased as ``word``: all capitals (two letters or more) or capitalised."""
    if len(word) > 1 and word.isupper():
        return translation.upper()
    if word[:1].isupper():
        return translation[:1].upper() + translation[1:]
    return translation


class CodeSwitcher:
    """Replaces words of examples with dictionary translations (CoSDA-ML, Qin et al. 2020).

    Args:
        dictionaries: one :class:`CodeSwitchDictionary` per language (several files of one
            language are merged).
        ratio: probability that a word some dictionary holds is replaced, in [0, 1].
        only_labels: tagged sentences: only words with one of these labels may be replaced (e.g.
            ``{"O"}`` for NER: entity words keep their spelling); None: any word. Words with other
            labels draw nothing, so they do not change the other words' draws.

    Raises:
        ValueError: ``ratio`` outside [0, 1], no dictionary, or an empty ``only_labels``.
    """

    def __init__(self, dictionaries: Sequence[CodeSwitchDictionary], ratio: float,
                 only_labels: Iterable[str] | None = None) -> None:
        if not 0.0 <= float(ratio) <= 1.0:
            raise ValueError(f"ratio must be between 0 and 1, got {ratio}")
        if not dictionaries:
            raise ValueError("code-switching needs at least one dictionary")
        self.dictionaries = list(dictionaries)
        self.ratio = float(ratio)
        self.only_labels = None if only_labels is None else frozenset(only_labels)
        if self.only_labels is not None and not self.only_labels:
            raise ValueError("only_labels: give at least one label (None: any word may be replaced)")
        merged: dict[str, dict[str, list[str]]] = {}
        for d in self.dictionaries:
            for word, translations in d.table.items():
                have = merged.setdefault(word, {}).setdefault(d.lang, [])
                have.extend(t for t in translations if t not in have)
        # word -> ((lang, (translation, ...)), ...), languages in the order the dictionaries came
        self.lookup: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
            w: tuple((l, tuple(ts)) for l, ts in by_lang.items()) for w, by_lang in merged.items()}

    @property
    def languages(self) -> list[str]:
        """The dictionaries' languages, in order, each once."""
        return list(dict.fromkeys(d.lang for d in self.dictionaries))

    def _draw(self, word: str, rng: random.Random) -> tuple[str, str] | None:
        """``(language, translation)`` for ``word`` or None (not in a dictionary, or not chosen).
        A word in no dictionary draws nothing, so the draws of the others do not depend on it."""
        options = self.lookup.get(word.casefold())
        if not options:
            return None
        if self.ratio < 1.0 and rng.random() >= self.ratio:
            return None
        lang, translations = options[rng.randrange(len(options))] if len(options) > 1 else options[0]
        t = translations[rng.randrange(len(translations))] if len(translations) > 1 else translations[0]
        return lang, _cased(word, t)

    def switch_tokens(self, tokens: Sequence[str], labels: Sequence[str], rng: random.Random,
                      counts: SwitchCounts | None = None) -> tuple[list[str], list[str]]:
        """One tagged sentence switched.

        Args:
            tokens, labels: ``(n_words,)`` each.
            rng: the generator (:func:`epoch_rng`).
            counts: added to, if given.

        Returns:
            ``(tokens, labels)``, each ``(n_words',)`` with ``n_words' >= n_words`` (a translation of
            k words gives k tokens; see the module docs for their labels).
        """
        out_t: list[str] = []
        out_l: list[str] = []
        for tok, lab in zip(tokens, labels):
            got = self._draw(tok, rng) if self.only_labels is None or lab in self.only_labels else None
            if counts is not None:
                counts.words += 1
                counts.in_dictionary += tok.casefold() in self.lookup
            if got is None:
                out_t.append(tok)
                out_l.append(lab)
                continue
            lang, translation = got
            words = translation.split()
            out_t.extend(words)
            out_l.extend([lab] + [continuation_label(lab)] * (len(words) - 1))
            if counts is not None:
                counts.replaced += 1
                counts.by_lang[lang] += 1
        return out_t, out_l

    def switch_text(self, text: str, rng: random.Random, counts: SwitchCounts | None = None) -> str:
        """One text switched: its whitespace-separated words, each looked up without its leading and
        trailing punctuation (which stays); words are joined by one space where a word was
        replaced, the text is returned as it was where none was.

        Args:
            text: the text. rng: the generator. counts: added to, if given.
        """
        parts = text.split()
        changed = False
        for i, part in enumerate(parts):
            lead, core, trail = _WORD.match(part).groups()
            if not core:
                continue
            got = self._draw(core, rng)
            if counts is not None:
                counts.words += 1
                counts.in_dictionary += core.casefold() in self.lookup
            if got is None:
                continue
            lang, translation = got
            parts[i] = lead + translation + trail
            changed = True
            if counts is not None:
                counts.replaced += 1
                counts.by_lang[lang] += 1
        return " ".join(parts) if changed else text

    def switch_examples(self, examples: Sequence, rng: random.Random) -> tuple[list, SwitchCounts]:
        """Every example switched (see the module docs), in order.

        Args:
            examples: :class:`~xlt.data.readers.TaggedSentence`, :class:`~xlt.data.readers.TextExample`
                or :class:`~xlt.data.readers.PairExample` values (``n_examples``).
            rng: the generator (:func:`epoch_rng`); the result is a function of its state.

        Returns:
            ``(examples', counts)``: ``n_examples`` examples of the same types (an example with no
            word replaced is the one given) and a :class:`SwitchCounts`.

        Raises:
            TypeError: an example of another type.
        """
        counts = SwitchCounts()
        out = []
        for e in examples:
            before = counts.replaced
            if isinstance(e, TaggedSentence):
                tokens, labels = self.switch_tokens(e.tokens, e.labels, rng, counts)
                new = TaggedSentence(tokens, labels) if counts.replaced > before else e
            elif isinstance(e, PairExample):
                a = self.switch_text(e.text, rng, counts)
                b = self.switch_text(e.text_pair, rng, counts)
                new = replace(e, text=a, text_pair=b) if counts.replaced > before else e
            elif isinstance(e, TextExample):
                text = self.switch_text(e.text, rng, counts)
                new = replace(e, text=text) if counts.replaced > before else e
            else:
                raise TypeError(f"cannot code-switch a {type(e).__name__}")
            counts.examples_switched += counts.replaced > before
            out.append(new)
        return out, counts


def source_coverage(dictionaries: Iterable[CodeSwitchDictionary], examples: Sequence) -> dict[str, int]:
    """How many training words each dictionary can switch.

    Args:
        dictionaries: the dictionaries (:func:`load_code_switch_dictionaries`).
        examples: ``n_examples`` tagged sentences, texts or text pairs.

    Returns:
        dictionary language -> distinct words of ``examples`` (tokens, or text words without their
        punctuation; case-folded) that its dictionary holds; 0: it can switch nothing.
    """
    words: set[str] = set()
    for e in examples:
        if isinstance(e, TaggedSentence):
            words.update(t.casefold() for t in e.tokens)
        else:
            for text in (e.text, getattr(e, "text_pair", "")):
                words.update(_WORD.match(p).group(2).casefold() for p in text.split())
    return {d.lang: sum(w in d.table for w in words) for d in dictionaries}


def builtin_languages(data_dir: str | Path | None = None) -> dict[str, Path]:
    """The data folder's Wiktionary dictionaries: language code (ISO 639-3 where known, else the
    file's name part) -> ``dict/en-<language>.txt``.

    Raises:
        DatasetNotFoundError: no ``dict/`` folder.
    """
    root = dataset_dir("dict", data_dir)
    out = {}
    for path in sorted(root.glob("en-*.txt")):
        name = path.name[3:-4]
        out[_name_code(name) or name] = path
    return out


def _name_code(name: str) -> str | None:
    """ISO 639-3 code of a language name or code (``german``, ``de``), None if unknown."""
    try:
        return iso639_3(name)
    except UnknownLanguageError:
        pass
    try:
        return iso639_3(resolve_language(name))
    except (UnknownLanguageError, ValueError):
        return None


def _file_language(path: Path) -> str:
    """A dictionary file's language from its name (``en-de.txt``, ``en-german.txt``,
    ``yacle.train.freq.5k.en-de.tsv``), else the file's stem."""
    m = re.search(r"en-([A-Za-z_]+)\.[^.]+$", path.name)
    if m:
        code = _name_code(m.group(1))
        if code:
            return m.group(1)
    return path.stem


def load_code_switch_dictionaries(specs: Sequence[str], langs: Sequence[str] | None = None,
                                  data_dir: str | Path | None = None,
                                  min_score: float | None = None) -> list[CodeSwitchDictionary]:
    """Read the dictionaries of ``--code-switch`` values (see the module docs).

    Args:
        specs: ``builtin``, a language with a ``dict/`` file (``de``, ``german``), ``FILE`` or
            ``LANG=FILE``. An existing file wins over a language of the same name.
        langs: the languages used (codes or names; None: all): ``builtin`` takes their ``dict/``
            files, and other dictionaries of other languages are left out.
        data_dir: the data folder (None: the usual search, :mod:`xlt.data.paths`).
        min_score: drop scored entries (``word<TAB>word<TAB>score``) below this.

    Returns:
        one :class:`CodeSwitchDictionary` per file, in the order given (``builtin`` expands in
        ``langs`` order, else file-name order); a file named twice is read once.

    Raises:
        CodeSwitchError: a value that is no file and no language with a ``dict/`` file; a
            ``langs`` language with no dictionary among them. DatasetNotFoundError: ``builtin`` without a data
            folder. DataFormatError: a malformed dictionary line (file and line named).
    """
    wanted: list[tuple[str, Path]] = []
    available: dict[str, Path] | None = None

    def builtin() -> dict[str, Path]:
        nonlocal available
        if available is None:
            available = builtin_languages(data_dir)
        return available

    def from_builtin(lang: str) -> Path:
        code = _name_code(lang)
        have = builtin()
        if code is None or code not in have:
            raise CodeSwitchError(f"no English-{lang} dictionary among the data folder's dict/ files (there are: "
                                  f"{', '.join(p.name[3:-4] for p in have.values())}); give a file "
                                  f"(--code-switch {lang}=FILE)")
        return have[code]

    for spec in specs:
        spec = str(spec).strip()
        if spec == BUILTIN:
            if langs:
                wanted.extend((lang, from_builtin(lang)) for lang in langs)
            else:
                wanted.extend((path.name[3:-4], path) for path in builtin().values())
            continue
        lang, sep, rest = spec.partition("=")
        if sep and lang and "/" not in lang and not Path(spec).exists():
            path = Path(rest)
            if not path.is_file():
                raise CodeSwitchError(f"--code-switch {spec}: no such file {rest}")
            wanted.append((lang, path))
            continue
        path = Path(spec)
        if path.is_file():
            wanted.append((_file_language(path), path))
            continue
        if _name_code(spec) is None or "/" in spec or "." in spec:
            raise CodeSwitchError(f"--code-switch {spec}: no such file, and no language with a dictionary in "
                                  f"the data folder (give a file, 'builtin', or a language such as de)")
        wanted.append((spec, from_builtin(spec)))
    if langs:  # the user's files too: only the languages asked for
        asked = {_name_code(l) or l: l for l in langs}
        wanted = [(l, p) for l, p in wanted if (_name_code(l) or l) in asked]
        missing = [name for code, name in asked.items() if all((_name_code(l) or l) != code for l, _ in wanted)]
        if missing:
            raise CodeSwitchError(f"--cs-langs {', '.join(missing)}: no --code-switch dictionary of "
                                  f"{'that language' if len(missing) == 1 else 'those languages'}")
    out: list[CodeSwitchDictionary] = []
    seen: set[Path] = set()
    for lang, path in wanted:
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        d = read_dictionary(path, keep_multiword=True, scored=True, min_score=min_score)
        table: dict[str, list[str]] = {}
        for e, f in d.entries:
            table.setdefault(e, []).append(f)
        out.append(CodeSwitchDictionary(lang=lang, path=path, table={k: tuple(v) for k, v in table.items()},
                                        stats=dict(d.stats, n_words=len(table))))
    return out

