import io

import numpy as np
import pytest
from PIL import Image

from sgtr.data.images import BadImage, decode_image, load_image


def _encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "1"])
def test_every_common_mode_becomes_rgb(mode):
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    img = Image.new(mode, (7, 5))
    out = decode_image(_encode(img, fmt))
    assert out.mode == "RGB" and out.size == (7, 5)


def test_sixteen_bit_gray_is_scaled_not_clipped():
    arr = np.full((4, 4), 65535, dtype=np.uint16)
    out = decode_image(_encode(Image.fromarray(arr)))
    assert np.asarray(out).min() == 255


def test_transparent_pixels_become_white():
    img = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    assert np.asarray(decode_image(_encode(img))).min() == 255


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (20, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    out = decode_image(_encode(img, "JPEG", exif=exif.tobytes()))
    assert out.size == (10, 20)


def test_empty_bytes_are_rejected():
    with pytest.raises(BadImage, match="empty file"):
        decode_image(b"")


def test_non_image_bytes_are_rejected():
    with pytest.raises(BadImage, match="not an image"):
        decode_image(b"hello, this is text")


def test_truncated_image_is_rejected():
    data = _encode(Image.new("RGB", (64, 64), (10, 200, 30)), "JPEG")
    with pytest.raises(BadImage, match="corrupt or truncated"):
        decode_image(data[: len(data) // 2])


def test_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr("sgtr.data.images.MAX_PIXELS", 100)
    with pytest.raises(BadImage, match="exceeds"):
        decode_image(_encode(Image.new("L", (20, 20))))


def test_missing_file_is_a_bad_image(tmp_path):
    with pytest.raises(BadImage, match="file not found"):
        load_image(tmp_path / "nope.png")
