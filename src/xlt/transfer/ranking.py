"""Choosing the source language: features of (source, target) pairs and a learned ranker.

LangRank (Lin et al. 2019, "Choosing Transfer Languages for Cross-Lingual Learning") ranks
candidate source languages for a target with gradient-boosted trees trained with the lambdarank
objective on observed transfer scores, from features of the pair: typological distances from
URIEL (Littell et al. 2017, through ``lang2vec``), the overlap of the two languages' subword
vocabularies, whether they share a script, and how much training data the source has. xlt
learns the same from transfer matrices (:mod:`xlt.jobs.matrix`) and evaluates it leave one
target out: the ranker never sees the target's column it ranks for.

URIEL distances here are cosine distances between the languages' URIEL vectors: ``syntax_knn``,
``phonology_knn``, ``inventory_knn`` (missing values k-NN-imputed by URIEL), ``fam`` (membership
in every language family: genetic), ``geo`` (distances to fixed points on the globe:
geographic), and the three typological vectors concatenated (featural).
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xlt.core.errors import XltError

#: URIEL distance name -> lang2vec feature set(s) whose vectors' cosine distance it is.
URIEL_DISTANCES: dict[str, tuple[str, ...]] = {
    "syntactic": ("syntax_knn",),
    "phonological": ("phonology_knn",),
    "inventory": ("inventory_knn",),
    "genetic": ("fam",),
    "geographic": ("geo",),
    "featural": ("syntax_knn", "phonology_knn", "inventory_knn"),
}
#: The pair features every ranking has, in the ranker's column order.
FEATURES: tuple[str, ...] = tuple(f"uriel_{k}" for k in URIEL_DISTANCES) + (
    "subword_overlap", "same_script", "log_train_size")
#: The features of the shipped rankers (:func:`shipped_ranker`): those any two languages have without
#: a transfer matrix -- URIEL distances, and the subword overlap and script of their text. The
#: source's training size and dev score are left out: the matrices they are trained on give every
#: source the same amount of data, so they could not learn what those are worth.
SHIPPED_FEATURES: tuple[str, ...] = tuple(f"uriel_{k}" for k in URIEL_DISTANCES) + ("subword_overlap", "same_script")
#: The source prior a shipped ranker may add to :data:`SHIPPED_FEATURES`: a source's mean rank
#: percentile over the targets of its training matrices (1 = always the best source); a candidate
#: outside them gets the median (``rankers.json`` holds the values).
SOURCE_PRIOR = "source_prior"
#: Task kinds of the shipped rankers -> the built-in tasks whose matrices train them (``general``: all).
RANKER_KINDS: dict[str, tuple[str, ...]] = {"pos": ("udpos",), "ner": ("panx",), "classification": ("sib200",),
                                            "general": ("udpos", "panx", "sib200")}
#: Where the shipped rankers live (LightGBM text models and ``rankers.json``, their provenance).
RANKERS_DIR = Path(__file__).resolve().parent / "rankers"
#: Features a ranking has when their inputs are there: the source model's score on its own dev set
#: (from the matrix); from an ``xlt analyze`` report on parallel text, the mPLM-Sim similarity of
#: source and target (Lin et al. 2023) and the source's MEXA alignment with the pivot (Kargaran et
#: al. 2024).
OPTIONAL_FEATURES: tuple[str, ...] = ("source_dev", "mplm_sim", "mexa_source")


#: ISO 639-3 macrolanguages URIEL lacks -> the individual language it describes them by (the one
#: the benchmark sets mean: Modern Standard Arabic, Mandarin, Iranian Persian, ...).
URIEL_INDIVIDUAL: dict[str, str] = {
    "ara": "arb", "zho": "cmn", "fas": "pes", "msa": "zsm", "swa": "swh", "uzb": "uzn", "aze": "azj",
    "que": "quy", "orm": "gaz", "sqi": "als", "fil": "tgl", "lvs": "lav", "npi": "nep", "ory": "ori",
    "mon": "khk", "pbt": "pst", "pus": "pst", "kau": "knc", "kon": "kng", "din": "dik", "grn": "gug",
    "nno": "nor", "srd": "sro",
}


def in_uriel(iso3: str) -> bool:
    """Whether URIEL (lang2vec) has the language (after :func:`uriel_code`)."""
    return uriel_code(iso3) in _uriel_languages()


def uriel_code(iso3: str) -> str:
    """The URIEL code of an ISO 639-3 code (macrolanguages mapped by :data:`URIEL_INDIVIDUAL`)."""
    return URIEL_INDIVIDUAL.get(iso3, iso3)


class RankingError(XltError, ValueError):
    """A ranking that cannot be made as asked: a language missing from URIEL, too few sources."""


def _lang2vec():
    """The ``lang2vec.lang2vec`` module.

    lang2vec also installs a script ``lang2vec.py`` next to the ``xlt`` console script, and the
    script's folder comes first on ``sys.path`` there, so a plain import would find the script;
    folders holding such a file are left out of the path while the package is imported.
    """
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if not os.path.isfile(os.path.join(p or os.curdir, "lang2vec.py"))]
    try:
        with warnings.catch_warnings():  # lang2vec imports pkg_resources, which warns on import
            warnings.simplefilter("ignore")
            import lang2vec.lang2vec as l2v  # lazy: loads its URIEL tables (see above)
    finally:
        sys.path[:] = saved
    return l2v


@functools.lru_cache(maxsize=1)
def _uriel_languages() -> frozenset[str]:
    """The languages URIEL has (lang2vec computes them on import: its ``URIEL_LANGUAGES``)."""
    return frozenset(_lang2vec().URIEL_LANGUAGES)


@functools.lru_cache(maxsize=None)
def _uriel_table(feature_set: str) -> tuple[dict[str, int], np.ndarray]:
    """One lang2vec feature set for every URIEL language: ``(language -> row, (n_languages, n_features))``,
    missing values (-1) as they are. Read from lang2vec's own data file once per process, the way
    ``lang2vec.get_features`` reads it (it re-reads and decompresses the whole file for every call:
    about 5 s a call here); ``tests/test_shipped_rankers.py`` checks the values against it."""
    l2v = _lang2vec()
    filename, source, prefix = l2v.FEATURE_SETS_DICT[feature_set]
    with np.load(os.path.join(os.path.dirname(l2v.__file__), "data", filename)) as db:
        langs, feats, sources = db["langs"], db["feats"], db["sources"]
        columns = [i for i, f in enumerate(feats) if str(f).startswith(prefix)]
        source_index = np.where(sources == source)[0]
        data = db["data"][:, columns, :][:, :, source_index].squeeze(axis=2)
    return {str(l): i for i, l in enumerate(langs)}, np.asarray(data, dtype=float)


def uriel_vectors(languages: Iterable[str], feature_set: str) -> dict[str, np.ndarray]:
    """lang2vec's ``get_features(languages, feature_set)`` as float vectors (missing values 0).

    Args:
        languages: ISO 639-3 codes that URIEL has (after :func:`uriel_code`).
        feature_set: a lang2vec feature set (``syntax_knn``, ``fam``, ``geo``, ...).

    Returns:
        language (as given) -> ``(n_features,)`` vector.
    """
    rows, data = _uriel_table(feature_set)
    out = {}
    for lang in languages:
        vec = data[rows[uriel_code(lang)]]
        out[lang] = np.where(vec == -1.0, 0.0, vec)
    return out


def uriel_distances(languages: Iterable[str]) -> dict[tuple[str, str], dict[str, float]]:
    """URIEL distances between every two of ``languages`` (ISO 639-3 codes).

    Returns:
        ``(a, b)`` → distance name (:data:`URIEL_DISTANCES`) → cosine distance in [0, 2].

    Raises:
        RankingError: languages missing from URIEL (all named; never a silent zero).
    """
    asked = sorted(set(languages))
    code = {l: uriel_code(l) for l in asked}
    known = _uriel_languages()
    missing = [l for l in asked if code[l] not in known]
    if missing:
        raise RankingError(f"not in URIEL (lang2vec), so no typological distances: {', '.join(missing)}; "
                           "drop them from --candidates/--target")
    langs = asked
    vectors: dict[str, dict[str, np.ndarray]] = {l: {} for l in langs}
    for fs in sorted({f for sets in URIEL_DISTANCES.values() for f in sets}):
        got = uriel_vectors(langs, fs)
        for l in langs:
            vectors[l][fs] = got[l]
    out: dict[tuple[str, str], dict[str, float]] = {}
    for a in langs:
        for b in langs:
            row = {}
            for name, sets in URIEL_DISTANCES.items():
                u = np.concatenate([vectors[a][s] for s in sets])
                v = np.concatenate([vectors[b][s] for s in sets])
                nu, nv = np.linalg.norm(u), np.linalg.norm(v)
                row[name] = 1.0 - float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else 1.0
            out[(a, b)] = row
    return out


def dominant_script(texts: Iterable[str]) -> str | None:
    """The Unicode script (first word of the character names, e.g. ``LATIN``, ``CJK``) of most letters."""
    counts: Counter = Counter()
    for t in texts:
        for ch in t:
            if ch.isalpha():
                counts[unicodedata.name(ch, "UNKNOWN").split()[0]] += 1
    return counts.most_common(1)[0][0] if counts else None


def piece_set(tokenizer, texts: Sequence[str]) -> set[int]:
    """The subword piece ids ``tokenizer`` gives ``texts`` (specials left out)."""
    special = set(getattr(tokenizer, "all_special_ids", []))
    enc = tokenizer(list(texts), add_special_tokens=False, verbose=False)
    return {t for ids in enc["input_ids"] for t in ids if t not in special}


@dataclass
class LanguageProfile:
    """What the pair features need to know about one language.

    Attributes:
        code: the language code as the matrix writes it. iso3: its ISO 639-3 code.
        pieces: subword piece ids of a sample of its text. script: its dominant script.
        train_size: training sentences when it is a source (0 otherwise).
        dev_score: as a source, its model's score on its own dev set (percent; None = unknown).
        mexa: its MEXA alignment with the analysis pivot (percent, the pivot 100; None = unknown).
    """

    code: str
    iso3: str
    pieces: set[int] = field(default_factory=set)
    script: str | None = None
    train_size: int = 0
    dev_score: float | None = None
    mexa: float | None = None


def pair_features(src: LanguageProfile, tgt: LanguageProfile,
                  uriel: Mapping[tuple[str, str], Mapping[str, float]],
                  similarity: Mapping[tuple[str, str], float] | None = None) -> dict[str, float]:
    """The :data:`FEATURES` of the pair (source, target), plus those of :data:`OPTIONAL_FEATURES`
    whose inputs are known.

    ``subword_overlap`` is the Jaccard overlap of the two piece sets (LangRank's "word overlap" on
    subwords); ``same_script`` 1/0; ``log_train_size`` the natural log of 1 + source sentences;
    ``source_dev`` the source's :attr:`~LanguageProfile.dev_score`; ``mplm_sim`` the mean cosine of
    the two languages' parallel sentence vectors, ``similarity[(src.code, tgt.code)]``;
    ``mexa_source`` the source's :attr:`~LanguageProfile.mexa`.
    """
    d = uriel[(src.iso3, tgt.iso3)]
    union = src.pieces | tgt.pieces
    out = {f"uriel_{k}": d[k] for k in URIEL_DISTANCES}
    out["subword_overlap"] = len(src.pieces & tgt.pieces) / len(union) if union else 0.0
    out["same_script"] = float(src.script is not None and src.script == tgt.script)
    out["log_train_size"] = math.log1p(src.train_size)
    if src.dev_score is not None:
        out["source_dev"] = float(src.dev_score)
    if similarity is not None and (src.code, tgt.code) in similarity:
        out["mplm_sim"] = float(similarity[(src.code, tgt.code)])
    if src.mexa is not None:
        out["mexa_source"] = float(src.mexa)
    return out


def relevance(scores: Mapping[str, float], levels: int = 10) -> dict[str, int]:
    """LambdaRank labels for one target: the best source gets ``levels``, the next ``levels - 1``,
    ..., sources below the top ``levels`` get 0 (graded relevance by rank, as in LangRank)."""
    order = sorted(scores, key=lambda s: -scores[s])
    return {s: max(0, levels - i) for i, s in enumerate(order)}


def ndcg_at(ranked: Sequence[str], rel: Mapping[str, int], k: int = 3) -> float:
    """NDCG@k of a ranking against graded relevance (exponential gain ``2^rel - 1``, log2 discount)."""
    def dcg(items):
        return sum((2 ** rel.get(s, 0) - 1) / math.log2(i + 2) for i, s in enumerate(items[:k]))

    ideal = dcg(sorted(rel, key=lambda s: -rel[s]))
    return dcg(list(ranked)) / ideal if ideal > 0 else 0.0


class SourceRanker:
    """A LightGBM lambdarank model over :data:`FEATURES` (LangRank, Lin et al. 2019).

    Args:
        n_estimators, learning_rate, num_leaves, min_child_samples: LightGBM settings (small trees:
            a matrix gives only sources × targets examples).
        seed: LightGBM's seed.
        features: the feature columns (default :data:`FEATURES`; add any of
            :data:`OPTIONAL_FEATURES` that every pair has).
    """

    def __init__(self, n_estimators: int = 100, learning_rate: float = 0.05, num_leaves: int = 8,
                 min_child_samples: int = 3, seed: int = 0, features: Sequence[str] = FEATURES):
        self.params = dict(n_estimators=n_estimators, learning_rate=learning_rate, num_leaves=num_leaves,
                           min_child_samples=min_child_samples, random_state=seed, verbose=-1)
        self.features = tuple(features)
        self.model = None

    def fit(self, groups: Sequence[tuple[list[dict[str, float]], list[int]]]) -> SourceRanker:
        """Fit on queries: per target, the candidates' feature dicts and their relevance labels.

        Raises:
            RankingError: fewer than two queries or a query with fewer than two candidates.
        """
        from lightgbm import LGBMRanker  # lazy: heavy import

        if len(groups) < 2 or any(len(f) < 2 for f, _ in groups):
            raise RankingError("a ranker needs at least two targets with at least two sources each")
        X = np.array([[f[name] for name in self.features] for feats, _ in groups for f in feats], dtype=float)
        y = np.array([r for _, rels in groups for r in rels], dtype=int)
        self.model = LGBMRanker(objective="lambdarank", **self.params)
        self.model.fit(X, y, group=[len(f) for f, _ in groups])
        return self

    def score(self, feats: Sequence[dict[str, float]]) -> np.ndarray:
        """Ranking scores ``(n_candidates,)`` (higher = better source)."""
        if self.model is None:
            raise RankingError("the ranker is not fitted")
        X = np.array([[f[name] for name in self.features] for f in feats], dtype=float)
        return np.asarray(self.model.predict(X), dtype=float)

    def to_string(self) -> str:
        """The fitted trees as LightGBM's text model format (no pickle), for :meth:`from_string`.

        Raises:
            RankingError: the ranker is not fitted.
        """
        if self.model is None:
            raise RankingError("the ranker is not fitted")
        booster = getattr(self.model, "booster_", self.model)
        return booster.model_to_string()

    @classmethod
    def from_string(cls, text: str, features: Sequence[str]) -> SourceRanker:
        """A fitted ranker from :meth:`to_string`'s text and its feature columns (in order).

        Raises:
            RankingError: the text is no LightGBM model, or its feature count is not ``len(features)``.
        """
        from lightgbm import Booster  # lazy: heavy import

        try:
            booster = Booster(model_str=text)
        except Exception as exc:  # noqa: BLE001 - LightGBM raises its own LightGBMError for any bad text
            raise RankingError(f"not a LightGBM ranker model ({exc})") from None
        if booster.num_feature() != len(features):
            raise RankingError(f"the ranker model has {booster.num_feature()} features, its description "
                               f"{len(features)} ({', '.join(features)})")
        ranker = cls(features=features)
        ranker.model = booster
        return ranker


def ranker_kind(task: str | None) -> str:
    """The shipped ranker for a task: a kind (``pos``, ``ner``, ``classification``, ``general``) or a
    built-in task name (``udpos`` -> ``pos``, ``panx`` -> ``ner``, ``sib200`` -> ``classification``);
    None -> ``general``.

    Raises:
        RankingError: anything else (the message lists the choices).
    """
    if task is None:
        return "general"
    t = task.strip().lower()
    if t in RANKER_KINDS:
        return t
    by_task = {name: kind for kind, names in RANKER_KINDS.items() if kind != "general" for name in names}
    aliases = {"tagging": "pos", "upos": "pos", "entities": "ner", "text": "classification",
               "topic": "classification"}
    if t in by_task or t in aliases:
        return by_task.get(t) or aliases[t]
    raise RankingError(f"--task {task}: a ranker exists for the task kinds {', '.join(RANKER_KINDS)} and the "
                       f"built-in tasks {', '.join(sorted(by_task))}")


def shipped_ranker(kind: str = "general", folder: str | Path | None = None) -> tuple[SourceRanker, dict]:
    """A ranker trained on xlt's own transfer matrices, shipped with the package (no matrix needed).

    Args:
        kind: ``pos``, ``ner``, ``classification`` or ``general`` (:data:`RANKER_KINDS`).
        folder: where the rankers are (default :data:`RANKERS_DIR`).

    Returns:
        ``(ranker, provenance)``: the fitted :class:`SourceRanker` over :data:`SHIPPED_FEATURES` and
        its entry of ``rankers.json``: the matrices it was trained on, its features, the text and
        tokenizer the features need, the date, and its leave-one-target-out scores.

    Raises:
        RankingError: an unknown kind, or missing or damaged ranker files (named).
    """
    kind = ranker_kind(kind)
    root = Path(folder) if folder is not None else RANKERS_DIR
    meta_file = root / "rankers.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        entry = meta["rankers"][kind]
        text = (root / entry["file"]).read_text(encoding="utf-8")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RankingError(f"{meta_file}: no usable shipped ranker for {kind!r} ({exc})") from None
    ranker = SourceRanker.from_string(text, entry["features"])
    return ranker, dict(entry, kind=kind, common={k: v for k, v in meta.items() if k != "rankers"})


__all__ = ["FEATURES", "OPTIONAL_FEATURES", "RANKERS_DIR", "RANKER_KINDS", "SHIPPED_FEATURES", "SOURCE_PRIOR",
           "URIEL_DISTANCES",
           "URIEL_INDIVIDUAL", "LanguageProfile", "RankingError", "SourceRanker", "dominant_script", "in_uriel",
           "ndcg_at", "pair_features", "piece_set", "ranker_kind", "relevance", "shipped_ranker", "uriel_code",
           "uriel_distances", "uriel_vectors"]
