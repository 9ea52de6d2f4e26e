"""A small convolutional encoder-decoder (U-Net with additive skips), as used for DAN/ABINet-style attention keys.

``depth`` stride-2 3×3 convs go down, mirrored upsample + 3×3 convs come back up, and each decoder level adds the
encoder map of the same size, so the output has the input's resolution but a receptive field spanning the whole
word. Works for any input size: the decoder upsamples to the skip's exact size, and a side already at 1 stays at 1.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sgtr.models.layers.conv import ConvBNAct


class UNet(nn.Module):
    """(B, in_channels, H, W) → (B, channels, H, W)."""

    def __init__(self, in_channels: int, channels: int, depth: int = 4):
        super().__init__()
        self.proj = ConvBNAct(in_channels, channels, 1)
        self.down = nn.ModuleList(ConvBNAct(channels, channels, 3, stride=2) for _ in range(depth))
        self.up = nn.ModuleList(ConvBNAct(channels, channels, 3) for _ in range(depth))

    def forward(self, x: Tensor) -> Tensor:
        skips = [self.proj(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        out = skips.pop()
        for up, skip in zip(self.up, reversed(skips)):
            out = up(F.interpolate(out, size=skip.shape[-2:], mode="nearest")) + skip
        return out
