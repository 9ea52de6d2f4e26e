"""ABINet-LV host: the output contract, iterations and their losses, the language model's gradient blocking, and
option checking. What every host shares (gradients, memorising, weights files, ONNX with the refinement loop
unrolled, configs) is tested in ``test_hosts``."""

from __future__ import annotations

import pytest
import torch

from sgtr.models.hosts.abinet import PRESETS, ABINet
from sgtr.models.losses import sequence_loss
from tests.helpers.hosts import CHARSET, check_contract, narrow_host, words_batch


def test_output_honours_the_host_contract():
    _, images, targets = words_batch(3)
    model = narrow_host("abinet")
    out = model(images, targets)
    check_contract(model, out, 3, branches={"vision", "lm", "align"}, losses={"vision", "lm", "align"})
    assert out.logits is out.branches["align"] and model.language_branch == "lm"
    assert out.features.shape[-2:] == (8, 32)
    torch.testing.assert_close(out.loss, sum(out.losses.values()))


def test_each_iteration_refines_the_last_and_scores_in_the_loss():
    _, images, targets = words_batch(3)
    model = narrow_host("abinet", iterations=2).eval()
    with torch.no_grad():
        out = model(images, targets)
        features = model.backbone(images)
        maps = model.attention(model.keys(features)).exp()
        glimpses = torch.einsum("btp,bdp->btd", maps.flatten(2), features.flatten(2))
        first_lm, hidden = model.language(model.vision_head(glimpses))
        first_align = model.align(glimpses, hidden)[0]
        second_lm, _ = model.language(first_align)
    torch.testing.assert_close(out.branches["lm"], second_lm)
    expected = (sequence_loss(first_lm, targets.ids) + sequence_loss(second_lm, targets.ids)) / 2
    torch.testing.assert_close(out.losses["lm"], expected)


def test_language_losses_are_blocked_from_the_vision_model():
    _, images, targets = words_batch(3)
    model = narrow_host("abinet")
    model(images, targets).losses["lm"].backward()
    assert all(p.grad is None for p in model.backbone.parameters())


def test_unknown_options_and_presets_are_refused():
    with pytest.raises(ValueError, match="unknown ABINet option.*iterations"):
        ABINet.from_preset(CHARSET, iteration=3)
    with pytest.raises(ValueError, match="unknown ABINet language option.*width"):
        ABINet.from_preset(CHARSET, language={"size": 3})
    with pytest.raises(ValueError, match="unknown ABINet preset 'huge'"):
        ABINet.from_preset(CHARSET, "huge")
    with pytest.raises(ValueError, match="at least one iteration"):
        narrow_host("abinet", iterations=0)


def bcn_and_reading():
    """The narrow host's BCN in eval mode and one reading (B, T, K) whose argmax is a 6-character word, then EOS."""
    bcn = narrow_host("abinet").language.eval()
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, CHARSET.max_steps, CHARSET.num_classes, generator=g)
    logits[:, :6, 0] = -10  # steps 0-5 read characters ...
    logits[:, 6, 0] = 10  # ... step 6 reads EOS
    return bcn, logits


@pytest.mark.parametrize("step", [0, 3, 5])
def test_bcn_step_output_does_not_depend_on_its_own_input(step):
    bcn, logits = bcn_and_reading()
    changed = logits.clone()
    changed[:, step, 1:] = torch.roll(changed[:, step, 1:], 5, dims=-1)  # another character at this step only
    with torch.no_grad():
        before, after = bcn(logits)[0], bcn(changed)[0]
    torch.testing.assert_close(after[:, step], before[:, step])
    others = [t for t in range(7) if t != step]
    assert not torch.allclose(after[:, others], before[:, others])  # the other steps do see it


def test_bcn_ignores_the_input_after_the_first_eos():
    bcn, logits = bcn_and_reading()
    changed = logits.clone()
    changed[:, 7:] = torch.randn_like(changed[:, 7:])
    changed[:, 7:, 0] = -10  # characters after the EOS: padding for BCN
    with torch.no_grad():
        torch.testing.assert_close(bcn(changed)[0], bcn(logits)[0])


def test_iterations_default_to_abinets_three():
    assert PRESETS["small"].iterations == PRESETS["base"].iterations == 3
