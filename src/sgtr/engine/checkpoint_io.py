"""Lightning's checkpoint I/O pointed at sgtr's atomic writes and code-free loads (``sgtr.serialization``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.fabric.plugins.io.checkpoint_io import CheckpointIO

from sgtr.serialization import load_safe, save_atomic


class AtomicCheckpointIO(CheckpointIO):
    """Lightning's checkpoint I/O with atomic writes and code-free loads."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any = None) -> None:
        save_atomic(checkpoint, path)

    def load_checkpoint(self, path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return load_safe(path, map_location=map_location or "cpu")

    def remove_checkpoint(self, path) -> None:
        Path(path).unlink(missing_ok=True)
