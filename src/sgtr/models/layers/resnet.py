"""A ResNet-style backbone of basic residual blocks, configurable per stage, that returns every level it computes.

The stem (3×3 convs, the first with stride 2) downsamples at once so no heavy work runs at full resolution; each
stage then has its own width, depth and stride. All levels (stem included) are returned with their cumulative
strides, so an FPN can pick the ones at or above its output stride.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from sgtr.models.layers.conv import ConvBNAct


class BasicBlock(nn.Module):
    """Two 3×3 convs with an identity (or 1×1 projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            ConvBNAct(in_channels, out_channels, 3, stride),
            ConvBNAct(out_channels, out_channels, 3, act=False),
        )
        # Zero-init the last BN so each block starts as the identity: deep stacks then train from step one.
        nn.init.zeros_(self.body[1][1].weight)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = ConvBNAct(in_channels, out_channels, 1, stride, act=False)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    """Stem + stages of ``BasicBlock``s. ``forward`` returns ``[stem, stage1, ...]``; see ``channels``/``strides``."""

    def __init__(self, stem: Sequence[int], widths: Sequence[int], depths: Sequence[int], strides: Sequence[int],
                 in_channels: int = 3):
        super().__init__()
        if not (len(widths) == len(depths) == len(strides)):
            raise ValueError(f"widths {widths}, depths {depths} and strides {strides} must have one entry per stage")
        if not stem:
            raise ValueError("the stem needs at least one conv")
        convs, prev = [], in_channels
        for i, width in enumerate(stem):
            convs.append(ConvBNAct(prev, width, 3, stride=2 if i == 0 else 1))
            prev = width
        self.stem = nn.Sequential(*convs)
        self.stages = nn.ModuleList()
        self.channels, self.strides = [prev], [2]
        for width, depth, stride in zip(widths, depths, strides):
            blocks = [BasicBlock(prev, width, stride)] + [BasicBlock(width, width) for _ in range(depth - 1)]
            self.stages.append(nn.Sequential(*blocks))
            self.channels.append(width)
            self.strides.append(self.strides[-1] * stride)
            prev = width

    def forward(self, x: Tensor) -> list[Tensor]:
        levels = [self.stem(x)]
        for stage in self.stages:
            levels.append(stage(levels[-1]))
        return levels
