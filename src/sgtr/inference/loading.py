"""Model files → a ready runtime and its ``ModelSpec``: training checkpoints, weights files, ONNX files, the default.

Which loader runs is decided by the file's suffix: ``.safetensors`` is a weights file (``weights.py``), ``.onnx`` an
ONNX export (ONNX Runtime only), anything else a training checkpoint, read with ``sgtr.serialization.load_safe`` so
no code is unpickled. Every failure is a one-line ``CheckpointError`` that names the file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from sgtr.inference.runtimes import OnnxRuntime, TorchRuntime
from sgtr.inference.spec import ModelSpec
from sgtr.inference.weights import load_weights
from sgtr.serialization import CheckpointError, load_safe

# The bundled model, trained by scripts/train_default_model.sh and exported with ``sgtr export --weights --half``.
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "assets" / "default.safetensors"
# Its SHA-256, recorded when it was exported (``sha256sum`` format); a mismatch means a damaged install.
DEFAULT_MODEL_SHA256 = DEFAULT_MODEL.with_name(DEFAULT_MODEL.name + ".sha256")
RUNTIMES = ("torch", "onnx")


def resolve_model_path(path: str | Path | None) -> Path:
    """``path`` itself, or the bundled default model when ``path`` is None (or names it), checked by its SHA-256."""
    if path is not None and Path(path).resolve() != DEFAULT_MODEL:
        return Path(path)
    if not DEFAULT_MODEL.is_file():
        raise CheckpointError(f"no default model is bundled yet ({DEFAULT_MODEL} is absent); give a model file "
                              "(.ckpt, .safetensors or .onnx)")
    if DEFAULT_MODEL_SHA256.is_file():
        expected = DEFAULT_MODEL_SHA256.read_text().split()[0]
        actual = hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest()
        if actual != expected:
            raise CheckpointError(f"{DEFAULT_MODEL}: SHA-256 {actual[:12]}… does not match the recorded "
                                  f"{expected[:12]}…; the installation is damaged, reinstall sgtr")
    return DEFAULT_MODEL


def read_checkpoint(path: str | Path) -> tuple[ModelSpec, dict[str, torch.Tensor]]:
    """The spec and the model's tensors of an ``sgtr train`` checkpoint."""
    ckpt = load_safe(path)
    meta = ckpt.get("sgtr") if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or "config" not in meta or not isinstance(ckpt.get("state_dict"), dict):
        raise CheckpointError(f"{path}: not an sgtr training checkpoint (no sgtr model config inside)")
    try:
        spec = ModelSpec.from_training(meta["config"], meta["charset"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt sgtr model config ({type(exc).__name__}: {exc})") from None
    # The training system holds the recognizer as ``model``; its other state (none today) is not the model's.
    state = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    return spec, state


def load_model(path: str | Path) -> tuple[ModelSpec, nn.Module]:
    """A PyTorch model in eval mode from a training checkpoint or a weights file."""
    path = Path(path)
    if path.suffix == ".onnx":
        raise CheckpointError(f"{path}: an ONNX file runs in ONNX Runtime only (runtime 'onnx'); PyTorch needs a "
                              ".ckpt or .safetensors file")
    if path.suffix == ".safetensors":
        return load_weights(path, trusted=path == DEFAULT_MODEL)  # checked whole by its recorded SHA-256
    spec, state = read_checkpoint(path)
    return spec, spec.load_state(state, path)


def open_runtime(path: str | Path | None = None, runtime: str | None = None, device: str | torch.device = "auto",
                 threads: int | None = None) -> tuple[ModelSpec, TorchRuntime | OnnxRuntime]:
    """The model at ``path`` (default: the bundled one) in ``runtime`` (default: ``onnx`` for .onnx files, else
    ``torch``)."""
    path = resolve_model_path(path)
    runtime = runtime or ("onnx" if path.suffix == ".onnx" else "torch")
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of: {', '.join(RUNTIMES)}")
    if runtime == "torch":
        spec, model = load_model(path)
        return spec, TorchRuntime(model, device, threads)
    if path.suffix != ".onnx":
        raise CheckpointError(f"{path}: runtime 'onnx' runs .onnx files; make one with "
                              f"'sgtr export {path} --onnx OUT.onnx'")
    if not path.is_file():
        raise CheckpointError(f"{path}: ONNX file not found")
    onnx = OnnxRuntime(path, device, threads)
    return onnx.spec, onnx
