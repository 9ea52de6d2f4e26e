"""Sinusoidal position encodings (Transformer style) for steps, pixel grids and arbitrary 2-D points.

``sinusoid`` encodes any float positions (step indices, normalised coordinates); ``sinusoid_2d`` encodes (x, y) pairs
by concatenating the two halves, as GTR's node positions need; ``sinusoid_grid`` is that for every pixel of a map.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def sinusoid(positions: Tensor, dim: int, base: float = 10000.0) -> Tensor:
    """(...,) positions → (..., dim): [sin(p·ω_0), cos(p·ω_0), sin(p·ω_1), ...] with ω_i = base^(-2i/dim)."""
    if dim % 2:
        raise ValueError(f"sinusoidal encodings need an even dimension, got {dim}")
    freqs = torch.exp(torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32) * (-math.log(base) / dim))
    angles = positions.float().unsqueeze(-1) * freqs
    return torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(-2)


def sinusoid_2d(points: Tensor, dim: int, base: float = 10000.0) -> Tensor:
    """(..., 2) points as (x, y) → (..., dim): ``dim/2`` channels encode x, the other half y."""
    if dim % 4:
        raise ValueError(f"2-D sinusoidal encodings need a dimension divisible by 4, got {dim}")
    return torch.cat((sinusoid(points[..., 0], dim // 2, base), sinusoid(points[..., 1], dim // 2, base)), dim=-1)


def sinusoid_grid(height: int, width: int, dim: int, base: float = 10000.0, normalise: bool = False,
                  device: torch.device | str | None = None) -> Tensor:
    """(dim, height, width) encoding of every pixel; ``normalise`` maps coordinates to [0, 1] first."""
    ys = torch.arange(height, device=device, dtype=torch.float32)
    xs = torch.arange(width, device=device, dtype=torch.float32)
    if normalise:
        ys, xs = ys / max(height - 1, 1), xs / max(width - 1, 1)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2) as (x, y)
    return sinusoid_2d(grid, dim, base).permute(2, 0, 1)
