"""Text and background colours as real word crops show them: measured pairs, their clusters, and sampling from them.

``colour_pair`` splits one crop into its two tones (Otsu on luminance) and calls the tone that touches the border
less the text; ``cluster_pairs`` groups many pairs by k-means in CIELAB (perceptual distance) and keeps, per
cluster, only its share and the mean and spread of both colours: colour statistics, no pixels. ``Palette`` is that
table as the renderer uses it: a pair drawn by share, or a text colour for a background it already has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

PALETTE_ASSET = Path(__file__).resolve().parents[1] / "assets" / "text_colours.json"
# Crops are measured at this height: enough for the two tones, cheap for thousands of crops.
MEASURE_HEIGHT = 32
# Pairs whose tones are closer than this (CIELAB distance) are not two tones, and the crop is left out.
MIN_SEPARATION = 12.0
# Both tones must each hold at least this share of the crop's pixels.
MIN_SHARE = 0.05
# How far (RGB, 0-1) a background may be from a cluster's background for that cluster to be chosen for it.
MATCH_SCALE = 0.12


def _lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) float RGB in [0, 1] to CIELAB (L in 0-100)."""
    flat = np.asarray(rgb, dtype=np.float32).reshape(-1, 1, 3)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(np.shape(rgb))


def colour_pair(image: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(text, background) median RGB in [0, 1] of a (H, W, 3) uint8 crop, or None when it does not split into two
    clear tones. The text is the tone that touches the crop's border less; its edge pixels, which blend with the
    background, are left out of its median: only the half of its pixels farthest in tone from the threshold count."""
    h, w = image.shape[:2]
    if h < 4 or w < 4:
        return None
    scale = MEASURE_HEIGHT / h
    small = cv2.resize(image, (max(4, round(w * scale)), MEASURE_HEIGHT), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    threshold, dark = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    share = float(dark.mean())
    if not MIN_SHARE <= share <= 1 - MIN_SHARE:
        return None
    border = np.concatenate([dark[:2].ravel(), dark[-2:].ravel(), dark[:, :2].ravel(), dark[:, -2:].ravel()])
    # Compare each tone's share of the border with its share of the whole crop: text reaches the border less.
    text = dark if border.mean() / share < (1 - border.mean()) / (1 - share) else 1 - dark
    text = text.astype(bool)
    distance = np.abs(grey.astype(np.float32) - threshold)[text]
    rgb = small.astype(np.float32) / 255.0
    fg = np.median(rgb[text][distance >= np.median(distance)], axis=0)
    bg = np.median(rgb[~text], axis=0)
    if np.linalg.norm(_lab(fg) - _lab(bg)) < MIN_SEPARATION:
        return None
    return fg, bg


def _kmeans(points: np.ndarray, k: int, seed: int, iterations: int = 50) -> np.ndarray:
    """Cluster labels of (n, d) points: k-means++ seeding from ``seed``, then Lloyd iterations."""
    rng = np.random.default_rng(seed)
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        d2 = ((points[:, None] - np.array(centres)[None]) ** 2).sum(-1).min(axis=1)
        centres.append(points[rng.choice(len(points), p=d2 / d2.sum())])
    centres = np.array(centres)
    labels = np.full(len(points), -1)
    for _ in range(iterations):
        new = ((points[:, None] - centres[None]) ** 2).sum(-1).argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            if np.any(labels == j):
                centres[j] = points[labels == j].mean(axis=0)
    return labels


@dataclass
class Palette:
    """Per cluster: its share of the measured crops, and mean and standard deviation (RGB, 0-1) of text and
    background colour."""

    weight: np.ndarray  # (k,)
    text_mean: np.ndarray  # (k, 3)
    text_std: np.ndarray
    bg_mean: np.ndarray
    bg_std: np.ndarray

    def __len__(self) -> int:
        return len(self.weight)

    def choose(self, rng: np.random.Generator) -> int:
        return int(rng.choice(len(self.weight), p=self.weight))

    def choose_for(self, rng: np.random.Generator, background: np.ndarray) -> int:
        """A cluster for a background colour it already has: by share, times how near its background is."""
        d2 = ((self.bg_mean - background) ** 2).sum(axis=1)
        p = self.weight * np.exp(-0.5 * (d2 - d2.min()) / MATCH_SCALE ** 2)
        return int(rng.choice(len(p), p=p / p.sum()))

    def text(self, rng: np.random.Generator, cluster: int) -> np.ndarray:
        return np.clip(rng.normal(self.text_mean[cluster], self.text_std[cluster]), 0, 1).astype(np.float32)

    def background(self, rng: np.random.Generator, cluster: int) -> np.ndarray:
        return np.clip(rng.normal(self.bg_mean[cluster], self.bg_std[cluster]), 0, 1).astype(np.float32)

    def to_json(self, source: str) -> dict:
        clusters = [{"weight": round(float(w), 5), "text_mean": _r(tm), "text_std": _r(ts), "bg_mean": _r(bm),
                     "bg_std": _r(bs)}
                    for w, tm, ts, bm, bs in zip(self.weight, self.text_mean, self.text_std, self.bg_mean, self.bg_std)]
        return {"source": source, "colour_space": "sRGB 0-1", "clusters": clusters}

    @classmethod
    def from_json(cls, data: dict) -> "Palette":
        c = data["clusters"]
        arrays = {key: np.array([row[key] for row in c], dtype=np.float64)
                  for key in ("weight", "text_mean", "text_std", "bg_mean", "bg_std")}
        arrays["weight"] = arrays["weight"] / arrays["weight"].sum()
        return cls(**arrays)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Palette":
        """The table at ``path``, or the one bundled with sgtr."""
        return cls.from_json(json.loads(Path(path or PALETTE_ASSET).read_text(encoding="utf-8")))


def _r(v: np.ndarray) -> list[float]:
    return [round(float(x), 4) for x in v]


def cluster_pairs(text: np.ndarray, background: np.ndarray, k: int, seed: int = 0) -> Palette:
    """The palette of (n, 3) text and background colours (RGB, 0-1): k-means on the pairs in CIELAB, clusters
    sorted by share (largest first)."""
    if len(text) < k:
        raise ValueError(f"{len(text)} colour pairs cannot make {k} clusters")
    points = np.concatenate([_lab(text), _lab(background)], axis=1).astype(np.float64)
    labels = _kmeans(points, k, seed)
    used = [j for j in np.argsort(-np.bincount(labels, minlength=k)) if np.any(labels == j)]
    rows = [(np.mean(labels == j), text[labels == j], background[labels == j]) for j in used]
    return Palette(weight=np.array([r[0] for r in rows]),
                   text_mean=np.array([r[1].mean(axis=0) for r in rows]),
                   text_std=np.array([r[1].std(axis=0) for r in rows]),
                   bg_mean=np.array([r[2].mean(axis=0) for r in rows]),
                   bg_std=np.array([r[2].std(axis=0) for r in rows]))
