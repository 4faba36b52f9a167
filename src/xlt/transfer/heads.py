"""Task heads for probing frozen encoder features."""

from __future__ import annotations

import torch
from torch import nn


class ScalarMix(nn.Module):
    """Softmax-weighted sum of layer representations, times a learned scale.

    ``mix(h) = gamma * sum_l softmax(s)_l * h_l`` (Peters et al. 2018, "Deep contextualized
    word representations"; used for probing by Tenney et al. 2019).

    Args:
        n_layers: number of stacked layers the input carries.
    Input:
        ``(batch, n_layers, dim)``. Output: ``(batch, dim)``.
    """

    def __init__(self, n_layers: int):
        super().__init__()
        self.scalars = nn.Parameter(torch.zeros(n_layers))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.scalars, dim=0).to(x.dtype)
        return self.gamma * torch.einsum("bld,l->bd", x, w)

    def layer_weights(self) -> list[float]:
        """The normalised layer weights, one per layer, summing to 1."""
        return torch.softmax(self.scalars.detach(), dim=0).tolist()


class ProbeHead(nn.Module):
    """Linear or one-hidden-layer MLP classifier over (optionally layer-mixed) features.

    Args:
        dim: feature width.
        n_labels: number of classes.
        hidden: 0 for a linear probe, else the MLP's hidden width (GELU, dropout).
        n_layers: if > 1 the input is ``(batch, n_layers, dim)`` and a :class:`ScalarMix`
            combines the layers first; else the input is ``(batch, dim)``.
        dropout: dropout on the input features (and hidden layer).
    Output:
        logits ``(batch, n_labels)``.
    """

    def __init__(self, dim: int, n_labels: int, hidden: int = 0, n_layers: int = 1, dropout: float = 0.1):
        super().__init__()
        self.dim, self.n_labels, self.hidden, self.n_layers, self.dropout = dim, n_labels, hidden, n_layers, dropout
        self.mix = ScalarMix(n_layers) if n_layers > 1 else None
        if hidden:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, hidden), nn.GELU(),
                                     nn.Dropout(dropout), nn.Linear(hidden, n_labels))
        else:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, n_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mix is not None:
            x = self.mix(x)
        return self.net(x.float())
