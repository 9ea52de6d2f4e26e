"""Training-time distortions of a prepared crop: a small affine warp, low resolution, blur, contrast and noise.

Real training crops are few (6.7k in ``../shared/data/real_train``) and a fine-tune revisits each many times; these
distortions make each visit a slightly different image, the way street and incidental text differs from one photo
to the next. ``Prepare`` applies them after resizing, to the (H, W) crop, so each costs microseconds; the affine warp
moves a character mask with its image, so the synthetic half of a batch keeps teaching the segmentation maps.
Validation and reading never augment.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

import numpy as np
import torch
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class AugmentPolicy:
    """Strength of each distortion; 0 turns it off, and the all-zero policy (the default) leaves crops untouched."""

    rotate: float = 0.0  # largest rotation, degrees
    shear: float = 0.0  # largest horizontal shear, degrees
    scale: float = 0.0  # largest relative zoom out (never in: that would cut off the end characters)
    shift: float = 0.0  # largest translation, as a fraction of the crop's height
    low_res: float = 0.0  # probability of shrinking 1.5–3× and enlarging back
    blur: float = 0.0  # probability of a Gaussian blur (radius 0.4–1.0 px)
    contrast: float = 0.0  # largest relative change of contrast, and of brightness in units of 64 grey levels
    noise: float = 0.0  # largest standard deviation of Gaussian noise, grey levels

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise ValueError(f"data.augment.{f.name} must be a number ≥ 0, got {value!r}")
        for name in ("low_res", "blur", "contrast", "scale"):
            if getattr(self, name) > 1:
                raise ValueError(f"data.augment.{name} must be ≤ 1, got {getattr(self, name)!r}")

    @classmethod
    def from_config(cls, mapping: dict) -> "AugmentPolicy":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(f"unknown data.augment key(s) {unknown}; known: {sorted(known)}")
        return cls(**mapping)

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


def _affine_inverse(rng: np.random.Generator, policy: AugmentPolicy, h: int, w: int) -> tuple[float, ...]:
    """PIL's AFFINE coefficients (output pixel → input pixel) of a random rotation, shear, zoom-out and shift about the
    crop's centre."""
    rot = math.radians(rng.uniform(-policy.rotate, policy.rotate))
    shear = math.tan(math.radians(rng.uniform(-policy.shear, policy.shear)))
    zoom = 1.0 - rng.uniform(0.0, policy.scale)
    tx, ty = rng.uniform(-policy.shift, policy.shift, size=2) * h
    c, s = math.cos(rot), math.sin(rot)
    forward = np.array([[c, -s], [s, c]]) @ np.array([[1.0, shear], [0.0, 1.0]]) * zoom
    inv = np.linalg.inv(forward)
    centre = np.array([w / 2.0, h / 2.0])
    # input = inv @ (output - centre - shift) + centre
    offset = centre - inv @ (centre + np.array([tx, ty]))
    return (inv[0, 0], inv[0, 1], offset[0], inv[1, 0], inv[1, 1], offset[1])


class Augment:
    """Callable ``(image, positions) → (image, positions)`` drawing a fresh distortion per call.

    Its generator is seeded per process from ``torch.initial_seed()``, which differs between DataLoader workers and
    follows the run's seed, so a seeded run repeats its distortions and no two workers share them; a copy that lands
    in another process (forked or unpickled) sees a new pid and reseeds there.
    """

    def __init__(self, policy: AugmentPolicy):
        self.policy = policy
        self._rng: np.random.Generator | None = None
        self._pid: int | None = None

    def _generator(self) -> np.random.Generator:
        if self._rng is None or self._pid != os.getpid():
            self._rng, self._pid = np.random.default_rng(torch.initial_seed()), os.getpid()
        return self._rng

    def __call__(self, image: np.ndarray, positions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        p, rng = self.policy, self._generator()
        h, w = image.shape[:2]
        pil = Image.fromarray(image)
        if p.rotate or p.shear or p.scale or p.shift:
            coeffs = _affine_inverse(rng, p, h, w)
            # Fill what the warp uncovers with the crop's mean colour, not black, so no new edge looks like a stroke.
            fill = tuple(int(v) for v in image.reshape(-1, image.shape[-1]).mean(0))
            pil = pil.transform((w, h), Image.AFFINE, coeffs, resample=Image.BILINEAR, fillcolor=fill)
            if positions is not None:
                positions = np.asarray(Image.fromarray(positions).transform((w, h), Image.AFFINE, coeffs,
                                                                            resample=Image.NEAREST, fillcolor=0))
        if p.low_res and rng.random() < p.low_res:
            factor = rng.uniform(1.5, 3.0)
            small = (max(1, round(w / factor)), max(1, round(h / factor)))
            pil = pil.resize(small, Image.BILINEAR).resize((w, h), Image.BILINEAR)
        if p.blur and rng.random() < p.blur:
            pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0)))
        out = np.asarray(pil, dtype=np.float32)
        if p.contrast:
            mean = out.mean()
            out = (out - mean) * (1.0 + rng.uniform(-p.contrast, p.contrast)) + mean
            out += rng.uniform(-p.contrast, p.contrast) * 64.0
        if p.noise:
            out += rng.normal(0.0, rng.uniform(0.0, p.noise), size=out.shape)
        return np.clip(out, 0, 255).astype(np.uint8), positions
