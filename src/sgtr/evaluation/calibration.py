"""Confidence a user can trust: expected calibration error (ECE), reliability bins, and a temperature fitted so that
word confidences match how often words are right.

A word's confidence is the product of its characters' (CTC: its frames') top probabilities. Dividing the logits by a
temperature T > 1 softens every probability, T < 1 sharpens them; the argmax, so the text, never changes. ``fit`` picks
T on one set of readings by the negative log-likelihood of "the word is right" under its confidence, over a fixed
grid (a one-parameter fit needs no optimiser), and the ECE is then measured on other readings: never on those that
fitted T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sgtr.data.charset import Charset
from sgtr.models.decoding import decode

GRID = np.round(np.exp(np.linspace(np.log(0.25), np.log(8.0), 61)), 4)  # 0.25 … 8, log-spaced


@dataclass
class LogitBatch:
    """One forward pass's final logits (B, T, K) and whether they are CTC frames."""

    logits: torch.Tensor
    ctc: bool


def confidences(batches: list[LogitBatch], charset: Charset, temperature: float) -> tuple[np.ndarray, list[str]]:
    """Word confidences and texts of every sample, decoded at ``temperature``."""
    conf, texts = [], []
    for batch in batches:
        for p in decode(batch.logits, charset, ctc=batch.ctc, temperature=temperature):
            conf.append(p.confidence)
            texts.append(p.text)
    return np.asarray(conf, dtype=np.float64), texts


def calibration_nll(confidence: np.ndarray, correct: np.ndarray) -> float:
    p = np.clip(confidence, 1e-7, 1 - 1e-7)
    return float(-np.mean(np.where(correct, np.log(p), np.log1p(-p))))


def fit(batches: list[LogitBatch], charset: Charset, correct: np.ndarray, grid=GRID) -> float:
    """The temperature of ``grid`` whose confidences best predict ``correct`` (lowest NLL)."""
    losses = [calibration_nll(confidences(batches, charset, float(t))[0], correct) for t in grid]
    return float(grid[int(np.argmin(losses))])


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    confidence: float  # mean confidence of the bin's words
    accuracy: float  # share of them that are right


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[Bin]:
    """Equal-width confidence bins (the last one closed), empty bins left out."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        if sel.any():
            out.append(Bin(float(edges[b]), float(edges[b + 1]), int(sel.sum()), float(confidence[sel].mean()),
                           float(correct[sel].mean())))
    return out


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Σ_bins (n_bin / n) · |accuracy_bin − confidence_bin|."""
    n = len(confidence)
    return float(sum(b.count / n * abs(b.accuracy - b.confidence) for b in reliability(confidence, correct, bins)))
