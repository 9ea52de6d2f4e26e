"""``GTR``: graph-based textual reasoning as one host-agnostic module.

It reads only fields of a host's ``RecognizerOutput`` — ``seg_logits`` (B, K, H', W'), ``order_maps`` (B, T, H', W')
and ``features`` (B, D, H', W') — so the segmentation VR and any recognizer given a segmentation head and order maps
feeds it the same way. Flow: ``build_graph`` (nodes, roots, edges from the predicted maps) →
``NodeEncoder`` → ``GraphReasoning`` → Linear → Z_G (B, T, K), trained with cross-entropy by the model that owns it.

``base`` follows the spec: 16 nodes per character, 480-wide node features of four 120-wide parts, spatial widths
512/256/128/64, three contextual blocks. ``small`` keeps that structure — 8 nodes per character, four spatial layers,
the adjacency update, three contextual blocks pooling 8 → 4 → 2 → 1 — narrower: 64-wide nodes (four 16-wide parts),
spatial widths 64/48/32/32. With k = 3 neighbours a subgraph of 8 nodes is not complete (about half of its node
pairs are linked, a quarter at 16, on random maps), so the similarity edges and the adjacency update are real
choices; at 4 nodes they were not (every pair linked). Its cost against VR+LM is printed by
``benchmarks/gtr_cost.py``; the budget is a training step ≤ 1.15× and batch-32 inference ≤ 1.10× of VR+LM.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sgtr.models.gtr.features import NodeEncoder
from sgtr.models.gtr.graph import Graph, build_graph
from sgtr.models.gtr.reasoning import GraphReasoning
from sgtr.models.layers import channel_softmax
from sgtr.models.output import RecognizerOutput


@dataclass(frozen=True)
class GTRConfig:
    nodes: int = 8  # K_n, pixels per character subgraph
    neighbours: int = 3  # k of the intra-subgraph kNN edges
    root_chain: bool = True  # link root t ↔ root t+1
    position: bool = True  # 2-D position part of the node features
    pooling: bool = True  # per-subgraph top-k pooling in the contextual stage
    pool_ratio: float = 0.5
    part: int = 16  # width of each node-feature part
    spatial: tuple[int, ...] = (64, 48, 32, 32)  # spatial-stage GraphConv widths; the last is the contextual width
    blocks: int = 3  # contextual blocks


GTR_PRESETS: dict[str, GTRConfig] = {
    "small": GTRConfig(),
    "base": GTRConfig(nodes=16, part=120, spatial=(512, 256, 128, 64), blocks=3),
}


@dataclass
class GTROutput:
    """Z_G (B, T, K), the per-character hidden state H_G (B, T, ``GTR.width``) and the graph it reasoned over."""

    logits: Tensor
    hidden: Tensor
    graph: Graph

    def extras(self) -> dict[str, Tensor]:
        """The graph facts ``RecognizerOutput.extras`` documents, for drawing."""
        g = self.graph
        return {"gtr_nodes": g.nodes, "gtr_roots": g.roots, "gtr_edges": g.edges, "gtr_valid": g.valid}


class GTR(nn.Module):
    """``forward(host: RecognizerOutput) -> GTROutput``."""

    def __init__(self, num_classes: int, steps: int, feature_dim: int, config: GTRConfig | None = None):
        super().__init__()
        self.config = config = config or GTRConfig()
        self.encoder = NodeEncoder(feature_dim, num_classes, steps, config.part, config.position)
        self.reasoning = GraphReasoning(self.encoder.width, config.spatial, config.blocks, config.neighbours,
                                        config.root_chain, config.pooling, config.pool_ratio)
        self.classifier = nn.Linear(self.reasoning.width, num_classes)
        self.width = self.reasoning.width

    def forward(self, host: RecognizerOutput) -> GTROutput:
        if host.seg_logits is None or host.order_maps is None or host.features is None:
            raise ValueError("GTR needs a host output with seg_logits, order_maps and features")
        if host.features.shape[-2:] != host.order_maps.shape[-2:]:
            raise ValueError(f"features {tuple(host.features.shape)} and order maps {tuple(host.order_maps.shape)} "
                             "must share the map size")
        probs = channel_softmax(host.seg_logits)
        graph = build_graph(probs, host.order_maps, self.config.nodes, self.config.neighbours)
        x = self.encoder(graph, host.features, host.order_maps)
        hidden = self.reasoning(x, graph)
        return GTROutput(self.classifier(hidden), hidden, graph)
