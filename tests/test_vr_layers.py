"""The reusable blocks under every model: backbone levels, FPN, U-Net, position attention, sinusoidal encodings."""

from __future__ import annotations

import pytest
import torch

from sgtr.models.layers import (
    FPN,
    PositionAttention,
    PyramidPooling,
    ResNet,
    UNet,
    sinusoid,
    sinusoid_2d,
    sinusoid_grid,
)


def test_resnet_reports_the_levels_it_returns():
    net = ResNet(stem=(8, 8), widths=(16, 32), depths=(1, 2), strides=(2, 1))
    levels = net(torch.zeros(2, 3, 32, 64))
    assert net.strides == [2, 4, 4] and net.channels == [8, 16, 32]
    assert [tuple(x.shape[1:]) for x in levels] == [(8, 16, 32), (16, 8, 16), (32, 8, 16)]


def test_fpn_merges_to_the_requested_stride():
    net = ResNet(stem=(8,), widths=(16, 32), depths=(1, 1), strides=(2, 2))
    fpn = FPN(net.channels, net.strides, 12, out_stride=4)
    assert fpn(net(torch.zeros(1, 3, 32, 64))).shape == (1, 12, 8, 16)
    with pytest.raises(ValueError):
        FPN(net.channels, net.strides, 12, out_stride=16)


def test_unet_and_ppm_keep_the_size_even_when_odd():
    x = torch.zeros(2, 5, 7, 13)
    assert UNet(5, 8, depth=4)(x).shape == (2, 8, 7, 13)
    assert PyramidPooling(5, 6, bins=(1, 2, 3))(x).shape == (2, 6, 7, 13)
    assert PyramidPooling(5, 6, bins=(1, 2))(x[:1]).shape == (1, 6, 7, 13)  # trains at batch 1 too


def test_position_attention_maps_are_distributions():
    log_maps = PositionAttention(16, steps=5)(torch.randn(3, 16, 4, 6))
    assert log_maps.shape == (3, 5, 4, 6)
    torch.testing.assert_close(log_maps.exp().sum(dim=(-2, -1)), torch.ones(3, 5))


def test_sinusoid_values_and_layouts():
    enc = sinusoid(torch.tensor([0.0, 1.0]), 4, base=100.0)
    torch.testing.assert_close(enc[0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    torch.testing.assert_close(enc[1], torch.tensor([torch.sin(torch.tensor(1.0)), torch.cos(torch.tensor(1.0)),
                                                     torch.sin(torch.tensor(0.1)), torch.cos(torch.tensor(0.1))]))
    points = torch.tensor([[3.0, 5.0]])
    both = sinusoid_2d(points, 8)
    torch.testing.assert_close(both[0, :4], sinusoid(torch.tensor(3.0), 4))
    torch.testing.assert_close(both[0, 4:], sinusoid(torch.tensor(5.0), 4))
    grid = sinusoid_grid(2, 3, 8)
    assert grid.shape == (8, 2, 3)
    torch.testing.assert_close(grid[:, 1, 2], sinusoid_2d(torch.tensor([2.0, 1.0]), 8))
    with pytest.raises(ValueError):
        sinusoid(torch.zeros(1), 3)
