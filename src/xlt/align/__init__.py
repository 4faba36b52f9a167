"""xlt.align: word alignment, label projection, and cross-lingual maps of encoder features.

The maps' public surface (see :mod:`xlt.align.maps`)::

    from xlt.align import CrossLingualAligner
    aligner = CrossLingualAligner.load("runs/maps/par.procrustes.npz")
    X_mapped = aligner.transform(X, "de", layer=8)       # (n_words, dim) -> (n_words, dim)
"""

from xlt.align.maps import METHODS, AffineMap, AlignerError, CrossLingualAligner

__all__ = ["METHODS", "AffineMap", "AlignerError", "CrossLingualAligner"]
