"""Int8 calibration images are gathered as reading preprocesses them; unreadable ones come back to be reported."""

from __future__ import annotations

from PIL import Image

from sgtr.inference.calibration import gather_calibration


def test_readable_crops_are_preprocessed_to_the_input_size_and_bad_ones_returned(tmp_path):
    Image.new("RGB", (60, 20), "white").save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    calibration, skipped = gather_calibration([str(tmp_path)], (32, 128), limit=10)
    assert calibration.shape == (1, 32, 128, 3) and calibration.dtype.name == "uint8"
    assert [s.key.rsplit("/", 1)[-1] for s in skipped] == ["bad.png"]


def test_no_readable_crop_gives_none(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    calibration, skipped = gather_calibration([str(tmp_path / "bad.png")], (32, 128), limit=10)
    assert calibration is None and len(skipped) == 1


def test_only_the_first_limit_images_are_used(tmp_path):
    for i in range(5):
        Image.new("RGB", (60, 20), "white").save(tmp_path / f"{i}.png")
    calibration, _ = gather_calibration([str(tmp_path)], (32, 128), limit=3)
    assert len(calibration) == 3
