"""Int8 ONNX: static post-training quantisation of an exported graph's convolutions, for ONNX Runtime on CPUs.

The convolutions hold most of a recognizer's arithmetic, and int8 convolutions run on the integer units modern x86
CPUs have (AVX-512 VNNI); ``benchmarks/read_speed.py --int8`` measures what that buys. Only ``Conv`` nodes are
quantised — weights per output channel, activations per tensor, in the QDQ form ONNX Runtime fuses into integer
kernels — and of those not the depthwise ones (see ``depthwise_convs``). Everything after the maps stays float: GTR
picks its nodes by top-k over segmentation and order probabilities, and int8 steps there would reorder near-equal
pixels.

Activation ranges come from calibration images the caller gives: word crops like the ones the model will read
(a few hundred are plenty; ``sgtr export --int8 --calibration PATH...``). The result is an ordinary ``export_onnx``
file — same inputs, outputs and ``sgtr`` metadata — so ``sgtr read --runtime onnx`` and ``Recognizer`` take it as is.
Int8 costs some agreement with the float model; ``tests/test_onnx.py`` bounds it on the bundled samples.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from sgtr.inference.preprocess import to_batch
from sgtr.progress import bar
from sgtr.serialization import atomic_target

CALIBRATION_BATCH = 16


def depthwise_convs(model) -> list[str]:
    """Names of the grouped (depthwise) convolutions: few operations, but one weight per channel and tap, which int8
    rounds badly (the PP-OCRv6 network lost several points of accuracy with them quantised)."""
    import onnx

    return [node.name for node in model.graph.node if node.op_type == "Conv"
            and any(a.name == "group" and onnx.helper.get_attribute_value(a) > 1 for a in node.attribute)]


def quantize_onnx(source: str | Path, out: str | Path, calibration: np.ndarray) -> Path:
    """Write an int8 version of the float ONNX file ``source`` to ``out`` (atomically); ``calibration`` is (N, H, W, 3)
    uint8 images at the model's input size (``Preprocessor`` output)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(calibration) == 0:
        raise ValueError("int8 quantisation needs at least one calibration image")
    original = onnx.load(str(source))
    input_name = original.graph.input[0].name

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(range(0, len(calibration), CALIBRATION_BATCH))
            self.progress = bar(total=len(calibration), desc="calibrating int8")

        def get_next(self) -> dict | None:
            start = next(self.batches, None)
            if start is None:
                self.progress.close()
                return None
            batch = calibration[start:start + CALIBRATION_BATCH]
            self.progress.update(len(batch))  # counted as it is handed to ONNX Runtime
            return {input_name: to_batch(batch).numpy()}

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp, atomic_target(out) as target:
        # Pre-processing folds BatchNorm into the convolutions first, so their bias is a constant quantize_static
        # can scale; symbolic shape inference is skipped because it cannot follow the order maps' reshapes.
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(target), Batches(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=["Conv"], per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8,
                        nodes_to_exclude=depthwise_convs(onnx.load(str(prepared))))
        proto = onnx.load(str(target))
        del proto.metadata_props[:]
        proto.metadata_props.extend(original.metadata_props)
        onnx.save(proto, str(target))
    return out
