import numpy as np
import pytest
import torch

from sgtr.data.augment import Augment, AugmentPolicy
from sgtr.data.charset import Charset
from sgtr.engine.config import ConfigError, load_config
from sgtr.engine.data import train_loader
from tests.helpers.engine import tiny_config, tiny_lmdb

WARP = AugmentPolicy(rotate=5, shear=15, scale=0.2, shift=0.1)
EVERYTHING = AugmentPolicy(rotate=3, shear=12, scale=0.1, shift=0.08, low_res=1, blur=1, contrast=0.3, noise=8)


def _crop_with_a_dark_character() -> tuple[np.ndarray, np.ndarray]:
    """A light 32×128 crop with one dark block whose mask value is 1, the way a synthetic crop marks a character."""
    image = np.full((32, 128, 3), 220, dtype=np.uint8)
    positions = np.zeros((32, 128), dtype=np.uint8)
    image[8:24, 40:70] = 20
    positions[8:24, 40:70] = 1
    return image, positions


def test_the_default_policy_is_inactive():
    assert not AugmentPolicy().active and EVERYTHING.active


def test_augment_keeps_shape_and_dtype():
    torch.manual_seed(0)
    image, positions = _crop_with_a_dark_character()
    out, out_pos = Augment(EVERYTHING)(image, positions)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert out_pos.shape == positions.shape and out_pos.dtype == np.uint8


def test_the_warp_moves_the_mask_with_the_image():
    torch.manual_seed(0)
    augment = Augment(WARP)
    image, positions = _crop_with_a_dark_character()
    moved = 0
    for _ in range(20):
        out, out_pos = augment(image, positions)
        marked = out_pos == 1
        assert marked.sum() > 200
        assert out[marked].mean() < 60  # the mask still covers the dark block...
        assert out[~marked].mean() > 180  # ...and nothing else
        moved += not np.array_equal(out_pos, positions)
    assert moved == 20


def test_augment_without_a_mask_returns_none_for_it():
    torch.manual_seed(0)
    image, _ = _crop_with_a_dark_character()
    assert Augment(EVERYTHING)(image, None)[1] is None


def test_a_seeded_run_repeats_its_distortions_and_another_seed_does_not():
    image, positions = _crop_with_a_dark_character()

    def draw(seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        augment = Augment(EVERYTHING)
        return np.stack([augment(image, positions)[0] for _ in range(3)])

    assert np.array_equal(draw(1), draw(1))
    assert not np.array_equal(draw(1), draw(2))


@pytest.mark.parametrize("override, message", [
    ("data.augment.rotate=-2", "rotate must be a number ≥ 0"),
    ("data.augment.blur=1.5", "blur must be ≤ 1"),
    ("data.augment.spin=1", "unknown config key 'data.augment.spin'"),
    ("data.augment=true", "data.augment: expected a mapping"),
])
def test_a_bad_augment_setting_is_a_config_error_naming_it(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_the_training_loader_augments_and_keeps_every_label(shared_data, tmp_path):
    data = tiny_lmdb(shared_data, tmp_path / "lmdb", n=8)
    charset = Charset.from_spec("36")
    plain = tiny_config(data, tmp_path / "run")
    warped = tiny_config(data, tmp_path / "run")
    warped["data"]["augment"] = {"rotate": 3, "noise": 8}
    torch.manual_seed(0)
    a, b = next(iter(train_loader(plain, charset, seed=0))), next(iter(train_loader(warped, charset, seed=0)))
    assert a.labels == b.labels and not torch.equal(a.images, b.images)
