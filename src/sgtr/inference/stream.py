"""Reading many files in flat memory: user arguments → image paths → batches decoded in DataLoader workers.

``expand_inputs`` turns what a user types into paths: files (read whatever their suffix), folders (searched
recursively for ``IMAGE_SUFFIXES``), globs (``**`` included; matches filtered by suffix) and ``@list.txt`` files
(one argument per line, each expanded the same way; relative paths are taken from the current folder, as on the
command line). Duplicates are dropped; arguments that name nothing come back as ``Skip``s.

``prepared_batches`` decodes and preprocesses in worker processes and yields one batch at a time, so only the batches
in flight (``workers`` × 2 prefetched) are ever held, however many files there are. A file that cannot be decoded is
yielded as a ``Skip`` in its batch, never raised.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable, Iterator

from torch.utils.data import DataLoader, Dataset

from sgtr.data.images import BadImage, load_image
from sgtr.data.skips import Skip
from sgtr.inference.preprocess import Prepared, Preprocessor

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm",
                            ".pbm", ".pnm"})
GLOB_CHARS = frozenset("*?[")


def _is_image(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_SUFFIXES


def _folder_images(folder: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()  # walk in a stable order, so outputs line up run after run
        found += [os.path.join(root, f) for f in sorted(files) if _is_image(f)]
    return found


def _expand_one(arg: str) -> tuple[list[str], Skip | None]:
    if os.path.isfile(arg) or (os.path.islink(arg) and not os.path.exists(arg)):
        return [arg], None  # a broken link or a loop is named as one by the image loader, as in a folder scan
    if os.path.isdir(arg):
        found = _folder_images(arg)
        return found, None if found else Skip(arg, "folder holds no image files")
    if GLOB_CHARS & set(arg):
        found = []
        for match in sorted(glob.glob(arg, recursive=True)):
            found += _folder_images(match) if os.path.isdir(match) else [match] if _is_image(match) else []
        return found, None if found else Skip(arg, "no image files match")
    return [], Skip(arg, "file not found")


def expand_inputs(args: Iterable[str]) -> tuple[list[str], list[Skip]]:
    """Image paths in order, without duplicates, and the arguments that named none."""
    paths: dict[str, None] = {}  # an ordered set
    problems = []
    for arg in args:
        if arg.startswith("@"):
            try:
                lines = Path(arg[1:]).read_text(encoding="utf-8-sig").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Skip(arg, f"cannot read list file ({getattr(exc, 'strerror', None) or exc})"))
                continue
            items = [line.strip() for line in lines if line.strip()]
        else:
            items = [arg]
        for item in items:
            found, problem = _expand_one(item)
            paths.update(dict.fromkeys(found))
            if problem is not None:
                problems.append(problem)
    return list(paths), problems


class ImageFiles(Dataset):
    """Paths → ``(path, Prepared)``, or ``(path, Skip)`` for a file that cannot be decoded."""

    def __init__(self, paths: list[str], prepare: Preprocessor):
        self.paths, self.prepare = paths, prepare

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[str, Prepared | Skip]:
        path = self.paths[index]
        try:
            return path, self.prepare(load_image(path))
        except BadImage as exc:
            return path, Skip(path, str(exc))


def prepared_batches(paths: list[str], prepare: Preprocessor, batch_size: int,
                     workers: int) -> Iterator[list[tuple[str, Prepared | Skip]]]:
    loader = DataLoader(ImageFiles(paths, prepare), batch_size=batch_size, num_workers=workers, collate_fn=list,
                        prefetch_factor=2 if workers else None)
    yield from loader
