"""Feature pyramid: merges backbone levels top-down into a single map at a chosen output stride.

Each level at or above the output stride gets a 1×1 lateral to ``channels``; from the deepest level down, the running
map is upsampled (bilinear, to the next level's size) and added, then one 3×3 conv smooths the result. Levels finer
than the output stride are not used. Keeping ``channels`` small keeps the high-resolution end cheap.
"""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from sgtr.models.layers.conv import ConvBNAct


class FPN(nn.Module):
    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], channels: int, out_stride: int):
        super().__init__()
        used = [i for i, s in enumerate(in_strides) if s >= out_stride]
        if not used or in_strides[used[0]] != out_stride:
            raise ValueError(f"output stride {out_stride} must be one of the input strides {list(in_strides)}")
        self.used = used
        self.laterals = nn.ModuleList(ConvBNAct(in_channels[i], channels, 1) for i in used)
        self.smooth = ConvBNAct(channels, channels, 3)

    def forward(self, levels: Sequence[Tensor]) -> Tensor:
        """``levels`` ordered fine to coarse, as ``ResNet`` returns them; output at the finest used level's size."""
        out = None
        for i, lateral in zip(reversed(self.used), reversed(self.laterals)):
            x = lateral(levels[i])
            if out is not None:
                if out.shape[-2:] != x.shape[-2:]:
                    out = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
                x = x + out
            out = x
        return self.smooth(out)
