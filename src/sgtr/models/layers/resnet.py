"""A ResNet-style backbone of residual blocks, configurable per stage, that returns every level it computes.

The stem (3×3 convs, the first with stride 2) downsamples at once so no heavy work runs at full resolution; each
stage then has its own width, depth and stride. All levels (stem included) are returned with their cumulative
strides, so an FPN can pick the ones at or above its output stride.

Two block types: ``basic`` (two 3×3 convs; a stage's output has its width) and ``bottleneck`` (ResNet-50's 1×1 →
3×3 → 1×1, whose output is ``Bottleneck.expansion`` = 4 times the stage's width, the "planes").
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from sgtr.models.layers.conv import ConvBNAct


class BasicBlock(nn.Module):
    """Two 3×3 convs with an identity (or 1×1 projection) shortcut."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            ConvBNAct(in_channels, planes, 3, stride),
            ConvBNAct(planes, planes, 3, act=False),
        )
        self.shortcut = shortcut(in_channels, planes, stride)
        # Zero-init the last BN so each block starts as the identity: deep stacks then train from step one.
        nn.init.zeros_(self.body[-1][1].weight)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """ResNet-50's block: 1×1 to ``planes``, 3×3 (carrying the stride), 1×1 to ``4 · planes``, plus the shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1):
        super().__init__()
        out_channels = planes * self.expansion
        self.body = nn.Sequential(
            ConvBNAct(in_channels, planes, 1),
            ConvBNAct(planes, planes, 3, stride),
            ConvBNAct(planes, out_channels, 1, act=False),
        )
        self.shortcut = shortcut(in_channels, out_channels, stride)
        nn.init.zeros_(self.body[-1][1].weight)  # starts as the identity, as in ``BasicBlock``
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.body(x) + self.shortcut(x))


def shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """The identity, or a strided 1×1 projection when the block changes the size or the width."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return ConvBNAct(in_channels, out_channels, 1, stride, act=False)


BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNet(nn.Module):
    """Stem + stages of ``block``s. ``forward`` returns ``[stem, stage1, ...]``; see ``channels``/``strides``."""

    def __init__(self, stem: Sequence[int], widths: Sequence[int], depths: Sequence[int], strides: Sequence[int],
                 in_channels: int = 3, block: str = "basic"):
        super().__init__()
        if not (len(widths) == len(depths) == len(strides)):
            raise ValueError(f"widths {widths}, depths {depths} and strides {strides} must have one entry per stage")
        if not stem:
            raise ValueError("the stem needs at least one conv")
        if block not in BLOCKS:
            raise ValueError(f"unknown residual block {block!r}; choose one of: {', '.join(BLOCKS)}")
        unit = BLOCKS[block]
        convs, prev = [], in_channels
        for i, width in enumerate(stem):
            convs.append(ConvBNAct(prev, width, 3, stride=2 if i == 0 else 1))
            prev = width
        self.stem = nn.Sequential(*convs)
        self.stages = nn.ModuleList()
        self.channels, self.strides = [prev], [2]
        for width, depth, stride in zip(widths, depths, strides):
            out = width * unit.expansion
            blocks = [unit(prev, width, stride)] + [unit(out, width) for _ in range(depth - 1)]
            self.stages.append(nn.Sequential(*blocks))
            self.channels.append(out)
            self.strides.append(self.strides[-1] * stride)
            prev = out

    def forward(self, x: Tensor) -> list[Tensor]:
        levels = [self.stem(x)]
        for stage in self.stages:
            levels.append(stage(levels[-1]))
        return levels
