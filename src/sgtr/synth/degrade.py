"""Camera and print damage applied to a finished uint8 RGB crop: occlusion, blur, motion blur, low resolution, noise,
JPEG. None of them moves pixels, so the character mask stays valid.

Occlusion policy: the mask records where each character *is*, hidden or not, and an occluder may cover at most
``Effects.max_occluded_share`` of any one character's mask pixels, so every labelled character stays readable.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from sgtr.synth.backgrounds import random_colour
from sgtr.synth.config import Effects


def occlude(img: np.ndarray, mask: np.ndarray, num_chars: int, rng: np.random.Generator, max_share: float) -> bool:
    """Paint a bar or blob over part of the crop, trying smaller ones until no character loses more than
    ``max_share`` of its pixels; False when none fits."""
    h, w = mask.shape
    sizes = np.bincount(mask.ravel(), minlength=num_chars + 1)[1:]
    colour = tuple(float(c) * 255 for c in random_colour(rng))
    for attempt in range(3):
        shape = np.zeros((h, w), dtype=np.uint8)
        scale = 0.5 ** attempt
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            half = (max(1, int(rng.uniform(0.02, 0.12) * w * scale)), max(1, int(rng.uniform(0.2, 0.8) * h * scale)))
            cv2.ellipse(shape, (cx, cy), half, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        else:
            thick = max(1, int(rng.uniform(0.05, 0.2) * h * scale))
            angle = rng.uniform(-math.pi / 3, math.pi / 3)
            dx, dy = int(w * math.cos(angle)), int(w * math.sin(angle))
            cv2.line(shape, (cx - dx, cy - dy), (cx + dx, cy + dy), 1, thick)
        hidden = np.bincount(mask[shape.astype(bool)], minlength=num_chars + 1)[1:]
        if np.all(hidden <= max_share * sizes):
            img[shape.astype(bool)] = colour
            return True
    return False


def motion_kernel(length: int, angle_deg: float) -> np.ndarray:
    k = np.zeros((length, length), dtype=np.float32)
    c = (length - 1) / 2
    a = math.radians(angle_deg)
    dx, dy = math.cos(a) * c, math.sin(a) * c
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return k / k.sum()


def degrade(img: np.ndarray, rng: np.random.Generator, effects: Effects) -> np.ndarray:
    """Blur, motion blur, low resolution, noise and JPEG, each with its own probability, in camera order."""
    h, w = img.shape[:2]
    if rng.random() < effects.p_blur:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 0.9)))
    if rng.random() < effects.p_motion_blur:
        img = cv2.filter2D(img, -1, motion_kernel(int(rng.integers(3, 6)), float(rng.uniform(0, 180))))
    if rng.random() < effects.p_low_resolution:
        f = float(rng.uniform(effects.min_resolution, 0.8))
        small = cv2.resize(img, (max(4, round(w * f)), max(4, round(h * f))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR if rng.random() < 0.7 else cv2.INTER_NEAREST)
    if rng.random() < effects.p_noise:
        sigma = float(rng.uniform(2, 14))
        noise = rng.normal(0.0, sigma, size=(h, w, 1 if rng.random() < 0.5 else 3)).astype(np.float32)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < effects.p_jpeg:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 70))])
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return img
