"""Post-hoc cross-lingual maps of contextual word vectors, one per (language, layer).

Every map sends a target language's vectors into the source language's space, so a task head
trained on source-language features can read them. Maps are affine, optionally with a length
normalisation in the middle::

    T(x) = scale * norm(x - a) @ W + b          (norm(v) = v / ||v||, or the identity)

and the source language gets its own transform ``S`` (the identity for maps that leave the
source space as it is; for the normalising methods the same centring and normalisation, so that
source and target vectors are on the same sphere). Methods (``METHODS``):

``center``
    Per-language mean-centering (Libovický, Rosa & Fraser 2020, "On the Language Neutrality of
    Pre-trained Multilingual Representations"): ``T(x) = x - mu_t + mu_s``.
``center+norm``
    Centering plus length normalisation (as in Artetxe et al. 2018's normalisation and the
    normalisation step of Kulshreshtha et al. 2020, "Cross-lingual Alignment Methods for
    Multilingual BERT: A Comparative Study"): ``T(x) = r * (x - mu_t) / ||x - mu_t||`` and
    ``S(y) = r * (y - mu_s) / ||y - mu_s||``, with ``r`` the mean norm of the centred source
    vectors (keeps the features on the scale the task head's learning rate expects).
``procrustes``
    Orthogonal Procrustes (Schönemann 1966) on pairs of aligned word vectors, solved by SVD: ``W =
    U V^T`` for ``U S V^T = X^T Y`` (Schuster et al. 2019, "Cross-Lingual Alignment of
    Contextual Word Embeddings"; Wang et al. 2019, "Cross-lingual BERT Transformation for
    Zero-shot Dependency Parsing"): ``T(x) = x W``.
``center+procrustes``
    Procrustes between the centred spaces: ``T(x) = (x - mu_t) W + mu_s``.
``center+norm+procrustes``
    Procrustes between the centred, length-normalised spaces (the normalised rotation of
    Kulshreshtha et al. 2020): ``T(x) = r * norm(x - mu_t) W``, ``S`` as for ``center+norm``.
``linear``
    Unconstrained affine least squares (Mikolov, Le & Sutskever 2013, "Exploiting Similarities
    among Languages for Machine Translation"), with a small ridge term: ``T(x) = x W + b``.

The language means ``mu`` are token means over the language's text (all words, not only the
aligned ones) when the supervision provides them, else the means of the paired vectors.

:class:`AffineMap` is one fitted (language, layer) map with a scikit-learn-like ``fit`` /
``transform``; :class:`CrossLingualAligner` holds the maps of every language and layer of one
encoder, applies them to feature arrays, and saves / loads them (``.npz`` with a JSON header; no
pickle), refusing to be applied to another model or to layers it was not fitted on. Loading checks
every array (present, float, the header's shapes, finite), and neither a fit nor a save ever
produces a map with NaN/inf values: a damaged or impossible map is an :class:`AlignerError`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xlt.core.arrays import ArrayFileError, check_array, nonfinite, read_npz
from xlt.core.errors import XltError
from xlt.core.io import to_jsonable
from xlt.data.langs import same_language

log = logging.getLogger(__name__)

#: Map families, in the order reports list them.
METHODS = ("center", "center+norm", "procrustes", "center+procrustes", "center+norm+procrustes", "linear")
#: Format version of saved aligner files.
FORMAT_VERSION = 1
#: Ridge strength of ``linear``, relative to the mean diagonal of ``X^T X``.
LINEAR_RIDGE = 1e-3
_EPS = 1e-8


class AlignerError(XltError, ValueError):
    """An aligner that cannot be fitted, loaded or applied as asked (wrong model, layer, language,
    a damaged file)."""


#: The parameter arrays each method's map has (an aligner file must hold exactly these).
METHOD_ARRAYS = {"center": ("a", "b"), "center+norm": ("a", "source_a"), "procrustes": ("W",),
                 "center+procrustes": ("W", "a", "b"), "center+norm+procrustes": ("W", "a", "source_a"),
                 "linear": ("W", "b")}


def pairs_needed(method: str, dim: int) -> int:
    """Pairs needed to determine a ``method`` map of dimension ``dim`` (0: any number will do).

    Procrustes solves for an orthogonal ``dim x dim`` matrix from ``X^T Y``, whose rank is at most
    the number of pairs: with fewer than ``dim`` pairs the rotation of the missing directions is
    arbitrary. ``linear`` has ``dim + 1`` unknowns per output (the bias), and with fewer pairs
    its ridge term, not the data, decides the rest. ``center`` and ``center+norm`` only estimate means.

    Raises:
        AlignerError: an unknown method.
    """
    m = parse_method(method)
    if m == "linear":
        return dim + 1
    return dim if "procrustes" in m else 0


def few_pairs_warning(method: str, n_pairs: int, dim: int, lang: str | None = None) -> str | None:
    """The warning for a ``method`` map of dimension ``dim`` fitted on ``n_pairs`` pairs, or None
    when they are enough (:func:`pairs_needed`).

    Raises:
        AlignerError: an unknown method.
    """
    need = pairs_needed(method, dim)
    if n_pairs >= need:
        return None
    what = ("a full-rank orthogonal map" if "procrustes" in parse_method(method)
            else "an affine least-squares map")
    return (f"{lang + ': ' if lang else ''}the {parse_method(method)} map is fitted on {n_pairs} supervision "
            f"pair(s); {what} of dimension {dim} needs at least {need}, so it is under-determined "
            "(mostly arbitrary outside the few directions the pairs span); give more parallel text "
            "or dictionary entries")


def parse_method(method: str) -> str:
    """Canonical method name (``'center + procrustes'`` → ``'center+procrustes'``).

    Raises:
        AlignerError: not one of :data:`METHODS`.
    """
    m = "+".join(p.strip().lower() for p in str(method).split("+"))
    aliases = {"centering": "center", "mean-center": "center", "rotation": "procrustes",
               "norm+procrustes": "center+norm+procrustes", "lstsq": "linear"}
    m = aliases.get(m, m)
    if m not in METHODS:
        raise AlignerError(f"unknown alignment method {method!r}; choose from {', '.join(METHODS)}")
    return m


def _f32(x: Any, name: str) -> np.ndarray:
    # big (n, dim) products run in float32; the small (dim, dim) solves in float64
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2:
        raise AlignerError(f"{name} must be 2-D (n, dim), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise AlignerError(f"{name} contains NaN or inf")
    return a


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), _EPS)


def procrustes(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The orthogonal ``W`` minimising ``||X W - Y||_F`` (Schönemann 1966), by SVD of ``X^T Y``.

    Args:
        X, Y: ``(n_pairs, dim)`` paired rows.

    Returns:
        ``(dim, dim)`` orthogonal matrix (float64).

    Raises:
        AlignerError: ``X^T Y`` is not finite (vectors too large for their float type) or its
            SVD does not converge.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        M = (X.T @ Y).astype(np.float64)
    if not np.isfinite(M).all():
        raise AlignerError("the Procrustes cross-covariance X^T Y overflows (NaN or inf); the vectors are too "
                           "large for float32")
    try:
        u, _, vt = np.linalg.svd(M)
    except np.linalg.LinAlgError as exc:
        raise AlignerError(f"the Procrustes SVD failed ({exc})") from None
    return u @ vt


@dataclass
class AffineMap:
    """One (language, layer) map ``T(x) = scale * norm(x - a) @ W + b`` and the source's ``S``.

    Fit with :meth:`fit` on paired vectors; parameters are float64 numpy arrays, ``W`` is
    ``None`` for the identity. ``source_*`` describe ``S`` (centre, normalise, scale; no
    rotation).

    Args:
        method: one of :data:`METHODS`.
    """

    method: str
    a: np.ndarray | None = None
    W: np.ndarray | None = None
    b: np.ndarray | None = None
    normalize: bool = False
    scale: float = 1.0
    source_a: np.ndarray | None = None
    n_pairs: int = 0
    fit_error: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.method = parse_method(self.method)

    # --------------------------------------------------------------------- fitting
    def fit(self, X: Any, Y: Any, *, x_mean: Any = None, y_mean: Any = None,
            y_scale: float | None = None, warn_few_pairs: bool = True) -> AffineMap:
        """Fit the map from paired vectors.

        Args:
            X: ``(n_pairs, dim)`` target-language vectors.
            Y: ``(n_pairs, dim)`` the source-language vectors they should map to.
            x_mean, y_mean: ``(dim,)`` language means (token means over each language's text);
                default: the column means of ``X`` and ``Y``.
            y_scale: the ``+norm`` methods' radius ``r`` (default: the mean norm of the centred
                ``Y``); give the same value to every language's map so the source transform is shared.
            warn_few_pairs: log a warning when there are fewer pairs than :func:`pairs_needed`
                (e.g. Procrustes on ``n < dim`` pairs: an under-determined rotation); False when
                the caller warns itself.

        Returns:
            ``self``; ``fit_error`` holds the mean squared distance between mapped target and
            (source-transformed) source vectors before and after the map.

        Raises:
            AlignerError: shapes that do not match, no pairs (or fewer than 2 for ``linear``),
                NaN/inf values in the inputs (pairs, means, scale), or a fit whose parameters come
                out non-finite (e.g. float32 overflow of huge vectors): never a map of NaN.
        """
        X, Y = _f32(X, "X"), _f32(Y, "Y")
        if X.shape != Y.shape:
            raise AlignerError(f"X and Y must have the same shape, got {X.shape} and {Y.shape}")
        if len(X) == 0:
            raise AlignerError("no supervision pairs to fit a map on")
        dim = X.shape[1]
        if warn_few_pairs and (msg := few_pairs_warning(self.method, len(X), dim)):
            log.warning(msg)
        mx = X.mean(0, dtype=np.float64) if x_mean is None else np.asarray(x_mean, dtype=np.float64).reshape(dim)
        my = Y.mean(0, dtype=np.float64) if y_mean is None else np.asarray(y_mean, dtype=np.float64).reshape(dim)
        for name, v in (("x_mean", mx), ("y_mean", my), ("y_scale", np.float64(y_scale or 0.0))):
            if not np.isfinite(v).all():
                raise AlignerError(f"{name} contains NaN or inf")
        mx32, my32 = mx.astype(np.float32), my.astype(np.float32)
        try:
            m = self.method
            self.a = self.W = self.b = self.source_a = None
            self.normalize, self.scale = False, 1.0
            if m in ("center", "center+procrustes"):
                self.a, self.b = mx, my
                if m == "center+procrustes":
                    self.W = procrustes(X - mx32, Y - my32)
            elif m in ("center+norm", "center+norm+procrustes"):
                self.a, self.source_a, self.normalize = mx, my, True
                with np.errstate(over="ignore", invalid="ignore"):  # overflow: caught as a non-finite scale
                    self.scale = float(y_scale) if y_scale else (float(np.linalg.norm(Y - my32, axis=1).mean()) or 1.0)
                if m == "center+norm+procrustes":
                    self.W = procrustes(_unit(X - mx32), _unit(Y - my32))
            elif m == "procrustes":
                self.W = procrustes(X, Y)
            elif m == "linear":
                if len(X) < 2:
                    raise AlignerError("linear needs at least 2 supervision pairs")
                Xb = np.hstack([X, np.ones((len(X), 1), dtype=np.float32)])
                try:
                    with np.errstate(over="ignore", invalid="ignore"):
                        G = (Xb.T @ Xb).astype(np.float64)
                        lam = LINEAR_RIDGE * float(np.trace(G[:dim, :dim])) / dim
                        reg = lam * np.eye(dim + 1)
                        reg[dim, dim] = 0.0  # no penalty on the bias
                        A = np.linalg.solve(G + reg, (Xb.T @ Y).astype(np.float64))
                except np.linalg.LinAlgError as exc:
                    raise AlignerError(f"the linear least-squares solve failed ({exc}); the vectors are degenerate "
                                       "or too large for float32") from None
                self.W, self.b = A[:dim], A[dim]
            self.n_pairs = len(X)
            bad = self.nonfinite()
            if bad:
                raise AlignerError(f"the {m} fit on {len(X)} pairs of dimension {dim} gave non-finite parameters "
                                   f"({bad}); the vectors are too large for float32 or degenerate")
        except AlignerError:
            self.a = self.W = self.b = self.source_a = None
            self.normalize, self.scale, self.n_pairs = False, 1.0, 0
            raise
        Ys = self.transform_source(Y)
        before = X if not self.normalize else self.scale * _unit(X - mx32)
        self.fit_error = {"mse_before": float(((before - Ys) ** 2).sum(1).mean()),
                          "mse_after": float(((self.transform(X) - Ys) ** 2).sum(1).mean())}
        return self

    def nonfinite(self) -> str | None:
        """What is not finite about the parameters, in words (``'W has 3 NaN values'``), or None.

        Checks the float32 values a saved file would hold (a float64 value beyond float32's
        range would be saved as inf).
        """
        if not np.isfinite(np.float32(self.scale)):
            return f"scale is {self.scale}"
        for k in ("a", "W", "b", "source_a"):
            v = getattr(self, k)
            if v is not None:
                with np.errstate(over="ignore"):
                    bad = nonfinite(np.asarray(v, dtype=np.float32))
                if bad:
                    return f"{k} has {bad}"
        return None

    # ------------------------------------------------------------------ applying
    def _check_fitted(self) -> None:
        if self.n_pairs == 0 and self.a is None and self.W is None and self.b is None:
            raise AlignerError(f"{self.method} map is not fitted")

    def transform(self, X: Any) -> np.ndarray:
        """Map target-language vectors into the source space.

        Args:
            X: ``(n, dim)`` (any float dtype; numpy or torch).

        Returns:
            ``(n, dim)`` float32 numpy array.

        Raises:
            AlignerError: the map is not fitted, or ``dim`` differs from the fitted one.
        """
        self._check_fitted()
        return self._apply(X, self.a, self.W, self.b)

    def transform_source(self, Y: Any) -> np.ndarray:
        """The source language's own transform ``S`` (identity unless the method normalises).

        Args / Returns: as :meth:`transform`.
        """
        if not self.normalize:
            return np.asarray(Y, dtype=np.float32)
        return self._apply(Y, self.source_a, None, None)

    def _apply(self, X: Any, a, W, b) -> np.ndarray:
        x = np.asarray(X.float().cpu().numpy() if hasattr(X, "float") and hasattr(X, "cpu") else X,
                       dtype=np.float32)
        dim = self.dim
        if dim is not None and (x.ndim != 2 or x.shape[1] != dim):
            raise AlignerError(f"vectors of shape {x.shape} do not fit a map of dimension {dim}")
        if a is not None:
            x = x - a.astype(np.float32)
        if self.normalize:
            x = self.scale * _unit(x)
        if W is not None:
            x = x @ W.astype(np.float32)
        if b is not None:
            x = x + b.astype(np.float32)
        return np.ascontiguousarray(x, dtype=np.float32)

    @property
    def dim(self) -> int | None:
        """Vector dimension the map was fitted on (``None`` before fitting)."""
        for p in (self.a, self.W, self.b, self.source_a):
            if p is not None:
                return int(p.shape[0])
        return None

    # -------------------------------------------------------------- state
    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(metadata, arrays)`` for saving (float32: maps are applied in float32 anyway, and a
        13-layer, 46-language rotation file stays at ~350 MB instead of ~700 MB)."""
        arrays = {k: np.asarray(getattr(self, k), dtype=np.float32) for k in ("a", "W", "b", "source_a")
                  if getattr(self, k) is not None}
        meta = {"method": self.method, "normalize": self.normalize, "scale": self.scale,
                "n_pairs": self.n_pairs, "fit_error": self.fit_error, "arrays": sorted(arrays)}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray]) -> AffineMap:
        """Inverse of :meth:`state`."""
        m = cls(method=meta["method"], normalize=bool(meta["normalize"]), scale=float(meta["scale"]),
                n_pairs=int(meta["n_pairs"]), fit_error=dict(meta.get("fit_error", {})))
        for k, v in arrays.items():
            setattr(m, k, np.asarray(v, dtype=np.float64))
        return m


@dataclass
class CrossLingualAligner:
    """The fitted maps of one encoder: one :class:`AffineMap` per (target language, layer).

    Attributes:
        method: one of :data:`METHODS`.
        source: the source language's code (e.g. ``eng``).
        layers: hidden-state indices the maps cover (``0`` = embeddings).
        model: :meth:`xlt.models.loading.Encoder.describe` of the encoder the vectors came from.
        maps: ``{language: {layer: AffineMap}}``; language keys as given at fit time (e.g. NTREX
            codes ``deu``, ``zho-CN``), matched to other codes by ISO 639-3 language.
        supervision: per language, what the pairs came from and how many there were.
        info: free-form settings of the fit (supervision kind, word aligner, seconds, ...).

    Example:
        >>> al = CrossLingualAligner("procrustes", "eng", [8], model_info)     # doctest: +SKIP
        >>> al.fit_language("deu", {8: (X_de, Y_en)})                           # doctest: +SKIP
        >>> al.transform(X, "de", 8)                                            # doctest: +SKIP
    """

    method: str
    source: str
    layers: list[int]
    model: dict
    maps: dict[str, dict[int, AffineMap]] = field(default_factory=dict)
    supervision: dict[str, dict] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.method = parse_method(self.method)
        self.layers = [int(k) for k in self.layers]
        if not self.layers:
            raise AlignerError("an aligner needs at least one layer")

    def _source_stats(self, layer: int, Y: np.ndarray, y_mean: Any) -> tuple[Any, float | None]:
        # The source transform must be one and the same for every target language: the first
        # fitted language fixes the source mean and radius, later fits reuse them.
        if self.maps:
            m = next(iter(self.maps.values()))[layer]
            return (m.source_a if m.source_a is not None else y_mean), (m.scale if m.normalize else None)
        return y_mean, None

    # ------------------------------------------------------------------ fitting
    def fit_language(self, lang: str, pairs: dict[int, tuple[Any, Any]], *, x_mean: dict | None = None,
                     y_mean: dict | None = None, supervision: dict | None = None) -> CrossLingualAligner:
        """Fit the maps of one target language, one per layer.

        Args:
            lang: the target language's code.
            pairs: ``{layer: (X, Y)}``, each ``(n_pairs, dim)``: target vectors and the source
                vectors they are aligned to; must cover every layer in :attr:`layers`.
            x_mean, y_mean: ``{layer: (dim,)}`` token means of the two languages' text.
            supervision: counts to record (pairs, sentences, dictionary coverage, ...).

        Fewer pairs than a full-rank map needs (:func:`pairs_needed`: Procrustes on fewer pairs
        than the vector dimension) is logged as one warning for the language.

        Raises:
            AlignerError: the source language itself, a layer missing, or no pairs (a language
                without supervision never gets a silent identity map), NaN/inf inputs, or a fit
                that gives non-finite parameters (the language then gets no map at all).
        """
        if same_language(lang, self.source):
            raise AlignerError(f"{lang} is the source language; it is not mapped")
        missing = [k for k in self.layers if k not in pairs]
        if missing:
            raise AlignerError(f"{lang}: no supervision vectors for layer(s) {missing}")
        out = {}
        for i, k in enumerate(self.layers):
            X, Y = pairs[k]
            if len(X) == 0:
                raise AlignerError(f"{lang}: no supervision pairs; cannot fit a {self.method} map "
                                   f"(a language without supervision is never mapped by the identity)")
            if i == 0 and np.ndim(X) == 2 and (msg := few_pairs_warning(self.method, len(X), np.shape(X)[1], lang)):
                log.warning(msg)
            my, scale = self._source_stats(k, Y, None if y_mean is None else y_mean[k])
            try:
                out[k] = AffineMap(self.method).fit(X, Y, x_mean=None if x_mean is None else x_mean[k],
                                                   y_mean=my, y_scale=scale, warn_few_pairs=False)
            except AlignerError as exc:
                raise AlignerError(f"{lang}, layer {k}: {exc}") from None
        self.maps[lang] = out
        self.supervision[lang] = dict(supervision or {}, n_pairs=int(len(pairs[self.layers[0]][0])))
        return self

    # ----------------------------------------------------------------- lookups
    @property
    def languages(self) -> list[str]:
        """Target languages with fitted maps, in fitting order."""
        return list(self.maps)

    def is_source(self, lang: str) -> bool:
        """Whether ``lang`` denotes the source language (ISO 639-3 comparison)."""
        return same_language(lang, self.source)

    def find_language(self, lang: str) -> str | None:
        """The fitted language key that denotes ``lang`` (script/region ignored), or ``None``."""
        if lang in self.maps:
            return lang
        hits = [k for k in self.maps if same_language(k, lang)]
        return hits[0] if hits else None

    @property
    def word_pieces(self) -> str | None:
        """The ``word_pieces`` setting the supervision vectors were extracted with
        (:mod:`xlt.models.words`); ``None`` when not recorded (aligners fitted before xlt recorded
        it read words the ``xtreme`` way)."""
        return self.info.get("word_pieces")

    def check(self, encoder_info: dict, layers: Iterable[int], languages: Iterable[str] = (),
              word_pieces: str | None = None) -> None:
        """Refuse to be applied where the maps do not belong.

        Args:
            encoder_info: :meth:`Encoder.describe` of the encoder whose features will be mapped.
            layers: the hidden-state indices of those features.
            languages: the languages that will be mapped (the source is always allowed).
            word_pieces: the features' ``word_pieces`` setting (None = not checked). An aligner
                that does not record its own gets a warning unless the features are ``xtreme``.

        Raises:
            AlignerError: another model (fingerprint or width differs), a layer the maps were not
                fitted on, languages without a map (listed), or word vectors read from other subword
                pieces than the maps were fitted on.
        """
        if word_pieces is not None and self.word_pieces is not None and word_pieces != self.word_pieces:
            raise AlignerError(f"the aligner's maps were fitted on word vectors of --word-pieces {self.word_pieces}, "
                               f"the features use {word_pieces}; give --word-pieces {self.word_pieces} or fit maps "
                               f"with `xlt align fit --word-pieces {word_pieces}`")
        if word_pieces is not None and self.word_pieces is None and word_pieces != "xtreme":
            log.warning("the aligner does not record how its word vectors were read from subword pieces (fitted "
                        "before xlt recorded it: 'xtreme'); the features use --word-pieces %s. Refit it, or give "
                        "--word-pieces xtreme", word_pieces)
        fp, mine = encoder_info.get("fingerprint"), self.model.get("fingerprint")
        if fp and mine and fp != mine:
            def short(f: str) -> str:
                return f if len(f) <= 28 else f[:28] + "…"

            raise AlignerError(f"the aligner was fitted on model {self.model.get('spec')!r} "
                               f"(fingerprint {short(mine)}), not on {encoder_info.get('spec')!r} "
                               f"(fingerprint {short(fp)}); fit maps for this model with `xlt align fit`")
        if (encoder_info.get("hidden_size") and self.model.get("hidden_size")
                and int(encoder_info["hidden_size"]) != int(self.model["hidden_size"])):
            raise AlignerError(f"the aligner maps {self.model['hidden_size']}-dim vectors, the model gives "
                               f"{encoder_info['hidden_size']}-dim ones")
        bad = [int(k) for k in layers if int(k) not in self.layers]
        if bad:
            raise AlignerError(f"the aligner has maps for layer(s) {self.layers}, not for {bad}; "
                               f"fit it with --layers covering the features' layers")
        unmapped = [l for l in languages if not self.is_source(l) and self.find_language(l) is None]
        if unmapped:
            raise AlignerError(f"the aligner has no map for {', '.join(unmapped)} (it covers "
                               f"{', '.join(self.languages) or 'no language'}); fit maps for them or "
                               f"leave them out of the targets")

    # ---------------------------------------------------------------- applying
    def _map_for(self, lang: str, layer: int) -> AffineMap | None:
        if self.is_source(lang):
            return None
        key = self.find_language(lang)
        if key is None:
            raise AlignerError(f"the aligner has no map for {lang} (it covers {', '.join(self.languages)})")
        if int(layer) not in self.maps[key]:
            raise AlignerError(f"the aligner has no map for layer {layer} (it covers {self.layers})")
        return self.maps[key][int(layer)]

    def _source_map(self, layer: int) -> AffineMap | None:
        if int(layer) not in self.layers:
            raise AlignerError(f"the aligner has no map for layer {layer} (it covers {self.layers})")
        if not self.maps:
            return None
        any_lang = next(iter(self.maps.values()))
        return any_lang[int(layer)]

    def transform(self, X: Any, lang: str, layer: int) -> np.ndarray:
        """Map one layer's vectors of language ``lang`` into the source space.

        The source language gets the method's source transform (identity, or centring and
        normalisation for the ``+norm`` methods).

        Args:
            X: ``(n, dim)``.
            lang: the vectors' language. layer: their hidden-state index.

        Returns:
            ``(n, dim)`` float32.

        Raises:
            AlignerError: no map for the language or layer.
        """
        if self.is_source(lang):
            m = self._source_map(layer)
            return np.asarray(X, dtype=np.float32) if m is None else m.transform_source(X)
        return self._map_for(lang, layer).transform(X)

    def transform_features(self, X: Any, lang: str, layers: Sequence[int]) -> Any:
        """Map a feature stack whose layer axis is ``layers``.

        Args:
            X: ``(n, dim)`` (one layer) or ``(n, n_layers, dim)``; numpy array or torch tensor
                (a tensor comes back as a tensor of the same dtype).
            lang: the language of every row. layers: the hidden-state index of each layer slot.

        Returns:
            the mapped stack, same shape (and kind) as ``X``.

        Raises:
            AlignerError: a layer or language without a map, or a layer axis of the wrong size.
        """
        layers = [int(k) for k in layers]
        is_torch = hasattr(X, "detach")
        arr = X.detach().cpu().numpy() if is_torch else np.asarray(X)
        if arr.ndim == 2:
            if len(layers) != 1:
                raise AlignerError(f"2-D features but {len(layers)} layers given")
            out = self.transform(arr, lang, layers[0])
        else:
            if arr.shape[1] != len(layers):
                raise AlignerError(f"features have {arr.shape[1]} layer slots, {len(layers)} layers given")
            out = np.empty_like(arr)
            for i, k in enumerate(layers):
                for r in range(0, len(arr), 65536):  # bounds the float32 temporaries
                    out[r:r + 65536, i] = self.transform(arr[r:r + 65536, i], lang, k)
        if is_torch:
            import torch  # lazy: xlt --help imports this module (through xlt.jobs); torch takes ~1 s

            return torch.from_numpy(out).to(dtype=X.dtype)
        return out

    # ----------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """Write the aligner to ``path`` (``.npz``: float32 map parameters plus a JSON header).

        Returns:
            the path written (``.npz`` appended when missing).

        Raises:
            AlignerError: a map with NaN/inf parameters (nothing is written: :meth:`load` would
                refuse the file anyway).
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        for lang, by_layer in self.maps.items():
            for k, m in by_layer.items():
                bad = m.nonfinite()
                if bad:
                    raise AlignerError(f"not writing {path}: the map for {lang!r} layer {k}: {bad}")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        maps_meta: dict[str, dict[str, dict]] = {}
        for li, (lang, by_layer) in enumerate(self.maps.items()):
            maps_meta[lang] = {}
            for k, m in by_layer.items():
                meta, arr = m.state()
                maps_meta[lang][str(k)] = meta
                for name, a in arr.items():
                    arrays[f"{li}/{k}/{name}"] = a
        header = {"format": "xlt-aligner", "version": FORMAT_VERSION, "method": self.method,
                  "source": self.source, "layers": self.layers, "model": self.model,
                  "languages": list(self.maps), "maps": maps_meta, "supervision": self.supervision,
                  "info": self.info}
        arrays["__header__"] = np.frombuffer(json.dumps(to_jsonable(header), ensure_ascii=False).encode(),
                                             dtype=np.uint8)
        tmp = path.with_name(path.name + ".tmp.npz")
        try:
            np.savez(tmp, **arrays)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> CrossLingualAligner:
        """Read an aligner written by :meth:`save`, checking every array before use.

        A file is refused unless its JSON header is complete and every map has exactly the
        parameters of its method, as float arrays of the header's dimension (``(dim, dim)`` for
        ``W``, ``(dim,)`` for the others), every value finite, for every (language, layer) the
        header lists.

        Raises:
            FileNotFoundError: no such file. IsADirectoryError: ``path`` is a folder.
            AlignerError: not a readable ``.npz`` file (truncated or corrupted), arrays that
                would need pickle, not an xlt aligner file, a newer format version, a header
                that is incomplete or inconsistent, or a map whose array is missing, of another
                dtype or shape, or holds NaN/inf values. The message starts with the path.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"aligner file {path} does not exist")
        try:
            data = read_npz(path)
        except ArrayFileError as exc:
            raise AlignerError(f"{path}: {exc}") from None
        raw = data.pop("__header__", None)
        if raw is None:
            raise AlignerError(f"{path} is not an xlt aligner file (no '__header__' array)")
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise AlignerError(f"{path}: the aligner header has dtype {raw.dtype} and shape {raw.shape}, "
                               "expected bytes; not an xlt aligner file")
        try:
            header = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise AlignerError(f"{path}: the aligner header is not valid JSON (corrupted)") from None
        if not isinstance(header, dict) or header.get("format") != "xlt-aligner":
            raise AlignerError(f"{path} is not an xlt aligner file")
        version = header.get("version")
        if not isinstance(version, int):
            raise AlignerError(f"{path}: the aligner header has no format version")
        if version > FORMAT_VERSION:
            raise AlignerError(f"{path} has aligner format {version}; this xlt reads up to {FORMAT_VERSION}")
        try:
            return cls._from_file(header, data)
        except AlignerError as exc:
            raise AlignerError(f"{path}: {exc}") from None
        except ArrayFileError as exc:
            raise AlignerError(f"{path}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AlignerError(f"{path}: the aligner header is incomplete or malformed "
                               f"({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_file(cls, header: dict, data: dict[str, np.ndarray]) -> CrossLingualAligner:
        # header and arrays of a file, checked (AlignerError / ArrayFileError without the path)
        for key, kind in (("method", str), ("source", str), ("layers", list), ("model", dict),
                          ("languages", list), ("maps", dict)):
            if not isinstance(header.get(key), kind):
                raise AlignerError(f"the aligner header has no {key!r} ({kind.__name__})")
        for key in ("supervision", "info"):
            if not isinstance(header.get(key) or {}, dict):
                raise AlignerError(f"the aligner header's {key!r} is not a table")
        if not all(isinstance(k, int) and not isinstance(k, bool) for k in header["layers"]):
            raise AlignerError(f"the aligner header's layers {header['layers']!r} are not layer numbers")
        al = cls(method=header["method"], source=header["source"], layers=header["layers"], model=header["model"],
                 supervision=header.get("supervision") or {}, info=header.get("info") or {})
        languages = header["languages"]
        if len(set(map(str, languages))) != len(languages) or set(languages) != set(header["maps"]):
            raise AlignerError(f"the aligner header lists languages {languages} but has maps for "
                               f"{sorted(header['maps'])}")
        want = sorted(METHOD_ARRAYS[al.method])
        dim = header["model"].get("hidden_size")
        dim = int(dim) if isinstance(dim, int) and dim > 0 else None
        for li, lang in enumerate(languages):
            by_layer = header["maps"][lang]
            if not isinstance(by_layer, dict):
                raise AlignerError(f"the aligner header's maps for {lang!r} are not a table of layers")
            have = sorted(int(k) for k in by_layer)
            if have != sorted(al.layers):
                raise AlignerError(f"the maps for {lang!r} cover layers {have}, the aligner's layers are {al.layers}")
            al.maps[lang] = {}
            for k, meta in by_layer.items():
                what = f"map for {lang!r} layer {int(k)}"
                if not isinstance(meta, dict):
                    raise AlignerError(f"the header entry of the {what} is not a table")
                if parse_method(meta.get("method", "")) != al.method:
                    raise AlignerError(f"the {what} is a {meta.get('method')!r} map in a {al.method} aligner")
                if sorted(meta.get("arrays") or []) != want:
                    raise AlignerError(f"the {what} lists arrays {meta.get('arrays')}; a {al.method} map has {want}")
                if bool(meta.get("normalize")) != ("norm" in al.method):
                    raise AlignerError(f"the {what} has normalize={meta.get('normalize')!r}, "
                                       f"which a {al.method} map cannot have")
                scale = meta.get("scale")
                if (isinstance(scale, bool) or not isinstance(scale, (int, float)) or not np.isfinite(scale)
                        or scale <= 0):
                    raise AlignerError(f"the {what} has scale {scale!r}, expected a positive number")
                arrays = {}
                for name in want:
                    key = f"{li}/{k}/{name}"
                    if key not in data:
                        raise AlignerError(f"the {what} has no {name} (array {key!r} is missing)")
                    a = data[key]
                    if dim is None and a.ndim >= 1:
                        dim = int(a.shape[0])
                    shape = (dim, dim) if name == "W" else (dim,)
                    arrays[name] = check_array(a, f"{what}: {name}", shape=shape)
                al.maps[lang][int(k)] = AffineMap.from_state(meta, arrays)
        return al

    def describe(self) -> dict:
        """What a transfer report records about the aligner."""
        return {"method": self.method, "source": self.source, "layers": self.layers,
                "languages": self.languages, "model": {k: self.model.get(k) for k in ("spec", "fingerprint")},
                "supervision": {l: s.get("n_pairs") for l, s in self.supervision.items()},
                "kind": self.info.get("supervision")}
