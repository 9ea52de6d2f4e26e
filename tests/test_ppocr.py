"""The PP-OCRv6-small port: parity with ONNX Runtime on the released file, the importer's charsets and refusals, and
the fine-tuning controls (frozen stages, frozen normalisation)."""

from __future__ import annotations

import string
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import torch

from sgtr.data.charset import Charset
from sgtr.data.transforms import normalise, resize_image

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("rapidocr")

from sgtr.models.backbones import ppocr_import  # noqa: E402
from sgtr.models.backbones.ppocr_import import PretrainedImportError, build_imported, read_released  # noqa: E402


@pytest.fixture(scope="module")
def released():
    return read_released()


def full_charset(released) -> Charset:
    return Charset(tuple(dict.fromkeys(unicodedata.normalize("NFC", c) for c in released.characters)),
                   max_length=40, name="full")


def real_crops(shared: Path, n: int) -> torch.Tensor:
    from sgtr.data.images import load_image

    lines = (shared / "real_train" / "IIIT5K_train_2000" / "labels.tsv").read_text(encoding="utf-8").splitlines()
    root = shared / "real_train" / "IIIT5K_train_2000"
    arrays = [resize_image(load_image(root / line.split("\t")[0]), 48, 320, keep_ratio=True) for line in lines[:n]]
    return normalise(np.stack(arrays))


@pytest.mark.slow
def test_port_matches_onnx_runtime_on_real_crops(released, shared_data):
    charset = full_charset(released)
    model, missing, options = build_imported(charset, released)
    assert not missing
    images = real_crops(shared_data, 64)
    with torch.no_grad():
        probs = model(images).logits.softmax(-1).numpy()
    session = ort.InferenceSession(str(released.path), providers=["CPUExecutionProvider"])
    reference = session.run(None, {"x": images.flip(1).numpy()})[0]  # the released network reads BGR
    sources, classes, _ = ppocr_import.head_plan(charset, released.characters)
    merged = np.zeros(probs.shape, dtype=np.float64)  # NFC-equal rows share a class: add their probabilities
    np.add.at(merged.transpose(2, 0, 1), np.array(classes), reference[..., np.array(sources)].transpose(2, 0, 1))
    assert np.abs(probs - merged).max() < 1e-4
    assert (probs.argmax(-1) == merged.argmax(-1)).all()


def test_charset_36_scores_a_letter_by_both_cases(released):
    images = torch.rand(2, 3, 48, 160) * 2 - 1
    m36, _, options = build_imported(Charset.from_spec("36"), released)
    m62, _, _ = build_imported(Charset.from_spec("62"), released)
    assert len(options["head_rows"]) == 1 + 10 + 52
    with torch.no_grad():
        l36, l62 = m36(images).logits, m62(images).logits
    c36, c62 = Charset.from_spec("36"), Charset.from_spec("62")
    a36, a62, upper_a = (c36.symbols.index("a") + 1, c62.symbols.index("a") + 1, c62.symbols.index("A") + 1)
    expected = torch.logsumexp(torch.stack((l62[..., a62], l62[..., upper_a])), dim=0)
    assert torch.allclose(l36[..., a36], expected, atol=1e-5)
    assert torch.allclose(l36[..., :11], l62[..., :11], atol=1e-5)  # blank and digits: one row each


def test_charset_94_keeps_one_row_per_symbol(released):
    model, missing, options = build_imported(Charset.from_spec("94"), released)
    assert not missing and "head_rows" not in options
    assert model.head.linear.weight.shape[0] == 95


def test_symbols_the_network_lacks_are_named_and_never_read_untrained(released):
    known = {unicodedata.normalize("NFC", c) for c in released.characters}
    absent = next(chr(c) for c in range(0x2600, 0x2700) if chr(c) not in known)
    charset = Charset(tuple(string.digits) + (absent,), name="custom")
    model, missing, _ = build_imported(charset, released)
    assert missing == [absent]
    with torch.no_grad():
        best = model(torch.rand(4, 3, 48, 160) * 2 - 1).logits.argmax(-1)
    assert not (best == len(charset.symbols)).any()


def test_a_tampered_file_is_refused_naming_the_initialiser(released, tmp_path):
    from onnx import numpy_helper

    model = onnx.load(str(released.path))
    target = next(i for i in model.graph.initializer if i.name == released.tensors[2][0])
    array = numpy_helper.to_array(target)
    target.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array[:-1]), target.name))
    path = tmp_path / "tampered.onnx"
    onnx.save(model, str(path))
    with pytest.raises(PretrainedImportError, match=released.tensors[2][0]):
        build_imported(Charset.from_spec("36"), read_released(path))


def test_missing_rapidocr_names_the_extra(monkeypatch):
    monkeypatch.setattr(ppocr_import.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PretrainedImportError, match=r"sgtr\[pretrained\]"):
        ppocr_import.find_released_file()


def test_frozen_stages_and_norm_statistics_do_not_change_in_a_training_step(released):
    from sgtr.data.charset import PAD_ID
    from sgtr.models.output import Targets

    model, _, _ = build_imported(Charset.from_spec("36"), released, freeze_stages=1, freeze_norm=True)
    model.train()
    frozen = {k: v.clone() for k, v in model.state_dict().items()
              if k.startswith(("backbone.stem", "backbone.stages.0")) or "running" in k}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.SGD(trainable, lr=0.1)
    ids = torch.full((2, 26), PAD_ID)
    ids[:, :3] = torch.tensor([11, 12, 0])
    out = model(torch.rand(2, 3, 48, 160) * 2 - 1, Targets(ids))
    out.loss.backward()
    optimiser.step()
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in frozen.items())
    assert not torch.equal(after["backbone.stages.2.0.mixer.weight"],
                           build_imported(Charset.from_spec("36"), released)[0].state_dict()[
                               "backbone.stages.2.0.mixer.weight"])


@pytest.mark.parametrize("gtr", [False, True], ids=["ppocr", "ppocr+gtr"])
def test_onnx_export_reads_like_pytorch(released, tmp_path, gtr):
    from sgtr.inference.onnx_export import export_onnx
    from sgtr.models.spec import ModelSpec
    from sgtr.models.warm_start import load_matching

    charset = Charset.from_spec("36")
    imported, _, options = build_imported(charset, released)
    spec = ModelSpec("ppocr", charset, (48, 160), "small", {**options, **({"gtr": True} if gtr else {})},
                     keep_ratio=True)
    model = spec.build().eval()
    load_matching(model, imported.state_dict(), charset, charset)
    path = export_onnx(model, spec, tmp_path / "model.onnx")
    images = torch.rand(3, 3, 48, 160) * 2 - 1
    with torch.no_grad():
        expected = model(images).logits.numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"images": images.numpy()})[0]
    assert np.abs(got - expected).max() < 1e-3
    assert (got.argmax(-1) == expected.argmax(-1)).all()


def test_import_cli_writes_a_model_that_reads_and_names_its_source(tmp_path, capsys):
    from sgtr.cli.main import main

    out = tmp_path / "ppocr.safetensors"
    assert main(["import", "ppocr", "--charset", "94", "--out", str(out)]) == 0
    assert main(["read", "--model", str(out), "--format", "text",
                 str(Path(__file__).resolve().parents[1] / "samples" / "word_00.png")]) == 0
    assert "learning" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "Apache-2.0" in shown and released_sha(out) in shown and "not disclosed" in shown


def test_import_resample_linear_is_recorded_and_shown(tmp_path, capsys):
    from sgtr.cli.main import main
    from sgtr.inference.weights import read_weights

    out = tmp_path / "linear.safetensors"
    assert main(["import", "ppocr", "--charset", "36", "--resample", "linear", "--out", str(out)]) == 0
    assert read_weights(out)[0].resample == "linear"
    assert main(["info", str(out)]) == 0
    assert "linear resize" in capsys.readouterr().out


def released_sha(weights: Path) -> str:
    from sgtr.inference.weights import read_source

    return read_source(weights)["sha256"]


def test_import_cli_without_rapidocr_is_one_line(monkeypatch, tmp_path, capsys):
    from sgtr.cli.main import main

    monkeypatch.setattr(ppocr_import.importlib.util, "find_spec", lambda name: None)
    assert main(["import", "ppocr", "--out", str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sgtr[pretrained]" in err[0]
