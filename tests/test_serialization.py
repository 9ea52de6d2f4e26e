"""Checkpoint files: atomic writes and loads that never run code."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from sgtr.serialization import CheckpointError, load_safe, save_atomic


class _ExplodesWhilePickled:
    def __reduce__(self):
        raise RuntimeError("killed mid-write")


def test_interrupted_write_never_replaces_the_previous_checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    save_atomic({"step": 1, "w": torch.ones(3)}, path)
    with pytest.raises(RuntimeError, match="mid-write"):
        save_atomic({"step": 2, "w": torch.zeros(1000), "bad": _ExplodesWhilePickled()}, path)
    assert load_safe(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}))
    with pytest.raises(CheckpointError, match="evil.ckpt"):
        load_safe(path)
    assert not marker.exists()


def test_truncated_checkpoint_gives_one_line_error(tmp_path):
    path = tmp_path / "cut.ckpt"
    save_atomic({"w": torch.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError) as info:
        load_safe(path)
    assert "\n" not in str(info.value)
