"""GTR's graph reasoning network: spatial stage, adjacency update, contextual stage, per-character readout.

* spatial stage: a stack of ``GraphConv`` layers over the built graph — mostly intra-character reasoning, since only
  the roots link subgraphs;
* adjacency update: each subgraph's kNN edges are rebuilt from the new node features (cosine distance, same k);
  roots and the root chain are kept;
* contextual stage: ``blocks`` blocks of two ``GraphConv`` layers then, with pooling on, per-subgraph top-k pooling
  that halves every subgraph and re-roots it at its best node, so information concentrates where the chain carries it
  between characters;
* readout: after every block, [mean ‖ max] over each subgraph's surviving nodes; the blocks' readouts are summed into
  the per-character hidden state H_G (B, T, 2·width).

Subgraphs past the first background-reading step are carried along but isolated (``conv``): every layer's
normalisation and the root chain see only the valid ones.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from sgtr.models.gtr.conv import Adjacency, GraphConv
from sgtr.models.gtr.graph import Graph, cosine_similarity, knn_edges
from sgtr.models.gtr.pooling import TopKPooling


class ContextBlock(nn.Module):
    def __init__(self, width: int, pooling: bool, ratio: float):
        super().__init__()
        self.convs = nn.ModuleList([GraphConv(width, width), GraphConv(width, width)])
        self.pool = TopKPooling(width, ratio) if pooling else None

    def forward(self, h: Tensor, edges: Tensor, roots: Tensor, chain: bool, valid: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
        adjacency = Adjacency.normalise(edges, roots, chain, valid)
        for conv in self.convs:
            h = conv(h, adjacency)
        if self.pool is None:
            return h, edges, roots
        return self.pool(h, edges, adjacency)


class GraphReasoning(nn.Module):
    """``forward(x (B, T, n, in_width), graph) -> H_G (B, T, 2 · spatial[-1])``."""

    def __init__(self, in_width: int, spatial: Sequence[int], blocks: int, neighbours: int, root_chain: bool = True,
                 pooling: bool = True, ratio: float = 0.5):
        super().__init__()
        if not spatial or blocks < 1:
            raise ValueError(f"GTR needs at least one spatial layer and one contextual block, got {spatial}, {blocks}")
        widths = [in_width, *spatial]
        self.spatial = nn.ModuleList(GraphConv(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.context = nn.ModuleList(ContextBlock(widths[-1], pooling, ratio) for _ in range(blocks))
        self.neighbours, self.root_chain = neighbours, root_chain
        self.width = 2 * widths[-1]

    def forward(self, x: Tensor, graph: Graph) -> Tensor:
        adjacency = Adjacency.normalise(graph.edges, graph.roots, self.root_chain, graph.valid)
        h = x
        for conv in self.spatial:
            h = conv(h, adjacency)
        edges = knn_edges(1 + 1e-4 - cosine_similarity(h.detach().float()), self.neighbours)
        roots, readout = graph.roots, 0
        for block in self.context:
            h, edges, roots = block(h, edges, roots, self.root_chain, graph.valid)
            readout = readout + torch.cat((h.mean(dim=2), h.amax(dim=2)), dim=-1)
        return readout
