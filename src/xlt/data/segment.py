"""Split raw text into words, in every script: :func:`split_words`.

Models in ``xlt`` are trained on pre-tokenised words (UD, WikiANN, the word-alignment gold sets),
so raw text has to be cut the same way before it is tagged (``xlt predict``) or aligned
(``xlt wordalign --tokenizer auto``, ``xlt project``). The rules, in order:

1. **Separators.** Whitespace (anything :meth:`str.isspace` accepts, so also U+3000 and
   U+00A0), control characters (Unicode category ``Cc``), ZERO WIDTH SPACE U+200B (Khmer,
   Lao, Burmese and Thai text often marks word breaks with it) and U+FEFF separate words and
   are dropped. Nothing else is ever dropped or changed, so::

       "".join(split_words(text)) == "".join(ch for ch in text if not is_separator(ch))

   which for ordinary text is ``"".join(text.split())``, and every word is a substring of
   ``text`` (:func:`word_spans` gives the offsets).
2. **URLs and e-mail addresses** stay whole: ``http://``, ``https://``, ``ftp://`` or ``www.``
   followed by printable ASCII, and ``name@host.tld`` in ASCII; closing punctuation at the end
   (``.,;:!?'")]}>``) is split off (``(see www.x.org).`` -> ``( see www.x.org ) .``),
   except a ``)`` that closes a ``(`` of the URL (``https://en.wikipedia.org/wiki/Rome_(city)``).
3. **Letters, digits and marks** (categories ``L``, ``N``, ``M``, ``Pc``) make one word as
   long as they stay in one script class; the classes are Han+kana, Thai, Lao, Khmer, Myanmar
   and "everything else" (scripts written with spaces, and digits), so ``Tokyo東京2020`` is
   cut into ``Tokyo``, ``東京``, ``2020`` before segmentation, while ``3km``, ``v2`` and
   ``Straße`` stay whole. Combining marks, ZWJ/ZWNJ, other invisible format characters
   (``Cf``: soft hyphen, bidi marks) and emoji skin-tone modifiers join the character before
   them, whatever it is, and the character after a ZWJ joins too (Persian ``می‌خواهم`` and
   emoji sequences stay whole, and so does a flag, a pair of regional indicators).
4. **Numbers.** ``.``, ``,``, ``:`` and the Arabic separators U+066B/U+066C between two
   digits do not split: ``3.5``, ``1,000``, ``10:30``, ``1.2.3``, ``3,5``, ``3.5km`` are one
   word (a list written without spaces, ``1,2,3``, is one word too). A sign ``-``, ``+`` or
   U+2212 MINUS directly before a digit belongs to the number when it does not follow a letter
   or digit: ``-4`` and ``(-4)`` give ``-4``, but ``3-4`` and ``x-4`` give ``3 - 4`` and
   ``x - 4`` (a range, a hyphenated word). ``.5`` is ``. 5``.
5. **Punctuation and symbols** (every other visible character) are words of their own, one
   per character, except that a repeated punctuation character (``...``, ``!!!``, ``--``)
   stays one word. Brackets and quotes (``))``, ``""``) are never grouped.
6. **Scripts written without spaces** go to a word segmenter (the registry
   :data:`SEGMENTERS`, see :func:`available_segmenters`):

   ========  ===========================  =============================================
   language  tool (``pip install``)       fallback when the tool is missing
   ========  ===========================  =============================================
   ``tha``   pythainlp, engine "newmm"    character clusters
   ``zho``   jieba                        one word per character
   ``jpn``   fugashi + unidic-lite        one word per character
   ``khm``   khmer-nltk                   character clusters
   ``lao``   laonlp                       character clusters
   ``mya``   built in: syllables          (always available; no word segmenter used)
   ========  ===========================  =============================================

   The tools are optional (``pip install 'xlt[segment]'``) and imported lazily, on the first
   text that needs them. When one is missing (or fails to load), the fallback rule is used and
   a :class:`SegmenterWarning` naming the package is issued once per language and process.
   A *character cluster* is a base letter with the vowel signs, tone marks and other
   combining marks that follow it, where a preposed vowel (Thai ``เ แ โ ใ ไ``, Lao
   ``ເ ແ ໂ ໃ ໄ``) joins the letter after it, the spacing vowels Thai ``ะ า ำ ๅ`` and Lao
   ``ະ າ ຳ`` join the cluster before them, and a Khmer subscript consonant (COENG U+17D2 +
   consonant) stays with its base: ``ข้าว`` -> ``ข้า ว``, ``ເຮືອນ`` -> ``ເຮື ອ ນ``,
   ``ខ្មែរ`` -> ``ខ្មែ រ``. That is coarser than a syllable but much better than keeping a
   whole sentence as one "word". Burmese is cut into syllables by the rule of Ye Kyaw Thu's
   *sylbreak* (a break before every consonant that is not stacked under the previous one, or
   killed by an asat, and before independent vowels, digits and symbols): ``မြန်မာစာ`` ->
   ``မြန် မာ စာ``. A tool's output that does not join back to its input is not trusted:
   that run gets the fallback rule.

Which segmenter a run of Han or kana characters gets: ``lang`` decides when it is Japanese
(``ja``, ``jpn``, any ``*_Jpan``) or a Chinese language (``zh``, ``zho_Hant``, ``yue``, ...);
otherwise the text decides: Japanese if the text contains any hiragana or katakana, Chinese if
it does not. Thai-, Lao-, Khmer- and Myanmar-script runs always get their script's segmenter.
Korean (Hangul) is written with spaces and needs none.

Nothing here imports torch.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from xlt.data.langs import iso639_3, script_of

__all__ = [
    "INSTALL_HINT",
    "SEGMENTERS",
    "Segmenter",
    "SegmenterWarning",
    "available_segmenters",
    "is_separator",
    "join_words",
    "split_words",
    "word_spans",
]

log = logging.getLogger(__name__)

#: How to get every optional segmenter.
INSTALL_HINT = "pip install 'xlt[segment]'"


class SegmenterWarning(UserWarning):
    """A word segmenter is not installed (or failed to load): a fallback rule is used."""


# --------------------------------------------------------------------------- characters
_ZWSP, _BOM, _ZWJ = "\u200b", "\ufeff", "\u200d"
_NUMBER_SEPARATORS = frozenset(".,:\u066b\u066c")
_SIGNS = frozenset("+-\u2212")
_URL_TRAILING = ".,;:!?'\")]}>"

# script classes of word characters
_OTHER, _CJK, _THAI, _LAO, _KHMER, _MYANMAR = "other", "cjk", "thai", "lao", "khmer", "myanmar"
_SPACELESS = {_CJK, _THAI, _LAO, _KHMER, _MYANMAR}
_SCRIPT_LANG = {_THAI: "tha", _LAO: "lao", _KHMER: "khm", _MYANMAR: "mya"}

_URL_OR_EMAIL = re.compile(
    r"(?:(?:https?|ftp)://|www\.)[!#-;=?-~]+"  # printable ASCII but space, '"', '<', '>'
    r"|[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
)


def is_separator(ch: str) -> bool:
    """Whether a character separates words and is dropped by :func:`split_words`.

    Whitespace (:meth:`str.isspace`), control characters (``Cc``), U+200B ZERO WIDTH SPACE and
    U+FEFF (byte-order mark / zero width no-break space).
    """
    return ch.isspace() or ch in (_ZWSP, _BOM) or unicodedata.category(ch) == "Cc"


def _is_kana(cp: int) -> bool:
    return 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF or 0xFF66 <= cp <= 0xFF9F or cp in (
        0x1B000, 0x1B001)


def _is_han(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF
            or 0x20000 <= cp <= 0x323AF or cp in (0x3005, 0x3006, 0x3007, 0x3021, 0x303B))


def _script_class(ch: str) -> str:
    """The script class of a word character (letter, digit or mark)."""
    cp = ord(ch)
    if cp < 0x0E00:
        return _OTHER
    if _is_han(cp) or _is_kana(cp):
        return _CJK
    if 0x0E00 <= cp <= 0x0E7F:
        return _THAI
    if 0x0E80 <= cp <= 0x0EFF:
        return _LAO
    if 0x1780 <= cp <= 0x17FF or 0x19E0 <= cp <= 0x19FF:
        return _KHMER
    if 0x1000 <= cp <= 0x109F or 0xA9E0 <= cp <= 0xA9FF or 0xAA60 <= cp <= 0xAA7F:
        return _MYANMAR
    return _OTHER


def _joins_previous(ch: str) -> bool:
    """Combining marks, ZWJ/ZWNJ and other format characters, emoji modifiers."""
    cat = unicodedata.category(ch)
    return cat[0] == "M" or cat == "Cf" or 0x1F3FB <= ord(ch) <= 0x1F3FF


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _is_word_char(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "LNM" or cat == "Pc"


# --------------------------------------------------------------------------- the basic splitter
# A token while scanning: [text, kind] where kind is a script class (word) or "punct".
_PUNCT = "punct"


def _scan(chunk: str, out: list[tuple[str, str]]) -> None:
    """Split a chunk without separators and URLs into (token, kind) pairs (rules 3-5)."""
    cur: list[str] = []
    kind = ""
    glue = False  # the previous character was a ZWJ: this one joins

    def flush() -> None:
        if cur:
            out.append(("".join(cur), kind))
            cur.clear()

    for i, ch in enumerate(chunk):
        if cur and (glue or _joins_previous(ch)):
            cur.append(ch)
            glue = ch == _ZWJ
            continue
        glue = ch == _ZWJ
        if _is_word_char(ch) or _joins_previous(ch):  # (a mark here starts the chunk)
            cls = _script_class(ch)
            if not (cur and kind == cls):
                flush()
                kind = cls
            cur.append(ch)
            continue
        # punctuation or symbol
        nxt = chunk[i + 1] if i + 1 < len(chunk) else ""
        digit_next = bool(nxt) and unicodedata.category(nxt) == "Nd"
        if (ch in _NUMBER_SEPARATORS and digit_next and cur and kind != _PUNCT
                and unicodedata.category(cur[-1]) == "Nd" and _script_class(nxt) == kind):
            cur.append(ch)  # 3.5 1,000 10:30
            continue
        if ch in _SIGNS and digit_next and (not cur or kind == _PUNCT):
            flush()  # a signed number: -4
            cur.append(ch)
            kind = _script_class(nxt)
            continue
        if cur and kind == _PUNCT and unicodedata.category(ch) in ("Po", "Pd") and all(c == ch for c in cur):
            cur.append(ch)  # ... !!! --
            continue
        if len(cur) == 1 and _is_regional(cur[0]) and _is_regional(ch):
            cur.append(ch)  # a flag: two regional indicators
            continue
        flush()
        cur.append(ch)
        kind = _PUNCT
    flush()


def _chunks(text: str) -> list[str]:
    """The text cut at separators (rule 1)."""
    chunks: list[str] = []
    start = None
    for i, ch in enumerate(text):
        if is_separator(ch):
            if start is not None:
                chunks.append(text[start:i])
                start = None
        elif start is None:
            start = i
    if start is not None:
        chunks.append(text[start:])
    return chunks


def _strip_url(url: str) -> str:
    """Drop closing punctuation at the end of a URL, but not a ``)`` that closes a ``(`` in it."""
    while url and url[-1] in _URL_TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _tokens(text: str) -> list[tuple[str, str]]:
    """The text as (token, kind) pairs before segmentation; URLs and e-mails have kind "url"."""
    out: list[tuple[str, str]] = []
    for chunk in _chunks(text):
        pos = 0
        for m in _URL_OR_EMAIL.finditer(chunk):
            start = m.start()
            url = m.group()
            if "@" not in url:
                url = _strip_url(url)
                if len(url) < 5 or (start > 0 and _is_word_char(chunk[start - 1])):
                    continue  # "www." alone, or glued to a word before it ("xhttp://")
            _scan(chunk[pos:start], out)
            out.append((url, "url"))
            pos = start + len(url)
        _scan(chunk[pos:], out)
    return out


# --------------------------------------------------------------------------- fallback rules
_THAI_PREPOSED = frozenset("\u0e40\u0e41\u0e42\u0e43\u0e44\u0ec0\u0ec1\u0ec2\u0ec3\u0ec4")
_THAI_FOLLOWING = frozenset("\u0e30\u0e32\u0e33\u0e45\u0eb0\u0eb2\u0eb3")
_COENG = "\u17d2"


def _clusters(run: str) -> list[str]:
    """Thai, Lao and Khmer character clusters (see the module docstring)."""
    out: list[str] = []
    cur = ""
    pending = ""  # preposed vowels waiting for their consonant
    for ch in run:
        if pending:
            cur, pending = pending + ch, ""
            if ch in _THAI_PREPOSED:
                pending, cur = cur, ""
            continue
        # after a ZWJ the next character joins, whatever it is (as in _scan and _characters)
        if cur and (_joins_previous(ch) or ch in _THAI_FOLLOWING or cur[-1] in (_COENG, _ZWJ)):
            cur += ch
            continue
        if cur:
            out.append(cur)
            cur = ""
        if ch in _THAI_PREPOSED:
            pending = ch
        else:
            cur = ch
    if pending:
        cur += pending
    if cur:
        out.append(cur)
    return out


def _characters(run: str) -> list[str]:
    """One word per character, combining marks (and the like) kept with their base (CJK)."""
    out: list[str] = []
    glue = False
    for ch in run:
        if out and (glue or _joins_previous(ch)):
            out[-1] += ch
        else:
            out.append(ch)
        glue = ch == _ZWJ
    return out


_MY_CONSONANT = "\u1000-\u1021"
_MY_BREAK = re.compile(
    rf"(?:(?<!\u1039)[{_MY_CONSONANT}](?![\u103a\u1039])"
    r"|[\u1023-\u102a\u103f\u104c-\u104f\u1040-\u1049\u104a\u104b]"
    r"|[^\u1000-\u109f\ua9e0-\ua9ff\uaa60-\uaa7f])"
)


def _myanmar_syllables(run: str) -> list[str]:
    """Burmese syllables by the sylbreak rule (a break before each match of ``_MY_BREAK``)."""
    cuts = [m.start() for m in _MY_BREAK.finditer(run) if m.start() > 0]
    bounds = [0, *cuts, len(run)]
    return [run[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if a < b]


# --------------------------------------------------------------------------- segmenters
@dataclass(frozen=True)
class Segmenter:
    """A word segmenter for one language written without spaces.

    Attributes:
        lang: ISO 639-3 code (``'tha'``); the key in :data:`SEGMENTERS`.
        name: the language's English name.
        tool: what segments it, in words (``'pythainlp word_tokenize, engine newmm'``).
        package: the PyPI package to install, or ``None`` for a built-in rule.
        modules: the modules that must be importable for the tool to be used.
        fallback_rule: what happens without the tool, in words.
        load: returns the segmenting function (``str -> list[str]``); may raise.
        fallback: the rule used without the tool (or with ``segmenter="none"``).
    """

    lang: str
    name: str
    tool: str
    package: str | None
    modules: tuple[str, ...]
    fallback_rule: str
    load: Callable[[], Callable[[str], list[str]]]
    fallback: Callable[[str], list[str]]


def _load_thai() -> Callable[[str], list[str]]:
    from pythainlp.tokenize import word_tokenize  # optional dependency: imported when its language is met

    return lambda run: word_tokenize(run, engine="newmm", keep_whitespace=False)


def _load_chinese() -> Callable[[str], list[str]]:
    import jieba  # optional dependency: imported when its language is met

    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter
    tok = jieba.Tokenizer()
    return lambda run: tok.lcut(run, HMM=True)


def _load_japanese() -> Callable[[str], list[str]]:
    import fugashi  # optional dependency: imported when its language is met
    import unidic_lite  # optional dependency: imported when its language is met

    tagger = fugashi.Tagger(f'-r "{unidic_lite.DICDIR}/mecabrc" -d "{unidic_lite.DICDIR}"')
    return lambda run: [w.surface for w in tagger(run)]


def _load_khmer() -> Callable[[str], list[str]]:
    # khmer-nltk sets its logger to DEBUG and logs its model path at INFO while being imported
    logging.getLogger("khmer-nltk").addFilter(lambda record: record.levelno >= logging.WARNING)
    from khmernltk import word_tokenize  # optional dependency: imported when its language is met

    return lambda run: word_tokenize(run)


def _load_lao() -> Callable[[str], list[str]]:
    from laonlp.tokenize import word_tokenize  # optional dependency: imported when its language is met

    return lambda run: word_tokenize(run)


def _load_myanmar() -> Callable[[str], list[str]]:
    return _myanmar_syllables


_CLUSTERS = "one word per character cluster (a letter with its vowel signs and tone marks)"

#: Word segmenters by ISO 639-3 code.
SEGMENTERS: dict[str, Segmenter] = {
    s.lang: s
    for s in (
        Segmenter("tha", "Thai", "pythainlp word_tokenize, engine newmm", "pythainlp", ("pythainlp",),
                  _CLUSTERS, _load_thai, _clusters),
        Segmenter("zho", "Chinese", "jieba (lcut, HMM on)", "jieba", ("jieba",),
                  "one word per Han character", _load_chinese, _characters),
        Segmenter("jpn", "Japanese", "fugashi (MeCab) with the unidic-lite dictionary",
                  "fugashi unidic-lite", ("fugashi", "unidic_lite"),
                  "one word per Han or kana character", _load_japanese, _characters),
        Segmenter("khm", "Khmer", "khmer-nltk word_tokenize", "khmer-nltk", ("khmernltk",),
                  _CLUSTERS, _load_khmer, _clusters),
        Segmenter("lao", "Lao", "laonlp word_tokenize", "laonlp", ("laonlp",),
                  _CLUSTERS, _load_lao, _clusters),
        Segmenter("mya", "Burmese", "built-in syllable breaking (sylbreak rule)", None, (),
                  "syllables", _load_myanmar, _myanmar_syllables),
    )
}

_CHINESE = frozenset({"zho", "yue", "wuu", "hak", "nan", "gan", "hsn", "cjy", "cdo", "cpx", "czh",
                      "czo", "mnp", "lzh", "cnp", "csp"})


def available_segmenters() -> dict[str, bool]:
    """Which segmenters of :data:`SEGMENTERS` can be used here, by ISO 639-3 code.

    ``True`` when every module the tool needs can be found (nothing is imported; a package that
    is installed but broken shows as available and falls back, with a warning, on first use);
    the built-in Burmese rule is always ``True``. Example: ``{'tha': True, 'zho': True,
    'jpn': False, 'khm': False, 'lao': False, 'mya': True}``.
    """
    return {code: all(importlib.util.find_spec(m) is not None for m in s.modules)
            for code, s in SEGMENTERS.items()}


_WARNED: set[str] = set()


@lru_cache(maxsize=None)
def _segment_fn(code: str) -> Callable[[str], list[str]] | None:
    """The loaded tool for a language, or ``None`` (after one warning) when it cannot be had."""
    seg = SEGMENTERS[code]
    try:
        return seg.load()
    except Exception as exc:  # ImportError, or a tool that fails to start (no dictionary, ...)
        if code not in _WARNED:
            _WARNED.add(code)
            why = "is not installed" if isinstance(exc, ImportError) else f"failed to load ({exc})"
            warnings.warn(
                f"no {seg.name} word segmenter: {seg.package} {why}; {seg.name} text is split "
                f"by a fallback rule ({seg.fallback_rule}) instead. Install it with "
                f"{INSTALL_HINT} (or pip install {seg.package}).",
                SegmenterWarning, stacklevel=4)
        log.debug("%s segmenter unavailable: %r", seg.name, exc)
        return None


def _segment(run: str, code: str, use_tools: bool) -> list[str]:
    seg = SEGMENTERS[code]
    fn = _segment_fn(code) if use_tools else None
    if fn is not None:
        try:
            words = [w for w in fn(run) if w]
        except Exception as exc:  # a tool crashing on odd input must not crash the caller
            log.debug("%s segmenter failed on %r: %r", seg.name, run, exc)
        else:
            if "".join(words) == run:
                return words
            log.debug("%s segmenter changed the text of %r: %r", seg.name, run, words)
    return seg.fallback(run)


def _lang_preference(lang: str | None) -> str | None:
    """``'jpn'`` or ``'zho'`` when ``lang`` decides the segmenter of Han/kana runs, else ``None``."""
    if lang is None:
        return None
    code, script = iso639_3(lang), script_of(lang)  # raises UnknownLanguageError
    if code == "jpn" or script in ("Jpan", "Hira", "Kana", "Hrkt"):
        return "jpn"
    if code in _CHINESE:
        return "zho"
    return None


def split_words(text: str, lang: str | None = None, *, segmenter: str = "auto") -> list[str]:
    """Split raw text into words, in any script (the rules are in the module docstring).

    Args:
        text: raw text (one sentence or more; line breaks are whitespace).
        lang: the text's language in any form :func:`xlt.data.langs.iso639_3` reads
            (``'th'``, ``'tha_Thai'``, ``'zh'``, ``'zho_Hant'``, ``'ja'``), or ``None``. It only
            matters for Han/kana runs: Japanese or Chinese segmenter. Without it the text
            decides (kana anywhere -> Japanese, else Chinese).
        segmenter: ``'auto'`` (default): the tools of :data:`SEGMENTERS` where installed,
            fallback rules elsewhere; ``'none'``: fallback rules only, so the result is the
            same on every machine (no optional package is imported, no warning is issued).

    Returns:
        The words, in order: non-empty substrings of ``text`` without separators; their
        concatenation is ``text`` without its separators (see :func:`is_separator`).
        Whitespace-only or empty text gives ``[]``.

    Raises:
        ValueError: an unknown ``segmenter``.
        xlt.data.langs.UnknownLanguageError: ``lang`` is not a known language code.
        TypeError: ``text`` is not a string.

    Warns:
        SegmenterWarning: once per language and process, when text needs a segmenter whose
            package is not installed (only with ``segmenter='auto'``).

    >>> split_words("It costs $3.50, ok?")
    ['It', 'costs', '$', '3.50', ',', 'ok', '?']
    >>> split_words("Tokyo 東京 2020", segmenter="none")
    ['Tokyo', '東', '京', '2020']
    """
    if segmenter not in ("auto", "none"):
        raise ValueError(f"unknown segmenter {segmenter!r}; choose 'auto' or 'none'")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    use_tools = segmenter == "auto"
    cjk_code = _lang_preference(lang)
    out: list[str] = []
    for tok, kind in _tokens(text):
        if kind not in _SPACELESS:
            out.append(tok)
            continue
        if kind == _CJK:
            if cjk_code is None:  # the text decides, once
                cjk_code = "jpn" if any(_is_kana(ord(ch)) for ch in text) else "zho"
            code = cjk_code
        else:
            code = _SCRIPT_LANG[kind]
        out.extend(_segment(tok, code, use_tools))
    return out


def word_spans(text: str, words: list[str]) -> list[tuple[int, int]]:
    """Character offsets ``(start, end)`` of each word of :func:`split_words` in ``text``.

    Works for any list of words that are, in order, substrings of ``text`` separated only by
    separator characters (what :func:`split_words` returns).

    Raises:
        ValueError: a word is not found where it should be.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for w in words:
        start = text.find(w, pos)
        if start < 0 or any(not is_separator(ch) for ch in text[pos:start]):
            raise ValueError(f"word {w!r} does not follow offset {pos} of the text")
        pos = start + len(w)
        spans.append((start, pos))
    return spans


def _spaceless(ch: str) -> bool:
    return _is_word_char(ch) and _script_class(ch) in _SPACELESS


def join_words(words: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Words as running text, for the ``text`` setting.

    A sentence with no character of a script written without spaces (Han/kana, Thai, Lao, Khmer,
    Myanmar) is joined with single spaces. One with such characters is joined without spaces,
    except between two letters/digits of other scripts (``['東京', 'で', 'New', 'York', '。']`` →
    ``'東京でNew York。'``).

    Returns:
        ``(text, spans)``: the text and each word's ``(start, end)`` character offsets.
    """
    spaceless = any(_spaceless(ch) for w in words for ch in w)
    text, spans = "", []
    for w in words:
        if text and w:
            left, right = text[-1], w[0]
            if not spaceless or (_is_word_char(left) and _is_word_char(right)
                                 and not _spaceless(left) and not _spaceless(right)):
                text += " "
        spans.append((len(text), len(text) + len(w)))
        text += w
    return text, spans
