"""GTR's filler subgraphs (the steps after the first background-reading one): the graph layers' batch normalisation
takes its statistics over real characters' nodes only, the root chain does not reach the fillers, and so nothing the
fillers hold changes what real subgraphs compute or the running statistics."""

from __future__ import annotations

import torch

from sgtr.models.gtr import GTRConfig
from sgtr.models.gtr.conv import Adjacency, masked_batch_norm
from sgtr.models.gtr.graph import build_graph
from sgtr.models.gtr.reasoning import GraphReasoning

B, K, T, H, W, N = 3, 5, 6, 4, 8, 8
VALID_STEPS = (6, 3, 1)  # sample 1 has 2 filler steps, sample 2 five


def graph_with_fillers():
    """A random graph whose validity is replaced by ``VALID_STEPS`` (a prefix of each sample's steps)."""
    g = torch.Generator().manual_seed(0)
    order = (3 * torch.randn(B, T, H * W, generator=g)).softmax(-1).view(B, T, H, W)
    probs = (2 * torch.randn(B, K, H, W, generator=g)).softmax(1)
    graph = build_graph(probs, order, nodes=N, neighbours=3)
    graph.valid = torch.arange(T) < torch.tensor(VALID_STEPS)[:, None]
    return graph


def test_batch_norm_statistics_come_from_valid_subgraphs_only():
    valid = torch.arange(T) < torch.tensor(VALID_STEPS)[:, None]
    h = torch.randn(B, T, N, 7)
    h[~valid] = 100.0  # fillers far off: any share of them in the statistics would show
    norm = torch.nn.BatchNorm1d(7, affine=False, momentum=0.5)
    out = masked_batch_norm(h, norm, valid)
    real = h[valid].flatten(0, 1)
    mean, var = real.mean(0), real.var(0, unbiased=False)
    torch.testing.assert_close(out[valid], (h[valid] - mean) / (var + norm.eps).sqrt())
    torch.testing.assert_close(norm.running_mean, 0.5 * mean)
    torch.testing.assert_close(norm.running_var, 0.5 + 0.5 * real.var(0, unbiased=True))
    assert norm.num_batches_tracked.item() == 1


def test_root_chain_does_not_link_to_filler_subgraphs():
    graph = graph_with_fillers()
    dense = Adjacency.normalise(graph.edges, graph.roots, True, graph.valid).dense()  # (B, T·n, T·n)
    step = torch.arange(T).repeat_interleave(N)
    for b, steps in enumerate(VALID_STEPS):
        real = step < steps
        assert (dense[b][real][:, ~real] == 0).all() and (dense[b][~real][:, real] == 0).all()
        # Between real steps the chain is intact: root t hears root t+1.
        roots = graph.roots[b]
        for t in range(steps - 1):
            assert dense[b, t * N + roots[t], (t + 1) * N + roots[t + 1]] > 0


def test_filler_subgraphs_change_neither_real_outputs_nor_running_statistics():
    graph = graph_with_fillers()
    config = GTRConfig(nodes=N)
    x = torch.randn(B, T, N, 12)
    changed = x.clone()
    changed[~graph.valid] = 50 * torch.randn_like(changed[~graph.valid])
    outputs, stats = [], []
    for features in (x, changed):
        torch.manual_seed(0)
        reasoning = GraphReasoning(12, config.spatial, config.blocks, config.neighbours).train()
        outputs.append(reasoning(features, graph))
        stats.append([m.running_var.clone() for m in reasoning.modules() if isinstance(m, torch.nn.BatchNorm1d)])
    torch.testing.assert_close(outputs[1][graph.valid], outputs[0][graph.valid])
    assert not torch.allclose(outputs[1][~graph.valid], outputs[0][~graph.valid])  # the fillers did change
    for before, after in zip(*stats):
        torch.testing.assert_close(after, before)
