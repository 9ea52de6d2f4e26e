"""ONNX export: a recognizer as a graph of (B, 3, H, W) images → (B, T, K) logits, with its spec in the metadata.

The graph takes the same preprocessed input as the PyTorch model (float32 in [-1, 1] at the trained input size, see
``preprocess``) and returns ``logits`` — plus ``branch_<name>`` per branch when exported with ``branches=True`` — so
``sgtr read --runtime onnx`` shares the preprocessing and the decoder with the PyTorch path. Only the batch axis is
dynamic. The model's ``ModelSpec`` JSON, the CTC flag and the branch outputs' names sit in ``metadata_props`` under
``sgtr``; ONNX Runtime reads them back with ``read_onnx_metadata``.

Export traces the model once (the TorchScript exporter: the ``torch.export`` one needs onnxscript, which sgtr does
not depend on). Tracing records tensor operations only, so the graph holds no Python control flow; shape checks the
models make (FPN: "is this level already the target size?") are frozen for the exported H×W, which is fixed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from sgtr.inference.spec import ModelSpec
from sgtr.serialization import atomic_target

METADATA_KEY = "sgtr"
OPSET = 17


class LogitsGraph(nn.Module):
    """The exported function: a recognizer reduced to its final logits and, optionally, named branches' logits."""

    def __init__(self, model: nn.Module, branches: tuple[str, ...] = ()):
        super().__init__()
        self.model, self.branches = model, branches

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        out = self.model(images)
        return (out.logits, *(out.branches[name] for name in self.branches))


def export_onnx(model: nn.Module, spec: ModelSpec, path: str | Path, branches: bool = False) -> Path:
    """Write ``model`` as ONNX to ``path`` (atomically); ``branches`` adds one output per branch of its output."""
    import onnx

    path = Path(path)
    model = model.eval()
    device = next(model.parameters()).device
    probe = torch.zeros(2, 3, *spec.input_size, device=device)  # batch 2: no size-1 batch axis to specialise
    with torch.no_grad():
        out = model(probe)
    names = tuple(sorted(out.branches)) if branches else ()
    outputs = {name: f"branch_{name}" for name in names}
    graph = LogitsGraph(model, names).eval()
    with atomic_target(path) as tmp, warnings.catch_warnings():
        # The legacy-exporter notice, and the tracer's note that shape checks become constants (see above).
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (probe,), str(tmp), dynamo=False, opset_version=OPSET, input_names=["images"],
                          output_names=["logits", *outputs.values()],
                          dynamic_axes={n: {0: "batch"} for n in ("images", "logits", *outputs.values())})
        proto = onnx.load(tmp)
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, spec.to_metadata("onnx", ctc=bool(out.ctc), branches=outputs)
        onnx.save(proto, tmp)
    return path


def read_onnx_metadata(session, path: str | Path) -> tuple[ModelSpec, dict]:
    """Spec and metadata of an ONNX Runtime session over an ``export_onnx`` file."""
    return ModelSpec.from_metadata(session.get_modelmeta().custom_metadata_map.get(METADATA_KEY), "onnx", path)
