"""Batches for training and validation: the prepared-dataset wrapper, ``Targets``, ``Batch``, collation and the ratio
mixture.

``PreparedDataset`` applies ``Prepare`` to any reader; ``collate`` stacks prepared samples into one ``Batch`` (images
and the ``Targets`` a recognizer is trained on) and keeps the skips so the consumer can count them;
``RatioBatchSampler`` draws several sources by fixed ratios in every batch (the ``--select_data MJ-ST --batch_ratio
0.5-0.5`` of the reference code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from sgtr.data.charset import EOS_ID, PAD_ID
from sgtr.data.skips import Skip
from sgtr.data.transforms import Prepare, PreparedSample, normalise


class PreparedDataset(Dataset):
    def __init__(self, reader: Dataset, prepare: Prepare):
        self.reader, self.prepare = reader, prepare

    def __len__(self) -> int:
        return len(self.reader)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> PreparedSample | Skip:
        return self.prepare(self.reader[index])


@dataclass
class Targets:
    """Supervision for one batch, what a recognizer's ``forward(images, targets)`` is trained on.

    ``ids``: (B, T) token ids, one EOS after the label, then ``PAD_ID`` (-100).
    ``masks``: (B, H, W) long character-instance maps at input resolution (0 background, t = t-th character), or None.
    ``has_mask``: (B,) bool, which samples carry a real mask (real data has none; their mask rows are ignored).
    """

    ids: torch.Tensor
    masks: torch.Tensor | None = None
    has_mask: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "Targets":
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Targets(move(self.ids), move(self.masks), move(self.has_mask))


@dataclass
class Batch:
    """``images`` (B, 3, H, W) float in [-1, 1], their ``targets``, and each sample's key and (cleaned) label."""

    images: torch.Tensor
    targets: Targets
    keys: list[str]
    labels: list[str]
    skips: list[Skip] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.images.to(device, non_blocking=True), self.targets.to(device), self.keys, self.labels,
                     self.skips)


def collate(items: Sequence[PreparedSample | Skip], max_steps: int) -> Batch:
    skips = [it for it in items if isinstance(it, Skip)]
    good = [it for it in items if not isinstance(it, Skip)]
    if not good:
        empty = torch.zeros(0)
        return Batch(empty, Targets(empty.long(), None, empty.bool()), [], [], skips)
    images = normalise(np.stack([s.image for s in good]))
    ids = torch.full((len(good), max_steps), PAD_ID, dtype=torch.long)
    for row, s in enumerate(good):
        ids[row, : len(s.ids)] = torch.as_tensor(s.ids, dtype=torch.long)
        ids[row, len(s.ids)] = EOS_ID
    has_mask = torch.tensor([s.positions is not None for s in good])
    masks = None
    if has_mask.any():
        h, w = good[0].image.shape[:2]
        zero = np.zeros((h, w), dtype=np.uint8)
        masks = torch.from_numpy(np.stack([zero if s.positions is None else s.positions for s in good])).long()
    return Batch(images, Targets(ids, masks, has_mask), [s.key for s in good], [s.label for s in good], skips)


class Collate:
    """Picklable collate bound to the number of decoding steps."""

    def __init__(self, max_steps: int):
        self.max_steps = max_steps

    def __call__(self, items):
        return collate(items, self.max_steps)


class RatioBatchSampler(Sampler[list[int]]):
    """Batches of indices into a ``ConcatDataset`` of ``sizes`` sources, drawn by ``ratios`` in every batch.

    Each source is walked in its own reshuffled order, restarting when exhausted, so a small real set mixed with a
    large synthetic one is revisited rather than starving the batch. ``len`` is one pass over the largest source
    scaled by its ratio. Give each DDP rank its own ``seed`` (e.g. seed + rank) to draw different samples.
    """

    def __init__(self, sizes: Sequence[int], ratios: Sequence[float], batch_size: int, seed: int = 0):
        if len(sizes) != len(ratios) or not sizes:
            raise ValueError(f"need one ratio per source: {len(sizes)} sources, {len(ratios)} ratios")
        if any(r < 0 for r in ratios) or sum(ratios) <= 0:
            raise ValueError(f"ratios must be non-negative and not all zero, got {list(ratios)}")
        if any(n == 0 for n, r in zip(sizes, ratios) if r > 0):
            raise ValueError("a source with a non-zero ratio is empty")
        total = float(sum(ratios))
        self.sizes = list(sizes)
        self.offsets = np.cumsum([0] + self.sizes[:-1])
        self.batch_size = batch_size
        # Largest-remainder rounding, so the per-source counts always add up to the batch size.
        exact = [batch_size * r / total for r in ratios]
        counts = [int(x) for x in exact]
        by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)
        for i in by_remainder[: batch_size - sum(counts)]:
            counts[i] += 1
        self.counts = counts
        self.seed = seed
        self.epoch = 0
        self.start = 0  # set to the global step on resume, so a resumed run draws fresh batches

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(n // c for n, c in zip(self.sizes, self.counts) if c > 0)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch, self.start))
        orders = [rng.permutation(n) if c else None for n, c in zip(self.sizes, self.counts)]
        cursors = [0] * len(self.sizes)
        for _ in range(len(self)):
            batch: list[int] = []
            for src, c in enumerate(self.counts):
                if not c:
                    continue
                taken = []
                while len(taken) < c:
                    if cursors[src] >= self.sizes[src]:
                        orders[src], cursors[src] = rng.permutation(self.sizes[src]), 0
                    step = min(c - len(taken), self.sizes[src] - cursors[src])
                    taken.extend(orders[src][cursors[src] : cursors[src] + step])
                    cursors[src] += step
                batch.extend(int(i) + int(self.offsets[src]) for i in taken)
            yield batch
