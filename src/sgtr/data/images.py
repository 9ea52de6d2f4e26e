"""Robust image decoding: any encoded image a user may hold becomes an upright RGB ``PIL.Image`` or a ``BadImage``.

Grayscale, alpha, palette, 16-bit, CMYK and EXIF-rotated files are converted; empty, truncated, corrupt and
non-image bytes, and decompression bombs, raise ``BadImage`` with a one-line reason, which the datasets turn into a
counted skip instead of a crash.
"""

from __future__ import annotations

import errno
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

# Word crops are small; anything past 64 megapixels is a bomb or a mistake, and refusing it keeps memory bounded.
MAX_PIXELS = 64_000_000


class BadImage(ValueError):
    """An image that cannot be decoded; the message says why in one line."""


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        img = Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite onto white: transparent text crops are usually dark ink on nothing.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def decode_image(data: bytes) -> Image.Image:
    """Decode encoded bytes to an upright RGB image, or raise ``BadImage``."""
    if not data:
        raise BadImage("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise BadImage(f"image of {w}x{h} pixels exceeds the {MAX_PIXELS:,}-pixel limit")
            if w == 0 or h == 0:
                raise BadImage(f"image has zero size ({w}x{h})")
            img.load()
            img = ImageOps.exif_transpose(img)
            return _to_rgb(img)
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"decompression bomb refused ({exc})") from None
    except Image.UnidentifiedImageError:
        raise BadImage("not an image (unrecognised format)") from None
    except Exception as exc:  # noqa: BLE001
        # Pillow's decoders raise whatever their parsing hits on hostile bytes, not only OSError: struct.error from a
        # malformed EXIF block, NotImplementedError from an unknown DDS pixel format, SyntaxError, EOFError... Each
        # is one bad file, never a reason to stop a run.
        raise BadImage(f"corrupt or truncated image ({type(exc).__name__}: {exc})".replace("\n", " ")) from None


def load_image(path: str | Path) -> Image.Image:
    """Read and decode a file; a missing or unreadable file is a ``BadImage`` too."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise BadImage("broken symbolic link (its target does not exist)" if os.path.islink(path)
                       else "file not found") from None
    except IsADirectoryError:
        raise BadImage("is a directory, not an image") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadImage("symbolic link loop (the link leads back to itself)") from None
        raise BadImage(f"cannot read file ({exc.strerror or exc})") from None
    except ValueError as exc:  # a NUL byte in the path
        raise BadImage(f"cannot read file ({exc})") from None
    return decode_image(data)
