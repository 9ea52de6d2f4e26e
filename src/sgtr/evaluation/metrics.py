"""Word accuracy, 1-NED and mean confidence, accumulated sample by sample over already-cleaned strings.

1-NED follows ICDAR 2019: for each sample ``1 - ED(pred, gt) / max(|pred|, |gt|)`` with the Levenshtein distance
(unit costs), and 1 when both strings are empty; the metric is its mean over samples. Lengths are in code points,
which is why the protocols normalise to NFC first.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein


def similarity(prediction: str, label: str) -> float:
    """One sample's 1-NED term."""
    longest = max(len(prediction), len(label))
    if longest == 0:
        return 1.0
    return 1.0 - Levenshtein.distance(prediction, label) / longest


@dataclass
class Tally:
    """Running sums for one set; the metrics are None until a sample has been added."""

    count: int = 0
    correct: int = 0
    similarity_sum: float = 0.0
    confidence_sum: float = 0.0
    confidence_count: int = 0

    def add(self, prediction: str, label: str, confidence: float | None = None) -> bool:
        """Score one cleaned pair; returns whether the word is right."""
        right = prediction == label
        self.count += 1
        self.correct += right
        self.similarity_sum += similarity(prediction, label)
        if confidence is not None:
            self.confidence_sum += confidence
            self.confidence_count += 1
        return right

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.count if self.count else None

    @property
    def one_minus_ned(self) -> float | None:
        return self.similarity_sum / self.count if self.count else None

    @property
    def mean_confidence(self) -> float | None:
        """Mean over the samples whose source gave a confidence."""
        return self.confidence_sum / self.confidence_count if self.confidence_count else None
