"""Hostile model and config files, fuzzed: training checkpoints, weights files and YAML configs.

Random, truncated and mutated files must load or fail with the project's one-line errors that name the file
(``CheckpointError``, ``ConfigError``), never with an exception from torch, safetensors or PyYAML.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sgtr.data.charset import Charset
from sgtr.engine.config import DEFAULTS, ConfigError, load_config
from sgtr.engine.trainer import resolve_resume
from sgtr.inference.loading import load_model
from sgtr.inference.spec import ModelSpec
from sgtr.inference.weights import read_weights, write_weights
from sgtr.models.factory import build_model
from sgtr.serialization import CheckpointError, load_safe, save_atomic
from tests.helpers.fuzz import fresh_dir, fuzz_settings
from tests.helpers.models import TINY_MODEL

FUZZ = fuzz_settings(40)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-files")


def fresh_file(workdir: Path, name: str, data: bytes) -> Path:
    path = fresh_dir(workdir) / name
    path.write_bytes(data)
    return path


def truncated_file(workdir: Path, data: st.DataObject, full: bytes, name: str, keep_whole: bool = False) -> Path:
    """``full`` cut at a drawn length — always shorter than ``full`` unless ``keep_whole`` — as a fresh file."""
    cut = data.draw(st.integers(0, len(full) - (0 if keep_whole else 1)), label="cut")
    return fresh_file(workdir, name, full[:cut])


def one_line_naming(exc: Exception, path: Path) -> None:
    assert str(path) in str(exc) and "\n" not in str(exc), str(exc)


def mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out)


EDITS = st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), min_size=1, max_size=8)


@pytest.fixture(scope="module")
def tiny_files(workdir) -> dict[str, bytes]:
    """The bytes of a small training checkpoint, a weights file and a config, to truncate and mutate."""
    charset = Charset.from_spec("36")
    model = build_model("vr", charset, **TINY_MODEL)
    config = load_config(None, [f"model.options={TINY_MODEL}"])
    save_atomic({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}, "global_step": 3,
                 "sgtr": {"config": config, "charset": charset.to_config()}}, workdir / "tiny.ckpt")
    spec = ModelSpec("vr", charset, (32, 128), options=TINY_MODEL)
    write_weights(model, spec, workdir / "tiny.safetensors", half=True)
    return {"ckpt": (workdir / "tiny.ckpt").read_bytes(), "safetensors": (workdir / "tiny.safetensors").read_bytes(),
            "yaml": yaml.safe_dump(config, sort_keys=False).encode()}


# ---- training checkpoints (sgtr.serialization.load_safe) --------------------------------------------------------
def loaded_or_refused(path: Path) -> dict | None:
    try:
        checkpoint = load_safe(path)
    except CheckpointError as exc:
        one_line_naming(exc, path)
        return None
    assert isinstance(checkpoint, dict)
    return checkpoint


@FUZZ
@given(st.sampled_from([b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x04\x95"]), st.binary(max_size=300))
def test_random_bytes_are_refused_as_a_checkpoint_in_one_line(workdir, magic, tail):
    assert loaded_or_refused(fresh_file(workdir, "x.ckpt", magic + tail)) is None


@FUZZ
@given(st.data())
def test_truncated_checkpoint_is_refused_in_one_line(workdir, tiny_files, data):
    assert loaded_or_refused(truncated_file(workdir, data, tiny_files["ckpt"], "cut.ckpt")) is None


@FUZZ
@given(EDITS)
def test_mutated_checkpoint_loads_as_a_dict_or_is_refused_in_one_line(workdir, tiny_files, edits):
    loaded_or_refused(fresh_file(workdir, "m.ckpt", mutate(tiny_files["ckpt"], edits)))


@pytest.mark.parametrize("content", [[1, 2], torch.zeros(3), 7, "text", None], ids=repr)
def test_a_checkpoint_that_is_not_a_dict_is_refused(tmp_path, content):
    torch.save(content, tmp_path / "odd.ckpt")
    with pytest.raises(CheckpointError, match="not a dict"):
        load_safe(tmp_path / "odd.ckpt")


@pytest.mark.parametrize("content", [{"weights": torch.zeros(2)}, {"state_dict": {}, "sgtr": 5},
                                     {"state_dict": {}, "sgtr": {"config": [1]}}])
def test_resuming_from_a_checkpoint_that_is_not_sgtr_training_state_is_refused(tmp_path, content):
    torch.save(content, tmp_path / "foreign.ckpt")
    with pytest.raises(CheckpointError, match="not an sgtr training checkpoint") as info:
        resolve_resume(str(tmp_path / "foreign.ckpt"), load_config(None))
    one_line_naming(info.value, tmp_path / "foreign.ckpt")


@settings(FUZZ, max_examples=15)
@given(EDITS)
def test_mutated_checkpoint_gives_a_model_or_a_one_line_error(workdir, tiny_files, edits):
    # The whole reading path (sgtr read/evaluate, Recognizer): load, rebuild the model, load its tensors.
    path = fresh_file(workdir, "m.ckpt", mutate(tiny_files["ckpt"], edits))
    try:
        load_model(path)
    except CheckpointError as exc:
        one_line_naming(exc, path)


def test_checkpoint_describing_an_impossible_model_is_a_one_line_error(tmp_path):
    # A negative layer width makes torch raise RuntimeError while building; the reader must still name the file.
    charset = Charset.from_spec("36")
    state = {f"model.{k}": v for k, v in build_model("vr", charset, **TINY_MODEL).state_dict().items()}
    config = load_config(None, [f"model.options={dict(TINY_MODEL, widths=[16, -100, 32])}"])
    torch.save({"state_dict": state, "sgtr": {"config": config, "charset": charset.to_config()}}, tmp_path / "m.ckpt")
    with pytest.raises(CheckpointError, match="cannot build the model") as info:
        load_model(tmp_path / "m.ckpt")
    one_line_naming(info.value, tmp_path / "m.ckpt")


# ---- weights files (sgtr.inference.weights) ---------------------------------------------------------------------
def weights_or_refused(path: Path) -> None:
    try:
        read_weights(path)
    except CheckpointError as exc:
        one_line_naming(exc, path)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_are_refused_as_a_weights_file_in_one_line(workdir, raw):
    weights_or_refused(fresh_file(workdir, "x.safetensors", raw))


@FUZZ
@given(st.data())
def test_truncated_weights_file_is_refused_in_one_line(workdir, tiny_files, data):
    path = truncated_file(workdir, data, tiny_files["safetensors"], "cut.safetensors")
    with pytest.raises(CheckpointError) as info:
        read_weights(path)
    one_line_naming(info.value, path)


@FUZZ
@given(EDITS, st.booleans())
def test_mutated_weights_file_reads_or_is_refused_in_one_line(workdir, tiny_files, edits, in_header):
    data = tiny_files["safetensors"]
    header_end = 8 + int.from_bytes(data[:8], "little")
    if in_header:  # the JSON header (tensor names, offsets, the sgtr metadata) is where parsing can go wrong
        edits = [(p % header_end, v) for p, v in edits]
    weights_or_refused(fresh_file(workdir, "m.safetensors", mutate(data, edits)))


# ---- configs (sgtr.engine.config) -------------------------------------------------------------------------------
def config_or_refused(path: Path) -> dict | None:
    try:
        config = load_config(path)
    except ConfigError as exc:
        one_line_naming(exc, path)
        return None
    assert isinstance(config, dict) and set(config) == set(DEFAULTS)
    return config


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_random_config_file_loads_or_is_a_one_line_error_naming_it(workdir, raw):
    config_or_refused(fresh_file(workdir, "c.yaml", raw))


@FUZZ
@given(st.data())
def test_truncated_config_loads_or_is_a_one_line_error_naming_it(workdir, tiny_files, data):
    config_or_refused(truncated_file(workdir, data, tiny_files["yaml"], "cut.yaml", keep_whole=True))


@FUZZ
@given(EDITS)
def test_mutated_config_loads_or_is_a_one_line_error_naming_it(workdir, tiny_files, edits):
    config_or_refused(fresh_file(workdir, "m.yaml", mutate(tiny_files["yaml"], edits)))


@pytest.mark.parametrize("text", ["[" * 1000 + "]" * 1000, "a: " + "{b: " * 1000 + "}" * 1000, "\xff\xfe not utf-8",
                                  "just a string", "- 1"], ids=["deep list", "deep map", "latin-1", "string", "list"])
def test_hostile_config_shapes_are_one_line_errors_naming_the_file(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    one_line_naming(info.value, path)


def test_unknown_key_in_a_config_file_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("trainer:\n  max_step: 3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown config key 'trainer\.max_step'"):
        load_config(path)
