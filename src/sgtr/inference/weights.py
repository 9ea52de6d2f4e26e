"""Weights files: one ``.safetensors`` file with a model's tensors and, in its metadata, its ``ModelSpec`` as JSON.

This is the format models are shipped in (the bundled default model, ``sgtr export --weights``). Safetensors holds
raw tensors behind a JSON header, so reading one never unpickles anything, unlike a training checkpoint. The metadata
key ``sgtr`` holds ``ModelSpec.to_metadata("weights", dtype=...)``: model name, preset and options, the charset, the
input size, the sgtr version and the format version.

The metadata key ``sgtr_tensors_sha256`` holds a SHA-256 of the tensors (name, dtype, shape and bytes, in key order),
checked at load: a file whose tensor bytes were damaged is refused instead of read into a model that outputs garbage.
A file written before the digest existed still loads, with a warning (``trusted=True`` silences it for a file the
caller has checked otherwise, as the bundled model is by its recorded SHA-256).

``half=True`` stores floating-point tensors as float16, halving the file; they are cast back to float32 when loaded
into the model (integer buffers such as BatchNorm's step counter stay as they are).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from sgtr.inference.spec import ModelSpec
from sgtr.serialization import CheckpointError, atomic_target

METADATA_KEY = "sgtr"
DIGEST_KEY = "sgtr_tensors_sha256"
log = logging.getLogger("sgtr.inference")


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over each tensor's name, dtype, shape and bytes, in key order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())  # bytes of any dtype, bfloat16 included
    return digest.hexdigest()


def write_weights(model: nn.Module, spec: ModelSpec, path: str | Path, half: bool = False,
                  source: dict | None = None) -> Path:
    """Write atomically: an interrupted export never leaves a torn file. ``source`` records where imported weights
    came from (package, file, SHA-256, licence, attribution); ``sgtr read --info`` shows it."""
    path = Path(path)
    tensors = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        if half and tensor.is_floating_point():
            tensor = tensor.half()
        tensors[name] = tensor.contiguous().clone()  # safetensors refuses tensors that share storage
    metadata = {METADATA_KEY: spec.to_metadata("weights", dtype="float16" if half else "float32",
                                                   **({"source": source} if source else {})),
                DIGEST_KEY: tensors_digest(tensors)}
    with atomic_target(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)
    return path


def read_source(path: str | Path) -> dict | None:
    """The ``source`` record of a weights file's metadata (where imported weights came from), or None."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = json.loads((f.metadata() or {}).get(METADATA_KEY) or "{}")
    except (SafetensorError, OSError, ValueError):
        return None
    source = meta.get("source")
    return source if isinstance(source, dict) else None


def read_weights(path: str | Path, *, trusted: bool = False) -> tuple[ModelSpec, dict[str, torch.Tensor]]:
    """The spec and the tensors of a weights file; anything else is a one-line ``CheckpointError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            spec, _ = ModelSpec.from_metadata(metadata.get(METADATA_KEY), "weights", path)
            state = {name: f.get_tensor(name) for name in f.keys()}
    except SafetensorError as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({' '.join(str(exc).split())[:200]})") \
            from None
    expected = metadata.get(DIGEST_KEY)
    if expected is None:
        if not trusted:
            log.warning("%s: no tensor digest in its metadata (written by an older sgtr); its tensors cannot be "
                        "checked for damage", path)
    elif tensors_digest(state) != expected:
        raise CheckpointError(f"{path}: tensor data does not match the SHA-256 recorded when it was written; the file "
                              "is damaged")
    return spec, state


def load_weights(path: str | Path, *, trusted: bool = False) -> tuple[ModelSpec, nn.Module]:
    spec, state = read_weights(path, trusted=trusted)
    return spec, spec.load_state(state, path)
