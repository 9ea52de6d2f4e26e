"""Per-subgraph top-k pooling for GTR's contextual stage (SAGPool-style: the paper figure's "top rank select node").

A graph convolution scores every node; each subgraph keeps its best ⌈ratio · n⌉ nodes (at least one), their features
gated by tanh(score) so the scorer gets gradients, and the sub-adjacency they induce. Every subgraph has the same n,
so this is one ``topk`` and a few gathers for the whole batch. The kept nodes come out best first, which is the
spec's "node check": every subgraph keeps a node, and its best-scored one — index 0 — becomes the new root, which the
root chain links to its neighbours' new roots.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sgtr.models.gtr.conv import Adjacency, GraphConv


class TopKPooling(nn.Module):
    def __init__(self, width: int, ratio: float = 0.5):
        super().__init__()
        if not 0 < ratio <= 1:
            raise ValueError(f"pooling ratio must be in (0, 1], got {ratio}")
        self.score = GraphConv(width, 1, act=False)
        self.ratio = ratio

    def forward(self, h: Tensor, edges: Tensor, adjacency: Adjacency) -> tuple[Tensor, Tensor, Tensor]:
        """(B, T, n, d) features, (B, T, n, n) bool edges → kept features (B, T, m, d), their induced edges
        (B, T, m, m) and the new roots (B, T), all zero."""
        n = h.shape[2]
        keep = max(1, math.ceil(self.ratio * n))
        top = self.score(h, adjacency).squeeze(-1).topk(keep, dim=-1)  # sorted: best first
        index = top.indices[..., None]
        h = h.gather(2, index.expand(-1, -1, -1, h.shape[-1])) * torch.tanh(top.values)[..., None]
        edges = edges.gather(2, index.expand(-1, -1, -1, n)).gather(3, index.transpose(-1, -2).expand(-1, -1, keep, -1))
        return h, edges, torch.zeros_like(adjacency.roots)
