"""Uploaded bytes → RGB images, or an ``UploadError`` with the HTTP status and a message naming the file and the
problem: empty (400), over the size limit (413), over the pixel limit or a decompression bomb (413), not an image
(415), corrupt or truncated (400). Decoding is ``sgtr.data.images.decode_image``, behind a header-only pixel check."""

from __future__ import annotations

import io
import warnings

from PIL import Image

from sgtr.data.images import BadImage, decode_image
from sgtr.serving.limits import Limits


class UploadError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def decode_upload(name: str, data: bytes, limits: Limits) -> Image.Image:
    """One uploaded file as an upright RGB image."""
    if not data:
        raise UploadError(400, f"{name}: empty file")
    if len(data) > limits.max_file_bytes:
        raise UploadError(413, f"{name}: {len(data):,} bytes, over the {limits.max_file_bytes:,}-byte limit per file")
    width, height = _header_size(name, data)
    if width * height > limits.max_pixels:
        raise UploadError(413, f"{name}: {width}x{height} pixels, over the {limits.max_pixels:,}-pixel limit")
    try:
        return decode_image(data)
    except BadImage as exc:
        message = str(exc)
        if message.startswith("not an image"):
            raise UploadError(415, f"{name}: {message}") from None
        status = 413 if message.startswith(("decompression bomb", "image of")) else 400
        raise UploadError(status, f"{name}: {message}") from None


def _header_size(name: str, data: bytes) -> tuple[int, int]:
    """Width and height from the image header alone (Pillow reads no pixel data in ``open``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the pixel limit below decides
            with Image.open(io.BytesIO(data)) as img:
                return img.size
    except Image.UnidentifiedImageError:
        raise UploadError(415, f"{name}: not an image (unrecognised format)") from None
    except Image.DecompressionBombError:
        raise UploadError(413, f"{name}: decompression bomb refused") from None
    except Exception as exc:  # noqa: BLE001 - hostile headers raise whatever the parser hits
        raise UploadError(400, f"{name}: corrupt image header ({type(exc).__name__})") from None
