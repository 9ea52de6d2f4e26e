"""ONNX export (``sgtr export --onnx``) and the ONNX Runtime reader: parity with PyTorch on real crops, a dynamic batch
axis, the spec in the metadata, thread settings and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from sgtr.cli.main import main
from sgtr.inference.loading import DEFAULT_MODEL
from sgtr.inference.onnx_export import export_onnx
from sgtr.inference.predictor import Recognizer
from sgtr.inference.preprocess import to_batch
from sgtr.serialization import CheckpointError
from tests.helpers.data import crops
from tests.helpers.models import tiny_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    spec, model = tiny_model()
    return export_onnx(model, spec, tmp_path_factory.mktemp("onnx") / "tiny.onnx", branches=True)


def test_logits_and_text_match_pytorch_at_any_batch_size(exported, tiny_weights):
    paths = crops(8)
    torch_rec = Recognizer(tiny_weights, device="cpu")
    onnx_rec = Recognizer(exported, threads=1)
    assert onnx_rec.runtime.name == "onnx" and onnx_rec.spec == torch_rec.spec
    prepare = torch_rec.preprocessor()
    images = to_batch(np.concatenate([prepare(p).arrays for p in paths]))
    for batch in (1, 5, 8):  # traced at batch 2: other sizes prove the batch axis is dynamic
        expected, got = torch_rec.runtime(images[:batch]), onnx_rec.runtime(images[:batch])
        assert got.logits.shape == expected.logits.shape
        assert torch.allclose(got.logits, expected.logits, atol=1e-3)
        assert torch.allclose(got.branches["vr"], expected.branches["vr"], atol=1e-3)
    torch_read, onnx_read = torch_rec.predict(paths, branches=True), onnx_rec.predict(paths, branches=True)
    assert [r.text for r in onnx_read] == [r.text for r in torch_read]
    assert [r.branches["vr"].text for r in onnx_read] == [r.branches["vr"].text for r in torch_read]
    assert np.allclose([r.confidence for r in onnx_read], [r.confidence for r in torch_read], atol=1e-3)


def test_graph_has_no_control_flow_and_carries_the_spec(exported):
    proto = onnx.load(exported)
    assert not {n.op_type for n in proto.graph.node} & {"If", "Loop", "Scan"}
    assert [o.name for o in proto.graph.output] == ["logits", "branch_vr"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert "sgtr-onnx" in {p.key: p.value for p in proto.metadata_props}["sgtr"]


def test_graph_has_no_softmax_across_channels(exported):
    # ONNX Runtime runs Softmax on a non-last axis ~20× slower than max/exp/sum (sgtr.models.layers.channel_softmax).
    proto = onnx.load(exported)
    axes = [a.i for n in proto.graph.node if n.op_type == "Softmax" for a in n.attribute if a.name == "axis"]
    assert all(axis == -1 for axis in axes)
    assert {"Exp", "ReduceMax"} <= {n.op_type for n in proto.graph.node}


def test_threads_reach_the_session(exported):
    assert Recognizer(exported, threads=1).runtime.session.get_session_options().intra_op_num_threads == 1


def test_read_cli_gives_the_same_lines_in_both_runtimes(exported, tiny_weights, capsys):
    paths = [str(p) for p in crops(4)]
    outputs = []
    for model in (tiny_weights, exported):
        assert main(["read", *paths, "--model", str(model), "--workers", "0", "--device", "cpu",
                     "--threads", "1"]) == 0
        outputs.append([line.split("\t")[:2] for line in capsys.readouterr().out.splitlines()])
    assert outputs[0] == outputs[1] and len(outputs[0]) == 4


def test_export_cli_writes_onnx(tiny_weights, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", str(tiny_weights), "--onnx", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert Recognizer(out, threads=1).runtime.branch_outputs == {}  # branches only with --branches


def test_onnx_errors_are_one_line(tiny_weights, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(CheckpointError, match="bad.onnx: not a loadable ONNX file"):
        Recognizer(bad)
    with pytest.raises(CheckpointError, match="sgtr export"):
        Recognizer(tiny_weights, runtime="onnx")
    with pytest.raises(CheckpointError, match="ONNX Runtime only"):
        Recognizer(bad, runtime="torch")
    foreign = tmp_path / "foreign.onnx"
    spec, model = tiny_model()
    torch.onnx.export(model.backbone, (torch.zeros(1, 3, 32, 128),), str(foreign), dynamo=False)
    with pytest.raises(CheckpointError, match="foreign.onnx: not an sgtr onnx file"):
        Recognizer(foreign)


def test_int8_export_quantises_convolutions_and_reads_like_float(tmp_path, capsys):
    samples = Path(__file__).resolve().parents[1] / "samples"
    paths = sorted(samples.glob("*.png"))
    fp32, int8 = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    assert main(["export", str(DEFAULT_MODEL), "--onnx", str(fp32)]) == 0
    assert main(["export", str(DEFAULT_MODEL), "--onnx", str(int8), "--int8", "--calibration", str(samples)]) == 0
    ops = {n.op_type for n in onnx.load(int8).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert int8.stat().st_size < fp32.stat().st_size / 2  # int8 weights
    float_text = [r.text for r in Recognizer(fp32, threads=1).predict(paths)]
    int8_reader = Recognizer(int8, threads=1)
    assert int8_reader.spec == Recognizer(fp32, threads=1).spec
    agree = sum(a == b for a, b in zip(float_text, (r.text for r in int8_reader.predict(paths))))
    assert agree >= len(paths) - 2


def test_int8_without_calibration_images_is_a_one_line_error(tiny_weights, tmp_path, capsys):
    assert main(["export", str(tiny_weights), "--onnx", str(tmp_path / "m.onnx"), "--int8"]) != 0
    assert "--calibration" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_evaluate_scores_an_onnx_export(exported, tmp_path, capsys):
    folder = tmp_path / "set"
    folder.mkdir()
    paths = crops(3)
    (folder / "labels.tsv").write_text("".join(f"{p.resolve()}\tword\n" for p in paths), encoding="utf-8")
    assert main(["evaluate", str(exported), str(folder)]) == 0
    assert f"Source: {exported.name}" in capsys.readouterr().out
