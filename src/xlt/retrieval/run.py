"""``xlt retrieve``: bitext retrieval accuracy on Tatoeba, per language and direction.

For each language, both sides of the Tatoeba test set (Artetxe & Schwenk 2019, "Massively
Multilingual Sentence Embeddings for Zero-Shot Cross-Lingual Transfer and Beyond") are
embedded; each sentence retrieves its nearest neighbour on the other side (cosine, CSLS or a
margin score, see :mod:`xlt.retrieval.scoring`), and accuracy is the share retrieved
correctly. The xsim error rate is 100 − accuracy (LASER's xsim).
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import asdict, dataclass

from tqdm.auto import tqdm

from xlt.data.parallel import read_parallel, select_tatoeba
from xlt.evaluate.manifest import build_manifest
from xlt.evaluate.report import write_report
from xlt.models.loading import DEFAULT_MODEL, load_encoder
from xlt.retrieval.scoring import METHODS, retrieval_accuracy, score_matrix


@dataclass
class RetrievalConfig:
    """Settings of one ``xlt retrieve`` run.

    Attributes:
        langs: ``all`` or a comma-separated list of language codes.
        model: model spec. method: one of :data:`xlt.retrieval.scoring.METHODS`.
        k: neighbourhood size for CSLS/margin (None = the method's default: 10 / 4).
        layer: hidden state to pool (``last`` or an int; 0 = embeddings).
        pooling: ``mean`` (over the attention mask, as E5) or ``cls``.
        batch_size: sentences per forward pass. data_dir: data folder. out: report folder.
    """

    langs: str = "all"
    model: str = DEFAULT_MODEL
    method: str = "cosine"
    k: int | None = None
    layer: str = "last"
    pooling: str = "mean"
    batch_size: int = 64
    data_dir: str | None = None
    out: str | None = None
    progress: bool = True


def _mean(scores: dict[str, float]) -> float:
    return sum(scores.values()) / len(scores) if scores else float("nan")


def run_retrieval(config: RetrievalConfig, command: list[str] | None = None) -> dict:
    """Tatoeba retrieval for the selected languages; writes the report if ``config.out``.

    Returns:
        the report dict: ``scores`` = xx→eng accuracy (%), ``scores_eng_to_xx``,
        ``xsim_error`` per language and direction (%), ``average`` over languages (xx→eng),
        ``average_eng_to_xx``, counts, config and manifest.

    Raises:
        ValueError: unknown method; UnknownLanguageError: unknown language code;
        DataFormatError: a file pair with different line counts.
    """
    if config.method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {config.method!r}")
    t0 = time.time()
    files = select_tatoeba(config.langs, config.data_dir)
    data = {lang: read_parallel(*paths) for lang, paths in files.items()}  # check all before encoding
    from xlt.models.features import encode_sentences, parse_layer

    encoder = load_encoder(config.model, device="auto")
    layer = parse_layer(config.layer)
    xx2en, en2xx, xsim, counts = {}, {}, {}, {}
    for lang, pt in tqdm(data.items(), desc="languages", disable=not config.progress):
        if not pt.src:
            counts[lang] = {"sentences": 0, "skipped_empty": pt.n_skipped_empty}
            continue
        emb = [encode_sentences(encoder, side, layers=layer, pooling=config.pooling, normalize=True,
                                batch_size=config.batch_size, progress=False) for side in (pt.src, pt.tgt)]
        # Cosine, CSLS and both margins are symmetric in their two arguments, so the
        # eng→xx matrix is the transpose of the xx→eng one: no second k-NN pass.
        forward = score_matrix(emb[0], emb[1], method=config.method, k=config.k)
        xx2en[lang] = 100.0 * retrieval_accuracy(forward)
        en2xx[lang] = 100.0 * retrieval_accuracy(forward.T)
        xsim[lang] = {"xx_to_eng": 100.0 - xx2en[lang], "eng_to_xx": 100.0 - en2xx[lang]}
        counts[lang] = {"sentences": len(pt.src), "skipped_empty": pt.n_skipped_empty}
    cfg = {k: v for k, v in asdict(config).items() if k != "progress"}
    model_info = encoder.describe()
    argv = command if command is not None else sys.argv
    report = {
        "command": argv,
        "command_line": shlex.join(argv),
        "task": "tatoeba",
        "model": config.model,
        "mode": f"retrieval ({config.method})",
        "source": "eng",
        "metric": "accuracy",
        "metric_name": "xx→eng retrieval accuracy (%)",
        "scores": xx2en,
        "scores_eng_to_xx": en2xx,
        "xsim_error": xsim,
        "average": _mean(xx2en),
        "average_eng_to_xx": _mean(en2xx),
        "n_targets": len(xx2en),
        "counts": counts,
        "seconds": {"total": round(time.time() - t0, 1)},
        "config": cfg,
        "manifest": build_manifest(cfg, [p for pair in files.values() for p in pair], model_info, None),
    }
    if config.out:
        write_report(config.out, report)
    return report
