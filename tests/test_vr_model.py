"""The segmentation recognizer's output contract, losses and gradients, its presets and the model factory."""

from __future__ import annotations

import pytest
import torch

from sgtr.data.charset import Charset
from sgtr.models.factory import build_model
from sgtr.models.losses import area_counts, class_targets, order_targets
from sgtr.models.output import RecognizerOutput, Targets
from sgtr.models.vr import SegmentationRecognizer, vr_config
from tests.helpers.render import render_batch

CHARSET = Charset.from_spec("36")
K, T = CHARSET.num_classes, CHARSET.max_steps
NARROW = dict(stem=(8,), widths=(16, 16, 32), depths=(1, 1, 1), fpn_channels=16, order_channels=16)


@pytest.fixture(scope="module")
def batch():
    return render_batch(["hello", "a1b2", "xyz", "q"], CHARSET)


def test_output_fields_have_the_contract_shapes(batch):
    images, _ = batch
    model = SegmentationRecognizer.from_preset(CHARSET, "small").eval()
    with torch.no_grad():
        out = model(images)
    assert isinstance(out, RecognizerOutput) and not out.ctc
    assert out.logits.shape == (4, T, K)
    assert set(out.branches) == {"vr"} and torch.equal(out.branches["vr"], out.logits)
    assert out.seg_logits.shape == (4, K, 16, 64)
    assert out.order_maps.shape == (4, T, 16, 64)
    assert out.features.shape == (4, 64, 16, 64)
    assert out.losses == {} and out.loss is None
    torch.testing.assert_close(out.order_maps.sum(dim=(-2, -1)), torch.ones(4, T))
    torch.testing.assert_close(out.logits.exp().sum(dim=-1), torch.ones(4, T), atol=1e-4, rtol=0)


def test_stride_four_gives_a_quarter_map(batch):
    model = SegmentationRecognizer.from_preset(CHARSET, "small", out_stride=4, **NARROW)
    out = model(batch[0])
    assert out.seg_logits.shape[-2:] == out.order_maps.shape[-2:] == out.features.shape[-2:] == (8, 32)


@pytest.mark.parametrize("has_mask, expected", [
    ([True, True, True, True], {"seq", "seg", "order"}),
    ([True, False, True, False], {"seq", "seg", "order"}),
    ([False, False, False, False], {"seq"}),
])
def test_losses_are_finite_and_present_only_with_masks(batch, has_mask, expected):
    images, targets = batch
    model = SegmentationRecognizer.from_preset(CHARSET, "small", **NARROW)
    out = model(images, Targets(targets.ids, targets.masks, torch.tensor(has_mask)))
    assert set(out.losses) == expected
    assert all(torch.isfinite(v) and v.ndim == 0 for v in out.losses.values())
    torch.testing.assert_close(out.loss, sum(out.losses.values()))  # default weights are all 1


def test_without_mask_tensor_only_the_sequence_loss_is_used(batch):
    images, targets = batch
    out = SegmentationRecognizer.from_preset(CHARSET, "small", **NARROW)(images, Targets(targets.ids))
    assert set(out.losses) == {"seq"}


def test_unmasked_rows_do_not_change_the_mask_losses(batch):
    images, targets = batch
    model = SegmentationRecognizer.from_preset(CHARSET, "small", **NARROW).eval()
    mixed = model(images, Targets(targets.ids, targets.masks, torch.tensor([True, False, True, False])))
    garbage = targets.masks.clone()
    garbage[[1, 3]] = 3  # rows marked as unmasked may hold anything in range
    same = model(images, Targets(targets.ids, garbage, torch.tensor([True, False, True, False])))
    for name in ("seg", "order"):
        torch.testing.assert_close(mixed.losses[name], same.losses[name])


def test_weights_scale_the_total(batch):
    images, targets = batch
    model = SegmentationRecognizer.from_preset(CHARSET, "small", seg_weight=2.0, order_weight=0.5, seq_weight=0.0,
                                               **NARROW)
    out = model(images, targets)
    torch.testing.assert_close(out.loss, 2.0 * out.losses["seg"] + 0.5 * out.losses["order"])


def test_gradients_reach_the_backbone_from_each_loss(batch):
    images, targets = batch
    model = SegmentationRecognizer.from_preset(CHARSET, "small", **NARROW)
    stem = model.backbone.stem[0][0].weight
    for name in ("seq", "seg", "order"):
        model.zero_grad()
        model(images, targets).losses[name].backward()
        assert stem.grad is not None and stem.grad.abs().sum() > 0, name


def test_small_fits_the_parameter_budget_and_base_is_wider():
    small = SegmentationRecognizer.from_preset(Charset.from_spec("94"), "small")
    base = SegmentationRecognizer.from_preset(CHARSET, "base")
    n_small = sum(p.numel() for p in small.parameters())
    assert n_small <= 5_000_000
    assert sum(p.numel() for p in base.parameters()) > 5 * n_small
    assert vr_config("base").out_stride == 4


def test_base_maps_a_64x256_image_to_16x64():
    model = SegmentationRecognizer.from_preset(CHARSET, "base").eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 256))
    assert out.seg_logits.shape == (1, K, 16, 64) and out.features.shape == (1, 256, 16, 64)


def test_odd_input_sizes_work():
    model = SegmentationRecognizer.from_preset(CHARSET, "small", **NARROW).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 30, 100))
    assert out.seg_logits.shape[-2:] == out.order_maps.shape[-2:] == (15, 50)


def test_config_errors_name_the_valid_choices():
    with pytest.raises(ValueError, match="small, base"):
        vr_config("tiny")
    with pytest.raises(ValueError, match="out_stride"):
        vr_config("small", width=3)
    with pytest.raises(ValueError, match="multiple of out_stride"):
        SegmentationRecognizer.from_preset(CHARSET, "small", out_stride=4, key_stride=2)
    with pytest.raises(ValueError, match="input strides"):
        SegmentationRecognizer.from_preset(CHARSET, "small", out_stride=3)


def test_area_counts_pool_exactly_and_targets_normalise():
    masks = torch.zeros(1, 4, 8, dtype=torch.long)
    masks[0, :, 2] = 1  # half of cell column 1
    masks[0, :, 4:6] = 2  # all of cell column 2
    counts = area_counts(masks, 3, (2, 4))
    assert counts.shape == (1, 3, 8) and torch.all(counts.sum(1) == 4)
    assert counts[0, 1].tolist() == [0, 2, 0, 0, 0, 2, 0, 0]
    ids = CHARSET.encode_batch(["ab"])
    seg = class_targets(counts, ids, K)
    torch.testing.assert_close(seg.sum(1), torch.ones(1, 8))
    assert seg[0, ids[0, 0], 1] == 0.5 and seg[0, 0, 1] == 0.5 and seg[0, ids[0, 1], 2] == 1
    order, valid = order_targets(counts, ids)
    assert valid[0].tolist() == [True, True, True] + [False] * (T - 3)
    torch.testing.assert_close(order[0, :3].sum(-1), torch.ones(3))
    torch.testing.assert_close(order[0, 2], counts[0, 0] / counts[0, 0].sum())  # EOS step: background


def test_a_character_without_pixels_is_left_out_of_the_order_loss():
    masks = torch.zeros(1, 4, 8, dtype=torch.long)
    masks[0, :, 6:] = 2  # the first character (say a space) has no pixels
    _, valid = order_targets(area_counts(masks, T + 1, (2, 4)), CHARSET.encode_batch(["ab"]))
    assert valid[0, :3].tolist() == [False, True, True]


def test_factory_builds_by_name_and_lists_the_valid_ones():
    model = build_model("vr", CHARSET, preset="small", **NARROW)
    assert isinstance(model, SegmentationRecognizer) and model.config.fpn_channels == 16
    with pytest.raises(ValueError, match="vr"):
        build_model("nope", CHARSET)


def test_out_of_range_mask_values_are_an_error():
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        area_counts(torch.full((1, 2, 2), 4), 4, (1, 1))


def test_state_saved_under_the_old_order_head_names_loads_strictly():
    torch.manual_seed(0)
    saved = SegmentationRecognizer.from_preset(CHARSET, "small", **NARROW)
    old_names = {k.replace("order.keys.", "order_keys.").replace("order.attention.", "order_attention."): v
                 for k, v in saved.state_dict().items()}
    assert any(k.startswith("order_keys.") for k in old_names)
    model = SegmentationRecognizer.from_preset(CHARSET, "small", **NARROW)
    model.load_state_dict(old_names)
    for key, value in saved.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)
