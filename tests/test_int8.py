"""Int8 quantisation (``sgtr.inference.quantize``) on a tiny hand-built graph: which convolutions stay float, GELU
fused before the Q/DQ nodes go in, and activation ranges that ignore rare outliers."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from sgtr.inference.preprocess import to_batch
from sgtr.inference.quantize import float_convs, quantize_onnx

HEIGHT, WIDTH, CHANNELS = 64, 128, 8


def _conv(rng, name: str, x: str, y: str, c_in: int, c_out: int, group: int = 1) -> tuple:
    weight = numpy_helper.from_array(rng.normal(0, 0.5, (c_out, c_in // group, 1, 1)).astype(np.float32), f"{name}.w")
    bias = numpy_helper.from_array(np.zeros(c_out, np.float32), f"{name}.b")
    return helper.make_node("Conv", [x, weight.name, bias.name], [y], name=name, group=group), [weight, bias]


def _tiny_graph() -> onnx.ModelProto:
    """stem → depthwise → squeeze-and-excitation gate → 1×1 → GELU → 1×1 (+ residual) → projection → 1×1 → Relu →
    SiLU-fed 1×1; every convolution 1×1, so one outlying pixel stays one pixel."""
    rng = np.random.default_rng(0)
    c = CHANNELS
    layers = [("stem", "images", "s", 3, c, 1), ("depthwise", "r", "d", c, c, c),
              ("gate_reduce", "m", "m1", c, c // 2, 1), ("gate_expand", "m2", "m3", c // 2, c, 1),
              ("ffn_in", "e", "f", c, 2 * c, 1),
              ("ffn_out", "g", "o", 2 * c, c, 1), ("projection", "a", "p", c, c, 1), ("pointwise", "p", "q", c, c, 1),
              ("neck", "u", "n", c, c, 1)]
    nodes, inits = [], []
    for name, x, y, c_in, c_out, group in layers:
        node, weights = _conv(rng, name, x, y, c_in, c_out, group)
        nodes.append(node)
        inits += weights
    consts = {"sqrt2": np.sqrt(2.0), "one": 1.0, "half": 0.5}
    inits += [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in consts.items()]
    nodes += [helper.make_node("Relu", ["s"], ["r"]),
              helper.make_node("ReduceMean", ["d"], ["m"], axes=[2, 3]), helper.make_node("Relu", ["m1"], ["m2"]),
              helper.make_node("HardSigmoid", ["m3"], ["m4"]), helper.make_node("Mul", ["d", "m4"], ["e"]),
              helper.make_node("Div", ["f", "sqrt2"], ["g1"]), helper.make_node("Erf", ["g1"], ["g2"]),
              helper.make_node("Add", ["g2", "one"], ["g3"]), helper.make_node("Mul", ["f", "g3"], ["g4"]),
              helper.make_node("Mul", ["g4", "half"], ["g"]),
              helper.make_node("Add", ["o", "d"], ["a"]), helper.make_node("Relu", ["q"], ["u"]),
              helper.make_node("Sigmoid", ["n"], ["n1"]), helper.make_node("Mul", ["n", "n1"], ["logits"])]
    order = ["stem", "Relu", "depthwise", "ReduceMean", "gate_reduce", "Relu", "gate_expand", "HardSigmoid", "Mul",
             "ffn_in", "Div", "Erf", "Add", "Mul", "Mul", "ffn_out", "Add",
             "projection", "pointwise", "Relu", "neck", "Sigmoid", "Mul"]
    pending, ordered = list(nodes), []  # topological order, as an exported graph has it
    for key in order:
        node = next(n for n in pending if key in (n.name, n.op_type))
        pending.remove(node)
        ordered.append(node)
    graph = helper.make_graph(
        ordered, "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, HEIGHT, WIDTH])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def calibration() -> np.ndarray:
    """Grey crops with a little noise and, in one of them, a single white pixel."""
    rng = np.random.default_rng(1)
    images = rng.integers(118, 138, (32, HEIGHT, WIDTH, 3)).astype(np.uint8)
    images[0, 10, 20] = 255
    return images


@pytest.fixture(scope="module")
def quantised(tmp_path_factory, calibration) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    folder = tmp_path_factory.mktemp("int8")
    source = folder / "fp32.onnx"
    onnx.save(_tiny_graph(), source)
    return onnx.load(source), onnx.load(quantize_onnx(source, folder / "int8.onnx", calibration))


def _int8_convs(model: onnx.ModelProto) -> set[str]:
    """Convolutions whose weight comes through a DequantizeLinear."""
    dequantised = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    return {n.name for n in model.graph.node if n.op_type == "Conv" and n.input[1] in dequantised}


def test_stem_depthwise_gate_projection_and_silu_fed_convolutions_stay_float():
    assert set(float_convs(_tiny_graph())) == {"stem", "depthwise", "gate_reduce", "gate_expand", "projection", "neck"}


def test_only_the_other_convolutions_are_quantised(quantised):
    _, int8 = quantised
    assert _int8_convs(int8) == {"ffn_in", "ffn_out", "pointwise"}


def test_gelu_is_one_node_in_the_int8_graph(quantised):
    _, int8 = quantised
    ops = [n.op_type for n in int8.graph.node]
    assert ops.count("Gelu") == 1 and "Erf" not in ops


def test_a_relu_after_a_quantised_convolution_folds_into_its_output_range(quantised):
    _, int8 = quantised
    # the float stem and gate keep theirs
    assert sorted(n.input[0] for n in int8.graph.node if n.op_type == "Relu") == ["m1", "s"]


def test_one_outlying_pixel_does_not_set_an_activation_range(quantised, calibration):
    fp32, int8 = quantised
    probe = onnx.ModelProto()
    probe.CopyFrom(fp32)
    probe.graph.output.append(helper.make_tensor_value_info("e", TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    values = session.run(["e"], {"images": to_batch(calibration).numpy()})[0]
    scales = {i.name: numpy_helper.to_array(i) for i in int8.graph.initializer}
    quantise = next(n for n in int8.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "e")
    int8_range = float(scales[quantise.input[1]]) * 255
    assert int8_range < (values.max() - values.min()) / 4
