"""Weights files (``sgtr.inference.weights``) and ``sgtr export --weights``: round trips, metadata, and every kind of
bad file refused in one line that names it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sgtr import __version__
from sgtr.cli.main import main
from sgtr.engine.config import load_config
from sgtr.inference.loading import load_model
from sgtr.inference.predictor import Recognizer
from sgtr.inference.spec import FORMAT_VERSION
from sgtr.inference.weights import read_weights, write_weights
from sgtr.serialization import CheckpointError
from tests.helpers.data import crops
from tests.helpers.models import TINY_MODEL, tiny_model


def logits(path: Path, images: torch.Tensor) -> torch.Tensor:
    _, model = load_model(path)
    with torch.no_grad():
        return model(images).logits


def test_fp32_round_trip_is_exact_and_fp16_is_close(tmp_path):
    spec, model = tiny_model()
    images = torch.rand(3, 3, 32, 128) * 2 - 1
    with torch.no_grad():
        expected = model(images).logits
    full = write_weights(model, spec, tmp_path / "full.safetensors")
    half = write_weights(model, spec, tmp_path / "half.safetensors", half=True)
    assert torch.equal(logits(full, images), expected)
    assert torch.allclose(logits(half, images).softmax(-1), expected.softmax(-1), atol=2e-2)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    texts = [[r.text for r in Recognizer(p, device="cpu").predict(crops(4))] for p in (full, half)]
    assert texts[0] == texts[1]


def test_metadata_describes_the_model(tiny_weights):
    with safe_open(tiny_weights, framework="pt") as f:
        meta = json.loads(f.metadata()["sgtr"])
    assert meta["format"] == "sgtr-weights" and meta["format_version"] == FORMAT_VERSION
    assert meta["sgtr_version"] == __version__ and meta["input_size"] == [32, 128]
    assert meta["model"] == {"name": "vr", "preset": "small", "options": TINY_MODEL}
    assert meta["charset"]["name"] == "36" and meta["dtype"] == "float32"
    spec, state = read_weights(tiny_weights)
    assert spec.charset.num_classes == 37 and all(isinstance(t, torch.Tensor) for t in state.values())


def _metadata(tiny_weights: Path, **changes) -> dict:
    with safe_open(tiny_weights, framework="pt") as f:
        meta = json.loads(f.metadata()["sgtr"])
    return {"sgtr": json.dumps({**meta, **changes})}


def bad_files(folder: Path, tiny_weights: Path) -> dict[str, tuple[Path, str]]:
    """name → (file, words its error must hold)."""
    tensors = {"w": torch.zeros(2, 2)}
    data = tiny_weights.read_bytes()
    files = {
        "foreign": ("foreign.safetensors", "not an sgtr weights file"),
        "future": ("future.safetensors", "upgrade sgtr"),
        "corrupt json": ("json.safetensors", "corrupt sgtr metadata"),
        "other kind": ("kind.safetensors", "not an sgtr weights file"),
        "truncated": ("truncated.safetensors", "not a readable safetensors file"),
        "empty": ("empty.safetensors", "not a readable safetensors file"),
        "missing": ("missing.safetensors", "not found"),
        "wrong tensors": ("wrong.safetensors", "do not fit"),
        "foreign ckpt": ("foreign.ckpt", "not an sgtr training checkpoint"),
        "garbage ckpt": ("garbage.ckpt", "not a loadable sgtr checkpoint"),
    }
    paths = {name: (folder / file, words) for name, (file, words) in files.items()}
    save_file(tensors, paths["foreign"][0])
    save_file(tensors, paths["future"][0], metadata=_metadata(tiny_weights, format_version=FORMAT_VERSION + 1))
    save_file(tensors, paths["corrupt json"][0], metadata={"sgtr": "{not json"})
    save_file(tensors, paths["other kind"][0], metadata=_metadata(tiny_weights, format="sgtr-onnx"))
    paths["truncated"][0].write_bytes(data[: len(data) // 2])
    paths["empty"][0].write_bytes(b"")
    save_file(tensors, paths["wrong tensors"][0], metadata=_metadata(tiny_weights))
    torch.save({"weights": torch.zeros(2)}, paths["foreign ckpt"][0])
    paths["garbage ckpt"][0].write_bytes(b"PK\x03\x04 this is no zip")
    return paths


def test_each_bad_file_is_a_one_line_error_naming_it(tmp_path, tiny_weights):
    for name, (path, words) in bad_files(tmp_path, tiny_weights).items():
        with pytest.raises(CheckpointError) as info:
            Recognizer(path, device="cpu")
        message = str(info.value)
        assert "\n" not in message and str(path) in message and words in message, (name, message)


def test_export_cli_writes_weights_from_a_training_checkpoint(tmp_path, capsys):
    spec, model = tiny_model()
    ckpt = tmp_path / "best.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "sgtr": {"config": load_config(None, [f"model.options={TINY_MODEL}"]),
                         "charset": spec.charset.to_config()}}, ckpt)
    out = tmp_path / "assets" / "default.safetensors"
    assert main(["export", str(ckpt), "--weights", str(out), "--half"]) == 0
    assert "wrote" in capsys.readouterr().out
    with safe_open(out, framework="pt") as f:
        assert json.loads(f.metadata()["sgtr"])["dtype"] == "float16"
        assert f.get_tensor("seg_head.0.weight").dtype == torch.float16
    assert [r.text for r in Recognizer(out, device="cpu").predict(crops(3))] == \
        [r.text for r in Recognizer(ckpt, device="cpu").predict(crops(3))]


@pytest.mark.parametrize("argv, words", [
    (["export", "{model}"], "nothing to write"),
    (["export", "{model}", "--weights", "{tmp}/out.pt"], "must end in .safetensors"),
    (["export", "{tmp}/nope.ckpt", "--weights", "{tmp}/out.safetensors"], "not found"),
])
def test_export_cli_user_errors_are_one_line(argv, words, tiny_weights, tmp_path, capsys):
    argv = [a.format(model=tiny_weights, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_damaged_default_model_is_refused_by_its_recorded_sha256(tmp_path, monkeypatch):
    import hashlib

    from sgtr.inference import loading
    from sgtr.serialization import CheckpointError

    model = tmp_path / "default.safetensors"
    model.write_bytes(b"model bytes")
    record = tmp_path / "default.safetensors.sha256"
    record.write_text(hashlib.sha256(b"model bytes").hexdigest() + "  default.safetensors\n")
    monkeypatch.setattr(loading, "DEFAULT_MODEL", model)
    monkeypatch.setattr(loading, "DEFAULT_MODEL_SHA256", record)
    assert loading.resolve_model_path(None) == model
    model.write_bytes(b"model bytes, damaged")
    with pytest.raises(CheckpointError, match="does not match"):
        loading.resolve_model_path(None)
