"""Readers for the two on-disk formats: standard STR LMDBs and folders with ``labels.tsv`` (or a ``gt.txt`` list).

Each reader is a map-style ``torch.utils.data.Dataset`` whose items are ``Sample`` or ``Skip``; nothing is decoded
twice and nothing raises on a bad sample. ``open_dataset`` picks the reader for a path; ``discover_sets`` turns a root
into its named sets, which is how evaluation and training find data.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import lmdb
import numpy as np
from PIL import Image
from torch.utils.data import ConcatDataset, Dataset

from sgtr.data import lmdb_format as fmt
from sgtr.data.images import BadImage, decode_image, load_image
from sgtr.data.labels import parse_label_file
from sgtr.data.sample import Sample
from sgtr.data.skips import Skip

log = logging.getLogger("sgtr.data")

LABEL_FILES = ("labels.tsv", "gt.txt")

# lmdb allows one environment per file and process, so readers of the same database share it. A DataLoader worker
# forked from a parent that had it open inherits the parent's handle: it closes that copy (read-only and lock-free, so
# the parent is unaffected) and opens its own.
_ENVS: dict[str, tuple[int, lmdb.Environment]] = {}


def _shared_env(path: Path) -> lmdb.Environment:
    key, pid = str(path.resolve()), os.getpid()
    owner, env = _ENVS.get(key, (None, None))
    if owner != pid:
        if env is not None:
            env.close()
        try:
            env = lmdb.open(key, readonly=True, lock=False, readahead=False, meminit=False, max_readers=126,
                            subdir=True)
        except lmdb.Error as exc:
            raise ValueError(f"{path}: not a readable LMDB ({str(exc).removeprefix(key + ': ')})") from None
        _check_not_truncated(path, env)
        _ENVS[key] = (pid, env)
    return env


def _check_not_truncated(path: Path, env: lmdb.Environment) -> None:
    """Refuse a ``data.mdb`` shorter than the pages its header counts (an interrupted copy or download): LMDB maps
    the file into memory, and reading a page past its end kills the process with SIGBUS instead of raising."""
    size = (path / "data.mdb").stat().st_size
    needed = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    if size < needed:
        env.close()
        raise ValueError(f"{path}: data.mdb is truncated ({size:,} of {needed:,} bytes); copy or download it again")


class LmdbDataset(Dataset):
    """One LMDB in the standard layout; holds only its path, so it pickles into DataLoader workers."""

    def __init__(self, path: str | Path, *, with_masks: bool = True):
        self.path = Path(path)
        self.with_masks = with_masks
        try:
            with self.env.begin() as txn:
                raw = txn.get(fmt.NUM_SAMPLES_KEY)
                has_masks = txn.get(fmt.mask_key(1)) is not None
                interrupted = txn.get(fmt.SYNTH_CONFIG_KEY) is not None and txn.get(fmt.COMPLETE_KEY) is None
        except lmdb.Error as exc:
            raise ValueError(f"{self.path}: damaged LMDB ({exc})") from None
        if raw is None:
            raise ValueError(f"{self.path}: LMDB has no 'num-samples' key; not an STR dataset")
        try:
            self.num_samples = int(raw.decode().strip())
            if self.num_samples < 0:
                raise ValueError
        except ValueError:
            raise ValueError(f"{self.path}: 'num-samples' is not a count ({raw[:20]!r})") from None
        self.has_masks = has_masks
        if interrupted:
            log.warning("%s: synthetic shard was interrupted; using its %d finished samples (rerun the same "
                        "`sgtr synth` command to complete it)", self.path, self.num_samples)

    @property
    def env(self) -> lmdb.Environment:
        return _shared_env(self.path)

    def __len__(self) -> int:
        return self.num_samples

    def key(self, index: int) -> str:
        return f"{self.path}#{index + 1}"

    def read_raw(self, index: int) -> tuple[bytes | None, bytes | None, bytes | None]:
        i = index + 1
        with self.env.begin(buffers=False) as txn:
            mask = txn.get(fmt.mask_key(i)) if self.with_masks and self.has_masks else None
            return txn.get(fmt.image_key(i)), txn.get(fmt.label_key(i)), mask

    def __getitem__(self, index: int) -> Sample | Skip:
        key = self.key(index)
        try:
            image_bytes, label_bytes, mask_bytes = self.read_raw(index)
        except lmdb.Error as exc:  # a damaged page loses the records on it, not the run
            return Skip(key, f"unreadable LMDB record ({exc})")
        if image_bytes is None or label_bytes is None:
            return Skip(key, "image or label key missing from the LMDB")
        try:
            label = label_bytes.decode("utf-8")
        except UnicodeDecodeError:
            return Skip(key, "label is not valid UTF-8")
        try:
            image = decode_image(image_bytes)
        except BadImage as exc:
            return Skip(key, str(exc))
        mask = None
        if mask_bytes is not None:
            try:
                with Image.open(io.BytesIO(mask_bytes)) as mask_image:
                    # Compared before decoding, so a mask declaring a huge size is refused without allocating it.
                    if mask_image.size != image.size:
                        return Skip(key, f"mask size {mask_image.size} differs from image size {image.size}")
                    mask = np.asarray(mask_image)
            except Exception as exc:  # noqa: BLE001 (Pillow raises many types on hostile bytes; see images.py)
                return Skip(key, f"corrupt character mask ({type(exc).__name__}: {exc})".replace("\n", " "))
            if mask.ndim != 2:
                return Skip(key, f"character mask has {mask.shape[2]} channels, expected one")
        return Sample(key, image, label, mask)


class FolderDataset(Dataset):
    """Images listed in a ``labels.tsv`` (``PATH<TAB>LABEL``) or ``gt.txt`` (``PATH LABEL``) file."""

    def __init__(self, list_file: str | Path):
        self.list_file = Path(list_file)
        self.items, self.list_skips = parse_label_file(self.list_file)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample | Skip:
        item = self.items[index]
        key = str(item.path)
        try:
            image = load_image(item.path)
        except BadImage as exc:
            return Skip(key, str(exc))
        return Sample(key, image, item.label)


def label_file_in(folder: Path) -> Path | None:
    for name in LABEL_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def open_dataset(path: str | Path, *, with_masks: bool = True) -> Dataset:
    """The reader for a path: a label list, a folder holding one, an LMDB folder, or a root of several sets of either
    kind (concatenated, e.g. ``../shared/data/real_train``)."""
    path = Path(path)
    if path.is_file():
        if path.name == "data.mdb":
            return LmdbDataset(path.parent, with_masks=with_masks)
        return FolderDataset(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    label_file = label_file_in(path)
    if label_file is not None:
        return FolderDataset(label_file)
    dirs = fmt.find_lmdb_dirs(path)
    sets: list[Dataset] = [LmdbDataset(d, with_masks=with_masks) for d in dirs]
    if not sets:
        folders = [p for p in sorted(path.iterdir()) if p.is_dir() and label_file_in(p) is not None]
        sets = [FolderDataset(label_file_in(p)) for p in folders]  # type: ignore[arg-type]
    if not sets:
        raise ValueError(f"{path}: holds no labels.tsv, gt.txt or LMDB (data.mdb)")
    return sets[0] if len(sets) == 1 else ConcatDataset(sets)


def discover_sets(root: str | Path) -> dict[str, Path]:
    """Named sets under a root: the root itself if it is one set, else each child folder that is a set (a folder
    with a label list, or an LMDB tree). Names are the paths relative to the root."""
    root = Path(root)
    if root.is_file() or label_file_in(root) is not None or (root / "data.mdb").is_file():
        return {root.name if root.is_dir() else root.parent.name: root}
    found: dict[str, Path] = {}
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if label_file_in(child) is not None or fmt.find_lmdb_dirs(child):
            found[child.name] = child
    if not found:
        raise ValueError(f"{root}: no datasets found (a set is a folder with labels.tsv/gt.txt or an LMDB)")
    return found
