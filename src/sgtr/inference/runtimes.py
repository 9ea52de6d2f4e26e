"""Runtimes: the one call that turns a preprocessed batch into a ``RecognizerOutput``, in PyTorch or ONNX Runtime.

Both take (B, 3, H, W) float images in [-1, 1] on the CPU and return outputs whose tensors are on the CPU, so the
predictor decodes them the same way. The PyTorch runtime returns the model's full output (segmentation, order maps,
extras — what ``explain`` draws); the ONNX runtime returns what the exported graph holds: the final logits and, when
exported with them, the branches' logits.

``threads`` means the same in both: the intra-op threads one forward pass computes with (PyTorch's
``torch.set_num_threads``, which is process-wide and so set before each call that needs it; ONNX Runtime's
``intra_op_num_threads``). The default, ``default_threads()``, is half the CPUs this process may run on: a reader
that takes every core stalls whenever another process needs one, since each forward pass waits for its slowest
thread.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from sgtr.models.output import RecognizerOutput
from sgtr.serialization import CheckpointError


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` is the first CUDA GPU when there is one, else the CPU; a device that cannot be had is a
    ``ValueError`` (PyTorch would fail later, deep inside ``.to``)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {str(device)!r}; use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asked for, but PyTorch sees no CUDA GPU here")
    return resolved


def default_threads() -> int:
    """Half the CPUs this process may run on, at least one."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cpus // 2)


class TorchRuntime:
    name = "torch"

    def __init__(self, model: nn.Module, device: str | torch.device = "auto", threads: int | None = None):
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.threads = threads or default_threads()

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> RecognizerOutput:
        if torch.get_num_threads() != self.threads:  # another runtime in this process may have changed it
            torch.set_num_threads(self.threads)
        out = self.model(images.to(self.device, non_blocking=True))
        if self.device.type == "cpu":
            return out
        cpu = lambda t: t.float().cpu()  # noqa: E731
        return RecognizerOutput(
            logits=cpu(out.logits), ctc=out.ctc, branches={k: cpu(v) for k, v in out.branches.items()},
            seg_logits=None if out.seg_logits is None else cpu(out.seg_logits),
            order_maps=None if out.order_maps is None else cpu(out.order_maps),
            extras={k: v.cpu() for k, v in out.extras.items()})  # features stay behind: large, and nothing reads them


class OnnxRuntime:
    """An ``sgtr export --onnx`` file in an ONNX Runtime session; ``threads`` sets ``intra_op_num_threads``
    (None: ``default_threads()``). ``device`` ``cuda[:N]`` asks for the CUDA provider, which only
    onnxruntime-gpu has; ``auto`` takes it when present."""

    name = "onnx"

    def __init__(self, path: str | Path, device: str | torch.device = "auto", threads: int | None = None):
        import onnxruntime as ort

        from sgtr.inference.onnx_export import read_onnx_metadata

        options = ort.SessionOptions()
        self.threads = options.intra_op_num_threads = threads or default_threads()
        providers: list = ["CPUExecutionProvider"]
        has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
        device = str(device)
        if device.startswith("cuda") or (device == "auto" and has_cuda):
            if not has_cuda:
                raise ValueError(f"device {device!r} needs onnxruntime-gpu (this onnxruntime has no CUDA provider)")
            index = int(device.partition(":")[2] or 0)
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": index}))
        elif device not in ("auto", "cpu"):
            raise ValueError(f"unknown device {device!r} for ONNX Runtime; use auto, cpu, cuda or cuda:N")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # ONNX Runtime's errors (InvalidProtobuf, ...) derive from Exception only
            reason = " ".join(str(exc).split()).split(" failed:")[-1]
            raise CheckpointError(f"{path}: not a loadable ONNX file ({reason[:200]})") from None
        self.spec, meta = read_onnx_metadata(self.session, path)
        self.ctc = bool(meta.get("ctc", False))
        self.branch_outputs: dict[str, str] = dict(meta.get("branches", {}))  # branch name → graph output

    def __call__(self, images: torch.Tensor) -> RecognizerOutput:
        names = ["logits", *self.branch_outputs.values()]
        arrays = self.session.run(names, {"images": images.numpy()})
        tensors = dict(zip(names, map(torch.from_numpy, arrays)))
        return RecognizerOutput(logits=tensors["logits"], ctc=self.ctc,
                                branches={name: tensors[out] for name, out in self.branch_outputs.items()})
