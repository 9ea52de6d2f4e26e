"""``Recognizer``: the object users read text with (``sgtr.Recognizer``), and ``sgtr read``, ``sgtr evaluate`` and
``sgtr explain`` are built on.

It holds a model in a runtime (PyTorch or ONNX Runtime, ``runtimes.py``) with its ``ModelSpec``, and reads images in
batches: preprocessing (``preprocess.py``) → one forward pass → the shared decoder (``sgtr.models.decoding``), with an
optional whitelist, lexicon (``lexicon.py``) and vertical-crop rotation. Each image gives one ``Reading``.

    from sgtr import Recognizer
    rec = Recognizer()                        # the bundled model; or Recognizer("x.ckpt" | "x.safetensors" | "x.onnx")
    rec.predict(["a.png", array, pil_image])  # -> [Reading(text, confidence, char_probs, ...), ...]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from sgtr.data.charset import Charset
from sgtr.inference.lexicon import Lexicon
from sgtr.inference.loading import open_runtime
from sgtr.inference.preprocess import ImageInput, Prepared, Preprocessor, to_batch
from sgtr.inference.runtimes import TorchRuntime
from sgtr.inference.spec import ModelSpec
from sgtr.models.decoding import Prediction, allowed_classes, decode

WIDTH_WINDOW = 8  # with width buckets, the batches whose images are grouped by width together


@dataclass
class Reading(Prediction):
    """One image's reading: ``text``, word ``confidence`` and ``char_probs`` (one per character of ``text``), plus
    ``turn`` (degrees counter-clockwise the image was turned before reading; non-zero only with
    ``rotate_vertical``), ``branches`` (each branch's own reading, with ``branches=True``) and ``raw`` (with a
    lexicon: the model's own reading, before the closest word replaced it)."""

    turn: int = 0
    branches: dict[str, Prediction] = field(default_factory=dict)
    raw: Prediction | None = None

    def to_dict(self) -> dict:
        """JSON-ready; ``raw`` and ``branches`` only when present."""
        out = asdict(self)
        if self.raw is None:
            del out["raw"]
        if not self.branches:
            del out["branches"]
        return out


class Recognizer:
    """A model ready to read. ``model``: a training checkpoint (``.ckpt``), a weights file (``.safetensors``), an
    ONNX export (``.onnx``, run in ONNX Runtime), an in-memory ``nn.Module`` with its ``spec``, or None for the
    bundled default model. ``device``: ``auto`` (a CUDA GPU when there is one), ``cpu``, ``cuda``, ``cuda:1``...
    ``threads``: the compute threads of one forward pass, in either runtime (default: half the CPUs; see
    ``runtimes.py``). PyTorch's count is process-wide: this recognizer sets it before each forward pass.

    ``width_buckets``: 0 (the default) reads every batch at the width the model was trained at. N > 0, for a model
    that keeps the aspect ratio and runs in PyTorch, groups the images of each ``WIDTH_WINDOW`` batches by width and
    cuts each batch to the smallest multiple of N that holds its widest image, so short words carry little padding:
    2.1–2.6× faster for the imported PP-OCRv6-small network, which then reads 0.9–1.6 points less of the validation
    split than at the 320 columns it was trained at (``benchmarks/width_buckets.py``, docs/inference.md)."""

    def __init__(self, model: str | Path | nn.Module | None = None, *, spec: ModelSpec | None = None,
                 runtime: str | None = None, device: str | torch.device = "auto", batch_size: int = 32,
                 threads: int | None = None, width_buckets: int = 0):
        if isinstance(model, nn.Module):
            if spec is None:
                raise ValueError("an in-memory model needs its ModelSpec (spec=...)")
            self.spec, self.runtime = spec, TorchRuntime(model, device, threads)
        else:
            self.spec, self.runtime = open_runtime(model, runtime, device, threads)
        self.batch_size = batch_size
        if width_buckets < 0:
            raise ValueError(f"width_buckets must be 0 (off) or a positive column count, got {width_buckets}")
        if width_buckets and not self.spec.keep_ratio:
            raise ValueError("width_buckets needs a model that keeps the aspect ratio; this one reads every image "
                             f"stretched to {self.spec.input_size[1]} columns")
        if width_buckets and self.runtime.name != "torch":
            raise ValueError("width_buckets needs the PyTorch runtime: an ONNX graph's input width is fixed at export")
        self.width_buckets = width_buckets

    @property
    def charset(self) -> Charset:
        return self.spec.charset

    @property
    def input_size(self) -> tuple[int, int]:
        return self.spec.input_size

    def preprocessor(self, rotate_vertical: bool = False) -> Preprocessor:
        return Preprocessor(self.input_size, rotate_vertical, self.spec.keep_ratio, self.spec.resample)

    def predict(self, images: ImageInput | Iterable[ImageInput], *, branches: bool = False,
                whitelist: Iterable[str] | None = None, lexicon: Lexicon | Iterable[str] | None = None,
                rotate_vertical: bool = True) -> list[Reading]:
        """Read one image or many (a list, any iterable — consumed ``batch_size`` at a time); always a list back.
        ``whitelist``: the symbols allowed in the output. ``lexicon``: words (or a ``Lexicon``) the text must be one
        of (see ``lexicon.py``). ``rotate_vertical``: also read tall crops turned ±90° (see ``preprocess.py``); on by
        default, since on the validation split it read more tall crops right than it broke."""
        if isinstance(images, (str, Path, np.ndarray, Image.Image)):
            images = [images]
        if lexicon is not None and not isinstance(lexicon, Lexicon):
            lexicon = Lexicon(lexicon, self.charset)
        whitelist = None if whitelist is None else list(whitelist)  # iterated once per batch
        prepare = self.preprocessor(rotate_vertical)
        window = self.batch_size * (WIDTH_WINDOW if self.width_buckets else 1)
        readings: list[Reading] = []
        for chunk in _chunks(iter(images), window):
            prepared = [prepare(image) for image in chunk]
            order = list(range(len(prepared)))
            if self.width_buckets:  # grouped by width, so each batch's crops are about as wide; back in order after
                order.sort(key=lambda i: prepared[i].width)
            read: list[Reading | None] = [None] * len(prepared)
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                batch = self.read_prepared([prepared[i] for i in rows], branches=branches, whitelist=whitelist,
                                           lexicon=lexicon)
                for i, reading in zip(rows, batch):
                    read[i] = reading
            readings += read
        return readings

    def read_prepared(self, items: Sequence[Prepared], *, branches: bool = False,
                      whitelist: Sequence[str] | None = None, lexicon: Lexicon | None = None) -> list[Reading]:
        """Read preprocessed images (``Preprocessor`` output, e.g. from DataLoader workers) in one forward pass."""
        if not items:
            return []
        arrays = np.concatenate([item.arrays for item in items])
        if self.width_buckets:
            step = self.width_buckets
            arrays = arrays[:, :, :min(arrays.shape[2], -(-max(item.width for item in items) // step) * step)]
        output = self.runtime(to_batch(arrays))
        final = decode(output, self.charset, whitelist=whitelist, temperature=self.spec.temperature)
        per_branch = {name: decode(logits, self.charset, ctc=output.ctc, whitelist=whitelist,
                                   temperature=self.spec.temperature)
                      for name, logits in output.branches.items()} if branches else {}
        log_probs = None
        if lexicon is not None:
            if output.ctc:
                raise ValueError("a lexicon needs a step-wise model; this one has CTC outputs")
            log_probs = output.logits.float()
            if whitelist is not None:
                allowed = allowed_classes(self.charset, whitelist, log_probs.shape[-1])
                log_probs = log_probs.masked_fill(~allowed, -torch.inf)
            log_probs = log_probs.log_softmax(dim=-1)
        readings, start = [], 0
        for item in items:
            rows = range(start, start + len(item.turns))
            start += len(item.turns)
            row = max(rows, key=lambda r: final[r].confidence)  # the first of equals: unturned before turned
            best = final[row]
            kept = best if log_probs is None else lexicon.match(best.text, log_probs[row])
            readings.append(Reading(kept.text, kept.confidence, kept.char_probs, turn=item.turns[row - rows.start],
                                    branches={name: preds[row] for name, preds in per_branch.items()},
                                    raw=None if log_probs is None else best))
        return readings


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    while chunk := list(islice(items, size)):
        yield chunk
