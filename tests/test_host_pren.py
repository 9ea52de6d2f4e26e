"""PREN host, alone and with GTR plugged in (``gtr: true``): the host contract, the batched aggregators, gradients
into the backbone, memorising 32 words, and reading through a weights file, ``sgtr evaluate`` and ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from host_checks import CHARSET, train_until_read, words_batch
from host_helpers import check_onnx_parity, check_weights_and_evaluate, loss_reaches_backbone, with_gtr
from sgtr.engine.config import load_config
from sgtr.engine.trainer import charset_from_config, model_from_config
from sgtr.models.factory import build_model
from sgtr.models.hosts.pren import PREN, PoolingAggregator
from sgtr.models.plugin import GTRPlugin
from test_vr_synth import render_batch

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
K, T = CHARSET.num_classes, CHARSET.max_steps
NARROW = {"stem": (16,), "widths": (32, 48, 64), "depths": (1, 1, 1), "part": 32, "pool_channels": 16}
MAX_STEPS = {False: 150, True: 150}


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


@pytest.mark.parametrize("gtr", [False, True], ids=["pren", "pren+gtr"])
def test_loss_reaches_the_backbone(gtr):
    assert loss_reaches_backbone("pren", with_gtr(NARROW, gtr))


@pytest.mark.parametrize("gtr", [False, True], ids=["pren", "pren+gtr"])
def test_memorises_32_words(gtr):
    # Seeded: PREN alone reads all 32 at step 50, and with GTR the fused output does too.
    model = build_model("pren", CHARSET, **with_gtr(NARROW, gtr))
    accuracy, step, wrong = train_until_read(model, MAX_STEPS[gtr], lr=2e-3, recalibrate_bn=True)
    assert accuracy == 1.0, f"{accuracy:.0%} after {step} steps; wrong (read, true): {wrong}"


@pytest.mark.parametrize("gtr", [False, True], ids=["pren", "pren+gtr"])
def test_weights_file_reads_and_evaluates(gtr, tmp_path, capsys):
    check_weights_and_evaluate("pren", with_gtr(NARROW, gtr), tmp_path, capsys)


@pytest.mark.parametrize("gtr", [False, True], ids=["pren", "pren+gtr"])
def test_onnx_export_matches_pytorch(gtr, tmp_path):
    check_onnx_parity("pren", with_gtr(NARROW, gtr), tmp_path)


@pytest.mark.parametrize("name", ["pren_small", "pren_gtr_small"])
def test_configs_build_and_train_a_step(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    charset = charset_from_config(config)
    model = model_from_config(config, charset)
    assert isinstance(model, GTRPlugin) == ("gtr" in name)
    images, targets = render_batch(["hello", "x1"], charset)
    out = model(images, targets)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert config["data"] == load_config(CONFIGS / "sgtr_small.yaml")["data"]
