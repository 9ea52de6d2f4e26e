"""SRN host: the output contract, the loss weights, GSRM never seeing its own step, and option checking. What every
host shares (gradients, memorising, weights files, ONNX, configs) is tested in ``test_hosts``."""

from __future__ import annotations

import pytest
import torch

from sgtr.models.hosts.srn import SRN
from tests.helpers.hosts import CHARSET, check_contract, narrow_host, words_batch


def test_output_honours_the_host_contract():
    _, images, targets = words_batch(3)
    model = narrow_host("srn")
    out = model(images, targets)
    check_contract(model, out, 3, branches={"vision", "lm", "vsfd"}, losses={"vision", "lm", "vsfd"})
    assert out.logits is out.branches["vsfd"] and model.language_branch == "lm"
    assert out.features.shape[-2:] == (8, 32)


def test_total_loss_uses_srn_weights():
    _, images, targets = words_batch(3)
    out = narrow_host("srn", vision_weight=0.5)(images, targets)
    expected = 0.5 * out.losses["vision"] + 0.15 * out.losses["lm"] + 2.0 * out.losses["vsfd"]
    torch.testing.assert_close(out.loss, expected)


def test_gsrm_step_does_not_see_its_own_visual_guess():
    gsrm = narrow_host("srn").gsrm.eval()
    logits = torch.randn(2, CHARSET.max_steps, CHARSET.num_classes)
    changed = logits.clone()
    changed[:, 4] = torch.roll(changed[:, 4], 1, dims=-1)  # another argmax at step 4 only
    with torch.no_grad():
        before, after = gsrm(logits)[0], gsrm(changed)[0]
    torch.testing.assert_close(after[:, 4], before[:, 4])
    assert not torch.allclose(after[:, 3], before[:, 3]) and not torch.allclose(after[:, 5], before[:, 5])


def test_unknown_options_and_presets_are_refused():
    with pytest.raises(ValueError, match="unknown SRN option.*gsrm_layers"):
        SRN.from_preset(CHARSET, gsrm_depth=2)
    with pytest.raises(ValueError, match="unknown SRN preset 'huge'"):
        SRN.from_preset(CHARSET, "huge")
