"""GTR's message passing, pooling, node features and the whole module: the block form equals the dense operator,
every switch changes what it should, and a sample's output does not depend on its batch."""

from __future__ import annotations

import math

import pytest
import torch

from sgtr.models.gtr import GTR, GTR_PRESETS, GTRConfig, build_graph
from sgtr.models.gtr.conv import Adjacency, GraphConv
from sgtr.models.gtr.features import NodeEncoder
from sgtr.models.gtr.pooling import TopKPooling
from sgtr.models.output import RecognizerOutput

B, K, T, D, H, W = 3, 5, 4, 6, 4, 8


def host_output(batch: int = B, seed: int = 0) -> RecognizerOutput:
    """Random but well-formed host maps: softmaxed order maps summing to 1, segmentation logits, features."""
    g = torch.Generator().manual_seed(seed)
    order = (3 * torch.randn(batch, T, H * W, generator=g)).softmax(-1).view(batch, T, H, W)
    seg = 2 * torch.randn(batch, K, H, W, generator=g)
    logits = torch.randn(batch, T, K, generator=g).log_softmax(-1)
    return RecognizerOutput(logits=logits, seg_logits=seg, order_maps=order,
                            features=torch.randn(batch, D, H, W, generator=g))


def random_graph(n: int = 4, seed: int = 0):
    host = host_output(seed=seed)
    return build_graph(host.seg_logits.softmax(1), host.order_maps, nodes=n, neighbours=2)


@pytest.mark.parametrize("chain", [True, False])
def test_block_aggregation_equals_the_dense_normalised_adjacency(chain):
    graph = random_graph()
    adjacency = Adjacency.normalise(graph.edges, graph.roots, chain)
    dense = adjacency.dense()
    # Rebuild D^{-1/2} A D^{-1/2} from the 0/1 pattern to check the degrees (a root's includes its chain links).
    pattern = (dense > 0).float()
    inv = pattern.sum(-1).rsqrt()
    torch.testing.assert_close(dense, pattern * inv[..., :, None] * inv[..., None, :])
    h = torch.randn(B, T, 4, 7)
    expected = (dense @ h.flatten(1, 2)).view_as(h)
    torch.testing.assert_close(adjacency.aggregate(h), expected)


def test_graph_conv_is_the_linkage_layer():
    graph = random_graph()
    adjacency = Adjacency.normalise(graph.edges, graph.roots, True)
    conv = GraphConv(7, 3).eval()
    conv.norm.running_mean.normal_()
    h = torch.randn(B, T, 4, 7)
    normed = (h - conv.norm.running_mean) / (conv.norm.running_var + conv.norm.eps).sqrt()
    stacked = torch.cat((conv.own.weight, conv.neighbour.weight), dim=1)  # [h ‖ Ãh] W
    expected = torch.relu(torch.cat((normed, adjacency.aggregate(normed)), -1) @ stacked.T + conv.own.bias)
    torch.testing.assert_close(conv(h, adjacency), expected)


def test_graph_conv_normalises_with_batch_statistics_in_training():
    graph = random_graph()
    adjacency = Adjacency.normalise(graph.edges, graph.roots, True)
    conv = GraphConv(7, 3, act=False).train()
    h = 3 + 2 * torch.randn(B, T, 4, 7)
    flat = h.flatten(0, 2)
    normed = ((flat - flat.mean(0)) / (flat.var(0, unbiased=False) + conv.norm.eps).sqrt()).view_as(h)
    expected = conv.own(normed) + adjacency.aggregate(conv.neighbour(normed))
    torch.testing.assert_close(conv(h, adjacency), expected)


def test_root_chain_carries_messages_between_subgraphs_only_when_on():
    graph = random_graph()
    h = torch.zeros(B, T, 4, 2)
    h[:, 1, graph.roots[0, 1]] = 1.0  # only subgraph 1's root speaks
    for chain, heard in ((True, True), (False, False)):
        out = Adjacency.normalise(graph.edges, graph.roots, chain).aggregate(h)
        others = out[:, [0, 2, 3]]
        assert bool(others.abs().sum() > 0) == heard
        if heard:  # exactly the roots of steps 0 and 2 hear it
            nonzero = others.abs().sum(-1) > 0
            expected = torch.zeros_like(nonzero)
            expected[0, 0, graph.roots[0, 0]] = expected[0, 1, graph.roots[0, 2]] = True
            assert torch.equal(nonzero[0], expected[0])


@pytest.mark.parametrize("n, ratio, kept", [(8, 0.5, 4), (5, 0.5, 3), (1, 0.5, 1), (4, 0.1, 1)])
def test_pooling_keeps_the_best_nodes_of_every_subgraph(n, ratio, kept):
    host = host_output()
    graph = build_graph(host.seg_logits.softmax(1), host.order_maps, nodes=n, neighbours=2)
    adjacency = Adjacency.normalise(graph.edges, graph.roots, True)
    pool = TopKPooling(6, ratio).eval()
    h = torch.randn(B, T, n, 6)
    out, edges, roots = pool(h, graph.edges, adjacency)
    assert out.shape == (B, T, kept, 6) and edges.shape == (B, T, kept, kept)
    assert torch.equal(roots, torch.zeros(B, T, dtype=torch.long))
    score = pool.score(h, adjacency).squeeze(-1)
    best = score.topk(kept, dim=-1)
    torch.testing.assert_close(out, h.gather(2, best.indices[..., None].expand(-1, -1, -1, 6))
                               * best.values.tanh()[..., None])
    i = best.indices
    assert torch.equal(edges, graph.edges.gather(2, i[..., None].expand(-1, -1, -1, n)).gather(
        3, i[..., None, :].expand(-1, -1, kept, -1)))


def test_position_switch_controls_the_position_part():
    graph = random_graph()
    host = host_output()
    moved = type(graph)(**{**graph.__dict__, "xy": graph.xy.flip(-1)})
    for position, width in ((True, 16), (False, 12)):
        encoder = NodeEncoder(D, K, T, 4, position=position)
        assert encoder.width == width
        x, y = (encoder(g, host.features, host.order_maps) for g in (graph, moved))
        assert x.shape == (B, T, 4, width)
        assert torch.equal(x, y) != position


def test_pooling_switch_and_outputs():
    host = host_output()
    for pooling in (True, False):
        gtr = GTR(K, T, D, GTRConfig(nodes=8, part=4, spatial=(8,), blocks=3, pooling=pooling)).eval()
        sizes: list[int] = []
        hooks = [block.register_forward_hook(lambda m, i, o, sizes=sizes: sizes.append(o[0].shape[2]))
                 for block in gtr.reasoning.context]
        out = gtr(host)
        for hook in hooks:
            hook.remove()
        assert sizes == ([4, 2, 1] if pooling else [8, 8, 8])
        assert out.logits.shape == (B, T, K) and out.hidden.shape == (B, T, 16) and gtr.width == 16


def test_neighbours_switch_reaches_the_graph_and_the_update():
    host = host_output()
    graphs = {k: GTR(K, T, D, GTRConfig(nodes=8, part=4, spatial=(8,), neighbours=k))(host).graph for k in (1, 5)}
    assert graphs[1].edges.sum() < graphs[5].edges.sum()


def test_gtr_output_does_not_depend_on_the_batch():
    gtr = GTR(K, T, D, GTRConfig(nodes=6, part=4, spatial=(8,))).eval()
    batch = host_output()
    single = RecognizerOutput(logits=batch.logits[1:2], seg_logits=batch.seg_logits[1:2],
                              order_maps=batch.order_maps[1:2], features=batch.features[1:2])
    with torch.no_grad():
        torch.testing.assert_close(gtr(single).logits[0], gtr(batch).logits[1])


def test_gtr_refuses_hosts_without_maps():
    gtr = GTR(K, T, D, GTRConfig(nodes=4, part=4, spatial=(8,)))
    with pytest.raises(ValueError, match="seg_logits, order_maps and features"):
        gtr(RecognizerOutput(logits=torch.zeros(1, T, K)))


def test_gtr_gradients_reach_all_host_maps():
    host = host_output()
    for name in ("seg_logits", "order_maps", "features"):
        getattr(host, name).requires_grad_(True)
    gtr = GTR(K, T, D, GTRConfig(nodes=4, part=4, spatial=(8,)))
    gtr(host).logits.logsumexp(-1).sum().backward()
    for name in ("seg_logits", "order_maps", "features"):
        grad = getattr(host, name).grad
        assert grad is not None and grad.abs().sum() > 0 and torch.isfinite(grad).all(), name


def test_base_preset_has_the_spec_widths():
    gtr = GTR(37, 26, 256, GTR_PRESETS["base"])
    assert gtr.encoder.width == 480 and gtr.width == 128 and gtr.config.nodes == 16
    assert [c.own.out_features for c in gtr.reasoning.spatial] == [512, 256, 128, 64]
    assert math.isclose(gtr.reasoning.context[0].pool.ratio, 0.5)
