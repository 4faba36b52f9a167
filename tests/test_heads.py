"""Tests for xlt.transfer.heads: ScalarMix and ProbeHead."""

from __future__ import annotations

import math

import pytest
import torch

from xlt.transfer.heads import ProbeHead, ScalarMix


def test_scalar_mix_weights_sum_to_one_and_match_softmax():
    mix = ScalarMix(3)
    # untrained: all scalars 0 -> uniform weights
    assert mix.layer_weights() == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    with torch.no_grad():
        mix.scalars.copy_(torch.tensor([0.0, math.log(2.0), math.log(3.0)]))
    w = mix.layer_weights()
    assert sum(w) == pytest.approx(1.0)
    # softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6
    assert w == pytest.approx([1 / 6, 2 / 6, 3 / 6], abs=1e-6)


def test_scalar_mix_output_equals_hand_computation():
    mix = ScalarMix(3)
    with torch.no_grad():
        mix.scalars.copy_(torch.tensor([0.0, math.log(2.0), math.log(3.0)]))
        mix.gamma.fill_(2.0)
    # batch of 2, 3 layers, dim 2
    x = torch.tensor([
        [[6.0, 0.0], [0.0, 6.0], [6.0, 6.0]],
        [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
    ])
    out = mix(x)
    # row 0: 2 * (1/6*[6,0] + 2/6*[0,6] + 3/6*[6,6]) = 2 * [1+3, 2+3] = [8, 10]
    # row 1: 2 * (1/6*[1,2] + 2/6*[3,4] + 3/6*[5,6]) = 2 * [22/6, 28/6] = [22/3, 28/3]
    expected = torch.tensor([[8.0, 10.0], [22 / 3, 28 / 3]])
    assert out.shape == (2, 2)
    assert torch.allclose(out, expected, atol=1e-5)


def test_scalar_mix_is_differentiable_in_scalars_and_gamma():
    mix = ScalarMix(2)
    x = torch.tensor([[[1.0], [3.0]]])
    mix(x).sum().backward()
    # d/dgamma = mean of layers = 2; d/ds0 = gamma * w0 * (h0 - mix) = 0.5 * (1 - 2) = -0.5
    assert mix.gamma.grad.item() == pytest.approx(2.0)
    assert mix.scalars.grad.tolist() == pytest.approx([-0.5, 0.5])


@pytest.mark.parametrize("hidden", [0, 8])
def test_probe_head_shapes_2d_and_3d(hidden):
    torch.manual_seed(0)
    head2 = ProbeHead(dim=6, n_labels=4, hidden=hidden, n_layers=1).eval()
    assert head2.mix is None
    assert head2(torch.randn(5, 6)).shape == (5, 4)

    head3 = ProbeHead(dim=6, n_labels=4, hidden=hidden, n_layers=3).eval()
    assert isinstance(head3.mix, ScalarMix)
    assert head3(torch.randn(5, 3, 6)).shape == (5, 4)
    # float16 storage is accepted (the probe stores features as float16) and gives float32
    assert head3(torch.randn(5, 3, 6).half()).dtype == torch.float32


def test_probe_head_3d_uses_the_mix():
    """With all mix weight on one layer, the head output depends only on that layer."""
    torch.manual_seed(0)
    head = ProbeHead(dim=4, n_labels=3, n_layers=2, dropout=0.0).eval()
    with torch.no_grad():
        head.mix.scalars.copy_(torch.tensor([0.0, -1e4]))
    a, b = torch.randn(7, 4), torch.randn(7, 4)
    x1 = torch.stack([a, b], dim=1)
    x2 = torch.stack([a, torch.randn(7, 4)], dim=1)
    assert torch.allclose(head(x1), head(x2), atol=1e-6)
    assert torch.allclose(head(x1), head.net(a), atol=1e-6)


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_linear_vs_mlp_parameter_counts():
    dim, n_labels, hidden = 10, 5, 7
    linear = ProbeHead(dim, n_labels, hidden=0)
    mlp = ProbeHead(dim, n_labels, hidden=hidden)
    assert n_params(linear) == dim * n_labels + n_labels  # W + b
    assert n_params(mlp) == (dim * hidden + hidden) + (hidden * n_labels + n_labels)
    # a scalar mix over 4 layers adds 4 scalars and 1 gamma
    assert n_params(ProbeHead(dim, n_labels, hidden=0, n_layers=4)) == dim * n_labels + n_labels + 5


def test_dropout_only_in_train_mode():
    torch.manual_seed(0)
    head = ProbeHead(8, 3, hidden=16, dropout=0.5)
    x = torch.randn(4, 8)
    head.eval()
    assert torch.equal(head(x), head(x))
    head.train()
    outs = [head(x) for _ in range(5)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])
