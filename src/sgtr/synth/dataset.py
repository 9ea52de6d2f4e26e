"""The renderer as a map-style ``torch.utils.data.Dataset``: item ``i`` is synthetic sample ``i``, drawn on demand.

For tests and small runs that want masked samples without writing an LMDB first. Items are the same samples
``sgtr synth`` writes with the same settings (before image encoding), and the dataset pickles into DataLoader
workers, each of which keeps its own font and glyph caches.
"""

from __future__ import annotations

from PIL import Image
from torch.utils.data import Dataset

from sgtr.data.sample import Sample
from sgtr.synth.config import SynthConfig
from sgtr.synth.render import SynthGenerator


class SynthDataset(Dataset):
    def __init__(self, source: SynthConfig | SynthGenerator, length: int):
        """``source``: settings to build a renderer from, or a built one (to share its font scan)."""
        if length < 0:
            raise ValueError(f"length must be at least 0, got {length}")
        self.length = length
        self.generator = source if isinstance(source, SynthGenerator) else SynthGenerator.build(source)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.length:
            raise IndexError(f"sample {index} out of range 0..{self.length - 1}")
        r = self.generator.render(index)
        return Sample(f"synth:{self.generator.config.seed}:{index}", Image.fromarray(r.image), r.label, r.mask)
