from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from sgtr.data.batching import RatioBatchSampler, collate
from sgtr.data.charset import EOS_ID, PAD_ID, Charset
from sgtr.data.sample import Sample
from sgtr.data.skips import Skip
from sgtr.data.transforms import Prepare, instance_to_position, normalise


def test_ratio_sampler_draws_each_source_by_ratio_in_every_batch():
    sampler = RatioBatchSampler([100, 10], [0.75, 0.25], batch_size=8, seed=1)
    for batch in sampler:
        src = Counter(i >= 100 for i in batch)
        assert src[False] == 6 and src[True] == 2


def test_ratio_sampler_revisits_a_small_source_evenly():
    sampler = RatioBatchSampler([1000, 4], [0.5, 0.5], batch_size=4, seed=0)
    small = Counter(i for batch in sampler for i in batch if i >= 1000)
    assert set(small) == {1000, 1001, 1002, 1003}
    assert max(small.values()) - min(small.values()) <= 1


def test_ratio_sampler_counts_always_fill_the_batch():
    assert sum(RatioBatchSampler([9, 9, 9], [1, 1, 1], batch_size=10).counts) == 10


def test_ratio_sampler_rejects_mismatched_ratios():
    with pytest.raises(ValueError, match="one ratio per source"):
        RatioBatchSampler([5, 5], [1.0], batch_size=2)


def test_instance_mask_maps_to_label_positions_skipping_spaces():
    mask = np.array([[0, 1, 2, 3]], dtype=np.uint8)
    assert instance_to_position(mask, "a bc").tolist() == [[0, 1, 3, 4]]


def test_prepare_turns_unencodable_labels_into_skips():
    prep = Prepare(Charset.from_spec("36"), 8, 16)
    out = prep(Sample("k", Image.new("RGB", (30, 10)), "a$b"))
    assert isinstance(out, Skip) and "outside the charset" in out.reason


def test_prepare_with_cleaning_keeps_masks_only_for_unchanged_labels():
    prep = Prepare(Charset.from_spec("36"), 8, 16, clean=lambda t: t.replace("'", ""))
    mask = np.ones((10, 30), dtype=np.uint8)
    image = Image.new("RGB", (30, 10))
    assert prep(Sample("a", image, "ab", mask)).positions is not None
    cleaned = prep(Sample("b", image, "a'b", mask))
    assert cleaned.label == "ab" and cleaned.positions is None


def test_collate_stacks_images_targets_and_keeps_skips():
    prep = Prepare(Charset.from_spec("36", max_length=5), 8, 16)
    mask = np.zeros((10, 30), dtype=np.uint8)
    mask[:, :10] = 1
    items = [prep(Sample("a", Image.new("RGB", (30, 10), (255, 0, 0)), "ab", mask)),
             Skip("bad", "corrupt"),
             prep(Sample("b", Image.new("RGB", (30, 10)), "c"))]
    batch = collate(items, max_steps=6)
    assert batch.images.shape == (2, 3, 8, 16) and batch.images.max() == 1.0 and batch.images.min() == -1.0
    assert batch.targets.ids[1].tolist() == [13, EOS_ID] + [PAD_ID] * 4
    assert batch.targets.has_mask.tolist() == [True, False] and batch.targets.masks[0, :, 0].eq(1).all()
    assert [s.key for s in batch.skips] == ["bad"]


def test_normalise_maps_uint8_rgb_to_channels_first_minus_one_to_one():
    images = np.zeros((1, 2, 3, 3), dtype=np.uint8)
    images[0, 0, 0] = (0, 255, 51)
    out = normalise(images)
    assert out.shape == (1, 3, 2, 3) and out.dtype == torch.float32
    assert out[0, :, 0, 0].tolist() == pytest.approx([-1.0, 1.0, -0.6])
