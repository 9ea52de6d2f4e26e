"""Pyramid pooling (PSPNet): average-pool at several grid sizes, project, upsample and concatenate for global context.

The paper's segmentation head uses it on the deepest backbone level (bins 1/2/3/6).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgtr.models.layers.conv import ConvBNAct


class PyramidPooling(nn.Module):
    """Maps (B, C, H, W) to (B, out_channels, H, W): [x, pooled branches] → 3×3 fuse conv."""

    def __init__(self, in_channels: int, out_channels: int, bins: Sequence[int] = (1, 2, 3, 6),
                 branch_channels: int = 0):
        super().__init__()
        branch_channels = branch_channels or max(in_channels // len(bins), 1)
        self.bins = tuple(bins)
        # No BatchNorm on the pooled branches: a 1×1 bin holds one value per channel, which BN cannot use at batch 1.
        self.branches = nn.ModuleList(nn.Sequential(nn.Conv2d(in_channels, branch_channels, 1), nn.ReLU(inplace=True))
                                      for _ in self.bins)
        self.fuse = ConvBNAct(in_channels + branch_channels * len(self.bins), out_channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        pooled = [F.interpolate(branch(F.adaptive_avg_pool2d(x, b)), size=size, mode="bilinear", align_corners=False)
                  for b, branch in zip(self.bins, self.branches)]
        return self.fuse(torch.cat([x, *pooled], dim=1))
