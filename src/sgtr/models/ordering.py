"""``OrderHead``: reading-order maps learned from a segmentation, for the VR and for plug-in hosts without attention.

(B, K, H', W') segmentation probabilities softmax(G) and (B, D, H', W') features F → (B, T, H', W') log order maps,
one per decoding step. The maps are position attention (a documented choice between an FCN on G and DAN-style
attention): keys come from a small U-Net over concat[softmax(G), F], queries are a learned projection of a sinusoidal
encoding of t, and A_t = softmax_p(q_t · k_p / √d), so every map sums to 1 by construction, with no separate
normalisation step and no division by a possibly-zero sum of sigmoids.

``key_ratio`` > 1 runs the U-Net on a grid that many times coarser and upsamples its keys bilinearly: order maps only
need to tell characters apart, while G carries the fine boundaries, so the keys can be cheaper than the maps.

``read_along`` is the 1-D reading of a segmentation along order maps, P[t] = Σ_p softmax(G)[:, p] · A_t[p]: the VR's
prediction, and what the plug-in supervises its segmentation head through.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgtr.models.layers import PositionAttention, UNet


class OrderHead(nn.Module):
    """``forward(seg_probs (B, K, H', W'), features (B, D, H', W')) -> (B, T, H', W')`` log-attention."""

    def __init__(self, num_classes: int, feature_channels: int, steps: int, channels: int, depth: int,
                 key_ratio: int = 1):
        super().__init__()
        if key_ratio < 1:
            raise ValueError(f"the order keys' grid ratio must be at least 1, got {key_ratio}")
        self.key_ratio = key_ratio
        self.keys = UNet(num_classes + feature_channels, channels, depth)
        self.attention = PositionAttention(channels, steps)

    def forward(self, seg_probs: Tensor, features: Tensor) -> Tensor:
        return self.attention(self.key_map(torch.cat((seg_probs, features), dim=1)))

    def key_map(self, x: Tensor) -> Tensor:
        """Keys at ``x``'s resolution, computed ``key_ratio`` times coarser."""
        ratio = self.key_ratio
        if ratio == 1:
            return self.keys(x)
        # ceil_mode only where the map does not divide: ONNX Runtime's ceil-mode AveragePool is much slower.
        ceil = bool(x.shape[-2] % ratio or x.shape[-1] % ratio)
        keys = self.keys(F.avg_pool2d(x, ratio, ceil_mode=ceil))
        return F.interpolate(keys, size=x.shape[-2:], mode="bilinear", align_corners=False)


def read_along(seg_probs: Tensor, order_maps: Tensor, eps: float = 1e-6) -> Tensor:
    """(B, K, H', W') class probabilities and (B, T, H', W') order maps → (B, T, K) log(P + eps)."""
    return torch.log(torch.einsum("bkp,btp->btk", seg_probs.flatten(2), order_maps.flatten(2)) + eps)
