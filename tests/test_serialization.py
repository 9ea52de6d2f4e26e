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


# ---- every way a checkpoint reaches a loader ------------------------------------------------------------------------
def evil_checkpoint(path, marker):
    """A file shaped like an sgtr training checkpoint whose unpickling would run a shell command."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {}, "sgtr": {"config": {}, "charset": {}}, "hook": _Payload(marker)}, path)
    return path


def one_line_error_naming(capsys, path) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0], err
    return err[0]


@pytest.mark.parametrize("how", ["--resume PATH", "--resume auto", "trainer.init_from=PATH"])
def test_training_refuses_a_malicious_checkpoint_without_running_it(tmp_path, capsys, how):
    from sgtr.cli.main import main

    marker, run = tmp_path / "pwned", tmp_path / "run"
    evil = evil_checkpoint(run / "checkpoints" / "last.ckpt" if how.endswith("auto") else tmp_path / "evil.ckpt",
                           marker)
    config = tmp_path / "config.yaml"
    config.write_text(f"trainer:\n  out: {run}\n  threads: 1\nmodel:\n  options: {{stem: [8], widths: [16, 16, 32], "
                      "depths: [1, 1, 1], fpn_channels: 16}\n")
    argv = ["train", str(config)] + how.replace("PATH", str(evil)).split()
    assert main(argv) == 2
    assert "not a loadable sgtr checkpoint" in one_line_error_naming(capsys, evil)
    assert not marker.exists()


def test_recognizer_refuses_a_malicious_checkpoint_without_running_it(tmp_path):
    from sgtr.inference.predictor import Recognizer

    marker = tmp_path / "pwned"
    with pytest.raises(CheckpointError, match="evil.ckpt"):
        Recognizer(evil_checkpoint(tmp_path / "evil.ckpt", marker), device="cpu")
    assert not marker.exists()


@pytest.mark.parametrize("argv", [
    ["evaluate", "{ckpt}", "{folder}"],
    ["read", "{folder}/good1.png", "--model", "{ckpt}"],
    ["export", "{ckpt}", "--weights", "{tmp}/w.safetensors"],
    ["explain", "{folder}/good1.png", "--model", "{ckpt}", "--out", "{tmp}/fig.png"],
], ids=lambda argv: argv[0])
def test_reading_commands_refuse_a_malicious_checkpoint_without_running_it(tmp_path, messy_folder, capsys, argv):
    from sgtr.cli.main import main

    marker = tmp_path / "pwned"
    evil = evil_checkpoint(tmp_path / "evil.ckpt", marker)
    assert main([a.format(ckpt=evil, folder=messy_folder, tmp=tmp_path) for a in argv]) == 2
    one_line_error_naming(capsys, evil)
    assert not marker.exists()
    assert not (tmp_path / "w.safetensors").exists() and not (tmp_path / "fig.png").exists()


# ---- refusals in sgtr's words ---------------------------------------------------------------------------------------
def _refusal(path) -> str:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError) as info:
            load_safe(path)
    assert not caught, [str(w.message) for w in caught]  # nothing of torch's leaks beside the one line
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "weights_only" not in message and "Re-running" not in message
    return message


def test_malicious_pickle_refusal_names_what_it_asked_for_not_how_to_load_it(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": _Payload(tmp_path / "pwned")}, path)
    assert "asks for posix.system" in _refusal(path) or "asks for nt.system" in _refusal(path)


def test_text_file_named_ckpt_is_called_a_text_file(tmp_path):
    path = tmp_path / "notes.ckpt"
    path.write_text("these are my notes, not a model\n")
    assert "a text file, not a PyTorch checkpoint" in _refusal(path)


def test_protocol_4_pickle_is_refused_unread_without_torch_warnings(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "p4.ckpt"
    path.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}, protocol=4))
    assert "a plain Python pickle (protocol 4)" in _refusal(path)
    assert not marker.exists()


def test_empty_file_is_called_empty(tmp_path):
    path = tmp_path / "empty.ckpt"
    path.write_bytes(b"")
    assert "the file is empty" in _refusal(path)
