"""Int8 ONNX: static post-training quantisation of an exported graph's convolutions, for ONNX Runtime on CPUs.

The convolutions hold most of a recognizer's arithmetic, and int8 convolutions run on the integer units modern x86
CPUs have (AVX-512 VNNI); ``benchmarks/read_speed.py --int8`` measures what that buys. Only ``Conv`` nodes are
quantised (a ``Relu`` after one merges into its output range) — weights per output channel, activations per tensor,
in the QDQ form ONNX Runtime fuses into integer kernels — and of those not the ones ``float_convs`` names, where int8
rounding costs more accuracy than it saves time. Everything after the maps stays float: GTR picks its nodes by top-k
over segmentation and order probabilities, and int8 steps there would reorder near-equal pixels.

Activation ranges come from calibration images the caller gives: word crops like the ones the model will read
(from several sets; the more, the steadier the ranges: ``sgtr export --int8 --calibration PATH...`` takes up to
2,048). Each range covers the central ``PERCENTILE`` % of the values met, not their extremes: a few outlying
activations would otherwise stretch the int8 steps over values that almost never occur. The result is an ordinary
``export_onnx`` file — same inputs, outputs and ``sgtr`` metadata — so ``sgtr read --runtime onnx`` and
``Recognizer`` take it as is. Int8 costs some agreement with the float model; ``tests/test_onnx.py`` bounds it on the
bundled samples, ``tests/test_int8.py`` checks the rules.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np

from sgtr.inference.preprocess import to_batch
from sgtr.progress import bar
from sgtr.serialization import atomic_target

CALIBRATION_BATCH = 16
PERCENTILE = 99.999


def _is_depthwise(node) -> bool:
    import onnx

    return node.op_type == "Conv" and any(a.name == "group" and onnx.helper.get_attribute_value(a) > 1
                                          for a in node.attribute)


def _consumers(model) -> dict[str, list]:
    """Tensor name → the nodes that read it."""
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def depthwise_convs(model) -> list[str]:
    """Names of the grouped (depthwise) convolutions: few operations, but one weight per channel and tap, which int8
    rounds badly (the PP-OCRv6 network lost several points of accuracy with them quantised)."""
    return [node.name for node in model.graph.node if _is_depthwise(node)]


def stem_convs(model) -> list[str]:
    """Names of the convolutions ahead of the first depthwise one (the nodes are in topological order): a MobileNet
    style stem, at the highest resolution and reading the image itself, whose [-1, 1] pixel values fall between int8
    steps. A graph without depthwise convolutions has no stem here."""
    names = []
    for node in model.graph.node:
        if _is_depthwise(node):
            return names
        if node.op_type == "Conv":
            names.append(node.name)
    return []


def projection_convs(model) -> list[str]:
    """Names of the convolutions that feed only other convolutions (linear bottlenecks, no activation between):
    their rounding passes unsoftened into the next layer."""
    consumers = _consumers(model)
    return [node.name for node in model.graph.node if node.op_type == "Conv" and not _is_depthwise(node)
            and (readers := consumers.get(node.output[0])) and all(r.op_type == "Conv" for r in readers)]


def silu_convs(model) -> list[str]:
    """Names of the convolutions whose output feeds a sigmoid — SiLU, x·σ(x), as ``QuickGelu`` once fused — the
    PP-OCR neck's: little arithmetic at (1, W/8), and int8 there cost accuracy on the validation split."""
    fed = {name for node in model.graph.node if node.op_type in ("Sigmoid", "QuickGelu") for name in node.input}
    return [node.name for node in model.graph.node if node.op_type == "Conv" and node.output[0] in fed]


def gate_convs(model) -> list[str]:
    """Names of the convolutions of squeeze-and-excitation gates — those reached from a global pooling through
    convolutions and ReLUs: on a 1×1 map there is no arithmetic to save, and their output scales whole channels."""
    consumers = _consumers(model)
    frontier = [n.output[0] for n in model.graph.node if n.op_type in ("ReduceMean", "GlobalAveragePool")]
    seen, names = set(), []
    while frontier:
        for node in consumers.get(frontier.pop(), []):
            if node.op_type in ("Conv", "Relu") and node.name not in seen:
                seen.add(node.name)
                names += [node.name] if node.op_type == "Conv" else []
                frontier.append(node.output[0])
    return names


def float_convs(model) -> list[str]:
    """Names of the convolutions kept float: depthwise, stem, projection, SiLU-fed and gate ones (see each). On the
    bundled PP-OCRv6 network they are about a fifth of the float time; quantised, they cost up to 5 points on the
    validation split."""
    names = (depthwise_convs(model) + stem_convs(model) + projection_convs(model) + silu_convs(model)
             + gate_convs(model))
    return list(dict.fromkeys(names))


def fuse_activations(source: str | Path, out: str | Path) -> None:
    """Write ``source`` with ONNX Runtime's own fusions applied (GELU's Div/Erf/Add/Mul/Mul → one ``Gelu``, SiLU →
    ``QuickGelu``, layer norms). Done before quantising because afterwards each of a pattern's consumers gets its own
    DequantizeLinear, the pattern is no longer recognised, and the unfused GELUs cost what int8 saves. Conv + Relu
    is left apart, so that the quantiser sees the ``Conv`` and folds the ``Relu`` into its output range."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"],
                         disabled_optimizers=["ConvActivationFusion"])


def quantize_onnx(source: str | Path, out: str | Path, calibration: np.ndarray) -> Path:
    """Write an int8 version of the float ONNX file ``source`` to ``out`` (atomically); ``calibration`` is (N, H, W, 3)
    uint8 images at the model's input size (``Preprocessor`` output)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(calibration) == 0:
        raise ValueError("int8 quantisation needs at least one calibration image")
    original = onnx.load(str(source))
    input_name = original.graph.input[0].name
    starts = range(0, len(calibration), CALIBRATION_BATCH)

    class Batches(CalibrationDataReader):
        """Calibration batches; ONNX Runtime asks for them one at a time (``set_range``, counted in batches), so the
        percentile histograms grow batch by batch instead of holding every activation of every image at once."""

        def __init__(self):
            self.batches = iter(starts)
            self.progress = bar(total=len(calibration), desc="calibrating int8")

        def __len__(self) -> int:
            return len(starts)

        def set_range(self, start_index: int, end_index: int) -> None:
            self.batches = iter(starts[start_index:end_index])

        def get_next(self) -> dict | None:
            start = next(self.batches, None)
            if start is None:
                return None
            batch = calibration[start:start + CALIBRATION_BATCH]
            self.progress.update(len(batch))  # counted as it is handed to ONNX Runtime
            return {input_name: to_batch(batch).numpy()}

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp, atomic_target(out) as target:
        # Pre-processing folds BatchNorm into the convolutions first, so their bias is a constant quantize_static
        # can scale; symbolic shape inference is skipped because it cannot follow the order maps' reshapes.
        prepared, fused = Path(tmp) / "prepared.onnx", Path(tmp) / "fused.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        fuse_activations(prepared, fused)
        reader = Batches()
        # The percentile calibrator prints its progress on stdout, which is the CLI's report of what it wrote.
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_static(str(fused), str(target), reader, quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=["Conv", "Relu"], per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=float_convs(onnx.load(str(fused))),
                            calibrate_method=CalibrationMethod.Percentile,
                            # the stride (any calibrator, despite the name): one batch per collection, see Batches
                            extra_options={"CalibPercentile": PERCENTILE, "CalibStridedMinMax": 1})
        reader.progress.close()
        proto = onnx.load(str(target))
        del proto.metadata_props[:]
        proto.metadata_props.extend(original.metadata_props)
        onnx.save(proto, str(target))
    return out
