"""Language-code normalisation: the one place in ``xlt`` that interprets language codes.

Data sets name their languages in different ways: XTREME (``udpos``, ``panx``) uses ISO 639-1
codes (``de``, ``zh``), SIB-200/FLORES-200 uses ``<ISO 639-3>_<ISO 15924 script>`` (``deu_Latn``,
``zho_Hans``), users type BCP 47 tags (``de-DE``, ``zh-Hant``). Every code is parsed with
:mod:`langcodes` (offline, data from ``language-data``) after replacing ``_`` by ``-``, so case
and separator do not matter and CLDR aliases apply (``iw`` = ``he``, ``in`` = ``id``,
``tl``/``tgl`` = ``fil``, ``mo`` = ``ro``).

Macrolanguages
--------------
ISO 639-3 splits some languages into a *macrolanguage* (``zho`` Chinese, ``ara`` Arabic,
``fas`` Persian, ``swa`` Swahili, ``msa`` Malay, ``est`` Estonian, ...) and its *individual*
languages (``cmn`` Mandarin, ``yue`` Cantonese, ``arb`` Standard Arabic, ``ary`` Moroccan
Arabic, ...). Following CLDR (``langcodes.Language.prefer_macrolanguage``), the *dominant*
individual language is identified with its macrolanguage and every other member keeps its own
code::

    zh, zho, cmn, zho_Hans, cmn_Hans  -> 'zho'
    ar, ara, arb, arb_Arab            -> 'ara'
    sw, swa, swh_Latn                 -> 'swa'
    yue_Hant                          -> 'yue'   (Cantonese is not "Chinese" here)
    acm_Arab, ary_Arab                -> 'acm', 'ary'

So ``same_language('zh', 'cmn')`` is true, ``same_language('zh', 'yue')`` is false, and the
FLORES ``arb_Arab`` folder is what an XTREME ``ar`` file is matched against.

Unknown codes
-------------
A code is *known* when it is a well-formed tag whose language subtag is a registered language
(not ``und``, ``mis``, ``mul``, ``zxx`` or the private-use range ``qaa``-``qtz``). Anything else
raises :class:`UnknownLanguageError`. Language *names* (``German``) are not codes; only
:func:`resolve_language`, for languages users type (``--eval German=FILE``), turns a name into its
code, and suggests the nearest known codes and names for anything it cannot resolve.

All per-code work is cached with :func:`functools.lru_cache`, so calling these functions once
per file or per example is cheap.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterable, Mapping
from functools import lru_cache

import langcodes
from langcodes import Language

from xlt.core.errors import XltError

# Language subtags that are valid BCP 47 but do not denote one language.
_NON_LANGUAGES = frozenset({"und", "mis", "mul", "zxx"})


class UnknownLanguageError(XltError, ValueError):
    """A language code that is not known, or that no available code matches.

    Attributes:
        code: the code that was requested.
        available: the codes that were on offer (empty when the code itself is unknown).
        suggestions: known codes near the requested one (:func:`suggest_languages`), for
            :func:`resolve_language`; empty elsewhere.
    """

    def __init__(self, code: str, message: str, available: Iterable[str] = (),
                 suggestions: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.available = tuple(available)
        self.suggestions = tuple(suggestions)


class AmbiguousLanguageError(UnknownLanguageError):
    """The requested code matches several available codes equally well.

    Subclass of :class:`UnknownLanguageError` so that callers that only care whether a code
    could be resolved to exactly one available code catch both. ``candidates`` holds the
    matching codes.
    """

    def __init__(
        self, code: str, message: str, available: Iterable[str], candidates: Iterable[str]
    ) -> None:
        super().__init__(code, message, available)
        self.candidates = tuple(candidates)


def _clean(code: str) -> str:
    """Strip whitespace and use ``-`` as the subtag separator."""
    return code.strip().replace("_", "-")


@lru_cache(maxsize=4096)
def _parse(code: str) -> Language:
    """Parse a code into a normalised :class:`langcodes.Language`.

    Raises:
        UnknownLanguageError: malformed tag or a language subtag that names no language.
    """
    if not isinstance(code, str):
        raise TypeError(f"language code must be a str, got {type(code).__name__}")
    cleaned = _clean(code)
    try:
        lang = Language.get(cleaned)
    except (langcodes.LanguageTagError, ValueError) as exc:
        raise UnknownLanguageError(code, f"{code!r} is not a language code ({exc})") from exc
    sub = lang.language
    if (
        sub is None
        or not lang.is_valid()
        or sub in _NON_LANGUAGES
        or (len(sub) == 3 and "qaa" <= sub <= "qtz")
    ):
        raise UnknownLanguageError(code, f"{code!r} is not a known language code")
    try:
        lang.prefer_macrolanguage().to_alpha3()
    except LookupError as exc:
        raise UnknownLanguageError(code, f"{code!r} is not a known language code") from exc
    return lang


@lru_cache(maxsize=4096)
def iso639_3(code: str) -> str:
    """ISO 639-3 code of the language a code denotes, macrolanguage-aware.

    The dominant member of a macrolanguage maps to the macrolanguage (``cmn`` -> ``zho``,
    ``arb`` -> ``ara``); other members keep their own code (``yue`` -> ``yue``). Script and
    region are ignored. See the module docstring for the rules.

    Args:
        code: ISO 639-1/2/3 code, BCP 47 tag or FLORES-style code (``deu_Latn``); case and
            ``-``/``_`` do not matter.

    Returns:
        Three lower-case letters, e.g. ``'deu'`` for ``'de'``, ``'de-DE'`` and ``'deu_Latn'``;
        ``'zho'`` for ``'zh'``, ``'zho_Hans'`` and ``'cmn'``.

    Raises:
        UnknownLanguageError: the code is malformed or names no known language.
    """
    return _parse(code).prefer_macrolanguage().to_alpha3()


@lru_cache(maxsize=4096)
def script_of(code: str) -> str | None:
    """The script a code states explicitly, or ``None``.

    Only an explicit script subtag counts (after CLDR alias normalisation, which turns ``sh``
    into ``sr-Latn``); the *likely* script (Hans for ``zh-CN``) is not filled in.

    Args:
        code: a language code (see :func:`iso639_3`).

    Returns:
        An ISO 15924 code in title case (``'Latn'``, ``'Hans'``), or ``None``.

    Raises:
        UnknownLanguageError: the code is malformed or names no known language.
    """
    return _parse(code).script


@lru_cache(maxsize=4096)
def likely_script(code: str) -> str | None:
    """Explicit script, else the CLDR likely script (``zh`` -> Hans, ``sr`` -> Cyrl)."""
    lang = _parse(code)
    return lang.script or lang.maximize().script


#: ISO 639-3 codes (macrolanguage-aware, as :func:`iso639_3` gives them) of Indo-European
#: languages, for :func:`is_distant`. Covers the languages of XTREME, SIB-200's Europe and South
#: Asia and NTREX-128; a code missing here counts as non-Indo-European.
INDO_EUROPEAN = frozenset("""
afr als arg asm ast awa bel ben bho bos bre bul cat ces ckb cos cym dan deu div ell eng fao fas fra
fry fur gla gle glg guj hat hin hne hrv hsb hye isl ita kas kmr kur lat lav lij lim lit lmo ltz mag
mai mar mkd mwr nep nld nno nob nor oci ori pan pap pbt pes plt pol por prs pus roh ron rus san scn
sin slk slv snd spa sqi srd srp swe tgk tpi ukr urd vec wln yid zza
""".split()) - {"plt", "tpi", "pap", "hat"}  # Malagasy (Austronesian) and creoles stay out


def is_distant(code: str, source: str = "eng") -> bool:
    """Whether a language is *distant* from an Indo-European, Latin-script source (English).

    The rule of the alignment comparisons (Kulshreshtha et al. 2020 call these "distant and
    typologically dissimilar"): a language is distant when it is not Indo-European or is not
    written in the source's (likely) script. So German and Portuguese are close; Russian
    (Cyrillic), Hindi (Devanagari), Finnish (Uralic), Turkish, Chinese, Arabic are distant.

    Raises:
        UnknownLanguageError: an unknown code.
    """
    return iso639_3(code) not in INDO_EUROPEAN or likely_script(code) != likely_script(source)


@lru_cache(maxsize=4096)
def language_name(code: str) -> str:
    """English display name of a code.

    Args:
        code: a language code (see :func:`iso639_3`).

    Returns:
        The CLDR English name with script/region details when the code states them and they
        are not the default, e.g. ``'German'`` for ``'de'`` and ``'deu_Latn'``,
        ``'German (Germany)'`` for ``'de-DE'``, ``'Chinese (Simplified)'`` for ``'zho_Hans'``,
        ``'Acehnese (Arabic)'`` for ``'ace_Arab'``.

    Raises:
        UnknownLanguageError: the code is malformed or names no known language.
    """
    return _parse(code).display_name("en")


def same_language(a: str, b: str) -> bool:
    """Whether two codes denote the same language (script and region ignored).

    Equivalent to ``iso639_3(a) == iso639_3(b)``: ``('de', 'deu_Latn')``, ``('zh', 'cmn')`` and
    ``('zho_Hans', 'zho_Hant')`` are the same language; ``('zh', 'yue')`` and
    ``('ar', 'ary_Arab')`` are not.

    Raises:
        UnknownLanguageError: either code is malformed or names no known language.
    """
    return iso639_3(a) == iso639_3(b)


def denote_same(a: str, b: str) -> bool:
    """Whether two codes are equal or denote the same language (:func:`same_language`); a code that
    is no known language only equals itself (folder names, custom codes). Never raises."""
    if a == b:
        return True
    try:
        return same_language(a, b)
    except UnknownLanguageError:
        return False


def describe_codes(codes: Iterable[str]) -> str:
    """Human-readable list of codes with their names, for messages and reports.

    Args:
        codes: language codes; codes that are not known get the name ``?``.

    Returns:
        e.g. ``'de (German), zho_Hans (Chinese (Simplified))'``; ``'(none)'`` when empty.
    """
    parts = [f"{c} ({name})" for c, name in names_for(codes).items()]
    return ", ".join(parts) if parts else "(none)"


def _key(code: str) -> str:
    """Case- and separator-insensitive form of a code, for exact comparisons."""
    return _clean(code).lower()


def match_language(
    requested: str, available: Iterable[str], *, context: str | None = None
) -> str:
    """Pick the available code that denotes the requested language.

    Rules, in order:

    1. a code equal to ``requested`` up to case and ``-``/``_`` wins outright (this is also how
       codes that are not language codes, such as custom folder names, can be selected);
    2. otherwise the candidates are the available codes with the same language
       (:func:`same_language`) whose script agrees where *both* codes state one
       (``jpn_Jpan`` matches ``ja``; ``zho_Hant`` does not match ``zho_Hans``);
    3. several candidates are narrowed, each step applied only if it keeps at least one:
       same script, using likely scripts for codes that state none (``zh`` prefers
       ``zho_Hans`` over ``zho_Hant``, ``ar`` prefers ``arb_Arab`` over ``arb_Latn``); same
       region, none counting as a value (``de`` prefers ``de`` over ``de-AT``; ``fa``
       prefers ``pes_Arab`` over ``prs_Arab``, which CLDR reads as ``fa-Arab-AF``); same
       language subtag (``zh`` prefers ``zho_Hans`` over ``cmn_Hans``).

    Available codes that are not known language codes are ignored by steps 2-3.

    Args:
        requested: the code a user asked for.
        available: the codes on offer, e.g. a data set's language keys.
        context: optional prefix for error messages (e.g. ``"udpos training data"``).

    Returns:
        The matching element of ``available``, unchanged.

    Raises:
        UnknownLanguageError: ``requested`` is not a known code, or nothing matches; the
            message lists the available codes with their names.
        AmbiguousLanguageError: several codes remain after narrowing (e.g. ``pt`` against
            ``pt-BR`` and ``pt-PT``); the message lists them.
    """
    avail = list(dict.fromkeys(available))
    prefix = f"{context}: " if context else ""
    req_key = _key(requested)
    for code in avail:
        if _key(code) == req_key:
            return code
    try:
        req = _parse(requested)
        req_lang3 = iso639_3(requested)
    except UnknownLanguageError as exc:
        raise UnknownLanguageError(
            requested, f"{prefix}{exc}; available: {describe_codes(avail)}", avail
        ) from exc

    candidates: list[str] = []
    for code in avail:
        try:
            if iso639_3(code) != req_lang3:
                continue
            cand_script = script_of(code)
        except UnknownLanguageError:
            continue
        if req.script and cand_script and req.script != cand_script:
            continue
        candidates.append(code)

    if not candidates:
        raise UnknownLanguageError(
            requested,
            f"{prefix}no available language matches {requested!r} "
            f"({language_name(requested)}); available: {describe_codes(avail)}",
            avail,
        )

    req_script = likely_script(requested)
    narrowing = (
        lambda c: likely_script(c) == req_script,
        lambda c: _parse(c).territory == req.territory,
        lambda c: _parse(c).language == req.language,
    )
    for keep in narrowing:
        if len(candidates) == 1:
            break
        narrowed = [c for c in candidates if keep(c)]
        if narrowed:
            candidates = narrowed
    if len(candidates) > 1:
        raise AmbiguousLanguageError(
            requested,
            f"{prefix}{requested!r} ({language_name(requested)}) is ambiguous: it matches "
            f"{describe_codes(candidates)}; ask for one of them exactly",
            avail,
            candidates,
        )
    return candidates[0]


@lru_cache(maxsize=1)
def _suggestion_pool() -> dict[str, str]:
    """Lower-case keys users might mean -> two-letter code: for every language with an ISO 639-1 code
    (183), the code itself, its three-letter code and its English name (``deu``/``german`` -> ``de``)."""
    pool: dict[str, str] = {}
    for a in string.ascii_lowercase:
        for b in string.ascii_lowercase:
            code = a + b
            lang = Language.get(code)
            if not lang.is_valid() or lang.language != code:  # unassigned, or an alias (iw -> he)
                continue
            try:
                name = language_name(code)
                alpha3 = lang.to_alpha3()
            except (UnknownLanguageError, LookupError):
                continue
            for key in (code, alpha3, name.lower()):
                pool.setdefault(key, code)
    return pool


def suggest_languages(text: str, n: int = 3) -> list[str]:
    """Known language codes near something that is neither a code nor a language name.

    Close matches (:func:`difflib.get_close_matches`, ratio >= 0.6) among the codes and English
    names of the languages with a two-letter code (``Gernan`` -> ``de``, ``englsh`` -> ``en``);
    failing that, the codes that share a letter at least (ratio >= 0.3: ``qqq`` -> ``sq``, ``qu``). A
    code whose language part is known but whose script or region is not (``deu_Latm``) gets that
    language and its likely script, spelled the same way (``deu``, ``deu_Latn``).

    Args:
        text: what the user typed.
        n: at most this many codes.

    Returns:
        Codes, nearest first (two-letter codes, or the user's own spelling for the case of a bad
        subtag); empty when nothing is near.
    """
    typed = text.strip()
    out: list[str] = []
    parts = re.split(r"[-_]", typed)
    if len(parts) > 1 and parts[0]:
        try:
            iso639_3(parts[0])
        except UnknownLanguageError:
            pass
        else:
            out.append(parts[0])
            script = likely_script(parts[0])
            sep = "_" if "_" in typed else "-"
            if script and f"{parts[0]}{sep}{script}" != typed:
                out.append(f"{parts[0]}{sep}{script}")
    pool = _suggestion_pool()
    key = typed.lower()
    near = difflib.get_close_matches(key, list(pool), n=4 * n, cutoff=0.6)
    if not near and not out:
        codes = [k for k in pool if len(k) <= 3]
        near = difflib.get_close_matches(key, codes, n=4 * n, cutoff=0.3)
    out.extend(pool[k] for k in near)
    return list(dict.fromkeys(out))[:n]


def resolve_language(text: str, context: str | None = None) -> str:
    """The language code for a language a user named: a code (kept as typed) or a language name.

    ``LANG`` of ``--eval LANG=FILE`` (and ``--train``/``--dev LANG=FILE``) may be any known code
    (``de``, ``deu``, ``deu_Latn``, ``pt-BR``), kept as written so reports use the user's spelling,
    or a language name, which :func:`langcodes.find` turns into its code (``German``, ``indonesian``,
    ``Deutsch`` -> ``de``, ``id``, ``de``); reports then show the code and its English name
    (:func:`language_name`). A code wins over a name (``ewe`` is the code of Ewe).

    Args:
        text: what the user typed.
        context: a prefix for the error message (the option value, ``"qqq=test.tsv"``).

    Returns:
        The code: ``text`` stripped when it is a known code, else the BCP 47 tag of the named
        language (``'de'``, ``'id'``, ``'zh-Hant'`` for ``Chinese (Traditional)``).

    Raises:
        UnknownLanguageError: neither a known code nor a language name; the message suggests
            the nearest known codes (:func:`suggest_languages`, also in ``suggestions``) and says
            what forms are accepted.
    """
    if not isinstance(text, str):
        raise TypeError(f"language must be a str, got {type(text).__name__}")
    typed = text.strip()
    try:
        _parse(typed)
        return typed
    except UnknownLanguageError as exc:
        error = exc
    found = None
    if typed and not any(ch.isdigit() for ch in typed):
        try:
            found = langcodes.find(typed)
        except (LookupError, ValueError, ImportError):  # no such name; language_data missing
            found = None
    if found is not None:
        code = found.to_tag()
        try:
            _parse(code)
            return code
        except UnknownLanguageError:
            pass
    near = suggest_languages(typed)
    prefix = f"{context}: " if context else ""
    hint = f" (nearest known: {describe_codes(near)})" if near else ""
    raise UnknownLanguageError(
        text,
        f"{prefix}{typed!r} is not a known language code or language name{hint}; give an ISO 639 code "
        f"(de, deu), a FLORES-200 code (deu_Latn) or an English language name (German)",
        suggestions=near,
    ) from error


def names_for(codes: Iterable[str]) -> Mapping[str, str]:
    """Map each code to its English name (``'?'`` for codes that are not known).

    Args:
        codes: language codes.

    Returns:
        ``{code: name}`` in the input order.
    """
    out: dict[str, str] = {}
    for c in codes:
        try:
            out[c] = language_name(c)
        except UnknownLanguageError:
            out[c] = "?"
    return out
