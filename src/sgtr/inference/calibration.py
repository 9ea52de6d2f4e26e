"""Int8 export: word crops gathered to measure activation ranges, then the float graph quantised with them.

Calibration images are named the way ``sgtr read`` takes its inputs (files, folders, globs, ``@list.txt``) and are
preprocessed exactly as reading preprocesses them, so the ranges measured are the ranges met when reading. Unreadable
images are handed back to be reported, not fatal.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np
from torch import nn

from sgtr.data.skips import Skip
from sgtr.inference.onnx_export import export_onnx
from sgtr.inference.preprocess import Preprocessor
from sgtr.inference.quantize import quantize_onnx
from sgtr.inference.stream import expand_inputs, prepared_batches
from sgtr.progress import bar


def gather_calibration(inputs: Iterable[str], input_size: tuple[int, int], limit: int, keep_ratio: bool = False,
                       resample: str = "antialias") -> tuple[np.ndarray | None, list[Skip]]:
    """The first ``limit`` images named by ``inputs``, preprocessed to ``input_size`` (as the model reads them:
    stretched, or with ``keep_ratio`` aspect kept and padded) as one (N, H, W, 3) uint8 array (None when none was
    readable), and the inputs or images that could not be used."""
    paths, skipped = expand_inputs(inputs)
    arrays = []
    progress = bar(total=min(limit, len(paths)), desc="calibration images")
    prepare = Preprocessor(input_size, keep_ratio=keep_ratio, resample=resample)
    for batch in prepared_batches(paths[:limit], prepare, 64, 0):
        progress.update(len(batch))
        for _, item in batch:
            if isinstance(item, Skip):
                skipped.append(item)
            else:
                arrays.append(item.arrays)
    progress.close()
    return (np.concatenate(arrays) if arrays else None), skipped


def export_int8(model: nn.Module, spec, out: str | Path, calibration: np.ndarray, *, branches: bool = False) -> Path:
    """Export ``model`` to a temporary float ONNX file, then write its int8 quantisation, calibrated on
    ``calibration``, to ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, spec, Path(tmp) / "fp32.onnx", branches=branches)
        return quantize_onnx(fp32, out, calibration)
