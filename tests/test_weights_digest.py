"""The tensor digest in a weights file's metadata: damaged tensor bytes are refused in one line naming the file, and
a file without a digest still loads, with a warning."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.torch import save_file

from sgtr.cli.main import main
from sgtr.inference.predictor import Recognizer
from sgtr.inference.weights import DIGEST_KEY, METADATA_KEY, read_weights
from sgtr.serialization import CheckpointError
from tests.helpers.data import crops


def _damaged(tiny_weights, tmp_path, count: int = 2000):
    """The weights file with ``count`` random bytes overwritten inside its tensor data."""
    data = bytearray(tiny_weights.read_bytes())
    start = len(data) - count - 16  # well past the header, inside the last tensors
    data[start:start + count] = np.random.default_rng(0).integers(0, 256, count, dtype=np.uint8).tobytes()
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(bytes(data))
    return path


def test_written_weights_carry_a_digest_and_load_silently(tiny_weights, caplog):
    with safe_open(tiny_weights, framework="pt") as f:
        assert len(f.metadata()[DIGEST_KEY]) == 64
    with caplog.at_level(logging.WARNING, logger="sgtr"):
        read_weights(tiny_weights)
    assert not caplog.records


def test_damaged_tensor_bytes_are_refused_naming_the_file(tiny_weights, tmp_path):
    path = _damaged(tiny_weights, tmp_path)
    with pytest.raises(CheckpointError) as info:
        Recognizer(path, device="cpu")
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "damaged" in message


def test_read_cli_refuses_damaged_weights_with_exit_2(tiny_weights, tmp_path, capsys):
    path = _damaged(tiny_weights, tmp_path)
    assert main(["read", "--model", str(path), str(crops(1)[0])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "does not match the SHA-256" in err[0]


def test_file_without_a_digest_loads_with_a_warning(tiny_weights, tmp_path, caplog):
    with safe_open(tiny_weights, framework="pt") as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}
        metadata = {METADATA_KEY: f.metadata()[METADATA_KEY]}
    old = tmp_path / "old.safetensors"
    save_file(tensors, old, metadata=metadata)
    with caplog.at_level(logging.WARNING, logger="sgtr"):
        readings = Recognizer(old, device="cpu").predict(crops(2))
    assert len(readings) == 2
    assert [r.getMessage() for r in caplog.records if "no tensor digest" in r.getMessage() and str(old) in
            r.getMessage()]


def test_bundled_model_named_by_path_is_checked_by_its_sha256_not_warned_about(caplog):
    from sgtr.inference.loading import DEFAULT_MODEL, load_model

    if not DEFAULT_MODEL.is_file():
        pytest.skip("no bundled model")
    with caplog.at_level(logging.WARNING, logger="sgtr"):
        load_model(DEFAULT_MODEL)
    assert not caplog.records
