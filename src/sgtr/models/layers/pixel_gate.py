"""``PixelGate``: the segmentation head's light "position attention", x ← x + x ⊙ conv1×1(conv3×3(x)).

Each pixel and channel of a feature map is rescaled by a factor computed from its 3×3 neighbourhood, so the head can
emphasise where characters are before classifying them. (Not to be confused with ``PositionAttention``, the per-step
queries of the reading-order maps.) The 1×1 conv starts at zero, so the gate starts as the identity and a model
with it trains like one without it at first.
"""

from __future__ import annotations

from torch import Tensor, nn

from sgtr.models.layers.conv import ConvBNAct


class PixelGate(nn.Module):
    """(B, C, H, W) → (B, C, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.context = ConvBNAct(channels, channels, 3)
        self.scale = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.scale.weight)
        nn.init.zeros_(self.scale.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + x * self.scale(self.context(x))
