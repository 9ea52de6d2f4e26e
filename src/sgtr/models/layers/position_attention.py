"""Position attention: one query per decoding step attends over the pixels of a key map.

Queries are a fixed sinusoidal encoding of the step index through a learned linear map (ABINet's position attention);
the attention of step t over pixels p is softmax_p(q_t · k_p / √d), so each map sums to 1 by construction and all T
maps come from one batched product.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sgtr.models.layers.positional import sinusoid


class PositionAttention(nn.Module):
    """(B, d, H, W) keys → (B, T, H, W) log-attention; ``exp`` of it sums to 1 over each map's pixels."""

    def __init__(self, channels: int, steps: int):
        super().__init__()
        self.register_buffer("steps", sinusoid(torch.arange(steps), channels), persistent=False)
        self.query = nn.Linear(channels, channels)
        self.scale = 1.0 / math.sqrt(channels)

    def forward(self, keys: Tensor) -> Tensor:
        b, d, h, w = keys.shape
        q = self.query(self.steps)  # (T, d)
        scores = torch.einsum("td,bdp->btp", q, keys.flatten(2)) * self.scale
        return scores.log_softmax(dim=-1).view(b, -1, h, w)
