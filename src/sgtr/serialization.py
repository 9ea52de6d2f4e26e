"""Checkpoint files that are safe to kill and safe to load; ground-level (torch only), used by engine and inference.

Writes go to a temporary file in the same folder, are flushed to disk, then renamed over the target, so a run killed
mid-write never replaces the previous checkpoint with a torn one. Loads use ``torch.load(weights_only=True)``, which
refuses any pickle that would construct arbitrary objects or run code.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded safely; the message names the file and the reason."""


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """A temporary path in ``path``'s folder (created if needed): renamed over ``path`` when the block succeeds,
    removed when it raises. Every file sgtr writes for keeps (checkpoints, weights, ONNX) goes through it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved model should be as readable as any new file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_atomic(obj: Any, path: str | Path) -> None:
    with atomic_target(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def load_safe(path: str | Path, map_location: Any = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or EOFError for bad files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a loadable sgtr checkpoint ({reason[:200]})") from None
    # A bare tensor or list unpickles safely too, but every reader indexes a checkpoint as a dict.
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: not an sgtr checkpoint (holds a {type(checkpoint).__name__}, not a dict)")
    return checkpoint
