"""``xlt bench inference``: the encoder's inference backends side by side, in one process.

For each backend of :mod:`xlt.models.backends` (``torch``, ``torch-int8``, ``onnx``, ``onnx-int8``) the
same encoder (default the bundled multilingual-e5-small) encodes the same real text:

* ``encode_sentences`` over Tatoeba sentences (both sides of a few language pairs) and
* ``encode_words`` over UD-POS test sentences (pre-split words),

and the bench reports tokens/s (model tokens, padding excluded, over the wall time of the whole call:
tokenisation, forward passes and pooling), the speed-up over torch fp32 and how close each backend's
vectors are to torch fp32's (mean and lowest cosine). The rounds alternate between the backends
(``repeats`` times) and the best time of each is kept, so a busy machine hurts them all alike.

Next to it, the fp32 GEMM limit of this CPU (:func:`gemm_limit`): ``torch.matmul`` and ONNX
Runtime's ``MatMul`` timed on the model's own linear-layer shapes (``(tokens, d) x (d, d)``,
``(d, ff)``, ``(ff, d)``, in the mix one layer runs them), the faster library's GFLOP/s, measured
before and after the timing rounds (the better kept); the encoder's achieved GFLOP/s (tokens/s x FLOPs per token,
:func:`flops_per_token`) as a share of it; and where the rest of the fp32 time goes
(:func:`time_shares`: ``torch.profiler`` operator self-times grouped into GEMM, attention
softmax, GELU, LayerNorm, other; tokenisation timed on its own; padding from the call's counters).

With ``quality``, the loss from int8 on the three evaluations the issue names, each run for torch
fp32 and each int8 backend with the budgets stated in the result: Tatoeba retrieval accuracy
(xx->eng, cosine, as ``xlt retrieve``) over ``tatoeba_langs``; the UD-POS probe and the SIB-200 probe
(``xlt transfer --mode probe``, :func:`xlt.jobs.transfer.run` with the backend's encoder) over
``probe_langs``, with ``train_limit``/``eval_limit`` sentences.
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xlt.data import tasks
from xlt.data.langs import UnknownLanguageError, match_language
from xlt.data.parallel import read_parallel, select_tatoeba, tatoeba_languages
from xlt.jobs import ConfigError
from xlt.jobs.bench import BenchSettings, _check_outputs, _write
from xlt.jobs.settings import AT_LEAST_0, AT_LEAST_1, option
from xlt.models import loading

__all__ = ["BACKEND_CHOICES", "BenchInferenceSettings", "InferenceBenchResult", "bench_inference",
           "flops_per_token", "format_bench_inference", "gemm_limit", "run_inference", "time_shares"]

#: The backends ``--backends`` may name: ``backend[-int8]``.
BACKEND_CHOICES = ("torch", "torch-int8", "onnx", "onnx-int8")
#: 24 Tatoeba languages over 11 scripts (the quality check's default).
TATOEBA_LANGS = ["ar", "bg", "de", "el", "es", "et", "fa", "fi", "fr", "he", "hi", "hu", "id", "it", "ja", "ko",
                 "nl", "pt", "ru", "ta", "th", "tr", "vi", "zh"]
#: Probe targets of the quality check (UD-POS and SIB-200).
PROBE_LANGS = ["de", "fr", "es", "ru", "ar", "hi", "zh", "ja", "fi", "tr"]
#: Busy-machine threshold: the timing runs on 2 threads only when the 1-minute load is below this.
QUIET_LOAD = 1.2


def _split(value: str) -> tuple[str, bool]:
    backend, _, q = value.partition("-")
    return backend, q == "int8"


@dataclass(kw_only=True)
class BenchInferenceSettings(BenchSettings):
    """Settings of ``xlt bench inference`` (with :class:`~xlt.jobs.bench.BenchSettings`).

    Attributes:
        backends: which backends to time (:data:`BACKEND_CHOICES`; torch fp32 is always the baseline).
        threads: torch/ONNX Runtime threads; 0: 2 when the machine's 1-minute load is below
            :data:`QUIET_LOAD` (and it has 2 cores), else 1.
        sentences: Tatoeba sentences for ``encode_sentences``. word_sentences: UD-POS test sentences
            (English) for ``encode_words``. batch_size: inputs per forward pass. repeats: timing rounds.
        quality: also measure Tatoeba/UD-POS/SIB-200 quality of every int8 backend against fp32.
        tatoeba_langs, tatoeba_limit, probe_langs, train_limit, eval_limit: the quality check's budget.
    """

    backends: list[str] = option(default_factory=lambda: list(BACKEND_CHOICES),
                                 help="backends to time: " + ", ".join(BACKEND_CHOICES))
    threads: int = option(0, check=AT_LEAST_0, help="threads (0: 2 if the 1-minute load is below 1.2, else 1)")
    sentences: int = option(2000, check=AT_LEAST_1, help="Tatoeba sentences for encode_sentences")
    word_sentences: int = option(1000, check=AT_LEAST_1, help="UD-POS test sentences for encode_words")
    batch_size: int = option(32, check=AT_LEAST_1, help="inputs per forward pass")
    repeats: int = option(2, check=AT_LEAST_1, help="timing rounds (the best of each backend is kept)")
    quality: bool = option(False, help="also measure Tatoeba, UD-POS probe and SIB-200 probe quality of the int8 "
                                       "backends against torch fp32")
    tatoeba_langs: list[str] = option(default_factory=lambda: list(TATOEBA_LANGS), help="--quality: Tatoeba languages")
    probe_langs: list[str] = option(default_factory=lambda: list(PROBE_LANGS),
                                    help="--quality: UD-POS and SIB-200 target languages")
    tatoeba_limit: int = option(1000, check=AT_LEAST_1, help="--quality: Tatoeba pairs per language (the first N)")
    train_limit: int = option(2000, check=AT_LEAST_1, help="--quality: probe training sentences")
    eval_limit: int = option(300, check=AT_LEAST_1, help="--quality: evaluation sentences per language")

    def __post_init__(self) -> None:
        super().__post_init__()
        bad = [b for b in self.backends if b not in BACKEND_CHOICES]
        if bad or not self.backends:
            raise ConfigError(f"--backends: unknown {bad}; choose from {', '.join(BACKEND_CHOICES)}")
        if any(b.startswith("onnx") for b in self.backends):
            from xlt.models.backends import BackendError, check_backend

            try:
                check_backend("onnx")
            except BackendError as exc:
                raise ConfigError(str(exc)) from None


@dataclass
class InferenceBenchResult:
    """What :func:`run_inference` measured.

    Attributes:
        result: the whole result (written to ``out``). table: :func:`format_bench_inference`'s text.
        out: the JSON file (None: not written).
    """

    result: dict
    table: str
    out: Path | None = None


# --------------------------------------------------------------------------- measurements


def flops_per_token(config: Any, mean_length: float) -> dict[str, float]:
    """Forward-pass FLOPs per token of a BERT-style encoder (a multiply-add = 2 FLOPs).

    Linear layers: ``2 L (4 d^2 + 2 d ff)`` (Q, K, V, attention output; the two feed-forward layers;
    Kaplan et al. 2020's ``2 N`` rule for the non-embedding parameters ``N``); attention scores and
    context: ``2 L (2 T d)`` with ``T`` the mean sequence length (Q K^T and A V).

    Args:
        config: a ``transformers`` config (``num_hidden_layers``, ``hidden_size``, ``intermediate_size``).
        mean_length: mean tokens per sequence ``T``.

    Returns:
        ``{"linear", "attention", "total"}`` in FLOPs per token.
    """
    n, d, ff = int(config.num_hidden_layers), int(config.hidden_size), int(config.intermediate_size)
    linear = 2.0 * n * (4 * d * d + 2 * d * ff)
    attention = 2.0 * n * 2 * mean_length * d
    return {"linear": linear, "attention": attention, "total": linear + attention}


def gemm_limit(config: Any, rows: int = 2048, repeats: int = 5) -> dict[str, Any]:
    """The fp32 GEMM throughput of this CPU on one layer's linear shapes, with the current threads.

    Times ``(rows, d) @ (d, d)`` four times, ``(rows, d) @ (d, ff)`` and ``(rows, ff) @ (ff, d)`` (one
    layer's mix; ``rows`` = batch x sequence tokens), best of ``repeats`` x 5 calls, with two GEMM
    libraries: ``torch.matmul`` (oneDNN/MKL) and, when installed, ONNX Runtime's ``MatMul`` (MLAS) on a
    one-node graph. The limit is the faster of the two.

    Returns:
        ``{"gflops": the limit (mix GFLOP/s), "by_library": {"torch": ..., "onnxruntime": ...},
        "per_shape": {library: {shape: GFLOP/s}}, "rows", "method"}``.
    """
    d, ff = int(config.hidden_size), int(config.intermediate_size)
    shapes = [(rows, d, d)] * 4 + [(rows, d, ff), (rows, ff, d)]
    runners = {"torch": _torch_matmul}
    if importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None:
        runners["onnxruntime"] = _ort_matmul
    by_lib, per_shape = {}, {}
    rng = np.random.default_rng(0)
    for lib, make in runners.items():
        per_shape[lib], total_flops, total_s = {}, 0.0, 0.0
        for m, k, n in dict.fromkeys(shapes):
            call = make(rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32))
            call()
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                for _ in range(5):
                    call()
                best = min(best, (time.perf_counter() - t) / 5)
            flops = 2.0 * m * k * n
            per_shape[lib][f"({m},{k})x({k},{n})"] = flops / best / 1e9
            count = shapes.count((m, k, n))
            total_flops += count * flops
            total_s += count * best
        by_lib[lib] = total_flops / total_s / 1e9
    return {"gflops": max(by_lib.values()), "by_library": by_lib, "per_shape": per_shape, "rows": rows,
            "method": f"fp32 GEMM of one layer's linear shapes with {rows} rows, best of {repeats}x5 calls, "
                      f"the faster of {' and '.join(runners)}"}


def _torch_matmul(a: np.ndarray, b: np.ndarray):
    import torch  # lazy: heavy import

    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    return lambda: torch.matmul(ta, tb)


def _ort_matmul(a: np.ndarray, b: np.ndarray):
    import onnx  # optional dependency
    import onnxruntime as ort  # optional dependency
    import torch  # lazy: heavy import
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "gemm",
                              [helper.make_tensor_value_info("A", TensorProto.FLOAT, list(a.shape))],
                              [helper.make_tensor_value_info("C", TensorProto.FLOAT, [a.shape[0], b.shape[1]])],
                              [numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = min(model.ir_version, 9)
    onnx.checker.check_model(model)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
    return lambda: sess.run(None, {"A": a})


def time_shares(encoder: Any, texts: list[str], batch_size: int) -> dict[str, float]:
    """Where a torch fp32 ``encode_sentences`` call spends its time, in % of the call.

    ``torch.profiler`` operator self-times (CPU) grouped into ``gemm`` (addmm/mm/bmm/matmul/linear),
    ``softmax``, ``gelu``, ``layer_norm``, ``other_ops``; ``tokenisation`` is the tokenizer timed on
    its own over the same texts; ``python_and_pooling`` is the rest of the wall time.
    """
    from torch.profiler import ProfilerActivity, profile  # lazy: heavy import

    t = time.perf_counter()
    encoder.tokenizer([encoder.text_prefix + x for x in texts], add_special_tokens=False, verbose=False)
    tok_s = time.perf_counter() - t
    t = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        encoder.encode_sentences(texts, batch_size=batch_size, progress=False)
    wall = time.perf_counter() - t
    groups = {"gemm": ("addmm", "aten::mm", "bmm", "matmul", "linear", "baddbmm"), "softmax": ("softmax",),
              "gelu": ("gelu",), "layer_norm": ("layer_norm",),
              "attention_kernel": ("scaled_dot_product", "_flash_attention", "_efficient_attention")}
    totals = dict.fromkeys(list(groups) + ["other_ops"], 0.0)
    for ev in prof.key_averages():
        if ev.key.startswith("aten::") or ev.key.startswith("quantized::"):
            g = next((name for name, keys in groups.items() if any(k in ev.key for k in keys)), "other_ops")
            totals[g] += ev.self_cpu_time_total / 1e6
    ops = sum(totals.values())
    out = {k: 100.0 * v / wall for k, v in totals.items()}
    out["tokenisation"] = 100.0 * tok_s / wall
    out["python_and_pooling"] = max(0.0, 100.0 - out["tokenisation"] - 100.0 * ops / wall)
    out["wall_seconds"] = wall
    return out


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)


def bench_inference(encoders: dict[str, Any], texts: list[str], words: list[list[str]], batch_size: int = 32,
                    repeats: int = 2) -> dict[str, Any]:
    """Time ``encode_sentences(texts)`` and ``encode_words(words)`` on every encoder, rounds alternating.

    Args:
        encoders: backend name -> :class:`~xlt.models.encoder.Encoder` (``"torch"`` is the baseline).
        texts: raw texts. words: pre-split sentences. batch_size: inputs per forward pass.
        repeats: rounds; each backend keeps its best time.

    Returns:
        ``{"runs": {name: {"sentences": {...}, "words": {...}}}, "speedup": ...}`` where each part has
        ``seconds``, ``tokens``, ``padding``, ``tokens_per_s``, ``cos_mean``, ``cos_min`` (vs ``torch``).
    """
    runs: dict[str, dict] = {name: {} for name in encoders}
    vecs: dict[str, dict] = {name: {} for name in encoders}
    for enc in encoders.values():  # warm-up: first calls allocate, ONNX Runtime plans its memory
        enc.encode_sentences(texts[:batch_size], batch_size=batch_size, progress=False)
        enc.encode_words(words[:batch_size], batch_size=batch_size, progress=False)
    for _ in range(repeats):
        for name, enc in encoders.items():
            t = time.perf_counter()
            v, st = enc.encode_sentences(texts, batch_size=batch_size, progress=False, return_stats=True)
            s_sec = time.perf_counter() - t
            t = time.perf_counter()
            w = enc.encode_words(words, batch_size=batch_size, progress=False)
            w_sec = time.perf_counter() - t
            for part, sec, stats, arr in (("sentences", s_sec, st, v), ("words", w_sec, w.stats, w.stacked())):
                old = runs[name].get(part)
                if old is None or sec < old["seconds"]:
                    runs[name][part] = {"seconds": sec, "tokens": int(stats["n_model_tokens"]),
                                        "padding": int(stats["n_padding_tokens"]),
                                        "sequences": int(stats["n_sequences"]),
                                        "tokens_per_s": stats["n_model_tokens"] / sec}
                vecs[name][part] = arr
    base = "torch" if "torch" in encoders else next(iter(encoders))
    speedup = {}
    for name in encoders:
        for part in ("sentences", "words"):
            cos = _cosines(vecs[name][part], vecs[base][part])
            runs[name][part].update(cos_mean=float(cos.mean()), cos_min=float(cos.min()))
        speedup[name] = {p: runs[name][p]["tokens_per_s"] / runs[base][p]["tokens_per_s"] for p in ("sentences", "words")}
    return {"runs": runs, "speedup": speedup, "baseline": base}


def _tatoeba(encoder: Any, pairs: dict[str, Any], batch_size: int) -> dict[str, float]:
    """xx->eng Tatoeba accuracy (%) per language, cosine nearest neighbour (as ``xlt retrieve``)."""
    from xlt.retrieval.scoring import retrieval_accuracy, score_matrix

    out = {}
    for lang, pt in pairs.items():
        emb = [encoder.encode_sentences(side, normalize=True, batch_size=batch_size, progress=False)
               for side in (pt.src, pt.tgt)]
        out[lang] = 100.0 * retrieval_accuracy(score_matrix(emb[0], emb[1], method="cosine"))
    return out


def _probe(encoder: Any, task: str, settings: BenchInferenceSettings, backend: str) -> dict[str, Any]:
    """``xlt transfer --task TASK --mode probe`` with ``encoder`` (the bench's budget); average and scores."""
    from xlt.jobs.parts import TransferSettings
    from xlt.jobs.transfer import run as run_transfer

    b, q = _split(backend)
    ts = TransferSettings(task=task, targets=list(settings.probe_langs), train_limit=settings.train_limit,
                          eval_limit=settings.eval_limit, data_dir=settings.data_dir, progress=False, model=settings.model,
                          backend=b, int8=q)
    res = run_transfer(ts, command=["xlt", "bench", "inference"], encoder=encoder)
    return {"average": res.average, "scores": {k: v for k, v in res.scores.items() if k in res.report.get("scores", {})}}


# --------------------------------------------------------------------------- the job


def _threads(settings: BenchInferenceSettings) -> tuple[int, float]:
    load = os.getloadavg()[0]
    if settings.threads:
        return settings.threads, load
    return (2 if load < QUIET_LOAD and (os.cpu_count() or 1) >= 2 else 1), load


def _known(code: str, available: dict) -> bool:
    """Whether a Tatoeba language code matches one of the data folder's languages."""
    try:
        match_language(code, available, context="Tatoeba languages")
    except UnknownLanguageError:
        return False
    return True


def _texts(settings: BenchInferenceSettings) -> tuple[list[str], list[list[str]], dict[str, Any]]:
    """Tatoeba sentences (the first pairs of each of :data:`TATOEBA_LANGS` the data folder has, else of all
    its languages; both sides, as many pairs from each) and English UD-POS test sentences."""
    have = tatoeba_languages(settings.data_dir)
    files = select_tatoeba(",".join(c for c in TATOEBA_LANGS if _known(c, have)) or "all", settings.data_dir)
    per = -(-settings.sentences // (2 * len(files)))  # pairs per language, rounded up
    texts: list[str] = []
    for paths in files.values():
        pt = read_parallel(*paths)
        texts.extend(x for pair in zip(pt.src[:per], pt.tgt[:per]) for x in pair)
    texts = texts[:settings.sentences]
    used = list(files)
    path = tasks.available_languages("udpos", settings.data_dir)[tasks.match_task_language("udpos", "en",
                                                                                            settings.data_dir)]
    examples, _ = tasks.load_split("udpos", path, limit=settings.word_sentences)
    words = [e.tokens for e in examples]
    return texts, words, {"tatoeba_langs": used, "sentences": len(texts), "udpos_file": str(path),
                          "word_sentences": len(words)}


def run_inference(settings: BenchInferenceSettings, command: list[str] | None = None) -> InferenceBenchResult:
    """``xlt bench inference``: the backends timed side by side, the GEMM limit and (``quality``) the
    quality loss of int8; writes the result to ``out``.

    Raises:
        OutputError: ``out`` is an input. DatasetNotFoundError: no Tatoeba/UD-POS data.
        ModelLoadError / BackendError: the model or a backend cannot load.
    """
    import torch  # lazy: heavy import

    _check_outputs(settings)
    texts, words, inputs = _texts(settings)
    threads, load = _threads(settings)
    torch.set_num_threads(threads)
    names = ["torch"] + [b for b in settings.backends if b != "torch"]
    encoders = {}
    load_seconds = {}
    for name in names:
        b, q = _split(name)
        t = time.perf_counter()
        encoders[name] = loading.load_encoder(settings.model, backend=b, int8=q)
        load_seconds[name] = time.perf_counter() - t
    base = encoders["torch"]
    rows = settings.batch_size * max(1, int(round(np.mean([len(base.tokenizer(t)["input_ids"]) for t in texts[:500]]))))
    limit = gemm_limit(base.model.config, rows=rows)
    timing = bench_inference(encoders, texts, words, settings.batch_size, settings.repeats)
    again = gemm_limit(base.model.config, rows=rows)  # measured before and after: the better of the two
    if again["gflops"] > limit["gflops"]:
        limit = again
    runs = timing["runs"]["torch"]["sentences"]
    mean_len = (runs["tokens"] + runs["padding"]) / runs["sequences"]
    flops = flops_per_token(base.model.config, mean_len)
    shares = time_shares(base, texts[: min(len(texts), 512)], settings.batch_size)
    for name, r in timing["runs"].items():
        for part in r.values():
            part["gflops"] = part["tokens_per_s"] * flops["total"] / 1e9
            part["pct_of_gemm_limit"] = 100.0 * part["gflops"] / limit["gflops"]
            part["padding_pct"] = 100.0 * part["padding"] / max(1, part["tokens"] + part["padding"])
    result = {"command": command, "threads": threads, "load_1min_at_start": load,
              "engine": torch.backends.quantized.engine, "model": base.describe(), "input": inputs,
              "load_seconds": load_seconds, "flops_per_token": flops, "mean_sequence_length": mean_len,
              "gemm_limit": limit, "fp32_time_shares_pct": shares, **timing}
    if settings.quality:
        result["quality"] = _quality(settings, encoders)
    _write(settings, result)
    return InferenceBenchResult(result=result, table=format_bench_inference(result), out=settings.out)


def _quality(settings: BenchInferenceSettings, encoders: dict[str, Any]) -> dict[str, Any]:
    """Tatoeba, UD-POS probe and SIB-200 probe for torch fp32 and every int8 backend (1 thread advised)."""
    files = select_tatoeba(",".join(settings.tatoeba_langs), settings.data_dir)
    pairs = {}
    for lang, paths in files.items():
        pt = read_parallel(*paths)
        pt.src, pt.tgt = pt.src[:settings.tatoeba_limit], pt.tgt[:settings.tatoeba_limit]
        pairs[lang] = pt
    out: dict[str, Any] = {"budget": {"tatoeba_langs": list(pairs), "tatoeba_pairs": {k: len(v.src) for k, v in pairs.items()},
                                      "probe_langs": settings.probe_langs,
                                      "train_limit": settings.train_limit, "eval_limit": settings.eval_limit,
                                      "seeds": [0], "probe_layer": "mix"}, "runs": {}}
    for name, enc in encoders.items():
        if name != "torch" and not name.endswith("int8"):
            continue  # onnx fp32 gives torch fp32's vectors within 1e-4 (tests/test_backends.py)
        tat = _tatoeba(enc, pairs, settings.batch_size)
        row = {"tatoeba": {"average": float(np.mean(list(tat.values()))), "scores": tat}}
        for task in ("udpos", "sib200"):
            row[task] = _probe(enc, task, settings, name)
        out["runs"][name] = row
    base = out["runs"]["torch"]
    out["loss_points"] = {name: {k: base[k]["average"] - r[k]["average"] for k in ("tatoeba", "udpos", "sib200")}
                          for name, r in out["runs"].items() if name != "torch"}
    return out


def format_bench_inference(result: dict[str, Any]) -> str:
    """The timing table (tokens/s, speed-up, % of the GEMM limit, cosine to fp32) and, with quality, its table."""
    lim = result["gemm_limit"]["gflops"]
    lines = [f"threads {result['threads']} (1-min load {result['load_1min_at_start']:.2f}); fp32 GEMM limit "
             f"{lim:.1f} GFLOP/s; {result['flops_per_token']['total'] / 1e6:.1f} MFLOP/token",
             f"{'backend':<11} {'part':<9} {'tok/s':>8} {'x fp32':>7} {'% GEMM':>7} {'cos mean':>9} {'cos min':>8}"]
    for name, r in result["runs"].items():
        for part, p in r.items():
            lines.append(f"{name:<11} {part:<9} {p['tokens_per_s']:8.0f} {result['speedup'][name][part]:7.2f} "
                         f"{p['pct_of_gemm_limit']:7.1f} {p['cos_mean']:9.4f} {p['cos_min']:8.4f}")
    shares = result["fp32_time_shares_pct"]
    lines.append("fp32 time shares %: " + ", ".join(f"{k} {v:.1f}" for k, v in shares.items() if k != "wall_seconds"))
    q = result.get("quality")
    if q:
        lines.append(f"{'backend':<11} {'tatoeba':>8} {'udpos':>8} {'sib200':>8}")
        for name, r in q["runs"].items():
            lines.append(f"{name:<11} {r['tatoeba']['average']:8.2f} {r['udpos']['average']:8.2f} "
                         f"{r['sib200']['average']:8.2f}")
    return "\n".join(lines)
