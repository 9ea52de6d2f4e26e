"""GTR's node features: what each graph node knows about its pixel, gathered from the host's maps.

Four parts, concatenated:

* visual: the host's feature vector F(:, p) → Linear;
* semantic: the ordered class vector Ĝ(:, p) · Â_t(p) / max_q Â_t(q), q over the subgraph's nodes, → Linear. The
  spec's ordered feature is Ĝ·Â_t; Â_t sums to 1 over H'×W', so its values (~1/16 at a sharp peak, ~1/1000 when
  spread) are rescaled by the subgraph's largest to [0, 1]: the vector keeps its direction and "how much step t looks
  here", at a scale a linear layer can use whatever the map size;
* position (switchable): sinusoidal encoding of the normalised (x, y), half the channels each, base 1000 as in the
  official code, with coordinates in percent of the map's width and height so that the encoding resolves ~1 % steps;
* order: a learned embedding of t.

Gradients reach the host through the visual features, the class probabilities and the order maps; only the choice of
pixels (``build_graph``) is not differentiable.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sgtr.models.gtr.graph import Graph, gather_nodes
from sgtr.models.layers import sinusoid_2d


class NodeEncoder(nn.Module):
    """``forward(graph, features (B, D, H', W'), order_maps (B, T, H', W'))`` → (B, T, n, ``width``) with ``width`` =
    4 · ``part`` (3 · ``part`` without position); the class probabilities come from ``graph.classes``."""

    def __init__(self, feature_dim: int, num_classes: int, steps: int, part: int, position: bool = True,
                 position_base: float = 1000.0):
        super().__init__()
        if position and part % 4:
            raise ValueError(f"the position part needs a width divisible by 4, got {part}")
        self.visual = nn.Linear(feature_dim, part)
        self.semantic = nn.Linear(num_classes, part)
        self.order = nn.Embedding(steps, part)
        self.part, self.position, self.position_base = part, position, position_base
        self.width = part * (4 if position else 3)

    def forward(self, graph: Graph, features: Tensor, order_maps: Tensor) -> Tensor:
        b, steps, n = graph.nodes.shape
        attention = order_maps.flatten(2).gather(-1, graph.nodes)  # (B, T, n)
        peak = attention / attention.amax(dim=-1, keepdim=True).clamp_min(1e-12)
        parts = [
            self.visual(gather_nodes(features, graph.nodes)),
            self.semantic(graph.classes * peak[..., None]),
            self.order.weight[:steps, None].expand(b, -1, n, -1),
        ]
        if self.position:
            parts.append(sinusoid_2d(graph.xy * 100, self.part, self.position_base).to(parts[0].dtype))
        return torch.cat(parts, dim=-1)
