"""xlt.lexicon: word translations from cross-lingual word vectors.

* :mod:`xlt.lexicon.mapping`: orthogonal maps between two word spaces: Procrustes with MUSE's
  refinement (Conneau et al. 2018), VecMap's unsupervised initialisation and stochastic
  self-learning (Artetxe et al. 2018), identical-strings seeds;
* :mod:`xlt.lexicon.induction`: bilingual lexicon induction by nearest neighbours (cosine, CSLS)
  and its evaluation (P@1/5/10, MAP) on XLING or MUSE-format test dictionaries;
* :mod:`xlt.lexicon.rerank`: a second stage that re-ranks each word's candidates with a scorer
  trained on the seed dictionary (after BLICEr, Li et al. 2022).

This package sits beside :mod:`xlt.retrieval`: it uses the data and model layers only.
"""
