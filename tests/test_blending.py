"""Weight blending (``sgtr.models.blending``, ``sgtr export --blend``): the straight line between a start and a
fine-tuned model, and the refusals of models that do not lie on one."""

from __future__ import annotations

import pytest
import torch

from sgtr.cli.main import main
from sgtr.inference.spec import ModelSpec
from sgtr.inference.weights import read_weights, write_weights
from sgtr.models.blending import blend_states
from tests.helpers.models import TINY_MODEL, tiny_model


def states() -> tuple[dict, dict]:
    torch.manual_seed(0)
    start = {"w": torch.randn(3, 4), "steps": torch.tensor(5)}
    tuned = {"w": torch.randn(3, 4), "steps": torch.tensor(9)}
    return start, tuned


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_blend_is_the_weighted_mean_of_the_two_states(weight):
    start, tuned = states()
    blended = blend_states(start, tuned, weight)
    assert torch.allclose(blended["w"], (1 - weight) * start["w"] + weight * tuned["w"], atol=1e-6)


def test_integer_tensors_are_the_fine_tuned_models():
    start, tuned = states()
    assert int(blend_states(start, tuned, 0.5)["steps"]) == 9


@pytest.mark.parametrize("change, words", [
    (lambda s: s.update(extra=torch.zeros(1)), "different tensors"),
    (lambda s: s.update(w=torch.zeros(4, 3)), "has shape"),
])
def test_states_of_different_architectures_are_refused_by_name(change, words):
    start, tuned = states()
    change(start)
    with pytest.raises(ValueError, match=words):
        blend_states(start, tuned, 0.5)


def test_weight_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        blend_states(*states(), 1.5)


def test_export_blend_writes_the_midpoint_of_the_two_files(tmp_path):
    spec, start_model = tiny_model(seed=1)
    _, tuned_model = tiny_model(seed=2)
    start = write_weights(start_model, spec, tmp_path / "start.safetensors")
    tuned = write_weights(tuned_model, spec, tmp_path / "tuned.safetensors")
    out = tmp_path / "blend.safetensors"
    assert main(["export", str(tuned), "--weights", str(out), "--blend", str(start), "--blend-weight", "0.25"]) == 0
    _, blended = read_weights(out)
    _, a = read_weights(start)
    _, b = read_weights(tuned)
    name = next(k for k, v in a.items() if v.is_floating_point() and not torch.equal(v, b[k]))
    assert torch.allclose(blended[name], 0.75 * a[name] + 0.25 * b[name], atol=1e-6)


def test_export_blend_with_another_architecture_is_a_one_line_error(tmp_path, capsys):
    spec, model = tiny_model(seed=1)
    tuned = write_weights(model, spec, tmp_path / "tuned.safetensors")
    options = {**TINY_MODEL, "fpn_channels": 8}
    other = ModelSpec("vr", spec.charset, spec.input_size, "small", options)
    start = write_weights(other.build(), other, tmp_path / "start.safetensors")
    assert main(["export", str(tuned), "--weights", str(tmp_path / "o.safetensors"), "--blend", str(start)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(start) in err[0] and "shape" in err[0]
