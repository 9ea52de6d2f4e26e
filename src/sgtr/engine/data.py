"""Building the training and validation loaders from a config: sources mixed by ratio, sets validated by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset

from sgtr.data.augment import Augment, AugmentPolicy
from sgtr.data.batching import Collate, PreparedDataset, RatioBatchSampler
from sgtr.data.charset import Charset
from sgtr.data.datasets import open_dataset
from sgtr.data.transforms import Prepare
from sgtr.engine.config import ConfigError
from sgtr.evaluation.protocols import get_protocol


def protocol_for(charset: Charset):
    """The evaluation protocol that matches what a charset can say: 36/62/94 for the presets, raw otherwise."""
    return get_protocol(charset.name if charset.name in ("36", "62", "94") else "raw")


def train_loader(config: dict, charset: Charset, seed: int) -> DataLoader:
    data = config["data"]
    sources = data["train"]
    if not sources:
        raise ConfigError("data.train lists no training source; give a list of {path: ..., ratio: ...}")
    readers = [open_source(s["path"], f"data.train[{i}].path") for i, s in enumerate(sources)]
    for i, (reader, source) in enumerate(zip(readers, sources)):
        if len(reader) == 0 and float(source.get("ratio", 1.0)) > 0:
            raise ConfigError(f"data.train[{i}].path: {source['path']} holds no samples")
    policy = AugmentPolicy.from_config(data["augment"])
    prepare = Prepare(charset, data["height"], data["width"], clean=protocol_for(charset).clean,
                      augment=Augment(policy) if policy.active else None, keep_ratio=data["keep_ratio"],
                      resample=data["resample"])
    dataset = PreparedDataset(ConcatDataset(readers), prepare)
    sampler = RatioBatchSampler([len(r) for r in readers], [float(s.get("ratio", 1.0)) for s in sources],
                                data["batch_size"], seed=seed)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=data["workers"],
                      collate_fn=Collate(charset.max_steps), persistent_workers=data["workers"] > 0, pin_memory=False)


def open_source(path: str, key: str) -> Dataset:
    """The dataset at a config's ``path``; one that cannot be opened is a ``ConfigError`` naming the key."""
    try:
        return open_dataset(Path(path))
    except (FileNotFoundError, ValueError) as exc:  # the readers' own one-line reasons, each naming the path
        raise ConfigError(f"{key}: {exc}") from None


def _evenly_spaced(dataset: Dataset, limit: int | None) -> Dataset:
    n = len(dataset)  # type: ignore[arg-type]
    if limit is None or n <= limit:
        return dataset
    return Subset(dataset, np.linspace(0, n - 1, limit).round().astype(int).tolist())


def val_loaders(config: dict, charset: Charset) -> tuple[list[str], list[DataLoader]]:
    data = config["data"]
    protocol = protocol_for(charset)
    prepare = Prepare(charset, data["height"], data["width"], clean=protocol.clean, keep_ratio=data["keep_ratio"],
                      resample=data["resample"])
    names, loaders = [], []
    for name, path in data["val"].items():
        dataset = PreparedDataset(_evenly_spaced(open_source(path, f"data.val.{name}"), data["val_limit"]), prepare)
        names.append(name)
        loaders.append(DataLoader(dataset, batch_size=data["batch_size"], num_workers=0,
                                  collate_fn=Collate(charset.max_steps)))
    return names, loaders
