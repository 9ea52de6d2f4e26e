"""PREN host: the host contract and the batched pooling aggregators. What every host shares (gradients, memorising,
weights files, ONNX, configs) is tested in ``test_hosts``."""

from __future__ import annotations

import torch

from sgtr.models.hosts.pren import PREN, PoolingAggregator
from tests.helpers.hosts import CHARSET, words_batch

K, T = CHARSET.num_classes, CHARSET.max_steps


def test_small_preset_honours_the_host_contract():
    _, images, targets = words_batch(3)
    model = PREN.from_preset(CHARSET)
    out = model(images, targets)
    assert not out.ctc and out.logits.shape == (3, T, K)
    assert out.features.shape == (3, model.feature_channels, 8, 32)  # the stride-4 level
    assert out.extras["step_hidden"].shape == (3, T, model.hidden_width) == (3, T, 3 * 64)
    assert out.order_maps is None and out.branches == {}
    assert (model.language_branch, model.has_order_maps) == (None, False)
    assert set(out.losses) == {"ce"} and torch.isfinite(out.loss)
    assert 2e6 < sum(p.numel() for p in model.parameters()) < 4e6


def test_pooling_aggregator_runs_its_primitive_stacks_independently():
    # The grouped conv must keep each primitive's stack to its own channels: changing one primitive's weights
    # changes only that primitive's output.
    torch.manual_seed(0)
    aggregator = PoolingAggregator(8, primitives=3, middle=4, out=5).eval()
    x = torch.randn(2, 8, 8, 32)
    before = aggregator(x)
    with torch.no_grad():
        aggregator.convs[1].weight[5:10].add_(1.0)  # the second primitive's output channels
    after = aggregator(x)
    assert before.shape == (2, 3, 5)
    changed = (after - before).abs().amax(dim=(0, 2)) > 1e-6
    assert changed.tolist() == [False, True, False]
