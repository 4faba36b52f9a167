"""Best-epoch selection vs checkpoint averaging for zero-shot fine-tuning, from one training run.

Checkpoint averaging (Schmidt, Vulić and Glavaš 2023, "Free Lunch: Robust Cross-Lingual Transfer
via Model Checkpoint Averaging", ACL) returns the mean of the weights at several points of one
fine-tuning run instead of the single checkpoint that scores best on source-language dev data.
``xlt transfer --ckpt-avg N`` averages the last N epoch ends; this script trains once, exactly as
``xlt transfer --mode finetune`` does (:class:`xlt.transfer.training.FinetuneTrainer`, same data,
encoding, seed and schedule), keeps the weights at every epoch end, and then scores several ways of
combining them on the source dev set and every target, so they are compared on the same run:

* ``best``: the epoch with the best source-dev score (``xlt transfer``'s default);
* ``last``: the last epoch;
* ``avg:A-B``: the mean of the epoch-end weights of epochs A..B (``avg:3-5`` after 5 epochs is
  ``xlt transfer --epochs 5 --ckpt-avg 3``).

Two phases, so a long training run is not repeated to score other variants or more data::

    python benchmarks/ckpt_avg_compare.py train --task panx --epochs 5 --bf16 --work runs/ca-panx
    python benchmarks/ckpt_avg_compare.py eval --work runs/ca-panx --eval-limit 1000 \\
        --variants best,last,avg:1-5,avg:3-5 --out runs/ca-panx/limit1000.json

``eval --work A,B,...`` averages each variant's weights over several runs of the same settings with
other seeds (``train --seed N``): run averaging, the paper's "CA + RA". Runs trained with one
``--seed`` and other ``--data-seed`` values start from the same weights, task head included, and
differ only in the order of the data: their average is a model soup (Wortsman et al. 2022).
``eval --work A,B,... --ensemble`` keeps the runs apart instead: each run's variant is scored on
its own, and their ensemble averages the runs' label probabilities (the equal-weight linear
opinion pool of :func:`xlt.transfer.ensemble.ensemble_proba`), from the same forward passes.

Every variant is scored from one set of label probabilities per language (kept under
``probas-VARIANT-LIMIT/`` in the run's folder, or in ``soup-...`` beside it for a soup) in each of
the ``--decodings`` (:mod:`xlt.transfer.decoding`): ``argmax`` (reported under the variant's own
name) and ``bio``, the Viterbi path under the BIO constraints (under ``VARIANT+bio``).

``train`` writes ``snapshot-E.pt`` (the trained parameters, without the frozen word embeddings)
for every epoch E and ``train.json`` (settings, per-epoch loss and source-dev score, times) into
``--work``; ``eval`` writes one JSON with each variant's source-dev score, per-target scores and
average over the targets.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _config(args, eval_limit):
    """The ``xlt transfer --mode finetune`` settings of this comparison."""
    from xlt.jobs.transfer import TransferConfig

    return TransferConfig(task=args.task, source=args.source, targets=args.targets, mode="finetune",
                          epochs=args.epochs, lr=args.lr, bf16=args.bf16, seeds=[args.seed],
                          train_limit=args.train_limit, eval_limit=eval_limit, data_dir=args.data_dir,
                          progress=True)


def _trainer(cfg_obj, ds, encoder, on_epoch_end=None, data_seed=None):
    """A :class:`FinetuneTrainer` set up as ``xlt transfer`` sets it up (no checkpoints; ``data_seed``:
    the data order's own seed, see :func:`xlt.transfer.finetune.finetune`)."""
    from xlt.jobs.parts import finetune_training
    from xlt.transfer.finetune import resolve_micro_batch_size
    from xlt.transfer.training import FinetuneTrainer

    extra = {"data_seed": data_seed} if data_seed is not None else {}
    training = finetune_training(cfg_obj, ds.kind.name, checkpoint_dir=None,
                                 micro_batch_size=resolve_micro_batch_size(cfg_obj.micro_batch_size), **extra)
    return FinetuneTrainer(encoder, ds, training, on_epoch_end=on_epoch_end), training


def train(args) -> None:
    """Fine-tune once and keep the trained parameters at every epoch end."""
    from xlt.jobs.transfer import load_dataset_for
    from xlt.models.loading import load_encoder

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if (work / "train.json").exists():
        raise SystemExit(f"{work / 'train.json'} exists: this work folder holds a finished run")
    config = _config(args, args.dev_limit)
    ds = load_dataset_for(config)
    encoder = load_encoder(config.model, device="cpu")
    epoch_times = []
    t0 = time.time()

    def keep_snapshot(seed, epoch, record, model):
        # the trained parameters only (the frozen word embeddings are the encoder's)
        state = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}
        torch.save(state, work / f"snapshot-{epoch}.pt")
        epoch_times.append(time.time() - t0)

    trainer, cfg = _trainer(config, ds, encoder, on_epoch_end=keep_snapshot, data_seed=args.data_seed)
    trainer.train([args.seed])
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "progress"}
    out = {"settings": dict(settings, train_limit=config.train_limit), "task": ds.name, "source": ds.source,
           "seed": args.seed, "dev_limit": args.dev_limit, "history": trainer.histories[args.seed], "epoch_end_seconds": epoch_times,
           "seconds": time.time() - t0, "train_sentences": len(ds.train.examples)}
    (work / "train.json").write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps(out, indent=1, default=str))


def _variant_state(work: Path, variant: str, history: list[dict]) -> tuple[dict, list[int]]:
    """The trained parameters of ``variant`` (mean over its epochs' snapshots) and those epochs."""
    epochs = [h["epoch"] for h in history]
    if variant == "best":
        chosen = [max(history, key=lambda h: h["dev"])["epoch"]]
    elif variant == "last":
        chosen = [epochs[-1]]
    elif variant.startswith("avg:"):
        a, b = (int(x) for x in variant[4:].split("-"))
        chosen = list(range(a, b + 1))
        if not set(chosen) <= set(epochs):
            raise SystemExit(f"{variant}: epochs {chosen} not all in 1..{epochs[-1]}")
    else:
        raise SystemExit(f"unknown variant {variant!r} (best, last, avg:A-B)")
    return _mean([torch.load(work / f"snapshot-{e}.pt") for e in chosen]), chosen


def _mean(states: list[dict]) -> dict:
    """The parameter-wise mean of several state dicts with the same keys and shapes."""
    return {k: sum(st[k] for st in states) / len(states) for k in states[0]}


def _soup(works: list[Path], variant: str) -> tuple[dict, dict]:
    """``variant``'s parameters averaged over the runs in ``works`` (run averaging, Schmidt et al.
    2023: the runs differ in seed only), and the epochs used in each run."""
    states, chosen = [], {}
    for w in works:
        info = json.loads((w / "train.json").read_text())
        state, chosen[str(w)] = _variant_state(w, variant, info["history"])
        states.append(state)
    return _mean(states), chosen


def evaluate(args) -> None:
    """Score every variant on the source dev set and the (limited) target sets."""
    from xlt.data.kinds import TOKEN
    from xlt.core.metrics import score
    from xlt.jobs.transfer import load_dataset_for
    from xlt.models.loading import load_encoder
    from xlt.transfer.decoding import check_decoding
    from xlt.transfer.finetune import build_classifier
    from xlt.transfer.model import decode_probas

    args.decodings = [check_decoding(d) for d in args.decodings.split(",")]
    works = [Path(w) for w in args.work.split(",")]
    work = works[0]
    info = json.loads((work / "train.json").read_text())
    s = info["settings"]
    from dataclasses import fields

    from xlt.jobs.transfer import TransferConfig

    # a setting added to xlt after a run was trained is absent from its train.json: read it as the default
    default = {f.name: f.default for f in fields(TransferConfig) if not callable(f.default_factory)}
    for w in works[1:]:  # run averaging: the same settings and data, another seed or data order
        other = json.loads((w / "train.json").read_text())["settings"]
        diff = {k for k in set(s) | set(other)
                if k not in ("seeds", "data_seed") and s.get(k, default.get(k)) != other.get(k, default.get(k))}
        if diff:
            raise SystemExit(f"{w} was trained with other settings ({', '.join(sorted(diff))}) than {work}")
    for k in ("epochs", "lr", "bf16", "train_limit"):
        setattr(args, k, s.get(k))
    args.task, args.source, args.seed = info["task"], info["source"], info["seed"]
    config = _config(args, args.eval_limit)
    ds = load_dataset_for(config)
    # the source dev set as in training (the whole set unless training limited it)
    dev_limit = info.get("dev_limit")
    full_dev = load_dataset_for(_config(args, dev_limit)).dev if args.eval_limit != dev_limit else ds.dev
    encoder = load_encoder(config.model, device="cpu")
    trainer, _ = _trainer(config, ds, encoder)
    model = build_classifier(encoder, ds.labels, ds.kind is TOKEN, s.get("pooling", "mean"))
    trainer.models[0] = trainer._wrap(model, 0)
    results = {"work": [str(w) for w in works], "eval_limit": args.eval_limit, "train": info, "variants": {}}
    if args.ensemble:
        if len(works) < 2:
            raise SystemExit("--ensemble needs two or more --work folders")
        _evaluate_ensemble(args, works, ds, full_dev, encoder, trainer, results)
        return
    # a soup's probabilities are kept beside its first run, under the names of the others
    cache_root = work if len(works) == 1 else work / ("soup-" + "+".join(w.name for w in works[1:]))
    for variant in args.variants.split(","):
        state, chosen = _soup(works, variant) if len(works) > 1 else _variant_state(work, variant, info["history"])
        missing = model.load_state_dict(state, strict=False)
        assert not missing.unexpected_keys, missing.unexpected_keys
        model.eval()
        t0 = time.time()
        scores: dict[str, dict] = {d: {} for d in args.decodings}
        first: dict[str, dict] = {d: {} for d in args.decodings}
        # ``ds.eval`` holds the source too (its limited dev set): the full one is scored instead
        for lang, split in [(ds.source, full_dev)] + [(l, sp) for l, sp in ds.eval.items() if l != ds.source]:
            if not split.examples:
                continue
            probas = _cached_proba(cache_root, variant, lang, args.eval_limit,
                                   lambda split=split: trainer.evaluate_proba(split)[0][0])
            gold = ds.kind.gold(split.examples)
            for d in args.decodings:
                preds = decode_probas(ds.kind, ds.labels, probas, d)
                scores[d][lang] = score(ds.metric, gold, preds)
                if args.also_limit and lang != ds.source:  # what ``--eval-limit N`` would have scored
                    first[d][lang] = score(ds.metric, gold[:args.also_limit], preds[:args.also_limit])
        for d in args.decodings:
            key = _key(variant, d)
            targets = [l for l in scores[d] if l != ds.source]
            results["variants"][key] = {"epochs": chosen, "decoding": d, "source_dev": scores[d][ds.source],
                                        "average": float(np.mean([scores[d][l] for l in targets])),
                                        "n_targets": len(targets), "scores": scores[d],
                                        "seconds": time.time() - t0}
            if first[d]:
                results["variants"][key][f"first_{args.also_limit}"] = {
                    "average": float(np.mean(list(first[d].values()))), "scores": first[d]}
            print(f"{key:>14} epochs {chosen}: source dev {scores[d][ds.source]:.2f}, "
                  f"average over {len(targets)} targets {results['variants'][key]['average']:.2f}", flush=True)
        Path(args.out).write_text(json.dumps(results, indent=1, default=str))


def _key(variant: str, decoding: str) -> str:
    """The results entry of a variant decoded one way: the variant's name for ``argmax`` (what this
    script reported before decodings were compared), ``VARIANT+DECODING`` otherwise."""
    return variant if decoding == "argmax" else f"{variant}+{decoding}"


def _cached_proba(work: Path, variant: str, lang: str, limit, compute) -> list[np.ndarray]:
    """One run's probabilities for one language, kept in ``work/probas-VARIANT-LIMIT/LANG.npz`` so an
    ensemble with a later run only runs the new member (rows of all examples stacked, plus lengths)."""
    f = work / f"probas-{variant.replace(':', '')}-{limit or 'full'}" / f"{lang}.npz"
    f.parent.parent.mkdir(exist_ok=True)
    if f.exists():
        z = np.load(f)
        return np.split(z["rows"], np.cumsum(z["lengths"])[:-1]) if z["token"] else list(z["rows"])
    probas = compute()
    f.parent.mkdir(exist_ok=True)
    token = probas[0].ndim == 2
    rows = np.concatenate(probas) if token else np.stack(probas)
    tmp = f.with_suffix(".tmp.npz")
    np.savez(tmp, rows=rows, lengths=np.array([len(p) for p in probas]), token=token)
    tmp.replace(f)
    return probas


def _evaluate_ensemble(args, works, ds, full_dev, encoder, trainer, results) -> None:
    """Score each run's variant alone and the ensemble of the runs (mean of their probabilities)."""
    from xlt.data.kinds import TOKEN
    from xlt.core.metrics import score
    from xlt.transfer.ensemble import mean_proba
    from xlt.transfer.finetune import build_classifier, encode_examples
    from xlt.transfer.model import decode_probas

    s = results["train"]["settings"]
    for variant in args.variants.split(","):
        members, chosen = [], {}
        for i, w in enumerate(works):
            state, chosen[str(w)] = _variant_state(w, variant, json.loads((w / "train.json").read_text())["history"])
            model = build_classifier(encoder, ds.labels, ds.kind is TOKEN, s.get("pooling", "mean"))
            missing = model.load_state_dict(state, strict=False)
            assert not missing.unexpected_keys, missing.unexpected_keys
            model.eval()
            members.append(trainer._wrap(model, i))
        t0 = time.time()
        names = [f"run{i}" for i in range(len(members))] + ["ensemble"]
        keys = [_key(n, d) for n in names for d in args.decodings]
        scores: dict[str, dict] = {k: {} for k in keys}
        first: dict[str, dict] = {k: {} for k in keys}
        for lang, split in [(ds.source, full_dev)] + [(l, sp) for l, sp in ds.eval.items() if l != ds.source]:
            if not split.examples:
                continue
            @functools.cache  # tokenised only when a member's probabilities are not cached
            def enc(split=split):
                return encode_examples(encoder, ds.kind, split.examples, None, encoder.max_length,
                                       word_pieces=trainer.word_pieces)

            probas = [_cached_proba(w, variant, lang, args.eval_limit,
                                    lambda m=m, n=n: trainer._proba(m, enc(), f"predict {lang} ({n})"))
                      for w, m, n in zip(works, members, names)]
            pooled = mean_proba(probas)
            gold = ds.kind.gold(split.examples)
            for n, p in zip(names, probas + [pooled]):
                for d in args.decodings:
                    preds = decode_probas(ds.kind, ds.labels, p, d)
                    scores[_key(n, d)][lang] = score(ds.metric, gold, preds)
                    if args.also_limit and lang != ds.source:
                        first[_key(n, d)][lang] = score(ds.metric, gold[:args.also_limit], preds[:args.also_limit])
        out = {}
        for n in scores:
            targets = [l for l in scores[n] if l != ds.source]
            out[n] = {"source_dev": scores[n][ds.source], "average": float(np.mean([scores[n][l] for l in targets])),
                      "n_targets": len(targets), "scores": scores[n]}
            if first[n]:
                out[n][f"first_{args.also_limit}"] = {"average": float(np.mean(list(first[n].values()))),
                                                     "scores": first[n]}
            print(f"{variant:>10} {n:>8}: source dev {out[n]['source_dev']:.2f}, "
                  f"average over {len(targets)} targets {out[n]['average']:.2f}", flush=True)
        results["variants"][variant] = {"epochs": chosen, "members": [str(w) for w in works], **out,
                                        "seconds": time.time() - t0}
        Path(args.out).write_text(json.dumps(results, indent=1, default=str))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="phase", required=True)
    t = sub.add_parser("train")
    t.add_argument("--task", default="panx")
    t.add_argument("--source", default="en")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--bf16", action="store_true")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-seed", type=int, help="seed of the data order alone (default: --seed); runs with "
                   "one --seed and other --data-seed values share their initial weights, head included")
    t.add_argument("--train-limit", type=int)
    t.add_argument("--dev-limit", type=int, help="first N source dev sentences only (quick checks)")
    for q in (t, sub.add_parser("eval")):
        q.add_argument("--work", required=True, help="the run's folder; eval: several, comma-separated, "
                       "average the variant over those runs (run averaging; same settings, other seeds)")
        q.add_argument("--targets", default="all")
        q.add_argument("--data-dir")
    e = sub.choices["eval"]
    e.add_argument("--eval-limit", type=int)
    e.add_argument("--variants", default="best,last")
    e.add_argument("--ensemble", action="store_true", help="with several --work runs: score each run and the "
                   "ensemble of their probabilities instead of averaging their weights")
    e.add_argument("--also-limit", type=int, help="also score each target's first N sentences (as --eval-limit N)")
    e.add_argument("--decodings", default="argmax,bio",
                   help="comma-separated decodings (xlt.transfer.decoding) scored from the same probabilities; "
                        "results of VARIANT decoded as argmax are under VARIANT, others under VARIANT+DECODING")
    e.add_argument("--out", required=True)
    args = p.parse_args()
    train(args) if args.phase == "train" else evaluate(args)


if __name__ == "__main__":
    main()
