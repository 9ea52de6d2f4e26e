"""A trained model as a prediction source, and the replay of one of its branches' recorded readings.

``ModelSource`` reads each batch with a ``sgtr.inference`` recognizer (a training checkpoint, a weights file, an ONNX
export, or the bundled default model). With ``branches`` set it also records, by branch name and sample key, what
each branch of the model read in the same forward pass; ``RecordedBranch`` scores those readings afterwards without
another pass and without looking at images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sgtr.data.sample import Sample
from sgtr.evaluation.sources import Prediction
from sgtr.inference.loading import resolve_model_path
from sgtr.inference.predictor import Recognizer


class ModelSource:
    """A model file (None: the bundled default model) read in batches of ``batch_size``."""

    def __init__(self, path: str | Path | None, batch_size: int = 32):
        resolved = resolve_model_path(path)
        self.name = resolved.name if path is not None else f"{resolved.name} (the bundled default model)"
        self.recognizer = Recognizer(resolved, batch_size=batch_size)
        self.branches = False
        self.branch_readings: dict[str, dict[str, Prediction]] = {}

    def predict(self, batch: Sequence[Sample]) -> list[Prediction | None]:
        # Scored on the model's own reading of each crop as given, as the published protocols do.
        readings = self.recognizer.predict((s.image for s in batch), branches=self.branches, rotate_vertical=False)
        for sample, reading in zip(batch, readings):
            for branch, p in reading.branches.items():
                self.branch_readings.setdefault(branch, {})[sample.key] = (p.text, p.confidence)
        return [(p.text, p.confidence) for p in readings]


class RecordedBranch:
    """One branch's readings recorded by a ``ModelSource``, replayed by sample key."""

    needs_images = False

    def __init__(self, name: str, readings: dict[str, Prediction]):
        self.name, self.readings = name, readings

    def predict(self, batch: Sequence[Sample]) -> list[Prediction | None]:
        return [self.readings.get(s.key) for s in batch]
