"""Checkpoint files that are safe to kill and safe to load; ground-level (torch only), used by engine and inference.

Writes go to a temporary file in the same folder, are flushed to disk, then renamed over the target, so a run killed
mid-write never replaces the previous checkpoint with a torn one. Loads use ``torch.load(weights_only=True)``, which
refuses any pickle that would construct arbitrary objects or run code; a refusal is said in sgtr's words, naming what
the file is (text, a plain pickle, a damaged archive, a pickle asking for code), never as advice to load it unsafely.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
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
    with open(path, "rb") as f:
        head = f.read(512)
    refusal = _refusal_before_loading(head)
    if refusal is None:
        try:
            with warnings.catch_warnings():  # torch's notes on pickle protocols and formats are not the user's concern
                warnings.simplefilter("ignore")
                checkpoint = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as exc:  # torch raises UnpicklingError, RuntimeError, KeyError or EOFError for bad files
            refusal = _refusal_after_failure(head, exc)
    if refusal is not None:
        raise CheckpointError(f"{path}: not a loadable sgtr checkpoint ({refusal})")
    # A bare tensor or list unpickles safely too, but every reader indexes a checkpoint as a dict.
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: not an sgtr checkpoint (holds a {type(checkpoint).__name__}, not a dict)")
    return checkpoint


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
_PICKLE_PROTO = 0x80  # a pickle of protocol 2 or later starts with PROTO and its number


def _refusal_before_loading(head: bytes) -> str | None:
    """Why a file is refused unread, or None to let ``torch.load`` try: only a zip archive or a protocol-2 pickle
    (torch.save's legacy format) can be a checkpoint."""
    if not head:
        return "the file is empty"
    if head.startswith(_ZIP_MAGIC) or head[:2] == bytes([_PICKLE_PROTO, 2]):
        return None
    if head[0] == _PICKLE_PROTO and len(head) > 1 and head[1] <= 5:
        return _plain_pickle(head[1])
    text = head.decode("utf-8", errors="replace").rstrip("\ufffd")  # the last character may be cut at 512 bytes
    if "\ufffd" not in text and all(c.isprintable() or c in "\t\r\n" for c in text):
        return "a text file, not a PyTorch checkpoint"
    return "neither a PyTorch zip archive nor a pickle: unrecognised content"


def _refusal_after_failure(head: bytes, exc: Exception) -> str:
    message = str(exc)
    code = re.search(r"GLOBAL (\S+)", message)
    if code:
        return (f"refused: its pickle asks for {code.group(1)}, which a checkpoint holding only tensors and plain "
                "values never does; sgtr does not run code from a model file")
    if "weights only load failed" in message.lower():
        return "refused: its pickle holds objects other than tensors and plain values"
    if head.startswith(_ZIP_MAGIC):
        return "a truncated or damaged PyTorch archive"
    if "magic number" in message:  # a protocol-2 pickle without torch.save's legacy header
        return _plain_pickle(2)
    return f"a damaged PyTorch checkpoint: {type(exc).__name__}"


def _plain_pickle(protocol: int) -> str:
    return (f"a plain Python pickle (protocol {protocol}), not a file written by torch.save; sgtr does not unpickle "
            "such files, since unpickling can run code")
