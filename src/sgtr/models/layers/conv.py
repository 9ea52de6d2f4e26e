"""The conv → BatchNorm → ReLU unit the other blocks are made of."""

from __future__ import annotations

from torch import nn


class ConvBNAct(nn.Sequential):
    """``kernel``×``kernel`` convolution (same padding, no bias: BN supplies it), BatchNorm and optionally ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, act: bool = True):
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)
