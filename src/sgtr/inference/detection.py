"""Finding text lines in photos: the PP-OCRv6 DB detector and the line-orientation classifier of the ``rapidocr``
wheel, run in ONNX Runtime, with the DB post-processing written here on OpenCV and NumPy.

The two ONNX files (Apache-2.0) are read from the installed ``rapidocr`` package (``pip install 'sgtr[pretrained]'``);
nothing is downloaded. Their inputs, checked by experiment on rendered photos:

* detector: (1, 3, H, W) float, BGR, ``(x / 255 - mean) / std`` with the ImageNet mean and std; H and W must be
  multiples of 32 (other sizes fail inside the graph); output (1, 1, H, W) text probabilities in [0, 1]. The map
  marks each line's *shrunk* core, so regions are grown back ("unclipped") before cropping.
* classifier: (N, 3, 48, 192) float, ``x / 127.5 - 1``, each crop resized to height 48 keeping its aspect, cut or
  zero-padded (after normalising) to width 192; output (N, 2): probabilities of upright and of turned 180°.

Post-processing: probability > ``threshold`` → binary map → outer contours → each contour's minimum-area rectangle,
scored by the mean probability inside the contour → the rectangle grown on every side by ``area · unclip_ratio /
perimeter`` (for a rectangle, the polygon offset of the DB paper without its rounded corners, so no clipping library
is needed) → corners in the original image's coordinates. Corners are ordered so the first edge runs along the
text, left to right, for lines within 45° of horizontal (``order_corners``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sgtr.inference.runtimes import default_threads
from sgtr.models.backbones.ppocr_import import PretrainedImportError, find_released_file

DETECTOR_FILE = "PP-OCRv6_det_small.onnx"
CLASSIFIER_FILE = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
EXTRA = "pip install 'sgtr[pretrained]'"
STRIDE = 32
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # ImageNet, BGR order below
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
CLASSIFIER_SIZE = (48, 192)  # height, width


class DetectorMissing(RuntimeError):
    """The detector's files or runtime are not installed; the message names the extra to install."""


@dataclass
class TextBox:
    """One detected line: ``corners`` (4, 2) float32 x, y in the photo, clockwise from the text's top-left;
    ``score``: the mean text probability inside the region."""

    corners: np.ndarray
    score: float


def model_file(name: str) -> Path:
    """A model file of the installed ``rapidocr`` package, or ``DetectorMissing``."""
    try:
        return find_released_file(name)
    except PretrainedImportError as exc:
        raise DetectorMissing(f"text detection needs the rapidocr package's models ({exc})") from None


def _session(name: str, threads: int | None):
    try:
        import onnxruntime as ort
    except ModuleNotFoundError:
        raise DetectorMissing(f"text detection needs ONNX Runtime: {EXTRA}") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    return ort.InferenceSession(str(model_file(name)), options, providers=["CPUExecutionProvider"])


def detector_input_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """The detector's input size for a photo: scaled down so the longer side is at most ``max_side`` (never up),
    each side then rounded to the nearest multiple of 32 (at least 32)."""
    scale = min(1.0, max_side / max(height, width))
    return tuple(max(STRIDE, round(side * scale / STRIDE) * STRIDE) for side in (height, width))


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four corners clockwise (image coordinates, y down), starting where the edge to the next corner points most
    nearly along +x: the top-left of a line within 45° of horizontal."""
    centre = points.mean(axis=0)
    points = points[np.argsort(np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0]))]
    edges = np.roll(points, -1, axis=0) - points
    start = int(np.argmax(edges[:, 0] / (np.linalg.norm(edges, axis=1) + 1e-9)))
    return np.roll(points, -start, axis=0).astype(np.float32)


def boxes_from_map(prob: np.ndarray, threshold: float = 0.3, box_threshold: float = 0.6, unclip_ratio: float = 1.5,
                   min_size: float = 3.0, max_boxes: int = 1000) -> list[TextBox]:
    """DB post-processing of one (H, W) probability map; corners in the map's own pixel coordinates."""
    import cv2

    binary = (prob > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours[:max_boxes]:
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        if min(w, h) < min_size:
            continue
        score = _mean_inside(prob, contour)
        if score < box_threshold:
            continue
        grow = 2 * (w * h * unclip_ratio / (2 * (w + h)))  # the offset distance, on both sides
        w, h = w + grow, h + grow
        if min(w, h) < min_size + 2:
            continue
        boxes.append(TextBox(order_corners(cv2.boxPoints(((cx, cy), (w, h), angle))), score))
    return boxes


def _mean_inside(prob: np.ndarray, contour: np.ndarray) -> float:
    """The mean of ``prob`` over the pixels inside ``contour``, computed in the contour's bounding rectangle."""
    import cv2

    x, y, w, h = cv2.boundingRect(contour)
    mask = np.zeros((h, w), dtype=np.uint8)
    cv2.fillPoly(mask, [contour.reshape(-1, 2) - [x, y]], 1)
    return float(cv2.mean(prob[y:y + h, x:x + w], mask)[0])


class TextDetector:
    """Text lines in RGB photos (``detect``) and which of them are upside down (``upside_down``).

    ``max_side``: the longest side the detector sees (photos are scaled down to it, never up); larger finds smaller
    text and costs time quadratically. ``threads``: ONNX Runtime's intra-op threads (default: half the CPUs, as
    the recognizer's)."""

    def __init__(self, max_side: int = 960, threshold: float = 0.3, box_threshold: float = 0.6,
                 unclip_ratio: float = 1.5, threads: int | None = None):
        try:
            import cv2  # noqa: F401
        except ModuleNotFoundError:
            raise DetectorMissing(f"text detection needs OpenCV: {EXTRA}") from None
        self.max_side, self.threshold, self.box_threshold = max_side, threshold, box_threshold
        self.unclip_ratio = unclip_ratio
        self.detector = _session(DETECTOR_FILE, threads)
        self.classifier = _session(CLASSIFIER_FILE, threads)

    def probability(self, image: np.ndarray) -> np.ndarray:
        """The detector's (h, w) text-probability map of an (H, W, 3) uint8 RGB photo, at its input size."""
        import cv2

        h, w = detector_input_size(*image.shape[:2], self.max_side)
        x = cv2.resize(image[..., ::-1], (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        x = (x / 255.0 - MEAN) / STD
        return self.detector.run(None, {self.detector.get_inputs()[0].name: x.transpose(2, 0, 1)[None]})[0][0, 0]

    def detect(self, image: np.ndarray) -> list[TextBox]:
        """Text lines of an (H, W, 3) uint8 RGB photo, corners in its pixel coordinates (not yet in reading order)."""
        prob = self.probability(image)
        boxes = boxes_from_map(prob, self.threshold, self.box_threshold, self.unclip_ratio)
        height, width = image.shape[:2]
        scale = np.array([width / prob.shape[1], height / prob.shape[0]], dtype=np.float32)
        limit = np.array([width - 1, height - 1], dtype=np.float32)
        for box in boxes:
            box.corners = np.clip(box.corners * scale, 0, limit)
        return boxes

    def upside_down(self, crops: list[np.ndarray], threshold: float = 0.9) -> np.ndarray:
        """Bool per (h, w, 3) uint8 RGB line crop: the classifier's probability of a 180° turn exceeds
        ``threshold``."""
        import cv2

        if not crops:
            return np.zeros(0, dtype=bool)
        height, width = CLASSIFIER_SIZE
        batch = np.zeros((len(crops), 3, height, width), dtype=np.float32)
        for i, crop in enumerate(crops):
            w = min(width, max(1, int(np.ceil(height * crop.shape[1] / crop.shape[0]))))
            resized = cv2.resize(crop[..., ::-1], (w, height), interpolation=cv2.INTER_LINEAR)
            batch[i, :, :, :w] = (resized.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
        probs = self.classifier.run(None, {self.classifier.get_inputs()[0].name: batch})[0]
        return probs[:, 1] > threshold
