"""Where every output pixel looks in the flat text: one map for curve, shear, rotation, perspective and crop fit.

Text is laid out flat in em units (x right, y down, baseline at y = 0). A ``Warp`` sends that plane to output pixels
in two steps: an optional curve (an arc, as on CUTE80's round signs, or a sine wave) and a 3x3 homography holding
shear, rotation, perspective and the fit of the word into the crop. ``Warp.maps`` inverts the chain once per
output pixel, so the image layers and the mask go through the same single ``cv2.remap`` lookup and the mask lands
exactly where its character's ink does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Output pixels are sampled on a SUPERSAMPLE x SUPERSAMPLE grid and box-filtered, which anti-aliases the
# downscaling of long words without a separate blur.
SUPERSAMPLE = 2


@dataclass(frozen=True)
class Arc:
    """Bends the text along a circle through the frame centre (cu, cv). With radius > 0 the circle's centre lies
    below the text, which arches over it (the top of a round stamp); with radius < 0 it lies above (a smile)."""

    cu: float
    cv: float
    radius: float

    def forward(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = (u - self.cu) / self.radius
        r = self.radius - (v - self.cv)
        return self.cu + r * np.sin(theta), self.cv + self.radius - r * np.cos(theta)

    def inverse(self, p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sign = math.copysign(1.0, self.radius)
        dx, dy = sign * (p - self.cu), sign * (self.cv + self.radius - q)
        return self.cu + self.radius * np.arctan2(dx, dy), self.cv + self.radius - sign * np.hypot(dx, dy)


@dataclass(frozen=True)
class Wave:
    """Moves each column of the text up or down along a sine."""

    amplitude: float
    wavelength: float
    phase: float

    def _offset(self, u: np.ndarray) -> np.ndarray:
        return self.amplitude * np.sin(2 * math.pi * u / self.wavelength + self.phase)

    def forward(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return u, v + self._offset(u)

    def inverse(self, p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return p, q - self._offset(p)


Curve = Arc | Wave


@dataclass(frozen=True)
class Shape:
    """The random part of a word's geometry, in em units, before it is fitted into a crop."""

    curve: Curve | None
    homography: np.ndarray  # curved text plane -> scene plane


@dataclass(frozen=True)
class Fit:
    """How the warped word sits in the crop: margins in output pixels, and whether a word narrower than the crop
    keeps its aspect ratio (else it is stretched to fill, as a resized detector crop is)."""

    left: float
    right: float
    top: float
    bottom: float
    keep_aspect: bool
    align: float  # 0 = left, 1 = right, when the kept aspect leaves room


def _apply(h: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Python floats keep float32 grids in float32 (a numpy float64 scalar would promote them).
    a, b, c, d, e, f, g, k, m = (float(t) for t in h.ravel())
    w = g * x + k * y + m
    return (a * x + b * y + c) / w, (d * x + e * y + f) / w


def _translate(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], dtype=np.float64)


@dataclass(frozen=True)
class View:
    """A flat sign seen by a pinhole camera: turned by ``yaw`` degrees about its vertical axis (one end nearer the
    camera, as a shop sign seen from the pavement) and ``pitch`` degrees about its horizontal one (seen from below),
    from ``distance`` times the frame's longer side."""

    yaw: float
    pitch: float
    distance: float

    def homography(self, frame: tuple[float, float, float, float]) -> np.ndarray:
        u0, v0, u1, v1 = frame
        cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
        src = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], dtype=np.float64)
        x, y = src[:, 0] - cu, src[:, 1] - cv
        ya, pa = math.radians(self.yaw), math.radians(self.pitch)
        x, z = x * math.cos(ya), x * math.sin(ya)
        y, z = y * math.cos(pa) - z * math.sin(pa), y * math.sin(pa) + z * math.cos(pa)
        focal = self.distance * max(u1 - u0, v1 - v0)
        scale = focal / (focal + z)
        dst = np.stack([cu + x * scale, cv + y * scale], axis=1)
        return cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32)).astype(np.float64)


def make_shape(frame: tuple[float, float, float, float], *, curve: Curve | None = None, shear: float = 0.0,
               rotation_deg: float = 0.0, corner_jitter: np.ndarray | None = None, view: View | None = None) -> Shape:
    """Shear (x += shear * height above the middle), the ``view`` of a sign turned away from the camera, rotation
    about the frame centre, then a perspective that moves the four frame corners by ``corner_jitter`` (4x2, in em)."""
    u0, v0, u1, v1 = frame
    cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
    a = math.radians(rotation_deg)
    rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    sh = np.array([[1, -shear, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    seen = np.eye(3) if view is None else view.homography(frame)
    h = _translate(cu, cv) @ rot @ _translate(-cu, -cv) @ seen @ _translate(cu, cv) @ sh @ _translate(-cu, -cv)
    if corner_jitter is not None:
        corners = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], dtype=np.float64)
        src = np.stack(_apply(h, corners[:, 0], corners[:, 1]), axis=1)
        persp = cv2.getPerspectiveTransform(src.astype(np.float32), (src + corner_jitter).astype(np.float32))
        h = persp @ h
    return Shape(curve, h)


@dataclass(frozen=True)
class Warp:
    """Text plane (em) -> output pixels."""

    curve: Curve | None
    homography: np.ndarray

    def forward(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.curve is not None:
            u, v = self.curve.forward(u, v)
        return _apply(self.homography, u, v)

    def inverse(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Text-plane points of output points; points beyond the perspective's horizon (which a projective map
        would fold back, mirrored, onto the text) go far outside the text instead."""
        inv = np.linalg.inv(self.homography)
        u, v = _apply(inv, x, y)
        if inv[2, 0] or inv[2, 1]:
            # make_shape's homographies have a positive projective weight on the text, and a point's weight under
            # the inverse is the reciprocal of its weight under the forward map.
            a, b, c = (float(t) for t in inv[2])
            beyond = a * x + b * y + c <= 0
            u, v = np.where(beyond, np.float32(-1e4), u), np.where(beyond, np.float32(-1e4), v)
        if self.curve is not None:
            u, v = self.curve.inverse(u, v)
        return u, v

    def em_size(self, frame: tuple[float, float, float, float]) -> float:
        """Output pixels per em at the frame centre (geometric mean over both axes)."""
        cu, cv = (frame[0] + frame[2]) / 2, (frame[1] + frame[3]) / 2
        x, y = self.forward(np.array([cu, cu + 0.01, cu]), np.array([cv, cv, cv + 0.01]))
        area = abs((x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0]))
        return math.sqrt(area) / 0.01

    def maps(self, height: int, width: int, scale: float, origin: tuple[float, float]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``cv2.remap`` maps into a source canvas drawn at ``scale`` pixels per em whose top-left pixel corner
        is at ``origin`` (layout pixels): the supersampled grid for the image layers and the pixel-centre grid for
        the mask (the mean of each pixel's sub-samples, so both grids agree)."""
        n = SUPERSAMPLE
        xs = ((np.arange(width * n, dtype=np.float32) + 0.5) / n)[None, :]
        ys = ((np.arange(height * n, dtype=np.float32) + 0.5) / n)[:, None]
        u, v = (t.astype(np.float32, copy=False) for t in self.inverse(xs, ys))
        # Pixel i of the canvas covers [i, i + 1) and remap addresses its centre as i.
        map_x = np.broadcast_to(u * np.float32(scale) - np.float32(origin[0] + 0.5), (height * n, width * n))
        map_y = np.broadcast_to(v * np.float32(scale) - np.float32(origin[1] + 0.5), (height * n, width * n))
        map_x, map_y = np.ascontiguousarray(map_x), np.ascontiguousarray(map_y)
        mask_x = cv2.resize(map_x, (width, height), interpolation=cv2.INTER_AREA)
        mask_y = cv2.resize(map_y, (width, height), interpolation=cv2.INTER_AREA)
        return map_x, map_y, mask_x, mask_y


# The border of a unit frame: dense along the long edges, where a curve bulges between points.
_EDGE = np.linspace(0.0, 1.0, 12)
_SIDE = np.linspace(0.0, 1.0, 4)
_OUTLINE_U = np.concatenate([_EDGE, _EDGE, np.zeros(4), np.ones(4)])
_OUTLINE_V = np.concatenate([np.zeros(12), np.ones(12), _SIDE, _SIDE])


def frame_outline(frame: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    u0, v0, u1, v1 = frame
    return u0 + (u1 - u0) * _OUTLINE_U, v0 + (v1 - v0) * _OUTLINE_V


def kept_ratio_width(shape: Shape, frame: tuple[float, float, float, float], fit: Fit, height: int,
                     max_width: int, stretch: float = 1.0) -> int:
    """The crop width at which the shaped frame, scaled to the height between the fit's margins, keeps its aspect
    ratio (widened by ``stretch``), at most ``max_width`` (a wider word is squeezed into it) and at least 1."""
    x, y = Warp(shape.curve, shape.homography).forward(*frame_outline(frame))
    room_h = max(height - fit.top - fit.bottom, 1.0)
    span = float(x.max() - x.min()) / max(float(y.max() - y.min()), 1e-6) * room_h * stretch
    return int(min(max_width, max(1, math.ceil(fit.left + fit.right + span))))


def fit_warp(shape: Shape, frame: tuple[float, float, float, float], fit: Fit, height: int, width: int) -> Warp:
    """The warp that puts the shaped frame inside the crop with the fit's margins."""
    x, y = Warp(shape.curve, shape.homography).forward(*frame_outline(frame))
    bx0, by0, bx1, by1 = x.min(), y.min(), x.max(), y.max()
    room_w = max(width - fit.left - fit.right, 1.0)
    room_h = max(height - fit.top - fit.bottom, 1.0)
    sx, sy = room_w / max(bx1 - bx0, 1e-6), room_h / max(by1 - by0, 1e-6)
    left, top = fit.left, fit.top
    if fit.keep_aspect and sx > sy:
        # A short word keeps its shape with room beside it; a long one is squeezed as a resized crop would be,
        # rather than shrunk to a thin line in the middle.
        sx = sy
        left += (room_w - sx * (bx1 - bx0)) * fit.align
    place = np.array([[sx, 0, left - sx * bx0], [0, sy, top - sy * by0], [0, 0, 1]], dtype=np.float64)
    return Warp(shape.curve, place @ shape.homography)
