"""GTR's graph construction on hand-made segmentation and order maps: nodes, roots, edges, root chain, validity."""

from __future__ import annotations

import itertools

import pytest
import torch

from sgtr.models.gtr import GTR_PRESETS
from sgtr.models.gtr.conv import Adjacency
from sgtr.models.gtr.graph import build_graph, knn_edges

H, W = 2, 12  # columns 0-3 are character 'a' (class 1), 4-7 'b' (class 2), 8-11 background


def hand_made_maps(shift: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities (1, 3, H, W) and order maps (1, 3, H, W): step 0 looks at 'a', step 1 at 'b', step 2 (EOS) at the
    background. Every value is distinct, so no selection has ties."""
    cols = torch.arange(W).float().expand(H, W)
    rows = torch.arange(H).float()[:, None].expand(H, W)
    probs = torch.zeros(3, H, W)
    probs[0] = torch.where(cols >= 8, 0.9, 0.05 + 0.01 * cols + 0.001 * rows)  # background
    probs[1] = torch.where(cols < 4, 1 - probs[0], 0.0)
    probs[2] = 1 - probs[0] - probs[1]
    centres = (1.5 + shift, 5.5, 9.5)
    order = torch.stack([torch.exp(-(cols - c).abs() - 0.3 * rows - 0.01 * cols) for c in centres])
    order = order / order.sum(dim=(-2, -1), keepdim=True)
    return probs[None], order[None]


def reference_nodes(probs: torch.Tensor, order: torch.Tensor, n: int) -> tuple[list[list[int]], list[int]]:
    """Nodes and roots by the rule, one step at a time with Python sorting."""
    attention = order[0].flatten(1)
    score = attention * (1 - probs[0, 0].flatten())
    nodes, roots = [], []
    for t in range(attention.shape[0]):
        chooser = attention[t] if score[t].sum() < 0.5 else score[t]
        chosen = sorted(range(H * W), key=lambda p: -chooser[p].item())[:n]
        nodes.append(chosen)
        roots.append(max(range(n), key=lambda i: score[t, chosen[i]].item()))
    return nodes, roots


def reference_edges(xy: torch.Tensor, classes: torch.Tensor, k: int) -> torch.Tensor:
    """kNN edges of one subgraph by loops: (n, 2) pixel coordinates, (n, K) class vectors."""
    n = len(xy)
    dist = torch.zeros(n, n)
    for i, j in itertools.product(range(n), range(n)):
        cos = torch.nn.functional.cosine_similarity(classes[i], classes[j], dim=0)
        dist[i, j] = (xy[i] - xy[j]).norm() / max(H, W) * (1 + 1e-4 - cos)
    edges = torch.eye(n, dtype=torch.bool)
    for i in range(n):
        for j in sorted((j for j in range(n) if j != i), key=lambda j: (dist[i, j].item(), j))[:k]:
            edges[i, j] = edges[j, i] = True
    return edges


def test_nodes_roots_and_validity_follow_the_rule():
    probs, order = hand_made_maps()
    graph = build_graph(probs, order, nodes=4, neighbours=2)
    nodes, roots = reference_nodes(probs, order, 4)
    assert graph.nodes[0].tolist() == nodes
    assert graph.roots[0].tolist() == roots
    cols = graph.nodes[0] % W
    assert (cols[0] < 4).all() and ((cols[1] >= 4) & (cols[1] < 8)).all()  # each character's nodes on it
    assert (cols[2] >= 8).all()  # EOS reads background: falls back to the order map's own peak
    assert graph.valid[0].tolist() == [True, True, True]
    # Character steps: the root is the peak of A_t·(1 − P_bg), i.e. the first node.
    assert graph.roots[0, :2].tolist() == [0, 0]


def test_steps_after_the_first_background_step_are_invalid():
    probs, order = hand_made_maps()
    order = order[:, [0, 2, 1]]  # 'a', EOS, then a step that looks at 'b' again
    graph = build_graph(probs, order, nodes=4)
    assert graph.valid[0].tolist() == [True, True, False]


def test_edges_match_a_loop_reference_and_stay_inside_each_subgraph():
    probs, order = hand_made_maps()
    graph = build_graph(probs, order, nodes=6, neighbours=2)
    xy = torch.stack((graph.nodes % W, graph.nodes // W), dim=-1).float()
    for t in range(3):
        expected = reference_edges(xy[0, t], graph.classes[0, t], 2)
        assert torch.equal(graph.edges[0, t], expected), t
    assert torch.equal(graph.edges, graph.edges.transpose(-1, -2))
    assert graph.edges.diagonal(dim1=-2, dim2=-1).all()


def test_knn_on_collinear_nodes():
    # Nodes at x = 0, 1, 3, 7: nearest neighbours 0→1, 1→0, 2→1, 3→2; symmetrised, a path 0-1-2-3.
    x = torch.tensor([0.0, 1.0, 3.0, 7.0])
    edges = knn_edges((x[:, None] - x[None]).abs(), 1)
    expected = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]], dtype=torch.bool)
    assert torch.equal(edges, expected)
    # Ties go to the lower index: node 1 is equally far from 0 and 2.
    tied = knn_edges(torch.tensor([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]]), 1)
    assert tied[1].tolist() == [True, True, False]


def test_only_consecutive_roots_link_subgraphs():
    probs, order = hand_made_maps()
    graph = build_graph(probs, order, nodes=4, neighbours=2)
    n = 4
    dense = Adjacency.normalise(graph.edges, graph.roots, chain=True).dense()[0]
    root_ids = [t * n + int(r) for t, r in enumerate(graph.roots[0])]
    for i, j in (dense > 0).nonzero().tolist():
        if i // n != j // n:
            assert {i, j} in ({root_ids[0], root_ids[1]}, {root_ids[1], root_ids[2]}), (i, j)
    assert dense[root_ids[0], root_ids[1]] > 0 and dense[root_ids[1], root_ids[2]] > 0
    assert dense[root_ids[0], root_ids[2]] == 0
    unchained = Adjacency.normalise(graph.edges, graph.roots, chain=False).dense()[0]
    blocks = torch.block_diag(*[torch.ones(n, n)] * 3).bool()
    assert not unchained[~blocks].any()


def test_a_samples_graph_does_not_depend_on_its_batch():
    probs, order = hand_made_maps()
    other_probs, other_order = hand_made_maps(shift=1.0)
    noise = torch.rand(2, 3, H, W)
    batch_probs = torch.cat([other_probs, probs, (noise / noise.sum(1, keepdim=True))[:1]])
    batch_order = torch.cat([other_order, order, noise[1:].flatten(2).softmax(-1).view(1, 3, H, W)])
    alone = build_graph(probs, order, nodes=5, neighbours=2)
    batched = build_graph(batch_probs, batch_order, nodes=5, neighbours=2)
    for field in ("nodes", "roots", "edges", "valid", "xy", "classes"):
        assert torch.equal(getattr(batched, field)[1], getattr(alone, field)[0]), field


def test_more_neighbours_give_more_edges():
    probs, order = hand_made_maps()
    degrees = [build_graph(probs, order, nodes=8, neighbours=k).edges.sum(-1) for k in (1, 3, 7)]
    assert (degrees[0] >= 2).all() and (degrees[1] >= 4).all() and (degrees[2] == 8).all()
    assert degrees[0].sum() < degrees[1].sum() < degrees[2].sum()


def connected_pair_fraction(edges: torch.Tensor) -> float:
    """Share of a subgraph's distinct node pairs that are linked, over all subgraphs of (B, T, n, n) edges."""
    n = edges.shape[-1]
    off_diagonal = ~torch.eye(n, dtype=torch.bool)
    return edges[..., off_diagonal].float().mean().item()


@pytest.mark.parametrize("preset", ["small", "base"])
def test_default_knn_leaves_node_pairs_unconnected(preset):
    # At K_n = 4 with k = 3 every subgraph was complete, so the similarity edges chose nothing.
    config = GTR_PRESETS[preset]
    g = torch.Generator().manual_seed(0)
    order = (3 * torch.randn(4, 26, 16 * 64, generator=g)).softmax(-1).view(4, 26, 16, 64)
    probs = (2 * torch.randn(4, 37, 16, 64, generator=g)).softmax(1)
    graph = build_graph(probs, order, config.nodes, config.neighbours)
    fraction = connected_pair_fraction(graph.edges)
    assert config.nodes >= 8 and fraction < 0.75, fraction
    assert connected_pair_fraction(build_graph(probs, order, 4, 3).edges) == 1.0  # the old default, complete
