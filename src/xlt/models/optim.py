"""Optimisation helpers shared by every trainer that updates encoder weights.

Task fine-tuning (:mod:`xlt.transfer.finetune`) and fine-tuning alignment
(:mod:`xlt.align.finetune`) both use :func:`linear_warmup_decay`; it lives here, in the models
layer, so that neither imports the other.
"""

from __future__ import annotations

import torch


def linear_warmup_decay(opt: torch.optim.Optimizer, total_steps: int, warmup: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning-rate schedule: linear warm-up over the first ``warmup`` share of ``total_steps``,
    then linear decay to 0 (BERT's schedule, Devlin et al. 2019)."""
    n_warm = int(warmup * total_steps)

    def schedule(step: int) -> float:
        if step < n_warm:
            return (step + 1) / max(1, n_warm)
        return max(0.0, (total_steps - step) / max(1, total_steps - n_warm))

    return torch.optim.lr_scheduler.LambdaLR(opt, schedule)


__all__ = ["linear_warmup_decay"]
